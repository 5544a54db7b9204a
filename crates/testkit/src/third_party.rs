//! Third-party CRDs the optional features write (ServiceMonitor, PrometheusRule, Traefik
//! Middleware, Gateway API HTTPRoute), fetched by `hack/third-party-crds/fetch.sh` from their Go
//! modules into the cache.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, DeleteParams};

use crate::Error;

/// The names of the third-party CRDs.
pub const NAMES: [&str; 4] = [
    "servicemonitors.monitoring.coreos.com",
    "prometheusrules.monitoring.coreos.com",
    "middlewares.traefik.io",
    "httproutes.gateway.networking.k8s.io",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Run the fetch script (cached by version) and parse the CRDs; `None` (with a note on stderr)
/// when they cannot be fetched.
pub fn load() -> Option<Vec<CustomResourceDefinition>> {
    let out = Command::new("bash")
        .arg(repo_root().join("hack/third-party-crds/fetch.sh"))
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "third-party CRDs unavailable: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let mut crds = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).ok()?;
        for doc in text.split("\n---") {
            let doc = doc.trim_start_matches("---").trim();
            if doc.is_empty() {
                continue;
            }
            match serde_saphyr::from_str::<CustomResourceDefinition>(doc) {
                Ok(crd) => crds.push(crd),
                Err(e) => {
                    eprintln!("{}: {e}", file.display());
                    return None;
                }
            }
        }
    }
    Some(crds)
}

/// Install the third-party CRDs. `Ok(false)` when they cannot be fetched and no cluster run is
/// required (the caller skips); with `OPENCLAW_REQUIRE_CLUSTER` set that is an error.
pub async fn install(client: Client, timeout: Duration) -> Result<bool, Error> {
    let Some(crds) = load() else {
        if crate::cluster_required() {
            return Err(Error::Setup(
                "third-party CRDs could not be fetched (hack/third-party-crds/fetch.sh)".into(),
            ));
        }
        return Ok(false);
    };
    crate::install_crds(client, &crds, timeout).await?;
    Ok(true)
}

/// Delete the third-party CRDs and wait until they are gone.
pub async fn uninstall(client: Client, timeout: Duration) -> Result<(), Error> {
    let api: Api<CustomResourceDefinition> = Api::all(client);
    for name in NAMES {
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    let deadline = tokio::time::Instant::now() + timeout;
    for name in NAMES {
        while api.get_opt(name).await?.is_some() {
            if tokio::time::Instant::now() > deadline {
                return Err(Error::Setup(format!("CRD {name} was not deleted in time")));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    Ok(())
}
