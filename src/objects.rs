//! Reads of one object version (HeadObject): its metadata, replication status and checksums.

use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::types::ChecksumMode;

use crate::error::{Error, Result};

/// HeadObject of one version, the SDK's future boxed (a copy's future stays small); errors name
/// the key. With `owner`, S3 answers only if that account owns the bucket
/// (`x-amz-expected-bucket-owner`).
pub async fn head_version(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    version_id: &str,
    owner: Option<&str>,
) -> Result<HeadObjectOutput> {
    head(s3, bucket, key, Some(version_id), owner, None).await
}

/// The SHA-256 checksum S3 keeps for one version (HeadObject with ChecksumMode; for an SSE-KMS
/// object that needs kms:Decrypt on its key), if it has one: the evidence of
/// `restore::plan::same_content`.
pub async fn sha256_of(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    version_id: &str,
    owner: Option<&str>,
) -> Result<Option<String>> {
    let out = head(
        s3,
        bucket,
        key,
        Some(version_id),
        owner,
        Some(ChecksumMode::Enabled),
    )
    .await?;
    Ok(out.checksum_sha256().map(str::to_owned))
}

/// HeadObject of one version (the current one when `version_id` is `None`), with or without its
/// checksums, and with the bucket owner it must have when `owner` is given.
pub async fn head(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    owner: Option<&str>,
    checksum_mode: Option<ChecksumMode>,
) -> Result<HeadObjectOutput> {
    Box::pin(
        s3.head_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_owned))
            .set_expected_bucket_owner(owner.map(str::to_owned))
            .set_checksum_mode(checksum_mode)
            .send(),
    )
    .await
    .map_err(|e| Error::from_sdk("HeadObject", key.to_owned(), e))
}
