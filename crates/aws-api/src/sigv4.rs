//! Reading (not verifying) SigV4 request signatures: the access key and the
//! region of the credential scope.

/// What the `Authorization` header says about the caller.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Credential {
    /// Access key id.
    pub access_key: Option<String>,
    /// Region of the credential scope.
    pub region: Option<String>,
    /// Service of the credential scope (`logs`).
    pub service: Option<String>,
}

/// Parses `AWS4-HMAC-SHA256 Credential=AKID/20240101/eu-west-1/logs/aws4_request, ...`.
pub fn parse_authorization(header: &str) -> Credential {
    let Some(rest) = header.trim().strip_prefix("AWS4-HMAC-SHA256") else {
        return Credential::default();
    };
    let credential = rest
        .split(',')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("Credential="));
    let Some(credential) = credential else {
        return Credential::default();
    };
    let mut parts = credential.split('/');
    let access_key = parts.next().filter(|s| !s.is_empty()).map(String::from);
    let _date = parts.next();
    let region = parts.next().filter(|s| !s.is_empty()).map(String::from);
    let service = parts.next().filter(|s| !s.is_empty()).map(String::from);
    Credential {
        access_key,
        region,
        service,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_credential_scope() {
        let c = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20180625/eu-west-1/logs/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
        );
        assert_eq!(c.access_key.as_deref(), Some("AKIDEXAMPLE"));
        assert_eq!(c.region.as_deref(), Some("eu-west-1"));
        assert_eq!(c.service.as_deref(), Some("logs"));
        assert_eq!(parse_authorization("Bearer x"), Credential::default());
    }
}
