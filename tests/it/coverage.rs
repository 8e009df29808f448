//! `s3central status --coverage` end to end: setup for an account, writes into its SOURCE bucket,
//! the test server's emulated replication delivering them into central, and every kind of gap
//! seeded on purpose: replicas lost from central, a failed replication, a pending one, and
//! objects outside the account prefix.

use crate::common::{json_lines, put, s3central, ReplicationControl};
use crate::setup::{account_config, one_account_world, s3_for};

/// `status --coverage` with the config, in the given output format.
fn coverage(config: &tempfile::NamedTempFile, format: &str) -> crate::common::Output {
    let path = config.path().to_str().expect("utf-8 path");
    s3central(&[
        "--output",
        format,
        "status",
        "--coverage",
        "--page-size",
        "3",
        "--config",
        path,
    ])
}

/// The counts of the one coverage line of a JSON run.
fn counts(stdout: &str) -> (Vec<u64>, bool) {
    let lines = json_lines(stdout);
    let row = lines
        .iter()
        .find(|l| l["record"] == "coverage")
        .unwrap_or_else(|| panic!("no coverage line in {stdout}"));
    let n = |f: &str| row[f].as_u64().unwrap_or_else(|| panic!("{f} in {row}"));
    (
        vec![
            n("current"),
            n("replicated"),
            n("pending"),
            n("failed"),
            n("missing"),
            n("foreign_key"),
            n("outside_prefix"),
        ],
        row["protected"] == true,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn coverage_counts_every_kind_of_gap_and_exits_non_zero() {
    let (account, bucket, central, config) = one_account_world("coverage", "").await;
    let s3 = s3_for(&account_config(&account).await);
    // Before setup: the account's bucket already holds objects; the rule will never replicate
    // them, so setup backfills them with a Batch Replication job.
    crate::common::versioned_bucket(&s3, &bucket).await;
    for key in ["old/1.txt", "old/2.txt"] {
        put(&s3, &bucket, &format!("{account}/{key}"), key).await;
    }
    put(&s3, &bucket, "aaa-before-the-prefix.txt", "outside").await;
    let control = ReplicationControl::take().await;
    let out = crate::setup::setup(&config, &["setup", "--yes", "--allow-bucket-changes"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let (status, answer) =
        crate::common::replication_admin("POST", "/moto-api/batch/wait?timeout=60", "");
    assert_eq!(status, 200, "{answer}");
    control.drain();
    // The backfill delivered them; then their replicas are lost from central (deleted there by
    // its administrator): the source still says COMPLETED, central has nothing: "missing".
    let central_s3 = crate::common::s3().await;
    let old = crate::common::all_versions(&central_s3, &central, &format!("{account}/old/")).await;
    assert_eq!(old.len(), 2, "backfilled: {old:?}");
    for (key, version, _) in old {
        central_s3
            .delete_object()
            .bucket(&central)
            .key(&key)
            .version_id(&version)
            .send()
            .await
            .expect("delete the replica");
    }

    control.fail_prefix(&format!("{account}/fail/"));
    // After setup: replicated writes (one key overwritten, one deleted), a failing one, and
    // one outside the prefix.
    for i in 0..5 {
        put(
            &s3,
            &bucket,
            &format!("{account}/data/{i}.txt"),
            format!("v1 {i}"),
        )
        .await;
    }
    put(&s3, &bucket, &format!("{account}/data/0.txt"), "v2 0").await;
    put(&s3, &bucket, &format!("{account}/gone.txt"), "gone").await;
    crate::common::delete(&s3, &bucket, &format!("{account}/gone.txt")).await;
    put(
        &s3,
        &bucket,
        &format!("{account}/fail/x.txt"),
        "never arrives",
    )
    .await;
    put(&s3, &bucket, "zzz/after-the-prefix.txt", "outside").await;
    control.drain();
    control.fail_prefix("");
    // Pending: delivery paused while one more object is written.
    control.pause();
    put(&s3, &bucket, &format!("{account}/late/p.txt"), "pending").await;

    let json = coverage(&config, "json");
    let table = coverage(&config, "table");
    control.resume();
    control.drain();
    drop(control);

    // 11 current versions under the prefix: 7 replicated (5 data objects and the backfill job's
    // two completion-report files), 1 pending, 1 failed, 2 whose replicas were lost; 2 objects
    // outside the prefix.
    assert_eq!(json.code, 1, "{}{}", json.stdout, json.stderr);
    let (got, protected) = counts(&json.stdout);
    assert_eq!(got, vec![11, 7, 1, 1, 2, 0, 2], "{}", json.stdout);
    assert!(!protected);
    let lines = json_lines(&json.stdout);
    let mut gaps: Vec<(String, String)> = lines
        .iter()
        .filter(|l| l["record"] == "gap")
        .map(|l| {
            (
                l["key"].as_str().unwrap_or_default().to_owned(),
                l["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    gaps.sort();
    assert_eq!(
        gaps,
        vec![
            (format!("{account}/fail/x.txt"), "failed".to_owned()),
            (format!("{account}/late/p.txt"), "pending".to_owned()),
            (format!("{account}/old/1.txt"), "missing".to_owned()),
            (format!("{account}/old/2.txt"), "missing".to_owned()),
        ]
    );
    let row = lines
        .iter()
        .find(|l| l["record"] == "coverage")
        .expect("coverage line");
    assert!(
        row["warning"]
            .as_str()
            .is_some_and(|w| w.contains("OUTSIDE") && w.contains("NEVER replicated")),
        "{row}"
    );
    let summary = lines
        .iter()
        .find(|l| l["record"] == "summary")
        .expect("summary");
    assert_eq!(summary["unprotected_accounts"], 1);

    assert_eq!(table.code, 1, "{}{}", table.stdout, table.stderr);
    let line = table
        .stdout
        .lines()
        .find(|l| l.starts_with(&account))
        .unwrap_or_else(|| panic!("no row for {account}: {}", table.stdout));
    let cells: Vec<&str> = line.split_whitespace().collect();
    // CURRENT REPLICATED PENDING FAILED MISSING FOREIGN_KEY OUTSIDE: every replica is under
    // central's key (a foreign one: setup::another_rule_into_central_is_reported_by_setup_and_status).
    assert_eq!(&cells[2..9], ["11", "7", "1", "1", "2", "0", "2"], "{line}");
    assert!(
        line.contains("UNPROTECTED: 1 pending, 1 failed, 2 missing, 2 outside the prefix"),
        "{line}"
    );
    assert!(
        table.stderr.contains("WARNING: 2 object(s)") && table.stderr.contains("NEVER replicated"),
        "{}",
        table.stderr
    );
    assert!(
        table.stdout.contains(&format!("{account}/old/1.txt")),
        "gap keys listed: {}",
        table.stdout
    );

    // Delivered now: the pending one is replicated; the failed one and the old ones stay
    // unprotected (only Batch Replication sends them), so the exit code stays 1.
    let after = coverage(&config, "json");
    assert_eq!(after.code, 1, "{}", after.stdout);
    assert_eq!(counts(&after.stdout).0, vec![11, 8, 0, 1, 2, 0, 2]);
}
