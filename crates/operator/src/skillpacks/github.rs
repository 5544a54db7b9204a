//! The GitHub REST API as the resolver uses it, without I/O: URLs, the JSON shapes of the
//! answers, base64 decoding, rate-limit headers and what each status means.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde::Deserialize;

use super::error::ResolveError;

/// The public GitHub API.
pub const DEFAULT_BASE_URL: &str = "https://api.github.com";

/// How long to wait after a 429 or secondary-limit 403 that says neither `retry-after` nor a
/// reset time (GitHub's documentation: at least one minute).
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Percent-encode one path segment or query value: everything but RFC 3986 unreserved
/// characters.
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encode each `/`-separated segment, keeping the `/` between them.
pub fn encode_path(path: &str) -> String {
    path.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

/// The API endpoints, under a base URL without a trailing `/`
/// (`https://api.github.com`, `https://ghe.example/api/v3`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Api {
    base: String,
}

impl Api {
    /// `base` with any trailing `/` removed.
    pub fn new(base: &str) -> Self {
        Api {
            base: base.trim_end_matches('/').to_string(),
        }
    }

    /// The base URL, without a trailing `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn repo(&self, owner: &str, repo: &str) -> String {
        format!(
            "{}/repos/{}/{}",
            self.base,
            encode_segment(owner),
            encode_segment(repo)
        )
    }

    /// `GET /repos/{owner}/{repo}/contents/{path}?ref={ref}`: one file, base64.
    pub fn contents(&self, owner: &str, repo: &str, path: &str, reference: Option<&str>) -> String {
        let mut url = format!("{}/contents/{}", self.repo(owner, repo), encode_path(path));
        if let Some(r) = reference {
            url.push_str("?ref=");
            url.push_str(&encode_path(r));
        }
        url
    }

    /// `GET /repos/{owner}/{repo}/git/trees/{ref or HEAD}?recursive=1`.
    pub fn tree(&self, owner: &str, repo: &str, reference: Option<&str>) -> String {
        format!(
            "{}/git/trees/{}?recursive=1",
            self.repo(owner, repo),
            encode_path(reference.unwrap_or("HEAD"))
        )
    }

    /// `GET /repos/{owner}/{repo}/git/blobs/{sha}`: content-addressed, immutable.
    pub fn blob(&self, owner: &str, repo: &str, sha: &str) -> String {
        format!(
            "{}/git/blobs/{}",
            self.repo(owner, repo),
            encode_segment(sha)
        )
    }
}

/// An answer: status, headers and the whole body.
#[derive(Clone, Debug, Default)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Response headers.
    pub headers: http::HeaderMap,
    /// The body, read to the end.
    pub body: Vec<u8>,
}

impl Response {
    /// A header as text, when present and ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A file from the Contents API.
#[derive(Debug, Deserialize)]
struct ContentsFile {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    encoding: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    size: u64,
}

/// What a Contents API answer holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Contents {
    /// The decoded file.
    File(Vec<u8>),
    /// GitHub did not include the content (`encoding: none`, files over 1 MB).
    NotIncluded {
        /// The file size GitHub reported.
        size: u64,
    },
}

/// Decode a Contents API answer for a file.
pub fn decode_contents(body: &[u8]) -> Result<Contents, String> {
    let file: ContentsFile = serde_json::from_slice(body).map_err(|e| {
        if body.first() == Some(&b'[') {
            "a directory, not a file".to_string()
        } else {
            format!("not a Contents API file object: {e}")
        }
    })?;
    if !file.kind.is_empty() && file.kind != "file" {
        return Err(format!("a {}, not a file", file.kind));
    }
    match file.encoding.as_str() {
        "base64" => decode_base64(&file.content).map(Contents::File),
        _ => Ok(Contents::NotIncluded { size: file.size }),
    }
}

/// GitHub's base64: standard alphabet, wrapped with `\n`.
pub fn decode_base64(content: &str) -> Result<Vec<u8>, String> {
    let joined: String = content
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(joined)
        .map_err(|e| format!("invalid base64 content: {e}"))
}

/// A Git blob from `git/blobs/{sha}`.
#[derive(Debug, Deserialize)]
struct Blob {
    #[serde(default)]
    encoding: String,
    #[serde(default)]
    content: String,
}

/// Decode a blob answer.
pub fn decode_blob(body: &[u8]) -> Result<Vec<u8>, String> {
    let blob: Blob =
        serde_json::from_slice(body).map_err(|e| format!("not a Git blob object: {e}"))?;
    match blob.encoding.as_str() {
        "base64" => decode_base64(&blob.content),
        "utf-8" => Ok(blob.content.into_bytes()),
        other => Err(format!(
            "blob encoding {other:?} is neither base64 nor utf-8"
        )),
    }
}

/// One entry of a recursive tree.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct TreeEntry {
    /// Repository path.
    pub path: String,
    /// Git file mode (`100644`, `100755`, `120000` for a symlink, `040000`, `160000`).
    #[serde(default)]
    pub mode: String,
    /// `blob`, `tree` or `commit` (a submodule).
    #[serde(rename = "type")]
    pub kind: String,
    /// Object id.
    #[serde(default)]
    pub sha: String,
    /// Blob size in bytes.
    #[serde(default)]
    pub size: Option<u64>,
}

/// A recursive tree.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Tree {
    /// The entries, every depth.
    #[serde(default)]
    pub tree: Vec<TreeEntry>,
    /// GitHub left entries out (over 100 000 entries or 7 MB).
    #[serde(default)]
    pub truncated: bool,
}

/// Decode a tree answer.
pub fn decode_tree(body: &[u8]) -> Result<Tree, String> {
    serde_json::from_slice(body).map_err(|e| format!("not a Git tree object: {e}"))
}

/// GitHub's `message` in an error body, or nothing.
pub fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Message {
        #[serde(default)]
        message: String,
    }
    serde_json::from_slice::<Message>(body)
        .map(|m| m.message)
        .unwrap_or_default()
}

/// The rate-limit state an answer reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateLimit {
    /// `x-ratelimit-limit`.
    pub limit: Option<u32>,
    /// `x-ratelimit-remaining`.
    pub remaining: Option<u32>,
    /// `x-ratelimit-reset` (epoch seconds).
    pub reset: Option<SystemTime>,
    /// `retry-after` (seconds).
    pub retry_after: Option<Duration>,
}

impl RateLimit {
    /// Read the headers.
    pub fn from_response(response: &Response) -> Self {
        let number = |name: &str| {
            response
                .header(name)
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        RateLimit {
            limit: number("x-ratelimit-limit").and_then(|n| u32::try_from(n).ok()),
            remaining: number("x-ratelimit-remaining").and_then(|n| u32::try_from(n).ok()),
            reset: number("x-ratelimit-reset").map(|s| UNIX_EPOCH + Duration::from_secs(s)),
            retry_after: number("retry-after").map(Duration::from_secs),
        }
    }

    /// Until when no request should go out, judging by this answer, or `None`.
    ///
    /// - 403/429 with `retry-after`: now + that (secondary limits);
    /// - 403/429 with `remaining: 0`: the reset time (at least a second from now);
    /// - 429 without either: now + [`DEFAULT_RETRY_AFTER`];
    /// - any answer (even 200) with `remaining: 0`: the reset time, since the next request
    ///   would be refused.
    pub fn blocked_until(&self, status: u16, now: SystemTime) -> Option<SystemTime> {
        let exhausted = self.remaining == Some(0);
        let reset = || {
            self.reset
                .map(|r| r.max(now + Duration::from_secs(1)))
                .unwrap_or(now + DEFAULT_RETRY_AFTER)
        };
        match status {
            403 | 429 => {
                if let Some(after) = self.retry_after {
                    Some(now + after)
                } else if exhausted {
                    Some(reset())
                } else if status == 429 {
                    Some(now + DEFAULT_RETRY_AFTER)
                } else {
                    None
                }
            }
            _ if exhausted => Some(reset()),
            _ => None,
        }
    }
}

/// The error for a non-success answer other than a rate limit (checked before).
pub fn status_error(repo: &str, resource: &str, url: &str, response: &Response) -> ResolveError {
    let message = error_message(&response.body);
    match response.status {
        404 => ResolveError::NotFound {
            repo: repo.to_string(),
            resource: resource.to_string(),
        },
        401 => ResolveError::BadCredentials {
            repo: repo.to_string(),
        },
        403 => ResolveError::Forbidden {
            url: url.to_string(),
            message,
        },
        status => ResolveError::Status {
            status,
            url: url.to_string(),
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn urls_escape_every_segment_and_keep_slashes() {
        let api = Api::new("https://ghe.example/api/v3/");
        assert_eq!(api.base(), "https://ghe.example/api/v3");
        assert_eq!(
            api.contents(
                "o",
                "r",
                "skills/my pack/skillpack.json",
                Some("feature/x#1")
            ),
            "https://ghe.example/api/v3/repos/o/r/contents/skills/my%20pack/skillpack.json?ref=feature/x%231"
        );
        assert_eq!(
            api.contents("o", "r", "a/b?c", None),
            "https://ghe.example/api/v3/repos/o/r/contents/a/b%3Fc"
        );
        assert_eq!(
            api.tree("o", "r", None),
            "https://ghe.example/api/v3/repos/o/r/git/trees/HEAD?recursive=1"
        );
        assert_eq!(
            api.tree("o", "r", Some("release/v1&x=1")),
            "https://ghe.example/api/v3/repos/o/r/git/trees/release/v1%26x%3D1?recursive=1"
        );
        assert_eq!(
            api.blob("o", "r", "abc"),
            "https://ghe.example/api/v3/repos/o/r/git/blobs/abc"
        );
        assert_eq!(encode_segment("ü"), "%C3%BC");
        assert_eq!(encode_segment("a-b_c.d~e"), "a-b_c.d~e");
    }

    #[test]
    fn contents_decodes_wrapped_base64() {
        let body =
            br#"{"type":"file","encoding":"base64","size":11,"content":"aGVsbG8g\nd29ybGQ=\n"}"#;
        assert_eq!(
            decode_contents(body).unwrap(),
            Contents::File(b"hello world".to_vec())
        );
    }

    #[test]
    fn contents_without_content_reports_the_size() {
        let body = br#"{"type":"file","encoding":"none","size":2000000,"content":""}"#;
        assert_eq!(
            decode_contents(body).unwrap(),
            Contents::NotIncluded { size: 2_000_000 }
        );
    }

    #[test]
    fn contents_of_a_directory_is_refused() {
        assert_eq!(
            decode_contents(br#"[{"type":"file"}]"#).unwrap_err(),
            "a directory, not a file"
        );
        assert_eq!(
            decode_contents(br#"{"type":"symlink","encoding":"","size":1}"#).unwrap_err(),
            "a symlink, not a file"
        );
        assert!(
            decode_contents(b"<html>")
                .unwrap_err()
                .starts_with("not a Contents")
        );
        assert!(
            decode_contents(br#"{"type":"file","encoding":"base64","content":"!!"}"#)
                .unwrap_err()
                .starts_with("invalid base64")
        );
    }

    #[test]
    fn blobs_and_trees_decode() {
        assert_eq!(
            decode_blob(br#"{"sha":"x","encoding":"base64","content":"aGk=\n"}"#).unwrap(),
            b"hi"
        );
        let tree = decode_tree(
            br#"{"sha":"t","truncated":false,"tree":[{"path":"a","mode":"040000","type":"tree","sha":"1"},{"path":"a/SKILL.md","mode":"100644","type":"blob","sha":"2","size":5}]}"#,
        )
        .unwrap();
        assert_eq!(tree.tree.len(), 2);
        assert_eq!(tree.tree[1].size, Some(5));
        assert!(!tree.truncated);
    }

    fn response(status: u16, headers: &[(&'static str, &str)]) -> Response {
        let mut map = http::HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, v.parse().unwrap());
        }
        Response {
            status,
            headers: map,
            body: Vec::new(),
        }
    }

    #[test]
    fn rate_limit_headers() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let r = response(
            403,
            &[
                ("x-ratelimit-limit", "60"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "4600"),
            ],
        );
        let rate = RateLimit::from_response(&r);
        assert_eq!(rate.limit, Some(60));
        assert_eq!(
            rate.blocked_until(403, now),
            Some(UNIX_EPOCH + Duration::from_secs(4_600))
        );
        // A 200 that used the last request blocks too.
        assert_eq!(
            rate.blocked_until(200, now),
            Some(UNIX_EPOCH + Duration::from_secs(4_600))
        );
        // A reset in the past (clock skew) still waits a second.
        let past = RateLimit {
            remaining: Some(0),
            reset: Some(UNIX_EPOCH),
            ..RateLimit::default()
        };
        assert_eq!(
            past.blocked_until(403, now),
            Some(now + Duration::from_secs(1))
        );
        // Secondary limit: retry-after wins.
        let r = response(
            403,
            &[("retry-after", "30"), ("x-ratelimit-remaining", "12")],
        );
        assert_eq!(
            RateLimit::from_response(&r).blocked_until(403, now),
            Some(now + Duration::from_secs(30))
        );
        // 429 without headers: a minute.
        assert_eq!(
            RateLimit::default().blocked_until(429, now),
            Some(now + DEFAULT_RETRY_AFTER)
        );
        // A plain 403 (no access) is not a rate limit, nor is a 200 with requests left.
        let r = response(403, &[("x-ratelimit-remaining", "59")]);
        assert_eq!(RateLimit::from_response(&r).blocked_until(403, now), None);
        assert_eq!(RateLimit::from_response(&r).blocked_until(200, now), None);
    }

    #[test]
    fn statuses_map_to_errors() {
        let mut r = response(404, &[]);
        r.body = br#"{"message":"Not Found"}"#.to_vec();
        assert_eq!(
            status_error("o/r", "tree main", "u", &r).to_string(),
            "o/r: repository, path or ref not found (tree main); a private repository needs a token with access"
        );
        r.status = 401;
        assert!(matches!(
            status_error("o/r", "x", "u", &r),
            ResolveError::BadCredentials { .. }
        ));
        r.status = 502;
        r.body = b"<html>bad gateway</html>".to_vec();
        assert_eq!(
            status_error("o/r", "x", "https://api.github.com/x", &r).to_string(),
            "GitHub answered 502 for https://api.github.com/x"
        );
        r.status = 403;
        r.body = br#"{"message":"Resource not accessible by integration"}"#.to_vec();
        assert_eq!(
            status_error("o/r", "x", "u", &r).to_string(),
            "GitHub answered 403 Forbidden for u: Resource not accessible by integration"
        );
    }
}
