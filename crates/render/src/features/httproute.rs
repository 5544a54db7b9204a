//! Gateway API HTTPRoute (`docs/design/optional-features.md` §1.11). Stub: not rendered yet.

use super::Feature;
use crate::model::Model;

/// Gateway API HTTPRoute.
pub struct HttpRouteFeature;

/// The registry entry.
pub static T: HttpRouteFeature = HttpRouteFeature;

impl Feature for HttpRouteFeature {
    fn name(&self) -> &'static str {
        "httproute"
    }

    fn enabled(&self, _m: &Model) -> bool {
        false
    }
}
