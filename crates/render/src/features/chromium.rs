//! Chromium sidecar (`docs/design/optional-features.md` §1.1). Stub: not rendered yet.

use super::Feature;
use crate::model::Model;

/// Chromium sidecar.
pub struct Chromium;

/// The registry entry.
pub static T: Chromium = Chromium;

impl Feature for Chromium {
    fn name(&self) -> &'static str {
        "chromium"
    }

    fn enabled(&self, _m: &Model) -> bool {
        false
    }
}
