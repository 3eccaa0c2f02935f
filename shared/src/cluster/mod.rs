//! Cluster resolution: a `KafkaConnectCluster` plus the Secrets and ConfigMaps it references → the settings
//! of a Connect client and of `spec.kafka`'s Kafka client; `references` says what is wrong with those
//! objects. Pure: callers pass lookups backed by their watch caches.

pub mod references;

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};

use crate::connect::{Auth, ClientSettings, parse_base_url};
use crate::crd::{
    AuthenticationType, ClusterTls, KafkaAuthenticationType, KafkaConnectClusterSpec,
};
use crate::error::{Error, Result};
use crate::kafka::{KafkaSettings, KafkaTls, SaslCredentials, SaslMechanism, parse_bootstrap};
use references::{
    Block, DEFAULT_CA_KEY, Kind, config_map_data, references, secret_data, unresolved,
};

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The names of the Secrets and ConfigMaps a cluster needs (for watches and admission checks).
pub fn referenced_secrets(spec: &KafkaConnectClusterSpec) -> Vec<String> {
    referenced(spec, Kind::Secret)
}

pub fn referenced_config_maps(spec: &KafkaConnectClusterSpec) -> Vec<String> {
    referenced(spec, Kind::ConfigMap)
}

fn referenced(spec: &KafkaConnectClusterSpec, kind: Kind) -> Vec<String> {
    let mut out: Vec<String> = references(spec, &[Block::Rest, Block::Kafka])
        .into_iter()
        .filter(|r| r.kind() == kind)
        .map(|r| r.name)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Lookups of one cluster's Secrets and ConfigMaps, with its name for the messages.
struct Lookup<'a, S, C> {
    cluster: &'a str,
    secret: S,
    config_map: C,
}

impl<S: Fn(&str) -> Option<Secret>, C: Fn(&str) -> Option<ConfigMap>> Lookup<'_, S, C> {
    fn missing(&self, kind: Kind, name: &str) -> Error {
        Error::Resolve(unresolved(self.cluster, kind, name, None))
    }

    fn no_key(&self, kind: Kind, name: &str, key: &str) -> Error {
        Error::Resolve(unresolved(self.cluster, kind, name, Some(key)))
    }

    fn secret(&self, name: &str) -> Result<Secret> {
        (self.secret)(name).ok_or_else(|| self.missing(Kind::Secret, name))
    }

    fn secret_bytes(&self, sec: &Secret, name: &str, key: &str) -> Result<Vec<u8>> {
        (secret_data(sec, key).map(<[u8]>::to_vec))
            .ok_or_else(|| self.no_key(Kind::Secret, name, key))
    }

    fn secret_value(&self, sec: &Secret, name: &str, key: &str) -> Result<String> {
        secret_value(sec, key).ok_or_else(|| self.no_key(Kind::Secret, name, key))
    }

    /// The CA bundle, client certificate and key a `tls` block names.
    fn tls(&self, t: &ClusterTls) -> Result<KafkaTls> {
        let mut out = KafkaTls {
            insecure_skip_verify: t.insecure_skip_verify,
            ..KafkaTls::default()
        };
        if let Some(r) = &t.ca_secret_ref {
            let key = r.key.as_deref().unwrap_or(DEFAULT_CA_KEY);
            let sec = self.secret(&r.name)?;
            out.ca_pem = Some(self.secret_bytes(&sec, &r.name, key)?);
        }
        if let Some(r) = &t.ca_config_map_ref {
            let key = r.key.as_deref().unwrap_or(DEFAULT_CA_KEY);
            let cm =
                (self.config_map)(&r.name).ok_or_else(|| self.missing(Kind::ConfigMap, &r.name))?;
            let pem = config_map_data(&cm, key)
                .ok_or_else(|| self.no_key(Kind::ConfigMap, &r.name, key))?;
            out.ca_pem = Some(pem.to_vec());
        }
        if let Some(r) = &t.client_cert_secret_ref {
            let sec = self.secret(&r.name)?;
            out.client_cert_pem = Some(self.secret_bytes(&sec, &r.name, "tls.crt")?);
            out.client_key_pem = Some(self.secret_bytes(&sec, &r.name, "tls.key")?);
        }
        Ok(out)
    }
}

/// Builds client settings. `secret` and `config_map` look objects up by name in the cluster's namespace.
pub fn resolve(
    cluster: &str,
    spec: &KafkaConnectClusterSpec,
    secret: impl Fn(&str) -> Option<Secret>,
    config_map: impl Fn(&str) -> Option<ConfigMap>,
) -> Result<ClientSettings> {
    parse_base_url(&spec.url)
        .map_err(|e| Error::Resolve(format!("KafkaConnectCluster {cluster}: {e}")))?;
    let look = Lookup {
        cluster,
        secret,
        config_map,
    };
    let mut s = ClientSettings::new(spec.url.trim());
    s.timeout = timeout(spec);
    if let Some(a) = &spec.authentication {
        let name = &a.secret_ref.name;
        let sec = look.secret(name)?;
        let get = |key: &str| look.secret_value(&sec, name, key);
        s.auth = Some(match a.kind {
            AuthenticationType::Basic => Auth::Basic {
                username: get(a.username_key.as_deref().unwrap_or("username"))?,
                password: get(a.password_key.as_deref().unwrap_or("password"))?,
            },
            AuthenticationType::Bearer => Auth::Bearer {
                token: get(a.token_key.as_deref().unwrap_or("token"))?,
            },
        });
    }
    if let Some(t) = &spec.tls {
        let tls = look.tls(t)?;
        s.insecure_skip_verify = tls.insecure_skip_verify;
        s.ca_pem = tls.ca_pem;
        s.client_cert_pem = tls.client_cert_pem;
        s.client_key_pem = tls.client_key_pem;
    }
    Ok(s)
}

/// Builds the settings of the Kafka client `spec.kafka` describes (`None` without `spec.kafka`), with the
/// same lookups as [`resolve`].
pub fn resolve_kafka(
    cluster: &str,
    spec: &KafkaConnectClusterSpec,
    secret: impl Fn(&str) -> Option<Secret>,
    config_map: impl Fn(&str) -> Option<ConfigMap>,
) -> Result<Option<KafkaSettings>> {
    let Some(k) = &spec.kafka else {
        return Ok(None);
    };
    let look = Lookup {
        cluster,
        secret,
        config_map,
    };
    let bootstrap = parse_bootstrap(&k.bootstrap_servers).map_err(|e| {
        Error::Resolve(format!(
            "KafkaConnectCluster {cluster}: spec.kafka.bootstrapServers: {e}"
        ))
    })?;
    let sasl = match &k.authentication {
        None => None,
        Some(a) => {
            let name = &a.secret_ref.name;
            let sec = look.secret(name)?;
            let get = |key: &str| look.secret_value(&sec, name, key);
            Some(SaslCredentials {
                mechanism: match a.kind {
                    KafkaAuthenticationType::Plain => SaslMechanism::Plain,
                    KafkaAuthenticationType::ScramSha256 => SaslMechanism::ScramSha256,
                    KafkaAuthenticationType::ScramSha512 => SaslMechanism::ScramSha512,
                },
                username: get(a.username_key.as_deref().unwrap_or("username"))?,
                password: get(a.password_key.as_deref().unwrap_or("password"))?,
            })
        }
    };
    let tls = k.tls.as_ref().map(|t| look.tls(t)).transpose()?;
    Ok(Some(KafkaSettings {
        bootstrap,
        sasl,
        tls,
        timeout: timeout(spec),
    }))
}

fn timeout(spec: &KafkaConnectClusterSpec) -> Duration {
    spec.request_timeout_seconds
        .map(|t| Duration::from_secs(t.into()))
        .unwrap_or(DEFAULT_TIMEOUT)
}

fn secret_value(s: &Secret, key: &str) -> Option<String> {
    secret_data(s, key)
        .and_then(|b| std::str::from_utf8(b).ok())
        .map(|v| v.trim_end_matches(['\n', '\r']).to_string())
}

/// Warnings about a cluster spec that is valid but risky.
pub fn warnings(spec: &KafkaConnectClusterSpec) -> Vec<String> {
    let mut w = Vec::new();
    if spec.tls.as_ref().is_some_and(|t| t.insecure_skip_verify) {
        w.push("spec.tls.insecureSkipVerify is true: the Connect server's certificate is not verified; use a CA instead".into());
    }
    if spec.url.trim_start().starts_with("http://") && spec.authentication.is_some() {
        w.push("credentials are sent over plain http; use https".into());
    }
    if let Some(k) = &spec.kafka {
        if k.tls.as_ref().is_some_and(|t| t.insecure_skip_verify) {
            w.push("spec.kafka.tls.insecureSkipVerify is true: the brokers' certificates are not verified; use a CA instead".into());
        }
        if k.tls.is_none()
            && k.authentication
                .as_ref()
                .is_some_and(|a| a.kind == KafkaAuthenticationType::Plain)
        {
            w.push("spec.kafka uses SASL PLAIN without TLS: the password crosses the network in clear; add spec.kafka.tls or use SCRAM".into());
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn spec(v: serde_json::Value) -> KafkaConnectClusterSpec {
        serde_json::from_value(v).unwrap()
    }

    fn secret(pairs: &[(&str, &str)]) -> Secret {
        Secret {
            data: Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn basic_auth_from_secret() {
        let sp = spec(
            json!({"url": "https://c:8083", "authentication": {"type": "basic", "secretRef": {"name": "creds"}}}),
        );
        let s = resolve(
            "c",
            &sp,
            |n| (n == "creds").then(|| secret(&[("username", "u"), ("password", "p\n")])),
            |_| None,
        )
        .unwrap();
        assert_eq!(
            s.auth,
            Some(Auth::Basic {
                username: "u".into(),
                password: "p".into()
            })
        );
        assert_eq!(s.timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn missing_secret_and_key_are_named() {
        let sp = spec(
            json!({"url": "https://c", "authentication": {"type": "bearer", "secretRef": {"name": "tok"}}}),
        );
        let e = resolve("prod", &sp, |_| None, |_| None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "KafkaConnectCluster prod: Secret tok not found"
        );
        let e = resolve("prod", &sp, |_| Some(secret(&[("x", "y")])), |_| None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "KafkaConnectCluster prod: Secret tok has no key \"token\""
        );
    }

    #[test]
    fn malformed_url_is_refused() {
        let e = resolve(
            "c",
            &spec(json!({"url": "connect:8083"})),
            |_| None,
            |_| None,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("scheme must be http or https"),
            "{e}"
        );
    }

    #[test]
    fn tls_material_and_warnings() {
        let sp = spec(
            json!({"url": "https://c", "requestTimeoutSeconds": 5, "tls": {
            "caConfigMapRef": {"name": "ca"}, "clientCertSecretRef": {"name": "client"}, "insecureSkipVerify": true}}),
        );
        let cm = ConfigMap {
            data: Some(BTreeMap::from([("ca.crt".to_string(), "PEM".to_string())])),
            ..Default::default()
        };
        let s = resolve(
            "c",
            &sp,
            |_| Some(secret(&[("tls.crt", "C"), ("tls.key", "K")])),
            |_| Some(cm.clone()),
        )
        .unwrap();
        assert_eq!(s.ca_pem.as_deref(), Some(&b"PEM"[..]));
        assert_eq!(s.client_key_pem.as_deref(), Some(&b"K"[..]));
        assert_eq!(s.timeout, Duration::from_secs(5));
        assert_eq!(warnings(&sp).len(), 1);
        assert_eq!(referenced_secrets(&sp), vec!["client".to_string()]);
        assert_eq!(referenced_config_maps(&sp), vec!["ca".to_string()]);
    }

    #[test]
    fn kafka_settings_from_secrets() {
        let sp = spec(json!({"url": "http://c:8083", "kafka": {
            "bootstrapServers": "k-0:9093, k-1:9093",
            "authentication": {"type": "scram-sha-512", "secretRef": {"name": "kafka-user"}, "passwordKey": "pw"},
            "tls": {"caSecretRef": {"name": "kafka-ca"}}}}));
        let k = resolve_kafka(
            "team/main",
            &sp,
            |n| match n {
                "kafka-user" => Some(secret(&[("username", "lag"), ("pw", "s3cret\n")])),
                "kafka-ca" => Some(secret(&[("ca.crt", "PEM")])),
                _ => None,
            },
            |_| None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(k.bootstrap, vec!["k-0:9093", "k-1:9093"]);
        let sasl = k.sasl.unwrap();
        assert_eq!(sasl.mechanism, SaslMechanism::ScramSha512);
        assert_eq!(
            (sasl.username.as_str(), sasl.password.as_str()),
            ("lag", "s3cret")
        );
        assert_eq!(k.tls.unwrap().ca_pem.as_deref(), Some(&b"PEM"[..]));
        assert_eq!(
            referenced_secrets(&sp),
            vec!["kafka-ca".to_string(), "kafka-user".to_string()]
        );
        assert_eq!(
            resolve_kafka("c", &spec(json!({"url": "http://c"})), |_| None, |_| None).unwrap(),
            None
        );
    }

    #[test]
    fn kafka_problems_are_named() {
        let sp = spec(
            json!({"url": "http://c", "kafka": {"bootstrapServers": "k-0",
            "authentication": {"type": "plain", "secretRef": {"name": "u"}}}}),
        );
        let e = resolve_kafka("team/main", &sp, |_| None, |_| None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "KafkaConnectCluster team/main: spec.kafka.bootstrapServers: malformed bootstrap server \"k-0\": no port (expected host:port)"
        );
        let sp = spec(
            json!({"url": "http://c", "kafka": {"bootstrapServers": "k-0:9092",
            "authentication": {"type": "plain", "secretRef": {"name": "u"}}}}),
        );
        let e = resolve_kafka("team/main", &sp, |_| None, |_| None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "KafkaConnectCluster team/main: Secret u not found"
        );
        assert_eq!(
            warnings(&sp),
            vec!["spec.kafka uses SASL PLAIN without TLS: the password crosses the network in clear; add spec.kafka.tls or use SCRAM".to_string()]
        );
    }
}
