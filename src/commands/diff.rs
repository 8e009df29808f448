//! `s3central diff`: keys added, changed and deleted between two moments; one listing pass
//! resolved at both times at once.

use chrono::Utc;
use futures::StreamExt;
use indicatif::HumanBytes;
use serde::Serialize;

use crate::aws::Aws;
use crate::cli::{DiffArgs, OutputFormat};
use crate::commands::Context;
use crate::diff::{diff_stream, Change, ChangeKind, Totals};
use crate::error::{Error, Result};
use crate::filter::KeyFilter;
use crate::listing::{list_versions, ListRequest};
use crate::output::{printable, Column, Row};
use crate::time::{format_time, parse_time};

/// One key that differs between the two moments.
#[derive(Debug, Serialize)]
struct ChangeRow {
    change: ChangeKind,
    key: String,
    from_version_id: Option<String>,
    from_size: Option<u64>,
    from_last_modified: Option<String>,
    /// The version at `--to`, or the delete marker for deleted keys.
    to_version_id: String,
    /// `None` for deleted keys.
    to_size: Option<u64>,
    to_last_modified: String,
    to_delete_marker: bool,
}

impl ChangeRow {
    fn new(c: Change, relative: String) -> ChangeRow {
        let deleted = c.kind == ChangeKind::Deleted;
        ChangeRow {
            change: c.kind,
            key: relative,
            from_version_id: c.from.as_ref().map(|v| v.version_id.clone()),
            from_size: c.from.as_ref().map(|v| v.size),
            from_last_modified: c.from.as_ref().map(|v| format_time(v.last_modified)),
            to_version_id: c.to.version_id,
            to_size: (!deleted).then_some(c.to.size),
            to_last_modified: format_time(c.to.last_modified),
            to_delete_marker: c.to.is_delete_marker,
        }
    }
}

impl Row for ChangeRow {
    fn columns(&self) -> &'static [Column] {
        const COLUMNS: &[Column] = &[
            Column::left("CHANGE", 7),
            Column::right("SIZE", 11),
            Column::left("FROM_VERSION_ID", 36),
            Column::left("TO_VERSION_ID", 36),
            Column::left("KEY", 0),
        ];
        COLUMNS
    }

    fn cells(&self) -> Vec<String> {
        let kind = match self.change {
            ChangeKind::Added => "added",
            ChangeKind::Changed => "changed",
            ChangeKind::Deleted => "deleted",
        };
        let size = self.to_size.or(self.from_size).unwrap_or(0);
        let to = if self.to_delete_marker {
            format!("{} (marker)", self.to_version_id)
        } else {
            self.to_version_id.clone()
        };
        vec![
            kind.to_owned(),
            HumanBytes(size).to_string(),
            self.from_version_id.clone().unwrap_or_else(|| "-".into()),
            to,
            printable(&self.key),
        ]
    }
}

/// The last line in JSON mode.
#[derive(Debug, Serialize)]
struct TotalsLine {
    account: String,
    path: String,
    from: String,
    to: String,
    #[serde(flatten)]
    totals: Totals,
}

/// Said under every table: what central cannot show of the account's own deletes.
pub const SOURCE_DELETES_NOTE: &str = "note: unless the account replicates deletes \
(replicate_deletes), keys it deleted in its own bucket are not seen as deleted here: central \
still holds their last version (a default restore brings them back)";

/// Runs `diff`; input is validated before the first AWS call.
pub async fn run(ctx: &mut Context, args: DiffArgs) -> Result<u8> {
    if args.live.is_some() {
        return crate::commands::diff_live::run(ctx, &args).await;
    }
    let bucket = ctx.central_bucket()?;
    let now = Utc::now();
    let from = parse_time(&args.from, now)?;
    let to = match &args.to {
        Some(text) => parse_time(text, now)?,
        None => now,
    };
    if from >= to {
        return Err(Error::Invalid(format!(
            "--from {} is not before --to {}: give the earlier moment as --from",
            format_time(from),
            format_time(to)
        )));
    }
    let filter = KeyFilter::new(&args.include, &args.exclude)?;
    let account_prefix = args.account.prefix();
    let path = args.path.clone().unwrap_or_default();
    let aws = crate::region::for_bucket(&Aws::load(&ctx.aws).await?, &bucket).await;
    crate::central::require_account(&aws.s3(), &bucket, &args.account).await?;
    let request = ListRequest {
        bucket,
        prefix: format!("{account_prefix}{path}"),
        page_size: args.page_size,
        concurrency: args.list_concurrency as usize,
    };
    let spinner = crate::progress::spinner(ctx.progress_beside_data(), "versions");
    let counted = {
        let spinner = spinner.clone();
        list_versions(aws.s3(), request).inspect(move |_| spinner.inc(1))
    };
    let relative = |key: &str| key.strip_prefix(&account_prefix).unwrap_or(key).to_owned();
    let changes = diff_stream(counted, from, to, |key| filter.matches(&relative(key)));
    futures::pin_mut!(changes);
    let mut totals = Totals::default();
    while let Some(change) = changes.next().await {
        let change = change?;
        totals.add(&change);
        let rel = relative(&change.key);
        ctx.out.row(&ChangeRow::new(change, rel))?;
    }
    spinner.finish_and_clear();
    let account = args.account.to_string();
    let (from, to) = (format_time(from), format_time(to));
    if ctx.out.format() == OutputFormat::Json {
        ctx.out.json(&TotalsLine {
            account,
            path,
            from,
            to,
            totals,
        })?;
        return Ok(0);
    }
    if ctx.out.rows() > 0 {
        ctx.out.text("")?;
    }
    let t = &totals;
    ctx.out.text(&format!(
        "{account}/{path} from {from} to {to}: added {} ({}), changed {} ({} -> {}), deleted {} ({})",
        t.added,
        HumanBytes(t.added_bytes),
        t.changed,
        HumanBytes(t.changed_bytes_from),
        HumanBytes(t.changed_bytes_to),
        t.deleted,
        HumanBytes(t.deleted_bytes),
    ))?;
    if t.deleted > 0 {
        ctx.out.text(
            "note: deletes are shown as they are in central; restore ignores delete markers by \
             default, so deleted keys come back unless --respect-deletes",
        )?;
    }
    ctx.out.text(SOURCE_DELETES_NOTE)?;
    Ok(0)
}
