//! The command line: global options, subcommands and their arguments (clap derive).

use std::path::PathBuf;

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

/// Options shared by every command; each can also come from an environment variable.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// The central backup bucket.
    #[arg(long, env = "S3CENTRAL_BUCKET", global = true, value_name = "BUCKET")]
    pub central_bucket: Option<String>,
    /// AWS profile to use (else the standard credential chain).
    #[arg(long, env = "AWS_PROFILE", global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// AWS region (else from the profile, else us-east-1).
    #[arg(long, env = "AWS_REGION", global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// A custom S3/KMS/STS endpoint, e.g. a local test server (S3 is addressed path-style).
    #[arg(long, env = "AWS_ENDPOINT_URL", global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
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
    /// More log output on stderr (-v info, -vv debug, -vvv debug including the AWS SDK); RUST_LOG overrides.
    #[arg(short, long, action = ArgAction::Count, global = true, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors on stderr; no progress, no summary.
    #[arg(short, long, global = true, env = "S3CENTRAL_QUIET")]
    pub quiet: bool,
    /// Output format on stdout: aligned table for people, or one JSON object per line.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table, env = "S3CENTRAL_OUTPUT", global = true)]
    pub output: OutputFormat,
    /// Never draw progress bars (they are drawn only when stderr is a terminal anyway).
    #[arg(long, global = true, env = "S3CENTRAL_NO_PROGRESS")]
    pub no_progress: bool,
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
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Browse the central bucket: accounts, keys as of any time, version history.
    Ls(LsArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
}

/// Arguments of `ls`.
#[derive(Debug, Args)]
#[command(after_help = "Without --account: one row per account backed up.\n\
With --account: the keys as they were at --at (default now), relative to the account prefix.\n\n\
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
    #[arg(long, value_name = "TIME", requires = "account")]
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
    /// With no --account: add object count and bytes (current state) per account.
    #[arg(long, conflicts_with = "account")]
    pub summary: bool,
    /// Entries per listing request (1-1000); for tests and tuning.
    #[arg(long, default_value_t = 1000, value_name = "N", value_parser = clap::value_parser!(i32).range(1..=1000))]
    pub page_size: i32,
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

/// Parses `--account` so a malformed id is refused before anything runs.
pub fn parse_account(s: &str) -> Result<AccountId, String> {
    s.parse::<AccountId>().map_err(|e| e.to_string())
}
