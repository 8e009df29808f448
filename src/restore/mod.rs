//! The restore engine: listing -> point-in-time resolver -> join with the target -> bounded copy pool.

pub mod copy;
pub mod plan;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::{Future, StreamExt, TryStreamExt};
use indicatif::ProgressBar;
use serde::Serialize;

use crate::aws::CountRequests;
use crate::error::{Error, Result};
use crate::filter::KeyFilter;
use crate::listing::{list_versions, ListRequest};
use crate::pit::{resolve_stream, DeleteMode};
use crate::restore::copy::Copier;
use crate::restore::plan::{
    decide, join, Decision, KeyMap, Outcome, Pair, TargetObject, SOURCE_VERSION_META,
};

/// What to restore and how; everything here has been validated before the engine starts.
#[derive(Debug, Clone)]
pub struct RestoreRequest {
    /// The state to restore.
    pub at: DateTime<Utc>,
    /// Ignore or respect delete markers.
    pub delete_mode: DeleteMode,
    /// Central and target key prefixes.
    pub key_map: KeyMap,
    /// Include/exclude globs over relative keys.
    pub filter: KeyFilter,
    /// Copies in flight at once.
    pub concurrency: usize,
    /// Plan only: no writes.
    pub dry_run: bool,
    /// Entries per listing page.
    pub page_size: i32,
    /// Listing requests in flight at once per listing (1 = one stream).
    pub list_concurrency: usize,
}

/// The fate of one key, as written to `--report` and to JSON output.
#[derive(Debug, Clone, Serialize)]
pub struct KeyReport {
    /// Key relative to the account prefix.
    pub key: String,
    /// The central version selected (empty for extra keys).
    pub version_id: String,
    /// Where it goes (or is) in the target.
    pub target_key: String,
    /// Its size.
    pub bytes: u64,
    /// What happened.
    pub outcome: Outcome,
    /// S3 requests made for this key, retries included (more than the minimum means retries).
    pub requests: u64,
    /// Why it failed.
    pub error: Option<String>,
}

/// Totals of a restore run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Versions and delete markers listed in central.
    pub listed: u64,
    /// Objects copied now.
    pub copied: u64,
    /// Objects already in place.
    pub unchanged: u64,
    /// Target keys absent at TIME (left alone).
    pub extra: u64,
    /// Objects that could not be copied.
    pub failed: u64,
    /// Dry run: objects that would be copied.
    pub would_copy: u64,
    /// Bytes copied (or, in a dry run, to copy).
    pub bytes: u64,
    /// Wall time.
    pub seconds: f64,
    /// Copied objects per second.
    pub objects_per_second: f64,
    /// S3 requests sent (retries included).
    pub requests: u64,
    /// Whether Ctrl-C stopped the run early.
    pub interrupted: bool,
    /// Who read and wrote, and how the bytes travelled.
    pub identity: String,
}

/// Restores the state at `request.at` into the copier's target; `on_key` sees every key's fate.
///
/// Listing and copying overlap; at most `concurrency` keys are in flight and at most two listing
/// pages per side are buffered, so memory does not grow with the number of keys. `stop` (Ctrl-C)
/// stops new copies; those in flight finish.
pub async fn run<F, Stop>(
    request: RestoreRequest,
    copier: Copier,
    progress: ProgressBar,
    requests: impl Fn() -> u64,
    stop: Stop,
    mut on_key: F,
) -> Result<Summary>
where
    F: FnMut(&KeyReport) -> Result<()>,
    Stop: Future<Output = ()> + Send,
{
    let started = Instant::now();
    let listed = Arc::new(AtomicU64::new(0));
    let source = {
        let listed = listed.clone();
        let filter = request.filter.clone();
        let map = request.key_map.clone();
        let entries = list_versions(
            copier.reader.clone(),
            ListRequest {
                bucket: copier.source_bucket.clone(),
                prefix: request.key_map.source_prefix.clone(),
                page_size: request.page_size,
                concurrency: request.list_concurrency,
            },
        )
        .inspect(move |_| {
            listed.fetch_add(1, Ordering::Relaxed);
        });
        resolve_stream(entries, request.at, request.delete_mode)
            .try_filter(move |v| futures::future::ready(filter.matches(map.relative(&v.key))))
    };
    let target = {
        let filter = request.filter.clone();
        let map = request.key_map.clone();
        list_versions(
            copier.writer.clone(),
            ListRequest {
                bucket: copier.target_bucket.clone(),
                prefix: request.key_map.target_prefix.clone(),
                page_size: request.page_size,
                concurrency: request.list_concurrency,
            },
        )
        .try_filter_map(move |v| {
            let keep = v.is_latest
                && !v.is_delete_marker
                && map
                    .relative_of_target(&v.key)
                    .is_some_and(|rel| filter.matches(rel));
            futures::future::ready(Ok(keep.then_some(TargetObject {
                key: v.key,
                version_id: v.version_id,
                size: v.size,
            })))
        })
        .map_err({
            let bucket = copier.target_bucket.clone();
            move |e| e.with_bucket_hint(&bucket, "--to-bucket")
        })
    };
    let mut summary = Summary::default();
    let pairs = join(request.key_map.clone(), source, target).take_until(Box::pin(stop));
    let copier = &copier;
    let request = &request;
    let mut reports = Box::pin(pairs)
        .map(|pair| async move {
            match pair {
                Ok(pair) => Ok(process(copier, request, pair).await),
                Err(e) => Err(e),
            }
        })
        .buffer_unordered(request.concurrency.max(1));
    progress.set_length(0);
    while let Some(report) = reports.next().await {
        let report = report?;
        match report.outcome {
            Outcome::Copied => {
                summary.copied += 1;
                summary.bytes += report.bytes;
            }
            Outcome::WouldCopy => {
                summary.would_copy += 1;
                summary.bytes += report.bytes;
            }
            Outcome::Unchanged => summary.unchanged += 1,
            Outcome::Extra => summary.extra += 1,
            Outcome::Failed => {
                summary.failed += 1;
                tracing::warn!(key = %report.key, error = ?report.error, "copy failed");
            }
        }
        if report.outcome != Outcome::Extra {
            progress.inc_length(1);
            progress.inc(1);
        }
        progress.set_message(format!(
            "{} listed, {} copied, {} unchanged, {} failed",
            listed.load(Ordering::Relaxed),
            summary.copied,
            summary.unchanged,
            summary.failed
        ));
        on_key(&report)?;
    }
    drop(reports);
    summary.listed = listed.load(Ordering::Relaxed);
    summary.seconds = started.elapsed().as_secs_f64();
    summary.objects_per_second = if summary.seconds > 0.0 {
        summary.copied as f64 / summary.seconds
    } else {
        0.0
    };
    summary.requests = requests();
    Ok(summary)
}

/// Decides one key and, unless it is in place, copies it; failures become a report, not an error.
async fn process(copier: &Copier, request: &RestoreRequest, pair: Pair) -> KeyReport {
    let map = &request.key_map;
    let decision = decide(&pair);
    let (source, target) = match pair {
        Pair::Extra(t) => {
            return KeyReport {
                key: map.relative_of_target(&t.key).unwrap_or(&t.key).to_owned(),
                version_id: String::new(),
                target_key: t.key,
                bytes: t.size,
                outcome: Outcome::Extra,
                requests: 0,
                error: None,
            }
        }
        Pair::Source { source, target } => (source, target),
    };
    let target_key = map.target_key(&source.key);
    let report = KeyReport {
        key: map.relative(&source.key).to_owned(),
        version_id: source.version_id.clone(),
        target_key: target_key.clone(),
        bytes: source.size,
        outcome: Outcome::Unchanged,
        requests: 0,
        error: None,
    };
    let count = CountRequests::default();
    let report = decide_and_copy(copier, request, decision, source, target, report, &count).await;
    KeyReport {
        requests: count.get(),
        ..report
    }
}

/// The part of [`process`] that makes requests, all counted by `count`.
async fn decide_and_copy(
    copier: &Copier,
    request: &RestoreRequest,
    decision: Decision,
    source: crate::version::ObjectVersion,
    target: Option<TargetObject>,
    mut report: KeyReport,
    count: &CountRequests,
) -> KeyReport {
    let target_key = report.target_key.clone();
    let must_copy = match decision {
        Decision::Unchanged => false,
        Decision::Copy => true,
        Decision::CheckMetadata => match restored_from(copier, target.as_ref(), count).await {
            Ok(from) => from.as_deref() != Some(source.version_id.as_str()),
            Err(e) => {
                report.outcome = Outcome::Failed;
                report.error = Some(e.to_string());
                return report;
            }
        },
        Decision::Extra => false,
    };
    if !must_copy {
        return report;
    }
    if request.dry_run {
        report.outcome = Outcome::WouldCopy;
        return report;
    }
    match copier.copy(&source, &target_key, count).await {
        Ok(bytes) => {
            report.bytes = bytes;
            report.outcome = Outcome::Copied;
        }
        Err(e) => {
            report.outcome = Outcome::Failed;
            report.error = Some(e.to_string());
        }
    }
    report
}

/// The central version id a target object was restored from, read from its metadata.
async fn restored_from(
    copier: &Copier,
    target: Option<&TargetObject>,
    count: &CountRequests,
) -> Result<Option<String>> {
    let Some(target) = target else {
        return Ok(None);
    };
    let head = copier
        .writer
        .head_object()
        .bucket(&copier.target_bucket)
        .key(&target.key)
        .version_id(&target.version_id)
        .customize()
        .interceptor(count.clone())
        .send()
        .await
        .map_err(|e| Error::from_sdk("HeadObject", target.key.clone(), e))?;
    Ok(head
        .metadata()
        .and_then(|m| m.get(SOURCE_VERSION_META))
        .cloned())
}
