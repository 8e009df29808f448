
use builtin;
use str;

set edit:completion:arg-completer[s3central] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 's3central'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'s3central'= {
            cand --central-bucket 'The central backup bucket'
            cand --profile 'AWS profile to use; wins over credentials in the environment (AWS_PROFILE is read by the standard chain)'
            cand --region 'AWS region (else from the profile, else us-east-1)'
            cand --endpoint-url 'A custom S3/KMS/STS endpoint, e.g. a local test server (S3 is addressed path-style). http:// only to this machine (loopback) unless --allow-plain-http'
            cand --max-attempts 'Attempts per AWS request, first try included (adaptive retry with backoff)'
            cand --retry-mode 'How failed requests are retried: adaptive also slows the client down when S3 throttles'
            cand --output 'Output format on stdout: aligned table for people, or one JSON object per line'
            cand --allow-plain-http 'Allow an http:// endpoint off this machine: credentials and data then cross the network unencrypted'
            cand -v 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides'
            cand --verbose 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress, no summary'
            cand --quiet 'Only errors on stderr; no progress, no summary'
            cand --no-progress 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand ls 'Browse the central bucket: accounts, keys as of any time, version history'
            cand restore 'Restore an account''s objects to their state at a time, into a target bucket'
            cand activity 'Find the moment: writes and deletes per interval as a bar chart, bursts marked, a ready --at'
            cand diff 'See the damage: keys added, changed and deleted between two moments'
            cand setup 'Provision replication for every account from s3central.toml: plan, then apply the differences'
            cand status 'Check every account against the desired state and the replication status of recent objects; with --coverage, prove every current object has its replica in central'
            cand completions 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'s3central;ls'= {
            cand --account 'Account whose objects to list (12 digits); without it, list the accounts'
            cand --at 'Show the state as of this time (default now)'
            cand --include 'Only keys matching this glob (relative to the account prefix; `*` stays within a `/`, `**` crosses). Repeatable'
            cand --exclude 'Leave out keys matching this glob. Repeatable'
            cand --page-size 'Entries per listing request (1-1000); for tests and tuning'
            cand --list-concurrency 'Listing requests in flight at once: the prefix is split into key ranges listed concurrently and merged back into S3 order (1 = one stream)'
            cand --inventory 'Read the account''s versions from this S3 Inventory of the central bucket (its manifest.json; IncludedObjectVersions=All, CSV or Parquet) instead of listing them; needs --at no later than when the inventory was taken'
            cand --inventory-memory 'Memory for sorting the inventory''s rows; beyond it, sorted runs spill to a temporary directory (TMPDIR) and are merged'
            cand --central-bucket 'The central backup bucket'
            cand --profile 'AWS profile to use; wins over credentials in the environment (AWS_PROFILE is read by the standard chain)'
            cand --region 'AWS region (else from the profile, else us-east-1)'
            cand --endpoint-url 'A custom S3/KMS/STS endpoint, e.g. a local test server (S3 is addressed path-style). http:// only to this machine (loopback) unless --allow-plain-http'
            cand --max-attempts 'Attempts per AWS request, first try included (adaptive retry with backoff)'
            cand --retry-mode 'How failed requests are retried: adaptive also slows the client down when S3 throttles'
            cand --output 'Output format on stdout: aligned table for people, or one JSON object per line'
            cand --versions 'Show every version and delete marker instead of the state at a time'
            cand --summary 'With no --account: add object count and bytes (current state) per account, and a total'
            cand --respect-deletes 'Leave out keys whose newest entry at TIME is a delete marker, as `restore --respect-deletes` does (default: they are listed, marked deleted, with the version a restore would bring back)'
            cand --long 'Full version ids and the storage class (wider than 80 columns)'
            cand --allow-plain-http 'Allow an http:// endpoint off this machine: credentials and data then cross the network unencrypted'
            cand -v 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides'
            cand --verbose 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress, no summary'
            cand --quiet 'Only errors on stderr; no progress, no summary'
            cand --no-progress 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'s3central;restore'= {
            cand --account 'Account to restore (12 digits): its prefix in the central bucket'
            cand --at 'The moment to restore to (RFC 3339, date, ''now'', or a duration ago like 36h)'
            cand --to-bucket 'Bucket to write to (never the central bucket); must be versioned [default: the account''s bucket in --config]'
            cand --config 'The setup config, read only to find the account''s bucket when --to-bucket is not given'
            cand --to-prefix 'Put restored keys under this prefix instead of their central key, e.g. `restored/`'
            cand --kms-key 'KMS key (id, ARN or alias) to encrypt restored objects with; default: the target bucket''s default key'
            cand --include 'Only keys matching this glob (relative to the account prefix). Repeatable'
            cand --exclude 'Leave out keys matching this glob. Repeatable'
            cand --concurrency 'Objects copied at once'
            cand --report 'Write one JSON line per key (key, version_id, target_key, bytes, outcome, error) to this file'
            cand --provenance 'Where to record which central version each restored object came from: `journal` (a local file, one CopyObject per object) or `metadata` (also in each object, as s3central-source-version-id, for people: HeadObject + CopyObject). A re-run never trusts that metadata: without the journal, only equal SHA-256 checksums prove a key in place'
            cand --journal 'The restore journal of the target bucket: every copy this machine made into it, read to skip what is in place and appended to [default: $S3CENTRAL_STATE_DIR or ~/.local/state/s3central, /journal/<bucket>.tsv]'
            cand --copy-mode 'How bytes travel'
            cand --target-profile 'Write the target with this AWS profile (reading central keeps the global credentials)'
            cand --target-role-arn 'Write the target as this IAM role, assumed from the global credentials'
            cand --restore-role 'Act as this role in the account (the one setup makes); used by default when --config lists the account. It reads only the account''s prefix in central and writes the account''s bucket, so the copy is server-side. When it cannot read central the restore stops, unless --allow-caller-read'
            cand --expected-bucket-owner 'The account that must own the target bucket; every write says so and S3 refuses it otherwise [default: the account restored when the bucket comes from --config, else the writing identity''s account]'
            cand --engine 'Who copies: `local` (this machine) or `batch` (an S3 Batch Operations job in the target account; objects above 5 GiB and archived versions are still copied locally)'
            cand --batch-role 'With --engine batch: the role the job runs as (name in the target account, or ARN)'
            cand --manifest-location 'With --engine batch: where the manifest and the completion report go [default: s3://<target bucket>/<target prefix>.s3central/batch/]'
            cand --manifest-out 'With --engine batch --dry-run: where to write the manifest locally [default: ./s3central-manifest-<request>.csv]'
            cand --multipart-threshold 'Objects larger than this are copied in parts [default: 5GiB server-side, 16MiB streamed]'
            cand --part-size 'Part size for multipart copies (raised automatically to stay within 10,000 parts)'
            cand --page-size 'Entries per listing request (1-1000); for tests and tuning'
            cand --archive-restore 'Restore versions in GLACIER or DEEP_ARCHIVE with this retrieval tier first (RestoreObject), then copy each as it becomes readable; without it such a restore writes nothing and exits 2'
            cand --archive-days 'With --archive-restore: days the restored temporary copies stay readable in central'
            cand --archive-wait 'With --archive-restore: how long to wait for restores to finish; versions not readable by then are reported failed (run the same command again later: nothing is requested twice)'
            cand --list-concurrency 'Listing requests in flight at once: the prefix is split into key ranges listed concurrently and merged back into S3 order (1 = one stream)'
            cand --inventory 'Read central''s versions from this S3 Inventory of the central bucket (its manifest.json; IncludedObjectVersions=All, CSV or Parquet) instead of listing them; refused when it was taken before --at'
            cand --inventory-memory 'Memory for sorting the inventory''s rows; beyond it, sorted runs spill to a temporary directory (TMPDIR) and are merged'
            cand --central-bucket 'The central backup bucket'
            cand --profile 'AWS profile to use; wins over credentials in the environment (AWS_PROFILE is read by the standard chain)'
            cand --region 'AWS region (else from the profile, else us-east-1)'
            cand --endpoint-url 'A custom S3/KMS/STS endpoint, e.g. a local test server (S3 is addressed path-style). http:// only to this machine (loopback) unless --allow-plain-http'
            cand --max-attempts 'Attempts per AWS request, first try included (adaptive retry with backoff)'
            cand --retry-mode 'How failed requests are retried: adaptive also slows the client down when S3 throttles'
            cand --output 'Output format on stdout: aligned table for people, or one JSON object per line'
            cand --respect-deletes 'A key whose newest version at TIME is a delete marker is not restored (default: markers are ignored)'
            cand --dry-run 'Show what would be copied, unchanged and extra; write nothing'
            cand --no-restore-role 'Never assume the account''s restore role: the global credentials read and write'
            cand --allow-caller-read 'When the restore role cannot read central, read it with the global credentials (the role still writes; bytes stream through this machine) instead of stopping'
            cand --allow-unversioned 'Allow a target bucket without versioning (overwrites would then destroy data)'
            cand --allow-plain-http 'Allow an http:// endpoint off this machine: credentials and data then cross the network unencrypted'
            cand -v 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides'
            cand --verbose 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress, no summary'
            cand --quiet 'Only errors on stderr; no progress, no summary'
            cand --no-progress 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'s3central;activity'= {
            cand --account 'Account to look at (12 digits)'
            cand --since 'Start of the window (TIME) [default: 7 days before --until]'
            cand --until 'End of the window, inclusive (TIME) [default: now]'
            cand --every 'Interval length, e.g. 10m, 1h, 1d [default: from the window: 7d -> 1h, 24h -> 10m, 1h -> 30s]'
            cand --include 'Only keys matching this glob (relative to the account prefix). Repeatable'
            cand --exclude 'Leave out keys matching this glob. Repeatable'
            cand --page-size 'Entries per listing request (1-1000); for tests and tuning'
            cand --list-concurrency 'Listing requests in flight at once: the prefix is split into key ranges listed concurrently and merged back into S3 order (1 = one stream)'
            cand --central-bucket 'The central backup bucket'
            cand --profile 'AWS profile to use; wins over credentials in the environment (AWS_PROFILE is read by the standard chain)'
            cand --region 'AWS region (else from the profile, else us-east-1)'
            cand --endpoint-url 'A custom S3/KMS/STS endpoint, e.g. a local test server (S3 is addressed path-style). http:// only to this machine (loopback) unless --allow-plain-http'
            cand --max-attempts 'Attempts per AWS request, first try included (adaptive retry with backoff)'
            cand --retry-mode 'How failed requests are retried: adaptive also slows the client down when S3 throttles'
            cand --output 'Output format on stdout: aligned table for people, or one JSON object per line'
            cand --allow-plain-http 'Allow an http:// endpoint off this machine: credentials and data then cross the network unencrypted'
            cand -v 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides'
            cand --verbose 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress, no summary'
            cand --quiet 'Only errors on stderr; no progress, no summary'
            cand --no-progress 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'s3central;diff'= {
            cand --account 'Account to compare (12 digits)'
            cand --from 'The earlier moment (TIME), e.g. the last quiet moment `activity` printed'
            cand --to 'The later moment (TIME) [default: now]'
            cand --include 'Only keys matching this glob (relative to the account prefix). Repeatable'
            cand --exclude 'Leave out keys matching this glob. Repeatable'
            cand --page-size 'Entries per listing request (1-1000); for tests and tuning'
            cand --list-concurrency 'Listing requests in flight at once: the prefix is split into key ranges listed concurrently and merged back into S3 order (1 = one stream)'
            cand --central-bucket 'The central backup bucket'
            cand --profile 'AWS profile to use; wins over credentials in the environment (AWS_PROFILE is read by the standard chain)'
            cand --region 'AWS region (else from the profile, else us-east-1)'
            cand --endpoint-url 'A custom S3/KMS/STS endpoint, e.g. a local test server (S3 is addressed path-style). http:// only to this machine (loopback) unless --allow-plain-http'
            cand --max-attempts 'Attempts per AWS request, first try included (adaptive retry with backoff)'
            cand --retry-mode 'How failed requests are retried: adaptive also slows the client down when S3 throttles'
            cand --output 'Output format on stdout: aligned table for people, or one JSON object per line'
            cand --allow-plain-http 'Allow an http:// endpoint off this machine: credentials and data then cross the network unencrypted'
            cand -v 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides'
            cand --verbose 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress, no summary'
            cand --quiet 'Only errors on stderr; no progress, no summary'
            cand --no-progress 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'s3central;setup'= {
            cand --config 'The desired state (every key: docs/configuration.md)'
            cand --verify-timeout 'How long --verify waits for each replica'
            cand --concurrency 'Accounts read or changed at once'
            cand --central-bucket 'The central backup bucket'
            cand --profile 'AWS profile to use; wins over credentials in the environment (AWS_PROFILE is read by the standard chain)'
            cand --region 'AWS region (else from the profile, else us-east-1)'
            cand --endpoint-url 'A custom S3/KMS/STS endpoint, e.g. a local test server (S3 is addressed path-style). http:// only to this machine (loopback) unless --allow-plain-http'
            cand --max-attempts 'Attempts per AWS request, first try included (adaptive retry with backoff)'
            cand --retry-mode 'How failed requests are retried: adaptive also slows the client down when S3 throttles'
            cand --output 'Output format on stdout: aligned table for people, or one JSON object per line'
            cand --dry-run 'Print the plan and stop'
            cand --detailed-exitcode 'With --dry-run: exit 3 when changes are pending (for CI drift checks)'
            cand -y 'Apply without asking (required when stdin is not a terminal)'
            cand --yes 'Apply without asking (required when stdin is not a terminal)'
            cand --verify 'After applying, write a canary object in each source bucket and wait for its replica in central'
            cand --allow-bucket-changes 'Also change the default encryption key and object ownership of source buckets that existed before s3central (the plan shows them as "needs consent"; without this they are left alone)'
            cand --backfill 'Also compare every source prefix with central and start an S3 Batch Replication job for what is missing or FAILED (without it, only objects a new rule leaves behind are backfilled)'
            cand --allow-plain-http 'Allow an http:// endpoint off this machine: credentials and data then cross the network unencrypted'
            cand -v 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides'
            cand --verbose 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress, no summary'
            cand --quiet 'Only errors on stderr; no progress, no summary'
            cand --no-progress 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'s3central;status'= {
            cand --config 'The desired state'
            cand --recent 'How many of the most recent objects per account to check the replication status of'
            cand --concurrency 'Accounts read at once'
            cand --gaps 'With --coverage: unprotected versions listed per account (the counts are always complete)'
            cand --page-size 'Entries per listing request (1-1000); for tests and tuning'
            cand --central-bucket 'The central backup bucket'
            cand --profile 'AWS profile to use; wins over credentials in the environment (AWS_PROFILE is read by the standard chain)'
            cand --region 'AWS region (else from the profile, else us-east-1)'
            cand --endpoint-url 'A custom S3/KMS/STS endpoint, e.g. a local test server (S3 is addressed path-style). http:// only to this machine (loopback) unless --allow-plain-http'
            cand --max-attempts 'Attempts per AWS request, first try included (adaptive retry with backoff)'
            cand --retry-mode 'How failed requests are retried: adaptive also slows the client down when S3 throttles'
            cand --output 'Output format on stdout: aligned table for people, or one JSON object per line'
            cand --coverage 'Prove every current object under each account''s prefix has its replica in central (same version id): count replicated, pending, failed, missing and objects outside the prefix; exit 1 when anything is unprotected'
            cand --ignore-outside-prefix 'With --coverage: objects outside the account prefix are reported but do not make the exit code 1'
            cand --allow-plain-http 'Allow an http:// endpoint off this machine: credentials and data then cross the network unencrypted'
            cand -v 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides'
            cand --verbose 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress, no summary'
            cand --quiet 'Only errors on stderr; no progress, no summary'
            cand --no-progress 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'s3central;completions'= {
            cand --dir 'Write the script into this directory (as the shell expects it named) instead of stdout'
            cand --central-bucket 'The central backup bucket'
            cand --profile 'AWS profile to use; wins over credentials in the environment (AWS_PROFILE is read by the standard chain)'
            cand --region 'AWS region (else from the profile, else us-east-1)'
            cand --endpoint-url 'A custom S3/KMS/STS endpoint, e.g. a local test server (S3 is addressed path-style). http:// only to this machine (loopback) unless --allow-plain-http'
            cand --max-attempts 'Attempts per AWS request, first try included (adaptive retry with backoff)'
            cand --retry-mode 'How failed requests are retried: adaptive also slows the client down when S3 throttles'
            cand --output 'Output format on stdout: aligned table for people, or one JSON object per line'
            cand --allow-plain-http 'Allow an http:// endpoint off this machine: credentials and data then cross the network unencrypted'
            cand -v 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides'
            cand --verbose 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress, no summary'
            cand --quiet 'Only errors on stderr; no progress, no summary'
            cand --no-progress 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'s3central;help'= {
            cand ls 'Browse the central bucket: accounts, keys as of any time, version history'
            cand restore 'Restore an account''s objects to their state at a time, into a target bucket'
            cand activity 'Find the moment: writes and deletes per interval as a bar chart, bursts marked, a ready --at'
            cand diff 'See the damage: keys added, changed and deleted between two moments'
            cand setup 'Provision replication for every account from s3central.toml: plan, then apply the differences'
            cand status 'Check every account against the desired state and the replication status of recent objects; with --coverage, prove every current object has its replica in central'
            cand completions 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'s3central;help;ls'= {
        }
        &'s3central;help;restore'= {
        }
        &'s3central;help;activity'= {
        }
        &'s3central;help;diff'= {
        }
        &'s3central;help;setup'= {
        }
        &'s3central;help;status'= {
        }
        &'s3central;help;completions'= {
        }
        &'s3central;help;help'= {
        }
    ]
    $completions[$command]
}
