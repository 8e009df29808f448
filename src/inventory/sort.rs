//! The external sort that puts an inventory's unsorted rows into S3's listing order with bounded
//! memory: entries are buffered up to a byte budget, each full buffer is sorted and spilled to a
//! run file, and the runs are merged k-way (a binary heap of one head per run) on every read.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::DateTime;

use super::InventoryError;
use crate::version::ObjectVersion;

/// An inventory entry and its position in the inventory (files in manifest order, rows in file
/// order), the last tie-breaker of [`listing_order`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The version or delete marker.
    pub version: ObjectVersion,
    /// Its position in the inventory.
    pub ordinal: u64,
}

/// S3's listing order: key ascending by bytes; within a key newest first (greatest LastModified);
/// between equal LastModified the current version first (S3 lists it first); then inventory order.
pub fn listing_order(a: &Entry, b: &Entry) -> Ordering {
    a.version
        .key
        .as_bytes()
        .cmp(b.version.key.as_bytes())
        .then_with(|| b.version.last_modified.cmp(&a.version.last_modified))
        .then_with(|| b.version.is_latest.cmp(&a.version.is_latest))
        .then_with(|| a.ordinal.cmp(&b.ordinal))
}

/// What the sort did, for logs and the benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SortStats {
    /// Entries sorted.
    pub entries: u64,
    /// Sorted runs spilled to disk (0: everything fit in the budget).
    pub runs: u64,
    /// Bytes written to run files.
    pub spilled_bytes: u64,
}

/// Collects entries and sorts them with at most `budget` bytes of entries in memory.
#[derive(Debug)]
pub struct Sorter {
    dir: PathBuf,
    budget: usize,
    buffer: Vec<Entry>,
    buffered: usize,
    runs: Vec<PathBuf>,
    stats: SortStats,
}

/// Roughly what an entry costs in memory: the struct and its strings.
fn weight(e: &Entry) -> usize {
    let v = &e.version;
    std::mem::size_of::<Entry>()
        + v.key.len()
        + v.version_id.len()
        + v.etag.as_ref().map_or(0, String::len)
        + v.storage_class.as_ref().map_or(0, String::len)
}

impl Sorter {
    /// A sorter spilling run files into `dir` (which must exist) once `budget` bytes are buffered.
    pub fn new(dir: &Path, budget: usize) -> Sorter {
        Sorter {
            dir: dir.to_owned(),
            budget: budget.max(1),
            buffer: Vec::new(),
            buffered: 0,
            runs: Vec::new(),
            stats: SortStats::default(),
        }
    }

    /// Adds one entry; spills a sorted run when the budget is full.
    pub fn push(&mut self, entry: Entry) -> Result<(), InventoryError> {
        self.buffered += weight(&entry);
        self.buffer.push(entry);
        self.stats.entries += 1;
        if self.buffered >= self.budget {
            self.spill()?;
        }
        Ok(())
    }

    /// Sorts the buffer and writes it as the next run file.
    fn spill(&mut self) -> Result<(), InventoryError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.buffer.sort_unstable_by(listing_order);
        let path = self.dir.join(format!("run-{:06}.bin", self.runs.len()));
        let io = |source| InventoryError::Io {
            what: format!("writing the sort run {}", path.display()),
            source,
        };
        let file =
            crate::localfile::create(&path, crate::localfile::Write::Truncate).map_err(io)?;
        let mut w = CountingWriter {
            inner: BufWriter::with_capacity(1 << 16, file),
            written: 0,
        };
        for e in self.buffer.drain(..) {
            write_entry(&mut w, &e).map_err(io)?;
        }
        w.inner.flush().map_err(io)?;
        self.stats.spilled_bytes += w.written;
        self.stats.runs += 1;
        self.runs.push(path);
        self.buffered = 0;
        self.buffer.shrink_to_fit();
        Ok(())
    }

    /// Ends the input: everything in memory when it fit the budget, else all runs on disk.
    pub fn finish(mut self) -> Result<Sorted, InventoryError> {
        if self.runs.is_empty() {
            self.buffer.sort_unstable_by(listing_order);
            return Ok(Sorted {
                data: Data::Memory(Arc::new(self.buffer)),
                stats: self.stats,
            });
        }
        self.spill()?;
        Ok(Sorted {
            data: Data::Runs(self.runs),
            stats: self.stats,
        })
    }
}

/// Sorted entries that can be read, in order, as many times as needed.
#[derive(Debug)]
pub struct Sorted {
    data: Data,
    stats: SortStats,
}

#[derive(Debug)]
enum Data {
    Memory(Arc<Vec<Entry>>),
    Runs(Vec<PathBuf>),
}

impl Sorted {
    /// What the sort did.
    pub fn stats(&self) -> SortStats {
        self.stats
    }

    /// The entries in listing order (a k-way merge of the runs, reading each run sequentially).
    pub fn iter(&self) -> Result<SortedIter, InventoryError> {
        match &self.data {
            Data::Memory(entries) => Ok(SortedIter::Memory {
                entries: entries.clone(),
                next: 0,
            }),
            Data::Runs(paths) => {
                let mut heap = BinaryHeap::with_capacity(paths.len());
                let mut readers = Vec::with_capacity(paths.len());
                for (run, path) in paths.iter().enumerate() {
                    let file = File::open(path).map_err(|source| InventoryError::Io {
                        what: format!("reading the sort run {}", path.display()),
                        source,
                    })?;
                    let mut reader = RunReader {
                        inner: BufReader::with_capacity(1 << 16, file),
                        path: path.clone(),
                    };
                    if let Some(entry) = reader.next()? {
                        heap.push(Head { entry, run });
                    }
                    readers.push(reader);
                }
                Ok(SortedIter::Merge { heap, readers })
            }
        }
    }
}

/// The head of one run in the merge heap, ordered so the heap's top is the smallest entry.
#[derive(Debug)]
pub struct Head {
    entry: Entry,
    run: usize,
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Head {}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        listing_order(&other.entry, &self.entry)
    }
}

/// Sorted entries, one at a time.
#[derive(Debug)]
pub enum SortedIter {
    /// Everything fit in memory.
    Memory {
        /// The sorted entries.
        entries: Arc<Vec<Entry>>,
        /// The next to give.
        next: usize,
    },
    /// The k-way merge of the runs.
    Merge {
        /// One head per run that still has entries.
        heap: BinaryHeap<Head>,
        /// The runs' readers.
        readers: Vec<RunReader>,
    },
}

impl Iterator for SortedIter {
    type Item = Result<ObjectVersion, InventoryError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            SortedIter::Memory { entries, next } => {
                let e = entries.get(*next)?;
                *next += 1;
                Some(Ok(e.version.clone()))
            }
            SortedIter::Merge { heap, readers } => {
                let Head { entry, run } = heap.pop()?;
                match readers[run].next() {
                    Ok(Some(following)) => heap.push(Head {
                        entry: following,
                        run,
                    }),
                    Ok(None) => {}
                    Err(e) => {
                        heap.clear();
                        return Some(Err(e));
                    }
                }
                Some(Ok(entry.version))
            }
        }
    }
}

/// Reads one run file entry by entry.
#[derive(Debug)]
pub struct RunReader {
    inner: BufReader<File>,
    path: PathBuf,
}

impl RunReader {
    fn next(&mut self) -> Result<Option<Entry>, InventoryError> {
        read_entry(&mut self.inner).map_err(|source| InventoryError::Io {
            what: format!("reading the sort run {}", self.path.display()),
            source,
        })
    }
}

/// Counts the bytes written through it.
struct CountingWriter<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

const LATEST: u8 = 1;
const MARKER: u8 = 2;
const ETAG: u8 = 4;
const CLASS: u8 = 8;

/// Writes a length-prefixed string.
fn put_str(w: &mut impl Write, s: &str) -> std::io::Result<()> {
    let len = u32::try_from(s.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "string too long"))?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(s.as_bytes())
}

/// One entry in a run file: key, version id, seconds, nanoseconds, size, flags, the optional
/// ETag and storage class, ordinal; integers little-endian, strings length-prefixed.
pub fn write_entry(w: &mut impl Write, e: &Entry) -> std::io::Result<()> {
    let v = &e.version;
    put_str(w, &v.key)?;
    put_str(w, &v.version_id)?;
    w.write_all(&v.last_modified.timestamp().to_le_bytes())?;
    w.write_all(&v.last_modified.timestamp_subsec_nanos().to_le_bytes())?;
    w.write_all(&v.size.to_le_bytes())?;
    let flags = (if v.is_latest { LATEST } else { 0 })
        | (if v.is_delete_marker { MARKER } else { 0 })
        | (if v.etag.is_some() { ETAG } else { 0 })
        | (if v.storage_class.is_some() { CLASS } else { 0 });
    w.write_all(&[flags])?;
    if let Some(etag) = &v.etag {
        put_str(w, etag)?;
    }
    if let Some(class) = &v.storage_class {
        put_str(w, class)?;
    }
    w.write_all(&e.ordinal.to_le_bytes())
}

fn get<const N: usize>(r: &mut impl Read) -> std::io::Result<[u8; N]> {
    let mut b = [0u8; N];
    r.read_exact(&mut b)?;
    Ok(b)
}

fn get_str(r: &mut impl Read) -> std::io::Result<String> {
    let len = u32::from_le_bytes(get::<4>(r)?) as usize;
    let mut bytes = vec![0u8; len];
    r.read_exact(&mut bytes)?;
    String::from_utf8(bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Reads the next entry of a run file, `None` at its end.
pub fn read_entry(r: &mut impl Read) -> std::io::Result<Option<Entry>> {
    let mut first = [0u8; 4];
    match r.read(&mut first[..1])? {
        0 => return Ok(None),
        _ => r.read_exact(&mut first[1..])?,
    }
    let len = u32::from_le_bytes(first) as usize;
    let mut key = vec![0u8; len];
    r.read_exact(&mut key)?;
    let key = String::from_utf8(key)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    let version_id = get_str(r)?;
    let secs = i64::from_le_bytes(get::<8>(r)?);
    let nanos = u32::from_le_bytes(get::<4>(r)?);
    let size = u64::from_le_bytes(get::<8>(r)?);
    let [flags] = get::<1>(r)?;
    let etag = if flags & ETAG != 0 {
        Some(get_str(r)?)
    } else {
        None
    };
    let storage_class = if flags & CLASS != 0 {
        Some(get_str(r)?)
    } else {
        None
    };
    let ordinal = u64::from_le_bytes(get::<8>(r)?);
    let last_modified = DateTime::from_timestamp(secs, nanos)
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "time out of range"))?;
    Ok(Some(Entry {
        version: ObjectVersion {
            key,
            version_id,
            last_modified,
            size,
            etag,
            storage_class,
            is_latest: flags & LATEST != 0,
            is_delete_marker: flags & MARKER != 0,
        },
        ordinal,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(key: &str, secs: i64, id: &str, latest: bool, marker: bool, ordinal: u64) -> Entry {
        Entry {
            version: ObjectVersion {
                key: key.to_owned(),
                version_id: id.to_owned(),
                last_modified: DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap(),
                size: if marker { 0 } else { 3 },
                etag: (!marker).then(|| format!("e-{id}")),
                storage_class: (!marker).then(|| "STANDARD".to_owned()),
                is_latest: latest,
                is_delete_marker: marker,
            },
            ordinal,
        }
    }

    fn sorted(entries: &[Entry], budget: usize) -> (Vec<ObjectVersion>, SortStats) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sorter::new(dir.path(), budget);
        for e in entries {
            s.push(e.clone()).unwrap();
        }
        let sorted = s.finish().unwrap();
        let first: Vec<ObjectVersion> = sorted.iter().unwrap().map(Result::unwrap).collect();
        let again: Vec<ObjectVersion> = sorted.iter().unwrap().map(Result::unwrap).collect();
        assert_eq!(first, again, "a second read gives the same order");
        (first, sorted.stats())
    }

    #[test]
    fn run_files_round_trip_every_field() {
        let mut bytes = Vec::new();
        let a = entry("k/é", 5, "v", true, false, 7);
        let b = entry("", 0, "null", false, true, u64::MAX);
        write_entry(&mut bytes, &a).unwrap();
        write_entry(&mut bytes, &b).unwrap();
        let mut r = &bytes[..];
        assert_eq!(read_entry(&mut r).unwrap(), Some(a));
        assert_eq!(read_entry(&mut r).unwrap(), Some(b));
        assert_eq!(read_entry(&mut r).unwrap(), None);
        let mut cut = &bytes[..bytes.len() - 3];
        read_entry(&mut cut).unwrap();
        assert!(
            read_entry(&mut cut).is_err(),
            "a cut run file is an error, not an end"
        );
    }

    #[test]
    fn listing_order_keys_by_bytes_newest_first_latest_first_on_ties() {
        let entries = vec![
            entry("a/b", 1, "old", false, false, 0),
            entry("a", 1, "a-tie-second", false, false, 1),
            entry("a-1", 9, "dash", true, false, 2),
            entry("a", 5, "a-new", false, true, 3),
            entry("a", 1, "a-latest-tie", true, false, 4),
            entry("a", 1, "a-tie-first", false, false, 0),
            entry("a/b", 3, "new", true, false, 5),
        ];
        let (got, stats) = sorted(&entries, 1);
        let ids: Vec<&str> = got.iter().map(|v| v.version_id.as_str()).collect();
        // "a" < "a-1" < "a/b" by bytes ('-' is 0x2d, '/' is 0x2f).
        assert_eq!(
            ids,
            [
                "a-new",
                "a-latest-tie",
                "a-tie-first",
                "a-tie-second",
                "dash",
                "new",
                "old"
            ]
        );
        assert_eq!(stats.runs, 7, "a budget of one byte spills every entry");
        assert!(stats.spilled_bytes > 0);
        let (in_memory, stats) = sorted(&entries, 1 << 20);
        assert_eq!(in_memory, got);
        assert_eq!((stats.runs, stats.entries), (0, 7));
    }

    fn arb_entry() -> impl Strategy<Value = (String, i64, bool, bool, String)> {
        (
            prop::sample::select(vec![
                "a", "a-1", "a/b", "a/b/c", "b", "b+c", "b c", "b%20c", "é", "z~", "",
            ]),
            0i64..4,
            any::<bool>(),
            any::<bool>(),
            "[a-z0-9]{1,6}",
        )
            .prop_map(|(k, t, l, m, id)| (k.to_owned(), t, l, m, id))
    }

    proptest! {
        #[test]
        fn external_sort_equals_in_memory_sort(
            rows in prop::collection::vec(arb_entry(), 0..300),
            budget in 1usize..4000,
        ) {
            let entries: Vec<Entry> = rows
                .iter()
                .enumerate()
                .map(|(i, (k, t, l, m, id))| entry(k, *t, id, *l, *m, i as u64))
                .collect();
            let mut expected = entries.clone();
            expected.sort_by(listing_order);
            let expected: Vec<ObjectVersion> = expected.into_iter().map(|e| e.version).collect();
            let (got, stats) = sorted(&entries, budget);
            prop_assert_eq!(got, expected);
            prop_assert_eq!(stats.entries, entries.len() as u64);
        }
    }
}
