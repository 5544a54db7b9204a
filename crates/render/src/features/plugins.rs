//! Plugins installation (`docs/design/optional-features.md` §1.7). Stub: not rendered yet.

use super::Feature;
use crate::model::Model;

/// Plugins installation.
pub struct Plugins;

/// The registry entry.
pub static T: Plugins = Plugins;

impl Feature for Plugins {
    fn name(&self) -> &'static str {
        "plugins"
    }

    fn enabled(&self, _m: &Model) -> bool {
        false
    }
}
