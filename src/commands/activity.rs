//! `s3central activity`: versions and delete markers per interval, bursts marked, and the last
//! quiet moment before the first burst as a ready `--at`; one listing pass.

use chrono::{Duration, Utc};
use futures::StreamExt;
use indicatif::HumanBytes;
use serde::Serialize;

use crate::activity::{
    bar, chart_rows, default_step, format_step, ActivityError, Grid, Report, Tally, MIN_EMPTY_RUN,
};
use crate::aws::Aws;
use crate::cli::{ActivityArgs, OutputFormat};
use crate::commands::Context;
use crate::error::{Error, Result};
use crate::filter::KeyFilter;
use crate::listing::{list_versions, ListRequest};
use crate::output::{Column, Row};
use crate::time::{format_time, parse_time};

/// Width of the bar column, in character cells (with the other columns: 80 in all).
const BAR_WIDTH: usize = 20;

/// The default window when `--since` is not given.
const DEFAULT_WINDOW_DAYS: i64 = 7;

/// One interval of the chart.
#[derive(Debug, Serialize)]
struct IntervalRow {
    start: String,
    end: String,
    versions: u64,
    delete_markers: u64,
    bytes: u64,
    burst: bool,
    #[serde(skip)]
    bar: String,
}

impl Row for IntervalRow {
    fn columns(&self) -> &'static [Column] {
        const COLUMNS: &[Column] = &[
            Column::left("START", 20),
            Column::right("VERSIONS", 8),
            Column::right("DELETES", 7),
            Column::right("SIZE", 10),
            Column::left("BURST", 5),
            Column::left("CHANGES", 0),
        ];
        COLUMNS
    }

    fn cells(&self) -> Vec<String> {
        vec![
            self.start.clone(),
            self.versions.to_string(),
            self.delete_markers.to_string(),
            HumanBytes(self.bytes).to_string(),
            if self.burst { "BURST" } else { "" }.to_owned(),
            self.bar.clone(),
        ]
    }
}

/// The last line in JSON mode: the window, totals, baseline and the first burst.
#[derive(Debug, Serialize)]
struct Summary {
    account: String,
    path: String,
    since: String,
    until: String,
    every_seconds: i64,
    intervals: usize,
    versions: u64,
    delete_markers: u64,
    bytes: u64,
    baseline_median: f64,
    baseline_mad: f64,
    burst_threshold: u64,
    bursts: usize,
    first_burst: Option<String>,
    last_quiet: Option<String>,
}

/// Runs `activity`; input is validated before the first AWS call.
pub async fn run(ctx: &mut Context, args: ActivityArgs) -> Result<u8> {
    let bucket = ctx.central_bucket()?;
    let now = Utc::now();
    let until = match &args.until {
        Some(text) => parse_time(text, now)?,
        None => now,
    };
    let since = match &args.since {
        Some(text) => parse_time(text, now)?,
        None => until - Duration::days(DEFAULT_WINDOW_DAYS),
    };
    let (step, every_text) = match args.every {
        Some(every) => {
            let d: std::time::Duration = every.into();
            let step = if d.subsec_nanos() == 0 {
                i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
            } else {
                0
            };
            (step, every.to_string())
        }
        None => {
            let step = default_step(until - since);
            (step, format_step(step))
        }
    };
    let grid = Grid::new(since, until, step, &every_text).map_err(invalid)?;
    let filter = KeyFilter::new(&args.include, &args.exclude)?;
    let account_prefix = args.account.prefix();
    let path = args.path.clone().unwrap_or_default();
    let aws = crate::region::for_bucket(&Aws::load(&ctx.aws).await?, &bucket).await;
    crate::central::require_account(&aws.s3(), &bucket, &args.account).await?;
    let request = ListRequest {
        bucket: bucket.clone(),
        prefix: format!("{account_prefix}{path}"),
        page_size: args.page_size,
        concurrency: args.list_concurrency as usize,
    };
    let spinner = crate::progress::spinner(ctx.progress, "versions");
    let entries = list_versions(aws.s3(), request);
    futures::pin_mut!(entries);
    let mut tally = Tally::new(grid);
    while let Some(entry) = entries.next().await {
        let entry = entry?;
        spinner.inc(1);
        let relative = entry
            .key
            .strip_prefix(&account_prefix)
            .unwrap_or(&entry.key);
        if filter.matches(relative) {
            tally.push(&entry);
        }
    }
    spinner.finish_and_clear();
    let report = tally.finish();
    print_report(ctx, &args, &path, &report)?;
    Ok(0)
}

/// Turns a refused window into the command's error.
fn invalid(e: ActivityError) -> Error {
    Error::Invalid(e.to_string())
}

/// Prints the chart (rows), then the baseline, the bursts and the last quiet moment.
fn print_report(ctx: &mut Context, args: &ActivityArgs, path: &str, r: &Report) -> Result<()> {
    let max = r.max_changes();
    let interval = |i: usize, b: &crate::activity::Bucket| IntervalRow {
        start: format_time(r.grid.start(i)),
        end: format_time(r.grid.start(i + 1)),
        versions: b.versions,
        delete_markers: b.delete_markers,
        bytes: b.bytes,
        burst: r.is_burst(i),
        bar: bar(b.changes(), max, BAR_WIDTH),
    };
    if ctx.out.format() == OutputFormat::Json {
        // Scripts get the regular grid: one line per interval.
        for (i, b) in r.buckets.iter().enumerate() {
            ctx.out.row(&interval(i, b))?;
        }
    } else {
        for rows in chart_rows(&r.buckets, MIN_EMPTY_RUN) {
            let (first, last) = (*rows.start(), *rows.end());
            let mut row = interval(first, &r.buckets[first]);
            if last > first {
                row.bar = format!(
                    "(no changes in {} intervals, until {})",
                    last - first + 1,
                    format_time(r.grid.start(last + 1))
                );
            }
            ctx.out.row(&row)?;
        }
    }
    let versions: u64 = r.buckets.iter().map(|b| b.versions).sum();
    let markers: u64 = r.buckets.iter().map(|b| b.delete_markers).sum();
    let bytes: u64 = r.buckets.iter().map(|b| b.bytes).sum();
    let first_burst = r.first_burst.map(|i| format_time(r.grid.start(i)));
    let last_quiet = r.last_quiet.map(format_time);
    let account = args.account.to_string();
    if ctx.out.format() == OutputFormat::Json {
        return ctx.out.json(&Summary {
            account,
            path: path.to_owned(),
            since: format_time(r.grid.start(0)),
            until: format_time(r.grid.start(r.grid.len())),
            every_seconds: r.grid.step(),
            intervals: r.grid.len(),
            versions,
            delete_markers: markers,
            bytes,
            baseline_median: r.baseline.median,
            baseline_mad: r.baseline.mad,
            burst_threshold: r.baseline.threshold,
            bursts: r.bursts(),
            first_burst,
            last_quiet,
        });
    }
    let b = &r.baseline;
    let out = &mut ctx.out;
    out.text(&format!(
        "\n{account}/{path} {} .. {}, every {}: {versions} versions ({}), {markers} delete markers",
        format_time(r.grid.start(0)),
        format_time(r.grid.start(r.grid.len())),
        format_step(r.grid.step()),
        HumanBytes(bytes),
    ))?;
    if b.active >= crate::activity::MIN_BASELINE_INTERVALS {
        out.text(&format!(
            "baseline: median {} changes per non-empty interval (MAD {}, {} of {} intervals non-empty); \
             a burst has {} or more",
            b.median,
            b.mad,
            b.active,
            r.grid.len(),
            b.threshold
        ))?;
    } else {
        out.text(&format!(
            "baseline: only {} of {} intervals non-empty, too few for a baseline; a burst has {} or more",
            b.active,
            r.grid.len(),
            b.threshold
        ))?;
    }
    let Some(first) = r.first_burst else {
        return out.text("no burst: no interval is far above the account's baseline");
    };
    out.text(&format!(
        "bursts: {} interval{}, the first at {} ({} changes)",
        r.bursts(),
        if r.bursts() == 1 { "" } else { "s" },
        format_time(r.grid.start(first)),
        r.buckets[first].changes()
    ))?;
    match r.last_quiet {
        Some(t) => {
            let at = format_time(t);
            let include = match path {
                p if !p.is_empty()
                    && p.ends_with('/')
                    && !p.contains(['*', '?', '[', ']', '{', '}', '\\', '\'']) =>
                {
                    format!(" --include '{p}**'")
                }
                _ => String::new(),
            };
            out.text(&format!(
                "last quiet moment before the first burst: {at}  \
                 (s3central restore --account {account} --at {at}{include})"
            ))?;
            out.text(&format!(
                "see what changed since: s3central diff --account {account}{} --from {at}",
                if path.is_empty() {
                    String::new()
                } else {
                    format!(" {}", shell_word(path))
                }
            ))
        }
        None => out.text(
            "last quiet moment before the first burst: none (nothing was written before it; \
             try an earlier --since)",
        ),
    }
}

/// A word as a POSIX shell reads it back: as is when plain, else in single quotes.
fn shell_word(s: &str) -> String {
    let plain = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+=:@%,".contains(c));
    if plain && !s.is_empty() {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::shell_word;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("logs/2026-11/"), "logs/2026-11/");
        assert_eq!(shell_word("my dir/"), "'my dir/'");
        assert_eq!(shell_word("it's/"), "'it'\\''s/'");
        assert_eq!(shell_word(""), "''");
    }
}
