//! Credentials: pull secrets (docker config JSON) matched to a registry the way the kubelet
//! matches them, `WWW-Authenticate` challenges, and the `Link` header of paginated answers.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::api::core::v1::Secret;

use super::Error;
use super::reference::{Repository, canonical_host, parse_repository};

/// Credentials for one registry, from a pull secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// The Secret's name (for messages).
    pub secret: String,
    /// What to send.
    pub kind: CredentialKind,
}

/// Redacted: the user name is shown, passwords and tokens never.
impl std::fmt::Debug for CredentialKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialKind::Basic { username, .. } => {
                write!(
                    f,
                    "Basic {{ username: {username:?}, password: <redacted> }}"
                )
            }
            CredentialKind::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            CredentialKind::IdentityToken(_) => f.write_str("IdentityToken(<redacted>)"),
        }
    }
}

/// What a pull secret holds for a registry.
#[derive(Clone, PartialEq, Eq)]
pub enum CredentialKind {
    /// A user name and password: sent to the token service, or to the registry when it asks
    /// for Basic auth.
    Basic {
        /// The user.
        username: String,
        /// The password.
        password: String,
    },
    /// A registry token (`registrytoken`): sent to the registry as `Authorization: Bearer`.
    Bearer(String),
    /// An OAuth2 refresh token (`identitytoken`): exchanged at the token service
    /// (`grant_type=refresh_token`) for an access token.
    IdentityToken(String),
}

impl Credentials {
    /// A stable digest of the secret's name and content, for the cache key (never logged).
    pub fn fingerprint(&self) -> String {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        h.update(self.secret.as_bytes());
        h.update([0]);
        match &self.kind {
            CredentialKind::Basic { username, password } => {
                h.update(b"basic\0");
                h.update(username.as_bytes());
                h.update([0]);
                h.update(password.as_bytes());
            }
            CredentialKind::Bearer(t) => {
                h.update(b"bearer\0");
                h.update(t.as_bytes());
            }
            CredentialKind::IdentityToken(t) => {
                h.update(b"identity\0");
                h.update(t.as_bytes());
            }
        }
        h.finalize()
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// One entry of a docker config's `auths`.
#[derive(serde::Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
    #[serde(default)]
    registrytoken: Option<String>,
}

#[derive(serde::Deserialize)]
struct DockerConfigJson {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
}

/// A config key normalised: host (canonical, lowercase) and path (no scheme, no trailing `/`).
/// `https://index.docker.io/v1/` is Docker Hub as a whole (its path is the old API's).
fn normalise_key(key: &str) -> (String, String) {
    let key = key.trim();
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let (host, path) = key.split_once('/').unwrap_or((key, ""));
    let host = canonical_host(host);
    let path = path.trim_end_matches('/');
    let path = if host == super::reference::DOCKER_HUB_REGISTRY && (path == "v1" || path == "v2") {
        ""
    } else {
        path
    };
    (host, path.to_string())
}

/// Whether the config key's host pattern (`*.example.com` allowed per label, as the kubelet
/// does) matches `host`, ports included.
fn host_matches(pattern: &str, host: &str) -> bool {
    let split = |s: &str| -> (String, String) {
        match s.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty() => {
                (h.to_string(), p.to_string())
            }
            _ => (s.to_string(), String::new()),
        }
    };
    let ((ph, pp), (hh, hp)) = (split(pattern), split(host));
    if pp != hp {
        return false;
    }
    let (pl, hl): (Vec<&str>, Vec<&str>) = (ph.split('.').collect(), hh.split('.').collect());
    pl.len() == hl.len()
        && pl
            .iter()
            .zip(&hl)
            .all(|(p, h)| *p == "*" || p.eq_ignore_ascii_case(h))
}

fn entry_credentials(secret: &str, key: &str, e: &AuthEntry) -> Result<Option<Credentials>, Error> {
    let bad = |reason: String| Error::BadPullSecret {
        secret: secret.to_string(),
        reason,
    };
    let kind = if let Some(token) = e.registrytoken.as_deref().filter(|t| !t.is_empty()) {
        CredentialKind::Bearer(token.to_string())
    } else if let Some(token) = e.identitytoken.as_deref().filter(|t| !t.is_empty()) {
        CredentialKind::IdentityToken(token.to_string())
    } else if let (Some(u), Some(p)) = (
        e.username.as_deref().filter(|u| !u.is_empty()),
        e.password.as_deref(),
    ) {
        CredentialKind::Basic {
            username: u.to_string(),
            password: p.to_string(),
        }
    } else if let Some(auth) = e.auth.as_deref().filter(|a| !a.is_empty()) {
        let decoded = STANDARD
            .decode(auth.trim())
            .map_err(|err| bad(format!("the auth of {key:?} is not base64: {err}")))?;
        let text = String::from_utf8(decoded)
            .map_err(|_| bad(format!("the auth of {key:?} is not UTF-8")))?;
        let (u, p) = text
            .split_once(':')
            .ok_or_else(|| bad(format!("the auth of {key:?} is not user:password")))?;
        CredentialKind::Basic {
            username: u.to_string(),
            password: p.to_string(),
        }
    } else {
        return Ok(None);
    };
    Ok(Some(Credentials {
        secret: secret.to_string(),
        kind,
    }))
}

/// The `auths` of a pull secret: `kubernetes.io/dockerconfigjson` (`.dockerconfigjson`) or
/// `kubernetes.io/dockercfg` (`.dockercfg`, the map itself). Other Secrets have none.
fn secret_auths(secret: &Secret) -> Result<BTreeMap<String, AuthEntry>, Error> {
    let name = secret.metadata.name.clone().unwrap_or_default();
    let get = |key: &str| -> Option<Vec<u8>> {
        secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|b| b.0.clone())
            .or_else(|| {
                secret
                    .string_data
                    .as_ref()
                    .and_then(|d| d.get(key))
                    .map(|s| s.as_bytes().to_vec())
            })
    };
    let bad = |reason: String| Error::BadPullSecret {
        secret: name.clone(),
        reason,
    };
    if let Some(bytes) = get(".dockerconfigjson") {
        let config: DockerConfigJson = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!(".dockerconfigjson is not a docker config: {e}")))?;
        return Ok(config.auths);
    }
    if let Some(bytes) = get(".dockercfg") {
        return serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!(".dockercfg is not a docker config: {e}")));
    }
    Ok(BTreeMap::new())
}

/// The credentials the pull secrets hold for `repository`, as the kubelet picks them: the
/// first Secret with a matching key; within it, the most specific key (longest path prefix).
/// Keys may have a scheme and a path; `docker.io`, `index.docker.io` and
/// `https://index.docker.io/v1/` all mean Docker Hub. `None`: pull anonymously.
pub fn credentials_for(secrets: &[Secret], repository: &str) -> Result<Option<Credentials>, Error> {
    let repo = parse_repository(repository).map_err(|reason| Error::InvalidRepository {
        repository: repository.to_string(),
        reason,
    })?;
    for secret in secrets {
        let name = secret.metadata.name.clone().unwrap_or_default();
        let auths = secret_auths(secret)?;
        if let Some((key, entry)) = best_match(&auths, &repo) {
            return entry_credentials(&name, key, entry);
        }
    }
    Ok(None)
}

fn best_match<'a>(
    auths: &'a BTreeMap<String, AuthEntry>,
    repo: &Repository,
) -> Option<(&'a String, &'a AuthEntry)> {
    auths
        .iter()
        .filter_map(|(key, entry)| {
            let (host, path) = normalise_key(key);
            let path_ok = path.is_empty()
                || repo.name == path
                || repo.name.starts_with(&format!("{path}/"))
                // Docker Hub official images: `docker.io/nginx` means library/nginx.
                || (repo.is_docker_hub() && repo.name == format!("library/{path}"));
            (host_matches(&host, &repo.host) && path_ok).then_some((path.len(), key, entry))
        })
        .max_by_key(|(len, _, _)| *len)
        .map(|(_, k, e)| (k, e))
}

/// A `WWW-Authenticate` challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    /// `Bearer realm=..., service=..., scope=...`: get a token from the realm.
    Bearer {
        /// The token service URL.
        realm: String,
        /// `service` parameter, when given.
        service: Option<String>,
        /// `scope` parameter, when given.
        scope: Option<String>,
    },
    /// `Basic realm=...`: send the credentials.
    Basic,
}

/// Parses the auth-params of a challenge (`key="value", key=token`).
fn auth_params(s: &str) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let key = key.trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, &quoted[end?..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        out.insert(key, value);
        rest = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    Some(out)
}

/// Parses a `WWW-Authenticate` header value; `None` for an unknown or malformed scheme.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, params) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut params = auth_params(params)?;
    let realm = params.remove("realm").filter(|r| !r.is_empty())?;
    Some(Challenge::Bearer {
        realm,
        service: params.remove("service"),
        scope: params.remove("scope"),
    })
}

/// The `rel="next"` target of a `Link` header (RFC 8288), `Ok(None)` when there is none, an
/// error when the header cannot be read.
pub fn next_link(header: &str) -> Result<Option<String>, String> {
    let mut rest = header.trim();
    if rest.is_empty() {
        return Err("empty".into());
    }
    while !rest.is_empty() {
        let inner = rest
            .strip_prefix('<')
            .ok_or_else(|| "a link must start with '<'".to_string())?;
        let (target, after) = inner
            .split_once('>')
            .ok_or_else(|| "no '>' closes the link target".to_string())?;
        if target.trim().is_empty() {
            return Err("empty link target".into());
        }
        // The parameters run to the next link (a ',' followed by '<') or the end.
        let (params, next) = match after.find(", <").or_else(|| after.find(",<")) {
            Some(i) => (&after[..i], &after[i + 1..]),
            None => (after, ""),
        };
        let mut is_next = false;
        for param in params.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = param
                .split_once('=')
                .ok_or_else(|| format!("malformed link parameter {param:?}"))?;
            if k.trim().eq_ignore_ascii_case("rel")
                && v.trim()
                    .trim_matches('"')
                    .split_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
            {
                is_next = true;
            }
        }
        if is_next {
            return Ok(Some(target.trim().to_string()));
        }
        rest = next.trim();
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use k8s_openapi::ByteString;

    fn secret(name: &str, key: &str, json: &str) -> Secret {
        Secret {
            metadata: kube::api::ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            type_: Some(if key == ".dockercfg" {
                "kubernetes.io/dockercfg".into()
            } else {
                "kubernetes.io/dockerconfigjson".into()
            }),
            data: Some([(key.to_string(), ByteString(json.as_bytes().to_vec()))].into()),
            ..Default::default()
        }
    }

    fn basic(u: &str, p: &str) -> CredentialKind {
        CredentialKind::Basic {
            username: u.into(),
            password: p.into(),
        }
    }

    fn kind(secrets: &[Secret], repo: &str) -> Option<(String, CredentialKind)> {
        credentials_for(secrets, repo)
            .unwrap()
            .map(|c| (c.secret, c.kind))
    }

    #[test]
    fn dockerconfigjson_auth_and_username_password() {
        let auth = STANDARD.encode("alice:s3cr:et");
        let s = secret(
            "pull",
            ".dockerconfigjson",
            &format!(
                r#"{{"auths":{{"ghcr.io":{{"auth":"{auth}"}},"https://quay.io":{{"username":"bob","password":"pw"}},"127.0.0.1:5000":{{"username":"c","password":"d"}}}}}}"#
            ),
        );
        let s = [s];
        assert_eq!(
            kind(&s, "ghcr.io/openclaw/openclaw"),
            Some(("pull".into(), basic("alice", "s3cr:et")))
        );
        assert_eq!(
            kind(&s, "quay.io/x/y"),
            Some(("pull".into(), basic("bob", "pw")))
        );
        assert_eq!(
            kind(&s, "127.0.0.1:5000/x"),
            Some(("pull".into(), basic("c", "d")))
        );
        assert_eq!(kind(&s, "127.0.0.1:5001/x"), None, "ports must match");
        assert_eq!(kind(&s, "docker.io/x/y"), None);
    }

    #[test]
    fn docker_hub_keys() {
        for key in [
            "docker.io",
            "index.docker.io",
            "https://index.docker.io/v1/",
            "registry-1.docker.io",
        ] {
            let s = [secret(
                "hub",
                ".dockerconfigjson",
                &format!(r#"{{"auths":{{"{key}":{{"username":"u","password":"p"}}}}}}"#),
            )];
            for repo in ["openclaw/openclaw", "nginx", "docker.io/library/nginx"] {
                assert_eq!(
                    kind(&s, repo),
                    Some(("hub".into(), basic("u", "p"))),
                    "{key} {repo}"
                );
            }
            assert_eq!(kind(&s, "ghcr.io/openclaw/openclaw"), None);
        }
    }

    #[test]
    fn dockercfg_and_tokens() {
        let s = [secret(
            "old",
            ".dockercfg",
            r#"{"https://ghcr.io":{"registrytoken":"tok"},"quay.io":{"identitytoken":"refresh","username":"<token>"}}"#,
        )];
        assert_eq!(
            kind(&s, "ghcr.io/a/b"),
            Some(("old".into(), CredentialKind::Bearer("tok".into())))
        );
        assert_eq!(
            kind(&s, "quay.io/a/b"),
            Some((
                "old".into(),
                CredentialKind::IdentityToken("refresh".into())
            ))
        );
    }

    #[test]
    fn most_specific_key_and_first_secret() {
        let a = secret(
            "a",
            ".dockerconfigjson",
            r#"{"auths":{"ghcr.io":{"username":"all","password":"1"},"ghcr.io/openclaw":{"username":"org","password":"2"},"*.example.com":{"username":"wild","password":"3"}}}"#,
        );
        let b = secret(
            "b",
            ".dockerconfigjson",
            r#"{"auths":{"quay.io":{"username":"q","password":"4"}}}"#,
        );
        let s = [a, b];
        assert_eq!(
            kind(&s, "ghcr.io/openclaw/openclaw"),
            Some(("a".into(), basic("org", "2")))
        );
        assert_eq!(
            kind(&s, "ghcr.io/openclawx/openclaw"),
            Some(("a".into(), basic("all", "1")))
        );
        assert_eq!(
            kind(&s, "reg.example.com/x"),
            Some(("a".into(), basic("wild", "3")))
        );
        assert_eq!(kind(&s, "a.reg.example.com/x"), None);
        assert_eq!(kind(&s, "quay.io/x"), Some(("b".into(), basic("q", "4"))));
    }

    #[test]
    fn bad_secrets_are_named() {
        let s = [secret("broken", ".dockerconfigjson", "{not json")];
        let e = credentials_for(&s, "ghcr.io/a").unwrap_err().to_string();
        assert!(
            e.contains("pull secret broken") && e.contains("not a docker config"),
            "{e}"
        );
        let s = [secret(
            "b64",
            ".dockerconfigjson",
            r#"{"auths":{"ghcr.io":{"auth":"!!!"}}}"#,
        )];
        let e = credentials_for(&s, "ghcr.io/a").unwrap_err().to_string();
        assert!(e.contains("not base64"), "{e}");
        // A secret of another type has no credentials.
        let mut opaque = secret("o", "token", "x");
        opaque.type_ = Some("Opaque".into());
        assert_eq!(credentials_for(&[opaque], "ghcr.io/a").unwrap(), None);
        assert_eq!(credentials_for(&[], "ghcr.io/a").unwrap(), None);
    }

    #[test]
    fn fingerprints_differ_by_content() {
        let c = |p: &str| Credentials {
            secret: "s".into(),
            kind: basic("u", p),
        };
        assert_eq!(c("a").fingerprint(), c("a").fingerprint());
        assert_ne!(c("a").fingerprint(), c("b").fingerprint());
        assert!(!format!("{:?}", c("hunter2")).contains("hunter2"));
    }

    #[test]
    fn challenges() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/nginx:pull".into()),
            })
        );
        assert_eq!(
            parse_challenge(r#"bearer realm="http://127.0.0.1:1/t", error="insufficient_scope""#),
            Some(Challenge::Bearer {
                realm: "http://127.0.0.1:1/t".into(),
                service: None,
                scope: None
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Basic"), Some(Challenge::Basic));
        assert_eq!(parse_challenge("Negotiate abc"), None);
        assert_eq!(parse_challenge(r#"Bearer service="x""#), None, "no realm");
        assert_eq!(parse_challenge(r#"Bearer realm="unterminated"#), None);
    }

    #[test]
    fn link_headers() {
        assert_eq!(
            next_link(r#"</v2/x/tags/list?last=b&n=100>; rel="next""#).unwrap(),
            Some("/v2/x/tags/list?last=b&n=100".into())
        );
        assert_eq!(
            next_link(r#"<https://r.example/v2/x/tags/list?last=b>; rel=next"#).unwrap(),
            Some("https://r.example/v2/x/tags/list?last=b".into())
        );
        assert_eq!(
            next_link(r#"</a>; rel="prev", </b>; rel="next""#).unwrap(),
            Some("/b".into())
        );
        assert_eq!(next_link(r#"</a>; rel="prev""#).unwrap(), None);
        for bad in [
            "",
            "/v2/x/tags/list?last=b; rel=next",
            "</v2/x; rel=next",
            "<>; rel=next",
            "</a>; rel",
        ] {
            assert!(next_link(bad).is_err(), "{bad:?}");
        }
    }
}
