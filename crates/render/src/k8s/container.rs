//! Container parts: ports, env values, resources.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ContainerPort, EnvVar, EnvVarSource, ResourceRequirements, SecretKeySelector,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use openclaw_api::ResourcesSpec;
use openclaw_api::units::quantity_value;

use crate::clean::clean_all;
use crate::quantity;

/// A named TCP container port.
pub fn port(name: &str, number: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.to_string()),
        container_port: number,
        protocol: Some("TCP".to_string()),
        ..Default::default()
    }
}

/// A plain env var.
pub fn env_value(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: Some(value.to_string()),
        value_from: None,
    }
}

/// An env var read from a Secret key.
pub fn secret_env(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_string(),
                key: key.to_string(),
                optional: None,
            }),
            ..Default::default()
        }),
    }
}

/// `ours`, then the user's variables (cleaned): a user variable replaces ours of the same name
/// in place, and a later user duplicate replaces an earlier one (server-side apply refuses
/// duplicate names).
pub fn merge_env(mut ours: Vec<EnvVar>, user: Option<&Vec<EnvVar>>) -> Vec<EnvVar> {
    for e in clean_all(user.map(Vec::as_slice).unwrap_or_default()) {
        if e.name.is_empty() {
            continue;
        }
        match ours.iter_mut().find(|x| x.name == e.name) {
            Some(existing) => *existing = e,
            None => ours.push(e),
        }
    }
    ours
}

/// The default requests and limits of a container.
pub struct ResourceDefault {
    /// Default requests: cpu, memory.
    pub requests: (&'static str, &'static str),
    /// Default limits: cpu, memory.
    pub limits: (&'static str, &'static str),
}

/// Requests and limits, each value from the spec or its default, in canonical form. A
/// requested amount above the default limit (with no limit given) raises that limit to the
/// request, so the container stays valid.
pub fn resources(
    spec: Option<&ResourcesSpec>,
    defaults: &ResourceDefault,
    what: &str,
    warnings: &mut Vec<String>,
) -> ResourceRequirements {
    let pick =
        |value: Option<&String>, default: &str, path: &str, warnings: &mut Vec<String>| match value
            .filter(|v| !v.is_empty())
        {
            None => (default.to_string(), false),
            Some(v) => match quantity::canonical(v) {
                Some(c) => (c, true),
                None => {
                    warnings.push(format!(
                        "{what}.{path} {v:?} is not a quantity; using {default}"
                    ));
                    (default.to_string(), false)
                }
            },
        };
    let req = spec.and_then(|s| s.requests.as_ref());
    let lim = spec.and_then(|s| s.limits.as_ref());
    let mut requests = BTreeMap::new();
    let mut limits = BTreeMap::new();
    for (resource, rv, rd, lv, ld) in [
        (
            "cpu",
            req.and_then(|r| r.cpu.as_ref()),
            defaults.requests.0,
            lim.and_then(|l| l.cpu.as_ref()),
            defaults.limits.0,
        ),
        (
            "memory",
            req.and_then(|r| r.memory.as_ref()),
            defaults.requests.1,
            lim.and_then(|l| l.memory.as_ref()),
            defaults.limits.1,
        ),
    ] {
        let (request, _) = pick(rv, rd, &format!("requests.{resource}"), warnings);
        let (mut limit, explicit_limit) = pick(lv, ld, &format!("limits.{resource}"), warnings);
        if !explicit_limit
            && let (Some(r), Some(l)) = (quantity_value(&request), quantity_value(&limit))
            && r > l
        {
            warnings.push(format!(
                "{what}.requests.{resource} {request} exceeds the default limit {limit}; the limit is raised to the request"
            ));
            limit = request.clone();
        }
        requests.insert(resource.to_string(), Quantity(request));
        limits.insert(resource.to_string(), Quantity(limit));
    }
    ResourceRequirements {
        requests: Some(requests),
        limits: Some(limits),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_user_entries_replace_in_place() {
        let user = vec![
            env_value("B", "user"),
            env_value("HOME", "/home/x"),
            env_value("B", "later"),
        ];
        let env = merge_env(vec![env_value("HOME", "/tmp")], Some(&user));
        let names: Vec<_> = env
            .iter()
            .map(|e| (e.name.as_str(), e.value.as_deref()))
            .collect();
        assert_eq!(names, [("HOME", Some("/home/x")), ("B", Some("later"))]);
    }
}
