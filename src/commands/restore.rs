//! `s3central restore`: the prepared restore (see `restore::prepare`) run with progress, report and summary.

use std::fs::File;
use std::io::{BufWriter, Write};

use crate::cli::{EngineArg, OutputFormat, RestoreArgs};
use crate::commands::restore_report::{self, DryRunList, KeyLine, RunFacts};
use crate::commands::Context;
use crate::error::{Error, Result};
use crate::progress::RestoreProgress;
use crate::restore::copy::CopyMode;
use crate::restore::execute::execute;
use crate::restore::prepare::prepare;
use crate::restore::{self, KeyReport};
use indicatif::HumanBytes;
use serde::Serialize;

/// Runs `restore`: the library checks everything it can before the first write
/// ([`prepare`]) and runs the chosen engine ([`execute`]); this shows what happens: progress,
/// the per-key report, the dry-run list or job, and the summary.
pub async fn run(ctx: &mut Context, args: RestoreArgs) -> Result<u8> {
    if let Some(report) = &args.undo {
        return crate::commands::restore_undo::run(ctx, report, &args).await;
    }
    let central = ctx.central_bucket()?;
    let quiet = ctx.global.quiet;
    let mut report = None;
    let prepared = prepare(
        &ctx.aws,
        central.clone(),
        &args,
        |inventory, prefix| {
            if !quiet {
                eprintln!("{}", inventory.describe(&central, prefix));
            }
        },
        // The report file is made once every check passed, before anything is written.
        || {
            if let Some(path) = &args.report {
                let file = crate::localfile::create(path, crate::localfile::Write::Truncate)
                    .map_err(|source| Error::Io {
                        what: format!("creating report file {}", path.display()),
                        source,
                    })?;
                report = Some(BufWriter::new(file));
            }
            Ok(())
        },
    )
    .await?;
    let batch = args.engine == EngineArg::Batch;
    // What the summary says after the run, taken before the engine consumes the restore.
    let target = prepared.target_bucket.clone();
    let at = prepared.at;
    let kms_key = prepared.copier.kms_key_arn.clone();
    let mode = prepared.copier.mode;
    let journal = prepared
        .copier
        .journal
        .as_ref()
        .map(|j| j.path().to_owned());
    let source_prefix = prepared.request.key_map.source_prefix.clone();
    let json_keys = args.dry_run && !batch && ctx.out.format() == OutputFormat::Json;
    // JSON key lines stream to stdout during the run: a bar beside them only on a terminal.
    let progress = RestoreProgress::new(
        !batch
            && if json_keys {
                ctx.progress_beside_data()
            } else {
                ctx.progress
            },
        args.dry_run,
    );
    let stop = async {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::warn!("interrupted: finishing the copies in flight");
        } else {
            futures::future::pending::<()>().await;
        }
    };
    let mut shown = Shown {
        report,
        target_bucket: target.clone(),
        out: &mut ctx.out,
        json_keys,
        dry_list: (args.dry_run && !json_keys && !batch).then(DryRunList::default),
        bar: None,
        progress: ctx.progress,
    };
    let outcome = execute(prepared, &args, progress.clone(), stop, &mut shown).await;
    progress.finish();
    if let Some(bar) = shown.bar.take() {
        bar.finish_and_clear();
    }
    if let Some(mut file) = shown.report.take() {
        file.flush().map_err(|source| Error::Io {
            what: "writing the report".into(),
            source,
        })?;
    }
    let dry_list = shown.dry_list.take().unwrap_or_default();
    let outcome = outcome?;
    if let Some(plan) = &outcome.plan {
        print_job(ctx, plan, &central, &source_prefix, &target)?;
    }
    let facts = RunFacts {
        central: &central,
        target: &target,
        at,
        kms_key: &kms_key,
        // A batch job copies server-side; its dry run says what this machine's engine would do.
        mode: if batch && outcome.plan.is_none() {
            CopyMode::Server
        } else {
            mode
        },
        journal: journal.as_deref().filter(|_| !batch),
    };
    let summary = &outcome.summary;
    restore_report::print_summary(ctx, summary, &args, &facts, &dry_list)?;
    Ok(if summary.interrupted {
        130
    } else if summary.failed > 0 {
        1
    } else {
        0
    })
}

/// The restore another command stands for (`diff --live`, `drill`), parsed from `argv` as the
/// command line would be, so it gets every default and check `restore` has; errors name `what`.
pub fn parse_restore(what: &str, argv: &[&str]) -> Result<RestoreArgs> {
    match <crate::cli::Cli as clap::Parser>::try_parse_from(argv) {
        Ok(crate::cli::Cli {
            command: crate::cli::Command::Restore(restore),
            ..
        }) => Ok(restore),
        Ok(_) => Err(Error::Invalid(format!("{what}: not a restore"))),
        Err(e) => {
            let text = e.to_string();
            Err(Error::Invalid(format!(
                "{what}: {}",
                text.lines()
                    .next()
                    .unwrap_or_default()
                    .trim_start_matches("error: ")
            )))
        }
    }
}

/// What the command shows as a restore runs: report lines, JSON key lines of a dry run, the
/// dry-run list, the engine's notices on stderr, and the batch job's bar.
struct Shown<'a> {
    report: Option<BufWriter<File>>,
    /// The bucket written, on every report line (what `restore --undo` acts on).
    target_bucket: String,
    out: &'a mut crate::output::Output,
    json_keys: bool,
    dry_list: Option<DryRunList>,
    bar: Option<indicatif::ProgressBar>,
    progress: bool,
}

impl restore::Events for Shown<'_> {
    fn key(&mut self, key: &KeyReport) -> Result<()> {
        write_report_line(&mut self.report, key, &self.target_bucket)?;
        if self.json_keys {
            self.out.json(&KeyLine { record: "key", key })?;
        }
        if let Some(list) = self.dry_list.as_mut() {
            list.add(key);
        }
        Ok(())
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

/// Appends one key's line to the --report file.
fn write_report_line(
    report: &mut Option<BufWriter<File>>,
    key: &KeyReport,
    target_bucket: &str,
) -> Result<()> {
    /// A report line: the key's fate and the bucket it was written to.
    #[derive(Serialize)]
    struct ReportLine<'a> {
        #[serde(flatten)]
        key: &'a KeyReport,
        target_bucket: &'a str,
    }
    if let Some(file) = report.as_mut() {
        serde_json::to_writer(&mut *file, &ReportLine { key, target_bucket })
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

/// The job a batch dry run would create, as a table line or one JSON line.
fn print_job(
    ctx: &mut Context,
    plan: &crate::restore::batch_run::JobPlan,
    central: &str,
    source_prefix: &str,
    target: &str,
) -> Result<()> {
    let spec = &plan.spec;
    if ctx.out.format() == OutputFormat::Json {
        return ctx.out.json(&JobLine {
            record: "job",
            manifest: plan.manifest.display().to_string(),
            objects: plan.objects,
            bytes: plan.bytes,
            local: plan.local,
            spec,
        });
    }
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
    Ok(())
}
