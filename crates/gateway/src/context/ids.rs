//! Request ids in API Gateway's shapes.
//!
//! **Time-keyed request ids.** A request id is a random version-4 UUID, as
//! on API Gateway, but 48 of its random bits carry the request's arrival
//! time in milliseconds, masked by a mix of its other random bits so the
//! id still looks wholly random (no shared prefix between consecutive
//! requests, version and variant bits as in any v4 UUID). [`arrival_ms_of`]
//! reads the time back, which lets `gatewatch trace` look for a request's
//! lines in the few seconds around its arrival instead of in the whole
//! history. A client's own `x-amzn-RequestId` (kept when it is a UUID) and
//! ids of other origins carry no such time: for them [`arrival_ms_of`] gives
//! either nothing or an arbitrary instant, and the lookup falls back to the
//! whole history.

use base64::Engine;
use rand::RngCore;
use std::time::SystemTime;

/// The three ids of a new request, drawn from one fill of random bytes
/// (one draw instead of one per id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestIds {
    /// `$context.requestId`: a random UUID, as in `x-amzn-RequestId`,
    /// carrying its arrival time (see the module's docs). A
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
        let ms = epoch_ms(now);
        RequestIds {
            request_id: request_id_or_replacement(client_request_id, uuid, ms),
            extended_request_id: extended_from(extended),
            xray_trace_id: client_trace
                .and_then(xray_trace_id_from_header)
                .unwrap_or_else(|| trace_from(ms / 1000, trace)),
        }
    }
}

/// Milliseconds since the epoch (0 before it).
fn epoch_ms(now: SystemTime) -> u64 {
    now.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Bits of the arrival time an id carries (milliseconds until the year
/// 10889).
const TIME_BITS: u32 = 48;
const TIME_MASK: u64 = (1 << TIME_BITS) - 1;

/// The mask over an id's time bits: a mix (SplitMix64's finaliser) of its
/// last eight bytes, which are random apart from the variant bits. Not a
/// secret, only so that ids of nearby instants share no visible prefix.
fn time_mask(tail: [u8; 8]) -> u64 {
    let mut z = u64::from_be_bytes(tail).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) & TIME_MASK
}

/// A version 4 UUID made of `random`, its first six bytes holding
/// `arrival_ms` under [`time_mask`], hyphenated in lower case.
fn uuid_from(random: &[u8], arrival_ms: u64) -> String {
    let mut bytes = [0u8; UUID_BYTES];
    bytes.copy_from_slice(&random[..UUID_BYTES]);
    // Version 4 and the RFC 4122 variant (bytes 6 and 8) first, so the mask
    // is computed from the bytes the id finally has.
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let tail: [u8; 8] = bytes[8..].try_into().expect("eight bytes");
    let time = (arrival_ms & TIME_MASK) ^ time_mask(tail);
    bytes[..6].copy_from_slice(&time.to_be_bytes()[2..]);
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let text = uuid::Uuid::from_bytes(bytes)
        .hyphenated()
        .encode_lower(&mut buf);
    String::from(&*text)
}

/// The arrival time (ms since the epoch) a request id made here carries
/// (see the module's docs), read from its leading UUID (a replaced id's
/// suffix is ignored). `None` when it is not a version-4 UUID; for a UUID
/// made elsewhere the instant is arbitrary, so callers must treat it as a
/// hint.
pub fn arrival_ms_of(request_id: &str) -> Option<i64> {
    let uuid = uuid::Uuid::try_parse(request_id.get(..36)?).ok()?;
    if uuid.get_version_num() != 4 {
        return None;
    }
    let bytes = uuid.as_bytes();
    let tail: [u8; 8] = bytes[8..].try_into().ok()?;
    let mut time = [0u8; 8];
    time[2..].copy_from_slice(&bytes[..6]);
    Some((u64::from_be_bytes(time) ^ time_mask(tail)) as i64)
}

/// The client's own request id when it is a UUID, else a new one made of
/// `random` for a request that arrived at `arrival_ms` (see
/// [`RequestIds::request_id`]).
fn request_id_or_replacement(supplied: Option<&str>, random: &[u8], arrival_ms: u64) -> String {
    match supplied {
        None => uuid_from(random, arrival_ms),
        // Only the canonical hyphenated form counts as a request id.
        Some(s) if s.len() == 36 && uuid::Uuid::try_parse(s).is_ok() => s.to_ascii_lowercase(),
        Some(_) => format!(
            "{}_REPLACED_INVALID_REQUEST_ID",
            uuid_from(random, arrival_ms)
        ),
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

/// An X-Ray trace id for `secs` (since the epoch) made of `random` (12
/// bytes).
fn trace_from(secs: u64, random: &[u8]) -> String {
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
        assert_eq!(uuid.get_variant(), uuid::Variant::RFC4122);
        // Each id carries the arrival time, and ids of the same instant
        // share no visible prefix.
        assert_eq!(arrival_ms_of(&a.request_id), Some(0x5c755b5d * 1000));
        assert_eq!(arrival_ms_of(&b.request_id), Some(0x5c755b5d * 1000));
        assert_ne!(a.request_id[..8], b.request_id[..8]);
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
        assert_eq!(arrival_ms_of(&replaced.request_id), Some(0x5c755b5d * 1000));
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

    #[test]
    fn arrival_times_read_back_over_the_whole_range_and_only_from_v4_uuids() {
        for ms in [0u64, 1, 1_764_892_800_123, TIME_MASK] {
            let random: Vec<u8> = (0..UUID_BYTES as u8).map(|b| b.wrapping_mul(37)).collect();
            let id = uuid_from(&random, ms);
            assert_eq!(arrival_ms_of(&id), Some(ms as i64), "{id}");
            assert_eq!(uuid::Uuid::try_parse(&id).unwrap().get_version_num(), 4);
        }
        // Consecutive instants with the same random bits still differ.
        let random = [7u8; UUID_BYTES];
        assert_ne!(uuid_from(&random, 10), uuid_from(&random, 11));
        assert_eq!(arrival_ms_of("not an id"), None);
        assert_eq!(arrival_ms_of(""), None);
        // A version-1 UUID carries no time of ours.
        assert_eq!(arrival_ms_of("515f1e99-39db-11e9-9e96-01e5c04505b9"), None);
        // Any v4 UUID decodes to some instant: a hint, never an error.
        assert!(arrival_ms_of("c7f2a1e4-4b6f-4d4a-9a57-2f1e3c9b8d10").is_some());
    }
}
