//! `s3central completions SHELL`: shell completion scripts generated from the clap definition.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::commands::Context;
use crate::error::{Error, Result};

/// Prints (or writes into `--dir`) the completion script for one shell.
pub fn run(_ctx: &mut Context, args: CompletionsArgs) -> Result<u8> {
    let mut cmd = Cli::command();
    match args.dir {
        Some(dir) => {
            clap_complete::generate_to(args.shell, &mut cmd, "s3central", &dir).map_err(
                |source| Error::Io {
                    what: format!("writing completions into {}", dir.display()),
                    source,
                },
            )?;
        }
        None => {
            clap_complete::generate(args.shell, &mut cmd, "s3central", &mut std::io::stdout());
        }
    }
    Ok(0)
}
