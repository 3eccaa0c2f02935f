//! Watch-and-reflect: one kind watched into a store, without the fields no reader needs.

use std::fmt::Debug;

use futures::Stream;
use kube::api::{Api, Resource, ResourceExt};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;

/// The annotation kubectl keeps a whole copy of the applied object in (for a Secret: its data).
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Watches `api` into a store that fills as the returned stream is polled (with backoff on errors). Managed
/// fields and kubectl's last-applied copy are dropped: they are large, no decision reads them, and the copy
/// would keep a Secret's data around.
pub fn reflect<K>(
    api: Api<K>,
    config: watcher::Config,
) -> (
    Store<K>,
    impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
)
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = watcher(api, config)
        .default_backoff()
        .modify(strip)
        .reflect(writer);
    (reader, stream)
}

/// Drops what [`reflect`] drops.
pub fn strip<K: Resource>(o: &mut K) {
    o.managed_fields_mut().clear();
    o.annotations_mut().remove(LAST_APPLIED);
}
