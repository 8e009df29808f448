//! `s3central status`: one health view of every account: configuration drift and replication status.

use std::collections::BTreeMap;

use futures::StreamExt;
use serde::Serialize;

use crate::cli::StatusArgs;
use crate::commands::setup::resolve;
use crate::commands::Context;
use crate::error::{Error, Result};
use crate::output::{Column, Row};
use crate::setup::plan::{Change, PENDING_CENTRAL_KEY};
use crate::setup::{identity_in, plan_central, plan_source};

/// One account's health.
#[derive(Debug, Serialize)]
struct StatusRow {
    account: String,
    kind: &'static str,
    bucket: String,
    /// Resources that differ from the desired state (empty when converged).
    drift: Vec<String>,
    /// Replication status of the most recent objects, by status.
    replication: BTreeMap<String, usize>,
    error: Option<String>,
}

impl Row for StatusRow {
    fn columns(&self) -> &'static [Column] {
        const COLUMNS: &[Column] = &[
            Column::left("ACCOUNT", 12),
            Column::left("KIND", 7),
            Column::left("BUCKET", 32),
            Column::left("CONFIG", 24),
            Column::left("RECENT OBJECTS", 0),
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
        vec![
            self.account.clone(),
            self.kind.to_owned(),
            self.bucket.clone(),
            config,
            replication,
        ]
    }
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
    let r = resolve(ctx, &args.config).await?;
    let (central_changes, central_key) = plan_central(&r.config, &r.central).await?;
    let key = central_key.unwrap_or_else(|| PENDING_CENTRAL_KEY.to_owned());
    let mut unhealthy = 0;
    let central_row = StatusRow {
        account: r.central.account.clone(),
        kind: "central",
        bucket: r.config.central.bucket.clone(),
        drift: drift(&central_changes),
        replication: BTreeMap::new(),
        error: None,
    };
    unhealthy += usize::from(!central_row.drift.is_empty());
    ctx.out.row(&central_row)?;
    let caller = &r.caller;
    let mut rows = futures::stream::iter(r.sources.iter().cloned())
        .map(|source| {
            let (config, central, key) = (&r.config, &r.central, key.as_str());
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
                    let changes = plan_source(config, central, &source, &aws, key).await?;
                    let replication = recent_replication(
                        &aws.s3(),
                        &source.bucket,
                        &source.account.prefix(),
                        args.recent,
                    )
                    .await?;
                    Ok::<_, Error>((drift(&changes), replication))
                }
                .await;
                let (drift, replication, error) = match checked {
                    Ok((d, r)) => (d, r, None),
                    Err(e) => (Vec::new(), BTreeMap::new(), Some(e.to_string())),
                };
                StatusRow {
                    account: source.account.to_string(),
                    kind: "source",
                    bucket: source.bucket.clone(),
                    drift,
                    replication,
                    error,
                }
            }
        })
        .buffered(args.concurrency as usize);
    while let Some(row) = rows.next().await {
        let failed_replication = row.replication.keys().any(|s| s == "FAILED");
        unhealthy +=
            usize::from(!row.drift.is_empty() || row.error.is_some() || failed_replication);
        ctx.out.row(&row)?;
    }
    Ok(u8::from(unhealthy > 0))
}

/// Counts the replication status (HeadObject `x-amz-replication-status`) of the newest objects.
async fn recent_replication(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    recent: usize,
) -> Result<BTreeMap<String, usize>> {
    let page = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .map_err(|e| Error::from_sdk("ListObjectsV2", bucket.to_owned(), e))?;
    let mut objects: Vec<_> = page
        .contents()
        .iter()
        .filter_map(|o| Some((o.last_modified()?.secs(), o.key()?.to_owned())))
        .collect();
    objects.sort_by(|a, b| b.cmp(a));
    let mut counts = BTreeMap::new();
    for (_, key) in objects.into_iter().take(recent) {
        let head = s3
            .head_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| Error::from_sdk("HeadObject", key.clone(), e))?;
        let status = head
            .replication_status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_else(|| "NO-STATUS".to_owned());
        *counts.entry(status).or_insert(0) += 1;
    }
    Ok(counts)
}
