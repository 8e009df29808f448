//! The `s3central` binary: parse the command line, set up logging, run, map the outcome to an exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::FromArgMatches;
use s3central::cli::Cli;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = match s3central::cli::command()
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches))
    {
        Ok(cli) => cli,
        Err(e) => return clap_exit(e.format(&mut s3central::cli::command())),
    };
    init_tracing(cli.global.verbose, cli.global.quiet);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(s3central::commands::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(s3central::Error::Io { source, .. })
            if source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            // Errors name keys, buckets and versions that others chose: escaped like all output.
            eprintln!("error: {}", s3central::output::printable(&e.to_string()));
            ExitCode::from(2)
        }
    }
}

/// Prints help and version as clap does, and any usage error as one line with exit code 2.
fn clap_exit(e: clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::from(2)
        }
        _ => {
            let rendered = e.render().to_string();
            let message = rendered
                .split("\n\nUsage:")
                .next()
                .unwrap_or(&rendered)
                .split("\n\nFor more information")
                .next()
                .unwrap_or(&rendered);
            let line = message.split_whitespace().collect::<Vec<_>>().join(" ");
            eprintln!("{line} (see s3central --help)");
            ExitCode::from(2)
        }
    }
}

/// Logs go to stderr through `tracing`; `-v`/`-q` pick the level, RUST_LOG overrides.
fn init_tracing(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "s3central=info,warn",
        (false, 2) => "s3central=debug,info",
        (false, _) => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(s3central::progress::StderrAroundBar)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(verbose >= 2)
        .init();
}
