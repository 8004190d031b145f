//! Hosting the logsieve component in wasmtime (component model, no WASI).
//!
//! - [`Runtime`] holds the engine and the compiled component. Compiling a
//!   component with Cranelift takes ~100 ms, so compiled code is cached on
//!   disk (`Engine::precompile_component`), keyed by the component's SHA-256
//!   and the engine's compatibility hash; later runs load it in well under a
//!   millisecond.
//! - [`Instance`] is one instantiated component with one loaded model: the
//!   host calls `score-lines` (the pipeline), `extract-batch` (the
//!   trainer), or the component's `reader` on it.
//!
//! The component imports nothing, so the linker is empty.
//!
//! # Guest faults
//!
//! Every instance runs under [`Limits`]: its linear memory may not grow past
//! `memory_bytes` (a [`wasmtime::ResourceLimiter`]), and one call may not
//! run longer than `call_timeout` (epoch interruption: a ticker thread
//! advances the engine's epoch every [`TICK`]). The epoch checks cost the
//! guest about a tenth of its instructions and time when scoring, so a
//! runtime made with
//! [`Deadlines::Off`] (`batch_timeout_ms = 0`) compiles the component
//! without them: faster, but a call that never ends is not stopped. A call that traps, runs past
//! its deadline or hits the memory limit returns a [`GuestFault`] (inside
//! the `anyhow::Error`; `downcast_ref::<GuestFault>()`), and the instance
//! has already been re-created from the same model: the caller accounts for
//! the batch and goes on. State held in the guest (open windows, sequences)
//! is lost with the old instance; [`Instance::restarts`] counts them.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use logsieve_artifact::DecodeError;
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker, ResourceAny};
use wasmtime::{Config, Engine, ResourceLimiter, Store, Trap};

/// The bindings of the WIT contract (their documentation is the WIT file's).
#[allow(missing_docs)]
mod bindings {
    wasmtime::component::bindgen!({
        path: "wit/logsieve.wit",
        world: "plugin",
    });
}
use bindings::{Plugin, exports};

use exports::logsieve::transform::scoring as wit;
pub use wit::{
    Encoded, EncodedLines, EventError, Extracted, ExtractedBatch, FeatureValue, LineOutcome, ModelError, ModelInfo,
    Options, Outcome, ReadError, ReadLines, Reasons, ScoredBatch, ScoredJson, ScoredLine, ScoredLines, ScoredText,
    StateStats, TextOutcome, Verdict,
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

/// How often the epoch advances: the granularity of call deadlines.
pub const TICK: Duration = Duration::from_millis(10);

/// What one instance may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The guest's linear memory may not grow past this many bytes.
    pub memory_bytes: usize,
    /// One call into the guest (a batch) may not run longer than this
    /// (ignored by a runtime made with [`Deadlines::Off`]).
    pub call_timeout: Duration,
}

/// Whether calls into the guest can be interrupted at a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Deadlines {
    /// Epoch interruption compiled in: [`Limits::call_timeout`] holds.
    #[default]
    On,
    /// No interruption checks in the compiled code: about 10 % faster per
    /// event; a runaway call is not stopped (the memory limit still is).
    Off,
}

impl Default for Limits {
    /// 1 GiB of memory, 10 s per call: far above what a batch of 1000
    /// events needs (a few MiB, a few ms), low enough to stop a runaway.
    fn default() -> Self {
        Limits { memory_bytes: 1 << 30, call_timeout: Duration::from_secs(10) }
    }
}

/// Why a call into the guest failed. The instance has been re-created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestFault {
    /// `guest_trap`, `guest_timeout` or `guest_memory_limit`.
    pub reason: &'static str,
    /// What happened, for people.
    pub detail: String,
}

impl std::fmt::Display for GuestFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.reason, self.detail)
    }
}

impl std::error::Error for GuestFault {}

/// The reasons a [`GuestFault`] can carry.
pub mod fault {
    /// The guest trapped (a panic in the plugin, an out-of-bounds access…).
    pub const TRAP: &str = "guest_trap";
    /// The call ran past its deadline (`Limits::call_timeout`).
    pub const TIMEOUT: &str = "guest_timeout";
    /// The guest tried to grow its memory past `Limits::memory_bytes`.
    pub const MEMORY_LIMIT: &str = "guest_memory_limit";

    /// Every fault reason.
    pub const ALL: [&str; 3] = [TRAP, TIMEOUT, MEMORY_LIMIT];
}

/// A store's data: the limits, and whether the limiter refused memory.
pub struct StoreState {
    limits: Limits,
    /// The size the guest asked for when it was refused.
    memory_refused: Option<usize>,
}

impl ResourceLimiter for StoreState {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.limits.memory_bytes {
            self.memory_refused = Some(desired);
            // An error (rather than `false`) traps at the `memory.grow`, so
            // the guest cannot mistake it for a recoverable shortage.
            return Err(wasmtime::Error::msg(format!(
                "memory limit: the guest asked to grow from {} to {} MiB, over its limit of {} MiB",
                current >> 20,
                desired >> 20,
                self.limits.memory_bytes >> 20
            )));
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

/// Advances an engine's epoch every [`TICK`] until dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Ticker {
    fn start(engine: &Engine) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let (engine, flag) = (engine.clone(), stop.clone());
        std::thread::Builder::new()
            .name("logsieve-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    engine.increment_epoch();
                }
            })
            .expect("starting the epoch thread");
        Ticker { stop }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The engine and the compiled component. Cloning is cheap (shared).
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    component: Component,
    linker: Linker<StoreState>,
    _ticker: Option<Arc<Ticker>>,
    deadlines: Deadlines,
    /// How the component was obtained.
    pub loaded_from: LoadedFrom,
    /// Time to obtain the compiled component, in milliseconds.
    pub load_ms: f64,
}

impl Runtime {
    /// The engine configuration every logsieve host uses. Precompiled files
    /// only load into an engine with the same settings.
    pub fn engine() -> Result<Engine> {
        Self::engine_with(Deadlines::On)
    }

    /// [`Runtime::engine`], with or without deadlines.
    pub fn engine_with(deadlines: Deadlines) -> Result<Engine> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(deadlines == Deadlines::On);
        // `LOGSIEVE_PROFILE=perfmap`: write /tmp/perf-<pid>.map so `perf
        // report` names the guest's functions (for profiling only).
        if std::env::var_os("LOGSIEVE_PROFILE").is_some_and(|v| v == "perfmap") {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        Ok(Engine::new(&config)?)
    }

    /// Compile (or load from the cache) a component.
    pub fn new(component_bytes: &[u8], cache_dir: Option<&Path>) -> Result<Runtime> {
        Self::new_with(component_bytes, cache_dir, Deadlines::On)
    }

    /// [`Runtime::new`], with or without deadlines.
    pub fn new_with(component_bytes: &[u8], cache_dir: Option<&Path>, deadlines: Deadlines) -> Result<Runtime> {
        let t0 = Instant::now();
        let engine = Self::engine_with(deadlines)?;
        let (component, loaded_from) = match cache_dir {
            Some(dir) => load_cached(&engine, component_bytes, dir)?,
            None => (compile(&engine, component_bytes)?, LoadedFrom::Compiled),
        };
        let linker = Linker::new(&engine);
        let _ticker = (deadlines == Deadlines::On).then(|| Arc::new(Ticker::start(&engine)));
        Ok(Runtime {
            engine,
            component,
            linker,
            _ticker,
            deadlines,
            loaded_from,
            load_ms: t0.elapsed().as_secs_f64() * 1e3,
        })
    }

    /// The embedded component, with the default cache.
    pub fn embedded() -> Result<Runtime> {
        Self::new(EMBEDDED_COMPONENT, default_cache_dir().as_deref())
    }

    /// Whether calls can be interrupted at a deadline.
    pub fn deadlines(&self) -> Deadlines {
        self.deadlines
    }

    /// Names of the component's imports (empty for logsieve's own).
    pub fn imports(&self) -> Vec<String> {
        self.component.component_type().imports(&self.engine).map(|(name, _)| name.to_string()).collect()
    }

    /// Names of the component's exports.
    pub fn exports(&self) -> Vec<String> {
        self.component.component_type().exports(&self.engine).map(|(name, _)| name.to_string()).collect()
    }

    /// Instantiate the component and load a model into it, with the default
    /// [`Limits`]. The outer error is a host/wasm failure; the inner one is
    /// the component refusing the model.
    pub fn instantiate(&self, model: &[u8], options: Options) -> Result<std::result::Result<Instance, ModelError>> {
        self.instantiate_with(Arc::from(model), options, Limits::default())
    }

    /// [`Runtime::instantiate`] with explicit limits.
    pub fn instantiate_with(
        &self,
        model: Arc<[u8]>,
        options: Options,
        limits: Limits,
    ) -> Result<std::result::Result<Instance, ModelError>> {
        let (store, bindings, handle) = match self.start(&model, options, limits)? {
            Ok(parts) => parts,
            Err(e) => return Ok(Err(e)),
        };
        Ok(Ok(Instance { runtime: self.clone(), model, options, limits, store, bindings, handle, restarts: 0 }))
    }

    /// A new store, instance and scorer.
    #[allow(clippy::type_complexity)]
    fn start(
        &self,
        model: &[u8],
        options: Options,
        limits: Limits,
    ) -> Result<std::result::Result<(Store<StoreState>, Plugin, ResourceAny), ModelError>> {
        let mut store = Store::new(&self.engine, StoreState { limits, memory_refused: None });
        store.limiter(|s| s);
        if self.deadlines == Deadlines::On {
            store.set_epoch_deadline(deadline_ticks(limits.call_timeout));
        }
        let bindings = Plugin::instantiate(&mut store, &self.component, &self.linker)
            .map_err(anyhow::Error::from)
            .context("instantiating the logsieve component")?;
        let scorer = bindings.logsieve_transform_scoring().scorer();
        match scorer.call_constructor(&mut store, model, options) {
            Ok(Ok(handle)) => Ok(Ok((store, bindings, handle))),
            Ok(Err(e)) => Ok(Err(e)),
            Err(e) => Err(anyhow::Error::from(classify(&store, e))).context("loading the model into the component"),
        }
    }
}

/// Epoch ticks for a timeout (at least one).
fn deadline_ticks(timeout: Duration) -> u64 {
    (timeout.as_nanos().div_ceil(TICK.as_nanos()) as u64).max(1)
}

/// Name what made a call fail.
fn classify(store: &Store<StoreState>, e: wasmtime::Error) -> GuestFault {
    if let Some(desired) = store.data().memory_refused {
        return GuestFault {
            reason: fault::MEMORY_LIMIT,
            detail: format!(
                "the component asked for {} MiB of memory, over its limit of {} MiB (memory_limit_mb)",
                desired.div_ceil(1 << 20),
                store.data().limits.memory_bytes >> 20
            ),
        };
    }
    if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return GuestFault {
            reason: fault::TIMEOUT,
            detail: format!(
                "the call ran past its deadline of {} ms (batch_timeout_ms) and was interrupted",
                store.data().limits.call_timeout.as_millis()
            ),
        };
    }
    GuestFault { reason: fault::TRAP, detail: format!("the component trapped: {}", one_line(&e)) }
}

/// An error and its causes on one line.
fn one_line(e: &wasmtime::Error) -> String {
    e.chain().map(|c| c.to_string().replace('\n', " ")).collect::<Vec<_>>().join(": ")
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

/// One instantiated component with a loaded model, running under
/// [`Limits`]. A call that faults returns the [`GuestFault`] and leaves the
/// instance re-created from the same model (see the module docs).
pub struct Instance {
    runtime: Runtime,
    model: Arc<[u8]>,
    options: Options,
    limits: Limits,
    store: Store<StoreState>,
    bindings: Plugin,
    handle: ResourceAny,
    restarts: u64,
}

impl Instance {
    /// Times the instance was re-created after a fault.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// The limits it runs under.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Call into the guest with a fresh deadline; on a fault, re-create the
    /// instance and return the fault.
    fn call<R>(
        &mut self,
        f: impl FnOnce(&mut Store<StoreState>, &Plugin, ResourceAny) -> wasmtime::Result<R>,
    ) -> Result<R> {
        if self.runtime.deadlines == Deadlines::On {
            self.store.set_epoch_deadline(deadline_ticks(self.limits.call_timeout));
        }
        let handle = self.handle;
        match f(&mut self.store, &self.bindings, handle) {
            Ok(r) => Ok(r),
            Err(e) => {
                let fault = classify(&self.store, e);
                self.restart().with_context(|| format!("re-creating the component after {fault}"))?;
                Err(fault.into())
            }
        }
    }

    /// Replace the store, instance and scorer by new ones from the same
    /// model. The old instance's state is dropped with it.
    fn restart(&mut self) -> Result<()> {
        let (store, bindings, handle) = self
            .runtime
            .start(&self.model, self.options, self.limits)?
            .map_err(|e| anyhow!("the model was refused on restart: {}", describe(&e)))?;
        // The old store goes as a whole; its resource table with it.
        self.store = store;
        self.bindings = bindings;
        self.handle = handle;
        self.restarts += 1;
        Ok(())
    }

    /// Describe the loaded model.
    pub fn info(&mut self) -> Result<ModelInfo> {
        self.call(|store, b, h| b.logsieve_transform_scoring().scorer().call_info(store, h))
    }

    /// Score a batch: one outcome per event, plus aggregates emitted.
    pub fn score_batch(&mut self, events: &[String]) -> Result<ScoredBatch> {
        self.call(|store, b, h| b.logsieve_transform_scoring().scorer().call_score_batch(store, h, events))
    }

    /// Score a batch given as NDJSON text, one event per line: the scored
    /// texts in one string, each outcome with its verdict.
    pub fn score_lines(&mut self, events: &str) -> Result<ScoredLines> {
        self.call(|store, b, h| b.logsieve_transform_scoring().scorer().call_score_lines(store, h, events))
    }

    /// End of input: aggregates of the windows still open, scored.
    pub fn flush_lines(&mut self) -> Result<ScoredLines> {
        self.call(|store, b, h| b.logsieve_transform_scoring().scorer().call_flush_lines(store, h))
    }

    /// [`Self::score_lines`] with the outcomes and verdicts as one JSON
    /// text (the 0.5 call the npm and Python packages make).
    pub fn score_json(&mut self, events: &str) -> Result<ScoredJson> {
        self.call(|store, b, h| b.logsieve_transform_scoring().scorer().call_score_json(store, h, events))
    }

    /// [`Self::flush_lines`] as [`Self::score_json`] gives it.
    pub fn flush_json(&mut self) -> Result<ScoredJson> {
        self.call(|store, b, h| b.logsieve_transform_scoring().scorer().call_flush_json(store, h))
    }

    /// The vectors the model measures distances on, for a batch as
    /// [`Self::score_lines`] takes it.
    pub fn encode_lines(&mut self, events: &str) -> Result<EncodedLines> {
        self.call(|store, b, h| b.logsieve_transform_scoring().scorer().call_encode_lines(store, h, events))
    }

    /// The 0.3 call: [`Self::score_lines`] without verdicts.
    pub fn score_text(&mut self, events: &str) -> Result<ScoredText> {
        self.call(|store, b, h| b.logsieve_transform_scoring().scorer().call_score_text(store, h, events))
    }

    /// The 0.3 call: [`Self::flush_lines`] without verdicts.
    pub fn flush(&mut self) -> Result<Vec<std::result::Result<String, EventError>>> {
        self.call(|store, b, h| b.logsieve_transform_scoring().scorer().call_flush(store, h))
    }

    /// Extract features of a batch.
    pub fn extract_batch(&mut self, events: &[String]) -> Result<ExtractedBatch> {
        self.call(|store, b, h| b.logsieve_transform_scoring().scorer().call_extract_batch(store, h, events))
    }

    /// End of input for extraction.
    pub fn flush_extract(&mut self) -> Result<Vec<std::result::Result<Vec<FeatureValue>, EventError>>> {
        self.call(|store, b, h| b.logsieve_transform_scoring().scorer().call_flush_extract(store, h))
    }

    /// Window counters.
    pub fn stats(&mut self) -> Result<StateStats> {
        self.call(|store, b, h| b.logsieve_transform_scoring().scorer().call_stats(store, h))
    }

    /// A log reader in this instance (WIT `reader`) for one input in
    /// `format`; the inner `Err` is the component refusing the format. A
    /// fault re-creates the instance and loses its readers.
    pub fn reader(&mut self, format: &str) -> Result<std::result::Result<LogReader, String>> {
        let made = self.call(|store, b, _| b.logsieve_transform_scoring().reader().call_constructor(store, format))?;
        Ok(made.map(LogReader))
    }

    /// The next bytes of a reader's input.
    pub fn read(&mut self, r: &LogReader, bytes: &[u8]) -> Result<ReadLines> {
        self.call(|store, b, _| b.logsieve_transform_scoring().reader().call_read(store, r.0, bytes))
    }

    /// The next bytes of a reader's input, valid UTF-8, as a string.
    pub fn read_text(&mut self, r: &LogReader, text: &str) -> Result<ReadLines> {
        self.call(|store, b, _| b.logsieve_transform_scoring().reader().call_read_text(store, r.0, text))
    }

    /// The end of a reader's input.
    pub fn finish_reading(&mut self, r: &LogReader) -> Result<ReadLines> {
        self.call(|store, b, _| b.logsieve_transform_scoring().reader().call_finish(store, r.0))
    }
}

/// A log reader in an [`Instance`] (the WIT resource `reader`).
#[derive(Debug)]
pub struct LogReader(ResourceAny);

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.handle.resource_drop(&mut self.store);
    }
}

/// A refused model, said for people: as the artifact's own decoder says it
/// (the WIT `model-error` is its [`DecodeError`] across the boundary).
pub fn describe(e: &ModelError) -> String {
    let e = match e.clone() {
        ModelError::Truncated(d) => DecodeError::Truncated(d),
        ModelError::Foreign(d) => DecodeError::Foreign(d),
        ModelError::UnsupportedVersion(v) => DecodeError::UnsupportedVersion { found: v.found, supported: v.supported },
        ModelError::Corrupted(d) => DecodeError::Corrupted(d),
        ModelError::Invalid(d) => DecodeError::Invalid(d),
    };
    e.to_string()
}

/// Load a component from a file, or the embedded one.
pub fn load(plugin: Option<&Path>) -> Result<Runtime> {
    load_with(plugin, Deadlines::On)
}

/// [`load`], with or without deadlines.
pub fn load_with(plugin: Option<&Path>, deadlines: Deadlines) -> Result<Runtime> {
    match plugin {
        None => Runtime::new_with(EMBEDDED_COMPONENT, default_cache_dir().as_deref(), deadlines),
        Some(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("reading the component {}", p.display()))?;
            Runtime::new_with(&bytes, default_cache_dir().as_deref(), deadlines)
                .with_context(|| format!("loading the component {}", p.display()))
        }
    }
}

/// Instantiate with a model, turning a refused model into an error that
/// names the file.
pub fn instantiate_model(rt: &Runtime, model: &[u8], model_path: &Path, options: Options) -> Result<Instance> {
    rt.instantiate(model, options)?.map_err(|e| anyhow!("{}: {}", model_path.display(), describe(&e)))
}
