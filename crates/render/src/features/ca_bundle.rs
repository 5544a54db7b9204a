//! CA bundle (`docs/design/optional-features.md` §1.8): a post-pass over the assembled pod,
//! so it does not depend on the other features. Stub: not rendered yet.

use k8s_openapi::api::core::v1::PodSpec;

use crate::model::Model;

/// Add the CA bundle volume, mounts and env to the pod when `security.caBundle` is set.
pub fn apply(_m: &Model, _pod: &mut PodSpec, _warnings: &mut Vec<String>) {}
