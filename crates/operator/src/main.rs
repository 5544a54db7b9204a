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
