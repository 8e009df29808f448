//! The AWS SDK's own cost of one server-side copy, for `scripts/bench` (test tooling, not part of
//! the product): the CopyObject requests a restore sends, through s3central's own S3 client and
//! runtime, and nothing else (no listing, no point-in-time resolution, no journal, no progress).
//! The CPU it takes per object bounds what s3central's copy path could reach with this SDK.
//!
//! ```text
//! s3central ls --account ID --at T --output json > versions.jsonl
//! cargo run --release --example sdk_floor -- CENTRAL ID versions.jsonl TARGET KMS_KEY CONCURRENCY
//! ```
//!
//! Each line's `key` (relative to the account's prefix, as `ls` prints it) and `version_id` is
//! copied from `ID/key` in CENTRAL to the same key in TARGET, as restore's default
//! CopyObject does it: metadata and tags copied, SSE-KMS with KMS_KEY. Exits non-zero if any
//! copy fails.

use std::io::BufRead;

use aws_sdk_s3::types::{MetadataDirective, ServerSideEncryption, TaggingDirective};
use futures::StreamExt;
use s3central::aws::{Aws, AwsOptions};
use s3central::restore::copy::copy_source;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [central, account, versions, target, kms_key, concurrency] = &args[..] else {
        return Err("usage: CENTRAL ID VERSIONS_JSONL TARGET KMS_KEY CONCURRENCY".into());
    };
    let concurrency: usize = concurrency.parse()?;
    let mut copies = Vec::new();
    for line in std::io::BufReader::new(std::fs::File::open(versions)?).lines() {
        let row: serde_json::Value = serde_json::from_str(&line?)?;
        let (Some(key), Some(version)) = (row["key"].as_str(), row["version_id"].as_str()) else {
            return Err(format!("a line without key and version_id: {row}").into());
        };
        copies.push((format!("{account}/{key}"), version.to_owned()));
    }
    // The same runtime and client settings as the s3central binary's (see src/main.rs).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let failed = runtime.block_on(async {
        let options = AwsOptions {
            endpoint_url: std::env::var("AWS_ENDPOINT_URL").ok(),
            max_attempts: 8,
            adaptive_retry: true,
            ..AwsOptions::default()
        };
        let s3 = Aws::load(&options).await?.s3();
        let s3 = &s3;
        let failed = futures::stream::iter(&copies)
            .map(|(key, version)| async move {
                Box::pin(
                    s3.copy_object()
                        .bucket(target)
                        .key(key)
                        .copy_source(copy_source(central, key, version))
                        .tagging_directive(TaggingDirective::Copy)
                        .metadata_directive(MetadataDirective::Copy)
                        .server_side_encryption(ServerSideEncryption::AwsKms)
                        .ssekms_key_id(kms_key)
                        .send(),
                )
                .await
                .map_err(|e| eprintln!("{key}: {e:?}"))
                .is_err()
            })
            .buffer_unordered(concurrency.max(1))
            .filter(|failed| futures::future::ready(*failed))
            .count()
            .await;
        Ok::<usize, Box<dyn std::error::Error>>(failed)
    })?;
    println!("{} copied, {failed} failed", copies.len() - failed);
    if failed > 0 {
        return Err(format!("{failed} copies failed").into());
    }
    Ok(())
}
