//! Byte classes 16 or 8 bytes at a time. The 16-byte forms give a mask
//! whose bit k is set for a flagged byte k (SSE2, `simd128`; `equal16`
//! everywhere); the 8-byte forms (SWAR on a little-endian word) set the
//! high bit of flagged bytes. Only the lowest flagged byte is exact in the
//! 8-byte forms (borrows carry upwards from a flagged byte) and in the
//! portable `special16`/`non_digit16`, and callers use only the lowest bit
//! of those.

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Quote, backslash or control character (< 0x20).
#[inline(always)]
pub fn special8(w: u64) -> u64 {
    // Bytes >= 0x80 never are: the checks are masked with !w.
    let quote = w ^ (LO * u64::from(b'"'));
    let slash = w ^ (LO * u64::from(b'\\'));
    let zero_q = quote.wrapping_sub(LO) & !quote;
    let zero_s = slash.wrapping_sub(LO) & !slash;
    let ctrl = w.wrapping_sub(LO * 0x20);
    (zero_q | zero_s | ctrl) & !w & HI
}

/// Not an ASCII digit.
#[inline(always)]
pub fn non_digit8(w: u64) -> u64 {
    // Per byte x < 0x80 (no carries: x + 0x50 < 0x100): the high bit of
    // x + 0x46 is set iff x >= 0x3a, of x + 0x50 iff x >= 0x30. Bytes
    // >= 0x80 are non-digits by their own high bit.
    let m = w & !HI;
    let ge_3a = m.wrapping_add(LO * 0x46) & HI;
    let ge_30 = m.wrapping_add(LO * 0x50) & HI;
    (w & HI) | ge_3a | (!ge_30 & HI)
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod imp {
    use core::arch::wasm32::*;

    #[inline(always)]
    fn load(c: &[u8; 16]) -> v128 {
        // SAFETY: 16 readable bytes; wasm loads need no alignment.
        unsafe { v128_load(c.as_ptr().cast()) }
    }

    #[inline(always)]
    pub fn special16(c: &[u8; 16]) -> u32 {
        let v = load(c);
        let q = i8x16_eq(v, u8x16_splat(b'"'));
        let s = i8x16_eq(v, u8x16_splat(b'\\'));
        let ctl = u8x16_lt(v, u8x16_splat(0x20));
        u32::from(u8x16_bitmask(v128_or(v128_or(q, s), ctl)))
    }

    #[inline(always)]
    pub fn non_digit16(c: &[u8; 16]) -> u32 {
        let d = u8x16_sub(load(c), u8x16_splat(b'0'));
        u32::from(u8x16_bitmask(u8x16_ge(d, u8x16_splat(10))))
    }

    #[inline(always)]
    pub fn equal16(c: &[u8; 16], d: &[u8; 16]) -> u32 {
        u32::from(u8x16_bitmask(i8x16_eq(load(c), load(d))))
    }
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use core::arch::x86_64::*;

    #[inline(always)]
    fn load(c: &[u8; 16]) -> __m128i {
        // SAFETY: 16 readable bytes; loadu needs no alignment; SSE2 is
        // part of x86-64.
        unsafe { _mm_loadu_si128(c.as_ptr().cast()) }
    }

    #[inline(always)]
    pub fn special16(c: &[u8; 16]) -> u32 {
        // SAFETY: SSE2 is part of x86-64.
        unsafe {
            let v = load(c);
            let q = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let s = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            // v <= 0x1f (unsigned) iff min(v, 0x1f) == v.
            let ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(q, s), ctl)) as u32
        }
    }

    #[inline(always)]
    pub fn non_digit16(c: &[u8; 16]) -> u32 {
        // SAFETY: SSE2 is part of x86-64.
        unsafe {
            let d = _mm_sub_epi8(load(c), _mm_set1_epi8(b'0' as i8));
            // d <= 9 (unsigned) iff min(d, 9) == d.
            let digit = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
            (!_mm_movemask_epi8(digit) as u32) & 0xffff
        }
    }

    #[inline(always)]
    pub fn equal16(c: &[u8; 16], d: &[u8; 16]) -> u32 {
        // SAFETY: SSE2 is part of x86-64.
        unsafe { _mm_movemask_epi8(_mm_cmpeq_epi8(load(c), load(d))) as u32 }
    }
}

#[cfg(not(any(all(target_arch = "wasm32", target_feature = "simd128"), target_arch = "x86_64")))]
mod imp {
    use super::{non_digit8, special8};

    /// Two words' flags as a mask whose lowest bit is the first flagged
    /// byte (all the callers use).
    #[inline(always)]
    fn first(c: &[u8; 16], f: fn(u64) -> u64) -> u32 {
        let lo = f(u64::from_le_bytes(c[..8].try_into().unwrap()));
        if lo != 0 {
            return 1 << (lo.trailing_zeros() / 8);
        }
        let hi = f(u64::from_le_bytes(c[8..].try_into().unwrap()));
        if hi != 0 { 1 << (8 + hi.trailing_zeros() / 8) } else { 0 }
    }

    #[inline(always)]
    pub fn special16(c: &[u8; 16]) -> u32 {
        first(c, special8)
    }

    #[inline(always)]
    pub fn non_digit16(c: &[u8; 16]) -> u32 {
        first(c, non_digit8)
    }

    #[inline(always)]
    pub fn equal16(c: &[u8; 16], d: &[u8; 16]) -> u32 {
        (0..16).fold(0, |m, k| m | u32::from(c[k] == d[k]) << k)
    }
}

pub use imp::{equal16, non_digit16, special16};
