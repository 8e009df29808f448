//! Kill anywhere: one restore of 300 keys SIGKILLed at ten points, from start-up and listing to
//! the last copies, each kill followed by a re-run to completion; and `setup` SIGKILLed mid-apply,
//! then re-run until a third run plans nothing.
//!
//! After every kill + re-run pair the target must hold exactly the state at TIME (keys, bytes,
//! source version ids, KMS key read back) with exactly one version per key: a key copied twice
//! across the pair shows up as a second version. Central's versions carry SHA-256 checksums, so
//! a single-part copy the killed run had in flight (a `copying` line with no `copied` line) is
//! proven in place by its checksum. The one exception: a multipart copy in flight at the kill.
//! Its target version has a checksum of its parts, never equal to central's, and nothing else
//! the target shows may be trusted (docs/security.md), so it is copied again: such keys, and
//! only such keys, may hold two versions. Figures go to stderr (`--nocapture`).

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::types::ServerSideEncryption;
use aws_sdk_s3::Client;
use futures::StreamExt;

use crate::common::{
    all_versions, bucket_exists, command, cutoff, journal_path, json_lines, put, put_sha256,
    restored_from, s3, s3central, sdk_config, unique_bucket, versioned_bucket,
};
use crate::common::{kms, kms_key, target_bucket};

/// The account whose prefix is restored.
const ACCOUNT: &str = "333333333333";
/// Keys at TIME.
const KEYS: usize = 300;
/// Every this-many-th key is [`BIG`] bytes, above the multipart threshold the restores use.
const BIG_EVERY: usize = 30;
/// Size of the multipart keys (4 parts of 1 KiB).
const BIG: usize = 4096;
/// How long one kill point may take to reach its kill before the test fails.
const POINT_DEADLINE: Duration = Duration::from_secs(120);

/// The body of version `version` of key `i`: small, or [`BIG`] bytes for every [`BIG_EVERY`]th key.
fn body(i: usize, version: u32) -> Vec<u8> {
    let line = format!("key {i:03} version {version} ");
    let len = if i % BIG_EVERY == 0 { BIG } else { 40 + i % 60 };
    line.bytes().cycle().take(len).collect()
}

/// The central bucket and what the restores must produce.
struct Central {
    s3: Client,
    bucket: String,
    /// The cut-off restored to.
    at: String,
    /// Relative key -> (selected central version id, bytes).
    expected: BTreeMap<String, (String, Vec<u8>)>,
}

/// Seeds the central bucket concurrently: 300 keys, some with an older version or a delete marker
/// before the cut-off, then overwrites and deletes after it, plus a neighbouring account.
async fn seed_central() -> Central {
    let s3 = s3().await;
    let bucket = unique_bucket("kill-central");
    versioned_bucket(&s3, &bucket).await;
    let started = Instant::now();
    let seeded: Vec<(String, String, Vec<u8>)> = futures::stream::iter(0..KEYS)
        .map(|i| {
            let (s3, bucket) = (s3.clone(), bucket.clone());
            async move {
                let rel = format!("k/{i:03}");
                let key = format!("{ACCOUNT}/{rel}");
                if i % 7 == 0 {
                    put(&s3, &bucket, &key, body(i, 0)).await;
                }
                let selected = body(i, 1);
                let version = put_sha256(&s3, &bucket, &key, &selected).await;
                if i % 11 == 0 {
                    // A delete marker before TIME: ignored by default, so the key comes back.
                    crate::common::delete(&s3, &bucket, &key).await;
                }
                (rel, version, selected)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    for other in [
        "333333333334/k/000",
        "33333333333/k/000",
        "3333333333333/k/000",
    ] {
        put(&s3, &bucket, other, "another account").await;
    }
    let at = cutoff().await;
    futures::stream::iter((0..KEYS).filter(|i| i % 5 == 0 || i % 13 == 0))
        .for_each_concurrent(16, |i| {
            let (s3, bucket) = (s3.clone(), bucket.clone());
            async move {
                let key = format!("{ACCOUNT}/k/{i:03}");
                if i % 5 == 0 {
                    put(&s3, &bucket, &key, body(i, 2)).await;
                } else {
                    crate::common::delete(&s3, &bucket, &key).await;
                }
            }
        })
        .await;
    let versions = all_versions(&s3, &bucket, "").await.len();
    eprintln!(
        "kill test: seeded {versions} central versions ({KEYS} keys at TIME) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Central {
        s3,
        bucket,
        at,
        expected: seeded.into_iter().map(|(k, v, b)| (k, (v, b))).collect(),
    }
}

/// When the restore is killed.
#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// This long after the process started (start-up checks, listing).
    Millis(u64),
    /// As soon as the target holds at least this many versions.
    Versions(usize),
}

/// The multipart keys ([`BIG`]) whose copy the target bucket's journal has in doubt: a
/// `copying` line with no `copied` line after it (the format is in src/restore/journal.rs).
fn multipart_in_doubt(target: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(journal_path(target)).unwrap_or_default();
    let mut doubt = BTreeSet::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["copying", key, ..] => doubt.insert(key.to_string()),
            ["copied", key, ..] => doubt.remove(*key),
            _ => false,
        };
    }
    doubt.retain(|key| {
        key.rsplit('/')
            .next()
            .and_then(|i| i.parse::<usize>().ok())
            .is_some_and(|i| i % BIG_EVERY == 0)
    });
    doubt
}

/// Sends SIGKILL and asserts the process died of it (not of having finished already).
fn kill(mut child: Child, what: &str) {
    child.kill().expect("send SIGKILL");
    let status = child.wait().expect("wait for the killed process");
    assert_eq!(
        status.signal(),
        Some(9),
        "{what}: the process had already ended ({status}) when it was to be killed"
    );
}

/// What one kill point produced.
struct PointResult {
    concurrency: String,
    versions_at_kill: usize,
    copied: u64,
    unchanged: u64,
    duplicates: usize,
    open_uploads: Option<usize>,
    seconds: f64,
}

/// Restores into a fresh target, kills at `at`, re-runs to completion and checks the target.
///
/// `None` when the restore finished before the kill point was reached (a busy machine can let
/// the target fill up between two polls); the caller then tries again with fewer copies in flight.
async fn kill_point(
    c: &Central,
    alias: &str,
    arn: &str,
    at: KillAt,
    mode: &str,
    concurrency: &str,
) -> Option<PointResult> {
    let started = Instant::now();
    let s3 = &c.s3;
    let target = target_bucket(s3, "kill-target", alias).await;
    let args: Vec<String> = [
        "--central-bucket",
        &c.bucket,
        "restore",
        "--account",
        ACCOUNT,
        "--at",
        &c.at,
        "--to-bucket",
        &target,
        "--concurrency",
        concurrency,
        "--copy-mode",
        mode,
        "--multipart-threshold",
        "2KiB",
        "--part-size",
        "1KiB",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let what = format!("kill at {at:?} ({mode})");
    let mut child = command(&argv)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn s3central restore");
    match at {
        KillAt::Millis(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
        KillAt::Versions(n) => loop {
            if all_versions(s3, &target, "").await.len() >= n {
                break;
            }
            if let Some(status) = child.try_wait().expect("try_wait") {
                eprintln!(
                    "{what}: the restore ended ({status}) at --concurrency {concurrency} before the target held {n} versions"
                );
                return None;
            }
            assert!(
                started.elapsed() < POINT_DEADLINE,
                "{what}: the restore made no progress"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        },
    }
    kill(child, &what);
    // Requests the killed process had already sent may still complete on the server.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let versions_at_kill = all_versions(s3, &target, "").await.len();
    let multipart_in_doubt = multipart_in_doubt(&target);

    // The re-run may go faster: its concurrency does not change what it must copy.
    let mut rerun = vec!["--output", "json"];
    rerun.extend(&argv);
    let at_concurrency = rerun
        .iter()
        .position(|a| *a == "--concurrency")
        .expect("flag")
        + 1;
    rerun[at_concurrency] = "16";
    let out = s3central(&rerun);
    out.success();
    let summary = json_lines(&out.stdout)
        .into_iter()
        .find(|l| l["record"] == "summary")
        .unwrap_or_else(|| panic!("{what}: no summary in {}", out.stdout));
    let copied = summary["copied"].as_u64().expect("copied");
    let unchanged = summary["unchanged"].as_u64().expect("unchanged");

    // Exactly one version per expected key, no delete markers, nothing else.
    let versions = all_versions(s3, &target, "").await;
    assert!(
        versions.iter().all(|(_, _, marker)| !marker),
        "{what}: delete marker in the target"
    );
    let mut per_key: BTreeMap<&str, usize> = BTreeMap::new();
    for (key, _, _) in &versions {
        *per_key.entry(key.as_str()).or_default() += 1;
    }
    let want: BTreeSet<String> = c
        .expected
        .keys()
        .map(|rel| format!("{ACCOUNT}/{rel}"))
        .collect();
    let got: BTreeSet<String> = per_key.keys().map(|k| k.to_string()).collect();
    assert_eq!(
        got, want,
        "{what}: the target's keys differ from the state at TIME"
    );
    let twice: Vec<(&str, usize)> = per_key
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(k, n)| (*k, *n))
        .collect();
    let duplicates = versions.len() - per_key.len();
    let unexplained: Vec<&(&str, usize)> = twice
        .iter()
        .filter(|(k, n)| *n != 2 || !multipart_in_doubt.contains(*k))
        .collect();
    assert!(
        unexplained.is_empty(),
        "{what}: keys copied more than once across the kill and the re-run, other than multipart copies in doubt {multipart_in_doubt:?}: {unexplained:?}"
    );
    assert_eq!(copied + unchanged, KEYS as u64, "{what}: {summary}");
    assert_eq!(
        unchanged as usize + twice.len(),
        versions_at_kill,
        "{what}: the re-run did not skip exactly the keys the killed run had copied, less the multipart copies in doubt ({summary})"
    );

    // Read every object back: bytes, the central version it came from, the KMS key.
    let mismatches: Vec<String> = futures::stream::iter(c.expected.iter())
        .map(|(rel, (version, bytes))| {
            let target = target.clone();
            async move {
                let key = format!("{ACCOUNT}/{rel}");
                let got = s3
                    .get_object()
                    .bucket(&target)
                    .key(&key)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("GetObject {key}: {e:?}"));
                let mut wrong = Vec::new();
                if got.server_side_encryption() != Some(&ServerSideEncryption::AwsKms)
                    || got.ssekms_key_id() != Some(arn)
                {
                    wrong.push(format!("{key}: not SSE-KMS under {arn}"));
                }
                let from = restored_from(&target, &key, got.version_id(), got.metadata());
                if from.as_deref() != Some(version.as_str()) {
                    wrong.push(format!("{key}: restored from {from:?}, not {version}"));
                }
                let data = got.body.collect().await.expect("body").into_bytes();
                if data.as_ref() != bytes.as_slice() {
                    wrong.push(format!("{key}: {} bytes differ", data.len()));
                }
                wrong
            }
        })
        .buffer_unordered(8)
        .flat_map(futures::stream::iter)
        .collect()
        .await;
    assert!(mismatches.is_empty(), "{what}: {mismatches:#?}");
    // Multipart uploads the killed run left open (they hold storage until aborted).
    let open_uploads = s3
        .list_multipart_uploads()
        .bucket(&target)
        .send()
        .await
        .ok()
        .map(|o| o.uploads().len());
    Some(PointResult {
        concurrency: concurrency.to_owned(),
        versions_at_kill,
        copied,
        unchanged,
        duplicates,
        open_uploads,
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_killed_at_ten_points_resumes_without_copying_twice() {
    let started = Instant::now();
    let c = seed_central().await;
    let (alias, arn) = kms_key("kill-key").await;
    let mut points = vec![KillAt::Millis(150)];
    points.extend((1..=9).map(|n| KillAt::Versions(n * KEYS / 10)));
    assert_eq!(points.len(), 10);
    let mut duplicates = 0;
    let mut restored = 0;
    for (i, &at) in points.iter().enumerate() {
        // Alternate server-side and streamed copies; both have a multipart path (4 KiB keys).
        let mode = if i % 2 == 0 { "server" } else { "stream" };
        let mut result = None;
        for concurrency in ["4", "2", "1"] {
            result = kill_point(&c, &alias, &arn, at, mode, concurrency).await;
            if result.is_some() {
                break;
            }
        }
        let r = result.unwrap_or_else(|| panic!("kill point {at:?} was never reached"));
        eprintln!(
            "kill point {:>2} {:<16} {mode:<6} --concurrency {}: {:>3} of {KEYS} in the target when killed; re-run copied {:>3}, unchanged {:>3}; duplicates {}; open multipart uploads left {}; {:.1} s",
            i + 1,
            format!("{at:?}"),
            r.concurrency,
            r.versions_at_kill,
            r.copied,
            r.unchanged,
            r.duplicates,
            r.open_uploads.map_or("n/a".to_owned(), |n| n.to_string()),
            r.seconds
        );
        duplicates += r.duplicates;
        restored += r.copied as usize + r.unchanged as usize;
    }
    eprintln!(
        "kill test: kill points tried {}, duplicate copies {duplicates} (each a multipart copy in doubt, checked per point), objects restored and read back {restored}, {:.1} s in all",
        points.len(),
        started.elapsed().as_secs_f64()
    );
}

/// When `setup` is killed.
#[derive(Debug, Clone, Copy)]
enum SetupKill {
    /// As soon as the central key's alias exists.
    CentralAlias,
    /// As soon as the central bucket exists.
    CentralBucket,
    /// As soon as this many source buckets exist (accounts are applied one at a time).
    SourceBuckets(usize),
}

/// Source accounts per `setup` kill point.
const SETUP_ACCOUNTS: usize = 4;

/// Account ids nobody else uses on the server: arbitrary 12-digit ids the server lets a caller
/// assume roles into (no organization needed when `org_id` is given).
fn setup_accounts(point: usize) -> Vec<String> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .subsec_nanos() as u64;
    let base = 400_000_000_000u64 + ((u64::from(std::process::id()) ^ nanos) % 10_000_000) * 100;
    (0..SETUP_ACCOUNTS)
        .map(|j| (base + point as u64 * 10 + j as u64).to_string())
        .collect()
}

/// `s3central --output json setup ARGS --config FILE`.
fn setup_run(config: &std::path::Path, extra: &[&str]) -> crate::common::Output {
    let path = config.to_str().expect("UTF-8 path");
    let mut args = vec!["--output", "json", "setup"];
    args.extend(extra);
    args.extend(["--config", path]);
    s3central(&args)
}

/// KMS keys in `account` (through its OrganizationAccountAccessRole).
async fn keys_in(account: &str) -> usize {
    let base = sdk_config().await;
    let provider = aws_config::sts::AssumeRoleProvider::builder(format!(
        "arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
    ))
    .session_name("kill-tests")
    .configure(&base)
    .build()
    .await;
    let config = base
        .to_builder()
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(provider),
        )
        .build();
    aws_sdk_kms::Client::new(&config)
        .list_keys()
        .send()
        .await
        .expect("ListKeys")
        .keys()
        .len()
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_killed_mid_apply_converges_on_rerun() {
    let started = Instant::now();
    let s3 = s3().await;
    let kms = kms().await;
    let points = [
        SetupKill::CentralAlias,
        SetupKill::CentralBucket,
        SetupKill::SourceBuckets(1),
        SetupKill::SourceBuckets(3),
    ];
    let mut orphans_total = 0;
    for (i, &point) in points.iter().enumerate() {
        let point_started = Instant::now();
        let accounts = setup_accounts(i);
        let central = unique_bucket("kill-setup-central");
        let alias = format!("alias/{}", unique_bucket("kill-setup"));
        let sources: Vec<String> = accounts
            .iter()
            .map(|a| unique_bucket(&format!("kill-src-{}", &a[8..])))
            .collect();
        let mut text = format!(
            "[central]\nbucket = \"{central}\"\nkms_alias = \"{alias}\"\norg_id = \"o-abcd123456\"\n"
        );
        for (account, bucket) in accounts.iter().zip(&sources) {
            text.push_str(&format!(
                "\n[[source]]\naccount = \"{account}\"\nbucket = \"{bucket}\"\n"
            ));
        }
        let config = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(config.path(), &text).expect("write config");
        let path = config.path().to_str().expect("UTF-8 path");
        let what = format!("setup killed at {point:?}");

        let mut child = command(&["setup", "--yes", "--concurrency", "1", "--config", path])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn s3central setup");
        loop {
            let reached = match point {
                SetupKill::CentralAlias => kms.describe_key().key_id(&alias).send().await.is_ok(),
                SetupKill::CentralBucket => bucket_exists(&s3, &central).await,
                SetupKill::SourceBuckets(n) => {
                    let mut existing = 0;
                    for b in &sources {
                        existing += usize::from(bucket_exists(&s3, b).await);
                    }
                    existing >= n
                }
            };
            if reached {
                break;
            }
            if let Some(status) = child.try_wait().expect("try_wait") {
                panic!("{what}: setup ended ({status}) before the kill point");
            }
            assert!(
                point_started.elapsed() < POINT_DEADLINE,
                "{what}: setup made no progress"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        kill(child, &what);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let existing_sources = {
            let mut n = 0;
            for b in &sources {
                n += usize::from(bucket_exists(&s3, b).await);
            }
            n
        };

        // The re-run converges: every account done, no failure.
        let second = setup_run(config.path(), &["--yes"]);
        assert_eq!(
            second.code, 0,
            "{what}: re-run failed\n{}{}",
            second.stdout, second.stderr
        );
        let lines = json_lines(&second.stdout);
        let results: Vec<_> = lines.iter().filter(|l| l["record"] == "result").collect();
        assert_eq!(results.len(), SETUP_ACCOUNTS, "{what}: {}", second.stdout);
        assert!(
            results.iter().all(|r| r["error"].is_null()),
            "{what}: {}",
            second.stdout
        );
        let writes = lines
            .iter()
            .find(|l| l["record"] == "summary")
            .map(|s| s["writes"].clone())
            .unwrap_or_default();

        // A third run plans nothing.
        let third = setup_run(config.path(), &["--dry-run", "--detailed-exitcode"]);
        assert_eq!(
            third.code, 0,
            "{what}: changes still pending after the re-run\n{}{}",
            third.stdout, third.stderr
        );
        let pending: Vec<_> = json_lines(&third.stdout)
            .into_iter()
            .filter(|l| l["record"] == "plan" && l["action"] != "unchanged")
            .collect();
        assert!(pending.is_empty(), "{what}: {pending:?}");
        for b in std::iter::once(&central).chain(&sources) {
            assert!(bucket_exists(&s3, b).await, "{what}: bucket {b} missing");
        }
        // Keys made by a killed run that never got their alias stay behind (reported, not failed).
        let mut orphans = 0;
        for account in &accounts {
            orphans += keys_in(account).await.saturating_sub(1);
        }
        orphans_total += orphans;
        eprintln!(
            "setup kill point {} {:<17}: {existing_sources} of {SETUP_ACCOUNTS} source buckets existed at the kill; re-run wrote {writes} call(s); third run: 0 changes; orphaned source KMS keys {orphans}; {:.1} s",
            i + 1,
            format!("{point:?}"),
            point_started.elapsed().as_secs_f64()
        );
    }
    eprintln!(
        "setup kill test: kill points tried {}, all converged, orphaned source KMS keys {orphans_total}, {:.1} s in all",
        points.len(),
        started.elapsed().as_secs_f64()
    );
}
