//! A client of Prometheus' HTTP API (`/api/v1/query`, `/api/v1/query_range`).

use super::MetricsError;
use super::http::{self, Auth, HttpOptions};
use super::value::{Point, QueryValue, RangeSeries, Series, parse_float};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

const WHAT: &str = "Prometheus";

/// Queries one Prometheus server.
#[derive(Clone)]
pub struct PrometheusClient {
    base: reqwest::Url,
    http: reqwest::Client,
    auth: Auth,
    timeout: Duration,
}

impl std::fmt::Debug for PrometheusClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusClient")
            .field("url", &self.base.as_str())
            .field("auth", &self.auth)
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiResponse {
    status: String,
    #[serde(default)]
    data: Option<ApiData>,
    #[serde(default)]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiData {
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct RawSeries {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    value: Option<(f64, String)>,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

impl PrometheusClient {
    /// A client of the Prometheus at `url` (`http://127.0.0.1:9091`): the credentials of `opts`,
    /// else user information in the URL as basic auth (shown nowhere). A query in the URL is
    /// dropped, since the API's own parameters go there.
    ///
    /// # Errors
    ///
    /// A URL that is not http(s), or credentials that would go over plain HTTP to a host that
    /// is not loopback ([`MetricsError::InsecureCredentials`]) unless `opts` allows it.
    pub fn new(url: &str, opts: &HttpOptions) -> Result<Self, MetricsError> {
        let (mut base, auth) = http::endpoint(url, WHAT, opts)?;
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        base.set_query(None);
        Ok(Self {
            base,
            http: opts.client()?,
            auth,
            timeout: opts.timeout,
        })
    }

    /// The server's URL, without credentials.
    pub fn url(&self) -> &str {
        self.base.as_str()
    }

    /// Evaluates `query` at `time` (Unix seconds; Prometheus' now when `None`).
    pub async fn query(&self, query: &str, time: Option<f64>) -> Result<QueryValue, MetricsError> {
        let mut params = vec![("query", query.to_string())];
        if let Some(t) = time {
            params.push(("time", format!("{t:.3}")));
        }
        self.call("api/v1/query", &params).await
    }

    /// Evaluates `query` from `start` to `end` (Unix seconds) every `step`.
    pub async fn query_range(
        &self,
        query: &str,
        start: f64,
        end: f64,
        step: Duration,
    ) -> Result<QueryValue, MetricsError> {
        if step.is_zero() {
            return Err(MetricsError::Invalid(
                "the range step must be positive".into(),
            ));
        }
        let params = vec![
            ("query", query.to_string()),
            ("start", format!("{start:.3}")),
            ("end", format!("{end:.3}")),
            ("step", format!("{:.3}", step.as_secs_f64())),
        ];
        self.call("api/v1/query_range", &params).await
    }

    async fn call(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<QueryValue, MetricsError> {
        let url = self.base.join(path).map_err(|source| MetricsError::Url {
            what: WHAT,
            url: self.url().to_string(),
            source,
        })?;
        let req = http::authorize(self.http.get(url).query(params), &self.auth);
        let resp = req
            .send()
            .await
            .map_err(|e| http::transport_error(WHAT, self.url(), self.timeout, e))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| http::transport_error(WHAT, self.url(), self.timeout, e))?;
        decode(self.url(), status.as_u16(), &body)
    }
}

/// Prometheus' answer to a query; `url` is the server, without credentials.
fn decode(url: &str, status: u16, body: &[u8]) -> Result<QueryValue, MetricsError> {
    let bad = |reason: String| bad_response(url, reason, None);
    let parsed: Option<ApiResponse> = serde_json::from_slice(body).ok();
    match parsed {
        Some(r) if r.status == "error" => Err(MetricsError::Query {
            error_type: r.error_type.unwrap_or_else(|| "error".into()),
            message: r.error.unwrap_or_default(),
        }),
        Some(r) if r.status == "success" && (200..300).contains(&status) => {
            let data = r.data.ok_or_else(|| bad("a success without data".into()))?;
            convert(url, data)
        }
        _ if !(200..300).contains(&status) => Err(MetricsError::Http {
            what: WHAT,
            url: url.to_string(),
            status,
            message: excerpt(body),
        }),
        _ => Err(bad(format!(
            "not a Prometheus API answer: {}",
            excerpt(body)
        ))),
    }
}

/// The start of a body, on one line, for messages (a Kubernetes Status' `message` if it is one).
fn excerpt(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(m) = v.get("message").and_then(|m| m.as_str())
    {
        return m.to_string();
    }
    let text = String::from_utf8_lossy(body);
    let one: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 200 {
        format!("{}...", one.chars().take(200).collect::<String>())
    } else {
        one
    }
}

fn bad_response(url: &str, reason: String, source: Option<serde_json::Error>) -> MetricsError {
    MetricsError::BadResponse {
        what: WHAT,
        url: url.to_string(),
        reason,
        source,
    }
}

/// The typed value of a successful answer's `data`.
fn convert(url: &str, data: ApiData) -> Result<QueryValue, MetricsError> {
    let num = |s: &str| {
        parse_float(s).ok_or_else(|| bad_response(url, format!("not a number: {s:?}"), None))
    };
    let kind = data.result_type.clone();
    let json = |e: serde_json::Error| {
        bad_response(
            url,
            format!("a {kind} result of an unexpected shape"),
            Some(e),
        )
    };
    match data.result_type.as_str() {
        "scalar" => {
            let (_, v): (f64, String) = serde_json::from_value(data.result).map_err(json)?;
            Ok(QueryValue::Scalar { value: num(&v)? })
        }
        "vector" => {
            let raw: Vec<RawSeries> = serde_json::from_value(data.result).map_err(json)?;
            let mut series = Vec::with_capacity(raw.len());
            for s in raw {
                // Native histograms come as `histogram`, not `value`: skipped.
                if let Some((_, v)) = s.value {
                    series.push(Series {
                        labels: s.metric,
                        value: num(&v)?,
                    });
                }
            }
            Ok(QueryValue::Vector { series })
        }
        "matrix" => {
            let raw: Vec<RawSeries> = serde_json::from_value(data.result).map_err(json)?;
            let mut series = Vec::with_capacity(raw.len());
            for s in raw {
                let points = s
                    .values
                    .iter()
                    .map(|(t, v)| Ok(Point { t: *t, v: num(v)? }))
                    .collect::<Result<Vec<_>, MetricsError>>()?;
                series.push(RangeSeries {
                    labels: s.metric,
                    points,
                });
            }
            Ok(QueryValue::Matrix { series })
        }
        other => Err(bad_response(
            url,
            format!("result type {other:?} is not supported"),
            None,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> &'static str {
        "http://127.0.0.1:9091/"
    }

    #[test]
    fn vectors_scalars_and_matrices_decode() {
        let v = decode(
            base(),
            200,
            br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"name":"a"},"value":[1.5,"3"]},{"metric":{},"value":[1.5,"NaN"]}]}}"#,
        )
        .unwrap();
        let vals = v.values();
        assert_eq!(vals[0].0["name"], "a");
        assert_eq!(vals[0].1, 3.0);
        assert!(vals[1].1.is_nan());
        assert_eq!(v.total(), Some(3.0));

        let s = decode(
            base(),
            200,
            br#"{"status":"success","data":{"resultType":"scalar","result":[1.5,"+Inf"]}}"#,
        )
        .unwrap();
        assert_eq!(
            s,
            QueryValue::Scalar {
                value: f64::INFINITY
            }
        );

        let m = decode(
            base(),
            200,
            br#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"job":"j"},"values":[[1,"1"],[2,"2.5"]]}]}}"#,
        )
        .unwrap();
        let QueryValue::Matrix { series } = &m else {
            panic!("{m:?}")
        };
        assert_eq!(
            series[0].points,
            vec![Point { t: 1.0, v: 1.0 }, Point { t: 2.0, v: 2.5 }]
        );
        assert_eq!(m.values()[0].1, 2.5);
    }

    #[test]
    fn prometheus_errors_keep_its_own_message() {
        let e = decode(
            base(),
            400,
            br#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected end of input"}"#,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Prometheus: bad_data: 1:5: parse error: unexpected end of input"
        );
        assert!(!e.is_transport());
        let e = decode(base(), 503, b"Service Unavailable\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Prometheus at http://127.0.0.1:9091/ answered HTTP 503: Service Unavailable"
        );
        assert!(e.is_transport());
        let e = decode(
            base(),
            401,
            br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","code":401}"#,
        )
        .unwrap_err();
        assert!(e.to_string().ends_with("HTTP 401: Unauthorized"), "{e}");
        let e = decode(base(), 200, b"<html>hello</html>").unwrap_err();
        assert!(e.to_string().contains("not a Prometheus API answer"), "{e}");
        let e = decode(
            base(),
            200,
            br#"{"status":"success","data":{"resultType":"string","result":[1,"x"]}}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("\"string\" is not supported"), "{e}");
        let e = decode(
            base(),
            200,
            br#"{"status":"success","data":{"resultType":"vector","result":{"not":"a list"}}}"#,
        )
        .unwrap_err();
        assert!(
            crate::error::chain(&e).starts_with(
                "Prometheus at http://127.0.0.1:9091/: a vector result of an unexpected shape: "
            ),
            "{e}"
        );
        assert!(std::error::Error::source(&e).is_some(), "{e:?}");
    }

    #[tokio::test]
    async fn a_dead_prometheus_is_one_clear_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let c = PrometheusClient::new(
            &format!("http://u:SECRET@127.0.0.1:{port}"),
            &HttpOptions::default().with_timeout(Duration::from_secs(2)),
        )
        .unwrap();
        assert_eq!(c.url(), format!("http://127.0.0.1:{port}/"));
        assert!(!format!("{c:?}").contains("SECRET"));
        let e = c.query("up", None).await.unwrap_err();
        let text = crate::error::chain(&e);
        assert!(e.is_transport(), "{text}");
        assert!(
            text.starts_with(&format!(
                "cannot reach Prometheus at http://127.0.0.1:{port}/: "
            )),
            "{text}"
        );
        assert!(text.to_lowercase().contains("refused"), "{text}");
        assert!(!text.contains("SECRET") && !text.contains('\n'), "{text}");
        let e = c
            .query_range("up", 0.0, 1.0, Duration::ZERO)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("step"), "{e}");
    }

    /// A one-route server that answers like Prometheus only when the bearer token is right.
    async fn token_server(token: &'static str) -> (String, tokio::task::JoinHandle<()>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let n = s.read(&mut buf).await.unwrap_or(0);
                    let req = String::from_utf8_lossy(&buf[..n]).to_string();
                    let ok = req
                        .lines()
                        .any(|l| l.eq_ignore_ascii_case(&format!("authorization: Bearer {token}")));
                    let (status, body) = if !ok {
                        ("401 Unauthorized", "Unauthorized\n".to_string())
                    } else if req.contains("query=broken") {
                        (
                            "400 Bad Request",
                            r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#
                                .to_string(),
                        )
                    } else {
                        (
                            "200 OK",
                            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"name":"q"},"value":[1,"42"]}]}}"#.to_string(),
                        )
                    };
                    let resp = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = s.write_all(resp.as_bytes()).await;
                });
            }
        });
        (url, task)
    }

    #[tokio::test]
    async fn the_bearer_token_is_sent_and_never_shown() {
        let (url, server) = token_server("tok-SECRET").await;
        let good =
            PrometheusClient::new(&url, &HttpOptions::default().with_token("tok-SECRET")).unwrap();
        assert_eq!(good.query("up", None).await.unwrap().total(), Some(42.0));
        let e = good.query("broken", None).await.unwrap_err();
        assert_eq!(e.to_string(), "Prometheus: bad_data: parse error");
        let bad = PrometheusClient::new(&url, &HttpOptions::default().with_token("nope")).unwrap();
        let e = bad.query("up", None).await.unwrap_err();
        assert!(
            e.to_string().ends_with("answered HTTP 401: Unauthorized"),
            "{e}"
        );
        for text in [format!("{good:?}"), format!("{e:?}"), e.to_string()] {
            assert!(!text.contains("SECRET"), "{text}");
        }
        server.abort();
    }

    #[tokio::test]
    async fn a_token_goes_over_plain_http_only_to_loopback_unless_allowed() {
        let token = HttpOptions::default().with_token("tok-SECRET");
        for url in [
            "http://prometheus.example:9090",
            "http://alice:pw-SECRET@prometheus.example:9090",
        ] {
            let opts = if url.contains('@') {
                HttpOptions::default()
            } else {
                token.clone()
            };
            let e = PrometheusClient::new(url, &opts).unwrap_err();
            assert!(
                matches!(e, MetricsError::InsecureCredentials { what: WHAT, .. }),
                "{e:?}"
            );
            let text = e.to_string();
            assert!(
                text.contains("Prometheus URL http://prometheus.example:9090/")
                    && text.contains("--allow-insecure-credentials")
                    && !text.contains("SECRET"),
                "{text}"
            );
            let c = PrometheusClient::new(url, &opts.with_insecure_credentials(true)).unwrap();
            assert_eq!(c.url(), "http://prometheus.example:9090/");
        }
        assert!(PrometheusClient::new("https://prometheus.example:9090", &token).is_ok());
        assert!(
            PrometheusClient::new("http://prometheus.example:9090", &Default::default()).is_ok()
        );
        // On loopback (a port-forward) the token is sent, and the server sees it.
        let (url, server) = token_server("tok-SECRET").await;
        let c = PrometheusClient::new(&url, &token).unwrap();
        assert_eq!(c.query("up", None).await.unwrap().total(), Some(42.0));
        server.abort();
    }

    #[tokio::test]
    async fn a_silent_prometheus_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        });
        let c = PrometheusClient::new(
            &format!("http://{addr}"),
            &HttpOptions::default().with_timeout(Duration::from_millis(300)),
        )
        .unwrap();
        let e = c.query("up", None).await.unwrap_err();
        assert!(matches!(e, MetricsError::Timeout { .. }), "{e}");
        assert!(e.to_string().contains("did not answer within 0.3s"), "{e}");
        hold.abort();
    }
}
