//! The library's error type: callers branch on the variant, binaries print it in one line.

use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed cause, for errors whose source can be of several types.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in the library. The text of each variant says what was being
/// done; its cause is its [`source`](std::error::Error::source) (print the whole chain with
/// [`chain`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A kubeconfig could not be read, parsed or used.
    #[error("kubeconfig {}: {reason}", path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "(default)".into()))]
    Kubeconfig {
        /// The file, when one was named.
        path: Option<PathBuf>,
        /// What is wrong, never including credential values.
        reason: String,
        /// The underlying error, when there is one that carries no credential.
        #[source]
        source: Option<BoxError>,
    },
    /// The hub could not be reached at all (connection refused, DNS, TLS).
    #[error("cannot reach the hub at {server}")]
    Unreachable {
        /// The API server URL.
        server: String,
        /// The transport error.
        #[source]
        source: BoxError,
    },
    /// The API server answered with an error status.
    #[error("{verb} {what}: {message} (HTTP {code}{})", if reason.is_empty() { String::new() } else { format!(", {reason}") })]
    Api {
        /// What was being done ("apply", "delete", ...).
        verb: String,
        /// The object or collection.
        what: String,
        /// HTTP status code.
        code: u16,
        /// Kubernetes' machine-readable reason (`AlreadyExists`, `Conflict`, ...).
        reason: String,
        /// The server's message.
        message: String,
    },
    /// A request failed below HTTP (timeout, dropped connection) after all retries.
    #[error("{verb} {what}")]
    Transport {
        /// What was being done.
        verb: String,
        /// The object or collection.
        what: String,
        /// The transport error.
        #[source]
        source: kube::Error,
    },
    /// A template failed to parse or render.
    #[cfg(feature = "templates")]
    #[error("template {name}")]
    Template {
        /// The template's name or file.
        name: String,
        /// Tera's error (its own source chain has the position and detail).
        #[source]
        source: tera::Error,
    },
    /// Input (a rendered fixture, a file, a flag) is not valid.
    #[error("{0}")]
    Invalid(String),
    /// Reading or writing a local file failed.
    #[error("{}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An object was left alone: not the toolkit's, another run's, or refused by the
    /// deprovision interlock.
    #[error("refused {0}")]
    Refused(crate::ownership::Refusal),
    /// An object exists but holds what the toolkit's types cannot represent.
    #[error(transparent)]
    Undecodable(#[from] crate::api::Undecodable),
    /// Waiting for a condition took longer than allowed.
    #[error("timed out after {seconds:.0}s waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// The limit.
        seconds: f64,
    },
    /// Two members of a fleet reach one hub (the same identity, whatever their URLs): both
    /// would adopt the same clones and count and tear down each other's objects.
    #[error("hubs {first:?} and {second:?} are the same hub ({identity}): name each hub once")]
    SameHub {
        /// The member named first.
        first: String,
        /// The member that is the same hub again.
        second: String,
        /// What both have (`kube-system namespace uid ...`).
        identity: String,
    },
    /// Querying, scraping, recording or reporting Hive's metrics failed.
    #[cfg(feature = "metrics")]
    #[error(transparent)]
    Metrics(#[from] crate::metrics::MetricsError),
}

impl Error {
    /// A kubeconfig problem without an underlying error.
    pub fn kubeconfig(path: Option<&std::path::Path>, reason: impl Into<String>) -> Self {
        Error::Kubeconfig {
            path: path.map(Into::into),
            reason: reason.into(),
            source: None,
        }
    }
}

impl Error {
    /// The HTTP status code, when the server answered with one.
    pub fn code(&self) -> Option<u16> {
        match self {
            Error::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether this is a Kubernetes `NotFound`.
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(404)
    }

    /// The refusal, when the toolkit left an object alone.
    pub fn refusal(&self) -> Option<&crate::ownership::Refusal> {
        match self {
            Error::Refused(r) => Some(r),
            _ => None,
        }
    }
}

/// A YAML error of `origin` (a file, a built-in's name) in one line: `ORIGIN:LINE:COLUMN: what is
/// wrong`. serde-saphyr's own rendering adds a snippet of the input over several lines, which
/// squashed into one line is unreadable.
pub fn yaml_line(origin: &str, e: &serde_saphyr::Error) -> String {
    let plain = e.render_with_options(serde_saphyr::render_options! {
        snippets: serde_saphyr::SnippetMode::Off,
    });
    let plain = plain.split_whitespace().collect::<Vec<_>>().join(" ");
    match e.location() {
        Some(at) => {
            let (line, column) = (at.line(), at.column());
            // The plain message ends with where; it goes in front, as compilers put it.
            let what = plain
                .strip_suffix(&format!(" at line {line}, column {column}"))
                .unwrap_or(&plain);
            format!("{origin}:{line}:{column}: {what}")
        }
        None => format!("{origin}: {plain}"),
    }
}

/// An error and its causes on one line, joined by ": ", without repeating a cause the text
/// already contains (line breaks inside a message become spaces).
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let flat = |e: &dyn std::error::Error| {
        e.to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut out = flat(e);
    let mut src = e.source();
    while let Some(s) = src {
        let t = flat(s);
        if !t.is_empty() && !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        src = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_yaml_error_is_one_line_saying_where_and_what() {
        let e = serde_saphyr::from_str::<std::collections::BTreeMap<String, u32>>("a: 1\nb: two\n")
            .unwrap_err();
        assert_eq!(yaml_line("f.yaml", &e), "f.yaml:2:4: invalid u32");
    }
}
