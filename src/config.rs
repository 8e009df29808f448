//! The `s3central.toml` file: the desired state that `s3central setup` converges the organization to.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::account::AccountId;

/// The central key's alias when `[central].kms_alias` is not given.
pub const DEFAULT_KMS_ALIAS: &str = "alias/s3central";
/// A source bucket key's alias when `[[source]].kms_alias` is not given.
pub const DEFAULT_SOURCE_KMS_ALIAS: &str = "alias/s3central-source";
/// The replicas' storage class when `[central].storage_class` is not given.
pub const DEFAULT_STORAGE_CLASS: &str = "STANDARD";
/// The source bucket name of a discovered account when `[discovery].bucket_template` is not given.
pub const DEFAULT_BUCKET_TEMPLATE: &str = "s3central-{account}";
/// The role assumed into every account when `assume_role` is not given.
pub const DEFAULT_ASSUME_ROLE: &str = "OrganizationAccountAccessRole";
/// The storage classes a replication rule may write replicas in.
pub const STORAGE_CLASSES: &[&str] = &[
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "GLACIER_IR",
];

/// A complete, documented `s3central.toml` (docs/configuration.md includes it).
pub const EXAMPLE: &str = r#"# s3central.toml: what `s3central setup` creates and keeps converged.
# Every key not marked "required" may be left out.

# The role assumed into every account (central, listed and discovered) to set it up.
# Default "OrganizationAccountAccessRole". May be given here (before any [table]) or in
# [discovery], not both.
# assume_role = "OrganizationAccountAccessRole"

[central]
# The account that owns the central bucket. Default: the caller's account (STS GetCallerIdentity).
account = "123456789012"
# The central bucket's region. Default: the region of --region / the profile.
region = "us-east-1"
# Required. The ONE central bucket (versioned, SSE-KMS); each account writes under "<account-id>/".
bucket = "acme-s3central"
# The alias of the central customer-managed KMS key. Default "alias/s3central".
kms_alias = "alias/s3central"
# The replicas' storage class. Default "STANDARD". One of STANDARD, REDUCED_REDUNDANCY,
# STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER, DEEP_ARCHIVE, GLACIER_IR.
storage_class = "STANDARD_IA"
# S3 Replication Time Control (15-minute SLA and metrics). Default true.
replication_time_control = true
# Replicate delete markers, so central knows of every legitimate delete and
# `restore --respect-deletes` gives back exactly what the account had. Default false: central
# never learns of a delete (an attacker's deletes never reach it), and a restore brings deleted
# keys back. Each [[source]] may say otherwise. setup refuses it while central has a lifecycle
# rule that expires noncurrent versions. See docs/deletes.md.
replicate_deletes = false
# The organization whose principals may replicate into central.
# Default: read with Organizations DescribeOrganization.
org_id = "o-abcd123456"
# Who may assume the role "s3central-restore" that setup makes in every source account (account
# ids or IAM ARNs), only while in the organization. They must be of the central account: setup
# refuses others. `s3central restore` assumes it to copy an account's prefix back server-side.
# Default: the central account.
restore_principals = ["123456789012"]
# S3 Object Lock on the central bucket with this default retention for every replica: no one,
# the central account's administrators included, can delete a version before it expires
# (COMPLIANCE: not even root; GOVERNANCE: only with s3:BypassGovernanceRetention). Default: off.
# Once on it cannot be turned off; setup never shortens it or lowers COMPLIANCE to GOVERNANCE.
object_lock = { mode = "GOVERNANCE", days = 30 }
# The break-glass role of the central account (name, path/name, or ARN); it must exist before
# setup names it. When set, it is the only principal that may delete versions, write objects,
# change central's versioning, lifecycle, policy, lock, ownership, encryption, replication or
# ACLs, or disable, delete, re-policy or grant on the central key: everyone else, the central
# account's admins included, is denied. After the first run that applies it, changes to central
# need setup run as that role. Default: none (central is then not guarded against its own
# account's admins: see docs/security.md).
break_glass_role = "s3central-break-glass"
# Who may replicate into central (each under its own prefix) and read its prefix back:
# "organization" (default: every account of the organization, so a new account is protected as
# soon as its own stack or setup run adds its rule) or "listed" (only the accounts this file sets
# up, listed and discovered: central's policies name them, so a new account is refused until
# setup runs again, as the break-glass role when central is guarded; about 800 accounts fit in a
# bucket policy's 20 KB).
enrollment = "organization"
# An SNS topic name: setup makes it in the central account (one per region that has a source
# bucket) and has every source bucket tell it when a replication fails
# (s3:Replication:OperationFailedReplication) or, with Replication Time Control, misses its
# 15 minutes (OperationMissedThreshold); the rules get S3 Replication metrics, which these events
# need. Subscribe your on-call to it. Default: no alerts (status --coverage on a schedule is then
# the only watch; docs/status.md).
alerts_topic = "s3central-replication-alerts"

# One [[source]] table per account listed explicitly.
[[source]]
# Required. The 12-digit account id, as a string.
account = "111111111111"
# Required. The account's source bucket (versioned, SSE-KMS); its objects under "<account-id>/"
# are replicated.
bucket = "acme-data-111111111111"
# The source bucket's region. Default: the central region.
region = "eu-west-1"
# The alias of the source bucket's KMS key in that account. Default "alias/s3central-source".
kms_alias = "alias/s3central-source"
# Who may assume this account's restore role, instead of [central] restore_principals (principals
# of the central account only). Default: the central list.
restore_principals = ["arn:aws:iam::123456789012:role/prod-incident-response"]
# Whether this account's rule replicates delete markers. Default: [central] replicate_deletes.
replicate_deletes = true

[[source]]
account = "222222222222"
bucket = "acme-data-222222222222"

# Optional: also set up every account found in these organizational units.
[discovery]
# OU ids ("ou-...") or the organization root id ("r-...") whose accounts are set up.
organizational_units = ["ou-ab12-cdef3456"]
# Accounts never set up by discovery (for example the central account itself).
exclude_accounts = ["999999999999"]
# The source bucket of a discovered account; must contain {account}. Default "s3central-{account}".
bucket_template = "s3central-{account}"
# The role assumed into every account (also the listed ones). Default "OrganizationAccountAccessRole".
assume_role = "OrganizationAccountAccessRole"
"#;

/// The validated contents of `s3central.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The central account, bucket and key.
    pub central: Central,
    /// The accounts listed with `[[source]]`, in file order.
    pub sources: Vec<Source>,
    /// How to discover more accounts from Organizations, if at all.
    pub discovery: Option<Discovery>,
    /// The role assumed into every account (top-level or `[discovery]` `assume_role`, or the default).
    pub assume_role: String,
}

/// The `[central]` table: where every account replicates to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Central {
    /// The central account; `None` means the caller's account (STS).
    pub account: Option<AccountId>,
    /// The central bucket's region; `None` means the configured default region.
    pub region: Option<String>,
    /// The central bucket's name.
    pub bucket: String,
    /// The central KMS key's alias (`alias/...`).
    pub kms_alias: String,
    /// The storage class replicas are written in.
    pub storage_class: String,
    /// Whether replication rules use S3 Replication Time Control.
    pub replication_time_control: bool,
    /// Whether the accounts' rules replicate delete markers (each `[[source]]` may say otherwise):
    /// central then knows of legitimate deletes, and `--respect-deletes` restores the account's
    /// own state.
    pub replicate_deletes: bool,
    /// The organization id; `None` means read it from Organizations.
    pub org_id: Option<String>,
    /// Who may assume each account's `s3central-restore` role (ARNs); empty means the central account.
    pub restore_principals: Vec<String>,
    /// Object Lock with a default retention on the central bucket; `None` means not configured.
    pub object_lock: Option<ObjectLock>,
    /// The break-glass role of the central account (a name, `path/name`, or its ARN): the only
    /// principal that may delete versions or change central and its key; `None`: not guarded.
    pub break_glass_role: Option<String>,
    /// Which accounts may replicate into central and read their prefix back.
    pub enrollment: Enrollment,
    /// The SNS topic (a name) of the central account that S3 tells when a replication fails or
    /// is late; one in each region with a source bucket; `None`: no alerts.
    pub alerts_topic: Option<String>,
}

/// `[central] enrollment`: who may use central.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Enrollment {
    /// Every account of the organization, under its own prefix (what automatic onboarding of
    /// new accounts needs; the default).
    #[default]
    Organization,
    /// Only the accounts this config sets up (listed and discovered): central's policies name
    /// them, so an account added to the organization is refused until setup runs again.
    Listed,
}

/// The most days of default retention accepted (S3 allows up to 100 years).
pub const MAX_LOCK_DAYS: u32 = 36_500;

/// An S3 Object Lock retention mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LockMode {
    /// Deletable before expiry only by principals with s3:BypassGovernanceRetention.
    Governance,
    /// Deletable before expiry by no one, the account root included.
    Compliance,
}

impl LockMode {
    /// The S3 API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            LockMode::Governance => "GOVERNANCE",
            LockMode::Compliance => "COMPLIANCE",
        }
    }

    /// Parses the S3 API spelling.
    pub fn parse(s: &str) -> Option<LockMode> {
        match s {
            "GOVERNANCE" => Some(LockMode::Governance),
            "COMPLIANCE" => Some(LockMode::Compliance),
            _ => None,
        }
    }
}

/// `[central] object_lock`: the central bucket's Object Lock default retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ObjectLock {
    /// The retention mode.
    pub mode: LockMode,
    /// Days each new version is retained.
    pub days: u32,
}

/// A `[[source]]` table: one account and the bucket it replicates from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The source account.
    pub account: AccountId,
    /// The source bucket in that account.
    pub bucket: String,
    /// The source bucket's region; `None` means the central region.
    pub region: Option<String>,
    /// The source bucket key's alias (`alias/...`).
    pub kms_alias: String,
    /// Who may assume this account's restore role instead of `[central] restore_principals`
    /// (ARNs, of the central account); `None`: the central list.
    pub restore_principals: Option<Vec<String>>,
    /// Whether this account's rule replicates delete markers; `None`: `[central]`'s setting.
    pub replicate_deletes: Option<bool>,
}

/// The `[discovery]` table: accounts found in organizational units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    /// OU ids (`ou-...`) or the root id (`r-...`) whose accounts are set up.
    pub organizational_units: Vec<String>,
    /// Accounts never set up by discovery.
    pub exclude_accounts: Vec<AccountId>,
    /// The source bucket name of a discovered account, with `{account}` for its id.
    pub bucket_template: String,
}

impl Discovery {
    /// The source bucket of a discovered account: the template with `{account}` replaced.
    pub fn bucket_for(&self, account: &AccountId) -> String {
        self.bucket_template.replace("{account}", account.as_str())
    }
}

/// Why the config file cannot be used; every message is one line with the position, problem and fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config file {}: {source}; create it (see the example in docs/configuration.md) or pass --config PATH", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A problem in a named file.
    #[error("{}: {error}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// The problem.
        error: Box<ConfigError>,
    },
    /// TOML syntax, an unknown key, a missing key or a value of the wrong type.
    #[error("{at}{message}; {fix}")]
    Syntax {
        /// `"line N: "`, or empty when the position is unknown.
        at: String,
        /// The parser's message, on one line.
        message: String,
        /// How to fix it.
        fix: &'static str,
    },
    /// The file has no settings at all.
    #[error("the config is empty; add a [central] table with bucket = \"<central bucket>\" and at least one [[source]] table (account, bucket) or a [discovery] table")]
    Empty,
    /// There is no `[central]` table.
    #[error("there is no [central] table; add one with bucket = \"<central bucket>\"")]
    MissingCentral,
    /// Neither sources nor discovery are given.
    #[error("there is no [[source]] table and no [discovery] table, so there is nothing to set up; list accounts with [[source]] (account, bucket) or discover them with [discovery] organizational_units")]
    NothingToSetUp,
    /// A value is not a 12-digit account id.
    #[error("line {line}: {key} = {value:?} is not an account id; an account id is exactly 12 digits written as a string, e.g. \"111111111111\"")]
    InvalidAccount {
        /// Where.
        line: usize,
        /// The key.
        key: &'static str,
        /// The value.
        value: String,
    },
    /// A value is not a valid S3 bucket name.
    #[error("line {line}: {key} = {value:?} is not a valid S3 bucket name: {reason}; use 3-63 lowercase letters, digits, dots or hyphens, starting and ending with a letter or digit")]
    InvalidBucket {
        /// Where.
        line: usize,
        /// The key.
        key: &'static str,
        /// The value.
        value: String,
        /// Which S3 rule it breaks.
        reason: &'static str,
    },
    /// Two `[[source]]` tables name the same account.
    #[error("lines {first} and {second}: account {account} is listed in two [[source]] tables; keep only one of them")]
    DuplicateAccount {
        /// The account.
        account: AccountId,
        /// The first table's account line.
        first: usize,
        /// The second table's account line.
        second: usize,
    },
    /// Two `[[source]]` tables name the same bucket.
    #[error("lines {first} and {second}: bucket {bucket:?} is the source bucket of two [[source]] tables; give each account its own bucket")]
    DuplicateBucket {
        /// The bucket.
        bucket: String,
        /// The first table's bucket line.
        first: usize,
        /// The second table's bucket line.
        second: usize,
    },
    /// A source bucket is the central bucket.
    #[error("line {line}: source bucket {bucket:?} is the central bucket; a source replicates into the central bucket and cannot be it, so name the account's own bucket")]
    SourceIsCentral {
        /// Where.
        line: usize,
        /// The bucket.
        bucket: String,
    },
    /// A KMS alias is malformed or AWS-managed.
    #[error("line {line}: {key} = {value:?} is not a usable KMS alias: {reason}; use a customer-managed alias such as \"alias/s3central\"")]
    InvalidKmsAlias {
        /// Where.
        line: usize,
        /// The key.
        key: &'static str,
        /// The value.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The discovery bucket template cannot produce valid bucket names.
    #[error("line {line}: bucket_template = {value:?} {reason}; use a template such as \"s3central-{{account}}\"")]
    InvalidTemplate {
        /// Where.
        line: usize,
        /// The template.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// The storage class is not one S3 replication accepts.
    #[error("line {line}: storage_class = {value:?} is not an S3 storage class; use one of STANDARD, REDUCED_REDUNDANCY, STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER, DEEP_ARCHIVE, GLACIER_IR")]
    InvalidStorageClass {
        /// Where.
        line: usize,
        /// The value.
        value: String,
    },
    /// The organization id is malformed.
    #[error("line {line}: org_id = {value:?} is not an organization id; use \"o-\" and 10-32 lowercase letters or digits, e.g. \"o-abcd123456\", or leave it out to read it from Organizations")]
    InvalidOrgId {
        /// Where.
        line: usize,
        /// The value.
        value: String,
    },
    /// A region name is malformed.
    #[error("line {line}: {key} = {value:?} is not a region name; use a region such as \"us-east-1\", or leave it out for the default")]
    InvalidRegion {
        /// Where.
        line: usize,
        /// The key.
        key: &'static str,
        /// The value.
        value: String,
    },
    /// An organizational unit id is malformed.
    #[error("line {line}: organizational_units entry {value:?} is not an OU or root id; use ids such as \"ou-ab12-cdef3456\" or \"r-ab12\"")]
    InvalidOu {
        /// Where.
        line: usize,
        /// The value.
        value: String,
    },
    /// `[discovery]` lists no organizational units.
    #[error("line {line}: [discovery] has no organizational_units, so it discovers nothing; list OU ids such as [\"ou-ab12-cdef3456\"] (or the root id \"r-...\"), or remove [discovery]")]
    NoOrganizationalUnits {
        /// Where the `[discovery]` table is.
        line: usize,
    },
    /// The role name is not a valid IAM role name.
    #[error("line {line}: assume_role = {value:?} is not an IAM role name; use 1-64 letters, digits or +=,.@_- such as \"OrganizationAccountAccessRole\" (the name, not the ARN)")]
    InvalidRoleName {
        /// Where.
        line: usize,
        /// The value.
        value: String,
    },
    /// A restore principal is not an IAM principal ARN.
    #[error("line {line}: restore_principals entry {value:?} is not an IAM principal; use an account id (\"123456789012\") or an ARN such as \"arn:aws:iam::123456789012:role/incident-response\"")]
    InvalidPrincipal {
        /// Where.
        line: usize,
        /// The value.
        value: String,
    },
    /// `enrollment` is neither "organization" nor "listed".
    #[error("line {line}: enrollment = {value:?}: use \"organization\" (every account of the organization may replicate into its own prefix) or \"listed\" (only the accounts this config sets up)")]
    InvalidEnrollment {
        /// Where.
        line: usize,
        /// The value.
        value: String,
    },
    /// `alerts_topic` is not an SNS topic name.
    #[error("line {line}: alerts_topic {value:?} is not an SNS topic name: use 1 to 256 letters, digits, hyphens or underscores (\"s3central-replication-alerts\"); setup makes it in the central account")]
    InvalidAlertsTopic {
        /// Where.
        line: usize,
        /// The value.
        value: String,
    },
    /// `break_glass_role` is neither a role name nor a role ARN.
    #[error("line {line}: break_glass_role {value:?} is not an IAM role; use the name of a role of the central account (\"s3central-break-glass\") or its ARN (\"arn:aws:iam::123456789012:role/s3central-break-glass\")")]
    InvalidBreakGlassRole {
        /// Where.
        line: usize,
        /// The value.
        value: String,
    },
    /// `object_lock` has a bad mode or number of days.
    #[error("line {line}: object_lock {reason}; use object_lock = {{ mode = \"GOVERNANCE\" or \"COMPLIANCE\", days = 1-36500 }}")]
    InvalidObjectLock {
        /// Where.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// `assume_role` is given at the top level and in `[discovery]`.
    #[error("lines {first} and {second}: assume_role is given both at the top level and in [discovery]; keep only one of them")]
    AssumeRoleTwice {
        /// The top-level key's line.
        first: usize,
        /// The `[discovery]` key's line.
        second: usize,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    assume_role: Option<Spanned<String>>,
    central: Option<RawCentral>,
    #[serde(default)]
    source: Vec<RawSource>,
    discovery: Option<Spanned<RawDiscovery>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCentral {
    account: Option<Spanned<String>>,
    region: Option<Spanned<String>>,
    bucket: Spanned<String>,
    kms_alias: Option<Spanned<String>>,
    storage_class: Option<Spanned<String>>,
    replication_time_control: Option<bool>,
    replicate_deletes: Option<bool>,
    org_id: Option<Spanned<String>>,
    #[serde(default)]
    restore_principals: Vec<Spanned<String>>,
    object_lock: Option<Spanned<RawObjectLock>>,
    break_glass_role: Option<Spanned<String>>,
    enrollment: Option<Spanned<String>>,
    alerts_topic: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawObjectLock {
    mode: Spanned<String>,
    days: Spanned<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    account: Spanned<String>,
    bucket: Spanned<String>,
    region: Option<Spanned<String>>,
    kms_alias: Option<Spanned<String>>,
    restore_principals: Option<Vec<Spanned<String>>>,
    replicate_deletes: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDiscovery {
    #[serde(default)]
    organizational_units: Vec<Spanned<String>>,
    #[serde(default)]
    exclude_accounts: Vec<Spanned<String>>,
    bucket_template: Option<Spanned<String>>,
    assume_role: Option<Spanned<String>>,
}

/// Reads and validates a config file; errors name the file.
pub fn load_config(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_config(&text).map_err(|error| ConfigError::InFile {
        path: path.to_path_buf(),
        error: Box::new(error),
    })
}

/// Parses and validates the text of an `s3central.toml`.
pub fn parse_config(text: &str) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| syntax_error(text, &e))?;
    let lines = Lines(text);
    if raw.assume_role.is_none()
        && raw.central.is_none()
        && raw.source.is_empty()
        && raw.discovery.is_none()
    {
        return Err(ConfigError::Empty);
    }
    let central = raw.central.ok_or(ConfigError::MissingCentral)?;
    let central = validate_central(&lines, central)?;
    let sources = validate_sources(&lines, raw.source, &central)?;

    let mut assume_role = raw.assume_role;
    let discovery = match raw.discovery {
        None => None,
        Some(d) => {
            let table_line = lines.at(&d.span());
            let d = d.into_inner();
            match (&assume_role, d.assume_role) {
                (Some(top), Some(inner)) => {
                    return Err(ConfigError::AssumeRoleTwice {
                        first: lines.of(top),
                        second: lines.of(&inner),
                    })
                }
                (None, Some(inner)) => assume_role = Some(inner),
                _ => {}
            }
            Some(validate_discovery(
                &lines,
                table_line,
                d.organizational_units,
                d.exclude_accounts,
                d.bucket_template,
            )?)
        }
    };
    if sources.is_empty() && discovery.is_none() {
        return Err(ConfigError::NothingToSetUp);
    }
    let assume_role = match assume_role {
        None => DEFAULT_ASSUME_ROLE.to_owned(),
        Some(role) => {
            if !valid_role_name(role.get_ref()) {
                return Err(ConfigError::InvalidRoleName {
                    line: lines.of(&role),
                    value: role.into_inner(),
                });
            }
            role.into_inner()
        }
    };
    Ok(Config {
        central,
        sources,
        discovery,
        assume_role,
    })
}

fn validate_central(lines: &Lines<'_>, c: RawCentral) -> Result<Central, ConfigError> {
    let account = c
        .account
        .map(|a| account_id(lines, "account", a))
        .transpose()?;
    let region = c.region.map(|r| region(lines, "region", r)).transpose()?;
    let bucket = bucket(lines, "bucket", c.bucket)?;
    let kms_alias = kms_alias(lines, c.kms_alias, DEFAULT_KMS_ALIAS)?;
    let storage_class = match c.storage_class {
        None => DEFAULT_STORAGE_CLASS.to_owned(),
        Some(s) if STORAGE_CLASSES.contains(&s.get_ref().as_str()) => s.into_inner(),
        Some(s) => {
            return Err(ConfigError::InvalidStorageClass {
                line: lines.of(&s),
                value: s.into_inner(),
            })
        }
    };
    let org_id = match c.org_id {
        None => None,
        Some(o) if valid_org_id(o.get_ref()) => Some(o.into_inner()),
        Some(o) => {
            return Err(ConfigError::InvalidOrgId {
                line: lines.of(&o),
                value: o.into_inner(),
            })
        }
    };
    let restore_principals = principals(lines, c.restore_principals)?;
    let object_lock = c
        .object_lock
        .map(|l| object_lock(lines, l.into_inner()))
        .transpose()?;
    let enrollment = match c.enrollment {
        None => Enrollment::Organization,
        Some(e) => match e.get_ref().as_str() {
            "organization" => Enrollment::Organization,
            "listed" => Enrollment::Listed,
            _ => {
                return Err(ConfigError::InvalidEnrollment {
                    line: lines.of(&e),
                    value: e.into_inner(),
                })
            }
        },
    };
    let break_glass_role = match c.break_glass_role {
        None => None,
        Some(r) => {
            let value = r.get_ref();
            let is_role_arn = principal_arn(value).is_some_and(|arn| arn.contains(":role/"));
            let is_name = !value.starts_with("arn:") && value.split('/').all(valid_role_name);
            if !(is_role_arn || is_name) {
                return Err(ConfigError::InvalidBreakGlassRole {
                    line: lines.of(&r),
                    value: r.into_inner(),
                });
            }
            Some(r.into_inner())
        }
    };
    let alerts_topic = match c.alerts_topic {
        None => None,
        Some(t) if is_topic_name(t.get_ref()) => Some(t.into_inner()),
        Some(t) => {
            return Err(ConfigError::InvalidAlertsTopic {
                line: lines.of(&t),
                value: t.into_inner(),
            })
        }
    };
    Ok(Central {
        alerts_topic,
        account,
        region,
        bucket,
        kms_alias,
        storage_class,
        replication_time_control: c.replication_time_control.unwrap_or(true),
        replicate_deletes: c.replicate_deletes.unwrap_or(false),
        org_id,
        restore_principals,
        object_lock,
        break_glass_role,
        enrollment,
    })
}

/// Whether a text is an SNS standard topic name (1 to 256 letters, digits, `-` or `_`).
fn is_topic_name(name: &str) -> bool {
    (1..=256).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The ARN of a break-glass role as the config names it (a name or `path/name` in the central
/// account, or an ARN kept as it is).
pub fn break_glass_arn(role: &str, central_account: &str) -> String {
    if role.starts_with("arn:") {
        role.to_owned()
    } else {
        format!("arn:aws:iam::{central_account}:role/{role}")
    }
}

/// Validates `object_lock = { mode, days }`.
fn object_lock(lines: &Lines<'_>, raw: RawObjectLock) -> Result<ObjectLock, ConfigError> {
    let mode =
        LockMode::parse(raw.mode.get_ref()).ok_or_else(|| ConfigError::InvalidObjectLock {
            line: lines.of(&raw.mode),
            reason: format!("mode = {:?} is not an Object Lock mode", raw.mode.get_ref()),
        })?;
    let days = u32::try_from(*raw.days.get_ref())
        .ok()
        .filter(|d| (1..=MAX_LOCK_DAYS).contains(d))
        .ok_or_else(|| ConfigError::InvalidObjectLock {
            line: lines.of(&raw.days),
            reason: format!("days = {} is out of range", raw.days.get_ref()),
        })?;
    Ok(ObjectLock { mode, days })
}

/// An IAM principal ARN of a root, role or user, or a 12-digit account id (as its root ARN).
/// A `restore_principals` list as ARNs (account ids become their root ARN).
fn principals(lines: &Lines<'_>, raw: Vec<Spanned<String>>) -> Result<Vec<String>, ConfigError> {
    raw.into_iter()
        .map(|p| match principal_arn(p.get_ref()) {
            Some(arn) => Ok(arn),
            None => Err(ConfigError::InvalidPrincipal {
                line: lines.of(&p),
                value: p.into_inner(),
            }),
        })
        .collect()
}

fn principal_arn(value: &str) -> Option<String> {
    let digits = |s: &str| s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit());
    if digits(value) {
        return Some(format!("arn:aws:iam::{value}:root"));
    }
    let rest = value.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let named = |kind: &str| {
        resource
            .strip_prefix(kind)
            .is_some_and(|n| !n.is_empty() && n.split('/').all(valid_role_name))
    };
    (digits(account) && (resource == "root" || named("role/") || named("user/")))
        .then(|| value.to_owned())
}

fn validate_sources(
    lines: &Lines<'_>,
    raw: Vec<RawSource>,
    central: &Central,
) -> Result<Vec<Source>, ConfigError> {
    let mut accounts: HashMap<AccountId, usize> = HashMap::new();
    let mut buckets: HashMap<String, usize> = HashMap::new();
    let mut sources = Vec::with_capacity(raw.len());
    for s in raw {
        let account_line = lines.of(&s.account);
        let bucket_line = lines.of(&s.bucket);
        let account = account_id(lines, "account", s.account)?;
        let bucket = bucket(lines, "bucket", s.bucket)?;
        if let Some(&first) = accounts.get(&account) {
            return Err(ConfigError::DuplicateAccount {
                account,
                first,
                second: account_line,
            });
        }
        if let Some(&first) = buckets.get(&bucket) {
            return Err(ConfigError::DuplicateBucket {
                bucket,
                first,
                second: bucket_line,
            });
        }
        if bucket == central.bucket {
            return Err(ConfigError::SourceIsCentral {
                line: bucket_line,
                bucket,
            });
        }
        accounts.insert(account.clone(), account_line);
        buckets.insert(bucket.clone(), bucket_line);
        let region = s.region.map(|r| region(lines, "region", r)).transpose()?;
        let kms_alias = kms_alias(lines, s.kms_alias, DEFAULT_SOURCE_KMS_ALIAS)?;
        let restore_principals = s
            .restore_principals
            .map(|p| principals(lines, p))
            .transpose()?;
        sources.push(Source {
            account,
            bucket,
            region,
            kms_alias,
            restore_principals,
            replicate_deletes: s.replicate_deletes,
        });
    }
    Ok(sources)
}

fn validate_discovery(
    lines: &Lines<'_>,
    table_line: usize,
    organizational_units: Vec<Spanned<String>>,
    exclude_accounts: Vec<Spanned<String>>,
    bucket_template: Option<Spanned<String>>,
) -> Result<Discovery, ConfigError> {
    if organizational_units.is_empty() {
        return Err(ConfigError::NoOrganizationalUnits { line: table_line });
    }
    let mut ous = Vec::with_capacity(organizational_units.len());
    for ou in organizational_units {
        if !valid_ou(ou.get_ref()) {
            return Err(ConfigError::InvalidOu {
                line: lines.of(&ou),
                value: ou.into_inner(),
            });
        }
        ous.push(ou.into_inner());
    }
    let exclude_accounts = exclude_accounts
        .into_iter()
        .map(|a| account_id(lines, "exclude_accounts entry", a))
        .collect::<Result<Vec<_>, _>>()?;
    let bucket_template = match bucket_template {
        None => DEFAULT_BUCKET_TEMPLATE.to_owned(),
        Some(t) => {
            let reason = template_problem(t.get_ref());
            if let Some(reason) = reason {
                return Err(ConfigError::InvalidTemplate {
                    line: lines.of(&t),
                    value: t.into_inner(),
                    reason,
                });
            }
            t.into_inner()
        }
    };
    Ok(Discovery {
        organizational_units: ous,
        exclude_accounts,
        bucket_template,
    })
}

fn template_problem(template: &str) -> Option<String> {
    if !template.contains("{account}") {
        return Some(
            "does not contain {account}, so every account would get the same bucket".into(),
        );
    }
    let example = template.replace("{account}", "000000000000");
    if example.contains('{') || example.contains('}') {
        return Some("has a placeholder other than {account}".into());
    }
    check_bucket_name(&example).err().map(|reason| {
        format!("gives the invalid bucket name {example:?} for account 000000000000 ({reason})")
    })
}

fn account_id(
    lines: &Lines<'_>,
    key: &'static str,
    value: Spanned<String>,
) -> Result<AccountId, ConfigError> {
    value
        .get_ref()
        .parse()
        .map_err(|_| ConfigError::InvalidAccount {
            line: lines.of(&value),
            key,
            value: value.get_ref().clone(),
        })
}

fn bucket(
    lines: &Lines<'_>,
    key: &'static str,
    value: Spanned<String>,
) -> Result<String, ConfigError> {
    match check_bucket_name(value.get_ref()) {
        Ok(()) => Ok(value.into_inner()),
        Err(reason) => Err(ConfigError::InvalidBucket {
            line: lines.of(&value),
            key,
            value: value.into_inner(),
            reason,
        }),
    }
}

fn region(
    lines: &Lines<'_>,
    key: &'static str,
    value: Spanned<String>,
) -> Result<String, ConfigError> {
    let v = value.get_ref();
    let ok = v.starts_with(|c: char| c.is_ascii_lowercase())
        && v.contains('-')
        && !v.ends_with('-')
        && v.len() <= 32
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(value.into_inner())
    } else {
        Err(ConfigError::InvalidRegion {
            line: lines.of(&value),
            key,
            value: value.into_inner(),
        })
    }
}

fn kms_alias(
    lines: &Lines<'_>,
    value: Option<Spanned<String>>,
    default: &str,
) -> Result<String, ConfigError> {
    let Some(value) = value else {
        return Ok(default.to_owned());
    };
    match kms_alias_problem(value.get_ref()) {
        None => Ok(value.into_inner()),
        Some(reason) => Err(ConfigError::InvalidKmsAlias {
            line: lines.of(&value),
            key: "kms_alias",
            value: value.into_inner(),
            reason,
        }),
    }
}

fn kms_alias_problem(alias: &str) -> Option<&'static str> {
    let Some(name) = alias.strip_prefix("alias/") else {
        return Some("it does not start with alias/");
    };
    if name.starts_with("aws/") {
        return Some("alias/aws/ names AWS-managed keys, whose policy cannot be changed");
    }
    if name.is_empty()
        || alias.len() > 256
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-'))
    {
        return Some("the name after alias/ must be 1-250 letters, digits, /, _ or -");
    }
    None
}

/// Checks a name against S3's bucket naming rules; the error says which rule it breaks.
pub fn check_bucket_name(name: &str) -> Result<(), &'static str> {
    if name.len() < 3 || name.len() > 63 {
        return Err("it must be 3-63 characters long");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Err("only lowercase letters, digits, dots and hyphens are allowed");
    }
    let alnum = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !alnum(name.bytes().next()) || !alnum(name.bytes().last()) {
        return Err("it must start and end with a letter or digit");
    }
    if name.contains("..") {
        return Err("it must not contain two adjacent dots");
    }
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("it must not look like an IP address");
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            return Err("it must not start with xn--, sthree- or amzn-s3-demo-");
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(suffix) {
            return Err("it must not end with -s3alias, --ol-s3, .mrap, --x-s3 or --table-s3");
        }
    }
    Ok(())
}

fn valid_org_id(id: &str) -> bool {
    id.strip_prefix("o-").is_some_and(|rest| {
        (10..=32).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

fn valid_ou(id: &str) -> bool {
    let lower_alnum = |s: &str, min: usize, max: usize| {
        (min..=max).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    if let Some(root) = id.strip_prefix("r-") {
        return lower_alnum(root, 4, 32);
    }
    id.strip_prefix("ou-")
        .and_then(|rest| rest.split_once('-'))
        .is_some_and(|(root, unit)| lower_alnum(root, 4, 32) && lower_alnum(unit, 8, 32))
}

fn valid_role_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

fn syntax_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let message = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
    let at = e
        .span()
        .map(|span| format!("line {}: ", Lines(text).at(&span)))
        .unwrap_or_default();
    let fix = if message.contains("unknown field") {
        "remove the key or correct its spelling"
    } else if message.contains("missing field") {
        "add the key to the table that starts on that line"
    } else if message.contains("duplicate key") {
        "keep only one of them"
    } else if message.contains("invalid type") {
        "give the value the expected type"
    } else {
        "correct the TOML at that position"
    };
    ConfigError::Syntax { at, message, fix }
}

/// Converts byte offsets of the config text into 1-based line numbers.
struct Lines<'a>(&'a str);

impl Lines<'_> {
    fn at(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.0.len());
        self.0.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn of<T>(&self, value: &Spanned<T>) -> usize {
        self.at(&value.span())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_configuration_doc_shows_the_example() {
        let doc = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/configuration.md"
        ));
        assert!(
            doc.contains(EXAMPLE),
            "docs/configuration.md's s3central.toml example differs from config::EXAMPLE: paste it again"
        );
    }

    use super::*;

    const MINIMAL: &str = "[central]\nbucket = \"acme-s3central\"\n\n[[source]]\naccount = \"111111111111\"\nbucket = \"acme-data-111111111111\"\n";

    fn err(text: &str) -> String {
        let e = parse_config(text).expect_err("config should be rejected");
        let msg = e.to_string();
        assert!(!msg.contains('\n'), "message is not one line: {msg}");
        msg
    }

    fn assert_mentions(msg: &str, parts: &[&str]) {
        for p in parts {
            assert!(msg.contains(p), "{msg:?} does not mention {p:?}");
        }
    }

    #[test]
    fn example_parses_with_every_key() {
        let c = parse_config(EXAMPLE).expect("EXAMPLE parses");
        assert_eq!(c.central.account, Some("123456789012".parse().unwrap()));
        assert_eq!(c.central.region.as_deref(), Some("us-east-1"));
        assert_eq!(c.central.bucket, "acme-s3central");
        assert_eq!(c.central.storage_class, "STANDARD_IA");
        assert_eq!(c.central.org_id.as_deref(), Some("o-abcd123456"));
        assert_eq!(
            c.central.break_glass_role.as_deref(),
            Some("s3central-break-glass")
        );
        assert_eq!(c.central.enrollment, Enrollment::Organization);
        assert_eq!(c.sources.len(), 2);
        assert_eq!(c.sources[0].region.as_deref(), Some("eu-west-1"));
        assert_eq!(c.sources[1].region, None);
        assert_eq!(c.sources[1].kms_alias, DEFAULT_SOURCE_KMS_ALIAS);
        let d = c.discovery.expect("discovery");
        assert_eq!(d.organizational_units, vec!["ou-ab12-cdef3456"]);
        assert_eq!(d.exclude_accounts, vec!["999999999999".parse().unwrap()]);
        assert_eq!(
            d.bucket_for(&"444444444444".parse().unwrap()),
            "s3central-444444444444"
        );
        assert_eq!(c.assume_role, "OrganizationAccountAccessRole");
        assert_eq!(
            c.central.object_lock,
            Some(ObjectLock {
                mode: LockMode::Governance,
                days: 30
            })
        );
    }

    #[test]
    fn object_lock_mode_and_days() {
        let with = |v: &str| {
            format!("[central]\nbucket = \"acme-s3central\"\nobject_lock = {v}\n\n[[source]]\naccount = \"111111111111\"\nbucket = \"acme-data-111111111111\"\n")
        };
        let c = parse_config(&with(r#"{ mode = "COMPLIANCE", days = 3650 }"#)).unwrap();
        assert_eq!(
            c.central.object_lock,
            Some(ObjectLock {
                mode: LockMode::Compliance,
                days: 3650
            })
        );
        for (bad, parts) in [
            (
                r#"{ mode = "compliance", days = 1 }"#,
                &["line 3", "object_lock", "\"compliance\""][..],
            ),
            (
                r#"{ mode = "GOVERNANCE", days = 0 }"#,
                &["line 3", "days = 0"][..],
            ),
            (
                r#"{ mode = "GOVERNANCE", days = 36501 }"#,
                &["line 3", "days = 36501"][..],
            ),
            (
                r#"{ mode = "GOVERNANCE", days = -1 }"#,
                &["line 3", "days = -1"][..],
            ),
            (
                r#"{ mode = "GOVERNANCE" }"#,
                &["line 3", "missing field `days`"][..],
            ),
            (
                r#"{ mode = "GOVERNANCE", days = 1, years = 1 }"#,
                &["line 3", "unknown field `years`"][..],
            ),
        ] {
            assert_mentions(&err(&with(bad)), parts);
        }
    }

    #[test]
    fn an_account_may_name_its_own_restore_principals() {
        let c = parse_config("[central]\nbucket = \"acme-s3central\"\n\n[[source]]\naccount = \"111111111111\"\nbucket = \"acme-data-111111111111\"\nrestore_principals = [\"arn:aws:iam::123456789012:role/prod-responders\"]\n\n[[source]]\naccount = \"222222222222\"\nbucket = \"acme-data-222222222222\"\n").unwrap();
        assert_eq!(
            c.sources[0].restore_principals,
            Some(vec![
                "arn:aws:iam::123456789012:role/prod-responders".to_owned()
            ])
        );
        assert_eq!(c.sources[1].restore_principals, None);
        assert_mentions(
            &err("[central]\nbucket = \"acme-s3central\"\n\n[[source]]\naccount = \"111111111111\"\nbucket = \"acme-data-111111111111\"\nrestore_principals = [\"nobody\"]\n"),
            &["line 7", "restore_principals", "not an IAM principal"],
        );
    }

    #[test]
    fn enrollment_is_organization_or_listed() {
        let with = |v: &str| {
            format!("[central]\nbucket = \"acme-s3central\"\nenrollment = {v}\n\n[[source]]\naccount = \"111111111111\"\nbucket = \"acme-data-111111111111\"\n")
        };
        assert_eq!(
            parse_config(&with(r#""listed""#))
                .unwrap()
                .central
                .enrollment,
            Enrollment::Listed
        );
        assert_eq!(
            parse_config(&with(r#""organization""#))
                .unwrap()
                .central
                .enrollment,
            Enrollment::Organization
        );
        assert_mentions(
            &err(&with(r#""everyone""#)),
            &["line 3", "enrollment", "listed"],
        );
    }

    #[test]
    fn alerts_topics_are_sns_topic_names() {
        let with = |v: &str| {
            format!("[central]\nbucket = \"acme-s3central\"\nalerts_topic = {v}\n\n[[source]]\naccount = \"111111111111\"\nbucket = \"acme-data-111111111111\"\n")
        };
        let ok = parse_config(&with(r#""s3central_alerts-1""#)).expect("a topic name");
        assert_eq!(
            ok.central.alerts_topic.as_deref(),
            Some("s3central_alerts-1")
        );
        let long = format!("\"{}\"", "a".repeat(257));
        for bad in [
            r#""""#,
            r#""arn:aws:sns:us-east-1:123456789012:t""#,
            r#""a.fifo""#,
            long.as_str(),
        ] {
            assert_mentions(&err(&with(bad)), &["line 3", "alerts_topic"]);
        }
    }

    #[test]
    fn break_glass_roles_are_role_names_or_role_arns() {
        let with = |v: &str| {
            format!("[central]\nbucket = \"acme-s3central\"\nbreak_glass_role = {v}\n\n[[source]]\naccount = \"111111111111\"\nbucket = \"acme-data-111111111111\"\n")
        };
        for ok in [
            r#""s3central-break-glass""#,
            r#""ir/break-glass""#,
            r#""arn:aws:iam::123456789012:role/ir/break-glass""#,
        ] {
            assert!(parse_config(&with(ok)).is_ok(), "{ok}");
        }
        for bad in [
            r#""""#,
            r#""arn:aws:iam::123456789012:user/alice""#,
            r#""arn:aws:iam::123456789012:root""#,
            r#""bad name""#,
        ] {
            assert_mentions(&err(&with(bad)), &["line 3", "break_glass_role"]);
        }
        assert_eq!(
            break_glass_arn("ir/bg", "123456789012"),
            "arn:aws:iam::123456789012:role/ir/bg"
        );
        assert_eq!(
            break_glass_arn("arn:aws:iam::123456789012:role/x", "999999999999"),
            "arn:aws:iam::123456789012:role/x"
        );
    }

    #[test]
    fn restore_principals_are_iam_principals() {
        let with = |v: &str| {
            format!("[central]\nbucket = \"acme-s3central\"\nrestore_principals = [{v}]\n\n[[source]]\naccount = \"111111111111\"\nbucket = \"acme-data-111111111111\"\n")
        };
        let c = parse_config(&with(
            r#""123456789012", "arn:aws:iam::210987654321:role/ir/responder""#,
        ))
        .unwrap();
        assert_eq!(
            c.central.restore_principals,
            vec![
                "arn:aws:iam::123456789012:root".to_owned(),
                "arn:aws:iam::210987654321:role/ir/responder".to_owned()
            ]
        );
        for bad in [
            r#""12345""#,
            r#""arn:aws:iam::123:root""#,
            r#""arn:aws:s3:::bucket""#,
            r#""*""#,
        ] {
            assert_mentions(
                &err(&with(bad)),
                &["line 3", "restore_principals", "not an IAM principal"],
            );
        }
    }

    #[test]
    fn minimal_config_gets_the_defaults() {
        let c = parse_config(MINIMAL).unwrap();
        assert_eq!(
            c,
            Config {
                central: Central {
                    replicate_deletes: false,
                    account: None,
                    region: None,
                    bucket: "acme-s3central".into(),
                    kms_alias: "alias/s3central".into(),
                    storage_class: "STANDARD".into(),
                    replication_time_control: true,
                    org_id: None,
                    restore_principals: vec![],
                    object_lock: None,
                    break_glass_role: None,
                    enrollment: Enrollment::Organization,
                    alerts_topic: None,
                },
                sources: vec![Source {
                    replicate_deletes: None,
                    account: "111111111111".parse().unwrap(),
                    bucket: "acme-data-111111111111".into(),
                    region: None,
                    kms_alias: "alias/s3central-source".into(),
                    restore_principals: None,
                }],
                discovery: None,
                assume_role: "OrganizationAccountAccessRole".into(),
            }
        );
    }

    #[test]
    fn discovery_only_gets_its_defaults() {
        let c = parse_config(
            "[central]\nbucket = \"acme-s3central\"\nreplication_time_control = false\n[discovery]\norganizational_units = [\"r-ab12\"]\n",
        )
        .unwrap();
        assert!(c.sources.is_empty());
        assert!(!c.central.replication_time_control);
        let d = c.discovery.unwrap();
        assert_eq!(d.bucket_template, DEFAULT_BUCKET_TEMPLATE);
        assert!(d.exclude_accounts.is_empty());
    }

    #[test]
    fn top_level_assume_role() {
        let c = parse_config(&format!("assume_role = \"Admin\"\n{MINIMAL}")).unwrap();
        assert_eq!(c.assume_role, "Admin");
        let c = parse_config(&format!(
            "{MINIMAL}[discovery]\norganizational_units = [\"ou-ab12-cdef3456\"]\nassume_role = \"Other\"\n"
        ))
        .unwrap();
        assert_eq!(c.assume_role, "Other");
    }

    #[test]
    fn assume_role_twice() {
        let msg = err(&format!(
            "assume_role = \"A\"\n{MINIMAL}[discovery]\norganizational_units = [\"ou-ab12-cdef3456\"]\nassume_role = \"B\"\n"
        ));
        assert_mentions(&msg, &["lines 1 and 10", "assume_role", "keep only one"]);
    }

    #[test]
    fn invalid_role_name() {
        let msg = err(&format!(
            "assume_role = \"arn:aws:iam::1:role/x\"\n{MINIMAL}"
        ));
        assert_mentions(&msg, &["line 1", "arn:aws:iam::1:role/x", "IAM role name"]);
    }

    #[test]
    fn unknown_keys_are_errors_everywhere() {
        for (text, line, key) in [
            (format!("{MINIMAL}colour = 1\n"), 7, "colour"),
            (
                "[central]\nbucket = \"acme-s3central\"\nbuckett = \"x\"\n".to_string(),
                3,
                "buckett",
            ),
            (format!("{MINIMAL}acount = \"1\"\n"), 7, "acount"),
            (
                format!("{MINIMAL}[discovery]\norganizational_units = [\"ou-ab12-cdef3456\"]\nou = []\n"),
                9,
                "ou",
            ),
            (format!("{MINIMAL}[extra]\n"), 7, "extra"),
        ] {
            let msg = err(&text);
            assert_mentions(
                &msg,
                &[&format!("line {line}:"), &format!("`{key}`"), "unknown field", "remove the key"],
            );
        }
    }

    #[test]
    fn syntax_errors_are_one_line_with_a_line() {
        let msg = err("[central]\nbucket = \"acme-s3central\nx = 1\n");
        assert_mentions(&msg, &["line 2:", "correct the TOML"]);
        let msg =
            err("[central]\nbucket = \"acme-s3central\"\nreplication_time_control = \"yes\"\n");
        assert_mentions(&msg, &["line 3:", "invalid type", "yes"]);
    }

    #[test]
    fn missing_required_keys() {
        let msg = err("[central]\nregion = \"us-east-1\"\n[[source]]\naccount = \"111111111111\"\nbucket = \"b-111\"\n");
        assert_mentions(&msg, &["line 1", "missing field `bucket`", "add the key"]);
        let msg = err("[central]\nbucket = \"acme-s3central\"\n[[source]]\nbucket = \"b-111\"\n");
        assert_mentions(&msg, &["missing field `account`"]);
    }

    #[test]
    fn malformed_account_ids() {
        let msg = err(&MINIMAL.replace("111111111111\"", "11111111111\""));
        assert_mentions(&msg, &["line 5:", "\"11111111111\"", "12 digits"]);
        let msg = err("[central]\naccount = \"12345678901x\"\nbucket = \"acme-s3central\"\n[discovery]\norganizational_units = [\"r-ab12\"]\n");
        assert_mentions(&msg, &["line 2:", "12345678901x"]);
        let msg = err(&format!(
            "{MINIMAL}[discovery]\norganizational_units = [\"r-ab12\"]\nexclude_accounts = [\n  \"999999999999\",\n  \"99\",\n]\n"
        ));
        assert_mentions(&msg, &["line 11:", "exclude_accounts", "\"99\""]);
        let msg = err("[central]\nbucket = \"acme-s3central\"\n[[source]]\naccount = 111111111111\nbucket = \"b-111\"\n");
        assert_mentions(&msg, &["line 4:", "invalid type", "string"]);
    }

    #[test]
    fn invalid_bucket_names() {
        for (bad, reason) in [
            ("ab", "3-63"),
            (&"a".repeat(64) as &str, "3-63"),
            ("Acme", "lowercase"),
            ("acme_data", "lowercase"),
            ("-acme", "start and end"),
            ("acme.", "start and end"),
            ("acme..data", "two adjacent dots"),
            ("192.168.5.4", "IP address"),
            ("xn--acme", "xn--"),
            ("sthree-acme", "sthree-"),
            ("acme-s3alias", "-s3alias"),
            ("acme--ol-s3", "--ol-s3"),
        ] {
            let msg = err(&MINIMAL.replace("acme-data-111111111111", bad));
            assert_mentions(&msg, &["line 6:", &format!("{bad:?}"), reason]);
            let msg = err(&MINIMAL.replace("acme-s3central", bad));
            assert_mentions(&msg, &["line 2:", &format!("{bad:?}"), reason]);
        }
        assert!(check_bucket_name("acme.data-1").is_ok());
        assert!(check_bucket_name("192.168.5.a").is_ok());
    }

    #[test]
    fn duplicate_accounts_name_both_lines() {
        let msg = err(&format!(
            "{MINIMAL}\n[[source]]\naccount = \"111111111111\"\nbucket = \"other-bucket\"\n"
        ));
        assert_mentions(&msg, &["lines 5 and 9", "111111111111", "keep only one"]);
    }

    #[test]
    fn duplicate_buckets_name_both_lines() {
        let msg = err(&format!(
            "{MINIMAL}\n[[source]]\naccount = \"222222222222\"\nbucket = \"acme-data-111111111111\"\n"
        ));
        assert_mentions(&msg, &["lines 6 and 10", "acme-data-111111111111"]);
    }

    #[test]
    fn source_bucket_equal_to_central() {
        let msg = err(&MINIMAL.replace("acme-data-111111111111", "acme-s3central"));
        assert_mentions(
            &msg,
            &["line 6:", "\"acme-s3central\"", "is the central bucket"],
        );
    }

    #[test]
    fn kms_aliases() {
        for (alias, reason) in [
            ("s3central", "does not start with alias/"),
            ("alias/aws/s3", "AWS-managed"),
            ("alias/", "1-250"),
            ("alias/a b", "1-250"),
        ] {
            let msg = err(&MINIMAL.replace(
                "bucket = \"acme-s3central\"",
                &format!("bucket = \"acme-s3central\"\nkms_alias = \"{alias}\""),
            ));
            assert_mentions(&msg, &["line 3:", &format!("{alias:?}"), reason]);
            let msg = err(&format!("{MINIMAL}kms_alias = \"{alias}\"\n"));
            assert_mentions(&msg, &["line 7:", &format!("{alias:?}"), reason]);
        }
    }

    #[test]
    fn bucket_templates() {
        for (template, reason) in [
            ("s3central", "does not contain {account}"),
            ("S3central-{account}", "\"S3central-000000000000\""),
            ("{account}-{region}", "placeholder"),
            ("{account}-s3alias", "-s3alias"),
        ] {
            let msg = err(&format!(
                "{MINIMAL}[discovery]\norganizational_units = [\"ou-ab12-cdef3456\"]\nbucket_template = \"{template}\"\n"
            ));
            assert_mentions(&msg, &["line 9:", &format!("{template:?}"), reason]);
        }
    }

    #[test]
    fn storage_classes() {
        let msg = err(&MINIMAL.replace(
            "bucket = \"acme-s3central\"",
            "bucket = \"acme-s3central\"\nstorage_class = \"standard\"",
        ));
        assert_mentions(&msg, &["line 3:", "\"standard\"", "STANDARD_IA"]);
        for class in STORAGE_CLASSES {
            let text = MINIMAL.replace(
                "bucket = \"acme-s3central\"",
                &format!("bucket = \"acme-s3central\"\nstorage_class = \"{class}\""),
            );
            assert_eq!(parse_config(&text).unwrap().central.storage_class, *class);
        }
    }

    #[test]
    fn org_ids() {
        for bad in [
            "o-abc",
            "o-ABCD123456",
            "abcd123456",
            &format!("o-{}", "a".repeat(33)),
        ] {
            let msg = err(&format!(
                "[central]\nbucket = \"acme-s3central\"\norg_id = \"{bad}\"\n[[source]]\naccount = \"111111111111\"\nbucket = \"b-111\"\n"
            ));
            assert_mentions(&msg, &["line 3:", &format!("{bad:?}"), "organization id"]);
        }
    }

    #[test]
    fn regions_and_ous() {
        let msg = err(&format!("{MINIMAL}region = \"EU West\"\n"));
        assert_mentions(&msg, &["line 7:", "\"EU West\"", "region"]);
        let msg = err(&format!(
            "{MINIMAL}[discovery]\norganizational_units = [\"ou-x\"]\n"
        ));
        assert_mentions(&msg, &["line 8:", "\"ou-x\"", "OU"]);
        let msg = err(&format!("{MINIMAL}[discovery]\nexclude_accounts = []\n"));
        assert_mentions(&msg, &["line 7:", "no organizational_units"]);
    }

    #[test]
    fn nothing_to_set_up() {
        let msg = err("[central]\nbucket = \"acme-s3central\"\n");
        assert_mentions(&msg, &["nothing to set up", "[[source]]", "[discovery]"]);
        let msg = err("[[source]]\naccount = \"111111111111\"\nbucket = \"b-111\"\n");
        assert_mentions(&msg, &["no [central] table"]);
    }

    #[test]
    fn empty_config() {
        for text in ["", "\n  \n", "# only a comment\n"] {
            assert!(matches!(parse_config(text), Err(ConfigError::Empty)));
            assert_mentions(&err(text), &["empty", "[central]"]);
        }
    }

    #[test]
    fn load_config_names_the_path() {
        let missing = Path::new("/nonexistent/s3central.toml");
        let msg = load_config(missing).unwrap_err().to_string();
        assert_mentions(&msg, &["/nonexistent/s3central.toml", "--config"]);
        assert!(!msg.contains('\n'));

        let path =
            std::env::temp_dir().join(format!("s3central-config-test-{}.toml", std::process::id()));
        std::fs::write(&path, format!("{MINIMAL}oops = 1\n")).unwrap();
        let msg = load_config(&path).unwrap_err().to_string();
        std::fs::write(&path, MINIMAL).unwrap();
        let ok = load_config(&path);
        std::fs::remove_file(&path).unwrap();
        assert_mentions(&msg, &[&path.display().to_string(), "line 7:", "oops"]);
        assert_eq!(ok.unwrap().sources.len(), 1);
    }
}
