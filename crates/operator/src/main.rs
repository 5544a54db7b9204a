//! `openclaw-operator`: runs and inspects the OpenClaw Kubernetes operator.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use openclaw_operator::cli;

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
    /// Print the version.
    Version,
    /// Run the controller against the cluster of the current kubeconfig (or in-cluster config).
    Run(RunArgs),
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
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "WATCH_NAMESPACE")]
    namespace: Option<String>,
    /// Instances reconciled in parallel.
    #[arg(long, env = "OPENCLAW_CONCURRENCY", default_value_t = 4)]
    concurrency: u16,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Plain)]
    log_format: LogFormat,
    /// Log filter (tracing env-filter syntax), e.g. `info` or `openclaw_operator=debug`.
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    log_level: String,
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
        Command::Version => {
            println!("openclaw-operator {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        Command::Run(args) => {
            let filter = tracing_subscriber::EnvFilter::try_new(&args.log_level)
                .context("invalid --log-level")?;
            let builder = tracing_subscriber::fmt().with_env_filter(filter);
            match args.log_format {
                LogFormat::Json => builder.json().init(),
                LogFormat::Plain => builder.init(),
            }
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            runtime.block_on(async {
                let client = kube::Client::try_default()
                    .await
                    .context("connecting to Kubernetes")?;
                tracing::info!(
                    version = env!("CARGO_PKG_VERSION"),
                    namespace = args.namespace.as_deref().unwrap_or("<all>"),
                    "starting the OpenClawInstance controller"
                );
                openclaw_operator::controller::run(
                    client,
                    openclaw_operator::controller::Scope {
                        namespace: args.namespace,
                    },
                    args.concurrency.max(1),
                )
                .await
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
