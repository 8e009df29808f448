//! `--inventory`: restores and `ls` from S3 Inventory reports written in AWS's format (gzip CSV
//! and Parquet, manifest.json and manifest.checksum) into the local server, compared with the
//! listing-based result and read back exactly; and every refusal writes nothing.

use std::collections::BTreeMap;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use crate::common::{json_lines, kms_key, put, s3central, target_bucket, unique_bucket};
use crate::restore::{assert_refused, assert_state, read_back, summary, History, ACCOUNT};

#[path = "../support/inventory_writer.rs"]
mod writer;

use writer::{FileEntry, Row};

/// Every version and delete marker in the bucket (all accounts), as inventory rows, with a
/// sub-second part added to LastModified (inventories carry milliseconds; listings whole seconds).
async fn rows_of(s3: &Client, bucket: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    let (mut key_marker, mut version_marker) = (None, None);
    loop {
        let page = s3
            .list_object_versions()
            .bucket(bucket)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
            .expect("ListObjectVersions");
        let ms = |t: Option<&aws_sdk_s3::primitives::DateTime>, n: usize| {
            t.expect("LastModified").secs() * 1000 + (n as i64 * 137) % 1000
        };
        for v in page.versions() {
            rows.push(Row {
                bucket: bucket.to_owned(),
                key: v.key().expect("key").to_owned(),
                version_id: v.version_id().unwrap_or_default().to_owned(),
                is_latest: v.is_latest().unwrap_or(false),
                is_delete_marker: false,
                size: Some(v.size().unwrap_or(0) as u64),
                last_modified_ms: ms(v.last_modified(), rows.len()),
                etag: v.e_tag().map(|e| e.trim_matches('"').to_owned()),
                storage_class: Some(
                    v.storage_class()
                        .map(|c| c.as_str().to_owned())
                        .unwrap_or_else(|| "STANDARD".into()),
                ),
            });
        }
        for m in page.delete_markers() {
            rows.push(Row {
                bucket: bucket.to_owned(),
                key: m.key().expect("key").to_owned(),
                version_id: m.version_id().unwrap_or_default().to_owned(),
                is_latest: m.is_latest().unwrap_or(false),
                is_delete_marker: true,
                size: None,
                last_modified_ms: ms(m.last_modified(), rows.len()),
                etag: None,
                storage_class: None,
            });
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        version_marker = page.next_version_id_marker().map(str::to_owned);
    }
    // Inventory rows come in no particular order: a fixed shuffle, so order cannot help.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for i in (1..rows.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        rows.swap(i, (seed % (i as u64 + 1)) as usize);
    }
    rows
}

/// Which data file format to publish.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Parquet,
}

/// How a published inventory is spoiled (or not), for the refusal cases.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Spoil {
    None,
    WrongMd5,
    NoChecksum,
}

/// Writes an inventory of `rows` as S3 would (data files in `files` parts, manifest.json,
/// manifest.checksum) under `<config>/` in `bucket`; returns the manifest's s3:// URL.
#[allow(clippy::too_many_arguments)]
async fn publish(
    s3: &Client,
    bucket: &str,
    source: &str,
    config: &str,
    format: Format,
    schema: Option<&str>,
    rows: &[Row],
    created_ms: i64,
    files: usize,
    spoil: Spoil,
) -> String {
    let mut entries = Vec::new();
    let per = rows.len().div_ceil(files.max(1)).max(1);
    for (i, chunk) in rows.chunks(per).enumerate() {
        let (body, ext) = match format {
            Format::Csv => (
                writer::write_csv_gz(Vec::new(), chunk.to_vec()).expect("csv"),
                "csv.gz",
            ),
            Format::Parquet => (
                writer::write_parquet(Vec::new(), chunk, 7).expect("parquet"),
                "parquet",
            ),
        };
        let key = format!("{source}/{config}/data/file-{i}.{ext}");
        entries.push(FileEntry {
            key: key.clone(),
            size: body.len() as u64,
            md5: if spoil == Spoil::WrongMd5 {
                writer::md5_hex(b"something else")
            } else {
                writer::md5_hex(&body)
            },
        });
        put(s3, bucket, &key, &body).await;
    }
    let (name, default_schema) = match format {
        Format::Csv => ("CSV", writer::CSV_SCHEMA),
        Format::Parquet => ("Parquet", writer::PARQUET_SCHEMA),
    };
    let manifest = writer::manifest_json(
        source,
        bucket,
        created_ms,
        name,
        schema.unwrap_or(default_schema),
        &entries,
    );
    let dir = format!("{source}/{config}/2026-12-01T00-00Z");
    put(
        s3,
        bucket,
        &format!("{dir}/manifest.json"),
        manifest.as_bytes(),
    )
    .await;
    if spoil != Spoil::NoChecksum {
        put(
            s3,
            bucket,
            &format!("{dir}/manifest.checksum"),
            writer::md5_hex(manifest.as_bytes()).as_bytes(),
        )
        .await;
    }
    format!("s3://{bucket}/{dir}/manifest.json")
}

/// The keys and version ids a dry run would copy, from its JSON lines.
fn plan(stdout: &str) -> BTreeMap<String, String> {
    json_lines(stdout)
        .into_iter()
        .filter(|l| l["record"] == "key" && l["outcome"] == "would_copy")
        .map(|l| {
            (
                l["key"].as_str().expect("key").to_owned(),
                l["version_id"].as_str().expect("id").to_owned(),
            )
        })
        .collect()
}

fn args<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    base.iter().chain(extra).copied().collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn restores_from_csv_and_parquet_inventories_equal_the_listing_and_are_exact() {
    let h = History::standard().await;
    // Another account's versions are in the inventory too; they must stay out.
    put(
        &h.s3,
        &h.central,
        "333333333333/other.txt",
        b"not this account",
    )
    .await;
    put(&h.s3, &h.central, "2222222222220/sibling.txt", b"nor this").await;
    let rows = rows_of(&h.s3, &h.central).await;
    let inv = unique_bucket("inventory");
    crate::common::versioned_bucket(&h.s3, &inv).await;
    let created = chrono::Utc::now().timestamp_millis();
    let csv = publish(
        &h.s3,
        &inv,
        &h.central,
        "csv",
        Format::Csv,
        None,
        &rows,
        created,
        3,
        Spoil::None,
    )
    .await;
    let parquet = publish(
        &h.s3,
        &inv,
        &h.central,
        "parquet",
        Format::Parquet,
        None,
        &rows,
        created,
        2,
        Spoil::None,
    )
    .await;
    let (alias, arn) = kms_key("inventory").await;
    let dry_target = target_bucket(&h.s3, "inv-dry", &alias).await;
    // Dry runs at each cut-off, ignoring and respecting deletes: the same plan from the listing,
    // the CSV inventory (with a sort budget so small that every run spills) and the Parquet one.
    for (i, t) in h.cutoffs.iter().enumerate() {
        for respect in [false, true] {
            let mut base = vec![
                "--central-bucket",
                &h.central,
                "--output",
                "json",
                "restore",
                "--account",
                ACCOUNT,
                "--at",
                t,
                "--to-bucket",
                &dry_target,
                "--dry-run",
            ];
            if respect {
                base.push("--respect-deletes");
            }
            let listing = plan(s3central(&base).success());
            let from_csv = s3central(&args(
                &base,
                &["--inventory", &csv, "--inventory-memory", "300B"],
            ));
            assert!(
                from_csv
                    .stderr
                    .contains("versions from the inventory taken at")
                    && from_csv.stderr.contains("spilled"),
                "{}",
                from_csv.stderr
            );
            let from_parquet = s3central(&args(&base, &["--inventory", &parquet]));
            let expected: BTreeMap<String, String> = h
                .expected(i, respect)
                .into_iter()
                .map(|(k, e)| (k, e.version_id))
                .collect();
            assert_eq!(listing, expected, "listing at {t}, respect {respect}");
            assert_eq!(
                plan(from_csv.success()),
                expected,
                "CSV at {t}, respect {respect}"
            );
            assert_eq!(
                plan(from_parquet.success()),
                expected,
                "Parquet at {t}, respect {respect}"
            );
        }
    }
    // ls --at: the same lines from the listing and from the inventory.
    let t1 = h.cutoffs[1].as_str();
    let ls = [
        "--central-bucket",
        &h.central,
        "--output",
        "json",
        "ls",
        "--account",
        ACCOUNT,
        "--at",
        t1,
    ];
    let listed = s3central(&ls);
    let inventoried = s3central(&args(&ls, &["--inventory", &parquet]));
    assert_eq!(inventoried.success(), listed.success());
    assert!(json_lines(&listed.stdout).len() >= 6, "{}", listed.stdout);
    // Real restores, read back byte for byte: CSV at T1, Parquet at T0.
    for (i, url) in [(1usize, &csv), (0, &parquet)] {
        let target = target_bucket(&h.s3, "inv-target", &alias).await;
        let out = s3central(&[
            "--central-bucket",
            &h.central,
            "--output",
            "json",
            "restore",
            "--account",
            ACCOUNT,
            "--at",
            &h.cutoffs[i],
            "--to-bucket",
            &target,
            "--inventory",
            url,
        ]);
        let s = summary(out.success());
        let expected = h.expected(i, false);
        assert_eq!(s["copied"], expected.len() as u64, "{}", out.stdout);
        assert_eq!(s["failed"], 0);
        let got = read_back(&h.s3, &target, &format!("{ACCOUNT}/"), &arn).await;
        assert_state(&got, &expected);
    }
    // --engine batch: the same manifest from the inventory as from the listing.
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = |name: &str| dir.path().join(name).to_str().expect("path").to_owned();
    let (from_listing, from_inventory) = (manifest("listing.csv"), manifest("inventory.csv"));
    let batch = [
        "--central-bucket",
        &h.central,
        "--output",
        "json",
        "restore",
        "--account",
        ACCOUNT,
        "--at",
        t1,
        "--to-bucket",
        &dry_target,
        "--engine",
        "batch",
        "--dry-run",
    ];
    s3central(&args(&batch, &["--manifest-out", &from_listing])).success();
    s3central(&args(
        &batch,
        &["--manifest-out", &from_inventory, "--inventory", &csv],
    ))
    .success();
    let text = std::fs::read_to_string(&from_listing).expect("manifest");
    assert_eq!(text.lines().count(), h.expected(1, false).len());
    assert_eq!(
        std::fs::read_to_string(&from_inventory).expect("manifest"),
        text
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unusable_inventories_are_refused_before_any_write() {
    let s3 = crate::common::s3().await;
    let central = unique_bucket("inv-central");
    crate::common::versioned_bucket(&s3, &central).await;
    let key = format!("{ACCOUNT}/a.txt");
    put(&s3, &central, &key, b"a").await;
    let rows = rows_of(&s3, &central).await;
    let inv = unique_bucket("inv-refusals");
    crate::common::versioned_bucket(&s3, &inv).await;
    let (alias, _) = kms_key("inv-refusals").await;
    let target = target_bucket(&s3, "inv-refused", &alias).await;
    let now = chrono::Utc::now();
    let created = now.timestamp_millis();
    let at = crate::common::rfc3339(now);
    let publish_case = |config: &'static str,
                        format: Format,
                        schema: Option<&'static str>,
                        created: i64,
                        spoil: Spoil,
                        source: Option<&'static str>| {
        let (s3, inv, central, rows) = (s3.clone(), inv.clone(), central.clone(), rows.clone());
        async move {
            publish(
                &s3,
                &inv,
                source.unwrap_or(&central),
                config,
                format,
                schema,
                &rows,
                created,
                1,
                spoil,
            )
            .await
        }
    };
    let stale = publish_case(
        "stale",
        Format::Csv,
        None,
        created - 60_000,
        Spoil::None,
        None,
    )
    .await;
    let other = publish_case(
        "other",
        Format::Csv,
        None,
        created,
        Spoil::None,
        Some("some-other-bucket"),
    )
    .await;
    let current_only = publish_case(
        "current",
        Format::Csv,
        Some("Bucket, Key, Size, LastModifiedDate, ETag, StorageClass"),
        created,
        Spoil::None,
        None,
    )
    .await;
    let bad_md5 = publish_case("md5", Format::Parquet, None, created, Spoil::WrongMd5, None).await;
    let unfinished = publish_case(
        "unfinished",
        Format::Csv,
        None,
        created,
        Spoil::NoChecksum,
        None,
    )
    .await;
    // ORC: a manifest that says so (its data files are never read).
    let orc_dir = format!("{central}/orc/2026-12-01T00-00Z");
    let orc_manifest = writer::manifest_json(
        &central,
        &inv,
        created,
        "ORC",
        "struct<bucket:string,key:string,version_id:string>",
        &[],
    );
    put(
        &s3,
        &inv,
        &format!("{orc_dir}/manifest.json"),
        orc_manifest.as_bytes(),
    )
    .await;
    put(
        &s3,
        &inv,
        &format!("{orc_dir}/manifest.checksum"),
        writer::md5_hex(orc_manifest.as_bytes()).as_bytes(),
    )
    .await;
    let orc = format!("s3://{inv}/{orc_dir}/manifest.json");
    // A manifest.json whose manifest.checksum does not match it.
    let tampered_dir = format!("{central}/tampered/2026-12-01T00-00Z");
    put(
        &s3,
        &inv,
        &format!("{tampered_dir}/manifest.json"),
        orc_manifest.replace("ORC", "CSV").as_bytes(),
    )
    .await;
    s3.put_object()
        .bucket(&inv)
        .key(format!("{tampered_dir}/manifest.checksum"))
        .body(ByteStream::from(
            writer::md5_hex(orc_manifest.as_bytes()).into_bytes(),
        ))
        .send()
        .await
        .expect("PutObject");
    let tampered = format!("s3://{inv}/{tampered_dir}/manifest.json");
    let cases: [(&str, String); 8] = [
        ("was taken at", stale.clone()),
        ("not the central bucket", other),
        ("IncludedObjectVersions=All", current_only),
        ("but the manifest says", bad_md5),
        ("no manifest.checksum", unfinished),
        ("ORC is unsupported", orc),
        ("but manifest.checksum says", tampered),
        ("is not an s3:// URL", format!("{inv}/manifest.json")),
    ];
    let buckets = [central.as_str(), target.as_str()];
    for (needle, url) in &cases {
        assert_refused(
            &s3,
            &buckets,
            &[
                "--central-bucket",
                &central,
                "restore",
                "--account",
                ACCOUNT,
                "--at",
                &at,
                "--to-bucket",
                &target,
                "--inventory",
                url,
            ],
            needle,
        )
        .await;
    }
    // The staleness refusal names both times, and the way out.
    let out = s3central(&[
        "--central-bucket",
        &central,
        "restore",
        "--account",
        ACCOUNT,
        "--at",
        &at,
        "--to-bucket",
        &target,
        "--inventory",
        &stale,
        "--engine",
        "batch",
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("before --at {at}"))
            && out
                .stderr
                .contains("use a newer inventory or drop --inventory"),
        "{}",
        out.stderr
    );
}

/// Issue 18, finding 7: every read of an inventory (manifest.json, manifest.checksum, each data
/// file) says which account must own its bucket (`x-amz-expected-bucket-owner`): the caller's own
/// by default, `--inventory-owner` else, so a bucket of that name registered by someone else is
/// refused by S3 rather than read (the local server ignores the header: that refusal is AWS's,
/// not shown here). Seen on the wire through the test proxy.
#[tokio::test(flavor = "multi_thread")]
async fn every_inventory_read_names_the_owner_of_its_bucket() {
    use crate::proxy::{Plan, Proxy};
    let h = History::standard().await;
    let rows = rows_of(&h.s3, &h.central).await;
    let inv = unique_bucket("inventory-owner");
    crate::common::versioned_bucket(&h.s3, &inv).await;
    let created = chrono::Utc::now().timestamp_millis();
    let manifest = publish(
        &h.s3,
        &inv,
        &h.central,
        "owner",
        Format::Csv,
        None,
        &rows,
        created,
        2,
        Spoil::None,
    )
    .await;
    let proxy = Proxy::start(&crate::common::endpoint(), Plan::new(11, 0.0)).await;
    let url = proxy.url();
    for (owner, extra) in [
        ("123456789012", vec![]),
        ("444455556666", vec!["--inventory-owner", "4444-5555-6666"]),
    ] {
        let before = proxy.stats().expected_owners("GetObject");
        let mut args = vec![
            "--endpoint-url",
            url.as_str(),
            "--central-bucket",
            &h.central,
            "--output",
            "json",
            "ls",
            "--account",
            ACCOUNT,
            "--at",
            &h.cutoffs[1],
            "--inventory",
            &manifest,
        ];
        args.extend(extra);
        let out = crate::common::run(crate::common::bare_command(&args));
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        let after = proxy.stats().expected_owners("GetObject");
        let reads: u64 = after.values().sum::<u64>() - before.values().sum::<u64>();
        // manifest.json, manifest.checksum and two data files, all with the owner.
        assert_eq!(reads, 4, "{after:?}");
        assert_eq!(
            after.get(owner).copied().unwrap_or(0) - before.get(owner).copied().unwrap_or(0),
            4,
            "{after:?}"
        );
    }
}

/// Writes `first` then `second` (`None`: a delete) to a fresh key until both land in one whole
/// second (a pair straddling a second is left as it is); returns the key, the two version ids and
/// that second.
async fn same_second_pair(
    s3: &Client,
    bucket: &str,
    base: &str,
    first: &[u8],
    second: Option<&[u8]>,
) -> (String, String, String, i64) {
    for attempt in 0..8 {
        let key = format!("{ACCOUNT}/{base}-{attempt}");
        let one = put(s3, bucket, &key, first).await;
        let two = match second {
            Some(body) => put(s3, bucket, &key, body).await,
            None => crate::common::delete(s3, bucket, &key).await,
        };
        let page = s3
            .list_object_versions()
            .bucket(bucket)
            .prefix(&key)
            .send()
            .await
            .expect("ListObjectVersions");
        let seconds: Vec<i64> = page
            .versions()
            .iter()
            .filter_map(|v| v.last_modified().map(|t| t.secs()))
            .chain(
                page.delete_markers()
                    .iter()
                    .filter_map(|m| m.last_modified().map(|t| t.secs())),
            )
            .collect();
        if seconds.len() == 2 && seconds[0] == seconds[1] {
            return (key, one, two, seconds[0]);
        }
    }
    panic!("no two writes of {base} in one second after 8 attempts");
}

#[tokio::test(flavor = "multi_thread")]
async fn versions_within_one_second_are_ordered_by_listing_them_never_guessed() {
    let s3 = crate::common::s3().await;
    let central = unique_bucket("inv-ties");
    crate::common::versioned_bucket(&s3, &central).await;
    // A hot key overwritten within one second, and a key deleted within the second it was
    // written; then, seconds later, both written again, so neither tied entry is current.
    let (hot, _old, new, second) =
        same_second_pair(&s3, &central, "hot.txt", b"one", Some(b"two")).await;
    let (gone, _put, _marker, gone_second) =
        same_second_pair(&s3, &central, "gone.txt", b"short-lived", None).await;
    put(&s3, &central, &format!("{ACCOUNT}/steady.txt"), b"steady").await;
    let at_second = second.max(gone_second) + 1;
    while chrono::Utc::now().timestamp() <= at_second + 1 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    put(&s3, &central, &hot, b"three").await;
    put(&s3, &central, &gone, b"back").await;
    let at = crate::common::rfc3339(
        chrono::DateTime::from_timestamp(at_second, 0).expect("time in range"),
    );
    // The inventory's rows put the older of each pair first, with the greater milliseconds: an
    // order (and a precision) S3 does not vouch for.
    let mut rows = rows_of(&s3, &central).await;
    for row in rows.iter_mut() {
        let tied = (row.key == hot && row.last_modified_ms / 1000 == second)
            || (row.key == gone && row.last_modified_ms / 1000 == gone_second);
        if tied {
            let older = row.version_id != new && !row.is_delete_marker;
            row.last_modified_ms =
                (row.last_modified_ms / 1000) * 1000 + if older { 900 } else { 100 };
        }
    }
    rows.sort_by_key(|r| (r.version_id == new || r.is_delete_marker, r.key.clone()));
    let inv = unique_bucket("inv-ties-reports");
    crate::common::versioned_bucket(&s3, &inv).await;
    let created = chrono::Utc::now().timestamp_millis();
    let url = publish(
        &s3,
        &inv,
        &central,
        "ties",
        Format::Csv,
        None,
        &rows,
        created,
        1,
        Spoil::None,
    )
    .await;
    let (alias, _) = kms_key("inv-ties").await;
    let target = target_bucket(&s3, "inv-ties", &alias).await;
    for respect in [false, true] {
        let mut base = vec![
            "--central-bucket",
            &central,
            "--output",
            "json",
            "restore",
            "--account",
            ACCOUNT,
            "--at",
            &at,
            "--to-bucket",
            &target,
            "--dry-run",
        ];
        if respect {
            base.push("--respect-deletes");
        }
        let listing = s3central(&base);
        let listed = plan(listing.success());
        let inventoried = s3central(&args(&base, &["--inventory", &url]));
        assert_eq!(plan(inventoried.success()), listed, "respect {respect}");
        let hot_rel = hot.strip_prefix(&format!("{ACCOUNT}/")).expect("prefix");
        let gone_rel = gone.strip_prefix(&format!("{ACCOUNT}/")).expect("prefix");
        assert_eq!(listed.get(hot_rel), Some(&new), "the newer of the pair");
        // Ignoring deletes the short-lived write comes back. Respecting them, AWS lists the
        // marker first (the newer), so the key is absent; the local server lists a key's versions
        // before its markers, so there it is present: either way the inventory says what the
        // listing says (above), which is the point.
        if !respect {
            assert!(listed.contains_key(gone_rel), "{listed:?}");
        }
        let s = summary(&inventoried.stdout);
        assert_eq!(s["inventory_ties"], 2, "{}", inventoried.stdout);
        assert_eq!(summary(&listing.stdout)["inventory_ties"], 0);
    }
    // ls --at from the inventory names the same version and says why it listed two keys.
    let ls = s3central(&[
        "--central-bucket",
        &central,
        "--output",
        "json",
        "ls",
        "--account",
        ACCOUNT,
        "--at",
        &at,
        "--inventory",
        &url,
    ]);
    let lines = json_lines(ls.success());
    let hot_line = lines
        .iter()
        .find(|l| l["key"].as_str().is_some_and(|k| hot.ends_with(k)))
        .unwrap_or_else(|| panic!("{}", ls.stdout));
    assert_eq!(hot_line["version_id"], new.as_str());
    assert!(
        ls.stderr
            .contains("2 key(s) had versions within one second in the inventory"),
        "{}",
        ls.stderr
    );
    // A real restore from the inventory: the hot key's bytes are the newer write's.
    let out = s3central(&[
        "--central-bucket",
        &central,
        "--output",
        "json",
        "restore",
        "--account",
        ACCOUNT,
        "--at",
        &at,
        "--to-bucket",
        &target,
        "--inventory",
        &url,
    ]);
    assert_eq!(summary(out.success())["failed"], 0);
    let body = s3
        .get_object()
        .bucket(&target)
        .key(&hot)
        .send()
        .await
        .expect("GetObject")
        .body
        .collect()
        .await
        .expect("body")
        .into_bytes();
    assert_eq!(&body[..], b"two");
}
