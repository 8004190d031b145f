//! word2vec skip-gram speed and quality on the token set of
//! `../shared/bench/gen_data.py` (regenerated bit for bit by
//! `logsieve_train::synthetic::tokens`):
//!
//!     cargo bench -p logsieve-train --bench word2vec
//!
//! 1,000,000 tokens `"w<id>"` in sentences of 30 (the last has 10), 50 planted
//! topics × 400 Zipf words (topic = id / 400), trained with the flow2vec
//! parameters `vector_size=100, window=30, negative=10, sample=1e-3,
//! min_count=1, epochs=5`, on 1 and on 2 threads. gensim 4.4 trains the same
//! corpus at 30,318 effective words/s on one core and 46,209 on two
//! (`shared/reference/peers/w2v_w{1,2}_win30_neg10.json`) and reaches a
//! neighbour purity of 0.9999: the share of each word's 10 nearest neighbours
//! (cosine) that belong to its topic, over the words seen at least 50 times.
//! Speed and purity are printed side by side, with the CPU seconds of the
//! run. Optional arguments: thread counts to run (default `1 2`) and
//! `--epochs N` (shorter runs for profiling; the ratios need 5).
//!
//! Training is memory-bound, so the rate moves with what else shares the
//! machine's caches: on the shared 2-core VMs, two threads have measured
//! anywhere between 1× and 2× the one-thread rate from run to run. The
//! slow runs use more CPU seconds, not less (steal time stays near zero), so
//! the threads are slowed while running, presumably by cache and memory
//! contention outside this VM.

use std::time::Instant;

use logsieve_train::word2vec::{Corpus, Embeddings, Vocab, Word2VecParams, has_avx2_fma, train};

const GENSIM_W1: f64 = 30_318.0;
const GENSIM_W2: f64 = 46_209.0;

/// Mean share of same-topic words among the 10 nearest neighbours of every
/// word seen at least 50 times, and the number of such words.
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

/// CPU seconds used by this process so far (all threads; `/proc/self/stat`,
/// in clock ticks of 1/100 s), or NaN where that file does not exist.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return f64::NAN };
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i - 3).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (ticks(14) + ticks(15)) / 100.0
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `--epochs N` shortens a run (for profiling); the comparison with gensim
    // needs the default 5.
    let epochs = args.iter().position(|a| a == "--epochs").and_then(|i| args.get(i + 1)?.parse().ok()).unwrap_or(5);
    let threads: Vec<usize> = {
        let t: Vec<usize> = args
            .iter()
            .enumerate()
            .filter(|(i, _)| *i == 0 || args[i - 1] != "--epochs")
            .filter_map(|(_, a)| a.parse().ok())
            .collect();
        if t.is_empty() { vec![1, 2] } else { t }
    };
    let t = Instant::now();
    let tokens = logsieve_train::synthetic::tokens();
    let words: Vec<String> = tokens.ids.iter().map(|id| format!("w{id}")).collect();
    let sentences: Vec<&[String]> = words.chunks(tokens.sentence_len).collect();
    let iter = || sentences.iter().map(|s| s.iter().map(String::as_str));
    let vocab = Vocab::build(iter(), 1);
    let corpus: Corpus = vocab.encode(iter());
    println!(
        "tokens regenerated, vocabulary of {} words and {} sentences built in {:.2} s; {} cores; AVX2+FMA: {}",
        vocab.len(),
        corpus.len(),
        t.elapsed().as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        has_avx2_fma()
    );
    let base = Word2VecParams {
        vector_size: 100,
        window: 30,
        negative: 10,
        sample: 1e-3,
        min_count: 1,
        epochs,
        ..Word2VecParams::default()
    };
    for &th in &threads {
        let params = Word2VecParams { threads: th, ..base.clone() }.validate().expect("valid parameters");
        let cpu0 = cpu_seconds();
        let (emb, stats) = train(
            &vocab,
            &corpus,
            &params,
            &mut logsieve_train::progress::OnWord2Vec(|p: &logsieve_train::progress::Word2Vec| {
                if p.epoch_done {
                    eprintln!(
                        "  epoch {}: {} effective words, {:.0} words/s, alpha {:.5}",
                        p.epoch, p.effective_words, p.effective_words_per_s, p.alpha
                    );
                }
            }),
        )
        .expect("trains");
        let cpu = cpu_seconds() - cpu0;
        let t = Instant::now();
        let (pur, n) = purity(&emb);
        let gensim = match th {
            1 => Some(GENSIM_W1),
            2 => Some(GENSIM_W2),
            _ => None,
        };
        println!(
            "word2vec sg threads={th}: {:>7.2} s ({cpu:.2} s CPU)  {:>9.0} effective words/s ({} raw, {} effective){}   purity@10 (count>=50, {n} words) {pur:.4}  [purity {:.1} s]",
            stats.seconds,
            stats.effective_words_per_s,
            stats.raw_words,
            stats.effective_words,
            gensim.map_or(String::new(), |g| format!("  = {:.2} x gensim", stats.effective_words_per_s / g)),
            t.elapsed().as_secs_f64()
        );
    }
}
