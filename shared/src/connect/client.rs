//! A typed Kafka Connect REST client: one `reqwest::Client` per cluster (connections are reused), basic or
//! bearer auth, a custom CA, client certificates, a per-request deadline, errors that keep the HTTP status and
//! Connect's (redacted) message, and a hook that lets callers count requests for metrics.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use super::types::*;
use crate::error::{Error, Result};
use crate::redact::{Redactor, cut};

/// Longest Connect message kept in an error: enough for a reason, short enough for a status or a denial.
const MAX_MESSAGE_CHARS: usize = 2000;

/// Credentials for the REST API. `Debug` never prints them.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    Basic { username: String, password: String },
    Bearer { token: String },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Basic { username, .. } => write!(f, "Basic({username}, [redacted])"),
            Auth::Bearer { .. } => write!(f, "Bearer([redacted])"),
        }
    }
}

/// Everything needed to reach one Connect cluster.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSettings {
    pub url: String,
    pub auth: Option<Auth>,
    /// PEM bundle of CAs to trust instead of the platform's roots.
    pub ca_pem: Option<Vec<u8>>,
    /// PEM client certificate chain and private key for mTLS.
    pub client_cert_pem: Option<Vec<u8>>,
    pub client_key_pem: Option<Vec<u8>>,
    pub insecure_skip_verify: bool,
    pub timeout: Duration,
}

impl fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSettings")
            .field("url", &self.url)
            .field("auth", &self.auth)
            .field("ca_pem", &self.ca_pem.as_ref().map(|c| c.len()))
            .field("client_cert", &self.client_cert_pem.is_some())
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl ClientSettings {
    pub fn new(url: impl Into<String>) -> Self {
        ClientSettings {
            url: url.into(),
            auth: None,
            ca_pem: None,
            client_cert_pem: None,
            client_key_pem: None,
            insecure_skip_verify: false,
            timeout: Duration::from_secs(30),
        }
    }
}

/// Told about every request, for metrics: `path` is a template such as `/connectors/{name}/config`, so label
/// cardinality stays bounded; `status` is `None` when no answer came.
pub trait RequestObserver: Send + Sync {
    fn observe(&self, method: &str, path: &str, status: Option<u16>, elapsed: Duration);
}

#[derive(Clone)]
pub struct ConnectClient {
    base: url::Url,
    http: reqwest::Client,
    auth: Option<Auth>,
    timeout: Duration,
    observer: Option<Arc<dyn RequestObserver>>,
}

impl fmt::Debug for ConnectClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectClient")
            .field("base", &self.base.as_str())
            .field("auth", &self.auth)
            .finish()
    }
}

/// Parses and checks a Connect base URL: http or https, a host, no query, no credentials in it.
pub fn parse_base_url(url: &str) -> Result<url::Url> {
    let mut u = url::Url::parse(url.trim())
        .map_err(|e| Error::ClientConfig(format!("url {url:?}: {e}")))?;
    if u.scheme() != "http" && u.scheme() != "https" {
        return Err(Error::ClientConfig(format!(
            "url {url:?}: scheme must be http or https"
        )));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(Error::ClientConfig(format!("url {url:?}: no host")));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(Error::ClientConfig(
            "url: credentials belong in spec.authentication, not in the URL".into(),
        ));
    }
    if u.query().is_some() || u.fragment().is_some() {
        return Err(Error::ClientConfig(format!(
            "url {url:?}: no query or fragment allowed"
        )));
    }
    if !u.path().ends_with('/') {
        let p = format!("{}/", u.path());
        u.set_path(&p);
    }
    Ok(u)
}

impl ConnectClient {
    pub fn new(settings: &ClientSettings) -> Result<Self> {
        let base = parse_base_url(&settings.url)?;
        // reqwest panics without a process-wide provider; binaries install it in main, this covers libraries.
        crate::tls::install_crypto_provider();
        let mut b = reqwest::Client::builder()
            .tls_backend_rustls()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .user_agent(concat!("connect-warden/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &settings.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(ca)
                .map_err(|e| Error::ClientConfig(format!("CA bundle: {e}")))?;
            if certs.is_empty() {
                return Err(Error::ClientConfig(
                    "CA bundle holds no PEM certificate".into(),
                ));
            }
            b = b.tls_certs_only(certs);
        }
        match (&settings.client_cert_pem, &settings.client_key_pem) {
            (Some(cert), Some(key)) => {
                let mut pem = cert.clone();
                pem.push(b'\n');
                pem.extend_from_slice(key);
                let id = reqwest::Identity::from_pem(&pem)
                    .map_err(|e| Error::ClientConfig(format!("client certificate: {e}")))?;
                b = b.identity(id);
            }
            (None, None) => {}
            _ => {
                return Err(Error::ClientConfig(
                    "client certificate and key must be given together".into(),
                ));
            }
        }
        if settings.insecure_skip_verify {
            b = b.tls_danger_accept_invalid_certs(true);
        }
        let http = b
            .build()
            .map_err(|e| Error::ClientConfig(error_chain(&e)))?;
        Ok(ConnectClient {
            base,
            http,
            auth: settings.auth.clone(),
            timeout: settings.timeout,
            observer: None,
        })
    }

    pub fn with_observer(mut self, observer: Arc<dyn RequestObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    // ----- calls -------------------------------------------------------------------------------------------

    /// Version, commit and Kafka cluster id.
    pub async fn server_info(&self) -> Result<ServerInfo> {
        self.get_json(&endpoint::SERVER_INFO, &[]).await
    }

    /// Worker health (Connect 3.9+).
    pub async fn health(&self) -> Result<Health> {
        self.get_json(&endpoint::HEALTH, &[]).await
    }

    /// Installed plugins; with `connectors_only: false` also converters, transformations, …
    pub async fn plugins(&self, connectors_only: bool) -> Result<Vec<PluginInfo>> {
        let q: &[(&str, &str)] = if connectors_only {
            &[]
        } else {
            &[("connectorsOnly", "false")]
        };
        let (_, bytes) = self
            .send(&endpoint::PLUGINS, &[], q, None, &Redactor::default())
            .await?;
        parse(&bytes, &endpoint::PLUGINS)
    }

    /// The config definitions a connector plugin declares (its own settings, without the ones every connector
    /// has). An unknown class is `Error::PluginNotFound`.
    pub async fn plugin_config(&self, class: &str) -> Result<Vec<ConfigDefinition>> {
        self.get_json(&endpoint::PLUGIN_CONFIG, &[class]).await
    }

    /// Validates a flat config including `name`, `connector.class` and `tasks.max`. An unknown class is
    /// `Error::PluginNotFound`.
    pub async fn validate(
        &self,
        class: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<ValidateResponse> {
        let body = serde_json::to_vec(config).map_err(decode_err("encoding config"))?;
        self.send_json(
            &endpoint::VALIDATE,
            &[class],
            body,
            &Redactor::from_config(config),
        )
        .await
        .map(|(_, v)| v)
    }

    /// Creates a connector, optionally in an initial state (Connect 3.7+).
    pub async fn create(
        &self,
        name: &str,
        config: &BTreeMap<String, String>,
        initial_state: Option<InitialState>,
    ) -> Result<ConnectorInfo> {
        let body = serde_json::to_vec(&CreateConnector {
            name,
            config,
            initial_state,
        })
        .map_err(decode_err("encoding config"))?;
        self.send_json(&endpoint::CREATE, &[], body, &Redactor::from_config(config))
            .await
            .map(|(_, v)| v)
    }

    /// Creates (201) or updates (200) a connector's config.
    pub async fn put_config(
        &self,
        name: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<PutConfigResult> {
        let body = serde_json::to_vec(config).map_err(decode_err("encoding config"))?;
        let (status, info) = self
            .send_json(
                &endpoint::PUT_CONFIG,
                &[name],
                body,
                &Redactor::from_config(config),
            )
            .await?;
        Ok(PutConfigResult {
            created: status == 201,
            info,
        })
    }

    /// A connector's config. The result holds secrets: never log it.
    pub async fn get_config(&self, name: &str) -> Result<BTreeMap<String, String>> {
        self.get_json(&endpoint::GET_CONFIG, &[name]).await
    }

    /// A connector's config and tasks.
    pub async fn get_info(&self, name: &str) -> Result<ConnectorInfo> {
        self.get_json(&endpoint::GET_INFO, &[name]).await
    }

    /// A connector's state and its tasks' (404 shortly after creation until the status is reported).
    pub async fn get_status(&self, name: &str) -> Result<ConnectorStatus> {
        self.get_json(&endpoint::GET_STATUS, &[name]).await
    }

    /// The connectors' names.
    pub async fn list(&self) -> Result<Vec<String>> {
        self.get_json(&endpoint::LIST, &[]).await
    }

    /// Every connector with its status and config, in one call.
    pub async fn list_expanded(&self) -> Result<BTreeMap<String, ExpandedConnector>> {
        self.get_json(&endpoint::LIST_EXPANDED, &[]).await
    }

    /// The same answer read straight into the caller's type: a caller that keeps only part of each entry
    /// (a digest of the config, say) never holds every connector's full config at once.
    pub async fn list_expanded_as<T: DeserializeOwned>(&self) -> Result<T> {
        self.get_json(&endpoint::LIST_EXPANDED, &[]).await
    }

    /// Pauses a connector (202).
    pub async fn pause(&self, name: &str) -> Result<()> {
        self.send_empty(&endpoint::PAUSE, &[name]).await
    }

    /// Resumes a connector (202).
    pub async fn resume(&self, name: &str) -> Result<()> {
        self.send_empty(&endpoint::RESUME, &[name]).await
    }

    /// Stops a connector (204, Connect 3.5+).
    pub async fn stop(&self, name: &str) -> Result<()> {
        self.send_empty(&endpoint::STOP, &[name]).await
    }

    /// Restarts a connector. With `include_tasks` or `only_failed` (Connect 3.0+) the answer is 202 with a
    /// status body; the plain restart answers 204.
    pub async fn restart(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<RestartOutcome> {
        let mut q = Vec::new();
        if include_tasks {
            q.push(("includeTasks", "true"));
        }
        if only_failed {
            q.push(("onlyFailed", "true"));
        }
        let (status, bytes) = self
            .send(&endpoint::RESTART, &[name], &q, None, &Redactor::default())
            .await?;
        if status == 202 {
            let st = if bytes.is_empty() {
                None
            } else {
                serde_json::from_slice(&bytes).ok()
            };
            Ok(RestartOutcome::Accepted(st))
        } else {
            Ok(RestartOutcome::Done)
        }
    }

    /// Restarts one task (204).
    pub async fn restart_task(&self, name: &str, task: i32) -> Result<()> {
        self.send_empty(&endpoint::RESTART_TASK, &[name, &task.to_string()])
            .await
    }

    /// Deletes a connector (204). A 404 is `Error::NotFound`; callers deleting treat it as done.
    pub async fn delete(&self, name: &str) -> Result<()> {
        self.send_empty(&endpoint::DELETE, &[name]).await
    }

    /// A connector's offsets (Connect 3.5+).
    pub async fn offsets(&self, name: &str) -> Result<Offsets> {
        self.get_json(&endpoint::OFFSETS, &[name]).await
    }

    /// Alters a connector's offsets (Connect 3.6+, connector must be STOPPED).
    pub async fn patch_offsets(&self, name: &str, offsets: &Offsets) -> Result<Message> {
        let body = serde_json::to_vec(offsets).map_err(decode_err("encoding offsets"))?;
        self.send_json(
            &endpoint::PATCH_OFFSETS,
            &[name],
            body,
            &Redactor::default(),
        )
        .await
        .map(|(_, v)| v)
    }

    /// Resets a connector's offsets (Connect 3.6+, connector must be STOPPED).
    pub async fn reset_offsets(&self, name: &str) -> Result<Message> {
        let (_, bytes) = self
            .send(
                &endpoint::RESET_OFFSETS,
                &[name],
                &[],
                None,
                &Redactor::default(),
            )
            .await?;
        parse(&bytes, &endpoint::RESET_OFFSETS)
    }

    // ----- plumbing ----------------------------------------------------------------------------------------

    async fn get_json<T: DeserializeOwned>(&self, ep: &Endpoint, args: &[&str]) -> Result<T> {
        let (_, bytes) = self.send(ep, args, &[], None, &Redactor::default()).await?;
        parse(&bytes, ep)
    }

    async fn send_json<T: DeserializeOwned>(
        &self,
        ep: &Endpoint,
        args: &[&str],
        body: Vec<u8>,
        redactor: &Redactor,
    ) -> Result<(u16, T)> {
        let (status, bytes) = self.send(ep, args, &[], Some(body), redactor).await?;
        Ok((status, parse(&bytes, ep)?))
    }

    async fn send_empty(&self, ep: &Endpoint, args: &[&str]) -> Result<()> {
        self.send(ep, args, &[], None, &Redactor::default())
            .await
            .map(|_| ())
    }

    fn url(&self, path: &[&str], q: &[(&str, &str)]) -> url::Url {
        let mut u = self.base.clone();
        {
            // The base always has a path (ensured by parse_base_url), so this cannot fail.
            if let Ok(mut segs) = u.path_segments_mut() {
                segs.pop_if_empty();
                for p in path {
                    segs.push(p);
                }
            }
        }
        if !q.is_empty() {
            let mut qp = u.query_pairs_mut();
            for (k, v) in q {
                qp.append_pair(k, v);
            }
        }
        u
    }

    /// Sends one request to `ep` (its `{…}` filled from `args`, in order) and maps any non-2xx answer to an
    /// `Error` whose message is redacted with `redactor`.
    async fn send(
        &self,
        ep: &Endpoint,
        args: &[&str],
        extra_query: &[(&str, &str)],
        body: Option<Vec<u8>>,
        redactor: &Redactor,
    ) -> Result<(u16, bytes::Bytes)> {
        let path = ep.segments(args);
        let mut q = ep.query();
        q.extend_from_slice(extra_query);
        let url = self.url(&path, &q);
        let method = ep.method.clone();
        let context = format!("{method} {}", display_path(&url));
        let mut req = self
            .http
            .request(method.clone(), url)
            .header("Accept", "application/json");
        if let Some(b) = body {
            req = req.header("Content-Type", "application/json").body(b);
        }
        req = match &self.auth {
            Some(Auth::Basic { username, password }) => req.basic_auth(username, Some(password)),
            Some(Auth::Bearer { token }) => req.bearer_auth(token),
            None => req,
        };
        let started = Instant::now();
        let result = async {
            let resp = req.send().await?;
            let status = resp.status();
            let bytes = resp.bytes().await?;
            Ok::<_, reqwest::Error>((status, bytes))
        }
        .await;
        let elapsed = started.elapsed();
        let (status, bytes) = match result {
            Ok(ok) => ok,
            Err(e) => {
                if let Some(o) = &self.observer {
                    o.observe(method.as_str(), ep.path, None, elapsed);
                }
                return Err(self.transport_error(context, &e, redactor));
            }
        };
        if let Some(o) = &self.observer {
            o.observe(method.as_str(), ep.path, Some(status.as_u16()), elapsed);
        }
        if status.is_success() {
            return Ok((status.as_u16(), bytes));
        }
        Err(status_error(context, status, &bytes, &path, redactor))
    }

    fn transport_error(&self, context: String, e: &reqwest::Error, redactor: &Redactor) -> Error {
        if e.is_timeout() {
            return Error::Timeout {
                context,
                secs: self.timeout.as_secs().max(1),
            };
        }
        let detail = redactor.redact(&error_chain(e));
        if e.is_decode() || e.is_body() {
            return Error::Decode { context, detail };
        }
        Error::Unreachable { context, detail }
    }
}

/// One Kafka Connect REST endpoint, named once: its method and path template (with a fixed query, if any).
/// The template labels metrics and parse errors; each `{…}` in it is filled, in order, from a call's
/// arguments.
pub(crate) struct Endpoint {
    method: Method,
    path: &'static str,
}

impl Endpoint {
    const fn new(method: Method, path: &'static str) -> Endpoint {
        Endpoint { method, path }
    }

    /// The path segments with the placeholders filled from `args`, in order.
    fn segments<'a>(&self, args: &[&'a str]) -> Vec<&'a str> {
        let path = self.path.split('?').next().unwrap_or_default();
        let mut args = args.iter();
        path.split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                if s.starts_with('{') {
                    args.next().copied().unwrap_or_default()
                } else {
                    s
                }
            })
            .collect()
    }

    /// The template's fixed query pairs.
    fn query(&self) -> Vec<(&'static str, &'static str)> {
        self.path
            .split_once('?')
            .map(|(_, q)| q.split('&').filter_map(|kv| kv.split_once('=')).collect())
            .unwrap_or_default()
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// Every endpoint the client calls.
pub(crate) mod endpoint {
    use super::Endpoint;
    use reqwest::Method;

    pub const SERVER_INFO: Endpoint = Endpoint::new(Method::GET, "/");
    pub const HEALTH: Endpoint = Endpoint::new(Method::GET, "/health");
    pub const PLUGINS: Endpoint = Endpoint::new(Method::GET, "/connector-plugins");
    pub const VALIDATE: Endpoint =
        Endpoint::new(Method::PUT, "/connector-plugins/{class}/config/validate");
    pub const PLUGIN_CONFIG: Endpoint =
        Endpoint::new(Method::GET, "/connector-plugins/{class}/config");
    pub const CREATE: Endpoint = Endpoint::new(Method::POST, "/connectors");
    pub const LIST: Endpoint = Endpoint::new(Method::GET, "/connectors");
    pub const LIST_EXPANDED: Endpoint =
        Endpoint::new(Method::GET, "/connectors?expand=status&expand=info");
    pub const GET_INFO: Endpoint = Endpoint::new(Method::GET, "/connectors/{name}");
    pub const DELETE: Endpoint = Endpoint::new(Method::DELETE, "/connectors/{name}");
    pub const PUT_CONFIG: Endpoint = Endpoint::new(Method::PUT, "/connectors/{name}/config");
    pub const GET_CONFIG: Endpoint = Endpoint::new(Method::GET, "/connectors/{name}/config");
    pub const GET_STATUS: Endpoint = Endpoint::new(Method::GET, "/connectors/{name}/status");
    pub const PAUSE: Endpoint = Endpoint::new(Method::PUT, "/connectors/{name}/pause");
    pub const RESUME: Endpoint = Endpoint::new(Method::PUT, "/connectors/{name}/resume");
    pub const STOP: Endpoint = Endpoint::new(Method::PUT, "/connectors/{name}/stop");
    pub const RESTART: Endpoint = Endpoint::new(Method::POST, "/connectors/{name}/restart");
    pub const RESTART_TASK: Endpoint =
        Endpoint::new(Method::POST, "/connectors/{name}/tasks/{id}/restart");
    pub const OFFSETS: Endpoint = Endpoint::new(Method::GET, "/connectors/{name}/offsets");
    pub const PATCH_OFFSETS: Endpoint = Endpoint::new(Method::PATCH, "/connectors/{name}/offsets");
    pub const RESET_OFFSETS: Endpoint = Endpoint::new(Method::DELETE, "/connectors/{name}/offsets");
}

/// The path and query of a URL, for messages (the host is the cluster's, named elsewhere).
fn display_path(u: &url::Url) -> String {
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    }
}

/// Maps a non-2xx answer to an error. Connect's errors are `{"error_code","message"}`; basic-auth failures are
/// plain text.
pub(crate) fn status_error(
    context: String,
    status: StatusCode,
    body: &[u8],
    path: &[&str],
    redactor: &Redactor,
) -> Error {
    let raw = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody { message: Some(m) }) => m,
        _ => String::from_utf8_lossy(body).trim().to_string(),
    };
    let raw = if raw.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("no message")
            .to_string()
    } else {
        raw
    };
    let message = cut(&redactor.redact(&raw), 20, MAX_MESSAGE_CHARS);
    let code = status.as_u16();
    if raw.contains("Failed to find any class that implements") {
        let class = if path.first() == Some(&"connector-plugins") {
            path.get(1).map(|s| s.to_string()).unwrap_or_default()
        } else {
            class_from_message(&raw).unwrap_or_default()
        };
        return Error::PluginNotFound {
            context,
            class,
            message,
        };
    }
    match code {
        401 | 403 => Error::Unauthorized {
            context,
            status: code,
            message,
        },
        404 => Error::NotFound { context, message },
        409 => Error::Rebalancing {
            context,
            status: code,
            message,
        },
        500 if raw.contains("rebalance") => Error::Rebalancing {
            context,
            status: code,
            message,
        },
        400..=499 => Error::Rejected {
            context,
            status: code,
            message,
        },
        _ => Error::Server {
            context,
            status: code,
            message,
        },
    }
}

/// "… which name matches Foo, available connectors are: …" → `Foo`.
fn class_from_message(msg: &str) -> Option<String> {
    let after = msg.split("name matches ").nth(1)?;
    Some(after.split([',', ' ']).next()?.to_string())
}

fn parse<T: DeserializeOwned>(bytes: &[u8], ep: &Endpoint) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::Decode {
        context: ep.to_string(),
        detail: e.to_string(),
    })
}

fn decode_err(what: &'static str) -> impl FnOnce(serde_json::Error) -> Error {
    move |e| Error::Decode {
        context: what.to_string(),
        detail: e.to_string(),
    }
}

/// "error sending request: … : Connection refused (os error 111)": the whole source chain, without repeats.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let s = err.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = err.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_fill_their_placeholders_in_order() {
        assert_eq!(
            endpoint::RESTART_TASK.segments(&["orders", "3"]),
            ["connectors", "orders", "tasks", "3", "restart"]
        );
        assert_eq!(
            endpoint::VALIDATE.segments(&["FileStreamSink"]),
            ["connector-plugins", "FileStreamSink", "config", "validate"]
        );
        assert!(endpoint::SERVER_INFO.segments(&[]).is_empty());
        assert_eq!(endpoint::LIST_EXPANDED.segments(&[]), ["connectors"]);
        assert_eq!(
            endpoint::LIST_EXPANDED.query(),
            [("expand", "status"), ("expand", "info")]
        );
        assert_eq!(
            endpoint::PUT_CONFIG.to_string(),
            "PUT /connectors/{name}/config"
        );
    }

    fn err(code: u16, body: &str, path: &[&str]) -> Error {
        status_error(
            "X /p".into(),
            StatusCode::from_u16(code).unwrap(),
            body.as_bytes(),
            path,
            &Redactor::default(),
        )
    }

    #[test]
    fn statuses_map_to_kinds() {
        assert!(
            matches!(err(404, r#"{"error_code":404,"message":"Connector a not found"}"#, &[]), Error::NotFound { message, .. } if message == "Connector a not found")
        );
        assert!(matches!(
            err(
                409,
                r#"{"error_code":409,"message":"Cannot complete request momentarily due to stale configuration"}"#,
                &[]
            ),
            Error::Rebalancing { .. }
        ));
        assert!(matches!(
            err(
                500,
                r#"{"error_code":500,"message":"Request cannot be completed because a rebalance is expected"}"#,
                &[]
            ),
            Error::Rebalancing { status: 500, .. }
        ));
        assert!(
            matches!(err(401, "User cannot access the resource.", &[]), Error::Unauthorized { status: 401, message, .. } if message == "User cannot access the resource.")
        );
        assert!(matches!(
            err(400, r#"{"error_code":400,"message":"bad"}"#, &[]),
            Error::Rejected { status: 400, .. }
        ));
        assert!(
            matches!(err(503, "", &[]), Error::Server { status: 503, message, .. } if message == "Service Unavailable")
        );
    }

    #[test]
    fn unknown_class_is_typed_and_redacted() {
        let mut cfg = BTreeMap::new();
        cfg.insert(
            "ssl.truststore.password".to_string(),
            "hunter2-secret".to_string(),
        );
        let body = r#"{"error_code":500,"message":"org.apache.kafka.connect.errors.ConnectException: Failed to find any class that implements Connector and which name matches com.acme.Nope, available connectors are: ... {ssl.truststore.password=hunter2-secret}"}"#;
        let e = status_error(
            "PUT x".into(),
            StatusCode::INTERNAL_SERVER_ERROR,
            body.as_bytes(),
            &["connector-plugins", "com.acme.Nope", "config", "validate"],
            &Redactor::from_config(&cfg),
        );
        match &e {
            Error::PluginNotFound { class, message, .. } => {
                assert_eq!(class, "com.acme.Nope");
                assert!(!message.contains("hunter2"));
            }
            other => panic!("{other:?}"),
        }
        assert!(!e.to_string().contains("hunter2"));
        assert_eq!(e.reason(), "plugin_not_found");
    }

    #[test]
    fn class_from_create_message() {
        assert_eq!(
            class_from_message("… which name matches com.acme.X, available").as_deref(),
            Some("com.acme.X")
        );
    }

    #[test]
    fn base_url_rules() {
        assert_eq!(
            parse_base_url("http://c:8083").unwrap().as_str(),
            "http://c:8083/"
        );
        assert_eq!(
            parse_base_url("https://c/connect").unwrap().as_str(),
            "https://c/connect/"
        );
        assert!(parse_base_url("ftp://c").is_err());
        assert!(parse_base_url("http://u:p@c").is_err());
        assert!(parse_base_url("not a url").is_err());
        assert!(parse_base_url("http://c?x=1").is_err());
    }

    #[test]
    fn names_are_escaped_in_paths() {
        let c = ConnectClient::new(&ClientSettings::new("http://c:8083/base")).unwrap();
        assert_eq!(
            c.url(&["connectors", "a b?#", "config"], &[]).as_str(),
            "http://c:8083/base/connectors/a%20b%3F%23/config"
        );
        assert_eq!(
            c.url(&["connectors"], &[("expand", "status"), ("expand", "info")])
                .as_str(),
            "http://c:8083/base/connectors?expand=status&expand=info"
        );
    }

    #[test]
    fn debug_hides_credentials() {
        let mut s = ClientSettings::new("http://c");
        s.auth = Some(Auth::Basic {
            username: "u".into(),
            password: "p4ssw0rd".into(),
        });
        assert!(!format!("{s:?}").contains("p4ssw0rd"));
    }

    #[tokio::test]
    async fn refused_connection_is_unreachable() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let c =
            ConnectClient::new(&ClientSettings::new(format!("http://127.0.0.1:{port}"))).unwrap();
        let e = c.list().await.unwrap_err();
        assert!(matches!(e, Error::Unreachable { .. }), "{e:?}");
        assert!(e.to_string().to_lowercase().contains("refused"), "{e}");
        assert_eq!(e.reason(), "unreachable");
    }

    #[tokio::test]
    async fn silent_server_times_out() {
        // Accepts connections and never answers, like a worker stuck in a long rebalance.
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = l.accept().await {
                held.push(s);
            }
        });
        let mut s = ClientSettings::new(format!("http://{addr}"));
        s.timeout = Duration::from_millis(300);
        let e = ConnectClient::new(&s)
            .unwrap()
            .server_info()
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
        assert!(e.is_transient() && e.is_unreachable());
    }
}
