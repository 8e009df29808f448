//! Reading what exists: keys, buckets, roles and replication rules, where "not found" means absent.

use aws_sdk_s3::types::{
    BucketVersioningStatus, DeleteMarkerReplicationStatus, ReplicationTimeStatus,
    SseKmsEncryptedObjectsStatus,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::error::{Error, Result};
use crate::setup::plan::{BucketActual, KeyActual, ReplicationSpec, RoleActual};
use crate::setup::policy::ReplicationRule;

/// Whether an AWS error code means "this resource does not exist".
pub fn is_absent(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "NoSuchBucket"
                | "NotFound"
                | "NoSuchEntity"
                | "NotFoundException"
                | "ReplicationConfigurationNotFoundError"
                | "NoSuchBucketPolicy"
                | "NoSuchPublicAccessBlockConfiguration"
                | "OwnershipControlsNotFoundError"
                | "ServerSideEncryptionConfigurationNotFoundError"
        )
    )
}

/// The KMS key behind `alias`, with its policy and rotation, or None when the alias does not exist.
pub async fn read_key(kms: &aws_sdk_kms::Client, alias: &str) -> Result<Option<KeyActual>> {
    let described = match kms.describe_key().key_id(alias).send().await {
        Ok(out) => out,
        Err(e) if is_absent(e.code()) => return Ok(None),
        Err(e) => return Err(Error::from_sdk("kms:DescribeKey", alias.to_owned(), e)),
    };
    let Some(meta) = described.key_metadata() else {
        return Ok(None);
    };
    let key_id = meta.key_id().to_owned();
    let policy = kms
        .get_key_policy()
        .key_id(&key_id)
        .policy_name("default")
        .send()
        .await
        .map_err(|e| Error::from_sdk("kms:GetKeyPolicy", alias.to_owned(), e))?
        .policy()
        .map(str::to_owned);
    let rotation = kms
        .get_key_rotation_status()
        .key_id(&key_id)
        .send()
        .await
        .map_err(|e| Error::from_sdk("kms:GetKeyRotationStatus", alias.to_owned(), e))?
        .key_rotation_enabled();
    Ok(Some(KeyActual {
        arn: meta.arn().unwrap_or_default().to_owned(),
        policy,
        rotation,
    }))
}

/// A bucket's settings, or None when it does not exist.
pub async fn read_bucket(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<Option<BucketActual>> {
    match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => {}
        Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(404) => return Ok(None),
        Err(e) => return Err(Error::from_sdk("HeadBucket", bucket.to_owned(), e)),
    }
    let res = bucket.to_owned();
    let versioning = s3
        .get_bucket_versioning()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| Error::from_sdk("GetBucketVersioning", res.clone(), e))?
        .status()
        == Some(&BucketVersioningStatus::Enabled);
    let encryption = match s3.get_bucket_encryption().bucket(bucket).send().await {
        Ok(out) => out
            .server_side_encryption_configuration()
            .and_then(|c| c.rules().first())
            .map(|rule| {
                let default = rule.apply_server_side_encryption_by_default();
                (
                    default
                        .map(|d| d.sse_algorithm().as_str().to_owned())
                        .unwrap_or_default(),
                    default.and_then(|d| d.kms_master_key_id().map(str::to_owned)),
                    rule.bucket_key_enabled().unwrap_or(false),
                )
            }),
        Err(e) if is_absent(e.code()) => None,
        Err(e) => return Err(Error::from_sdk("GetBucketEncryption", res, e)),
    };
    let public_access_block = match s3.get_public_access_block().bucket(bucket).send().await {
        Ok(out) => out.public_access_block_configuration().map(|c| {
            [
                c.block_public_acls().unwrap_or(false),
                c.ignore_public_acls().unwrap_or(false),
                c.block_public_policy().unwrap_or(false),
                c.restrict_public_buckets().unwrap_or(false),
            ]
        }),
        Err(e) if is_absent(e.code()) => None,
        Err(e) => return Err(Error::from_sdk("GetPublicAccessBlock", res, e)),
    };
    let ownership = match s3
        .get_bucket_ownership_controls()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(out) => out
            .ownership_controls()
            .and_then(|c| c.rules().first())
            .map(|r| r.object_ownership().as_str().to_owned()),
        Err(e) if is_absent(e.code()) => None,
        Err(e) => return Err(Error::from_sdk("GetBucketOwnershipControls", res, e)),
    };
    let policy = match s3.get_bucket_policy().bucket(bucket).send().await {
        Ok(out) => out.policy().map(str::to_owned),
        Err(e) if is_absent(e.code()) => None,
        Err(e) => return Err(Error::from_sdk("GetBucketPolicy", res, e)),
    };
    Ok(Some(BucketActual {
        versioning,
        encryption,
        public_access_block,
        ownership,
        policy,
    }))
}

/// A role's trust policy and named inline policy, or None when the role does not exist.
pub async fn read_role(
    iam: &aws_sdk_iam::Client,
    role: &str,
    policy_name: &str,
) -> Result<Option<RoleActual>> {
    let out = match iam.get_role().role_name(role).send().await {
        Ok(out) => out,
        Err(e) if is_absent(e.code()) => return Ok(None),
        Err(e) => return Err(Error::from_sdk("iam:GetRole", role.to_owned(), e)),
    };
    let trust = out
        .role()
        .and_then(|r| r.assume_role_policy_document())
        .unwrap_or_default()
        .to_owned();
    let policy = match iam
        .get_role_policy()
        .role_name(role)
        .policy_name(policy_name)
        .send()
        .await
    {
        Ok(out) => Some(out.policy_document().to_owned()),
        Err(e) if is_absent(e.code()) => None,
        Err(e) => return Err(Error::from_sdk("iam:GetRolePolicy", role.to_owned(), e)),
    };
    Ok(Some(RoleActual { trust, policy }))
}

/// The bucket's replication configuration (its first rule), or None when there is none.
pub async fn read_replication(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> Result<Option<ReplicationSpec>> {
    let out = match s3.get_bucket_replication().bucket(bucket).send().await {
        Ok(out) => out,
        Err(e) if is_absent(e.code()) => return Ok(None),
        Err(e) => {
            return Err(Error::from_sdk(
                "GetBucketReplication",
                bucket.to_owned(),
                e,
            ))
        }
    };
    let Some(config) = out.replication_configuration() else {
        return Ok(None);
    };
    let Some(rule) = config.rules().first() else {
        return Ok(None);
    };
    let destination = rule.destination();
    let prefix = rule
        .filter()
        .and_then(|f| f.prefix())
        .unwrap_or_default()
        .to_owned();
    Ok(Some(ReplicationSpec {
        role_arn: config.role().to_owned(),
        rule: ReplicationRule {
            id: rule.id().unwrap_or_default().to_owned(),
            priority: rule.priority().unwrap_or(0),
            prefix,
            delete_marker_replication: rule.delete_marker_replication().and_then(|d| d.status())
                == Some(&DeleteMarkerReplicationStatus::Enabled),
            sse_kms_encrypted_objects: rule
                .source_selection_criteria()
                .and_then(|c| c.sse_kms_encrypted_objects())
                .map(|s| s.status() == &SseKmsEncryptedObjectsStatus::Enabled)
                .unwrap_or(false),
            destination_bucket_arn: destination
                .map(|d| d.bucket().to_owned())
                .unwrap_or_default(),
            destination_account: destination
                .and_then(|d| d.account())
                .unwrap_or_default()
                .to_owned(),
            owner_override: destination
                .and_then(|d| d.access_control_translation())
                .is_some_and(|a| a.owner().as_str() == "Destination"),
            replica_kms_key_id: destination
                .and_then(|d| d.encryption_configuration())
                .and_then(|e| e.replica_kms_key_id())
                .unwrap_or_default()
                .to_owned(),
            storage_class: destination
                .and_then(|d| d.storage_class())
                .map(|s| s.as_str().to_owned())
                .unwrap_or_else(|| "STANDARD".to_owned()),
            replication_time_control: destination
                .and_then(|d| d.replication_time())
                .is_some_and(|r| r.status() == &ReplicationTimeStatus::Enabled),
        },
    }))
}
