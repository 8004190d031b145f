//! A small, deterministic pseudo-random number generator.
//!
//! [`Xoshiro256StarStar`] (Blackman & Vigna, "Scrambled linear pseudorandom
//! number generators", ACM TOMS 2021, <https://prng.di.unimi.it/>) is the
//! generator; its 256-bit state is filled from a single `u64` seed with
//! [`SplitMix64`], as the authors recommend. Both are tiny, fast, and have no
//! platform-dependent behaviour, so a given seed produces the same stream
//! everywhere — which is what makes `random_state` reproducible.
//!
//! Independent streams (one per k-means restart) come from
//! [`Xoshiro256StarStar::jump`], which advances the state by 2^128 steps.
//!
//! This is not a cryptographic generator.

/// SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number
/// generators", OOPSLA 2014). Used here only to expand a `u64` seed.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next output.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// xoshiro256** 1.0: 256 bits of state, period 2^256 − 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Xoshiro256StarStar {
    s: [u64; 4],
}

impl Xoshiro256StarStar {
    /// Seeds the state with four consecutive SplitMix64 outputs.
    pub fn seed_from_u64(seed: u64) -> Self {
        let mut sm = SplitMix64::new(seed);
        let s = [sm.next_u64(), sm.next_u64(), sm.next_u64(), sm.next_u64()];
        Self { s }
    }

    /// Uses `s` as the raw state. An all-zero state is a fixed point of the
    /// generator, so it is replaced by the state `seed_from_u64(0)` gives.
    pub fn from_state(s: [u64; 4]) -> Self {
        if s == [0; 4] { Self::seed_from_u64(0) } else { Self { s } }
    }

    /// The next output.
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 53 random bits (every representable multiple
    /// of 2^-53 equally likely).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `0..n` without modulo bias (Lemire, "Fast random
    /// integer generation in an interval", ACM TOMACS 2019).
    ///
    /// # Panics
    /// If `n == 0`.
    pub fn gen_index(&mut self, n: usize) -> usize {
        assert!(n > 0, "gen_index: empty range");
        let n = n as u64;
        let mut m = (self.next_u64() as u128) * (n as u128);
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = (self.next_u64() as u128) * (n as u128);
            }
        }
        (m >> 64) as usize
    }

    /// Advances the state by 2^128 calls to `next_u64`: the streams before and
    /// after a jump do not overlap for any practical length.
    pub fn jump(&mut self) {
        const JUMP: [u64; 4] =
            [0x180e_c6d3_3cfd_0aba, 0xd5a6_1266_f0c9_392c, 0xa958_2618_e03f_c9aa, 0x39ab_dc45_29b1_661c];
        let mut acc = [0u64; 4];
        for word in JUMP {
            for b in 0..64 {
                if word & (1u64 << b) != 0 {
                    for (a, s) in acc.iter_mut().zip(self.s.iter()) {
                        *a ^= *s;
                    }
                }
                self.next_u64();
            }
        }
        self.s = acc;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_reference_values() {
        // Outputs of the reference C implementation (splitmix64.c).
        let mut sm = SplitMix64::new(1234567);
        let want = [
            6457827717110365317u64,
            3203168211198807973,
            9817491932198370423,
            4593380528125082431,
            16408922859458223821,
        ];
        for w in want {
            assert_eq!(sm.next_u64(), w);
        }
        assert_eq!(SplitMix64::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn xoshiro256starstar_reference_values() {
        // Outputs of the reference C implementation (xoshiro256starstar.c)
        // from the state {1, 2, 3, 4}.
        let mut rng = Xoshiro256StarStar::from_state([1, 2, 3, 4]);
        let want = [
            11520u64,
            0,
            1509978240,
            1215971899390074240,
            1216172134540287360,
            607988272756665600,
            16172922978634559625,
            8476171486693032832,
            10595114339597558777,
            2904607092377533576,
        ];
        for w in want {
            assert_eq!(rng.next_u64(), w);
        }
    }

    #[test]
    fn jump_gives_a_different_stream_and_is_deterministic() {
        let a = Xoshiro256StarStar::seed_from_u64(7);
        let mut b = a.clone();
        b.jump();
        assert_ne!(a, b);
        let mut c = a.clone();
        c.jump();
        assert_eq!(b, c);
    }

    #[test]
    fn f64_and_index_ranges() {
        let mut rng = Xoshiro256StarStar::seed_from_u64(42);
        let mut counts = [0usize; 5];
        for _ in 0..50_000 {
            let u = rng.next_f64();
            assert!((0.0..1.0).contains(&u));
            counts[rng.gen_index(5)] += 1;
        }
        for c in counts {
            // 10_000 expected per bucket; 6 standard deviations is ~540.
            assert!((9_400..10_600).contains(&c), "{counts:?}");
        }
        assert_eq!(rng.gen_index(1), 0);
    }
}
