//! Kubernetes events whose text stays true however often they repeat. A repeat of the same event (same
//! object, type, reason, action and note) within a few minutes is counted on the Event already published (its
//! `series`); an event with another note is another Event. kube's `Recorder`, like client-go, merges events
//! by reason and action only and keeps the first note, which would show "automatic restart 1" for every
//! later restart too.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Reporter};
use parking_lot::{Mutex, MutexGuard};
use serde_json::json;

/// How long a published event is counted on rather than published again (as kube and client-go do).
const SERIES_WINDOW: SignedDuration = SignedDuration::from_mins(6);

/// What makes two events the same: the text is part of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// api version, kind, namespace, name and uid of the object the event is about.
    regarding: [String; 5],
    warning: bool,
    reason: String,
    action: String,
    note: String,
}

impl Key {
    pub fn new(ev: &Event, regarding: &ObjectReference) -> Key {
        let f = |v: &Option<String>| v.clone().unwrap_or_default();
        Key {
            regarding: [
                f(&regarding.api_version),
                f(&regarding.kind),
                f(&regarding.namespace),
                f(&regarding.name),
                f(&regarding.uid),
            ],
            warning: ev.type_ == EventType::Warning,
            reason: ev.reason.clone(),
            action: ev.action.clone(),
            note: ev.note.clone().unwrap_or_default(),
        }
    }
}

/// The write an event amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// A new Event object.
    Create,
    /// The same event again: count it on the Event `name` (the `count`-th occurrence).
    Repeat { name: String, count: i32 },
}

#[derive(Debug, Clone)]
struct Published {
    name: String,
    count: i32,
    last: Timestamp,
}

/// Which events were published lately, under which names: decides between a new Event and a repeat. Pure.
#[derive(Debug, Default)]
pub struct Aggregator {
    published: HashMap<Key, Published>,
}

impl Aggregator {
    /// The write for `key` at `now`; a repeat is counted at once.
    pub fn next(&mut self, key: &Key, now: Timestamp) -> Write {
        self.published.retain(|_, p| p.last + SERIES_WINDOW > now);
        match self.published.get_mut(key) {
            Some(p) => {
                p.count = p.count.saturating_add(1);
                p.last = now;
                Write::Repeat {
                    name: p.name.clone(),
                    count: p.count,
                }
            }
            None => Write::Create,
        }
    }

    /// Records the Event created for `key`.
    pub fn created(&mut self, key: Key, name: String, now: Timestamp) {
        self.published.insert(
            key,
            Published {
                name,
                count: 1,
                last: now,
            },
        );
    }

    /// Forgets an Event that is gone (expired on the API server).
    pub fn forget(&mut self, key: &Key) {
        self.published.remove(key);
    }
}

/// Publishes events (`events.k8s.io/v1`) as this controller instance.
pub struct Recorder {
    client: kube::Client,
    reporter: Reporter,
    aggregator: Mutex<Aggregator>,
}

impl Recorder {
    pub fn new(client: kube::Client, reporter: Reporter) -> Recorder {
        Recorder {
            client,
            reporter,
            aggregator: Mutex::new(Aggregator::default()),
        }
    }

    fn aggregator(&self) -> MutexGuard<'_, Aggregator> {
        self.aggregator.lock()
    }

    pub async fn publish(&self, ev: &Event, regarding: &ObjectReference) -> kube::Result<()> {
        let key = Key::new(ev, regarding);
        let now = Timestamp::now();
        let ns = regarding.namespace.as_deref().unwrap_or("default");
        let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), ns);
        let write = self.aggregator().next(&key, now);
        if let Write::Repeat { name, count } = write {
            let patch = json!({ "series": { "count": count, "lastObservedTime": MicroTime(now) } });
            match api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => return Ok(()),
                // Gone from the API server: publish it anew.
                Err(kube::Error::Api(e)) if e.code == 404 => self.aggregator().forget(&key),
                Err(e) => return Err(e),
            }
        }
        let name = format!(
            "{}.{:x}",
            regarding
                .name
                .as_deref()
                .unwrap_or(&self.reporter.controller),
            now.as_nanosecond()
        );
        let event = K8sEvent {
            action: Some(ev.action.clone()),
            reason: Some(ev.reason.clone()),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding.clone()),
            note: ev.note.clone(),
            metadata: ObjectMeta {
                namespace: Some(ns.to_string()),
                name: Some(name.clone()),
                ..Default::default()
            },
            reporting_controller: Some(self.reporter.controller.clone()),
            reporting_instance: Some(
                self.reporter
                    .instance
                    .clone()
                    .unwrap_or_else(|| self.reporter.controller.clone()),
            ),
            type_: Some(
                match ev.type_ {
                    EventType::Normal => "Normal",
                    EventType::Warning => "Warning",
                }
                .into(),
            ),
            related: ev.secondary.clone(),
            ..Default::default()
        };
        api.create(&PostParams::default(), &event).await?;
        self.aggregator().created(key, name, now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(reason: &str, note: &str) -> Event {
        Event {
            type_: EventType::Warning,
            reason: reason.into(),
            note: Some(note.into()),
            action: "Reconcile".into(),
            secondary: None,
        }
    }

    fn obj(name: &str) -> ObjectReference {
        ObjectReference {
            api_version: Some("connectwarden.io/v1alpha1".into()),
            kind: Some("KafkaConnector".into()),
            namespace: Some("ns".into()),
            name: Some(name.into()),
            uid: Some(format!("uid-{name}")),
            ..Default::default()
        }
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    #[test]
    fn the_same_text_again_is_counted_on_the_event_already_published() {
        let mut a = Aggregator::default();
        let k = Key::new(&ev("Failed", "task 0 FAILED"), &obj("c"));
        assert_eq!(a.next(&k, at(0)), Write::Create);
        a.created(k.clone(), "c.1".into(), at(0));
        assert_eq!(
            a.next(&k, at(10)),
            Write::Repeat {
                name: "c.1".into(),
                count: 2
            }
        );
        assert_eq!(
            a.next(&k, at(20)),
            Write::Repeat {
                name: "c.1".into(),
                count: 3
            }
        );
    }

    #[test]
    fn another_text_is_another_event_so_no_text_is_shown_for_what_it_does_not_say() {
        let mut a = Aggregator::default();
        let first = Key::new(
            &ev(
                "Restarted",
                "restarted the failed tasks (automatic restart 1)",
            ),
            &obj("c"),
        );
        let second = Key::new(
            &ev(
                "Restarted",
                "restarted the failed tasks (automatic restart 2)",
            ),
            &obj("c"),
        );
        assert_eq!(a.next(&first, at(0)), Write::Create);
        a.created(first.clone(), "c.1".into(), at(0));
        assert_eq!(a.next(&second, at(5)), Write::Create);
        // nor for another object, type or action
        let other = Key::new(
            &ev(
                "Restarted",
                "restarted the failed tasks (automatic restart 1)",
            ),
            &obj("d"),
        );
        assert_eq!(a.next(&other, at(6)), Write::Create);
    }

    #[test]
    fn after_a_quiet_while_the_same_text_is_a_new_event_and_a_vanished_one_is_created_again() {
        let mut a = Aggregator::default();
        let k = Key::new(&ev("Failed", "boom"), &obj("c"));
        a.next(&k, at(0));
        a.created(k.clone(), "c.1".into(), at(0));
        assert_eq!(a.next(&k, at(6 * 60 + 1)), Write::Create);
        a.created(k.clone(), "c.2".into(), at(400));
        a.forget(&k);
        assert_eq!(a.next(&k, at(401)), Write::Create);
    }
}
