//! Per-object memory across reconciles: consecutive failures (for the retry backoff) and the bad annotation
//! values already warned about.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use parking_lot::Mutex;

#[derive(Default)]
pub(crate) struct Retries {
    failures: Mutex<HashMap<String, u32>>,
    warned: Mutex<HashSet<(String, String)>>,
}

impl Retries {
    /// The delay before retrying a failed object: 1 s, 2 s, 4 s, … 256 s.
    pub fn backoff(&self, key: &str) -> Duration {
        let mut f = self.failures.lock();
        let n = f.entry(key.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        shared::backoff::exponential(Duration::from_secs(1), *n, Duration::from_secs(256))
    }

    pub fn succeeded(&self, key: &str) {
        self.failures.lock().remove(key);
    }

    /// True the first time this (object, warning) pair is seen, so a Warning event is sent once per value.
    pub fn first_warning(&self, key: &str, warning: &str) -> bool {
        self.warned
            .lock()
            .insert((key.to_string(), warning.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_256_seconds_and_resets() {
        let r = Retries::default();
        let secs: Vec<u64> = (0..11).map(|_| r.backoff("a").as_secs()).collect();
        assert_eq!(secs, vec![1, 2, 4, 8, 16, 32, 64, 128, 256, 256, 256]);
        r.succeeded("a");
        assert_eq!(r.backoff("a").as_secs(), 1);
        assert!(r.first_warning("a", "w"));
        assert!(!r.first_warning("a", "w"));
    }
}
