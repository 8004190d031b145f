//! numpy's random streams, for the algorithms whose reference
//! implementation draws from them.
//!
//! [`RandomState`]: the legacy stream (MT19937). With it, `random_state = 7`
//! in a logsieve k-modes spec makes the same draws as
//! `KModes(random_state=7)` in the `kmodes` package (its empty-cluster
//! refills and Huang's value draws). Covered: seeding with an integer
//! (`init_genrand`), `randint(low, high)` (numpy's masked rejection sampling
//! on 32-bit draws, for ranges that fit in 32 bits), `choice(n)` (=
//! `randint(0, n)`), `random_sample` (53-bit doubles) and `randn` (the legacy
//! polar Box–Muller with its cached second value).
//!
//! [`Generator`]: `numpy.random.default_rng(seed)` — `SeedSequence(seed)`
//! feeding PCG64 (XSL-RR 128/64) — and `Generator.shuffle` of a 1-D array.
//! With it, `logsieve evaluate --holdout` splits a capture's benign events
//! exactly as `rng = np.random.default_rng(seed); rng.shuffle(idx)` does
//! (the detection baseline's split, `shared/detection/baseline.py`).
//! Checked against permutations numpy made:
//! `tests/fixtures/numpy-shuffle/` (`make.py` writes `cases.json`).

const N: usize = 624;
const M: usize = 397;

/// numpy's `np.random.RandomState(seed)`.
#[derive(Clone)]
pub struct RandomState {
    key: [u32; N],
    pos: usize,
    gauss: Option<f64>,
}

impl RandomState {
    /// `RandomState(seed)` for an integer seed below 2^32 (numpy refuses
    /// larger ones; they are reduced modulo 2^32 here).
    pub fn new(seed: u64) -> Self {
        let mut key = [0u32; N];
        let mut s = seed as u32;
        for (i, k) in key.iter_mut().enumerate() {
            *k = s;
            s = 1_812_433_253u32.wrapping_mul(s ^ (s >> 30)).wrapping_add(i as u32 + 1);
        }
        RandomState { key, pos: N, gauss: None }
    }

    fn generate(&mut self) {
        const UPPER: u32 = 0x8000_0000;
        const LOWER: u32 = 0x7fff_ffff;
        const MATRIX_A: u32 = 0x9908_b0df;
        for i in 0..N {
            let y = (self.key[i] & UPPER) | (self.key[(i + 1) % N] & LOWER);
            let mut v = self.key[(i + M) % N] ^ (y >> 1);
            if y & 1 == 1 {
                v ^= MATRIX_A;
            }
            self.key[i] = v;
        }
        self.pos = 0;
    }

    /// The next 32-bit output (`genrand_int32`).
    pub fn next_u32(&mut self) -> u32 {
        if self.pos >= N {
            self.generate();
        }
        let mut y = self.key[self.pos];
        self.pos += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `randint(low, high)`: uniform in `[low, high)`, for `high - low - 1`
    /// below 2^32, by masked rejection as numpy's legacy generator does.
    pub fn randint(&mut self, low: i64, high: i64) -> i64 {
        assert!(high > low, "randint needs high > low");
        let range = (high - low - 1) as u64;
        assert!(range <= u64::from(u32::MAX), "ranges over 2^32 are not needed here");
        if range == 0 {
            return low;
        }
        let range = range as u32;
        let mask = u32::MAX >> range.leading_zeros();
        loop {
            let v = self.next_u32() & mask;
            if v <= range {
                return low + i64::from(v);
            }
        }
    }

    /// `choice(a)` for a sequence of length `n`: the index drawn.
    pub fn choice(&mut self, n: usize) -> usize {
        self.randint(0, n as i64) as usize
    }

    /// `random_sample()`: a double in `[0, 1)` from two 32-bit draws.
    pub fn random_sample(&mut self) -> f64 {
        let a = f64::from(self.next_u32() >> 5);
        let b = f64::from(self.next_u32() >> 6);
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// `randn()`: a standard normal draw (legacy polar method).
    pub fn randn(&mut self) -> f64 {
        if let Some(g) = self.gauss.take() {
            return g;
        }
        loop {
            let x1 = 2.0 * self.random_sample() - 1.0;
            let x2 = 2.0 * self.random_sample() - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            if r2 < 1.0 && r2 != 0.0 {
                let f = (-2.0 * r2.ln() / r2).sqrt();
                self.gauss = Some(f * x1);
                return f * x2;
            }
        }
    }

    /// `randint(np.iinfo(np.int32).max, size=n)`: the per-start seeds that
    /// scikit-learn-style estimators draw.
    pub fn start_seeds(&mut self, n: usize) -> Vec<u64> {
        (0..n).map(|_| self.randint(0, i64::from(i32::MAX)) as u64).collect()
    }
}

/// `SeedSequence`'s hash constants (numpy/random/bit_generator.pyx).
const INIT_A: u32 = 0x43b0_d7e5;
const MULT_A: u32 = 0x931e_8875;
const INIT_B: u32 = 0x8b51_f9dd;
const MULT_B: u32 = 0x58f3_8ded;
const MIX_MULT_L: u32 = 0xca01_f9dd;
const MIX_MULT_R: u32 = 0x4973_f715;
/// `SeedSequence`'s pool: 4 words of 32 bits.
const POOL_SIZE: usize = 4;

/// `SeedSequence(seed).generate_state(n_words, np.uint32)` for an integer
/// seed without a spawn key: the words PCG64 is seeded from.
///
/// The seed becomes its little-endian 32-bit words (`0` is one word, `0`;
/// `2**40` is `[0, 256]`), which are hashed into a pool of four words
/// (`mix_entropy`), from which the output words are hashed out in turn.
pub fn seed_sequence_words(seed: u64, n_words: usize) -> Vec<u32> {
    let mut entropy = vec![seed as u32];
    if seed >> 32 != 0 {
        entropy.push((seed >> 32) as u32);
    }
    let mut hash_const = INIT_A;
    let mut hashmix = |value: u32| -> u32 {
        let mut v = value ^ hash_const;
        hash_const = hash_const.wrapping_mul(MULT_A);
        v = v.wrapping_mul(hash_const);
        v ^ (v >> 16)
    };
    let mix = |x: u32, y: u32| -> u32 {
        let r = MIX_MULT_L.wrapping_mul(x).wrapping_sub(MIX_MULT_R.wrapping_mul(y));
        r ^ (r >> 16)
    };
    let mut pool = [0u32; POOL_SIZE];
    for (i, p) in pool.iter_mut().enumerate() {
        *p = hashmix(entropy.get(i).copied().unwrap_or(0));
    }
    for src in 0..POOL_SIZE {
        for dst in 0..POOL_SIZE {
            if src != dst {
                pool[dst] = mix(pool[dst], hashmix(pool[src]));
            }
        }
    }
    // Entropy beyond the pool (never for a u64 seed: at most 2 words).
    for &e in entropy.iter().skip(POOL_SIZE) {
        for p in pool.iter_mut() {
            *p = mix(*p, hashmix(e));
        }
    }
    let mut hash_const = INIT_B;
    (0..n_words)
        .map(|i| {
            let mut v = pool[i % POOL_SIZE] ^ hash_const;
            hash_const = hash_const.wrapping_mul(MULT_B);
            v = v.wrapping_mul(hash_const);
            v ^ (v >> 16)
        })
        .collect()
}

/// PCG64's multiplier (`PCG_DEFAULT_MULTIPLIER_128`).
const PCG_MULT: u128 = (2_549_297_995_355_413_924u128 << 64) | 4_865_540_595_714_422_341u128;

/// `numpy.random.default_rng(seed)`: a `Generator` over PCG64, seeded
/// through `SeedSequence(seed)`.
///
/// Covered: the raw 64-bit stream (`bit_generator.random_raw()`), numpy's
/// 32-bit draws (the low half of a 64-bit draw, the high half kept for the
/// next one), `random_interval` (masked rejection) and `shuffle` of a 1-D
/// array (Fisher–Yates from the end).
#[derive(Clone)]
pub struct Generator {
    state: u128,
    inc: u128,
    /// The high half of the last 64-bit draw, not yet handed out.
    pending_u32: Option<u32>,
}

impl Generator {
    /// `np.random.default_rng(seed)` for a non-negative integer seed.
    pub fn new(seed: u64) -> Generator {
        // generate_state(4, np.uint64): the words pairwise little-endian.
        let w = seed_sequence_words(seed, 8);
        let u = |i: usize| u64::from(w[2 * i]) | (u64::from(w[2 * i + 1]) << 32);
        let init_state = (u128::from(u(0)) << 64) | u128::from(u(1));
        let init_seq = (u128::from(u(2)) << 64) | u128::from(u(3));
        // pcg_setseq_128_srandom_r.
        let mut g = Generator { state: 0, inc: (init_seq << 1) | 1, pending_u32: None };
        g.step();
        g.state = g.state.wrapping_add(init_state);
        g.step();
        g
    }

    fn step(&mut self) {
        self.state = self.state.wrapping_mul(PCG_MULT).wrapping_add(self.inc);
    }

    /// The next 64-bit output (XSL-RR: the two halves of the 128-bit state
    /// xor-ed, rotated right by its top 6 bits).
    pub fn next_u64(&mut self) -> u64 {
        self.step();
        let s = self.state;
        (((s >> 64) as u64) ^ (s as u64)).rotate_right((s >> 122) as u32)
    }

    /// The next 32-bit output: the low half of a new 64-bit draw, or the
    /// high half of the previous one (numpy's `pcg64_next32`).
    pub fn next_u32(&mut self) -> u32 {
        if let Some(v) = self.pending_u32.take() {
            return v;
        }
        let next = self.next_u64();
        self.pending_u32 = Some((next >> 32) as u32);
        next as u32
    }

    /// numpy's `random_interval(bitgen, max)`: uniform in `[0, max]`, by
    /// masking draws to the smallest all-ones mask covering `max` and
    /// rejecting those above it; 32-bit draws when `max` fits in 32 bits.
    pub fn random_interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mask = u64::MAX >> max.leading_zeros();
        if max <= u64::from(u32::MAX) {
            loop {
                let v = u64::from(self.next_u32()) & mask;
                if v <= max {
                    return v;
                }
            }
        }
        loop {
            let v = self.next_u64() & mask;
            if v <= max {
                return v;
            }
        }
    }

    /// `Generator.shuffle(x)` of a 1-D array, in place: for `i` from
    /// `len - 1` down to 1, swap `x[i]` with `x[random_interval(i)]`.
    pub fn shuffle<T>(&mut self, x: &mut [T]) {
        for i in (1..x.len()).rev() {
            let j = self.random_interval(i as u64) as usize;
            x.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_mt19937_stream() {
        // The first outputs of init_genrand(5489), from the MT19937 paper's
        // reference implementation.
        let mut r = RandomState::new(5489);
        let first: Vec<u32> = (0..3).map(|_| r.next_u32()).collect();
        assert_eq!(first, vec![3_499_211_612, 581_869_302, 3_890_346_734]);
        // The 10000th output for seed 5489 (C++ std::mt19937's check value).
        let mut r = RandomState::new(5489);
        let last = (0..10_000).map(|_| r.next_u32()).last().unwrap();
        assert_eq!(last, 4_123_659_995);
    }

    #[test]
    fn matches_numpy_legacy_random_state() {
        // Printed by numpy 2.4 (tests/fixtures/kmodes/make_fixtures.py).
        let mut r = RandomState::new(0);
        let raw: Vec<u32> = (0..5).map(|_| r.next_u32()).collect();
        assert_eq!(raw, vec![2_357_136_044, 2_546_248_239, 3_071_714_933, 3_626_093_760, 2_588_848_963]);
        // RandomState(0).randint(2147483647, size=5)
        assert_eq!(
            RandomState::new(0).start_seeds(5),
            vec![209_652_396, 398_764_591, 924_231_285, 1_478_610_112, 441_365_315]
        );
        // RandomState(123).choice(list(range(1000)), 5)
        let mut r = RandomState::new(123);
        let picks: Vec<usize> = (0..5).map(|_| r.choice(1000)).collect();
        assert_eq!(picks, vec![510, 365, 382, 322, 988]);
        // RandomState(5).choice(list(range(7)))
        assert_eq!(RandomState::new(5).choice(7), 3);
    }

    #[test]
    fn randint_stays_in_range_and_uses_the_mask() {
        let mut r = RandomState::new(1);
        for high in [1i64, 2, 3, 7, 8, 1000, i64::from(i32::MAX)] {
            for _ in 0..200 {
                let v = r.randint(0, high);
                assert!((0..high).contains(&v), "{v} not in 0..{high}");
            }
        }
        // A one-value range draws nothing (numpy returns low at once).
        let (mut a, mut b) = (RandomState::new(9), RandomState::new(9));
        assert_eq!(a.randint(4, 5), 4);
        assert_eq!(a.next_u32(), b.next_u32());
    }

    #[test]
    fn randn_has_unit_moments() {
        let mut r = RandomState::new(3);
        let n = 100_000;
        let v: Vec<f64> = (0..n).map(|_| r.randn()).collect();
        let mean = v.iter().sum::<f64>() / n as f64;
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.02 && (var - 1.0).abs() < 0.02, "mean {mean} var {var}");
    }

    #[test]
    fn seed_sequence_matches_numpy() {
        // Printed by numpy 2.4: np.random.SeedSequence(0).generate_state(4)
        // and SeedSequence(2**40).generate_state(4).
        assert_eq!(seed_sequence_words(0, 4), vec![2_968_811_710, 3_677_149_159, 745_650_761, 2_884_920_346]);
        assert_eq!(seed_sequence_words(1 << 40, 4), vec![1_156_586_168, 3_687_319_657, 379_171_754, 2_819_766_752]);
        // np.random.default_rng(0).bit_generator.random_raw(3)
        let mut g = Generator::new(0);
        let raw: Vec<u64> = (0..3).map(|_| g.next_u64()).collect();
        assert_eq!(raw, vec![11_749_869_230_777_074_271, 4_976_686_463_289_251_617, 755_828_109_848_996_024]);
    }

    #[test]
    fn the_32_bit_draws_are_the_halves_of_a_64_bit_draw() {
        let (mut a, mut b) = (Generator::new(7), Generator::new(7));
        let x = a.next_u64();
        assert_eq!(b.next_u32(), x as u32);
        assert_eq!(b.next_u32(), (x >> 32) as u32);
        assert_eq!(b.next_u64(), a.next_u64());
    }

    #[test]
    fn random_interval_stays_in_range() {
        let mut g = Generator::new(3);
        for max in [0u64, 1, 2, 5, 8, 1000, u64::from(u32::MAX), 1 << 40] {
            for _ in 0..200 {
                assert!(g.random_interval(max) <= max);
            }
        }
    }
}
