//! The registry resolver of auto-update against a real OCI registry on loopback (CNCF
//! Distribution, built by hack/registry/build.sh; `testkit::registry`), with images pushed by
//! the real `crane`: tag-list pagination, the token flow (through the testkit's token service
//! stand-in), htpasswd Basic auth, failures and their messages, TLS with a private CA, a
//! removed tag, the cache, and the request figures. No cluster needed.
//!
//! Skipped unless the tools are built; `OPENCLAW_REQUIRE_REGISTRY=1` makes that a failure.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::{Duration, Instant};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use openclaw_operator::registry::{
    CredentialKind, Credentials, DEFAULT_TTL, Error, Request, Resolver, credentials_for,
};
use testkit::registry::{Auth, Options, Registry, TokenService, Tools};

fn resolver() -> Resolver {
    Resolver::new(DEFAULT_TTL).unwrap()
}

fn anonymous(repository: &str) -> Request<'_> {
    Request {
        repository,
        credentials: None,
        ca_bundle: None,
        constraint: None,
    }
}

fn with(repository: &str, credentials: Credentials) -> Request<'_> {
    Request {
        credentials: Some(credentials),
        ..anonymous(repository)
    }
}

/// A `kubernetes.io/dockerconfigjson` Secret `name` with user and password for `host`.
fn pull_secret(name: &str, host: &str, user: &str, password: &str) -> Secret {
    let json = serde_json::json!({"auths": {host: {"username": user, "password": password}}});
    Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        type_: Some("kubernetes.io/dockerconfigjson".into()),
        data: Some(
            [(
                ".dockerconfigjson".to_string(),
                ByteString(json.to_string().into_bytes()),
            )]
            .into(),
        ),
        ..Default::default()
    }
}

fn creds_from_secret(registry: &Registry, name: &str, user: &str, password: &str) -> Credentials {
    let secret = pull_secret(name, &registry.host(), user, password);
    credentials_for(&[secret], &registry.repository("x"))
        .unwrap()
        .expect("the secret matches the registry")
}

fn start(tools: &Tools, auth: Auth, tls: bool, users: &[(&str, &str)]) -> Registry {
    Registry::start_with_users(tools, Options { auth, tls }, users).unwrap()
}

/// Requests the registry served (and the token service answered) during `f`, checked against
/// the resolver's own count.
async fn counted<T>(
    registry: &Registry,
    resolver: &Resolver,
    f: impl std::future::Future<Output = T>,
) -> (T, u64) {
    let served = registry.served();
    let tokens = registry.token_service().map_or(0, TokenService::requests);
    let sent = resolver.requests();
    let out = f.await;
    let sent = resolver.requests() - sent;
    let served = (registry.served() - served) as u64
        + registry.token_service().map_or(0, TokenService::requests)
        - tokens;
    assert_eq!(
        sent, served,
        "the resolver's count matches what the servers saw"
    );
    (out, sent)
}

#[tokio::test]
async fn tags_are_listed_over_several_pages() {
    let Some(tools) = testkit::registry::tools() else {
        return;
    };
    let registry = start(&tools, Auth::Anonymous, false, &[]);
    let mut tags: Vec<String> = (0..150).map(|i| format!("1.0.{i}")).collect();
    tags.extend(["latest", "main", "sha-abc", "1.1.0-rc1", "v0.9"].map(String::from));
    let refs: Vec<&str> = tags.iter().map(String::as_str).collect();
    let pushing = Instant::now();
    registry.push_tags("app", &refs).unwrap();
    println!(
        "pushed {} tags with crane in {:?}",
        refs.len(),
        pushing.elapsed()
    );
    let repo = registry.repository("app");
    let resolver = resolver();
    let before = registry.access_log().len();
    let (latest, requests) =
        counted(&registry, &resolver, resolver.latest(&anonymous(&repo))).await;
    let latest = latest.unwrap();
    assert_eq!(latest.tag, "1.0.149");
    assert!(!latest.from_cache);
    let pages: Vec<_> = registry.access_log()[before..]
        .iter()
        .filter(|e| e.method == "GET" && e.path.contains("/tags/list"))
        .cloned()
        .collect();
    assert_eq!(pages.len(), 2, "155 tags at 100 a page: {pages:?}");
    assert!(pages[0].path.ends_with("?n=100"), "{pages:?}");
    assert!(pages[1].path.contains("last="), "{pages:?}");
    assert!(
        pages
            .iter()
            .all(|e| e.status == 200 && e.user_agent.starts_with("openclaw-operator/"))
    );
    // Anonymous, plain HTTP: two pages (the HTTPS probe before reaches no HTTP server).
    assert_eq!(requests, 2);

    // A constraint picks within the same cached list.
    let mut req = anonymous(&repo);
    req.constraint = Some("0.9");
    let (latest, requests) = counted(&registry, &resolver, resolver.latest(&req)).await;
    assert_eq!(latest.unwrap().tag, "v0.9");
    assert_eq!(requests, 0);
}

#[tokio::test]
async fn token_auth_anonymous_public_and_pull_secret_private() {
    let Some(tools) = testkit::registry::tools() else {
        return;
    };
    let registry = start(&tools, Auth::Token, false, &[("reader", "reader-pw")]);
    registry
        .push_tags("public/app", &["1.0.0", "1.2.0", "latest"])
        .unwrap();
    registry
        .push_tags("private/app", &["2.0.0", "2.1.0", "main"])
        .unwrap();
    let public = registry.repository("public/app");
    let private = registry.repository("private/app");
    let resolver = resolver();

    // Anonymous on the public repository: tags (401) -> token -> tags.
    let (latest, requests) =
        counted(&registry, &resolver, resolver.latest(&anonymous(&public))).await;
    assert_eq!(latest.unwrap().tag, "1.2.0");
    assert_eq!(requests, 3, "401, token, tags");

    // Anonymous on the private repository: the token has no access; the registry says 401.
    let e = resolver.latest(&anonymous(&private)).await.unwrap_err();
    assert!(matches!(e, Error::AuthRequired { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "registry {} requires authentication for private/app (HTTP 401); set spec.image.pullSecrets",
            registry.host()
        )
    );

    // With the pull secret.
    let good = creds_from_secret(&registry, "reader-pull", "reader", "reader-pw");
    let (latest, requests) = counted(
        &registry,
        &resolver,
        resolver.latest(&with(&private, good.clone())),
    )
    .await;
    assert_eq!(latest.unwrap().tag, "2.1.0");
    assert_eq!(requests, 3, "401, token, tags (the scheme is remembered)");

    // A wrong password: the token service refuses it.
    let bad = creds_from_secret(&registry, "stale-pull", "reader", "wrong");
    let e = resolver.latest(&with(&private, bad)).await.unwrap_err();
    assert!(matches!(e, Error::CredentialsRejected { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "registry {} rejected the credentials of pull secret stale-pull (HTTP 401)",
            registry.host()
        )
    );

    // ... which neither evicted nor poisoned the good entry.
    let (latest, requests) =
        counted(&registry, &resolver, resolver.latest(&with(&private, good))).await;
    assert_eq!(latest.unwrap().tag, "2.1.0");
    assert_eq!(requests, 0);

    // An identitytoken (OAuth2 refresh token) is exchanged with a POST.
    let refresh = Credentials {
        secret: "oauth-pull".into(),
        kind: CredentialKind::IdentityToken(TokenService::refresh_token_of("reader")),
    };
    let latest = resolver.latest(&with(&private, refresh)).await.unwrap();
    assert_eq!(latest.tag, "2.1.0");
    let bad_refresh = Credentials {
        secret: "oauth-pull".into(),
        kind: CredentialKind::IdentityToken("expired".into()),
    };
    let e = resolver
        .latest(&with(&private, bad_refresh))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::CredentialsRejected { .. }), "{e}");

    // A registry token (registrytoken) that the registry does not accept.
    let bearer = Credentials {
        secret: "bearer-pull".into(),
        kind: CredentialKind::Bearer("not-a-jwt".into()),
    };
    let e = resolver.latest(&with(&private, bearer)).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("rejected the credentials of pull secret bearer-pull"),
        "{e}"
    );

    // tag_exists through the same flow.
    let good = creds_from_secret(&registry, "reader-pull", "reader", "reader-pw");
    assert!(
        resolver
            .tag_exists(&with(&private, good.clone()), "2.1.0")
            .await
            .unwrap()
    );
    assert!(
        !resolver
            .tag_exists(&with(&private, good), "9.9.9")
            .await
            .unwrap()
    );

    // A repository that does not exist.
    let missing = registry.repository("public/nothing");
    let e = resolver.latest(&anonymous(&missing)).await.unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "repository public/nothing not found on registry {} (HTTP 404)",
            registry.host()
        )
    );
}

#[tokio::test]
async fn htpasswd_basic_auth() {
    let Some(tools) = testkit::registry::tools() else {
        return;
    };
    let registry = start(&tools, Auth::Htpasswd, false, &[("reader", "reader-pw")]);
    registry.push_tags("app", &["3.0.0", "3.0.1"]).unwrap();
    let repo = registry.repository("app");
    let resolver = resolver();

    let e = resolver.latest(&anonymous(&repo)).await.unwrap_err();
    assert!(matches!(e, Error::AuthRequired { .. }), "{e}");

    let good = creds_from_secret(&registry, "basic-pull", "reader", "reader-pw");
    let (latest, requests) = counted(
        &registry,
        &resolver,
        resolver.latest(&with(&repo, good.clone())),
    )
    .await;
    assert_eq!(latest.unwrap().tag, "3.0.1");
    assert_eq!(
        requests, 2,
        "401 (Basic challenge), tags with the credentials"
    );

    let bad = creds_from_secret(&registry, "basic-pull", "reader", "nope");
    let e = resolver.latest(&with(&repo, bad)).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "registry {} rejected the credentials of pull secret basic-pull (HTTP 401)",
            registry.host()
        )
    );
    assert!(
        resolver
            .tag_exists(&with(&repo, good), "3.0.0")
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_registry_that_is_down_is_named() {
    let Some(tools) = testkit::registry::tools() else {
        return;
    };
    let mut registry = start(&tools, Auth::Anonymous, false, &[]);
    registry.push_tags("app", &["1.0.0"]).unwrap();
    let repo = registry.repository("app");
    let warm = resolver();
    assert_eq!(warm.latest(&anonymous(&repo)).await.unwrap().tag, "1.0.0");
    registry.stop();

    let cold = resolver();
    let e = cold.latest(&anonymous(&repo)).await.unwrap_err();
    assert!(matches!(e, Error::Unreachable { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("registry {} is unreachable: ", registry.host())),
        "{text}"
    );
    assert!(text.to_lowercase().contains("refused"), "{text}");
    let e = cold
        .tag_exists(&anonymous(&repo), "1.0.0")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Unreachable { .. }), "{e}");

    // Within the TTL the cached list is still served.
    let latest = warm.latest(&anonymous(&repo)).await.unwrap();
    assert!(latest.from_cache);
}

#[tokio::test]
async fn no_stable_tags_is_an_error() {
    let Some(tools) = testkit::registry::tools() else {
        return;
    };
    let registry = start(&tools, Auth::Anonymous, false, &[]);
    registry
        .push_tags("app", &["latest", "main", "1.0.0-rc1"])
        .unwrap();
    let repo = registry.repository("app");
    let e = resolver().latest(&anonymous(&repo)).await.unwrap_err();
    assert!(matches!(e, Error::NoStableTags { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        format!("no stable semver tags found in {repo}")
    );
}

#[tokio::test]
async fn tls_with_a_private_ca() {
    let Some(tools) = testkit::registry::tools() else {
        return;
    };
    let registry = start(&tools, Auth::Anonymous, true, &[]);
    registry
        .push_tags("public/app", &["1.0.0", "1.5.0"])
        .unwrap();
    let repo = registry.repository("public/app");
    let resolver = resolver();

    let e = resolver.latest(&anonymous(&repo)).await.unwrap_err();
    assert!(matches!(e, Error::Unreachable { .. }), "{e}");
    assert!(e.to_string().contains("certificate"), "{e}");

    let ca = registry.ca_pem().unwrap().as_bytes().to_vec();
    let mut req = anonymous(&repo);
    req.ca_bundle = Some(&ca);
    let latest = resolver.latest(&req).await.unwrap();
    assert_eq!(latest.tag, "1.5.0");
    // Over HTTPS: no plain-HTTP request reached the registry.
    assert!(registry.access_log().iter().all(|e| e.status != 400));
    assert!(resolver.tag_exists(&req, "1.0.0").await.unwrap());
}

#[tokio::test]
async fn a_removed_tag_does_not_exist() {
    let Some(tools) = testkit::registry::tools() else {
        return;
    };
    let registry = start(&tools, Auth::Anonymous, false, &[]);
    registry.push_distinct("app", "1.0.0").unwrap();
    registry.push_distinct("app", "1.1.0").unwrap();
    let repo = registry.repository("app");
    let resolver = resolver();
    assert_eq!(
        resolver.latest(&anonymous(&repo)).await.unwrap().tag,
        "1.1.0"
    );
    assert!(
        resolver
            .tag_exists(&anonymous(&repo), "1.1.0")
            .await
            .unwrap()
    );

    registry.delete_tag("app", "1.1.0").unwrap();
    assert!(
        !resolver
            .tag_exists(&anonymous(&repo), "1.1.0")
            .await
            .unwrap()
    );
    assert!(
        resolver
            .tag_exists(&anonymous(&repo), "1.0.0")
            .await
            .unwrap()
    );
    // The cache still says 1.1.0 (within the TTL): that is why tag_exists is asked before a
    // rollout. A fresh resolver sees the list without it.
    assert_eq!(
        resolver.latest(&anonymous(&repo)).await.unwrap().tag,
        "1.1.0"
    );
    assert_eq!(
        Resolver::new(DEFAULT_TTL)
            .unwrap()
            .latest(&anonymous(&repo))
            .await
            .unwrap()
            .tag,
        "1.0.0"
    );
}

#[tokio::test]
async fn the_cache_serves_within_the_ttl_and_expires() {
    let Some(tools) = testkit::registry::tools() else {
        return;
    };
    let registry = start(&tools, Auth::Anonymous, false, &[]);
    registry.push_tags("app", &["1.0.0"]).unwrap();
    let repo = registry.repository("app");
    let resolver = Resolver::new(Duration::from_millis(600)).unwrap();
    let (first, _) = counted(&registry, &resolver, resolver.latest(&anonymous(&repo))).await;
    assert!(!first.unwrap().from_cache);
    let (second, requests) =
        counted(&registry, &resolver, resolver.latest(&anonymous(&repo))).await;
    assert!(second.unwrap().from_cache);
    assert_eq!(requests, 0);
    // A new tag shows after the TTL.
    registry.push_tags("app", &["1.0.1"]).unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (third, requests) = counted(&registry, &resolver, resolver.latest(&anonymous(&repo))).await;
    let third = third.unwrap();
    assert_eq!(third.tag, "1.0.1");
    assert!(!third.from_cache);
    assert_eq!(requests, 1, "the scheme is remembered: one page");
}

/// Requests per check for N instances of one repository sharing the resolver (printed for
/// docs/performance.md).
#[tokio::test]
async fn figures_requests_per_check() {
    let Some(tools) = testkit::registry::tools() else {
        return;
    };
    const INSTANCES: u64 = 20;
    let mut lines = Vec::new();
    for (label, auth) in [
        ("anonymous registry", Auth::Anonymous),
        ("token auth, anonymous pull", Auth::Token),
        ("token auth, pull secret", Auth::Token),
        ("htpasswd, pull secret", Auth::Htpasswd),
    ] {
        let registry = start(&tools, auth.clone(), false, &[("reader", "reader-pw")]);
        registry
            .push_tags("public/app", &["1.0.0", "1.1.0"])
            .unwrap();
        let repo = registry.repository("public/app");
        let credentials = (label.contains("pull secret"))
            .then(|| creds_from_secret(&registry, "pull", "reader", "reader-pw"));
        let req = Request {
            credentials,
            ..anonymous(&repo)
        };
        let resolver = resolver();
        let mut cold = 0;
        let mut warm = 0;
        for i in 0..INSTANCES {
            let (latest, n) = counted(&registry, &resolver, resolver.latest(&req)).await;
            assert_eq!(latest.unwrap().tag, "1.1.0");
            if i == 0 {
                cold = n;
            } else {
                warm += n;
            }
        }
        // Just before a rollout: the answer to the challenge is reused.
        let (exists, after_check) =
            counted(&registry, &resolver, resolver.tag_exists(&req, "1.1.0")).await;
        assert!(exists.unwrap());
        // With nothing reused (another resolver; its scheme probe reaches no HTTP server).
        let fresh = Resolver::new(DEFAULT_TTL).unwrap();
        let (exists, alone) = counted(&registry, &fresh, fresh.tag_exists(&req, "1.1.0")).await;
        assert!(exists.unwrap());
        assert_eq!(warm, 0);
        lines.push(format!(
            "{label:28} cold check {cold} requests, warm check 0 ({INSTANCES} instances: {cold} in all); tag_exists {after_check} right after a check, {alone} alone"
        ));
    }
    for line in &lines {
        println!("{line}");
    }
}
