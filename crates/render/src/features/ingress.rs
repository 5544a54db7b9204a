//! Ingress (`docs/design/optional-features.md` §1.9). Stub: not rendered yet.

use super::Feature;
use crate::model::Model;

/// Ingress.
pub struct IngressFeature;

/// The registry entry.
pub static T: IngressFeature = IngressFeature;

impl Feature for IngressFeature {
    fn name(&self) -> &'static str {
        "ingress"
    }

    fn enabled(&self, _m: &Model) -> bool {
        false
    }
}
