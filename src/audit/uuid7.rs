//! Time-ordered UUIDs (RFC 9562 version 7) for audit entries: 48 bits of Unix time in
//! milliseconds, a 12-bit counter that keeps one backend's ids increasing within a
//! millisecond, and 62 random bits. An append-only log then grows its primary key at
//! the right edge instead of at random places, which is cheaper to write and to scan.

use std::cell::Cell;

/// The bytes of a version 7 UUID. Pure: `ms` is the time, `counter` the 12-bit
/// sequence within that millisecond, `random` supplies rand_b.
pub fn uuid7_bytes(ms: u64, counter: u16, random: u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    let rand_a = counter & 0x0fff;
    b[6] = 0x70 | (rand_a >> 8) as u8;
    b[7] = rand_a as u8;
    b[8..].copy_from_slice(&random.to_be_bytes());
    b[8] = 0x80 | (b[8] & 0x3f);
    b
}

thread_local! {
    /// xorshift64* state, seeded from pg_strong_random on first use.
    static STATE: Cell<u64> = const { Cell::new(0) };
    /// (last millisecond, counter within it).
    static LAST: Cell<(u64, u16)> = const { Cell::new((0, 0)) };
}

fn next_random() -> u64 {
    STATE.with(|s| {
        let mut x = s.get();
        if x == 0 {
            let mut seed = [0u8; 8];
            // SAFETY: writes 8 bytes into `seed`.
            let ok = unsafe { pgrx::pg_sys::pg_strong_random(seed.as_mut_ptr().cast(), 8) };
            x = if ok { u64::from_ne_bytes(seed) } else { 0 } | 1;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

/// A new version 7 UUID.
pub fn new_uuid7() -> [u8; 16] {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let (ms, counter) = LAST.with(|last| {
        let (prev_ms, prev_counter) = last.get();
        // Within one millisecond (or if the clock stepped back) count up; past 4095
        // borrow the next millisecond, so one backend's ids never go backwards.
        let next = if now_ms > prev_ms {
            (now_ms, (next_random() & 0x3ff) as u16)
        } else if prev_counter < 0x0fff {
            (prev_ms, prev_counter + 1)
        } else {
            (prev_ms + 1, 0)
        };
        last.set(next);
        next
    });
    uuid7_bytes(ms, counter, next_random())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_and_variant_bits_are_set() {
        let b = uuid7_bytes(0x0123_4567_89ab, 0xfff, u64::MAX);
        assert_eq!(&b[..6], &[0x01, 0x23, 0x45, 0x67, 0x89, 0xab]);
        assert_eq!(b[6] >> 4, 7, "version 7");
        assert_eq!(b[8] >> 6, 0b10, "RFC 9562 variant");
        assert_eq!(((b[6] as u16 & 0x0f) << 8) | b[7] as u16, 0xfff);
    }

    #[test]
    fn ids_sort_by_time_then_counter() {
        let a = uuid7_bytes(1000, 5, 99);
        let b = uuid7_bytes(1000, 6, 1);
        let c = uuid7_bytes(1001, 0, 0);
        assert!(a < b && b < c);
    }
}
