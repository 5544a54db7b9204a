//! Checking a config against OpenClaw's embedded schema: the first use of a version
//! (decompress and compile) and every later check (what admission and the controller pay).

use serde_json::{Value, json};

fn main() {
    divan::main();
}

fn newest() -> &'static openclaw_versions::Supported {
    openclaw_versions::newest().unwrap_or_else(|| std::process::exit(1))
}

/// A realistic config: what the operator renders for a sample with channels and models.
fn config() -> Value {
    json!({
        "gateway": {
            "mode": "local", "bind": "loopback", "port": 18789,
            "auth": {"mode": "token", "token": "${OPENCLAW_GATEWAY_TOKEN}"},
            "trustedProxies": ["127.0.0.0/8"],
            "controlUi": {"dangerouslyDisableDeviceAuth": true,
                          "allowedOrigins": ["http://localhost:18789", "https://agent.example.com"]}
        },
        "agents": {"defaults": {"model": {"primary": "anthropic/claude-sonnet-4-5"},
                                "workspace": "~/.openclaw/workspace"}},
        "channels": {"telegram": {"enabled": true, "botToken": "${TELEGRAM_BOT_TOKEN}"}},
        "skills": {"entries": {"weather": {"enabled": true}}},
        "logging": {"level": "info"}
    })
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn compile_newest_schema() -> usize {
    let s = newest();
    // Not the cached one: decompress and compile afresh.
    let text = {
        use std::io::Read;
        let mut out = String::new();
        let gz = include_bytes!("../schemas/openclaw-2026.9.6.schema.json.gz");
        let _ = flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut out);
        out
    };
    let _ = s;
    openclaw_versions::Schema::parse(&text)
        .map(|_| 1)
        .unwrap_or(0)
}

#[divan::bench]
fn check_valid_config(bencher: divan::Bencher) {
    let schema = newest().schema().unwrap_or_else(|_| std::process::exit(1));
    let config = config();
    bencher.bench(|| schema.check(divan::black_box(&config)).len());
}

#[divan::bench]
fn check_invalid_nested_config(bencher: divan::Bencher) {
    let schema = newest().schema().unwrap_or_else(|_| std::process::exit(1));
    let mut config = config();
    config["agents"]["defaults"]["bogus"] = json!(1);
    config["gateway"]["port"] = json!("abc");
    bencher.bench(|| schema.check(divan::black_box(&config)).len());
}
