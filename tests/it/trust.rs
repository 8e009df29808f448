//! What a restore trusts (issue 18, finding 1; the threat model in docs/security.md): nothing the
//! target says about itself decides that a key is in place. Only the target's version id, the
//! journal's record of that exact target version, or equal SHA-256 checksums do.
//!
//! The attacker here has admin in the account whose bucket is restored: after a good restore,
//! they write same-size garbage carrying s3central's provenance metadata, same-size garbage with
//! the very CRC32 of the real content (a CRC can be forced by changing 4 bytes), same-size
//! garbage with its own SHA-256, and a same-size overwrite of a key whose copy the journal has in
//! doubt. The next restore must copy each of them, and only them.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ChecksumMode;
use aws_sdk_s3::Client;
use serde_json::Value;

use crate::common::{
    all_versions, command, cutoff, json_lines, kms_key, put, put_sha256, s3, s3central,
    target_bucket, unique_bucket, versioned_bucket,
};

const ACCOUNT: &str = "424242424242";

/// PutObject with the SDK's default checksum (CRC32) and one user metadata entry.
async fn put_meta(s3: &Client, bucket: &str, key: &str, body: &[u8], meta: (&str, &str)) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .metadata(meta.0, meta.1)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutObject {key}: {e:?}"));
}

/// The checksums S3 shows for the current version of a key: (CRC32, SHA-256).
async fn checksums(s3: &Client, bucket: &str, key: &str) -> (Option<String>, Option<String>) {
    let head = s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap_or_else(|e| panic!("HeadObject {key}: {e:?}"));
    (
        head.checksum_crc32().map(str::to_owned),
        head.checksum_sha256().map(str::to_owned),
    )
}

/// CRC-32 (IEEE, as S3's CRC32 checksum), bit by bit.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// `prefix` followed by 4 bytes chosen so that the whole has the CRC-32 `want`: a CRC is affine
/// in its input bits, so the 32 unknown bits solve a 32x32 linear system over GF(2).
fn forge_crc32(prefix: &[u8], want: u32) -> Vec<u8> {
    let with = |x: u32| {
        let mut data = prefix.to_vec();
        data.extend_from_slice(&x.to_le_bytes());
        crc32(&data)
    };
    let base = with(0);
    // Rows of the augmented system: for each output bit, the input bits that flip it.
    let columns: Vec<u32> = (0..32).map(|i| with(1 << i) ^ base).collect();
    let rhs = want ^ base;
    let mut rows: Vec<(u32, bool)> = (0..32)
        .map(|bit| {
            let mut row = 0u32;
            for (i, c) in columns.iter().enumerate() {
                if c >> bit & 1 == 1 {
                    row |= 1 << i;
                }
            }
            (row, rhs >> bit & 1 == 1)
        })
        .collect();
    let mut x = 0u32;
    let mut pivots = Vec::new();
    let mut r = 0;
    for col in 0..32 {
        let Some(p) = (r..32).find(|&i| rows[i].0 >> col & 1 == 1) else {
            continue;
        };
        rows.swap(r, p);
        for i in 0..32 {
            if i != r && rows[i].0 >> col & 1 == 1 {
                rows[i] = (rows[i].0 ^ rows[r].0, rows[i].1 ^ rows[r].1);
            }
        }
        pivots.push((r, col));
        r += 1;
    }
    for (row, col) in pivots {
        if rows[row].1 {
            x |= 1 << col;
        }
    }
    let mut data = prefix.to_vec();
    data.extend_from_slice(&x.to_le_bytes());
    assert_eq!(crc32(&data), want, "the forged CRC");
    data
}

/// The restore's arguments (JSON output, a report file).
fn restore_args<'a>(
    central: &'a str,
    at: &'a str,
    target: &'a str,
    journal: &'a str,
    report: &'a str,
) -> Vec<&'a str> {
    vec![
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
        "--journal",
        journal,
        "--report",
        report,
    ]
}

/// The summary line of a JSON run.
fn summary(stdout: &str) -> Value {
    json_lines(stdout)
        .into_iter()
        .find(|l| l["record"] == "summary")
        .unwrap_or_else(|| panic!("no summary in {stdout}"))
}

/// Relative key -> report line.
fn report_by_key(path: &std::path::Path) -> BTreeMap<String, Value> {
    json_lines(&std::fs::read_to_string(path).expect("report"))
        .into_iter()
        .map(|l| (l["key"].as_str().expect("key").to_owned(), l))
        .collect()
}

/// Every current object under the account prefix of `bucket`: relative key -> bytes.
async fn current_bytes(s3: &Client, bucket: &str) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut keys: Vec<String> = all_versions(s3, bucket, "")
        .await
        .into_iter()
        .map(|(k, _, _)| k)
        .collect();
    keys.dedup();
    for key in keys {
        let got = s3
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetObject {key}: {e:?}"));
        let bytes = got
            .body
            .collect()
            .await
            .expect("body")
            .into_bytes()
            .to_vec();
        let rel = key
            .strip_prefix(&format!("{ACCOUNT}/"))
            .unwrap_or(&key)
            .to_owned();
        out.insert(rel, bytes);
    }
    out
}

/// Versions per key in `bucket`.
async fn versions_per_key(s3: &Client, bucket: &str) -> BTreeMap<String, usize> {
    let mut per_key = BTreeMap::new();
    for (key, _, _) in all_versions(s3, bucket, "").await {
        *per_key.entry(key).or_default() += 1;
    }
    per_key
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_objects_in_the_target_are_copied_again() {
    let s3 = s3().await;
    let central = unique_bucket("trust-central");
    versioned_bucket(&s3, &central).await;
    let body = |name: &str| format!("the real {name}, as it was before the attack\n").into_bytes();
    let names = [
        "meta.txt",
        "crc.txt",
        "sha.txt",
        "doubt.txt",
        "kept.txt",
        "kept-sha.txt",
    ];
    let mut selected = BTreeMap::new();
    for name in names {
        let key = format!("{ACCOUNT}/{name}");
        let version = if name.contains("sha") {
            put_sha256(&s3, &central, &key, body(name)).await
        } else {
            put(&s3, &central, &key, body(name)).await
        };
        selected.insert(name, version);
    }
    let at = cutoff().await;
    let (alias, _) = kms_key("trust").await;
    let target = target_bucket(&s3, "trust-target", &alias).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let journal = dir.path().join("journal.tsv");
    let journal_arg = journal.to_str().expect("utf-8").to_owned();
    let report = dir.path().join("report.jsonl");
    let report_arg = report.to_str().expect("utf-8").to_owned();
    let args = restore_args(&central, &at, &target, &journal_arg, &report_arg);
    let first = summary(s3central(&args).success());
    assert_eq!(first["copied"], names.len(), "{first}");

    // The attack, after a good restore.
    let garbage = |name: &str| {
        let real = body(name);
        let mut g = vec![b'X'; real.len()];
        g[..6].copy_from_slice(b"PWNED!");
        g
    };
    let t = |name: &str| format!("{ACCOUNT}/{name}");
    // 1. Same size, and the provenance metadata naming the selected version.
    put_meta(
        &s3,
        &target,
        &t("meta.txt"),
        &garbage("meta.txt"),
        ("s3central-source-version-id", &selected["meta.txt"]),
    )
    .await;
    // 2. Same size and the same CRC32 as the real content (S3 computes and stores it).
    let real = body("crc.txt");
    let forged = forge_crc32(&garbage("crc.txt")[..real.len() - 4], crc32(&real));
    assert_eq!(forged.len(), real.len());
    assert_ne!(forged, real);
    put(&s3, &target, &t("crc.txt"), &forged).await;
    let (central_crc, _) = checksums(&s3, &central, &t("crc.txt")).await;
    let (forged_crc, _) = checksums(&s3, &target, &t("crc.txt")).await;
    assert!(
        central_crc.is_some(),
        "the test server keeps CRC32 checksums"
    );
    assert_eq!(
        forged_crc, central_crc,
        "S3 shows the forged object with the real content's CRC32"
    );
    // 3. Same size, a SHA-256 of its own.
    put_sha256(&s3, &target, &t("sha.txt"), garbage("sha.txt")).await;
    // 4. The journal has the copy of doubt.txt in doubt (the run died before recording it), and
    //    the attacker writes the same size over it.
    let text = std::fs::read_to_string(&journal).expect("journal");
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !(l.starts_with("copied\t") && l.contains("doubt.txt")))
        .collect();
    assert_eq!(kept.len() + 1, text.lines().count(), "{text}");
    std::fs::write(&journal, kept.join("\n") + "\n").expect("rewrite journal");
    put(&s3, &target, &t("doubt.txt"), garbage("doubt.txt")).await;

    let second = summary(s3central(&args).success());
    let lines = report_by_key(&report);
    for name in ["meta.txt", "crc.txt", "sha.txt", "doubt.txt"] {
        assert_eq!(lines[name]["outcome"], "copied", "{name}: {}", lines[name]);
    }
    assert_eq!(lines["kept.txt"]["outcome"], "unchanged");
    assert_eq!(lines["kept.txt"]["evidence"], "journal");
    assert_eq!(lines["kept-sha.txt"]["evidence"], "journal");
    assert_eq!(second["copied"], 4, "{second}");
    assert_eq!(second["unchanged"], 2, "{second}");
    assert_eq!(second["unproven_same_size"], 4, "{second}");

    // Every key holds the real bytes again.
    let got = current_bytes(&s3, &target).await;
    let want: BTreeMap<String, Vec<u8>> = names.iter().map(|n| (n.to_string(), body(n))).collect();
    assert_eq!(got, want);

    // The same restore with no journal at all (another machine): the SHA-256 key is proven in
    // place by its checksum, every CRC32-only key is copied again (its CRC proves nothing).
    let fresh = dir.path().join("other-machine.tsv");
    let fresh_arg = fresh.to_str().expect("utf-8").to_owned();
    let other = restore_args(&central, &at, &target, &fresh_arg, &report_arg);
    let third = summary(s3central(&other).success());
    let lines = report_by_key(&report);
    assert_eq!(lines["kept-sha.txt"]["outcome"], "unchanged");
    assert_eq!(lines["kept-sha.txt"]["evidence"], "sha256");
    assert_eq!(lines["sha.txt"]["evidence"], "sha256");
    assert_eq!(third["unchanged_by_checksum"], 2, "{third}");
    assert_eq!(third["copied"], 4, "{third}");
    assert_eq!(current_bytes(&s3, &target).await, want);
}

/// The target bucket's versions when the target holds at least `n` (the restore is then
/// killed); `None` when the restore ended first.
async fn kill_when(
    s3: &Client,
    target: &str,
    args: &[&str],
    n: usize,
) -> Option<BTreeMap<String, usize>> {
    let started = Instant::now();
    let mut child = command(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn s3central restore");
    loop {
        if all_versions(s3, target, "").await.len() >= n {
            break;
        }
        if child.try_wait().expect("try_wait").is_some() {
            return None;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the restore made no progress"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("wait");
    if status.signal() != Some(9) {
        return None;
    }
    // Requests the killed process had sent may still complete.
    tokio::time::sleep(Duration::from_millis(300)).await;
    Some(versions_per_key(s3, target).await)
}

/// A restore killed on one machine and finished on another (no journal): keys whose central
/// version has a SHA-256 checksum are proven in place and not copied again; CRC32-only keys the
/// killed run had copied are copied again (one more version each: the cost of a re-run without
/// the journal, said in docs/restore.md).
#[tokio::test(flavor = "multi_thread")]
async fn a_restore_killed_and_finished_elsewhere_copies_only_what_nothing_proves() {
    const KEYS: usize = 90;
    let s3 = s3().await;
    let central = unique_bucket("trust-kill-central");
    versioned_bucket(&s3, &central).await;
    let body = |i: usize| format!("object {i:03} ").repeat(3 + i % 5).into_bytes();
    // Every third key CRC32 only (the SDK's default), the others SHA-256.
    let crc_only = |i: usize| i % 3 == 0;
    futures::future::join_all((0..KEYS).map(|i| {
        let (s3, central) = (s3.clone(), central.clone());
        async move {
            let key = format!("{ACCOUNT}/k/{i:03}");
            if crc_only(i) {
                put(&s3, &central, &key, body(i)).await;
            } else {
                put_sha256(&s3, &central, &key, body(i)).await;
            }
        }
    }))
    .await;
    let at = cutoff().await;
    let (alias, _) = kms_key("trust-kill").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("report.jsonl");
    let report_arg = report.to_str().expect("utf-8").to_owned();
    let mut attempt = None;
    for concurrency in ["2", "1"] {
        let target = target_bucket(&s3, "trust-kill-target", &alias).await;
        let first = dir.path().join(format!("first-{concurrency}.tsv"));
        let first_arg = first.to_str().expect("utf-8").to_owned();
        let mut args = restore_args(&central, &at, &target, &first_arg, &report_arg);
        args.extend(["--concurrency", concurrency]);
        if let Some(at_kill) = kill_when(&s3, &target, &args, KEYS / 3).await {
            attempt = Some((target, at_kill));
            break;
        }
    }
    let (target, at_kill) = attempt.expect("the restore was never killed before it ended");
    assert!(at_kill.values().all(|&n| n == 1), "{at_kill:?}");
    let crc_at_kill = at_kill
        .keys()
        .filter(|k| crc_only(k[k.len() - 3..].parse().expect("index")))
        .count();
    let sha_at_kill = at_kill.len() - crc_at_kill;

    // Another machine: a journal that knows nothing.
    let other = dir.path().join("other.tsv");
    let other_arg = other.to_str().expect("utf-8").to_owned();
    let args = restore_args(&central, &at, &target, &other_arg, &report_arg);
    let rerun = summary(s3central(&args).success());
    assert_eq!(
        rerun["unchanged_by_checksum"], sha_at_kill as u64,
        "{rerun}"
    );
    assert_eq!(rerun["unchanged"], sha_at_kill as u64, "{rerun}");
    assert_eq!(rerun["unproven_same_size"], crc_at_kill as u64, "{rerun}");
    assert_eq!(rerun["copied"], (KEYS - sha_at_kill) as u64, "{rerun}");

    // Exact: every key's bytes; one version per SHA-256 key, two for each CRC32 key copied twice.
    let got = current_bytes(&s3, &target).await;
    let want: BTreeMap<String, Vec<u8>> =
        (0..KEYS).map(|i| (format!("k/{i:03}"), body(i))).collect();
    assert_eq!(got, want);
    for (key, n) in versions_per_key(&s3, &target).await {
        let i: usize = key[key.len() - 3..].parse().expect("index");
        let twice = crc_only(i) && at_kill.contains_key(&key);
        assert_eq!(n, if twice { 2 } else { 1 }, "{key}");
    }
    // A third run, with that journal, copies nothing and asks S3 nothing per key.
    let third = summary(s3central(&args).success());
    assert_eq!(third["copied"], 0, "{third}");
    assert_eq!(third["unchanged"], KEYS as u64, "{third}");
    for line in report_by_key(&report).values() {
        assert_eq!(line["requests"], 0, "{line}");
    }
}

/// T3: a symlink planted where `--report` will be written is refused, one line, exit 2, before
/// anything is written to the target, and the file it points to keeps its bytes.
#[tokio::test(flavor = "multi_thread")]
async fn a_planted_report_symlink_is_refused_and_its_target_kept() {
    let s3 = s3().await;
    let central = unique_bucket("trust-report-central");
    versioned_bucket(&s3, &central).await;
    put(&s3, &central, &format!("{ACCOUNT}/a.txt"), "a").await;
    let at = cutoff().await;
    let (alias, _) = kms_key("trust-report").await;
    let target = target_bucket(&s3, "trust-report-target", &alias).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").expect("write victim");
    let planted = dir.path().join("report.jsonl");
    std::os::unix::fs::symlink(&victim, &planted).expect("plant symlink");
    let journal = dir.path().join("j.tsv");
    let args = restore_args(
        &central,
        &at,
        &target,
        journal.to_str().expect("utf-8"),
        planted.to_str().expect("utf-8"),
    );
    let out = s3central(&args);
    assert_eq!(out.code, 2, "{out:?}");
    let line = out.stderr.trim();
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(line.contains("symbolic link"), "{line}");
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "precious"
    );
    assert!(all_versions(&s3, &target, "").await.is_empty());
}

/// T4: an http:// endpoint off this machine is refused before any request (0.0.0.0 is not a
/// loopback address, yet connecting to it stays on this machine: nothing leaves it if the check
/// were missing); `--allow-plain-http` lets it through to the connection attempt.
#[test]
fn plain_http_off_this_machine_is_refused_before_any_request() {
    let port = crate::common::closed_loopback_port();
    let url = format!("http://0.0.0.0:{port}");
    let refused = crate::common::run(crate::common::bare_command(&[
        "--endpoint-url",
        &url,
        "--central-bucket",
        "central-bucket",
        "ls",
    ]));
    assert_eq!(refused.code, 2, "{refused:?}");
    assert_eq!(refused.stderr.trim().lines().count(), 1, "{refused:?}");
    assert!(
        refused.stderr.contains("refusing plain HTTP")
            && refused.stderr.contains("--allow-plain-http"),
        "{refused:?}"
    );
    // The same through the environment, for one service only.
    let mut by_env = crate::common::bare_command(&["--central-bucket", "central-bucket", "ls"]);
    by_env.env("AWS_ENDPOINT_URL_STS", &url);
    let refused = crate::common::run(by_env);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused.stderr.contains("AWS_ENDPOINT_URL_STS"),
        "{refused:?}"
    );
    let allowed = crate::common::run(crate::common::bare_command(&[
        "--endpoint-url",
        &url,
        "--allow-plain-http",
        "--central-bucket",
        "central-bucket",
        "ls",
    ]));
    assert_ne!(allowed.code, 0);
    assert!(
        !allowed.stderr.contains("refusing plain HTTP"),
        "{allowed:?}"
    );
}

/// Restore never writes to central: not through an access point alias given as `--to-bucket`
/// (S3 resolves an alias to its bucket, which could be central), and not through
/// `--manifest-location` in central. Both refused, one line, exit 2, before any write.
#[tokio::test(flavor = "multi_thread")]
async fn aliases_and_central_are_never_a_restore_destination() {
    let s3 = s3().await;
    let central = unique_bucket("trust-dest-central");
    versioned_bucket(&s3, &central).await;
    put(&s3, &central, &format!("{ACCOUNT}/a.txt"), "a").await;
    let at = cutoff().await;
    let (alias, _) = kms_key("trust-dest").await;
    let target = target_bucket(&s3, "trust-dest-target", &alias).await;
    let before = all_versions(&s3, &central, "").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let journal = dir.path().join("j.tsv");
    let report = dir.path().join("r.jsonl");
    let (journal, report) = (
        journal.to_str().expect("utf-8"),
        report.to_str().expect("utf-8"),
    );
    let access_point_alias = "central-ap-abcdefghijklmnopqrstuvwxyz-s3alias";
    let args = restore_args(&central, &at, access_point_alias, journal, report);
    let out = s3central(&args);
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(out.stderr.trim().lines().count(), 1, "{out:?}");
    assert!(out.stderr.contains("access point"), "{out:?}");
    let manifest = format!("s3://{central}/manifests/");
    let mut args = restore_args(&central, &at, &target, journal, report);
    args.extend(["--engine", "batch", "--manifest-location", &manifest]);
    let out = s3central(&args);
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(out.stderr.trim().lines().count(), 1, "{out:?}");
    assert!(out.stderr.contains("never writes to central"), "{out:?}");
    assert_eq!(all_versions(&s3, &central, "").await, before);
    assert!(all_versions(&s3, &target, "").await.is_empty());
}

/// Finding 8: a key named with a right-to-left override (U+202E makes `invoice\u{202e}fdp.exe`
/// read as `invoiceexe.pdf`) reads as what it is in every line for people: the listing table
/// and the error line escape it; JSON keeps the key exact.
#[tokio::test(flavor = "multi_thread")]
async fn invisible_characters_in_keys_and_errors_are_escaped_for_people() {
    let s3 = s3().await;
    let central = unique_bucket("trust-bidi-central");
    versioned_bucket(&s3, &central).await;
    let key = format!("{ACCOUNT}/invoice\u{202e}fdp.exe");
    put(&s3, &central, &key, "x").await;
    let table = s3central(&["--central-bucket", &central, "ls", "--account", ACCOUNT]);
    let stdout = table.success();
    assert!(!stdout.contains('\u{202e}'), "{stdout}");
    assert!(stdout.contains("invoice\\u{202e}fdp.exe"), "{stdout}");
    let json = s3central(&[
        "--central-bucket",
        &central,
        "--output",
        "json",
        "ls",
        "--account",
        ACCOUNT,
    ]);
    let keys: Vec<String> = json_lines(json.success())
        .iter()
        .filter_map(|l| l["key"].as_str().map(str::to_owned))
        .collect();
    assert!(keys.iter().any(|k| k.contains('\u{202e}')), "{keys:?}");
    let refused = s3central(&[
        "--central-bucket",
        &central,
        "restore",
        "--account",
        ACCOUNT,
        "--at",
        "now",
        "--to-bucket",
        "target\u{202e}kcab",
    ]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(!refused.stderr.contains('\u{202e}'), "{refused:?}");
    assert!(refused.stderr.contains("\\u{202e}"), "{refused:?}");
}

/// The account `every_write_names_the_target_buckets_owner` gives as central's owner.
const CENTRAL_OWNER: &str = "210987654321";

/// Finding 7: every write of a restore says which account must own the target bucket
/// (`x-amz-expected-bucket-owner`), in both copy modes and on the multipart path, so S3 refuses
/// the write if the bucket name now belongs to someone else (the local server ignores the header:
/// that refusal is AWS's, not shown here), and every read of central, the copies' included, says
/// which account must own central. Seen on the wire through the test proxy.
#[tokio::test(flavor = "multi_thread")]
async fn every_write_names_the_target_buckets_owner() {
    use crate::proxy::{Plan, Proxy};
    let s3 = s3().await;
    let central = unique_bucket("trust-owner-central");
    versioned_bucket(&s3, &central).await;
    put(&s3, &central, &format!("{ACCOUNT}/small.txt"), "small").await;
    put(
        &s3,
        &central,
        &format!("{ACCOUNT}/big.bin"),
        vec![7u8; 5000],
    )
    .await;
    let at = cutoff().await;
    let (alias, _) = kms_key("trust-owner").await;
    let proxy = Proxy::start(&crate::common::endpoint(), Plan::new(7, 0.0)).await;
    let owner = "123456789012";
    for mode in ["server", "stream"] {
        let target = target_bucket(&s3, "trust-owner-target", &alias).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let journal = dir.path().join("j.tsv");
        let report = dir.path().join("r.jsonl");
        let url = proxy.url();
        let mut args = vec!["--endpoint-url", url.as_str()];
        args.extend(restore_args(
            &central,
            &at,
            &target,
            journal.to_str().expect("utf-8"),
            report.to_str().expect("utf-8"),
        ));
        args.extend([
            "--central-owner",
            CENTRAL_OWNER,
            "--copy-mode",
            mode,
            "--multipart-threshold",
            "2KiB",
            "--part-size",
            "1KiB",
        ]);
        let out = crate::common::run(crate::common::bare_command(&args));
        let done = summary(out.success());
        assert_eq!(done["copied"], 2, "{mode}: {done}");
    }
    let stats = proxy.stats();
    let mut seen = 0;
    for op in [
        "CopyObject",
        "PutObject",
        "CreateMultipartUpload",
        "UploadPart",
        "UploadPartCopy",
        "CompleteMultipartUpload",
    ] {
        let owners = stats.expected_owners(op);
        for (got, n) in &owners {
            assert_eq!(
                got, owner,
                "{op}: {n} request(s) with owner {got:?}: {owners:?}"
            );
            seen += n;
        }
    }
    assert!(seen >= 8, "writes seen through the proxy: {seen} ({stats})");
    // The preflight check asked too.
    assert!(
        stats.expected_owners("HeadBucket").contains_key(owner),
        "{stats}"
    );
    // Every read of a central version names central's owner (--central-owner), copies as their
    // source's owner (x-amz-source-expected-bucket-owner).
    let mut central_reads = 0;
    for op in ["GetObject", "HeadObject", "GetObjectTagging"] {
        for ((got, _), n) in stats.owners_on(op, &central) {
            assert_eq!(
                got, CENTRAL_OWNER,
                "{op} on central: {n} request(s) with owner {got:?}"
            );
            central_reads += n;
        }
    }
    assert!(
        central_reads >= 2,
        "reads of central seen: {central_reads} ({stats})"
    );
    let mut copies = 0;
    for op in ["CopyObject", "UploadPartCopy"] {
        for bucket in stats.buckets_of(op) {
            for ((_, source), n) in stats.owners_on(op, &bucket) {
                assert_eq!(
                    source, CENTRAL_OWNER,
                    "{op}: {n} request(s) naming source owner {source:?}"
                );
                copies += n;
            }
        }
    }
    assert!(copies >= 4, "server-side copies seen: {copies} ({stats})");
}
