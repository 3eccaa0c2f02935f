//! The layout of each response this client reads, walked before `kafka_protocol` decodes it: every length
//! must fit in the bytes that follow it. The crate reserves room for all the elements an array announces
//! before it reads the first, so a few bytes announcing four billion elements would abort the process on a
//! failed allocation instead of failing the decode. The walk allocates nothing; once it passes, every
//! array the crate allocates for is backed by real elements in a response already capped in size.
//!
//! The layouts follow the crate's decoders field by field (same versions, same flexible-version switch);
//! known tagged fields are read in place, as the crate reads them.

use super::versions::Api;

#[derive(Clone, Copy)]
enum Ty {
    I16,
    I32,
    I64,
    Bool,
    Uuid,
    /// A string, nullable or not (the same bytes).
    Str,
    Bytes,
    /// An array of INT32.
    Ints,
    /// An array of strings.
    Strs,
    /// An array of structs.
    List(&'static [Field]),
    /// An array of structs whose tagged fields include ones the crate decodes in place, by tag.
    TaggedList(&'static [Field], &'static [(u32, Ty)]),
    /// One struct (a tagged field's value): its fields, then its own tagged fields.
    Struct(&'static [Field]),
}

#[derive(Clone, Copy)]
struct Field {
    ty: Ty,
    from: i16,
    to: i16,
}

const fn all(ty: Ty) -> Field {
    Field {
        ty,
        from: 0,
        to: i16::MAX,
    }
}

const fn since(from: i16, ty: Ty) -> Field {
    Field {
        ty,
        from,
        to: i16::MAX,
    }
}

const fn until(to: i16, ty: Ty) -> Field {
    Field { ty, from: 0, to }
}

const fn between(from: i16, to: i16, ty: Ty) -> Field {
    Field { ty, from, to }
}

struct Layout {
    /// From this version on: compact lengths, and tagged fields after every struct.
    flexible_from: i16,
    fields: &'static [Field],
    /// Tagged fields of the top level that the crate decodes in place, by tag.
    known_tags: &'static [(u32, Ty)],
}

use Ty::*;

const API_VERSION: &[Field] = &[all(I16), all(I16), all(I16)];
const FEATURE: &[Field] = &[all(Str), all(I16), all(I16)];
const API_VERSIONS: Layout = Layout {
    flexible_from: 3,
    fields: &[all(I16), all(List(API_VERSION)), since(1, I32)],
    known_tags: &[(0, List(FEATURE)), (1, I64), (2, List(FEATURE)), (3, Bool)],
};

const BROKER: &[Field] = &[all(I32), all(Str), all(I32), since(1, Str)];
const PARTITION: &[Field] = &[
    all(I16),
    all(I32),
    all(I32),
    since(7, I32),
    all(Ints),
    all(Ints),
    since(5, Ints),
];
const TOPIC: &[Field] = &[
    all(I16),
    all(Str),
    since(10, Uuid),
    since(1, Bool),
    all(List(PARTITION)),
    since(8, I32),
];
const METADATA: Layout = Layout {
    flexible_from: 9,
    fields: &[
        since(3, I32),
        all(List(BROKER)),
        since(2, Str),
        since(1, I32),
        all(List(TOPIC)),
        between(8, 10, I32),
        since(13, I16),
    ],
    known_tags: &[],
};

const COORDINATOR: &[Field] = &[all(Str), all(I32), all(Str), all(I32), all(I16), all(Str)];
const FIND_COORDINATOR: Layout = Layout {
    flexible_from: 3,
    fields: &[
        since(1, I32),
        until(3, I16),
        between(1, 3, Str),
        until(3, I32),
        until(3, Str),
        until(3, I32),
        since(4, List(COORDINATOR)),
    ],
    known_tags: &[],
};

/// OffsetFetch up to v7: one group, its topics at the top level.
const FETCHED_PARTITION: &[Field] = &[all(I32), all(I64), between(5, 7, I32), all(Str), all(I16)];
const FETCHED_TOPIC: &[Field] = &[all(Str), all(List(FETCHED_PARTITION))];
/// OffsetFetch from v8: groups, each with its topics.
const GROUP_PARTITION: &[Field] = &[all(I32), all(I64), all(I32), all(Str), all(I16)];
const GROUP_TOPIC: &[Field] = &[until(9, Str), since(10, Uuid), all(List(GROUP_PARTITION))];
const GROUP: &[Field] = &[all(Str), all(List(GROUP_TOPIC)), all(I16)];
const OFFSET_FETCH: Layout = Layout {
    flexible_from: 6,
    fields: &[
        since(3, I32),
        until(7, List(FETCHED_TOPIC)),
        between(2, 7, I16),
        since(8, List(GROUP)),
    ],
    known_tags: &[],
};

const OFFSET_PARTITION: &[Field] = &[all(I32), all(I16), all(I64), all(I64), since(4, I32)];
const OFFSET_TOPIC: &[Field] = &[all(Str), all(List(OFFSET_PARTITION))];
const LIST_OFFSETS: Layout = Layout {
    flexible_from: 6,
    fields: &[since(2, I32), all(List(OFFSET_TOPIC))],
    known_tags: &[],
};

const ABORTED_TRANSACTION: &[Field] = &[all(I64), all(I64)];
/// The tagged fields of a partition (diverging epoch, current leader, snapshot id), only in flexible
/// versions.
const EPOCH_END_OFFSET: &[Field] = &[all(I32), all(I64)];
const LEADER_ID_AND_EPOCH: &[Field] = &[all(I32), all(I32)];
const SNAPSHOT_ID: &[Field] = &[all(I64), all(I32)];
const FETCHED_DATA: &[Field] = &[
    all(I32),
    all(I16),
    all(I64),
    all(I64),
    since(5, I64),
    all(List(ABORTED_TRANSACTION)),
    since(11, I32),
    // The records: walked as bytes here, batch by batch in `records` before they are decoded.
    all(Bytes),
];
const FETCHED_DATA_TAGS: &[(u32, Ty)] = &[
    (0, Struct(EPOCH_END_OFFSET)),
    (1, Struct(LEADER_ID_AND_EPOCH)),
    (2, Struct(SNAPSHOT_ID)),
];
const FETCHED_TOPIC_DATA: &[Field] = &[
    until(12, Str),
    since(13, Uuid),
    all(TaggedList(FETCHED_DATA, FETCHED_DATA_TAGS)),
];
/// The crate decodes it only from v16 and refuses the tag before.
const NODE_ENDPOINT: &[Field] = &[all(I32), all(Str), all(I32), all(Str)];
const FETCH: Layout = Layout {
    flexible_from: 12,
    fields: &[
        all(I32),
        since(7, I16),
        since(7, I32),
        all(List(FETCHED_TOPIC_DATA)),
    ],
    known_tags: &[(0, List(NODE_ENDPOINT))],
};

const SASL_HANDSHAKE: Layout = Layout {
    flexible_from: i16::MAX,
    fields: &[all(I16), all(Strs)],
    known_tags: &[],
};

const SASL_AUTHENTICATE: Layout = Layout {
    flexible_from: 2,
    fields: &[all(I16), all(Str), all(Bytes), since(1, I64)],
    known_tags: &[],
};

fn layout(api: Api) -> &'static Layout {
    match api {
        Api::ApiVersions => &API_VERSIONS,
        Api::SaslHandshake => &SASL_HANDSHAKE,
        Api::SaslAuthenticate => &SASL_AUTHENTICATE,
        Api::Metadata => &METADATA,
        Api::FindCoordinator => &FIND_COORDINATOR,
        Api::OffsetFetch => &OFFSET_FETCH,
        Api::ListOffsets => &LIST_OFFSETS,
        Api::Fetch => &FETCH,
    }
}

/// Checks that the body of an `api` response at `version` (after its header) holds every element each of
/// its lengths announces. The error says where it falls short.
pub(crate) fn check(api: Api, body: &[u8], version: i16) -> Result<(), String> {
    let layout = layout(api);
    let mut walk = Walk {
        rest: body,
        version,
        flexible: version >= layout.flexible_from,
    };
    walk.fields(layout.fields)?;
    if walk.flexible {
        walk.tagged(layout.known_tags)?;
    }
    Ok(())
}

struct Walk<'a> {
    rest: &'a [u8],
    version: i16,
    flexible: bool,
}

const SHORT: &str = "it ends in the middle of a field";

impl Walk<'_> {
    fn fields(&mut self, fields: &[Field]) -> Result<(), String> {
        for f in fields {
            if (f.from..=f.to).contains(&self.version) {
                self.ty(f.ty)?;
            }
        }
        Ok(())
    }

    fn ty(&mut self, ty: Ty) -> Result<(), String> {
        match ty {
            I16 => self.skip(2),
            I32 => self.skip(4),
            I64 => self.skip(8),
            Bool => self.skip(1),
            Uuid => self.skip(16),
            Str => {
                let n = self.length(false)?;
                self.skip(n)
            }
            Bytes => {
                let n = self.length(true)?;
                self.skip(n)
            }
            Ints => {
                let n = self.count()?;
                self.skip(n.checked_mul(4).ok_or(SHORT)?)
            }
            Strs => {
                for _ in 0..self.count()? {
                    self.ty(Str)?;
                }
                Ok(())
            }
            List(fields) => self.ty(TaggedList(fields, &[])),
            TaggedList(fields, tags) => {
                for _ in 0..self.count()? {
                    self.fields(fields)?;
                    if self.flexible {
                        self.tagged(tags)?;
                    }
                }
                Ok(())
            }
            Struct(fields) => {
                self.fields(fields)?;
                if self.flexible {
                    self.tagged(&[])?;
                }
                Ok(())
            }
        }
    }

    /// Tagged fields: known ones read in place, the others skipped by their size.
    fn tagged(&mut self, known: &[(u32, Ty)]) -> Result<(), String> {
        let n = self.varint()?;
        for _ in 0..n {
            let tag = self.varint()?;
            let size = self.varint()?;
            match known.iter().find(|(t, _)| *t == tag) {
                Some((_, ty)) => self.ty(*ty)?,
                None => self.skip(usize::try_from(size).map_err(|_| SHORT)?)?,
            }
        }
        Ok(())
    }

    /// An array's element count. Every element takes at least one byte, so a count larger than what is
    /// left cannot be true.
    fn count(&mut self) -> Result<usize, String> {
        let n = self.length(true)?;
        if n > self.rest.len() {
            return Err(format!(
                "it announces {n} elements with {} bytes left",
                self.rest.len()
            ));
        }
        Ok(n)
    }

    /// A length prefix (null counts as 0): compact in flexible versions, else INT16 for strings and
    /// INT32 for bytes and arrays.
    fn length(&mut self, wide: bool) -> Result<usize, String> {
        let n: i64 = if self.flexible {
            i64::from(self.varint()?) - 1
        } else if wide {
            i64::from(i32::from_be_bytes(self.array()?))
        } else {
            i64::from(i16::from_be_bytes(self.array()?))
        };
        match n {
            -1 => Ok(0),
            n if n < 0 => Err(format!("it announces a negative length ({n})")),
            n => usize::try_from(n).map_err(|_| SHORT.to_string()),
        }
    }

    /// An unsigned varint as the crate reads it: at most five bytes.
    fn varint(&mut self) -> Result<u32, String> {
        let mut value: u32 = 0;
        for i in 0..5 {
            let [b] = self.array::<1>()?;
            value |= u32::from(b & 0x7f) << (i * 7);
            if b < 0x80 {
                break;
            }
        }
        Ok(value)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let (head, rest) = self.rest.split_first_chunk::<N>().ok_or(SHORT)?;
        self.rest = rest;
        Ok(*head)
    }

    fn skip(&mut self, n: usize) -> Result<(), String> {
        self.rest = self.rest.get(n..).ok_or(SHORT)?;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use bytes::Bytes;
    use kafka_protocol::messages::{FetchResponse, ListOffsetsResponse, MetadataResponse};
    use kafka_protocol::protocol::Decodable;

    /// ListOffsets v9 (flexible): one topic "t" with partition 2 at offset 42.
    fn list_offsets_v9() -> Vec<u8> {
        let mut b = vec![];
        b.extend(0i32.to_be_bytes()); // throttle
        b.push(2); // one topic
        b.extend([2, b't']); // name
        b.push(2); // one partition
        b.extend(2i32.to_be_bytes());
        b.extend(0i16.to_be_bytes());
        b.extend((-1i64).to_be_bytes());
        b.extend(42i64.to_be_bytes());
        b.extend(7i32.to_be_bytes()); // leader epoch
        b.push(0); // partition tags
        b.push(0); // topic tags
        b.push(0); // top-level tags
        b
    }

    #[test]
    fn a_well_formed_response_passes_and_decodes() {
        let body = list_offsets_v9();
        check(Api::ListOffsets, &body, 9).unwrap();
        let r = ListOffsetsResponse::decode(&mut Bytes::from(body), 9).unwrap();
        assert_eq!(r.topics[0].partitions[0].offset, 42);
    }

    #[test]
    fn every_truncation_is_refused_without_a_panic() {
        let body = list_offsets_v9();
        for n in 0..body.len() {
            assert!(check(Api::ListOffsets, &body[..n], 9).is_err(), "{n} bytes");
            // The crate agrees, and neither panics.
            assert!(
                ListOffsetsResponse::decode(&mut Bytes::copy_from_slice(&body[..n]), 9).is_err()
            );
        }
    }

    #[test]
    fn an_array_longer_than_the_response_is_refused_before_anything_is_allocated() {
        // Metadata v12: throttle, then a broker array announcing u32::MAX - 1 elements.
        let mut body = 0i32.to_be_bytes().to_vec();
        body.extend([0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert_eq!(
            check(Api::Metadata, &body, 12).unwrap_err(),
            "it announces 4294967294 elements with 0 bytes left"
        );
        // Non-flexible: an INT32 count.
        let mut body = 0i32.to_be_bytes().to_vec();
        body.extend(i32::MAX.to_be_bytes());
        body.extend([0; 16]);
        assert!(check(Api::Metadata, &body, 8).is_err());
        // An INT32 array inside a partition (replicas) announcing more than is left.
        let mut body = vec![];
        body.extend(0i32.to_be_bytes()); // throttle
        body.push(1); // no brokers
        body.push(0); // null cluster id
        body.extend(1i32.to_be_bytes()); // controller
        body.push(2); // one topic
        body.extend(0i16.to_be_bytes());
        body.extend([2, b't']);
        body.extend([0; 16]); // topic id
        body.push(0); // not internal
        body.push(2); // one partition
        body.extend([0; 2 + 4 + 4 + 4]);
        body.extend([0xff, 0xff, 0xff, 0x7f]); // replicas: 268435454
        assert!(check(Api::Metadata, &body, 12).is_err());
    }

    #[test]
    fn null_arrays_and_strings_are_empty() {
        // Metadata v12 with no brokers, null cluster id, no topics.
        let mut body = vec![];
        body.extend(0i32.to_be_bytes());
        body.push(0); // null broker array
        body.push(0); // null cluster id
        body.extend(1i32.to_be_bytes());
        body.push(1); // empty topics
        body.push(0); // tags
        check(Api::Metadata, &body, 12).unwrap();
        // Whatever the crate makes of a null where it wants an array, it does not panic.
        let _ = MetadataResponse::decode(&mut Bytes::from(body), 12);
    }

    #[test]
    fn unknown_tagged_fields_are_skipped_by_size() {
        let mut body = list_offsets_v9();
        body.pop();
        body.extend([1, 9, 3, 1, 2, 3]); // one tagged field: tag 9, three bytes
        check(Api::ListOffsets, &body, 9).unwrap();
        body.truncate(body.len() - 1);
        assert!(check(Api::ListOffsets, &body, 9).is_err());
    }

    /// Writes a response body field by field, in a version's layout (the crate encodes no response).
    struct Writer {
        out: Vec<u8>,
        flexible: bool,
    }

    impl Writer {
        fn int(&mut self, bytes: &[u8]) -> &mut Self {
            self.out.extend(bytes);
            self
        }

        fn varint(&mut self, mut n: u32) -> &mut Self {
            while n >= 0x80 {
                self.out.push((n as u8) | 0x80);
                n >>= 7;
            }
            self.out.push(n as u8);
            self
        }

        /// A length prefix: compact in flexible versions, else INT16 (strings) or INT32.
        fn length(&mut self, n: Option<usize>, wide: bool) -> &mut Self {
            match (self.flexible, n) {
                (true, n) => self.varint(n.map_or(0, |n| n as u32 + 1)),
                (false, n) if wide => self.int(&n.map_or(-1, |n| n as i32).to_be_bytes()),
                (false, n) => self.int(&n.map_or(-1, |n| n as i16).to_be_bytes()),
            }
        }

        fn str(&mut self, s: Option<&str>) -> &mut Self {
            self.length(s.map(str::len), false);
            self.int(s.unwrap_or_default().as_bytes())
        }

        fn bytes(&mut self, b: Option<&[u8]>) -> &mut Self {
            self.length(b.map(<[u8]>::len), true);
            self.int(b.unwrap_or_default())
        }

        /// Tagged fields (flexible versions only), each given as its bytes.
        fn tags(&mut self, tags: &[(u32, Vec<u8>)]) -> &mut Self {
            if self.flexible {
                self.varint(tags.len() as u32);
                for (tag, value) in tags {
                    self.varint(*tag).varint(value.len() as u32);
                    self.out.extend(value);
                }
            }
            self
        }
    }

    /// One partition of a Fetch answer written by [`fetch_response`].
    pub(crate) struct Answered<'a> {
        pub(crate) topic: &'a str,
        pub(crate) id: [u8; 16],
        pub(crate) partition: i32,
        pub(crate) error: i16,
        pub(crate) high_watermark: i64,
        pub(crate) log_start_offset: i64,
        pub(crate) records: Option<&'a [u8]>,
    }

    /// A Fetch answer body at `version` with every field the version has: one aborted transaction per
    /// partition, the three tagged fields of a partition and an unknown one, node endpoints from v16.
    /// Consecutive partitions of one topic go in one topic entry.
    pub(crate) fn fetch_response(version: i16, partitions: &[Answered]) -> Vec<u8> {
        let flexible = version >= 12;
        let mut w = Writer {
            out: vec![],
            flexible,
        };
        w.int(&0i32.to_be_bytes());
        if version >= 7 {
            w.int(&0i16.to_be_bytes()).int(&0i32.to_be_bytes());
        }
        let topics: Vec<&[Answered]> = partitions.chunk_by(|a, b| a.topic == b.topic).collect();
        w.length(Some(topics.len()), true);
        for topic in topics {
            if version >= 13 {
                w.int(&topic[0].id);
            } else {
                w.str(Some(topic[0].topic));
            }
            w.length(Some(topic.len()), true);
            for p in topic {
                w.int(&p.partition.to_be_bytes())
                    .int(&p.error.to_be_bytes())
                    .int(&p.high_watermark.to_be_bytes())
                    .int(&p.high_watermark.to_be_bytes())
                    .int(&p.log_start_offset.to_be_bytes());
                w.length(Some(1), true)
                    .int(&7i64.to_be_bytes())
                    .int(&3i64.to_be_bytes())
                    .tags(&[]);
                if version >= 11 {
                    w.int(&(-1i32).to_be_bytes());
                }
                w.bytes(p.records);
                let strukt = |fields: &[&[u8]]| {
                    let mut v: Vec<u8> = fields.concat();
                    v.push(0);
                    v
                };
                w.tags(&[
                    (0, strukt(&[&5i32.to_be_bytes(), &40i64.to_be_bytes()])),
                    (1, strukt(&[&1i32.to_be_bytes(), &6i32.to_be_bytes()])),
                    (2, strukt(&[&30i64.to_be_bytes(), &4i32.to_be_bytes()])),
                    (9, vec![0xab, 0xcd]),
                ]);
            }
            w.tags(&[]);
        }
        if version >= 16 {
            let mut endpoints = Writer {
                out: vec![],
                flexible,
            };
            endpoints
                .length(Some(1), true)
                .int(&1i32.to_be_bytes())
                .str(Some("k"))
                .int(&9092i32.to_be_bytes())
                .str(None)
                .tags(&[]);
            w.tags(&[(0, endpoints.out)]);
        } else {
            w.tags(&[]);
        }
        w.out
    }

    fn two_partitions(records: &[u8]) -> Vec<Answered<'_>> {
        let p = |partition, records| Answered {
            topic: "cw-offsets",
            id: [7; 16],
            partition,
            error: 0,
            high_watermark: 12,
            log_start_offset: 2,
            records,
        };
        vec![p(0, Some(records)), p(1, None)]
    }

    #[test]
    fn fetch_answers_pass_and_decode_at_every_version() {
        let records = b"not walked here";
        for version in 5..=18 {
            let body = fetch_response(version, &two_partitions(records));
            check(Api::Fetch, &body, version).unwrap_or_else(|e| panic!("v{version}: {e}"));
            let r = FetchResponse::decode(&mut Bytes::from(body), version)
                .unwrap_or_else(|e| panic!("v{version}: {e}"));
            let t = &r.responses[0];
            if version >= 13 {
                assert_eq!(t.topic_id.as_bytes(), &[7; 16]);
            } else {
                assert_eq!(t.topic.as_str(), "cw-offsets");
            }
            let p = &t.partitions[0];
            assert_eq!(p.records.as_deref(), Some(&records[..]), "v{version}");
            assert_eq!((p.high_watermark, p.log_start_offset), (12, 2));
            assert_eq!(p.aborted_transactions.as_ref().map(Vec::len), Some(1));
            assert_eq!(t.partitions[1].records, None);
            if version >= 12 {
                assert_eq!(p.diverging_epoch.end_offset, 40);
                assert_eq!(p.current_leader.leader_epoch, 6);
                assert_eq!(p.snapshot_id.end_offset, 30);
            }
            if version >= 16 {
                assert_eq!(r.node_endpoints[0].port, 9092);
            }
        }
    }

    #[test]
    fn every_truncation_of_a_fetch_answer_is_refused_without_a_panic() {
        for version in [5, 11, 12, 13, 16, 18] {
            let body = fetch_response(version, &two_partitions(b"records"));
            for n in 0..body.len() {
                assert!(
                    check(Api::Fetch, &body[..n], version).is_err(),
                    "v{version}, {n} bytes"
                );
                assert!(
                    FetchResponse::decode(&mut Bytes::copy_from_slice(&body[..n]), version)
                        .is_err()
                );
            }
        }
    }

    #[test]
    fn crafted_fetch_lengths_are_refused_before_anything_is_allocated() {
        // v12: throttle, error, session, one topic "t", one partition, then aborted transactions announcing
        // 268435454 of 16 bytes each.
        let mut head = vec![];
        head.extend(0i32.to_be_bytes());
        head.extend(0i16.to_be_bytes());
        head.extend(0i32.to_be_bytes());
        head.extend([2, 2, b't', 2]);
        head.extend([0; 4 + 2 + 8 + 8 + 8]);
        let mut body = head.clone();
        body.extend([0xff, 0xff, 0xff, 0x7f]);
        assert_eq!(
            check(Api::Fetch, &body, 12).unwrap_err(),
            "it announces 268435454 elements with 0 bytes left"
        );
        // The records announcing 2 GiB with a few bytes present.
        let mut body = head.clone();
        body.push(1); // no aborted transactions
        body.extend((-1i32).to_be_bytes()); // preferred read replica
        body.extend([0xff, 0xff, 0xff, 0xff, 0x07, 1, 2, 3]);
        assert_eq!(check(Api::Fetch, &body, 12).unwrap_err(), SHORT);
        // v16's node endpoints, in the top-level tagged field, announcing more than is left.
        let mut body = head[..10].to_vec();
        body.push(1); // no topics
        body.extend([1, 0, 5, 0xff, 0xff, 0xff, 0x7f]);
        assert_eq!(
            check(Api::Fetch, &body, 16).unwrap_err(),
            "it announces 268435454 elements with 0 bytes left"
        );
        // Non-flexible: an INT32 records length past the end.
        let mut body = fetch_response(11, &two_partitions(b"records"));
        // Before the second partition (58 bytes), the 7 bytes of records and their length.
        let at = body.len() - 58 - 7 - 4;
        assert_eq!(body[at..at + 4], 7i32.to_be_bytes());
        body[at..at + 4].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(check(Api::Fetch, &body, 11).is_err());
    }
}
