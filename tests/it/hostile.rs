//! Hostile and mistaken input to `ls`, `restore` and `setup`, beyond what `cli.rs`, `restore.rs`
//! and `setup.rs` already cover: look-alike account ids, foreign time forms, bad globs, misspelled
//! buckets, the central bucket under another spelling, unusable KMS keys, no endpoint, no
//! credentials, access denied (a second server that enforces IAM), unusable config files,
//! out-of-range sizes, and keys with control characters.
//!
//! Every refusal must be exactly one line on stderr starting with `error` and naming the problem,
//! exit code 2, nothing on stdout, and no write anywhere: the versions of every bucket the test
//! made are the same before and after, and buckets named by a refused command do not appear.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use crate::common::{
    all_versions, bare_command, bucket_exists, closed_loopback_port, command, cutoff, json_lines,
    put, restored_from, run, s3, s3central, sdk_config, unique_bucket, versioned_bucket, Output,
};
use crate::common::{kms, kms_key, target_bucket};

/// The account the tests restore and list.
const A: &str = "111111111111";

/// Asserts a refusal: exit code 2, nothing on stdout, exactly one stderr line starting with
/// `error` and containing every needle.
fn assert_refused(out: &Output, needles: &[&str], what: &str) {
    let shown = format!(
        "{what}\n--- exit code {}\n--- stdout\n{}--- stderr\n{}",
        out.code, out.stdout, out.stderr
    );
    assert_eq!(out.code, 2, "{shown}");
    assert_eq!(out.stdout, "", "stdout must be empty: {shown}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "stderr must be exactly one line: {shown}");
    assert!(lines[0].starts_with("error"), "{shown}");
    for needle in needles {
        assert!(
            lines[0].contains(needle),
            "the error does not name {needle:?}: {shown}"
        );
    }
}

/// Every version of every listed bucket, to compare before and after a refused command.
async fn snapshot(s3: &Client, buckets: &[&str]) -> Vec<Vec<(String, String, bool)>> {
    let mut all = Vec::new();
    for b in buckets {
        all.push(all_versions(s3, b, "").await);
    }
    all
}

/// A central bucket with history under [`A`] and a neighbour, a cut-off, and a KMS-encrypted target.
struct World {
    s3: Client,
    central: String,
    target: String,
    at: String,
    /// More buckets whose versions must not change.
    others: Vec<String>,
}

impl World {
    async fn new(label: &str) -> World {
        let s3 = s3().await;
        let central = unique_bucket(&format!("{label}-central"));
        versioned_bucket(&s3, &central).await;
        for (key, body) in [
            ("111111111111/docs/a.txt", "a1"),
            ("111111111111/docs/a.txt", "a2"),
            ("111111111111/b.bin", "b"),
            ("222222222222/c", "c"),
        ] {
            put(&s3, &central, key, body).await;
        }
        let at = cutoff().await;
        put(&s3, &central, "111111111111/docs/a.txt", "after").await;
        let (alias, _) = kms_key(label).await;
        let target = target_bucket(&s3, &format!("{label}-target"), &alias).await;
        World {
            s3,
            central,
            target,
            at,
            others: Vec::new(),
        }
    }

    /// `--central-bucket C restore --account A --at T --to-bucket TARGET EXTRA...`.
    fn restore(&self, extra: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = [
            "--central-bucket",
            &self.central,
            "restore",
            "--account",
            A,
            "--at",
            &self.at,
            "--to-bucket",
            &self.target,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    }

    /// `--central-bucket C ls EXTRA...`.
    fn ls(&self, extra: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = ["--central-bucket", &self.central, "ls"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    }

    fn buckets(&self) -> Vec<&str> {
        let mut b = vec![self.central.as_str(), self.target.as_str()];
        b.extend(self.others.iter().map(String::as_str));
        b
    }

    /// Runs `cmd`, asserts a refusal naming `needles`, and that no bucket changed.
    async fn refuses_cmd(&self, cmd: Command, needles: &[&str], what: &str) {
        let buckets = self.buckets();
        let before = snapshot(&self.s3, &buckets).await;
        let out = run(cmd);
        assert_refused(&out, needles, what);
        assert_eq!(
            snapshot(&self.s3, &buckets).await,
            before,
            "{what} wrote to a bucket"
        );
    }

    /// Runs s3central with `args` against the test server and asserts a refusal without writes.
    async fn refuses(&self, args: &[String], needles: &[&str]) {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let what = format!("s3central {argv:?}");
        self.refuses_cmd(command(&argv), needles, &what).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn look_alike_account_ids_are_refused() {
    let w = World::new("hostile-acct").await;
    let bad = [
        " 111111111111",
        "111111111111 ",
        "111 111 111 111",
        "111111111111\n",
        "\u{661}\u{661}\u{661}\u{661}\u{661}\u{661}\u{661}\u{661}\u{661}\u{661}\u{661}\u{661}", // Arabic-Indic digits
        "\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11}\u{ff11}", // fullwidth digits
        "-11111111111",
        "+11111111111",
        "0x1A2B3C4D5E",
        "1.1111111e11",
        "111111111111/",
    ];
    for id in bad {
        let flag = format!("--account={id}");
        w.refuses(&w.ls(&[&flag]), &["--account", "12 digits"])
            .await;
        let mut restore = w.restore(&[]);
        restore[3] = flag.clone();
        restore.remove(4);
        w.refuses(&restore, &["--account", "12 digits"]).await;
    }
    // A negative id given as a separate word is taken for an option: still one line, exit 2.
    w.refuses(&w.ls(&["--account", "-11111111111"]), &["-1"])
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn foreign_and_ambiguous_time_forms_are_refused() {
    let w = World::new("hostile-at").await;
    let unreadable = [
        "12/11/2026",
        "11/12/2026",
        "2026/11/01",
        "01-11-2026",
        "Nov 1 2026",
        "1700000000",
        "-36h ago",
        "+1d",
        "P1D",
        "yesterday 12:00",
        "12:00",
    ];
    for at in unreadable {
        let flag = format!("--at={at}");
        w.refuses(&w.ls(&["--account", A, &flag]), &[at, "RFC 3339"])
            .await;
        let mut restore = w.restore(&[]);
        restore[5] = flag.clone();
        restore.remove(6);
        w.refuses(&restore, &[at, "RFC 3339"]).await;
    }
    for zoneless in ["2026-11-01 12:00", "2026-11-01T12:00"] {
        let mut restore = w.restore(&[]);
        restore[6] = zoneless.to_owned();
        w.refuses(&restore, &[zoneless, "no time zone", "Z"]).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_time_before_everything_restores_nothing_and_says_so() {
    let w = World::new("hostile-1970").await;
    let buckets = w.buckets();
    let before = snapshot(&w.s3, &buckets).await;
    for at in ["1970-01-01T00:00:00Z", "1970-01-01"] {
        let ls = s3central(
            &w.ls(&["--account", A, "--at", at])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
        assert_eq!(ls.code, 0, "{}", ls.stderr);
        assert_eq!(ls.stdout, "");
        assert!(
            ls.stderr.lines().count() == 1 && ls.stderr.contains("no keys"),
            "{}",
            ls.stderr
        );
        for extra in [vec![], vec!["--dry-run"]] {
            let mut args = w.restore(&extra);
            args[6] = at.to_owned();
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = s3central(&argv);
            let stdout = out.success();
            assert!(
                stdout.contains("nothing to restore") && stdout.contains("1970-01-01T00:00:00Z"),
                "{argv:?}: {stdout}"
            );
            let mut json = vec!["--output", "json"];
            json.extend(&argv);
            let out = s3central(&json);
            let lines = json_lines(out.success());
            assert_eq!(lines.len(), 1, "{}", out.stdout);
            for field in ["copied", "would_copy", "unchanged", "failed", "bytes"] {
                assert_eq!(lines[0][field], 0, "{field}: {}", out.stdout);
            }
        }
    }
    assert_eq!(snapshot(&w.s3, &buckets).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_globs_in_restore_are_refused() {
    let w = World::new("hostile-glob").await;
    let cases: &[(&str, &str)] = &[
        ("--include", "a["),
        ("--exclude", "**{"),
        ("--include", "[z-a]"),
        ("--exclude", "a}"),
        ("--include", "[!]"),
        ("--exclude", "docs\\"),
        ("--include", ""),
    ];
    for (option, glob) in cases {
        let flag = format!("{option}={glob}");
        w.refuses(&w.restore(&[&flag]), &[option, "glob"]).await;
        w.refuses(&w.restore(&["--dry-run", &flag]), &[option, "glob"])
            .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn misspelled_buckets_are_refused_and_never_created() {
    let w = World::new("hostile-typo").await;
    let central_typo = format!("{}x", w.central);
    let target_typo = w.target.replacen("target", "tagret", 1);
    let mut args = w.restore(&[]);
    args[1] = central_typo.clone();
    w.refuses(
        &args,
        &[&central_typo, "does not exist", "--central-bucket"],
    )
    .await;
    let mut args = w.restore(&[]);
    args[8] = target_typo.clone();
    w.refuses(&args, &[&target_typo, "does not exist", "--to-bucket"])
        .await;
    let mut ls = w.ls(&["--account", A]);
    ls[1] = central_typo.clone();
    w.refuses(&ls, &[&central_typo, "does not exist"]).await;
    for b in [&central_typo, &target_typo] {
        assert!(!bucket_exists(&w.s3, b).await, "{b} was created");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_central_bucket_under_another_spelling_is_never_a_target() {
    let w = World::new("hostile-self").await;
    let c = w.central.clone();
    // Spellings that mean the central bucket itself: refused as the central bucket.
    let mut padded = w.restore(&[]);
    padded[1] = format!("  {c} ");
    padded[8] = c.clone();
    w.refuses(&padded, &["central bucket", "--to-bucket"]).await;
    let mut env_central = command(&["restore", "--account", A, "--at", &w.at, "--to-bucket", &c]);
    env_central.env("S3CENTRAL_BUCKET", &c);
    w.refuses_cmd(
        env_central,
        &["central bucket"],
        "S3CENTRAL_BUCKET=C restore --to-bucket C",
    )
    .await;
    // `s3://C` and `s3://C/` are read as C: refused as the central bucket.
    for url in [format!("s3://{c}"), format!("s3://{c}/")] {
        let mut args = w.restore(&[]);
        args[8] = url;
        w.refuses(&args, &["refusing to restore into the central bucket", &c])
            .await;
    }
    // Spellings that are not a bucket name: refused, and the central bucket is not touched.
    for spelling in [
        c.to_uppercase(),
        format!("{c}/"),
        format!("{c} "),
        format!("s3://{c}/x"),
        format!("arn:aws:s3:::{c}"),
        format!("{c}.s3.amazonaws.com"),
    ] {
        let mut args = w.restore(&[]);
        args[8] = spelling.clone();
        w.refuses(&args, &[&spelling]).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unusable_kms_keys_are_refused_before_any_write() {
    let mut w = World::new("hostile-kms").await;
    let kms = kms().await;
    // A key and alias made in another account (through an assumed role).
    let base = sdk_config().await;
    let provider = aws_config::sts::AssumeRoleProvider::builder(
        "arn:aws:iam::444455556666:role/OrganizationAccountAccessRole",
    )
    .session_name("hostile-tests")
    .configure(&base)
    .build()
    .await;
    let other = aws_sdk_kms::Client::new(
        &base
            .to_builder()
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(provider),
            )
            .build(),
    );
    let foreign = other
        .create_key()
        .send()
        .await
        .expect("CreateKey elsewhere");
    let foreign_arn = foreign
        .key_metadata()
        .and_then(|m| m.arn())
        .expect("ARN")
        .to_owned();
    assert!(foreign_arn.contains(":444455556666:"), "{foreign_arn}");
    let foreign_alias = format!("alias/{}", unique_bucket("foreign"));
    other
        .create_alias()
        .alias_name(&foreign_alias)
        .target_key_id(&foreign_arn)
        .send()
        .await
        .expect("CreateAlias elsewhere");
    let foreign_alias_arn = format!("arn:aws:kms:us-east-1:444455556666:{foreign_alias}");
    // Keys of this account that cannot be used.
    let pending = kms.create_key().send().await.expect("CreateKey");
    let pending_id = pending.key_metadata().expect("meta").key_id().to_owned();
    kms.schedule_key_deletion()
        .key_id(&pending_id)
        .pending_window_in_days(7)
        .send()
        .await
        .expect("ScheduleKeyDeletion");
    let signing = kms
        .create_key()
        .key_usage(aws_sdk_kms::types::KeyUsageType::SignVerify)
        .key_spec(aws_sdk_kms::types::KeySpec::Rsa2048)
        .send()
        .await
        .expect("CreateKey SIGN_VERIFY");
    let signing_arn = signing.key_metadata().and_then(|m| m.arn()).expect("ARN");
    let hmac = kms
        .create_key()
        .key_usage(aws_sdk_kms::types::KeyUsageType::GenerateVerifyMac)
        .key_spec(aws_sdk_kms::types::KeySpec::Hmac256)
        .send()
        .await
        .expect("CreateKey HMAC");
    let hmac_id = hmac.key_metadata().expect("meta").key_id().to_owned();
    let missing_name = unique_bucket("no-such-key");
    let missing_alias_arn = format!("arn:aws:kms:us-east-1:123456789012:alias/{missing_name}");
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (foreign_arn.as_str(), vec!["not found", "--kms-key"]),
        (foreign_alias_arn.as_str(), vec!["not found"]),
        (foreign_alias.as_str(), vec!["not found"]),
        (missing_name.as_str(), vec!["not found", &missing_name]),
        (missing_alias_arn.as_str(), vec!["not found"]),
        ("00000000-0000-0000-0000-000000000000", vec!["not found"]),
        (pending_id.as_str(), vec!["not enabled", "PendingDeletion"]),
        (signing_arn, vec!["cannot encrypt", "SIGN_VERIFY"]),
        (hmac_id.as_str(), vec!["cannot encrypt"]),
    ];
    for (key, needles) in &cases {
        w.refuses(&w.restore(&["--kms-key", key]), needles).await;
        w.refuses(
            &w.restore(&["--kms-key", key, "--copy-mode", "stream"]),
            needles,
        )
        .await;
    }
    // Targets whose default encryption names a key that cannot be used.
    let disabled = kms.create_key().send().await.expect("CreateKey");
    let disabled_id = disabled.key_metadata().expect("meta").key_id().to_owned();
    kms.disable_key()
        .key_id(&disabled_id)
        .send()
        .await
        .expect("DisableKey");
    let dead_default = target_bucket(&w.s3, "hostile-dead-default", &disabled_id).await;
    let gone_alias = format!("alias/{}", unique_bucket("gone"));
    let gone_default = target_bucket(&w.s3, "hostile-gone-default", &gone_alias).await;
    let foreign_default = target_bucket(&w.s3, "hostile-foreign-default", &foreign_arn).await;
    w.others = vec![
        dead_default.clone(),
        gone_default.clone(),
        foreign_default.clone(),
    ];
    for (bucket, needle) in [
        (&dead_default, "not enabled"),
        (&gone_default, "not found"),
        (&foreign_default, "not found"),
    ] {
        let mut args = w.restore(&[]);
        args[8] = bucket.clone();
        w.refuses(&args, &[needle]).await;
    }
}

/// The binary with the test server's dummy credentials but pointed at `endpoint`.
fn at_endpoint(endpoint: &str, args: &[&str]) -> Command {
    let mut full = vec!["--endpoint-url", endpoint];
    full.extend(args);
    let mut cmd = bare_command(&full);
    cmd.env_remove("AWS_ENDPOINT_URL");
    cmd
}

/// A valid config naming a central bucket and a source bucket that do not exist.
fn setup_config(central: &str, source: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(
        file.path(),
        format!(
            "[central]\nbucket = \"{central}\"\norg_id = \"o-abcd123456\"\n\n[[source]]\naccount = \"111111111111\"\nbucket = \"{source}\"\n"
        ),
    )
    .expect("write config");
    file
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_endpoint_is_refused_by_restore_and_setup() {
    let w = World::new("hostile-unreach").await;
    let dead = &format!("http://127.0.0.1:{}", closed_loopback_port());
    for extra in [vec![], vec!["--dry-run"], vec!["--copy-mode", "stream"]] {
        let args = w.restore(&extra);
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        w.refuses_cmd(
            at_endpoint(dead, &argv),
            &["cannot reach", "--endpoint-url"],
            &format!("restore {extra:?} at {dead}"),
        )
        .await;
    }
    let central = unique_bucket("hostile-unreach-c");
    let source = unique_bucket("hostile-unreach-s");
    let config = setup_config(&central, &source);
    let path = config.path().to_str().expect("path");
    for args in [
        vec!["setup", "--dry-run", "--config", path],
        vec!["setup", "--yes", "--config", path],
        vec!["status", "--config", path],
    ] {
        w.refuses_cmd(
            at_endpoint(dead, &args),
            &["cannot reach", "--endpoint-url"],
            &format!("{args:?} at {dead}"),
        )
        .await;
    }
    for b in [&central, &source] {
        assert!(!bucket_exists(&w.s3, b).await, "{b} was created");
    }
}

/// A connection refused by the endpoint (a loopback port nobody listens on) fails at once, not
/// after `--max-attempts` retries with backoff (4-9 s before): the same one-line "cannot reach"
/// message naming the transport's words and the option to fix, exit 2, in under 3 s, for every
/// command that talks to AWS (S3 first for ls and restore, STS/Organizations first for setup and
/// status), with the default retry settings (8 attempts, adaptive) and with standard retry.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_connection_fails_within_three_seconds() {
    let port = closed_loopback_port();
    let dead = format!("http://127.0.0.1:{port}");
    let config = setup_config(
        &unique_bucket("hostile-refused-c"),
        &unique_bucket("hostile-refused-s"),
    );
    let path = config.path().to_str().expect("path");
    let restore = [
        "--central-bucket",
        "central-never-made",
        "restore",
        "--account",
        A,
        "--at",
        "1h",
        "--to-bucket",
        "target-never-made",
    ];
    let commands: Vec<Vec<&str>> = vec![
        vec!["--central-bucket", "central-never-made", "ls"],
        vec![
            "--central-bucket",
            "central-never-made",
            "ls",
            "--account",
            A,
        ],
        restore.to_vec(),
        [&restore[..], &["--copy-mode", "stream"]].concat(),
        [&["--retry-mode", "standard"], &restore[..]].concat(),
        vec!["setup", "--dry-run", "--config", path],
        vec!["status", "--config", path],
    ];
    for args in commands {
        let what = format!("{args:?} at {dead}");
        let started = Instant::now();
        let out = run(at_endpoint(&dead, &args));
        let seconds = started.elapsed().as_secs_f64();
        eprintln!(
            "refused connection: {what}: exit {} after {seconds:.2} s",
            out.code
        );
        assert_refused(
            &out,
            &[
                "cannot reach the AWS endpoint",
                "Connection refused",
                "--endpoint-url",
            ],
            &what,
        );
        assert!(seconds < 3.0, "{what} took {seconds:.1} s to fail");
    }
}

/// Removes every credential source but the (empty) files given.
fn without_credentials(cmd: &mut Command, config: &Path, credentials: &Path) {
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
    cmd.env("AWS_CONFIG_FILE", config)
        .env("AWS_SHARED_CREDENTIALS_FILE", credentials)
        .env("AWS_EC2_METADATA_DISABLED", "true");
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_credentials_are_refused_by_restore_and_setup() {
    let w = World::new("hostile-nocreds").await;
    let aws_config = tempfile::NamedTempFile::new().expect("temp file");
    let aws_credentials = tempfile::NamedTempFile::new().expect("temp file");
    let central = unique_bucket("hostile-nocreds-c");
    let source = unique_bucket("hostile-nocreds-s");
    let config = setup_config(&central, &source);
    let path = config.path().to_str().expect("path");
    let runs: Vec<Vec<String>> = vec![
        w.restore(&[]),
        w.restore(&["--dry-run"]),
        ["setup", "--dry-run", "--config", path]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ["setup", "--yes", "--config", path]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    ];
    for args in runs {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut cmd = command(&argv);
        without_credentials(&mut cmd, aws_config.path(), aws_credentials.path());
        w.refuses_cmd(
            cmd,
            &["no AWS credentials", "AWS_ACCESS_KEY_ID"],
            &format!("{argv:?} without credentials"),
        )
        .await;
    }
    // With a role to assume, the same one line: never the SDK's whole provider chain.
    let args = w.restore(&["--target-role-arn", "arn:aws:iam::111111111111:role/r"]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cmd = command(&argv);
    without_credentials(&mut cmd, aws_config.path(), aws_credentials.path());
    w.refuses_cmd(
        cmd,
        &["no AWS credentials", "AWS_ACCESS_KEY_ID"],
        "restore --target-role-arn without credentials",
    )
    .await;
    for b in [&central, &source] {
        assert!(!bucket_exists(&w.s3, b).await, "{b} was created");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unusable_report_paths_fail_before_any_write() {
    let w = World::new("hostile-report").await;
    let missing_dir = std::env::temp_dir().join(unique_bucket("no-such-dir"));
    let in_missing = missing_dir.join("report.jsonl");
    let a_dir = tempfile::tempdir().expect("temp dir");
    for (path, needle) in [
        (in_missing.clone(), "No such file or directory"),
        (a_dir.path().to_path_buf(), "directory"),
    ] {
        let p = path.to_str().expect("UTF-8 path").to_owned();
        w.refuses(&w.restore(&["--report", &p]), &["report", &p, needle])
            .await;
    }
    assert!(
        !missing_dir.exists(),
        "{} was created",
        missing_dir.display()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn zero_and_out_of_range_sizes_and_counts_are_refused() {
    let w = World::new("hostile-sizes").await;
    let cases: &[(&[&str], &str)] = &[
        (&["--part-size", "0"], "--part-size"),
        (
            &["--part-size", "0B", "--copy-mode", "stream"],
            "--part-size",
        ),
        (&["--part-size", "1 parsec"], "--part-size"),
        (&["--part-size=-5MiB"], "--part-size"),
        (&["--concurrency", "0"], "--concurrency"),
        (&["--concurrency", "1025"], "--concurrency"),
        (&["--concurrency=-1"], "--concurrency"),
        (&["--concurrency", "four"], "--concurrency"),
        (&["--multipart-threshold", "6GiB"], "--multipart-threshold"),
        (&["--page-size", "0"], "--page-size"),
        (&["--max-attempts", "0"], "--max-attempts"),
    ];
    for (extra, needle) in cases {
        w.refuses(&w.restore(extra), &[needle]).await;
    }
}

/// A config file with `text`; `{central}` and `{source}` are replaced by the given buckets.
fn config_with(text: &str, central: &str, source: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(
        file.path(),
        text.replace("{central}", central)
            .replace("{source}", source),
    )
    .expect("write config");
    file
}

#[tokio::test(flavor = "multi_thread")]
async fn unusable_config_files_are_refused_before_any_call() {
    let s3 = s3().await;
    let central = unique_bucket("hostile-cfg-c");
    let source = unique_bucket("hostile-cfg-s");
    let source2 = unique_bucket("hostile-cfg-t");
    let ok_source = "[[source]]\naccount = \"111111111111\"\nbucket = \"{source}\"\n";
    let texts: Vec<(String, Vec<&str>)> = vec![
        (
            format!("frobnicate = 1\n[central]\nbucket = \"{{central}}\"\n{ok_source}"),
            vec!["line 1", "frobnicate"],
        ),
        (
            format!("[central]\nbucket = \"{{central}}\"\nregoin = \"us-east-1\"\n{ok_source}"),
            vec!["line 3", "regoin"],
        ),
        (
            format!("[central]\nbucket = \"{{central}}\"\n{ok_source}kms_alais = \"alias/x\"\n"),
            vec!["line 6", "kms_alais"],
        ),
        (
            "[central]\nbucket = \"{central}\"\n[[sources]]\naccount = \"111111111111\"\nbucket = \"{source}\"\n".to_owned(),
            vec!["line 3", "sources"],
        ),
        (
            format!("[central]\nbucket = \"{{central}}\"\n{ok_source}[discovery]\norganizational_units = [\"ou-ab12-cdef3456\"]\n[[source]]\naccount = \"111111111111\"\nbucket = \"{source2}\"\n"),
            vec!["lines 4 and 9", "111111111111"],
        ),
        (
            format!("[central]\nbucket = \"{{central}}\"\n{ok_source}[[source]]\naccount = \" 111111111111\"\nbucket = \"{source2}\"\n"),
            vec!["line 7", "12 digits"],
        ),
        (
            "[central]\nbucket = \"{central}\"\n[[source]]\naccount = 111111111111\nbucket = \"{source}\"\n".to_owned(),
            vec!["line 4", "string"],
        ),
        (
            format!("[central]\nbucket = \"{{central}}\"\n[central]\nbucket = \"{{central}}\"\n{ok_source}"),
            vec!["line 3", "central"],
        ),
        (
            "[central]\nbucket = \"{central}\"\n[[source]]\naccount = \"111111111111\"\nbucket = \"{central}\"\n".to_owned(),
            vec!["line 5", "central bucket"],
        ),
        ("".to_owned(), vec!["empty", "[central]"]),
        ("# only a comment\n\n".to_owned(), vec!["empty"]),
        ("[central\nbucket = \"{central}\"\n".to_owned(), vec!["line 1"]),
    ];
    let mut cases: Vec<(Vec<String>, Vec<&str>, Option<PathBuf>)> = Vec::new();
    let mut files = Vec::new();
    for (text, needles) in &texts {
        let file = config_with(text, &central, &source);
        let path = file.path().to_str().expect("path").to_owned();
        cases.push((vec![path.clone()], needles.clone(), None));
        files.push(file);
    }
    // Not UTF-8.
    let binary = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(binary.path(), b"\xff\xfe[central]\n").expect("write");
    let binary_path = binary.path().to_str().expect("path").to_owned();
    cases.push((vec![binary_path], vec!["UTF-8"], None));
    // A directory, a missing file, and the default name missing from the working directory.
    let dir = tempfile::tempdir().expect("temp dir");
    let dir_path = dir.path().to_str().expect("path").to_owned();
    cases.push((vec![dir_path.clone()], vec!["directory", &dir_path], None));
    let missing = format!("{dir_path}/missing.toml");
    cases.push((
        vec![missing.clone()],
        vec!["No such file", "missing.toml", "--config"],
        None,
    ));
    cases.push((
        vec![],
        vec!["s3central.toml", "--config"],
        Some(dir.path().to_path_buf()),
    ));
    for (config, needles, cwd) in &cases {
        for sub in [
            vec!["setup", "--dry-run"],
            vec!["setup", "--yes"],
            vec!["status"],
        ] {
            let mut args: Vec<&str> = sub.clone();
            if let Some(path) = config.first() {
                args.extend(["--config", path]);
            }
            let mut cmd = command(&args);
            cmd.env_remove("S3CENTRAL_CONFIG");
            if let Some(cwd) = cwd {
                cmd.current_dir(cwd);
            }
            let what = format!("{args:?} (cwd {cwd:?})");
            assert_refused(&run(cmd), needles, &what);
        }
    }
    for b in [&central, &source, &source2] {
        assert!(!bucket_exists(&s3, b).await, "{b} was created");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_with_control_characters_are_listed_escaped_and_restored_exactly() {
    let s3 = s3().await;
    let central = unique_bucket("hostile-ctl-central");
    versioned_bucket(&s3, &central).await;
    // The local server cannot list keys holding C0 controls other than tab and CR (it writes
    // them into XML raw), so the hostile set is tab, CR and DEL.
    let keys: &[(&str, &str)] = &[
        ("tab\there.txt", "tab\\there.txt"),
        ("del\u{7f}here", "del\\u{7f}here"),
        ("cr\rhere", "cr\\rhere"),
        ("dir\t\u{7f}/\tleaf", "dir\\t\\u{7f}/\\tleaf"),
    ];
    let mut versions = Vec::new();
    for (key, _) in keys {
        let body = format!("body of {key:?}").into_bytes();
        let v = put(&s3, &central, &format!("{A}/{key}"), &body).await;
        versions.push((key.to_string(), v, body));
    }
    let args = ["--central-bucket", &central, "ls", "--account", A];
    for extra in [vec![], vec!["--versions"]] {
        let mut argv = args.to_vec();
        argv.extend(extra);
        let out = s3central(&argv);
        let table = out.success();
        for c in table.chars() {
            assert!(
                c == '\n' || !c.is_control(),
                "raw control character {c:?} in the table:\n{table}"
            );
        }
        for (_, escaped) in keys {
            assert!(
                table.lines().any(|l| l.ends_with(&format!("  {escaped}"))),
                "no row ending in {escaped:?}:\n{table}"
            );
        }
        // Header and rows, then a blank line and the totals line.
        assert_eq!(
            table.lines().take_while(|l| !l.is_empty()).count(),
            1 + keys.len(),
            "{table}"
        );
        assert_eq!(table.lines().count(), 3 + keys.len(), "{table}");
    }
    let mut json = vec!["--output", "json"];
    json.extend(args);
    let listed: Vec<String> = json_lines(s3central(&json).success())
        .iter()
        .map(|l| l["key"].as_str().expect("key").to_owned())
        .collect();
    let mut want: Vec<String> = keys.iter().map(|(k, _)| k.to_string()).collect();
    want.sort();
    assert_eq!(listed, want);

    let (alias, arn) = kms_key("hostile-ctl").await;
    for mode in ["server", "stream"] {
        let target = target_bucket(&s3, "hostile-ctl-target", &alias).await;
        s3central(&[
            "--central-bucket",
            &central,
            "restore",
            "--account",
            A,
            "--at",
            "now",
            "--to-bucket",
            &target,
            "--copy-mode",
            mode,
        ])
        .success();
        let restored = all_versions(&s3, &target, "").await;
        assert_eq!(restored.len(), keys.len(), "{mode}: {restored:?}");
        for (key, version, body) in &versions {
            let full = format!("{A}/{key}");
            let got = s3
                .get_object()
                .bucket(&target)
                .key(&full)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{mode}: GetObject {full:?}: {e:?}"));
            assert_eq!(got.ssekms_key_id(), Some(arn.as_str()), "{mode}: {full:?}");
            assert_eq!(
                restored_from(&target, &full, got.version_id(), got.metadata()).as_ref(),
                Some(version),
                "{mode}: {full:?}"
            );
            let data = got.body.collect().await.expect("body").into_bytes();
            assert_eq!(data.as_ref(), body.as_slice(), "{mode}: {full:?}");
        }
        // A second run finds every key in place.
        let again = s3central(&[
            "--output",
            "json",
            "--central-bucket",
            &central,
            "restore",
            "--account",
            A,
            "--at",
            "now",
            "--to-bucket",
            &target,
            "--copy-mode",
            mode,
        ]);
        let summary = json_lines(again.success())
            .into_iter()
            .find(|l| l["record"] == "summary")
            .expect("summary");
        assert_eq!(summary["unchanged"], keys.len(), "{mode}: {summary}");
        assert_eq!(summary["copied"], 0, "{mode}: {summary}");
    }
}

/// A second moto server that enforces IAM after its first `free_calls` requests; killed on drop.
struct EnforcingServer {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for EnforcingServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether an HTTP GET of `/moto-api/` on `port` answers.
fn answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}

impl EnforcingServer {
    fn start(free_calls: u32) -> EnforcingServer {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let python = crate::common::venv_tool("python");
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("moto.log");
        for _ in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("free port")
                .port();
            let mut child = Command::new(&python)
                .arg(root.join("scripts/moto_server.py"))
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("INITIAL_NO_AUTH_ACTION_COUNT", free_calls.to_string())
                .env("AWS_ACCESS_KEY_ID", "testing")
                .env("AWS_SECRET_ACCESS_KEY", "testing")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).expect("log file"))
                .spawn()
                .expect("start the second moto server");
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(30) {
                if child.try_wait().expect("try_wait").is_some() {
                    break;
                }
                if answers(port) {
                    return EnforcingServer {
                        child,
                        url: format!("http://127.0.0.1:{port}"),
                        _dir: dir,
                    };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "the second moto server did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
}

/// SDK config for `url` with the given static keys.
async fn config_for(url: &str, key: &str, secret: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            key, secret, None, None, "tests",
        ))
        .load()
        .await
}

fn s3_of(config: &aws_config::SdkConfig) -> Client {
    Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn access_denied_is_one_line_and_writes_nothing() {
    // The first FREE requests are let through unauthenticated: exactly the setup calls below.
    const FREE: u32 = 10;
    let server = EnforcingServer::start(FREE);
    let anonymous = config_for(&server.url, "testing", "testing").await;
    let s3 = s3_of(&anonymous);
    let iam = aws_sdk_iam::Client::new(&anonymous);
    let central = unique_bucket("denied-central");
    let target = unique_bucket("denied-target");
    let mut calls = 0;
    for b in [&central, &target] {
        s3.create_bucket()
            .bucket(b)
            .send()
            .await
            .expect("CreateBucket");
        s3.put_bucket_versioning()
            .bucket(b)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .expect("PutBucketVersioning");
        calls += 2;
    }
    s3.put_object()
        .bucket(&central)
        .key(format!("{A}/secret.txt"))
        .body(ByteStream::from_static(b"only for the allowed"))
        .send()
        .await
        .expect("PutObject");
    calls += 1;
    let mut keys = Vec::new();
    for user in ["nobody", "admin"] {
        iam.create_user()
            .user_name(user)
            .send()
            .await
            .expect("CreateUser");
        let key = iam
            .create_access_key()
            .user_name(user)
            .send()
            .await
            .expect("CreateAccessKey")
            .access_key()
            .cloned()
            .expect("access key");
        keys.push((
            key.access_key_id().to_owned(),
            key.secret_access_key().to_owned(),
        ));
        calls += 2;
    }
    iam.put_user_policy()
        .user_name("admin")
        .policy_name("everything")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        )
        .send()
        .await
        .expect("PutUserPolicy");
    calls += 1;
    assert_eq!(calls, FREE);
    let (nobody, admin) = (keys[0].clone(), keys[1].clone());
    let admin_s3 = s3_of(&config_for(&server.url, &admin.0, &admin.1).await);
    let snap = |s3: Client, central: String, target: String| async move {
        let mut all = Vec::new();
        for b in [&central, &target] {
            all.push(all_versions(&s3, b, "").await);
        }
        all
    };
    let before = snap(admin_s3.clone(), central.clone(), target.clone()).await;
    assert_eq!(before[0].len(), 1, "the allowed user cannot see the seed");

    let setup_central = unique_bucket("denied-setup-c");
    let config = setup_config(&setup_central, &unique_bucket("denied-setup-s"));
    let config_path = config.path().to_str().expect("path");
    let runs: Vec<Vec<&str>> = vec![
        vec!["--central-bucket", &central, "ls"],
        vec!["--central-bucket", &central, "ls", "--account", A],
        vec!["--central-bucket", &central, "ls", "--summary"],
        vec![
            "--central-bucket",
            &central,
            "restore",
            "--account",
            A,
            "--at",
            "now",
            "--to-bucket",
            &target,
        ],
        vec![
            "--central-bucket",
            &central,
            "restore",
            "--account",
            A,
            "--at",
            "now",
            "--to-bucket",
            &target,
            "--kms-key",
            "alias/anything",
            "--dry-run",
        ],
        vec!["setup", "--dry-run", "--config", config_path],
        vec!["setup", "--yes", "--config", config_path],
    ];
    for args in &runs {
        let mut cmd = at_endpoint(&server.url, args);
        cmd.env("AWS_ACCESS_KEY_ID", &nobody.0)
            .env("AWS_SECRET_ACCESS_KEY", &nobody.1)
            .env_remove("AWS_SESSION_TOKEN");
        let out = run(cmd);
        eprintln!(
            "access denied: {args:?} -> exit {}: {}",
            out.code,
            out.stderr.trim()
        );
        assert_refused(&out, &["access denied"], &format!("{args:?} as nobody"));
    }
    // Control: the same restore as the allowed user gets past the central bucket's check, so the
    // refusals above come from IAM, not from a broken request signature.
    let missing_target = unique_bucket("denied-missing");
    let mut cmd = at_endpoint(
        &server.url,
        &[
            "--central-bucket",
            &central,
            "restore",
            "--account",
            A,
            "--at",
            "now",
            "--to-bucket",
            &missing_target,
        ],
    );
    cmd.env("AWS_ACCESS_KEY_ID", &admin.0)
        .env("AWS_SECRET_ACCESS_KEY", &admin.1);
    assert_refused(
        &run(cmd),
        &[&missing_target, "does not exist", "--to-bucket"],
        "restore as admin into a missing bucket",
    );
    let after = snap(admin_s3.clone(), central.clone(), target.clone()).await;
    assert_eq!(after, before, "a denied command wrote to a bucket");
    for b in [&setup_central, &missing_target] {
        assert!(
            admin_s3
                .head_bucket()
                .bucket(b.as_str())
                .send()
                .await
                .is_err(),
            "{b} was created"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn target_profile_wins_over_environment_credentials() {
    let w = World::new("hostile-profile").await;
    // Credentials of another account, in a profile named "writer".
    let base = sdk_config().await;
    let creds = aws_sdk_sts::Client::new(&base)
        .assume_role()
        .role_arn("arn:aws:iam::444455556666:role/OrganizationAccountAccessRole")
        .role_session_name("hostile-profile")
        .send()
        .await
        .expect("AssumeRole")
        .credentials()
        .cloned()
        .expect("credentials");
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(
        file.path(),
        format!(
            "[writer]\naws_access_key_id = {}\naws_secret_access_key = {}\naws_session_token = {}\n",
            creds.access_key_id(),
            creds.secret_access_key(),
            creds.session_token()
        ),
    )
    .expect("write credentials");
    // A key that exists only in the writer's account.
    let writer_config = base
        .to_builder()
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            aws_sdk_s3::config::Credentials::new(
                creds.access_key_id(),
                creds.secret_access_key(),
                Some(creds.session_token().to_owned()),
                None,
                "tests",
            ),
        ))
        .build();
    let writer_kms = aws_sdk_kms::Client::new(&writer_config);
    let key = writer_kms.create_key().send().await.expect("CreateKey");
    let alias = format!("alias/{}", unique_bucket("writer"));
    writer_kms
        .create_alias()
        .alias_name(&alias)
        .target_key_id(key.key_metadata().expect("meta").key_id())
        .send()
        .await
        .expect("CreateAlias");
    let args = w.restore(&[
        "--target-profile",
        "writer",
        "--kms-key",
        &alias,
        "--dry-run",
    ]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cmd = command(&argv);
    cmd.env("AWS_SHARED_CREDENTIALS_FILE", file.path());
    let out = run(cmd);
    assert_eq!(
        out.code, 0,
        "--target-profile writer did not write as the profile's identity: {}",
        out.stderr
    );
    // A profile that does not exist must be refused, not replaced by the environment's keys.
    let args = w.restore(&["--target-profile", "no-such-profile", "--dry-run"]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cmd = command(&argv);
    cmd.env("AWS_SHARED_CREDENTIALS_FILE", file.path());
    w.refuses_cmd(
        cmd,
        &["no-such-profile"],
        "--target-profile no-such-profile",
    )
    .await;
}
