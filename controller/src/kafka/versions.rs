//! The APIs this client sends, the versions it speaks, and the choice per connection: the highest version
//! both this client and the broker (from its ApiVersions answer) speak.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, FetchRequest, FetchResponse,
    FindCoordinatorRequest, FindCoordinatorResponse, ListOffsetsRequest, ListOffsetsResponse,
    MetadataRequest, MetadataResponse, OffsetFetchRequest, OffsetFetchResponse,
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Message, VersionRange};

use super::error::KafkaError;

/// OffsetFetch carries several groups from this version on.
pub(crate) const OFFSET_FETCH_GROUPS: i16 = 8;
/// FindCoordinator carries several keys from this version on.
pub(crate) const FIND_COORDINATOR_KEYS: i16 = 4;
/// Fetch names topics by id from this version on.
pub(crate) const FETCH_TOPIC_IDS: i16 = 13;

/// The Kafka APIs this client sends.
#[allow(
    clippy::enum_variant_names,
    reason = "the variants are Kafka's names of the APIs"
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Api {
    ApiVersions,
    SaslHandshake,
    SaslAuthenticate,
    Metadata,
    FindCoordinator,
    OffsetFetch,
    ListOffsets,
    Fetch,
}

impl Api {
    pub(crate) const ALL: [Api; 8] = [
        Api::ApiVersions,
        Api::SaslHandshake,
        Api::SaslAuthenticate,
        Api::Metadata,
        Api::FindCoordinator,
        Api::OffsetFetch,
        Api::ListOffsets,
        Api::Fetch,
    ];

    pub(crate) fn key(self) -> ApiKey {
        match self {
            Api::ApiVersions => ApiKey::ApiVersions,
            Api::SaslHandshake => ApiKey::SaslHandshake,
            Api::SaslAuthenticate => ApiKey::SaslAuthenticate,
            Api::Metadata => ApiKey::Metadata,
            Api::FindCoordinator => ApiKey::FindCoordinator,
            Api::OffsetFetch => ApiKey::OffsetFetch,
            Api::ListOffsets => ApiKey::ListOffsets,
            Api::Fetch => ApiKey::Fetch,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Api::ApiVersions => "ApiVersions",
            Api::SaslHandshake => "SaslHandshake",
            Api::SaslAuthenticate => "SaslAuthenticate",
            Api::Metadata => "Metadata",
            Api::FindCoordinator => "FindCoordinator",
            Api::OffsetFetch => "OffsetFetch",
            Api::ListOffsets => "ListOffsets",
            Api::Fetch => "Fetch",
        }
    }

    /// The versions this client speaks: from the first that means what it needs, up to the newest tested
    /// against a real broker (Kafka 4.3), within what `kafka_protocol` encodes.
    pub(crate) fn ours(self) -> VersionRange {
        let (needed, tested, codec) = match self {
            Api::ApiVersions => (0, 3, ApiVersionsRequest::VERSIONS),
            // v0 sends SASL tokens raw after the handshake; only framed SaslAuthenticate is spoken here.
            Api::SaslHandshake => (1, 1, SaslHandshakeRequest::VERSIONS),
            Api::SaslAuthenticate => (0, 2, SaslAuthenticateRequest::VERSIONS),
            // From v4 a read can ask not to create the topics it names (before, the broker's
            // `auto.create.topics.enable` decides): reading lag must never create a topic.
            Api::Metadata => (4, 13, MetadataRequest::VERSIONS),
            Api::FindCoordinator => (1, 6, FindCoordinatorRequest::VERSIONS),
            // From v2 a null topic list means all of the group's partitions.
            Api::OffsetFetch => (2, 9, OffsetFetchRequest::VERSIONS),
            Api::ListOffsets => (1, 10, ListOffsetsRequest::VERSIONS),
            // From v5 the answer carries the log-start offset.
            Api::Fetch => (5, 18, FetchRequest::VERSIONS),
        };
        VersionRange {
            min: needed,
            max: tested,
        }
        .intersect(&codec)
    }
}

/// A request this client sends, paired with its API and its response (`kafka_protocol` pairs them only
/// with its broker feature).
pub(crate) trait Call: Encodable + HeaderVersion {
    const API: Api;
    type Response: Decodable + HeaderVersion;
}

macro_rules! calls {
    ($($api:ident: $request:ty => $response:ty;)*) => {
        $(impl Call for $request {
            const API: Api = Api::$api;
            type Response = $response;
        })*
    };
}

calls! {
    ApiVersions: ApiVersionsRequest => ApiVersionsResponse;
    SaslHandshake: SaslHandshakeRequest => SaslHandshakeResponse;
    SaslAuthenticate: SaslAuthenticateRequest => SaslAuthenticateResponse;
    Metadata: MetadataRequest => MetadataResponse;
    FindCoordinator: FindCoordinatorRequest => FindCoordinatorResponse;
    OffsetFetch: OffsetFetchRequest => OffsetFetchResponse;
    ListOffsets: ListOffsetsRequest => ListOffsetsResponse;
    Fetch: FetchRequest => FetchResponse;
}

/// Requests sent, by API.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    by_api: [AtomicU64; Api::ALL.len()],
}

impl Counts {
    pub(crate) fn add(&self, api: Api) {
        if let Some(c) = self.by_api.get(api as usize) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn get(&self, api: Api) -> u64 {
        self.by_api
            .get(api as usize)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }
}

/// The version ranges one broker offers, from its ApiVersions answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Versions {
    broker: String,
    offered: BTreeMap<i16, (i16, i16)>,
}

impl Versions {
    /// Before ApiVersions is answered: only ApiVersions itself may be sent.
    pub(crate) fn unknown(broker: &str) -> Versions {
        Versions {
            broker: broker.to_string(),
            offered: BTreeMap::new(),
        }
    }

    pub(crate) fn from_response(broker: &str, response: &ApiVersionsResponse) -> Versions {
        Versions {
            broker: broker.to_string(),
            offered: response
                .api_keys
                .iter()
                .map(|k| (k.api_key, (k.min_version, k.max_version)))
                .collect(),
        }
    }

    #[cfg(test)]
    pub(crate) fn with(broker: &str, offered: &[(Api, i16, i16)]) -> Versions {
        Versions {
            broker: broker.to_string(),
            offered: offered
                .iter()
                .map(|&(api, min, max)| (api.key() as i16, (min, max)))
                .collect(),
        }
    }

    /// Lowers what the broker offers to at most `limits`: an older broker, for tests of the paths this
    /// client takes with one.
    pub(crate) fn limit(&mut self, limits: &[(Api, i16)]) {
        for (api, max) in limits {
            if let Some(range) = self.offered.get_mut(&(api.key() as i16)) {
                range.1 = range.1.min(*max);
            }
        }
    }

    pub(crate) fn offered(&self, api: Api) -> Option<(i16, i16)> {
        self.offered.get(&(api.key() as i16)).copied()
    }

    /// The version to send `api` with: the highest the broker and this client share, or an error that says
    /// what each side speaks.
    pub(crate) fn require(&self, api: Api) -> Result<i16, KafkaError> {
        self.require_at_most(api, i16::MAX)
    }

    /// [`Versions::require`], from the versions this client speaks up to `max` only.
    pub(crate) fn require_at_most(&self, api: Api, max: i16) -> Result<i16, KafkaError> {
        let ours = api.ours();
        let ours = VersionRange {
            min: ours.min,
            max: ours.max.min(max),
        };
        pick(ours, self.offered(api)).ok_or_else(|| KafkaError::Unsupported {
            broker: self.broker.clone(),
            api: api.name(),
            needed: format!("v{} to v{}", ours.min, ours.max),
            offered: match self.offered(api) {
                Some((min, max)) => format!("v{min} to v{max}"),
                None => "no version of it".into(),
            },
        })
    }
}

/// The highest version in both ranges.
pub(crate) fn pick(ours: VersionRange, theirs: Option<(i16, i16)>) -> Option<i16> {
    let (min, max) = theirs?;
    let both = ours.intersect(&VersionRange { min, max });
    (!both.is_empty()).then_some(both.max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_shared_version_is_picked() {
        let ours = VersionRange { min: 2, max: 9 };
        assert_eq!(pick(ours, Some((0, 12))), Some(9));
        assert_eq!(pick(ours, Some((1, 7))), Some(7));
        assert_eq!(pick(ours, Some((9, 9))), Some(9));
        // Nothing shared, or not offered at all.
        assert_eq!(pick(ours, Some((0, 1))), None);
        assert_eq!(pick(ours, Some((10, 12))), None);
        assert_eq!(pick(ours, None), None);
    }

    #[test]
    fn our_ranges_sit_inside_what_the_codec_encodes() {
        for api in Api::ALL {
            let ours = api.ours();
            assert!(!ours.is_empty(), "{api:?}");
            let codec = api.key().valid_versions();
            assert!(
                ours.min >= codec.min && ours.max <= codec.max,
                "{api:?}: {ours} not in {codec}"
            );
        }
        assert!(Api::OffsetFetch.ours().max >= OFFSET_FETCH_GROUPS);
        assert!(Api::FindCoordinator.ours().max >= FIND_COORDINATOR_KEYS);
    }

    #[test]
    fn a_broker_without_the_version_we_need_is_named_with_both_ranges() {
        let v = Versions::with("old:9092", &[(Api::OffsetFetch, 0, 1)]);
        assert_eq!(
            v.require(Api::OffsetFetch).unwrap_err().to_string(),
            "broker old:9092 does not support OffsetFetch v2 to v9 (it offers v0 to v1)"
        );
        assert_eq!(
            v.require(Api::ListOffsets).unwrap_err().to_string(),
            "broker old:9092 does not support ListOffsets v1 to v10 (it offers no version of it)"
        );
        let mut v = Versions::with("k:9092", &[(Api::OffsetFetch, 1, 10)]);
        assert_eq!(v.require(Api::OffsetFetch).ok(), Some(9));
        v.limit(&[(Api::OffsetFetch, 7), (Api::Metadata, 1)]);
        assert_eq!(v.require(Api::OffsetFetch).ok(), Some(7));
        assert_eq!(v.offered(Api::Metadata), None);
    }
}
