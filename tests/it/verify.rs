//! `restore --verify`: every copy proven equal to its central version by full-object checksums,
//! or by reading both with `--verify bytes`; a target that answers with other checksums or other
//! bytes (the test proxy lies for it) fails those keys; unverifiable keys are said, not hidden.

use std::collections::BTreeMap;

use aws_sdk_s3::Client;
use serde_json::Value;

use crate::common::{json_lines, kms_key, put, run, s3central, target_bucket, unique_bucket};
use crate::proxy::{Plan, Proxy};
use crate::restore::ACCOUNT;

/// A client that sends no checksum, so the versions it writes have none (as objects written by
/// older SDKs and most tools before 2025 have none).
async fn client_without_checksums() -> Client {
    let conf = aws_sdk_s3::config::Builder::from(&crate::common::sdk_config().await)
        .force_path_style(true)
        .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
        .build();
    Client::from_conf(conf)
}

/// Central with two objects that carry a CRC32 (the SDK's default) and one that carries none;
/// returns (central, TIME, key -> bytes).
async fn central_with_and_without_checksums(
    s3: &Client,
) -> (String, String, BTreeMap<String, Vec<u8>>) {
    let central = unique_bucket("verify-central");
    crate::common::versioned_bucket(s3, &central).await;
    let plain = client_without_checksums().await;
    let mut expected = BTreeMap::new();
    for (key, body, client) in [
        ("docs/a.txt", b"alpha".to_vec(), s3),
        ("docs/b.bin", vec![7u8; 4096], s3),
        ("old/c.txt", b"written without a checksum".to_vec(), &plain),
    ] {
        put(client, &central, &format!("{ACCOUNT}/{key}"), &body).await;
        expected.insert(key.to_owned(), body);
    }
    let at = crate::common::cutoff().await;
    (central, at, expected)
}

/// `restore --verify[=how]` of the account into `target` (through `endpoint` when given), with
/// its summary and per-key report lines.
fn restore_verified(
    central: &str,
    target: &str,
    at: &str,
    how: &str,
    endpoint: Option<&str>,
) -> (crate::common::Output, Value, BTreeMap<String, Value>) {
    let verify = format!("--verify={how}");
    let report = tempfile::NamedTempFile::new().expect("temp file");
    let report_path = report.path().to_str().expect("UTF-8 path").to_owned();
    let mut args = vec![
        "--central-bucket",
        central,
        "--output",
        "json",
        "restore",
        "--report",
        &report_path,
        "--account",
        ACCOUNT,
        "--at",
        at,
        "--to-bucket",
        target,
        &verify,
    ];
    let out = match endpoint {
        Some(url) => {
            let mut all = vec!["--endpoint-url", url];
            all.append(&mut args);
            run(crate::common::bare_command(&all))
        }
        None => s3central(&args),
    };
    let lines = json_lines(&out.stdout);
    let summary = lines
        .iter()
        .find(|l| l["record"] == "summary")
        .cloned()
        .unwrap_or_else(|| panic!("no summary\n{}{}", out.stdout, out.stderr));
    let keys = json_lines(&std::fs::read_to_string(report.path()).expect("report"))
        .into_iter()
        .map(|l| (l["key"].as_str().expect("key").to_owned(), l))
        .collect();
    (out, summary, keys)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_copy_is_proven_equal_and_a_lying_target_fails() {
    let s3 = crate::common::s3().await;
    let (central, at, expected) = central_with_and_without_checksums(&s3).await;
    let (alias, _) = kms_key("verify").await;

    // --verify: the two keys with a checksum proven by it; the third said, not hidden.
    let target = target_bucket(&s3, "verify-sums", &alias).await;
    let (out, summary, keys) = restore_verified(&central, &target, &at, "checksum", None);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        (
            &summary["copied"],
            &summary["verified_by_checksum"],
            &summary["verified_by_bytes"],
            &summary["unverified"]
        ),
        (
            &Value::from(3),
            &Value::from(2),
            &Value::from(0),
            &Value::from(1)
        ),
        "{summary}"
    );
    assert_eq!(keys["docs/a.txt"]["verified"], "checksum CRC32");
    assert_eq!(keys["docs/b.bin"]["verified"], "checksum CRC32");
    assert!(
        keys["old/c.txt"]["unverified"]
            .as_str()
            .is_some_and(|why| why.contains("--verify bytes")),
        "{}",
        keys["old/c.txt"]
    );
    for (key, body) in &expected {
        let got = s3
            .get_object()
            .bucket(&target)
            .key(format!("{ACCOUNT}/{key}"))
            .send()
            .await
            .expect("restored object")
            .body
            .collect()
            .await
            .expect("body")
            .into_bytes();
        assert_eq!(&got[..], &body[..], "{key}");
    }

    // --verify bytes: the third read on both sides and proven too.
    let target = target_bucket(&s3, "verify-bytes", &alias).await;
    let (out, summary, keys) = restore_verified(&central, &target, &at, "bytes", None);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        (
            &summary["verified_by_checksum"],
            &summary["verified_by_bytes"],
            &summary["unverified"]
        ),
        (&Value::from(2), &Value::from(1), &Value::from(0)),
        "{summary}"
    );
    assert_eq!(keys["old/c.txt"]["verified"], "bytes SHA-256");

    // A target that answers with other checksums and other bytes: every key fails, by the
    // checksum where there is one and by the bytes where there is not; the exit says so.
    for (how, failing) in [("checksum", 2u64), ("bytes", 3)] {
        let target = target_bucket(&s3, "verify-lies", &alias).await;
        let mut plan = Plan::new(1, 0.0);
        plan.tamper_reads_in = Some(target.clone());
        let proxy = Proxy::start(&crate::common::endpoint(), plan).await;
        let url = proxy.url();
        let (central, target, at) = (central.clone(), target.clone(), at.clone());
        let (out, summary, keys) = tokio::task::spawn_blocking(move || {
            restore_verified(&central, &target, &at, how, Some(&url))
        })
        .await
        .expect("runner thread");
        assert_ne!(out.code, 0, "{how}: {}{}", out.stdout, out.stderr);
        assert_eq!(summary["failed"], failing, "{how}: {summary}");
        let error = keys["docs/a.txt"]["error"].as_str().unwrap_or_default();
        assert!(
            error.starts_with("verification failed: the written version's CRC32 is"),
            "{how}: {error}"
        );
        if how == "bytes" {
            let error = keys["old/c.txt"]["error"].as_str().unwrap_or_default();
            assert!(error.contains("bytes have SHA-256"), "{error}");
        }
    }
}
