//! `s3central ls`: the accounts in the central bucket, an account's keys at a time, or their history.

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use indicatif::HumanBytes;
use serde::Serialize;

use crate::account::AccountId;
use crate::aws::Aws;
use crate::cli::LsArgs;
use crate::commands::Context;
use crate::error::Result;
use crate::filter::KeyFilter;
use crate::listing::{list_common_prefixes, list_versions, ListRequest};
use crate::output::{printable, Column, Row};
use crate::pit::{resolve_stream, DeleteMode};
use crate::time::{format_time, parse_time};
use crate::version::ObjectVersion;

/// Runs `ls`; input is validated before the first AWS call.
pub async fn run(ctx: &mut Context, args: LsArgs) -> Result<u8> {
    let bucket = ctx.central_bucket()?;
    match args.account.clone() {
        None => list_accounts(ctx, &bucket, &args).await,
        Some(account) => list_keys(ctx, &bucket, &account, &args).await,
    }
}

/// One account in the central bucket.
#[derive(Debug, Serialize)]
struct AccountRow {
    account: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    objects: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
}

impl Row for AccountRow {
    fn columns(&self) -> &'static [Column] {
        const SUMMARY: &[Column] = &[
            Column::left("ACCOUNT", 12),
            Column::right("OBJECTS", 10),
            Column::right("SIZE", 11),
        ];
        if self.objects.is_some() {
            SUMMARY
        } else {
            &SUMMARY[..1]
        }
    }

    fn cells(&self) -> Vec<String> {
        let mut cells = vec![self.account.clone()];
        if let (Some(objects), Some(bytes)) = (self.objects, self.bytes) {
            cells.push(objects.to_string());
            cells.push(HumanBytes(bytes).to_string());
        }
        cells
    }
}

/// How `ls --summary` shares `--list-concurrency` requests in flight among `accounts`: accounts
/// listed at once, and streams per account (one account alone gets them all).
fn summary_shares(list_concurrency: usize, accounts: usize) -> (usize, usize) {
    let at_once = list_concurrency.min(accounts).max(1);
    (at_once, (list_concurrency / at_once).max(1))
}

/// Lists the account prefixes; with `--summary`, resolves each account's current state, several
/// accounts at once (rows still in account order).
async fn list_accounts(ctx: &mut Context, bucket: &str, args: &LsArgs) -> Result<u8> {
    let aws = crate::region::for_bucket(&Aws::load(&ctx.aws).await?, bucket).await;
    let s3 = aws.s3();
    let accounts: Vec<AccountId> = list_common_prefixes(&s3, bucket, "")
        .await?
        .iter()
        .filter_map(|p| AccountId::from_prefix(p))
        .collect();
    if accounts.is_empty() && !ctx.global.quiet {
        eprintln!("no account prefixes in s3://{bucket}");
    }
    let now = Utc::now();
    let (at_once, per_account) = summary_shares(args.list_concurrency as usize, accounts.len());
    let summaries = futures::stream::iter(accounts.into_iter().map(|account| {
        let s3 = s3.clone();
        let page_size = args.page_size;
        let summary = args.summary;
        let bucket = bucket.to_owned();
        async move {
            if !summary {
                return Ok(AccountRow {
                    account: account.to_string(),
                    objects: None,
                    bytes: None,
                });
            }
            let request = ListRequest {
                bucket,
                prefix: account.prefix(),
                page_size,
                concurrency: per_account,
            };
            let (objects, bytes) =
                resolve_stream(list_versions(s3, request), now, DeleteMode::Ignore)
                    .try_fold(
                        (0u64, 0u64),
                        |(n, b), v| async move { Ok((n + 1, b + v.size)) },
                    )
                    .await?;
            Ok::<_, crate::error::Error>(AccountRow {
                account: account.to_string(),
                objects: Some(objects),
                bytes: Some(bytes),
            })
        }
    }))
    .buffered(at_once);
    futures::pin_mut!(summaries);
    while let Some(row) = summaries.next().await {
        ctx.out.row(&row?)?;
    }
    Ok(0)
}

/// One key in the state at a time, or one entry of its history (`--versions`).
#[derive(Debug, Serialize)]
struct KeyRow {
    key: String,
    version_id: String,
    last_modified: String,
    size: u64,
    storage_class: Option<String>,
    etag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_latest: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_delete_marker: Option<bool>,
}

impl KeyRow {
    fn new(v: ObjectVersion, relative: String, history: bool) -> Self {
        KeyRow {
            key: relative,
            version_id: v.version_id,
            last_modified: format_time(v.last_modified),
            size: v.size,
            storage_class: v.storage_class,
            etag: v.etag,
            is_latest: history.then_some(v.is_latest),
            is_delete_marker: history.then_some(v.is_delete_marker),
        }
    }
}

impl Row for KeyRow {
    fn columns(&self) -> &'static [Column] {
        const HISTORY: &[Column] = &[
            Column::left("LAST_MODIFIED", 20),
            Column::right("SIZE", 11),
            Column::left("STORAGE_CLASS", 13),
            Column::left("VERSION_ID", 36),
            Column::left("LATEST", 6),
            Column::left("KEY", 0),
        ];
        const STATE: &[Column] = &[HISTORY[0], HISTORY[1], HISTORY[2], HISTORY[3], HISTORY[5]];
        if self.is_latest.is_some() {
            HISTORY
        } else {
            STATE
        }
    }

    fn cells(&self) -> Vec<String> {
        let size = if self.is_delete_marker == Some(true) {
            "(deleted)".to_owned()
        } else {
            HumanBytes(self.size).to_string()
        };
        let mut cells = vec![
            self.last_modified.clone(),
            size,
            self.storage_class.clone().unwrap_or_else(|| "-".into()),
            self.version_id.clone(),
        ];
        if let Some(latest) = self.is_latest {
            cells.push(if latest { "yes" } else { "" }.into());
        }
        cells.push(printable(&self.key));
        cells
    }
}

/// Lists one account's keys as of a time, or every version with `--versions`.
async fn list_keys(
    ctx: &mut Context,
    bucket: &str,
    account: &AccountId,
    args: &LsArgs,
) -> Result<u8> {
    let now = Utc::now();
    let at: DateTime<Utc> = match &args.at {
        Some(text) => parse_time(text, now)?,
        None => now,
    };
    let filter = KeyFilter::new(&args.include, &args.exclude)?;
    let account_prefix = account.prefix();
    let prefix = format!("{account_prefix}{}", args.path.as_deref().unwrap_or(""));
    let aws = crate::region::for_bucket(&Aws::load(&ctx.aws).await?, bucket).await;
    let request = ListRequest {
        bucket: bucket.to_owned(),
        prefix,
        page_size: args.page_size,
        concurrency: args.list_concurrency as usize,
    };
    let spinner = crate::progress::spinner(ctx.progress, "versions");
    let counted = {
        let spinner = spinner.clone();
        list_versions(aws.s3(), request).inspect(move |_| spinner.inc(1))
    };
    let relative = |key: &str| key.strip_prefix(&account_prefix).unwrap_or(key).to_owned();
    let entries = if args.versions {
        counted.boxed()
    } else {
        resolve_stream(counted, at, DeleteMode::Ignore).boxed()
    };
    futures::pin_mut!(entries);
    while let Some(entry) = entries.next().await {
        let entry = entry?;
        let rel = relative(&entry.key);
        if filter.matches(&rel) {
            spinner.suspend(|| ctx.out.row(&KeyRow::new(entry, rel, args.versions)))?;
        }
    }
    spinner.finish_and_clear();
    if ctx.out.rows() == 0 && !ctx.global.quiet {
        if args.versions {
            eprintln!(
                "no versions under s3://{bucket}/{account_prefix}{}",
                args.path.as_deref().unwrap_or("")
            );
        } else {
            eprintln!(
                "no keys under s3://{bucket}/{account_prefix}{} at {}",
                args.path.as_deref().unwrap_or(""),
                format_time(at)
            );
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::summary_shares;

    #[test]
    fn summary_shares_the_requests_in_flight() {
        assert_eq!(summary_shares(4, 100), (4, 1));
        assert_eq!(summary_shares(4, 1), (1, 4));
        assert_eq!(summary_shares(16, 3), (3, 5));
        assert_eq!(summary_shares(1, 10), (1, 1));
        assert_eq!(summary_shares(4, 0), (1, 4));
    }
}
