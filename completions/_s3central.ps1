
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 's3central' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        's3central'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        's3central' {
            [CompletionResult]::new('--central-bucket', '--central-bucket', [CompletionResultType]::ParameterName, 'The central backup bucket')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile to use; wins over credentials in the environment (AWS_PROFILE is read by the standard chain)')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region (else from the profile, else us-east-1)')
            [CompletionResult]::new('--endpoint-url', '--endpoint-url', [CompletionResultType]::ParameterName, 'A custom S3/KMS/STS endpoint, e.g. a local test server (S3 is addressed path-style). http:// only to this machine (loopback) unless --allow-plain-http')
            [CompletionResult]::new('--max-attempts', '--max-attempts', [CompletionResultType]::ParameterName, 'Attempts per AWS request, first try included (adaptive retry with backoff)')
            [CompletionResult]::new('--retry-mode', '--retry-mode', [CompletionResultType]::ParameterName, 'How failed requests are retried: adaptive also slows the client down when S3 throttles')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format on stdout: aligned table for people, or one JSON object per line')
            [CompletionResult]::new('--allow-plain-http', '--allow-plain-http', [CompletionResultType]::ParameterName, 'Allow an http:// endpoint off this machine: credentials and data then cross the network unencrypted')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, no summary')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'Browse the central bucket: accounts, keys as of any time, version history')
            [CompletionResult]::new('restore', 'restore', [CompletionResultType]::ParameterValue, 'Restore an account''s objects to their state at a time, into a target bucket')
            [CompletionResult]::new('activity', 'activity', [CompletionResultType]::ParameterValue, 'Find the moment: writes and deletes per interval as a bar chart, bursts marked, a ready --at')
            [CompletionResult]::new('diff', 'diff', [CompletionResultType]::ParameterValue, 'See the damage: keys added, changed and deleted between two moments')
            [CompletionResult]::new('drill', 'drill', [CompletionResultType]::ParameterValue, 'Prove restores work: restore a sample into a scratch place, verify every copy, measure the replication lag, and write a report an auditor can read')
            [CompletionResult]::new('setup', 'setup', [CompletionResultType]::ParameterValue, 'Provision replication for every account from s3central.toml: plan, then apply the differences')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Check every account against the desired state and the replication status of recent objects; with --coverage, prove every current object has its replica in central')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        's3central;ls' {
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account whose objects to list (12 digits); without it, list the accounts')
            [CompletionResult]::new('--at', '--at', [CompletionResultType]::ParameterName, 'Show the state as of this time (default now)')
            [CompletionResult]::new('--include', '--include', [CompletionResultType]::ParameterName, 'Only keys matching this glob (relative to the account prefix; `*` stays within a `/`, `**` crosses). Repeatable')
            [CompletionResult]::new('--exclude', '--exclude', [CompletionResultType]::ParameterName, 'Leave out keys matching this glob. Repeatable')
            [CompletionResult]::new('--page-size', '--page-size', [CompletionResultType]::ParameterName, 'Entries per listing request (1-1000); for tests and tuning')
            [CompletionResult]::new('--list-concurrency', '--list-concurrency', [CompletionResultType]::ParameterName, 'Listing requests in flight at once: the prefix is split into key ranges listed concurrently and merged back into S3 order (1 = one stream)')
            [CompletionResult]::new('--inventory', '--inventory', [CompletionResultType]::ParameterName, 'Read the account''s versions from this S3 Inventory of the central bucket (its manifest.json; IncludedObjectVersions=All, CSV or Parquet) instead of listing them; needs --at no later than when the inventory was taken')
            [CompletionResult]::new('--inventory-memory', '--inventory-memory', [CompletionResultType]::ParameterName, 'Memory for sorting the inventory''s rows; beyond it, sorted runs spill to a temporary directory (TMPDIR) and are merged')
            [CompletionResult]::new('--inventory-owner', '--inventory-owner', [CompletionResultType]::ParameterName, 'The account that must own the inventory''s buckets (sent with every read of it, so S3 refuses a bucket of that name owned by anyone else) [default: your own account]')
            [CompletionResult]::new('--central-bucket', '--central-bucket', [CompletionResultType]::ParameterName, 'The central backup bucket')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile to use; wins over credentials in the environment (AWS_PROFILE is read by the standard chain)')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region (else from the profile, else us-east-1)')
            [CompletionResult]::new('--endpoint-url', '--endpoint-url', [CompletionResultType]::ParameterName, 'A custom S3/KMS/STS endpoint, e.g. a local test server (S3 is addressed path-style). http:// only to this machine (loopback) unless --allow-plain-http')
            [CompletionResult]::new('--max-attempts', '--max-attempts', [CompletionResultType]::ParameterName, 'Attempts per AWS request, first try included (adaptive retry with backoff)')
            [CompletionResult]::new('--retry-mode', '--retry-mode', [CompletionResultType]::ParameterName, 'How failed requests are retried: adaptive also slows the client down when S3 throttles')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format on stdout: aligned table for people, or one JSON object per line')
            [CompletionResult]::new('--versions', '--versions', [CompletionResultType]::ParameterName, 'Show every version and delete marker instead of the state at a time')
            [CompletionResult]::new('--summary', '--summary', [CompletionResultType]::ParameterName, 'With no --account: add object count and bytes (current state) per account, and a total')
            [CompletionResult]::new('--respect-deletes', '--respect-deletes', [CompletionResultType]::ParameterName, 'Leave out keys whose newest entry at TIME is a delete marker, as `restore --respect-deletes` does (default: they are listed, marked deleted, with the version a restore would bring back)')
            [CompletionResult]::new('--long', '--long', [CompletionResultType]::ParameterName, 'Full version ids and the storage class (wider than 80 columns)')
            [CompletionResult]::new('--allow-plain-http', '--allow-plain-http', [CompletionResultType]::ParameterName, 'Allow an http:// endpoint off this machine: credentials and data then cross the network unencrypted')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, no summary')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        's3central;restore' {
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to restore (12 digits): its prefix in the central bucket')
            [CompletionResult]::new('--at', '--at', [CompletionResultType]::ParameterName, 'The moment to restore to (RFC 3339, date, ''now'', or a duration ago like 36h)')
            [CompletionResult]::new('--undo', '--undo', [CompletionResultType]::ParameterName, 'Undo the restore whose --report is REPORT: each key it copied whose current version is still the one it wrote gets the version it replaced back as current (a copy of it; a key that did not exist gets a delete marker; no version is ever deleted); every other key is reported and left alone. Acts as the global credentials, or --restore-role ARN')
            [CompletionResult]::new('--to-bucket', '--to-bucket', [CompletionResultType]::ParameterName, 'Bucket to write to (never the central bucket); must be versioned [default: the account''s bucket in --config]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The setup config, read only to find the account''s bucket when --to-bucket is not given')
            [CompletionResult]::new('--to-prefix', '--to-prefix', [CompletionResultType]::ParameterName, 'Put restored keys under this prefix instead of their central key, e.g. `restored/`')
            [CompletionResult]::new('--kms-key', '--kms-key', [CompletionResultType]::ParameterName, 'KMS key (id, ARN or alias) to encrypt restored objects with; default: the target bucket''s default key')
            [CompletionResult]::new('--include', '--include', [CompletionResultType]::ParameterName, 'Only keys matching this glob (relative to the account prefix). Repeatable')
            [CompletionResult]::new('--exclude', '--exclude', [CompletionResultType]::ParameterName, 'Leave out keys matching this glob. Repeatable')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Objects copied at once')
            [CompletionResult]::new('--verify', '--verify', [CompletionResultType]::ParameterName, 'Prove each copy equal to its central version: `checksum` (S3''s full-object checksums of both; the default) or `bytes` (also reads both where no checksum compares). A mismatch fails the key')
            [CompletionResult]::new('--report', '--report', [CompletionResultType]::ParameterName, 'Write one JSON line per key (key, version_id, target_key, bytes, outcome, error) to this file')
            [CompletionResult]::new('--provenance', '--provenance', [CompletionResultType]::ParameterName, 'Where to record which central version each restored object came from: `journal` (a local file, one CopyObject per object) or `metadata` (also in each object, as s3central-source-version-id, for people: HeadObject + CopyObject). A re-run never trusts that metadata: without the journal, only equal SHA-256 checksums prove a key in place')
            [CompletionResult]::new('--journal', '--journal', [CompletionResultType]::ParameterName, 'The restore journal of the target bucket: every copy this machine made into it, read to skip what is in place and appended to [default: $S3CENTRAL_STATE_DIR or ~/.local/state/s3central, /journal/<bucket>.tsv]')
            [CompletionResult]::new('--copy-mode', '--copy-mode', [CompletionResultType]::ParameterName, 'How bytes travel')
            [CompletionResult]::new('--target-profile', '--target-profile', [CompletionResultType]::ParameterName, 'Write the target with this AWS profile (reading central keeps the global credentials)')
            [CompletionResult]::new('--target-role-arn', '--target-role-arn', [CompletionResultType]::ParameterName, 'Write the target as this IAM role, assumed from the global credentials')
            [CompletionResult]::new('--restore-role', '--restore-role', [CompletionResultType]::ParameterName, 'Act as this role in the account (the one setup makes); used by default when --config lists the account. It reads only the account''s prefix in central and writes the account''s bucket, so the copy is server-side. When it cannot read central the restore stops, unless --allow-caller-read')
            [CompletionResult]::new('--expected-bucket-owner', '--expected-bucket-owner', [CompletionResultType]::ParameterName, 'The account that must own the target bucket; every write says so and S3 refuses it otherwise [default: the account restored when the bucket comes from --config, else the writing identity''s account]')
            [CompletionResult]::new('--central-owner', '--central-owner', [CompletionResultType]::ParameterName, 'The account that must own the central bucket; every read of central says so and S3 refuses it otherwise [default: `[central] account` of --config, else, reading as the restore role, the account of the credentials that assume it]')
            [CompletionResult]::new('--engine', '--engine', [CompletionResultType]::ParameterName, 'Who copies: `local` (this machine) or `batch` (an S3 Batch Operations job in the target account; objects above 5 GiB and archived versions are still copied locally)')
            [CompletionResult]::new('--batch-role', '--batch-role', [CompletionResultType]::ParameterName, 'With --engine batch: the role the job runs as (name in the target account, or ARN)')
            [CompletionResult]::new('--manifest-location', '--manifest-location', [CompletionResultType]::ParameterName, 'With --engine batch: where the manifest and the completion report go [default: s3://<target bucket>/<target prefix>.s3central/batch/]')
            [CompletionResult]::new('--manifest-out', '--manifest-out', [CompletionResultType]::ParameterName, 'With --engine batch --dry-run: where to write the manifest locally [default: ./s3central-manifest-<request>.csv]')
            [CompletionResult]::new('--multipart-threshold', '--multipart-threshold', [CompletionResultType]::ParameterName, 'Objects larger than this are copied in parts [default: 5GiB server-side, 16MiB streamed]')
            [CompletionResult]::new('--part-size', '--part-size', [CompletionResultType]::ParameterName, 'Part size for multipart copies (raised automatically to stay within 10,000 parts)')
            [CompletionResult]::new('--page-size', '--page-size', [CompletionResultType]::ParameterName, 'Entries per listing request (1-1000); for tests and tuning')
            [CompletionResult]::new('--archive-restore', '--archive-restore', [CompletionResultType]::ParameterName, 'Restore versions in GLACIER or DEEP_ARCHIVE with this retrieval tier first (RestoreObject), then copy each as it becomes readable; without it such a restore writes nothing and exits 2')
            [CompletionResult]::new('--archive-days', '--archive-days', [CompletionResultType]::ParameterName, 'With --archive-restore: days the restored temporary copies stay readable in central')
            [CompletionResult]::new('--archive-wait', '--archive-wait', [CompletionResultType]::ParameterName, 'With --archive-restore: how long to wait for restores to finish; versions not readable by then are reported failed (run the same command again later: nothing is requested twice)')
            [CompletionResult]::new('--list-concurrency', '--list-concurrency', [CompletionResultType]::ParameterName, 'Listing requests in flight at once: the prefix is split into key ranges listed concurrently and merged back into S3 order (1 = one stream)')
            [CompletionResult]::new('--inventory', '--inventory', [CompletionResultType]::ParameterName, 'Read central''s versions from this S3 Inventory of the central bucket (its manifest.json; IncludedObjectVersions=All, CSV or Parquet) instead of listing them; refused when it was taken before --at')
            [CompletionResult]::new('--inventory-memory', '--inventory-memory', [CompletionResultType]::ParameterName, 'Memory for sorting the inventory''s rows; beyond it, sorted runs spill to a temporary directory (TMPDIR) and are merged')
            [CompletionResult]::new('--inventory-owner', '--inventory-owner', [CompletionResultType]::ParameterName, 'The account that must own the inventory''s buckets (sent with every read of it, so S3 refuses a bucket of that name owned by anyone else) [default: your own account]')
            [CompletionResult]::new('--central-bucket', '--central-bucket', [CompletionResultType]::ParameterName, 'The central backup bucket')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile to use; wins over credentials in the environment (AWS_PROFILE is read by the standard chain)')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region (else from the profile, else us-east-1)')
            [CompletionResult]::new('--endpoint-url', '--endpoint-url', [CompletionResultType]::ParameterName, 'A custom S3/KMS/STS endpoint, e.g. a local test server (S3 is addressed path-style). http:// only to this machine (loopback) unless --allow-plain-http')
            [CompletionResult]::new('--max-attempts', '--max-attempts', [CompletionResultType]::ParameterName, 'Attempts per AWS request, first try included (adaptive retry with backoff)')
            [CompletionResult]::new('--retry-mode', '--retry-mode', [CompletionResultType]::ParameterName, 'How failed requests are retried: adaptive also slows the client down when S3 throttles')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format on stdout: aligned table for people, or one JSON object per line')
            [CompletionResult]::new('--respect-deletes', '--respect-deletes', [CompletionResultType]::ParameterName, 'A key whose newest version at TIME is a delete marker is not restored (default: markers are ignored)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show what would be copied, unchanged and extra; write nothing')
            [CompletionResult]::new('--no-restore-role', '--no-restore-role', [CompletionResultType]::ParameterName, 'Never assume the account''s restore role: the global credentials read and write')
            [CompletionResult]::new('--allow-caller-read', '--allow-caller-read', [CompletionResultType]::ParameterName, 'When the restore role cannot read central, read it with the global credentials (the role still writes; bytes stream through this machine) instead of stopping')
            [CompletionResult]::new('--allow-unversioned', '--allow-unversioned', [CompletionResultType]::ParameterName, 'Allow a target bucket without versioning (overwrites would then destroy data)')
            [CompletionResult]::new('--allow-plain-http', '--allow-plain-http', [CompletionResultType]::ParameterName, 'Allow an http:// endpoint off this machine: credentials and data then cross the network unencrypted')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, no summary')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        's3central;activity' {
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to look at (12 digits)')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Start of the window (TIME) [default: 7 days before --until]')
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'End of the window, inclusive (TIME) [default: now]')
            [CompletionResult]::new('--every', '--every', [CompletionResultType]::ParameterName, 'Interval length, e.g. 10m, 1h, 1d [default: from the window: 7d -> 1h, 24h -> 10m, 1h -> 30s]')
            [CompletionResult]::new('--include', '--include', [CompletionResultType]::ParameterName, 'Only keys matching this glob (relative to the account prefix). Repeatable')
            [CompletionResult]::new('--exclude', '--exclude', [CompletionResultType]::ParameterName, 'Leave out keys matching this glob. Repeatable')
            [CompletionResult]::new('--page-size', '--page-size', [CompletionResultType]::ParameterName, 'Entries per listing request (1-1000); for tests and tuning')
            [CompletionResult]::new('--list-concurrency', '--list-concurrency', [CompletionResultType]::ParameterName, 'Listing requests in flight at once: the prefix is split into key ranges listed concurrently and merged back into S3 order (1 = one stream)')
            [CompletionResult]::new('--central-bucket', '--central-bucket', [CompletionResultType]::ParameterName, 'The central backup bucket')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile to use; wins over credentials in the environment (AWS_PROFILE is read by the standard chain)')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region (else from the profile, else us-east-1)')
            [CompletionResult]::new('--endpoint-url', '--endpoint-url', [CompletionResultType]::ParameterName, 'A custom S3/KMS/STS endpoint, e.g. a local test server (S3 is addressed path-style). http:// only to this machine (loopback) unless --allow-plain-http')
            [CompletionResult]::new('--max-attempts', '--max-attempts', [CompletionResultType]::ParameterName, 'Attempts per AWS request, first try included (adaptive retry with backoff)')
            [CompletionResult]::new('--retry-mode', '--retry-mode', [CompletionResultType]::ParameterName, 'How failed requests are retried: adaptive also slows the client down when S3 throttles')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format on stdout: aligned table for people, or one JSON object per line')
            [CompletionResult]::new('--allow-plain-http', '--allow-plain-http', [CompletionResultType]::ParameterName, 'Allow an http:// endpoint off this machine: credentials and data then cross the network unencrypted')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, no summary')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        's3central;diff' {
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to compare (12 digits)')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'The earlier moment (TIME), e.g. the last quiet moment `activity` printed')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'The later moment (TIME) [default: now]')
            [CompletionResult]::new('--live', '--live', [CompletionResultType]::ParameterName, 'Compare central at --from with what BUCKET holds now, by restore''s own decision: the keys a restore at --from would copy (changed or deleted in the bucket) and leave (added) [default BUCKET: the account''s bucket in --config]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The setup config, read with --live to find the account''s bucket (and restore role)')
            [CompletionResult]::new('--include', '--include', [CompletionResultType]::ParameterName, 'Only keys matching this glob (relative to the account prefix). Repeatable')
            [CompletionResult]::new('--exclude', '--exclude', [CompletionResultType]::ParameterName, 'Leave out keys matching this glob. Repeatable')
            [CompletionResult]::new('--page-size', '--page-size', [CompletionResultType]::ParameterName, 'Entries per listing request (1-1000); for tests and tuning')
            [CompletionResult]::new('--list-concurrency', '--list-concurrency', [CompletionResultType]::ParameterName, 'Listing requests in flight at once: the prefix is split into key ranges listed concurrently and merged back into S3 order (1 = one stream)')
            [CompletionResult]::new('--central-bucket', '--central-bucket', [CompletionResultType]::ParameterName, 'The central backup bucket')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile to use; wins over credentials in the environment (AWS_PROFILE is read by the standard chain)')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region (else from the profile, else us-east-1)')
            [CompletionResult]::new('--endpoint-url', '--endpoint-url', [CompletionResultType]::ParameterName, 'A custom S3/KMS/STS endpoint, e.g. a local test server (S3 is addressed path-style). http:// only to this machine (loopback) unless --allow-plain-http')
            [CompletionResult]::new('--max-attempts', '--max-attempts', [CompletionResultType]::ParameterName, 'Attempts per AWS request, first try included (adaptive retry with backoff)')
            [CompletionResult]::new('--retry-mode', '--retry-mode', [CompletionResultType]::ParameterName, 'How failed requests are retried: adaptive also slows the client down when S3 throttles')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format on stdout: aligned table for people, or one JSON object per line')
            [CompletionResult]::new('--respect-deletes', '--respect-deletes', [CompletionResultType]::ParameterName, 'With --live: a key whose newest entry in central at --from is a delete marker counts as absent (as `restore --respect-deletes` does)')
            [CompletionResult]::new('--allow-plain-http', '--allow-plain-http', [CompletionResultType]::ParameterName, 'Allow an http:// endpoint off this machine: credentials and data then cross the network unencrypted')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, no summary')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        's3central;drill' {
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to drill (12 digits)')
            [CompletionResult]::new('--at', '--at', [CompletionResultType]::ParameterName, 'The moment to restore [default: now]')
            [CompletionResult]::new('--sample', '--sample', [CompletionResultType]::ParameterName, 'Restore a random sample of this many keys [default: every key]')
            [CompletionResult]::new('--to-bucket', '--to-bucket', [CompletionResultType]::ParameterName, 'The bucket to restore into (versioned; never central) [default: the account''s bucket in --config, where the account''s restore role may write, as on the worst day]')
            [CompletionResult]::new('--to-prefix', '--to-prefix', [CompletionResultType]::ParameterName, 'Where in it, outside the account''s replicated prefix [default: s3central-drill/<time>/]')
            [CompletionResult]::new('--kms-key', '--kms-key', [CompletionResultType]::ParameterName, 'KMS key for the restored objects [default: the scratch bucket''s default key]')
            [CompletionResult]::new('--report-dir', '--report-dir', [CompletionResultType]::ParameterName, 'Where to write the report: drill-<account>-<time>.jsonl and .md')
            [CompletionResult]::new('--canary-timeout', '--canary-timeout', [CompletionResultType]::ParameterName, 'How long to wait for the canary''s replica (the replication lag measured)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The setup config: the account''s bucket and the role to write the canary with')
            [CompletionResult]::new('--central-bucket', '--central-bucket', [CompletionResultType]::ParameterName, 'The central backup bucket')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile to use; wins over credentials in the environment (AWS_PROFILE is read by the standard chain)')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region (else from the profile, else us-east-1)')
            [CompletionResult]::new('--endpoint-url', '--endpoint-url', [CompletionResultType]::ParameterName, 'A custom S3/KMS/STS endpoint, e.g. a local test server (S3 is addressed path-style). http:// only to this machine (loopback) unless --allow-plain-http')
            [CompletionResult]::new('--max-attempts', '--max-attempts', [CompletionResultType]::ParameterName, 'Attempts per AWS request, first try included (adaptive retry with backoff)')
            [CompletionResult]::new('--retry-mode', '--retry-mode', [CompletionResultType]::ParameterName, 'How failed requests are retried: adaptive also slows the client down when S3 throttles')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format on stdout: aligned table for people, or one JSON object per line')
            [CompletionResult]::new('--no-canary', '--no-canary', [CompletionResultType]::ParameterName, 'Do not write a canary in the account''s bucket (the lag is then not measured)')
            [CompletionResult]::new('--allow-plain-http', '--allow-plain-http', [CompletionResultType]::ParameterName, 'Allow an http:// endpoint off this machine: credentials and data then cross the network unencrypted')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, no summary')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        's3central;setup' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The desired state (every key: docs/configuration.md)')
            [CompletionResult]::new('--verify-timeout', '--verify-timeout', [CompletionResultType]::ParameterName, 'How long --verify waits for each replica')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Accounts read or changed at once')
            [CompletionResult]::new('--export', '--export', [CompletionResultType]::ParameterName, 'Write this config as CloudFormation templates into DIR instead of setting up: a central stack and a member StackSet template (docs/stacksets.md). Reads nothing from AWS; FORMAT is `cloudformation`')
            [CompletionResult]::new('--central-bucket', '--central-bucket', [CompletionResultType]::ParameterName, 'The central backup bucket')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile to use; wins over credentials in the environment (AWS_PROFILE is read by the standard chain)')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region (else from the profile, else us-east-1)')
            [CompletionResult]::new('--endpoint-url', '--endpoint-url', [CompletionResultType]::ParameterName, 'A custom S3/KMS/STS endpoint, e.g. a local test server (S3 is addressed path-style). http:// only to this machine (loopback) unless --allow-plain-http')
            [CompletionResult]::new('--max-attempts', '--max-attempts', [CompletionResultType]::ParameterName, 'Attempts per AWS request, first try included (adaptive retry with backoff)')
            [CompletionResult]::new('--retry-mode', '--retry-mode', [CompletionResultType]::ParameterName, 'How failed requests are retried: adaptive also slows the client down when S3 throttles')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format on stdout: aligned table for people, or one JSON object per line')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the plan and stop')
            [CompletionResult]::new('--detailed-exitcode', '--detailed-exitcode', [CompletionResultType]::ParameterName, 'With --dry-run: exit 3 when changes are pending (for CI drift checks)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Apply without asking (required when stdin is not a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Apply without asking (required when stdin is not a terminal)')
            [CompletionResult]::new('--verify', '--verify', [CompletionResultType]::ParameterName, 'After applying, write a canary object in each source bucket and wait for its replica in central')
            [CompletionResult]::new('--allow-bucket-changes', '--allow-bucket-changes', [CompletionResultType]::ParameterName, 'Also change the default encryption key and object ownership of source buckets that existed before s3central (the plan shows them as "needs consent"; without this they are left alone)')
            [CompletionResult]::new('--backfill', '--backfill', [CompletionResultType]::ParameterName, 'Also compare every source prefix with central and start an S3 Batch Replication job for what is missing or FAILED (without it, only objects a new rule leaves behind are backfilled)')
            [CompletionResult]::new('--allow-plain-http', '--allow-plain-http', [CompletionResultType]::ParameterName, 'Allow an http:// endpoint off this machine: credentials and data then cross the network unencrypted')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, no summary')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        's3central;status' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The desired state')
            [CompletionResult]::new('--recent', '--recent', [CompletionResultType]::ParameterName, 'How many of the most recent objects per account to check the replication status of')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Accounts read at once')
            [CompletionResult]::new('--gaps', '--gaps', [CompletionResultType]::ParameterName, 'With --coverage: unprotected versions listed per account (the counts are always complete)')
            [CompletionResult]::new('--page-size', '--page-size', [CompletionResultType]::ParameterName, 'Entries per listing request (1-1000); for tests and tuning')
            [CompletionResult]::new('--central-bucket', '--central-bucket', [CompletionResultType]::ParameterName, 'The central backup bucket')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile to use; wins over credentials in the environment (AWS_PROFILE is read by the standard chain)')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region (else from the profile, else us-east-1)')
            [CompletionResult]::new('--endpoint-url', '--endpoint-url', [CompletionResultType]::ParameterName, 'A custom S3/KMS/STS endpoint, e.g. a local test server (S3 is addressed path-style). http:// only to this machine (loopback) unless --allow-plain-http')
            [CompletionResult]::new('--max-attempts', '--max-attempts', [CompletionResultType]::ParameterName, 'Attempts per AWS request, first try included (adaptive retry with backoff)')
            [CompletionResult]::new('--retry-mode', '--retry-mode', [CompletionResultType]::ParameterName, 'How failed requests are retried: adaptive also slows the client down when S3 throttles')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format on stdout: aligned table for people, or one JSON object per line')
            [CompletionResult]::new('--coverage', '--coverage', [CompletionResultType]::ParameterName, 'Prove every current object under each account''s prefix has its replica in central (same version id) under central''s KMS key: count replicated, pending, failed, missing, under a foreign key, and objects outside the prefix; exit 1 when anything is unprotected')
            [CompletionResult]::new('--skip-key-check', '--skip-key-check', [CompletionResultType]::ParameterName, 'With --coverage: do not read each replica''s encryption (one HeadObject per replica), so a replica under another key than central''s is not found')
            [CompletionResult]::new('--ignore-outside-prefix', '--ignore-outside-prefix', [CompletionResultType]::ParameterName, 'With --coverage: objects outside the account prefix are reported but do not make the exit code 1')
            [CompletionResult]::new('--allow-plain-http', '--allow-plain-http', [CompletionResultType]::ParameterName, 'Allow an http:// endpoint off this machine: credentials and data then cross the network unencrypted')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, no summary')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        's3central;completions' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Write the script into this directory (as the shell expects it named) instead of stdout')
            [CompletionResult]::new('--central-bucket', '--central-bucket', [CompletionResultType]::ParameterName, 'The central backup bucket')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile to use; wins over credentials in the environment (AWS_PROFILE is read by the standard chain)')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region (else from the profile, else us-east-1)')
            [CompletionResult]::new('--endpoint-url', '--endpoint-url', [CompletionResultType]::ParameterName, 'A custom S3/KMS/STS endpoint, e.g. a local test server (S3 is addressed path-style). http:// only to this machine (loopback) unless --allow-plain-http')
            [CompletionResult]::new('--max-attempts', '--max-attempts', [CompletionResultType]::ParameterName, 'Attempts per AWS request, first try included (adaptive retry with backoff)')
            [CompletionResult]::new('--retry-mode', '--retry-mode', [CompletionResultType]::ParameterName, 'How failed requests are retried: adaptive also slows the client down when S3 throttles')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format on stdout: aligned table for people, or one JSON object per line')
            [CompletionResult]::new('--allow-plain-http', '--allow-plain-http', [CompletionResultType]::ParameterName, 'Allow an http:// endpoint off this machine: credentials and data then cross the network unencrypted')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, no summary')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        's3central;help' {
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'Browse the central bucket: accounts, keys as of any time, version history')
            [CompletionResult]::new('restore', 'restore', [CompletionResultType]::ParameterValue, 'Restore an account''s objects to their state at a time, into a target bucket')
            [CompletionResult]::new('activity', 'activity', [CompletionResultType]::ParameterValue, 'Find the moment: writes and deletes per interval as a bar chart, bursts marked, a ready --at')
            [CompletionResult]::new('diff', 'diff', [CompletionResultType]::ParameterValue, 'See the damage: keys added, changed and deleted between two moments')
            [CompletionResult]::new('drill', 'drill', [CompletionResultType]::ParameterValue, 'Prove restores work: restore a sample into a scratch place, verify every copy, measure the replication lag, and write a report an auditor can read')
            [CompletionResult]::new('setup', 'setup', [CompletionResultType]::ParameterValue, 'Provision replication for every account from s3central.toml: plan, then apply the differences')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Check every account against the desired state and the replication status of recent objects; with --coverage, prove every current object has its replica in central')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        's3central;help;ls' {
            break
        }
        's3central;help;restore' {
            break
        }
        's3central;help;activity' {
            break
        }
        's3central;help;diff' {
            break
        }
        's3central;help;drill' {
            break
        }
        's3central;help;setup' {
            break
        }
        's3central;help;status' {
            break
        }
        's3central;help;completions' {
            break
        }
        's3central;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
