//! Runtime dependencies (pnpm, Python) (`docs/design/optional-features.md` §1.6). Stub: not rendered yet.

use super::Feature;
use crate::model::Model;

/// Runtime dependencies (pnpm, Python).
pub struct RuntimeDeps;

/// The registry entry.
pub static T: RuntimeDeps = RuntimeDeps;

impl Feature for RuntimeDeps {
    fn name(&self) -> &'static str {
        "runtime-deps"
    }

    fn enabled(&self, _m: &Model) -> bool {
        false
    }
}
