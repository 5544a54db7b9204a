//! The GitHub stand-in itself: answers in GitHub's shapes with the SHAs git computes, refs,
//! 404s, conditional requests, rate limits, authentication, truncation and injected failures,
//! over HTTPS trusted through its CA.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // tests may fail loudly

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hyper::body::Body as _;
use hyper::{HeaderMap, Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use testkit::github::{GitHub, Repo};

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

struct Api {
    client: Client<Https, String>,
    base: String,
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
            .to_str()
            .unwrap()
    }

    fn num(&self, name: &str) -> u64 {
        self.header(name).parse().unwrap()
    }
}

impl Api {
    fn new(github: &GitHub) -> Api {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(github.client_config().unwrap())
            .https_only()
            .enable_http1()
            .build();
        Api {
            client: Client::builder(TokioExecutor::new()).build(connector),
            base: github.base_url(),
        }
    }

    async fn send(&self, method: Method, path: &str, headers: &[(&str, &str)]) -> Resp {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("user-agent", "testkit-github-test");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = self
            .client
            .request(req.body(String::new()).unwrap())
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let mut body = resp.into_body();
        let mut bytes = Vec::new();
        while let Some(frame) =
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
        {
            if let Ok(data) = frame.unwrap().into_data() {
                bytes.extend_from_slice(&data);
            }
        }
        Resp {
            status,
            headers,
            body: bytes,
        }
    }

    async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, &[]).await
    }

    async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        self.send(Method::GET, path, headers).await
    }
}

fn decode(content: &Value) -> Vec<u8> {
    let text: String = content
        .as_str()
        .unwrap()
        .chars()
        .filter(|c| *c != '\n')
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A repository with a few files on `main`, tagged `v1`.
fn skills_repo() -> Repo {
    let repo = Repo::new("acme", "skills").unwrap();
    repo.file("README.md", "# Skills\n").unwrap();
    repo.file(
        "packs/hello/SKILL.md",
        "---\nname: hello\n---\nSay hello.\n",
    )
    .unwrap();
    repo.file("packs/hello/data.bin", (0..=255u8).collect::<Vec<_>>())
        .unwrap();
    repo.executable("packs/hello/run.sh", "#!/bin/sh\necho hi\n")
        .unwrap();
    repo.file("packs/other/SKILL.md", "other\n").unwrap();
    repo.commit("initial").unwrap();
    repo.tag("v1").unwrap();
    repo
}

#[tokio::test]
async fn a_file_comes_back_in_base64_with_githubs_line_breaks_and_headers() {
    let repo = skills_repo();
    let github = GitHub::start([repo.clone()]).await.unwrap();
    let api = Api::new(&github);

    let r = api
        .get("/repos/acme/skills/contents/packs/hello/data.bin")
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), "application/json; charset=utf-8");
    assert!(r.header("etag").starts_with("W/\""), "{}", r.header("etag"));
    assert_eq!(r.num("x-ratelimit-limit"), 60);
    assert_eq!(r.num("x-ratelimit-remaining"), 59);
    assert_eq!(r.num("x-ratelimit-used"), 1);
    assert!(r.num("x-ratelimit-reset") > now());
    assert_eq!(r.header("x-ratelimit-resource"), "core");
    assert!(!r.header("x-github-request-id").is_empty());

    let v = r.json();
    let bytes: Vec<u8> = (0..=255u8).collect();
    assert_eq!(v["type"], "file");
    assert_eq!(v["encoding"], "base64");
    assert_eq!(v["name"], "data.bin");
    assert_eq!(v["path"], "packs/hello/data.bin");
    assert_eq!(v["size"], 256);
    assert_eq!(
        v["sha"],
        repo.rev_parse("HEAD:packs/hello/data.bin").unwrap()
    );
    let content = v["content"].as_str().unwrap();
    assert!(content.ends_with('\n'));
    assert!(content.lines().all(|l| l.len() <= 60));
    assert_eq!(content.lines().next().unwrap().len(), 60);
    assert_eq!(decode(&v["content"]), bytes);
    let base = github.base_url();
    assert_eq!(
        v["url"],
        format!("{base}/repos/acme/skills/contents/packs/hello/data.bin?ref=main")
    );
    assert_eq!(
        v["git_url"],
        format!(
            "{base}/repos/acme/skills/git/blobs/{}",
            v["sha"].as_str().unwrap()
        )
    );
    assert_eq!(v["_links"]["self"], v["url"]);

    // The download_url and the blob endpoint give the same bytes.
    let download = v["download_url"].as_str().unwrap();
    let raw = api.get(download.strip_prefix(&base).unwrap()).await;
    assert_eq!(raw.status, 200);
    assert_eq!(raw.body, bytes);
    let blob = api
        .get(&format!(
            "/repos/acme/skills/git/blobs/{}",
            v["sha"].as_str().unwrap()
        ))
        .await;
    assert_eq!(blob.status, 200);
    let b = blob.json();
    assert_eq!(b["encoding"], "base64");
    assert_eq!(b["size"], 256);
    assert_eq!(decode(&b["content"]), bytes);

    // Raw media type.
    let r = api
        .get_with(
            "/repos/acme/skills/contents/packs/hello/data.bin",
            &[("accept", "application/vnd.github.raw+json")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, bytes);
}

#[tokio::test]
async fn a_directory_is_an_array_of_entries() {
    let repo = skills_repo();
    repo.symlink("packs/hello/link.md", "SKILL.md").unwrap();
    repo.commit("a link").unwrap();
    let github = GitHub::start([repo.clone()]).await.unwrap();
    let api = Api::new(&github);

    let r = api.get("/repos/acme/skills/contents/packs/hello").await;
    assert_eq!(r.status, 200);
    let list = r.json();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["SKILL.md", "data.bin", "link.md", "run.sh"]);
    for e in list.as_array().unwrap() {
        assert_eq!(e["type"], "file");
        assert!(e.get("content").is_none());
        let path = e["path"].as_str().unwrap();
        assert_eq!(e["sha"], repo.rev_parse(&format!("HEAD:{path}")).unwrap());
    }

    // The root, with and without a trailing slash, lists a directory as "dir".
    for path in [
        "/repos/acme/skills/contents",
        "/repos/acme/skills/contents/",
    ] {
        let root = api.get(path).await.json();
        let packs = root
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == "packs")
            .unwrap();
        assert_eq!(packs["type"], "dir");
        assert_eq!(packs["size"], 0);
        assert_eq!(packs["sha"], repo.rev_parse("HEAD:packs").unwrap());
        assert!(packs["download_url"].is_null());
    }

    // A symlink to a file is answered with the file.
    let link = api
        .get("/repos/acme/skills/contents/packs/hello/link.md")
        .await
        .json();
    assert_eq!(link["type"], "file");
    assert_eq!(link["path"], "packs/hello/SKILL.md");
    assert_eq!(
        decode(&link["content"]),
        b"---\nname: hello\n---\nSay hello.\n"
    );
}

#[tokio::test]
async fn trees_have_the_shas_git_computes_and_resolve_branches_tags_and_commits() {
    let repo = skills_repo();
    let first = repo.rev_parse("HEAD").unwrap();
    let first_tree = repo.rev_parse("HEAD^{tree}").unwrap();
    repo.file("packs/hello/SKILL.md", "changed\n").unwrap();
    repo.remove("packs/other").unwrap();
    let second = repo.commit("second").unwrap();
    repo.branch("stable").unwrap();
    repo.annotated_tag("v2", "v2").unwrap();
    let github = GitHub::start([repo.clone()]).await.unwrap();
    let api = Api::new(&github);

    let r = api
        .get("/repos/acme/skills/git/trees/main?recursive=1")
        .await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["sha"], repo.rev_parse("HEAD^{tree}").unwrap());
    assert_eq!(v["truncated"], false);
    let tree = v["tree"].as_array().unwrap();
    let paths: Vec<&str> = tree.iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        [
            "README.md",
            "packs",
            "packs/hello",
            "packs/hello/SKILL.md",
            "packs/hello/data.bin",
            "packs/hello/run.sh"
        ]
    );
    for e in tree {
        let path = e["path"].as_str().unwrap();
        assert_eq!(e["sha"], repo.rev_parse(&format!("HEAD:{path}")).unwrap());
        match e["type"].as_str().unwrap() {
            "tree" => {
                assert_eq!(e["mode"], "040000");
                assert!(e.get("size").is_none());
                assert!(e["url"].as_str().unwrap().contains("/git/trees/"));
            }
            "blob" => {
                assert!(e["size"].is_u64());
                assert!(e["url"].as_str().unwrap().contains("/git/blobs/"));
            }
            other => panic!("type {other}"),
        }
    }
    let run = tree
        .iter()
        .find(|e| e["path"] == "packs/hello/run.sh")
        .unwrap();
    assert_eq!(run["mode"], "100755");
    let data = tree
        .iter()
        .find(|e| e["path"] == "packs/hello/data.bin")
        .unwrap();
    assert_eq!(data["size"], 256);
    assert_eq!(data["mode"], "100644");

    // Without `recursive`, one level.
    let top = api.get("/repos/acme/skills/git/trees/main").await.json();
    assert_eq!(top["tree"].as_array().unwrap().len(), 2);

    // Tags (light and annotated), branches, commit and tree SHAs.
    for (reference, tree_sha) in [
        ("v1", &first_tree),
        (first.as_str(), &first_tree),
        (first_tree.as_str(), &first_tree),
        ("v2", &v["sha"].as_str().unwrap().to_owned()),
        ("stable", &v["sha"].as_str().unwrap().to_owned()),
        (second.as_str(), &v["sha"].as_str().unwrap().to_owned()),
    ] {
        let r = api
            .get(&format!(
                "/repos/acme/skills/git/trees/{reference}?recursive=1"
            ))
            .await;
        assert_eq!(r.status, 200, "{reference}");
        assert_eq!(r.json()["sha"], tree_sha.as_str(), "{reference}");
    }
    // Revision syntax is not a ref on GitHub (`HEAD` is: the default branch).
    for reference in ["main~1", "main%5E%7Btree%7D"] {
        let r = api
            .get(&format!("/repos/acme/skills/git/trees/{reference}"))
            .await;
        assert_eq!(r.status, 404, "{reference}");
    }

    // Contents by ref.
    let at = |reference: &str| {
        format!("/repos/acme/skills/contents/packs/hello/SKILL.md?ref={reference}")
    };
    let old = api.get(&at("v1")).await.json();
    assert_eq!(
        decode(&old["content"]),
        b"---\nname: hello\n---\nSay hello.\n"
    );
    assert!(old["url"].as_str().unwrap().ends_with("?ref=v1"));
    assert_eq!(
        decode(&api.get(&at(&first)).await.json()["content"]),
        decode(&old["content"])
    );
    for reference in ["main", "stable", "v2", second.as_str()] {
        assert_eq!(
            decode(&api.get(&at(reference)).await.json()["content"]),
            b"changed\n"
        );
    }
    assert_eq!(
        api.get("/repos/acme/skills/contents/packs/other?ref=v1")
            .await
            .status,
        200
    );
    assert_eq!(
        api.get("/repos/acme/skills/contents/packs/other")
            .await
            .status,
        404
    );

    // A new commit is served at once.
    repo.file("new.md", "new").unwrap();
    let third = repo.commit("third").unwrap();
    let v = api.get("/repos/acme/skills/git/trees/main").await.json();
    assert_eq!(
        v["sha"],
        repo.rev_parse(&format!("{third}^{{tree}}")).unwrap()
    );

    // The repository, and a changed default branch.
    let meta = api.get("/repos/acme/skills").await.json();
    assert_eq!(meta["default_branch"], "main");
    assert_eq!(meta["full_name"], "acme/skills");
    repo.set_default_branch("stable");
    let v = api.get("/repos/acme/skills/contents/new.md").await;
    assert_eq!(v.status, 404);
}

#[tokio::test]
async fn missing_things_answer_githubs_404() {
    let github = GitHub::start([skills_repo()]).await.unwrap();
    let api = Api::new(&github);
    for path in [
        "/repos/acme/skills/contents/nope.md",
        "/repos/acme/skills/contents/README.md/x",
        "/repos/acme/nope/contents/README.md",
        "/repos/nope/skills/git/trees/main",
        "/repos/acme/skills/git/trees/nope",
        "/repos/acme/skills/git/trees/0000000000000000000000000000000000000000",
        "/repos/acme/skills/git/blobs/0000000000000000000000000000000000000000",
        "/repos/acme/skills/pulls",
        "/users/acme",
        "/",
    ] {
        let r = api.get(path).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.header("content-type"), "application/json; charset=utf-8");
        let v = r.json();
        assert_eq!(v["message"], "Not Found", "{path}");
        assert_eq!(v["status"], "404");
        assert!(
            v["documentation_url"]
                .as_str()
                .unwrap()
                .starts_with("https://docs.github.com/rest")
        );
        assert!(r.headers.get("etag").is_none());
        assert!(r.headers.get("x-ratelimit-remaining").is_some());
    }
    // An unknown ref names itself.
    let r = api
        .get("/repos/acme/skills/contents/README.md?ref=nope")
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["message"], "No commit found for the ref nope");
    // Other methods.
    let r = api
        .send(Method::POST, "/repos/acme/skills/contents/README.md", &[])
        .await;
    assert_eq!(r.status, 404);
    // Owner and name are case-insensitive.
    assert_eq!(
        api.get("/repos/ACME/Skills/contents/README.md")
            .await
            .status,
        200
    );
    // 404s count against the limit.
    assert_eq!(github.counted_against_limit(), github.count_requests());
}

#[tokio::test]
async fn an_etag_match_answers_304_free_only_when_authenticated() {
    let repo = skills_repo();
    let github = GitHub::start([repo.clone()]).await.unwrap();
    let api = Api::new(&github);
    let path = "/repos/acme/skills/contents/README.md";
    let bearer = format!("Bearer {}", github.token());

    let first = api.get_with(path, &[("authorization", &bearer)]).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.num("x-ratelimit-limit"), 5000);
    assert_eq!(first.num("x-ratelimit-remaining"), 4999);
    let etag = first.header("etag").to_owned();

    let again = api
        .get_with(
            path,
            &[("authorization", &bearer), ("if-none-match", &etag)],
        )
        .await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), etag);
    assert_eq!(again.num("x-ratelimit-remaining"), 4999);
    assert_eq!(github.rate_limit_remaining(true), 4999);
    // The strong form, and a list, match too.
    let strong = etag.trim_start_matches("W/").to_owned();
    let list = format!("\"other\", {etag}");
    for inm in [&strong, &list] {
        let r = api
            .get_with(path, &[("authorization", &bearer), ("if-none-match", inm)])
            .await;
        assert_eq!(r.status, 304, "{inm}");
    }
    assert_eq!(github.rate_limit_remaining(true), 4999);

    // Without credentials a 304 still counts (GitHub: free only "while correctly authorized").
    let r = api.get_with(path, &[("if-none-match", &etag)]).await;
    assert_eq!(r.status, 304);
    assert_eq!(r.num("x-ratelimit-remaining"), 59);

    // A change gives a new ETag and a 200.
    repo.file("README.md", "# Skills, changed\n").unwrap();
    repo.commit("change").unwrap();
    let changed = api
        .get_with(
            path,
            &[("authorization", &bearer), ("if-none-match", &etag)],
        )
        .await;
    assert_eq!(changed.status, 200);
    assert_ne!(changed.header("etag"), etag);

    let log = github.requests();
    assert_eq!(log.len(), 6);
    assert_eq!(log[1].if_none_match.as_deref(), Some(etag.as_str()));
    assert_eq!(
        log[1].authorization.as_deref(),
        Some(github.token().as_str())
    );
    assert_eq!(log[1].status, 304);
    assert!(!log[1].counted);
    assert!(log[4].authorization.is_none());
    assert!(log[4].counted);
    assert_eq!(log[0].path, path);
    assert_eq!(github.counted_against_limit(), 3);
}

#[tokio::test]
async fn an_exhausted_rate_limit_answers_403_until_the_reset() {
    let github = GitHub::start([skills_repo()]).await.unwrap();
    let api = Api::new(&github);
    github.set_rate_limit_window(Duration::from_secs(2));
    github.set_rate_limit(2, 1000);
    let path = "/repos/acme/skills/contents/README.md";

    assert_eq!(api.get(path).await.num("x-ratelimit-remaining"), 1);
    assert_eq!(api.get(path).await.num("x-ratelimit-remaining"), 0);
    let limited = api.get(path).await;
    assert_eq!(limited.status, 403);
    let v = limited.json();
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .starts_with("API rate limit exceeded for "),
        "{v}"
    );
    assert!(
        v["documentation_url"]
            .as_str()
            .unwrap()
            .starts_with("https://docs.github.com/")
    );
    assert_eq!(limited.num("x-ratelimit-remaining"), 0);
    assert_eq!(limited.num("x-ratelimit-limit"), 2);
    assert_eq!(limited.num("x-ratelimit-used"), 2);
    let reset = limited.num("x-ratelimit-reset");
    assert!(reset > now() - 1 && reset <= now() + 2, "{reset}");
    // The token has its own limit.
    let bearer = format!("token {}", github.token());
    assert_eq!(
        api.get_with(path, &[("authorization", &bearer)])
            .await
            .status,
        200
    );

    // After the reset a new window starts.
    while now() < reset {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = api.get(path).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.num("x-ratelimit-remaining"), 1);

    // exhaust_rate_limit: both classes, with a chosen reset.
    github.exhaust_rate_limit(Duration::from_secs(1));
    let r = api.get_with(path, &[("authorization", &bearer)]).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json()["message"],
        "API rate limit exceeded for user ID 1."
    );
    let reset = r.num("x-ratelimit-reset");
    assert!(reset <= now() + 1);
    while now() < reset {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        api.get_with(path, &[("authorization", &bearer)])
            .await
            .status,
        200
    );
    // The rate-limited answers were not counted.
    let limited: Vec<_> = github
        .requests()
        .into_iter()
        .filter(|r| r.status == 403)
        .collect();
    assert_eq!(limited.len(), 2);
    assert!(limited.iter().all(|r| !r.counted));
}

#[tokio::test]
async fn private_repositories_need_the_token_and_a_bad_token_is_401() {
    let private = Repo::new("acme", "secret").unwrap().private(true);
    private.file("SKILL.md", "secret\n").unwrap();
    private.commit("initial").unwrap();
    let github = GitHub::start([private, skills_repo()]).await.unwrap();
    let api = Api::new(&github);
    let path = "/repos/acme/secret/contents/SKILL.md";

    let r = api.get(path).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["message"], "Not Found");
    assert_eq!(
        api.get("/repos/acme/secret/git/trees/main").await.status,
        404
    );

    for scheme in ["Bearer", "token", "bearer"] {
        let auth = format!("{scheme} {}", github.token());
        let r = api.get_with(path, &[("authorization", &auth)]).await;
        assert_eq!(r.status, 200, "{scheme}");
        assert_eq!(decode(&r.json()["content"]), b"secret\n");
    }

    for auth in ["Bearer wrong", "token ghp_nope", "Basic Zm9vOmJhcg=="] {
        let r = api.get_with(path, &[("authorization", auth)]).await;
        assert_eq!(r.status, 401, "{auth}");
        assert_eq!(r.json()["message"], "Bad credentials");
        // Also on a public repository.
        let r = api
            .get_with(
                "/repos/acme/skills/contents/README.md",
                &[("authorization", auth)],
            )
            .await;
        assert_eq!(r.status, 401);
    }

    github.set_token("my-token");
    let r = api
        .get_with(path, &[("authorization", "Bearer my-token")])
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn trees_are_truncated_at_the_configured_limit() {
    let github = GitHub::start([skills_repo()]).await.unwrap();
    let api = Api::new(&github);
    let path = "/repos/acme/skills/git/trees/main?recursive=1";
    let full = api.get(path).await.json();
    let all = full["tree"].as_array().unwrap().len();
    assert_eq!(all, 8);

    github.set_tree_limit(Some(3));
    let cut = api.get(path).await.json();
    assert_eq!(cut["truncated"], true);
    assert_eq!(
        cut["tree"].as_array().unwrap()[..],
        full["tree"].as_array().unwrap()[..3]
    );
    assert_eq!(cut["sha"], full["sha"]);

    github.set_tree_limit(Some(all));
    assert_eq!(api.get(path).await.json()["truncated"], false);
    github.set_tree_limit(None);
    assert_eq!(api.get(path).await.json(), full);
}

#[tokio::test]
async fn injected_failures_and_secondary_limits_come_first_and_are_not_counted() {
    let github = GitHub::start([skills_repo()]).await.unwrap();
    let api = Api::new(&github);
    let path = "/repos/acme/skills/contents/README.md";

    github.fail_next(2, 500);
    github.fail_next(1, 502);
    for expected in [500, 500, 502] {
        let r = api.get(path).await;
        assert_eq!(r.status, expected);
        assert!(r.json()["message"].is_string());
    }
    assert_eq!(api.get(path).await.status, 200);

    github.secondary_rate_limit(1, Duration::from_secs(3));
    let r = api.get(path).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.header("retry-after"), "3");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("secondary rate limit")
    );
    assert_eq!(api.get(path).await.status, 200);

    assert_eq!(github.count_requests(), 6);
    assert_eq!(github.counted_against_limit(), 2);
    assert_eq!(github.rate_limit_remaining(false), 58);

    // A request without User-Agent is refused, like GitHub does.
    let mut req = Request::builder()
        .uri(format!("{}{path}", github.base_url()))
        .body(String::new())
        .unwrap();
    req.headers_mut().remove("user-agent");
    let r = api.client.request(req).await.unwrap();
    assert_eq!(r.status(), 403);
    github.set_require_user_agent(false);
    let req = Request::builder()
        .uri(format!("{}{path}", github.base_url()))
        .body(String::new())
        .unwrap();
    assert_eq!(api.client.request(req).await.unwrap().status(), 200);
}

#[tokio::test]
async fn percent_encoded_paths_are_decoded_and_dot_dot_is_refused() {
    let repo = Repo::new("acme", "skills").unwrap();
    repo.file("my packs/a b+c.md", "spaced\n").unwrap();
    repo.file("top.md", "top\n").unwrap();
    repo.commit("initial").unwrap();
    repo.branch("feature/x").unwrap();
    let github = GitHub::start([repo.clone()]).await.unwrap();
    let api = Api::new(&github);

    let r = api
        .get("/repos/acme/skills/contents/my%20packs/a%20b%2Bc.md")
        .await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["path"], "my packs/a b+c.md");
    assert_eq!(v["name"], "a b+c.md");
    assert_eq!(decode(&v["content"]), b"spaced\n");
    assert!(
        v["url"]
            .as_str()
            .unwrap()
            .contains("/contents/my%20packs/a%20b%2Bc.md?ref=main")
    );
    assert_eq!(v["sha"], repo.rev_parse("HEAD:my packs/a b+c.md").unwrap());
    // The url GitHub gives back works.
    let again = api
        .get(
            v["url"]
                .as_str()
                .unwrap()
                .strip_prefix(&github.base_url())
                .unwrap(),
        )
        .await;
    assert_eq!(again.json()["sha"], v["sha"]);

    // A ref with a slash, encoded in the query.
    let r = api
        .get("/repos/acme/skills/contents/top.md?ref=feature%2Fx")
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        api.get("/repos/acme/skills/git/trees/feature/x")
            .await
            .status,
        200
    );

    for path in [
        "/repos/acme/skills/contents/my%20packs/../top.md",
        "/repos/acme/skills/contents/my%20packs/%2e%2e/top.md",
        "/repos/acme/skills/contents/%2E%2E",
        "/repos/acme/skills/contents/top.md%00",
        "/repos/acme/skills/contents/bad%zzescape",
    ] {
        assert_eq!(api.get(path).await.status, 404, "{path}");
    }
}

#[tokio::test]
async fn large_files_have_no_content_in_the_contents_api() {
    let repo = Repo::new("acme", "big").unwrap();
    let big = vec![b'x'; 1024 * 1024 + 1];
    repo.file("big.bin", &big).unwrap();
    let sha = {
        repo.commit("big").unwrap();
        repo.rev_parse("HEAD:big.bin").unwrap()
    };
    let github = GitHub::start([repo]).await.unwrap();
    let api = Api::new(&github);
    let v = api.get("/repos/acme/big/contents/big.bin").await.json();
    assert_eq!(v["encoding"], "none");
    assert_eq!(v["content"], "");
    assert_eq!(v["size"], big.len());
    // The blob API still has it.
    let b = api
        .get(&format!("/repos/acme/big/git/blobs/{sha}"))
        .await
        .json();
    assert_eq!(decode(&b["content"]).len(), big.len());
}

#[tokio::test]
async fn the_ca_file_holds_the_ca_and_drop_stops_the_server() {
    let github = GitHub::start([]).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(github.ca_file()).unwrap(),
        github.ca_pem()
    );
    assert!(github.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    let addr = github.addr();
    assert!(github.base_url().ends_with(&format!(":{}", addr.port())));
    drop(github);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
