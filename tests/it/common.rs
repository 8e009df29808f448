//! Shared helpers: an S3 client for the test server, unique versioned buckets, writes that return
//! version ids, second-boundary cut-offs, and a runner for the `s3central` binary.
//!
//! Every test runs in parallel with the others, in one process, against one server: each test
//! makes its own buckets (`unique_bucket`) and never looks at the server's bucket list as a whole.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_config::BehaviorVersion;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use aws_sdk_s3::types::{
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};
use aws_sdk_s3::Client;
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde_json::Value;

/// How long one run of the binary may take before the test kills it and fails.
const RUN_DEADLINE: Duration = Duration::from_secs(120);

/// The test server's URL, from `S3CENTRAL_TEST_ENDPOINT` (set by `scripts/test`).
pub fn endpoint() -> String {
    match std::env::var("S3CENTRAL_TEST_ENDPOINT") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "S3CENTRAL_TEST_ENDPOINT is not set: these tests need the local S3 server; run them \
             with `scripts/test` (or `. scripts/moto-env.sh; moto_install; moto_start; \
             trap moto_stop EXIT; cargo test --test it` in one bash shell)"
        ),
    }
}

/// SDK configuration for the test server: us-east-1, the server's dummy credentials.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint())
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .load()
        .await
}

/// An S3 client for the test server: path-style, us-east-1, the server's dummy credentials.
pub async fn s3() -> Client {
    let conf = aws_sdk_s3::config::Builder::from(&sdk_config().await)
        .force_path_style(true)
        .build();
    Client::from_conf(conf)
}

/// A bucket name no other call in any test process has used: `prefix-pid-counter-nanos`.
pub fn unique_bucket(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    let clean: String = prefix
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(24)
        .collect();
    let clean = clean.trim_matches('-');
    let clean = if clean.is_empty() { "it" } else { clean };
    let name = format!("{clean}-{}-{n}-{nanos}", std::process::id());
    assert!(name.len() <= 63, "bucket name too long: {name}");
    name
}

/// Creates the bucket and turns versioning on.
pub async fn versioned_bucket(s3: &Client, name: &str) {
    s3.create_bucket()
        .bucket(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateBucket {name}: {e:?}"));
    enable_versioning(s3, name).await;
}

/// Turns versioning on for an existing bucket.
pub async fn enable_versioning(s3: &Client, name: &str) {
    s3.put_bucket_versioning()
        .bucket(name)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutBucketVersioning {name}: {e:?}"));
}

/// What a PutObject returned: the new version's id and its ETag (quotes removed).
#[derive(Debug, Clone)]
pub struct Put {
    /// The version id S3 gave the new object version.
    pub version_id: String,
    /// The entity tag without the surrounding quotes.
    pub etag: String,
}

/// Writes an object and returns its version id.
pub async fn put(s3: &Client, bucket: &str, key: &str, body: impl AsRef<[u8]>) -> String {
    put_full(s3, bucket, key, body).await.version_id
}

/// Writes an object and returns its version id and ETag.
pub async fn put_full(s3: &Client, bucket: &str, key: &str, body: impl AsRef<[u8]>) -> Put {
    let out = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.as_ref().to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutObject s3://{bucket}/{key}: {e:?}"));
    Put {
        version_id: out
            .version_id()
            .unwrap_or_else(|| panic!("PutObject s3://{bucket}/{key}: no version id"))
            .to_owned(),
        etag: out.e_tag().unwrap_or_default().trim_matches('"').to_owned(),
    }
}

/// Writes an object with a SHA-256 checksum (S3 keeps it, and a copy keeps it: the evidence a
/// restore without its journal accepts) and returns its version id.
pub async fn put_sha256(s3: &Client, bucket: &str, key: &str, body: impl AsRef<[u8]>) -> String {
    let out = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
        .body(ByteStream::from(body.as_ref().to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutObject s3://{bucket}/{key}: {e:?}"));
    out.version_id()
        .unwrap_or_else(|| panic!("PutObject s3://{bucket}/{key}: no version id"))
        .to_owned()
}

/// Deletes a key without a version id (a delete marker) and returns the marker's version id.
pub async fn delete(s3: &Client, bucket: &str, key: &str) -> String {
    let out = s3
        .delete_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DeleteObject s3://{bucket}/{key}: {e:?}"));
    assert_eq!(
        out.delete_marker(),
        Some(true),
        "no delete marker for {key}"
    );
    out.version_id()
        .unwrap_or_else(|| panic!("DeleteObject s3://{bucket}/{key}: no version id"))
        .to_owned()
}

/// One entry of a raw ListObjectVersions listing, as the server reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawVersion {
    /// The full key.
    pub key: String,
    /// The version id.
    pub version_id: String,
    /// Whether this is a delete marker.
    pub is_marker: bool,
    /// LastModified in RFC 3339 UTC, whole seconds, `Z`.
    pub last_modified: String,
}

/// Every version and delete marker under `prefix`, straight from the SDK, sorted by key and id.
pub async fn raw_versions(s3: &Client, bucket: &str, prefix: &str) -> Vec<RawVersion> {
    let mut out = Vec::new();
    let mut markers: (Option<String>, Option<String>) = (None, None);
    loop {
        let page = s3
            .list_object_versions()
            .bucket(bucket)
            .prefix(prefix)
            .set_key_marker(markers.0.take())
            .set_version_id_marker(markers.1.take())
            .send()
            .await
            .unwrap_or_else(|e| panic!("ListObjectVersions s3://{bucket}/{prefix}: {e:?}"));
        let time = |t: Option<&aws_sdk_s3::primitives::DateTime>| {
            let t = t.expect("LastModified");
            rfc3339(DateTime::from_timestamp(t.secs(), 0).expect("timestamp in range"))
        };
        for v in page.versions() {
            out.push(RawVersion {
                key: v.key().unwrap_or_default().to_owned(),
                version_id: v.version_id().unwrap_or("null").to_owned(),
                is_marker: false,
                last_modified: time(v.last_modified()),
            });
        }
        for m in page.delete_markers() {
            out.push(RawVersion {
                key: m.key().unwrap_or_default().to_owned(),
                version_id: m.version_id().unwrap_or("null").to_owned(),
                is_marker: true,
                last_modified: time(m.last_modified()),
            });
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        markers = (
            page.next_key_marker().map(str::to_owned),
            page.next_version_id_marker().map(str::to_owned),
        );
    }
    out.sort_by(|a, b| (&a.key, &a.version_id).cmp(&(&b.key, &b.version_id)));
    out
}

/// A snapshot of a bucket under `prefix`: `(key, version_id, is_delete_marker)`, sorted.
pub async fn all_versions(s3: &Client, bucket: &str, prefix: &str) -> Vec<(String, String, bool)> {
    raw_versions(s3, bucket, prefix)
        .await
        .into_iter()
        .map(|v| (v.key, v.version_id, v.is_marker))
        .collect()
}

/// Whether a bucket of that name exists on the server.
pub async fn bucket_exists(s3: &Client, bucket: &str) -> bool {
    match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => true,
        Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(404) => false,
        Err(e) => panic!("HeadBucket {bucket}: {e:?}"),
    }
}

/// An instant as `ls` prints it: RFC 3339 UTC, whole seconds, `Z`.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.trunc_subsecs(0)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Sleeps until ~50 ms after the next whole second (LastModified has one-second resolution).
pub async fn sleep_past_second() {
    let into_second = Duration::from_nanos(u64::from(Utc::now().timestamp_subsec_nanos()));
    let wait = Duration::from_secs(1).saturating_sub(into_second) + Duration::from_millis(50);
    tokio::time::sleep(wait).await;
}

/// A cut-off (RFC 3339, whole seconds, `Z`): earlier writes are at or before it, later ones after.
pub async fn cutoff() -> String {
    sleep_past_second().await;
    let t = rfc3339(Utc::now());
    sleep_past_second().await;
    t
}

/// What a run of the binary produced.
#[derive(Debug)]
pub struct Output {
    /// The exit code.
    pub code: i32,
    /// Standard output, as UTF-8.
    pub stdout: String,
    /// Standard error, as UTF-8.
    pub stderr: String,
}

impl Output {
    /// Asserts exit code 0 and returns stdout.
    pub fn success(&self) -> &str {
        assert_eq!(
            self.code, 0,
            "s3central failed\n--- stdout\n{}--- stderr\n{}",
            self.stdout, self.stderr
        );
        &self.stdout
    }
}

/// A program of the test server's venv (`.venv-moto/bin/NAME`, made by `scripts/test`), for the
/// test tooling that runs on it (a second server, cfn-lint, deploy.py).
pub fn venv_tool(name: &str) -> std::path::PathBuf {
    let tool = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".venv-moto/bin")
        .join(name);
    assert!(
        tool.exists(),
        "{} is missing: run the tests with scripts/test (it installs the server and its tools)",
        tool.display()
    );
    tool
}

/// The binary under test: cargo's `CARGO_BIN_EXE_s3central`, or `S3CENTRAL_TEST_BIN` when set
/// (for worktrees that share one target directory, where `target/debug/s3central` is whichever
/// worktree built last: point it at this build's `target/debug/deps/s3central-<hash>`).
pub fn binary() -> String {
    match std::env::var("S3CENTRAL_TEST_BIN") {
        Ok(path) if !path.trim().is_empty() => path,
        _ => env!("CARGO_BIN_EXE_s3central").to_owned(),
    }
}

/// A loopback port nothing listens on: bound to 127.0.0.1 by the OS, then released, so a
/// connection to it is refused at once (never an address off this machine).
pub fn closed_loopback_port() -> u16 {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind a loopback port");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    port
}

/// The state folder (restore journals) of every run of this test process: its own, under the
/// system's temporary folder, so runs never read a developer's journals or those of older runs.
pub fn state_dir() -> std::path::PathBuf {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("s3central-it-state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the tests' state folder");
        dir
    })
    .clone()
}

/// The default restore journal of a target bucket in [`state_dir`].
pub fn journal_path(bucket: &str) -> std::path::PathBuf {
    state_dir().join("journal").join(format!("{bucket}.tsv"))
}

/// The central version a restored object came from: its `s3central-source-version-id`
/// metadata, else the `copied` line of the bucket's restore journal for this very target
/// version (the journal format is documented in src/restore/journal.rs).
pub fn restored_from(
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    metadata: Option<&std::collections::HashMap<String, String>>,
) -> Option<String> {
    if let Some(from) = metadata.and_then(|m| m.get("s3central-source-version-id")) {
        return Some(from.clone());
    }
    let version_id = version_id?;
    let text = std::fs::read_to_string(journal_path(bucket)).ok()?;
    let decode = |f: &str| {
        percent_encoding::percent_decode_str(f)
            .decode_utf8_lossy()
            .into_owned()
    };
    text.lines().rev().find_map(|line| {
        let fields: Vec<String> = line.split('\t').map(decode).collect();
        (fields.len() == 6 && fields[0] == "copied" && fields[1] == key && fields[5] == version_id)
            .then(|| fields[4].clone())
    })
}

/// The binary with `--no-progress`, no IMDS, no caller `S3CENTRAL_*`/`RUST_LOG`, and no endpoint.
pub fn bare_command(args: &[&str]) -> Command {
    let mut cmd = Command::new(binary());
    for var in [
        "S3CENTRAL_BUCKET",
        "S3CENTRAL_OUTPUT",
        "S3CENTRAL_QUIET",
        "S3CENTRAL_NO_PROGRESS",
        "S3CENTRAL_MAX_ATTEMPTS",
        "S3CENTRAL_LIST_CONCURRENCY",
        "S3CENTRAL_JOURNAL",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("S3CENTRAL_STATE_DIR", state_dir())
        .arg("--no-progress")
        .args(args);
    cmd
}

/// The binary pointed at the test server (`--endpoint-url`), ready to run with [`run`].
pub fn command(args: &[&str]) -> Command {
    let mut cmd = bare_command(&["--endpoint-url", &endpoint()]);
    cmd.args(args);
    cmd
}

/// Runs a prepared command with closed stdin; kills it and fails after [`RUN_DEADLINE`].
pub fn run(cmd: Command) -> Output {
    run_until(cmd, RUN_DEADLINE)
}

/// [`run`] with another deadline, for the few runs that do far more than one test's worth.
pub fn run_until(mut cmd: Command, deadline: Duration) -> Output {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.read_to_end(&mut bytes)
                .expect("read the child's output");
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for s3central") {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{shown} did not finish within {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let text = |h: std::thread::JoinHandle<Vec<u8>>, what: &str| {
        String::from_utf8(h.join().expect("reader thread"))
            .unwrap_or_else(|e| panic!("{what} of {shown} is not UTF-8: {e}"))
    };
    Output {
        code: status
            .code()
            .unwrap_or_else(|| panic!("{shown} ended by a signal: {status}")),
        stdout: text(stdout, "stdout"),
        stderr: text(stderr, "stderr"),
    }
}

/// Runs `s3central --endpoint-url <server> --no-progress ARGS...` and captures what it printed.
pub fn s3central(args: &[&str]) -> Output {
    run(command(args))
}

/// Parses stdout as JSON lines, one object per non-empty line.
pub fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .collect()
}

/// A KMS client of the caller's account.
pub async fn kms() -> aws_sdk_kms::Client {
    aws_sdk_kms::Client::new(&sdk_config().await)
}

/// A new symmetric key with a unique alias in the caller's account; gives (alias, ARN).
pub async fn kms_key(label: &str) -> (String, String) {
    let kms = kms().await;
    let key = kms.create_key().send().await.expect("CreateKey");
    let meta = key.key_metadata().expect("key metadata");
    let alias = format!("alias/{}", unique_bucket(label));
    kms.create_alias()
        .alias_name(&alias)
        .target_key_id(meta.key_id())
        .send()
        .await
        .expect("CreateAlias");
    (alias, meta.arn().expect("key ARN").to_owned())
}

/// A versioned bucket whose default encryption is SSE-KMS with `key` (id, ARN or alias).
pub async fn target_bucket(s3: &Client, label: &str, key: &str) -> String {
    let bucket = unique_bucket(label);
    versioned_bucket(s3, &bucket).await;
    set_default_key(s3, &bucket, key).await;
    bucket
}

/// Sets the bucket's default encryption to SSE-KMS with `key`.
pub async fn set_default_key(s3: &Client, bucket: &str, key: &str) {
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(ServerSideEncryption::AwsKms)
                                .kms_master_key_id(key)
                                .build()
                                .expect("default encryption"),
                        )
                        .build(),
                )
                .build()
                .expect("encryption configuration"),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutBucketEncryption {bucket}: {e:?}"));
}

/// Serialises the tests that change the test server's global replication controls (pause,
/// fail_prefix): a drain while another test has paused delivery would answer 409. Every test
/// touching `/moto-api/replication/` goes through [`ReplicationControl`].
static REPLICATION_CONTROL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One call of the test server's admin endpoints (plain HTTP, no credentials); gives the status
/// code and the JSON answer.
pub fn replication_admin(method: &str, path_and_query: &str, body: &str) -> (u16, Value) {
    use std::io::Write;
    let url = endpoint();
    let authority = url
        .strip_prefix("http://")
        .unwrap_or(&url)
        .trim_end_matches('/')
        .to_owned();
    let mut stream = std::net::TcpStream::connect(&authority)
        .unwrap_or_else(|e| panic!("connect to the test server {authority}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(90)))
        .expect("read timeout");
    let request = format!(
        "{method} {path_and_query} HTTP/1.0\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .expect("send admin request");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("read admin answer");
    let (head, json) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, serde_json::from_str(json).unwrap_or(Value::Null))
}

/// Holds the replication controls for one test: a paused delivery or a fail prefix is undone when
/// it is dropped (resume, fail_prefix cleared), and no other test drains meanwhile. Tests that set
/// the batch emulation's faults (fail_description, fail_times, fail_task_key) hold it too.
pub struct ReplicationControl {
    _guard: tokio::sync::MutexGuard<'static, ()>,
}

impl ReplicationControl {
    /// Takes the controls (waits while another test holds them).
    pub async fn take() -> ReplicationControl {
        ReplicationControl {
            _guard: REPLICATION_CONTROL.lock().await,
        }
    }

    /// Every replication of a key starting with `prefix` fails (FAILED on the source).
    pub fn fail_prefix(&self, prefix: &str) {
        let body = serde_json::json!({ "fail_prefix": prefix }).to_string();
        let (status, answer) = replication_admin("POST", "/moto-api/replication/config", &body);
        assert_eq!(status, 200, "{answer}");
    }

    /// Stops delivering (writes still queue, PENDING on the source).
    pub fn pause(&self) {
        let (status, answer) = replication_admin("POST", "/moto-api/replication/pause", "");
        assert_eq!(status, 200, "{answer}");
    }

    /// Delivers again.
    pub fn resume(&self) {
        let (status, answer) = replication_admin("POST", "/moto-api/replication/resume", "");
        assert_eq!(status, 200, "{answer}");
    }

    /// Waits until everything queued is delivered (must not be paused).
    pub fn drain(&self) {
        let (status, answer) =
            replication_admin("POST", "/moto-api/replication/drain?timeout=60", "");
        assert_eq!(status, 200, "replication did not drain: {answer}");
    }
}

impl Drop for ReplicationControl {
    fn drop(&mut self) {
        let _ = replication_admin("POST", "/moto-api/replication/resume", "");
        let _ = replication_admin(
            "POST",
            "/moto-api/replication/config",
            r#"{"fail_prefix": ""}"#,
        );
    }
}

/// Replication paused until the guard drops (then resumed); holds the controls meanwhile.
pub async fn replication_paused() -> ReplicationControl {
    let control = ReplicationControl::take().await;
    control.pause();
    control
}

/// Held by a test that relies on replicas arriving: no other test pauses or fails them meanwhile.
pub async fn replication_running() -> ReplicationControl {
    ReplicationControl::take().await
}

/// Waits until the test server has delivered every pending replica (at most `secs`).
pub fn drain_replication(secs: u32) {
    let (status, answer) = replication_admin(
        "POST",
        &format!("/moto-api/replication/drain?timeout={secs}"),
        "",
    );
    assert_eq!(
        status, 200,
        "replication did not drain in {secs} s: {answer}"
    );
}
