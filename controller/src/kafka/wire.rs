//! Kafka's framing: every request and response is a 4-byte big-endian size and that many bytes, a header
//! (with the correlation id that pairs a response with its request) and the body. Responses are capped in
//! size, their header is checked, and their layout is walked (`shape`) before the body is decoded.

use std::io;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::shape;
use super::versions::Api;

/// The largest response accepted: far above what a lag read of a large cluster returns (metadata of tens
/// of thousands of partitions is a few MiB), far below what would hurt the controller.
pub(crate) const MAX_RESPONSE: usize = 100 << 20;

/// The client id brokers log and quota requests by.
pub(crate) const CLIENT_ID: &str = "connect-warden";

/// Why a response could not be read off the connection.
#[derive(Debug)]
pub(crate) enum FrameError {
    Io(io::Error),
    /// The size prefix is over the cap.
    TooLarge(u64),
    /// The size prefix is negative.
    Negative(i32),
    /// The first bytes are a TLS record, not a Kafka size: a TLS listener answering plaintext.
    Tls,
}

/// A request as it goes on the wire: size, header (its version follows from the request's), body.
pub(crate) fn encode_request<R: Encodable>(
    api: Api,
    version: i16,
    header_version: i16,
    correlation_id: i32,
    body: &R,
) -> Result<BytesMut, String> {
    let mut header = RequestHeader::default();
    header.request_api_key = api.key() as i16;
    header.request_api_version = version;
    header.correlation_id = correlation_id;
    header.client_id = Some(StrBytes::from_static_str(CLIENT_ID));
    let mut buf = BytesMut::with_capacity(128);
    buf.put_i32(0);
    header
        .encode(&mut buf, header_version)
        .map_err(|e| e.to_string())?;
    body.encode(&mut buf, version).map_err(|e| e.to_string())?;
    let size = i32::try_from(buf.len() - 4).map_err(|_| "the request is over 2 GiB".to_string())?;
    if let Some(prefix) = buf.get_mut(..4) {
        prefix.copy_from_slice(&size.to_be_bytes());
    }
    Ok(buf)
}

/// The size a response announces, refused when negative, over `max`, or not a size at all.
pub(crate) fn frame_size(prefix: [u8; 4], max: usize) -> Result<usize, FrameError> {
    // A TLS record starts with its type (alert 21, handshake 22) and major version 3: as a size, hundreds
    // of MiB. A TLS listener sends an alert when a plaintext request arrives.
    if matches!(prefix, [21 | 22, 3, _, _]) {
        return Err(FrameError::Tls);
    }
    let size = i32::from_be_bytes(prefix);
    let size = usize::try_from(size).map_err(|_| FrameError::Negative(size))?;
    if size > max {
        return Err(FrameError::TooLarge(size as u64));
    }
    Ok(size)
}

/// Reads one response off `stream`. The buffer grows with the bytes that arrive, not with the size
/// announced, and a stream that ends early is an `UnexpectedEof`.
pub(crate) async fn read_frame<S: AsyncRead + Unpin>(
    stream: &mut S,
    max: usize,
) -> Result<Bytes, FrameError> {
    let mut prefix = [0u8; 4];
    stream
        .read_exact(&mut prefix)
        .await
        .map_err(FrameError::Io)?;
    let size = frame_size(prefix, max)?;
    let mut body = Vec::with_capacity(size.min(64 << 10));
    let read = stream
        .take(size as u64)
        .read_to_end(&mut body)
        .await
        .map_err(FrameError::Io)?;
    if read < size {
        return Err(FrameError::Io(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("the response ended after {read} of {size} bytes"),
        )));
    }
    Ok(Bytes::from(body))
}

/// The body of a response, once its header shows it answers `correlation_id`.
pub(crate) fn split_header(
    mut frame: Bytes,
    header_version: i16,
    correlation_id: i32,
) -> Result<Bytes, String> {
    let header =
        ResponseHeader::decode(&mut frame, header_version).map_err(|e| format!("header: {e}"))?;
    if header.correlation_id != correlation_id {
        return Err(format!(
            "it answers request {} where request {correlation_id} was sent",
            header.correlation_id
        ));
    }
    Ok(frame)
}

/// A response body decoded, after its layout was walked.
pub(crate) fn decode_body<T: Decodable>(api: Api, body: Bytes, version: i16) -> Result<T, String> {
    shape::check(api, &body, version)?;
    let mut body = body;
    T::decode(&mut body, version).map_err(|e| e.to_string())
}

/// The error code every response body of `ApiVersions` starts with, whatever its version.
pub(crate) fn leading_error_code(body: &[u8]) -> Option<i16> {
    body.first_chunk::<2>().map(|b| i16::from_be_bytes(*b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::{ApiVersionsRequest, MetadataRequest};
    use kafka_protocol::protocol::HeaderVersion;

    #[test]
    fn a_request_is_its_size_then_header_then_body() {
        let req = MetadataRequest::default().with_topics(None);
        let header_version = MetadataRequest::header_version(12);
        let buf = encode_request(Api::Metadata, 12, header_version, 7, &req).unwrap();
        let size = i32::from_be_bytes(buf[..4].try_into().unwrap());
        assert_eq!(size as usize, buf.len() - 4);
        // Header v2: api key 3, version 12, correlation id 7, client id (INT16 length), no tags.
        assert_eq!(&buf[4..6], &3i16.to_be_bytes());
        assert_eq!(&buf[6..8], &12i16.to_be_bytes());
        assert_eq!(&buf[8..12], &7i32.to_be_bytes());
        assert_eq!(&buf[12..14], &(CLIENT_ID.len() as i16).to_be_bytes());
        assert_eq!(&buf[14..14 + CLIENT_ID.len()], CLIENT_ID.as_bytes());
        // ApiVersions v3 takes header v2 as well.
        let req = ApiVersionsRequest::default();
        let buf = encode_request(Api::ApiVersions, 3, 2, 1, &req).unwrap();
        assert_eq!(&buf[4..6], &18i16.to_be_bytes());
    }

    #[test]
    fn sizes_over_the_cap_negative_or_tls_are_refused() {
        assert_eq!(frame_size(10i32.to_be_bytes(), 100).ok(), Some(10));
        assert!(matches!(
            frame_size(101i32.to_be_bytes(), 100),
            Err(FrameError::TooLarge(101))
        ));
        assert!(matches!(
            frame_size((-5i32).to_be_bytes(), 100),
            Err(FrameError::Negative(-5))
        ));
        // "HTTP" as a size: 1.2 GB.
        assert!(matches!(
            frame_size(*b"HTTP", MAX_RESPONSE),
            Err(FrameError::TooLarge(_))
        ));
        // A TLS alert record.
        assert!(matches!(
            frame_size([21, 3, 3, 0], MAX_RESPONSE),
            Err(FrameError::Tls)
        ));
    }

    #[tokio::test]
    async fn frames_are_read_whole_or_not_at_all() {
        let mut wire: &[u8] = &[0, 0, 0, 3, 1, 2, 3, 9];
        assert_eq!(
            read_frame(&mut wire, 100).await.unwrap(),
            Bytes::from_static(&[1, 2, 3])
        );
        assert_eq!(wire, &[9]);
        // Truncated body, truncated prefix, nothing at all.
        for bytes in [&[0u8, 0, 0, 5, 1, 2][..], &[0, 0], &[]] {
            let mut wire = bytes;
            match read_frame(&mut wire, 100).await {
                Err(FrameError::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof),
                other => panic!("{bytes:?}: {other:?}"),
            }
        }
        // Over the cap: refused before the body is read.
        let mut wire: &[u8] = &[0, 0, 1, 0, 1];
        assert!(matches!(
            read_frame(&mut wire, 100).await,
            Err(FrameError::TooLarge(256))
        ));
    }

    #[test]
    fn a_response_to_another_request_is_refused() {
        let frame = Bytes::from(7i32.to_be_bytes().to_vec());
        assert_eq!(split_header(frame.clone(), 0, 7).unwrap(), Bytes::new());
        assert_eq!(
            split_header(frame, 0, 8).unwrap_err(),
            "it answers request 7 where request 8 was sent"
        );
        assert!(split_header(Bytes::from_static(&[0, 0]), 0, 7).is_err());
        // Header v1: a tagged-field count follows; missing, it is an error.
        assert!(split_header(Bytes::from(7i32.to_be_bytes().to_vec()), 1, 7).is_err());
    }

    #[test]
    fn a_truncated_body_is_an_error() {
        let body = Bytes::from_static(&[0, 0, 0, 0, 2]);
        assert!(
            decode_body::<kafka_protocol::messages::ListOffsetsResponse>(Api::ListOffsets, body, 9)
                .is_err()
        );
        assert_eq!(leading_error_code(&[0, 35, 1]), Some(35));
        assert_eq!(leading_error_code(&[0]), None);
    }
}
