//! What can go wrong while querying, scraping, recording or reporting. Errors keep their cause
//! as their `source` and never repeat it in their own text (print the whole chain with
//! [`chain`](crate::error::chain)); their text is one line and never carries a credential: URLs
//! are shown through [`redact_url`](super::redact_url) or without their user information.

use super::report::TemplateError;
use std::path::PathBuf;

/// The error of a URL that does not parse.
pub type UrlParseError = <reqwest::Url as std::str::FromStr>::Err;

/// What can go wrong while querying, scraping, recording or reporting.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// A profile is not valid.
    #[error("profile {origin}: {reason}")]
    Profile {
        /// The file, or `(built-in)`.
        origin: String,
        /// What is wrong, on one line.
        reason: String,
    },
    /// A profile file could not be read.
    #[error("profile {}", path.display())]
    ProfileRead {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A profile is not YAML of a profile's shape.
    #[error("profile {origin}")]
    ProfileParse {
        /// The file, or `(built-in)`.
        origin: String,
        /// The YAML error.
        #[source]
        source: YamlError,
    },
    /// The endpoint could not be reached (connection refused, DNS, TLS handshake).
    #[error("cannot reach {what} at {url}")]
    Unreachable {
        /// `Prometheus` or `the metrics endpoint`.
        what: &'static str,
        /// The endpoint, without credentials.
        url: String,
        /// The transport error.
        #[source]
        source: TransportError,
    },
    /// The endpoint did not answer in time.
    #[error("{what} at {url} did not answer within {seconds:.1}s")]
    Timeout {
        /// `Prometheus` or `the metrics endpoint`.
        what: &'static str,
        /// The endpoint, without credentials.
        url: String,
        /// The limit.
        seconds: f64,
        /// The transport error.
        #[source]
        source: TransportError,
    },
    /// The endpoint answered with an HTTP error that is not a Prometheus API error.
    #[error("{what} at {url} answered HTTP {status}{}", if message.is_empty() { String::new() } else { format!(": {message}") })]
    Http {
        /// `Prometheus` or `the metrics endpoint`.
        what: &'static str,
        /// The endpoint, without credentials.
        url: String,
        /// HTTP status code.
        status: u16,
        /// The start of the body.
        message: String,
    },
    /// Prometheus refused or failed the query (`{"status":"error",...}`).
    #[error("Prometheus: {error_type}: {message}")]
    Query {
        /// Prometheus' `errorType` (`bad_data`, `execution`, `timeout`, ...).
        error_type: String,
        /// Prometheus' `error`.
        message: String,
    },
    /// The answer could not be understood.
    #[error("{what} at {url}: {reason}")]
    BadResponse {
        /// `Prometheus` or `the metrics endpoint`.
        what: &'static str,
        /// The endpoint, without credentials.
        url: String,
        /// What is wrong with it.
        reason: String,
        /// The decoding error, when there is one.
        #[source]
        source: Option<serde_json::Error>,
    },
    /// A URL does not parse.
    #[error("{what} URL {url:?}")]
    Url {
        /// `Prometheus` or `metrics`.
        what: &'static str,
        /// The URL as given, without credentials.
        url: String,
        /// Why it does not parse.
        #[source]
        source: UrlParseError,
    },
    /// The TLS settings (the CA file) are not usable.
    #[error("TLS: {what}")]
    Tls {
        /// What is wrong (`CA file F`, `cannot build the HTTP client`).
        what: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<TransportError>,
    },
    /// Reading or writing a local file failed.
    #[error("{}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A recording could not be used.
    #[error("recording {}: {reason}", path.display())]
    Recording {
        /// The JSON Lines file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
        /// A line that is not UTF-8.
        #[source]
        source: Option<std::str::Utf8Error>,
    },
    /// The report template could not be parsed or rendered.
    #[error("report template {name}")]
    Template {
        /// The template file, or `report.md.tera (built-in)`.
        name: String,
        /// What is wrong, and where.
        #[source]
        source: TemplateError,
    },
    /// Something could not be written as JSON.
    #[error("cannot encode {what}")]
    Encode {
        /// What (`a recording line`, `the report summary`).
        what: &'static str,
        /// The error.
        #[source]
        source: serde_json::Error,
    },
    /// A chart could not be drawn.
    #[cfg(feature = "charts")]
    #[error("chart {name}")]
    Chart {
        /// The query the chart is for.
        name: String,
        /// The drawing error.
        #[source]
        source: plotters::drawing::DrawingAreaErrorKind<std::io::Error>,
    },
    /// The recorder's background task ended abnormally.
    #[error("the recorder task failed")]
    Task {
        /// Its panic or cancellation.
        #[source]
        source: tokio::task::JoinError,
    },
    /// Credentials would go over plain HTTP to a host that is not loopback, and the caller did
    /// not allow it ([`HttpOptions::allow_insecure_credentials`](super::HttpOptions)).
    #[error(
        "refusing to send credentials over plain HTTP to the {what} URL {url}, whose host is not loopback: use https, or allow it with --allow-insecure-credentials (in a fleet file, allow_insecure_credentials: true under metrics:)"
    )]
    InsecureCredentials {
        /// `Prometheus` or `metrics`.
        what: &'static str,
        /// The endpoint, without credentials.
        url: String,
    },
    /// An argument is not valid.
    #[error("{0}")]
    Invalid(String),
}

impl MetricsError {
    /// Whether the endpoint itself failed (unreachable, timeout, HTTP error), as opposed to one
    /// query being wrong: a snapshot gives up on these instead of recording them per query.
    pub fn is_transport(&self) -> bool {
        matches!(
            self,
            MetricsError::Unreachable { .. }
                | MetricsError::Timeout { .. }
                | MetricsError::Http { .. }
        )
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        MetricsError::Io {
            path: path.into(),
            source,
        }
    }
}

/// A request that failed below HTTP: connection refused, DNS, TLS handshake, timeout. Its text
/// is the specific causes above the innermost one on one line, without reqwest's generic
/// wrappers ("error sending request") and without the URL (whose query may hold a token);
/// `source()` is the innermost cause (the operating system's or TLS' error), and
/// [`TransportError::reqwest`] gives reqwest's error.
#[derive(Debug)]
pub struct TransportError(reqwest::Error);

impl TransportError {
    pub(crate) fn new(e: reqwest::Error) -> Self {
        Self(e.without_url())
    }

    /// reqwest's error (without its URL).
    pub fn reqwest(&self) -> &reqwest::Error {
        &self.0
    }

    /// Whether the request ran out of time (reqwest's timeout, or the connect timeout, which
    /// comes back as an I/O error "timed out").
    pub fn is_timeout(&self) -> bool {
        let mut cur: Option<&dyn std::error::Error> = Some(&self.0);
        while let Some(err) = cur {
            if err.to_string().contains("timed out") {
                return true;
            }
            cur = err.source();
        }
        self.0.is_timeout()
    }

    /// The texts of reqwest's error and its causes down to, not including, the innermost one
    /// (the source, printed after this error's text): without the generic ones, repeats, or
    /// the innermost cause's text where a wrapper quotes it.
    fn parts(&self) -> Vec<String> {
        let innermost = std::error::Error::source(self).map(|c| c.to_string());
        let mut parts: Vec<String> = Vec::new();
        let mut cur: Option<&dyn std::error::Error> = Some(&self.0);
        while let Some(err) = cur {
            cur = err.source();
            if cur.is_none() && innermost.is_some() {
                break;
            }
            let mut text = err.to_string();
            if let Some(inner) = innermost.as_deref()
                && let Some(head) = text.strip_suffix(inner)
            {
                text = head.trim_end_matches([':', ' ']).to_string();
            }
            let generic = text.starts_with("error sending request")
                || text.starts_with("client error (")
                || text.starts_with("error trying to connect");
            if !generic && !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
                parts.push(text);
            }
        }
        parts
    }
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts = self.parts();
        if !parts.is_empty() {
            f.write_str(&one_line(&parts.join(": ")))
        } else if self.0.is_connect() {
            f.write_str("cannot connect")
        } else if self.is_timeout() {
            f.write_str("timed out")
        } else {
            f.write_str("the request failed")
        }
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        let mut innermost = None;
        let mut cur = std::error::Error::source(&self.0);
        while let Some(c) = cur {
            innermost = Some(c);
            cur = c.source();
        }
        innermost
    }
}

/// A profile that is not YAML of a profile's shape: what is wrong and where, on one line
/// (serde-saphyr's own text adds a multi-line excerpt of the file). [`YamlError::saphyr`] gives
/// serde-saphyr's error.
#[derive(Debug)]
pub struct YamlError(pub(crate) Box<serde_saphyr::Error>);

impl YamlError {
    /// serde-saphyr's error.
    pub fn saphyr(&self) -> &serde_saphyr::Error {
        &self.0
    }
}

impl std::fmt::Display for YamlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.0.without_snippet().to_string();
        f.write_str(one_line(text.strip_prefix("error: ").unwrap_or(&text)).as_str())
    }
}

impl std::error::Error for YamlError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(self.0.as_ref())
    }
}

/// The lines of a message joined into one.
pub(crate) fn one_line(s: &str) -> String {
    s.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{HttpOptions, PrometheusClient};

    #[tokio::test]
    async fn a_transport_error_keeps_its_cause_and_converts_to_the_crate_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let c = PrometheusClient::new(
            &format!("http://u:SECRET@127.0.0.1:{port}/?token=SECRET"),
            &HttpOptions::default(),
        )
        .unwrap();
        let e = c.query("up", None).await.unwrap_err();
        let MetricsError::Unreachable { source, .. } = &e else {
            panic!("{e:?}")
        };
        assert!(source.reqwest().is_connect(), "{source:?}");
        // The innermost cause is the operating system's, and already in the text.
        let os = std::error::Error::source(source)
            .and_then(|c| c.downcast_ref::<std::io::Error>())
            .expect("an io::Error at the bottom");
        assert_eq!(os.kind(), std::io::ErrorKind::ConnectionRefused);
        assert!(!e.to_string().contains(&os.to_string()), "{e}");
        let line = crate::error::chain(&e);
        assert!(line.ends_with(&os.to_string()), "{line}");
        assert_eq!(line.matches(&os.to_string()).count(), 1, "{line}");
        for text in [e.to_string(), format!("{e:?}")] {
            assert!(!text.contains("SECRET"), "{text}");
        }
        let crate_error: crate::Error = e.into();
        assert!(matches!(
            crate_error,
            crate::Error::Metrics(MetricsError::Unreachable { .. })
        ));
        assert!(
            std::error::Error::source(&crate_error).is_some(),
            "the cause is kept"
        );

        let e: crate::Error = MetricsError::Query {
            error_type: "bad_data".into(),
            message: "parse error".into(),
        }
        .into();
        assert_eq!(e.to_string(), "Prometheus: bad_data: parse error");
    }

    #[test]
    fn multi_line_messages_become_one_line() {
        assert_eq!(one_line("a\n  b\n\nc  \n"), "a b c");
    }
}
