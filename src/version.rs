//! One entry of a version listing: an object version or a delete marker, as S3 reports it.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// An object version or a delete marker under some key, with the fields `ls` and `restore` need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectVersion {
    /// The full key in the bucket (not relative to any prefix).
    pub key: String,
    /// The S3 version id (`null` for objects written before versioning was enabled).
    pub version_id: String,
    /// When this version was written; S3 gives one-second resolution.
    pub last_modified: DateTime<Utc>,
    /// Size in bytes (0 for delete markers).
    pub size: u64,
    /// The entity tag, without quotes, when S3 gave one.
    pub etag: Option<String>,
    /// The storage class, when S3 gave one (delete markers have none).
    pub storage_class: Option<String>,
    /// Whether this entry is the current one for its key.
    pub is_latest: bool,
    /// Whether this entry is a delete marker rather than an object version.
    pub is_delete_marker: bool,
}

/// Whether a version id has only the characters S3's version ids are made of (ASCII letters,
/// digits and `._-+/=`, at most 1,024 of them). Ids read from outside (an S3 Inventory) are
/// checked with it before they reach a request, a batch manifest's CSV or a terminal.
pub fn is_valid_version_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 1024
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-+/=".contains(&b))
}

/// Decodes a key that S3 returned with `encoding-type=url` (form encoding: `+` is a space).
pub fn url_decode(s: &str) -> String {
    let plus_as_space = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_as_space)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::is_valid_version_id;

    #[test]
    fn version_ids_are_checked_for_their_characters() {
        for ok in [
            "null",
            "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nrjfkd",
            "a.b_c-d/e=",
        ] {
            assert!(is_valid_version_id(ok), "{ok}");
        }
        for bad in [
            "",
            "v1,bucket2",
            "v1\nbucket,key,v",
            "v\"1",
            "v 1",
            "v\u{202e}1",
            &"x".repeat(1025),
        ] {
            assert!(!is_valid_version_id(bad), "{bad:?}");
        }
    }
}
