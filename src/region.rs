//! Which region serves a bucket: S3 answers HeadBucket with `x-amz-bucket-region` even when it
//! redirects or refuses, and the Rust SDK does not follow redirects, so clients are made per region.

use crate::aws::Aws;

/// What HeadBucket said about a bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The bucket answered these credentials (so it exists and they reach it) from this region.
    Reachable(String),
    /// The bucket redirected or refused, and named its region.
    Region(String),
    /// The bucket does not exist.
    Missing,
    /// No region could be read (the error is left to the caller's next request).
    Unknown,
}

/// Looks up the bucket's region with one HeadBucket.
pub async fn lookup(aws: &Aws, bucket: &str) -> Lookup {
    match aws.s3().head_bucket().bucket(bucket).send().await {
        Ok(out) => Lookup::Reachable(
            out.bucket_region()
                .map(str::to_owned)
                .unwrap_or_else(|| aws.region()),
        ),
        Err(e) => {
            let response = e.raw_response();
            if response.map(|r| r.status().as_u16()) == Some(404) {
                return Lookup::Missing;
            }
            response
                .and_then(|r| r.headers().get("x-amz-bucket-region"))
                .map(|r| Lookup::Region(r.to_owned()))
                .unwrap_or(Lookup::Unknown)
        }
    }
}

/// The same identity in the bucket's region, or unchanged when the region cannot be read.
pub async fn for_bucket(aws: &Aws, bucket: &str) -> Aws {
    match lookup(aws, bucket).await {
        Lookup::Region(region) | Lookup::Reachable(region) if region != aws.region() => {
            tracing::debug!(bucket, %region, "bucket lives in another region");
            aws.in_region(&region)
        }
        _ => aws.clone(),
    }
}
