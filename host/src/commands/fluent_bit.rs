//! `logsieve fluent-bit`: write the Fluent Bit filter module (a core wasm
//! module for `filter_wasm`, WASI preview 1) with a model's path written
//! into it. See `docs/fluent-bit.md` and the `fluent-bit/` crate.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use logsieve_fluent_bit::{Config, load_model, patch};
use logsieve_plugin::Options;

/// The filter module this binary was built with, its configuration block
/// unwritten (`host/build.rs` builds it from `fluent-bit/`).
pub static EMBEDDED_FLUENT_BIT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/logsieve_filter.wasm"));

/// The function Fluent Bit's `Function_Name` must name.
pub const FUNCTION_NAME: &str = "logsieve_filter";

/// `logsieve fluent-bit`'s arguments.
#[derive(Args, Debug)]
pub struct FluentBitArgs {
    /// The model, as the filter will open it inside Fluent Bit: an absolute
    /// path whose folder is in the filter's `Accessible_Paths`. It is read
    /// and checked now, with the same decoder the filter runs.
    #[arg(long)]
    pub model: PathBuf,
    /// Output file (the module to name in `WASM_Path`).
    #[arg(short = 'o', long = "out", visible_alias = "output")]
    pub output: PathBuf,
    /// Features explained per scored record (a pipeline's `top_features`).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub top_features: u32,
    /// Also write the scaled vector (a pipeline's `emit_vector`).
    #[arg(long)]
    pub emit_vector: bool,
}

/// Check the model, write the module, say what to configure.
pub fn fluent_bit(args: &FluentBitArgs) -> Result<()> {
    let Some(path) = args.model.to_str() else {
        bail!("the model path {} is not UTF-8; the filter reads paths as UTF-8", args.model.display());
    };
    // The path must fit in the module before anything else is worth doing.
    let config = Config { model: path.to_string(), top_features: args.top_features, emit_vector: args.emit_vector };
    let module = patch(EMBEDDED_FLUENT_BIT, &config).map_err(|e| anyhow::anyhow!("--model: {e}"))?;
    let bytes = crate::model_file::read_model(&args.model)?;
    let options = Options { top_features: args.top_features, emit_vector: args.emit_vector };
    let scorer = load_model(&bytes, options).map_err(|e| anyhow::anyhow!("{}: {e}", args.model.display()))?;
    std::fs::write(&args.output, &module).with_context(|| format!("writing {}", args.output.display()))?;
    let folder = Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    eprintln!(
        "wrote {} ({} bytes) for model {} ({}, id {})\n\
         Fluent Bit: [FILTER] Name wasm, Event_Format json, WASM_Path {}, Function_Name {FUNCTION_NAME}, \
         Accessible_Paths {} (see docs/fluent-bit.md)",
        args.output.display(),
        module.len(),
        path,
        scorer.info().kind,
        scorer.id(),
        args.output.display(),
        folder.display(),
    );
    if Path::new(path).is_relative() {
        tracing::warn!(
            "the model path is relative; inside Fluent Bit it is opened relative to the filter's \
             preopened folders: prefer an absolute path"
        );
    }
    Ok(())
}
