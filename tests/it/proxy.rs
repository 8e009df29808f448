//! A fault-injecting HTTP/1.1 reverse proxy for tests: listens on 127.0.0.1 (port 0, the actual
//! port in [`Proxy::url`]), forwards every request to the test server, and injects S3-style
//! failures at a configurable rate, deterministically from a seed.
//!
//! Fault kinds ([`Fault`]): 503 SlowDown with an S3 XML error body, without and with
//! `Retry-After: 1`; 500 InternalError (XML body); a connection dropped before any response (the
//! request is never forwarded); a 200 response whose body is cut off mid-stream (status and headers
//! forwarded, including the full Content-Length, then only part of the body, then the connection
//! closes); and 20-100 ms of added latency before forwarding normally. Error faults are answered
//! by the proxy itself, so the server never sees the failed attempt: a faulted write is never
//! applied, and a retry never makes a second version.
//!
//! Which requests: only object-level data requests can get a fault: GET, HEAD and PUT on object
//! keys (GetObject, HeadObject, PutObject, CopyObject, UploadPart, UploadPartCopy, GetObjectTagging)
//! and ListObjectVersions. Cut bodies only hit GetObject (without a subresource such as
//! `?tagging`) and ListObjectVersions, the requests whose body is data. Everything else
//! (HeadBucket, GetBucketVersioning, GetBucketEncryption, multipart create/complete/abort, KMS,
//! STS) is forwarded untouched, so a restore's preflight checks never see a fault. That selection
//! is by request kind, not by "skip the first N requests": with concurrent clients the first N
//! requests are not a stable set.
//!
//! Determinism: whether an attempt gets a fault, which kind, where a body is cut and how much
//! latency is added are a pure function ([`Plan::decide`]) of the seed, the request's identity
//! (method, bucket label, key, query parameters without their random values such as version or
//! upload ids, whether it is a copy) and its occurrence: how many times the proxy has seen that
//! identity before (0 for the first attempt, 1 for its first retry, ...). So whatever the
//! concurrency, the same seed faults the same attempts of the same requests, and every retry gets
//! a fresh, independent draw. Bucket names are unique per test run; [`Plan::bucket_labels`] maps
//! them to stable labels so the draws do not change from run to run.
//!
//! Bounded: one task runs the accept loop and owns every connection's task (a `JoinSet`);
//! [`Proxy`]'s `Drop` aborts it, which aborts them all. It forwards to loopback only.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// The error type of response bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the proxy answers with.
pub type ProxyBody = BoxBody<Bytes, BoxError>;

/// One kind of injected failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// 503 SlowDown, XML body, no Retry-After.
    SlowDown,
    /// 503 SlowDown, XML body, `Retry-After: 1`.
    SlowDownRetryAfter,
    /// 500 InternalError, XML body.
    InternalError,
    /// The connection is dropped before any response; the request is not forwarded.
    Reset,
    /// Status and headers (full Content-Length) forwarded, then part of the body, then a close.
    CutBody,
    /// 20-100 ms of delay, then forwarded normally.
    Latency,
}

impl Fault {
    /// Every kind, in counter order.
    pub const ALL: [Fault; 6] = [
        Fault::SlowDown,
        Fault::SlowDownRetryAfter,
        Fault::InternalError,
        Fault::Reset,
        Fault::CutBody,
        Fault::Latency,
    ];

    /// Position in [`Fault::ALL`] (and in the counters).
    fn index(self) -> usize {
        Fault::ALL
            .iter()
            .position(|f| *f == self)
            .expect("listed in ALL")
    }

    /// A short name for figures.
    pub fn name(self) -> &'static str {
        match self {
            Fault::SlowDown => "slowdown_503",
            Fault::SlowDownRetryAfter => "slowdown_503_retry_after",
            Fault::InternalError => "internal_500",
            Fault::Reset => "reset",
            Fault::CutBody => "cut_body",
            Fault::Latency => "latency",
        }
    }
}

/// What a request is, as far as fault injection cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Not an S3 call (KMS, STS: POST `/` or an `X-Amz-Target` header); never faulted.
    NotS3,
    /// An S3 call that is not object-level data (bucket calls, multipart bookkeeping); never faulted.
    S3Other,
    /// GetObject (no subresource): every fault kind, cut bodies included.
    ObjectRead,
    /// HEAD, PUT (put, copy, parts) or a GET subresource on an object key: every kind but cuts.
    ObjectOther,
    /// ListObjectVersions: every fault kind, cut bodies included.
    ListVersions,
}

impl Class {
    fn eligible(self) -> bool {
        matches!(
            self,
            Class::ObjectRead | Class::ObjectOther | Class::ListVersions
        )
    }

    fn cuttable(self) -> bool {
        matches!(self, Class::ObjectRead | Class::ListVersions)
    }
}

/// What to inject, and how often.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Seeds every draw.
    pub seed: u64,
    /// Share (0..=1) of eligible attempts that get a fault.
    pub rate: f64,
    /// The kinds drawn from, with equal weight (cut bodies only where a body can be cut).
    pub kinds: Vec<Fault>,
    /// Besides the draws: cut the body of the first this many GetObject attempts of every object
    /// version (0 = off).
    pub cut_first_gets: u32,
    /// Bucket name -> stable label, so identities (and draws) do not depend on unique names.
    pub bucket_labels: BTreeMap<String, String>,
    /// Every PUT whose path contains this text is refused with 403 AccessDenied, as a policy
    /// that denies the writer those keys would (the local server enforces no policy).
    pub deny_puts_containing: Option<String>,
    /// Object reads (HEAD, GET) in this bucket are answered as a target that lies would: every
    /// `x-amz-checksum-*` value altered, and GetObject bodies with their first byte flipped and
    /// no checksum header (so the client cannot notice on its own).
    pub tamper_reads_in: Option<String>,
}

impl Plan {
    /// Every kind at `rate`.
    pub fn new(seed: u64, rate: f64) -> Plan {
        Plan {
            seed,
            rate,
            kinds: Fault::ALL.to_vec(),
            cut_first_gets: 0,
            bucket_labels: BTreeMap::new(),
            deny_puts_containing: None,
            tamper_reads_in: None,
        }
    }

    /// The same plan with `bucket` known as `label` in request identities.
    pub fn label(mut self, bucket: &str, label: &str) -> Plan {
        self.bucket_labels
            .insert(bucket.to_owned(), label.to_owned());
        self
    }

    /// The fault for the `occurrence`-th attempt (0-based) of the request `identity` of `class`.
    pub fn decide(&self, class: Class, identity: &str, occurrence: u32) -> Option<Decision> {
        if !class.eligible() {
            return None;
        }
        let h = splitmix64(
            self.seed ^ splitmix64(fnv1a(identity) ^ u64::from(occurrence).wrapping_mul(GOLDEN)),
        );
        let cut_at = splitmix64(h ^ 1);
        if class == Class::ObjectRead && occurrence < self.cut_first_gets {
            return Some(Decision::Cut { cut_at });
        }
        if unit(h) >= self.rate {
            return None;
        }
        let kinds: Vec<Fault> = self
            .kinds
            .iter()
            .copied()
            .filter(|k| *k != Fault::CutBody || class.cuttable())
            .collect();
        if kinds.is_empty() {
            return None;
        }
        let kind = kinds[(splitmix64(h ^ 2) % kinds.len() as u64) as usize];
        Some(match kind {
            Fault::SlowDown => Decision::Error {
                fault: kind,
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "SlowDown",
                retry_after: false,
            },
            Fault::SlowDownRetryAfter => Decision::Error {
                fault: kind,
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "SlowDown",
                retry_after: true,
            },
            Fault::InternalError => Decision::Error {
                fault: kind,
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "InternalError",
                retry_after: false,
            },
            Fault::Reset => Decision::Reset,
            Fault::CutBody => Decision::Cut { cut_at },
            Fault::Latency => Decision::Latency(Duration::from_millis(20 + splitmix64(h ^ 3) % 81)),
        })
    }
}

/// One drawn fault, with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Answer with this status and an S3 XML error body.
    Error {
        fault: Fault,
        status: StatusCode,
        code: &'static str,
        retry_after: bool,
    },
    /// Drop the connection without a response.
    Reset,
    /// Forward, then send `cut_at % body length` bytes of a 200 body and close.
    Cut { cut_at: u64 },
    /// Wait, then forward.
    Latency(Duration),
}

impl Decision {
    /// The kind this decision counts as.
    pub fn fault(&self) -> Fault {
        match self {
            Decision::Error { fault, .. } => *fault,
            Decision::Reset => Fault::Reset,
            Decision::Cut { .. } => Fault::CutBody,
            Decision::Latency(_) => Fault::Latency,
        }
    }
}

/// Counters, updated as requests pass; read them at any time.
#[derive(Debug, Default)]
pub struct Stats {
    /// Every request received.
    pub requests: AtomicU64,
    /// Requests that are S3 calls (what s3central's own request counter counts).
    pub s3_requests: AtomicU64,
    /// Requests eligible for a fault.
    pub eligible: AtomicU64,
    /// Faults injected, by [`Fault::ALL`] position.
    faults: [AtomicU64; 6],
    /// Requests the proxy could not forward (answered 502); none expected.
    pub upstream_errors: AtomicU64,
    /// Requests received, by S3 operation ([`operation`]), faulted or not.
    operations: Mutex<BTreeMap<&'static str, u64>>,
    /// Requests received, by S3 operation and the `x-amz-expected-bucket-owner` they carried
    /// ("" when none).
    owners: Mutex<BTreeMap<(&'static str, String), u64>>,
    /// Requests received, by S3 operation, bucket (the first path segment), and the
    /// `x-amz-expected-bucket-owner` and `x-amz-source-expected-bucket-owner` they carried.
    owners_by_bucket: Mutex<BTreeMap<OwnerKey, u64>>,
}

/// (operation, bucket, expected owner, expected source owner), "" for a header not sent.
type OwnerKey = (&'static str, String, String, String);

impl Stats {
    /// Faults of one kind injected so far.
    pub fn faults(&self, kind: Fault) -> u64 {
        self.faults[kind.index()].load(Ordering::Relaxed)
    }

    /// Every fault that made the client try again (all kinds but latency).
    pub fn failed_attempts(&self) -> u64 {
        Fault::ALL
            .iter()
            .filter(|k| **k != Fault::Latency)
            .map(|k| self.faults(*k))
            .sum()
    }

    /// Requests received for one operation (as named by [`operation`]).
    pub fn operation(&self, name: &str) -> u64 {
        let operations = self.operations.lock().expect("operation counters");
        operations.get(name).copied().unwrap_or(0)
    }

    /// Requests of one operation by the expected bucket owner they carried ("" for none).
    pub fn expected_owners(&self, name: &str) -> BTreeMap<String, u64> {
        let owners = self.owners.lock().expect("owner counters");
        owners
            .iter()
            .filter(|((op, _), _)| *op == name)
            .map(|((_, owner), n)| (owner.clone(), *n))
            .collect()
    }

    /// Requests of one operation on one bucket, by the (expected owner, expected source owner)
    /// they carried ("" for a header not sent).
    pub fn owners_on(&self, name: &str, bucket: &str) -> BTreeMap<(String, String), u64> {
        let owners = self.owners_by_bucket.lock().expect("owner counters");
        owners
            .iter()
            .filter(|((op, b, _, _), _)| *op == name && b == bucket)
            .map(|((_, _, owner, source), n)| ((owner.clone(), source.clone()), *n))
            .collect()
    }

    /// The buckets one operation was sent to.
    pub fn buckets_of(&self, name: &str) -> Vec<String> {
        let owners = self.owners_by_bucket.lock().expect("owner counters");
        let mut buckets: Vec<String> = owners
            .keys()
            .filter(|(op, ..)| *op == name)
            .map(|(_, b, ..)| b.clone())
            .collect();
        buckets.dedup();
        buckets
    }

    fn count(&self, kind: Fault) {
        self.faults[kind.index()].fetch_add(1, Ordering::Relaxed);
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "requests={} s3_requests={} eligible={} upstream_errors={} faults:",
            self.requests.load(Ordering::Relaxed),
            self.s3_requests.load(Ordering::Relaxed),
            self.eligible.load(Ordering::Relaxed),
            self.upstream_errors.load(Ordering::Relaxed),
        )?;
        for kind in Fault::ALL {
            write!(f, " {}={}", kind.name(), self.faults(kind))?;
        }
        write!(f, "; operations:")?;
        for (name, n) in self.operations.lock().expect("operation counters").iter() {
            write!(f, " {name}={n}")?;
        }
        Ok(())
    }
}

/// A running proxy; dropping it stops it (the accept loop and every connection).
pub struct Proxy {
    addr: SocketAddr,
    stats: Arc<Stats>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy to `upstream` (`http://127.0.0.1:PORT`) on the current tokio runtime.
    pub async fn start(upstream: &str, plan: Plan) -> Proxy {
        let upstream: Uri = upstream
            .trim_end_matches('/')
            .parse()
            .unwrap_or_else(|e| panic!("upstream {upstream:?}: {e}"));
        let host = upstream.host().unwrap_or_default();
        assert!(
            host == "127.0.0.1" || host == "localhost" || host == "[::1]",
            "the proxy forwards to loopback only, not {upstream}"
        );
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let stats = Arc::new(Stats::default());
        let shared = Arc::new(Shared {
            upstream,
            client: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .build_http(),
            plan,
            stats: stats.clone(),
            seen: Mutex::new(HashMap::new()),
        });
        let task = tokio::spawn(async move {
            // Connections live in this set: aborting this task drops it, which aborts them all.
            let mut connections = JoinSet::new();
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                connections.spawn(async move {
                    let service = service_fn(move |req| {
                        let shared = shared.clone();
                        async move { shared.handle(req).await }
                    });
                    // An error here is a dropped or reset connection, injected or not.
                    let _ = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
                while connections.try_join_next().is_some() {}
            }
        });
        Proxy { addr, stats, task }
    }

    /// `http://127.0.0.1:PORT`, for `--endpoint-url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The live counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The service's "drop the connection" signal: hyper closes a connection whose service errs.
#[derive(Debug)]
struct DropConnection;

impl fmt::Display for DropConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by the fault-injecting proxy")
    }
}

impl std::error::Error for DropConnection {}

/// A response as a lying target gives it: checksums altered (each base64 digit shifted, so the
/// value stays well-formed), and a GetObject body with its first byte flipped and no checksum.
async fn tamper(response: Response<ProxyBody>, head: bool) -> Response<ProxyBody> {
    if response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let names: Vec<HeaderName> = parts
        .headers
        .keys()
        .filter(|n| {
            n.as_str().starts_with("x-amz-checksum-") && n.as_str() != "x-amz-checksum-type"
        })
        .cloned()
        .collect();
    for name in names {
        if !head {
            parts.headers.remove(&name);
            continue;
        }
        let Some(value) = parts.headers.get(&name).and_then(|v| v.to_str().ok()) else {
            continue;
        };
        let shifted: String = value
            .chars()
            .map(|c| match c {
                'A'..='Y' | 'a'..='y' | '0'..='8' => (c as u8 + 1) as char,
                'Z' => 'a',
                'z' => '0',
                '9' => 'A',
                other => other,
            })
            .collect();
        if let Ok(v) = HeaderValue::from_str(&shifted) {
            parts.headers.insert(name, v);
        }
    }
    if head {
        return Response::from_parts(parts, body);
    }
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut flipped = bytes.to_vec();
    if let Some(first) = flipped.first_mut() {
        *first ^= 0x01;
    }
    Response::from_parts(
        parts,
        Full::new(Bytes::from(flipped))
            .map_err(|e| match e {})
            .boxed(),
    )
}

/// State shared by every connection.
struct Shared {
    upstream: Uri,
    client: Client<HttpConnector, Incoming>,
    plan: Plan,
    stats: Arc<Stats>,
    /// Identity -> attempts seen so far.
    seen: Mutex<HashMap<String, u32>>,
}

/// Headers that belong to one connection, never forwarded (`expect` was answered by this hop).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Query parameters whose values are random per run (left out of identities).
const RANDOM_VALUES: [&str; 3] = ["versionId", "uploadId", "version-id-marker"];

impl Shared {
    async fn handle(&self, req: Request<Incoming>) -> Result<Response<ProxyBody>, DropConnection> {
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let class = classify(&req);
        *self
            .stats
            .operations
            .lock()
            .expect("operation counters")
            .entry(operation(&req))
            .or_default() += 1;
        let owner = req
            .headers()
            .get("x-amz-expected-bucket-owner")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        *self
            .stats
            .owners
            .lock()
            .expect("owner counters")
            .entry((operation(&req), owner.clone()))
            .or_default() += 1;
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let bucket = req
            .uri()
            .path()
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        *self
            .stats
            .owners_by_bucket
            .lock()
            .expect("owner counters")
            .entry((
                operation(&req),
                bucket,
                owner,
                header("x-amz-source-expected-bucket-owner"),
            ))
            .or_default() += 1;
        if class != Class::NotS3 {
            self.stats.s3_requests.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(marker) = &self.plan.deny_puts_containing {
            if req.method() == Method::PUT && req.uri().path().contains(marker.as_str()) {
                let _ = req.into_body().collect().await;
                return Ok(xml_error(
                    StatusCode::FORBIDDEN,
                    "AccessDenied",
                    "denied by the test proxy",
                ));
            }
        }
        if let Some(bucket) = &self.plan.tamper_reads_in {
            let object_read = (req.method() == Method::HEAD || req.method() == Method::GET)
                && req
                    .uri()
                    .path()
                    .strip_prefix(&format!("/{bucket}/"))
                    .is_some_and(|key| !key.is_empty())
                && !req.uri().query().unwrap_or_default().contains("tagging");
            if object_read {
                let head = req.method() == Method::HEAD;
                return Ok(tamper(self.forward(req).await, head).await);
            }
        }
        let decision = if class.eligible() {
            self.stats.eligible.fetch_add(1, Ordering::Relaxed);
            let identity = identity(&req, &self.plan.bucket_labels);
            let occurrence = {
                let mut seen = self.seen.lock().expect("identity map");
                let n = seen.entry(identity.clone()).or_insert(0);
                *n += 1;
                *n - 1
            };
            self.plan.decide(class, &identity, occurrence)
        } else {
            None
        };
        match decision {
            None => Ok(self.forward(req).await),
            Some(Decision::Error {
                fault,
                status,
                code,
                retry_after,
            }) => {
                // Read the request body first, as a server would, so the connection stays usable.
                let _ = req.into_body().collect().await;
                self.stats.count(fault);
                let mut response = xml_error(status, code, "injected by the test proxy");
                if retry_after {
                    response
                        .headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                }
                Ok(response)
            }
            Some(Decision::Reset) => {
                self.stats.count(Fault::Reset);
                Err(DropConnection)
            }
            Some(Decision::Latency(delay)) => {
                self.stats.count(Fault::Latency);
                tokio::time::sleep(delay).await;
                Ok(self.forward(req).await)
            }
            Some(Decision::Cut { cut_at }) => {
                let response = self.forward(req).await;
                if response.status() != StatusCode::OK {
                    return Ok(response);
                }
                let (parts, body) = response.into_parts();
                let body = match body.collect().await {
                    Ok(body) => body.to_bytes(),
                    Err(e) => {
                        self.stats.upstream_errors.fetch_add(1, Ordering::Relaxed);
                        return Ok(xml_error(
                            StatusCode::BAD_GATEWAY,
                            "BadGateway",
                            &format!("test proxy: reading the upstream body: {e}"),
                        ));
                    }
                };
                if body.is_empty() {
                    let body = Full::new(body).map_err(|e| match e {}).boxed();
                    return Ok(Response::from_parts(parts, body));
                }
                self.stats.count(Fault::CutBody);
                let keep = (cut_at % body.len() as u64) as usize;
                let prefix = body.slice(..keep);
                // The headers still promise the whole body (Content-Length from upstream); the
                // body yields part of it, waits so that hyper flushes it, then fails, and hyper
                // closes the connection.
                let frames = futures::stream::iter([Ok::<_, BoxError>(Frame::data(prefix))]).chain(
                    futures::stream::once(async {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Err::<Frame<Bytes>, BoxError>("body cut by the test proxy".into())
                    }),
                );
                Ok(Response::from_parts(
                    parts,
                    BodyExt::boxed(StreamBody::new(frames)),
                ))
            }
        }
    }

    /// Sends the request on to the server; a failure to do so is a 502 (and counted).
    async fn forward(&self, req: Request<Incoming>) -> Response<ProxyBody> {
        let (mut parts, body) = req.into_parts();
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        parts.uri = format!("{}{path}", self.upstream)
            .parse()
            .expect("upstream URI");
        strip_hop_by_hop(&mut parts.headers);
        match self.client.request(Request::from_parts(parts, body)).await {
            Ok(response) => {
                let (mut parts, body) = response.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                Response::from_parts(parts, body.map_err(|e| Box::new(e) as BoxError).boxed())
            }
            Err(e) => {
                self.stats.upstream_errors.fetch_add(1, Ordering::Relaxed);
                xml_error(
                    StatusCode::BAD_GATEWAY,
                    "BadGateway",
                    &format!("test proxy: forwarding failed: {e}"),
                )
            }
        }
    }
}

/// An S3-style XML error response.
fn xml_error(status: StatusCode, code: &str, message: &str) -> Response<ProxyBody> {
    let message = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>s3central-test-proxy</RequestId></Error>"
    );
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/xml")
        .header(header::CONTENT_LENGTH, body.len())
        .body(
            Full::new(Bytes::from(body))
                .map_err(|e: Infallible| match e {})
                .boxed(),
        )
        .expect("error response")
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in HOP_BY_HOP {
        headers.remove(HeaderName::from_static(name));
    }
}

/// The query parameters as `(name, raw value)`.
fn query_pairs(uri: &Uri) -> Vec<(&str, &str)> {
    uri.query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect()
}

/// `(bucket, key)` of a path-style request path; the key is empty for bucket-level calls.
fn bucket_and_key(path: &str) -> (&str, &str) {
    let path = path.strip_prefix('/').unwrap_or(path);
    path.split_once('/').unwrap_or((path, ""))
}

/// Which faults a request may get.
pub fn classify<B>(req: &Request<B>) -> Class {
    let (bucket, key) = bucket_and_key(req.uri().path());
    if req.headers().contains_key("x-amz-target") || bucket.is_empty() {
        return Class::NotS3;
    }
    let query = query_pairs(req.uri());
    if key.is_empty() {
        let is_list_versions =
            req.method() == Method::GET && query.iter().any(|(n, _)| *n == "versions");
        return if is_list_versions {
            Class::ListVersions
        } else {
            Class::S3Other
        };
    }
    let plain_read = query.iter().all(|(n, _)| {
        matches!(*n, "versionId" | "partNumber" | "x-id") || n.starts_with("response-")
    });
    match *req.method() {
        Method::GET if plain_read => Class::ObjectRead,
        Method::GET | Method::HEAD | Method::PUT => Class::ObjectOther,
        _ => Class::S3Other,
    }
}

/// The S3 operation a request is (coarsely, from method, path, query and copy header).
pub fn operation<B>(req: &Request<B>) -> &'static str {
    if classify(req) == Class::NotS3 {
        return "NotS3";
    }
    let (_, key) = bucket_and_key(req.uri().path());
    let query = query_pairs(req.uri());
    let has = |name: &str| query.iter().any(|(n, _)| *n == name);
    let copy = req.headers().contains_key("x-amz-copy-source");
    let method = req.method();
    if key.is_empty() {
        return match *method {
            Method::GET if has("versions") => "ListObjectVersions",
            Method::GET if has("versioning") => "GetBucketVersioning",
            Method::GET if has("encryption") => "GetBucketEncryption",
            Method::GET if has("uploads") => "ListMultipartUploads",
            Method::HEAD => "HeadBucket",
            _ => "OtherBucketCall",
        };
    }
    match *method {
        Method::GET if has("tagging") => "GetObjectTagging",
        Method::GET if classify(req) == Class::ObjectRead => "GetObject",
        Method::HEAD => "HeadObject",
        Method::PUT if has("partNumber") && copy => "UploadPartCopy",
        Method::PUT if has("partNumber") => "UploadPart",
        Method::PUT if copy => "CopyObject",
        Method::PUT if query.iter().all(|(n, _)| *n == "x-id") => "PutObject",
        Method::POST if has("uploads") => "CreateMultipartUpload",
        Method::POST if has("uploadId") => "CompleteMultipartUpload",
        Method::DELETE if has("uploadId") => "AbortMultipartUpload",
        _ => "OtherObjectCall",
    }
}

/// A request's identity for the draws: stable across runs and concurrency.
fn identity<B>(req: &Request<B>, labels: &BTreeMap<String, String>) -> String {
    let (bucket, key) = bucket_and_key(req.uri().path());
    let bucket = labels.get(bucket).map(String::as_str).unwrap_or(bucket);
    let mut query: Vec<String> = query_pairs(req.uri())
        .into_iter()
        .map(|(n, v)| {
            if RANDOM_VALUES.contains(&n) {
                n.to_owned()
            } else {
                format!("{n}={v}")
            }
        })
        .collect();
    query.sort();
    let copy = if req.headers().contains_key("x-amz-copy-source") {
        " copy"
    } else {
        ""
    };
    format!("{} {bucket}/{key}?{}{copy}", req.method(), query.join("&"))
}

/// 2^64 / golden ratio, SplitMix64's increment.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function of one state.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(GOLDEN);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a of a string, to seed draws from text.
pub fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    })
}

/// A uniform number in [0, 1) from 53 bits of `h`.
fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// A SplitMix64 generator, for deterministic test data.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        splitmix64(self.0.wrapping_sub(GOLDEN))
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(n);
        out
    }
}
