//! Per-feature conformance toggles, one file per area so feature work does not collide.
//! Each returns `(name, patch)` pairs; the patch is deep-merged into the minimal sample's spec.

pub mod init;
pub mod metrics;
pub mod networking;
pub mod sidecars;

use serde_json::Value;

/// Every feature toggle.
pub fn all() -> Vec<(&'static str, Value)> {
    let mut out = sidecars::toggles();
    out.extend(init::toggles());
    out.extend(networking::toggles());
    out.extend(metrics::toggles());
    out
}
