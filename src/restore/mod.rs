//! The restore engine: listing -> point-in-time resolver -> join with the target -> bounded copy pool.

pub mod archive;
pub mod batch;
pub mod batch_run;
pub mod copy;
pub mod execute;
pub mod journal;
pub mod plan;
pub mod prepare;
pub mod undo;
pub mod verify;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::{Future, SinkExt, StreamExt, TryStreamExt};
use serde::Serialize;

use crate::aws::CountRequests;
use crate::error::{Error, Result};
use crate::filter::KeyFilter;
use crate::listing::{list_versions, ListRequest};
use crate::objects::sha256_of;
use crate::pit::{resolve_stream, DeleteMode};
use crate::progress::{bump, RestoreProgress};
use crate::restore::archive::{is_archived, ArchiveOptions, Requested};
use crate::restore::copy::Copier;
use crate::restore::journal::Journal;
use crate::restore::plan::{
    decide, join, same_content, Decision, Evidence, KeyMap, Outcome, Pair, TargetObject,
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
    /// Restore archived versions (GLACIER, DEEP_ARCHIVE) first, and how; `None`: they fail.
    pub archive: Option<ArchiveOptions>,
    /// Archived versions to copy, as [`scan_archived`] found them (for progress).
    pub archived: u64,
    /// Only the versions a batch job cannot copy (above 5 GiB, or archived): the local pass of
    /// `--engine batch`.
    pub batch_ineligible_only: bool,
    /// Only keys under this path (relative to both prefixes) are listed, e.g. `db/`.
    pub path: String,
    /// Listing requests in flight at once per listing (1 = one stream).
    pub list_concurrency: usize,
    /// Central's versions from an S3 Inventory (`--inventory`) instead of ListObjectVersions; the
    /// target is listed either way.
    pub inventory: Option<std::sync::Arc<crate::inventory_source::Inventory>>,
    /// Prove every copy equal to its central version after writing it (`--verify`).
    pub verify: Option<verify::VerifyMode>,
    /// Only these central keys (a drill's sample); `None`: every key the filter keeps.
    pub only_keys: Option<std::sync::Arc<std::collections::BTreeSet<String>>>,
}

/// What a caller sees of a restore as it runs, whichever engine copies: the per-key report, and
/// the batch engine's decisions and job counters.
pub trait Events {
    /// One key's fate.
    fn key(&mut self, key: &KeyReport) -> Result<()>;
    /// A line for people about what the engine decided (a new attempt, a manifest uploaded).
    fn notice(&mut self, _text: &str) {}
    /// The batch job's counters, each time they are read.
    fn job(&mut self, _job_id: &str, _state: &batch::JobState) {}
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
    /// The archive storage class the version was restored from (archived versions only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<String>,
    /// What proved an unchanged key in place (`version_id`, `journal` or `sha256`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    /// `--verify`: how the written version was proven equal to central's (`checksum CRC32`,
    /// `bytes SHA-256`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<String>,
    /// `--verify`: why the written version could not be proven equal (nor different).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unverified: Option<String>,
    /// The target's current version the copy replaced (absent: the key did not exist there):
    /// what `restore --undo` puts back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaced_version_id: Option<String>,
    /// The version the copy wrote: `restore --undo` acts only while it is still current.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written_version_id: Option<String>,
}

/// Totals of a restore run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Versions and delete markers listed in central.
    pub listed: u64,
    /// Keys whose versions an inventory could not order (two within one second, neither the
    /// current one): their versions were listed and S3's order chose.
    pub inventory_ties: u64,
    /// Objects copied now.
    pub copied: u64,
    /// Objects already in place.
    pub unchanged: u64,
    /// Of those, proven in place by equal SHA-256 checksums (a target version with another id).
    pub unchanged_by_checksum: u64,
    /// Keys whose target held the same size under another version id and no proof of the same
    /// content (no SHA-256 on both sides, or different ones): copied (or to copy) again.
    pub unproven_same_size: u64,
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
    /// `--verify`: copies proven equal by full-object checksums.
    pub verified_by_checksum: u64,
    /// `--verify bytes`: copies proven equal by reading both versions.
    pub verified_by_bytes: u64,
    /// `--verify`: copies that could be proven neither equal nor different.
    pub unverified: u64,
    /// Whether Ctrl-C stopped the run early.
    pub interrupted: bool,
    /// Who read and wrote, and how the bytes travelled.
    pub identity: String,
    /// Archived versions (GLACIER, DEEP_ARCHIVE) that had to be copied.
    pub archived: u64,
    /// Of those, restores this run started (RestoreObject).
    pub archive_requested: u64,
    /// Of those, restores an earlier run had started and that were still running.
    pub archive_in_progress: u64,
    /// Archived versions found readable (restored) by this run.
    pub archive_ready: u64,
    /// Archived versions copied by this run.
    pub archive_copied: u64,
    /// When `--include` left a key out that its `**/` form would take: (that key, the glob).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_hint: Option<(String, String)>,
}

/// What [`scan_archived`] found among the versions a restore must copy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ArchiveScan {
    /// Versions in GLACIER.
    pub glacier: u64,
    /// Versions in DEEP_ARCHIVE.
    pub deep_archive: u64,
    /// RestoreObject sent now.
    pub requested: u64,
    /// A restore already running.
    pub in_progress: u64,
    /// Already readable.
    pub ready: u64,
}

impl Summary {
    /// Counts one key's `--verify` outcome (either engine).
    pub fn count_verification(&mut self, key: &KeyReport) {
        match (&key.verified, &key.unverified) {
            (Some(how), _) if how == verify::BY_BYTES => self.verified_by_bytes += 1,
            (Some(_), _) => self.verified_by_checksum += 1,
            (None, Some(_)) => self.unverified += 1,
            (None, None) => {}
        }
    }
}

impl ArchiveScan {
    /// Archived versions the restore must copy.
    pub fn total(&self) -> u64 {
        self.glacier + self.deep_archive
    }
}

/// The versions selected at TIME (resolved, filtered), in key order, counting listed entries
/// and the keys an inventory left tied within a second (settled by listing them).
fn selected(
    copier: &Copier,
    request: &RestoreRequest,
    on_listed: impl Fn() + Send + 'static,
    on_tie: impl Fn() + Send + Sync + 'static,
) -> impl futures::Stream<Item = Result<crate::version::ObjectVersion>> + Send + 'static {
    let filter = request.filter.clone();
    let map = request.key_map.clone();
    let resolved = match &request.inventory {
        Some(inventory) => crate::inventory_source::resolve_settled(
            inventory.stream().inspect(move |_| on_listed()).boxed(),
            request.at,
            request.delete_mode,
            crate::inventory_source::TieLister {
                client: copier.reader.clone(),
                bucket: copier.source_bucket.clone(),
                page_size: request.page_size,
            },
            on_tie,
        )
        .map_ok(|r| r.version)
        .boxed(),
        None => resolve_stream(
            list_versions(
                copier.reader.clone(),
                ListRequest {
                    bucket: copier.source_bucket.clone(),
                    prefix: format!("{}{}", request.key_map.source_prefix, request.path),
                    page_size: request.page_size,
                    concurrency: request.list_concurrency,
                },
            )
            .inspect(move |_| on_listed()),
            request.at,
            request.delete_mode,
        )
        .boxed(),
    };
    let ineligible_only = request.batch_ineligible_only;
    let only = request.only_keys.clone();
    resolved.try_filter(move |v| {
        let eligible = v.size <= batch::MAX_COPY_BYTES && !is_archived(v.storage_class.as_deref());
        futures::future::ready(
            filter.matches_noting(map.relative(&v.key))
                && !(ineligible_only && eligible)
                && only.as_ref().is_none_or(|keys| keys.contains(&v.key)),
        )
    })
}

/// The target's current objects under the target prefix that the filter keeps, in key order.
fn target_objects(
    copier: &Copier,
    request: &RestoreRequest,
) -> impl futures::Stream<Item = Result<TargetObject>> + Send + 'static {
    let filter = request.filter.clone();
    let map = request.key_map.clone();
    list_versions(
        copier.writer.clone(),
        ListRequest {
            bucket: copier.target_bucket.clone(),
            prefix: format!("{}{}", request.key_map.target_prefix, request.path),
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
}

/// Before the first write: the archived versions (GLACIER, DEEP_ARCHIVE) among those the restore
/// must copy. One listing of central finds whether any selected version is archived at all; only
/// then is the target listed too, so versions already in place are not counted. With `options`
/// (and not `dry_run`) each one's restore is started unless it is running or done, which makes a
/// re-run resume instead of requesting again. Memory is bounded as in [`run`].
pub async fn scan_archived(
    copier: &Copier,
    request: &RestoreRequest,
    options: Option<&ArchiveOptions>,
) -> Result<ArchiveScan> {
    let any = Box::pin(selected(copier, request, || {}, || {}))
        .try_filter(|v| futures::future::ready(is_archived(v.storage_class.as_deref())))
        .try_next()
        .await?;
    if any.is_none() {
        return Ok(ArchiveScan::default());
    }
    let pairs = join(
        request.key_map.clone(),
        selected(copier, request, || {}, || {}),
        target_objects(copier, request),
    );
    let mut found = Box::pin(pairs)
        .map(|pair| async move {
            let Pair::Source { source, target } = pair? else {
                return Ok(None);
            };
            if !is_archived(source.storage_class.as_deref()) {
                return Ok(None);
            }
            let pair = Pair::Source { source, target };
            let must_copy = match known_decision(copier, &pair) {
                Decision::Copy => true,
                Decision::CompareChecksums => {
                    let Pair::Source { source, target } = &pair else {
                        return Ok(None);
                    };
                    proven_same(copier, source, target.as_ref())
                        .await?
                        .is_none()
                }
                Decision::Unchanged(_) | Decision::Extra => false,
            };
            let Pair::Source { source, .. } = pair else {
                return Ok(None);
            };
            if !must_copy {
                return Ok(None);
            }
            let requested = match options {
                Some(o) if !request.dry_run => Some(
                    archive::request(
                        &copier.reader,
                        &copier.source_bucket,
                        copier.source_owner.as_deref(),
                        &source,
                        o,
                    )
                    .await?,
                ),
                _ => None,
            };
            Ok::<_, Error>(Some((source.storage_class, requested)))
        })
        .buffer_unordered(request.concurrency.max(1));
    let mut scan = ArchiveScan::default();
    while let Some(item) = found.next().await {
        let Some((class, requested)) = item? else {
            continue;
        };
        if class.as_deref() == Some("DEEP_ARCHIVE") {
            scan.deep_archive += 1;
        } else {
            scan.glacier += 1;
        }
        match requested {
            Some(Requested::Started) => scan.requested += 1,
            Some(Requested::InProgress) => scan.in_progress += 1,
            Some(Requested::Ready) => scan.ready += 1,
            None => {}
        }
    }
    Ok(scan)
}

/// The central keys a restore would select at TIME, fed to `keep` one by one (a drill samples
/// them); returns how many there were. Memory is what `keep` holds.
pub async fn for_each_selected(
    copier: &Copier,
    request: &RestoreRequest,
    mut keep: impl FnMut(&crate::version::ObjectVersion),
) -> Result<u64> {
    let keys = selected(copier, request, || {}, || {});
    futures::pin_mut!(keys);
    let mut n = 0;
    while let Some(v) = keys.try_next().await? {
        keep(&v);
        n += 1;
    }
    Ok(n)
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
    let ties = std::sync::Arc::new(AtomicU64::new(0));
    let source = {
        let (shared, ties) = (progress.shared(), ties.clone());
        selected(
            &copier,
            &request,
            move || bump(&shared.listed, 1),
            move || bump(&ties, 1),
        )
    };
    let target = target_objects(&copier, &request);
    let deadline = request
        .archive
        .as_ref()
        .map(|o| started + o.timeout)
        .unwrap_or(started + Duration::ZERO);
    counters.archived.store(request.archived, Ordering::Relaxed);
    let ready = &counters.archive_ready;
    // The listings feed a bounded channel, so they run ahead of the copies and count the keys.
    // Each pair travels with its decision, made once (the journal lookup hashes two strings).
    let (mut ahead, behind) =
        futures::channel::mpsc::channel::<Result<(Pair, Decision)>>(LOOKAHEAD);
    let key_map = request.key_map.clone();
    let journal = copier.journal.clone();
    let central = copier.source_bucket.clone();
    let listing = async move {
        let pairs = join(key_map, source, target);
        futures::pin_mut!(pairs);
        while let Some(pair) = pairs.next().await {
            let failed = pair.is_err();
            let decided = pair.map(|pair| {
                let decided = decide_with(journal.as_deref(), &central, &pair);
                if let Pair::Source { source, .. } = &pair {
                    bump(&counters.keys, 1);
                    if !matches!(decided, Decision::Unchanged(_)) {
                        bump(&counters.to_copy, 1);
                        bump(&counters.bytes_to_copy, source.size);
                    }
                }
                (pair, decided)
            });
            if ahead.send(decided).await.is_err() || failed {
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
                    Ok((pair, decided)) => Ok((
                        process(copier, request, pair, decided, deadline, ready).await,
                        decided,
                    )),
                    Err(e) => Err(e),
                }
            })
            .buffer_unordered(request.concurrency.max(1));
        while let Some(report) = reports.next().await {
            let (report, decided) = report?;
            let planned = !matches!(decided, Decision::Unchanged(_) | Decision::Extra);
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
                    if report.evidence == Some(Evidence::Sha256) {
                        summary.unchanged_by_checksum += 1;
                    }
                    if planned {
                        // Its checksums proved it in place: one fewer to copy than the listing said.
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
            if decided == Decision::CompareChecksums && report.outcome != Outcome::Unchanged {
                summary.unproven_same_size += 1;
            }
            summary.count_verification(&report);
            if report.archive.is_some() && report.outcome == Outcome::Copied {
                summary.archive_copied += 1;
                bump(&counters.archive_copied, 1);
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
    summary.inventory_ties = ties.load(Ordering::Relaxed);
    summary.include_hint = request.filter.hint();
    summary.archive_ready = ready.load(Ordering::Relaxed);
    summary.seconds = started.elapsed().as_secs_f64();
    summary.objects_per_second = if summary.seconds > 0.0 {
        summary.copied as f64 / summary.seconds
    } else {
        0.0
    };
    summary.requests = requests();
    Ok(summary)
}

/// Copies one key unless its decision (made by [`decide_with`] as it was listed) finds it in place;
/// failures become a report, not an error.
async fn process(
    copier: &Copier,
    request: &RestoreRequest,
    pair: Pair,
    decision: Decision,
    deadline: Instant,
    ready: &AtomicU64,
) -> KeyReport {
    let map = &request.key_map;
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
                archive: None,
                evidence: None,
                verified: None,
                unverified: None,
                replaced_version_id: None,
                written_version_id: None,
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
        archive: None,
        evidence: None,
        verified: None,
        unverified: None,
        replaced_version_id: None,
        written_version_id: None,
    };
    let count = CountRequests::default();
    let archive = Archive { deadline, ready };
    // Boxed: the copy's futures would otherwise be laid out (and moved) inline in every key's.
    let report = count
        .scope(Box::pin(decide_and_copy(
            copier, request, decision, source, target, report, archive,
        )))
        .await;
    KeyReport {
        requests: count.get(),
        ..report
    }
}

/// When archived versions must be readable, and the counter of those found readable.
#[derive(Clone, Copy)]
struct Archive<'a> {
    deadline: Instant,
    ready: &'a AtomicU64,
}

/// The part of [`process`] that makes requests, all counted by its caller's scoped counter.
#[allow(clippy::too_many_arguments)]
async fn decide_and_copy(
    copier: &Copier,
    request: &RestoreRequest,
    decision: Decision,
    source: crate::version::ObjectVersion,
    target: Option<TargetObject>,
    mut report: KeyReport,
    archive: Archive<'_>,
) -> KeyReport {
    let target_key = report.target_key.clone();
    let in_place = match decision {
        Decision::Unchanged(evidence) => Some(evidence),
        Decision::Copy | Decision::Extra => None,
        Decision::CompareChecksums => match proven_same(copier, &source, target.as_ref()).await {
            Ok(evidence) => evidence,
            Err(e) => {
                report.outcome = Outcome::Failed;
                report.error = Some(copier.explain(e));
                return report;
            }
        },
    };
    if in_place.is_some() || decision == Decision::Extra {
        if let (Some(Evidence::Sha256), Some(journal), Some(target), false) =
            (in_place, &copier.journal, &target, request.dry_run)
        {
            // Proven equal: the next run need not ask S3 again.
            if let Err(e) = journal.copied(
                &target.key,
                &copier.source_bucket,
                &source,
                &target.version_id,
            ) {
                tracing::warn!(key = %target.key, error = %e, "could not record the proven copy in the journal");
            }
        }
        report.evidence = in_place;
        return report;
    }
    if request.dry_run {
        report.outcome = Outcome::WouldCopy;
        report.replaced_version_id = target.as_ref().map(|t| t.version_id.clone());
        return report;
    }
    if is_archived(source.storage_class.as_deref()) {
        report.archive = source.storage_class.clone();
        let class = source.storage_class.as_deref().unwrap_or_default();
        let Some(options) = &request.archive else {
            report.outcome = Outcome::Failed;
            report.error = Some(format!(
                "the version is in {class}: restore it first with --archive-restore TIER"
            ));
            return report;
        };
        match archive::wait_ready(
            &copier.reader,
            &copier.source_bucket,
            copier.source_owner.as_deref(),
            &source,
            options,
            archive.deadline,
        )
        .await
        {
            Ok(true) => {
                archive.ready.fetch_add(1, Ordering::Relaxed);
            }
            Ok(false) => {
                report.outcome = Outcome::Failed;
                report.error = Some(format!(
                    "still being restored from {class} after {}: run the same command again later (the restore is not requested twice)",
                    humantime::format_duration(options.timeout)
                ));
                return report;
            }
            Err(e) => {
                report.outcome = Outcome::Failed;
                report.error = Some(copier.explain(e));
                return report;
            }
        }
    }
    if let Some(journal) = &copier.journal {
        let planned_over = target.as_ref().map(|t| t.version_id.as_str());
        if let Err(e) = journal.copying(&target_key, &copier.source_bucket, &source, planned_over) {
            report.outcome = Outcome::Failed;
            report.error = Some(copier.explain(e));
            return report;
        }
    }
    match copier.copy(&source, &target_key).await {
        Ok(written) => {
            if let (Some(journal), Some(version)) = (&copier.journal, &written.version_id) {
                if let Err(e) = journal.copied(&target_key, &copier.source_bucket, &source, version)
                {
                    tracing::warn!(key = %target_key, error = %e, "copied, but not recorded in the journal: a re-run checks this key again");
                }
            }
            report.bytes = written.bytes;
            report.outcome = Outcome::Copied;
            report.replaced_version_id = target.as_ref().map(|t| t.version_id.clone());
            report.written_version_id = written.version_id.clone();
            if let Some(mode) = request.verify {
                let written = written.version_id.as_deref();
                // Boxed, as the copy is: only verified keys pay for the verification's future.
                let verdict =
                    Box::pin(verify::verify(copier, &source, &target_key, written, mode)).await;
                verify::record(&mut report, verdict, copier);
            }
        }
        Err(e) => {
            report.outcome = Outcome::Failed;
            report.error = Some(copier.explain(e));
        }
    }
    report
}

/// [`decide`] with the copier's journal.
fn known_decision(copier: &Copier, pair: &Pair) -> Decision {
    decide_with(copier.journal.as_deref(), &copier.source_bucket, pair)
}

/// [`decide`] with the journal: a same-size target version that the journal records as the one
/// S3 returned for a copy of the selected version is in place without a request.
fn decide_with(journal: Option<&Journal>, central: &str, pair: &Pair) -> Decision {
    match (decide(pair), journal, pair) {
        (
            Decision::CompareChecksums,
            Some(journal),
            Pair::Source {
                source,
                target: Some(target),
            },
        ) if journal.recorded_copy(target, central, source) => {
            Decision::Unchanged(Evidence::Journal)
        }
        (decision, _, _) => decision,
    }
}

/// Whether the target's current version holds the selected version's content, proven by equal
/// SHA-256 checksums (see [`same_content`]); `None`: not proven, copy. Central is asked first:
/// most versions carry no SHA-256, and then the target is not asked at all.
async fn proven_same(
    copier: &Copier,
    source: &crate::version::ObjectVersion,
    target: Option<&TargetObject>,
) -> Result<Option<Evidence>> {
    let Some(target) = target else {
        return Ok(None);
    };
    let central = sha256_of(
        &copier.reader,
        &copier.source_bucket,
        &source.key,
        &source.version_id,
        copier.source_owner.as_deref(),
    )
    .await?;
    if central.is_none() {
        return Ok(None);
    }
    let current = sha256_of(
        &copier.writer,
        &copier.target_bucket,
        &target.key,
        &target.version_id,
        copier.target_owner.as_deref(),
    )
    .await?;
    Ok(same_content(central.as_deref(), current.as_deref()).then_some(Evidence::Sha256))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::restore::copy::{CopyMode, Provenance};
    use crate::restore::plan::tests::{target, version};

    /// A client that is never polled: futures are built, not run.
    fn idle_client() -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::Config::builder()
                .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
                .region(aws_sdk_s3::config::Region::new("us-east-1"))
                .build(),
        )
    }

    /// Every key's future is allocated and moved by `buffer_unordered`. The SDK's request futures
    /// are about 9 KiB, and each async layer holding one inline doubles it (before the boxing in
    /// `process`, `decide_and_copy` and the copier, a key's future was 245,784 bytes in the
    /// release build: 14% of a restore's instructions were its memcpys). Bounded here: the key's
    /// future, the work it boxes (the journal check's HeadObject and the archive wait are boxed
    /// where they are sent), and the copy.
    #[test]
    fn a_keys_future_stays_small() {
        let client = idle_client();
        for (mode, provenance) in [
            (CopyMode::Server, Provenance::Journal),
            (CopyMode::Server, Provenance::Metadata),
            (CopyMode::Stream, Provenance::Journal),
        ] {
            let copier = Copier {
                reader: client.clone(),
                writer: client.clone(),
                source_bucket: "central".into(),
                target_bucket: "target".into(),
                kms_key_arn: "arn:aws:kms:us-east-1:111111111111:key/k".into(),
                mode,
                multipart_threshold: 8 << 20,
                part_size: 8 << 20,
                provenance,
                journal: None,
                source_owner: Some("123456789012".into()),
                target_owner: Some("111111111111".into()),
                acting_as: None,
            };
            let request = RestoreRequest {
                at: DateTime::from_timestamp(2, 0).unwrap(),
                delete_mode: DeleteMode::Ignore,
                key_map: KeyMap {
                    source_prefix: "111111111111/".into(),
                    target_prefix: "111111111111/".into(),
                },
                filter: KeyFilter::default(),
                concurrency: 32,
                dry_run: false,
                page_size: 1000,
                archive: None,
                archived: 0,
                batch_ineligible_only: false,
                path: String::new(),
                list_concurrency: 4,
                inventory: None,
                verify: None,
                only_keys: None,
            };
            let ready = AtomicU64::new(0);
            let pair = Pair::Source {
                source: version("111111111111/a", "v1", 3),
                target: Some(target("111111111111/a", "t1", 3)),
            };
            let key = process(
                &copier,
                &request,
                pair,
                Decision::CompareChecksums,
                Instant::now(),
                &ready,
            );
            let size = std::mem::size_of_val(&key);
            assert!(
                size <= 2048,
                "{mode:?}/{provenance:?}: a key's future is {size} bytes"
            );
            let source = version("111111111111/a", "v1", 3);
            let report = KeyReport {
                key: "a".into(),
                version_id: "v1".into(),
                target_key: "111111111111/a".into(),
                bytes: 3,
                outcome: Outcome::Unchanged,
                requests: 0,
                error: None,
                archive: None,
                evidence: None,
                verified: None,
                unverified: None,
                replaced_version_id: None,
                written_version_id: None,
            };
            let work = decide_and_copy(
                &copier,
                &request,
                Decision::CompareChecksums,
                source.clone(),
                Some(target("111111111111/a", "t1", 3)),
                report,
                Archive {
                    deadline: Instant::now(),
                    ready: &ready,
                },
            );
            let size = std::mem::size_of_val(&work);
            assert!(
                size <= 4096,
                "{mode:?}/{provenance:?}: a key's boxed work is {size} bytes"
            );
            let copy = copier.copy(&source, "111111111111/a");
            let size = std::mem::size_of_val(&copy);
            assert!(
                size <= 4096,
                "{mode:?}/{provenance:?}: a copy's future is {size} bytes"
            );
        }
    }
}
