//! Ingress, HTTPRoute and HPA (design §1.9, §1.11, §1.12): snapshots of only these features'
//! objects (and of the StatefulSet fields autoscaling changes), so other features' changes do
//! not touch them; the warnings are asserted one by one.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use common::*;
use openclaw_render::features::ingress::htpasswd_sha;
use openclaw_render::{CustomKind, Desired, Object, Observed, Rendered, StatusSlot, WriteMode};
use serde_json::{Value, json};

const PASSWORD: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c";

fn observed_with_password() -> Observed {
    Observed {
        basic_auth_password: Some(PASSWORD.to_string()),
        ..observed()
    }
}

/// The objects this area renders.
fn ours(d: &Desired) -> bool {
    match &d.object {
        Object::Ingress(_) | Object::HorizontalPodAutoscaler(_) => true,
        Object::Custom(c) => matches!(
            c.kind,
            CustomKind::TraefikMiddleware | CustomKind::HttpRoute
        ),
        Object::Secret(_) => d.slot == Some(StatusSlot::BasicAuthSecret),
        _ => false,
    }
}

/// This area's objects as YAML, each preceded by its mode, phase and slot. Secret data is
/// decoded for review.
fn networking_yaml(rendered: &Rendered) -> String {
    let mut out = String::new();
    for d in rendered.objects.iter().filter(|d| ours(d)) {
        let mut v = d.object.to_value().unwrap();
        if let Object::Secret(s) = &d.object {
            let decoded: serde_json::Map<String, Value> = s
                .data
                .iter()
                .flatten()
                .map(|(k, b)| (k.clone(), json!(String::from_utf8(b.0.clone()).unwrap())))
                .collect();
            v.as_object_mut().unwrap().remove("data");
            v["stringData (decoded data)"] = Value::Object(decoded);
        }
        out.push_str(&format!(
            "# mode: {:?}, phase: {:?}, slot: {:?}\n---\n",
            d.mode, d.phase, d.slot
        ));
        out.push_str(&serde_saphyr::to_string(&v).unwrap());
    }
    out
}

fn has_warning(rendered: &Rendered, needle: &str) -> bool {
    rendered.warnings.iter().any(|w| w.contains(needle))
}

fn openclaw_json(rendered: &Rendered) -> Value {
    let cm = config_map(rendered, "-config");
    serde_json::from_str(&cm.data.as_ref().unwrap()["openclaw.json"]).unwrap()
}

fn nginx_full() -> Value {
    json!({"networking": {"ingress": {
        "enabled": true,
        "className": "NGINX-public",
        "annotations": {
            "cert-manager.io/cluster-issuer": "letsencrypt",
            "nginx.ingress.kubernetes.io/proxy-read-timeout": "60",
        },
        "hosts": [
            {"host": "openclaw.example.com"},
            {"host": "api.example.com", "paths": [
                {"path": "", "pathType": "Exact"},
                {"path": "/canvas", "pathType": "Weird", "port": 18793},
                {"path": "/raw", "pathType": "ImplementationSpecific"},
            ]},
            {"host": ""},
        ],
        "tls": [{"hosts": ["openclaw.example.com", ""], "secretName": "openclaw-tls"}],
        "security": {
            "rateLimiting": {"requestsPerSecond": 25},
            "basicAuth": {"enabled": true, "username": "ops", "realm": "Agents"},
        },
    }}})
}

#[test]
fn ingress_nginx_full() {
    let r = render_ok(&minimal_with(nginx_full()), &observed_with_password());
    insta::assert_snapshot!("ingress_nginx_full", networking_yaml(&r));
    // The operator's key wins over the user's, with a warning naming it.
    assert!(has_warning(
        &r,
        "annotations[\"nginx.ingress.kubernetes.io/proxy-read-timeout\"]"
    ));
    // The default NetworkPolicy admits only the instance's namespace.
    assert!(has_warning(
        &r,
        "ingress controller's namespace must be allowed"
    ));
    // No HSTS snippet (rejected by current ingress-nginx).
    let yaml = networking_yaml(&r);
    assert!(!yaml.contains("configuration-snippet"));
    // The Secret is applied (so a username change rewrites `auth`) and carries the vector.
    let secret = r
        .objects
        .iter()
        .find(|d| d.slot == Some(StatusSlot::BasicAuthSecret))
        .unwrap();
    assert_eq!(secret.mode, WriteMode::Apply);
    assert!(yaml.contains(&htpasswd_sha("ops", PASSWORD)));
    // TLS host → https origin; the other host → http.
    let origins = &openclaw_json(&r)["gateway"]["controlUi"]["allowedOrigins"];
    assert!(
        origins
            .as_array()
            .unwrap()
            .contains(&json!("https://openclaw.example.com"))
    );
    assert!(
        origins
            .as_array()
            .unwrap()
            .contains(&json!("http://api.example.com"))
    );
}

#[test]
fn ingress_traefik_full() {
    let r = render_ok(
        &minimal_with(json!({
            "networking": {"ingress": {
                "enabled": true,
                "className": "traefik",
                "annotations": {"traefik.ingress.kubernetes.io/router.middlewares": "mine@file"},
                "hosts": [{"host": "openclaw.example.com"}],
                "tls": [{"hosts": ["openclaw.example.com"], "secretName": "openclaw-tls"}],
                "security": {
                    "rateLimiting": {"enabled": true},
                    "basicAuth": {"enabled": true},
                },
            }},
            "security": {"networkPolicy": {"allowedIngressNamespaces": ["traefik"]}},
        })),
        &observed_with_password(),
    );
    insta::assert_snapshot!("ingress_traefik_full", networking_yaml(&r));
    let middlewares: Vec<&str> = r
        .iter()
        .filter(|o| o.kind() == "Middleware")
        .map(Object::name)
        .collect();
    assert_eq!(
        middlewares,
        ["demo-ratelimit", "demo-headers", "demo-basic-auth"]
    );
    assert!(has_warning(&r, "router.middlewares"));
    assert!(!has_warning(&r, "namespace must be allowed"));
}

#[test]
fn ingress_unknown_class() {
    let r = render_ok(
        &minimal_with(json!({"networking": {"ingress": {
            "enabled": true,
            "className": "alb",
            "annotations": {"alb.ingress.kubernetes.io/scheme": "internet-facing"},
            "hosts": [{"host": "openclaw.example.com", "paths": [{"path": "/", "port": 8080}]}],
            "security": {"rateLimiting": {"requestsPerSecond": 5}},
        }}})),
        &observed(),
    );
    insta::assert_snapshot!("ingress_unknown_class", networking_yaml(&r));
    assert!(has_warning(&r, "is neither nginx nor Traefik"));
    assert!(has_warning(
        &r,
        "backend port 8080 is not a port of the Service"
    ));
}

#[test]
fn ingress_existing_basic_auth_secret() {
    let r = render_ok(
        &minimal_with(json!({"networking": {"ingress": {
            "enabled": true,
            "className": "nginx",
            "hosts": [{"host": "openclaw.example.com"}],
            "security": {"forceHTTPS": false,
                "basicAuth": {"enabled": true, "existingSecret": "team-htpasswd"}},
        }}})),
        &observed(),
    );
    insta::assert_snapshot!("ingress_existing_basic_auth_secret", networking_yaml(&r));
    assert!(
        !r.objects
            .iter()
            .any(|d| d.slot == Some(StatusSlot::BasicAuthSecret))
    );
    assert!(!has_warning(&r, "no password was observed"));
}

#[test]
fn ingress_basic_auth_without_password_warns() {
    let r = render_ok(
        &minimal_with(json!({"networking": {"ingress": {
            "enabled": true, "className": "nginx",
            "hosts": [{"host": "openclaw.example.com"}],
            "security": {"basicAuth": {"enabled": true}},
        }}})),
        &observed(),
    );
    assert!(has_warning(&r, "no password was observed"));
    assert!(
        !r.objects
            .iter()
            .any(|d| d.slot == Some(StatusSlot::BasicAuthSecret))
    );
}

#[test]
fn ingress_off_renders_nothing_of_ours() {
    // Disabled (and a nil basicAuth.enabled is off, the CRD default).
    for patch in [
        json!({"networking": {"ingress": {"enabled": false, "hosts": [{"host": "a.example"}]}}}),
        json!({"networking": {"httpRoute": {"enabled": false, "hostnames": ["a.example"]}}}),
        json!({"availability": {"autoScaling": {"enabled": false}}}),
    ] {
        let r = render_ok(&minimal_with(patch), &observed_with_password());
        assert_eq!(networking_yaml(&r), "");
    }
    let r = render_ok(
        &minimal_with(json!({"networking": {"ingress": {
            "enabled": true, "className": "nginx",
            "hosts": [{"host": "a.example"}],
            "security": {"basicAuth": {"username": "x"}},
        }}})),
        &observed_with_password(),
    );
    assert!(!networking_yaml(&r).contains("auth-type"));
    assert!(!r.iter().any(|o| o.name() == "demo-basic-auth"));
}

#[test]
fn http_route() {
    let r = render_ok(
        &minimal_with(json!({"networking": {"httpRoute": {
            "enabled": true,
            "annotations": {"example.com/team": "agents"},
            "parentRefs": [
                {"name": "public", "namespace": "gateways", "sectionName": "https"},
                {"name": "internal"},
            ],
            "hostnames": ["openclaw.example.com", "*.agents.example.com", ""],
            "port": 18793,
        }}})),
        &observed(),
    );
    let mut out = networking_yaml(&r);
    let origins = openclaw_json(&r)["gateway"]["controlUi"]["allowedOrigins"].clone();
    out.push_str(&format!(
        "# gateway.controlUi.allowedOrigins\n{}",
        serde_saphyr::to_string(&origins).unwrap()
    ));
    insta::assert_snapshot!("http_route", out);
    let origins = origins.as_array().unwrap();
    assert!(origins.contains(&json!("https://openclaw.example.com")));
    assert!(!origins.iter().any(|o| o.as_str().unwrap().contains('*')));
    assert!(has_warning(
        &r,
        "ingress controller's namespace must be allowed"
    ));
    assert!(!has_warning(&r, "is not a port of the Service"));
}

#[test]
fn http_route_custom_ports_and_no_parents_warn() {
    let r = render_ok(
        &minimal_with(json!({"networking": {
            "service": {"ports": [{"name": "web", "port": 80, "targetPort": 18790}]},
            "httpRoute": {"enabled": true},
        }})),
        &observed(),
    );
    assert!(has_warning(
        &r,
        "backend port 18789 is not a port of the Service"
    ));
    assert!(has_warning(&r, "has no parentRefs"));
    let route = r.iter().find(|o| o.kind() == "HTTPRoute").unwrap();
    let v = route.to_value().unwrap();
    assert_eq!(v["spec"]["parentRefs"], json!([]));
    assert!(v["spec"].get("hostnames").is_none());
}

/// This area's objects, then the StatefulSet fields autoscaling changes and the PVCs.
fn autoscaling_yaml(rendered: &Rendered) -> String {
    let mut out = networking_yaml(rendered);
    let sts = statefulset(rendered).spec.as_ref().unwrap();
    let data = sts
        .template
        .spec
        .as_ref()
        .unwrap()
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "data");
    let pvcs: Vec<&str> = rendered
        .iter()
        .filter(|o| o.kind() == "PersistentVolumeClaim")
        .map(Object::name)
        .collect();
    let view = json!({
        "statefulset.spec.replicas": sts.replicas,
        "statefulset.spec.volumeClaimTemplates": sts.volume_claim_templates,
        "statefulset pod volume data": data,
        "rendered PVCs": pvcs,
    });
    out.push_str("# StatefulSet fields\n");
    out.push_str(&serde_saphyr::to_string(&view).unwrap());
    out
}

#[test]
fn autoscaling() {
    let r = render_ok(
        &minimal_with(json!({
            "availability": {"autoScaling": {"enabled": true, "minReplicas": 2,
                "maxReplicas": 4, "targetCPUUtilization": 70, "targetMemoryUtilization": 85}},
            "storage": {"persistence": {"size": "20G", "storageClass": "premium-rwo",
                "accessModes": ["ReadWriteOnce"]}},
        })),
        &observed(),
    );
    insta::assert_snapshot!("autoscaling", autoscaling_yaml(&r));
    assert!(has_warning(&r, "demo-data is no longer mounted"));
    // Every mount of the pod still names a volume or the claim template.
    let sts = statefulset(&r).spec.as_ref().unwrap();
    let pod = sts.template.spec.as_ref().unwrap();
    let mut names: Vec<&str> = pod
        .volumes
        .iter()
        .flatten()
        .map(|v| v.name.as_str())
        .collect();
    names.push("data");
    for c in pod
        .containers
        .iter()
        .chain(pod.init_containers.iter().flatten())
    {
        for mount in c.volume_mounts.iter().flatten() {
            assert!(names.contains(&mount.name.as_str()), "{}", mount.name);
        }
    }
}

#[test]
fn autoscaling_existing_claim_is_ignored_with_a_warning() {
    let r = render_ok(
        &minimal_with(json!({
            "availability": {"autoScaling": {"enabled": true}},
            "storage": {"persistence": {"existingClaim": "shared"}},
        })),
        &observed(),
    );
    assert!(has_warning(&r, "existingClaim \"shared\" is not used"));
    let sts = statefulset(&r).spec.as_ref().unwrap();
    assert!(sts.volume_claim_templates.is_some());
}

#[test]
fn autoscaling_persistence_off() {
    let r = render_ok(
        &minimal_with(json!({
            "availability": {"autoScaling": {"enabled": true}},
            "storage": {"persistence": {"enabled": false}},
        })),
        &observed(),
    );
    insta::assert_snapshot!("autoscaling_persistence_off", autoscaling_yaml(&r));
    assert!(!has_warning(&r, "no longer mounted"));
}
