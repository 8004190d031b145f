//! Hosting the logsieve component in wasmtime (component model, no WASI).
//!
//! - [`Runtime`] holds the engine and the compiled component. Compiling a
//!   component with Cranelift takes ~100 ms, so compiled code is cached on
//!   disk (`Engine::precompile_component`), keyed by the component's SHA-256
//!   and the engine's compatibility hash; later runs load it in well under a
//!   millisecond.
//! - [`Instance`] is one instantiated component with one loaded model: the
//!   host calls `score-batch` / `extract-batch` on it.
//!
//! The component imports nothing, so the linker is empty.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker, ResourceAny};
use wasmtime::{Config, Engine, Store};

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
});

use exports::logsieve::transform::scoring as wit;
pub use wit::{
    EventError, Extracted, ExtractedBatch, FeatureValue, ModelError, ModelInfo, Options, Outcome, ScoredBatch,
    StateStats,
};

/// The component this binary was built with.
pub static EMBEDDED_COMPONENT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/logsieve.wasm"));

/// Where compiled components are cached: `$LOGSIEVE_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/logsieve`, else `~/.cache/logsieve`. `None` disables.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("LOGSIEVE_CACHE_DIR") {
        return if d.is_empty() { None } else { Some(PathBuf::from(d)) };
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(d).join("logsieve"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/logsieve"))
}

/// How the component was obtained, for `--verbose` and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadedFrom {
    /// Compiled now (and stored in the cache if there is one).
    Compiled,
    /// Loaded precompiled from the cache.
    Cache,
}

/// The engine and the compiled component.
pub struct Runtime {
    engine: Engine,
    component: Component,
    linker: Linker<()>,
    /// How the component was obtained.
    pub loaded_from: LoadedFrom,
    /// Time to obtain the compiled component, in milliseconds.
    pub load_ms: f64,
}

impl Runtime {
    /// The engine configuration every logsieve host uses. Precompiled files
    /// only load into an engine with the same settings.
    pub fn engine() -> Result<Engine> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        Ok(Engine::new(&config)?)
    }

    /// Compile (or load from the cache) a component.
    pub fn new(component_bytes: &[u8], cache_dir: Option<&Path>) -> Result<Runtime> {
        let t0 = Instant::now();
        let engine = Self::engine()?;
        let (component, loaded_from) = match cache_dir {
            Some(dir) => load_cached(&engine, component_bytes, dir)?,
            None => (compile(&engine, component_bytes)?, LoadedFrom::Compiled),
        };
        let linker = Linker::new(&engine);
        Ok(Runtime { engine, component, linker, loaded_from, load_ms: t0.elapsed().as_secs_f64() * 1e3 })
    }

    /// The embedded component, with the default cache.
    pub fn embedded() -> Result<Runtime> {
        Self::new(EMBEDDED_COMPONENT, default_cache_dir().as_deref())
    }

    /// Names of the component's imports (empty for logsieve's own).
    pub fn imports(&self) -> Vec<String> {
        self.component.component_type().imports(&self.engine).map(|(name, _)| name.to_string()).collect()
    }

    /// Names of the component's exports.
    pub fn exports(&self) -> Vec<String> {
        self.component.component_type().exports(&self.engine).map(|(name, _)| name.to_string()).collect()
    }

    /// Instantiate the component and load a model into it. The outer error
    /// is a host/wasm failure; the inner one is the component refusing the
    /// model.
    pub fn instantiate(&self, model: &[u8], options: Options) -> Result<std::result::Result<Instance, ModelError>> {
        let mut store = Store::new(&self.engine, ());
        let bindings = Plugin::instantiate(&mut store, &self.component, &self.linker)
            .map_err(anyhow::Error::from)
            .context("instantiating the logsieve component")?;
        let scorer = bindings.logsieve_transform_scoring().scorer();
        match scorer.call_constructor(&mut store, model, options)? {
            Ok(handle) => Ok(Ok(Instance { store, bindings, handle })),
            Err(e) => Ok(Err(e)),
        }
    }
}

fn compile(engine: &Engine, bytes: &[u8]) -> Result<Component> {
    Component::new(engine, bytes).map_err(anyhow::Error::from).context("compiling the logsieve component")
}

fn cache_key(engine: &Engine, bytes: &[u8]) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{hex}-{:016x}.cwasm", h.finish())
}

fn load_cached(engine: &Engine, bytes: &[u8], dir: &Path) -> Result<(Component, LoadedFrom)> {
    let path = dir.join(cache_key(engine, bytes));
    if path.exists() {
        // SAFETY: the file was written by `precompile_component` of an
        // engine with the same compatibility hash (it is in the name), in
        // the user's own cache directory. wasmtime still checks the header
        // and refuses a file from another version or configuration.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(c) => return Ok((c, LoadedFrom::Cache)),
            Err(_) => {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    let component = compile(engine, bytes)?;
    // The cache is an optimisation: failing to write it is not an error.
    if let Ok(serialized) = component.serialize()
        && std::fs::create_dir_all(dir).is_ok()
    {
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, serialized).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
    Ok((component, LoadedFrom::Compiled))
}

/// One instantiated component with a loaded model.
pub struct Instance {
    store: Store<()>,
    bindings: Plugin,
    handle: ResourceAny,
}

impl Instance {
    /// Describe the loaded model.
    pub fn info(&mut self) -> Result<ModelInfo> {
        let handle = self.handle;
        let s = self.bindings.logsieve_transform_scoring().scorer();
        Ok(s.call_info(&mut self.store, handle)?)
    }

    /// Score a batch: one outcome per event, plus aggregates emitted.
    pub fn score_batch(&mut self, events: &[String]) -> Result<ScoredBatch> {
        let handle = self.handle;
        let s = self.bindings.logsieve_transform_scoring().scorer();
        Ok(s.call_score_batch(&mut self.store, handle, events)?)
    }

    /// End of input: aggregates of the windows still open, scored.
    pub fn flush(&mut self) -> Result<Vec<std::result::Result<String, EventError>>> {
        let handle = self.handle;
        let s = self.bindings.logsieve_transform_scoring().scorer();
        Ok(s.call_flush(&mut self.store, handle)?)
    }

    /// Extract features of a batch.
    pub fn extract_batch(&mut self, events: &[String]) -> Result<ExtractedBatch> {
        let handle = self.handle;
        let s = self.bindings.logsieve_transform_scoring().scorer();
        Ok(s.call_extract_batch(&mut self.store, handle, events)?)
    }

    /// End of input for extraction.
    pub fn flush_extract(&mut self) -> Result<Vec<std::result::Result<Vec<FeatureValue>, EventError>>> {
        let handle = self.handle;
        let s = self.bindings.logsieve_transform_scoring().scorer();
        Ok(s.call_flush_extract(&mut self.store, handle)?)
    }

    /// Window counters.
    pub fn stats(&mut self) -> Result<StateStats> {
        let handle = self.handle;
        let s = self.bindings.logsieve_transform_scoring().scorer();
        Ok(s.call_stats(&mut self.store, handle)?)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.handle.resource_drop(&mut self.store);
    }
}

/// A refused model, said for people (the generated `Display` is terse).
pub fn describe(e: &ModelError) -> String {
    match e {
        ModelError::Truncated(d) => format!("truncated model file: {d}"),
        ModelError::Foreign(d) => format!("not a logsieve model: {d}"),
        ModelError::UnsupportedVersion(v) => format!(
            "model format version {} is newer than this plugin reads (up to {}); upgrade logsieve",
            v.found, v.supported
        ),
        ModelError::Corrupted(d) => format!("corrupted model file: {d}"),
        ModelError::Invalid(d) => format!("invalid model: {d}"),
    }
}

/// Load a component from a file, or the embedded one.
pub fn load(plugin: Option<&Path>) -> Result<Runtime> {
    match plugin {
        None => Runtime::embedded(),
        Some(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("reading the component {}", p.display()))?;
            Runtime::new(&bytes, default_cache_dir().as_deref())
                .with_context(|| format!("loading the component {}", p.display()))
        }
    }
}

/// Instantiate with a model, turning a refused model into an error that
/// names the file.
pub fn instantiate_model(rt: &Runtime, model: &[u8], model_path: &Path, options: Options) -> Result<Instance> {
    rt.instantiate(model, options)?.map_err(|e| anyhow!("{}: {}", model_path.display(), describe(&e)))
}
