//! A real S3 server on loopback, and the real rclone, for the backup and restore tests.
//!
//! `hack/s3/build.sh` builds both from their Go modules (versions in `hack/s3/versions.sh`) into
//! `$OPENCLAW_CACHE_DIR/s3/<key>/bin`; `hack/test.sh` exports that directory as
//! `OPENCLAW_S3_BIN`. Without the variable the tools are looked up with
//! `hack/s3/build.sh --print-bin-dir` (so a plain `cargo test` finds an earlier build).
//!
//! The server is the Versity S3 Gateway with its POSIX backend: every bucket is a directory
//! under [`S3Server::root_dir`] and every object a plain file in it (metadata in extended
//! attributes), which makes what a backup stored easy to inspect.
//!
//! ```no_run
//! # fn t() -> Result<(), testkit::s3::Error> {
//! // Skips (None) when the tools are not built, unless OPENCLAW_REQUIRE_S3 is set.
//! let Some(tools) = testkit::s3::tools() else { return Ok(()) };
//! let mut server = testkit::s3::S3Server::start_with(&tools)?;
//! let listing = server.rclone(&["lsf", "-R", &server.remote("")]).output();
//! server.stop();      // SIGKILL, as a crash
//! server.restart()?;  // same port, keys and data
//! # let _ = listing; Ok(()) }
//! ```

use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rand::Rng as _;
use rand::distr::Alphanumeric;
use tempfile::TempDir;

/// Set this environment variable (to anything but `0` or an empty string) to turn "the S3 tools
/// are not built" from a skip into a test failure (`hack/test.sh` sets it).
pub const REQUIRE_S3_ENV: &str = "OPENCLAW_REQUIRE_S3";
/// The directory holding the `versitygw` and `rclone` binaries (`hack/test.sh` sets it).
pub const S3_BIN_ENV: &str = "OPENCLAW_S3_BIN";
/// The bucket [`S3Server::start`] creates.
pub const BUCKET: &str = "openclaw-backups";
/// How long [`S3Server::start`] waits for the server to answer.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// The health endpoint the server is started with.
const HEALTH_PATH: &str = "/health";

/// Errors of the S3 harness.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The tools are not built (or `OPENCLAW_S3_BIN` points to the wrong place).
    #[error("the S3 tools are not available: {0}; run hack/s3/build.sh")]
    NotInstalled(String),
    /// A file or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The server did not come up, or a setup command failed.
    #[error("{what}: {detail}")]
    Start {
        /// What failed.
        what: String,
        /// Its output, or the server's log tail.
        detail: String,
    },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Whether `OPENCLAW_REQUIRE_S3` makes missing tools a failure.
pub fn required() -> bool {
    non_empty_env(REQUIRE_S3_ENV).is_some_and(|v| v != "0")
}

/// The built tools: `versitygw` and `rclone` in one directory.
#[derive(Clone, Debug)]
pub struct Tools {
    bin_dir: PathBuf,
}

impl Tools {
    /// Finds the tools: `$OPENCLAW_S3_BIN`, else what `hack/s3/build.sh --print-bin-dir` says.
    pub fn locate() -> Result<Tools, Error> {
        let bin_dir = match non_empty_env(S3_BIN_ENV) {
            Some(dir) => PathBuf::from(dir),
            None => print_bin_dir()?,
        };
        for tool in ["versitygw", "rclone"] {
            let path = bin_dir.join(tool);
            if !path.is_file() {
                return Err(Error::NotInstalled(format!(
                    "{} is missing",
                    path.display()
                )));
            }
        }
        Ok(Tools { bin_dir })
    }

    /// The directory of both binaries (put it first in `PATH` so that `rclone` is this one).
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The `rclone` binary.
    pub fn rclone(&self) -> PathBuf {
        self.bin_dir.join("rclone")
    }

    /// The `versitygw` binary.
    pub fn versitygw(&self) -> PathBuf {
        self.bin_dir.join("versitygw")
    }
}

fn print_bin_dir() -> Result<PathBuf, Error> {
    let script = build_script();
    let output = Command::new("bash")
        .arg(&script)
        .arg("--print-bin-dir")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            Error::NotInstalled(format!(
                "{S3_BIN_ENV} is not set and {} failed: {e}",
                script.display()
            ))
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    match stdout.lines().next().map(str::trim) {
        Some(dir) if output.status.success() && !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => Err(Error::NotInstalled(format!(
            "{S3_BIN_ENV} is not set and `{} --print-bin-dir` says: {}",
            script.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ))),
    }
}

/// `hack/s3/build.sh` of this repository.
pub fn build_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hack/s3/build.sh")
}

/// The entry point for tests: the tools, or `None` after printing that the test is skipped;
/// with `OPENCLAW_REQUIRE_S3` set it panics (fails the test) instead.
pub fn tools() -> Option<Tools> {
    match Tools::locate() {
        Ok(tools) => Some(tools),
        Err(e) => skip_or_fail(&e.to_string()),
    }
}

/// The `rclone` binary (see [`Tools::locate`]).
pub fn rclone_bin() -> Result<PathBuf, Error> {
    Ok(Tools::locate()?.rclone())
}

// Panicking is the contract: with OPENCLAW_REQUIRE_S3 set, missing tools must fail the calling
// test, and a panic is how a test fails.
#[allow(clippy::panic)]
fn skip_or_fail<T>(why: &str) -> Option<T> {
    let test = thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_owned();
    if required() {
        panic!("{test}: {why}, and {REQUIRE_S3_ENV} is set");
    }
    // The real stderr, not eprintln! (which the test harness captures).
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {why} (set {REQUIRE_S3_ENV}=1 to fail instead)"
    );
    None
}

fn random_string(len: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// A running versitygw (POSIX backend) on `127.0.0.1:<free port>`, with a temporary root dir,
/// random root credentials and one bucket ([`BUCKET`]). Killed (SIGKILL) on drop; the root dir
/// is removed then too.
#[derive(Debug)]
pub struct S3Server {
    // Field order: the process dies before its directories go.
    child: Option<Child>,
    tools: Tools,
    port: u16,
    access_key: String,
    secret_key: String,
    scratch: TempDir,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

impl S3Server {
    /// Locates the tools ([`Tools::locate`]) and starts a server (see [`S3Server::start_with`]).
    pub fn start() -> Result<S3Server, Error> {
        Self::start_with(&Tools::locate()?)
    }

    /// Starts a server, waits until it answers, and creates [`BUCKET`] with `rclone mkdir`.
    pub fn start_with(tools: &Tools) -> Result<S3Server, Error> {
        let scratch = tempfile::Builder::new()
            .prefix("openclaw-s3-")
            .tempdir()
            .map_err(io_err("creating the S3 server's directory"))?;
        let root = scratch.path().join("root");
        fs::create_dir(&root).map_err(io_err(format!("creating {}", root.display())))?;
        // An empty config file: rclone then has no remotes and prints no "not found" notice.
        let config = scratch.path().join("rclone.conf");
        fs::write(&config, "").map_err(io_err(format!("writing {}", config.display())))?;
        let port = crate::process::free_port().map_err(io_err("finding a free port"))?;
        let mut server = S3Server {
            child: None,
            tools: tools.clone(),
            port,
            access_key: random_string(20),
            secret_key: random_string(40),
            scratch,
        };
        server.spawn()?;
        let output = server
            .rclone(&["mkdir", &format!(":s3:{BUCKET}")])
            .output()
            .map_err(io_err("running rclone mkdir"))?;
        if !output.status.success() {
            return Err(Error::Start {
                what: format!("creating the bucket {BUCKET} (rclone mkdir)"),
                detail: format!(
                    "{}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                ),
            });
        }
        Ok(server)
    }

    fn log_path(&self) -> PathBuf {
        self.scratch.path().join("versitygw.log")
    }

    fn spawn(&mut self) -> Result<(), Error> {
        let log_path = self.log_path();
        let log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io_err(format!("opening {}", log_path.display())))?;
        let err = log
            .try_clone()
            .map_err(io_err(format!("opening {}", log_path.display())))?;
        let child = Command::new(self.tools.versitygw())
            .env_clear()
            .env("PATH", crate::jobrun::SYSTEM_PATH)
            .env("HOME", self.scratch.path())
            .env("ROOT_ACCESS_KEY", &self.access_key)
            .env("ROOT_SECRET_KEY", &self.secret_key)
            .arg("--port")
            .arg(format!("127.0.0.1:{}", self.port))
            .args(["--health", HEALTH_PATH, "--quiet", "posix"])
            .arg(self.root_dir())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(io_err("starting versitygw"))?;
        self.child = Some(child);
        let start = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(Error::Start {
                    what: format!("versitygw exited early ({status})"),
                    detail: self.log_tail(),
                });
            }
            if crate::process::http_get(self.port, HEALTH_PATH).0 == 200 {
                return Ok(());
            }
            if start.elapsed() > START_TIMEOUT {
                self.stop();
                return Err(Error::Start {
                    what: format!(
                        "versitygw on 127.0.0.1:{} did not answer within {START_TIMEOUT:?}",
                        self.port
                    ),
                    detail: self.log_tail(),
                });
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The end of the server's log.
    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Kills the server (SIGKILL, as a crash) and reaps it; its data stays. A no-op when it is
    /// not running.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, with the same credentials and data (stops it
    /// first if it runs).
    pub fn restart(&mut self) -> Result<(), Error> {
        self.stop();
        self.spawn()
    }

    /// Whether the server process is running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The bucket ([`BUCKET`]).
    pub fn bucket(&self) -> &str {
        BUCKET
    }

    /// The root user's access key ID.
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// The root user's secret access key.
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// The POSIX backend's root: one directory per bucket, objects as files.
    pub fn root_dir(&self) -> PathBuf {
        self.scratch.path().join("root")
    }

    /// The tools this server runs with.
    pub fn tools(&self) -> &Tools {
        &self.tools
    }

    /// The `rclone` binary.
    pub fn rclone_bin(&self) -> PathBuf {
        self.tools.rclone()
    }

    /// `:s3:<bucket>/<path>`: an rclone on-the-fly remote, as the Jobs name it.
    pub fn remote(&self, path: &str) -> String {
        format!(":s3:{BUCKET}/{path}")
    }

    /// The flags that connect rclone's `:s3:` backend to this server, the Jobs' flags with the
    /// values filled in.
    pub fn connection_flags(&self) -> Vec<String> {
        vec![
            "--s3-provider=Other".to_owned(),
            format!("--s3-endpoint={}", self.endpoint()),
            format!("--s3-access-key-id={}", self.access_key),
            format!("--s3-secret-access-key={}", self.secret_key),
        ]
    }

    /// `rclone ARGS` plus [`S3Server::connection_flags`], with a cleared environment (no rclone
    /// config file, `HOME` in the server's scratch dir): for the test's own checks and setup.
    pub fn rclone(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(self.tools.rclone());
        cmd.env_clear()
            .env("PATH", crate::jobrun::SYSTEM_PATH)
            .env("HOME", self.scratch.path())
            .env("RCLONE_CONFIG", self.scratch.path().join("rclone.conf"))
            .args(args)
            .args(self.connection_flags())
            .stdin(Stdio::null());
        cmd
    }
}
