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
            List(fields) => {
                for _ in 0..self.count()? {
                    self.fields(fields)?;
                    if self.flexible {
                        self.tagged(&[])?;
                    }
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
mod tests {
    use super::*;
    use bytes::Bytes;
    use kafka_protocol::messages::{ListOffsetsResponse, MetadataResponse};
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
}
