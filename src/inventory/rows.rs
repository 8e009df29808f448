//! Inventory rows: the columns s3central needs, mapped by name from `fileSchema`, read from gzip
//! CSV (keys URL-encoded, as AWS documents for CSV) or Parquet (keys as they are), and turned into
//! the same [`ObjectVersion`] entries a listing yields.

use std::io::Read;

use chrono::{DateTime, Utc};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use parquet::schema::types::Type;

use super::InventoryError;
use crate::version::url_decode;
use crate::version::ObjectVersion;

/// A column of an inventory that s3central reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// The source bucket.
    Bucket,
    /// The object key.
    Key,
    /// The version id.
    VersionId,
    /// Whether the version is the current one.
    IsLatest,
    /// Whether the entry is a delete marker.
    IsDeleteMarker,
    /// The size in bytes.
    Size,
    /// When the version was written.
    LastModifiedDate,
    /// The entity tag.
    ETag,
    /// The storage class.
    StorageClass,
}

/// Every column s3central reads, in [`Column`] order.
const ALL: [Column; 9] = [
    Column::Bucket,
    Column::Key,
    Column::VersionId,
    Column::IsLatest,
    Column::IsDeleteMarker,
    Column::Size,
    Column::LastModifiedDate,
    Column::ETag,
    Column::StorageClass,
];

/// The columns a restore cannot do without: identity and time of every version, and the storage
/// class (archived versions must be restored before they are copied).
const REQUIRED: [Column; 7] = [
    Column::Key,
    Column::VersionId,
    Column::IsLatest,
    Column::IsDeleteMarker,
    Column::Size,
    Column::LastModifiedDate,
    Column::StorageClass,
];

impl Column {
    /// The CSV spelling of the field in `fileSchema` (and in PutBucketInventoryConfiguration).
    pub fn name(self) -> &'static str {
        match self {
            Column::Bucket => "Bucket",
            Column::Key => "Key",
            Column::VersionId => "VersionId",
            Column::IsLatest => "IsLatest",
            Column::IsDeleteMarker => "IsDeleteMarker",
            Column::Size => "Size",
            Column::LastModifiedDate => "LastModifiedDate",
            Column::ETag => "ETag",
            Column::StorageClass => "StorageClass",
        }
    }

    /// The column a `fileSchema` name stands for: CSV's `VersionId` and Parquet's `version_id`
    /// alike (case and underscores do not matter).
    pub fn from_name(name: &str) -> Option<Column> {
        let canonical: String = name
            .chars()
            .filter(|c| *c != '_')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        ALL.into_iter()
            .find(|c| c.name().to_ascii_lowercase() == canonical)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Where each column s3central reads sits in a row (its position among the schema's columns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    positions: [Option<usize>; 9],
}

impl Columns {
    /// Maps `fileSchema` names to positions; a missing required column is a clear error.
    pub fn from_names<S: AsRef<str>>(names: &[S], schema: &str) -> Result<Columns, InventoryError> {
        let mut positions = [None; 9];
        for (i, name) in names.iter().enumerate() {
            if let Some(c) = Column::from_name(name.as_ref()) {
                positions[c.index()].get_or_insert(i);
            }
        }
        let missing: Vec<&'static str> = REQUIRED
            .iter()
            .filter(|c| positions[c.index()].is_none())
            .map(|c| c.name())
            .collect();
        if !missing.is_empty() {
            return Err(InventoryError::MissingColumns {
                missing: missing.join(", "),
                current_only: positions[Column::VersionId.index()].is_none(),
                schema: schema.to_owned(),
            });
        }
        Ok(Columns { positions })
    }

    /// The position of a column in the row, when the schema has it.
    pub fn position(&self, column: Column) -> Option<usize> {
        self.positions[column.index()]
    }
}

/// Where a row came from, for error messages.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The data file's key.
    pub file: &'a str,
    /// The 1-based row number within it.
    pub row: u64,
}

impl Origin<'_> {
    fn error(&self, detail: impl Into<String>) -> InventoryError {
        InventoryError::Row {
            file: self.file.to_owned(),
            row: self.row,
            detail: detail.into(),
        }
    }
}

/// A boolean as inventories write it (`true`/`false`; empty is false).
fn boolean(text: &str, column: Column, at: Origin<'_>) -> Result<bool, InventoryError> {
    match text.trim() {
        t if t.eq_ignore_ascii_case("true") => Ok(true),
        t if t.eq_ignore_ascii_case("false") || t.is_empty() => Ok(false),
        other => Err(at.error(format!("{} {other:?} is not true or false", column.name()))),
    }
}

/// LastModified as a listing has it: whole seconds (S3's listing resolution), so `--at` cuts the
/// same versions whatever the source.
fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// An optional text field: empty is absent.
fn optional(text: &str) -> Option<String> {
    let t = text.trim().trim_matches('"');
    (!t.is_empty()).then(|| t.to_owned())
}

/// A version id: empty (objects written before versioning) is S3's `null`.
fn version_id(text: &str) -> String {
    if text.is_empty() {
        "null".to_owned()
    } else {
        text.to_owned()
    }
}

/// [`version_id`], refused unless S3 could have made it: the inventory is a file from outside,
/// and its version ids go into requests and batch manifests (CSV) as they are.
fn checked_version_id(text: &str, at: Origin<'_>) -> Result<String, InventoryError> {
    let id = version_id(text);
    if crate::version::is_valid_version_id(&id) {
        Ok(id)
    } else {
        Err(at.error(format!(
            "VersionId {:?} has characters S3 never puts in a version id",
            crate::text::printable(&id)
        )))
    }
}

/// Reads one gzip CSV data file (no header, columns as in `fileSchema`); calls `each` with every
/// entry whose key starts with `prefix`. Returns the rows read.
pub fn read_csv_gz<R: Read>(
    gz: R,
    columns: &Columns,
    prefix: &str,
    file: &str,
    mut each: impl FnMut(ObjectVersion) -> Result<(), InventoryError>,
) -> Result<u64, InventoryError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(flate2::read::MultiGzDecoder::new(gz));
    let mut record = csv::StringRecord::new();
    let mut rows = 0u64;
    let pos = |c: Column| columns.position(c);
    loop {
        let more = reader.read_record(&mut record).map_err(|e| {
            Origin {
                file,
                row: rows + 1,
            }
            .error(format!("not gzip CSV: {e}"))
        })?;
        if !more {
            break;
        }
        rows += 1;
        let at = Origin { file, row: rows };
        let field = |c: Column| -> Option<&str> { pos(c).and_then(|i| record.get(i)) };
        let need = |c: Column| -> Result<&str, InventoryError> {
            field(c)
                .ok_or_else(|| at.error(format!("{} fields, no {} field", record.len(), c.name())))
        };
        let key = url_decode(need(Column::Key)?);
        if !key.starts_with(prefix) {
            continue;
        }
        let is_delete_marker = boolean(need(Column::IsDeleteMarker)?, Column::IsDeleteMarker, at)?;
        let size_text = need(Column::Size)?.trim();
        let size = if size_text.is_empty() {
            0
        } else {
            size_text
                .parse()
                .map_err(|_| at.error(format!("Size {size_text:?} is not a number")))?
        };
        let time_text = need(Column::LastModifiedDate)?.trim();
        let last_modified = DateTime::parse_from_rfc3339(time_text)
            .map_err(|_| at.error(format!("LastModifiedDate {time_text:?} is not a time")))?
            .with_timezone(&Utc);
        let version_id = checked_version_id(need(Column::VersionId)?.trim(), at)?;
        each(ObjectVersion {
            key,
            version_id,
            last_modified: whole_seconds(last_modified),
            size,
            etag: field(Column::ETag).and_then(optional),
            storage_class: field(Column::StorageClass).and_then(optional),
            is_latest: boolean(need(Column::IsLatest)?, Column::IsLatest, at)?,
            is_delete_marker,
        })?;
    }
    Ok(rows)
}

/// The columns of a Parquet file's own schema that s3central reads (a projection), and which
/// column each projected field is; a missing required column is a clear error.
fn parquet_projection(root: &Type, schema: &str) -> Result<(Type, Vec<Column>), InventoryError> {
    let names: Vec<&str> = root.get_fields().iter().map(|f| f.name()).collect();
    let columns = Columns::from_names(&names, schema)?;
    let mut fields = Vec::new();
    let mut kinds = Vec::new();
    for (i, f) in root.get_fields().iter().enumerate() {
        if let Some(c) = Column::from_name(f.name()) {
            if columns.position(c) == Some(i) {
                fields.push(f.clone());
                kinds.push(c);
            }
        }
    }
    let projection = Type::group_type_builder(root.name())
        .with_fields(fields)
        .build()
        .map_err(|e| InventoryError::Parquet(e.to_string()))?;
    Ok((projection, kinds))
}

/// Text of a Parquet string field (UTF8 strings, or bytes that are UTF-8).
fn parquet_text(field: &Field) -> Option<String> {
    match field {
        Field::Str(s) => Some(s.clone()),
        Field::Bytes(b) => std::str::from_utf8(b.data()).ok().map(str::to_owned),
        _ => None,
    }
}

/// Reads one Parquet data file; calls `each` with every entry whose key starts with `prefix`.
/// Columns are found by name in the file's own schema. Returns the rows read.
pub fn read_parquet(
    file: std::fs::File,
    schema: &str,
    prefix: &str,
    name: &str,
    mut each: impl FnMut(ObjectVersion) -> Result<(), InventoryError>,
) -> Result<u64, InventoryError> {
    let parquet_error = |e: parquet::errors::ParquetError| {
        InventoryError::Parquet(format!("inventory file {name}: {e}"))
    };
    let reader = SerializedFileReader::new(file).map_err(parquet_error)?;
    let root = reader.metadata().file_metadata().schema().clone();
    let (projection, kinds) = parquet_projection(&root, schema)?;
    let mut rows = 0u64;
    for row in reader
        .get_row_iter(Some(projection))
        .map_err(parquet_error)?
    {
        let row = row.map_err(parquet_error)?;
        rows += 1;
        let at = Origin {
            file: name,
            row: rows,
        };
        let mut v = ObjectVersion {
            key: String::new(),
            version_id: "null".to_owned(),
            last_modified: DateTime::default(),
            size: 0,
            etag: None,
            storage_class: None,
            is_latest: false,
            is_delete_marker: false,
        };
        let mut seen_time = false;
        let mut keep = true;
        for ((_, field), kind) in row.get_column_iter().zip(&kinds) {
            let wrong = || at.error(format!("{} has an unexpected value {field}", kind.name()));
            match (kind, field) {
                (_, Field::Null) => {}
                (Column::Key, f) => {
                    v.key = parquet_text(f).ok_or_else(wrong)?;
                    if !v.key.starts_with(prefix) {
                        keep = false;
                        break;
                    }
                }
                (Column::VersionId, f) => {
                    v.version_id = checked_version_id(&parquet_text(f).ok_or_else(wrong)?, at)?
                }
                (Column::IsLatest, Field::Bool(b)) => v.is_latest = *b,
                (Column::IsDeleteMarker, Field::Bool(b)) => v.is_delete_marker = *b,
                (Column::Size, Field::Long(n)) => {
                    v.size = u64::try_from(*n).map_err(|_| wrong())?
                }
                (Column::Size, Field::Int(n)) => v.size = u64::try_from(*n).map_err(|_| wrong())?,
                (Column::LastModifiedDate, Field::TimestampMillis(ms) | Field::Long(ms)) => {
                    v.last_modified = DateTime::from_timestamp_millis(*ms)
                        .map(whole_seconds)
                        .ok_or_else(wrong)?;
                    seen_time = true;
                }
                (Column::LastModifiedDate, Field::TimestampMicros(us)) => {
                    v.last_modified = DateTime::from_timestamp_micros(*us)
                        .map(whole_seconds)
                        .ok_or_else(wrong)?;
                    seen_time = true;
                }
                (Column::ETag, f) => v.etag = parquet_text(f).as_deref().and_then(optional),
                (Column::StorageClass, f) => {
                    v.storage_class = parquet_text(f).as_deref().and_then(optional)
                }
                (Column::Bucket, _) => {}
                _ => return Err(wrong()),
            }
        }
        if !keep || v.key.is_empty() {
            continue;
        }
        if !seen_time {
            return Err(at.error("no LastModifiedDate"));
        }
        each(v)?;
    }
    Ok(rows)
}

/// The tests' writer of AWS-format inventories (shared with the integration tests).
#[cfg(test)]
#[path = "../../tests/support/inventory_writer.rs"]
mod test_writer;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const SCHEMA: &str = "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass, IsMultipartUploaded";

    fn columns() -> Columns {
        let names: Vec<&str> = SCHEMA.split(", ").collect();
        Columns::from_names(&names, SCHEMA).unwrap()
    }

    fn gz(text: &str) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    }

    fn read(text: &str, prefix: &str) -> Result<Vec<ObjectVersion>, InventoryError> {
        let mut out = Vec::new();
        read_csv_gz(&gz(text)[..], &columns(), prefix, "f.csv.gz", |v| {
            out.push(v);
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn names_map_in_either_spelling() {
        assert_eq!(Column::from_name("VersionId"), Some(Column::VersionId));
        assert_eq!(Column::from_name("version_id"), Some(Column::VersionId));
        assert_eq!(Column::from_name("e_tag"), Some(Column::ETag));
        assert_eq!(
            Column::from_name("last_modified_date"),
            Some(Column::LastModifiedDate)
        );
        assert_eq!(Column::from_name("IsMultipartUploaded"), None);
        let c = columns();
        assert_eq!(c.position(Column::Key), Some(1));
        assert_eq!(c.position(Column::StorageClass), Some(8));
    }

    #[test]
    fn a_current_versions_only_inventory_is_refused_with_the_reason() {
        let schema = "Bucket, Key, Size, LastModifiedDate, ETag, StorageClass";
        let names: Vec<&str> = schema.split(", ").collect();
        let err = Columns::from_names(&names, schema).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("VersionId, IsLatest, IsDeleteMarker"),
            "{text}"
        );
        assert!(text.contains("IncludedObjectVersions"), "{text}");
        let schema = "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate";
        let names: Vec<&str> = schema.split(", ").collect();
        let text = Columns::from_names(&names, schema).unwrap_err().to_string();
        assert!(text.contains("StorageClass"), "{text}");
        assert!(!text.contains("IncludedObjectVersions"), "{text}");
    }

    #[test]
    fn csv_rows_decode_keys_and_fields() {
        let text = concat!(
            "\"central\",\"111111111111/odd+keys/sp%20ace%2Bplus%25pct//dbl/%C3%A9.txt\",\"v1\",\"true\",\"false\",\"11\",\"2026-11-01T12:00:00.999Z\",\"abc\",\"STANDARD\",\"FALSE\"\n",
            "\"central\",\"111111111111/gone.txt\",\"m1\",\"true\",\"true\",\"\",\"2026-11-01T12:00:01.000Z\",\"\",\"\",\"\"\n",
            "central,111111111111/old.txt,,false,false,5,2026-11-01T11:00:00Z,\"\"\"q\"\"\",GLACIER,false\n",
            "central,222222222222/other.txt,v9,true,false,5,2026-11-01T11:00:00Z,e,STANDARD,false\n",
        );
        let got = read(text, "111111111111/").unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(
            got[0].key,
            "111111111111/odd keys/sp ace+plus%pct//dbl/é.txt"
        );
        assert_eq!(got[0].version_id, "v1");
        assert!(got[0].is_latest && !got[0].is_delete_marker);
        assert_eq!(got[0].size, 11);
        assert_eq!(
            got[0].last_modified.to_rfc3339(),
            "2026-11-01T12:00:00+00:00"
        );
        assert_eq!(got[0].etag.as_deref(), Some("abc"));
        assert_eq!(got[0].storage_class.as_deref(), Some("STANDARD"));
        assert!(got[1].is_delete_marker);
        assert_eq!(
            (
                got[1].size,
                got[1].etag.as_deref(),
                got[1].storage_class.as_deref()
            ),
            (0, None, None)
        );
        assert_eq!(got[2].version_id, "null");
        assert_eq!(got[2].etag.as_deref(), Some("q"));
        assert_eq!(got[2].storage_class.as_deref(), Some("GLACIER"));
    }

    #[test]
    fn bad_rows_name_the_file_the_row_and_the_field() {
        let err = read(
            "b,111111111111/a,v,maybe,false,1,2026-11-01T00:00:00Z,e,S,f\n",
            "",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("f.csv.gz row 1: IsLatest \"maybe\""),
            "{err}"
        );
        let err = read("b,k,v,true,false,1,2026-11-01T00:00:00Z,e,S\nb,k\n", "").unwrap_err();
        assert!(err.to_string().contains("row 2"), "{err}");
        let err = read("b,k,v,true,false,1,yesterday,e,S\n", "").unwrap_err();
        assert!(
            err.to_string().contains("LastModifiedDate \"yesterday\""),
            "{err}"
        );
        let mut out = 0;
        let not_gzip = read_csv_gz(&b"plain text"[..], &columns(), "", "x", |_| {
            out += 1;
            Ok(())
        });
        assert!(not_gzip.is_err());
    }

    /// A key as S3 Inventory writes it in CSV: URL-encoded (form style, a space as `+`).
    fn aws_csv_key(key: &str) -> String {
        use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
        const KEEP: &percent_encoding::AsciiSet = &NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'.')
            .remove(b'_')
            .remove(b'~')
            .remove(b'/')
            .remove(b' ');
        utf8_percent_encode(key, KEEP).to_string().replace(' ', "+")
    }

    proptest::proptest! {
        #[test]
        fn any_key_survives_csv_encoding_and_only_the_prefix_is_kept(
            keys in proptest::collection::vec(
                proptest::string::string_regex("(111111111111/|1111111111110/|22/)?[a-z+ %/\",\n~é=&?#-]{0,12}").unwrap(),
                1..20,
            ),
        ) {
            let mut text = String::new();
            for (i, k) in keys.iter().enumerate() {
                text.push_str(&format!(
                    "\"central\",\"{}\",\"v{i}\",\"true\",\"false\",\"{i}\",\"2026-11-01T12:00:0{}.123Z\",\"e\",\"STANDARD\",\"false\"\n",
                    aws_csv_key(k),
                    i % 10
                ));
            }
            let got = read(&text, "111111111111/").unwrap();
            let want: Vec<&String> = keys.iter().filter(|k| k.starts_with("111111111111/")).collect();
            proptest::prop_assert_eq!(got.iter().map(|v| &v.key).collect::<Vec<_>>(), want);
            for v in &got {
                let i: usize = v.version_id[1..].parse().unwrap();
                proptest::prop_assert_eq!(v.size, i as u64);
                proptest::prop_assert_eq!(v.last_modified.timestamp_subsec_nanos(), 0);
            }
        }
    }

    use super::test_writer as writer;

    #[test]
    fn parquet_rows_keep_keys_as_they_are_and_map_nulls() {
        let row = |key: &str, id: &str, latest: bool, marker: bool, ms: i64| writer::Row {
            bucket: "central".into(),
            key: key.into(),
            version_id: id.into(),
            is_latest: latest,
            is_delete_marker: marker,
            size: (!marker).then_some(7),
            last_modified_ms: ms,
            etag: (!marker).then(|| "etag".to_owned()),
            storage_class: (!marker).then(|| "DEEP_ARCHIVE".to_owned()),
        };
        let rows = vec![
            row(
                "111111111111/sp ace+plus%20pct/é",
                "v1",
                true,
                false,
                1_800_000_000_999,
            ),
            row("111111111111/gone", "m1", true, true, 1_800_000_001_000),
            row("222222222222/other", "x", true, false, 1_800_000_000_000),
            row(
                "111111111111/pre-versioning",
                "",
                false,
                false,
                1_700_000_000_000,
            ),
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.parquet");
        let file = std::fs::File::create(&path).unwrap();
        writer::write_parquet(file, &rows, 2).unwrap();
        let mut got = Vec::new();
        let n = read_parquet(
            std::fs::File::open(&path).unwrap(),
            writer::PARQUET_SCHEMA,
            "111111111111/",
            "f.parquet",
            |v| {
                got.push(v);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(n, 4);
        let keys: Vec<&str> = got.iter().map(|v| v.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "111111111111/sp ace+plus%20pct/é",
                "111111111111/gone",
                "111111111111/pre-versioning"
            ]
        );
        assert_eq!(got[0].last_modified.timestamp(), 1_800_000_000);
        assert_eq!(got[0].last_modified.timestamp_subsec_nanos(), 0);
        assert_eq!(got[0].storage_class.as_deref(), Some("DEEP_ARCHIVE"));
        assert_eq!(got[0].size, 7);
        assert!(got[1].is_delete_marker && got[1].is_latest);
        assert_eq!((got[1].size, got[1].etag.as_deref()), (0, None));
        assert_eq!(got[2].version_id, "null");
    }
}
