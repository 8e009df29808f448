//! Writing the differences: each function makes one resource as desired, counting its write calls.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_iam::client::Waiters;
use aws_sdk_s3::types::{
    AccessControlTranslation, BucketLocationConstraint, BucketVersioningStatus,
    CreateBucketConfiguration, DefaultRetention, DeleteMarkerReplication,
    DeleteMarkerReplicationStatus, Destination, EncryptionConfiguration, Metrics, MetricsStatus,
    ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode, ObjectLockRule,
    ObjectOwnership, OwnerOverride, OwnershipControls, OwnershipControlsRule,
    PublicAccessBlockConfiguration, ReplicationConfiguration, ReplicationRule as SdkRule,
    ReplicationRuleFilter, ReplicationRuleStatus, ReplicationTime, ReplicationTimeStatus,
    ReplicationTimeValue, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, SourceSelectionCriteria,
    SseKmsEncryptedObjects, SseKmsEncryptedObjectsStatus, StorageClass, VersioningConfiguration,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::config::ObjectLock;
use crate::error::{Error, Result};
use crate::setup::plan::{BucketSpec, KeySpec, ReplicationSpec, Resource, RoleSpec};
use crate::setup::policy::ReplicationRule;

/// Attempts of PutBucketReplication while a new role propagates through IAM.
const REPLICATION_ATTEMPTS: u32 = 6;

/// Counts write calls, so a converged run can prove it wrote nothing.
#[derive(Debug, Default)]
pub struct Writes(AtomicU64);

impl Writes {
    /// One more write call.
    pub fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Write calls so far.
    pub fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The description of the keys setup creates (the exported templates write the same).
pub const KEY_DESCRIPTION: &str = "s3central backup encryption key";

/// Creates the key with its policy, its alias and rotation; gives its ARN.
pub async fn create_key(
    kms: &aws_sdk_kms::Client,
    spec: &KeySpec,
    writes: &Writes,
) -> Result<String> {
    writes.add();
    let out = kms
        .create_key()
        .description(KEY_DESCRIPTION)
        .policy(spec.policy.to_string())
        .bypass_policy_lockout_safety_check(spec.lockout_intended)
        .tags(
            aws_sdk_kms::types::Tag::builder()
                .tag_key(crate::setup::state::ALIAS_TAG)
                .tag_value(&spec.alias)
                .build()
                .map_err(build_error)?,
        )
        .send()
        .await
        .map_err(|e| Error::from_sdk("kms:CreateKey", spec.alias.clone(), e))?;
    let meta = out
        .key_metadata()
        .ok_or_else(|| Error::Invalid("kms:CreateKey returned no key".into()))?;
    let key_id = meta.key_id().to_owned();
    create_alias(kms, &key_id, spec, writes).await?;
    enable_rotation(kms, &key_id, writes).await?;
    Ok(meta.arn().unwrap_or_default().to_owned())
}

/// Points the spec's alias at an existing key (one created by an earlier, interrupted run).
pub async fn create_alias(
    kms: &aws_sdk_kms::Client,
    key: &str,
    spec: &KeySpec,
    writes: &Writes,
) -> Result<()> {
    writes.add();
    kms.create_alias()
        .alias_name(&spec.alias)
        .target_key_id(key)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| Error::from_sdk("kms:CreateAlias", spec.alias.clone(), e))
}

/// Replaces the key's policy.
pub async fn put_key_policy(
    kms: &aws_sdk_kms::Client,
    key: &str,
    spec: &KeySpec,
    writes: &Writes,
) -> Result<()> {
    writes.add();
    kms.put_key_policy()
        .key_id(key)
        .policy_name("default")
        .policy(spec.policy.to_string())
        .bypass_policy_lockout_safety_check(spec.lockout_intended)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| Error::from_sdk("kms:PutKeyPolicy", key.to_owned(), e))
}

/// Turns key rotation on.
pub async fn enable_rotation(kms: &aws_sdk_kms::Client, key: &str, writes: &Writes) -> Result<()> {
    writes.add();
    kms.enable_key_rotation()
        .key_id(key)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| Error::from_sdk("kms:EnableKeyRotation", key.to_owned(), e))
}

/// Creates the bucket (in its region) and applies every bucket setting.
pub async fn create_bucket(
    s3: &aws_sdk_s3::Client,
    spec: &BucketSpec,
    writes: &Writes,
) -> Result<()> {
    writes.add();
    let mut create = s3
        .create_bucket()
        .bucket(&spec.name)
        .set_object_lock_enabled_for_bucket(spec.object_lock.map(|_| true));
    if spec.region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(spec.region.as_str()))
                .build(),
        );
    }
    create
        .send()
        .await
        .map_err(|e| Error::from_sdk("CreateBucket", spec.name.clone(), e))?;
    for resource in [
        Resource::Versioning,
        Resource::Encryption,
        Resource::PublicAccessBlock,
        Resource::Ownership,
        Resource::BucketPolicy,
    ] {
        apply_bucket_setting(s3, spec, resource, writes).await?;
    }
    if let Some(lock) = &spec.object_lock {
        put_object_lock(s3, &spec.name, lock, writes).await?;
    }
    Ok(())
}

/// Enables Object Lock on a versioned bucket with this default retention (PutObjectLockConfiguration;
/// AWS accepts it on an existing versioned bucket). Never called to weaken a lock: the plan refuses that.
pub async fn put_object_lock(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    lock: &ObjectLock,
    writes: &Writes,
) -> Result<()> {
    writes.add();
    let rule = ObjectLockRule::builder()
        .default_retention(
            DefaultRetention::builder()
                .mode(ObjectLockRetentionMode::from(lock.mode.as_str()))
                .days(i32::try_from(lock.days).unwrap_or(i32::MAX))
                .build(),
        )
        .build();
    s3.put_object_lock_configuration()
        .bucket(bucket)
        .object_lock_configuration(
            ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .rule(rule)
                .build(),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(|e| Error::from_sdk("PutObjectLockConfiguration", bucket.to_owned(), e))
}

/// Applies one bucket setting as desired.
pub async fn apply_bucket_setting(
    s3: &aws_sdk_s3::Client,
    spec: &BucketSpec,
    resource: Resource,
    writes: &Writes,
) -> Result<()> {
    let bucket = spec.name.clone();
    match resource {
        Resource::Versioning => {
            writes.add();
            s3.put_bucket_versioning()
                .bucket(&bucket)
                .versioning_configuration(
                    VersioningConfiguration::builder()
                        .status(BucketVersioningStatus::Enabled)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| Error::from_sdk("PutBucketVersioning", bucket, e))?;
        }
        Resource::Encryption => {
            writes.add();
            let default = ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::AwsKms)
                .kms_master_key_id(&spec.kms_key_arn)
                .build()
                .map_err(build_error)?;
            s3.put_bucket_encryption()
                .bucket(&bucket)
                .server_side_encryption_configuration(
                    ServerSideEncryptionConfiguration::builder()
                        .rules(
                            ServerSideEncryptionRule::builder()
                                .apply_server_side_encryption_by_default(default)
                                .bucket_key_enabled(true)
                                .build(),
                        )
                        .build()
                        .map_err(build_error)?,
                )
                .send()
                .await
                .map_err(|e| Error::from_sdk("PutBucketEncryption", bucket, e))?;
        }
        Resource::PublicAccessBlock => {
            writes.add();
            s3.put_public_access_block()
                .bucket(&bucket)
                .public_access_block_configuration(
                    PublicAccessBlockConfiguration::builder()
                        .block_public_acls(true)
                        .ignore_public_acls(true)
                        .block_public_policy(true)
                        .restrict_public_buckets(true)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| Error::from_sdk("PutPublicAccessBlock", bucket, e))?;
        }
        Resource::Ownership => {
            writes.add();
            s3.put_bucket_ownership_controls()
                .bucket(&bucket)
                .ownership_controls(
                    OwnershipControls::builder()
                        .rules(
                            OwnershipControlsRule::builder()
                                .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                                .build()
                                .map_err(build_error)?,
                        )
                        .build()
                        .map_err(build_error)?,
                )
                .send()
                .await
                .map_err(|e| Error::from_sdk("PutBucketOwnershipControls", bucket, e))?;
        }
        Resource::BucketPolicy => {
            if let Some(policy) = &spec.policy {
                writes.add();
                s3.put_bucket_policy()
                    .bucket(&bucket)
                    .policy(policy.to_string())
                    .send()
                    .await
                    .map_err(|e| Error::from_sdk("PutBucketPolicy", bucket, e))?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Creates the role with its trust and inline policy, and waits until IAM shows it.
pub async fn create_role(
    iam: &aws_sdk_iam::Client,
    spec: &RoleSpec,
    writes: &Writes,
) -> Result<()> {
    writes.add();
    iam.create_role()
        .role_name(&spec.name)
        .assume_role_policy_document(spec.trust.to_string())
        .description(spec.kind.description())
        .send()
        .await
        .map_err(|e| Error::from_sdk("iam:CreateRole", spec.name.clone(), e))?;
    put_role_policy(iam, spec, writes).await?;
    iam.wait_until_role_exists()
        .role_name(&spec.name)
        .wait(Duration::from_secs(60))
        .await
        .map_err(|e| Error::Invalid(format!("role {} did not appear in IAM: {e}", spec.name)))?;
    Ok(())
}

/// Replaces the role's trust policy.
pub async fn put_role_trust(
    iam: &aws_sdk_iam::Client,
    spec: &RoleSpec,
    writes: &Writes,
) -> Result<()> {
    writes.add();
    iam.update_assume_role_policy()
        .role_name(&spec.name)
        .policy_document(spec.trust.to_string())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| Error::from_sdk("iam:UpdateAssumeRolePolicy", spec.name.clone(), e))
}

/// Replaces the role's inline policy.
pub async fn put_role_policy(
    iam: &aws_sdk_iam::Client,
    spec: &RoleSpec,
    writes: &Writes,
) -> Result<()> {
    writes.add();
    iam.put_role_policy()
        .role_name(&spec.name)
        .policy_name(&spec.policy_name)
        .policy_document(spec.policy.to_string())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| Error::from_sdk("iam:PutRolePolicy", spec.name.clone(), e))
}

/// Puts the replication configuration (s3central's rule beside the bucket's other rules, which
/// PutBucketReplication would otherwise delete), retrying with backoff while a new role propagates.
pub async fn put_replication(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    spec: &ReplicationSpec,
    others: &[SdkRule],
    writes: &Writes,
) -> Result<()> {
    let config = replication_configuration(spec, others)?;
    let mut delay = Duration::from_secs(1);
    for attempt in 1..=REPLICATION_ATTEMPTS {
        writes.add();
        match s3
            .put_bucket_replication()
            .bucket(bucket)
            .replication_configuration(config.clone())
            .send()
            .await
        {
            Ok(_) => return Ok(()),
            Err(e)
                if attempt < REPLICATION_ATTEMPTS
                    && matches!(
                        e.code(),
                        Some("InvalidArgument" | "InvalidRequest" | "AccessDenied")
                    ) =>
            {
                tracing::info!(bucket, attempt, code = ?e.code(), "replication not accepted yet (role propagating?); retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => {
                return Err(Error::from_sdk(
                    "PutBucketReplication",
                    bucket.to_owned(),
                    e,
                ))
            }
        }
    }
    Err(Error::Invalid(format!(
        "PutBucketReplication on {bucket} kept failing"
    )))
}

/// The SDK form of the desired replication configuration: the other rules unchanged, then s3central's.
pub fn replication_configuration(
    spec: &ReplicationSpec,
    others: &[SdkRule],
) -> Result<ReplicationConfiguration> {
    let r = &spec.rule;
    let minutes = |m: i32| ReplicationTimeValue::builder().minutes(m).build();
    let mut destination = Destination::builder()
        .bucket(&r.destination_bucket_arn)
        .account(&r.destination_account)
        .access_control_translation(
            AccessControlTranslation::builder()
                .owner(OwnerOverride::Destination)
                .build()
                .map_err(build_error)?,
        )
        .encryption_configuration(
            EncryptionConfiguration::builder()
                .replica_kms_key_id(&r.replica_kms_key_id)
                .build(),
        )
        .storage_class(StorageClass::from(r.storage_class.as_str()));
    if r.replication_time_control {
        destination = destination.replication_time(
            ReplicationTime::builder()
                .status(ReplicationTimeStatus::Enabled)
                .time(minutes(ReplicationRule::RTC_MINUTES))
                .build()
                .map_err(build_error)?,
        );
    }
    if r.metrics {
        destination = destination.metrics(
            Metrics::builder()
                .status(MetricsStatus::Enabled)
                .set_event_threshold(r.event_threshold().map(minutes))
                .build()
                .map_err(build_error)?,
        );
    }
    let rule = SdkRule::builder()
        .id(&r.id)
        .priority(r.priority)
        .status(ReplicationRuleStatus::Enabled)
        .filter(ReplicationRuleFilter::builder().prefix(&r.prefix).build())
        .delete_marker_replication(
            DeleteMarkerReplication::builder()
                .status(if r.delete_marker_replication {
                    DeleteMarkerReplicationStatus::Enabled
                } else {
                    DeleteMarkerReplicationStatus::Disabled
                })
                .build(),
        )
        .source_selection_criteria(
            SourceSelectionCriteria::builder()
                .sse_kms_encrypted_objects(
                    SseKmsEncryptedObjects::builder()
                        .status(if r.sse_kms_encrypted_objects {
                            SseKmsEncryptedObjectsStatus::Enabled
                        } else {
                            SseKmsEncryptedObjectsStatus::Disabled
                        })
                        .build()
                        .map_err(build_error)?,
                )
                .build(),
        )
        .destination(destination.build().map_err(build_error)?)
        .build()
        .map_err(build_error)?;
    ReplicationConfiguration::builder()
        .role(&spec.role_arn)
        .set_rules(Some(others.iter().cloned().chain([rule]).collect()))
        .build()
        .map_err(build_error)
}

/// An SDK builder refused a value (a bug in the desired state, not user input).
fn build_error(e: aws_smithy_types::error::operation::BuildError) -> Error {
    Error::Invalid(format!("cannot build an AWS request: {e}"))
}
