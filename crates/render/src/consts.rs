//! Names, ports, paths and images shared by the renderers.

/// The pod's `terminationGracePeriodSeconds`: the gateway's own stop budget. On SIGTERM OpenClaw
/// drains active agent work for up to 315 s and then closes within 10 s more (2026.9.6 logs
/// "shutdown budget ... drain=315000ms shutdown=325000ms ... policy=330000ms"; 2026.5 and 2026.7
/// drain up to 300 s plus a 10 s reserve). Kubernetes' default of 30 s cut running turns off; an
/// idle gateway exits in about 1 s, so the long budget does not slow rollouts.
pub const TERMINATION_GRACE_SECONDS: i64 = 330;

/// Port the OpenClaw gateway listens on (loopback when the gateway proxy runs).
pub const GATEWAY_PORT: i32 = 18789;
/// Port of OpenClaw's canvas host.
pub const CANVAS_PORT: i32 = 18793;
/// Port of the gateway proxy in front of [`GATEWAY_PORT`].
pub const PROXY_GATEWAY_PORT: i32 = 18790;
/// Port of the gateway proxy in front of [`CANVAS_PORT`].
pub const PROXY_CANVAS_PORT: i32 = 18794;

/// Pod annotation that rolls the pod when the rendered config changes.
pub const CONFIG_HASH_ANNOTATION: &str = "openclaw.rocks/config-hash";
/// Pod annotation that rolls the pod when a referenced Secret changes.
pub const SECRET_HASH_ANNOTATION: &str = "openclaw.rocks/secret-hash";
/// Annotation on the data PVC read by the backup feature.
pub const BACKUP_ENABLED_ANNOTATION: &str = "openclaw.rocks/backup-enabled";

/// Key of the gateway token in its Secret.
pub const TOKEN_KEY: &str = "token";
/// Environment variable carrying the gateway token.
pub const TOKEN_ENV: &str = "OPENCLAW_GATEWAY_TOKEN";
/// What the operator writes as `gateway.auth.token`: OpenClaw expands it from the environment,
/// so the token itself never lands in the ConfigMap.
pub const TOKEN_PLACEHOLDER: &str = "${OPENCLAW_GATEWAY_TOKEN}";

/// Key of `openclaw.json` in the config ConfigMap.
pub const CONFIG_KEY: &str = "openclaw.json";
/// Key of the gateway proxy's configuration in the config ConfigMap.
pub const NGINX_KEY: &str = "nginx.conf";
/// Key of the seeding plan in the workspace ConfigMap (workspace file names cannot start with a
/// dot, so it never collides with a file).
pub const SEED_PLAN_KEY: &str = ".operator-seed-plan.json";

/// Home directory of the OpenClaw user.
pub const HOME: &str = "/home/openclaw";
/// Where the data volume is mounted in the main container (OpenClaw's state directory).
pub const STATE_DIR: &str = "/home/openclaw/.openclaw";
/// Where OpenClaw reads `openclaw.json` (`OPENCLAW_CONFIG_PATH`): a folder of the data volume
/// owned by the pod's user (see [`crate::programs::APPLY`]).
pub const CONFIG_PATH: &str = "/home/openclaw/.openclaw/config/openclaw.json";
/// Where the config ConfigMap is mounted in the main container.
pub const OPERATOR_CONFIG_DIR: &str = "/operator-config";
/// Where the data volume is mounted in `init-config`.
pub const INIT_DATA_DIR: &str = "/data";
/// Where the config ConfigMap is mounted in `init-config`.
pub const INIT_CONFIG_DIR: &str = "/config";
/// Where the workspace ConfigMap is mounted in `init-config`.
pub const INIT_WORKSPACE_DIR: &str = "/workspace-init";

/// Directories of the data volume mounted by subPath into the home directory. `init-config`
/// creates them as the pod's user, so the kubelet never creates them root-owned.
pub const HOME_SUBDIRS: &[&str] = &[".local", ".cache", ".config"];

/// Image of the gateway proxy (fully qualified: CRI-O short-name enforcement rejects `nginx:…`).
pub const NGINX_IMAGE: &str = "docker.io/library/nginx:1.27-alpine";
/// UID of the nginx user in the nginx image.
pub const NGINX_UID: i64 = 101;
/// Default UID, GID and fsGroup of the pod.
pub const DEFAULT_POD_ID: i64 = 1000;

/// Default size of the data PVC (and of autoscaling's per-replica claim template).
pub const DEFAULT_PVC_SIZE: &str = "10Gi";

/// Volume names.
pub mod volume {
    /// The data volume (PVC or emptyDir).
    pub const DATA: &str = "data";
    /// The config ConfigMap.
    pub const CONFIG: &str = "config";
    /// The workspace ConfigMap.
    pub const WORKSPACE_INIT: &str = "workspace-init";
    /// Scratch space of the main container.
    pub const TMP: &str = "tmp";
    /// Scratch space of the gateway proxy.
    pub const GATEWAY_PROXY_TMP: &str = "gateway-proxy-tmp";
}

/// Container names.
pub mod container {
    /// The OpenClaw gateway.
    pub const MAIN: &str = "openclaw";
    /// Writes openclaw.json and seeds the workspaces.
    pub const INIT_CONFIG: &str = "init-config";
    /// nginx in front of the loopback-bound gateway.
    pub const GATEWAY_PROXY: &str = "gateway-proxy";
}

/// The image's default `PATH`, after the feature prefixes when a feature adds any.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The label naming the feature that made an object (`app.kubernetes.io/component`).
pub const COMPONENT_LABEL: &str = "app.kubernetes.io/component";
