//! The skill-pack resolver against the local HTTPS GitHub stand-in (`testkit::github`), which
//! serves real git repositories made here: manifest and raw mode, refs, faults and their
//! messages, the cache (TTL, conditional requests, stale fallback), the rate-limit gate, and
//! the steady-state request figures. No cluster needed.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use openclaw_operator::skillpacks::error::rfc3339;
use openclaw_operator::skillpacks::{Options, Resolution, ResolveError, Resolver};
use serde_json::json;
use testkit::github::{GitHub, Repo};

const HOUR: Duration = Duration::from_secs(3600);

const WEATHER_MANIFEST: &str = r#"{
  "files": {
    "skills/weather/SKILL.md": "SKILL.md",
    "skills/weather/lib/fetch.py": "./lib/fetch.py",
    "skills/weather/notes/my notes.md": "data/my notes.md"
  },
  "directories": ["skills/weather", "skills/weather/cache"],
  "config": {"weather": {"enabled": true, "env": {"UNITS": "metric"}}}
}"#;

/// `acme/skills`: tag `v1` and branch `stable` at the first commit, `main` one commit later
/// (the weather SKILL.md changed). Returns the repository and the first commit's sha.
fn skills_repo() -> (Repo, String) {
    let repo = Repo::new("acme", "skills").unwrap();
    repo.file("packs/weather/skillpack.json", WEATHER_MANIFEST)
        .unwrap()
        .file("packs/weather/SKILL.md", "# Weather v1\n")
        .unwrap()
        .file("packs/weather/lib/fetch.py", "print('sunny')\n")
        .unwrap()
        .file("packs/weather/data/my notes.md", "notes with a space\n")
        .unwrap()
        .file("packs/weather/unlisted.txt", "not in the manifest\n")
        .unwrap()
        // Raw mode: no manifest, a SKILL.md and nested files.
        .file("packs/hello/SKILL.md", "# Hello\n")
        .unwrap()
        .file("packs/hello/scripts/run.sh", "#!/bin/sh\necho hi\n")
        .unwrap()
        .file("packs/hello/ref/deep/notes.txt", "deep\n")
        .unwrap()
        // Neither a manifest nor a SKILL.md.
        .file("packs/empty/README.md", "nothing here\n")
        .unwrap()
        // Broken manifests.
        .file("packs/badjson/skillpack.json", "{ this is not json")
        .unwrap()
        .file(
            "packs/missingfile/skillpack.json",
            r#"{"files": {"skills/m/SKILL.md": "nope.md"}}"#,
        )
        .unwrap()
        .file(
            "packs/dotdot/skillpack.json",
            r#"{"files": {"../x": "SKILL.md"}}"#,
        )
        .unwrap()
        .file(
            "packs/absolute/skillpack.json",
            r#"{"files": {"/etc/x": "SKILL.md"}}"#,
        )
        .unwrap()
        .file(
            "packs/escape/skillpack.json",
            r#"{"files": {"skills/e/SKILL.md": "../hello/SKILL.md"}}"#,
        )
        .unwrap();
    let first = repo.commit("v1").unwrap();
    repo.tag("v1").unwrap().branch("stable").unwrap();
    repo.file("packs/weather/SKILL.md", "# Weather v2\n")
        .unwrap();
    repo.commit("v2").unwrap();
    (repo, first)
}

async fn start() -> (GitHub, Repo, String) {
    let (repo, first) = skills_repo();
    let github = GitHub::start([repo.clone()]).await.unwrap();
    (github, repo, first)
}

fn options(github: &GitHub) -> Options {
    Options {
        base_url: github.base_url(),
        ca_file: Some(github.ca_file()),
        ttl: HOUR,
        ..Options::default()
    }
}

fn resolver(options: Options) -> Resolver {
    Resolver::new(options).unwrap()
}

fn refs(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_string()).collect()
}

fn files(r: &Resolution) -> BTreeMap<&str, &str> {
    r.packs
        .files
        .iter()
        .map(|(k, v)| (k.as_str(), std::str::from_utf8(v).unwrap()))
        .collect()
}

fn dirs(r: &Resolution) -> BTreeSet<&str> {
    r.packs.directories.iter().map(String::as_str).collect()
}

/// The error message for `reference`; panics when it resolved.
fn error(r: &Resolution, reference: &str) -> String {
    r.errors
        .iter()
        .find(|(name, _)| name == reference)
        .map(|(_, e)| e.to_string())
        .unwrap_or_else(|| panic!("no error for {reference}: {r:#?}"))
}

fn weather_v1() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("skills/weather/SKILL.md", "# Weather v1\n"),
        ("skills/weather/lib/fetch.py", "print('sunny')\n"),
        ("skills/weather/notes/my notes.md", "notes with a space\n"),
    ])
}

fn hello_files() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("skills/hello/SKILL.md", "# Hello\n"),
        ("skills/hello/scripts/run.sh", "#!/bin/sh\necho hi\n"),
        ("skills/hello/ref/deep/notes.txt", "deep\n"),
    ])
}

fn hello_dirs() -> BTreeSet<&'static str> {
    BTreeSet::from([
        "skills/hello",
        "skills/hello/scripts",
        "skills/hello/ref",
        "skills/hello/ref/deep",
    ])
}

// ---------------------------------------------------------------------------------------------
// 1. Manifest mode

#[tokio::test]
async fn manifest_mode_by_tag_branch_and_commit() {
    let (github, _repo, first) = start().await;
    let resolver = resolver(options(&github));

    let by_tag = "pack:acme/skills/packs/weather@v1";
    let r = resolver.resolve("default", &refs(&[by_tag])).await;
    assert!(r.is_complete(), "{r:#?}");
    assert_eq!(files(&r), weather_v1());
    assert_eq!(
        dirs(&r),
        BTreeSet::from(["skills/weather", "skills/weather/cache"])
    );
    assert_eq!(
        r.packs.skill_entries,
        BTreeMap::from([(
            "weather".to_string(),
            json!({"enabled": true, "env": {"UNITS": "metric"}})
        )])
    );
    assert_eq!(r.packs.references, refs(&[by_tag]));
    assert_eq!(r.retry_at, None);
    // The space is escaped in the request, and the file fetched by ref.
    let paths: Vec<String> = github
        .requests()
        .iter()
        .map(|q| format!("{}?{}", q.path, q.query.clone().unwrap_or_default()))
        .collect();
    assert!(
        paths.contains(
            &"/repos/acme/skills/contents/packs/weather/data/my%20notes.md?ref=v1".to_string()
        ),
        "{paths:#?}"
    );
    assert!(github.requests().iter().all(|q| q.status == 200));

    // The branch `stable` is at v1; `main` (and no ref: the default branch) has v2.
    let by_branch = "pack:acme/skills/packs/weather@stable";
    let r = resolver.resolve("default", &refs(&[by_branch])).await;
    assert!(r.is_complete(), "{r:#?}");
    assert_eq!(files(&r), weather_v1());

    let by_sha = format!("pack:acme/skills/packs/weather@{first}");
    let r = resolver.resolve("default", &[by_sha]).await;
    assert!(r.is_complete(), "{r:#?}");
    assert_eq!(files(&r), weather_v1());

    let mut v2 = weather_v1();
    v2.insert("skills/weather/SKILL.md", "# Weather v2\n");
    for reference in [
        "pack:acme/skills/packs/weather@main",
        "pack:acme/skills/packs/weather",
        "acme/skills/packs/weather",
    ] {
        let r = resolver.resolve("default", &refs(&[reference])).await;
        assert!(r.is_complete(), "{reference}: {r:#?}");
        assert_eq!(files(&r), v2, "{reference}");
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Raw mode

#[tokio::test]
async fn raw_mode_copies_the_directory_under_skills() {
    let (github, _repo, _) = start().await;
    let resolver = resolver(options(&github));
    let reference = "pack:acme/skills/packs/hello@v1";
    let r = resolver.resolve("default", &refs(&[reference])).await;
    assert!(r.is_complete(), "{r:#?}");
    assert_eq!(files(&r), hello_files());
    assert_eq!(dirs(&r), hello_dirs());
    assert!(r.packs.skill_entries.is_empty());
    assert_eq!(r.packs.references, refs(&[reference]));
}

#[tokio::test]
async fn raw_mode_without_a_ref_uses_the_default_branch() {
    let (github, _repo, _) = start().await;
    let resolver = resolver(options(&github));
    let r = resolver
        .resolve("default", &refs(&["pack:acme/skills/packs/hello"]))
        .await;
    assert!(r.is_complete(), "{r:#?}");
    assert_eq!(files(&r), hello_files());
    assert_eq!(dirs(&r), hello_dirs());
}

#[tokio::test]
async fn raw_mode_needs_a_skill_md_and_a_whole_tree() {
    let (github, _repo, _) = start().await;
    let resolver = resolver(options(&github));
    let empty = "pack:acme/skills/packs/empty@v1";
    let r = resolver.resolve("default", &refs(&[empty])).await;
    assert_eq!(
        error(&r, empty),
        "no skillpack.json and no SKILL.md found in acme/skills/packs/empty"
    );
    assert!(r.packs.files.is_empty());

    github.set_tree_limit(Some(3));
    let hello = "pack:acme/skills/packs/hello@v1";
    let r = resolver.resolve("default", &refs(&[hello])).await;
    assert_eq!(
        error(&r, hello),
        "acme/skills: the repository tree is too large for one request (GitHub truncated it); \
         add a skillpack.json to the pack directory packs/hello"
    );
    // A manifest-mode pack does not need the tree.
    let r = resolver
        .resolve("default", &refs(&["pack:acme/skills/packs/weather@v1"]))
        .await;
    assert!(r.is_complete(), "{r:#?}");
}

// ---------------------------------------------------------------------------------------------
// 3. Faults

#[tokio::test]
async fn each_fault_has_a_clear_message_and_spares_the_other_packs() {
    let (github, _repo, _) = start().await;
    let resolver = resolver(options(&github));
    let weather = "pack:acme/skills/packs/weather@v1";
    let hello = "pack:acme/skills/packs/hello@v1";
    let list = [
        "pack:acme/skills",
        weather,
        "pack:acme/nope/packs/hello",
        "pack:acme/skills/packs/nope@v1",
        "pack:acme/skills/packs/hello@nope",
        "pack:acme/skills/packs/badjson@v1",
        "pack:acme/skills/packs/missingfile@v1",
        "pack:acme/skills/packs/dotdot@v1",
        "pack:acme/skills/packs/absolute@v1",
        "pack:acme/skills/packs/escape@v1",
        hello,
    ];
    let r = resolver.resolve("default", &refs(&list)).await;
    let expected = [
        (
            "pack:acme/skills",
            "invalid pack reference \"pack:acme/skills\": pack reference must be owner/repo/path[@ref]",
        ),
        (
            "pack:acme/nope/packs/hello",
            "acme/nope: repository, path or ref not found (default branch); a private repository needs a token with access",
        ),
        (
            "pack:acme/skills/packs/nope@v1",
            "no skillpack.json and no SKILL.md found in acme/skills/packs/nope",
        ),
        (
            "pack:acme/skills/packs/hello@nope",
            "acme/skills: repository, path or ref not found (ref nope); a private repository needs a token with access",
        ),
        (
            "pack:acme/skills/packs/missingfile@v1",
            "skillpack.json in acme/skills/packs/missingfile@v1: files[\"skills/m/SKILL.md\"]: packs/missingfile/nope.md not found",
        ),
        (
            "pack:acme/skills/packs/dotdot@v1",
            "skillpack.json in acme/skills/packs/dotdot@v1: files[\"../x\"]: path must be relative and stay inside the workspace",
        ),
        (
            "pack:acme/skills/packs/absolute@v1",
            "skillpack.json in acme/skills/packs/absolute@v1: files[\"/etc/x\"]: path must be relative and stay inside the workspace",
        ),
        (
            "pack:acme/skills/packs/escape@v1",
            "skillpack.json in acme/skills/packs/escape@v1: files[\"skills/e/SKILL.md\"]: \"../hello/SKILL.md\" must be a relative path inside the pack directory",
        ),
    ];
    for (reference, message) in expected {
        assert_eq!(error(&r, reference), message);
    }
    let bad_json = error(&r, "pack:acme/skills/packs/badjson@v1");
    assert!(
        bad_json.starts_with("skillpack.json in acme/skills/packs/badjson@v1: not valid JSON: "),
        "{bad_json}"
    );
    assert_eq!(r.errors.len(), expected.len() + 1, "{r:#?}");
    // The two good packs are there, in order.
    assert_eq!(r.packs.references, refs(&[weather, hello]));
    let mut both = weather_v1();
    both.extend(hello_files());
    assert_eq!(files(&r), both);
    assert_eq!(r.retry_at, None);
    let message = r.message().unwrap();
    assert!(message.contains("pack:acme/skills/packs/escape@v1: skillpack.json in"));
}

#[tokio::test]
async fn a_server_error_fails_only_its_pack() {
    let (github, _repo, _) = start().await;
    let resolver = resolver(options(&github));
    let weather = "pack:acme/skills/packs/weather@v1";
    let hello = "pack:acme/skills/packs/hello@v1";
    github.fail_next(1, 500);
    let r = resolver.resolve("default", &refs(&[weather, hello])).await;
    let message = error(&r, weather);
    let url = format!(
        "{}/repos/acme/skills/contents/packs/weather/skillpack.json?ref=v1",
        github.base_url()
    );
    assert!(
        message.starts_with(&format!("GitHub answered 500 for {url}")),
        "{message}"
    );
    assert_eq!(r.errors.len(), 1);
    assert_eq!(files(&r), hello_files());
    // Nothing was cached from the failure: the next resolve works.
    let r = resolver.resolve("default", &refs(&[weather])).await;
    assert!(r.is_complete(), "{r:#?}");
    assert_eq!(files(&r), weather_v1());
}

#[tokio::test]
async fn packs_over_the_size_limit_are_refused() {
    let (github, _repo, _) = start().await;
    let weather = "pack:acme/skills/packs/weather@v1";
    let hello = "pack:acme/skills/packs/hello@v1";
    let weather_bytes: usize = weather_v1().values().map(|v| v.len()).sum();
    let hello_bytes: usize = hello_files().values().map(|v| v.len()).sum();

    // Each pack alone is over the budget (manifest mode counts while fetching, raw mode by the
    // tree's sizes).
    let resolver = resolver(Options {
        budget_bytes: 10,
        ..options(&github)
    });
    let r = resolver.resolve("default", &refs(&[weather, hello])).await;
    let message = error(&r, weather);
    assert!(
        message.starts_with("acme/skills/packs/weather@v1 is ")
            && message.ends_with(" bytes; at most 10 fit in the workspace ConfigMap"),
        "{message}"
    );
    assert_eq!(
        error(&r, hello),
        format!(
            "acme/skills/packs/hello@v1 is {hello_bytes} bytes; at most 10 fit in the workspace ConfigMap"
        )
    );
    assert!(r.packs.files.is_empty());

    // Each fits, both do not: the first is kept.
    let budget = weather_bytes.max(hello_bytes) as u64;
    let resolver = crate::resolver(Options {
        budget_bytes: budget,
        ..options(&github)
    });
    let r = resolver.resolve("ws1", &refs(&[weather, hello])).await;
    assert_eq!(
        error(&r, hello),
        format!(
            "skill packs for workspace ws1 are {} bytes; at most {budget} fit in the workspace ConfigMap",
            weather_bytes + hello_bytes
        )
    );
    assert_eq!(files(&r), weather_v1());
}

#[tokio::test]
async fn private_repositories_need_the_token() {
    let (repo, _) = skills_repo();
    let secret = Repo::new("acme", "secret").unwrap().private(true);
    secret.file("hidden/SKILL.md", "# Hidden\n").unwrap();
    secret.commit("initial").unwrap();
    let github = GitHub::start([repo, secret]).await.unwrap();
    let reference = "pack:acme/secret/hidden@main";

    let r = resolver(options(&github))
        .resolve("default", &refs(&[reference]))
        .await;
    assert_eq!(
        error(&r, reference),
        "acme/secret: repository, path or ref not found (ref main); a private repository needs a token with access"
    );

    let with_token = resolver(Options {
        token: Some(github.token()),
        ..options(&github)
    });
    let r = with_token.resolve("default", &refs(&[reference])).await;
    assert!(r.is_complete(), "{r:#?}");
    assert_eq!(
        files(&r),
        BTreeMap::from([("skills/hidden/SKILL.md", "# Hidden\n")])
    );

    let bad_token = resolver(Options {
        token: Some("ghp_not_the_token".into()),
        ..options(&github)
    });
    let weather = "pack:acme/skills/packs/weather@v1";
    let r = bad_token.resolve("default", &refs(&[weather])).await;
    assert_eq!(
        error(&r, weather),
        "GitHub rejected the token (401 Bad credentials) for acme/skills: check GITHUB_TOKEN, \
         see docs/features/skill-packs.md"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Cache

#[tokio::test]
async fn within_the_ttl_no_request_goes_out() {
    let (github, _repo, _) = start().await;
    let resolver = resolver(options(&github));
    let list = refs(&[
        "pack:acme/skills/packs/weather@v1",
        "pack:acme/skills/packs/hello@v1",
    ]);
    let first = resolver.resolve("default", &list).await;
    assert!(first.is_complete(), "{first:#?}");
    let sent = github.count_requests();
    // Another workspace with the same references shares the cache.
    let second = resolver.resolve("other", &list).await;
    assert_eq!(github.count_requests(), sent);
    assert_eq!(second.packs.files, first.packs.files);
    assert_eq!(second.packs.directories, first.packs.directories);
}

/// Resolve, let the TTL pass, resolve again: the refresh's requests.
async fn refresh_requests(
    github: &GitHub,
    token: Option<String>,
) -> (Vec<testkit::github::RequestRecord>, usize) {
    let ttl = Duration::from_millis(100);
    let resolver = resolver(Options {
        token,
        ttl,
        ..options(github)
    });
    let list = refs(&[
        "pack:acme/skills/packs/weather@v1",
        "pack:acme/skills/packs/hello@v1",
    ]);
    let first = resolver.resolve("default", &list).await;
    assert!(first.is_complete(), "{first:#?}");
    let sent = github.count_requests();
    let counted = github.counted_against_limit();
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    let again = resolver.resolve("default", &list).await;
    assert!(again.is_complete(), "{again:#?}");
    assert_eq!(again.packs, first.packs);
    let refresh = github.requests()[sent..].to_vec();
    (refresh, github.counted_against_limit() - counted)
}

#[tokio::test]
async fn after_the_ttl_requests_are_conditional_and_blobs_are_not_refetched() {
    let (github, _repo, _) = start().await;
    let token = github.token();
    for token in [Some(token), None] {
        github.clear_requests();
        let authenticated = token.is_some();
        let (refresh, counted) = refresh_requests(&github, token).await;
        let summary: Vec<String> = refresh
            .iter()
            .map(|q| format!("{} {} {:?}", q.status, q.path, q.if_none_match))
            .collect();
        assert!(!refresh.is_empty());
        assert!(
            refresh
                .iter()
                .all(|q| q.status == 304 && q.if_none_match.is_some()),
            "{summary:#?}"
        );
        assert!(
            refresh.iter().all(|q| !q.path.contains("/git/blobs/")),
            "{summary:#?}"
        );
        // With the token the 304s are free; without, GitHub counts them.
        if authenticated {
            assert_eq!(counted, 0, "{summary:#?}");
        } else {
            assert_eq!(counted, refresh.len(), "{summary:#?}");
        }
    }
}

#[tokio::test]
async fn a_changed_ref_is_picked_up_after_the_ttl() {
    let (github, repo, _) = start().await;
    let ttl = Duration::from_millis(100);
    let resolver = resolver(Options {
        ttl,
        ..options(&github)
    });
    let list = refs(&["pack:acme/skills/packs/hello@main"]);
    let r = resolver.resolve("default", &list).await;
    assert_eq!(files(&r), hello_files());
    let sent = github.count_requests();
    repo.file("packs/hello/SKILL.md", "# Hello again\n")
        .unwrap();
    repo.file("packs/hello/extra/new.md", "new\n").unwrap();
    repo.commit("change hello").unwrap();
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    let r = resolver.resolve("default", &list).await;
    assert!(r.is_complete(), "{r:#?}");
    let mut expected = hello_files();
    expected.insert("skills/hello/SKILL.md", "# Hello again\n");
    expected.insert("skills/hello/extra/new.md", "new\n");
    assert_eq!(files(&r), expected);
    assert!(dirs(&r).contains("skills/hello/extra"));
    // The refresh did not probe for a manifest again: the tree showed there is none.
    let refresh: Vec<String> = github.requests()[sent..]
        .iter()
        .map(|q| q.path.clone())
        .collect();
    assert!(
        refresh.iter().all(|p| !p.ends_with("/skillpack.json")),
        "{refresh:#?}"
    );

    // A manifest added later switches the pack to manifest mode.
    repo.file(
        "packs/hello/skillpack.json",
        r#"{"files": {"skills/greeting/SKILL.md": "SKILL.md"}, "config": {"greeting": {}}}"#,
    )
    .unwrap();
    repo.commit("hello gets a manifest").unwrap();
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    let r = resolver.resolve("default", &list).await;
    assert!(r.is_complete(), "{r:#?}");
    assert_eq!(
        files(&r),
        BTreeMap::from([("skills/greeting/SKILL.md", "# Hello again\n")])
    );
    assert_eq!(
        r.packs.skill_entries,
        BTreeMap::from([("greeting".to_string(), json!({}))])
    );

    // And removing it back to raw mode.
    repo.remove("packs/hello/skillpack.json").unwrap();
    repo.commit("hello without a manifest").unwrap();
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    let r = resolver.resolve("default", &list).await;
    assert!(r.is_complete(), "{r:#?}");
    assert_eq!(files(&r), expected);
}

// ---------------------------------------------------------------------------------------------
// 5. Stale fallback

#[tokio::test]
async fn a_failed_refresh_serves_the_older_result_within_stale_for() {
    let (github, _repo, _) = start().await;
    let ttl = Duration::from_millis(100);
    let weather = "pack:acme/skills/packs/weather@v1";
    let list = refs(&[weather]);

    let resolver = resolver(Options {
        ttl,
        stale_for: HOUR,
        ..options(&github)
    });
    let first = resolver.resolve("default", &list).await;
    assert!(first.is_complete(), "{first:#?}");
    let fetched = SystemTime::now();
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    github.fail_next(1, 502);
    let r = resolver.resolve("default", &list).await;
    assert!(r.errors.is_empty(), "{r:#?}");
    assert_eq!(r.packs, first.packs);
    assert_eq!(r.stale.len(), 1, "{r:#?}");
    let stale = &r.stale[0];
    assert_eq!(stale.reference, weather);
    assert!(stale.fetched <= fetched);
    assert!(matches!(
        stale.error,
        ResolveError::Status { status: 502, .. }
    ));
    let message = r.message().unwrap();
    assert!(
        message.starts_with(&format!(
            "{weather}: using the result fetched at {}: GitHub answered 502 for ",
            rfc3339(stale.fetched)
        )),
        "{message}"
    );
    assert!(!r.is_complete());

    // Without a stale allowance the failure is an error.
    let strict = crate::resolver(Options {
        ttl,
        stale_for: Duration::ZERO,
        ..options(&github)
    });
    let first = strict.resolve("default", &list).await;
    assert!(first.is_complete(), "{first:#?}");
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    github.fail_next(1, 502);
    let r = strict.resolve("default", &list).await;
    assert!(r.stale.is_empty());
    assert!(
        error(&r, weather).starts_with("GitHub answered 502 for "),
        "{r:#?}"
    );
    assert!(r.packs.files.is_empty());
}

// ---------------------------------------------------------------------------------------------
// 6. Rate limit

#[tokio::test]
async fn an_exhausted_rate_limit_closes_the_gate_until_the_reset() {
    let (github, _repo, _) = start().await;
    let resolver = resolver(options(&github));
    let weather = "pack:acme/skills/packs/weather@v1";
    let hello = "pack:acme/skills/packs/hello@v1";
    let list = refs(&[weather, hello]);

    github.exhaust_rate_limit(Duration::from_secs(2));
    let before = SystemTime::now();
    let r = resolver.resolve("default", &list).await;
    let retry_at = r.retry_at.expect("retry_at");
    assert!(retry_at > before && retry_at <= before + Duration::from_secs(4));
    let expected = format!(
        "GitHub API rate limit exhausted (60 requests/hour unauthenticated); retrying after {} \
         — set a token, see docs/features/skill-packs.md",
        rfc3339(retry_at)
    );
    assert_eq!(error(&r, weather), expected);
    assert_eq!(error(&r, hello), expected);
    // Only the first request went out; the second pack was refused by the closed gate.
    assert_eq!(github.count_requests(), 1, "{:#?}", github.requests());
    assert_eq!(resolver.next_retry(), Some(retry_at));

    let r = resolver.resolve("default", &list).await;
    assert_eq!(github.count_requests(), 1);
    assert_eq!(r.retry_at, Some(retry_at));
    assert_eq!(error(&r, weather), expected);

    let wait = retry_at
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(200)).await;
    assert_eq!(resolver.next_retry(), None);
    let r = resolver.resolve("default", &list).await;
    assert!(r.is_complete(), "{r:#?}");
    assert_eq!(r.retry_at, None);
    let mut both = weather_v1();
    both.extend(hello_files());
    assert_eq!(files(&r), both);
}

// ---------------------------------------------------------------------------------------------
// 7. Figures

/// One manifest-mode pack with 3 files and one raw-mode pack with 3 files; the first resolve,
/// then 12 refreshes after the TTL ("an hour" of 5-minute refreshes).
async fn figures(github: &GitHub, token: Option<String>) -> (usize, usize, usize, usize) {
    let ttl = Duration::from_millis(50);
    let resolver = resolver(Options {
        token,
        ttl,
        ..options(github)
    });
    let list = refs(&[
        "pack:acme/skills/packs/weather@v1",
        "pack:acme/skills/packs/hello@v1",
    ]);
    let (sent, counted) = (github.count_requests(), github.counted_against_limit());
    let first = resolver.resolve("default", &list).await;
    assert!(first.is_complete(), "{first:#?}");
    let first_sent = github.count_requests() - sent;
    let first_counted = github.counted_against_limit() - counted;
    let (sent, counted) = (github.count_requests(), github.counted_against_limit());
    for _ in 0..12 {
        tokio::time::sleep(ttl + Duration::from_millis(20)).await;
        let r = resolver.resolve("default", &list).await;
        assert!(r.is_complete(), "{r:#?}");
        assert_eq!(r.packs, first.packs);
    }
    (
        first_sent,
        first_counted,
        github.count_requests() - sent,
        github.counted_against_limit() - counted,
    )
}

#[tokio::test]
async fn steady_state_request_figures() {
    let (github, _repo, _) = start().await;
    github.set_rate_limit(1000, 5000);
    let (first, first_counted, hour, hour_counted) = figures(&github, Some(github.token())).await;
    eprintln!(
        "with a token: first resolve {first} requests ({first_counted} counted); \
         steady state {hour} requests/hour ({hour_counted} counted)"
    );
    assert_eq!(first, 1 + 3 + 2 + 3, "{:#?}", github.requests());
    assert_eq!(hour_counted, 0, "{:#?}", github.requests());

    let (first, first_counted, hour, hour_counted) = figures(&github, None).await;
    eprintln!(
        "without a token: first resolve {first} requests ({first_counted} counted); \
         steady state {hour} requests/hour ({hour_counted} counted)"
    );
    assert_eq!(hour_counted, hour);
}
