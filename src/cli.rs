//! The command line: global options, subcommands and their arguments (clap derive).

use std::path::PathBuf;

use clap::builder::FalseyValueParser;
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::account::AccountId;

/// Back up many accounts' S3 buckets into one central bucket, browse it, restore any point in time.
#[derive(Debug, Parser)]
#[command(
    name = "s3central",
    version,
    about,
    long_about = "Back up many AWS accounts' S3 buckets into ONE central, versioned, KMS-encrypted \
bucket (each account under its 12-digit id), browse what is there, and restore an account's \
objects to their exact state at any moment.\n\nTIME is RFC 3339 (2026-11-01T12:00:00Z, \
2026-11-01T14:00:00+02:00), a date (2026-11-01 = midnight UTC), 'now', or a duration ago \
(90m, 36h, 3d, '36h ago').",
    after_help = "Examples:\n  s3central ls --central-bucket backups\n  s3central ls --account 111111111111 --at 2026-11-01T12:00:00Z\n  s3central restore --account 111111111111 --at '36h ago' --to-bucket prod-data --dry-run"
)]
pub struct Cli {
    /// Options every command shares.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The command line as the binary parses it and prints its help: the global options are listed
/// once, in `s3central --help`, and each subcommand's help ends with a pointer to them instead of
/// repeating them. They are accepted after any subcommand all the same.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    // Building propagates the global options into every subcommand; hiding them there afterwards
    // keeps them parsed, out of the subcommand's help.
    cmd.build();
    let globals: Vec<String> = cmd
        .get_arguments()
        .filter(|a| a.is_global_set())
        .map(|a| a.get_id().to_string())
        .collect();
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .filter(|name| name != "help")
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(&name, |sub| {
            let pointer = "Global options (--central-bucket, --profile, --region, --endpoint-url, \
--output, -v, -q, ...) are accepted here too: see s3central --help.";
            let after = match sub.get_after_help() {
                Some(text) => format!("{text}\n\n{pointer}"),
                None => pointer.to_owned(),
            };
            sub.mut_args(|arg| {
                if globals.iter().any(|g| g == arg.get_id().as_str()) {
                    arg.hide(true)
                } else {
                    arg
                }
            })
            .after_help(after)
        });
    }
    cmd
}

/// Options shared by every command; each can also come from an environment variable.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// The central backup bucket.
    #[arg(long, env = "S3CENTRAL_BUCKET", global = true, value_name = "BUCKET")]
    pub central_bucket: Option<String>,
    /// AWS profile to use; wins over credentials in the environment (AWS_PROFILE is read by the standard chain).
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// AWS region (else from the profile, else us-east-1).
    #[arg(long, env = "AWS_REGION", global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// A custom S3/KMS/STS endpoint, e.g. a local test server (S3 is addressed path-style).
    /// http:// only to this machine (loopback) unless --allow-plain-http.
    #[arg(long, env = "AWS_ENDPOINT_URL", global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Allow an http:// endpoint off this machine: credentials and data then cross the network unencrypted.
    #[arg(long, global = true)]
    pub allow_plain_http: bool,
    /// Attempts per AWS request, first try included (adaptive retry with backoff).
    #[arg(
        long,
        env = "S3CENTRAL_MAX_ATTEMPTS",
        global = true,
        default_value_t = 8,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(1..=100)
    )]
    pub max_attempts: u32,
    /// How failed requests are retried: adaptive also slows the client down when S3 throttles.
    #[arg(long, value_enum, default_value_t = RetryMode::Adaptive, env = "S3CENTRAL_RETRY_MODE", global = true)]
    pub retry_mode: RetryMode,
    /// More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides.
    #[arg(short, long, action = ArgAction::Count, global = true, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors on stderr; no progress, no summary.
    #[arg(short, long, global = true, env = "S3CENTRAL_QUIET", value_parser = FalseyValueParser::new())]
    pub quiet: bool,
    /// Output format on stdout: aligned table for people, or one JSON object per line.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table, env = "S3CENTRAL_OUTPUT", global = true)]
    pub output: OutputFormat,
    /// Never draw progress bars (they are drawn only when stderr is a terminal anyway).
    #[arg(long, global = true, env = "S3CENTRAL_NO_PROGRESS", value_parser = FalseyValueParser::new())]
    pub no_progress: bool,
}

/// The SDK's retry strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RetryMode {
    /// Exponential backoff with jitter, and a client-side rate limiter that backs off on throttling.
    Adaptive,
    /// Exponential backoff with jitter only.
    Standard,
}

/// How data is written to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for people.
    Table,
    /// One JSON object per line, snake_case fields.
    Json,
}

/// The subcommands.
// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Browse the central bucket: accounts, keys as of any time, version history.
    Ls(LsArgs),
    /// Restore an account's objects to their state at a time, into a target bucket.
    Restore(RestoreArgs),
    /// Find the moment: writes and deletes per interval as a bar chart, bursts marked, a ready --at.
    Activity(ActivityArgs),
    /// See the damage: keys added, changed and deleted between two moments.
    Diff(DiffArgs),
    /// Prove restores work: restore a sample into a scratch place, verify every copy, measure the
    /// replication lag, and write a report an auditor can read.
    Drill(DrillArgs),
    /// Provision replication for every account from s3central.toml: plan, then apply the differences.
    Setup(SetupArgs),
    /// Check every account against the desired state and the replication status of recent objects;
    /// with --coverage, prove every current object has its replica in central.
    Status(StatusArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
}

/// Arguments of `setup`.
#[derive(Debug, Args)]
#[command(
    after_help = "Reads every resource first, prints the plan (create / update / unchanged), then \
applies only the differences. A second run on a converged organization changes nothing.\n\n\
Exit codes: 0 done, 1 some accounts failed, 2 bad config or credentials, 3 changes pending (--dry-run --detailed-exitcode).\n\n\
Examples:\n  s3central setup --dry-run\n  s3central setup --yes --verify\n  s3central setup --export cloudformation ./stacks"
)]
pub struct SetupArgs {
    /// The desired state (every key: docs/configuration.md).
    #[arg(
        long,
        env = "S3CENTRAL_CONFIG",
        default_value = "s3central.toml",
        value_name = "FILE"
    )]
    pub config: PathBuf,
    /// Print the plan and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: exit 3 when changes are pending (for CI drift checks).
    #[arg(long, requires = "dry_run")]
    pub detailed_exitcode: bool,
    /// Apply without asking (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// After applying, write a canary object in each source bucket and wait for its replica in central.
    #[arg(long, conflicts_with = "dry_run")]
    pub verify: bool,
    /// How long --verify waits for each replica.
    #[arg(long, default_value = "15m", value_name = "DURATION")]
    pub verify_timeout: humantime::Duration,
    /// Accounts read or changed at once.
    #[arg(long, default_value_t = 8, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: u32,
    /// Also change the default encryption key and object ownership of source buckets that existed
    /// before s3central (the plan shows them as "needs consent"; without this they are left alone).
    #[arg(long)]
    pub allow_bucket_changes: bool,
    /// Also compare every source prefix with central and start an S3 Batch Replication job for
    /// what is missing or FAILED (without it, only objects a new rule leaves behind are backfilled).
    #[arg(long)]
    pub backfill: bool,
    /// Write this config as CloudFormation templates into DIR instead of setting up: a central
    /// stack and a member StackSet template (docs/stacksets.md). Reads nothing from AWS; FORMAT is
    /// `cloudformation`.
    #[arg(
        long,
        num_args = 2,
        value_names = ["FORMAT", "DIR"],
        conflicts_with_all = ["dry_run", "yes", "verify", "backfill", "allow_bucket_changes"]
    )]
    pub export: Option<Vec<String>>,
}

/// Arguments of `status`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes:\n  0    every account matches the desired state (and, with --coverage, every current object has its replica)\n  \
1    drift, a failed replication, an account not protected yet or that could not be read, or (--coverage) an unprotected object\n  \
2    bad config or credentials\n\n\
Examples:\n  s3central status\n  s3central status --coverage --gaps 50"
)]
pub struct StatusArgs {
    /// The desired state.
    #[arg(
        long,
        env = "S3CENTRAL_CONFIG",
        default_value = "s3central.toml",
        value_name = "FILE"
    )]
    pub config: PathBuf,
    /// How many of the most recent objects per account to check the replication status of.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub recent: usize,
    /// Accounts read at once.
    #[arg(long, default_value_t = 8, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: u32,
    /// Prove every current object under each account's prefix has its replica in central (same
    /// version id) under central's KMS key: count replicated, pending, failed, missing, under a
    /// foreign key, and objects outside the prefix; exit 1 when anything is unprotected.
    #[arg(long)]
    pub coverage: bool,
    /// With --coverage: do not read each replica's encryption (one HeadObject per replica), so a
    /// replica under another key than central's is not found.
    #[arg(long, requires = "coverage")]
    pub skip_key_check: bool,
    /// With --coverage: unprotected versions listed per account (the counts are always complete).
    #[arg(long, default_value_t = 20, value_name = "N", requires = "coverage")]
    pub gaps: usize,
    /// With --coverage: objects outside the account prefix are reported but do not make the exit code 1.
    #[arg(long, requires = "coverage")]
    pub ignore_outside_prefix: bool,
    /// Entries per listing request (1-1000); for tests and tuning.
    #[arg(long, default_value_t = 1000, value_name = "N", value_parser = clap::value_parser!(i32).range(1..=1000))]
    pub page_size: i32,
}

/// Which engine copies: this machine, or S3 Batch Operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    /// Copies from this machine (server-side or streamed), bounded by --concurrency.
    Local,
    /// An S3 Batch Operations job (S3PutObjectCopy) that S3 runs: for millions of objects.
    Batch,
}

/// How `restore` moves bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CopyModeArg {
    /// Server-side copy when one identity reads central and writes the target, else stream.
    Auto,
    /// Server-side copy (CopyObject / UploadPartCopy): the writer must be able to read central.
    Server,
    /// Download and upload through this machine (GetObject -> PutObject / multipart).
    Stream,
}

/// `restore --verify HOW`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerifyArg {
    /// Compare the full-object checksums S3 keeps for both versions.
    Checksum,
    /// As `checksum`, and read both versions where no checksum compares.
    Bytes,
}

impl RestoreArgs {
    /// `--account`, which clap requires unless `--undo` is given.
    pub fn account(&self) -> Result<&AccountId, crate::error::Error> {
        self.account.as_ref().ok_or_else(|| {
            crate::error::Error::Invalid("--account ID is required (or --undo REPORT)".into())
        })
    }

    /// `--at`, which clap requires unless `--undo` is given.
    pub fn at(&self) -> Result<&str, crate::error::Error> {
        self.at.as_deref().ok_or_else(|| {
            crate::error::Error::Invalid("--at TIME is required (or --undo REPORT)".into())
        })
    }
}

/// Arguments of `restore`.
#[derive(Debug, Args)]
#[command(
    after_help = "Safe to re-run: objects already restored from the same version are skipped, so an interrupted restore resumes. Keys in the target that did not exist at TIME are reported, never deleted. Nothing is ever written to the central bucket.\n\n\
Exit codes:\n  0    all restored (or nothing to restore at TIME)\n  1    some keys failed (see --report or -v); the others were restored\n  \
2    nothing could start (bad input, access, KMS), or nothing at all under the account's prefix (a mistyped account lists the ones in central)\n  \
130  interrupted (Ctrl-C): the copies in flight finished; the summary prints the command that finishes the restore\n\n\
Examples:\n  s3central restore --account 111111111111 --at 2026-11-01T12:00:00Z --to-bucket prod-data --dry-run\n  \
s3central restore --account 111111111111 db/ --at '36h ago' --to-bucket prod-data --kms-key alias/prod --report restore.jsonl"
)]
pub struct RestoreArgs {
    /// Account to restore (12 digits): its prefix in the central bucket.
    #[arg(long, value_name = "ID", value_parser = parse_account, required_unless_present = "undo")]
    pub account: Option<AccountId>,
    /// Only keys under this path (relative to the account prefix), e.g. `db/`; only it is listed.
    #[arg(value_name = "PATH")]
    pub path: Option<String>,
    /// The moment to restore to (RFC 3339, date, 'now', or a duration ago like 36h).
    #[arg(
        long,
        value_name = "TIME",
        allow_hyphen_values = true,
        required_unless_present = "undo"
    )]
    pub at: Option<String>,
    /// Undo the restore whose --report is REPORT: each key it copied whose current version is
    /// still the one it wrote gets the version it replaced back as current (a copy of it; a key
    /// that did not exist gets a delete marker; no version is ever deleted); every other key is
    /// reported and left alone. Acts as the global credentials, or --restore-role ARN.
    #[arg(long, value_name = "REPORT", conflicts_with_all = ["account", "at", "path", "dry_run", "verify", "inventory"])]
    pub undo: Option<PathBuf>,
    /// Bucket to write to (never the central bucket); must be versioned [default: the account's bucket in --config].
    #[arg(long, value_name = "BUCKET")]
    pub to_bucket: Option<String>,
    /// The setup config, read only to find the account's bucket when --to-bucket is not given.
    #[arg(
        long,
        env = "S3CENTRAL_CONFIG",
        default_value = "s3central.toml",
        value_name = "FILE"
    )]
    pub config: PathBuf,
    /// Put restored keys under this prefix instead of their central key, e.g. `restored/`.
    #[arg(long, value_name = "PREFIX")]
    pub to_prefix: Option<String>,
    /// KMS key (id, ARN or alias) to encrypt restored objects with; default: the target bucket's default key.
    #[arg(long, value_name = "KEY")]
    pub kms_key: Option<String>,
    /// Only keys matching this glob (relative to the account prefix). Repeatable.
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// Leave out keys matching this glob. Repeatable.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// A key whose newest version at TIME is a delete marker is not restored (default: markers are ignored).
    #[arg(long)]
    pub respect_deletes: bool,
    /// Objects copied at once.
    #[arg(long, default_value_t = 32, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub concurrency: u32,
    /// Show what would be copied, unchanged and extra; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Prove each copy equal to its central version: `checksum` (S3's full-object checksums of
    /// both; the default) or `bytes` (also reads both where no checksum compares). A mismatch
    /// fails the key.
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "checksum", value_name = "HOW", conflicts_with = "dry_run")]
    pub verify: Option<VerifyArg>,
    /// Write one JSON line per key (key, version_id, target_key, bytes, outcome, error) to this file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Where to record which central version each restored object came from: `journal` (a
    /// local file, one CopyObject per object) or `metadata` (also in each object, as
    /// s3central-source-version-id, for people: HeadObject + CopyObject). A re-run never
    /// trusts that metadata: without the journal, only equal SHA-256 checksums prove a key in place.
    #[arg(long, value_enum, default_value_t = ProvenanceArg::Journal, value_name = "WHERE")]
    pub provenance: ProvenanceArg,
    /// The restore journal of the target bucket: every copy this machine made into it, read to
    /// skip what is in place and appended to
    /// [default: $S3CENTRAL_STATE_DIR or ~/.local/state/s3central, /journal/<bucket>.tsv].
    #[arg(long, env = "S3CENTRAL_JOURNAL", value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// How bytes travel.
    #[arg(long, value_enum, default_value_t = CopyModeArg::Auto)]
    pub copy_mode: CopyModeArg,
    /// Write the target with this AWS profile (reading central keeps the global credentials).
    #[arg(long, value_name = "NAME", conflicts_with = "target_role_arn")]
    pub target_profile: Option<String>,
    /// Write the target as this IAM role, assumed from the global credentials.
    #[arg(long, value_name = "ARN")]
    pub target_role_arn: Option<String>,
    /// Act as this role in the account (the one setup makes); used by default when --config lists
    /// the account. It reads only the account's prefix in central and writes the account's bucket,
    /// so the copy is server-side. When it cannot read central the restore stops, unless
    /// --allow-caller-read.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["target_profile", "target_role_arn", "no_restore_role"])]
    pub restore_role: Option<String>,
    /// Never assume the account's restore role: the global credentials read and write.
    #[arg(long)]
    pub no_restore_role: bool,
    /// The account that must own the target bucket; every write says so and S3 refuses it
    /// otherwise [default: the account restored when the bucket comes from --config, else the
    /// writing identity's account].
    #[arg(long, value_name = "ACCOUNT")]
    pub expected_bucket_owner: Option<AccountId>,
    /// The account that must own the central bucket; every read of central says so and S3
    /// refuses it otherwise [default: `[central] account` of --config, else, reading as the
    /// restore role, the account of the credentials that assume it].
    #[arg(long, value_name = "ACCOUNT")]
    pub central_owner: Option<AccountId>,
    /// When the restore role cannot read central, read it with the global credentials (the role
    /// still writes; bytes stream through this machine) instead of stopping.
    #[arg(long, conflicts_with = "no_restore_role")]
    pub allow_caller_read: bool,
    /// Who copies: `local` (this machine) or `batch` (an S3 Batch Operations job in the target
    /// account; objects above 5 GiB and archived versions are still copied locally).
    #[arg(long, value_enum, default_value_t = EngineArg::Local)]
    pub engine: EngineArg,
    /// With --engine batch: the role the job runs as (name in the target account, or ARN).
    #[arg(
        long,
        value_name = "NAME|ARN",
        default_value = "s3central-batch-restore"
    )]
    pub batch_role: String,
    /// With --engine batch: where the manifest and the completion report go
    /// [default: s3://<target bucket>/<target prefix>.s3central/batch/].
    #[arg(long, value_name = "S3_URL")]
    pub manifest_location: Option<String>,
    /// With --engine batch --dry-run: where to write the manifest locally
    /// [default: ./s3central-manifest-<request>.csv].
    #[arg(long, value_name = "FILE")]
    pub manifest_out: Option<PathBuf>,
    /// Objects larger than this are copied in parts [default: 5GiB server-side, 16MiB streamed].
    #[arg(long, value_name = "SIZE")]
    pub multipart_threshold: Option<bytesize::ByteSize>,
    /// Part size for multipart copies (raised automatically to stay within 10,000 parts).
    #[arg(long, value_name = "SIZE", default_value = "16MiB")]
    pub part_size: bytesize::ByteSize,
    /// Allow a target bucket without versioning (overwrites would then destroy data).
    #[arg(long)]
    pub allow_unversioned: bool,
    /// Entries per listing request (1-1000); for tests and tuning.
    #[arg(long, default_value_t = 1000, value_name = "N", value_parser = clap::value_parser!(i32).range(1..=1000))]
    pub page_size: i32,
    /// Restore versions in GLACIER or DEEP_ARCHIVE with this retrieval tier first (RestoreObject),
    /// then copy each as it becomes readable; without it such a restore writes nothing and exits 2.
    #[arg(long, value_enum, ignore_case = true, value_name = "TIER")]
    pub archive_restore: Option<ArchiveTier>,
    /// With --archive-restore: days the restored temporary copies stay readable in central.
    #[arg(long, default_value_t = 1, value_name = "N", requires = "archive_restore", value_parser = clap::value_parser!(i32).range(1..=365))]
    pub archive_days: i32,
    /// With --archive-restore: how long to wait for restores to finish; versions not readable by
    /// then are reported failed (run the same command again later: nothing is requested twice).
    #[arg(
        long,
        default_value = "48h",
        value_name = "DURATION",
        requires = "archive_restore"
    )]
    pub archive_wait: humantime::Duration,
    /// Listing requests in flight at once: the prefix is split into key ranges listed concurrently
    /// and merged back into S3 order (1 = one stream).
    #[arg(long, env = "S3CENTRAL_LIST_CONCURRENCY", default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub list_concurrency: u32,
    /// Read central's versions from this S3 Inventory of the central bucket (its manifest.json;
    /// IncludedObjectVersions=All, CSV or Parquet) instead of listing them; refused when it was
    /// taken before --at.
    #[arg(long, value_name = "S3_URL")]
    pub inventory: Option<String>,
    /// Memory for sorting the inventory's rows; beyond it, sorted runs spill to a temporary
    /// directory (TMPDIR) and are merged.
    #[arg(
        long,
        value_name = "SIZE",
        default_value = "64MiB",
        requires = "inventory"
    )]
    pub inventory_memory: bytesize::ByteSize,
    /// The account that must own the inventory's buckets (sent with every read of it, so S3
    /// refuses a bucket of that name owned by anyone else) [default: your own account].
    #[arg(long, value_name = "ID", value_parser = parse_account, requires = "inventory")]
    pub inventory_owner: Option<AccountId>,
}

/// Values of `restore --provenance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProvenanceArg {
    /// The local journal only: one CopyObject per object, central's metadata kept as it is.
    Journal,
    /// Also each object's metadata, for people (never evidence for a re-run): two requests per object.
    Metadata,
}

/// S3 Glacier retrieval tiers for `restore --archive-restore`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ArchiveTier {
    /// Cheapest: GLACIER 5-12 h, DEEP_ARCHIVE within 48 h.
    #[value(name = "Bulk")]
    Bulk,
    /// GLACIER 3-5 h, DEEP_ARCHIVE within 12 h.
    #[value(name = "Standard")]
    Standard,
    /// GLACIER 1-5 minutes; not available for DEEP_ARCHIVE.
    #[value(name = "Expedited")]
    Expedited,
}

/// Arguments of `ls`.
#[derive(Debug, Args)]
#[command(after_help = "Without --account: one row per account backed up.\n\
With --account: the keys as they were at --at (default now), relative to the account prefix. \
A key whose newest entry at that time is a delete marker is listed with DELETED yes and the \
version a default restore brings back; --respect-deletes leaves such keys out, as restore does.\n\n\
Examples:\n  s3central ls --summary\n  s3central ls --account 111111111111 logs/ --at 2026-11-01\n  \
s3central ls --account 111111111111 --versions --include '**/*.json'")]
pub struct LsArgs {
    /// Account whose objects to list (12 digits); without it, list the accounts.
    #[arg(long, value_name = "ID", value_parser = parse_account)]
    pub account: Option<AccountId>,
    /// Only keys under this path (relative to the account prefix), e.g. `logs/`.
    #[arg(value_name = "PATH", requires = "account")]
    pub path: Option<String>,
    /// Show the state as of this time (default now).
    #[arg(
        long,
        value_name = "TIME",
        allow_hyphen_values = true,
        requires = "account"
    )]
    pub at: Option<String>,
    /// Show every version and delete marker instead of the state at a time.
    #[arg(long, requires = "account", conflicts_with = "at")]
    pub versions: bool,
    /// Only keys matching this glob (relative to the account prefix; `*` stays within a `/`, `**` crosses). Repeatable.
    #[arg(long, value_name = "GLOB", requires = "account")]
    pub include: Vec<String>,
    /// Leave out keys matching this glob. Repeatable.
    #[arg(long, value_name = "GLOB", requires = "account")]
    pub exclude: Vec<String>,
    /// With no --account: add object count and bytes (current state) per account, and a total.
    #[arg(long, conflicts_with = "account")]
    pub summary: bool,
    /// Leave out keys whose newest entry at TIME is a delete marker, as `restore --respect-deletes`
    /// does (default: they are listed, marked deleted, with the version a restore would bring back).
    #[arg(long, requires = "account", conflicts_with = "versions")]
    pub respect_deletes: bool,
    /// Full version ids and the storage class (wider than 80 columns).
    #[arg(long, requires = "account")]
    pub long: bool,
    /// Entries per listing request (1-1000); for tests and tuning.
    #[arg(long, default_value_t = 1000, value_name = "N", value_parser = clap::value_parser!(i32).range(1..=1000))]
    pub page_size: i32,
    /// Listing requests in flight at once: the prefix is split into key ranges listed concurrently
    /// and merged back into S3 order (1 = one stream).
    #[arg(long, env = "S3CENTRAL_LIST_CONCURRENCY", default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub list_concurrency: u32,
    /// Read the account's versions from this S3 Inventory of the central bucket (its
    /// manifest.json; IncludedObjectVersions=All, CSV or Parquet) instead of listing them; needs
    /// --at no later than when the inventory was taken.
    #[arg(long, value_name = "S3_URL", requires = "account")]
    pub inventory: Option<String>,
    /// Memory for sorting the inventory's rows; beyond it, sorted runs spill to a temporary
    /// directory (TMPDIR) and are merged.
    #[arg(
        long,
        value_name = "SIZE",
        default_value = "64MiB",
        requires = "inventory"
    )]
    pub inventory_memory: bytesize::ByteSize,
    /// The account that must own the inventory's buckets (sent with every read of it, so S3
    /// refuses a bucket of that name owned by anyone else) [default: your own account].
    #[arg(long, value_name = "ID", value_parser = parse_account, requires = "inventory")]
    pub inventory_owner: Option<AccountId>,
}

/// Arguments of `activity`.
#[derive(Debug, Args)]
#[command(
    after_help = "One listing pass; memory grows with the number of intervals, never with the keys. \
--since and --until are rounded out to whole intervals, aligned to the clock (1h starts on the hour).\n\n\
Burst: an interval whose changes (versions + delete markers) are at least 10, more than 3 x the \
median of the non-empty intervals, and more than that median + 5 x their median absolute deviation \
(with fewer than 4 non-empty intervals, at least 10 alone). The last quiet moment is the \
LastModified of the latest entry before the first burst: a ready `restore --at`.\n\n\
Examples:\n  s3central activity --account 111111111111\n  \
s3central activity --account 111111111111 --since 2026-11-30 --until 2026-12-01 --every 10m\n  \
s3central activity --account 111111111111 db/ --since '3d ago' --output json"
)]
pub struct ActivityArgs {
    /// Account to look at (12 digits).
    #[arg(long, value_name = "ID", value_parser = parse_account)]
    pub account: AccountId,
    /// Only keys under this path (relative to the account prefix), e.g. `logs/`.
    #[arg(value_name = "PATH")]
    pub path: Option<String>,
    /// Start of the window (TIME) [default: 7 days before --until].
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub since: Option<String>,
    /// End of the window, inclusive (TIME) [default: now].
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub until: Option<String>,
    /// Interval length, e.g. 10m, 1h, 1d [default: from the window: 7d -> 1h, 24h -> 10m, 1h -> 30s].
    #[arg(long, value_name = "DURATION")]
    pub every: Option<humantime::Duration>,
    /// Only keys matching this glob (relative to the account prefix). Repeatable.
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// Leave out keys matching this glob. Repeatable.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Entries per listing request (1-1000); for tests and tuning.
    #[arg(long, default_value_t = 1000, value_name = "N", value_parser = clap::value_parser!(i32).range(1..=1000))]
    pub page_size: i32,
    /// Listing requests in flight at once: the prefix is split into key ranges listed concurrently
    /// and merged back into S3 order (1 = one stream).
    #[arg(long, env = "S3CENTRAL_LIST_CONCURRENCY", default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub list_concurrency: u32,
}

/// Arguments of `diff`.
#[derive(Debug, Args)]
#[command(
    after_help = "A key's state at a moment is its newest entry at or before it. \
added: absent (or deleted) at --from, present at --to; changed: another version at --to; \
deleted: its newest entry at --to is a delete marker. Deletes are shown as they are in central; \
a default restore ignores delete markers, so deleted keys come back unless --respect-deletes.\n\n\
Examples:\n  s3central diff --account 111111111111 --from 2026-11-30T14:59:59Z\n  \
s3central diff --account 111111111111 logs/ --from 2026-11-30 --to 2026-12-01 --include '**/*.json'"
)]
pub struct DiffArgs {
    /// Account to compare (12 digits).
    #[arg(long, value_name = "ID", value_parser = parse_account)]
    pub account: AccountId,
    /// Only keys under this path (relative to the account prefix), e.g. `logs/`.
    #[arg(value_name = "PATH")]
    pub path: Option<String>,
    /// The earlier moment (TIME), e.g. the last quiet moment `activity` printed.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub from: String,
    /// The later moment (TIME) [default: now].
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub to: Option<String>,
    /// Compare central at --from with what BUCKET holds now, by restore's own decision: the keys
    /// a restore at --from would copy (changed or deleted in the bucket) and leave (added)
    /// [default BUCKET: the account's bucket in --config].
    #[arg(long, value_name = "BUCKET", num_args = 0..=1, default_missing_value = "", conflicts_with = "to")]
    pub live: Option<String>,
    /// With --live: a key whose newest entry in central at --from is a delete marker counts as
    /// absent (as `restore --respect-deletes` does).
    #[arg(long, requires = "live")]
    pub respect_deletes: bool,
    /// The setup config, read with --live to find the account's bucket (and restore role).
    #[arg(
        long,
        env = "S3CENTRAL_CONFIG",
        default_value = "s3central.toml",
        value_name = "FILE"
    )]
    pub config: PathBuf,
    /// Only keys matching this glob (relative to the account prefix). Repeatable.
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// Leave out keys matching this glob. Repeatable.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Entries per listing request (1-1000); for tests and tuning.
    #[arg(long, default_value_t = 1000, value_name = "N", value_parser = clap::value_parser!(i32).range(1..=1000))]
    pub page_size: i32,
    /// Listing requests in flight at once: the prefix is split into key ranges listed concurrently
    /// and merged back into S3 order (1 = one stream).
    #[arg(long, env = "S3CENTRAL_LIST_CONCURRENCY", default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub list_concurrency: u32,
}

/// Arguments of `drill`.
#[derive(Debug, Args)]
#[command(
    after_help = "Restores under --to-prefix only (default s3central-drill/<time>/: outside the account's replicated prefix), never over the account's keys, and never writes central. Every copy is verified (checksums, else bytes). The canary is one small object under <account>/.s3central/ in the account's bucket.\n\n\
Exit codes:\n  0    PASS: every sampled key restored and proven equal to its backup, the canary replicated\n  \
1    FAIL: see the report\n  2    nothing could start (bad input, access, KMS)\n\n\
Examples:\n  s3central drill --account 111111111111 --sample 100\n  \
s3central drill --account 111111111111 --at '24h ago' --sample 1000 --report-dir /var/lib/s3central/drills"
)]
pub struct DrillArgs {
    /// Account to drill (12 digits).
    #[arg(long, value_name = "ID", value_parser = parse_account)]
    pub account: AccountId,
    /// The moment to restore [default: now].
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub at: Option<String>,
    /// Restore a random sample of this many keys [default: every key].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub sample: Option<u64>,
    /// The bucket to restore into (versioned; never central) [default: the account's bucket in
    /// --config, where the account's restore role may write, as on the worst day].
    #[arg(long, value_name = "BUCKET")]
    pub to_bucket: Option<String>,
    /// Where in it, outside the account's replicated prefix [default: s3central-drill/<time>/].
    #[arg(long, value_name = "PREFIX")]
    pub to_prefix: Option<String>,
    /// KMS key for the restored objects [default: the scratch bucket's default key].
    #[arg(long, value_name = "KEY")]
    pub kms_key: Option<String>,
    /// Where to write the report: drill-<account>-<time>.jsonl and .md.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub report_dir: PathBuf,
    /// How long to wait for the canary's replica (the replication lag measured).
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = humantime::parse_duration)]
    pub canary_timeout: std::time::Duration,
    /// Do not write a canary in the account's bucket (the lag is then not measured).
    #[arg(long)]
    pub no_canary: bool,
    /// The setup config: the account's bucket and the role to write the canary with.
    #[arg(
        long,
        env = "S3CENTRAL_CONFIG",
        default_value = "s3central.toml",
        value_name = "FILE"
    )]
    pub config: PathBuf,
}

/// Arguments of `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to print a completion script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
    /// Write the script into this directory (as the shell expects it named) instead of stdout.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Parses `--account` so a malformed id is refused before anything runs; the console's
/// `1111-2222-3333` is accepted as people copy it.
pub fn parse_account(s: &str) -> Result<AccountId, String> {
    AccountId::parse_written(s).map_err(|e| e.to_string())
}
