//! The categorical matrix, encoded once and packed: each row's codes sit in
//! lanes of `u64` words (8, 16 or 32 bits per lane, by the largest
//! vocabulary), so the number of fields in which two rows differ is a few
//! bit operations per word. Memory is proportional to rows × columns.

/// A packed n × m matrix of category codes.
#[derive(Debug, Clone)]
pub struct Codes {
    n: usize,
    m: usize,
    lane_bits: u32,
    lanes: usize,
    words: usize,
    /// Each lane's low bits (`0x7f7f…` for 8-bit lanes).
    lo: u64,
    /// Each lane's top bit (`0x8080…`).
    hi: u64,
    data: Vec<u64>,
    levels: Vec<u32>,
}

impl Codes {
    /// Pack a row-major matrix of codes; `levels[j]` is column j's
    /// vocabulary size and every code must be below it.
    pub fn new(codes: &[u32], n: usize, levels: Vec<u32>) -> Result<Codes, String> {
        let m = levels.len();
        if codes.len() != n * m {
            return Err(format!("{} codes for {n} rows × {m} columns", codes.len()));
        }
        let max = levels.iter().copied().max().unwrap_or(1);
        let lane_bits = if max <= 1 << 8 {
            8
        } else if max <= 1 << 16 {
            16
        } else {
            32
        };
        let lanes = (64 / lane_bits) as usize;
        let words = m.div_ceil(lanes).max(1);
        let mut lo = 0u64;
        let mut hi = 0u64;
        for l in 0..lanes {
            let shift = l as u32 * lane_bits;
            lo |= ((1u64 << (lane_bits - 1)) - 1) << shift;
            hi |= (1u64 << (lane_bits - 1)) << shift;
        }
        let mut c = Codes { n, m, lane_bits, lanes, words, lo, hi, data: vec![0; n * words], levels };
        for i in 0..n {
            for j in 0..m {
                let v = codes[i * m + j];
                if v >= c.levels[j] {
                    return Err(format!("row {i} column {j}: code {v} is not below the column's {}", c.levels[j]));
                }
                let (w, shift) = c.lane(j);
                c.data[i * words + w] |= u64::from(v) << shift;
            }
        }
        Ok(c)
    }

    fn lane(&self, j: usize) -> (usize, u32) {
        (j / self.lanes, (j % self.lanes) as u32 * self.lane_bits)
    }

    /// Rows.
    pub fn n_rows(&self) -> usize {
        self.n
    }

    /// Columns.
    pub fn n_cols(&self) -> usize {
        self.m
    }

    /// Words per packed row.
    pub fn words(&self) -> usize {
        self.words
    }

    /// Each column's vocabulary size.
    pub fn levels(&self) -> &[u32] {
        &self.levels
    }

    /// Row `i`, packed.
    #[inline]
    pub fn row(&self, i: usize) -> &[u64] {
        &self.data[i * self.words..(i + 1) * self.words]
    }

    /// The code at row `i`, column `j`.
    #[inline]
    pub fn get(&self, i: usize, j: usize) -> u32 {
        Self::read(self, self.row(i), j)
    }

    /// Column `j` of a packed row.
    #[inline]
    pub fn read(&self, packed: &[u64], j: usize) -> u32 {
        let (w, shift) = self.lane(j);
        ((packed[w] >> shift) & ((1u64 << self.lane_bits) - 1)) as u32
    }

    /// Set column `j` of a packed row.
    #[inline]
    pub fn write(&self, packed: &mut [u64], j: usize, v: u32) {
        let (w, shift) = self.lane(j);
        let mask = ((1u64 << self.lane_bits) - 1) << shift;
        packed[w] = (packed[w] & !mask) | (u64::from(v) << shift);
    }

    /// Pack one row of codes.
    pub fn pack(&self, codes: &[u32]) -> Vec<u64> {
        let mut p = vec![0; self.words];
        for (j, &v) in codes.iter().enumerate() {
            self.write(&mut p, j, v);
        }
        p
    }

    /// Unpack a packed row.
    pub fn unpack(&self, packed: &[u64]) -> Vec<u32> {
        (0..self.m).map(|j| self.read(packed, j)).collect()
    }

    /// In how many columns two packed rows differ (the matching
    /// dissimilarity). Per word, after XOR a lane is non-zero iff its top
    /// bit is set or its low bits are; adding `lo` to the low bits sets the
    /// top bit exactly when they are non-zero, and never carries out of
    /// the lane.
    #[inline]
    pub fn mismatches(&self, a: &[u64], b: &[u64]) -> u32 {
        let mut n = 0;
        for (x, y) in a.iter().zip(b) {
            let d = x ^ y;
            n += ((((d & self.lo) + self.lo) | d) & self.hi).count_ones();
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[u32], b: &[u32]) -> u32 {
        a.iter().zip(b).filter(|(x, y)| x != y).count() as u32
    }

    #[test]
    fn packed_mismatches_equal_the_plain_count_for_every_lane_width() {
        // 8-bit lanes (levels ≤ 256), 16-bit (≤ 65536), 32-bit (more).
        for max in [2u32, 129, 256, 257, 65_536, 70_000, 1 << 31] {
            let m = 11;
            let n = 50;
            let mut x = Vec::new();
            let mut s = 0x9e37_79b9_u64;
            for _ in 0..n * m {
                s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                // Codes near the top of the range exercise the top bits.
                let v =
                    if s >> 63 == 1 { max - 1 - ((s >> 40) as u32 % 3).min(max - 1) } else { (s >> 33) as u32 % max };
                x.push(v);
            }
            let c = Codes::new(&x, n, vec![max; m]).unwrap();
            for i in 0..n {
                assert_eq!(c.unpack(c.row(i)), &x[i * m..(i + 1) * m]);
                for k in 0..n {
                    let want = naive(&x[i * m..(i + 1) * m], &x[k * m..(k + 1) * m]);
                    assert_eq!(c.mismatches(c.row(i), c.row(k)), want, "max {max} rows {i},{k}");
                }
            }
        }
    }

    #[test]
    fn write_replaces_one_lane_only() {
        let c = Codes::new(&[1, 2, 3], 1, vec![4, 4, 4]).unwrap();
        let mut p = c.row(0).to_vec();
        c.write(&mut p, 1, 0);
        assert_eq!(c.unpack(&p), vec![1, 0, 3]);
        assert_eq!(c.mismatches(&p, c.row(0)), 1);
    }

    #[test]
    fn codes_outside_the_vocabulary_are_refused() {
        assert!(Codes::new(&[0, 5], 1, vec![3, 3]).unwrap_err().contains("code 5"));
        assert!(Codes::new(&[0, 1, 2], 1, vec![3, 3]).is_err());
    }
}
