//! Fault injection: `s3central restore` through the fault-injecting proxy (`proxy.rs`) must end
//! with the target in exactly the state at TIME, whatever the proxy does to individual requests.
//!
//! The restores talk to the proxy (`--endpoint-url`); seeding and reading back talk to the test
//! server directly, so the checks never see a fault. Every figure is printed with `eprintln!`
//! (`cargo test faults:: -- --nocapture` shows them).
//!
//! - `restore_2000_keys_through_faults_{server,stream}_mode`: 2,008 keys (2,000 small, odd keys,
//!   four multipart objects, second versions on both sides of the cut-off, delete markers after
//!   it), seeded once for both tests; a fault-free restore through a proxy at rate 0 gives the
//!   fault-free request count, then the restore at 10% faults must exit 0, report no failure, and
//!   leave exactly the expected objects (one version each, bytes, source version, KMS key).
//!   These run with `--retry-mode standard` (see [`LARGE_RETRY`] for why that proves the same).
//! - `adaptive_retry_survives_faults_in_both_modes`: the default, adaptive retry, through the
//!   same faults at the same rate on 202 keys per copy mode (both at once), with the same exact
//!   read-back.
//! - `cut_get_bodies_never_leave_short_or_corrupt_objects`: every object's first GetObject is cut.
//! - `body_cut_on_every_attempt_fails_the_key_and_writes_nothing`: every GetObject is cut.
//! - `proxy_*`: the proxy itself (each kind as S3 clients see it; the draws).

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_sdk_s3::types::ServerSideEncryption;
use aws_sdk_s3::Client;
use futures::StreamExt;
use serde_json::Value;
use tokio::sync::{Mutex, OnceCell};

use crate::common::{
    bare_command, cutoff, delete, endpoint, json_lines, put, raw_versions, restored_from, s3,
    unique_bucket, versioned_bucket, Output,
};
use crate::proxy::{classify, fnv1a, operation, Class, Decision, Fault, Plan, Proxy, SplitMix64};

/// The account whose prefix these tests restore.
const ACCOUNT: &str = "444444444444";

/// Seeds the proxy's draws in every test here.
const SEED: u64 = 0x5EED_2026_0001;

/// Share of eligible requests that get a fault in the large restores.
const FAULT_RATE: f64 = 0.10;

/// Small objects in the large restores.
const SMALL_KEYS: usize = 2000;

/// A guard against a hung restore, not a performance bound: with the SDK's adaptive retry, 10%
/// faults took 218 s (server) and 325 s (stream) per 2,000-key restore here, against ~20 s
/// without faults (throttling answers make adaptive retry's client-side rate limiter slow down).
const RUN_DEADLINE: Duration = Duration::from_secs(900);

/// The retry mode of the 2,000-key restores: standard, not the default adaptive.
///
/// Why that proves the same: in the SDK (aws-smithy-runtime's `StandardRetryStrategy`) both modes
/// are one strategy with the same retry classifiers (which failures are retried at all), the same
/// `--max-attempts`, the same retry quota and the same exponential backoff with jitter; adaptive
/// only adds a client-side rate limiter, which makes requests WAIT before they are sent (and
/// replaces a retry's backoff by its own, longer wait). It never changes whether an attempt is
/// retried or how many attempts a request gets. What the 2,000-key runs prove (every fault kind,
/// in both copy modes, at 10% over 2,000+ keys, ends with every key restored exactly once, from
/// the right version, with the right bytes and key, and the report and request counts agree) is
/// about those decisions and about the engine above the SDK (idempotent writes, whole-object
/// retries of cut bodies, aborted multipart uploads), so it holds in either mode. Under adaptive
/// they took 218 s and 325 s here, nearly all of it the limiter's waits after each injected
/// SlowDown; under standard they take about as long as the fault-free run.
///
/// What only adaptive does (slowing down, waiting up to the backoff cap) is proven by
/// `adaptive_retry_survives_faults_in_both_modes`: the same plan (seed, 10%, every kind) and the
/// same checks on 202 keys per copy mode, with `--retry-mode adaptive` (the default) written out.
const LARGE_RETRY: [&str; 2] = ["--retry-mode", "standard"];

/// Small objects per copy mode in the adaptive-retry restore.
const ADAPTIVE_KEYS: usize = 200;

/// Seeding and reading back: requests in flight at once.
const PARALLEL: usize = 32;

/// Large objects, copied in parts with `--multipart-threshold 100KiB --part-size 64KiB`.
const BIG_SIZE: usize = 300_000;

/// The large restores run one at a time (clean timings, and one 2,000-key load on the server).
static HEAVY: Mutex<()> = Mutex::const_new(());

/// The central bucket of the large restores, seeded once for both copy modes.
static LARGE: OnceCell<Fixture> = OnceCell::const_new();

/// What one selected version must look like in the target.
#[derive(Debug, Clone)]
struct Want {
    version_id: String,
    body: Vec<u8>,
}

/// A seeded central bucket, its cut-off and the state at the cut-off (computed by the test).
#[derive(Debug)]
struct Fixture {
    central: String,
    at: String,
    /// Full key (with the account prefix) -> the version selected at `at`.
    expected: BTreeMap<String, Want>,
    /// ARN of the KMS key restored objects are written with.
    kms_arn: String,
    /// Versions and delete markers in central under the account prefix.
    listed: usize,
    /// Seconds the seeding took.
    seed_seconds: f64,
}

/// Deterministic content of one generation of a key: 100-2000 bytes.
fn body(key: &str, generation: u64) -> Vec<u8> {
    let mut rng = SplitMix64::new(fnv1a(key) ^ generation.rotate_left(32));
    let len = 100 + (rng.next_u64() % 1901) as usize;
    rng.bytes(len)
}

/// Deterministic content of a large object.
fn big_body(key: &str) -> Vec<u8> {
    SplitMix64::new(fnv1a(key)).bytes(BIG_SIZE)
}

/// Writes every `(key, body)` with [`PARALLEL`] puts in flight; gives `(key, version, body)`.
async fn put_all(s3: &Client, bucket: &str, items: Vec<(String, Vec<u8>)>) -> Vec<(String, Want)> {
    futures::stream::iter(items)
        .map(|(key, body)| async move {
            let version_id = put(s3, bucket, &key, &body).await;
            (key, Want { version_id, body })
        })
        .buffer_unordered(PARALLEL)
        .collect()
        .await
}

/// A new KMS key on the test server; gives its ARN.
async fn kms_key() -> String {
    let config = crate::common::sdk_config().await;
    let key = aws_sdk_kms::Client::new(&config)
        .create_key()
        .send()
        .await
        .expect("CreateKey");
    key.key_metadata()
        .and_then(|m| m.arn())
        .expect("key ARN")
        .to_owned()
}

/// The history of the large restores: 2,000 small objects, a few odd keys and large objects, a
/// second version before the cut-off for some keys, and after it new versions, new keys and
/// delete markers that the restore must not pick.
async fn seed_large() -> Fixture {
    let started = Instant::now();
    let s3 = s3().await;
    let central = unique_bucket("faults-central");
    versioned_bucket(&s3, &central).await;
    let small = |i: usize| format!("{ACCOUNT}/d{:02}/k{i:05}.bin", i % 16);
    let mut first: Vec<(String, Vec<u8>)> = (0..SMALL_KEYS)
        .map(|i| {
            let key = small(i);
            let b = body(&key, 1);
            (key, b)
        })
        .collect();
    for j in 0..4 {
        let key = format!("{ACCOUNT}/odd keys/sp ace+plus%pct é ({j}).txt");
        let b = body(&key, 1);
        first.push((key, b));
        let key = format!("{ACCOUNT}/big/{j}.bin");
        let b = big_body(&key);
        first.push((key, b));
    }
    let mut expected: BTreeMap<String, Want> =
        put_all(&s3, &central, first).await.into_iter().collect();
    let mut listed = expected.len();
    // A second version before the cut-off: the restore must pick it.
    let second: Vec<(String, Vec<u8>)> = (0..SMALL_KEYS)
        .step_by(40)
        .map(|i| (small(i), body(&small(i), 2)))
        .collect();
    listed += second.len();
    expected.extend(put_all(&s3, &central, second).await);
    let at = cutoff().await;
    // After the cut-off: newer versions, new keys and delete markers, none of which may appear.
    let mut after: Vec<(String, Vec<u8>)> = (10..SMALL_KEYS)
        .step_by(20)
        .map(|i| (small(i), body(&small(i), 3)))
        .collect();
    after.extend((0..20).map(|j| {
        let key = format!("{ACCOUNT}/late/{j:02}.bin");
        let b = body(&key, 1);
        (key, b)
    }));
    listed += after.len();
    put_all(&s3, &central, after).await;
    let deleted: Vec<String> = (7..SMALL_KEYS).step_by(100).map(small).collect();
    listed += deleted.len();
    futures::stream::iter(deleted)
        .for_each_concurrent(PARALLEL, |key| {
            let s3 = &s3;
            let central = &central;
            async move {
                delete(s3, central, &key).await;
            }
        })
        .await;
    let kms_arn = kms_key().await;
    let seed_seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "faults: seeded {} keys ({listed} versions and markers) in {seed_seconds:.1} s",
        expected.len()
    );
    Fixture {
        central,
        at,
        expected,
        kms_arn,
        listed,
        seed_seconds,
    }
}

/// Runs a prepared command with closed stdin; kills it after `deadline` (then `Err` with what ran).
fn run_within(mut cmd: Command, deadline: Duration) -> Result<Output, String> {
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
            String::from_utf8_lossy(&bytes).into_owned()
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
            return Err(format!("{shown} did not finish within {deadline:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(Output {
        code: status
            .code()
            .unwrap_or_else(|| panic!("{shown} ended by a signal: {status}")),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    })
}

/// What one restore through a proxy gave.
struct Run {
    out: Output,
    summary: Value,
    /// One JSON line per key.
    report: Vec<Value>,
    seconds: f64,
}

/// `s3central --endpoint-url <proxy> --output json restore ... --report FILE`, off the runtime
/// (the proxy keeps running on it).
async fn restore_via(proxy: &Proxy, central: &str, target: &str, at: &str, extra: &[&str]) -> Run {
    let report = tempfile::NamedTempFile::new().expect("temp file");
    let mut args: Vec<String> = [
        "--endpoint-url",
        &proxy.url(),
        "--central-bucket",
        central,
        "--output",
        "json",
        "restore",
        "--account",
        ACCOUNT,
        "--at",
        at,
        "--to-bucket",
        target,
        "--report",
        report.path().to_str().expect("UTF-8 temp path"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    let (out, seconds) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let started = Instant::now();
        let out = run_within(bare_command(&args), RUN_DEADLINE);
        (out, started.elapsed().as_secs_f64())
    })
    .await
    .expect("runner thread");
    let out = out.unwrap_or_else(|e| panic!("{e} after {seconds:.0} s; proxy {}", proxy.stats()));
    let summary = json_lines(&out.stdout)
        .into_iter()
        .find(|l| l["record"] == "summary")
        .unwrap_or_else(|| {
            panic!(
                "no summary\n--- stdout\n{}--- stderr\n{}",
                out.stdout, out.stderr
            )
        });
    let report = json_lines(&std::fs::read_to_string(report.path()).expect("report file"));
    Run {
        out,
        summary,
        report,
        seconds,
    }
}

/// A field of the summary as a number.
fn num(summary: &Value, field: &str) -> u64 {
    summary[field]
        .as_u64()
        .unwrap_or_else(|| panic!("summary has no {field}: {summary}"))
}

/// What the target holds compared with the expected state.
#[derive(Debug, Default)]
struct Check {
    /// Expected objects present with the right bytes, version and key.
    restored: usize,
    /// Expected objects missing, short, corrupt or from the wrong version.
    lost: Vec<String>,
    /// Keys in the target that are not expected.
    unexpected: Vec<String>,
    /// Keys with more than one version, or a delete marker (a write applied twice or undone).
    extra_versions: Vec<String>,
}

/// Lists every version in the target and GETs every object, straight from the test server.
async fn check_target(
    s3: &Client,
    target: &str,
    expected: &BTreeMap<String, Want>,
    kms_arn: &str,
) -> Check {
    let mut check = Check::default();
    let mut versions: BTreeMap<String, usize> = BTreeMap::new();
    for v in raw_versions(s3, target, "").await {
        if v.is_marker {
            check
                .extra_versions
                .push(format!("{} (delete marker)", v.key));
        }
        *versions.entry(v.key).or_default() += 1;
    }
    for (key, n) in &versions {
        if *n > 1 {
            check.extra_versions.push(format!("{key} ({n} versions)"));
        }
        if !expected.contains_key(key) {
            check.unexpected.push(key.clone());
        }
    }
    let versions = &versions;
    let results: Vec<(String, Option<String>)> = futures::stream::iter(expected.iter())
        .map(|(key, want)| async move {
            if !versions.contains_key(key) {
                return (key.clone(), Some("missing".to_owned()));
            }
            let got = match s3.get_object().bucket(target).key(key).send().await {
                Ok(got) => got,
                Err(e) => return (key.clone(), Some(format!("GetObject: {e:?}"))),
            };
            let mut problems = Vec::new();
            if got.server_side_encryption() != Some(&ServerSideEncryption::AwsKms)
                || got.ssekms_key_id() != Some(kms_arn)
            {
                problems.push(format!(
                    "encryption {:?} {:?}",
                    got.server_side_encryption(),
                    got.ssekms_key_id()
                ));
            }
            let from = restored_from(target, key, got.version_id(), got.metadata());
            if from.as_deref() != Some(want.version_id.as_str()) {
                problems.push(format!("restored from {from:?}, not {}", want.version_id));
            }
            match got.body.collect().await {
                Ok(bytes) => {
                    let bytes = bytes.into_bytes();
                    if bytes.len() != want.body.len() {
                        problems.push(format!("{} bytes, not {}", bytes.len(), want.body.len()));
                    } else if bytes.as_ref() != want.body.as_slice() {
                        problems.push("bytes differ".to_owned());
                    }
                }
                Err(e) => problems.push(format!("reading the body: {e}")),
            }
            (
                key.clone(),
                (!problems.is_empty()).then(|| problems.join("; ")),
            )
        })
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    for (key, problem) in results {
        match problem {
            None => check.restored += 1,
            Some(p) => check.lost.push(format!("{key}: {p}")),
        }
    }
    check.lost.sort();
    check
}

/// Asserts the check found the target exactly as expected.
fn assert_exact(check: &Check, what: &str) {
    let first = |v: &[String]| v.iter().take(10).cloned().collect::<Vec<_>>().join("\n  ");
    assert!(
        check.lost.is_empty(),
        "{what}: {} objects lost, the first:\n  {}",
        check.lost.len(),
        first(&check.lost)
    );
    assert!(
        check.unexpected.is_empty(),
        "{what}: {} unexpected keys, the first:\n  {}",
        check.unexpected.len(),
        first(&check.unexpected)
    );
    assert!(
        check.extra_versions.is_empty(),
        "{what}: {} keys with extra versions, the first:\n  {}",
        check.extra_versions.len(),
        first(&check.extra_versions)
    );
}

/// Asserts the report names every expected key once, copied from the expected version.
fn assert_report(report: &[Value], expected: &BTreeMap<String, Want>, what: &str) {
    let failed: Vec<&Value> = report.iter().filter(|l| l["outcome"] == "failed").collect();
    assert!(
        failed.is_empty(),
        "{what}: {} keys reported failed, the first: {:?}",
        failed.len(),
        failed.iter().take(5).collect::<Vec<_>>()
    );
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for line in report {
        assert_eq!(line["outcome"], "copied", "{what}: {line}");
        let key = format!("{ACCOUNT}/{}", line["key"].as_str().expect("key"));
        let version = line["version_id"].as_str().expect("version_id").to_owned();
        assert!(
            seen.insert(key.clone(), version).is_none(),
            "{what}: {key} reported twice"
        );
    }
    assert_eq!(seen.len(), expected.len(), "{what}: report lines");
    for (key, want) in expected {
        assert_eq!(
            seen.get(key).map(String::as_str),
            Some(want.version_id.as_str()),
            "{what}: {key} in the report"
        );
    }
}

/// The large restore in one copy mode: a fault-free baseline through a proxy at rate 0 (the
/// fault-free request count), then the same restore at [`FAULT_RATE`] into another target.
async fn large_restore_through_faults(mode: &str) {
    let fixture = LARGE.get_or_init(seed_large).await;
    let _one_at_a_time = HEAVY.lock().await;
    let test_started = Instant::now();
    let s3 = s3().await;
    let keys = fixture.expected.len();
    let mode_args = [
        "--copy-mode",
        mode,
        "--kms-key",
        fixture.kms_arn.as_str(),
        "--multipart-threshold",
        "100KiB",
        "--part-size",
        "64KiB",
        LARGE_RETRY[0],
        LARGE_RETRY[1],
    ];

    let baseline_target = unique_bucket("faults-baseline");
    versioned_bucket(&s3, &baseline_target).await;
    let clean = Proxy::start(&endpoint(), Plan::new(SEED, 0.0)).await;
    let baseline = restore_via(
        &clean,
        &fixture.central,
        &baseline_target,
        &fixture.at,
        &mode_args,
    )
    .await;
    baseline.out.success();
    assert_eq!(num(&baseline.summary, "copied"), keys as u64);
    let fault_free = num(&baseline.summary, "requests");
    let clean_stats = clean.stats();
    assert_eq!(
        clean_stats.failed_attempts() + clean_stats.faults(Fault::Latency),
        0
    );
    assert_eq!(
        fault_free,
        clean_stats.s3_requests.load(Ordering::Relaxed),
        "{mode}: without faults, s3central's request count must match what the proxy saw"
    );
    drop(clean);

    let target = unique_bucket("faults-target");
    versioned_bucket(&s3, &target).await;
    let plan = Plan::new(SEED, FAULT_RATE)
        .label(&fixture.central, "central")
        .label(&target, "target");
    let proxy = Proxy::start(&endpoint(), plan).await;
    let run = restore_via(&proxy, &fixture.central, &target, &fixture.at, &mode_args).await;
    let stats = proxy.stats();
    let requests = num(&run.summary, "requests");
    // Retries: requests beyond the fault-free run's.
    eprintln!(
        "faults[{mode}]: exit={} seconds={:.1} fault_free_seconds={:.1} requests={requests} \
         fault_free_requests={fault_free} retries={} failed_attempts={}\n\
         faults[{mode}]: proxy {stats}\nfaults[{mode}]: summary {}",
        run.out.code,
        run.seconds,
        baseline.seconds,
        requests.saturating_sub(fault_free),
        stats.failed_attempts(),
        run.summary,
    );
    run.out.success();
    assert_eq!(num(&run.summary, "failed"), 0);
    assert_eq!(num(&run.summary, "copied"), keys as u64);
    assert_eq!(num(&run.summary, "listed"), fixture.listed as u64);
    assert_report(&run.report, &fixture.expected, mode);
    // The report counts each key's requests: keys that needed more than in the fault-free run
    // were retried, and together they account for retries beyond the listing's.
    let per_key = |report: &[Value]| -> BTreeMap<String, u64> {
        report
            .iter()
            .map(|l| {
                let key = l["key"].as_str().expect("key").to_owned();
                (key, l["requests"].as_u64().expect("requests per key"))
            })
            .collect()
    };
    let (clean_keys, faulted_keys) = (per_key(&baseline.report), per_key(&run.report));
    let retried_keys = faulted_keys
        .iter()
        .filter(|(k, n)| **n > clean_keys[k.as_str()])
        .count();
    let key_retries: u64 = faulted_keys.values().sum::<u64>() - clean_keys.values().sum::<u64>();
    eprintln!(
        "faults[{mode}]: report: {retried_keys} keys retried, {key_retries} retried requests"
    );
    assert!(retried_keys > 0, "{mode}: the report shows no retried key");
    assert!(key_retries <= requests.saturating_sub(fault_free));

    let check = check_target(&s3, &target, &fixture.expected, &fixture.kms_arn).await;
    eprintln!(
        "faults[{mode}]: objects_restored={} objects_lost={} unexpected={} extra_versions={} \
         test_seconds={:.1} (seeding, once for both modes: {:.1})",
        check.restored,
        check.lost.len(),
        check.unexpected.len(),
        check.extra_versions.len(),
        test_started.elapsed().as_secs_f64(),
        fixture.seed_seconds,
    );
    assert_exact(&check, mode);
    assert_eq!(check.restored, keys);

    // Every kind was injected; cut bodies need GetObject, which only streaming sends per key.
    for kind in Fault::ALL {
        if kind == Fault::CutBody && mode == "server" {
            continue;
        }
        assert!(
            stats.faults(kind) > 0,
            "{mode}: no {} injected: {stats}",
            kind.name()
        );
    }
    assert_eq!(
        stats.upstream_errors.load(Ordering::Relaxed),
        0,
        "{mode}: the proxy failed to forward: {stats}"
    );
    // Each failed attempt (error, reset, cut body) costs at least one more request.
    assert!(
        requests >= fault_free + stats.failed_attempts(),
        "{mode}: {requests} requests, {fault_free} without faults, {} failed attempts",
        stats.failed_attempts()
    );
}

/// Adaptive retry (the default) through the plan of the large restores (same seed, 10%, every
/// fault kind), on [`ADAPTIVE_KEYS`] small and two multipart objects, once per copy mode: exit 0,
/// no key failed, every fault kind injected (cut bodies in stream mode), and the target read back
/// exactly.
#[tokio::test(flavor = "multi_thread")]
async fn adaptive_retry_survives_faults_in_both_modes() {
    let s3 = s3().await;
    let (central, at, expected) = seed_simple(&s3, "adaptive-central", ADAPTIVE_KEYS, 2).await;
    let kms_arn = kms_key().await;
    let (s3, central, at, expected, kms_arn) = (&s3, &central, &at, &expected, &kms_arn);
    // Both modes at once: the restores spend most of their time in the rate limiter's waits.
    let one_mode = |mode: &'static str| async move {
        let started = Instant::now();
        let target = unique_bucket("adaptive-target");
        versioned_bucket(s3, &target).await;
        let plan = Plan::new(SEED, FAULT_RATE)
            .label(central, "central")
            .label(&target, "target");
        let proxy = Proxy::start(&endpoint(), plan).await;
        let args = [
            "--retry-mode",
            "adaptive",
            "--copy-mode",
            mode,
            "--kms-key",
            kms_arn,
            "--multipart-threshold",
            "100KiB",
            "--part-size",
            "64KiB",
        ];
        let run = restore_via(&proxy, central, &target, at, &args).await;
        let stats = proxy.stats();
        eprintln!(
            "adaptive[{mode}]: exit={} seconds={:.1} requests={}\nadaptive[{mode}]: proxy {stats}",
            run.out.code,
            run.seconds,
            num(&run.summary, "requests"),
        );
        run.out.success();
        assert_eq!(num(&run.summary, "failed"), 0);
        assert_eq!(num(&run.summary, "copied"), expected.len() as u64);
        assert_report(&run.report, expected, &format!("adaptive {mode}"));
        for kind in Fault::ALL {
            if kind == Fault::CutBody && mode == "server" {
                continue;
            }
            assert!(
                stats.faults(kind) > 0,
                "adaptive {mode}: no {} injected: {stats}",
                kind.name()
            );
        }
        let check = check_target(s3, &target, expected, kms_arn).await;
        assert_exact(&check, &format!("adaptive {mode}"));
        assert_eq!(check.restored, expected.len());
        eprintln!(
            "adaptive[{mode}]: objects_restored={} test_seconds={:.1}",
            check.restored,
            started.elapsed().as_secs_f64()
        );
    };
    futures::future::join(one_mode("server"), one_mode("stream")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_2000_keys_through_faults_server_mode() {
    large_restore_through_faults("server").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_2000_keys_through_faults_stream_mode() {
    large_restore_through_faults("stream").await;
}

/// A central bucket with `small` small objects and `big` large ones, all before the cut-off.
async fn seed_simple(
    s3: &Client,
    label: &str,
    small: usize,
    big: usize,
) -> (String, String, BTreeMap<String, Want>) {
    let central = unique_bucket(label);
    versioned_bucket(s3, &central).await;
    let mut items: Vec<(String, Vec<u8>)> = (0..small)
        .map(|i| {
            let key = format!("{ACCOUNT}/c/{i:04}.bin");
            let b = body(&key, 1);
            (key, b)
        })
        .collect();
    items.extend((0..big).map(|j| {
        let key = format!("{ACCOUNT}/big/{j}.bin");
        let b = big_body(&key);
        (key, b)
    }));
    let expected = put_all(s3, &central, items).await.into_iter().collect();
    let at = cutoff().await;
    (central, at, expected)
}

/// Streamed restore arguments: large objects go multipart (five 64 KiB parts).
fn stream_args(kms_arn: &str) -> [&str; 8] {
    [
        "--copy-mode",
        "stream",
        "--kms-key",
        kms_arn,
        "--multipart-threshold",
        "100KiB",
        "--part-size",
        "64KiB",
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn cut_get_bodies_never_leave_short_or_corrupt_objects() {
    let started = Instant::now();
    let s3 = s3().await;
    let (central, at, expected) = seed_simple(&s3, "cut-central", 100, 3).await;
    let kms_arn = kms_key().await;
    let target = unique_bucket("cut-target");
    versioned_bucket(&s3, &target).await;
    // The first GetObject of every object is cut (at a different point each), the rest pass.
    let mut plan = Plan::new(SEED, 0.0)
        .label(&central, "central")
        .label(&target, "target");
    plan.cut_first_gets = 1;
    let proxy = Proxy::start(&endpoint(), plan).await;
    let run = restore_via(&proxy, &central, &target, &at, &stream_args(&kms_arn)).await;
    let stats = proxy.stats();
    eprintln!(
        "cut-first-get: exit={} seconds={:.1} summary={}\ncut-first-get: proxy {stats}",
        run.out.code, run.seconds, run.summary
    );
    run.out.success();
    assert_eq!(num(&run.summary, "copied"), expected.len() as u64);
    assert_report(&run.report, &expected, "cut first GET");
    assert_eq!(
        stats.faults(Fault::CutBody),
        expected.len() as u64,
        "every object's first GetObject is cut once: {stats}"
    );
    // A large object's download was cut after some of its parts were uploaded: the upload was
    // aborted and the object copied again from the start.
    assert!(
        stats.operation("AbortMultipartUpload") >= 1,
        "no multipart upload was cut half-way: {stats}"
    );
    let check = check_target(&s3, &target, &expected, &kms_arn).await;
    eprintln!(
        "cut-first-get: objects_restored={} objects_lost={} test_seconds={:.1}",
        check.restored,
        check.lost.len(),
        started.elapsed().as_secs_f64()
    );
    assert_exact(&check, "cut first GET");
    assert_eq!(check.restored, expected.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn body_cut_on_every_attempt_fails_the_key_and_writes_nothing() {
    let s3 = s3().await;
    let (central, at, expected) = seed_simple(&s3, "cutall-central", 6, 1).await;
    let kms_arn = kms_key().await;
    let target = unique_bucket("cutall-target");
    versioned_bucket(&s3, &target).await;
    let mut plan = Plan::new(SEED, 0.0)
        .label(&central, "central")
        .label(&target, "target");
    plan.cut_first_gets = u32::MAX;
    let proxy = Proxy::start(&endpoint(), plan).await;
    let run = restore_via(&proxy, &central, &target, &at, &stream_args(&kms_arn)).await;
    let stats = proxy.stats();
    eprintln!(
        "cut-every-get: exit={} seconds={:.1} summary={}\ncut-every-get: proxy {stats}",
        run.out.code, run.seconds, run.summary
    );
    assert_eq!(run.out.code, 1, "{}{}", run.out.stdout, run.out.stderr);
    assert_eq!(num(&run.summary, "failed"), expected.len() as u64);
    assert_eq!(num(&run.summary, "copied"), 0);
    assert_eq!(run.report.len(), expected.len());
    for line in &run.report {
        assert_eq!(line["outcome"], "failed", "{line}");
        let error = line["error"].as_str().unwrap_or_default();
        assert!(error.contains("broke off"), "{line}");
    }
    let cuts = stats.faults(Fault::CutBody);
    let keys = expected.len() as u64;
    assert!(
        cuts % keys == 0 && cuts / keys >= 2,
        "each object is downloaded the same number of times, more than once: {cuts} cuts, {keys} keys"
    );
    eprintln!(
        "cut-every-get: whole-object attempts per key = {}",
        cuts / keys
    );
    assert_eq!(
        stats.operation("AbortMultipartUpload"),
        stats.operation("CreateMultipartUpload"),
        "every multipart upload of a broken download is aborted: {stats}"
    );
    // Nothing short was written, and no multipart upload was left behind.
    assert!(
        raw_versions(&s3, &target, "").await.is_empty(),
        "a failed download left something in the target"
    );
    let uploads = s3
        .list_multipart_uploads()
        .bucket(&target)
        .send()
        .await
        .expect("ListMultipartUploads");
    assert!(
        uploads.uploads().is_empty(),
        "multipart uploads left behind: {:?}",
        uploads.uploads()
    );
}

/// An S3 client for the proxy that never retries, to see each fault as it is.
async fn s3_without_retries(url: &str) -> Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(url)
        .retry_config(RetryConfig::disabled())
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .load()
        .await;
    let conf = aws_sdk_s3::config::Builder::from(&config)
        .force_path_style(true)
        .build();
    Client::from_conf(conf)
}

#[tokio::test(flavor = "multi_thread")]
async fn proxy_injects_each_fault_kind_as_specified() {
    let direct = s3().await;
    let bucket = unique_bucket("proxy-kinds");
    versioned_bucket(&direct, &bucket).await;
    let key = format!("{ACCOUNT}/object.bin");
    let content = body(&key, 1);
    put(&direct, &bucket, &key, &content).await;
    for kind in Fault::ALL {
        let mut plan = Plan::new(SEED, 1.0);
        plan.kinds = vec![kind];
        let proxy = Proxy::start(&endpoint(), plan).await;
        let client = s3_without_retries(&proxy.url()).await;
        // Bucket-level calls are never faulted, even at rate 1.
        client
            .head_bucket()
            .bucket(&bucket)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{kind:?}: HeadBucket faulted: {e:?}"));
        let started = Instant::now();
        let got = client.get_object().bucket(&bucket).key(&key).send().await;
        match kind {
            Fault::SlowDown | Fault::SlowDownRetryAfter | Fault::InternalError => {
                let e = got.expect_err("an error status");
                let raw = e.raw_response().expect("a response");
                let (status, code) = if kind == Fault::InternalError {
                    (500, "InternalError")
                } else {
                    (503, "SlowDown")
                };
                assert_eq!(raw.status().as_u16(), status, "{kind:?}");
                assert_eq!(
                    aws_sdk_s3::error::ProvideErrorMetadata::code(&e),
                    Some(code),
                    "{kind:?}: {e:?}"
                );
                assert_eq!(
                    raw.headers().get("retry-after"),
                    (kind == Fault::SlowDownRetryAfter).then_some("1"),
                    "{kind:?}"
                );
            }
            Fault::Reset => {
                let e = got.expect_err("no response");
                assert!(
                    e.raw_response().is_none(),
                    "{kind:?}: got a response: {e:?}"
                );
            }
            Fault::CutBody => {
                let got = got.expect("status and headers arrive");
                assert_eq!(got.content_length(), Some(content.len() as i64));
                let mut body = got.body;
                let mut received = 0usize;
                let mut broke = false;
                while let Some(chunk) = body.next().await {
                    match chunk {
                        Ok(bytes) => received += bytes.len(),
                        Err(_) => {
                            broke = true;
                            break;
                        }
                    }
                }
                assert!(broke, "the cut body ended without an error");
                assert!(
                    received < content.len(),
                    "{received} bytes of {}",
                    content.len()
                );
            }
            Fault::Latency => {
                let got = got.expect("forwarded");
                let bytes = got.body.collect().await.expect("body").into_bytes();
                assert_eq!(bytes.as_ref(), content.as_slice());
                assert!(started.elapsed() >= Duration::from_millis(20));
            }
        }
        let stats = proxy.stats();
        assert_eq!(stats.faults(kind), 1, "{kind:?}: {stats}");
        assert_eq!(
            stats.eligible.load(Ordering::Relaxed),
            1,
            "{kind:?}: {stats}"
        );
        assert_eq!(
            stats.requests.load(Ordering::Relaxed),
            2,
            "{kind:?}: {stats}"
        );
    }
}

#[test]
fn proxy_draws_are_deterministic_and_near_the_rate() {
    let plan = Plan::new(SEED, FAULT_RATE);
    let draws = |plan: &Plan| -> Vec<Option<Decision>> {
        (0..20_000)
            .map(|i| {
                plan.decide(
                    Class::ObjectRead,
                    &format!("GET central/k/{i}?x-id=GetObject"),
                    i % 3,
                )
            })
            .collect()
    };
    let first = draws(&plan);
    assert_eq!(first, draws(&plan.clone()), "same seed, same draws");
    assert_ne!(
        first,
        draws(&Plan::new(SEED + 1, FAULT_RATE)),
        "another seed, other draws"
    );
    let faulted = first.iter().flatten().count();
    assert!(
        (1_700..=2_300).contains(&faulted),
        "{faulted} of 20,000 faulted at rate {FAULT_RATE}"
    );
    for kind in Fault::ALL {
        let n = first.iter().flatten().filter(|d| d.fault() == kind).count();
        assert!(n > 200, "{} drawn {n} times", kind.name());
    }
    // Cut bodies only where there is a body worth cutting; never outside object data.
    for i in 0..2_000 {
        let id = format!("HEAD central/k/{i}");
        assert!(!matches!(
            plan.decide(Class::ObjectOther, &id, 0),
            Some(Decision::Cut { .. })
        ));
        assert_eq!(plan.decide(Class::S3Other, &id, 0), None);
        assert_eq!(plan.decide(Class::NotS3, &id, 0), None);
    }
    // The first GETs of each object are cut on demand, the later ones are not.
    let mut cut = Plan::new(SEED, 0.0);
    cut.cut_first_gets = 2;
    assert!(matches!(
        cut.decide(Class::ObjectRead, "GET a/b", 0),
        Some(Decision::Cut { .. })
    ));
    assert!(matches!(
        cut.decide(Class::ObjectRead, "GET a/b", 1),
        Some(Decision::Cut { .. })
    ));
    assert_eq!(cut.decide(Class::ObjectRead, "GET a/b", 2), None);
    assert_eq!(cut.decide(Class::ListVersions, "GET a/?versions", 0), None);
    // What counts as what.
    let class = |method: &str, uri: &str, header: Option<&str>| {
        let mut req = hyper::Request::builder().method(method).uri(uri);
        if let Some(h) = header {
            req = req.header(h, "x");
        }
        classify(&req.body(()).expect("request"))
    };
    assert_eq!(
        class("GET", "/b/k/x?versionId=1&x-id=GetObject", None),
        Class::ObjectRead
    );
    assert_eq!(
        class("GET", "/b/k?tagging&versionId=1", None),
        Class::ObjectOther
    );
    assert_eq!(class("HEAD", "/b/k?versionId=1", None), Class::ObjectOther);
    assert_eq!(
        class("PUT", "/b/k?x-id=CopyObject", Some("x-amz-copy-source")),
        Class::ObjectOther
    );
    assert_eq!(
        class("PUT", "/b/k?partNumber=1&uploadId=u", None),
        Class::ObjectOther
    );
    assert_eq!(
        class("GET", "/b?versions&prefix=p", None),
        Class::ListVersions
    );
    assert_eq!(class("GET", "/b?versioning", None), Class::S3Other);
    assert_eq!(class("HEAD", "/b", None), Class::S3Other);
    assert_eq!(class("POST", "/b/k?uploads", None), Class::S3Other);
    assert_eq!(class("POST", "/", Some("x-amz-target")), Class::NotS3);
    assert_eq!(class("POST", "/", None), Class::NotS3);
    let op = |method: &str, uri: &str, copy: bool| {
        let mut req = hyper::Request::builder().method(method).uri(uri);
        if copy {
            req = req.header("x-amz-copy-source", "b/k");
        }
        operation(&req.body(()).expect("request"))
    };
    assert_eq!(
        op("GET", "/b/k?versionId=1&x-id=GetObject", false),
        "GetObject"
    );
    assert_eq!(op("PUT", "/b/k?x-id=PutObject", false), "PutObject");
    assert_eq!(op("PUT", "/b/k?x-id=CopyObject", true), "CopyObject");
    assert_eq!(
        op("PUT", "/b/k?partNumber=2&uploadId=u&x-id=UploadPart", false),
        "UploadPart"
    );
    assert_eq!(
        op("PUT", "/b/k?partNumber=2&uploadId=u", true),
        "UploadPartCopy"
    );
    assert_eq!(
        op("DELETE", "/b/k?uploadId=u&x-id=AbortMultipartUpload", false),
        "AbortMultipartUpload"
    );
    assert_eq!(
        op("POST", "/b/k?uploads&x-id=CreateMultipartUpload", false),
        "CreateMultipartUpload"
    );
    assert_eq!(
        op("GET", "/b?versions&prefix=p", false),
        "ListObjectVersions"
    );
    assert_eq!(op("HEAD", "/b", false), "HeadBucket");
    assert_eq!(op("POST", "/", false), "NotS3");
}

/// Issue 19, finding 6: a key the writer is refused names, in its report line, the identity that
/// was refused and the options that choose another; the other keys are restored.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_key_names_the_writing_identity_in_its_report() {
    let s3 = s3().await;
    let (central, at, expected) = seed_simple(&s3, "denied-central", 4, 0).await;
    let kms_arn = kms_key().await;
    let target = unique_bucket("denied-target");
    versioned_bucket(&s3, &target).await;
    let mut plan = Plan::new(SEED, 0.0);
    plan.deny_puts_containing = Some("c/0002.bin".to_owned());
    let proxy = Proxy::start(&endpoint(), plan).await;
    let run = restore_via(&proxy, &central, &target, &at, &["--kms-key", &kms_arn]).await;
    assert_eq!(run.out.code, 1, "{}{}", run.out.stdout, run.out.stderr);
    assert_eq!(num(&run.summary, "copied"), 3, "{}", run.summary);
    assert_eq!(num(&run.summary, "failed"), 1, "{}", run.summary);
    let failed: Vec<&Value> = run
        .report
        .iter()
        .filter(|l| l["outcome"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{:?}", run.report);
    let error = failed[0]["error"].as_str().expect("an error");
    assert!(
        error.contains("access denied")
            && error.contains("(as your own credentials; --target-role-arn or --target-profile writes as another identity)"),
        "{error}"
    );
    assert_eq!(failed[0]["key"], "c/0002.bin");
    assert_eq!(expected.len(), 4);
}
