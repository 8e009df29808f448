//! Bad input is refused with exit code 2 and one `error:` line, before anything is written; help
//! and the shell completion scripts kept in `completions/`.

use std::path::Path;

use aws_sdk_s3::Client;

use crate::common::{
    all_versions, bare_command, bucket_exists, command, put, run, s3, s3central, unique_bucket,
    versioned_bucket, Output,
};

/// The account the tests ask for.
const A: &str = "111111111111";

/// Asserts a refusal: exit code 2, nothing on stdout, one stderr line starting with `error` and
/// containing every needle.
fn assert_refused(out: &Output, needles: &[&str], what: &str) {
    let shown = format!(
        "{what}\n--- exit code {}\n--- stdout\n{}--- stderr\n{}",
        out.code, out.stdout, out.stderr
    );
    assert_eq!(out.code, 2, "{shown}");
    assert_eq!(out.stdout, "", "{shown}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "stderr must be exactly one line: {shown}");
    assert!(lines[0].starts_with("error"), "{shown}");
    for needle in needles {
        assert!(
            lines[0].contains(needle),
            "no {needle:?} in the error: {shown}"
        );
    }
}

/// A central bucket with a little history, and a snapshot of it to compare after a refusal.
struct Central {
    s3: Client,
    bucket: String,
    before: Vec<(String, String, bool)>,
}

impl Central {
    /// Makes the bucket, writes a few versions under two accounts, snapshots it.
    async fn new(prefix: &str) -> Central {
        let s3 = s3().await;
        let bucket = unique_bucket(prefix);
        versioned_bucket(&s3, &bucket).await;
        for key in ["111111111111/a", "111111111111/a", "222222222222/b"] {
            put(&s3, &bucket, key, "data").await;
        }
        crate::common::delete(&s3, &bucket, "111111111111/a").await;
        let before = all_versions(&s3, &bucket, "").await;
        assert_eq!(before.len(), 4);
        Central { s3, bucket, before }
    }

    /// Asserts the bucket holds exactly the versions it held before.
    async fn assert_unchanged(&self, what: &str) {
        let after = all_versions(&self.s3, &self.bucket, "").await;
        assert_eq!(after, self.before, "{what} changed the central bucket");
    }

    /// Runs `ls` on this bucket against the test server and asserts a refusal naming `needles`,
    /// then that the bucket did not change.
    async fn refuses(&self, ls_args: &[&str], needles: &[&str]) {
        let mut args = vec!["--central-bucket", &self.bucket, "ls"];
        args.extend_from_slice(ls_args);
        let what = format!("s3central {}", args.join(" "));
        assert_refused(&s3central(&args), needles, &what);
        self.assert_unchanged(&what).await;
    }
}

#[tokio::test]
async fn account_id_with_11_digits_is_refused() {
    let c = Central::new("cli-acct11").await;
    c.refuses(
        &["--account", "11111111111"],
        &["11111111111", "--account", "12 digits"],
    )
    .await;
}

#[tokio::test]
async fn account_id_with_13_digits_is_refused() {
    let c = Central::new("cli-acct13").await;
    c.refuses(
        &["--account", "1111111111111"],
        &["1111111111111", "--account", "12 digits"],
    )
    .await;
}

#[tokio::test]
async fn account_id_with_letters_is_refused() {
    let c = Central::new("cli-acct-letters").await;
    for bad in ["11111111111a", "abcdefghijkl", "1111-1111-11"] {
        c.refuses(&["--account", bad], &[bad, "--account", "12 digits"])
            .await;
    }
}

#[tokio::test]
async fn unreadable_at_is_refused() {
    let c = Central::new("cli-at-garbage").await;
    for bad in ["garbage", "yesterday", "2026-13-01", "3d from now"] {
        c.refuses(
            &["--account", A, "--at", bad],
            &[bad, "cannot read time", "RFC 3339"],
        )
        .await;
    }
}

#[tokio::test]
async fn future_at_is_refused() {
    let c = Central::new("cli-at-future").await;
    for bad in ["2999-01-01T00:00:00Z", "2999-01-01"] {
        c.refuses(&["--account", A, "--at", bad], &[bad, "in the future"])
            .await;
    }
}

#[tokio::test]
async fn zoneless_at_is_refused() {
    let c = Central::new("cli-at-zoneless").await;
    for bad in ["2026-01-01T12:00:00", "2026-01-01 12:00"] {
        c.refuses(&["--account", A, "--at", bad], &[bad, "no time zone"])
            .await;
    }
}

#[tokio::test]
async fn invalid_glob_is_refused() {
    let c = Central::new("cli-glob").await;
    c.refuses(&["--account", A, "--include", "a["], &["--include", "a["])
        .await;
    c.refuses(&["--account", A, "--exclude", "{a"], &["--exclude", "{a"])
        .await;
    c.refuses(
        &["--account", A, "--include", "*", "--include", ""],
        &["--include", "empty"],
    )
    .await;
}

#[test]
fn missing_central_bucket_is_refused() {
    for args in [
        vec!["ls"],
        vec!["ls", "--summary"],
        vec!["ls", "--account", A],
        vec!["--central-bucket", "", "ls", "--account", A],
    ] {
        let mut cmd = command(&args);
        cmd.env_remove("S3CENTRAL_BUCKET");
        assert_refused(
            &run(cmd),
            &["central bucket", "--central-bucket", "S3CENTRAL_BUCKET"],
            &format!("{args:?} without a central bucket"),
        );
    }
}

#[tokio::test]
async fn nonexistent_bucket_is_refused_and_not_created() {
    let s3 = s3().await;
    let bucket = unique_bucket("cli-missing");
    for ls_args in [
        vec![],
        vec!["--summary"],
        vec!["--account", A],
        vec!["--account", A, "--versions"],
    ] {
        let mut args = vec!["--central-bucket", &bucket, "ls"];
        args.extend(ls_args.iter().copied());
        assert_refused(
            &s3central(&args),
            &[&bucket, "does not exist", "--central-bucket"],
            &format!("{args:?}"),
        );
    }
    assert!(!bucket_exists(&s3, &bucket).await, "{bucket} was created");
}

/// Every command, and every identity path of restore (the caller, a role given on the command
/// line, the account's restore role from the config), with its arguments after the global ones.
fn every_command(config: &str) -> Vec<Vec<String>> {
    let inventory = "s3://inventory-bucket/central/all/2026-11-01T00-00Z/manifest.json";
    let role = "arn:aws:iam::111111111111:role/incident";
    [
        vec!["ls"],
        vec!["ls", "--account", A],
        vec!["activity", "--account", A],
        vec!["diff", "--account", A, "--from", "-2h"],
        vec![
            "restore",
            "--account",
            A,
            "--at",
            "-1h",
            "--to-bucket",
            "target-bucket",
        ],
        vec![
            "restore",
            "--account",
            A,
            "--at",
            "-1h",
            "--to-bucket",
            "target-bucket",
            "--target-role-arn",
            role,
            "--inventory",
            inventory,
        ],
        vec![
            "restore",
            "--account",
            A,
            "--at",
            "-1h",
            "--config",
            config,
            "--inventory",
            inventory,
        ],
        vec!["status", "--config", config],
        vec!["setup", "--dry-run", "--config", config],
    ]
    .into_iter()
    .map(|args| args.into_iter().map(str::to_owned).collect())
    .collect()
}

/// A config naming the central bucket and account `A`, for `every_command`.
fn config_for(central: &str) -> tempfile::NamedTempFile {
    let config = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(
        config.path(),
        format!("[central]\nbucket = \"{central}\"\norg_id = \"o-abcdefghij\"\n\n[[source]]\naccount = \"{A}\"\nbucket = \"source-bucket-a\"\n"),
    )
    .expect("write config");
    config
}

#[tokio::test]
async fn unreachable_endpoint_is_refused() {
    let c = Central::new("cli-unreachable").await;
    let dead = format!("http://127.0.0.1:{}", crate::common::closed_loopback_port());
    let config = config_for(&c.bucket);
    for command_args in every_command(config.path().to_str().expect("path")) {
        let mut args = vec!["--endpoint-url", &dead, "--central-bucket", &c.bucket];
        args.extend(command_args.iter().map(String::as_str));
        let mut cmd = bare_command(&args);
        cmd.env_remove("AWS_ENDPOINT_URL");
        assert_refused(
            &run(cmd),
            &["cannot reach", "--endpoint-url"],
            &format!("{args:?}"),
        );
    }
    c.assert_unchanged("an unreachable endpoint").await;
}

#[tokio::test]
async fn missing_credentials_are_refused() {
    let c = Central::new("cli-no-creds").await;
    let config = tempfile::NamedTempFile::new().expect("temp file");
    let credentials = tempfile::NamedTempFile::new().expect("temp file");
    let s3central_config = config_for(&c.bucket);
    for command_args in every_command(s3central_config.path().to_str().expect("path")) {
        let mut args = vec!["--central-bucket", &c.bucket];
        args.extend(command_args.iter().map(String::as_str));
        let mut cmd = command(&args);
        for var in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_ROLE_ARN",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("AWS_CONFIG_FILE", config.path())
            .env("AWS_SHARED_CREDENTIALS_FILE", credentials.path());
        assert_refused(
            &run(cmd),
            &["no AWS credentials", "AWS_ACCESS_KEY_ID"],
            &format!("{args:?} without credentials"),
        );
    }
    c.assert_unchanged("missing credentials").await;
}

#[tokio::test]
async fn an_account_central_does_not_hold_is_refused_by_every_browsing_command() {
    let c = Central::new("cli-unknown-account").await;
    for command_args in [
        vec!["ls", "--account", "333333333333"],
        vec!["activity", "--account", "333333333333"],
        vec!["diff", "--account", "3333-3333-3333", "--from", "-1h"],
    ] {
        let mut args = vec!["--central-bucket", &c.bucket];
        args.extend(command_args.iter().copied());
        assert_refused(
            &s3central(&args),
            &[
                "no account 333333333333 in central",
                "it holds 111111111111, 222222222222",
            ],
            &format!("{args:?}"),
        );
    }
    c.assert_unchanged("an unknown account").await;
}

#[tokio::test]
async fn conflicting_or_malformed_options_are_refused() {
    let c = Central::new("cli-usage").await;
    let cases: &[(&[&str], &[&str])] = &[
        (&["--account", A, "--versions", "--at", "now"], &["--at"]),
        (&["logs/"], &["--account"]),
        (&["--at", "now"], &["--account"]),
        (&["--versions"], &["--account"]),
        (&["--include", "*"], &["--account"]),
        (&["--summary", "--account", A], &["--summary"]),
        (&["--account", A, "--page-size", "0"], &["--page-size"]),
        (&["--account", A, "--page-size", "1001"], &["--page-size"]),
        (&["--account", A, "--page-size", "x"], &["--page-size"]),
        (&["--account"], &["--account"]),
        (&["--account", A, "a/", "b/"], &["b/"]),
        (&["--bogus"], &["--bogus"]),
    ];
    for (args, needles) in cases {
        c.refuses(args, needles).await;
    }
    let out = s3central(&["--central-bucket", &c.bucket, "--output", "yaml", "ls"]);
    assert_refused(&out, &["yaml", "--output"], "--output yaml");
}

#[test]
fn help_exits_0_and_mentions_ls() {
    let out = run(bare_command(&["--help"]));
    let help = out.success();
    assert!(
        help.lines().any(|l| l.trim_start().starts_with("ls ")),
        "no ls command in --help: {help}"
    );
    assert!(out.stdout.contains("--central-bucket"), "{}", out.stdout);
    assert_eq!(out.stderr, "");
    let out = run(bare_command(&["ls", "--help"]));
    for option in [
        "--account",
        "--at",
        "--versions",
        "--include",
        "--exclude",
        "--summary",
    ] {
        assert!(out.success().contains(option), "ls --help lacks {option}");
    }
}

/// Each shell clap_complete supports, and the file name `completions SHELL --dir` writes.
const SHELLS: [(&str, &str); 5] = [
    ("bash", "s3central.bash"),
    ("zsh", "_s3central"),
    ("fish", "s3central.fish"),
    ("powershell", "_s3central.ps1"),
    ("elvish", "s3central.elv"),
];

#[test]
fn completions_in_the_repo_are_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    let scratch = tempfile::tempdir().expect("temp dir");
    let mut stale = Vec::new();
    for (shell, file) in SHELLS {
        let printed = run(bare_command(&["completions", shell]));
        let script = printed.success();
        assert!(script.contains("s3central"), "{shell}: {script}");
        // `--dir` writes the same script under the name listed above.
        let scratch_dir = scratch.path().to_str().expect("UTF-8 temp dir");
        run(bare_command(&["completions", shell, "--dir", scratch_dir])).success();
        let written = std::fs::read_to_string(scratch.path().join(file))
            .unwrap_or_else(|e| panic!("{shell}: --dir did not write {file}: {e}"));
        assert_eq!(written, script, "{shell}: --dir and stdout differ");
        match std::fs::read_to_string(dir.join(file)) {
            Ok(kept) if kept == script => {}
            Ok(_) => stale.push(format!("completions/{file} is out of date")),
            Err(e) => stale.push(format!("completions/{file}: {e}")),
        }
    }
    assert!(
        stale.is_empty(),
        "{}\nregenerate them from the repository root with:\n  cargo build && for shell in bash \
         zsh fish powershell elvish; do target/debug/s3central completions \"$shell\" --dir \
         completions; done",
        stale.join("\n")
    );
}

/// Where a heading line (`Options:`, `Global options:`) starts in a help text.
fn heading(help: &str, name: &str) -> Option<usize> {
    help.lines()
        .scan(0usize, |at, line| {
            let start = *at;
            *at += line.len() + 1;
            Some((start, line))
        })
        .find(|(_, line)| *line == name)
        .map(|(start, _)| start)
}

#[test]
fn each_command_shows_its_own_options_and_points_to_the_global_ones() {
    let top = run(bare_command(&["--help"]));
    let top = top.success();
    let global = heading(top, "Global options:").unwrap_or_else(|| panic!("{top}"));
    for option in [
        "--central-bucket",
        "--endpoint-url",
        "--output",
        "--no-progress",
    ] {
        assert!(
            top[global..].contains(option),
            "--help: {option} not under Global options\n{top}"
        );
    }
    for (command, own) in [
        ("restore", ["--account", "--at", "--to-bucket", "--dry-run"]),
        (
            "ls",
            ["--account", "--at", "--versions", "--respect-deletes"],
        ),
        ("diff", ["--account", "--from", "--to", "--include"]),
    ] {
        for flag in ["--help", "-h"] {
            let out = run(bare_command(&[command, flag]));
            let help = out.success();
            let options = heading(help, "Options:").unwrap_or_else(|| panic!("{help}"));
            for option in own {
                assert!(
                    help[options..].lines().any(|l| l
                        .split_whitespace()
                        .any(|w| w.trim_end_matches(',') == option)),
                    "{command} {flag}: {option} not among its own options\n{help}"
                );
            }
            // The global options are said once, in `s3central --help`: here only a pointer.
            assert_eq!(
                heading(help, "Global options:"),
                None,
                "{command} {flag}\n{help}"
            );
            for option in [
                "--endpoint-url",
                "--max-attempts",
                "--retry-mode",
                "--no-progress",
            ] {
                assert!(
                    !help
                        .lines()
                        .any(|l| l.split_whitespace().next() == Some(option)),
                    "{command} {flag}: {option} repeated\n{help}"
                );
            }
            assert!(
                help.contains("see s3central --help"),
                "{command} {flag}\n{help}"
            );
        }
    }
    // Still accepted after the subcommand.
    let out = run(bare_command(&["ls", "--output", "yaml"]));
    assert!(out.stderr.contains("--output"), "{}", out.stderr);
}

#[test]
fn restore_help_lists_the_exit_codes() {
    for flag in ["--help", "-h"] {
        let out = run(bare_command(&["restore", flag]));
        let help = out.success();
        let codes = &help[help.find("Exit codes:").unwrap_or_else(|| panic!("{help}"))..];
        for code in ["0 ", "1 ", "2 ", "130 "] {
            assert!(
                codes.lines().any(|l| l.trim_start().starts_with(code)),
                "restore {flag}: no exit code {code:?}\n{codes}"
            );
        }
        assert!(codes.contains("interrupted"), "{codes}");
    }
}

/// The rows of docs/global-options.md's table: (option, env var or None).
fn documented_option_rows() -> Vec<(String, Option<String>)> {
    let readme = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/global-options.md"),
    )
    .expect("docs/global-options.md");
    let section = readme
        .split("## Global options")
        .nth(1)
        .expect("a Global options section")
        .split("\n## ")
        .next()
        .unwrap_or("");
    let ticked = |cell: &str| -> Vec<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .map(|s| s.to_owned())
            .collect()
    };
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.split(" | ").collect();
            let option = ticked(cells[0])[0]
                .split_whitespace()
                .next()
                .expect("option")
                .to_owned();
            let env = ticked(cells[1]).into_iter().next();
            (option, env)
        })
        .collect()
}

#[test]
fn the_global_options_doc_matches_the_cli() {
    use clap::CommandFactory;
    let cmd = s3central::cli::Cli::command();
    let rows = documented_option_rows();
    assert!(rows.len() >= 8, "{rows:?}");
    let mut seen = Vec::new();
    for (option, env) in &rows {
        let arg = cmd
            .get_arguments()
            .find(|a| {
                a.get_long().map(|l| format!("--{l}")).as_deref() == Some(option.as_str())
                    || a.get_short().map(|s| format!("-{s}")).as_deref() == Some(option.as_str())
            })
            .unwrap_or_else(|| {
                panic!("docs/global-options.md lists {option}, which is not a global option")
            });
        let real = arg.get_env().map(|e| e.to_string_lossy().into_owned());
        assert_eq!(&real, env, "docs/global-options.md's env for {option}");
        seen.push(arg.get_id().to_string());
    }
    for arg in cmd.get_arguments().filter(|a| a.is_global_set()) {
        assert!(
            seen.contains(&arg.get_id().to_string()),
            "global option {:?} is missing from docs/global-options.md",
            arg.get_long()
        );
    }
}

#[test]
fn man_pages_in_the_repo_are_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let fresh = tempfile::tempdir().expect("temp dir");
    write_man_pages(s3central::cli::command(), fresh.path());
    let names = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .map(|r| {
                r.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let generated = names(fresh.path());
    assert!(
        generated.contains(&"s3central.1".to_owned()),
        "{generated:?}"
    );
    assert!(
        generated.contains(&"s3central-restore.1".to_owned()),
        "{generated:?}"
    );
    if std::env::var_os("S3CENTRAL_UPDATE_MAN").is_some() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("man/");
        for name in &generated {
            std::fs::copy(fresh.path().join(name), dir.join(name)).expect("copy a man page");
        }
    }
    let mut stale = Vec::new();
    if names(&dir) != generated {
        stale.push(format!(
            "man/ holds {:?}, the CLI makes {generated:?}",
            names(&dir)
        ));
    }
    for name in &generated {
        let want = std::fs::read(fresh.path().join(name)).expect("generated page");
        match std::fs::read(dir.join(name)) {
            Ok(kept) if kept == want => {}
            Ok(_) => stale.push(format!("man/{name} is out of date")),
            Err(e) => stale.push(format!("man/{name}: {e}")),
        }
    }
    assert!(
        stale.is_empty(),
        "{}\nregenerate them with:\n  S3CENTRAL_UPDATE_MAN=1 cargo test --test it \
         cli::man_pages_in_the_repo_are_up_to_date",
        stale.join("\n")
    );
    for name in &generated {
        let page = std::fs::read_to_string(dir.join(name)).expect("a page");
        for section in [
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH OPTIONS",
            ".SH \"EXIT STATUS\"",
            ".SH ENVIRONMENT",
            ".SH \"SEE ALSO\"",
        ] {
            assert!(page.contains(section), "man/{name} has no {section}");
        }
        assert!(
            !page.contains(".SH EXTRA"),
            "man/{name} has an EXTRA section"
        );
    }
    let restore = std::fs::read_to_string(dir.join("s3central-restore.1")).expect("restore page");
    let exit = &restore[restore.find("EXIT STATUS").expect("EXIT STATUS")..];
    assert!(
        exit.contains("130") && exit.contains("interrupted"),
        "{exit}"
    );
    assert!(restore.contains(".SH EXAMPLES"), "{restore}");
    let top = std::fs::read_to_string(dir.join("s3central.1")).expect("top page");
    assert!(
        top.contains("S3CENTRAL_BUCKET") && top.contains("AWS_ENDPOINT_URL"),
        "{top}"
    );
}

/// One page per command (`s3central.1`, `s3central-SUB.1`) with the standard sections: NAME,
/// SYNOPSIS, DESCRIPTION, OPTIONS, then EXIT STATUS and EXAMPLES taken from the help's "Exit
/// codes:" and "Examples:" paragraphs, the rest of the help's closing text as NOTES, ENVIRONMENT
/// from the options' variables, and SEE ALSO.
fn write_man_pages(cmd: clap::Command, dir: &Path) {
    let cmd = cmd.disable_help_subcommand(true);
    let subs: Vec<clap::Command> = cmd
        .get_subcommands()
        .filter(|s| s.get_name() != "help")
        .cloned()
        .collect();
    let sub_names: Vec<String> = subs
        .iter()
        .map(|s| format!("s3central-{}", s.get_name()))
        .collect();
    let mut pages = vec![("s3central".to_owned(), cmd.clone(), true)];
    for sub in subs {
        let name = format!("s3central-{}", sub.get_name());
        pages.push((name.clone(), sub.display_name(name), false));
    }
    for (name, page, top) in pages {
        let mut out = Vec::new();
        render_man_page(&page, top, &sub_names, &mut out);
        std::fs::write(dir.join(format!("{name}.1")), out).expect("write a page");
    }
}

/// The default exit status of a command whose help does not list its own.
const DEFAULT_EXIT: [&str; 2] = [
    "0    success",
    "2    bad input, a refusal or an AWS error: one line on stderr, nothing written",
];

/// The exit status every command shares, on the top page.
const TOP_EXIT: [&str; 5] = [
    "0    success",
    "1    the command ran and found a problem: restore (some keys failed), status (drift, a failed replication, or a coverage gap), setup (some accounts failed)",
    "2    bad input, a refusal or an AWS error: one line on stderr, nothing written",
    "3    setup --dry-run --detailed-exitcode: changes pending",
    "130  interrupted (Ctrl-C)",
];

fn render_man_page(cmd: &clap::Command, top: bool, sub_names: &[String], w: &mut Vec<u8>) {
    use clap_mangen::roff::{bold, roman, Roff};
    let after = cmd
        .get_after_help()
        .map(|t| t.to_string())
        .unwrap_or_default();
    let mut exit: Vec<String> = Vec::new();
    let mut examples: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    for paragraph in after.split("\n\n") {
        if let Some(rest) = paragraph.strip_prefix("Exit codes:") {
            // One code per line, or (on one line) one per comma.
            let separator: &[char] = if rest.trim().contains('\n') {
                &['\n']
            } else {
                &[',']
            };
            exit = rest
                .split(separator)
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect();
        } else if let Some(rest) = paragraph.strip_prefix("Examples:") {
            examples = rest
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect();
        } else if !paragraph.starts_with("Global options (") {
            notes.push(paragraph.replace('\n', " "));
        }
    }
    if exit.is_empty() {
        let shared: &[&str] = if top { &TOP_EXIT } else { &DEFAULT_EXIT };
        exit = shared.iter().map(|l| l.to_string()).collect();
    }
    let man = clap_mangen::Man::new(cmd.clone().after_help(None::<&'static str>));
    man.render_title(w).expect("title");
    man.render_name_section(w).expect("name");
    man.render_synopsis_section(w).expect("synopsis");
    man.render_description_section(w).expect("description");
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(w).expect("options");
    }
    if top {
        man.render_subcommands_section(w).expect("subcommands");
    }
    let mut roff = Roff::default();
    if !notes.is_empty() {
        roff.control("SH", ["NOTES"]);
        for note in &notes {
            roff.text([roman(note.as_str())]);
            roff.control("PP", []);
        }
    }
    roff.control("SH", ["EXIT STATUS"]);
    for line in &exit {
        roff.text([roman(line.as_str())]);
        roff.control("br", []);
    }
    roff.control("SH", ["ENVIRONMENT"]);
    let own: Vec<(String, String)> = cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set())
        .filter_map(|a| {
            let env = a.get_env()?.to_string_lossy().into_owned();
            let long = a.get_long().map(|l| format!("--{l}")).unwrap_or_default();
            Some((env, long))
        })
        .collect();
    for (env, long) in &own {
        roff.text([bold(env.as_str()), roman(format!("  same as {long}"))]);
        roff.control("br", []);
    }
    if top {
        roff.text([roman(
            "The AWS SDK's own variables (AWS_PROFILE, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, \
             AWS_SESSION_TOKEN, AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE) choose the \
             credentials; RUST_LOG overrides -v and -q.",
        )]);
    } else {
        roff.text([roman("The global options' variables: see s3central(1).")]);
    }
    if !examples.is_empty() {
        roff.control("SH", ["EXAMPLES"]);
        roff.control("nf", []);
        for example in &examples {
            roff.text([roman(example.as_str())]);
            roff.control("br", []);
        }
        roff.control("fi", []);
    }
    roff.control("SH", ["SEE ALSO"]);
    let see: Vec<String> = if top {
        sub_names.iter().map(|n| format!("{n}(1)")).collect()
    } else {
        vec!["s3central(1)".to_owned()]
    };
    roff.text([roman(see.join(", "))]);
    roff.to_writer(w).expect("sections");
    if cmd.get_version().is_some() {
        man.render_version_section(w).expect("version");
    }
}
