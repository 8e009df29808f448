//! `s3central ls`: the accounts in the central bucket, an account's keys at a time, or their history.

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use indicatif::HumanBytes;
use serde::Serialize;

use crate::account::AccountId;
use crate::aws::Aws;
use crate::cli::{LsArgs, OutputFormat};
use crate::commands::Context;
use crate::error::Result;
use crate::filter::{KeyFilter, StarHint};
use crate::listing::{list_versions, ListRequest};
use crate::output::{printable, Column, Row};
use crate::pit::{resolve_stream, resolve_stream_marked, DeleteMode, Resolved};
use crate::restore::archive::{self, is_archived, RestoreState};
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
    let accounts = crate::central::accounts(&s3, bucket).await?;
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
    let (mut accounts, mut objects, mut bytes) = (0u64, 0u64, 0u64);
    while let Some(row) = summaries.next().await {
        let row = row?;
        accounts += 1;
        objects += row.objects.unwrap_or(0);
        bytes += row.bytes.unwrap_or(0);
        ctx.out.row(&row)?;
    }
    if args.summary && accounts > 0 && ctx.out.format() == OutputFormat::Table && !ctx.global.quiet
    {
        ctx.out.text("")?;
        ctx.out.text(&format!(
            "{}, {}, {} in s3://{bucket} now (delete markers ignored, as a default restore does)",
            plural(accounts, "account", "accounts"),
            plural(objects, "object", "objects"),
            HumanBytes(bytes)
        ))?;
    }
    Ok(0)
}

/// Shown version ids are cut to this many characters in the default (80-column) table.
const SHORT_VERSION: usize = 8;

/// A version id for the default table: the first characters and `…` (full ids with `--long`).
fn short_version(id: &str) -> String {
    if id.chars().count() <= SHORT_VERSION + 2 {
        id.to_owned()
    } else {
        let head: String = id.chars().take(SHORT_VERSION).collect();
        format!("{head}…")
    }
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
    /// State view: the key's newest entry at TIME is a delete marker (this version is what a
    /// default restore brings back).
    #[serde(skip_serializing_if = "Option::is_none")]
    deleted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_latest: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_delete_marker: Option<bool>,
    /// Archived versions (GLACIER, DEEP_ARCHIVE) only: whether a readable copy is restored.
    #[serde(skip_serializing_if = "Option::is_none")]
    restore: Option<RestoreState>,
    /// Table layout: `--long` (full version ids, storage class).
    #[serde(skip)]
    long: bool,
}

impl KeyRow {
    /// A row of the state view.
    fn state(r: Resolved, relative: String, long: bool) -> Self {
        KeyRow {
            deleted: Some(r.deleted),
            ..KeyRow::history(r.version, relative, long, false)
        }
    }

    /// A row of the history view (`history`), or the base of a state row.
    fn history(v: ObjectVersion, relative: String, long: bool, history: bool) -> Self {
        KeyRow {
            key: relative,
            version_id: v.version_id,
            last_modified: format_time(v.last_modified),
            size: v.size,
            storage_class: v.storage_class,
            etag: v.etag,
            deleted: None,
            is_latest: history.then_some(v.is_latest),
            is_delete_marker: history.then_some(v.is_delete_marker),
            restore: None,
            long,
        }
    }
}

impl Row for KeyRow {
    fn columns(&self) -> &'static [Column] {
        const TIME: Column = Column::left("LAST_MODIFIED", 20);
        const SIZE: Column = Column::right("SIZE", 11);
        const CLASS: Column = Column::left("STORAGE_CLASS", 13);
        const LONG_ID: Column = Column::left("VERSION_ID", 36);
        const ID: Column = Column::left("VERSION", SHORT_VERSION + 1);
        const DELETED: Column = Column::left("DELETED", 7);
        const LATEST: Column = Column::left("LATEST", 6);
        const KEY: Column = Column::left("KEY", 0);
        const STATE: &[Column] = &[TIME, SIZE, ID, DELETED, KEY];
        const STATE_LONG: &[Column] = &[TIME, SIZE, CLASS, LONG_ID, DELETED, KEY];
        const HISTORY: &[Column] = &[TIME, SIZE, ID, LATEST, KEY];
        const HISTORY_LONG: &[Column] = &[TIME, SIZE, CLASS, LONG_ID, LATEST, KEY];
        match (self.is_latest.is_some(), self.long) {
            (false, false) => STATE,
            (false, true) => STATE_LONG,
            (true, false) => HISTORY,
            (true, true) => HISTORY_LONG,
        }
    }

    fn cells(&self) -> Vec<String> {
        let size = if self.is_delete_marker == Some(true) {
            "(deleted)".to_owned()
        } else {
            HumanBytes(self.size).to_string()
        };
        let mut cells = vec![self.last_modified.clone(), size];
        if self.long {
            cells.push(match (&self.storage_class, &self.restore) {
                (Some(class), Some(state)) => format!("{class} ({})", state.label()),
                (Some(class), None) => class.clone(),
                (None, _) => "-".into(),
            });
            cells.push(self.version_id.clone());
        } else {
            cells.push(short_version(&self.version_id));
        }
        if let Some(deleted) = self.deleted {
            cells.push(if deleted { "yes" } else { "" }.into());
        }
        if let Some(latest) = self.is_latest {
            cells.push(if latest { "yes" } else { "" }.into());
        }
        cells.push(printable(&self.key));
        cells
    }
}

/// What a listing of keys counted, for its totals line and its explanation of an empty result.
#[derive(Debug, Default)]
struct KeyTotals {
    /// Entries (state view: keys present at TIME) before the globs.
    seen: u64,
    /// Rows printed.
    shown: u64,
    /// Bytes of the rows printed.
    bytes: u64,
    /// Rows whose newest entry at TIME is a delete marker (state view), or markers (history).
    deleted: u64,
    /// A key the include globs left out, and the `**/` glob that would take it.
    hint: Option<(String, String)>,
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
    let path = args.path.as_deref().unwrap_or("");
    let prefix = format!("{account_prefix}{path}");
    let aws = crate::region::for_bucket(&Aws::load(&ctx.aws).await?, bucket).await;
    let s3 = aws.s3();
    if args.inventory.is_none() {
        crate::central::require_account(&s3, bucket, account).await?;
    }
    let request = ListRequest {
        bucket: bucket.to_owned(),
        prefix,
        page_size: args.page_size,
        concurrency: args.list_concurrency as usize,
    };
    let spinner = crate::progress::spinner(ctx.progress_beside_data(), "versions");
    let entries = match &args.inventory {
        Some(url) => {
            let caller = Aws::load(&ctx.aws).await?;
            let options = crate::inventory_source::LoadOptions {
                url: url.clone(),
                central: bucket.to_owned(),
                prefix: request.prefix.clone(),
                at,
                memory: args.inventory_memory.as_u64(),
                expected_owner: args.inventory_owner.as_ref().map(ToString::to_string),
            };
            let inventory = crate::inventory_source::load(&caller, &options).await?;
            if !ctx.global.quiet {
                eprintln!("{}", inventory.describe(bucket, &options.prefix));
            }
            std::sync::Arc::new(inventory).stream()
        }
        None => list_versions(aws.s3(), request),
    };
    let counted = {
        let spinner = spinner.clone();
        entries.inspect(move |_| spinner.inc(1))
    };
    let relative = |key: &str| key.strip_prefix(&account_prefix).unwrap_or(key).to_owned();
    let mode = if args.respect_deletes {
        DeleteMode::Respect
    } else {
        DeleteMode::Ignore
    };
    let ties = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let entries = if args.versions {
        counted
            .map_ok(|v| Resolved {
                deleted: v.is_delete_marker,
                version: v,
            })
            .boxed()
    } else if args.inventory.is_some() {
        let ties = ties.clone();
        crate::inventory_source::resolve_settled(
            counted.boxed(),
            at,
            mode,
            crate::inventory_source::TieLister {
                client: s3.clone(),
                bucket: bucket.to_owned(),
                page_size: args.page_size,
            },
            move || {
                ties.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            },
        )
    } else {
        resolve_stream_marked(counted, at, mode).boxed()
    };
    futures::pin_mut!(entries);
    let mut t = KeyTotals::default();
    let star_hint = StarHint::new(&args.include);
    while let Some(entry) = entries.next().await {
        let entry = entry?;
        t.seen += 1;
        let rel = relative(&entry.version.key);
        if !filter.matches(&rel) {
            // Only worth knowing while nothing is shown (an empty result is then explained).
            if let (Some(star), None, 0) = (&star_hint, &t.hint, t.shown) {
                t.hint = star.hint(&rel).map(|glob| (rel, glob));
            }
            continue;
        }
        t.shown += 1;
        t.deleted += u64::from(entry.deleted);
        t.bytes += entry.version.size;
        // Only archived versions cost a request: HeadObject's x-amz-restore.
        let v = &entry.version;
        let restore = if !v.is_delete_marker && is_archived(v.storage_class.as_deref()) {
            Some(archive::state(&s3, bucket, None, v).await?)
        } else {
            None
        };
        let row = if args.versions {
            KeyRow::history(entry.version, rel, args.long, true)
        } else {
            KeyRow::state(entry, rel, args.long)
        };
        ctx.out.row(&KeyRow { restore, ..row })?;
    }
    spinner.finish_and_clear();
    let tied = ties.load(std::sync::atomic::Ordering::Relaxed);
    if tied > 0 && !ctx.global.quiet {
        eprintln!("{}", crate::inventory_source::ties_line(tied));
    }
    let under = format!("s3://{bucket}/{account_prefix}{path}");
    if t.shown == 0 {
        if !ctx.global.quiet {
            eprintln!("{}", empty_reason(args, &t, &under, at));
        }
        return Ok(0);
    }
    if ctx.out.format() == OutputFormat::Table && !ctx.global.quiet {
        ctx.out.text("")?;
        ctx.out.text(&key_totals_line(args, &t, &under, at))?;
    }
    Ok(0)
}

/// The totals line under a table of keys.
fn key_totals_line(args: &LsArgs, t: &KeyTotals, under: &str, at: DateTime<Utc>) -> String {
    let filtered = if t.shown < t.seen {
        format!(" (of {} before --include/--exclude)", t.seen)
    } else {
        String::new()
    };
    if args.versions {
        return format!(
            "{}{filtered} under {under}: {} ({}), {}",
            plural(t.shown, "entry", "entries"),
            plural(t.shown - t.deleted, "version", "versions"),
            HumanBytes(t.bytes),
            plural(t.deleted, "delete marker", "delete markers"),
        );
    }
    let deleted = if args.respect_deletes {
        " (keys whose newest entry is a delete marker left out: --respect-deletes)".to_owned()
    } else if t.deleted > 0 {
        format!(
            "; {} of them deleted at that time (DELETED yes: a restore brings them back unless --respect-deletes)",
            t.deleted
        )
    } else {
        String::new()
    };
    format!(
        "{}{filtered}, {} under {under} at {}{deleted}",
        plural(t.shown, "key", "keys"),
        HumanBytes(t.bytes),
        format_time(at)
    )
}

/// `1 key`, `2 keys`.
fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Why a listing of keys printed nothing: nothing there, or the globs took everything out.
fn empty_reason(args: &LsArgs, t: &KeyTotals, under: &str, at: DateTime<Utc>) -> String {
    let what = if args.versions {
        format!("no versions under {under}")
    } else {
        format!("no keys under {under} at {}", format_time(at))
    };
    if t.seen == 0 {
        return what;
    }
    let mut line = format!(
        "{what} match --include/--exclude ({} {} there before the globs; they match the key relative to the account prefix)",
        t.seen,
        if args.versions { "entries" } else { "keys" }
    );
    if let Some(hint) = &t.hint {
        line.push_str(&format!(
            "; `*` stays within one /-separated segment, so it cannot match {:?}: use `**/` to cross segments, e.g. --include '{}'",
            hint.0, hint.1
        ));
    }
    line
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
