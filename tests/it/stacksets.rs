//! `setup --export cloudformation` (issue 22): the templates pass cfn-lint (pinned in
//! scripts/moto-constraints.txt, installed by scripts/test with the test server), bad configs
//! write nothing, and the stacks deployed on the local server hold exactly the keys, key policies,
//! roles and role policies setup would write, so setup plans no change to any of them. What the
//! local server's CloudFormation drops (bucket versioning, policy, replication, ownership, public
//! access block, Object Lock, event notifications, the alerts topic's policy) setup then plans and
//! writes; only AWS can prove those properties.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{endpoint, s3central, unique_bucket, venv_tool};
use crate::setup::{config_file, new_account, organization, record, setup};

/// The central account on the local server.
const CENTRAL_ACCOUNT: &str = "123456789012";

/// `s3central setup --config CONFIG --export FORMAT DIR`.
fn run_export(config: &tempfile::NamedTempFile, format: &str, dir: &Path) -> crate::common::Output {
    s3central(&[
        "setup",
        "--config",
        config.path().to_str().expect("utf-8"),
        "--export",
        format,
        dir.to_str().expect("utf-8"),
    ])
}

/// Runs the export; gives the central and member templates.
fn export(config: &tempfile::NamedTempFile, dir: &Path) -> (Value, Value) {
    run_export(config, "cloudformation", dir).success();
    let read = |file: &str| -> Value {
        let path = dir.join(file);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path)
                .expect("template written")
                .permissions(),
        );
        assert_eq!(mode & 0o077, 0, "{} is readable by others", path.display());
        serde_json::from_slice(&std::fs::read(path).expect("read")).expect("JSON")
    };
    (
        read(s3central::setup::cloudformation::CENTRAL_FILE),
        read(s3central::setup::cloudformation::MEMBER_FILE),
    )
}

/// cfn-lint on every file given; panics with its findings unless it passes clean.
fn cfn_lint(files: &[PathBuf]) {
    let out = Command::new(venv_tool("cfn-lint"))
        .args(files)
        .output()
        .expect("cfn-lint runs");
    assert!(
        out.status.success(),
        "cfn-lint (exit {:?}) on {files:?}:\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn central_config(extra: &str) -> String {
    format!(
        "[central]\naccount = \"{CENTRAL_ACCOUNT}\"\nregion = \"us-east-1\"\nbucket = \"acme-s3central\"\norg_id = \"o-abcd123456\"\n{extra}\n[discovery]\norganizational_units = [\"ou-ab12-cdef3456\"]\n"
    )
}

#[test]
fn every_exported_template_passes_cfn_lint() {
    let root = tempfile::tempdir().expect("temp dir");
    let mut files = Vec::new();
    for (i, extra) in [
        "",
        "break_glass_role = \"s3central-break-glass\"\nobject_lock = { mode = \"COMPLIANCE\", days = 365 }\nalerts_topic = \"s3central-alerts\"",
        "replication_time_control = false\nstorage_class = \"GLACIER_IR\"\nrestore_principals = [\"arn:aws:iam::123456789012:role/incident\"]\nalerts_topic = \"s3central-alerts\"",
    ]
    .into_iter()
    .enumerate()
    {
        let config = config_file(&central_config(extra));
        let dir = root.path().join(format!("variant-{i}"));
        export(&config, &dir);
        files.push(dir.join(s3central::setup::cloudformation::CENTRAL_FILE));
        files.push(dir.join(s3central::setup::cloudformation::MEMBER_FILE));
        let alerts = dir.join(s3central::setup::cloudformation::ALERTS_FILE);
        assert_eq!(alerts.exists(), extra.contains("alerts_topic"), "{extra}");
        if alerts.exists() {
            files.push(alerts);
        }
    }
    cfn_lint(&files);
}

#[test]
fn a_config_the_templates_cannot_express_is_refused_and_nothing_is_written() {
    let root = tempfile::tempdir().expect("temp dir");
    for (text, says) in [
        (
            central_config("").replace("org_id = \"o-abcd123456\"\n", ""),
            "org_id",
        ),
        (
            central_config("enrollment = \"listed\""),
            "enrollment = \"listed\"",
        ),
        (
            central_config("replicate_deletes = true"),
            "replicate_deletes",
        ),
    ] {
        let config = config_file(&text);
        let dir = root.path().join("out");
        let out = run_export(&config, "cloudformation", &dir);
        assert_eq!(out.code, 2, "{says}: {out:?}");
        assert!(out.stderr.contains(says), "{says}: {}", out.stderr);
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
        assert!(!dir.exists(), "{says}: the folder was created");
    }
    let config = config_file(&central_config(""));
    let out = run_export(&config, "terraform", root.path());
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("cloudformation"), "{}", out.stderr);
}

/// Deploys a template on the test server with tests/cfn/deploy.py; gives what the stack became.
fn deploy(template: &Path, stack: &str, account: Option<&str>, params: &[String]) -> Value {
    let mut cmd = Command::new(venv_tool("python"));
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cfn/deploy.py"))
        .args(["--endpoint", &endpoint(), "--stack", stack, "--template"])
        .arg(template);
    if let Some(account) = account {
        cmd.args(["--account", account]);
    }
    for p in params {
        cmd.args(["--param", p]);
    }
    let out = cmd.output().expect("deploy.py runs");
    assert!(
        out.status.success(),
        "deploy.py {stack}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stack: Value = serde_json::from_slice(&out.stdout).expect("deploy.py prints JSON");
    assert_eq!(stack["status"], "CREATE_COMPLETE", "{stack}");
    stack
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stacks_deploy_and_setup_finds_every_document_they_wrote_in_place() {
    let (org_id, root) = organization().await.clone();
    let ou = crate::setup::new_ou(&root, "stackset").await;
    let account = new_account("stackset", Some(&ou)).await;
    let central_bucket = unique_bucket("central");
    let alias = format!("alias/{}", unique_bucket("s3central"));
    let template = unique_bucket("member");
    let topic = unique_bucket("alerts");
    let config = config_file(&format!(
        "[central]\naccount = \"{CENTRAL_ACCOUNT}\"\nregion = \"us-east-1\"\nbucket = \"{central_bucket}\"\nkms_alias = \"{alias}\"\norg_id = \"{org_id}\"\nalerts_topic = \"{topic}\"\n\n[discovery]\norganizational_units = [\"{ou}\"]\nbucket_template = \"{template}-{{account}}\"\n"
    ));
    let dir = tempfile::tempdir().expect("temp dir");
    export(&config, dir.path());
    let central = deploy(
        &dir.path()
            .join(s3central::setup::cloudformation::CENTRAL_FILE),
        &unique_bucket("central"),
        None,
        &[],
    );
    let key_arn = central["outputs"]["CentralKeyArn"]
        .as_str()
        .expect("the central stack gives its key");
    let alerts = deploy(
        &dir.path()
            .join(s3central::setup::cloudformation::ALERTS_FILE),
        &unique_bucket("alerts"),
        None,
        &[],
    );
    assert_eq!(
        alerts["outputs"]["AlertsTopicArn"],
        format!("arn:aws:sns:us-east-1:{CENTRAL_ACCOUNT}:{topic}").as_str()
    );
    let member = deploy(
        &dir.path()
            .join(s3central::setup::cloudformation::MEMBER_FILE),
        &unique_bucket("member"),
        Some(&account),
        &[format!("CentralKeyArn={key_arn}")],
    );
    assert_eq!(
        member["outputs"]["SourceBucket"],
        format!("{template}-{account}").as_str()
    );

    // setup reads both accounts and compares with what it would write itself.
    let plan = setup(&config, &["setup", "--dry-run"]);
    let lines = record(&plan.stdout, "plan");
    let action = |who: &str, resource: &str| -> String {
        lines
            .iter()
            .find(|l| l["account"] == who && l["resource"] == resource)
            .map(|l| l["action"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_else(|| {
                panic!(
                    "no plan line for {who} {resource}:\n{}{}",
                    plan.stdout, plan.stderr
                )
            })
    };
    // Written by the stacks exactly as setup writes them: nothing to change.
    assert_eq!(
        action(CENTRAL_ACCOUNT, "alerts topic"),
        "unchanged",
        "{}",
        plan.stdout
    );
    for resource in ["kms key", "key policy", "key rotation"] {
        assert_eq!(
            action(CENTRAL_ACCOUNT, resource),
            "unchanged",
            "central {resource}"
        );
        assert_eq!(
            action(&account, resource),
            "unchanged",
            "{account} {resource}"
        );
    }
    for resource in [
        "replication role",
        "role trust policy",
        "role policy",
        "restore role",
        "restore role trust policy",
        "restore role policy",
        "batch role",
        "batch role trust policy",
        "batch role policy",
        "batch restore role",
        "batch restore role trust",
        "batch restore role policy",
    ] {
        assert_eq!(
            action(&account, resource),
            "unchanged",
            "{account} {resource}:\n{}",
            plan.stdout
        );
    }
    assert_eq!(action(&account, "bucket"), "unchanged");
    // What the local server's CloudFormation dropped (AWS applies these properties; only AWS
    // can prove it): setup plans it, and writes it.
    for who in [CENTRAL_ACCOUNT, account.as_str()] {
        for resource in [
            "versioning",
            "default encryption",
            "public access block",
            "object ownership",
        ] {
            assert_eq!(action(who, resource), "update", "{who} {resource}");
        }
    }
    assert_eq!(action(CENTRAL_ACCOUNT, "bucket policy"), "update");
    assert_eq!(action(CENTRAL_ACCOUNT, "alerts topic policy"), "update");
    assert_eq!(action(&account, "replication alerts"), "create");
    assert_eq!(action(&account, "replication rule"), "create");
    let applied = setup(&config, &["setup", "--yes"]);
    applied.success();
    let status = setup(&config, &["status"]);
    assert_eq!(
        status.code, 0,
        "status after setup completed the stacks:\n{}{}",
        status.stdout, status.stderr
    );
}
