//! `logsieve`: train clustering models on logs, score events inline, inspect models.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use logsieve::commands::{assemble, evaluate, inspect, report, similar, train};
use logsieve::pipeline::{self, PipelineConfig};
use logsieve::runtime;

#[derive(Parser)]
#[command(
    name = "logsieve",
    version,
    about = "Anomaly scoring for log pipelines: train clustering models offline, score events inline in a WebAssembly component"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fit a model on logs and write it as a MessagePack artifact.
    /// `$SOURCE_DATE_EPOCH`, when set, is the creation time written into the
    /// model, so the same spec and input give the same bytes (and model id).
    Train(train::TrainArgs),
    /// Measure detection on labelled logs: score them with a model (or
    /// train one on part of the negatives, as the detection baseline does)
    /// and report ROC AUC, average precision, precision@k and the flags'
    /// true- and false-positive rates.
    Evaluate(evaluate::EvaluateArgs),
    /// Write a model artifact from parts fitted elsewhere (e.g. Spark): the
    /// spec and a JSON file with the learned state, checked for consistency.
    Assemble(assemble::AssembleArgs),
    /// Run a pipeline (sources → logsieve transforms → sinks) from a TOML file.
    Run {
        /// The pipeline file.
        pipeline: PathBuf,
        /// Write the run summary as JSON to this file.
        #[arg(long)]
        summary_json: Option<PathBuf>,
        /// Use this component for every transform instead of the embedded
        /// one (and instead of a transform's own `plugin`).
        #[arg(long)]
        plugin: Option<PathBuf>,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Describe a model artifact: features, scaling, clusters.
    Inspect {
        /// The artifact.
        model: PathBuf,
        /// Machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write one self-contained HTML page about a model and the events it
    /// scored: cluster sizes, a 2-D projection, scores and thresholds, the
    /// sweep over k, the top anomalies, the model.
    Report(report::ReportArgs),
    /// flow2vec: the tokens most similar to a token (cosine similarity).
    Similar {
        /// The flow2vec model.
        model: PathBuf,
        /// The token: the model's features joined with '|', e.g.
        /// 147.32.84.165|147.32.80.9|53|udp.
        token: String,
        /// How many.
        #[arg(long, default_value_t = 10)]
        top: usize,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write the embedded WebAssembly component to a file (for other hosts).
    Component {
        /// Output file.
        #[arg(short, long)]
        output: PathBuf,
    },
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Train(args) => train::train(&args)?,
        Command::Assemble(args) => assemble::assemble(&args)?,
        Command::Evaluate(args) => evaluate::evaluate(&args)?,
        Command::Run { pipeline: path, summary_json, plugin, quiet } => {
            let mut cfg = PipelineConfig::load(&path)?;
            if let Some(p) = plugin {
                cfg.override_plugin(&p);
            }
            let summary = pipeline::run(&cfg, quiet)?;
            if let Some(p) = summary_json {
                std::fs::write(&p, serde_json::to_vec_pretty(&summary)?)
                    .with_context(|| format!("writing {}", p.display()))?;
            }
            if !quiet {
                eprint!("{}", summary.render());
            }
            if let Err(errs) = summary.check() {
                eprintln!("error: the run's counts do not add up:\n  {}", errs.join("\n  "));
                return Ok(ExitCode::from(3));
            }
        }
        Command::Inspect { model, json } => inspect::inspect(&model, json)?,
        Command::Report(args) => {
            report::report(&args)?;
        }
        Command::Similar { model, token, top, json } => similar::similar(&model, &token, top, json)?,
        Command::Component { output } => {
            std::fs::write(&output, runtime::EMBEDDED_COMPONENT)
                .with_context(|| format!("writing {}", output.display()))?;
            let rt = runtime::Runtime::new(runtime::EMBEDDED_COMPONENT, None)?;
            eprintln!(
                "wrote {} ({} bytes): exports [{}], imports [{}]",
                output.display(),
                runtime::EMBEDDED_COMPONENT.len(),
                rt.exports().join(", "),
                rt.imports().join(", ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
