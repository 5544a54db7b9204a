//! The `openclaw.rocks/v1alpha1` API: the three custom resources, their CRDs, the admission
//! checks as pure functions and the cluster-defaults merge.
//!
//! The types keep the Go operator's field names, defaults and validation so that existing
//! manifests apply unchanged; see `docs/differences.md` for where we deliberately differ.

pub mod admission;
pub mod clusterdefaults;
pub mod common;
pub mod crd;
pub mod defaults;
pub mod instance;
pub mod k8s_names;
pub mod k8s_schema;
pub mod schedule;
pub mod selfconfig;
pub mod units;
pub mod validation;

pub use clusterdefaults::{OpenClawClusterDefaults, OpenClawClusterDefaultsSpec};
pub use common::*;
pub use instance::*;
pub use selfconfig::*;

/// API group.
pub const GROUP: &str = "openclaw.rocks";
/// API version.
pub const VERSION: &str = "v1alpha1";
