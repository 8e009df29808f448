//! `s3central drill`: a restore of a sample into a scratch place with every copy verified, a
//! canary for the replication lag, and the report (JSON lines and Markdown) an auditor reads.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use serde::Serialize;

use crate::cli::{DrillArgs, OutputFormat};
use crate::commands::Context;
use crate::drill::{DrillResult, Sampler};
use crate::error::{Error, Result};
use crate::progress::RestoreProgress;
use crate::restore::execute::execute;
use crate::restore::prepare::prepare;
use crate::restore::{Events, KeyReport};
use crate::time::format_time;

/// Writes each key's line to the drill's JSON lines report.
struct ToReport {
    file: BufWriter<std::fs::File>,
    path: PathBuf,
}

impl Events for ToReport {
    fn key(&mut self, key: &KeyReport) -> Result<()> {
        #[derive(Serialize)]
        struct Line<'a> {
            record: &'static str,
            #[serde(flatten)]
            key: &'a KeyReport,
        }
        serde_json::to_writer(&mut self.file, &Line { record: "key", key })
            .map_err(std::io::Error::from)
            .and_then(|_| self.file.write_all(b"\n"))
            .map_err(|source| Error::Io {
                what: format!("writing {}", self.path.display()),
                source,
            })
    }
}

/// Runs the drill; exit 0 on PASS, 1 on FAIL.
pub async fn run(ctx: &mut Context, args: DrillArgs) -> Result<u8> {
    let central = ctx.central_bucket()?;
    let now = chrono::Utc::now();
    let stamp = now.format("%Y-%m-%dT%H-%M-%SZ").to_string();
    let at = args.at.clone().unwrap_or_else(|| format_time(now));
    let prefix = args
        .to_prefix
        .clone()
        .unwrap_or_else(|| format!("s3central-drill/{stamp}/"));
    // The restore this drill is, parsed as restore parses it (every check it makes).
    let account = args.account.to_string();
    let config = args.config.to_string_lossy().into_owned();
    let mut argv = vec![
        "s3central",
        "restore",
        "--account",
        &account,
        "--at",
        &at,
        "--to-prefix",
        &prefix,
        "--verify",
        "bytes",
        "--config",
        &config,
    ];
    if let Some(bucket) = &args.to_bucket {
        argv.extend(["--to-bucket", bucket]);
    }
    if let Some(key) = &args.kms_key {
        argv.extend(["--kms-key", key]);
    }
    let restore = crate::commands::restore::parse_restore("drill", &argv)?;
    crate::localfile::private_dir(&args.report_dir).map_err(|source| Error::Io {
        what: format!("the report directory {}", args.report_dir.display()),
        source,
    })?;
    let base = args.report_dir.join(format!("drill-{account}-{stamp}"));
    let (jsonl, markdown) = (base.with_extension("jsonl"), base.with_extension("md"));
    let mut prepared = prepare(&ctx.aws, central.clone(), &restore, |_, _| {}, || Ok(())).await?;
    let scratch = format!("s3://{}/{prefix}", prepared.target_bucket);
    let at_text = format_time(prepared.at);
    // The sample: the N keys of smallest keyed hash among those present at TIME.
    let keys_at_time = match args.sample {
        Some(n) => {
            let seed = now.timestamp_nanos_opt().unwrap_or_default() as u64;
            let mut sampler = Sampler::new(usize::try_from(n).unwrap_or(usize::MAX), seed);
            let total =
                crate::restore::for_each_selected(&prepared.copier, &prepared.request, |v| {
                    sampler.offer(&v.key)
                })
                .await?;
            prepared.request.only_keys = Some(std::sync::Arc::new(sampler.keys()));
            total
        }
        None => 0,
    };
    let file =
        crate::localfile::create(&jsonl, crate::localfile::Write::Truncate).map_err(|source| {
            Error::Io {
                what: format!("creating {}", jsonl.display()),
                source,
            }
        })?;
    let mut report = ToReport {
        file: BufWriter::new(file),
        path: jsonl.clone(),
    };
    let outcome = execute(
        prepared,
        &restore,
        RestoreProgress::new(ctx.progress, false),
        futures::future::pending::<()>(),
        &mut report,
    )
    .await?;
    let s = &outcome.summary;
    let restored = s.copied + s.failed + s.unchanged;
    let mut result = DrillResult {
        record: "drill",
        account: account.clone(),
        at: at_text,
        ran_at: format_time(now),
        scratch,
        keys_at_time: if args.sample.is_some() {
            keys_at_time
        } else {
            restored
        },
        sampled: restored,
        copied: s.copied,
        verified: s.verified_by_checksum + s.verified_by_bytes,
        unverified: s.unverified,
        failed: s.failed,
        bytes: s.bytes,
        seconds: s.seconds,
        objects_per_second: s.objects_per_second,
        replication_lag_seconds: None,
        replication_note: None,
        replication_failed: false,
        identity: s.identity.clone(),
        verdict: "",
    };
    measure_lag(ctx, &args, &central, &mut result).await;
    result.judge();
    serde_json::to_writer(&mut report.file, &result)
        .map_err(std::io::Error::from)
        .and_then(|_| report.file.write_all(b"\n"))
        .and_then(|_| report.file.flush())
        .map_err(|source| Error::Io {
            what: format!("writing {}", jsonl.display()),
            source,
        })?;
    let mut md = crate::localfile::create(&markdown, crate::localfile::Write::Truncate).map_err(
        |source| Error::Io {
            what: format!("creating {}", markdown.display()),
            source,
        },
    )?;
    md.write_all(result.markdown().as_bytes())
        .map_err(|source| Error::Io {
            what: format!("writing {}", markdown.display()),
            source,
        })?;
    if ctx.out.format() == OutputFormat::Json {
        ctx.out.json(&result)?;
    } else if !ctx.global.quiet {
        ctx.out.text(&format!(
            "drill of {account} at {}: {}: {} of {} key(s) restored into {} and proven ({} failed, {} not proven); replication lag {}; report {} and {}",
            result.at,
            result.verdict,
            result.verified,
            result.sampled,
            result.scratch,
            result.failed,
            result.unverified,
            match (result.replication_lag_seconds, &result.replication_note) {
                (Some(s), _) => format!("{s:.1} s"),
                (None, Some(note)) => format!("not measured ({note})"),
                (None, None) => "not measured".into(),
            },
            jsonl.display(),
            markdown.display()
        ))?;
    }
    Ok(u8::from(result.verdict != "PASS"))
}

/// Writes a canary in the account's bucket (as setup's role there) and times its replica.
async fn measure_lag(ctx: &Context, args: &DrillArgs, central: &str, result: &mut DrillResult) {
    if args.no_canary {
        result.replication_note = Some("--no-canary".into());
        return;
    }
    let measured = async {
        let r = crate::setup::resolve::resolve(&ctx.aws, &args.config).await?;
        let Some(source) = r.sources.iter().find(|s| s.account == args.account) else {
            return Ok(Err(format!(
                "{} does not list account {}",
                args.config.display(),
                args.account
            )));
        };
        let aws = crate::setup::identity_in(
            &r.caller.0,
            &r.caller.1,
            source.account.as_str(),
            &r.config.assume_role,
            &source.region,
        )
        .await?;
        let c = crate::setup::canary::canary(
            &aws.s3(),
            &source.bucket,
            &source.account.prefix(),
            &r.central.aws.s3(),
            central,
            args.canary_timeout,
        )
        .await?;
        Ok::<_, Error>(Ok(c))
    }
    .await;
    match measured {
        Ok(Ok(c)) if c.replicated => result.replication_lag_seconds = Some(c.seconds),
        Ok(Ok(c)) => {
            result.replication_failed = true;
            result.replication_note = Some(format!(
                "the canary {} had no replica in central after {:.0} s",
                c.key, c.seconds
            ));
        }
        Ok(Err(why)) => result.replication_note = Some(why),
        Err(e) => {
            result.replication_failed = true;
            result.replication_note = Some(format!("the canary could not be written: {e}"));
        }
    }
}
