//! A real OCI registry on loopback (CNCF Distribution) and the real `crane`, for the tests of
//! the operator's registry resolver (auto-update).
//!
//! `hack/registry/build.sh` builds both from their Go modules (versions in
//! `hack/registry/versions.sh`) into `$OPENCLAW_CACHE_DIR/registry/<key>/bin`; `hack/test.sh`
//! exports that directory as `OPENCLAW_REGISTRY_BIN_DIR`. Without the variable the tools are
//! looked up with `hack/registry/build.sh --print-bin-dir` (so a plain `cargo test` finds an
//! earlier build).
//!
//! Three auth modes ([`Auth`]): anonymous; htpasswd (Basic, bcrypt file written here); and
//! token, through [`TokenService`]: a small **stand-in** for a Docker token server (such as
//! `cesanta/docker_auth`, which the Go module proxy does not serve) that follows the Docker
//! registry token spec: `GET /token?service=..&scope=repository:<name>:<actions>` with optional
//! Basic credentials, and the OAuth2 `POST /token` (`grant_type=password` or
//! `refresh_token`). It issues ES256 JWTs with an `x5c` header, which the real registry
//! verifies against the certificate in its `rootcertbundle`. Anonymous callers get `pull` on
//! repositories under [`PUBLIC_PREFIX`]; a known user gets every action asked for; a wrong
//! password is a 401.
//!
//! Plain HTTP or HTTPS with a private CA ([`Options::tls`]). Requests the registry served are
//! read from its access log ([`Registry::access_log`]).
//!
//! ```no_run
//! # fn t() -> Result<(), testkit::registry::Error> {
//! use testkit::registry::{Auth, Options, Registry};
//! // Skips (None) when the tools are not built, unless OPENCLAW_REQUIRE_REGISTRY is set.
//! let Some(tools) = testkit::registry::tools() else { return Ok(()) };
//! let mut registry = Registry::start(&tools, Options { auth: Auth::Token, tls: false })?;
//! registry.push_tags("public/app", &["1.0.0", "1.1.0", "latest"])?;
//! let repo = registry.repository("public/app"); // 127.0.0.1:<port>/public/app
//! registry.stop(); // SIGKILL, as a crash
//! # let _ = repo; Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use tempfile::TempDir;

/// Set this environment variable (to anything but `0` or an empty string) to turn "the
/// registry tools are not built" from a skip into a test failure (`hack/test.sh` sets it).
pub const REQUIRE_REGISTRY_ENV: &str = "OPENCLAW_REQUIRE_REGISTRY";
/// The directory holding the `registry` and `crane` binaries (`hack/test.sh` sets it).
pub const REGISTRY_BIN_DIR_ENV: &str = "OPENCLAW_REGISTRY_BIN_DIR";
/// How long [`Registry::start`] waits for the registry to listen.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Repositories under this prefix are pullable anonymously in [`Auth::Token`] mode.
pub const PUBLIC_PREFIX: &str = "public/";
/// The user the harness pushes with (all modes that have users).
pub const ADMIN_USER: &str = "admin";
/// The token service's `service` name (the registry's `auth.token.service`).
pub const TOKEN_SERVICE_NAME: &str = "openclaw-test-registry";
/// The token service's issuer (the registry's `auth.token.issuer`).
const TOKEN_ISSUER: &str = "openclaw-testkit-token-service";
/// How many `crane tag` run at once in [`Registry::push_tags`].
const PARALLEL_TAGS: usize = 6;

/// Errors of the registry harness.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The tools are not built (or `OPENCLAW_REGISTRY_BIN_DIR` points to the wrong place).
    #[error("the registry tools are not available: {0}; run hack/registry/build.sh")]
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
    /// The registry did not come up, or a crane command failed.
    #[error("{what}: {detail}")]
    Start {
        /// What failed.
        what: String,
        /// Its output, or the registry's log tail.
        detail: String,
    },
    /// Making keys or certificates failed.
    #[error("PKI: {0}")]
    Pki(String),
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Whether `OPENCLAW_REQUIRE_REGISTRY` makes missing tools a failure.
pub fn required() -> bool {
    non_empty_env(REQUIRE_REGISTRY_ENV).is_some_and(|v| v != "0")
}

/// The built tools: `registry` and `crane` in one directory.
#[derive(Clone, Debug)]
pub struct Tools {
    bin_dir: PathBuf,
}

impl Tools {
    /// Finds the tools: `$OPENCLAW_REGISTRY_BIN_DIR`, else what
    /// `hack/registry/build.sh --print-bin-dir` says.
    pub fn locate() -> Result<Tools, Error> {
        let bin_dir = match non_empty_env(REGISTRY_BIN_DIR_ENV) {
            Some(dir) => PathBuf::from(dir),
            None => print_bin_dir()?,
        };
        for tool in ["registry", "crane"] {
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

    /// The directory of both binaries.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The `registry` binary.
    pub fn registry(&self) -> PathBuf {
        self.bin_dir.join("registry")
    }

    /// The `crane` binary.
    pub fn crane(&self) -> PathBuf {
        self.bin_dir.join("crane")
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
                "{REGISTRY_BIN_DIR_ENV} is not set and {} failed: {e}",
                script.display()
            ))
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    match stdout.lines().next().map(str::trim) {
        Some(dir) if output.status.success() && !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => Err(Error::NotInstalled(format!(
            "{REGISTRY_BIN_DIR_ENV} is not set and `{} --print-bin-dir` says: {}",
            script.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ))),
    }
}

/// `hack/registry/build.sh` of this repository.
pub fn build_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hack/registry/build.sh")
}

/// The entry point for tests: the tools, or `None` after printing that the test is skipped;
/// with `OPENCLAW_REQUIRE_REGISTRY` set it panics (fails the test) instead.
pub fn tools() -> Option<Tools> {
    match Tools::locate() {
        Ok(tools) => Some(tools),
        Err(e) => skip_or_fail(&e.to_string()),
    }
}

// Panicking is the contract: with OPENCLAW_REQUIRE_REGISTRY set, missing tools must fail the
// calling test, and a panic is how a test fails.
#[allow(clippy::panic)]
fn skip_or_fail<T>(why: &str) -> Option<T> {
    let test = thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_owned();
    if required() {
        panic!("{test}: {why}, and {REQUIRE_REGISTRY_ENV} is set");
    }
    // The real stderr, not eprintln! (which the test harness captures).
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {why} (set {REQUIRE_REGISTRY_ENV}=1 to fail instead)"
    );
    None
}

/// How the registry authenticates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Auth {
    /// Anyone may pull and push.
    #[default]
    Anonymous,
    /// Basic auth against an htpasswd (bcrypt) file with [`ADMIN_USER`] and [`Registry::add_user`]
    /// users (added before start).
    Htpasswd,
    /// Bearer tokens from a [`TokenService`].
    Token,
}

/// What [`Registry::start`] starts.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The auth mode.
    pub auth: Auth,
    /// HTTPS with a certificate from a private CA ([`Registry::ca_pem`]) instead of plain HTTP.
    pub tls: bool,
}

/// One line of the registry's access log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessEntry {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// The request target (path and query).
    pub path: String,
    /// The response status.
    pub status: u16,
    /// The `User-Agent`.
    pub user_agent: String,
}

/// A running registry on `127.0.0.1:<free port>` with filesystem storage (deletes enabled) in
/// a temporary directory. Killed on drop, with its token service.
pub struct Registry {
    // Field order: the process dies before its directories go.
    child: Option<Child>,
    token: Option<TokenService>,
    tools: Tools,
    options: Options,
    port: u16,
    users: BTreeMap<String, String>,
    ca_pem: Option<String>,
    scratch: TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

fn random_string(len: usize) -> String {
    use rand::Rng as _;
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// A CA and a server certificate for 127.0.0.1 and localhost signed by it: (CA PEM, cert PEM,
/// key PEM).
fn tls_pki() -> Result<(String, String, String), rcgen::Error> {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
        IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "testkit registry CA");
    ca.distinguished_name = dn;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "127.0.0.1");
    leaf.distinguished_name = dn;
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    let cert = leaf.signed_by(&key, &issuer)?;
    Ok((ca_cert.pem(), cert.pem(), key.serialize_pem()))
}

impl Registry {
    /// Starts a registry (and, for [`Auth::Token`], its token service) and waits until it
    /// listens. [`ADMIN_USER`] exists in the modes with users; see [`Registry::start_with_users`].
    pub fn start(tools: &Tools, options: Options) -> Result<Registry, Error> {
        Self::start_with_users(tools, options, &[])
    }

    /// [`Registry::start`] with extra users (`(name, password)`).
    pub fn start_with_users(
        tools: &Tools,
        options: Options,
        users: &[(&str, &str)],
    ) -> Result<Registry, Error> {
        let scratch = tempfile::Builder::new()
            .prefix("openclaw-registry-")
            .tempdir()
            .map_err(io_err("creating the registry's directory"))?;
        let mut all: BTreeMap<String, String> = users
            .iter()
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .collect();
        all.insert(ADMIN_USER.to_string(), random_string(24));
        let port = crate::process::free_port().map_err(io_err("finding a free port"))?;
        let mut registry = Registry {
            child: None,
            token: None,
            tools: tools.clone(),
            options,
            port,
            users: all,
            ca_pem: None,
            scratch,
        };
        registry.write_config()?;
        registry.spawn()?;
        Ok(registry)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.scratch.path().join(name)
    }

    fn write(&self, name: &str, content: &str) -> Result<PathBuf, Error> {
        let path = self.path(name);
        fs::write(&path, content).map_err(io_err(format!("writing {}", path.display())))?;
        Ok(path)
    }

    fn write_config(&mut self) -> Result<(), Error> {
        let storage = self.path("storage");
        fs::create_dir_all(&storage).map_err(io_err("creating the storage dir"))?;
        let mut http = format!(
            "  addr: 127.0.0.1:{}\n  secret: {}\n",
            self.port,
            random_string(32)
        );
        if self.options.tls {
            let (ca, cert, key) = tls_pki().map_err(|e| Error::Pki(e.to_string()))?;
            self.write("ca.pem", &ca)?;
            let cert_path = self.write("cert.pem", &cert)?;
            let key_path = self.write("key.pem", &key)?;
            http.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert_path.display(),
                key_path.display()
            ));
            self.ca_pem = Some(ca);
        }
        let auth = match self.options.auth {
            Auth::Anonymous => String::new(),
            Auth::Htpasswd => {
                let mut lines = String::new();
                for (user, password) in &self.users {
                    // Cost 4 (the minimum): the file is for tests.
                    let hash = bcrypt::hash(password, 4).map_err(|e| Error::Pki(e.to_string()))?;
                    lines.push_str(&format!("{user}:{hash}\n"));
                }
                let path = self.write("htpasswd", &lines)?;
                format!(
                    "auth:\n  htpasswd:\n    realm: openclaw-test-registry\n    path: {}\n",
                    path.display()
                )
            }
            Auth::Token => {
                let service = TokenService::start(self.users.clone())?;
                let bundle = self.write("token-signer.pem", service.certificate_pem())?;
                let text = format!(
                    "auth:\n  token:\n    realm: {}\n    service: {TOKEN_SERVICE_NAME}\n    issuer: {TOKEN_ISSUER}\n    rootcertbundle: {}\n",
                    service.realm(),
                    bundle.display()
                );
                self.token = Some(service);
                text
            }
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: info\n  formatter: text\n  accesslog:\n    disabled: false\n\
storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false\n\
http:\n{http}{auth}",
            storage.display()
        );
        self.write("config.yml", &config)?;
        // crane's credentials: the admin user (htpasswd and token modes).
        let auth_b64 = STANDARD.encode(format!("{ADMIN_USER}:{}", self.users[ADMIN_USER]));
        let docker = self.path("docker");
        fs::create_dir_all(&docker).map_err(io_err("creating the docker config dir"))?;
        fs::write(
            docker.join("config.json"),
            format!(
                r#"{{"auths":{{"127.0.0.1:{}":{{"auth":"{auth_b64}"}}}}}}"#,
                self.port
            ),
        )
        .map_err(io_err("writing the docker config"))?;
        Ok(())
    }

    fn access_log_path(&self) -> PathBuf {
        self.path("access.log")
    }

    fn log_path(&self) -> PathBuf {
        self.path("registry.log")
    }

    fn spawn(&mut self) -> Result<(), Error> {
        let open = |p: PathBuf| {
            File::options()
                .create(true)
                .append(true)
                .open(&p)
                .map_err(io_err(format!("opening {}", p.display())))
        };
        let child = Command::new(self.tools.registry())
            .env_clear()
            .env("PATH", crate::jobrun::SYSTEM_PATH)
            .env("HOME", self.scratch.path())
            .arg("serve")
            .arg(self.path("config.yml"))
            .stdin(Stdio::null())
            .stdout(open(self.access_log_path())?)
            .stderr(open(self.log_path())?)
            .spawn()
            .map_err(io_err("starting the registry"))?;
        self.child = Some(child);
        let start = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(Error::Start {
                    what: format!("the registry exited early ({status})"),
                    detail: self.log_tail(),
                });
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            if start.elapsed() > START_TIMEOUT {
                self.stop();
                return Err(Error::Start {
                    what: format!(
                        "the registry on 127.0.0.1:{} did not listen within {START_TIMEOUT:?}",
                        self.port
                    ),
                    detail: self.log_tail(),
                });
            }
            thread::sleep(Duration::from_millis(25));
        }
    }

    /// The end of the registry's log.
    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Kills the registry (SIGKILL, as a crash); data and token service stay.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the registry again on the same port with the same data.
    pub fn restart(&mut self) -> Result<(), Error> {
        self.stop();
        self.spawn()
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:<port>/<name>`: what `spec.image.repository` would say.
    pub fn repository(&self, name: &str) -> String {
        format!("{}/{name}", self.host())
    }

    /// The private CA's PEM ([`Options::tls`]).
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The password of `user`.
    pub fn password(&self, user: &str) -> Option<&str> {
        self.users.get(user).map(String::as_str)
    }

    /// The token service ([`Auth::Token`]).
    pub fn token_service(&self) -> Option<&TokenService> {
        self.token.as_ref()
    }

    /// `crane ARGS` as the admin user (its own docker config; the private CA trusted).
    pub fn crane(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(self.tools.crane());
        cmd.env_clear()
            .env("PATH", crate::jobrun::SYSTEM_PATH)
            .env("HOME", self.scratch.path())
            .env("DOCKER_CONFIG", self.path("docker"))
            .args(args)
            .stdin(Stdio::null());
        if self.ca_pem.is_some() {
            cmd.env("SSL_CERT_FILE", self.path("ca.pem"));
        }
        cmd
    }

    fn run_crane(&self, args: &[&str]) -> Result<String, Error> {
        let output = self.crane(args).output().map_err(io_err("running crane"))?;
        if !output.status.success() {
            return Err(Error::Start {
                what: format!("crane {}", args.join(" ")),
                detail: format!(
                    "{}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                ),
            });
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Pushes one tiny image (an empty layer) as `name:<first tag>` with `crane append`, then
    /// gives it every other tag with `crane tag` (a few at once). Returns the image's digest
    /// reference (`name@sha256:...`).
    pub fn push_tags(&self, name: &str, tags: &[&str]) -> Result<String, Error> {
        let Some((first, rest)) = tags.split_first() else {
            return Ok(String::new());
        };
        // An empty tar archive: two zero blocks.
        let layer = self.path("empty.tar");
        if !layer.exists() {
            fs::write(&layer, [0u8; 1024]).map_err(io_err("writing empty.tar"))?;
        }
        let image = format!("{}:{first}", self.repository(name));
        let layer_arg = layer.display().to_string();
        let digest_ref = self
            .run_crane(&["append", "-f", &layer_arg, "-t", &image])?
            .trim()
            .to_string();
        let chunks: Vec<Vec<&str>> = rest
            .chunks(rest.len().div_ceil(PARALLEL_TAGS).max(1))
            .map(<[&str]>::to_vec)
            .collect();
        let results: Vec<Result<(), Error>> = thread::scope(|s| {
            let handles: Vec<_> = chunks
                .iter()
                .map(|chunk| {
                    let image = &image;
                    s.spawn(move || {
                        for tag in chunk {
                            self.run_crane(&["tag", image, tag])?;
                        }
                        Ok(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(Error::Start {
                            what: "crane tag".into(),
                            detail: "a thread panicked".into(),
                        })
                    })
                })
                .collect()
        });
        for r in results {
            r?;
        }
        Ok(digest_ref)
    }

    /// Pushes an image of its own as `name:tag` (the tiny image with a label naming the tag,
    /// so its digest differs from every other tag's); returns its digest reference.
    pub fn push_distinct(&self, name: &str, tag: &str) -> Result<String, Error> {
        self.push_tags(name, &[tag])?;
        let image = format!("{}:{tag}", self.repository(name));
        let label = format!("org.openclaw.test.tag={tag}");
        Ok(self
            .run_crane(&["mutate", "--label", &label, &image])?
            .trim()
            .to_string())
    }

    /// Deletes `name:tag` (`crane delete` of the tag's manifest: the registry removes the
    /// manifest and with it every tag that points to it).
    pub fn delete_tag(&self, name: &str, tag: &str) -> Result<(), Error> {
        let image = format!("{}:{tag}", self.repository(name));
        let digest = self.run_crane(&["digest", &image])?;
        let by_digest = format!("{}@{}", self.repository(name), digest.trim());
        self.run_crane(&["delete", &by_digest])?;
        Ok(())
    }

    /// The registry's access log so far.
    pub fn access_log(&self) -> Vec<AccessEntry> {
        let text = fs::read_to_string(self.access_log_path()).unwrap_or_default();
        text.lines().filter_map(parse_access_line).collect()
    }

    /// Requests served so far, after the access log has been quiet for 100 ms (the registry
    /// writes a line just after it answered).
    pub fn served(&self) -> usize {
        let mut last = self.access_log().len();
        let mut quiet_since = Instant::now();
        let start = Instant::now();
        while quiet_since.elapsed() < Duration::from_millis(100)
            && start.elapsed() < Duration::from_secs(3)
        {
            thread::sleep(Duration::from_millis(20));
            let now = self.access_log().len();
            if now != last {
                last = now;
                quiet_since = Instant::now();
            }
        }
        last
    }
}

/// Parses a combined-log line: `host - user [date] "METHOD PATH PROTO" status size "ref" "ua"`.
fn parse_access_line(line: &str) -> Option<AccessEntry> {
    let mut quoted = line.split('"');
    let _prefix = quoted.next()?;
    let request = quoted.next()?;
    let after = quoted.next()?;
    let _referer = quoted.next()?;
    let _ = quoted.next()?;
    let user_agent = quoted.next().unwrap_or_default().to_string();
    let mut parts = request.split(' ');
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let status = after.split_whitespace().next()?.parse().ok()?;
    Some(AccessEntry {
        method,
        path,
        status,
        user_agent,
    })
}

/// The token service stand-in (see the module docs): plain HTTP on `127.0.0.1:<free port>`,
/// one thread per connection, stopped on drop.
pub struct TokenService {
    port: u16,
    cert_pem: String,
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicU64>,
    accept: Option<thread::JoinHandle<()>>,
}

impl Drop for TokenService {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

struct Signer {
    key: ring::signature::EcdsaKeyPair,
    rng: ring::rand::SystemRandom,
    cert_der_b64: String,
    users: BTreeMap<String, String>,
}

impl TokenService {
    /// Starts the service with these users (`name -> password`). A user's refresh token
    /// (`identitytoken`) is [`TokenService::refresh_token_of`].
    pub fn start(users: BTreeMap<String, String>) -> Result<TokenService, Error> {
        let key = rcgen::KeyPair::generate().map_err(|e| Error::Pki(e.to_string()))?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
            .map_err(|e| Error::Pki(e.to_string()))?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "testkit token signer");
        let cert = params
            .self_signed(&key)
            .map_err(|e| Error::Pki(e.to_string()))?;
        let rng = ring::rand::SystemRandom::new();
        let signing = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &key.serialize_der(),
            &rng,
        )
        .map_err(|e| Error::Pki(e.to_string()))?;
        let signer = Arc::new(Signer {
            key: signing,
            rng,
            cert_der_b64: STANDARD.encode(cert.der()),
            users,
        });
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(io_err("binding the token service"))?;
        let port = listener
            .local_addr()
            .map_err(io_err("the token service's address"))?
            .port();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicU64::new(0));
        let accept = {
            let (stop, requests) = (Arc::clone(&stop), Arc::clone(&requests));
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (signer, requests) = (Arc::clone(&signer), Arc::clone(&requests));
                    thread::spawn(move || {
                        let _ = serve(stream, &signer, &requests);
                    });
                }
            })
        };
        Ok(TokenService {
            port,
            cert_pem: cert.pem(),
            stop,
            requests,
            accept: Some(accept),
        })
    }

    /// `http://localhost:<port>/token`. A host name, not `127.0.0.1`: clients (crane, the
    /// operator) refuse realms on private or loopback IP literals other than the registry's own
    /// host and port, against SSRF.
    pub fn realm(&self) -> String {
        format!("http://localhost:{}/token", self.port)
    }

    /// The signing certificate (the registry's `rootcertbundle`).
    pub fn certificate_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Token requests answered so far (any status).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// The refresh token (`identitytoken`) the service accepts for `user`.
    pub fn refresh_token_of(user: &str) -> String {
        format!("refresh-{user}")
    }
}

fn query_pairs(query: &str) -> Vec<(String, String)> {
    let decode = |s: &str| -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                },
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn respond(stream: &mut TcpStream, status: &str, body: &str, extra: &str) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

/// Answers one request on `stream` (then closes it).
fn serve(mut stream: TcpStream, signer: &Signer, requests: &AtomicU64) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Ok(());
    };
    requests.fetch_add(1, Ordering::SeqCst);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path != "/token" {
        return respond(&mut stream, "404 Not Found", r#"{"error":"not found"}"#, "");
    }
    let mut params = query_pairs(query);
    let mut account: Option<String> = None;
    if method == "POST" {
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len.min(64 * 1024)];
        reader.read_exact(&mut body)?;
        params.extend(query_pairs(&String::from_utf8_lossy(&body)));
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        match get("grant_type").as_deref() {
            Some("refresh_token") => {
                let token = get("refresh_token").unwrap_or_default();
                match signer
                    .users
                    .keys()
                    .find(|u| TokenService::refresh_token_of(u) == token)
                {
                    Some(u) => account = Some(u.clone()),
                    None => {
                        return respond(
                            &mut stream,
                            "401 Unauthorized",
                            r#"{"error":"invalid_grant"}"#,
                            "",
                        );
                    }
                }
            }
            Some("password") => {
                let (u, p) = (
                    get("username").unwrap_or_default(),
                    get("password").unwrap_or_default(),
                );
                if signer.users.get(&u) != Some(&p) {
                    return respond(
                        &mut stream,
                        "401 Unauthorized",
                        r#"{"error":"invalid_grant"}"#,
                        "",
                    );
                }
                account = Some(u);
            }
            _ => {
                return respond(
                    &mut stream,
                    "400 Bad Request",
                    r#"{"error":"unsupported_grant_type"}"#,
                    "",
                );
            }
        }
    } else if let Some(auth) = headers.get("authorization") {
        let decoded = auth
            .strip_prefix("Basic ")
            .and_then(|b| STANDARD.decode(b.trim()).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        match decoded.split_once(':') {
            Some((u, p)) if signer.users.get(u).is_some_and(|pw| pw == p) => {
                account = Some(u.to_string());
            }
            _ => {
                return respond(
                    &mut stream,
                    "401 Unauthorized",
                    r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication failed"}]}"#,
                    "WWW-Authenticate: Basic realm=\"openclaw-testkit-token-service\"\r\n",
                );
            }
        }
    }
    // Grants: a known user gets what it asked for; anonymous gets pull on public repositories.
    let mut access = Vec::new();
    for (k, v) in &params {
        if k != "scope" {
            continue;
        }
        for scope in v.split(' ') {
            let mut fields = scope.splitn(3, ':');
            let (Some(kind), Some(name), Some(actions)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let asked: Vec<&str> = actions.split(',').collect();
            let granted: Vec<&str> = if account.is_some() {
                asked
            } else if kind == "repository" && name.starts_with(PUBLIC_PREFIX) {
                asked.into_iter().filter(|a| *a == "pull").collect()
            } else {
                Vec::new()
            };
            access.push(serde_json::json!({"type": kind, "name": name, "actions": granted}));
        }
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "x5c": [signer.cert_der_b64]});
    let claims = serde_json::json!({
        "iss": TOKEN_ISSUER,
        "sub": account.clone().unwrap_or_default(),
        "aud": TOKEN_SERVICE_NAME,
        "exp": now + 300,
        "nbf": now.saturating_sub(10),
        "iat": now,
        "jti": random_string(16),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let Ok(signature) = signer.key.sign(&signer.rng, signing_input.as_bytes()) else {
        return respond(
            &mut stream,
            "500 Internal Server Error",
            r#"{"error":"signing"}"#,
            "",
        );
    };
    let jwt = format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.as_ref())
    );
    // The OAuth2 form answers access_token only; the GET form answers both (as Docker Hub).
    let body = if method == "POST" {
        serde_json::json!({"access_token": jwt, "expires_in": 300, "scope": ""})
    } else {
        serde_json::json!({"token": jwt, "access_token": jwt, "expires_in": 300})
    };
    respond(&mut stream, "200 OK", &body.to_string(), "")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn access_lines() {
        let line = r#"127.0.0.1 - - [07/Dec/2026:19:00:00 +0000] "GET /v2/x/tags/list?n=100 HTTP/1.1" 200 87 "" "openclaw-operator/0.1.0""#;
        assert_eq!(
            parse_access_line(line),
            Some(AccessEntry {
                method: "GET".into(),
                path: "/v2/x/tags/list?n=100".into(),
                status: 200,
                user_agent: "openclaw-operator/0.1.0".into(),
            })
        );
        assert_eq!(parse_access_line("time=... level=info msg=x"), None);
    }

    #[test]
    fn queries_decode() {
        assert_eq!(
            query_pairs("scope=repository%3Aa%2Fb%3Apull&service=r+e&x"),
            vec![
                ("scope".into(), "repository:a/b:pull".into()),
                ("service".into(), "r e".into()),
                ("x".into(), "".into())
            ]
        );
    }
}
