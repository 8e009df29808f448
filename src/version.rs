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
