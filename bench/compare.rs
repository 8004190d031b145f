//! logsieve's side of `bench/compare.sh`: the training rows of
//! `BENCHMARKS.md`, measured on the very files `shared/bench/gen_data.py`
//! wrote (the peers read the same files in the same run).
//!
//!     cargo bench -p logsieve-train --bench compare -- --data target/bench-data [options]
//!
//! Options (defaults = the full benchmark):
//! `--kmeans-runs N` (5), `--kmodes-runs N` (5), `--kmodes-rows N` (all
//! 200,000), `--w2v-epochs N` (5), `--w2v-threads 1,2` (1,2).
//!
//! Before timing anything it checks that every file it reads has the SHA-256
//! that `MANIFEST.txt` lists, and that its bytes equal
//! `logsieve_train::synthetic`'s regeneration (so the Python and the Rust data
//! are the same bytes). Prints one JSON object on stdout; progress goes to
//! stderr.
//!
//! - k-means: `KMeansParams { n_clusters: 8, n_init: 1, random_state: 0 }`
//!   (max_iter 300, tol 1e-4: scikit-learn's defaults) on `blobs_std4_X.f64`
//!   (1,000,000 × 8); single-threaded (logsieve's k-means has no threads).
//! - k-modes: Huang, `n_init=4`, `max_iter=100`, seed 0, k=15 on `cat_X.u8`
//!   (200,000 × 6), on all cores and on one thread.
//! - word2vec: skip-gram, dim 100, window 30, negative 10, sample 1e-3,
//!   min_count 1, 5 epochs on `tokens.u32` as sentences of 30 `"w<id>"`; the
//!   effective words/s and the neighbour purity (share of the 10 nearest
//!   neighbours, cosine, in the word's topic `id / 400`, over the words seen at
//!   least 50 times), on 1 and on 2 threads.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use logsieve_artifact::Init;
use logsieve_train::kmeans::{self, KMeansParams};
use logsieve_train::kmodes::{self, Codes, Data, KModesParams};
use logsieve_train::word2vec::{Corpus, Embeddings, Vocab, Word2VecParams, has_avx2_fma, train};
use ndarray::ArrayView2;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

struct Args {
    data: PathBuf,
    kmeans_runs: usize,
    kmodes_runs: usize,
    kmodes_rows: Option<usize>,
    w2v_epochs: usize,
    w2v_threads: Vec<usize>,
}

fn parse_args() -> Args {
    let mut a = Args {
        data: PathBuf::from("target/bench-data"),
        kmeans_runs: 5,
        kmodes_runs: 5,
        kmodes_rows: None,
        w2v_epochs: 5,
        w2v_threads: vec![1, 2],
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        let num = |v: String| v.parse::<usize>().unwrap_or_else(|e| panic!("bad number {v:?}: {e}"));
        match arg.as_str() {
            // `cargo bench` appends `--bench` to a harness-less bench's arguments.
            "--bench" => {}
            "--data" => a.data = PathBuf::from(value()),
            "--kmeans-runs" => a.kmeans_runs = num(value()),
            "--kmodes-runs" => a.kmodes_runs = num(value()),
            "--kmodes-rows" => a.kmodes_rows = Some(num(value())),
            "--w2v-epochs" => a.w2v_epochs = num(value()),
            "--w2v-threads" => a.w2v_threads = value().split(',').map(|t| num(t.to_string())).collect(),
            other => panic!("unknown argument {other:?} (see the comment at the top of bench/compare.rs)"),
        }
    }
    assert!(a.kmeans_runs >= 1 && a.kmodes_runs >= 1 && a.w2v_epochs >= 1, "runs and epochs must be at least 1");
    a
}

/// The SHA-256 of each file `MANIFEST.txt` lists (`<hex>  <name>  (<n> bytes)`).
fn manifest(dir: &Path) -> HashMap<String, String> {
    let p = dir.join("MANIFEST.txt");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((f.nth(1)?.to_string(), l.split_whitespace().next()?.to_string()))
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads `name` from the data folder and checks it against the manifest.
fn read_checked(dir: &Path, sums: &HashMap<String, String>, name: &str) -> Vec<u8> {
    let p = dir.join(name);
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
    let sum = hex(&Sha256::digest(&bytes));
    let want = sums.get(name).unwrap_or_else(|| panic!("{name} is not in {}/MANIFEST.txt", dir.display()));
    assert_eq!(&sum, want, "{} does not have the SHA-256 MANIFEST.txt lists", p.display());
    bytes
}

fn loadavg() -> Value {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()))
        .map_or(Value::Null, |v| json!(v))
}

/// CPU seconds used by this process so far (all threads), from `/proc/self/stat`.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return f64::NAN };
    let rest = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i - 3).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (ticks(14) + ticks(15)) / 100.0
}

/// CPU seconds all processes of the machine have been busy so far
/// (`/proc/stat`'s first line: everything but idle and iowait).
fn machine_busy_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else { return f64::NAN };
    let v: Vec<f64> =
        stat.lines().next().unwrap_or("").split_whitespace().skip(1).filter_map(|t| t.parse().ok()).collect();
    if v.len() < 8 {
        return f64::NAN;
    }
    (v[..8].iter().sum::<f64>() - v[3] - v[4]) / 100.0
}

/// Measures what else the machine did while `f` ran: the cores other
/// processes kept busy on average (0 = nothing else ran).
struct Foreign {
    busy0: f64,
    own0: f64,
    t0: Instant,
}

impl Foreign {
    fn start() -> Foreign {
        Foreign { busy0: machine_busy_seconds(), own0: cpu_seconds(), t0: Instant::now() }
    }
    fn load(&self) -> f64 {
        let wall = self.t0.elapsed().as_secs_f64();
        let other = (machine_busy_seconds() - self.busy0) - (cpu_seconds() - self.own0);
        round((other / wall).max(0.0), 3)
    }
}

fn round(v: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (v * m).round() / m
}

/// Runs `f` `runs` times; returns the wall times (in run order), the mean CPU
/// seconds per run, the foreign load meanwhile and the last result.
fn timed<T>(runs: usize, mut f: impl FnMut() -> T) -> (Vec<f64>, f64, f64, T) {
    let mut times = Vec::new();
    let foreign = Foreign::start();
    let cpu0 = cpu_seconds();
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        last = Some(f());
        times.push(t.elapsed().as_secs_f64());
    }
    let cpu_per_run = (cpu_seconds() - cpu0) / runs as f64;
    (times, cpu_per_run, foreign.load(), last.expect("runs >= 1"))
}

fn summary(times: &[f64], cpu_per_run: f64, foreign_load: f64) -> Value {
    let mut s = times.to_vec();
    s.sort_by(f64::total_cmp);
    json!({
        "s_all": times.iter().map(|&t| round(t, 4)).collect::<Vec<_>>(),
        "s_best": round(s[0], 4),
        "s_median": round(s[s.len() / 2], 4),
        "cpu_s_per_run": round(cpu_per_run, 3),
        "foreign_load": foreign_load,
    })
}

/// Mean share of same-topic words among the 10 nearest neighbours of every
/// word seen at least 50 times, and the number of such words (as in
/// bench/word2vec.rs and bench/peers/gensim_w2v.py).
fn purity(e: &Embeddings) -> (f64, usize) {
    let topic = |w: &str| w[1..].parse::<u32>().expect("w<id>") / 400;
    let (mut sum, mut n) = (0.0, 0usize);
    for (i, (&c, w)) in e.vocab.counts().iter().zip(e.vocab.words()).enumerate() {
        if c < 50 {
            continue;
        }
        let near = e.most_similar_id(i as u32, 10);
        let same = near.iter().filter(|&&(j, _)| topic(&e.vocab.words()[j as usize]) == topic(w)).count();
        sum += same as f64 / near.len() as f64;
        n += 1;
    }
    (sum / n as f64, n)
}

fn main() {
    let args = parse_args();
    let dir = &args.data;
    let sums = manifest(dir);
    let t = Instant::now();

    // The files gen_data.py wrote, checked against its manifest and against
    // the Rust regeneration.
    let x_bytes = read_checked(dir, &sums, "blobs_std4_X.f64");
    let cat_bytes = read_checked(dir, &sums, "cat_X.u8");
    let tok_bytes = read_checked(dir, &sums, "tokens.u32");
    {
        let blobs = logsieve_train::synthetic::blobs();
        let regen: Vec<u8> = blobs.x_std4.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert!(regen == x_bytes, "blobs_std4_X.f64 differs from logsieve_train::synthetic::blobs().x_std4");
        let cat = logsieve_train::synthetic::categorical();
        assert!(cat.x == cat_bytes, "cat_X.u8 differs from logsieve_train::synthetic::categorical().x");
        let tok = logsieve_train::synthetic::tokens();
        let regen: Vec<u8> = tok.ids.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert!(regen == tok_bytes, "tokens.u32 differs from logsieve_train::synthetic::tokens().ids");
    }
    eprintln!("compare: data checked (manifest SHA-256 + Rust regeneration) in {:.1} s", t.elapsed().as_secs_f64());
    let data_check = json!({
        "manifest_sha256_ok": true,
        "equals_rust_regeneration": true,
        "files": {
            "blobs_std4_X.f64": sums["blobs_std4_X.f64"],
            "cat_X.u8": sums["cat_X.u8"],
            "tokens.u32": sums["tokens.u32"],
        },
    });

    // ---- k-means ----------------------------------------------------------
    let x: Vec<f64> = x_bytes.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap())).collect();
    drop(x_bytes);
    let (n, d) = (x.len() / 8, 8);
    let view = ArrayView2::from_shape((n, d), &x).unwrap();
    let params = KMeansParams::new(8).with_n_init(1).with_random_state(0).validate(n).unwrap();
    let load_before = loadavg();
    let (times, cpu, foreign, fit) =
        timed(args.kmeans_runs, || kmeans::fit(view, &params, &mut ()).expect("k-means fits"));
    let mut sizes = fit.cluster_sizes.clone();
    sizes.sort_unstable();
    let kmeans_json = json!({
        "rows": n, "cols": d,
        "params": {"n_clusters": 8, "n_init": 1, "random_state": 0, "max_iter": 300, "tol": 1e-4},
        "threads": 1,
        "runs": args.kmeans_runs,
        "fit": summary(&times, cpu, foreign),
        "inertia": fit.inertia,
        "n_iter": fit.n_iter,
        "cluster_sizes": sizes,
        "load_before": load_before, "load_after": loadavg(),
    });
    eprintln!("compare: k-means {kmeans_json}");
    drop(x);

    // ---- k-modes ----------------------------------------------------------
    let rows = args.kmodes_rows.unwrap_or(cat_bytes.len() / 6).min(cat_bytes.len() / 6);
    let codes: Vec<u32> = cat_bytes[..rows * 6].iter().map(|&v| u32::from(v)).collect();
    let c = Codes::new(&codes, rows, vec![10; 6]).expect("codes below 10");
    let data = Data { codes: &c, numeric: &[], p: 0 };
    let huang = KModesParams { init: Init::Huang, n_init: 4, max_iter: 100, random_state: 0, ..KModesParams::new(15) };
    let mut kmodes_runs = serde_json::Map::new();
    for (name, threads) in [("all_cores", 0usize), ("one_thread", 1)] {
        let p = KModesParams { threads, ..huang.clone() }.validate(&data).expect("valid parameters");
        let load_before = loadavg();
        let (times, cpu, foreign, fit) =
            timed(args.kmodes_runs, || kmodes::fit(&data, &p, &mut ()).expect("k-modes fits"));
        let v = json!({
            "threads": if threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { threads },
            "fit": summary(&times, cpu, foreign),
            "cost": fit.cost,
            "n_iter": fit.n_iter,
            "epoch_costs": fit.epoch_costs,
            "best_start": fit.best_start,
            "load_before": load_before, "load_after": loadavg(),
        });
        eprintln!("compare: k-modes {name} {v}");
        kmodes_runs.insert(name.into(), v);
    }
    let kmodes_json = json!({
        "rows": rows, "cols": 6,
        "params": {"n_clusters": 15, "init": "Huang", "n_init": 4, "max_iter": 100, "random_state": 0},
        "runs": args.kmodes_runs,
        "results": kmodes_runs,
    });

    // ---- word2vec ---------------------------------------------------------
    let ids: Vec<u32> = tok_bytes.chunks_exact(4).map(|b| u32::from_le_bytes(b.try_into().unwrap())).collect();
    let words: Vec<String> = ids.iter().map(|id| format!("w{id}")).collect();
    let sentences: Vec<&[String]> = words.chunks(30).collect();
    let iter = || sentences.iter().map(|s| s.iter().map(String::as_str));
    let t = Instant::now();
    let vocab = Vocab::build(iter(), 1);
    let corpus: Corpus = vocab.encode(iter());
    let build_s = t.elapsed().as_secs_f64();
    let base = Word2VecParams {
        vector_size: 100,
        window: 30,
        negative: 10,
        sample: 1e-3,
        min_count: 1,
        epochs: args.w2v_epochs,
        ..Word2VecParams::default()
    };
    let mut w2v_runs = Vec::new();
    for &th in &args.w2v_threads {
        let params = Word2VecParams { threads: th, ..base.clone() }.validate().expect("valid parameters");
        let load_before = loadavg();
        let foreign = Foreign::start();
        let cpu0 = cpu_seconds();
        let mut epochs = Vec::new();
        let (emb, stats) = train(
            &vocab,
            &corpus,
            &params,
            &mut logsieve_train::progress::OnWord2Vec(|p: &logsieve_train::progress::Word2Vec| {
                if p.epoch_done {
                    epochs.push(format!(
                        "epoch {}: {} effective words so far, {:.0} words/s, alpha {:.5}",
                        p.epoch, p.effective_words, p.effective_words_per_s, p.alpha
                    ));
                }
            }),
        )
        .expect("word2vec trains");
        let cpu = cpu_seconds() - cpu0;
        let foreign_load = foreign.load();
        let load_after = loadavg();
        let (pur, n_words) = purity(&emb);
        let v = json!({
            "threads": th,
            "train_s": round(stats.seconds, 3),
            "train_cpu_s": round(cpu, 2),
            "foreign_load": foreign_load,
            "raw_words_trained": stats.raw_words,
            "effective_words_trained": stats.effective_words,
            "effective_words_per_s": round(stats.effective_words_per_s, 1),
            "avx2_fma": stats.avx2_fma,
            "purity_at_10_count_ge_50": pur,
            "n_words_count_ge_50": n_words,
            "epoch_log": epochs,
            "load_before": load_before, "load_after": load_after,
        });
        eprintln!("compare: word2vec {v}");
        w2v_runs.push(v);
    }
    let w2v_json = json!({
        "tokens": ids.len(),
        "sentences": corpus.len(),
        "vocab_size": vocab.len(),
        "build_vocab_s": round(build_s, 3),
        "params": {"sg": 1, "vector_size": 100, "window": 30, "negative": 10, "sample": 1e-3, "min_count": 1,
                   "epochs": args.w2v_epochs, "alpha": base.alpha, "min_alpha": base.min_alpha,
                   "ns_exponent": base.ns_exponent, "seed": base.random_state},
        "avx2_fma": has_avx2_fma(),
        "runs": w2v_runs,
    });

    let out = json!({
        "logsieve_train": env!("CARGO_PKG_VERSION"),
        "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "data": data_check,
        "kmeans": kmeans_json,
        "kmodes": kmodes_json,
        "word2vec": w2v_json,
    });
    println!("{out}");
}
