//! Writes a large S3 Inventory report in AWS's format into a local directory, for
//! `scripts/bench-inventory` (test tooling, not part of the product): data files (gzip CSV or
//! Parquet), `manifest.json` and `manifest.checksum`, laid out under the keys S3 would use.
//!
//! ```text
//! cargo run --release --example inventory_fixture -- DIR CENTRAL INVENTORY_BUCKET ACCOUNT ROWS csv|parquet FILES CREATED_MS
//! ```
//!
//! Rows: `ROWS` entries, ~3 per key (versions of one key a minute apart, the last current; every
//! tenth key's newest entry a delete marker), 5% of them another account's, all shuffled.

#[path = "../tests/support/inventory_writer.rs"]
mod writer;

use std::path::Path;

use writer::{FileEntry, Row};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, central, inventory, account, rows, format, files, created] = &args[..] else {
        return Err(
            "usage: DIR CENTRAL INVENTORY_BUCKET ACCOUNT ROWS csv|parquet FILES CREATED_MS".into(),
        );
    };
    let total: usize = rows.parse()?;
    let files: usize = files.parse()?;
    let created_ms: i64 = created.parse()?;
    let base_ms = created_ms - 30 * 24 * 3600 * 1000;
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut out: Vec<Row> = Vec::with_capacity(total);
    let mut key_n = 0usize;
    while out.len() < total {
        let other = key_n % 20 == 19;
        let owner = if other {
            "333333333333"
        } else {
            account.as_str()
        };
        let key = format!("{owner}/dir-{:02}/object-{key_n:07}.bin", key_n % 100);
        let versions = 1 + key_n % 4;
        for v in 0..versions {
            let latest = v + 1 == versions;
            let marker = latest && key_n % 10 == 3 && versions > 1;
            out.push(Row {
                bucket: central.clone(),
                key: key.clone(),
                version_id: format!("{:016x}{:016x}", next(), next()),
                is_latest: latest,
                is_delete_marker: marker,
                size: (!marker).then_some(1000 + (key_n as u64 % 7919)),
                last_modified_ms: base_ms + (key_n as i64 % 86_400) * 1000 + v as i64 * 60_000,
                etag: (!marker).then(|| format!("{:016x}{:016x}", next(), next())),
                storage_class: (!marker).then(|| "STANDARD".to_owned()),
            });
        }
        key_n += 1;
    }
    out.truncate(total);
    for i in (1..out.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        out.swap(i, j);
    }
    let config = format!("{central}/bench-{format}");
    let data_dir = Path::new(dir).join(&config).join("data");
    std::fs::create_dir_all(&data_dir)?;
    let per = out.len().div_ceil(files.max(1)).max(1);
    let mut entries = Vec::new();
    for (i, chunk) in out.chunks(per).enumerate() {
        let (body, ext) = match format.as_str() {
            "csv" => (writer::write_csv_gz(Vec::new(), chunk.to_vec())?, "csv.gz"),
            "parquet" => (
                writer::write_parquet(Vec::new(), chunk, 100_000)?,
                "parquet",
            ),
            other => return Err(format!("format {other:?}: csv or parquet").into()),
        };
        let key = format!("{config}/data/file-{i}.{ext}");
        std::fs::write(Path::new(dir).join(&key), &body)?;
        entries.push(FileEntry {
            key,
            size: body.len() as u64,
            md5: writer::md5_hex(&body),
        });
    }
    let (name, schema) = if format == "csv" {
        ("CSV", writer::CSV_SCHEMA)
    } else {
        ("Parquet", writer::PARQUET_SCHEMA)
    };
    let manifest = writer::manifest_json(central, inventory, created_ms, name, schema, &entries);
    let manifest_dir = Path::new(dir).join(&config).join("2026-12-01T00-00Z");
    std::fs::create_dir_all(&manifest_dir)?;
    std::fs::write(manifest_dir.join("manifest.json"), &manifest)?;
    std::fs::write(
        manifest_dir.join("manifest.checksum"),
        writer::md5_hex(manifest.as_bytes()),
    )?;
    let bytes: u64 = entries.iter().map(|e| e.size).sum();
    println!(
        "{{\"rows\": {}, \"keys\": {key_n}, \"files\": {}, \"bytes\": {bytes}, \"manifest\": \"s3://{inventory}/{config}/2026-12-01T00-00Z/manifest.json\"}}",
        out.len(),
        entries.len()
    );
    Ok(())
}
