//! `parse_pack`: skill pack references `pack:owner/repo/path[@ref]`, by example and by property.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // tests may fail loudly

use openclaw_api::validation::{PackRef, check_skill, parse_pack};
use proptest::prelude::*;
use rstest::rstest;

fn pack(owner: &str, repo: &str, path: &str, reference: Option<&str>) -> PackRef {
    PackRef {
        owner: owner.into(),
        repo: repo.into(),
        path: path.into(),
        reference: reference.map(Into::into),
    }
}

#[rstest]
#[case::plain("pack:acme/skills/writer", pack("acme", "skills", "writer", None))]
#[case::no_prefix("acme/skills/writer", pack("acme", "skills", "writer", None))]
#[case::nested_path(
    "pack:acme/skills/packs/team/writer@v1.2.0",
    pack("acme", "skills", "packs/team/writer", Some("v1.2.0"))
)]
#[case::branch_with_slash(
    "pack:acme/skills/writer@release/2026",
    pack("acme", "skills", "writer", Some("release/2026"))
)]
#[case::last_at_wins(
    "pack:acme/skills/w@x@main",
    pack("acme", "skills", "w@x", Some("main"))
)]
#[case::dots(
    "pack:acme.io/my_repo/a.b/c-d@sha1234",
    pack("acme.io", "my_repo", "a.b/c-d", Some("sha1234"))
)]
fn parses(#[case] input: &str, #[case] want: PackRef) {
    assert_eq!(parse_pack(input), Ok(want));
    assert!(check_skill(input).is_ok() || !input.starts_with("pack:"));
}

#[rstest]
#[case::empty("pack:", "requires an owner/repo/path")]
#[case::two_segments("pack:acme/skills", "owner/repo/path")]
#[case::two_segments_ref("pack:acme/skills@v1", "owner/repo/path")]
#[case::empty_ref("pack:acme/skills/x@", "empty ref")]
#[case::empty_segment("pack:acme//x", "invalid path segment")]
#[case::trailing_slash("pack:acme/skills/x/", "invalid path segment")]
#[case::dotdot("pack:acme/skills/../x", "invalid path segment")]
#[case::dot("pack:acme/skills/./x", "invalid path segment")]
#[case::leading_at("pack:@acme/skills", "owner/repo/path")]
#[case::at_in_owner("pack:@acme/skills/x", "must not contain '@'")]
#[case::space("pack:acme/skills/a b", "invalid character")]
#[case::bad_ref("pack:acme/skills/x@a//b", "invalid ref")]
fn rejects(#[case] input: &str, #[case] needle: &str) {
    let err = parse_pack(input).unwrap_err();
    assert!(err.contains(needle), "{input}: {err}");
    // check_skill reports the same error for pack entries.
    assert_eq!(check_skill(input).unwrap_err(), err);
}

#[test]
fn check_skill_other_formats_unchanged() {
    for ok in [
        "weather",
        "@owner/x",
        "owner/x",
        "npm:@scope/pkg",
        "npm:pkg",
    ] {
        assert!(check_skill(ok).is_ok(), "{ok}");
    }
    assert!(check_skill(&format!("pack:a/b/{}", "c".repeat(130))).is_err());
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9._-]{0,9}".prop_filter("not . or ..", |s| s != "." && s != "..")
}

proptest! {
    /// Any well-formed reference parses back into its parts.
    #[test]
    fn round_trip(
        owner in name(),
        repo in name(),
        path in prop::collection::vec(name(), 1..4),
        reference in prop::option::of(name()),
        prefix in any::<bool>(),
    ) {
        let path = path.join("/");
        let mut s = format!("{}{owner}/{repo}/{path}", if prefix { "pack:" } else { "" });
        if let Some(r) = &reference {
            s.push('@');
            s.push_str(r);
        }
        let parsed = parse_pack(&s).unwrap();
        prop_assert_eq!(parsed, PackRef { owner, repo, path, reference });
    }

    /// Arbitrary input never panics, and whatever parses reassembles to the input.
    #[test]
    fn never_panics(s in "(pack:)?[a-z@/.]{0,20}") {
        if let Ok(p) = parse_pack(&s) {
            let mut back = format!("{}/{}/{}", p.owner, p.repo, p.path);
            if let Some(r) = &p.reference {
                back.push('@');
                back.push_str(r);
            }
            prop_assert_eq!(back, s.strip_prefix("pack:").unwrap_or(&s));
        }
    }
}
