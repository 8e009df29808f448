# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_s3central_global_optspecs
    string join \n central-bucket= profile= region= endpoint-url= allow-plain-http max-attempts= retry-mode= v/verbose q/quiet output= no-progress h/help V/version
end

function __fish_s3central_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_s3central_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_s3central_using_subcommand
    set -l cmd (__fish_s3central_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c s3central -n "__fish_s3central_needs_command" -l central-bucket -d 'The central backup bucket' -r
complete -c s3central -n "__fish_s3central_needs_command" -l profile -d 'AWS profile to use; wins over credentials in the environment (AWS_PROFILE is read by the standard chain)' -r
complete -c s3central -n "__fish_s3central_needs_command" -l region -d 'AWS region (else from the profile, else us-east-1)' -r
complete -c s3central -n "__fish_s3central_needs_command" -l endpoint-url -d 'A custom S3/KMS/STS endpoint, e.g. a local test server (S3 is addressed path-style). http:// only to this machine (loopback) unless --allow-plain-http' -r
complete -c s3central -n "__fish_s3central_needs_command" -l max-attempts -d 'Attempts per AWS request, first try included (adaptive retry with backoff)' -r
complete -c s3central -n "__fish_s3central_needs_command" -l retry-mode -d 'How failed requests are retried: adaptive also slows the client down when S3 throttles' -r -f -a "adaptive\t'Exponential backoff with jitter, and a client-side rate limiter that backs off on throttling'
standard\t'Exponential backoff with jitter only'"
complete -c s3central -n "__fish_s3central_needs_command" -l output -d 'Output format on stdout: aligned table for people, or one JSON object per line' -r -f -a "table\t'Aligned columns for people'
json\t'One JSON object per line, snake_case fields'"
complete -c s3central -n "__fish_s3central_needs_command" -l allow-plain-http -d 'Allow an http:// endpoint off this machine: credentials and data then cross the network unencrypted'
complete -c s3central -n "__fish_s3central_needs_command" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides'
complete -c s3central -n "__fish_s3central_needs_command" -s q -l quiet -d 'Only errors on stderr; no progress, no summary'
complete -c s3central -n "__fish_s3central_needs_command" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
complete -c s3central -n "__fish_s3central_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c s3central -n "__fish_s3central_needs_command" -s V -l version -d 'Print version'
complete -c s3central -n "__fish_s3central_needs_command" -f -a "ls" -d 'Browse the central bucket: accounts, keys as of any time, version history'
complete -c s3central -n "__fish_s3central_needs_command" -f -a "restore" -d 'Restore an account\'s objects to their state at a time, into a target bucket'
complete -c s3central -n "__fish_s3central_needs_command" -f -a "activity" -d 'Find the moment: writes and deletes per interval as a bar chart, bursts marked, a ready --at'
complete -c s3central -n "__fish_s3central_needs_command" -f -a "diff" -d 'See the damage: keys added, changed and deleted between two moments'
complete -c s3central -n "__fish_s3central_needs_command" -f -a "drill" -d 'Prove restores work: restore a sample into a scratch place, verify every copy, measure the replication lag, and write a report an auditor can read'
complete -c s3central -n "__fish_s3central_needs_command" -f -a "setup" -d 'Provision replication for every account from s3central.toml: plan, then apply the differences'
complete -c s3central -n "__fish_s3central_needs_command" -f -a "status" -d 'Check every account against the desired state and the replication status of recent objects; with --coverage, prove every current object has its replica in central'
complete -c s3central -n "__fish_s3central_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c s3central -n "__fish_s3central_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c s3central -n "__fish_s3central_using_subcommand ls" -l account -d 'Account whose objects to list (12 digits); without it, list the accounts' -r
complete -c s3central -n "__fish_s3central_using_subcommand ls" -l at -d 'Show the state as of this time (default now)' -r
complete -c s3central -n "__fish_s3central_using_subcommand ls" -l include -d 'Only keys matching this glob (relative to the account prefix; `*` stays within a `/`, `**` crosses). Repeatable' -r
complete -c s3central -n "__fish_s3central_using_subcommand ls" -l exclude -d 'Leave out keys matching this glob. Repeatable' -r
complete -c s3central -n "__fish_s3central_using_subcommand ls" -l page-size -d 'Entries per listing request (1-1000); for tests and tuning' -r
complete -c s3central -n "__fish_s3central_using_subcommand ls" -l list-concurrency -d 'Listing requests in flight at once: the prefix is split into key ranges listed concurrently and merged back into S3 order (1 = one stream)' -r
complete -c s3central -n "__fish_s3central_using_subcommand ls" -l inventory -d 'Read the account\'s versions from this S3 Inventory of the central bucket (its manifest.json; IncludedObjectVersions=All, CSV or Parquet) instead of listing them; needs --at no later than when the inventory was taken' -r
complete -c s3central -n "__fish_s3central_using_subcommand ls" -l inventory-memory -d 'Memory for sorting the inventory\'s rows; beyond it, sorted runs spill to a temporary directory (TMPDIR) and are merged' -r
complete -c s3central -n "__fish_s3central_using_subcommand ls" -l inventory-owner -d 'The account that must own the inventory\'s buckets (sent with every read of it, so S3 refuses a bucket of that name owned by anyone else) [default: your own account]' -r
complete -c s3central -n "__fish_s3central_using_subcommand ls" -l central-bucket -d 'The central backup bucket' -r
complete -c s3central -n "__fish_s3central_using_subcommand ls" -l profile -d 'AWS profile to use; wins over credentials in the environment (AWS_PROFILE is read by the standard chain)' -r
complete -c s3central -n "__fish_s3central_using_subcommand ls" -l region -d 'AWS region (else from the profile, else us-east-1)' -r
complete -c s3central -n "__fish_s3central_using_subcommand ls" -l endpoint-url -d 'A custom S3/KMS/STS endpoint, e.g. a local test server (S3 is addressed path-style). http:// only to this machine (loopback) unless --allow-plain-http' -r
complete -c s3central -n "__fish_s3central_using_subcommand ls" -l max-attempts -d 'Attempts per AWS request, first try included (adaptive retry with backoff)' -r
complete -c s3central -n "__fish_s3central_using_subcommand ls" -l retry-mode -d 'How failed requests are retried: adaptive also slows the client down when S3 throttles' -r -f -a "adaptive\t'Exponential backoff with jitter, and a client-side rate limiter that backs off on throttling'
standard\t'Exponential backoff with jitter only'"
complete -c s3central -n "__fish_s3central_using_subcommand ls" -l output -d 'Output format on stdout: aligned table for people, or one JSON object per line' -r -f -a "table\t'Aligned columns for people'
json\t'One JSON object per line, snake_case fields'"
complete -c s3central -n "__fish_s3central_using_subcommand ls" -l versions -d 'Show every version and delete marker instead of the state at a time'
complete -c s3central -n "__fish_s3central_using_subcommand ls" -l summary -d 'With no --account: add object count and bytes (current state) per account, and a total'
complete -c s3central -n "__fish_s3central_using_subcommand ls" -l respect-deletes -d 'Leave out keys whose newest entry at TIME is a delete marker, as `restore --respect-deletes` does (default: they are listed, marked deleted, with the version a restore would bring back)'
complete -c s3central -n "__fish_s3central_using_subcommand ls" -l long -d 'Full version ids and the storage class (wider than 80 columns)'
complete -c s3central -n "__fish_s3central_using_subcommand ls" -l allow-plain-http -d 'Allow an http:// endpoint off this machine: credentials and data then cross the network unencrypted'
complete -c s3central -n "__fish_s3central_using_subcommand ls" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides'
complete -c s3central -n "__fish_s3central_using_subcommand ls" -s q -l quiet -d 'Only errors on stderr; no progress, no summary'
complete -c s3central -n "__fish_s3central_using_subcommand ls" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
complete -c s3central -n "__fish_s3central_using_subcommand ls" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l account -d 'Account to restore (12 digits): its prefix in the central bucket' -r
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l at -d 'The moment to restore to (RFC 3339, date, \'now\', or a duration ago like 36h)' -r
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l undo -d 'Undo the restore whose --report is REPORT: each key it copied whose current version is still the one it wrote gets the version it replaced back as current (a copy of it; a key that did not exist gets a delete marker; no version is ever deleted); every other key is reported and left alone. Acts as the global credentials, or --restore-role ARN' -r -F
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l to-bucket -d 'Bucket to write to (never the central bucket); must be versioned [default: the account\'s bucket in --config]' -r
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l config -d 'The setup config, read only to find the account\'s bucket when --to-bucket is not given' -r -F
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l to-prefix -d 'Put restored keys under this prefix instead of their central key, e.g. `restored/`' -r
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l kms-key -d 'KMS key (id, ARN or alias) to encrypt restored objects with; default: the target bucket\'s default key' -r
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l include -d 'Only keys matching this glob (relative to the account prefix). Repeatable' -r
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l exclude -d 'Leave out keys matching this glob. Repeatable' -r
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l concurrency -d 'Objects copied at once' -r
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l verify -d 'Prove each copy equal to its central version: `checksum` (S3\'s full-object checksums of both; the default) or `bytes` (also reads both where no checksum compares). A mismatch fails the key' -r -f -a "checksum\t'Compare the full-object checksums S3 keeps for both versions'
bytes\t'As `checksum`, and read both versions where no checksum compares'"
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l report -d 'Write one JSON line per key (key, version_id, target_key, bytes, outcome, error) to this file' -r -F
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l provenance -d 'Where to record which central version each restored object came from: `journal` (a local file, one CopyObject per object) or `metadata` (also in each object, as s3central-source-version-id, for people: HeadObject + CopyObject). A re-run never trusts that metadata: without the journal, only equal SHA-256 checksums prove a key in place' -r -f -a "journal\t'The local journal only: one CopyObject per object, central\'s metadata kept as it is'
metadata\t'Also each object\'s metadata, for people (never evidence for a re-run): two requests per object'"
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l journal -d 'The restore journal of the target bucket: every copy this machine made into it, read to skip what is in place and appended to [default: $S3CENTRAL_STATE_DIR or ~/.local/state/s3central, /journal/<bucket>.tsv]' -r -F
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l copy-mode -d 'How bytes travel' -r -f -a "auto\t'Server-side copy when one identity reads central and writes the target, else stream'
server\t'Server-side copy (CopyObject / UploadPartCopy): the writer must be able to read central'
stream\t'Download and upload through this machine (GetObject -> PutObject / multipart)'"
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l target-profile -d 'Write the target with this AWS profile (reading central keeps the global credentials)' -r
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l target-role-arn -d 'Write the target as this IAM role, assumed from the global credentials' -r
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l restore-role -d 'Act as this role in the account (the one setup makes); used by default when --config lists the account. It reads only the account\'s prefix in central and writes the account\'s bucket, so the copy is server-side. When it cannot read central the restore stops, unless --allow-caller-read' -r
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l expected-bucket-owner -d 'The account that must own the target bucket; every write says so and S3 refuses it otherwise [default: the account restored when the bucket comes from --config, else the writing identity\'s account]' -r
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l central-owner -d 'The account that must own the central bucket; every read of central says so and S3 refuses it otherwise [default: `[central] account` of --config, else, reading as the restore role, the account of the credentials that assume it]' -r
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l engine -d 'Who copies: `local` (this machine) or `batch` (an S3 Batch Operations job in the target account; objects above 5 GiB and archived versions are still copied locally)' -r -f -a "local\t'Copies from this machine (server-side or streamed), bounded by --concurrency'
batch\t'An S3 Batch Operations job (S3PutObjectCopy) that S3 runs: for millions of objects'"
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l batch-role -d 'With --engine batch: the role the job runs as (name in the target account, or ARN)' -r
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l manifest-location -d 'With --engine batch: where the manifest and the completion report go [default: s3://<target bucket>/<target prefix>.s3central/batch/]' -r
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l manifest-out -d 'With --engine batch --dry-run: where to write the manifest locally [default: ./s3central-manifest-<request>.csv]' -r -F
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l multipart-threshold -d 'Objects larger than this are copied in parts [default: 5GiB server-side, 16MiB streamed]' -r
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l part-size -d 'Part size for multipart copies (raised automatically to stay within 10,000 parts)' -r
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l page-size -d 'Entries per listing request (1-1000); for tests and tuning' -r
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l archive-restore -d 'Restore versions in GLACIER or DEEP_ARCHIVE with this retrieval tier first (RestoreObject), then copy each as it becomes readable; without it such a restore writes nothing and exits 2' -r -f -a "Bulk\t'Cheapest: GLACIER 5-12 h, DEEP_ARCHIVE within 48 h'
Standard\t'GLACIER 3-5 h, DEEP_ARCHIVE within 12 h'
Expedited\t'GLACIER 1-5 minutes; not available for DEEP_ARCHIVE'"
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l archive-days -d 'With --archive-restore: days the restored temporary copies stay readable in central' -r
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l archive-wait -d 'With --archive-restore: how long to wait for restores to finish; versions not readable by then are reported failed (run the same command again later: nothing is requested twice)' -r
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l list-concurrency -d 'Listing requests in flight at once: the prefix is split into key ranges listed concurrently and merged back into S3 order (1 = one stream)' -r
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l inventory -d 'Read central\'s versions from this S3 Inventory of the central bucket (its manifest.json; IncludedObjectVersions=All, CSV or Parquet) instead of listing them; refused when it was taken before --at' -r
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l inventory-memory -d 'Memory for sorting the inventory\'s rows; beyond it, sorted runs spill to a temporary directory (TMPDIR) and are merged' -r
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l inventory-owner -d 'The account that must own the inventory\'s buckets (sent with every read of it, so S3 refuses a bucket of that name owned by anyone else) [default: your own account]' -r
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l central-bucket -d 'The central backup bucket' -r
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l profile -d 'AWS profile to use; wins over credentials in the environment (AWS_PROFILE is read by the standard chain)' -r
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l region -d 'AWS region (else from the profile, else us-east-1)' -r
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l endpoint-url -d 'A custom S3/KMS/STS endpoint, e.g. a local test server (S3 is addressed path-style). http:// only to this machine (loopback) unless --allow-plain-http' -r
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l max-attempts -d 'Attempts per AWS request, first try included (adaptive retry with backoff)' -r
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l retry-mode -d 'How failed requests are retried: adaptive also slows the client down when S3 throttles' -r -f -a "adaptive\t'Exponential backoff with jitter, and a client-side rate limiter that backs off on throttling'
standard\t'Exponential backoff with jitter only'"
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l output -d 'Output format on stdout: aligned table for people, or one JSON object per line' -r -f -a "table\t'Aligned columns for people'
json\t'One JSON object per line, snake_case fields'"
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l respect-deletes -d 'A key whose newest version at TIME is a delete marker is not restored (default: markers are ignored)'
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l dry-run -d 'Show what would be copied, unchanged and extra; write nothing'
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l no-restore-role -d 'Never assume the account\'s restore role: the global credentials read and write'
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l allow-caller-read -d 'When the restore role cannot read central, read it with the global credentials (the role still writes; bytes stream through this machine) instead of stopping'
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l allow-unversioned -d 'Allow a target bucket without versioning (overwrites would then destroy data)'
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l allow-plain-http -d 'Allow an http:// endpoint off this machine: credentials and data then cross the network unencrypted'
complete -c s3central -n "__fish_s3central_using_subcommand restore" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides'
complete -c s3central -n "__fish_s3central_using_subcommand restore" -s q -l quiet -d 'Only errors on stderr; no progress, no summary'
complete -c s3central -n "__fish_s3central_using_subcommand restore" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
complete -c s3central -n "__fish_s3central_using_subcommand restore" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c s3central -n "__fish_s3central_using_subcommand activity" -l account -d 'Account to look at (12 digits)' -r
complete -c s3central -n "__fish_s3central_using_subcommand activity" -l since -d 'Start of the window (TIME) [default: 7 days before --until]' -r
complete -c s3central -n "__fish_s3central_using_subcommand activity" -l until -d 'End of the window, inclusive (TIME) [default: now]' -r
complete -c s3central -n "__fish_s3central_using_subcommand activity" -l every -d 'Interval length, e.g. 10m, 1h, 1d [default: from the window: 7d -> 1h, 24h -> 10m, 1h -> 30s]' -r
complete -c s3central -n "__fish_s3central_using_subcommand activity" -l include -d 'Only keys matching this glob (relative to the account prefix). Repeatable' -r
complete -c s3central -n "__fish_s3central_using_subcommand activity" -l exclude -d 'Leave out keys matching this glob. Repeatable' -r
complete -c s3central -n "__fish_s3central_using_subcommand activity" -l page-size -d 'Entries per listing request (1-1000); for tests and tuning' -r
complete -c s3central -n "__fish_s3central_using_subcommand activity" -l list-concurrency -d 'Listing requests in flight at once: the prefix is split into key ranges listed concurrently and merged back into S3 order (1 = one stream)' -r
complete -c s3central -n "__fish_s3central_using_subcommand activity" -l central-bucket -d 'The central backup bucket' -r
complete -c s3central -n "__fish_s3central_using_subcommand activity" -l profile -d 'AWS profile to use; wins over credentials in the environment (AWS_PROFILE is read by the standard chain)' -r
complete -c s3central -n "__fish_s3central_using_subcommand activity" -l region -d 'AWS region (else from the profile, else us-east-1)' -r
complete -c s3central -n "__fish_s3central_using_subcommand activity" -l endpoint-url -d 'A custom S3/KMS/STS endpoint, e.g. a local test server (S3 is addressed path-style). http:// only to this machine (loopback) unless --allow-plain-http' -r
complete -c s3central -n "__fish_s3central_using_subcommand activity" -l max-attempts -d 'Attempts per AWS request, first try included (adaptive retry with backoff)' -r
complete -c s3central -n "__fish_s3central_using_subcommand activity" -l retry-mode -d 'How failed requests are retried: adaptive also slows the client down when S3 throttles' -r -f -a "adaptive\t'Exponential backoff with jitter, and a client-side rate limiter that backs off on throttling'
standard\t'Exponential backoff with jitter only'"
complete -c s3central -n "__fish_s3central_using_subcommand activity" -l output -d 'Output format on stdout: aligned table for people, or one JSON object per line' -r -f -a "table\t'Aligned columns for people'
json\t'One JSON object per line, snake_case fields'"
complete -c s3central -n "__fish_s3central_using_subcommand activity" -l allow-plain-http -d 'Allow an http:// endpoint off this machine: credentials and data then cross the network unencrypted'
complete -c s3central -n "__fish_s3central_using_subcommand activity" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides'
complete -c s3central -n "__fish_s3central_using_subcommand activity" -s q -l quiet -d 'Only errors on stderr; no progress, no summary'
complete -c s3central -n "__fish_s3central_using_subcommand activity" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
complete -c s3central -n "__fish_s3central_using_subcommand activity" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c s3central -n "__fish_s3central_using_subcommand diff" -l account -d 'Account to compare (12 digits)' -r
complete -c s3central -n "__fish_s3central_using_subcommand diff" -l from -d 'The earlier moment (TIME), e.g. the last quiet moment `activity` printed' -r
complete -c s3central -n "__fish_s3central_using_subcommand diff" -l to -d 'The later moment (TIME) [default: now]' -r
complete -c s3central -n "__fish_s3central_using_subcommand diff" -l live -d 'Compare central at --from with what BUCKET holds now, by restore\'s own decision: the keys a restore at --from would copy (changed or deleted in the bucket) and leave (added) [default BUCKET: the account\'s bucket in --config]' -r
complete -c s3central -n "__fish_s3central_using_subcommand diff" -l config -d 'The setup config, read with --live to find the account\'s bucket (and restore role)' -r -F
complete -c s3central -n "__fish_s3central_using_subcommand diff" -l include -d 'Only keys matching this glob (relative to the account prefix). Repeatable' -r
complete -c s3central -n "__fish_s3central_using_subcommand diff" -l exclude -d 'Leave out keys matching this glob. Repeatable' -r
complete -c s3central -n "__fish_s3central_using_subcommand diff" -l page-size -d 'Entries per listing request (1-1000); for tests and tuning' -r
complete -c s3central -n "__fish_s3central_using_subcommand diff" -l list-concurrency -d 'Listing requests in flight at once: the prefix is split into key ranges listed concurrently and merged back into S3 order (1 = one stream)' -r
complete -c s3central -n "__fish_s3central_using_subcommand diff" -l central-bucket -d 'The central backup bucket' -r
complete -c s3central -n "__fish_s3central_using_subcommand diff" -l profile -d 'AWS profile to use; wins over credentials in the environment (AWS_PROFILE is read by the standard chain)' -r
complete -c s3central -n "__fish_s3central_using_subcommand diff" -l region -d 'AWS region (else from the profile, else us-east-1)' -r
complete -c s3central -n "__fish_s3central_using_subcommand diff" -l endpoint-url -d 'A custom S3/KMS/STS endpoint, e.g. a local test server (S3 is addressed path-style). http:// only to this machine (loopback) unless --allow-plain-http' -r
complete -c s3central -n "__fish_s3central_using_subcommand diff" -l max-attempts -d 'Attempts per AWS request, first try included (adaptive retry with backoff)' -r
complete -c s3central -n "__fish_s3central_using_subcommand diff" -l retry-mode -d 'How failed requests are retried: adaptive also slows the client down when S3 throttles' -r -f -a "adaptive\t'Exponential backoff with jitter, and a client-side rate limiter that backs off on throttling'
standard\t'Exponential backoff with jitter only'"
complete -c s3central -n "__fish_s3central_using_subcommand diff" -l output -d 'Output format on stdout: aligned table for people, or one JSON object per line' -r -f -a "table\t'Aligned columns for people'
json\t'One JSON object per line, snake_case fields'"
complete -c s3central -n "__fish_s3central_using_subcommand diff" -l respect-deletes -d 'With --live: a key whose newest entry in central at --from is a delete marker counts as absent (as `restore --respect-deletes` does)'
complete -c s3central -n "__fish_s3central_using_subcommand diff" -l allow-plain-http -d 'Allow an http:// endpoint off this machine: credentials and data then cross the network unencrypted'
complete -c s3central -n "__fish_s3central_using_subcommand diff" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides'
complete -c s3central -n "__fish_s3central_using_subcommand diff" -s q -l quiet -d 'Only errors on stderr; no progress, no summary'
complete -c s3central -n "__fish_s3central_using_subcommand diff" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
complete -c s3central -n "__fish_s3central_using_subcommand diff" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c s3central -n "__fish_s3central_using_subcommand drill" -l account -d 'Account to drill (12 digits)' -r
complete -c s3central -n "__fish_s3central_using_subcommand drill" -l at -d 'The moment to restore [default: now]' -r
complete -c s3central -n "__fish_s3central_using_subcommand drill" -l sample -d 'Restore a random sample of this many keys [default: every key]' -r
complete -c s3central -n "__fish_s3central_using_subcommand drill" -l to-bucket -d 'The bucket to restore into (versioned; never central) [default: the account\'s bucket in --config, where the account\'s restore role may write, as on the worst day]' -r
complete -c s3central -n "__fish_s3central_using_subcommand drill" -l to-prefix -d 'Where in it, outside the account\'s replicated prefix [default: s3central-drill/<time>/]' -r
complete -c s3central -n "__fish_s3central_using_subcommand drill" -l kms-key -d 'KMS key for the restored objects [default: the scratch bucket\'s default key]' -r
complete -c s3central -n "__fish_s3central_using_subcommand drill" -l report-dir -d 'Where to write the report: drill-<account>-<time>.jsonl and .md' -r -F
complete -c s3central -n "__fish_s3central_using_subcommand drill" -l canary-timeout -d 'How long to wait for the canary\'s replica (the replication lag measured)' -r
complete -c s3central -n "__fish_s3central_using_subcommand drill" -l config -d 'The setup config: the account\'s bucket and the role to write the canary with' -r -F
complete -c s3central -n "__fish_s3central_using_subcommand drill" -l central-bucket -d 'The central backup bucket' -r
complete -c s3central -n "__fish_s3central_using_subcommand drill" -l profile -d 'AWS profile to use; wins over credentials in the environment (AWS_PROFILE is read by the standard chain)' -r
complete -c s3central -n "__fish_s3central_using_subcommand drill" -l region -d 'AWS region (else from the profile, else us-east-1)' -r
complete -c s3central -n "__fish_s3central_using_subcommand drill" -l endpoint-url -d 'A custom S3/KMS/STS endpoint, e.g. a local test server (S3 is addressed path-style). http:// only to this machine (loopback) unless --allow-plain-http' -r
complete -c s3central -n "__fish_s3central_using_subcommand drill" -l max-attempts -d 'Attempts per AWS request, first try included (adaptive retry with backoff)' -r
complete -c s3central -n "__fish_s3central_using_subcommand drill" -l retry-mode -d 'How failed requests are retried: adaptive also slows the client down when S3 throttles' -r -f -a "adaptive\t'Exponential backoff with jitter, and a client-side rate limiter that backs off on throttling'
standard\t'Exponential backoff with jitter only'"
complete -c s3central -n "__fish_s3central_using_subcommand drill" -l output -d 'Output format on stdout: aligned table for people, or one JSON object per line' -r -f -a "table\t'Aligned columns for people'
json\t'One JSON object per line, snake_case fields'"
complete -c s3central -n "__fish_s3central_using_subcommand drill" -l no-canary -d 'Do not write a canary in the account\'s bucket (the lag is then not measured)'
complete -c s3central -n "__fish_s3central_using_subcommand drill" -l allow-plain-http -d 'Allow an http:// endpoint off this machine: credentials and data then cross the network unencrypted'
complete -c s3central -n "__fish_s3central_using_subcommand drill" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides'
complete -c s3central -n "__fish_s3central_using_subcommand drill" -s q -l quiet -d 'Only errors on stderr; no progress, no summary'
complete -c s3central -n "__fish_s3central_using_subcommand drill" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
complete -c s3central -n "__fish_s3central_using_subcommand drill" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c s3central -n "__fish_s3central_using_subcommand setup" -l config -d 'The desired state (every key: docs/configuration.md)' -r -F
complete -c s3central -n "__fish_s3central_using_subcommand setup" -l verify-timeout -d 'How long --verify waits for each replica' -r
complete -c s3central -n "__fish_s3central_using_subcommand setup" -l concurrency -d 'Accounts read or changed at once' -r
complete -c s3central -n "__fish_s3central_using_subcommand setup" -l export -d 'Write this config as CloudFormation templates into DIR instead of setting up: a central stack and a member StackSet template (docs/stacksets.md). Reads nothing from AWS; FORMAT is `cloudformation`' -r
complete -c s3central -n "__fish_s3central_using_subcommand setup" -l central-bucket -d 'The central backup bucket' -r
complete -c s3central -n "__fish_s3central_using_subcommand setup" -l profile -d 'AWS profile to use; wins over credentials in the environment (AWS_PROFILE is read by the standard chain)' -r
complete -c s3central -n "__fish_s3central_using_subcommand setup" -l region -d 'AWS region (else from the profile, else us-east-1)' -r
complete -c s3central -n "__fish_s3central_using_subcommand setup" -l endpoint-url -d 'A custom S3/KMS/STS endpoint, e.g. a local test server (S3 is addressed path-style). http:// only to this machine (loopback) unless --allow-plain-http' -r
complete -c s3central -n "__fish_s3central_using_subcommand setup" -l max-attempts -d 'Attempts per AWS request, first try included (adaptive retry with backoff)' -r
complete -c s3central -n "__fish_s3central_using_subcommand setup" -l retry-mode -d 'How failed requests are retried: adaptive also slows the client down when S3 throttles' -r -f -a "adaptive\t'Exponential backoff with jitter, and a client-side rate limiter that backs off on throttling'
standard\t'Exponential backoff with jitter only'"
complete -c s3central -n "__fish_s3central_using_subcommand setup" -l output -d 'Output format on stdout: aligned table for people, or one JSON object per line' -r -f -a "table\t'Aligned columns for people'
json\t'One JSON object per line, snake_case fields'"
complete -c s3central -n "__fish_s3central_using_subcommand setup" -l dry-run -d 'Print the plan and stop'
complete -c s3central -n "__fish_s3central_using_subcommand setup" -l detailed-exitcode -d 'With --dry-run: exit 3 when changes are pending (for CI drift checks)'
complete -c s3central -n "__fish_s3central_using_subcommand setup" -s y -l yes -d 'Apply without asking (required when stdin is not a terminal)'
complete -c s3central -n "__fish_s3central_using_subcommand setup" -l verify -d 'After applying, write a canary object in each source bucket and wait for its replica in central'
complete -c s3central -n "__fish_s3central_using_subcommand setup" -l allow-bucket-changes -d 'Also change the default encryption key and object ownership of source buckets that existed before s3central (the plan shows them as "needs consent"; without this they are left alone)'
complete -c s3central -n "__fish_s3central_using_subcommand setup" -l backfill -d 'Also compare every source prefix with central and start an S3 Batch Replication job for what is missing or FAILED (without it, only objects a new rule leaves behind are backfilled)'
complete -c s3central -n "__fish_s3central_using_subcommand setup" -l allow-plain-http -d 'Allow an http:// endpoint off this machine: credentials and data then cross the network unencrypted'
complete -c s3central -n "__fish_s3central_using_subcommand setup" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides'
complete -c s3central -n "__fish_s3central_using_subcommand setup" -s q -l quiet -d 'Only errors on stderr; no progress, no summary'
complete -c s3central -n "__fish_s3central_using_subcommand setup" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
complete -c s3central -n "__fish_s3central_using_subcommand setup" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c s3central -n "__fish_s3central_using_subcommand status" -l config -d 'The desired state' -r -F
complete -c s3central -n "__fish_s3central_using_subcommand status" -l recent -d 'How many of the most recent objects per account to check the replication status of' -r
complete -c s3central -n "__fish_s3central_using_subcommand status" -l concurrency -d 'Accounts read at once' -r
complete -c s3central -n "__fish_s3central_using_subcommand status" -l gaps -d 'With --coverage: unprotected versions listed per account (the counts are always complete)' -r
complete -c s3central -n "__fish_s3central_using_subcommand status" -l page-size -d 'Entries per listing request (1-1000); for tests and tuning' -r
complete -c s3central -n "__fish_s3central_using_subcommand status" -l central-bucket -d 'The central backup bucket' -r
complete -c s3central -n "__fish_s3central_using_subcommand status" -l profile -d 'AWS profile to use; wins over credentials in the environment (AWS_PROFILE is read by the standard chain)' -r
complete -c s3central -n "__fish_s3central_using_subcommand status" -l region -d 'AWS region (else from the profile, else us-east-1)' -r
complete -c s3central -n "__fish_s3central_using_subcommand status" -l endpoint-url -d 'A custom S3/KMS/STS endpoint, e.g. a local test server (S3 is addressed path-style). http:// only to this machine (loopback) unless --allow-plain-http' -r
complete -c s3central -n "__fish_s3central_using_subcommand status" -l max-attempts -d 'Attempts per AWS request, first try included (adaptive retry with backoff)' -r
complete -c s3central -n "__fish_s3central_using_subcommand status" -l retry-mode -d 'How failed requests are retried: adaptive also slows the client down when S3 throttles' -r -f -a "adaptive\t'Exponential backoff with jitter, and a client-side rate limiter that backs off on throttling'
standard\t'Exponential backoff with jitter only'"
complete -c s3central -n "__fish_s3central_using_subcommand status" -l output -d 'Output format on stdout: aligned table for people, or one JSON object per line' -r -f -a "table\t'Aligned columns for people'
json\t'One JSON object per line, snake_case fields'"
complete -c s3central -n "__fish_s3central_using_subcommand status" -l coverage -d 'Prove every current object under each account\'s prefix has its replica in central (same version id) under central\'s KMS key: count replicated, pending, failed, missing, under a foreign key, and objects outside the prefix; exit 1 when anything is unprotected'
complete -c s3central -n "__fish_s3central_using_subcommand status" -l skip-key-check -d 'With --coverage: do not read each replica\'s encryption (one HeadObject per replica), so a replica under another key than central\'s is not found'
complete -c s3central -n "__fish_s3central_using_subcommand status" -l ignore-outside-prefix -d 'With --coverage: objects outside the account prefix are reported but do not make the exit code 1'
complete -c s3central -n "__fish_s3central_using_subcommand status" -l allow-plain-http -d 'Allow an http:// endpoint off this machine: credentials and data then cross the network unencrypted'
complete -c s3central -n "__fish_s3central_using_subcommand status" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides'
complete -c s3central -n "__fish_s3central_using_subcommand status" -s q -l quiet -d 'Only errors on stderr; no progress, no summary'
complete -c s3central -n "__fish_s3central_using_subcommand status" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
complete -c s3central -n "__fish_s3central_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c s3central -n "__fish_s3central_using_subcommand completions" -l dir -d 'Write the script into this directory (as the shell expects it named) instead of stdout' -r -F
complete -c s3central -n "__fish_s3central_using_subcommand completions" -l central-bucket -d 'The central backup bucket' -r
complete -c s3central -n "__fish_s3central_using_subcommand completions" -l profile -d 'AWS profile to use; wins over credentials in the environment (AWS_PROFILE is read by the standard chain)' -r
complete -c s3central -n "__fish_s3central_using_subcommand completions" -l region -d 'AWS region (else from the profile, else us-east-1)' -r
complete -c s3central -n "__fish_s3central_using_subcommand completions" -l endpoint-url -d 'A custom S3/KMS/STS endpoint, e.g. a local test server (S3 is addressed path-style). http:// only to this machine (loopback) unless --allow-plain-http' -r
complete -c s3central -n "__fish_s3central_using_subcommand completions" -l max-attempts -d 'Attempts per AWS request, first try included (adaptive retry with backoff)' -r
complete -c s3central -n "__fish_s3central_using_subcommand completions" -l retry-mode -d 'How failed requests are retried: adaptive also slows the client down when S3 throttles' -r -f -a "adaptive\t'Exponential backoff with jitter, and a client-side rate limiter that backs off on throttling'
standard\t'Exponential backoff with jitter only'"
complete -c s3central -n "__fish_s3central_using_subcommand completions" -l output -d 'Output format on stdout: aligned table for people, or one JSON object per line' -r -f -a "table\t'Aligned columns for people'
json\t'One JSON object per line, snake_case fields'"
complete -c s3central -n "__fish_s3central_using_subcommand completions" -l allow-plain-http -d 'Allow an http:// endpoint off this machine: credentials and data then cross the network unencrypted'
complete -c s3central -n "__fish_s3central_using_subcommand completions" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides'
complete -c s3central -n "__fish_s3central_using_subcommand completions" -s q -l quiet -d 'Only errors on stderr; no progress, no summary'
complete -c s3central -n "__fish_s3central_using_subcommand completions" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
complete -c s3central -n "__fish_s3central_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c s3central -n "__fish_s3central_using_subcommand help; and not __fish_seen_subcommand_from ls restore activity diff drill setup status completions help" -f -a "ls" -d 'Browse the central bucket: accounts, keys as of any time, version history'
complete -c s3central -n "__fish_s3central_using_subcommand help; and not __fish_seen_subcommand_from ls restore activity diff drill setup status completions help" -f -a "restore" -d 'Restore an account\'s objects to their state at a time, into a target bucket'
complete -c s3central -n "__fish_s3central_using_subcommand help; and not __fish_seen_subcommand_from ls restore activity diff drill setup status completions help" -f -a "activity" -d 'Find the moment: writes and deletes per interval as a bar chart, bursts marked, a ready --at'
complete -c s3central -n "__fish_s3central_using_subcommand help; and not __fish_seen_subcommand_from ls restore activity diff drill setup status completions help" -f -a "diff" -d 'See the damage: keys added, changed and deleted between two moments'
complete -c s3central -n "__fish_s3central_using_subcommand help; and not __fish_seen_subcommand_from ls restore activity diff drill setup status completions help" -f -a "drill" -d 'Prove restores work: restore a sample into a scratch place, verify every copy, measure the replication lag, and write a report an auditor can read'
complete -c s3central -n "__fish_s3central_using_subcommand help; and not __fish_seen_subcommand_from ls restore activity diff drill setup status completions help" -f -a "setup" -d 'Provision replication for every account from s3central.toml: plan, then apply the differences'
complete -c s3central -n "__fish_s3central_using_subcommand help; and not __fish_seen_subcommand_from ls restore activity diff drill setup status completions help" -f -a "status" -d 'Check every account against the desired state and the replication status of recent objects; with --coverage, prove every current object has its replica in central'
complete -c s3central -n "__fish_s3central_using_subcommand help; and not __fish_seen_subcommand_from ls restore activity diff drill setup status completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c s3central -n "__fish_s3central_using_subcommand help; and not __fish_seen_subcommand_from ls restore activity diff drill setup status completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
