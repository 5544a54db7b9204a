//! Tailscale sidecar and binaries (`docs/design/optional-features.md` §1.4). Stub: not rendered yet.

use super::Feature;
use crate::model::Model;

/// Tailscale sidecar and binaries.
pub struct Tailscale;

/// The registry entry.
pub static T: Tailscale = Tailscale;

impl Feature for Tailscale {
    fn name(&self) -> &'static str {
        "tailscale"
    }

    fn enabled(&self, _m: &Model) -> bool {
        false
    }
}
