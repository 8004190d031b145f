//! A small, deterministic pseudo-random number generator.
//!
//! xoshiro256** 1.0 (Blackman & Vigna, "Scrambled linear pseudorandom
//! number generators", ACM TOMS 2021, <https://prng.di.unimi.it/>) from the
//! `rand_xoshiro` crate, its 256-bit state filled from a single `u64` seed
//! with SplitMix64, as the authors recommend. A given seed gives the same
//! stream everywhere — which is what makes `random_state` reproducible; the
//! tests below pin it to the reference C code's outputs.
//!
//! Independent streams (one per k-means restart) come from
//! [`Xoshiro256StarStar::jump`], which advances the state by 2^128 steps.
//! What is logsieve's own: [`Xoshiro256StarStar::next_f64`] and
//! [`Xoshiro256StarStar::gen_index`], whose draws the trained models depend
//! on. (numpy's MT19937, which the k-modes parity needs, is in
//! `numpy_rng.rs`.)
//!
//! This is not a cryptographic generator.

pub use rand_xoshiro::rand_core::{Rng, SeedableRng};

/// SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number
/// generators", OOPSLA 2014): `SplitMix64::seed_from_u64(seed)` starts from
/// `seed`; `next_u64` comes with [`Rng`].
pub use rand_xoshiro::SplitMix64;

/// xoshiro256** 1.0: 256 bits of state, period 2^256 − 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Xoshiro256StarStar(rand_xoshiro::Xoshiro256StarStar);

impl Xoshiro256StarStar {
    /// Seeds the state with four consecutive SplitMix64 outputs.
    pub fn seed_from_u64(seed: u64) -> Self {
        Self(rand_xoshiro::Xoshiro256StarStar::seed_from_u64(seed))
    }

    /// Uses `s` as the raw state. An all-zero state is a fixed point of the
    /// generator, so it is replaced by the state `seed_from_u64(0)` gives.
    pub fn from_state(s: [u64; 4]) -> Self {
        let mut seed = [0u8; 32];
        for (chunk, w) in seed.chunks_exact_mut(8).zip(s) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        Self(rand_xoshiro::Xoshiro256StarStar::from_seed(seed))
    }

    /// The next output.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `[0, 1)` with 53 random bits (every representable multiple
    /// of 2^-53 equally likely).
    #[inline]
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
        self.0.jump();
    }

    /// The raw state (for the tests against the reference code).
    #[cfg(test)]
    fn s(&self) -> [u64; 4] {
        let b = self.0.state();
        std::array::from_fn(|i| u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().unwrap()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The jump polynomial of xoshiro256 (the reference's `JUMP`): bit `b` of
    /// word `w` is the coefficient of `x^(64w + b)` in `x^(2^128) mod P(x)`, `P`
    /// the characteristic polynomial of the linear engine (found afresh below).
    const JUMP: [u64; 4] = [0x180e_c6d3_3cfd_0aba, 0xd5a6_1266_f0c9_392c, 0xa958_2618_e03f_c9aa, 0x39ab_dc45_29b1_661c];

    #[test]
    fn splitmix64_reference_values() {
        // Outputs of the reference C implementation (splitmix64.c).
        let mut sm = SplitMix64::seed_from_u64(1234567);
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
        assert_eq!(SplitMix64::seed_from_u64(0).next_u64(), 0xE220_A839_7B1D_CDAF);
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
    fn jump_matches_the_reference() {
        // The reference C code (xoshiro256starstar.c's next and jump, and
        // splitmix64.c), compiled with gcc: the state after 1, 2 and 3 jumps
        // from {1, 2, 3, 4}, and the next three outputs of each.
        let want: [([u64; 4], [u64; 3]); 3] = [
            (
                [10122426448480695249, 8079205330032121950, 7289065458748526725, 9477464255293849680],
                [13534147089533256664, 7126240192422241655, 3805973808039778091],
            ),
            (
                [5111752863774580727, 12806723341733365286, 1118560701721962141, 10909022719440211756],
                [16643641693396687132, 5049895679018676702, 211752879660941967],
            ),
            (
                [13689415954175165597, 6359365893797568324, 571339059028341058, 14343651413612518297],
                [13160561960533589308, 10906118326801310045, 10357798701826169776],
            ),
        ];
        let mut g = Xoshiro256StarStar::from_state([1, 2, 3, 4]);
        for (state, outputs) in want {
            g.jump();
            assert_eq!(g.s(), state);
            let mut h = g.clone();
            assert_eq!(outputs.map(|_| h.next_u64()), outputs);
        }
        // Seeded from SplitMix64: the first output after i = 0..9 jumps
        // (the first draw of each k-means run), seeds 0, 1 and 2.
        let want: [[u64; 10]; 3] = [
            [
                11091344671253066420,
                3990776330815198764,
                12044756214383532609,
                13550237475680584104,
                671606607925548821,
                17681866298552884154,
                7147730932072006359,
                9627211793893850555,
                7660553254125768162,
                1745487415184515088,
            ],
            [
                12966619160104079557,
                3686199559692413392,
                13838283481213388003,
                16190593763479031985,
                17990799229474098527,
                16645948338593838952,
                14896405764114942099,
                10115752168887418966,
                1382135031437375106,
                15193910679822136962,
            ],
            [
                1884871951439679575,
                4784716315302916926,
                15191942092349719364,
                12733790645912778961,
                14961222334394604863,
                6771310650466309378,
                10747187569158154866,
                16201843491913998038,
                8206899837320230479,
                2478797060911615742,
            ],
        ];
        for (seed, firsts) in want.iter().enumerate() {
            let mut stream = Xoshiro256StarStar::seed_from_u64(seed as u64);
            for (i, &w) in firsts.iter().enumerate() {
                assert_eq!(stream.clone().next_u64(), w, "seed {seed}, stream {i}");
                stream.jump();
            }
        }
    }

    /// Polynomials over GF(2) of degree < 320: bit `i` is the coefficient of `x^i`.
    type Poly = [u64; 5];

    fn coeff(p: &Poly, i: usize) -> bool {
        p[i / 64] >> (i % 64) & 1 == 1
    }

    fn flip(p: &mut Poly, i: usize) {
        p[i / 64] ^= 1 << (i % 64);
    }

    /// `a · b mod m`, `m` of degree `deg`.
    fn mul_mod(a: &Poly, b: &Poly, m: &Poly, deg: usize) -> Poly {
        let (mut r, mut a) = ([0u64; 5], *a);
        for i in 0..deg {
            if coeff(b, i) {
                r.iter_mut().zip(&a).for_each(|(r, a)| *r ^= a);
            }
            // a ← a · x mod m
            for w in (0..5).rev() {
                a[w] = a[w] << 1 | if w > 0 { a[w - 1] >> 63 } else { 0 };
            }
            if coeff(&a, deg) {
                a.iter_mut().zip(m).for_each(|(a, m)| *a ^= m);
            }
        }
        r
    }

    #[test]
    fn jump_is_two_to_the_128_steps() {
        // The state transition T is linear over GF(2); any one bit of the
        // state, step after step, satisfies the recurrence of T's minimal
        // polynomial P, which Berlekamp–Massey recovers from 2·256 terms.
        let mut g = Xoshiro256StarStar::seed_from_u64(2024);
        let bits: Vec<bool> = (0..600)
            .map(|_| {
                let b = g.s()[0] & 1 == 1;
                g.next_u64();
                b
            })
            .collect();
        // Berlekamp–Massey: connection polynomial c (c_0 = 1) of length l.
        let (mut c, mut b) = (vec![false; 601], vec![false; 601]);
        c[0] = true;
        b[0] = true;
        let (mut l, mut m) = (0usize, 1usize);
        for n in 0..bits.len() {
            let d = (1..=l).fold(bits[n], |d, i| d ^ (c[i] & bits[n - i]));
            if !d {
                m += 1;
                continue;
            }
            let t = c.clone();
            for i in 0..601 - m {
                c[i + m] ^= b[i];
            }
            if 2 * l <= n {
                l = n + 1 - l;
                b = t;
                m = 1;
            } else {
                m += 1;
            }
        }
        assert_eq!(l, 256, "the linear complexity of xoshiro256 is its state size");
        // P(x) = x^256 · c(1/x).
        let mut p: Poly = [0; 5];
        for (i, _) in c.iter().enumerate().take(l + 1).filter(|&(_, &ci)| ci) {
            flip(&mut p, l - i);
        }
        let mut x: Poly = [2, 0, 0, 0, 0];
        // x^(2^256) = x: P is primitive, the period is 2^256 − 1.
        let mut y = x;
        for _ in 0..256 {
            y = mul_mod(&y, &y, &p, l);
        }
        assert_eq!(y, x);
        // x^(2^128) mod P is the jump polynomial.
        for _ in 0..128 {
            x = mul_mod(&x, &x, &p, l);
        }
        assert_eq!(x, [JUMP[0], JUMP[1], JUMP[2], JUMP[3], 0]);
        // And jump() applies it: Σ_b coeff_b · T^b(s), T stepping the same engine.
        let start = Xoshiro256StarStar::seed_from_u64(99);
        let (mut t, mut acc) = (start.clone(), [0u64; 4]);
        for i in 0..256 {
            if coeff(&x, i) {
                acc.iter_mut().zip(&t.s()).for_each(|(a, s)| *a ^= s);
            }
            t.next_u64();
        }
        let mut jumped = start.clone();
        jumped.jump();
        assert_eq!(jumped.s(), acc);
        // Linear maps that are polynomials in T commute with T.
        let (mut a, mut b) = (start.clone(), start);
        a.next_u64();
        a.jump();
        b.jump();
        b.next_u64();
        assert_eq!(a, b);
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
