//! `restore --verify`: proves each restored object equals the central version it was copied from,
//! by the full-object checksums S3 keeps for both (HeadObject with ChecksumMode), or, with
//! `--verify bytes` where no checksum can be compared, by reading both and comparing SHA-256
//! digests. The target's own metadata is never taken as proof.

use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::types::{ChecksumMode, ChecksumType};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::restore::copy::Copier;
use crate::restore::plan::Outcome;
use crate::restore::KeyReport;
use crate::version::ObjectVersion;

/// How far `--verify` goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyMode {
    /// Compare the full-object checksums S3 keeps for both versions; objects without one on both
    /// sides are reported as not verified.
    Checksum,
    /// As `checksum`, and read both versions and compare their SHA-256 where no checksum can be
    /// compared.
    Bytes,
}

/// The full-object checksums S3 gives for one version, by algorithm, strongest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checksums {
    /// `(algorithm, base64 value)`; composite (multipart) checksums are left out: they depend on
    /// the part sizes, not only on the bytes.
    pub full_object: Vec<(&'static str, String)>,
}

impl Checksums {
    /// What a HeadObject with ChecksumMode says.
    pub fn of(head: &HeadObjectOutput) -> Checksums {
        let composite = head.checksum_type() == Some(&ChecksumType::Composite);
        let candidates = [
            ("SHA256", head.checksum_sha256()),
            ("SHA1", head.checksum_sha1()),
            ("CRC64NVME", head.checksum_crc64_nvme()),
            ("CRC32C", head.checksum_crc32_c()),
            ("CRC32", head.checksum_crc32()),
        ];
        Checksums {
            full_object: candidates
                .into_iter()
                .filter_map(|(alg, v)| v.map(|v| (alg, v.to_owned())))
                // A composite checksum is `<base64>-<parts>`; some servers omit ChecksumType.
                .filter(|(_, v)| !composite && !v.contains('-'))
                .collect(),
        }
    }

    fn get(&self, alg: &str) -> Option<&str> {
        self.full_object
            .iter()
            .find(|(a, _)| *a == alg)
            .map(|(_, v)| v.as_str())
    }
}

/// What comparing two versions' checksums shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Comparison {
    /// Equal under this algorithm (the strongest both have).
    Equal(&'static str),
    /// Different under this algorithm: the bytes differ.
    Different {
        /// The algorithm.
        algorithm: &'static str,
        /// Central's value.
        central: String,
        /// The target's value.
        target: String,
    },
    /// No full-object checksum of the same algorithm on both.
    Nothing,
}

/// Compares under the strongest algorithm both versions have.
pub fn compare(central: &Checksums, target: &Checksums) -> Comparison {
    for (algorithm, c) in &central.full_object {
        if let Some(t) = target.get(algorithm) {
            return if c == t {
                Comparison::Equal(algorithm)
            } else {
                Comparison::Different {
                    algorithm,
                    central: c.clone(),
                    target: t.to_owned(),
                }
            };
        }
    }
    Comparison::Nothing
}

/// One restored object's verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Proven equal; the text says how (`checksum CRC32`, `bytes SHA-256`).
    Verified(String),
    /// Not proven either way; the text says why.
    Unverified(String),
    /// Proven different: a failure.
    Mismatch(String),
}

/// How a copy proven by reading both versions is reported (`verified`).
pub const BY_BYTES: &str = "bytes SHA-256";

/// Writes a verification into the key's report, for either engine: how it was proven, why it
/// could not be, or a failure when the versions differ.
pub fn record(report: &mut KeyReport, verdict: Result<Verdict>, copier: &Copier) {
    match verdict {
        Ok(Verdict::Verified(how)) => report.verified = Some(how),
        Ok(Verdict::Unverified(why)) => report.unverified = Some(why),
        Ok(Verdict::Mismatch(why)) => {
            report.outcome = Outcome::Failed;
            report.error = Some(why);
        }
        Err(e) => {
            report.unverified = Some(format!("could not be read back: {}", copier.explain(e)))
        }
    }
}

/// Verifies the version `written` of `target_key` (the copy just made) against `source`.
pub async fn verify(
    copier: &Copier,
    source: &ObjectVersion,
    target_key: &str,
    written: Option<&str>,
    mode: VerifyMode,
) -> Result<Verdict> {
    let central = head(
        &copier.reader,
        &copier.source_bucket,
        &source.key,
        Some(&source.version_id),
        copier.source_owner.as_deref(),
    )
    .await?;
    let target = head(
        &copier.writer,
        &copier.target_bucket,
        target_key,
        written,
        copier.target_owner.as_deref(),
    )
    .await?;
    match compare(&Checksums::of(&central), &Checksums::of(&target)) {
        Comparison::Equal(alg) => return Ok(Verdict::Verified(format!("checksum {alg}"))),
        Comparison::Different {
            algorithm,
            central,
            target,
        } => {
            return Ok(Verdict::Mismatch(format!(
                "verification failed: the written version's {algorithm} is {target}, central's is {central}"
            )))
        }
        Comparison::Nothing if mode == VerifyMode::Checksum => {
            return Ok(Verdict::Unverified(
                "no full-object checksum of one algorithm on both versions (--verify bytes reads them)"
                    .into(),
            ))
        }
        Comparison::Nothing => {}
    }
    let central = digest(
        &copier.reader,
        &copier.source_bucket,
        &source.key,
        Some(&source.version_id),
        copier.source_owner.as_deref(),
    )
    .await?;
    let target = digest(
        &copier.writer,
        &copier.target_bucket,
        target_key,
        written,
        copier.target_owner.as_deref(),
    )
    .await?;
    Ok(if central == target {
        Verdict::Verified(BY_BYTES.into())
    } else {
        Verdict::Mismatch(format!(
            "verification failed: the written version's bytes have SHA-256 {}, central's {}",
            hex::encode(target),
            hex::encode(central)
        ))
    })
}

/// HeadObject with ChecksumMode of one version (the current one when `version_id` is `None`).
async fn head(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    owner: Option<&str>,
) -> Result<HeadObjectOutput> {
    crate::objects::head(
        s3,
        bucket,
        key,
        version_id,
        owner,
        Some(ChecksumMode::Enabled),
    )
    .await
}

/// The SHA-256 of one version's bytes, read as a stream (memory does not grow with the size).
async fn digest(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    owner: Option<&str>,
) -> Result<Vec<u8>> {
    let out = Box::pin(
        s3.get_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_owned))
            .set_expected_bucket_owner(owner.map(str::to_owned))
            .send(),
    )
    .await
    .map_err(|e| Error::from_sdk("GetObject", key.to_owned(), e))?;
    let mut body = out.body;
    let mut hasher = Sha256::new();
    while let Some(chunk) = body.try_next().await.map_err(|e| Error::Io {
        what: format!("reading s3://{bucket}/{key}"),
        source: std::io::Error::other(e),
    })? {
        hasher.update(&chunk);
    }
    Ok(hasher.finalize().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sums(pairs: &[(&'static str, &str)]) -> Checksums {
        Checksums {
            full_object: pairs.iter().map(|(a, v)| (*a, v.to_string())).collect(),
        }
    }

    #[test]
    fn the_strongest_common_algorithm_decides() {
        let central = sums(&[("SHA256", "s"), ("CRC32", "c")]);
        assert_eq!(
            compare(&central, &sums(&[("CRC32", "c")])),
            Comparison::Equal("CRC32")
        );
        assert_eq!(
            compare(&central, &sums(&[("SHA256", "s"), ("CRC32", "x")])),
            Comparison::Equal("SHA256")
        );
        assert_eq!(
            compare(&central, &sums(&[("SHA256", "other")])),
            Comparison::Different {
                algorithm: "SHA256",
                central: "s".into(),
                target: "other".into()
            }
        );
        assert_eq!(
            compare(&central, &sums(&[("CRC32C", "c")])),
            Comparison::Nothing
        );
        assert_eq!(compare(&sums(&[]), &central), Comparison::Nothing);
    }

    #[test]
    fn composite_checksums_are_never_compared() {
        let head = HeadObjectOutput::builder()
            .checksum_sha256("abc=-3")
            .checksum_crc32("AAAAAA==")
            .build();
        assert_eq!(Checksums::of(&head), sums(&[("CRC32", "AAAAAA==")]));
        let composite = HeadObjectOutput::builder()
            .checksum_crc32("AAAAAA==")
            .checksum_type(ChecksumType::Composite)
            .build();
        assert_eq!(Checksums::of(&composite), sums(&[]));
    }
}
