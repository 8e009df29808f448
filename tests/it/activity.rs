//! `s3central activity` against a real server: a quiet history, a burst of overwrites and deletes
//! in one second, a busy neighbour account; exact counts per interval, the burst flag and the
//! printed `--at`, in JSON and in the table. Expected output is computed here from the server's
//! LastModified of each write.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::common::{
    cutoff, delete, json_lines, put, raw_versions, rfc3339, s3, s3central, sleep_past_second,
    unique_bucket, versioned_bucket,
};

/// The account under test, and a busy neighbour.
const A: &str = "111111111111";
const B: &str = "222222222222";

/// One write to account A: its version id, size (0 for markers) and whether it is a marker.
struct Write {
    version_id: String,
    size: u64,
    is_marker: bool,
}

/// Per second: (versions, delete markers, bytes).
type Counts = BTreeMap<i64, (u64, u64, u64)>;

fn parse(t: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(t)
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

/// The bar `activity` draws for `value` out of `max` in 20 cells of eighths (independent copy).
fn bar(value: u64, max: u64) -> String {
    if value == 0 {
        return String::new();
    }
    let eighths = ((value * 160) / max).max(1) as usize;
    let mut s = "█".repeat(eighths / 8);
    if eighths % 8 > 0 {
        s.push(['▏', '▎', '▍', '▌', '▋', '▊', '▉'][eighths % 8 - 1]);
    }
    s
}

/// The median of a non-empty list of numbers.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[tokio::test]
async fn burst_is_flagged_and_last_quiet_moment_is_a_ready_at() {
    let s3 = s3().await;
    let bucket = unique_bucket("activity");
    versioned_bucket(&s3, &bucket).await;
    let mut writes: Vec<Write> = Vec::new();
    // The window opens four seconds before the first write: empty seconds the table folds.
    let since = cutoff().await;
    let since =
        rfc3339(DateTime::from_timestamp(parse(&since).timestamp() - 4, 0).expect("in range"));
    // Six quiet seconds: one or two new keys each, one delete; a busy neighbour in one of them.
    let mut keys = Vec::new();
    for i in 0..6 {
        sleep_past_second().await;
        for j in 0..=(i % 2) {
            let key = format!("{A}/quiet/{i}-{j}.txt");
            let body = format!("quiet {i} {j}");
            writes.push(Write {
                version_id: put(&s3, &bucket, &key, &body).await,
                size: body.len() as u64,
                is_marker: false,
            });
            keys.push(key);
        }
        if i == 3 {
            writes.push(Write {
                version_id: delete(&s3, &bucket, &keys[0]).await,
                size: 0,
                is_marker: true,
            });
        }
        if i == 2 {
            for n in 0..15 {
                put(&s3, &bucket, &format!("{B}/n{n}"), "neighbour").await;
            }
        }
    }
    // The attack: eight overwrites and six deletes within one second.
    sleep_past_second().await;
    let mut burst_ids = Vec::new();
    for key in keys.iter().skip(1).take(8) {
        let body = "ENCRYPTED!ENCRYPTED!";
        let id = put(&s3, &bucket, key, body).await;
        burst_ids.push(id.clone());
        writes.push(Write {
            version_id: id,
            size: body.len() as u64,
            is_marker: false,
        });
    }
    for key in keys.iter().skip(3).take(6) {
        let id = delete(&s3, &bucket, key).await;
        burst_ids.push(id.clone());
        writes.push(Write {
            version_id: id,
            size: 0,
            is_marker: true,
        });
    }
    // Quiet again.
    sleep_past_second().await;
    let body = "after";
    writes.push(Write {
        version_id: put(&s3, &bucket, &format!("{A}/late.txt"), body).await,
        size: body.len() as u64,
        is_marker: false,
    });
    let until = cutoff().await;

    // What the server recorded, and the counts per second computed from it.
    let lm: HashMap<String, i64> = raw_versions(&s3, &bucket, &format!("{A}/"))
        .await
        .into_iter()
        .map(|v| (v.version_id, parse(&v.last_modified).timestamp()))
        .collect();
    assert_eq!(lm.len(), writes.len(), "server holds other versions of {A}");
    let burst_secs: std::collections::BTreeSet<i64> = burst_ids.iter().map(|id| lm[id]).collect();
    assert_eq!(
        burst_secs.len(),
        1,
        "test timing: the burst spread over seconds {burst_secs:?}"
    );
    let burst_sec = *burst_secs.iter().next().expect("one second");
    let mut counts = Counts::new();
    for w in &writes {
        let c = counts.entry(lm[&w.version_id]).or_default();
        if w.is_marker {
            c.1 += 1;
        } else {
            c.0 += 1;
            c.2 += w.size;
        }
    }
    assert_eq!(counts[&burst_sec], (8, 6, 160));
    let (first, last) = (parse(&since).timestamp(), parse(&until).timestamp());
    let quiet_at = rfc3339(
        DateTime::from_timestamp(
            *counts
                .range(..burst_sec)
                .next_back()
                .expect("quiet writes")
                .0,
            0,
        )
        .expect("in range"),
    );
    let t = |sec: i64| rfc3339(DateTime::from_timestamp(sec, 0).expect("in range"));

    // JSON: one line per second from --since to --until inclusive, then the summary.
    let args = [
        "--central-bucket",
        &bucket,
        "--output",
        "json",
        "activity",
        "--account",
        A,
        "--since",
        &since,
        "--until",
        &until,
        "--every",
        "1s",
    ];
    let got = json_lines(s3central(&args).success());
    let mut want: Vec<Value> = (first..=last)
        .map(|sec| {
            let (v, d, b) = counts.get(&sec).copied().unwrap_or_default();
            json!({
                "start": t(sec), "end": t(sec + 1), "versions": v, "delete_markers": d,
                "bytes": b, "burst": sec == burst_sec,
            })
        })
        .collect();
    let total = |f: fn(&(u64, u64, u64)) -> u64| counts.values().map(f).sum::<u64>();
    let active: Vec<f64> = counts.values().map(|c| (c.0 + c.1) as f64).collect();
    let m = median(active.clone());
    let mad = median(active.iter().map(|c| (c - m).abs()).collect());
    want.push(json!({
        "account": A, "path": "", "since": t(first), "until": t(last + 1), "every_seconds": 1,
        "intervals": last - first + 1, "versions": total(|c| c.0),
        "delete_markers": total(|c| c.1), "bytes": total(|c| c.2),
        "baseline_median": m, "baseline_mad": mad, "burst_threshold": 10, "bursts": 1,
        "first_burst": t(burst_sec), "last_quiet": quiet_at,
    }));
    assert_eq!(got, want, "activity --output json");

    // The table: the same counts, a bar scaled to the burst, and the ready --at.
    let table = s3central(
        &args[..2]
            .iter()
            .chain(&args[4..])
            .copied()
            .collect::<Vec<_>>(),
    );
    let mut lines = vec![format!(
        "{:<20}  {:>8}  {:>7}  {:>10}  {:<5}  CHANGES",
        "START", "VERSIONS", "DELETES", "SIZE", "BURST"
    )];
    let mut sec = first;
    while sec <= last {
        // Three or more seconds without a change are one row.
        let quiet = (sec..=last).take_while(|s| !counts.contains_key(s)).count() as i64;
        if quiet >= 3 {
            lines.push(format!(
                "{:<20}  {:>8}  {:>7}  {:>10}  {:<5}  (no changes in {quiet} intervals, until {})",
                t(sec),
                0,
                0,
                "0 B",
                "",
                t(sec + quiet)
            ));
            sec += quiet;
            continue;
        }
        let (v, d, b) = counts.get(&sec).copied().unwrap_or_default();
        sec += 1;
        let line = format!(
            "{:<20}  {v:>8}  {d:>7}  {:>10}  {:<5}  {}",
            t(sec - 1),
            format!("{b} B"),
            if sec - 1 == burst_sec { "BURST" } else { "" },
            bar(v + d, 14)
        );
        // No trailing spaces where the bar is empty.
        lines.push(line.trim_end().to_owned());
    }
    lines.push(String::new());
    lines.push(format!(
        "{A}/ {} .. {}, every 1s: {} versions ({} B), {} delete markers",
        t(first),
        t(last + 1),
        total(|c| c.0),
        total(|c| c.2),
        total(|c| c.1)
    ));
    lines.push(format!(
        "baseline: median {m} changes per non-empty interval (MAD {mad}, {} of {} intervals \
         non-empty); a burst has 10 or more",
        counts.len(),
        last - first + 1
    ));
    lines.push(format!(
        "bursts: 1 interval, the first at {} (14 changes)",
        t(burst_sec)
    ));
    lines.push(format!(
        "last quiet moment before the first burst: {quiet_at}  (s3central restore --account {A} \
         --at {quiet_at})"
    ));
    lines.push(format!(
        "see what changed since: s3central diff --account {A} --from {quiet_at}"
    ));
    let want_table = lines.join("\n") + "\n";
    assert_eq!(
        table.success(),
        want_table,
        "activity table\n--- got\n{}--- want\n{want_table}",
        table.stdout
    );
    assert!(
        table.stdout.contains("(no changes in "),
        "no folded run of empty seconds:\n{}",
        table.stdout
    );
    // The burst row's bar is full width; the quiet ones are short.
    assert!(table.stdout.contains(&"█".repeat(20)));

    // The printed --at really is the state before the attack: ls there shows no attacker bytes.
    let ls = json_lines(
        s3central(&[
            "--central-bucket",
            &bucket,
            "--output",
            "json",
            "ls",
            "--account",
            A,
            "--at",
            &quiet_at,
        ])
        .success(),
    );
    assert_eq!(ls.len(), 9, "all quiet keys are there at the quiet moment");
    assert!(ls.iter().all(|r| r["size"] != 20), "{ls:?}");

    // A narrower PATH sees only its keys; the neighbour account has no burst of A's.
    let late = json_lines(
        s3central(&[
            "--central-bucket",
            &bucket,
            "--output",
            "json",
            "activity",
            "--account",
            A,
            "late",
            "--since",
            &since,
            "--until",
            &until,
            "--every",
            "1s",
        ])
        .success(),
    );
    let summary = late.last().expect("summary");
    assert_eq!(
        (summary["versions"].clone(), summary["bursts"].clone()),
        (json!(1), json!(0))
    );
    assert_eq!(summary["last_quiet"], Value::Null);
    let neighbour = json_lines(
        s3central(&[
            "--central-bucket",
            &bucket,
            "--output",
            "json",
            "activity",
            "--account",
            B,
            "--since",
            &since,
            "--until",
            &until,
        ])
        .success(),
    );
    let summary = neighbour.last().expect("summary");
    assert_eq!(summary["versions"], json!(15));
    // Default --every for a window of a few seconds: 1s.
    assert_eq!(summary["every_seconds"], json!(1));
}

#[tokio::test]
async fn bad_windows_are_refused_with_one_line() {
    let bucket = unique_bucket("activity-bad");
    for (args, needle) in [
        (
            vec!["--since", "2000-01-01", "--every", "1s"],
            "intervals between --since and --until (at most 10000): use --every",
        ),
        (
            vec!["--since", "2026-01-02", "--until", "2026-01-01"],
            "is not before --until",
        ),
        (vec!["--every", "500ms"], "not a whole number of seconds"),
        (vec!["--since", "tomorrowish"], "cannot read time"),
    ] {
        let mut all = vec!["--central-bucket", &bucket, "activity", "--account", A];
        all.extend(args.iter().copied());
        let out = s3central(&all);
        assert_eq!(out.code, 2, "{all:?}: {out:?}");
        assert_eq!(out.stdout, "", "{all:?}");
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{all:?}: {}", out.stderr);
        assert!(lines[0].starts_with("error: "), "{}", lines[0]);
        assert!(lines[0].contains(needle), "{all:?}: {}", lines[0]);
    }
}
