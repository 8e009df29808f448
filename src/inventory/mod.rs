//! S3 Inventory as the version source (`--inventory s3://BUCKET/.../manifest.json`): the manifest
//! and its checks, the rows of gzip CSV and Parquet data files, and an external sort that yields
//! them in S3's listing order with bounded memory, the same entries a ListObjectVersions stream
//! yields.

pub mod manifest;
pub mod rows;
pub mod sort;

use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::time::format_time;

/// Why an inventory cannot be used; every message names the problem and the fix in one line.
#[derive(Debug, Error)]
pub enum InventoryError {
    /// `--inventory` is not an `s3://BUCKET/KEY` URL.
    #[error("--inventory {0:?} is not an s3:// URL of a manifest.json: use s3://BUCKET/PREFIX/central/CONFIG/YYYY-MM-DDTHH-MMZ/manifest.json")]
    Url(String),
    /// `manifest.json` is malformed.
    #[error("the inventory manifest is unusable: {0}")]
    Manifest(String),
    /// The inventory lists another bucket.
    #[error("the inventory lists bucket {found:?}, not the central bucket {central:?}: use an inventory of the central bucket")]
    WrongSource {
        /// `sourceBucket` of the manifest.
        found: String,
        /// The central bucket.
        central: String,
    },
    /// A format other than CSV and Parquet.
    #[error("the inventory's {0} is not supported: s3central reads CSV (GZIP) and Parquet inventories; ORC is unsupported, so configure the inventory with CSV or Parquet output")]
    UnsupportedFormat(String),
    /// Columns the restore needs are not in the inventory.
    #[error("the inventory has no {missing} field (fileSchema: {schema:?}): {}", if *current_only { "it lists current versions only; configure it with IncludedObjectVersions=All and the fields Size, LastModifiedDate, StorageClass" } else { "add them to the inventory configuration's fields" })]
    MissingColumns {
        /// The missing columns, comma-separated.
        missing: String,
        /// Whether VersionId is among them (an inventory of current versions only).
        current_only: bool,
        /// The schema as given.
        schema: String,
    },
    /// The inventory was taken before TIME: versions written since then are not in it.
    #[error("the inventory was taken at {}, before --at {}: versions written between are not in it; use a newer inventory or drop --inventory", format_time(*taken), format_time(*at))]
    Stale {
        /// When S3 began scanning for the inventory (creationTimestamp).
        taken: DateTime<Utc>,
        /// The TIME asked for.
        at: DateTime<Utc>,
    },
    /// A file's MD5 is not the one the manifest (or manifest.checksum) gives.
    #[error("inventory file s3://{bucket}/{key} has MD5 {got}, but {said_by} says {expected}: the file is damaged or was replaced; use another inventory")]
    Checksum {
        /// Its bucket.
        bucket: String,
        /// Its key.
        key: String,
        /// The MD5 it should have.
        expected: String,
        /// The MD5 it has.
        got: String,
        /// Which file gave the expected MD5.
        said_by: &'static str,
    },
    /// The inventory is not complete (no manifest.checksum yet).
    #[error("{0}")]
    Incomplete(String),
    /// A row that cannot be read.
    #[error("inventory file {file} row {row}: {detail}")]
    Row {
        /// The data file's key.
        file: String,
        /// The 1-based row.
        row: u64,
        /// What is wrong.
        detail: String,
    },
    /// A Parquet file the reader refused.
    #[error("{0}")]
    Parquet(String),
    /// Local I/O (the sort's temporary files).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Splits `s3://BUCKET/KEY` into bucket and key.
pub fn parse_url(url: &str) -> Result<(String, String), InventoryError> {
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| InventoryError::Url(url.to_owned()))?;
    match rest.split_once('/') {
        Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() && !key.ends_with('/') => {
            Ok((bucket.to_owned(), key.to_owned()))
        }
        _ => Err(InventoryError::Url(url.to_owned())),
    }
}

/// The `manifest.checksum` beside a `manifest.json` key.
pub fn checksum_key(manifest_key: &str) -> String {
    match manifest_key.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/manifest.checksum"),
        None => "manifest.checksum".to_owned(),
    }
}

/// The checks on a manifest before any data file is read: the central bucket, a format s3central
/// reads, the columns it needs, and an inventory taken at or after TIME.
pub fn check(
    m: &manifest::Manifest,
    central: &str,
    at: DateTime<Utc>,
) -> Result<rows::Columns, InventoryError> {
    if m.source_bucket != central {
        return Err(InventoryError::WrongSource {
            found: m.source_bucket.clone(),
            central: central.to_owned(),
        });
    }
    if m.format == manifest::FileFormat::Orc {
        return Err(InventoryError::UnsupportedFormat("ORC format".into()));
    }
    let columns = rows::Columns::from_names(&m.column_names(), &m.schema)?;
    if m.created < at {
        return Err(InventoryError::Stale {
            taken: m.created,
            at,
        });
    }
    Ok(columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(format: manifest::FileFormat, schema: &str) -> manifest::Manifest {
        manifest::Manifest {
            source_bucket: "central".into(),
            destination_bucket: "inv".into(),
            created: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            format,
            schema: schema.into(),
            files: Vec::new(),
        }
    }

    const FULL: &str =
        "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass";

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("s3://inv/p/central/cfg/2026-11-01T00-00Z/manifest.json").unwrap(),
            (
                "inv".into(),
                "p/central/cfg/2026-11-01T00-00Z/manifest.json".into()
            )
        );
        for bad in [
            "inv/manifest.json",
            "s3://inv",
            "s3://inv/",
            "s3:///k",
            "s3://inv/dir/",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
        assert_eq!(checksum_key("a/b/manifest.json"), "a/b/manifest.checksum");
        assert_eq!(checksum_key("manifest.json"), "manifest.checksum");
    }

    #[test]
    fn refusals_say_why() {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let m = manifest(manifest::FileFormat::Csv, FULL);
        assert!(
            check(&m, "central", at).is_ok(),
            "taken exactly at TIME is fine"
        );
        let later = at + chrono::Duration::seconds(1);
        let stale = check(&m, "central", later).unwrap_err().to_string();
        assert_eq!(
            stale,
            "the inventory was taken at 2027-01-15T08:00:00Z, before --at 2027-01-15T08:00:01Z: versions written between are not in it; use a newer inventory or drop --inventory"
        );
        let other = check(&m, "elsewhere", at).unwrap_err().to_string();
        assert!(
            other.contains("\"central\", not the central bucket \"elsewhere\""),
            "{other}"
        );
        let orc = check(
            &manifest(manifest::FileFormat::Orc, "struct<>"),
            "central",
            at,
        )
        .unwrap_err()
        .to_string();
        assert!(orc.contains("ORC is unsupported"), "{orc}");
        let current = check(
            &manifest(
                manifest::FileFormat::Csv,
                "Bucket, Key, Size, LastModifiedDate, StorageClass",
            ),
            "central",
            at,
        )
        .unwrap_err()
        .to_string();
        assert!(
            current.contains("no VersionId, IsLatest, IsDeleteMarker field"),
            "{current}"
        );
    }
}
