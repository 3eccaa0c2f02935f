//! The webhook's Prometheus metrics (DESIGN §6). Labels never carry config values: only operation, decision,
//! reason, cluster (`namespace/name`) and outcome, all from bounded sets.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

use crate::Result;

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
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(connect_validate.clone()))?;
        registry.register(Box::new(cache.clone()))?;
        registry.register(Box::new(cert_reloads.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            duration,
            connect_validate,
            cache,
            cert_reloads,
        })
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec only fails on invalid metric families, which the registry refuses up front.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }
}
