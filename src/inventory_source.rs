//! Reading an inventory from S3: `manifest.json` and its `manifest.checksum`, the checks, every
//! data file downloaded to a temporary file with its MD5 checked, its rows under the prefix sorted
//! (spilling to disk past the memory budget); then the sorted entries as a stream, as often as the
//! restore asks.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use md5::{Digest, Md5};
use tokio::io::AsyncWriteExt;

use crate::aws::Aws;
use crate::error::{Error, Result};
use crate::inventory::manifest::{FileFormat, Manifest};
use crate::inventory::rows::{read_csv_gz, read_parquet, Columns};
use crate::inventory::sort::{Entry, SortStats, Sorted, Sorter};
use crate::inventory::{check, checksum_key, parse_url, InventoryError};
use crate::pit::{resolve_stream_keys, resolve_stream_marked, DeleteMode, Resolved};
use crate::version::ObjectVersion;

/// The default of `--inventory-memory`: entries held in memory before a sorted run is spilled.
pub const DEFAULT_MEMORY: u64 = 64 << 20;

/// Entries handed from the sort's reader thread to the async consumer at a time.
const BATCH: usize = 1024;

/// Batches in flight between the reader thread and the consumer.
const BATCHES_AHEAD: usize = 4;

/// What to read and for which request.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// `s3://BUCKET/KEY` of the `manifest.json`.
    pub url: String,
    /// The central bucket (the inventory's source bucket must be it).
    pub central: String,
    /// Only keys starting with this (the account prefix and PATH).
    pub prefix: String,
    /// The TIME of the request (the inventory must be taken at or after it).
    pub at: DateTime<Utc>,
    /// Bytes of entries held in memory before a sorted run is spilled.
    pub memory: u64,
    /// The account that must own the inventory's buckets (`x-amz-expected-bucket-owner` on every
    /// read): a bucket of that name now owned by someone else is refused by S3, not read.
    /// `None`: the account of the credentials that read it.
    pub expected_owner: Option<String>,
}

/// A loaded inventory: its entries under the prefix, sorted into S3's listing order.
#[derive(Debug)]
pub struct Inventory {
    sorted: Sorted,
    /// When S3 began the scan this inventory lists.
    pub taken: DateTime<Utc>,
    /// Data files read.
    pub files: usize,
    /// Rows read in all files (every account).
    pub rows: u64,
    /// Where the sort spilled its runs; removed when the inventory is dropped.
    _dir: tempfile::TempDir,
}

impl Inventory {
    /// What the sort did.
    pub fn stats(&self) -> SortStats {
        self.sorted.stats()
    }

    /// One line for people: which inventory was read, how much of it is under `prefix` of
    /// `central`, and what the sort spilled.
    pub fn describe(&self, central: &str, prefix: &str) -> String {
        let stats = self.stats();
        format!(
            "s3central: versions from the inventory taken at {} ({} file(s), {} row(s), {} under s3://{central}/{prefix}; sorted in {} run(s) spilled, {} on disk)",
            crate::time::format_time(self.taken),
            self.files,
            self.rows,
            stats.entries,
            stats.runs,
            indicatif::HumanBytes(stats.spilled_bytes)
        )
    }

    /// The entries in S3's listing order, the same stream a listing gives; a reader thread
    /// merges the runs a batch at a time, at most [`BATCHES_AHEAD`] batches ahead.
    pub fn stream(self: &Arc<Self>) -> BoxStream<'static, Result<ObjectVersion>> {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<ObjectVersion>>>(BATCHES_AHEAD);
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let entries = match me.sorted.iter() {
                Ok(entries) => entries,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e.into()));
                    return;
                }
            };
            let mut batch = Vec::with_capacity(BATCH);
            for entry in entries {
                match entry {
                    Ok(v) => {
                        batch.push(v);
                        if batch.len() == BATCH
                            && tx
                                .blocking_send(Ok(std::mem::replace(
                                    &mut batch,
                                    Vec::with_capacity(BATCH),
                                )))
                                .is_err()
                        {
                            return;
                        }
                    }
                    Err(e) => {
                        if !batch.is_empty() {
                            let _ = tx.blocking_send(Ok(std::mem::take(&mut batch)));
                        }
                        let _ = tx.blocking_send(Err(e.into()));
                        return;
                    }
                }
            }
            if !batch.is_empty() {
                let _ = tx.blocking_send(Ok(batch));
            }
        });
        stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|batch| (batch, rx))
        })
        .flat_map(|batch| match batch {
            Ok(entries) => stream::iter(entries.into_iter().map(Ok)).left_stream(),
            Err(e) => stream::iter(vec![Err(e)]).right_stream(),
        })
        .boxed()
    }
}

/// Keys whose versions are listed at once to settle ties (each one ListObjectVersions, or more
/// for a key with over a page of versions).
const TIE_LISTINGS: usize = 8;

/// Where a tied key's versions are listed: the bucket the inventory describes, read with the
/// client that reads it.
#[derive(Debug, Clone)]
pub struct TieLister {
    /// A client that can list the bucket.
    pub client: aws_sdk_s3::Client,
    /// The bucket (central).
    pub bucket: String,
    /// Entries per listing page.
    pub page_size: i32,
}

impl TieLister {
    /// The key's entries in S3's order: a listing under the key as prefix, cut at the first
    /// longer key (which S3 lists after it).
    fn versions_of(&self, key: &str) -> BoxStream<'static, Result<ObjectVersion>> {
        let key = key.to_owned();
        crate::listing::list_versions(
            self.client.clone(),
            crate::listing::ListRequest {
                bucket: self.bucket.clone(),
                prefix: key.clone(),
                page_size: self.page_size,
                concurrency: 1,
            },
        )
        .try_take_while(move |v| futures::future::ready(Ok(v.key == key)))
        .boxed()
    }
}

/// Resolves an inventory's entries at `at`, settling every key whose choice rests on the order
/// of rows within one second: an inventory's rows have no order and LastModifiedDate has whole
/// seconds, so that key's versions are listed and S3's order decides, never a guess.
/// `on_tie` is called once per such key.
pub fn resolve_settled(
    entries: BoxStream<'static, Result<ObjectVersion>>,
    at: DateTime<Utc>,
    mode: DeleteMode,
    lister: TieLister,
    on_tie: impl Fn() + Send + Sync + 'static,
) -> BoxStream<'static, Result<Resolved>> {
    let on_tie = Arc::new(on_tie);
    resolve_stream_keys(entries, at, mode)
        .map(move |key| {
            let (lister, on_tie) = (lister.clone(), on_tie.clone());
            async move {
                let key = key?;
                if !key.tied {
                    return Ok(key.resolved);
                }
                on_tie();
                tracing::debug!(key = %key.key, "versions tied within a second in the inventory: listing them");
                let listed = resolve_stream_marked(lister.versions_of(&key.key), at, mode);
                futures::pin_mut!(listed);
                listed.try_next().await
            }
        })
        .buffered(TIE_LISTINGS)
        .try_filter_map(|resolved| futures::future::ready(Ok(resolved)))
        .boxed()
}

/// One line for people: how many keys [`resolve_settled`] listed to settle ties.
pub fn ties_line(keys: u64) -> String {
    format!(
        "s3central: {keys} key(s) had versions within one second in the inventory, which does not order them: their versions were listed and S3's order chose"
    )
}

/// The hex MD5 of bytes.
fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// One whole object (the manifest and its checksum are small).
async fn get_bytes(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    owner: &str,
) -> Result<Vec<u8>> {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .expected_bucket_owner(owner)
        .send()
        .await
        .map_err(|e| {
            Error::from_sdk("GetObject", format!("s3://{bucket}/{key}"), e)
                .with_bucket_hint(bucket, "--inventory")
        })?;
    let body = out.body.collect().await.map_err(|e| Error::Aws {
        op: "GetObject",
        resource: format!("s3://{bucket}/{key}"),
        detail: format!("reading the body: {e}"),
    })?;
    Ok(body.into_bytes().to_vec())
}

/// Downloads one data file to `path`, hashing it on the way; returns its hex MD5.
async fn download(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    owner: &str,
    path: &Path,
) -> Result<String> {
    let resource = format!("s3://{bucket}/{key}");
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .expected_bucket_owner(owner)
        .send()
        .await
        .map_err(|e| Error::from_sdk("GetObject", resource.clone(), e))?;
    let io = |source| Error::Io {
        what: format!("writing {resource} to {}", path.display()),
        source,
    };
    let mut file = tokio::fs::File::from_std(
        crate::localfile::create(path, crate::localfile::Write::Truncate).map_err(io)?,
    );
    let mut hash = Md5::new();
    let mut body = out.body;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| Error::Aws {
            op: "GetObject",
            resource: resource.clone(),
            detail: format!("reading the body: {}", crate::error::root_cause(&e)),
        })?;
        hash.update(&chunk);
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    Ok(hex::encode(hash.finalize()))
}

/// Reads the manifest, checks it (central bucket, format, columns, TIME), downloads and checks
/// every data file, and sorts its rows under the prefix; nothing is written anywhere but the
/// temporary directory. Reads with `aws` (the caller's credentials), each bucket in its region.
pub async fn load(aws: &Aws, options: &LoadOptions) -> Result<Inventory> {
    let (bucket, key) = parse_url(&options.url)?;
    let s3 = crate::region::for_bucket(aws, &bucket).await.s3();
    let owner = match &options.expected_owner {
        Some(owner) => owner.clone(),
        None => aws.account_id().await?,
    };
    let owner = owner.as_str();
    let manifest_bytes = get_bytes(&s3, &bucket, &key, owner).await?;
    let checksum_at = checksum_key(&key);
    let checksum = match s3
        .get_object()
        .bucket(&bucket)
        .key(&checksum_at)
        .expected_bucket_owner(owner)
        .send()
        .await
    {
        Ok(out) => out
            .body
            .collect()
            .await
            .map(|b| String::from_utf8_lossy(&b.into_bytes()).trim().to_ascii_lowercase())
            .map_err(|e| Error::Aws {
                op: "GetObject",
                resource: format!("s3://{bucket}/{checksum_at}"),
                detail: format!("reading the body: {e}"),
            })?,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
            return Err(InventoryError::Incomplete(format!(
                "no manifest.checksum beside s3://{bucket}/{key}: S3 writes it once the inventory is complete; wait for it or use another inventory"
            ))
            .into())
        }
        Err(e) => {
            return Err(Error::from_sdk(
                "GetObject",
                format!("s3://{bucket}/{checksum_at}"),
                e,
            ))
        }
    };
    let got = md5_hex(&manifest_bytes);
    if got != checksum {
        return Err(InventoryError::Checksum {
            bucket,
            key,
            expected: checksum,
            got,
            said_by: "manifest.checksum",
        }
        .into());
    }
    let manifest = Manifest::parse(&manifest_bytes)?;
    let columns = check(&manifest, &options.central, options.at)?;
    let dir =
        crate::localfile::private_temp_dir("s3central-inventory-").map_err(|source| Error::Io {
            what: "creating a temporary directory for the inventory sort".into(),
            source,
        })?;
    let data_s3 = if manifest.destination_bucket == bucket {
        s3.clone()
    } else {
        crate::region::for_bucket(aws, &manifest.destination_bucket)
            .await
            .s3()
    };
    let mut sorter = Sorter::new(
        dir.path(),
        usize::try_from(options.memory).unwrap_or(usize::MAX),
    );
    let mut next_ordinal = 0u64;
    let mut rows = 0u64;
    let schema = Arc::new((columns, manifest.schema.clone()));
    for (i, file) in manifest.files.iter().enumerate() {
        let path = dir.path().join(format!("data-{i:06}"));
        let md5 = download(
            &data_s3,
            &manifest.destination_bucket,
            &file.key,
            owner,
            &path,
        )
        .await?;
        if md5 != file.md5 {
            return Err(InventoryError::Checksum {
                bucket: manifest.destination_bucket.clone(),
                key: file.key.clone(),
                expected: file.md5.clone(),
                got: md5,
                said_by: "the manifest",
            }
            .into());
        }
        tracing::info!(file = %file.key, n = i + 1, of = manifest.files.len(), "inventory file");
        let prefix = options.prefix.clone();
        let format = manifest.format;
        let name = file.key.clone();
        let schema = schema.clone();
        let (back, read, ordinal) = tokio::task::spawn_blocking(move || {
            let result = read_file(
                &path,
                format,
                &schema.0,
                &schema.1,
                &prefix,
                &name,
                &mut sorter,
                next_ordinal,
            );
            let _ = std::fs::remove_file(&path);
            (sorter, result, next_ordinal)
        })
        .await
        .map_err(|e| Error::Invalid(format!("the inventory reader stopped: {e}")))?;
        sorter = back;
        let (read_rows, last_ordinal) = read?;
        debug_assert!(last_ordinal >= ordinal);
        next_ordinal = last_ordinal;
        rows += read_rows;
    }
    let sorted = tokio::task::spawn_blocking(move || sorter.finish())
        .await
        .map_err(|e| Error::Invalid(format!("the inventory sort stopped: {e}")))??;
    tracing::info!(rows, stats = ?sorted.stats(), "inventory sorted");
    Ok(Inventory {
        sorted,
        taken: manifest.created,
        files: manifest.files.len(),
        rows,
        _dir: dir,
    })
}

/// Reads one downloaded data file into the sorter; returns the rows read and the next ordinal.
#[allow(clippy::too_many_arguments)]
fn read_file(
    path: &Path,
    format: FileFormat,
    columns: &Columns,
    schema: &str,
    prefix: &str,
    name: &str,
    sorter: &mut Sorter,
    mut ordinal: u64,
) -> std::result::Result<(u64, u64), InventoryError> {
    let file = std::fs::File::open(path).map_err(|source| InventoryError::Io {
        what: format!("reading the downloaded {name}"),
        source,
    })?;
    let mut each = |version: ObjectVersion| {
        ordinal += 1;
        sorter.push(Entry { version, ordinal })
    };
    let rows = match format {
        FileFormat::Csv => read_csv_gz(
            std::io::BufReader::new(file),
            columns,
            prefix,
            name,
            &mut each,
        )?,
        FileFormat::Parquet => read_parquet(file, schema, prefix, name, &mut each)?,
        FileFormat::Orc => return Err(InventoryError::UnsupportedFormat("ORC format".into())),
    };
    Ok((rows, ordinal))
}
