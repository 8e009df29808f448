//! `restore --engine batch`: the selection computed as for the local engine, written as an S3
//! Batch Operations CSV manifest, copied by an S3PutObjectCopy job that S3 runs, monitored, and
//! its completion report turned into the same per-key report and summary.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_s3control::types::{
    JobManifest, JobManifestFieldName, JobManifestFormat, JobManifestLocation, JobManifestSpec,
    JobOperation, JobReport, JobReportFormat, JobReportScope, S3CopyObjectOperation,
    S3MetadataDirective,
};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::aws::Aws;
use crate::error::{Error, Result};
use crate::restore::plan::Outcome;
use crate::restore::KeyReport;

/// S3PutObjectCopy copies objects up to 5 GiB; larger versions go to the local engine.
pub const MAX_COPY_BYTES: u64 = 5 << 30;

/// Characters a manifest key keeps as they are (RFC 3986 unreserved and `/`); every other byte
/// is percent-encoded, as AWS requires of CSV manifest keys (`+` too, so it never reads as a space).
const KEY_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// One manifest line: `bucket,key,versionId`, the key URL-encoded, no header.
pub fn manifest_line(bucket: &str, key: &str, version_id: &str) -> String {
    format!(
        "{bucket},{},{version_id}\n",
        utf8_percent_encode(key, KEY_KEEP)
    )
}

/// How a target key is made from a central key, if S3PutObjectCopy can do it: it can only put a
/// prefix in front of the source key (TargetKeyPrefix). Gives that prefix, or why not.
pub fn target_key_prefix(
    source_prefix: &str,
    target_prefix: &str,
) -> std::result::Result<String, String> {
    match target_prefix.strip_suffix(source_prefix) {
        Some(front) => Ok(front.to_owned()),
        None => Err(format!(
            "a batch job keeps the central key ({source_prefix}...) and can only put a prefix in front of it, so --to-prefix {target_prefix:?} cannot be expressed; use --to-prefix ending in {source_prefix:?} (for example \"restored/{source_prefix}\"), or the local engine (--engine local)"
        )),
    }
}

/// What the default batch restore role (`s3central-batch-restore`, made by setup) can reach, and
/// what a batch restore asks of it.
#[derive(Debug, Clone, Copy)]
pub struct RoleReach<'a> {
    /// The account's own bucket, when the config names it: the only bucket the role may write.
    pub account_bucket: Option<&'a str>,
    /// The bucket the job would write.
    pub target: &'a str,
    /// The bucket of `--manifest-location`, if given.
    pub manifest_bucket: Option<&'a str>,
    /// The key the job would encrypt with.
    pub kms_key: &'a str,
    /// The account's own key (the target bucket's default key), if known.
    pub account_key: Option<&'a str>,
}

/// Refuses, before anything is written, a batch restore whose every task would fail with
/// AccessDenied: setup's batch restore role may write only the account's own bucket, under the
/// account's own key, with its manifest and report in that bucket.
pub fn within_role_reach(r: &RoleReach<'_>) -> std::result::Result<(), String> {
    let role = crate::setup::policy::BATCH_RESTORE_ROLE;
    let fix = "use --engine local, or --batch-role with a role that may do it";
    if let Some(own) = r.account_bucket.filter(|own| *own != r.target) {
        return Err(format!(
            "--engine batch runs as {role}, which may write only the account's bucket s3://{own}, not s3://{}: drop --to-bucket, or {fix}",
            r.target
        ));
    }
    if let Some(m) = r.manifest_bucket.filter(|m| *m != r.target) {
        return Err(format!(
            "--engine batch runs as {role}, which reads its manifest and writes its report only in s3://{}, not s3://{m}: drop --manifest-location, or {fix}",
            r.target
        ));
    }
    if let Some(own) = r.account_key.filter(|own| *own != r.kms_key) {
        return Err(format!(
            "--engine batch runs as {role}, which may encrypt only with the account's key {own}, not {}: drop --kms-key, or {fix}",
            r.kms_key
        ));
    }
    Ok(())
}

/// What identifies one restore request: the same request gives the same id, so a re-run finds
/// its job instead of starting another.
#[derive(Debug, Clone, Serialize)]
pub struct RequestId<'a> {
    /// The central bucket.
    pub central: &'a str,
    /// The account prefix.
    pub source_prefix: &'a str,
    /// TIME, RFC 3339.
    pub at: &'a str,
    /// Whether delete markers are respected.
    pub respect_deletes: bool,
    /// The include and exclude globs.
    pub filters: (&'a [String], &'a [String]),
    /// The target bucket.
    pub target: &'a str,
    /// The target prefix.
    pub target_prefix: &'a str,
    /// The KMS key ARN.
    pub kms_key: &'a str,
}

impl RequestId<'_> {
    /// 32 hex digits of SHA-256 over the request.
    pub fn digest(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        hex::encode(&Sha256::digest(text.as_bytes())[..16])
    }
}

/// The job description that carries the request id.
pub fn description(request: &str, attempt: usize) -> String {
    match attempt {
        0 => format!("s3central restore {request}"),
        n => format!("s3central restore {request} attempt {n}"),
    }
}

/// Whether a job description is one of this request's attempts (see [`description`]).
pub fn is_attempt_of(description_text: &str, request: &str) -> bool {
    let first = description(request, 0);
    description_text == first
        || description_text
            .strip_prefix(&first)
            .and_then(|rest| rest.strip_prefix(" attempt "))
            .is_some_and(|n| n.parse::<usize>().is_ok())
}

/// Whether the newest job of a request is followed again rather than replaced: while it runs,
/// or when it completed with no failed task. A Failed or Cancelled job, or one with failed
/// tasks, makes a new attempt: planned again (keys already in place are left out), under a new
/// token and description, so a job AWS keeps for 90 days never blocks the restore.
pub fn follow_again(job: &JobState) -> bool {
    !crate::setup::backfill::is_finished(&job.status)
        || (job.status == "Complete" && job.failed == 0)
}

/// One row of a completion report, as AWS documents it: bucket, key (URL-encoded), version id,
/// task status, then the HTTP status code and the error code in either order, then the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    /// The key, decoded.
    pub key: String,
    /// The version id.
    pub version_id: String,
    /// Whether the task succeeded.
    pub succeeded: bool,
    /// The error code and message when it did not.
    pub error: Option<String>,
}

/// Parses a completion report CSV (no header).
pub fn parse_report(csv_text: &[u8]) -> Result<Vec<ReportRow>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(csv_text);
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record
            .map_err(|e| Error::Invalid(format!("a batch completion report is not CSV: {e}")))?;
        let field = |i: usize| record.get(i).unwrap_or_default();
        let key = percent_encoding::percent_decode_str(&field(1).replace('+', " "))
            .decode_utf8_lossy()
            .into_owned();
        let (a, b) = (field(4), field(5));
        let code = if a.parse::<u16>().is_ok() { b } else { a };
        let message: Vec<&str> = (6..record.len()).map(field).collect();
        let succeeded = field(3).eq_ignore_ascii_case("succeeded");
        rows.push(ReportRow {
            key,
            version_id: field(2).to_owned(),
            succeeded,
            error: (!succeeded).then(|| format!("{code}: {}", message.join(","))),
        });
    }
    Ok(rows)
}

/// Writes manifest lines to a local file while the plan runs, digesting them.
pub struct ManifestWriter {
    path: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
    digest: Sha256,
    /// Lines written.
    pub lines: u64,
    /// Bytes the job will copy.
    pub bytes: u64,
}

impl ManifestWriter {
    /// Creates the file.
    pub fn create(path: &Path) -> Result<ManifestWriter> {
        let file = crate::localfile::create(path, crate::localfile::Write::Truncate).map_err(
            |source| Error::Io {
                what: format!("creating the manifest {}", path.display()),
                source,
            },
        )?;
        Ok(ManifestWriter {
            path: path.to_owned(),
            file: std::io::BufWriter::new(file),
            digest: Sha256::new(),
            lines: 0,
            bytes: 0,
        })
    }

    /// Adds one version.
    pub fn add(&mut self, bucket: &str, key: &str, version_id: &str, bytes: u64) -> Result<()> {
        let line = manifest_line(bucket, key, version_id);
        self.digest.update(line.as_bytes());
        self.lines += 1;
        self.bytes += bytes;
        self.file
            .write_all(line.as_bytes())
            .map_err(|source| Error::Io {
                what: format!("writing the manifest {}", self.path.display()),
                source,
            })
    }

    /// Flushes; gives the file's path and the digest of its contents (32 hex digits).
    pub fn finish(mut self) -> Result<(PathBuf, String)> {
        self.file.flush().map_err(|source| Error::Io {
            what: format!("writing the manifest {}", self.path.display()),
            source,
        })?;
        Ok((self.path, hex::encode(&self.digest.finalize()[..16])))
    }
}

/// Everything the job needs.
#[derive(Debug, Clone, Serialize)]
pub struct JobSpec {
    /// The account the job runs in (the target's).
    pub account: String,
    /// The target bucket.
    pub target_bucket: String,
    /// What S3PutObjectCopy puts in front of each central key.
    pub target_key_prefix: String,
    /// The target KMS key ARN.
    pub kms_key: String,
    /// The role S3 Batch Operations assumes.
    pub role_arn: String,
    /// Bucket of the manifest and the report.
    pub manifest_bucket: String,
    /// The manifest's key.
    pub manifest_key: String,
    /// The report prefix.
    pub report_prefix: String,
    /// The idempotency token.
    pub token: String,
    /// The description (carries the request id).
    pub description: String,
}

/// A job's state as DescribeJob/ListJobs give it.
#[derive(Debug, Clone, Default)]
pub struct JobState {
    /// Id.
    pub id: String,
    /// Status name.
    pub status: String,
    /// Tasks in all.
    pub total: i64,
    /// Tasks succeeded.
    pub succeeded: i64,
    /// Tasks failed.
    pub failed: i64,
}

/// Every attempt's job of this request, oldest first.
pub async fn find_jobs(aws: &Aws, account: &str, request: &str) -> Result<Vec<JobState>> {
    let jobs =
        crate::setup::backfill::jobs_where(aws, account, |d| is_attempt_of(d, request)).await?;
    Ok(jobs
        .into_iter()
        .map(|j| JobState {
            id: j.id,
            status: j.status,
            total: j.total,
            succeeded: j.succeeded,
            failed: j.failed,
        })
        .collect())
}

/// Uploads the manifest (as the writer) and creates the job; gives its id.
pub async fn create_job(aws: &Aws, spec: &JobSpec, manifest: &Path) -> Result<String> {
    let body = aws_sdk_s3::primitives::ByteStream::from_path(manifest)
        .await
        .map_err(|e| {
            Error::Invalid(format!(
                "cannot read the manifest {}: {e}",
                manifest.display()
            ))
        })?;
    let put = aws
        .s3()
        .put_object()
        .bucket(&spec.manifest_bucket)
        // The job runs in this account and reads its manifest there.
        .expected_bucket_owner(&spec.account)
        .key(&spec.manifest_key)
        .content_type("text/csv")
        .body(body)
        .send()
        .await
        .map_err(|e| Error::from_sdk("PutObject", spec.manifest_key.clone(), e))?;
    let etag = put.e_tag().unwrap_or_default().trim_matches('"').to_owned();
    let build = |e: aws_smithy_types::error::operation::BuildError| {
        Error::Invalid(format!("cannot build an S3 Control request: {e}"))
    };
    let mut copy = S3CopyObjectOperation::builder()
        .target_resource(format!("arn:aws:s3:::{}", spec.target_bucket))
        .metadata_directive(S3MetadataDirective::Copy)
        .sse_aws_kms_key_id(&spec.kms_key)
        .bucket_key_enabled(true);
    if !spec.target_key_prefix.is_empty() {
        copy = copy.target_key_prefix(&spec.target_key_prefix);
    }
    let manifest = JobManifest::builder()
        .spec(
            JobManifestSpec::builder()
                .format(JobManifestFormat::S3BatchOperationsCsv20180820)
                .fields(JobManifestFieldName::Bucket)
                .fields(JobManifestFieldName::Key)
                .fields(JobManifestFieldName::VersionId)
                .build()
                .map_err(build)?,
        )
        .location(
            JobManifestLocation::builder()
                .object_arn(format!(
                    "arn:aws:s3:::{}/{}",
                    spec.manifest_bucket, spec.manifest_key
                ))
                .e_tag(etag)
                .build()
                .map_err(build)?,
        )
        .build();
    let out = aws
        .s3control()
        .create_job()
        .account_id(&spec.account)
        .confirmation_required(false)
        .operation(
            JobOperation::builder()
                .s3_put_object_copy(copy.build())
                .build(),
        )
        .manifest(manifest)
        .report(
            JobReport::builder()
                .bucket(format!("arn:aws:s3:::{}", spec.manifest_bucket))
                .prefix(&spec.report_prefix)
                .format(JobReportFormat::ReportCsv20180820)
                .enabled(true)
                .report_scope(JobReportScope::AllTasks)
                .build(),
        )
        .priority(10)
        .role_arn(&spec.role_arn)
        .client_request_token(&spec.token)
        .description(&spec.description)
        .send()
        .await
        .map_err(|e| Error::from_sdk("s3control:CreateJob", spec.target_bucket.clone(), e))?;
    out.job_id()
        .map(str::to_owned)
        .ok_or_else(|| Error::Invalid("s3control:CreateJob returned no job id".into()))
}

/// Polls the job until it ends (backoff 1 s to 10 s), calling `progress` with each state.
pub async fn wait(
    aws: &Aws,
    account: &str,
    job_id: &str,
    mut progress: impl FnMut(&JobState),
) -> Result<JobState> {
    let mut delay = Duration::from_secs(1);
    loop {
        let (job, _) = crate::setup::backfill::describe_job(aws, account, job_id).await?;
        let state = JobState {
            id: job.id,
            status: job.status,
            total: job.total,
            succeeded: job.succeeded,
            failed: job.failed,
        };
        progress(&state);
        if crate::setup::backfill::is_finished(&state.status) {
            return Ok(state);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

/// Reads the job's completion report (its manifest.json, then each results CSV) and gives one
/// [`KeyReport`] per task, keys made relative to `source_prefix`.
pub async fn read_report(
    aws: &Aws,
    bucket: &str,
    report_prefix: &str,
    job_id: &str,
    source_prefix: &str,
    target_key_prefix: &str,
) -> Result<Vec<KeyReport>> {
    let s3 = aws.s3();
    let get = |key: String| {
        let s3 = s3.clone();
        async move {
            let out = s3
                .get_object()
                .bucket(bucket)
                .key(&key)
                .send()
                .await
                .map_err(|e| Error::from_sdk("GetObject", key.clone(), e))?;
            out.body
                .collect()
                .await
                .map(|b| b.into_bytes())
                .map_err(|e| Error::Invalid(format!("reading {key}: {e}")))
        }
    };
    let manifest = get(format!("{report_prefix}/job-{job_id}/manifest.json")).await?;
    let manifest: serde_json::Value = serde_json::from_slice(&manifest)
        .map_err(|e| Error::Invalid(format!("the job's report manifest is not JSON: {e}")))?;
    let mut reports = Vec::new();
    for result in manifest["Results"].as_array().into_iter().flatten() {
        let Some(key) = result["Key"].as_str() else {
            continue;
        };
        for row in parse_report(&get(key.to_owned()).await?)? {
            let relative = row.key.strip_prefix(source_prefix).unwrap_or(&row.key);
            reports.push(KeyReport {
                key: relative.to_owned(),
                target_key: format!("{target_key_prefix}{}", row.key),
                version_id: row.version_id,
                bytes: 0,
                outcome: if row.succeeded {
                    Outcome::Copied
                } else {
                    Outcome::Failed
                },
                requests: 0,
                error: row.error,
                archive: None,
                evidence: None,
                verified: None,
                unverified: None,
                replaced_version_id: None,
                written_version_id: None,
            });
        }
    }
    reports.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_or_partly_failed_job_makes_a_new_attempt() {
        let job = |status: &str, failed: i64| JobState {
            id: "j".into(),
            status: status.into(),
            total: 3,
            succeeded: 3 - failed,
            failed,
        };
        assert!(follow_again(&job("Active", 0)));
        assert!(follow_again(&job("Active", 1)));
        assert!(follow_again(&job("Complete", 0)));
        assert!(!follow_again(&job("Complete", 1)));
        assert!(!follow_again(&job("Failed", 0)));
        assert!(!follow_again(&job("Cancelled", 0)));
        assert_eq!(description("r1", 0), "s3central restore r1");
        assert_eq!(description("r1", 2), "s3central restore r1 attempt 2");
        for d in [
            description("r1", 0),
            description("r1", 1),
            description("r1", 12),
        ] {
            assert!(is_attempt_of(&d, "r1"), "{d}");
        }
        for d in [
            "s3central restore r12",
            "s3central restore r1 attempt x",
            "other",
        ] {
            assert!(!is_attempt_of(d, "r1"), "{d}");
        }
    }

    #[test]
    fn batch_options_outside_the_roles_reach_are_refused() {
        let ok = RoleReach {
            account_bucket: Some("acme-data"),
            target: "acme-data",
            manifest_bucket: None,
            kms_key: "arn:aws:kms:us-east-1:111111111111:key/own",
            account_key: Some("arn:aws:kms:us-east-1:111111111111:key/own"),
        };
        assert!(within_role_reach(&ok).is_ok());
        let other_bucket = RoleReach {
            target: "scratch",
            ..ok
        };
        assert!(within_role_reach(&other_bucket)
            .unwrap_err()
            .contains("--to-bucket"));
        let manifest = RoleReach {
            manifest_bucket: Some("elsewhere"),
            ..ok
        };
        assert!(within_role_reach(&manifest)
            .unwrap_err()
            .contains("--manifest-location"));
        let key = RoleReach {
            kms_key: "arn:aws:kms:us-east-1:111111111111:key/other",
            ..ok
        };
        assert!(within_role_reach(&key).unwrap_err().contains("--kms-key"));
        let unknown = RoleReach {
            account_bucket: None,
            account_key: None,
            target: "scratch",
            ..ok
        };
        assert!(within_role_reach(&unknown).is_ok());
    }
    use proptest::prelude::*;

    #[test]
    fn manifest_keys_are_url_encoded() {
        assert_eq!(
            manifest_line("c", "111111111111/a b+c/é.txt", "v1"),
            "c,111111111111/a%20b%2Bc/%C3%A9.txt,v1\n"
        );
        assert_eq!(manifest_line("c", "k,1", "v"), "c,k%2C1,v\n");
    }

    #[test]
    fn only_a_prefix_in_front_of_the_central_key_is_expressible() {
        assert_eq!(
            target_key_prefix("111111111111/", "111111111111/").unwrap(),
            ""
        );
        assert_eq!(
            target_key_prefix("111111111111/", "restored/111111111111/").unwrap(),
            "restored/"
        );
        let why = target_key_prefix("111111111111/", "restored/").unwrap_err();
        assert!(
            why.contains("--engine local") && why.contains("restored/111111111111/"),
            "{why}"
        );
    }

    #[test]
    fn report_rows_in_either_column_order() {
        let text = b"c,111111111111/a%20b,v1,succeeded,200,,Successful\n\
c,111111111111/x,v2,failed,404,NoSuchKey,\"The key, it is gone\"\n\
c,111111111111/y,v3,failed,AccessDenied,403,denied\n";
        let rows = parse_report(text).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].key, "111111111111/a b");
        assert!(rows[0].succeeded && rows[0].error.is_none());
        assert_eq!(
            rows[1].error.as_deref(),
            Some("NoSuchKey: The key, it is gone")
        );
        assert_eq!(rows[2].error.as_deref(), Some("AccessDenied: denied"));
    }

    proptest! {
        #[test]
        fn manifest_keys_round_trip_through_the_report(key in "[a-zA-Z0-9 +,/é%._~-]{1,40}") {
            let line = manifest_line("c", &key, "v");
            let report = format!("{}succeeded,200,,Successful\n", line.trim_end().to_owned() + ",");
            let rows = parse_report(report.as_bytes()).unwrap();
            prop_assert_eq!(&rows[0].key, &key);
        }
    }
}
