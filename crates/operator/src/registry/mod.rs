//! The image-registry resolver of auto-update: the newest stable semver tag of a repository
//! (OCI distribution API: `GET /v2/<name>/tags/list` with `Link` pagination), and whether a tag
//! still exists (`HEAD /v2/<name>/manifests/<tag>`).
//!
//! Authentication follows the registry's `WWW-Authenticate` challenge: Bearer (a token from
//! the realm for `repository:<name>:pull`, anonymous or with the pull secret's user and
//! password, or an OAuth2 refresh token from `identitytoken`), or Basic. A `registrytoken` is
//! sent as Bearer directly. The first request goes straight to the tags list; the challenge of
//! its 401 names the realm, so no separate `GET /v2/` ping is sent.
//!
//! The answer to a challenge (token or Basic) is reused per (host, repository, credentials)
//! until the token's `expires_in` (less 10 s; Basic: 5 min), so `tag_exists` right after a
//! check is one request; a 401 with a reused token answers the challenge afresh.
//!
//! HTTPS with the system roots plus the instance's CA bundle. Loopback registries (`localhost`,
//! `127.0.0.0/8`, `::1`) are tried over HTTPS and, when that fails for any reason but a
//! certificate error, over plain HTTP (as Docker treats them as insecure registries); the
//! scheme that worked is remembered per host.
//!
//! Tag lists are cached for a TTL per (repository, credentials fingerprint), shared by all
//! instances; only successes are cached, so one instance's failure (bad credentials) neither
//! evicts nor poisons what another instance uses.

pub mod auth;
pub mod reference;
pub mod version;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine as _;
use http_body_util::BodyExt as _;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;

pub use auth::{CredentialKind, Credentials, credentials_for};
pub use reference::{Repository, parse_repository};
pub use version::{Constraint, Version, newer, parse_version};

use crate::skillpacks::transport::{TlsSetupError, cause_chain, tls_config_pem};

/// Default time a tag list is used without asking the registry.
pub const DEFAULT_TTL: Duration = Duration::from_secs(5 * 60);
/// Limit for one request, answer included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Tags asked for per page (`?n=`).
pub const PAGE_SIZE: usize = 100;
/// Most pages followed for one tag list.
pub const MAX_PAGES: usize = 100;
/// The largest answer read.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// The manifest media types `tag_exists` accepts.
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// Errors of the registry resolver; the messages name the registry and, where there is one,
/// the HTTP status. `Clone`: the checks of one repository that wait for the same fetch share its
/// answer, a failure too.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Error {
    /// `spec.image.repository` cannot be read.
    #[error("invalid image repository {repository:?}: {reason}")]
    InvalidRepository {
        /// As given.
        repository: String,
        /// Why.
        reason: String,
    },
    /// Not a valid tag (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`).
    #[error("invalid image tag {tag:?}")]
    InvalidTag {
        /// As given.
        tag: String,
    },
    /// The version constraint cannot be read.
    #[error(
        "invalid version constraint {constraint:?}: expected one to three numbers such as 2026.9"
    )]
    InvalidConstraint {
        /// As given.
        constraint: String,
    },
    /// A pull secret cannot be read.
    #[error("pull secret {secret}: {reason}")]
    BadPullSecret {
        /// The Secret's name.
        secret: String,
        /// Why.
        reason: String,
    },
    /// The CA bundle is unusable.
    #[error("the CA bundle is unusable: {0}")]
    CaBundle(String),
    /// No connection, a TLS failure, or no answer in time.
    #[error("registry {registry} is unreachable: {cause}")]
    Unreachable {
        /// The registry host.
        registry: String,
        /// What failed.
        cause: String,
    },
    /// 401 and no pull secret has credentials for this registry.
    #[error(
        "registry {registry} requires authentication for {repository} (HTTP 401); set spec.image.pullSecrets"
    )]
    AuthRequired {
        /// The registry host.
        registry: String,
        /// The repository name.
        repository: String,
    },
    /// 401 (or 403) with the pull secret's credentials.
    #[error("registry {registry} rejected the credentials of pull secret {secret} (HTTP {status})")]
    CredentialsRejected {
        /// The registry (or token service) host.
        registry: String,
        /// The pull secret.
        secret: String,
        /// The status.
        status: u16,
    },
    /// 429.
    #[error("registry {registry} is rate-limiting requests (HTTP 429){}", retry_after.map(|d| format!("; retry after {}s", d.as_secs())).unwrap_or_default())]
    RateLimited {
        /// The registry host.
        registry: String,
        /// From `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// 404 on the tags list.
    #[error("repository {repository} not found on registry {registry} (HTTP 404)")]
    NotFound {
        /// The registry host.
        registry: String,
        /// The repository name.
        repository: String,
    },
    /// No tag is a stable version (matching the constraint).
    #[error("no stable semver tags found in {repository}{}", constraint.as_ref().map(|c| format!(" matching {c}")).unwrap_or_default())]
    NoStableTags {
        /// `host/name`.
        repository: String,
        /// The constraint, when one was given.
        constraint: Option<String>,
    },
    /// A `Link` header that cannot be read.
    #[error("registry {registry} sent a malformed Link header {value:?}: {reason}")]
    MalformedLink {
        /// The registry host.
        registry: String,
        /// The header.
        value: String,
        /// Why.
        reason: String,
    },
    /// More than [`MAX_PAGES`] pages.
    #[error("registry {registry} has more than {MAX_PAGES} pages of tags for {repository}")]
    TooManyPages {
        /// The registry host.
        registry: String,
        /// The repository name.
        repository: String,
    },
    /// The token service's answer is unusable.
    #[error("token service {realm} of registry {registry}: {reason}")]
    BadToken {
        /// The registry host.
        registry: String,
        /// The realm URL.
        realm: String,
        /// Why.
        reason: String,
    },
    /// Any other unexpected answer.
    #[error("registry {registry} answered HTTP {status} to {what}{}", if body.is_empty() { String::new() } else { format!(": {body}") })]
    Status {
        /// The registry host.
        registry: String,
        /// The status.
        status: u16,
        /// What was asked.
        what: String,
        /// The start of the body.
        body: String,
    },
    /// A body that cannot be read.
    #[error("registry {registry}: {reason}")]
    BadResponse {
        /// The registry host.
        registry: String,
        /// Why.
        reason: String,
    },
}

impl Error {
    /// For 429: how long the registry asked to wait (`Retry-After`, seconds).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// What to resolve.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    /// As in `spec.image.repository`: `ghcr.io/openclaw/openclaw`, `openclaw/openclaw`,
    /// `127.0.0.1:5000/x`.
    pub repository: &'a str,
    /// From the pull secrets ([`credentials_for`]); `None`: anonymous.
    pub credentials: Option<Credentials>,
    /// PEM CA certificates trusted besides the system roots.
    pub ca_bundle: Option<&'a [u8]>,
    /// A version prefix to stay on (`2026.9`: only `2026.9.x`).
    pub constraint: Option<&'a str>,
}

/// The newest stable tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Latest {
    /// The tag as the registry lists it.
    pub tag: String,
    /// Whether the tag list came from the cache (no request sent).
    pub from_cache: bool,
}

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, http_body_util::Full<Bytes>>;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct CacheKey {
    repository: Repository,
    credentials: String,
    ca: u64,
}

/// When a tag list was fetched, and the list.
type CachedTags = (Instant, Arc<Vec<String>>);

/// A tag-list fetch in progress; every check of the same key that misses the cache meanwhile
/// waits for it instead of sending its own requests.
type Inflight = Arc<tokio::sync::OnceCell<Result<Arc<Vec<String>>, Error>>>;

struct Inner {
    ttl: Duration,
    requests: AtomicU64,
    cache: Mutex<HashMap<CacheKey, CachedTags>>,
    /// Fetches in progress (single flight): the instances of one repository that reconcile at
    /// the same time (the operator's start, a fleet created at once) send one fetch, not one
    /// each. The entry goes when the fetch ends; only a success enters `cache`.
    inflight: Mutex<HashMap<CacheKey, Inflight>>,
    clients: Mutex<HashMap<u64, HttpClient>>,
    schemes: Mutex<HashMap<String, &'static str>>,
    /// Authorizations that answered a challenge, per (host, repository, credentials
    /// fingerprint), until they expire: a `tag_exists` right after a check sends one request.
    tokens: Mutex<HashMap<TokenKey, (Instant, String)>>,
}

/// (registry host, repository name, credentials fingerprint).
type TokenKey = (String, String, String);

/// How long a Basic authorization is reused without a new challenge.
const BASIC_REUSE: Duration = Duration::from_secs(5 * 60);
/// Taken off a token's `expires_in` (clock skew, request time).
const TOKEN_MARGIN: Duration = Duration::from_secs(10);

/// The resolver; cheap to clone (shared cache and clients).
#[derive(Clone)]
pub struct Resolver {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn hash_bytes(b: Option<&[u8]>) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    b.hash(&mut h);
    h.finish()
}

struct Response {
    status: u16,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn body_snippet(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        text.chars().take(200).collect()
    }
}

/// One resolution in progress: where, as whom, and the authorization found so far.
struct Session<'r> {
    repo: Repository,
    base: String,
    client: HttpClient,
    credentials: Option<&'r Credentials>,
    authorization: Option<String>,
    /// Whether `authorization` answers a challenge already (a second 401 is final).
    answered: bool,
    /// Where the answer is remembered.
    token_key: TokenKey,
}

impl Resolver {
    /// A resolver whose tag lists live `ttl` ([`DEFAULT_TTL`] is the usual).
    pub fn new(ttl: Duration) -> Result<Resolver, Error> {
        // Fails early when rustls cannot be set up at all.
        tls_config_pem(None).map_err(|e| Error::CaBundle(tls_error(e)))?;
        Ok(Resolver {
            inner: Arc::new(Inner {
                ttl,
                requests: AtomicU64::new(0),
                cache: Mutex::new(HashMap::new()),
                inflight: Mutex::new(HashMap::new()),
                clients: Mutex::new(HashMap::new()),
                schemes: Mutex::new(HashMap::new()),
                tokens: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// HTTP requests answered so far, by registries and token services (what their access
    /// logs show; attempts that failed to connect are not counted).
    pub fn requests(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// The newest stable semver tag of the repository (matching the constraint).
    pub async fn latest(&self, req: &Request<'_>) -> Result<Latest, Error> {
        let repo = parse_repository(req.repository).map_err(|reason| Error::InvalidRepository {
            repository: req.repository.to_string(),
            reason,
        })?;
        let constraint = match req.constraint.map(str::trim).filter(|c| !c.is_empty()) {
            Some(c) => Some(
                Constraint::parse(c).ok_or_else(|| Error::InvalidConstraint {
                    constraint: c.to_string(),
                })?,
            ),
            None => None,
        };
        let key = CacheKey {
            repository: repo.clone(),
            credentials: req
                .credentials
                .as_ref()
                .map(Credentials::fingerprint)
                .unwrap_or_default(),
            ca: hash_bytes(req.ca_bundle),
        };
        let cached = lock(&self.inner.cache)
            .get(&key)
            .filter(|(at, _)| at.elapsed() < self.inner.ttl)
            .map(|(_, tags)| Arc::clone(tags));
        let (tags, from_cache) = match cached {
            Some(tags) => (tags, true),
            None => self.fetch_shared(key, &repo, req).await?,
        };
        match version::latest_stable(tags.iter().map(String::as_str), constraint.as_ref()) {
            Some(tag) => Ok(Latest {
                tag: tag.to_string(),
                from_cache,
            }),
            None => Err(Error::NoStableTags {
                repository: repo.to_string(),
                constraint: req.constraint.map(str::to_string),
            }),
        }
    }

    /// The tag list of `key`, fetched once for every check that waits for it; whether this
    /// call sent no request itself (it waited for another's fetch).
    async fn fetch_shared(
        &self,
        key: CacheKey,
        repo: &Repository,
        req: &Request<'_>,
    ) -> Result<(Arc<Vec<String>>, bool), Error> {
        let cell: Inflight = Arc::clone(lock(&self.inner.inflight).entry(key.clone()).or_default());
        // Set by whichever caller runs the fetch (another takes over if that caller is
        // cancelled); a std atomic so that the future stays `Send`.
        let fetched_here = std::sync::atomic::AtomicBool::new(false);
        let result = cell
            .get_or_init(|| async {
                fetched_here.store(true, Ordering::Relaxed);
                self.list_tags(repo, req).await.map(Arc::new)
            })
            .await
            .clone();
        let fetched_here = fetched_here.load(Ordering::Relaxed);
        if fetched_here {
            if let Ok(tags) = &result {
                let mut cache = lock(&self.inner.cache);
                // Expired entries go when a new one comes (the map stays as large as the set
                // of repositories checked within one TTL).
                cache.retain(|_, (at, _)| at.elapsed() < self.inner.ttl);
                cache.insert(key.clone(), (Instant::now(), Arc::clone(tags)));
            }
            // After the cache entry: a check that comes in between finds one or the other.
            let mut inflight = lock(&self.inner.inflight);
            if inflight.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                inflight.remove(&key);
            }
        }
        result.map(|tags| (tags, !fetched_here))
    }

    /// Whether `tag` exists in the repository (`HEAD` on its manifest; 404 is `false`). Never
    /// cached: it is asked just before a rollout.
    pub async fn tag_exists(&self, req: &Request<'_>, tag: &str) -> Result<bool, Error> {
        let repo = parse_repository(req.repository).map_err(|reason| Error::InvalidRepository {
            repository: req.repository.to_string(),
            reason,
        })?;
        let valid = tag.len() <= 128
            && tag
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !valid {
            return Err(Error::InvalidTag {
                tag: tag.to_string(),
            });
        }
        let mut session = self.session(repo, req).await?;
        let path = format!("/v2/{}/manifests/{tag}", session.repo.name);
        let response = self
            .authorized(
                &mut session,
                http::Method::HEAD,
                &path,
                Some(MANIFEST_ACCEPT),
            )
            .await?;
        match response.status {
            200..=299 => Ok(true),
            404 => Ok(false),
            _ => Err(status_error(&session, &response, &format!("HEAD {path}"))),
        }
    }

    async fn list_tags(&self, repo: &Repository, req: &Request<'_>) -> Result<Vec<String>, Error> {
        let mut session = self.session(repo.clone(), req).await?;
        let mut url = format!("/v2/{}/tags/list?n={PAGE_SIZE}", repo.name);
        let mut tags = Vec::new();
        for _ in 0..MAX_PAGES {
            let response = self
                .authorized(&mut session, http::Method::GET, &url, None)
                .await?;
            if response.status == 404 {
                return Err(Error::NotFound {
                    registry: repo.host.clone(),
                    repository: repo.name.clone(),
                });
            }
            if response.status != 200 {
                return Err(status_error(&session, &response, &format!("GET {url}")));
            }
            #[derive(serde::Deserialize)]
            struct TagList {
                #[serde(default)]
                tags: Option<Vec<String>>,
            }
            let page: TagList =
                serde_json::from_slice(&response.body).map_err(|e| Error::BadResponse {
                    registry: repo.host.clone(),
                    reason: format!("the tag list of {} is not JSON: {e}", repo.name),
                })?;
            tags.extend(page.tags.unwrap_or_default());
            let Some(link) = response.header("link") else {
                return Ok(tags);
            };
            let malformed = |reason: String| Error::MalformedLink {
                registry: repo.host.clone(),
                value: link.to_string(),
                reason,
            };
            match auth::next_link(link).map_err(&malformed)? {
                None => return Ok(tags),
                Some(next) => {
                    url = if next.starts_with('/') {
                        next
                    } else if let Some(rest) = next.strip_prefix(&session.base) {
                        rest.to_string()
                    } else {
                        return Err(malformed(format!(
                            "the next page is not on {} (nor a path)",
                            session.base
                        )));
                    };
                }
            }
        }
        Err(Error::TooManyPages {
            registry: repo.host.clone(),
            repository: repo.name.clone(),
        })
    }

    fn client(&self, ca_bundle: Option<&[u8]>) -> Result<HttpClient, Error> {
        let key = hash_bytes(ca_bundle);
        if let Some(c) = lock(&self.inner.clients).get(&key) {
            return Ok(c.clone());
        }
        let tls = tls_config_pem(ca_bundle).map_err(|e| Error::CaBundle(tls_error(e)))?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .build();
        let client = Client::builder(hyper_util::rt::TokioExecutor::new())
            .build::<_, http_body_util::Full<Bytes>>(connector);
        lock(&self.inner.clients).insert(key, client.clone());
        Ok(client)
    }

    /// Picks the scheme (HTTPS; for loopback hosts HTTP when HTTPS fails other than on a
    /// certificate) and prepares the authorization a `registrytoken` gives.
    async fn session<'r>(
        &self,
        repo: Repository,
        req: &'r Request<'_>,
    ) -> Result<Session<'r>, Error> {
        let client = self.client(req.ca_bundle)?;
        let token_key = (
            repo.host.clone(),
            repo.name.clone(),
            req.credentials
                .as_ref()
                .map(Credentials::fingerprint)
                .unwrap_or_default(),
        );
        let authorization = match req.credentials.as_ref().map(|c| &c.kind) {
            Some(CredentialKind::Bearer(token)) => Some(format!("Bearer {token}")),
            _ => lock(&self.inner.tokens)
                .get(&token_key)
                .filter(|(until, _)| Instant::now() < *until)
                .map(|(_, a)| a.clone()),
        };
        let remembered = lock(&self.inner.schemes).get(&repo.host).copied();
        let scheme = match remembered {
            Some(s) => s,
            None if repo.is_loopback() => {
                // Probe with the cheapest request there is: a TLS handshake (no HTTP request
                // reaches the registry when it fails).
                let url = format!("https://{}/v2/", repo.host);
                match self
                    .send(
                        &client,
                        &repo.host,
                        http::Method::GET,
                        &url,
                        None,
                        None,
                        None,
                    )
                    .await
                {
                    Ok(_) => "https",
                    Err(Error::Unreachable { cause, .. }) if is_certificate_error(&cause) => {
                        return Err(Error::Unreachable {
                            registry: repo.host.clone(),
                            cause,
                        });
                    }
                    Err(_) => "http",
                }
            }
            None => "https",
        };
        if remembered.is_none() {
            lock(&self.inner.schemes).insert(repo.host.clone(), scheme);
        }
        Ok(Session {
            base: format!("{scheme}://{}", repo.host),
            repo,
            client,
            credentials: req.credentials.as_ref(),
            authorization,
            answered: false,
            token_key,
        })
    }

    /// Sends one request with the session's authorization; on a 401, answers the challenge once
    /// and sends it again. A 401 after that is reported.
    async fn authorized(
        &self,
        session: &mut Session<'_>,
        method: http::Method,
        path: &str,
        accept: Option<&str>,
    ) -> Result<Response, Error> {
        let url = format!("{}{path}", session.base);
        let host = session.repo.host.clone();
        let response = self
            .send(
                &session.client,
                &host,
                method.clone(),
                &url,
                session.authorization.as_deref(),
                accept,
                None,
            )
            .await?;
        let response = if response.status == 401 && !session.answered {
            // A registry token from the pull secret is final: the registry refused it.
            if matches!(
                session.credentials.map(|c| &c.kind),
                Some(CredentialKind::Bearer(_))
            ) {
                return Err(self.unauthorized(session, 401));
            }
            let Some(challenge) = response
                .header("www-authenticate")
                .and_then(auth::parse_challenge)
            else {
                return Err(self.unauthorized(session, 401));
            };
            lock(&self.inner.tokens).remove(&session.token_key);
            let (authorization, lifetime) = self.answer(session, challenge).await?;
            {
                let mut tokens = lock(&self.inner.tokens);
                let now = Instant::now();
                tokens.retain(|_, (until, _)| now < *until);
                tokens.insert(
                    session.token_key.clone(),
                    (now + lifetime, authorization.clone()),
                );
            }
            session.authorization = Some(authorization);
            session.answered = true;
            self.send(
                &session.client,
                &host,
                method,
                &url,
                session.authorization.as_deref(),
                accept,
                None,
            )
            .await?
        } else {
            response
        };
        match response.status {
            401 | 403 => Err(self.unauthorized(session, response.status)),
            429 => Err(Error::RateLimited {
                registry: host,
                retry_after: response
                    .header("retry-after")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs),
            }),
            _ => Ok(response),
        }
    }

    fn unauthorized(&self, session: &Session<'_>, status: u16) -> Error {
        match session.credentials {
            Some(c) => Error::CredentialsRejected {
                registry: session.repo.host.clone(),
                secret: c.secret.clone(),
                status,
            },
            None => Error::AuthRequired {
                registry: session.repo.host.clone(),
                repository: session.repo.name.clone(),
            },
        }
    }

    /// The `Authorization` value for a challenge, and how long it may be reused.
    async fn answer(
        &self,
        session: &Session<'_>,
        challenge: auth::Challenge,
    ) -> Result<(String, Duration), Error> {
        let b64 = base64::engine::general_purpose::STANDARD;
        match challenge {
            auth::Challenge::Basic => match session.credentials.map(|c| &c.kind) {
                Some(CredentialKind::Basic { username, password }) => Ok((
                    format!("Basic {}", b64.encode(format!("{username}:{password}"))),
                    BASIC_REUSE,
                )),
                _ => Err(self.unauthorized(session, 401)),
            },
            auth::Challenge::Bearer {
                realm,
                service,
                scope: _,
            } => {
                let host = &session.repo.host;
                let bad = |reason: String| Error::BadToken {
                    registry: host.clone(),
                    realm: realm.clone(),
                    reason,
                };
                realm_allowed(&realm, host).map_err(bad)?;
                let scope = format!("repository:{}:pull", session.repo.name);
                let mut query = vec![("scope", scope.as_str())];
                if let Some(s) = service.as_deref() {
                    query.push(("service", s));
                }
                let response = match session.credentials.map(|c| &c.kind) {
                    Some(CredentialKind::IdentityToken(token)) => {
                        // OAuth2 refresh-token grant (the Docker token spec's POST form).
                        let mut form = vec![
                            ("grant_type", "refresh_token"),
                            ("client_id", "openclaw-operator"),
                            ("refresh_token", token.as_str()),
                        ];
                        form.extend(query.iter().copied());
                        let body = encode_query(&form);
                        self.send(
                            &session.client,
                            host,
                            http::Method::POST,
                            &realm,
                            None,
                            None,
                            Some(body),
                        )
                        .await?
                    }
                    creds => {
                        let sep = if realm.contains('?') { '&' } else { '?' };
                        let url = format!("{realm}{sep}{}", encode_query(&query));
                        let authorization = match creds {
                            Some(CredentialKind::Basic { username, password }) => Some(format!(
                                "Basic {}",
                                b64.encode(format!("{username}:{password}"))
                            )),
                            _ => None,
                        };
                        self.send(
                            &session.client,
                            host,
                            http::Method::GET,
                            &url,
                            authorization.as_deref(),
                            None,
                            None,
                        )
                        .await?
                    }
                };
                match response.status {
                    200 => {}
                    401 | 403 => return Err(self.unauthorized(session, response.status)),
                    429 => {
                        return Err(Error::RateLimited {
                            registry: host.clone(),
                            retry_after: response
                                .header("retry-after")
                                .and_then(|v| v.trim().parse::<u64>().ok())
                                .map(Duration::from_secs),
                        });
                    }
                    s => return Err(bad(format!("HTTP {s}: {}", response.body_snippet()))),
                }
                #[derive(serde::Deserialize)]
                struct TokenAnswer {
                    #[serde(default)]
                    token: Option<String>,
                    #[serde(default)]
                    access_token: Option<String>,
                    /// Seconds; the spec's default is 60.
                    #[serde(default)]
                    expires_in: Option<u64>,
                }
                let answer: TokenAnswer = serde_json::from_slice(&response.body)
                    .map_err(|e| bad(format!("the answer is not JSON: {e}")))?;
                let token = answer
                    .token
                    .filter(|t| !t.is_empty())
                    .or(answer.access_token.filter(|t| !t.is_empty()))
                    .ok_or_else(|| bad("the answer has neither token nor access_token".into()))?;
                let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(60))
                    .saturating_sub(TOKEN_MARGIN);
                Ok((format!("Bearer {token}"), lifetime))
            }
        }
    }

    /// Sends one request (counted), with the 30 s limit.
    #[allow(clippy::too_many_arguments)]
    async fn send(
        &self,
        client: &HttpClient,
        registry: &str,
        method: http::Method,
        url: &str,
        authorization: Option<&str>,
        accept: Option<&str>,
        form: Option<String>,
    ) -> Result<Response, Error> {
        let unreachable = |cause: String| Error::Unreachable {
            registry: registry.to_string(),
            cause,
        };
        let mut builder = http::Request::builder()
            .method(method.clone())
            .uri(url)
            .header(
                http::header::USER_AGENT,
                concat!("openclaw-operator/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(a) = authorization {
            builder = builder.header(http::header::AUTHORIZATION, a);
        }
        if let Some(a) = accept {
            builder = builder.header(http::header::ACCEPT, a);
        }
        if form.is_some() {
            builder = builder.header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            );
        }
        let request = builder
            .body(http_body_util::Full::new(Bytes::from(
                form.unwrap_or_default(),
            )))
            .map_err(|e| unreachable(format!("invalid request {method} {url}: {e}")))?;
        let exchange = async {
            let response = client
                .request(request)
                .await
                .map_err(|e| unreachable(format!("{method} {url}: {}", cause_chain(&e))))?;
            // Counted once a server answered (a refused connection or a failed TLS handshake
            // reaches no HTTP server).
            self.inner.requests.fetch_add(1, Ordering::Relaxed);
            let (parts, body) = response.into_parts();
            let body = http_body_util::Limited::new(body, MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(|e| unreachable(format!("reading the answer to {method} {url}: {e}")))?
                .to_bytes();
            Ok(Response {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body: body.to_vec(),
            })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| {
                unreachable(format!(
                    "{method} {url}: no answer within {REQUEST_TIMEOUT:?}"
                ))
            })?
    }
}

fn status_error(session: &Session<'_>, response: &Response, what: &str) -> Error {
    Error::Status {
        registry: session.repo.host.clone(),
        status: response.status,
        what: what.to_string(),
        body: response.body_snippet(),
    }
}

fn tls_error(e: TlsSetupError) -> String {
    match e {
        TlsSetupError::Bundle(r) | TlsSetupError::Tls(r) => r,
    }
}

fn is_certificate_error(cause: &str) -> bool {
    let c = cause.to_ascii_lowercase();
    c.contains("certificate") || c.contains("invalidcert")
}

/// The `host[:port]` of an `http(s)://` URL.
fn url_authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority.rsplit_once('@').map_or(authority, |(_, h)| h)
}

fn is_loopback_url(url: &str) -> bool {
    let host = url_authority(url);
    parse_repository(&format!("{host}/x")).is_ok_and(|r| r.is_loopback())
}

/// Whether the operator may send (credentials) to a token realm the registry named: HTTPS,
/// or plain HTTP on loopback; and, against SSRF into the cluster network, no private,
/// loopback or link-local IP literal unless it is the registry's own `host:port` (the rule of
/// go-containerregistry, which crane and many tools share). Host names are not resolved.
fn realm_allowed(realm: &str, registry_host: &str) -> Result<(), String> {
    let https = realm.starts_with("https://");
    if !(https || (realm.starts_with("http://") && is_loopback_url(realm))) {
        return Err("the realm must be an https:// URL (http:// only on loopback)".into());
    }
    let authority = url_authority(realm);
    if authority.eq_ignore_ascii_case(registry_host) {
        return Ok(());
    }
    let host = reference::host_without_port(authority);
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let private = match bare.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => {
            ip.is_private() || ip.is_loopback() || ip.is_link_local() || ip.is_unspecified()
        }
        Ok(std::net::IpAddr::V6(ip)) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || (ip.segments()[0] & 0xfe00) == 0xfc00
                || (ip.segments()[0] & 0xffc0) == 0xfe80
        }
        Err(_) => false,
    };
    if private {
        return Err(format!(
            "the realm's host {host} is a private, loopback or link-local address other than the registry's"
        ));
    }
    Ok(())
}

/// `k=v&k=v`, percent-encoded (RFC 3986 unreserved characters kept).
fn encode_query(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests;
