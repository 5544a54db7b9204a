//! Self-signed mode: the CA and serving certificate live in a Secret shared by all replicas, and
//! the CA is written into the `caBundle` of the webhook configurations.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::pki::{self, Health, KEY_CA_CRT, KEY_CA_KEY, KEY_TLS_CRT, KEY_TLS_KEY, Material};
use super::{SelfSigned, WebhookError};
use crate::tls::SwappableCert;

/// How often the Secret and the configurations are checked when all is well.
pub const RECHECK_INTERVAL: Duration = Duration::from_secs(10 * 60);
/// How soon a failed check (API error, missing configuration) is retried.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(10);
/// Field manager of our writes.
const MANAGER: &str = "openclaw-operator-webhook";
/// Attempts at a create/replace race before giving up for this round.
const ATTEMPTS: usize = 5;

fn kube_err(what: impl Into<String>) -> impl FnOnce(kube::Error) -> WebhookError {
    let what = what.into();
    move |source| WebhookError::Kube { what, source }
}

fn is_status(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

fn material_from(secret: &Secret) -> Option<Material> {
    let data = secret.data.as_ref()?;
    let get = |k: &str| {
        data.get(k)
            .and_then(|v| String::from_utf8(v.0.clone()).ok())
    };
    Some(Material {
        ca_cert_pem: get(KEY_CA_CRT)?,
        ca_key_pem: get(KEY_CA_KEY)?,
        cert_pem: get(KEY_TLS_CRT)?,
        key_pem: get(KEY_TLS_KEY)?,
    })
}

fn put_material(secret: &mut Secret, m: &Material) {
    let data = secret.data.get_or_insert_with(BTreeMap::new);
    for (k, v) in [
        (KEY_CA_CRT, &m.ca_cert_pem),
        (KEY_CA_KEY, &m.ca_key_pem),
        (KEY_TLS_CRT, &m.cert_pem),
        (KEY_TLS_KEY, &m.key_pem),
    ] {
        data.insert(k.to_string(), ByteString(v.as_bytes().to_vec()));
    }
}

/// Keeps the Secret, the served certificate and the `caBundle`s in line.
pub(crate) struct CertManager {
    client: Client,
    config: SelfSigned,
}

impl CertManager {
    pub(crate) fn new(client: Client, config: SelfSigned) -> Self {
        Self { client, config }
    }

    /// The material in the Secret, created or renewed as needed. Replicas converge: creation
    /// is create-if-absent and a renewal replaces the exact version read; whoever loses the
    /// race reads the winner's material.
    pub(crate) async fn ensure_secret(&self) -> Result<Material, WebhookError> {
        let (ns, name) = (&self.config.namespace, &self.config.secret_name);
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), ns);
        let hosts = &self.config.hosts;
        for _ in 0..ATTEMPTS {
            let now = OffsetDateTime::now_utc();
            let existing = secrets
                .get_opt(name)
                .await
                .map_err(kube_err(format!("reading Secret {ns}/{name}")))?;
            let Some(mut secret) = existing else {
                let m = pki::generate(hosts, now)?;
                let mut secret = Secret {
                    metadata: ObjectMeta {
                        name: Some(name.clone()),
                        namespace: Some(ns.clone()),
                        labels: Some(BTreeMap::from([
                            ("app.kubernetes.io/name".into(), "openclaw-operator".into()),
                            ("app.kubernetes.io/component".into(), "webhook-cert".into()),
                        ])),
                        ..Default::default()
                    },
                    type_: Some("kubernetes.io/tls".into()),
                    ..Default::default()
                };
                put_material(&mut secret, &m);
                let pp = PostParams {
                    field_manager: Some(MANAGER.into()),
                    ..Default::default()
                };
                match secrets.create(&pp, &secret).await {
                    Ok(_) => {
                        tracing::info!(secret = %format!("{ns}/{name}"), "created the webhook CA and serving certificate");
                        return Ok(m);
                    }
                    Err(e) if is_status(&e, 409) => continue,
                    Err(e) => return Err(kube_err(format!("creating Secret {ns}/{name}"))(e)),
                }
            };
            let stored = material_from(&secret);
            let next = match stored.as_ref().map(|m| (m, pki::assess(m, hosts, now))) {
                Some((m, Health::Good)) => return Ok(m.clone()),
                Some((m, Health::RenewLeaf(why))) => {
                    tracing::info!(secret = %format!("{ns}/{name}"), reason = %why, "renewing the webhook serving certificate (same CA)");
                    m.with_new_leaf(hosts, now)?
                }
                Some((_, Health::Regenerate(why))) => {
                    tracing::warn!(secret = %format!("{ns}/{name}"), reason = %why, "replacing the webhook CA; caBundle changes");
                    pki::generate(hosts, now)?
                }
                None => {
                    tracing::info!(secret = %format!("{ns}/{name}"), "the Secret lacks the CA or the serving pair; generating them");
                    pki::generate(hosts, now)?
                }
            };
            put_material(&mut secret, &next);
            // The resourceVersion read above guards the replace.
            let pp = PostParams {
                field_manager: Some(MANAGER.into()),
                ..Default::default()
            };
            match secrets.replace(name, &pp, &secret).await {
                Ok(_) => return Ok(next),
                Err(e) if is_status(&e, 409) => continue,
                Err(e) => return Err(kube_err(format!("updating Secret {ns}/{name}"))(e)),
            }
        }
        Err(WebhookError::Contended(format!("{ns}/{name}")))
    }

    /// Writes `ca_pem` into every webhook of the configurations that does not carry it yet.
    /// Returns whether every named configuration was found and is up to date.
    pub(crate) async fn patch_ca_bundles(&self, ca_pem: &str) -> bool {
        let mut all_good = true;
        for name in &self.config.configurations {
            let v = self
                .patch_one::<ValidatingWebhookConfiguration>(name, ca_pem)
                .await;
            let m = self
                .patch_one::<MutatingWebhookConfiguration>(name, ca_pem)
                .await;
            match (v, m) {
                (Ok(false), Ok(false)) => {
                    all_good = false;
                    tracing::warn!(
                        configuration = %name,
                        "no ValidatingWebhookConfiguration or MutatingWebhookConfiguration of this name; will retry"
                    );
                }
                (Err(e), _) | (_, Err(e)) => {
                    all_good = false;
                    tracing::warn!(configuration = %name, error = %e, "cannot update caBundle; will retry");
                }
                _ => {}
            }
        }
        all_good
    }

    /// `Ok(false)`: no such object. Otherwise patches only the webhooks whose caBundle differs.
    async fn patch_one<K>(&self, name: &str, ca_pem: &str) -> Result<bool, WebhookError>
    where
        K: Resource<DynamicType = ()>
            + Clone
            + DeserializeOwned
            + serde::Serialize
            + std::fmt::Debug,
    {
        let api: Api<K> = Api::all(self.client.clone());
        let kind = K::kind(&());
        let Some(obj) = api
            .get_opt(name)
            .await
            .map_err(kube_err(format!("reading {kind} {name}")))?
        else {
            return Ok(false);
        };
        let value = serde_json::to_value(&obj).map_err(|source| WebhookError::Json {
            what: format!("{kind} {name}"),
            source,
        })?;
        let want =
            serde_json::to_value(ByteString(ca_pem.as_bytes().to_vec())).unwrap_or(Value::Null);
        let mut ops = Vec::new();
        for (i, webhook) in value
            .get("webhooks")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if webhook.pointer("/clientConfig/caBundle") == Some(&want) {
                continue;
            }
            // The test guards against the list changing between our read and the patch.
            ops.push(json!({"op": "test", "path": format!("/webhooks/{i}/name"), "value": webhook.get("name")}));
            ops.push(json!({"op": "add", "path": format!("/webhooks/{i}/clientConfig/caBundle"), "value": want}));
        }
        if ops.is_empty() {
            return Ok(true);
        }
        let patch: json_patch::Patch =
            serde_json::from_value(Value::Array(ops)).map_err(|source| WebhookError::Json {
                what: format!("the caBundle patch of {kind} {name}"),
                source,
            })?;
        let params = PatchParams {
            field_manager: Some(MANAGER.into()),
            ..Default::default()
        };
        api.patch(name, &params, &Patch::<()>::Json(patch))
            .await
            .map_err(kube_err(format!("patching caBundle of {kind} {name}")))?;
        tracing::info!(kind = %kind, configuration = %name, "caBundle updated");
        Ok(true)
    }

    /// One round: Secret (create/renew/pick up another replica's renewal), served certificate,
    /// caBundles. Returns whether everything is in order (otherwise retry soon).
    pub(crate) async fn sync(&self, served: &SwappableCert, last: &mut Option<Material>) -> bool {
        let material = match self.ensure_secret().await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "cannot check the webhook certificate Secret; will retry");
                return false;
            }
        };
        if last.as_ref() != Some(&material) {
            match material.certified_key() {
                Ok(key) => {
                    served.set(key);
                    if last.is_some() {
                        tracing::info!("serving the renewed webhook certificate");
                    }
                    *last = Some(material.clone());
                }
                Err(e) => {
                    tracing::error!(error = %e, "the webhook certificate from the Secret is unusable");
                    return false;
                }
            }
        }
        self.patch_ca_bundles(&material.ca_cert_pem).await
    }

    /// Runs [`Self::sync`] forever: every [`RECHECK_INTERVAL`], or [`RETRY_INTERVAL`] after a
    /// problem. `last` is what `served` currently serves.
    pub(crate) async fn maintain(self, served: Arc<SwappableCert>, mut last: Option<Material>) {
        loop {
            let ok = self.sync(&served, &mut last).await;
            tokio::time::sleep(if ok { RECHECK_INTERVAL } else { RETRY_INTERVAL }).await;
        }
    }
}
