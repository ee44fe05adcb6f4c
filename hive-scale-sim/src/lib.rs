//! # hive-scale-sim
//!
//! An embedded Hive hub for scale tests: a Kubernetes-compatible API server on loopback
//! ([`apiserver`]) that the real `kubectl`, kube-rs and hive-scale's own tools talk to; a model
//! of Hive's controllers ([`controllers`], [`hive`]) whose costs come from a [`model`] and whose
//! time comes from one [`clock`]; Hive's [`metrics`]; the whole hub with its spoke ([`hub`]); and
//! a capacity [`plan`]ner that runs the same controllers on a virtual clock.

pub mod apiserver;
pub mod clock;
pub mod controllers;
pub mod hive;
pub mod hub;
pub mod metrics;
pub mod model;
pub mod plan;
pub mod pressure;
pub mod target;
pub mod testing;

use std::net::SocketAddr;
use std::path::PathBuf;

/// Errors starting or running the embedded hub. Each text says what failed; the cause is its
/// [`source`](std::error::Error::source), never repeated in the text (print the whole chain
/// with [`hive_scale_core::error::chain`]).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The listening socket could not be opened.
    #[error("cannot listen on {0}")]
    Bind(SocketAddr, #[source] std::io::Error),
    /// Certificates could not be made or loaded.
    #[error("TLS setup failed")]
    Tls(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A file could not be written.
    #[error("{}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// An in-process client could not be built.
    #[error("client setup failed")]
    Client(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The simulation's own thread or runtime could not start.
    #[error("cannot start the simulation")]
    Runtime(#[source] std::io::Error),
    /// The simulation's thread ended before it had started the controllers.
    #[error("the simulation thread ended before it started the controllers")]
    SimulationEnded,
    /// The model is not usable.
    #[error("invalid model")]
    Model(#[source] model::ModelError),
    /// A scenario's `embedded:` section does not make a usable model.
    #[error("scenario {name}")]
    Scenario {
        /// The scenario's name.
        name: String,
        /// What is wrong with its `embedded:` section.
        #[source]
        source: model::ModelError,
    },
    /// Connecting to the hub as a client failed.
    #[error(transparent)]
    Hub(#[from] hive_scale_core::Error),
    /// The metrics endpoint cannot be read as a client.
    #[error(transparent)]
    Metrics(#[from] hive_scale_core::metrics::MetricsError),
    /// The hub's directory is held by another running hub (or cannot be locked).
    #[error(transparent)]
    Lock(#[from] hive_scale_core::files::LockError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::ApiError;
    use crate::controllers::spoke::SpokeError;
    use crate::model::{ModelError, PresetError};
    use crate::plan::PlanError;
    use hive_scale_core::error::chain;
    use hive_scale_core::metrics::{HttpOptions, MetricsError, PrometheusClient};
    use std::error::Error;

    /// Errors of every type a front prints, each with causes of its own.
    async fn representative() -> Vec<Box<dyn Error + Send + Sync>> {
        let io = |text: &str| std::io::Error::other(text.to_string());
        let json = || serde_json::from_str::<u8>("\"a\"").unwrap_err();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let unreachable =
            PrometheusClient::new(&format!("http://127.0.0.1:{port}"), &HttpOptions::default())
                .unwrap()
                .query("up", None)
                .await
                .unwrap_err();
        let api = || ApiError::bad_request("the body is not an object");
        // Kept from the compiler, which rejects a literal it knows is not UTF-8.
        let line_with_bad_byte = std::hint::black_box([b'{', 0xff, b'}']);
        let preset = || PresetError::Invalid {
            origin: "mine.yaml".into(),
            source: Box::new(ModelError::BadCost),
        };
        vec![
            Box::new(SimError::Bind("127.0.0.1:1".parse().unwrap(), io("in use"))),
            Box::new(SimError::Io {
                path: "hub.kubeconfig".into(),
                source: io("read-only file system"),
            }),
            Box::new(SimError::Scenario {
                name: "2020".into(),
                source: ModelError::Preset(preset()),
            }),
            Box::new(SimError::Metrics(unreachable)),
            Box::new(SimError::Hub(hive_scale_core::Error::Io {
                path: "spoke.kubeconfig".into(),
                source: io("permission denied"),
            })),
            Box::new(ModelError::Section(json())),
            Box::new(PresetError::Read {
                path: "/nowhere.yaml".into(),
                source: io("no such file"),
            }),
            Box::new(PlanError::Model(ModelError::Preset(preset()))),
            Box::new(PlanError::Hub {
                what: "Namespace ns1".into(),
                source: Box::new(api()),
            }),
            Box::new(PlanError::Runtime(io("too many open files"))),
            Box::new(SpokeError::Apply {
                kind: "ConfigMap".into(),
                namespace: "default".into(),
                name: "cm".into(),
                source: Box::new(api()),
            }),
            Box::new(crate::plan::calibrate::CalibrateError::Invalid {
                path: "recording.jsonl".into(),
                source: ModelError::NoCapacity,
            }),
            Box::new(crate::apiserver::faults::FaultConfig::parse("delay=0.1:soon").unwrap_err()),
            Box::new(MetricsError::Encode {
                what: "a recording line",
                source: json(),
            }),
            Box::new(MetricsError::Recording {
                path: "run.jsonl".into(),
                reason: "line 2 is not UTF-8".into(),
                source: std::str::from_utf8(&line_with_bad_byte).err(),
            }),
            Box::new(MetricsError::ProfileRead {
                path: "profile.yaml".into(),
                source: io("is a directory"),
            }),
        ]
    }

    #[tokio::test]
    async fn a_chain_prints_each_cause_once() {
        for e in representative().await {
            let line = chain(e.as_ref());
            let mut at: Option<&(dyn Error + 'static)> = Some(e.as_ref());
            while let Some(err) = at {
                let text = err.to_string();
                if let Some(source) = err.source() {
                    assert!(
                        !text.contains(&source.to_string()),
                        "{text:?} repeats its source {source:?}"
                    );
                }
                assert_eq!(line.matches(&text).count(), 1, "{text:?} in {line:?}");
                at = err.source();
            }
            assert!(!line.contains('\n'), "{line}");
        }
    }

    #[test]
    fn a_chain_reads_as_one_line_from_what_failed_to_why() {
        let e = SimError::Scenario {
            name: "2020".into(),
            source: ModelError::Preset(PresetError::Invalid {
                origin: "mine.yaml".into(),
                source: Box::new(ModelError::NoCapacity),
            }),
        };
        assert_eq!(
            chain(&e),
            "scenario 2020: preset mine.yaml: replicas, workers and cores must be at least 1"
        );
    }
}
