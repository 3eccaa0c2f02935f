//! Cluster resolution: a `KafkaConnectCluster` plus the Secrets and ConfigMaps it references → the settings
//! of a Connect client. Pure: callers pass lookups backed by their watch caches.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};

use crate::connect::{Auth, ClientSettings, parse_base_url};
use crate::crd::{AuthenticationType, KafkaConnectClusterSpec};
use crate::error::{Error, Result};

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_CA_KEY: &str = "ca.crt";

/// The names of the Secrets and ConfigMaps a cluster needs (for watches and admission checks).
pub fn referenced_secrets(spec: &KafkaConnectClusterSpec) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(a) = &spec.authentication {
        out.push(a.secret_ref.name.clone());
    }
    if let Some(t) = &spec.tls {
        if let Some(r) = &t.ca_secret_ref {
            out.push(r.name.clone());
        }
        if let Some(r) = &t.client_cert_secret_ref {
            out.push(r.name.clone());
        }
    }
    out.sort();
    out.dedup();
    out
}

pub fn referenced_config_maps(spec: &KafkaConnectClusterSpec) -> Vec<String> {
    spec.tls
        .iter()
        .filter_map(|t| t.ca_config_map_ref.as_ref().map(|r| r.name.clone()))
        .collect()
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
    let mut s = ClientSettings::new(spec.url.trim());
    s.timeout = spec
        .request_timeout_seconds
        .map(|t| Duration::from_secs(t.into()))
        .unwrap_or(DEFAULT_TIMEOUT);
    let missing = |kind: &str, name: &str| {
        Error::Resolve(format!(
            "KafkaConnectCluster {cluster}: {kind} {name} not found"
        ))
    };
    let no_key = |kind: &str, name: &str, key: &str| {
        Error::Resolve(format!(
            "KafkaConnectCluster {cluster}: {kind} {name} has no key {key:?}"
        ))
    };

    if let Some(a) = &spec.authentication {
        let name = &a.secret_ref.name;
        let sec = secret(name).ok_or_else(|| missing("Secret", name))?;
        let get = |key: &str| secret_value(&sec, key).ok_or_else(|| no_key("Secret", name, key));
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
        s.insecure_skip_verify = t.insecure_skip_verify;
        if let Some(r) = &t.ca_secret_ref {
            let key = r.key.as_deref().unwrap_or(DEFAULT_CA_KEY);
            let sec = secret(&r.name).ok_or_else(|| missing("Secret", &r.name))?;
            s.ca_pem = Some(secret_bytes(&sec, key).ok_or_else(|| no_key("Secret", &r.name, key))?);
        }
        if let Some(r) = &t.ca_config_map_ref {
            let key = r.key.as_deref().unwrap_or(DEFAULT_CA_KEY);
            let cm = config_map(&r.name).ok_or_else(|| missing("ConfigMap", &r.name))?;
            let pem = cm
                .data
                .as_ref()
                .and_then(|d| d.get(key))
                .ok_or_else(|| no_key("ConfigMap", &r.name, key))?;
            s.ca_pem = Some(pem.as_bytes().to_vec());
        }
        if let Some(r) = &t.client_cert_secret_ref {
            let sec = secret(&r.name).ok_or_else(|| missing("Secret", &r.name))?;
            s.client_cert_pem = Some(
                secret_bytes(&sec, "tls.crt")
                    .ok_or_else(|| no_key("Secret", &r.name, "tls.crt"))?,
            );
            s.client_key_pem = Some(
                secret_bytes(&sec, "tls.key")
                    .ok_or_else(|| no_key("Secret", &r.name, "tls.key"))?,
            );
        }
    }
    Ok(s)
}

fn secret_bytes(s: &Secret, key: &str) -> Option<Vec<u8>> {
    if let Some(v) = s.data.as_ref().and_then(|d| d.get(key)) {
        return Some(v.0.clone());
    }
    s.string_data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|v| v.as_bytes().to_vec())
}

fn secret_value(s: &Secret, key: &str) -> Option<String> {
    secret_bytes(s, key)
        .and_then(|b| String::from_utf8(b).ok())
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
}
