//! `openclaw-operator`: runs and inspects the OpenClaw Kubernetes operator.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{ArgAction, Parser, Subcommand};
use openclaw_operator::controller::Scope;
use openclaw_operator::{cli, process, telemetry, webhook};

#[derive(Parser)]
#[command(
    name = "openclaw-operator",
    version,
    about = "Kubernetes operator for OpenClaw AI-agent instances"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the three CustomResourceDefinitions as YAML.
    Crd {
        /// Write one file per CRD into this directory instead of printing.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Run the admission checks on manifests offline; exit code 1 when any has errors.
    Validate {
        /// YAML file with one or more documents (`-` reads standard input).
        #[arg(short = 'f', long = "filename", required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the API reference (Markdown) generated from the CRDs: docs/api-reference.md.
    ApiReference,
    /// Print the version.
    Version,
    /// Run the controller against the cluster of the current kubeconfig (or in-cluster config).
    Run(Box<RunArgs>),
    /// Print every object the operator would create for an instance, with no cluster.
    Render {
        /// YAML file with one OpenClawInstance.
        #[arg(short = 'f', long = "filename")]
        file: PathBuf,
        /// YAML file with the OpenClawClusterDefaults to merge in.
        #[arg(long)]
        cluster_defaults: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Namespaces to watch, comma-separated (default: all namespaces). With a list, namespaced
    /// RBAC in those namespaces is enough (plus read access to the cluster-scoped
    /// OpenClawClusterDefaults).
    #[arg(long, env = "WATCH_NAMESPACES", default_value = "")]
    watch_namespaces: String,
    /// Watch only this namespace (older spelling of `--watch-namespaces` with one entry).
    #[arg(long, env = "WATCH_NAMESPACE", hide = true)]
    namespace: Option<String>,
    /// Instances reconciled in parallel.
    #[arg(long, env = "OPENCLAW_CONCURRENCY", default_value_t = 4)]
    concurrency: u16,
    /// Metrics endpoint address (`:8080`, `host:port`; `0` turns it off).
    #[arg(long, env = "METRICS_BIND_ADDRESS", default_value = ":8080")]
    metrics_bind_address: String,
    /// Serve /metrics over HTTPS and require a bearer token allowed to `get /metrics`
    /// (TokenReview + SubjectAccessReview).
    #[arg(long, env = "METRICS_SECURE", default_value_t = false, action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    metrics_secure: bool,
    /// Directory with tls.crt/tls.key for the secure metrics endpoint (default: a self-signed
    /// certificate made at start).
    #[arg(long, env = "METRICS_CERT_DIR")]
    metrics_cert_dir: Option<PathBuf>,
    /// Health probe address (`/livez`, `/readyz`, `/healthz`; `0` turns it off).
    #[arg(long, env = "HEALTH_PROBE_BIND_ADDRESS", default_value = ":8081")]
    health_probe_bind_address: String,
    /// Elect a leader with a Lease, so that several replicas can run (one writes).
    #[arg(long, env = "LEADER_ELECT", default_value_t = false, action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    leader_elect: bool,
    /// Name of the leader-election Lease.
    #[arg(long, env = "LEADER_ELECTION_ID", default_value = process::DEFAULT_LEASE_NAME)]
    leader_election_id: String,
    /// Namespace of the Lease (default: the operator's namespace, `POD_NAMESPACE`).
    #[arg(long, env = "LEADER_ELECTION_NAMESPACE")]
    leader_election_namespace: Option<String>,
    /// Seconds a lease stays valid after its last renewal (failover takes at most this long).
    #[arg(long, default_value_t = 15)]
    leader_election_lease_duration: u64,
    /// The leader renews its lease this many seconds before it expires.
    #[arg(long, default_value_t = 5)]
    leader_election_renew_grace: u64,
    /// Admission webhook address (`:9443`; `0` turns the webhooks off).
    #[arg(long, env = "WEBHOOK_BIND_ADDRESS", default_value = "0")]
    webhook_bind_address: String,
    /// Directory with the webhook's tls.crt/tls.key (a mounted Secret, e.g. from
    /// cert-manager); reloaded when it changes.
    #[arg(
        long,
        env = "WEBHOOK_CERT_DIR",
        conflicts_with = "webhook_self_signed_secret"
    )]
    webhook_cert_dir: Option<PathBuf>,
    /// Generate the webhook certificate (and a CA) and keep them in this Secret in the
    /// operator's namespace; the CA is patched into the `--webhook-configuration`s.
    #[arg(long, env = "WEBHOOK_SELF_SIGNED_SECRET")]
    webhook_self_signed_secret: Option<String>,
    /// Names of the Validating/MutatingWebhookConfigurations whose caBundle the operator keeps
    /// (self-signed mode); repeatable.
    #[arg(long = "webhook-configuration")]
    webhook_configurations: Vec<String>,
    /// DNS names or IPs of the webhook certificate (self-signed mode); repeatable.
    #[arg(long = "webhook-cert-host")]
    webhook_cert_hosts: Vec<String>,
    /// OpenTelemetry collector to push metrics and traces to over OTLP: `host:port`, or a URL
    /// (`http://…` plain, `https://…` TLS). Empty: no push.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", default_value = "")]
    otlp_endpoint: String,
    /// Plain TCP (no TLS) to an `--otlp-endpoint` given without scheme.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_INSECURE", default_value_t = true, action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    otlp_insecure: bool,
    /// OTLP protocol: `grpc` (port 4317) or `http/protobuf` (port 4318).
    #[arg(long, env = "OTEL_EXPORTER_OTLP_PROTOCOL", value_enum, default_value_t = telemetry::Protocol::Grpc)]
    otlp_protocol: telemetry::Protocol,
    /// Namespace of the `s3-backup-credentials` Secret (default: the operator's namespace,
    /// `POD_NAMESPACE`); `-` turns backups and restores off.
    #[arg(long, env = "BACKUP_CREDENTIALS_NAMESPACE")]
    backup_credentials_namespace: Option<String>,
    /// Clear `spec.restoreFrom` after a successful restore, as the Go operator does (default:
    /// keep it; a restore runs once per distinct path recorded in `status.restoredFrom`).
    #[arg(long, env = "CLEAR_RESTORE_FROM", default_value_t = false, action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    clear_restore_from: bool,
    /// How long a finished OpenClawSelfConfig request is kept before it is deleted (Go
    /// duration; the Go operator's 1h by default).
    #[arg(long, env = "SELFCONFIG_TTL", default_value = "1h")]
    selfconfig_ttl: String,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Plain)]
    log_format: LogFormat,
    /// Log filter (tracing env-filter syntax), e.g. `info` or `openclaw_operator=debug`; the Go
    /// operator's zap levels (`--zap-log-level`: `1` debug, `2`+ trace, `panic`) keep their meaning.
    #[arg(
        long,
        alias = "zap-log-level",
        env = "LOG_LEVEL",
        default_value = "info"
    )]
    log_level: String,
}

impl RunArgs {
    fn operator_namespace() -> String {
        std::env::var("POD_NAMESPACE")
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| openclaw_operator::rbac::DEFAULT_OPERATOR_NAMESPACE.into())
    }

    fn telemetry_settings(&self) -> telemetry::Settings {
        telemetry::Settings {
            endpoint: self.otlp_endpoint.trim().to_string(),
            protocol: self.otlp_protocol,
            insecure: self.otlp_insecure,
        }
    }

    fn into_config(
        self,
        telemetry: Option<telemetry::Telemetry>,
    ) -> anyhow::Result<process::RunConfig> {
        let bind = |flag: &str, v: &str| {
            openclaw_operator::http::parse_bind(v).map_err(|e| anyhow::anyhow!("--{flag}: {e}"))
        };
        let mut scope = Scope::parse(&self.watch_namespaces);
        if scope.namespaces.is_empty()
            && let Some(ns) = self.namespace.filter(|n| !n.is_empty())
        {
            scope = Scope::namespace(ns);
        }
        let operator_ns = Self::operator_namespace();
        let leader_election = self.leader_elect.then(|| {
            let pod = std::env::var("POD_NAME")
                .ok()
                .filter(|s| !s.is_empty())
                .or_else(|| std::env::var("HOSTNAME").ok())
                .unwrap_or_else(|| "openclaw-operator".into());
            let suffix: String = {
                use rand::Rng;
                let mut rng = rand::rng();
                (0..6)
                    .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
                    .collect()
            };
            process::LeaderElection {
                lease_name: self.leader_election_id.clone(),
                namespace: self
                    .leader_election_namespace
                    .clone()
                    .unwrap_or_else(|| operator_ns.clone()),
                identity: format!("{pod}_{suffix}"),
                lease_duration: self.leader_election_lease_duration.max(2),
                renew_grace: self
                    .leader_election_renew_grace
                    .clamp(1, self.leader_election_lease_duration.max(2) - 1),
            }
        });
        let webhook = match bind("webhook-bind-address", &self.webhook_bind_address)? {
            None => None,
            Some(addr) => {
                let certs = match (self.webhook_cert_dir, self.webhook_self_signed_secret) {
                    (Some(dir), _) => webhook::CertSource::Dir(dir),
                    (None, Some(secret)) => webhook::CertSource::SelfSigned(webhook::SelfSigned {
                        namespace: operator_ns.clone(),
                        secret_name: secret,
                        hosts: self.webhook_cert_hosts,
                        configurations: self.webhook_configurations,
                    }),
                    (None, None) => anyhow::bail!(
                        "--webhook-bind-address needs --webhook-cert-dir or --webhook-self-signed-secret"
                    ),
                };
                Some(webhook::WebhookConfig { bind: addr, certs })
            }
        };
        // GITHUB_TOKEN, GITHUB_API_URL, GITHUB_CA_FILE (docs/features/skill-packs.md).
        let skill_packs = openclaw_operator::skillpacks::Resolver::new(
            openclaw_operator::skillpacks::Options::from_env(),
        )
        .map_err(|e| {
            tracing::warn!("skill packs cannot be resolved: {e}");
            e.to_string()
        });
        let registry = openclaw_operator::registry::Resolver::new(
            openclaw_operator::controller::update::REGISTRY_TTL,
        )
        .map_err(|e| {
            tracing::warn!(error = %e, "auto-update cannot ask registries");
            e.to_string()
        });
        Ok(process::RunConfig {
            skill_packs,
            registry,
            scope,
            concurrency: self.concurrency.max(1),
            metrics_bind: bind("metrics-bind-address", &self.metrics_bind_address)?,
            metrics_secure: self.metrics_secure,
            metrics_cert_dir: self.metrics_cert_dir,
            health_bind: bind("health-probe-bind-address", &self.health_probe_bind_address)?,
            leader_election,
            webhook,
            telemetry,
            backup: openclaw_operator::controller::backup::BackupOptions {
                credentials_namespace: match self.backup_credentials_namespace.as_deref() {
                    Some("-") => None,
                    Some(ns) if !ns.is_empty() => Some(ns.to_string()),
                    _ => Some(operator_ns),
                },
                clear_restore_from: self.clear_restore_from,
            },
            selfconfig: openclaw_operator::controller::selfconfig::SelfConfigOptions {
                ttl: openclaw_api::units::parse_go_duration(&self.selfconfig_ttl)
                    .ok()
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .map(std::time::Duration::from_secs_f64)
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "--selfconfig-ttl {:?} is not a Go duration (e.g. 1h, 30m)",
                            self.selfconfig_ttl
                        )
                    })?,
            },
        })
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Plain,
    Json,
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    match Args::parse().command {
        Command::Crd { dir: None } => {
            print!("{}", cli::crds_yaml()?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Crd { dir: Some(dir) } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for (name, body) in cli::crd_files()? {
                let path = dir.join(name);
                std::fs::write(&path, body)
                    .with_context(|| format!("writing {}", path.display()))?;
                println!("wrote {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::ApiReference => {
            print!("{}", openclaw_operator::apidoc::reference());
            Ok(ExitCode::SUCCESS)
        }
        Command::Version => {
            println!("openclaw-operator {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        Command::Run(args) => {
            use tracing_subscriber::Layer as _;
            use tracing_subscriber::layer::SubscriberExt as _;
            use tracing_subscriber::util::SubscriberInitExt as _;
            let filter = tracing_subscriber::EnvFilter::try_new(
                openclaw_operator::logging::filter_directives(&args.log_level),
            )
            .with_context(|| format!("invalid --log-level {:?}", args.log_level))?;
            // The runtime comes first: the OTLP exporter sends from it.
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            let (telemetry, telemetry_error) =
                match telemetry::Telemetry::start(&args.telemetry_settings(), runtime.handle()) {
                    Ok(t) => (t, None),
                    Err(e) => (None, Some(e)),
                };
            let fmt = match args.log_format {
                LogFormat::Json => tracing_subscriber::fmt::layer().json().boxed(),
                LogFormat::Plain => tracing_subscriber::fmt::layer().boxed(),
            };
            tracing_subscriber::registry()
                .with(filter)
                .with(fmt)
                .with(telemetry.as_ref().and_then(telemetry::Telemetry::layer))
                .init();
            if let Some(e) = telemetry_error {
                // Never fatal, as in the Go operator.
                tracing::warn!("OTLP push disabled: {e}");
            }
            let config = args.into_config(telemetry)?;
            runtime.block_on(async {
                let kubeconfig = kube::Config::infer()
                    .await
                    .context("loading the Kubernetes client configuration")?;
                tracing::info!(
                    version = env!("CARGO_PKG_VERSION"),
                    "openclaw-operator starting"
                );
                process::run(kubeconfig, config).await?;
                anyhow::Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Render {
            file,
            cluster_defaults,
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let defaults = match cluster_defaults {
                Some(path) => Some(
                    std::fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?,
                ),
                None => None,
            };
            print!(
                "{}",
                cli::render_yaml(&file.display().to_string(), &text, defaults.as_deref())?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { files } => {
            let mut failed = false;
            for file in files {
                let (source, text) = if file.as_os_str() == "-" {
                    let mut s = String::new();
                    std::io::stdin()
                        .read_to_string(&mut s)
                        .context("reading standard input")?;
                    ("<stdin>".to_string(), s)
                } else {
                    let s = std::fs::read_to_string(&file)
                        .with_context(|| format!("reading {}", file.display()))?;
                    (file.display().to_string(), s)
                };
                let reports = cli::validate_yaml(&source, &text)?;
                let (out, bad) = cli::render_reports(&reports);
                print!("{out}");
                failed |= bad;
            }
            Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
