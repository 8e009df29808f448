//! `s3central restore`: the prepared restore (see `restore::prepare`) run with progress, report and summary.

use std::fs::File;
use std::io::{BufWriter, Write};

use crate::cli::{EngineArg, OutputFormat, RestoreArgs};
use crate::commands::restore_report::{self, DryRunList, KeyLine, RunFacts};
use crate::commands::Context;
use crate::error::{Error, Result};
use crate::progress::RestoreProgress;
use crate::restore::copy::CopyMode;
use crate::restore::prepare::{nothing_found, prepare, Prepared};
use crate::restore::{self, KeyReport};
use crate::time::format_time;
use indicatif::HumanBytes;
use serde::Serialize;

/// Runs `restore`: the library checks everything it can before the first write
/// ([`prepare`]); this prints the progress, the dry-run list, the report and the summary.
pub async fn run(ctx: &mut Context, args: RestoreArgs) -> Result<u8> {
    let central = ctx.central_bucket()?;
    let quiet = ctx.global.quiet;
    let prepared = prepare(&ctx.aws, central.clone(), &args, |inventory, prefix| {
        if !quiet {
            eprintln!("{}", inventory.describe(&central, prefix));
        }
    })
    .await?;
    let report = match &args.report {
        Some(path) => Some(BufWriter::new(
            crate::localfile::create(path, crate::localfile::Write::Truncate).map_err(
                |source| Error::Io {
                    what: format!("creating report file {}", path.display()),
                    source,
                },
            )?,
        )),
        None => None,
    };
    if args.engine == EngineArg::Batch {
        return run_batch(ctx, &args, prepared, report).await;
    }
    let mut report = report;
    let requests = prepared.requests();
    let describe = prepared.describe();
    let Prepared {
        central,
        target_bucket,
        at,
        caller,
        request,
        copier,
        scan,
        inventory,
        ..
    } = prepared;
    let mode = copier.mode;
    let kms_key_arn = copier.kms_key_arn.clone();
    tracing::info!(%central, %target_bucket, at = %format_time(at), ?mode, kms = %kms_key_arn, "restore starting");
    // --- progress, dry-run list, summary (see restore_report.rs) ---
    let json_keys = args.dry_run && ctx.out.format() == OutputFormat::Json;
    // JSON key lines stream to stdout during the run: a bar beside them only on a terminal.
    let progress = RestoreProgress::new(
        if json_keys {
            ctx.progress_beside_data()
        } else {
            ctx.progress
        },
        args.dry_run,
    );
    let mut dry_list = DryRunList::default();
    let table_dry_run = args.dry_run && !json_keys;
    let out = &mut ctx.out;
    let stop = async {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::warn!("interrupted: finishing the copies in flight");
        } else {
            futures::future::pending::<()>().await;
        }
    };
    let stopped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = {
        let stopped = stopped.clone();
        async move {
            stop.await;
            stopped.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    };
    let journal_path = copier.journal.as_ref().map(|j| j.path().to_owned());
    let result = restore::run(
        request,
        copier,
        progress.clone(),
        requests,
        stop,
        |key: &KeyReport| {
            if let Some(file) = report.as_mut() {
                serde_json::to_writer(&mut *file, key)
                    .map_err(std::io::Error::from)
                    .and_then(|_| file.write_all(b"\n"))
                    .map_err(|source| Error::Io {
                        what: "writing the report".into(),
                        source,
                    })?;
            }
            if json_keys {
                out.json(&KeyLine { record: "key", key })?;
            }
            if table_dry_run {
                dry_list.add(key);
            }
            Ok(())
        },
    )
    .await;
    progress.finish();
    if let Some(mut file) = report {
        file.flush().map_err(|source| Error::Io {
            what: "writing the report".into(),
            source,
        })?;
    }
    let mut summary = result?;
    summary.interrupted = stopped.load(std::sync::atomic::Ordering::Relaxed);
    summary.identity = describe;
    summary.archived = scan.total();
    summary.archive_requested = scan.requested;
    summary.archive_in_progress = scan.in_progress;
    if summary.listed == 0 && !summary.interrupted {
        // Nothing at all under the prefix: most likely a mistyped account (or PATH) in a script.
        return Err(nothing_found(&caller, &central, inventory.as_deref(), &args).await);
    }
    let facts = RunFacts {
        central: &central,
        target: &target_bucket,
        at,
        kms_key: &kms_key_arn,
        mode,
        journal: journal_path.as_deref(),
    };
    restore_report::print_summary(ctx, &summary, &args, &facts, &dry_list)?;
    Ok(if summary.interrupted {
        130
    } else if summary.failed > 0 {
        1
    } else {
        0
    })
}

/// Appends one key's line to the --report file.
fn write_report_line(report: &mut Option<BufWriter<File>>, key: &KeyReport) -> Result<()> {
    if let Some(file) = report.as_mut() {
        serde_json::to_writer(&mut *file, key)
            .map_err(std::io::Error::from)
            .and_then(|_| file.write_all(b"\n"))
            .map_err(|source| Error::Io {
                what: "writing the report".into(),
                source,
            })?;
    }
    Ok(())
}

/// What the batch job of a dry run would be, as printed.
#[derive(Serialize)]
struct JobLine<'a> {
    record: &'static str,
    manifest: String,
    objects: u64,
    bytes: u64,
    local: u64,
    #[serde(flatten)]
    spec: &'a crate::restore::batch::JobSpec,
}

/// What the command shows of a batch restore: report lines, notices on stderr, a job bar.
struct BatchEvents {
    report: Option<BufWriter<File>>,
    bar: Option<indicatif::ProgressBar>,
    progress: bool,
}

impl restore::Events for BatchEvents {
    fn key(&mut self, key: &KeyReport) -> Result<()> {
        write_report_line(&mut self.report, key)
    }

    fn notice(&mut self, text: &str) {
        eprintln!("{text}");
    }

    fn job(&mut self, job_id: &str, s: &crate::restore::batch::JobState) {
        let bar = self.bar.get_or_insert_with(|| {
            crate::progress::counter(self.progress, 0, "tasks of the batch job")
        });
        bar.set_length(s.total.max(0) as u64);
        bar.set_position((s.succeeded + s.failed).max(0) as u64);
        bar.set_message(format!(
            "batch job {job_id} {}: {} failed",
            s.status, s.failed
        ));
    }
}

/// `--engine batch` (see `restore::batch_run`): prints the job a dry run would create, or the
/// summary of the job and of what this machine copied.
async fn run_batch(
    ctx: &mut Context,
    args: &RestoreArgs,
    prepared: Prepared,
    report: Option<BufWriter<File>>,
) -> Result<u8> {
    let (central, target, at) = (
        prepared.central.clone(),
        prepared.target_bucket.clone(),
        prepared.at,
    );
    let (kms_key, mode) = (prepared.copier.kms_key_arn.clone(), prepared.copier.mode);
    let source_prefix = prepared.request.key_map.source_prefix.clone();
    let mut events = BatchEvents {
        report,
        bar: None,
        progress: ctx.progress,
    };
    let outcome = crate::restore::batch_run::run(prepared, args, &mut events).await;
    if let Some(bar) = events.bar.take() {
        bar.finish_and_clear();
    }
    if let Some(mut file) = events.report.take() {
        file.flush().map_err(|source| Error::Io {
            what: "writing the report".into(),
            source,
        })?;
    }
    let outcome = outcome?;
    if let Some(plan) = &outcome.plan {
        let spec = &plan.spec;
        if ctx.out.format() == OutputFormat::Json {
            ctx.out.json(&JobLine {
                record: "job",
                manifest: plan.manifest.display().to_string(),
                objects: plan.objects,
                bytes: plan.bytes,
                local: plan.local,
                spec,
            })?;
        } else {
            ctx.out.text(&format!(
                "batch job it would create in account {}: S3PutObjectCopy of {} object(s) ({}) from s3://{central}/{source_prefix} into s3://{target}/{}, SSE-KMS {} (bucket key), metadata and tags copied, as {}",
                spec.account,
                plan.objects,
                HumanBytes(plan.bytes),
                spec.target_key_prefix,
                spec.kms_key,
                spec.role_arn
            ))?;
            ctx.out.text(&format!(
                "  manifest written to {} (it would be uploaded to s3://{}/{}); report to s3://{}/{}/",
                plan.manifest.display(),
                spec.manifest_bucket,
                spec.manifest_key,
                spec.manifest_bucket,
                spec.report_prefix
            ))?;
            if plan.local > 0 {
                ctx.out.text(&format!(
                    "  {} version(s) above 5 GiB or archived would be copied by this machine",
                    plan.local
                ))?;
            }
        }
    }
    let facts = RunFacts {
        central: &central,
        target: &target,
        at,
        kms_key: &kms_key,
        mode: if outcome.plan.is_some() {
            mode
        } else {
            CopyMode::Server
        },
        journal: None,
    };
    restore_report::print_summary(ctx, &outcome.summary, args, &facts, &DryRunList::default())?;
    Ok(u8::from(outcome.summary.failed > 0))
}
