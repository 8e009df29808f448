//! Reading what exists: keys, buckets, roles and replication rules, where "not found" means absent.

use aws_sdk_s3::types::{
    BucketVersioningStatus, DeleteMarkerReplicationStatus, MetricsStatus, ReplicationTimeStatus,
    SseKmsEncryptedObjectsStatus,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::config::LockMode;
use crate::error::{Error, Result};
use crate::setup::plan::{
    BucketActual, KeyActual, LifecycleRuleActual, LockActual, ReplicationActual, RoleActual,
};
use crate::setup::policy::ReplicationRule;

/// The tag setup puts on every key it creates, naming the alias it is meant to carry, so a run
/// stopped between CreateKey and CreateAlias is finished by the next one instead of orphaning a key.
pub const ALIAS_TAG: &str = "s3central:alias";

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
///
/// A key without the alias but tagged with it (see [`ALIAS_TAG`]) is found too, marked `alias_missing`.
pub async fn read_key(kms: &aws_sdk_kms::Client, alias: &str) -> Result<Option<KeyActual>> {
    let (described, alias_missing) = match kms.describe_key().key_id(alias).send().await {
        Ok(out) => (out, false),
        Err(e) if is_absent(e.code()) => match find_tagged_key(kms, alias).await? {
            Some(key_id) => (
                kms.describe_key()
                    .key_id(&key_id)
                    .send()
                    .await
                    .map_err(|e| Error::from_sdk("kms:DescribeKey", key_id.clone(), e))?,
                true,
            ),
            None => return Ok(None),
        },
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
        alias_missing,
        policy,
        rotation,
    }))
}

/// The oldest enabled key tagged `s3central:alias = alias`, if any (keys pending deletion or
/// disabled are never adopted). Costs one ListResourceTags per key, only when the alias is missing.
pub async fn find_tagged_key(kms: &aws_sdk_kms::Client, alias: &str) -> Result<Option<String>> {
    let mut found: Option<(aws_smithy_types::DateTime, String)> = None;
    let mut pages = kms.list_keys().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::from_sdk("kms:ListKeys", alias.to_owned(), e))?;
        for key in page.keys() {
            let Some(key_id) = key.key_id() else { continue };
            let tags = match kms.list_resource_tags().key_id(key_id).send().await {
                Ok(out) => out,
                // AWS-managed keys and keys of others may refuse: they are not ours.
                Err(e) if matches!(e.code(), Some("AccessDeniedException")) => continue,
                Err(e) => {
                    return Err(Error::from_sdk(
                        "kms:ListResourceTags",
                        key_id.to_owned(),
                        e,
                    ))
                }
            };
            let ours = tags
                .tags()
                .iter()
                .any(|t| t.tag_key() == ALIAS_TAG && t.tag_value() == alias);
            if !ours {
                continue;
            }
            let meta = kms
                .describe_key()
                .key_id(key_id)
                .send()
                .await
                .map_err(|e| Error::from_sdk("kms:DescribeKey", key_id.to_owned(), e))?;
            let Some(meta) = meta.key_metadata() else {
                continue;
            };
            if !meta.enabled() {
                continue;
            }
            let created = meta
                .creation_date()
                .copied()
                .unwrap_or(aws_smithy_types::DateTime::from_secs(0));
            if found.as_ref().is_none_or(|(t, _)| created < *t) {
                found = Some((created, key_id.to_owned()));
            }
        }
    }
    Ok(found.map(|(_, id)| id))
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
    let has_objects = !s3
        .list_object_versions()
        .bucket(bucket)
        .max_keys(1)
        .send()
        .await
        .map_err(|e| Error::from_sdk("ListObjectVersions", bucket.to_owned(), e))?
        .versions()
        .is_empty();
    Ok(Some(BucketActual {
        versioning,
        encryption,
        public_access_block,
        ownership,
        policy,
        has_objects,
    }))
}

/// A bucket's Object Lock configuration, or None when it has none.
pub async fn read_object_lock(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<Option<LockActual>> {
    let out = match s3
        .get_object_lock_configuration()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if matches!(e.code(), Some("ObjectLockConfigurationNotFoundError")) => {
            return Ok(None)
        }
        Err(e) => {
            return Err(Error::from_sdk(
                "GetObjectLockConfiguration",
                bucket.to_owned(),
                e,
            ))
        }
    };
    let Some(config) = out.object_lock_configuration() else {
        return Ok(None);
    };
    let retention = config
        .rule()
        .and_then(|r| r.default_retention())
        .and_then(|d| {
            let mode = LockMode::parse(d.mode()?.as_str())?;
            let days = match (d.days(), d.years()) {
                (Some(days), _) => days,
                (None, Some(years)) => years.saturating_mul(365),
                (None, None) => return None,
            };
            Some((mode, u32::try_from(days).unwrap_or(0)))
        });
    Ok(Some(LockActual {
        enabled: config.object_lock_enabled().map(|e| e.as_str()) == Some("Enabled"),
        retention,
    }))
}

/// The bucket's enabled lifecycle rules that expire noncurrent versions (none when it has no
/// lifecycle configuration).
pub async fn read_lifecycle(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> Result<Vec<LifecycleRuleActual>> {
    let out = match s3
        .get_bucket_lifecycle_configuration()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if matches!(e.code(), Some("NoSuchLifecycleConfiguration")) => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::from_sdk(
                "GetBucketLifecycleConfiguration",
                bucket.to_owned(),
                e,
            ))
        }
    };
    Ok(out
        .rules()
        .iter()
        .filter(|r| r.status().as_str() == "Enabled" && r.noncurrent_version_expiration().is_some())
        .map(|r| {
            let filter = r.filter();
            #[allow(deprecated)]
            let prefix = filter
                .and_then(|f| f.prefix().or_else(|| f.and().and_then(|a| a.prefix())))
                .or(r.prefix())
                .unwrap_or_default();
            LifecycleRuleActual {
                id: r.id().unwrap_or_default().to_owned(),
                prefix: prefix.to_owned(),
                noncurrent_days: r
                    .noncurrent_version_expiration()
                    .and_then(|e| e.noncurrent_days()),
            }
        })
        .collect())
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

/// A bucket's replication configuration as found: the diffable part and the other rules as AWS
/// returned them (written back unchanged beside s3central's rule).
#[derive(Debug, Clone)]
pub struct ReplicationFound {
    /// Role, s3central's rule, the other rules' ids and priorities.
    pub actual: ReplicationActual,
    /// The other rules, verbatim.
    pub others: Vec<aws_sdk_s3::types::ReplicationRule>,
}

/// The bucket's replication configuration, s3central's rule picked out by `rule_id`, or None when
/// the bucket has no configuration.
pub async fn read_replication(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    rule_id: &str,
) -> Result<Option<ReplicationFound>> {
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
    let (ours, others): (Vec<_>, Vec<_>) = config
        .rules()
        .iter()
        .cloned()
        .partition(|r| r.id() == Some(rule_id));
    Ok(Some(ReplicationFound {
        actual: ReplicationActual {
            role_arn: config.role().to_owned(),
            rule: ours.first().map(rule_from_sdk),
            other_ids: others
                .iter()
                .map(|r| r.id().unwrap_or("(no id)").to_owned())
                .collect(),
            other_priorities: others.iter().filter_map(|r| r.priority()).collect(),
            other_destinations: others
                .iter()
                .map(|r| {
                    r.destination()
                        .map(|d| d.bucket().to_owned())
                        .unwrap_or_default()
                })
                .collect(),
            other_v1_ids: others
                .iter()
                .filter(|r| is_first_schema(r))
                .map(|r| r.id().unwrap_or("(no id)").to_owned())
                .collect(),
        },
        others,
    }))
}

/// Whether a rule is written in the first replication schema: a rule-level Prefix and no Filter.
#[allow(deprecated)]
fn is_first_schema(rule: &aws_sdk_s3::types::ReplicationRule) -> bool {
    rule.prefix().is_some() && rule.filter().is_none()
}

/// s3central's view of one SDK replication rule.
fn rule_from_sdk(rule: &aws_sdk_s3::types::ReplicationRule) -> ReplicationRule {
    let destination = rule.destination();
    let prefix = rule
        .filter()
        .and_then(|f| f.prefix())
        .unwrap_or_default()
        .to_owned();
    ReplicationRule {
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
        metrics: destination
            .and_then(|d| d.metrics())
            .is_some_and(|m| m.status() == &MetricsStatus::Enabled),
    }
}

#[cfg(test)]
mod tests {
    use super::is_first_schema;
    use aws_sdk_s3::types::{
        Destination, ReplicationRule, ReplicationRuleFilter, ReplicationRuleStatus,
    };

    fn rule() -> aws_sdk_s3::types::builders::ReplicationRuleBuilder {
        ReplicationRule::builder()
            .id("r")
            .status(ReplicationRuleStatus::Enabled)
            .destination(
                Destination::builder()
                    .bucket("arn:aws:s3:::dr")
                    .build()
                    .unwrap(),
            )
    }

    #[test]
    #[allow(deprecated)]
    fn first_schema_rules_are_told_from_current_ones() {
        assert!(is_first_schema(&rule().prefix("logs/").build().unwrap()));
        let current = rule()
            .priority(1)
            .filter(ReplicationRuleFilter::builder().prefix("logs/").build())
            .build()
            .unwrap();
        assert!(!is_first_schema(&current));
    }
}
