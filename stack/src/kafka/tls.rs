//! The secured worker's TLS material: a CA, server and client certificates, the PKCS12 stores Connect's
//! REST listener needs, and the basic-auth credentials and JAAS files. Also the broker's SSL listener
//! certificates, PEM only.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;

use super::{SecureConnectEnv, random_bytes, write_file};
use crate::http::Probe;
use crate::pki::Ca;
use crate::{Error, Result, io};

/// Password of the generated PKCS12 key and trust stores (local test material only).
pub(super) const STORE_PASSWORD: &str = "changeit";
/// The user of the secured worker's basic auth.
const BASIC_AUTH_USER: &str = "cw-admin";

/// Runs a short helper command (openssl, keytool) to completion.
fn run_tool(what: &str, cmd: &mut Command) -> Result<()> {
    let out = cmd.output().map_err(io(format!("running {what}")))?;
    if !out.status.success() {
        return Err(Error::Build {
            what: what.into(),
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(())
}

/// The certificates and files of the secured worker.
pub(super) struct SecureMaterial {
    dir: PathBuf,
    password: String,
    probe: ProbeTls,
}

/// What the secured worker's process needs.
pub(super) struct WorkerTls {
    pub(super) keystore: PathBuf,
    pub(super) truststore: PathBuf,
    pub(super) jaas: PathBuf,
    pub(super) probe: ProbeTls,
}

/// What the readiness probe needs to talk to the secured worker: the client certificate (and the CA) and
/// basic auth.
#[derive(Clone)]
pub(super) struct ProbeTls {
    config: rustls::ClientConfig,
    authorization: String,
}

impl ProbeTls {
    pub(super) fn probe(&self) -> Result<Probe> {
        Probe::tls(self.config.clone(), Some(self.authorization.clone()))
    }
}

impl SecureMaterial {
    /// Generates a CA, a server certificate (127.0.0.1, localhost), a client certificate and an unrelated
    /// CA; writes them as PEM plus the PKCS12 key store and trust store the worker's Jetty needs (Connect's
    /// REST listener cannot read PEM stores), the credentials file and the JAAS file.
    pub(super) fn create(dir: &Path) -> Result<SecureMaterial> {
        fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        let ca = Ca::new("connect-warden test Connect CA")?;
        let other = Ca::new("connect-warden untrusted CA")?;
        let server = ca.server(&["127.0.0.1", "localhost"])?;
        let client = ca.client("connect-warden-client", None)?;

        let f = |n: &str| dir.join(n);
        write_file(&f("ca.pem"), &ca.cert_pem)?;
        write_file(&f("untrusted-ca.pem"), &other.cert_pem)?;
        write_file(&f("server.pem"), &server.cert_pem)?;
        write_file(&f("server-key.pem"), &server.key_pem)?;
        write_file(&f("client.pem"), &client.cert_pem)?;
        write_file(&f("client-key.pem"), &client.key_pem)?;

        let password =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<12>()?);
        write_file(
            &f("credentials.properties"),
            format!("{BASIC_AUTH_USER}: {password}\n"),
        )?;
        write_file(
            &f("jaas.conf"),
            format!(
                "KafkaConnect {{\n  org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required\n  file=\"{}\";\n}};\n",
                f("credentials.properties").display()
            ),
        )?;

        // The key and trust stores, built by openssl and keytool at the same time.
        for store in ["server.p12", "truststore.p12"] {
            let _ = fs::remove_file(f(store));
        }
        let pass = format!("pass:{STORE_PASSWORD}");
        let mut keystore = Command::new("openssl");
        keystore
            .args([
                "pkcs12", "-export", "-name", "connect", "-passout", &pass, "-in",
            ])
            .arg(f("server.pem"))
            .arg("-inkey")
            .arg(f("server-key.pem"))
            .arg("-certfile")
            .arg(f("ca.pem"))
            .arg("-out")
            .arg(f("server.p12"));
        let mut truststore = Command::new("keytool");
        truststore
            .args([
                "-importcert",
                "-noprompt",
                "-alias",
                "ca",
                "-storetype",
                "PKCS12",
                "-storepass",
                STORE_PASSWORD,
            ])
            .arg("-file")
            .arg(f("ca.pem"))
            .arg("-keystore")
            .arg(f("truststore.p12"));
        std::thread::scope(|s| {
            let ks = s.spawn(|| run_tool("openssl pkcs12 (Connect key store)", &mut keystore));
            let ts = run_tool("keytool -importcert (Connect trust store)", &mut truststore);
            ks.join()
                .unwrap_or_else(|_| Err(Error::Env("key store thread panicked".into())))
                .and(ts)
        })?;

        let config = ca.client_tls(&client)?;
        let authorization = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{BASIC_AUTH_USER}:{password}"))
        );
        Ok(SecureMaterial {
            dir: dir.to_path_buf(),
            password,
            probe: ProbeTls {
                config,
                authorization,
            },
        })
    }

    pub(super) fn env(&self, url: String) -> SecureConnectEnv {
        SecureConnectEnv {
            url,
            ca_pem: self.dir.join("ca.pem"),
            client_cert_pem: self.dir.join("client.pem"),
            client_key_pem: self.dir.join("client-key.pem"),
            username: BASIC_AUTH_USER.to_string(),
            password: self.password.clone(),
            untrusted_ca_pem: self.dir.join("untrusted-ca.pem"),
        }
    }

    pub(super) fn worker_tls(&self) -> WorkerTls {
        WorkerTls {
            keystore: self.dir.join("server.p12"),
            truststore: self.dir.join("truststore.p12"),
            jaas: self.dir.join("jaas.conf"),
            probe: self.probe.clone(),
        }
    }
}

/// The broker's SSL listener material, PEM only (the broker reads PEM stores): a CA of its own, a server
/// certificate for 127.0.0.1 and localhost, and a client certificate for tests, all written under `dir`.
pub(super) struct BrokerTls {
    /// The server certificate followed by the CA, and its key (PKCS#8), for `ssl.keystore.*`.
    pub(super) server_chain_pem: String,
    pub(super) server_key_pem: String,
    /// For `ssl.truststore.certificates`: the broker accepts clients whose certificates this CA signed.
    pub(super) ca_pem: String,
    pub(super) ca_path: PathBuf,
    pub(super) client_cert_path: PathBuf,
    pub(super) client_key_path: PathBuf,
}

impl BrokerTls {
    pub(super) fn create(dir: &Path) -> Result<BrokerTls> {
        fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        let ca = Ca::new("connect-warden test Kafka CA")?;
        let server = ca.server(&["127.0.0.1", "localhost"])?;
        let client = ca.client("connect-warden-kafka-client", None)?;
        let f = |n: &str| dir.join(n);
        write_file(&f("ca.pem"), &ca.cert_pem)?;
        write_file(&f("server.pem"), &server.cert_pem)?;
        write_file(&f("server-key.pem"), &server.key_pem)?;
        write_file(&f("client.pem"), &client.cert_pem)?;
        write_file(&f("client-key.pem"), &client.key_pem)?;
        Ok(BrokerTls {
            server_chain_pem: format!("{}\n{}", server.cert_pem.trim_end(), ca.cert_pem),
            server_key_pem: server.key_pem,
            ca_pem: ca.cert_pem,
            ca_path: f("ca.pem"),
            client_cert_path: f("client.pem"),
            client_key_path: f("client-key.pem"),
        })
    }
}
