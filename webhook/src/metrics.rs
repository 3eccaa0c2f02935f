//! The webhook's Prometheus metrics. Labels never carry config values: only operation, decision, reason,
//! cluster (`namespace/name`) and outcome, all from bounded sets.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};

use crate::error::Result;

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    /// Reviews answered, by webhook (mutate/validate), operation, decision (allowed/patched/denied), reason.
    pub requests: IntCounterVec,
    /// Time to answer one review, by webhook.
    pub duration: HistogramVec,
    /// Kafka Connect validate calls (cache misses only), by cluster and outcome.
    pub connect_validate: HistogramVec,
    /// Validation-cache lookups by result: hit, shared (joined an in-flight call), miss.
    pub cache: IntCounterVec,
    /// Certificate reloads by result (ok/error).
    pub cert_reloads: IntCounterVec,
    /// Expiry (notAfter, Unix seconds) of the serving certificate in use, so dashboards and alerts see a
    /// rotation that stopped working before clients do.
    pub cert_expiry: IntGauge,
}

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Metrics {
    pub fn new() -> Result<Self> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "connect_warden_webhook_admission_requests_total",
                "Admission reviews answered, by webhook, operation, decision and reason.",
            ),
            &["webhook", "operation", "decision", "reason"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "connect_warden_webhook_admission_duration_seconds",
                "Time to answer one admission review.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["webhook"],
        )?;
        let connect_validate = HistogramVec::new(
            HistogramOpts::new(
                "connect_warden_webhook_connect_validate_duration_seconds",
                "Kafka Connect config validations (cache misses), by cluster and outcome.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["cluster", "outcome"],
        )?;
        let cache = IntCounterVec::new(
            Opts::new(
                "connect_warden_webhook_validation_cache_total",
                "Validation-cache lookups by result: hit, shared (joined an in-flight call), miss.",
            ),
            &["result"],
        )?;
        let cert_reloads = IntCounterVec::new(
            Opts::new(
                "connect_warden_webhook_certificate_reloads_total",
                "Serving-certificate reloads by result.",
            ),
            &["result"],
        )?;
        let cert_expiry = IntGauge::new(
            "connect_warden_webhook_certificate_expiry_timestamp_seconds",
            "Expiry (notAfter, Unix seconds) of the serving certificate in use.",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(connect_validate.clone()))?;
        registry.register(Box::new(cache.clone()))?;
        registry.register(Box::new(cert_reloads.clone()))?;
        registry.register(Box::new(cert_expiry.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            duration,
            connect_validate,
            cache,
            cert_reloads,
            cert_expiry,
        })
    }

    /// Records the expiry of the serving certificate now in use (the first PEM block of `cert_pem`).
    pub fn observe_certificate(&self, cert_pem: &[u8]) {
        if let Some(not_after) = not_after(cert_pem) {
            self.cert_expiry.set(not_after);
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        shared::runtime::admin::render(&self.registry)
    }
}

/// `notAfter` of the first certificate in a PEM bundle, in Unix seconds.
fn not_after(cert_pem: &[u8]) -> Option<i64> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem).ok()?;
    let cert = pem.parse_x509().ok()?;
    Some(cert.validity().not_after.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_expiry_is_read_from_the_pem() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["webhook.local".into()]).unwrap();
        params.not_after = rcgen::date_time_ymd(2031, 5, 17);
        let cert = params.self_signed(&key).unwrap();
        let metrics = Metrics::new().unwrap();
        metrics.observe_certificate(cert.pem().as_bytes());
        // 2031-05-17T00:00:00Z
        assert_eq!(metrics.cert_expiry.get(), 1_936_742_400);
        assert!(
            metrics
                .render()
                .contains("connect_warden_webhook_certificate_expiry_timestamp_seconds 1936742400")
        );
    }

    #[test]
    fn garbage_leaves_the_gauge_alone() {
        let metrics = Metrics::new().unwrap();
        metrics.observe_certificate(b"not a certificate");
        assert_eq!(metrics.cert_expiry.get(), 0);
    }
}
