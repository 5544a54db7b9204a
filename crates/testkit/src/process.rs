//! Running the operator binary (`openclaw-operator run`) as a child process, for tests that
//! need a real process: signals, leader election between replicas, HTTP endpoints.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Plain HTTP/1.0 GET on 127.0.0.1: the status code and the body (`(0, error)` when the
/// connection fails).
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    let attempt = || -> std::io::Result<(u16, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let code = response
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Ok((code, body))
    };
    attempt().unwrap_or_else(|e| (0, e.to_string()))
}

/// One `openclaw-operator run` child process with its health and metrics endpoints on free
/// local ports and its output in a log file; killed on drop.
#[derive(Debug)]
pub struct OperatorProcess {
    child: Option<Child>,
    /// Port of `/livez`, `/readyz`.
    pub health: u16,
    /// Port of `/metrics`.
    pub metrics: u16,
    log: PathBuf,
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl OperatorProcess {
    /// Starts `binary run` with the health and metrics flags, then `args`. The environment
    /// gets `KUBECONFIG` (the test cluster's), `POD_NAME=name`, a debug log level for the
    /// operator, then `env` (which may override them).
    pub fn start(
        binary: &Path,
        name: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> std::io::Result<Self> {
        Self::start_with(binary, name, |cmd| {
            cmd.args(args).envs(env.iter().copied());
        })
    }

    /// Like [`OperatorProcess::start`], with `configure` adding arguments and environment
    /// (applied after the defaults).
    pub fn start_with(
        binary: &Path,
        name: &str,
        configure: impl FnOnce(&mut Command),
    ) -> std::io::Result<Self> {
        let health = free_port()?;
        let metrics = free_port()?;
        let dir = std::env::temp_dir().join("openclaw-operator-process-tests");
        std::fs::create_dir_all(&dir)?;
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log)?;
        let kubeconfig = std::env::var("KUBECONFIG")
            .ok()
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(crate::default_kubeconfig_path);
        let mut cmd = Command::new(binary);
        cmd.arg("run")
            .arg(format!("--health-probe-bind-address=127.0.0.1:{health}"))
            .arg(format!("--metrics-bind-address=127.0.0.1:{metrics}"))
            .env("KUBECONFIG", kubeconfig)
            .env("POD_NAME", name)
            .env("LOG_LEVEL", "info,openclaw_operator=debug")
            .stdout(Stdio::from(out.try_clone()?))
            .stderr(Stdio::from(out));
        configure(&mut cmd);
        let child = cmd.spawn()?;
        Ok(Self {
            child: Some(child),
            health,
            metrics,
            log,
        })
    }

    /// Everything the process wrote so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process still runs.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// `GET /readyz` on the health port.
    pub fn readyz(&self) -> (u16, String) {
        http_get(self.health, "/readyz")
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: rustix::process::Signal) -> std::io::Result<()> {
        let child = self
            .child
            .as_ref()
            .ok_or_else(|| std::io::Error::other("the process has exited"))?;
        let pid = i32::try_from(child.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw)
            .ok_or_else(|| std::io::Error::other("bad pid"))?;
        rustix::process::kill_process(pid, signal)?;
        Ok(())
    }

    /// Waits up to `timeout` for the process to exit; its exit code (`None` when killed by a
    /// signal). An error when it is still running after `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> std::io::Result<Option<i32>> {
        let start = Instant::now();
        loop {
            let child = self
                .child
                .as_mut()
                .ok_or_else(|| std::io::Error::other("the process has exited"))?;
            if let Some(status) = child.try_wait()? {
                self.child = None;
                return Ok(status.code());
            }
            if start.elapsed() > timeout {
                return Err(std::io::Error::other("the process did not exit in time"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
