//! Image repository names as written in `spec.image.repository`: which registry host serves
//! them and under which name, the way Docker and the kubelet read them.

/// Docker Hub's registry API host.
pub const DOCKER_HUB_REGISTRY: &str = "registry-1.docker.io";

/// A repository split into the registry it lives on and its name there.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Repository {
    /// The registry's API host, with the port when one was given: `ghcr.io`,
    /// `registry-1.docker.io`, `127.0.0.1:5000`.
    pub host: String,
    /// The repository's name on that registry: `openclaw/openclaw`, `library/nginx`.
    pub name: String,
}

impl Repository {
    /// Whether the host is a loopback address (`localhost`, `127.0.0.0/8`, `::1`): the only
    /// registries reached over plain HTTP (after HTTPS failed), as Docker treats them.
    pub fn is_loopback(&self) -> bool {
        let host = host_without_port(&self.host);
        if host.eq_ignore_ascii_case("localhost") {
            return true;
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        bare.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
    }

    /// Whether this is Docker Hub.
    pub fn is_docker_hub(&self) -> bool {
        self.host == DOCKER_HUB_REGISTRY
    }
}

impl std::fmt::Display for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.host, self.name)
    }
}

/// `host[:port]` without the port (IPv6 literals keep their brackets).
pub fn host_without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// Maps the Docker Hub aliases to its API host.
pub fn canonical_host(host: &str) -> String {
    match host.to_ascii_lowercase().as_str() {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            DOCKER_HUB_REGISTRY.to_string()
        }
        other => other.to_string(),
    }
}

/// Splits `repository` (no tag or digest) into host and name.
///
/// The first path segment is a host when it contains a `.` or a `:`, or is `localhost`
/// (Docker's rule); otherwise the repository is on Docker Hub, and a single-segment name gets
/// `library/`.
pub fn parse_repository(repository: &str) -> Result<Repository, String> {
    let repository = repository.trim();
    if repository.is_empty() {
        return Err("empty".into());
    }
    if repository.contains("://") {
        return Err("must not have a scheme".into());
    }
    if repository.contains('@') {
        return Err("must not have a digest".into());
    }
    let (host, name) = match repository.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (canonical_host(first), rest.to_string())
        }
        _ => (DOCKER_HUB_REGISTRY.to_string(), repository.to_string()),
    };
    // A tag on the last segment is not part of the repository.
    if let Some(last) = name.rsplit('/').next()
        && last.contains(':')
    {
        return Err("must not have a tag (set spec.image.tag)".into());
    }
    let name = if host == DOCKER_HUB_REGISTRY && !name.contains('/') {
        format!("library/{name}")
    } else {
        name
    };
    for segment in name.split('/') {
        let ok = !segment.is_empty()
            && segment.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            })
            && segment
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric())
            && segment
                .bytes()
                .last()
                .is_some_and(|b| b.is_ascii_alphanumeric());
        if !ok {
            return Err(format!(
                "invalid path segment {segment:?} (lowercase letters, digits, '.', '_' and '-')"
            ));
        }
    }
    if host.is_empty() {
        return Err("empty registry host".into());
    }
    Ok(Repository { host, name })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn p(s: &str) -> (String, String) {
        let r = parse_repository(s).unwrap();
        (r.host, r.name)
    }

    #[test]
    fn docker_hub_short_names() {
        assert_eq!(
            p("openclaw/openclaw"),
            (DOCKER_HUB_REGISTRY.into(), "openclaw/openclaw".into())
        );
        assert_eq!(
            p("nginx"),
            (DOCKER_HUB_REGISTRY.into(), "library/nginx".into())
        );
        assert_eq!(
            p("docker.io/nginx"),
            (DOCKER_HUB_REGISTRY.into(), "library/nginx".into())
        );
        assert_eq!(
            p("docker.io/library/nginx"),
            (DOCKER_HUB_REGISTRY.into(), "library/nginx".into())
        );
        assert_eq!(
            p("index.docker.io/openclaw/openclaw"),
            (DOCKER_HUB_REGISTRY.into(), "openclaw/openclaw".into())
        );
        assert_eq!(
            p("registry-1.docker.io/a/b"),
            (DOCKER_HUB_REGISTRY.into(), "a/b".into())
        );
        assert!(parse_repository("nginx").unwrap().is_docker_hub());
    }

    #[test]
    fn hosts_with_ports_and_localhost() {
        assert_eq!(
            p("ghcr.io/openclaw/openclaw"),
            ("ghcr.io".into(), "openclaw/openclaw".into())
        );
        assert_eq!(p("localhost:5000/x"), ("localhost:5000".into(), "x".into()));
        assert_eq!(
            p("127.0.0.1:5000/x/y"),
            ("127.0.0.1:5000".into(), "x/y".into())
        );
        assert_eq!(p("localhost/x"), ("localhost".into(), "x".into()));
        assert_eq!(p("[::1]:5000/x"), ("[::1]:5000".into(), "x".into()));
        // A single-segment name on another registry gets no library/ prefix.
        assert_eq!(p("quay.io/x"), ("quay.io".into(), "x".into()));
    }

    #[test]
    fn loopback_hosts() {
        for s in [
            "localhost:5000/x",
            "127.0.0.1:5000/x",
            "127.3.4.5/x",
            "[::1]:5000/x",
            "localhost/x",
        ] {
            assert!(parse_repository(s).unwrap().is_loopback(), "{s}");
        }
        for s in [
            "ghcr.io/x",
            "10.0.0.1:5000/x",
            "openclaw/openclaw",
            "localhost.example/x",
        ] {
            assert!(!parse_repository(s).unwrap().is_loopback(), "{s}");
        }
    }

    #[test]
    fn invalid_repositories() {
        for s in [
            "",
            "https://ghcr.io/x",
            "ghcr.io/x:1.0",
            "nginx:latest",
            "ghcr.io/X",
            "ghcr.io/a//b",
            "ghcr.io/x@sha256:00",
        ] {
            assert!(parse_repository(s).is_err(), "{s}");
        }
    }

    #[test]
    fn host_port_split() {
        assert_eq!(host_without_port("127.0.0.1:5000"), "127.0.0.1");
        assert_eq!(host_without_port("ghcr.io"), "ghcr.io");
        assert_eq!(host_without_port("[::1]:5000"), "[::1]");
    }
}
