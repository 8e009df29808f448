//! `s3central restore`: validate everything, then run the engine with progress, report and summary.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::time::Duration;

use aws_sdk_s3::types::BucketVersioningStatus;
use chrono::Utc;
use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::aws::Aws;
use crate::cli::{CopyModeArg, OutputFormat, RestoreArgs};
use crate::commands::Context;
use crate::error::{Error, Result};
use crate::filter::KeyFilter;
use crate::kms;
use crate::pit::DeleteMode;
use crate::restore::copy::{Copier, CopyMode};
use crate::restore::plan::KeyMap;
use crate::restore::{self, KeyReport, RestoreRequest, Summary};
use crate::time::{format_time, parse_time};

/// CopyObject copies at most this much in one request; larger objects need UploadPartCopy.
const MAX_SINGLE_COPY: u64 = 5 << 30;

/// Default multipart threshold of streamed copies: bounds memory to concurrency x this.
const STREAM_THRESHOLD: u64 = 16 << 20;

/// Runs `restore`: every check that can fail happens before the first write.
pub async fn run(ctx: &mut Context, args: RestoreArgs) -> Result<u8> {
    let central = ctx.central_bucket()?;
    let at = parse_time(&args.at, Utc::now())?;
    let filter = KeyFilter::new(&args.include, &args.exclude)?;
    let target_bucket = match args.to_bucket.clone().filter(|b| !b.trim().is_empty()) {
        Some(bucket) => bucket,
        None => bucket_from_config(&args.config, &args.account)?,
    };
    if target_bucket == central {
        return Err(Error::Refused(format!(
            "refusing to restore into the central bucket {central:?}: pass --to-bucket with the account's own bucket"
        )));
    }
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
    let caller = Aws::load(&ctx.aws).await?;
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
                    tracing::warn!(%role, "the restore role cannot read central; reading with the global credentials and streaming");
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
    let writer =
        writer.in_region(&bucket_region(&writer, &target_bucket, "--to-bucket", true).await?);
    let reader_s3 = reader.s3();
    let writer_s3 = writer.s3();
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
        Some(path) => Some(BufWriter::new(File::create(path).map_err(|source| {
            Error::Io {
                what: format!("creating report file {}", path.display()),
                source,
            }
        })?)),
        None => None,
    };
    let source_prefix = args.account.prefix();
    let request = RestoreRequest {
        at,
        delete_mode: if args.respect_deletes {
            DeleteMode::Respect
        } else {
            DeleteMode::Ignore
        },
        key_map: KeyMap {
            target_prefix: args
                .to_prefix
                .clone()
                .unwrap_or_else(|| source_prefix.clone()),
            source_prefix,
        },
        filter,
        concurrency: args.concurrency as usize,
        dry_run: args.dry_run,
        page_size: args.page_size,
        list_concurrency: args.list_concurrency as usize,
    };
    let copier = Copier {
        reader: reader_s3,
        writer: writer_s3,
        source_bucket: central.clone(),
        target_bucket: target_bucket.clone(),
        kms_key_arn: kms_key_arn.clone(),
        mode,
        multipart_threshold,
        part_size: args.part_size.as_u64(),
    };
    tracing::info!(%central, %target_bucket, at = %format_time(at), ?mode, kms = %kms_key_arn, "restore starting");
    let bar = progress_bar(ctx.progress);
    let json_keys = args.dry_run && ctx.out.format() == OutputFormat::Json;
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
    let result = restore::run(
        request,
        copier,
        bar.clone(),
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
                bar.suspend(|| out.json(&KeyLine { record: "key", key }))?;
            }
            Ok(())
        },
    )
    .await;
    bar.finish_and_clear();
    if let Some(mut file) = report {
        file.flush().map_err(|source| Error::Io {
            what: "writing the report".into(),
            source,
        })?;
    }
    let mut summary = result?;
    summary.interrupted = stopped.load(std::sync::atomic::Ordering::Relaxed);
    summary.identity = identity.describe(mode);
    print_summary(ctx, &summary, &args, &central, &target_bucket, at)?;
    Ok(if summary.interrupted {
        130
    } else if summary.failed > 0 {
        1
    } else {
        0
    })
}

/// A per-key JSON line of a dry run.
#[derive(Serialize)]
struct KeyLine<'a> {
    record: &'static str,
    #[serde(flatten)]
    key: &'a KeyReport,
}

/// The summary JSON line.
#[derive(Serialize)]
struct SummaryLine<'a> {
    record: &'static str,
    dry_run: bool,
    #[serde(flatten)]
    summary: &'a Summary,
}

/// Prints the closing summary: one JSON line, or a few lines for people.
fn print_summary(
    ctx: &mut Context,
    s: &Summary,
    args: &RestoreArgs,
    central: &str,
    target: &str,
    at: chrono::DateTime<Utc>,
) -> Result<()> {
    if ctx.out.format() == OutputFormat::Json {
        return ctx.out.json(&SummaryLine {
            record: "summary",
            dry_run: args.dry_run,
            summary: s,
        });
    }
    if ctx.global.quiet {
        return Ok(());
    }
    let source = format!("s3://{central}/{}", args.account.prefix());
    let nothing = s.copied + s.unchanged + s.would_copy + s.failed == 0;
    if nothing {
        let filtered = if args.include.is_empty() && args.exclude.is_empty() {
            ""
        } else {
            " matching --include/--exclude"
        };
        ctx.out.text(&format!(
            "nothing under {source}{filtered} existed at {}: nothing to restore",
            format_time(at)
        ))?;
    }
    let lines = if args.dry_run {
        vec![
            format!("dry run: {source} at {} -> s3://{target}/", format_time(at)),
            format!("  as         {}", s.identity),
            format!(
                "  to copy    {:>10}  ({})",
                s.would_copy,
                HumanBytes(s.bytes)
            ),
            format!("  unchanged  {:>10}", s.unchanged),
            format!(
                "  extra      {:>10}  (in the target, absent at TIME; left alone)",
                s.extra
            ),
            format!("  failed     {:>10}", s.failed),
        ]
    } else {
        vec![
            format!("restored {source} at {} -> s3://{target}/", format_time(at)),
            format!("  as         {}", s.identity),
            format!("  copied     {:>10}  ({})", s.copied, HumanBytes(s.bytes)),
            format!("  unchanged  {:>10}", s.unchanged),
            format!(
                "  extra      {:>10}  (in the target, absent at TIME; left alone)",
                s.extra
            ),
            format!(
                "  failed     {:>10}{}",
                s.failed,
                if s.failed > 0 {
                    "  (see --report or -v)"
                } else {
                    ""
                }
            ),
            format!(
                "  {:.1} s, {:.1} objects/s, {} S3 requests{}",
                s.seconds,
                s.objects_per_second,
                s.requests,
                if s.interrupted {
                    ", INTERRUPTED: run again to finish"
                } else {
                    ""
                }
            ),
        ]
    };
    for line in lines {
        ctx.out.text(&line)?;
    }
    Ok(())
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
    let config = crate::setup::config::load_config(path)?;
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
    let config = crate::setup::config::load_config(&args.config)?;
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

/// Refuses a target without versioning: a restore would overwrite objects with no way back.
async fn check_versioning(s3: &aws_sdk_s3::Client, bucket: &str, allow: bool) -> Result<()> {
    let out = s3
        .get_bucket_versioning()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| Error::from_sdk("GetBucketVersioning", bucket.to_owned(), e))?;
    if out.status() == Some(&BucketVersioningStatus::Enabled) || allow {
        return Ok(());
    }
    Err(Error::Refused(format!(
        "target bucket {bucket:?} does not have versioning enabled, so a restore could overwrite objects for good: enable versioning, or pass --allow-unversioned"
    )))
}

/// The restore's progress bar on stderr (hidden unless progress is wanted).
fn progress_bar(enabled: bool) -> ProgressBar {
    if !enabled {
        return ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {pos}/{len} objects ({per_sec}, eta {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
