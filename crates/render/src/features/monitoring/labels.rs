//! The labels of the monitoring objects.

use std::collections::BTreeMap;

use crate::consts::COMPONENT_LABEL;
use crate::k8s::meta;
use crate::model::Model;

/// The [`COMPONENT_LABEL`] value of every monitoring object.
pub const COMPONENT: &str = "monitoring";

/// Labels of a monitoring object: `defaults` (which the user may override), then the user's
/// `labels`, then the standard labels and the component (which win).
pub(super) fn object_labels(
    m: &Model,
    defaults: &[(&str, &str)],
    user: Option<&BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = defaults
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    labels.extend(
        user.into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    labels.extend(meta::labels(&m.name));
    labels.insert(COMPONENT_LABEL.to_string(), COMPONENT.to_string());
    labels
}
