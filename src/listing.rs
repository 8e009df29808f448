//! ListObjectVersions as a stream of entries in S3's order, with bounded page prefetch.
//!
//! The SDK returns a page's versions and delete markers in two separate arrays. S3's order
//! (key ascending, newest first within a key) is recovered from the order of the `<Version>` and
//! `<DeleteMarker>` elements in the raw response; when that order is not a valid S3 order (some
//! S3-compatible servers list all markers after all versions) the two arrays are merged by key and
//! time instead.

use std::sync::{Arc, Mutex};

use aws_sdk_s3::types::EncodingType;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, StreamExt};
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::partition::{list_partitioned, Marker, PageSource, PlanLimits, RawPage};
use crate::version::{url_decode, ObjectVersion};

/// Pages fetched ahead of the consumer: enough to overlap network and work, bounded for memory.
const PREFETCH_PAGES: usize = 2;

/// The most entries S3 returns in one page; also the default page size.
pub const MAX_PAGE_SIZE: i32 = 1000;

/// The default of `--list-concurrency`: concurrent listing streams per prefix.
pub const DEFAULT_LIST_CONCURRENCY: usize = 4;

/// What to list: a bucket, a key prefix, a page size and how many streams may list it at once.
#[derive(Debug, Clone)]
pub struct ListRequest {
    /// The bucket to list.
    pub bucket: String,
    /// Only keys starting with this.
    pub prefix: String,
    /// Entries per page (1..=1000); small values are for tests and tuning.
    pub page_size: i32,
    /// Listing requests in flight at once: 1 is one stream; more split the prefix into key ranges
    /// listed concurrently and merged back into S3 order (see [`crate::partition`]).
    pub concurrency: usize,
}

/// Streams every version and delete marker under the prefix, in S3's order.
///
/// With `concurrency` 1, one stream whose background task fetches pages ahead (at most
/// [`PREFETCH_PAGES`]); with more, partitions listed concurrently, each buffering at most that
/// many pages. Background work stops when the stream is dropped. An error ends the stream.
pub fn list_versions(
    client: aws_sdk_s3::Client,
    request: ListRequest,
) -> BoxStream<'static, Result<ObjectVersion>> {
    if request.concurrency > 1 {
        let concurrency = request.concurrency;
        let page_size = request.page_size;
        let source = std::sync::Arc::new(S3Source { client, request });
        return list_partitioned(
            source,
            page_size,
            concurrency,
            PREFETCH_PAGES,
            PlanLimits::default(),
        );
    }
    let (tx, rx) = mpsc::channel::<Result<Vec<ObjectVersion>>>(PREFETCH_PAGES);
    tokio::spawn(async move {
        let mut marker: Option<Marker> = None;
        loop {
            match fetch_page(&client, &request, None, marker.take(), request.page_size).await {
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
                Ok(page) => {
                    if tx.send(Ok(page.entries)).await.is_err() {
                        return;
                    }
                    match page.next {
                        Some(next) => marker = Some(next),
                        None => return,
                    }
                }
            }
        }
    });
    stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|page| (page, rx))
    })
    .flat_map(|page| match page {
        Ok(entries) => stream::iter(entries.into_iter().map(Ok)).left_stream(),
        Err(e) => stream::iter(vec![Err(e)]).right_stream(),
    })
    .boxed()
}

/// ListObjectVersions of one bucket and prefix, as the partitioned lister's page source.
struct S3Source {
    client: aws_sdk_s3::Client,
    request: ListRequest,
}

impl PageSource for S3Source {
    fn prefix(&self) -> &str {
        &self.request.prefix
    }

    fn page(
        &self,
        delimiter: bool,
        marker: Option<Marker>,
        max_keys: i32,
    ) -> BoxFuture<'static, Result<RawPage>> {
        let client = self.client.clone();
        let request = self.request.clone();
        Box::pin(async move {
            fetch_page(
                &client,
                &request,
                delimiter.then_some("/"),
                marker,
                max_keys,
            )
            .await
        })
    }
}

/// The first-level "directories" under `prefix` (with the delimiter `/`), over every version.
pub async fn list_common_prefixes(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<String>> {
    let request = ListRequest {
        bucket: bucket.to_owned(),
        prefix: prefix.to_owned(),
        page_size: MAX_PAGE_SIZE,
        concurrency: 1,
    };
    let mut prefixes = Vec::new();
    let mut marker = None;
    loop {
        let page = fetch_page(client, &request, Some("/"), marker.take(), MAX_PAGE_SIZE).await?;
        prefixes.extend(page.common_prefixes);
        match page.next {
            Some(next) => marker = Some(next),
            None => break,
        }
    }
    prefixes.sort();
    prefixes.dedup();
    Ok(prefixes)
}

/// Fetches one page, passing BOTH markers of the previous page as S3 requires (a KeyMarker alone
/// only for partition planning probes, which trust nothing at or before it).
async fn fetch_page(
    client: &aws_sdk_s3::Client,
    request: &ListRequest,
    delimiter: Option<&str>,
    marker: Option<Marker>,
    max_keys: i32,
) -> Result<RawPage> {
    let order = Arc::new(Mutex::new(None));
    let (key_marker, version_marker) = match marker {
        Some(m) => (Some(m.key), m.version_id),
        None => (None, None),
    };
    let out = client
        .list_object_versions()
        .bucket(&request.bucket)
        .prefix(&request.prefix)
        .max_keys(max_keys.clamp(1, MAX_PAGE_SIZE))
        .encoding_type(EncodingType::Url)
        .set_delimiter(delimiter.map(str::to_owned))
        .set_key_marker(key_marker)
        .set_version_id_marker(version_marker)
        .customize()
        .interceptor(RecordEntryOrder(order.clone()))
        .send()
        .await
        .map_err(|e| {
            Error::from_sdk(
                "ListObjectVersions",
                format!("s3://{}/{}", request.bucket, request.prefix),
                e,
            )
            .with_bucket_hint(&request.bucket, "--central-bucket / S3CENTRAL_BUCKET")
        })?;
    let encoded = out.encoding_type() == Some(&EncodingType::Url);
    let decode = |s: &str| -> String {
        if encoded {
            url_decode(s)
        } else {
            s.to_owned()
        }
    };
    let versions: Vec<ObjectVersion> = out
        .versions()
        .iter()
        .map(|v| ObjectVersion {
            key: decode(v.key().unwrap_or_default()),
            version_id: v.version_id().unwrap_or("null").to_owned(),
            last_modified: to_chrono(v.last_modified()),
            size: v.size().unwrap_or(0).max(0) as u64,
            etag: v.e_tag().map(|e| e.trim_matches('"').to_owned()),
            storage_class: v.storage_class().map(|c| c.as_str().to_owned()),
            is_latest: v.is_latest().unwrap_or(false),
            is_delete_marker: false,
        })
        .collect();
    let markers: Vec<ObjectVersion> = out
        .delete_markers()
        .iter()
        .map(|m| ObjectVersion {
            key: decode(m.key().unwrap_or_default()),
            version_id: m.version_id().unwrap_or("null").to_owned(),
            last_modified: to_chrono(m.last_modified()),
            size: 0,
            etag: None,
            storage_class: None,
            is_latest: m.is_latest().unwrap_or(false),
            is_delete_marker: true,
        })
        .collect();
    let recorded = order.lock().ok().and_then(|mut o| o.take());
    let entries = merge_in_s3_order(versions, markers, recorded.as_deref());
    let next = if out.is_truncated().unwrap_or(false) {
        match (out.next_key_marker(), out.next_version_id_marker()) {
            (Some(k), v) => Some(Marker {
                key: decode(k),
                version_id: v.map(str::to_owned),
            }),
            (None, _) => {
                return Err(Error::Aws {
                    op: "ListObjectVersions",
                    resource: format!("s3://{}/{}", request.bucket, request.prefix),
                    detail: "truncated page without NextKeyMarker".into(),
                })
            }
        }
    } else {
        None
    };
    Ok(RawPage {
        entries,
        common_prefixes: out
            .common_prefixes()
            .iter()
            .filter_map(|p| p.prefix().map(&decode))
            .collect(),
        next,
    })
}

/// Converts the SDK's timestamp; a missing one (never seen from S3) sorts as the epoch.
fn to_chrono(t: Option<&aws_smithy_types::DateTime>) -> DateTime<Utc> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
        .unwrap_or_default()
}

/// Which array an element of the raw response came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A `<Version>` element.
    Version,
    /// A `<DeleteMarker>` element.
    DeleteMarker,
}

/// Reads the order of `<Version>` and `<DeleteMarker>` elements in a ListObjectVersions body.
///
/// Keys and other text are XML-escaped, so a literal `<Version>` can only be an element.
pub fn entry_order(body: &[u8]) -> Vec<EntryKind> {
    memchr::memchr_iter(b'<', body)
        .filter_map(|at| {
            let tag = &body[at + 1..];
            if tag.starts_with(b"Version>") {
                Some(EntryKind::Version)
            } else if tag.starts_with(b"DeleteMarker>") {
                Some(EntryKind::DeleteMarker)
            } else {
                None
            }
        })
        .collect()
}

/// Puts a page's versions and markers back into one sequence in S3's order.
///
/// Each array is already in S3's order. `recorded` is the element order of the raw response; it is
/// used when it accounts for every entry and yields a valid S3 order. Otherwise the arrays are
/// merged by key ascending, then time descending; a same-second tie goes to the entry flagged
/// latest, then to the version.
pub fn merge_in_s3_order(
    versions: Vec<ObjectVersion>,
    markers: Vec<ObjectVersion>,
    recorded: Option<&[EntryKind]>,
) -> Vec<ObjectVersion> {
    if markers.is_empty() {
        return versions;
    }
    if versions.is_empty() {
        return markers;
    }
    if let Some(order) = recorded {
        let n_versions = order.iter().filter(|k| **k == EntryKind::Version).count();
        if n_versions == versions.len() && order.len() == versions.len() + markers.len() {
            let mut v = versions.iter();
            let mut m = markers.iter();
            let merged: Vec<ObjectVersion> = order
                .iter()
                .filter_map(|kind| match kind {
                    EntryKind::Version => v.next().cloned(),
                    EntryKind::DeleteMarker => m.next().cloned(),
                })
                .collect();
            if is_s3_order(&merged) {
                return merged;
            }
        }
    }
    let mut merged = Vec::with_capacity(versions.len() + markers.len());
    let mut v = versions.into_iter().peekable();
    let mut m = markers.into_iter().peekable();
    loop {
        let take_version = match (v.peek(), m.peek()) {
            (Some(a), Some(b)) => version_goes_first(a, b),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_version { v.next() } else { m.next() };
        merged.extend(next);
    }
    merged
}

/// Whether version `a` precedes marker `b` in S3's order.
fn version_goes_first(a: &ObjectVersion, b: &ObjectVersion) -> bool {
    match a.key.cmp(&b.key) {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Greater => false,
        std::cmp::Ordering::Equal => match a.last_modified.cmp(&b.last_modified) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Equal => a.is_latest || !b.is_latest,
        },
    }
}

/// Whether a sequence is key ascending and, within a key, time non-increasing with the entry
/// flagged latest first.
fn is_s3_order(entries: &[ObjectVersion]) -> bool {
    entries.windows(2).all(|w| match w[0].key.cmp(&w[1].key) {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Equal => w[0].last_modified >= w[1].last_modified && !w[1].is_latest,
        std::cmp::Ordering::Greater => false,
    })
}

/// Records the element order of one ListObjectVersions response (attached per request).
#[derive(Debug)]
struct RecordEntryOrder(Arc<Mutex<Option<Vec<EntryKind>>>>);

impl Intercept for RecordEntryOrder {
    fn name(&self) -> &'static str {
        "RecordEntryOrder"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(body) = context.response().body().bytes() {
            if let Ok(mut slot) = self.0.lock() {
                *slot = Some(entry_order(body));
            }
        } else {
            tracing::debug!("ListObjectVersions body not buffered; merging by time");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, secs: i64, id: &str, marker: bool, latest: bool) -> ObjectVersion {
        ObjectVersion {
            key: key.into(),
            version_id: id.into(),
            last_modified: DateTime::from_timestamp(secs, 0).unwrap(),
            size: if marker { 0 } else { 1 },
            etag: None,
            storage_class: None,
            is_latest: latest,
            is_delete_marker: marker,
        }
    }

    fn ids(entries: &[ObjectVersion]) -> Vec<&str> {
        entries.iter().map(|e| e.version_id.as_str()).collect()
    }

    #[test]
    fn reads_element_order_from_raw_xml() {
        let body = br#"<?xml version="1.0"?><ListVersionsResult><Name>b</Name><Version><Key>a&lt;Version&gt;</Key><VersionId>1</VersionId></Version><DeleteMarker><Key>a</Key></DeleteMarker><Version><Key>b</Key></Version></ListVersionsResult>"#;
        assert_eq!(
            entry_order(body),
            vec![
                EntryKind::Version,
                EntryKind::DeleteMarker,
                EntryKind::Version
            ]
        );
    }

    #[test]
    fn recorded_order_decides_same_second_ties() {
        // a: marker m1 (latest) and version v1 in the same second, then older v0.
        let versions = vec![
            entry("a", 10, "v1", false, false),
            entry("a", 5, "v0", false, false),
        ];
        let markers = vec![entry("a", 10, "m1", true, true)];
        let order = [
            EntryKind::DeleteMarker,
            EntryKind::Version,
            EntryKind::Version,
        ];
        let merged = merge_in_s3_order(versions.clone(), markers.clone(), Some(&order));
        assert_eq!(ids(&merged), ["m1", "v1", "v0"]);
        // Once the key was deleted (m2) and written again (v2) in the same second, S3 lists v2
        // (latest) first, then m2; neither time nor kind could tell.
        let versions = vec![
            entry("a", 10, "v2", false, true),
            entry("a", 5, "v0", false, false),
        ];
        let markers = vec![entry("a", 10, "m2", true, false)];
        let order = [
            EntryKind::Version,
            EntryKind::DeleteMarker,
            EntryKind::Version,
        ];
        let merged = merge_in_s3_order(versions, markers, Some(&order));
        assert_eq!(ids(&merged), ["v2", "m2", "v0"]);
    }

    #[test]
    fn invalid_recorded_order_falls_back_to_key_and_time() {
        // A server that lists all markers after all versions.
        let versions = vec![
            entry("a", 5, "a-v", false, false),
            entry("b", 7, "b-v", false, true),
        ];
        let markers = vec![entry("a", 6, "a-m", true, true)];
        let order = [
            EntryKind::Version,
            EntryKind::Version,
            EntryKind::DeleteMarker,
        ];
        let merged = merge_in_s3_order(versions, markers, Some(&order));
        assert_eq!(ids(&merged), ["a-m", "a-v", "b-v"]);
    }

    #[test]
    fn recorded_order_with_latest_after_a_tie_is_not_trusted() {
        // A server that lists the latest marker after a same-second version of its key.
        let versions = vec![entry("b", 5, "v", false, false)];
        let markers = vec![entry("b", 5, "m", true, true)];
        let order = [EntryKind::Version, EntryKind::DeleteMarker];
        assert_eq!(
            ids(&merge_in_s3_order(versions, markers, Some(&order))),
            ["m", "v"]
        );
    }

    #[test]
    fn fallback_tie_prefers_latest_flag() {
        let versions = vec![entry("a", 5, "v", false, true)];
        let markers = vec![entry("a", 5, "m", true, false)];
        assert_eq!(ids(&merge_in_s3_order(versions, markers, None)), ["v", "m"]);
        let versions = vec![entry("a", 5, "v", false, false)];
        let markers = vec![entry("a", 5, "m", true, true)];
        assert_eq!(ids(&merge_in_s3_order(versions, markers, None)), ["m", "v"]);
    }

    #[test]
    fn decodes_form_encoded_keys() {
        assert_eq!(url_decode("a+b%2Bc%25d%2F%2Fe"), "a b+c%d//e");
        assert_eq!(url_decode("%C3%A9t%C3%A9"), "été");
    }
}
