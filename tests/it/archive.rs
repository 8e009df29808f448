//! Restores from archive storage classes: without --archive-restore nothing is written (exit 2,
//! with the count and the tiers); with it each archived version is restored first (never
//! requested twice), then copied and read back exact; `ls` shows the restore state.

use std::collections::BTreeMap;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{GlacierJobParameters, RestoreRequest, StorageClass, Tier};

use crate::common::{
    all_versions, cutoff, json_lines, kms_key, s3, s3central, target_bucket, unique_bucket,
    versioned_bucket,
};

/// The account whose prefix holds the history.
const ACCOUNT: &str = "111111111111";

/// Writes `key` into central in `class`; gives its version id.
async fn put_in(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: &str,
    class: &str,
) -> String {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .storage_class(StorageClass::from(class))
        .body(ByteStream::from(body.as_bytes().to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutObject {key} in {class}: {e:?}"))
        .version_id()
        .expect("version id")
        .to_owned()
}

/// The `record: summary` line of a JSON run.
fn summary(stdout: &str) -> serde_json::Value {
    json_lines(stdout)
        .into_iter()
        .find(|l| l["record"] == "summary")
        .unwrap_or_else(|| panic!("no summary in {stdout}"))
}

/// `ls --account` of central as JSON lines: key -> restore state (None when not archived).
fn ls_states(central: &str) -> BTreeMap<String, Option<String>> {
    let out = s3central(&[
        "--central-bucket",
        central,
        "--output",
        "json",
        "ls",
        "--account",
        ACCOUNT,
    ]);
    json_lines(out.success())
        .into_iter()
        .map(|l| {
            (
                l["key"].as_str().unwrap_or_default().to_owned(),
                l["restore"]["state"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn archived_versions_are_restored_first_or_nothing_is_written() {
    let s3 = s3().await;
    let central = unique_bucket("central-archive");
    versioned_bucket(&s3, &central).await;
    let objects = [
        ("cold/deep-1.txt", "DEEP_ARCHIVE"),
        ("cold/deep-2.txt", "DEEP_ARCHIVE"),
        ("cold/glacier.txt", "GLACIER"),
        ("warm/instant.txt", "GLACIER_IR"),
        ("warm/standard.txt", "STANDARD"),
    ];
    let mut versions = BTreeMap::new();
    for (key, class) in objects {
        let body = format!("{key} kept in {class}");
        let id = put_in(&s3, &central, &format!("{ACCOUNT}/{key}"), &body, class).await;
        versions.insert(key, (id, body));
    }
    let t = cutoff().await;
    let (alias, _) = kms_key("archive").await;
    let target = target_bucket(&s3, "archive-target", &alias).await;
    let restore = |extra: &[&str], target: &str| {
        let mut args = vec![
            "--central-bucket",
            &central,
            "--output",
            "json",
            "restore",
            "--account",
            ACCOUNT,
            "--at",
            &t,
            "--to-bucket",
            target,
        ];
        args.extend(extra);
        s3central(&args)
    };

    // The server refuses to copy an archived version before RestoreObject.
    let (deep_2, _) = &versions["cold/deep-2.txt"];
    let refused = s3
        .copy_object()
        .bucket(&target)
        .key("probe")
        .copy_source(format!(
            "{central}/{ACCOUNT}/cold/deep-2.txt?versionId={deep_2}"
        ))
        .send()
        .await
        .expect_err("an archived version cannot be copied");
    let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&refused).map(str::to_owned);
    assert!(
        matches!(
            code.as_deref(),
            Some("ObjectNotInActiveTierError" | "InvalidObjectState")
        ),
        "{refused:?}"
    );

    // Without --archive-restore: the count and the tiers, exit 2, nothing written.
    let out = restore(&[], &target);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("3 version(s) to restore are archived (1 GLACIER, 2 DEEP_ARCHIVE)")
            && out.stderr.contains("--archive-restore Standard")
            && out.stderr.contains("nothing was written"),
        "{}",
        out.stderr
    );
    assert!(all_versions(&s3, &target, "").await.is_empty());
    // Expedited cannot restore DEEP_ARCHIVE: refused before any request or write.
    let out = restore(&["--archive-restore", "Expedited"], &target);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("Expedited is not available for DEEP_ARCHIVE"),
        "{}",
        out.stderr
    );
    assert!(all_versions(&s3, &target, "").await.is_empty());
    // A dry run says how many are archived and writes nothing.
    let dry = restore(&["--dry-run"], &target);
    assert_eq!(summary(dry.success())["archived"], 3);

    // ls: the restore state of the archived versions only.
    let states = ls_states(&central);
    assert_eq!(states["cold/deep-1.txt"].as_deref(), Some("archived"));
    assert_eq!(states["cold/glacier.txt"].as_deref(), Some("archived"));
    assert_eq!(states["warm/instant.txt"], None);
    assert_eq!(states["warm/standard.txt"], None);

    // An earlier, interrupted run had already requested one restore.
    let (deep_1, _) = &versions["cold/deep-1.txt"];
    s3.restore_object()
        .bucket(&central)
        .key(format!("{ACCOUNT}/cold/deep-1.txt"))
        .version_id(deep_1)
        .restore_request(
            RestoreRequest::builder()
                .days(1)
                .glacier_job_parameters(
                    GlacierJobParameters::builder()
                        .tier(Tier::Bulk)
                        .build()
                        .expect("job"),
                )
                .build(),
        )
        .send()
        .await
        .expect("RestoreObject");

    let report = tempfile::NamedTempFile::new().expect("report file");
    let report_path = report.path().to_str().expect("utf-8 path").to_owned();
    let out = restore(
        &[
            "--archive-restore",
            "bulk",
            "--archive-days",
            "2",
            "--report",
            &report_path,
        ],
        &target,
    );
    let s = summary(out.success());
    assert_eq!(s["copied"], 5, "{s}");
    assert_eq!(s["archived"], 3, "{s}");
    // Two restores started now, the third found done: not requested again.
    assert_eq!(s["archive_requested"], 2, "{s}");
    assert_eq!(s["archive_ready"], 3, "{s}");
    assert_eq!(s["archive_copied"], 3, "{s}");
    let lines = json_lines(&std::fs::read_to_string(report.path()).expect("report"));
    let archived: BTreeMap<String, String> = lines
        .iter()
        .filter_map(|l| {
            Some((
                l["key"].as_str()?.to_owned(),
                format!("{} {}", l["archive"].as_str()?, l["outcome"].as_str()?),
            ))
        })
        .collect();
    assert_eq!(
        archived,
        BTreeMap::from([
            (
                "cold/deep-1.txt".to_owned(),
                "DEEP_ARCHIVE copied".to_owned()
            ),
            (
                "cold/deep-2.txt".to_owned(),
                "DEEP_ARCHIVE copied".to_owned()
            ),
            ("cold/glacier.txt".to_owned(), "GLACIER copied".to_owned()),
        ])
    );
    // Read back: every byte, from every storage class.
    for (key, (_, body)) in &versions {
        let got = s3
            .get_object()
            .bucket(&target)
            .key(format!("{ACCOUNT}/{key}"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("restored {key}: {e:?}"));
        let bytes = got.body.collect().await.expect("body").into_bytes();
        assert_eq!(bytes.as_ref(), body.as_bytes(), "{key}");
    }
    let states = ls_states(&central);
    assert_eq!(states["cold/deep-2.txt"].as_deref(), Some("restored"));

    // A re-run: everything in place, no restore requested, nothing written.
    let before = all_versions(&s3, &target, "").await;
    let again = summary(restore(&["--archive-restore", "Bulk"], &target).success());
    assert_eq!(
        (again["copied"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(5))
    );
    assert_eq!(again["archived"], 0);
    assert_eq!(before, all_versions(&s3, &target, "").await);
}
