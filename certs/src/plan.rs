//! The decisions, as pure functions of the Secret's contents, the settings and the time (Unix seconds).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::Settings;
use crate::pki::{self, CertInfo, Pair};

/// Secret keys. `tls.crt`/`tls.key` make it a valid `kubernetes.io/tls` Secret that could be mounted too.
pub const KEY_CERT: &str = "tls.crt";
pub const KEY_KEY: &str = "tls.key";
/// The CAs to trust (newest first): what goes into `caBundle`.
pub const KEY_BUNDLE: &str = "ca.crt";
/// The CA that signs serving certificates, and its key.
pub const KEY_SIGNER_CERT: &str = "ca-signer.crt";
pub const KEY_SIGNER_KEY: &str = "ca-signer.key";

/// At most this many CAs in a bundle; more would only mean repeated rotations within one CA lifetime.
pub const MAX_BUNDLE: usize = 4;
/// A certificate dated further in the future than this is treated as broken (a clock jump).
const FUTURE_TOLERANCE_SECS: i64 = 600;

/// The Secret's contents; a missing or non-UTF-8 key is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    pub signer: Option<Pair>,
    pub bundle: Option<String>,
    pub serving: Option<Pair>,
}

impl Stored {
    pub fn from_data(data: &BTreeMap<String, Vec<u8>>) -> Stored {
        let text = |k: &str| {
            data.get(k)
                .and_then(|v| String::from_utf8(v.clone()).ok())
                .filter(|s| !s.trim().is_empty())
        };
        let pair = |c: &str, k: &str| match (text(c), text(k)) {
            (Some(cert_pem), Some(key_pem)) => Some(Pair { cert_pem, key_pem }),
            _ => None,
        };
        Stored {
            signer: pair(KEY_SIGNER_CERT, KEY_SIGNER_KEY),
            bundle: text(KEY_BUNDLE),
            serving: pair(KEY_CERT, KEY_KEY),
        }
    }

    pub fn to_data(&self) -> BTreeMap<String, Vec<u8>> {
        let mut d = BTreeMap::new();
        if let Some(p) = &self.signer {
            d.insert(KEY_SIGNER_CERT.into(), p.cert_pem.clone().into_bytes());
            d.insert(KEY_SIGNER_KEY.into(), p.key_pem.clone().into_bytes());
        }
        if let Some(b) = &self.bundle {
            d.insert(KEY_BUNDLE.into(), b.clone().into_bytes());
        }
        if let Some(p) = &self.serving {
            d.insert(KEY_CERT.into(), p.cert_pem.clone().into_bytes());
            d.insert(KEY_KEY.into(), p.key_pem.clone().into_bytes());
        }
        d
    }

    /// The signing CA, when it is present, parses, is a CA and matches its key.
    pub fn usable_signer(&self) -> Option<CertInfo> {
        let s = self.signer.as_ref()?;
        let info = pki::parse_cert(&s.cert_pem).ok()?;
        (info.is_ca && pki::key_matches(&info, &s.key_pem)).then_some(info)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Keep,
    /// Replace it; the text says why (for the log).
    Renew(&'static str),
    /// Due for that reason, but the CA is too new for every API server to trust it yet, and the current
    /// certificate is still good: keep it a little longer.
    Defer(&'static str),
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Does the signing CA need replacing?
pub fn ca_decision(stored: &Stored, settings: &Settings, now: i64) -> Decision {
    let Some(signer) = &stored.signer else {
        return Decision::Renew("no CA yet");
    };
    let Ok(info) = pki::parse_cert(&signer.cert_pem) else {
        return Decision::Renew("the CA certificate does not parse");
    };
    if !info.is_ca {
        return Decision::Renew("the CA certificate is not a CA");
    }
    if !pki::key_matches(&info, &signer.key_pem) {
        return Decision::Renew("the CA key does not match its certificate");
    }
    if info.not_before > now + FUTURE_TOLERANCE_SECS {
        return Decision::Renew("the CA is not valid yet");
    }
    if info.not_after.saturating_sub(now) <= secs(settings.ca_renew_before) {
        return Decision::Renew("the CA expires soon");
    }
    Decision::Keep
}

/// Does the serving certificate need (re-)issuing by the current signer? Meaningful once the signer is
/// usable.
pub fn cert_decision(stored: &Stored, settings: &Settings, now: i64) -> Decision {
    let Some(signer) = stored.usable_signer() else {
        return Decision::Renew("no usable CA");
    };
    let Some(serving) = &stored.serving else {
        return Decision::Renew("no serving certificate yet");
    };
    let Ok(info) = pki::parse_cert(&serving.cert_pem) else {
        return Decision::Renew("the serving certificate does not parse");
    };
    if !pki::key_matches(&info, &serving.key_pem) {
        return Decision::Renew("the serving key does not match its certificate");
    }
    let wanted: std::collections::BTreeSet<String> = settings
        .dns_names()
        .iter()
        .map(|n| n.to_ascii_lowercase())
        .collect();
    let why = if !pki::signed_by(&info, &signer) {
        "the serving certificate is not from the current CA"
    } else if info.sans != wanted {
        "the names to serve changed"
    } else if info.not_before > now + FUTURE_TOLERANCE_SECS {
        "the serving certificate is not valid yet"
    } else if info.not_after.saturating_sub(now) <= secs(settings.cert_renew_before) {
        "the serving certificate expires soon"
    } else {
        return Decision::Keep;
    };
    // The new bundle was written before this CA signs anything, but API servers pick it up asynchronously;
    // a certificate still valid and trusted is the safer thing to serve until they have.
    let usable_now = info.not_before <= now + FUTURE_TOLERANCE_SECS && info.not_after > now;
    if usable_now
        && now
            < signer
                .created()
                .saturating_add(secs(settings.trust_delay()))
        && trusted_by_bundle(&info, stored, now)
    {
        return Decision::Defer(why);
    }
    Decision::Renew(why)
}

/// Whether a CA in the published bundle signed `cert`.
fn trusted_by_bundle(cert: &CertInfo, stored: &Stored, now: i64) -> bool {
    pki::parse_bundle(&published_bundle(stored, now))
        .iter()
        .any(|(_, ca)| pki::signed_by(cert, ca))
}

/// When a new serving certificate ends: its validity, but never after its CA.
pub fn serving_not_after(settings: &Settings, signer_not_after: i64, now: i64) -> i64 {
    now.saturating_add(secs(settings.cert_validity))
        .min(signer_not_after)
}

/// The bundle after rotating to `new_ca_pem`: the new CA first, then every CA from `previous` (old bundle,
/// old signer) that has not expired, without duplicates, at most [`MAX_BUNDLE`]. The old CAs stay so that
/// certificates they signed, still served by replicas that have not reloaded yet, keep being trusted.
pub fn bundle_after_rotation(new_ca_pem: &str, previous: &[&str], now: i64) -> String {
    let mut texts = vec![new_ca_pem];
    texts.extend_from_slice(previous);
    join_valid(&texts, now)
}

/// The `caBundle` to publish: the signer first, then the stored bundle, expired CAs dropped. Includes the
/// signer even if someone edited it out of the bundle, so its certificates are always trusted.
pub fn published_bundle(stored: &Stored, now: i64) -> String {
    let signer = stored.signer.as_ref().map(|p| p.cert_pem.as_str());
    let texts: Vec<&str> = signer.into_iter().chain(stored.bundle.as_deref()).collect();
    join_valid(&texts, now)
}

fn join_valid(texts: &[&str], now: i64) -> String {
    let mut seen: Vec<Vec<u8>> = Vec::new();
    let mut out = String::new();
    for text in texts {
        for (pem, info) in pki::parse_bundle(text) {
            if !info.is_ca || info.not_after <= now || seen.contains(&info.der) {
                continue;
            }
            if seen.len() == MAX_BUNDLE {
                return out;
            }
            seen.push(info.der);
            out.push_str(&pem);
        }
    }
    out
}

/// A strategic-merge patch that sets `caBundle` (PEM `bundle`) on every webhook whose current value
/// differs, or `None` when all are current. `webhooks` are (name, current caBundle) pairs of one
/// configuration.
pub fn ca_bundle_patch(
    webhooks: &[(String, Option<Vec<u8>>)],
    bundle: &[u8],
) -> Option<serde_json::Value> {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(bundle);
    let changes: Vec<serde_json::Value> = webhooks
        .iter()
        .filter(|(_, current)| current.as_deref() != Some(bundle))
        .map(|(name, _)| serde_json::json!({"name": name, "clientConfig": {"caBundle": encoded}}))
        .collect();
    (!changes.is_empty()).then(|| serde_json::json!({ "webhooks": changes }))
}

/// How long the rotation loop may sleep: until the first renewal is due, at most `check_interval`, at least
/// one second.
pub fn next_check(stored: &Stored, settings: &Settings, now: i64) -> Duration {
    let mut due = now.saturating_add(secs(settings.check_interval));
    let signer = stored.usable_signer();
    if let Some(s) = &signer {
        due = due.min(s.not_after.saturating_sub(secs(settings.ca_renew_before)));
    }
    if let Some(info) = stored
        .serving
        .as_ref()
        .and_then(|p| pki::parse_cert(&p.cert_pem).ok())
    {
        due = due.min(
            info.not_after
                .saturating_sub(secs(settings.cert_renew_before)),
        );
        // A certificate from an older CA is replaced once the trust delay has passed.
        if let Some(s) = signer.as_ref().filter(|s| !pki::signed_by(&info, s)) {
            due = due.min(s.created().saturating_add(secs(settings.trust_delay())));
        }
    }
    // One second past the boundary, so the decision made then sees "due" rather than "almost".
    let wait = due.saturating_sub(now).saturating_add(1).max(1);
    Duration::from_secs(u64::try_from(wait).unwrap_or(1)).min(settings.check_interval)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{issue_serving, new_ca, parse_bundle};

    const NOW: i64 = 1_800_000_000;

    fn settings() -> Settings {
        let mut s = Settings::new("cw", "tls", "hook");
        s.extra_sans = vec!["127.0.0.1".into()];
        s.ca_validity = Duration::from_secs(1000);
        s.ca_renew_before = Duration::from_secs(400);
        s.cert_validity = Duration::from_secs(100);
        s.cert_renew_before = Duration::from_secs(40);
        s.check_interval = Duration::from_secs(10);
        s.validate().unwrap();
        s
    }

    /// A complete, healthy Secret issued at `at`.
    fn healthy(s: &Settings, at: i64) -> Stored {
        let ca = new_ca(at, at + 1000).unwrap();
        let leaf = issue_serving(&ca, &s.dns_names(), at, at + 100).unwrap();
        Stored {
            bundle: Some(ca.cert_pem.clone()),
            signer: Some(ca),
            serving: Some(leaf),
        }
    }

    #[test]
    fn empty_secret_needs_everything() {
        let s = settings();
        let empty = Stored::default();
        assert_eq!(ca_decision(&empty, &s, NOW), Decision::Renew("no CA yet"));
        assert_eq!(
            cert_decision(&empty, &s, NOW),
            Decision::Renew("no usable CA")
        );
        assert_eq!(published_bundle(&empty, NOW), "");
    }

    #[test]
    fn healthy_secret_is_kept_until_the_renewal_windows() {
        let s = settings();
        let st = healthy(&s, NOW);
        assert_eq!(ca_decision(&st, &s, NOW), Decision::Keep);
        assert_eq!(cert_decision(&st, &s, NOW), Decision::Keep);
        // Serving certificate: 100 s, renewed with 40 s left.
        assert_eq!(cert_decision(&st, &s, NOW + 59), Decision::Keep);
        assert_eq!(
            cert_decision(&st, &s, NOW + 60),
            Decision::Renew("the serving certificate expires soon")
        );
        // CA: 1000 s, rotated with 400 s left.
        assert_eq!(ca_decision(&st, &s, NOW + 599), Decision::Keep);
        assert_eq!(
            ca_decision(&st, &s, NOW + 600),
            Decision::Renew("the CA expires soon")
        );
    }

    #[test]
    fn data_round_trip_and_damage() {
        let s = settings();
        let st = healthy(&s, NOW);
        assert_eq!(Stored::from_data(&st.to_data()), st);

        let mut data = st.to_data();
        data.insert(
            KEY_KEY.into(),
            healthy(&s, NOW).serving.unwrap().key_pem.into_bytes(),
        );
        assert_eq!(
            cert_decision(&Stored::from_data(&data), &s, NOW),
            Decision::Renew("the serving key does not match its certificate")
        );

        let mut data = st.to_data();
        data.insert(KEY_SIGNER_CERT.into(), vec![0xff, 0xfe]);
        let damaged = Stored::from_data(&data);
        assert_eq!(damaged.signer, None);
        assert_eq!(ca_decision(&damaged, &s, NOW), Decision::Renew("no CA yet"));

        let mut data = st.to_data();
        data.insert(
            KEY_SIGNER_CERT.into(),
            b"-----BEGIN CERTIFICATE-----\nxx\n".to_vec(),
        );
        assert_eq!(
            ca_decision(&Stored::from_data(&data), &s, NOW),
            Decision::Renew("the CA certificate does not parse")
        );

        let mut data = st.to_data();
        data.remove(KEY_CERT);
        assert_eq!(
            cert_decision(&Stored::from_data(&data), &s, NOW),
            Decision::Renew("no serving certificate yet")
        );
    }

    #[test]
    fn a_serving_certificate_used_as_ca_is_refused() {
        let s = settings();
        let st = healthy(&s, NOW);
        let wrong = Stored {
            signer: st.serving.clone(),
            ..st
        };
        assert_eq!(
            ca_decision(&wrong, &s, NOW),
            Decision::Renew("the CA certificate is not a CA")
        );
    }

    #[test]
    fn certificate_from_another_ca_or_for_other_names_is_reissued() {
        let s = settings();
        let st = healthy(&s, NOW);
        let other = healthy(&s, NOW);
        let mixed = Stored {
            serving: other.serving,
            ..st.clone()
        };
        assert_eq!(
            cert_decision(&mixed, &s, NOW),
            Decision::Renew("the serving certificate is not from the current CA")
        );
        let mut renamed = s.clone();
        renamed.service_name = "other".into();
        // Once the CA is older than the trust delay (20 s); before, the change waits.
        assert_eq!(
            cert_decision(&st, &renamed, NOW + 5),
            Decision::Defer("the names to serve changed")
        );
        assert_eq!(
            cert_decision(&st, &renamed, NOW + 30),
            Decision::Renew("the names to serve changed")
        );
    }

    #[test]
    fn certificate_dated_in_the_future_is_reissued() {
        let s = settings();
        let future = healthy(&s, NOW + 5000);
        assert_eq!(
            ca_decision(&future, &s, NOW),
            Decision::Renew("the CA is not valid yet")
        );
    }

    #[test]
    fn after_a_ca_rotation_the_old_certificate_is_kept_until_the_new_ca_is_trusted() {
        let s = settings(); // trust delay: min(60 s, 40 s / 2) = 20 s
        let mut st = healthy(&s, NOW);
        let rotated_at = NOW + 600;
        let ca2 = new_ca(rotated_at, rotated_at + 1000).unwrap();
        let old_signer = st.signer.take().unwrap();
        st.bundle = Some(bundle_after_rotation(
            &ca2.cert_pem,
            &[&old_signer.cert_pem],
            rotated_at,
        ));
        st.signer = Some(ca2);
        // Re-issue the old certificate so it is still valid at the rotation.
        st.serving =
            Some(issue_serving(&old_signer, &s.dns_names(), NOW + 590, NOW + 690).unwrap());
        let why = "the serving certificate is not from the current CA";
        assert_eq!(cert_decision(&st, &s, rotated_at), Decision::Defer(why));
        assert_eq!(
            cert_decision(&st, &s, rotated_at + 19),
            Decision::Defer(why)
        );
        assert_eq!(
            cert_decision(&st, &s, rotated_at + 20),
            Decision::Renew(why)
        );
        // The loop wakes up when the delay is over.
        assert_eq!(next_check(&st, &s, rotated_at + 15), Duration::from_secs(6));
        // An expired certificate is replaced at once.
        assert_eq!(cert_decision(&st, &s, NOW + 690), Decision::Renew(why));
        // So is one no CA in the bundle signed.
        let stranger = new_ca(NOW, NOW + 1000).unwrap();
        st.serving = Some(issue_serving(&stranger, &s.dns_names(), NOW + 590, NOW + 690).unwrap());
        assert_eq!(cert_decision(&st, &s, rotated_at), Decision::Renew(why));
    }

    #[test]
    fn serving_certificate_never_outlives_its_ca() {
        let s = settings();
        assert_eq!(serving_not_after(&s, NOW + 1000, NOW), NOW + 100);
        assert_eq!(serving_not_after(&s, NOW + 50, NOW), NOW + 50);
    }

    #[test]
    fn rotation_keeps_old_cas_until_they_expire() {
        let a = new_ca(NOW, NOW + 100).unwrap();
        let b = new_ca(NOW, NOW + 200).unwrap();
        let c = new_ca(NOW, NOW + 300).unwrap();
        let ab = bundle_after_rotation(&b.cert_pem, &[&a.cert_pem, &a.cert_pem], NOW);
        let parsed = parse_bundle(&ab);
        assert_eq!(parsed.len(), 2, "old CA kept once");
        assert_eq!(parsed[0].1.not_after, NOW + 200, "new CA first");
        // Later, `a` has expired and drops out.
        let cb = bundle_after_rotation(&c.cert_pem, &[&ab], NOW + 150);
        let parsed = parse_bundle(&cb);
        assert_eq!(
            parsed.iter().map(|p| p.1.not_after).collect::<Vec<_>>(),
            [NOW + 300, NOW + 200]
        );
    }

    #[test]
    fn bundle_is_capped_and_skips_non_cas() {
        let cas: Vec<Pair> = (0..6)
            .map(|i| new_ca(NOW, NOW + 100 + i).unwrap())
            .collect();
        let leaf = issue_serving(&cas[0], &["x".into()], NOW, NOW + 50).unwrap();
        let mut texts: Vec<&str> = vec![&leaf.cert_pem];
        texts.extend(cas.iter().map(|c| c.cert_pem.as_str()));
        let joined = bundle_after_rotation(&cas[5].cert_pem, &texts, NOW);
        let parsed = parse_bundle(&joined);
        assert_eq!(parsed.len(), MAX_BUNDLE);
        assert!(parsed.iter().all(|p| p.1.is_ca));
    }

    #[test]
    fn published_bundle_always_contains_the_signer() {
        let s = settings();
        let mut st = healthy(&s, NOW);
        let old = new_ca(NOW, NOW + 50).unwrap();
        st.bundle = Some(old.cert_pem.clone());
        let parsed = parse_bundle(&published_bundle(&st, NOW));
        assert_eq!(parsed.len(), 2);
        assert_eq!(
            parsed[0].0,
            parse_bundle(&st.signer.as_ref().unwrap().cert_pem)[0].0
        );
        // Once `old` has expired it is no longer published.
        assert_eq!(parse_bundle(&published_bundle(&st, NOW + 60)).len(), 1);
    }

    #[test]
    fn patch_only_what_differs() {
        let bundle = b"PEM".to_vec();
        let hooks = vec![
            ("a.connectwarden.io".to_string(), Some(bundle.clone())),
            ("b.connectwarden.io".to_string(), None),
            ("c.connectwarden.io".to_string(), Some(b"OLD".to_vec())),
        ];
        let patch = ca_bundle_patch(&hooks, &bundle).unwrap();
        assert_eq!(
            patch,
            serde_json::json!({"webhooks": [
                {"name": "b.connectwarden.io", "clientConfig": {"caBundle": "UEVN"}},
                {"name": "c.connectwarden.io", "clientConfig": {"caBundle": "UEVN"}},
            ]})
        );
        assert_eq!(ca_bundle_patch(&hooks[..1], &bundle), None);
        assert_eq!(ca_bundle_patch(&[], &bundle), None);
    }

    #[test]
    fn next_check_wakes_up_for_the_first_renewal() {
        let s = settings();
        let st = healthy(&s, NOW);
        // Nothing due for 60 s: the check interval (10 s) bounds the sleep.
        assert_eq!(next_check(&st, &s, NOW), Duration::from_secs(10));
        // Serving renewal due at NOW+60.
        assert_eq!(next_check(&st, &s, NOW + 55), Duration::from_secs(6));
        // Overdue: wake soon, never busy-loop.
        assert_eq!(next_check(&st, &s, NOW + 90), Duration::from_secs(1));
        assert_eq!(
            next_check(&Stored::default(), &s, NOW),
            Duration::from_secs(10)
        );
    }
}
