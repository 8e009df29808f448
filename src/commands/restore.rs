//! `s3central restore`: validate everything, then run the engine with progress, report and summary.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;

use aws_sdk_s3::types::BucketVersioningStatus;
use chrono::Utc;

use crate::aws::Aws;
use crate::cli::{CopyModeArg, EngineArg, OutputFormat, ProvenanceArg, RestoreArgs};
use crate::commands::restore_report::{self, DryRunList, KeyLine, RunFacts};
use crate::commands::Context;
use crate::error::{Error, Result};
use crate::filter::KeyFilter;
use crate::kms;
use crate::pit::DeleteMode;
use crate::progress::RestoreProgress;
use crate::restore::copy::{Copier, CopyMode, Provenance};
use crate::restore::journal::{self, Journal};
use crate::restore::plan::{self, KeyMap};
use crate::restore::{self, KeyReport, RestoreRequest, Summary};
use crate::time::{format_time, parse_time};
use indicatif::HumanBytes;
use serde::Serialize;

/// CopyObject copies at most this much in one request; larger objects need UploadPartCopy.
const MAX_SINGLE_COPY: u64 = 5 << 30;

/// Default multipart threshold of streamed copies: bounds memory to concurrency x this.
const STREAM_THRESHOLD: u64 = 16 << 20;

/// Runs `restore`: every check that can fail happens before the first write.
pub async fn run(ctx: &mut Context, args: RestoreArgs) -> Result<u8> {
    let central = ctx.central_bucket()?;
    let at = parse_time(&args.at, Utc::now())?;
    let filter = KeyFilter::new(&args.include, &args.exclude)?;
    let to_prefix = args
        .to_prefix
        .as_deref()
        .map(plan::folder_prefix)
        .transpose()
        .map_err(Error::Invalid)?;
    let caller = Aws::load(&ctx.aws).await?;
    if args.inventory.is_none() {
        // A mistyped account is said before anything else, the config's view of it included.
        let in_region = crate::region::for_bucket(&caller, &central).await;
        match crate::central::require_account(&in_region.s3(), &central, &args.account).await {
            Ok(()) => {}
            Err(e @ (Error::Refused(_) | Error::Unreachable { .. } | Error::NoCredentials)) => {
                return Err(e)
            }
            // The caller may not read central (the restore role may): the restore says so later.
            Err(e) => tracing::debug!(error = %e, "cannot check that central holds the account"),
        }
    }
    let target_bucket = match args.to_bucket.as_deref().filter(|b| !b.trim().is_empty()) {
        Some(bucket) => plan::bucket_argument(bucket).map_err(Error::Invalid)?,
        None => bucket_from_config(&args.config, &args.account)?,
    };
    if target_bucket == central {
        return Err(Error::Refused(format!(
            "refusing to restore into the central bucket {central:?}: pass --to-bucket with the account's own bucket"
        )));
    }
    // An access point ARN or alias (or any other name S3 resolves to a bucket) could name central
    // under another spelling: only a plain bucket name is a target.
    crate::config::check_bucket_name(&target_bucket).map_err(|why| {
        Error::Invalid(format!(
            "--to-bucket {target_bucket:?} is not a bucket name ({why}): give the target bucket's own name; access point ARNs and aliases are refused, since one could name the central bucket"
        ))
    })?;
    if let Some(t) = args.multipart_threshold {
        if t.as_u64() > MAX_SINGLE_COPY {
            return Err(Error::Invalid(format!(
                "--multipart-threshold {t} is above 5 GiB, the most one CopyObject can copy: use 5GiB or less"
            )));
        }
    }
    if args.part_size.as_u64() == 0 {
        return Err(Error::Invalid(
            "--part-size 0: a part must hold at least one byte; use a size such as 16MiB".into(),
        ));
    }
    let restore_role = restore_role_arn(&args)?;
    let (reader, writer, identity) = match (
        &args.target_profile,
        &args.target_role_arn,
        &restore_role,
    ) {
        (Some(profile), _, _) => (
            caller.clone(),
            caller.with_profile(&ctx.aws, profile).await?,
            Identity::Two,
        ),
        (None, Some(role), _) => (
            caller.clone(),
            caller.assume_role(role).await?,
            Identity::Two,
        ),
        (None, None, Some(role)) => {
            let assumed = caller.assume_role(role).await?;
            // The restore role reads central only where setup granted it; probe before relying on it.
            let in_central_region = crate::region::for_bucket(&assumed, &central).await;
            match probe_central(&in_central_region, &central, &args.account.prefix()).await {
                Ok(()) => (
                    assumed.clone(),
                    assumed,
                    Identity::RestoreRole(role.clone()),
                ),
                Err(e) if e.is_access_denied() => {
                    reader_when_role_cannot_read(role, &central, args.allow_caller_read)?;
                    tracing::warn!(%role, "the restore role cannot read central; reading with the global credentials (--allow-caller-read) and streaming");
                    (
                        caller.clone(),
                        assumed,
                        Identity::RestoreRoleStreamed(role.clone()),
                    )
                }
                Err(e) => return Err(e),
            }
        }
        (None, None, None) => (caller.clone(), caller.clone(), Identity::One),
    };
    let same_identity = matches!(identity, Identity::One | Identity::RestoreRole(_));
    // Each bucket is served from its own region, and KMS keys are regional: clients per region.
    // A restore role may list central only under its own prefix (probed above), so it gets no
    // HeadBucket check there; every other identity is checked with HeadBucket on both buckets.
    let reader_checked_by_probe = matches!(identity, Identity::RestoreRole(_));
    let reader = reader.in_region(
        &bucket_region(
            &reader,
            &central,
            "--central-bucket / S3CENTRAL_BUCKET",
            !reader_checked_by_probe,
        )
        .await?,
    );
    // The target's checks, made as the writing identity: a refusal or a missing bucket or key
    // names that identity and the options that choose another.
    let checked = async {
        let writer =
            writer.in_region(&bucket_region(&writer, &target_bucket, "--to-bucket", true).await?);
        let writer_s3 = writer.s3();
        let target_owner = expected_target_owner(&args, &writer).await?;
        check_target_owner(&writer_s3, &target_bucket, &target_owner).await?;
        let versioned =
            check_versioning(&writer_s3, &target_bucket, args.allow_unversioned).await?;
        let kms_key_arn = match &args.kms_key {
            Some(key) => kms::resolve_key(&writer.kms(), key).await?,
            None => match kms::bucket_default_key(&writer_s3, &target_bucket).await? {
                Some(key) => kms::resolve_key(&writer.kms(), &key).await?,
                None => {
                    return Err(Error::Refused(format!(
                        "target bucket {target_bucket:?} has no default SSE-KMS key: pass --kms-key with the key to encrypt restored objects with"
                    )))
                }
            },
        };
        Ok((writer, target_owner, versioned, kms_key_arn))
    }
    .await;
    let (writer, target_owner, versioned, kms_key_arn) = match checked {
        Ok(checked) => checked,
        Err(e) => return Err(name_the_writer(e, &identity, &args, &writer).await),
    };
    let reader_s3 = reader.s3();
    let writer_s3 = writer.s3();
    // Every check on the target is done; an inventory is read (and refused, if it must be) before
    // anything is written, with the caller's credentials (see read_inventory).
    let inventory = match &args.inventory {
        Some(url) => Some(std::sync::Arc::new(
            read_inventory(
                ctx,
                &caller,
                url,
                &central,
                format!(
                    "{}{}",
                    args.account.prefix(),
                    args.path.as_deref().unwrap_or("")
                ),
                at,
                args.inventory_memory.as_u64(),
            )
            .await?,
        )),
        None => None,
    };
    let mode = match args.copy_mode {
        CopyModeArg::Server => CopyMode::Server,
        CopyModeArg::Stream => CopyMode::Stream,
        CopyModeArg::Auto if same_identity => CopyMode::Server,
        CopyModeArg::Auto => CopyMode::Stream,
    };
    let multipart_threshold = args
        .multipart_threshold
        .map(|t| t.as_u64())
        .unwrap_or(match mode {
            CopyMode::Server => MAX_SINGLE_COPY,
            CopyMode::Stream => STREAM_THRESHOLD,
        });
    let mut report = match &args.report {
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
    let source_prefix = args.account.prefix();
    let mut request = RestoreRequest {
        at,
        delete_mode: if args.respect_deletes {
            DeleteMode::Respect
        } else {
            DeleteMode::Ignore
        },
        key_map: KeyMap {
            target_prefix: to_prefix.unwrap_or_else(|| source_prefix.clone()),
            source_prefix,
        },
        filter,
        concurrency: args.concurrency as usize,
        dry_run: args.dry_run,
        page_size: args.page_size,
        archive: None,
        archived: 0,
        batch_ineligible_only: false,
        path: args.path.clone().unwrap_or_default(),
        list_concurrency: args.list_concurrency as usize,
        inventory: inventory.clone(),
    };
    let (provenance, journal) = provenance_and_journal(&args, &target_bucket, versioned)?;
    let copier = Copier {
        reader: reader_s3,
        writer: writer_s3,
        source_bucket: central.clone(),
        target_bucket: target_bucket.clone(),
        kms_key_arn: kms_key_arn.clone(),
        mode,
        multipart_threshold,
        part_size: args.part_size.as_u64(),
        provenance,
        journal,
        target_owner: Some(target_owner),
    };
    if args.engine == EngineArg::Batch {
        crate::restore::batch::target_key_prefix(
            &request.key_map.source_prefix,
            &request.key_map.target_prefix,
        )
        .map_err(Error::Refused)?;
        let manifest = args
            .manifest_location
            .as_deref()
            .map(|url| manifest_location(url, &central))
            .transpose()?;
        let manifest_bucket = manifest.as_ref().map(|(bucket, _)| bucket.as_str());
        if args.batch_role == crate::setup::policy::BATCH_RESTORE_ROLE {
            let account_bucket = account_bucket_in_config(&args.config, &args.account);
            let account_key = match &args.kms_key {
                Some(_) => match kms::bucket_default_key(&copier.writer, &target_bucket).await? {
                    Some(key) => Some(kms::resolve_key(&writer.kms(), &key).await?),
                    None => None,
                },
                None => None,
            };
            crate::restore::batch::within_role_reach(&crate::restore::batch::RoleReach {
                account_bucket: account_bucket.as_deref(),
                target: &target_bucket,
                manifest_bucket,
                kms_key: &kms_key_arn,
                account_key: account_key.as_deref(),
            })
            .map_err(Error::Refused)?;
        }
    }
    let scan = archive_check(&copier, &mut request, &args).await?;
    if args.engine == EngineArg::Batch {
        let identity = identity.describe(mode);
        return run_batch(ctx, &args, request, copier, &writer, at, report, identity).await;
    }
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
    let requests = {
        let reader = reader.clone();
        let writer = writer.clone();
        move || {
            if same_identity {
                reader.s3_requests()
            } else {
                reader.s3_requests() + writer.s3_requests()
            }
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
    summary.identity = identity.describe(mode);
    summary.archived = scan.total();
    summary.archive_requested = scan.requested;
    summary.archive_in_progress = scan.in_progress;
    if let (Some(inventory), 0, false) = (&inventory, summary.listed, summary.interrupted) {
        return Err(nothing_in_inventory(inventory, &central, &args));
    }
    if summary.listed == 0 && !summary.interrupted {
        // Nothing at all under the prefix: most likely a mistyped account (or PATH) in a script.
        return Err(restore_report::nothing_listed(
            &caller,
            &central,
            &args.account,
            args.path.as_deref().unwrap_or(""),
        )
        .await);
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

/// Reads `--inventory` with the caller's credentials, not the restore role's: the inventory lists
/// every account's keys, and a restore role may read only its own account's prefix. One line on
/// stderr says what was read.
pub async fn read_inventory(
    ctx: &Context,
    caller: &Aws,
    url: &str,
    central: &str,
    prefix: String,
    at: chrono::DateTime<Utc>,
    memory: u64,
) -> Result<crate::inventory_source::Inventory> {
    let options = crate::inventory_source::LoadOptions {
        url: url.to_owned(),
        central: central.to_owned(),
        prefix,
        at,
        memory,
    };
    let inventory = crate::inventory_source::load(caller, &options).await?;
    if !ctx.global.quiet {
        let stats = inventory.stats();
        eprintln!(
            "s3central: versions from the inventory taken at {} ({} file(s), {} row(s), {} under s3://{central}/{}; sorted in {} run(s) spilled, {} on disk)",
            format_time(inventory.taken),
            inventory.files,
            inventory.rows,
            stats.entries,
            options.prefix,
            stats.runs,
            HumanBytes(stats.spilled_bytes)
        );
    }
    Ok(inventory)
}

/// The refusal of an inventory that holds nothing under the account (or PATH).
fn nothing_in_inventory(
    inventory: &crate::inventory_source::Inventory,
    central: &str,
    args: &RestoreArgs,
) -> Error {
    Error::Refused(format!(
        "the inventory taken at {} holds nothing under s3://{central}/{}{}: is the account id (or PATH) right, and does the inventory's prefix filter cover it?",
        format_time(inventory.taken),
        args.account.prefix(),
        args.path.as_deref().unwrap_or("")
    ))
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

/// `--engine batch`: plan as the local engine does, copy with an S3 Batch Operations job,
/// report per key from its completion report, then copy locally what a job cannot.
#[allow(clippy::too_many_arguments)]
async fn run_batch(
    ctx: &mut Context,
    args: &RestoreArgs,
    request: RestoreRequest,
    copier: Copier,
    writer: &Aws,
    at: chrono::DateTime<Utc>,
    mut report: Option<BufWriter<File>>,
    identity: String,
) -> Result<u8> {
    use crate::restore::batch::{self, JobSpec, ManifestWriter, RequestId};
    use crate::restore::plan::Outcome;
    let started = std::time::Instant::now();
    let source_prefix = request.key_map.source_prefix.clone();
    let target_prefix = request.key_map.target_prefix.clone();
    let key_prefix =
        batch::target_key_prefix(&source_prefix, &target_prefix).map_err(Error::Refused)?;
    let central = copier.source_bucket.clone();
    let target = copier.target_bucket.clone();
    let kms_key = copier.kms_key_arn.clone();
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
        Some(url) => manifest_location(url, &central)?,
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
            eprintln!(
                "s3central: this request's batch job {} ended {} with {} failed task(s): planning again as attempt {attempt} (keys already in place are left out)",
                job.id, job.status, job.failed
            );
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
                        Outcome::WouldCopy
                            if key.bytes <= batch::MAX_COPY_BYTES && key.archive.is_none() =>
                        {
                            manifest.add(
                                &central,
                                &format!("{source_prefix}{}", key.key),
                                &key.version_id,
                                key.bytes,
                            )?;
                        }
                        Outcome::WouldCopy => local += 1,
                        _ => write_report_line(&mut report, key)?,
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
                let line = JobLine {
                    record: "job",
                    manifest: path.display().to_string(),
                    objects,
                    bytes,
                    local,
                    spec: &spec,
                };
                if ctx.out.format() == OutputFormat::Json {
                    ctx.out.json(&line)?;
                } else {
                    ctx.out.text(&format!(
                        "batch job it would create in account {account}: S3PutObjectCopy of {objects} object(s) ({}) from s3://{central}/{source_prefix} into s3://{target}/{key_prefix}, SSE-KMS {} (bucket key), metadata and tags copied, as {role_arn}",
                        HumanBytes(bytes),
                        spec.kms_key
                    ))?;
                    ctx.out.text(&format!(
                        "  manifest written to {} (it would be uploaded to s3://{manifest_bucket}/{}); report to s3://{manifest_bucket}/{}/",
                        path.display(),
                        spec.manifest_key,
                        spec.report_prefix
                    ))?;
                    if local > 0 {
                        ctx.out.text(&format!("  {local} version(s) above 5 GiB or archived would be copied by this machine"))?;
                    }
                }
                summary.identity = identity;
                summary.seconds = started.elapsed().as_secs_f64();
                let facts = RunFacts {
                    central: &central,
                    target: &target,
                    at,
                    kms_key: &copier.kms_key_arn,
                    mode: copier.mode,
                    journal: None,
                };
                restore_report::print_summary(ctx, &summary, args, &facts, &DryRunList::default())?;
                return Ok(0);
            }
            summary.bytes = bytes;
            if objects == 0 {
                String::new()
            } else {
                eprintln!(
                    "s3central: manifest of {objects} object(s) -> s3://{manifest_bucket}/{} (the target account's bucket; keep it or delete it after the job)",
                    spec.manifest_key
                );
                let id = batch::create_job(writer, &spec, &path).await?;
                let _ = std::fs::remove_file(&path);
                id
            }
        }
    };
    if !job_id.is_empty() {
        let bar = crate::progress::counter(ctx.progress, 0, "tasks of the batch job");
        bar.set_message(format!("batch job {job_id}"));
        let state = batch::wait(writer, &account, &job_id, |s| {
            bar.set_length(s.total.max(0) as u64);
            bar.set_position((s.succeeded + s.failed).max(0) as u64);
            bar.set_message(format!(
                "batch job {job_id} {}: {} failed",
                s.status, s.failed
            ));
        })
        .await?;
        bar.finish_and_clear();
        if state.status != "Complete" {
            return Err(Error::Invalid(format!(
                "batch job {job_id} ended {}: {} of {} task(s) succeeded; see its completion report under s3://{manifest_bucket}/{base}{request_id}/report/",
                state.status, state.succeeded, state.total
            )));
        }
        let report_prefix = format!("{base}{request_id}/report");
        for key in batch::read_report(
            writer,
            &manifest_bucket,
            &report_prefix,
            &job_id,
            &source_prefix,
            &key_prefix,
        )
        .await?
        {
            match key.outcome {
                Outcome::Copied => summary.copied += 1,
                _ => summary.failed += 1,
            }
            write_report_line(&mut report, &key)?;
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
                if key.outcome != Outcome::Extra {
                    write_report_line(&mut report, key)?;
                }
                Ok(())
            },
        )
        .await?;
        summary.copied += done.copied;
        summary.failed += done.failed;
        summary.bytes += done.bytes;
    }
    if let Some(mut file) = report {
        file.flush().map_err(|source| Error::Io {
            what: "writing the report".into(),
            source,
        })?;
    }
    summary.seconds = started.elapsed().as_secs_f64();
    summary.objects_per_second = summary.copied as f64 / summary.seconds.max(1e-9);
    let facts = RunFacts {
        central: &central,
        target: &target,
        at,
        kms_key: &kms_key,
        mode: CopyMode::Server,
        journal: None,
    };
    restore_report::print_summary(ctx, &summary, args, &facts, &DryRunList::default())?;
    Ok(u8::from(summary.failed > 0))
}

/// Before the first write: finds the archived versions (GLACIER, DEEP_ARCHIVE) the restore must
/// copy. Without --archive-restore (and not a dry run) they stop the restore with the count and
/// the tiers to choose from; with it, their restores are started (never twice) and the engine
/// waits for each.
async fn archive_check(
    copier: &Copier,
    request: &mut RestoreRequest,
    args: &RestoreArgs,
) -> Result<restore::ArchiveScan> {
    let found = restore::scan_archived(copier, request, None).await?;
    if found.total() == 0 {
        return Ok(found);
    }
    let counts = format!(
        "{} version(s) to restore are archived ({} GLACIER, {} DEEP_ARCHIVE)",
        found.total(),
        found.glacier,
        found.deep_archive
    );
    let Some(tier) = args.archive_restore else {
        if args.dry_run {
            return Ok(found);
        }
        return Err(Error::Refused(format!(
            "{counts} and cannot be read until S3 restores them, so nothing was written: run again with --archive-restore Standard (or Bulk, cheaper and slower{}) --archive-days 1; GLACIER: Expedited 1-5 min, Standard 3-5 h, Bulk 5-12 h; DEEP_ARCHIVE: Standard within 12 h, Bulk within 48 h",
            if found.deep_archive == 0 { ", or Expedited for GLACIER" } else { "" }
        )));
    };
    if tier == crate::cli::ArchiveTier::Expedited && found.deep_archive > 0 {
        return Err(Error::Refused(format!(
            "{counts}: --archive-restore Expedited is not available for DEEP_ARCHIVE; use Standard or Bulk, so nothing was written"
        )));
    }
    let options = restore::archive::ArchiveOptions {
        tier: match tier {
            crate::cli::ArchiveTier::Bulk => aws_sdk_s3::types::Tier::Bulk,
            crate::cli::ArchiveTier::Standard => aws_sdk_s3::types::Tier::Standard,
            crate::cli::ArchiveTier::Expedited => aws_sdk_s3::types::Tier::Expedited,
        },
        days: args.archive_days,
        timeout: args.archive_wait.into(),
    };
    let scan = if args.dry_run {
        found
    } else {
        restore::scan_archived(copier, request, Some(&options)).await?
    };
    tracing::info!(?scan, "archived versions");
    request.archive = Some(options);
    request.archived = scan.total();
    Ok(scan)
}

/// The account's bucket as the config names it, when the config exists and names the account.
fn account_bucket_in_config(
    path: &std::path::Path,
    account: &crate::account::AccountId,
) -> Option<String> {
    path.exists()
        .then(|| bucket_from_config(path, account).ok())
        .flatten()
}

/// The account's own bucket as the setup config names it (listed, or by the discovery template).
fn bucket_from_config(
    path: &std::path::Path,
    account: &crate::account::AccountId,
) -> Result<String> {
    if !path.exists() {
        return Err(Error::Invalid(format!(
            "no target bucket: pass --to-bucket, or --config with a setup config that lists account {account} ({} not found)",
            path.display()
        )));
    }
    let config = crate::config::load_config(path)?;
    if let Some(source) = config.sources.iter().find(|s| &s.account == account) {
        return Ok(source.bucket.clone());
    }
    match &config.discovery {
        Some(d) if !d.exclude_accounts.contains(account) => Ok(d.bucket_for(account)),
        _ => Err(Error::Invalid(format!(
            "account {account} is not in {}: pass --to-bucket with the bucket to restore into",
            path.display()
        ))),
    }
}

/// When the restore role cannot read central, the caller's own credentials read it only when
/// `--allow-caller-read` says so: they may be allowed to write anywhere (a silent switch would
/// run the restore under an identity nobody chose).
fn reader_when_role_cannot_read(role: &str, central: &str, allowed: bool) -> Result<()> {
    if allowed {
        return Ok(());
    }
    Err(Error::Refused(format!(
        "the restore role {role} cannot read s3://{central}/ (AccessDenied): run `s3central setup` so it may, or pass --allow-caller-read to read central with your own credentials (bytes then stream through this machine)"
    )))
}

/// `--manifest-location s3://BUCKET/PREFIX/` as (bucket, prefix ending in `/` or empty), checked
/// by [`check_manifest_bucket`].
fn manifest_location(url: &str, central: &str) -> Result<(String, String)> {
    let rest = url.strip_prefix("s3://").ok_or_else(|| {
        Error::Invalid(format!(
            "--manifest-location {url:?} is not an s3:// URL: use s3://BUCKET/PREFIX/"
        ))
    })?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    check_manifest_bucket(bucket, central)?;
    let prefix = if prefix.is_empty() || prefix.ends_with('/') {
        prefix.to_owned()
    } else {
        format!("{prefix}/")
    };
    Ok((bucket.to_owned(), prefix))
}

/// The batch manifest and report go to a plain bucket name, never the central bucket (restore
/// never writes to central).
fn check_manifest_bucket(bucket: &str, central: &str) -> Result<()> {
    crate::config::check_bucket_name(bucket).map_err(|why| {
        Error::Invalid(format!(
            "--manifest-location bucket {bucket:?} is not a bucket name ({why}): use s3://BUCKET/PREFIX/ with the target account's bucket"
        ))
    })?;
    if bucket == central {
        return Err(Error::Refused(format!(
            "refusing --manifest-location in the central bucket {central:?}: restore never writes to central; use the target account's bucket"
        )));
    }
    Ok(())
}

/// Who reads central and who writes the target.
#[derive(Debug, Clone)]
enum Identity {
    /// The global credentials do both.
    One,
    /// The account's restore role does both.
    RestoreRole(String),
    /// The restore role writes; the global credentials read (the role cannot read central).
    RestoreRoleStreamed(String),
    /// --target-profile / --target-role-arn writes; the global credentials read.
    Two,
}

impl Identity {
    /// One line for the summary: who did what, and how the bytes travelled.
    fn describe(&self, mode: CopyMode) -> String {
        let how = match mode {
            CopyMode::Server => "server-side copy, no bytes through this machine",
            CopyMode::Stream => "streamed through this machine",
        };
        match self {
            Identity::One => format!("the global credentials ({how})"),
            Identity::RestoreRole(role) => format!("{role} ({how})"),
            Identity::RestoreRoleStreamed(role) => format!(
                "{role} writing, the global credentials reading: the role cannot read central ({how})"
            ),
            Identity::Two => format!("the global credentials reading, the target identity writing ({how})"),
        }
    }
}

/// The restore role to assume: `--restore-role`, or setup's role when `--config` lists the account.
fn restore_role_arn(args: &RestoreArgs) -> Result<Option<String>> {
    if args.no_restore_role || args.target_profile.is_some() || args.target_role_arn.is_some() {
        return Ok(None);
    }
    let account = &args.account;
    if let Some(name) = &args.restore_role {
        return Ok(Some(if name.starts_with("arn:") {
            name.clone()
        } else {
            format!("arn:aws:iam::{account}:role/{name}")
        }));
    }
    if !args.config.exists() {
        return Ok(None);
    }
    let config = crate::config::load_config(&args.config)?;
    let listed = config.sources.iter().any(|s| &s.account == account)
        || config
            .discovery
            .as_ref()
            .is_some_and(|d| !d.exclude_accounts.contains(account));
    Ok(listed.then(|| {
        format!(
            "arn:aws:iam::{account}:role/{}",
            crate::setup::policy::RESTORE_ROLE
        )
    }))
}

/// Whether these credentials may list the account's prefix in central (one ListObjectVersions of
/// one entry: a restore role may list only its own prefix, so HeadBucket would be refused).
async fn probe_central(aws: &Aws, central: &str, prefix: &str) -> Result<()> {
    aws.s3()
        .list_object_versions()
        .bucket(central)
        .prefix(prefix)
        .max_keys(1)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            Error::from_sdk("ListObjectVersions", central.to_owned(), e)
                .with_bucket_hint(central, "--central-bucket / S3CENTRAL_BUCKET")
        })
}

/// The bucket's region (HeadBucket's x-amz-bucket-region, which S3 sends even with a redirect or
/// a refusal); with `check`, also that the bucket exists and these credentials can reach it.
async fn bucket_region(aws: &Aws, bucket: &str, hint: &'static str, check: bool) -> Result<String> {
    let region = match crate::region::lookup(aws, bucket).await {
        crate::region::Lookup::Missing => {
            return Err(Error::NoSuchBucket {
                bucket: bucket.to_owned(),
                hint,
            })
        }
        // HeadBucket itself answered: the bucket is there and reachable, nothing more to check.
        crate::region::Lookup::Reachable(region) => return Ok(region),
        crate::region::Lookup::Region(region) => region,
        crate::region::Lookup::Unknown => aws.region(),
    };
    if check {
        aws.in_region(&region)
            .s3()
            .head_bucket()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| {
                Error::from_sdk("HeadBucket", bucket.to_owned(), e).with_bucket_hint(bucket, hint)
            })?;
    }
    Ok(region)
}

/// [`Error::made_as`] for the writing identity: its ARN (the caller's own asked of STS only
/// now, on this error path) and the options that choose another writer.
async fn name_the_writer(e: Error, identity: &Identity, args: &RestoreArgs, writer: &Aws) -> Error {
    let (who, fix) = match identity {
        Identity::RestoreRole(role) | Identity::RestoreRoleStreamed(role) => (
            role.clone(),
            "--no-restore-role writes with your own credentials, --target-role-arn as another role",
        ),
        Identity::Two => (
            match (&args.target_role_arn, &args.target_profile) {
                (Some(role), _) => role.clone(),
                (None, Some(profile)) => format!("profile {profile:?}"),
                (None, None) => "the target identity".to_owned(),
            },
            "--target-role-arn or --target-profile chooses the identity that writes",
        ),
        Identity::One => (
            writer
                .caller_arn()
                .await
                .unwrap_or_else(|_| "your own credentials".to_owned()),
            "--target-role-arn or --target-profile writes as another identity",
        ),
    };
    e.made_as(&who, fix)
}

/// The account that must own the target bucket: `--expected-bucket-owner`, else the account
/// restored when its bucket comes from the config (a name its attacker may have deleted and
/// registered again elsewhere), else the writing identity's own account.
async fn expected_target_owner(args: &RestoreArgs, writer: &Aws) -> Result<String> {
    let from_config = args
        .to_bucket
        .as_deref()
        .is_none_or(|b| b.trim().is_empty());
    Ok(match (&args.expected_bucket_owner, from_config) {
        (Some(owner), _) => owner.to_string(),
        (None, true) => args.account.to_string(),
        (None, false) => writer.account_id().await?,
    })
}

/// Before any write: HeadBucket with `x-amz-expected-bucket-owner`, which S3 answers 403 when
/// another account owns the bucket (the same HeadBucket without it has already succeeded).
async fn check_target_owner(s3: &aws_sdk_s3::Client, bucket: &str, owner: &str) -> Result<()> {
    match s3
        .head_bucket()
        .bucket(bucket)
        .expected_bucket_owner(owner)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(403) => {
            Err(Error::Refused(format!(
                "target bucket {bucket:?} is not owned by account {owner}: nothing was written; if that is the right bucket, pass --expected-bucket-owner with its owner's account id"
            )))
        }
        Err(e) => Err(Error::from_sdk("HeadBucket", bucket.to_owned(), e)),
    }
}

/// Refuses a target without versioning (a restore would overwrite objects with no way back)
/// unless allowed; gives whether it is versioned.
async fn check_versioning(s3: &aws_sdk_s3::Client, bucket: &str, allow: bool) -> Result<bool> {
    let out = s3
        .get_bucket_versioning()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| Error::from_sdk("GetBucketVersioning", bucket.to_owned(), e))?;
    let versioned = out.status() == Some(&BucketVersioningStatus::Enabled);
    if versioned || allow {
        return Ok(versioned);
    }
    Err(Error::Refused(format!(
        "target bucket {bucket:?} does not have versioning enabled, so a restore could overwrite objects for good: enable versioning, or pass --allow-unversioned"
    )))
}

/// How the restore records where each copy came from, and the journal it reads and appends to.
/// An unversioned target gives no version ids to record, so it gets metadata and no journal.
fn provenance_and_journal(
    args: &RestoreArgs,
    target_bucket: &str,
    versioned: bool,
) -> Result<(Provenance, Option<Arc<Journal>>)> {
    if !versioned {
        if args.provenance == ProvenanceArg::Journal {
            tracing::info!("the target is not versioned: recording each copy's central version in its metadata instead of a journal");
        }
        return Ok((Provenance::Metadata, None));
    }
    let provenance = match args.provenance {
        ProvenanceArg::Journal => Provenance::Journal,
        ProvenanceArg::Metadata => Provenance::Metadata,
    };
    let path = match &args.journal {
        Some(path) => path.clone(),
        None => journal::default_path(target_bucket).ok_or_else(|| {
            Error::Invalid(
                "no place for the restore journal: set HOME or S3CENTRAL_STATE_DIR, or pass --journal FILE"
                    .to_owned(),
            )
        })?,
    };
    let journal = Journal::open(&path, args.dry_run)?;
    tracing::info!(path = %journal.path().display(), copies = journal.copies(), in_doubt = journal.in_doubt(), "restore journal");
    Ok((provenance, Some(Arc::new(journal))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caller_reads_central_only_when_asked() {
        let e = reader_when_role_cannot_read("arn:aws:iam::111111111111:role/r", "central", false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--allow-caller-read") && e.contains("cannot read"),
            "{e}"
        );
        assert!(reader_when_role_cannot_read("r", "central", true).is_ok());
    }

    #[test]
    fn a_manifest_never_goes_to_central_or_an_alias() {
        assert!(check_manifest_bucket("target-bucket", "central-bucket").is_ok());
        let e = check_manifest_bucket("central-bucket", "central-bucket").unwrap_err();
        assert!(e.to_string().contains("never writes to central"), "{e}");
        for bad in [
            "my-ap-abcdefgh-s3alias",
            "arn:aws:s3:us-east-1:1:accesspoint/x",
            "Central",
        ] {
            assert!(
                check_manifest_bucket(bad, "central-bucket").is_err(),
                "{bad}"
            );
        }
    }
}
