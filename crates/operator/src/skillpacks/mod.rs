//! Skill packs: resolving `pack:owner/repo/path[@ref]` references against the GitHub API
//! into [`ResolvedPacks`] for the renderer.
//!
//! - **Manifest mode**: `skillpack.json` at the pack path maps workspace paths to files of
//!   the pack directory, lists directories and `skills.entries` (`config`). Files come from
//!   the Contents API (up to 1 MB each).
//! - **Raw mode** (no manifest): the pack directory is copied to `skills/<last segment>/`
//!   from the recursive tree; it must hold a `SKILL.md`. Blobs are fetched by sha.
//!
//! Each reference resolves on its own: one failing pack does not drop the others. Results are
//! cached per reference for [`Options::ttl`]; when a refresh fails, a result younger than
//! [`Options::stale_for`] is served and reported in [`Resolution::stale`]. Requests are
//! conditional (`If-None-Match`; a 304 does not count against an authenticated rate limit),
//! blobs are cached by sha, and after GitHub reports the rate limit exhausted no request goes
//! out before the reset ([`Resolver::next_retry`]).
//!
//! The pure parts live in [`pack`] (manifest, tree mapping, merge), [`github`] (URLs, answers,
//! headers) and [`cache`] (policies); this module is the thin I/O around them.

pub mod cache;
pub mod error;
pub mod github;
pub mod pack;
pub(crate) mod transport;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use futures::{FutureExt as _, StreamExt as _};
use openclaw_api::validation::{PackRef, parse_pack};
pub use openclaw_render::skillpacks::ResolvedPacks;

use cache::{ByteLru, Freshness, Gate, PackCache, Validated, freshness};
pub use error::{ResolveError, SetupError};
pub use github::DEFAULT_BASE_URL;
use github::{Api, Contents, RateLimit, Response};
pub use pack::WORKSPACE_BUDGET_BYTES;
use pack::{MANIFEST, Pack, label, repo_name};
use transport::{HttpsTransport, Transport};

/// Default time a resolved pack is used without asking GitHub.
pub const DEFAULT_TTL: Duration = Duration::from_secs(5 * 60);
/// Default age up to which a resolved pack is served when GitHub fails.
pub const DEFAULT_STALE_FOR: Duration = Duration::from_secs(24 * 60 * 60);
/// Default limit for one request, answer included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default bound of the remembered bodies for conditional requests.
pub const DEFAULT_ETAG_CACHE_BYTES: usize = 8 * 1024 * 1024;
/// Default bound of the blob cache (by sha, never stale).
pub const DEFAULT_BLOB_CACHE_BYTES: usize = 16 * 1024 * 1024;
/// Bound of the remembered raw-mode pack names (see [`Resolver::fetch_pack`]).
const RAW_PACKS_BYTES: usize = 1024 * 1024;
/// How many files of one pack are fetched at once.
const PARALLEL_FETCHES: usize = 4;

/// The resolver's settings.
#[derive(Clone)]
pub struct Options {
    /// The API root: `https://api.github.com`, or `https://ghe.example/api/v3` for GitHub
    /// Enterprise Server. `http://` is accepted (tests).
    pub base_url: String,
    /// Sent as `Authorization: Bearer`; without it GitHub allows 60 requests/hour per IP.
    pub token: Option<String>,
    /// PEM CA certificates trusted besides the system roots.
    pub ca_file: Option<PathBuf>,
    /// How long a resolved pack is used without asking GitHub.
    pub ttl: Duration,
    /// Up to which age a resolved pack is served when a refresh fails (zero: never).
    pub stale_for: Duration,
    /// Limit for one request, answer included.
    pub timeout: Duration,
    /// Bound of the bodies remembered for conditional requests.
    pub etag_cache_bytes: usize,
    /// Bound of the blob cache.
    pub blob_cache_bytes: usize,
    /// The most file bytes one workspace's packs may have ([`WORKSPACE_BUDGET_BYTES`]).
    pub budget_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            base_url: DEFAULT_BASE_URL.to_string(),
            token: None,
            ca_file: None,
            ttl: DEFAULT_TTL,
            stale_for: DEFAULT_STALE_FOR,
            timeout: DEFAULT_TIMEOUT,
            etag_cache_bytes: DEFAULT_ETAG_CACHE_BYTES,
            blob_cache_bytes: DEFAULT_BLOB_CACHE_BYTES,
            budget_bytes: WORKSPACE_BUDGET_BYTES,
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("base_url", &self.base_url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("ca_file", &self.ca_file)
            .field("ttl", &self.ttl)
            .field("stale_for", &self.stale_for)
            .field("timeout", &self.timeout)
            .field("etag_cache_bytes", &self.etag_cache_bytes)
            .field("blob_cache_bytes", &self.blob_cache_bytes)
            .field("budget_bytes", &self.budget_bytes)
            .finish()
    }
}

impl Options {
    /// Defaults, with `GITHUB_TOKEN` (token), `GITHUB_API_URL` (base URL, as in GitHub
    /// Actions) and `GITHUB_CA_FILE` (extra CA) from the environment. Empty values count as
    /// unset.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`Options::from_env`] with the variables from `env`.
    pub fn from_lookup(env: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| {
            env(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Options {
            token: get("GITHUB_TOKEN"),
            base_url: get("GITHUB_API_URL").unwrap_or_else(|| DEFAULT_BASE_URL.to_string()),
            ca_file: get("GITHUB_CA_FILE").map(PathBuf::from),
            ..Options::default()
        }
    }
}

/// A reference served from an older result because the refresh failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stale {
    /// The reference as given.
    pub reference: String,
    /// When the served result was fetched.
    pub fetched: SystemTime,
    /// Why the refresh failed.
    pub error: ResolveError,
}

/// The outcome of resolving one workspace's references.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resolution {
    /// What resolved (fresh or stale), merged in spec order.
    pub packs: ResolvedPacks,
    /// References that did not resolve (or were left out when merging), with why.
    pub errors: Vec<(String, ResolveError)>,
    /// References served from an older result.
    pub stale: Vec<Stale>,
    /// When GitHub's rate limit allows asking again, if it is what stood in the way: requeue
    /// then.
    pub retry_at: Option<SystemTime>,
}

impl Resolution {
    /// Every reference resolved fresh.
    pub fn is_complete(&self) -> bool {
        self.errors.is_empty() && self.stale.is_empty()
    }

    /// One line per problem, for a condition or event message; `None` when complete.
    pub fn message(&self) -> Option<String> {
        if self.is_complete() {
            return None;
        }
        let mut lines: Vec<String> = self
            .errors
            .iter()
            .map(|(reference, e)| format!("{reference}: {e}"))
            .collect();
        lines.extend(self.stale.iter().map(|s| {
            format!(
                "{}: using the result fetched at {}: {}",
                s.reference,
                error::rfc3339(s.fetched),
                s.error
            )
        }));
        Some(lines.join("; "))
    }
}

/// The `pack:` entries of a skills list, in order.
pub fn pack_references(skills: &[String]) -> Vec<String> {
    skills
        .iter()
        .filter(|s| s.starts_with("pack:"))
        .cloned()
        .collect()
}

/// Where the resolver reads the time (injected in tests).
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Resolves skill packs, with the caches. Cheap to clone; clones share the caches. One per
/// operator process.
#[derive(Clone)]
pub struct Resolver {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

struct Inner {
    api: Api,
    options: Options,
    headers: http::HeaderMap,
    transport: Box<dyn Transport>,
    clock: Clock,
    state: Mutex<State>,
}

struct State {
    packs: PackCache,
    validated: ByteLru<String, Arc<Validated>>,
    blobs: ByteLru<String, Arc<Vec<u8>>>,
    /// Packs (by label) that resolved in raw mode last time.
    raw_packs: ByteLru<String, ()>,
    gate: Gate,
}

/// Which requests may be answered from a remembered body.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Conditional {
    Yes,
    No,
}

impl Resolver {
    /// A resolver talking HTTPS to `options.base_url`.
    pub fn new(options: Options) -> Result<Self, SetupError> {
        let transport = HttpsTransport::new(options.ca_file.as_deref())?;
        Self::with_transport(options, Box::new(transport), Arc::new(SystemTime::now))
    }

    /// A resolver over any transport and clock.
    pub(crate) fn with_transport(
        options: Options,
        transport: Box<dyn Transport>,
        clock: Clock,
    ) -> Result<Self, SetupError> {
        check_base_url(&options.base_url)?;
        let headers = request_headers(options.token.as_deref())?;
        let state = State {
            packs: PackCache::default(),
            validated: ByteLru::new(options.etag_cache_bytes),
            blobs: ByteLru::new(options.blob_cache_bytes),
            raw_packs: ByteLru::new(RAW_PACKS_BYTES),
            gate: Gate::default(),
        };
        Ok(Resolver {
            inner: Arc::new(Inner {
                api: Api::new(&options.base_url),
                options,
                headers,
                transport,
                clock,
                state: Mutex::new(state),
            }),
        })
    }

    /// Until when GitHub's rate limit forbids requests, if it does now.
    pub fn next_retry(&self) -> Option<SystemTime> {
        let now = self.now();
        self.state().gate.closed(now)
    }

    /// Resolve one workspace's references (`pack:owner/repo/path[@ref]`, the prefix
    /// optional), each on its own, and merge what resolved in their order (later packs win).
    /// `workspace` only names the workspace in messages.
    pub async fn resolve(&self, workspace: &str, references: &[String]) -> Resolution {
        {
            let now = self.now();
            let options = &self.inner.options;
            self.state()
                .packs
                .prune(now, options.ttl, options.stale_for);
        }
        let mut resolution = Resolution::default();
        let mut packs = Vec::new();
        for reference in references {
            match self.resolve_one(reference).await {
                Ok((pack, stale)) => {
                    packs.push((reference.clone(), pack));
                    resolution.stale.extend(stale);
                }
                Err(e) => resolution.errors.push((reference.clone(), e)),
            }
        }
        let (merged, errors) = pack::merge(workspace, &packs, self.inner.options.budget_bytes);
        resolution.packs = merged;
        resolution.errors.extend(errors);
        resolution.retry_at = resolution
            .errors
            .iter()
            .map(|(_, e)| e)
            .chain(resolution.stale.iter().map(|s| &s.error))
            .filter_map(ResolveError::retry_at)
            .max();
        resolution
    }

    /// One reference: from the cache when fresh, else from GitHub, else stale.
    async fn resolve_one(
        &self,
        reference: &str,
    ) -> Result<(Arc<Pack>, Option<Stale>), ResolveError> {
        let pack_ref = parse_pack(reference).map_err(|reason| ResolveError::InvalidReference {
            reference: reference.to_string(),
            reason,
        })?;
        let key = format!("pack:{}", label(&pack_ref));
        let now = self.now();
        let options = &self.inner.options;
        let cached = self.state().packs.get(&key).cloned();
        let usable =
            cached.and_then(
                |c| match freshness(c.fetched, now, options.ttl, options.stale_for) {
                    Freshness::Expired => None,
                    f => Some((f, c)),
                },
            );
        if let Some((Freshness::Fresh, c)) = &usable {
            return Ok((c.pack.clone(), None));
        }
        match self.fetch_pack(&pack_ref).await {
            Ok(pack) => {
                let pack = Arc::new(pack);
                let now = self.now();
                self.state().packs.insert(key, pack.clone(), now);
                Ok((pack, None))
            }
            Err(error) => match usable {
                Some((_, c)) => {
                    tracing::debug!(reference, %error, "skill pack refresh failed; serving the older result");
                    Ok((
                        c.pack,
                        Some(Stale {
                            reference: reference.to_string(),
                            fetched: c.fetched,
                            error,
                        }),
                    ))
                }
                None => Err(error),
            },
        }
    }

    /// Manifest mode if `skillpack.json` exists, else raw mode.
    ///
    /// A pack that resolved in raw mode last time starts with the (conditional) tree, which
    /// shows whether a manifest appeared: probing for the manifest would cost a 404 on every
    /// refresh, and GitHub counts 404s against the rate limit, 304s to a token not.
    async fn fetch_pack(&self, p: &PackRef) -> Result<Pack, ResolveError> {
        let pack_label = label(p);
        if self.state().raw_packs.get(&pack_label).is_some() {
            let tree = self.fetch_tree(p).await?;
            if !tree.truncated && !pack::tree_has_manifest(p, &tree) {
                return self.raw_from_tree(p, &tree).await;
            }
            self.state().raw_packs.remove(&pack_label);
        }
        let repo = repo_name(p);
        let reference = p.reference.as_deref();
        let manifest_path = format!("{}/{MANIFEST}", p.path);
        let url = self
            .inner
            .api
            .contents(&p.owner, &p.repo, &manifest_path, reference);
        let resource = resource(&manifest_path, reference);
        match self.get(&url, Conditional::Yes, &repo, &resource).await {
            Ok(body) => self.manifest_mode(p, &url, &body).await,
            Err(ResolveError::NotFound { .. }) => {
                let tree = self.fetch_tree(p).await?;
                let pack = self.raw_from_tree(p, &tree).await?;
                let size = pack_label.len();
                self.state().raw_packs.insert(pack_label, (), size);
                Ok(pack)
            }
            Err(e) => Err(e),
        }
    }

    async fn manifest_mode(
        &self,
        p: &PackRef,
        manifest_url: &str,
        body: &[u8],
    ) -> Result<Pack, ResolveError> {
        let pack_label = label(p);
        let reference = p.reference.as_deref();
        let manifest_path = format!("{}/{MANIFEST}", p.path);
        let bytes = self.contents_file(p, manifest_url, &manifest_path, body)?;
        let manifest = pack::parse_manifest(&bytes).map_err(|reason| ResolveError::Manifest {
            pack: pack_label.clone(),
            reason,
        })?;
        let repo = repo_name(p);
        let budget = self.inner.options.budget_bytes;
        let fetches = manifest.files.iter().map(|(workspace_path, rel)| {
            let file = format!("{}/{rel}", p.path);
            let url = self.inner.api.contents(&p.owner, &p.repo, &file, reference);
            let repo = &repo;
            let pack_label = &pack_label;
            async move {
                let body = self
                    .get(&url, Conditional::Yes, repo, &resource(&file, reference))
                    .await
                    .map_err(|e| match e {
                        ResolveError::NotFound { .. } => ResolveError::Manifest {
                            pack: pack_label.clone(),
                            reason: format!("files[{workspace_path:?}]: {file} not found"),
                        },
                        e => e,
                    })?;
                let content = self.contents_file(p, &url, &file, &body)?;
                Ok::<_, ResolveError>((workspace_path.clone(), content))
            }
            .boxed()
        });
        // Collected first: a stream over the closure is not `Send` for every lifetime, which
        // the controller's reconcile future must be.
        let fetches: Vec<_> = fetches.collect();
        let mut stream = futures::stream::iter(fetches).buffered(PARALLEL_FETCHES);
        let mut pack = Pack {
            directories: manifest.directories,
            skill_entries: manifest.config,
            ..Pack::default()
        };
        let mut total = 0u64;
        while let Some(file) = stream.next().await {
            let (path, content) = file?;
            total += content.len() as u64;
            if total > budget {
                return Err(ResolveError::PackTooLarge {
                    pack: label(p),
                    bytes: total,
                    limit: budget,
                });
            }
            pack.files.insert(path, content);
        }
        Ok(pack)
    }

    /// Decode a Contents API file answer.
    fn contents_file(
        &self,
        p: &PackRef,
        url: &str,
        file: &str,
        body: &[u8],
    ) -> Result<Vec<u8>, ResolveError> {
        match github::decode_contents(body) {
            Ok(Contents::File(bytes)) => Ok(bytes),
            Ok(Contents::NotIncluded { size }) => Err(ResolveError::FileTooLargeForContentsApi {
                pack: label(p),
                file: file.to_string(),
                size,
            }),
            Err(reason) => Err(ResolveError::BadResponse {
                url: url.to_string(),
                reason,
            }),
        }
    }

    /// The recursive tree at the pack's ref.
    async fn fetch_tree(&self, p: &PackRef) -> Result<github::Tree, ResolveError> {
        let repo = repo_name(p);
        let reference = p.reference.as_deref();
        let url = self.inner.api.tree(&p.owner, &p.repo, reference);
        let body = self
            .get(
                &url,
                Conditional::Yes,
                &repo,
                &match reference {
                    Some(r) => format!("ref {r}"),
                    None => "default branch".to_string(),
                },
            )
            .await?;
        github::decode_tree(&body).map_err(|reason| ResolveError::BadResponse { url, reason })
    }

    /// Raw mode: the pack directory of `tree`, blobs by sha.
    async fn raw_from_tree(&self, p: &PackRef, tree: &github::Tree) -> Result<Pack, ResolveError> {
        let repo = repo_name(p);
        let budget = self.inner.options.budget_bytes;
        let plan = pack::plan_raw(p, tree, budget)?;
        let fetches = plan.blobs.iter().map(|(path, sha)| {
            let repo = &repo;
            async move {
                let content = self.blob(p, repo, sha).await?;
                Ok::<_, ResolveError>((path.clone(), content))
            }
            .boxed()
        });
        let fetches: Vec<_> = fetches.collect();
        let mut stream = futures::stream::iter(fetches).buffered(PARALLEL_FETCHES);
        let mut pack = Pack {
            directories: plan.directories.clone(),
            ..Pack::default()
        };
        let mut total = 0u64;
        while let Some(file) = stream.next().await {
            let (path, content) = file?;
            total += content.len() as u64;
            if total > budget {
                return Err(ResolveError::PackTooLarge {
                    pack: label(p),
                    bytes: total,
                    limit: budget,
                });
            }
            pack.files.insert(path, content.as_ref().clone());
        }
        Ok(pack)
    }

    /// A blob by sha: from the cache (blobs never change) or GitHub.
    async fn blob(&self, p: &PackRef, repo: &str, sha: &str) -> Result<Arc<Vec<u8>>, ResolveError> {
        if let Some(content) = self.state().blobs.get(&sha.to_string()) {
            return Ok(content);
        }
        let url = self.inner.api.blob(&p.owner, &p.repo, sha);
        let body = self
            .get(&url, Conditional::No, repo, &format!("blob {sha}"))
            .await?;
        let content = Arc::new(
            github::decode_blob(&body)
                .map_err(|reason| ResolveError::BadResponse { url, reason })?,
        );
        self.state()
            .blobs
            .insert(sha.to_string(), content.clone(), content.len());
        Ok(content)
    }

    /// One GET with the rate-limit gate, the timeout and conditional requests; the body of a
    /// 200 (or the remembered body on a 304), else the error.
    async fn get(
        &self,
        url: &str,
        conditional: Conditional,
        repo: &str,
        resource: &str,
    ) -> Result<Vec<u8>, ResolveError> {
        let authenticated = self.inner.options.token.is_some();
        let mut headers = self.inner.headers.clone();
        let remembered = {
            let mut state = self.state();
            if let Some(until) = state.gate.closed(self.now()) {
                return Err(ResolveError::RateLimited {
                    until,
                    limit: state.gate.limit,
                    authenticated,
                });
            }
            match conditional {
                Conditional::Yes => state.validated.get(&url.to_string()),
                Conditional::No => None,
            }
        };
        if let Some(v) = &remembered
            && let Ok(value) = http::HeaderValue::from_str(&v.etag)
        {
            headers.insert(http::header::IF_NONE_MATCH, value);
        }
        let timeout = self.inner.options.timeout;
        let response: Response =
            tokio::time::timeout(timeout, self.inner.transport.get(url, headers))
                .await
                .map_err(|_| ResolveError::Timeout {
                    url: url.to_string(),
                    seconds: timeout.as_secs(),
                })??;
        let rate = RateLimit::from_response(&response);
        let now = self.now();
        if let Some(until) = rate.blocked_until(response.status, now) {
            let mut state = self.state();
            state.gate.close(until, rate.limit);
            if matches!(response.status, 403 | 429) {
                tracing::warn!(%url, until = %error::rfc3339(until), "GitHub API rate limit exhausted");
                return Err(ResolveError::RateLimited {
                    until: state.gate.until.unwrap_or(until),
                    limit: state.gate.limit,
                    authenticated,
                });
            }
        }
        match response.status {
            200 => {
                if conditional == Conditional::Yes
                    && let Some(etag) = response.header("etag")
                {
                    let size = response.body.len() + etag.len();
                    let validated = Arc::new(Validated {
                        etag: etag.to_string(),
                        body: response.body.clone(),
                    });
                    self.state()
                        .validated
                        .insert(url.to_string(), validated, size);
                }
                Ok(response.body)
            }
            304 => match remembered {
                Some(v) => Ok(v.body.clone()),
                None => Err(ResolveError::BadResponse {
                    url: url.to_string(),
                    reason: "304 Not Modified to an unconditional request".into(),
                }),
            },
            _ => Err(github::status_error(repo, resource, url, &response)),
        }
    }

    fn now(&self) -> SystemTime {
        (self.inner.clock)()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// `path` or `path at ref`, for not-found messages.
fn resource(path: &str, reference: Option<&str>) -> String {
    match reference {
        Some(r) => format!("{path} at {r}"),
        None => path.to_string(),
    }
}

fn check_base_url(url: &str) -> Result<(), SetupError> {
    let bad = |reason: &str| SetupError::BaseUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let uri: http::Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
    match uri.scheme_str() {
        Some("https" | "http") => {}
        _ => return Err(bad("must start with https://")),
    }
    if uri.authority().is_none() {
        return Err(bad("has no host"));
    }
    if uri.query().is_some() {
        return Err(bad("must not have a query"));
    }
    Ok(())
}

/// The headers of every request.
fn request_headers(token: Option<&str>) -> Result<http::HeaderMap, SetupError> {
    use http::HeaderValue;
    use http::header::{ACCEPT, AUTHORIZATION, USER_AGENT};
    let mut headers = http::HeaderMap::new();
    headers.insert(
        ACCEPT,
        HeaderValue::from_static("application/vnd.github+json"),
    );
    headers.insert(
        "x-github-api-version",
        HeaderValue::from_static("2022-11-28"),
    );
    headers.insert(
        USER_AGENT,
        HeaderValue::from_static(concat!("openclaw-operator/", env!("CARGO_PKG_VERSION"))),
    );
    if let Some(token) = token {
        let mut value =
            HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| SetupError::Token)?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    Ok(headers)
}

#[cfg(test)]
mod tests;
