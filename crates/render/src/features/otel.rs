//! Metrics: OTel collector and diagnostics.otel (`docs/design/optional-features.md` §1.5). Stub: not rendered yet.

use super::Feature;
use crate::model::Model;

/// Metrics: OTel collector and diagnostics.otel.
pub struct Otel;

/// The registry entry.
pub static T: Otel = Otel;

impl Feature for Otel {
    fn name(&self) -> &'static str {
        "otel"
    }

    fn enabled(&self, _m: &Model) -> bool {
        false
    }
}
