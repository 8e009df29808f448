//! Partitioned listing (`--list-concurrency`) against the real server: a prefix with nested
//! folders, one dominant folder, keys that are prefixes of other keys and URL-special keys, listed
//! by 1, 4 and 16 streams with tiny pages (so planning probes and many partitions are exercised):
//! `ls --versions`, `ls --at`, `diff` and `restore` give identical results whatever the streams.

use std::collections::BTreeMap;

use aws_sdk_s3::Client;

use crate::common::{
    cutoff, delete, json_lines, kms_key, put, raw_versions, s3, s3central, target_bucket,
    unique_bucket, versioned_bucket,
};

/// The account listed.
const A: &str = "111111111111";

/// Stream counts compared.
const STREAMS: [&str; 3] = ["1", "4", "16"];

/// Relative keys: nested folders, keys that are prefixes of others (`x`, `x/y`, `x/y/z`), keys
/// sorting between them (`x.txt`, `x0`, `x-`), URL-special and non-ASCII characters.
const ODD: &[&str] = &[
    "x",
    "x-",
    "x.txt",
    "x/y",
    "x/y/z",
    "x/y/z/",
    "x0",
    "a/b/c/d.txt",
    "a/b/c/e.txt",
    "a/b/f.txt",
    "a/g.txt",
    "a.b",
    "sp ace/plus+sign",
    "pct%41/amp&q=1",
    "été/ünï",
    "zz/~tilde",
];

/// A central bucket with a history under account A (and a neighbour that must never show up);
/// returns the bucket, a cut-off between the two phases of writes and one after them.
async fn seed(s3: &Client) -> (String, String, String) {
    let bucket = unique_bucket("part");
    versioned_bucket(s3, &bucket).await;
    for (i, key) in ODD.iter().enumerate() {
        put(s3, &bucket, &format!("{A}/{key}"), format!("v1 of {key}")).await;
        if i % 3 == 0 {
            put(s3, &bucket, &format!("{A}/{key}"), format!("v2 of {key}")).await;
        }
    }
    // The dominant folder: most of the versions are under data/.
    for i in 0..40 {
        put(
            s3,
            &bucket,
            &format!("{A}/data/part-{i:03}.bin"),
            format!("data {i}"),
        )
        .await;
    }
    put(s3, &bucket, "111111111112/x", "neighbour").await;
    put(s3, &bucket, "11111111111/x", "shorter id").await;
    let t = cutoff().await;
    for i in (0..40).step_by(7) {
        put(
            s3,
            &bucket,
            &format!("{A}/data/part-{i:03}.bin"),
            format!("data {i} again"),
        )
        .await;
    }
    for key in ["x", "x/y", "a/b/c/d.txt", "pct%41/amp&q=1"] {
        delete(s3, &bucket, &format!("{A}/{key}")).await;
    }
    put(s3, &bucket, &format!("{A}/x"), "x after its delete").await;
    let end = cutoff().await;
    (bucket, t, end)
}

/// `s3central --central-bucket B --output json ARGS... --list-concurrency N --page-size 3`.
fn run_with(bucket: &str, args: &[&str], streams: &str) -> String {
    let mut all = vec!["--central-bucket", bucket, "--output", "json"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--list-concurrency", streams, "--page-size", "3"]);
    s3central(&all).success().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn one_four_and_sixteen_streams_list_and_restore_identically() {
    let s3 = s3().await;
    let (bucket, t, end) = seed(&s3).await;

    // ls --versions: byte-identical, and exactly the server's entries (none lost or doubled).
    let versions: Vec<String> = STREAMS
        .iter()
        .map(|n| run_with(&bucket, &["ls", "--account", A, "--versions"], n))
        .collect();
    for (n, out) in STREAMS.iter().zip(&versions) {
        assert_eq!(out, &versions[0], "ls --versions with {n} streams differs");
    }
    let raw = raw_versions(&s3, &bucket, &format!("{A}/")).await;
    let mut listed: Vec<(String, String)> = json_lines(&versions[0])
        .iter()
        .map(|l| {
            (
                format!("{A}/{}", l["key"].as_str().unwrap()),
                l["version_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(listed.len(), raw.len(), "{}", versions[0]);
    listed.sort();
    let raw: Vec<(String, String)> = raw.into_iter().map(|v| (v.key, v.version_id)).collect();
    assert_eq!(listed, raw);
    // Keys ascending in S3's (byte) order, each key's entries together.
    let keys: Vec<String> = json_lines(&versions[0])
        .iter()
        .map(|l| l["key"].as_str().unwrap().to_owned())
        .collect();
    assert!(keys.windows(2).all(|w| w[0] <= w[1]), "{keys:?}");

    // ls --at T, and diff from T: identical whatever the streams.
    for args in [
        vec!["ls", "--account", A, "--at", t.as_str()],
        vec!["ls", "--account", A, "data/"],
        vec![
            "diff",
            "--account",
            A,
            "--from",
            t.as_str(),
            "--to",
            end.as_str(),
        ],
    ] {
        let outs: Vec<String> = STREAMS
            .iter()
            .map(|n| run_with(&bucket, &args, n))
            .collect();
        assert!(!outs[0].is_empty(), "{args:?} printed nothing");
        for (n, out) in STREAMS.iter().zip(&outs) {
            assert_eq!(out, &outs[0], "{args:?} with {n} streams differs");
        }
    }

    // restore at T: the same objects land in each target, and they are the state ls shows.
    let state: BTreeMap<String, String> =
        json_lines(&run_with(&bucket, &["ls", "--account", A, "--at", &t], "1"))
            .iter()
            .map(|l| {
                (
                    format!("{A}/{}", l["key"].as_str().unwrap()),
                    l["etag"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
    assert!(state.len() > ODD.len(), "{state:?}");
    let (alias, _) = kms_key("partitioned").await;
    for n in STREAMS {
        let target = target_bucket(&s3, "part-target", &alias).await;
        let out = run_with(
            &bucket,
            &[
                "restore",
                "--account",
                A,
                "--at",
                &t,
                "--to-bucket",
                &target,
            ],
            n,
        );
        let summary = json_lines(&out)
            .into_iter()
            .find(|l| l["record"] == "summary")
            .unwrap_or_else(|| panic!("no summary in {out}"));
        assert_eq!(summary["copied"], state.len() as u64, "{n} streams: {out}");
        assert_eq!(summary["failed"], 0);
        let mut got = BTreeMap::new();
        let mut token = None;
        loop {
            let page = s3
                .list_objects_v2()
                .bucket(&target)
                .set_continuation_token(token.take())
                .send()
                .await
                .expect("ListObjectsV2");
            for o in page.contents() {
                let key = o.key().unwrap().to_owned();
                let head = s3
                    .head_object()
                    .bucket(&target)
                    .key(&key)
                    .send()
                    .await
                    .expect("HeadObject");
                got.insert(key, head.e_tag().unwrap().trim_matches('"').to_owned());
            }
            match page.next_continuation_token() {
                Some(t) => token = Some(t.to_owned()),
                None => break,
            }
        }
        assert_eq!(got, state, "restore with {n} streams");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ls_summary_lists_accounts_concurrently_with_the_same_totals() {
    let s3 = s3().await;
    let bucket = unique_bucket("part-sum");
    versioned_bucket(&s3, &bucket).await;
    for (a, n) in [
        ("111111111111", 7),
        ("222222222222", 1),
        ("333333333333", 12),
    ] {
        for i in 0..n {
            put(&s3, &bucket, &format!("{a}/k{i}"), "12345").await;
        }
    }
    let outs: Vec<String> = STREAMS
        .iter()
        .map(|n| run_with(&bucket, &["ls", "--summary"], n))
        .collect();
    for out in &outs {
        assert_eq!(out, &outs[0]);
    }
    let rows = json_lines(&outs[0]);
    let got: Vec<(String, u64, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["account"].as_str().unwrap().to_owned(),
                r["objects"].as_u64().unwrap(),
                r["bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("111111111111".to_owned(), 7, 35),
            ("222222222222".to_owned(), 1, 5),
            ("333333333333".to_owned(), 12, 60)
        ]
    );
}
