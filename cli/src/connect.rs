//! How cwctl reaches Kafka Connect: a URL with authentication and TLS flags, or a KafkaConnectCluster's own
//! settings read from Kubernetes with a kubeconfig context (its Secrets and ConfigMaps resolved as the
//! controller resolves them).

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use kube::config::{KubeConfigOptions, Kubeconfig};
use shared::connect::{Auth, ClientSettings, ConnectClient};
use shared::crd::KafkaConnectCluster;

/// The flags that say how to reach Kafka Connect.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConnectArgs {
    /// Kafka Connect's REST URL, e.g. http://localhost:8083.
    #[arg(long, env = "CWCTL_CONNECT_URL", value_name = "URL")]
    pub connect_url: Option<String>,
    /// Basic authentication user; the password comes from CWCTL_CONNECT_PASSWORD.
    #[arg(long, value_name = "USER", requires = "connect_url")]
    pub user: Option<String>,
    /// Basic authentication password (from the environment only, never a flag: flags show in process lists).
    #[arg(
        long = "password-from-env-only",
        hide = true,
        env = "CWCTL_CONNECT_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,
    /// Bearer token (from the environment only).
    #[arg(
        long = "token-from-env-only",
        hide = true,
        env = "CWCTL_CONNECT_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// PEM file of the CA(s) to trust for an https URL.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<String>,
    /// PEM client certificate for mTLS (with --key-file).
    #[arg(long, value_name = "FILE", requires = "key_file")]
    pub cert_file: Option<String>,
    /// PEM private key of --cert-file.
    #[arg(long, value_name = "FILE", requires = "cert_file")]
    pub key_file: Option<String>,
    /// Accept any server certificate (testing only).
    #[arg(long)]
    pub insecure_skip_tls_verify: bool,
    /// Use the settings (URL, authentication, TLS) of this KafkaConnectCluster, read with the kubeconfig.
    #[arg(long, value_name = "NAME", conflicts_with = "connect_url")]
    pub cluster: Option<String>,
    /// Namespace of --cluster (default: the context's namespace, else `default`).
    #[arg(
        long = "cluster-namespace",
        value_name = "NAMESPACE",
        requires = "cluster"
    )]
    pub cluster_namespace: Option<String>,
    /// kubeconfig context for --cluster (default: the current context).
    #[arg(long, value_name = "CONTEXT", requires = "cluster")]
    pub context: Option<String>,
    /// Deadline of one request to Kafka Connect, in seconds.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub timeout_seconds: u64,
}

/// A Kafka Connect cluster to talk to, and how to name it in messages.
pub struct Target {
    pub client: ConnectClient,
    pub settings: ClientSettings,
    /// The URL, or `KafkaConnectCluster ns/name (URL)`.
    pub label: String,
}

impl ConnectArgs {
    pub fn is_set(&self) -> bool {
        self.connect_url.is_some() || self.cluster.is_some()
    }

    /// The client the flags describe; `None` when neither --connect-url nor --cluster is given. Errors are
    /// usage or connection errors (exit 2).
    pub async fn target(&self) -> Result<Option<Target>, String> {
        let timeout = Duration::from_secs(self.timeout_seconds.max(1));
        let (mut settings, label) = if let Some(url) = &self.connect_url {
            (self.flag_settings(url)?, url.clone())
        } else if let Some(name) = &self.cluster {
            let (s, label) = self.cluster_settings(name).await?;
            (s, label)
        } else {
            return Ok(None);
        };
        settings.timeout = timeout;
        let client = ConnectClient::new(&settings).map_err(|e| e.to_string())?;
        Ok(Some(Target {
            client,
            settings,
            label,
        }))
    }

    fn flag_settings(&self, url: &str) -> Result<ClientSettings, String> {
        let read = |flag: &str, path: &str| {
            std::fs::read(path).map_err(|e| format!("--{flag} {path}: {e}"))
        };
        let mut s = ClientSettings::new(url);
        s.auth = match (&self.user, &self.password, &self.token) {
            (Some(_), _, Some(_)) => {
                return Err(
                    "give either --user (basic) or CWCTL_CONNECT_TOKEN (bearer), not both".into(),
                );
            }
            (Some(u), Some(p), None) => Some(Auth::Basic {
                username: u.clone(),
                password: p.clone(),
            }),
            (Some(_), None, None) => {
                return Err(
                    "--user needs the password in the environment variable CWCTL_CONNECT_PASSWORD"
                        .into(),
                );
            }
            (None, _, Some(t)) => Some(Auth::Bearer { token: t.clone() }),
            (None, _, None) => None,
        };
        if let Some(p) = &self.ca_file {
            s.ca_pem = Some(read("ca-file", p)?);
        }
        if let (Some(c), Some(k)) = (&self.cert_file, &self.key_file) {
            s.client_cert_pem = Some(read("cert-file", c)?);
            s.client_key_pem = Some(read("key-file", k)?);
        }
        s.insecure_skip_verify = self.insecure_skip_tls_verify;
        Ok(s)
    }

    /// The settings of KafkaConnectCluster `name`, as the controller resolves them.
    async fn cluster_settings(&self, name: &str) -> Result<(ClientSettings, String), String> {
        let options = KubeConfigOptions {
            context: self.context.clone(),
            ..Default::default()
        };
        let kubeconfig = Kubeconfig::read().map_err(|e| format!("kubeconfig: {e}"))?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| format!("kubeconfig: {e}"))?;
        let ns = self
            .cluster_namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let kube = kube::Client::try_from(config).map_err(|e| format!("kubeconfig: {e}"))?;
        let cluster: KafkaConnectCluster = Api::namespaced(kube.clone(), &ns)
            .get(name)
            .await
            .map_err(|e| format!("KafkaConnectCluster {ns}/{name}: {e}"))?;
        let secrets: Api<Secret> = Api::namespaced(kube.clone(), &ns);
        let config_maps: Api<ConfigMap> = Api::namespaced(kube, &ns);
        let mut found_secrets = Vec::new();
        for n in shared::cluster::referenced_secrets(&cluster.spec) {
            if let Some(s) = secrets
                .get_opt(&n)
                .await
                .map_err(|e| format!("Secret {ns}/{n}: {e}"))?
            {
                found_secrets.push((n, s));
            }
        }
        let mut found_maps = Vec::new();
        for n in shared::cluster::referenced_config_maps(&cluster.spec) {
            if let Some(m) = config_maps
                .get_opt(&n)
                .await
                .map_err(|e| format!("ConfigMap {ns}/{n}: {e}"))?
            {
                found_maps.push((n, m));
            }
        }
        let label = format!("{ns}/{name}");
        let settings = shared::cluster::resolve(
            &label,
            &cluster.spec,
            |n| {
                found_secrets
                    .iter()
                    .find(|(k, _)| k == n)
                    .map(|(_, s)| s.clone())
            },
            |n| {
                found_maps
                    .iter()
                    .find(|(k, _)| k == n)
                    .map(|(_, m)| m.clone())
            },
        )
        .map_err(|e| e.to_string())?;
        let label = format!("KafkaConnectCluster {label} ({})", settings.url);
        Ok((settings, label))
    }
}
