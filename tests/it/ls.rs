//! `s3central ls` against a real server: the state at a time, the history, filters, paging, odd
//! keys, neighbouring accounts, and the table layout. Expected output is always computed here from
//! the writes the test made, never from the tool.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_s3::Client;
use chrono::{DateTime, FixedOffset};
use serde_json::{json, Value};

use crate::common::{
    cutoff, delete, enable_versioning, json_lines, put_full, raw_versions, s3, s3central,
    sleep_past_second, unique_bucket, versioned_bucket,
};

/// The account most tests list.
const A: &str = "111111111111";

/// One write the test made to the central bucket.
#[derive(Debug, Clone)]
struct Write {
    /// The full key in the bucket.
    key: String,
    version_id: String,
    is_marker: bool,
    size: u64,
    /// ETag without quotes (empty for delete markers).
    etag: String,
    /// How many cut-offs were taken before this write.
    phase: usize,
}

/// A central bucket plus the record of every write made to it, in order.
struct History {
    s3: Client,
    bucket: String,
    writes: Vec<Write>,
    cutoffs: Vec<String>,
}

impl History {
    /// A new versioned bucket with no writes yet.
    async fn new(prefix: &str) -> History {
        let s3 = s3().await;
        let bucket = unique_bucket(prefix);
        versioned_bucket(&s3, &bucket).await;
        History {
            s3,
            bucket,
            writes: Vec::new(),
            cutoffs: Vec::new(),
        }
    }

    /// Writes `body` at the full key `key`, records it and returns the version id.
    async fn put(&mut self, key: &str, body: &str) -> String {
        let p = put_full(&self.s3, &self.bucket, key, body).await;
        self.writes.push(Write {
            key: key.to_owned(),
            version_id: p.version_id.clone(),
            is_marker: false,
            size: body.len() as u64,
            etag: p.etag,
            phase: self.cutoffs.len(),
        });
        p.version_id
    }

    /// Makes a key that holds only a delete marker (as after a lifecycle rule expired its
    /// versions): S3 servers differ on deleting a key that never existed, so put, delete, purge.
    async fn marker_only(&mut self, key: &str) {
        let version_id = self.put(key, "purged").await;
        self.delete(key).await;
        self.s3
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .version_id(&version_id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DeleteObject {key} {version_id}: {e:?}"));
        self.writes.retain(|w| w.version_id != version_id);
    }

    /// Deletes the full key `key` (a delete marker) and records it.
    async fn delete(&mut self, key: &str) {
        let version_id = delete(&self.s3, &self.bucket, key).await;
        self.writes.push(Write {
            key: key.to_owned(),
            version_id,
            is_marker: true,
            size: 0,
            etag: String::new(),
            phase: self.cutoffs.len(),
        });
    }

    /// Takes a cut-off between seconds; later writes belong to the next phase.
    async fn cutoff(&mut self) -> String {
        let t = cutoff().await;
        self.cutoffs.push(t.clone());
        t
    }

    /// LastModified of every version id, as the server reports it (the one field S3 decides).
    ///
    /// Also checks the test's own timing: each write lies between the cut-offs around it.
    async fn last_modified(&self) -> HashMap<String, String> {
        let raw = raw_versions(&self.s3, &self.bucket, "").await;
        assert_eq!(raw.len(), self.writes.len(), "server holds other versions");
        let by_id: HashMap<String, String> = raw
            .into_iter()
            .map(|v| (v.version_id, v.last_modified))
            .collect();
        let parse = |t: &str| DateTime::parse_from_rfc3339(t).expect("RFC 3339");
        for w in &self.writes {
            let lm = parse(&by_id[&w.version_id]);
            if let Some(after) = self.cutoffs.get(w.phase) {
                assert!(
                    lm <= parse(after),
                    "test timing: {w:?} at {lm} after {after}"
                );
            }
            if let Some(before) = w.phase.checked_sub(1).map(|i| &self.cutoffs[i]) {
                assert!(
                    lm > parse(before),
                    "test timing: {w:?} at {lm} not after {before}"
                );
            }
        }
        by_id
    }

    /// The writes to one account (full keys under `account/`), with keys made relative.
    fn account_writes(&self, account: &str) -> Vec<Write> {
        let prefix = format!("{account}/");
        self.writes
            .iter()
            .filter_map(|w| {
                w.key.strip_prefix(&prefix).map(|rel| Write {
                    key: rel.to_owned(),
                    ..w.clone()
                })
            })
            .collect()
    }

    /// What `ls --account` must print after the first `phases` phases (`usize::MAX`: all writes).
    ///
    /// Replays the writes in order: a key shows its newest object version, marked deleted when a
    /// delete marker came after it (ls resolves with "ignore deletes"); keys come in S3's (byte)
    /// order.
    fn state(&self, account: &str, phases: usize, lm: &HashMap<String, String>) -> Vec<Value> {
        let writes: Vec<Write> = self
            .account_writes(account)
            .into_iter()
            .filter(|w| w.phase < phases)
            .collect();
        replay(writes, lm)
    }

    /// What `ls --account --at TIME` must print, from the server's LastModified of each write.
    fn state_at(&self, account: &str, time: &str, lm: &HashMap<String, String>) -> Vec<Value> {
        let time = DateTime::parse_from_rfc3339(time).expect("RFC 3339");
        let writes: Vec<Write> = self
            .account_writes(account)
            .into_iter()
            .filter(|w| DateTime::parse_from_rfc3339(&lm[&w.version_id]).expect("RFC 3339") <= time)
            .collect();
        replay(writes, lm)
    }

    /// What `ls --account --versions` must print: per key, newest first, the first one latest.
    fn versions(&self, account: &str, lm: &HashMap<String, String>) -> Vec<Value> {
        let mut by_key: BTreeMap<String, Vec<Write>> = BTreeMap::new();
        for w in self.account_writes(account) {
            by_key.entry(w.key.clone()).or_default().push(w);
        }
        let mut rows = Vec::new();
        for writes in by_key.values() {
            for (i, w) in writes.iter().rev().enumerate() {
                rows.push(history_row(w, lm, i == 0));
            }
        }
        rows
    }
}

/// The state after `writes` (in the order they happened), as `ls --account` JSON rows: each key
/// with its newest object version, `deleted` when a delete marker came after it.
fn replay(writes: Vec<Write>, lm: &HashMap<String, String>) -> Vec<Value> {
    let mut state: BTreeMap<String, (Write, bool)> = BTreeMap::new();
    for w in writes {
        if w.is_marker {
            if let Some(entry) = state.get_mut(&w.key) {
                entry.1 = true;
            }
        } else {
            state.insert(w.key.clone(), (w, false));
        }
    }
    state
        .values()
        .map(|(w, deleted)| {
            let mut row = state_row(w, lm);
            row["deleted"] = json!(deleted);
            row
        })
        .collect()
}

/// The fields of one object version in `ls --account --output json` (state rows add `deleted`).
fn state_row(w: &Write, lm: &HashMap<String, String>) -> Value {
    assert!(!w.is_marker);
    json!({
        "key": w.key,
        "version_id": w.version_id,
        "last_modified": lm[&w.version_id],
        "size": w.size,
        "storage_class": "STANDARD",
        "etag": w.etag,
    })
}

/// A line of `ls --account --versions --output json`.
fn history_row(w: &Write, lm: &HashMap<String, String>, is_latest: bool) -> Value {
    if w.is_marker {
        json!({
            "key": w.key,
            "version_id": w.version_id,
            "last_modified": lm[&w.version_id],
            "size": 0,
            "storage_class": null,
            "etag": null,
            "is_latest": is_latest,
            "is_delete_marker": true,
        })
    } else {
        let mut row = state_row(w, lm);
        row["is_latest"] = json!(is_latest);
        row["is_delete_marker"] = json!(false);
        row
    }
}

/// Runs `s3central --central-bucket BUCKET --output json ls ARGS...`, expects success, parses.
fn ls_json(bucket: &str, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--central-bucket", bucket, "--output", "json", "ls"];
    all.extend_from_slice(args);
    json_lines(s3central(&all).success())
}

/// Compares rows line by line, showing both listings in full on a difference.
fn assert_rows(got: &[Value], want: &[Value], what: &str) {
    let show = |rows: &[Value]| rows.iter().map(|r| format!("  {r}\n")).collect::<String>();
    assert!(
        got == want,
        "{what}: wrong output\n--- got ({} lines)\n{}--- want ({} lines)\n{}",
        got.len(),
        show(got),
        want.len(),
        show(want)
    );
}

/// Keys of JSON rows, for messages and simple checks.
fn keys(rows: &[Value]) -> Vec<&str> {
    rows.iter()
        .map(|r| r["key"].as_str().expect("key is a string"))
        .collect()
}

/// Full key of a relative key under account `A`.
fn k(rel: &str) -> String {
    format!("{A}/{rel}")
}

#[tokio::test]
async fn at_each_cutoff_shows_exactly_the_state_of_that_moment() {
    let mut h = History::new("ls-at").await;
    // Phase 0: first versions, a same-second overwrite, a neighbour account.
    h.put(&k("a.txt"), "a-1").await;
    h.put(&k("dir/b.txt"), "b-1 first").await;
    h.put(&k("gone.txt"), "g-1 to be deleted").await;
    h.put(&k("again.txt"), "r-1 deleted then recreated").await;
    h.put(&k("tie.txt"), "tie-1").await;
    h.put(&k("tie.txt"), "tie-2 same second").await;
    h.put(&k("dir/sub/deep.bin"), "d").await;
    h.put("222222222222/a.txt", "other account").await;
    let t1 = h.cutoff().await;
    // Phase 1: overwrite, deletes, a new key, a marker on a key that never had a version.
    h.put(&k("a.txt"), "a-2 overwritten").await;
    h.delete(&k("gone.txt")).await;
    h.delete(&k("again.txt")).await;
    h.put(&k("new.txt"), "n-1").await;
    h.marker_only(&k("never.txt")).await;
    let t2 = h.cutoff().await;
    // Phase 2: recreate after delete, delete, overwrite, delete of an overwritten key.
    h.put(&k("again.txt"), "r-2 recreated").await;
    h.delete(&k("dir/b.txt")).await;
    h.put(&k("new.txt"), "n-2 second version").await;
    h.delete(&k("a.txt")).await;
    let t3 = h.cutoff().await;
    // Phase 3: changes after the last cut-off.
    h.put(&k("a.txt"), "a-3 after the last cut-off").await;
    h.put(&k("gone.txt"), "g-2 back").await;
    h.put(&k("late.txt"), "late").await;
    h.delete(&k("new.txt")).await;
    h.put("222222222222/b.txt", "other account again").await;

    let lm = h.last_modified().await;
    for (phases, t) in [(1, &t1), (2, &t2), (3, &t3)] {
        let got = ls_json(&h.bucket, &["--account", A, "--at", t]);
        assert_rows(&got, &h.state(A, phases, &lm), &format!("--at {t}"));
    }
    assert_rows(
        &ls_json(&h.bucket, &["--account", A]),
        &h.state(A, usize::MAX, &lm),
        "no --at (now)",
    );
    assert_rows(
        &ls_json(&h.bucket, &["--account", A, "--at", "now"]),
        &h.state(A, usize::MAX, &lm),
        "--at now",
    );
    // The same instant as T2 written with an offset.
    let t2_offset = DateTime::parse_from_rfc3339(&t2)
        .expect("cut-off")
        .with_timezone(&FixedOffset::east_opt(2 * 3600).expect("offset"))
        .to_rfc3339();
    assert!(t2_offset.ends_with("+02:00"), "{t2_offset}");
    assert_rows(
        &ls_json(&h.bucket, &["--account", A, "--at", &t2_offset]),
        &h.state(A, 2, &lm),
        &format!("--at {t2_offset}"),
    );
    // The bound is inclusive: at the very second of each write, that write counts.
    let seconds: std::collections::BTreeSet<&String> = lm.values().collect();
    for second in seconds {
        let got = ls_json(&h.bucket, &["--account", A, "--at", second]);
        assert_rows(&got, &h.state_at(A, second, &lm), &format!("--at {second}"));
    }
    // Before the first write: nothing.
    assert_rows(
        &ls_json(&h.bucket, &["--account", A, "--at", "2000-01-01"]),
        &[],
        "--at 2000-01-01",
    );
    // The neighbour account sees only its own history.
    assert_rows(
        &ls_json(&h.bucket, &["--account", "222222222222", "--at", &t1]),
        &h.state("222222222222", 1, &lm),
        "other account --at T1",
    );
}

#[tokio::test]
async fn versions_lists_every_version_and_marker_newest_first() {
    let mut h = History::new("ls-versions").await;
    // Each step is in its own second, so a marker never shares a second with a version of its
    // key (S3 orders same-second entries exactly; the test server loses that order for markers).
    h.put(&k("a"), "a1").await;
    h.put(&k("b/c"), "c1").await;
    h.put(&k("d"), "d1").await;
    h.marker_only(&k("marker-only")).await;
    sleep_past_second().await;
    h.put(&k("a"), "a2 longer").await;
    h.put(&k("a"), "a3 same second").await;
    h.delete(&k("b/c")).await;
    sleep_past_second().await;
    h.put(&k("b/c"), "c2 recreated").await;
    h.delete(&k("a")).await;
    h.delete(&k("marker-only")).await;
    sleep_past_second().await;
    h.delete(&k("a")).await;
    h.put("111111111112/a", "neighbour").await;

    let lm = h.last_modified().await;
    let got = ls_json(&h.bucket, &["--account", A, "--versions"]);
    let want = h.versions(A, &lm);
    assert_eq!(want.len(), 11, "the test's own model");
    assert_rows(&got, &want, "--versions");
    // Spelled out for the key with the richest history.
    let a: Vec<(bool, bool)> = got
        .iter()
        .filter(|r| r["key"] == "a")
        .map(|r| {
            (
                r["is_latest"].as_bool().expect("is_latest"),
                r["is_delete_marker"].as_bool().expect("is_delete_marker"),
            )
        })
        .collect();
    assert_eq!(
        a,
        [
            (true, true),
            (false, true),
            (false, false),
            (false, false),
            (false, false)
        ]
    );
}

#[tokio::test]
async fn include_and_exclude_globs_select_relative_keys() {
    let mut h = History::new("ls-globs").await;
    for rel in [
        "a.json",
        "a.txt",
        "data/x.json",
        "data/x.txt",
        "data/2026/y.json",
        "data/2026/11/z.json",
        "logs/app.log",
        "logs/old/app.log",
        "datax/w.json",
    ] {
        h.put(&k(rel), rel).await;
    }
    h.delete(&k("data/x.txt")).await;
    let lm = h.last_modified().await;
    let all = h.state(A, usize::MAX, &lm);
    let select = |want: &[&str]| -> Vec<Value> {
        let rows: Vec<Value> = all
            .iter()
            .filter(|r| want.contains(&r["key"].as_str().expect("key")))
            .cloned()
            .collect();
        assert_eq!(rows.len(), want.len(), "the test's own model: {want:?}");
        rows
    };
    let cases: &[(&[&str], &[&str])] = &[
        // `*` stays within one segment.
        (&["--include", "*.json"], &["a.json"]),
        (&["--include", "data/*.json"], &["data/x.json"]),
        (&["--include", "data/*"], &["data/x.json", "data/x.txt"]),
        // `**` crosses segments (and matches none).
        (
            &["--include", "**/*.json"],
            &[
                "a.json",
                "data/2026/11/z.json",
                "data/2026/y.json",
                "data/x.json",
                "datax/w.json",
            ],
        ),
        (
            &["--include", "data/**"],
            &[
                "data/2026/11/z.json",
                "data/2026/y.json",
                "data/x.json",
                "data/x.txt",
            ],
        ),
        (
            &["--include", "data/**/*.json"],
            &["data/2026/11/z.json", "data/2026/y.json", "data/x.json"],
        ),
        // Excludes alone, and together with includes.
        (
            &["--exclude", "**/*.log"],
            &[
                "a.json",
                "a.txt",
                "data/2026/11/z.json",
                "data/2026/y.json",
                "data/x.json",
                "data/x.txt",
                "datax/w.json",
            ],
        ),
        (
            &["--exclude", "*"],
            &[
                "data/2026/11/z.json",
                "data/2026/y.json",
                "data/x.json",
                "data/x.txt",
                "datax/w.json",
                "logs/app.log",
                "logs/old/app.log",
            ],
        ),
        (
            &["--include", "data/**", "--exclude", "**/*.txt"],
            &["data/2026/11/z.json", "data/2026/y.json", "data/x.json"],
        ),
        (
            &[
                "--include",
                "**",
                "--exclude",
                "data/**",
                "--exclude",
                "logs/*",
            ],
            &["a.json", "a.txt", "datax/w.json", "logs/old/app.log"],
        ),
        // Several includes are alternatives.
        (
            &["--include", "*.json", "--include", "logs/*"],
            &["a.json", "logs/app.log"],
        ),
        (&["--include", "nothing/**"], &[]),
    ];
    for (args, want) in cases {
        let mut full = vec!["--account", A];
        full.extend_from_slice(args);
        assert_rows(
            &ls_json(&h.bucket, &full),
            &select(want),
            &format!("{args:?}"),
        );
    }
    // Filters apply to the history as well.
    let got = ls_json(
        &h.bucket,
        &["--account", A, "--versions", "--include", "data/*.txt"],
    );
    let want: Vec<Value> = h
        .versions(A, &lm)
        .into_iter()
        .filter(|r| r["key"] == "data/x.txt")
        .collect();
    assert_eq!(want.len(), 2, "the test's own model");
    assert_rows(&got, &want, "--versions --include data/*.txt");
}

#[tokio::test]
async fn versions_of_one_key_spanning_pages_resolve_the_same_at_any_page_size() {
    let mut h = History::new("ls-pages").await;
    h.put(&k("a"), "before").await;
    h.put(&k("multi"), "m1").await;
    h.put(&k("multi"), "m2 xx").await;
    sleep_past_second().await;
    h.delete(&k("multi")).await;
    sleep_past_second().await;
    h.put(&k("multi"), "m3 xxx").await;
    h.put(&k("multi"), "m4 xxxx").await;
    let t = h.cutoff().await;
    h.put(&k("multi"), "m5 xxxxx").await;
    h.put(&k("multi"), "m6 xxxxxx").await;
    sleep_past_second().await;
    h.delete(&k("multi")).await;
    sleep_past_second().await;
    h.put(&k("multi"), "m7 xxxxxxx").await;
    // Keys around it, including ones that `multi` is a prefix of.
    h.put(&k("multi/x"), "under").await;
    h.put(&k("multi0"), "after").await;
    h.put(&k("z"), "last").await;

    let lm = h.last_modified().await;
    let multi = h.versions(A, &lm);
    assert_eq!(
        multi.iter().filter(|r| r["key"] == "multi").count(),
        9,
        "the test's own model: 7 versions and 2 markers"
    );
    let now = h.state(A, usize::MAX, &lm);
    let then = h.state(A, 1, &lm);
    assert_eq!(keys(&then), ["a", "multi"], "the test's own model");
    for page_size in [
        None,
        Some("1"),
        Some("2"),
        Some("3"),
        Some("4"),
        Some("1000"),
    ] {
        let with = |args: &[&str]| {
            let mut all = vec!["--account", A];
            all.extend_from_slice(args);
            if let Some(n) = page_size {
                all.extend_from_slice(&["--page-size", n]);
            }
            ls_json(&h.bucket, &all)
        };
        let what = format!("--page-size {}", page_size.unwrap_or("default"));
        assert_rows(&with(&[]), &now, &format!("{what}, now"));
        assert_rows(&with(&["--at", &t]), &then, &format!("{what}, --at {t}"));
        assert_rows(
            &with(&["--versions"]),
            &multi,
            &format!("{what}, --versions"),
        );
    }
}

#[tokio::test]
async fn odd_keys_are_listed_back_exactly() {
    let mut h = History::new("ls-odd-keys").await;
    let odd = [
        "with space.txt",
        "  two  spaces  ",
        "unicodé/日本語 ファイル.txt",
        "emoji 🎉",
        "plus+sign",
        "a+b +c",
        "percent%25literal",
        "100%",
        "%",
        "double//slash",
        "/leading-slash",
        "trailing/",
        "dir//",
        "amp&lt;<tag>\"quote'",
        "mixed +%/ é//x",
    ];
    for rel in odd {
        h.put(&k(rel), &format!("body of {rel}")).await;
    }
    sleep_past_second().await;
    for rel in ["plus+sign", "double//slash", "unicodé/日本語 ファイル.txt"] {
        h.delete(&k(rel)).await;
    }
    sleep_past_second().await;
    for rel in ["plus+sign", "100%"] {
        h.put(&k(rel), &format!("second body of {rel}")).await;
    }
    let lm = h.last_modified().await;
    let now = h.state(A, usize::MAX, &lm);
    let mut want_keys: Vec<&str> = odd.to_vec();
    want_keys.sort();
    assert_eq!(keys(&now), want_keys, "the test's own model");
    let history = h.versions(A, &lm);
    for page_size in ["1000", "1", "2"] {
        assert_rows(
            &ls_json(&h.bucket, &["--account", A, "--page-size", page_size]),
            &now,
            &format!("now, --page-size {page_size}"),
        );
        assert_rows(
            &ls_json(
                &h.bucket,
                &["--account", A, "--versions", "--page-size", page_size],
            ),
            &history,
            &format!("--versions, --page-size {page_size}"),
        );
    }
    // Odd characters in PATH and in globs.
    for (path, want) in [
        ("unicodé/", vec!["unicodé/日本語 ファイル.txt"]),
        ("plus+", vec!["plus+sign"]),
        ("double//", vec!["double//slash"]),
        ("with space", vec!["with space.txt"]),
        ("%", vec!["%"]),
    ] {
        let got = ls_json(&h.bucket, &["--account", A, path]);
        assert_eq!(keys(&got), want, "PATH {path:?}");
    }
    let got = ls_json(&h.bucket, &["--account", A, "--include", "*%*"]);
    assert_eq!(
        keys(&got),
        ["%", "100%", "percent%25literal"],
        "--include *%*"
    );
}

#[tokio::test]
async fn neighbouring_accounts_stay_apart() {
    let mut h = History::new("ls-neighbours").await;
    h.put(&k("a.txt"), "abc").await;
    h.put(&k("a.txt"), "abcdefghij").await;
    h.put(&k("sub/b.txt"), "1234567").await;
    h.put("111111111112/c.txt", "cccc").await;
    h.put("111111111112/empty", "").await;
    h.put("111111111111x", "xxxxx").await;
    h.put("111111111111x/inner", "not an account").await;
    h.put("11111111111/short", "11 digits").await;
    h.put("1111111111111/long", "13 digits").await;
    h.put("notes/readme", "not an account").await;
    h.put("111111111113", "a key, not a prefix").await;
    sleep_past_second().await;
    h.delete(&k("sub/b.txt")).await;
    h.delete("111111111112/empty").await;
    let lm = h.last_modified().await;

    for account in ["111111111111", "111111111112"] {
        let state = h.state(account, usize::MAX, &lm);
        assert_eq!(state.len(), 2, "the test's own model");
        assert_rows(
            &ls_json(&h.bucket, &["--account", account]),
            &state,
            &format!("--account {account}"),
        );
        assert_rows(
            &ls_json(&h.bucket, &["--account", account, "--versions"]),
            &h.versions(account, &lm),
            &format!("--account {account} --versions"),
        );
    }
    assert_rows(
        &ls_json(&h.bucket, &[]),
        &[
            json!({"account": "111111111111"}),
            json!({"account": "111111111112"}),
        ],
        "ls",
    );
    // The summary counts the current state (deletes ignored, as in `ls --account`).
    let summary = |account: &str| {
        let state = h.state(account, usize::MAX, &lm);
        let bytes: u64 = state
            .iter()
            .map(|r| r["size"].as_u64().expect("size"))
            .sum();
        json!({"account": account, "objects": state.len(), "bytes": bytes})
    };
    let want = [summary("111111111111"), summary("111111111112")];
    assert_eq!(
        want,
        [
            json!({"account": "111111111111", "objects": 2, "bytes": 17}),
            json!({"account": "111111111112", "objects": 2, "bytes": 4}),
        ],
        "the test's own model"
    );
    assert_rows(&ls_json(&h.bucket, &["--summary"]), &want, "ls --summary");
    assert_rows(
        &ls_json(&h.bucket, &["--summary", "--page-size", "1"]),
        &want,
        "ls --summary --page-size 1",
    );
    // A 12-digit account with nothing of its own, next to `111111111111x` and the key
    // `111111111113`: not an account central holds, and the two real ones are named.
    let out = s3central(&[
        "--central-bucket",
        &h.bucket,
        "ls",
        "--account",
        "111111111113",
    ]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("no account 111111111113 in central; it holds 111111111111, 111111111112\n"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn an_account_with_nothing_in_it_prints_nothing() {
    let mut h = History::new("ls-empty").await;
    for args in [vec![], vec!["--summary"]] {
        let mut all = vec!["--central-bucket", &h.bucket, "--output", "json", "ls"];
        all.extend(args.iter().copied());
        let out = s3central(&all);
        assert_eq!(out.success(), "", "{all:?} on an empty bucket");
    }
    h.put(&k("x"), "x").await;
    h.delete(&k("x")).await;
    h.put("222222222222/y", "y").await;
    // An account central does not hold is refused naming the ones it holds: a typo in a script
    // must not read as "nothing happened to this account".
    for args in [
        vec!["--account", "333333333333"],
        vec!["--account", "3333-3333-3333", "--versions"],
        vec!["--account", "333333333333", "--at", "1h"],
        vec!["--account", "333333333333", "some/path/"],
    ] {
        for output in ["json", "table"] {
            let mut all = vec!["--central-bucket", &h.bucket, "--output", output, "ls"];
            all.extend(args.iter().copied());
            let out = s3central(&all);
            assert_eq!(out.code, 2, "{all:?}: {}{}", out.stdout, out.stderr);
            assert_eq!(out.stdout, "", "{all:?}");
            assert_eq!(
                out.stderr.trim_end(),
                format!(
                    "error: nothing under s3://{}/333333333333/: no account 333333333333 in central; it holds {A}, 222222222222",
                    h.bucket
                ),
                "{all:?}"
            );
        }
    }
    for args in [
        vec!["--account", A, "--at", "2000-01-01T00:00:00Z"],
        vec!["--account", A, "nothing/"],
        vec!["--account", A, "--include", "*.none"],
    ] {
        for output in ["json", "table"] {
            let mut all = vec!["--central-bucket", &h.bucket, "--output", output, "ls"];
            all.extend(args.iter().copied());
            let out = s3central(&all);
            assert_eq!(out.success(), "", "{all:?}");
        }
    }
}

#[tokio::test]
async fn path_restricts_the_listing_to_a_sub_path() {
    let mut h = History::new("ls-path").await;
    for rel in [
        "logs/a.log",
        "logs/b/c.log",
        "logs/b/d.txt",
        "logsx/e.log",
        "data/f",
    ] {
        h.put(&k(rel), rel).await;
    }
    let t = h.cutoff().await;
    h.put(&k("logs/a.log"), "logs/a.log second version").await;
    h.put(&k("logs/new.log"), "new").await;
    h.delete(&k("logs/b/c.log")).await;
    let lm = h.last_modified().await;
    let under = |rows: Vec<Value>, path: &str| -> Vec<Value> {
        rows.into_iter()
            .filter(|r| r["key"].as_str().expect("key").starts_with(path))
            .collect()
    };
    for path in ["logs/", "logs/b/", "logs/a", "data/"] {
        // Keys stay relative to the account prefix, not to PATH.
        let now = under(h.state(A, usize::MAX, &lm), path);
        assert!(!now.is_empty(), "the test's own model: {path}");
        assert_rows(
            &ls_json(&h.bucket, &["--account", A, path]),
            &now,
            &format!("PATH {path}"),
        );
        assert_rows(
            &ls_json(&h.bucket, &["--account", A, path, "--at", &t]),
            &under(h.state(A, 1, &lm), path),
            &format!("PATH {path} --at {t}"),
        );
        assert_rows(
            &ls_json(&h.bucket, &["--account", A, path, "--versions"]),
            &under(h.versions(A, &lm), path),
            &format!("PATH {path} --versions"),
        );
    }
    assert_eq!(
        keys(&ls_json(&h.bucket, &["--account", A, "logs/"])),
        ["logs/a.log", "logs/b/c.log", "logs/b/d.txt", "logs/new.log"]
    );
    // Globs still match the key relative to the account, whatever PATH is.
    let got = ls_json(
        &h.bucket,
        &["--account", A, "logs/", "--include", "logs/*/*.txt"],
    );
    assert_eq!(keys(&got), ["logs/b/d.txt"]);
    let got = ls_json(&h.bucket, &["--account", A, "logs/", "--include", "*.txt"]);
    assert_eq!(keys(&got), Vec::<&str>::new());
}

/// How a table column is aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

/// Splits table lines into cells, checking that every row lines up with the header.
///
/// A left-aligned cell must start at its heading's first character, a right-aligned one must end
/// at its heading's last; the last column runs to the end of the line.
fn table_cells(stdout: &str, columns: &[(&str, Align)]) -> Vec<Vec<String>> {
    // The table ends at the first empty line (the totals line follows it).
    let lines: Vec<Vec<char>> = stdout
        .lines()
        .take_while(|l| !l.is_empty())
        .map(|l| l.chars().collect())
        .collect();
    assert!(!lines.is_empty(), "no table: {stdout:?}");
    let header: String = lines[0].iter().collect();
    let mut spans = Vec::new();
    let mut from = 0;
    for (name, _) in columns {
        let start = header[from..]
            .find(name)
            .map(|i| from + i)
            .unwrap_or_else(|| panic!("no {name} in header {header:?}"));
        spans.push((start, start + name.len()));
        from = start + name.len();
    }
    let names: Vec<&str> = header.split_whitespace().collect();
    let want: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, want, "header {header:?}");
    let mut rows = Vec::new();
    for line in &lines[1..] {
        let text: String = line.iter().collect();
        let at = |i: usize| line.get(i).copied().unwrap_or(' ');
        let mut cells = Vec::new();
        for (i, ((name, align), (start, end))) in columns.iter().zip(&spans).enumerate() {
            let last = i + 1 == columns.len();
            let cell: String = match align {
                Align::Left if last => line[(*start).min(line.len())..].iter().collect(),
                Align::Left => {
                    let rest: String = line[(*start).min(line.len())..].iter().collect();
                    rest.split("  ").next().unwrap_or("").to_owned()
                }
                Align::Right => {
                    let head: String = line[..(*end).min(line.len())].iter().collect();
                    head.rsplit("  ")
                        .next()
                        .unwrap_or("")
                        .trim_start()
                        .to_owned()
                }
            };
            if !cell.is_empty() {
                match align {
                    Align::Left => assert!(
                        at(*start) != ' ' && (*start == 0 || at(start - 1) == ' '),
                        "{name} cell {cell:?} does not start at column {start}:\n{header}\n{text}"
                    ),
                    Align::Right => assert!(
                        at(end - 1) != ' ' && at(*end) == ' ',
                        "{name} cell {cell:?} does not end at column {end}:\n{header}\n{text}"
                    ),
                }
            }
            cells.push(cell);
        }
        rows.push(cells);
    }
    rows
}

/// Runs `ls` in table form and returns stdout.
fn ls_table(bucket: &str, args: &[&str]) -> String {
    let mut all = vec!["--central-bucket", bucket, "ls"];
    all.extend_from_slice(args);
    s3central(&all).success().to_owned()
}

#[tokio::test]
async fn table_output_has_a_header_and_aligned_columns() {
    let mut h = History::new("ls-table").await;
    h.put(&k("big.bin"), &"x".repeat(3000)).await;
    h.put(&k("dir/ünïcode  name.txt"), "hello").await;
    h.put(&k("empty"), "").await;
    h.put(&k("small.txt"), "12345").await;
    h.put("222222222222/other", "1234567890").await;
    sleep_past_second().await;
    h.delete(&k("small.txt")).await;
    let lm = h.last_modified().await;
    let size_text = HashMap::from([(3000, "2.93 KiB"), (5, "5 B"), (0, "0 B"), (10, "10 B")]);

    use Align::{Left, Right};
    let short = |id: &str| -> String {
        if id.chars().count() <= 10 {
            id.to_owned()
        } else {
            format!("{}…", id.chars().take(8).collect::<String>())
        }
    };
    let yes = |b: bool| if b { "yes" } else { "" }.to_owned();

    // The default view fits 80 columns with short version ids and a DELETED column.
    let state_columns = [
        ("LAST_MODIFIED", Left),
        ("SIZE", Right),
        ("VERSION", Left),
        ("DELETED", Left),
        ("KEY", Left),
    ];
    let table = ls_table(&h.bucket, &["--account", A]);
    let got = table_cells(&table, &state_columns);
    let state = h.state(A, usize::MAX, &lm);
    let want: Vec<Vec<String>> = state
        .iter()
        .map(|r| {
            vec![
                r["last_modified"].as_str().expect("time").to_owned(),
                size_text[&r["size"].as_u64().expect("size")].to_owned(),
                short(r["version_id"].as_str().expect("id")),
                yes(r["deleted"] == true),
                r["key"].as_str().expect("key").to_owned(),
            ]
        })
        .collect();
    assert_eq!(want.len(), 4, "the test's own model");
    assert_eq!(
        want.iter().filter(|r| r[3] == "yes").count(),
        1,
        "the test's own model: small.txt is deleted"
    );
    assert_eq!(got, want, "ls --account table");
    // Every row but the key fits in 80 columns: the key column starts before column 57.
    let key_at = table
        .lines()
        .next()
        .expect("header")
        .find("KEY")
        .expect("KEY");
    assert!(key_at <= 56, "key column at {key_at}:\n{table}");
    for line in table.lines().filter(|l| !l.contains("ünïcode")) {
        assert!(
            line.chars().count() <= 80 || line.starts_with("4 keys"),
            "{line}"
        );
    }
    let totals = table.lines().last().expect("totals");
    assert!(
        totals.starts_with(&format!(
            "4 keys, 2.94 KiB under s3://{}/{A}/ at ",
            h.bucket
        )) && totals.contains("1 of them deleted at that time"),
        "{table}"
    );

    // --long: full version ids and the storage class.
    let long_columns = [
        ("LAST_MODIFIED", Left),
        ("SIZE", Right),
        ("STORAGE_CLASS", Left),
        ("VERSION_ID", Left),
        ("DELETED", Left),
        ("KEY", Left),
    ];
    let got = table_cells(
        &ls_table(&h.bucket, &["--account", A, "--long"]),
        &long_columns,
    );
    let want: Vec<Vec<String>> = state
        .iter()
        .map(|r| {
            vec![
                r["last_modified"].as_str().expect("time").to_owned(),
                size_text[&r["size"].as_u64().expect("size")].to_owned(),
                "STANDARD".to_owned(),
                r["version_id"].as_str().expect("id").to_owned(),
                yes(r["deleted"] == true),
                r["key"].as_str().expect("key").to_owned(),
            ]
        })
        .collect();
    assert_eq!(got, want, "ls --account --long table");

    let history_columns = [
        ("LAST_MODIFIED", Left),
        ("SIZE", Right),
        ("STORAGE_CLASS", Left),
        ("VERSION_ID", Left),
        ("LATEST", Left),
        ("KEY", Left),
    ];
    let table = ls_table(&h.bucket, &["--account", A, "--versions", "--long"]);
    let got = table_cells(&table, &history_columns);
    let want: Vec<Vec<String>> = h
        .versions(A, &lm)
        .iter()
        .map(|r| {
            let marker = r["is_delete_marker"] == true;
            vec![
                r["last_modified"].as_str().expect("time").to_owned(),
                if marker {
                    "(deleted)".to_owned()
                } else {
                    size_text[&r["size"].as_u64().expect("size")].to_owned()
                },
                if marker { "-" } else { "STANDARD" }.to_owned(),
                r["version_id"].as_str().expect("id").to_owned(),
                yes(r["is_latest"] == true),
                r["key"].as_str().expect("key").to_owned(),
            ]
        })
        .collect();
    assert_eq!(want.len(), 5, "the test's own model");
    assert_eq!(got, want, "ls --account --versions --long table");
    assert!(
        table.lines().last().expect("totals").starts_with(&format!(
            "5 entries under s3://{}/{A}/: 4 versions (2.94 KiB), 1 delete marker",
            h.bucket
        )),
        "{table}"
    );
    let got = table_cells(
        &ls_table(&h.bucket, &["--account", A, "--versions"]),
        &[
            ("LAST_MODIFIED", Left),
            ("SIZE", Right),
            ("VERSION", Left),
            ("LATEST", Left),
            ("KEY", Left),
        ],
    );
    assert_eq!(got.len(), 5);
    for (row, want) in got.iter().zip(&want) {
        assert_eq!(row[2], short(&want[3]), "short id of {}", want[5]);
    }

    let got = table_cells(&ls_table(&h.bucket, &[]), &[("ACCOUNT", Left)]);
    assert_eq!(got, [[A], ["222222222222"]].map(|r| r.map(String::from)));
    let table = ls_table(&h.bucket, &["--summary"]);
    let got = table_cells(
        &table,
        &[("ACCOUNT", Left), ("OBJECTS", Right), ("SIZE", Right)],
    );
    // 111111111111: big.bin, the unicode key, empty and small.txt (deletes are ignored).
    assert_eq!(
        got,
        [[A, "4", "2.94 KiB"], ["222222222222", "1", "10 B"]].map(|r| r.map(String::from))
    );
    assert!(
        table.lines().last().expect("totals").starts_with(&format!(
            "2 accounts, 5 objects, 2.95 KiB in s3://{} now",
            h.bucket
        )),
        "{table}"
    );
}

#[tokio::test]
async fn deleted_keys_are_marked_and_respect_deletes_leaves_them_out() {
    let mut h = History::new("ls-deleted").await;
    h.put(&k("kept"), "kept").await;
    h.put(&k("gone"), "gone v1").await;
    h.put(&k("back"), "back v1").await;
    sleep_past_second().await;
    h.delete(&k("gone")).await;
    h.delete(&k("back")).await;
    let t = h.cutoff().await;
    h.put(&k("back"), "back v2").await;
    let lm = h.last_modified().await;
    for (at, phases) in [(None, usize::MAX), (Some(t.as_str()), 1)] {
        let mut args = vec!["--account", A];
        args.extend(at.iter().flat_map(|t| ["--at", *t]));
        let want = h.state(A, phases, &lm);
        let got = ls_json(&h.bucket, &args);
        assert_rows(&got, &want, &format!("{args:?}"));
        let deleted: Vec<&str> = got
            .iter()
            .filter(|r| r["deleted"] == true)
            .map(|r| r["key"].as_str().expect("key"))
            .collect();
        assert_eq!(
            deleted,
            if at.is_some() {
                vec!["back", "gone"]
            } else {
                vec!["gone"]
            },
            "{args:?}"
        );
        // --respect-deletes: exactly the rows not marked deleted, as a restore would see them.
        args.push("--respect-deletes");
        let kept: Vec<Value> = want.into_iter().filter(|r| r["deleted"] == false).collect();
        assert_rows(&ls_json(&h.bucket, &args), &kept, &format!("{args:?}"));
    }
}

#[tokio::test]
async fn an_empty_result_that_the_globs_made_says_so_with_a_double_star_hint() {
    let mut h = History::new("ls-glob-empty").await;
    h.put(&k("logs/2026/a.json"), "{}").await;
    h.put(&k("logs/2026/b.txt"), "b").await;
    let out = s3central(&[
        "--central-bucket",
        &h.bucket,
        "ls",
        "--account",
        A,
        "--include",
        "*.json",
    ]);
    assert_eq!(out.success(), "");
    assert!(
        out.stderr
            .contains("match --include/--exclude (2 keys there before the globs")
            && out.stderr.contains("--include '**/*.json'"),
        "{}",
        out.stderr
    );
    // A glob that could not match anyway gets no hint; an empty prefix says nothing of globs.
    let out = s3central(&[
        "--central-bucket",
        &h.bucket,
        "ls",
        "--account",
        A,
        "--include",
        "*.csv",
    ]);
    assert!(
        out.stderr.contains("before the globs") && !out.stderr.contains("**/"),
        "{}",
        out.stderr
    );
    let out = s3central(&["--central-bucket", &h.bucket, "ls", "--account", A, "none/"]);
    assert!(
        out.stderr.contains("no keys under") && !out.stderr.contains("--include"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn objects_from_before_versioning_are_listed_with_version_null() {
    let s3 = s3().await;
    let bucket = unique_bucket("ls-null-version");
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("CreateBucket");
    let mut etags = HashMap::new();
    for (rel, body) in [("a", "pre-a"), ("b", "pre-b!"), ("c", "pre-c!!")] {
        let out = s3
            .put_object()
            .bucket(&bucket)
            .key(k(rel))
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .expect("PutObject before versioning");
        assert_eq!(out.version_id(), None, "bucket is not versioned yet");
        let etag = out.e_tag().expect("ETag").trim_matches('"').to_owned();
        etags.insert(rel, (etag, body.len()));
    }
    enable_versioning(&s3, &bucket).await;
    let a2 = put_full(&s3, &bucket, &k("a"), "post-a").await;
    // A marker in the same second as a version of its key: see versions_lists_every_version_...
    sleep_past_second().await;
    delete(&s3, &bucket, &k("b")).await;
    let raw = raw_versions(&s3, &bucket, "").await;
    let lm = |key: &str, id: &str| {
        raw.iter()
            .find(|v| v.key == k(key) && v.version_id == id)
            .unwrap_or_else(|| panic!("no {key} {id} in {raw:?}"))
            .last_modified
            .clone()
    };
    let null_row = |rel: &str| {
        let (etag, size) = &etags[rel];
        json!({
            "key": rel,
            "version_id": "null",
            "last_modified": lm(rel, "null"),
            "size": size,
            "storage_class": "STANDARD",
            "etag": etag,
            "deleted": rel == "b",
        })
    };
    let want = vec![
        json!({
            "key": "a",
            "version_id": a2.version_id,
            "last_modified": lm("a", &a2.version_id),
            "size": 6,
            "storage_class": "STANDARD",
            "etag": a2.etag,
            "deleted": false,
        }),
        null_row("b"),
        null_row("c"),
    ];
    for page_size in ["1000", "1", "2"] {
        assert_rows(
            &ls_json(&bucket, &["--account", A, "--page-size", page_size]),
            &want,
            &format!("--page-size {page_size}"),
        );
        let history = ls_json(
            &bucket,
            &["--account", A, "--versions", "--page-size", page_size],
        );
        let ids: Vec<(&str, &str)> = history
            .iter()
            .map(|r| {
                (
                    r["key"].as_str().expect("key"),
                    r["version_id"].as_str().expect("id"),
                )
            })
            .collect();
        let marker = raw.iter().find(|v| v.is_marker).expect("b's delete marker");
        assert_eq!(
            ids,
            [
                ("a", a2.version_id.as_str()),
                ("a", "null"),
                ("b", marker.version_id.as_str()),
                ("b", "null"),
                ("c", "null"),
            ],
            "--versions --page-size {page_size}"
        );
    }
}
