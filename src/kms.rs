//! KMS key resolution: turn `--kms-key` or a bucket's default key into a usable key ARN, or refuse.

use aws_sdk_kms::types::{KeySpec, KeyState, KeyUsageType};
use aws_sdk_s3::types::ServerSideEncryption;

use crate::error::{Error, Result};

/// Checks with DescribeKey that `key` (id, ARN or alias) exists, is enabled and can encrypt; gives its ARN.
pub async fn resolve_key(kms: &aws_sdk_kms::Client, key: &str) -> Result<String> {
    let key_id = if key.starts_with("alias/") || key.starts_with("arn:") || is_key_id(key) {
        key.to_owned()
    } else {
        format!("alias/{key}")
    };
    let out = kms
        .describe_key()
        .key_id(&key_id)
        .send()
        .await
        .map_err(|e| {
            if e.code() == Some("NotFoundException") {
                Error::NoSuchKey {
                    key: key.to_owned(),
                }
            } else {
                Error::from_sdk("kms:DescribeKey", key.to_owned(), e)
            }
        })?;
    let meta = out.key_metadata().ok_or_else(|| {
        Error::Invalid(format!("KMS DescribeKey of {key:?} returned no metadata"))
    })?;
    if !meta.enabled() || meta.key_state() != Some(&KeyState::Enabled) {
        let state = meta
            .key_state()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        return Err(Error::Refused(format!(
            "KMS key {key:?} is not enabled (state {state}): enable it or pass --kms-key with another key"
        )));
    }
    // Some KMS-compatible servers omit KeyUsage; a symmetric default key spec says the same.
    let can_encrypt = match meta.key_usage() {
        Some(usage) => usage == &KeyUsageType::EncryptDecrypt,
        None => meta.key_spec() == Some(&KeySpec::SymmetricDefault),
    };
    if !can_encrypt {
        return Err(Error::Refused(format!(
            "KMS key {key:?} cannot encrypt (usage {}): pass --kms-key with a symmetric ENCRYPT_DECRYPT key",
            meta.key_usage().map(|u| u.as_str()).unwrap_or("unknown")
        )));
    }
    meta.arn()
        .map(str::to_owned)
        .ok_or_else(|| Error::Invalid(format!("KMS key {key:?} has no ARN")))
}

/// The bucket's default SSE-KMS key as configured (id, ARN or alias), if it has one.
pub async fn bucket_default_key(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<Option<String>> {
    let out = match s3.get_bucket_encryption().bucket(bucket).send().await {
        Ok(out) => out,
        Err(e) if e.code() == Some("ServerSideEncryptionConfigurationNotFoundError") => {
            return Ok(None)
        }
        Err(e) => {
            return Err(Error::from_sdk("GetBucketEncryption", bucket.to_owned(), e)
                .with_bucket_hint(bucket, "--to-bucket"))
        }
    };
    let key = out
        .server_side_encryption_configuration()
        .map(|c| c.rules())
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r.apply_server_side_encryption_by_default())
        .find(|d| {
            matches!(
                d.sse_algorithm(),
                ServerSideEncryption::AwsKms | ServerSideEncryption::AwsKmsDsse
            )
        })
        .and_then(|d| d.kms_master_key_id().map(str::to_owned));
    Ok(key)
}

/// Whether text looks like a bare KMS key id (a UUID or a multi-Region `mrk-` id).
fn is_key_id(s: &str) -> bool {
    let uuid = s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
    uuid || (s.starts_with("mrk-") && s[4..].chars().all(|c| c.is_ascii_hexdigit()))
}

use aws_smithy_types::error::metadata::ProvideErrorMetadata;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_bare_key_ids() {
        assert!(is_key_id("1234abcd-12ab-34cd-56ef-1234567890ab"));
        assert!(is_key_id("mrk-1234abcd12ab34cd56ef1234567890ab"));
        assert!(!is_key_id("my-restore-key"));
        assert!(!is_key_id("1234abcd-12ab-34cd-56ef-1234567890a"));
    }
}
