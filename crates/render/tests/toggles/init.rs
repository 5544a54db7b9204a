//! Conformance toggles of this feature area (runtime dependencies, skills, plugins). None of
//! them adds a config key; they prove that the rendered `openclaw.json` stays valid with them.

use serde_json::{Value, json};

pub fn toggles() -> Vec<(&'static str, Value)> {
    vec![
        (
            "runtime-deps",
            json!({"runtimeDeps": {"pnpm": true, "python": true}}),
        ),
        (
            "skills-per-workspace",
            json!({"skills": ["owner/weather", "npm:@scope/cli-skill", "pack:acme/skills/writer@v1"],
                "workspace": {"additionalWorkspaces": [
                    {"name": "research", "skills": ["arxiv", "npm:paper-cli"]},
                    {"name": "packs", "skills": ["pack:acme/skills/only"]}]}}),
        ),
        (
            "plugins",
            json!({"plugins": ["npm:@openclaw/voice-call", "matrix"],
                "config": {"raw": {"plugins": {"entries": {"voice-call": {"enabled": true}}}}}}),
        ),
    ]
}
