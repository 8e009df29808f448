//! `setup --export cloudformation`: the central and member templates, made from the very specs
//! setup builds ([`central_specs`], [`source_specs`]) with CloudFormation references put where
//! the values differ per deployment, and [`resolve`] to prove a template resolves to setup's documents.
//!
//! Never a second copy of a document: the specs are built for placeholder values (an account id,
//! a bucket, key ARNs no deployment has), and every string holding one becomes an `Fn::Sub`.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::account::AccountId;
use crate::config::{break_glass_arn, Config, Enrollment};
use crate::setup::apply::KEY_DESCRIPTION;
use crate::setup::plan::{BucketSpec, KeySpec, RoleSpec};
use crate::setup::policy::ReplicationRule;
use crate::setup::policy::{alerts_topic_arn, alerts_topic_policy};
use crate::setup::state::ALIAS_TAG;
use crate::setup::{central_specs, discovered_account, source_alerts, source_specs, CentralFacts};

/// The member account id the member template's documents are built for (`${AWS::AccountId}`).
const ACCOUNT_TOKEN: &str = "000000000000";
/// The member's region (`${AWS::Region}`: each stack instance's own).
const REGION_TOKEN: &str = "s3central-export-region";
/// The member's source bucket (`${BucketName}`: the created bucket or `ExistingBucket`).
const BUCKET_TOKEN: &str = "s3central-export-source-bucket";
/// The member's own key ARN (`${SourceKey.Arn}`).
const SOURCE_KEY_TOKEN: &str = "s3central-export-source-key-arn";
/// The central key's ARN in the member template (the `CentralKeyArn` parameter).
const CENTRAL_KEY_TOKEN: &str = "s3central-export-central-key-arn";
/// The central key's id in the central template (`${CentralKey}`, the key's `Ref`).
const CENTRAL_KEY_ID_TOKEN: &str = "s3central-export-central-key-id";

const TOKENS: [&str; 6] = [
    ACCOUNT_TOKEN,
    REGION_TOKEN,
    BUCKET_TOKEN,
    SOURCE_KEY_TOKEN,
    CENTRAL_KEY_TOKEN,
    CENTRAL_KEY_ID_TOKEN,
];

/// The file names `--export cloudformation DIR` writes.
pub const CENTRAL_FILE: &str = "s3central-central.json";
/// The member template's file name.
pub const MEMBER_FILE: &str = "s3central-member.json";
/// The alerts template's file name (with `alerts_topic`).
pub const ALERTS_FILE: &str = "s3central-alerts.json";

/// Why a config cannot be exported as templates (one line each, naming the fix).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExportError {
    /// A value setup reads from AWS that a template cannot.
    #[error("--export cloudformation needs [central] {0} in the config (setup reads it from AWS; a template cannot)")]
    Missing(&'static str),
    /// A config choice that names accounts one by one, which auto-deployed stacks cannot.
    #[error("--export cloudformation: {0}")]
    Unsupported(String),
}

/// The templates of an organization.
#[derive(Debug, Clone, PartialEq)]
pub struct Templates {
    /// Deployed once, as a stack of the central account, in the central region.
    pub central: Value,
    /// Deployed to every member account by a service-managed StackSet.
    pub member: Value,
    /// With `alerts_topic`: the central account's alerts topic, deployed in each region that has
    /// member stacks (S3 notifies only a topic in the bucket's region).
    pub alerts: Option<Value>,
}

/// The central facts a template can know: only what the config says.
struct Known {
    account: String,
    region: String,
    org_id: String,
    break_glass: Option<String>,
}

fn known(config: &Config, default_region: Option<&str>) -> Result<Known, ExportError> {
    let c = &config.central;
    let account = c.account.as_ref().ok_or(ExportError::Missing("account"))?;
    let org_id = c.org_id.clone().ok_or(ExportError::Missing("org_id"))?;
    let region = c
        .region
        .clone()
        .or_else(|| default_region.map(str::to_owned))
        .ok_or(ExportError::Missing("region"))?;
    if c.enrollment == Enrollment::Listed {
        return Err(ExportError::Unsupported(
            "enrollment = \"listed\" names every account in central's policies, so an account a StackSet adds would be refused: use enrollment = \"organization\" (the default), or run setup".into(),
        ));
    }
    if c.replicate_deletes
        || config
            .sources
            .iter()
            .any(|s| s.replicate_deletes == Some(true))
    {
        return Err(ExportError::Unsupported(
            "replicate_deletes names each opted-in account in central's bucket policy, which a template for accounts yet to come cannot: leave it off for the templates, and run setup for the accounts that replicate deletes".into(),
        ));
    }
    let mut literals = vec![
        account.as_str(),
        org_id.as_str(),
        region.as_str(),
        c.bucket.as_str(),
    ];
    literals.extend(c.restore_principals.iter().map(String::as_str));
    literals.extend(c.break_glass_role.as_deref());
    literals.extend(c.alerts_topic.as_deref());
    if let Some(clash) = literals
        .iter()
        .find(|l| TOKENS.iter().any(|t| l.contains(t)))
    {
        return Err(ExportError::Unsupported(format!(
            "{clash:?} holds a value the export uses as a placeholder"
        )));
    }
    Ok(Known {
        break_glass: c
            .break_glass_role
            .as_deref()
            .map(|r| break_glass_arn(r, account.as_str())),
        account: account.as_str().to_owned(),
        region,
        org_id,
    })
}

impl Known {
    fn facts(&self, acting_as_break_glass: bool) -> CentralFacts<'_> {
        CentralFacts {
            account: &self.account,
            region: &self.region,
            org_id: &self.org_id,
            break_glass_role: self.break_glass.as_deref(),
            acting_as_break_glass,
            enrolled: None,
            replicating_deletes: &[],
        }
    }
}

/// Builds the templates from the config (`default_region`: the global `--region`, used when
/// `[central] region` is not set).
pub fn templates(config: &Config, default_region: Option<&str>) -> Result<Templates, ExportError> {
    let known = known(config, default_region)?;
    Ok(Templates {
        central: central_template(config, &known),
        member: member_template(config, &known)?,
        alerts: alerts_template(config, &known),
    })
}

/// Replaces placeholders in every string of a document with `Fn::Sub` references.
struct Subst<'a> {
    /// (placeholder, what `${...}` names), replaced in this order: a placeholder that holds
    /// another comes before it.
    tokens: Vec<(&'a str, &'a str)>,
    /// `Fn::Sub` variables that are not template names.
    vars: Map<String, Value>,
}

impl Subst<'_> {
    fn apply(&self, v: &Value) -> Value {
        match v {
            Value::String(text) => self.string(text),
            Value::Array(items) => Value::Array(items.iter().map(|x| self.apply(x)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, x)| (k.clone(), self.apply(x)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn string(&self, text: &str) -> Value {
        if !self.tokens.iter().any(|(t, _)| text.contains(t)) {
            return Value::String(text.to_owned());
        }
        // A literal `${` (policy variables such as `${aws:PrincipalAccount}`) is `${!` in Fn::Sub.
        let mut out = text.replace("${", "${!");
        for (token, name) in &self.tokens {
            out = out.replace(token, &format!("${{{name}}}"));
        }
        let used: Map<String, Value> = self
            .vars
            .iter()
            .filter(|(k, _)| out.contains(&format!("${{{k}}}")))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if used.is_empty() {
            json!({"Fn::Sub": out})
        } else {
            json!({"Fn::Sub": [out, used]})
        }
    }
}

/// A KMS key resource (kept when the stack goes: the backups are unreadable without it).
fn key_resource(spec: &KeySpec, subst: &Subst<'_>) -> Value {
    let mut properties = json!({
        "Description": KEY_DESCRIPTION,
        "EnableKeyRotation": true,
        "KeyPolicy": subst.apply(&spec.policy),
        "Tags": [{"Key": ALIAS_TAG, "Value": spec.alias}]
    });
    if spec.lockout_intended {
        properties["BypassPolicyLockoutSafetyCheck"] = json!(true);
    }
    json!({
        "Type": "AWS::KMS::Key",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": properties
    })
}

fn alias_resource(alias: &str, key: &str) -> Value {
    json!({
        "Type": "AWS::KMS::Alias",
        "Properties": {"AliasName": alias, "TargetKeyId": {"Ref": key}}
    })
}

/// A bucket with every setting setup writes (kept when the stack goes).
fn bucket_resource(spec: &BucketSpec, name: Value, key_arn: Value) -> Value {
    let mut properties = json!({
        "BucketName": name,
        "VersioningConfiguration": {"Status": "Enabled"},
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [{
            "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
            "BucketKeyEnabled": true
        }]},
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": true,
            "BlockPublicPolicy": true,
            "IgnorePublicAcls": true,
            "RestrictPublicBuckets": true
        }
    });
    if let Some(lock) = &spec.object_lock {
        properties["ObjectLockEnabled"] = json!(true);
        properties["ObjectLockConfiguration"] = json!({
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": lock.mode.as_str(), "Days": lock.days}}
        });
    }
    json!({
        "Type": "AWS::S3::Bucket",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": properties
    })
}

fn role_resource(spec: &RoleSpec, subst: &Subst<'_>) -> Value {
    json!({
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": spec.name,
            "Description": spec.kind.description(),
            "AssumeRolePolicyDocument": subst.apply(&spec.trust),
            "Policies": [{"PolicyName": spec.policy_name, "PolicyDocument": subst.apply(&spec.policy)}]
        }
    })
}

/// A replication rule as `AWS::S3::Bucket` spells it (ReplicationConfiguration.Rules).
pub fn rule_properties(r: &ReplicationRule) -> Value {
    let status = |on: bool| if on { "Enabled" } else { "Disabled" };
    let mut destination = json!({
        "Bucket": r.destination_bucket_arn,
        "Account": r.destination_account,
        "AccessControlTranslation": {"Owner": "Destination"},
        "EncryptionConfiguration": {"ReplicaKmsKeyID": r.replica_kms_key_id},
        "StorageClass": r.storage_class
    });
    if r.replication_time_control {
        destination["ReplicationTime"] =
            json!({"Status": "Enabled", "Time": {"Minutes": ReplicationRule::RTC_MINUTES}});
    }
    if r.metrics {
        destination["Metrics"] = json!({"Status": "Enabled"});
        if let Some(minutes) = r.event_threshold() {
            destination["Metrics"]["EventThreshold"] = json!({"Minutes": minutes});
        }
    }
    json!({
        "Id": r.id,
        "Priority": r.priority,
        "Status": "Enabled",
        "Filter": {"Prefix": r.prefix},
        "DeleteMarkerReplication": {"Status": status(r.delete_marker_replication)},
        "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": status(r.sse_kms_encrypted_objects)}},
        "Destination": destination
    })
}

/// A template rule that refuses a deployment in another account or region than `value`s.
fn must_equal(pseudo: &str, value: &str, why: &str) -> Value {
    json!({"Assertions": [{
        "Assert": {"Fn::Equals": [{"Ref": pseudo}, value]},
        "AssertDescription": why
    }]})
}

fn central_template(config: &Config, known: &Known) -> Value {
    let key_arn = format!(
        "arn:aws:kms:{}:{}:key/{CENTRAL_KEY_ID_TOKEN}",
        known.region, known.account
    );
    // Deployed as the break-glass role (or with it as the stack's service role) when there is
    // one: only it may write a guarded policy (docs/stacksets.md).
    let (key, bucket) = central_specs(config, &known.facts(true), &key_arn);
    let subst = Subst {
        tokens: vec![
            (key_arn.as_str(), "CentralKey.Arn"),
            (CENTRAL_KEY_ID_TOKEN, "CentralKey"),
        ],
        vars: Map::new(),
    };
    let mut resources = Map::new();
    resources.insert("CentralKey".into(), key_resource(&key, &subst));
    resources.insert(
        "CentralKeyAlias".into(),
        alias_resource(&key.alias, "CentralKey"),
    );
    resources.insert(
        "CentralBucket".into(),
        bucket_resource(
            &bucket,
            json!(bucket.name),
            json!({"Fn::GetAtt": ["CentralKey", "Arn"]}),
        ),
    );
    if let Some(policy) = &bucket.policy {
        resources.insert(
            "CentralBucketPolicy".into(),
            json!({
                "Type": "AWS::S3::BucketPolicy",
                "Properties": {"Bucket": {"Ref": "CentralBucket"}, "PolicyDocument": subst.apply(policy)}
            }),
        );
    }
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": format!("s3central: the central bucket {} and its key, for organization {} (made by `s3central setup --export cloudformation`; docs/stacksets.md)", bucket.name, known.org_id),
        "Rules": {
            "CentralAccount": must_equal("AWS::AccountId", &known.account, "Deploy this stack in the central account of the config."),
            "CentralRegion": must_equal("AWS::Region", &known.region, "Deploy this stack in the central region of the config.")
        },
        "Resources": resources,
        "Outputs": {
            "CentralKeyArn": {
                "Description": "The member StackSet's CentralKeyArn parameter",
                "Value": {"Fn::GetAtt": ["CentralKey", "Arn"]}
            },
            "CentralBucket": {"Value": {"Ref": "CentralBucket"}}
        }
    })
}

fn alerts_template(config: &Config, known: &Known) -> Option<Value> {
    let name = config.central.alerts_topic.as_deref()?;
    let arn = alerts_topic_arn(REGION_TOKEN, &known.account, name);
    let subst = Subst {
        tokens: vec![(REGION_TOKEN, "AWS::Region")],
        vars: Map::new(),
    };
    Some(json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": format!("s3central: the alerts topic {name} that source buckets of this region tell of failed replications (made by `s3central setup --export cloudformation`; docs/stacksets.md)"),
        "Rules": {
            "CentralAccount": must_equal("AWS::AccountId", &known.account, "Deploy this stack in the central account of the config, in each region that has member stacks.")
        },
        "Resources": {
            "AlertsTopic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": name}},
            "AlertsTopicPolicy": {
                "Type": "AWS::SNS::TopicPolicy",
                "Properties": {
                    "Topics": [{"Ref": "AlertsTopic"}],
                    // No account list: the accounts are those the StackSet adds.
                    "PolicyDocument": subst.apply(&alerts_topic_policy(&arn, &known.org_id, &[], known.break_glass.as_deref()))
                }
            }
        },
        "Outputs": {"AlertsTopicArn": {"Value": {"Ref": "AlertsTopic"}}}
    }))
}

fn member_template(config: &Config, known: &Known) -> Result<Value, ExportError> {
    let account: AccountId = ACCOUNT_TOKEN
        .parse()
        .map_err(|e: crate::account::AccountIdError| ExportError::Unsupported(e.to_string()))?;
    let discovered = discovered_account(config, account, &known.region);
    let created_name = discovered
        .bucket
        .replace(ACCOUNT_TOKEN, "${AWS::AccountId}");
    let source = crate::setup::SourceAccount {
        bucket: BUCKET_TOKEN.to_owned(),
        region: REGION_TOKEN.to_owned(),
        ..discovered
    };
    let specs = source_specs(
        config,
        &known.facts(false),
        &source,
        SOURCE_KEY_TOKEN,
        CENTRAL_KEY_TOKEN,
    );
    let mut vars = Map::new();
    vars.insert(
        "BucketName".into(),
        json!({"Fn::If": ["CreatesBucket", {"Fn::Sub": &created_name}, {"Ref": "ExistingBucket"}]}),
    );
    let subst = Subst {
        tokens: vec![
            (SOURCE_KEY_TOKEN, "SourceKey.Arn"),
            (CENTRAL_KEY_TOKEN, "CentralKeyArn"),
            (BUCKET_TOKEN, "BucketName"),
            (REGION_TOKEN, "AWS::Region"),
            (ACCOUNT_TOKEN, "AWS::AccountId"),
        ],
        vars,
    };
    let mut resources = Map::new();
    resources.insert("SourceKey".into(), key_resource(&specs.key, &subst));
    resources.insert(
        "SourceKeyAlias".into(),
        alias_resource(&specs.key.alias, "SourceKey"),
    );
    for (id, role) in [
        ("ReplicationRole", &specs.role),
        ("RestoreRole", &specs.restore_role),
        ("BatchReplicationRole", &specs.batch_role),
        ("BatchRestoreRole", &specs.batch_restore_role),
    ] {
        resources.insert(id.into(), role_resource(role, &subst));
    }
    // Only when the stack creates it: its name is the template's, never the Fn::If.
    let mut bucket = bucket_resource(
        &specs.bucket,
        json!({"Fn::Sub": created_name}),
        json!({"Fn::GetAtt": ["SourceKey", "Arn"]}),
    );
    bucket["Condition"] = json!("CreatesBucket");
    bucket["DependsOn"] = json!(["ReplicationRole"]);
    bucket["Properties"]["ReplicationConfiguration"] = json!({
        "Role": subst.apply(&json!(specs.replication.role_arn)),
        "Rules": [subst.apply(&rule_properties(&specs.replication.rule))]
    });
    if let Some((topic, events)) = source_alerts(config, &known.account, &source) {
        // One configuration per event: CloudFormation's TopicConfiguration takes one, and no id.
        let topic = subst.apply(&json!(topic));
        let configurations: Vec<Value> = events
            .iter()
            .map(|event| json!({"Event": event, "Topic": topic}))
            .collect();
        bucket["Properties"]["NotificationConfiguration"] =
            json!({"TopicConfigurations": configurations});
    }
    resources.insert("SourceBucket".into(), bucket);
    Ok(json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": format!("s3central: a member account's key, roles and (unless ExistingBucket) its source bucket replicating into {} (made by `s3central setup --export cloudformation`; docs/stacksets.md)", config.central.bucket),
        "Parameters": {
            "CentralKeyArn": {
                "Type": "String",
                "Description": "The central stack's CentralKeyArn output: the key replicas are encrypted under",
                "AllowedPattern": format!("^arn:aws:kms:{}:{}:key/[a-f0-9-]+$", known.region, known.account),
                "ConstraintDescription": "the central key's full ARN, in the central account and region"
            },
            "ExistingBucket": {
                "Type": "String",
                "Default": "",
                "Description": "Empty: the stack creates the source bucket with its replication rule. A bucket name: the stack leaves that bucket alone and `s3central setup` adds the rule to it",
                "AllowedPattern": "^$|^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
            }
        },
        "Conditions": {"CreatesBucket": {"Fn::Equals": [{"Ref": "ExistingBucket"}, ""]}},
        "Resources": resources,
        "Outputs": {
            "SourceKeyArn": {"Value": {"Fn::GetAtt": ["SourceKey", "Arn"]}},
            "SourceBucket": {"Value": subst.apply(&json!(BUCKET_TOKEN))}
        }
    }))
}

/// What a template's references resolve to in one deployment: pseudo parameters, parameters, and
/// the `Ref` values and attributes of its resources.
#[derive(Debug, Clone, Default)]
pub struct Deployment {
    /// `AWS::AccountId`.
    pub account: String,
    /// `AWS::Region`.
    pub region: String,
    /// Parameter values (defaults apply to the others).
    pub parameters: BTreeMap<String, String>,
    /// `Ref` of each resource (logical id to physical id).
    pub refs: BTreeMap<String, String>,
    /// `Fn::GetAtt` values, as `Logical.Attribute`.
    pub attributes: BTreeMap<String, String>,
}

/// The template with every intrinsic function of the kinds the export writes (`Ref`,
/// `Fn::GetAtt`, `Fn::Sub`, `Fn::If`, `Fn::Equals`) evaluated for one deployment; resources whose
/// condition is false are left out. Gives the first reference it cannot resolve as an error.
pub fn resolve(template: &Value, deployment: &Deployment) -> Result<Value, String> {
    let mut env = Env {
        deployment,
        template,
        conditions: BTreeMap::new(),
    };
    if let Some(conditions) = template.get("Conditions").and_then(Value::as_object) {
        for (name, expr) in conditions {
            let value = env.eval(expr)?;
            let holds = value
                .as_bool()
                .ok_or_else(|| format!("condition {name} is not a boolean"))?;
            env.conditions.insert(name.clone(), holds);
        }
    }
    let mut out = template.clone();
    if let Some(resources) = template.get("Resources").and_then(Value::as_object) {
        let mut kept = Map::new();
        for (id, resource) in resources {
            let included = match resource.get("Condition").and_then(Value::as_str) {
                Some(c) => env.condition(c)?,
                None => true,
            };
            if included {
                kept.insert(id.clone(), env.eval(resource)?);
            }
        }
        out["Resources"] = Value::Object(kept);
    }
    if let Some(outputs) = template.get("Outputs") {
        out["Outputs"] = env.eval(outputs)?;
    }
    Ok(out)
}

struct Env<'a> {
    deployment: &'a Deployment,
    template: &'a Value,
    conditions: BTreeMap<String, bool>,
}

impl Env<'_> {
    fn condition(&self, name: &str) -> Result<bool, String> {
        self.conditions
            .get(name)
            .copied()
            .ok_or_else(|| format!("no condition {name}"))
    }

    fn reference(&self, name: &str) -> Result<String, String> {
        let d = self.deployment;
        match name {
            "AWS::AccountId" => return Ok(d.account.clone()),
            "AWS::Region" => return Ok(d.region.clone()),
            "AWS::Partition" => return Ok("aws".into()),
            _ => {}
        }
        if let Some(v) = d.parameters.get(name).or_else(|| d.refs.get(name)) {
            return Ok(v.clone());
        }
        if let Some(default) = self.template["Parameters"][name]["Default"].as_str() {
            return Ok(default.to_owned());
        }
        Err(format!("no value for Ref {name}"))
    }

    fn attribute(&self, name: &str) -> Result<String, String> {
        self.deployment
            .attributes
            .get(name)
            .cloned()
            .ok_or_else(|| format!("no value for Fn::GetAtt {name}"))
    }

    fn sub(&self, text: &str, vars: &Map<String, Value>) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("unclosed ${{ in {text:?}"))?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(v) = vars.get(name) {
                let v = self.eval(v)?;
                out.push_str(
                    v.as_str()
                        .ok_or_else(|| format!("{name} is not a string"))?,
                );
            } else if name.contains('.') && !name.starts_with("AWS::") {
                out.push_str(&self.attribute(name)?);
            } else {
                out.push_str(&self.reference(name)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn eval(&self, v: &Value) -> Result<Value, String> {
        match v {
            Value::Array(items) => items.iter().map(|x| self.eval(x)).collect(),
            Value::Object(map) if map.len() == 1 => {
                let Some((key, arg)) = map.iter().next() else {
                    return Ok(v.clone());
                };
                match key.as_str() {
                    "Ref" => Ok(json!(self.reference(arg.as_str().unwrap_or_default())?)),
                    "Fn::GetAtt" => {
                        let name = match arg {
                            Value::Array(parts) => parts
                                .iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join("."),
                            other => other.as_str().unwrap_or_default().to_owned(),
                        };
                        Ok(json!(self.attribute(&name)?))
                    }
                    "Fn::Sub" => match arg {
                        Value::String(text) => Ok(json!(self.sub(text, &Map::new())?)),
                        Value::Array(parts) => match (parts.first(), parts.get(1)) {
                            (Some(Value::String(text)), Some(Value::Object(vars))) => {
                                Ok(json!(self.sub(text, vars)?))
                            }
                            _ => Err(format!("malformed Fn::Sub {arg}")),
                        },
                        _ => Err(format!("malformed Fn::Sub {arg}")),
                    },
                    "Fn::If" => match arg.as_array().map(Vec::as_slice) {
                        Some([Value::String(c), yes, no]) => {
                            self.eval(if self.condition(c)? { yes } else { no })
                        }
                        _ => Err(format!("malformed Fn::If {arg}")),
                    },
                    "Fn::Equals" => match arg.as_array().map(Vec::as_slice) {
                        Some([a, b]) => Ok(json!(self.eval(a)? == self.eval(b)?)),
                        _ => Err(format!("malformed Fn::Equals {arg}")),
                    },
                    other if other.starts_with("Fn::") => {
                        Err(format!("{other} is not one the export writes"))
                    }
                    _ => Ok(json!({key.clone(): self.eval(arg)?})),
                }
            }
            Value::Object(map) => map
                .iter()
                .map(|(k, x)| Ok((k.clone(), self.eval(x)?)))
                .collect::<Result<Map<_, _>, String>>()
                .map(Value::Object),
            other => Ok(other.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_config;
    use crate::setup::SourceAccount;

    const CENTRAL: &str = "123456789012";
    const REGION: &str = "eu-west-1";
    const CENTRAL_KEY_ARN: &str =
        "arn:aws:kms:eu-west-1:123456789012:key/0c3a1b2c-0000-4000-8000-00000000c0de";
    const CENTRAL_KEY_ID: &str = "0c3a1b2c-0000-4000-8000-00000000c0de";
    const MEMBER: &str = "111111111111";
    const MEMBER_KEY_ARN: &str =
        "arn:aws:kms:eu-west-1:111111111111:key/5a5a5a5a-0000-4000-8000-111111111111";

    fn config(extra: &str) -> Config {
        parse_config(&format!(
            "[central]\naccount = \"{CENTRAL}\"\nregion = \"{REGION}\"\nbucket = \"acme-s3central\"\norg_id = \"o-abcd123456\"\n{extra}\n[discovery]\norganizational_units = [\"ou-ab12-cdef3456\"]\nbucket_template = \"acme-{{account}}-data\"\n"
        ))
        .expect("a valid config")
    }

    fn facts(known: &Known, as_break_glass: bool) -> CentralFacts<'_> {
        known.facts(as_break_glass)
    }

    fn central_deployment() -> Deployment {
        Deployment {
            account: CENTRAL.into(),
            region: REGION.into(),
            refs: [
                ("CentralKey".to_owned(), CENTRAL_KEY_ID.to_owned()),
                ("CentralBucket".to_owned(), "acme-s3central".to_owned()),
            ]
            .into(),
            attributes: [("CentralKey.Arn".to_owned(), CENTRAL_KEY_ARN.to_owned())].into(),
            ..Deployment::default()
        }
    }

    fn member_deployment(existing_bucket: &str, region: &str) -> Deployment {
        Deployment {
            account: MEMBER.into(),
            region: region.into(),
            parameters: [
                ("CentralKeyArn".to_owned(), CENTRAL_KEY_ARN.to_owned()),
                ("ExistingBucket".to_owned(), existing_bucket.to_owned()),
            ]
            .into(),
            refs: [(
                "SourceKey".to_owned(),
                "5a5a5a5a-0000-4000-8000-111111111111".to_owned(),
            )]
            .into(),
            attributes: [("SourceKey.Arn".to_owned(), MEMBER_KEY_ARN.to_owned())].into(),
        }
    }

    /// Central's documents in the template, resolved, are exactly what setup writes.
    #[test]
    fn the_central_template_resolves_to_setups_documents() {
        for extra in [
            "",
            "break_glass_role = \"s3central-break-glass\"\nobject_lock = { mode = \"COMPLIANCE\", days = 30 }",
            "restore_principals = [\"arn:aws:iam::123456789012:role/ir\"]\nstorage_class = \"GLACIER_IR\"",
        ] {
            let config = config(extra);
            let t = templates(&config, None).expect("exportable");
            let r = resolve(&t.central, &central_deployment()).expect("resolves");
            let known = known(&config, None).expect("known");
            let (key, bucket) = central_specs(&config, &facts(&known, true), CENTRAL_KEY_ARN);
            let res = &r["Resources"];
            assert_eq!(res["CentralKey"]["Properties"]["KeyPolicy"], key.policy, "{extra}");
            assert_eq!(
                Some(&res["CentralBucketPolicy"]["Properties"]["PolicyDocument"]),
                bucket.policy.as_ref(),
                "{extra}"
            );
            assert_eq!(res["CentralBucket"]["Properties"]["BucketName"], "acme-s3central");
            assert_eq!(
                res["CentralBucket"]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["KMSMasterKeyID"],
                CENTRAL_KEY_ARN
            );
            assert_eq!(res["CentralKeyAlias"]["Properties"]["AliasName"], "alias/s3central");
            let lock = &res["CentralBucket"]["Properties"]["ObjectLockConfiguration"];
            assert_eq!(lock.is_null(), bucket.object_lock.is_none(), "{extra}");
            assert_eq!(r["Outputs"]["CentralKeyArn"]["Value"], CENTRAL_KEY_ARN);
            // The policy variables stay policy variables (escaped in Fn::Sub, whole after it).
            assert!(r.to_string().contains("${aws:PrincipalAccount}"));
            assert!(!r.to_string().contains("s3central-export-"), "a placeholder is left");
        }
    }

    /// A member's documents in the template, resolved for one account, are exactly what setup
    /// writes for that account when discovered (the bucket the stack creates, or one it is given).
    #[test]
    fn the_member_template_resolves_to_setups_documents_for_the_account() {
        let config = config(
            "break_glass_role = \"s3central-break-glass\"\nreplication_time_control = false",
        );
        let known = known(&config, None).expect("known");
        let t = templates(&config, None).expect("exportable");
        for (existing, region) in [("", REGION), ("acme-legacy-bucket", "us-east-2")] {
            let r = resolve(&t.member, &member_deployment(existing, region)).expect("resolves");
            let source = SourceAccount {
                bucket: if existing.is_empty() {
                    format!("acme-{MEMBER}-data")
                } else {
                    existing.to_owned()
                },
                region: region.to_owned(),
                ..discovered_account(&config, MEMBER.parse().expect("id"), REGION)
            };
            let specs = source_specs(
                &config,
                &facts(&known, false),
                &source,
                MEMBER_KEY_ARN,
                CENTRAL_KEY_ARN,
            );
            let res = &r["Resources"];
            assert_eq!(
                res["SourceKey"]["Properties"]["KeyPolicy"],
                specs.key.policy
            );
            for (id, role) in [
                ("ReplicationRole", &specs.role),
                ("RestoreRole", &specs.restore_role),
                ("BatchReplicationRole", &specs.batch_role),
                ("BatchRestoreRole", &specs.batch_restore_role),
            ] {
                let p = &res[id]["Properties"];
                assert_eq!(p["RoleName"], role.name.as_str(), "{id}");
                assert_eq!(p["AssumeRolePolicyDocument"], role.trust, "{id}");
                assert_eq!(
                    p["Policies"][0]["PolicyName"],
                    role.policy_name.as_str(),
                    "{id}"
                );
                assert_eq!(
                    p["Policies"][0]["PolicyDocument"], role.policy,
                    "{id} {existing}"
                );
            }
            if existing.is_empty() {
                let bucket = &res["SourceBucket"]["Properties"];
                assert_eq!(bucket["BucketName"], source.bucket.as_str());
                let replication = &bucket["ReplicationConfiguration"];
                assert_eq!(replication["Role"], specs.replication.role_arn.as_str());
                assert_eq!(
                    replication["Rules"][0],
                    rule_properties(&specs.replication.rule)
                );
                assert_eq!(
                    replication["Rules"][0]["Destination"]["EncryptionConfiguration"]
                        ["ReplicaKmsKeyID"],
                    CENTRAL_KEY_ARN
                );
            } else {
                assert!(
                    res.get("SourceBucket").is_none(),
                    "an existing bucket is left alone"
                );
            }
            assert_eq!(
                r["Outputs"]["SourceBucket"]["Value"],
                source.bucket.as_str()
            );
            assert!(
                !r.to_string().contains("s3central-export-"),
                "a placeholder is left"
            );
            assert!(
                !r.to_string().contains(ACCOUNT_TOKEN),
                "the placeholder account is left"
            );
        }
    }

    /// The alerts template, resolved in a region, is the topic and policy setup makes there.
    #[test]
    fn the_alerts_template_resolves_to_setups_topic_policy_in_each_region() {
        assert_eq!(
            templates(&config(""), None).expect("exportable").alerts,
            None
        );
        let guarded = config("alerts_topic = \"a\"\nbreak_glass_role = \"bg\"");
        let doc = templates(&guarded, None)
            .expect("exportable")
            .alerts
            .expect("alerts");
        let bg = "arn:aws:iam::123456789012:role/bg";
        assert!(
            doc.to_string().contains(bg),
            "the guard names the break-glass role"
        );
        let config = config("alerts_topic = \"s3central-alerts\"");
        let t = templates(&config, None).expect("exportable");
        let alerts = t.alerts.expect("an alerts template");
        for region in [REGION, "ap-southeast-2"] {
            let arn = alerts_topic_arn(region, CENTRAL, "s3central-alerts");
            let r = resolve(
                &alerts,
                &Deployment {
                    account: CENTRAL.into(),
                    region: region.into(),
                    refs: [("AlertsTopic".to_owned(), arn.clone())].into(),
                    ..Deployment::default()
                },
            )
            .expect("resolves");
            assert_eq!(
                r["Resources"]["AlertsTopicPolicy"]["Properties"]["PolicyDocument"],
                alerts_topic_policy(&arn, "o-abcd123456", &[], None)
            );
            assert_eq!(
                r["Resources"]["AlertsTopic"]["Properties"]["TopicName"],
                "s3central-alerts"
            );
        }
    }

    #[test]
    fn what_a_template_cannot_know_is_refused_in_one_line() {
        let base = "[discovery]\norganizational_units = [\"r-ab12\"]\n[central]\nbucket = \"acme-s3central\"\n";
        let cases = [
            (
                format!("{base}region = \"eu-west-1\"\norg_id = \"o-abcd123456\"\n"),
                "account",
            ),
            (
                format!("{base}account = \"{CENTRAL}\"\nregion = \"eu-west-1\"\n"),
                "org_id",
            ),
            (
                format!("{base}account = \"{CENTRAL}\"\norg_id = \"o-abcd123456\"\n"),
                "region",
            ),
        ];
        for (text, missing) in cases {
            let config = parse_config(&text).expect("valid");
            assert_eq!(templates(&config, None), Err(ExportError::Missing(missing)));
        }
        let with_region = parse_config(&format!(
            "{base}account = \"{CENTRAL}\"\norg_id = \"o-abcd123456\"\n"
        ))
        .expect("valid");
        assert!(templates(&with_region, Some("us-east-1")).is_ok());
        for extra in ["enrollment = \"listed\"", "replicate_deletes = true"] {
            let err = templates(&config(extra), None)
                .expect_err(extra)
                .to_string();
            assert!(err.starts_with("--export cloudformation: "), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn resolve_refuses_what_it_cannot_resolve() {
        let template =
            json!({"Resources": {"X": {"Type": "T", "Properties": {"A": {"Fn::Sub": "${Nope}"}}}}});
        assert_eq!(
            resolve(&template, &Deployment::default()),
            Err("no value for Ref Nope".to_owned())
        );
        let template = json!({"Resources": {"X": {"Properties": {"A": {"Fn::Join": ["", []]}}}}});
        assert!(resolve(&template, &Deployment::default()).is_err());
        let escaped = json!({"Outputs": {"A": {"Fn::Sub": "${!aws:username}-${AWS::Region}"}}});
        let d = Deployment {
            region: "r".into(),
            ..Deployment::default()
        };
        assert_eq!(
            resolve(&escaped, &d).expect("resolves")["Outputs"]["A"],
            "${aws:username}-r"
        );
    }
}
