//! The noise distribution of negative sampling (gensim's cumulative table)
//! and the subsampling of frequent words.

/// The integer range of gensim's cumulative table: `make_cum_table(domain=2**31 - 1)`.
pub const CUM_TABLE_DOMAIN: u32 = (1 << 31) - 1;

/// The negative-sampling distribution `count^ns_exponent / Σ count^ns_exponent`,
/// as gensim's `make_cum_table`: `cum[i] = round(Σ_{j≤i} count_j^e / Σ_j count_j^e · (2^31 − 1))`
/// (f64 sums in word order, Python's round-half-to-even), so
/// `cum[last] = 2^31 − 1`.
///
/// A draw takes a uniform integer `x` in `0..cum[last]` and returns the
/// first word with `cum[i] > x`: word `i` has probability
/// `(cum[i] − cum[i−1]) / cum[last]` exactly. (gensim's `bisect_left` returns
/// the first `cum[i] ≥ x`, which moves one of the 2^31 − 1 values to the next
/// word.) Instead of a binary search over the whole table, a guide table
/// (Chen & Asau's indexed search) gives for each of `2^b` equal slices of the
/// domain the first candidate word, and a short forward scan finishes: the
/// same result as the binary search, in expected constant time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoiseTable {
    cum: Vec<u32>,
    /// `guide[b]`: the first word with `cum[i] > b << shift`.
    guide: Vec<u32>,
    shift: u32,
}

impl NoiseTable {
    /// The table for words with these counts (by id) and `ns_exponent`.
    ///
    /// # Panics
    /// If `counts` is empty, longer than `u32::MAX`, or its weights sum to
    /// zero or a non-finite value.
    pub fn new(counts: &[u64], exponent: f64) -> NoiseTable {
        assert!(!counts.is_empty(), "the noise table needs at least one word");
        assert!(counts.len() <= u32::MAX as usize, "too many words");
        let pow = |c: u64| (c as f64).powf(exponent);
        let total: f64 = counts.iter().map(|&c| pow(c)).sum();
        assert!(total.is_finite() && total > 0.0, "noise weights sum to {total}");
        let domain = f64::from(CUM_TABLE_DOMAIN);
        let mut cumulative = 0.0f64;
        let cum: Vec<u32> = counts
            .iter()
            .map(|&c| {
                cumulative += pow(c);
                (cumulative / total * domain).round_ties_even() as u32
            })
            .collect();
        debug_assert_eq!(*cum.last().unwrap(), CUM_TABLE_DOMAIN);
        // About one slice per word: a slice of the (uniform) domain then holds
        // on average one word boundary.
        let bits = (usize::BITS - (cum.len().max(2) - 1).leading_zeros()).min(24);
        let shift = 31 - bits;
        let n_slices = ((cum[cum.len() - 1] - 1) >> shift) as usize + 1;
        let mut guide = Vec::with_capacity(n_slices);
        let mut i = 0usize;
        for b in 0..n_slices {
            let lo = (b as u32) << shift;
            while cum[i] <= lo {
                i += 1;
            }
            guide.push(i as u32);
        }
        NoiseTable { cum, guide, shift }
    }

    /// gensim's cumulative table.
    pub fn cum_table(&self) -> &[u32] {
        &self.cum
    }

    /// The number of words.
    pub fn len(&self) -> usize {
        self.cum.len()
    }

    /// Never true (a table has at least one word).
    pub fn is_empty(&self) -> bool {
        self.cum.is_empty()
    }

    /// The exact probability of drawing each word.
    pub fn probabilities(&self) -> Vec<f64> {
        let total = f64::from(self.total());
        let mut prev = 0u32;
        self.cum
            .iter()
            .map(|&c| {
                let p = f64::from(c - prev) / total;
                prev = c;
                p
            })
            .collect()
    }

    /// `cum[last]`, the size of the integer domain of [`NoiseTable::sample_at`].
    pub fn total(&self) -> u32 {
        self.cum[self.cum.len() - 1]
    }

    /// The word for the integer `x` (`x < total()`): the first `i` with
    /// `cum[i] > x`.
    ///
    /// # Panics
    /// If `x >= total()`.
    #[inline]
    pub fn sample_at(&self, x: u32) -> u32 {
        assert!(x < self.total(), "{x} is outside the noise table's domain");
        // SAFETY: `x < cum[last]`, so the scan stops at the last word at the latest.
        unsafe { self.sample_at_unchecked(x) }
    }

    /// [`NoiseTable::sample_at`] without the range check.
    ///
    /// # Safety
    /// `x < self.total()`.
    #[inline(always)]
    pub(super) unsafe fn sample_at_unchecked(&self, x: u32) -> u32 {
        // SAFETY: `x < total()` (the caller's contract): the guide entry of
        // `x` exists, and the walk stops at or before the last entry of
        // `cum`, which is the total.
        unsafe {
            let mut i = *self.guide.get_unchecked((x >> self.shift) as usize) as usize;
            while *self.cum.get_unchecked(i) <= x {
                i += 1;
            }
            i as u32
        }
    }

    /// A word drawn with a uniform 32-bit random number `r`: `x = ⌊r · total / 2^32⌋`
    /// (multiply-shift instead of gensim's modulo; every `x` gets 2 or 3 of the 2^32
    /// values of `r`, a relative bias below 2^-31).
    #[inline(always)]
    pub fn sample_u32(&self, r: u32) -> u32 {
        let x = ((u64::from(r) * u64::from(self.total())) >> 32) as u32;
        // SAFETY: `r < 2^32`, so `x < total`.
        unsafe { self.sample_at_unchecked(x) }
    }

    /// A word drawn with `rng` (the high 32 bits of one output).
    pub fn sample(&self, rng: &mut crate::rng::Xoshiro256StarStar) -> u32 {
        self.sample_u32((rng.next_u64() >> 32) as u32)
    }
}

/// gensim's probability of keeping one occurrence of a word seen `count`
/// times among `total` retained words, with `sample`:
/// `threshold = sample · total`, `p = (√(count / threshold) + 1) · threshold / count`,
/// capped at 1. `sample == 0` keeps everything; `sample ≥ 1` is gensim's
/// shorthand `threshold = ⌊sample · (3 + √5) / 2⌋` (words seen more than
/// `sample` times are downsampled).
pub fn keep_probability(count: u64, total: u64, sample: f64) -> f64 {
    if sample <= 0.0 || count == 0 {
        return 1.0;
    }
    let threshold = if sample < 1.0 { sample * total as f64 } else { (sample * (3.0 + 5f64.sqrt()) / 2.0).floor() };
    let v = count as f64;
    let p = ((v / threshold).sqrt() + 1.0) * (threshold / v);
    p.min(1.0)
}

/// gensim's integer form of [`keep_probability`] (`sample_int`): an
/// occurrence is kept when a uniform 32-bit random number is `≤` it.
pub(super) fn keep_threshold(p: f64) -> u32 {
    (p * f64::from(u32::MAX)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guide_table_agrees_with_binary_search() {
        let counts: Vec<u64> = (0..1000u64).map(|i| 1 + (7919 * i) % 97 + if i < 10 { 10_000 } else { 0 }).collect();
        let t = NoiseTable::new(&counts, 0.75);
        let cum = t.cum_table();
        let mut x = 0u32;
        while x < t.total() {
            assert_eq!(t.sample_at(x) as usize, cum.partition_point(|&c| c <= x), "x = {x}");
            x = x.saturating_add(12_345);
        }
        for x in [0, 1, cum[0] - 1, cum[0], cum[0] + 1, t.total() - 1] {
            assert_eq!(t.sample_at(x) as usize, cum.partition_point(|&c| c <= x), "x = {x}");
        }
    }

    #[test]
    fn single_word_table() {
        let t = NoiseTable::new(&[3], 0.75);
        assert_eq!(t.cum_table(), &[CUM_TABLE_DOMAIN]);
        assert_eq!(t.sample_u32(0), 0);
        assert_eq!(t.sample_u32(u32::MAX), 0);
        assert_eq!(t.probabilities(), vec![1.0]);
    }

    #[test]
    fn keep_threshold_edges() {
        assert_eq!(keep_threshold(1.0), u32::MAX);
        assert_eq!(keep_threshold(0.0), 0);
        assert_eq!(keep_threshold(0.5), u32::MAX / 2);
    }
}
