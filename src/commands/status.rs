//! `s3central status`: one health view of every account: configuration drift and replication status.

use std::collections::BTreeMap;

use futures::StreamExt;
use serde::Serialize;

use crate::cli::StatusArgs;
use crate::commands::Context;
use crate::coverage::scan::{
    account_coverage, recent_replication, AccountCoverage, CoverageOptions,
};
use crate::coverage::{Counts, Gap};
use crate::error::{Error, Result};
use crate::output::{Column, Row};
use crate::setup::onboarding::{not_protected_because, Found, NotProtected, Onboarding};
use crate::setup::plan::{Change, PENDING_CENTRAL_KEY};
use crate::setup::resolve::{resolve, Resolved};
use crate::setup::{identity_in, plan_central, plan_source, SourceAccount};

/// One account's health.
#[derive(Debug, Serialize)]
struct StatusRow {
    account: String,
    kind: &'static str,
    bucket: String,
    /// Resources that differ from the desired state (empty when converged).
    drift: Vec<String>,
    /// Whether the account's rule replicates delete markers (as configured; a rule that says
    /// otherwise is drift); `None` for central.
    replicate_deletes: Option<bool>,
    /// Replication status of the most recent objects, by status.
    replication: BTreeMap<String, usize>,
    /// The newest backfill (S3 Batch Replication) job of the account's bucket, if any.
    backfill: Option<crate::setup::backfill::Job>,
    /// Whether it was discovered in the configured OUs; `None` for central.
    discovered: Option<bool>,
    /// Why the account is not protected yet (empty when it is; see `setup::onboarding`).
    not_protected_because: Vec<String>,
    error: Option<String>,
}

impl Row for StatusRow {
    fn columns(&self) -> &'static [Column] {
        const COLUMNS: &[Column] = &[
            Column::left("ACCOUNT", 12),
            Column::left("KIND", 7),
            Column::left("BUCKET", 32),
            Column::left("CONFIG", 24),
            Column::left("DELETES", 14),
            Column::left("RECENT OBJECTS", 24),
            Column::left("BACKFILL", 0),
        ];
        COLUMNS
    }

    fn cells(&self) -> Vec<String> {
        let config = match (&self.error, self.drift.is_empty()) {
            (Some(e), _) => format!("ERROR: {e}"),
            (None, true) => "ok".to_owned(),
            (None, false) => format!("drift: {}", self.drift.join(", ")),
        };
        let replication = if self.kind == "central" {
            "-".to_owned()
        } else if self.replication.is_empty() {
            "no objects".to_owned()
        } else {
            self.replication
                .iter()
                .map(|(status, n)| format!("{n} {status}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let backfill = match &self.backfill {
            Some(job) => format!(
                "{} {}: {}/{} replicated, {} failed",
                job.id, job.status, job.succeeded, job.total, job.failed
            ),
            None => "-".to_owned(),
        };
        vec![
            self.account.clone(),
            self.kind.to_owned(),
            self.bucket.clone(),
            config,
            match self.replicate_deletes {
                Some(true) => "replicated",
                Some(false) => "not replicated",
                None => "-",
            }
            .to_owned(),
            replication,
            backfill,
        ]
    }
}

/// The JSON line of [`Onboarding`].
#[derive(Serialize)]
struct OnboardingLine<'a> {
    record: &'static str,
    #[serde(flatten)]
    onboarding: &'a Onboarding,
}

/// The resources of a plan that are not as desired.
fn drift(changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .filter(|c| c.is_change())
        .map(|c| c.resource.label().to_owned())
        .collect()
}

/// Runs `status`; exit 1 when any account drifted, failed replication or could not be read.
pub async fn run(ctx: &mut Context, args: StatusArgs) -> Result<u8> {
    let r = resolve(&ctx.aws, &args.config).await?;
    if args.coverage {
        return coverage(ctx, &args, &r).await;
    }
    let (central_changes, central_key, protection) = plan_central(&r.config, &r.central).await?;
    let key = central_key.unwrap_or_else(|| PENDING_CENTRAL_KEY.to_owned());
    let mut unhealthy = 0;
    let central_row = StatusRow {
        account: r.central.account.clone(),
        kind: "central",
        bucket: r.config.central.bucket.clone(),
        drift: drift(&central_changes),
        replicate_deletes: None,
        replication: BTreeMap::new(),
        backfill: None,
        discovered: None,
        not_protected_because: Vec::new(),
        error: None,
    };
    unhealthy += usize::from(!central_row.drift.is_empty());
    ctx.out.row(&central_row)?;
    if ctx.out.format() == crate::cli::OutputFormat::Json {
        ctx.out
            .json(&serde_json::json!({"record": "protection", "protection": protection}))?;
    } else if !ctx.global.quiet {
        ctx.out.text(&protection.describe())?;
    }
    let caller = &r.caller;
    let central_s3 = r.central.aws.s3();
    let mut rows = futures::stream::iter(r.sources.iter().cloned())
        .map(|source| {
            let (config, central, key) = (&r.config, &r.central, key.as_str());
            let central_s3 = central_s3.clone();
            async move {
                let checked = async {
                    let aws = identity_in(
                        &caller.0,
                        &caller.1,
                        source.account.as_str(),
                        &config.assume_role,
                        &source.region,
                    )
                    .await?;
                    let changes = plan_source(
                        config,
                        central,
                        &source,
                        &aws,
                        key,
                        crate::setup::Consent::default(),
                    )
                    .await?;
                    // A bucket not made yet (an account that joined after setup ran) holds
                    // nothing: its drift says what is missing.
                    let (has_objects, replication) = match recent_replication(
                        &aws.s3(),
                        &source.bucket,
                        &source.account.prefix(),
                        args.recent,
                    )
                    .await
                    {
                        Err(e) if e.is_no_such_bucket() => {
                            return Ok((drift(&changes), false, BTreeMap::new(), None))
                        }
                        other => other?,
                    };
                    let jobs =
                        crate::setup::backfill::jobs(&aws, source.account.as_str(), &source.bucket)
                            .await?;
                    Ok::<_, Error>((
                        drift(&changes),
                        has_objects,
                        replication,
                        jobs.into_iter().last(),
                    ))
                }
                .await;
                let (drift, has_objects, replication, backfill, error) = match checked {
                    Ok((d, o, r, b)) => (d, o, r, b, None),
                    Err(e) => (
                        Vec::new(),
                        false,
                        BTreeMap::new(),
                        None,
                        Some(e.to_string()),
                    ),
                };
                // Objects in the bucket, none in central: the account was never replicated.
                let (central_holds, error) = match (error, has_objects) {
                    (None, true) => match crate::central::holds_account(
                        &central_s3,
                        &config.central.bucket,
                        &source.account,
                    )
                    .await
                    {
                        Ok(holds) => (Some(holds), None),
                        Err(e) => (None, Some(format!("central: {e}"))),
                    },
                    (error, _) => (None, error),
                };
                let not_protected_because = not_protected_because(Found {
                    error: error.as_deref(),
                    drift: &drift,
                    has_objects,
                    central_holds,
                });
                StatusRow {
                    account: source.account.to_string(),
                    kind: "source",
                    bucket: source.bucket.clone(),
                    drift,
                    replicate_deletes: Some(source.replicate_deletes),
                    replication,
                    backfill,
                    discovered: Some(source.discovered),
                    not_protected_because,
                    error,
                }
            }
        })
        .buffered(args.concurrency as usize);
    let mut onboarding = Onboarding {
        accounts: r.sources.len(),
        discovered: r.sources.iter().filter(|s| s.discovered).count(),
        not_protected: Vec::new(),
        excluded: r.excluded.iter().map(ToString::to_string).collect(),
    };
    while let Some(row) = rows.next().await {
        let failed_replication = row.replication.keys().any(|s| s == "FAILED")
            || row
                .backfill
                .as_ref()
                .is_some_and(|j| j.status == "Failed" || j.failed > 0);
        // Drift and read errors are among the reasons an account is not protected.
        unhealthy += usize::from(failed_replication || !row.not_protected_because.is_empty());
        if !row.not_protected_because.is_empty() {
            onboarding.not_protected.push(NotProtected {
                account: row.account.clone(),
                discovered: row.discovered.unwrap_or(false),
                because: row.not_protected_because.clone(),
            });
        }
        ctx.out.row(&row)?;
    }
    if ctx.out.format() == crate::cli::OutputFormat::Json {
        ctx.out.json(&OnboardingLine {
            record: "onboarding",
            onboarding: &onboarding,
        })?;
    } else if !ctx.global.quiet {
        ctx.out.text(&onboarding.line())?;
    }
    Ok(u8::from(unhealthy > 0))
}

/// One account's coverage, as printed and as a JSON line.
#[derive(Debug, Serialize)]
struct CoverageRow {
    record: &'static str,
    account: String,
    bucket: String,
    #[serde(flatten)]
    counts: Counts,
    /// Whether every current version under the prefix has its replica (and, unless ignored,
    /// nothing lies outside the prefix).
    protected: bool,
    /// The loud part: objects outside the prefix are never replicated.
    warning: Option<String>,
    error: Option<String>,
}

impl Row for CoverageRow {
    fn columns(&self) -> &'static [Column] {
        const COLUMNS: &[Column] = &[
            Column::left("ACCOUNT", 12),
            Column::left("BUCKET", 32),
            Column::right("CURRENT", 8),
            Column::right("REPLICATED", 10),
            Column::right("PENDING", 7),
            Column::right("FAILED", 6),
            Column::right("MISSING", 7),
            Column::right("FOREIGN_KEY", 11),
            Column::right("OUTSIDE", 7),
            Column::left("VERDICT", 0),
        ];
        COLUMNS
    }

    fn cells(&self) -> Vec<String> {
        let c = &self.counts;
        let verdict = match &self.error {
            Some(e) => format!("ERROR: {e}"),
            None if self.protected && c.outside_prefix == 0 => "protected".to_owned(),
            None if self.protected => {
                "protected under the prefix; objects OUTSIDE it are NOT".to_owned()
            }
            None => {
                let mut parts = Vec::new();
                for (n, what) in [
                    (c.pending, "pending"),
                    (c.failed, "failed"),
                    (c.missing, "missing"),
                    (c.foreign_key, "under a foreign key"),
                    (c.outside_prefix, "outside the prefix"),
                ] {
                    if n > 0 {
                        parts.push(format!("{n} {what}"));
                    }
                }
                format!("UNPROTECTED: {}", parts.join(", "))
            }
        };
        let n = |v: u64| {
            if self.error.is_some() {
                "-".to_owned()
            } else {
                v.to_string()
            }
        };
        vec![
            self.account.clone(),
            self.bucket.clone(),
            n(c.current),
            n(c.replicated),
            n(c.pending),
            n(c.failed),
            n(c.missing),
            n(c.foreign_key),
            n(c.outside_prefix),
            verdict,
        ]
    }
}

/// One current source version without a replica in central.
#[derive(Debug, Serialize)]
struct GapRow {
    record: &'static str,
    account: String,
    key: String,
    version_id: String,
    status: Gap,
    last_modified: String,
}

impl Row for GapRow {
    fn columns(&self) -> &'static [Column] {
        const COLUMNS: &[Column] = &[
            Column::left("ACCOUNT", 12),
            Column::left("STATUS", 7),
            Column::left("LAST MODIFIED", 20),
            Column::left("VERSION", 32),
            Column::left("UNPROTECTED KEY", 0),
        ];
        COLUMNS
    }

    fn cells(&self) -> Vec<String> {
        vec![
            self.account.clone(),
            self.status.label().to_owned(),
            self.last_modified.clone(),
            self.version_id.clone(),
            crate::output::printable(&self.key),
        ]
    }
}

/// `status --coverage`: per account, two sorted listings merge-joined, gaps classified by a
/// HeadObject of the source version, objects outside the prefix counted; exit 1 when anything is
/// unprotected or an account could not be read.
async fn coverage(ctx: &mut Context, args: &StatusArgs, r: &Resolved) -> Result<u8> {
    let central_s3 = r.central.aws.s3();
    let central_bucket = r.config.central.bucket.clone();
    let caller = &r.caller;
    let options = &CoverageOptions {
        page_size: args.page_size,
        max_gaps: args.gaps,
        central_key_arn: match args.skip_key_check {
            true => None,
            false => {
                crate::setup::state::read_key(&r.central.aws.kms(), &r.config.central.kms_alias)
                    .await?
                    .map(|k| k.arn)
            }
        },
        check_keys: !args.skip_key_check,
    };
    let bar = crate::progress::counter(ctx.progress, r.sources.len() as u64, "accounts checked");
    let results: Vec<(SourceAccount, Result<AccountCoverage>)> =
        futures::stream::iter(r.sources.iter().cloned())
            .map(|source| {
                let (central_s3, central_bucket, bar) =
                    (central_s3.clone(), central_bucket.clone(), bar.clone());
                async move {
                    let checked = async {
                        let aws = identity_in(
                            &caller.0,
                            &caller.1,
                            source.account.as_str(),
                            &r.config.assume_role,
                            &source.region,
                        )
                        .await?;
                        account_coverage(
                            aws.s3(),
                            central_s3,
                            &central_bucket,
                            &source.bucket,
                            &source.account.prefix(),
                            options,
                        )
                        .await
                    }
                    .await;
                    bar.inc(1);
                    (source, checked)
                }
            })
            .buffered(args.concurrency as usize)
            .collect()
            .await;
    bar.finish_and_clear();
    let mut unprotected = 0usize;
    let mut totals = Counts::default();
    let mut gaps = Vec::new();
    let mut warnings = Vec::new();
    for (source, result) in results {
        let (counts, error) = match result {
            Ok(c) => {
                gaps.extend(c.gaps.into_iter().map(|(version, gap)| GapRow {
                    record: "gap",
                    account: source.account.to_string(),
                    key: version.key,
                    version_id: version.version_id,
                    status: gap,
                    last_modified: crate::time::format_time(version.last_modified),
                }));
                (c.counts, None)
            }
            Err(e) => (Counts::default(), Some(e.to_string())),
        };
        let warning = (counts.outside_prefix > 0).then(|| {
            format!(
                "{} object(s) in bucket {} lie OUTSIDE the prefix {} and are NEVER replicated to central (by design: the rule replicates only the account's prefix); move them under {} or accept that they have no backup",
                counts.outside_prefix,
                source.bucket,
                source.account.prefix(),
                source.account.prefix()
            )
        });
        let protected = error.is_none() && !counts.unprotected(!args.ignore_outside_prefix);
        unprotected += usize::from(!protected);
        for (total, n) in [
            (&mut totals.current, counts.current),
            (&mut totals.replicated, counts.replicated),
            (&mut totals.pending, counts.pending),
            (&mut totals.failed, counts.failed),
            (&mut totals.missing, counts.missing),
            (&mut totals.foreign_key, counts.foreign_key),
            (&mut totals.outside_prefix, counts.outside_prefix),
        ] {
            *total += n;
        }
        if let Some(w) = &warning {
            warnings.push(w.clone());
        }
        ctx.out.row(&CoverageRow {
            record: "coverage",
            account: source.account.to_string(),
            bucket: source.bucket.clone(),
            counts,
            protected,
            warning,
            error,
        })?;
    }
    for gap in &gaps {
        ctx.out.row(gap)?;
    }
    for w in &warnings {
        eprintln!("WARNING: {w}");
    }
    let table = ctx.out.format() == crate::cli::OutputFormat::Table;
    if ctx.out.format() == crate::cli::OutputFormat::Json {
        ctx.out.json(&serde_json::json!({
            "record": "summary",
            "accounts": r.sources.len(),
            "unprotected_accounts": unprotected,
            "totals": totals,
        }))?;
    } else if table && !ctx.global.quiet {
        ctx.out.text(&format!(
            "coverage: {} of {} current object(s) replicated, {} pending, {} failed, {} missing, {} under a foreign key, {} outside the prefix; {}",
            totals.replicated,
            totals.current,
            totals.pending,
            totals.failed,
            totals.missing,
            totals.foreign_key,
            totals.outside_prefix,
            if unprotected == 0 {
                format!("all {} account(s) protected", r.sources.len())
            } else {
                format!("{unprotected} of {} account(s) NOT fully protected", r.sources.len())
            }
        ))?;
    }
    Ok(u8::from(unprotected > 0))
}
