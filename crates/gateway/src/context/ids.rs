//! Request ids in API Gateway's shapes.

use base64::Engine;
use rand::RngCore;
use std::time::SystemTime;

/// The three ids of a new request, drawn from one fill of random bytes
/// (one draw instead of one per id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestIds {
    /// `$context.requestId`: a random UUID, as in `x-amzn-RequestId`. A
    /// client that sent its own `x-amzn-RequestId` keeps it when it is a
    /// UUID; anything else is replaced by a new id with the suffix
    /// `_REPLACED_INVALID_REQUEST_ID`, as AWS logs it.
    pub request_id: String,
    /// `$context.extendedRequestId`: 16 base64 characters ending in `=`
    /// (11 random bytes), like `Vts2pH6ArPEFcuQ=`.
    pub extended_request_id: String,
    /// `$context.xrayTraceId`, `1-{8 hex seconds}-{24 hex random}`: the
    /// client's when its `X-Amzn-Trace-Id` holds a well-formed one (see
    /// [`xray_trace_id_from_header`]), else a new one.
    pub xray_trace_id: String,
}

const UUID_BYTES: usize = 16;
const EXTENDED_BYTES: usize = 11;
const TRACE_BYTES: usize = 12;

impl RequestIds {
    /// The ids of a request received at `now`, given the client's
    /// `x-amzn-RequestId` and `X-Amzn-Trace-Id` headers.
    pub fn new(
        now: SystemTime,
        client_request_id: Option<&str>,
        client_trace: Option<&str>,
    ) -> RequestIds {
        let mut random = [0u8; UUID_BYTES + EXTENDED_BYTES + TRACE_BYTES];
        rand::rng().fill_bytes(&mut random);
        let (uuid, rest) = random.split_at(UUID_BYTES);
        let (extended, trace) = rest.split_at(EXTENDED_BYTES);
        RequestIds {
            request_id: request_id_or_replacement(client_request_id, uuid),
            extended_request_id: extended_from(extended),
            xray_trace_id: client_trace
                .and_then(xray_trace_id_from_header)
                .unwrap_or_else(|| trace_from(now, trace)),
        }
    }
}

/// A version 4 UUID made of `random`, hyphenated in lower case.
fn uuid_from(random: &[u8]) -> String {
    let mut bytes = [0u8; UUID_BYTES];
    bytes.copy_from_slice(&random[..UUID_BYTES]);
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let text = uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .encode_lower(&mut buf);
    String::from(&*text)
}

/// The client's own request id when it is a UUID, else a new one made of
/// `random` (see [`RequestIds::request_id`]).
fn request_id_or_replacement(supplied: Option<&str>, random: &[u8]) -> String {
    match supplied {
        None => uuid_from(random),
        // Only the canonical hyphenated form counts as a request id.
        Some(s) if s.len() == 36 && uuid::Uuid::try_parse(s).is_ok() => s.to_ascii_lowercase(),
        Some(_) => format!("{}_REPLACED_INVALID_REQUEST_ID", uuid_from(random)),
    }
}

/// An extended request id made of `random` (11 bytes).
fn extended_from(random: &[u8]) -> String {
    let mut out = [0u8; 16];
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(random, &mut out)
        .unwrap_or(0);
    ascii_string(&out[..written])
}

/// A string of bytes known to be ASCII (ids written here); anything else
/// gives an empty string rather than a panic.
pub(super) fn ascii_string(bytes: &[u8]) -> String {
    std::str::from_utf8(bytes)
        .map(String::from)
        .unwrap_or_default()
}

/// An X-Ray trace id for `now` made of `random` (12 bytes).
fn trace_from(now: SystemTime, random: &[u8]) -> String {
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut out = [0u8; 35];
    out[..2].copy_from_slice(b"1-");
    hex_into(&mut out[2..10], &(secs as u32).to_be_bytes());
    out[10] = b'-';
    hex_into(&mut out[11..], random);
    ascii_string(&out)
}

/// Writes `bytes` as lowercase hex into `out` (twice their length).
fn hex_into(out: &mut [u8], bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 0xf)];
    }
}

/// The trace id of a client's `X-Amzn-Trace-Id: Root=1-…;…` header, when it
/// holds a well-formed one, so the trace continues through the gateway.
pub fn xray_trace_id_from_header(value: &str) -> Option<String> {
    let root = value
        .split(';')
        .find_map(|part| part.trim().strip_prefix("Root="))?;
    let mut parts = root.split('-');
    let ok = parts.next() == Some("1")
        && parts
            .next()
            .is_some_and(|p| p.len() == 8 && p.bytes().all(|b| b.is_ascii_hexdigit()))
        && parts
            .next()
            .is_some_and(|p| p.len() == 24 && p.bytes().all(|b| b.is_ascii_hexdigit()))
        && parts.next().is_none();
    ok.then(|| root.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_draw_gives_three_well_formed_distinct_ids() {
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(0x5c755b5d);
        let a = RequestIds::new(now, None, None);
        let b = RequestIds::new(now, None, None);
        assert_ne!(a, b);
        let uuid = uuid::Uuid::try_parse(&a.request_id).unwrap();
        assert_eq!(uuid.get_version_num(), 4);
        assert_eq!(a.request_id, a.request_id.to_ascii_lowercase());
        assert_eq!(a.extended_request_id.len(), 16);
        assert!(a.extended_request_id.ends_with('='));
        assert!(a.xray_trace_id.starts_with("1-5c755b5d-"));
        assert_eq!(a.xray_trace_id.len(), 35);
        // The client's own ids are kept, or replaced as AWS does.
        let kept = RequestIds::new(
            now,
            Some("515F1E99-39DB-11E9-9E96-01E5C04505B9"),
            Some("Root=1-5c755b5d-07b29b94e632d3da19d88789;Sampled=1"),
        );
        assert_eq!(kept.request_id, "515f1e99-39db-11e9-9e96-01e5c04505b9");
        assert_eq!(kept.xray_trace_id, "1-5c755b5d-07b29b94e632d3da19d88789");
        let replaced = RequestIds::new(now, Some("nope"), Some("Root=bad"));
        assert!(replaced
            .request_id
            .ends_with("_REPLACED_INVALID_REQUEST_ID"));
        assert!(replaced.xray_trace_id.starts_with("1-5c755b5d-"));
        // Only the canonical hyphenated form counts as a UUID.
        let unhyphenated = RequestIds::new(now, Some("515f1e9939db11e99e9601e5c04505b9"), None);
        assert!(unhyphenated
            .request_id
            .ends_with("_REPLACED_INVALID_REQUEST_ID"));
        assert_eq!(
            xray_trace_id_from_header("Root=1-5c755b5d-07b29b94e632d3da19d88789;Sampled=1")
                .as_deref(),
            Some("1-5c755b5d-07b29b94e632d3da19d88789")
        );
        assert_eq!(
            xray_trace_id_from_header("Root=1-zz-07b29b94e632d3da19d88789"),
            None
        );
    }
}
