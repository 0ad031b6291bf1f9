//! Validation of names and values, with CloudWatch Logs' constraints and
//! messages.

use crate::error::{StoreError, StoreResult};

/// Retention values CloudWatch Logs accepts (`retentionInDays`).
pub const RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

fn length(value: &str, member: &str, min: usize, max: usize) -> StoreResult<()> {
    let n = value.chars().count();
    if n < min {
        return Err(StoreError::constraint(
            value,
            member,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if n > max {
        return Err(StoreError::constraint(
            value,
            member,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// `LogGroupName`: 1–512 of `[\.\-_/#A-Za-z0-9]`.
pub fn log_group_name(name: &str, member: &str) -> StoreResult<()> {
    length(name, member, 1, 512)?;
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-/#".contains(&b))
    {
        return Err(StoreError::constraint(
            name,
            member,
            "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+",
        ));
    }
    Ok(())
}

/// A name for a new group: also must not start with `aws/`.
pub fn new_log_group_name(name: &str) -> StoreResult<()> {
    log_group_name(name, "logGroupName")?;
    if name.starts_with("aws/") {
        return Err(StoreError::InvalidParameter(
            "Log group names cannot start with 'aws/'. That prefix is reserved.".into(),
        ));
    }
    Ok(())
}

/// `LogStreamName`: 1–512, no `:` or `*`.
pub fn log_stream_name(name: &str, member: &str) -> StoreResult<()> {
    length(name, member, 1, 512)?;
    if name.contains([':', '*']) {
        return Err(StoreError::constraint(
            name,
            member,
            "Member must satisfy regular expression pattern: [^:*]*",
        ));
    }
    Ok(())
}

/// `FilterName`: 1–512, no `:` or `*`.
pub fn filter_name(name: &str) -> StoreResult<()> {
    length(name, "filterName", 1, 512)?;
    if name.contains([':', '*']) {
        return Err(StoreError::constraint(
            name,
            "filterName",
            "Member must satisfy regular expression pattern: [^:*]*",
        ));
    }
    Ok(())
}

/// `retentionInDays`: one of [`RETENTION_DAYS`].
pub fn retention_days(days: i64) -> StoreResult<u32> {
    match u32::try_from(days) {
        Ok(d) if RETENTION_DAYS.contains(&d) => Ok(d),
        _ => Err(StoreError::constraint(
            &days.to_string(),
            "retentionInDays",
            "Member must satisfy enum value set: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]",
        )),
    }
}

/// A tag key: 1–128 letters, digits, spaces and `_.:/=+-@`.
pub fn tag_key(key: &str) -> StoreResult<()> {
    length(key, "tags", 1, 128)?;
    if !key.chars().all(tag_char) {
        return Err(StoreError::constraint(
            key,
            "tags",
            "Member must satisfy regular expression pattern: ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+)$",
        ));
    }
    Ok(())
}

/// A tag value: 0–256 of the same characters.
pub fn tag_value(value: &str) -> StoreResult<()> {
    length(value, "tags", 0, 256)?;
    if !value.chars().all(tag_char) {
        return Err(StoreError::constraint(
            value,
            "tags",
            "Member must satisfy regular expression pattern: ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$",
        ));
    }
    Ok(())
}

fn tag_char(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_cloudwatch_rules() {
        assert!(log_group_name("API-Gateway-Execution-Logs_abc/dev", "logGroupName").is_ok());
        assert!(log_group_name("/aws/lambda/fn", "logGroupName").is_ok());
        let err = log_group_name("bad name", "logGroupName").unwrap_err();
        assert_eq!(err.to_string(), "1 validation error detected: Value 'bad name' at 'logGroupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+");
        assert!(log_group_name("", "logGroupName").is_err());
        assert!(log_group_name(&"a".repeat(513), "logGroupName").is_err());
        assert!(new_log_group_name("aws/mine").is_err());
        assert!(log_stream_name("2024/01/01/[$LATEST]abc", "logStreamName").is_ok());
        assert!(log_stream_name("a:b", "logStreamName").is_err());
        assert_eq!(retention_days(14), Ok(14));
        assert!(retention_days(2).is_err());
        assert!(tag_key("team name").is_ok());
        assert!(tag_key("bad!").is_err());
    }
}
