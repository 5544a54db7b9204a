//! Conformance toggles of the sidecar features (Chromium, Ollama, web terminal, Tailscale).

use serde_json::{Value, json};

pub fn toggles() -> Vec<(&'static str, Value)> {
    vec![
        (
            "chromium",
            json!({"chromium": {"enabled": true, "persistence": {"enabled": true},
                "extraArgs": ["--lang=de-DE"]}}),
        ),
        (
            // The user's own profile and default profile are kept; ours are added beside them.
            "chromium-user-browser",
            json!({"chromium": {"enabled": true},
                "config": {"raw": {"browser": {"defaultProfile": "work",
                    "profiles": {"work": {"cdpUrl": "http://browser.example:9222"},
                        "chrome": {"cdpPort": 9333}}}}}}),
        ),
        (
            "ollama",
            json!({"ollama": {"enabled": true, "models": ["llama3.2"]},
                "config": {"raw": {"models": {"providers": {"ollama": {
                    "api": "ollama", "baseUrl": "http://localhost:11434", "models": []}}}}}}),
        ),
        (
            "web-terminal",
            json!({"webTerminal": {"enabled": true, "readOnly": true,
                "credential": {"secretRef": {"name": "ttyd-auth"}}}}),
        ),
        (
            "tailscale",
            json!({"tailscale": {"enabled": true, "mode": "serve",
                "authKeySecretRef": {"name": "tailscale-auth"}}}),
        ),
        (
            "tailscale-sso",
            json!({"tailscale": {"enabled": true, "mode": "funnel", "authSSO": true,
                "authKeySecretRef": {"name": "tailscale-auth"}}}),
        ),
    ]
}
