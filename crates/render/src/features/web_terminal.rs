//! Web terminal sidecar (`docs/design/optional-features.md` §1.3). Stub: not rendered yet.

use super::Feature;
use crate::model::Model;

/// Web terminal sidecar.
pub struct WebTerminal;

/// The registry entry.
pub static T: WebTerminal = WebTerminal;

impl Feature for WebTerminal {
    fn name(&self) -> &'static str {
        "web-terminal"
    }

    fn enabled(&self, _m: &Model) -> bool {
        false
    }
}
