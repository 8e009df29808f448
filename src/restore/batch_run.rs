//! The batch engine end to end: plan as the local engine does, write the manifest, create the
//! S3 Batch Operations job (or follow this request's job), read its completion report key by key,
//! and copy on this machine what a job cannot (above 5 GiB, archived).

use std::path::PathBuf;

use futures::StreamExt;

use crate::cli::RestoreArgs;
use crate::error::{Error, Result};
use crate::progress::RestoreProgress;
use crate::restore::batch::{self, JobSpec, ManifestWriter, RequestId};
use crate::restore::plan::Outcome as KeyOutcome;
use crate::restore::prepare::Prepared;
use crate::restore::{self, Events, KeyReport, Summary};
use crate::time::format_time;

/// A batch restore's result: its totals, and in a dry run the job it would create.
#[derive(Debug)]
pub struct Outcome {
    /// The totals, as the local engine gives them.
    pub summary: Summary,
    /// `--dry-run`: the job that would be created (nothing was uploaded or created).
    pub plan: Option<JobPlan>,
}

/// The job a dry run would create, and its manifest, written locally.
#[derive(Debug)]
pub struct JobPlan {
    /// The manifest written on this machine.
    pub manifest: PathBuf,
    /// Objects in the manifest.
    pub objects: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Versions a job cannot copy (above 5 GiB, archived), left to this machine.
    pub local: u64,
    /// The job.
    pub spec: JobSpec,
}

/// `--engine batch`: plans as the local engine does, copies with an S3 Batch Operations job,
/// reports per key from its completion report, then copies locally what a job cannot.
pub async fn run(
    prepared: Prepared,
    args: &RestoreArgs,
    events: &mut impl Events,
) -> Result<Outcome> {
    let identity = prepared.describe();
    let Prepared {
        at,
        writer,
        request,
        copier,
        ..
    } = prepared;
    let writer = &writer;
    let started = std::time::Instant::now();
    let source_prefix = request.key_map.source_prefix.clone();
    let target_prefix = request.key_map.target_prefix.clone();
    let key_prefix =
        batch::target_key_prefix(&source_prefix, &target_prefix).map_err(Error::Refused)?;
    let central = copier.source_bucket.clone();
    let target = copier.target_bucket.clone();
    let at_text = format_time(at);
    let request_id = RequestId {
        central: &central,
        source_prefix: &source_prefix,
        at: &at_text,
        respect_deletes: args.respect_deletes,
        filters: (&args.include, &args.exclude),
        target: &target,
        target_prefix: &target_prefix,
        kms_key: &copier.kms_key_arn,
    }
    .digest();
    let account = writer.account_id().await?;
    let (manifest_bucket, base) = match &args.manifest_location {
        Some(url) => crate::restore::prepare::manifest_location(url, &central)?,
        None => (target.clone(), format!("{target_prefix}.s3central/batch/")),
    };
    let role_arn = if args.batch_role.starts_with("arn:") {
        args.batch_role.clone()
    } else {
        format!("arn:aws:iam::{account}:role/{}", args.batch_role)
    };
    let mut summary = Summary::default();
    let previous = batch::find_jobs(writer, &account, &request_id).await?;
    // A new job, if one is made, is this request's next attempt.
    let attempt = previous.len();
    let description = batch::description(&request_id, attempt);
    let job = match previous.last() {
        // A re-run of the same request finds its job: still running, or done with every task.
        Some(job) if !args.dry_run && batch::follow_again(job) => {
            tracing::info!(job = %job.id, status = %job.status, "found this request's batch job");
            Some(job.id.clone())
        }
        Some(job) if !args.dry_run => {
            events.notice(&format!(
                "s3central: this request's batch job {} ended {} with {} failed task(s): planning again as attempt {attempt} (keys already in place are left out)",
                job.id, job.status, job.failed
            ));
            None
        }
        _ => None,
    };
    let mut local = 0u64;
    let job_id = match job {
        Some(id) => id,
        None => {
            let path = match (&args.manifest_out, args.dry_run) {
                (Some(path), _) => path.clone(),
                (None, true) => PathBuf::from(format!("s3central-manifest-{request_id}.csv")),
                (None, false) => {
                    std::env::temp_dir().join(format!("s3central-manifest-{request_id}.csv"))
                }
            };
            let mut manifest = ManifestWriter::create(&path)?;
            let mut plan = request.clone();
            plan.dry_run = true;
            let planned = restore::run(
                plan,
                copier.clone(),
                RestoreProgress::new(false, true),
                || 0,
                futures::future::pending::<()>(),
                |key: &KeyReport| {
                    match key.outcome {
                        KeyOutcome::WouldCopy
                            if key.bytes <= batch::MAX_COPY_BYTES && key.archive.is_none() =>
                        {
                            manifest.add(
                                &central,
                                &format!("{source_prefix}{}", key.key),
                                &key.version_id,
                                key.bytes,
                            )?;
                        }
                        KeyOutcome::WouldCopy => local += 1,
                        _ => events.key(key)?,
                    }
                    Ok(())
                },
            )
            .await?;
            summary.listed = planned.listed;
            summary.unchanged = planned.unchanged;
            summary.extra = planned.extra;
            let (objects, bytes) = (manifest.lines, manifest.bytes);
            let (path, digest) = manifest.finish()?;
            let token = hex::encode(
                &<sha2::Sha256 as sha2::Digest>::digest(
                    format!("{request_id}{digest}{attempt}").as_bytes(),
                )[..16],
            );
            let spec = JobSpec {
                account: account.clone(),
                target_bucket: target.clone(),
                target_key_prefix: key_prefix.clone(),
                kms_key: copier.kms_key_arn.clone(),
                role_arn: role_arn.clone(),
                manifest_bucket: manifest_bucket.clone(),
                manifest_key: format!("{base}{request_id}/manifest-{digest}.csv"),
                report_prefix: format!("{base}{request_id}/report"),
                token,
                description: description.clone(),
            };
            if args.dry_run {
                summary.would_copy = objects + local;
                summary.bytes = bytes;
                summary.identity = identity;
                summary.seconds = started.elapsed().as_secs_f64();
                return Ok(Outcome {
                    summary,
                    plan: Some(JobPlan {
                        manifest: path,
                        objects,
                        bytes,
                        local,
                        spec,
                    }),
                });
            }
            summary.bytes = bytes;
            if objects == 0 {
                String::new()
            } else {
                events.notice(&format!(
                    "s3central: manifest of {objects} object(s) -> s3://{manifest_bucket}/{} (the target account's bucket; keep it or delete it after the job)",
                    spec.manifest_key
                ));
                let id = batch::create_job(writer, &spec, &path).await?;
                let _ = std::fs::remove_file(&path);
                id
            }
        }
    };
    if !job_id.is_empty() {
        let state = batch::wait(writer, &account, &job_id, |s| events.job(&job_id, s)).await?;
        if state.status != "Complete" {
            return Err(Error::Invalid(format!(
                "batch job {job_id} ended {}: {} of {} task(s) succeeded; see its completion report under s3://{manifest_bucket}/{base}{request_id}/report/",
                state.status, state.succeeded, state.total
            )));
        }
        let report_prefix = format!("{base}{request_id}/report");
        let reports = batch::read_report(
            writer,
            &manifest_bucket,
            &report_prefix,
            &job_id,
            &source_prefix,
            &key_prefix,
        )
        .await?;
        // --verify: the job's report names no written version, so each key's current version
        // is compared; a write by someone else since then shows as a mismatch, never as proof.
        let verify = request.verify;
        let copier = &copier;
        let mut checked = futures::stream::iter(reports)
            .map(|key| {
                let source_prefix = &source_prefix;
                async move {
                    match verify {
                        Some(mode) if key.outcome == KeyOutcome::Copied => {
                            verify_copied(copier, key, source_prefix, mode).await
                        }
                        _ => key,
                    }
                }
            })
            .buffered(request.concurrency.max(1));
        while let Some(key) = checked.next().await {
            match key.outcome {
                KeyOutcome::Copied => summary.copied += 1,
                _ => summary.failed += 1,
            }
            summary.count_verification(&key);
            events.key(&key)?;
        }
        summary.identity = format!("S3 Batch Operations job {job_id} as {role_arn}");
    } else {
        summary.identity = identity;
    }
    // What a job cannot copy (above 5 GiB, archived) is copied here, with the local engine's delta.
    let mut rest = request;
    rest.batch_ineligible_only = true;
    if local > 0 || !job_id.is_empty() {
        let done = restore::run(
            rest,
            copier,
            RestoreProgress::new(false, false),
            || 0,
            futures::future::pending::<()>(),
            |key: &KeyReport| {
                if key.outcome != KeyOutcome::Extra {
                    events.key(key)?;
                }
                Ok(())
            },
        )
        .await?;
        summary.copied += done.copied;
        summary.failed += done.failed;
        summary.bytes += done.bytes;
    }
    summary.seconds = started.elapsed().as_secs_f64();
    summary.objects_per_second = summary.copied as f64 / summary.seconds.max(1e-9);
    Ok(Outcome {
        summary,
        plan: None,
    })
}

/// `--verify` of one key a batch job copied: its current version in the target against the
/// central version the manifest named.
async fn verify_copied(
    copier: &crate::restore::copy::Copier,
    mut key: KeyReport,
    source_prefix: &str,
    mode: restore::verify::VerifyMode,
) -> KeyReport {
    let source = crate::version::ObjectVersion {
        key: format!("{source_prefix}{}", key.key),
        version_id: key.version_id.clone(),
        last_modified: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
        size: key.bytes,
        etag: None,
        storage_class: None,
        is_latest: false,
        is_delete_marker: false,
    };
    let verdict = restore::verify::verify(copier, &source, &key.target_key, None, mode).await;
    restore::verify::record(&mut key, verdict, copier);
    key
}
