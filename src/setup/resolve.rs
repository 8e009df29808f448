//! Who and what setup and status act on: the config read, the central account, organization and
//! break-glass role resolved, and every source account (listed and discovered) found.

use crate::aws::{Aws, AwsOptions};
use crate::config::{load_config, Config};
use crate::error::{Error, Result};
use crate::setup::{identity_in, source_accounts, Central, SourceAccount};

/// Everything setup needs after the config and identities are resolved.
pub struct Resolved {
    /// The desired state.
    pub config: Config,
    /// The central account.
    pub central: Central,
    /// The caller's own credentials and account id.
    pub caller: (Aws, String),
    /// The source accounts.
    pub sources: Vec<SourceAccount>,
    /// Accounts of the configured OUs that the config excludes (never protected).
    pub excluded: Vec<crate::account::AccountId>,
}

/// Loads the config (before any AWS call), then resolves the central account, org id and sources.
pub async fn resolve(aws_options: &AwsOptions, path: &std::path::Path) -> Result<Resolved> {
    let config = load_config(path)?;
    let caller = Aws::load(aws_options).await?;
    let caller_account = caller.account_id().await?;
    let central_account = config
        .central
        .account
        .as_ref()
        .map(|a| a.to_string())
        .unwrap_or_else(|| caller_account.clone());
    let every_list = std::iter::once(&config.central.restore_principals).chain(
        config
            .sources
            .iter()
            .filter_map(|s| s.restore_principals.as_ref()),
    );
    if let Some(foreign) = every_list
        .filter_map(|list| crate::setup::policy::foreign_restore_principal(list, &central_account))
        .next()
    {
        return Err(Error::Invalid(format!(
            "restore_principals entry {foreign:?} is not a principal of the central account {central_account}: every account's restore role would trust it, and a principal elsewhere could read that account's backups and write its bucket; name roles of the central account"
        )));
    }
    let central_region = config
        .central
        .region
        .clone()
        .unwrap_or_else(|| caller.region());
    let org_id = match &config.central.org_id {
        Some(id) => id.clone(),
        None => caller
            .organizations()
            .describe_organization()
            .send()
            .await
            .map_err(|e| Error::from_sdk("organizations:DescribeOrganization", "organization", e))?
            .organization()
            .and_then(|o| o.id())
            .map(str::to_owned)
            .ok_or_else(|| {
                Error::Invalid(
                    "no organization found: set org_id in [central] of the config".into(),
                )
            })?,
    };
    let central_aws = identity_in(
        &caller,
        &caller_account,
        &central_account,
        &config.assume_role,
        &central_region,
    )
    .await?;
    let break_glass_role = match &config.central.break_glass_role {
        Some(role) => Some(
            crate::setup::check_break_glass_role(
                &central_aws,
                &crate::config::break_glass_arn(role, &central_account),
            )
            .await?,
        ),
        None => None,
    };
    let acting_as_break_glass = match &break_glass_role {
        Some(role) => crate::setup::policy::is_session_of(&central_aws.caller_arn().await?, role),
        None => false,
    };
    let crate::setup::Sources {
        accounts: sources,
        excluded,
    } = source_accounts(&caller, &config, &central_region).await?;
    let enrolled = (config.central.enrollment == crate::config::Enrollment::Listed)
        .then(|| sources.iter().map(|s| s.account.to_string()).collect());
    let replicating_deletes = sources
        .iter()
        .filter(|s| s.replicate_deletes)
        .map(|s| s.account.to_string())
        .collect();
    let (alert_regions, alert_accounts) = match &config.central.alerts_topic {
        Some(_) => (
            sources
                .iter()
                .map(|s| s.region.clone())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect(),
            sources.iter().map(|s| s.account.to_string()).collect(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    Ok(Resolved {
        central: Central {
            alert_regions,
            alert_accounts,
            account: central_account,
            region: central_region,
            org_id,
            aws: central_aws,
            break_glass_role,
            acting_as_break_glass,
            enrolled,
            replicating_deletes,
        },
        caller: (caller, caller_account),
        sources,
        excluded,
        config,
    })
}
