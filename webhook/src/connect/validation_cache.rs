//! The validation cache: Kafka Connect's answer for one (cluster, class, config digest) is reused for a TTL,
//! and identical requests that arrive while the first is still being answered wait for that one call instead
//! of making their own (single-flight). GitOps tools re-apply the same objects over and over; this keeps
//! Connect out of that loop.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use parking_lot::Mutex;

use crate::admission::ConnectOutcome;

type Pending = Shared<BoxFuture<'static, Arc<ConnectOutcome>>>;

struct Entry {
    created: Instant,
    answer: Pending,
}

/// How a lookup was served; the `result` label of the cache metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CacheResult {
    /// A stored answer.
    Hit,
    /// Joined a call already in flight.
    Shared,
    /// Made the call.
    Miss,
}

impl CacheResult {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CacheResult::Hit => "hit",
            CacheResult::Shared => "shared",
            CacheResult::Miss => "miss",
        }
    }
}

pub(crate) struct ValidationCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

/// Expired entries are swept when the map grows past this, so memory stays bounded by the request rate.
const SWEEP_AT: usize = 1024;

impl ValidationCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        ValidationCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The answer for `key`: stored, in flight, or from `call` (which runs at most once per key at a time).
    pub(crate) async fn get_or_call<F>(
        &self,
        key: String,
        call: F,
    ) -> (Arc<ConnectOutcome>, CacheResult)
    where
        F: FnOnce() -> BoxFuture<'static, ConnectOutcome>,
    {
        let (answer, result) = {
            let mut entries = self.entries.lock();
            let found = entries.get(&key).and_then(|e| match e.answer.peek() {
                None => Some((e.answer.clone(), CacheResult::Shared)),
                Some(done) if done.is_cacheable() && e.created.elapsed() < self.ttl => {
                    Some((e.answer.clone(), CacheResult::Hit))
                }
                Some(_) => None,
            });
            match found {
                Some(f) => f,
                None => {
                    if entries.len() >= SWEEP_AT {
                        let ttl = self.ttl;
                        entries
                            .retain(|_, e| e.answer.peek().is_none() || e.created.elapsed() < ttl);
                    }
                    let answer = call().map(Arc::new).boxed().shared();
                    entries.insert(
                        key.clone(),
                        Entry {
                            created: Instant::now(),
                            answer: answer.clone(),
                        },
                    );
                    (answer, CacheResult::Miss)
                }
            }
        };
        let out = answer.await;
        if result == CacheResult::Miss && !out.is_cacheable() {
            let mut entries = self.entries.lock();
            if entries
                .get(&key)
                .and_then(|e| e.answer.peek())
                .is_some_and(|a| Arc::ptr_eq(a, &out))
            {
                entries.remove(&key);
            }
        }
        (out, result)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().len()
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn unavailable() -> ConnectOutcome {
        ConnectOutcome::Unavailable {
            reason: "unreachable",
            message: "down".into(),
        }
    }

    fn refused() -> ConnectOutcome {
        ConnectOutcome::Refused {
            message: "no".into(),
        }
    }

    #[tokio::test]
    async fn identical_concurrent_requests_share_one_call() {
        let cache = Arc::new(ValidationCache::new(Duration::from_secs(60)));
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let cache = cache.clone();
            let calls = calls.clone();
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_call("k".into(), move || {
                        async move {
                            calls.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            refused()
                        }
                        .boxed()
                    })
                    .await
                    .1
            }));
        }
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(
            results.iter().filter(|r| **r == CacheResult::Miss).count(),
            1
        );
        // Later: a plain hit.
        let (_, r) = cache
            .get_or_call("k".into(), || async { unavailable() }.boxed())
            .await;
        assert_eq!(r, CacheResult::Hit);
    }

    #[tokio::test]
    async fn outages_are_not_cached_and_ttl_expires() {
        let cache = ValidationCache::new(Duration::from_millis(30));
        let (_, r) = cache
            .get_or_call("k".into(), || async { unavailable() }.boxed())
            .await;
        assert_eq!(r, CacheResult::Miss);
        assert!(cache.is_empty());
        let (_, r) = cache
            .get_or_call("k".into(), || async { refused() }.boxed())
            .await;
        assert_eq!(r, CacheResult::Miss);
        let (_, r) = cache
            .get_or_call("k".into(), || async { refused() }.boxed())
            .await;
        assert_eq!(r, CacheResult::Hit);
        tokio::time::sleep(Duration::from_millis(40)).await;
        let (_, r) = cache
            .get_or_call("k".into(), || async { refused() }.boxed())
            .await;
        assert_eq!(r, CacheResult::Miss);
    }
}
