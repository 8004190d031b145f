//! `logsieve`: train clustering models on logs, score events inline, inspect models.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use logsieve::commands::{assemble, evaluate, fluent_bit, inspect, report, similar, train, validate};
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
    #[command(
        after_help = "Example:\n  logsieve train --spec pipeline-examples/conn-kmeans/model.toml \\\n      --input 'logs/conn.*.log.gz' -o conn.model.msgpack"
    )]
    Train(train::TrainArgs),
    /// Measure detection on labelled logs: score them with a model (or
    /// train one on part of the negatives, as the detection baseline does)
    /// and report ROC AUC, average precision, precision@k and the flags'
    /// true- and false-positive rates.
    #[command(
        after_help = "Example:\n  logsieve evaluate --model conn.model.msgpack --input 'labelled/*.log.gz' \\\n      --label-field label --positive Malicious --json"
    )]
    Evaluate(evaluate::EvaluateArgs),
    /// Write a model artifact from parts fitted elsewhere (e.g. Spark): the
    /// spec and a JSON file with the learned state, checked for consistency.
    #[command(
        after_help = "Example:\n  logsieve assemble --spec model.toml --state spark-state.json -o conn.model.msgpack"
    )]
    Assemble(assemble::AssembleArgs),
    /// Check a pipeline file without running it: environment variables,
    /// TOML syntax, keys, topology, paths, input globs, components and
    /// models, every problem at once (status 2), no output touched.
    #[command(after_help = "Example:\n  logsieve validate pipeline.toml")]
    Validate {
        /// The pipeline file.
        pipeline: PathBuf,
    },
    /// Run a pipeline (sources → logsieve transforms → sinks) from a TOML file.
    #[command(after_help = "Example:\n  logsieve run pipeline.toml --summary-json summary.json --stats-interval 10")]
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
        /// Score with this many component instances in every transform
        /// (instead of each transform's `threads`; 1 to 256).
        #[arg(long, value_name = "N")]
        threads: Option<usize>,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
        /// Exit with status 4 when a transform's errors / events in is
        /// above this (0 to 1; default: partial errors never fail a run).
        #[arg(long, value_name = "R", value_parser = ratio)]
        max_error_ratio: Option<f64>,
        /// Print the counts so far on stderr every this many seconds
        /// (per transform: events in and the rate, scored, errors,
        /// anomalies), also with --quiet.
        #[arg(long, value_name = "SECONDS", value_parser = seconds)]
        stats_interval: Option<std::time::Duration>,
    },
    /// Describe a model artifact: features, scaling, clusters.
    #[command(after_help = "Example:\n  logsieve inspect conn.model.msgpack --json")]
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
    #[command(
        after_help = "Example:\n  logsieve report --model conn.model.msgpack --scored out/scored.ndjson -o report.html"
    )]
    Report(report::ReportArgs),
    /// flow2vec: the tokens most similar to a token (cosine similarity).
    #[command(
        after_help = "Example:\n  logsieve similar flows.model.msgpack '147.32.84.165|147.32.80.9|53|udp' --top 5"
    )]
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
    /// Write the Fluent Bit filter (a core wasm module for `filter_wasm`,
    /// WASI preview 1) with a model's path written into it; see
    /// docs/fluent-bit.md.
    #[command(
        after_help = "Example:\n  logsieve fluent-bit --model /etc/logsieve/conn.model.msgpack -o /etc/logsieve/logsieve_filter.wasm"
    )]
    FluentBit(fluent_bit::FluentBitArgs),
    /// Print a shell completion script, e.g.
    /// `logsieve completions bash > /etc/bash_completion.d/logsieve`.
    #[command(after_help = "Example:\n  logsieve completions bash > /etc/bash_completion.d/logsieve")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Write the manual pages (`logsieve.1`, `logsieve-run.1`, …) into a
    /// folder, e.g. `logsieve man -o /usr/local/share/man/man1`; without
    /// `-o`, print `logsieve.1` on stdout (`logsieve man | man -l -`).
    #[command(after_help = "Example:\n  logsieve man -o /usr/local/share/man/man1")]
    Man {
        /// The folder to write the pages into.
        #[arg(short = 'o', long = "out", visible_alias = "output")]
        output: Option<PathBuf>,
    },
    /// Write the embedded WebAssembly component to a file (for other hosts).
    #[command(after_help = "Example:\n  logsieve component -o logsieve.wasm")]
    Component {
        /// Output file.
        #[arg(short = 'o', long = "out", visible_alias = "output")]
        output: PathBuf,
    },
}

/// `--max-error-ratio`: a number from 0 to 1.
fn ratio(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("{s:?} is not a ratio from 0 to 1")),
    }
}

/// `--stats-interval`: a number of seconds, 0.1 to 86,400.
fn seconds(s: &str) -> Result<std::time::Duration, String> {
    match s.parse::<f64>() {
        Ok(x) if (0.1..=86_400.0).contains(&x) => Ok(std::time::Duration::from_secs_f64(x)),
        _ => Err(format!("{s:?} is not a number of seconds from 0.1 to 86400")),
    }
}

/// SIGTERM and SIGINT set `stop` to their number: the run stops reading,
/// scores and writes what it read and ends as usual; a second one exits at
/// once (128 + its number).
fn on_signals(stop: &Arc<AtomicUsize>) -> Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let seen = Arc::new(AtomicBool::new(false));
    for sig in [SIGTERM, SIGINT] {
        signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&seen))?;
        signal_hook::flag::register(sig, Arc::clone(&seen))?;
        signal_hook::flag::register_usize(sig, Arc::clone(stop), sig as usize)?;
    }
    Ok(())
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

/// Diagnostics (`tracing`) on stderr: warnings by default, errors only
/// with `--quiet`; `RUST_LOG` (an `EnvFilter`, e.g. `debug` or
/// `logsieve=info`) overrides both.
fn init_logging(quiet: bool) {
    let default = if quiet { "error" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .init();
}

fn real_main() -> Result<ExitCode> {
    let cli = Cli::parse();
    init_logging(match &cli.command {
        Command::Run { quiet, .. } => *quiet,
        Command::Train(a) => a.quiet,
        Command::Evaluate(a) => a.quiet,
        Command::Assemble(a) => a.quiet,
        Command::Report(a) => a.quiet,
        _ => false,
    });
    match cli.command {
        Command::Train(args) => train::train(&args)?,
        Command::Assemble(args) => assemble::assemble(&args)?,
        Command::Evaluate(args) => evaluate::evaluate(&args)?,
        Command::Validate { pipeline } => return validate::validate(&pipeline),
        Command::Run { pipeline: path, summary_json, plugin, threads, quiet, max_error_ratio, stats_interval } => {
            let mut cfg = PipelineConfig::load(&path)?;
            if let Some(p) = plugin {
                cfg.override_plugin(&p);
            }
            if let Some(n) = threads {
                cfg.override_threads(n);
                if let Err(errs) = cfg.validate() {
                    anyhow::bail!("--threads: {}", errs.join("; "));
                }
            }
            let stop = Arc::new(AtomicUsize::new(0));
            on_signals(&stop).context("setting up SIGTERM and SIGINT")?;
            let summary = pipeline::run::run_with(&cfg, quiet, &stop, stats_interval)?;
            if let Some(p) = summary_json {
                std::fs::write(&p, serde_json::to_vec_pretty(&summary)?)
                    .with_context(|| format!("writing {}", p.display()))?;
            }
            if let Some(why) = &summary.failed {
                // The summary up to the failure, then the failure (status 2).
                eprint!("{}", summary.render());
                anyhow::bail!("{why}");
            }
            if !quiet {
                eprint!("{}", summary.render());
                for w in summary.warnings() {
                    eprintln!("{w}");
                }
            }
            if let Err(errs) = summary.check() {
                eprintln!("error: the run's counts do not add up:\n  {}", errs.join("\n  "));
                return Ok(ExitCode::from(3));
            }
            if let Some(max) = max_error_ratio {
                let above = summary.error_ratio_above(max);
                if !above.is_empty() {
                    eprintln!("error: {}", above.join("\n  "));
                    return Ok(ExitCode::from(4));
                }
            }
        }
        Command::Inspect { model, json } => inspect::inspect(&model, json)?,
        Command::Report(args) => {
            report::report(&args)?;
        }
        Command::Similar { model, token, top, json } => similar::similar(&model, &token, top, json)?,
        Command::FluentBit(args) => fluent_bit::fluent_bit(&args)?,
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "logsieve", &mut std::io::stdout());
        }
        Command::Man { output } => {
            let cmd = <Cli as clap::CommandFactory>::command();
            match output {
                Some(dir) => {
                    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
                    clap_mangen::generate_to(cmd, &dir).with_context(|| format!("writing into {}", dir.display()))?;
                    eprintln!("wrote the manual pages into {}", dir.display());
                }
                None => clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?,
            }
        }
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
