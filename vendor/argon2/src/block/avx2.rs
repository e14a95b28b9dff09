//! Argon2's compression function G, written with AVX2 intrinsics.
//!
//! The portable [`Block::compress`] compiled with AVX2 enabled leaves the
//! vectorising to LLVM, which rotates by shifts and ors and masks each operand
//! before `vpmuludq`. Here each rotation is one shuffle (by 32: `vpshufd`; by 24
//! and 16: `vpshufb`; by 63: a shift, an add and an xor), the multiply reads the
//! low halves itself, and the two steps of the permutation each run two independent
//! states side by side. The result is the same block, bit for bit; the tests hold it
//! to the portable code on random blocks and to RFC 9106's vectors.

#[cfg(target_arch = "x86")]
use core::arch::x86::*;
#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

use super::Block;

/// A block as 32 registers of four words: words `4k..4k+4` in register `k`.
type Lanes = [__m256i; 32];

/// `x + y + 2 * lo32(x) * lo32(y)`, the multiply-hardened addition of `BlaMka`.
#[inline(always)]
fn blamka(x: __m256i, y: __m256i) -> __m256i {
    // SAFETY: the intrinsics need AVX2. These helpers are private and reached only
    // from `compress` and `fill`, which run only where AVX2 was detected (and,
    // inlined into them, are compiled with it).
    unsafe {
        let xy = _mm256_mul_epu32(x, y);
        _mm256_add_epi64(_mm256_add_epi64(x, y), _mm256_add_epi64(xy, xy))
    }
}

#[inline(always)]
fn rotr32(x: __m256i) -> __m256i {
    // SAFETY: as in `blamka`.
    unsafe { _mm256_shuffle_epi32::<0b10_11_00_01>(x) }
}

#[inline(always)]
fn rotr24(x: __m256i) -> __m256i {
    // SAFETY: as in `blamka`.
    unsafe {
        let bytes = _mm256_setr_epi8(
            3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10, //
            3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10,
        );
        _mm256_shuffle_epi8(x, bytes)
    }
}

#[inline(always)]
fn rotr16(x: __m256i) -> __m256i {
    // SAFETY: as in `blamka`.
    unsafe {
        let bytes = _mm256_setr_epi8(
            2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9, //
            2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9,
        );
        _mm256_shuffle_epi8(x, bytes)
    }
}

#[inline(always)]
fn rotr63(x: __m256i) -> __m256i {
    // SAFETY: as in `blamka`.
    unsafe { _mm256_xor_si256(_mm256_srli_epi64::<63>(x), _mm256_add_epi64(x, x)) }
}

/// One quarter-round on four columns at once.
#[inline(always)]
fn g(a: &mut __m256i, b: &mut __m256i, c: &mut __m256i, d: &mut __m256i) {
    // SAFETY: as in `blamka`.
    unsafe {
        *a = blamka(*a, *b);
        *d = rotr32(_mm256_xor_si256(*d, *a));
        *c = blamka(*c, *d);
        *b = rotr24(_mm256_xor_si256(*b, *c));
        *a = blamka(*a, *b);
        *d = rotr16(_mm256_xor_si256(*d, *a));
        *c = blamka(*c, *d);
        *b = rotr63(_mm256_xor_si256(*b, *c));
    }
}

/// The permutation P on one state of 16 words held as `a = v0..v3`, `b = v4..v7`,
/// `c = v8..v11`, `d = v12..v15`: the columns, then the diagonals, which line up as
/// columns once `b`, `c` and `d` are rotated left by one, two and three words.
#[inline(always)]
fn permute(a: &mut __m256i, b: &mut __m256i, c: &mut __m256i, d: &mut __m256i) {
    // SAFETY: as in `blamka`.
    unsafe {
        g(a, b, c, d);
        *b = _mm256_permute4x64_epi64::<0b00_11_10_01>(*b);
        *c = _mm256_permute4x64_epi64::<0b01_00_11_10>(*c);
        *d = _mm256_permute4x64_epi64::<0b10_01_00_11>(*d);
        g(a, b, c, d);
        *b = _mm256_permute4x64_epi64::<0b10_01_00_11>(*b);
        *c = _mm256_permute4x64_epi64::<0b01_00_11_10>(*c);
        *d = _mm256_permute4x64_epi64::<0b00_11_10_01>(*d);
    }
}

/// `P(rhs ^ lhs) ^ rhs ^ lhs`, as [`Block::compress`], in registers.
#[inline(always)]
fn compressed(rhs: &Block, lhs: &Block) -> Lanes {
    // SAFETY: `Lanes` and the words of a `Block` are the same 1024 bytes, every bit
    // pattern is valid for both, and a `Block` (64-byte aligned, its words at offset
    // 0) is aligned enough for `__m256i`.
    let (mut r, y) = unsafe {
        (
            *core::ptr::from_ref(&rhs.0).cast::<Lanes>(),
            &*core::ptr::from_ref(&lhs.0).cast::<Lanes>(),
        )
    };
    // A loop: the closure of `core::array::from_fn` here was compiled apart, without
    // AVX2, and called 32 times a block.
    for (r, y) in r.iter_mut().zip(y) {
        // SAFETY: as in `blamka`.
        *r = unsafe { _mm256_xor_si256(*r, *y) };
    }
    let mut q = r;

    // Rows: row k is words 16k..16k+16, registers 4k..4k+4.
    for k in (0..32).step_by(4) {
        let [mut a, mut b, mut c, mut d] = [q[k], q[k + 1], q[k + 2], q[k + 3]];
        permute(&mut a, &mut b, &mut c, &mut d);
        [q[k], q[k + 1], q[k + 2], q[k + 3]] = [a, b, c, d];
    }

    // Columns: column i is the word pairs (16j + 2i, 16j + 2i + 1) of rows j = 0..8.
    // Register 4j + m holds row j's pairs of columns 2m and 2m + 1, so those two
    // columns are gathered from eight registers, permuted side by side, and put back.
    for m in 0..4 {
        let gather = |lo: usize, hi: usize| {
            // SAFETY: as in `blamka`.
            unsafe {
                (
                    _mm256_permute2x128_si256::<0x20>(q[lo + m], q[hi + m]),
                    _mm256_permute2x128_si256::<0x31>(q[lo + m], q[hi + m]),
                )
            }
        };
        let (mut a0, mut a1) = gather(0, 4);
        let (mut b0, mut b1) = gather(8, 12);
        let (mut c0, mut c1) = gather(16, 20);
        let (mut d0, mut d1) = gather(24, 28);
        permute(&mut a0, &mut b0, &mut c0, &mut d0);
        permute(&mut a1, &mut b1, &mut c1, &mut d1);
        let mut scatter = |lo: usize, hi: usize, x0: __m256i, x1: __m256i| {
            // SAFETY: as in `blamka`.
            unsafe {
                q[lo + m] = _mm256_permute2x128_si256::<0x20>(x0, x1);
                q[hi + m] = _mm256_permute2x128_si256::<0x31>(x0, x1);
            }
        };
        scatter(0, 4, a0, a1);
        scatter(8, 12, b0, b1);
        scatter(16, 20, c0, c1);
        scatter(24, 28, d0, d1);
    }

    for (q, r) in q.iter_mut().zip(r) {
        // SAFETY: as in `blamka`.
        *q = unsafe { _mm256_xor_si256(*q, r) };
    }
    q
}

/// `P(rhs ^ lhs) ^ rhs ^ lhs`, as [`Block::compress`].
///
/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn compress(rhs: &Block, lhs: &Block) -> Block {
    // SAFETY: `Lanes` and the words of a `Block` are the same 1024 bytes, and every
    // bit pattern is valid for both.
    Block(unsafe { core::mem::transmute::<Lanes, [u64; 128]>(compressed(rhs, lhs)) })
}

/// Writes `compress(prev, reference)` to `cur`, or XORs it into `cur` when `xor`,
/// from registers: the block is not returned, then copied or combined again.
///
/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn fill(prev: &Block, reference: &Block, cur: &mut Block, xor: bool) {
    let new = compressed(prev, reference);
    // SAFETY: as in `compressed`.
    let cur = unsafe { &mut *core::ptr::from_mut(&mut cur.0).cast::<Lanes>() };
    if xor {
        for (cur, new) in cur.iter_mut().zip(new) {
            *cur = _mm256_xor_si256(*cur, new);
        }
    } else {
        *cur = new;
    }
}
