//! numpy's legacy `RandomState` stream (MT19937), for the algorithms whose
//! reference implementation draws from it: with it, `random_state = 7` in a
//! logsieve k-modes spec makes the same draws as `KModes(random_state=7)` in
//! the `kmodes` package (its empty-cluster refills and Huang's value draws).
//!
//! Covered: seeding with an integer (`init_genrand`), `randint(low, high)`
//! (numpy's masked rejection sampling on 32-bit draws, for ranges that fit
//! in 32 bits), `choice(n)` (= `randint(0, n)`), `random_sample` (53-bit
//! doubles) and `randn` (the legacy polar Box–Muller with its cached
//! second value).

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
}
