//! `restore --undo REPORT`: a restore at the wrong moment, undone, reads back exactly as the
//! target was before it; keys changed since the restore are left alone and said.

use std::collections::BTreeMap;

use aws_sdk_s3::Client;

use crate::common::{json_lines, kms_key, put, s3central, target_bucket, unique_bucket};
use crate::restore::ACCOUNT;

/// Every current object of the bucket: key -> bytes.
async fn current_state(s3: &Client, bucket: &str) -> BTreeMap<String, Vec<u8>> {
    let mut state = BTreeMap::new();
    let listed = s3
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .expect("ListObjectsV2");
    for o in listed.contents() {
        let key = o.key().expect("key").to_owned();
        let body = s3
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .expect("GetObject")
            .body
            .collect()
            .await
            .expect("body")
            .into_bytes()
            .to_vec();
        state.insert(key, body);
    }
    state
}

/// `restore --at at --to-bucket target --report FILE`; returns the report file.
fn restore_into(central: &str, target: &str, at: &str) -> tempfile::NamedTempFile {
    let report = tempfile::NamedTempFile::new().expect("temp file");
    let out = s3central(&[
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
        report.path().to_str().expect("path"),
    ]);
    let summary = json_lines(out.success())
        .into_iter()
        .find(|l| l["record"] == "summary")
        .expect("summary");
    assert_eq!(summary["copied"], 3, "{}", out.stdout);
    report
}

/// `restore --undo REPORT`: the summary line and the per-key lines.
fn undo(
    central: &str,
    report: &tempfile::NamedTempFile,
) -> (serde_json::Value, Vec<serde_json::Value>) {
    let out = s3central(&[
        "--central-bucket",
        central,
        "--output",
        "json",
        "restore",
        "--undo",
        report.path().to_str().expect("path"),
    ]);
    let lines = json_lines(out.success());
    let summary = lines
        .iter()
        .find(|l| l["record"] == "summary")
        .cloned()
        .expect("summary");
    let keys = lines
        .into_iter()
        .filter(|l| l["record"] == "undo")
        .map(|l| l["undo"].clone())
        .collect();
    (summary, keys)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restore_at_the_wrong_moment_is_undone_exactly() {
    let s3 = crate::common::s3().await;
    let central = unique_bucket("undo-central");
    crate::common::versioned_bucket(&s3, &central).await;
    for name in ["a", "b", "c"] {
        put(
            &s3,
            &central,
            &format!("{ACCOUNT}/docs/{name}.txt"),
            format!("{name} long ago"),
        )
        .await;
    }
    let wrong = crate::common::cutoff().await;
    let (alias, _) = kms_key("undo").await;
    let target = target_bucket(&s3, "undo-target", &alias).await;
    // The target as it was before the mistake: a and b newer, no c, a note of its own.
    for (key, body) in [
        ("docs/a.txt", "a today"),
        ("docs/b.txt", "b today"),
        ("notes.txt", "ours"),
    ] {
        put(&s3, &target, &format!("{ACCOUNT}/{key}"), body).await;
    }
    let before = current_state(&s3, &target).await;

    // The restore at the wrong moment overwrote a and b and added c; undo puts it all back.
    let report = restore_into(&central, &target, &wrong);
    assert_ne!(current_state(&s3, &target).await, before);
    let (summary, keys) = undo(&central, &report);
    assert_eq!(
        (&summary["undone"], &summary["skipped"], &summary["failed"]),
        (&3.into(), &0.into(), &0.into()),
        "{summary}"
    );
    assert_eq!(current_state(&s3, &target).await, before);
    let c = keys
        .iter()
        .find(|k| k["key"] == format!("{ACCOUNT}/docs/c.txt"))
        .expect("c");
    assert!(
        c["reason"]
            .as_str()
            .is_some_and(|r| r.contains("delete marker")),
        "{c}"
    );
    // The undo's copies keep the target's encryption: read as the target key's.
    let head = s3
        .head_object()
        .bucket(&target)
        .key(format!("{ACCOUNT}/docs/a.txt"))
        .send()
        .await
        .expect("HeadObject");
    assert_eq!(
        head.server_side_encryption().map(|e| e.as_str()),
        Some("aws:kms")
    );

    // The same undo again: nothing holds what the restore wrote any more; all left alone.
    let (summary, _) = undo(&central, &report);
    assert_eq!(summary["undone"], 0, "{summary}");
    assert_eq!(summary["skipped"], 3, "{summary}");
    assert_eq!(current_state(&s3, &target).await, before);

    // A key changed after the restore is left alone and said; the others are undone.
    let report = restore_into(&central, &target, &wrong);
    put(
        &s3,
        &target,
        &format!("{ACCOUNT}/docs/b.txt"),
        "b written after the restore",
    )
    .await;
    let (summary, keys) = undo(&central, &report);
    assert_eq!(
        (&summary["undone"], &summary["skipped"]),
        (&2.into(), &1.into()),
        "{summary}"
    );
    let b = keys
        .iter()
        .find(|k| k["key"] == format!("{ACCOUNT}/docs/b.txt"))
        .expect("b");
    assert_eq!(b["outcome"], "skipped");
    assert!(
        b["reason"]
            .as_str()
            .is_some_and(|r| r.contains("changed since the restore")),
        "{b}"
    );
    let mut expected = before.clone();
    expected.insert(
        format!("{ACCOUNT}/docs/b.txt"),
        b"b written after the restore".to_vec(),
    );
    assert_eq!(current_state(&s3, &target).await, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_undo_of_a_report_naming_central_is_refused_and_writes_nothing() {
    let report = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(
        report.path(),
        format!(
            "{{\"key\":\"a\",\"version_id\":\"v\",\"target_key\":\"{ACCOUNT}/a\",\"bytes\":1,\"outcome\":\"copied\",\"requests\":1,\"error\":null,\"replaced_version_id\":\"p\",\"written_version_id\":\"w\",\"target_bucket\":\"the-central\"}}\n"
        ),
    )
    .expect("write");
    let out = s3central(&[
        "--central-bucket",
        "the-central",
        "restore",
        "--undo",
        report.path().to_str().expect("path"),
    ]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("never writes central"),
        "{}",
        out.stderr
    );
    let garbage = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(garbage.path(), "not json\n").expect("write");
    let out = s3central(&["restore", "--undo", garbage.path().to_str().expect("path")]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("line 1: not a line of a restore's --report"),
        "{}",
        out.stderr
    );
}
