//! `nginx.conf` of the gateway proxy: a TCP (layer 4) forwarder from the pod's network
//! interface to the gateway and canvas ports, which OpenClaw binds to loopback only.

use crate::consts::{CANVAS_PORT, GATEWAY_PORT, PROXY_CANVAS_PORT, PROXY_GATEWAY_PORT};

/// The proxy's complete configuration. nginx runs in the foreground (`-g 'daemon off;'` on the
/// command line), as an unprivileged user on a read-only root filesystem, so every path it
/// writes is under `/tmp`.
pub fn nginx_conf() -> String {
    let mut servers = String::new();
    for (listen, upstream) in [
        (PROXY_GATEWAY_PORT, GATEWAY_PORT),
        (PROXY_CANVAS_PORT, CANVAS_PORT),
    ] {
        servers.push_str(&format!(
            "    server {{\n        listen 0.0.0.0:{listen};\n        proxy_pass 127.0.0.1:{upstream};\n    }}\n"
        ));
    }
    format!(
        "# Rendered by openclaw-operator: forwards the pod's gateway and canvas ports to OpenClaw on loopback.\n\
         worker_processes 1;\n\
         pid /tmp/nginx.pid;\n\
         error_log /dev/stderr warn;\n\
         \n\
         events {{\n    worker_connections 1024;\n}}\n\
         \n\
         stream {{\n{servers}}}\n"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn forwards_both_ports() {
        let conf = super::nginx_conf();
        assert!(conf.contains("listen 0.0.0.0:18790;\n        proxy_pass 127.0.0.1:18789;"));
        assert!(conf.contains("listen 0.0.0.0:18794;\n        proxy_pass 127.0.0.1:18793;"));
        assert!(conf.contains("events {"));
        assert!(conf.ends_with("}\n"));
    }
}
