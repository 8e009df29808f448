//! What changed between two moments (pure): one stream of listing entries in S3 order, resolved
//! at both times at once, into keys added, changed (another version selected) and deleted.
//!
//! Each key's state at a time T is its newest entry with LastModified <= T: the greatest
//! LastModified wins, and the listing order decides only between entries of equal LastModified
//! (the first listed is the newest). The key is present at T when that entry is an object
//! version, and deleted when it is a delete marker: deletes are shown as they are in central
//! (what `--respect-deletes` restores), not as a default restore treats them (it skips markers and
//! brings such keys back). Memory holds one key at a time.

use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use serde::Serialize;

use crate::version::ObjectVersion;

/// A key's newest entry at each of the two times (`None`: no entry at or before that time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStates {
    /// The full key.
    pub key: String,
    /// The newest entry at the first time, marker or version.
    pub from: Option<ObjectVersion>,
    /// The newest entry at the second time, marker or version.
    pub to: Option<ObjectVersion>,
}

/// How a key differs between the two times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Absent (or deleted) at the first time, present at the second.
    Added,
    /// Present at both, with another version selected at the second.
    Changed,
    /// Present at the first time, its newest entry at the second is a delete marker.
    Deleted,
}

/// One key that differs: its kind, the version at the first time and the entry at the second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Added, changed or deleted.
    pub kind: ChangeKind,
    /// The full key.
    pub key: String,
    /// The object version present at the first time (`None` for added keys).
    pub from: Option<ObjectVersion>,
    /// The object version present at the second time, or the delete marker for deleted keys.
    pub to: ObjectVersion,
}

impl KeyStates {
    /// The key's change between the two times, if any.
    pub fn change(self) -> Option<Change> {
        let present = |e: &Option<ObjectVersion>| e.as_ref().is_some_and(|e| !e.is_delete_marker);
        let (was, is) = (present(&self.from), present(&self.to));
        let kind = match (was, is) {
            (false, true) => ChangeKind::Added,
            (true, false) => ChangeKind::Deleted,
            (true, true) => {
                let same = match (&self.from, &self.to) {
                    (Some(a), Some(b)) => a.version_id == b.version_id,
                    _ => false,
                };
                if same {
                    return None;
                }
                ChangeKind::Changed
            }
            (false, false) => return None,
        };
        // Present at the second time, or deleted: both mean an entry there.
        let to = self.to?;
        Some(Change {
            kind,
            key: self.key,
            from: self.from.filter(|_| was),
            to,
        })
    }
}

/// The newest entry at one time, chosen among one key's entries as they stream by.
#[derive(Debug, Clone)]
struct Newest {
    at: DateTime<Utc>,
    best: Option<ObjectVersion>,
}

impl Newest {
    fn new(at: DateTime<Utc>) -> Newest {
        Newest { at, best: None }
    }

    /// Takes the entry if it is a candidate newer than the best so far; on equal LastModified the
    /// entry listed first stays (listing order breaks ties only).
    fn offer(&mut self, entry: &ObjectVersion) {
        if entry.last_modified > self.at {
            return;
        }
        let newer = match &self.best {
            None => true,
            Some(best) => entry.last_modified > best.last_modified,
        };
        if newer {
            self.best = Some(entry.clone());
        }
    }
}

/// A streaming resolver at two times: feed entries in S3 order, get each key's two states.
#[derive(Debug, Clone)]
pub struct TwoTimes {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    current: Option<(String, Newest, Newest)>,
}

impl TwoTimes {
    /// Resolves at `from` and at `to` (both inclusive).
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> TwoTimes {
        TwoTimes {
            from,
            to,
            current: None,
        }
    }

    /// Feeds the next entry; on a key change, returns the previous key's states.
    ///
    /// Entries must come grouped by key (S3's order: keys ascending); within a key the listing
    /// order is trusted only between entries of equal LastModified.
    pub fn push(&mut self, entry: ObjectVersion) -> Option<KeyStates> {
        let flushed = match &self.current {
            Some((key, _, _)) if *key == entry.key => None,
            _ => self.finish(),
        };
        let (from, to) = (self.from, self.to);
        let (_, at_from, at_to) = self
            .current
            .get_or_insert_with(|| (entry.key.clone(), Newest::new(from), Newest::new(to)));
        at_from.offer(&entry);
        at_to.offer(&entry);
        flushed
    }

    /// Ends the input: returns the last key's states, and resets the resolver.
    pub fn finish(&mut self) -> Option<KeyStates> {
        self.current.take().map(|(key, a, b)| KeyStates {
            key,
            from: a.best,
            to: b.best,
        })
    }
}

/// Streams the changes between `from` and `to` of the keys that `keep` accepts, in key order.
///
/// An error from the input is passed through and ends the stream.
pub fn diff_stream<S, E, F>(
    entries: S,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    keep: F,
) -> impl Stream<Item = Result<Change, E>>
where
    S: Stream<Item = Result<ObjectVersion, E>>,
    F: Fn(&str) -> bool,
{
    struct State<S, F> {
        entries: std::pin::Pin<Box<S>>,
        resolver: TwoTimes,
        keep: F,
        done: bool,
    }
    let state = State {
        entries: Box::pin(entries),
        resolver: TwoTimes::new(from, to),
        keep,
        done: false,
    };
    futures::stream::unfold(state, |mut st| async move {
        loop {
            if st.done {
                return None;
            }
            let states = match st.entries.next().await {
                Some(Ok(entry)) => st.resolver.push(entry),
                Some(Err(e)) => {
                    st.done = true;
                    return Some((Err(e), st));
                }
                None => {
                    st.done = true;
                    st.resolver.finish()
                }
            };
            if let Some(change) = states
                .filter(|s| (st.keep)(&s.key))
                .and_then(KeyStates::change)
            {
                return Some((Ok(change), st));
            }
        }
    })
}

/// Counts and bytes of the changes, for the totals line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Keys added.
    pub added: u64,
    /// Bytes of the added keys at the second time.
    pub added_bytes: u64,
    /// Keys changed.
    pub changed: u64,
    /// Bytes of the changed keys at the first time.
    pub changed_bytes_from: u64,
    /// Bytes of the changed keys at the second time.
    pub changed_bytes_to: u64,
    /// Keys deleted.
    pub deleted: u64,
    /// Bytes of the deleted keys at the first time.
    pub deleted_bytes: u64,
}

impl Totals {
    /// Adds one change.
    pub fn add(&mut self, change: &Change) {
        let from = change.from.as_ref().map_or(0, |v| v.size);
        match change.kind {
            ChangeKind::Added => {
                self.added += 1;
                self.added_bytes += change.to.size;
            }
            ChangeKind::Changed => {
                self.changed += 1;
                self.changed_bytes_from += from;
                self.changed_bytes_to += change.to.size;
            }
            ChangeKind::Deleted => {
                self.deleted += 1;
                self.deleted_bytes += from;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pit::{DeleteMode, Resolver};
    use chrono::TimeZone;
    use futures::executor::block_on;
    use futures::stream;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn t(sec: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + sec, 0).unwrap()
    }

    fn put(key: &str, id: &str, sec: i64) -> ObjectVersion {
        ObjectVersion {
            key: key.to_string(),
            version_id: id.to_string(),
            last_modified: t(sec),
            size: id.len() as u64,
            etag: None,
            storage_class: Some("STANDARD".into()),
            is_latest: false,
            is_delete_marker: false,
        }
    }

    fn del(key: &str, id: &str, sec: i64) -> ObjectVersion {
        ObjectVersion {
            size: 0,
            storage_class: None,
            is_delete_marker: true,
            ..put(key, id, sec)
        }
    }

    /// `(kind, key, from version id, to version id)` of each change.
    type Row = (ChangeKind, String, Option<String>, String);

    fn rows(changes: Vec<Change>) -> Vec<Row> {
        changes
            .into_iter()
            .map(|c| (c.kind, c.key, c.from.map(|v| v.version_id), c.to.version_id))
            .collect()
    }

    fn diff(entries: &[ObjectVersion], from: i64, to: i64) -> Vec<Row> {
        let s = stream::iter(entries.iter().cloned().map(Ok::<_, String>));
        let out = block_on(diff_stream(s, t(from), t(to), |_| true).collect::<Vec<_>>());
        rows(out.into_iter().collect::<Result<Vec<_>, _>>().unwrap())
    }

    fn row(kind: ChangeKind, key: &str, from: Option<&str>, to: &str) -> Row {
        (kind, key.into(), from.map(Into::into), to.into())
    }

    use ChangeKind::{Added, Changed, Deleted};

    #[test]
    fn added_changed_deleted_and_unchanged() {
        let h = [
            put("added", "a1", 20),
            put("changed", "c2", 20),
            put("changed", "c1", 5),
            del("deleted", "dm", 20),
            put("deleted", "d1", 5),
            put("same", "s1", 5),
            put("late", "l1", 40),
            put("early-gone", "g1", 1),
            del("early-gone", "gm", 2),
        ];
        assert_eq!(
            diff(&h, 10, 30),
            vec![
                row(Added, "added", None, "a1"),
                row(Changed, "changed", Some("c1"), "c2"),
                row(Deleted, "deleted", Some("d1"), "dm"),
            ]
        );
    }

    #[test]
    fn both_bounds_are_inclusive() {
        let h = [put("k", "v2", 20), put("k", "v1", 10)];
        assert_eq!(diff(&h, 10, 20), vec![row(Changed, "k", Some("v1"), "v2")]);
        assert_eq!(diff(&h, 9, 10), vec![row(Added, "k", None, "v1")]);
        assert_eq!(diff(&h, 10, 19), vec![]);
    }

    #[test]
    fn deleted_then_recreated_is_added_and_recreated_then_deleted_is_deleted() {
        let h = [put("k", "v2", 30), del("k", "m", 20), put("k", "v1", 10)];
        assert_eq!(diff(&h, 25, 35), vec![row(Added, "k", None, "v2")]);
        assert_eq!(diff(&h, 15, 35), vec![row(Changed, "k", Some("v1"), "v2")]);
        assert_eq!(diff(&h, 15, 25), vec![row(Deleted, "k", Some("v1"), "m")]);
        // A marker on a key with nothing before it changes nothing.
        assert_eq!(diff(&[del("x", "m", 5)], 1, 10), vec![]);
    }

    #[test]
    fn greatest_last_modified_wins_even_when_listed_later() {
        // A replica that arrived late: stored (listed) first, written earlier.
        let h = [put("k", "old", 10), put("k", "new", 20)];
        assert_eq!(diff(&h, 5, 25), vec![row(Added, "k", None, "new")]);
        assert_eq!(
            diff(&h, 15, 25),
            vec![row(Changed, "k", Some("old"), "new")]
        );
        let h = [del("k", "m", 10), put("k", "v", 20)];
        assert_eq!(diff(&h, 5, 25), vec![row(Added, "k", None, "v")]);
    }

    #[test]
    fn same_second_ties_follow_listing_order() {
        let h = [del("k", "m", 20), put("k", "v2", 20), put("k", "v1", 10)];
        assert_eq!(diff(&h, 15, 20), vec![row(Deleted, "k", Some("v1"), "m")]);
        let h = [put("k", "v2", 20), del("k", "m", 20), put("k", "v1", 10)];
        assert_eq!(diff(&h, 15, 20), vec![row(Changed, "k", Some("v1"), "v2")]);
    }

    #[test]
    fn keep_filters_keys_and_errors_end_the_stream() {
        let h = [put("a", "a1", 5), put("b", "b1", 5)];
        let s = stream::iter(h.iter().cloned().map(Ok::<_, String>));
        let out = block_on(diff_stream(s, t(1), t(10), |k| k == "b").collect::<Vec<_>>());
        let out = rows(out.into_iter().collect::<Result<Vec<_>, _>>().unwrap());
        assert_eq!(out, vec![row(Added, "b", None, "b1")]);
        let input = vec![Ok(put("a", "a1", 5)), Ok(put("b", "b1", 5)), Err("boom")];
        let out =
            block_on(diff_stream(stream::iter(input), t(1), t(10), |_| true).collect::<Vec<_>>());
        assert_eq!(out.len(), 2);
        assert_eq!(out[1], Err("boom"));
    }

    #[test]
    fn totals_add_up() {
        let h = [
            put("a", "aaaa", 20),
            put("c", "cc", 20),
            put("c", "c", 5),
            del("d", "m", 20),
            put("d", "ddd", 5),
        ];
        let s = stream::iter(h.iter().cloned().map(Ok::<_, String>));
        let mut totals = Totals::default();
        for c in block_on(diff_stream(s, t(10), t(30), |_| true).collect::<Vec<_>>()) {
            totals.add(&c.unwrap());
        }
        assert_eq!(
            totals,
            Totals {
                added: 1,
                added_bytes: 4,
                changed: 1,
                changed_bytes_from: 1,
                changed_bytes_to: 2,
                deleted: 1,
                deleted_bytes: 3,
            }
        );
    }

    // ---- property tests -------------------------------------------------------------------

    const KEYS: [&str; 5] = ["a", "a/b", "a0", "b", "é"];

    /// Listings in S3 order (keys ascending, each key newest first, many same-second ties).
    fn ordered_listing() -> impl Strategy<Value = Vec<ObjectVersion>> {
        prop::collection::vec((0..KEYS.len(), prop::bool::weighted(0.65), 0i64..3), 0..40).prop_map(
            |ops| {
                let mut sec = 0;
                let mut by_key: BTreeMap<&str, Vec<ObjectVersion>> = BTreeMap::new();
                for (i, (k, is_put, step)) in ops.into_iter().enumerate() {
                    // Step 0 (a tie) is twice as likely as each other step; seconds never go back.
                    sec += (step - 1).max(0);
                    let id = format!("v{i}");
                    let e = if is_put {
                        put(KEYS[k], &id, sec)
                    } else {
                        del(KEYS[k], &id, sec)
                    };
                    by_key.entry(KEYS[k]).or_default().push(e);
                }
                by_key
                    .into_values()
                    .flat_map(|v| v.into_iter().rev())
                    .collect()
            },
        )
    }

    /// The model: resolve at each time separately with the existing resolver (`Respect`: a key
    /// whose newest entry is a marker is absent), find the marker naively, and compare.
    fn model(list: &[ObjectVersion], from: i64, to: i64) -> Vec<Row> {
        let resolve = |at: i64| -> BTreeMap<String, String> {
            let mut r = Resolver::new(t(at), DeleteMode::Respect);
            let mut out: Vec<ObjectVersion> =
                list.iter().filter_map(|e| r.push(e.clone())).collect();
            out.extend(r.finish());
            out.into_iter().map(|v| (v.key, v.version_id)).collect()
        };
        let (a, b) = (resolve(from), resolve(to));
        let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
        keys.sort();
        keys.dedup();
        keys.into_iter()
            .filter_map(|k| match (a.get(k), b.get(k)) {
                (None, Some(v)) => Some(row(Added, k, None, v)),
                (Some(u), Some(v)) if u != v => Some(row(Changed, k, Some(u), v)),
                (Some(u), None) => {
                    // The first listed entry of the key at or before `to`: a marker.
                    let m = list
                        .iter()
                        .find(|e| &e.key == k && e.last_modified <= t(to))
                        .expect("a deleted key has an entry at the second time");
                    assert!(m.is_delete_marker);
                    Some(row(Deleted, k, Some(u), &m.version_id))
                }
                _ => None,
            })
            .collect()
    }

    /// The rule spelled out for any listing order: per key, stable-sort newest first.
    fn naive(list: &[ObjectVersion], from: i64, to: i64) -> Vec<Row> {
        let mut by_key: BTreeMap<&str, Vec<&ObjectVersion>> = BTreeMap::new();
        for e in list {
            by_key.entry(&e.key).or_default().push(e);
        }
        let mut out = Vec::new();
        for (key, mut entries) in by_key {
            entries.sort_by_key(|e| std::cmp::Reverse(e.last_modified));
            let at = |s: i64| entries.iter().find(|e| e.last_modified <= t(s)).copied();
            let states = KeyStates {
                key: key.to_owned(),
                from: at(from).cloned(),
                to: at(to).cloned(),
            };
            out.extend(states.change());
        }
        rows(out)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// One pass at two times agrees with two passes of the existing resolver.
        #[test]
        fn one_pass_agrees_with_two_resolvers(list in ordered_listing(), from in -1i64..45, span in 1i64..45) {
            prop_assert_eq!(diff(&list, from, from + span), model(&list, from, from + span));
        }

        /// Within each key, any stored order gives the result of the rule "greatest LastModified
        /// wins, listing order breaks ties".
        #[test]
        fn any_stored_order_follows_the_rule(
            list in ordered_listing(),
            swaps in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
            from in -1i64..45,
            span in 1i64..45,
        ) {
            let mut list = list;
            // Swap neighbours of the same key: replicas stored out of order.
            for s in swaps {
                if list.len() >= 2 {
                    let i = s.index(list.len() - 1);
                    if list[i].key == list[i + 1].key {
                        list.swap(i, i + 1);
                    }
                }
            }
            prop_assert_eq!(diff(&list, from, from + span), naive(&list, from, from + span));
        }

        /// Page boundaries change nothing (the key being read is carried across).
        #[test]
        fn pages_change_nothing(list in ordered_listing(), cut in 0usize..64, from in -1i64..45, span in 1i64..45) {
            let cut = cut.min(list.len());
            let pages = vec![list[..cut].to_vec(), list[cut..].to_vec()];
            let s = stream::iter(pages).map(|p| stream::iter(p.into_iter().map(Ok::<_, String>))).flatten();
            let got = block_on(diff_stream(s, t(from), t(from + span), |_| true).collect::<Vec<_>>());
            let got = rows(got.into_iter().collect::<Result<Vec<_>, _>>().unwrap());
            prop_assert_eq!(got, diff(&list, from, from + span));
        }
    }
}
