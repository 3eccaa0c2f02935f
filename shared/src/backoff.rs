//! Exponential backoff, the same arithmetic wherever something is retried or restarted.

use std::time::Duration;

/// The wait after the `attempt`-th consecutive failure: `base`, 2·`base`, 4·`base`, … never above `max`.
/// Attempt 0 counts as the first; the doubling stops at 2³⁰, and nothing overflows.
pub fn exponential(base: Duration, attempt: u32, max: Duration) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
    base.saturating_mul(factor).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_the_base_up_to_the_cap_without_overflow() {
        let s = Duration::from_secs;
        let got: Vec<u64> = (0..=6)
            .map(|n| exponential(s(3), n, s(60)).as_secs())
            .collect();
        assert_eq!(got, [3, 3, 6, 12, 24, 48, 60]);
        assert_eq!(exponential(s(1), u32::MAX, Duration::MAX), s(1 << 30));
        assert_eq!(exponential(Duration::MAX, u32::MAX, s(5)), s(5));
    }
}
