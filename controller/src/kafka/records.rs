//! Record batches (the `records` of a Fetch answer), decoded with `kafka_protocol`'s `RecordBatchDecoder`
//! after a walk like `shape`'s. The decoder reserves room for the records a batch announces and for the
//! headers each record announces before it reads them, and adds timestamp and offset deltas without
//! checking for overflow (a panic with overflow checks on); so every batch is walked first and every length
//! checked against the bytes present. Compressed batches are inflated here, within limits, and walked once
//! inflated.
//!
//! What one answer may cost is bounded ([`Budget`]): a batch past it is left for the next fetch, as Kafka
//! leaves a batch past `max_bytes`.

use bytes::Bytes;
use kafka_protocol::compression::{Decompressor, Gzip, Snappy};
use kafka_protocol::records::RecordBatchDecoder;

/// The records one answer may decode: a decoded record takes far more memory than its bytes on the wire.
const MAX_RECORDS: usize = 1 << 18;
/// The bytes one answer may inflate, all its compressed batches together.
const MAX_INFLATED: usize = 32 << 20;
/// Deflate's worst ratio (258-byte matches in about two bits each): the inflated size cannot be known
/// before inflating, so a gzip batch is inflated only when even this ratio stays within `MAX_INFLATED`.
const DEFLATE_MAX_RATIO: usize = 1032;
const GZIP_MAX_COMPRESSED: usize = MAX_INFLATED / DEFLATE_MAX_RATIO;
/// Snappy's worst ratio (a 3-byte copy yields 64 bytes): a larger claimed length is a lie, refused before
/// the codec allocates it.
const SNAPPY_MAX_RATIO: usize = 22;
/// Kafka's framing of snappy (from its Java client, xerial's): this header, then length-prefixed blocks.
const XERIAL_HEADER: &[u8; 16] = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01";

/// Base offset (8) and length (4), then the rest of the v2 header: leader epoch (4), magic (1), CRC (4),
/// attributes (2), last offset delta (4), base and max timestamp (8 each), producer id (8) and epoch (2),
/// base sequence (4), record count (4).
const HEADER: usize = 61;
const LENGTH_END: usize = 12;

/// One record of a fetched partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FetchedRecord {
    pub(crate) offset: i64,
    /// When it was written (the producer's time, or the broker's for a topic with `LogAppendTime`).
    pub(crate) timestamp_ms: i64,
    pub(crate) key: Option<Bytes>,
    /// No value: a deletion (for Connect's offsets, a reset).
    pub(crate) tombstone: bool,
}

/// What decoding one answer may still take, shared by its partitions in the order the answer gives them.
#[derive(Debug)]
pub(crate) struct Budget {
    records: usize,
    inflated: usize,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget {
            records: MAX_RECORDS,
            inflated: MAX_INFLATED,
        }
    }
}

/// The records of one partition's answer, and where to fetch from next.
#[derive(Debug, PartialEq)]
pub(crate) struct Read {
    pub(crate) records: Vec<FetchedRecord>,
    pub(crate) next_offset: i64,
}

/// The records at offset `from` or after in `data`, batch by batch. Control batches (transaction markers)
/// are skipped; a partial batch at the end (Kafka cuts at `max_bytes`), or one past the budget, is left
/// and `next_offset` points at it. A batch that cannot be read fails the partition: the error says which
/// and why.
pub(crate) fn read(data: Bytes, from: i64, budget: &mut Budget) -> Result<Read, String> {
    let mut rest = data;
    let mut records = Vec::new();
    let mut next = from;
    while !rest.is_empty() {
        let Some(header) = Header::read(&rest)? else {
            // Partial: read next time from its base offset when it shows.
            if let Some(base) = rest.first_chunk::<8>() {
                next = next.max(i64::from_be_bytes(*base));
            }
            break;
        };
        let batch = rest.split_to(header.size);
        let at = header.base;
        // The CRC first (the decoder's header read checks it and reads no record), so that damage is named
        // as such, and before a control batch's offsets are believed.
        RecordBatchDecoder::decode_batch_info(&mut batch.clone())
            .map_err(|e| format!("the batch at offset {at}: {e:#}"))?;
        if header.control {
            next = next.max(header.end);
            continue;
        }
        if header.count > MAX_RECORDS {
            return Err(format!(
                "the batch at offset {at} holds {} records, more than the {MAX_RECORDS} read at once",
                header.count
            ));
        }
        if header.count > budget.records {
            next = next.max(at);
            break;
        }
        let body = batch.slice(HEADER..);
        let (plain, compressed) = match header.compression {
            0 => (body, false),
            1 => (inflate_gzip(body, at)?, true),
            2 => (inflate_snappy(body, at)?, true),
            3 | 4 => {
                return Err(format!(
                    "the batch at offset {at} is {}-compressed, a codec this client does not read (it \
                     reads uncompressed, gzip and snappy batches)",
                    if header.compression == 3 {
                        "lz4"
                    } else {
                        "zstd"
                    }
                ));
            }
            other => {
                return Err(format!(
                    "the batch at offset {at} names compression type {other}, which Kafka does not define"
                ));
            }
        };
        if compressed && plain.len() > budget.inflated {
            next = next.max(at);
            break;
        }
        walk_records(&plain, &header)?;
        let decoded = RecordBatchDecoder::decode_with_custom_compression(
            &mut batch.clone(),
            // Inflated and walked above.
            Some(|_: &mut Bytes, _| Ok(plain.clone())),
        )
        .map_err(|e| format!("the batch at offset {at}: {e:#}"))?;
        budget.records -= header.count;
        if compressed {
            budget.inflated -= plain.len();
        }
        records.extend(
            decoded
                .records
                .into_iter()
                .filter(|r| r.offset >= from)
                .map(|r| FetchedRecord {
                    offset: r.offset,
                    // With LogAppendTime every record has the batch's time, as Kafka's clients read it.
                    timestamp_ms: if header.log_append_time {
                        header.max_timestamp
                    } else {
                        r.timestamp
                    },
                    // Copied out of an inflated buffer, so that buffer is freed with the batch.
                    key: r.key.map(|k| {
                        if compressed {
                            Bytes::copy_from_slice(&k)
                        } else {
                            k
                        }
                    }),
                    tombstone: r.value.is_none(),
                }),
        );
        next = next.max(header.end);
    }
    Ok(Read {
        records,
        next_offset: next,
    })
}

/// The fields of a v2 batch header this client reads.
struct Header {
    base: i64,
    /// The offset after the batch's last one (compaction keeps the last offset of a batch it empties).
    end: i64,
    size: usize,
    compression: i16,
    control: bool,
    log_append_time: bool,
    base_timestamp: i64,
    max_timestamp: i64,
    count: usize,
}

impl Header {
    /// The header of the batch `rest` starts with, or `None` when `rest` ends inside that batch.
    fn read(rest: &[u8]) -> Result<Option<Header>, String> {
        let (Some(base), Some(length)) = (int(rest, 0), int(rest, 8)) else {
            return Ok(None);
        };
        let base = i64::from_be_bytes(base);
        let length = i32::from_be_bytes(length);
        let Ok(length) = usize::try_from(length) else {
            return Err(format!(
                "the batch at offset {base} announces a negative length ({length})"
            ));
        };
        let size = LENGTH_END + length;
        if size > rest.len() {
            return Ok(None);
        }
        let short =
            || format!("the batch at offset {base} is {size} bytes, shorter than a batch header");
        let magic = *rest.get(16).ok_or_else(short)?;
        if magic != 2 {
            return Err(format!(
                "the batch at offset {base} is in message format v{magic}, which this client does not \
                 read (only v2, Kafka 0.11 and later)"
            ));
        }
        if size < HEADER {
            return Err(short());
        }
        let attributes = i16::from_be_bytes(int(rest, 21).ok_or_else(short)?);
        let last_delta = i32::from_be_bytes(int(rest, 23).ok_or_else(short)?);
        let base_timestamp = i64::from_be_bytes(int(rest, 27).ok_or_else(short)?);
        let max_timestamp = i64::from_be_bytes(int(rest, 35).ok_or_else(short)?);
        let count = i32::from_be_bytes(int(rest, 57).ok_or_else(short)?);
        let end = (last_delta >= 0)
            .then(|| base.checked_add(i64::from(last_delta))?.checked_add(1))
            .flatten()
            .ok_or_else(|| {
                format!("the batch at offset {base} announces a last offset delta of {last_delta}")
            })?;
        let count = usize::try_from(count).map_err(|_| {
            format!("the batch at offset {base} announces a negative record count ({count})")
        })?;
        Ok(Some(Header {
            base,
            end,
            size,
            compression: attributes & 0x7,
            control: attributes & (1 << 5) != 0,
            log_append_time: attributes & (1 << 3) != 0,
            base_timestamp,
            max_timestamp,
            count,
        }))
    }
}

fn int<const N: usize>(bytes: &[u8], start: usize) -> Option<[u8; N]> {
    bytes.get(start..)?.first_chunk::<N>().copied()
}

fn inflate_gzip(mut body: Bytes, at: i64) -> Result<Bytes, String> {
    if body.len() > GZIP_MAX_COMPRESSED {
        return Err(format!(
            "the gzip batch at offset {at} is {} bytes compressed, over the {GZIP_MAX_COMPRESSED} this \
             client inflates (so that no batch inflates past {MAX_INFLATED} bytes)",
            body.len()
        ));
    }
    let plain = Gzip::decompress(&mut body, |b: &mut Bytes| Ok(std::mem::take(b)))
        .map_err(|e| format!("the gzip batch at offset {at}: {e:#}"))?;
    if plain.len() > MAX_INFLATED {
        return Err(format!(
            "the gzip batch at offset {at} inflates past {MAX_INFLATED} bytes"
        ));
    }
    Ok(plain)
}

/// The codec allocates the length each snappy block claims before it inflates it: the claims are checked
/// first, block by block, as the codec reads them.
fn inflate_snappy(mut body: Bytes, at: i64) -> Result<Bytes, String> {
    let refused = |what: String| format!("the snappy batch at offset {at} {what}");
    let mut claimed = 0usize;
    let mut claim = |block: &[u8]| -> Result<(), String> {
        if block.is_empty() {
            return Ok(());
        }
        let n = snappy_length(block).ok_or_else(|| refused("has a malformed length".into()))?;
        if n > block.len().saturating_mul(SNAPPY_MAX_RATIO) {
            return Err(refused(format!(
                "claims {n} bytes from a {}-byte block, more than snappy can encode",
                block.len()
            )));
        }
        claimed = claimed.saturating_add(n);
        if claimed > MAX_INFLATED {
            return Err(refused(format!("inflates past {MAX_INFLATED} bytes")));
        }
        Ok(())
    };
    match body.strip_prefix(XERIAL_HEADER) {
        Some(mut blocks) => {
            while let Some((size, rest)) = blocks.split_first_chunk::<4>() {
                let size = u32::from_be_bytes(*size) as usize;
                let block = rest
                    .get(..size)
                    .ok_or_else(|| refused("ends inside a block".into()))?;
                claim(block)?;
                blocks = rest.get(size..).unwrap_or_default();
            }
        }
        None => claim(&body)?,
    }
    Snappy::decompress(&mut body, |b: &mut Bytes| Ok(std::mem::take(b)))
        .map_err(|e| format!("the snappy batch at offset {at}: {e:#}"))
}

/// The length a raw snappy block starts with (a varint of at most five bytes), as the codec reads it.
fn snappy_length(block: &[u8]) -> Option<usize> {
    let mut n: u64 = 0;
    for (i, b) in block.iter().take(5).enumerate() {
        n |= u64::from(b & 0x7f) << (7 * i);
        if *b < 0x80 {
            return usize::try_from(n).ok();
        }
    }
    None
}

/// Walks the `header.count` records of a batch as the decoder reads them; fails where a length or count
/// exceeds the bytes present, or where the decoder's arithmetic would overflow.
fn walk_records(plain: &[u8], header: &Header) -> Result<(), String> {
    let at = header.base;
    let mut walk = Walk { rest: plain };
    for i in 0..header.count {
        let fail = |what: &str| format!("record {i} of the batch at offset {at} {what}");
        let size = walk
            .varint()
            .ok_or_else(|| fail("ends before its length"))?;
        let size = usize::try_from(size).map_err(|_| fail("has a negative length"))?;
        let mut record = Walk {
            rest: walk.take(size).ok_or_else(|| fail("ends past its batch"))?,
        };
        let short = || fail("ends in the middle of a field");
        record.take(1).ok_or_else(short)?;
        let timestamp_delta = record.varlong().ok_or_else(short)?;
        header
            .base_timestamp
            .checked_add(timestamp_delta)
            .ok_or_else(|| fail("has a timestamp out of range"))?;
        let offset_delta = record.varint().ok_or_else(short)?;
        header
            .base
            .checked_add(i64::from(offset_delta))
            .ok_or_else(|| fail("has an offset out of range"))?;
        for what in ["key", "value"] {
            match record.varint().ok_or_else(short)? {
                -1 => {}
                n => {
                    let n = usize::try_from(n)
                        .map_err(|_| fail(&format!("has a {what} of negative length")))?;
                    record
                        .take(n)
                        .ok_or_else(|| fail(&format!("has a {what} past its end")))?;
                }
            }
        }
        let headers = record.varint().ok_or_else(short)?;
        let headers = usize::try_from(headers).map_err(|_| fail("has a negative header count"))?;
        // Each header takes two bytes at least: a count beyond that is refused before the decoder
        // reserves room for it.
        if headers > record.rest.len() / 2 {
            return Err(fail(&format!(
                "announces {headers} headers with {} bytes left",
                record.rest.len()
            )));
        }
        for _ in 0..headers {
            let key = record.varint().ok_or_else(short)?;
            let key =
                usize::try_from(key).map_err(|_| fail("has a header key of negative length"))?;
            record.take(key).ok_or_else(short)?;
            match record.varint().ok_or_else(short)? {
                -1 => {}
                n => {
                    let n = usize::try_from(n)
                        .map_err(|_| fail("has a header value of negative length"))?;
                    record.take(n).ok_or_else(short)?;
                }
            }
        }
    }
    Ok(())
}

struct Walk<'a> {
    rest: &'a [u8],
}

impl<'a> Walk<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.rest.split_at_checked(n)?;
        self.rest = rest;
        Some(head)
    }

    /// An unsigned varint as the decoder reads it: at most `max` bytes, the last one ending it whatever
    /// its high bit.
    fn unsigned(&mut self, max: u32) -> Option<u64> {
        let mut value: u64 = 0;
        for i in 0..max {
            let (b, rest) = self.rest.split_first()?;
            self.rest = rest;
            value |= u64::from(b & 0x7f) << (7 * i);
            if *b < 0x80 {
                break;
            }
        }
        Some(value)
    }

    /// A zigzag INT32 varint (five bytes at most; bits past 32 dropped, as the decoder drops them).
    fn varint(&mut self) -> Option<i32> {
        let z = self.unsigned(5)? as u32;
        Some(((z >> 1) as i32) ^ -((z & 1) as i32))
    }

    /// A zigzag INT64 varint (ten bytes at most).
    fn varlong(&mut self) -> Option<i64> {
        let z = self.unsigned(10)?;
        Some(((z >> 1) as i64) ^ -((z & 1) as i64))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };

    /// A record at `offset`, written at `timestamp`, with `key` and (unless a tombstone) a value.
    pub(crate) fn record(offset: i64, timestamp: i64, key: &str, value: Option<&str>) -> Record {
        Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset,
            // The encoder batches records whose offset and sequence advance together.
            sequence: offset as i32,
            timestamp,
            key: Some(Bytes::copy_from_slice(key.as_bytes())),
            value: value.map(|v| Bytes::copy_from_slice(v.as_bytes())),
            headers: Default::default(),
        }
    }

    /// One batch of `records`, as Kafka stores and sends it.
    pub(crate) fn batch(records: &[Record], compression: Compression) -> Vec<u8> {
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            records,
            &RecordEncodeOptions {
                version: 2,
                compression,
            },
        )
        .unwrap();
        buf.to_vec()
    }

    /// A batch of three records at offsets `base`.. written at 1000, 1001, 1002.
    fn three(base: i64, compression: Compression) -> Vec<u8> {
        let records: Vec<Record> = (0..3)
            .map(|i| record(base + i, 1000 + i, &format!("k{}", base + i), Some("v")))
            .collect();
        batch(&records, compression)
    }

    /// CRC-32C (Castagnoli), to seal a batch whose header a test changed.
    fn crc32c(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for b in data {
            crc ^= u32::from(*b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0x82f6_3b78
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    pub(crate) fn seal(batch: &mut [u8]) {
        let crc = crc32c(&batch[21..]);
        batch[17..21].copy_from_slice(&crc.to_be_bytes());
    }

    fn set_attributes(batch: &mut [u8], attributes: i16) {
        batch[21..23].copy_from_slice(&attributes.to_be_bytes());
        seal(batch);
    }

    fn read_all(data: &[u8], from: i64) -> Result<Read, String> {
        read(Bytes::copy_from_slice(data), from, &mut Budget::default())
    }

    fn offsets(read: &Read) -> Vec<i64> {
        read.records.iter().map(|r| r.offset).collect()
    }

    #[test]
    fn batches_are_read_in_order_with_keys_times_and_tombstones() {
        let mut data = three(0, Compression::None);
        data.extend(batch(
            &[
                record(3, 2000, "gone", None),
                record(4, 2001, "k4", Some("v")),
            ],
            Compression::None,
        ));
        let read = read_all(&data, 0).unwrap();
        assert_eq!(offsets(&read), [0, 1, 2, 3, 4]);
        assert_eq!(read.next_offset, 5);
        let r = &read.records[3];
        assert_eq!(
            (r.timestamp_ms, r.key.as_deref(), r.tombstone),
            (2000, Some(&b"gone"[..]), true)
        );
        let r = &read.records[1];
        assert_eq!(
            (r.timestamp_ms, r.key.as_deref(), r.tombstone),
            (1001, Some(&b"k1"[..]), false)
        );
        // Nothing fetched: the next fetch starts where this one did.
        assert_eq!(
            read_all(&[], 7).unwrap(),
            Read {
                records: vec![],
                next_offset: 7
            }
        );
    }

    #[test]
    fn records_before_the_offset_asked_are_left_out() {
        // Kafka answers from the start of the batch that holds the offset asked.
        let read = read_all(&three(10, Compression::None), 11).unwrap();
        assert_eq!(offsets(&read), [11, 12]);
        assert_eq!(read.next_offset, 13);
    }

    #[test]
    fn a_partial_batch_at_the_end_is_left_for_the_next_fetch() {
        let mut data = three(0, Compression::None);
        let second = three(3, Compression::None);
        let whole = data.len();
        data.extend(&second);
        for cut in whole..data.len() {
            let read = read_all(&data[..cut], 0).unwrap();
            assert_eq!(offsets(&read), [0, 1, 2], "cut at {cut}");
            assert_eq!(read.next_offset, 3, "cut at {cut}");
        }
        // A partial first batch: nothing read, the next fetch starts at it.
        let read = read_all(&second[..second.len() - 1], 3).unwrap();
        assert_eq!((read.records.len(), read.next_offset), (0, 3));
    }

    #[test]
    fn control_batches_are_skipped_and_passed() {
        let mut marker = record(3, 5000, "", Some("\0\0\0\0\0\0"));
        marker.control = true;
        marker.transactional = true;
        let mut data = three(0, Compression::None);
        data.extend(batch(&[marker], Compression::None));
        data.extend(three(4, Compression::None));
        let read = read_all(&data, 0).unwrap();
        assert_eq!(offsets(&read), [0, 1, 2, 4, 5, 6]);
        assert_eq!(read.next_offset, 7);
        // A control batch last: the next fetch starts after it.
        let read = read_all(&data[..data.len() - three(4, Compression::None).len()], 0).unwrap();
        assert_eq!(read.next_offset, 4);
    }

    #[test]
    fn gzip_and_snappy_batches_are_inflated() {
        for compression in [Compression::Gzip, Compression::Snappy] {
            let mut data = three(0, compression);
            data.extend(three(3, Compression::None));
            let read = read_all(&data, 1).unwrap();
            assert_eq!(offsets(&read), [1, 2, 3, 4, 5], "{compression:?}");
            assert_eq!(read.records[0].key.as_deref(), Some(&b"k1"[..]));
            assert_eq!(read.next_offset, 6);
        }
    }

    #[test]
    fn a_codec_not_read_fails_the_partition_naming_it() {
        for (code, name) in [(3, "lz4"), (4, "zstd")] {
            let mut data = three(0, Compression::None);
            set_attributes(&mut data, code);
            assert_eq!(
                read_all(&data, 0).unwrap_err(),
                format!(
                    "the batch at offset 0 is {name}-compressed, a codec this client does not read (it \
                     reads uncompressed, gzip and snappy batches)"
                )
            );
        }
        let mut data = three(0, Compression::None);
        set_attributes(&mut data, 6);
        assert_eq!(
            read_all(&data, 0).unwrap_err(),
            "the batch at offset 0: Unknown compression algorithm used: 6"
        );
    }

    #[test]
    fn log_append_time_gives_every_record_the_batch_time() {
        let mut data = three(0, Compression::None);
        let max = i64::from_be_bytes(data[35..43].try_into().unwrap());
        set_attributes(&mut data, 1 << 3);
        let read = read_all(&data, 0).unwrap();
        assert!(read.records.iter().all(|r| r.timestamp_ms == max));
        assert_eq!(max, 1002);
    }

    #[test]
    fn old_message_formats_and_broken_batches_are_errors() {
        let mut data = three(0, Compression::None);
        data[16] = 1;
        assert!(
            read_all(&data, 0)
                .unwrap_err()
                .contains("message format v1")
        );
        let mut data = three(0, Compression::None);
        let last = data.len() - 1;
        data[last] ^= 0xff;
        assert!(
            read_all(&data, 0)
                .unwrap_err()
                .contains("Cyclic redundancy check failed")
        );
        let mut data = three(0, Compression::None);
        data[8..12].copy_from_slice(&(-1i32).to_be_bytes());
        assert!(read_all(&data, 0).unwrap_err().contains("negative length"));
        let mut data = three(0, Compression::None);
        data[8..12].copy_from_slice(&20i32.to_be_bytes());
        assert!(
            read_all(&data, 0)
                .unwrap_err()
                .contains("shorter than a batch header")
        );
    }

    /// A batch whose records are `body` (unchecked by the encoder), announcing `count` of them.
    fn crafted(count: i32, body: &[u8], compression: i16) -> Vec<u8> {
        let mut data = three(0, Compression::None);
        data.truncate(HEADER);
        data.extend(body);
        let length = i32::try_from(data.len() - LENGTH_END).unwrap();
        data[8..12].copy_from_slice(&length.to_be_bytes());
        data[57..61].copy_from_slice(&count.to_be_bytes());
        set_attributes(&mut data, compression);
        data
    }

    /// One record with the fields given as zigzag varints, after its length and attributes.
    fn zigzag(values: &[i64]) -> Vec<u8> {
        let mut out = vec![];
        for v in values {
            let mut z = ((v << 1) ^ (v >> 63)) as u64;
            while z >= 0x80 {
                out.push((z as u8) | 0x80);
                z >>= 7;
            }
            out.push(z as u8);
        }
        out
    }

    fn one_record(fields: &[i64]) -> Vec<u8> {
        let mut inner = vec![0];
        inner.extend(zigzag(fields));
        let mut out = zigzag(&[inner.len() as i64]);
        out.extend(inner);
        out
    }

    #[test]
    fn crafted_counts_and_lengths_are_refused_before_anything_is_allocated() {
        // Two billion records announced in a few bytes: the decoder would reserve room for them.
        let data = crafted(i32::MAX, &one_record(&[0, 0, -1, -1, 0]), 0);
        assert!(
            read_all(&data, 0)
                .unwrap_err()
                .contains("more than the 262144")
        );
        let data = crafted(1000, &one_record(&[0, 0, -1, -1, 0]), 0);
        assert_eq!(
            read_all(&data, 0).unwrap_err(),
            "record 1 of the batch at offset 0 ends before its length"
        );
        // A record announcing a billion headers (the decoder reserves room for them first).
        let data = crafted(1, &one_record(&[0, 0, -1, -1, 1 << 30]), 0);
        assert!(
            read_all(&data, 0)
                .unwrap_err()
                .contains("announces 1073741824 headers")
        );
        // A key longer than the record.
        let data = crafted(1, &one_record(&[0, 0, 1000, -1, 0]), 0);
        assert!(read_all(&data, 0).unwrap_err().contains("key past its end"));
        let data = crafted(1, &one_record(&[0, 0, -7, -1, 0]), 0);
        assert!(read_all(&data, 0).unwrap_err().contains("negative length"));
        // Deltas the decoder would add with overflow.
        let data = crafted(1, &one_record(&[i64::MAX, 0, -1, -1, 0]), 0);
        assert!(
            read_all(&data, 0)
                .unwrap_err()
                .contains("timestamp out of range")
        );
        let mut data = crafted(1, &one_record(&[0, 5, -1, -1, 0]), 0);
        data[..8].copy_from_slice(&(i64::MAX - 1).to_be_bytes());
        data[23..27].copy_from_slice(&0i32.to_be_bytes());
        seal(&mut data);
        assert!(
            read_all(&data, 0)
                .unwrap_err()
                .contains("offset out of range")
        );
        // A record length over what is left.
        let data = crafted(1, &zigzag(&[1 << 20]), 0);
        assert!(
            read_all(&data, 0)
                .unwrap_err()
                .contains("ends past its batch")
        );
        // The well-formed one decodes: the crafting is sound.
        let data = crafted(1, &one_record(&[0, 0, -1, -1, 0]), 0);
        let read = read_all(&data, 0).unwrap();
        assert_eq!(read.records.len(), 1);
        assert!(read.records[0].key.is_none() && read.records[0].tombstone);
    }

    #[test]
    fn compressed_sizes_are_bounded_before_inflating() {
        // Raw snappy claiming 4 GiB from five bytes: the codec would allocate it zeroed.
        let data = crafted(1, &[0xff, 0xff, 0xff, 0xff, 0x0f], 2);
        assert!(
            read_all(&data, 0)
                .unwrap_err()
                .contains("more than snappy can encode")
        );
        // Framed snappy, each block claiming what snappy cannot encode in it.
        let mut framed = XERIAL_HEADER.to_vec();
        framed.extend(6u32.to_be_bytes());
        framed.extend([0x80, 0x80, 0x80, 0x40, 0, 0]);
        let data = crafted(1, &framed, 2);
        assert!(
            read_all(&data, 0)
                .unwrap_err()
                .contains("more than snappy can encode")
        );
        // A block past the end.
        let mut framed = XERIAL_HEADER.to_vec();
        framed.extend(600u32.to_be_bytes());
        framed.extend([1, 0]);
        assert!(
            read_all(&crafted(1, &framed, 2), 0)
                .unwrap_err()
                .contains("ends inside a block")
        );
        // Gzip over what is inflated, whatever it holds.
        let data = crafted(1, &vec![0; GZIP_MAX_COMPRESSED + 1], 1);
        assert!(read_all(&data, 0).unwrap_err().contains(&format!(
            "is {} bytes compressed, over the {GZIP_MAX_COMPRESSED}",
            GZIP_MAX_COMPRESSED + 1
        )));
        // Garbage in either codec is an error, not a panic.
        assert!(
            read_all(&crafted(1, &[1, 2, 3], 1), 0)
                .unwrap_err()
                .contains("gzip")
        );
        assert!(
            read_all(&crafted(1, &[9, 2, 3], 2), 0)
                .unwrap_err()
                .contains("snappy")
        );
    }

    #[test]
    fn a_batch_past_the_budget_is_left_for_the_next_fetch() {
        let mut data = three(0, Compression::None);
        data.extend(three(3, Compression::Gzip));
        data.extend(three(6, Compression::None));
        let mut budget = Budget {
            records: 5,
            inflated: MAX_INFLATED,
        };
        let got = read(Bytes::from(data.clone()), 0, &mut budget).unwrap();
        assert_eq!((offsets(&got), got.next_offset), (vec![0, 1, 2], 3));
        assert_eq!(budget.records, 2);
        // Then the next partition of the same answer gets nothing more than what is left.
        let got = read(Bytes::from(three(0, Compression::None)), 0, &mut budget).unwrap();
        assert_eq!((got.records.len(), got.next_offset), (0, 0));
        // Inflated bytes count against the budget too.
        let mut budget = Budget {
            records: MAX_RECORDS,
            inflated: 10,
        };
        let got = read(Bytes::from(data), 0, &mut budget).unwrap();
        assert_eq!((offsets(&got), got.next_offset), (vec![0, 1, 2], 3));
    }

    #[test]
    fn no_truncation_or_corruption_panics() {
        let mut data = three(0, Compression::None);
        data.extend(three(3, Compression::Gzip));
        data.extend(three(6, Compression::Snappy));
        let mut marker = record(9, 5000, "", Some("\0\0\0\0\0\0"));
        marker.control = true;
        data.extend(batch(&[marker], Compression::None));
        assert_eq!(read_all(&data, 0).unwrap().next_offset, 10);
        for n in 0..data.len() {
            let _ = read_all(&data[..n], 0);
            // Every byte flipped in turn: CRC failures mostly, header fields too.
            let mut flipped = data.clone();
            flipped[n] ^= 0xa5;
            let _ = read_all(&flipped, 0);
        }
        // Headers resealed after a flip, so the walk and the codecs see the damage.
        for n in 21..HEADER {
            let mut flipped = three(0, Compression::Gzip);
            flipped[n] ^= 0x5a;
            seal(&mut flipped);
            let _ = read_all(&flipped, 0);
        }
    }
}
