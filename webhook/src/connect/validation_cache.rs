//! The validation cache: Kafka Connect's answer for one (cluster, class, config digest) is reused for a TTL,
//! and identical requests that arrive while the first is still being answered wait for that one call instead
//! of making their own (single-flight). GitOps tools re-apply the same objects over and over; this keeps
//! Connect out of that loop. The digest leaves out a plainly valid connector name
//! ([`ConnectCheck::cache_key`](crate::admission::ConnectCheck::cache_key)), so each entry remembers the
//! name it was asked under: an answer that quotes that name is given only under it.

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
    /// The connector name the call was made for.
    name: String,
    answer: Pending,
}

impl Entry {
    /// Whether `answer` may be given under `name`: it was asked under that name, or it quotes no name.
    fn fits(&self, answer: &ConnectOutcome, name: &str) -> bool {
        self.name == name || !answer.mentions(&self.name)
    }
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
    entries: Mutex<Entries>,
}

struct Entries {
    map: HashMap<String, Entry>,
    /// The size at which expired entries are next swept.
    sweep_at: usize,
}

/// Expired entries are swept when the map grows past this, so memory stays bounded by the request rate.
/// After a sweep the next one waits until the map has doubled from what was left, so a map full of fresh
/// entries is not scanned on every miss.
const SWEEP_AT: usize = 1024;

/// What a lookup found.
enum Found {
    Stored(Arc<ConnectOutcome>),
    /// A call in flight, asked under this name.
    InFlight(Pending, String),
    Nothing,
}

impl ValidationCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        ValidationCache {
            ttl,
            entries: Mutex::new(Entries {
                map: HashMap::new(),
                sweep_at: SWEEP_AT,
            }),
        }
    }

    /// The answer for `key` under the connector name `name`: stored, in flight, or from `call` (which runs
    /// at most once per key at a time).
    pub(crate) async fn get_or_call<F>(
        &self,
        key: String,
        name: &str,
        call: F,
    ) -> (Arc<ConnectOutcome>, CacheResult)
    where
        F: FnOnce() -> BoxFuture<'static, ConnectOutcome>,
    {
        let found = {
            let entries = self.entries.lock();
            match entries.map.get(&key) {
                None => Found::Nothing,
                Some(e) => match e.answer.peek() {
                    None => Found::InFlight(e.answer.clone(), e.name.clone()),
                    Some(done)
                        if done.is_cacheable()
                            && e.created.elapsed() < self.ttl
                            && e.fits(done, name) =>
                    {
                        Found::Stored(done.clone())
                    }
                    Some(_) => Found::Nothing,
                },
            }
        };
        match found {
            Found::Stored(answer) => return (answer, CacheResult::Hit),
            Found::InFlight(pending, asked_as) => {
                let out = pending.await;
                if asked_as == name || !out.mentions(&asked_as) {
                    return (out, CacheResult::Shared);
                }
            }
            Found::Nothing => {}
        }
        let answer = self.start(&key, name, call);
        let out = answer.await;
        if !out.is_cacheable() {
            let map = &mut self.entries.lock().map;
            if map
                .get(&key)
                .and_then(|e| e.answer.peek())
                .is_some_and(|a| Arc::ptr_eq(a, &out))
            {
                map.remove(&key);
            }
        }
        (out, CacheResult::Miss)
    }

    /// Starts `call` as the entry for `key`, replacing what was there.
    fn start<F>(&self, key: &str, name: &str, call: F) -> Pending
    where
        F: FnOnce() -> BoxFuture<'static, ConnectOutcome>,
    {
        let mut guard = self.entries.lock();
        let Entries { map, sweep_at } = &mut *guard;
        if map.len() >= *sweep_at {
            let ttl = self.ttl;
            map.retain(|_, e| e.answer.peek().is_none() || e.created.elapsed() < ttl);
            *sweep_at = (map.len() * 2).max(SWEEP_AT);
        }
        let answer = call().map(Arc::new).boxed().shared();
        map.insert(
            key.to_string(),
            Entry {
                created: Instant::now(),
                name: name.to_string(),
                answer: answer.clone(),
            },
        );
        answer
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().map.len()
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
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

    fn valid() -> ConnectOutcome {
        ConnectOutcome::Validated(shared::connect::ValidateResponse {
            name: "FileStreamSource".into(),
            error_count: 0,
            groups: Vec::new(),
            configs: Vec::new(),
        })
    }

    fn quoting(name: &str) -> ConnectOutcome {
        ConnectOutcome::Refused {
            message: format!("400 Bad Request: invalid config {{name={name}, topic=orders}}"),
        }
    }

    /// `get_or_call` under `name` whose call counts in `calls` and answers `answer`.
    async fn ask(
        cache: &ValidationCache,
        name: &str,
        calls: &Arc<AtomicUsize>,
        answer: ConnectOutcome,
    ) -> (Arc<ConnectOutcome>, CacheResult) {
        let calls = calls.clone();
        cache
            .get_or_call("k".into(), name, move || {
                async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    answer
                }
                .boxed()
            })
            .await
    }

    #[tokio::test]
    async fn an_answer_that_quotes_no_name_serves_every_name() {
        let cache = ValidationCache::new(Duration::from_secs(60));
        let calls = Arc::new(AtomicUsize::new(0));
        assert_eq!(
            ask(&cache, "orders-a", &calls, valid()).await.1,
            CacheResult::Miss
        );
        assert_eq!(
            ask(&cache, "orders-b", &calls, valid()).await.1,
            CacheResult::Hit
        );
        // Joining a call in flight for another name, likewise.
        let cache = ValidationCache::new(Duration::from_secs(60));
        let (a, b) = tokio::join!(
            ask(&cache, "orders-c", &calls, refused()),
            ask(&cache, "orders-d", &calls, refused())
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!((a.1, b.1), (CacheResult::Miss, CacheResult::Shared));
    }

    #[tokio::test]
    async fn an_answer_that_quotes_its_name_is_never_given_under_another() {
        let cache = ValidationCache::new(Duration::from_secs(60));
        let calls = Arc::new(AtomicUsize::new(0));
        let (out, r) = ask(&cache, "orders-a", &calls, quoting("orders-a")).await;
        assert_eq!((*out == quoting("orders-a"), r), (true, CacheResult::Miss));
        assert_eq!(
            ask(&cache, "orders-a", &calls, valid()).await.1,
            CacheResult::Hit
        );
        // Another name: asked again, and its own answer replaces the entry.
        let (out, r) = ask(&cache, "orders-b", &calls, quoting("orders-b")).await;
        assert_eq!((*out == quoting("orders-b"), r), (true, CacheResult::Miss));
        assert_eq!(
            ask(&cache, "orders-b", &calls, valid()).await.1,
            CacheResult::Hit
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        // A call in flight for another name is waited for, then asked again.
        let cache = ValidationCache::new(Duration::from_secs(60));
        let (a, b) = tokio::join!(
            ask(&cache, "orders-a", &calls, quoting("orders-a")),
            async {
                tokio::time::sleep(Duration::from_millis(5)).await;
                ask(&cache, "orders-b", &calls, quoting("orders-b")).await
            }
        );
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert_eq!(*a.0, quoting("orders-a"));
        assert_eq!(
            (*b.0 == quoting("orders-b"), b.1),
            (true, CacheResult::Miss)
        );
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
                    .get_or_call("k".into(), "c", move || {
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
            .get_or_call("k".into(), "c", || async { unavailable() }.boxed())
            .await;
        assert_eq!(r, CacheResult::Hit);
    }

    #[test]
    fn sweeps_drop_expired_entries_and_back_off_while_all_are_fresh() {
        let fill = |cache: &ValidationCache, n: usize| {
            for i in 0..n {
                let _ = block_on(
                    cache.get_or_call(format!("k{i}"), "c", || async { refused() }.boxed()),
                );
            }
        };
        // Every answer expired at once: each sweep empties the map, which never outgrows SWEEP_AT.
        let expired = ValidationCache::new(Duration::ZERO);
        fill(&expired, 3 * SWEEP_AT);
        assert!(expired.len() <= SWEEP_AT, "{}", expired.len());
        // All fresh: nothing to drop, and the next sweep waits for the map to double.
        let fresh = ValidationCache::new(Duration::from_secs(60));
        fill(&fresh, SWEEP_AT + 1);
        assert_eq!(fresh.len(), SWEEP_AT + 1);
        assert_eq!(fresh.entries.lock().sweep_at, 2 * SWEEP_AT);
    }

    #[tokio::test]
    async fn outages_are_not_cached_and_ttl_expires() {
        let cache = ValidationCache::new(Duration::from_millis(30));
        let (_, r) = cache
            .get_or_call("k".into(), "c", || async { unavailable() }.boxed())
            .await;
        assert_eq!(r, CacheResult::Miss);
        assert!(cache.is_empty());
        let (_, r) = cache
            .get_or_call("k".into(), "c", || async { refused() }.boxed())
            .await;
        assert_eq!(r, CacheResult::Miss);
        let (_, r) = cache
            .get_or_call("k".into(), "c", || async { refused() }.boxed())
            .await;
        assert_eq!(r, CacheResult::Hit);
        tokio::time::sleep(Duration::from_millis(40)).await;
        let (_, r) = cache
            .get_or_call("k".into(), "c", || async { refused() }.boxed())
            .await;
        assert_eq!(r, CacheResult::Miss);
    }
}
