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
pub mod scenario;
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
}
