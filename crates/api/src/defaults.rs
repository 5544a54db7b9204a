//! Merging `OpenClawClusterDefaults` into an instance spec (in memory only, never written back).
//!
//! Precedence, per field (the instance always wins when it says something of its own):
//! - `registry`: the default applies when the instance sets none (or an empty one).
//! - `image.repository`, `image.pullPolicy`: the default applies when the instance's value is
//!   unset, empty, or equal to the CRD default (`ghcr.io/openclaw/openclaw`, `IfNotPresent`). The
//!   API server writes those CRD defaults into every stored `spec.image`, so "equal to the CRD
//!   default" is how an instance that never chose a value looks once stored. (The Go operator
//!   compared with "empty" only, so cluster image defaults silently never applied to an instance
//!   that had any `spec.image` field at all.)
//! - `image.tag` and `image.digest` form one pin: the default pin applies only when the instance
//!   has no pin of its own, i.e. no digest and a tag that is unset, empty or the default `latest`.
//!   An instance with an explicit version tag keeps it (the Go operator let a default digest
//!   override it).
//! - `image.pullSecrets`: the defaults apply when the instance has none; they replace, not merge.
//! - `env`: defaults first, in their order; an instance variable of the same name replaces the
//!   default in place; the instance's other variables follow in their own order.
//! - `runtimeDeps.pnpm` / `.python`: OR-merged (a default of `true` turns the dependency on).

use k8s_openapi::api::core::v1::EnvVar;

use crate::clusterdefaults::OpenClawClusterDefaultsSpec;
use crate::common::{DEFAULT_IMAGE_REPOSITORY, DEFAULT_IMAGE_TAG, DEFAULT_PULL_POLICY, ImageSpec};
use crate::instance::OpenClawInstanceSpec;

fn unset(value: Option<&str>, crd_default: &str) -> bool {
    value.is_none_or(|v| v.is_empty() || v == crd_default)
}

fn non_empty(value: Option<&String>) -> Option<String> {
    value.filter(|v| !v.is_empty()).cloned()
}

/// The instance spec with the cluster defaults merged in. With no defaults, a plain copy.
pub fn apply_cluster_defaults(
    spec: &OpenClawInstanceSpec,
    defaults: Option<&OpenClawClusterDefaultsSpec>,
) -> OpenClawInstanceSpec {
    let mut out = spec.clone();
    let Some(d) = defaults else { return out };

    if out.registry.as_deref().is_none_or(str::is_empty)
        && let Some(registry) = non_empty(d.registry.as_ref())
    {
        out.registry = Some(registry);
    }

    if let Some(di) = &d.image {
        out.image = Some(merge_image(out.image.take().unwrap_or_default(), di));
    }

    if let Some(denv) = d.env.as_ref().filter(|e| !e.is_empty()) {
        out.env = Some(merge_env(denv, out.env.as_deref().unwrap_or_default()));
    }

    if let Some(drd) = &d.runtime_deps {
        let rd = out.runtime_deps.get_or_insert_with(Default::default);
        if drd.pnpm == Some(true) {
            rd.pnpm = Some(true);
        }
        if drd.python == Some(true) {
            rd.python = Some(true);
        }
    }
    out
}

fn merge_image(mut image: ImageSpec, d: &ImageSpec) -> ImageSpec {
    if unset(image.repository.as_deref(), DEFAULT_IMAGE_REPOSITORY)
        && let Some(repo) = non_empty(d.repository.as_ref())
    {
        image.repository = Some(repo);
    }
    if unset(image.pull_policy.as_deref(), DEFAULT_PULL_POLICY)
        && let Some(policy) = non_empty(d.pull_policy.as_ref())
    {
        image.pull_policy = Some(policy);
    }
    let instance_pinned = image.digest.as_deref().is_some_and(|s| !s.is_empty())
        || !unset(image.tag.as_deref(), DEFAULT_IMAGE_TAG);
    if !instance_pinned {
        if let Some(digest) = non_empty(d.digest.as_ref()) {
            image.digest = Some(digest);
        }
        if let Some(tag) = non_empty(d.tag.as_ref()) {
            image.tag = Some(tag);
        }
    }
    if image.pull_secrets.as_ref().is_none_or(|p| p.is_empty())
        && let Some(secrets) = d.pull_secrets.as_ref().filter(|p| !p.is_empty())
    {
        image.pull_secrets = Some(secrets.clone());
    }
    image
}

fn merge_env(defaults: &[EnvVar], instance: &[EnvVar]) -> Vec<EnvVar> {
    let mut out: Vec<EnvVar> = defaults
        .iter()
        .map(|d| {
            instance
                .iter()
                .find(|e| e.name == d.name)
                .unwrap_or(d)
                .clone()
        })
        .collect();
    out.extend(
        instance
            .iter()
            .filter(|e| !defaults.iter().any(|d| d.name == e.name))
            .cloned(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RuntimeDepsSpec;
    use k8s_openapi::api::core::v1::LocalObjectReference;

    fn env(name: &str, value: &str) -> EnvVar {
        EnvVar {
            name: name.into(),
            value: Some(value.into()),
            ..Default::default()
        }
    }

    fn defaults() -> OpenClawClusterDefaultsSpec {
        OpenClawClusterDefaultsSpec {
            registry: Some("registry.corp.example".into()),
            image: Some(ImageSpec {
                repository: Some("mirror.example/openclaw".into()),
                tag: Some("2026.9.6".into()),
                digest: None,
                pull_policy: Some("Always".into()),
                pull_secrets: Some(vec![LocalObjectReference {
                    name: "corp".into(),
                }]),
            }),
            env: Some(vec![env("A", "default-a"), env("B", "default-b")]),
            runtime_deps: Some(RuntimeDepsSpec {
                pnpm: Some(true),
                python: None,
            }),
        }
    }

    #[test]
    fn no_defaults_is_identity() {
        let spec = OpenClawInstanceSpec {
            registry: Some("x".into()),
            ..Default::default()
        };
        assert_eq!(apply_cluster_defaults(&spec, None), spec);
    }

    #[test]
    fn empty_instance_takes_every_default() {
        let out = apply_cluster_defaults(&OpenClawInstanceSpec::default(), Some(&defaults()));
        assert_eq!(out.registry.as_deref(), Some("registry.corp.example"));
        let image = out.image.unwrap_or_default();
        assert_eq!(image.repository.as_deref(), Some("mirror.example/openclaw"));
        assert_eq!(image.tag.as_deref(), Some("2026.9.6"));
        assert_eq!(image.pull_policy.as_deref(), Some("Always"));
        assert_eq!(image.pull_secrets.map(|p| p.len()), Some(1));
        assert_eq!(out.runtime_deps.and_then(|r| r.pnpm), Some(true));
        let names: Vec<_> = out
            .env
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["A", "B"]);
    }

    #[test]
    fn stored_crd_defaults_do_not_block_cluster_defaults() {
        // What the API server stores for `spec.image: {pullSecrets: [...]}`.
        let spec = OpenClawInstanceSpec {
            image: Some(ImageSpec {
                repository: Some(DEFAULT_IMAGE_REPOSITORY.into()),
                tag: Some(DEFAULT_IMAGE_TAG.into()),
                pull_policy: Some(DEFAULT_PULL_POLICY.into()),
                pull_secrets: Some(vec![LocalObjectReference {
                    name: "mine".into(),
                }]),
                digest: None,
            }),
            ..Default::default()
        };
        let image = apply_cluster_defaults(&spec, Some(&defaults()))
            .image
            .unwrap_or_default();
        assert_eq!(image.repository.as_deref(), Some("mirror.example/openclaw"));
        assert_eq!(image.tag.as_deref(), Some("2026.9.6"));
        assert_eq!(image.pull_secrets.unwrap_or_default()[0].name, "mine");
    }

    #[test]
    fn instance_values_win() {
        let spec = OpenClawInstanceSpec {
            registry: Some("mine.example".into()),
            image: Some(ImageSpec {
                repository: Some("my/openclaw".into()),
                tag: Some("2026.8.1".into()),
                pull_policy: Some("Never".into()),
                ..Default::default()
            }),
            env: Some(vec![env("C", "c"), env("B", "mine-b")]),
            runtime_deps: Some(RuntimeDepsSpec {
                pnpm: None,
                python: Some(true),
            }),
            ..Default::default()
        };
        let mut d = defaults();
        if let Some(i) = d.image.as_mut() {
            i.digest = Some("sha256:abc".into());
        }
        let out = apply_cluster_defaults(&spec, Some(&d));
        assert_eq!(out.registry.as_deref(), Some("mine.example"));
        let image = out.image.unwrap_or_default();
        assert_eq!(image.repository.as_deref(), Some("my/openclaw"));
        assert_eq!(image.tag.as_deref(), Some("2026.8.1"));
        assert_eq!(
            image.digest, None,
            "an explicit tag is a pin; no default digest"
        );
        assert_eq!(image.pull_policy.as_deref(), Some("Never"));
        let env: Vec<_> = out
            .env
            .unwrap_or_default()
            .into_iter()
            .map(|e| (e.name, e.value.unwrap_or_default()))
            .collect();
        assert_eq!(
            env,
            [
                ("A".to_string(), "default-a".to_string()),
                ("B".into(), "mine-b".into()),
                ("C".into(), "c".into())
            ]
        );
        let rd = out.runtime_deps.unwrap_or_default();
        assert_eq!((rd.pnpm, rd.python), (Some(true), Some(true)));
    }

    #[test]
    fn instance_digest_keeps_its_pin() {
        let spec = OpenClawInstanceSpec {
            image: Some(ImageSpec {
                digest: Some("sha256:mine".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let image = apply_cluster_defaults(&spec, Some(&defaults()))
            .image
            .unwrap_or_default();
        assert_eq!(image.digest.as_deref(), Some("sha256:mine"));
        assert_eq!(image.tag, None);
    }
}
