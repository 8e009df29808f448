//! An S3 Inventory `manifest.json`: the source bucket, the files, their format, schema and MD5s,
//! and when the inventory was taken (AWS's "Locating your inventory list" page).

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::InventoryError;

/// The output format of an inventory's data files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// CSV compressed with GZIP; keys URL-encoded.
    Csv,
    /// Apache Parquet (Snappy pages, as AWS writes them); keys as they are.
    Parquet,
    /// Apache ORC: not read by s3central.
    Orc,
}

/// One data file the manifest lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// Its key in the destination bucket.
    pub key: String,
    /// Its size in bytes, as the manifest says.
    pub size: u64,
    /// The hex MD5 of the file object, as the manifest says (lowercase).
    pub md5: String,
}

/// A parsed `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The bucket the inventory lists (must be the central bucket).
    pub source_bucket: String,
    /// The bucket that holds the data files (from the `arn:aws:s3:::NAME` in the manifest).
    pub destination_bucket: String,
    /// When S3 began scanning the source bucket for this inventory.
    pub created: DateTime<Utc>,
    /// The data files' format.
    pub format: FileFormat,
    /// The `fileSchema` text as given.
    pub schema: String,
    /// The data files, in the manifest's order.
    pub files: Vec<DataFile>,
}

/// The JSON as AWS writes it; numbers may come as strings (`creationTimestamp` is one).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    source_bucket: String,
    destination_bucket: String,
    creation_timestamp: NumberOrText,
    file_format: String,
    file_schema: String,
    files: Vec<RawFile>,
}

#[derive(Deserialize)]
struct RawFile {
    key: String,
    size: NumberOrText,
    #[serde(rename = "MD5checksum")]
    md5_checksum: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(u64),
    Text(String),
}

impl NumberOrText {
    fn value(&self, field: &str) -> Result<u64, InventoryError> {
        match self {
            NumberOrText::Number(n) => Ok(*n),
            NumberOrText::Text(s) => s.trim().parse().map_err(|_| {
                InventoryError::Manifest(format!("{field} {s:?} is not a whole number"))
            }),
        }
    }
}

impl Manifest {
    /// Parses `manifest.json` bytes; any missing or malformed field is a clear error.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, InventoryError> {
        let raw: Raw = serde_json::from_slice(bytes)
            .map_err(|e| InventoryError::Manifest(format!("not an S3 Inventory manifest: {e}")))?;
        let millis = raw.creation_timestamp.value("creationTimestamp")?;
        let created = i64::try_from(millis)
            .ok()
            .and_then(DateTime::from_timestamp_millis)
            .ok_or_else(|| {
                InventoryError::Manifest(format!("creationTimestamp {millis} is out of range"))
            })?;
        let format = match raw.file_format.trim().to_ascii_lowercase().as_str() {
            "csv" => FileFormat::Csv,
            "parquet" => FileFormat::Parquet,
            "orc" => FileFormat::Orc,
            other => {
                return Err(InventoryError::UnsupportedFormat(format!(
                    "fileFormat {other:?}"
                )))
            }
        };
        let destination_bucket = raw
            .destination_bucket
            .strip_prefix("arn:aws:s3:::")
            .or_else(|| {
                // Other partitions: arn:aws-cn:s3:::NAME, arn:aws-us-gov:s3:::NAME.
                raw.destination_bucket
                    .strip_prefix("arn:")
                    .and_then(|rest| rest.split_once(":s3:::"))
                    .map(|(_, name)| name)
            })
            .unwrap_or(&raw.destination_bucket)
            .to_owned();
        let mut files = Vec::with_capacity(raw.files.len());
        for f in raw.files {
            let md5 = f.md5_checksum.trim().to_ascii_lowercase();
            files.push(DataFile {
                size: f.size.value("files[].size")?,
                key: f.key,
                md5,
            });
        }
        Ok(Manifest {
            source_bucket: raw.source_bucket,
            destination_bucket,
            created,
            format,
            schema: raw.file_schema,
            files,
        })
    }

    /// The column names of `fileSchema`: CSV's comma-separated list, or the field names of
    /// Parquet's `message` (`optional binary version_id (UTF8);` gives `version_id`).
    pub fn column_names(&self) -> Vec<String> {
        match self.format {
            FileFormat::Csv => self
                .schema
                .split(',')
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty())
                .collect(),
            FileFormat::Parquet => {
                let body = self
                    .schema
                    .split_once('{')
                    .map(|(_, b)| b)
                    .unwrap_or(&self.schema);
                let body = body.rsplit_once('}').map(|(b, _)| b).unwrap_or(body);
                body.split(';')
                    .filter_map(|field| {
                        let words = field.split('(').next().unwrap_or_default();
                        words.split_whitespace().last().map(str::to_owned)
                    })
                    .collect()
            }
            FileFormat::Orc => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CSV example of AWS's "Locating your inventory list" page, in its shape.
    const CSV: &str = r#"{
        "sourceBucket": "example-source-bucket",
        "destinationBucket": "arn:aws:s3:::example-inventory-destination-bucket",
        "version": "2016-11-30",
        "creationTimestamp" : "1514944800000",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass, IsMultipartUploaded, ReplicationStatus, EncryptionStatus",
        "files": [
            {
                "key": "Inventory/example-source-bucket/2016-11-06T21-32Z/files/939c6d46.csv.gz",
                "size": 2147483647,
                "MD5checksum": "F11166069F1990ABEB9C97ACE9CDFABC"
            }
        ]
    }"#;

    #[test]
    fn parses_the_documented_csv_manifest() {
        let m = Manifest::parse(CSV.as_bytes()).unwrap();
        assert_eq!(m.source_bucket, "example-source-bucket");
        assert_eq!(m.destination_bucket, "example-inventory-destination-bucket");
        assert_eq!(m.format, FileFormat::Csv);
        assert_eq!(m.created.timestamp_millis(), 1_514_944_800_000);
        assert_eq!(m.files.len(), 1);
        assert_eq!(m.files[0].size, 2_147_483_647);
        assert_eq!(m.files[0].md5, "f11166069f1990abeb9c97ace9cdfabc");
        let names = m.column_names();
        assert_eq!(names[..4], ["Bucket", "Key", "VersionId", "IsLatest"]);
        assert_eq!(names.len(), 12);
    }

    #[test]
    fn parses_the_documented_parquet_schema_names() {
        let text = CSV.replace("\"CSV\"", "\"Parquet\"").replace(
            "\"Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass, IsMultipartUploaded, ReplicationStatus, EncryptionStatus\"",
            "\"message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); optional binary version_id (UTF8); optional boolean is_latest; optional boolean is_delete_marker;  optional int64 size;  optional int64 last_modified_date (TIMESTAMP_MILLIS);  optional binary e_tag (UTF8);  optional binary storage_class (UTF8); }\"",
        );
        let m = Manifest::parse(text.as_bytes()).unwrap();
        assert_eq!(m.format, FileFormat::Parquet);
        assert_eq!(
            m.column_names(),
            [
                "bucket",
                "key",
                "version_id",
                "is_latest",
                "is_delete_marker",
                "size",
                "last_modified_date",
                "e_tag",
                "storage_class"
            ]
        );
    }

    #[test]
    fn numbers_may_be_numbers_and_other_partitions_are_understood() {
        let text = CSV
            .replace("\"1514944800000\"", "1514944800000")
            .replace("arn:aws:s3:::", "arn:aws-cn:s3:::");
        let m = Manifest::parse(text.as_bytes()).unwrap();
        assert_eq!(m.created.timestamp_millis(), 1_514_944_800_000);
        assert_eq!(m.destination_bucket, "example-inventory-destination-bucket");
    }

    #[test]
    fn orc_and_unknown_formats_and_broken_json() {
        let orc = Manifest::parse(CSV.replace("\"CSV\"", "\"ORC\"").as_bytes()).unwrap();
        assert_eq!(orc.format, FileFormat::Orc);
        let err = Manifest::parse(CSV.replace("\"CSV\"", "\"XML\"").as_bytes()).unwrap_err();
        assert!(err.to_string().contains("xml"), "{err}");
        let err = Manifest::parse(b"{\"sourceBucket\": 1}").unwrap_err();
        assert!(
            err.to_string().contains("not an S3 Inventory manifest"),
            "{err}"
        );
        let err = Manifest::parse(CSV.replace("1514944800000", "soon").as_bytes()).unwrap_err();
        assert!(err.to_string().contains("creationTimestamp"), "{err}");
    }
}
