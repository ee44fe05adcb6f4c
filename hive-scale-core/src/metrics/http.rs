//! The HTTP settings shared by the Prometheus client and the scraper: timeout, credentials and
//! the CA to trust. Credentials never reach logs, errors or `Debug` output.

use super::MetricsError;
use std::path::Path;
use std::time::Duration;

/// A credential. Its `Debug` prints `<redacted>`; [`Secret::expose`] is the only way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The credential itself, to put on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

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
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            auth: Auth::None,
            ca_pem: None,
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

    /// Uses HTTP basic auth.
    pub fn with_basic_auth(mut self, username: impl Into<String>, password: Secret) -> Self {
        self.auth = Auth::Basic {
            username: username.into(),
            password,
        };
        self
    }

    /// Trusts the certificates of a PEM file (and only those).
    pub fn with_ca_file(mut self, path: &Path) -> Result<Self, MetricsError> {
        let pem = std::fs::read(path).map_err(|e| MetricsError::io(path, e))?;
        certificates(&pem)
            .map_err(|e| MetricsError::Tls(format!("CA file {}: {e}", path.display())))?;
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
            b = b.tls_certs_only(certificates(pem).map_err(MetricsError::Tls)?);
        }
        b.build()
            .map_err(|e| MetricsError::Tls(format!("cannot build the HTTP client: {e}")))
    }
}

fn certificates(pem: &[u8]) -> Result<Vec<reqwest::Certificate>, String> {
    let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no PEM certificate in it".into());
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

/// Parses an endpoint URL; user information in it becomes basic auth (unless `auth` is set) and
/// is removed from the URL, which is then safe to show.
pub(crate) fn endpoint(
    url: &str,
    what: &'static str,
    auth: &Auth,
) -> Result<(reqwest::Url, Auth), MetricsError> {
    let mut u = reqwest::Url::parse(url.trim())
        .map_err(|e| MetricsError::Invalid(format!("{what} URL {:?}: {e}", redact(url))))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(MetricsError::Invalid(format!(
            "{what} URL {}: only http and https are supported",
            redact(url)
        )));
    }
    let mut auth = auth.clone();
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
    Ok((u, auth))
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

/// A URL text with any user information cut out, for messages about unparsable URLs.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}{}", &url[..s + 3], &url[at + 1..]),
        _ => url.to_string(),
    }
}

/// Turns a transport failure into an error naming the endpoint (never its credentials).
pub(crate) fn transport_error(
    what: &'static str,
    url: &reqwest::Url,
    timeout: Duration,
    e: reqwest::Error,
) -> MetricsError {
    let url = url.to_string();
    if e.is_timeout() {
        return MetricsError::Timeout {
            what,
            url,
            seconds: timeout.as_secs_f64(),
        };
    }
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&dyn std::error::Error> = Some(&e);
    while let Some(err) = cur {
        let text = err.to_string();
        let generic = text.starts_with("error sending request")
            || text.starts_with("client error (")
            || text.starts_with("error trying to connect");
        if !generic && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = err.source();
    }
    // Timeouts below reqwest (the connect timeout) come back as an io error "timed out".
    if parts.iter().any(|p| p.contains("timed out")) {
        return MetricsError::Timeout {
            what,
            url,
            seconds: timeout.as_secs_f64(),
        };
    }
    let reason = if parts.is_empty() {
        e.without_url().to_string()
    } else {
        parts.join(": ")
    };
    MetricsError::Unreachable { what, url, reason }
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
            &Auth::None,
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
        let e = endpoint("ftp://bob:pw@host/", "Prometheus", &Auth::None).unwrap_err();
        assert!(!e.to_string().contains("pw"), "{e}");
        assert!(e.to_string().contains("only http and https"), "{e}");
        let e = endpoint("not a url", "Prometheus", &Auth::None).unwrap_err();
        assert!(e.to_string().starts_with("Prometheus URL"), "{e}");
        assert_eq!(redact("http://u:p@h:1/x"), "http://h:1/x");
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
