//! Step **validate** (inputs half) of a reconcile: read what an instance references (Secrets, ConfigMaps, the gateway token) and
//! generate what must be random (a new gateway token), so rendering can stay pure.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret};
use kube::api::Api;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use openclaw_api::validation::check_workspace_filename;
use openclaw_api::{OpenClawInstance, OpenClawInstanceSpec};
use openclaw_render::Observed;
use openclaw_render::hash::ShortHasher;

pub use openclaw_render::consts::TOKEN_KEY;

/// A problem with one referenced input, reported as a condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Condition reason.
    pub reason: &'static str,
    /// Human-readable message naming the missing object.
    pub message: String,
}

/// Everything observe found.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// What rendering needs.
    pub observed: Observed,
    /// Referenced Secrets that do not exist (or lack the key we need).
    pub missing_secrets: Vec<String>,
    /// The external config ConfigMap is missing or lacks its key.
    pub config_problem: Option<Problem>,
    /// Workspace ConfigMaps that are missing or hold invalid file names.
    pub workspace_problems: Vec<Problem>,
    /// Whether any workspace `configMapRef` is used (then `WorkspaceReady` is reported).
    pub workspace_refs: usize,
    /// A new gateway token was generated in this pass.
    pub token_generated: bool,
    /// `spec.storage.persistence.existingClaim` names a PVC that does not exist.
    pub missing_claim: Option<String>,
}

/// Name of the Secret that holds the gateway token for this instance (render's rule).
pub fn gateway_secret_name(instance: &OpenClawInstance) -> String {
    openclaw_render::model::gateway_secret_name(&instance.name_any(), &instance.spec)
}

/// The Secret names an instance references, as hashed into `openclaw.rocks/secret-hash`.
pub fn referenced_secrets(instance: &OpenClawInstance, spec: &OpenClawInstanceSpec) -> Vec<String> {
    let mut names: Vec<String> = spec
        .env_from
        .iter()
        .flatten()
        .filter_map(|e| e.secret_ref.as_ref().map(|s| s.name.clone()))
        .filter(|n| !n.is_empty())
        .collect();
    names.push(gateway_secret_name(instance));
    if let Some(ts) = spec.tailscale.as_ref().filter(|t| t.enabled == Some(true))
        && let Some(r) = ts
            .auth_key_secret_ref
            .as_ref()
            .filter(|r| !r.name.is_empty())
    {
        names.push(r.name.clone());
    }
    // The CA bundle Secret: mounted by subPath, so a new bundle needs a restart: hashed.
    if let Some(name) = spec
        .security
        .as_ref()
        .and_then(|s| s.ca_bundle.as_ref())
        .and_then(|c| c.secret_name.clone())
        .filter(|n| !n.is_empty())
    {
        names.push(name);
    }
    // The web terminal's credential: rotating it rolls the pod, a missing one is reported.
    if let Some(r) = spec
        .web_terminal
        .as_ref()
        .filter(|w| w.enabled == Some(true))
        .and_then(|w| w.credential.as_ref())
        .filter(|c| !c.secret_ref.name.is_empty())
    {
        names.push(r.secret_ref.name.clone());
    }
    names.sort();
    names.dedup();
    names
}

/// The ConfigMap names an instance references (for the watch that maps changes to instances).
pub fn referenced_config_maps(spec: &OpenClawInstanceSpec) -> Vec<String> {
    let mut names = Vec::new();
    if let Some(r) = spec.config.as_ref().and_then(|c| c.config_map_ref.as_ref()) {
        names.push(r.name.clone());
    }
    if let Some(ws) = &spec.workspace {
        names.extend(ws.config_map_ref.iter().map(|r| r.name.clone()));
        names.extend(
            ws.additional_workspaces
                .iter()
                .flatten()
                .filter_map(|a| a.config_map_ref.as_ref().map(|r| r.name.clone())),
        );
    }
    names
}

/// The user's PVCs the pod mounts (`existingClaim` of the data volume, of Chromium's profile
/// and of Ollama's model cache), when their feature is on.
pub fn user_claims(spec: &OpenClawInstanceSpec) -> Vec<String> {
    let mut claims = Vec::new();
    // Autoscaling uses per-replica volumes and ignores the data volume's `existingClaim`.
    let autoscaling = spec
        .availability
        .as_ref()
        .and_then(|a| a.auto_scaling.as_ref())
        .is_some_and(|a| a.enabled == Some(true));
    claims.extend(
        spec.storage
            .as_ref()
            .and_then(|s| s.persistence.as_ref())
            .filter(|p| p.enabled != Some(false) && !autoscaling)
            .and_then(|p| p.existing_claim.clone()),
    );
    claims.extend(
        spec.chromium
            .as_ref()
            .filter(|c| c.enabled == Some(true))
            .and_then(|c| c.persistence.as_ref())
            .filter(|p| p.enabled == Some(true))
            .and_then(|p| p.existing_claim.clone()),
    );
    claims.extend(
        spec.ollama
            .as_ref()
            .filter(|o| o.enabled == Some(true))
            .and_then(|o| o.storage.as_ref())
            .and_then(|s| s.existing_claim.clone()),
    );
    claims.retain(|c| !c.is_empty());
    claims
}

fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn secret_strings(secret: &Secret) -> BTreeMap<String, Vec<u8>> {
    let mut out: BTreeMap<String, Vec<u8>> = secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    for (k, v) in secret.string_data.iter().flatten() {
        out.entry(k.clone())
            .or_insert_with(|| v.clone().into_bytes());
    }
    out
}

/// Read the instance's inputs. `spec` is the spec with cluster defaults merged. `own_secrets`
/// is the cache of the Secrets the operator manages: the operator's own gateway-token Secret is
/// read from it (no GET) when it is there with a token; on a cache miss it is read from the API
/// server, so a miss never leads to a new token while the Secret exists.
pub async fn observe(
    client: &Client,
    own_secrets: &Store<Secret>,
    instance: &OpenClawInstance,
    spec: &OpenClawInstanceSpec,
) -> Result<Inputs, kube::Error> {
    let ns = instance.namespace().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let mut inputs = Inputs::default();

    // Gateway token and the secret hash.
    let gateway_secret = gateway_secret_name(instance);
    let user_gateway_secret = spec
        .gateway
        .as_ref()
        .and_then(|g| g.existing_secret.as_deref())
        .is_some_and(|s| !s.is_empty());
    let mut hasher = ShortHasher::default();
    for name in referenced_secrets(instance, spec) {
        let own = name == gateway_secret && !user_gateway_secret;
        let cached = own
            .then(|| own_secrets.get(&ObjectRef::new(&name).within(&ns)))
            .flatten()
            .filter(|s| {
                s.data
                    .as_ref()
                    .and_then(|d| d.get(TOKEN_KEY))
                    .is_some_and(|t| !t.0.is_empty())
            });
        let found = match cached {
            Some(secret) => Some((*secret).clone()),
            None => secrets.get_opt(&name).await?,
        };
        let mut data = found.as_ref().map(secret_strings);
        if name == gateway_secret && !user_gateway_secret {
            // Our own token Secret: reuse its token; generate one when it does not exist yet
            // and hash it as the Secret will hold it, so creating it does not roll the pod.
            let token = data
                .as_ref()
                .and_then(|d| d.get(TOKEN_KEY))
                .and_then(|t| String::from_utf8(t.clone()).ok())
                .filter(|t| !t.is_empty());
            let token = match token {
                Some(t) => t,
                None => {
                    inputs.token_generated = true;
                    new_token()
                }
            };
            data.get_or_insert_with(BTreeMap::new)
                .insert(TOKEN_KEY.to_string(), token.clone().into_bytes());
            inputs.observed.gateway_token = Some(token);
        } else if name == gateway_secret
            && data.as_ref().is_some_and(|d| !d.contains_key(TOKEN_KEY))
        {
            inputs
                .missing_secrets
                .push(format!("{name} (no key \"{TOKEN_KEY}\")"));
        }
        match data {
            Some(d) => {
                for (k, v) in d {
                    hasher.update(k.as_bytes());
                    hasher.update(b"=");
                    hasher.update(&v);
                    hasher.update(b"\n");
                }
            }
            None => {
                hasher.update(format!("{name}=NOT_FOUND\n").as_bytes());
                inputs.missing_secrets.push(name);
            }
        }
    }
    inputs.observed.secret_hash = hasher.finish();

    // The generated Ingress basic-auth password: read back from our Secret (cache, then API),
    // generated once when it does not exist.
    if let Some(auth) = spec
        .networking
        .as_ref()
        .and_then(|n| n.ingress.as_ref())
        .filter(|i| i.enabled == Some(true))
        .and_then(|i| i.security.as_ref())
        .and_then(|s| s.basic_auth.as_ref())
        .filter(|b| b.enabled == Some(true))
        && auth.existing_secret.as_deref().is_none_or(str::is_empty)
    {
        let name = format!("{}-basic-auth", instance.name_any());
        let password_of = |s: &Secret| {
            s.data
                .as_ref()
                .and_then(|d| d.get("password"))
                .and_then(|p| String::from_utf8(p.0.clone()).ok())
                .filter(|p| !p.is_empty())
        };
        let cached = own_secrets
            .get(&ObjectRef::new(&name).within(&ns))
            .and_then(|s| password_of(&s));
        let password = match cached {
            Some(p) => Some(p),
            None => secrets.get_opt(&name).await?.as_ref().and_then(password_of),
        };
        inputs.observed.basic_auth_password = Some(password.unwrap_or_else(|| {
            let bytes: [u8; 20] = rand::random();
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        }));
    }

    // User-provided PVCs must exist (the pod could never start otherwise): the data volume's,
    // Chromium's profile and Ollama's model cache.
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
    for claim in user_claims(spec) {
        if pvcs.get_metadata_opt(&claim).await?.is_none() {
            inputs.missing_claim = Some(claim);
            break;
        }
    }

    // External openclaw.json.
    if let Some(r) = spec.config.as_ref().and_then(|c| c.config_map_ref.as_ref()) {
        let key = r
            .key
            .clone()
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| "openclaw.json".into());
        match config_maps.get_opt(&r.name).await? {
            None => {
                inputs.config_problem = Some(Problem {
                    reason: "ConfigMapNotFound",
                    message: format!("config ConfigMap {:?} not found", r.name),
                })
            }
            Some(cm) => match cm.data.as_ref().and_then(|d| d.get(&key)) {
                Some(content) => inputs.observed.external_config = Some(content.clone()),
                None => {
                    inputs.config_problem = Some(Problem {
                        reason: "ConfigMapKeyNotFound",
                        message: format!("config ConfigMap {:?} has no key {key:?}", r.name),
                    })
                }
            },
        }
    }

    // Workspace files from ConfigMaps.
    if let Some(ws) = &spec.workspace {
        if let Some(r) = &ws.config_map_ref {
            inputs.workspace_refs += 1;
            if let Some(files) =
                workspace_files(&config_maps, &r.name, "workspace", &mut inputs).await?
            {
                inputs.observed.workspace_files = files;
            }
        }
        for aw in ws.additional_workspaces.iter().flatten() {
            if let Some(r) = &aw.config_map_ref {
                inputs.workspace_refs += 1;
                let what = format!("workspace {:?}", aw.name);
                if let Some(files) =
                    workspace_files(&config_maps, &r.name, &what, &mut inputs).await?
                {
                    inputs
                        .observed
                        .additional_workspace_files
                        .insert(aw.name.clone(), files);
                }
            }
        }
    }
    Ok(inputs)
}

async fn workspace_files(
    api: &Api<ConfigMap>,
    name: &str,
    what: &str,
    inputs: &mut Inputs,
) -> Result<Option<BTreeMap<String, String>>, kube::Error> {
    let Some(cm) = api.get_opt(name).await? else {
        inputs.workspace_problems.push(Problem {
            reason: "ConfigMapNotFound",
            message: format!("{what} ConfigMap {name:?} not found"),
        });
        return Ok(None);
    };
    let files = cm.data.unwrap_or_default();
    for key in files.keys() {
        if let Err(e) = check_workspace_filename(key) {
            inputs.workspace_problems.push(Problem {
                reason: "InvalidFilename",
                message: format!("{what} ConfigMap {name:?}: {e}; its files are skipped"),
            });
            return Ok(None);
        }
    }
    Ok(Some(files))
}
