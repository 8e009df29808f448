//! Archived versions (GLACIER, DEEP_ARCHIVE): their restore state from HeadObject's
//! `x-amz-restore`, RestoreObject requests that are never sent twice, and bounded polling until a
//! temporary copy is readable. GLACIER_IR is readable at once and needs none of this.

use std::time::{Duration, Instant};

use aws_sdk_s3::types::{GlacierJobParameters, RestoreRequest as SdkRestoreRequest, Tier};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::objects::head_version;
use crate::version::ObjectVersion;

/// The first pause between two HeadObject polls of a version being restored.
const FIRST_POLL: Duration = Duration::from_secs(1);

/// The longest pause between two polls (the backoff doubles up to this).
const MAX_POLL: Duration = Duration::from_secs(300);

/// Whether a storage class must be restored (RestoreObject) before its bytes can be read.
pub fn is_archived(storage_class: Option<&str>) -> bool {
    matches!(storage_class, Some("GLACIER" | "DEEP_ARCHIVE"))
}

/// How to restore archived versions: tier, days the temporary copy stays, and how long to wait.
#[derive(Debug, Clone)]
pub struct ArchiveOptions {
    /// Bulk, Standard or Expedited.
    pub tier: Tier,
    /// Days the restored temporary copy is kept.
    pub days: i32,
    /// How long the restore waits for copies to become readable before reporting the rest.
    pub timeout: Duration,
}

/// Where an archived version stands, from `x-amz-restore`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "expiry")]
pub enum RestoreState {
    /// No restore requested (or the last one expired): unreadable.
    Archived,
    /// A restore is running.
    InProgress,
    /// A temporary copy is readable, until the expiry date when S3 gave one.
    Restored(Option<String>),
}

impl RestoreState {
    /// Reads the `x-amz-restore` header: `ongoing-request="true"`, or `ongoing-request="false",
    /// expiry-date="..."`; absent means archived.
    pub fn parse(header: Option<&str>) -> RestoreState {
        let Some(h) = header else {
            return RestoreState::Archived;
        };
        if h.contains("ongoing-request=\"true\"") {
            return RestoreState::InProgress;
        }
        if h.contains("ongoing-request=\"false\"") {
            let expiry = h
                .split_once("expiry-date=\"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .map(|(date, _)| date.to_owned());
            return RestoreState::Restored(expiry);
        }
        RestoreState::Archived
    }

    /// A short label for tables: `archived`, `restoring`, `restored until DATE`.
    pub fn label(&self) -> String {
        match self {
            RestoreState::Archived => "archived".to_owned(),
            RestoreState::InProgress => "restoring".to_owned(),
            RestoreState::Restored(Some(date)) => format!("restored until {date}"),
            RestoreState::Restored(None) => "restored".to_owned(),
        }
    }
}

/// The restore state of one version (one HeadObject).
pub async fn state(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    owner: Option<&str>,
    version: &ObjectVersion,
) -> Result<RestoreState> {
    let head = head_version(s3, bucket, &version.key, &version.version_id, owner).await?;
    Ok(RestoreState::parse(head.restore()))
}

/// What [`request`] found or did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    /// RestoreObject was sent now.
    Started,
    /// A restore was already running (an earlier run, or RestoreAlreadyInProgress).
    InProgress,
    /// A temporary copy was already readable.
    Ready,
}

/// Starts the restore of an archived version unless one is running or done: HeadObject first,
/// RestoreObject (with the version id) only when the version is plainly archived.
pub async fn request(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    owner: Option<&str>,
    version: &ObjectVersion,
    options: &ArchiveOptions,
) -> Result<Requested> {
    match state(s3, bucket, owner, version).await? {
        RestoreState::InProgress => return Ok(Requested::InProgress),
        RestoreState::Restored(_) => return Ok(Requested::Ready),
        RestoreState::Archived => {}
    }
    let job = GlacierJobParameters::builder()
        .tier(options.tier.clone())
        .build()
        .map_err(|e| Error::Invalid(format!("cannot build a RestoreObject request: {e}")))?;
    // Boxed, as in the copier: restores await this inside every archived key's future.
    let sent = Box::pin(
        s3.restore_object()
            .bucket(bucket)
            .set_expected_bucket_owner(owner.map(str::to_owned))
            .key(&version.key)
            .version_id(&version.version_id)
            .restore_request(
                SdkRestoreRequest::builder()
                    .days(options.days)
                    .glacier_job_parameters(job)
                    .build(),
            )
            .send(),
    )
    .await;
    match sent {
        Ok(_) => Ok(Requested::Started),
        Err(e) if e.code() == Some("RestoreAlreadyInProgress") => Ok(Requested::InProgress),
        Err(e) => Err(Error::from_sdk("RestoreObject", version.key.clone(), e)),
    }
}

/// Polls HeadObject with doubling pauses (1 s up to 5 min) until the version is readable or
/// `deadline` passes; an archived version found on the way (restore never requested, or expired)
/// is requested again. Gives whether it is readable.
pub async fn wait_ready(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    owner: Option<&str>,
    version: &ObjectVersion,
    options: &ArchiveOptions,
    deadline: Instant,
) -> Result<bool> {
    let mut pause = FIRST_POLL;
    loop {
        match request(s3, bucket, owner, version, options).await? {
            Requested::Ready => return Ok(true),
            Requested::Started | Requested::InProgress => {}
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(MAX_POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_restore_header() {
        assert_eq!(RestoreState::parse(None), RestoreState::Archived);
        assert_eq!(
            RestoreState::parse(Some("ongoing-request=\"true\"")),
            RestoreState::InProgress
        );
        let done = RestoreState::parse(Some(
            "ongoing-request=\"false\", expiry-date=\"Fri, 21 Dec 2012 00:00:00 GMT\"",
        ));
        assert_eq!(
            done,
            RestoreState::Restored(Some("Fri, 21 Dec 2012 00:00:00 GMT".into()))
        );
        assert_eq!(done.label(), "restored until Fri, 21 Dec 2012 00:00:00 GMT");
        assert_eq!(
            RestoreState::parse(Some("ongoing-request=\"false\"")),
            RestoreState::Restored(None)
        );
    }

    #[test]
    fn only_glacier_and_deep_archive_need_a_restore() {
        assert!(is_archived(Some("GLACIER")) && is_archived(Some("DEEP_ARCHIVE")));
        for class in [
            None,
            Some("GLACIER_IR"),
            Some("STANDARD"),
            Some("STANDARD_IA"),
        ] {
            assert!(!is_archived(class), "{class:?}");
        }
    }
}
