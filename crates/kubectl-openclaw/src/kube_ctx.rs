//! Connecting like kubectl: kubeconfig (`--kubeconfig`, else `$KUBECONFIG`, else
//! `~/.kube/config`, else the in-cluster config), its context (`--context`), the namespace
//! (`-n`, else the context's), and readable API errors.

use anyhow::{Context as _, Result, anyhow};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use openclaw_api::OpenClawInstance;

use crate::cli::Global;

/// A client and the namespace commands work in.
pub struct Ctx {
    pub client: Client,
    pub namespace: String,
}

pub async fn connect(g: &Global) -> Result<Ctx> {
    let options = KubeConfigOptions {
        context: g.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = match &g.kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .with_context(|| format!("cannot read the kubeconfig {}", path.display()))?;
            Config::from_custom_kubeconfig(kc, &options)
                .await
                .with_context(|| format!("cannot use the kubeconfig {}", path.display()))?
        }
        None if g.context.is_some() => Config::from_kubeconfig(&options)
            .await
            .context("cannot load the kubeconfig")?,
        None => Config::infer().await.context(
            "no kubeconfig found (set KUBECONFIG or --kubeconfig) and not running in a cluster",
        )?,
    };
    let namespace = g
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    let client = Client::try_from(config).context("cannot build a Kubernetes client")?;
    Ok(Ctx { client, namespace })
}

/// The HTTP status of an API error.
pub fn api_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

/// A 404 for a whole resource type (no such API), not for one object.
fn resource_missing(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => {
            s.code == 404
                && s.message
                    .contains("the server could not find the requested resource")
        }
        _ => false,
    }
}

/// What a failed request on `openclawinstances` means, in words.
pub fn instance_error(e: kube::Error, name: Option<&str>, namespace: &str) -> anyhow::Error {
    if resource_missing(&e) {
        return anyhow!(
            "the OpenClawInstance API (openclawinstances.openclaw.rocks/v1alpha1) is not installed in this cluster; install the CRDs: kubectl apply --server-side -f config/crd/ (or the Helm chart)"
        );
    }
    match (api_code(&e), name) {
        (Some(404), Some(name)) => {
            anyhow!("openclawinstance \"{name}\" not found in namespace \"{namespace}\"")
        }
        _ => anyhow!(plain(&e)).context(match name {
            Some(name) => {
                format!("cannot read openclawinstance \"{name}\" in namespace \"{namespace}\"")
            }
            None => format!("cannot list openclawinstances in namespace \"{namespace}\""),
        }),
    }
}

/// An API error as one line: the server's message, not kube's debug form.
pub fn plain(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if !s.message.is_empty() => {
            format!("{} ({})", s.message, s.code)
        }
        e => e.to_string(),
    }
}

/// The instance `name` in `ctx.namespace`, with readable errors.
pub async fn get_instance(ctx: &Ctx, name: &str) -> Result<OpenClawInstance> {
    let api = kube::Api::<OpenClawInstance>::namespaced(ctx.client.clone(), &ctx.namespace);
    api.get(name)
        .await
        .map_err(|e| instance_error(e, Some(name), &ctx.namespace))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(code: u16, reason: &str, message: &str) -> kube::Error {
        let status: kube::core::Status = serde_json::from_value(serde_json::json!({
            "status": "Failure", "code": code, "reason": reason, "message": message,
        }))
        .unwrap();
        kube::Error::Api(Box::new(status))
    }

    #[test]
    fn api_errors_read_as_sentences() {
        let missing = api_error(
            404,
            "NotFound",
            "openclawinstances.openclaw.rocks \"x\" not found",
        );
        assert_eq!(
            format!("{:#}", instance_error(missing, Some("x"), "agents")),
            "openclawinstance \"x\" not found in namespace \"agents\""
        );
        let no_crd = api_error(
            404,
            "NotFound",
            "the server could not find the requested resource",
        );
        let text = format!("{:#}", instance_error(no_crd, Some("x"), "agents"));
        assert!(
            text.starts_with("the OpenClawInstance API (openclawinstances.openclaw.rocks/v1alpha1) is not installed"),
            "{text}"
        );
        let forbidden = api_error(
            403,
            "Forbidden",
            "openclawinstances.openclaw.rocks is forbidden: User \"bob\" cannot list resource",
        );
        assert_eq!(
            format!("{:#}", instance_error(forbidden, None, "agents")),
            "cannot list openclawinstances in namespace \"agents\": openclawinstances.openclaw.rocks is forbidden: User \"bob\" cannot list resource (403)"
        );
    }
}
