//! What can go wrong resolving a skill pack, worded for `status.message` and events.

use std::path::PathBuf;
use std::time::SystemTime;

/// Where to read about tokens and rate limits.
pub const DOCS: &str = "docs/features/skill-packs.md";

/// Why one `pack:` reference did not resolve. Every message names what failed and, where
/// there is one, what to do about it. `Clone` so that a [`super::Resolution`] can be copied
/// into status and events.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The reference does not parse (`openclaw_api::validation::parse_pack`).
    #[error("invalid pack reference {reference:?}: {reason}")]
    InvalidReference {
        /// The reference as given.
        reference: String,
        /// Why it was refused.
        reason: String,
    },
    /// 404: the repository, the path or the ref does not exist (or is private and no token
    /// with access is configured).
    #[error(
        "{repo}: repository, path or ref not found ({resource}); a private repository needs a token with access"
    )]
    NotFound {
        /// `owner/repo`.
        repo: String,
        /// What was asked for (`tree main`, `skills/foo/SKILL.md at v1`).
        resource: String,
    },
    /// 401: the token is wrong or expired.
    #[error(
        "GitHub rejected the token (401 Bad credentials) for {repo}: check GITHUB_TOKEN, see {DOCS}"
    )]
    BadCredentials {
        /// `owner/repo`.
        repo: String,
    },
    /// 403 that is not a rate limit.
    #[error("GitHub answered 403 Forbidden for {url}: {message}")]
    Forbidden {
        /// The request.
        url: String,
        /// GitHub's `message`, if any.
        message: String,
    },
    /// The rate limit is exhausted; no request goes out before `until`.
    #[error("{}", rate_limited_message(*until, *limit, *authenticated))]
    RateLimited {
        /// When GitHub resets the limit (or `retry-after` ends).
        until: SystemTime,
        /// `x-ratelimit-limit`, requests per hour, when GitHub said.
        limit: Option<u32>,
        /// Whether a token was sent.
        authenticated: bool,
    },
    /// Any other unexpected status (5xx, 422, …).
    #[error("GitHub answered {status} for {url}{}", detail(message))]
    Status {
        /// The HTTP status.
        status: u16,
        /// The request.
        url: String,
        /// GitHub's `message`, if any.
        message: String,
    },
    /// No answer: DNS, connection, TLS, protocol. `cause` is the whole cause chain.
    #[error("requesting {url}: {cause}")]
    Network {
        /// The request.
        url: String,
        /// The error and its sources, joined with `: `.
        cause: String,
    },
    /// No complete answer within the timeout.
    #[error("requesting {url}: no answer within {seconds} s")]
    Timeout {
        /// The request.
        url: String,
        /// The timeout.
        seconds: u64,
    },
    /// An answer that is not what the GitHub API documents (not JSON, wrong shape, too big).
    #[error("{url}: unexpected answer from GitHub: {reason}")]
    BadResponse {
        /// The request.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `skillpack.json` is not JSON, has the wrong shape, or an entry is unsafe or missing.
    #[error("skillpack.json in {pack}: {reason}")]
    Manifest {
        /// `owner/repo/path[@ref]`.
        pack: String,
        /// Which entry and why (`files["../x"]: path must be relative …`).
        reason: String,
    },
    /// The Contents API does not return the content of files over 1 MB (`encoding: none`).
    #[error(
        "{pack}: {file} is {size} bytes; the GitHub Contents API returns the content of files up to 1 MB only"
    )]
    FileTooLargeForContentsApi {
        /// `owner/repo/path[@ref]`.
        pack: String,
        /// Repository path of the file.
        file: String,
        /// Its size as GitHub reported it.
        size: u64,
    },
    /// Raw mode: the recursive tree was truncated by GitHub.
    #[error(
        "{repo}: the repository tree is too large for one request (GitHub truncated it); add a skillpack.json to the pack directory {path}"
    )]
    TreeTruncated {
        /// `owner/repo`.
        repo: String,
        /// The pack directory.
        path: String,
    },
    /// Raw mode: neither a manifest nor a `SKILL.md` at the pack path.
    #[error("no skillpack.json and no SKILL.md found in {pack}")]
    NoSkill {
        /// `owner/repo/path`.
        pack: String,
    },
    /// Raw mode: the pack path's last segment cannot name a skill directory.
    #[error("{pack}: the pack path has no usable last segment to name the skill directory")]
    NoBaseName {
        /// `owner/repo/path`.
        pack: String,
    },
    /// One pack alone is over [`super::WORKSPACE_BUDGET_BYTES`].
    #[error("{pack} is {bytes} bytes; at most {limit} fit in the workspace ConfigMap")]
    PackTooLarge {
        /// `owner/repo/path[@ref]`.
        pack: String,
        /// Sum of its file sizes.
        bytes: u64,
        /// The budget.
        limit: u64,
    },
    /// Adding this pack would put the workspace over [`super::WORKSPACE_BUDGET_BYTES`]; the
    /// pack is left out, the packs before it are kept.
    #[error(
        "skill packs for workspace {workspace} are {bytes} bytes; at most {limit} fit in the workspace ConfigMap"
    )]
    WorkspaceTooLarge {
        /// The workspace (`default` or the additional workspace's name).
        workspace: String,
        /// Sum of file sizes with this pack.
        bytes: u64,
        /// The budget.
        limit: u64,
    },
    /// The pack's files collide with an earlier pack's (a file where a directory is).
    #[error("skill packs for workspace {workspace} collide: {reason}")]
    Conflict {
        /// The workspace.
        workspace: String,
        /// Which paths.
        reason: String,
    },
}

impl ResolveError {
    /// The rate-limit reset time, when this is a rate-limit error.
    pub fn retry_at(&self) -> Option<SystemTime> {
        match self {
            ResolveError::RateLimited { until, .. } => Some(*until),
            _ => None,
        }
    }
}

/// A configuration the resolver cannot start with.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The base URL is not an absolute `http(s)://` URL.
    #[error("invalid GitHub API URL {url:?}: {reason}")]
    BaseUrl {
        /// What was given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The extra CA file cannot be read or holds no certificate.
    #[error("GitHub CA file {}: {reason}", path.display())]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The token cannot be sent in a header.
    #[error("the GitHub token has characters not allowed in an HTTP header")]
    Token,
    /// rustls refused the configuration.
    #[error("GitHub TLS configuration: {0}")]
    Tls(String),
}

fn detail(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

/// RFC 3339 UTC with seconds, `2026-12-07T17:00:00Z`.
pub fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn rate_limited_message(until: SystemTime, limit: Option<u32>, authenticated: bool) -> String {
    let budget = match (limit, authenticated) {
        (Some(n), false) => format!(" ({n} requests/hour unauthenticated)"),
        (None, false) => " (60 requests/hour unauthenticated)".to_string(),
        (Some(n), true) => format!(" ({n} requests/hour)"),
        (None, true) => String::new(),
    };
    let hint = if authenticated {
        String::new()
    } else {
        format!(" — set a token, see {DOCS}")
    };
    format!(
        "GitHub API rate limit exhausted{budget}; retrying after {}{hint}",
        rfc3339(until)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn rate_limit_message_names_the_time_and_the_fix() {
        let until = UNIX_EPOCH + Duration::from_secs(1_796_662_800); // 2026-12-07T17:00:00Z
        let e = ResolveError::RateLimited {
            until,
            limit: Some(60),
            authenticated: false,
        };
        assert_eq!(
            e.to_string(),
            "GitHub API rate limit exhausted (60 requests/hour unauthenticated); retrying after \
             2026-12-07T17:00:00Z — set a token, see docs/features/skill-packs.md"
        );
        assert_eq!(e.retry_at(), Some(until));
        let e = ResolveError::RateLimited {
            until,
            limit: Some(5000),
            authenticated: true,
        };
        assert_eq!(
            e.to_string(),
            "GitHub API rate limit exhausted (5000 requests/hour); retrying after 2026-12-07T17:00:00Z"
        );
    }

    #[test]
    fn status_message_includes_github_message_when_present() {
        let e = ResolveError::Status {
            status: 502,
            url: "https://api.github.com/repos/o/r/git/trees/HEAD?recursive=1".into(),
            message: String::new(),
        };
        assert_eq!(
            e.to_string(),
            "GitHub answered 502 for https://api.github.com/repos/o/r/git/trees/HEAD?recursive=1"
        );
    }
}
