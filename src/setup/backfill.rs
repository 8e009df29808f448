//! Backfill: S3 Batch Replication jobs that copy what live replication never will (objects that
//! existed before the rule, and versions whose replication FAILED), one job at a time per bucket.

use aws_sdk_s3control::types::{
    JobManifestGenerator, JobManifestGeneratorFilter, JobOperation, JobReport, JobReportFormat,
    JobReportScope, JobStatus, KeyNameConstraint, ReplicationStatus, S3JobManifestGenerator,
    S3ReplicateObjectOperation,
};
use futures::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::aws::Aws;
use crate::error::{Error, Result};
use crate::listing::{list_versions, ListRequest};
use crate::setup::policy::{backfill_report_prefix, BATCH_REPLICATION_ROLE};

/// Every backfill job s3central starts carries this description prefix, so it can find its own.
const DESCRIPTION_PREFIX: &str = "s3central backfill";

/// The description of the backfill jobs of one source bucket and account prefix.
pub fn description(bucket: &str, account: &str) -> String {
    format!("{DESCRIPTION_PREFIX} s3://{bucket}/{account}/")
}

/// The job's idempotency token: the same bucket, prefix and generation (how many backfill jobs
/// the bucket already had) always give the same token, so a run killed after CreateJob and run
/// again gets the same job back instead of a second one.
pub fn token(account: &str, bucket: &str, generation: usize) -> String {
    let digest = Sha256::digest(format!("{account}\n{bucket}\n{generation}").as_bytes());
    hex::encode(&digest[..16])
}

/// Whether a job of this status will do nothing more.
pub fn is_finished(status: &str) -> bool {
    matches!(status, "Complete" | "Failed" | "Cancelled")
}

/// Whether the newest of these jobs (oldest first) ended without its work done, Failed or
/// Cancelled (a role IAM had not propagated yet fails the job with AssumeRoleNotPermitted): what
/// it was to copy is still unprotected, so a backfill is needed again, rule new or not.
pub fn newest_gave_up(jobs: &[Job]) -> bool {
    jobs.last()
        .is_some_and(|j| matches!(j.status.as_str(), "Failed" | "Cancelled"))
}

/// One backfill job as S3 reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Job {
    /// The job id.
    pub id: String,
    /// New, Preparing, Ready, Active, Complete, Failed, Cancelled, ...
    pub status: String,
    /// Tasks in the job (objects to replicate), once known.
    pub total: i64,
    /// Tasks done.
    pub succeeded: i64,
    /// Tasks that failed.
    pub failed: i64,
    /// When it was created (RFC 3339).
    pub created: String,
}

impl Job {
    /// One line for people: `job 1234 Active: 10 of 20 replicated, 0 failed`.
    pub fn describe(&self) -> String {
        format!(
            "backfill job {} {}: {} of {} replicated, {} failed",
            self.id, self.status, self.succeeded, self.total, self.failed
        )
    }
}

/// The account's backfill jobs for this bucket, oldest first.
pub async fn jobs(aws: &Aws, account: &str, bucket: &str) -> Result<Vec<Job>> {
    jobs_described(aws, account, &description(bucket, account)).await
}

/// The account's S3 Batch Operations jobs carrying exactly this description, oldest first.
pub async fn jobs_described(aws: &Aws, account: &str, wanted: &str) -> Result<Vec<Job>> {
    jobs_where(aws, account, |d| d == wanted).await
}

/// The account's S3 Batch Operations jobs whose description `keep` accepts, oldest first: how
/// s3central finds the jobs it started (backfills here, batch restores in `restore::batch`).
pub async fn jobs_where(aws: &Aws, account: &str, keep: impl Fn(&str) -> bool) -> Result<Vec<Job>> {
    let mut pages = aws
        .s3control()
        .list_jobs()
        .account_id(account)
        .into_paginator()
        .send();
    let mut jobs = Vec::new();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| Error::from_sdk("s3control:ListJobs", account.to_owned(), e))?;
        for job in page.jobs() {
            if !job.description().is_some_and(&keep) {
                continue;
            }
            let progress = job.progress_summary();
            jobs.push(Job {
                id: job.job_id().unwrap_or_default().to_owned(),
                status: job
                    .status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                total: progress
                    .and_then(|p| p.total_number_of_tasks())
                    .unwrap_or(0),
                succeeded: progress
                    .and_then(|p| p.number_of_tasks_succeeded())
                    .unwrap_or(0),
                failed: progress
                    .and_then(|p| p.number_of_tasks_failed())
                    .unwrap_or(0),
                created: job
                    .creation_time()
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
            });
        }
    }
    jobs.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
    Ok(jobs)
}

/// Current object versions under `prefix` in the bucket (what a new rule leaves behind).
pub async fn existing_objects(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Result<u64> {
    let mut entries = Box::pin(list_versions(
        s3.clone(),
        ListRequest {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            page_size: crate::listing::MAX_PAGE_SIZE,
            concurrency: crate::listing::DEFAULT_LIST_CONCURRENCY,
        },
    ));
    let mut count = 0;
    while let Some(entry) = entries.next().await {
        let entry = entry?;
        count += u64::from(crate::coverage::is_current_object(&entry));
    }
    Ok(count)
}

/// Current object versions under `prefix` in the source bucket without a replica of the same
/// version id in central (two sorted listings merge-joined, as `status --coverage` does).
pub async fn unreplicated_objects(
    source: &aws_sdk_s3::Client,
    bucket: &str,
    central: &aws_sdk_s3::Client,
    central_bucket: &str,
    prefix: &str,
) -> Result<u64> {
    let list = |s3: &aws_sdk_s3::Client, bucket: &str| {
        list_versions(
            s3.clone(),
            ListRequest {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
                page_size: crate::listing::MAX_PAGE_SIZE,
                concurrency: crate::listing::DEFAULT_LIST_CONCURRENCY,
            },
        )
    };
    let sources = list(source, bucket).filter(|e| {
        futures::future::ready(e.as_ref().map_or(true, crate::coverage::is_current_object))
    });
    let mut joined = Box::pin(crate::coverage::join(
        sources,
        list(central, central_bucket),
    ));
    let mut count = 0;
    while let Some(j) = joined.next().await {
        count += u64::from(!j?.replicated);
    }
    Ok(count)
}

/// Starts (or, with the same token, finds again) a Batch Replication job over the account
/// prefix: every eligible version whose replication status is NONE or FAILED, S3 generating the
/// manifest, a completion report of all tasks under the prefix's `.s3central/backfill/`.
pub async fn start(aws: &Aws, account: &str, bucket: &str, generation: usize) -> Result<String> {
    let filter = JobManifestGeneratorFilter::builder()
        .eligible_for_replication(true)
        .object_replication_statuses(ReplicationStatus::None)
        .object_replication_statuses(ReplicationStatus::Failed)
        .key_name_constraint(
            KeyNameConstraint::builder()
                .match_any_prefix(format!("{account}/"))
                .build(),
        )
        .build();
    let generator = S3JobManifestGenerator::builder()
        .expected_bucket_owner(account)
        .source_bucket(format!("arn:aws:s3:::{bucket}"))
        .enable_manifest_output(false)
        .filter(filter)
        .build()
        .map_err(|e| Error::Invalid(format!("cannot build an S3 Control request: {e}")))?;
    let out = aws
        .s3control()
        .create_job()
        .account_id(account)
        .confirmation_required(false)
        .operation(
            JobOperation::builder()
                .s3_replicate_object(S3ReplicateObjectOperation::builder().build())
                .build(),
        )
        .manifest_generator(JobManifestGenerator::S3JobManifestGenerator(generator))
        .report(
            JobReport::builder()
                .bucket(format!("arn:aws:s3:::{bucket}"))
                .prefix(backfill_report_prefix(account))
                .format(JobReportFormat::ReportCsv20180820)
                .enabled(true)
                .report_scope(JobReportScope::AllTasks)
                .build(),
        )
        .priority(10)
        .role_arn(format!(
            "arn:aws:iam::{account}:role/{BATCH_REPLICATION_ROLE}"
        ))
        .client_request_token(token(account, bucket, generation))
        .description(description(bucket, account))
        .send()
        .await
        .map_err(|e| Error::from_sdk("s3control:CreateJob", bucket.to_owned(), e))?;
    out.job_id()
        .map(str::to_owned)
        .ok_or_else(|| Error::Invalid("s3control:CreateJob returned no job id".into()))
}

/// How long a backfill whose batch role this run changed is watched for S3 failing it because
/// the role cannot be assumed yet (IAM is eventually consistent).
pub const PROPAGATION_WATCH: std::time::Duration = std::time::Duration::from_secs(60);

/// Backfill jobs started in one run while the new role cannot be assumed, the first included.
pub const PROPAGATION_ATTEMPTS: u32 = 4;

/// The failure code S3 gives a job whose role it cannot assume ("Troubleshooting Batch
/// Operations"; a role just made or changed may not have propagated through IAM yet).
pub const ROLE_NOT_ASSUMABLE: &str = "AssumeRoleNotPermitted";

/// The wait before attempt `attempt` (2, 3, ...) of a backfill whose role was not assumable yet:
/// 2 s, 4 s, 8 s, ... (exponential backoff).
pub fn propagation_backoff(attempt: u32) -> std::time::Duration {
    std::time::Duration::from_secs(1u64 << (attempt.clamp(2, 7) - 1))
}

/// One job as DescribeJob reports it, and the codes of its failure reasons: how s3central follows
/// the jobs it started (backfills here, batch restores in `restore::batch::wait`).
pub async fn describe_job(aws: &Aws, account: &str, job_id: &str) -> Result<(Job, Vec<String>)> {
    let out = aws
        .s3control()
        .describe_job()
        .account_id(account)
        .job_id(job_id)
        .send()
        .await
        .map_err(|e| Error::from_sdk("s3control:DescribeJob", job_id.to_owned(), e))?;
    let job = out.job();
    let progress = job.and_then(|j| j.progress_summary());
    let described = Job {
        id: job_id.to_owned(),
        status: job
            .and_then(|j| j.status())
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        total: progress
            .and_then(|p| p.total_number_of_tasks())
            .unwrap_or(0),
        succeeded: progress
            .and_then(|p| p.number_of_tasks_succeeded())
            .unwrap_or(0),
        failed: progress
            .and_then(|p| p.number_of_tasks_failed())
            .unwrap_or(0),
        created: job
            .and_then(|j| j.creation_time())
            .map(|t| t.to_string())
            .unwrap_or_default(),
    };
    let codes = job
        .map(|j| {
            j.failure_reasons()
                .iter()
                .filter_map(|f| f.failure_code().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok((described, codes))
}

/// Starts the backfill ([`start`]). When `role_changed` (this run made or changed the batch
/// role), the job is watched for up to [`PROPAGATION_WATCH`] while S3 prepares it; if S3 fails
/// it with [`ROLE_NOT_ASSUMABLE`], a new job (the next generation) is started after a backoff,
/// up to [`PROPAGATION_ATTEMPTS`] jobs, and the last failure is an error naming the role.
pub async fn start_watched(
    aws: &Aws,
    account: &str,
    bucket: &str,
    generation: usize,
    role_changed: bool,
) -> Result<String> {
    let mut attempt = 1;
    loop {
        let job = start(aws, account, bucket, generation + attempt as usize - 1).await?;
        if !role_changed {
            return Ok(job);
        }
        let deadline = std::time::Instant::now() + PROPAGATION_WATCH;
        let not_assumable = loop {
            let (described, codes) = describe_job(aws, account, &job).await?;
            let status = described.status;
            if status == "Failed" {
                break codes.iter().any(|c| c == ROLE_NOT_ASSUMABLE);
            }
            if !matches!(status.as_str(), "New" | "Preparing")
                || std::time::Instant::now() >= deadline
            {
                break false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        };
        if !not_assumable {
            return Ok(job);
        }
        if attempt >= PROPAGATION_ATTEMPTS {
            return Err(Error::Refused(format!(
                "backfill job {job} of s3://{bucket}/{account}/ failed {attempt} time(s) with {ROLE_NOT_ASSUMABLE}: S3 cannot assume arn:aws:iam::{account}:role/{BATCH_REPLICATION_ROLE}; check its trust policy (batchoperations.s3.amazonaws.com), then run setup again (the backfill is planned again)"
            )));
        }
        attempt += 1;
        let wait = propagation_backoff(attempt);
        tracing::warn!(%job, %bucket, ?wait, attempt, "the backfill's new role cannot be assumed yet (IAM propagation): starting it again");
        tokio::time::sleep(wait).await;
    }
}

/// The statuses a job can be listed under, for people reading the code: unfinished ones block a
/// new job on the same bucket.
pub const UNFINISHED: &[JobStatus] = &[
    JobStatus::New,
    JobStatus::Preparing,
    JobStatus::Ready,
    JobStatus::Active,
    JobStatus::Pausing,
    JobStatus::Paused,
    JobStatus::Suspended,
    JobStatus::Completing,
    JobStatus::Cancelling,
    JobStatus::Failing,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stable_per_bucket_and_generation() {
        let t = token("111111111111", "b", 0);
        assert_eq!(t, token("111111111111", "b", 0));
        assert_eq!(t.len(), 32);
        assert_ne!(t, token("111111111111", "b", 1));
        assert_ne!(t, token("111111111111", "c", 0));
        assert_ne!(t, token("222222222222", "b", 0));
    }

    #[test]
    fn a_newest_job_that_failed_or_was_cancelled_asks_for_another() {
        let job = |status: &str| Job {
            id: "j".into(),
            status: status.into(),
            total: 0,
            succeeded: 0,
            failed: 0,
            created: String::new(),
        };
        assert!(!newest_gave_up(&[]));
        assert!(!newest_gave_up(&[job("Complete")]));
        assert!(!newest_gave_up(&[job("Failed"), job("Complete")]));
        assert!(!newest_gave_up(&[job("Active")]));
        assert!(newest_gave_up(&[job("Complete"), job("Failed")]));
        assert!(newest_gave_up(&[job("Cancelled")]));
    }

    #[test]
    fn propagation_backoff_doubles() {
        let secs: Vec<u64> = (2..=5).map(|a| propagation_backoff(a).as_secs()).collect();
        assert_eq!(secs, [2, 4, 8, 16]);
    }

    #[test]
    fn finished_states() {
        for s in ["Complete", "Failed", "Cancelled"] {
            assert!(is_finished(s));
        }
        for s in UNFINISHED {
            assert!(!is_finished(s.as_str()), "{s:?}");
        }
        assert_eq!(
            description("b", "111111111111"),
            "s3central backfill s3://b/111111111111/"
        );
    }
}
