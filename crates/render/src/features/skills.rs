//! Skills installation (`docs/design/optional-features.md` §1.7). Stub: not rendered yet.

use super::Feature;
use crate::model::Model;

/// Skills installation.
pub struct Skills;

/// The registry entry.
pub static T: Skills = Skills;

impl Feature for Skills {
    fn name(&self) -> &'static str {
        "skills"
    }

    fn enabled(&self, _m: &Model) -> bool {
        false
    }
}
