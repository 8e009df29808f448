//! Coverage: the pure merge-join that proves each current source version has its replica in central.
//!
//! Two listings in S3's order (key ascending) are walked side by side: the source bucket's versions
//! under the account prefix and the central bucket's versions under the same prefix. A replica
//! keeps its source's key and version id, so a current source version is protected exactly when a
//! central entry of the same key carries the same version id. Memory is one entry per side and a
//! flag, whatever the number of objects or versions.

pub mod scan;

use std::pin::Pin;

use futures::stream::{Peekable, Stream, StreamExt};
use serde::Serialize;

use crate::version::ObjectVersion;

/// One current source version and whether central holds its replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    /// The source's current version (never a delete marker).
    pub source: ObjectVersion,
    /// Whether central has an entry with the same key and version id.
    pub replicated: bool,
}

/// Why a current source version has no replica in central, from its `x-amz-replication-status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Gap {
    /// PENDING: S3 has not delivered it yet.
    Pending,
    /// FAILED: S3 gave up (permissions, KMS key); only Batch Replication sends it again.
    Failed,
    /// No status (written before the rule, or not eligible) or a status that contradicts central.
    Missing,
    /// A replica is in central, but under a KMS key that is not central's (or a customer-provided
    /// key): central cannot count on reading it.
    ForeignKey,
}

impl Gap {
    /// Classifies a gap by the source version's replication status (None when absent).
    pub fn from_status(status: Option<&str>) -> Gap {
        match status {
            Some("PENDING") => Gap::Pending,
            Some("FAILED") => Gap::Failed,
            _ => Gap::Missing,
        }
    }

    /// The word used in tables and JSON.
    pub fn label(self) -> &'static str {
        match self {
            Gap::Pending => "pending",
            Gap::Failed => "failed",
            Gap::Missing => "missing",
            Gap::ForeignKey => "foreign_key",
        }
    }
}

/// Counts of one account's coverage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Current versions under the prefix in the source bucket.
    pub current: u64,
    /// Of those, with their replica in central.
    pub replicated: u64,
    /// Without a replica, replication PENDING.
    pub pending: u64,
    /// Without a replica, replication FAILED.
    pub failed: u64,
    /// Without a replica and without a status that explains it (e.g. written before the rule).
    pub missing: u64,
    /// With a replica under a key that is not central's (not counted as replicated).
    pub foreign_key: u64,
    /// Current objects in the source bucket OUTSIDE the account prefix: never replicated.
    pub outside_prefix: u64,
}

impl Counts {
    /// Adds one gap of this kind.
    pub fn add_gap(&mut self, gap: Gap) {
        match gap {
            Gap::Pending => self.pending += 1,
            Gap::Failed => self.failed += 1,
            Gap::Missing => self.missing += 1,
            Gap::ForeignKey => self.foreign_key += 1,
        }
    }

    /// Current versions under the prefix without a replica central can read.
    pub fn unreplicated(&self) -> u64 {
        self.pending + self.failed + self.missing + self.foreign_key
    }

    /// Whether anything is unprotected (`outside` says whether objects outside the prefix count).
    pub fn unprotected(&self, outside: bool) -> bool {
        self.unreplicated() > 0 || (outside && self.outside_prefix > 0)
    }
}

/// Whether central can read a replica, by the encryption HeadObject reports for it: none or
/// SSE-S3 (`AES256`), or SSE-KMS / DSSE-KMS under the central key (its ARN, or its bare id as
/// central's bucket policy also accepts). Any other key, or a customer-provided key (which
/// HeadObject reports as `sse_customer`), is foreign. No central key known: every KMS key is.
pub fn readable_by_central(
    sse: Option<&str>,
    kms_key_id: Option<&str>,
    sse_customer: bool,
    central_key_arn: Option<&str>,
) -> bool {
    if sse_customer {
        return false;
    }
    match sse {
        None | Some("AES256") => true,
        Some("aws:kms" | "aws:kms:dsse") => match (kms_key_id, central_key_arn) {
            (Some(id), Some(central)) => {
                id == central
                    || central
                        .rsplit_once(":key/")
                        .is_some_and(|(_, bare)| bare == id)
            }
            _ => false,
        },
        Some(_) => false,
    }
}

/// Keeps only what coverage must prove: the current version of each key, delete markers dropped
/// (a key whose newest entry is a marker has no current object to protect).
pub fn is_current_object(v: &ObjectVersion) -> bool {
    v.is_latest && !v.is_delete_marker
}

/// Merge-joins current source versions (key ascending, one per key) with every central entry
/// under the same prefix (key ascending, as S3 lists them).
///
/// Central entries of keys the source no longer has are skipped; a central entry of the same key
/// with the same version id (never a delete marker) proves the replica. An error of either side is
/// passed through (the caller stops there: a key it interrupts gets no verdict).
pub fn join<S, C, E>(source: S, central: C) -> impl Stream<Item = Result<Joined, E>> + Send
where
    S: Stream<Item = Result<ObjectVersion, E>> + Send + 'static,
    C: Stream<Item = Result<ObjectVersion, E>> + Send + 'static,
    E: Send + 'static,
{
    type Side<E> = Pin<Box<Peekable<Pin<Box<dyn Stream<Item = Result<ObjectVersion, E>> + Send>>>>>;
    let source: Side<E> =
        Box::pin((Box::pin(source) as Pin<Box<dyn Stream<Item = _> + Send>>).peekable());
    let central: Side<E> =
        Box::pin((Box::pin(central) as Pin<Box<dyn Stream<Item = _> + Send>>).peekable());
    futures::stream::unfold((source, central), |(mut source, mut central)| async move {
        let s = match source.next().await? {
            Ok(s) => s,
            Err(e) => return Some((Err(e), (source, central))),
        };
        let mut replicated = false;
        loop {
            let step = match central.as_mut().peek().await {
                None => break,
                Some(Err(_)) => None,
                Some(Ok(c)) => Some(c.key.as_str().cmp(s.key.as_str())),
            };
            match step {
                // An error on the central side: report it in place of this key's verdict.
                None => {
                    if let Some(Err(e)) = central.next().await {
                        return Some((Err(e), (source, central)));
                    }
                }
                Some(std::cmp::Ordering::Less) => {
                    central.next().await;
                }
                Some(std::cmp::Ordering::Equal) => {
                    if let Some(Ok(c)) = central.next().await {
                        replicated |= !c.is_delete_marker && c.version_id == s.version_id;
                    }
                }
                Some(std::cmp::Ordering::Greater) => break,
            }
        }
        Some((
            Ok(Joined {
                source: s,
                replicated,
            }),
            (source, central),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use futures::executor::block_on;
    use futures::stream;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn v(key: &str, id: &str, marker: bool, latest: bool) -> ObjectVersion {
        ObjectVersion {
            key: key.into(),
            version_id: id.into(),
            last_modified: DateTime::from_timestamp(1, 0).unwrap_or_default(),
            size: 1,
            etag: None,
            storage_class: None,
            is_latest: latest,
            is_delete_marker: marker,
        }
    }

    fn run(source: Vec<ObjectVersion>, central: Vec<ObjectVersion>) -> Vec<(String, bool)> {
        let s = stream::iter(
            source
                .into_iter()
                .filter(is_current_object)
                .map(Ok::<_, ()>),
        );
        let c = stream::iter(central.into_iter().map(Ok::<_, ()>));
        block_on(join(s, c).map(|j| j.unwrap()).collect::<Vec<_>>())
            .into_iter()
            .map(|j| (j.source.key, j.replicated))
            .collect()
    }

    #[test]
    fn only_central_keys_and_s3_managed_keys_are_readable_by_central() {
        let central = "arn:aws:kms:us-east-1:123456789012:key/0c3a1b2c-0000-4000-8000-00000000c0de";
        let c = Some(central);
        assert!(readable_by_central(
            Some("aws:kms"),
            Some(central),
            false,
            c
        ));
        assert!(readable_by_central(
            Some("aws:kms"),
            Some("0c3a1b2c-0000-4000-8000-00000000c0de"),
            false,
            c
        ));
        assert!(readable_by_central(
            Some("aws:kms:dsse"),
            Some(central),
            false,
            c
        ));
        assert!(readable_by_central(Some("AES256"), None, false, c));
        assert!(readable_by_central(None, None, false, c));
        let attacker =
            "arn:aws:kms:us-east-1:111111111111:key/0c3a1b2c-0000-4000-8000-00000000c0de";
        assert!(!readable_by_central(
            Some("aws:kms"),
            Some(attacker),
            false,
            c
        ));
        assert!(!readable_by_central(Some("aws:kms"), None, false, c));
        assert!(!readable_by_central(
            Some("aws:kms"),
            Some(central),
            false,
            None
        ));
        assert!(!readable_by_central(Some("AES256"), None, true, c));
        assert!(!readable_by_central(Some("aws:fsx"), None, false, c));
    }

    #[test]
    fn same_key_same_version_is_replicated_anything_else_is_not() {
        let source = vec![
            v("p/a", "a2", false, true),
            v("p/a", "a1", false, false),
            v("p/b", "b1", false, true),
            v("p/c", "cm", true, true),
            v("p/c", "c1", false, false),
            v("p/d", "d1", false, true),
            v("p/e", "e1", false, true),
        ];
        let central = vec![
            v("p/0", "z", false, true),
            v("p/a", "a1", false, true),
            v("p/a", "a2", false, false),
            v("p/b", "b0", false, true),
            v("p/c", "c1", false, true),
            v("p/d", "d1", true, true),
            v("p/f", "f1", false, true),
        ];
        assert_eq!(
            run(source, central),
            vec![
                ("p/a".into(), true),  // replica of the current version, older in central order
                ("p/b".into(), false), // central holds another version only
                ("p/d".into(), false), // a marker with that id is no replica
                ("p/e".into(), false), // nothing in central
            ]
        );
    }

    #[test]
    fn errors_pass_through() {
        let s = stream::iter(vec![Ok(v("a", "1", false, true)), Err("source")]);
        let c = stream::iter(vec![Err("central")]);
        let got: Vec<Result<Joined, &str>> = block_on(join(s, c).collect());
        // Any error ends a coverage check, so the key it interrupted needs no verdict.
        assert_eq!(got[0], Err("central"));
        assert!(got.contains(&Err("source")));
    }

    #[test]
    fn gaps_from_status() {
        assert_eq!(Gap::from_status(Some("PENDING")), Gap::Pending);
        assert_eq!(Gap::from_status(Some("FAILED")), Gap::Failed);
        assert_eq!(Gap::from_status(Some("COMPLETED")), Gap::Missing);
        assert_eq!(Gap::from_status(None), Gap::Missing);
        let mut c = Counts::default();
        c.add_gap(Gap::Failed);
        assert!(c.unprotected(false));
        let c = Counts {
            outside_prefix: 1,
            ..Counts::default()
        };
        assert!(!c.unprotected(false) && c.unprotected(true));
    }

    proptest! {
        /// Against a set-based oracle: random keys, versions per key, replicas present or not,
        /// extra central keys, delete markers on either side.
        #[test]
        fn join_agrees_with_a_set_oracle(
            keys in proptest::collection::btree_map("[a-c]{1,3}", (1usize..4, any::<bool>(), any::<bool>(), any::<bool>()), 0..40),
            extra in proptest::collection::btree_set("[a-c]{1,3}", 0..10),
        ) {
            let mut source = Vec::new();
            let mut central = Vec::new();
            let mut expected = Vec::new();
            let mut central_ids = BTreeSet::new();
            let all: BTreeSet<String> = keys.keys().cloned().chain(extra.iter().cloned()).collect();
            for key in &all {
                if let Some(&(n, replicated, deleted, marker_in_central)) = keys.get(key) {
                    // Newest first, as S3 lists them.
                    if deleted {
                        source.push(v(key, &format!("{key}-m"), true, true));
                    }
                    for i in (0..n).rev() {
                        source.push(v(key, &format!("{key}-{i}"), false, !deleted && i + 1 == n));
                    }
                    let current = format!("{key}-{}", n - 1);
                    if marker_in_central {
                        central.push(v(key, &current, true, true));
                    }
                    for i in 0..n {
                        let id = format!("{key}-{i}");
                        if id != current || replicated {
                            central.push(v(key, &id, false, false));
                            central_ids.insert((key.clone(), id));
                        }
                    }
                    if !deleted {
                        expected.push((key.clone(), central_ids.contains(&(key.clone(), current))));
                    }
                } else {
                    central.push(v(key, "x", false, true));
                }
            }
            prop_assert_eq!(run(source, central), expected);
        }
    }
}
