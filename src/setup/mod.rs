//! `setup`: desired state from the config, actual state from AWS, a plan, and applying the differences.

pub mod alerts;
pub mod apply;
pub mod backfill;
pub mod canary;
pub mod cloudformation;
pub mod onboarding;
pub mod plan;
pub mod policy;
pub mod resolve;
pub mod state;

use std::collections::BTreeSet;

use serde_json::Value;

use crate::account::AccountId;
use crate::aws::Aws;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::setup::apply::Writes;
use crate::setup::plan::{
    diff_bucket, diff_key, diff_object_lock, diff_replication, diff_role,
    replication_role_conflict, rule_priority, Action, BucketSpec, Change, KeySpec, ReplicationSpec,
    Resource, RoleKind, RoleSpec, PENDING_CENTRAL_KEY,
};
use crate::setup::policy::{alerts_topic_arn, alerts_topic_policy, replication_alert_events};
use crate::setup::policy::{
    batch_replication_role_policy, batch_replication_trust_policy, batch_restore_role_policy,
    BATCH_REPLICATION_ROLE, BATCH_RESTORE_ROLE,
};
use crate::setup::policy::{
    central_bucket_policy, central_key_policy, guard_role, has_statement, is_key_arn,
    replication_role_policy, replication_rule, replication_trust_policy, restore_role_policy,
    restore_trust_policy, source_key_policy, CentralInput, RolePolicyInput, RuleInput,
    BUCKET_GUARD_SID, KEY_GUARD_SID, REPLICATION_ROLE, RESTORE_ROLE,
};

/// Placeholder for a source key that does not exist yet (plan only).
const PENDING_SOURCE_KEY: &str = "(source key, created by this run)";

/// Name of the replication role's inline policy.
const ROLE_POLICY_NAME: &str = "s3central-replication";

/// Name of the restore role's inline policy.
const RESTORE_POLICY_NAME: &str = "s3central-restore";

/// Name of the batch replication role's inline policy.
const BATCH_POLICY_NAME: &str = "s3central-batch-replication";

/// Name of the batch restore role's inline policy.
const BATCH_RESTORE_POLICY_NAME: &str = "s3central-batch-restore";

/// What setup may change beyond what it created itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct Consent {
    /// Change the default encryption and object ownership of source buckets that existed before.
    pub bucket_changes: bool,
    /// Also prove coverage (source against central) and backfill every gap, FAILED ones included;
    /// without it a backfill is planned only for the objects a new replication rule leaves behind.
    pub backfill: bool,
}

/// The central account as setup sees it.
#[derive(Debug, Clone)]
pub struct Central {
    /// Its id.
    pub account: String,
    /// Its region.
    pub region: String,
    /// The organization id used in policy conditions.
    pub org_id: String,
    /// Credentials acting in it.
    pub aws: Aws,
    /// The break-glass role's ARN, when the config names one (checked to exist).
    pub break_glass_role: Option<String>,
    /// Whether [`Central::aws`] is a session of that role (only it may change a guarded central).
    pub acting_as_break_glass: bool,
    /// With `enrollment = "listed"`: the accounts set up (listed and discovered), which central's
    /// policies then name; `None`: the whole organization.
    pub enrolled: Option<Vec<String>>,
    /// The accounts set up whose rules replicate delete markers (`replicate_deletes`), sorted.
    pub replicating_deletes: Vec<String>,
    /// With `alerts_topic`: the regions of the source buckets, sorted (one topic in each).
    pub alert_regions: Vec<String>,
    /// With `alerts_topic`: the source accounts, sorted (the topics' policies name them).
    pub alert_accounts: Vec<String>,
}

impl Central {
    /// What the desired documents take from the central account.
    pub fn facts(&self) -> CentralFacts<'_> {
        CentralFacts {
            account: &self.account,
            region: &self.region,
            org_id: &self.org_id,
            break_glass_role: self.break_glass_role.as_deref(),
            acting_as_break_glass: self.acting_as_break_glass,
            enrolled: self.enrolled.as_deref(),
            replicating_deletes: &self.replicating_deletes,
        }
    }
}

/// The central account's facts the desired documents depend on, without credentials: setup
/// resolves them from the config and AWS, `setup --export` from the config alone, and both build
/// the documents from them with the same functions ([`central_specs`], [`source_specs`]).
#[derive(Debug, Clone, Copy)]
pub struct CentralFacts<'a> {
    /// The central account id.
    pub account: &'a str,
    /// The central bucket's region.
    pub region: &'a str,
    /// The organization id used in policy conditions.
    pub org_id: &'a str,
    /// The break-glass role's ARN, when the config names one.
    pub break_glass_role: Option<&'a str>,
    /// Whether the documents are written as that role (a guarded key policy is then no lockout).
    pub acting_as_break_glass: bool,
    /// With `enrollment = "listed"`: the accounts central's policies name; `None`: the organization.
    pub enrolled: Option<&'a [String]>,
    /// The accounts whose rules replicate delete markers, sorted.
    pub replicating_deletes: &'a [String],
}

/// One source account to set up.
#[derive(Debug, Clone)]
pub struct SourceAccount {
    /// Its id.
    pub account: AccountId,
    /// Its source bucket.
    pub bucket: String,
    /// Its region.
    pub region: String,
    /// Alias of its KMS key.
    pub kms_alias: String,
    /// Its own restore principals (`[[source]] restore_principals`), if the config names any.
    pub restore_principals: Option<Vec<String>>,
    /// Whether its rule replicates delete markers (its `replicate_deletes`, else `[central]`'s).
    pub replicate_deletes: bool,
    /// Whether it was found in the configured OUs rather than listed.
    pub discovered: bool,
}

/// The accounts setup and status act on, and those of the configured OUs they leave out.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Listed and discovered, sorted, without duplicates or exclusions.
    pub accounts: Vec<SourceAccount>,
    /// Accounts of the configured OUs that `exclude_accounts` leaves out: never protected.
    pub excluded: Vec<AccountId>,
}

/// Credentials acting in `account`: the caller's own, or the assumed `role` there.
pub async fn identity_in(
    caller: &Aws,
    caller_account: &str,
    account: &str,
    role: &str,
    region: &str,
) -> Result<Aws> {
    let aws = if account == caller_account {
        caller.clone()
    } else {
        caller
            .assume_role(&format!("arn:aws:iam::{account}:role/{role}"))
            .await?
    };
    Ok(aws.in_region(region))
}

/// The listed sources plus those discovered in the configured OUs, without duplicates or exclusions.
pub async fn source_accounts(
    caller: &Aws,
    config: &Config,
    central_region: &str,
) -> Result<Sources> {
    let mut excluded_found = Vec::new();
    let mut accounts: Vec<SourceAccount> = config
        .sources
        .iter()
        .map(|s| SourceAccount {
            account: s.account.clone(),
            bucket: s.bucket.clone(),
            region: s
                .region
                .clone()
                .unwrap_or_else(|| central_region.to_owned()),
            kms_alias: s.kms_alias.clone(),
            restore_principals: s.restore_principals.clone(),
            replicate_deletes: s
                .replicate_deletes
                .unwrap_or(config.central.replicate_deletes),
            discovered: false,
        })
        .collect();
    if let Some(discovery) = &config.discovery {
        let listed: BTreeSet<AccountId> = accounts.iter().map(|a| a.account.clone()).collect();
        let excluded: BTreeSet<&AccountId> = discovery.exclude_accounts.iter().collect();
        for id in
            discover_accounts(&caller.organizations(), &discovery.organizational_units).await?
        {
            let Ok(account) = id.parse::<AccountId>() else {
                continue;
            };
            if excluded.contains(&account) {
                excluded_found.push(account);
                continue;
            }
            if listed.contains(&account) {
                continue;
            }
            accounts.push(discovered_account(config, account, central_region));
        }
    }
    accounts.sort_by(|a, b| a.account.cmp(&b.account));
    accounts.dedup_by(|a, b| a.account == b.account);
    excluded_found.sort();
    excluded_found.dedup();
    Ok(Sources {
        accounts,
        excluded: excluded_found,
    })
}

/// A discovered account as setup protects it: the `[discovery]` bucket template's bucket (the
/// default template without one) in the central region, the default key alias, central's restore
/// principals and delete-marker choice. The exported member template protects the same.
pub fn discovered_account(
    config: &Config,
    account: AccountId,
    central_region: &str,
) -> SourceAccount {
    let bucket = match &config.discovery {
        Some(d) => d.bucket_for(&account),
        None => crate::config::DEFAULT_BUCKET_TEMPLATE.replace("{account}", account.as_str()),
    };
    SourceAccount {
        bucket,
        account,
        region: central_region.to_owned(),
        kms_alias: crate::config::DEFAULT_SOURCE_KMS_ALIAS.to_owned(),
        restore_principals: None,
        replicate_deletes: config.central.replicate_deletes,
        discovered: true,
    }
}

/// Active accounts under the OUs, nested OUs included, following every page.
pub async fn discover_accounts(
    org: &aws_sdk_organizations::Client,
    ous: &[String],
) -> Result<Vec<String>> {
    let mut pending: Vec<String> = ous.to_vec();
    let mut seen = BTreeSet::new();
    let mut accounts = BTreeSet::new();
    while let Some(parent) = pending.pop() {
        if !seen.insert(parent.clone()) {
            continue;
        }
        let mut children = org
            .list_organizational_units_for_parent()
            .parent_id(&parent)
            .into_paginator()
            .send();
        while let Some(page) = children.next().await {
            let page = page.map_err(|e| {
                Error::from_sdk(
                    "organizations:ListOrganizationalUnitsForParent",
                    parent.clone(),
                    e,
                )
            })?;
            pending.extend(
                page.organizational_units()
                    .iter()
                    .filter_map(|ou| ou.id().map(str::to_owned)),
            );
        }
        let mut members = org
            .list_accounts_for_parent()
            .parent_id(&parent)
            .into_paginator()
            .send();
        while let Some(page) = members.next().await {
            let page = page.map_err(|e| {
                Error::from_sdk("organizations:ListAccountsForParent", parent.clone(), e)
            })?;
            for account in page.accounts() {
                let active = account.status().is_none_or(|s| s.as_str() == "ACTIVE");
                if let (Some(id), true) = (account.id(), active) {
                    accounts.insert(id.to_owned());
                }
            }
        }
    }
    Ok(accounts.into_iter().collect())
}

/// The central account's desired key and bucket.
pub fn central_specs(
    config: &Config,
    central: &CentralFacts<'_>,
    key_arn: &str,
) -> (KeySpec, BucketSpec) {
    let input = CentralInput {
        account: central.account,
        org_id: central.org_id,
        bucket: &config.central.bucket,
        region: central.region,
        key_arn,
        enrolled: central.enrolled,
        break_glass_role: central.break_glass_role,
        replicating_deletes: central.replicating_deletes,
    };
    (
        KeySpec {
            alias: config.central.kms_alias.clone(),
            policy: central_key_policy(&input),
            lockout_intended: central.break_glass_role.is_some() && !central.acting_as_break_glass,
        },
        BucketSpec {
            name: config.central.bucket.clone(),
            region: central.region.to_owned(),
            kms_key_arn: key_arn.to_owned(),
            policy: Some(central_bucket_policy(&input)),
            settings_need_consent: false,
            object_lock: config.central.object_lock,
        },
    )
}

/// Checks that the break-glass role exists in the central account before any policy names it
/// (a policy that reserves central for a role nobody can assume would lock everyone out); gives
/// its ARN as IAM spells it.
pub async fn check_break_glass_role(central: &Aws, arn: &str) -> Result<String> {
    let name = arn.rsplit('/').next().unwrap_or(arn);
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    match central.iam().get_role().role_name(name).send().await {
        Ok(out) => Ok(out
            .role()
            .map(|r| r.arn().to_owned())
            .unwrap_or_else(|| arn.to_owned())),
        Err(e) if state::is_absent(e.code()) => Err(Error::Refused(format!(
            "break_glass_role {arn} does not exist in the central account: create it first (a role only your incident process can assume), or leave break_glass_role out; nothing was changed"
        ))),
        Err(e) => Err(Error::from_sdk("iam:GetRole", name.to_owned(), e)),
    }
}

/// Checks the central key before any replication rule names it: AWS accepts any text as a
/// rule's replica key and replication then fails object by object, so a key that is not a full
/// ARN, not in the central bucket's region, disabled or not a symmetric encryption key is refused.
pub async fn check_replica_key(central: &Central, key_arn: &str) -> Result<()> {
    let bad = |why: String| {
        Err(Error::Refused(format!(
            "central key {key_arn} cannot encrypt replicas: {why}"
        )))
    };
    if !is_key_arn(key_arn) {
        return bad(
            "a replication rule needs the key's full ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)"
                .into(),
        );
    }
    let region = key_arn.split(':').nth(3).unwrap_or_default();
    if region != central.region {
        return bad(format!(
            "it is in {region}, but replicas are encrypted in the central bucket's region {}",
            central.region
        ));
    }
    let described = central
        .aws
        .kms()
        .describe_key()
        .key_id(key_arn)
        .send()
        .await
        .map_err(|e| Error::from_sdk("kms:DescribeKey", key_arn.to_owned(), e))?;
    let Some(meta) = described.key_metadata() else {
        return bad("KMS describes no such key".into());
    };
    if !meta.enabled() {
        return bad(format!(
            "the key is {:?}",
            meta.key_state().map(|s| s.as_str()).unwrap_or("disabled")
        ));
    }
    if meta
        .key_usage()
        .is_some_and(|u| u.as_str() != "ENCRYPT_DECRYPT")
    {
        return bad("it is not an ENCRYPT_DECRYPT key".into());
    }
    if meta
        .key_spec()
        .is_some_and(|spec| spec.as_str() != "SYMMETRIC_DEFAULT")
    {
        return bad("S3 needs a symmetric (SYMMETRIC_DEFAULT) key".into());
    }
    Ok(())
}

/// Reads the central account and diffs it; gives the plan, the key's ARN if it exists, and what
/// protects central as found (from the same reads).
pub async fn plan_central(
    config: &Config,
    central: &Central,
) -> Result<(Vec<Change>, Option<String>, Protection)> {
    let key = state::read_key(&central.aws.kms(), &config.central.kms_alias).await?;
    let key_arn = key.as_ref().map(|k| k.arn.clone());
    let (key_spec, bucket_spec) = central_specs(
        config,
        &central.facts(),
        key_arn.as_deref().unwrap_or(PENDING_CENTRAL_KEY),
    );
    let s3 = central.aws.s3();
    let bucket = state::read_bucket(&s3, &bucket_spec.name).await?;
    let lock = match bucket {
        Some(_) => state::read_object_lock(&s3, &bucket_spec.name).await?,
        None => None,
    };
    let mut changes = diff_key(&key_spec, key.as_ref());
    changes.extend(diff_bucket(&bucket_spec, bucket.as_ref()));
    changes.extend(diff_object_lock(
        config.central.object_lock.as_ref(),
        bucket.is_some(),
        lock.as_ref(),
    ));
    changes.extend(
        bucket_spec
            .policy
            .as_ref()
            .and_then(plan::oversized_bucket_policy),
    );
    let lifecycle = match bucket {
        Some(_) => state::read_lifecycle(&s3, &bucket_spec.name).await?,
        None => Vec::new(),
    };
    if !central.replicating_deletes.is_empty() {
        changes.extend(plan::expiring_deleted_data(
            &lifecycle,
            &central.replicating_deletes,
        ));
    }
    let bucket_policy = bucket.as_ref().and_then(|b| b.policy.as_deref());
    let key_policy = key.as_ref().and_then(|k| k.policy.as_deref());
    let guarded =
        has_statement(bucket_policy, BUCKET_GUARD_SID) || has_statement(key_policy, KEY_GUARD_SID);
    let mut protection = Protection::found(bucket_policy, key_policy, lock.as_ref(), &lifecycle);
    for topic in alert_topics(config, central) {
        let found = alerts::read_topic(&topic.sns, &topic.arn).await?;
        changes.extend(alerts::diff_topic(&topic.policy, found.as_ref()));
        protection.alerts.push(AlertsTopic {
            confirmed_subscriptions: found.map(|t| t.confirmed_subscriptions),
            arn: topic.arn,
        });
    }
    Ok((
        plan::gate_central(changes, guarded, central.acting_as_break_glass),
        key_arn,
        protection,
    ))
}

/// One alerts topic of the central account as desired, with a client in its region.
struct AlertsTopicSpec<'a> {
    name: &'a str,
    arn: String,
    policy: Value,
    sns: aws_sdk_sns::Client,
}

/// Each alerts topic of the central account (`alerts_topic`), one per source region; none
/// without `alerts_topic`.
fn alert_topics<'a>(config: &'a Config, central: &Central) -> Vec<AlertsTopicSpec<'a>> {
    let Some(name) = config.central.alerts_topic.as_deref() else {
        return Vec::new();
    };
    central
        .alert_regions
        .iter()
        .map(|region| {
            let arn = alerts_topic_arn(region, &central.account, name);
            let policy = alerts_topic_policy(
                &arn,
                &central.org_id,
                &central.alert_accounts,
                central.break_glass_role.as_deref(),
            );
            let sns = central.aws.in_region(region).sns();
            AlertsTopicSpec {
                name,
                arn,
                policy,
                sns,
            }
        })
        .collect()
}

/// An alerts topic as found by status.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AlertsTopic {
    /// Its ARN.
    pub arn: String,
    /// Its confirmed subscriptions; `None` when the topic does not exist.
    pub confirmed_subscriptions: Option<u64>,
}

/// What protects central's versions, as found (not as configured): who may change central
/// (its bucket and key policies' break-glass guards) and its Object Lock default retention.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Protection {
    /// The break-glass role both the bucket policy and the key policy reserve central for; `None`
    /// when either lacks its guard (the central account's admins can then destroy backups).
    pub guarded_by: Option<String>,
    /// `GOVERNANCE` or `COMPLIANCE`, when a default retention is in force.
    pub object_lock_mode: Option<&'static str>,
    /// Days of default retention every new version gets.
    pub object_lock_days: Option<u32>,
    /// The enabled lifecycle rule of central that expires noncurrent versions soonest, and its
    /// days: an overwrite in a source account makes the version it replaced noncurrent, so that
    /// is how long a restore has before the good version is gone.
    pub noncurrent_expiry: Option<NoncurrentExpiry>,
    /// The alerts topics (`alerts_topic`), one per source region; empty: no alerts configured.
    pub alerts: Vec<AlertsTopic>,
}

/// A lifecycle rule of central that expires noncurrent versions.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NoncurrentExpiry {
    /// The rule's id.
    pub rule: String,
    /// Its `NoncurrentDays`.
    pub days: i32,
}

impl Protection {
    /// What central's actual bucket policy, key policy and Object Lock say: guarded only when
    /// both policies reserve central for the same role.
    fn found(
        bucket_policy: Option<&str>,
        key_policy: Option<&str>,
        lock: Option<&plan::LockActual>,
        lifecycle: &[plan::LifecycleRuleActual],
    ) -> Protection {
        let key_guard = guard_role(key_policy, KEY_GUARD_SID);
        let retention = lock.and_then(|l| l.retention);
        Protection {
            guarded_by: guard_role(bucket_policy, BUCKET_GUARD_SID)
                .filter(|b| key_guard.as_deref() == Some(b.as_str())),
            object_lock_mode: retention.map(|(mode, _)| mode.as_str()),
            object_lock_days: retention.map(|(_, days)| days),
            noncurrent_expiry: lifecycle
                .iter()
                .filter_map(|r| {
                    Some(NoncurrentExpiry {
                        rule: r.id.clone(),
                        days: r.noncurrent_days?,
                    })
                })
                .min_by_key(|e| e.days),
            alerts: Vec::new(),
        }
    }

    /// One line for people: guarded or not, immutable or not, and for how long.
    pub fn describe(&self) -> String {
        let guard = match &self.guarded_by {
            Some(role) => format!("changes and deletes only by the break-glass role {role}"),
            None => "NOT guarded: the central account's admins can delete versions or disable the key (set [central] break_glass_role)".to_owned(),
        };
        let lock = match (self.object_lock_mode, self.object_lock_days) {
            (Some("COMPLIANCE"), Some(days)) => format!("every version immutable for {days} days (Object Lock COMPLIANCE: no one can shorten it)"),
            (Some(mode), Some(days)) => format!("every version retained {days} days (Object Lock {mode}: s3:BypassGovernanceRetention can shorten it)"),
            _ => "no Object Lock (versions are kept by the policies above only)".to_owned(),
        };
        let expiry = match &self.noncurrent_expiry {
            Some(NoncurrentExpiry { rule, days }) => format!("; noncurrent versions EXPIRE after {days} days (lifecycle rule {rule:?}): an overwrite or delete in an account starts that clock for the version it replaced, so restore within {days} days"),
            None => String::new(),
        };
        format!(
            "central protection: {guard}; {lock}{expiry}{}",
            self.describe_alerts()
        )
    }

    /// The alerts part of [`Protection::describe`]: where failures are told, and whether anyone
    /// listens.
    fn describe_alerts(&self) -> String {
        if self.alerts.is_empty() {
            return "; NO replication alerts (set [central] alerts_topic)".to_owned();
        }
        let topics: Vec<String> = self
            .alerts
            .iter()
            .map(|t| match t.confirmed_subscriptions {
                None => format!("{} MISSING", t.arn),
                Some(0) => format!("{} with NO confirmed subscription: nobody is told", t.arn),
                Some(n) => format!("{} ({n} confirmed subscription(s))", t.arn),
            })
            .collect();
        format!("; replication failures alert {}", topics.join(", "))
    }
}

/// Makes the central account as desired; gives the central key's ARN.
pub async fn apply_central(config: &Config, central: &Central, writes: &Writes) -> Result<String> {
    let kms = central.aws.kms();
    let s3 = central.aws.s3();
    let key = state::read_key(&kms, &config.central.kms_alias).await?;
    let (key_spec, _) = central_specs(config, &central.facts(), PENDING_CENTRAL_KEY);
    let key_arn = apply_key(&kms, &key_spec, key.as_ref(), writes).await?;
    let (_, bucket_spec) = central_specs(config, &central.facts(), &key_arn);
    let bucket = state::read_bucket(&s3, &bucket_spec.name).await?;
    apply_bucket(
        &s3,
        &bucket_spec,
        bucket.as_ref(),
        Consent::default(),
        writes,
    )
    .await?;
    // A bucket created just now got its lock with it; an existing one is changed only to
    // strengthen it (the plan refuses anything weaker, and so does this).
    if bucket.is_some() {
        let lock = state::read_object_lock(&s3, &bucket_spec.name).await?;
        match diff_object_lock(config.central.object_lock.as_ref(), true, lock.as_ref()) {
            Some(Change {
                action: Action::Refused(why),
                ..
            }) => return Err(Error::Refused(format!("not applied: {why}"))),
            Some(Change {
                action: Action::Update(_) | Action::Create,
                ..
            }) => {
                if let Some(want) = &config.central.object_lock {
                    apply::put_object_lock(&s3, &bucket_spec.name, want, writes).await?;
                }
            }
            _ => {}
        }
    }
    // Before any source bucket names a topic: S3 checks it may publish there first.
    for t in alert_topics(config, central) {
        let found = alerts::read_topic(&t.sns, &t.arn).await?;
        if alerts::diff_topic(&t.policy, found.as_ref())
            .iter()
            .any(Change::is_change)
        {
            alerts::put_topic(&t.sns, t.name, &t.arn, &t.policy, writes).await?;
        }
    }
    Ok(key_arn)
}

/// The alerts topic a source bucket tells, and of which events; `None` without `alerts_topic`
/// (setup, status and the exported member template use it alike).
pub fn source_alerts(
    config: &Config,
    central_account: &str,
    source: &SourceAccount,
) -> Option<(String, Vec<&'static str>)> {
    let name = config.central.alerts_topic.as_deref()?;
    Some((
        alerts_topic_arn(&source.region, central_account, name),
        replication_alert_events(config.central.replication_time_control),
    ))
}

/// Writes a key's differences; gives its ARN.
async fn apply_key(
    kms: &aws_sdk_kms::Client,
    spec: &KeySpec,
    actual: Option<&plan::KeyActual>,
    writes: &Writes,
) -> Result<String> {
    let Some(actual) = actual else {
        return apply::create_key(kms, spec, writes).await;
    };
    for change in diff_key(spec, Some(actual))
        .iter()
        .filter(|c| c.is_change())
    {
        match change.resource {
            Resource::KmsKey => apply::create_alias(kms, &actual.arn, spec, writes).await?,
            Resource::KeyPolicy => apply::put_key_policy(kms, &actual.arn, spec, writes).await?,
            Resource::KeyRotation => apply::enable_rotation(kms, &actual.arn, writes).await?,
            _ => {}
        }
    }
    Ok(actual.arn.clone())
}

/// Writes a bucket's differences.
async fn apply_bucket(
    s3: &aws_sdk_s3::Client,
    spec: &BucketSpec,
    actual: Option<&plan::BucketActual>,
    consent: Consent,
    writes: &Writes,
) -> Result<()> {
    for change in diff_bucket(spec, actual).iter().filter(|c| c.is_change()) {
        match (change.resource, &change.action) {
            (Resource::Bucket, Action::Create) => apply::create_bucket(s3, spec, writes).await?,
            (resource, Action::NeedsConsent(fields)) if !consent.bucket_changes => {
                tracing::warn!(bucket = %spec.name, resource = resource.label(), ?fields, "left as it is: pass --allow-bucket-changes to change it");
            }
            (resource, _) => apply::apply_bucket_setting(s3, spec, resource, writes).await?,
        }
    }
    Ok(())
}

/// A source account's desired key, bucket, role and replication rule.
pub struct SourceSpecs {
    /// The account's key.
    pub key: KeySpec,
    /// The source bucket.
    pub bucket: BucketSpec,
    /// The replication role.
    pub role: RoleSpec,
    /// The restore role.
    pub restore_role: RoleSpec,
    /// The batch replication (backfill) role.
    pub batch_role: RoleSpec,
    /// The batch restore role.
    pub batch_restore_role: RoleSpec,
    /// The replication configuration.
    pub replication: ReplicationSpec,
}

/// Builds a source account's desired state from the config and the two keys' ARNs.
pub fn source_specs(
    config: &Config,
    central: &CentralFacts<'_>,
    source: &SourceAccount,
    source_key_arn: &str,
    central_key_arn: &str,
) -> SourceSpecs {
    let account = source.account.as_str();
    let role_input = RolePolicyInput {
        account,
        source_bucket: &source.bucket,
        central_bucket: &config.central.bucket,
        source_key_arn,
        central_key_arn,
        source_region: &source.region,
        central_region: central.region,
        replicate_deletes: source.replicate_deletes,
    };
    let trusted = match &source.restore_principals {
        Some(own) if !own.is_empty() => own.clone(),
        _ if config.central.restore_principals.is_empty() => {
            vec![format!("arn:aws:iam::{}:root", central.account)]
        }
        _ => config.central.restore_principals.clone(),
    };
    SourceSpecs {
        key: KeySpec {
            alias: source.kms_alias.clone(),
            policy: source_key_policy(account),
            lockout_intended: false,
        },
        bucket: BucketSpec {
            name: source.bucket.clone(),
            region: source.region.clone(),
            kms_key_arn: source_key_arn.to_owned(),
            policy: None,
            settings_need_consent: true,
            object_lock: None,
        },
        role: RoleSpec {
            kind: RoleKind::Replication,
            name: REPLICATION_ROLE.to_owned(),
            trust: replication_trust_policy(account),
            policy_name: ROLE_POLICY_NAME.to_owned(),
            policy: replication_role_policy(&role_input),
        },
        restore_role: RoleSpec {
            kind: RoleKind::Restore,
            name: RESTORE_ROLE.to_owned(),
            trust: restore_trust_policy(&trusted, central.org_id),
            policy_name: RESTORE_POLICY_NAME.to_owned(),
            policy: restore_role_policy(&role_input),
        },
        batch_role: RoleSpec {
            kind: RoleKind::BatchReplication,
            name: BATCH_REPLICATION_ROLE.to_owned(),
            trust: batch_replication_trust_policy(account),
            policy_name: BATCH_POLICY_NAME.to_owned(),
            policy: batch_replication_role_policy(account, &source.bucket),
        },
        batch_restore_role: RoleSpec {
            kind: RoleKind::BatchRestore,
            name: BATCH_RESTORE_ROLE.to_owned(),
            trust: batch_replication_trust_policy(account),
            policy_name: BATCH_RESTORE_POLICY_NAME.to_owned(),
            policy: batch_restore_role_policy(&role_input),
        },
        replication: ReplicationSpec {
            role_arn: format!("arn:aws:iam::{account}:role/{REPLICATION_ROLE}"),
            rule: replication_rule(&RuleInput {
                account,
                central_bucket: &config.central.bucket,
                central_account: central.account,
                central_key_arn,
                storage_class: &config.central.storage_class,
                replication_time_control: config.central.replication_time_control,
                replicate_deletes: source.replicate_deletes,
                alerts: config.central.alerts_topic.is_some(),
            }),
        },
    }
}

/// The rule id s3central's replication rule carries in a source bucket.
fn rule_id(account: &AccountId) -> String {
    format!("s3central-{account}")
}

/// Gives s3central's rule a priority no other rule of the bucket uses, and refuses a
/// configuration whose other rules use another role (S3 allows one role per bucket).
fn fit_rule(
    spec: &mut ReplicationSpec,
    found: Option<&state::ReplicationFound>,
    bucket: &str,
) -> Result<()> {
    if let Some(found) = found {
        if let Some(why) = replication_role_conflict(spec, &found.actual) {
            return Err(Error::Refused(format!(
                "cannot add s3central's replication rule to bucket {bucket}: {why}"
            )));
        }
        spec.rule.priority = rule_priority(
            found.actual.rule.as_ref().map(|r| r.priority),
            &found.actual.other_priorities,
        );
    }
    Ok(())
}

/// Reads a source account and diffs it against the desired state.
pub async fn plan_source(
    config: &Config,
    central: &Central,
    source: &SourceAccount,
    aws: &Aws,
    central_key_arn: &str,
    consent: Consent,
) -> Result<Vec<Change>> {
    let key = state::read_key(&aws.kms(), &source.kms_alias).await?;
    let key_arn = key
        .as_ref()
        .map(|k| k.arn.clone())
        .unwrap_or_else(|| PENDING_SOURCE_KEY.to_owned());
    let mut specs = source_specs(config, &central.facts(), source, &key_arn, central_key_arn);
    let s3 = aws.s3();
    let iam = aws.iam();
    let bucket = state::read_bucket(&s3, &source.bucket).await?;
    let role = state::read_role(&iam, REPLICATION_ROLE, ROLE_POLICY_NAME).await?;
    let restore_role = state::read_role(&iam, RESTORE_ROLE, RESTORE_POLICY_NAME).await?;
    let batch_role = state::read_role(&iam, BATCH_REPLICATION_ROLE, BATCH_POLICY_NAME).await?;
    let batch_restore_role =
        state::read_role(&iam, BATCH_RESTORE_ROLE, BATCH_RESTORE_POLICY_NAME).await?;
    let replication = match bucket {
        Some(_) => state::read_replication(&s3, &source.bucket, &rule_id(&source.account)).await?,
        None => None,
    };
    fit_rule(&mut specs.replication, replication.as_ref(), &source.bucket)?;
    let mut changes = diff_key(&specs.key, key.as_ref());
    changes.extend(diff_bucket(&specs.bucket, bucket.as_ref()));
    changes.extend(diff_role(&specs.role, role.as_ref()));
    changes.extend(diff_role(&specs.restore_role, restore_role.as_ref()));
    changes.extend(diff_role(&specs.batch_role, batch_role.as_ref()));
    changes.extend(diff_role(
        &specs.batch_restore_role,
        batch_restore_role.as_ref(),
    ));
    let rule = diff_replication(&specs.replication, replication.as_ref().map(|r| &r.actual));
    let rule_is_new = rule_is_new(&rule);
    changes.push(rule);
    if let Some(foreign) = replication
        .as_ref()
        .and_then(|r| plan::foreign_rules_into_central(&r.actual, &config.central.bucket))
    {
        changes.push(foreign);
    }
    if let Some((topic, events)) = source_alerts(config, &central.account, source) {
        let found = match bucket {
            Some(_) => {
                alerts::read_notification(&s3, &source.bucket, &topic)
                    .await?
                    .1
            }
            None => None,
        };
        changes.push(alerts::diff_notification(&topic, &events, &found));
    }
    if bucket.is_some() {
        let bucket = &config.central.bucket;
        changes.push(plan_backfill(central, bucket, source, aws, rule_is_new, consent).await?);
    }
    Ok(changes)
}

/// Whether s3central's rule is not in the bucket yet (objects already there will never replicate).
fn rule_is_new(change: &Change) -> bool {
    matches!(&change.action, Action::Create)
        || matches!(&change.action, Action::Update(fields) if fields.iter().any(|f| f == "rule"))
}

/// How many objects a backfill job would replicate now (0 when one is still running), and how
/// many backfill jobs the bucket already had (the new job's generation, see [`backfill::token`]).
async fn backfill_needed(
    central: &Central,
    central_bucket: &str,
    source: &SourceAccount,
    aws: &Aws,
    rule_is_new: bool,
    consent: Consent,
) -> Result<(u64, usize)> {
    let account = source.account.as_str();
    let prefix = source.account.prefix();
    let jobs = backfill::jobs(aws, account, &source.bucket).await?;
    if !rule_is_new && !consent.backfill && !backfill::newest_gave_up(&jobs) {
        return Ok((0, jobs.len()));
    }
    if jobs.iter().any(|j| !backfill::is_finished(&j.status)) {
        return Ok((0, jobs.len()));
    }
    let objects = if rule_is_new {
        backfill::existing_objects(&aws.s3(), &source.bucket, &prefix).await?
    } else {
        backfill::unreplicated_objects(
            &aws.s3(),
            &source.bucket,
            &central.aws.s3(),
            central_bucket,
            &prefix,
        )
        .await?
    };
    Ok((objects, jobs.len()))
}

/// The plan's backfill line.
async fn plan_backfill(
    central: &Central,
    central_bucket: &str,
    source: &SourceAccount,
    aws: &Aws,
    rule_is_new: bool,
    consent: Consent,
) -> Result<Change> {
    let (n, _) =
        backfill_needed(central, central_bucket, source, aws, rule_is_new, consent).await?;
    Ok(Change {
        resource: Resource::Backfill,
        action: if n == 0 {
            Action::Unchanged
        } else {
            Action::Update(vec![format!(
                "{n} existing object(s) without a replica: S3 Batch Replication job"
            )])
        },
    })
}

/// Makes a role as desired; gives the number of its resources changed.
async fn apply_role(
    iam: &aws_sdk_iam::Client,
    spec: &RoleSpec,
    policy_name: &str,
    writes: &Writes,
) -> Result<usize> {
    let role = state::read_role(iam, &spec.name, policy_name).await?;
    let mut changed = 0;
    for change in diff_role(spec, role.as_ref())
        .iter()
        .filter(|c| c.is_change())
    {
        changed += 1;
        match change.resource {
            Resource::Role
            | Resource::RestoreRole
            | Resource::BatchRole
            | Resource::BatchRestoreRole => apply::create_role(iam, spec, writes).await?,
            Resource::RoleTrust
            | Resource::RestoreRoleTrust
            | Resource::BatchRoleTrust
            | Resource::BatchRestoreRoleTrust => apply::put_role_trust(iam, spec, writes).await?,
            Resource::RolePolicy
            | Resource::RestoreRolePolicy
            | Resource::BatchRolePolicy
            | Resource::BatchRestoreRolePolicy => apply::put_role_policy(iam, spec, writes).await?,
            other => {
                return Err(Error::Invalid(format!(
                    "internal: {} is not a role resource",
                    other.label()
                )))
            }
        }
    }
    Ok(changed)
}

/// Makes a source account as desired (reading it again first); gives the number of resources changed.
pub async fn apply_source(
    config: &Config,
    central: &Central,
    source: &SourceAccount,
    aws: &Aws,
    central_key_arn: &str,
    consent: Consent,
    writes: &Writes,
) -> Result<usize> {
    let kms = aws.kms();
    let s3 = aws.s3();
    let iam = aws.iam();
    let key = state::read_key(&kms, &source.kms_alias).await?;
    let pending = source_specs(
        config,
        &central.facts(),
        source,
        PENDING_SOURCE_KEY,
        central_key_arn,
    );
    let mut changed = diff_key(&pending.key, key.as_ref())
        .iter()
        .filter(|c| c.is_change())
        .count();
    let key_arn = apply_key(&kms, &pending.key, key.as_ref(), writes).await?;
    let mut specs = source_specs(config, &central.facts(), source, &key_arn, central_key_arn);
    let bucket = state::read_bucket(&s3, &source.bucket).await?;
    // A bucket this run creates holds nothing a backfill could copy.
    let bucket_existed = bucket.is_some();
    changed += diff_bucket(&specs.bucket, bucket.as_ref())
        .iter()
        .filter(|c| {
            c.is_change()
                && (consent.bucket_changes || !matches!(c.action, Action::NeedsConsent(_)))
        })
        .count();
    apply_bucket(&s3, &specs.bucket, bucket.as_ref(), consent, writes).await?;
    changed += apply_role(&iam, &specs.role, ROLE_POLICY_NAME, writes).await?;
    changed += apply_role(&iam, &specs.restore_role, RESTORE_POLICY_NAME, writes).await?;
    // A batch role made or changed now may not be assumable yet: the backfill is watched for it.
    let batch_role_changed = apply_role(&iam, &specs.batch_role, BATCH_POLICY_NAME, writes).await?;
    changed += batch_role_changed;
    changed += apply_role(
        &iam,
        &specs.batch_restore_role,
        BATCH_RESTORE_POLICY_NAME,
        writes,
    )
    .await?;
    // Versioning is on by now (bucket applied above): replication may be configured.
    let id = rule_id(&source.account);
    let replication = state::read_replication(&s3, &source.bucket, &id).await?;
    fit_rule(&mut specs.replication, replication.as_ref(), &source.bucket)?;
    let rule_change = diff_replication(&specs.replication, replication.as_ref().map(|r| &r.actual));
    let rule_was_new = rule_is_new(&rule_change);
    if rule_change.is_change() {
        changed += 1;
        let others = replication.map(|r| r.others).unwrap_or_default();
        apply::put_replication(&s3, &source.bucket, &specs.replication, &others, writes).await?;
        let back = state::read_replication(&s3, &source.bucket, &id).await?;
        let kept = back
            .as_ref()
            .is_some_and(|b| b.actual.other_ids.len() == others.len());
        if !kept
            || diff_replication(&specs.replication, back.as_ref().map(|r| &r.actual)).is_change()
        {
            return Err(Error::Invalid(format!(
                "replication rule of {} did not read back as written",
                source.bucket
            )));
        }
    }
    // After the rule: the failure events need its replication metrics.
    if let Some((topic, events)) = source_alerts(config, &central.account, source) {
        let (whole, found) = alerts::read_notification(&s3, &source.bucket, &topic).await?;
        if alerts::diff_notification(&topic, &events, &found).is_change() {
            changed += 1;
            alerts::put_notification(&s3, &source.bucket, &whole, &topic, &events, writes).await?;
        }
    }
    // The rule replicates new writes only: what was there before (or FAILED) needs a job.
    let central_bucket = &config.central.bucket;
    let (objects, generation) = if bucket_existed {
        backfill_needed(central, central_bucket, source, aws, rule_was_new, consent).await?
    } else {
        (0, 0)
    };
    if objects > 0 {
        writes.add();
        let job = backfill::start_watched(
            aws,
            source.account.as_str(),
            &source.bucket,
            generation,
            batch_role_changed > 0,
        )
        .await?;
        tracing::info!(account = %source.account, %job, "backfill job started");
        changed += 1;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::Protection;

    #[test]
    fn protection_says_whether_central_is_guarded_and_for_how_long() {
        let none = Protection {
            guarded_by: None,
            object_lock_mode: None,
            object_lock_days: None,
            noncurrent_expiry: None,
            alerts: Vec::new(),
        };
        assert!(
            none.describe().contains("NOT guarded"),
            "{}",
            none.describe()
        );
        assert!(none.describe().contains("no Object Lock"));
        let full = Protection {
            guarded_by: Some("arn:aws:iam::123456789012:role/bg".into()),
            object_lock_mode: Some("COMPLIANCE"),
            object_lock_days: Some(30),
            noncurrent_expiry: None,
            alerts: Vec::new(),
        };
        let text = full.describe();
        assert!(!text.contains("EXPIRE"), "{text}");
        assert!(text.contains("NO replication alerts"), "{text}");
        let topic = |confirmed| super::AlertsTopic {
            arn: "arn:aws:sns:us-east-1:123456789012:a".into(),
            confirmed_subscriptions: confirmed,
        };
        for (confirmed, says) in [
            (None, "MISSING"),
            (Some(0), "NO confirmed subscription"),
            (Some(2), "(2 confirmed subscription(s))"),
        ] {
            let alerting = Protection {
                alerts: vec![topic(confirmed)],
                ..full.clone()
            };
            assert!(
                alerting.describe().contains(says),
                "{}",
                alerting.describe()
            );
        }
        let rule = |id: &str, days: Option<i32>| super::plan::LifecycleRuleActual {
            id: id.into(),
            prefix: String::new(),
            noncurrent_days: days,
        };
        let expiring = Protection::found(
            None,
            None,
            None,
            &[
                rule("slow", Some(90)),
                rule("fast", Some(7)),
                rule("other", None),
            ],
        );
        assert_eq!(
            expiring.noncurrent_expiry,
            Some(super::NoncurrentExpiry {
                rule: "fast".into(),
                days: 7
            })
        );
        assert!(
            expiring
                .describe()
                .contains("noncurrent versions EXPIRE after 7 days (lifecycle rule \"fast\")"),
            "{}",
            expiring.describe()
        );
        assert!(
            text.contains("only by the break-glass role arn:aws:iam::123456789012:role/bg"),
            "{text}"
        );
        assert!(text.contains("immutable for 30 days"), "{text}");
    }
}
