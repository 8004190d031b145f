//! The pipeline file (`pipeline.toml`), in Vector's conventions.
//!
//! ```toml
//! [sources.conn]
//! type = "file"                  # or "stdin"
//! path = "logs/conn.*.log.gz"    # a path, a glob, or a list of them
//! format = "auto"                # auto | zeek_tsv | zeek_json | ndjson | csv | tsv
//!
//! [transforms.score]
//! type = "logsieve"
//! inputs = ["conn"]              # sources
//! model = "conn.model.msgpack"
//! # plugin = "other.wasm"        # another component instead of the embedded one
//! # batch_size = 1000            # events per call into the component
//! # top_features = 3
//! # batch_timeout_ms = 10000     # a batch running longer is interrupted (0: no deadline, faster)
//! # memory_limit_mb = 1024       # the component's memory limit
//! # reload_model = true          # switch to a new model file between batches
//!
//! [sinks.scored]
//! type = "file"                  # or "stdout"
//! inputs = ["score"]             # a transform's scored events
//! path = "out/scored.ndjson"
//! # only_anomalies = false
//!
//! [sinks.errors]
//! type = "file"
//! inputs = ["score.errors"]      # the events that failed, with their reason
//! path = "out/errors.ndjson"
//! ```
//!
//! Relative paths are resolved against the pipeline file's folder. Unknown
//! keys are refused with their name; all problems are reported at once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use logsieve_readers::Format;
use serde::Deserialize;

/// The whole pipeline.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Where events come from.
    #[serde(default)]
    pub sources: BTreeMap<String, SourceConfig>,
    /// What scores them.
    #[serde(default)]
    pub transforms: BTreeMap<String, TransformConfig>,
    /// Where they go.
    #[serde(default)]
    pub sinks: BTreeMap<String, SinkConfig>,
}

/// One path or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Paths {
    /// A single path or glob.
    One(String),
    /// Several, read in order.
    Many(Vec<String>),
}

impl Paths {
    /// As a list.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            Paths::One(p) => vec![p.clone()],
            Paths::Many(v) => v.clone(),
        }
    }
}

/// A source's `format`, parsed when the pipeline is read: an unknown name
/// is refused with the names there are.
fn format<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Format, D::Error> {
    let name = String::deserialize(d)?;
    name.parse().map_err(|e: logsieve_readers::UnknownFormat| serde::de::Error::custom(e))
}

/// `[sources.<id>]`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceConfig {
    /// Files: a path, a glob, or a list; read in order, `.gz` transparently.
    File {
        /// Path(s) or glob(s).
        path: Paths,
        /// Input format (default `auto`).
        #[serde(default, deserialize_with = "format")]
        format: Format,
    },
    /// Standard input.
    Stdin {
        /// Input format (default `auto`).
        #[serde(default, deserialize_with = "format")]
        format: Format,
    },
}

const fn default_batch_size() -> usize {
    1000
}
const fn default_top_features() -> u32 {
    3
}

/// `[transforms.<id>]`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TransformConfig {
    /// Score events with the logsieve component.
    Logsieve {
        /// Source ids.
        inputs: Vec<String>,
        /// The model artifact.
        model: PathBuf,
        /// A component file to use instead of the embedded one.
        #[serde(default)]
        plugin: Option<PathBuf>,
        /// Events per call into the component.
        #[serde(default = "default_batch_size")]
        batch_size: usize,
        /// Top contributing features reported per event.
        #[serde(default = "default_top_features")]
        top_features: u32,
        /// Also write the scaled vector (`logsieve.vector`).
        #[serde(default)]
        emit_vector: bool,
        /// One batch may run this long in the component before it is
        /// interrupted (its events go to `<id>.errors`, reason
        /// `guest_timeout`). 0: no deadline; the component is then compiled
        /// without interruption checks, which makes scoring about 10 %
        /// faster (BENCHMARKS.md), and a call that never ends is not stopped.
        #[serde(default = "default_batch_timeout_ms")]
        batch_timeout_ms: u64,
        /// The component's memory may not grow past this (reason
        /// `guest_memory_limit`).
        #[serde(default = "default_memory_limit_mb")]
        memory_limit_mb: u64,
        /// Watch the model file and switch to a new one between batches
        /// (write it elsewhere and rename it over the old one). A new model
        /// that is refused leaves the old one serving.
        #[serde(default = "default_true")]
        reload_model: bool,
    },
}

const fn default_batch_timeout_ms() -> u64 {
    10_000
}
const fn default_memory_limit_mb() -> u64 {
    1024
}
const fn default_true() -> bool {
    true
}

/// `[sinks.<id>]`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SinkConfig {
    /// An NDJSON file (created, parent folders too; truncated if present).
    File {
        /// Transform outputs: `<id>` (scored) or `<id>.errors`.
        inputs: Vec<String>,
        /// The file.
        path: PathBuf,
        /// Keep only anomalous events (errors always pass).
        #[serde(default)]
        only_anomalies: bool,
    },
    /// NDJSON on standard output.
    Stdout {
        /// Transform outputs.
        inputs: Vec<String>,
        /// Keep only anomalous events.
        #[serde(default)]
        only_anomalies: bool,
    },
}

impl SinkConfig {
    /// The sink's inputs.
    pub fn inputs(&self) -> &[String] {
        match self {
            SinkConfig::File { inputs, .. } | SinkConfig::Stdout { inputs, .. } => inputs,
        }
    }
}

/// The suffix of a transform's errors output.
pub const ERRORS_SUFFIX: &str = ".errors";

impl PipelineConfig {
    /// Read, parse and validate a pipeline file; relative paths become
    /// relative to its folder.
    pub fn load(path: &Path) -> Result<PipelineConfig> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut cfg: PipelineConfig = toml::from_str(&text).with_context(|| format!("in {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        cfg.resolve(base);
        if let Err(errs) = cfg.validate() {
            bail!("{} has {} problem(s):\n  - {}", path.display(), errs.len(), errs.join("\n  - "));
        }
        Ok(cfg)
    }

    fn resolve(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        let fix_str = |s: &String| {
            if Path::new(s).is_relative() { base.join(s).to_string_lossy().into_owned() } else { s.clone() }
        };
        for s in self.sources.values_mut() {
            if let SourceConfig::File { path, .. } = s {
                *path = match path {
                    Paths::One(p) => Paths::One(fix_str(p)),
                    Paths::Many(v) => Paths::Many(v.iter().map(fix_str).collect()),
                };
            }
        }
        for t in self.transforms.values_mut() {
            let TransformConfig::Logsieve { model, plugin, .. } = t;
            fix(model);
            if let Some(p) = plugin {
                fix(p);
            }
        }
        for s in self.sinks.values_mut() {
            if let SinkConfig::File { path, .. } = s {
                fix(path);
            }
        }
    }

    /// Use one component file for every transform (`logsieve run --plugin`).
    pub fn override_plugin(&mut self, path: &Path) {
        for t in self.transforms.values_mut() {
            let TransformConfig::Logsieve { plugin, .. } = t;
            *plugin = Some(path.to_path_buf());
        }
    }

    /// Check the topology; every problem is listed.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut errs = Vec::new();
        if self.sources.is_empty() {
            errs.push("no [sources.*] defined".to_string());
        }
        if self.sinks.is_empty() {
            errs.push("no [sinks.*] defined".to_string());
        }
        for id in self.sources.keys() {
            let taken = self.transforms.values().any(|t| {
                let TransformConfig::Logsieve { inputs, .. } = t;
                inputs.contains(id)
            });
            if !taken {
                errs.push(format!("sources.{id}: no transform takes it (its events would go nowhere)"));
            }
        }
        for (id, t) in &self.transforms {
            let TransformConfig::Logsieve { inputs, batch_size, memory_limit_mb, .. } = t;
            if !(1..=4096).contains(memory_limit_mb) {
                errs.push(format!(
                    "transforms.{id}: memory_limit_mb must be between 1 and 4096 (a wasm32 memory holds 4 GiB)"
                ));
            }
            if inputs.is_empty() {
                errs.push(format!("transforms.{id}: `inputs` is empty"));
            }
            for i in inputs {
                if !self.sources.contains_key(i) {
                    errs.push(format!(
                        "transforms.{id}: input '{i}' is not a source (sources: {})",
                        self.list_sources()
                    ));
                }
            }
            if *batch_size == 0 {
                errs.push(format!("transforms.{id}: batch_size must be at least 1"));
            }
            if id.contains('.') {
                errs.push(format!("transforms.{id}: ids may not contain '.'"));
            }
        }
        for (id, s) in &self.sinks {
            if s.inputs().is_empty() {
                errs.push(format!("sinks.{id}: `inputs` is empty"));
            }
            for i in s.inputs() {
                let t = i.strip_suffix(ERRORS_SUFFIX).unwrap_or(i);
                if !self.transforms.contains_key(t) {
                    let hint = if self.sources.contains_key(i) {
                        " (it is a source; sinks take a transform's output `<id>` or `<id>.errors`)".to_string()
                    } else {
                        format!(" (outputs: {})", self.list_outputs())
                    };
                    errs.push(format!("sinks.{id}: input '{i}' is not a transform output{hint}"));
                }
            }
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }

    fn list_sources(&self) -> String {
        self.sources.keys().cloned().collect::<Vec<_>>().join(", ")
    }

    fn list_outputs(&self) -> String {
        self.transforms.keys().flat_map(|t| [t.clone(), format!("{t}{ERRORS_SUFFIX}")]).collect::<Vec<_>>().join(", ")
    }
}
