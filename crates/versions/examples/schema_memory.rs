//! Resident memory the newest version's compiled schema costs (decompressed, parsed and compiled
//! once per process). `cargo run --release -p openclaw-versions --example schema_memory`.

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() {
    let before = rss_kib();
    for s in openclaw_versions::supported() {
        let start = std::time::Instant::now();
        let ok = s.schema().is_ok();
        println!(
            "{}: compiled={ok} in {:?}, RSS {} KiB -> {} KiB",
            s.as_str(),
            start.elapsed(),
            before,
            rss_kib()
        );
    }
}
