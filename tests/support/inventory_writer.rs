//! Writes S3 Inventory reports in AWS's documented format ("Locating your inventory list" and
//! "Amazon S3 Inventory list" pages): a `manifest.json` (sourceBucket, destinationBucket ARN,
//! version, creationTimestamp in epoch milliseconds as a string, fileFormat, fileSchema, files with
//! key, size and MD5checksum), its `manifest.checksum`, and data files: CSV with every field quoted,
//! keys URL-encoded, GZIP-compressed; or Parquet with AWS's `s3.inventory` schema, Snappy pages.
//! Test tooling only (the integration tests and `examples/inventory_fixture.rs`).

#![allow(dead_code)]

use std::io::Write;
use std::sync::Arc;

use md5::{Digest, Md5};
use parquet::basic::Compression;
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// The CSV fileSchema with the fields a restore needs, in AWS's order.
pub const CSV_SCHEMA: &str = "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass, IsMultipartUploaded, ReplicationStatus, EncryptionStatus";

/// The Parquet fileSchema as AWS documents it (the same fields).
pub const PARQUET_SCHEMA: &str = "message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); optional binary version_id (UTF8); optional boolean is_latest; optional boolean is_delete_marker; optional int64 size; optional int64 last_modified_date (TIMESTAMP_MILLIS); optional binary e_tag (UTF8); optional binary storage_class (UTF8); optional boolean is_multipart_uploaded; optional binary replication_status (UTF8); optional binary encryption_status (UTF8); }";

/// One inventory row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub bucket: String,
    pub key: String,
    /// Empty for a version written before versioning (`null`).
    pub version_id: String,
    pub is_latest: bool,
    pub is_delete_marker: bool,
    /// `None` for delete markers.
    pub size: Option<u64>,
    /// LastModified in epoch milliseconds.
    pub last_modified_ms: i64,
    pub etag: Option<String>,
    pub storage_class: Option<String>,
}

/// What the CSV writer leaves unencoded (form encoding: space as `+`, as S3 Inventory writes keys).
const KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/')
    .remove(b' ');

/// A key as S3 Inventory writes it in CSV: URL-encoded, a space as `+`.
pub fn csv_key(key: &str) -> String {
    utf8_percent_encode(key, KEEP).to_string().replace(' ', "+")
}

fn millis_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("time in range")
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Writes rows as a gzip CSV data file (no header, every field quoted).
pub fn write_csv_gz<W: Write>(out: W, rows: impl IntoIterator<Item = Row>) -> std::io::Result<W> {
    let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    for r in rows {
        let fields = [
            r.bucket.clone(),
            csv_key(&r.key),
            r.version_id.clone(),
            r.is_latest.to_string(),
            r.is_delete_marker.to_string(),
            r.size.map(|s| s.to_string()).unwrap_or_default(),
            millis_text(r.last_modified_ms),
            r.etag.clone().unwrap_or_default(),
            r.storage_class.clone().unwrap_or_default(),
            "false".to_owned(),
            "REPLICA".to_owned(),
            "SSE-KMS".to_owned(),
        ];
        let line: Vec<String> = fields
            .iter()
            .map(|f| format!("\"{}\"", f.replace('"', "\"\"")))
            .collect();
        writeln!(gz, "{}", line.join(","))?;
    }
    gz.finish()
}

fn bytes(s: &str) -> ByteArray {
    ByteArray::from(s.as_bytes().to_vec())
}

/// Writes rows as a Parquet data file with AWS's schema and Snappy pages, `group` rows per row
/// group.
pub fn write_parquet<W: Write + Send>(
    out: W,
    rows: &[Row],
    group: usize,
) -> parquet::errors::Result<W> {
    let schema = Arc::new(parse_message_type(PARQUET_SCHEMA)?);
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build(),
    );
    let mut writer = SerializedFileWriter::new(out, schema, props)?;
    for chunk in rows.chunks(group.max(1)) {
        let mut rg = writer.next_row_group()?;
        let mut column = 0;
        while let Some(mut col) = rg.next_column()? {
            let all = vec![1i16; chunk.len()];
            let text_opt = |get: &dyn Fn(&Row) -> Option<String>| {
                let vals: Vec<Option<String>> = chunk.iter().map(get).collect();
                let defs: Vec<i16> = vals.iter().map(|v| i16::from(v.is_some())).collect();
                let data: Vec<ByteArray> = vals.iter().flatten().map(|s| bytes(s)).collect();
                (data, defs)
            };
            match column {
                0 | 1 => {
                    let data: Vec<ByteArray> = chunk
                        .iter()
                        .map(|r| bytes(if column == 0 { &r.bucket } else { &r.key }))
                        .collect();
                    col.typed::<ByteArrayType>()
                        .write_batch(&data, None, None)?;
                }
                2 => {
                    let (data, defs) =
                        text_opt(&|r| (!r.version_id.is_empty()).then(|| r.version_id.clone()));
                    col.typed::<ByteArrayType>()
                        .write_batch(&data, Some(&defs), None)?;
                }
                3 | 4 | 9 => {
                    let data: Vec<bool> = chunk
                        .iter()
                        .map(|r| match column {
                            3 => r.is_latest,
                            4 => r.is_delete_marker,
                            _ => false,
                        })
                        .collect();
                    col.typed::<BoolType>()
                        .write_batch(&data, Some(&all), None)?;
                }
                5 => {
                    let defs: Vec<i16> =
                        chunk.iter().map(|r| i16::from(r.size.is_some())).collect();
                    let data: Vec<i64> = chunk
                        .iter()
                        .filter_map(|r| r.size.map(|s| s as i64))
                        .collect();
                    col.typed::<Int64Type>()
                        .write_batch(&data, Some(&defs), None)?;
                }
                6 => {
                    let data: Vec<i64> = chunk.iter().map(|r| r.last_modified_ms).collect();
                    col.typed::<Int64Type>()
                        .write_batch(&data, Some(&all), None)?;
                }
                7 | 8 => {
                    let (data, defs) = text_opt(&|r| {
                        if column == 7 {
                            r.etag.clone()
                        } else {
                            r.storage_class.clone()
                        }
                    });
                    col.typed::<ByteArrayType>()
                        .write_batch(&data, Some(&defs), None)?;
                }
                _ => {
                    let text = if column == 10 { "REPLICA" } else { "SSE-KMS" };
                    let data: Vec<ByteArray> = chunk.iter().map(|_| bytes(text)).collect();
                    col.typed::<ByteArrayType>()
                        .write_batch(&data, Some(&all), None)?;
                }
            }
            col.close()?;
            column += 1;
        }
        rg.close()?;
    }
    writer.into_inner()
}

/// The hex MD5 of bytes, as `MD5checksum` and `manifest.checksum` carry it.
pub fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

/// One data file for the manifest: its key, size and MD5.
#[derive(Debug, Clone)]
pub struct FileEntry {
    pub key: String,
    pub size: u64,
    pub md5: String,
}

/// A `manifest.json` in AWS's shape.
pub fn manifest_json(
    source_bucket: &str,
    destination_bucket: &str,
    created_ms: i64,
    format: &str,
    schema: &str,
    files: &[FileEntry],
) -> String {
    let files: Vec<serde_json::Value> = files
        .iter()
        .map(|f| serde_json::json!({"key": f.key, "size": f.size, "MD5checksum": f.md5}))
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({
        "sourceBucket": source_bucket,
        "destinationBucket": format!("arn:aws:s3:::{destination_bucket}"),
        "version": "2016-11-30",
        "creationTimestamp": created_ms.to_string(),
        "fileFormat": format,
        "fileSchema": schema,
        "files": files,
    }))
    .expect("manifest JSON")
}
