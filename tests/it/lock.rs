//! Object Lock on the central bucket: a new bucket created with it, an existing one given it, a
//! replica that the central administrator cannot delete, and every weakening refused.

use crate::common::{json_lines, put, ReplicationControl};
use crate::setup::{
    account_config, caller_config, config_file, one_account_world, record, s3_for, setup,
};

/// The central bucket's Object Lock as read back: (enabled, mode, days).
async fn lock_of(s3: &aws_sdk_s3::Client, bucket: &str) -> (String, String, i32) {
    let out = s3
        .get_object_lock_configuration()
        .bucket(bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetObjectLockConfiguration {bucket}: {e:?}"));
    let config = out.object_lock_configuration().expect("configuration");
    let retention = config
        .rule()
        .and_then(|r| r.default_retention())
        .expect("default retention");
    (
        config
            .object_lock_enabled()
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default(),
        retention
            .mode()
            .map(|m| m.as_str().to_owned())
            .unwrap_or_default(),
        retention.days().unwrap_or_default(),
    )
}

/// The plan line of the central bucket's Object Lock in a JSON `setup --dry-run`.
fn lock_plan(stdout: &str) -> serde_json::Value {
    record(stdout, "plan")
        .into_iter()
        .find(|p| p["resource"] == "object lock")
        .unwrap_or_else(|| panic!("no object lock line in the plan: {stdout}"))
}

/// The same config with `[central]`'s object_lock line replaced (or removed with "").
fn with_lock(config: &tempfile::NamedTempFile, lock: &str) -> tempfile::NamedTempFile {
    let text = std::fs::read_to_string(config.path()).expect("config");
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("object_lock"))
        .collect();
    let text = kept
        .join("\n")
        .replacen("[central]\n", &format!("[central]\n{lock}\n"), 1);
    config_file(&text)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_locked_replica_survives_its_administrator_and_the_lock_is_never_weakened() {
    let (account, bucket, central, config) =
        one_account_world("lock", "object_lock = { mode = \"COMPLIANCE\", days = 1 }").await;
    let plan = setup(&config, &["setup", "--dry-run"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert_eq!(lock_plan(&plan.stdout)["action"], "create");
    let out = setup(&config, &["setup", "--yes"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let admin = s3_for(&caller_config().await);
    assert_eq!(
        lock_of(&admin, &central).await,
        ("Enabled".into(), "COMPLIANCE".into(), 1)
    );

    // A write in the account's bucket, replicated into central, where the default retention
    // locks the replica.
    let source = s3_for(&account_config(&account).await);
    let key = format!("{account}/ledger.csv");
    let version = put(&source, &bucket, &key, "every payment of the year").await;
    ReplicationControl::take().await.drain();
    // Converged: nothing to do.
    let again = setup(&config, &["setup", "--dry-run", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert_eq!(lock_plan(&again.stdout)["action"], "unchanged");
    // This server applies the central policy's TLS deny to every object call (it ignores the
    // condition): lift the policy, so that only the lock stands between the administrator and
    // the version.
    admin
        .delete_bucket_policy()
        .bucket(&central)
        .send()
        .await
        .expect("lift the bucket policy");
    let head = admin
        .head_object()
        .bucket(&central)
        .key(&key)
        .version_id(&version)
        .send()
        .await
        .expect("the replica is in central with the source's version id");
    assert_eq!(
        head.object_lock_mode().map(|m| m.as_str()),
        Some("COMPLIANCE")
    );
    assert!(head.object_lock_retain_until_date().is_some());

    // The central administrator deletes the version: refused by the lock (AccessDenied; this
    // server answers it with HTTP 400, a policy refusal with 403), and the version is still there.
    let err = admin
        .delete_object()
        .bucket(&central)
        .key(&key)
        .version_id(&version)
        .send()
        .await
        .expect_err("a locked version cannot be deleted");
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::code(&err),
        Some("AccessDenied"),
        "{err:?}"
    );
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
    let got = admin
        .get_object()
        .bucket(&central)
        .key(&key)
        .version_id(&version)
        .send()
        .await
        .expect("still readable");
    let body = got.body.collect().await.expect("body").into_bytes();
    assert_eq!(body.as_ref(), b"every payment of the year");

    // Weakening it, in each way, is refused with the reason, and nothing is applied.
    for (lock, reason) in [
        (
            "object_lock = { mode = \"GOVERNANCE\", days = 1 }",
            "never lowers COMPLIANCE to GOVERNANCE",
        ),
        ("", "never weakens or removes it"),
    ] {
        let weaker = with_lock(&config, lock);
        for args in [&["setup", "--dry-run"][..], &["setup", "--yes"][..]] {
            let out = setup(&weaker, args);
            assert_eq!(
                out.code, 1,
                "{lock:?} {args:?}: {}{}",
                out.stdout, out.stderr
            );
            assert!(out.stderr.contains(reason), "{lock:?}: {}", out.stderr);
            let line = lock_plan(&out.stdout);
            assert_eq!(line["action"], "refused", "{line}");
            assert!(json_lines(&out.stdout)
                .iter()
                .all(|l| l["record"] != "result"));
        }
    }
    assert_eq!(
        lock_of(&admin, &central).await,
        ("Enabled".into(), "COMPLIANCE".into(), 1)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_existing_central_bucket_gets_the_lock_and_it_only_grows_stronger() {
    let (_account, _bucket, central, config) = one_account_world("lock-existing", "").await;
    let out = setup(&config, &["setup", "--yes"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let admin = s3_for(&caller_config().await);
    let none = admin
        .get_object_lock_configuration()
        .bucket(&central)
        .send()
        .await
        .expect_err("no lock yet");
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::code(&none),
        Some("ObjectLockConfigurationNotFoundError")
    );
    // PutObjectLockConfiguration on the existing, versioned bucket (this server accepts it only
    // while the bucket is empty; AWS for any versioned bucket).
    let locked = with_lock(&config, "object_lock = { mode = \"GOVERNANCE\", days = 2 }");
    let plan = setup(&locked, &["setup", "--dry-run", "--detailed-exitcode"]);
    assert_eq!(plan.code, 3, "{}{}", plan.stdout, plan.stderr);
    let line = lock_plan(&plan.stdout);
    assert_eq!(line["action"], "update");
    assert_eq!(
        line["fields"],
        serde_json::json!(["object_lock_enabled", "default_retention"])
    );
    assert_eq!(setup(&locked, &["setup", "--yes"]).code, 0);
    assert_eq!(
        lock_of(&admin, &central).await,
        ("Enabled".into(), "GOVERNANCE".into(), 2)
    );
    // Stronger is applied (longer, then COMPLIANCE); shorter is refused.
    for (lock, want) in [
        (
            "object_lock = { mode = \"GOVERNANCE\", days = 5 }",
            ("GOVERNANCE", 5),
        ),
        (
            "object_lock = { mode = \"COMPLIANCE\", days = 5 }",
            ("COMPLIANCE", 5),
        ),
    ] {
        let out = setup(&with_lock(&config, lock), &["setup", "--yes"]);
        assert_eq!(out.code, 0, "{lock}: {}{}", out.stdout, out.stderr);
        assert_eq!(
            lock_of(&admin, &central).await,
            ("Enabled".into(), want.0.into(), want.1)
        );
    }
    let out = setup(
        &with_lock(&config, "object_lock = { mode = \"COMPLIANCE\", days = 4 }"),
        &["setup", "--yes"],
    );
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("never shortens it; use days = 5 or more"),
        "{}",
        out.stderr
    );
    assert_eq!(
        lock_of(&admin, &central).await,
        ("Enabled".into(), "COMPLIANCE".into(), 5)
    );
}
