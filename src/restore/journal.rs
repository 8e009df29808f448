//! The restore journal: a local, append-only file recording every object a restore wrote (the
//! target key, the central version it came from, the version id S3 gave the copy), so a re-run
//! or a resume after a kill knows from the target's listing alone what is already in place.
//!
//! Two lines per write, each written with one `write(2)` before the next request is made:
//!
//! ```text
//! copying <TAB> target key <TAB> central bucket <TAB> central key <TAB> central version <TAB> target version planned over
//! copied  <TAB> target key <TAB> central bucket <TAB> central key <TAB> central version <TAB> target version S3 returned
//! ```
//!
//! Fields are percent-encoded (`%`, tabs, newlines, other control characters); an empty field is
//! "none". A `copying` line with no `copied` line after it is a write in doubt (the process died
//! while the request was in flight): the journal does not know which version, if any, it made,
//! so it proves nothing (the target's current version is then in place only by its checksum, as
//! without a journal). The `copying` line keeps the version the copy was planned over.
//!
//! Trust: only this user's own file is read (see [`Journal::open`]); a line that names a target
//! version proves that version only, so an attacker who overwrites the key afterwards makes a new
//! version the journal does not know.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::localfile;
use crate::restore::plan::TargetObject;
use crate::version::ObjectVersion;

/// The first line of every journal file.
const HEADER: &str = "# s3central restore journal v1";

/// Characters percent-encoded in a field: controls (tab, newline) and `%` itself.
const FIELD: &AsciiSet = &CONTROLS.add(b'%');

/// A write that began and was never recorded as done.
#[derive(Debug, Clone)]
struct InDoubt {
    /// Fingerprint of the central version being copied.
    source: u128,
}

/// The journal of one target bucket: what earlier runs wrote, and the file new writes go to.
#[derive(Debug)]
pub struct Journal {
    /// Where it lives.
    path: PathBuf,
    /// Open for appending; `None` in a dry run (nothing is written).
    file: Option<Mutex<File>>,
    /// Fingerprints of (target key, target version, central version), sorted.
    copied: Vec<u128>,
    /// Writes in doubt, by target key.
    in_doubt: HashMap<String, InDoubt>,
}

impl Journal {
    /// Reads the journal at `path` (absent: empty) and, unless `read_only`, opens it for
    /// appending (creating it and its folder).
    pub fn open(path: &Path, read_only: bool) -> Result<Self> {
        let io = |what: &str, source: std::io::Error| Error::Io {
            what: format!("{what} restore journal {}", path.display()),
            source,
        };
        let mut journal = Journal {
            path: path.to_owned(),
            file: None,
            copied: Vec::new(),
            in_doubt: HashMap::new(),
        };
        // Its lines decide what is skipped: only this user's own regular file is read.
        if let Some(file) = localfile::open_existing(path).map_err(|e| io("reading", e))? {
            for line in BufReader::new(file).lines() {
                journal.replay(&line.map_err(|e| io("reading", e))?);
            }
        }
        journal.copied.sort_unstable();
        journal.copied.dedup();
        if !read_only {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                localfile::private_dir(dir).map_err(|e| io("creating the folder of", e))?;
            }
            let mut file =
                localfile::create(path, localfile::Write::Append).map_err(|e| io("opening", e))?;
            if file.metadata().map(|m| m.len() == 0).unwrap_or(false) {
                file.write_all(format!("{HEADER}\n").as_bytes())
                    .map_err(|e| io("writing", e))?;
            }
            journal.file = Some(Mutex::new(file));
        }
        Ok(journal)
    }

    /// Where the journal lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Copies recorded as done.
    pub fn copies(&self) -> usize {
        self.copied.len()
    }

    /// Writes in doubt: begun by a run that died before recording them done.
    pub fn in_doubt(&self) -> usize {
        self.in_doubt.len()
    }

    /// Applies one line read from the file; lines it cannot read are skipped.
    fn replay(&mut self, line: &str) {
        let fields: Vec<String> = line.split('\t').map(decode).collect();
        match fields.as_slice() {
            [op, key, bucket, source_key, source_version, _planned_over] if op == "copying" => {
                self.in_doubt.insert(
                    key.clone(),
                    InDoubt {
                        source: source_print(bucket, source_key, source_version),
                    },
                );
            }
            [op, key, bucket, source_key, source_version, version] if op == "copied" => {
                let source = source_print(bucket, source_key, source_version);
                self.copied.push(copy_print(key, version, source));
                if self.in_doubt.get(key).is_some_and(|d| d.source == source) {
                    self.in_doubt.remove(key);
                }
            }
            _ => {}
        }
    }

    /// Whether a `copied` line records `target` (this exact target version) as the version S3
    /// returned for a copy of this exact `source` version (from `source_bucket`).
    pub fn recorded_copy(
        &self,
        target: &TargetObject,
        source_bucket: &str,
        source: &ObjectVersion,
    ) -> bool {
        let print = source_print(source_bucket, &source.key, &source.version_id);
        self.copied
            .binary_search(&copy_print(&target.key, &target.version_id, print))
            .is_ok()
    }

    /// Records, before the request is sent, that `source` is about to be written to `target_key`
    /// over the target's current version `planned_over`.
    pub fn copying(
        &self,
        target_key: &str,
        source_bucket: &str,
        source: &ObjectVersion,
        planned_over: Option<&str>,
    ) -> Result<()> {
        self.append(
            "copying",
            target_key,
            source_bucket,
            source,
            planned_over.unwrap_or(""),
        )
    }

    /// Records that the write of `source` to `target_key` made the target version `version`.
    pub fn copied(
        &self,
        target_key: &str,
        source_bucket: &str,
        source: &ObjectVersion,
        version: &str,
    ) -> Result<()> {
        self.append("copied", target_key, source_bucket, source, version)
    }

    /// Writes one line with one `write(2)`, so a kill never leaves half a line.
    fn append(
        &self,
        op: &str,
        target_key: &str,
        source_bucket: &str,
        source: &ObjectVersion,
        version: &str,
    ) -> Result<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let line = format!(
            "{op}\t{}\t{}\t{}\t{}\t{}\n",
            encode(target_key),
            encode(source_bucket),
            encode(&source.key),
            encode(&source.version_id),
            encode(version)
        );
        let mut file = file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        file.write_all(line.as_bytes()).map_err(|source| Error::Io {
            what: format!("writing restore journal {}", self.path.display()),
            source,
        })
    }
}

/// The default journal of a target bucket: `<state dir>/journal/<bucket>.tsv`, where the state
/// dir is `$S3CENTRAL_STATE_DIR`, else `$XDG_STATE_HOME/s3central`, else
/// `~/.local/state/s3central`.
pub fn default_path(bucket: &str) -> Option<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let dir = var("S3CENTRAL_STATE_DIR")
        .or_else(|| var("XDG_STATE_HOME").map(|d| d.join("s3central")))
        .or_else(|| var("HOME").map(|h| h.join(".local/state/s3central")))?;
    Some(dir.join("journal").join(format!("{bucket}.tsv")))
}

/// A field as written to the file.
fn encode(field: &str) -> String {
    utf8_percent_encode(field, FIELD).to_string()
}

/// A field as read from the file.
fn decode(field: &str) -> String {
    percent_decode_str(field).decode_utf8_lossy().into_owned()
}

/// 128 bits of SHA-256 over length-prefixed parts, so no two different part lists collide by
/// concatenation.
fn digest(parts: &[&[u8]]) -> u128 {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    let out = hash.finalize();
    let mut first = [0u8; 16];
    first.copy_from_slice(&out[..16]);
    u128::from_be_bytes(first)
}

/// Identifies a central version.
fn source_print(bucket: &str, key: &str, version: &str) -> u128 {
    digest(&[bucket.as_bytes(), key.as_bytes(), version.as_bytes()])
}

/// Identifies "this target version is a copy of that central version".
fn copy_print(target_key: &str, target_version: &str, source: u128) -> u128 {
    digest(&[
        target_key.as_bytes(),
        target_version.as_bytes(),
        &source.to_be_bytes(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use crate::restore::plan::tests::{target, version};

    /// A path in a new temporary folder (kept for the test's life), under a folder not yet made.
    fn temp_path(dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join("sub").join("j.tsv")
    }

    #[test]
    fn a_recorded_copy_is_known_after_reopening_and_nothing_else_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = temp_path(&dir);
        let source = version("111111111111/a\tb\n%c", "v1", 3);
        {
            let j = Journal::open(&path, false).unwrap();
            j.copying("111111111111/a\tb\n%c", "central", &source, Some("old"))
                .unwrap();
            j.copied("111111111111/a\tb\n%c", "central", &source, "t1")
                .unwrap();
        }
        let j = Journal::open(&path, true).unwrap();
        assert_eq!((j.copies(), j.in_doubt()), (1, 0));
        let t = target("111111111111/a\tb\n%c", "t1", 3);
        assert!(j.recorded_copy(&t, "central", &source));
        // Another target version, another central version, another central bucket: unknown.
        assert!(!j.recorded_copy(&target(&t.key, "t2", 3), "central", &source));
        assert!(!j.recorded_copy(&t, "central", &version(&source.key, "v2", 3)));
        assert!(!j.recorded_copy(&t, "other", &source));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(HEADER), "{text}");
        assert_eq!(text.lines().count(), 3, "{text}");
    }

    /// A copy in doubt says nothing of the version that followed it: an attacker can write the
    /// same size (and the old rule took that as landed).
    #[test]
    fn a_write_in_doubt_proves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = temp_path(&dir);
        let source = version("k", "v1", 10);
        {
            let j = Journal::open(&path, false).unwrap();
            j.copying("k", "central", &source, Some("before")).unwrap();
            j.copying("n", "central", &version("n", "v1", 0), None)
                .unwrap();
        }
        let j = Journal::open(&path, true).unwrap();
        assert_eq!(j.in_doubt(), 2);
        for id in ["before", "after"] {
            assert!(!j.recorded_copy(&target("k", id, 10), "central", &source));
        }
        assert!(!j.recorded_copy(&target("n", "new", 0), "central", &version("n", "v1", 0)));
    }

    #[test]
    fn a_dry_run_reads_and_never_creates() {
        let dir = tempfile::tempdir().unwrap();
        let path = temp_path(&dir);
        let j = Journal::open(&path, true).unwrap();
        j.copying("k", "c", &version("k", "v", 1), None).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn unreadable_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = temp_path(&dir);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "garbage\ncopied\tonly\ttwo\n\n").unwrap();
        let j = Journal::open(&path, false).unwrap();
        assert_eq!((j.copies(), j.in_doubt()), (0, 0));
    }

    proptest! {
        #[test]
        fn fields_survive_the_file(key in "\\PC*", control in "[\\t\\n\\r%]{0,3}") {
            let field = format!("{key}{control}{key}");
            prop_assert_eq!(decode(&encode(&field)), field.clone());
            prop_assert!(!encode(&field).contains(['\t', '\n']));
        }
    }
}
