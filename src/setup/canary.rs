//! The canary: one object written in an account's bucket under its prefix, and the time until its
//! replica is in central (setup --verify proves replication works; a drill measures the lag).

use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// What a canary showed.
#[derive(Debug, Clone)]
pub struct Canary {
    /// Its key (the same in both buckets).
    pub key: String,
    /// Whether the replica arrived before the timeout.
    pub replicated: bool,
    /// Seconds from the write to the replica (or to the timeout).
    pub seconds: f64,
}

/// Writes a canary under `<account>/.s3central/` of the source bucket and waits, at most
/// `timeout`, for its replica in central (same version id, or the canary's own metadata).
pub async fn canary(
    source: &aws_sdk_s3::Client,
    source_bucket: &str,
    account_prefix: &str,
    central: &aws_sdk_s3::Client,
    central_bucket: &str,
    timeout: Duration,
) -> Result<Canary> {
    let token = format!(
        "{}",
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    );
    let key = format!("{account_prefix}.s3central/canary-{token}");
    let put = source
        .put_object()
        .bucket(source_bucket)
        .key(&key)
        .metadata("s3central-canary", &token)
        .body(aws_sdk_s3::primitives::ByteStream::from(
            token.clone().into_bytes(),
        ))
        .send()
        .await
        .map_err(|e| Error::from_sdk("PutObject", format!("s3://{source_bucket}/{key}"), e))?;
    let version = put.version_id().unwrap_or_default().to_owned();
    let started = Instant::now();
    let replicated = loop {
        // A replica keeps the source's version id and metadata; either proves it arrived.
        let head = central
            .head_object()
            .bucket(central_bucket)
            .key(&key)
            .send()
            .await;
        if let Err(e) = &head {
            tracing::debug!(key = %key, error = %aws_smithy_types::error::display::DisplayErrorContext(e), "replica not there yet");
        }
        let arrived = head.is_ok_and(|h| {
            h.version_id() == Some(version.as_str())
                || h.metadata().and_then(|m| m.get("s3central-canary")) == Some(&token)
        });
        if arrived {
            break true;
        }
        if started.elapsed() >= timeout {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(250).min(timeout)).await;
    };
    Ok(Canary {
        key,
        replicated,
        seconds: started.elapsed().as_secs_f64(),
    })
}
