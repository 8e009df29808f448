//! The restore engine: listing -> point-in-time resolver -> join with the target -> bounded copy pool.

pub mod copy;
pub mod plan;

use std::sync::atomic::Ordering;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::{Future, SinkExt, StreamExt, TryStreamExt};
use serde::Serialize;

use crate::aws::CountRequests;
use crate::error::{Error, Result};
use crate::filter::KeyFilter;
use crate::listing::{list_versions, ListRequest};
use crate::pit::{resolve_stream, DeleteMode};
use crate::progress::{bump, RestoreProgress};
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
    /// Only keys under this path (relative to both prefixes) are listed, e.g. `db/`.
    pub path: String,
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

/// Pairs (keys with what is known of them on both sides) the listings may run ahead of the copies
/// by: enough for the total of most accounts to be known early, a few MB at most.
pub const LOOKAHEAD: usize = 10_000;

/// Restores the state at `request.at` into the copier's target; `on_key` sees every key's fate.
///
/// The listings run ahead of the copies by up to [`LOOKAHEAD`] keys, so the progress shows a
/// real total early; at most `concurrency` keys are in flight, so memory does not grow with the
/// number of keys. `stop` (Ctrl-C) stops new copies; those in flight finish.
pub async fn run<F, Stop>(
    request: RestoreRequest,
    copier: Copier,
    progress: RestoreProgress,
    requests: impl Fn() -> u64,
    stop: Stop,
    mut on_key: F,
) -> Result<Summary>
where
    F: FnMut(&KeyReport) -> Result<()>,
    Stop: Future<Output = ()> + Send,
{
    let started = Instant::now();
    let counters = progress.counters();
    let source = {
        let listed = progress.shared();
        let filter = request.filter.clone();
        let map = request.key_map.clone();
        let entries = list_versions(
            copier.reader.clone(),
            ListRequest {
                bucket: copier.source_bucket.clone(),
                prefix: format!("{}{}", request.key_map.source_prefix, request.path),
                page_size: request.page_size,
            },
        )
        .inspect(move |_| bump(&listed.listed, 1));
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
                prefix: format!("{}{}", request.key_map.target_prefix, request.path),
                page_size: request.page_size,
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
    // The listings feed a bounded channel, so they run ahead of the copies and count the keys.
    let (mut ahead, behind) = futures::channel::mpsc::channel::<Result<Pair>>(LOOKAHEAD);
    let key_map = request.key_map.clone();
    let listing = async move {
        let pairs = join(key_map, source, target);
        futures::pin_mut!(pairs);
        while let Some(pair) = pairs.next().await {
            let failed = pair.is_err();
            if let Ok(Pair::Source { source, .. }) = &pair {
                bump(&counters.keys, 1);
                if pair
                    .as_ref()
                    .is_ok_and(|p| decide(p) != Decision::Unchanged)
                {
                    bump(&counters.to_copy, 1);
                    bump(&counters.bytes_to_copy, source.size);
                }
            }
            if ahead.send(pair).await.is_err() || failed {
                break;
            }
        }
        counters.listing_done.store(true, Ordering::Relaxed);
    };
    let mut summary = Summary::default();
    let copier = &copier;
    let request = &request;
    let copying = async {
        let mut reports = behind
            .take_until(Box::pin(stop))
            .map(|pair| async move {
                match pair {
                    Ok(pair) => {
                        let planned = matches!(pair, Pair::Source { .. })
                            && decide(&pair) != Decision::Unchanged;
                        Ok((process(copier, request, pair).await, planned))
                    }
                    Err(e) => Err(e),
                }
            })
            .buffer_unordered(request.concurrency.max(1));
        while let Some(report) = reports.next().await {
            let (report, planned) = report?;
            match report.outcome {
                Outcome::Copied | Outcome::WouldCopy => {
                    if report.outcome == Outcome::Copied {
                        summary.copied += 1;
                    } else {
                        summary.would_copy += 1;
                    }
                    summary.bytes += report.bytes;
                    bump(&counters.copied, 1);
                    bump(&counters.bytes_copied, report.bytes);
                }
                Outcome::Unchanged => {
                    summary.unchanged += 1;
                    bump(&counters.unchanged, 1);
                    if planned {
                        // Its metadata showed it in place: one fewer to copy than the listing said.
                        counters.to_copy.fetch_sub(1, Ordering::Relaxed);
                        counters
                            .bytes_to_copy
                            .fetch_sub(report.bytes, Ordering::Relaxed);
                    }
                }
                Outcome::Extra => summary.extra += 1,
                Outcome::Failed => {
                    summary.failed += 1;
                    bump(&counters.failed, 1);
                    tracing::warn!(key = %report.key, error = ?report.error, "copy failed");
                }
            }
            on_key(&report)?;
        }
        Ok::<(), Error>(())
    };
    {
        futures::pin_mut!(listing);
        futures::pin_mut!(copying);
        // The copies end the run (all done, interrupted, or an error); the listing then stops too.
        match futures::future::select(listing, copying).await {
            futures::future::Either::Left(((), copying)) => copying.await?,
            futures::future::Either::Right((done, _listing)) => done?,
        }
    }
    summary.listed = counters.listed.load(Ordering::Relaxed);
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
