//! A local HTTPS stand-in for the parts of GitHub's REST API that skill packs are resolved
//! through, serving real git repositories made by the test.
//!
//! GitHub cannot be reached from the machines these tests run on, so the resolver is tested
//! against this server instead. It follows GitHub's documented response shapes, and it reads
//! every answer out of a real git repository with the `git` CLI, so tree SHAs, blob SHAs, sizes
//! and modes are the ones GitHub would report for the same content.
//!
//! ```no_run
//! # async fn t() -> Result<(), testkit::github::Error> {
//! use testkit::github::{GitHub, Repo};
//! let repo = Repo::new("acme", "skills")?;
//! repo.file("packs/hello/SKILL.md", "# Hello\n")?;
//! let first = repo.commit("initial")?;
//! repo.tag("v1")?;
//! let github = GitHub::start([repo.clone()]).await?;
//! // Point the client at github.base_url() (https://127.0.0.1:PORT) and trust github.ca_file().
//! repo.file("packs/hello/SKILL.md", "# Hello again\n")?;
//! repo.commit("second")?; // served at once: the server reads the repository per request
//! github.exhaust_rate_limit(std::time::Duration::from_secs(2));
//! let log = github.requests();
//! # let _ = (first, log); Ok(()) }
//! ```
//!
//! # Endpoints
//!
//! - `GET /repos/{owner}/{repo}`: the repository (`name`, `full_name`, `private`,
//!   `default_branch`, `owner.login`, ...).
//! - `GET /repos/{owner}/{repo}/contents/{path}?ref=REF`: a file (an object with `content` in
//!   base64 with a `\n` after every 60 characters and at the end, like GitHub's), a directory
//!   (an array of entries without `content`, at most 1,000), or a symlink (the target file's
//!   object when the target is a file in the repository, else a `"type": "symlink"` object with
//!   `target`). Files over 1 MiB have `"content": ""` and `"encoding": "none"`, as on GitHub.
//!   `ref` defaults to the default branch. With `Accept: application/vnd.github.raw` (or
//!   `.raw+json`, or the older `application/vnd.github.v3.raw`) a file is answered with its
//!   bytes.
//! - `GET /repos/{owner}/{repo}/git/trees/{tree_sha}[?recursive=1]`: `tree_sha` may be a tree
//!   or commit SHA (full 40 hex), a branch or tag name, or `HEAD` (the default branch); the
//!   answer's `sha` is the tree's. Any value of `recursive` recurses (GitHub: "setting recursive
//!   to any value"). At most [`GitHub::set_tree_limit`] entries are returned, then
//!   `"truncated": true`.
//! - `GET /repos/{owner}/{repo}/git/blobs/{sha}`: the blob in base64 (or raw, as above).
//! - `GET /raw/{owner}/{repo}/{ref}/{path}`: the bytes of a file, standing in for
//!   `raw.githubusercontent.com` (the `download_url` of contents answers points here); not
//!   counted against the rate limit, like GitHub's raw host.
//! - Anything else (and every other method than `GET` and `HEAD`): `404` with GitHub's body
//!   `{"message":"Not Found","documentation_url":...,"status":"404"}`.
//!
//! Refs are branch names, tag names (annotated tags are peeled) or full 40-hex commit SHAs.
//! Path segments are percent-decoded (`a%20b` is `a b`); `.` and `..` segments answer `404`.
//!
//! # Headers, conditional requests, rate limits
//!
//! Every JSON answer has `content-type: application/json; charset=utf-8`, `x-ratelimit-limit`,
//! `x-ratelimit-remaining`, `x-ratelimit-used`, `x-ratelimit-reset` (epoch seconds),
//! `x-ratelimit-resource: core` and `x-github-request-id`; successful ones have a weak ETag
//! `W/"<sha256 of the body, hex>"` (GitHub mostly sends weak ETags). An `If-None-Match` that
//! matches (weak comparison, a list or `*`) is answered `304` with an empty body.
//!
//! Rate limits are kept per caller class: unauthenticated (60 an hour) and the token (5,000 an
//! hour), both changeable with [`GitHub::set_rate_limit`] and
//! [`GitHub::set_rate_limit_window`]. Every answered API request counts, `404`s included,
//! except: a `304` to a request carrying the valid token (GitHub: "does not count against your
//! primary rate limit if a 304 response is returned and the request was made while correctly
//! authorized with an Authorization header" - so an *unauthenticated* `304` does count),
//! injected failures, `401`s and the rate-limited answers themselves. With nothing left, the
//! answer is `403` `{"message":"API rate limit exceeded for ..."}` with
//! `x-ratelimit-remaining: 0` until `x-ratelimit-reset`, when the window starts over.
//!
//! # Authentication
//!
//! `Authorization: Bearer <token>` or `token <token>`; the accepted token is [`GitHub::token`]
//! (random, changeable with [`GitHub::set_token`]). Any other `Authorization` answers `401`
//! `{"message":"Bad credentials"}`. Private repositories answer `404` unless the token is sent.
//! Like GitHub, a request without a `User-Agent` header is refused with `403`
//! ([`GitHub::set_require_user_agent`] turns that off).

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rand::Rng as _;
use rand::distr::Alphanumeric;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Unauthenticated requests allowed per window by default (GitHub: 60 an hour).
pub const DEFAULT_UNAUTHENTICATED_LIMIT: u64 = 60;
/// Requests with the token allowed per window by default (GitHub: 5,000 an hour).
pub const DEFAULT_AUTHENTICATED_LIMIT: u64 = 5000;
/// The default rate-limit window (GitHub: an hour).
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(3600);
/// The default branch of a new [`Repo`].
pub const DEFAULT_BRANCH: &str = "main";
/// Files larger than this have no content in contents answers (GitHub: 1 MB).
pub const CONTENTS_MAX_FILE: u64 = 1024 * 1024;
/// Entries in a directory listing at most (GitHub: 1,000).
pub const CONTENTS_MAX_ENTRIES: usize = 1000;
/// Base64 characters per line in `content` (GitHub's, from Ruby's `Base64.encode64`).
pub const BASE64_LINE: usize = 60;

const DOCS: &str = "https://docs.github.com/rest";
const RATE_DOCS: &str = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api";

/// Errors of the GitHub stand-in.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A `git` command failed.
    #[error("git {args}: {detail}")]
    Git {
        /// The arguments.
        args: String,
        /// Its standard error, or why it could not run.
        detail: String,
    },
    /// The certificates or the TLS configuration could not be made.
    #[error("tls: {0}")]
    Tls(String),
    /// A bad argument (a path leaving the repository, ...).
    #[error("{0}")]
    Invalid(String),
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------------------
// git
// ---------------------------------------------------------------------------------------------

/// A `git` command in `dir`, isolated from the user's and the system's configuration.
fn git_command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .arg("--literal-pathspecs")
        .args(args)
        .stdin(Stdio::null());
    cmd
}

fn git_failed(args: &[&str], detail: impl Into<String>) -> Error {
    Error::Git {
        args: args.join(" "),
        detail: detail.into(),
    }
}

/// Runs git and returns its standard output; a non-zero exit is an error.
fn git_sync(dir: &Path, args: &[&str]) -> Result<Vec<u8>, Error> {
    let output = git_command(dir, args)
        .output()
        .map_err(|e| git_failed(args, e.to_string()))?;
    if !output.status.success() {
        return Err(git_failed(
            args,
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ));
    }
    Ok(output.stdout)
}

/// Runs git without blocking the runtime; `Ok(None)` when it exits non-zero (not found).
async fn git_async(dir: &Path, args: &[&str]) -> Result<Option<Vec<u8>>, Error> {
    let output = tokio::process::Command::from(git_command(dir, args))
        .output()
        .await
        .map_err(|e| git_failed(args, e.to_string()))?;
    Ok(output.status.success().then_some(output.stdout))
}

fn trimmed(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_owned()
}

fn is_full_sha(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `name` is a ref name GitHub could have (roughly `git check-ref-format`): refuses
/// what `git rev-parse` would read as revision syntax (`main~1`, `v1^{tree}`, `@{u}`, ...).
fn plausible_ref_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(['-', '/', '.'])
        && !name.ends_with(['/', '.'])
        && !name.ends_with(".lock")
        && !name.contains("..")
        && !name.contains("@{")
        && !name.contains("//")
        && name != "@"
        && !name
            .chars()
            .any(|c| c.is_control() || " ~^:?*[\\".contains(c))
}

/// One entry of `git ls-tree -l -z`.
#[derive(Clone, Debug)]
struct TreeEntry {
    mode: String,
    kind: String,
    sha: String,
    size: Option<u64>,
    path: String,
}

fn parse_ls_tree(out: &[u8]) -> Vec<TreeEntry> {
    out.split(|b| *b == 0)
        .filter(|rec| !rec.is_empty())
        .filter_map(|rec| {
            let rec = String::from_utf8_lossy(rec);
            let (meta, path) = rec.split_once('\t')?;
            let mut fields = meta.split_whitespace();
            let mode = fields.next()?.to_owned();
            let kind = fields.next()?.to_owned();
            let sha = fields.next()?.to_owned();
            let size = fields.next().and_then(|s| s.parse().ok());
            Some(TreeEntry {
                mode,
                kind,
                sha,
                size,
                path: path.to_owned(),
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Repo
// ---------------------------------------------------------------------------------------------

/// A real git repository in a temporary directory, served by [`GitHub`] as `owner/name`.
///
/// Cheap to clone: clones are the same repository. Changes made after [`GitHub::start`] are
/// served at once. The working tree is only a way to build commits; the server reads commits.
#[derive(Clone, Debug)]
pub struct Repo {
    inner: Arc<RepoInner>,
}

#[derive(Debug)]
struct RepoInner {
    owner: String,
    name: String,
    dir: TempDir,
    private: AtomicBool,
    default_branch: Mutex<String>,
}

impl Repo {
    /// `git init` in a new temporary directory, on branch [`DEFAULT_BRANCH`], with a local
    /// committer identity. There are no commits yet.
    pub fn new(owner: &str, name: &str) -> Result<Repo, Error> {
        let dir = tempfile::Builder::new()
            .prefix("github-repo-")
            .tempdir()
            .map_err(io_err("creating the repository directory"))?;
        let init = ["init", "-q", "-b", DEFAULT_BRANCH];
        git_sync(dir.path(), &init)?;
        for (key, value) in [
            ("user.name", "Testkit"),
            ("user.email", "testkit@example.com"),
            ("commit.gpgsign", "false"),
            ("tag.gpgsign", "false"),
            ("core.autocrlf", "false"),
        ] {
            git_sync(dir.path(), &["config", key, value])?;
        }
        Ok(Repo {
            inner: Arc::new(RepoInner {
                owner: owner.to_owned(),
                name: name.to_owned(),
                dir,
                private: AtomicBool::new(false),
                default_branch: Mutex::new(DEFAULT_BRANCH.to_owned()),
            }),
        })
    }

    /// The same repository, private (or not): served only to requests with the token.
    #[must_use]
    pub fn private(self, private: bool) -> Repo {
        self.set_private(private);
        self
    }

    /// Makes the repository private or public.
    pub fn set_private(&self, private: bool) {
        self.inner.private.store(private, Ordering::SeqCst);
    }

    /// Whether the repository is private.
    pub fn is_private(&self) -> bool {
        self.inner.private.load(Ordering::SeqCst)
    }

    /// The owner, as given.
    pub fn owner(&self) -> &str {
        &self.inner.owner
    }

    /// The repository name, as given.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// `owner/name`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.inner.owner, self.inner.name)
    }

    /// The repository's directory (its working tree).
    pub fn path(&self) -> &Path {
        self.inner.dir.path()
    }

    /// The branch served when no ref is given ([`DEFAULT_BRANCH`] unless changed).
    pub fn default_branch(&self) -> String {
        lock(&self.inner.default_branch).clone()
    }

    /// Changes the default branch (it need not exist yet).
    pub fn set_default_branch(&self, branch: &str) {
        *lock(&self.inner.default_branch) = branch.to_owned();
    }

    fn worktree_path(&self, path: &str) -> Result<PathBuf, Error> {
        let clean = normalize_path(path)
            .filter(|p| !p.is_empty() && p.split('/').next() != Some(".git"))
            .ok_or_else(|| Error::Invalid(format!("bad repository path {path:?}")))?;
        Ok(self.path().join(clean))
    }

    fn write(&self, path: &str, contents: &[u8]) -> Result<PathBuf, Error> {
        let full = self.worktree_path(path)?;
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).map_err(io_err(format!("creating {parent:?}")))?;
        }
        if full.is_symlink() {
            std::fs::remove_file(&full).map_err(io_err(format!("replacing {full:?}")))?;
        }
        std::fs::write(&full, contents).map_err(io_err(format!("writing {full:?}")))?;
        Ok(full)
    }

    fn add(&self, path: &str) -> Result<(), Error> {
        git_sync(self.path(), &["add", "-f", "--", path]).map(drop)
    }

    /// Writes a regular file (mode `100644`) and stages it, creating parent directories.
    pub fn file(&self, path: &str, contents: impl AsRef<[u8]>) -> Result<&Repo, Error> {
        use std::os::unix::fs::PermissionsExt as _;
        let full = self.write(path, contents.as_ref())?;
        std::fs::set_permissions(&full, std::fs::Permissions::from_mode(0o644))
            .map_err(io_err(format!("chmod {full:?}")))?;
        self.add(path)?;
        Ok(self)
    }

    /// Writes an executable file (mode `100755`) and stages it.
    pub fn executable(&self, path: &str, contents: impl AsRef<[u8]>) -> Result<&Repo, Error> {
        use std::os::unix::fs::PermissionsExt as _;
        let full = self.write(path, contents.as_ref())?;
        std::fs::set_permissions(&full, std::fs::Permissions::from_mode(0o755))
            .map_err(io_err(format!("chmod {full:?}")))?;
        self.add(path)?;
        Ok(self)
    }

    /// Makes `path` a symlink (mode `120000`) to `target` and stages it.
    pub fn symlink(&self, path: &str, target: &str) -> Result<&Repo, Error> {
        let full = self.worktree_path(path)?;
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).map_err(io_err(format!("creating {parent:?}")))?;
        }
        if full.symlink_metadata().is_ok() {
            std::fs::remove_file(&full).map_err(io_err(format!("replacing {full:?}")))?;
        }
        std::os::unix::fs::symlink(target, &full).map_err(io_err(format!("symlink {full:?}")))?;
        self.add(path)?;
        Ok(self)
    }

    /// Removes a file or a directory (recursively) and stages the removal.
    pub fn remove(&self, path: &str) -> Result<&Repo, Error> {
        self.worktree_path(path)?;
        git_sync(self.path(), &["rm", "-r", "-q", "--", path])?;
        Ok(self)
    }

    /// Commits what is staged (an empty commit if nothing is) on the current branch and
    /// returns the commit SHA.
    pub fn commit(&self, message: &str) -> Result<String, Error> {
        git_sync(
            self.path(),
            &[
                "commit",
                "-q",
                "--allow-empty",
                "--no-verify",
                "-m",
                message,
            ],
        )?;
        self.rev_parse("HEAD")
    }

    /// A lightweight tag on the current commit.
    pub fn tag(&self, name: &str) -> Result<&Repo, Error> {
        git_sync(self.path(), &["tag", "--", name])?;
        Ok(self)
    }

    /// An annotated tag on the current commit.
    pub fn annotated_tag(&self, name: &str, message: &str) -> Result<&Repo, Error> {
        git_sync(self.path(), &["tag", "-a", "-m", message, "--", name])?;
        Ok(self)
    }

    /// A new branch at the current commit (the current branch does not change).
    pub fn branch(&self, name: &str) -> Result<&Repo, Error> {
        git_sync(self.path(), &["branch", "--", name])?;
        Ok(self)
    }

    /// Switches to an existing branch: later commits go there.
    pub fn checkout(&self, branch: &str) -> Result<&Repo, Error> {
        git_sync(self.path(), &["checkout", "-q", branch, "--"])?;
        Ok(self)
    }

    /// `git rev-parse --verify <rev>`, e.g. `HEAD^{tree}` or `v1:packs/hello`.
    pub fn rev_parse(&self, rev: &str) -> Result<String, Error> {
        Ok(trimmed(&git_sync(
            self.path(),
            &["rev-parse", "--verify", "--end-of-options", rev],
        )?))
    }

    /// Any other git command in the repository; returns its standard output.
    pub fn git(&self, args: &[&str]) -> Result<String, Error> {
        Ok(String::from_utf8_lossy(&git_sync(self.path(), args)?).into_owned())
    }

    // --- what the server reads ---

    /// The commit a ref (branch, tag, full commit SHA, or `HEAD`: the default branch) names.
    async fn resolve_commit(&self, reference: &str) -> Result<Option<String>, Error> {
        // GitHub reads `HEAD` as the default branch (`git/trees/HEAD`, `?ref=HEAD`).
        if reference == "HEAD" {
            let branch = format!("refs/heads/{}^{{commit}}", self.default_branch());
            let args = [
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                &branch,
            ];
            return Ok(git_async(self.path(), &args).await?.map(|o| trimmed(&o)));
        }
        let mut candidates = Vec::new();
        if plausible_ref_name(reference) {
            candidates.push(format!("refs/heads/{reference}^{{commit}}"));
            candidates.push(format!("refs/tags/{reference}^{{commit}}"));
        }
        if is_full_sha(reference) {
            candidates.push(format!("{}^{{commit}}", reference.to_ascii_lowercase()));
        }
        for rev in candidates {
            let args = ["rev-parse", "--verify", "--quiet", "--end-of-options", &rev];
            if let Some(out) = git_async(self.path(), &args).await? {
                return Ok(Some(trimmed(&out)));
            }
        }
        Ok(None)
    }

    /// The tree a `git/trees/{tree_sha}` names: a tree or commit SHA, a branch or a tag.
    async fn resolve_tree(&self, reference: &str) -> Result<Option<String>, Error> {
        if is_full_sha(reference) {
            let sha = reference.to_ascii_lowercase();
            let kind = git_async(self.path(), &["cat-file", "-t", &sha]).await?;
            if kind.as_deref().map(trimmed).as_deref() == Some("tree") {
                return Ok(Some(sha));
            }
        }
        let Some(commit) = self.resolve_commit(reference).await? else {
            return Ok(None);
        };
        let rev = format!("{commit}^{{tree}}");
        let out = git_async(self.path(), &["rev-parse", "--verify", "--quiet", &rev]).await?;
        Ok(out.map(|o| trimmed(&o)))
    }

    async fn ls_tree(&self, treeish: &str, recursive: bool) -> Result<Vec<TreeEntry>, Error> {
        let mut args = vec!["ls-tree", "-l", "-z"];
        if recursive {
            args.extend(["-r", "-t"]);
        }
        args.extend(["--end-of-options", treeish]);
        Ok(git_async(self.path(), &args)
            .await?
            .map(|o| parse_ls_tree(&o))
            .unwrap_or_default())
    }

    /// The entry at `path` in `commit` (`None` for the root or a missing path).
    async fn entry(&self, commit: &str, path: &str) -> Result<Option<TreeEntry>, Error> {
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
        let treeish = format!("{commit}:{parent}");
        Ok(self
            .ls_tree(&treeish, false)
            .await?
            .into_iter()
            .find(|e| e.path == name))
    }

    async fn blob(&self, sha: &str) -> Result<Option<Vec<u8>>, Error> {
        git_async(self.path(), &["cat-file", "blob", sha]).await
    }

    async fn object_kind(&self, sha: &str) -> Result<Option<String>, Error> {
        Ok(git_async(self.path(), &["cat-file", "-t", sha])
            .await?
            .map(|o| trimmed(&o)))
    }
}

/// `a/./b/` is `a/b`; `None` when a segment is `..` or holds a NUL.
fn normalize_path(path: &str) -> Option<String> {
    let mut out = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => return None,
            s if s.contains('\0') => return None,
            s => out.push(s),
        }
    }
    Some(out.join("/"))
}

// ---------------------------------------------------------------------------------------------
// Encoding helpers
// ---------------------------------------------------------------------------------------------

/// Base64 the way GitHub's `content` fields are: a `\n` after every 60 characters and at the
/// end (Ruby's `Base64.encode64`); empty input gives an empty string.
pub fn github_base64(bytes: &[u8]) -> String {
    let flat = BASE64.encode(bytes);
    let mut out = String::with_capacity(flat.len() + flat.len() / BASE64_LINE + 1);
    for chunk in flat.as_bytes().chunks(BASE64_LINE) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out
}

fn percent_decode(s: &str, plus_is_space: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes everything but unreserved characters and `/`.
fn percent_encode_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn parse_query(query: Option<&str>) -> BTreeMap<String, String> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((percent_decode(k, true)?, percent_decode(v, true)?))
        })
        .collect()
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn etag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let mut hex = String::with_capacity(64);
    for b in digest {
        let _ = write!(hex, "{b:02x}");
    }
    format!("W/\"{hex}\"")
}

/// Weak comparison (RFC 9110 13.1.2) of an `If-None-Match` value against our ETag.
fn if_none_match_matches(header: &str, etag: &str) -> bool {
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let ours = opaque(etag);
    header
        .split(',')
        .any(|t| t.trim() == "*" || opaque(t) == ours)
}

// ---------------------------------------------------------------------------------------------
// Server state
// ---------------------------------------------------------------------------------------------

/// One request the server answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// The path as sent (still percent-encoded).
    pub path: String,
    /// The query string as sent, if any.
    pub query: Option<String>,
    /// The `If-None-Match` header, if any.
    pub if_none_match: Option<String>,
    /// The token of the `Authorization` header (`Bearer` or `token`), if any; the whole
    /// header value when it has neither scheme.
    pub authorization: Option<String>,
    /// The `Accept` header, if any.
    pub accept: Option<String>,
    /// The status answered.
    pub status: u16,
    /// Whether it was taken off the rate limit.
    pub counted: bool,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    limit: u64,
    remaining: u64,
    reset: u64,
}

impl Bucket {
    fn new(limit: u64, window: Duration) -> Bucket {
        Bucket {
            limit,
            remaining: limit,
            reset: now_secs() + window.as_secs().max(1),
        }
    }

    /// Starts a new window once the reset time has come.
    fn refresh(&mut self, window: Duration) {
        let now = now_secs();
        if now >= self.reset {
            self.remaining = self.limit;
            self.reset = now + window.as_secs().max(1);
        }
    }
}

#[derive(Debug)]
struct Control {
    token: String,
    window: Duration,
    unauthenticated: Bucket,
    authenticated: Bucket,
    tree_limit: Option<usize>,
    failures: VecDeque<u16>,
    secondary: VecDeque<Duration>,
    require_user_agent: bool,
    log: Vec<RequestRecord>,
    next_id: u64,
}

#[derive(Debug)]
struct State {
    base_url: String,
    repos: Mutex<BTreeMap<String, Repo>>,
    control: Mutex<Control>,
}

fn repo_key(owner: &str, name: &str) -> String {
    format!(
        "{}/{}",
        owner.to_ascii_lowercase(),
        name.to_ascii_lowercase()
    )
}

/// A response body: all bytes at once.
#[derive(Debug)]
struct Full(Option<Bytes>);

impl Full {
    fn new(bytes: impl Into<Bytes>) -> Full {
        let bytes = bytes.into();
        Full((!bytes.is_empty()).then_some(bytes))
    }
}

impl hyper::body::Body for Full {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.take().map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.as_ref().map_or(0, |b| b.len() as u64))
    }
}

/// What a route answers, before the common headers and the rate limit are applied.
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
    content_type: &'static str,
    /// Whether it takes from the rate limit at all (the raw host does not).
    api: bool,
}

const JSON: &str = "application/json; charset=utf-8";
const RAW: &str = "application/vnd.github.raw";

impl Answer {
    fn json(status: StatusCode, value: &Value) -> Answer {
        Answer {
            status,
            body: value.to_string().into_bytes(),
            content_type: JSON,
            api: true,
        }
    }

    fn ok(value: &Value) -> Answer {
        Answer::json(StatusCode::OK, value)
    }

    fn raw(bytes: Vec<u8>) -> Answer {
        Answer {
            status: StatusCode::OK,
            body: bytes,
            content_type: RAW,
            api: true,
        }
    }

    fn not_found(docs: &str) -> Answer {
        Answer::json(
            StatusCode::NOT_FOUND,
            &json!({"message": "Not Found", "documentation_url": docs, "status": "404"}),
        )
    }
}

/// What the request asked for, as far as the routes care.
struct Ask<'a> {
    authenticated: bool,
    raw: bool,
    query: BTreeMap<String, String>,
    segments: Vec<&'a str>,
}

// ---------------------------------------------------------------------------------------------
// GitHub
// ---------------------------------------------------------------------------------------------

/// The HTTPS stand-in for GitHub's REST API (see the module docs). Stops on drop.
#[derive(Debug)]
pub struct GitHub {
    state: Arc<State>,
    addr: SocketAddr,
    ca_pem: String,
    ca_dir: TempDir,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for GitHub {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        self.task.abort();
    }
}

struct Pki {
    ca_pem: String,
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

fn make_pki() -> Result<Pki, rcgen::Error> {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
        IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "testkit GitHub stand-in CA");
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
    Ok(Pki {
        ca_pem: ca_cert.pem(),
        cert: cert.der().clone(),
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    })
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl GitHub {
    /// Starts the server on `127.0.0.1` (a free port) with a fresh CA, serving `repos`.
    /// Needs a Tokio runtime; the server runs on it until the value is dropped.
    pub async fn start(repos: impl IntoIterator<Item = Repo>) -> Result<GitHub, Error> {
        let pki = make_pki().map_err(|e| Error::Tls(e.to_string()))?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(vec![pki.cert], pki.key)
            .map_err(|e| Error::Tls(e.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

        let ca_dir = tempfile::Builder::new()
            .prefix("github-ca-")
            .tempdir()
            .map_err(io_err("creating the CA directory"))?;
        std::fs::write(ca_dir.path().join("ca.pem"), &pki.ca_pem)
            .map_err(io_err("writing ca.pem"))?;

        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(io_err("binding 127.0.0.1:0"))?;
        let addr = listener.local_addr().map_err(io_err("local address"))?;
        let token = format!(
            "ghp_{}",
            rand::rng()
                .sample_iter(Alphanumeric)
                .take(36)
                .map(char::from)
                .collect::<String>()
        );
        let state = Arc::new(State {
            base_url: format!("https://127.0.0.1:{}", addr.port()),
            repos: Mutex::new(BTreeMap::new()),
            control: Mutex::new(Control {
                token,
                window: DEFAULT_WINDOW,
                unauthenticated: Bucket::new(DEFAULT_UNAUTHENTICATED_LIMIT, DEFAULT_WINDOW),
                authenticated: Bucket::new(DEFAULT_AUTHENTICATED_LIMIT, DEFAULT_WINDOW),
                tree_limit: None,
                failures: VecDeque::new(),
                secondary: VecDeque::new(),
                require_user_agent: true,
                log: Vec::new(),
                next_id: 1,
            }),
        });
        let (shutdown, rx) = watch::channel(false);
        let task = tokio::spawn(serve(listener, acceptor, Arc::clone(&state), rx));
        let github = GitHub {
            state,
            addr,
            ca_pem: pki.ca_pem,
            ca_dir,
            shutdown,
            task,
        };
        for repo in repos {
            github.add_repo(repo);
        }
        Ok(github)
    }

    /// `https://127.0.0.1:PORT` (no trailing slash): the API base URL.
    pub fn base_url(&self) -> String {
        self.state.base_url.clone()
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The CA certificate (PEM) that signed the server certificate (for `127.0.0.1` and
    /// `localhost`).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A file holding [`GitHub::ca_pem`], for clients that take a CA bundle path.
    pub fn ca_file(&self) -> PathBuf {
        self.ca_dir.path().join("ca.pem")
    }

    /// A rustls client configuration (ring) trusting only this server's CA, without ALPN
    /// protocols (hyper-rustls sets those itself; the server speaks `http/1.1`).
    pub fn client_config(&self) -> Result<rustls::ClientConfig, Error> {
        let mut roots = rustls::RootCertStore::empty();
        let der = rustls_pki_types::pem::PemObject::from_pem_slice(self.ca_pem.as_bytes())
            .map_err(|e: rustls_pki_types::pem::Error| Error::Tls(e.to_string()))?;
        let der: CertificateDer<'static> = der;
        roots.add(der).map_err(|e| Error::Tls(e.to_string()))?;
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(config)
    }

    /// Serves another repository (replacing one with the same `owner/name`, compared
    /// case-insensitively like GitHub).
    pub fn add_repo(&self, repo: Repo) {
        lock(&self.state.repos).insert(repo_key(repo.owner(), repo.name()), repo);
    }

    /// Stops serving `owner/name` (it answers 404 from now on).
    pub fn remove_repo(&self, owner: &str, name: &str) {
        lock(&self.state.repos).remove(&repo_key(owner, name));
    }

    fn control(&self) -> MutexGuard<'_, Control> {
        lock(&self.state.control)
    }

    /// The token that is accepted (`ghp_` and 36 random characters unless changed).
    pub fn token(&self) -> String {
        self.control().token.clone()
    }

    /// Accepts `token` instead; any other token answers 401.
    pub fn set_token(&self, token: &str) {
        self.control().token = token.to_owned();
    }

    /// The limits per window for unauthenticated requests and for the token; both windows
    /// start over, full.
    pub fn set_rate_limit(&self, unauthenticated: u64, authenticated: u64) {
        let mut c = self.control();
        let window = c.window;
        c.unauthenticated = Bucket::new(unauthenticated, window);
        c.authenticated = Bucket::new(authenticated, window);
    }

    /// The length of a rate-limit window (whole seconds, at least one); both windows start
    /// over, full.
    pub fn set_rate_limit_window(&self, window: Duration) {
        let mut c = self.control();
        c.window = window;
        c.unauthenticated = Bucket::new(c.unauthenticated.limit, window);
        c.authenticated = Bucket::new(c.authenticated.limit, window);
    }

    /// Uses up both limits: requests answer 403 until `x-ratelimit-reset`, which is
    /// `reset_in` from now (rounded up to a whole second, at least one), when a new window
    /// starts, full.
    pub fn exhaust_rate_limit(&self, reset_in: Duration) {
        let mut secs = reset_in.as_secs();
        if reset_in.subsec_nanos() > 0 || secs == 0 {
            secs += 1;
        }
        let reset = now_secs() + secs;
        let mut guard = self.control();
        let c = &mut *guard;
        for bucket in [&mut c.unauthenticated, &mut c.authenticated] {
            bucket.remaining = 0;
            bucket.reset = reset;
        }
    }

    /// What is left of the unauthenticated (`false`) or the token's (`true`) limit.
    pub fn rate_limit_remaining(&self, authenticated: bool) -> u64 {
        let mut c = self.control();
        let window = c.window;
        let bucket = if authenticated {
            &mut c.authenticated
        } else {
            &mut c.unauthenticated
        };
        bucket.refresh(window);
        bucket.remaining
    }

    /// Git trees answers hold at most `limit` entries and then say `"truncated": true`
    /// (GitHub truncates at 100,000 entries or 7 MB); `None` for no limit.
    pub fn set_tree_limit(&self, limit: Option<usize>) {
        self.control().tree_limit = limit;
    }

    /// The next `n` requests answer `status` (e.g. 500 or 502) with a JSON message, before
    /// authentication and the rate limit, without counting against it.
    pub fn fail_next(&self, n: usize, status: u16) {
        self.control()
            .failures
            .extend(std::iter::repeat_n(status, n));
    }

    /// The next `n` requests hit a secondary rate limit: 403 with `retry-after` (whole
    /// seconds) and GitHub's secondary-limit message, not counting against the primary limit.
    pub fn secondary_rate_limit(&self, n: usize, retry_after: Duration) {
        self.control()
            .secondary
            .extend(std::iter::repeat_n(retry_after, n));
    }

    /// Whether a request without `User-Agent` is refused with 403, as GitHub does (default).
    pub fn set_require_user_agent(&self, require: bool) {
        self.control().require_user_agent = require;
    }

    /// Every request answered so far, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.control().log.clone()
    }

    /// How many requests were answered.
    pub fn count_requests(&self) -> usize {
        self.control().log.len()
    }

    /// How many requests were taken off a rate limit.
    pub fn counted_against_limit(&self) -> usize {
        self.control().log.iter().filter(|r| r.counted).count()
    }

    /// Forgets the request log (the rate limits are unchanged).
    pub fn clear_requests(&self) {
        self.control().log.clear();
    }
}

async fn serve(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    state: Arc<State>,
    mut shutdown: watch::Receiver<bool>,
) {
    // Connections live in the set: when this task ends or is aborted, they are aborted too.
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => accepted,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let Ok((tcp, _peer)) = accepted else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let acceptor = acceptor.clone();
        let state = Arc::clone(&state);
        connections.spawn(async move {
            let Ok(Ok(tls)) =
                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await
            else {
                return;
            };
            let service = hyper::service::service_fn(move |req| {
                let state = Arc::clone(&state);
                async move { Ok::<_, Infallible>(handle(&state, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The token of an `Authorization` header: `Bearer X` or `token X` (scheme case-insensitive).
fn token_of(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let scheme = scheme.to_ascii_lowercase();
    (scheme == "bearer" || scheme == "token").then(|| token.trim())
}

fn wants_raw(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| {
        a.split(',').any(|t| {
            let t = t.split(';').next().unwrap_or("").trim();
            t == "application/vnd.github.raw"
                || t == "application/vnd.github.raw+json"
                || t == "application/vnd.github.v3.raw"
                || t == "application/vnd.github.v3.raw+json"
        })
    })
}

async fn handle(state: &State, req: Request<Incoming>) -> Response<Full> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    let headers = req.headers();
    let if_none_match = header_str(headers, "if-none-match");
    let authorization = header_str(headers, "authorization");
    let accept = header_str(headers, "accept");
    let user_agent = header_str(headers, "user-agent");
    let presented = authorization
        .as_deref()
        .map(|a| token_of(a).unwrap_or(a).to_owned());

    let (request_id, failure, secondary, token, require_ua) = {
        let mut c = lock(&state.control);
        let id = c.next_id;
        c.next_id += 1;
        let failure = c.failures.pop_front();
        let secondary = if failure.is_none() {
            c.secondary.pop_front()
        } else {
            None
        };
        (
            format!("0000:{id:04X}:TESTKIT:{id:06X}"),
            failure,
            secondary,
            c.token.clone(),
            c.require_user_agent,
        )
    };
    let authenticated = presented.as_deref() == Some(token.as_str());

    // Answers decided before the rate limit; none of them counts.
    let early: Option<(StatusCode, Vec<u8>, &str, Option<Duration>)> = if let Some(status) = failure
    {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = status.canonical_reason().unwrap_or("Server Error");
        Some((
            status,
            json!({"message": message}).to_string().into_bytes(),
            JSON,
            None,
        ))
    } else if require_ua && user_agent.is_none() {
        let body = "Request forbidden by administrative rules. Please make sure your request has \
                    a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). \
                    Check https://developer.github.com for other possible causes.\n";
        Some((
            StatusCode::FORBIDDEN,
            body.as_bytes().to_vec(),
            "text/plain; charset=utf-8",
            None,
        ))
    } else if authorization.is_some() && !authenticated {
        let body =
            json!({"message": "Bad credentials", "documentation_url": DOCS, "status": "401"});
        Some((
            StatusCode::UNAUTHORIZED,
            body.to_string().into_bytes(),
            JSON,
            None,
        ))
    } else if let Some(retry_after) = secondary {
        let body = json!({
            "message": format!(
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try \
                 again. If you reach out to GitHub Support for help, please include the request ID \
                 {request_id}."
            ),
            "documentation_url": format!("{RATE_DOCS}#about-secondary-rate-limits"),
        });
        Some((
            StatusCode::FORBIDDEN,
            body.to_string().into_bytes(),
            JSON,
            Some(retry_after),
        ))
    } else {
        None
    };

    let is_raw_host = path.starts_with("/raw/");
    let (response, counted) = if let Some((status, body, content_type, retry_after)) = early {
        let snapshot = bucket_snapshot(state, authenticated);
        let mut response = build(status, body, content_type, &request_id, Some(snapshot));
        if let Some(retry) = retry_after {
            set(&mut response, "retry-after", &retry.as_secs().to_string());
        }
        (response, false)
    } else if !is_raw_host && bucket_snapshot(state, authenticated).remaining == 0 {
        let snapshot = bucket_snapshot(state, authenticated);
        let who = if authenticated {
            "user ID 1.".to_owned()
        } else {
            "127.0.0.1. (But here's the good news: Authenticated requests get a higher rate \
             limit. Check out the documentation for more details.)"
                .to_owned()
        };
        let body = json!({
            "message": format!("API rate limit exceeded for {who}"),
            "documentation_url": format!("{RATE_DOCS}#primary-rate-limit"),
        });
        let response = build(
            StatusCode::FORBIDDEN,
            body.to_string().into_bytes(),
            JSON,
            &request_id,
            Some(snapshot),
        );
        (response, false)
    } else {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let ask = Ask {
            authenticated,
            raw: wants_raw(accept.as_deref()),
            query: parse_query(query.as_deref()),
            segments,
        };
        let answer = if method == Method::GET || method == Method::HEAD {
            match route(state, &ask).await {
                Ok(answer) => answer,
                Err(e) => Answer::json(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &json!({"message": format!("testkit GitHub stand-in: {e}")}),
                ),
            }
        } else {
            Answer::not_found(DOCS)
        };
        let etag = (answer.status == StatusCode::OK).then(|| etag_of(&answer.body));
        let not_modified = match (&etag, &if_none_match) {
            (Some(etag), Some(inm)) => if_none_match_matches(inm, etag),
            _ => false,
        };
        // A 304 is free only with valid credentials (GitHub's "Use conditional requests").
        let counted = answer.api && !(not_modified && authenticated);
        let snapshot = answer.api.then(|| take(state, authenticated, counted));
        let mut response = if not_modified {
            build(
                StatusCode::NOT_MODIFIED,
                Vec::new(),
                "",
                &request_id,
                snapshot,
            )
        } else {
            build(
                answer.status,
                answer.body,
                answer.content_type,
                &request_id,
                snapshot,
            )
        };
        if let Some(etag) = etag {
            set(&mut response, "etag", &etag);
            let cache = if authenticated {
                "private, max-age=60, s-maxage=60"
            } else {
                "public, max-age=60, s-maxage=60"
            };
            set(&mut response, "cache-control", cache);
        }
        (response, counted)
    };

    lock(&state.control).log.push(RequestRecord {
        method: method.to_string(),
        path,
        query,
        if_none_match,
        authorization: presented,
        accept,
        status: response.status().as_u16(),
        counted,
    });
    response
}

fn bucket_snapshot(state: &State, authenticated: bool) -> Bucket {
    take(state, authenticated, false)
}

/// Refreshes the caller's bucket, takes one request off it when `count`, and returns it.
fn take(state: &State, authenticated: bool, count: bool) -> Bucket {
    let mut c = lock(&state.control);
    let window = c.window;
    let bucket = if authenticated {
        &mut c.authenticated
    } else {
        &mut c.unauthenticated
    };
    bucket.refresh(window);
    if count {
        bucket.remaining = bucket.remaining.saturating_sub(1);
    }
    *bucket
}

fn set(response: &mut Response<Full>, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

fn build(
    status: StatusCode,
    body: Vec<u8>,
    content_type: &str,
    request_id: &str,
    rate: Option<Bucket>,
) -> Response<Full> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    if !content_type.is_empty() {
        set(&mut response, "content-type", content_type);
    }
    set(&mut response, "x-github-request-id", request_id);
    set(&mut response, "x-github-api-version-selected", "2022-11-28");
    set(
        &mut response,
        "x-github-media-type",
        "github.v3; format=json",
    );
    set(
        &mut response,
        "vary",
        "Accept, Authorization, Cookie, X-GitHub-OTP, Accept-Encoding",
    );
    if let Some(b) = rate {
        set(&mut response, "x-ratelimit-limit", &b.limit.to_string());
        set(
            &mut response,
            "x-ratelimit-remaining",
            &b.remaining.to_string(),
        );
        let used = b.limit.saturating_sub(b.remaining);
        set(&mut response, "x-ratelimit-used", &used.to_string());
        set(&mut response, "x-ratelimit-reset", &b.reset.to_string());
        set(&mut response, "x-ratelimit-resource", "core");
    }
    response
}

// ---------------------------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------------------------

const CONTENTS_DOCS: &str = "https://docs.github.com/rest/repos/contents#get-repository-content";
const TREES_DOCS: &str = "https://docs.github.com/rest/git/trees#get-a-tree";
const BLOBS_DOCS: &str = "https://docs.github.com/rest/git/blobs#get-a-blob";
const REPOS_DOCS: &str = "https://docs.github.com/rest/repos/repos#get-a-repository";

/// The repository `owner/name` if the caller may see it.
fn visible_repo(state: &State, ask: &Ask<'_>, owner: &str, name: &str) -> Option<Repo> {
    let owner = percent_decode(owner, false)?;
    let name = percent_decode(name, false)?;
    let repo = lock(&state.repos).get(&repo_key(&owner, &name)).cloned()?;
    (!repo.is_private() || ask.authenticated).then_some(repo)
}

/// The decoded, normalized path of `segments`; `None` for `..`, bad escapes or a NUL.
fn decode_path(segments: &[&str]) -> Option<String> {
    let decoded = percent_decode(&segments.join("/"), false)?;
    normalize_path(&decoded)
}

async fn route(state: &State, ask: &Ask<'_>) -> Result<Answer, Error> {
    match ask.segments.as_slice() {
        ["repos", owner, name] => {
            let Some(repo) = visible_repo(state, ask, owner, name) else {
                return Ok(Answer::not_found(REPOS_DOCS));
            };
            Ok(Answer::ok(&repo_json(state, &repo)))
        }
        ["repos", owner, name, "contents", rest @ ..] => {
            let (Some(repo), Some(path)) =
                (visible_repo(state, ask, owner, name), decode_path(rest))
            else {
                return Ok(Answer::not_found(CONTENTS_DOCS));
            };
            contents(state, ask, &repo, &path).await
        }
        ["repos", owner, name, "git", "trees", rest @ ..] if !rest.is_empty() => {
            let (Some(repo), Some(reference)) = (
                visible_repo(state, ask, owner, name),
                percent_decode(&rest.join("/"), false),
            ) else {
                return Ok(Answer::not_found(TREES_DOCS));
            };
            tree(state, ask, &repo, &reference).await
        }
        ["repos", owner, name, "git", "blobs", sha] => {
            let Some(repo) = visible_repo(state, ask, owner, name) else {
                return Ok(Answer::not_found(BLOBS_DOCS));
            };
            blob(state, ask, &repo, sha).await
        }
        ["raw", owner, name, reference, rest @ ..] => {
            let mut answer = raw_file(state, ask, owner, name, reference, rest).await?;
            answer.api = false;
            if answer.status != StatusCode::OK {
                answer.body = b"404: Not Found".to_vec();
                answer.content_type = "text/plain; charset=utf-8";
            }
            Ok(answer)
        }
        _ => Ok(Answer::not_found(DOCS)),
    }
}

fn api_base(state: &State, repo: &Repo) -> String {
    format!(
        "{}/repos/{}/{}",
        state.base_url,
        percent_encode_path(repo.owner()),
        percent_encode_path(repo.name())
    )
}

fn repo_json(state: &State, repo: &Repo) -> Value {
    json!({
        "id": 1,
        "name": repo.name(),
        "full_name": repo.full_name(),
        "private": repo.is_private(),
        "visibility": if repo.is_private() { "private" } else { "public" },
        "owner": {"login": repo.owner(), "type": "Organization"},
        "html_url": format!("{}/{}", state.base_url, repo.full_name()),
        "url": api_base(state, repo),
        "default_branch": repo.default_branch(),
    })
}

/// The links of a contents entry.
struct Links {
    url: String,
    git_url: String,
    html_url: String,
    download_url: Option<String>,
}

fn links(state: &State, repo: &Repo, reference: &str, path: &str, entry: &TreeEntry) -> Links {
    let api = api_base(state, repo);
    let enc_path = percent_encode_path(path);
    let enc_ref = percent_encode_path(reference);
    let html = format!("{}/{}", state.base_url, repo.full_name());
    let is_tree = entry.kind == "tree";
    Links {
        url: format!("{api}/contents/{enc_path}?ref={enc_ref}"),
        git_url: format!(
            "{api}/git/{}/{}",
            if is_tree { "trees" } else { "blobs" },
            entry.sha
        ),
        html_url: format!(
            "{html}/{}/{enc_ref}/{enc_path}",
            if is_tree { "tree" } else { "blob" }
        ),
        download_url: (entry.kind == "blob").then(|| {
            format!(
                "{}/raw/{}/{enc_ref}/{enc_path}",
                state.base_url,
                percent_encode_path(&repo.full_name())
            )
        }),
    }
}

fn entry_json(kind: &str, name: &str, path: &str, size: u64, sha: &str, l: &Links) -> Value {
    json!({
        "type": kind,
        "size": size,
        "name": name,
        "path": path,
        "sha": sha,
        "url": l.url,
        "git_url": l.git_url,
        "html_url": l.html_url,
        "download_url": l.download_url,
        "_links": {"self": l.url, "git": l.git_url, "html": l.html_url},
    })
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

async fn contents(state: &State, ask: &Ask<'_>, repo: &Repo, path: &str) -> Result<Answer, Error> {
    let reference = ask
        .query
        .get("ref")
        .filter(|r| !r.is_empty())
        .cloned()
        .unwrap_or_else(|| repo.default_branch());
    let Some(commit) = repo.resolve_commit(&reference).await? else {
        let body = json!({
            "message": format!("No commit found for the ref {reference}"),
            "documentation_url": CONTENTS_DOCS,
            "status": "404",
        });
        return Ok(Answer::json(StatusCode::NOT_FOUND, &body));
    };
    let entry = if path.is_empty() {
        None
    } else {
        match repo.entry(&commit, path).await? {
            Some(entry) => Some(entry),
            None => return Ok(Answer::not_found(CONTENTS_DOCS)),
        }
    };
    match entry {
        None => directory(state, repo, &reference, &commit, "").await,
        Some(e) if e.kind == "tree" => directory(state, repo, &reference, &commit, path).await,
        Some(e) if e.mode == "120000" => {
            symlink(state, ask, repo, &reference, &commit, path, &e).await
        }
        Some(e) if e.kind == "blob" => file(state, ask, repo, &reference, path, &e).await,
        Some(e) => {
            // A submodule.
            let l = links(state, repo, &reference, path, &e);
            let mut v = entry_json("submodule", base_name(path), path, 0, &e.sha, &l);
            v["submodule_git_url"] = Value::Null;
            Ok(Answer::ok(&v))
        }
    }
}

async fn file(
    state: &State,
    ask: &Ask<'_>,
    repo: &Repo,
    reference: &str,
    path: &str,
    e: &TreeEntry,
) -> Result<Answer, Error> {
    let Some(bytes) = repo.blob(&e.sha).await? else {
        return Ok(Answer::not_found(CONTENTS_DOCS));
    };
    if ask.raw {
        return Ok(Answer::raw(bytes));
    }
    let size = bytes.len() as u64;
    let (content, encoding) = if size > CONTENTS_MAX_FILE {
        (String::new(), "none")
    } else {
        (github_base64(&bytes), "base64")
    };
    let l = links(state, repo, reference, path, e);
    let mut v = entry_json("file", base_name(path), path, size, &e.sha, &l);
    v["content"] = json!(content);
    v["encoding"] = json!(encoding);
    Ok(Answer::ok(&v))
}

async fn symlink(
    state: &State,
    ask: &Ask<'_>,
    repo: &Repo,
    reference: &str,
    commit: &str,
    path: &str,
    e: &TreeEntry,
) -> Result<Answer, Error> {
    let target = repo
        .blob(&e.sha)
        .await?
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    // A target that is a regular file in the repository is answered with that file.
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    if !target.starts_with('/')
        && let Some(resolved) = normalize_relative(dir, &target)
        && let Some(t) = repo.entry(commit, &resolved).await?
        && t.kind == "blob"
        && t.mode != "120000"
    {
        return file(state, ask, repo, reference, &resolved, &t).await;
    }
    let l = links(state, repo, reference, path, e);
    let mut v = entry_json(
        "symlink",
        base_name(path),
        path,
        e.size.unwrap_or(0),
        &e.sha,
        &l,
    );
    v["target"] = json!(target);
    Ok(Answer::ok(&v))
}

/// `dir` joined with the relative `target`, `..` resolved; `None` when it leaves the root.
fn normalize_relative(dir: &str, target: &str) -> Option<String> {
    let mut parts: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
    for seg in target.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

async fn directory(
    state: &State,
    repo: &Repo,
    reference: &str,
    commit: &str,
    path: &str,
) -> Result<Answer, Error> {
    let entries = repo.ls_tree(&format!("{commit}:{path}"), false).await?;
    let list: Vec<Value> = entries
        .iter()
        .take(CONTENTS_MAX_ENTRIES)
        .map(|e| {
            let full = if path.is_empty() {
                e.path.clone()
            } else {
                format!("{path}/{}", e.path)
            };
            let l = links(state, repo, reference, &full, e);
            // GitHub lists submodules (and symlinks) as "file" in directory listings.
            let kind = if e.kind == "tree" { "dir" } else { "file" };
            entry_json(kind, &e.path, &full, e.size.unwrap_or(0), &e.sha, &l)
        })
        .collect();
    Ok(Answer::ok(&Value::Array(list)))
}

async fn tree(state: &State, ask: &Ask<'_>, repo: &Repo, reference: &str) -> Result<Answer, Error> {
    let Some(sha) = repo.resolve_tree(reference).await? else {
        return Ok(Answer::not_found(TREES_DOCS));
    };
    let recursive = ask.query.contains_key("recursive");
    let entries = repo.ls_tree(&sha, recursive).await?;
    let limit = lock(&state.control).tree_limit;
    let truncated = limit.is_some_and(|n| entries.len() > n);
    let api = api_base(state, repo);
    let tree: Vec<Value> = entries
        .iter()
        .take(limit.unwrap_or(usize::MAX))
        .map(|e| {
            let mut v = json!({
                "path": e.path,
                "mode": e.mode,
                "type": e.kind,
                "sha": e.sha,
            });
            match e.kind.as_str() {
                "blob" => {
                    v["size"] = json!(e.size.unwrap_or(0));
                    v["url"] = json!(format!("{api}/git/blobs/{}", e.sha));
                }
                "tree" => v["url"] = json!(format!("{api}/git/trees/{}", e.sha)),
                _ => {}
            }
            v
        })
        .collect();
    Ok(Answer::ok(&json!({
        "sha": sha,
        "url": format!("{api}/git/trees/{sha}"),
        "tree": tree,
        "truncated": truncated,
    })))
}

async fn blob(state: &State, ask: &Ask<'_>, repo: &Repo, sha: &str) -> Result<Answer, Error> {
    let sha = sha.to_ascii_lowercase();
    if !is_full_sha(&sha) || repo.object_kind(&sha).await?.as_deref() != Some("blob") {
        return Ok(Answer::not_found(BLOBS_DOCS));
    }
    let Some(bytes) = repo.blob(&sha).await? else {
        return Ok(Answer::not_found(BLOBS_DOCS));
    };
    if ask.raw {
        return Ok(Answer::raw(bytes));
    }
    Ok(Answer::ok(&json!({
        "sha": sha,
        "size": bytes.len(),
        "url": format!("{}/git/blobs/{sha}", api_base(state, repo)),
        "content": github_base64(&bytes),
        "encoding": "base64",
    })))
}

async fn raw_file(
    state: &State,
    ask: &Ask<'_>,
    owner: &str,
    name: &str,
    reference: &str,
    rest: &[&str],
) -> Result<Answer, Error> {
    let found = match (
        visible_repo(state, ask, owner, name),
        percent_decode(reference, false),
        decode_path(rest),
    ) {
        (Some(repo), Some(reference), Some(path)) if !path.is_empty() => {
            match repo.resolve_commit(&reference).await? {
                Some(commit) => repo
                    .entry(&commit, &path)
                    .await?
                    .filter(|e| e.kind == "blob")
                    .map(|e| (repo, e)),
                None => None,
            }
        }
        _ => None,
    };
    let Some((repo, entry)) = found else {
        return Ok(Answer::not_found(DOCS));
    };
    let bytes = repo.blob(&entry.sha).await?.unwrap_or_default();
    let mut answer = Answer::raw(bytes);
    answer.content_type = "text/plain; charset=utf-8";
    Ok(answer)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn base64_has_a_newline_every_60_characters_and_at_the_end() {
        assert_eq!(github_base64(b""), "");
        assert_eq!(github_base64(b"hi"), "aGk=\n");
        let encoded = github_base64(&[7u8; 100]);
        let lines: Vec<&str> = encoded.split_terminator('\n').collect();
        assert_eq!(
            lines.iter().map(|l| l.len()).collect::<Vec<_>>(),
            [60, 60, 16]
        );
        assert!(encoded.ends_with('\n'));
    }

    #[test]
    fn paths_and_refs() {
        assert_eq!(percent_decode("a%20b", false).unwrap(), "a b");
        assert_eq!(percent_decode("a+b", true).unwrap(), "a b");
        assert!(percent_decode("a%2", false).is_none());
        assert_eq!(normalize_path("a/./b/").unwrap(), "a/b");
        assert!(normalize_path("a/../b").is_none());
        assert_eq!(normalize_relative("a/b", "../c").unwrap(), "a/c");
        assert!(normalize_relative("", "../c").is_none());
        assert!(plausible_ref_name("feature/x"));
        for bad in ["main~1", "v1^{tree}", "@{u}", "a..b", "a b", ""] {
            assert!(!plausible_ref_name(bad), "{bad}");
        }
        assert_eq!(percent_encode_path("a b/c"), "a%20b/c");
    }

    #[test]
    fn if_none_match_is_a_weak_comparison() {
        let etag = etag_of(b"x");
        assert!(if_none_match_matches(&etag, &etag));
        assert!(if_none_match_matches(etag.trim_start_matches("W/"), &etag));
        assert!(if_none_match_matches(&format!("\"nope\", {etag}"), &etag));
        assert!(if_none_match_matches("*", &etag));
        assert!(!if_none_match_matches("\"nope\"", &etag));
    }
}
