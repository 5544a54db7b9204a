//! Chromium sidecar (`docs/design/optional-features.md` §1.1), when `chromium.enabled`.
//!
//! - `chromium`: a native sidecar (an init container with `restartPolicy: Always`), so the main
//!   container starts only after Chromium's startup probe has passed. For the default image
//!   (`docker.io/chromedp/headless-shell`) a socat forwarder exposes Chrome's loopback-only
//!   DevTools port 9223 on 9222; custom images keep their entrypoint.
//! - volumes `chromium-tmp`, `chromium-shm` (memory, 1Gi) and `chromium-data` (the profile: a
//!   PVC with `persistence.enabled`, otherwise an emptyDir);
//! - the PVC `<name>-chromium-data` (persistence on, no `existingClaim`), created once;
//! - the headless Service `<name>-cdp` and the main Service port `chromium` 9222;
//! - NetworkPolicy: 9222 only between the instance's own pods (never from the namespace);
//! - `openclaw.json`: `browser.defaultProfile`, `browser.attachOnly` and the `default`/`chrome`
//!   profiles' `cdpUrl`, each only when absent. The Go operator's `browser.remoteCdpTimeoutMs`
//!   and `profiles.*.color` are never added: OpenClaw 2026.9.6 rejects them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, EnvVar, HTTPGetAction, PersistentVolumeClaim, PersistentVolumeClaimSpec, Probe,
    Service, ServicePort, ServiceSpec, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::api::networking::v1::NetworkPolicyPort;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use openclaw_api::{ChromiumImageSpec, ChromiumPersistenceSpec, ChromiumSpec};
use serde_json::{Map, Value};

use super::hooks::{Feature, NetParts, PodParts};
use super::sidecar_util::{image_ref, object_at, repository, set_default, size};
use crate::k8s::container::{ResourceDefault, env_value, merge_env, port, resources};
use crate::k8s::meta::component_meta;
use crate::k8s::meta::selector_labels;
use crate::k8s::net::{network_policy_port, service_port as k8s_service_port};
use crate::k8s::security::hardened;
use crate::k8s::volume::{empty_dir, mount, pvc_volume, sized_empty_dir};
use crate::model::Model;
use crate::model::non_empty;
use crate::{Desired, Object, Phase, RenderError, StatusSlot};

/// Container name (and the component label of its objects).
pub const NAME: &str = "chromium";
/// The DevTools (CDP) port the sidecar serves.
pub const CDP_PORT: i32 = 9222;
/// Main container variable with the CDP URL; `openclaw.json` refers to it.
pub const CDP_ENV: &str = "OPENCLAW_CHROMIUM_CDP";
/// What the enrichment writes as a profile's `cdpUrl` (OpenClaw expands it).
pub const CDP_URL_PLACEHOLDER: &str = "${OPENCLAW_CHROMIUM_CDP}";
/// Stored repositories that mean the default image (the retired browserless default and the
/// unqualified short name).
pub const LEGACY_REPOSITORIES: &[&str] =
    &["ghcr.io/browserless/chromium", "chromedp/headless-shell"];
/// Tag of the default image when none is given (and instead of `latest`).
pub const DEFAULT_IMAGE_TAG: &str = "stable";
/// Mount path of the profile volume.
pub const DATA_DIR: &str = "/chromium-data";
/// The flag pointing Chrome at the profile volume (persistence on).
pub const USER_DATA_DIR_ARG: &str = "--user-data-dir=/chromium-data";
/// Chrome's flags before `extraArgs`.
pub const DEFAULT_ARGS: &[&str] = &[
    "--no-sandbox",
    "--disable-gpu",
    "--disable-software-rasterizer",
    "--disable-blink-features=AutomationControlled",
    "--disable-features=AutomationControlled",
    "--no-first-run",
    "--disable-oom-score-adj",
];
/// The default image's entrypoint: socat exposes Chrome's loopback DevTools port 9223 on 9222
/// (headless-shell ignores `--remote-debugging-address`), then Chrome runs with the container's
/// arguments (`"$@"`, after the `--` that fills `$0`).
pub const SOCAT_SCRIPT: &str = "exec socat TCP4-LISTEN:9222,fork TCP4:127.0.0.1:9223 &\nexec /headless-shell/headless-shell --no-sandbox --use-gl=angle --use-angle=swiftshader --remote-debugging-address=0.0.0.0 --remote-debugging-port=9223 \"$@\"";
/// UID of the sidecar (`nobody`).
pub const UID: i64 = 65534;
/// Default size of the profile PVC.
pub const DEFAULT_PVC_SIZE: &str = "1Gi";

const RESOURCES: ResourceDefault = ResourceDefault {
    requests: ("250m", "512Mi"),
    limits: ("1", "2Gi"),
};

/// Volume names.
pub mod volume {
    /// `/tmp` of the sidecar.
    pub const TMP: &str = "chromium-tmp";
    /// `/dev/shm` of the sidecar.
    pub const SHM: &str = "chromium-shm";
    /// The browser profile.
    pub const DATA: &str = "chromium-data";
}

/// Chromium sidecar.
pub struct Chromium;

/// The registry entry.
pub static T: Chromium = Chromium;

fn spec<'a>(m: &'a Model<'_>) -> Option<&'a ChromiumSpec> {
    m.spec.chromium.as_ref()
}

fn persistence<'a>(m: &'a Model<'_>) -> Option<&'a ChromiumPersistenceSpec> {
    spec(m)?
        .persistence
        .as_ref()
        .filter(|p| p.enabled == Some(true))
}

/// The PVC of the profile, when persistence is on: `(claim name, whether the operator
/// creates it)`.
pub fn claim(m: &Model) -> Option<(String, bool)> {
    let p = persistence(m)?;
    Some(match non_empty(p.existing_claim.as_ref()) {
        Some(c) => (c.to_string(), false),
        None => (format!("{}-chromium-data", m.name), true),
    })
}

/// The repository and tag to use, from the stored `repository` and `tag`: legacy defaults
/// become the default repository; an empty tag is [`DEFAULT_IMAGE_TAG`] for the default
/// repository (which also replaces `latest` there) and `latest` for any other.
pub fn repository_and_tag<'a>(repo: Option<&String>, tag: Option<&'a String>) -> (String, &'a str) {
    let (repo, _) = repository(
        repo,
        ChromiumImageSpec::DEFAULT_REPOSITORY,
        LEGACY_REPOSITORIES,
    );
    let is_default = repo == ChromiumImageSpec::DEFAULT_REPOSITORY;
    let tag = match (non_empty(tag), is_default) {
        (None | Some("latest"), true) => DEFAULT_IMAGE_TAG,
        (None, false) => "latest",
        (Some(t), _) => t,
    };
    (repo, tag)
}

/// The image reference and whether it is the default image (which gets the socat entrypoint).
pub fn image(m: &Model, warnings: &mut Vec<String>) -> (String, bool) {
    let image = spec(m).and_then(|c| c.image.as_ref());
    let user_repo = image.and_then(|i| i.repository.as_ref());
    if non_empty(user_repo) == Some(LEGACY_REPOSITORIES[0]) {
        warnings.push(format!(
            "spec.chromium.image.repository {:?} is the retired default; using {}",
            LEGACY_REPOSITORIES[0],
            ChromiumImageSpec::DEFAULT_REPOSITORY
        ));
    }
    let (repo, tag) = repository_and_tag(user_repo, image.and_then(|i| i.tag.as_ref()));
    (
        image_ref(m, &repo, tag, image.and_then(|i| i.digest.as_ref())),
        repo == ChromiumImageSpec::DEFAULT_REPOSITORY,
    )
}

/// The text before `=` (the whole argument when it has none).
pub fn flag_key(arg: &str) -> &str {
    arg.split_once('=').map_or(arg, |(k, _)| k)
}

/// Merge `extra` into `args` by [`flag_key`]: an argument whose key is already present replaces
/// that entry in place (so later duplicates win), a new key is appended.
pub fn merge_args(args: &mut Vec<String>, extra: impl IntoIterator<Item = String>) {
    for arg in extra {
        match args.iter_mut().find(|a| flag_key(a) == flag_key(&arg)) {
            Some(existing) => *existing = arg,
            None => args.push(arg),
        }
    }
}

/// Chrome's arguments: [`DEFAULT_ARGS`], `extraArgs` merged by key, then (persistence on)
/// [`USER_DATA_DIR_ARG`] through the same merge, so it replaces a user `--user-data-dir` (with a
/// warning) instead of duplicating it.
pub fn args(extra: &[String], persistence: bool, warnings: &mut Vec<String>) -> Vec<String> {
    let mut args: Vec<String> = DEFAULT_ARGS.iter().map(|a| a.to_string()).collect();
    merge_args(&mut args, extra.iter().filter(|a| !a.is_empty()).cloned());
    if persistence {
        let key = flag_key(USER_DATA_DIR_ARG);
        if let Some(user) = args
            .iter()
            .find(|a| flag_key(a) == key && *a != USER_DATA_DIR_ARG)
        {
            warnings.push(format!(
                "spec.chromium.extraArgs {user:?} is replaced by {USER_DATA_DIR_ARG}: the persistent profile lives on the chromium-data volume"
            ));
        }
        merge_args(&mut args, [USER_DATA_DIR_ARG.to_string()]);
    }
    args
}

fn container(m: &Model, warnings: &mut Vec<String>) -> Container {
    let c = spec(m);
    let (image, is_default) = image(m, warnings);
    let extra = c.and_then(|c| c.extra_args.as_deref()).unwrap_or_default();
    let env: Vec<EnvVar> = merge_env(
        vec![env_value("HOME", "/tmp")],
        c.and_then(|c| c.extra_env.as_ref()),
    );
    Container {
        name: NAME.to_string(),
        image: Some(image),
        image_pull_policy: Some("IfNotPresent".to_string()),
        restart_policy: Some("Always".to_string()),
        command: is_default.then(|| {
            vec![
                "/bin/bash".to_string(),
                "-c".to_string(),
                SOCAT_SCRIPT.to_string(),
                "--".to_string(),
            ]
        }),
        args: Some(args(extra, persistence(m).is_some(), warnings)),
        ports: Some(vec![port("cdp", CDP_PORT)]),
        env: Some(env),
        resources: Some(resources(
            c.and_then(|c| c.resources.as_ref()),
            &RESOURCES,
            "spec.chromium.resources",
            warnings,
        )),
        // headless-shell writes outside /tmp, so the root filesystem stays writable.
        security_context: Some(hardened(false, true, Some(UID))),
        volume_mounts: Some(mounts()),
        startup_probe: Some(Probe {
            http_get: Some(HTTPGetAction {
                path: Some("/json/version".to_string()),
                port: IntOrString::Int(CDP_PORT),
                scheme: Some("HTTP".to_string()),
                ..Default::default()
            }),
            initial_delay_seconds: Some(1),
            period_seconds: Some(2),
            timeout_seconds: Some(5),
            success_threshold: Some(1),
            failure_threshold: Some(15),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn mounts() -> Vec<VolumeMount> {
    vec![
        mount(volume::TMP, "/tmp", None, false),
        mount(volume::SHM, "/dev/shm", None, false),
        mount(volume::DATA, DATA_DIR, None, false),
    ]
}

fn tcp(number: i32) -> NetworkPolicyPort {
    network_policy_port("TCP", number)
}

fn pvc(m: &Model, name: String, warnings: &mut Vec<String>) -> PersistentVolumeClaim {
    let p = persistence(m);
    let size = size(
        p.and_then(|p| p.size.as_ref()),
        DEFAULT_PVC_SIZE,
        "spec.chromium.persistence.size",
        warnings,
    );
    PersistentVolumeClaim {
        metadata: component_meta(m, name, NAME),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_string()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_string(), Quantity(size))])),
                ..Default::default()
            }),
            storage_class_name: p
                .and_then(|p| non_empty(p.storage_class.as_ref()))
                .map(str::to_string),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn cdp_service(m: &Model) -> Service {
    Service {
        metadata: component_meta(m, format!("{}-cdp", m.name), NAME),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_string()),
            cluster_ip: Some("None".to_string()),
            selector: Some(selector_labels(&m.name)),
            publish_not_ready_addresses: Some(true),
            ports: Some(vec![service_port("cdp")]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn service_port(name: &str) -> ServicePort {
    k8s_service_port(name, CDP_PORT, CDP_PORT, "TCP")
}

/// Accent colours of the profiles the operator declares, for OpenClaw versions that require one
/// per profile (up to 2026.7; 2026.9 dropped the key and rejects it).
const PROFILE_COLORS: [(&str, &str); 2] = [("default", "#FF4500"), ("chrome", "#00AA00")];

/// The `browser` keys (each only when absent; a non-object on the way gets a warning).
/// `profile_color`: the OpenClaw version requires `browser.profiles.<name>.color`.
pub fn enrich_browser(
    config: &mut Map<String, Value>,
    profile_color: bool,
    warnings: &mut Vec<String>,
) {
    let Some(browser) = object_at(config, "browser", "browser", warnings) else {
        return;
    };
    set_default(browser, "defaultProfile", Value::from("default"));
    set_default(browser, "attachOnly", Value::Bool(true));
    let Some(profiles) = object_at(browser, "profiles", "browser.profiles", warnings) else {
        return;
    };
    for name in ["default", "chrome"] {
        let path = format!("browser.profiles.{name}");
        let Some(profile) = object_at(profiles, name, &path, warnings) else {
            continue;
        };
        if !profile.contains_key("cdpUrl") && !profile.contains_key("cdpPort") {
            profile.insert("cdpUrl".to_string(), Value::from(CDP_URL_PLACEHOLDER));
        }
        if profile_color && let Some((_, color)) = PROFILE_COLORS.iter().find(|(n, _)| *n == name) {
            set_default(profile, "color", Value::from(*color));
        }
    }
}

impl Feature for Chromium {
    fn name(&self) -> &'static str {
        NAME
    }

    fn enabled(&self, m: &Model) -> bool {
        spec(m).and_then(|c| c.enabled) == Some(true)
    }

    fn enrich(&self, m: &Model, config: &mut Map<String, Value>, warnings: &mut Vec<String>) {
        let color = m.openclaw_accepts(&["browser", "profiles", "default", "color"]);
        enrich_browser(config, color, warnings);
    }

    fn pod(&self, m: &Model, parts: &mut PodParts, warnings: &mut Vec<String>) {
        parts.init_containers.push(container(m, warnings));
        parts.volumes.push(empty_dir(volume::TMP));
        parts
            .volumes
            .push(sized_empty_dir(volume::SHM, Some("Memory"), "1Gi"));
        parts.volumes.push(match claim(m) {
            Some((claim, _)) => pvc_volume(volume::DATA, &claim),
            None => empty_dir(volume::DATA),
        });
        parts
            .main_env
            .push(env_value(CDP_ENV, &format!("http://127.0.0.1:{CDP_PORT}")));
    }

    fn service_ports(&self, _m: &Model) -> Vec<ServicePort> {
        vec![service_port(NAME)]
    }

    fn network(&self, _m: &Model, net: &mut NetParts) {
        net.ingress_self_only.push(tcp(CDP_PORT));
        net.egress_self.push(tcp(CDP_PORT));
    }

    fn objects(
        &self,
        m: &Model,
        out: &mut Vec<Desired>,
        warnings: &mut Vec<String>,
    ) -> Result<(), RenderError> {
        if let Some((name, true)) = claim(m) {
            out.push(Desired::create_only(
                Object::PersistentVolumeClaim(pvc(m, name, warnings)),
                Phase::Storage,
                Some(StatusSlot::ChromiumPvc),
            ));
        }
        out.push(Desired::apply(
            Object::Service(cdp_service(m)),
            Phase::Exposure,
            None,
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn image_migration_and_tags() {
        let d = "docker.io/chromedp/headless-shell";
        for (repo, tag, want_repo, want_tag) in [
            (None, None, d, "stable"),
            (Some(""), Some(""), d, "stable"),
            (Some("ghcr.io/browserless/chromium"), None, d, "stable"),
            (
                Some("ghcr.io/browserless/chromium"),
                Some("latest"),
                d,
                "stable",
            ),
            (Some("chromedp/headless-shell"), Some("128.0"), d, "128.0"),
            (Some(d), Some("latest"), d, "stable"),
            (
                Some("registry.example/chrome"),
                None,
                "registry.example/chrome",
                "latest",
            ),
            (
                Some("registry.example/chrome"),
                Some("1"),
                "registry.example/chrome",
                "1",
            ),
        ] {
            let repo = repo.map(str::to_string);
            let tag = tag.map(str::to_string);
            assert_eq!(
                repository_and_tag(repo.as_ref(), tag.as_ref()),
                (want_repo.to_string(), want_tag),
                "{repo:?} {tag:?}"
            );
        }
    }

    #[test]
    fn extra_args_merge_by_key() {
        let mut w = Vec::new();
        let out = args(
            &s(&[
                "--disable-gpu=false",
                "--lang=de-DE",
                "",
                "--window-size=1280,800",
                "--lang=fr-FR",
            ]),
            false,
            &mut w,
        );
        assert_eq!(
            out,
            s(&[
                "--no-sandbox",
                "--disable-gpu=false",
                "--disable-software-rasterizer",
                "--disable-blink-features=AutomationControlled",
                "--disable-features=AutomationControlled",
                "--no-first-run",
                "--disable-oom-score-adj",
                "--lang=fr-FR",
                "--window-size=1280,800",
            ])
        );
        assert!(w.is_empty());
    }

    #[test]
    fn user_data_dir_goes_through_the_merge_and_wins() {
        let mut w = Vec::new();
        let out = args(&s(&["--user-data-dir=/tmp/p", "--lang=de"]), true, &mut w);
        assert_eq!(
            out.iter()
                .filter(|a| a.starts_with("--user-data-dir"))
                .count(),
            1
        );
        assert_eq!(out[7], USER_DATA_DIR_ARG);
        assert_eq!(out[8], "--lang=de");
        assert_eq!(w.len(), 1, "{w:?}");

        // The same value as ours: no warning; without persistence the user's value stays.
        let mut w = Vec::new();
        let out = args(&s(&[USER_DATA_DIR_ARG]), true, &mut w);
        assert_eq!(out.last().map(String::as_str), Some(USER_DATA_DIR_ARG));
        assert!(w.is_empty());
        let out = args(&s(&["--user-data-dir=/tmp/p"]), false, &mut w);
        assert_eq!(
            out.last().map(String::as_str),
            Some("--user-data-dir=/tmp/p")
        );
        // Persistence with no user flag appends it.
        let out = args(&[], true, &mut w);
        assert_eq!(out.len(), DEFAULT_ARGS.len() + 1);
    }

    #[test]
    fn browser_enrichment_adds_only_absent_keys() {
        let mut config = json!({"browser": {
            "defaultProfile": "work",
            "profiles": {
                "work": {"cdpUrl": "http://x:9222"},
                "chrome": {"cdpPort": 9333},
            }
        }});
        let mut w = Vec::new();
        enrich_browser(config.as_object_mut().unwrap(), false, &mut w);
        assert_eq!(
            config,
            json!({"browser": {
                "defaultProfile": "work",
                "attachOnly": true,
                "profiles": {
                    "work": {"cdpUrl": "http://x:9222"},
                    "chrome": {"cdpPort": 9333},
                    "default": {"cdpUrl": "${OPENCLAW_CHROMIUM_CDP}"},
                }
            }})
        );
        assert!(w.is_empty());
        let once = config.clone();
        enrich_browser(config.as_object_mut().unwrap(), false, &mut w);
        assert_eq!(config, once, "idempotent");
    }

    #[test]
    fn browser_non_objects_are_kept_with_a_warning() {
        for (mut config, warnings) in [
            (json!({"browser": true}), 1),
            (json!({"browser": {"profiles": []}}), 1),
            (json!({"browser": {"profiles": {"default": "x"}}}), 1),
        ] {
            let before = config.clone();
            let mut w = Vec::new();
            enrich_browser(config.as_object_mut().unwrap(), false, &mut w);
            assert_eq!(w.len(), warnings, "{before}: {w:?}");
            if before["browser"].is_boolean() {
                assert_eq!(config, before);
            }
            if let Some(p) = before["browser"].get("profiles") {
                if p.is_array() {
                    assert_eq!(config["browser"]["profiles"], json!([]));
                } else {
                    assert_eq!(config["browser"]["profiles"]["default"], json!("x"));
                    assert_eq!(
                        config["browser"]["profiles"]["chrome"]["cdpUrl"],
                        json!(CDP_URL_PLACEHOLDER)
                    );
                }
            }
        }
    }

    #[test]
    fn rejected_keys_are_never_added() {
        let mut config = json!({});
        enrich_browser(config.as_object_mut().unwrap(), false, &mut Vec::new());
        let text = config.to_string();
        assert!(!text.contains("remoteCdpTimeoutMs"), "{text}");
        assert!(!text.contains("color"), "{text}");
    }
}
