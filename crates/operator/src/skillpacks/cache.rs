//! The caches' policies, without I/O and with the time passed in: resolved packs with a TTL
//! and a bounded stale fallback, a byte-bounded LRU (ETag bodies, blobs by sha) and the
//! rate-limit gate.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::pack::Pack;

/// How a cached pack may be used at `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// Younger than the TTL: use it without asking GitHub.
    Fresh,
    /// Older than the TTL but younger than the stale bound: refresh, and fall back to it if
    /// the refresh fails.
    Stale,
    /// Too old to serve even when GitHub fails.
    Expired,
}

/// Classify an entry fetched at `fetched`. A clock that went backwards counts as age zero.
pub fn freshness(
    fetched: SystemTime,
    now: SystemTime,
    ttl: Duration,
    stale_for: Duration,
) -> Freshness {
    let age = now.duration_since(fetched).unwrap_or_default();
    if age < ttl {
        Freshness::Fresh
    } else if age < stale_for {
        Freshness::Stale
    } else {
        Freshness::Expired
    }
}

/// A resolved pack and when it was fetched.
#[derive(Clone, Debug)]
pub struct CachedPack {
    /// The pack.
    pub pack: Arc<Pack>,
    /// When GitHub answered.
    pub fetched: SystemTime,
}

/// Resolved packs by canonical reference.
#[derive(Debug, Default)]
pub struct PackCache {
    entries: HashMap<String, CachedPack>,
}

impl PackCache {
    /// The entry for `key`, any age.
    pub fn get(&self, key: &str) -> Option<&CachedPack> {
        self.entries.get(key)
    }

    /// Store a fresh result.
    pub fn insert(&mut self, key: String, pack: Arc<Pack>, now: SystemTime) {
        self.entries.insert(key, CachedPack { pack, fetched: now });
    }

    /// Drop entries that can no longer serve even as a stale fallback.
    pub fn prune(&mut self, now: SystemTime, ttl: Duration, stale_for: Duration) {
        self.entries
            .retain(|_, e| freshness(e.fetched, now, ttl, stale_for) != Freshness::Expired);
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A least-recently-used map bounded by the total size of its values (as given on insert).
#[derive(Debug)]
pub struct ByteLru<K, V> {
    capacity: usize,
    used: usize,
    tick: u64,
    entries: HashMap<K, (u64, usize, V)>,
    order: BTreeMap<u64, K>,
}

impl<K: Eq + Hash + Clone, V: Clone> ByteLru<K, V> {
    /// An empty map holding at most `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        ByteLru {
            capacity,
            used: 0,
            tick: 0,
            entries: HashMap::new(),
            order: BTreeMap::new(),
        }
    }

    /// The value for `key`, marking it as recently used.
    pub fn get(&mut self, key: &K) -> Option<V> {
        self.tick += 1;
        let tick = self.tick;
        let (old, _, value) = self.entries.get_mut(key)?;
        self.order.remove(old);
        *old = tick;
        self.order.insert(tick, key.clone());
        Some(value.clone())
    }

    /// Store `value` of `size` bytes, evicting the least recently used entries to make room.
    /// A value larger than the whole capacity is not stored.
    pub fn insert(&mut self, key: K, value: V, size: usize) {
        self.remove(&key);
        if size > self.capacity {
            return;
        }
        while self.used + size > self.capacity {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some((_, s, _)) = self.entries.remove(&oldest) {
                self.used -= s;
            }
        }
        self.tick += 1;
        self.order.insert(self.tick, key.clone());
        self.entries.insert(key, (self.tick, size, value));
        self.used += size;
    }

    /// Forget `key`.
    pub fn remove(&mut self, key: &K) {
        if let Some((tick, size, _)) = self.entries.remove(key) {
            self.order.remove(&tick);
            self.used -= size;
        }
    }

    /// Bytes held.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A remembered answer for a conditional request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validated {
    /// The `ETag` header.
    pub etag: String,
    /// The body it validates.
    pub body: Vec<u8>,
}

/// When GitHub said to stop: no request goes out before `until`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gate {
    /// The reset time, when blocked.
    pub until: Option<SystemTime>,
    /// `x-ratelimit-limit` from the answer that closed the gate.
    pub limit: Option<u32>,
}

impl Gate {
    /// Still closed at `now`: until when.
    pub fn closed(&self, now: SystemTime) -> Option<SystemTime> {
        self.until.filter(|u| *u > now)
    }

    /// Close until `until` (a later time wins over an earlier one).
    pub fn close(&mut self, until: SystemTime, limit: Option<u32>) {
        if self.until.is_none_or(|u| u < until) {
            self.until = Some(until);
        }
        if limit.is_some() {
            self.limit = limit;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::time::UNIX_EPOCH;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn freshness_by_age() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let (ttl, stale) = (5 * MIN, 60 * MIN);
        assert_eq!(freshness(t0, t0, ttl, stale), Freshness::Fresh);
        assert_eq!(
            freshness(t0, t0 + 5 * MIN - Duration::from_secs(1), ttl, stale),
            Freshness::Fresh
        );
        assert_eq!(freshness(t0, t0 + 5 * MIN, ttl, stale), Freshness::Stale);
        assert_eq!(freshness(t0, t0 + 60 * MIN, ttl, stale), Freshness::Expired);
        // Clock went backwards: as if just fetched.
        assert_eq!(freshness(t0, t0 - MIN, ttl, stale), Freshness::Fresh);
        // No stale fallback at all.
        assert_eq!(
            freshness(t0, t0 + 5 * MIN, ttl, Duration::ZERO),
            Freshness::Expired
        );
    }

    #[test]
    fn pack_cache_prunes_what_cannot_serve() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut cache = PackCache::default();
        cache.insert("old".into(), Arc::new(Pack::default()), t0);
        cache.insert("new".into(), Arc::new(Pack::default()), t0 + 50 * MIN);
        cache.prune(t0 + 61 * MIN, 5 * MIN, 60 * MIN);
        assert!(cache.get("old").is_none());
        assert!(cache.get("new").is_some());
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn lru_evicts_least_recently_used_by_bytes() {
        let mut lru = ByteLru::new(10);
        lru.insert("a", 1, 4);
        lru.insert("b", 2, 4);
        assert_eq!(lru.get(&"a"), Some(1)); // a is now the most recent
        lru.insert("c", 3, 4); // evicts b
        assert_eq!(lru.get(&"b"), None);
        assert_eq!(lru.get(&"a"), Some(1));
        assert_eq!(lru.get(&"c"), Some(3));
        assert_eq!(lru.used(), 8);
        lru.insert("huge", 4, 11); // never stored
        assert_eq!(lru.get(&"huge"), None);
        assert_eq!(lru.len(), 2);
        lru.insert("a", 5, 2); // replace shrinks
        assert_eq!(lru.used(), 6);
        assert_eq!(lru.get(&"a"), Some(5));
        lru.insert("d", 6, 8); // evicts c (least recent); a and d fit exactly
        assert_eq!(lru.get(&"c"), None);
        assert_eq!(lru.len(), 2);
        assert_eq!(lru.used(), 10);
    }

    #[test]
    fn gate_stays_closed_until_the_latest_reset() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut gate = Gate::default();
        assert_eq!(gate.closed(t0), None);
        gate.close(t0 + 10 * MIN, Some(60));
        gate.close(t0 + MIN, None);
        assert_eq!(gate.closed(t0), Some(t0 + 10 * MIN));
        assert_eq!(gate.limit, Some(60));
        assert_eq!(gate.closed(t0 + 10 * MIN), None);
    }
}
