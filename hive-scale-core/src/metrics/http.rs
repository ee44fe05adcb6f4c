//! The HTTP settings shared by the Prometheus client and the scraper: timeout, credentials and
//! the CA to trust. Credentials never reach logs, errors or `Debug` output.

use super::{MetricsError, TransportError};
pub use crate::secret::Secret;
use std::path::Path;
use std::time::Duration;

/// Where Kubernetes mounts a pod's service-account token.
const SERVICE_ACCOUNT_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// How to authenticate.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// `Authorization: Bearer TOKEN` (an OpenShift service-account token, for instance).
    Bearer(Secret),
    /// HTTP basic auth.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Auth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
        }
    }
}

/// Timeout, credentials and trusted CA for one endpoint.
#[derive(Clone)]
pub struct HttpOptions {
    /// Limit for one request, connection included.
    pub timeout: Duration,
    /// Credentials sent with every request.
    pub auth: Auth,
    /// PEM certificates to trust instead of the system's roots (for HTTPS endpoints).
    pub ca_pem: Option<Vec<u8>>,
    /// Accept any server certificate (a test cluster's self-signed route, say).
    pub insecure_skip_verify: bool,
    /// Send credentials over plain HTTP to a host that is not loopback. Off, an endpoint that
    /// would get them that way is refused when the client is made.
    pub allow_insecure_credentials: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            auth: Auth::None,
            ca_pem: None,
            insecure_skip_verify: false,
            allow_insecure_credentials: false,
        }
    }
}

impl std::fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpOptions")
            .field("timeout", &self.timeout)
            .field("auth", &self.auth)
            .field(
                "ca_pem",
                &self.ca_pem.as_ref().map(|p| format!("<{} bytes>", p.len())),
            )
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .field(
                "allow_insecure_credentials",
                &self.allow_insecure_credentials,
            )
            .finish()
    }
}

impl HttpOptions {
    /// Sets the request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends `Authorization: Bearer` with the token.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.auth = Auth::Bearer(Secret::new(token));
        self
    }

    /// Reads a bearer token from a file (surrounding whitespace removed).
    pub fn with_token_file(self, path: &Path) -> Result<Self, MetricsError> {
        let text = std::fs::read_to_string(path).map_err(|e| MetricsError::io(path, e))?;
        let token = text.trim();
        if token.is_empty() {
            return Err(MetricsError::Invalid(format!(
                "token file {} is empty",
                path.display()
            )));
        }
        Ok(self.with_token(token))
    }

    /// Uses the pod's service-account token (as thanos-querier accepts from a Job).
    ///
    /// # Errors
    ///
    /// When the token file cannot be read (not in a pod).
    pub fn with_service_account_token(self) -> Result<Self, MetricsError> {
        self.with_token_file(Path::new(SERVICE_ACCOUNT_TOKEN))
    }

    /// Uses HTTP basic auth.
    pub fn with_basic_auth(mut self, username: impl Into<String>, password: Secret) -> Self {
        self.auth = Auth::Basic {
            username: username.into(),
            password,
        };
        self
    }

    /// Uses the bearer token of a kubeconfig's context (in a pod without a kubeconfig, the
    /// service account's) (the current one when `context` is
    /// `None`), as OpenShift's thanos-querier wants: a static `token` or a `tokenFile`.
    ///
    /// # Errors
    ///
    /// When the kubeconfig cannot be loaded or its user has no static token (exec plugins and
    /// client certificates give none: pass a token file instead).
    pub fn with_kubeconfig_token(
        self,
        kubeconfig: Option<&Path>,
        context: Option<&str>,
    ) -> Result<Self, crate::Error> {
        use crate::hub::kubeconfig::{Credentials, resolve};
        let loaded = match resolve(kubeconfig, context)? {
            Credentials::Kubeconfig(loaded) => *loaded,
            // In a pod the service account's token is what thanos-querier accepts.
            Credentials::InCluster => {
                return Ok(self.with_token_file(Path::new(SERVICE_ACCOUNT_TOKEN))?);
            }
        };
        let ctx = loaded
            .config
            .contexts
            .iter()
            .find(|c| c.name == loaded.context)
            .and_then(|c| c.context.as_ref());
        let user = ctx
            .and_then(|c| c.user.as_deref())
            .and_then(|u| loaded.config.auth_infos.iter().find(|a| a.name == u))
            .and_then(|a| a.auth_info.as_ref());
        let no_token = || {
            crate::Error::kubeconfig(
                loaded.path.as_deref(),
                format!(
                    "the user of context {:?} has no token to send to Prometheus (pass --token-file)",
                    loaded.context
                ),
            )
        };
        let user = user.ok_or_else(no_token)?;
        if let Some(t) = &user.token {
            use secrecy::ExposeSecret as _;
            return Ok(self.with_token(t.expose_secret()));
        }
        match &user.token_file {
            Some(f) => Ok(self.with_token_file(Path::new(f))?),
            None => Err(no_token()),
        }
    }

    /// Accepts any server certificate.
    pub fn with_insecure_skip_verify(mut self, skip: bool) -> Self {
        self.insecure_skip_verify = skip;
        self
    }

    /// Sends credentials over plain HTTP even to a host that is not loopback (anyone on the
    /// path can read them).
    pub fn with_insecure_credentials(mut self, allow: bool) -> Self {
        self.allow_insecure_credentials = allow;
        self
    }

    /// Trusts the certificates of a PEM file (and only those).
    pub fn with_ca_file(mut self, path: &Path) -> Result<Self, MetricsError> {
        let pem = std::fs::read(path).map_err(|e| MetricsError::io(path, e))?;
        certificates(&pem, &format!("CA file {}", path.display()))?;
        self.ca_pem = Some(pem);
        Ok(self)
    }

    /// Builds the HTTP client. Installs ring as rustls' provider when the process has none.
    pub(crate) fn client(&self) -> Result<reqwest::Client, MetricsError> {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Err: another thread installed one just now, which is as good.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let mut b = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout.min(Duration::from_secs(5)))
            .pool_max_idle_per_host(32);
        if let Some(pem) = &self.ca_pem {
            b = b.tls_certs_only(certificates(pem, "the CA")?);
        }
        if self.insecure_skip_verify {
            b = b.tls_danger_accept_invalid_certs(true);
        }
        b.build().map_err(|e| MetricsError::Tls {
            what: "cannot build the HTTP client".into(),
            source: Some(TransportError::new(e)),
        })
    }
}

/// The certificates of a PEM bundle; `what` names it in errors.
fn certificates(pem: &[u8], what: &str) -> Result<Vec<reqwest::Certificate>, MetricsError> {
    let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| MetricsError::Tls {
        what: what.to_string(),
        source: Some(TransportError::new(e)),
    })?;
    if certs.is_empty() {
        return Err(MetricsError::Tls {
            what: format!("{what}: no PEM certificate in it"),
            source: None,
        });
    }
    Ok(certs)
}

/// Adds the credentials to a request.
pub(crate) fn authorize(req: reqwest::RequestBuilder, auth: &Auth) -> reqwest::RequestBuilder {
    match auth {
        Auth::None => req,
        Auth::Bearer(t) => req.bearer_auth(t.expose()),
        Auth::Basic { username, password } => req.basic_auth(username, Some(password.expose())),
    }
}

/// Parses an endpoint URL and decides its credentials: those of `opts` when it has any (the
/// user's explicit choice for the source), else the URL's own user information as basic auth.
/// User information is removed from the URL, which is then safe to show, and applies to this
/// URL only.
///
/// # Errors
///
/// A URL that does not parse or is not http(s), bad percent-encoding in its user information,
/// and [`MetricsError::InsecureCredentials`] when credentials would go over plain HTTP to a
/// host that is not loopback and `opts` does not allow it.
pub(crate) fn endpoint(
    url: &str,
    what: &'static str,
    opts: &HttpOptions,
) -> Result<(reqwest::Url, Auth), MetricsError> {
    let mut u = reqwest::Url::parse(url.trim()).map_err(|source| MetricsError::Url {
        what,
        url: redact_url(url),
        source,
    })?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(MetricsError::Invalid(format!(
            "{what} URL {}: only http and https are supported",
            redact_url(url)
        )));
    }
    let mut auth = opts.auth.clone();
    if !u.username().is_empty() || u.password().is_some() {
        if auth == Auth::None {
            let decode = |s: &str| {
                percent_decode(s).ok_or_else(|| {
                    MetricsError::Invalid(format!("{what} URL: bad percent-encoding"))
                })
            };
            auth = Auth::Basic {
                username: decode(u.username())?,
                password: Secret::new(decode(u.password().unwrap_or(""))?),
            };
        }
        let _ = u.set_username("");
        let _ = u.set_password(None);
    }
    if auth != Auth::None
        && u.scheme() == "http"
        && !is_loopback(&u)
        && !opts.allow_insecure_credentials
    {
        return Err(MetricsError::InsecureCredentials {
            what,
            url: redact_url(u.as_str()),
        });
    }
    Ok((u, auth))
}

/// Whether the URL's host is this machine: `localhost`, 127.0.0.0/8 or ::1. Plain HTTP there
/// does not leave the machine (a `kubectl port-forward`, the embedded hub).
fn is_loopback(u: &reqwest::Url) -> bool {
    let Some(host) = u.host_str() else {
        return false;
    };
    // The URL parser has already normalized IP addresses (`127.1` is `127.0.0.1`) and
    // bracketed IPv6 ones.
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || ip
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Query parameters whose values are secrets (compared without regard to case).
const SECRET_PARAMS: &[&str] = &[
    "token",
    "access_token",
    "bearer",
    "password",
    "apikey",
    "api_key",
    "key",
    "secret",
];

/// A URL fit to store or show: user information (`user:pass@`) cut out, and the values of query
/// parameters that carry secrets (`token`, `access_token`, `bearer`, `password`, `apikey`,
/// `api_key`, `key`, `secret`, in any case) replaced by `REDACTED`. Everything else is kept as
/// written. Works on text that does not parse as a URL too.
pub fn redact_url(url: &str) -> String {
    // User information first, before '?' or '#' mean anything: in text that does not parse, a
    // password may hold them. The authority runs from `scheme://` to the next '/', and its user
    // information to its last '@'.
    let url = match url.find("://") {
        Some(s) => {
            let start = s + 3;
            let end = url[start..].find('/').map_or(url.len(), |i| start + i);
            match url[start..end].rfind('@') {
                Some(at) => format!("{}{}", &url[..start], &url[start + at + 1..]),
                None => url.to_string(),
            }
        }
        None => url.to_string(),
    };
    let (before_fragment, fragment) = url.split_at(url.find('#').unwrap_or(url.len()));
    let Some((base, query)) = before_fragment.split_once('?') else {
        return url;
    };
    let query: Vec<String> = query
        .split('&')
        .map(|part| match part.split_once('=') {
            Some((k, _)) if is_secret_param(k) => format!("{k}=REDACTED"),
            _ => part.to_string(),
        })
        .collect();
    format!("{base}?{}{fragment}", query.join("&"))
}

fn is_secret_param(key: &str) -> bool {
    let key = percent_decode(&key.replace('+', " ")).unwrap_or_else(|| key.to_string());
    SECRET_PARAMS.iter().any(|s| key.eq_ignore_ascii_case(s))
}

/// Turns a transport failure into an error naming the endpoint as `shown` (already without
/// credentials).
pub(crate) fn transport_error(
    what: &'static str,
    shown: &str,
    timeout: Duration,
    e: reqwest::Error,
) -> MetricsError {
    let url = shown.to_string();
    let source = TransportError::new(e);
    if source.is_timeout() {
        return MetricsError::Timeout {
            what,
            url,
            seconds: timeout.as_secs_f64(),
            source,
        };
    }
    MetricsError::Unreachable { what, url, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show_in_debug() {
        let o = HttpOptions::default().with_token("tok-SECRET-123");
        assert!(!format!("{o:?}").contains("SECRET"), "{o:?}");
        let o = HttpOptions::default().with_basic_auth("alice", Secret::new("pw-SECRET"));
        let dbg = format!("{o:?}");
        assert!(!dbg.contains("SECRET") && dbg.contains("alice"), "{dbg}");
        assert_eq!(format!("{:?}", Secret::new("x")), "<redacted>");
    }

    #[test]
    fn credentials_go_on_the_request() {
        let c = HttpOptions::default().client().unwrap();
        let r = authorize(
            c.get("http://127.0.0.1/"),
            &Auth::Bearer(Secret::new("abc")),
        )
        .build()
        .unwrap();
        assert_eq!(r.headers()["authorization"], "Bearer abc");
        let r = authorize(
            c.get("http://127.0.0.1/"),
            &Auth::Basic {
                username: "alice".into(),
                password: Secret::new("pw"),
            },
        )
        .build()
        .unwrap();
        // base64("alice:pw")
        assert_eq!(r.headers()["authorization"], "Basic YWxpY2U6cHc=");
    }

    #[test]
    fn user_information_in_a_url_becomes_basic_auth_and_leaves_the_url() {
        let (u, auth) = endpoint(
            "http://bob:p%40ss@127.0.0.1:9090/",
            "Prometheus",
            &HttpOptions::default(),
        )
        .unwrap();
        assert_eq!(u.as_str(), "http://127.0.0.1:9090/");
        assert_eq!(
            auth,
            Auth::Basic {
                username: "bob".into(),
                password: Secret::new("p@ss")
            }
        );
        let e = endpoint("ftp://bob:pw@host/", "Prometheus", &HttpOptions::default()).unwrap_err();
        assert!(!e.to_string().contains("pw"), "{e}");
        assert!(e.to_string().contains("only http and https"), "{e}");
        let e = endpoint("http://bob:pw@[::1", "Prometheus", &HttpOptions::default()).unwrap_err();
        assert!(e.to_string().starts_with("Prometheus URL"), "{e}");
        assert!(!e.to_string().contains("pw"), "{e}");
        assert!(std::error::Error::source(&e).is_some(), "{e:?}");
    }

    #[test]
    fn the_flags_credentials_win_over_user_information_in_the_url() {
        let opts = HttpOptions::default().with_token("tok");
        let (u, auth) = endpoint("https://bob:pw@h.example/", "Prometheus", &opts).unwrap();
        assert_eq!(u.as_str(), "https://h.example/");
        assert_eq!(auth, Auth::Bearer(Secret::new("tok")));
    }

    #[test]
    fn credentials_over_plain_http_go_only_to_loopback_unless_allowed() {
        let token = HttpOptions::default().with_token("tok-SECRET");
        let none = HttpOptions::default();
        for (url, opts) in [
            ("http://u:pw-SECRET@metrics.example:2112/metrics", &none),
            ("http://prometheus.example:9090", &token),
            ("http://10.0.0.7:9090/", &token),
            ("http://[2001:db8::1]:9090/", &token),
            // Names that only look local are resolved elsewhere.
            ("http://localhost.example.com/", &token),
            ("http://127.0.0.1.nip.io/", &token),
            ("http://[::ffff:127.0.0.1]/", &token),
        ] {
            let e = endpoint(url, "Prometheus", opts).unwrap_err();
            assert!(
                matches!(e, MetricsError::InsecureCredentials { .. }),
                "{url}: {e:?}"
            );
            let text = e.to_string();
            let shown = redact_url(reqwest::Url::parse(url).unwrap().as_str());
            assert!(text.contains(&shown), "{url}: {text}");
            assert!(text.contains("--allow-insecure-credentials"), "{text}");
            assert!(!text.contains("SECRET") && !text.contains('\n'), "{text}");
            let allowed = opts.clone().with_insecure_credentials(true);
            assert!(endpoint(url, "Prometheus", &allowed).is_ok(), "{url}");
        }
        for (url, opts) in [
            ("http://u:pw@127.0.0.1:2112/metrics", &none),
            ("http://127.9.9.9:9090/", &token),
            ("http://localhost:9090/", &token),
            ("http://LocalHost:9090/", &token),
            ("http://[::1]:9090/", &token),
            ("https://prometheus.example:9090/", &token),
            ("https://u:pw@metrics.example/metrics", &none),
            // No credentials: plain HTTP anywhere (the Job scrapes Hive's service this way).
            ("http://hive-clustersync.hive.svc:2112/metrics", &none),
        ] {
            assert!(endpoint(url, "Prometheus", opts).is_ok(), "{url}");
        }
    }

    #[test]
    fn urls_lose_user_information_and_secret_query_values_and_keep_the_rest() {
        for (given, shown) in [
            ("http://u:p@h:1/x", "http://h:1/x"),
            (
                "http://user:hunter2@127.0.0.1:9/metrics?token=abc",
                "http://127.0.0.1:9/metrics?token=REDACTED",
            ),
            (
                "https://h/api?query=up&Access_Token=a&apikey=b&API_KEY=c&key=d&Secret=e&password=f&bearer=g",
                "https://h/api?query=up&Access_Token=REDACTED&apikey=REDACTED&API_KEY=REDACTED&key=REDACTED&Secret=REDACTED&password=REDACTED&bearer=REDACTED",
            ),
            (
                "http://h/m?monkey=1&keys=2&tok=3&token",
                "http://h/m?monkey=1&keys=2&tok=3&token",
            ),
            (
                "http://h/m?%74oken=abc#top",
                "http://h/m?%74oken=REDACTED#top",
            ),
            ("http://h/a@b?x=1", "http://h/a@b?x=1"),
            ("http://u:p@w@h/", "http://h/"),
            ("http://u:p#w@h/x", "http://h/x"),
            ("http://u:p?w@h/x?secret=s", "http://h/x?secret=REDACTED"),
            ("h:1/metrics?key=k", "h:1/metrics?key=REDACTED"),
            ("http://127.0.0.1:9091/", "http://127.0.0.1:9091/"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redact_url(given), shown, "{given}");
        }
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("ca.pem");
        std::fs::write(&f, "not a certificate\n").unwrap();
        let e = HttpOptions::default().with_ca_file(&f).unwrap_err();
        assert!(e.to_string().contains("no PEM certificate"), "{e}");
        let e = HttpOptions::default()
            .with_ca_file(&dir.path().join("missing.pem"))
            .unwrap_err();
        assert!(e.to_string().contains("missing.pem"), "{e}");
        let empty = dir.path().join("token");
        std::fs::write(&empty, "\n").unwrap();
        let e = HttpOptions::default().with_token_file(&empty).unwrap_err();
        assert!(e.to_string().contains("is empty"), "{e}");
    }
}
