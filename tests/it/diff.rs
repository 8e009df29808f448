//! `s3central diff` against a real server: overwrites, deletes, a delete then re-create, keys new
//! after a delete, writes after the second moment and in a neighbour account; the exact keys with
//! their version ids, sizes and the totals, in JSON and in the table, with globs and a PATH.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};

use crate::common::{
    cutoff, delete, json_lines, put, raw_versions, s3, s3central, sleep_past_second, unique_bucket,
    versioned_bucket, Output,
};

/// The account under test.
const A: &str = "111111111111";

/// Full key of a relative key under account `A`.
fn k(rel: &str) -> String {
    format!("{A}/{rel}")
}

/// One expected change: kind, relative key, (from id, size), (to id, size or None for a marker).
struct Want<'a> {
    change: &'a str,
    key: &'a str,
    from: Option<(&'a str, u64)>,
    to: (&'a str, Option<u64>),
}

/// The JSON line `diff` prints for an expected change, with LastModified from the server.
fn json_row(w: &Want, lm: &HashMap<String, String>) -> Value {
    json!({
        "change": w.change,
        "key": w.key,
        "from_version_id": w.from.map(|f| f.0),
        "from_size": w.from.map(|f| f.1),
        "from_last_modified": w.from.map(|f| lm[f.0].clone()),
        "to_version_id": w.to.0,
        "to_size": w.to.1,
        "to_last_modified": lm[w.to.0],
        "to_delete_marker": w.to.1.is_none(),
    })
}

/// The table line `diff` prints for an expected change.
fn table_row(w: &Want) -> String {
    let size = w.to.1.or(w.from.map(|f| f.1)).unwrap_or(0);
    let to = match w.to.1 {
        Some(_) => w.to.0.to_owned(),
        None => format!("{} (marker)", w.to.0),
    };
    format!(
        "{:<7}  {:>11}  {:<36}  {:<36}  {}",
        w.change,
        format!("{size} B"),
        w.from.map_or("-", |f| f.0),
        to,
        w.key
    )
}

/// Runs `diff` on the bucket with extra arguments.
fn diff(bucket: &str, json: bool, args: &[&str]) -> Output {
    let mut all = vec!["--central-bucket", bucket];
    if json {
        all.extend(["--output", "json"]);
    }
    all.extend(["diff", "--account", A]);
    all.extend_from_slice(args);
    s3central(&all)
}

#[tokio::test]
async fn added_changed_and_deleted_between_two_moments() {
    let s3 = s3().await;
    let bucket = unique_bucket("diff");
    versioned_bucket(&s3, &bucket).await;
    // Before T1.
    let a1 = put(&s3, &bucket, &k("a.txt"), "a one").await;
    let b1 = put(&s3, &bucket, &k("b.txt"), "b one!").await;
    let c1 = put(&s3, &bucket, &k("c.txt"), "c").await;
    let d1 = put(&s3, &bucket, &k("d.txt"), "d one").await;
    let e1 = put(&s3, &bucket, &k("dir/e.json"), "{}").await;
    put(&s3, &bucket, &k("same.txt"), "unchanged").await;
    put(&s3, &bucket, &k("back.txt"), "deleted before T1").await;
    sleep_past_second().await;
    delete(&s3, &bucket, &k("back.txt")).await;
    let t1 = cutoff().await;
    // Between T1 and T2: each step in its own second, so no marker shares a second with a
    // version of its key (the test server does not keep that order).
    let a2 = put(&s3, &bucket, &k("a.txt"), "a two, longer").await;
    let bm = delete(&s3, &bucket, &k("b.txt")).await;
    delete(&s3, &bucket, &k("d.txt")).await;
    put(&s3, &bucket, &k("c.txt"), "c two").await;
    let f1 = put(&s3, &bucket, &k("f.txt"), "new file").await;
    let back2 = put(&s3, &bucket, &k("back.txt"), "back again").await;
    let e2 = put(&s3, &bucket, &k("dir/e.json"), "{\"x\":1}").await;
    put(&s3, &bucket, "222222222222/a.txt", "neighbour").await;
    sleep_past_second().await;
    let d2 = put(&s3, &bucket, &k("d.txt"), "d two").await;
    let cm = delete(&s3, &bucket, &k("c.txt")).await;
    let t2 = cutoff().await;
    // After T2.
    let a3 = put(&s3, &bucket, &k("a.txt"), "a three").await;
    let h1 = put(&s3, &bucket, &k("h.txt"), "hh").await;

    let lm: HashMap<String, String> = raw_versions(&s3, &bucket, "")
        .await
        .into_iter()
        .map(|v| (v.version_id, v.last_modified))
        .collect();
    let between = [
        Want {
            change: "changed",
            key: "a.txt",
            from: Some((&a1, 5)),
            to: (&a2, Some(13)),
        },
        Want {
            change: "added",
            key: "back.txt",
            from: None,
            to: (&back2, Some(10)),
        },
        Want {
            change: "deleted",
            key: "b.txt",
            from: Some((&b1, 6)),
            to: (&bm, None),
        },
        Want {
            change: "deleted",
            key: "c.txt",
            from: Some((&c1, 1)),
            to: (&cm, None),
        },
        Want {
            change: "changed",
            key: "d.txt",
            from: Some((&d1, 5)),
            to: (&d2, Some(5)),
        },
        Want {
            change: "changed",
            key: "dir/e.json",
            from: Some((&e1, 2)),
            to: (&e2, Some(7)),
        },
        Want {
            change: "added",
            key: "f.txt",
            from: None,
            to: (&f1, Some(8)),
        },
    ];
    // S3 lists keys in byte order: "a.txt" < "b.txt" < "back.txt" ...
    let order = [
        "a.txt",
        "b.txt",
        "back.txt",
        "c.txt",
        "d.txt",
        "dir/e.json",
        "f.txt",
    ];
    let sorted: Vec<&Want> = order
        .iter()
        .map(|key| between.iter().find(|w| w.key == *key).expect("in the list"))
        .collect();

    // JSON: the rows, then the totals.
    let got = json_lines(diff(&bucket, true, &["--from", &t1, "--to", &t2]).success());
    let mut want: Vec<Value> = sorted.iter().map(|w| json_row(w, &lm)).collect();
    want.push(json!({
        "account": A, "path": "", "from": t1, "to": t2,
        "added": 2, "added_bytes": 18, "changed": 3, "changed_bytes_from": 12,
        "changed_bytes_to": 25, "deleted": 2, "deleted_bytes": 7,
    }));
    assert_eq!(got, want, "diff --output json");

    // The table: header, rows, totals and the note on delete markers.
    let table = diff(&bucket, false, &["--from", &t1, "--to", &t2]);
    let mut lines = vec![format!(
        "{:<7}  {:>11}  {:<36}  {:<36}  KEY",
        "CHANGE", "SIZE", "FROM_VERSION_ID", "TO_VERSION_ID"
    )];
    lines.extend(sorted.iter().map(|w| table_row(w)));
    lines.push(String::new());
    lines.push(format!(
        "{A}/ from {t1} to {t2}: added 2 (18 B), changed 3 (12 B -> 25 B), deleted 2 (7 B)"
    ));
    lines.push(
        "note: deletes are shown as they are in central; restore ignores delete markers by \
         default, so deleted keys come back unless --respect-deletes"
            .to_owned(),
    );
    // Central does not see the account's own deletes unless it replicates them: said every time.
    lines.push(
        "note: unless the account replicates deletes (replicate_deletes), keys it deleted in its \
         own bucket are not seen as deleted here: central still holds their last version (a \
         default restore brings them back)"
            .to_owned(),
    );
    let want_table = lines.join("\n") + "\n";
    assert_eq!(
        table.success(),
        want_table,
        "diff table\n--- got\n{}--- want\n{want_table}",
        table.stdout
    );

    // Globs and PATH narrow the keys; totals follow.
    let got = json_lines(
        diff(
            &bucket,
            true,
            &[
                "--from",
                &t1,
                "--to",
                &t2,
                "--include",
                "*.txt",
                "--exclude",
                "b*",
            ],
        )
        .success(),
    );
    let keys: Vec<&str> = got.iter().filter_map(|r| r["key"].as_str()).collect();
    assert_eq!(keys, ["a.txt", "c.txt", "d.txt", "f.txt"]);
    let got = json_lines(diff(&bucket, true, &["dir/", "--from", &t1, "--to", &t2]).success());
    assert_eq!(got[..1], [json_row(&between[5], &lm)]);
    assert_eq!(
        (got[1]["changed"].clone(), got[1]["path"].clone()),
        (json!(1), json!("dir/"))
    );

    // Without --to: up to now, so the writes after T2 count too.
    let got = json_lines(diff(&bucket, true, &["--from", &t1]).success());
    let a_now = got
        .iter()
        .find(|r| r["key"] == "a.txt")
        .expect("a.txt changed");
    assert_eq!(
        (
            a_now["from_version_id"].clone(),
            a_now["to_version_id"].clone()
        ),
        (json!(a1), json!(a3))
    );
    let h = got
        .iter()
        .find(|r| r["key"] == "h.txt")
        .expect("h.txt added");
    assert_eq!(
        (h["change"].clone(), h["to_version_id"].clone()),
        (json!("added"), json!(h1))
    );
    // The same moment twice, or the moments reversed, is refused with one line.
    let none = diff(&bucket, false, &["--from", &t2, "--to", &t2]);
    assert_eq!(none.code, 2, "{none:?}");
    assert_eq!(none.stdout, "");
    assert_eq!(
        none.stderr,
        format!("error: --from {t2} is not before --to {t2}: give the earlier moment as --from\n")
    );
    let reversed = diff(&bucket, true, &["--from", &t2, "--to", &t1]);
    assert_eq!(reversed.code, 2, "{reversed:?}");
    assert_eq!(reversed.stderr.lines().count(), 1, "{reversed:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn live_diff_shows_exactly_what_a_restore_would_copy() {
    let s3 = crate::common::s3().await;
    let central = crate::common::unique_bucket("live-central");
    crate::common::versioned_bucket(&s3, &central).await;
    let account = "222222222222";
    for name in ["a", "b", "c", "d"] {
        crate::common::put(
            &s3,
            &central,
            &format!("{account}/docs/{name}.txt"),
            format!("{name} one"),
        )
        .await;
    }
    let t = crate::common::cutoff().await;
    let (alias, _) = crate::common::kms_key("live").await;
    let target = crate::common::target_bucket(&s3, "live-target", &alias).await;
    let restore = |dry: bool| {
        let mut args = vec![
            "--central-bucket",
            &central,
            "--output",
            "json",
            "restore",
            "--account",
            account,
            "--at",
            &t,
            "--to-bucket",
            &target,
        ];
        if dry {
            args.push("--dry-run");
        }
        crate::common::s3central(&args)
    };
    restore(false).success();
    // The attack, in the bucket itself (never replicated here): one key overwritten, one
    // deleted, one added.
    crate::common::put(&s3, &target, &format!("{account}/docs/a.txt"), "encrypted").await;
    crate::common::delete(&s3, &target, &format!("{account}/docs/b.txt")).await;
    crate::common::put(&s3, &target, &format!("{account}/RANSOM.txt"), "pay").await;
    // `diff --live` of the bucket against central at t.
    let live_diff = || {
        crate::common::s3central(&[
            "--central-bucket",
            &central,
            "--output",
            "json",
            "diff",
            "--account",
            account,
            "--from",
            &t,
            "--live",
            &target,
        ])
    };
    let live = live_diff();
    let lines = json_lines(live.success());
    let rows: BTreeMap<String, String> = lines
        .iter()
        .filter(|l| l["change"].is_string())
        .map(|l| {
            (
                l["key"].as_str().expect("key").to_owned(),
                l["change"].as_str().expect("change").to_owned(),
            )
        })
        .collect();
    let want: BTreeMap<String, String> = [
        ("docs/a.txt", "changed"),
        ("docs/b.txt", "deleted"),
        ("RANSOM.txt", "added"),
    ]
    .into_iter()
    .map(|(k, c)| (k.to_owned(), c.to_owned()))
    .collect();
    assert_eq!(rows, want, "{}", live.stdout);
    let totals = &lines.last().expect("summary")["totals"];
    assert_eq!(totals["unchanged"], 2, "{totals}");
    // Exactly what the restore's dry run would copy.
    let plan: std::collections::BTreeSet<String> = json_lines(restore(true).success())
        .into_iter()
        .filter(|l| l["record"] == "key" && l["outcome"] == "would_copy")
        .map(|l| l["key"].as_str().expect("key").to_owned())
        .collect();
    let copied: std::collections::BTreeSet<String> = rows
        .iter()
        .filter(|(_, c)| *c != "added")
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(plan, copied);
    // After the restore, only the added key is left (a restore never deletes).
    restore(false).success();
    let after = live_diff();
    let changes: Vec<Value> = json_lines(after.success())
        .into_iter()
        .filter(|l| l["change"].is_string())
        .collect();
    assert_eq!(changes.len(), 1, "{}", after.stdout);
    assert_eq!(changes[0]["change"], "added");
}
