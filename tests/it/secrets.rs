//! No secret in any output at the most verbose levels (`-vvv`, `RUST_LOG=trace`): not the secret
//! access key or session token given in the environment or a profile, and not the credentials of
//! a role the binary assumes itself (`restore --target-role-arn`, `setup`).
//!
//! The assumed role's credentials are random, so the binary talks to the server through a small
//! recording proxy: the test reads the `SecretAccessKey` and `SessionToken` STS returned, and every
//! `x-amz-security-token` the binary sent, from the recorded traffic, then searches stdout and
//! stderr for each. Independently of the recording, any `x-amz-security-token`,
//! `aws_session_token` or secret-key field printed with a value longer than 16 characters counts
//! as a leak.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::common::{endpoint, put, run, s3, unique_bucket, versioned_bucket, Output};
use crate::common::{kms_key, target_bucket};

/// The account restored.
const A: &str = "111111111111";
/// Distinctive dummy credentials (the local server accepts any).
const KEY_ID: &str = "AKIAS3CENTRALTESTKEY";
const SECRET: &str = "s3central-test-secret-XYZ-9f8e7d6c5b4a";
const TOKEN: &str = "s3central-test-session-token-XYZ-0a1b2c3d4e5f";
const PROFILE_SECRET: &str = "s3central-test-profile-secret-XYZ-77aa88bb";
const PROFILE_TOKEN: &str = "s3central-test-profile-token-XYZ-11cc22dd";

/// How verbose a run is.
#[derive(Debug, Clone, Copy)]
enum Level {
    /// `-vvv`.
    Vvv,
    /// `RUST_LOG=trace`.
    Trace,
}

const LEVELS: [Level; 2] = [Level::Vvv, Level::Trace];

/// The binary at `level` against `endpoint_url`, with `args`.
fn verbose(level: Level, endpoint_url: &str, args: &[&str]) -> Command {
    let mut full = vec!["--endpoint-url", endpoint_url];
    if matches!(level, Level::Vvv) {
        full.push("-vvv");
    }
    full.extend(args);
    let mut cmd = crate::common::bare_command(&full);
    cmd.env_remove("AWS_ENDPOINT_URL");
    if matches!(level, Level::Trace) {
        cmd.env("RUST_LOG", "trace");
    }
    cmd
}

/// Environment credentials with the distinctive secret and token.
fn with_env_secrets(cmd: &mut Command) {
    cmd.env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_SESSION_TOKEN", TOKEN);
}

/// Values printed after `name` (any case, after `:`, `=`, quotes, spaces) that look like a
/// credential: 16 or more key characters rather than a redaction marker.
fn printed_values(text: &str, name: &str) -> Vec<String> {
    let lower = text.to_ascii_lowercase();
    lower
        .match_indices(name)
        .filter_map(|(i, _)| {
            let rest = text[i + name.len()..].trim_start_matches([':', '=', '"', '\'', ' ', '\t']);
            let value: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "+/=_-".contains(*c))
                .collect();
            (value.len() >= 16).then_some(value)
        })
        .collect()
}

/// Without terminal colour codes.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Every secret, and every credential-looking field value, printed on stdout or stderr.
fn leaks(out: &Output, secrets: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for secret in secrets {
        assert!(secret.len() >= 16, "{secret:?} is too short to search for");
        for (stream, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            if let Some(at) = text.find(secret.as_str()) {
                let line = text[..at].rfind('\n').map_or(0, |n| n + 1);
                found.push(format!(
                    "a secret ({}...) on {stream}: {:.300}",
                    &secret[..8],
                    &text[line..]
                ));
            }
        }
    }
    let clean = strip_ansi(&format!("{}\n{}", out.stdout, out.stderr));
    for name in [
        "x-amz-security-token",
        "aws_session_token",
        "session_token",
        "sessiontoken",
        "aws_secret_access_key",
        "secret_access_key",
        "secretaccesskey",
    ] {
        for value in printed_values(&clean, name) {
            found.push(format!("{name} printed with a value ({}...)", &value[..8]));
        }
    }
    found
}

/// Asserts that no secret, and no credential-looking field value, is in stdout or stderr.
fn assert_no_secrets(out: &Output, secrets: &[String], what: &str) {
    let found = leaks(out, secrets);
    assert!(found.is_empty(), "{what}: {found:#?}");
}

/// Asserts the run succeeded and was as verbose as asked (so the absence of secrets means something).
fn assert_verbose(out: &Output, level: Level, what: &str) {
    assert_eq!(
        out.code, 0,
        "{what}\n--- stdout\n{}--- stderr\n{}",
        out.stdout, out.stderr
    );
    let lines = out.stderr.lines().count();
    let wanted = match level {
        Level::Vvv => 10,
        Level::Trace => 50,
    };
    assert!(
        lines >= wanted,
        "{what}: only {lines} log lines at {level:?}:\n{}",
        out.stderr
    );
}

/// A central bucket with a few objects under [`A`] and a KMS alias for targets.
struct World {
    s3: aws_sdk_s3::Client,
    central: String,
    alias: String,
}

impl World {
    async fn new(label: &str) -> World {
        let s3 = s3().await;
        let central = unique_bucket(&format!("{label}-central"));
        versioned_bucket(&s3, &central).await;
        for (key, body) in [
            ("111111111111/a.txt", "alpha"),
            ("111111111111/b/c.json", "{}"),
            ("111111111111/a.txt", "alpha 2"),
            ("222222222222/x", "x"),
        ] {
            put(&s3, &central, key, body).await;
        }
        let (alias, _) = kms_key(label).await;
        World { s3, central, alias }
    }

    async fn target(&self) -> String {
        target_bucket(&self.s3, "secrets-target", &self.alias).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn env_credentials_never_appear_in_verbose_ls_and_restore() {
    let w = World::new("secrets-env").await;
    let secrets = vec![SECRET.to_owned(), TOKEN.to_owned()];
    let url = endpoint();
    for level in LEVELS {
        let targets = [w.target().await, w.target().await];
        let runs: Vec<Vec<&str>> = vec![
            vec!["--central-bucket", &w.central, "ls"],
            vec!["--central-bucket", &w.central, "ls", "--summary"],
            vec![
                "--central-bucket",
                &w.central,
                "ls",
                "--account",
                A,
                "--versions",
            ],
            vec![
                "--central-bucket",
                &w.central,
                "--output",
                "json",
                "restore",
                "--account",
                A,
                "--at",
                "now",
                "--to-bucket",
                &targets[0],
                "--dry-run",
            ],
            vec![
                "--central-bucket",
                &w.central,
                "restore",
                "--account",
                A,
                "--at",
                "now",
                "--to-bucket",
                &targets[0],
            ],
            vec![
                "--central-bucket",
                &w.central,
                "restore",
                "--account",
                A,
                "--at",
                "now",
                "--to-bucket",
                &targets[1],
                "--copy-mode",
                "stream",
                "--multipart-threshold",
                "1B",
                "--part-size",
                "1KiB",
            ],
        ];
        for args in &runs {
            let mut cmd = verbose(level, &url, args);
            with_env_secrets(&mut cmd);
            let out = run(cmd);
            let what = format!("{level:?} {args:?}");
            assert_verbose(&out, level, &what);
            assert_no_secrets(&out, &secrets, &what);
            if matches!(level, Level::Trace) {
                // The token header was logged, and masked.
                assert!(
                    strip_ansi(&out.stderr).contains("x-amz-security-token"),
                    "{what}: the trace does not show request headers at all"
                );
            }
        }
        let restored = crate::common::all_versions(&w.s3, &targets[0], "").await;
        assert_eq!(restored.len(), 2, "{level:?}: {restored:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn profile_credentials_never_appear_in_verbose_ls_and_restore() {
    let w = World::new("secrets-profile").await;
    let credentials = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(
        credentials.path(),
        format!(
            "[default]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\naws_session_token = {TOKEN}\n\n\
             [writer]\naws_access_key_id = AKIAS3CENTRALWRITER\naws_secret_access_key = {PROFILE_SECRET}\naws_session_token = {PROFILE_TOKEN}\n"
        ),
    )
    .expect("write credentials");
    let config = tempfile::NamedTempFile::new().expect("temp file");
    let secrets: Vec<String> = [SECRET, TOKEN, PROFILE_SECRET, PROFILE_TOKEN]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let url = endpoint();
    for level in LEVELS {
        let target = w.target().await;
        let runs: Vec<Vec<&str>> = vec![
            vec![
                "--profile",
                "writer",
                "--central-bucket",
                &w.central,
                "ls",
                "--account",
                A,
            ],
            vec![
                "--central-bucket",
                &w.central,
                "restore",
                "--account",
                A,
                "--at",
                "now",
                "--to-bucket",
                &target,
                "--target-profile",
                "writer",
            ],
        ];
        for args in &runs {
            let mut cmd = verbose(level, &url, args);
            for var in [
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_SESSION_TOKEN",
            ] {
                cmd.env_remove(var);
            }
            cmd.env("AWS_SHARED_CREDENTIALS_FILE", credentials.path())
                .env("AWS_CONFIG_FILE", config.path());
            let out = run(cmd);
            let what = format!("{level:?} {args:?}");
            assert_verbose(&out, level, &what);
            assert_no_secrets(&out, &secrets, &what);
        }
        assert_eq!(
            crate::common::all_versions(&w.s3, &target, "").await.len(),
            2,
            "{level:?}"
        );
    }
}

/// What the recorder saw: one growing buffer per connection direction.
type Recordings = Arc<Mutex<Vec<Arc<Mutex<Vec<u8>>>>>>;

/// A TCP proxy on 127.0.0.1 that forwards to the test server and records both directions of
/// every connection, so the test can read the credentials STS handed out.
struct Recorder {
    url: String,
    streams: Recordings,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Recorder {
    fn start(upstream: &str) -> Recorder {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the recorder");
        listener.set_nonblocking(true).expect("non-blocking");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let streams: Recordings = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (streams, stop) = (streams.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((client, _)) => {
                            let _ = client.set_nonblocking(false);
                            let Ok(server) = TcpStream::connect(&upstream) else {
                                continue;
                            };
                            for (from, to) in [
                                (client.try_clone(), server.try_clone()),
                                (server.try_clone(), client.try_clone()),
                            ] {
                                let (Ok(from), Ok(to)) = (from, to) else {
                                    continue;
                                };
                                let record = Arc::new(Mutex::new(Vec::new()));
                                streams.lock().expect("lock").push(record.clone());
                                std::thread::spawn(move || pump(from, to, &record));
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(2));
                        }
                        Err(_) => break,
                    }
                }
            })
        };
        Recorder {
            url,
            streams,
            stop,
            accept: Some(accept),
        }
    }

    /// Everything recorded so far, one string per connection direction.
    fn recorded(&self) -> Vec<String> {
        self.streams
            .lock()
            .expect("lock")
            .iter()
            .map(|s| String::from_utf8_lossy(&s.lock().expect("lock")).into_owned())
            .collect()
    }

    /// The credentials STS returned (secret keys and session tokens) and every session token sent.
    fn credentials(&self) -> (Vec<String>, Vec<String>, Vec<String>) {
        let (mut secrets, mut tokens, mut sent) = (Vec::new(), Vec::new(), Vec::new());
        for text in self.recorded() {
            secrets.extend(between(&text, "<SecretAccessKey>", "</SecretAccessKey>"));
            tokens.extend(between(&text, "<SessionToken>", "</SessionToken>"));
            let lower = text.to_ascii_lowercase();
            for (i, _) in lower.match_indices("\r\nx-amz-security-token:") {
                let value = text[i + 23..].split("\r\n").next().unwrap_or("").trim();
                sent.push(value.to_owned());
            }
        }
        for list in [&mut secrets, &mut tokens, &mut sent] {
            list.sort();
            list.dedup();
        }
        (secrets, tokens, sent)
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// Copies one direction of a connection, recording what passes.
fn pump(mut from: TcpStream, mut to: TcpStream, record: &Mutex<Vec<u8>>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                record.lock().expect("lock").extend_from_slice(&buf[..n]);
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// Every text between `open` and `close`.
fn between(text: &str, open: &str, close: &str) -> Vec<String> {
    text.split(open)
        .skip(1)
        .filter_map(|rest| rest.split(close).next())
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn assumed_role_credentials_never_appear_in_verbose_restore_and_setup() {
    let w = World::new("secrets-role").await;
    let recorder = Recorder::start(&endpoint());
    let role = "arn:aws:iam::123456789012:role/s3central-secrets-test";
    let mut leaks_checked = 0;
    for level in LEVELS {
        let target = w.target().await;
        let setup_config = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(
            setup_config.path(),
            format!(
                "[central]\nbucket = \"{}\"\nkms_alias = \"alias/{}\"\norg_id = \"o-abcd123456\"\n\n[[source]]\naccount = \"{}\"\nbucket = \"{}\"\n",
                unique_bucket("secrets-setup-c"),
                unique_bucket("secrets-setup"),
                500_000_000_000u64 + u64::from(std::process::id() % 100_000) * 10,
                unique_bucket("secrets-setup-s"),
            ),
        )
        .expect("write config");
        let config_path = setup_config.path().to_str().expect("path");
        let runs: Vec<Vec<&str>> = vec![
            vec![
                "--central-bucket",
                &w.central,
                "restore",
                "--account",
                A,
                "--at",
                "now",
                "--to-bucket",
                &target,
                "--target-role-arn",
                role,
            ],
            vec![
                "--central-bucket",
                &w.central,
                "--output",
                "json",
                "restore",
                "--account",
                A,
                "--at",
                "now",
                "--to-bucket",
                &target,
                "--target-role-arn",
                role,
                "--dry-run",
            ],
            vec!["setup", "--dry-run", "--config", config_path],
        ];
        for args in &runs {
            let mut cmd = verbose(level, &recorder.url, args);
            with_env_secrets(&mut cmd);
            let out = run(cmd);
            let what = format!("{level:?} {args:?}");
            assert_verbose(&out, level, &what);
            // Let the recorder take in the last bytes of the finished connections.
            std::thread::sleep(Duration::from_millis(100));
            let (secrets, tokens, sent) = recorder.credentials();
            assert!(
                !secrets.is_empty() && !tokens.is_empty(),
                "{what}: no AssumeRole credentials went through the recorder"
            );
            assert!(
                sent.iter().any(|t| tokens.contains(t)),
                "{what}: no request carried an assumed role's session token"
            );
            let mut all: Vec<String> = vec![SECRET.to_owned(), TOKEN.to_owned()];
            all.extend(secrets);
            all.extend(tokens);
            all.extend(sent);
            all.sort();
            all.dedup();
            assert_no_secrets(&out, &all, &what);
            leaks_checked += all.len();
        }
        assert_eq!(
            crate::common::all_versions(&w.s3, &target, "").await.len(),
            2,
            "{level:?}"
        );
    }
    eprintln!(
        "secrets: {leaks_checked} secrets and tokens searched for in the output, none printed"
    );
}

#[test]
fn the_leak_checks_catch_printed_credentials() {
    let clean = Output {
        code: 0,
        stdout: String::new(),
        stderr: "x-amz-security-token:** redacted (length=356) **\nsecret_access_key: \"** redacted **\"\nsession_token_mode: Include\nx-amz-security-token;x-amz-user-agent\n".into(),
    };
    assert_no_secrets(&clean, &[SECRET.to_owned()], "redacted");
    let printed = [
        format!("\u{1b}[2mheaders\u{1b}[0m x-amz-security-token: {TOKEN}"),
        "{\"X-Amz-Security-Token\": \"FQoGZXIvYXdzEBYaDabcdefghijklmnop\"}".to_owned(),
        "aws_session_token=IQoJb3JpZ2luX2VjEabcdefghijklmnop".to_owned(),
        "SecretAccessKey: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_owned(),
        format!("creds {SECRET} in a message"),
    ];
    for leak in printed {
        let out = Output {
            code: 0,
            stdout: String::new(),
            stderr: leak.clone(),
        };
        assert!(
            !leaks(&out, &[SECRET.to_owned()]).is_empty(),
            "not caught: {leak}"
        );
    }
}
