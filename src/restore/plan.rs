//! The pure part of a restore: where each key goes, and whether it must be copied, given the target.

use std::cmp::Ordering;
use std::pin::Pin;

use futures::stream::{Peekable, Stream, StreamExt};
use serde::Serialize;

use crate::version::ObjectVersion;

/// User metadata key that records which central version a restored object was copied from
/// (`--provenance metadata`): for people reading the object, never evidence for a restore.
pub const SOURCE_VERSION_META: &str = "s3central-source-version-id";

/// Maps keys between the central bucket and the target.
#[derive(Debug, Clone)]
pub struct KeyMap {
    /// `<account>/`: what is stripped from central keys.
    pub source_prefix: String,
    /// What is put in front of the relative key in the target (`--to-prefix`, else the account prefix).
    pub target_prefix: String,
}

impl KeyMap {
    /// The key relative to the account prefix.
    pub fn relative<'a>(&self, source_key: &'a str) -> &'a str {
        source_key
            .strip_prefix(&self.source_prefix)
            .unwrap_or(source_key)
    }

    /// The key a central key is restored to.
    pub fn target_key(&self, source_key: &str) -> String {
        format!("{}{}", self.target_prefix, self.relative(source_key))
    }

    /// The relative key of a target key (None when it is outside the target prefix).
    pub fn relative_of_target<'a>(&self, target_key: &'a str) -> Option<&'a str> {
        target_key.strip_prefix(&self.target_prefix)
    }
}

/// `--to-prefix` read as a folder: leading slashes dropped and one trailing slash added, so
/// `restored`, `/restored` and `restored/` all put `docs/a` at `restored/docs/a`; `/` is the root.
pub fn folder_prefix(given: &str) -> Result<String, String> {
    let trimmed = given.trim_start_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let folder = trimmed.trim_end_matches('/');
    if folder
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(format!(
            "--to-prefix {given:?} has an empty, . or .. segment: write it as a folder path such as restored/2026-11-01/"
        ));
    }
    Ok(format!("{folder}/"))
}

/// `--to-bucket` as a bucket name: `s3://NAME` and `s3://NAME/` are read as NAME; a key after the
/// name is refused with the option that takes it.
pub fn bucket_argument(given: &str) -> Result<String, String> {
    let Some(url) = given.strip_prefix("s3://") else {
        return Ok(given.to_owned());
    };
    match url.split_once('/') {
        None => Ok(url.to_owned()),
        Some((bucket, "")) => Ok(bucket.to_owned()),
        Some((bucket, path)) => Err(format!(
            "--to-bucket {given:?} names a path inside the bucket: give --to-bucket {bucket} --to-prefix {path}"
        )),
    }
}

/// The current version of a key in the target, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetObject {
    /// Its key in the target bucket.
    pub key: String,
    /// Its current version id.
    pub version_id: String,
    /// Its size.
    pub size: u64,
}

/// One key of the restore with what is known of it on both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pair {
    /// Present at TIME in central; `target` is the target's current object under the same relative key.
    Source {
        /// The version selected at TIME.
        source: ObjectVersion,
        /// The target's current object, if any.
        target: Option<TargetObject>,
    },
    /// Present in the target, absent at TIME: reported, never deleted.
    Extra(TargetObject),
}

/// What proves a key already in place, so that it is not copied again; written to the report.
///
/// Nothing the target says about itself (its metadata, its size) is evidence: an attacker with
/// admin in the account can write both. See [`same_content`] for why only SHA-256 counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// The target's current version id is the selected version id (replicas keep version ids).
    VersionId,
    /// The restore journal records this exact target version as the one S3 returned for a copy
    /// of this exact central version.
    Journal,
    /// Both versions carry the same SHA-256 checksum, computed by S3.
    Sha256,
}

/// What to do with a key before any request is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Copy it.
    Copy,
    /// Already in place, and this proves it.
    Unchanged(Evidence),
    /// Same size, another version id: in place only if both versions' SHA-256 checksums are equal
    /// (one HeadObject on each side); otherwise copy.
    CompareChecksums,
    /// Report as extra.
    Extra,
}

/// Decides from the listings alone; only [`Decision::CompareChecksums`] needs more requests.
pub fn decide(pair: &Pair) -> Decision {
    match pair {
        Pair::Extra(_) => Decision::Extra,
        Pair::Source { target: None, .. } => Decision::Copy,
        Pair::Source {
            source,
            target: Some(t),
        } => {
            if t.version_id == source.version_id {
                Decision::Unchanged(Evidence::VersionId)
            } else if t.size == source.size {
                Decision::CompareChecksums
            } else {
                Decision::Copy
            }
        }
    }
}

/// Whether two versions' checksums, as HeadObject with ChecksumMode shows them, prove the same
/// content: both SHA-256 and equal.
///
/// CRC32, CRC32C and CRC64NVME are not evidence: a CRC is linear, so anyone who can write the
/// target can make same-size content with any chosen CRC by changing 4 (or 8) bytes, and S3 then
/// stores that matching CRC itself. SHA-1 is not either (chosen-prefix collisions are within
/// reach: an object planted before the backup could be swapped for its twin). A SHA-256 value
/// with a part count (`...-N`, a multipart object's checksum of its parts' checksums) is as
/// strong as a full-object one: equal values mean equal parts.
pub fn same_content(source_sha256: Option<&str>, target_sha256: Option<&str>) -> bool {
    matches!((source_sha256, target_sha256), (Some(s), Some(t)) if !s.is_empty() && s == t)
}

/// How a key ended, as written to the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Copied now.
    Copied,
    /// Already in place.
    Unchanged,
    /// In the target, absent at TIME; left alone.
    Extra,
    /// Could not be copied; the error says why.
    Failed,
    /// Dry run: would be copied.
    WouldCopy,
}

/// Joins the resolved central state with the target's current objects by relative key.
///
/// Both inputs must be in key order (as S3 lists them); the target prefix is the same for every
/// target key, so target order equals relative-key order. Memory is one entry per side.
pub fn join<S, T, E>(
    map: KeyMap,
    source: S,
    target: T,
) -> impl Stream<Item = Result<Pair, E>> + Send
where
    S: Stream<Item = Result<ObjectVersion, E>> + Send + 'static,
    T: Stream<Item = Result<TargetObject, E>> + Send + 'static,
    E: Send + Sync + 'static,
{
    type Side<I, E> = Pin<Box<Peekable<Pin<Box<dyn Stream<Item = Result<I, E>> + Send>>>>>;
    let source: Side<ObjectVersion, E> =
        Box::pin((Box::pin(source) as Pin<Box<dyn Stream<Item = _> + Send>>).peekable());
    let target: Side<TargetObject, E> =
        Box::pin((Box::pin(target) as Pin<Box<dyn Stream<Item = _> + Send>>).peekable());
    futures::stream::unfold(
        (map, source, target),
        |(map, mut source, mut target)| async move {
            let order = {
                let s = source.as_mut().peek().await;
                let t = target.as_mut().peek().await;
                match (s, t) {
                    (None, None) => return None,
                    (Some(Err(_)), _) => Some(Ordering::Less),
                    (_, Some(Err(_))) => Some(Ordering::Greater),
                    (Some(Ok(_)), None) => Some(Ordering::Less),
                    (None, Some(Ok(_))) => Some(Ordering::Greater),
                    (Some(Ok(s)), Some(Ok(t))) => {
                        let rel_t = map.relative_of_target(&t.key).unwrap_or(&t.key);
                        Some(map.relative(&s.key).cmp(rel_t))
                    }
                }
            };
            let item = match order {
                Some(Ordering::Less) => match source.next().await? {
                    Ok(s) => Ok(Pair::Source {
                        source: s,
                        target: None,
                    }),
                    Err(e) => Err(e),
                },
                Some(Ordering::Greater) => match target.next().await? {
                    Ok(t) => Ok(Pair::Extra(t)),
                    Err(e) => Err(e),
                },
                _ => {
                    let s = source.next().await?;
                    let t = target.next().await?;
                    match (s, t) {
                        (Ok(s), Ok(t)) => Ok(Pair::Source {
                            source: s,
                            target: Some(t),
                        }),
                        (Err(e), _) | (_, Err(e)) => Err(e),
                    }
                }
            };
            Some((item, (map, source, target)))
        },
    )
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use chrono::DateTime;
    use futures::executor::block_on;
    use futures::stream;

    /// A version of `key` (for the tests of this folder's modules).
    pub(in crate::restore) fn version(key: &str, id: &str, size: u64) -> ObjectVersion {
        ObjectVersion {
            key: key.into(),
            version_id: id.into(),
            last_modified: DateTime::from_timestamp(1, 0).unwrap(),
            size,
            etag: None,
            storage_class: None,
            is_latest: true,
            is_delete_marker: false,
        }
    }

    /// A target object (for the tests of this folder's modules).
    pub(in crate::restore) fn target(key: &str, id: &str, size: u64) -> TargetObject {
        TargetObject {
            key: key.into(),
            version_id: id.into(),
            size,
        }
    }

    fn map(target_prefix: &str) -> KeyMap {
        KeyMap {
            source_prefix: "111111111111/".into(),
            target_prefix: target_prefix.into(),
        }
    }

    #[test]
    fn to_prefix_is_read_as_a_folder() {
        for given in ["restored", "/restored", "restored/", "//restored//"] {
            assert_eq!(folder_prefix(given).unwrap(), "restored/", "{given:?}");
        }
        assert_eq!(folder_prefix("a/b").unwrap(), "a/b/");
        assert_eq!(folder_prefix("").unwrap(), "");
        assert_eq!(folder_prefix("/").unwrap(), "");
        for bad in ["a//b", "a/../b", "./a", "a/."] {
            let e = folder_prefix(bad).unwrap_err();
            assert!(e.contains("--to-prefix") && e.contains(bad), "{e}");
        }
    }

    #[test]
    fn to_bucket_accepts_an_s3_url_of_the_bucket_only() {
        assert_eq!(bucket_argument("prod-data").unwrap(), "prod-data");
        assert_eq!(bucket_argument("s3://prod-data").unwrap(), "prod-data");
        assert_eq!(bucket_argument("s3://prod-data/").unwrap(), "prod-data");
        let e = bucket_argument("s3://prod-data/restored/").unwrap_err();
        assert!(
            e.contains("--to-bucket prod-data --to-prefix restored/"),
            "{e}"
        );
    }

    #[test]
    fn maps_keys_with_and_without_to_prefix() {
        assert_eq!(
            map("111111111111/").target_key("111111111111/a/b"),
            "111111111111/a/b"
        );
        assert_eq!(
            map("restored/").target_key("111111111111/a/b"),
            "restored/a/b"
        );
        assert_eq!(map("").target_key("111111111111/a/b"), "a/b");
        assert_eq!(map("r/").relative_of_target("r/x"), Some("x"));
        assert_eq!(map("r/").relative_of_target("s/x"), None);
    }

    #[test]
    fn only_equal_sha256_values_prove_the_same_content() {
        let a = "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=";
        assert!(same_content(Some(a), Some(a)));
        assert!(same_content(Some("abc-3"), Some("abc-3")));
        assert!(!same_content(Some(a), Some("other")));
        assert!(!same_content(Some(a), None));
        assert!(!same_content(None, Some(a)));
        assert!(!same_content(None, None));
        assert!(!same_content(Some(""), Some("")));
    }

    #[test]
    fn decides_from_version_ids_and_sizes() {
        let s = version("111111111111/a", "v1", 5);
        let p = |t: Option<TargetObject>| Pair::Source {
            source: s.clone(),
            target: t,
        };
        assert_eq!(decide(&p(None)), Decision::Copy);
        assert_eq!(
            decide(&p(Some(target("111111111111/a", "v1", 5)))),
            Decision::Unchanged(Evidence::VersionId)
        );
        assert_eq!(
            decide(&p(Some(target("111111111111/a", "x", 5)))),
            Decision::CompareChecksums
        );
        assert_eq!(
            decide(&p(Some(target("111111111111/a", "x", 6)))),
            Decision::Copy
        );
        assert_eq!(decide(&Pair::Extra(target("a", "x", 1))), Decision::Extra);
    }

    #[test]
    fn joins_by_relative_key() {
        let sources = vec![
            version("111111111111/a", "1", 1),
            version("111111111111/c", "3", 1),
            version("111111111111/d", "4", 1),
        ];
        let targets = vec![
            target("r/b", "x", 1),
            target("r/c", "y", 1),
            target("r/e", "z", 1),
        ];
        let pairs: Vec<Pair> = block_on(
            join(
                map("r/"),
                stream::iter(sources.into_iter().map(Ok::<_, ()>)),
                stream::iter(targets.into_iter().map(Ok::<_, ()>)),
            )
            .map(|p| p.unwrap())
            .collect(),
        );
        let summary: Vec<String> = pairs
            .iter()
            .map(|p| match p {
                Pair::Source { source, target } => format!(
                    "{}:{}",
                    source.key,
                    target.as_ref().map(|t| t.key.as_str()).unwrap_or("-")
                ),
                Pair::Extra(t) => format!("extra:{}", t.key),
            })
            .collect();
        assert_eq!(
            summary,
            [
                "111111111111/a:-",
                "extra:r/b",
                "111111111111/c:r/c",
                "111111111111/d:-",
                "extra:r/e"
            ]
        );
    }

    #[test]
    fn passes_errors_through() {
        let pairs: Vec<Result<Pair, &str>> = block_on(
            join(
                map("r/"),
                stream::iter(vec![Ok(version("111111111111/a", "1", 1)), Err("boom")]),
                stream::iter(Vec::<Result<TargetObject, &str>>::new()),
            )
            .collect(),
        );
        assert!(pairs[0].is_ok());
        assert_eq!(pairs[1], Err("boom"));
    }
}
