//! `restore --undo REPORT`: puts back, as the current version, what a restore replaced: for each
//! key the report says it copied, and only while the version it wrote is still current, the
//! version that was current before it is copied over the key (same bytes, metadata, tags and
//! encryption key), and a key that did not exist before gets a delete marker. Either way a new
//! version: no version is ever deleted, so an undo can itself be undone. Every other key is
//! reported and left alone.

use std::io::BufRead;
use std::path::Path;

use aws_sdk_s3::types::{MetadataDirective, ServerSideEncryption, TaggingDirective};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What one line of a restore's `--report` says of a key, as far as undo needs it.
#[derive(Debug, Clone, Deserialize)]
pub struct ReportedKey {
    /// The bucket the restore wrote.
    pub target_bucket: String,
    /// The key it wrote.
    pub target_key: String,
    /// `copied`, `unchanged`, `extra`, `failed`, ...
    pub outcome: String,
    /// The version current before the copy (absent: none).
    #[serde(default)]
    pub replaced_version_id: Option<String>,
    /// The version the copy wrote.
    #[serde(default)]
    pub written_version_id: Option<String>,
}

/// Reads a `--report` file: its copied keys, in file order. Lines that are not key reports (or
/// keys the restore did not copy) are skipped; a line that is not JSON is an error naming it.
pub fn read_report(path: &Path) -> Result<Vec<ReportedKey>> {
    let file = crate::localfile::open_existing(path)
        .map_err(|source| Error::Io {
            what: format!("reading the report {}", path.display()),
            source,
        })?
        .ok_or_else(|| {
            Error::Invalid(format!(
                "--undo {}: no such file; give the file `restore --report FILE` wrote",
                path.display()
            ))
        })?;
    let mut keys = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| Error::Io {
            what: format!("reading the report {}", path.display()),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let key: ReportedKey = serde_json::from_str(&line).map_err(|e| {
            Error::Invalid(format!(
                "{} line {}: not a line of a restore's --report ({e}); give the file `restore --report FILE` wrote",
                path.display(),
                n + 1
            ))
        })?;
        if key.outcome == "copied" {
            keys.push(key);
        }
    }
    Ok(keys)
}

/// What undo did with one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UndoOutcome {
    /// The replaced version is current again (a copy of it).
    Undone,
    /// Left alone; the reason says why.
    Skipped,
    /// The copy back failed.
    Failed,
}

/// One key's fate, as printed.
#[derive(Debug, Clone, Serialize)]
pub struct UndoReport {
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// What happened.
    pub outcome: UndoOutcome,
    /// The version put back (undone), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restored_version_id: Option<String>,
    /// The new version that now holds it (undone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_version_id: Option<String>,
    /// Why it was skipped or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What undo does to one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undo {
    /// Copy this earlier version over the key.
    CopyBack(String),
    /// The key did not exist before: hide it again under a delete marker.
    Hide,
}

/// The decision for one key from what the report says and the key's current version now.
pub fn decide(key: &ReportedKey, current: Option<&str>) -> std::result::Result<Undo, String> {
    let Some(written) = key.written_version_id.as_deref() else {
        return Err("the report names no version the restore wrote (a batch job's copy, or an unversioned bucket): check it by hand".into());
    };
    match current {
        None => return Err("the key has no current version now (deleted since the restore): left alone".into()),
        Some(now) if now != written => {
            return Err(format!(
                "changed since the restore (current version {now}, the restore wrote {written}): left alone"
            ))
        }
        Some(_) => {}
    }
    Ok(match &key.replaced_version_id {
        Some(previous) => Undo::CopyBack(previous.clone()),
        None => Undo::Hide,
    })
}

/// Undoes one key in `s3` (the bucket's own client), writing with `expected_owner` when given.
pub async fn undo_key(
    s3: &aws_sdk_s3::Client,
    key: &ReportedKey,
    expected_owner: Option<&str>,
) -> UndoReport {
    let mut report = UndoReport {
        bucket: key.target_bucket.clone(),
        key: key.target_key.clone(),
        outcome: UndoOutcome::Skipped,
        restored_version_id: None,
        new_version_id: None,
        reason: None,
    };
    let current =
        match current_version(s3, &key.target_bucket, &key.target_key, expected_owner).await {
            Ok(current) => current,
            Err(e) => {
                report.outcome = UndoOutcome::Failed;
                report.reason = Some(e.to_string());
                return report;
            }
        };
    let undo = match decide(key, current.as_deref()) {
        Ok(undo) => undo,
        Err(why) => {
            report.reason = Some(why);
            return report;
        }
    };
    let done = match &undo {
        Undo::CopyBack(previous) => copy_back(s3, key, previous, expected_owner).await,
        Undo::Hide => hide(s3, key, expected_owner).await,
    };
    match done {
        Ok(new_version) => {
            report.outcome = UndoOutcome::Undone;
            match undo {
                Undo::CopyBack(previous) => report.restored_version_id = Some(previous),
                Undo::Hide => {
                    report.reason = Some("did not exist before the restore: hidden under a delete marker (the restored version stays, noncurrent)".into())
                }
            }
            report.new_version_id = new_version;
        }
        Err(e) => {
            report.outcome = UndoOutcome::Failed;
            report.reason = Some(e.to_string());
        }
    }
    report
}

/// The key's current version id, `None` when it has none (absent, or a delete marker).
async fn current_version(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    expected_owner: Option<&str>,
) -> Result<Option<String>> {
    match s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .set_expected_bucket_owner(expected_owner.map(str::to_owned))
        .send()
        .await
    {
        Ok(out) => Ok(out.version_id().map(str::to_owned)),
        Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(404) => Ok(None),
        Err(e) => Err(Error::from_sdk("HeadObject", key.to_owned(), e)),
    }
}

/// A delete marker over the key (DeleteObject without a version id): the version under it stays.
async fn hide(
    s3: &aws_sdk_s3::Client,
    key: &ReportedKey,
    expected_owner: Option<&str>,
) -> Result<Option<String>> {
    let out = s3
        .delete_object()
        .bucket(&key.target_bucket)
        .key(&key.target_key)
        .set_expected_bucket_owner(expected_owner.map(str::to_owned))
        .send()
        .await
        .map_err(|e| Error::from_sdk("DeleteObject", key.target_key.clone(), e))?;
    Ok(out.version_id().map(str::to_owned))
}

/// Copies `version` of the key over the key, with its own encryption, metadata and tags.
async fn copy_back(
    s3: &aws_sdk_s3::Client,
    key: &ReportedKey,
    version: &str,
    expected_owner: Option<&str>,
) -> Result<Option<String>> {
    let (bucket, name) = (&key.target_bucket, &key.target_key);
    let head = crate::objects::head_version(s3, bucket, name, version, expected_owner).await?;
    let source = crate::restore::copy::copy_source(bucket, name, version);
    let mut copy = s3
        .copy_object()
        .bucket(bucket)
        .key(name)
        .copy_source(source)
        .metadata_directive(MetadataDirective::Copy)
        .tagging_directive(TaggingDirective::Copy)
        .set_expected_bucket_owner(expected_owner.map(str::to_owned))
        .set_expected_source_bucket_owner(expected_owner.map(str::to_owned));
    copy = match head.server_side_encryption() {
        Some(ServerSideEncryption::AwsKms) => copy
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .set_ssekms_key_id(head.ssekms_key_id().map(str::to_owned)),
        Some(other) => copy.server_side_encryption(other.clone()),
        None => copy,
    };
    let out = copy
        .send()
        .await
        .map_err(|e| Error::from_sdk("CopyObject", name.clone(), e))?;
    Ok(out.version_id().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reported(replaced: Option<&str>, written: Option<&str>) -> ReportedKey {
        ReportedKey {
            target_bucket: "prod".into(),
            target_key: "111111111111/a".into(),
            outcome: "copied".into(),
            replaced_version_id: replaced.map(str::to_owned),
            written_version_id: written.map(str::to_owned),
        }
    }

    #[test]
    fn only_a_key_still_holding_what_the_restore_wrote_is_undone() {
        let key = reported(Some("before"), Some("wrote"));
        assert_eq!(
            decide(&key, Some("wrote")),
            Ok(Undo::CopyBack("before".to_owned()))
        );
        let changed = decide(&key, Some("later")).unwrap_err();
        assert!(changed.contains("changed since the restore"), "{changed}");
        assert!(decide(&key, None)
            .unwrap_err()
            .contains("no current version"));
        assert_eq!(
            decide(&reported(None, Some("wrote")), Some("wrote")),
            Ok(Undo::Hide)
        );
        let batch = decide(&reported(Some("before"), None), Some("x")).unwrap_err();
        assert!(batch.contains("names no version"), "{batch}");
    }
}
