//! `s3central setup --export cloudformation DIR`: the config as a central stack template and a
//! member StackSet template, written into DIR; nothing in AWS is read or changed.

use std::io::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::cli::OutputFormat;
use crate::commands::Context;
use crate::config::load_config;
use crate::error::{Error, Result};
use crate::localfile::{self, Write};
use crate::setup::cloudformation::{templates, ALERTS_FILE, CENTRAL_FILE, MEMBER_FILE};

/// One written template, for `--output json`.
#[derive(Debug, Serialize)]
struct Written<'a> {
    record: &'static str,
    template: &'static str,
    path: &'a str,
}

/// Writes both templates (0600, in a folder only the caller may write); gives exit code 0.
pub fn run(ctx: &mut Context, config: &Path, export: &[String]) -> Result<u8> {
    let [format, dir] = export else {
        return Err(Error::Invalid(
            "--export takes FORMAT and DIR: --export cloudformation DIR".into(),
        ));
    };
    if format != "cloudformation" {
        return Err(Error::Invalid(format!(
            "--export {format:?}: the only format is cloudformation"
        )));
    }
    let config = load_config(config)?;
    let templates =
        templates(&config, ctx.aws.region.as_deref()).map_err(|e| Error::Invalid(e.to_string()))?;
    let dir = Path::new(dir);
    let io = |what: String| move |source| Error::Io { what, source };
    localfile::private_dir(dir).map_err(io(format!("creating {}", dir.display())))?;
    let alerts = templates
        .alerts
        .as_ref()
        .map(|t| ("alerts", ALERTS_FILE, t));
    for (name, file, template) in [
        ("central", CENTRAL_FILE, &templates.central),
        ("member", MEMBER_FILE, &templates.member),
    ]
    .into_iter()
    .chain(alerts)
    {
        let path = dir.join(file);
        let mut text = serde_json::to_string_pretty(template)
            .map_err(|e| Error::Invalid(format!("template {name}: {e}")))?;
        text.push('\n');
        localfile::create(&path, Write::Truncate)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(io(format!("writing {}", path.display())))?;
        let shown = path.display().to_string();
        match ctx.out.format() {
            OutputFormat::Json => ctx.out.json(&Written {
                record: "template",
                template: name,
                path: &shown,
            })?,
            _ => ctx
                .out
                .text(&format!("wrote the {name} template: {shown}"))?,
        }
    }
    if ctx.out.format() != OutputFormat::Json {
        ctx.out.text("next: deploy the central stack, the alerts stack in each region of member stacks (if written), then the member StackSet with the central stack's output CentralKeyArn (docs/stacksets.md)")?;
    }
    Ok(0)
}
