//! The string reader's fast path: sixteen bytes of a JSON string per step,
//! with SSSE3, over runs that hold only plain bytes and the escapes `\"` and
//! `\/`.
//!
//! Decoding those two escapes is dropping their backslash. A step finds the
//! quotes, backslashes, slashes and control bytes among its sixteen bytes,
//! checks that every backslash is followed by `"` or `/` (which rules out
//! `\\` and every other escape) and that every quote is one of those escaped
//! ones (an unescaped quote ends the string), and then packs the bytes
//! without their backslashes together, one byte shuffle per half. A step
//! that finds anything else ends the run, and the scalar reader takes the
//! next special byte. PutLogEvents messages are mostly JSON, whose every
//! key and string value adds two escaped quotes, so most of a body is read
//! here without a branch per escape.

/// Room `out` must have beyond the decoded text for a step's stores: each
/// writes sixteen bytes, of which it keeps at most eight.
pub(super) const SLACK: usize = 32;

/// Whether [`run`] does anything on this processor.
fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("ssse3")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Decodes the string that continues at `body[at..]` onto `out` for as long
/// as each sixteen-byte step holds only plain bytes, `\"` and `\/`; returns
/// where it stopped, which is always at a whole escape or plain byte. Stops
/// at once (returns `at`) without SSSE3, near the end of `body`, or when
/// `out` has less than [`SLACK`] spare.
pub(super) fn run(body: &[u8], at: usize, out: &mut Vec<u8>) -> usize {
    #[cfg(target_arch = "x86_64")]
    if available() {
        // SAFETY: the processor has SSSE3, checked just above.
        return unsafe { x86::run(body, at, out) };
    }
    let _ = (body, out);
    at
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_set1_epi8,
        _mm_shuffle_epi8, _mm_srli_si128, _mm_storeu_si128,
    };

    /// For each set of bytes to drop from an eight-byte half (bit `i` for
    /// byte `i`), the shuffle that moves the kept bytes to the front in
    /// order (the rest of the result is zero and never kept).
    static PACK: [[u8; 16]; 256] = pack_table();

    /// For each set of bytes to drop from an eight-byte half, how many are
    /// kept (a table: without the `popcnt` instruction a population count
    /// is a dozen shifts, masks and a multiplication on the step's critical
    /// path).
    static KEPT: [u8; 256] = kept_table();

    const fn kept_table() -> [u8; 256] {
        let mut table = [0; 256];
        let mut drop = 0;
        while drop < 256 {
            table[drop] = 8 - (drop as u8).count_ones() as u8;
            drop += 1;
        }
        table
    }

    const fn pack_table() -> [[u8; 16]; 256] {
        let mut table = [[0x80; 16]; 256];
        let mut drop = 0;
        while drop < 256 {
            let (mut from, mut to) = (0, 0);
            while from < 8 {
                if drop & (1 << from) == 0 {
                    table[drop][to] = from as u8;
                    to += 1;
                }
                from += 1;
            }
            drop += 1;
        }
        table
    }

    /// The bytes of `v` equal to `byte`, as a 16-bit mask.
    #[target_feature(enable = "ssse3")]
    fn equal(v: __m128i, byte: u8) -> u32 {
        _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(byte as i8))) as u32
    }

    /// Writes the bytes of `v` whose bits in `dropped` are clear to
    /// `out[len..]`, in order; returns how many. Sixteen bytes are stored
    /// at `len` and sixteen at most eight further on.
    ///
    /// # Safety
    ///
    /// `out` must have [`super::SLACK`] bytes of capacity past `len`.
    #[target_feature(enable = "ssse3")]
    #[inline]
    unsafe fn pack(v: __m128i, dropped: u32, out: &mut Vec<u8>, len: usize) -> usize {
        let (low, high) = ((dropped & 0xff) as usize, ((dropped >> 8) & 0xff) as usize);
        let kept_low = usize::from(KEPT[low]);
        // SAFETY: the table rows are sixteen bytes each; the caller
        // promises room for the stores, which reach `len + 24` at most.
        unsafe {
            let packed_low = _mm_shuffle_epi8(v, _mm_loadu_si128(PACK[low].as_ptr().cast()));
            let packed_high = _mm_shuffle_epi8(
                _mm_srli_si128::<8>(v),
                _mm_loadu_si128(PACK[high].as_ptr().cast()),
            );
            let to = out.as_mut_ptr().add(len);
            _mm_storeu_si128(to.cast(), packed_low);
            _mm_storeu_si128(to.add(kept_low).cast(), packed_high);
        }
        kept_low + usize::from(KEPT[high])
    }

    /// See [`super::run`].
    #[target_feature(enable = "ssse3")]
    pub(super) fn run(body: &[u8], mut at: usize, out: &mut Vec<u8>) -> usize {
        let mut len = out.len();
        // 1 when the last step ended in a backslash, which was dropped: its
        // escape's other byte is this step's first.
        let mut carry = 0;
        let stop = loop {
            if at + 16 > body.len() || out.capacity() - len < super::SLACK {
                // The escape a dropped backslash began is handed back whole
                // to the scalar reader.
                break at - carry as usize;
            }
            // SAFETY: `at + 16 <= body.len()`, so the sixteen bytes are
            // inside `body`; the load needs no alignment.
            let v = unsafe { _mm_loadu_si128(body.as_ptr().add(at).cast()) };
            let backslashes = equal(v, b'\\');
            let quotes = equal(v, b'"');
            let slashes = equal(v, b'/');
            // Bytes up to 0x1f: those equal to their minimum with 0x1f.
            let controls =
                _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v)) as u32;
            // The byte after each backslash (one past the step is checked
            // by the next step).
            let escaped = ((backslashes << 1) | carry) & 0xffff;
            let other = (escaped & !(quotes | slashes)) | (quotes & !escaped) | controls;
            if other != 0 {
                // The bytes before the first other one are taken, less a
                // backslash just before it (whose escape is not a simple
                // one). When the first byte is the other one and a dropped
                // backslash escaped it, that backslash goes back too.
                let first = other.trailing_zeros();
                let (taken, back) = match first {
                    0 => (0, carry),
                    n => (n - ((backslashes >> (n - 1)) & 1), 0),
                };
                // SAFETY: as below.
                len += unsafe { pack(v, backslashes | (0xffff << taken), out, len) };
                break at + taken as usize - back as usize;
            }
            // SAFETY: `out` has at least SLACK bytes of capacity past `len`.
            len += unsafe { pack(v, backslashes, out, len) };
            // Sixteen on, whatever was dropped: the next step's load then
            // waits for nothing this step computes.
            at += 16;
            carry = backslashes >> 15;
        };
        // SAFETY: every byte below `len` was written above or before.
        unsafe { out.set_len(len) };
        stop
    }
}
