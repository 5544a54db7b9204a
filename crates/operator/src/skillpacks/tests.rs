//! The resolver's I/O policies over a fake transport and a hand-moved clock: modes, headers,
//! cache TTL and stale bound, conditional requests, the blob cache, the rate-limit gate,
//! per-reference failures.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use futures::future::BoxFuture;
use serde_json::json;

use super::github::Response;
use super::transport::Transport;
use super::*;

const BASE: &str = "https://github.test/api/v3";
const MIN: Duration = Duration::from_secs(60);

/// Answers by URL (the last answer of a list repeats) and records requests.
#[derive(Default)]
struct Fake {
    routes: Mutex<HashMap<String, Vec<Response>>>,
    log: Mutex<Vec<(String, http::HeaderMap)>>,
}

impl Fake {
    fn route(&self, url: &str, responses: Vec<Response>) {
        self.routes
            .lock()
            .unwrap()
            .insert(url.to_string(), responses);
    }

    fn requests(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|(u, _)| u.clone())
            .collect()
    }

    fn clear(&self) {
        self.log.lock().unwrap().clear();
    }

    fn headers(&self, i: usize) -> http::HeaderMap {
        self.log.lock().unwrap()[i].1.clone()
    }
}

impl Transport for Arc<Fake> {
    fn get<'a>(
        &'a self,
        url: &'a str,
        headers: http::HeaderMap,
    ) -> BoxFuture<'a, Result<Response, ResolveError>> {
        self.log
            .lock()
            .unwrap()
            .push((url.to_string(), headers.clone()));
        let answer = {
            let mut routes = self.routes.lock().unwrap();
            match routes.get_mut(url) {
                Some(list) if list.len() > 1 => Some(list.remove(0)),
                Some(list) => list.first().cloned(),
                None => None,
            }
        };
        Box::pin(async move {
            match answer {
                Some(r) if r.status == 0 => futures::future::pending().await,
                Some(r) => Ok(r),
                None => Ok(status(404)),
            }
        })
    }
}

fn status(code: u16) -> Response {
    Response {
        status: code,
        headers: http::HeaderMap::new(),
        body: br#"{"message":"x"}"#.to_vec(),
    }
}

fn with_headers(mut r: Response, headers: &[(&'static str, &str)]) -> Response {
    for (k, v) in headers {
        r.headers.insert(*k, v.parse().unwrap());
    }
    r
}

fn json_ok(value: serde_json::Value, etag: Option<&str>) -> Response {
    let r = Response {
        status: 200,
        headers: http::HeaderMap::new(),
        body: value.to_string().into_bytes(),
    };
    match etag {
        Some(e) => with_headers(r, &[("etag", e)]),
        None => r,
    }
}

fn b64(content: &[u8]) -> String {
    // GitHub wraps at 60 characters.
    let text = base64::engine::general_purpose::STANDARD.encode(content);
    text.as_bytes()
        .chunks(60)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

fn file(content: &[u8], etag: Option<&str>) -> Response {
    json_ok(
        json!({"type": "file", "encoding": "base64", "size": content.len(), "content": b64(content)}),
        etag,
    )
}

fn blob(content: &[u8]) -> Response {
    json_ok(json!({"encoding": "base64", "content": b64(content)}), None)
}

fn not_modified() -> Response {
    status(304)
}

struct Env {
    fake: Arc<Fake>,
    now: Arc<Mutex<SystemTime>>,
    resolver: Resolver,
}

impl Env {
    fn new(options: Options) -> Self {
        let fake = Arc::new(Fake::default());
        let now = Arc::new(Mutex::new(UNIX_EPOCH + Duration::from_secs(1_796_660_000)));
        let clock_now = now.clone();
        let resolver = Resolver::with_transport(
            Options {
                base_url: BASE.into(),
                ..options
            },
            Box::new(fake.clone()),
            Arc::new(move || *clock_now.lock().unwrap()),
        )
        .unwrap();
        Env {
            fake,
            now,
            resolver,
        }
    }

    fn advance(&self, by: Duration) {
        *self.now.lock().unwrap() += by;
    }

    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap()
    }

    async fn resolve(&self, references: &[&str]) -> Resolution {
        let references: Vec<String> = references.iter().map(|s| s.to_string()).collect();
        self.resolver.resolve("default", &references).await
    }
}

fn url(path: &str) -> String {
    format!("{BASE}/repos/{path}")
}

/// A raw-mode pack `o/r/packs/weather` at HEAD.
fn raw_pack(env: &Env) {
    env.fake.route(
        &url("o/r/git/trees/HEAD?recursive=1"),
        vec![json_ok(
            json!({"sha": "t", "truncated": false, "tree": [
                {"path": "packs", "mode": "040000", "type": "tree", "sha": "d1"},
                {"path": "packs/weather", "mode": "040000", "type": "tree", "sha": "d2"},
                {"path": "packs/weather/SKILL.md", "mode": "100644", "type": "blob", "sha": "s1", "size": 5},
                {"path": "packs/weather/bin", "mode": "040000", "type": "tree", "sha": "d3"},
                {"path": "packs/weather/bin/run", "mode": "100755", "type": "blob", "sha": "s2", "size": 3},
            ]}),
            Some("\"tree-v1\""),
        )],
    );
    env.fake
        .route(&url("o/r/git/blobs/s1"), vec![blob(b"skill")]);
    env.fake.route(&url("o/r/git/blobs/s2"), vec![blob(b"run")]);
}

/// A manifest-mode pack `o/r/packs/tools` at `v1`.
fn manifest_pack(env: &Env) {
    env.fake.route(
        &url("o/r/contents/packs/tools/skillpack.json?ref=v1"),
        vec![file(
            json!({
                "files": {"skills/tools/SKILL.md": "SKILL.md", "skills/tools/lib/a.py": "./src/a.py"},
                "directories": ["skills/tools", "skills/tools/lib"],
                "config": {"tools": {"enabled": true}}
            })
            .to_string()
            .as_bytes(),
            Some("\"m1\""),
        )],
    );
    env.fake.route(
        &url("o/r/contents/packs/tools/SKILL.md?ref=v1"),
        vec![file(b"# Tools", Some("\"f1\""))],
    );
    env.fake.route(
        &url("o/r/contents/packs/tools/src/a.py?ref=v1"),
        vec![file(b"print(1)", Some("\"f2\""))],
    );
}

#[tokio::test]
async fn manifest_mode_fetches_the_listed_files_with_the_api_headers() {
    let env = Env::new(Options {
        token: Some("t0ken".into()),
        ..Options::default()
    });
    manifest_pack(&env);
    let r = env.resolve(&["pack:o/r/packs/tools@v1"]).await;
    assert!(r.is_complete(), "{:?}", r.message());
    assert_eq!(r.packs.references, vec!["pack:o/r/packs/tools@v1"]);
    assert_eq!(r.packs.files["skills/tools/SKILL.md"], b"# Tools");
    assert_eq!(r.packs.files["skills/tools/lib/a.py"], b"print(1)");
    assert_eq!(r.packs.skill_entries["tools"], json!({"enabled": true}));
    assert!(r.packs.directories.contains("skills/tools/lib"));
    assert_eq!(env.fake.requests().len(), 3);
    let h = env.fake.headers(0);
    assert_eq!(h["accept"], "application/vnd.github+json");
    assert_eq!(h["x-github-api-version"], "2022-11-28");
    assert_eq!(h["authorization"], "Bearer t0ken");
    assert!(h["authorization"].is_sensitive());
    assert!(
        h["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("openclaw-operator/")
    );
    assert!(!h.contains_key("if-none-match"));
}

#[tokio::test]
async fn without_a_token_no_authorization_is_sent() {
    let env = Env::new(Options::default());
    raw_pack(&env);
    env.resolve(&["pack:o/r/packs/weather"]).await;
    assert!(!env.fake.headers(0).contains_key("authorization"));
}

#[tokio::test]
async fn raw_mode_copies_the_directory_and_caches_blobs_by_sha() {
    let env = Env::new(Options::default());
    raw_pack(&env);
    let r = env.resolve(&["pack:o/r/packs/weather"]).await;
    assert!(r.is_complete(), "{:?}", r.message());
    assert_eq!(r.packs.files["skills/weather/SKILL.md"], b"skill");
    assert_eq!(r.packs.files["skills/weather/bin/run"], b"run");
    assert_eq!(
        r.packs.directories.iter().collect::<Vec<_>>(),
        vec!["skills/weather", "skills/weather/bin"]
    );
    assert_eq!(
        env.fake.requests(),
        vec![
            url("o/r/contents/packs/weather/skillpack.json"),
            url("o/r/git/trees/HEAD?recursive=1"),
            url("o/r/git/blobs/s1"),
            url("o/r/git/blobs/s2"),
        ]
    );

    // Within the TTL: no request at all.
    env.fake.clear();
    env.advance(4 * MIN);
    let again = env.resolve(&["pack:o/r/packs/weather"]).await;
    assert_eq!(again.packs, r.packs);
    assert!(env.fake.requests().is_empty());

    // After the TTL: the tree is asked conditionally (304), the blobs come from the cache.
    // The manifest is not probed again (its 404 would count against the rate limit): the
    // tree shows that there is still none.
    env.fake
        .route(&url("o/r/git/trees/HEAD?recursive=1"), vec![not_modified()]);
    env.advance(2 * MIN);
    let refreshed = env.resolve(&["pack:o/r/packs/weather"]).await;
    assert!(refreshed.is_complete(), "{:?}", refreshed.message());
    assert_eq!(refreshed.packs, r.packs);
    assert_eq!(
        env.fake.requests(),
        vec![url("o/r/git/trees/HEAD?recursive=1")]
    );
    assert_eq!(env.fake.headers(0)["if-none-match"], "\"tree-v1\"");
}

#[tokio::test]
async fn manifest_refresh_uses_conditional_requests() {
    let env = Env::new(Options::default());
    manifest_pack(&env);
    let first = env.resolve(&["pack:o/r/packs/tools@v1"]).await;
    env.fake.clear();
    for path in [
        "o/r/contents/packs/tools/skillpack.json?ref=v1",
        "o/r/contents/packs/tools/SKILL.md?ref=v1",
        "o/r/contents/packs/tools/src/a.py?ref=v1",
    ] {
        env.fake.route(&url(path), vec![not_modified()]);
    }
    env.advance(6 * MIN);
    let second = env.resolve(&["pack:o/r/packs/tools@v1"]).await;
    assert!(second.is_complete(), "{:?}", second.message());
    assert_eq!(second.packs, first.packs);
    let sent: Vec<String> = (0..3)
        .map(|i| {
            env.fake.headers(i)["if-none-match"]
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(sent.len(), 3);
    assert!(sent.contains(&"\"m1\"".to_string()));
}

#[tokio::test]
async fn stale_results_are_served_up_to_the_bound_and_reported() {
    let env = Env::new(Options {
        stale_for: 60 * MIN,
        ..Options::default()
    });
    raw_pack(&env);
    let fetched = env.now();
    let good = env.resolve(&["pack:o/r/packs/weather"]).await;
    env.fake
        .route(&url("o/r/git/trees/HEAD?recursive=1"), vec![status(502)]);
    env.advance(30 * MIN);
    let r = env.resolve(&["pack:o/r/packs/weather"]).await;
    assert_eq!(r.packs, good.packs);
    assert!(r.errors.is_empty());
    assert_eq!(r.stale.len(), 1);
    assert_eq!(r.stale[0].fetched, fetched);
    assert_eq!(
        r.stale[0].error.to_string(),
        format!(
            "GitHub answered 502 for {}: x",
            url("o/r/git/trees/HEAD?recursive=1")
        )
    );
    assert!(
        r.message()
            .unwrap()
            .starts_with("pack:o/r/packs/weather: using the result fetched at 2026-12-07T")
    );
    // Past the bound: the error.
    env.advance(31 * MIN);
    let r = env.resolve(&["pack:o/r/packs/weather"]).await;
    assert!(r.packs.is_empty());
    assert!(r.stale.is_empty());
    assert!(matches!(
        r.errors[0].1,
        ResolveError::Status { status: 502, .. }
    ));
}

#[tokio::test]
async fn rate_limit_stops_requests_until_the_reset() {
    let env = Env::new(Options::default());
    raw_pack(&env);
    let reset = env.now() + 20 * MIN;
    let reset_epoch = reset
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    env.fake.route(
        &url("o/r/contents/packs/weather/skillpack.json"),
        vec![with_headers(
            status(403),
            &[
                ("x-ratelimit-limit", "60"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", &reset_epoch),
            ],
        )],
    );
    let r = env
        .resolve(&["pack:o/r/packs/weather", "pack:o/r/packs/other"])
        .await;
    assert_eq!(r.retry_at, Some(reset));
    assert_eq!(env.resolver.next_retry(), Some(reset));
    assert_eq!(r.errors.len(), 2);
    assert!(
        r.errors[0].1.to_string().starts_with(
            "GitHub API rate limit exhausted (60 requests/hour unauthenticated); retrying after "
        ),
        "{}",
        r.errors[0].1
    );
    // Only the first request went out; the second reference was refused locally.
    assert_eq!(env.fake.requests().len(), 1);

    env.fake.clear();
    env.advance(10 * MIN);
    let r = env.resolve(&["pack:o/r/packs/weather"]).await;
    assert!(matches!(r.errors[0].1, ResolveError::RateLimited { .. }));
    assert!(env.fake.requests().is_empty());

    // After the reset, requests go out again.
    env.fake.route(
        &url("o/r/contents/packs/weather/skillpack.json"),
        vec![status(404)],
    );
    env.advance(10 * MIN);
    assert_eq!(env.resolver.next_retry(), None);
    let r = env.resolve(&["pack:o/r/packs/weather"]).await;
    assert!(r.is_complete(), "{:?}", r.message());
    assert_eq!(r.retry_at, None);
}

#[tokio::test]
async fn a_rate_limited_refresh_serves_the_stale_result_and_says_when() {
    let env = Env::new(Options::default());
    raw_pack(&env);
    env.resolve(&["pack:o/r/packs/weather"]).await;
    env.fake.route(
        &url("o/r/git/trees/HEAD?recursive=1"),
        vec![with_headers(status(429), &[("retry-after", "120")])],
    );
    env.advance(6 * MIN);
    let r = env.resolve(&["pack:o/r/packs/weather"]).await;
    assert!(r.errors.is_empty());
    assert_eq!(r.stale.len(), 1);
    assert_eq!(r.retry_at, Some(env.now() + 2 * MIN));
    assert!(!r.packs.is_empty());
}

#[tokio::test]
async fn one_failing_pack_does_not_drop_the_others() {
    let env = Env::new(Options::default());
    raw_pack(&env);
    manifest_pack(&env);
    let r = env
        .resolve(&[
            "pack:o/r/packs/weather",
            "pack:o/missing/x",
            "pack:bad",
            "pack:o/r/packs/tools@v1",
        ])
        .await;
    assert_eq!(
        r.packs.references,
        vec!["pack:o/r/packs/weather", "pack:o/r/packs/tools@v1"]
    );
    assert_eq!(r.errors.len(), 2);
    assert_eq!(r.errors[0].0, "pack:o/missing/x");
    assert_eq!(
        r.errors[0].1.to_string(),
        "o/missing: repository, path or ref not found (default branch); a private repository needs a token with access"
    );
    assert_eq!(r.errors[1].0, "pack:bad");
    assert!(matches!(
        r.errors[1].1,
        ResolveError::InvalidReference { .. }
    ));
    assert_eq!(r.retry_at, None);
}

#[tokio::test]
async fn manifest_problems_name_the_entry() {
    let env = Env::new(Options::default());
    let manifest = |value: &str| file(value.as_bytes(), None);
    env.fake.route(
        &url("o/r/contents/p/skillpack.json"),
        vec![manifest(r#"{"files": {"../x": "SKILL.md"}}"#)],
    );
    let r = env.resolve(&["pack:o/r/p"]).await;
    assert_eq!(
        r.errors[0].1.to_string(),
        "skillpack.json in o/r/p: files[\"../x\"]: path must be relative and stay inside the workspace"
    );

    env.fake.route(
        &url("o/r/contents/q/skillpack.json"),
        vec![manifest(r#"{"files": {"skills/q/SKILL.md": "SKILL.md"}}"#)],
    );
    let r = env.resolve(&["pack:o/r/q"]).await;
    assert_eq!(
        r.errors[0].1.to_string(),
        "skillpack.json in o/r/q: files[\"skills/q/SKILL.md\"]: q/SKILL.md not found"
    );

    env.fake.route(
        &url("o/r/contents/s/skillpack.json"),
        vec![manifest("{nope")],
    );
    let r = env.resolve(&["pack:o/r/s"]).await;
    assert!(
        r.errors[0]
            .1
            .to_string()
            .starts_with("skillpack.json in o/r/s: not valid JSON: ")
    );

    env.fake.route(
        &url("o/r/contents/t/skillpack.json"),
        vec![manifest(r#"{"files": {"skills/t/big.bin": "big.bin"}}"#)],
    );
    env.fake.route(
        &url("o/r/contents/t/big.bin"),
        vec![json_ok(
            json!({"type": "file", "encoding": "none", "size": 2_000_000, "content": ""}),
            None,
        )],
    );
    let r = env.resolve(&["pack:o/r/t"]).await;
    assert_eq!(
        r.errors[0].1.to_string(),
        "o/r/t: t/big.bin is 2000000 bytes; the GitHub Contents API returns the content of files up to 1 MB only"
    );
}

#[tokio::test]
async fn the_workspace_budget_applies_across_packs() {
    let env = Env::new(Options {
        budget_bytes: 10,
        ..Options::default()
    });
    raw_pack(&env); // 8 bytes
    manifest_pack(&env); // 15 bytes: over on its own
    let r = env
        .resolve(&["pack:o/r/packs/weather", "pack:o/r/packs/tools@v1"])
        .await;
    assert_eq!(r.packs.references, vec!["pack:o/r/packs/weather"]);
    assert_eq!(
        r.errors[0].1.to_string(),
        "o/r/packs/tools@v1 is 15 bytes; at most 10 fit in the workspace ConfigMap"
    );
}

#[tokio::test]
async fn a_slow_answer_times_out() {
    let env = Env::new(Options {
        timeout: Duration::from_millis(20),
        ..Options::default()
    });
    env.fake
        .route(&url("o/r/contents/p/skillpack.json"), vec![status(0)]);
    let r = env.resolve(&["pack:o/r/p"]).await;
    assert!(matches!(r.errors[0].1, ResolveError::Timeout { .. }));
}

#[tokio::test]
async fn bad_credentials_are_explained() {
    let env = Env::new(Options {
        token: Some("old".into()),
        ..Options::default()
    });
    env.fake
        .route(&url("o/r/contents/p/skillpack.json"), vec![status(401)]);
    let r = env.resolve(&["pack:o/r/p"]).await;
    assert_eq!(
        r.errors[0].1.to_string(),
        "GitHub rejected the token (401 Bad credentials) for o/r: check GITHUB_TOKEN, see docs/features/skill-packs.md"
    );
}

#[test]
fn options_from_the_environment() {
    let env: HashMap<&str, &str> = HashMap::from([
        ("GITHUB_TOKEN", "ghp_x"),
        ("GITHUB_API_URL", "https://ghe.example/api/v3"),
        ("GITHUB_CA_FILE", " "),
    ]);
    let o = Options::from_lookup(|k| env.get(k).map(|v| v.to_string()));
    assert_eq!(o.token.as_deref(), Some("ghp_x"));
    assert_eq!(o.base_url, "https://ghe.example/api/v3");
    assert_eq!(o.ca_file, None);
    assert_eq!(o.ttl, DEFAULT_TTL);
    assert!(!format!("{o:?}").contains("ghp_x"));
    let o = Options::from_lookup(|_| None);
    assert_eq!(o.base_url, DEFAULT_BASE_URL);
    assert_eq!(o.token, None);
}

#[test]
fn bad_settings_are_refused() {
    for bad in ["api.github.com", "ftp://x", "https://x/?a=1"] {
        let e = Resolver::new(Options {
            base_url: bad.into(),
            ..Options::default()
        })
        .unwrap_err();
        assert!(e.to_string().starts_with("invalid GitHub API URL"), "{e}");
    }
    let e = Resolver::new(Options {
        token: Some("a\nb".into()),
        ..Options::default()
    })
    .unwrap_err();
    assert!(matches!(e, SetupError::Token));
}

#[test]
fn pack_references_keeps_only_packs_in_order() {
    let skills: Vec<String> = ["weather", "pack:o/r/b", "npm:x", "pack:o/r/a"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(pack_references(&skills), vec!["pack:o/r/b", "pack:o/r/a"]);
}

/// The real transport against a local HTTPS stand-in: the base URL and a CA file are enough.
#[tokio::test]
async fn real_https_with_a_ca_file() {
    use axum::routing::get;
    let pair = crate::tls::self_signed_pem(&["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pair.cert_pem).unwrap();
    let certs = Arc::new(crate::tls::SwappableCert::new(Arc::new(
        crate::tls::certified_key_from_pem(pair.cert_pem.as_bytes(), pair.key_pem.as_bytes())
            .unwrap(),
    )));
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen_tree = seen.clone();
    let tree = json!({"sha": "t", "truncated": false, "tree": [
        {"path": "p/x", "mode": "040000", "type": "tree", "sha": "d"},
        {"path": "p/x/SKILL.md", "mode": "100644", "type": "blob", "sha": "s1", "size": 2},
    ]});
    let router = axum::Router::new()
        .route(
            "/api/v3/repos/o/r/git/trees/{*reference}",
            get(move |headers: http::HeaderMap| {
                let seen = seen_tree.clone();
                let tree = tree.clone();
                async move {
                    let ua = headers
                        .get("user-agent")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    seen.lock().unwrap().push(ua);
                    ([("etag", "\"t1\"")], axum::Json(tree))
                }
            }),
        )
        .route(
            "/api/v3/repos/o/r/git/blobs/s1",
            get(|| async { axum::Json(json!({"encoding": "base64", "content": "aGk="})) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::tls::serve_tls(listener, router, certs, async {
        let _ = stopped.await;
    }));
    let base_url = format!("https://localhost:{port}/api/v3");

    let resolver = Resolver::new(Options {
        base_url: base_url.clone(),
        ca_file: Some(ca),
        ..Options::default()
    })
    .unwrap();
    let r = resolver
        .resolve("default", &["pack:o/r/p/x@main".to_string()])
        .await;
    assert!(r.is_complete(), "{:?}", r.message());
    assert_eq!(r.packs.files["skills/x/SKILL.md"], b"hi");
    assert!(seen.lock().unwrap()[0].starts_with("openclaw-operator/"));

    // Without the CA the certificate is refused, and the message says why.
    let untrusting = Resolver::new(Options {
        base_url,
        ..Options::default()
    })
    .unwrap();
    let r = untrusting
        .resolve("default", &["pack:o/r/p/x".to_string()])
        .await;
    let message = r.errors[0].1.to_string();
    assert!(message.contains("certificate"), "{message}");

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
