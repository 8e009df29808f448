//! Desired versus actual state of one account's resources, and the pure diff that makes the plan.

use serde::Serialize;
use serde_json::Value;

use crate::config::{LockMode, ObjectLock};
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
    /// S3 Object Lock and its default retention (central bucket only).
    ObjectLock,
    /// The `s3central-replication` role.
    Role,
    /// Who may assume the role (s3.amazonaws.com).
    RoleTrust,
    /// The role's inline least-privilege policy.
    RolePolicy,
    /// The `s3central-restore` role that restore assumes to copy server-side.
    RestoreRole,
    /// Who may assume the restore role (the config's restore principals).
    RestoreRoleTrust,
    /// The restore role's inline policy (own prefix in central, own bucket and key).
    RestoreRolePolicy,
    /// The `s3central-batch-replication` role S3 Batch Operations assumes for the backfill.
    BatchRole,
    /// Who may assume the batch role (batchoperations.s3.amazonaws.com).
    BatchRoleTrust,
    /// The batch role's inline policy.
    BatchRolePolicy,
    /// The `s3central-batch-restore` role S3 Batch Operations assumes for `restore --engine batch`.
    BatchRestoreRole,
    /// Who may assume the batch restore role (batchoperations.s3.amazonaws.com).
    BatchRestoreRoleTrust,
    /// The batch restore role's inline policy.
    BatchRestoreRolePolicy,
    /// The source bucket's replication configuration.
    Replication,
    /// An S3 Batch Replication job for objects live replication does not copy (existing before
    /// the rule, or FAILED).
    Backfill,
    /// Another replication rule of the source bucket whose destination is the central bucket.
    ForeignRule,
    /// The central bucket's lifecycle rules (read, never written by s3central).
    Lifecycle,
    /// The central account's alerts topic in a source region (`alerts_topic`).
    AlertsTopic,
    /// Who may publish to the alerts topic (S3, for the organization's buckets).
    AlertsTopicPolicy,
    /// The source bucket's event notification of failed and late replications to the alerts topic.
    Alerts,
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
            Resource::ObjectLock => "object lock",
            Resource::Role => "replication role",
            Resource::RoleTrust => "role trust policy",
            Resource::RolePolicy => "role policy",
            Resource::RestoreRole => "restore role",
            Resource::RestoreRoleTrust => "restore role trust policy",
            Resource::RestoreRolePolicy => "restore role policy",
            Resource::BatchRole => "batch role",
            Resource::BatchRoleTrust => "batch role trust policy",
            Resource::BatchRolePolicy => "batch role policy",
            Resource::BatchRestoreRole => "batch restore role",
            Resource::BatchRestoreRoleTrust => "batch restore role trust",
            Resource::BatchRestoreRolePolicy => "batch restore role policy",
            Resource::Replication => "replication rule",
            Resource::Backfill => "backfill",
            Resource::ForeignRule => "other rule into central",
            Resource::Lifecycle => "lifecycle",
            Resource::AlertsTopic => "alerts topic",
            Resource::AlertsTopicPolicy => "alerts topic policy",
            Resource::Alerts => "replication alerts",
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
    /// Present but different in these fields of a bucket that existed before s3central: changed
    /// only with explicit consent (`setup --allow-bucket-changes`), never silently.
    NeedsConsent(Vec<String>),
    /// Already as desired.
    Unchanged,
    /// The desired state would weaken a protection (Object Lock): never applied; the text says
    /// why and what to write instead.
    Refused(String),
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
    /// A plan line.
    pub(crate) fn new(resource: Resource, action: Action) -> Change {
        Change { resource, action }
    }

    /// Whether applying this line writes anything.
    pub fn is_change(&self) -> bool {
        self.action != Action::Unchanged
    }
}

/// Once central is guarded by a break-glass role (its bucket or key policy holds the role's
/// Deny), AWS refuses every change to it from anyone else: each such change is planned as
/// refused, naming the role, instead of being tried and failing halfway. Unchanged lines and
/// an unguarded central (the first run, which applies the guard) pass as they are.
pub fn gate_central(
    changes: Vec<Change>,
    guarded: bool,
    acting_as_break_glass: bool,
) -> Vec<Change> {
    if !guarded || acting_as_break_glass {
        return changes;
    }
    changes
        .into_iter()
        .map(|c| match c.action {
            Action::Update(_) | Action::Create | Action::NeedsConsent(_) => Change::new(
                c.resource,
                Action::Refused(format!(
                    "{} of the central account needs the break-glass role: its policies deny this change to everyone else; run setup as that role (for example with --profile naming it)",
                    c.resource.label()
                )),
            ),
            _ => c,
        })
        .collect()
}

/// The desired KMS key of an account.
#[derive(Debug, Clone)]
pub struct KeySpec {
    /// `alias/...` naming the key.
    pub alias: String,
    /// Its key policy.
    pub policy: Value,
    /// The policy deliberately takes PutKeyPolicy away from whoever writes it (a break-glass
    /// guard written by another principal): KMS's lockout safety check is then bypassed, as AWS
    /// documents for that intent; the policy itself gives the break-glass role `kms:*`.
    pub lockout_intended: bool,
}

/// A KMS key as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyActual {
    /// The key's ARN.
    pub arn: String,
    /// Whether the alias is missing: the key was found by its `s3central:alias` tag (an earlier
    /// run stopped between CreateKey and CreateAlias), so the alias is created, not a new key.
    pub alias_missing: bool,
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
        Change::new(Resource::KmsKey, update_if(actual.alias_missing, "alias")),
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
    /// Whether an existing bucket's encryption and ownership are the owner's once it holds
    /// objects: changed only with consent (source buckets). An empty bucket (one setup created,
    /// even by a run killed before its settings) gets every setting without asking.
    pub settings_need_consent: bool,
    /// Object Lock with a default retention (central bucket, when configured): a new bucket is
    /// created with Object Lock enabled.
    pub object_lock: Option<ObjectLock>,
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
    /// Whether the bucket holds any object version (its owner's data and habits are then at stake).
    pub has_objects: bool,
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
    let consent = |action: Action| match action {
        Action::Update(fields) if spec.settings_need_consent && a.has_objects => {
            Action::NeedsConsent(fields)
        }
        other => other,
    };
    changes.push(Change::new(Resource::Encryption, consent(update(enc))));
    changes.push(Change::new(
        Resource::PublicAccessBlock,
        update_if(a.public_access_block != Some([true; 4]), "block_all"),
    ));
    changes.push(Change::new(
        Resource::Ownership,
        consent(update_if(
            a.ownership.as_deref() != Some("BucketOwnerEnforced"),
            "object_ownership",
        )),
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

/// Which of the two roles setup keeps in a source account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleKind {
    /// `s3central-replication`, assumed by S3.
    Replication,
    /// `s3central-restore`, assumed by restore.
    Restore,
    /// `s3central-batch-replication`, assumed by S3 Batch Operations.
    BatchReplication,
    /// `s3central-batch-restore`, assumed by S3 Batch Operations for batch restores.
    BatchRestore,
}

impl RoleKind {
    /// The role's IAM description (setup and the exported templates write the same).
    pub fn description(self) -> &'static str {
        match self {
            RoleKind::Replication => {
                "Lets S3 replicate this account's objects into the s3central bucket"
            }
            RoleKind::Restore => {
                "Lets s3central restore copy this account's prefix from the central bucket back"
            }
            RoleKind::BatchReplication => {
                "Lets S3 Batch Replication copy this account's existing objects into the s3central bucket"
            }
            RoleKind::BatchRestore => {
                "Lets S3 Batch Operations copy this account's prefix from the s3central bucket back"
            }
        }
    }

    /// The plan's resources for the role, its trust policy and its inline policy.
    fn resources(self) -> [Resource; 3] {
        match self {
            RoleKind::Replication => [Resource::Role, Resource::RoleTrust, Resource::RolePolicy],
            RoleKind::Restore => [
                Resource::RestoreRole,
                Resource::RestoreRoleTrust,
                Resource::RestoreRolePolicy,
            ],
            RoleKind::BatchReplication => [
                Resource::BatchRole,
                Resource::BatchRoleTrust,
                Resource::BatchRolePolicy,
            ],
            RoleKind::BatchRestore => [
                Resource::BatchRestoreRole,
                Resource::BatchRestoreRoleTrust,
                Resource::BatchRestoreRolePolicy,
            ],
        }
    }
}

/// A desired role of a source account.
#[derive(Debug, Clone)]
pub struct RoleSpec {
    /// Which role.
    pub kind: RoleKind,
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
    let [role, trust, policy] = spec.kind.resources();
    let Some(a) = actual else {
        return vec![Change::new(role, Action::Create)];
    };
    let policy_ok = a
        .policy
        .as_deref()
        .is_some_and(|p| same_policy(p, &spec.policy));
    vec![
        Change::new(role, Action::Unchanged),
        Change::new(
            trust,
            update_if(!same_policy(&a.trust, &spec.trust), "policy"),
        ),
        Change::new(policy, update_if(!policy_ok, "policy")),
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

/// A source bucket's replication configuration as found: s3central's rule (by its id) and the
/// other rules the account keeps for itself, which setup never removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationActual {
    /// The configuration's role (one for all rules).
    pub role_arn: String,
    /// s3central's rule, when present.
    pub rule: Option<ReplicationRule>,
    /// The ids of the other rules.
    pub other_ids: Vec<String>,
    /// The priorities the other rules use.
    pub other_priorities: Vec<i32>,
    /// The destination bucket ARN of each other rule, in the order of `other_ids`.
    pub other_destinations: Vec<String>,
    /// The ids of other rules written in the first schema of replication rules (a rule-level
    /// `Prefix`, no `Filter`).
    pub other_v1_ids: Vec<String>,
}

/// Why s3central's rule cannot join the bucket's rules: S3 refuses a configuration that mixes
/// rules of the first schema (rule-level `Prefix`) with the current one (`Filter`, `Priority`,
/// `DeleteMarkerReplication`), which s3central's rule needs. Converting them is not s3central's
/// to do: a first-schema rule replicates delete markers, and its owner chose that.
pub fn v1_rule_conflict(actual: &ReplicationActual) -> Option<String> {
    (!actual.other_v1_ids.is_empty()).then(|| {
        format!(
            "its rule(s) {} use the first replication schema (a rule-level Prefix), which S3 refuses beside s3central's rule (Filter, Priority, DeleteMarkerReplication); rewrite them with a Filter (keeping their delete-marker replication as their owner wants it), then run setup again",
            actual.other_v1_ids.join(", ")
        )
    })
}

/// A central bucket policy above S3's size limit (many accounts with `enrollment = "listed"`):
/// refused in the plan, before S3 refuses it halfway through an apply.
pub fn oversized_bucket_policy(policy: &Value) -> Option<Change> {
    let max = crate::setup::policy::MAX_BUCKET_POLICY_BYTES;
    let size = policy.to_string().len();
    (size > max).then(|| {
        Change::new(
            Resource::BucketPolicy,
            Action::Refused(format!(
                "the central bucket policy would be {size} bytes, above S3's {max}: too many accounts for enrollment = \"listed\"; use enrollment = \"organization\""
            )),
        )
    })
}

/// An enabled lifecycle rule of central that expires noncurrent versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleRuleActual {
    /// Its id.
    pub id: String,
    /// The key prefix it applies to (empty: the whole bucket, or a filter of tags or sizes only).
    pub prefix: String,
    /// Days after which a version that became noncurrent is expired (`NoncurrentDays`).
    pub noncurrent_days: Option<i32>,
}

/// Delete markers replicated into central make the version they cover noncurrent, so a rule
/// that expires noncurrent versions would then destroy the data of every deleted key (an
/// attacker's deletes included) after its days: refused while such a rule covers the prefix of
/// an account that replicates deletes.
pub fn expiring_deleted_data(
    rules: &[LifecycleRuleActual],
    replicating_deletes: &[String],
) -> Option<Change> {
    let hits: Vec<String> = rules
        .iter()
        .filter_map(|rule| {
            let covered: Vec<&str> = replicating_deletes
                .iter()
                .map(String::as_str)
                .filter(|account| {
                    let own = format!("{account}/");
                    own.starts_with(&rule.prefix) || rule.prefix.starts_with(&own)
                })
                .collect();
            (!covered.is_empty()).then(|| {
                let shown = if covered.len() > 3 {
                    format!(
                        "{}, ... ({} accounts)",
                        covered[..3].join(", "),
                        covered.len()
                    )
                } else {
                    covered.join(", ")
                };
                format!("{:?} (prefix {:?}, covering {shown})", rule.id, rule.prefix)
            })
        })
        .collect();
    (!hits.is_empty()).then(|| {
        Change::new(
            Resource::Lifecycle,
            Action::Refused(format!(
                "central's lifecycle rule(s) {} expire noncurrent versions, and replicate_deletes would make every deleted key's data noncurrent (an attacker's deletes too), so it would be destroyed when the rule fires: remove NoncurrentVersionExpiration from those rules (or scope them away from those accounts), or set replicate_deletes = false",
                hits.join("; ")
            )),
        )
    })
}

/// Another rule of the source bucket that also replicates into central (issue 18, finding 4): a
/// source admin can add one with its own replica key, prefix or storage settings, and its
/// replicas land beside s3central's where version-id coverage cannot tell them apart. Setup never
/// removes another rule; this refuses to call the account healthy until someone does.
pub fn foreign_rules_into_central(
    actual: &ReplicationActual,
    central_bucket: &str,
) -> Option<Change> {
    let central = format!("arn:aws:s3:::{central_bucket}");
    let ids: Vec<&str> = actual
        .other_ids
        .iter()
        .zip(&actual.other_destinations)
        .filter(|(_, destination)| {
            **destination == central || destination.as_str() == central_bucket
        })
        .map(|(id, _)| id.as_str())
        .collect();
    (!ids.is_empty()).then(|| {
        Change::new(
            Resource::ForeignRule,
            Action::Refused(format!(
                "replication rule(s) {} of this bucket also replicate into central with settings s3central does not control (replica key, prefix): remove them, or give them another destination",
                ids.join(", ")
            )),
        )
    })
}

/// The priority s3central's rule gets: the one it has (or 1) unless another rule uses it, else one
/// above every other rule's (S3 refuses two rules with the same priority).
pub fn rule_priority(current: Option<i32>, others: &[i32]) -> i32 {
    let wanted = current.unwrap_or(1);
    if others.contains(&wanted) {
        others.iter().copied().max().unwrap_or(0).saturating_add(1)
    } else {
        wanted
    }
}

/// Why s3central's rule cannot be added to a configuration whose other rules use another role.
pub fn replication_role_conflict(
    spec: &ReplicationSpec,
    actual: &ReplicationActual,
) -> Option<String> {
    (!actual.other_ids.is_empty() && actual.role_arn != spec.role_arn).then(|| {
        format!(
            "the bucket's replication rules {:?} use role {}, and S3 allows one role per bucket; \
             s3central will not take it over (their replication would break): grant that role \
             s3central's permissions and switch those rules to {}, or remove them",
            actual.other_ids, actual.role_arn, spec.role_arn
        )
    })
}

/// Diffs s3central's replication rule, naming the fields that differ; other rules are kept.
pub fn diff_replication(spec: &ReplicationSpec, actual: Option<&ReplicationActual>) -> Change {
    let Some(a) = actual else {
        return Change::new(Resource::Replication, Action::Create);
    };
    let Some(rule) = &a.rule else {
        return Change::new(
            Resource::Replication,
            Action::Update(vec!["rule".to_owned()]),
        );
    };
    let mut fields = Vec::new();
    if a.role_arn != spec.role_arn {
        fields.push("role".to_owned());
    }
    let (want, got) = (
        serde_json::to_value(&spec.rule).unwrap_or(Value::Null),
        serde_json::to_value(rule).unwrap_or(Value::Null),
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

/// A bucket's Object Lock configuration as found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LockActual {
    /// ObjectLockEnabled is Enabled.
    pub enabled: bool,
    /// The default retention (years counted as 365 days), when there is one.
    pub retention: Option<(LockMode, u32)>,
}

/// Diffs the central bucket's Object Lock, never weakening it: a shorter retention, COMPLIANCE
/// lowered to GOVERNANCE, or a lock the config no longer names is [`Action::Refused`].
/// Nothing configured and nothing found gives no plan line at all.
pub fn diff_object_lock(
    desired: Option<&ObjectLock>,
    bucket_exists: bool,
    actual: Option<&LockActual>,
) -> Option<Change> {
    let change = |action| Some(Change::new(Resource::ObjectLock, action));
    if !bucket_exists {
        return desired.and_then(|_| change(Action::Create));
    }
    let enabled = actual.is_some_and(|a| a.enabled);
    let found = actual.filter(|a| a.enabled).and_then(|a| a.retention);
    let show = |(mode, days): (LockMode, u32)| format!("{} {days} days", mode.as_str());
    match (desired, found) {
        (None, None) => None,
        (None, Some(found)) => change(Action::Refused(format!(
            "the central bucket has Object Lock with a default retention of {}, and s3central never weakens or removes it: add object_lock = {{ mode = \"{}\", days = {} }} (or stronger) to [central]",
            show(found),
            found.0.as_str(),
            found.1
        ))),
        (Some(_), None) => change(Action::Update(if enabled {
            vec!["default_retention".to_owned()]
        } else {
            vec!["object_lock_enabled".to_owned(), "default_retention".to_owned()]
        })),
        (Some(want), Some(found)) => {
            let asked = show((want.mode, want.days));
            if found.0 == LockMode::Compliance && want.mode == LockMode::Governance {
                return change(Action::Refused(format!(
                    "object_lock asks for {asked}, but the central bucket's default retention is {}: s3central never lowers COMPLIANCE to GOVERNANCE; keep mode = \"COMPLIANCE\"",
                    show(found)
                )));
            }
            if want.days < found.1 {
                return change(Action::Refused(format!(
                    "object_lock asks for {asked}, but the central bucket's default retention is {}: s3central never shortens it; use days = {} or more",
                    show(found),
                    found.1
                )));
            }
            let mut fields = Vec::new();
            if want.mode != found.0 {
                fields.push("mode".to_owned());
            }
            if want.days != found.1 {
                fields.push("days".to_owned());
            }
            change(update(fields))
        }
    }
}

/// `Update([field])` when `differs`, else `Unchanged`.
pub(crate) fn update_if(differs: bool, field: &str) -> Action {
    if differs {
        Action::Update(vec![field.to_owned()])
    } else {
        Action::Unchanged
    }
}

/// `Update(fields)` unless there are none.
pub(crate) fn update(fields: Vec<String>) -> Action {
    if fields.is_empty() {
        Action::Unchanged
    } else {
        Action::Update(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noncurrent_expiration_over_an_account_that_replicates_deletes_is_refused() {
        let rule = |id: &str, prefix: &str| LifecycleRuleActual {
            id: id.into(),
            prefix: prefix.into(),
            noncurrent_days: Some(30),
        };
        let deleting = vec!["111111111111".to_owned()];
        // The whole bucket, the account's prefix, or a folder inside it: refused, named.
        for prefix in ["", "1", "111111111111/", "111111111111/tmp/"] {
            let change = expiring_deleted_data(&[rule("expire-old", prefix)], &deleting)
                .unwrap_or_else(|| panic!("prefix {prefix:?} not refused"));
            assert_eq!(change.resource, Resource::Lifecycle);
            let Action::Refused(why) = change.action else {
                panic!("not refused")
            };
            assert!(
                why.contains("\"expire-old\"") && why.contains("111111111111"),
                "{why}"
            );
        }
        // Another account's prefix, or no account replicating deletes: nothing to say.
        assert_eq!(
            expiring_deleted_data(&[rule("b", "222222222222/")], &deleting),
            None
        );
        assert_eq!(expiring_deleted_data(&[rule("all", "")], &[]), None);
    }

    #[test]
    fn an_oversized_bucket_policy_is_refused() {
        assert_eq!(oversized_bucket_policy(&json!({"Statement": []})), None);
        let big = json!({"Statement": [{"x": "y".repeat(21 * 1024)}]});
        let refused = oversized_bucket_policy(&big).expect("refused");
        assert!(matches!(&refused.action, Action::Refused(why) if why.contains("enrollment")));
    }

    #[test]
    fn other_rules_into_central_are_found() {
        let actual = ReplicationActual {
            role_arn: "r".into(),
            rule: None,
            other_ids: vec!["dr".into(), "sneaky".into()],
            other_priorities: vec![1, 2],
            other_destinations: vec![
                "arn:aws:s3:::dr-bucket".into(),
                "arn:aws:s3:::central".into(),
            ],
            other_v1_ids: vec![],
        };
        assert_eq!(v1_rule_conflict(&actual), None);
        let v1 = ReplicationActual {
            other_v1_ids: vec!["legacy".into()],
            ..actual.clone()
        };
        assert!(v1_rule_conflict(&v1)
            .is_some_and(|why| why.contains("legacy") && why.contains("first replication schema")));
        let change = foreign_rules_into_central(&actual, "central").expect("found");
        assert_eq!(change.resource, Resource::ForeignRule);
        assert!(
            matches!(&change.action, Action::Refused(why) if why.contains("sneaky") && !why.contains("dr,"))
        );
        assert_eq!(foreign_rules_into_central(&actual, "elsewhere"), None);
    }

    #[test]
    fn a_guarded_central_changes_only_as_the_break_glass_role() {
        let changes = vec![
            Change::new(
                Resource::BucketPolicy,
                Action::Update(vec!["Statement".into()]),
            ),
            Change::new(Resource::KeyPolicy, Action::Unchanged),
            Change::new(Resource::KmsKey, Action::Create),
        ];
        assert_eq!(gate_central(changes.clone(), false, false), changes);
        assert_eq!(gate_central(changes.clone(), true, true), changes);
        let gated = gate_central(changes, true, false);
        assert!(
            matches!(&gated[0].action, Action::Refused(why) if why.contains("break-glass role"))
        );
        assert_eq!(gated[1].action, Action::Unchanged);
        assert!(matches!(gated[2].action, Action::Refused(_)));
    }
    use serde_json::json;

    fn bucket_spec() -> BucketSpec {
        BucketSpec {
            name: "b".into(),
            region: "us-east-1".into(),
            kms_key_arn: "arn:aws:kms:us-east-1:111111111111:key/k".into(),
            policy: Some(json!({"Version": "2012-10-17", "Statement": []})),
            settings_need_consent: false,
            object_lock: None,
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
            has_objects: false,
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
            lockout_intended: false,
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
            metrics: true,
        };
        let spec = ReplicationSpec {
            role_arn: "arn:aws:iam::111111111111:role/s3central-replication".into(),
            rule: rule.clone(),
        };
        let found = |rule: Option<ReplicationRule>| ReplicationActual {
            role_arn: spec.role_arn.clone(),
            rule,
            other_ids: vec!["dr".into()],
            other_priorities: vec![1],
            other_destinations: vec!["arn:aws:s3:::dr-bucket".into()],
            other_v1_ids: vec![],
        };
        assert_eq!(
            diff_replication(&spec, Some(&found(Some(rule.clone())))).action,
            Action::Unchanged
        );
        let mut other = rule.clone();
        other.prefix = "111111111111".into();
        other.delete_marker_replication = true;
        assert_eq!(
            diff_replication(&spec, Some(&found(Some(other)))).action,
            Action::Update(vec!["delete_marker_replication".into(), "prefix".into()])
        );
        assert_eq!(diff_replication(&spec, None).action, Action::Create);
        assert_eq!(
            diff_replication(&spec, Some(&found(None))).action,
            Action::Update(vec!["rule".into()])
        );
        let mut foreign = found(None);
        assert!(replication_role_conflict(&spec, &foreign).is_none());
        foreign.role_arn = "arn:aws:iam::111111111111:role/dr".into();
        let why = replication_role_conflict(&spec, &foreign).unwrap();
        assert!(why.contains("\"dr\"") && why.contains("role/dr"), "{why}");
    }

    #[test]
    fn object_lock_is_created_strengthened_and_never_weakened() {
        let lock = |mode, days| ObjectLock { mode, days };
        let found = |mode, days| LockActual {
            enabled: true,
            retention: Some((mode, days)),
        };
        let action = |desired: Option<ObjectLock>, exists: bool, actual: Option<LockActual>| {
            diff_object_lock(desired.as_ref(), exists, actual.as_ref()).map(|c| c.action)
        };
        let g30 = lock(LockMode::Governance, 30);
        assert_eq!(action(Some(g30), false, None), Some(Action::Create));
        assert_eq!(action(None, false, None), None);
        assert_eq!(action(None, true, None), None);
        assert_eq!(
            action(Some(g30), true, None),
            Some(Action::Update(vec![
                "object_lock_enabled".into(),
                "default_retention".into()
            ]))
        );
        let no_rule = LockActual {
            enabled: true,
            retention: None,
        };
        assert_eq!(
            action(Some(g30), true, Some(no_rule)),
            Some(Action::Update(vec!["default_retention".into()]))
        );
        assert_eq!(action(None, true, Some(no_rule)), None);
        assert_eq!(
            action(Some(g30), true, Some(found(LockMode::Governance, 30))),
            Some(Action::Unchanged)
        );
        // Stronger: longer, or GOVERNANCE raised to COMPLIANCE.
        assert_eq!(
            action(Some(g30), true, Some(found(LockMode::Governance, 7))),
            Some(Action::Update(vec!["days".into()]))
        );
        assert_eq!(
            action(
                Some(lock(LockMode::Compliance, 30)),
                true,
                Some(found(LockMode::Governance, 30))
            ),
            Some(Action::Update(vec!["mode".into()]))
        );
        // Weaker: refused, with what to write instead.
        let refused = |a: Option<Action>| match a {
            Some(Action::Refused(why)) => why,
            other => panic!("not refused: {other:?}"),
        };
        let why = refused(action(
            Some(g30),
            true,
            Some(found(LockMode::Governance, 31)),
        ));
        assert!(
            why.contains("never shortens") && why.contains("days = 31"),
            "{why}"
        );
        let why = refused(action(
            Some(g30),
            true,
            Some(found(LockMode::Compliance, 30)),
        ));
        assert!(why.contains("never lowers COMPLIANCE"), "{why}");
        let why = refused(action(None, true, Some(found(LockMode::Compliance, 1))));
        assert!(
            why.contains("never weakens or removes")
                && why.contains(r#"object_lock = { mode = "COMPLIANCE", days = 1 }"#),
            "{why}"
        );
    }

    #[test]
    fn priority_avoids_the_other_rules() {
        assert_eq!(rule_priority(None, &[]), 1);
        assert_eq!(rule_priority(Some(4), &[1, 2]), 4);
        assert_eq!(rule_priority(None, &[1, 7]), 8);
        assert_eq!(rule_priority(Some(2), &[2]), 3);
    }

    #[test]
    fn existing_source_buckets_need_consent_for_encryption_and_ownership() {
        let mut spec = bucket_spec();
        spec.settings_need_consent = true;
        let mut found = converged_bucket();
        found.ownership = Some("ObjectWriter".into());
        found.encryption = Some((
            "aws:kms".into(),
            Some("arn:aws:kms:us-east-1:111111111111:key/theirs".into()),
            true,
        ));
        found.versioning = false;
        let mut empty = found.clone();
        empty.has_objects = false;
        assert!(diff_bucket(&spec, Some(&empty))
            .iter()
            .all(|c| !matches!(c.action, Action::NeedsConsent(_))));
        found.has_objects = true;
        let changes: Vec<Change> = diff_bucket(&spec, Some(&found))
            .into_iter()
            .filter(Change::is_change)
            .collect();
        assert_eq!(
            changes,
            vec![
                Change::new(Resource::Versioning, Action::Update(vec!["status".into()])),
                Change::new(
                    Resource::Encryption,
                    Action::NeedsConsent(vec!["kms_master_key_id".into()])
                ),
                Change::new(
                    Resource::Ownership,
                    Action::NeedsConsent(vec!["object_ownership".into()])
                ),
            ]
        );
    }

    #[test]
    fn a_key_found_by_its_tag_only_gets_its_alias() {
        let key = KeySpec {
            alias: "alias/x".into(),
            policy: json!({"Version": "2012-10-17", "Statement": []}),
            lockout_intended: false,
        };
        let found = KeyActual {
            arn: "arn:aws:kms:us-east-1:111111111111:key/k".into(),
            alias_missing: true,
            policy: Some(r#"{"Version":"2012-10-17","Statement":[]}"#.into()),
            rotation: true,
        };
        let changes: Vec<Change> = diff_key(&key, Some(&found))
            .into_iter()
            .filter(Change::is_change)
            .collect();
        assert_eq!(
            changes,
            vec![Change::new(
                Resource::KmsKey,
                Action::Update(vec!["alias".into()])
            )]
        );
    }
}
