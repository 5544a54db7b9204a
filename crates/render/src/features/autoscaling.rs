//! HPA and per-replica volumes (`docs/design/optional-features.md` §1.12). Stub: not rendered yet.

use super::Feature;
use crate::model::Model;

/// HPA and per-replica volumes.
pub struct Autoscaling;

/// The registry entry.
pub static T: Autoscaling = Autoscaling;

impl Feature for Autoscaling {
    fn name(&self) -> &'static str {
        "autoscaling"
    }

    fn enabled(&self, _m: &Model) -> bool {
        false
    }
}
