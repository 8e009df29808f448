//! Copying one selected version to the target: server-side (CopyObject / UploadPartCopy) or streamed
//! (GetObject -> PutObject / multipart upload), always SSE-KMS under the target key, headers,
//! user metadata and tags carried; which central version each object came from is recorded in
//! the restore journal and, where a HeadObject or GetObject is made anyway (or
//! `--provenance metadata` asks for it), in the object's own metadata.

use std::collections::HashMap;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, MetadataDirective,
    ServerSideEncryption, TaggingDirective,
};
use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::error::{Error, Result};
use crate::objects::head_version;
use crate::restore::plan::SOURCE_VERSION_META;
use crate::version::ObjectVersion;

/// Characters left as they are in a CopySource key: unreserved ones and the path separator.
const COPY_SOURCE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// Characters left as they are in a tag key or value of the `x-amz-tagging` header.
const TAG: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Whole-object attempts of a streamed copy whose download body broke off (the SDK retries requests, not bodies).
const STREAM_ATTEMPTS: u32 = 3;

/// Parts copied or uploaded at once within one multipart object.
const PART_CONCURRENCY: usize = 4;

/// Where a restore records which central version each object it writes came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provenance {
    /// In the restore journal only, where a copy can keep central's metadata as it is: one
    /// CopyObject per object.
    Journal,
    /// Also in every object's metadata (`s3central-source-version-id`): HeadObject + CopyObject.
    /// For people reading the object; a restore never takes it as evidence (anyone who can
    /// write the target can write that metadata too).
    Metadata,
}

/// What one write produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Bytes written.
    pub bytes: u64,
    /// The version id S3 gave the new object (none in an unversioned bucket).
    pub version_id: Option<String>,
}

/// How bytes travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyMode {
    /// The target identity asks S3 to copy from central (no bytes through this machine).
    Server,
    /// Bytes are read from central and written to the target with different identities.
    Stream,
}

/// Everything a copy needs besides the key.
#[derive(Debug, Clone)]
pub struct Copier {
    /// Client acting as the identity that reads central.
    pub reader: aws_sdk_s3::Client,
    /// Client acting as the identity that writes the target.
    pub writer: aws_sdk_s3::Client,
    /// The central bucket.
    pub source_bucket: String,
    /// The target bucket.
    pub target_bucket: String,
    /// Full ARN of the target's KMS key.
    pub kms_key_arn: String,
    /// Server or stream.
    pub mode: CopyMode,
    /// Objects above this many bytes go multipart.
    pub multipart_threshold: u64,
    /// Part size for multipart copies and uploads.
    pub part_size: u64,
    /// Where the central version of each copy is recorded.
    pub provenance: Provenance,
    /// The restore journal of the target bucket, if one is kept.
    pub journal: Option<std::sync::Arc<crate::restore::journal::Journal>>,
    /// The account that must own central, sent with every read of a central version
    /// (`x-amz-expected-bucket-owner`, and `x-amz-source-expected-bucket-owner` on copies): S3
    /// refuses the read if the name now belongs to another account. `None` when not known.
    pub source_owner: Option<String>,
    /// The account that must own the target bucket, sent with every write
    /// (`x-amz-expected-bucket-owner`): S3 refuses the write if another account owns it.
    pub target_owner: Option<String>,
    /// Who writes (and, copying server-side, reads) and the options that choose another, named
    /// in every key's refusal or "not found" so the report says which identity was refused.
    pub acting_as: Option<std::sync::Arc<ActingAs>>,
}

/// An identity named in errors, and the options that choose another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActingAs {
    /// The role's ARN, the profile, or "the global credentials".
    pub who: String,
    /// The options that change it.
    pub fix: String,
}

impl Copier {
    /// One key's error as its report says it: a refusal or a missing bucket or key names the
    /// identity it was met as ([`Error::made_as`]); other errors as they are.
    pub fn explain(&self, e: Error) -> String {
        match &self.acting_as {
            Some(a) => e.made_as(&a.who, &a.fix).to_string(),
            None => e.to_string(),
        }
    }
}

/// Content headers and user metadata carried from the source version to the copy.
#[derive(Debug, Default, Clone)]
struct Headers {
    content_type: Option<String>,
    content_encoding: Option<String>,
    cache_control: Option<String>,
    content_disposition: Option<String>,
    content_language: Option<String>,
    metadata: HashMap<String, String>,
    /// The `x-amz-tagging` value for writes that cannot copy tags (PutObject, multipart).
    tagging: Option<String>,
}

// The SDK's request futures are about 9 KiB and every async layer holding one inline doubles
// it, so the common path awaits its requests boxed and the rare paths (stream, multipart) are
// boxed whole: a key's future stays small for the `buffer_unordered` that allocates and moves
// one per key (restore::tests bounds it).
impl Copier {
    /// Copies `source` to `target_key`; gives the bytes written and the new version id.
    pub async fn copy(&self, source: &ObjectVersion, target_key: &str) -> Result<Written> {
        match self.mode {
            CopyMode::Server => self.server_copy(source, target_key).await,
            CopyMode::Stream => {
                let mut attempt = 1;
                loop {
                    match Box::pin(self.stream_copy(source, target_key)).await {
                        Err(StreamError::Body(detail)) if attempt < STREAM_ATTEMPTS => {
                            tracing::warn!(key = %source.key, attempt, %detail, "download broke off; copying the object again");
                            attempt += 1;
                        }
                        Err(StreamError::Body(detail)) => {
                            return Err(Error::Aws {
                                op: "GetObject",
                                resource: source.key.clone(),
                                detail: format!("body broke off {STREAM_ATTEMPTS} times: {detail}"),
                            })
                        }
                        Err(StreamError::Other(e)) => return Err(e),
                        Ok(written) => return Ok(written),
                    }
                }
            }
        }
    }

    /// The `x-amz-copy-source` value for a version of the source bucket.
    fn copy_source(&self, source: &ObjectVersion) -> String {
        copy_source(&self.source_bucket, &source.key, &source.version_id)
    }

    /// CopyObject alone (journal provenance), HeadObject + CopyObject (metadata provenance), or
    /// multipart UploadPartCopy above the threshold.
    async fn server_copy(&self, source: &ObjectVersion, target_key: &str) -> Result<Written> {
        if self.provenance == Provenance::Journal && source.size <= self.multipart_threshold {
            return self.copy_as_is(source, target_key).await;
        }
        let head = head_version(
            &self.reader,
            &self.source_bucket,
            &source.key,
            &source.version_id,
            self.source_owner.as_deref(),
        )
        .await?;
        let size = head.content_length().unwrap_or(0).max(0) as u64;
        let headers = Headers {
            content_type: head.content_type().map(str::to_owned),
            content_encoding: head.content_encoding().map(str::to_owned),
            cache_control: head.cache_control().map(str::to_owned),
            content_disposition: head.content_disposition().map(str::to_owned),
            content_language: head.content_language().map(str::to_owned),
            metadata: self.metadata(head.metadata(), source),
            tagging: None,
        };
        if size > self.multipart_threshold {
            let headers = Headers {
                tagging: Box::pin(self.source_tagging(source)).await?,
                ..headers
            };
            return Box::pin(self.multipart(source, target_key, size, headers, Parts::Copy)).await;
        }
        self.copy_object(source, target_key, size, Some(headers))
            .await
    }

    /// One CopyObject that keeps the version's metadata and tags as they are (MetadataDirective
    /// COPY), re-encrypted under the target key; the size is the listing's.
    async fn copy_as_is(&self, source: &ObjectVersion, target_key: &str) -> Result<Written> {
        self.copy_object(source, target_key, source.size, None)
            .await
    }

    /// CopyObject under the target key, tags copied; with `headers` the metadata is replaced by
    /// them (MetadataDirective REPLACE), without it kept as it is (COPY).
    async fn copy_object(
        &self,
        source: &ObjectVersion,
        target_key: &str,
        size: u64,
        headers: Option<Headers>,
    ) -> Result<Written> {
        let request = self
            .writer
            .copy_object()
            .bucket(&self.target_bucket)
            .set_expected_bucket_owner(self.target_owner.clone())
            .key(target_key)
            .copy_source(self.copy_source(source))
            .set_expected_source_bucket_owner(self.source_owner.clone())
            .tagging_directive(TaggingDirective::Copy)
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&self.kms_key_arn);
        let request = match headers {
            None => request.metadata_directive(MetadataDirective::Copy),
            Some(h) => request
                .metadata_directive(MetadataDirective::Replace)
                .set_metadata(Some(h.metadata))
                .set_content_type(h.content_type)
                .set_content_encoding(h.content_encoding)
                .set_cache_control(h.cache_control)
                .set_content_disposition(h.content_disposition)
                .set_content_language(h.content_language),
        };
        let out = Box::pin(request.send())
            .await
            .map_err(|e| Error::from_sdk("CopyObject", target_key.to_owned(), e))?;
        Ok(Written {
            bytes: size,
            version_id: out.version_id().map(str::to_owned),
        })
    }

    /// GetObject, then PutObject (or a multipart upload of streamed parts above the threshold).
    async fn stream_copy(
        &self,
        source: &ObjectVersion,
        target_key: &str,
    ) -> Result<Written, StreamError> {
        let object = self
            .reader
            .get_object()
            .bucket(&self.source_bucket)
            .set_expected_bucket_owner(self.source_owner.clone())
            .key(&source.key)
            .version_id(&source.version_id)
            .send()
            .await
            .map_err(|e| StreamError::Other(Error::from_sdk("GetObject", source.key.clone(), e)))?;
        let size = object.content_length().unwrap_or(0).max(0) as u64;
        let tagging = if object.tag_count().unwrap_or(0) > 0 {
            self.source_tagging(source)
                .await
                .map_err(StreamError::Other)?
        } else {
            None
        };
        let headers = Headers {
            content_type: object.content_type().map(str::to_owned),
            content_encoding: object.content_encoding().map(str::to_owned),
            cache_control: object.cache_control().map(str::to_owned),
            content_disposition: object.content_disposition().map(str::to_owned),
            content_language: object.content_language().map(str::to_owned),
            metadata: self.metadata(object.metadata(), source),
            tagging,
        };
        if size > self.multipart_threshold {
            return self
                .multipart(
                    source,
                    target_key,
                    size,
                    headers,
                    Parts::Stream(object.body),
                )
                .await
                .map_err(|e| match e {
                    Error::Aws {
                        op: "GetObject body",
                        detail,
                        ..
                    } => StreamError::Body(detail),
                    other => StreamError::Other(other),
                });
        }
        let body = object
            .body
            .collect()
            .await
            .map_err(|e| StreamError::Body(e.to_string()))?
            .into_bytes();
        if body.len() as u64 != size {
            return Err(StreamError::Body(format!(
                "got {} of {size} bytes",
                body.len()
            )));
        }
        let h = headers;
        let out = self
            .writer
            .put_object()
            .bucket(&self.target_bucket)
            .set_expected_bucket_owner(self.target_owner.clone())
            .key(target_key)
            .content_length(size as i64)
            .body(ByteStream::from(body))
            .set_metadata(Some(h.metadata))
            .set_content_type(h.content_type)
            .set_content_encoding(h.content_encoding)
            .set_cache_control(h.cache_control)
            .set_content_disposition(h.content_disposition)
            .set_content_language(h.content_language)
            .set_tagging(h.tagging)
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&self.kms_key_arn)
            // S3 checks the bytes against it and keeps it: a later run can prove this copy in
            // place by its SHA-256 (when central's version has one), never by its CRC.
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .send()
            .await
            .map_err(|e| {
                StreamError::Other(Error::from_sdk("PutObject", target_key.to_owned(), e))
            })?;
        Ok(Written {
            bytes: size,
            version_id: out.version_id().map(str::to_owned),
        })
    }

    /// The source's user metadata plus the record of which version this copy came from.
    fn metadata(
        &self,
        source_meta: Option<&HashMap<String, String>>,
        source: &ObjectVersion,
    ) -> HashMap<String, String> {
        let mut meta = source_meta.cloned().unwrap_or_default();
        meta.insert(SOURCE_VERSION_META.to_owned(), source.version_id.clone());
        meta
    }

    /// The source version's tags as an `x-amz-tagging` value (None when it has none).
    async fn source_tagging(&self, source: &ObjectVersion) -> Result<Option<String>> {
        let out = self
            .reader
            .get_object_tagging()
            .bucket(&self.source_bucket)
            .set_expected_bucket_owner(self.source_owner.clone())
            .key(&source.key)
            .version_id(&source.version_id)
            .send()
            .await
            .map_err(|e| Error::from_sdk("GetObjectTagging", source.key.clone(), e))?;
        let tags: Vec<String> = out
            .tag_set()
            .iter()
            .map(|t| {
                format!(
                    "{}={}",
                    utf8_percent_encode(t.key(), TAG),
                    utf8_percent_encode(t.value(), TAG)
                )
            })
            .collect();
        Ok((!tags.is_empty()).then(|| tags.join("&")))
    }

    /// A multipart copy or upload: create, parts, complete; aborted on any failure.
    async fn multipart(
        &self,
        source: &ObjectVersion,
        target_key: &str,
        size: u64,
        h: Headers,
        parts: Parts,
    ) -> Result<Written> {
        let created = self
            .writer
            .create_multipart_upload()
            .bucket(&self.target_bucket)
            .set_expected_bucket_owner(self.target_owner.clone())
            .key(target_key)
            .set_metadata(Some(h.metadata))
            .set_content_type(h.content_type)
            .set_content_encoding(h.content_encoding)
            .set_cache_control(h.cache_control)
            .set_content_disposition(h.content_disposition)
            .set_content_language(h.content_language)
            .set_tagging(h.tagging)
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&self.kms_key_arn)
            .send()
            .await
            .map_err(|e| Error::from_sdk("CreateMultipartUpload", target_key.to_owned(), e))?;
        let upload_id = created.upload_id().unwrap_or_default().to_owned();
        let result = match parts {
            Parts::Copy => self.copy_parts(source, target_key, &upload_id, size).await,
            Parts::Stream(body) => self.upload_parts(body, target_key, &upload_id, size).await,
        };
        let completed = match result {
            Ok(parts) => self
                .writer
                .complete_multipart_upload()
                .bucket(&self.target_bucket)
                .set_expected_bucket_owner(self.target_owner.clone())
                .key(target_key)
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| Error::from_sdk("CompleteMultipartUpload", target_key.to_owned(), e)),
            Err(e) => Err(e),
        };
        match completed {
            Ok(out) => Ok(Written {
                bytes: size,
                version_id: out.version_id().map(str::to_owned),
            }),
            Err(e) => {
                let abort = self
                    .writer
                    .abort_multipart_upload()
                    .bucket(&self.target_bucket)
                    .set_expected_bucket_owner(self.target_owner.clone())
                    .key(target_key)
                    .upload_id(&upload_id)
                    .send()
                    .await;
                if let Err(abort) = abort {
                    tracing::warn!(key = target_key, upload_id, error = %crate::error::Error::from_sdk("AbortMultipartUpload", target_key.to_owned(), abort), "could not abort the multipart upload");
                }
                Err(e)
            }
        }
    }

    /// UploadPartCopy over byte ranges, a few at a time.
    async fn copy_parts(
        &self,
        source: &ObjectVersion,
        target_key: &str,
        upload_id: &str,
        size: u64,
    ) -> Result<Vec<CompletedPart>> {
        let ranges = part_ranges(size, part_size_for(size, self.part_size));
        let copy_source = self.copy_source(source);
        let mut parts: Vec<CompletedPart> = futures::stream::iter(ranges.into_iter().enumerate())
            .map(|(i, (first, last))| {
                let copy_source = copy_source.clone();
                async move {
                    let number = i as i32 + 1;
                    let out = self
                        .writer
                        .upload_part_copy()
                        .bucket(&self.target_bucket)
                        .set_expected_bucket_owner(self.target_owner.clone())
                        .key(target_key)
                        .upload_id(upload_id)
                        .part_number(number)
                        .copy_source(copy_source)
                        .set_expected_source_bucket_owner(self.source_owner.clone())
                        .copy_source_range(format!("bytes={first}-{last}"))
                        .send()
                        .await
                        .map_err(|e| Error::from_sdk("UploadPartCopy", target_key.to_owned(), e))?;
                    Ok::<_, Error>(
                        CompletedPart::builder()
                            .part_number(number)
                            .set_e_tag(
                                out.copy_part_result()
                                    .and_then(|r| r.e_tag())
                                    .map(str::to_owned),
                            )
                            .build(),
                    )
                }
            })
            .buffer_unordered(PART_CONCURRENCY)
            .try_collect()
            .await?;
        parts.sort_by_key(|p| p.part_number());
        Ok(parts)
    }

    /// Reads the download part by part (one part in memory) and uploads each part.
    async fn upload_parts(
        &self,
        mut body: ByteStream,
        target_key: &str,
        upload_id: &str,
        size: u64,
    ) -> Result<Vec<CompletedPart>> {
        let body_error = |detail: String| Error::Aws {
            op: "GetObject body",
            resource: target_key.to_owned(),
            detail,
        };
        let part_size = part_size_for(size, self.part_size);
        let mut parts = Vec::new();
        let mut buffer = BytesMut::with_capacity(part_size as usize);
        let mut total = 0u64;
        let mut done = false;
        while !done {
            match body.next().await {
                Some(chunk) => {
                    let chunk = chunk.map_err(|e| body_error(e.to_string()))?;
                    total += chunk.len() as u64;
                    buffer.extend_from_slice(&chunk);
                }
                None => done = true,
            }
            while buffer.len() as u64 >= part_size || (done && !buffer.is_empty()) {
                let take = buffer.len().min(part_size as usize);
                let part: Bytes = buffer.split_to(take).freeze();
                let number = parts.len() as i32 + 1;
                let out = self
                    .writer
                    .upload_part()
                    .bucket(&self.target_bucket)
                    .set_expected_bucket_owner(self.target_owner.clone())
                    .key(target_key)
                    .upload_id(upload_id)
                    .part_number(number)
                    .content_length(part.len() as i64)
                    .body(ByteStream::from(part))
                    .send()
                    .await
                    .map_err(|e| Error::from_sdk("UploadPart", target_key.to_owned(), e))?;
                parts.push(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(out.e_tag().map(str::to_owned))
                        .build(),
                );
            }
        }
        if total != size {
            return Err(body_error(format!("got {total} of {size} bytes")));
        }
        Ok(parts)
    }
}

/// Where the parts of a multipart object come from.
enum Parts {
    /// UploadPartCopy from the source version.
    Copy,
    /// The body of a GetObject already under way.
    Stream(ByteStream),
}

/// Why a streamed copy failed: a broken download body is worth another attempt.
enum StreamError {
    /// The download broke off or came up short.
    Body(String),
    /// Anything else.
    Other(Error),
}

/// The `x-amz-copy-source` value naming one version: the key and version id percent-encoded.
pub fn copy_source(bucket: &str, key: &str, version_id: &str) -> String {
    format!(
        "{bucket}/{}?versionId={}",
        utf8_percent_encode(key, COPY_SOURCE),
        utf8_percent_encode(version_id, TAG)
    )
}

/// S3 takes at most this many parts per object.
const MAX_PARTS: u64 = 10_000;

/// The requested part size, raised so that `size` fits in [`MAX_PARTS`] parts.
pub fn part_size_for(size: u64, requested: u64) -> u64 {
    requested.max(size.div_ceil(MAX_PARTS)).max(1)
}

/// Inclusive byte ranges of `part_size` covering `size` bytes.
pub fn part_ranges(size: u64, part_size: u64) -> Vec<(u64, u64)> {
    let part_size = part_size.max(1);
    (0..size.div_ceil(part_size))
        .map(|i| {
            let first = i * part_size;
            (first, (first + part_size).min(size) - 1)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_every_byte_once() {
        assert_eq!(part_ranges(10, 4), vec![(0, 3), (4, 7), (8, 9)]);
        assert_eq!(part_ranges(8, 4), vec![(0, 3), (4, 7)]);
        assert_eq!(part_ranges(0, 4), Vec::<(u64, u64)>::new());
    }

    #[test]
    fn raises_part_size_to_fit_ten_thousand_parts() {
        assert_eq!(part_size_for(100, 10), 10);
        assert_eq!(
            part_size_for(5 << 40, 16 << 20),
            (5u64 << 40).div_ceil(10_000)
        );
    }

    #[test]
    fn encodes_copy_source_keys() {
        let enc = |k: &str| utf8_percent_encode(k, COPY_SOURCE).to_string();
        assert_eq!(
            enc("111111111111/a b+c%d//é"),
            "111111111111/a%20b%2Bc%25d//%C3%A9"
        );
        // A version id keeps no slash: it is one query value.
        assert_eq!(
            copy_source("central", "111111111111/a b", "v+1/2"),
            "central/111111111111/a%20b?versionId=v%2B1%2F2"
        );
    }
}
