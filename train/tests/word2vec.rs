//! `logsieve_train::word2vec`: the vocabulary, the noise table, subsampling,
//! the learning-rate schedule, determinism, and the quality of the vectors on
//! the benchmark corpus of `shared/bench/gen_data.py`.

use logsieve_train::rng::Xoshiro256StarStar;
use logsieve_train::synthetic;
use logsieve_train::word2vec::{
    CUM_TABLE_DOMAIN, Corpus, Embeddings, NoiseTable, Vocab, Word2VecError, Word2VecParams, fit, keep_probability,
    train,
};

/// `tokens` as sentences of `"w<id>"` strings, `sentence_len` tokens each
/// (the last may be shorter), as gen_data.py feeds gensim.
fn string_sentences(t: &synthetic::Tokens) -> Vec<Vec<String>> {
    t.ids.chunks(t.sentence_len).map(|s| s.iter().map(|id| format!("w{id}")).collect()).collect()
}

fn as_strs(s: &[Vec<String>]) -> impl Iterator<Item = impl Iterator<Item = &str>> + Clone {
    s.iter().map(|v| v.iter().map(String::as_str))
}

/// A small topic corpus (10 topics × 50 words) for the quick tests.
fn small_corpus(ntok: usize, seed: u64) -> Vec<Vec<String>> {
    string_sentences(&synthetic::tokens_with(ntok, 30, 10, 50, seed, 80))
}

fn small_params() -> Word2VecParams {
    Word2VecParams { vector_size: 20, window: 5, negative: 5, min_count: 1, epochs: 2, ..Word2VecParams::default() }
}

// ---------------------------------------------------------------------------
// 1. Vocabulary and min_count
// ---------------------------------------------------------------------------

#[test]
fn vocabulary_counts_order_and_min_count() {
    let sentences = [vec!["a", "b", "a", "c"], vec!["b", "a", "d", "d", "e"], vec!["f", "g", "g", "f"]];
    let it = || sentences.iter().map(|s| s.iter().copied());
    // Counts: a 3, b 2, c 1, d 2, e 1, f 2, g 2.
    let v = Vocab::build(it(), 2);
    // Descending count; ties (b, d, f, g: 2 each) in order of first appearance.
    assert_eq!(v.words(), ["a", "b", "d", "f", "g"]);
    assert_eq!(v.counts(), [3, 2, 2, 2, 2]);
    assert_eq!(v.index("a"), Some(0));
    assert_eq!(v.index("g"), Some(4));
    assert_eq!(v.index("c"), None, "below min_count");
    assert_eq!(v.index("e"), None, "below min_count");
    assert_eq!(v.index("zz"), None);
    assert_eq!(v.len(), 5);
    assert_eq!(v.retained_total(), 11);
    assert_eq!(v.raw_total(), 13);

    // Dropped words leave the sentences, but still count as raw words.
    let c = v.encode(it());
    assert_eq!(c.len(), 3);
    assert_eq!(c.sentence(0), [0, 1, 0]);
    assert_eq!(c.sentence(1), [1, 0, 2, 2]);
    assert_eq!(c.sentence(2), [3, 4, 4, 3]);
    assert_eq!((c.raw_len(0), c.raw_len(1), c.raw_len(2)), (4, 5, 4));
    assert_eq!(c.raw_words(), 13);
    assert_eq!(c.ids().len(), 11);
    assert_eq!(v.encode_sentence(["e", "a", "c", "g"]), [0, 4]);

    // min_count 0 and 1 keep every word.
    for m in [0, 1] {
        let all = Vocab::build(it(), m);
        assert_eq!(all.words(), ["a", "b", "d", "f", "g", "c", "e"]);
        assert_eq!(all.counts(), [3, 2, 2, 2, 2, 1, 1]);
    }
    // Nothing reaches min_count: an empty vocabulary, which cannot train.
    let none = Vocab::build(it(), 4);
    assert!(none.is_empty());
    let err = train(&none, &none.encode(it()), &small_params().validate().unwrap(), &mut ()).unwrap_err();
    assert_eq!(err, Word2VecError::EmptyVocab);
}

#[test]
fn fit_drops_rare_words_from_the_vocabulary() {
    let mut sentences = small_corpus(6_000, 3);
    sentences.push(vec!["rare".to_string(), "w0".to_string()]);
    let params = Word2VecParams { min_count: 2, ..small_params() };
    let (emb, stats) = fit(as_strs(&sentences), &params.validate().unwrap(), &mut ()).unwrap();
    assert!(emb.vocab.index("rare").is_none());
    assert!(emb.vector("rare").is_none());
    assert!(emb.vocab.counts().iter().all(|&c| c >= 2));
    assert_eq!(emb.vectors.len(), emb.vocab.len() * 20);
    // Raw words include the dropped tokens, as gensim counts them.
    assert_eq!(stats.raw_words, 2 * 6_002);
}

#[test]
fn ids_outside_the_vocabulary_are_rejected() {
    let v = Vocab::from_counts([("a".to_string(), 2), ("b".to_string(), 1)]);
    let c = Corpus::from_ids([vec![0u32, 1, 2]]);
    let err = train(&v, &c, &small_params().validate().unwrap(), &mut ()).unwrap_err();
    assert_eq!(err, Word2VecError::UnknownId { id: 2, vocab_len: 2 });
    let bad = Word2VecParams { window: 0, ..small_params() };
    assert!(matches!(bad.validate(), Err(Word2VecError::Invalid(_))));
}

// ---------------------------------------------------------------------------
// 2. The noise distribution
// ---------------------------------------------------------------------------

#[test]
fn cumulative_table_matches_gensim_make_cum_table() {
    // Values of gensim's make_cum_table (Python: round(cumulative / total *
    // (2**31 - 1)) over count**ns_exponent), computed with Python 3.
    let cases: [(&[u64], f64, &[u32]); 5] = [
        (&[5, 3, 2, 1], 0.75, &[864_604_831, 1_454_033_284, 1_888_906_491, 2_147_483_647]),
        (&[7, 7, 1], 0.75, &[961_975_611, 1_923_951_221, 2_147_483_647]),
        // 4/8 of the domain is 1073741823.5: Python rounds half to even.
        (&[4, 2, 1, 1], 1.0, &[1_073_741_824, 1_610_612_735, 1_879_048_191, 2_147_483_647]),
        (&[3, 2, 1], 0.0, &[715_827_882, 1_431_655_765, 2_147_483_647]),
        (&[100, 50, 25, 1], 0.5, &[930_812_420, 1_588_996_195, 2_054_402_405, 2_147_483_647]),
    ];
    for (counts, e, want) in cases {
        let t = NoiseTable::new(counts, e);
        assert_eq!(t.cum_table(), want, "counts {counts:?}, exponent {e}");
        assert_eq!(t.total(), CUM_TABLE_DOMAIN);
        // Each word owns cum[i-1]..cum[i] of the domain.
        let mut prev = 0;
        for (i, &c) in want.iter().enumerate() {
            assert_eq!(t.sample_at(prev), i as u32);
            assert_eq!(t.sample_at(c - 1), i as u32);
            prev = c;
        }
    }
}

#[test]
fn noise_draws_follow_count_to_the_three_quarters() {
    // 60 words with Zipf-like counts.
    let counts: Vec<u64> = (1..=60u64).map(|r| 6_000 / r + 1).collect();
    let t = NoiseTable::new(&counts, 0.75);
    let weights: Vec<f64> = counts.iter().map(|&c| (c as f64).powf(0.75)).collect();
    let z: f64 = weights.iter().sum();
    // The table's exact probabilities are the formula's, to its 2^-31 grid.
    for (p, w) in t.probabilities().iter().zip(&weights) {
        assert!((p - w / z).abs() < 2e-9, "{p} vs {}", w / z);
    }
    let n = 1_000_000;
    let mut hits = vec![0u64; counts.len()];
    let mut rng = Xoshiro256StarStar::seed_from_u64(11);
    for _ in 0..n {
        hits[t.sample(&mut rng) as usize] += 1;
    }
    for (i, (&h, w)) in hits.iter().zip(&weights).enumerate() {
        let p = w / z;
        let sd = (p * (1.0 - p) / n as f64).sqrt();
        let f = h as f64 / n as f64;
        assert!((f - p).abs() < 5.0 * sd, "word {i}: frequency {f} vs {p} (5 sd = {})", 5.0 * sd);
    }
}

// ---------------------------------------------------------------------------
// 3. Subsampling
// ---------------------------------------------------------------------------

#[test]
fn keep_probability_is_gensims_formula() {
    // sample = 1e-3 of 1,000,000 words: threshold 1000.
    let p = |c| keep_probability(c, 1_000_000, 1e-3);
    assert_eq!(p(4_000), 0.75); // (√4 + 1) · 1000/4000
    assert_eq!(p(16_000), 0.3125); // (√16 + 1) · 1000/16000
    assert!((p(9_000) - 4.0 / 9.0).abs() < 1e-15); // (√9 + 1) · 1000/9000
    assert_eq!(p(1_000), 1.0); // 2, capped
    assert_eq!(p(250), 1.0); // 6, capped
    assert_eq!(keep_probability(1_000_000, 1_000_000, 0.0), 1.0, "sample = 0 keeps everything");
    // A smaller sample keeps less.
    assert!(keep_probability(16_000, 1_000_000, 1e-4) < p(16_000));
}

#[test]
fn frequent_words_are_kept_less_often_in_training() {
    // "f" is half the corpus (20,000 of 40,000 tokens); 2,000 rare words
    // appear 10 times each. threshold = 1e-3 · 40,000 = 40: "f" is kept with
    // p = (√500 + 1) · 40/20,000 ≈ 0.0467, the rare words always.
    let sentences: Vec<Vec<String>> = (0..2_000)
        .map(|i| {
            let mut s = Vec::new();
            for k in 0..10 {
                s.push("f".to_string());
                s.push(format!("r{}", (i * 7 + k * 311) % 2_000));
            }
            s
        })
        .collect();
    let epochs = 3;
    let params = Word2VecParams { vector_size: 8, epochs, ..small_params() };
    let (_, stats) = fit(as_strs(&sentences), &params.validate().unwrap(), &mut ()).unwrap();
    let pf = keep_probability(20_000, 40_000, 1e-3);
    assert!((pf - (500f64.sqrt() + 1.0) * 0.002).abs() < 1e-15);
    assert_eq!(keep_probability(10, 40_000, 1e-3), 1.0);
    let trials = 20_000.0 * epochs as f64;
    let expected = trials * pf + 20_000.0 * epochs as f64;
    let sd = (trials * pf * (1.0 - pf)).sqrt();
    let got = stats.effective_words as f64;
    assert!((got - expected).abs() < 5.0 * sd, "effective words {got}, expected {expected} ± {}", 5.0 * sd);
    assert_eq!(stats.raw_words, 40_000 * epochs as u64);

    // Without subsampling every word is trained on.
    let (_, all) =
        fit(as_strs(&sentences), &Word2VecParams { sample: 0.0, ..params }.validate().unwrap(), &mut ()).unwrap();
    assert_eq!(all.effective_words, all.raw_words);
}

// ---------------------------------------------------------------------------
// 4. Learning rate
// ---------------------------------------------------------------------------

#[test]
fn learning_rate_decays_linearly() {
    let p = Word2VecParams::default();
    assert_eq!(p.learning_rate(0.0), 0.025);
    assert!((p.learning_rate(1.0) - 0.0001).abs() < 1e-15);
    assert!((p.learning_rate(0.5) - 0.01255).abs() < 1e-15);
    assert!((p.learning_rate(0.25) - (0.025 - 0.0249 * 0.25)).abs() < 1e-15);
    assert_eq!(p.learning_rate(1.5), 0.0001, "never below min_alpha");

    // Progress reports the schedule: after epoch e of 5, progress (e + 1) / 5.
    let sentences = small_corpus(9_000, 5);
    let params = Word2VecParams { epochs: 5, ..small_params() };
    let mut ends: Vec<logsieve_train::progress::Word2Vec> = Vec::new();
    fit(
        as_strs(&sentences),
        &params.validate().unwrap(),
        &mut logsieve_train::progress::OnWord2Vec(|p: &logsieve_train::progress::Word2Vec| {
            if p.epoch_done {
                ends.push(*p)
            }
        }),
    )
    .unwrap();
    assert_eq!(ends.len(), 5, "one report at the end of every epoch");
    for (e, p) in ends.iter().enumerate() {
        assert_eq!(p.epoch, e);
        assert_eq!(p.raw_words, 9_000 * (e as u64 + 1));
        assert_eq!(p.total_raw_words, 45_000);
        assert!((p.alpha - params.learning_rate((e + 1) as f64 / 5.0)).abs() < 1e-12);
    }
    assert!((ends[4].alpha - 0.0001).abs() < 1e-15);
}

// ---------------------------------------------------------------------------
// 5. Determinism
// ---------------------------------------------------------------------------

#[test]
fn one_thread_is_deterministic_and_the_seed_matters() {
    let sentences = small_corpus(30_000, 9);
    for vector_size in [20, 100, 136] {
        // 20: padded to 24 lanes; 100: the benchmark's; 136: beyond the
        // unrolled kernels.
        let params = Word2VecParams { vector_size, random_state: 7, ..small_params() };
        let run = |p: &Word2VecParams| fit(as_strs(&sentences), &p.validate().unwrap(), &mut ()).unwrap().0;
        let a = run(&params);
        let b = run(&params);
        let bits = |e: &Embeddings| e.vectors.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a), bits(&b), "vector_size {vector_size}: same seed, same vectors");
        assert!(a.vectors.iter().all(|v| v.is_finite()));
        let c = run(&Word2VecParams { random_state: 8, ..params.clone() });
        assert_eq!(c.vocab, a.vocab);
        let differ = a.vectors.iter().zip(&c.vectors).filter(|(x, y)| x != y).count();
        assert!(differ > a.vectors.len() / 2, "another seed gives other vectors ({differ} values differ)");
    }
}

#[test]
fn several_threads_train_too() {
    let sentences = small_corpus(30_000, 9);
    for threads in [0, 2] {
        let params = Word2VecParams { threads, ..small_params() };
        let (e, stats) = fit(as_strs(&sentences), &params.validate().unwrap(), &mut ()).unwrap();
        assert!(e.vectors.iter().all(|v| v.is_finite()));
        assert!(stats.threads >= 1);
        assert_eq!(stats.raw_words, 60_000);
    }
}

// ---------------------------------------------------------------------------
// 6. Quality on the benchmark corpus
// ---------------------------------------------------------------------------

/// The share of each word's 10 nearest neighbours (cosine) in its own topic
/// (`id / 400`), averaged over the words seen at least `min` times; and the
/// number of such words.
fn purity(e: &Embeddings, min: u64) -> (f64, usize) {
    let topic = |w: &str| w[1..].parse::<u32>().unwrap() / 400;
    let (mut sum, mut n) = (0.0, 0);
    for (i, (&c, w)) in e.vocab.counts().iter().zip(e.vocab.words()).enumerate() {
        if c < min {
            continue;
        }
        let near = e.most_similar_id(i as u32, 10);
        assert_eq!(near.len(), 10);
        assert!(near.iter().all(|&(j, _)| j != i as u32), "a word is not its own neighbour");
        assert!(near.windows(2).all(|p| p[0].1 >= p[1].1), "most similar first");
        sum += near.iter().filter(|&&(j, _)| topic(&e.vocab.words()[j as usize]) == topic(w)).count() as f64 / 10.0;
        n += 1;
    }
    (sum / n as f64, n)
}

/// The flow2vec parameters on gen_data.py's 1,000,000 tokens: gensim 4.4
/// reaches a purity of 0.9999 over the 2,840 words seen at least 50 times
/// (`shared/reference/peers/w2v_w1_win30_neg10.json`). Two threads (Hogwild):
/// 35–50 s in release on the 2-core benchmark machines (far longer in a
/// debug build).
#[test]
fn benchmark_corpus_neighbours_share_their_topic() {
    let tokens = synthetic::tokens();
    let sentences = string_sentences(&tokens);
    assert_eq!(sentences.len(), 33_334);
    assert_eq!(sentences.last().unwrap().len(), 10);
    let params = Word2VecParams {
        vector_size: 100,
        window: 30,
        negative: 10,
        sample: 1e-3,
        min_count: 1,
        epochs: 5,
        threads: 2,
        ..Word2VecParams::default()
    };
    let mut reports = 0;
    let (emb, stats) = fit(
        as_strs(&sentences),
        &params.validate().unwrap(),
        &mut logsieve_train::progress::OnWord2Vec(|_: &logsieve_train::progress::Word2Vec| reports += 1),
    )
    .unwrap();
    assert!(reports >= 5);
    assert_eq!(emb.vocab.len(), 19_996, "gensim's vocabulary size");
    assert_eq!(stats.raw_words, 5_000_000);
    // gensim trained on 4,704,668 effective words (its random stream differs).
    let eff = stats.effective_words as f64;
    assert!((eff / 4_704_668.0 - 1.0).abs() < 1e-3, "effective words {eff}");

    let (p, n) = purity(&emb, 50);
    assert_eq!(n, 2_840, "gensim's count of words seen at least 50 times");
    assert!(p >= 0.99, "purity@10 over words with count >= 50: {p}");

    // most_similar by string agrees with the id form.
    let w = &emb.vocab.words()[0];
    let by_word = emb.most_similar(w, 5);
    let by_id = emb.most_similar_id(0, 5);
    assert_eq!(by_word.len(), 5);
    for ((s, a), (i, b)) in by_word.iter().zip(&by_id) {
        assert_eq!(s, &emb.vocab.words()[*i as usize]);
        assert_eq!(a, b);
    }
    assert!((emb.similarity(w, w).unwrap() - 1.0).abs() < 1e-5);
}
