//! What `restore` shows a person: PATH narrows the listing, a mistyped account is refused with
//! the accounts that exist, the dry-run list, the summary of an interrupted run with the command
//! that finishes it, and a progress line that leaves no stale lines on a terminal (a pty capture).

use std::time::Duration;

use crate::common::{
    all_versions, command, cutoff, endpoint, json_lines, put, run, s3, s3central, unique_bucket,
    versioned_bucket,
};
use crate::common::{kms_key, target_bucket};

/// The account these tests restore.
const ACCOUNT: &str = "333333333333";

/// The summary line of a `--output json` run.
fn summary(stdout: &str) -> serde_json::Value {
    json_lines(stdout)
        .into_iter()
        .find(|l| l["record"] == "summary")
        .unwrap_or_else(|| panic!("no summary in {stdout}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn path_restores_and_lists_only_that_prefix() {
    let s3 = s3().await;
    let central = unique_bucket("central");
    versioned_bucket(&s3, &central).await;
    for rel in ["db/a", "db/b/c", "dbx/d", "logs/e", "logs/f"] {
        put(&s3, &central, &format!("{ACCOUNT}/{rel}"), rel).await;
    }
    put(&s3, &central, &format!("{ACCOUNT}/db/a"), "second").await;
    let t = cutoff().await;
    let (alias, _) = kms_key("path").await;
    let target = target_bucket(&s3, "target", &alias).await;
    let out = s3central(&[
        "--central-bucket",
        &central,
        "--output",
        "json",
        "restore",
        "--account",
        ACCOUNT,
        "db/",
        "--at",
        &t,
        "--to-bucket",
        &target,
        "--to-prefix",
        "r/",
    ]);
    let s = summary(out.success());
    // Only db/ was listed: db/a's two versions and db/b/c; dbx/ and logs/ never were.
    assert_eq!(s["listed"], 3, "{}", out.stdout);
    assert_eq!(s["copied"], 2, "{}", out.stdout);
    let got: Vec<String> = all_versions(&s3, &target, "")
        .await
        .into_iter()
        .map(|(k, _, _)| k)
        .collect();
    // PATH is relative to the account prefix; target keys keep the path under --to-prefix.
    assert_eq!(got, ["r/db/a", "r/db/b/c"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn to_bucket_and_to_prefix_are_read_as_people_write_them() {
    let s3 = s3().await;
    let central = unique_bucket("central");
    versioned_bucket(&s3, &central).await;
    for rel in ["docs/readme.txt", "config/app.json"] {
        put(&s3, &central, &format!("{ACCOUNT}/{rel}"), rel).await;
    }
    let t = cutoff().await;
    let (alias, _) = kms_key("spelling").await;
    let target = target_bucket(&s3, "target", &alias).await;
    let restore = |to_bucket: &str, to_prefix: &str| {
        s3central(&[
            "--central-bucket",
            &central,
            "restore",
            "--account",
            "3333-3333-3333",
            "--at",
            &t,
            "--to-bucket",
            to_bucket,
            "--to-prefix",
            to_prefix,
        ])
    };
    // `restored` and `/restored` were `restoreddocs/readme.txt` and `/restoreddocs/...`: a folder.
    let url = format!("s3://{target}/");
    for (to_bucket, to_prefix) in [(url.as_str(), "/restored"), (target.as_str(), "restored")] {
        restore(to_bucket, to_prefix).success();
    }
    let got: Vec<String> = all_versions(&s3, &target, "")
        .await
        .into_iter()
        .map(|(key, _, _)| key)
        .collect();
    // The second run found both keys in place: one version each.
    assert_eq!(
        got,
        ["restored/config/app.json", "restored/docs/readme.txt"]
    );
    // A path inside the bucket, or an empty segment, is refused with the spelling that works.
    let inside = format!("s3://{target}/restored/");
    for (to_bucket, to_prefix, needle) in [
        (
            inside.as_str(),
            "x",
            format!("--to-bucket {target} --to-prefix restored/"),
        ),
        (
            target.as_str(),
            "a//b",
            "--to-prefix \"a//b\" has an empty".to_owned(),
        ),
    ] {
        let out = restore(to_bucket, to_prefix);
        assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
        assert!(out.stderr.contains(&needle), "{}", out.stderr);
    }
    assert_eq!(all_versions(&s3, &target, "").await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_include_that_matches_nothing_names_the_glob_that_would() {
    let s3 = s3().await;
    let central = unique_bucket("central");
    versioned_bucket(&s3, &central).await;
    put(&s3, &central, &format!("{ACCOUNT}/db/x.json"), "x").await;
    put(&s3, &central, &format!("{ACCOUNT}/db/y.txt"), "y").await;
    let t = cutoff().await;
    let (alias, _) = kms_key("hint").await;
    let target = target_bucket(&s3, "target", &alias).await;
    for extra in [&["--dry-run"][..], &[][..]] {
        let mut args = vec![
            "--central-bucket",
            &central,
            "restore",
            "--account",
            ACCOUNT,
            "--at",
            &t,
            "--to-bucket",
            &target,
            "--include",
            "*.json",
        ];
        args.extend_from_slice(extra);
        let out = s3central(&args);
        let stdout = out.success();
        assert!(
            stdout.contains("nothing to restore; `*` stays within one /-separated segment, so it cannot match \"db/x.json\": use `**/` to cross segments, e.g. --include '**/*.json'"),
            "{extra:?}: {stdout}"
        );
    }
    assert!(all_versions(&s3, &target, "").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_with_nothing_in_central_is_refused_naming_the_ones_there() {
    let s3 = s3().await;
    let central = unique_bucket("central");
    versioned_bucket(&s3, &central).await;
    put(&s3, &central, &format!("{ACCOUNT}/x"), "x").await;
    put(&s3, &central, "444444444444/y", "y").await;
    let t = cutoff().await;
    let (alias, _) = kms_key("typo").await;
    let target = target_bucket(&s3, "target", &alias).await;
    let restore = |account: &str, extra: &[&str]| {
        let mut args = vec![
            "--central-bucket",
            &central,
            "restore",
            "--account",
            account,
            "--at",
            &t,
            "--to-bucket",
            &target,
        ];
        args.extend_from_slice(extra);
        s3central(&args)
    };
    for extra in [&[][..], &["--dry-run"][..]] {
        let out = restore("333333333334", extra);
        assert_eq!(out.code, 2, "{extra:?}: {}{}", out.stdout, out.stderr);
        assert_eq!(out.stdout, "");
        assert!(
            out.stderr.contains("no account 333333333334 in central")
                && out.stderr.contains("333333333333, 444444444444"),
            "{}",
            out.stderr
        );
    }
    // A PATH with nothing under it in an existing account says so.
    let out = restore(ACCOUNT, &["nothing/"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("none under PATH \"nothing/\""),
        "{}",
        out.stderr
    );
    assert!(all_versions(&s3, &target, "").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_table_lists_the_first_keys_the_kms_key_and_the_copy_mode() {
    let s3 = s3().await;
    let central = unique_bucket("central");
    versioned_bucket(&s3, &central).await;
    for i in 0..25 {
        put(&s3, &central, &format!("{ACCOUNT}/k/{i:02}"), "data").await;
    }
    let t = cutoff().await;
    let (alias, arn) = kms_key("dry").await;
    let target = target_bucket(&s3, "target", &alias).await;
    let args = [
        "--central-bucket",
        &central,
        "restore",
        "--account",
        ACCOUNT,
        "--at",
        &t,
        "--to-bucket",
        &target,
        "--dry-run",
    ];
    let out = s3central(&args);
    let table = out.success();
    assert!(table.contains(&format!("  kms key    {arn}")), "{table}");
    assert!(table.contains("  copy mode  server-side"), "{table}");
    assert!(table.contains("would copy:"), "{table}");
    for i in 0..20 {
        assert!(
            table.contains(&format!(
                "  k/{i:02}  -> s3://{target}/{ACCOUNT}/k/{i:02}  (4 B)"
            )),
            "k/{i:02}: {table}"
        );
    }
    assert!(!table.contains("k/20 "), "{table}");
    assert!(
        table.contains("  ... and 5 more (all of them: --output json)"),
        "{table}"
    );
    let mut json = vec!["--output", "json"];
    json.extend_from_slice(&args);
    let out = s3central(&json);
    let lines = json_lines(out.success());
    let planned = lines
        .iter()
        .filter(|l| l["record"] == "key" && l["outcome"] == "would_copy")
        .count();
    assert_eq!(planned, 25, "{}", out.stdout);
    let s = summary(&out.stdout);
    assert_eq!(s["kms_key"], arn.as_str());
    assert_eq!(s["copy_mode"], "server");
    assert!(
        all_versions(&s3, &target, "").await.is_empty(),
        "dry run wrote"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_run_prints_the_command_that_finishes_it() {
    let s3 = s3().await;
    let central = unique_bucket("central");
    versioned_bucket(&s3, &central).await;
    for i in 0..80 {
        put(
            &s3,
            &central,
            &format!("{ACCOUNT}/c/{i:03}"),
            format!("{i}").repeat(300),
        )
        .await;
    }
    // A relative --at: the printed command must carry the absolute moment it resolved to.
    crate::common::sleep_past_second().await;
    let (alias, _) = kms_key("resume").await;
    let target = target_bucket(&s3, "target", &alias).await;
    let reports = tempfile::tempdir().expect("temp dir");
    let report = reports.path().join("r.jsonl");
    let report = report.to_str().expect("path");
    let args = [
        "--central-bucket",
        &central,
        "restore",
        "--account",
        ACCOUNT,
        "--at",
        "0s ago",
        "--to-bucket",
        &target,
        "--concurrency",
        "1",
        "--report",
        report,
    ];
    let child = command(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while all_versions(&s3, &target, "").await.len() < 5 {
        assert!(std::time::Instant::now() < deadline, "no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(status.success());
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(130), "{stdout}");
    assert!(stdout.starts_with("INTERRUPTED restore of"), "{stdout}");
    let resume = stdout
        .lines()
        .skip_while(|l| !l.starts_with("interrupted:"))
        .nth(1)
        .unwrap_or_else(|| panic!("no command to finish: {stdout}"))
        .trim()
        .to_owned();
    assert!(!resume.contains("0s ago"), "{resume}");
    let at = resume
        .split(" --at ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no --at in {resume}"));
    chrono::DateTime::parse_from_rfc3339(at).unwrap_or_else(|e| panic!("{at}: {e}"));
    // The printed command, run as printed, finishes the restore.
    let finish = run({
        let mut sh = std::process::Command::new("sh");
        sh.arg("-c")
            .arg(&resume)
            .env("AWS_EC2_METADATA_DISABLED", "true");
        sh
    });
    let rest = finish.success();
    assert!(rest.starts_with("restored "), "{rest}");
    assert_eq!(all_versions(&s3, &target, "").await.len(), 80);
    // The interrupted run's report is kept; the resumed run wrote the next file.
    let copied = |path: &std::path::Path| {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        json_lines(&text)
            .into_iter()
            .filter(|l| l["outcome"] == "copied")
            .count()
    };
    let first = copied(&reports.path().join("r.jsonl"));
    let second = copied(&reports.path().join("r.resume-1.jsonl"));
    assert!(first >= 5, "{first}");
    assert_eq!(first + second, 80, "{first} + {second}");
}

/// `script` running `restore --account ACCOUNT --at AT --to-bucket TARGET --concurrency 1 | cat`
/// on a pty of `size` (columns, rows): stderr is the terminal, so the bar is drawn; stdout goes
/// through a pipe to cat, as to grep. What the terminal received is written to `capture`.
fn restore_on_a_pty(
    size: (u16, u16),
    central: &str,
    at: &str,
    target: &str,
    capture: &std::path::Path,
) -> std::process::Command {
    let bin = env!("CARGO_BIN_EXE_s3central");
    let inner = format!(
        "stty cols {} rows {}; {bin} --endpoint-url {} --central-bucket {central} restore \
         --account {ACCOUNT} --at {at} --to-bucket {target} --concurrency 1 | cat",
        size.0,
        size.1,
        endpoint()
    );
    let mut script = std::process::Command::new("script");
    script
        .args(["-qfec", &inner])
        .arg(capture)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("COLUMNS", size.0.to_string())
        .env_remove("S3CENTRAL_NO_PROGRESS")
        .env_remove("S3CENTRAL_QUIET")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    script
}

/// Replays what a terminal shows for the bytes written to it (the escapes indicatif and the
/// console crate use: CR, LF, cursor up/down, clear line, clear to end of screen).
fn screen(raw: &str) -> Vec<String> {
    let mut lines: Vec<Vec<char>> = vec![Vec::new()];
    let (mut row, mut col) = (0usize, 0usize);
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => col = 0,
            '\n' => {
                row += 1;
                col = 0;
                if lines.len() <= row {
                    lines.push(Vec::new());
                }
            }
            '\x1b' => {
                if chars.peek() != Some(&'[') {
                    chars.next();
                    continue;
                }
                chars.next();
                let mut params = String::new();
                let mut cmd = ' ';
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() || c == '~' {
                        cmd = c;
                        break;
                    }
                    params.push(c);
                }
                let n: usize = params.trim_start_matches('?').parse().unwrap_or(0);
                match cmd {
                    'A' => row = row.saturating_sub(n.max(1)),
                    'B' => {
                        row += n.max(1);
                        while lines.len() <= row {
                            lines.push(Vec::new());
                        }
                    }
                    'K' => match n {
                        2 => lines[row].clear(),
                        1 => lines[row].iter_mut().take(col).for_each(|c| *c = ' '),
                        _ => lines[row].truncate(col),
                    },
                    'J' => {
                        lines[row].truncate(col);
                        lines.truncate(row + 1);
                    }
                    'G' => col = n.saturating_sub(1),
                    'C' => col += n.max(1),
                    'D' => col = col.saturating_sub(n.max(1)),
                    _ => {}
                }
            }
            c if c.is_control() => {}
            c => {
                let line = &mut lines[row];
                while line.len() < col {
                    line.push(' ');
                }
                if col < line.len() {
                    line[col] = c;
                } else {
                    line.push(c);
                }
                col += 1;
            }
        }
    }
    lines
        .into_iter()
        .map(|l| l.into_iter().collect::<String>().trim_end().to_owned())
        .collect()
}

#[test]
fn the_screen_model_replays_a_redrawn_line() {
    let raw = "a\r\x1b[2Kb\r\x1b[2K\nline\r\n\x1b[1A\x1b[2Kover\n";
    assert_eq!(screen(raw), ["", "over", ""]);
}

#[tokio::test(flavor = "multi_thread")]
async fn progress_on_a_terminal_leaves_no_stale_lines_when_stdout_is_piped() {
    let s3 = s3().await;
    let central = unique_bucket("central");
    versioned_bucket(&s3, &central).await;
    for i in 0..150 {
        put(
            &s3,
            &central,
            &format!("{ACCOUNT}/p/{i:03}"),
            "x".repeat(100),
        )
        .await;
    }
    let t = cutoff().await;
    let (alias, _) = kms_key("pty").await;
    let target = target_bucket(&s3, "target", &alias).await;
    let capture = tempfile::NamedTempFile::new().expect("temp file");
    let status = restore_on_a_pty((200, 40), &central, &t, &target, capture.path())
        .status()
        .expect("script (util-linux)");
    let raw = std::fs::read_to_string(capture.path()).expect("capture");
    assert!(status.success(), "{raw}");
    // The bar was drawn, with its counters and an estimate.
    assert!(
        raw.contains(" listed") && raw.contains(" keys | copied ") && raw.contains("| eta "),
        "no progress line was drawn: {raw:?}"
    );
    let shown: Vec<String> = screen(&raw)
        .into_iter()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("Script "))
        .collect();
    assert!(
        shown.iter().all(|l| !l.contains(" keys | copied ")),
        "a stale progress line is left on the screen:\n{}",
        shown.join("\n")
    );
    assert!(shown[0].starts_with("restored "), "{}", shown.join("\n"));
    assert!(
        shown
            .iter()
            .any(|l| l.starts_with("  copied") && l.contains("150")),
        "{}",
        shown.join("\n")
    );
    assert_eq!(all_versions(&s3, &target, "").await.len(), 150);
}

/// The process whose command line holds every one of `words` (polled until it appears).
fn pid_of(words: &[&str]) -> u32 {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let ours = args.first().is_some_and(|a| a.ends_with("s3central"));
            if ours && words.iter().all(|w| args.iter().any(|a| a == w)) {
                return pid;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no process with {words:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What each redraw wrote on one terminal line: the text between line starts, escapes removed.
fn drawn_lines(raw: &str) -> Vec<String> {
    let mut plain = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() || c == '~' {
                        break;
                    }
                }
            } else {
                chars.next();
            }
            continue;
        }
        plain.push(c);
    }
    plain.split(['\r', '\n']).map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn progress_fits_an_80_column_terminal_and_ctrl_c_leaves_no_half_line() {
    let s3 = s3().await;
    let central = unique_bucket("central");
    versioned_bucket(&s3, &central).await;
    for i in 0..120 {
        put(
            &s3,
            &central,
            &format!("{ACCOUNT}/w/{i:03}"),
            "x".repeat(100),
        )
        .await;
    }
    let t = cutoff().await;
    let (alias, _) = kms_key("narrow").await;
    let target = target_bucket(&s3, "target", &alias).await;
    let capture = tempfile::NamedTempFile::new().expect("temp file");
    let child = restore_on_a_pty((80, 24), &central, &t, &target, capture.path())
        .spawn()
        .expect("script (util-linux)");
    let pid = pid_of(&["restore", &central]);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while all_versions(&s3, &target, "").await.len() < 10 {
        assert!(std::time::Instant::now() < deadline, "no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill -INT");
    assert!(status.success());
    // (The pipeline's status is cat's; the summary below says the run was interrupted.)
    child.wait_with_output().expect("wait");
    let raw = std::fs::read_to_string(capture.path()).expect("capture");
    assert!(
        raw.contains(" keys | copied "),
        "no progress line was drawn: {raw:?}"
    );
    // Every redraw fits the 80 columns (it was about 150 and wrapped).
    for line in drawn_lines(&raw).iter().filter(|l| l.contains(" keys | ")) {
        assert!(
            line.chars().count() <= 80,
            "{} columns: {line:?}",
            line.chars().count()
        );
    }
    let shown: Vec<String> = screen(&raw)
        .into_iter()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("Script "))
        .collect();
    assert!(
        shown.iter().all(|l| !l.contains(" keys | ")),
        "a stale progress line is left on the screen:\n{}",
        shown.join("\n")
    );
    assert!(
        shown
            .iter()
            .any(|l| l.starts_with("INTERRUPTED restore of")),
        "{}",
        shown.join("\n")
    );
}

/// Issue 19, finding 6: a KMS key or bucket the writing identity cannot find is named with that
/// identity's ARN and the options that choose another, whichever identity it was.
#[tokio::test(flavor = "multi_thread")]
async fn not_found_for_the_writer_names_the_writer_and_the_options() {
    let s3 = crate::common::s3().await;
    let central = crate::common::unique_bucket("central");
    crate::common::versioned_bucket(&s3, &central).await;
    crate::common::put(&s3, &central, &format!("{ACCOUNT}/a.txt"), "a").await;
    let at = crate::common::cutoff().await;
    let (alias, _) = kms_key("writer-named").await;
    let target = target_bucket(&s3, "writer-named", &alias).await;
    let role = "arn:aws:iam::444455556666:role/OrganizationAccountAccessRole";
    let base = [
        "--central-bucket",
        central.as_str(),
        "restore",
        "--account",
        ACCOUNT,
        "--at",
        at.as_str(),
        "--to-bucket",
        target.as_str(),
        "--kms-key",
        "alias/does-not-exist-anywhere",
    ];
    let as_role = {
        let mut a = base.to_vec();
        a.extend(["--target-role-arn", role]);
        crate::common::s3central(&a)
    };
    assert_eq!(as_role.code, 2, "{as_role:?}");
    let line = as_role.stderr.trim();
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(line.contains("not found"), "{line}");
    assert!(line.contains(&format!("as {role}")), "{line}");
    assert!(line.contains("--target-role-arn"), "{line}");
    let as_caller = crate::common::s3central(&base);
    assert_eq!(as_caller.code, 2, "{as_caller:?}");
    let line = as_caller.stderr.trim();
    assert!(line.contains("as arn:aws:"), "{line}");
    assert!(
        line.contains("--target-role-arn or --target-profile"),
        "{line}"
    );
    assert!(crate::common::all_versions(&s3, &target, "")
        .await
        .is_empty());
}
