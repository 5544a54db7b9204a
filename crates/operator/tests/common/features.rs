//! Switching one feature on and off against the real cluster: its objects appear, the pod
//! template changes once, a converged reconcile writes nothing, and switching it off deletes
//! exactly its objects and restores the pod template and the NetworkPolicy.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicySpec};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use openclaw_api::OpenClawInstance;
use serde_json::Value;

use super::{Harness, TIMEOUT};

/// `(group, version, kind, plural)` of every kind the operator may create for an instance.
pub const KINDS: &[(&str, &str, &str, &str)] = &[
    ("", "v1", "ServiceAccount", "serviceaccounts"),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
    ),
    (
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
    ),
    ("", "v1", "Secret", "secrets"),
    ("", "v1", "ConfigMap", "configmaps"),
    ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims"),
    (
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
    ),
    ("apps", "v1", "StatefulSet", "statefulsets"),
    ("", "v1", "Service", "services"),
    ("networking.k8s.io", "v1", "Ingress", "ingresses"),
    (
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
    ),
    (
        "monitoring.coreos.com",
        "v1",
        "ServiceMonitor",
        "servicemonitors",
    ),
    (
        "monitoring.coreos.com",
        "v1",
        "PrometheusRule",
        "prometheusrules",
    ),
    ("traefik.io", "v1alpha1", "Middleware", "middlewares"),
    ("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes"),
];

/// One feature switch.
pub struct Toggle {
    /// The instance name.
    pub name: &'static str,
    /// The spec without the feature.
    pub base: Value,
    /// Deep-merged into `base` to switch the feature on.
    pub on: Value,
    /// `(kind, name)` of the objects the feature adds.
    pub objects: Vec<(&'static str, String)>,
    /// Containers (incl. init containers) the feature adds to the pod.
    pub containers: Vec<&'static str>,
    /// Whether the pod template changes when the feature is switched.
    pub rolls: bool,
}

/// What a toggle run saw, for feature-specific assertions.
pub struct Seen {
    /// The NetworkPolicy spec with the feature off.
    pub np_off: Option<NetworkPolicySpec>,
    /// The NetworkPolicy spec with the feature on.
    pub np_on: Option<NetworkPolicySpec>,
    /// The StatefulSet with the feature on.
    pub sts_on: StatefulSet,
    /// The instance with the feature on.
    pub instance_on: OpenClawInstance,
}

/// Deep-merge `patch` into `base` (objects merge, anything else replaces).
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

impl Harness {
    /// Every object of the instance, as `(kind, name)`, over the kinds the cluster serves.
    pub async fn inventory(&self, name: &str) -> BTreeSet<(String, String)> {
        let sel = format!(
            "app.kubernetes.io/managed-by=openclaw-operator,app.kubernetes.io/instance={name}"
        );
        let mut out = BTreeSet::new();
        for (group, version, kind, plural) in KINDS {
            let ar = ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk(group, version, kind),
                plural,
            );
            let api: Api<DynamicObject> =
                Api::namespaced_with(self.client.clone(), self.ns.name(), &ar);
            match api.list(&ListParams::default().labels(&sel)).await {
                Ok(list) => {
                    for o in list.items {
                        if o.metadata.deletion_timestamp.is_none() {
                            out.insert((kind.to_string(), o.metadata.name.unwrap_or_default()));
                        }
                    }
                }
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => panic!("listing {kind}: {e}"),
            }
        }
        out
    }

    /// Wait until the instance's current generation is reconciled and Running, and the
    /// controller is quiet.
    pub async fn converged(&self, name: &str) -> OpenClawInstance {
        let api = self.api::<OpenClawInstance>();
        testkit::wait_for(
            &api,
            name,
            |i: &OpenClawInstance| {
                let s = i.status.as_ref();
                s.and_then(|s| s.observed_generation) == i.metadata.generation
                    && s.and_then(|s| s.phase.as_deref()) == Some("Running")
            },
            TIMEOUT,
        )
        .await
        .unwrap_or_else(|e| panic!("{name} never converged: {e}"));
        self.settle(Duration::from_secs(2)).await;
        api.get(name).await.expect("instance")
    }

    async fn sts_generation(&self, name: &str) -> i64 {
        self.api::<StatefulSet>()
            .get(name)
            .await
            .expect("sts")
            .metadata
            .generation
            .unwrap_or_default()
    }

    async fn np(&self, name: &str) -> Option<NetworkPolicySpec> {
        self.api::<NetworkPolicy>()
            .get_opt(name)
            .await
            .expect("np")
            .and_then(|n| n.spec)
    }

    async fn wait_inventory(
        &self,
        name: &str,
        want: impl Fn(&BTreeSet<(String, String)>) -> bool,
        what: &str,
    ) {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let inv = self.inventory(name).await;
            if want(&inv) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: inventory {inv:?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Run one toggle (see the module docs).
    pub async fn toggle(&self, t: &Toggle) -> Seen {
        let name = t.name;
        // 1. Off.
        self.apply_instance(name, t.base.clone()).await;
        self.converged(name).await;
        let inv_off = self.inventory(name).await;
        let gen_off = self.sts_generation(name).await;
        let np_off = self.np(name).await;
        for (kind, obj) in &t.objects {
            assert!(
                !inv_off.contains(&(kind.to_string(), obj.clone())),
                "{kind} {obj} exists before the feature is on"
            );
        }

        // 2. On: exactly the feature's objects appear; the pod template changes once.
        let mut on = t.base.clone();
        merge(&mut on, &t.on);
        self.apply_instance(name, on).await;
        let expected: BTreeSet<(String, String)> = inv_off
            .iter()
            .cloned()
            .chain(t.objects.iter().map(|(k, n)| (k.to_string(), n.clone())))
            .collect();
        self.wait_inventory(
            name,
            |inv| expected.is_subset(inv),
            "feature objects never appeared",
        )
        .await;
        let instance_on = self.converged(name).await;
        let inv_on = self.inventory(name).await;
        assert_eq!(inv_on, expected, "switching on added other objects");
        let gen_on = self.sts_generation(name).await;
        assert_eq!(
            gen_on,
            gen_off + i64::from(t.rolls),
            "the pod template should change {} time(s)",
            u8::from(t.rolls)
        );
        let sts_on = self.api::<StatefulSet>().get(name).await.expect("sts");
        let pod = sts_on
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.clone())
            .expect("pod spec");
        let names: BTreeSet<String> = pod
            .containers
            .iter()
            .chain(pod.init_containers.iter().flatten())
            .map(|c| c.name.clone())
            .collect();
        for c in &t.containers {
            assert!(names.contains(*c), "container {c} missing: {names:?}");
        }
        let np_on = self.np(name).await;

        // 3. Converged: nothing written.
        self.counter.reset();
        self.poke(name, "toggle").await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(
            self.counter.writes(),
            0,
            "a converged reconcile wrote: {:?}",
            self.counter.write_log()
        );

        // 4. Off again: exactly its objects go, the template and the NetworkPolicy come back.
        self.apply_instance(name, t.base.clone()).await;
        self.wait_inventory(
            name,
            |inv| *inv == inv_off,
            "feature objects were not removed",
        )
        .await;
        self.converged(name).await;
        assert_eq!(self.inventory(name).await, inv_off);
        assert_eq!(
            self.sts_generation(name).await,
            gen_on + i64::from(t.rolls),
            "switching off should change the pod template once"
        );
        let pod_off = self
            .api::<StatefulSet>()
            .get(name)
            .await
            .expect("sts")
            .spec
            .and_then(|s| s.template.spec)
            .expect("pod spec");
        for c in &t.containers {
            assert!(
                !pod_off
                    .containers
                    .iter()
                    .chain(pod_off.init_containers.iter().flatten())
                    .any(|x| x.name == *c),
                "container {c} left behind"
            );
        }
        assert_eq!(self.np(name).await, np_off, "NetworkPolicy not restored");
        Seen {
            np_off,
            np_on,
            sts_on,
            instance_on,
        }
    }
}

/// `(protocol, port)` pairs of NetworkPolicy ports.
fn ports(
    ports: Option<&Vec<k8s_openapi::api::networking::v1::NetworkPolicyPort>>,
) -> BTreeSet<(String, String)> {
    ports
        .into_iter()
        .flatten()
        .map(|p| {
            let port = match &p.port {
                Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i)) => {
                    i.to_string()
                }
                Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s)) => {
                    s.clone()
                }
                None => "*".into(),
            };
            (p.protocol.clone().unwrap_or_else(|| "TCP".into()), port)
        })
        .collect()
}

/// The NetworkPolicy's ingress ports open to the namespace (first rule) and to the instance's
/// own pods only (a rule whose peer is a pod selector), and its egress ports.
pub struct NpPorts {
    /// Ingress ports of the namespace rule.
    pub ingress: BTreeSet<(String, String)>,
    /// Ingress ports open only to the instance's own pods.
    pub ingress_self: BTreeSet<(String, String)>,
    /// Egress ports (any destination).
    pub egress: BTreeSet<(String, String)>,
    /// Egress ports to the instance's own pods.
    pub egress_self: BTreeSet<(String, String)>,
}

/// Summarize a NetworkPolicy spec.
pub fn np_ports(spec: &NetworkPolicySpec) -> NpPorts {
    let self_peer = |peers: Option<&Vec<k8s_openapi::api::networking::v1::NetworkPolicyPeer>>| {
        peers
            .into_iter()
            .flatten()
            .any(|p| p.pod_selector.is_some() && p.namespace_selector.is_none())
    };
    let mut out = NpPorts {
        ingress: BTreeSet::new(),
        ingress_self: BTreeSet::new(),
        egress: BTreeSet::new(),
        egress_self: BTreeSet::new(),
    };
    for rule in spec.ingress.iter().flatten() {
        if self_peer(rule.from.as_ref()) {
            out.ingress_self.extend(ports(rule.ports.as_ref()));
        } else {
            out.ingress.extend(ports(rule.ports.as_ref()));
        }
    }
    for rule in spec.egress.iter().flatten() {
        if self_peer(rule.to.as_ref()) {
            out.egress_self.extend(ports(rule.ports.as_ref()));
        } else {
            out.egress.extend(ports(rule.ports.as_ref()));
        }
    }
    out
}

/// `("TCP", "9222")`-style pair.
pub fn tcp(port: u16) -> (String, String) {
    ("TCP".into(), port.to_string())
}

/// `("UDP", "3478")`-style pair.
pub fn udp(port: u16) -> (String, String) {
    ("UDP".into(), port.to_string())
}
