//! Everything a restore checks and decides before its first write: what to read (central at
//! TIME, or an inventory), as whom, where (bucket, region, prefix, owner), under which KMS key,
//! and which archived versions must be restored first. Nothing here writes to a bucket.

use std::sync::Arc;

use aws_sdk_s3::types::BucketVersioningStatus;
use chrono::{DateTime, Utc};

use crate::account::AccountId;
use crate::aws::{Aws, AwsOptions};
use crate::cli::{CopyModeArg, EngineArg, ProvenanceArg, RestoreArgs};
use crate::error::{Error, Result};
use crate::filter::KeyFilter;
use crate::inventory_source::Inventory;
use crate::kms;
use crate::pit::DeleteMode;
use crate::restore::copy::{ActingAs, Copier, CopyMode, Provenance};
use crate::restore::journal::{self, Journal};
use crate::restore::plan::{self, KeyMap};
use crate::restore::{self, ArchiveScan, RestoreRequest};
use crate::time::parse_time;

/// CopyObject copies at most this much in one request; larger objects need UploadPartCopy.
const MAX_SINGLE_COPY: u64 = 5 << 30;

/// Default multipart threshold of streamed copies: bounds memory to concurrency x this.
const STREAM_THRESHOLD: u64 = 16 << 20;

/// A restore ready to run: every check passed, nothing written yet.
pub struct Prepared {
    /// The central bucket (read only).
    pub central: String,
    /// The bucket written.
    pub target_bucket: String,
    /// The moment restored.
    pub at: DateTime<Utc>,
    /// The global credentials.
    pub caller: Aws,
    /// Who reads central, in central's region.
    pub reader: Aws,
    /// Who writes the target, in the target's region.
    pub writer: Aws,
    /// Who reads and writes, as chosen.
    pub identity: Identity,
    /// What to restore, for the engine.
    pub request: RestoreRequest,
    /// How each key is copied.
    pub copier: Copier,
    /// The archived versions found (and restores started) before the first write.
    pub scan: ArchiveScan,
    /// The inventory read, when `--inventory` gave one.
    pub inventory: Option<Arc<Inventory>>,
}

impl Prepared {
    /// Whether one identity reads and writes (the S3 requests are then counted once).
    pub fn same_identity(&self) -> bool {
        matches!(self.identity, Identity::One | Identity::RestoreRole(_))
    }

    /// Who read and wrote, and how the bytes travelled, for the summary.
    pub fn describe(&self) -> String {
        self.identity.describe(self.copier.mode)
    }

    /// The S3 requests sent so far by the identities of this restore.
    pub fn requests(&self) -> impl Fn() -> u64 + Send + 'static {
        let (reader, writer, same) = (
            self.reader.clone(),
            self.writer.clone(),
            self.same_identity(),
        );
        move || {
            if same {
                reader.s3_requests()
            } else {
                reader.s3_requests() + writer.s3_requests()
            }
        }
    }
}

/// Checks everything a restore can check before its first write, as `args` asks, and decides
/// what to read, as whom, where and under which key; `on_inventory` sees an inventory once read,
/// and `before_writes` runs (and may refuse) after every check, before anything is written (the
/// journal opened, an archived version's restore started).
pub async fn prepare(
    aws_options: &AwsOptions,
    central: String,
    args: &RestoreArgs,
    on_inventory: impl FnOnce(&Inventory, &str),
    before_writes: impl FnOnce() -> Result<()>,
) -> Result<Prepared> {
    let at = parse_time(args.at()?, Utc::now())?;
    let filter = KeyFilter::new(&args.include, &args.exclude)?;
    let to_prefix = args
        .to_prefix
        .as_deref()
        .map(plan::folder_prefix)
        .transpose()
        .map_err(Error::Invalid)?;
    let caller = Aws::load(aws_options).await?;
    if args.inventory.is_none() {
        // A mistyped account is said before anything else, the config's view of it included.
        let in_region = crate::region::for_bucket(&caller, &central).await;
        match crate::central::require_account(&in_region.s3(), &central, args.account()?).await {
            Ok(()) => {}
            Err(e @ (Error::Refused(_) | Error::Unreachable { .. } | Error::NoCredentials)) => {
                return Err(e)
            }
            // The caller may not read central (the restore role may): the restore says so later.
            Err(e) => tracing::debug!(error = %e, "cannot check that central holds the account"),
        }
    }
    let target_bucket = match args.to_bucket.as_deref().filter(|b| !b.trim().is_empty()) {
        Some(bucket) => plan::bucket_argument(bucket).map_err(Error::Invalid)?,
        None => bucket_from_config(&args.config, args.account()?)?,
    };
    if target_bucket == central {
        return Err(Error::Refused(format!(
            "refusing to restore into the central bucket {central:?}: pass --to-bucket with the account's own bucket"
        )));
    }
    // An access point ARN or alias (or any other name S3 resolves to a bucket) could name central
    // under another spelling: only a plain bucket name is a target.
    crate::config::check_bucket_name(&target_bucket).map_err(|why| {
        Error::Invalid(format!(
            "--to-bucket {target_bucket:?} is not a bucket name ({why}): give the target bucket's own name; access point ARNs and aliases are refused, since one could name the central bucket"
        ))
    })?;
    if let Some(t) = args.multipart_threshold {
        if t.as_u64() > MAX_SINGLE_COPY {
            return Err(Error::Invalid(format!(
                "--multipart-threshold {t} is above 5 GiB, the most one CopyObject can copy: use 5GiB or less"
            )));
        }
    }
    if args.part_size.as_u64() == 0 {
        return Err(Error::Invalid(
            "--part-size 0: a part must hold at least one byte; use a size such as 16MiB".into(),
        ));
    }
    let restore_role = restore_role_arn(args)?;
    let (reader, writer, identity) = match (
        &args.target_profile,
        &args.target_role_arn,
        &restore_role,
    ) {
        (Some(profile), _, _) => (
            caller.clone(),
            caller.with_profile(aws_options, profile).await?,
            Identity::Two,
        ),
        (None, Some(role), _) => (
            caller.clone(),
            caller.assume_role(role).await?,
            Identity::Two,
        ),
        (None, None, Some(role)) => {
            let assumed = caller.assume_role(role).await?;
            // The restore role reads central only where setup granted it; probe before relying on it.
            let in_central_region = crate::region::for_bucket(&assumed, &central).await;
            match crate::central::holds_account(&in_central_region.s3(), &central, args.account()?)
                .await
            {
                Ok(_) => (
                    assumed.clone(),
                    assumed,
                    Identity::RestoreRole(role.clone()),
                ),
                Err(e) if e.is_access_denied() => {
                    reader_when_role_cannot_read(role, &central, args.allow_caller_read)?;
                    tracing::warn!(%role, "the restore role cannot read central; reading with the global credentials (--allow-caller-read) and streaming");
                    (
                        caller.clone(),
                        assumed,
                        Identity::RestoreRoleStreamed(role.clone()),
                    )
                }
                Err(e) => return Err(e),
            }
        }
        (None, None, None) => (caller.clone(), caller.clone(), Identity::One),
    };
    let same_identity = matches!(identity, Identity::One | Identity::RestoreRole(_));
    // Each bucket is served from its own region, and KMS keys are regional: clients per region.
    // A restore role may list central only under its own prefix (probed above), so it gets no
    // HeadBucket check there; every other identity is checked with HeadBucket on both buckets.
    let reader_checked_by_probe = matches!(identity, Identity::RestoreRole(_));
    let reader = reader.in_region(
        &bucket_region(
            &reader,
            &central,
            "--central-bucket / S3CENTRAL_BUCKET",
            !reader_checked_by_probe,
        )
        .await?,
    );
    // The target's checks, made as the writing identity: a refusal or a missing bucket or key
    // names that identity and the options that choose another.
    let checked = async {
        let writer =
            writer.in_region(&bucket_region(&writer, &target_bucket, "--to-bucket", true).await?);
        let writer_s3 = writer.s3();
        let target_owner = expected_target_owner(args, &writer).await?;
        check_target_owner(&writer_s3, &target_bucket, &target_owner).await?;
        let versioned =
            check_versioning(&writer_s3, &target_bucket, args.allow_unversioned).await?;
        let kms_key_arn = match &args.kms_key {
            Some(key) => kms::resolve_key(&writer.kms(), key).await?,
            None => match kms::bucket_default_key(&writer_s3, &target_bucket).await? {
                Some(key) => kms::resolve_key(&writer.kms(), &key).await?,
                None => {
                    return Err(Error::Refused(format!(
                        "target bucket {target_bucket:?} has no default SSE-KMS key: pass --kms-key with the key to encrypt restored objects with"
                    )))
                }
            },
        };
        Ok((writer, target_owner, versioned, kms_key_arn))
    }
    .await;
    let (writer, target_owner, versioned, kms_key_arn) = match checked {
        Ok(checked) => checked,
        Err(e) => return Err(name_the_writer(e, &identity, args, &writer).await),
    };
    let source_owner = expected_central_owner(args, &caller, &identity).await?;
    let reader_s3 = reader.s3();
    let writer_s3 = writer.s3();
    // Every check on the target is done; an inventory is read (and refused, if it must be) before
    // anything is written, with the caller's credentials: it lists every account's keys, and a
    // restore role may read only its own account's prefix.
    let inventory = match &args.inventory {
        Some(url) => {
            let options = crate::inventory_source::LoadOptions {
                url: url.clone(),
                central: central.clone(),
                prefix: format!(
                    "{}{}",
                    args.account()?.prefix(),
                    args.path.as_deref().unwrap_or("")
                ),
                at,
                memory: args.inventory_memory.as_u64(),
                expected_owner: args.inventory_owner.as_ref().map(ToString::to_string),
            };
            let inventory = crate::inventory_source::load(&caller, &options).await?;
            on_inventory(&inventory, &options.prefix);
            Some(Arc::new(inventory))
        }
        None => None,
    };
    let mode = match args.copy_mode {
        CopyModeArg::Server => CopyMode::Server,
        CopyModeArg::Stream => CopyMode::Stream,
        CopyModeArg::Auto if same_identity => CopyMode::Server,
        CopyModeArg::Auto => CopyMode::Stream,
    };
    let multipart_threshold = args
        .multipart_threshold
        .map(|t| t.as_u64())
        .unwrap_or(match mode {
            CopyMode::Server => MAX_SINGLE_COPY,
            CopyMode::Stream => STREAM_THRESHOLD,
        });
    let source_prefix = args.account()?.prefix();
    let mut request = RestoreRequest {
        at,
        delete_mode: if args.respect_deletes {
            DeleteMode::Respect
        } else {
            DeleteMode::Ignore
        },
        key_map: KeyMap {
            target_prefix: to_prefix.unwrap_or_else(|| source_prefix.clone()),
            source_prefix,
        },
        filter,
        concurrency: args.concurrency as usize,
        dry_run: args.dry_run,
        page_size: args.page_size,
        archive: None,
        archived: 0,
        batch_ineligible_only: false,
        path: args.path.clone().unwrap_or_default(),
        list_concurrency: args.list_concurrency as usize,
        inventory: inventory.clone(),
        verify: args.verify.map(|how| match how {
            crate::cli::VerifyArg::Checksum => crate::restore::verify::VerifyMode::Checksum,
            crate::cli::VerifyArg::Bytes => crate::restore::verify::VerifyMode::Bytes,
        }),
        only_keys: None,
    };
    before_writes()?;
    let (provenance, journal) = provenance_and_journal(args, &target_bucket, versioned)?;
    let copier = Copier {
        reader: reader_s3,
        writer: writer_s3,
        source_bucket: central.clone(),
        target_bucket: target_bucket.clone(),
        kms_key_arn: kms_key_arn.clone(),
        mode,
        multipart_threshold,
        part_size: args.part_size.as_u64(),
        provenance,
        journal,
        source_owner,
        target_owner: Some(target_owner),
        acting_as: Some(Arc::new(acting_as(&identity, args, None))),
    };
    if args.engine == EngineArg::Batch {
        crate::restore::batch::target_key_prefix(
            &request.key_map.source_prefix,
            &request.key_map.target_prefix,
        )
        .map_err(Error::Refused)?;
        let manifest = args
            .manifest_location
            .as_deref()
            .map(|url| manifest_location(url, &central))
            .transpose()?;
        let manifest_bucket = manifest.as_ref().map(|(bucket, _)| bucket.as_str());
        if args.batch_role == crate::setup::policy::BATCH_RESTORE_ROLE {
            let account_bucket = account_bucket_in_config(&args.config, args.account()?);
            let account_key = match &args.kms_key {
                Some(_) => match kms::bucket_default_key(&copier.writer, &target_bucket).await? {
                    Some(key) => Some(kms::resolve_key(&writer.kms(), &key).await?),
                    None => None,
                },
                None => None,
            };
            crate::restore::batch::within_role_reach(&crate::restore::batch::RoleReach {
                account_bucket: account_bucket.as_deref(),
                target: &target_bucket,
                manifest_bucket,
                kms_key: &kms_key_arn,
                account_key: account_key.as_deref(),
            })
            .map_err(Error::Refused)?;
        }
    }
    let scan = archive_check(&copier, &mut request, args).await?;
    Ok(Prepared {
        central,
        target_bucket,
        at,
        caller,
        reader,
        writer,
        identity,
        request,
        copier,
        scan,
        inventory,
    })
}

/// Before the first write: finds the archived versions (GLACIER, DEEP_ARCHIVE) the restore must
/// copy. Without --archive-restore (and not a dry run) they stop the restore with the count and
/// the tiers to choose from; with it, their restores are started (never twice) and the engine
/// waits for each.
async fn archive_check(
    copier: &Copier,
    request: &mut RestoreRequest,
    args: &RestoreArgs,
) -> Result<restore::ArchiveScan> {
    let found = restore::scan_archived(copier, request, None).await?;
    if found.total() == 0 {
        return Ok(found);
    }
    let counts = format!(
        "{} version(s) to restore are archived ({} GLACIER, {} DEEP_ARCHIVE)",
        found.total(),
        found.glacier,
        found.deep_archive
    );
    let Some(tier) = args.archive_restore else {
        if args.dry_run {
            return Ok(found);
        }
        return Err(Error::Refused(format!(
            "{counts} and cannot be read until S3 restores them, so nothing was written: run again with --archive-restore Standard (or Bulk, cheaper and slower{}) --archive-days 1; GLACIER: Expedited 1-5 min, Standard 3-5 h, Bulk 5-12 h; DEEP_ARCHIVE: Standard within 12 h, Bulk within 48 h",
            if found.deep_archive == 0 { ", or Expedited for GLACIER" } else { "" }
        )));
    };
    if tier == crate::cli::ArchiveTier::Expedited && found.deep_archive > 0 {
        return Err(Error::Refused(format!(
            "{counts}: --archive-restore Expedited is not available for DEEP_ARCHIVE; use Standard or Bulk, so nothing was written"
        )));
    }
    let options = restore::archive::ArchiveOptions {
        tier: match tier {
            crate::cli::ArchiveTier::Bulk => aws_sdk_s3::types::Tier::Bulk,
            crate::cli::ArchiveTier::Standard => aws_sdk_s3::types::Tier::Standard,
            crate::cli::ArchiveTier::Expedited => aws_sdk_s3::types::Tier::Expedited,
        },
        days: args.archive_days,
        timeout: args.archive_wait.into(),
    };
    let scan = if args.dry_run {
        found
    } else {
        restore::scan_archived(copier, request, Some(&options)).await?
    };
    tracing::info!(?scan, "archived versions");
    request.archive = Some(options);
    request.archived = scan.total();
    Ok(scan)
}

/// The account's bucket as the config names it, when the config exists and names the account.
fn account_bucket_in_config(
    path: &std::path::Path,
    account: &crate::account::AccountId,
) -> Option<String> {
    path.exists()
        .then(|| bucket_from_config(path, account).ok())
        .flatten()
}

/// The account's own bucket as the setup config names it (listed, or by the discovery template).
fn bucket_from_config(
    path: &std::path::Path,
    account: &crate::account::AccountId,
) -> Result<String> {
    if !path.exists() {
        return Err(Error::Invalid(format!(
            "no target bucket: pass --to-bucket, or --config with a setup config that lists account {account} ({} not found)",
            path.display()
        )));
    }
    let config = crate::config::load_config(path)?;
    if let Some(source) = config.sources.iter().find(|s| &s.account == account) {
        return Ok(source.bucket.clone());
    }
    match &config.discovery {
        Some(d) if !d.exclude_accounts.contains(account) => Ok(d.bucket_for(account)),
        _ => Err(Error::Invalid(format!(
            "account {account} is not in {}: pass --to-bucket with the bucket to restore into",
            path.display()
        ))),
    }
}

/// When the restore role cannot read central, the caller's own credentials read it only when
/// `--allow-caller-read` says so: they may be allowed to write anywhere (a silent switch would
/// run the restore under an identity nobody chose).
fn reader_when_role_cannot_read(role: &str, central: &str, allowed: bool) -> Result<()> {
    if allowed {
        return Ok(());
    }
    Err(Error::Refused(format!(
        "the restore role {role} cannot read s3://{central}/ (AccessDenied): run `s3central setup` so it may, or pass --allow-caller-read to read central with your own credentials (bytes then stream through this machine)"
    )))
}

/// `--manifest-location s3://BUCKET/PREFIX/` as (bucket, prefix ending in `/` or empty), checked
/// by [`check_manifest_bucket`].
pub fn manifest_location(url: &str, central: &str) -> Result<(String, String)> {
    let rest = url.strip_prefix("s3://").ok_or_else(|| {
        Error::Invalid(format!(
            "--manifest-location {url:?} is not an s3:// URL: use s3://BUCKET/PREFIX/"
        ))
    })?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    check_manifest_bucket(bucket, central)?;
    let prefix = if prefix.is_empty() || prefix.ends_with('/') {
        prefix.to_owned()
    } else {
        format!("{prefix}/")
    };
    Ok((bucket.to_owned(), prefix))
}

/// The batch manifest and report go to a plain bucket name, never the central bucket (restore
/// never writes to central).
fn check_manifest_bucket(bucket: &str, central: &str) -> Result<()> {
    crate::config::check_bucket_name(bucket).map_err(|why| {
        Error::Invalid(format!(
            "--manifest-location bucket {bucket:?} is not a bucket name ({why}): use s3://BUCKET/PREFIX/ with the target account's bucket"
        ))
    })?;
    if bucket == central {
        return Err(Error::Refused(format!(
            "refusing --manifest-location in the central bucket {central:?}: restore never writes to central; use the target account's bucket"
        )));
    }
    Ok(())
}

/// Who reads central and who writes the target.
#[derive(Debug, Clone)]
pub enum Identity {
    /// The global credentials do both.
    One,
    /// The account's restore role does both.
    RestoreRole(String),
    /// The restore role writes; the global credentials read (the role cannot read central).
    RestoreRoleStreamed(String),
    /// --target-profile / --target-role-arn writes; the global credentials read.
    Two,
}

impl Identity {
    /// One line for the summary: who did what, and how the bytes travelled.
    pub fn describe(&self, mode: CopyMode) -> String {
        let how = match mode {
            CopyMode::Server => "server-side copy, no bytes through this machine",
            CopyMode::Stream => "streamed through this machine",
        };
        match self {
            Identity::One => format!("the global credentials ({how})"),
            Identity::RestoreRole(role) => format!("{role} ({how})"),
            Identity::RestoreRoleStreamed(role) => format!(
                "{role} writing, the global credentials reading: the role cannot read central ({how})"
            ),
            Identity::Two => format!("the global credentials reading, the target identity writing ({how})"),
        }
    }
}

/// The restore role to assume: `--restore-role`, or setup's role when `--config` lists the account.
fn restore_role_arn(args: &RestoreArgs) -> Result<Option<String>> {
    if args.no_restore_role || args.target_profile.is_some() || args.target_role_arn.is_some() {
        return Ok(None);
    }
    let account = args.account()?;
    if let Some(name) = &args.restore_role {
        return Ok(Some(if name.starts_with("arn:") {
            name.clone()
        } else {
            format!("arn:aws:iam::{account}:role/{name}")
        }));
    }
    if !args.config.exists() {
        return Ok(None);
    }
    let config = crate::config::load_config(&args.config)?;
    let listed = config.sources.iter().any(|s| &s.account == account)
        || config
            .discovery
            .as_ref()
            .is_some_and(|d| !d.exclude_accounts.contains(account));
    Ok(listed.then(|| {
        format!(
            "arn:aws:iam::{account}:role/{}",
            crate::setup::policy::RESTORE_ROLE
        )
    }))
}

/// The bucket's region (HeadBucket's x-amz-bucket-region, which S3 sends even with a redirect or
/// a refusal); with `check`, also that the bucket exists and these credentials can reach it.
async fn bucket_region(aws: &Aws, bucket: &str, hint: &'static str, check: bool) -> Result<String> {
    let region = match crate::region::lookup(aws, bucket).await {
        crate::region::Lookup::Missing => {
            return Err(Error::NoSuchBucket {
                bucket: bucket.to_owned(),
                hint,
            })
        }
        // HeadBucket itself answered: the bucket is there and reachable, nothing more to check.
        crate::region::Lookup::Reachable(region) => return Ok(region),
        crate::region::Lookup::Region(region) => region,
        crate::region::Lookup::Unknown => aws.region(),
    };
    if check {
        aws.in_region(&region)
            .s3()
            .head_bucket()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| {
                Error::from_sdk("HeadBucket", bucket.to_owned(), e).with_bucket_hint(bucket, hint)
            })?;
    }
    Ok(region)
}

/// [`Error::made_as`] for the writing identity: its ARN (the caller's own asked of STS only
/// now, on this error path) and the options that choose another writer.
async fn name_the_writer(e: Error, identity: &Identity, args: &RestoreArgs, writer: &Aws) -> Error {
    let own = match identity {
        // The caller's own ARN, asked of STS only now, on this error path.
        Identity::One => writer.caller_arn().await.ok(),
        _ => None,
    };
    let named = acting_as(identity, args, own);
    e.made_as(&named.who, &named.fix)
}

/// The identity that writes the target, as errors name it, and the options that choose another;
/// `own_arn` names the global credentials when it is known.
fn acting_as(identity: &Identity, args: &RestoreArgs, own_arn: Option<String>) -> ActingAs {
    let (who, fix) = match identity {
        Identity::RestoreRole(role) | Identity::RestoreRoleStreamed(role) => (
            role.clone(),
            "--no-restore-role writes with your own credentials, --target-role-arn as another role",
        ),
        Identity::Two => (
            match (&args.target_role_arn, &args.target_profile) {
                (Some(role), _) => role.clone(),
                (None, Some(profile)) => format!("profile {profile:?}"),
                (None, None) => "the target identity".to_owned(),
            },
            "--target-role-arn or --target-profile chooses the identity that writes",
        ),
        Identity::One => (
            own_arn.unwrap_or_else(|| "your own credentials".to_owned()),
            "--target-role-arn or --target-profile writes as another identity",
        ),
    };
    ActingAs {
        who,
        fix: fix.to_owned(),
    }
}

/// The account that must own the target bucket: `--expected-bucket-owner`, else the account
/// restored when its bucket comes from the config (a name its attacker may have deleted and
/// registered again elsewhere), else the writing identity's own account.
async fn expected_target_owner(args: &RestoreArgs, writer: &Aws) -> Result<String> {
    let from_config = args
        .to_bucket
        .as_deref()
        .is_none_or(|b| b.trim().is_empty());
    Ok(match (&args.expected_bucket_owner, from_config) {
        (Some(owner), _) => owner.to_string(),
        (None, true) => args.account()?.to_string(),
        (None, false) => writer.account_id().await?,
    })
}

/// Where the account that must own central comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CentralOwner {
    /// `--central-owner`, or the config's `[central] account`.
    Given(String),
    /// The account of the credentials that assumed the restore role: setup's restore roles trust
    /// principals of the central account only.
    Caller,
    /// Nothing says: central's reads name no owner.
    Unknown,
}

/// `--central-owner`, else the config's `[central] account`, else the caller's account when the
/// restore role reads central, else unknown.
fn central_owner(
    flag: Option<&crate::account::AccountId>,
    in_config: Option<&crate::account::AccountId>,
    identity: &Identity,
) -> CentralOwner {
    match (flag.or(in_config), identity) {
        (Some(account), _) => CentralOwner::Given(account.to_string()),
        (None, Identity::RestoreRole(_) | Identity::RestoreRoleStreamed(_)) => CentralOwner::Caller,
        (None, Identity::One | Identity::Two) => CentralOwner::Unknown,
    }
}

/// The account that must own central (see [`central_owner`]), resolved.
async fn expected_central_owner(
    args: &RestoreArgs,
    caller: &Aws,
    identity: &Identity,
) -> Result<Option<String>> {
    // Only a hint here: a config that does not load is said where it is needed (the target
    // bucket), not here.
    let in_config = match args.config.exists() {
        true => match crate::config::load_config(&args.config) {
            Ok(config) => config.central.account,
            Err(e) => {
                tracing::debug!(error = %e, "central's owner not read from the config");
                None
            }
        },
        false => None,
    };
    Ok(
        match central_owner(args.central_owner.as_ref(), in_config.as_ref(), identity) {
            CentralOwner::Given(account) => Some(account),
            CentralOwner::Caller => Some(caller.account_id().await?),
            CentralOwner::Unknown => None,
        },
    )
}

/// Before any write: HeadBucket with `x-amz-expected-bucket-owner`, which S3 answers 403 when
/// another account owns the bucket (the same HeadBucket without it has already succeeded).
async fn check_target_owner(s3: &aws_sdk_s3::Client, bucket: &str, owner: &str) -> Result<()> {
    match s3
        .head_bucket()
        .bucket(bucket)
        .expected_bucket_owner(owner)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(403) => {
            Err(Error::Refused(format!(
                "target bucket {bucket:?} is not owned by account {owner}: nothing was written; if that is the right bucket, pass --expected-bucket-owner with its owner's account id"
            )))
        }
        Err(e) => Err(Error::from_sdk("HeadBucket", bucket.to_owned(), e)),
    }
}

/// Refuses a target without versioning (a restore would overwrite objects with no way back)
/// unless allowed; gives whether it is versioned.
async fn check_versioning(s3: &aws_sdk_s3::Client, bucket: &str, allow: bool) -> Result<bool> {
    let out = s3
        .get_bucket_versioning()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| Error::from_sdk("GetBucketVersioning", bucket.to_owned(), e))?;
    let versioned = out.status() == Some(&BucketVersioningStatus::Enabled);
    if versioned || allow {
        return Ok(versioned);
    }
    Err(Error::Refused(format!(
        "target bucket {bucket:?} does not have versioning enabled, so a restore could overwrite objects for good: enable versioning, or pass --allow-unversioned"
    )))
}

/// How the restore records where each copy came from, and the journal it reads and appends to.
/// An unversioned target gives no version ids to record, so it gets metadata and no journal.
fn provenance_and_journal(
    args: &RestoreArgs,
    target_bucket: &str,
    versioned: bool,
) -> Result<(Provenance, Option<Arc<Journal>>)> {
    if !versioned {
        if args.provenance == ProvenanceArg::Journal {
            tracing::info!("the target is not versioned: recording each copy's central version in its metadata instead of a journal");
        }
        return Ok((Provenance::Metadata, None));
    }
    let provenance = match args.provenance {
        ProvenanceArg::Journal => Provenance::Journal,
        ProvenanceArg::Metadata => Provenance::Metadata,
    };
    let path = match &args.journal {
        Some(path) => path.clone(),
        None => journal::default_path(target_bucket).ok_or_else(|| {
            Error::Invalid(
                "no place for the restore journal: set HOME or S3CENTRAL_STATE_DIR, or pass --journal FILE"
                    .to_owned(),
            )
        })?,
    };
    let journal = Journal::open(&path, args.dry_run)?;
    tracing::info!(path = %journal.path().display(), copies = journal.copies(), in_doubt = journal.in_doubt(), "restore journal");
    Ok((provenance, Some(Arc::new(journal))))
}

/// The refusal of a restore whose source listed nothing at all (checked after the run, which
/// found it out for free): a mistyped account or PATH in a script, or an inventory that does
/// not cover them.
pub async fn nothing_found(
    caller: &Aws,
    central: &str,
    inventory: Option<&Inventory>,
    args: &RestoreArgs,
) -> Error {
    let path = args.path.as_deref().unwrap_or("");
    let account = match args.account() {
        Ok(account) => account,
        Err(e) => return e,
    };
    match inventory {
        Some(inventory) => Error::Refused(format!(
            "the inventory taken at {} holds nothing under s3://{central}/{}{path}: is the account id (or PATH) right, and does the inventory's prefix filter cover it?",
            crate::time::format_time(inventory.taken),
            account.prefix(),
        )),
        None => nothing_listed(caller, central, account, path).await,
    }
}

/// The refusal of a restore that found nothing at all under the account's prefix (+ PATH): the
/// account ids that do exist in central, from one ListObjectsV2 with Delimiter "/".
async fn nothing_listed(caller: &Aws, central: &str, account: &AccountId, path: &str) -> Error {
    let under = format!("s3://{central}/{}{path}", account.prefix());
    let in_region = crate::region::for_bucket(caller, central).await;
    let accounts = match crate::central::accounts(&in_region.s3(), central).await {
        Ok(accounts) => accounts,
        Err(e) => {
            tracing::debug!(error = %e, "cannot list the accounts in central");
            return Error::Refused(format!(
                "nothing under {under}: is the account id (or PATH) right?"
            ));
        }
    };
    if !path.is_empty() && accounts.contains(account) {
        return Error::Refused(format!(
            "nothing under {under}: account {account} has objects in central, but none under PATH {path:?} (PATH is relative to the account prefix; see s3central ls --account {account})"
        ));
    }
    Error::Refused(crate::central::accounts_message(&under, account, &accounts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caller_reads_central_only_when_asked() {
        let e = reader_when_role_cannot_read("arn:aws:iam::111111111111:role/r", "central", false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--allow-caller-read") && e.contains("cannot read"),
            "{e}"
        );
        assert!(reader_when_role_cannot_read("r", "central", true).is_ok());
    }

    #[test]
    fn central_owner_is_the_flag_then_the_config_then_the_restore_roles_caller() {
        let id = |s: &str| s.parse::<crate::account::AccountId>().expect("account id");
        let (flag, config) = (id("111111111111"), id("222222222222"));
        let role = Identity::RestoreRole("arn:aws:iam::333333333333:role/s3central-restore".into());
        let given = |s: &str| CentralOwner::Given(s.to_owned());
        assert_eq!(
            central_owner(Some(&flag), Some(&config), &role),
            given("111111111111")
        );
        assert_eq!(
            central_owner(None, Some(&config), &Identity::One),
            given("222222222222")
        );
        assert_eq!(central_owner(None, None, &role), CentralOwner::Caller);
        assert_eq!(
            central_owner(None, None, &Identity::RestoreRoleStreamed("r".into())),
            CentralOwner::Caller
        );
        // The global credentials (or another writer) read: their account says nothing of central.
        assert_eq!(
            central_owner(None, None, &Identity::One),
            CentralOwner::Unknown
        );
        assert_eq!(
            central_owner(None, None, &Identity::Two),
            CentralOwner::Unknown
        );
    }

    #[test]
    fn a_manifest_never_goes_to_central_or_an_alias() {
        assert!(check_manifest_bucket("target-bucket", "central-bucket").is_ok());
        let e = check_manifest_bucket("central-bucket", "central-bucket").unwrap_err();
        assert!(e.to_string().contains("never writes to central"), "{e}");
        for bad in [
            "my-ap-abcdefgh-s3alias",
            "arn:aws:s3:us-east-1:1:accesspoint/x",
            "Central",
        ] {
            assert!(
                check_manifest_bucket(bad, "central-bucket").is_err(),
                "{bad}"
            );
        }
    }
}
