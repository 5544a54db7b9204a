//! Ollama sidecar (`docs/design/optional-features.md` §1.2). Stub: not rendered yet.

use super::Feature;
use crate::model::Model;

/// Ollama sidecar.
pub struct Ollama;

/// The registry entry.
pub static T: Ollama = Ollama;

impl Feature for Ollama {
    fn name(&self) -> &'static str {
        "ollama"
    }

    fn enabled(&self, _m: &Model) -> bool {
        false
    }
}
