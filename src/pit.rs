//! Point-in-time resolver: from a version listing in S3 order, each key's version live at a time.

use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};

use crate::version::ObjectVersion;

/// How delete markers at or before the chosen time affect a key (`--respect-deletes` or not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DeleteMode {
    /// Delete markers are skipped: the newest object version at or before the time wins.
    #[default]
    Ignore,
    /// A delete marker that is the newest entry at or before the time makes the key absent.
    Respect,
}

/// Streaming resolver holding only the current key, so memory does not grow with the key count.
#[derive(Debug, Clone)]
pub struct Resolver {
    at: DateTime<Utc>,
    mode: DeleteMode,
    current: Option<KeyState>,
}

/// What is known about the key being read.
#[derive(Debug, Clone)]
struct KeyState {
    key: String,
    /// The newest candidate so far (LastModified <= the time): in [`DeleteMode::Ignore`] the
    /// newest object version, in [`DeleteMode::Respect`] the newest entry of either kind.
    best: Option<ObjectVersion>,
    /// The newest entry of either kind at or before the time, by the same rule: its
    /// LastModified, whether it is a delete marker, and whether it is the current version.
    newest: Option<(DateTime<Utc>, bool, bool)>,
    /// Another candidate of `best`'s kind shares its whole second.
    best_tied: bool,
    /// Another entry at or before the time shares `newest`'s whole second.
    newest_tied: bool,
    /// An entry after the time but within its whole second (a listing, which gives whole
    /// seconds, would count it as at or before the time).
    late: bool,
}

/// Every key read, present or not, and whether its choice rests on an order the source cannot
/// vouch for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyResolution {
    /// The key.
    pub key: String,
    /// Its version at the time, if present.
    pub resolved: Option<Resolved>,
    /// The choice between entries within one second rests on their order in the input: two
    /// candidates (or the newest entries) share a whole second and neither is the current
    /// version. A listing's order is S3's and decides; an inventory's rows have no order, so
    /// the key's versions must be listed to choose.
    pub tied: bool,
}

/// The whole second of a time: S3 gives LastModified to the second.
fn second(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

/// A key present at the time, and whether its newest entry there is a delete marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The version selected (never a delete marker).
    pub version: ObjectVersion,
    /// The key's newest entry at the time is a delete marker that [`DeleteMode::Ignore`] skipped
    /// (the key was deleted, and a default restore brings this version back).
    pub deleted: bool,
}

impl Resolver {
    /// Starts resolving for the time `at` (inclusive) under the given delete mode.
    pub fn new(at: DateTime<Utc>, mode: DeleteMode) -> Self {
        Self {
            at,
            mode,
            current: None,
        }
    }

    /// Feeds the next entry; on a key change, returns the previous key's version if it is present.
    ///
    /// Entries must come grouped by key, keys ascending, as S3 lists them. Within a key the
    /// entry with the greatest LastModified at or before the time wins, wherever it is listed
    /// (replicas may be stored out of order); between equal LastModified the one listed first
    /// (S3 lists a key's entries newest first) wins, and ties are never re-sorted otherwise.
    pub fn push(&mut self, entry: ObjectVersion) -> Option<ObjectVersion> {
        self.push_resolved(entry).map(|r| r.version)
    }

    /// As [`Resolver::push`], telling also whether a newer delete marker shadows the version.
    pub fn push_resolved(&mut self, entry: ObjectVersion) -> Option<Resolved> {
        self.push_key(entry).and_then(|k| k.resolved)
    }

    /// As [`Resolver::push_resolved`], for every key read (present or not) and whether its
    /// choice rests on the input's order within a second (see [`KeyResolution::tied`]).
    pub fn push_key(&mut self, entry: ObjectVersion) -> Option<KeyResolution> {
        let flushed = match &self.current {
            Some(state) if state.key == entry.key => None,
            _ => self.finish_key(),
        };
        let (at, mode) = (self.at, self.mode);
        let state = self.current.get_or_insert_with(|| KeyState {
            key: entry.key.clone(),
            best: None,
            newest: None,
            best_tied: false,
            newest_tied: false,
            late: false,
        });
        let when = entry.last_modified;
        if when > at {
            state.late |= second(when) == second(at);
            return flushed;
        }
        match state.newest {
            Some((newest, _, _)) if when <= newest => {
                state.newest_tied |= second(when) == second(newest);
            }
            previous => {
                state.newest_tied = previous.is_some_and(|(p, _, _)| second(p) == second(when));
                state.newest = Some((when, entry.is_delete_marker, entry.is_latest));
            }
        }
        if mode == DeleteMode::Respect || !entry.is_delete_marker {
            match &state.best {
                Some(best) if when <= best.last_modified => {
                    state.best_tied |= second(when) == second(best.last_modified);
                }
                previous => {
                    state.best_tied = previous
                        .as_ref()
                        .is_some_and(|p| second(p.last_modified) == second(when));
                    state.best = Some(entry);
                }
            }
        }
        flushed
    }

    /// Ends the input: returns the last key's version if it is present, and resets the resolver.
    pub fn finish(&mut self) -> Option<ObjectVersion> {
        self.finish_resolved().map(|r| r.version)
    }

    /// As [`Resolver::finish`], telling also whether a newer delete marker shadows the version.
    pub fn finish_resolved(&mut self) -> Option<Resolved> {
        self.finish_key().and_then(|k| k.resolved)
    }

    /// As [`Resolver::finish_resolved`], for the last key read, present or not.
    pub fn finish_key(&mut self) -> Option<KeyResolution> {
        let state = self.current.take()?;
        let deleted = state.newest.is_some_and(|(_, marker, _)| marker);
        // The current version is the newest of all: a tie with it is no tie.
        let tied = state.late
            || (state.best_tied && state.best.as_ref().is_some_and(|b| !b.is_latest))
            || (state.newest_tied && state.newest.is_some_and(|(_, _, latest)| !latest));
        let resolved = state
            .best
            .filter(|v| !v.is_delete_marker)
            .map(|version| Resolved { version, deleted });
        Some(KeyResolution {
            key: state.key,
            resolved,
            tied,
        })
    }
}

/// Resolves a stream of listing entries (fetched page by page) into the versions live at `at`.
///
/// The output is in key order, one item per present key. An error from the input is passed
/// through and ends the stream; the key being read at that moment is not emitted.
pub fn resolve_stream<S, E>(
    entries: S,
    at: DateTime<Utc>,
    mode: DeleteMode,
) -> impl Stream<Item = Result<ObjectVersion, E>>
where
    S: Stream<Item = Result<ObjectVersion, E>>,
{
    resolve_stream_marked(entries, at, mode).map(|r| r.map(|r| r.version))
}

/// As [`resolve_stream`], each present key with whether its newest entry at `at` is a marker.
pub fn resolve_stream_marked<S, E>(
    entries: S,
    at: DateTime<Utc>,
    mode: DeleteMode,
) -> impl Stream<Item = Result<Resolved, E>>
where
    S: Stream<Item = Result<ObjectVersion, E>>,
{
    resolve_stream_keys(entries, at, mode).filter_map(|k| {
        futures::future::ready(match k {
            Ok(k) => k.resolved.map(Ok),
            Err(e) => Some(Err(e)),
        })
    })
}

/// As [`resolve_stream`], every key read (present or not) with whether its choice rests on the
/// input's order within a second: what an inventory's reader needs to settle ties.
pub fn resolve_stream_keys<S, E>(
    entries: S,
    at: DateTime<Utc>,
    mode: DeleteMode,
) -> impl Stream<Item = Result<KeyResolution, E>>
where
    S: Stream<Item = Result<ObjectVersion, E>>,
{
    struct State<S> {
        entries: std::pin::Pin<Box<S>>,
        resolver: Resolver,
        done: bool,
    }
    let state = State {
        entries: Box::pin(entries),
        resolver: Resolver::new(at, mode),
        done: false,
    };
    futures::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        loop {
            match st.entries.next().await {
                Some(Ok(entry)) => {
                    if let Some(out) = st.resolver.push_key(entry) {
                        return Some((Ok(out), st));
                    }
                }
                Some(Err(e)) => {
                    st.done = true;
                    return Some((Err(e), st));
                }
                None => {
                    st.done = true;
                    let last = st.resolver.finish_key();
                    return last.map(|v| (Ok(v), st));
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
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
            size: 10,
            etag: Some(format!("etag-{id}")),
            storage_class: Some("STANDARD".to_string()),
            is_latest: false,
            is_delete_marker: false,
        }
    }

    fn del(key: &str, id: &str, sec: i64) -> ObjectVersion {
        ObjectVersion {
            size: 0,
            etag: None,
            storage_class: None,
            is_delete_marker: true,
            ..put(key, id, sec)
        }
    }

    /// Runs the resolver synchronously over a whole listing.
    fn resolve(entries: &[ObjectVersion], at: i64, mode: DeleteMode) -> Vec<ObjectVersion> {
        let mut r = Resolver::new(t(at), mode);
        let mut out: Vec<ObjectVersion> =
            entries.iter().filter_map(|e| r.push(e.clone())).collect();
        out.extend(r.finish());
        out
    }

    /// Resolved `(key, version_id)` pairs.
    type Pairs = Vec<(String, String)>;

    /// Resolves in both modes, as `(key, version_id)` pairs: `(ignore, respect)`.
    fn both(entries: &[ObjectVersion], at: i64) -> (Pairs, Pairs) {
        let own = |out: Vec<ObjectVersion>| {
            out.into_iter()
                .map(|v| (v.key, v.version_id))
                .collect::<Vec<_>>()
        };
        (
            own(resolve(entries, at, DeleteMode::Ignore)),
            own(resolve(entries, at, DeleteMode::Respect)),
        )
    }

    fn pairs(p: &[(&str, &str)]) -> Pairs {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Feeds `pages` through `resolve_stream` as a stream of pages flattened into entries.
    fn resolve_pages(
        pages: Vec<Vec<ObjectVersion>>,
        at: DateTime<Utc>,
        mode: DeleteMode,
    ) -> Vec<ObjectVersion> {
        let entries = stream::iter(pages)
            .map(|page| stream::iter(page.into_iter().map(Ok::<_, String>)))
            .flatten();
        block_on(resolve_stream(entries, at, mode).collect::<Vec<_>>())
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
    }

    #[test]
    fn default_mode_is_ignore() {
        assert_eq!(DeleteMode::default(), DeleteMode::Ignore);
    }

    #[test]
    fn empty_input_yields_nothing() {
        let mut r = Resolver::new(t(0), DeleteMode::Ignore);
        assert_eq!(r.finish(), None);
        assert!(resolve(&[], 0, DeleteMode::Respect).is_empty());
    }

    #[test]
    fn boundary_is_inclusive() {
        let h = [put("a", "v2", 20), put("a", "v1", 10)];
        assert_eq!(both(&h, 20), (pairs(&[("a", "v2")]), pairs(&[("a", "v2")])));
        assert_eq!(both(&h, 19), (pairs(&[("a", "v1")]), pairs(&[("a", "v1")])));
        assert_eq!(both(&h, 10), (pairs(&[("a", "v1")]), pairs(&[("a", "v1")])));
    }

    #[test]
    fn no_candidate_means_absent() {
        let h = [put("a", "v2", 20), put("a", "v1", 10)];
        assert_eq!(both(&h, 9), (vec![], vec![]));
    }

    #[test]
    fn all_markers_means_absent() {
        let h = [del("a", "d2", 20), del("a", "d1", 10)];
        assert_eq!(both(&h, 30), (vec![], vec![]));
    }

    #[test]
    fn newest_marker_respect_vs_ignore() {
        let h = [del("a", "d", 20), put("a", "v1", 10)];
        assert_eq!(both(&h, 25), (pairs(&[("a", "v1")]), vec![]));
        // Before the marker, both modes see the put.
        assert_eq!(both(&h, 15), (pairs(&[("a", "v1")]), pairs(&[("a", "v1")])));
    }

    #[test]
    fn entries_after_at_are_skipped_before_choosing() {
        let h = [put("a", "v3", 30), del("a", "d", 20), put("a", "v1", 10)];
        assert_eq!(both(&h, 25), (pairs(&[("a", "v1")]), vec![]));
        assert_eq!(both(&h, 30), (pairs(&[("a", "v3")]), pairs(&[("a", "v3")])));
    }

    #[test]
    fn delete_then_recreate() {
        let h = [put("a", "v3", 30), del("a", "d2", 20), put("a", "v1", 10)];
        assert_eq!(both(&h, 5), (vec![], vec![]));
        assert_eq!(both(&h, 10), (pairs(&[("a", "v1")]), pairs(&[("a", "v1")])));
        assert_eq!(both(&h, 20), (pairs(&[("a", "v1")]), vec![]));
        assert_eq!(both(&h, 29), (pairs(&[("a", "v1")]), vec![]));
        assert_eq!(both(&h, 30), (pairs(&[("a", "v3")]), pairs(&[("a", "v3")])));
    }

    #[test]
    fn a_newer_replica_listed_after_an_older_one_wins() {
        // Replicas arrived out of order: the older version was stored last, so S3 lists it first.
        let list = vec![put("k", "old", 1), put("k", "new", 5), del("k", "m", 3)];
        assert_eq!(
            both(&list, 10),
            (pairs(&[("k", "new")]), pairs(&[("k", "new")]))
        );
        assert_eq!(both(&list, 4), (pairs(&[("k", "old")]), pairs(&[])));
        assert_eq!(
            both(&list, 2),
            (pairs(&[("k", "old")]), pairs(&[("k", "old")]))
        );
    }

    /// Every key's resolution, synchronously.
    fn keys(entries: &[ObjectVersion], at: DateTime<Utc>, mode: DeleteMode) -> Vec<KeyResolution> {
        let mut r = Resolver::new(at, mode);
        let mut out: Vec<KeyResolution> = entries
            .iter()
            .filter_map(|e| r.push_key(e.clone()))
            .collect();
        out.extend(r.finish_key());
        out
    }

    /// Whether the one key in `entries` is tied, in each mode: `(ignore, respect)`.
    fn tied(entries: &[ObjectVersion], at: i64) -> (bool, bool) {
        let one = |mode| {
            let k = keys(entries, t(at), mode);
            assert_eq!(k.len(), 1);
            k[0].tied
        };
        (one(DeleteMode::Ignore), one(DeleteMode::Respect))
    }

    fn latest(mut v: ObjectVersion) -> ObjectVersion {
        v.is_latest = true;
        v
    }

    #[test]
    fn candidates_sharing_a_second_are_tied_unless_one_is_current() {
        let h = [put("a", "y", 10), put("a", "x", 10)];
        assert_eq!(tied(&h, 20), (true, true));
        // The current version is the newest of all.
        let h = [latest(put("a", "y", 10)), put("a", "x", 10)];
        assert_eq!(tied(&h, 20), (false, false));
        // Other seconds, or a tie among versions that cannot be chosen, change nothing.
        let h = [put("a", "y", 11), put("a", "x", 10)];
        assert_eq!(tied(&h, 20), (false, false));
        let h = [put("a", "z", 12), put("a", "y", 10), put("a", "x", 10)];
        assert_eq!(tied(&h, 20), (false, false));
        assert_eq!(tied(&h, 10), (true, true));
        // Absent keys are reported too: a marker tied with a put may hide it or not.
        let h = [
            latest(put("a", "z", 30)),
            del("a", "d", 10),
            put("a", "x", 10),
        ];
        assert_eq!(tied(&h, 20), (true, true));
        let k = keys(&h, t(20), DeleteMode::Respect);
        assert_eq!((k[0].key.as_str(), k[0].resolved.is_none()), ("a", true));
    }

    #[test]
    fn ignoring_deletes_a_tie_behind_a_newer_marker_still_counts() {
        let h = [
            latest(del("a", "d", 15)),
            put("a", "y", 10),
            put("a", "x", 10),
        ];
        // Ignoring deletes, y or x comes back; respecting them, the current marker decides.
        assert_eq!(tied(&h, 20), (true, false));
    }

    #[test]
    fn ties_are_found_in_any_arrival_order() {
        let h = [put("a", "x", 10), put("a", "y", 11), put("a", "z", 11)];
        assert_eq!(tied(&h, 20), (true, true));
        let mut late = put("a", "late", 11);
        late.last_modified += chrono::Duration::milliseconds(800);
        let mut early = put("a", "early", 11);
        early.last_modified += chrono::Duration::milliseconds(200);
        let h = [early.clone(), put("a", "old", 10), late.clone()];
        assert_eq!(tied(&h, 20), (true, true));
        assert_eq!(
            tied(&[early.clone(), put("a", "old", 9)], 20),
            (false, false)
        );
        // An entry after TIME within its second: a listing (whole seconds) would count it.
        let at = t(11) + chrono::Duration::milliseconds(500);
        let k = keys(&[late, early], at, DeleteMode::Ignore);
        assert!(k[0].tied, "{k:?}");
    }

    #[test]
    fn same_second_ties_follow_input_order() {
        // Two puts in one second: the first listed is the newest.
        let h = [put("a", "second", 10), put("a", "first", 10)];
        assert_eq!(both(&h, 10).0, pairs(&[("a", "second")]));
        let h = [put("a", "first", 10), put("a", "second", 10)];
        assert_eq!(both(&h, 10).0, pairs(&[("a", "first")]));
        // Marker listed before a put of the same second: the delete came last.
        let h = [del("a", "d", 10), put("a", "v", 10)];
        assert_eq!(both(&h, 10), (pairs(&[("a", "v")]), vec![]));
        // Put listed before a marker of the same second: the put came last.
        let h = [put("a", "v", 10), del("a", "d", 10)];
        assert_eq!(both(&h, 10), (pairs(&[("a", "v")]), pairs(&[("a", "v")])));
    }

    #[test]
    fn several_keys_absent_ones_skipped() {
        let h = [
            put("a", "a1", 10),
            put("b", "b2", 50),
            del("c", "c2", 20),
            put("c", "c1", 10),
            put("d", "d1", 5),
        ];
        assert_eq!(
            both(&h, 30),
            (
                pairs(&[("a", "a1"), ("c", "c1"), ("d", "d1")]),
                pairs(&[("a", "a1"), ("d", "d1")])
            )
        );
    }

    /// Resolves in ignore mode with the shadowing flag: `(key, version_id, deleted)`.
    fn marked(entries: &[ObjectVersion], at: i64) -> Vec<(String, String, bool)> {
        let mut r = Resolver::new(t(at), DeleteMode::Ignore);
        let mut out: Vec<Resolved> = entries
            .iter()
            .filter_map(|e| r.push_resolved(e.clone()))
            .collect();
        out.extend(r.finish_resolved());
        out.into_iter()
            .map(|r| (r.version.key, r.version.version_id, r.deleted))
            .collect()
    }

    #[test]
    fn a_newer_marker_is_reported_with_the_version_it_shadows() {
        let h = [put("a", "v3", 30), del("a", "d", 20), put("a", "v1", 10)];
        assert_eq!(marked(&h, 15), [("a".into(), "v1".into(), false)]);
        assert_eq!(marked(&h, 20), [("a".into(), "v1".into(), true)]);
        assert_eq!(marked(&h, 29), [("a".into(), "v1".into(), true)]);
        assert_eq!(marked(&h, 30), [("a".into(), "v3".into(), false)]);
        // Only markers: absent, flagged or not.
        assert!(marked(&[del("b", "d", 1)], 5).is_empty());
    }

    #[test]
    fn marker_flag_follows_the_time_rule_not_the_listing_order() {
        // Out of order: the marker (t=20) is listed after an older put; it still shadows it.
        let h = [put("a", "v1", 10), del("a", "d", 20)];
        assert_eq!(marked(&h, 25), [("a".into(), "v1".into(), true)]);
        // An older marker listed first shadows nothing newer.
        let h = [del("a", "d", 5), put("a", "v1", 10)];
        assert_eq!(marked(&h, 25), [("a".into(), "v1".into(), false)]);
        // Same second: the one listed first is the newest.
        let h = [del("a", "d", 10), put("a", "v", 10)];
        assert_eq!(marked(&h, 10), [("a".into(), "v".into(), true)]);
        let h = [put("a", "v", 10), del("a", "d", 10)];
        assert_eq!(marked(&h, 10), [("a".into(), "v".into(), false)]);
    }

    #[test]
    fn respect_mode_never_flags_a_key_it_returns() {
        let h = [del("a", "d", 20), put("a", "v1", 10), put("b", "b1", 10)];
        let mut r = Resolver::new(t(30), DeleteMode::Respect);
        let mut out: Vec<Resolved> = h
            .iter()
            .filter_map(|e| r.push_resolved(e.clone()))
            .collect();
        out.extend(r.finish_resolved());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].version.key, "b");
        assert!(!out[0].deleted);
    }

    #[test]
    fn push_returns_previous_key_on_change() {
        let mut r = Resolver::new(t(100), DeleteMode::Ignore);
        assert_eq!(r.push(put("a", "a2", 20)), None);
        assert_eq!(r.push(put("a", "a1", 10)), None);
        assert_eq!(r.push(put("b", "b1", 10)), Some(put("a", "a2", 20)));
        assert_eq!(r.finish(), Some(put("b", "b1", 10)));
        assert_eq!(r.finish(), None);
        // The resolver is reusable after finish.
        assert_eq!(r.push(put("c", "c1", 10)), None);
        assert_eq!(r.finish(), Some(put("c", "c1", 10)));
    }

    #[test]
    fn output_keeps_all_fields_of_the_chosen_version() {
        let mut v = put("a/b c.txt", "v1", 10);
        v.is_latest = true;
        v.size = 12345;
        let out = resolve(&[v.clone()], 10, DeleteMode::Respect);
        assert_eq!(out, vec![v]);
    }

    #[test]
    fn stream_matches_direct_resolution() {
        let h = vec![
            put("a", "a1", 10),
            put("b", "b3", 30),
            del("b", "b2", 20),
            put("b", "b1", 10),
            del("c", "c1", 10),
            put("d", "d2", 15),
            put("d", "d1", 15),
        ];
        for mode in [DeleteMode::Ignore, DeleteMode::Respect] {
            for at in [0, 10, 15, 20, 25, 30] {
                let direct = resolve(&h, at, mode);
                assert_eq!(resolve_pages(vec![h.clone()], t(at), mode), direct);
            }
        }
    }

    #[test]
    fn page_boundaries_change_nothing() {
        let h = vec![
            put("a", "a1", 10),
            put("b", "b3", 30),
            del("b", "b2", 20),
            put("b", "b1", 10),
            del("c", "c2", 12),
            put("c", "c1", 10),
            put("d", "d2", 15),
            put("d", "d1", 15),
        ];
        for mode in [DeleteMode::Ignore, DeleteMode::Respect] {
            for at in [9, 10, 12, 15, 20, 30] {
                let whole = resolve(&h, at, mode);
                // Every single split point, and every page size.
                for cut in 0..=h.len() {
                    let pages = vec![h[..cut].to_vec(), h[cut..].to_vec()];
                    assert_eq!(resolve_pages(pages, t(at), mode), whole, "cut {cut}");
                }
                for size in 1..=h.len() {
                    let pages = h.chunks(size).map(<[_]>::to_vec).collect();
                    assert_eq!(resolve_pages(pages, t(at), mode), whole, "size {size}");
                }
            }
        }
    }

    #[test]
    fn error_is_passed_through_and_ends_the_stream() {
        let input: Vec<Result<ObjectVersion, &str>> = vec![
            Ok(put("a", "a1", 10)),
            Ok(put("b", "b1", 10)),
            Err("boom"),
            Ok(put("c", "c1", 10)),
        ];
        let out = block_on(
            resolve_stream(stream::iter(input), t(100), DeleteMode::Ignore).collect::<Vec<_>>(),
        );
        assert_eq!(out, vec![Ok(put("a", "a1", 10)), Err("boom")]);
    }

    // ---- property tests -------------------------------------------------------------------

    /// One write in a generated history, in the order the writes happened.
    #[derive(Debug, Clone)]
    struct Write {
        key: String,
        is_put: bool,
        sec: i64,
        version_id: String,
    }

    const KEYS: [&str; 5] = ["a", "a/b", "a0", "b", "é"];

    /// Generates histories: writes with nondecreasing seconds and many same-second ties.
    fn history() -> impl Strategy<Value = Vec<Write>> {
        prop::collection::vec((0..KEYS.len(), prop::bool::weighted(0.65), 0i64..3), 0..40).prop_map(
            |ops| {
                let mut sec = 0;
                ops.into_iter()
                    .enumerate()
                    .map(|(i, (k, is_put, step))| {
                        // Step 0 (a tie) is twice as likely as a step of one second; S3 stamps
                        // writes in the order they happen, so seconds never go back here.
                        sec += (step - 1).max(0);
                        Write {
                            key: KEYS[k].to_string(),
                            is_put,
                            sec,
                            version_id: format!("v{i}"),
                        }
                    })
                    .collect()
            },
        )
    }

    /// The listing S3 would return for a history: keys ascending, each key newest first.
    fn listing(history: &[Write]) -> Vec<ObjectVersion> {
        let mut by_key: BTreeMap<&str, Vec<&Write>> = BTreeMap::new();
        for w in history {
            by_key.entry(w.key.as_str()).or_default().push(w);
        }
        let mut out = Vec::new();
        for writes in by_key.values() {
            for (i, w) in writes.iter().rev().enumerate() {
                let mut v = if w.is_put {
                    put(&w.key, &w.version_id, w.sec)
                } else {
                    del(&w.key, &w.version_id, w.sec)
                };
                v.is_latest = i == 0;
                out.push(v);
            }
        }
        out
    }

    /// Reference model: replay the writes in the order they happened, up to `at`.
    fn replay(history: &[Write], at: i64, mode: DeleteMode) -> Vec<(String, String)> {
        let mut state: BTreeMap<String, Option<String>> = BTreeMap::new();
        for w in history.iter().filter(|w| w.sec <= at) {
            match (w.is_put, mode) {
                (true, _) => {
                    state.insert(w.key.clone(), Some(w.version_id.clone()));
                }
                (false, DeleteMode::Respect) => {
                    state.insert(w.key.clone(), None);
                }
                (false, DeleteMode::Ignore) => {}
            }
        }
        state
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect()
    }

    /// The listing of a bucket whose entries arrived in `arrival` order (replicas, which S3 does
    /// not deliver in write order): keys ascending, each key's entries last-arrived first.
    fn arrival_listing(history: &[Write], arrival: &[usize]) -> Vec<ObjectVersion> {
        let arrived: Vec<&Write> = arrival.iter().map(|&i| &history[i]).collect();
        let mut by_key: BTreeMap<&str, Vec<&Write>> = BTreeMap::new();
        for w in arrived {
            by_key.entry(w.key.as_str()).or_default().push(w);
        }
        let mut out = Vec::new();
        for writes in by_key.values() {
            for w in writes.iter().rev() {
                out.push(if w.is_put {
                    put(&w.key, &w.version_id, w.sec)
                } else {
                    del(&w.key, &w.version_id, w.sec)
                });
            }
        }
        out
    }

    /// Reference model for any arrival order: per key, the candidate (at or before `at`; object
    /// versions only when ignoring deletes) with the greatest second, the last-arrived among ties.
    fn newest_by_time(
        history: &[Write],
        arrival: &[usize],
        at: i64,
        mode: DeleteMode,
    ) -> Vec<(String, String)> {
        let mut best: BTreeMap<String, (i64, usize, &Write)> = BTreeMap::new();
        for (rank, &i) in arrival.iter().enumerate() {
            let w = &history[i];
            if w.sec > at || (mode == DeleteMode::Ignore && !w.is_put) {
                continue;
            }
            let better = best
                .get(&w.key)
                .is_none_or(|(sec, r, _)| (w.sec, rank) > (*sec, *r));
            if better {
                best.insert(w.key.clone(), (w.sec, rank, w));
            }
        }
        best.into_iter()
            .filter(|(_, (_, _, w))| w.is_put)
            .map(|(k, (_, _, w))| (k, w.version_id.clone()))
            .collect()
    }

    /// A history with an arrival order: a shuffle of its indexes.
    fn history_and_arrival() -> impl Strategy<Value = (Vec<Write>, Vec<usize>)> {
        history().prop_flat_map(|h| {
            let n = h.len();
            (Just(h), Just((0..n).collect::<Vec<usize>>()).prop_shuffle())
        })
    }

    fn mode() -> impl Strategy<Value = DeleteMode> {
        prop_oneof![Just(DeleteMode::Ignore), Just(DeleteMode::Respect)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn resolver_agrees_with_replay(h in history(), at_offset in -1i64..45, mode in mode()) {
            let list = listing(&h);
            let got: Vec<(String, String)> = resolve(&list, at_offset, mode)
                .into_iter()
                .map(|v| (v.key, v.version_id))
                .collect();
            prop_assert_eq!(got, replay(&h, at_offset, mode));
        }

        #[test]
        fn out_of_order_arrival_picks_the_greatest_last_modified(
            (h, arrival) in history_and_arrival(),
            at in -1i64..45,
            mode in mode(),
        ) {
            let list = arrival_listing(&h, &arrival);
            let got: Vec<(String, String)> = resolve(&list, at, mode)
                .into_iter()
                .map(|v| (v.key, v.version_id))
                .collect();
            prop_assert_eq!(got, newest_by_time(&h, &arrival, at, mode));
        }

        #[test]
        fn deleted_flag_is_exactly_what_respect_deletes_leaves_out(
            (h, arrival) in history_and_arrival(),
            at in -1i64..45,
        ) {
            let list = arrival_listing(&h, &arrival);
            let respect: Vec<(String, String)> = resolve(&list, at, DeleteMode::Respect)
                .into_iter()
                .map(|v| (v.key, v.version_id))
                .collect();
            let ignore = marked(&list, at);
            let kept: Vec<(String, String)> = ignore
                .iter()
                .filter(|(_, _, deleted)| !deleted)
                .map(|(k, v, _)| (k.clone(), v.clone()))
                .collect();
            prop_assert_eq!(kept, respect);
        }

        #[test]
        fn in_order_arrival_is_the_replay(h in history(), at in -1i64..45, mode in mode()) {
            let arrival: Vec<usize> = (0..h.len()).collect();
            prop_assert_eq!(newest_by_time(&h, &arrival, at, mode), replay(&h, at, mode));
        }

        #[test]
        fn output_keys_ascending_and_from_input(h in history(), at in -1i64..45, mode in mode()) {
            let list = listing(&h);
            let out = resolve(&list, at, mode);
            for pair in out.windows(2) {
                prop_assert!(pair[0].key < pair[1].key);
            }
            for v in &out {
                prop_assert!(list.contains(v));
                prop_assert!(!v.is_delete_marker);
                prop_assert!(v.last_modified <= t(at));
            }
        }

        #[test]
        fn a_key_not_tied_resolves_alike_in_any_inventory_order(
            h in history(),
            at in -1i64..45,
            mode in mode(),
            priorities in prop::collection::vec(any::<u64>(), 40),
        ) {
            // An inventory's rows, sorted as the inventory reader sorts them: newest second
            // first, the current version first within its second, the rest in any order.
            let list = listing(&h);
            let mut shuffled: Vec<(usize, ObjectVersion)> = list.iter().cloned().enumerate().collect();
            shuffled.sort_by(|(i, a), (j, b)| {
                a.key.cmp(&b.key)
                    .then(b.last_modified.cmp(&a.last_modified))
                    .then(b.is_latest.cmp(&a.is_latest))
                    .then(priorities[*i % 40].cmp(&priorities[*j % 40]))
            });
            let shuffled: Vec<ObjectVersion> = shuffled.into_iter().map(|(_, v)| v).collect();
            let truth = keys(&list, t(at), mode);
            let got = keys(&shuffled, t(at), mode);
            prop_assert_eq!(got.len(), truth.len());
            for (g, want) in got.iter().zip(&truth) {
                if !g.tied {
                    prop_assert_eq!(&g.resolved, &want.resolved, "key {}", g.key);
                } else {
                    // Only a real tie makes a key's versions be listed.
                    let mut seconds: Vec<i64> = list
                        .iter()
                        .filter(|v| v.key == g.key && v.last_modified <= t(at))
                        .map(|v| second(v.last_modified))
                        .collect();
                    let n = seconds.len();
                    seconds.dedup();
                    prop_assert!(seconds.len() < n, "key {} tied without a shared second", g.key);
                }
            }
        }

        #[test]
        fn random_pages_change_nothing(
            h in history(),
            at in -1i64..45,
            mode in mode(),
            cuts in prop::collection::vec(0usize..64, 0..8),
        ) {
            let list = listing(&h);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(list.len())).collect();
            cuts.sort_unstable();
            let mut pages = Vec::new();
            let mut start = 0;
            for c in cuts {
                pages.push(list[start..c].to_vec());
                start = c;
            }
            pages.push(list[start..].to_vec());
            prop_assert_eq!(resolve_pages(pages, t(at), mode), resolve(&list, at, mode));
        }
    }
}
