//! Request ids in API Gateway's shapes.

use base64::Engine;
use rand::RngCore;
use std::time::SystemTime;

/// A new request id: a random UUID, as in `x-amzn-RequestId`.
pub fn new_request_id() -> String {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    uuid::Uuid::new_v4()
        .hyphenated()
        .encode_lower(&mut buf)
        .to_string()
}

/// The request id for a request whose client sent its own `x-amzn-RequestId`:
/// a UUID is kept; anything else is replaced by a new id with the suffix
/// `_REPLACED_INVALID_REQUEST_ID`, as AWS logs it.
pub fn request_id_from_client(supplied: Option<&str>) -> String {
    match supplied {
        None => new_request_id(),
        // Only the canonical hyphenated form counts as a request id.
        Some(s) if s.len() == 36 && uuid::Uuid::try_parse(s).is_ok() => s.to_ascii_lowercase(),
        Some(_) => format!("{}_REPLACED_INVALID_REQUEST_ID", new_request_id()),
    }
}

/// An extended request id: 16 base64 characters ending in `=` (11 random
/// bytes), like `Vts2pH6ArPEFcuQ=`.
pub fn extended_request_id() -> String {
    // One fill, not a random draw per byte.
    let mut bytes = [0u8; 11];
    rand::rng().fill_bytes(&mut bytes);
    let mut out = [0u8; 16];
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(bytes, &mut out)
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

/// An X-Ray trace id, `1-{8 hex seconds}-{24 hex random}`.
pub fn xray_trace_id(now: SystemTime) -> String {
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut random = [0u8; 12];
    rand::rng().fill_bytes(&mut random);
    let mut out = [0u8; 35];
    out[..2].copy_from_slice(b"1-");
    hex_into(&mut out[2..10], &(secs as u32).to_be_bytes());
    out[10] = b'-';
    hex_into(&mut out[11..], &random);
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
    fn id_shapes() {
        let ext = extended_request_id();
        assert_eq!(ext.len(), 16);
        assert!(ext.ends_with('='));
        let trace =
            xray_trace_id(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(0x5c755b5d));
        assert!(trace.starts_with("1-5c755b5d-"));
        assert_eq!(trace.len(), 2 + 8 + 1 + 24);
        assert!(uuid::Uuid::try_parse(&new_request_id()).is_ok());
        let kept = "515F1E99-39DB-11E9-9E96-01E5C04505B9";
        assert_eq!(
            request_id_from_client(Some(kept)),
            kept.to_ascii_lowercase()
        );
        assert!(request_id_from_client(Some("nope")).ends_with("_REPLACED_INVALID_REQUEST_ID"));
        assert!(
            request_id_from_client(Some("515f1e9939db11e99e9601e5c04505b9"))
                .ends_with("_REPLACED_INVALID_REQUEST_ID")
        );
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
