//! Watch-and-reflect: one kind watched into a store, without the fields no reader needs, across every
//! namespace or only the namespaces an installation serves.

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;

use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use kube::api::{Api, Resource, ResourceExt};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;

/// The annotation kubectl keeps a whole copy of the applied object in (for a Secret: its data).
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The namespaces an installation serves: every namespace, or only the listed ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Namespaces(Vec<String>);

impl Namespaces {
    /// Every namespace.
    pub fn all() -> Namespaces {
        Namespaces(Vec::new())
    }

    /// A comma-separated list (`--watch-namespaces`, `WATCH_NAMESPACE`): blanks around names and empty
    /// entries are dropped, duplicates kept once; an empty list means every namespace.
    pub fn parse(list: &str) -> Namespaces {
        let mut out: Vec<String> = Vec::new();
        for n in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if !out.iter().any(|o| o == n) {
                out.push(n.to_string());
            }
        }
        Namespaces(out)
    }

    pub fn is_all(&self) -> bool {
        self.0.is_empty()
    }

    /// The listed namespaces (empty for every namespace).
    pub fn names(&self) -> &[String] {
        &self.0
    }

    /// Whether objects in `namespace` are served.
    pub fn contains(&self, namespace: &str) -> bool {
        self.is_all() || self.0.iter().any(|n| n == namespace)
    }

    /// One API per watched namespace, or one over all namespaces.
    pub fn apis<K>(&self, client: &kube::Client) -> Vec<Api<K>>
    where
        K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>,
    {
        if self.is_all() {
            vec![Api::all(client.clone())]
        } else {
            self.0
                .iter()
                .map(|n| Api::namespaced(client.clone(), n))
                .collect()
        }
    }
}

impl std::fmt::Display for Namespaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_all() {
            f.write_str("*")
        } else {
            f.write_str(&self.0.join(","))
        }
    }
}

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

/// A namespaced kind that can be watched into a store.
pub trait Watchable:
    Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
    + Clone
    + Debug
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
}

impl<K> Watchable for K where
    K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
        + Clone
        + Debug
        + DeserializeOwned
        + Send
        + Sync
        + 'static
{
}

/// [`reflect`] over `namespaces`: one watch per listed namespace, merged into one store that is ready once
/// every namespace has been listed (one watch over all namespaces when none is listed).
pub fn reflect_in<K>(
    client: &kube::Client,
    namespaces: &Namespaces,
    config: watcher::Config,
) -> (
    Store<K>,
    BoxStream<'static, Result<watcher::Event<K>, watcher::Error>>,
)
where
    K: Watchable,
{
    let mut apis = namespaces.apis::<K>(client);
    if apis.len() == 1 {
        let (reader, stream) = reflect(apis.remove(0), config);
        return (reader, stream.boxed());
    }
    let (reader, writer) = reflector::store();
    let streams = apis.into_iter().enumerate().map(|(i, api)| {
        watcher(api, config.clone())
            .default_backoff()
            .modify(strip)
            .map(move |e| (i, e))
            .boxed()
    });
    let mut merge = Merge::new(namespaces.names().len(), reader.clone());
    let stream = futures::stream::select_all(streams)
        .flat_map(move |(i, e)| futures::stream::iter(merge.step(i, e)))
        .reflect(writer)
        .boxed();
    (reader, stream)
}

/// The objects of `K` in `namespaces` as they change (no store): for watches that only trigger work.
pub fn touched_in<K>(
    client: &kube::Client,
    namespaces: &Namespaces,
    config: watcher::Config,
) -> BoxStream<'static, Result<K, watcher::Error>>
where
    K: Watchable,
{
    let streams = namespaces
        .apis::<K>(client)
        .into_iter()
        .map(|api| watcher(api, config.clone()).default_backoff().boxed());
    futures::stream::select_all(streams)
        .touched_objects()
        .boxed()
}

/// Drops what [`reflect`] drops.
pub fn strip<K: Resource>(o: &mut K) {
    o.managed_fields_mut().clear();
    o.annotations_mut().remove(LAST_APPLIED);
}

/// Turns the event streams of several namespace watches into the events of one watch, so that one store
/// holds them all. A store replaces its whole content at each `InitDone`, so a namespace's own (re)list must
/// not reach it as such: until every namespace has been listed once the objects are held here and handed
/// over as one list; after that a namespace's re-list becomes updates, plus deletions of what it no longer
/// holds.
struct Merge<K: Resource<DynamicType = ()> + 'static> {
    /// Per namespace: the keys it currently holds.
    known: Vec<HashSet<ObjectRef<K>>>,
    /// Per namespace: whether its first list is complete.
    listed: Vec<bool>,
    /// Per namespace: the keys seen so far in a re-list in progress (after the first complete list).
    relisting: Vec<Option<HashSet<ObjectRef<K>>>>,
    /// Until every namespace has been listed: the objects, not yet handed to the store.
    initial: Option<HashMap<ObjectRef<K>, K>>,
    /// The store fed by the output, to find what a re-list no longer holds.
    store: Store<K>,
}

type Item<K> = Result<watcher::Event<K>, watcher::Error>;

impl<K: Resource<DynamicType = ()> + Clone + 'static> Merge<K> {
    fn new(namespaces: usize, store: Store<K>) -> Merge<K> {
        Merge {
            known: (0..namespaces).map(|_| HashSet::new()).collect(),
            listed: vec![false; namespaces],
            relisting: (0..namespaces).map(|_| None).collect(),
            initial: Some(HashMap::new()),
            store,
        }
    }

    fn step(&mut self, i: usize, item: Item<K>) -> Vec<Item<K>> {
        use watcher::Event::{Apply, Delete, Init, InitApply, InitDone};
        let event = match item {
            Ok(e) => e,
            Err(e) => return vec![Err(e)],
        };
        if let Some(initial) = self.initial.as_mut() {
            match event {
                Init => {
                    for k in self.known[i].drain() {
                        initial.remove(&k);
                    }
                }
                InitApply(o) | Apply(o) => {
                    let k = ObjectRef::from_obj(&o);
                    self.known[i].insert(k.clone());
                    initial.insert(k, o);
                }
                Delete(o) => {
                    let k = ObjectRef::from_obj(&o);
                    self.known[i].remove(&k);
                    initial.remove(&k);
                }
                InitDone => self.listed[i] = true,
            }
            if !self.listed.iter().all(|l| *l) {
                return Vec::new();
            }
            let objects = self.initial.take().unwrap_or_default();
            let mut out = Vec::with_capacity(objects.len() + 2);
            out.push(Ok(Init));
            out.extend(objects.into_values().map(|o| Ok(InitApply(o))));
            out.push(Ok(InitDone));
            return out;
        }
        match event {
            Init => {
                self.relisting[i] = Some(HashSet::new());
                Vec::new()
            }
            InitApply(o) | Apply(o) => {
                let k = ObjectRef::from_obj(&o);
                if let Some(seen) = self.relisting[i].as_mut() {
                    seen.insert(k.clone());
                }
                self.known[i].insert(k);
                vec![Ok(Apply(o))]
            }
            Delete(o) => {
                let k = ObjectRef::from_obj(&o);
                self.known[i].remove(&k);
                if let Some(seen) = self.relisting[i].as_mut() {
                    seen.remove(&k);
                }
                vec![Ok(Delete(o))]
            }
            InitDone => {
                let Some(seen) = self.relisting[i].take() else {
                    return Vec::new();
                };
                let gone = std::mem::replace(&mut self.known[i], seen);
                gone.iter()
                    .filter(|k| !self.known[i].contains(k))
                    .filter_map(|k| self.store.get(k))
                    .map(|o| Ok(Delete((*o).clone())))
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::runtime::watcher::Event;

    #[test]
    fn a_list_of_namespaces_tolerates_blanks_and_repeats() {
        let n = Namespaces::parse("a, b,,c");
        assert_eq!(n.names(), ["a", "b", "c"]);
        assert_eq!(Namespaces::parse(" a ,a").names(), ["a"]);
        assert!(Namespaces::parse("").is_all());
        assert!(Namespaces::parse(" , ").is_all());
        assert!(n.contains("b") && !n.contains("d"));
        assert!(Namespaces::all().contains("anything"));
        assert_eq!(n.to_string(), "a,b,c");
    }

    fn cm(ns: &str, name: &str) -> ConfigMap {
        let mut c = ConfigMap::default();
        c.metadata.namespace = Some(ns.into());
        c.metadata.name = Some(name.into());
        c
    }

    fn names(store: &Store<ConfigMap>) -> Vec<String> {
        let mut v: Vec<String> = store
            .state()
            .iter()
            .map(|c| format!("{}/{}", c.namespace().unwrap_or_default(), c.name_any()))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn one_store_fills_once_every_namespace_is_listed_and_follows_relists() {
        let (reader, mut writer) = reflector::store::<ConfigMap>();
        let mut merge = Merge::new(2, reader.clone());
        let mut feed = |i: usize, e: Event<ConfigMap>| {
            for out in merge.step(i, Ok(e)) {
                writer.apply_watcher_event(&out.unwrap());
            }
        };
        feed(0, Event::Init);
        feed(0, Event::InitApply(cm("a", "x")));
        feed(0, Event::InitDone);
        feed(0, Event::Apply(cm("a", "y")));
        feed(1, Event::Init);
        feed(0, Event::Delete(cm("a", "x")));
        feed(1, Event::InitApply(cm("b", "z")));
        assert!(names(&reader).is_empty(), "not ready before b is listed");
        feed(1, Event::InitDone);
        assert_eq!(names(&reader), ["a/y", "b/z"]);

        // A re-list of b that no longer holds z, while a keeps its objects.
        feed(1, Event::Init);
        feed(1, Event::InitApply(cm("b", "w")));
        feed(1, Event::InitDone);
        assert_eq!(names(&reader), ["a/y", "b/w"]);
        feed(0, Event::Apply(cm("a", "v")));
        feed(1, Event::Delete(cm("b", "w")));
        assert_eq!(names(&reader), ["a/v", "a/y"]);
    }
}
