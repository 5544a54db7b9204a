//! The log filter of `--log-level`: a `tracing` filter, or one of the Go operator's zap levels.
//!
//! The Go operator's chart passes `logLevel` to `--zap-log-level`, which takes `debug`, `info`,
//! `error`, `panic` or an integer > 0 (a debug verbosity: 1 is debug, higher is more verbose).
//! Read as a `tracing` filter, `1` would mean `error` and `0` would switch logging off, so those
//! values are translated first; everything else is a `tracing` env-filter as before.

/// The `tracing` env-filter for a `--log-level` value.
pub fn filter_directives(level: &str) -> String {
    let level = level.trim();
    if let Ok(n) = level.parse::<u64>() {
        return match n {
            0 => "info",
            1 => "debug",
            _ => "trace",
        }
        .to_string();
    }
    match level.to_ascii_lowercase().as_str() {
        // zap levels without a `tracing` name: they log only what is worse than an error.
        "dpanic" | "panic" | "fatal" => "error".to_string(),
        _ => level.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::filter_directives;

    #[test]
    fn the_go_charts_levels_keep_their_meaning() {
        assert_eq!(filter_directives("0"), "info");
        assert_eq!(filter_directives("1"), "debug");
        assert_eq!(filter_directives("2"), "trace");
        assert_eq!(filter_directives("10"), "trace");
        assert_eq!(filter_directives("panic"), "error");
        assert_eq!(filter_directives("info"), "info");
        assert_eq!(filter_directives("debug"), "debug");
        assert_eq!(filter_directives("error"), "error");
    }

    #[test]
    fn tracing_filters_pass_through() {
        assert_eq!(
            filter_directives("info,openclaw_operator=debug"),
            "info,openclaw_operator=debug"
        );
        assert_eq!(filter_directives(" warn "), "warn");
        for level in ["0", "1", "5", "panic", "info,kube=debug", "warn"] {
            assert!(
                tracing_subscriber::EnvFilter::try_new(filter_directives(level)).is_ok(),
                "{level}"
            );
        }
    }
}
