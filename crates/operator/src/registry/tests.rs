//! The resolver's policies without a registry: the cache and its keys, errors, query encoding.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn creds(secret: &str, password: &str) -> Credentials {
    Credentials {
        secret: secret.into(),
        kind: CredentialKind::Basic {
            username: "u".into(),
            password: password.into(),
        },
    }
}

fn seed(resolver: &Resolver, repository: &str, credentials: Option<&Credentials>, tags: &[&str]) {
    let key = CacheKey {
        repository: parse_repository(repository).unwrap(),
        credentials: credentials
            .map(Credentials::fingerprint)
            .unwrap_or_default(),
        ca: hash_bytes(None),
    };
    lock(&resolver.inner.cache).insert(
        key,
        (
            Instant::now(),
            Arc::new(tags.iter().map(|t| t.to_string()).collect()),
        ),
    );
}

#[tokio::test]
async fn a_cached_list_is_served_without_requests_and_per_constraint() {
    let resolver = Resolver::new(DEFAULT_TTL).unwrap();
    let repo = format!("127.0.0.1:{}/x", closed_port());
    seed(
        &resolver,
        &repo,
        None,
        &["latest", "1.0.0", "2026.9.1", "2026.10.0"],
    );
    let mut req = Request {
        repository: &repo,
        credentials: None,
        ca_bundle: None,
        constraint: None,
    };
    let latest = resolver.latest(&req).await.unwrap();
    assert_eq!(
        latest,
        Latest {
            tag: "2026.10.0".into(),
            from_cache: true
        }
    );
    req.constraint = Some("2026.9");
    assert_eq!(resolver.latest(&req).await.unwrap().tag, "2026.9.1");
    req.constraint = Some("3");
    let e = resolver.latest(&req).await.unwrap_err();
    assert!(matches!(e, Error::NoStableTags { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        format!("no stable semver tags found in {repo} matching 3")
    );
    req.constraint = Some(">=1");
    assert!(matches!(
        resolver.latest(&req).await.unwrap_err(),
        Error::InvalidConstraint { .. }
    ));
    assert_eq!(resolver.requests(), 0);
}

#[tokio::test]
async fn a_failure_neither_evicts_nor_poisons_another_key() {
    let resolver = Resolver::new(DEFAULT_TTL).unwrap();
    let repo = format!("127.0.0.1:{}/x", closed_port());
    let good = creds("good", "right");
    seed(&resolver, &repo, Some(&good), &["1.2.3"]);
    // Other credentials: not in the cache, the registry is down: an error.
    let bad = Request {
        repository: &repo,
        credentials: Some(creds("bad", "wrong")),
        ca_bundle: None,
        constraint: None,
    };
    let e = resolver.latest(&bad).await.unwrap_err();
    assert!(matches!(e, Error::Unreachable { .. }), "{e}");
    assert!(
        e.to_string().starts_with(&format!(
            "registry {} is unreachable: ",
            repo.trim_end_matches("/x")
        )),
        "{e}"
    );
    // ... and again (failures are not cached).
    assert!(resolver.latest(&bad).await.is_err());
    let ok = Request {
        repository: &repo,
        credentials: Some(good),
        ca_bundle: None,
        constraint: None,
    };
    assert_eq!(
        resolver.latest(&ok).await.unwrap(),
        Latest {
            tag: "1.2.3".into(),
            from_cache: true
        }
    );
}

#[tokio::test]
async fn an_expired_entry_is_fetched_again() {
    let resolver = Resolver::new(Duration::ZERO).unwrap();
    let repo = format!("127.0.0.1:{}/x", closed_port());
    seed(&resolver, &repo, None, &["1.2.3"]);
    let req = Request {
        repository: &repo,
        credentials: None,
        ca_bundle: None,
        constraint: None,
    };
    assert!(matches!(
        resolver.latest(&req).await.unwrap_err(),
        Error::Unreachable { .. }
    ));
    // Fetched again: the registry is down, so nothing was answered (and counted).
    assert_eq!(resolver.requests(), 0);
}

#[tokio::test]
async fn bad_inputs_are_named() {
    let resolver = Resolver::new(DEFAULT_TTL).unwrap();
    let req = Request {
        repository: "https://ghcr.io/x",
        credentials: None,
        ca_bundle: None,
        constraint: None,
    };
    let e = resolver.latest(&req).await.unwrap_err().to_string();
    assert!(
        e.starts_with("invalid image repository \"https://ghcr.io/x\""),
        "{e}"
    );
    let req = Request {
        repository: "127.0.0.1:1/x",
        credentials: None,
        ca_bundle: Some(b"not pem"),
        constraint: None,
    };
    let e = resolver.latest(&req).await.unwrap_err().to_string();
    assert!(e.contains("CA bundle"), "{e}");
    assert_eq!(resolver.requests(), 0);
}

#[test]
fn error_messages() {
    let e = Error::RateLimited {
        registry: "ghcr.io".into(),
        retry_after: Some(Duration::from_secs(30)),
    };
    assert_eq!(
        e.to_string(),
        "registry ghcr.io is rate-limiting requests (HTTP 429); retry after 30s"
    );
    assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
    let e = Error::AuthRequired {
        registry: "ghcr.io".into(),
        repository: "a/b".into(),
    };
    assert!(e.to_string().ends_with("set spec.image.pullSecrets"), "{e}");
    assert_eq!(e.retry_after(), None);
    let e = Error::CredentialsRejected {
        registry: "ghcr.io".into(),
        secret: "pull".into(),
        status: 401,
    };
    assert_eq!(
        e.to_string(),
        "registry ghcr.io rejected the credentials of pull secret pull (HTTP 401)"
    );
}

#[test]
fn query_encoding_and_loopback_realms() {
    assert_eq!(
        encode_query(&[("scope", "repository:a/b:pull"), ("service", "r e")]),
        "scope=repository%3Aa%2Fb%3Apull&service=r%20e"
    );
    assert!(is_loopback_url("http://127.0.0.1:5001/token"));
    assert!(is_loopback_url("http://localhost/token?x=1"));
    assert!(!is_loopback_url("http://auth.example/token"));
    assert!(is_certificate_error(
        "invalid peer certificate: UnknownIssuer"
    ));
    assert!(!is_certificate_error("connection refused"));
}

#[test]
fn realms() {
    let reg = "127.0.0.1:5000";
    assert!(realm_allowed("https://auth.docker.io/token", "registry-1.docker.io").is_ok());
    assert!(realm_allowed("http://auth.docker.io/token", "registry-1.docker.io").is_err());
    assert!(
        realm_allowed("http://127.0.0.1:5000/token", reg).is_ok(),
        "the registry itself"
    );
    assert!(
        realm_allowed("http://localhost:5001/token", reg).is_ok(),
        "host names are not resolved"
    );
    for bad in [
        "http://127.0.0.1:5001/token",
        "https://10.0.0.1/token",
        "https://192.168.1.1/token",
        "https://169.254.169.254/latest",
        "https://[fd00:ec2::254]/token",
        "https://user@10.0.0.1/token",
    ] {
        let e = realm_allowed(bad, reg).unwrap_err();
        assert!(e.contains("private") || e.contains("https"), "{bad}: {e}");
    }
    assert!(realm_allowed("https://10.0.0.1:443/token", "10.0.0.1:443").is_ok());
}

/// A loopback HTTP server answering each request with the next canned answer (then 500s);
/// TLS handshakes (the resolver's HTTPS probe) are closed. Returns the port and the request
/// lines it saw.
fn scripted(answers: Vec<String>) -> (u16, Arc<Mutex<Vec<String>>>) {
    scripted_after(answers, Duration::ZERO)
}

/// [`scripted`], answering each request `delay` after reading it.
fn scripted_after(answers: Vec<String>, delay: Duration) -> (u16, Arc<Mutex<Vec<String>>>) {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        let mut answers = answers.into_iter();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match stream.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
                if head.first() == Some(&0x16) {
                    break; // a TLS ClientHello
                }
            }
            if head.first() == Some(&0x16) || head.is_empty() {
                continue;
            }
            let text = String::from_utf8_lossy(&head);
            log.lock()
                .unwrap()
                .push(text.lines().next().unwrap_or_default().to_string());
            let answer = answers.next().unwrap_or_else(|| {
                "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n".into()
            });
            std::thread::sleep(delay);
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    (port, seen)
}

fn answer(status: &str, headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n{headers}\r\n{body}",
        body.len()
    )
}

/// Checks of one repository that miss the cache together send one fetch and share its answer:
/// a success (then cached), and a failure (not cached: the next check asks again).
#[tokio::test]
async fn concurrent_checks_of_one_repository_share_one_fetch() {
    let (port, seen) = scripted_after(
        vec![
            answer(
                "200 OK",
                "Content-Type: application/json\r\n",
                r#"{"name":"x","tags":["1.0.0","1.1.0"]}"#,
            ),
            answer("429 Too Many Requests", "Retry-After: 7\r\n", ""),
            answer(
                "200 OK",
                "Content-Type: application/json\r\n",
                r#"{"name":"y","tags":["2.0.0"]}"#,
            ),
        ],
        Duration::from_millis(300),
    );
    let x = format!("127.0.0.1:{port}/x");
    let y = format!("127.0.0.1:{port}/y");
    let resolver = Resolver::new(DEFAULT_TTL).unwrap();
    let request = |repository| Request {
        repository,
        credentials: None,
        ca_bundle: None,
        constraint: None,
    };
    let (req_x, req_y) = (request(&x), request(&y));

    let answers = futures::future::join_all((0..8).map(|_| resolver.latest(&req_x))).await;
    let tags: Vec<_> = answers
        .iter()
        .map(|a| a.as_ref().unwrap().tag.as_str())
        .collect();
    assert_eq!(tags, ["1.1.0"; 8]);
    let fetched = answers
        .iter()
        .filter(|a| !a.as_ref().unwrap().from_cache)
        .count();
    assert_eq!(fetched, 1, "one caller fetched, seven waited");
    assert_eq!(seen.lock().unwrap().len(), 1);
    // Cached now.
    assert!(resolver.latest(&req_x).await.unwrap().from_cache);
    assert_eq!(seen.lock().unwrap().len(), 1);

    let answers = futures::future::join_all((0..4).map(|_| resolver.latest(&req_y))).await;
    for a in &answers {
        assert_eq!(
            a.as_ref().unwrap_err().retry_after(),
            Some(Duration::from_secs(7))
        );
    }
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "the 429 is shared, not repeated"
    );
    assert!(lock(&resolver.inner.inflight).is_empty());
    // The failure is not cached.
    let latest = resolver.latest(&req_y).await.unwrap();
    assert_eq!((latest.tag.as_str(), latest.from_cache), ("2.0.0", false));
    assert_eq!(seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn rate_limits_carry_retry_after() {
    let (port, _) = scripted(vec![answer(
        "429 Too Many Requests",
        "Retry-After: 42\r\n",
        "",
    )]);
    let repo = format!("127.0.0.1:{port}/x");
    let resolver = Resolver::new(DEFAULT_TTL).unwrap();
    let req = Request {
        repository: &repo,
        credentials: None,
        ca_bundle: None,
        constraint: None,
    };
    let e = resolver.latest(&req).await.unwrap_err();
    assert_eq!(e.retry_after(), Some(Duration::from_secs(42)));
    assert_eq!(
        e.to_string(),
        format!("registry 127.0.0.1:{port} is rate-limiting requests (HTTP 429); retry after 42s")
    );
}

#[tokio::test]
async fn a_malformed_link_header_is_an_error_not_a_truncation() {
    let (port, seen) = scripted(vec![answer(
        "200 OK",
        "Content-Type: application/json\r\nLink: /v2/x/tags/list?last=b; rel=next\r\n",
        r#"{"name":"x","tags":["1.0.0"]}"#,
    )]);
    let repo = format!("127.0.0.1:{port}/x");
    let resolver = Resolver::new(DEFAULT_TTL).unwrap();
    let req = Request {
        repository: &repo,
        credentials: None,
        ca_bundle: None,
        constraint: None,
    };
    let e = resolver.latest(&req).await.unwrap_err();
    assert!(matches!(e, Error::MalformedLink { .. }), "{e}");
    assert!(e.to_string().contains("malformed Link header"), "{e}");
    assert_eq!(
        seen.lock().unwrap().as_slice(),
        ["GET /v2/x/tags/list?n=100 HTTP/1.1"]
    );
}

#[tokio::test]
async fn bad_token_answers_and_access_token_answers() {
    // A realm that answers 500: a bad token response.
    let (realm, _) = scripted(vec![]);
    let challenge = |realm: u16| {
        answer(
            "401 Unauthorized",
            &format!(
                "WWW-Authenticate: Bearer realm=\"http://localhost:{realm}/token\",service=\"s\"\r\n"
            ),
            "",
        )
    };
    let (port, _) = scripted(vec![challenge(realm)]);
    let repo = format!("127.0.0.1:{port}/x");
    let resolver = Resolver::new(DEFAULT_TTL).unwrap();
    let req = Request {
        repository: &repo,
        credentials: None,
        ca_bundle: None,
        constraint: None,
    };
    let e = resolver.latest(&req).await.unwrap_err();
    assert!(matches!(e, Error::BadToken { .. }), "{e}");
    assert!(e.to_string().contains("HTTP 500"), "{e}");

    // A realm answering JSON without a token.
    let (realm, _) = scripted(vec![answer("200 OK", "", r#"{"expires_in":60}"#)]);
    let (port, _) = scripted(vec![challenge(realm)]);
    let repo = format!("127.0.0.1:{port}/x");
    let req = Request {
        repository: &repo,
        credentials: None,
        ca_bundle: None,
        constraint: None,
    };
    let e = resolver.latest(&req).await.unwrap_err();
    assert!(
        e.to_string().contains("neither token nor access_token"),
        "{e}"
    );

    // A realm answering access_token only; the token is sent on every page.
    let (realm, realm_seen) = scripted(vec![answer("200 OK", "", r#"{"access_token":"abc"}"#)]);
    let (port, seen) = scripted(vec![
        challenge(realm),
        answer(
            "200 OK",
            "Link: </v2/x/tags/list?last=1.0.0&n=100>; rel=\"next\"\r\n",
            r#"{"tags":["1.0.0"]}"#,
        ),
        answer("200 OK", "", r#"{"tags":["1.2.0","latest"]}"#),
    ]);
    let repo = format!("127.0.0.1:{port}/x");
    let req = Request {
        repository: &repo,
        credentials: None,
        ca_bundle: None,
        constraint: None,
    };
    assert_eq!(resolver.latest(&req).await.unwrap().tag, "1.2.0");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen[2].contains("last=1.0.0"), "{seen:?}");
    let realm_seen = realm_seen.lock().unwrap().clone();
    assert_eq!(
        realm_seen,
        ["GET /token?scope=repository%3Ax%3Apull&service=s HTTP/1.1"]
    );
}

#[tokio::test]
async fn a_reused_token_that_is_refused_is_renewed() {
    let (realm, realm_seen) = scripted(vec![answer(
        "200 OK",
        "",
        r#"{"token":"new","expires_in":300}"#,
    )]);
    let challenge = answer(
        "401 Unauthorized",
        &format!("WWW-Authenticate: Bearer realm=\"http://localhost:{realm}/token\"\r\n"),
        "",
    );
    let (port, seen) = scripted(vec![
        challenge,
        answer("200 OK", "", r#"{"tags":["1.0.0"]}"#),
    ]);
    let repo = format!("127.0.0.1:{port}/x");
    let resolver = Resolver::new(DEFAULT_TTL).unwrap();
    let key = (format!("127.0.0.1:{port}"), "x".to_string(), String::new());
    lock(&resolver.inner.tokens).insert(
        key.clone(),
        (
            Instant::now() + Duration::from_secs(60),
            "Bearer old".into(),
        ),
    );
    let req = Request {
        repository: &repo,
        credentials: None,
        ca_bundle: None,
        constraint: None,
    };
    assert_eq!(resolver.latest(&req).await.unwrap().tag, "1.0.0");
    assert_eq!(seen.lock().unwrap().len(), 2);
    assert_eq!(realm_seen.lock().unwrap().len(), 1);
    let renewed = lock(&resolver.inner.tokens).get(&key).cloned().unwrap();
    assert_eq!(renewed.1, "Bearer new");
    assert!(renewed.0 > Instant::now() + Duration::from_secs(200));
}

#[tokio::test]
async fn invalid_tags_are_refused_before_any_request() {
    let resolver = Resolver::new(DEFAULT_TTL).unwrap();
    let req = Request {
        repository: "127.0.0.1:1/x",
        credentials: None,
        ca_bundle: None,
        constraint: None,
    };
    for tag in ["", "../x", "a/b", "a?b", ".hidden", "-x", &"a".repeat(129)] {
        let e = resolver.tag_exists(&req, tag).await.unwrap_err();
        assert!(matches!(e, Error::InvalidTag { .. }), "{tag}: {e}");
    }
    assert_eq!(resolver.requests(), 0);
}
