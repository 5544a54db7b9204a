//! Instances exactly as the Go operator 0.38.3 (`paperclipinc/openclaw-operator`) leaves them on
//! a cluster, for testing that our operator adopts them.
//!
//! [`create_instance`] writes, on the real API server, what a user's `kubectl apply` plus the Go
//! operator's reconciles would have left:
//!
//! - the `OpenClawInstance`, created by field manager [`KUBECTL_MANAGER`] (with the
//!   `kubectl.kubernetes.io/last-applied-configuration` annotation, as client-side
//!   `kubectl apply` does), then the finalizer [`GO_FINALIZER`] added by an update of field
//!   manager [`GO_MANAGER`], then Go-shaped status (phase, conditions with Go's reasons,
//!   `managedResources`, endpoints, `observedGeneration`) written through the `status`
//!   subresource by [`GO_MANAGER`];
//! - its owned objects, created (plain create, never server-side apply) by [`GO_MANAGER`] with a
//!   controller owner reference (`blockOwnerDeletion: true`) and the Go labels, in the Go
//!   reconcile order: ServiceAccount, Role, RoleBinding, NetworkPolicy, the gateway token Secret
//!   (`<name>-gateway-token`, key `token`), ConfigMaps `<name>-config` and `<name>-workspace`,
//!   PVCs `<name>-data` (annotation `openclaw.rocks/backup-enabled`) and
//!   `<name>-chromium-data`, PodDisruptionBudget, StatefulSet (Go pod template: `httpGet`
//!   probes, config and secret hash annotations, Go init containers, sidecars and volumes),
//!   Services `<name>` and `<name>-cdp`, Ingress and basic-auth Secret `<name>-basic-auth` (keys
//!   `auth`, `username`, `password`), ServiceMonitor.
//!
//! Non-apply writes are recorded in `metadata.managedFields` with operation `Update`, so the API
//! server sees [`GO_MANAGER`] as the owner of every field the Go operator set, exactly as after a
//! real Go operator run. Names, labels, keys, ports, probe handler types, owner references and
//! field managers follow `resources.md` / `delta-0.38.md`; long generated texts (openclaw.json,
//! the workspace files, init scripts) are plausible equivalents, not byte-exact copies.
//!
//! Before writing the final status, [`create_instance`] waits (like the Go operator, whose phase
//! `Running` is gated on a ready pod since 0.38.1) until the StatefulSet's pod is Ready (kwok
//! makes pods Ready), so that the returned [`GoInstance`] records the StatefulSet revisions and
//! the bound PVC.
//!
//! [`fleet`] is the issue's measured fleet: the samples, Chromium, Ingress with basic auth and a
//! suspended instance.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Secret};
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
    ResourceExt,
};
use kube::{Client, Resource};
use serde_json::{Map, Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::Error;

/// controller-runtime's default field manager for a binary called `manager` (the Go operator).
pub const GO_MANAGER: &str = "manager";
/// The field manager of a client-side `kubectl apply` (the user creating the instance).
pub const KUBECTL_MANAGER: &str = "kubectl-client-side-apply";
/// The Go operator's finalizer on every instance.
pub const GO_FINALIZER: &str = "openclaw.rocks/finalizer";
/// The annotation that makes the Go operator skip the backup on deletion.
pub const SKIP_BACKUP: &str = "openclaw.rocks/skip-backup";
/// How long [`create_instance`] waits for the StatefulSet's pod by default.
pub const READY_TIMEOUT: Duration = Duration::from_secs(120);

const API_VERSION: &str = "openclaw.rocks/v1alpha1";
const KIND: &str = "OpenClawInstance";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
const CONFIG_HASH: &str = "openclaw.rocks/config-hash";
const SECRET_HASH: &str = "openclaw.rocks/secret-hash";

const GATEWAY_PORT: i64 = 18789;
const CANVAS_PORT: i64 = 18793;
const PROXY_GATEWAY_PORT: i64 = 18790;
const PROXY_CANVAS_PORT: i64 = 18794;
const CDP_PORT: i64 = 9222;
const WEB_TERMINAL_PORT: i64 = 7681;

const MAIN_REPOSITORY: &str = "ghcr.io/openclaw/openclaw";
const BUSYBOX: &str = "docker.io/library/busybox:1.37";
const UV: &str = "ghcr.io/astral-sh/uv:0.6-bookworm-slim";
const NGINX: &str = "docker.io/library/nginx:1.27-alpine";
const OTEL: &str = "docker.io/otel/opentelemetry-collector:0.120.0";
const CHROMIUM_REPOSITORY: &str = "docker.io/chromedp/headless-shell";

/// One instance of a fleet: its name, spec and the user's metadata annotations.
#[derive(Clone, Debug)]
pub struct Preset {
    /// `metadata.name`.
    pub name: String,
    /// `spec`, as the user wrote it (the API server fills in the CRD defaults).
    pub spec: Value,
    /// `metadata.annotations` the user set (e.g. [`SKIP_BACKUP`]).
    pub annotations: BTreeMap<String, String>,
    /// `metadata.labels` the user set.
    pub labels: BTreeMap<String, String>,
}

impl Preset {
    /// A preset without annotations or labels.
    pub fn new(name: impl Into<String>, spec: Value) -> Self {
        Self {
            name: name.into(),
            spec,
            annotations: BTreeMap::new(),
            labels: BTreeMap::new(),
        }
    }

    /// Adds a metadata annotation.
    #[must_use]
    pub fn annotate(mut self, key: &str, value: &str) -> Self {
        self.annotations.insert(key.into(), value.into());
        self
    }

    /// Whether `spec.suspended` is true.
    pub fn suspended(&self) -> bool {
        self.spec["suspended"] == json!(true)
    }

    /// Whether the preset writes a ServiceMonitor (needs the prometheus-operator CRD).
    pub fn needs_service_monitor(&self) -> bool {
        self.spec
            .pointer("/observability/metrics/serviceMonitor/enabled")
            .and_then(Value::as_bool)
            == Some(true)
    }
}

/// Identity of a PVC, to check that it is the very same object afterwards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PvcIdentity {
    /// Its name.
    pub name: String,
    /// `metadata.uid`.
    pub uid: String,
    /// `spec.volumeName` (the bound PersistentVolume), if bound.
    pub volume_name: Option<String>,
}

/// What [`create_instance`] left, for comparisons after the adoption.
#[derive(Clone, Debug)]
pub struct GoInstance {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.uid` of the instance.
    pub uid: String,
    /// `metadata.generation` (equal to `status.observedGeneration`).
    pub generation: i64,
    /// The phase the Go status reports (`Running` or `Suspended`).
    pub phase: String,
    /// `data.token` of `<name>-gateway-token` (`None` with `spec.gateway.existingSecret`).
    pub gateway_token: Option<String>,
    /// `data.password` of `<name>-basic-auth`, when the Ingress basic auth is generated.
    pub basic_auth_password: Option<String>,
    /// The data PVC `<name>-data`, when persistence is on.
    pub pvc: Option<PvcIdentity>,
    /// The Chromium PVC `<name>-chromium-data`, when Chromium persistence is on.
    pub chromium_pvc: Option<PvcIdentity>,
    /// ControllerRevisions owned by the StatefulSet.
    pub revisions: usize,
    /// `status.updateRevision` of the StatefulSet (the pod template's revision).
    pub update_revision: Option<String>,
    /// The pod-template annotation `openclaw.rocks/config-hash`.
    pub config_hash: String,
    /// The pod-template annotation `openclaw.rocks/secret-hash`.
    pub secret_hash: String,
    /// `(kind, name)` of every object created for the instance (the instance excluded).
    pub objects: Vec<(String, String)>,
}

/// Creates what the Go operator 0.38.3 leaves for an instance `name` with `spec` in `namespace`
/// (see the module docs), waiting up to [`READY_TIMEOUT`] for its pod.
pub async fn create_instance(
    client: &Client,
    namespace: &str,
    name: &str,
    spec: Value,
) -> Result<GoInstance, Error> {
    create_preset(client, namespace, &Preset::new(name, spec), READY_TIMEOUT).await
}

/// Creates every preset in order (see [`create_preset`]).
pub async fn create_fleet(
    client: &Client,
    namespace: &str,
    presets: &[Preset],
    timeout: Duration,
) -> Result<Vec<GoInstance>, Error> {
    let mut out = Vec::with_capacity(presets.len());
    for preset in presets {
        out.push(create_preset(client, namespace, preset, timeout).await?);
    }
    Ok(out)
}

/// [`create_instance`] for a [`Preset`] (with its annotations and labels), waiting up to
/// `timeout` for the pod (not for a suspended instance).
pub async fn create_preset(
    client: &Client,
    namespace: &str,
    preset: &Preset,
    timeout: Duration,
) -> Result<GoInstance, Error> {
    let name = preset.name.as_str();
    let instances = instance_api(client, namespace);

    // 1. The user: `kubectl apply -f` (client-side) creates the object.
    let mut annotations: Map<String, Value> = preset
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let last_applied = json!({
        "apiVersion": API_VERSION, "kind": KIND,
        "metadata": {"annotations": preset.annotations, "labels": preset.labels,
            "name": name, "namespace": namespace},
        "spec": preset.spec,
    });
    annotations.insert(
        LAST_APPLIED.into(),
        Value::String(format!("{last_applied}\n")),
    );
    let mut meta = json!({"name": name, "namespace": namespace, "annotations": annotations});
    if !preset.labels.is_empty() {
        meta["labels"] = json!(preset.labels);
    }
    let body: DynamicObject = serde_json::from_value(json!({
        "apiVersion": API_VERSION, "kind": KIND, "metadata": meta, "spec": preset.spec,
    }))?;
    let mut instance = instances.create(&post(KUBECTL_MANAGER), &body).await?;

    // 2. The Go operator: finalizer (full Update), then Pending and Provisioning (status).
    instance
        .metadata
        .finalizers
        .get_or_insert_with(Vec::new)
        .push(GO_FINALIZER.into());
    instance = instances
        .replace(name, &post(GO_MANAGER), &instance)
        .await?;
    for phase in ["Pending", "Provisioning"] {
        instance.data["status"] = json!({"phase": phase});
        instance = instances
            .replace_status(name, &post(GO_MANAGER), &instance)
            .await?;
    }

    // 3. Its objects, in the Go reconcile order.
    let uid = instance.uid().unwrap_or_default();
    let generation = instance.metadata.generation.unwrap_or(1);
    let spec = instance.data["spec"].clone();
    let go = Go::new(namespace, name, &uid, &spec);
    let mut created = Vec::new();
    let mut managed = Map::new();

    if go.create_service_account {
        created.push(create(client, namespace, go.service_account()).await?);
        created.push(create(client, namespace, go.role()).await?);
        created.push(create(client, namespace, go.role_binding()).await?);
        managed.insert("serviceAccount".into(), json!(go.service_account_name));
        managed.insert("role".into(), json!(name));
        managed.insert("roleBinding".into(), json!(name));
    }
    if go.network_policy {
        created.push(create(client, namespace, go.network_policy()).await?);
        managed.insert("networkPolicy".into(), json!(name));
    }
    let gateway_token = if go.existing_gateway_secret.is_none() {
        let token = random_hex::<32>();
        created.push(create(client, namespace, go.gateway_token_secret(&token)).await?);
        managed.insert(
            "gatewayTokenSecret".into(),
            json!(format!("{name}-gateway-token")),
        );
        Some(token)
    } else {
        None
    };
    let config = go.config_map(gateway_token.as_deref().unwrap_or_default());
    let config_data = config["data"].clone();
    created.push(create(client, namespace, config).await?);
    managed.insert("configMap".into(), json!(format!("{name}-config")));
    created.push(create(client, namespace, go.workspace_config_map()).await?);
    if go.persistence {
        created.push(create(client, namespace, go.data_pvc()).await?);
        managed.insert("pvc".into(), json!(format!("{name}-data")));
    }
    if go.chromium_persistence {
        created.push(create(client, namespace, go.chromium_pvc()).await?);
        managed.insert("chromiumPVC".into(), json!(format!("{name}-chromium-data")));
    }
    if go.pdb {
        created.push(create(client, namespace, go.pdb()).await?);
        managed.insert("podDisruptionBudget".into(), json!(name));
    }
    let (secret_hash, missing_secrets) = go.secret_hash(client).await?;
    let config_hash = go.config_hash(&config_data);
    created.push(
        create(
            client,
            namespace,
            go.stateful_set(&config_hash, &secret_hash),
        )
        .await?,
    );
    managed.insert("statefulSet".into(), json!(name));
    created.push(create(client, namespace, go.service()).await?);
    managed.insert("service".into(), json!(name));
    if go.chromium {
        created.push(create(client, namespace, go.cdp_service()).await?);
    }
    let mut basic_auth_password = None;
    if go.ingress {
        if go.generated_basic_auth {
            let password = random_hex::<20>();
            created.push(create(client, namespace, go.basic_auth_secret(&password)).await?);
            managed.insert(
                "basicAuthSecret".into(),
                json!(format!("{name}-basic-auth")),
            );
            basic_auth_password = Some(password);
        }
        created.push(create(client, namespace, go.ingress()).await?);
    }
    if go.service_monitor {
        created.push(create(client, namespace, go.service_monitor()).await?);
    }

    // 4. The pod: Ready (or scaled to zero), the StatefulSet's revision recorded.
    let sts = wait_stateful_set(client, namespace, name, go.suspended, timeout).await?;
    let pvc = if go.persistence {
        Some(pvc_identity(client, namespace, &format!("{name}-data"), !go.suspended).await?)
    } else {
        None
    };
    let chromium_pvc = if go.chromium_persistence {
        Some(
            pvc_identity(
                client,
                namespace,
                &format!("{name}-chromium-data"),
                !go.suspended,
            )
            .await?,
        )
    } else {
        None
    };

    // 5. The final Go status.
    let status = go.status(generation, &managed, &missing_secrets);
    let phase = status["phase"].as_str().unwrap_or_default().to_string();
    instance.data["status"] = status;
    instances
        .replace_status(name, &post(GO_MANAGER), &instance)
        .await?;

    Ok(GoInstance {
        name: name.into(),
        uid,
        generation,
        phase,
        gateway_token,
        basic_auth_password,
        pvc,
        chromium_pvc,
        revisions: revisions(client, namespace, name).await?,
        update_revision: sts.status.and_then(|s| s.update_revision),
        config_hash,
        secret_hash,
        objects: created,
    })
}

/// The number of ControllerRevisions owned by StatefulSet `name`.
pub async fn revisions(client: &Client, namespace: &str, name: &str) -> Result<usize, Error> {
    let Some(sts) = Api::<StatefulSet>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await?
    else {
        return Ok(0);
    };
    let sts_uid = sts.uid().unwrap_or_default();
    let list = Api::<ControllerRevision>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await?;
    Ok(list
        .items
        .iter()
        .filter(|r| r.owner_references().iter().any(|o| o.uid == sts_uid))
        .count())
}

/// Removes [`GO_FINALIZER`] from every instance in `namespace` (nothing else is touched), so
/// that instances no operator finalizes can be deleted, e.g. with their namespace at the end of
/// a failed test.
pub async fn release_finalizers(client: &Client, namespace: &str) -> Result<usize, Error> {
    let api = instance_api(client, namespace);
    let mut released = 0;
    for i in api.list(&ListParams::default()).await?.items {
        let finalizers = i.finalizers();
        if !finalizers.iter().any(|f| f == GO_FINALIZER) {
            continue;
        }
        let keep: Vec<&String> = finalizers.iter().filter(|f| *f != GO_FINALIZER).collect();
        let patch = json!({"metadata": {"finalizers": keep,
            "resourceVersion": i.resource_version()}});
        match api
            .patch(
                &i.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => released += 1,
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(released)
}

/// On drop, runs [`release_finalizers`] for its namespace (from a helper thread with its own
/// runtime and client, like [`crate::TestNamespace`]'s cleanup), so that a failed adoption test
/// does not leave its namespace stuck in `Terminating` on the Go finalizer. Keep it alive for
/// the whole test.
#[derive(Debug)]
pub struct FinalizerGuard {
    namespace: String,
    persistent_volumes: Vec<String>,
}

impl FinalizerGuard {
    /// A guard for `namespace`.
    pub fn new(namespace: &str) -> Self {
        Self {
            namespace: namespace.into(),
            persistent_volumes: Vec::new(),
        }
    }

    /// Also delete these (cluster-scoped) PersistentVolume fixtures on drop.
    #[must_use]
    pub fn with_persistent_volumes(mut self, names: &[String]) -> Self {
        self.persistent_volumes.extend_from_slice(names);
        self
    }
}

impl Drop for FinalizerGuard {
    fn drop(&mut self) {
        let namespace = self.namespace.clone();
        let volumes = self.persistent_volumes.clone();
        let thread = format!("go-fleet-release-{namespace}");
        let outcome =
            crate::namespace::run_detached(thread, Duration::from_secs(20), move || async move {
                let (config, _) = crate::load_config().await.map_err(|e| e.to_string())?;
                let client = Client::try_from(config).map_err(|e| e.to_string())?;
                let pvs = Api::<k8s_openapi::api::core::v1::PersistentVolume>::all(client.clone());
                for pv in &volumes {
                    let _ = pvs.delete(pv, &Default::default()).await;
                }
                release_finalizers(&client, &namespace)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = outcome {
            let _ = std::io::Write::write_fmt(
                &mut std::io::stderr(),
                format_args!(
                    "go_fleet: could not release the Go finalizers in {}: {e}\n",
                    self.namespace
                ),
            );
        }
    }
}

/// The current value of `data.<key>` of Secret `name`, if any.
pub async fn secret_value(
    client: &Client,
    namespace: &str,
    name: &str,
    key: &str,
) -> Result<Option<String>, Error> {
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await?;
    Ok(secret
        .and_then(|s| s.data)
        .and_then(|d| d.get(key).cloned())
        .map(|b| String::from_utf8_lossy(&b.0).into_owned()))
}

/// The directory holding the Go operator's samples (`samples/*.yaml`, `crds/*.yaml`):
/// `$OPENCLAW_COMPAT_DIR`, else the first `shared/compat` found above the repository.
pub fn compat_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("OPENCLAW_COMPAT_DIR") {
        return Some(PathBuf::from(dir));
    }
    let root = repo_root();
    root.ancestors()
        .map(|a| a.join("shared/compat"))
        .find(|p| p.join("samples").is_dir())
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read_spec(path: &Path) -> Result<Value, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Setup(format!("{}: {e}", path.display())))?;
    let doc: Value = serde_saphyr::from_str(&text)
        .map_err(|e| Error::Setup(format!("{}: {e}", path.display())))?;
    Ok(doc["spec"].clone())
}

/// The issue's measured fleet of six instances, all reading provider keys from the Secret
/// `openclaw-api-keys`:
///
/// 1. `demo`: this repository's `config/samples/openclawinstance-minimal.yaml`;
/// 2. `my-openclaw`: the Go minimal sample (`openclaw_v1alpha1_openclawinstance.yaml`);
/// 3. `production-openclaw`: the Go full sample (`openclaw_v1alpha1_openclawinstance_full.yaml`).
///    It needs a node labelled `node-type=application` tolerating `dedicated=openclaw`, a
///    PersistentVolume of class `premium-rwo` and the ServiceMonitor CRD;
/// 4. `browser`: the minimal sample with Chromium (and its persistence);
/// 5. `exposed`: the minimal sample behind an nginx Ingress with TLS and generated basic auth;
/// 6. `sleeper`: the minimal sample, suspended.
///
/// The Go samples come from [`compat_dir`]; when it is missing, 2 and 3 are left out (with a
/// note on stderr) unless `OPENCLAW_REQUIRE_CLUSTER` is set, which makes it an error.
pub fn fleet() -> Result<Vec<Preset>, Error> {
    let minimal = read_spec(&repo_root().join("config/samples/openclawinstance-minimal.yaml"))?;
    let mut out = vec![Preset::new("demo", minimal.clone())];
    match compat_dir() {
        Some(dir) => {
            out.push(Preset::new(
                "my-openclaw",
                read_spec(&dir.join("samples/openclaw_v1alpha1_openclawinstance.yaml"))?,
            ));
            out.push(Preset::new(
                "production-openclaw",
                read_spec(&dir.join("samples/openclaw_v1alpha1_openclawinstance_full.yaml"))?,
            ));
        }
        None if crate::cluster_required() => {
            return Err(Error::Setup(
                "the Go samples (shared/compat) were not found; set OPENCLAW_COMPAT_DIR".into(),
            ));
        }
        None => eprintln!(
            "go_fleet: no shared/compat beside the repository (set OPENCLAW_COMPAT_DIR): \
             the Go samples are left out of the fleet"
        ),
    }
    let with = |patch: Value| {
        let mut spec = minimal.clone();
        merge(&mut spec, &patch);
        spec
    };
    out.push(Preset::new(
        "browser",
        with(json!({"chromium": {"enabled": true, "persistence": {"enabled": true}}})),
    ));
    out.push(Preset::new(
        "exposed",
        with(json!({"networking": {"ingress": {
            "enabled": true,
            "className": "nginx",
            "hosts": [{"host": "openclaw.example.com"}],
            "tls": [{"hosts": ["openclaw.example.com"], "secretName": "openclaw-tls"}],
            "security": {"basicAuth": {"enabled": true}},
        }}})),
    ));
    out.push(Preset::new("sleeper", with(json!({"suspended": true}))));
    Ok(out)
}

/// Deep-merges `patch` into `base` (objects merge, anything else replaces).
pub fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p.clone(),
    }
}

fn instance_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("openclaw.rocks", "v1alpha1", KIND),
        "openclawinstances",
    )
}

fn instance_api(client: &Client, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), namespace, &instance_resource())
}

fn post(manager: &str) -> PostParams {
    PostParams {
        field_manager: Some(manager.into()),
        ..PostParams::default()
    }
}

/// The plural of every kind the Go operator creates here.
fn resource_of(api_version: &str, kind: &str) -> Result<ApiResource, Error> {
    let plural = match kind {
        "ServiceAccount" => "serviceaccounts",
        "Role" => "roles",
        "RoleBinding" => "rolebindings",
        "NetworkPolicy" => "networkpolicies",
        "Secret" => "secrets",
        "ConfigMap" => "configmaps",
        "PersistentVolumeClaim" => "persistentvolumeclaims",
        "PodDisruptionBudget" => "poddisruptionbudgets",
        "StatefulSet" => "statefulsets",
        "Service" => "services",
        "Ingress" => "ingresses",
        "ServiceMonitor" => "servicemonitors",
        other => return Err(Error::Setup(format!("go_fleet: unknown kind {other}"))),
    };
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    Ok(ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(group, version, kind),
        plural,
    ))
}

/// A plain create by the Go operator's field manager; returns `(kind, name)`.
async fn create(
    client: &Client,
    namespace: &str,
    object: Value,
) -> Result<(String, String), Error> {
    let api_version = object["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let kind = object["kind"].as_str().unwrap_or_default().to_string();
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        namespace,
        &resource_of(&api_version, &kind)?,
    );
    let body: DynamicObject = serde_json::from_value(object)?;
    api.create(&post(GO_MANAGER), &body)
        .await
        .map_err(|e| Error::Setup(format!("go_fleet: creating {kind} {name}: {e}")))?;
    Ok((kind, name))
}

async fn wait_stateful_set(
    client: &Client,
    namespace: &str,
    name: &str,
    suspended: bool,
    timeout: Duration,
) -> Result<StatefulSet, Error> {
    let api = Api::<StatefulSet>::namespaced(client.clone(), namespace);
    crate::wait_for(
        &api,
        name,
        move |s: &StatefulSet| {
            let Some(st) = s.status.as_ref() else {
                return false;
            };
            st.observed_generation >= s.metadata.generation
                && st.update_revision.is_some()
                && if suspended {
                    st.replicas == 0
                } else {
                    st.ready_replicas.unwrap_or(0) >= 1 && st.current_revision == st.update_revision
                }
        },
        timeout,
    )
    .await
}

async fn pvc_identity(
    client: &Client,
    namespace: &str,
    name: &str,
    wait_bound: bool,
) -> Result<PvcIdentity, Error> {
    let api = Api::<PersistentVolumeClaim>::namespaced(client.clone(), namespace);
    let pvc = if wait_bound {
        crate::wait_for(
            &api,
            name,
            |p: &PersistentVolumeClaim| {
                p.spec
                    .as_ref()
                    .and_then(|s| s.volume_name.as_ref())
                    .is_some()
            },
            Duration::from_secs(30),
        )
        .await?
    } else {
        api.get(name).await?
    };
    Ok(PvcIdentity {
        name: name.into(),
        uid: pvc.uid().unwrap_or_default(),
        volume_name: pvc.spec.and_then(|s| s.volume_name),
    })
}

fn random_hex<const N: usize>() -> String {
    let bytes: [u8; N] = std::array::from_fn(|_| rand::random::<u8>());
    hex(&bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// First 8 bytes of SHA-256, hex (the Go operator's hash annotations).
fn short_hash(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes)[..8])
}

fn b64(s: &str) -> Value {
    Value::String(BASE64.encode(s.as_bytes()))
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn bool_at(v: &Value, pointer: &str) -> Option<bool> {
    v.pointer(pointer).and_then(Value::as_bool)
}

fn now() -> String {
    // RFC 3339 in whole seconds, UTC, without a date library.
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or_default();
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// The Go operator's view of one instance (its spec after the CRD defaults).
struct Go {
    ns: String,
    name: String,
    uid: String,
    spec: Value,
    service_account_name: String,
    create_service_account: bool,
    automount: bool,
    network_policy: bool,
    existing_gateway_secret: Option<String>,
    proxy: bool,
    metrics: bool,
    metrics_port: i64,
    chromium: bool,
    chromium_persistence: bool,
    web_terminal: bool,
    persistence: bool,
    pdb: bool,
    suspended: bool,
    ingress: bool,
    generated_basic_auth: bool,
    basic_auth: bool,
    service_monitor: bool,
}

impl Go {
    fn new(ns: &str, name: &str, uid: &str, spec: &Value) -> Self {
        let ingress = bool_at(spec, "/networking/ingress/enabled") == Some(true);
        let basic_auth = ingress
            && spec
                .pointer("/networking/ingress/security/basicAuth")
                .is_some_and(Value::is_object)
            && bool_at(spec, "/networking/ingress/security/basicAuth/enabled") != Some(false);
        let chromium = bool_at(spec, "/chromium/enabled") == Some(true);
        Self {
            ns: ns.into(),
            name: name.into(),
            uid: uid.into(),
            spec: spec.clone(),
            service_account_name: str_at(spec, "/security/rbac/serviceAccountName")
                .unwrap_or(name)
                .into(),
            create_service_account: bool_at(spec, "/security/rbac/createServiceAccount")
                != Some(false),
            automount: bool_at(spec, "/selfConfigure/enabled") == Some(true)
                || bool_at(spec, "/tailscale/enabled") == Some(true),
            network_policy: bool_at(spec, "/security/networkPolicy/enabled") != Some(false),
            existing_gateway_secret: str_at(spec, "/gateway/existingSecret").map(Into::into),
            proxy: bool_at(spec, "/gateway/enabled") != Some(false),
            metrics: bool_at(spec, "/observability/metrics/enabled") != Some(false),
            metrics_port: spec
                .pointer("/observability/metrics/port")
                .and_then(Value::as_i64)
                .unwrap_or(9090),
            chromium,
            chromium_persistence: chromium
                && bool_at(spec, "/chromium/persistence/enabled") == Some(true)
                && str_at(spec, "/chromium/persistence/existingClaim").is_none(),
            web_terminal: bool_at(spec, "/webTerminal/enabled") == Some(true),
            persistence: bool_at(spec, "/storage/persistence/enabled") != Some(false)
                && str_at(spec, "/storage/persistence/existingClaim").is_none()
                && bool_at(spec, "/availability/autoScaling/enabled") != Some(true),
            pdb: bool_at(spec, "/availability/podDisruptionBudget/enabled") != Some(false),
            suspended: bool_at(spec, "/suspended") == Some(true),
            ingress,
            generated_basic_auth: basic_auth
                && str_at(
                    spec,
                    "/networking/ingress/security/basicAuth/existingSecret",
                )
                .is_none(),
            basic_auth,
            service_monitor: bool_at(spec, "/observability/metrics/serviceMonitor/enabled")
                == Some(true),
        }
    }

    fn labels(&self) -> Value {
        json!({
            "app.kubernetes.io/name": "openclaw",
            "app.kubernetes.io/instance": self.name,
            "app.kubernetes.io/managed-by": "openclaw-operator",
        })
    }

    fn selector(&self) -> Value {
        json!({"app.kubernetes.io/name": "openclaw", "app.kubernetes.io/instance": self.name})
    }

    fn owner(&self) -> Value {
        json!([{
            "apiVersion": API_VERSION, "kind": KIND, "name": self.name, "uid": self.uid,
            "controller": true, "blockOwnerDeletion": true,
        }])
    }

    /// `metadata` of an owned object.
    fn meta(&self, name: &str) -> Value {
        json!({
            "name": name, "namespace": self.ns, "labels": self.labels(),
            "ownerReferences": self.owner(),
        })
    }

    fn service_account(&self) -> Value {
        let mut meta = self.meta(&self.service_account_name);
        if let Some(a) = self
            .spec
            .pointer("/security/rbac/serviceAccountAnnotations")
            .filter(|a| a.as_object().is_some_and(|o| !o.is_empty()))
        {
            meta["annotations"] = a.clone();
        }
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta,
            "automountServiceAccountToken": self.automount})
    }

    fn role(&self) -> Value {
        let mut rules = vec![json!({"apiGroups": [""], "resources": ["configmaps"],
            "resourceNames": [format!("{}-config", self.name)], "verbs": ["get", "watch"]})];
        for r in self
            .spec
            .pointer("/security/rbac/additionalRules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            rules.push(
                json!({"apiGroups": r["apiGroups"], "resources": r["resources"],
                "verbs": r["verbs"]}),
            );
        }
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": self.meta(&self.name), "rules": rules})
    }

    fn role_binding(&self) -> Value {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": self.meta(&self.name),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": self.name},
            "subjects": [{"kind": "ServiceAccount", "name": self.service_account_name,
                "namespace": self.ns}]})
    }

    fn network_policy(&self) -> Value {
        let tcp = |p: i64| json!({"protocol": "TCP", "port": p});
        let custom = self
            .spec
            .pointer("/networking/service/ports")
            .and_then(Value::as_array)
            .filter(|p| !p.is_empty());
        let mut ports = Vec::new();
        if let Some(custom) = custom {
            for p in custom {
                ports.push(json!({
                    "protocol": p.get("protocol").cloned().unwrap_or(json!("TCP")),
                    "port": p.get("targetPort").cloned().unwrap_or_else(|| p["port"].clone()),
                }));
            }
        } else {
            ports.push(tcp(if self.proxy {
                PROXY_GATEWAY_PORT
            } else {
                GATEWAY_PORT
            }));
            ports.push(tcp(if self.proxy {
                PROXY_CANVAS_PORT
            } else {
                CANVAS_PORT
            }));
            if self.web_terminal {
                ports.push(tcp(WEB_TERMINAL_PORT));
            }
            if self.chromium {
                ports.push(tcp(CDP_PORT));
            }
        }
        if self.metrics {
            ports.push(tcp(self.metrics_port));
        }
        let ns_peer = |ns: &Value| {
            json!({"from": [{"namespaceSelector": {"matchLabels":
                {"kubernetes.io/metadata.name": ns}}}], "ports": ports})
        };
        let mut ingress = vec![ns_peer(&json!(self.ns))];
        let np = self
            .spec
            .pointer("/security/networkPolicy")
            .cloned()
            .unwrap_or(Value::Null);
        for ns in np["allowedIngressNamespaces"]
            .as_array()
            .into_iter()
            .flatten()
        {
            ingress.push(ns_peer(ns));
        }
        for cidr in np["allowedIngressCIDRs"].as_array().into_iter().flatten() {
            ingress.push(json!({"from": [{"ipBlock": {"cidr": cidr}}], "ports": ports}));
        }
        let mut egress = Vec::new();
        if np["allowDNS"] != json!(false) {
            egress.push(json!({"ports": [{"protocol": "UDP", "port": 53},
                {"protocol": "TCP", "port": 53}]}));
        }
        egress.push(json!({"ports": [tcp(443)]}));
        if self.automount {
            egress.push(json!({"ports": [tcp(6443)]}));
        }
        if self.chromium {
            egress.push(
                json!({"to": [{"podSelector": {"matchLabels": self.selector()}}],
                "ports": [tcp(CDP_PORT)]}),
            );
        }
        for cidr in np["allowedEgressCIDRs"].as_array().into_iter().flatten() {
            egress.push(json!({"to": [{"ipBlock": {"cidr": cidr}}]}));
        }
        for rule in np["additionalEgress"].as_array().into_iter().flatten() {
            egress.push(rule.clone());
        }
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": self.meta(&self.name),
            "spec": {"podSelector": {"matchLabels": self.selector()},
                "policyTypes": ["Ingress", "Egress"], "ingress": ingress, "egress": egress}})
    }

    fn gateway_token_secret(&self, token: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": self.meta(&format!("{}-gateway-token", self.name)),
            "data": {"token": b64(token)}})
    }

    fn basic_auth_secret(&self, password: &str) -> Value {
        let user = str_at(
            &self.spec,
            "/networking/ingress/security/basicAuth/username",
        )
        .unwrap_or("openclaw");
        let sha = BASE64.encode(Sha1::digest(password.as_bytes()));
        json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": self.meta(&format!("{}-basic-auth", self.name)),
            "data": {"auth": b64(&format!("{user}:{{SHA}}{sha}")), "username": b64(user),
                "password": b64(password)}})
    }

    /// openclaw.json after (a plausible equivalent of) the Go enrichment pipeline.
    fn openclaw_json(&self, token: &str) -> String {
        let mut config = self
            .spec
            .pointer("/config/raw")
            .filter(|v| v.is_object())
            .cloned()
            .unwrap_or_else(|| json!({}));
        let obj = |v: &mut Value, key: &str| -> Value {
            let entry = v.as_object_mut().map(|o| {
                o.entry(key.to_string())
                    .or_insert_with(|| json!({}))
                    .clone()
            });
            entry.filter(Value::is_object).unwrap_or_else(|| json!({}))
        };
        let mut gateway = obj(&mut config, "gateway");
        if gateway.get("mode").is_none() {
            gateway["mode"] = json!("local");
        }
        if self.metrics {
            let mut diagnostics = obj(&mut config, "diagnostics");
            if diagnostics.get("otel").is_none() {
                diagnostics["otel"] = json!({"metrics": true, "endpoint": "http://localhost:4318"});
            }
            config["diagnostics"] = diagnostics;
        }
        let mut auth = obj(&mut gateway, "auth");
        if !token.is_empty() && auth.get("mode") != Some(&json!("trusted-proxy")) {
            if auth.get("mode").is_none() {
                auth["mode"] = json!("token");
            }
            auth["token"] = json!(token);
        }
        gateway["auth"] = auth;
        let mut control_ui = obj(&mut gateway, "controlUi");
        if control_ui.get("dangerouslyDisableDeviceAuth").is_none() {
            control_ui["dangerouslyDisableDeviceAuth"] = json!(true);
        }
        if self.chromium {
            let mut browser = obj(&mut config, "browser");
            for (k, v) in [
                ("defaultProfile", json!("default")),
                ("attachOnly", json!(true)),
                ("remoteCdpTimeoutMs", json!(30000)),
            ] {
                if browser.get(k).is_none() {
                    browser[k] = v;
                }
            }
            let mut profiles = obj(&mut browser, "profiles");
            for p in ["default", "chrome"] {
                let mut profile = obj(&mut profiles, p);
                if profile.get("cdpUrl").is_none() && profile.get("cdpPort").is_none() {
                    profile["cdpUrl"] = json!("${OPENCLAW_CHROMIUM_CDP}");
                }
                if profile.get("color").is_none() {
                    profile["color"] = json!("#4285F4");
                }
                profiles[p] = profile;
            }
            browser["profiles"] = profiles;
            config["browser"] = browser;
        }
        if gateway.get("bind").is_none() {
            gateway["bind"] = json!(if self.proxy { "loopback" } else { "0.0.0.0" });
        }
        let mut proxies: Vec<Value> = gateway
            .get("trustedProxies")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if !proxies.contains(&json!("127.0.0.0/8")) {
            proxies.push(json!("127.0.0.0/8"));
        }
        gateway["trustedProxies"] = json!(proxies);
        if control_ui.get("allowedOrigins").is_none() {
            let mut origins: BTreeSet<String> = [
                format!("http://localhost:{GATEWAY_PORT}"),
                format!("http://127.0.0.1:{GATEWAY_PORT}"),
            ]
            .into_iter()
            .collect();
            let tls_hosts: BTreeSet<&str> = self
                .spec
                .pointer("/networking/ingress/tls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .flat_map(|t| t["hosts"].as_array().into_iter().flatten())
                .filter_map(Value::as_str)
                .collect();
            for host in self
                .spec
                .pointer("/networking/ingress/hosts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|h| h["host"].as_str())
                .filter(|h| !h.is_empty())
            {
                let scheme = if tls_hosts.contains(host) {
                    "https"
                } else {
                    "http"
                };
                origins.insert(format!("{scheme}://{host}"));
            }
            for o in self
                .spec
                .pointer("/gateway/controlUiOrigins")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter(|o| !o.is_empty())
            {
                origins.insert(o.to_string());
            }
            control_ui["allowedOrigins"] = json!(origins);
        }
        gateway["controlUi"] = control_ui;
        config["gateway"] = gateway;
        serde_json::to_string_pretty(&config).unwrap_or_default()
    }

    fn config_map(&self, token: &str) -> Value {
        let mut data = Map::new();
        data.insert("openclaw.json".into(), json!(self.openclaw_json(token)));
        if self.proxy {
            data.insert("nginx.conf".into(), json!(NGINX_CONF));
        }
        if self.metrics {
            data.insert(
                "otel-collector.yaml".into(),
                json!(otel_collector_yaml(self.metrics_port)),
            );
        }
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": self.meta(&format!("{}-config", self.name)), "data": data})
    }

    fn bootstrap(&self) -> bool {
        bool_at(&self.spec, "/workspace/bootstrap/enabled") != Some(false)
    }

    fn workspace_config_map(&self) -> Value {
        let mut data = Map::new();
        for (k, v) in self
            .spec
            .pointer("/workspace/initialFiles")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            data.insert(k.replace('/', "--"), v.clone());
        }
        data.insert("ENVIRONMENT.md".into(), json!(ENVIRONMENT_MD));
        if self.bootstrap() {
            data.insert("BOOTSTRAP.md".into(), json!(BOOTSTRAP_MD));
        }
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": self.meta(&format!("{}-workspace", self.name)), "data": data})
    }

    fn data_pvc(&self) -> Value {
        let p = self
            .spec
            .pointer("/storage/persistence")
            .cloned()
            .unwrap_or(Value::Null);
        let mut meta = self.meta(&format!("{}-data", self.name));
        meta["annotations"] = json!({"openclaw.rocks/backup-enabled": "true"});
        let mut spec = json!({
            "accessModes": p["accessModes"].as_array().filter(|a| !a.is_empty()).cloned()
                .unwrap_or_else(|| vec![json!("ReadWriteOnce")]),
            "resources": {"requests": {"storage": p["size"].as_str().unwrap_or("10Gi")}},
        });
        if let Some(class) = p["storageClass"].as_str().filter(|s| !s.is_empty()) {
            spec["storageClassName"] = json!(class);
        }
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta,
            "spec": spec})
    }

    fn chromium_pvc(&self) -> Value {
        let p = self
            .spec
            .pointer("/chromium/persistence")
            .cloned()
            .unwrap_or(Value::Null);
        let mut spec = json!({"accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": p["size"].as_str().unwrap_or("1Gi")}}});
        if let Some(class) = p["storageClass"].as_str().filter(|s| !s.is_empty()) {
            spec["storageClassName"] = json!(class);
        }
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": self.meta(&format!("{}-chromium-data", self.name)), "spec": spec})
    }

    fn pdb(&self) -> Value {
        let max = self
            .spec
            .pointer("/availability/podDisruptionBudget/maxUnavailable")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": self.meta(&self.name),
            "spec": {"maxUnavailable": max, "selector": {"matchLabels": self.selector()}}})
    }

    /// The Go secret hash (exact algorithm, controllers §1.3) and the missing Secrets.
    async fn secret_hash(&self, client: &Client) -> Result<(String, Vec<String>), Error> {
        let mut names: Vec<String> = self
            .spec
            .get("envFrom")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| str_at(e, "/secretRef/name").map(str::to_owned))
            .collect();
        names.push(
            self.existing_gateway_secret
                .clone()
                .unwrap_or_else(|| format!("{}-gateway-token", self.name)),
        );
        names.sort();
        let api = Api::<Secret>::namespaced(client.clone(), &self.ns);
        let mut input = Vec::new();
        let mut missing = Vec::new();
        for name in &names {
            match api.get_opt(name).await? {
                Some(secret) => {
                    for (k, v) in secret.data.unwrap_or_default() {
                        input.extend_from_slice(k.as_bytes());
                        input.push(b'=');
                        input.extend_from_slice(&v.0);
                        input.push(b'\n');
                    }
                }
                None => {
                    input.extend_from_slice(format!("{name}=NOT_FOUND\n").as_bytes());
                    missing.push(name.clone());
                }
            }
        }
        Ok((short_hash(&input), missing))
    }

    /// The 0.38 config hash: `json(spec.config)` + `json(ConfigMap data without the token)`.
    fn config_hash(&self, _config_data: &Value) -> String {
        let mut input = self
            .spec
            .get("config")
            .cloned()
            .unwrap_or_else(|| json!({}))
            .to_string();
        let mut data = Map::new();
        data.insert("openclaw.json".into(), json!(self.openclaw_json("")));
        if self.proxy {
            data.insert("nginx.conf".into(), json!(NGINX_CONF));
        }
        if self.metrics {
            data.insert(
                "otel-collector.yaml".into(),
                json!(otel_collector_yaml(self.metrics_port)),
            );
        }
        input.push_str(&Value::Object(data).to_string());
        short_hash(input.as_bytes())
    }

    fn main_image(&self) -> String {
        let repo = str_at(&self.spec, "/image/repository").unwrap_or(MAIN_REPOSITORY);
        match str_at(&self.spec, "/image/digest") {
            Some(d) => format!("{repo}@{d}"),
            None => format!(
                "{repo}:{}",
                str_at(&self.spec, "/image/tag").unwrap_or("latest")
            ),
        }
    }

    fn pull_policy(&self) -> String {
        str_at(&self.spec, "/image/pullPolicy")
            .unwrap_or("IfNotPresent")
            .into()
    }

    fn probe(&self, kind: &str, path: &str, defaults: [i64; 4]) -> Option<Value> {
        let spec = self
            .spec
            .pointer(&format!("/probes/{kind}"))
            .cloned()
            .unwrap_or(Value::Null);
        if spec["enabled"] == json!(false) {
            return None;
        }
        let pick =
            |key: &str, default: i64| spec[key].as_i64().filter(|v| *v > 0).unwrap_or(default);
        let port = if self.proxy {
            PROXY_GATEWAY_PORT
        } else {
            GATEWAY_PORT
        };
        Some(json!({
            "httpGet": {"path": path, "port": port, "scheme": "HTTP"},
            "initialDelaySeconds": pick("initialDelaySeconds", defaults[0]),
            "periodSeconds": pick("periodSeconds", defaults[1]),
            "timeoutSeconds": pick("timeoutSeconds", defaults[2]),
            "successThreshold": 1,
            "failureThreshold": pick("failureThreshold", defaults[3]),
        }))
    }

    fn main_container(&self) -> Value {
        let mut env = vec![
            json!({"name": "HOME", "value": "/home/openclaw"}),
            json!({"name": "OPENCLAW_DISABLE_BONJOUR", "value": "1"}),
            json!({"name": "OPENCLAW_GATEWAY_HANDSHAKE_TIMEOUT_MS", "value": "10000"}),
            json!({"name": "NPM_CONFIG_PREFIX", "value": "/home/openclaw/.local"}),
            json!({"name": "NPM_CONFIG_CACHE", "value": "/home/openclaw/.cache/npm"}),
            json!({"name": "PIP_USER", "value": "1"}),
        ];
        if self.chromium {
            env.push(json!({"name": "OPENCLAW_CHROMIUM_CDP",
                "value": format!("http://127.0.0.1:{CDP_PORT}")}));
        }
        let user_env: Vec<Value> = self
            .spec
            .get("env")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if !user_env
            .iter()
            .any(|e| e["name"] == json!("OPENCLAW_GATEWAY_TOKEN"))
        {
            let secret = self
                .existing_gateway_secret
                .clone()
                .unwrap_or_else(|| format!("{}-gateway-token", self.name));
            env.push(json!({"name": "OPENCLAW_GATEWAY_TOKEN",
                "valueFrom": {"secretKeyRef": {"name": secret, "key": "token"}}}));
        }
        env.extend(user_env);

        let resources = self.spec.get("resources").cloned().unwrap_or(Value::Null);
        let quantity = |path: &str, default: &str| {
            let v = resources
                .pointer(path)
                .and_then(Value::as_str)
                .unwrap_or(default);
            // Go's resource.Quantity canonical form of whole cores.
            match v {
                "1000m" => "1".to_string(),
                "2000m" => "2".to_string(),
                other => other.to_string(),
            }
        };
        let mut security = json!({
            "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
            "runAsNonRoot": self.run_as_non_root(),
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
        });
        if let Some(csc) = self
            .spec
            .pointer("/security/containerSecurityContext")
            .and_then(Value::as_object)
        {
            for key in [
                "allowPrivilegeEscalation",
                "readOnlyRootFilesystem",
                "capabilities",
                "runAsNonRoot",
                "runAsUser",
            ] {
                if let Some(v) = csc.get(key) {
                    security[key] = v.clone();
                }
            }
        }
        let mut c = json!({
            "name": "openclaw",
            "image": self.main_image(),
            "imagePullPolicy": self.pull_policy(),
            "ports": [
                {"name": "gateway", "containerPort": GATEWAY_PORT, "protocol": "TCP"},
                {"name": "canvas", "containerPort": CANVAS_PORT, "protocol": "TCP"},
            ],
            "env": env,
            "resources": {
                "requests": {"cpu": quantity("/requests/cpu", "500m"),
                    "memory": quantity("/requests/memory", "1Gi")},
                "limits": {"cpu": quantity("/limits/cpu", "2000m"),
                    "memory": quantity("/limits/memory", "4Gi")},
            },
            "securityContext": security,
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "volumeMounts": [
                {"name": "data", "mountPath": "/home/openclaw/.openclaw"},
                {"name": "data", "mountPath": "/home/openclaw/.local", "subPath": ".local"},
                {"name": "data", "mountPath": "/home/openclaw/.cache", "subPath": ".cache"},
                {"name": "data", "mountPath": "/home/openclaw/.config", "subPath": ".config"},
                {"name": "tmp", "mountPath": "/tmp"},
                {"name": "config", "mountPath": "/operator-config", "readOnly": true},
            ],
            "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c",
                "cp /operator-config/openclaw.json /home/openclaw/.openclaw/openclaw.json"]}}},
        });
        if let Some(env_from) = self.spec.get("envFrom").filter(|v| v.is_array()) {
            c["envFrom"] = env_from.clone();
        }
        if let Some(p) = self.probe("liveness", "/healthz", [30, 10, 5, 3]) {
            c["livenessProbe"] = p;
        }
        if let Some(p) = self.probe("readiness", "/readyz", [5, 5, 3, 3]) {
            c["readinessProbe"] = p;
        }
        if let Some(p) = self.probe("startup", "/healthz", [5, 5, 3, 60]) {
            c["startupProbe"] = p;
        }
        c
    }

    fn run_as_non_root(&self) -> bool {
        bool_at(&self.spec, "/security/podSecurityContext/runAsNonRoot").unwrap_or(true)
    }

    fn helper_security(&self, read_only: bool, run_as_non_root: Option<bool>) -> Value {
        json!({
            "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": read_only,
            "runAsNonRoot": run_as_non_root.unwrap_or_else(|| self.run_as_non_root()),
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
        })
    }

    fn init_config_script(&self) -> String {
        let mut files: BTreeSet<String> = self
            .spec
            .pointer("/workspace/initialFiles")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(k, _)| k.clone())
            .filter(|k| !k.contains('/'))
            .collect();
        files.insert("ENVIRONMENT.md".into());
        if self.bootstrap() {
            files.insert("BOOTSTRAP.md".into());
        }
        let mut lines = vec![
            "cp /config/'openclaw.json' /data/openclaw.json".to_string(),
            "mkdir -p /data/workspace".to_string(),
        ];
        for f in files {
            lines.push(format!(
                "[ -f /data/workspace/'{f}' ] || cp /workspace-init/'{f}' /data/workspace/'{f}'"
            ));
        }
        lines.push(NO_PACK_BLOCK.to_string());
        lines.join("\n")
    }

    fn init_containers(&self) -> Vec<Value> {
        let image = self.main_image();
        let policy = self.pull_policy();
        let term = |mut c: Value| {
            c["terminationMessagePath"] = json!("/dev/termination-log");
            c["terminationMessagePolicy"] = json!("File");
            c
        };
        let mut out = vec![
            term(json!({
                "name": "init-config", "image": BUSYBOX, "imagePullPolicy": "IfNotPresent",
                "command": ["sh", "-c", self.init_config_script()],
                "securityContext": self.helper_security(true, None),
                "volumeMounts": [
                    {"name": "data", "mountPath": "/data"},
                    {"name": "config", "mountPath": "/config"},
                    {"name": "workspace-init", "mountPath": "/workspace-init", "readOnly": true},
                ],
            })),
            term(json!({
                "name": "init-uv", "image": UV, "imagePullPolicy": "IfNotPresent",
                "command": ["sh", "-c", INIT_UV], "resources": {},
                "securityContext": self.helper_security(true, Some(true)),
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            })),
            term(json!({
                "name": "init-pip", "image": image, "imagePullPolicy": policy,
                "command": ["sh", "-c", INIT_PIP], "resources": {},
                "env": [{"name": "HOME", "value": "/data"}],
                "securityContext": self.helper_security(true, Some(true)),
                "volumeMounts": [{"name": "data", "mountPath": "/data"},
                    {"name": "tmp", "mountPath": "/tmp"}],
            })),
            term(json!({
                "name": "init-plugin-runtime-deps", "image": image, "imagePullPolicy": policy,
                "command": ["sh", "-c", INIT_PLUGIN_RUNTIME_DEPS], "resources": {},
                "securityContext": self.helper_security(true, None),
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            })),
        ];
        if self.chromium {
            out.push(term(self.chromium_sidecar()));
        }
        out
    }

    fn chromium_sidecar(&self) -> Value {
        let c = self.spec.get("chromium").cloned().unwrap_or(Value::Null);
        let mut repo = c
            .pointer("/image/repository")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or(CHROMIUM_REPOSITORY)
            .to_string();
        if repo == "chromedp/headless-shell" || repo == "ghcr.io/browserless/chromium" {
            repo = CHROMIUM_REPOSITORY.into();
        }
        let default_repo = repo == CHROMIUM_REPOSITORY;
        let tag = match c.pointer("/image/tag").and_then(Value::as_str) {
            None | Some("") if default_repo => "stable",
            Some("latest") if default_repo => "stable",
            None | Some("") => "latest",
            Some(t) => t,
        };
        let image = match c.pointer("/image/digest").and_then(Value::as_str) {
            Some(d) if !d.is_empty() => format!("{repo}@{d}"),
            _ => format!("{repo}:{tag}"),
        };
        let mut args = vec![
            "--no-sandbox",
            "--disable-gpu",
            "--disable-software-rasterizer",
            "--disable-blink-features=AutomationControlled",
            "--disable-features=AutomationControlled",
            "--no-first-run",
            "--disable-oom-score-adj",
        ];
        if self.chromium_persistence || bool_at(&c, "/persistence/enabled") == Some(true) {
            args.push("--user-data-dir=/chromium-data");
        }
        let pick = |path: &str, default: &str| {
            let v = c
                .pointer(&format!("/resources{path}"))
                .and_then(Value::as_str)
                .unwrap_or(default);
            if v == "1000m" {
                "1".to_string()
            } else {
                v.to_string()
            }
        };
        let mut sidecar = json!({
            "name": "chromium", "image": image, "imagePullPolicy": "IfNotPresent",
            "restartPolicy": "Always",
            "args": args,
            "ports": [{"name": "cdp", "containerPort": CDP_PORT, "protocol": "TCP"}],
            "env": [{"name": "HOME", "value": "/tmp"}],
            "resources": {
                "requests": {"cpu": pick("/requests/cpu", "250m"),
                    "memory": pick("/requests/memory", "512Mi")},
                "limits": {"cpu": pick("/limits/cpu", "1000m"),
                    "memory": pick("/limits/memory", "2Gi")},
            },
            "securityContext": {
                "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": false,
                "runAsNonRoot": true, "runAsUser": 65534,
                "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
            },
            "volumeMounts": [
                {"name": "chromium-tmp", "mountPath": "/tmp"},
                {"name": "chromium-shm", "mountPath": "/dev/shm"},
                {"name": "chromium-data", "mountPath": "/chromium-data"},
            ],
            "startupProbe": {
                "httpGet": {"path": "/json/version", "port": CDP_PORT, "scheme": "HTTP"},
                "initialDelaySeconds": 1, "periodSeconds": 2, "timeoutSeconds": 5,
                "successThreshold": 1, "failureThreshold": 15,
            },
        });
        if default_repo {
            sidecar["command"] = json!(["/bin/bash", "-c", CHROMIUM_SCRIPT, "--"]);
        }
        sidecar
    }

    fn containers(&self) -> Vec<Value> {
        let mut out = vec![self.main_container()];
        if self.proxy {
            out.push(json!({
                "name": "gateway-proxy", "image": NGINX, "imagePullPolicy": "IfNotPresent",
                "ports": [
                    {"name": "gw-proxy", "containerPort": PROXY_GATEWAY_PORT, "protocol": "TCP"},
                    {"name": "canvas-proxy", "containerPort": PROXY_CANVAS_PORT,
                        "protocol": "TCP"},
                ],
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"},
                    "limits": {"cpu": "100m", "memory": "64Mi"}},
                "securityContext": {
                    "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                    "runAsNonRoot": true, "runAsUser": 101,
                    "capabilities": {"drop": ["ALL"]},
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "volumeMounts": [
                    {"name": "config", "mountPath": "/etc/nginx/nginx.conf",
                        "subPath": "nginx.conf", "readOnly": true},
                    {"name": "gateway-proxy-tmp", "mountPath": "/tmp"},
                ],
            }));
        }
        if self.metrics {
            out.push(json!({
                "name": "otel-collector", "image": OTEL, "imagePullPolicy": "IfNotPresent",
                "args": ["--config=/etc/otel-collector/otel-collector.yaml"],
                "ports": [{"name": "metrics", "containerPort": self.metrics_port,
                    "protocol": "TCP"}],
                "resources": {"requests": {"cpu": "25m", "memory": "32Mi"},
                    "limits": {"cpu": "100m", "memory": "128Mi"}},
                "securityContext": {
                    "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                    "runAsNonRoot": true, "capabilities": {"drop": ["ALL"]},
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "volumeMounts": [{"name": "otel-collector-config",
                    "mountPath": "/etc/otel-collector", "readOnly": true}],
            }));
        }
        out
    }

    fn volumes(&self) -> Vec<Value> {
        let mut out = Vec::new();
        if self.persistence {
            out.push(json!({"name": "data",
                "persistentVolumeClaim": {"claimName": format!("{}-data", self.name)}}));
        } else if let Some(claim) = str_at(&self.spec, "/storage/persistence/existingClaim") {
            out.push(json!({"name": "data", "persistentVolumeClaim": {"claimName": claim}}));
        } else {
            out.push(json!({"name": "data", "emptyDir": {}}));
        }
        let config = format!("{}-config", self.name);
        out.push(json!({"name": "config",
            "configMap": {"name": config, "defaultMode": 420}}));
        if self.metrics {
            out.push(
                json!({"name": "otel-collector-config", "configMap": {"name": config,
                "defaultMode": 420,
                "items": [{"key": "otel-collector.yaml", "path": "otel-collector.yaml"}]}}),
            );
        }
        out.push(json!({"name": "workspace-init",
            "configMap": {"name": format!("{}-workspace", self.name), "defaultMode": 420}}));
        out.push(json!({"name": "tmp", "emptyDir": {}}));
        if self.proxy {
            out.push(json!({"name": "gateway-proxy-tmp", "emptyDir": {}}));
        }
        if self.chromium {
            out.push(json!({"name": "chromium-tmp", "emptyDir": {}}));
            out.push(json!({"name": "chromium-shm",
                "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}}));
            if self.chromium_persistence {
                out.push(json!({"name": "chromium-data", "persistentVolumeClaim":
                    {"claimName": format!("{}-chromium-data", self.name)}}));
            } else {
                out.push(json!({"name": "chromium-data", "emptyDir": {}}));
            }
        }
        out
    }

    fn stateful_set(&self, config_hash: &str, secret_hash: &str) -> Value {
        let psc = self
            .spec
            .pointer("/security/podSecurityContext")
            .cloned()
            .unwrap_or(Value::Null);
        let id = |key: &str| psc[key].as_i64().unwrap_or(1000);
        let mut security = json!({
            "runAsNonRoot": self.run_as_non_root(),
            "seccompProfile": {"type": "RuntimeDefault"},
            "runAsUser": id("runAsUser"), "runAsGroup": id("runAsGroup"),
            "fsGroup": id("fsGroup"),
        });
        if let Some(p) = psc.get("fsGroupChangePolicy") {
            security["fsGroupChangePolicy"] = p.clone();
        }
        let mut annotations = self
            .spec
            .get("podAnnotations")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        annotations.insert(CONFIG_HASH.into(), json!(config_hash));
        annotations.insert(SECRET_HASH.into(), json!(secret_hash));
        let mut pod = json!({
            "serviceAccountName": self.service_account_name,
            "serviceAccount": self.service_account_name,
            "automountServiceAccountToken": self.automount,
            "shareProcessNamespace": bool_at(&self.spec, "/shareProcessNamespace")
                .unwrap_or(true),
            "securityContext": security,
            "restartPolicy": "Always",
            "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler",
            "terminationGracePeriodSeconds": 30,
            "initContainers": self.init_containers(),
            "containers": self.containers(),
            "volumes": self.volumes(),
        });
        for (from, to) in [
            ("nodeSelector", "nodeSelector"),
            ("tolerations", "tolerations"),
            ("affinity", "affinity"),
            ("topologySpreadConstraints", "topologySpreadConstraints"),
            ("runtimeClassName", "runtimeClassName"),
        ] {
            if let Some(v) = self
                .spec
                .get("availability")
                .and_then(|a| a.get(from))
                .filter(|v| !v.is_null())
            {
                pod[to] = v.clone();
            }
        }
        if let Some(secrets) = self
            .spec
            .pointer("/image/pullSecrets")
            .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
        {
            pod["imagePullSecrets"] = secrets.clone();
        }
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": self.meta(&self.name),
        "spec": {
            "replicas": i64::from(!self.suspended),
            "revisionHistoryLimit": 10,
            "serviceName": self.name,
            "podManagementPolicy": "Parallel",
            "persistentVolumeClaimRetentionPolicy":
                {"whenDeleted": "Retain", "whenScaled": "Retain"},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {}},
            "selector": {"matchLabels": self.selector()},
            "template": {
                "metadata": {"labels": self.labels(), "annotations": annotations},
                "spec": pod,
            },
        }})
    }

    fn service(&self) -> Value {
        let port = |name: &str, port: i64, target: i64| json!({"name": name, "port": port, "targetPort": target, "protocol": "TCP"});
        let mut ports = Vec::new();
        if let Some(custom) = self
            .spec
            .pointer("/networking/service/ports")
            .and_then(Value::as_array)
            .filter(|p| !p.is_empty())
        {
            for p in custom {
                ports.push(json!({
                    "name": p["name"], "port": p["port"],
                    "targetPort": p.get("targetPort").cloned().unwrap_or_else(|| p["port"].clone()),
                    "protocol": p.get("protocol").cloned().unwrap_or(json!("TCP")),
                }));
            }
        } else {
            ports.push(port(
                "gateway",
                GATEWAY_PORT,
                if self.proxy {
                    PROXY_GATEWAY_PORT
                } else {
                    GATEWAY_PORT
                },
            ));
            ports.push(port(
                "canvas",
                CANVAS_PORT,
                if self.proxy {
                    PROXY_CANVAS_PORT
                } else {
                    CANVAS_PORT
                },
            ));
            if self.chromium {
                ports.push(port("chromium", CDP_PORT, CDP_PORT));
            }
            if self.web_terminal {
                ports.push(port("web-terminal", WEB_TERMINAL_PORT, WEB_TERMINAL_PORT));
            }
        }
        if self.metrics
            && !ports.iter().any(|p| {
                p["name"] == json!("metrics") || p["port"].as_i64() == Some(self.metrics_port)
            })
        {
            ports.push(port("metrics", self.metrics_port, self.metrics_port));
        }
        let mut meta = self.meta(&self.name);
        if let Some(a) = self
            .spec
            .pointer("/networking/service/annotations")
            .filter(|a| a.as_object().is_some_and(|o| !o.is_empty()))
        {
            meta["annotations"] = a.clone();
        }
        json!({"apiVersion": "v1", "kind": "Service", "metadata": meta,
        "spec": {
            "type": str_at(&self.spec, "/networking/service/type").unwrap_or("ClusterIP"),
            "selector": self.selector(), "sessionAffinity": "None", "ports": ports,
        }})
    }

    fn cdp_service(&self) -> Value {
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": self.meta(&format!("{}-cdp", self.name)),
            "spec": {"type": "ClusterIP", "clusterIP": "None", "selector": self.selector(),
                "publishNotReadyAddresses": true,
                "ports": [{"name": "cdp", "port": CDP_PORT, "targetPort": CDP_PORT,
                    "protocol": "TCP"}]}})
    }

    fn ingress(&self) -> Value {
        let ing = self
            .spec
            .pointer("/networking/ingress")
            .cloned()
            .unwrap_or(Value::Null);
        let sec = ing.get("security").cloned().unwrap_or(Value::Null);
        let mut annotations = ing["annotations"].as_object().cloned().unwrap_or_default();
        let class = ing["className"].as_str().map(str::to_ascii_lowercase);
        let mut set = |k: &str, v: String| {
            annotations.insert(k.into(), Value::String(v));
        };
        let basic_auth_secret = str_at(&sec, "/basicAuth/existingSecret")
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{}-basic-auth", self.name));
        match class.as_deref() {
            Some(c) if c.contains("nginx") => {
                let n = |k: &str| format!("nginx.ingress.kubernetes.io/{k}");
                if sec["forceHTTPS"] != json!(false) {
                    set(&n("ssl-redirect"), "true".into());
                    set(&n("force-ssl-redirect"), "true".into());
                }
                if sec["enableHSTS"] != json!(false) {
                    set(
                        &n("configuration-snippet"),
                        "more_set_headers \"Strict-Transport-Security: max-age=31536000; \
                         includeSubDomains\";"
                            .into(),
                    );
                }
                if sec["rateLimiting"].is_object() && sec["rateLimiting"]["enabled"] != json!(false)
                {
                    let rps = sec["rateLimiting"]["requestsPerSecond"]
                        .as_i64()
                        .unwrap_or(10);
                    set(&n("limit-rps"), rps.to_string());
                }
                set(&n("proxy-read-timeout"), "3600".into());
                set(&n("proxy-send-timeout"), "3600".into());
                set(&n("proxy-http-version"), "1.1".into());
                set(&n("upstream-hash-by"), "$binary_remote_addr".into());
                if self.basic_auth {
                    set(&n("auth-type"), "basic".into());
                    set(&n("auth-secret"), basic_auth_secret);
                    set(
                        &n("auth-realm"),
                        str_at(&sec, "/basicAuth/realm")
                            .unwrap_or("OpenClaw")
                            .into(),
                    );
                }
            }
            Some(c) if c.contains("traefik") => {
                if sec["forceHTTPS"] != json!(false) {
                    set(
                        "traefik.ingress.kubernetes.io/router.entrypoints",
                        "websecure".into(),
                    );
                }
                if self.basic_auth {
                    set(
                        "traefik.ingress.kubernetes.io/router.middlewares",
                        format!("{}-{}-basic-auth@kubernetescrd", self.ns, self.name),
                    );
                }
            }
            _ => {}
        }
        let rules: Vec<Value> = ing["hosts"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| {
                let paths: Vec<Value> = match h["paths"].as_array().filter(|p| !p.is_empty()) {
                    Some(paths) => paths
                        .iter()
                        .map(|p| {
                            let path = p["path"].as_str().filter(|s| !s.is_empty()).unwrap_or("/");
                            let path_type = p["pathType"]
                                .as_str()
                                .filter(|t| matches!(*t, "Exact" | "ImplementationSpecific"))
                                .unwrap_or("Prefix");
                            let port = p["port"].as_i64().unwrap_or(GATEWAY_PORT);
                            json!({"path": path, "pathType": path_type, "backend": {"service":
                                {"name": self.name, "port": {"number": port}}}})
                        })
                        .collect(),
                    None => vec![json!({"path": "/", "pathType": "Prefix", "backend":
                        {"service": {"name": self.name, "port": {"number": GATEWAY_PORT}}}})],
                };
                json!({"host": h["host"], "http": {"paths": paths}})
            })
            .collect();
        let mut spec = json!({});
        if let Some(c) = ing["className"].as_str() {
            spec["ingressClassName"] = json!(c);
        }
        if !rules.is_empty() {
            spec["rules"] = json!(rules);
        }
        if let Some(tls) = ing["tls"].as_array().filter(|t| !t.is_empty()) {
            spec["tls"] = json!(tls);
        }
        let mut meta = self.meta(&self.name);
        if !annotations.is_empty() {
            meta["annotations"] = Value::Object(annotations);
        }
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta,
            "spec": spec})
    }

    fn service_monitor(&self) -> Value {
        let sm = self
            .spec
            .pointer("/observability/metrics/serviceMonitor")
            .cloned()
            .unwrap_or(Value::Null);
        let mut labels = self.labels();
        for (k, v) in sm["labels"].as_object().into_iter().flatten() {
            labels[k] = v.clone();
        }
        json!({"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
            "metadata": {"name": self.name, "namespace": self.ns, "labels": labels,
                // Hand-built: controller, no blockOwnerDeletion.
                "ownerReferences": [{"apiVersion": API_VERSION, "kind": KIND,
                    "name": self.name, "uid": self.uid, "controller": true}]},
            "spec": {"selector": {"matchLabels": self.selector()},
                "endpoints": [{"port": "metrics",
                    "interval": sm["interval"].as_str().unwrap_or("30s"),
                    "path": "/metrics"}]}})
    }

    /// The status the Go operator writes after a successful pass.
    fn status(&self, generation: i64, managed: &Map<String, Value>, missing: &[String]) -> Value {
        let t = now();
        let cond = |type_: &str, ok: bool, reason: &str, message: &str| {
            json!({"type": type_, "status": if ok { "True" } else { "False" },
                "reason": reason, "message": message, "lastTransitionTime": t})
        };
        let mut conditions = vec![cond(
            "RBACReady",
            true,
            "RBACCreated",
            "RBAC resources created successfully",
        )];
        if self.network_policy {
            conditions.push(cond(
                "NetworkPolicyReady",
                true,
                "NetworkPolicyCreated",
                "NetworkPolicy created successfully",
            ));
        }
        conditions.push(cond(
            "ConfigValid",
            true,
            "ConfigMapCreated",
            "ConfigMap created successfully",
        ));
        if self.persistence {
            conditions.push(cond(
                "StorageReady",
                true,
                "PVCCreated",
                "PVC created successfully",
            ));
        }
        if missing.is_empty() {
            conditions.push(cond(
                "SecretsReady",
                true,
                "AllSecretsFound",
                "All referenced secrets found",
            ));
        } else {
            conditions.push(cond(
                "SecretsReady",
                false,
                "SecretsMissing",
                &format!("Missing secrets: {}", missing.join(", ")),
            ));
        }
        if self.suspended {
            conditions.push(cond(
                "StatefulSetReady",
                true,
                "StatefulSetSuspended",
                "StatefulSet scaled to zero (suspended)",
            ));
        } else {
            conditions.push(cond(
                "StatefulSetReady",
                true,
                "StatefulSetReady",
                "StatefulSet is ready",
            ));
        }
        conditions.push(cond(
            "ServiceReady",
            true,
            "ServiceCreated",
            "Service created successfully",
        ));
        let (phase, ready) = if self.suspended {
            (
                "Suspended",
                cond(
                    "Ready",
                    false,
                    "Suspended",
                    "Instance is suspended (spec.suspended=true), workload scaled to zero",
                ),
            )
        } else {
            (
                "Running",
                cond(
                    "Ready",
                    true,
                    "ReconcileSucceeded",
                    "All resources reconciled successfully",
                ),
            )
        };
        conditions.push(ready);
        json!({
            "phase": phase,
            "conditions": conditions,
            "observedGeneration": generation,
            "lastReconcileTime": t,
            "gatewayEndpoint": format!("{}.{}.svc:{GATEWAY_PORT}", self.name, self.ns),
            "canvasEndpoint": format!("{}.{}.svc:{CANVAS_PORT}", self.name, self.ns),
            "managedResources": managed,
        })
    }
}

/// Whether `object` carries a managedFields entry of `manager` (optionally on `subresource`).
pub fn managed_by<K: Resource>(object: &K, manager: &str, subresource: Option<&str>) -> bool {
    object.meta().managed_fields.iter().flatten().any(|f| {
        f.manager.as_deref() == Some(manager)
            && subresource.is_none_or(|s| f.subresource.as_deref() == Some(s))
    })
}

fn otel_collector_yaml(port: i64) -> String {
    format!(
        "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 0.0.0.0:4318\n\n\
         exporters:\n  prometheus:\n    endpoint: 0.0.0.0:{port}\n    metric_expiration: 8760h\n\n\
         service:\n  pipelines:\n    metrics:\n      receivers: [otlp]\n      exporters: [prometheus]\n"
    )
}

const NGINX_CONF: &str = "worker_processes 1;
pid /tmp/nginx.pid;
error_log /dev/stderr warn;

events {
    worker_connections 128;
}

stream {
    server {
        listen 0.0.0.0:18790;
        proxy_pass 127.0.0.1:18789;
    }
    server {
        listen 0.0.0.0:18794;
        proxy_pass 127.0.0.1:18793;
    }
}
";

const INIT_UV: &str = "set -e
mkdir -p /data/.local/bin /data/.cache /data/.config /data/skills
if [ -x /data/.local/bin/uv ]; then echo \"uv already installed\"; exit 0; fi
cp /usr/local/bin/uv /data/.local/bin/uv
/data/.local/bin/uv --version";

const INIT_PIP: &str =
    "python3 -m ensurepip --upgrade --user 2>/dev/null || echo \"ensurepip unavailable, skipping\"";

const INIT_PLUGIN_RUNTIME_DEPS: &str = "set -e
mkdir -p /data/plugin-runtime-deps/node_modules
ln -sfn /app /data/plugin-runtime-deps/node_modules/openclaw";

const NO_PACK_BLOCK: &str = "if [ -f /data/.skillpack-manifest ]; then
: > /data/.skillpack-manifest.new
while IFS= read -r f; do [ -z \"$f\" ] && continue; case \"$f\" in /*|*..*) continue;; esac; grep -Fxq -- \"$f\" /data/.skillpack-manifest.new || { rm -f \"/data/workspace/$f\"; d=$(dirname \"$f\"); while [ \"$d\" != . ] && [ \"$d\" != / ]; do rmdir \"/data/workspace/$d\" 2>/dev/null || break; d=$(dirname \"$d\"); done; }; done < /data/.skillpack-manifest
rm -f /data/.skillpack-manifest.new /data/.skillpack-manifest
fi";

const CHROMIUM_SCRIPT: &str = "exec socat TCP4-LISTEN:9222,fork TCP4:127.0.0.1:9223 &
exec /headless-shell/headless-shell --no-sandbox --use-gl=angle --use-angle=swiftshader --remote-debugging-address=0.0.0.0 --remote-debugging-port=9223 \"$@\"";

const ENVIRONMENT_MD: &str = "# Runtime Environment

You run in a hardened Kubernetes pod. The root filesystem is read-only.

## Writable paths

| Path | Persistent |
|------|------------|
| `~/.openclaw/` | yes (PVC) |
| `~/.local/` | yes (PVC) |
| `~/.cache/` | yes (PVC) |
| `~/.config/` | yes (PVC) |
| `/tmp` | no (emptyDir) |

Everything else is read-only. Do NOT attempt writing to system paths.

## OpenClaw CLI

The `openclaw` command is on PATH (symlinked to `/app/openclaw.mjs`); you do not need to invoke node manually.

```bash
openclaw --help     # list commands
openclaw doctor     # run healthchecks
openclaw --version
```

## Installing packages

- Python: `pip install --user <pkg>` or `uv tool install <pkg>` (uv is in `~/.local/bin`).
- Node: `npm install -g <pkg>` or `npx <pkg>`.
- Static binaries: download them into `~/.local/bin` with curl.

## What does not work

apt-get, sudo and su; writing to /usr, /etc or /var; plain HTTP on port 80 (the network policy
blocks it, use 443). For system libraries, ask your administrator for a custom image.
";

const BOOTSTRAP_MD: &str = "# BOOTSTRAP

Welcome! This is your first run. Work through these steps with your human, then delete this file.

1. Meet your human: their name, timezone, what they want to use you for, how they like to talk.
2. Pick your own name, vibe and emoji.
3. Write `IDENTITY.md`, `USER.md`, `SOUL.md` and `MEMORY.md` in your workspace.
4. Delete `BOOTSTRAP.md`.
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otel_collector_yaml_is_the_go_file() {
        let yaml = otel_collector_yaml(9090);
        assert_eq!(yaml.len(), 249);
        assert_eq!(
            hex(&Sha256::digest(yaml.as_bytes())),
            "898eb492c6b79051f0eabba3286f0e87cd6aa7d2e35429379a6c24f043f5314e"
        );
    }

    #[test]
    fn timestamps_are_rfc3339() {
        let t = now();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
    }

    #[test]
    fn go_probes_use_http_get() {
        let go = Go::new("ns", "demo", "uid", &json!({}));
        let sts = go.stateful_set("h", "s");
        let c = &sts["spec"]["template"]["spec"]["containers"][0];
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
            assert_eq!(c[probe]["httpGet"]["port"], json!(18790), "{probe}");
            assert!(c[probe].get("exec").is_none());
        }
        assert_eq!(c["readinessProbe"]["httpGet"]["path"], json!("/readyz"));
    }

    #[test]
    fn fleet_has_the_measured_instances() {
        let fleet = fleet().expect("fleet");
        let names: Vec<&str> = fleet.iter().map(|p| p.name.as_str()).collect();
        for n in ["demo", "browser", "exposed", "sleeper"] {
            assert!(names.contains(&n), "{names:?}");
        }
        assert!(fleet.iter().any(Preset::suspended));
        if compat_dir().is_some() {
            assert_eq!(fleet.len(), 6, "{names:?}");
        }
    }

    #[test]
    fn basic_auth_line_is_htpasswd_sha() {
        let go = Go::new(
            "ns",
            "x",
            "uid",
            &json!({"networking": {"ingress": {"enabled": true,
                "security": {"basicAuth": {"enabled": true}}}}}),
        );
        assert!(go.generated_basic_auth);
        let s = go.basic_auth_secret("password");
        let auth = BASE64
            .decode(s["data"]["auth"].as_str().expect("auth"))
            .expect("b64");
        // SHA-1("password"), base64.
        assert_eq!(
            String::from_utf8_lossy(&auth),
            "openclaw:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="
        );
    }
}
