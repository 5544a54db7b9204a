//! Web terminal (`docs/design/optional-features.md` §1.3), when `webTerminal.enabled`: a ttyd
//! sidecar on port 7681 with a shell on the data volume.
//!
//! - `web-terminal`: `ttyd -W sh` (writable), or `-R` with `readOnly` (the data volume is then
//!   mounted read-only as well). With `credential`, ttyd asks for basic auth; the user name and
//!   password come from the Secret through env and are expanded by the shell, so no value is
//!   ever written into the command.
//! - volume `web-terminal-tmp`; Service port `web-terminal` 7681, which the NetworkPolicy
//!   admits from the gateway's sources (it follows the Service's ports).
//! - Without a credential anyone who reaches the port gets a shell: a warning says so.

use k8s_openapi::api::core::v1::{Container, ServicePort};
use openclaw_api::{WebTerminalImageSpec, WebTerminalSpec};

use super::hooks::{Feature, PodParts};
use super::sidecar_util::{image_ref, repository};
use crate::consts::{DEFAULT_POD_ID, STATE_DIR, volume as core_volume};
use crate::k8s::container::{ResourceDefault, port, resources, secret_env};
use crate::k8s::net::service_port;
use crate::k8s::security::{hardened, pod_run_as_non_root};
use crate::k8s::volume::{empty_dir, mount};
use crate::model::Model;
use crate::model::non_empty;

/// Container name (and Service port name).
pub const NAME: &str = "web-terminal";
/// ttyd's port.
pub const PORT: i32 = 7681;
/// `/tmp` of the sidecar.
pub const TMP_VOLUME: &str = "web-terminal-tmp";
/// The stored short name of the default repository.
pub const LEGACY_REPOSITORIES: &[&str] = &["tsl0922/ttyd"];
/// Env var with the user name (from the credential Secret's `username`).
pub const USERNAME_ENV: &str = "TTYD_USERNAME";
/// Env var with the password (from the credential Secret's `password`).
pub const PASSWORD_ENV: &str = "TTYD_PASSWORD";
/// The warning when no credential is set.
pub const NO_CREDENTIAL_WARNING: &str = "web terminal without credential: anyone who can reach port 7681 gets a shell on the data volume";

const RESOURCES: ResourceDefault = ResourceDefault {
    requests: ("50m", "64Mi"),
    limits: ("200m", "128Mi"),
};

/// Web terminal sidecar.
pub struct WebTerminal;

/// The registry entry.
pub static T: WebTerminal = WebTerminal;

fn spec<'a>(m: &'a Model<'_>) -> Option<&'a WebTerminalSpec> {
    m.spec.web_terminal.as_ref()
}

/// The Secret with `username` and `password`, when a credential is set.
pub fn credential_secret(m: &Model) -> Option<String> {
    spec(m)
        .filter(|w| w.enabled == Some(true))?
        .credential
        .as_ref()
        .map(|c| c.secret_ref.name.clone())
        .filter(|n| !n.is_empty())
}

/// The shell command: `exec ttyd <-R|-W> [-c "${TTYD_USERNAME}:${TTYD_PASSWORD}"] sh`.
pub fn script(read_only: bool, credential: bool) -> String {
    let mut flags = vec![if read_only { "-R" } else { "-W" }.to_string()];
    if credential {
        flags.push(format!("-c \"${{{USERNAME_ENV}}}:${{{PASSWORD_ENV}}}\""));
    }
    format!("exec ttyd {} sh", flags.join(" "))
}

fn image(m: &Model) -> String {
    let image = spec(m).and_then(|w| w.image.as_ref());
    let (repo, _) = repository(
        image.and_then(|i| i.repository.as_ref()),
        WebTerminalImageSpec::DEFAULT_REPOSITORY,
        LEGACY_REPOSITORIES,
    );
    let tag =
        non_empty(image.and_then(|i| i.tag.as_ref())).unwrap_or(WebTerminalImageSpec::DEFAULT_TAG);
    image_ref(m, &repo, tag, image.and_then(|i| i.digest.as_ref()))
}

fn container(m: &Model, warnings: &mut Vec<String>) -> Container {
    let w = spec(m);
    let read_only = w.and_then(|w| w.read_only) == Some(true);
    let secret = credential_secret(m);
    if secret.is_none() {
        warnings.push(NO_CREDENTIAL_WARNING.to_string());
    }
    let env = secret.as_deref().map(|s| {
        vec![
            secret_env(USERNAME_ENV, s, "username"),
            secret_env(PASSWORD_ENV, s, "password"),
        ]
    });
    Container {
        name: NAME.to_string(),
        image: Some(image(m)),
        image_pull_policy: Some("IfNotPresent".to_string()),
        command: Some(vec![
            "sh".to_string(),
            "-c".to_string(),
            script(read_only, secret.is_some()),
        ]),
        ports: Some(vec![port(NAME, PORT)]),
        env,
        resources: Some(resources(
            w.and_then(|w| w.resources.as_ref()),
            &RESOURCES,
            "spec.webTerminal.resources",
            warnings,
        )),
        security_context: Some(hardened(
            false,
            pod_run_as_non_root(m),
            Some(DEFAULT_POD_ID),
        )),
        volume_mounts: Some(vec![
            mount(core_volume::DATA, STATE_DIR, None, read_only),
            mount(TMP_VOLUME, "/tmp", None, false),
        ]),
        ..Default::default()
    }
}

impl Feature for WebTerminal {
    fn name(&self) -> &'static str {
        NAME
    }

    fn enabled(&self, m: &Model) -> bool {
        spec(m).and_then(|w| w.enabled) == Some(true)
    }

    fn pod(&self, m: &Model, parts: &mut PodParts, warnings: &mut Vec<String>) {
        parts.sidecars.push(container(m, warnings));
        parts.volumes.push(empty_dir(TMP_VOLUME));
    }

    fn service_ports(&self, _m: &Model) -> Vec<ServicePort> {
        vec![service_port(NAME, PORT, PORT, "TCP")]
    }
}

#[cfg(test)]
mod tests {
    use super::script;

    #[test]
    fn scripts() {
        assert_eq!(script(false, false), "exec ttyd -W sh");
        assert_eq!(script(true, false), "exec ttyd -R sh");
        assert_eq!(
            script(false, true),
            r#"exec ttyd -W -c "${TTYD_USERNAME}:${TTYD_PASSWORD}" sh"#
        );
    }
}
