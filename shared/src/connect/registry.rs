//! A Kafka Connect client per cluster, kept while the cluster's settings stay the same and rebuilt when
//! they change (a new URL, credentials or CA). A client keeps its connections, so reusing it keeps calls
//! fast.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use super::{ClientSettings, ConnectClient, RequestObserver};
use crate::error::Result;

/// One cluster's client with the settings it was built from.
pub struct ClientSlot {
    observer: Option<Arc<dyn RequestObserver>>,
    current: RwLock<(ClientSettings, ConnectClient)>,
}

impl ClientSlot {
    /// A client for `settings`; `observer` sees every request of this and every later client.
    pub fn new(
        settings: ClientSettings,
        observer: Option<Arc<dyn RequestObserver>>,
    ) -> Result<ClientSlot> {
        let client = build(&settings, &observer)?;
        Ok(ClientSlot {
            observer,
            current: RwLock::new((settings, client)),
        })
    }

    pub fn client(&self) -> ConnectClient {
        self.current.read().1.clone()
    }

    pub fn url(&self) -> String {
        self.current.read().0.url.clone()
    }

    /// Uses `settings` from now on: a new client when they differ from the current ones. True when the
    /// client was replaced. Settings that cannot build a client leave the current one in place.
    pub fn use_settings(&self, settings: &ClientSettings) -> Result<bool> {
        let mut current = self.current.write();
        if current.0 == *settings {
            return Ok(false);
        }
        *current = (settings.clone(), build(settings, &self.observer)?);
        Ok(true)
    }
}

fn build(
    settings: &ClientSettings,
    observer: &Option<Arc<dyn RequestObserver>>,
) -> Result<ConnectClient> {
    let client = ConnectClient::new(settings)?;
    Ok(match observer {
        Some(o) => client.with_observer(o.clone()),
        None => client,
    })
}

/// Clients by cluster key.
pub struct Clients<K> {
    slots: Mutex<HashMap<K, ClientSlot>>,
}

impl<K> Default for Clients<K> {
    fn default() -> Self {
        Clients {
            slots: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash + Clone> Clients<K> {
    /// The client for `key` with `settings`: the same one as before while the settings are unchanged.
    pub fn get(&self, key: &K, settings: &ClientSettings) -> Result<ConnectClient> {
        let mut slots = self.slots.lock();
        if let Some(slot) = slots.get(key) {
            slot.use_settings(settings)?;
            return Ok(slot.client());
        }
        let slot = ClientSlot::new(settings.clone(), None)?;
        let client = slot.client();
        slots.insert(key.clone(), slot);
        Ok(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_rebuilt_only_when_its_settings_change() {
        crate::tls::install_crypto_provider();
        let slot = ClientSlot::new(ClientSettings::new("http://a:8083"), None).unwrap();
        assert!(
            !slot
                .use_settings(&ClientSettings::new("http://a:8083"))
                .unwrap()
        );
        assert!(
            slot.use_settings(&ClientSettings::new("http://b:8083"))
                .unwrap()
        );
        assert_eq!(slot.url(), "http://b:8083");
    }

    #[test]
    fn settings_that_cannot_build_a_client_keep_the_current_one() {
        crate::tls::install_crypto_provider();
        let clients = Clients::default();
        clients
            .get(&"c", &ClientSettings::new("http://a:8083"))
            .unwrap();
        let mut bad = ClientSettings::new("http://b:8083");
        bad.ca_pem = Some(b"not a certificate".to_vec());
        assert!(clients.get(&"c", &bad).is_err());
        assert_eq!(clients.slots.lock()["c"].url(), "http://a:8083");
    }
}
