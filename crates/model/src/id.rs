//! Identifiers in API Gateway's shapes: 10 lowercase alphanumerics for REST
//! APIs, resources and deployments.
//!
//! Gatewatch derives them from stable inputs (an API's name, a resource's
//! path) so the same API keeps the same `restApiId` and URLs across restarts.

const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// FNV-1a over the parts, with a separator so `("ab","c")` ≠ `("a","bc")`.
fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0xff)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// A 10-character lowercase alphanumeric id derived from `parts`.
///
/// ```
/// let a = gatewatch_model::id::stable_id(&["restapi", "Pet Store"]);
/// assert_eq!(a.len(), 10);
/// assert_eq!(a, gatewatch_model::id::stable_id(&["restapi", "Pet Store"]));
/// ```
pub fn stable_id(parts: &[&str]) -> String {
    // Mix once more so that short inputs still spread over all ten characters.
    let mut h = fnv1a(parts);
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    let mut out = String::with_capacity(10);
    for _ in 0..10 {
        out.push(ALPHABET[(h % 36) as usize] as char);
        h /= 36;
    }
    out
}

/// True when `id` has the shape of a REST API id (10 lowercase alphanumerics).
pub fn is_rest_api_id(id: &str) -> bool {
    id.len() == 10
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = stable_id(&["restapi", "pets"]);
        assert!(is_rest_api_id(&a));
        assert_eq!(a, stable_id(&["restapi", "pets"]));
        assert_ne!(a, stable_id(&["restapi", "pet"]));
        assert_ne!(stable_id(&["ab", "c"]), stable_id(&["a", "bc"]));
    }
}
