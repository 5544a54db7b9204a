//! A real OpenTelemetry Collector on loopback, for the tests of the operator's OTLP telemetry.
//!
//! `hack/otelcol/build.sh` builds a small Collector from its Go modules (versions in
//! `hack/otelcol/versions.sh`: the `otlp` receiver, the `file` and `debug` exporters) into
//! `$OPENCLAW_CACHE_DIR/otelcol/<key>/bin/otelcol`; `hack/test.sh` exports that binary as
//! `OPENCLAW_OTELCOL_BIN`. Without the variable the binary is looked up with
//! `hack/otelcol/build.sh --print-bin` (so a plain `cargo test` finds an earlier build).
//!
//! [`Collector::start`] writes a config (see [`Options::config_yaml`]) into a temporary
//! directory: the `otlp` receiver on `127.0.0.1` (gRPC and/or HTTP on free ports, optionally
//! TLS and mTLS), and one `file` exporter per signal writing OTLP/JSON, one export request per
//! line, flushed every [`FLUSH_INTERVAL`]. The readers parse those files.
//!
//! ```no_run
//! # fn t() -> Result<(), testkit::otelcol::Error> {
//! use testkit::otelcol::{Collector, Options};
//! // Skips (None) when the Collector is not built, unless OPENCLAW_REQUIRE_OTELCOL is set.
//! let Some(mut collector) = Collector::start(Options::default())? else { return Ok(()) };
//! let endpoint = collector.grpc_endpoint(); // http://127.0.0.1:<port>
//! // ... point the operator at `endpoint`, make it export ...
//! collector.wait_until_blocking("the reconcile counter", std::time::Duration::from_secs(30), |c| {
//!     c.number("openclaw_reconcile_total", &[("result", "ok")]).is_some()
//! })?;
//! collector.stop();      // the Collector goes down (SIGTERM, graceful)
//! collector.restart()?;  // same ports and output files
//! # let _ = endpoint; Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// Set this environment variable (to anything but `0` or an empty string) to turn "the
/// Collector is not built" from a skip into a test failure (`hack/test.sh` sets it).
pub const REQUIRE_OTELCOL_ENV: &str = "OPENCLAW_REQUIRE_OTELCOL";
/// The Collector binary (`hack/test.sh` sets it).
pub const OTELCOL_BIN_ENV: &str = "OPENCLAW_OTELCOL_BIN";
/// How long [`Collector::start`] and [`Collector::restart`] wait for the Collector to be ready.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long [`Collector::stop`] waits for a graceful shutdown before it kills the Collector.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// The file exporters' `flush_interval`: data received is in the files this long after.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// What the Collector logs once every component has started.
const READY_LINE: &str = "Everything is ready";
/// How often [`Collector::start`] picks new ports when one was taken in the meantime.
const PORT_ATTEMPTS: usize = 3;

/// Errors of the Collector harness.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Collector is not built (or `OPENCLAW_OTELCOL_BIN` points to the wrong place).
    #[error("the OpenTelemetry Collector is not available: {0}; run hack/otelcol/build.sh")]
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
    /// The Collector did not come up.
    #[error("{what}: {detail}")]
    Start {
        /// What failed.
        what: String,
        /// The Collector's log.
        detail: String,
    },
    /// A wait for exported data timed out.
    #[error("timed out after {timeout:?} waiting for {what}; the Collector's log:\n{log}")]
    Timeout {
        /// What was waited for.
        what: String,
        /// The timeout.
        timeout: Duration,
        /// The Collector's log (its debug exporter logs one line per batch received).
        log: String,
    },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Whether `OPENCLAW_REQUIRE_OTELCOL` makes a missing Collector a failure.
pub fn required() -> bool {
    non_empty_env(REQUIRE_OTELCOL_ENV).is_some_and(|v| v != "0")
}

/// `hack/otelcol/build.sh` of this repository.
pub fn build_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hack/otelcol/build.sh")
}

/// Finds the Collector binary: `$OPENCLAW_OTELCOL_BIN`, else what
/// `hack/otelcol/build.sh --print-bin` says.
pub fn locate() -> Result<PathBuf, Error> {
    let binary = match non_empty_env(OTELCOL_BIN_ENV) {
        Some(path) => PathBuf::from(path),
        None => print_bin()?,
    };
    if !binary.is_file() {
        return Err(Error::NotInstalled(format!(
            "{} is missing",
            binary.display()
        )));
    }
    Ok(binary)
}

fn print_bin() -> Result<PathBuf, Error> {
    let script = build_script();
    let output = Command::new("bash")
        .arg(&script)
        .arg("--print-bin")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            Error::NotInstalled(format!(
                "{OTELCOL_BIN_ENV} is not set and {} failed: {e}",
                script.display()
            ))
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    match stdout.lines().next().map(str::trim) {
        Some(path) if output.status.success() && !path.is_empty() => Ok(PathBuf::from(path)),
        _ => Err(Error::NotInstalled(format!(
            "{OTELCOL_BIN_ENV} is not set and `{} --print-bin` says: {}",
            script.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ))),
    }
}

/// The entry point for tests that need only the binary: its path, or `None` after printing
/// that the test is skipped; with `OPENCLAW_REQUIRE_OTELCOL` set it panics (fails the test).
pub fn binary() -> Option<PathBuf> {
    match locate() {
        Ok(path) => Some(path),
        Err(e) => skip_or_fail(&e.to_string()),
    }
}

// Panicking is the contract: with OPENCLAW_REQUIRE_OTELCOL set, a missing Collector must fail
// the calling test, and a panic is how a test fails.
#[allow(clippy::panic)]
fn skip_or_fail<T>(why: &str) -> Option<T> {
    let test = thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_owned();
    if required() {
        panic!("{test}: {why}, and {REQUIRE_OTELCOL_ENV} is set");
    }
    // The real stderr, not eprintln! (which the test harness captures).
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {why} (set {REQUIRE_OTELCOL_ENV}=1 to fail instead)"
    );
    None
}

/// TLS of the receiver (both protocols): the server's certificate chain and key, and
/// optionally a CA that client certificates must chain to (mTLS).
#[derive(Clone, Debug)]
pub struct Tls {
    /// PEM certificate chain of the server (`cert_file`).
    pub cert_file: PathBuf,
    /// PEM private key of the server (`key_file`).
    pub key_file: PathBuf,
    /// PEM CA bundle; when set, clients must present a certificate it signed
    /// (`client_ca_file`).
    pub client_ca_file: Option<PathBuf>,
}

/// What the Collector listens on. The default: gRPC and HTTP, plaintext.
///
/// Compressed requests (gzip, zstd, snappy, ...) are accepted on both protocols without any
/// option.
#[derive(Clone, Debug)]
pub struct Options {
    /// Serve OTLP/gRPC (on a free port, [`Collector::grpc_port`]).
    pub grpc: bool,
    /// Serve OTLP/HTTP (on a free port, [`Collector::http_port`]): `/v1/metrics`,
    /// `/v1/traces`, protobuf or JSON.
    pub http: bool,
    /// TLS for both protocols.
    pub tls: Option<Tls>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            grpc: true,
            http: true,
            tls: None,
        }
    }
}

impl Options {
    /// OTLP/gRPC only.
    pub fn grpc() -> Self {
        Options {
            grpc: true,
            http: false,
            tls: None,
        }
    }

    /// OTLP/HTTP only.
    pub fn http() -> Self {
        Options {
            grpc: false,
            http: true,
            tls: None,
        }
    }

    /// Serves TLS with this certificate chain and key (PEM files).
    pub fn with_tls(mut self, cert_file: impl Into<PathBuf>, key_file: impl Into<PathBuf>) -> Self {
        let client_ca_file = self.tls.take().and_then(|t| t.client_ca_file);
        self.tls = Some(Tls {
            cert_file: cert_file.into(),
            key_file: key_file.into(),
            client_ca_file,
        });
        self
    }

    /// Requires client certificates signed by this CA (PEM file); only with
    /// [`Options::with_tls`] (call that first).
    pub fn with_client_ca(mut self, ca_file: impl Into<PathBuf>) -> Self {
        if let Some(tls) = self.tls.as_mut() {
            tls.client_ca_file = Some(ca_file.into());
        }
        self
    }

    /// The Collector config [`Collector::start`] writes, for these options, ports and output
    /// directory (`<dir>/metrics.jsonl`, `<dir>/traces.jsonl`).
    pub fn config_yaml(
        &self,
        grpc_port: Option<u16>,
        http_port: Option<u16>,
        dir: &Path,
    ) -> String {
        // A JSON string is a YAML double-quoted scalar.
        let quoted = |p: &Path| {
            serde_json::to_string(&p.display().to_string()).unwrap_or_else(|_| String::from("\"\""))
        };
        let tls = self.tls.as_ref().map_or_else(String::new, |tls| {
            let mut s = format!(
                "        tls:\n          cert_file: {}\n          key_file: {}\n",
                quoted(&tls.cert_file),
                quoted(&tls.key_file)
            );
            if let Some(ca) = &tls.client_ca_file {
                s.push_str(&format!("          client_ca_file: {}\n", quoted(ca)));
            }
            s
        });
        let mut yaml =
            String::from("# Written by testkit::otelcol.\nreceivers:\n  otlp:\n    protocols:\n");
        for (name, port) in [("grpc", grpc_port), ("http", http_port)] {
            if let Some(port) = port {
                yaml.push_str(&format!(
                    "      {name}:\n        endpoint: 127.0.0.1:{port}\n{tls}"
                ));
            }
        }
        let flush = format!("{}ms", FLUSH_INTERVAL.as_millis());
        for signal in ["metrics", "traces"] {
            if signal == "metrics" {
                yaml.push_str("exporters:\n");
            }
            yaml.push_str(&format!(
                "  file/{signal}:\n    path: {}\n    format: json\n    append: true\n    flush_interval: {flush}\n",
                quoted(&dir.join(format!("{signal}.jsonl")))
            ));
        }
        yaml.push_str(
            "  debug:\n    verbosity: basic\n\
             service:\n  telemetry:\n    logs:\n      level: info\n    metrics:\n      level: none\n  pipelines:\n",
        );
        for signal in ["metrics", "traces"] {
            yaml.push_str(&format!(
                "    {signal}:\n      receivers: [otlp]\n      exporters: [file/{signal}, debug]\n"
            ));
        }
        yaml
    }
}

/// One data point of a sum or gauge ([`Collector::data_points`]).
#[derive(Clone, Debug, PartialEq)]
pub struct DataPoint {
    /// The metric's name.
    pub metric: String,
    /// Its attributes, values as strings ([`attribute_string`]).
    pub attributes: BTreeMap<String, String>,
    /// The resource's attributes.
    pub resource: BTreeMap<String, String>,
    /// `timeUnixNano`.
    pub time_unix_nano: u64,
    /// `asInt` (a string in OTLP/JSON) or `asDouble`.
    pub value: f64,
}

/// One span ([`Collector::spans`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    /// The span's name.
    pub name: String,
    /// Its attributes, values as strings ([`attribute_string`]).
    pub attributes: BTreeMap<String, String>,
    /// The resource's attributes.
    pub resource: BTreeMap<String, String>,
    /// The instrumentation scope's name.
    pub scope: String,
    /// Hex trace ID.
    pub trace_id: String,
    /// Hex span ID.
    pub span_id: String,
    /// Hex parent span ID; empty for a root span.
    pub parent_span_id: String,
    /// The span's kind (1 internal, 2 server, 3 client, ...; 0 when absent).
    pub kind: u64,
    /// The whole span as exported.
    pub json: Value,
}

/// An OTLP/JSON `AnyValue` as a string: string values as they are, ints (strings in OTLP/JSON),
/// doubles and bools as written, anything else as its JSON.
pub fn attribute_string(value: &Value) -> String {
    if let Some(s) = value.get("stringValue").and_then(Value::as_str) {
        return s.to_owned();
    }
    match value
        .get("intValue")
        .or_else(|| value.get("doubleValue"))
        .or_else(|| value.get("boolValue"))
    {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => value.to_string(),
    }
}

/// An OTLP/JSON attribute list (`[{"key": .., "value": {..}}]`) as a map.
pub fn attributes(list: Option<&Value>) -> BTreeMap<String, String> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|kv| {
            let key = kv.get("key")?.as_str()?;
            Some((key.to_owned(), attribute_string(kv.get("value")?)))
        })
        .collect()
}

fn array<'a>(value: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    value
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn number_of(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A `fixed64` of OTLP/JSON (a string, or a number from lenient writers); 0 when absent.
fn unix_nano(value: Option<&Value>) -> u64 {
    match value {
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        _ => 0,
    }
}

/// The complete lines of an OTLP/JSON file, parsed (a line still being written is left out).
fn read_json_lines(path: &Path) -> Vec<Value> {
    let text = fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// A running Collector (see the module docs). Killed (SIGKILL) on drop; its directory with the
/// config, the output files and the log is removed then too.
#[derive(Debug)]
pub struct Collector {
    // Field order: the process dies before its directory goes.
    child: Option<Child>,
    binary: PathBuf,
    options: Options,
    grpc_port: Option<u16>,
    http_port: Option<u16>,
    scratch: TempDir,
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Collector {
    /// Locates the binary ([`locate`]) and starts a Collector ([`Collector::start_with`]).
    /// `Ok(None)` after printing that the test is skipped when the binary is not there; with
    /// `OPENCLAW_REQUIRE_OTELCOL` set that panics (fails the test) instead.
    pub fn start(options: Options) -> Result<Option<Collector>, Error> {
        let Some(binary) = binary() else {
            return Ok(None);
        };
        Self::start_with(&binary, options).map(Some)
    }

    /// Writes the config, starts the Collector and waits until it is ready (its "Everything is
    /// ready" log line, and every port accepts connections).
    pub fn start_with(binary: &Path, options: Options) -> Result<Collector, Error> {
        if !options.grpc && !options.http {
            return Err(Error::Start {
                what: String::from("no protocol"),
                detail: String::from("Options enable neither gRPC nor HTTP"),
            });
        }
        let scratch = tempfile::Builder::new()
            .prefix("openclaw-otelcol-")
            .tempdir()
            .map_err(io_err("creating the Collector's directory"))?;
        let mut collector = Collector {
            child: None,
            binary: binary.to_owned(),
            options,
            grpc_port: None,
            http_port: None,
            scratch,
        };
        let mut attempt = 1;
        loop {
            let port = || crate::process::free_port().map_err(io_err("finding a free port"));
            collector.grpc_port = if collector.options.grpc {
                Some(port()?)
            } else {
                None
            };
            collector.http_port = if collector.options.http {
                Some(port()?)
            } else {
                None
            };
            match collector.spawn() {
                // Another test took a port between free_port() and the Collector's bind.
                Err(Error::Start { detail, .. })
                    if attempt < PORT_ATTEMPTS && detail.contains("address already in use") =>
                {
                    attempt += 1;
                }
                other => return other.map(|()| collector),
            }
        }
    }

    fn spawn(&mut self) -> Result<(), Error> {
        let config = self
            .options
            .config_yaml(self.grpc_port, self.http_port, self.scratch.path());
        let config_path = self.config_path();
        fs::write(&config_path, config)
            .map_err(io_err(format!("writing {}", config_path.display())))?;
        let log_path = self.log_path();
        let log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io_err(format!("opening {}", log_path.display())))?;
        let mark = log
            .metadata()
            .map_err(io_err(format!("reading {}", log_path.display())))?
            .len();
        let err = log
            .try_clone()
            .map_err(io_err(format!("opening {}", log_path.display())))?;
        let child = Command::new(&self.binary)
            .env_clear()
            .env("PATH", crate::jobrun::SYSTEM_PATH)
            .env("HOME", self.scratch.path())
            .arg(format!("--config=file:{}", config_path.display()))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(io_err(format!("starting {}", self.binary.display())))?;
        self.child = Some(child);
        let start = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(Error::Start {
                    what: format!("the Collector exited early ({status})"),
                    detail: self.log(),
                });
            }
            let logged = fs::read(&log_path)
                .ok()
                .and_then(|bytes| {
                    let since = bytes.get(usize::try_from(mark).unwrap_or(0)..)?;
                    Some(String::from_utf8_lossy(since).contains(READY_LINE))
                })
                .unwrap_or(false);
            if logged
                && self
                    .ports()
                    .iter()
                    .all(|p| TcpStream::connect(("127.0.0.1", *p)).is_ok())
            {
                return Ok(());
            }
            if start.elapsed() > START_TIMEOUT {
                self.kill();
                return Err(Error::Start {
                    what: format!(
                        "the Collector on 127.0.0.1 ports {:?} was not ready within {START_TIMEOUT:?}",
                        self.ports()
                    ),
                    detail: self.log(),
                });
            }
            thread::sleep(Duration::from_millis(25));
        }
    }

    fn ports(&self) -> Vec<u16> {
        self.grpc_port.into_iter().chain(self.http_port).collect()
    }

    /// Stops the Collector as an orderly shutdown does (SIGTERM: it closes its ports and
    /// flushes the files), killing it if it takes longer than [`STOP_TIMEOUT`]; the output files
    /// stay. A no-op when it is not running.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = i32::try_from(child.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw);
        if let Some(pid) = pid
            && rustix::process::kill_process(pid, rustix::process::Signal::TERM).is_ok()
        {
            let start = Instant::now();
            while start.elapsed() < STOP_TIMEOUT {
                if !matches!(child.try_wait(), Ok(None)) {
                    return;
                }
                thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Kills the Collector (SIGKILL, as a crash: what it had not flushed yet is lost) and reaps
    /// it. A no-op when it is not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the Collector again on the same ports, with the same config; it appends to the
    /// same output files (stops it first if it runs).
    pub fn restart(&mut self) -> Result<(), Error> {
        self.stop();
        self.spawn()
    }

    /// Whether the Collector process is running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The OTLP/gRPC port on 127.0.0.1, when [`Options::grpc`].
    pub fn grpc_port(&self) -> Option<u16> {
        self.grpc_port
    }

    /// The OTLP/HTTP port on 127.0.0.1, when [`Options::http`].
    pub fn http_port(&self) -> Option<u16> {
        self.http_port
    }

    fn scheme(&self) -> &'static str {
        if self.options.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// `http://127.0.0.1:<grpc port>` (`https` with TLS); empty without gRPC.
    pub fn grpc_endpoint(&self) -> String {
        self.grpc_port
            .map(|p| format!("{}://127.0.0.1:{p}", self.scheme()))
            .unwrap_or_default()
    }

    /// `http://127.0.0.1:<http port>` (`https` with TLS), the base URL: the signals are at
    /// `/v1/metrics` and `/v1/traces`; empty without HTTP.
    pub fn http_endpoint(&self) -> String {
        self.http_port
            .map(|p| format!("{}://127.0.0.1:{p}", self.scheme()))
            .unwrap_or_default()
    }

    /// The options it was started with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The Collector's directory (config, output files, log).
    pub fn dir(&self) -> &Path {
        self.scratch.path()
    }

    /// The config file.
    pub fn config_path(&self) -> PathBuf {
        self.scratch.path().join("config.yaml")
    }

    /// The file the metrics exporter writes: one `ExportMetricsServiceRequest` in OTLP/JSON a
    /// line.
    pub fn metrics_path(&self) -> PathBuf {
        self.scratch.path().join("metrics.jsonl")
    }

    /// The file the traces exporter writes: one `ExportTraceServiceRequest` in OTLP/JSON a line.
    pub fn traces_path(&self) -> PathBuf {
        self.scratch.path().join("traces.jsonl")
    }

    /// The Collector's log file (its stdout and stderr, across restarts).
    pub fn log_path(&self) -> PathBuf {
        self.scratch.path().join("otelcol.log")
    }

    /// Everything the Collector logged so far (for assertion messages: the debug exporter logs
    /// a line per batch received).
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Every metrics export request received so far (`{"resourceMetrics": [..]}` each), in
    /// order.
    pub fn metrics_json(&self) -> Vec<Value> {
        read_json_lines(&self.metrics_path())
    }

    /// Every trace export request received so far (`{"resourceSpans": [..]}` each), in order.
    pub fn traces_json(&self) -> Vec<Value> {
        read_json_lines(&self.traces_path())
    }

    /// Every metric (the JSON of each `Metric`, with its resource's attributes), in order.
    pub fn metrics(&self) -> Vec<(BTreeMap<String, String>, Value)> {
        let mut out = Vec::new();
        for request in self.metrics_json() {
            for rm in array(&request, "resourceMetrics") {
                let resource = attributes(rm.get("resource").and_then(|r| r.get("attributes")));
                for sm in array(rm, "scopeMetrics") {
                    for metric in array(sm, "metrics") {
                        out.push((resource.clone(), metric.clone()));
                    }
                }
            }
        }
        out
    }

    /// The names of all metrics received so far, sorted, without duplicates.
    pub fn metric_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .metrics()
            .iter()
            .filter_map(|(_, m)| m.get("name")?.as_str().map(str::to_owned))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Every data point of the sum or gauge `name` received so far, in file order.
    pub fn data_points(&self, name: &str) -> Vec<DataPoint> {
        let mut out = Vec::new();
        for (resource, metric) in self.metrics() {
            if metric.get("name").and_then(Value::as_str) != Some(name) {
                continue;
            }
            let points = ["sum", "gauge"]
                .iter()
                .filter_map(|kind| metric.get(*kind))
                .flat_map(|data| array(data, "dataPoints"));
            for point in points {
                let Some(value) =
                    number_of(point.get("asInt")).or_else(|| number_of(point.get("asDouble")))
                else {
                    continue;
                };
                out.push(DataPoint {
                    metric: name.to_owned(),
                    attributes: attributes(point.get("attributes")),
                    resource: resource.clone(),
                    time_unix_nano: unix_nano(point.get("timeUnixNano")),
                    value,
                });
            }
        }
        out
    }

    /// The value of the latest data point (highest `timeUnixNano`; the later one in the file on
    /// a tie) of the sum or gauge `name` whose attributes include all of `attrs`.
    pub fn number(&self, name: &str, attrs: &[(&str, &str)]) -> Option<f64> {
        self.data_points(name)
            .into_iter()
            .filter(|p| {
                attrs
                    .iter()
                    .all(|(k, v)| p.attributes.get(*k).map(String::as_str) == Some(*v))
            })
            .fold(None, |latest: Option<DataPoint>, p| match latest {
                Some(l) if l.time_unix_nano > p.time_unix_nano => Some(l),
                _ => Some(p),
            })
            .map(|p| p.value)
    }

    /// Every span received so far, in order.
    pub fn spans(&self) -> Vec<Span> {
        let mut out = Vec::new();
        for request in self.traces_json() {
            for rs in array(&request, "resourceSpans") {
                let resource = attributes(rs.get("resource").and_then(|r| r.get("attributes")));
                for ss in array(rs, "scopeSpans") {
                    let scope = ss
                        .get("scope")
                        .and_then(|s| s.get("name"))
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    for span in array(ss, "spans") {
                        let text = |key: &str| {
                            span.get(key)
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned()
                        };
                        out.push(Span {
                            name: text("name"),
                            attributes: attributes(span.get("attributes")),
                            resource: resource.clone(),
                            scope: scope.to_owned(),
                            trace_id: text("traceId"),
                            span_id: text("spanId"),
                            parent_span_id: text("parentSpanId"),
                            kind: span.get("kind").and_then(Value::as_u64).unwrap_or(0),
                            json: span.clone(),
                        });
                    }
                }
            }
        }
        out
    }

    /// The names of all spans received so far, in order (with duplicates).
    pub fn span_names(&self) -> Vec<String> {
        self.spans().into_iter().map(|s| s.name).collect()
    }

    /// The attributes of every distinct resource that sent metrics or spans so far, in order
    /// of appearance.
    pub fn resource_attributes(&self) -> Vec<BTreeMap<String, String>> {
        let mut out: Vec<BTreeMap<String, String>> = Vec::new();
        let requests = self.metrics_json().into_iter().chain(self.traces_json());
        for request in requests {
            for r in array(&request, "resourceMetrics").chain(array(&request, "resourceSpans")) {
                let attrs = attributes(r.get("resource").and_then(|r| r.get("attributes")));
                if !out.contains(&attrs) {
                    out.push(attrs);
                }
            }
        }
        out
    }

    /// Polls `done` every 50 ms until it holds; [`Error::Timeout`] (with the Collector's log)
    /// after `timeout`. For async tests: [`Collector::wait_until`].
    pub fn wait_until_blocking(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&Collector) -> bool,
    ) -> Result<(), Error> {
        let start = Instant::now();
        loop {
            if done(self) {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(self.timeout(what, timeout));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// [`Collector::wait_until_blocking`] that sleeps with tokio, so that the code under test
    /// keeps running on a single-threaded runtime.
    pub async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&Collector) -> bool,
    ) -> Result<(), Error> {
        let start = Instant::now();
        loop {
            if done(self) {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(self.timeout(what, timeout));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn timeout(&self, what: &str, timeout: Duration) -> Error {
        Error::Timeout {
            what: what.to_owned(),
            timeout,
            log: self.log(),
        }
    }
}
