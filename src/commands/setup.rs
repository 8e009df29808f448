//! `s3central setup`: read the config, plan every account, confirm, apply, summarise, verify.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use futures::StreamExt;
use serde::Serialize;

use crate::aws::Aws;
use crate::cli::SetupArgs;
use crate::commands::Context;
use crate::error::{Error, Result};
use crate::output::{Column, Row};
use crate::setup::apply::Writes;
use crate::setup::plan::{Action, Change, PENDING_CENTRAL_KEY};
use crate::setup::resolve::{resolve, Resolved};
use crate::setup::{
    apply_central, apply_source, check_replica_key, identity_in, plan_central, plan_source,
    Consent, SourceAccount,
};

/// A source account with its credentials and plan, or why it could not be read.
type AccountPlan = (SourceAccount, Result<(Aws, Vec<Change>)>);

/// One line of the printed plan.
#[derive(Debug, Serialize)]
struct PlanRow<'a> {
    record: &'static str,
    account: &'a str,
    kind: &'static str,
    resource: &'static str,
    #[serde(flatten)]
    action: &'a Action,
}

impl Row for PlanRow<'_> {
    fn columns(&self) -> &'static [Column] {
        const COLUMNS: &[Column] = &[
            Column::left("ACCOUNT", 12),
            Column::left("KIND", 7),
            Column::left("RESOURCE", 25),
            Column::left("ACTION", 9),
            Column::left("DETAIL", 0),
        ];
        COLUMNS
    }

    fn cells(&self) -> Vec<String> {
        let (action, detail) = match self.action {
            Action::Create => ("create", String::new()),
            Action::Update(fields) => ("update", fields.join(", ")),
            Action::NeedsConsent(fields) => (
                "consent",
                format!(
                    "{} (bucket existed before s3central: changed only with --allow-bucket-changes)",
                    fields.join(", ")
                ),
            ),
            Action::Unchanged => ("ok", String::new()),
            Action::Refused(why) => ("REFUSED", why.clone()),
        };
        vec![
            self.account.to_owned(),
            self.kind.to_owned(),
            self.resource.to_owned(),
            action.to_owned(),
            detail,
        ]
    }
}

/// One account's outcome in the closing summary.
#[derive(Debug, Serialize)]
struct ResultRow {
    record: &'static str,
    account: String,
    bucket: String,
    result: String,
    changed: usize,
    error: Option<String>,
}

impl Row for ResultRow {
    fn columns(&self) -> &'static [Column] {
        const COLUMNS: &[Column] = &[
            Column::left("ACCOUNT", 12),
            Column::left("BUCKET", 40),
            Column::left("RESULT", 0),
        ];
        COLUMNS
    }

    fn cells(&self) -> Vec<String> {
        let result = match &self.error {
            Some(e) => format!("FAILED: {e}"),
            None => self.result.clone(),
        };
        vec![self.account.clone(), self.bucket.clone(), result]
    }
}

/// Said on every run of a config without `[central] break_glass_role` (goal 2 of
/// docs/security.md holds only with one).
pub const UNGUARDED_WARNING: &str = "warning: central is NOT guarded: any admin of the central account can delete its versions or disable its key; set [central] break_glass_role (docs/security.md)";

/// Runs `setup`.
pub async fn run(ctx: &mut Context, args: SetupArgs) -> Result<u8> {
    if let Some(export) = &args.export {
        return super::setup_export::run(ctx, &args.config, export);
    }
    let r = resolve(&ctx.aws, &args.config).await?;
    let consent = Consent {
        bucket_changes: args.allow_bucket_changes,
        backfill: args.backfill,
    };
    let concurrency = args.concurrency as usize;
    let bar =
        crate::progress::counter(ctx.progress, r.sources.len() as u64 + 1, "accounts planned");
    let (central_changes, central_key, _) = plan_central(&r.config, &r.central).await?;
    bar.inc(1);
    let key_for_plan = central_key
        .clone()
        .unwrap_or_else(|| PENDING_CENTRAL_KEY.to_owned());
    let caller = &r.caller;
    let plans: Vec<AccountPlan> = futures::stream::iter(r.sources.iter().cloned())
        .map(|source| {
            let (config, central, key, bar) =
                (&r.config, &r.central, key_for_plan.as_str(), bar.clone());
            async move {
                let planned = async {
                    let aws = identity_in(
                        &caller.0,
                        &caller.1,
                        source.account.as_str(),
                        &config.assume_role,
                        &source.region,
                    )
                    .await?;
                    let changes = plan_source(config, central, &source, &aws, key, consent).await?;
                    Ok((aws, changes))
                }
                .await;
                bar.inc(1);
                (source, planned)
            }
        })
        .buffered(concurrency)
        .collect()
        .await;
    bar.finish_and_clear();

    let mut pending = 0usize;
    let mut unchanged = 0usize;
    let show = |ctx: &mut Context,
                account: &str,
                kind: &'static str,
                changes: &[Change],
                pending: &mut usize,
                unchanged: &mut usize|
     -> Result<()> {
        for change in changes {
            if change.is_change() {
                *pending += 1;
            } else {
                *unchanged += 1;
            }
            if change.is_change() || ctx.out.format() == crate::cli::OutputFormat::Json {
                ctx.out.row(&PlanRow {
                    record: "plan",
                    account,
                    kind,
                    resource: change.resource.label(),
                    action: &change.action,
                })?;
            }
        }
        Ok(())
    };
    show(
        ctx,
        &r.central.account,
        "central",
        &central_changes,
        &mut pending,
        &mut unchanged,
    )?;
    let mut failed_plans = 0;
    for (source, plan) in &plans {
        match plan {
            Ok((_, changes)) => show(
                ctx,
                source.account.as_str(),
                "source",
                changes,
                &mut pending,
                &mut unchanged,
            )?,
            Err(e) => {
                failed_plans += 1;
                eprintln!("error: account {}: {e}", source.account);
            }
        }
    }
    if !ctx.global.quiet && ctx.out.format() == crate::cli::OutputFormat::Table {
        ctx.out.text(&format!(
            "plan: {pending} change(s), {unchanged} resource(s) unchanged, {} account(s) + central{}",
            plans.len(),
            if failed_plans > 0 { format!(", {failed_plans} account(s) could not be read") } else { String::new() }
        ))?;
    }
    // Said once the run is going ahead (a refusal or an error stays the one line it is).
    let warn_unguarded = || {
        if r.config.central.break_glass_role.is_none() && !ctx.global.quiet {
            eprintln!("{UNGUARDED_WARNING}");
        }
    };
    let refused: Vec<&String> = central_changes
        .iter()
        .filter_map(|c| match &c.action {
            Action::Refused(why) => Some(why),
            _ => None,
        })
        .collect();
    if !refused.is_empty() {
        for why in &refused {
            eprintln!("error: refused, nothing applied: {why}");
        }
        return Ok(1);
    }
    if args.dry_run {
        warn_unguarded();
        return Ok(if args.detailed_exitcode && pending > 0 {
            3
        } else if failed_plans > 0 {
            1
        } else {
            0
        });
    }
    if pending > 0 && !args.yes {
        confirm(pending)?;
    }
    let writes = Writes::default();
    // What the plan found converged is not read a second time: apply re-reads an account only
    // where its plan has something to change (a converged run of N accounts reads each once).
    let converged = |changes: &[Change]| !changes.iter().any(Change::is_change);
    let central_key_arn = match &central_key {
        Some(key) if converged(&central_changes) => key.clone(),
        _ => apply_central(&r.config, &r.central, &writes).await?,
    };
    check_replica_key(&r.central, &central_key_arn).await?;
    warn_unguarded();

    let bar = crate::progress::counter(ctx.progress, plans.len() as u64, "accounts applied");
    let results: Vec<(SourceAccount, Option<Aws>, Result<usize>)> = futures::stream::iter(plans)
        .map(|(source, plan)| {
            let (config, central, key, writes, bar) = (
                &r.config,
                &r.central,
                central_key_arn.as_str(),
                &writes,
                bar.clone(),
            );
            async move {
                let result = match plan {
                    Ok((aws, changes)) if converged(&changes) => (source, Some(aws), Ok(0)),
                    Ok((aws, _)) => {
                        let applied =
                            apply_source(config, central, &source, &aws, key, consent, writes)
                                .await;
                        (source, Some(aws), applied)
                    }
                    Err(e) => (source, None, Err(e)),
                };
                bar.inc(1);
                result
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    bar.finish_and_clear();
    let mut failed = 0;
    let mut results = results;
    results.sort_by(|a, b| a.0.account.cmp(&b.0.account));
    for (source, _, result) in &results {
        let (result_text, changed, error) = match result {
            Ok(0) => ("converged".to_owned(), 0, None),
            Ok(n) => (format!("changed {n} resource(s)"), *n, None),
            Err(e) => {
                failed += 1;
                ("failed".to_owned(), 0, Some(e.to_string()))
            }
        };
        ctx.out.row(&ResultRow {
            record: "result",
            account: source.account.to_string(),
            bucket: source.bucket.clone(),
            result: result_text,
            changed,
            error,
        })?;
    }
    if !ctx.global.quiet && ctx.out.format() == crate::cli::OutputFormat::Table {
        ctx.out.text(&format!(
            "applied: {} write call(s), {failed} account(s) failed",
            writes.count()
        ))?;
    } else if ctx.out.format() == crate::cli::OutputFormat::Json {
        ctx.out.json(&serde_json::json!({"record": "summary", "writes": writes.count(), "failed": failed, "accounts": results.len()}))?;
    }
    if args.verify {
        let ok = verify(ctx, &r, &results, args.verify_timeout.into()).await?;
        if !ok {
            failed += 1;
        }
    }
    Ok(if failed > 0 { 1 } else { 0 })
}

/// Asks on the terminal before writing; without a terminal, `--yes` is required.
fn confirm(pending: usize) -> Result<()> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::Invalid(format!(
            "{pending} change(s) to apply and no terminal to confirm them: pass --yes (or --dry-run to only look)"
        )));
    }
    eprint!("apply {pending} change(s)? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|source| Error::Io {
            what: "reading the answer".into(),
            source,
        })?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(Error::Refused("not applied: nothing was changed".into()))
    }
}

/// One account's canary outcome.
#[derive(Debug, Serialize)]
struct VerifyRow {
    record: &'static str,
    account: String,
    canary: String,
    replicated: bool,
    seconds: f64,
}

impl Row for VerifyRow {
    fn columns(&self) -> &'static [Column] {
        const COLUMNS: &[Column] = &[Column::left("ACCOUNT", 12), Column::left("VERIFY", 0)];
        COLUMNS
    }

    fn cells(&self) -> Vec<String> {
        let text = if self.replicated {
            format!("replicated in {:.0} s ({})", self.seconds, self.canary)
        } else {
            format!(
                "NOT replicated within {:.0} s ({})",
                self.seconds, self.canary
            )
        };
        vec![self.account.clone(), text]
    }
}

/// Writes a canary in each converged source bucket and waits for its replica in central.
async fn verify(
    ctx: &mut Context,
    r: &Resolved,
    results: &[(SourceAccount, Option<Aws>, Result<usize>)],
    timeout: Duration,
) -> Result<bool> {
    let central_s3 = r.central.aws.s3();
    let central_bucket = &r.config.central.bucket;
    let rows: Vec<Result<VerifyRow>> = futures::stream::iter(
        results
            .iter()
            .filter(|(_, aws, res)| aws.is_some() && res.is_ok()),
    )
    .map(|(source, aws, _)| {
        let central_s3 = central_s3.clone();
        async move {
            let aws = aws
                .as_ref()
                .ok_or_else(|| Error::Invalid("no identity".into()))?;
            let c = crate::setup::canary::canary(
                &aws.s3(),
                &source.bucket,
                &source.account.prefix(),
                &central_s3,
                central_bucket,
                timeout,
            )
            .await?;
            Ok(VerifyRow {
                record: "verify",
                account: source.account.to_string(),
                canary: c.key,
                replicated: c.replicated,
                seconds: c.seconds,
            })
        }
    })
    .buffered(r.sources.len().clamp(1, 32))
    .collect()
    .await;
    let mut all = true;
    for row in rows {
        match row {
            Ok(row) => {
                all &= row.replicated;
                ctx.out.row(&row)?;
            }
            Err(e) => {
                all = false;
                eprintln!("error: verify: {e}");
            }
        }
    }
    Ok(all)
}
