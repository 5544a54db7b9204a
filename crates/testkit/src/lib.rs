//! Helpers for integration tests that run against a real Kubernetes control
//! plane, normally the local one started by `hack/control-plane/cluster.sh up`
//! (see `docs/development.md`).
//!
//! ```no_run
//! use k8s_openapi::api::core::v1::ConfigMap;
//! use std::time::Duration;
//!
//! # async fn example() -> Result<(), testkit::Error> {
//! // Skips (returns) when no cluster is reachable, unless OPENCLAW_REQUIRE_CLUSTER is set.
//! let Some(cluster) = testkit::cluster().await else { return Ok(()) };
//! let ns = cluster.namespace("my-test").await?;
//! let cms = ns.api::<ConfigMap>();
//! // ... create objects in ns.name() ...
//! let cm = testkit::wait_for(&cms, "x", |cm: &ConfigMap| cm.data.is_some(), Duration::from_secs(30)).await?;
//! ns.cleanup().await?;
//! # Ok(()) }
//! ```
//!
//! Finding the cluster: the kubeconfig comes from `KUBECONFIG` if it is set,
//! else from [`default_kubeconfig_path`] (the file `cluster.sh up` writes).

pub mod arbitrary;
mod counter;
pub mod github;
pub mod go_fleet;
pub mod jobrun;
pub mod kubelet;
mod namespace;
pub mod openclaw;
pub mod otelcol;
pub mod process;
pub mod registry;
pub mod s3;
pub mod selfconfig_script;
pub mod third_party;
pub mod tree;
mod wait;

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use kube::client::ClientBuilder;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::conditions;
use kube::{Client, Config};

pub use counter::{CountingLayer, CountingService, WriteCounter};
pub use namespace::{KEEP_NAMESPACES_ENV, TestNamespace};
pub use wait::{wait_for, wait_for_condition, wait_for_deletion};

/// Set this environment variable (to anything but `0` or an empty string) to
/// turn "no cluster reachable" from a skip into a test failure.
pub const REQUIRE_CLUSTER_ENV: &str = "OPENCLAW_REQUIRE_CLUSTER";

/// The field manager used by testkit's own server-side applies.
pub const FIELD_MANAGER: &str = "openclaw-testkit";

/// Label put on every namespace created by [`Cluster::namespace`], so that
/// leftovers can be found with `kubectl get ns -l openclaw.dev/testkit=true`.
pub const NAMESPACE_LABEL: (&str, &str) = ("openclaw.dev/testkit", "true");

/// How long [`cluster`] waits for the API server to answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors from testkit helpers.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kubeconfig could not be found or read.
    #[error("kubeconfig {path}: {source}")]
    Kubeconfig {
        /// Where it was looked for (or `$KUBECONFIG`).
        path: String,
        /// What went wrong.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// An API request failed.
    #[error(transparent)]
    Kube(#[from] kube::Error),
    /// A test fixture could not be set up.
    #[error("setup: {0}")]
    Setup(String),
    /// A watch used for waiting failed.
    #[error("watch failed: {0}")]
    Watch(#[from] kube::runtime::watcher::Error),
    /// The API server could not be reached, or refused the probe request.
    #[error("cannot reach the API server at {url} (kubeconfig: {kubeconfig}): {source}")]
    Connect {
        /// The server URL from the kubeconfig.
        url: String,
        /// Where the kubeconfig came from.
        kubeconfig: String,
        /// The underlying error.
        #[source]
        source: kube::Error,
    },
    /// The API server did not answer in time.
    #[error("API server at {url} did not answer within {timeout:?}")]
    Unreachable {
        /// The server URL from the kubeconfig.
        url: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// A wait timed out; `last` describes the last state seen.
    #[error("timed out after {timeout:?} waiting for {what}; last seen: {last}")]
    Timeout {
        /// What was waited for.
        what: String,
        /// The timeout.
        timeout: Duration,
        /// The last observed object (JSON), or "nothing".
        last: String,
    },
    /// An object could not be serialized or deserialized.
    #[error("serialization: {0}")]
    Json(#[from] serde_json::Error),
}

/// A reachable cluster: a client plus the configuration it was built from.
#[derive(Clone)]
pub struct Cluster {
    client: Client,
    config: Config,
    source: String,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("url", &self.config.cluster_url.to_string())
            .field("kubeconfig", &self.source)
            .finish_non_exhaustive()
    }
}

/// The kubeconfig that `hack/control-plane/cluster.sh up` writes:
/// `$OPENCLAW_CLUSTER_DIR/kubeconfig`, else `$OPENCLAW_CACHE_DIR/cluster/kubeconfig`,
/// else `~/.cache/openclaw-operator/cluster/kubeconfig`.
pub fn default_kubeconfig_path() -> PathBuf {
    if let Some(dir) = non_empty_env("OPENCLAW_CLUSTER_DIR") {
        return PathBuf::from(dir).join("kubeconfig");
    }
    let cache = non_empty_env("OPENCLAW_CACHE_DIR").map_or_else(
        || {
            let home = non_empty_env("HOME").unwrap_or_else(|| String::from("."));
            PathBuf::from(home).join(".cache/openclaw-operator")
        },
        PathBuf::from,
    );
    cache.join("cluster").join("kubeconfig")
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Whether `OPENCLAW_REQUIRE_CLUSTER` asks for a cluster to be mandatory.
pub fn cluster_required() -> bool {
    non_empty_env(REQUIRE_CLUSTER_ENV).is_some_and(|v| v != "0")
}

/// Loads the kubeconfig (see the crate docs) without talking to the server.
pub async fn load_config() -> Result<(Config, String), Error> {
    let options = KubeConfigOptions::default();
    if let Some(value) = non_empty_env("KUBECONFIG") {
        let config =
            Config::from_kubeconfig(&options)
                .await
                .map_err(|source| Error::Kubeconfig {
                    path: format!("$KUBECONFIG={value}"),
                    source,
                })?;
        return Ok((config, value));
    }
    let path = default_kubeconfig_path();
    let shown = path.display().to_string();
    let kubeconfig = Kubeconfig::read_from(&path).map_err(|source| Error::Kubeconfig {
        path: shown.clone(),
        source,
    })?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|source| Error::Kubeconfig {
            path: shown.clone(),
            source,
        })?;
    Ok((config, shown))
}

/// Connects to the cluster and checks that the API server answers.
/// Unlike [`cluster`], never skips or panics.
pub async fn try_cluster() -> Result<Cluster, Error> {
    let (config, kubeconfig) = load_config().await?;
    let client = Client::try_from(config.clone())?;
    match tokio::time::timeout(PROBE_TIMEOUT, client.apiserver_version()).await {
        Ok(Ok(_)) => Ok(Cluster {
            client,
            config,
            source: kubeconfig,
        }),
        Ok(Err(source)) => Err(Error::Connect {
            url: config.cluster_url.to_string(),
            kubeconfig,
            source,
        }),
        Err(_) => Err(Error::Unreachable {
            url: config.cluster_url.to_string(),
            timeout: PROBE_TIMEOUT,
        }),
    }
}

/// The entry point for integration tests.
///
/// Returns the cluster if one is reachable. Otherwise prints a message that
/// the test is skipped and returns `None` - unless `OPENCLAW_REQUIRE_CLUSTER`
/// is set, in which case it panics, failing the test:
///
/// ```no_run
/// # async fn t() {
/// let Some(cluster) = testkit::cluster().await else { return };
/// # let _ = cluster; }
/// ```
pub async fn cluster() -> Option<Cluster> {
    match try_cluster().await {
        Ok(cluster) => Some(cluster),
        Err(e) => skip_or_fail(&e),
    }
}

// Panicking is the contract here: with OPENCLAW_REQUIRE_CLUSTER set, a missing
// cluster must fail the calling test, and a panic is how a test fails.
#[allow(clippy::panic)]
fn skip_or_fail(error: &Error) -> Option<Cluster> {
    let test = std::thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_owned();
    if cluster_required() {
        panic!(
            "{test}: no Kubernetes cluster reachable, and {REQUIRE_CLUSTER_ENV} is set: {error}. \
             Start one with `hack/control-plane/cluster.sh up`."
        );
    }
    // Written to the real stderr (not through eprintln!, which the test
    // harness captures), so the skip is visible in `cargo test` output.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: no Kubernetes cluster reachable ({error}). \
         Start one with `hack/control-plane/cluster.sh up`; set {REQUIRE_CLUSTER_ENV}=1 to fail instead."
    );
    None
}

impl Cluster {
    /// A client for this cluster (cheap to clone).
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// The configuration the client was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where the kubeconfig came from (a path or `$KUBECONFIG`).
    pub fn kubeconfig_source(&self) -> &str {
        &self.source
    }

    /// A new client whose API write requests are counted (see [`WriteCounter`]).
    pub fn counting_client(&self) -> Result<(Client, WriteCounter), Error> {
        counting_client(self.config.clone())
    }

    /// Creates a uniquely named temporary namespace (`<prefix>-<random>`) and
    /// waits until its `default` ServiceAccount exists, so pods can be created
    /// in it. It is deleted by [`TestNamespace::cleanup`] or on drop.
    pub async fn namespace(&self, prefix: &str) -> Result<TestNamespace, Error> {
        TestNamespace::create(self.client(), self.config.clone(), prefix).await
    }

    /// Installs (server-side apply, field manager [`FIELD_MANAGER`], forced)
    /// each CRD and waits until all of them are Established.
    pub async fn install_crds(
        &self,
        crds: &[CustomResourceDefinition],
        timeout: Duration,
    ) -> Result<(), Error> {
        install_crds(self.client(), crds, timeout).await
    }
}

/// Builds a client from `config` with a [`CountingLayer`] on top of kube's
/// default stack, and returns it with its counter.
pub fn counting_client(config: Config) -> Result<(Client, WriteCounter), Error> {
    let counter = WriteCounter::new();
    let client = ClientBuilder::try_from(config)?
        .with_layer(&counter.layer())
        .build();
    Ok((client, counter))
}

/// Server-side applies the CRDs and waits until each is Established.
pub async fn install_crds(
    client: Client,
    crds: &[CustomResourceDefinition],
    timeout: Duration,
) -> Result<(), Error> {
    let api: Api<CustomResourceDefinition> = Api::all(client);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut names = Vec::with_capacity(crds.len());
    for crd in crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        // SSA needs apiVersion/kind in the body; k8s-openapi types serialize them.
        api.patch(&name, &params, &Patch::Apply(crd)).await?;
        names.push(name);
    }
    for name in names {
        wait_for_condition(&api, &name, conditions::is_crd_established(), timeout).await?;
    }
    Ok(())
}

/// Server-side applies (field manager `test`, forced) an `OpenClawInstance` named `name` with
/// `spec` in `namespace`. Untyped, so that this crate does not depend on the API crate.
pub async fn apply_instance(
    client: &Client,
    namespace: &str,
    name: &str,
    spec: serde_json::Value,
) -> Result<(), Error> {
    use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("openclaw.rocks", "v1alpha1", "OpenClawInstance"),
        "openclawinstances",
    );
    let mut object = DynamicObject::new(name, &resource).within(namespace);
    object.data = serde_json::json!({ "spec": spec });
    Api::<DynamicObject>::namespaced_with(client.clone(), namespace, &resource)
        .patch(
            name,
            &PatchParams::apply("test").force(),
            &Patch::Apply(&object),
        )
        .await?;
    Ok(())
}

/// One entry of a webhook configuration for the operator's webhooks served on loopback (`url`),
/// for `CREATE` and `UPDATE` of `resource`, limited to the namespace `ns` so that tests sharing
/// the cluster never see each other's webhooks.
pub fn webhook_entry(
    name: &str,
    url: &str,
    resource: &str,
    ns: &str,
    policy: &str,
) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "clientConfig": {"url": url},
        "rules": [{
            "apiGroups": ["openclaw.rocks"],
            "apiVersions": ["v1alpha1"],
            "operations": ["CREATE", "UPDATE"],
            "resources": [resource],
        }],
        "failurePolicy": policy,
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "timeoutSeconds": 5,
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
    })
}
