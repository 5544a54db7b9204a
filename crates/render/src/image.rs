//! Image references and the registry override (`spec.registry`).

/// Whether the first path segment of an image reference names a registry host, with the rule
/// container runtimes use: it contains a `.` or a `:` (a port, or an IPv6 literal), is
/// `localhost`, or has upper-case letters (repository paths are lower-case).
fn is_registry_host(segment: &str) -> bool {
    segment.contains(['.', ':'])
        || segment == "localhost"
        || segment.starts_with('[')
        || segment.chars().any(|c| c.is_ascii_uppercase())
}

/// Point `image` at `registry`: the image's own registry host (if it names one) is replaced,
/// otherwise the registry is prepended. Docker Hub references lose their implicit
/// `docker.io/library/` or `docker.io/` prefix first, so `docker.io/library/nginx:1` becomes
/// `<registry>/nginx:1`, the same path a mirror of the short name uses.
///
/// `registry` may carry a path (`mirror.example.com/cache`); trailing slashes are ignored, and an
/// empty registry leaves the image unchanged.
pub fn with_registry(image: &str, registry: Option<&str>) -> String {
    let Some(registry) = registry
        .map(|r| r.trim_end_matches('/'))
        .filter(|r| !r.is_empty())
    else {
        return image.to_string();
    };
    let image = image
        .strip_prefix("docker.io/library/")
        .or_else(|| image.strip_prefix("docker.io/"))
        .unwrap_or(image);
    match image.split_once('/') {
        Some((first, rest)) if is_registry_host(first) => format!("{registry}/{rest}"),
        _ => format!("{registry}/{image}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_registry;

    #[test]
    fn registry_override() {
        let r = Some("registry.corp.example:5000/mirror/");
        let cases = [
            (
                "ghcr.io/openclaw/openclaw:latest",
                "registry.corp.example:5000/mirror/openclaw/openclaw:latest",
            ),
            (
                "docker.io/library/nginx:1.27-alpine",
                "registry.corp.example:5000/mirror/nginx:1.27-alpine",
            ),
            (
                "nginx:1.27-alpine",
                "registry.corp.example:5000/mirror/nginx:1.27-alpine",
            ),
            (
                "docker.io/chromedp/headless-shell:stable",
                "registry.corp.example:5000/mirror/chromedp/headless-shell:stable",
            ),
            (
                "chromedp/headless-shell:stable",
                "registry.corp.example:5000/mirror/chromedp/headless-shell:stable",
            ),
            (
                "localhost/team/app:1",
                "registry.corp.example:5000/mirror/team/app:1",
            ),
            (
                "localhost:5000/team/app:1",
                "registry.corp.example:5000/mirror/team/app:1",
            ),
            (
                "[::1]:5000/team/app:1",
                "registry.corp.example:5000/mirror/team/app:1",
            ),
            (
                "ghcr.io/openclaw/openclaw@sha256:0123",
                "registry.corp.example:5000/mirror/openclaw/openclaw@sha256:0123",
            ),
            ("busybox", "registry.corp.example:5000/mirror/busybox"),
        ];
        for (image, want) in cases {
            assert_eq!(with_registry(image, r), want, "{image}");
        }
    }

    #[test]
    fn no_registry_keeps_the_image() {
        for r in [None, Some(""), Some("/")] {
            assert_eq!(
                with_registry("ghcr.io/openclaw/openclaw:1", r),
                "ghcr.io/openclaw/openclaw:1"
            );
        }
    }
}
