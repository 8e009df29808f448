//! What `restore` tells the person running it: the dry-run list, the summary (with the command
//! that finishes an interrupted run), and the refusal of an account with nothing in central.

use chrono::{DateTime, Utc};
use indicatif::HumanBytes;
use serde::Serialize;

use crate::cli::{OutputFormat, RestoreArgs};
use crate::commands::Context;
use crate::error::Result;
use crate::restore::copy::CopyMode;
use crate::restore::plan::Outcome;
use crate::restore::{KeyReport, Summary};
use crate::time::format_time;

/// Keys a dry run lists in a table (all of them with `--output json`).
pub const DRY_RUN_SHOWN: usize = 20;

/// The first keys a dry run would copy, and how many more.
#[derive(Debug, Default)]
pub struct DryRunList {
    /// (relative key, target key, bytes) of the first [`DRY_RUN_SHOWN`] keys to copy.
    pub first: Vec<(String, String, u64)>,
    /// Keys to copy beyond those.
    pub more: u64,
}

impl DryRunList {
    /// Notes one key's fate: only keys that would be copied are listed.
    pub fn add(&mut self, key: &KeyReport) {
        if key.outcome != Outcome::WouldCopy {
            return;
        }
        if self.first.len() < DRY_RUN_SHOWN {
            self.first
                .push((key.key.clone(), key.target_key.clone(), key.bytes));
        } else {
            self.more += 1;
        }
    }
}

/// A per-key JSON line of a dry run.
#[derive(Serialize)]
pub struct KeyLine<'a> {
    /// Always `key`.
    pub record: &'static str,
    /// The key's fate.
    #[serde(flatten)]
    pub key: &'a KeyReport,
}

/// The summary JSON line.
#[derive(Serialize)]
struct SummaryLine<'a> {
    record: &'static str,
    dry_run: bool,
    at: String,
    to_bucket: &'a str,
    kms_key: &'a str,
    copy_mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    resume_command: Option<String>,
    #[serde(flatten)]
    summary: &'a Summary,
}

/// What the summary needs besides the totals.
#[derive(Debug)]
pub struct RunFacts<'a> {
    /// The central bucket.
    pub central: &'a str,
    /// The target bucket.
    pub target: &'a str,
    /// The resolved TIME.
    pub at: DateTime<Utc>,
    /// The KMS key restored objects are (or would be) encrypted with.
    pub kms_key: &'a str,
    /// How bytes travel.
    pub mode: CopyMode,
    /// The restore journal read and appended to, if any.
    pub journal: Option<&'a std::path::Path>,
}

/// The copy mode in words, for people.
fn mode_words(mode: CopyMode) -> &'static str {
    match mode {
        CopyMode::Server => "server-side (CopyObject; UploadPartCopy in parts above the threshold)",
        CopyMode::Stream => "streamed through this machine (GetObject -> PutObject / multipart)",
    }
}

/// The copy mode as one word, for JSON.
fn mode_word(mode: CopyMode) -> &'static str {
    match mode {
        CopyMode::Server => "server",
        CopyMode::Stream => "stream",
    }
}

/// Prints the closing summary: one JSON line, or a few lines for people.
pub fn print_summary(
    ctx: &mut Context,
    s: &Summary,
    args: &RestoreArgs,
    facts: &RunFacts<'_>,
    dry: &DryRunList,
) -> Result<()> {
    let resume = s.interrupted.then(|| {
        resume_command(
            &std::env::args().collect::<Vec<_>>(),
            facts.at,
            facts.journal,
        )
    });
    let at = facts.at;
    if ctx.out.format() == OutputFormat::Json {
        return ctx.out.json(&SummaryLine {
            record: "summary",
            dry_run: args.dry_run,
            at: format_time(at),
            to_bucket: facts.target,
            kms_key: facts.kms_key,
            copy_mode: mode_word(facts.mode),
            resume_command: resume,
            summary: s,
        });
    }
    if ctx.global.quiet {
        return Ok(());
    }
    let path = args.path.as_deref().unwrap_or("");
    let source = format!("s3://{}/{}{path}", facts.central, args.account()?.prefix());
    let nothing = s.copied + s.unchanged + s.would_copy + s.failed == 0;
    if nothing && !s.interrupted {
        let filtered = if args.include.is_empty() && args.exclude.is_empty() {
            ""
        } else {
            " matching --include/--exclude"
        };
        let hint = match &s.include_hint {
            Some((key, glob)) => format!(
                "; `*` stays within one /-separated segment, so it cannot match {key:?}: use `**/` to cross segments, e.g. --include '{glob}'"
            ),
            None => String::new(),
        };
        ctx.out.text(&format!(
            "nothing under {source}{filtered} existed at {}: nothing to restore{hint}",
            format_time(at)
        ))?;
    }
    let target = facts.target;
    let mut lines = if args.dry_run {
        vec![
            format!("dry run: {source} at {} -> s3://{target}/", format_time(at)),
            format!("  as         {}", s.identity),
            format!("  copy mode  {}", mode_words(facts.mode)),
            format!("  kms key    {}", facts.kms_key),
            format!(
                "  to copy    {:>10}  ({})",
                s.would_copy,
                HumanBytes(s.bytes)
            ),
            unchanged_line(s),
            format!(
                "  extra      {:>10}  (in the target, absent at TIME; left alone)",
                s.extra
            ),
            format!("  failed     {:>10}", s.failed),
        ]
    } else {
        let head = if s.interrupted {
            "INTERRUPTED restore of"
        } else {
            "restored"
        };
        vec![
            format!("{head} {source} at {} -> s3://{target}/", format_time(at)),
            format!("  as         {}", s.identity),
            format!("  kms key    {}", facts.kms_key),
            format!("  copied     {:>10}  ({})", s.copied, HumanBytes(s.bytes)),
            unchanged_line(s),
            format!(
                "  extra      {:>10}  (in the target, absent at TIME; left alone)",
                s.extra
            ),
            format!(
                "  failed     {:>10}{}",
                s.failed,
                if s.failed > 0 {
                    "  (see --report or -v)"
                } else {
                    ""
                }
            ),
            format!(
                "  {:.1} s, {}, {}, {} S3 requests",
                s.seconds,
                crate::progress::per_second(s.objects_per_second),
                crate::progress::mib_per_second(if s.seconds > 0.0 {
                    s.bytes as f64 / s.seconds
                } else {
                    0.0
                }),
                s.requests,
            ),
        ]
    };
    if args.verify.is_some() && !args.dry_run {
        let verified = s.verified_by_checksum + s.verified_by_bytes;
        let mut line = format!(
            "  verified   {verified:>10}  ({} by checksum, {} by bytes)",
            s.verified_by_checksum, s.verified_by_bytes
        );
        if s.unverified > 0 {
            line.push_str(&format!(
                "\n  UNVERIFIED {:>10}  (copied, but nothing could prove them equal: see --report, or --verify bytes)",
                s.unverified
            ));
        }
        lines.insert(lines.len().saturating_sub(1), line);
    }
    if s.inventory_ties > 0 {
        lines.push(format!(
            "  tied       {:>10}  (keys with versions in one second of the inventory: listed, S3's order chose)",
            s.inventory_ties
        ));
    }
    if args.dry_run && !dry.first.is_empty() {
        lines.push(String::new());
        lines.push("would copy:".into());
        let width = dry
            .first
            .iter()
            .map(|(k, _, _)| crate::output::printable(k).chars().count())
            .max()
            .unwrap_or(0);
        for (key, target_key, bytes) in &dry.first {
            lines.push(format!(
                "  {:<width$}  -> s3://{target}/{}  ({})",
                crate::output::printable(key),
                crate::output::printable(target_key),
                HumanBytes(*bytes)
            ));
        }
        if dry.more > 0 {
            lines.push(format!(
                "  ... and {} more (all of them: --output json)",
                dry.more
            ));
        }
    }
    if let Some(command) = resume {
        lines.push(String::new());
        lines.push(
            "interrupted: the copies in flight finished; to finish the restore (what is in place is not copied again), run:"
                .into(),
        );
        lines.push(format!("  {command}"));
    }
    if s.archived > 0 {
        lines.insert(
            3.min(lines.len()),
            if args.dry_run {
                format!(
                    "  archived   {:>10}  (GLACIER/DEEP_ARCHIVE: restored first with --archive-restore)",
                    s.archived
                )
            } else {
                format!(
                    "  archived   {:>10}  ({} restore(s) requested now, {} already in progress, {} ready, {} copied)",
                    s.archived, s.archive_requested, s.archive_in_progress, s.archive_ready, s.archive_copied
                )
            },
        );
    }
    for line in lines {
        ctx.out.text(&line)?;
    }
    Ok(())
}

/// The command line to run again to finish an interrupted restore: the same arguments, with
/// `--at` replaced by the absolute time it resolved to (a relative `--at '36h ago'` would mean
/// another moment by then) and `--journal` naming the journal this run wrote (another shell's
/// environment may point elsewhere, and copies the journal does not know would be made again),
/// each shell-quoted.
pub fn resume_command(
    argv: &[String],
    at: DateTime<Utc>,
    journal: Option<&std::path::Path>,
) -> String {
    let at = format_time(at);
    let mut out: Vec<String> = Vec::with_capacity(argv.len());
    let mut iter = argv.iter();
    while let Some(arg) = iter.next() {
        if arg == "--at" {
            out.push(arg.clone());
            if iter.next().is_some() {
                out.push(at.clone());
            }
        } else if arg.starts_with("--at=") {
            out.push(format!("--at={at}"));
        } else if arg == "--report" {
            // The interrupted run's report is kept: the resumed run writes the next file.
            out.push(arg.clone());
            if let Some(report) = iter.next() {
                out.push(next_report(report));
            }
        } else if let Some(report) = arg.strip_prefix("--report=") {
            out.push(format!("--report={}", next_report(report)));
        } else {
            out.push(arg.clone());
        }
    }
    let named = argv
        .iter()
        .any(|a| a == "--journal" || a.starts_with("--journal="));
    if let (Some(journal), false) = (journal, named) {
        out.push("--journal".to_owned());
        out.push(journal.display().to_string());
    }
    out.iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The report file of the run that resumes one that wrote `report`: `restore.jsonl` ->
/// `restore.resume-1.jsonl` -> `restore.resume-2.jsonl`, so no run's report is overwritten.
pub fn next_report(report: &str) -> String {
    if report == "-" {
        return report.to_owned();
    }
    let (dir, name) = match report.rsplit_once('/') {
        Some((dir, name)) => (format!("{dir}/"), name),
        None => (String::new(), report),
    };
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, format!(".{ext}")),
        _ => (name, String::new()),
    };
    let (base, n) = match stem.rsplit_once(".resume-") {
        Some((base, n)) if n.parse::<u32>().is_ok() => (base, n.parse::<u32>().unwrap_or(0)),
        _ => (stem, 0),
    };
    format!("{dir}{base}.resume-{}{ext}", n + 1)
}

/// Quotes one argument for a POSIX shell, leaving plain words as they are.
pub fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// The summary's "unchanged" line: how many keys were in place, and how many of those only an
/// equal SHA-256 proved; keys of the same size that nothing proved are said too (copied again).
fn unchanged_line(s: &Summary) -> String {
    let mut line = format!("  unchanged  {:>10}", s.unchanged);
    if s.unchanged_by_checksum > 0 {
        line.push_str(&format!(
            "  ({} proven by SHA-256)",
            s.unchanged_by_checksum
        ));
    }
    if s.unproven_same_size > 0 {
        line.push_str(&format!(
            "\n  unproven   {:>10}  (same size, another version, no equal SHA-256: copied)",
            s.unproven_same_size
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn argv(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_resumed_run_writes_the_next_report() {
        assert_eq!(next_report("restore.jsonl"), "restore.resume-1.jsonl");
        assert_eq!(
            next_report("restore.resume-1.jsonl"),
            "restore.resume-2.jsonl"
        );
        assert_eq!(next_report("/tmp/r/out"), "/tmp/r/out.resume-1");
        assert_eq!(next_report("/tmp/r.d/out"), "/tmp/r.d/out.resume-1");
        assert_eq!(next_report(".hidden"), ".hidden.resume-1");
        assert_eq!(next_report("a.resume-x.jsonl"), "a.resume-x.resume-1.jsonl");
        assert_eq!(next_report("-"), "-");
        let at = Utc.with_ymd_and_hms(2026, 11, 30, 14, 59, 59).unwrap();
        for (given, want) in [
            (vec!["--report", "r.jsonl"], "--report r.resume-1.jsonl"),
            (vec!["--report=r.jsonl"], "--report=r.resume-1.jsonl"),
        ] {
            let mut args = vec!["s3central", "restore", "--at", "1h"];
            args.extend(given);
            let got = resume_command(&argv(&args), at, None);
            assert!(got.ends_with(want), "{got}");
        }
    }

    #[test]
    fn resume_command_pins_the_resolved_time_and_quotes() {
        let at = Utc.with_ymd_and_hms(2026, 11, 30, 14, 59, 59).unwrap();
        let got = resume_command(
            &argv(&[
                "s3central",
                "--central-bucket",
                "backups",
                "restore",
                "--account",
                "111111111111",
                "--at",
                "36h ago",
                "--include",
                "db/**",
                "--to-prefix",
                "it's/",
            ]),
            at,
            None,
        );
        assert_eq!(
            got,
            "s3central --central-bucket backups restore --account 111111111111 --at \
             2026-11-30T14:59:59Z --include 'db/**' --to-prefix 'it'\\''s/'"
        );
        let got = resume_command(&argv(&["s3central", "restore", "--at=3d"]), at, None);
        assert_eq!(got, "s3central restore --at=2026-11-30T14:59:59Z");
        // The journal this run wrote is named, unless the command already names one.
        let journal = std::path::Path::new("/home/me/.local/state/s3central/journal/b k.tsv");
        let got = resume_command(
            &argv(&["s3central", "restore", "--at", "1h"]),
            at,
            Some(journal),
        );
        assert_eq!(
            got,
            "s3central restore --at 2026-11-30T14:59:59Z --journal \
             '/home/me/.local/state/s3central/journal/b k.tsv'"
        );
        let got = resume_command(
            &argv(&["s3central", "restore", "--journal=j.tsv"]),
            at,
            Some(journal),
        );
        assert_eq!(got, "s3central restore --journal=j.tsv");
    }

    #[test]
    fn shell_quote_leaves_plain_words() {
        assert_eq!(shell_quote("s3://b/k"), "s3://b/k");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("*.json"), "'*.json'");
    }

    #[test]
    fn dry_run_list_keeps_the_first_and_counts_the_rest() {
        let mut list = DryRunList::default();
        for i in 0..(DRY_RUN_SHOWN + 3) {
            list.add(&KeyReport {
                archive: None,
                evidence: None,
                verified: None,
                unverified: None,
                replaced_version_id: None,
                written_version_id: None,
                key: format!("k{i}"),
                version_id: "v".into(),
                target_key: format!("t/k{i}"),
                bytes: 1,
                outcome: Outcome::WouldCopy,
                requests: 0,
                error: None,
            });
        }
        list.add(&KeyReport {
            archive: None,
            evidence: None,
            verified: None,
            unverified: None,
            replaced_version_id: None,
            written_version_id: None,
            key: "same".into(),
            version_id: "v".into(),
            target_key: "t/same".into(),
            bytes: 1,
            outcome: Outcome::Unchanged,
            requests: 0,
            error: None,
        });
        assert_eq!(list.first.len(), DRY_RUN_SHOWN);
        assert_eq!(list.first[0].0, "k0");
        assert_eq!(list.more, 3);
    }
}
