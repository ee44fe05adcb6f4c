//! Adopting many copies of one real cluster into a hub, and removing them safely.
//!
//! * [`plan`]: the objects of clone `i` (pure).
//! * [`engine`]: applies plans for a range with bounded concurrency, resumable.
//! * [`range`]: which clones ([`CloneRange`]: `START..=END`, checked once).
//! * [`teardown`](mod@teardown): deletes clones, guarded by the deprovision interlock.

pub mod engine;
pub mod plan;
pub mod range;
pub mod teardown;

pub use crate::ownership::{Refusal, RefusalReason};
pub use engine::{AdoptSummary, EngineOptions, adopt, check_spoke};
pub use plan::{AdoptPlan, CloneObjects, NAMESPACE_ROLE_BINDING, NamespaceRole, PlatformChoice};
pub use range::{CloneRange, CloneRangeError};
pub use teardown::{Selection, TeardownOptions, TeardownSummary, interlock, teardown};
