//! The Kubernetes side: the Secret (create-if-absent, compare-and-swap updates), `caBundle` injection into
//! the webhook configurations, and the rotation loop.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use tracing::{debug, info, warn};

use crate::pki::{self, Pair};
use crate::plan::{self, Decision, Stored};
use crate::{Error, Result, Settings, kube_err};

/// Field manager of our writes, visible in `managedFields`.
pub const FIELD_MANAGER: &str = "connect-warden-certs";
/// Rounds of read-decide-write before giving up when other replicas keep winning.
const MAX_ROUNDS: usize = 8;

/// What a webhook process serves and trusts, as of the last [`ensure`].
#[derive(Clone)]
pub struct Material {
    pub cert_pem: String,
    pub key_pem: String,
    /// The CAs the API server trusts (PEM), as written into `caBundle`.
    pub ca_bundle_pem: String,
    /// Unix seconds.
    pub cert_not_after: i64,
    /// When the rotation loop should look again.
    pub next_check: Duration,
}

impl Material {
    /// Whether the files written from `self` and `other` would be identical.
    pub fn same_files(&self, other: &Material) -> bool {
        self.cert_pem == other.cert_pem
            && self.key_pem == other.key_pem
            && self.ca_bundle_pem == other.ca_bundle_pem
    }
}

impl std::fmt::Debug for Material {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Material")
            .field("cert_not_after", &self.cert_not_after)
            .field("next_check", &self.next_check)
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Brings the Secret and the webhook configurations up to date and returns what to serve. Safe to call
/// from several replicas at once: they converge on one Secret.
pub async fn ensure(client: &Client, settings: &Settings) -> Result<Material> {
    settings.validate()?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &settings.namespace);
    for _ in 0..MAX_ROUNDS {
        if let Some(material) = round(client, &secrets, settings).await? {
            return Ok(material);
        }
    }
    Err(Error::Contended(secret_ref(settings)))
}

fn secret_ref(s: &Settings) -> String {
    format!("{}/{}", s.namespace, s.secret_name)
}

/// One read-decide-write round; `None` when another writer got in first and the round must be redone.
async fn round(client: &Client, secrets: &Api<Secret>, s: &Settings) -> Result<Option<Material>> {
    let now = now();
    let what = secret_ref(s);
    let Some(mut secret) = secrets
        .get_opt(&s.secret_name)
        .await
        .map_err(kube_err(format!("reading Secret {what}")))?
    else {
        // Nothing can be serving yet, so CA and certificate are made together.
        let ca = pki::new_ca(now, now.saturating_add(secs(s.ca_validity)))?;
        let ca_not_after = pki::parse_cert(&ca.cert_pem)?.not_after;
        let leaf = pki::issue_serving(
            &ca,
            &s.dns_names(),
            now,
            plan::serving_not_after(s, ca_not_after, now),
        )?;
        let stored = Stored {
            bundle: Some(ca.cert_pem.clone()),
            signer: Some(ca),
            serving: Some(leaf),
        };
        let created = match secrets
            .create(&PostParams::default(), &new_secret(s, &stored))
            .await
        {
            Ok(c) => c,
            // Another replica created it first: adopt theirs.
            Err(kube::Error::Api(e)) if e.is_already_exists() || e.is_conflict() => {
                return Ok(None);
            }
            Err(e) => return Err(kube_err(format!("creating Secret {what}"))(e)),
        };
        info!(secret = %what, "created the webhook CA and serving certificate");
        if !publish(client, secrets, s, &stored, version(&created), now).await? {
            return Ok(None);
        }
        return Ok(Some(material(&stored, s, now)?));
    };

    let mut stored = Stored::from_data(&secret_data(&secret));
    if let Decision::Renew(why) = plan::ca_decision(&stored, s, now) {
        let ca = pki::new_ca(now, now.saturating_add(secs(s.ca_validity)))?;
        let previous: Vec<&str> = stored
            .bundle
            .as_deref()
            .into_iter()
            .chain(stored.signer.as_ref().map(|p| p.cert_pem.as_str()))
            .collect();
        let bundle = plan::bundle_after_rotation(&ca.cert_pem, &previous, now);
        stored.signer = Some(ca);
        stored.bundle = Some(bundle);
        // The serving certificate stays for now: it is replaced below, after the new bundle is published.
        let Some(updated) = replace(secrets, &secret, &stored, &what).await? else {
            return Ok(None);
        };
        info!(secret = %what, reason = why, "rotated the webhook CA; the old one stays trusted until it expires");
        secret = updated;
    }

    // Publish first: a certificate from a new CA is issued only once the API server trusts that CA.
    if !publish(client, secrets, s, &stored, version(&secret), now).await? {
        return Ok(None);
    }

    let decision = plan::cert_decision(&stored, s, now);
    if let Decision::Defer(why) = decision {
        debug!(secret = %what, reason = why, "serving certificate due; waiting until the new CA is trusted");
    }
    if let Decision::Renew(why) = decision {
        let (Some(signer), Some(info)) = (stored.signer.clone(), stored.usable_signer()) else {
            return Err(Error::Parse(format!("the CA in Secret {what} is unusable")));
        };
        stored.serving = Some(pki::issue_serving(
            &signer,
            &s.dns_names(),
            now,
            plan::serving_not_after(s, info.not_after, now),
        )?);
        if replace(secrets, &secret, &stored, &what).await?.is_none() {
            return Ok(None);
        }
        info!(secret = %what, reason = why, "issued a new webhook serving certificate");
    }
    Ok(Some(material(&stored, s, now)?))
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

fn version(secret: &Secret) -> Option<String> {
    secret.metadata.resource_version.clone()
}

fn material(stored: &Stored, s: &Settings, now: i64) -> Result<Material> {
    let Some(Pair { cert_pem, key_pem }) = stored.serving.clone() else {
        return Err(Error::Parse("no serving certificate".into()));
    };
    Ok(Material {
        cert_not_after: pki::parse_cert(&cert_pem)?.not_after,
        cert_pem,
        key_pem,
        ca_bundle_pem: plan::published_bundle(stored, now),
        next_check: plan::next_check(stored, s, now),
    })
}

fn secret_data(secret: &Secret) -> BTreeMap<String, Vec<u8>> {
    secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect()
}

fn to_bytestrings(data: BTreeMap<String, Vec<u8>>) -> BTreeMap<String, ByteString> {
    data.into_iter().map(|(k, v)| (k, ByteString(v))).collect()
}

fn new_secret(s: &Settings, stored: &Stored) -> Secret {
    let labels = [
        ("app.kubernetes.io/name", "connect-warden"),
        ("app.kubernetes.io/component", "webhook-certificates"),
        ("app.kubernetes.io/managed-by", FIELD_MANAGER),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Secret {
        metadata: ObjectMeta {
            name: Some(s.secret_name.clone()),
            namespace: Some(s.namespace.clone()),
            labels: Some(labels),
            ..Default::default()
        },
        type_: Some("kubernetes.io/tls".into()),
        data: Some(to_bytestrings(stored.to_data())),
        ..Default::default()
    }
}

/// Compare-and-swap: writes `stored` over `current` (other keys are kept) only if nobody changed the Secret
/// since it was read. `None` when someone did.
async fn replace(
    secrets: &Api<Secret>,
    current: &Secret,
    stored: &Stored,
    what: &str,
) -> Result<Option<Secret>> {
    let mut next = current.clone();
    let mut data = secret_data(current);
    data.extend(stored.to_data());
    next.data = Some(to_bytestrings(data));
    next.metadata.managed_fields = None;
    let name = current.meta().name.clone().unwrap_or_default();
    match secrets.replace(&name, &PostParams::default(), &next).await {
        Ok(updated) => Ok(Some(updated)),
        Err(kube::Error::Api(e)) if e.is_conflict() => Ok(None),
        Err(e) => Err(kube_err(format!("updating Secret {what}"))(e)),
    }
}

/// Writes the bundle into every webhook of the configured webhook configurations. A configuration that does
/// not exist (yet) is skipped with a warning: the next round retries. `false` when the Secret changed since
/// version `based_on` was read, so a replica with a stale view never overwrites a newer bundle.
async fn publish(
    client: &Client,
    secrets: &Api<Secret>,
    s: &Settings,
    stored: &Stored,
    based_on: Option<String>,
    now: i64,
) -> Result<bool> {
    let bundle = plan::published_bundle(stored, now);
    if bundle.is_empty() {
        return Err(Error::Parse("no valid CA to publish".into()));
    }
    let bundle = bundle.as_bytes();
    let mutating =
        ca_bundle_patches::<MutatingWebhookConfiguration>(client, &s.mutating_configs, bundle)
            .await?;
    let validating =
        ca_bundle_patches::<ValidatingWebhookConfiguration>(client, &s.validating_configs, bundle)
            .await?;
    if mutating.is_empty() && validating.is_empty() {
        return Ok(true);
    }
    // Changes are rare, so one more read is cheap insurance against writing a bundle from a stale Secret.
    let fresh = secrets
        .get_opt(&s.secret_name)
        .await
        .map_err(kube_err(format!("reading Secret {}", secret_ref(s))))?;
    if fresh.as_ref().and_then(version) != based_on {
        return Ok(false);
    }
    write_ca_bundles::<MutatingWebhookConfiguration>(client, mutating).await?;
    write_ca_bundles::<ValidatingWebhookConfiguration>(client, validating).await?;
    Ok(true)
}

/// A kind of webhook configuration, whose webhooks each carry a `caBundle`.
trait WebhookConfiguration:
    Resource<DynamicType = ()> + Clone + std::fmt::Debug + DeserializeOwned
{
    /// (name, caBundle) of each webhook.
    fn ca_bundles(self) -> Vec<(String, Option<Vec<u8>>)>;
}

// Both kinds hold their webhooks the same way, in types of their own.
macro_rules! webhook_configuration {
    ($($kind:ty),*) => {$(
        impl WebhookConfiguration for $kind {
            fn ca_bundles(self) -> Vec<(String, Option<Vec<u8>>)> {
                let hooks = self.webhooks.unwrap_or_default().into_iter();
                hooks
                    .map(|w| (w.name, w.client_config.ca_bundle.map(|b| b.0)))
                    .collect()
            }
        }
    )*};
}
webhook_configuration!(MutatingWebhookConfiguration, ValidatingWebhookConfiguration);

/// A `caBundle` patch for one webhook configuration: (its name, "<Kind> <name>", the patch).
type CaBundlePatch = (String, String, serde_json::Value);

/// The patches the configurations `names` of kind `K` need to carry `bundle`. A configuration that does
/// not exist (yet) is skipped with a warning: the next round retries.
async fn ca_bundle_patches<K: WebhookConfiguration>(
    client: &Client,
    names: &[String],
    bundle: &[u8],
) -> Result<Vec<CaBundlePatch>> {
    let api: Api<K> = Api::all(client.clone());
    let mut patches = Vec::new();
    for name in names {
        let what = format!("{} {name}", K::kind(&()));
        let Some(cfg) = api
            .get_opt(name)
            .await
            .map_err(kube_err(format!("reading {what}")))?
        else {
            warn!(config = %what, "webhook configuration not found; caBundle not written yet");
            continue;
        };
        if let Some(p) = plan::ca_bundle_patch(&cfg.ca_bundles(), bundle) {
            patches.push((name.clone(), what, p));
        }
    }
    Ok(patches)
}

async fn write_ca_bundles<K: WebhookConfiguration>(
    client: &Client,
    patches: Vec<CaBundlePatch>,
) -> Result<()> {
    let api: Api<K> = Api::all(client.clone());
    let pp = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    for (name, what, patch) in patches {
        api.patch(&name, &pp, &Patch::Strategic(patch))
            .await
            .map_err(kube_err(format!("writing caBundle into {what}")))?;
        info!(config = %what, "wrote caBundle");
    }
    Ok(())
}

/// Runs [`ensure`] now and then again whenever a renewal is due (at least every `check_interval`), calling
/// `on_change` with the material whenever the files it describes change (also the first time). Errors are
/// logged and retried with backoff; returns when `shutdown` completes.
pub async fn run_rotation_loop<F, S>(
    client: Client,
    settings: Settings,
    mut on_change: F,
    shutdown: S,
) -> Result<()>
where
    F: FnMut(&Material) -> Result<()>,
    S: Future<Output = ()>,
{
    settings.validate()?;
    tokio::pin!(shutdown);
    let mut last: Option<Material> = None;
    let mut failures: u32 = 0;
    loop {
        let wait = match ensure(&client, &settings).await {
            Ok(m) => {
                let changed = last.as_ref().is_none_or(|l| !l.same_files(&m));
                let delivered = if changed { on_change(&m) } else { Ok(()) };
                match delivered {
                    Ok(()) => {
                        failures = 0;
                        let wait = m.next_check;
                        last = Some(m);
                        wait
                    }
                    Err(e) => {
                        failures = failures.saturating_add(1);
                        warn!(error = %e, reason = e.reason(), "could not hand over the new certificate; retrying");
                        backoff(failures, settings.check_interval)
                    }
                }
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                warn!(error = %e, reason = e.reason(), "certificate check failed; retrying");
                backoff(failures, settings.check_interval)
            }
        };
        tokio::select! {
            _ = &mut shutdown => return Ok(()),
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// 1 s, 2 s, 4 s … capped at `max`, and at 1024 s however rare the checks are.
fn backoff(failures: u32, max: Duration) -> Duration {
    shared::backoff::exponential(
        Duration::from_secs(1),
        failures,
        max.min(Duration::from_secs(1024)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let max = Duration::from_secs(30);
        let got: Vec<u64> = (1..=7).map(|f| backoff(f, max).as_secs()).collect();
        assert_eq!(got, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(backoff(u32::MAX, max), max);
    }

    #[test]
    fn new_secret_is_a_tls_secret_with_all_keys() {
        let s = Settings::new("cw", "hook-tls", "hook");
        let ca = pki::new_ca(1_800_000_000, 1_800_001_000).unwrap();
        let leaf = pki::issue_serving(&ca, &s.dns_names(), 1_800_000_000, 1_800_000_100).unwrap();
        let stored = Stored {
            bundle: Some(ca.cert_pem.clone()),
            signer: Some(ca),
            serving: Some(leaf),
        };
        let secret = new_secret(&s, &stored);
        assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
        let keys: Vec<_> = secret.data.unwrap().into_keys().collect();
        assert_eq!(
            keys,
            [
                "ca-signer.crt",
                "ca-signer.key",
                "ca.crt",
                "tls.crt",
                "tls.key"
            ]
        );
        let m = material(&stored, &s, 1_800_000_000).unwrap();
        assert!(!format!("{m:?}").contains("PRIVATE KEY"));
        assert_eq!(m.cert_not_after, 1_800_000_100);
    }
}
