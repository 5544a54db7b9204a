//! Ollama sidecar (`docs/design/optional-features.md` §1.2), when `ollama.enabled`.
//!
//! - `ollama`: the server on 11434 (reached by the main container over loopback, through
//!   `OLLAMA_HOST`), with `nvidia.com/gpu` requests and limits when `gpu > 0`;
//! - `init-ollama` (when `models` is non-empty): starts a temporary server, waits for it (up to
//!   30 s), pulls each model in the order given and always exits 0, so an unreachable registry
//!   does not block the pod (failures are printed). The model names are arguments of a
//!   constant script, never interpolated into it;
//! - the model cache `ollama-models`: the user's PVC `storage.existingClaim`, or an emptyDir
//!   with `storage.sizeLimit` (default 20Gi).
//!
//! No config keys: a warning fires when `openclaw.json` has no `models.providers` entry with
//! `api: "ollama"`, because then nothing uses the sidecar. The image runs as root (it keeps its
//! models under `/root/.ollama`).

use k8s_openapi::api::core::v1::{Container, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use openclaw_api::{OllamaImageSpec, OllamaSpec};
use serde_json::{Map, Value};

use super::hooks::{Feature, PodParts};
use super::sidecar_util::{image_ref, repository, size};
use crate::k8s::container::{ResourceDefault, env_value, port, resources};
use crate::k8s::security::hardened;
use crate::k8s::volume::{mount, pvc_volume, sized_empty_dir};
use crate::model::Model;
use crate::model::non_empty;

/// Sidecar name.
pub const NAME: &str = "ollama";
/// Init container name.
pub const INIT_NAME: &str = "init-ollama";
/// Port of the Ollama API.
pub const PORT: i32 = 11434;
/// Model cache volume.
pub const MODELS_VOLUME: &str = "ollama-models";
/// Where the image keeps its models.
pub const MODELS_DIR: &str = "/root/.ollama";
/// Default size limit of the model cache emptyDir.
pub const DEFAULT_SIZE_LIMIT: &str = "20Gi";
/// The stored short name of the default repository.
pub const LEGACY_REPOSITORIES: &[&str] = &["ollama/ollama"];
/// Extended resource of NVIDIA GPUs.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";

/// The script of `init-ollama`; the model names are its arguments (`"$@"`).
pub const PULL_SCRIPT: &str = r#"ollama serve &
pid=$!
i=0
until ollama list >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -ge 30 ]; then
    echo "init-ollama: the server did not answer within 30 s; no model was pulled" >&2
    kill "$pid" 2>/dev/null
    exit 0
  fi
  sleep 1
done
failed=0
for model in "$@"; do
  echo "init-ollama: pulling $model"
  if ! ollama pull "$model"; then
    echo "init-ollama: FAILED to pull $model" >&2
    failed=$((failed + 1))
  fi
done
[ "$failed" -eq 0 ] || echo "init-ollama: $failed model(s) failed to pull; the pod starts anyway" >&2
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
exit 0"#;

const RESOURCES: ResourceDefault = ResourceDefault {
    requests: ("500m", "1Gi"),
    limits: ("2", "4Gi"),
};

/// Ollama sidecar.
pub struct Ollama;

/// The registry entry.
pub static T: Ollama = Ollama;

fn spec<'a>(m: &'a Model<'_>) -> Option<&'a OllamaSpec> {
    m.spec.ollama.as_ref()
}

fn image(m: &Model) -> String {
    let image = spec(m).and_then(|o| o.image.as_ref());
    let (repo, _) = repository(
        image.and_then(|i| i.repository.as_ref()),
        OllamaImageSpec::DEFAULT_REPOSITORY,
        LEGACY_REPOSITORIES,
    );
    let tag = non_empty(image.and_then(|i| i.tag.as_ref())).unwrap_or(OllamaImageSpec::DEFAULT_TAG);
    image_ref(m, &repo, tag, image.and_then(|i| i.digest.as_ref()))
}

fn container_resources(m: &Model, warnings: &mut Vec<String>) -> ResourceRequirements {
    let o = spec(m);
    let mut r = resources(
        o.and_then(|o| o.resources.as_ref()),
        &RESOURCES,
        "spec.ollama.resources",
        warnings,
    );
    if let Some(gpu) = o.and_then(|o| o.gpu).filter(|g| *g > 0) {
        for list in [&mut r.requests, &mut r.limits].into_iter().flatten() {
            list.insert(GPU_RESOURCE.to_string(), Quantity(gpu.to_string()));
        }
    }
    r
}

/// The models to pull, in the order given (empty entries dropped).
pub fn models(m: &Model) -> Vec<String> {
    spec(m)
        .and_then(|o| o.models.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect()
}

/// The user's PVC for the model cache (`storage.existingClaim`), when Ollama is on and one is
/// set (the controller checks that it exists; it is never created or deleted by the operator).
pub fn existing_claim(m: &Model) -> Option<String> {
    spec(m)
        .filter(|o| o.enabled == Some(true))?
        .storage
        .as_ref()
        .and_then(|s| non_empty(s.existing_claim.as_ref()))
        .map(str::to_string)
}

fn base(m: &Model, name: &str, warnings: &mut Vec<String>) -> Container {
    Container {
        name: name.to_string(),
        image: Some(image(m)),
        image_pull_policy: Some("IfNotPresent".to_string()),
        resources: Some(container_resources(m, warnings)),
        // The image needs root; its models live under /root.
        security_context: Some(hardened(false, false, Some(0))),
        volume_mounts: Some(vec![mount(MODELS_VOLUME, MODELS_DIR, None, false)]),
        ..Default::default()
    }
}

/// Whether `openclaw.json` configures a provider with `api: "ollama"`.
fn has_ollama_provider(config: &Map<String, Value>) -> bool {
    config
        .get("models")
        .and_then(|m| m.get("providers"))
        .and_then(Value::as_object)
        .is_some_and(|p| {
            p.values()
                .any(|v| v.get("api").and_then(Value::as_str) == Some("ollama"))
        })
}

impl Feature for Ollama {
    fn name(&self) -> &'static str {
        NAME
    }

    fn enabled(&self, m: &Model) -> bool {
        spec(m).and_then(|o| o.enabled) == Some(true)
    }

    fn enrich(&self, _m: &Model, config: &mut Map<String, Value>, warnings: &mut Vec<String>) {
        if !has_ollama_provider(config) {
            warnings.push(
                "spec.ollama is enabled but openclaw.json has no models.providers entry with api \"ollama\" (baseUrl http://localhost:11434), so OpenClaw does not use the sidecar".to_string(),
            );
        }
    }

    fn pod(&self, m: &Model, parts: &mut PodParts, warnings: &mut Vec<String>) {
        let models = models(m);
        if !models.is_empty() {
            let mut init = base(m, INIT_NAME, warnings);
            let mut command = vec![
                "sh".to_string(),
                "-c".to_string(),
                PULL_SCRIPT.to_string(),
                INIT_NAME.to_string(),
            ];
            command.extend(models);
            init.command = Some(command);
            parts.init_containers.push(init);
        }
        let mut sidecar = base(m, NAME, warnings);
        sidecar.ports = Some(vec![port(NAME, PORT)]);
        parts.sidecars.push(sidecar);

        let storage = spec(m).and_then(|o| o.storage.as_ref());
        parts.volumes.push(match existing_claim(m) {
            Some(claim) => pvc_volume(MODELS_VOLUME, &claim),
            None => sized_empty_dir(
                MODELS_VOLUME,
                None,
                &size(
                    storage.and_then(|s| s.size_limit.as_ref()),
                    DEFAULT_SIZE_LIMIT,
                    "spec.ollama.storage.sizeLimit",
                    warnings,
                ),
            ),
        });
        parts.main_env.push(env_value(
            "OLLAMA_HOST",
            &format!("http://localhost:{PORT}"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn provider_detection() {
        for (config, want) in [
            (json!({}), false),
            (json!({"models": {"providers": []}}), false),
            (
                json!({"models": {"providers": {"x": {"api": "openai-completions"}}}}),
                false,
            ),
            (
                json!({"models": {"providers": {"local": {"api": "ollama"}}}}),
                true,
            ),
        ] {
            assert_eq!(
                has_ollama_provider(config.as_object().unwrap()),
                want,
                "{config}"
            );
        }
    }

    #[test]
    fn the_script_takes_models_as_arguments() {
        assert!(PULL_SCRIPT.contains(r#"for model in "$@""#));
        assert!(!PULL_SCRIPT.contains("sleep 2"));
    }
}
