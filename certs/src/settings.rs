//! What to manage and for how long certificates live, plus the matching command-line flags (so the webhook
//! can flatten [`SettingsArgs`] into its own CLI for self-managed mode).

use std::time::Duration;

use crate::{Error, Result};

/// Everything [`crate::ensure`] and [`crate::run_rotation_loop`] need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Namespace of the webhook Service and of the Secret.
    pub namespace: String,
    /// The Secret holding CA, bundle and serving certificate.
    pub secret_name: String,
    /// The webhook Service; its DNS names go into the certificate.
    pub service_name: String,
    /// More subject alternative names: DNS names or IP addresses (e.g. `127.0.0.1` for a URL-registered
    /// webhook).
    pub extra_sans: Vec<String>,
    /// MutatingWebhookConfigurations whose every webhook gets the bundle as `caBundle`.
    pub mutating_configs: Vec<String>,
    /// ValidatingWebhookConfigurations whose every webhook gets the bundle as `caBundle`.
    pub validating_configs: Vec<String>,
    pub ca_validity: Duration,
    /// Rotate the CA once it has less than this left. Must exceed `cert_renew_before`, so a certificate is
    /// never clamped to a CA that is about to be replaced.
    pub ca_renew_before: Duration,
    pub cert_validity: Duration,
    /// Renew the serving certificate once it has less than this left.
    pub cert_renew_before: Duration,
    /// Longest pause between two checks of the Secret in the rotation loop.
    pub check_interval: Duration,
    /// After a CA rotation, how long the still-valid serving certificate from the old CA is kept before one
    /// from the new CA replaces it, so every API server has seen the new caBundle first. At most half of
    /// `cert_renew_before` is used (see [`Settings::trust_delay`]).
    pub ca_trust_delay: Duration,
}

const DAY: u64 = 24 * 3600;

impl Settings {
    /// Settings with the defaults: CA 10 years (rotated 1 year before expiry), certificate 1 year (renewed 30
    /// days before), a check every 5 minutes.
    pub fn new(namespace: &str, secret_name: &str, service_name: &str) -> Settings {
        Settings {
            namespace: namespace.into(),
            secret_name: secret_name.into(),
            service_name: service_name.into(),
            extra_sans: Vec::new(),
            mutating_configs: Vec::new(),
            validating_configs: Vec::new(),
            ca_validity: Duration::from_secs(3650 * DAY),
            ca_renew_before: Duration::from_secs(365 * DAY),
            cert_validity: Duration::from_secs(365 * DAY),
            cert_renew_before: Duration::from_secs(30 * DAY),
            check_interval: Duration::from_secs(300),
            ca_trust_delay: Duration::from_secs(60),
        }
    }

    /// The effective wait between publishing a new CA and serving a certificate from it: the configured delay,
    /// but never so long that the old certificate (renewed `cert_renew_before` ahead) could expire meanwhile.
    pub fn trust_delay(&self) -> Duration {
        self.ca_trust_delay.min(self.cert_renew_before / 2)
    }

    /// The serving certificate's names: `<svc>`, `<svc>.<ns>`, `<svc>.<ns>.svc`,
    /// `<svc>.<ns>.svc.cluster.local`, then the extra names, without duplicates.
    pub fn dns_names(&self) -> Vec<String> {
        let (s, n) = (&self.service_name, &self.namespace);
        let mut names = vec![
            s.clone(),
            format!("{s}.{n}"),
            format!("{s}.{n}.svc"),
            format!("{s}.{n}.svc.cluster.local"),
        ];
        for extra in &self.extra_sans {
            if !names.contains(extra) {
                names.push(extra.clone());
            }
        }
        names
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::Settings(m.to_string()));
        if self.namespace.is_empty() || self.secret_name.is_empty() || self.service_name.is_empty()
        {
            return bad("namespace, secret and service must not be empty");
        }
        if self.cert_renew_before >= self.cert_validity {
            return bad("cert-renew-before must be shorter than cert-validity");
        }
        if self.ca_renew_before >= self.ca_validity {
            return bad("ca-renew-before must be shorter than ca-validity");
        }
        if self.ca_renew_before <= self.cert_renew_before {
            return bad("ca-renew-before must be longer than cert-renew-before");
        }
        if self.check_interval.is_zero() {
            return bad("check-interval must be positive");
        }
        if self.check_interval >= self.cert_renew_before {
            return bad("check-interval must be shorter than cert-renew-before");
        }
        Ok(())
    }
}

/// Command-line flags for [`Settings`], each with an environment variable. Flatten into a clap parser with
/// `#[command(flatten)]`.
#[derive(Debug, Clone, clap::Args)]
pub struct SettingsArgs {
    /// Namespace of the webhook Service and of the certificate Secret (in a pod: its own namespace).
    #[arg(long, env = "CW_CERTS_NAMESPACE")]
    pub namespace: String,
    /// Name of the Secret that holds the CA and the serving certificate.
    #[arg(
        long,
        env = "CW_CERTS_SECRET",
        default_value = "connect-warden-webhook-tls"
    )]
    pub secret: String,
    /// Name of the webhook Service; its DNS names go into the certificate.
    #[arg(
        long,
        env = "CW_CERTS_SERVICE",
        default_value = "connect-warden-webhook"
    )]
    pub service: String,
    /// Extra subject alternative names (DNS names or IP addresses); repeat or separate with commas.
    #[arg(long, env = "CW_CERTS_EXTRA_SANS", value_delimiter = ',')]
    pub extra_san: Vec<String>,
    /// Webhook configuration name: both the Mutating- and the ValidatingWebhookConfiguration of this name
    /// get the CA bundle. Repeat or separate with commas.
    #[arg(long, env = "CW_CERTS_WEBHOOK_CONFIG", value_delimiter = ',')]
    pub webhook_config: Vec<String>,
    /// A MutatingWebhookConfiguration only (when the two are named differently).
    #[arg(long, env = "CW_CERTS_MUTATING_CONFIG", value_delimiter = ',')]
    pub mutating_config: Vec<String>,
    /// A ValidatingWebhookConfiguration only (when the two are named differently).
    #[arg(long, env = "CW_CERTS_VALIDATING_CONFIG", value_delimiter = ',')]
    pub validating_config: Vec<String>,
    /// CA lifetime, e.g. `3650d`, `12h`, `90s`.
    #[arg(long, env = "CW_CERTS_CA_VALIDITY", default_value = "3650d", value_parser = parse_duration)]
    pub ca_validity: Duration,
    /// Rotate the CA when less than this is left (the old CA stays trusted until it expires).
    #[arg(long, env = "CW_CERTS_CA_RENEW_BEFORE", default_value = "365d", value_parser = parse_duration)]
    pub ca_renew_before: Duration,
    /// Serving certificate lifetime.
    #[arg(long, env = "CW_CERTS_CERT_VALIDITY", default_value = "365d", value_parser = parse_duration)]
    pub cert_validity: Duration,
    /// Renew the serving certificate when less than this is left.
    #[arg(long, env = "CW_CERTS_CERT_RENEW_BEFORE", default_value = "30d", value_parser = parse_duration)]
    pub cert_renew_before: Duration,
    /// Longest pause between two checks in the rotation loop.
    #[arg(long, env = "CW_CERTS_CHECK_INTERVAL", default_value = "5m", value_parser = parse_duration)]
    pub check_interval: Duration,
    /// After a CA rotation, keep serving the old CA's certificate this long (at most half of
    /// cert-renew-before) so the API servers trust the new CA before its certificate is served.
    #[arg(long, env = "CW_CERTS_CA_TRUST_DELAY", default_value = "60s", value_parser = parse_duration)]
    pub ca_trust_delay: Duration,
}

impl SettingsArgs {
    pub fn into_settings(self) -> Result<Settings> {
        let mut mutating = self.webhook_config.clone();
        mutating.extend(self.mutating_config);
        let mut validating = self.webhook_config;
        validating.extend(self.validating_config);
        let s = Settings {
            namespace: self.namespace,
            secret_name: self.secret,
            service_name: self.service,
            extra_sans: self
                .extra_san
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect(),
            mutating_configs: mutating.into_iter().filter(|s| !s.is_empty()).collect(),
            validating_configs: validating.into_iter().filter(|s| !s.is_empty()).collect(),
            ca_validity: self.ca_validity,
            ca_renew_before: self.ca_renew_before,
            cert_validity: self.cert_validity,
            cert_renew_before: self.cert_renew_before,
            check_interval: self.check_interval,
            ca_trust_delay: self.ca_trust_delay,
        };
        s.validate()?;
        Ok(s)
    }
}

/// `90`, `90s`, `15m`, `12h`, `365d` → a duration.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 90s, 15m, 12h or 365d"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => DAY,
        _ => {
            return Err(format!(
                "`{text}`: unknown unit `{unit}` (use s, m, h or d)"
            ));
        }
    };
    n.checked_mul(mult)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{text}` is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("365d"), Ok(Duration::from_secs(365 * DAY)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("-5s").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }

    #[test]
    fn service_dns_names_then_extras() {
        let mut s = Settings::new("cw", "tls", "hook");
        s.extra_sans = vec!["127.0.0.1".into(), "hook".into()];
        assert_eq!(
            s.dns_names(),
            [
                "hook",
                "hook.cw",
                "hook.cw.svc",
                "hook.cw.svc.cluster.local",
                "127.0.0.1"
            ]
        );
    }

    #[test]
    fn defaults_are_valid_and_bad_windows_are_refused() {
        let s = Settings::new("cw", "tls", "hook");
        s.validate().unwrap();
        let mut t = s.clone();
        t.cert_renew_before = t.cert_validity;
        assert!(t.validate().is_err());
        let mut t = s.clone();
        t.ca_renew_before = t.cert_renew_before;
        assert!(t.validate().is_err());
        let mut t = s.clone();
        t.check_interval = t.cert_renew_before;
        assert!(t.validate().is_err());
        let mut t = s.clone();
        t.service_name.clear();
        assert!(t.validate().is_err());
        assert_eq!(s.trust_delay(), Duration::from_secs(60));
        let mut t = s;
        t.cert_renew_before = Duration::from_secs(20);
        assert_eq!(t.trust_delay(), Duration::from_secs(10));
    }
}
