//! Byte tests on 8-byte little-endian words (SWAR), for the readers' per
//! byte loops: each sets the top bit of every byte it flags, exactly (no
//! carry crosses from one byte into the next).

/// `0x01` in every byte.
pub(crate) const ONES: u64 = 0x0101_0101_0101_0101;
/// `0x7f` in every byte.
const LOW7: u64 = ONES * 0x7f;

/// The bytes of `w` equal to `b`.
#[inline(always)]
pub(crate) fn equal(w: u64, b: u8) -> u64 {
    below(w ^ (ONES * u64::from(b)), 1)
}

/// The bytes of `w` below `n` (`n` ≤ 0x80): per byte, the low seven bits
/// plus `0x80 - n` reach the top bit exactly when they are `n` or more,
/// and a byte with its own top bit set is 0x80 or more.
#[inline(always)]
pub(crate) fn below(w: u64, n: u8) -> u64 {
    debug_assert!(n <= 0x80);
    !(((w & LOW7) + ONES * u64::from(0x80 - n)) | w) & !LOW7
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte value at every place of a word, beside bytes that could
    /// carry into it: flagged exactly when a byte-by-byte test says so.
    #[test]
    fn flags_each_byte_exactly() {
        for at in 0..8 {
            for c in 0..=255u8 {
                for other in [0x00, 0x01, 0x1f, 0x20, 0x7f, 0x80, 0xff] {
                    let mut bytes = [other; 8];
                    bytes[at] = c;
                    let w = u64::from_le_bytes(bytes);
                    for (k, &x) in bytes.iter().enumerate() {
                        let top = |m: u64| m >> (8 * k) & 0xff;
                        assert_eq!(top(equal(w, b'\t')), if x == b'\t' { 0x80 } else { 0 }, "{bytes:?}");
                        assert_eq!(top(equal(w, 0xff)), if x == 0xff { 0x80 } else { 0 }, "{bytes:?}");
                        assert_eq!(top(below(w, 0x20)), if x < 0x20 { 0x80 } else { 0 }, "{bytes:?}");
                        assert_eq!(top(below(w, 0x80)), if x < 0x80 { 0x80 } else { 0 }, "{bytes:?}");
                    }
                }
            }
        }
    }
}
