//! The library's typed errors, and the translation of AWS SDK failures into one-line, actionable ones.

use std::error::Error as StdError;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use thiserror::Error;

use crate::account::AccountIdError;
use crate::filter::FilterError;
use crate::time::TimeError;

/// Everything that can stop a command; each message names the problem and the fix in one line.
#[derive(Debug, Error)]
pub enum Error {
    /// A malformed `--account`.
    #[error(transparent)]
    Account(#[from] AccountIdError),
    /// A TIME that cannot be read or lies in the future.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// An `--include`/`--exclude` glob that does not compile.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// An `--inventory` that cannot be used (stale, another bucket, format, columns, MD5).
    #[error(transparent)]
    Inventory(#[from] crate::inventory::InventoryError),
    /// A config file that cannot be used.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The command needs the central bucket and none was given.
    #[error("no central bucket given: pass --central-bucket NAME or set S3CENTRAL_BUCKET")]
    NoCentralBucket,
    /// A bucket that does not exist.
    #[error("bucket {bucket:?} does not exist: check the name ({hint})")]
    NoSuchBucket {
        /// The bucket asked for.
        bucket: String,
        /// Which option named it.
        hint: &'static str,
    },
    /// A KMS key that the identity asking cannot see.
    #[error("KMS key {key:?} not found: pass --kms-key with an existing key id, ARN or alias of the target account")]
    NoSuchKey {
        /// The key as given.
        key: String,
    },
    /// The credentials were refused or lack a permission.
    #[error("access denied: {op} on {resource}: {detail}; check the credentials (--profile, --target-profile) and the bucket, key and IAM policies")]
    AccessDenied {
        /// The API operation.
        op: &'static str,
        /// The bucket, key or ARN it was about.
        resource: String,
        /// What AWS said.
        detail: String,
    },
    /// No credentials could be found in the standard chain.
    #[error("no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use --profile / AWS_PROFILE")]
    NoCredentials,
    /// The endpoint did not answer.
    #[error("cannot reach the AWS endpoint for {op}: {detail}; check --endpoint-url / AWS_ENDPOINT_URL, --region and the network")]
    Unreachable {
        /// The API operation.
        op: &'static str,
        /// The transport's own words.
        detail: String,
    },
    /// Any other AWS failure, with the service's code and message.
    #[error("{op} on {resource} failed: {detail}")]
    Aws {
        /// The API operation.
        op: &'static str,
        /// The bucket, key or ARN it was about.
        resource: String,
        /// The service's code and message, or the transport's words.
        detail: String,
    },
    /// A refusal to act that protects data (central bucket as target, unversioned target, ...).
    #[error("{0}")]
    Refused(String),
    /// Bad input that is not covered by a more specific variant.
    #[error("{0}")]
    Invalid(String),
    /// A refusal or a missing resource met by a request made as a chosen identity: names it, and
    /// the options that choose another.
    #[error("{source} (as {who}; {fix})")]
    As {
        /// The identity's ARN (a role, or the caller's own).
        who: String,
        /// The options that change it.
        fix: String,
        /// What went wrong.
        source: Box<Error>,
    },
    /// Local I/O (report file, stdout).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Translates an SDK failure of `op` on `resource` into a one-line error.
    pub fn from_sdk<E>(
        op: &'static str,
        resource: impl Into<String>,
        err: SdkError<E, HttpResponse>,
    ) -> Error
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        let resource = resource.into();
        let code = err.code().map(str::to_owned);
        let message = err.message().map(str::to_owned);
        let status = err.raw_response().map(|r| r.status().as_u16());
        match &err {
            SdkError::ServiceError(_) => {
                let detail = match (&code, &message) {
                    (Some(c), Some(m)) => format!("{c}: {m}"),
                    (Some(c), None) => c.clone(),
                    (None, Some(m)) => m.clone(),
                    (None, None) => format!("HTTP {}", status.unwrap_or(0)),
                };
                match code.as_deref() {
                    Some(
                        "AccessDenied"
                        | "AccessDeniedException"
                        | "AllAccessDisabled"
                        | "InvalidAccessKeyId"
                        | "SignatureDoesNotMatch"
                        | "InvalidClientTokenId"
                        | "UnrecognizedClientException"
                        | "ExpiredToken",
                    ) => Error::AccessDenied {
                        op,
                        resource,
                        detail,
                    },
                    _ if status == Some(403) => Error::AccessDenied {
                        op,
                        resource,
                        detail,
                    },
                    _ if status == Some(404) && code.is_none() => Error::Aws {
                        op,
                        resource,
                        detail: "NoSuchBucket (HTTP 404)".into(),
                    },
                    _ => Error::Aws {
                        op,
                        resource,
                        detail,
                    },
                }
            }
            SdkError::TimeoutError(_) => Error::Unreachable {
                op,
                detail: "timed out".into(),
            },
            SdkError::DispatchFailure(df) if df.is_io() || df.is_timeout() => Error::Unreachable {
                op,
                detail: root_cause(&err),
            },
            _ => {
                let text = DisplayErrorContext(&err).to_string();
                let detail = format!("{err}: {}", root_cause(&err));
                if looks_like_missing_credentials(&text) {
                    Error::NoCredentials
                } else if text.contains("Connection refused") || text.contains("dns error") {
                    Error::Unreachable { op, detail }
                } else {
                    Error::Aws {
                        op,
                        resource,
                        detail,
                    }
                }
            }
        }
    }

    /// Whether this failure is a refusal (missing permission or rejected credentials).
    pub fn is_access_denied(&self) -> bool {
        matches!(self, Error::AccessDenied { .. })
    }

    /// Names the identity a refused or not-found request was made as (`who`), and how to choose
    /// another (`fix`); other failures are left as they are.
    pub fn made_as(self, who: &str, fix: &str) -> Error {
        match self {
            Error::AccessDenied { .. } | Error::NoSuchBucket { .. } | Error::NoSuchKey { .. } => {
                Error::As {
                    who: who.to_owned(),
                    fix: fix.to_owned(),
                    source: Box::new(self),
                }
            }
            other => other,
        }
    }

    /// Whether this failure is the service saying "no such bucket".
    pub fn is_no_such_bucket(&self) -> bool {
        matches!(self, Error::NoSuchBucket { .. })
            || matches!(self, Error::Aws { detail, .. } if detail.starts_with("NoSuchBucket"))
    }

    /// Turns a generic "NoSuchBucket" failure into [`Error::NoSuchBucket`] naming the option to fix.
    pub fn with_bucket_hint(self, bucket: &str, hint: &'static str) -> Error {
        if self.is_no_such_bucket() {
            Error::NoSuchBucket {
                bucket: bucket.to_owned(),
                hint,
            }
        } else {
            self
        }
    }
}

/// The innermost cause's words, which say what actually went wrong (e.g. "Connection refused").
pub fn root_cause(err: &(dyn StdError + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    first_line(&cause.to_string())
}

/// Whether an SDK error's text says the credential chain found nothing.
fn looks_like_missing_credentials(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("no credentials")
        || lower.contains("credentialsnotloaded")
        || lower.contains("credentials provider was not enabled")
        || lower.contains("failed to load credentials")
        || lower.contains("identity")
}

/// The error text on one line: SDK context chains can hold newlines.
fn first_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collapses_multiline_text() {
        assert_eq!(first_line("a\n  b\tc"), "a b c");
    }
}
