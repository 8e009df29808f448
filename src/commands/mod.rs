//! One thin file per command; each turns parsed arguments into library calls and output rows.

pub mod activity;
pub mod completions;
pub mod diff;
pub mod diff_live;
pub mod drill;
pub mod ls;
pub mod restore;
pub mod restore_report;
pub mod restore_undo;
pub mod setup;
pub mod setup_export;
pub mod status;

use crate::aws::AwsOptions;
use crate::cli::{Cli, Command, GlobalArgs};
use crate::error::{Error, Result};
use crate::output::Output;

/// What every command gets: the global options, resolved once.
#[derive(Debug)]
pub struct Context {
    /// The global options as given.
    pub global: GlobalArgs,
    /// How to reach AWS.
    pub aws: AwsOptions,
    /// Where data goes.
    pub out: Output,
    /// Whether progress bars may be drawn.
    pub progress: bool,
}

impl Context {
    /// The central bucket, or an error naming the option that sets it.
    pub fn central_bucket(&self) -> Result<String> {
        match self.global.central_bucket.as_deref() {
            Some(b) if !b.trim().is_empty() => Ok(b.trim().to_owned()),
            _ => Err(Error::NoCentralBucket),
        }
    }

    /// Whether a bar may be drawn while data rows stream to stdout: only when stdout is the
    /// terminal too, so that the bar can clear itself around each row. When stdout is piped
    /// (`| grep`, `| head`), whatever reads it writes to the terminal behind the bar's back and
    /// would leave stale bar lines between its output.
    pub fn progress_beside_data(&self) -> bool {
        self.progress && std::io::IsTerminal::is_terminal(&std::io::stdout())
    }
}

/// Runs the parsed command line; the value is the process exit code on success.
pub async fn run(cli: Cli) -> Result<u8> {
    let global = cli.global.clone();
    let mut ctx = Context {
        aws: AwsOptions {
            profile: global.profile.clone(),
            region: global.region.clone(),
            endpoint_url: global.endpoint_url.clone(),
            max_attempts: global.max_attempts,
            adaptive_retry: global.retry_mode == crate::cli::RetryMode::Adaptive,
            allow_plain_http: global.allow_plain_http,
        },
        out: Output::new(global.output),
        progress: crate::progress::wanted(global.no_progress, global.quiet),
        global,
    };
    match cli.command {
        Command::Ls(args) => ls::run(&mut ctx, args).await,
        Command::Restore(args) => restore::run(&mut ctx, args).await,
        Command::Activity(args) => activity::run(&mut ctx, args).await,
        Command::Diff(args) => diff::run(&mut ctx, args).await,
        Command::Drill(args) => drill::run(&mut ctx, args).await,
        Command::Setup(args) => setup::run(&mut ctx, args).await,
        Command::Status(args) => status::run(&mut ctx, args).await,
        Command::Completions(args) => completions::run(&mut ctx, args),
    }
}
