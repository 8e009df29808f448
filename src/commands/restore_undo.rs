//! `s3central restore --undo REPORT`: reads the report, undoes each copied key in its bucket
//! (see `restore::undo`), prints each key that was not undone and a summary.

use std::collections::BTreeMap;
use std::path::Path;

use futures::StreamExt;
use serde::Serialize;

use crate::aws::Aws;
use crate::cli::{OutputFormat, RestoreArgs};
use crate::commands::Context;
use crate::error::{Error, Result};
use crate::restore::undo::{read_report, undo_key, UndoOutcome, UndoReport};

/// Keys undone at once.
const UNDO_CONCURRENCY: usize = 16;

/// The closing line of an undo, as JSON.
#[derive(Serialize)]
struct Summary<'a> {
    record: &'static str,
    report: &'a str,
    copied_keys: usize,
    undone: u64,
    skipped: u64,
    failed: u64,
    identity: String,
}

/// Runs the undo; exit 1 when a copy back failed, else 0 (skipped keys are said, not failures).
pub async fn run(ctx: &mut Context, report: &Path, args: &RestoreArgs) -> Result<u8> {
    let keys = read_report(report)?;
    let central = ctx.global.central_bucket.clone().unwrap_or_default();
    if let Some(k) = keys.iter().find(|k| k.target_bucket == central.trim()) {
        return Err(Error::Refused(format!(
            "{} names the central bucket {} as the target of {}: s3central never writes central",
            report.display(),
            k.target_bucket,
            k.target_key
        )));
    }
    let caller = Aws::load(&ctx.aws).await?;
    let (aws, identity) = match &args.restore_role {
        Some(arn) if arn.starts_with("arn:") => (
            caller.assume_role(arn).await?,
            format!("as {arn}"),
        ),
        Some(name) => {
            return Err(Error::Invalid(format!(
                "--restore-role {name}: with --undo give the role's full ARN (the report does not say which account it is in)"
            )))
        }
        None => (caller, "as the global credentials".to_owned()),
    };
    // One client per bucket, in the bucket's region.
    let mut clients: BTreeMap<String, aws_sdk_s3::Client> = BTreeMap::new();
    for key in &keys {
        if !clients.contains_key(&key.target_bucket) {
            let in_region = crate::region::for_bucket(&aws, &key.target_bucket).await;
            clients.insert(key.target_bucket.clone(), in_region.s3());
        }
    }
    let clients = &clients;
    let mut results = futures::stream::iter(keys.iter())
        .map(|key| async move {
            match clients.get(&key.target_bucket) {
                Some(s3) => undo_key(s3, key, None).await,
                None => UndoReport {
                    bucket: key.target_bucket.clone(),
                    key: key.target_key.clone(),
                    outcome: UndoOutcome::Failed,
                    restored_version_id: None,
                    new_version_id: None,
                    reason: Some("no client for its bucket".into()),
                },
            }
        })
        .buffered(UNDO_CONCURRENCY);
    let (mut undone, mut skipped, mut failed) = (0u64, 0u64, 0u64);
    let json = ctx.out.format() == OutputFormat::Json;
    while let Some(r) = results.next().await {
        match r.outcome {
            UndoOutcome::Undone => undone += 1,
            UndoOutcome::Skipped => skipped += 1,
            UndoOutcome::Failed => failed += 1,
        }
        if json {
            ctx.out
                .json(&serde_json::json!({"record": "undo", "undo": r}))?;
        } else if r.outcome != UndoOutcome::Undone && !ctx.global.quiet {
            let what = if r.outcome == UndoOutcome::Failed {
                "FAILED "
            } else {
                "skipped"
            };
            ctx.out.text(&format!(
                "{what}  s3://{}/{}: {}",
                r.bucket,
                crate::output::printable(&r.key),
                r.reason.as_deref().unwrap_or_default()
            ))?;
        }
    }
    let shown = report.display().to_string();
    if json {
        ctx.out.json(&Summary {
            record: "summary",
            report: &shown,
            copied_keys: keys.len(),
            undone,
            skipped,
            failed,
            identity,
        })?;
    } else if !ctx.global.quiet {
        ctx.out.text(&format!(
            "undo of {shown} ({} copied key(s)) {identity}: undone {undone}, skipped {skipped}, failed {failed}",
            keys.len()
        ))?;
    }
    Ok(u8::from(failed > 0))
}
