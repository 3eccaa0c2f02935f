//! The Secrets and ConfigMaps a KafkaConnectCluster reads to reach the secured Connect worker (https, mTLS,
//! basic auth), made by `kubectl create` as a user makes them.

use crate::objects::cluster;
use crate::{Out, apply, kafka_env, kubectl};

/// A `kubectl create <args>` object: created as such, or applied over one that exists.
pub struct Created(Vec<String>);

/// `kubectl create secret generic <name>` with the basic-auth keys `username` and `password`.
pub fn basic_auth_secret(name: &str, username: &str, password: &str) -> Created {
    Created(vec![
        "secret".into(),
        "generic".into(),
        name.into(),
        format!("--from-literal=username={username}"),
        format!("--from-literal=password={password}"),
    ])
}

/// A Secret `name` with the secured worker's credentials.
pub fn worker_basic_auth_secret(name: &str) -> Created {
    let s = &kafka_env().secure;
    basic_auth_secret(name, &s.username, &s.password)
}

/// A Secret `name` with the secured worker's client certificate and key (`tls.crt`, `tls.key`).
pub fn client_cert_secret(name: &str) -> Created {
    let s = &kafka_env().secure;
    Created(vec![
        "secret".into(),
        "generic".into(),
        name.into(),
        format!("--from-file=tls.crt={}", s.client_cert_pem.display()),
        format!("--from-file=tls.key={}", s.client_key_pem.display()),
    ])
}

/// A Secret `name` with the secured worker's CA as `ca.crt`.
pub fn ca_secret(name: &str) -> Created {
    Created(vec![
        "secret".into(),
        "generic".into(),
        name.into(),
        worker_ca_file(),
    ])
}

/// A ConfigMap `name` with the secured worker's CA as `ca.crt`.
pub fn ca_config_map(name: &str) -> Created {
    Created(vec!["configmap".into(), name.into(), worker_ca_file()])
}

/// A ConfigMap `name` with `ca.crt` holding `text`.
pub fn ca_config_map_text(name: &str, text: &str) -> Created {
    Created(vec![
        "configmap".into(),
        name.into(),
        format!("--from-literal=ca.crt={text}"),
    ])
}

/// The KafkaConnectCluster `secure` in `ns` for the secured worker: its CA from the Secret `ca` and its client
/// certificate from the Secret `client`, both created here, and basic auth from the Secret `creds`, which the
/// caller creates (right or wrong).
pub fn secure_cluster(ns: &str) {
    ca_secret("ca").create(ns);
    client_cert_secret("client").create(ns);
    cluster(ns, "secure", &kafka_env().secure.url)
        .basic_auth("creds")
        .ca_secret("ca")
        .client_cert("client")
        .apply()
        .expect_ok();
}

fn worker_ca_file() -> String {
    format!("--from-file=ca.crt={}", kafka_env().secure.ca_pem.display())
}

impl Created {
    fn args<'a>(&'a self, ns: &'a str) -> Vec<&'a str> {
        let mut args = vec!["create"];
        args.extend(self.0.iter().map(String::as_str));
        args.extend(["-n", ns]);
        args
    }

    /// `kubectl create … -n <ns>`, which must succeed.
    pub fn create(&self, ns: &str) -> Out {
        kubectl(&self.args(ns)).expect_ok()
    }

    /// Creates or replaces it: `kubectl create … --dry-run=client -o yaml | kubectl apply -f -`.
    pub fn apply(&self, ns: &str) -> Out {
        let mut args = self.args(ns);
        args.extend(["--dry-run=client", "-o", "yaml"]);
        let yaml = kubectl(&args).expect_ok().stdout;
        apply(&yaml, &[]).expect_ok()
    }
}

/// The stack broker's secured listeners (SASL and mTLS).
pub fn brokers_secured() -> &'static stack::kafka::SecuredBrokerEnv {
    kafka_env().brokers_secured.as_ref().expect(
        "the stack's broker has SASL and mTLS listeners (restart the stack with this cw-stack)",
    )
}

/// A Secret `name` with the broker's SASL user (`username`, `password`).
pub fn broker_sasl_secret(name: &str) -> Created {
    let b = brokers_secured();
    basic_auth_secret(name, &b.sasl_username, &b.sasl_password)
}

/// A Secret `name` with the CA of the broker's TLS listener as `ca.crt`.
pub fn broker_ca_secret(name: &str) -> Created {
    let b = brokers_secured();
    Created(vec![
        "secret".into(),
        "generic".into(),
        name.into(),
        format!("--from-file=ca.crt={}", b.ca_pem.display()),
    ])
}

/// A Secret `name` with a client certificate and key the broker's mTLS listener accepts.
pub fn broker_client_cert_secret(name: &str) -> Created {
    let b = brokers_secured();
    Created(vec![
        "secret".into(),
        "generic".into(),
        name.into(),
        format!("--from-file=tls.crt={}", b.client_cert_pem.display()),
        format!("--from-file=tls.key={}", b.client_key_pem.display()),
    ])
}
