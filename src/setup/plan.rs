//! Desired versus actual state of one account's resources, and the pure diff that makes the plan.

use serde::Serialize;
use serde_json::Value;

use crate::setup::policy::{same_policy, ReplicationRule};

/// The value used for the central key's ARN while that key does not exist yet (plan only).
pub const PENDING_CENTRAL_KEY: &str = "(central key, created by this run)";

/// The resources setup manages, in the order they are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    /// A customer-managed KMS key and its alias.
    KmsKey,
    /// The key's policy.
    KeyPolicy,
    /// Yearly rotation of the key material.
    KeyRotation,
    /// The bucket itself.
    Bucket,
    /// Bucket versioning (replication needs it on both sides).
    Versioning,
    /// Default SSE-KMS encryption with the account's key, bucket key on.
    Encryption,
    /// All four public access block settings.
    PublicAccessBlock,
    /// Object ownership BucketOwnerEnforced.
    Ownership,
    /// The central bucket policy.
    BucketPolicy,
    /// The `s3central-replication` role.
    Role,
    /// Who may assume the role (s3.amazonaws.com).
    RoleTrust,
    /// The role's inline least-privilege policy.
    RolePolicy,
    /// The source bucket's replication configuration.
    Replication,
}

impl Resource {
    /// How the resource is named in plans.
    pub fn label(self) -> &'static str {
        match self {
            Resource::KmsKey => "kms key",
            Resource::KeyPolicy => "key policy",
            Resource::KeyRotation => "key rotation",
            Resource::Bucket => "bucket",
            Resource::Versioning => "versioning",
            Resource::Encryption => "default encryption",
            Resource::PublicAccessBlock => "public access block",
            Resource::Ownership => "object ownership",
            Resource::BucketPolicy => "bucket policy",
            Resource::Role => "replication role",
            Resource::RoleTrust => "role trust policy",
            Resource::RolePolicy => "role policy",
            Resource::Replication => "replication rule",
        }
    }
}

/// What the plan says of one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action", content = "fields")]
pub enum Action {
    /// Absent: create it (with everything that belongs to it).
    Create,
    /// Present but different in these fields.
    Update(Vec<String>),
    /// Already as desired.
    Unchanged,
}

/// One line of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Which resource.
    pub resource: Resource,
    /// What to do.
    #[serde(flatten)]
    pub action: Action,
}

impl Change {
    fn new(resource: Resource, action: Action) -> Change {
        Change { resource, action }
    }

    /// Whether applying this line writes anything.
    pub fn is_change(&self) -> bool {
        self.action != Action::Unchanged
    }
}

/// The desired KMS key of an account.
#[derive(Debug, Clone)]
pub struct KeySpec {
    /// `alias/...` naming the key.
    pub alias: String,
    /// Its key policy.
    pub policy: Value,
}

/// A KMS key as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyActual {
    /// The key's ARN.
    pub arn: String,
    /// The key's policy text.
    pub policy: Option<String>,
    /// Whether rotation is on.
    pub rotation: bool,
}

/// Diffs a key: absent means create (policy and rotation included).
pub fn diff_key(spec: &KeySpec, actual: Option<&KeyActual>) -> Vec<Change> {
    let Some(actual) = actual else {
        return vec![Change::new(Resource::KmsKey, Action::Create)];
    };
    let policy_ok = actual
        .policy
        .as_deref()
        .is_some_and(|p| same_policy(p, &spec.policy));
    vec![
        Change::new(Resource::KmsKey, Action::Unchanged),
        Change::new(Resource::KeyPolicy, update_if(!policy_ok, "policy")),
        Change::new(
            Resource::KeyRotation,
            update_if(!actual.rotation, "enabled"),
        ),
    ]
}

/// The desired bucket of an account (central or source).
#[derive(Debug, Clone)]
pub struct BucketSpec {
    /// Bucket name.
    pub name: String,
    /// Region it lives in.
    pub region: String,
    /// ARN of the key for default SSE-KMS.
    pub kms_key_arn: String,
    /// The bucket policy (central bucket only).
    pub policy: Option<Value>,
}

/// A bucket as found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BucketActual {
    /// Versioning status is Enabled.
    pub versioning: bool,
    /// Default encryption: (algorithm, key id, bucket key enabled).
    pub encryption: Option<(String, Option<String>, bool)>,
    /// The four public access block flags, in S3's order.
    pub public_access_block: Option<[bool; 4]>,
    /// The object ownership setting.
    pub ownership: Option<String>,
    /// The bucket policy text.
    pub policy: Option<String>,
}

/// Diffs a bucket: absent means create (with every setting).
pub fn diff_bucket(spec: &BucketSpec, actual: Option<&BucketActual>) -> Vec<Change> {
    let Some(a) = actual else {
        return vec![Change::new(Resource::Bucket, Action::Create)];
    };
    let mut changes = vec![
        Change::new(Resource::Bucket, Action::Unchanged),
        Change::new(Resource::Versioning, update_if(!a.versioning, "status")),
    ];
    let mut enc = Vec::new();
    match &a.encryption {
        Some((algo, key, bucket_key)) => {
            if algo != "aws:kms" {
                enc.push("sse_algorithm".to_owned());
            }
            if key.as_deref() != Some(spec.kms_key_arn.as_str()) {
                enc.push("kms_master_key_id".to_owned());
            }
            if !bucket_key {
                enc.push("bucket_key_enabled".to_owned());
            }
        }
        None => enc.push("sse_algorithm".to_owned()),
    }
    changes.push(Change::new(Resource::Encryption, update(enc)));
    changes.push(Change::new(
        Resource::PublicAccessBlock,
        update_if(a.public_access_block != Some([true; 4]), "block_all"),
    ));
    changes.push(Change::new(
        Resource::Ownership,
        update_if(
            a.ownership.as_deref() != Some("BucketOwnerEnforced"),
            "object_ownership",
        ),
    ));
    if let Some(policy) = &spec.policy {
        let same = a.policy.as_deref().is_some_and(|p| same_policy(p, policy));
        changes.push(Change::new(
            Resource::BucketPolicy,
            update_if(!same, "policy"),
        ));
    }
    changes
}

/// The desired replication role of a source account.
#[derive(Debug, Clone)]
pub struct RoleSpec {
    /// Role name.
    pub name: String,
    /// Trust policy.
    pub trust: Value,
    /// Inline policy name.
    pub policy_name: String,
    /// Inline policy.
    pub policy: Value,
}

/// A role as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleActual {
    /// The trust policy text (IAM returns it URL-encoded).
    pub trust: String,
    /// The inline policy text, when present.
    pub policy: Option<String>,
}

/// Diffs a role: absent means create (trust and inline policy included).
pub fn diff_role(spec: &RoleSpec, actual: Option<&RoleActual>) -> Vec<Change> {
    let Some(a) = actual else {
        return vec![Change::new(Resource::Role, Action::Create)];
    };
    let policy_ok = a
        .policy
        .as_deref()
        .is_some_and(|p| same_policy(p, &spec.policy));
    vec![
        Change::new(Resource::Role, Action::Unchanged),
        Change::new(
            Resource::RoleTrust,
            update_if(!same_policy(&a.trust, &spec.trust), "policy"),
        ),
        Change::new(Resource::RolePolicy, update_if(!policy_ok, "policy")),
    ]
}

/// The desired replication configuration of a source bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationSpec {
    /// The role S3 assumes.
    pub role_arn: String,
    /// The single rule.
    pub rule: ReplicationRule,
}

/// Diffs the replication configuration, naming the fields that differ.
pub fn diff_replication(spec: &ReplicationSpec, actual: Option<&ReplicationSpec>) -> Change {
    let Some(a) = actual else {
        return Change::new(Resource::Replication, Action::Create);
    };
    let mut fields = Vec::new();
    if a.role_arn != spec.role_arn {
        fields.push("role".to_owned());
    }
    let (want, got) = (
        serde_json::to_value(&spec.rule).unwrap_or(Value::Null),
        serde_json::to_value(&a.rule).unwrap_or(Value::Null),
    );
    if let (Value::Object(want), Value::Object(got)) = (want, got) {
        for (field, value) in want {
            if got.get(&field) != Some(&value) {
                fields.push(field);
            }
        }
    }
    Change::new(Resource::Replication, update(fields))
}

/// `Update([field])` when `differs`, else `Unchanged`.
fn update_if(differs: bool, field: &str) -> Action {
    if differs {
        Action::Update(vec![field.to_owned()])
    } else {
        Action::Unchanged
    }
}

/// `Update(fields)` unless there are none.
fn update(fields: Vec<String>) -> Action {
    if fields.is_empty() {
        Action::Unchanged
    } else {
        Action::Update(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bucket_spec() -> BucketSpec {
        BucketSpec {
            name: "b".into(),
            region: "us-east-1".into(),
            kms_key_arn: "arn:aws:kms:us-east-1:111111111111:key/k".into(),
            policy: Some(json!({"Version": "2012-10-17", "Statement": []})),
        }
    }

    fn converged_bucket() -> BucketActual {
        BucketActual {
            versioning: true,
            encryption: Some((
                "aws:kms".into(),
                Some("arn:aws:kms:us-east-1:111111111111:key/k".into()),
                true,
            )),
            public_access_block: Some([true; 4]),
            ownership: Some("BucketOwnerEnforced".into()),
            policy: Some(r#"{"Statement":[],"Version":"2012-10-17"}"#.into()),
        }
    }

    #[test]
    fn absent_resources_are_created_whole() {
        assert_eq!(
            diff_bucket(&bucket_spec(), None),
            vec![Change::new(Resource::Bucket, Action::Create)]
        );
        let key = KeySpec {
            alias: "alias/x".into(),
            policy: json!({}),
        };
        assert_eq!(
            diff_key(&key, None),
            vec![Change::new(Resource::KmsKey, Action::Create)]
        );
    }

    #[test]
    fn converged_bucket_has_no_changes() {
        let changes = diff_bucket(&bucket_spec(), Some(&converged_bucket()));
        assert!(changes.iter().all(|c| !c.is_change()), "{changes:?}");
    }

    #[test]
    fn drift_names_the_fields() {
        let mut drifted = converged_bucket();
        drifted.versioning = false;
        drifted.encryption = Some(("AES256".into(), None, false));
        drifted.policy =
            Some(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow"}]}"#.into());
        let changes: Vec<Change> = diff_bucket(&bucket_spec(), Some(&drifted))
            .into_iter()
            .filter(Change::is_change)
            .collect();
        assert_eq!(
            changes,
            vec![
                Change::new(Resource::Versioning, Action::Update(vec!["status".into()])),
                Change::new(
                    Resource::Encryption,
                    Action::Update(vec![
                        "sse_algorithm".into(),
                        "kms_master_key_id".into(),
                        "bucket_key_enabled".into()
                    ])
                ),
                Change::new(
                    Resource::BucketPolicy,
                    Action::Update(vec!["policy".into()])
                ),
            ]
        );
    }

    #[test]
    fn replication_diff_names_fields() {
        let rule = ReplicationRule {
            id: "s3central-111111111111".into(),
            priority: 1,
            prefix: "111111111111/".into(),
            delete_marker_replication: false,
            sse_kms_encrypted_objects: true,
            destination_bucket_arn: "arn:aws:s3:::c".into(),
            destination_account: "123456789012".into(),
            owner_override: true,
            replica_kms_key_id: "arn:aws:kms:us-east-1:123456789012:key/k".into(),
            storage_class: "STANDARD".into(),
            replication_time_control: true,
        };
        let spec = ReplicationSpec {
            role_arn: "arn:aws:iam::111111111111:role/s3central-replication".into(),
            rule: rule.clone(),
        };
        assert_eq!(
            diff_replication(&spec, Some(&spec)).action,
            Action::Unchanged
        );
        let mut other = spec.clone();
        other.rule.prefix = "111111111111".into();
        other.rule.delete_marker_replication = true;
        assert_eq!(
            diff_replication(&spec, Some(&other)).action,
            Action::Update(vec!["delete_marker_replication".into(), "prefix".into()])
        );
        assert_eq!(diff_replication(&spec, None).action, Action::Create);
    }
}
