//! The one place that builds AWS SDK clients: credential chain, profile, region, endpoint, retries, roles.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    InterceptorContext,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_types::region::Region;

use crate::error::{Error, Result};

/// Credentials already in hand (an AssumeRole answer), given once, then the renewing provider's.
#[derive(Debug)]
struct SeededCredentials {
    first: std::sync::Mutex<Option<aws_credential_types::Credentials>>,
    renew: aws_config::sts::AssumeRoleProvider,
}

impl aws_credential_types::provider::ProvideCredentials for SeededCredentials {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let first = self.first.lock().map(|mut f| f.take()).unwrap_or(None);
        match first {
            Some(credentials) => {
                aws_credential_types::provider::future::ProvideCredentials::ready(Ok(credentials))
            }
            None => self.renew.provide_credentials(),
        }
    }
}

/// How to reach AWS: the global options every command shares.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    /// A named profile from the shared config files.
    pub profile: Option<String>,
    /// The region; falls back to the chain, then to us-east-1.
    pub region: Option<String>,
    /// A custom S3/KMS/STS-compatible endpoint (S3 is then addressed path-style).
    pub endpoint_url: Option<String>,
    /// Attempts per request, first try included.
    pub max_attempts: u32,
    /// Adaptive (backs off on throttling) or standard retry.
    pub adaptive_retry: bool,
    /// Allow `http://` endpoints off this machine (`--allow-plain-http`).
    pub allow_plain_http: bool,
}

/// A configured identity: SDK config plus a shared counter of S3 requests sent with it.
#[derive(Clone, Debug)]
pub struct Aws {
    config: SdkConfig,
    path_style: bool,
    requests: Arc<AtomicU64>,
    refused: FailFastRefused,
}

impl Aws {
    /// Loads the standard credential chain with the given options.
    pub async fn load(options: &AwsOptions) -> Result<Aws> {
        let region = RegionProviderChain::first_try(options.region.clone().map(Region::new))
            .or_default_provider()
            .or_else(Region::from_static("us-east-1"));
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(region)
            .retry_config(
                if options.adaptive_retry {
                    RetryConfig::adaptive()
                } else {
                    RetryConfig::standard()
                }
                .with_max_attempts(options.max_attempts.max(1))
                .with_initial_backoff(Duration::from_millis(100))
                .with_max_backoff(Duration::from_secs(10)),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .build(),
            );
        if let Some(profile) = &options.profile {
            // An explicit profile wins over credentials in the environment (as with the AWS CLI's
            // --profile); AWS_PROFILE alone keeps the SDK's usual order.
            let provider = aws_config::profile::ProfileFileCredentialsProvider::builder()
                .profile_name(profile)
                .build();
            use aws_credential_types::provider::ProvideCredentials;
            provider.provide_credentials().await.map_err(|e| {
                Error::Invalid(format!(
                    "cannot use AWS profile {profile:?}: {}; check the name and AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE",
                    crate::error::root_cause(&e)
                ))
            })?;
            loader = loader.profile_name(profile).credentials_provider(provider);
        }
        let from_env = std::env::vars().filter(|(name, _)| name.starts_with("AWS_ENDPOINT_URL"));
        for (name, url) in options
            .endpoint_url
            .iter()
            .map(|u| ("--endpoint-url".to_owned(), u.clone()))
            .chain(from_env)
        {
            check_transport(&name, &url, options.allow_plain_http)?;
        }
        if let Some(url) = &options.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let config = loader.load().await;
        if let Some(url) = config.endpoint_url() {
            // A profile's endpoint_url setting.
            check_transport("the profile's endpoint_url", url, options.allow_plain_http)?;
        }
        Ok(Aws {
            path_style: options.endpoint_url.is_some() || config.endpoint_url().is_some(),
            config,
            requests: Arc::new(AtomicU64::new(0)),
            refused: FailFastRefused::default(),
        })
    }

    /// The same endpoint and settings, acting as `role_arn` (assumed through STS).
    pub async fn assume_role(&self, role_arn: &str) -> Result<Aws> {
        // One call with this identity's own client first: an endpoint that refuses the connection
        // or missing credentials get their own one line at once, not the provider's retries
        // followed by a guess about the trust policy.
        let probe = self
            .sts()
            .assume_role()
            .role_arn(role_arn)
            .role_session_name("s3central")
            .send()
            .await;
        let first = match probe {
            Ok(out) => out.credentials().map(|c| {
                aws_credential_types::Credentials::new(
                    c.access_key_id(),
                    c.secret_access_key(),
                    Some(c.session_token().to_owned()),
                    std::time::SystemTime::try_from(*c.expiration()).ok(),
                    "s3central-assume-role",
                )
            }),
            Err(e) => {
                return Err(match Error::from_sdk("AssumeRole", role_arn, e) {
                    e @ (Error::Unreachable { .. } | Error::NoCredentials) => e,
                    Error::AccessDenied { detail, .. } | Error::Aws { detail, .. } => {
                        Error::Invalid(format!(
                            "cannot assume role {role_arn}: {detail}; check the credentials, the role ARN and its trust policy"
                        ))
                    }
                    other => other,
                })
            }
        };
        // The SDK's provider renews the credentials when they expire; the probe's answer serves
        // until then, so assuming a role costs one STS call, not three.
        let provider = SeededCredentials {
            first: std::sync::Mutex::new(first),
            renew: aws_config::sts::AssumeRoleProvider::builder(role_arn)
                .session_name("s3central")
                .configure(&self.config)
                .build()
                .await,
        };
        // An identity cache of its own: the SDK's default cache, shared by every config built
        // from the same loader, keeps at most 64 identities and evicts one at random beyond that,
        // so setup and status across more accounts than that assumed roles again on nearly every
        // request (measured: 37 of 100 accounts assumed their admin role 32-39 times in one run).
        let config = self
            .config
            .to_builder()
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(provider),
            )
            .identity_cache(aws_config::identity::IdentityCache::lazy().build())
            .build();
        Ok(Aws {
            config,
            path_style: self.path_style,
            requests: self.requests.clone(),
            refused: self.refused.clone(),
        })
    }

    /// The same settings with another named profile (for a writer other than the reader).
    pub async fn with_profile(&self, options: &AwsOptions, profile: &str) -> Result<Aws> {
        let mut options = options.clone();
        options.profile = Some(profile.to_owned());
        let mut aws = Aws::load(&options).await?;
        aws.requests = self.requests.clone();
        aws.refused = self.refused.clone();
        Ok(aws)
    }

    /// An S3 client; path-style addressing when a custom endpoint is in use.
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.config)
            .force_path_style(self.path_style)
            .interceptor(CountRequests(self.requests.clone()))
            .interceptor(self.refused.clone())
            .retry_classifier(self.refused.clone())
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// An S3 Control client (Batch Operations jobs). With a custom endpoint, requests go to that
    /// URL as given, the account id travelling in the `x-amz-account-id` header: the SDK would
    /// otherwise put the account id in front of the host name, as AWS's own endpoints are named
    /// (the S3 Control equivalent of path-style addressing).
    pub fn s3control(&self) -> aws_sdk_s3control::Client {
        let mut conf = aws_sdk_s3control::config::Builder::from(&self.config)
            .interceptor(self.refused.clone())
            .retry_classifier(self.refused.clone());
        if let Some(url) = self.config.endpoint_url().filter(|_| self.path_style) {
            conf = conf.endpoint_resolver(FixedEndpoint(url.to_owned()));
        }
        aws_sdk_s3control::Client::from_conf(conf.build())
    }

    /// A KMS client.
    pub fn kms(&self) -> aws_sdk_kms::Client {
        let conf = aws_sdk_kms::config::Builder::from(&self.config)
            .interceptor(self.refused.clone())
            .retry_classifier(self.refused.clone())
            .build();
        aws_sdk_kms::Client::from_conf(conf)
    }

    /// An IAM client.
    pub fn iam(&self) -> aws_sdk_iam::Client {
        let conf = aws_sdk_iam::config::Builder::from(&self.config)
            .interceptor(self.refused.clone())
            .retry_classifier(self.refused.clone())
            .build();
        aws_sdk_iam::Client::from_conf(conf)
    }

    /// An SNS client (the alerts topics of the central account).
    pub fn sns(&self) -> aws_sdk_sns::Client {
        let conf = aws_sdk_sns::config::Builder::from(&self.config)
            .interceptor(self.refused.clone())
            .retry_classifier(self.refused.clone())
            .build();
        aws_sdk_sns::Client::from_conf(conf)
    }

    /// An Organizations client.
    pub fn organizations(&self) -> aws_sdk_organizations::Client {
        let conf = aws_sdk_organizations::config::Builder::from(&self.config)
            .interceptor(self.refused.clone())
            .retry_classifier(self.refused.clone())
            .build();
        aws_sdk_organizations::Client::from_conf(conf)
    }

    /// The same identity and endpoint, in another region.
    pub fn in_region(&self, region: &str) -> Aws {
        Aws {
            config: self
                .config
                .to_builder()
                .region(Region::new(region.to_owned()))
                .build(),
            path_style: self.path_style,
            requests: self.requests.clone(),
            refused: self.refused.clone(),
        }
    }

    /// An STS client.
    pub fn sts(&self) -> aws_sdk_sts::Client {
        let conf = aws_sdk_sts::config::Builder::from(&self.config)
            .interceptor(self.refused.clone())
            .retry_classifier(self.refused.clone())
            .build();
        aws_sdk_sts::Client::from_conf(conf)
    }

    /// The region requests go to.
    pub fn region(&self) -> String {
        self.config
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into())
    }

    /// S3 requests sent so far by every client made from this identity (retries included).
    pub fn s3_requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Who these credentials act as: the user or assumed-role session ARN (STS GetCallerIdentity).
    pub async fn caller_arn(&self) -> Result<String> {
        let out = self.caller_identity().await?;
        out.arn()
            .map(str::to_owned)
            .ok_or_else(|| Error::Invalid("STS GetCallerIdentity returned no ARN".into()))
    }

    /// The account id of these credentials (STS GetCallerIdentity).
    pub async fn account_id(&self) -> Result<String> {
        let out = self.caller_identity().await?;
        out.account()
            .map(str::to_owned)
            .ok_or_else(|| Error::Invalid("STS GetCallerIdentity returned no account".into()))
    }

    /// STS GetCallerIdentity of these credentials.
    async fn caller_identity(
        &self,
    ) -> Result<aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput> {
        self.sts()
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| Error::from_sdk("GetCallerIdentity", "sts", e))
    }
}

/// Refuses a plain-HTTP endpoint off this machine unless `allow` (`--allow-plain-http`): STS
/// answers carry secret keys and S3 answers carry the data, readable and changeable by anyone on
/// the path. `http://` to a loopback address (`localhost`, 127.0.0.0/8, `[::1]`) stays on this
/// machine (the local test server). `where_from` names the option or variable that gave `url`.
pub fn check_transport(where_from: &str, url: &str, allow: bool) -> Result<()> {
    let lower = url.trim().to_ascii_lowercase();
    if lower.starts_with("https://") {
        return Ok(());
    }
    let Some(rest) = lower.strip_prefix("http://") else {
        return Err(Error::Invalid(format!(
            "{where_from} {url:?} is not an http:// or https:// URL"
        )));
    };
    if allow || is_loopback_authority(rest) {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "refusing plain HTTP to {url} ({where_from}): credentials and data would cross the network unencrypted; use https://, or pass --allow-plain-http for a network you trust"
    )))
}

/// Whether the host of a URL's `authority[/path]` (after the scheme) is a loopback address.
fn is_loopback_authority(rest: &str) -> bool {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// An S3 Control endpoint that is exactly the configured URL (see [`Aws::s3control`]).
#[derive(Debug, Clone)]
struct FixedEndpoint(String);

impl aws_sdk_s3control::config::endpoint::ResolveEndpoint for FixedEndpoint {
    fn resolve_endpoint<'a>(
        &'a self,
        _params: &'a aws_sdk_s3control::config::endpoint::Params,
    ) -> aws_sdk_s3control::config::endpoint::EndpointFuture<'a> {
        aws_sdk_s3control::config::endpoint::EndpointFuture::ready(Ok(
            aws_smithy_types::endpoint::Endpoint::builder()
                .url(self.0.clone())
                .build(),
        ))
    }
}

/// Counts every request attempt it is attached to, so reports can give API calls (retries included).
///
/// Attached to every S3 client ([`Aws::s3`]); a counter of its own counts the attempts made
/// inside [`CountRequests::scope`] too (one key's requests), without a per-request interceptor.
#[derive(Debug, Clone, Default)]
pub struct CountRequests(Arc<AtomicU64>);

tokio::task_local! {
    /// The counter of the innermost [`CountRequests::scope`] being polled.
    static SCOPED: CountRequests;
}

impl CountRequests {
    /// Attempts counted so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Runs `work`, counting here the S3 attempts made while it is polled (not in tasks it spawns).
    pub async fn scope<F: std::future::Future>(&self, work: F) -> F::Output {
        SCOPED.scope(self.clone(), work).await
    }
}

impl Intercept for CountRequests {
    fn name(&self) -> &'static str {
        "CountRequests"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        let _ = SCOPED.try_with(|scoped| scoped.0.fetch_add(1, Ordering::Relaxed));
        Ok(())
    }
}

/// Fails fast on a refused connection to an endpoint that has never answered.
///
/// The SDK's transient-error classifier retries every I/O error, so a wrong `--endpoint-url` (or
/// a local server that is not running) took all `--max-attempts` with backoff, 4-9 s, before the
/// "cannot reach" message. A refused connection before any response is a wrong address, not a
/// passing fault: this classifier (run after the SDK's own, so it can overrule them) forbids
/// the retry then. Once any request of this identity has had a response, the endpoint is known to
/// be right and a refused connection (a server restarting, a load balancer swapping nodes) is
/// retried with backoff as before. The retry strategy, attempts and backoff are the SDK's.
#[derive(Debug, Clone, Default)]
struct FailFastRefused {
    /// Set as soon as any request made with these settings gets a response.
    answered: Arc<AtomicBool>,
}

impl Intercept for FailFastRefused {
    fn name(&self) -> &'static str {
        "FailFastRefused"
    }

    fn read_before_deserialization(
        &self,
        _context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.answered.store(true, Ordering::Relaxed);
        Ok(())
    }
}

impl ClassifyRetry for FailFastRefused {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let Some(Err(err)) = ctx.output_or_error() else {
            return RetryAction::NoActionIndicated;
        };
        let Some(connector) = err.as_connector_error() else {
            return RetryAction::NoActionIndicated;
        };
        if connection_refused(connector) && !self.answered.load(Ordering::Relaxed) {
            RetryAction::RetryForbidden
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "FailFastRefused"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

/// Whether the error's causes include an OS "connection refused".
fn connection_refused(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return true;
            }
        }
        cause = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::check_transport;

    #[test]
    fn plain_http_only_to_this_machine_unless_allowed() {
        for url in [
            "https://s3.eu-west-1.amazonaws.com",
            "http://127.0.0.1:5000",
            "HTTP://LOCALHOST:9000/",
            "http://[::1]:9000",
            "http://127.8.9.10",
            "http://user@127.0.0.1:1/x",
        ] {
            assert!(
                check_transport("--endpoint-url", url, false).is_ok(),
                "{url}"
            );
        }
        for url in [
            "http://s3.example.com",
            "http://10.0.0.5:9000",
            "http://127.0.0.1.attacker.example",
            "http://localhost.example.com",
            "http://127.0.0.1@evil.example",
            "http://[::2]:9000",
        ] {
            let e = check_transport("--endpoint-url", url, false).unwrap_err();
            assert!(e.to_string().contains("--allow-plain-http"), "{url}: {e}");
            assert!(
                check_transport("--endpoint-url", url, true).is_ok(),
                "{url}"
            );
        }
        assert!(check_transport("AWS_ENDPOINT_URL", "ftp://x", true).is_err());
    }

    use super::*;
    use aws_smithy_runtime_api::client::interceptors::context::{Error as CtxError, Input};
    use aws_smithy_runtime_api::client::orchestrator::OrchestratorError;
    use aws_smithy_runtime_api::client::result::ConnectorError;

    fn failed_with(kind: std::io::ErrorKind) -> InterceptorContext {
        let mut ctx = InterceptorContext::new(Input::doesnt_matter());
        ctx.set_output_or_error(Err(OrchestratorError::<CtxError>::connector(
            ConnectorError::io(Box::new(std::io::Error::from(kind))),
        )));
        ctx
    }

    #[test]
    fn a_refused_connection_is_final_until_the_endpoint_has_answered() {
        let classifier = FailFastRefused::default();
        let refused = failed_with(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(
            classifier.classify_retry(&refused),
            RetryAction::RetryForbidden
        );
        // Other I/O failures are left to the SDK's classifiers (which retry them).
        let reset = failed_with(std::io::ErrorKind::ConnectionReset);
        assert_eq!(
            classifier.classify_retry(&reset),
            RetryAction::NoActionIndicated
        );
        // After a response, a refused connection is a passing fault: the SDK retries it.
        classifier.answered.store(true, Ordering::Relaxed);
        assert_eq!(
            classifier.classify_retry(&refused),
            RetryAction::NoActionIndicated
        );
    }
}
