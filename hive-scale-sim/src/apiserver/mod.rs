//! A Kubernetes-compatible API server: enough of kube-apiserver's behaviour that kube-rs,
//! client-go tools and the real `kubectl` work against it.

pub mod auth;
pub mod discovery;
pub mod error;
pub mod faults;
pub mod fields;
pub mod openapi_v2;
pub mod protobuf;
pub mod rbac;
pub mod registry;
pub mod request_metrics;
pub mod routes;
pub mod selector;
pub mod server;
pub mod state;
pub mod store;
pub mod table;
pub mod tls;
pub mod validate;
pub mod watch;

pub use error::ApiError;
pub use server::{ApiServer, ApiServerConfig};
pub use store::{Store, StoreConfig};
