//! Scores one NDJSON file with one path, for profilers: the instruction
//! counts of `valgrind --tool=callgrind` are repeatable on this shared
//! machine where wall times are not.
//!
//!     cargo bench -p logsieve --bench score_profile -- native|component|component-no-deadline MODEL EVENTS.ndjson [PASSES] [BATCH]
//!
//! `native` runs `logsieve_plugin::Scorer::score_lines`, `component` the
//! embedded component's `score-lines` in wasmtime (`component-no-deadline`:
//! compiled without epoch checks, as `batch_timeout_ms = 0`); PASSES (default 1) passes
//! over the file in batches of BATCH (default 1000) events, each pass ending
//! with a flush (as `bench/scoring.rs` does: a per-key model starts every
//! pass with no open entry). Prints the
//! events scored and the best pass. Compare two PASSES counts to take the
//! start-up (compiling the component, loading the model) out of a total.
//!
//! `LOGSIEVE_PROFILE_CORE=core.wasm` scores through a component encoded from
//! that core module instead of the embedded one. Built with its function
//! names kept, `perf` (`LOGSIEVE_PROFILE=perfmap`) names the guest's
//! functions:
//!
//!     CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128" \
//!     CARGO_PROFILE_PLUGIN_STRIP=debuginfo cargo build -p logsieve-plugin --lib \
//!       --target wasm32-unknown-unknown --profile plugin --target-dir target/plugin-names

use std::time::Instant;

use logsieve::runtime::{Deadlines, EMBEDDED_COMPONENT, Options, Runtime};
use logsieve_plugin::Scorer;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let usage = "usage: score_profile native|component|component-no-deadline MODEL EVENTS.ndjson [PASSES] [BATCH]";
    let [mode, model, events, rest @ ..] = args.as_slice() else { panic!("{usage}") };
    let passes: usize = rest.first().map_or(1, |p| p.parse().expect(usage));
    let batch: usize = rest.get(1).map_or(1000, |p| p.parse().expect(usage));
    let model = std::fs::read(model).unwrap_or_else(|e| panic!("{model}: {e}"));
    let text = std::fs::read_to_string(events).unwrap_or_else(|e| panic!("{events}: {e}"));
    let lines: Vec<&str> = text.lines().collect();
    let texts: Vec<String> = lines.chunks(batch).map(|c| c.join("\n") + "\n").collect();
    let opts = Options { top_features: 3, emit_vector: false };
    let mut best = f64::INFINITY;
    let mut scored = 0usize;
    match mode.as_str() {
        "native" => {
            let mut s = Scorer::new(&model, logsieve_plugin::Options { top_features: 3, emit_vector: false })
                .expect("the model loads");
            for _ in 0..passes {
                let t = Instant::now();
                for b in &texts {
                    scored += s.score_lines(b).outcomes.len();
                }
                s.flush_lines();
                best = best.min(t.elapsed().as_secs_f64());
            }
        }
        "component" | "component-no-deadline" => {
            let deadlines = if mode == "component" { Deadlines::On } else { Deadlines::Off };
            let component = match std::env::var_os("LOGSIEVE_PROFILE_CORE") {
                Some(core) => {
                    let module = std::fs::read(&core).expect("reading LOGSIEVE_PROFILE_CORE");
                    wit_component::ComponentEncoder::default()
                        .module(&module)
                        .and_then(|e| e.validate(true).encode())
                        .expect("encoding LOGSIEVE_PROFILE_CORE as a component")
                }
                None => EMBEDDED_COMPONENT.to_vec(),
            };
            // `LOGSIEVE_DUMP_CWASM=file`: also write the compiled code (an ELF
            // file: `objdump -d` shows what Cranelift made of the guest).
            if let Some(path) = std::env::var_os("LOGSIEVE_DUMP_CWASM") {
                let engine = Runtime::engine_with(deadlines).expect("an engine");
                std::fs::write(path, engine.precompile_component(&component).expect("compiles")).expect("writes");
            }
            let rt = Runtime::new_with(&component, None, deadlines).expect("the component compiles");
            let mut inst = rt.instantiate(&model, opts).unwrap().expect("the model loads");
            for _ in 0..passes {
                let t = Instant::now();
                for b in &texts {
                    scored += inst.score_lines(b).expect("the component runs").outcomes.len();
                }
                inst.flush_lines().expect("the component runs");
                best = best.min(t.elapsed().as_secs_f64());
            }
        }
        _ => panic!("{usage}"),
    }
    println!(
        "{mode}: {} events x {passes} passes ({scored} outcomes), best pass {:.0} ns/event",
        lines.len(),
        best * 1e9 / lines.len() as f64
    );
}
