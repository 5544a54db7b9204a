//! The subcommands that talk to the cluster.

use std::io::{BufRead as _, Write as _};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use k8s_openapi::api::core::v1::{Event, Pod, Secret, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{ListParams, LogParams, Patch, PatchParams};
use openclaw_api::{OpenClawInstance, OpenClawSelfConfig};
use openclaw_render::consts::{GATEWAY_PORT, TOKEN_KEY, container};
use openclaw_render::k8s::meta::selector_labels;
use openclaw_render::model::gateway_secret_name;
use serde_json::json;

use crate::cli::{BackupArgs, LogsArgs, OpenArgs, Output, RestoreArgs, StatusArgs};
use crate::format;
use crate::kube_ctx::{Ctx, api_code, get_instance, instance_error, plain};

/// The annotation that asks for an on-demand backup (docs/features/backup.md §6).
pub const BACKUP_NOW: &str = "openclaw.rocks/backup-now";
/// The field manager of the plugin's writes.
pub const FIELD_MANAGER: &str = "kubectl-openclaw";

const POLL: Duration = Duration::from_secs(2);

fn out(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

// ------------------------------------------------------------------ status --

pub async fn status(ctx: &Ctx, args: &StatusArgs) -> Result<()> {
    let now = Timestamp::now();
    match &args.name {
        Some(name) => {
            let instance = get_instance(ctx, name).await?;
            if let Some(o) = args.output {
                return out(&serialize(&instance, o)?);
            }
            let events = instance_events(ctx, name).await?;
            let secret = gateway_secret_name(name, &instance.spec);
            out(&format::instance_detail(&instance, &secret, &events, now))
        }
        None => {
            let api: Api<OpenClawInstance> = if args.all_namespaces {
                Api::all(ctx.client.clone())
            } else {
                Api::namespaced(ctx.client.clone(), &ctx.namespace)
            };
            let where_ = if args.all_namespaces {
                "all namespaces".to_string()
            } else {
                format!("namespace \"{}\"", ctx.namespace)
            };
            let list = api
                .list(&ListParams::default())
                .await
                .map_err(|e| instance_error(e, None, &ctx.namespace))?;
            let mut items = list.items;
            items.sort_by(|a, b| {
                (&a.metadata.namespace, &a.metadata.name)
                    .cmp(&(&b.metadata.namespace, &b.metadata.name))
            });
            if let Some(o) = args.output {
                let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
                return out(&serialize(&list, o)?);
            }
            if items.is_empty() {
                eprintln!("No OpenClawInstances found in {where_}.");
                return Ok(());
            }
            out(&format::instance_table(&items, args.all_namespaces, now))
        }
    }
}

fn serialize<T: serde::Serialize>(value: &T, o: Output) -> Result<String> {
    Ok(match o {
        Output::Json => format!("{}\n", serde_json::to_string_pretty(value)?),
        Output::Yaml => serde_saphyr::to_string(value)?,
    })
}

/// The instance's newest Events, oldest first.
async fn instance_events(ctx: &Ctx, name: &str) -> Result<Vec<Event>> {
    let api: Api<Event> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let lp = ListParams::default().fields(&format!(
        "involvedObject.kind=OpenClawInstance,involvedObject.name={name}"
    ));
    let events = api
        .list(&lp)
        .await
        .map_err(|e| anyhow!("cannot list Events: {}", plain(&e)))?;
    Ok(format::recent_events(events.items, format::RECENT_EVENTS))
}

// ------------------------------------------------------------------- token --

/// The gateway token of the instance: the `token` key of `spec.gateway.existingSecret`, else
/// of `<name>-gateway-token`.
pub async fn read_token(ctx: &Ctx, instance: &OpenClawInstance) -> Result<String> {
    let name = instance.metadata.name.as_deref().unwrap_or_default();
    let secret_name = gateway_secret_name(name, &instance.spec);
    let user_secret = instance
        .spec
        .gateway
        .as_ref()
        .and_then(|g| g.existing_secret.as_deref())
        .is_some_and(|s| !s.is_empty());
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let secret = match api.get(&secret_name).await {
        Ok(s) => s,
        Err(e) if api_code(&e) == Some(404) => {
            let why = if user_secret {
                "it is named by spec.gateway.existingSecret: create it with the key \"token\""
                    .to_string()
            } else {
                format!(
                    "the operator creates it on its first reconcile of the instance: is the operator running? (kubectl openclaw status {name} -n {})",
                    ctx.namespace
                )
            };
            bail!(
                "secret \"{secret_name}\" (the gateway token of openclawinstance \"{name}\") not found in namespace \"{}\": {why}",
                ctx.namespace
            );
        }
        Err(e) => bail!("cannot read secret \"{secret_name}\": {}", plain(&e)),
    };
    let token = secret
        .data
        .as_ref()
        .and_then(|d| d.get(TOKEN_KEY))
        .map(|b| String::from_utf8_lossy(&b.0).into_owned())
        .or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|d| d.get(TOKEN_KEY).cloned())
        })
        .filter(|t| !t.trim().is_empty());
    token.ok_or_else(|| {
        anyhow!(
            "secret \"{secret_name}\" in namespace \"{}\" has no key \"{TOKEN_KEY}\" (or it is empty)",
            ctx.namespace
        )
    })
}

pub async fn token(ctx: &Ctx, name: &str) -> Result<()> {
    let instance = get_instance(ctx, name).await?;
    let token = read_token(ctx, &instance).await?;
    out(&format!("{}\n", token.trim_end()))
}

// -------------------------------------------------------------------- pods --

/// A Running pod matching `selector` (Ready ones first), or an error that says what there is.
async fn gateway_pod(ctx: &Ctx, name: &str, selector: &str) -> Result<Pod> {
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let pods = api
        .list(&ListParams::default().labels(selector))
        .await
        .map_err(|e| anyhow!("cannot list pods: {}", plain(&e)))?;
    let ready = |p: &Pod| {
        p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    };
    let running = |p: &Pod| {
        p.metadata.deletion_timestamp.is_none()
            && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
    };
    let mut candidates: Vec<Pod> = pods.items.into_iter().filter(running).collect();
    candidates.sort_by_key(|p| (!ready(p), p.metadata.name.clone()));
    candidates.into_iter().next().ok_or_else(|| {
        anyhow!(
            "no running pod of openclawinstance \"{name}\" in namespace \"{}\" (selector {selector}); see: kubectl openclaw status {name} -n {}",
            ctx.namespace,
            ctx.namespace
        )
    })
}

fn selector_string(labels: &std::collections::BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

// -------------------------------------------------------------------- logs --

pub async fn logs(ctx: &Ctx, args: &LogsArgs) -> Result<()> {
    get_instance(ctx, &args.name).await?;
    let selector = selector_string(&selector_labels(&args.name));
    let pod = gateway_pod(ctx, &args.name, &selector).await?;
    let pod_name = pod.metadata.name.unwrap_or_default();
    let container = args
        .container
        .clone()
        .unwrap_or_else(|| container::MAIN.to_string());
    let lp = LogParams {
        container: Some(container.clone()),
        follow: args.follow,
        tail_lines: args.tail,
        previous: args.previous,
        ..LogParams::default()
    };
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let stream = api.log_stream(&pod_name, &lp).await.map_err(|e| {
        anyhow!(
            "cannot read the logs of container \"{container}\" of pod \"{pod_name}\": {}",
            plain(&e)
        )
    })?;
    let mut stdout = futures::io::AllowStdIo::new(std::io::stdout());
    futures::io::copy(stream, &mut stdout)
        .await
        .context("log stream interrupted")?;
    Ok(())
}

// -------------------------------------------------------------------- open --

/// The Service port that carries the gateway: named `gateway`, else port 18789.
fn gateway_service_port(svc: &Service) -> Option<&k8s_openapi::api::core::v1::ServicePort> {
    let ports = svc.spec.as_ref()?.ports.as_ref()?;
    ports
        .iter()
        .find(|p| p.name.as_deref() == Some("gateway"))
        .or_else(|| ports.iter().find(|p| p.port == GATEWAY_PORT))
}

/// The pod port to forward to: the Service's target port (a name resolved against the pod's
/// container ports), else 18789.
pub fn target_port(svc: Option<&Service>, pod: &Pod) -> Result<u16> {
    let Some(port) = svc.and_then(gateway_service_port) else {
        return u16::try_from(GATEWAY_PORT).context("gateway port");
    };
    let number = match &port.target_port {
        None => port.port,
        Some(IntOrString::Int(n)) => *n,
        Some(IntOrString::String(name)) => pod
            .spec
            .iter()
            .flat_map(|s| s.containers.iter())
            .flat_map(|c| c.ports.iter().flatten())
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .map(|p| p.container_port)
            .ok_or_else(|| anyhow!("the pod has no container port named \"{name}\""))?,
    };
    u16::try_from(number).map_err(|_| anyhow!("invalid target port {number}"))
}

pub async fn open(ctx: &Ctx, args: &OpenArgs) -> Result<()> {
    let instance = get_instance(ctx, &args.name).await?;
    let svc_name = format::service_name(&instance);
    let services: Api<Service> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let svc = match services.get(&svc_name).await {
        Ok(s) => Some(s),
        Err(e) if api_code(&e) == Some(404) => None,
        Err(e) => bail!("cannot read service \"{svc_name}\": {}", plain(&e)),
    };
    let selector = match svc
        .as_ref()
        .and_then(|s| s.spec.as_ref())
        .and_then(|s| s.selector.as_ref())
        .filter(|s| !s.is_empty())
    {
        Some(sel) => selector_string(sel),
        None => selector_string(&selector_labels(&args.name)),
    };
    let pod = gateway_pod(ctx, &args.name, &selector).await?;
    let pod_name = pod.metadata.name.clone().unwrap_or_default();
    let remote = target_port(svc.as_ref(), &pod)?;
    let token = if args.no_token {
        None
    } else {
        match read_token(ctx, &instance).await {
            Ok(t) => Some(t.trim().to_string()),
            Err(e) => {
                eprintln!("warning: {e:#}; the URL has no token");
                None
            }
        }
    };

    // One request up front, so that a cluster that cannot port-forward fails here, readably.
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let probe = pods.portforward(&pod_name, &[remote]).await.map_err(|e| {
        anyhow!(
            "cannot port-forward to pod \"{pod_name}\" port {remote}: {}",
            plain(&e)
        )
    })?;
    drop(probe);

    let listener = bind(&args.address, args.port).await?;
    let local = listener.local_addr()?;
    eprintln!(
        "Forwarding from {local} -> pod/{pod_name}:{remote} (namespace {}); Ctrl-C to stop",
        ctx.namespace
    );
    out(&format!(
        "{}\n",
        format::control_ui_url(&local.ip().to_string(), local.port(), token.as_deref())
    ))?;

    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            accepted = listener.accept() => {
                let (conn, _) = accepted.context("accept failed")?;
                let pods = pods.clone();
                let pod_name = pod_name.clone();
                tokio::spawn(async move {
                    if let Err(e) = forward(conn, &pods, &pod_name, remote).await {
                        eprintln!("warning: connection to pod/{pod_name}:{remote}: {e:#}");
                    }
                });
            }
        }
    }
}

async fn bind(address: &str, port: Option<u16>) -> Result<tokio::net::TcpListener> {
    match port {
        Some(p) => tokio::net::TcpListener::bind((address, p))
            .await
            .with_context(|| format!("cannot listen on {address}:{p}")),
        None => {
            let preferred = u16::try_from(GATEWAY_PORT).unwrap_or(0);
            match tokio::net::TcpListener::bind((address, preferred)).await {
                Ok(l) => Ok(l),
                Err(_) => tokio::net::TcpListener::bind((address, 0))
                    .await
                    .with_context(|| format!("cannot listen on {address}")),
            }
        }
    }
}

async fn forward(
    mut conn: tokio::net::TcpStream,
    pods: &Api<Pod>,
    pod: &str,
    port: u16,
) -> Result<()> {
    let mut pf = pods
        .portforward(pod, &[port])
        .await
        .map_err(|e| anyhow!("{}", plain(&e)))?;
    let mut upstream = pf
        .take_stream(port)
        .ok_or_else(|| anyhow!("no stream for port {port}"))?;
    tokio::io::copy_bidirectional(&mut conn, &mut upstream).await?;
    drop(upstream);
    pf.join().await.map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

// ------------------------------------------------------------------ backup --

pub async fn backup(ctx: &Ctx, args: &BackupArgs) -> Result<()> {
    let name = &args.name;
    get_instance(ctx, name).await?;
    let value = Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let api: Api<OpenClawInstance> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    api.patch(
        name,
        &PatchParams {
            field_manager: Some(FIELD_MANAGER.to_string()),
            ..PatchParams::default()
        },
        &Patch::Merge(json!({"metadata": {"annotations": {BACKUP_NOW: value}}})),
    )
    .await
    .map_err(|e| instance_error(e, Some(name), &ctx.namespace))?;
    let ns = &ctx.namespace;
    out(&format!(
        "on-demand backup requested: openclawinstance \"{name}\" annotated {BACKUP_NOW}={value}\n"
    ))?;
    if !args.wait {
        return out(&format!(
            "follow it with: kubectl openclaw status {name} -n {ns}   (BackupComplete condition, Events)\n"
        ));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.timeout);
    loop {
        let i = get_instance(ctx, name).await?;
        let st = i.status.clone().unwrap_or_default();
        if st.last_backup_request.as_deref() == Some(value.as_str()) {
            let c = condition(&i, "BackupComplete");
            match c {
                Some(c) if c.status == "True" => {
                    return out(&format!(
                        "backup completed: {}\n",
                        st.last_backup_path.as_deref().unwrap_or("<unknown path>")
                    ));
                }
                Some(c) if c.reason == "BackupFailed" => bail!("backup failed: {}", c.message),
                _ => {}
            }
        }
        if tokio::time::Instant::now() >= deadline {
            let last = condition(&i, "BackupComplete").map_or_else(
                || "no BackupComplete condition yet".to_string(),
                |c| format!("BackupComplete={} {}: {}", c.status, c.reason, c.message),
            );
            bail!(
                "timed out after {}s waiting for the backup ({last}); is the operator running, with backup credentials?",
                args.timeout
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

fn condition<'a>(
    i: &'a OpenClawInstance,
    type_: &str,
) -> Option<&'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    i.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == type_))
}

// ----------------------------------------------------------------- restore --

pub async fn restore(ctx: &Ctx, args: &RestoreArgs) -> Result<()> {
    let name = &args.name;
    let ns = &ctx.namespace;
    let path = args.from.trim();
    if path.is_empty() {
        bail!("--from needs a backup path inside the bucket, e.g. backups/<tenant>/{name}/<stamp>");
    }
    if path.contains("://") {
        bail!(
            "--from is a path inside the bucket (e.g. backups/<tenant>/{name}/<stamp>), not a URL"
        );
    }
    let instance = get_instance(ctx, name).await?;
    let st = instance.status.clone().unwrap_or_default();
    if st.restored_from.as_deref() == Some(path) {
        bail!(
            "openclawinstance \"{name}\" was already restored from {path} (status.restoredFrom); the operator restores each distinct path once"
        );
    }
    if !args.yes {
        eprint!(
            "Restore openclawinstance \"{name}\" in namespace \"{ns}\" from {path}?\n\
             The agent is stopped while the restore runs, and its data volume is made equal to the\n\
             backup: files that are not in the backup are removed. Continue? [y/N] "
        );
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            // No echo of the answer: end the prompt's line.
            eprintln!();
        }
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            bail!("restore cancelled");
        }
    }
    let api: Api<OpenClawInstance> = Api::namespaced(ctx.client.clone(), ns);
    api.patch(
        name,
        &PatchParams {
            field_manager: Some(FIELD_MANAGER.to_string()),
            ..PatchParams::default()
        },
        &Patch::Merge(json!({"spec": {"restoreFrom": path}})),
    )
    .await
    .map_err(|e| match &e {
        kube::Error::Api(s) if s.code == 422 => {
            anyhow!("the API server refused restoreFrom: {}", s.message)
        }
        _ => instance_error(e, Some(name), ns),
    })?;
    out(&format!(
        "restore requested: openclawinstance \"{name}\" spec.restoreFrom={path}\n"
    ))?;
    if !args.wait {
        return out(&format!(
            "follow it with: kubectl openclaw status {name} -n {ns}   (phase Restoring, RestoreComplete condition)\n"
        ));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.timeout);
    loop {
        let i = get_instance(ctx, name).await?;
        let st = i.status.clone().unwrap_or_default();
        let c = condition(&i, "RestoreComplete");
        if st.restored_from.as_deref() == Some(path) {
            return out(&format!("restore completed from {path}\n"));
        }
        if let Some(c) = c.filter(|c| c.reason == "RestoreFailed" && c.message.contains(path)) {
            bail!("restore failed: {}", c.message);
        }
        if tokio::time::Instant::now() >= deadline {
            bail!(
                "timed out after {}s waiting for the restore (phase {}); is the operator running?",
                args.timeout,
                st.phase.as_deref().unwrap_or("<none>")
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

// -------------------------------------------------------------- selfconfig --

pub async fn selfconfig(ctx: &Ctx, name: &str) -> Result<()> {
    get_instance(ctx, name).await?;
    let api: Api<OpenClawSelfConfig> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let list = api.list(&ListParams::default()).await.map_err(|e| {
        anyhow!(
            "cannot list openclawselfconfigs in namespace \"{}\": {}",
            ctx.namespace,
            plain(&e)
        )
    })?;
    let mine: Vec<OpenClawSelfConfig> = list
        .items
        .into_iter()
        .filter(|r| r.spec.instance_ref == name)
        .collect();
    if mine.is_empty() {
        eprintln!(
            "No OpenClawSelfConfig requests for openclawinstance \"{name}\" in namespace \"{}\".",
            ctx.namespace
        );
        return Ok(());
    }
    out(&format::selfconfig_table(&mine, Timestamp::now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(target: serde_json::Value) -> Service {
        serde_json::from_value(json!({"spec": {"ports": [
            {"name": "canvas", "port": 18793, "targetPort": 18794},
            {"name": "gateway", "port": 18789, "targetPort": target},
        ]}}))
        .unwrap()
    }

    fn pod() -> Pod {
        serde_json::from_value(json!({"spec": {"containers": [
            {"name": "gateway-proxy", "ports": [{"name": "gw", "containerPort": 18790}]},
        ]}}))
        .unwrap()
    }

    #[test]
    fn target_port_follows_the_service() {
        assert_eq!(
            target_port(Some(&svc(json!(18790))), &pod()).unwrap(),
            18790
        );
        assert_eq!(target_port(Some(&svc(json!("gw"))), &pod()).unwrap(), 18790);
        assert!(target_port(Some(&svc(json!("nope"))), &pod()).is_err());
        assert_eq!(target_port(None, &pod()).unwrap(), 18789);
    }
}
