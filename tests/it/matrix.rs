//! The permission matrix: every request AWS would make for s3central's org, evaluated on the
//! policy documents the product writes (built by `s3central::setup::policy`), by a real IAM policy
//! evaluator (`@cloud-copilot/iam-simulate`, run by `tests/iam/evaluate.mjs`; see
//! `tests/iam/README.md`). Needs no AWS and no local server: only node and `tests/iam/node_modules`
//! (installed by `scripts/test`).
//!
//! A row is one request: who (the principal and the policies attached to it in its own account),
//! what (action and resource; the resource brings its own policy: bucket policy, key policy or
//! trust policy), the request context AWS sets, and the intended decision. Cross-account requests
//! need an Allow on both sides; the evaluator does that from the principal's and the resource's
//! accounts, and KMS key policies delegate to IAM policies only where they name the account.
//!
//! `KNOWN_FINDINGS` lists the rows that fail against today's documents (issue 8's findings). They
//! are reported, not failed; a listed row that starts to hold fails the test until it is removed.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use s3central::setup::policy::{
    backfill_report_prefix, batch_replication_role_policy, batch_replication_trust_policy,
    batch_restore_role_policy, BATCH_REPLICATION_ROLE, BATCH_RESTORE_ROLE,
};
use s3central::setup::policy::{
    central_bucket_policy, central_key_policy, replication_role_policy, replication_trust_policy,
    restore_role_policy, restore_trust_policy, source_key_policy, CentralInput, RolePolicyInput,
    REPLICATION_ROLE, RESTORE_ROLE,
};
use serde_json::{json, Map, Value};

const CENTRAL: &str = "123456789012";
const ORG: &str = "o-exampleorg1";
const CENTRAL_BUCKET: &str = "acme-s3central";
const CENTRAL_REGION: &str = "us-east-1";
const CENTRAL_KEY: &str =
    "arn:aws:kms:us-east-1:123456789012:key/0c3a1b2c-0000-4000-8000-00000000c0de";
const A: &str = "111111111111";
const B: &str = "222222222222";
/// An account outside the organization.
const OUTSIDER: &str = "999999999999";
const OTHER_ORG: &str = "o-someoneelse";

/// Rows that fail today, with the issue 8 finding each one demonstrates. Remove an entry when the
/// product is fixed: the test fails while a listed row already holds.
const KNOWN_FINDINGS: &[(&str, u32)] = &[
    // Empty: findings 1, 2, 6 and 10 of issue 8 are fixed in src/setup/policy.rs. The rows that
    // showed them before the fix (they failed against the previous documents):
    // 1  "[replicate <A|B>] kms:Decrypt on the central key (Bucket Keys on)" and "(multipart, ...)"
    // 2  "[never] <A>'s admin: s3:PutBucketVersioning on central", "... s3:ListBucket on central, prefix <B>/"
    // 6  "[never] <A>'s widened replication role: kms:GenerateDataKey on the central key via S3 in eu-west-1",
    //    "... for another bucket", "... kms:Decrypt on the central key for <B>/'s objects"
    // 10 "[replicate <A|B>] s3:ReplicateObject / s3:ReplicateTags / s3:ObjectOwnerOverrideToBucketOwner into central/<own>/"
];

/// Where a row's product documents come from: setup's own functions, or the CloudFormation
/// templates `setup --export cloudformation` writes for the same organization, resolved for the
/// same accounts (issue 22: the matrix evaluates the templates' documents too).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Docs {
    Setup,
    Templates,
}

thread_local! {
    static DOCS: Cell<Docs> = const { Cell::new(Docs::Setup) };
}

/// The document setup writes, or the template's, as [`DOCS`] says.
fn product_doc(setup: impl FnOnce() -> Value, template: impl FnOnce(&Exported) -> Value) -> Value {
    match DOCS.with(Cell::get) {
        Docs::Setup => setup(),
        Docs::Templates => template(exported()),
    }
}

/// The exported templates, resolved: central's once, each source account's member stack.
struct Exported {
    central: Value,
    members: BTreeMap<&'static str, Value>,
    /// The alerts template, resolved in the central region.
    alerts: Value,
}

impl Exported {
    fn member_role(&self, account: &str, role: &str, field: &str) -> Value {
        let p = &self.members[account]["Resources"][role]["Properties"];
        match field {
            "trust" => p["AssumeRolePolicyDocument"].clone(),
            _ => p["Policies"][0]["PolicyDocument"].clone(),
        }
    }
}

/// The templates for the matrix's organization (the same central facts as [`central_input`]),
/// each source deployed with its bucket as `ExistingBucket`, in its region.
fn exported() -> &'static Exported {
    static EXPORTED: std::sync::OnceLock<Exported> = std::sync::OnceLock::new();
    EXPORTED.get_or_init(|| {
        use s3central::setup::cloudformation::{resolve, templates, Deployment};
        let config = s3central::config::parse_config(&format!(
            "[central]\naccount = \"{CENTRAL}\"\nregion = \"{CENTRAL_REGION}\"\nbucket = \"{CENTRAL_BUCKET}\"\n\
             org_id = \"{ORG}\"\nbreak_glass_role = \"{BREAK_GLASS}\"\nalerts_topic = \"{ALERTS_TOPIC}\"\n\
             [discovery]\norganizational_units = [\"r-ab12\"]\n"
        ))
        .expect("the matrix's organization as a config");
        let t = templates(&config, None).expect("exportable");
        let central = resolve(
            &t.central,
            &Deployment {
                account: CENTRAL.into(),
                region: CENTRAL_REGION.into(),
                refs: [
                    ("CentralKey".to_owned(), CENTRAL_KEY.rsplit('/').next().unwrap_or_default().to_owned()),
                    ("CentralBucket".to_owned(), CENTRAL_BUCKET.to_owned()),
                ]
                .into(),
                attributes: [("CentralKey.Arn".to_owned(), CENTRAL_KEY.to_owned())].into(),
                ..Deployment::default()
            },
        )
        .expect("central template resolves");
        let members = sources()
            .into_iter()
            .map(|s| {
                let deployment = Deployment {
                    account: s.account.into(),
                    region: s.region.into(),
                    parameters: [
                        ("CentralKeyArn".to_owned(), CENTRAL_KEY.to_owned()),
                        ("ExistingBucket".to_owned(), s.bucket.clone()),
                    ]
                    .into(),
                    refs: [("SourceKey".to_owned(), s.key_arn.rsplit('/').next().unwrap_or_default().to_owned())].into(),
                    attributes: [("SourceKey.Arn".to_owned(), s.key_arn.clone())].into(),
                };
                (s.account, resolve(&t.member, &deployment).expect("member template resolves"))
            })
            .collect();
        let alerts = resolve(
            t.alerts.as_ref().expect("an alerts template"),
            &Deployment {
                account: CENTRAL.into(),
                region: CENTRAL_REGION.into(),
                refs: [("AlertsTopic".to_owned(), alerts_topic())].into(),
                ..Deployment::default()
            },
        )
        .expect("alerts template resolves");
        Exported {
            central,
            members,
            alerts,
        }
    })
}

/// The alerts topic's name (`[central] alerts_topic`).
const ALERTS_TOPIC: &str = "s3central-alerts";

/// The alerts topic in the central region, as setup makes it.
fn alerts_topic() -> String {
    s3central::setup::policy::alerts_topic_arn(CENTRAL_REGION, CENTRAL, ALERTS_TOPIC)
}

/// The alerts topic with the policy setup (or the alerts template) gives it.
fn alerts_topic_target() -> Target {
    Target {
        arn: alerts_topic(),
        account: CENTRAL.into(),
        policy: Some((
            "resourcePolicy",
            "alerts topic policy".into(),
            product_doc(
                || {
                    let accounts: Vec<String> =
                        sources().iter().map(|s| s.account.to_owned()).collect();
                    s3central::setup::policy::alerts_topic_policy(
                        &alerts_topic(),
                        ORG,
                        &accounts,
                        Some(BREAK_GLASS),
                    )
                },
                |t| {
                    t.alerts["Resources"]["AlertsTopicPolicy"]["Properties"]["PolicyDocument"]
                        .clone()
                },
            ),
        )),
    }
}

/// Alerts (issue 22): S3 publishes a replication event of an organization bucket to central's
/// topic; nobody else may publish to it or change it from another account.
#[rustfmt::skip]
fn alerts_rows() -> Vec<Value> {
    let n = |what: &str| format!("[alerts] {what}");
    let bucket_of = |account: &str| format!("arn:aws:s3:::{}", source(account).bucket);
    let s3_for = |account: &str, org: &str| vec![
        ("aws:SourceAccount", json!(account)),
        ("aws:SourceArn", json!(bucket_of(account))),
        ("aws:SourceOrgID", json!(org)),
    ];
    vec![
        row(n(&format!("s3.amazonaws.com: SNS:Publish for {A}'s bucket")), &s3_service(),
            "sns:Publish", alerts_topic_target(), s3_for(A, ORG), Allow),
        row(n(&format!("s3.amazonaws.com: SNS:Publish for {B}'s bucket")), &s3_service(),
            "sns:Publish", alerts_topic_target(), s3_for(B, ORG), Allow),
        row(n("[never] s3.amazonaws.com: SNS:Publish for a bucket outside the organization"), &s3_service(),
            "sns:Publish", alerts_topic_target(),
            vec![("aws:SourceAccount", json!(OUTSIDER)),
                 ("aws:SourceArn", json!("arn:aws:s3:::attacker-bucket")),
                 ("aws:SourceOrgID", json!(OTHER_ORG))], Deny),
        row(n("[never] s3.amazonaws.com: SNS:Publish naming no organization"), &s3_service(),
            "sns:Publish", alerts_topic_target(),
            vec![("aws:SourceAccount", json!(OUTSIDER)),
                 ("aws:SourceArn", json!("arn:aws:s3:::attacker-bucket"))], Deny),
        row(n(&format!("[never] {A}'s admin: SNS:Publish on central's alerts topic")), &admin(A),
            "sns:Publish", alerts_topic_target(), no_ctx(), Deny),
        row(n(&format!("[never] {A}'s admin: SNS:SetTopicAttributes on central's alerts topic")), &admin(A),
            "sns:SetTopicAttributes", alerts_topic_target(), no_ctx(), Deny),
        row(n(&format!("[never] {A}'s admin: SNS:Subscribe to central's alerts topic")), &admin(A),
            "sns:Subscribe", alerts_topic_target(), no_ctx(), Deny),
        row(n("[never] an outsider: SNS:Publish on central's alerts topic"), &outsider(),
            "sns:Publish", alerts_topic_target(), no_ctx(), Deny),
        // A pipeline holding central credentials (T2) must not silence the alerts.
        row(n("[never] central admin: SNS:DeleteTopic on the alerts topic"), &admin(CENTRAL),
            "sns:DeleteTopic", alerts_topic_target(), no_ctx(), Deny),
        row(n("[never] central admin: SNS:SetTopicAttributes on the alerts topic"), &admin(CENTRAL),
            "sns:SetTopicAttributes", alerts_topic_target(), no_ctx(), Deny),
        row(n("[never] central admin: SNS:RemovePermission on the alerts topic"), &admin(CENTRAL),
            "sns:RemovePermission", alerts_topic_target(), no_ctx(), Deny),
        row(n("central admin: SNS:Subscribe to the alerts topic (the on-call)"), &admin(CENTRAL),
            "sns:Subscribe", alerts_topic_target(), no_ctx(), Allow),
        row(n("central admin: SNS:GetTopicAttributes on the alerts topic (status)"), &admin(CENTRAL),
            "sns:GetTopicAttributes", alerts_topic_target(), no_ctx(), Allow),
        row(n("the break-glass role: SNS:SetTopicAttributes on the alerts topic"), &break_glass(),
            "sns:SetTopicAttributes", alerts_topic_target(), no_ctx(), Allow),
        row(n("the break-glass role: SNS:DeleteTopic on the alerts topic"), &break_glass(),
            "sns:DeleteTopic", alerts_topic_target(), no_ctx(), Allow),
    ]
}

/// Alerts rows for the policy setup writes only: it also names the accounts it set up, so S3
/// publishing for their buckets is allowed even if AWS sends no `aws:SourceOrgID` (the templates'
/// policy relies on it alone).
#[rustfmt::skip]
fn alerts_setup_rows() -> Vec<Value> {
    let n = |what: &str| format!("[alerts] {what}");
    vec![
        row(n(&format!("s3.amazonaws.com: SNS:Publish for {A}'s bucket, no aws:SourceOrgID sent")), &s3_service(),
            "sns:Publish", alerts_topic_target(),
            vec![("aws:SourceAccount", json!(A)),
                 ("aws:SourceArn", json!(format!("arn:aws:s3:::{}", source(A).bucket)))], Allow),
        row(n("[never] s3.amazonaws.com: SNS:Publish for an account not set up, no aws:SourceOrgID sent"), &s3_service(),
            "sns:Publish", alerts_topic_target(),
            vec![("aws:SourceAccount", json!(OUTSIDER)),
                 ("aws:SourceArn", json!("arn:aws:s3:::attacker-bucket"))], Deny),
    ]
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    Allow,
    Deny,
}
use Expect::{Allow, Deny};

/// A source account as setup configures it.
struct Source {
    account: &'static str,
    region: &'static str,
    bucket: String,
    key_arn: String,
}

fn sources() -> Vec<Source> {
    [(A, "eu-west-1"), (B, "us-east-1")]
        .into_iter()
        .map(|(account, region)| Source {
            account,
            region,
            bucket: format!("acme-data-{account}"),
            key_arn: format!(
                "arn:aws:kms:{region}:{account}:key/5a5a5a5a-0000-4000-8000-{account}"
            ),
        })
        .collect()
}

fn source(account: &str) -> Source {
    sources()
        .into_iter()
        .find(|s| s.account == account)
        .expect("a configured source account")
}

/// The break-glass role's name in the central account (`[central] break_glass_role`).
const BREAK_GLASS_NAME: &str = "s3central-break-glass";
/// Its ARN, as setup resolves it.
const BREAK_GLASS: &str = "arn:aws:iam::123456789012:role/s3central-break-glass";

/// What the central documents are made from, as setup passes it: with a break-glass role, as the
/// docs recommend (the matrix evaluates the guarded documents).
fn central_input() -> CentralInput<'static> {
    CentralInput {
        replicating_deletes: &[],
        account: CENTRAL,
        org_id: ORG,
        bucket: CENTRAL_BUCKET,
        region: CENTRAL_REGION,
        key_arn: CENTRAL_KEY,
        enrolled: None,
        break_glass_role: Some(BREAK_GLASS),
    }
}

/// A session of the central account's break-glass role, with AdministratorAccess.
fn break_glass() -> Actor {
    Actor {
        principal: format!("arn:aws:sts::{CENTRAL}:assumed-role/{BREAK_GLASS_NAME}/incident"),
        principal_arn: Some(BREAK_GLASS.to_owned()),
        account: Some(CENTRAL.to_owned()),
        org: Some(ORG),
        policies: vec![("AdministratorAccess".into(), administrator_access())],
    }
}

/// The replication role's inline policy, exactly as setup writes it for `account`.
fn role_policy(account: &str) -> Value {
    product_doc(
        || policy_for(account, replication_role_policy),
        |t| t.member_role(account, "ReplicationRole", "policy"),
    )
}

/// The restore role's inline policy, exactly as setup writes it for `account`.
fn restore_policy(account: &str) -> Value {
    product_doc(
        || policy_for(account, restore_role_policy),
        |t| t.member_role(account, "RestoreRole", "policy"),
    )
}

/// restore acting as `account`'s restore role (assumed from the central account).
fn restore_role(account: &str) -> Actor {
    Actor {
        principal: format!("arn:aws:sts::{account}:assumed-role/{RESTORE_ROLE}/s3central"),
        principal_arn: Some(format!("arn:aws:iam::{account}:role/{RESTORE_ROLE}")),
        account: Some(account.to_owned()),
        org: Some(ORG),
        policies: vec![(format!("{RESTORE_ROLE} (setup)"), restore_policy(account))],
    }
}

fn restore_role_resource(account: &str) -> Target {
    Target {
        arn: format!("arn:aws:iam::{account}:role/{RESTORE_ROLE}"),
        account: account.into(),
        policy: Some((
            "resourcePolicy",
            "restore role trust policy".into(),
            product_doc(
                || restore_trust_policy(&[format!("arn:aws:iam::{CENTRAL}:root")], ORG),
                |t| t.member_role(account, "RestoreRole", "trust"),
            ),
        )),
    }
}

/// Who makes a request: its ARN, its account and organization, and its identity policies.
#[derive(Clone)]
struct Actor {
    principal: String,
    principal_arn: Option<String>,
    account: Option<String>,
    org: Option<&'static str>,
    policies: Vec<(String, Value)>,
}

/// AWS's AdministratorAccess managed policy (what an account admin has), not a product document.
fn administrator_access() -> Value {
    json!({"Version": "2012-10-17",
           "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
}

/// S3 assumed the account's replication role: the session S3 acts as.
fn replication_role(account: &str) -> Actor {
    Actor {
        principal: format!("arn:aws:sts::{account}:assumed-role/{REPLICATION_ROLE}/s3-replication"),
        principal_arn: Some(format!("arn:aws:iam::{account}:role/{REPLICATION_ROLE}")),
        account: Some(account.to_owned()),
        org: Some(ORG),
        policies: vec![(format!("{REPLICATION_ROLE} (setup)"), role_policy(account))],
    }
}

/// The same role after the account's own admin gave it everything (they can: it is their IAM).
fn widened(mut actor: Actor) -> Actor {
    actor.policies = vec![(
        "widened by the account admin".into(),
        administrator_access(),
    )];
    actor
}

/// An administrator of `account` (AdministratorAccess through an assumed role).
fn admin(account: &str) -> Actor {
    Actor {
        principal: format!("arn:aws:sts::{account}:assumed-role/Admin/alice"),
        principal_arn: Some(format!("arn:aws:iam::{account}:role/Admin")),
        account: Some(account.to_owned()),
        org: Some(ORG),
        policies: vec![("AdministratorAccess".into(), administrator_access())],
    }
}

/// A role named like ours, with every permission, in an account outside the organization.
fn outsider() -> Actor {
    Actor {
        principal: format!("arn:aws:sts::{OUTSIDER}:assumed-role/{REPLICATION_ROLE}/x"),
        principal_arn: Some(format!("arn:aws:iam::{OUTSIDER}:role/{REPLICATION_ROLE}")),
        account: Some(OUTSIDER.to_owned()),
        org: Some(OTHER_ORG),
        policies: vec![("AdministratorAccess".into(), administrator_access())],
    }
}

/// The S3 service itself (it assumes the replication role).
fn s3_service() -> Actor {
    Actor {
        principal: "s3.amazonaws.com".into(),
        principal_arn: None,
        account: None,
        org: None,
        policies: vec![],
    }
}

/// What a request acts on, with the policy AWS evaluates on that resource.
#[derive(Clone)]
struct Target {
    arn: String,
    account: String,
    /// (field name in the evaluator's row, policy name, document)
    policy: Option<(&'static str, String, Value)>,
}

fn central_bucket() -> Target {
    Target {
        arn: format!("arn:aws:s3:::{CENTRAL_BUCKET}"),
        account: CENTRAL.into(),
        policy: Some((
            "resourcePolicy",
            "central bucket policy".into(),
            product_doc(
                || central_bucket_policy(&central_input()),
                |t| {
                    t.central["Resources"]["CentralBucketPolicy"]["Properties"]["PolicyDocument"]
                        .clone()
                },
            ),
        )),
    }
}

fn central_object(key: &str) -> Target {
    Target {
        arn: format!("arn:aws:s3:::{CENTRAL_BUCKET}/{key}"),
        ..central_bucket()
    }
}

/// Source buckets carry no bucket policy (setup writes none).
fn source_bucket(account: &str) -> Target {
    Target {
        arn: format!("arn:aws:s3:::{}", source(account).bucket),
        account: account.into(),
        policy: None,
    }
}

fn source_object(account: &str, key: &str) -> Target {
    Target {
        arn: format!("arn:aws:s3:::{}/{key}", source(account).bucket),
        ..source_bucket(account)
    }
}

fn central_key() -> Target {
    Target {
        arn: CENTRAL_KEY.into(),
        account: CENTRAL.into(),
        policy: Some((
            "kmsKeyPolicy",
            "central key policy".into(),
            product_doc(
                || central_key_policy(&central_input()),
                |t| t.central["Resources"]["CentralKey"]["Properties"]["KeyPolicy"].clone(),
            ),
        )),
    }
}

fn source_key(account: &str) -> Target {
    Target {
        arn: source(account).key_arn,
        account: account.into(),
        policy: Some((
            "kmsKeyPolicy",
            format!("{account} source key policy"),
            product_doc(
                || source_key_policy(account),
                |t| t.members[account]["Resources"]["SourceKey"]["Properties"]["KeyPolicy"].clone(),
            ),
        )),
    }
}

fn replication_role_resource(account: &str) -> Target {
    Target {
        arn: format!("arn:aws:iam::{account}:role/{REPLICATION_ROLE}"),
        account: account.into(),
        policy: Some((
            "resourcePolicy",
            "replication role trust policy".into(),
            product_doc(
                || replication_trust_policy(account),
                |t| t.member_role(account, "ReplicationRole", "trust"),
            ),
        )),
    }
}

/// Extra request context, beyond what every request of the actor carries.
type Ctx = Vec<(&'static str, Value)>;

/// A KMS call S3 makes on the caller's behalf: the service and the encryption context S3 sets
/// (`aws:s3:arn` = the bucket ARN with S3 Bucket Keys on, the object ARN otherwise).
fn via_s3(region: &str, s3_arn: &str) -> Ctx {
    vec![
        (
            "kms:ViaService",
            json!(format!("s3.{region}.amazonaws.com")),
        ),
        ("kms:EncryptionContext:aws:s3:arn", json!(s3_arn)),
    ]
}

/// The resource of an action without a resource type (CreateJob, ListJobs) in `account`: "*",
/// as AWS authorizes it.
fn any_resource(account: &str) -> Target {
    Target {
        arn: "*".into(),
        account: account.into(),
        policy: None,
    }
}

/// An IAM role of `account` as the resource of iam:PassRole (no resource policy applies).
fn role_target(account: &str, name: &str) -> Target {
    Target {
        arn: format!("arn:aws:iam::{account}:role/{name}"),
        account: account.into(),
        policy: None,
    }
}

/// A write that asks for SSE-KMS under `key_arn`.
fn sse_kms(key_arn: &str) -> Ctx {
    vec![
        ("s3:x-amz-server-side-encryption", json!("aws:kms")),
        (
            "s3:x-amz-server-side-encryption-aws-kms-key-id",
            json!(key_arn),
        ),
    ]
}

fn prefix(p: &str) -> Ctx {
    vec![("s3:prefix", json!(p))]
}

fn insecure() -> Ctx {
    vec![("aws:SecureTransport", json!("false"))]
}

fn no_ctx() -> Ctx {
    Vec::new()
}

fn central_arn() -> String {
    format!("arn:aws:s3:::{CENTRAL_BUCKET}")
}

fn central_object_arn(key: &str) -> String {
    format!("arn:aws:s3:::{CENTRAL_BUCKET}/{key}")
}

/// One row: `who` does `action` on `on` with the context AWS sets, and should get `expect`.
fn row(name: String, who: &Actor, action: &str, on: Target, extra: Ctx, expect: Expect) -> Value {
    let mut ctx = Map::new();
    ctx.insert("aws:SecureTransport".into(), json!("true"));
    if let Some(account) = &who.account {
        ctx.insert("aws:PrincipalAccount".into(), json!(account));
        if action.starts_with("kms:") {
            ctx.insert("kms:CallerAccount".into(), json!(account));
        }
    }
    if let Some(arn) = &who.principal_arn {
        ctx.insert("aws:PrincipalArn".into(), json!(arn));
    }
    if let Some(org) = who.org {
        ctx.insert("aws:PrincipalOrgID".into(), json!(org));
    }
    for (k, v) in extra {
        ctx.insert(k.into(), v);
    }
    let mut r = json!({
        "name": name,
        "principal": who.principal,
        "action": action,
        "resource": on.arn,
        "resourceAccount": on.account,
        "context": ctx,
        "identityPolicies": who.policies.iter()
            .map(|(n, p)| json!({"name": n, "policy": p})).collect::<Vec<_>>(),
        "expect": match expect { Allow => "Allow", Deny => "Deny" },
    });
    if let Some((field, name, doc)) = on.policy {
        r[field] = json!({"name": name, "policy": doc});
    }
    r
}

/// Live replication of an SSE-KMS object version from `account`'s bucket into central under
/// `<account>/`: every request S3 makes as the account's replication role.
#[rustfmt::skip]
fn replication_rows(account: &str) -> Vec<Value> {
    let s = source(account);
    let role = replication_role(account);
    let obj = format!("{account}/photos/cat.jpg");
    let src_obj_arn = format!("arn:aws:s3:::{}/{obj}", s.bucket);
    let src_bucket_arn = format!("arn:aws:s3:::{}", s.bucket);
    let n = |what: &str| format!("[replicate {account}] {what}");
    vec![
        // S3 assumes the role.
        row(n("s3.amazonaws.com: sts:AssumeRole on the replication role"), &s3_service(),
            "sts:AssumeRole", replication_role_resource(account),
            vec![("aws:SourceAccount", json!(account)), ("aws:SourceArn", json!(src_bucket_arn))], Allow),
        // AWS does not document that S3 sends aws:SourceAccount here: without it, still allowed.
        row(n("s3.amazonaws.com: sts:AssumeRole on the replication role, no aws:SourceAccount sent"), &s3_service(),
            "sts:AssumeRole", replication_role_resource(account), no_ctx(), Allow),
        // Confused deputy: S3 acting for a bucket of another account (issue 18, finding 10).
        row(n("[never] s3.amazonaws.com for another account's bucket: sts:AssumeRole on the replication role"), &s3_service(),
            "sts:AssumeRole", replication_role_resource(account),
            vec![("aws:SourceAccount", json!(OUTSIDER)), ("aws:SourceArn", json!("arn:aws:s3:::attacker-bucket"))], Deny),
        // Source side (same account).
        row(n("s3:GetReplicationConfiguration on the source bucket"), &role,
            "s3:GetReplicationConfiguration", source_bucket(account), no_ctx(), Allow),
        row(n("s3:ListBucket on the source bucket"), &role,
            "s3:ListBucket", source_bucket(account), prefix(&format!("{account}/")), Allow),
        row(n("s3:GetObjectVersionForReplication on the source"), &role,
            "s3:GetObjectVersionForReplication", source_object(account, &obj), no_ctx(), Allow),
        row(n("s3:GetObjectVersionTagging on the source"), &role,
            "s3:GetObjectVersionTagging", source_object(account, &obj), no_ctx(), Allow),
        row(n("kms:Decrypt on the source key (Bucket Keys on)"), &role,
            "kms:Decrypt", source_key(account), via_s3(s.region, &src_bucket_arn), Allow),
        row(n("kms:Decrypt on the source key (Bucket Keys off, object context)"), &role,
            "kms:Decrypt", source_key(account), via_s3(s.region, &src_obj_arn), Allow),
        // Destination side (cross-account: the role's policy and central's policies).
        row(n(&format!("s3:ReplicateObject into central/{account}/")), &role,
            "s3:ReplicateObject", central_object(&obj), no_ctx(), Allow),
        // Replicas only under the central key (issue 18, finding 4): with the headers S3 sends
        // for the rule's replica key, a second rule of the account's admin with its own key, or
        // an SSE-C replica, is refused; an SSE-S3 replica (of an SSE-S3 object) is not.
        row(n(&format!("s3:ReplicateObject into central/{account}/ under the central key")), &role,
            "s3:ReplicateObject", central_object(&obj), sse_kms(CENTRAL_KEY), Allow),
        row(n(&format!("s3:ReplicateObject into central/{account}/ under the central key's bare id")), &role,
            "s3:ReplicateObject", central_object(&obj),
            sse_kms(CENTRAL_KEY.rsplit('/').next().unwrap_or(CENTRAL_KEY)), Allow),
        row(n(&format!("s3:ReplicateObject into central/{account}/ of an SSE-S3 object")), &role,
            "s3:ReplicateObject", central_object(&obj),
            vec![("s3:x-amz-server-side-encryption", json!("AES256"))], Allow),
        row(n(&format!("[never] s3:ReplicateObject into central/{account}/ under {account}'s own key")), &role,
            "s3:ReplicateObject", central_object(&obj), sse_kms(&s.key_arn), Deny),
        row(n(&format!("[never] s3:ReplicateObject into central/{account}/ with a customer-provided key")), &role,
            "s3:ReplicateObject", central_object(&obj),
            vec![("s3:x-amz-server-side-encryption-customer-algorithm", json!("AES256"))], Deny),
        row(n(&format!("s3:ReplicateTags into central/{account}/")), &role,
            "s3:ReplicateTags", central_object(&obj), no_ctx(), Allow),
        row(n(&format!("s3:ObjectOwnerOverrideToBucketOwner into central/{account}/")), &role,
            "s3:ObjectOwnerOverrideToBucketOwner", central_object(&obj), no_ctx(), Allow),
        row(n("kms:GenerateDataKey on the central key (Bucket Keys on)"), &role,
            "kms:GenerateDataKey", central_key(), via_s3(CENTRAL_REGION, &central_arn()), Allow),
        row(n("kms:Encrypt on the central key (Bucket Keys on)"), &role,
            "kms:Encrypt", central_key(), via_s3(CENTRAL_REGION, &central_arn()), Allow),
        row(n("kms:Decrypt on the central key (Bucket Keys on)"), &role,
            "kms:Decrypt", central_key(), via_s3(CENTRAL_REGION, &central_arn()), Allow),
        row(n("kms:GenerateDataKey on the central key (object context)"), &role,
            "kms:GenerateDataKey", central_key(), via_s3(CENTRAL_REGION, &central_object_arn(&obj)), Allow),
        row(n("kms:Decrypt on the central key (multipart, object context)"), &role,
            "kms:Decrypt", central_key(), via_s3(CENTRAL_REGION, &central_object_arn(&obj)), Allow),
        // The role's own limits, as setup wrote it.
        row(n("kms:Decrypt on the source key for an object outside the account prefix"), &role,
            "kms:Decrypt", source_key(account),
            via_s3(s.region, &format!("{src_bucket_arn}/other/x.bin")), Deny),
        row(n("kms:Decrypt on the source key through S3 in another region"), &role,
            "kms:Decrypt", source_key(account),
            via_s3(if s.region == "eu-west-1" { "us-west-2" } else { "eu-west-1" }, &src_bucket_arn), Deny),
    ]
}

/// What must never be possible, whatever the accounts' own admins do with their own IAM.
#[rustfmt::skip]
fn must_never_rows() -> Vec<Value> {
    let n = |what: &str| format!("[never] {what}");
    let role_a = replication_role(A);
    let wide_a = widened(replication_role(A));
    let admin_a = admin(A);
    let b_obj = format!("{B}/photos/cat.jpg");
    let a_obj = format!("{A}/photos/cat.jpg");
    let mut rows = vec![
        // No account writes outside its own prefix.
        row(n(&format!("{A}'s replication role: s3:ReplicateObject into central/{B}/")), &role_a,
            "s3:ReplicateObject", central_object(&b_obj), no_ctx(), Deny),
        row(n(&format!("{A}'s widened replication role: s3:ReplicateObject into central/{B}/")), &wide_a,
            "s3:ReplicateObject", central_object(&b_obj), no_ctx(), Deny),
        row(n(&format!("{A}'s widened replication role: s3:ReplicateTags into central/{B}/")), &wide_a,
            "s3:ReplicateTags", central_object(&b_obj), no_ctx(), Deny),
        row(n(&format!("{A}'s admin: s3:PutObject into central/{A}/")), &admin_a,
            "s3:PutObject", central_object(&a_obj), no_ctx(), Deny),
        // No account deletes anything in central.
        row(n(&format!("{A}'s admin: s3:DeleteObjectVersion on central/{A}/")), &admin_a,
            "s3:DeleteObjectVersion", central_object(&a_obj), no_ctx(), Deny),
        row(n(&format!("{A}'s admin: s3:DeleteObject on central/{A}/")), &admin_a,
            "s3:DeleteObject", central_object(&a_obj), no_ctx(), Deny),
        row(n(&format!("{A}'s replication role: s3:ReplicateDelete into central/{A}/")), &role_a,
            "s3:ReplicateDelete", central_object(&a_obj), no_ctx(), Deny),
        row(n(&format!("{A}'s widened replication role: s3:ReplicateDelete into central/{A}/")), &wide_a,
            "s3:ReplicateDelete", central_object(&a_obj), no_ctx(), Deny),
        // No account reads or lists another's keys.
        row(n(&format!("{A}'s admin: s3:ListBucket on central, prefix {B}/")), &admin_a,
            "s3:ListBucket", central_bucket(), prefix(&format!("{B}/")), Deny),
        row(n(&format!("{A}'s admin: s3:ListBucketVersions on central, prefix {B}/")), &admin_a,
            "s3:ListBucketVersions", central_bucket(), prefix(&format!("{B}/")), Deny),
        row(n(&format!("{A}'s replication role: s3:ListBucket on central, prefix {B}/")), &role_a,
            "s3:ListBucket", central_bucket(), prefix(&format!("{B}/")), Deny),
        row(n(&format!("{A}'s admin: s3:GetObject on central/{B}/")), &admin_a,
            "s3:GetObject", central_object(&b_obj), no_ctx(), Deny),
        row(n(&format!("{A}'s admin: s3:GetObjectVersion on central/{B}/")), &admin_a,
            "s3:GetObjectVersion", central_object(&b_obj), no_ctx(), Deny),
        row(n(&format!("{A}'s widened replication role: s3:GetObjectVersion on central/{B}/")), &wide_a,
            "s3:GetObjectVersion", central_object(&b_obj), no_ctx(), Deny),
        row(n(&format!("{A}'s admin: s3:GetObject on {B}'s source bucket")), &admin_a,
            "s3:GetObject", source_object(B, &b_obj), no_ctx(), Deny),
        // The central key is for central, through S3 in central's region.
        row(n(&format!("{A}'s widened replication role: kms:GenerateDataKey on the central key via S3 in eu-west-1")), &wide_a,
            "kms:GenerateDataKey", central_key(), via_s3("eu-west-1", &central_arn()), Deny),
        row(n(&format!("{A}'s widened replication role: kms:GenerateDataKey on the central key for another bucket")), &wide_a,
            "kms:GenerateDataKey", central_key(), via_s3(CENTRAL_REGION, "arn:aws:s3:::not-the-central-bucket"), Deny),
        row(n(&format!("{A}'s widened replication role: kms:Decrypt on the central key for {B}/'s objects")), &wide_a,
            "kms:Decrypt", central_key(), via_s3(CENTRAL_REGION, &central_object_arn(&b_obj)), Deny),
        row(n(&format!("{A}'s admin: kms:Decrypt on the central key directly (not through S3)")), &admin_a,
            "kms:Decrypt", central_key(), no_ctx(), Deny),
        row(n(&format!("{A}'s admin: kms:PutKeyPolicy on the central key")), &admin_a,
            "kms:PutKeyPolicy", central_key(), no_ctx(), Deny),
        row(n(&format!("{A}'s admin: kms:Decrypt on {B}'s source key via S3")), &admin_a,
            "kms:Decrypt", source_key(B), via_s3(source(B).region, &format!("arn:aws:s3:::{}", source(B).bucket)), Deny),
        // Nobody outside the central account changes central's configuration.
        row(n(&format!("{A}'s admin: s3:PutBucketVersioning on central")), &admin_a,
            "s3:PutBucketVersioning", central_bucket(), no_ctx(), Deny),
        row(n(&format!("{A}'s admin: s3:PutBucketPolicy on central")), &admin_a,
            "s3:PutBucketPolicy", central_bucket(), no_ctx(), Deny),
        row(n(&format!("{A}'s admin: s3:DeleteBucketPolicy on central")), &admin_a,
            "s3:DeleteBucketPolicy", central_bucket(), no_ctx(), Deny),
        row(n(&format!("{A}'s admin: s3:PutLifecycleConfiguration on central")), &admin_a,
            "s3:PutLifecycleConfiguration", central_bucket(), no_ctx(), Deny),
        row(n(&format!("{A}'s admin: s3:PutBucketObjectLockConfiguration on central")), &admin_a,
            "s3:PutBucketObjectLockConfiguration", central_bucket(), no_ctx(), Deny),
        row(n(&format!("{A}'s admin: s3:PutEncryptionConfiguration on central")), &admin_a,
            "s3:PutEncryptionConfiguration", central_bucket(), no_ctx(), Deny),
        // Only S3 assumes the replication role.
        row(n(&format!("{A}'s admin: sts:AssumeRole on {A}'s replication role")), &admin_a,
            "sts:AssumeRole", replication_role_resource(A), no_ctx(), Deny),
        row(n(&format!("{B}'s admin: sts:AssumeRole on {A}'s replication role")), &admin(B),
            "sts:AssumeRole", replication_role_resource(A), no_ctx(), Deny),
    ];
    // Nothing outside the organization uses either key or writes into central.
    let out = outsider();
    rows.extend([
        row(n("outside the org: kms:Decrypt on the central key via S3"), &out,
            "kms:Decrypt", central_key(), via_s3(CENTRAL_REGION, &central_arn()), Deny),
        row(n("outside the org: kms:GenerateDataKey on the central key via S3"), &out,
            "kms:GenerateDataKey", central_key(), via_s3(CENTRAL_REGION, &central_arn()), Deny),
        row(n(&format!("outside the org: kms:Decrypt on {A}'s source key via S3")), &out,
            "kms:Decrypt", source_key(A), via_s3(source(A).region, &format!("arn:aws:s3:::{}", source(A).bucket)), Deny),
        row(n(&format!("outside the org: s3:ReplicateObject into central/{OUTSIDER}/")), &out,
            "s3:ReplicateObject", central_object(&format!("{OUTSIDER}/x")), no_ctx(), Deny),
        row(n("outside the org: s3:ListBucket on central"), &out,
            "s3:ListBucket", central_bucket(), prefix(""), Deny),
    ]);
    // No request without TLS, from anyone, the central account included.
    rows.extend([
        row(n(&format!("{A}'s replication role without TLS: s3:ReplicateObject into central/{A}/")), &role_a,
            "s3:ReplicateObject", central_object(&a_obj), insecure(), Deny),
        row(n(&format!("{A}'s admin without TLS: s3:ListBucket on central, prefix {A}/")), &admin_a,
            "s3:ListBucket", central_bucket(), [prefix(&format!("{A}/")), insecure()].concat(), Deny),
        row(n("central admin without TLS: s3:GetObject on central"), &admin(CENTRAL),
            "s3:GetObject", central_object(&a_obj), insecure(), Deny),
        row(n("central admin without TLS: s3:PutBucketVersioning on central"), &admin(CENTRAL),
            "s3:PutBucketVersioning", central_bucket(), insecure(), Deny),
    ]);
    rows
}

/// The central account's admins read central; only the break-glass role changes it or its key
/// (issue 18, finding 2: T2, credentials of the central account other than that role, must not
/// destroy, shorten, encrypt or make unreadable any version, nor change central's configuration);
/// a source account administers its own key.
#[rustfmt::skip]
fn central_admin_rows() -> Vec<Value> {
    let n = |what: &str| format!("[central admin] {what}");
    let adm = admin(CENTRAL);
    let mut rows = vec![
        row(n("s3:ListBucketVersions on central"), &adm,
            "s3:ListBucketVersions", central_bucket(), prefix(&format!("{A}/")), Allow),
        row(n(&format!("s3:GetObjectVersion on central/{A}/")), &adm,
            "s3:GetObjectVersion", central_object(&format!("{A}/photos/cat.jpg")), no_ctx(), Allow),
        row(n("kms:Decrypt on the central key via S3"), &adm,
            "kms:Decrypt", central_key(), via_s3(CENTRAL_REGION, &central_arn()), Allow),
        row(n("kms:EnableKeyRotation on the central key (setup)"), &adm,
            "kms:EnableKeyRotation", central_key(), no_ctx(), Allow),
        row(format!("[source admin] {A}'s admin: kms:PutKeyPolicy on {A}'s own source key"), &admin(A),
            "kms:PutKeyPolicy", source_key(A), no_ctx(), Allow),
    ];
    // What a central admin, or a pipeline holding central credentials, must never do.
    let bucket_never: &[(&str, Target)] = &[
        ("s3:DeleteObjectVersion", central_object(&format!("{A}/photos/cat.jpg"))),
        ("s3:DeleteObject", central_object(&format!("{A}/photos/cat.jpg"))),
        ("s3:PutObject", central_object(&format!("{A}/photos/cat.jpg"))),
        ("s3:PutObjectRetention", central_object(&format!("{A}/photos/cat.jpg"))),
        ("s3:BypassGovernanceRetention", central_object(&format!("{A}/photos/cat.jpg"))),
        ("s3:PutObjectAcl", central_object(&format!("{A}/photos/cat.jpg"))),
        ("s3:PutObjectTagging", central_object(&format!("{A}/photos/cat.jpg"))),
        ("s3:PutBucketVersioning", central_bucket()),
        ("s3:PutBucketPolicy", central_bucket()),
        ("s3:DeleteBucketPolicy", central_bucket()),
        ("s3:PutLifecycleConfiguration", central_bucket()),
        ("s3:PutBucketObjectLockConfiguration", central_bucket()),
        ("s3:PutEncryptionConfiguration", central_bucket()),
        ("s3:PutReplicationConfiguration", central_bucket()),
        ("s3:PutBucketOwnershipControls", central_bucket()),
        ("s3:PutBucketPublicAccessBlock", central_bucket()),
        ("s3:PutBucketAcl", central_bucket()),
        ("s3:DeleteBucket", central_bucket()),
    ];
    for (action, target) in bucket_never {
        rows.push(row(n(&format!("[never] {action} on central")), &adm, action, target.clone(), no_ctx(), Deny));
    }
    for action in ["kms:DisableKey", "kms:ScheduleKeyDeletion", "kms:PutKeyPolicy", "kms:CreateGrant",
                   "kms:DisableKeyRotation", "kms:ImportKeyMaterial", "kms:DeleteImportedKeyMaterial",
                   "kms:ReplicateKey"] {
        rows.push(row(n(&format!("[never] {action} on the central key")), &adm,
            action, central_key(), no_ctx(), Deny));
    }
    // The break-glass role can still do its job: every one of those is allowed to it alone.
    let bg = break_glass();
    let b = |what: &str| format!("[break-glass] {what}");
    for (action, target) in bucket_never {
        rows.push(row(b(&format!("{action} on central")), &bg, action, target.clone(), no_ctx(), Allow));
    }
    for action in ["kms:DisableKey", "kms:ScheduleKeyDeletion", "kms:PutKeyPolicy", "kms:CreateGrant", "kms:CancelKeyDeletion"] {
        rows.push(row(b(&format!("{action} on the central key")), &bg, action, central_key(), no_ctx(), Allow));
    }
    // A role of the same name in another account is not the break-glass role.
    rows.push(row(b(&format!("[never] a role named like it in {A}: s3:DeleteObjectVersion on central")),
        &Actor {
            principal: format!("arn:aws:sts::{A}:assumed-role/{BREAK_GLASS_NAME}/x"),
            principal_arn: Some(format!("arn:aws:iam::{A}:role/{BREAK_GLASS_NAME}")),
            account: Some(A.to_owned()),
            org: Some(ORG),
            policies: vec![("AdministratorAccess".into(), administrator_access())],
        },
        "s3:DeleteObjectVersion", central_object(&format!("{A}/photos/cat.jpg")), no_ctx(), Deny));
    rows
}

/// Every request `restore --account <account>` makes as the restore role setup provisions
/// (server-side copy, no bytes through the machine), and what that role must never reach.
#[rustfmt::skip]
fn restore_rows(account: &str) -> Vec<Value> {
    let s = source(account);
    let other = if account == A { B } else { A };
    let role = restore_role(account);
    let obj = format!("{account}/photos/cat.jpg");
    let theirs = format!("{other}/photos/cat.jpg");
    let src_bucket_arn = format!("arn:aws:s3:::{}", s.bucket);
    let n = |what: &str| format!("[restore {account}] {what}");
    vec![
        // restore assumes the role from the central account (the default trusted principal).
        row(n("central admin: sts:AssumeRole on the restore role"), &admin(CENTRAL),
            "sts:AssumeRole", restore_role_resource(account), no_ctx(), Allow),
        row(n(&format!("{other}'s admin: sts:AssumeRole on the restore role")), &admin(other),
            "sts:AssumeRole", restore_role_resource(account), no_ctx(), Deny),
        // The trust holds only inside the organization (issue 18, finding 3).
        row(n("[never] a central-account principal outside the organization: sts:AssumeRole on the restore role"),
            &Actor { org: Some(OTHER_ORG), ..admin(CENTRAL) },
            "sts:AssumeRole", restore_role_resource(account), no_ctx(), Deny),
        row(n("[never] an outsider: sts:AssumeRole on the restore role"), &outsider(),
            "sts:AssumeRole", restore_role_resource(account), no_ctx(), Deny),
        // Reading central: only the account's own prefix.
        row(n(&format!("s3:ListBucketVersions on central, prefix {account}/")), &role,
            "s3:ListBucketVersions", central_bucket(), prefix(&format!("{account}/")), Allow),
        row(n(&format!("s3:ListBucketVersions on central, prefix {account}/docs/")), &role,
            "s3:ListBucketVersions", central_bucket(), prefix(&format!("{account}/docs/")), Allow),
        row(n(&format!("s3:GetObjectVersion on central/{account}/ (CopyObject source, HeadObject)")), &role,
            "s3:GetObjectVersion", central_object(&obj), no_ctx(), Allow),
        row(n(&format!("s3:GetObjectVersionTagging on central/{account}/ (tags copied)")), &role,
            "s3:GetObjectVersionTagging", central_object(&obj), no_ctx(), Allow),
        row(n(&format!("s3:RestoreObject on central/{account}/ (archived versions)")), &role,
            "s3:RestoreObject", central_object(&obj), no_ctx(), Allow),
        row(n(&format!("[never] s3:RestoreObject on central/{other}/")), &role,
            "s3:RestoreObject", central_object(&theirs), no_ctx(), Deny),
        row(n("kms:Decrypt on the central key via S3 (Bucket Keys on)"), &role,
            "kms:Decrypt", central_key(), via_s3(CENTRAL_REGION, &central_arn()), Allow),
        row(n("kms:Decrypt on the central key via S3 (object context)"), &role,
            "kms:Decrypt", central_key(), via_s3(CENTRAL_REGION, &central_object_arn(&obj)), Allow),
        // Writing the account's own bucket with its own key.
        row(n("s3:ListBucket on its own bucket (HeadBucket, delta listing)"), &role,
            "s3:ListBucket", source_bucket(account), prefix(&format!("{account}/")), Allow),
        row(n("s3:ListBucketVersions on its own bucket"), &role,
            "s3:ListBucketVersions", source_bucket(account), prefix(&format!("{account}/")), Allow),
        row(n("s3:GetBucketVersioning on its own bucket"), &role,
            "s3:GetBucketVersioning", source_bucket(account), no_ctx(), Allow),
        row(n("s3:GetEncryptionConfiguration on its own bucket"), &role,
            "s3:GetEncryptionConfiguration", source_bucket(account), no_ctx(), Allow),
        row(n("s3:PutObject into its own bucket (CopyObject target, UploadPartCopy)"), &role,
            "s3:PutObject", source_object(account, &obj), no_ctx(), Allow),
        row(n("s3:PutObjectTagging in its own bucket"), &role,
            "s3:PutObjectTagging", source_object(account, &obj), no_ctx(), Allow),
        row(n("s3:PutObject into its own bucket under its own key (CopyObject, CreateMultipartUpload)"), &role,
            "s3:PutObject", source_object(account, &obj), sse_kms(&s.key_arn), Allow),
        // `restore --engine batch` as this role (issue 19, finding 1).
        row(n("s3:CreateJob of a copy job (S3PutObjectCopy)"), &role,
            "s3:CreateJob", any_resource(account), vec![("s3:RequestJobOperation", json!("S3PutObjectCopy"))], Allow),
        row(n("[never] s3:CreateJob of another operation (S3DeleteObjectTagging)"), &role,
            "s3:CreateJob", any_resource(account), vec![("s3:RequestJobOperation", json!("S3DeleteObjectTagging"))], Deny),
        row(n("s3:ListJobs (finding its own job again)"), &role,
            "s3:ListJobs", any_resource(account), no_ctx(), Allow),
        row(n("s3:DescribeJob (following the job)"), &role,
            "s3:DescribeJob", Target { arn: format!("arn:aws:s3:{}:{account}:job/0b2c3d4e", s.region), account: account.into(), policy: None },
            no_ctx(), Allow),
        row(n("iam:PassRole of the batch restore role to S3 Batch Operations"), &role,
            "iam:PassRole", role_target(account, BATCH_RESTORE_ROLE),
            vec![("iam:PassedToService", json!("batchoperations.s3.amazonaws.com"))], Allow),
        row(n("[never] iam:PassRole of the batch restore role to another service"), &role,
            "iam:PassRole", role_target(account, BATCH_RESTORE_ROLE),
            vec![("iam:PassedToService", json!("lambda.amazonaws.com"))], Deny),
        row(n("[never] iam:PassRole of the replication role"), &role,
            "iam:PassRole", role_target(account, REPLICATION_ROLE),
            vec![("iam:PassedToService", json!("batchoperations.s3.amazonaws.com"))], Deny),
        // Only under the account's own key (issue 18, finding 3).
        row(n("[never] s3:PutObject into its own bucket under another KMS key"), &role,
            "s3:PutObject", source_object(account, &obj), sse_kms(&source(other).key_arn), Deny),
        row(n("[never] s3:PutObject into its own bucket with SSE-S3"), &role,
            "s3:PutObject", source_object(account, &obj),
            vec![("s3:x-amz-server-side-encryption", json!("AES256"))], Deny),
        row(n("[never] s3:PutObject into its own bucket with a customer-provided key (SSE-C)"), &role,
            "s3:PutObject", source_object(account, &obj),
            vec![("s3:x-amz-server-side-encryption-customer-algorithm", json!("AES256"))], Deny),
        row(n("s3:GetObjectVersion in its own bucket (delta HeadObject)"), &role,
            "s3:GetObjectVersion", source_object(account, &obj), no_ctx(), Allow),
        row(n("s3:AbortMultipartUpload in its own bucket"), &role,
            "s3:AbortMultipartUpload", source_object(account, &obj), no_ctx(), Allow),
        row(n("kms:DescribeKey on its own key (checked before the first write)"), &role,
            "kms:DescribeKey", source_key(account), no_ctx(), Allow),
        row(n("kms:GenerateDataKey on its own key via S3 (Bucket Keys on)"), &role,
            "kms:GenerateDataKey", source_key(account), via_s3(s.region, &src_bucket_arn), Allow),
        row(n("kms:Decrypt on its own key via S3 (multipart)"), &role,
            "kms:Decrypt", source_key(account), via_s3(s.region, &format!("{src_bucket_arn}/{obj}")), Allow),
        // Never: another account's keys, listing all of central, writing or deleting in central.
        row(n(&format!("[never] s3:ListBucketVersions on central, prefix {other}/")), &role,
            "s3:ListBucketVersions", central_bucket(), prefix(&format!("{other}/")), Deny),
        row(n("[never] s3:ListBucket on central without a prefix"), &role,
            "s3:ListBucket", central_bucket(), prefix(""), Deny),
        row(n(&format!("[never] s3:GetObjectVersion on central/{other}/")), &role,
            "s3:GetObjectVersion", central_object(&theirs), no_ctx(), Deny),
        row(n(&format!("[never] kms:Decrypt on the central key for central/{other}/ objects")), &role,
            "kms:Decrypt", central_key(), via_s3(CENTRAL_REGION, &central_object_arn(&theirs)), Deny),
        row(n("[never] kms:Decrypt on the central key directly"), &role,
            "kms:Decrypt", central_key(), no_ctx(), Deny),
        row(n("[never] s3:PutObject into central"), &role,
            "s3:PutObject", central_object(&obj), no_ctx(), Deny),
        row(n("[never] s3:DeleteObjectVersion in central"), &role,
            "s3:DeleteObjectVersion", central_object(&obj), no_ctx(), Deny),
        row(n(&format!("[never] s3:PutObject into {other}'s bucket")), &role,
            "s3:PutObject", source_object(other, &theirs), no_ctx(), Deny),
        row(n(&format!("[never] kms:GenerateDataKey on {other}'s key")), &role,
            "kms:GenerateDataKey", source_key(other), via_s3(source(other).region, &format!("arn:aws:s3:::{}", source(other).bucket)), Deny),
        row(n("[never] s3:PutObject into central without TLS"), &role,
            "s3:PutObject", central_object(&obj), insecure(), Deny),
    ]
}

/// S3 Batch Operations as the account's batch replication role: the backfill job of existing
/// objects (S3ReplicateObject with a generated manifest), then the replication itself, which S3
/// performs as the replication role (the `[replicate]` rows).
#[rustfmt::skip]
fn backfill_rows(account: &str) -> Vec<Value> {
    let s = source(account);
    let other = if account == A { B } else { A };
    let batch = Actor {
        principal: format!("arn:aws:sts::{account}:assumed-role/{BATCH_REPLICATION_ROLE}/batch"),
        principal_arn: Some(format!("arn:aws:iam::{account}:role/{BATCH_REPLICATION_ROLE}")),
        account: Some(account.to_owned()),
        org: Some(ORG),
        policies: vec![(format!("{BATCH_REPLICATION_ROLE} (setup)"), product_doc(
            || batch_replication_role_policy(account, &s.bucket),
            |t| t.member_role(account, "BatchReplicationRole", "policy"),
        ))],
    };
    let role_resource = Target {
        arn: format!("arn:aws:iam::{account}:role/{BATCH_REPLICATION_ROLE}"),
        account: account.into(),
        policy: Some(("resourcePolicy", "batch role trust policy".into(), product_doc(
            || batch_replication_trust_policy(account),
            |t| t.member_role(account, "BatchReplicationRole", "trust"),
        ))),
    };
    let batch_service = Actor { principal: "batchoperations.s3.amazonaws.com".into(), ..s3_service() };
    let obj = format!("{account}/photos/cat.jpg");
    let report = format!("{}/job-1/results/x.csv", backfill_report_prefix(account));
    let n = |what: &str| format!("[backfill {account}] {what}");
    vec![
        row(n("batchoperations.s3.amazonaws.com: sts:AssumeRole on the batch role"), &batch_service,
            "sts:AssumeRole", role_resource.clone(), vec![("aws:SourceAccount", json!(account))], Allow),
        row(n("batchoperations.s3.amazonaws.com: sts:AssumeRole on the batch role, no aws:SourceAccount sent"), &batch_service,
            "sts:AssumeRole", role_resource.clone(), no_ctx(), Allow),
        // Confused deputy: a job of another account (issue 18, finding 10).
        row(n("[never] batchoperations.s3.amazonaws.com for another account's job: sts:AssumeRole on the batch role"), &batch_service,
            "sts:AssumeRole", role_resource,
            vec![("aws:SourceAccount", json!(OUTSIDER)),
                 ("aws:SourceArn", json!(format!("arn:aws:s3:us-east-1:{OUTSIDER}:job/attacker")))], Deny),
        row(n("s3:GetReplicationConfiguration on its bucket"), &batch,
            "s3:GetReplicationConfiguration", source_bucket(account), no_ctx(), Allow),
        row(n("s3:PutInventoryConfiguration on its bucket (manifest generator)"), &batch,
            "s3:PutInventoryConfiguration", source_bucket(account), no_ctx(), Allow),
        row(n(&format!("s3:InitiateReplication on {account}/ objects")), &batch,
            "s3:InitiateReplication", source_object(account, &obj), no_ctx(), Allow),
        row(n("s3:PutObject of the completion report"), &batch,
            "s3:PutObject", source_object(account, &report), no_ctx(), Allow),
        row(n("[never] s3:InitiateReplication outside the account prefix"), &batch,
            "s3:InitiateReplication", source_object(account, "other/x"), no_ctx(), Deny),
        row(n("[never] s3:PutObject elsewhere in its bucket"), &batch,
            "s3:PutObject", source_object(account, &obj), no_ctx(), Deny),
        row(n("[never] s3:ReplicateObject into central"), &batch,
            "s3:ReplicateObject", central_object(&obj), no_ctx(), Deny),
        row(n(&format!("[never] s3:InitiateReplication on {other}'s bucket")), &batch,
            "s3:InitiateReplication", source_object(other, &format!("{other}/x")), no_ctx(), Deny),
    ]
}

/// `restore --engine batch`: S3 Batch Operations as the account's batch restore role, copying
/// each listed version from the account's prefix in central into its own bucket.
#[rustfmt::skip]
fn batch_restore_rows(account: &str) -> Vec<Value> {
    let s = source(account);
    let other = if account == A { B } else { A };
    let role = Actor {
        principal: format!("arn:aws:sts::{account}:assumed-role/{BATCH_RESTORE_ROLE}/batch"),
        principal_arn: Some(format!("arn:aws:iam::{account}:role/{BATCH_RESTORE_ROLE}")),
        account: Some(account.to_owned()),
        org: Some(ORG),
        policies: vec![(format!("{BATCH_RESTORE_ROLE} (setup)"), restore_policy_for_batch(account))],
    };
    let obj = format!("{account}/photos/cat.jpg");
    let theirs = format!("{other}/photos/cat.jpg");
    let manifest = format!("{account}/.s3central/batch/r/manifest-d.csv");
    let n = |what: &str| format!("[batch restore {account}] {what}");
    vec![
        row(n(&format!("s3:GetObjectVersion on central/{account}/")), &role,
            "s3:GetObjectVersion", central_object(&obj), no_ctx(), Allow),
        row(n(&format!("s3:GetObjectVersionTagging on central/{account}/")), &role,
            "s3:GetObjectVersionTagging", central_object(&obj), no_ctx(), Allow),
        row(n("kms:Decrypt on the central key via S3 (Bucket Keys on)"), &role,
            "kms:Decrypt", central_key(), via_s3(CENTRAL_REGION, &central_arn()), Allow),
        row(n("s3:PutObject into its own bucket"), &role,
            "s3:PutObject", source_object(account, &obj), no_ctx(), Allow),
        row(n("s3:PutObjectTagging in its own bucket"), &role,
            "s3:PutObjectTagging", source_object(account, &obj), no_ctx(), Allow),
        row(n("s3:GetObject of the manifest in its own bucket"), &role,
            "s3:GetObject", source_object(account, &manifest), no_ctx(), Allow),
        row(n("kms:GenerateDataKey on its own key via S3"), &role,
            "kms:GenerateDataKey", source_key(account), via_s3(s.region, &format!("arn:aws:s3:::{}", s.bucket)), Allow),
        row(n(&format!("[never] s3:GetObjectVersion on central/{other}/")), &role,
            "s3:GetObjectVersion", central_object(&theirs), no_ctx(), Deny),
        row(n("[never] s3:ListBucket on central"), &role,
            "s3:ListBucket", central_bucket(), prefix(&format!("{account}/")), Deny),
        row(n("[never] s3:PutObject into central"), &role,
            "s3:PutObject", central_object(&obj), no_ctx(), Deny),
        row(n(&format!("[never] s3:PutObject into {other}'s bucket")), &role,
            "s3:PutObject", source_object(other, &theirs), no_ctx(), Deny),
    ]
}

/// The batch restore role's inline policy, exactly as setup writes it for `account`.
fn restore_policy_for_batch(account: &str) -> Value {
    product_doc(
        || policy_for(account, batch_restore_role_policy),
        |t| t.member_role(account, "BatchRestoreRole", "policy"),
    )
}

/// A role document of `account` made by the product's own function, with the inputs setup passes.
fn policy_for(account: &str, document: fn(&RolePolicyInput<'_>) -> Value) -> Value {
    let s = source(account);
    document(&RolePolicyInput {
        replicate_deletes: false,
        account: s.account,
        source_bucket: &s.bucket,
        central_bucket: CENTRAL_BUCKET,
        source_key_arn: &s.key_arn,
        central_key_arn: CENTRAL_KEY,
        source_region: s.region,
        central_region: CENTRAL_REGION,
    })
}

/// What setup and status do: the central account's admin on central, and the role setup assumes
/// in each source account (OrganizationAccountAccessRole: AdministratorAccess there) on its own.
#[rustfmt::skip]
fn setup_rows() -> Vec<Value> {
    let n = |what: &str| format!("[setup/status] {what}");
    let adm = admin(CENTRAL);
    let src = admin(A);
    let a_bucket = source_bucket(A);
    vec![
        row(n("central admin: kms:DescribeKey on the central key (replica key check)"), &adm,
            "kms:DescribeKey", central_key(), no_ctx(), Allow),
        row(n("central admin: kms:GetKeyPolicy on the central key"), &adm,
            "kms:GetKeyPolicy", central_key(), no_ctx(), Allow),
        row(n("central admin: s3:GetBucketPolicy on central"), &adm,
            "s3:GetBucketPolicy", central_bucket(), no_ctx(), Allow),
        // On a guarded central only the break-glass role changes it (the central admin's
        // attempt is a [central admin] [never] row); setup plans such changes as refused.
        row(n("the break-glass role: s3:PutEncryptionConfiguration on central"), &break_glass(),
            "s3:PutEncryptionConfiguration", central_bucket(), no_ctx(), Allow),
        row(n(&format!("{A}'s setup role: s3:PutReplicationConfiguration on its bucket")), &src,
            "s3:PutReplicationConfiguration", a_bucket, no_ctx(), Allow),
        row(n(&format!("{A}'s setup role: s3:GetReplicationConfiguration on its bucket")), &src,
            "s3:GetReplicationConfiguration", source_bucket(A), no_ctx(), Allow),
        row(n(&format!("{A}'s setup role: kms:PutKeyPolicy on its key")), &src,
            "kms:PutKeyPolicy", source_key(A), no_ctx(), Allow),
        row(n(&format!("{A}'s setup role: kms:ListResourceTags on its key (finding a tagged key)")), &src,
            "kms:ListResourceTags", source_key(A), no_ctx(), Allow),
        row(n(&format!("{A}'s status: s3:GetObject on its own bucket (replication status)")), &src,
            "s3:GetObject", source_object(A, &format!("{A}/x")), no_ctx(), Allow),
        row(n(&format!("[never] {A}'s setup role: s3:PutBucketPolicy on central")), &src,
            "s3:PutBucketPolicy", central_bucket(), no_ctx(), Deny),
        row(n(&format!("[never] {A}'s setup role: kms:PutKeyPolicy on the central key")), &src,
            "kms:PutKeyPolicy", central_key(), no_ctx(), Deny),
    ]
}

/// Rows about the evaluator itself: each documents one of its limits with the outcome it gives
/// (not AWS's). If a new version of the evaluator lifts a limit, its canary fails: then drop the
/// bridge in evaluate.mjs and this row, and update tests/iam/README.md.
fn canary_rows() -> Vec<Value> {
    let s = source(A);
    let mut unbridged = row(
        "[evaluator canary] without the bridge kms:EncryptionContext:aws:s3:arn is dropped (AWS allows)".into(),
        &replication_role(A),
        "kms:Decrypt",
        source_key(A),
        via_s3(s.region, &format!("arn:aws:s3:::{}", s.bucket)),
        Deny,
    );
    unbridged["bridge"] = json!(false);
    unbridged["expectIgnoredContextKeys"] = json!(["kms:EncryptionContext:aws:s3:arn"]);
    // Not a product document: the smallest policy that shows the ARN-splitting limit.
    let mut arn_like = row(
        "[evaluator canary] ArnLike with ${aws:PrincipalAccount} in the value never matches here"
            .into(),
        &replication_role(A),
        "s3:GetObject",
        central_object(&format!("{A}/x")),
        no_ctx(),
        Deny,
    );
    arn_like["identityPolicies"] = json!([{"name": "allow", "policy": administrator_access()}]);
    arn_like["resourcePolicy"] = json!({"name": "ArnLike with a variable", "policy": {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::{CENTRAL_BUCKET}/*"),
            "Condition": {"ArnLike": {"aws:PrincipalArn":
                format!("arn:aws:iam::${{aws:PrincipalAccount}}:role/{REPLICATION_ROLE}")}}
        }]
    }});
    vec![unbridged, arn_like]
}

/// The rows whose documents are all of kinds the exported templates hold (every row but listed
/// enrollment and replicate_deletes, which the export refuses, and the evaluator's canaries).
fn exportable_rows() -> Vec<Value> {
    let mut rows = Vec::new();
    for s in sources() {
        rows.extend(replication_rows(s.account));
        rows.extend(restore_rows(s.account));
        rows.extend(backfill_rows(s.account));
        rows.extend(batch_restore_rows(s.account));
    }
    rows.extend(must_never_rows());
    rows.extend(setup_rows());
    rows.extend(central_admin_rows());
    rows.extend(alerts_rows());
    rows
}

/// [`exportable_rows`] built from the templates' documents, named `[template] ...`.
fn template_rows() -> Vec<Value> {
    DOCS.with(|d| d.set(Docs::Templates));
    let mut rows = exportable_rows();
    DOCS.with(|d| d.set(Docs::Setup));
    for r in &mut rows {
        r["name"] = json!(format!(
            "[template] {}",
            r["name"].as_str().unwrap_or_default()
        ));
    }
    rows
}

fn all_rows() -> Vec<Value> {
    let mut rows = exportable_rows();
    rows.extend(listed_enrollment_rows());
    rows.extend(replicate_deletes_rows());
    rows.extend(canary_rows());
    rows.extend(alerts_setup_rows());
    rows.extend(template_rows());
    rows
}

/// `replicate_deletes` for A only (issue 20): A's replication role may replicate delete markers
/// into A's own prefix and nowhere else; B (not opted in), A's other principals, outsiders and
/// the central account's admins may not; nothing else is widened; the break-glass role still may.
#[rustfmt::skip]
fn replicate_deletes_rows() -> Vec<Value> {
    let deleting = vec![A.to_owned()];
    let input = CentralInput { replicating_deletes: &deleting, ..central_input() };
    let bucket = Target {
        policy: Some(("resourcePolicy", "central bucket policy (A replicates deletes)".into(), central_bucket_policy(&input))),
        ..central_bucket()
    };
    let object = |key: &str| Target { arn: central_object_arn(key), ..bucket.clone() };
    let a_role = {
        let s = source(A);
        let mut actor = replication_role(A);
        actor.policies = vec![(format!("{REPLICATION_ROLE} (setup, replicate_deletes)"), replication_role_policy(&RolePolicyInput {
            replicate_deletes: true,
            account: s.account,
            source_bucket: &s.bucket,
            central_bucket: CENTRAL_BUCKET,
            source_key_arn: &s.key_arn,
            central_key_arn: CENTRAL_KEY,
            source_region: s.region,
            central_region: CENTRAL_REGION,
        }))];
        actor
    };
    let n = |what: &str| format!("[deletes] {what}");
    let (a_obj, b_obj) = (format!("{A}/photos/cat.jpg"), format!("{B}/photos/cat.jpg"));
    vec![
        row(n(&format!("{A}'s replication role: s3:ReplicateDelete (a delete marker) into central/{A}/")), &a_role,
            "s3:ReplicateDelete", object(&a_obj), no_ctx(), Allow),
        row(n(&format!("{A}'s replication role: s3:ReplicateObject into central/{A}/ still")), &a_role,
            "s3:ReplicateObject", object(&a_obj), no_ctx(), Allow),
        row(n("break-glass: s3:ReplicateDelete on central"), &break_glass(),
            "s3:ReplicateDelete", object(&a_obj), no_ctx(), Allow),
        row(n(&format!("[never] {A}'s replication role: s3:ReplicateDelete into central/{B}/")), &a_role,
            "s3:ReplicateDelete", object(&b_obj), no_ctx(), Deny),
        row(n(&format!("[never] {A}'s widened replication role: s3:ReplicateDelete into central/{B}/")), &widened(a_role.clone()),
            "s3:ReplicateDelete", object(&b_obj), no_ctx(), Deny),
        row(n(&format!("[never] {A}'s widened replication role: s3:DeleteObjectVersion on central/{A}/")), &widened(a_role.clone()),
            "s3:DeleteObjectVersion", object(&a_obj), no_ctx(), Deny),
        row(n(&format!("[never] {A}'s widened replication role: s3:PutLifecycleConfiguration on central")), &widened(a_role.clone()),
            "s3:PutLifecycleConfiguration", bucket.clone(), no_ctx(), Deny),
        row(n(&format!("[never] {A}'s admin: s3:ReplicateDelete into central/{A}/")), &admin(A),
            "s3:ReplicateDelete", object(&a_obj), no_ctx(), Deny),
        row(n(&format!("[never] {B}'s replication role (not opted in): s3:ReplicateDelete into central/{B}/")), &replication_role(B),
            "s3:ReplicateDelete", object(&b_obj), no_ctx(), Deny),
        row(n(&format!("[never] {B}'s widened replication role (not opted in): s3:ReplicateDelete into central/{B}/")), &widened(replication_role(B)),
            "s3:ReplicateDelete", object(&b_obj), no_ctx(), Deny),
        row(n("[never] an outsider's role named like ours: s3:ReplicateDelete into central"), &outsider(),
            "s3:ReplicateDelete", object(&format!("{OUTSIDER}/x")), no_ctx(), Deny),
        row(n("[never] central admin: s3:ReplicateDelete on central"), &admin(CENTRAL),
            "s3:ReplicateDelete", object(&a_obj), no_ctx(), Deny),
        row(n("[never] central admin: s3:DeleteObjectVersion on central"), &admin(CENTRAL),
            "s3:DeleteObjectVersion", object(&a_obj), no_ctx(), Deny),
    ]
}

/// `enrollment = "listed"` with only A enrolled (issue 18, finding 5): B is in the organization
/// and has s3central's roles, but may neither replicate into central, nor read its prefix, nor
/// start archive retrievals central pays for, nor use the central key; A and central still may.
#[rustfmt::skip]
fn listed_enrollment_rows() -> Vec<Value> {
    let enrolled = vec![A.to_owned()];
    let input = CentralInput { enrolled: Some(&enrolled), ..central_input() };
    let bucket = Target {
        policy: Some(("resourcePolicy", "central bucket policy (listed)".into(), central_bucket_policy(&input))),
        ..central_bucket()
    };
    let object = |key: &str| Target { arn: central_object_arn(key), ..bucket.clone() };
    let key = Target {
        policy: Some(("kmsKeyPolicy", "central key policy (listed)".into(), central_key_policy(&input))),
        ..central_key()
    };
    let n = |what: &str| format!("[listed] {what}");
    let (a_obj, b_obj) = (format!("{A}/photos/cat.jpg"), format!("{B}/photos/cat.jpg"));
    vec![
        row(n(&format!("{A}'s replication role: s3:ReplicateObject into central/{A}/")), &replication_role(A),
            "s3:ReplicateObject", object(&a_obj), no_ctx(), Allow),
        row(n(&format!("{A}'s replication role: kms:GenerateDataKey on the central key via S3")), &replication_role(A),
            "kms:GenerateDataKey", key.clone(), via_s3(CENTRAL_REGION, &central_arn()), Allow),
        row(n(&format!("{A}'s restore role: s3:RestoreObject on central/{A}/")), &restore_role(A),
            "s3:RestoreObject", object(&a_obj), no_ctx(), Allow),
        row(n("central admin: s3:GetObjectVersion on central"), &admin(CENTRAL),
            "s3:GetObjectVersion", object(&a_obj), no_ctx(), Allow),
        row(n(&format!("[never] {B}'s replication role (not enrolled): s3:ReplicateObject into central/{B}/")), &replication_role(B),
            "s3:ReplicateObject", object(&b_obj), no_ctx(), Deny),
        row(n(&format!("[never] {B}'s replication role (not enrolled): kms:GenerateDataKey on the central key via S3")), &replication_role(B),
            "kms:GenerateDataKey", key.clone(), via_s3(CENTRAL_REGION, &central_arn()), Deny),
        row(n(&format!("[never] {B}'s restore role (not enrolled): s3:RestoreObject on central/{B}/")), &restore_role(B),
            "s3:RestoreObject", object(&b_obj), no_ctx(), Deny),
        row(n(&format!("[never] {B}'s restore role (not enrolled): s3:GetObjectVersion on central/{B}/")), &restore_role(B),
            "s3:GetObjectVersion", object(&b_obj), no_ctx(), Deny),
        row(n(&format!("[never] {B}'s restore role (not enrolled): s3:ListBucketVersions on central, prefix {B}/")), &restore_role(B),
            "s3:ListBucketVersions", bucket.clone(), prefix(&format!("{B}/")), Deny),
        row(n(&format!("[never] {B}'s restore role (not enrolled): kms:Decrypt on the central key via S3")), &restore_role(B),
            "kms:Decrypt", key, via_s3(CENTRAL_REGION, &central_object_arn(&b_obj)), Deny),
    ]
}

fn harness_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("iam")
}

/// Fails with what to do when the evaluator is not installed, or not the pinned version.
fn check_installed(dir: &Path) {
    let installed = dir.join("node_modules/@cloud-copilot/iam-simulate/package.json");
    let help = "run scripts/test (it installs node if needed and runs `npm ci --prefix tests/iam`)";
    let text = std::fs::read_to_string(&installed).unwrap_or_else(|_| {
        panic!(
            "the IAM policy evaluator is not installed ({} is missing): {help}",
            installed.display()
        )
    });
    let got: Value = serde_json::from_str(&text).expect("iam-simulate's package.json");
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("package.json")).expect("tests/iam/package.json"),
    )
    .expect("tests/iam/package.json is JSON");
    let pinned = &manifest["dependencies"]["@cloud-copilot/iam-simulate"];
    assert_eq!(
        &got["version"], pinned,
        "tests/iam/node_modules holds iam-simulate {} but package.json pins {pinned}: {help}",
        got["version"]
    );
}

/// Runs the evaluator on the rows; one result per row, by name.
fn evaluate(rows: &[Value]) -> BTreeMap<String, Value> {
    let dir = harness_dir();
    check_installed(&dir);
    let mut child = Command::new("node")
        .arg(dir.join("evaluate.mjs"))
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node ({e}): run scripts/test, which installs it"));
    let input = json!({ "rows": rows }).to_string();
    // To run the evaluator by hand: S3CENTRAL_MATRIX_ROWS=rows.json cargo test --test it matrix,
    // then `node tests/iam/evaluate.mjs --explain-all < rows.json`.
    if let Some(path) = std::env::var_os("S3CENTRAL_MATRIX_ROWS") {
        std::fs::write(&path, &input).expect("write S3CENTRAL_MATRIX_ROWS");
    }
    // The evaluator reads all of stdin before it writes anything: no deadlock.
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write rows to the evaluator");
    let out = child.wait_with_output().expect("evaluator output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // 0: all rows hold, 1: some do not (still all printed); anything else: unusable input or a crash.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "the evaluator failed ({}):\n{stderr}\n{stdout}",
        out.status
    );
    let mut results = BTreeMap::new();
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("evaluator printed a line that is not JSON ({e}): {line}"));
        let name = v["name"].as_str().expect("result has a name").to_owned();
        results.insert(name, v);
    }
    assert_eq!(
        results.len(),
        rows.len(),
        "one result per row expected; stderr:\n{stderr}"
    );
    results
}

/// The evaluator's explanation of a row, one statement a line.
fn explain_text(e: &Value) -> String {
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    let statement = |s: &Value| {
        let mut line = format!(
            "      {} {} [{}]: action {}, resource {}, principal {}, conditions {}",
            text(&s["effect"]),
            text(&s["policy"]),
            text(&s["sid"]),
            if s["actionMatch"] == true {
                "matches"
            } else {
                "differs"
            },
            if s["resourceMatch"] == true {
                "matches"
            } else {
                "differs"
            },
            text(&s["principalMatch"]),
            if s["conditionMatch"] == true {
                "match"
            } else {
                "fail"
            },
        );
        for r in s["resources"].as_array().into_iter().flatten() {
            line += &format!("\n        resource {}", text(&r["resource"]));
            if let Some(resolved) = r["resolvedValue"].as_str() {
                line += &format!(" (resolved: {resolved})");
            }
        }
        for c in s["conditions"].as_array().into_iter().flatten() {
            let values: Vec<String> = c["values"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| {
                    format!(
                        "{}{}",
                        text(&v["value"]),
                        if v["matches"] == true {
                            " (matches)"
                        } else {
                            ""
                        }
                    )
                })
                .collect();
            line += &format!(
                "\n        {} {} {:?}: {}{}",
                text(&c["operator"]),
                text(&c["key"]),
                values,
                if c["matches"] == true {
                    "matches"
                } else {
                    "fails"
                },
                if c["failedBecauseMissing"] == true {
                    " (key missing from the request)"
                } else {
                    ""
                },
            );
        }
        if let Some(note) = s["note"].as_str() {
            line += &format!(" ({note})");
        }
        line
    };
    let mut out = format!(
        "    same account: {}, identity policies: {}, resource policy: {}{}\n    reasons: {}",
        e["sameAccount"],
        text(&e["identityPolicyResult"]),
        text(&e["resourcePolicyResult"]),
        e.get("blockedBy")
            .map(|b| format!(", blocked by {b}"))
            .unwrap_or_default(),
        e["reasons"],
    );
    let decided: Vec<String> = e["decidingStatements"]
        .as_array()
        .into_iter()
        .flatten()
        .map(statement)
        .collect();
    if !decided.is_empty() {
        out += &format!("\n    deciding statements:\n{}", decided.join("\n"));
    }
    let near: Vec<String> = e["nearMisses"]
        .as_array()
        .into_iter()
        .flatten()
        .map(statement)
        .collect();
    if !near.is_empty() {
        out += &format!("\n    statements that came close:\n{}", near.join("\n"));
    }
    out
}

#[test]
fn permission_matrix_on_the_documents_setup_writes() {
    let rows = all_rows();
    let names: BTreeSet<&str> = rows.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names.len(), rows.len(), "row names must be unique");
    let known: BTreeMap<&str, u32> = KNOWN_FINDINGS.iter().copied().collect();
    let mut problems = Vec::new();
    for name in known.keys() {
        if !names.contains(name) {
            problems.push(format!(
                "KNOWN_FINDINGS names a row that does not exist: {name:?}"
            ));
        }
    }

    let results = evaluate(&rows);
    let (mut allow, mut deny, mut findings) = (0, 0, Vec::new());
    for r in &rows {
        let name = r["name"].as_str().unwrap_or_default();
        if r["expect"] == "Allow" {
            allow += 1;
        } else {
            deny += 1;
        }
        let res = &results[name];
        let ok = res["ok"] == true;
        let summary = format!(
            "{name}\n    expected {}, evaluator says {} ({}){}{}",
            res["expect"].as_str().unwrap_or("?"),
            res["decision"].as_str().unwrap_or("nothing"),
            res["result"].as_str().unwrap_or("-"),
            match res["error"].as_str() {
                Some(e) => format!("\n    error: {e}"),
                None => String::new(),
            },
            match res["unexpectedIgnoredContextKeys"].as_array() {
                Some(keys) if !keys.is_empty() => format!(
                    "\n    the evaluator ignored context keys {keys:?} the row does not expect"
                ),
                _ => String::new(),
            },
        );
        let explain = res.get("explain").map(explain_text).unwrap_or_default();
        match (known.get(name), ok) {
            (None, true) => {}
            (None, false) => problems.push(format!("{summary}\n{explain}")),
            (Some(n), true) => problems.push(format!(
                "{name}\n    listed in KNOWN_FINDINGS (issue 8 finding {n}) but it holds now: \
                 remove it from the list"
            )),
            // A known finding must fail on its decision alone, never on an error or a dropped key.
            (Some(n), false)
                if res["matched"] == false
                    && res.get("error").is_none()
                    && res["unexpectedIgnoredContextKeys"]
                        .as_array()
                        .is_some_and(Vec::is_empty)
                    && res["missingIgnoredContextKeys"]
                        .as_array()
                        .is_some_and(Vec::is_empty) =>
            {
                let reasons = res["explain"]["reasons"].to_string();
                findings.push(format!("finding {n}: {summary}\n    reasons: {reasons}"));
            }
            (Some(n), false) => problems.push(format!(
                "{summary}\n    listed as finding {n}, but it fails for another reason\n{explain}"
            )),
        }
    }
    let report = format!(
        "permission matrix: {} rows ({allow} expected Allow, {deny} expected Deny); {} known \
         findings of issue 8 still fail{}",
        rows.len(),
        findings.len(),
        if findings.is_empty() {
            String::new()
        } else {
            format!(":\n  {}", findings.join("\n  "))
        }
    );
    println!("{report}");
    assert!(
        problems.is_empty(),
        "{} row(s) do not hold:\n\n{}\n\n{report}",
        problems.len(),
        problems.join("\n\n")
    );
}
