//! `s3central diff --from TIME --live [BUCKET]`: the real damage. Central's state at TIME against
//! what the bucket holds now, decided by restore's own dry run (same identity, listings and
//! in-place proof), so the keys shown are exactly those a restore at TIME would copy.

use indicatif::HumanBytes;
use serde::Serialize;

use crate::cli::{DiffArgs, OutputFormat};
use crate::commands::Context;
use crate::error::Result;
use crate::output::{printable, Column, Row};
use crate::progress::RestoreProgress;
use crate::restore::execute::execute;
use crate::restore::plan::Outcome;
use crate::restore::prepare::prepare;
use crate::restore::{Events, KeyReport};
use crate::time::format_time;

/// One key whose state in the bucket differs from central's at TIME.
#[derive(Debug, Serialize)]
struct LiveRow {
    /// `changed` (another version now), `deleted` (absent now), `added` (absent at TIME).
    change: &'static str,
    key: String,
    /// Central's version at TIME (what a restore copies); none for added keys.
    central_version_id: Option<String>,
    /// The bucket's current version now; none for deleted keys.
    bucket_version_id: Option<String>,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl Row for LiveRow {
    fn columns(&self) -> &'static [Column] {
        const COLUMNS: &[Column] = &[
            Column::left("CHANGE", 7),
            Column::right("SIZE", 11),
            Column::left("CENTRAL_AT_FROM", 36),
            Column::left("BUCKET_NOW", 36),
            Column::left("KEY", 0),
        ];
        COLUMNS
    }

    fn cells(&self) -> Vec<String> {
        vec![
            self.change.to_owned(),
            HumanBytes(self.size).to_string(),
            self.central_version_id
                .clone()
                .unwrap_or_else(|| "-".into()),
            self.bucket_version_id.clone().unwrap_or_else(|| "-".into()),
            printable(&self.key),
        ]
    }
}

/// Totals of a live diff.
#[derive(Debug, Default, Serialize)]
struct LiveTotals {
    changed: u64,
    deleted: u64,
    added: u64,
    unchanged: u64,
    unknown: u64,
    bytes_to_copy: u64,
}

/// Collects the dry run's keys as rows.
struct Collect<'a> {
    out: &'a mut crate::output::Output,
    totals: LiveTotals,
}

impl Events for Collect<'_> {
    fn key(&mut self, key: &KeyReport) -> Result<()> {
        let (change, central, bucket) = match key.outcome {
            Outcome::WouldCopy => match &key.replaced_version_id {
                Some(now) => ("changed", Some(key.version_id.clone()), Some(now.clone())),
                None => ("deleted", Some(key.version_id.clone()), None),
            },
            Outcome::Extra => ("added", None, None),
            Outcome::Failed => ("unknown", Some(key.version_id.clone()), None),
            Outcome::Unchanged | Outcome::Copied => {
                self.totals.unchanged += 1;
                return Ok(());
            }
        };
        match change {
            "changed" => self.totals.changed += 1,
            "deleted" => self.totals.deleted += 1,
            "added" => self.totals.added += 1,
            _ => self.totals.unknown += 1,
        }
        if key.outcome == Outcome::WouldCopy {
            self.totals.bytes_to_copy += key.bytes;
        }
        self.out.row(&LiveRow {
            change,
            key: key.key.clone(),
            central_version_id: central,
            bucket_version_id: bucket,
            size: key.bytes,
            error: key.error.clone(),
        })
    }
}

/// Runs the live diff: restore's preparation and dry run, shown as a diff.
pub async fn run(ctx: &mut Context, args: &DiffArgs) -> Result<u8> {
    let central = ctx.central_bucket()?;
    // The restore this diff stands for, parsed as restore parses it (every check it makes).
    let account = args.account.to_string();
    let config = args.config.to_string_lossy().into_owned();
    let mut argv = vec![
        "s3central",
        "restore",
        "--account",
        &account,
        "--at",
        &args.from,
        "--dry-run",
        "--config",
        &config,
    ];
    if let Some(bucket) = args.live.as_deref().filter(|b| !b.is_empty()) {
        argv.extend(["--to-bucket", bucket]);
    }
    if let Some(path) = &args.path {
        argv.push(path);
    }
    for glob in &args.include {
        argv.extend(["--include", glob]);
    }
    for glob in &args.exclude {
        argv.extend(["--exclude", glob]);
    }
    if args.respect_deletes {
        argv.push("--respect-deletes");
    }
    let restore = crate::commands::restore::parse_restore("diff --live", &argv)?;
    let prepared = prepare(&ctx.aws, central.clone(), &restore, |_, _| {}, || Ok(())).await?;
    let target = prepared.target_bucket.clone();
    let at = prepared.at;
    let identity = prepared.describe();
    let mut collect = Collect {
        out: &mut ctx.out,
        totals: LiveTotals::default(),
    };
    execute(
        prepared,
        &restore,
        RestoreProgress::new(false, true),
        futures::future::pending::<()>(),
        &mut collect,
    )
    .await?;
    let totals = collect.totals;
    let path = args.path.clone().unwrap_or_default();
    let from = format_time(at);
    if ctx.out.format() == OutputFormat::Json {
        ctx.out.json(&serde_json::json!({
            "record": "summary",
            "account": account,
            "path": path,
            "from": from,
            "bucket": target,
            "identity": identity,
            "totals": totals,
        }))?;
        return Ok(u8::from(totals.unknown > 0));
    }
    if ctx.out.rows() > 0 {
        ctx.out.text("")?;
    }
    let t = &totals;
    ctx.out.text(&format!(
        "s3://{target}/{account}/{path} now against central at {from}: changed {}, deleted {}, added {} (unchanged {}); a restore at {from} copies {} ({}) and leaves the {} added",
        t.changed,
        t.deleted,
        t.added,
        t.unchanged,
        t.changed + t.deleted,
        HumanBytes(t.bytes_to_copy),
        t.added,
    ))?;
    if t.unknown > 0 {
        ctx.out.text(&format!(
            "{} key(s) could not be compared (see --output json for the errors)",
            t.unknown
        ))?;
    }
    Ok(u8::from(t.unknown > 0))
}
