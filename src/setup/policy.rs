//! The desired policy documents and replication rule, as pure functions, and how to compare them with AWS's.

use serde_json::{json, Map, Value};

/// The name of the IAM role S3 assumes in every source account to replicate.
pub const REPLICATION_ROLE: &str = "s3central-replication";

/// The name of the IAM role in every source account that `restore` assumes to copy server-side.
pub const RESTORE_ROLE: &str = "s3central-restore";

/// The name of the IAM role in every source account that S3 Batch Operations assumes to replicate
/// the objects that existed before the replication rule (Batch Replication, the backfill).
pub const BATCH_REPLICATION_ROLE: &str = "s3central-batch-replication";

/// The name of the IAM role in every source account that S3 Batch Operations assumes for
/// `restore --engine batch` (S3PutObjectCopy from the account's prefix in central).
pub const BATCH_RESTORE_ROLE: &str = "s3central-batch-restore";

/// Where in the source bucket the backfill jobs write their completion reports (under the
/// account prefix, so they are replicated and covered like everything else).
pub fn backfill_report_prefix(account: &str) -> String {
    format!("{account}/.s3central/backfill")
}

/// The policy language version; without it policy variables such as `${aws:PrincipalAccount}` are literal text.
pub const POLICY_VERSION: &str = "2012-10-17";

/// What the central account's documents depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CentralInput<'a> {
    /// The central account id.
    pub account: &'a str,
    /// The organization id (`o-...`).
    pub org_id: &'a str,
    /// The central bucket.
    pub bucket: &'a str,
    /// The central bucket's region (replicas are encrypted there, so its key lives there).
    pub region: &'a str,
    /// The central key's full ARN: the only KMS key replicas may be written under.
    pub key_arn: &'a str,
    /// `enrollment = "listed"`: the only accounts (besides central) that may replicate into
    /// central, read their prefix or use the central key; `None`: the whole organization.
    pub enrolled: Option<&'a [String]>,
    /// The break-glass role's ARN (`[central] break_glass_role`): when set, the only principal
    /// that may delete versions, change central's configuration or weaken its key.
    pub break_glass_role: Option<&'a str>,
    /// The accounts whose replication roles may replicate delete markers into their own prefix
    /// (`replicate_deletes`); empty: no account may.
    pub replicating_deletes: &'a [String],
}

/// The Sid of the central bucket policy's Deny that keeps central's configuration and versions
/// for the break-glass role; its presence in the actual policy means central is guarded.
pub const BUCKET_GUARD_SID: &str = "OnlyBreakGlassChangesCentral";

/// The Sid of the central key policy's Deny that keeps the key's administration for the
/// break-glass role.
pub const KEY_GUARD_SID: &str = "OnlyBreakGlassWeakensTheKey";

/// What only the break-glass role may do to the central key: anything that makes the versions
/// unreadable (disable, delete, re-policy, grant, key material, regions) or weakens it.
const KEY_BREAK_GLASS_ACTIONS: &[&str] = &[
    "kms:DisableKey",
    "kms:ScheduleKeyDeletion",
    "kms:PutKeyPolicy",
    "kms:CreateGrant",
    "kms:DisableKeyRotation",
    "kms:ImportKeyMaterial",
    "kms:DeleteImportedKeyMaterial",
    "kms:UpdatePrimaryRegion",
    "kms:ReplicateKey",
];

/// What only the break-glass role may do to the central bucket, beyond [`CENTRAL_ONLY_ACTIONS`]
/// (which no other account may do at all): write or re-tag objects (a new version under an
/// account's prefix would be restored as that account's data) and change ACLs.
const BUCKET_BREAK_GLASS_EXTRA: &[&str] = &[
    "s3:PutObject",
    "s3:PutObjectAcl",
    "s3:PutObjectVersionAcl",
    "s3:PutObjectTagging",
    "s3:PutObjectVersionTagging",
    "s3:DeleteObjectTagging",
    "s3:DeleteObjectVersionTagging",
];

/// What only enrolled accounts (and central) may do on central with `enrollment = "listed"`.
const ENROLLED_ONLY_ACTIONS: &[&str] = &[
    "s3:ReplicateObject",
    "s3:ReplicateTags",
    "s3:ObjectOwnerOverrideToBucketOwner",
    "s3:GetBucketVersioning",
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:GetObjectTagging",
    "s3:GetObjectVersionTagging",
    "s3:RestoreObject",
    "s3:ListBucket",
    "s3:ListBucketVersions",
];

/// The largest bucket policy S3 accepts, in bytes.
pub const MAX_BUCKET_POLICY_BYTES: usize = 20 * 1024;

/// The central account followed by the enrolled ones, sorted and without repeats (a stable
/// document, whatever order the config and discovery give).
fn with_central(central: &str, enrolled: &[String]) -> Vec<String> {
    let mut all: Vec<String> = enrolled.to_vec();
    all.push(central.to_owned());
    all.sort();
    all.dedup();
    all
}

/// Whether a caller ARN (STS GetCallerIdentity: `arn:aws:sts::ACCT:assumed-role/NAME/session`,
/// or the role ARN itself) is a session of the role `role_arn` (`arn:aws:iam::ACCT:role/[path/]NAME`;
/// a session ARN carries no path, so the account and the name decide).
pub fn is_session_of(caller_arn: &str, role_arn: &str) -> bool {
    let role = |arn: &str| -> Option<(String, String)> {
        let rest = arn.strip_prefix("arn:aws:iam::")?;
        let (account, resource) = rest.split_once(':')?;
        let name = resource.strip_prefix("role/")?.rsplit('/').next()?;
        Some((account.to_owned(), name.to_owned()))
    };
    let session = |arn: &str| -> Option<(String, String)> {
        let rest = arn.strip_prefix("arn:aws:sts::")?;
        let (account, resource) = rest.split_once(':')?;
        let name = resource.strip_prefix("assumed-role/")?.split('/').next()?;
        Some((account.to_owned(), name.to_owned()))
    };
    match (
        session(caller_arn).or_else(|| role(caller_arn)),
        role(role_arn),
    ) {
        (Some(caller), Some(role)) => caller == role,
        _ => false,
    }
}

/// The break-glass role a central policy text reserves central for: the `aws:PrincipalArn`
/// of its guard statement (`sid`), if the text holds one.
pub fn guard_role(policy: Option<&str>, sid: &str) -> Option<String> {
    let doc = parse_policy(policy?).ok()?;
    doc["Statement"]
        .as_array()?
        .iter()
        .find(|s| s["Sid"] == sid && s["Effect"] == "Deny")
        .and_then(|s| s["Condition"]["ArnNotEquals"]["aws:PrincipalArn"].as_str())
        .map(str::to_owned)
}

/// Whether a policy text holds a statement with this Sid (an unreadable text does not).
pub fn has_statement(policy: Option<&str>, sid: &str) -> bool {
    policy
        .and_then(|text| parse_policy(text).ok())
        .is_some_and(|doc| {
            doc["Statement"]
                .as_array()
                .is_some_and(|all| all.iter().any(|s| s["Sid"] == sid))
        })
}

/// The ARN pattern of an organization account's role of this name, for `aws:PrincipalArn` conditions.
///
/// A policy variable sits in a string operator's value, as AWS documents for variables in
/// conditions (`StringEquals`, not `ArnLike`), so the account part is exactly the caller's own.
fn own_role_arn(role: &str) -> String {
    format!("arn:aws:iam::${{aws:PrincipalAccount}}:role/{role}")
}

/// The `kms:EncryptionContext:aws:s3:arn` values S3 sends for objects of a bucket: the bucket ARN
/// when S3 Bucket Keys are on, the object ARN otherwise.
fn s3_encryption_context(bucket: &str, objects: &str) -> Value {
    json!([
        format!("arn:aws:s3:::{bucket}"),
        format!("arn:aws:s3:::{bucket}/{objects}")
    ])
}

/// The central key's policy: the central account administers it; the organization's replication
/// roles encrypt replicas with it and its restore roles decrypt them, only through S3 in the
/// central region and only for the central bucket (the bucket ARN, as S3 Bucket Keys send it, or
/// an object under the caller's own account prefix).
pub fn central_key_policy(c: &CentralInput<'_>) -> Value {
    let via_s3 = format!("s3.{}.amazonaws.com", c.region);
    let mut doc = json!({
        "Version": POLICY_VERSION,
        "Statement": [
            admin_statement(c.account),
            {
                "Sid": "OrganizationReplicationThroughS3",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                // Decrypt too: S3 Bucket Keys and multipart writes need it of the writer
                // (AWS S3 User Guide, replication-config-for-kms-objects and mpuoverview).
                "Action": ["kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:PrincipalOrgID": c.org_id, "kms:ViaService": via_s3},
                    "ArnLike": {"aws:PrincipalArn": format!("arn:aws:iam::*:role/{REPLICATION_ROLE}")},
                    "StringLike": {"kms:EncryptionContext:aws:s3:arn": s3_encryption_context(c.bucket, "${aws:PrincipalAccount}/*")}
                }
            },
            {
                "Sid": "OrganizationRestoreThroughS3",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:PrincipalOrgID": c.org_id, "kms:ViaService": via_s3},
                    "ArnLike": {"aws:PrincipalArn": [
                        format!("arn:aws:iam::*:role/{RESTORE_ROLE}"),
                        format!("arn:aws:iam::*:role/{BATCH_RESTORE_ROLE}")
                    ]},
                    "StringLike": {"kms:EncryptionContext:aws:s3:arn": s3_encryption_context(c.bucket, "${aws:PrincipalAccount}/*")}
                }
            }
        ]
    });
    if let (Some(enrolled), Some(statements)) = (c.enrolled, doc["Statement"].as_array_mut()) {
        statements.push(json!({
            "Sid": "OnlyEnrolledAccounts",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": "*",
            "Condition": {
                "Null": {"aws:PrincipalAccount": "false"},
                "StringNotEquals": {"aws:PrincipalAccount": with_central(c.account, enrolled)}
            }
        }));
    }
    if let (Some(role), Some(statements)) = (c.break_glass_role, doc["Statement"].as_array_mut()) {
        // The role administers the key by the key policy itself (no IAM policy needed), and
        // nobody else, the central account's admins included, may weaken it.
        statements.push(json!({
            "Sid": "BreakGlassAdministersTheKey",
            "Effect": "Allow",
            "Principal": {"AWS": role},
            "Action": "kms:*",
            "Resource": "*"
        }));
        statements.push(json!({
            "Sid": KEY_GUARD_SID,
            "Effect": "Deny",
            "Principal": "*",
            "Action": KEY_BREAK_GLASS_ACTIONS,
            "Resource": "*",
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": role}}
        }));
    }
    doc
}

/// [`CENTRAL_ONLY_ACTIONS`], without `s3:ReplicateDelete` when some accounts replicate delete
/// markers (their own Allow and Deny statements then govern it).
fn central_only_actions(c: &CentralInput<'_>) -> Vec<&'static str> {
    CENTRAL_ONLY_ACTIONS
        .iter()
        .copied()
        .filter(|a| c.replicating_deletes.is_empty() || *a != "s3:ReplicateDelete")
        .collect()
}

/// A source key's policy: the account administers it (its IAM policies then grant the replication role).
pub fn source_key_policy(account: &str) -> Value {
    json!({
        "Version": POLICY_VERSION,
        "Statement": [admin_statement(account)]
    })
}

fn admin_statement(account: &str) -> Value {
    json!({
        "Sid": "AccountAdministration",
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
        "Action": "kms:*",
        "Resource": "*"
    })
}

/// Bucket-level and object-level actions no principal outside the central account may take on central.
const CENTRAL_ONLY_ACTIONS: &[&str] = &[
    "s3:PutBucketVersioning",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutReplicationConfiguration",
    "s3:PutEncryptionConfiguration",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketAcl",
    "s3:DeleteBucket",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:PutObjectRetention",
    "s3:PutObjectLegalHold",
    "s3:BypassGovernanceRetention",
    "s3:ReplicateDelete",
];

/// The central bucket's policy: each organization account's replication role may write only under
/// its own id, its restore role may read and list only its own id, and nobody outside the central
/// account may administer the bucket or delete anything in it.
pub fn central_bucket_policy(c: &CentralInput<'_>) -> Value {
    let bucket = c.bucket;
    let own_prefix_objects = format!("arn:aws:s3:::{bucket}/${{aws:PrincipalAccount}}/*");
    let mut doc = json!({
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "ReplicateIntoOwnPrefix",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["s3:ReplicateObject", "s3:ReplicateTags", "s3:ObjectOwnerOverrideToBucketOwner"],
                "Resource": own_prefix_objects,
                "Condition": {"StringEquals": {
                    "aws:PrincipalOrgID": c.org_id,
                    "aws:PrincipalArn": own_role_arn(REPLICATION_ROLE)
                }}
            },
            {
                "Sid": "ReplicationChecksVersioning",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "s3:GetBucketVersioning",
                "Resource": format!("arn:aws:s3:::{bucket}"),
                "Condition": {"StringEquals": {
                    "aws:PrincipalOrgID": c.org_id,
                    "aws:PrincipalArn": own_role_arn(REPLICATION_ROLE)
                }}
            },
            {
                "Sid": "RestoreReadsOwnPrefix",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                // RestoreObject: a temporary readable copy of an archived version (no new version).
                "Action": [
                    "s3:GetObject",
                    "s3:GetObjectVersion",
                    "s3:GetObjectTagging",
                    "s3:GetObjectVersionTagging",
                    "s3:RestoreObject"
                ],
                "Resource": own_prefix_objects,
                "Condition": {"StringEquals": {
                    "aws:PrincipalOrgID": c.org_id,
                    "aws:PrincipalArn": [own_role_arn(RESTORE_ROLE), own_role_arn(BATCH_RESTORE_ROLE)]
                }}
            },
            {
                "Sid": "RestoreListsOwnPrefix",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["s3:ListBucket", "s3:ListBucketVersions"],
                "Resource": format!("arn:aws:s3:::{bucket}"),
                "Condition": {
                    "StringEquals": {
                        "aws:PrincipalOrgID": c.org_id,
                        "aws:PrincipalArn": own_role_arn(RESTORE_ROLE)
                    },
                    "StringLike": {"s3:prefix": "${aws:PrincipalAccount}/*"}
                }
            },
            {
                "Sid": "DenyOtherAccountsAdministration",
                "Effect": "Deny",
                "Principal": "*",
                "Action": central_only_actions(c),
                "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
                "Condition": {"StringNotEquals": {"aws:PrincipalAccount": c.account}}
            },
            // Replicas only under the central key (issue 18, finding 4): a source admin's own
            // rule with its own replica key, or SSE-C replicas, would make future backups
            // unreadable to central. ReplicateObject takes these condition keys (Service
            // Authorization Reference, Amazon S3, ReplicateObject); each Deny needs its key
            // present, the key id is matched as ARN or bare id, and SSE-S3 replicas (of SSE-S3
            // source objects, readable by central) are not refused.
            {
                "Sid": "ReplicasOnlyUnderTheCentralKey",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:ReplicateObject",
                "Resource": format!("arn:aws:s3:::{bucket}/*"),
                "Condition": {
                    "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"},
                    "StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": [
                        c.key_arn,
                        c.key_arn.rsplit('/').next().unwrap_or(c.key_arn)
                    ]}
                }
            },
            {
                "Sid": "NoCustomerKeyReplicas",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:ReplicateObject",
                "Resource": format!("arn:aws:s3:::{bucket}/*"),
                "Condition": {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}}
            },
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}
            }
        ]
    });
    if let (false, Some(statements)) = (
        c.replicating_deletes.is_empty(),
        doc["Statement"].as_array_mut(),
    ) {
        // Delete markers only (S3 never replicates a versioned delete: "Replicating delete
        // markers between buckets", Amazon S3 User Guide), only by the account's replication
        // role, only into its own prefix, only for the accounts that opted in.
        statements.push(json!({
            "Sid": "ReplicateDeleteMarkersIntoOwnPrefix",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "s3:ReplicateDelete",
            "Resource": own_prefix_objects,
            "Condition": {"StringEquals": {
                "aws:PrincipalOrgID": c.org_id,
                "aws:PrincipalArn": own_role_arn(REPLICATION_ROLE),
                "aws:PrincipalAccount": c.replicating_deletes
            }}
        }));
        statements.push(json!({
            "Sid": "OnlyOptedInAccountsReplicateDeletes",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:ReplicateDelete",
            "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
            "Condition": {"StringNotEquals": {"aws:PrincipalAccount": with_central(c.account, c.replicating_deletes)}}
        }));
    }
    if let (Some(enrolled), Some(statements)) = (c.enrolled, doc["Statement"].as_array_mut()) {
        // Any organization account's roles named like s3central's could otherwise replicate
        // into their own prefix, read it, and start archive retrievals central pays for.
        statements.push(json!({
            "Sid": "OnlyEnrolledAccounts",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ENROLLED_ONLY_ACTIONS,
            "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
            "Condition": {
                "Null": {"aws:PrincipalAccount": "false"},
                "StringNotEquals": {"aws:PrincipalAccount": with_central(c.account, enrolled)}
            }
        }));
    }
    if let (Some(role), Some(statements)) = (c.break_glass_role, doc["Statement"].as_array_mut()) {
        let actions: Vec<&str> = central_only_actions(c)
            .into_iter()
            .chain(BUCKET_BREAK_GLASS_EXTRA.iter().copied())
            .collect();
        statements.push(json!({
            "Sid": BUCKET_GUARD_SID,
            "Effect": "Deny",
            "Principal": "*",
            "Action": actions,
            "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": role}}
        }));
        if !c.replicating_deletes.is_empty() {
            // The guard leaves ReplicateDelete to the opted-in accounts' roles; in the central
            // account it stays the break-glass role's alone.
            statements.push(json!({
                "Sid": "OnlyBreakGlassReplicatesDeletesFromCentral",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:ReplicateDelete",
                "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
                "Condition": {
                    "ArnNotEquals": {"aws:PrincipalArn": role},
                    "StringEquals": {"aws:PrincipalAccount": c.account}
                }
            }));
        }
    }
    doc
}

/// The replication role's trust policy: S3 may assume it, for this account's buckets only.
///
/// The confused-deputy guard is `StringEqualsIfExists` on `aws:SourceAccount`: AWS's pages for
/// this role ("Setting up permissions for live replication") show no condition and do not say that
/// S3 sends the key when it assumes the role, so the guard refuses a request naming another
/// account and never one that names none (a plain `StringEquals` on an absent key would stop every
/// replication).
pub fn replication_trust_policy(account: &str) -> Value {
    json!({
        "Version": POLICY_VERSION,
        "Statement": [{
            "Sid": "S3AssumesReplicationRole",
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEqualsIfExists": {"aws:SourceAccount": account}}
        }]
    })
}

/// The restore role's trust policy: the principals the config names (by default the central
/// account; config validation keeps them in the central account), and only while they are in
/// the organization.
pub fn restore_trust_policy(trusted: &[String], org_id: &str) -> Value {
    json!({
        "Version": POLICY_VERSION,
        "Statement": [{
            "Sid": "TrustedPrincipalsRestore",
            "Effect": "Allow",
            "Principal": {"AWS": trusted},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": org_id}}
        }]
    })
}

/// The account of an IAM principal ARN (`arn:aws:iam::<account>:...`), if it is one.
fn principal_account(arn: &str) -> Option<&str> {
    let account = arn.strip_prefix("arn:aws:iam::")?.split(':').next()?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

/// Restore principals must be principals of the central account: a restore role that trusts
/// another account lets that account (a source admin, T1) read this account's backups and write
/// its bucket. Gives the first principal that is not, if any.
pub fn foreign_restore_principal<'a>(trusted: &'a [String], central: &str) -> Option<&'a str> {
    trusted
        .iter()
        .find(|p| principal_account(p) != Some(central))
        .map(String::as_str)
}

/// The trust policy of the account's two Batch Operations roles: S3 Batch Operations may assume
/// them, for this account's jobs only (the same `IfExists` guard as [`replication_trust_policy`],
/// for the same reason: "Granting permissions for Batch Operations" shows no condition).
pub fn batch_replication_trust_policy(account: &str) -> Value {
    json!({
        "Version": POLICY_VERSION,
        "Statement": [{
            "Sid": "BatchOperationsAssumesRole",
            "Effect": "Allow",
            "Principal": {"Service": "batchoperations.s3.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEqualsIfExists": {"aws:SourceAccount": account}}
        }]
    })
}

/// The batch replication role's inline policy (AWS S3 User Guide, "Configuring an IAM role for S3
/// Batch Replication", manifest generated by S3 and not stored): start replication of the
/// account's objects, read the rule and generate the manifest, write the completion report.
pub fn batch_replication_role_policy(account: &str, source_bucket: &str) -> Value {
    json!({
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "InitiateReplicationOfOwnPrefix",
                "Effect": "Allow",
                "Action": "s3:InitiateReplication",
                "Resource": format!("arn:aws:s3:::{source_bucket}/{account}/*")
            },
            {
                "Sid": "GenerateManifest",
                "Effect": "Allow",
                "Action": ["s3:GetReplicationConfiguration", "s3:PutInventoryConfiguration"],
                "Resource": format!("arn:aws:s3:::{source_bucket}")
            },
            {
                "Sid": "WriteCompletionReport",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": format!("arn:aws:s3:::{source_bucket}/{}/*", backfill_report_prefix(account))
            }
        ]
    })
}

/// Decrypting central objects of the account's own prefix, only through S3 in the central region.
fn decrypt_central_statement(input: &RolePolicyInput<'_>) -> Value {
    json!({
        "Sid": "DecryptCentral",
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": input.central_key_arn,
        "Condition": {"StringEquals": {
            "kms:ViaService": format!("s3.{}.amazonaws.com", input.central_region)
        }, "StringLike": {
            "kms:EncryptionContext:aws:s3:arn": s3_encryption_context(input.central_bucket, &format!("{}/*", input.account))
        }}
    })
}

/// Encrypting (and, for multipart, decrypting) with the account's own key for its own bucket,
/// only through S3 in the bucket's region.
fn encrypt_with_own_key_statement(input: &RolePolicyInput<'_>) -> Value {
    json!({
        "Sid": "EncryptWithOwnKey",
        "Effect": "Allow",
        "Action": ["kms:GenerateDataKey", "kms:Encrypt", "kms:Decrypt"],
        "Resource": input.source_key_arn,
        "Condition": {"StringEquals": {
            "kms:ViaService": format!("s3.{}.amazonaws.com", input.source_region)
        }, "StringLike": {
            "kms:EncryptionContext:aws:s3:arn": s3_encryption_context(input.source_bucket, "*")
        }}
    })
}

/// The batch restore role's inline policy: what S3PutObjectCopy does for each task (read the
/// version in the account's own prefix of central, decrypting through S3; write it into the
/// account's own bucket under its own key) plus reading the manifest and writing the completion
/// report, both in that bucket (AWS S3 User Guide, "Granting permissions for Batch Operations",
/// Copy objects).
pub fn batch_restore_role_policy(input: &RolePolicyInput<'_>) -> Value {
    let RolePolicyInput {
        account,
        source_bucket,
        central_bucket,
        ..
    } = *input;
    json!({
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "ReadOwnPrefixInCentral",
                "Effect": "Allow",
                "Action": [
                    "s3:GetObject",
                    "s3:GetObjectVersion",
                    "s3:GetObjectTagging",
                    "s3:GetObjectVersionTagging"
                ],
                "Resource": format!("arn:aws:s3:::{central_bucket}/{account}/*")
            },
            decrypt_central_statement(input),
            {
                "Sid": "CopyIntoOwnBucket",
                "Effect": "Allow",
                "Action": [
                    "s3:PutObject",
                    "s3:PutObjectTagging",
                    "s3:GetObject",
                    "s3:GetObjectVersion"
                ],
                "Resource": format!("arn:aws:s3:::{source_bucket}/*")
            },
            encrypt_with_own_key_statement(input)
        ]
    })
}

/// What the replication role's permissions depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RolePolicyInput<'a> {
    /// The source account id (also the replicated prefix).
    pub account: &'a str,
    /// The source bucket.
    pub source_bucket: &'a str,
    /// The central bucket.
    pub central_bucket: &'a str,
    /// The full ARN of the source bucket's key.
    pub source_key_arn: &'a str,
    /// The full ARN of the central key.
    pub central_key_arn: &'a str,
    /// The source bucket's region.
    pub source_region: &'a str,
    /// The central bucket's region.
    pub central_region: &'a str,
    /// Whether the account's rule replicates delete markers (the role then needs
    /// `s3:ReplicateDelete` into its own prefix).
    pub replicate_deletes: bool,
}

/// The replication role's inline policy: read the account's prefix in the source, write it into central.
pub fn replication_role_policy(input: &RolePolicyInput<'_>) -> Value {
    let RolePolicyInput {
        account,
        source_bucket,
        central_bucket,
        source_key_arn,
        central_key_arn,
        source_region,
        central_region,
        replicate_deletes,
    } = *input;
    let mut replicate_actions = vec![
        "s3:ReplicateObject",
        "s3:ReplicateTags",
        "s3:ObjectOwnerOverrideToBucketOwner",
    ];
    if replicate_deletes {
        replicate_actions.push("s3:ReplicateDelete");
    }
    json!({
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "ReadSourceBucket",
                "Effect": "Allow",
                "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                "Resource": format!("arn:aws:s3:::{source_bucket}")
            },
            {
                "Sid": "ReadSourceVersions",
                "Effect": "Allow",
                "Action": [
                    "s3:GetObjectVersionForReplication",
                    "s3:GetObjectVersionAcl",
                    "s3:GetObjectVersionTagging"
                ],
                "Resource": format!("arn:aws:s3:::{source_bucket}/{account}/*")
            },
            {
                "Sid": "ReplicateIntoCentral",
                "Effect": "Allow",
                "Action": replicate_actions,
                "Resource": format!("arn:aws:s3:::{central_bucket}/{account}/*")
            },
            {
                "Sid": "DecryptSource",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": source_key_arn,
                "Condition": {"StringLike": {
                    "kms:ViaService": format!("s3.{source_region}.amazonaws.com"),
                    // Objects under the account prefix, or the bucket itself when S3 Bucket Keys
                    // are on (the encryption context is then the bucket ARN).
                    "kms:EncryptionContext:aws:s3:arn": [
                        format!("arn:aws:s3:::{source_bucket}"),
                        format!("arn:aws:s3:::{source_bucket}/{account}/*")
                    ]
                }}
            },
            {
                "Sid": "EncryptCentral",
                "Effect": "Allow",
                // Decrypt too: S3 Bucket Keys and multipart writes need it (see central_key_policy).
                "Action": ["kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": central_key_arn,
                "Condition": {"StringLike": {
                    "kms:ViaService": format!("s3.{central_region}.amazonaws.com"),
                    "kms:EncryptionContext:aws:s3:arn": [
                        format!("arn:aws:s3:::{central_bucket}"),
                        format!("arn:aws:s3:::{central_bucket}/{account}/*")
                    ]
                }}
            }
        ]
    })
}

/// The restore role's inline policy: read and list only the account's own prefix in central
/// (decrypting through S3 in the central region), and write restored objects into the account's
/// own bucket encrypted with its own key, so one identity can copy server-side.
pub fn restore_role_policy(input: &RolePolicyInput<'_>) -> Value {
    let RolePolicyInput {
        account,
        source_bucket,
        central_bucket,
        source_key_arn,
        ..
    } = *input;
    json!({
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "ListOwnPrefixInCentral",
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:ListBucketVersions"],
                "Resource": format!("arn:aws:s3:::{central_bucket}"),
                "Condition": {"StringLike": {"s3:prefix": format!("{account}/*")}}
            },
            {
                "Sid": "ReadOwnPrefixInCentral",
                "Effect": "Allow",
                "Action": [
                    "s3:GetObject",
                    "s3:GetObjectVersion",
                    "s3:GetObjectTagging",
                    "s3:GetObjectVersionTagging",
                    "s3:RestoreObject"
                ],
                "Resource": format!("arn:aws:s3:::{central_bucket}/{account}/*")
            },
            decrypt_central_statement(input),
            {
                "Sid": "InspectOwnBucket",
                "Effect": "Allow",
                "Action": [
                    "s3:ListBucket",
                    "s3:ListBucketVersions",
                    "s3:GetBucketVersioning",
                    "s3:GetEncryptionConfiguration",
                    "s3:ListBucketMultipartUploads"
                ],
                "Resource": format!("arn:aws:s3:::{source_bucket}")
            },
            {
                "Sid": "WriteOwnBucket",
                "Effect": "Allow",
                "Action": [
                    "s3:PutObject",
                    "s3:PutObjectTagging",
                    "s3:GetObject",
                    "s3:GetObjectVersion",
                    "s3:GetObjectTagging",
                    "s3:GetObjectVersionTagging",
                    "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts"
                ],
                "Resource": format!("arn:aws:s3:::{source_bucket}/*")
            },
            encrypt_with_own_key_statement(input),
            {
                "Sid": "CheckOwnKey",
                "Effect": "Allow",
                "Action": "kms:DescribeKey",
                "Resource": source_key_arn
            },
            // `restore --engine batch` as this role: create (copy jobs only), find and follow
            // the job, and pass it the batch restore role, to S3 Batch Operations only ("The
            // same entity that creates the job must also have the iam:PassRole permission":
            // S3 User Guide, Granting permissions for Batch Operations).
            {
                "Sid": "RunCopyJobs",
                "Effect": "Allow",
                "Action": "s3:CreateJob",
                "Resource": "*",
                "Condition": {"StringEquals": {"s3:RequestJobOperation": "S3PutObjectCopy"}}
            },
            {
                "Sid": "FollowJobs",
                "Effect": "Allow",
                "Action": ["s3:DescribeJob", "s3:ListJobs"],
                "Resource": "*"
            },
            {
                "Sid": "PassTheBatchRestoreRole",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": format!("arn:aws:iam::{account}:role/{BATCH_RESTORE_ROLE}"),
                "Condition": {"StringEquals": {"iam:PassedToService": "batchoperations.s3.amazonaws.com"}}
            },
            // Whoever assumes the role writes only what the account's own key can read back:
            // no other KMS key, no SSE-S3, no customer-provided key (an attacker's key would
            // make the restored objects unreadable). Each Deny needs its header present (Null
            // false): parts (UploadPart, UploadPartCopy) carry no encryption headers, their
            // upload was created under the key, and a negated operator alone matches a missing
            // key.
            {
                "Sid": "DenyEncryptionOtherThanKms",
                "Effect": "Deny",
                "Action": "s3:PutObject",
                "Resource": format!("arn:aws:s3:::{source_bucket}/*"),
                "Condition": {
                    "Null": {"s3:x-amz-server-side-encryption": "false"},
                    "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}
                }
            },
            {
                "Sid": "DenyAnotherKmsKey",
                "Effect": "Deny",
                "Action": "s3:PutObject",
                "Resource": format!("arn:aws:s3:::{source_bucket}/*"),
                "Condition": {
                    "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"},
                    "StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": source_key_arn}
                }
            },
            {
                "Sid": "DenyCustomerProvidedKeys",
                "Effect": "Deny",
                "Action": "s3:PutObject",
                "Resource": format!("arn:aws:s3:::{source_bucket}/*"),
                "Condition": {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}}
            }
        ]
    })
}

/// The desired replication rule of a source bucket; the caller converts it to SDK types.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReplicationRule {
    /// Rule id, `s3central-<account>`.
    pub id: String,
    /// Rule priority.
    pub priority: i32,
    /// Filter prefix, `<account>/`.
    pub prefix: String,
    /// Whether delete markers are replicated (`replicate_deletes`; off by default).
    pub delete_marker_replication: bool,
    /// Whether SSE-KMS encrypted objects are replicated.
    pub sse_kms_encrypted_objects: bool,
    /// The central bucket's ARN.
    pub destination_bucket_arn: String,
    /// The central account (the replicas' owner).
    pub destination_account: String,
    /// Whether replica ownership goes to the destination (`Owner=Destination`).
    pub owner_override: bool,
    /// The central key's full ARN that encrypts replicas.
    pub replica_kms_key_id: String,
    /// The replicas' storage class.
    pub storage_class: String,
    /// Whether Replication Time Control is on (ReplicationTime and Metrics at 15 minutes).
    pub replication_time_control: bool,
    /// Whether S3 Replication metrics are on (with RTC always; without it, for the failure
    /// events of the alerts, which need them).
    pub metrics: bool,
}

impl ReplicationRule {
    /// The minutes of Replication Time Control's promise (its ReplicationTime).
    pub const RTC_MINUTES: i32 = 15;

    /// The metrics' event threshold in minutes: only with Replication Time Control (S3 refuses
    /// a threshold without it; OperationMissedThreshold belongs to RTC).
    pub fn event_threshold(&self) -> Option<i32> {
        (self.metrics && self.replication_time_control).then_some(Self::RTC_MINUTES)
    }
}

/// What the replication rule depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleInput<'a> {
    /// The source account id.
    pub account: &'a str,
    /// The central bucket.
    pub central_bucket: &'a str,
    /// The central account id.
    pub central_account: &'a str,
    /// The central key's full ARN (never an alias).
    pub central_key_arn: &'a str,
    /// The replicas' storage class.
    pub storage_class: &'a str,
    /// Whether to use Replication Time Control.
    pub replication_time_control: bool,
    /// Whether delete markers are replicated (`replicate_deletes`).
    pub replicate_deletes: bool,
    /// Whether the bucket tells the alerts topic of failed replications (`alerts_topic`): the
    /// rule then needs S3 Replication metrics.
    pub alerts: bool,
}

/// Whether a text is a full KMS key ARN (`arn:aws:kms:<region>:<account>:key/<id>`), as replication requires.
pub fn is_key_arn(arn: &str) -> bool {
    arn.starts_with("arn:aws:kms:")
        && arn
            .split_once(":key/")
            .is_some_and(|(_, id)| !id.is_empty())
}

/// The replication rule that copies `<account>/` of a source bucket into the central bucket.
///
/// `central_key_arn` is copied as given: the plan may pass a placeholder for a key not created
/// yet, so check it with [`is_key_arn`] before writing the rule (S3 needs the full ARN, never an alias).
pub fn replication_rule(input: &RuleInput<'_>) -> ReplicationRule {
    ReplicationRule {
        id: format!("s3central-{}", input.account),
        priority: 1,
        prefix: format!("{}/", input.account),
        delete_marker_replication: input.replicate_deletes,
        sse_kms_encrypted_objects: true,
        destination_bucket_arn: format!("arn:aws:s3:::{}", input.central_bucket),
        destination_account: input.central_account.to_owned(),
        owner_override: true,
        replica_kms_key_id: input.central_key_arn.to_owned(),
        storage_class: input.storage_class.to_owned(),
        replication_time_control: input.replication_time_control,
        metrics: input.replication_time_control || input.alerts,
    }
}

/// The id of s3central's topic configuration among a source bucket's event notifications.
pub const ALERTS_NOTIFICATION_ID: &str = "s3central-replication-alerts";

/// The replication events a source bucket sends the alerts topic ("Receiving replication failure
/// events with Amazon S3 Event Notifications", Amazon S3 User Guide): a failed replication
/// (needs S3 Replication metrics on the rule) and, with Replication Time Control, one that missed
/// its 15 minutes.
pub fn replication_alert_events(replication_time_control: bool) -> Vec<&'static str> {
    let mut events = vec!["s3:Replication:OperationFailedReplication"];
    if replication_time_control {
        events.push("s3:Replication:OperationMissedThreshold");
    }
    events
}

/// The alerts topic of the central account in a region (S3 notifies only a topic in the
/// bucket's own region: "Amazon S3 Event Notifications", destinations).
pub fn alerts_topic_arn(region: &str, central_account: &str, name: &str) -> String {
    format!("arn:aws:sns:{region}:{central_account}:{name}")
}

/// The Sid of the alerts topic's Deny that keeps the topic for the break-glass role.
pub const ALERTS_GUARD_SID: &str = "OnlyBreakGlassChangesTheAlerts";

/// What only the break-glass role may do to an alerts topic: delete it, re-policy it, or grant or
/// revoke access to it (each would silence the alerts).
const TOPIC_BREAK_GLASS_ACTIONS: &[&str] = &[
    "SNS:DeleteTopic",
    "SNS:SetTopicAttributes",
    "SNS:AddPermission",
    "SNS:RemovePermission",
];

/// The alerts topic's policy: S3 may publish to it for the buckets of the accounts setup knows
/// (`aws:SourceAccount`, as "Granting permissions to publish event notification messages to a
/// destination" documents it) and, for accounts a StackSet adds later, of any account of the
/// organization (`aws:SourceOrgID`, a global condition key for service principals that AWS does
/// not document for S3 event notifications in particular: not proven here). Buckets only. With a
/// break-glass role, only it may delete the topic or change who may use it: a pipeline holding
/// the central account's credentials cannot silence the alerts.
pub fn alerts_topic_policy(
    topic_arn: &str,
    org_id: &str,
    accounts: &[String],
    break_glass_role: Option<&str>,
) -> Value {
    let statement = |sid: &str, key: &str, value: Value| {
        json!({
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "SNS:Publish",
            "Resource": topic_arn,
            "Condition": {
                "StringEquals": {key: value},
                "ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}
            }
        })
    };
    let mut statements = vec![statement(
        "OrganizationBucketsTellOfReplication",
        "aws:SourceOrgID",
        json!(org_id),
    )];
    if !accounts.is_empty() {
        statements.push(statement(
            "SetUpAccountsTellOfReplication",
            "aws:SourceAccount",
            json!(accounts),
        ));
    }
    if let Some(role) = break_glass_role {
        statements.push(json!({
            "Sid": ALERTS_GUARD_SID,
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": TOPIC_BREAK_GLASS_ACTIONS,
            "Resource": topic_arn,
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": role}}
        }));
    }
    json!({"Version": POLICY_VERSION, "Statement": statements})
}

/// A normal form of a policy document, so that equivalent documents compare equal.
///
/// Object key order is ignored; arrays of strings are sets (sorted, deduplicated) and a
/// one-element array equals its element; `Statement` is always an array, sorted by `Sid`
/// (then by content); `{"AWS": "*"}` principals equal `"*"`, bare account ids equal their
/// root ARN; condition values that are booleans or numbers equal their text.
pub fn canonical(v: &Value) -> Value {
    canonical_in(v, Ctx::Other)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Other,
    Principal,
    PrincipalAws,
    Condition,
}

fn canonical_in(v: &Value, ctx: Ctx) -> Value {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for key in keys {
                let Some(value) = map.get(key) else { continue };
                let value = match key.as_str() {
                    "Statement" if ctx == Ctx::Other => canonical_statements(value),
                    "Principal" | "NotPrincipal" if ctx == Ctx::Other => {
                        canonical_in(value, Ctx::Principal)
                    }
                    "AWS" if ctx == Ctx::Principal => canonical_in(value, Ctx::PrincipalAws),
                    "Condition" if ctx == Ctx::Other => canonical_in(value, Ctx::Condition),
                    _ => canonical_in(value, ctx),
                };
                out.insert(key.clone(), value);
            }
            if ctx == Ctx::Principal && out.len() == 1 && out.get("AWS") == Some(&json!("*")) {
                return json!("*");
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            let items: Vec<Value> = items.iter().map(|i| canonical_in(i, ctx)).collect();
            if items.iter().all(Value::is_string) {
                let mut strings: Vec<String> = items
                    .into_iter()
                    .filter_map(|i| match i {
                        Value::String(s) => Some(s),
                        _ => None,
                    })
                    .collect();
                strings.sort();
                strings.dedup();
                if strings.len() == 1 {
                    return strings
                        .into_iter()
                        .map(Value::String)
                        .next()
                        .unwrap_or_default();
                }
                Value::Array(strings.into_iter().map(Value::String).collect())
            } else if items.len() == 1 {
                items.into_iter().next().unwrap_or_default()
            } else {
                Value::Array(items)
            }
        }
        Value::String(s) if ctx == Ctx::PrincipalAws => {
            if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
                Value::String(format!("arn:aws:iam::{s}:root"))
            } else {
                v.clone()
            }
        }
        Value::Bool(b) if ctx == Ctx::Condition => Value::String(b.to_string()),
        Value::Number(n) if ctx == Ctx::Condition => Value::String(n.to_string()),
        _ => v.clone(),
    }
}

fn canonical_statements(v: &Value) -> Value {
    let statements: Vec<&Value> = match v {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut keyed: Vec<(String, String, Value)> = statements
        .into_iter()
        .map(|s| {
            let c = canonical_in(s, Ctx::Other);
            let sid = c
                .get("Sid")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            (sid, c.to_string(), c)
        })
        .collect();
    keyed.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    Value::Array(keyed.into_iter().map(|(_, _, c)| c).collect())
}

/// Parses a policy as AWS returns it: plain JSON, or URL-encoded JSON (IAM role documents).
pub fn parse_policy(text: &str) -> Result<Value, String> {
    let trimmed = text.trim();
    let looks_encoded = !trimmed.starts_with('{')
        && (trimmed
            .get(..3)
            .is_some_and(|p| p.eq_ignore_ascii_case("%7B"))
            || trimmed.contains("%22"));
    let decoded;
    let json = if looks_encoded {
        decoded = percent_encoding::percent_decode_str(trimmed)
            .decode_utf8()
            .map_err(|e| format!("the URL-encoded policy is not UTF-8 once decoded: {e}"))?;
        decoded.as_ref()
    } else {
        trimmed
    };
    serde_json::from_str(json).map_err(|e| format!("the policy is not valid JSON: {e}"))
}

/// Whether a policy text returned by AWS is equivalent to the desired document.
pub fn same_policy(actual: &str, desired: &Value) -> bool {
    parse_policy(actual).is_ok_and(|a| canonical(&a) == canonical(desired))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CENTRAL_ACCOUNT: &str = "123456789012";
    const ORG: &str = "o-exampleorg1";
    const CENTRAL_BUCKET: &str = "acme-s3central";
    const ACCOUNT: &str = "111111111111";
    const SOURCE_BUCKET: &str = "acme-data-111111111111";
    const CENTRAL_KEY: &str =
        "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000";
    const SOURCE_KEY: &str =
        "arn:aws:kms:eu-west-1:111111111111:key/11111111-1111-1111-1111-111111111111";

    fn role_input() -> RolePolicyInput<'static> {
        RolePolicyInput {
            replicate_deletes: false,
            account: ACCOUNT,
            source_bucket: SOURCE_BUCKET,
            central_bucket: CENTRAL_BUCKET,
            source_key_arn: SOURCE_KEY,
            central_key_arn: CENTRAL_KEY,
            source_region: "eu-west-1",
            central_region: "us-east-1",
        }
    }

    fn central_input() -> CentralInput<'static> {
        CentralInput {
            replicating_deletes: &[],
            account: CENTRAL_ACCOUNT,
            org_id: ORG,
            bucket: CENTRAL_BUCKET,
            region: "us-east-1",
            key_arn: CENTRAL_KEY,
            enrolled: None,
            break_glass_role: None,
        }
    }

    fn rule_input() -> RuleInput<'static> {
        RuleInput {
            replicate_deletes: false,
            account: ACCOUNT,
            central_bucket: CENTRAL_BUCKET,
            central_account: CENTRAL_ACCOUNT,
            central_key_arn: CENTRAL_KEY,
            storage_class: "STANDARD_IA",
            replication_time_control: true,
            alerts: false,
        }
    }

    /// Compares a document with its snapshot; with `UPDATE_SNAPSHOTS=1` rewrites the snapshot instead.
    fn check_snapshot(name: &str, snapshot: &str, actual: &Value) {
        let pretty = serde_json::to_string_pretty(actual).unwrap() + "\n";
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
            // file!() is relative to the crate root, or absolute when the module is included by path.
            let source = std::path::Path::new(file!());
            let source = if source.is_absolute() {
                source.to_path_buf()
            } else {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(source)
            };
            let dir = source.parent().unwrap().join("snapshots");
            std::fs::write(dir.join(format!("{name}.json")), &pretty).unwrap();
            return;
        }
        let expected: Value = serde_json::from_str(snapshot).unwrap();
        assert_eq!(
            &expected, actual,
            "snapshot {name}.json differs; the document is now:\n{pretty}\n(rerun with UPDATE_SNAPSHOTS=1 to accept)"
        );
    }

    #[test]
    fn snapshot_central_key_policy() {
        check_snapshot(
            "central_key_policy",
            include_str!("snapshots/central_key_policy.json"),
            &central_key_policy(&central_input()),
        );
    }

    #[test]
    fn snapshot_central_policies_with_a_break_glass_role() {
        let guarded = CentralInput {
            break_glass_role: Some("arn:aws:iam::123456789012:role/s3central-break-glass"),
            ..central_input()
        };
        check_snapshot(
            "central_key_policy_break_glass",
            include_str!("snapshots/central_key_policy_break_glass.json"),
            &central_key_policy(&guarded),
        );
        check_snapshot(
            "central_bucket_policy_break_glass",
            include_str!("snapshots/central_bucket_policy_break_glass.json"),
            &central_bucket_policy(&guarded),
        );
    }

    #[test]
    fn snapshot_documents_when_an_account_replicates_deletes() {
        let deleting = [ACCOUNT.to_owned()];
        let guarded = CentralInput {
            break_glass_role: Some("arn:aws:iam::123456789012:role/s3central-break-glass"),
            replicating_deletes: &deleting,
            ..central_input()
        };
        check_snapshot(
            "central_bucket_policy_replicating_deletes",
            include_str!("snapshots/central_bucket_policy_replicating_deletes.json"),
            &central_bucket_policy(&guarded),
        );
        let role = replication_role_policy(&RolePolicyInput {
            replicate_deletes: true,
            ..role_input()
        });
        let replicate = statements(&role)
            .into_iter()
            .find(|s| s["Sid"] == "ReplicateIntoCentral")
            .unwrap();
        assert!(actions(&replicate).contains(&"s3:ReplicateDelete".to_owned()));
        assert_eq!(
            replicate["Resource"],
            json!(format!("arn:aws:s3:::{CENTRAL_BUCKET}/{ACCOUNT}/*"))
        );
        let rule = replication_rule(&RuleInput {
            replicate_deletes: true,
            ..rule_input()
        });
        assert!(rule.delete_marker_replication);
        // No account opted in: the documents are the ones without the setting.
        let off = CentralInput {
            replicating_deletes: &[],
            ..guarded
        };
        assert!(!central_bucket_policy(&off)
            .to_string()
            .contains("ReplicateDeleteMarkers"));
    }

    #[test]
    fn snapshot_source_key_policy() {
        check_snapshot(
            "source_key_policy",
            include_str!("snapshots/source_key_policy.json"),
            &source_key_policy(ACCOUNT),
        );
    }

    #[test]
    fn snapshot_central_bucket_policy() {
        check_snapshot(
            "central_bucket_policy",
            include_str!("snapshots/central_bucket_policy.json"),
            &central_bucket_policy(&central_input()),
        );
    }

    #[test]
    fn snapshot_replication_trust_policy() {
        check_snapshot(
            "replication_trust_policy",
            include_str!("snapshots/replication_trust_policy.json"),
            &replication_trust_policy(ACCOUNT),
        );
    }

    #[test]
    fn snapshot_replication_role_policy() {
        check_snapshot(
            "replication_role_policy",
            include_str!("snapshots/replication_role_policy.json"),
            &replication_role_policy(&role_input()),
        );
    }

    #[test]
    fn snapshot_restore_role_policy() {
        check_snapshot(
            "restore_role_policy",
            include_str!("snapshots/restore_role_policy.json"),
            &restore_role_policy(&role_input()),
        );
    }

    #[test]
    fn snapshot_restore_trust_policy() {
        check_snapshot(
            "restore_trust_policy",
            include_str!("snapshots/restore_trust_policy.json"),
            &restore_trust_policy(&[format!("arn:aws:iam::{CENTRAL_ACCOUNT}:root")], ORG),
        );
    }

    #[test]
    fn snapshot_batch_replication_role_policy() {
        check_snapshot(
            "batch_replication_role_policy",
            include_str!("snapshots/batch_replication_role_policy.json"),
            &batch_replication_role_policy(ACCOUNT, SOURCE_BUCKET),
        );
    }

    #[test]
    fn snapshot_batch_restore_role_policy() {
        check_snapshot(
            "batch_restore_role_policy",
            include_str!("snapshots/batch_restore_role_policy.json"),
            &batch_restore_role_policy(&role_input()),
        );
    }

    #[test]
    fn snapshot_replication_rule() {
        check_snapshot(
            "replication_rule",
            include_str!("snapshots/replication_rule.json"),
            &serde_json::to_value(replication_rule(&rule_input())).unwrap(),
        );
    }

    #[test]
    fn listed_enrollment_names_the_accounts_once_and_fits_about_800() {
        let enrolled: Vec<String> = (0..800)
            .map(|i| format!("{:012}", 100_000_000_000u64 + i))
            .collect();
        let listed = CentralInput {
            enrolled: Some(&enrolled),
            break_glass_role: Some("arn:aws:iam::123456789012:role/s3central-break-glass"),
            ..central_input()
        };
        let bucket = central_bucket_policy(&listed);
        let deny: Vec<Value> = statements(&bucket)
            .into_iter()
            .filter(|s| s["Sid"] == "OnlyEnrolledAccounts")
            .collect();
        assert_eq!(deny.len(), 1);
        let named = deny[0]["Condition"]["StringNotEquals"]["aws:PrincipalAccount"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(named, 801, "the enrolled accounts and central");
        let size = bucket.to_string().len();
        assert!(size <= MAX_BUCKET_POLICY_BYTES, "{size} bytes");
        let more: Vec<String> = (0..1500)
            .map(|i| format!("{:012}", 100_000_000_000u64 + i))
            .collect();
        let too_many = central_bucket_policy(&CentralInput {
            enrolled: Some(&more),
            ..listed
        });
        assert!(too_many.to_string().len() > MAX_BUCKET_POLICY_BYTES);
        assert!(statements(&central_key_policy(&listed))
            .iter()
            .any(|s| s["Sid"] == "OnlyEnrolledAccounts"));
        assert!(!statements(&central_bucket_policy(&central_input()))
            .iter()
            .any(|s| s["Sid"] == "OnlyEnrolledAccounts"));
    }

    #[test]
    fn sessions_of_the_break_glass_role_are_recognised() {
        let role = "arn:aws:iam::123456789012:role/ir/s3central-break-glass";
        assert!(is_session_of(
            "arn:aws:sts::123456789012:assumed-role/s3central-break-glass/alice",
            role
        ));
        assert!(is_session_of(role, role));
        for other in [
            "arn:aws:sts::123456789012:assumed-role/Admin/alice",
            "arn:aws:sts::999999999999:assumed-role/s3central-break-glass/x",
            "arn:aws:iam::123456789012:user/s3central-break-glass",
            "arn:aws:iam::123456789012:root",
        ] {
            assert!(!is_session_of(other, role), "{other}");
        }
    }

    #[test]
    fn guard_statements_are_found_in_actual_policies() {
        let guarded = central_bucket_policy(&CentralInput {
            break_glass_role: Some("arn:aws:iam::123456789012:role/bg"),
            ..central_input()
        });
        let text = guarded.to_string();
        assert!(has_statement(Some(&text), BUCKET_GUARD_SID));
        let plain = central_bucket_policy(&central_input()).to_string();
        assert!(!has_statement(Some(&plain), BUCKET_GUARD_SID));
        assert!(!has_statement(None, BUCKET_GUARD_SID));
        assert!(!has_statement(Some("not json"), BUCKET_GUARD_SID));
        assert_eq!(
            guard_role(Some(&text), BUCKET_GUARD_SID).as_deref(),
            Some("arn:aws:iam::123456789012:role/bg")
        );
        assert_eq!(guard_role(Some(&plain), BUCKET_GUARD_SID), None);
    }

    #[test]
    fn restore_principals_outside_the_central_account_are_found() {
        let central = |p: &str| format!("arn:aws:iam::{CENTRAL_ACCOUNT}:{p}");
        let ok = vec![central("root"), central("role/ir/responder")];
        assert_eq!(foreign_restore_principal(&ok, CENTRAL_ACCOUNT), None);
        let mut bad = ok.clone();
        bad.push("arn:aws:iam::999999999999:role/x".into());
        assert_eq!(
            foreign_restore_principal(&bad, CENTRAL_ACCOUNT),
            Some("arn:aws:iam::999999999999:role/x")
        );
        let odd = vec!["arn:aws:iam::*:root".to_owned()];
        assert!(foreign_restore_principal(&odd, CENTRAL_ACCOUNT).is_some());
    }

    #[test]
    fn canonical_collapses_single_element_arrays_and_ignores_order() {
        let a = json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "B", "Effect": "Allow", "Action": "s3:X", "Resource": ["r2", "r1"]},
            {"Sid": "A", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": ["s3:Y", "s3:Z"],
             "Condition": {"Bool": {"aws:SecureTransport": false}}}
        ]});
        let b = json!({"Statement": [
            {"Principal": "*", "Action": ["s3:Z", "s3:Y"], "Sid": "A", "Effect": "Deny",
             "Condition": {"Bool": {"aws:SecureTransport": ["false"]}}},
            {"Resource": ["r1", "r2"], "Action": ["s3:X"], "Effect": "Allow", "Sid": "B"}
        ], "Version": "2012-10-17"});
        assert_eq!(canonical(&a), canonical(&b));
        let c = json!({"Version": "2012-10-17", "Statement": {"Sid": "A", "Effect": "Allow",
            "Principal": {"AWS": ["123456789012"]}, "Action": "kms:*"}});
        let d = json!({"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": ["kms:*"]}]});
        assert_eq!(canonical(&c), canonical(&d));
        assert_ne!(
            canonical(&json!({"Action": ["s3:X", "s3:Y"]})),
            canonical(&json!({"Action": "s3:X"}))
        );
    }

    #[test]
    fn same_policy_against_aws_forms() {
        let desired = replication_trust_policy("111122223333");
        let aws = r#"{"Version":"2012-10-17","Statement":{"Sid":"S3AssumesReplicationRole","Effect":"Allow","Principal":{"Service":["s3.amazonaws.com"]},"Action":["sts:AssumeRole"],"Condition":{"StringEqualsIfExists":{"aws:SourceAccount":["111122223333"]}}}}"#;
        assert!(same_policy(aws, &desired));
        let encoded =
            percent_encoding::utf8_percent_encode(aws, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        assert!(same_policy(&encoded, &desired));
        assert!(!same_policy(
            &aws.replace("s3.amazonaws.com", "ec2.amazonaws.com"),
            &desired
        ));
        assert!(!same_policy("not json", &desired));
        assert!(parse_policy("%7B%22a")
            .unwrap_err()
            .contains("not valid JSON"));
    }

    #[test]
    fn replication_rule_fields() {
        let rule = replication_rule(&rule_input());
        assert_eq!(rule.id, "s3central-111111111111");
        assert_eq!(rule.prefix, "111111111111/");
        assert!(!rule.delete_marker_replication);
        assert!(rule.owner_override);
        assert!(is_key_arn(&rule.replica_kms_key_id));
        assert!(!is_key_arn("alias/s3central"));
        assert!(!is_key_arn(
            "arn:aws:kms:us-east-1:123456789012:alias/s3central"
        ));
        assert!(!is_key_arn("00000000-0000-0000-0000-000000000000"));
    }

    fn statements(doc: &Value) -> Vec<Value> {
        doc["Statement"].as_array().cloned().unwrap_or_default()
    }

    fn actions(statement: &Value) -> Vec<String> {
        match &statement["Action"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => vec![],
        }
    }

    /// A reproducible rearrangement: keys rebuilt in reverse order, arrays of strings reversed,
    /// single strings of `Action`/`Resource`/condition values wrapped in one-element arrays.
    fn scramble(v: &Value, seed: u64, wrap: bool) -> Value {
        match v {
            Value::Object(map) => {
                let mut out = Map::new();
                for (i, (k, val)) in map.iter().rev().enumerate() {
                    let wrap_here = matches!(k.as_str(), "Action" | "Resource" | "NotAction")
                        || k.contains(':');
                    let s = seed.rotate_left(i as u32 + 1);
                    out.insert(k.clone(), scramble(val, s, wrap_here));
                }
                Value::Object(out)
            }
            Value::Array(items) => {
                let mut items: Vec<Value> =
                    items.iter().map(|i| scramble(i, seed, false)).collect();
                let n = items.len();
                if n > 1 {
                    items.rotate_left((seed as usize) % n);
                }
                if seed & 1 == 1 {
                    items.reverse();
                }
                Value::Array(items)
            }
            Value::String(_) if wrap && seed & 2 == 2 => Value::Array(vec![v.clone()]),
            _ => v.clone(),
        }
    }

    fn all_documents(account: &str, central: &str, bucket: &str, org: &str) -> Vec<Value> {
        let source_bucket = format!("src-{account}");
        let central_key =
            format!("arn:aws:kms:us-east-1:{central}:key/00000000-0000-0000-0000-000000000000");
        let source_key =
            format!("arn:aws:kms:eu-west-1:{account}:key/11111111-1111-1111-1111-111111111111");
        let c = CentralInput {
            replicating_deletes: &[],
            account: central,
            org_id: org,
            bucket,
            region: "us-east-1",
            key_arn: &central_key,
            enrolled: None,
            break_glass_role: None,
        };
        let break_glass = format!("arn:aws:iam::{central}:role/s3central-break-glass");
        let enrolled = vec![account.to_owned()];
        let guarded = CentralInput {
            break_glass_role: Some(&break_glass),
            enrolled: Some(&enrolled),
            ..c
        };
        let role = RolePolicyInput {
            replicate_deletes: false,
            account,
            source_bucket: &source_bucket,
            central_bucket: bucket,
            source_key_arn: &source_key,
            central_key_arn: &central_key,
            source_region: "eu-west-1",
            central_region: "us-east-1",
        };
        vec![
            central_key_policy(&c),
            central_key_policy(&guarded),
            source_key_policy(account),
            central_bucket_policy(&c),
            central_bucket_policy(&guarded),
            replication_trust_policy(account),
            replication_role_policy(&role),
            restore_trust_policy(&[format!("arn:aws:iam::{central}:root")], org),
            restore_role_policy(&role),
            batch_replication_trust_policy(account),
            batch_replication_role_policy(account, &source_bucket),
            batch_restore_role_policy(&role),
        ]
    }

    proptest! {
        #[test]
        fn documents_hold_their_invariants(
            account in "[0-9]{12}",
            central in "[0-9]{12}",
            bucket in "[a-z0-9][a-z0-9-]{1,40}[a-z0-9]",
            org in "o-[a-z0-9]{10,32}",
            storage in prop::sample::select(vec!["STANDARD", "STANDARD_IA", "GLACIER_IR"]),
            rtc in any::<bool>(),
        ) {
            let break_glass = format!("arn:aws:iam::{central}:role/s3central-break-glass");
            let key = format!("arn:aws:kms:us-east-1:{central}:key/0123abcd-0000-0000-0000-000000000000");
            let c = CentralInput { replicating_deletes: &[], account: &central, org_id: &org, bucket: &bucket, region: "us-east-1", key_arn: &key, enrolled: None, break_glass_role: None };
            let key_policy = central_key_policy(&c);
            let bucket_policy = central_bucket_policy(&c);
            let guarded = CentralInput { break_glass_role: Some(&break_glass), ..c };
            let guarded_key = central_key_policy(&guarded);
            let guarded_bucket = central_bucket_policy(&guarded);
            let root = format!("arn:aws:iam::{central}:root");
            for doc in [&key_policy, &bucket_policy, &guarded_key, &guarded_bucket] {
                for s in statements(doc).iter().filter(|s| s["Effect"] == "Allow") {
                    let admin = s["Principal"]["AWS"] == root.as_str()
                        || s["Principal"]["AWS"] == break_glass.as_str();
                    prop_assert!(
                        admin || s["Condition"]["StringEquals"]["aws:PrincipalOrgID"] == org.as_str(),
                        "statement without the organization condition: {s}"
                    );
                }
            }
            // Guarded: everything that destroys or reconfigures is denied to all but the role.
            for (doc, sid, must) in [
                (&guarded_bucket, BUCKET_GUARD_SID, &["s3:DeleteObjectVersion", "s3:PutBucketPolicy", "s3:PutBucketVersioning", "s3:PutLifecycleConfiguration", "s3:BypassGovernanceRetention", "s3:PutObject"][..]),
                (&guarded_key, KEY_GUARD_SID, &["kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:CreateGrant"][..]),
            ] {
                let guard: Vec<Value> = statements(doc).into_iter().filter(|s| s["Sid"] == sid).collect();
                prop_assert_eq!(guard.len(), 1);
                prop_assert_eq!(&guard[0]["Effect"], &json!("Deny"));
                prop_assert_eq!(&guard[0]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"], &json!(break_glass));
                let acts = actions(&guard[0]);
                for a in must {
                    prop_assert!(acts.iter().any(|x| x == a), "{} lacks {}", sid, a);
                }
            }
            let replicate: Vec<Value> = statements(&bucket_policy)
                .into_iter()
                .filter(|s| s["Sid"] == "ReplicateIntoOwnPrefix")
                .collect();
            prop_assert_eq!(replicate.len(), 1);
            prop_assert_eq!(
                &replicate[0]["Resource"],
                &json!(format!("arn:aws:s3:::{bucket}/${{aws:PrincipalAccount}}/*"))
            );
            for doc in all_documents(&account, &central, &bucket, &org) {
                prop_assert_eq!(&doc["Version"], &json!("2012-10-17"));
                for s in statements(&doc) {
                    if s["Effect"] == "Allow" {
                        let acts = actions(&s);
                        prop_assert!(!acts.iter().any(|a| a == "s3:ReplicateDelete" || a == "s3:*"), "{s}");
                    }
                }
                for s in statements(&doc).iter().filter(|s| s.to_string().contains("s3:ReplicateDelete")) {
                    prop_assert_eq!(&s["Effect"], &json!("Deny"), "ReplicateDelete outside a Deny: {}", s);
                }
            }
            let key = format!("arn:aws:kms:us-east-1:{central}:key/0123abcd-0000-0000-0000-000000000000");
            let rule = replication_rule(&RuleInput { replicate_deletes: false,
                account: &account,
                central_bucket: &bucket,
                central_account: &central,
                central_key_arn: &key,
                storage_class: storage,
                replication_time_control: rtc,
                alerts: false,
            });
            prop_assert_eq!(rule.metrics, rtc, "metrics go with RTC unless alerts ask for them");
            prop_assert!(rule.replica_kms_key_id.starts_with("arn:aws:kms:"));
            prop_assert!(rule.replica_kms_key_id.contains(":key/"));
            prop_assert!(rule.prefix.ends_with('/'));
            prop_assert_eq!(rule.prefix, format!("{account}/"));
            prop_assert!(!rule.delete_marker_replication);
        }

        #[test]
        fn canonical_ignores_arrangement(
            account in "[0-9]{12}",
            central in "[0-9]{12}",
            bucket in "[a-z0-9][a-z0-9.-]{1,40}[a-z0-9]",
            org in "o-[a-z0-9]{10,32}",
            seed in any::<u64>(),
        ) {
            for doc in all_documents(&account, &central, &bucket, &org) {
                let scrambled = scramble(&doc, seed, false);
                prop_assert_eq!(canonical(&scrambled), canonical(&doc));
                prop_assert_eq!(canonical(&canonical(&doc)), canonical(&doc));
                prop_assert!(same_policy(&scrambled.to_string(), &doc));
            }
        }

        #[test]
        fn url_encoded_policies_parse_like_plain_ones(
            account in "[0-9]{12}",
            bucket in "[a-z0-9][a-z0-9-]{1,40}[a-z0-9]",
            org in "o-[a-z0-9]{10,32}",
            pretty in any::<bool>(),
        ) {
            const IAM: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
                .remove(b'-').remove(b'.').remove(b'_').remove(b'~');
            for doc in all_documents(&account, &account, &bucket, &org) {
                let plain = if pretty { serde_json::to_string_pretty(&doc).unwrap() } else { doc.to_string() };
                let encoded = percent_encoding::utf8_percent_encode(&plain, IAM).to_string();
                prop_assert_eq!(parse_policy(&encoded).unwrap(), parse_policy(&plain).unwrap());
                prop_assert_eq!(parse_policy(&plain).unwrap(), doc.clone());
                prop_assert!(same_policy(&encoded, &doc));
            }
        }
    }
}
