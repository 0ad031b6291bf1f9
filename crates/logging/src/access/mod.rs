//! Access logs: the stage's `accessLogSettings.format`, compiled once into
//! an [`AccessLogTemplate`] over `$context` variables.
//!
//! Validation follows AWS: the format must contain `$context.requestId` or
//! `$context.extendedRequestId`, be one line, at most 3 KB, and use only
//! `$context` variables (`$input`, `$stageVariables`, `$util`, `$method` and
//! `$integration` are refused), each of which must exist.
//!
//! Values are inserted as they are, unquoted and unescaped, as API Gateway
//! does; a missing value prints `-`. One choice where AWS is silent: control
//! characters in a value (a newline in a User-Agent) are written as `\n`,
//! `\r`, `\t` or `\u00XX`, so one request always stays one line.

use std::fmt::Write as _;

use gatewatch_gateway::context::{ContextValue, ContextVariable, RequestContext};

/// Largest format (3 KB, API Gateway's access-log template limit).
pub const MAX_FORMAT_BYTES: usize = 3 * 1024;

/// The API Gateway console's presets, by name.
pub mod presets {
    /// Common Log Format.
    pub const CLF: &str = "$context.identity.sourceIp $context.identity.caller $context.identity.user [$context.requestTime]\"$context.httpMethod $context.resourcePath $context.protocol\" $context.status $context.responseLength $context.requestId $context.extendedRequestId";
    /// JSON.
    pub const JSON: &str = "{ \"requestId\":\"$context.requestId\", \"extendedRequestId\":\"$context.extendedRequestId\",\"ip\": \"$context.identity.sourceIp\", \"caller\":\"$context.identity.caller\", \"user\":\"$context.identity.user\", \"requestTime\":\"$context.requestTime\", \"httpMethod\":\"$context.httpMethod\", \"resourcePath\":\"$context.resourcePath\", \"status\":\"$context.status\", \"protocol\":\"$context.protocol\", \"responseLength\":\"$context.responseLength\" }";
    /// XML.
    pub const XML: &str = "<request id=\"$context.requestId\"> <extendedRequestId>$context.extendedRequestId</extendedRequestId> <ip>$context.identity.sourceIp</ip> <caller>$context.identity.caller</caller> <user>$context.identity.user</user> <requestTime>$context.requestTime</requestTime> <httpMethod>$context.httpMethod</httpMethod> <resourcePath>$context.resourcePath</resourcePath> <status>$context.status</status> <protocol>$context.protocol</protocol> <responseLength>$context.responseLength</responseLength> </request>";
    /// CSV.
    pub const CSV: &str = "$context.identity.sourceIp,$context.identity.caller,$context.identity.user,$context.requestTime,$context.httpMethod,$context.resourcePath,$context.protocol,$context.status,$context.responseLength,$context.requestId,$context.extendedRequestId";

    /// A preset by name (`clf`, `json`, `xml`, `csv`, any case).
    pub fn by_name(name: &str) -> Option<&'static str> {
        match name.to_ascii_lowercase().as_str() {
            "clf" => Some(CLF),
            "json" => Some(JSON),
            "xml" => Some(XML),
            "csv" => Some(CSV),
            _ => None,
        }
    }
}

/// Why a format was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// Neither `$context.requestId` nor `$context.extendedRequestId`.
    #[error("Access Log format must contain at least one of $context.requestId or $context.extendedRequestId")]
    MissingRequestId,
    /// A line break.
    #[error("Access Log format must be a single line (it contains a line break)")]
    MultiLine,
    /// Longer than 3 KB.
    #[error("Access Log format is {0} bytes, more than the limit of 3072")]
    TooLong(usize),
    /// `$context.nope`.
    #[error(
        "Invalid variable reference in Access Log format: $context.{0} is not a known variable"
    )]
    UnknownVariable(String),
    /// `$input.body` and friends.
    #[error("Access Log format may use only $context variables, found ${0}")]
    NotContext(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Literal(String),
    Var {
        var: ContextVariable,
        /// Its text never needs escaping
        /// ([`ContextVariable::is_plain_text`]).
        plain: bool,
    },
}

/// A compiled access-log format.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessLogTemplate {
    parts: Vec<Part>,
    /// The format it was compiled from.
    pub format: String,
}

impl AccessLogTemplate {
    /// Compiles and validates a format.
    pub fn compile(format: &str) -> Result<AccessLogTemplate, FormatError> {
        if format.len() > MAX_FORMAT_BYTES {
            return Err(FormatError::TooLong(format.len()));
        }
        if format.contains(['\n', '\r']) {
            return Err(FormatError::MultiLine);
        }
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = format;
        let mut has_id = false;
        while let Some(i) = rest.find('$') {
            literal.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let word_len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
                .unwrap_or(after.len());
            let word = after[..word_len].trim_end_matches('.');
            if let Some(name) = word.strip_prefix("context.") {
                let var = ContextVariable::parse(name)
                    .ok_or_else(|| FormatError::UnknownVariable(name.to_string()))?;
                has_id |= matches!(
                    var,
                    ContextVariable::RequestId | ContextVariable::ExtendedRequestId
                );
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal)));
                }
                parts.push(Part::Var {
                    plain: var.is_plain_text(),
                    var,
                });
                rest = &after[word.len()..];
                continue;
            }
            let root = word.split('.').next().unwrap_or("");
            if ["input", "stageVariables", "util", "method", "integration"].contains(&root) {
                return Err(FormatError::NotContext(word.to_string()));
            }
            literal.push('$');
            rest = after;
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        if !has_id {
            return Err(FormatError::MissingRequestId);
        }
        Ok(AccessLogTemplate {
            parts,
            format: format.to_string(),
        })
    }

    /// The line for one request.
    pub fn render(&self, ctx: &RequestContext) -> String {
        let mut out = String::with_capacity(self.format.len() + 128);
        self.render_into(ctx, &mut out);
        out
    }

    /// Appends the line for one request to `out`.
    pub fn render_into(&self, ctx: &RequestContext, out: &mut String) {
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Var { var, plain } => match var.typed_value(ctx) {
                    Some(ContextValue::Number(n)) => push_number(out, n),
                    Some(ContextValue::Text(value)) if !value.is_empty() => {
                        if *plain {
                            debug_assert!(
                                !value.chars().any(char::is_control),
                                "{var:?}: {value:?}"
                            );
                            out.push_str(&value)
                        } else {
                            push_one_line(out, &value)
                        }
                    }
                    _ => out.push('-'),
                },
            }
        }
    }

    /// The variables the format uses.
    pub fn variables(&self) -> impl Iterator<Item = &ContextVariable> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var { var, .. } => Some(var),
            Part::Literal(_) => None,
        })
    }
}

/// Appends `n` in decimal, formatted into the line without an intermediate
/// string (`itoa`: `fmt` costs a few hundred instructions per number).
fn push_number(out: &mut String, n: u128) {
    let mut digits = itoa::Buffer::new();
    // Statuses, lengths and latencies fit in 64 bits, whose formatting is
    // much cheaper than 128-bit division.
    out.push_str(match u64::try_from(n) {
        Ok(small) => digits.format(small),
        Err(_) => digits.format(n),
    });
}

/// True when `value` holds a byte that starts a control character: C0,
/// DEL, or C1 (whose UTF-8 form starts with 0xC2, also the lead byte of
/// U+00A0..U+00BF such as `©`, which then take the slower, exact path).
fn may_hold_control(value: &str) -> bool {
    // No early exit: the loop compiles to vector compares, which beat a
    // byte-at-a-time search on the short values of an access line.
    value.bytes().fold(false, |seen, b| {
        seen | (b < 0x20) | (b == 0x7f) | (b == 0xc2)
    })
}

fn push_one_line(out: &mut String, value: &str) {
    // Most values hold no control character: copy them whole.
    if !may_hold_control(value) {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// The log group an access-log destination ARN names:
/// `arn:aws:logs:{region}:{account}:log-group:{name}` (a trailing `:*` is
/// accepted and dropped, as console users often paste it).
pub fn destination_group(arn: &str) -> Result<String, String> {
    let rest = arn
        .strip_prefix("arn:")
        .ok_or_else(|| format!("Invalid ARN specified in the request: {arn}"))?;
    let mut parts = rest.splitn(5, ':');
    let partition = parts.next().unwrap_or("");
    let service = parts.next().unwrap_or("");
    let _region = parts.next().unwrap_or("");
    let _account = parts.next().unwrap_or("");
    let resource = parts.next().unwrap_or("");
    if !partition.starts_with("aws") {
        return Err(format!("Invalid ARN specified in the request: {arn}"));
    }
    if service == "firehose" {
        return Err(format!(
            "Kinesis Data Firehose destinations are not supported by Gatewatch: {arn}"
        ));
    }
    let name = resource
        .strip_prefix("log-group:")
        .map(|n| n.strip_suffix(":*").unwrap_or(n))
        .filter(|_| service == "logs")
        .ok_or_else(|| format!("Invalid ARN specified in the request: {arn} is not a CloudWatch Logs log group ARN"))?;
    gatewatch_store::names::log_group_name(name, "destinationArn").map_err(|e| e.to_string())?;
    Ok(name.to_string())
}

#[cfg(test)]
mod tests;
