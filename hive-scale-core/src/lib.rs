//! # hive-scale-core
//!
//! The library behind hive-scale, a toolkit that scale-tests [OpenShift Hive]: typed Hive
//! resources ([`api`]), fixture builders for SelectorSyncSets and ConfigMaps ([`fixtures`]), a
//! connection to a hub with a shared rate limiter and retry policy ([`hub`]), and the
//! adopt-clone engine with its safe teardown ([`adopt`]).
//!
//! Nothing here depends on the embedded hub (`hive-scale-sim`): every feature works against a
//! real Kubernetes API server reached through a kubeconfig.
//!
//! [OpenShift Hive]: https://github.com/openshift/hive

pub mod adopt;
pub mod api;
pub mod apply;
pub mod error;
pub mod files;
#[cfg(feature = "templates")]
pub mod fixtures;
pub mod guarded;
pub mod hub;
pub mod labels;
#[cfg(feature = "metrics")]
pub mod metrics;
pub mod ownership;
#[cfg(feature = "metrics")]
pub mod scenario;
pub mod secret;
pub mod signals;
pub mod time;

pub use error::{Error, Result};
