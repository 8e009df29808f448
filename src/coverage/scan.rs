//! The I/O half of coverage: the two listings joined by [`super::join`], each gap classified by a
//! HeadObject of the source version, the objects outside the account prefix counted, and the
//! replication status of an account's newest objects.

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt};

use crate::coverage::{is_current_object, join, readable_by_central, Counts, Gap};
use crate::error::{Error, Result};
use crate::listing::{list_versions, ListRequest};
use crate::objects::head_version;
use crate::version::ObjectVersion;

/// Whether the bucket holds any object under the prefix, and the replication status
/// (HeadObject `x-amz-replication-status`) of the newest `recent` of them, counted.
pub async fn recent_replication(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    recent: usize,
) -> Result<(bool, BTreeMap<String, usize>)> {
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
    let any_object = !page.contents().is_empty();
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
    Ok((any_object, counts))
}

/// HeadObject requests in flight per account while classifying gaps.
const GAP_HEADS: usize = 16;

/// How coverage reads the listings and central's replicas.
#[derive(Debug, Clone)]
pub struct CoverageOptions {
    /// Entries per listing request.
    pub page_size: i32,
    /// Unprotected versions kept per account (the counts are always complete).
    pub max_gaps: usize,
    /// The central key's ARN (`None`: central has no key, so no KMS replica is central's).
    pub central_key_arn: Option<String>,
    /// Whether each replica's encryption is read (one HeadObject per replica).
    pub check_keys: bool,
}

/// One account's coverage: counts and the first `max_gaps` unprotected versions with their gap.
#[derive(Debug)]
pub struct AccountCoverage {
    /// Every current version under the prefix, classified.
    pub counts: Counts,
    /// The first unprotected versions, in key order.
    pub gaps: Vec<(ObjectVersion, Gap)>,
}

/// Joins the source's current versions under the account prefix with central's entries under it,
/// classifies each gap by HeadObject, and counts the objects outside the prefix.
pub async fn account_coverage(
    source_s3: aws_sdk_s3::Client,
    central_s3: aws_sdk_s3::Client,
    central_bucket: &str,
    source_bucket: &str,
    prefix: &str,
    options: &CoverageOptions,
) -> Result<AccountCoverage> {
    let (page_size, max_gaps) = (options.page_size, options.max_gaps);
    let prefix = prefix.to_owned();
    let last_key = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
    let source_entries = {
        let last_key = last_key.clone();
        list_versions(
            source_s3.clone(),
            ListRequest {
                bucket: source_bucket.to_owned(),
                prefix: prefix.clone(),
                page_size,
                concurrency: crate::listing::DEFAULT_LIST_CONCURRENCY,
            },
        )
        .inspect(move |entry| {
            if let (Ok(v), Ok(mut last)) = (entry, last_key.lock()) {
                *last = Some(v.key.clone());
            }
        })
        .try_filter(|v| futures::future::ready(is_current_object(v)))
    };
    let central_entries = list_versions(
        central_s3.clone(),
        ListRequest {
            bucket: central_bucket.to_owned(),
            prefix: prefix.clone(),
            page_size,
            concurrency: crate::listing::DEFAULT_LIST_CONCURRENCY,
        },
    );
    let mut joined = Box::pin(
        join(source_entries, central_entries)
            .map(|j| {
                let s3 = source_s3.clone();
                let bucket = source_bucket.to_owned();
                let central_s3 = &central_s3;
                async move {
                    let j = j?;
                    let gap = match (j.replicated, options.check_keys) {
                        (true, false) => None,
                        // The replica is there: is it under central's key?
                        (true, true) => {
                            let replica = head_version(
                                central_s3,
                                central_bucket,
                                &j.source.key,
                                &j.source.version_id,
                                None,
                            )
                            .await?;
                            let readable = readable_by_central(
                                replica.server_side_encryption().map(|s| s.as_str()),
                                replica.ssekms_key_id(),
                                replica.sse_customer_algorithm().is_some(),
                                options.central_key_arn.as_deref(),
                            );
                            (!readable).then_some(Gap::ForeignKey)
                        }
                        // No replica: why not, by the source version's replication status.
                        (false, _) => {
                            let head = head_version(
                                &s3,
                                &bucket,
                                &j.source.key,
                                &j.source.version_id,
                                None,
                            )
                            .await?;
                            Some(Gap::from_status(
                                head.replication_status().map(|s| s.as_str()),
                            ))
                        }
                    };
                    Ok::<_, Error>((j.source, gap))
                }
            })
            .buffered(GAP_HEADS),
    );
    let mut counts = Counts::default();
    let mut gaps = Vec::new();
    while let Some(item) = joined.next().await {
        let (version, gap) = item?;
        counts.current += 1;
        match gap {
            None => counts.replicated += 1,
            Some(gap) => {
                counts.add_gap(gap);
                if gaps.len() < max_gaps {
                    gaps.push((version, gap));
                }
            }
        }
    }
    drop(joined);
    let last = last_key.lock().ok().and_then(|l| l.clone());
    counts.outside_prefix = count_outside(&source_s3, source_bucket, &prefix, last).await?;
    Ok(AccountCoverage { counts, gaps })
}

/// Current objects of the bucket outside `prefix`: those before it, then those after the last key
/// under it (`last`, from the version listing), so the prefix itself is not listed twice.
pub async fn count_outside(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    last: Option<String>,
) -> Result<u64> {
    let mut n = 0u64;
    let mut before = s3.list_objects_v2().bucket(bucket).into_paginator().send();
    'before: while let Some(page) = before.next().await {
        let page = page.map_err(|e| Error::from_sdk("ListObjectsV2", bucket.to_owned(), e))?;
        for object in page.contents() {
            if object.key().unwrap_or_default() >= prefix {
                break 'before;
            }
            n += 1;
        }
    }
    let mut after = s3
        .list_objects_v2()
        .bucket(bucket)
        .start_after(last.unwrap_or_else(|| prefix.to_owned()))
        .into_paginator()
        .send();
    while let Some(page) = after.next().await {
        let page = page.map_err(|e| Error::from_sdk("ListObjectsV2", bucket.to_owned(), e))?;
        n += page
            .contents()
            .iter()
            .filter(|o| !o.key().unwrap_or_default().starts_with(prefix))
            .count() as u64;
    }
    Ok(n)
}
