//! Request ids in API Gateway's shapes.

use base64::Engine;
use rand::Rng;
use std::time::SystemTime;

/// A new request id: a random UUID, as in `x-amzn-RequestId`.
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The request id for a request whose client sent its own `x-amzn-RequestId`:
/// a UUID is kept; anything else is replaced by a new id with the suffix
/// `_REPLACED_INVALID_REQUEST_ID`, as AWS logs it.
pub fn request_id_from_client(supplied: Option<&str>) -> String {
    match supplied {
        None => new_request_id(),
        Some(s) if uuid::Uuid::try_parse(s).is_ok() => s.to_ascii_lowercase(),
        Some(_) => format!("{}_REPLACED_INVALID_REQUEST_ID", new_request_id()),
    }
}

/// An extended request id: 16 base64 characters ending in `=` (11 random
/// bytes), like `Vts2pH6ArPEFcuQ=`.
pub fn extended_request_id() -> String {
    let bytes: [u8; 11] = rand::rng().random();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// An X-Ray trace id, `1-{8 hex seconds}-{24 hex random}`.
pub fn xray_trace_id(now: SystemTime) -> String {
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let random: [u8; 12] = rand::rng().random();
    let mut out = format!("1-{:08x}-", secs as u32);
    for b in random {
        out.push_str(&format!("{b:02x}"));
    }
    out
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
    }
}
