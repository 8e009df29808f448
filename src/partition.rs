//! Parallel partitioned listing: split one prefix into key ranges, list them with N concurrent
//! streams, and concatenate their outputs back into exact S3 order.
//!
//! A partition is a key range `(after, through]` between two *bounds*. A bound is a real key
//! together with the id of its last listed version, so a partition starts with S3's ordinary
//! pagination markers (KeyMarker and VersionIdMarker of one entry, which every server tried here
//! honours) and every key, with all of its versions, falls in exactly one partition whatever the
//! server does with a KeyMarker alone. Bounds only decide how balanced the partitions are, never
//! what is listed: each partition also drops entries outside its range, so the concatenation of
//! the partitions in order is exactly the single-stream listing.
//!
//! Bounds are found by [`plan_bounds`]: the first-level common prefixes (delimiter `/`), then, when
//! those are too few (one folder dominates, or there is no folder structure), key ranges found by
//! cheap KeyMarker probes where the keys branch. [`ordered_concat`] runs at most a window of
//! partitions at once, each with a bounded buffer: a partition further ahead than the consumer
//! waits when its buffer is full, so memory stays bounded.
//!
//! Everything here is generic over a [`PageSource`], so tests drive the same code against a
//! simulated server (AWS's marker semantics and two servers' deviations).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, Stream, StreamExt};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;

use crate::error::Result;
use crate::version::ObjectVersion;

/// How much planning may cost and what it aims at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanLimits {
    /// Partitions aimed at per stream, so uneven partitions still keep every stream busy.
    pub parts_per_stream: usize,
    /// Planning requests allowed per stream (each a one-page listing of a few entries).
    pub probes_per_stream: usize,
    /// Entries asked for by one planning probe.
    pub probe_keys: i32,
    /// Entries (and common prefixes) of the one delimiter page read first.
    pub top_page: i32,
    /// Pages listed by one stream, per stream, before the rest is planned into partitions.
    pub head_pages_per_stream: usize,
}

impl Default for PlanLimits {
    fn default() -> Self {
        PlanLimits {
            parts_per_stream: 4,
            probes_per_stream: 16,
            probe_keys: 16,
            top_page: 1000,
            head_pages_per_stream: 2,
        }
    }
}

/// Characters probed at one branching point, at most.
const MAX_ALPHABET: usize = 48;

/// Sorts after every character a key is expected to contain (the greatest code point).
const MAX_CHAR: char = '\u{10FFFF}';

/// A listing position: S3's KeyMarker and (for a position inside a key) VersionIdMarker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// The key of the last entry already listed (or any string, for a probe).
    pub key: String,
    /// The version id of the last entry already listed.
    pub version_id: Option<String>,
}

/// One page of a listing as the server returned it, entries already in S3 order.
#[derive(Debug, Clone, Default)]
pub struct RawPage {
    /// Versions and delete markers in S3 order.
    pub entries: Vec<ObjectVersion>,
    /// With the delimiter: the common prefixes on this page.
    pub common_prefixes: Vec<String>,
    /// Where the next page starts; `None` when this was the last page.
    pub next: Option<Marker>,
}

/// Lists one fixed prefix page by page: ListObjectVersions, or a simulated server in tests.
pub trait PageSource: Send + Sync + 'static {
    /// The prefix every page is listed under.
    fn prefix(&self) -> &str;

    /// One page after `marker`, with the delimiter `/` or without, of at most `max_keys` entries.
    fn page(
        &self,
        delimiter: bool,
        marker: Option<Marker>,
        max_keys: i32,
    ) -> BoxFuture<'static, Result<RawPage>>;
}

/// A partition boundary: a key and the version id of its last entry (the oldest, as listed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    /// A key that exists.
    pub key: String,
    /// The id of the last entry listed for that key.
    pub last_version_id: String,
}

/// One key range `(after, through]`: keys after the bound `after` up to and including `through`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// Keys at or before this bound's key belong to earlier partitions (`None`: the first one).
    pub after: Option<Bound>,
    /// The last key of this partition, with its last version id (`None`: to the end of the prefix).
    pub through: Option<Bound>,
}

/// Turns bounds (any order, duplicates allowed) into contiguous partitions covering every key.
pub fn partitions(mut bounds: Vec<Bound>) -> Vec<Partition> {
    bounds.sort_by(|a, b| a.key.cmp(&b.key));
    bounds.dedup_by(|a, b| a.key == b.key);
    let mut parts = Vec::with_capacity(bounds.len() + 1);
    let mut after: Option<Bound> = None;
    for bound in bounds {
        parts.push(Partition {
            after: after.take(),
            through: Some(bound.clone()),
        });
        after = Some(bound);
    }
    parts.push(Partition {
        after,
        through: None,
    });
    parts
}

/// The keys all of whose entries are on a page, each with its last version id, in key order.
///
/// On a truncated page the last key may continue on the next page, so it is left out.
pub fn complete_keys(entries: &[ObjectVersion], truncated: bool) -> Vec<Bound> {
    let mut out: Vec<Bound> = Vec::new();
    for e in entries {
        match out.last_mut() {
            Some(last) if last.key == e.key => last.last_version_id.clone_from(&e.version_id),
            _ => out.push(Bound {
                key: e.key.clone(),
                last_version_id: e.version_id.clone(),
            }),
        }
    }
    if truncated {
        out.pop();
    }
    out
}

/// Lists one partition: which page to ask for next, and which entries of a page belong to it.
#[derive(Debug, Clone)]
pub struct Cursor {
    part: Partition,
    marker: Option<Marker>,
    done: bool,
}

impl Cursor {
    /// Starts at the partition's lower bound (just after its last entry).
    pub fn new(part: Partition) -> Cursor {
        let marker = part.after.as_ref().map(|b| Marker {
            key: b.key.clone(),
            version_id: Some(b.last_version_id.clone()),
        });
        Cursor {
            part,
            marker,
            done: false,
        }
    }

    /// Starts the first partition at `marker`, where a single-stream listing of the same prefix
    /// stopped (every entry after it is in range until the partition's end).
    pub fn resume(part: Partition, marker: Marker) -> Cursor {
        let done = part.through.as_ref().is_some_and(|t| {
            marker.key > t.key
                || (marker.key == t.key
                    && marker.version_id.as_deref() == Some(t.last_version_id.as_str()))
        });
        Cursor {
            part,
            marker: Some(marker),
            done,
        }
    }

    /// The marker of the next page to fetch, or `None` when the partition is complete.
    pub fn next_request(&self) -> Option<Option<Marker>> {
        (!self.done).then(|| self.marker.clone())
    }

    /// Ends the partition (after an error).
    pub fn stop(&mut self) {
        self.done = true;
    }

    /// Takes the page fetched at [`Cursor::next_request`]; returns the entries in the range.
    pub fn accept(&mut self, page: RawPage) -> Vec<ObjectVersion> {
        let mut out = Vec::with_capacity(page.entries.len());
        for e in page.entries {
            if self.part.after.as_ref().is_some_and(|a| e.key <= a.key) {
                continue;
            }
            if self.part.through.as_ref().is_some_and(|t| e.key > t.key) {
                self.done = true;
                return out;
            }
            out.push(e);
        }
        match page.next {
            None => self.done = true,
            Some(next) => {
                // Past the last key, or at its last entry (where the next partition starts).
                let ended = self.part.through.as_ref().is_some_and(|t| {
                    next.key > t.key
                        || (next.key == t.key
                            && next.version_id.as_deref() == Some(t.last_version_id.as_str()))
                });
                if ended {
                    self.done = true;
                } else {
                    self.marker = Some(next);
                }
            }
        }
        out
    }
}

/// Streams one partition's entries page by page; each request holds one of `permits`.
pub fn partition_pages<S: PageSource>(
    source: Arc<S>,
    cursor: Cursor,
    permits: Arc<Semaphore>,
    page_size: i32,
) -> BoxStream<'static, Result<Vec<ObjectVersion>>> {
    stream::unfold(
        (source, cursor, permits),
        move |(source, mut cursor, permits)| async move {
            let marker = cursor.next_request()?;
            let page = {
                let _permit = permits.acquire().await.ok()?;
                source.page(false, marker, page_size).await
            };
            let item = match page {
                Ok(page) => Ok(cursor.accept(page)),
                Err(e) => {
                    cursor.stop();
                    Err(e)
                }
            };
            Some((item, (source, cursor, permits)))
        },
    )
    .boxed()
}

/// A started partition: its bounded buffer and the task filling it (aborted when dropped).
struct Running<T> {
    rx: mpsc::Receiver<Result<Vec<T>>>,
    task: JoinHandle<()>,
}

impl<T> Drop for Running<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What [`ordered_concat`] keeps between items.
struct Concat<T> {
    pending: VecDeque<BoxStream<'static, Result<Vec<T>>>>,
    running: VecDeque<Running<T>>,
    window: usize,
    buffer: usize,
    failed: bool,
}

impl<T: Send + 'static> Concat<T> {
    /// Starts partitions until `window` are running (or none is left).
    fn fill(&mut self) {
        while self.running.len() < self.window {
            let Some(mut part) = self.pending.pop_front() else {
                return;
            };
            let (tx, rx) = mpsc::channel(self.buffer);
            let task = tokio::spawn(async move {
                while let Some(item) = part.next().await {
                    let failed = item.is_err();
                    if tx.send(item).await.is_err() || failed {
                        return;
                    }
                }
            });
            self.running.push_back(Running { rx, task });
        }
    }
}

/// Concatenates partition streams in order, running at most `window` of them ahead at once.
///
/// Each running partition buffers at most `buffer` chunks; when its buffer is full it waits for
/// the consumer. Partitions start in order as earlier ones are consumed. The first error ends the
/// stream (errors of later partitions surface when the consumer reaches them).
pub fn ordered_concat<T: Send + 'static>(
    parts: Vec<BoxStream<'static, Result<Vec<T>>>>,
    window: usize,
    buffer: usize,
) -> BoxStream<'static, Result<T>> {
    entries_of(ordered_chunks(parts, window, buffer))
}

/// [`ordered_concat`] before flattening: the partitions' chunks in order.
fn ordered_chunks<T: Send + 'static>(
    parts: Vec<BoxStream<'static, Result<Vec<T>>>>,
    window: usize,
    buffer: usize,
) -> BoxStream<'static, Result<Vec<T>>> {
    let state = Concat {
        pending: parts.into(),
        running: VecDeque::new(),
        window: window.max(1),
        buffer: buffer.max(1),
        failed: false,
    };
    stream::unfold(state, |mut st| async move {
        loop {
            if st.failed {
                return None;
            }
            st.fill();
            let head = st.running.front_mut()?;
            match head.rx.recv().await {
                Some(Ok(chunk)) => return Some((Ok(chunk), st)),
                Some(Err(e)) => {
                    st.failed = true;
                    return Some((Err(e), st));
                }
                None => {
                    st.running.pop_front();
                }
            }
        }
    })
    .boxed()
}

/// Lists the source's prefix with up to `concurrency` requests at once, in exact S3 order.
///
/// The first [`PlanLimits::head_pages_per_stream`] x `concurrency` pages are listed by one
/// stream (fetching up to `buffer` pages ahead), so a prefix that fits in them costs exactly what
/// a single stream costs: no planning and no partial pages. Only a prefix still truncated after
/// them is planned into partitions ([`plan_bounds`]) and its rest listed by [`ordered_concat`],
/// the first partition resuming where the head stopped. Each partition's last page runs past the
/// partition's end (S3 has no end marker), so partitioning costs up to one page per partition;
/// after the head that is at most about twice the pages listed, however large the prefix.
pub fn list_partitioned<S: PageSource>(
    source: Arc<S>,
    page_size: i32,
    concurrency: usize,
    buffer: usize,
    limits: PlanLimits,
) -> BoxStream<'static, Result<ObjectVersion>> {
    let concurrency = concurrency.max(1);
    let head_pages = limits
        .head_pages_per_stream
        .saturating_mul(concurrency)
        .max(1);
    // Spawned on the first poll, so the stream can be made outside a runtime.
    let chunks = stream::once(async move {
        let (tx, rx) = mpsc::channel::<Result<Vec<ObjectVersion>>>(buffer.max(1));
        let task = tokio::spawn(async move {
            let mut marker: Option<Marker> = None;
            for listed in 1.. {
                let page = match source.page(false, marker.take(), page_size).await {
                    Ok(page) => page,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                if tx.send(Ok(page.entries)).await.is_err() {
                    return;
                }
                let Some(next) = page.next else {
                    return;
                };
                if listed < head_pages {
                    marker = Some(next);
                    continue;
                }
                let mut rest =
                    match partitioned_rest(source, next, page_size, concurrency, buffer, limits)
                        .await
                    {
                        Ok(rest) => rest,
                        Err(e) => {
                            let _ = tx.send(Err(e)).await;
                            return;
                        }
                    };
                while let Some(chunk) = rest.next().await {
                    let failed = chunk.is_err();
                    if tx.send(chunk).await.is_err() || failed {
                        return;
                    }
                }
                return;
            }
        });
        Running { rx, task }
    })
    .flat_map(|head| {
        stream::unfold(head, |mut head: Running<ObjectVersion>| async move {
            let chunk = head.rx.recv().await?;
            Some((chunk, head))
        })
    });
    entries_of(chunks)
}

/// Chunks of entries as one stream of entries, an error as its last item.
fn entries_of<T: Send + 'static>(
    chunks: impl Stream<Item = Result<Vec<T>>> + Send + 'static,
) -> BoxStream<'static, Result<T>> {
    chunks
        .flat_map(|chunk| match chunk {
            Ok(entries) => stream::iter(entries.into_iter().map(Ok)).left_stream(),
            Err(e) => stream::iter(vec![Err(e)]).right_stream(),
        })
        .boxed()
}

/// Plans the part of the prefix after `resume` (where the head stopped: every key before its key
/// is listed whole) and returns its partitions merged in order, as chunks.
async fn partitioned_rest<S: PageSource>(
    source: Arc<S>,
    resume: Marker,
    page_size: i32,
    concurrency: usize,
    buffer: usize,
    limits: PlanLimits,
) -> Result<BoxStream<'static, Result<Vec<ObjectVersion>>>> {
    let bounds: Vec<Bound> = plan_bounds(&*source, concurrency, limits)
        .await?
        .into_iter()
        .filter(|b| b.key >= resume.key)
        .collect();
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut streams = Vec::new();
    for (i, part) in partitions(bounds).into_iter().enumerate() {
        let cursor = if i == 0 {
            Cursor::resume(part, resume.clone())
        } else {
            Cursor::new(part)
        };
        streams.push(partition_pages(
            source.clone(),
            cursor,
            permits.clone(),
            page_size,
        ));
    }
    tracing::debug!(
        partitions = streams.len(),
        concurrency,
        "listing the rest of {} in partitions",
        source.prefix()
    );
    Ok(ordered_chunks(streams, concurrency * 2, buffer))
}

/// What one KeyMarker probe found: the first key after the marker and the complete keys.
#[derive(Debug, Default)]
struct Probe {
    first_key: Option<String>,
    bounds: Vec<Bound>,
    keys: Vec<String>,
}

/// Lists a few entries after `marker` (KeyMarker alone). Entries at or before the marker are
/// dropped (some servers include the marker key), so only positions after it are trusted.
async fn probe<S: PageSource + ?Sized>(source: &S, marker: String, keys: i32) -> Result<Probe> {
    let page = source
        .page(
            false,
            Some(Marker {
                key: marker.clone(),
                version_id: None,
            }),
            keys,
        )
        .await?;
    let truncated = page.next.is_some();
    let entries: Vec<ObjectVersion> = page
        .entries
        .into_iter()
        .filter(|e| e.key > marker)
        .collect();
    let mut keys: Vec<String> = entries.iter().map(|e| e.key.clone()).collect();
    keys.dedup();
    Ok(Probe {
        first_key: keys.first().cloned(),
        bounds: last_complete(&entries, truncated),
        keys,
    })
}

/// The last complete key of a page as a bound (one per page: its other keys are neighbours).
fn last_complete(entries: &[ObjectVersion], truncated: bool) -> Vec<Bound> {
    complete_keys(entries, truncated)
        .pop()
        .into_iter()
        .collect()
}

/// Runs probes at `markers`, `concurrency` at a time, results in marker order.
async fn probe_all<S: PageSource + ?Sized>(
    source: &S,
    markers: Vec<String>,
    keys: i32,
    concurrency: usize,
) -> Result<Vec<Probe>> {
    stream::iter(markers.into_iter().map(|m| probe(source, m, keys)))
        .buffered(concurrency.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// A key range to split further: keys starting with `prefix`, the first of them `first`.
#[derive(Debug, Clone)]
struct Split {
    prefix: String,
    first: String,
}

/// Byte offsets of the character boundaries of `s` from `from` to its end (both included).
fn boundaries(s: &str, from: usize) -> Vec<usize> {
    let mut out: Vec<usize> = s
        .char_indices()
        .map(|(i, _)| i)
        .filter(|i| *i >= from)
        .collect();
    out.push(s.len());
    out.dedup();
    out
}

/// Picks at most `n` items spread evenly over `items` (all of them when there are fewer).
pub fn spread<T: Clone>(items: &[T], n: usize) -> Vec<T> {
    if items.len() <= n {
        return items.to_vec();
    }
    if n == 0 {
        return Vec::new();
    }
    (0..n).map(|i| items[i * items.len() / n].clone()).collect()
}

/// The characters of keys seen while planning, after the listed prefix: what probes try next.
#[derive(Debug, Clone)]
pub struct Alphabet(BTreeSet<char>);

impl Alphabet {
    /// Starts with the decimal digits, which most generated keys contain.
    pub fn new() -> Alphabet {
        Alphabet(('0'..='9').collect())
    }

    /// Adds the characters of `keys` after `prefix`.
    pub fn learn<'a>(&mut self, prefix: &str, keys: impl IntoIterator<Item = &'a str>) {
        for key in keys {
            self.0
                .extend(key.strip_prefix(prefix).unwrap_or(key).chars());
        }
        self.0.remove(&MAX_CHAR);
    }

    /// The characters to probe, at most [`MAX_ALPHABET`] of them spread over the set.
    pub fn chars(&self) -> Vec<char> {
        spread(&self.0.iter().copied().collect::<Vec<_>>(), MAX_ALPHABET)
    }
}

impl Default for Alphabet {
    fn default() -> Self {
        Alphabet::new()
    }
}

/// The next character of `key` after its first `at` bytes.
fn char_at(key: &str, at: usize) -> Option<char> {
    key.get(at..).and_then(|rest| rest.chars().next())
}

/// Adds bounds, keeping the first version id seen for a key.
fn add_bounds(bounds: &mut BTreeMap<String, String>, found: Vec<Bound>) {
    for b in found {
        bounds.entry(b.key).or_insert(b.last_version_id);
    }
}

/// Finds partition bounds for the source's prefix, aiming at `concurrency` x parts per stream.
///
/// 1. One delimiter page: the first-level common prefixes, each probed for a key near its start
///    (and, when that page holds the whole prefix, its direct keys, spread evenly).
/// 2. While bounds are too few (one prefix dominates, or there is no `/` structure), each range is
///    split where its keys branch: a binary search with KeyMarker probes finds the longest prefix
///    all its keys share, then one probe per character of the planning alphabet finds the first
///    key of each branch. At most `concurrency` x probes per stream requests in all.
pub async fn plan_bounds<S: PageSource + ?Sized>(
    source: &S,
    concurrency: usize,
    limits: PlanLimits,
) -> Result<Vec<Bound>> {
    let target = concurrency * limits.parts_per_stream;
    let mut budget = concurrency * limits.probes_per_stream;
    let prefix = source.prefix().to_owned();
    let mut bounds: BTreeMap<String, String> = BTreeMap::new();

    let top = source.page(true, None, limits.top_page).await?;
    budget = budget.saturating_sub(1);
    let whole = top.next.is_none();
    if whole {
        add_bounds(
            &mut bounds,
            spread(&complete_keys(&top.entries, false), target),
        );
    } else {
        add_bounds(&mut bounds, last_complete(&top.entries, true));
    }
    let mut alphabet = Alphabet::new();
    alphabet.learn(&prefix, top.entries.iter().map(|e| e.key.as_str()));
    alphabet.learn(&prefix, top.common_prefixes.iter().map(String::as_str));

    // Ranges to start from: each common prefix, and what follows the delimiter page if it was cut.
    let mut common = top.common_prefixes.clone();
    common.sort();
    common.dedup();
    let mut starts: Vec<(String, String)> = spread(&common, target)
        .into_iter()
        .map(|p| (p.clone(), p))
        .collect();
    if !whole {
        let last_entry = top.entries.last().map(|e| e.key.clone());
        let last_prefix = common.last().map(|p| format!("{p}{MAX_CHAR}"));
        let after = last_entry
            .max(last_prefix)
            .unwrap_or_else(|| prefix.clone());
        starts.push((prefix.clone(), after));
    }
    starts.truncate(budget);
    budget -= starts.len();
    let markers = starts.iter().map(|(_, m)| m.clone()).collect();
    let probed = probe_all(source, markers, limits.probe_keys, concurrency).await?;
    let mut splits = Vec::new();
    for ((range, _), found) in starts.into_iter().zip(probed) {
        add_bounds(&mut bounds, found.bounds);
        alphabet.learn(&prefix, found.keys.iter().map(String::as_str));
        if let Some(first) = found.first_key.filter(|k| k.starts_with(&range)) {
            splits.push(Split {
                prefix: range,
                first,
            });
        }
    }

    // Split ranges where their keys branch, breadth first, while bounds are too few.
    while bounds.len() < target && !splits.is_empty() && budget > 0 {
        let chars = alphabet.chars();
        let mut chosen = Vec::new();
        for split in splits.drain(..) {
            let cuts = boundaries(&split.first, split.prefix.len()).len();
            // The binary search, then about one character class (the rest is charged after).
            let cost = (usize::BITS - cuts.leading_zeros()) as usize + 1 + 11;
            if cost <= budget {
                budget -= cost;
                chosen.push(split);
            }
        }
        let results: Vec<Result<Branches>> = stream::iter(
            chosen
                .into_iter()
                .map(|s| split_range(source, s, &chars, limits.probe_keys, concurrency)),
        )
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
        for result in results {
            let (found, children, keys, spent) = result?;
            budget = budget.saturating_sub(spent.saturating_sub(11));
            add_bounds(&mut bounds, found);
            alphabet.learn(&prefix, keys.iter().map(String::as_str));
            splits.extend(children);
        }
        splits.sort_by(|a, b| a.prefix.cmp(&b.prefix));
        splits.dedup_by(|a, b| a.prefix == b.prefix);
    }

    let all: Vec<Bound> = bounds
        .into_iter()
        .map(|(key, last_version_id)| Bound {
            key,
            last_version_id,
        })
        .collect();
    Ok(spread(&all, target.saturating_mul(2)))
}

/// What splitting one range found: bounds, the branches to split further, keys seen, and the
/// probes spent on branches.
type Branches = (Vec<Bound>, Vec<Split>, Vec<String>, usize);

/// The characters probed after `first` at a branching point: the rest of its class (digits,
/// lower case, upper case, or the other characters seen), and `None` for a probe past the class.
fn branch_chars(first: Option<char>, alphabet: &[char]) -> Vec<Option<char>> {
    let class: Vec<char> = match first {
        Some(f) if f.is_ascii_digit() => ('0'..='9').collect(),
        Some(f) if f.is_ascii_lowercase() => ('a'..='z').collect(),
        Some(f) if f.is_ascii_uppercase() => ('A'..='Z').collect(),
        _ => alphabet
            .iter()
            .copied()
            .filter(|c| !c.is_ascii_alphanumeric())
            .collect(),
    };
    let mut out: Vec<Option<char>> = class
        .into_iter()
        .filter(|c| first.is_none_or(|f| *c > f))
        .map(Some)
        .collect();
    if first.is_some_and(|f| f.is_ascii_alphanumeric()) {
        out.push(None);
    }
    out
}

/// Splits one range where its keys branch; returns the bounds found and the branches.
async fn split_range<S: PageSource + ?Sized>(
    source: &S,
    split: Split,
    alphabet: &[char],
    keys: i32,
    concurrency: usize,
) -> Result<Branches> {
    let mut found = Vec::new();
    let mut seen = Vec::new();
    let cuts = boundaries(&split.first, split.prefix.len());
    // Whether every key of the range starts with `first[..cuts[i]]` (true for i = 0).
    let shared = |i: usize| {
        let marker = format!("{}{MAX_CHAR}", &split.first[..cuts[i]]);
        let range = split.prefix.as_str();
        async move {
            let p = probe(source, marker, keys).await?;
            let all = p.first_key.as_ref().is_none_or(|k| !k.starts_with(range));
            Ok::<_, crate::error::Error>((all, p.bounds, p.keys))
        }
    };
    let last = cuts.len() - 1;
    let (all_last, b, k) = shared(last).await?;
    found.extend(b);
    seen.extend(k);
    let depth = if all_last {
        last
    } else {
        let (mut lo, mut hi) = (0, last);
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            let (all, b, k) = shared(mid).await?;
            found.extend(b);
            seen.extend(k);
            if all {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    };
    let node = &split.first[..cuts[depth]];
    let first_child = char_at(&split.first, node.len());
    let mut children = Vec::new();
    if let Some(c) = first_child {
        children.push(Split {
            prefix: format!("{node}{c}"),
            first: split.first.clone(),
        });
    }
    // Past the class: after the greatest character of the class, whatever follows it.
    let class_end = |f: char| match f {
        '0'..='9' => '9',
        'a'..='z' => 'z',
        _ => 'Z',
    };
    let markers: Vec<String> = branch_chars(first_child, alphabet)
        .into_iter()
        .map(|c| match (c, first_child) {
            (Some(c), _) => format!("{node}{c}"),
            (None, Some(f)) => format!("{node}{}{MAX_CHAR}", class_end(f)),
            (None, None) => format!("{node}{MAX_CHAR}"),
        })
        .collect();
    let spent = markers.len();
    for p in probe_all(source, markers, keys, concurrency).await? {
        found.extend(p.bounds);
        seen.extend(p.keys);
        if let Some(key) = p.first_key.filter(|k| k.starts_with(node)) {
            if let Some(c) = char_at(&key, node.len()) {
                children.push(Split {
                    prefix: format!("{node}{c}"),
                    first: key,
                });
            }
        }
    }
    Ok((found, children, seen, spent))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use proptest::prelude::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// How a simulated server treats a KeyMarker given without a VersionIdMarker.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum KeyMarkerAlone {
        /// AWS: the listing starts after every entry of the marker key.
        Aws,
        /// moto 5.1: starts at the first key >= the marker and drops that first entry.
        DropsFirst,
        /// Ceph RGW: starts at the first key >= the marker (the marker key included).
        Includes,
    }

    /// A simulated ListObjectVersions over a fixed listing in S3 order.
    struct Sim {
        prefix: String,
        all: Vec<ObjectVersion>,
        alone: KeyMarkerAlone,
        calls: AtomicUsize,
        fail_after: Option<Marker>,
    }

    impl Sim {
        fn new(prefix: &str, all: Vec<ObjectVersion>, alone: KeyMarkerAlone) -> Sim {
            Sim {
                prefix: prefix.into(),
                all,
                alone,
                calls: AtomicUsize::new(0),
                fail_after: None,
            }
        }

        /// Every entry under the prefix: what one stream lists.
        fn expected(&self) -> Vec<ObjectVersion> {
            self.all
                .iter()
                .filter(|e| e.key.starts_with(&self.prefix))
                .cloned()
                .collect()
        }

        fn list(&self, delimiter: bool, marker: Option<&Marker>, max_keys: i32) -> RawPage {
            let entries = self.expected();
            let first_after = |key: &str| {
                entries
                    .iter()
                    .position(|e| e.key.as_str() > key)
                    .unwrap_or(entries.len())
            };
            let start = match marker {
                None => 0,
                Some(Marker {
                    key,
                    version_id: Some(v),
                }) => entries
                    .iter()
                    .position(|e| &e.key == key && &e.version_id == v)
                    .map(|i| i + 1)
                    .unwrap_or_else(|| first_after(key)),
                Some(Marker {
                    key,
                    version_id: None,
                }) => {
                    let at_or_after = entries
                        .iter()
                        .position(|e| e.key >= *key)
                        .unwrap_or(entries.len());
                    match self.alone {
                        KeyMarkerAlone::Aws => first_after(key),
                        KeyMarkerAlone::DropsFirst => (at_or_after + 1).min(entries.len()),
                        KeyMarkerAlone::Includes => at_or_after,
                    }
                }
            };
            let max = max_keys.max(1) as usize;
            let mut page = RawPage::default();
            let mut items = 0;
            let mut last: Option<Marker> = None;
            for e in &entries[start..] {
                let folder = if delimiter {
                    e.key[self.prefix.len()..]
                        .find('/')
                        .map(|i| e.key[..self.prefix.len() + i + 1].to_owned())
                } else {
                    None
                };
                if let Some(f) = &folder {
                    if page.common_prefixes.last() == Some(f) {
                        continue;
                    }
                }
                if items == max {
                    page.next = last;
                    return page;
                }
                items += 1;
                match folder {
                    Some(f) => {
                        last = Some(Marker {
                            key: f.clone(),
                            version_id: None,
                        });
                        page.common_prefixes.push(f);
                    }
                    None => {
                        last = Some(Marker {
                            key: e.key.clone(),
                            version_id: Some(e.version_id.clone()),
                        });
                        page.entries.push(e.clone());
                    }
                }
            }
            page
        }
    }

    impl PageSource for Sim {
        fn prefix(&self) -> &str {
            &self.prefix
        }

        fn page(
            &self,
            delimiter: bool,
            marker: Option<Marker>,
            max_keys: i32,
        ) -> BoxFuture<'static, Result<RawPage>> {
            let n = self.calls.fetch_add(1, Ordering::Relaxed);
            let failed = self.fail_after.is_some() && marker == self.fail_after;
            let page = self.list(delimiter, marker.as_ref(), max_keys);
            Box::pin(async move {
                // Interleave the partitions' tasks differently from call to call.
                for _ in 0..(n * 7919) % 5 {
                    tokio::task::yield_now().await;
                }
                if failed {
                    return Err(crate::error::Error::Invalid("simulated failure".into()));
                }
                Ok(page)
            })
        }
    }

    fn entry(key: &str, id: usize, marker: bool) -> ObjectVersion {
        ObjectVersion {
            key: key.into(),
            version_id: format!("v{id}"),
            last_modified: DateTime::from_timestamp(1_700_000_000 - id as i64, 0).unwrap(),
            size: if marker { 0 } else { id as u64 },
            etag: None,
            storage_class: None,
            is_latest: false,
            is_delete_marker: marker,
        }
    }

    /// A listing in S3 order from `(key, versions)`: keys sorted, each key's entries in order.
    fn listing(keys: &[(String, Vec<bool>)]) -> Vec<ObjectVersion> {
        let mut keys: Vec<(String, Vec<bool>)> = keys.to_vec();
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        keys.dedup_by(|a, b| a.0 == b.0);
        let mut out = Vec::new();
        for (key, markers) in keys {
            for m in markers {
                let id = out.len();
                out.push(entry(&key, id, m));
            }
        }
        out
    }

    fn ids(entries: &[ObjectVersion]) -> Vec<String> {
        entries
            .iter()
            .map(|e| format!("{}#{}", e.key, e.version_id))
            .collect()
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn collect(s: BoxStream<'static, Result<ObjectVersion>>) -> Result<Vec<ObjectVersion>> {
        run(s.collect::<Vec<_>>()).into_iter().collect()
    }

    /// Lists every partition synchronously with its cursor and concatenates them.
    fn list_by_cursors(sim: &Sim, bounds: Vec<Bound>, page_size: i32) -> Vec<ObjectVersion> {
        let mut out = Vec::new();
        for part in partitions(bounds) {
            let mut cursor = Cursor::new(part);
            while let Some(marker) = cursor.next_request() {
                let page = sim.list(false, marker.as_ref(), page_size);
                out.extend(cursor.accept(page));
            }
        }
        out
    }

    fn keys_of(spec: &[(&str, usize)]) -> Vec<(String, Vec<bool>)> {
        spec.iter()
            .map(|(k, n)| (k.to_string(), (0..*n).map(|i| i % 3 == 2).collect()))
            .collect()
    }

    #[test]
    fn partitions_are_contiguous_and_cover_everything() {
        let b = |k: &str| Bound {
            key: k.into(),
            last_version_id: format!("{k}-last"),
        };
        let parts = partitions(vec![b("p/m"), b("p/c"), b("p/m")]);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].after, None);
        assert_eq!(parts[0].through, Some(b("p/c")));
        assert_eq!(parts[1].after, Some(b("p/c")));
        assert_eq!(parts[1].through, Some(b("p/m")));
        assert_eq!(parts[2].after, Some(b("p/m")));
        assert_eq!(parts[2].through, None);
        assert_eq!(partitions(Vec::new()).len(), 1);
    }

    #[test]
    fn complete_keys_leave_out_a_key_cut_by_the_page() {
        let l = listing(&keys_of(&[("a", 2), ("b", 3), ("c", 2)]));
        let all = complete_keys(&l, false);
        assert_eq!(
            all.iter()
                .map(|b| (b.key.as_str(), b.last_version_id.as_str()))
                .collect::<Vec<_>>(),
            [("a", "v1"), ("b", "v4"), ("c", "v6")]
        );
        assert_eq!(complete_keys(&l[..6], true).len(), 2);
        assert_eq!(complete_keys(&l[..5], true).len(), 1);
    }

    #[test]
    fn a_key_that_is_also_a_prefix_stays_whole_in_one_partition() {
        // `p/a` is an object and the prefix of `p/a/b`; `p/a.txt` sorts between them.
        let keys = keys_of(&[
            ("p/a", 3),
            ("p/a.txt", 1),
            ("p/a/b", 2),
            ("p/a/b/c", 2),
            ("p/a0", 1),
            ("p/b", 4),
        ]);
        let sim = Sim::new("p/", listing(&keys), KeyMarkerAlone::DropsFirst);
        let expected = sim.expected();
        for bound_keys in [vec!["p/a"], vec!["p/a", "p/a/b"], vec!["p/a.txt", "p/a0"]] {
            let bounds: Vec<Bound> = complete_keys(&expected, false)
                .into_iter()
                .filter(|b| bound_keys.contains(&b.key.as_str()))
                .collect();
            for page in 1..4 {
                assert_eq!(
                    ids(&list_by_cursors(&sim, bounds.clone(), page)),
                    ids(&expected)
                );
            }
        }
    }

    #[test]
    fn a_partition_stops_at_its_last_key_without_reading_further() {
        let keys = keys_of(&[("p/a", 2), ("p/b", 2), ("p/c", 2), ("p/d", 2)]);
        let sim = Sim::new("p/", listing(&keys), KeyMarkerAlone::Aws);
        let through = complete_keys(&sim.expected(), false)[1].clone();
        assert_eq!(through.key, "p/b");
        let mut cursor = Cursor::new(Partition {
            after: None,
            through: Some(through.clone()),
        });
        // The page ends at the last entry of p/b: no request for the next page.
        let page = sim.list(false, None, 4);
        assert_eq!(cursor.accept(page).len(), 4);
        assert_eq!(cursor.next_request(), None);
        // A page ending inside p/b continues; one reaching past it ends the partition.
        let mut cursor = Cursor::new(Partition {
            after: None,
            through: Some(through),
        });
        assert_eq!(cursor.accept(sim.list(false, None, 3)).len(), 3);
        let next = cursor.next_request().unwrap();
        let page = sim.list(false, next.as_ref(), 3);
        assert_eq!(cursor.accept(page).len(), 1);
        assert_eq!(cursor.next_request(), None);
    }

    #[test]
    fn small_prefix_costs_one_request() {
        let sim = Arc::new(Sim::new(
            "p/",
            listing(&keys_of(&[("p/a", 2), ("p/b", 1)])),
            KeyMarkerAlone::Aws,
        ));
        let got = collect(list_partitioned(
            sim.clone(),
            10,
            8,
            2,
            PlanLimits::default(),
        ))
        .unwrap();
        assert_eq!(ids(&got), ids(&sim.expected()));
        assert_eq!(sim.calls.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_prefix_that_fits_in_the_head_costs_what_one_stream_costs() {
        // 40 keys x 2 versions in pages of 10: 8 pages, within the head of 4 streams x 2 pages.
        let keys: Vec<(String, Vec<bool>)> = (0..40)
            .map(|i| (format!("p/d{}/k{i:03}", i % 4), vec![false, true]))
            .collect();
        // Lists with 4 streams and the given head; gives the requests it took.
        let requests = |head_pages_per_stream: usize| {
            let sim = Arc::new(Sim::new("p/", listing(&keys), KeyMarkerAlone::Aws));
            let limits = PlanLimits {
                head_pages_per_stream,
                ..PlanLimits::default()
            };
            let got = collect(list_partitioned(sim.clone(), 10, 4, 2, limits)).unwrap();
            assert_eq!(ids(&got), ids(&sim.expected()));
            sim.calls.load(Ordering::Relaxed)
        };
        assert_eq!(requests(2), 8);
        // One page fewer in the head: the rest is planned and listed in partitions.
        assert!(requests(1) > 8);
    }

    #[test]
    fn a_dominant_folder_is_split_into_key_ranges() {
        let mut spec: Vec<(String, usize)> = (0..400)
            .map(|i| (format!("p/data/object-{i:05}.bin"), 2))
            .collect();
        spec.push(("p/other/x".into(), 1));
        spec.push(("p/top".into(), 1));
        let keys: Vec<(String, Vec<bool>)> = spec
            .iter()
            .map(|(k, n)| (k.clone(), vec![false; *n]))
            .collect();
        let sim = Sim::new("p/", listing(&keys), KeyMarkerAlone::Aws);
        let bounds = run(plan_bounds(&sim, 4, PlanLimits::default())).unwrap();
        let in_data = bounds
            .iter()
            .filter(|b| b.key.starts_with("p/data/"))
            .count();
        assert!(in_data >= 8, "{bounds:?}");
        // No partition holds more than a quarter of the keys.
        let expected = sim.expected();
        for part in partitions(bounds.clone()) {
            let n = expected
                .iter()
                .filter(|e| {
                    part.after.as_ref().is_none_or(|a| e.key > a.key)
                        && part.through.as_ref().is_none_or(|t| e.key <= t.key)
                })
                .count();
            assert!(n <= expected.len() / 4, "{n} entries in {part:?}");
        }
        assert_eq!(ids(&list_by_cursors(&sim, bounds, 7)), ids(&expected));
    }

    #[test]
    fn flat_keys_without_folders_are_split_too() {
        let keys: Vec<(String, Vec<bool>)> = (0..300)
            .map(|i| (format!("p/{:04x}", i * 97 % 1000), vec![false, true]))
            .collect();
        let sim = Arc::new(Sim::new("p/", listing(&keys), KeyMarkerAlone::DropsFirst));
        let limits = PlanLimits {
            top_page: 50,
            ..PlanLimits::default()
        };
        let bounds = run(plan_bounds(&*sim, 4, limits)).unwrap();
        assert!(bounds.len() >= 8, "{bounds:?}");
        let got = collect(list_partitioned(sim.clone(), 25, 4, 2, limits)).unwrap();
        assert_eq!(ids(&got), ids(&sim.expected()));
    }

    #[test]
    fn an_error_in_a_later_partition_ends_the_stream_after_the_earlier_ones() {
        let keys = keys_of(&[("p/a", 2), ("p/b", 2), ("p/c", 2), ("p/d", 2)]);
        let mut sim = Sim::new("p/", listing(&keys), KeyMarkerAlone::Aws);
        let expected = sim.expected();
        let bound = complete_keys(&expected, false)[1].clone();
        sim.fail_after = Some(Marker {
            key: bound.key.clone(),
            version_id: Some(bound.last_version_id.clone()),
        });
        let sim = Arc::new(sim);
        let permits = Arc::new(Semaphore::new(2));
        let streams = partitions(vec![bound])
            .into_iter()
            .map(|p| partition_pages(sim.clone(), Cursor::new(p), permits.clone(), 1))
            .collect();
        let got = run(ordered_concat(streams, 2, 1).collect::<Vec<_>>());
        assert_eq!(got.len(), 5);
        assert!(got[..4].iter().all(|r| r.is_ok()));
        assert!(got[4].is_err());
    }

    #[test]
    fn a_partition_far_ahead_waits_with_a_bounded_buffer() {
        // The first partition never ends; the second would produce 1,000 chunks.
        let produced = Arc::new(AtomicUsize::new(0));
        let slow: BoxStream<'static, Result<Vec<u32>>> = stream::once(async { Ok(vec![0]) })
            .chain(stream::pending())
            .boxed();
        let counter = produced.clone();
        let fast: BoxStream<'static, Result<Vec<u32>>> = stream::iter(0..1000)
            .map(move |i| {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(vec![i])
            })
            .boxed();
        run(async {
            let mut merged = ordered_concat(vec![slow, fast], 2, 3);
            assert_eq!(merged.next().await.unwrap().unwrap(), 0);
            for _ in 0..50 {
                tokio::task::yield_now().await;
            }
            // Three chunks buffered, one in hand waiting for room.
            assert!(produced.load(Ordering::SeqCst) <= 4);
        });
    }

    #[test]
    fn the_window_bounds_partitions_started() {
        let started = Arc::new(Mutex::new(Vec::new()));
        let parts: Vec<BoxStream<'static, Result<Vec<usize>>>> = (0..10)
            .map(|i| {
                let started = started.clone();
                stream::once(async move {
                    started.lock().unwrap().push(i);
                    Ok(vec![i])
                })
                .chain(if i == 0 {
                    stream::pending().left_stream()
                } else {
                    stream::empty().right_stream()
                })
                .boxed()
            })
            .collect();
        run(async {
            let mut merged = ordered_concat(parts, 3, 1);
            assert_eq!(merged.next().await.unwrap().unwrap(), 0);
            for _ in 0..50 {
                tokio::task::yield_now().await;
            }
            let mut s = started.lock().unwrap().clone();
            s.sort();
            assert_eq!(s, [0, 1, 2]);
        });
    }

    /// Keys from a small alphabet with `/`, URL-special characters and non-ASCII, so that keys are
    /// often prefixes of others, objects and folders share names, and keys sort between bounds.
    fn arb_keys() -> impl Strategy<Value = Vec<(String, Vec<bool>)>> {
        let chars = prop::sample::select(vec![
            'a',
            'b',
            '/',
            '0',
            '-',
            '.',
            ' ',
            '%',
            '+',
            '&',
            'é',
            '~',
            '\u{10FFFF}',
        ]);
        let key = (
            prop::sample::select(vec!["p/", "p/", "p/", "p/a/", "p", "o/", "q/"]),
            prop::collection::vec(chars, 0..6),
        )
            .prop_map(|(top, rest)| format!("{top}{}", rest.into_iter().collect::<String>()));
        prop::collection::vec((key, prop::collection::vec(any::<bool>(), 1..4)), 0..60)
    }

    fn arb_alone() -> impl Strategy<Value = KeyMarkerAlone> {
        prop::sample::select(vec![
            KeyMarkerAlone::Aws,
            KeyMarkerAlone::DropsFirst,
            KeyMarkerAlone::Includes,
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// Any bounds (any subset of keys, with their last version ids) partition the listing
        /// exactly: the concatenation equals the single-stream listing.
        #[test]
        fn any_bounds_concatenate_to_the_single_listing(
            keys in arb_keys(),
            picks in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
            page in 1i32..6,
            alone in arb_alone(),
        ) {
            let sim = Sim::new("p/", listing(&keys), alone);
            let expected = sim.expected();
            let complete = complete_keys(&expected, false);
            let bounds: Vec<Bound> = if complete.is_empty() {
                Vec::new()
            } else {
                picks.iter().map(|i| i.get(&complete).clone()).collect()
            };
            prop_assert_eq!(ids(&list_by_cursors(&sim, bounds, page)), ids(&expected));
        }

        /// The whole pipeline (plan, concurrent partitions, ordered merge) against servers with
        /// AWS's and two deviating KeyMarker semantics equals the single-stream listing.
        #[test]
        fn partitioned_listing_equals_the_single_stream(
            keys in arb_keys(),
            page in 1i32..6,
            concurrency in 2usize..8,
            top_page in 1i32..8,
            probe_keys in 1i32..5,
            buffer in 1usize..3,
            alone in arb_alone(),
            head_pages_per_stream in 0usize..3,
        ) {
            let sim = Arc::new(Sim::new("p/", listing(&keys), alone));
            let limits = PlanLimits {
                parts_per_stream: 4,
                probes_per_stream: 12,
                probe_keys,
                top_page,
                head_pages_per_stream,
            };
            let got = collect(list_partitioned(sim.clone(), page, concurrency, buffer, limits));
            prop_assert_eq!(ids(&got.unwrap()), ids(&sim.expected()));
        }

        /// The ordered merge of arbitrary chunked partitions is their concatenation.
        #[test]
        fn ordered_concat_is_concatenation(
            parts in prop::collection::vec(
                prop::collection::vec(prop::collection::vec(any::<u16>(), 0..4), 0..5), 0..8),
            window in 1usize..5,
            buffer in 1usize..3,
        ) {
            let expected: Vec<u16> = parts.iter().flatten().flatten().copied().collect();
            let streams = parts
                .into_iter()
                .map(|chunks| {
                    stream::iter(chunks)
                        .then(|c| async move {
                            tokio::task::yield_now().await;
                            Ok(c)
                        })
                        .boxed()
                })
                .collect();
            let got: Result<Vec<u16>> =
                run(ordered_concat(streams, window, buffer).collect::<Vec<_>>()).into_iter().collect();
            prop_assert_eq!(got.unwrap(), expected);
        }
    }
}
