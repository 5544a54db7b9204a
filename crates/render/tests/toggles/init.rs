//! Conformance toggles of this feature area.

use serde_json::Value;

pub fn toggles() -> Vec<(&'static str, Value)> {
    Vec::new()
}
