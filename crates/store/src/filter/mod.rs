//! CloudWatch Logs filter patterns: one parser and matcher for
//! FilterLogEvents, metric filters and subscription filters.
//!
//! The family is chosen by the first non-blank character: `{` is a JSON
//! pattern, `[` a space-delimited pattern, anything else a term pattern.
//! An empty pattern matches every event. Matching is case-sensitive.
//!
//! Choices where AWS's behaviour is not documented:
//! - Term patterns: plain terms must all occur, at least one `?` term must
//!   occur when there are any, and no `-` term may occur. Terms are
//!   substrings, not words.
//! - A numeric comparison against a JSON string that holds a plain decimal
//!   number (API Gateway's `"status": "200"`) compares the number.
//! - Space-delimited messages: runs of spaces separate fields; `"..."` and
//!   `[...]` are one field each, without their delimiters.
//! - JSON patterns read only the members their selectors reach; the rest of
//!   a message must be JSON syntax but is not decoded, so a lone surrogate
//!   escape or an out-of-range number there does not stop a match.

mod json;
mod pruned;
mod space;
mod value;

use crate::error::StoreError;

/// A parsed filter pattern.
#[derive(Debug, Clone)]
pub enum FilterPattern {
    /// The empty pattern: every event.
    All,
    /// Terms, phrases, alternatives, exclusions, regexes.
    Terms(TermPattern),
    /// `{ $.field = value && ... }`, with the keys its selectors follow.
    Json(json::JsonExpr, pruned::Paths),
    /// `[a, b = 4*, ..., c > 10]`.
    Space(space::SpacePattern),
}

/// A term pattern.
#[derive(Debug, Clone, Default)]
pub struct TermPattern {
    required: Vec<value::Text>,
    any_of: Vec<value::Text>,
    excluded: Vec<value::Text>,
}

/// Longest filter pattern accepted (1024 characters).
pub const MAX_PATTERN_CHARS: usize = 1024;

impl FilterPattern {
    /// Parses a pattern; errors are `InvalidParameterException`s naming the problem.
    pub fn parse(pattern: &str) -> Result<FilterPattern, StoreError> {
        if pattern.chars().count() > MAX_PATTERN_CHARS {
            return Err(StoreError::constraint(
                pattern,
                "filterPattern",
                "Member must have length less than or equal to 1024",
            ));
        }
        let trimmed = pattern.trim();
        let invalid = |why: String| {
            StoreError::InvalidParameter(format!("Invalid filter pattern '{pattern}': {why}"))
        };
        if trimmed.is_empty() {
            return Ok(FilterPattern::All);
        }
        if trimmed.starts_with('{') {
            return json::parse(trimmed)
                .map(|expr| {
                    let paths = pruned::Paths::of(&expr);
                    FilterPattern::Json(expr, paths)
                })
                .map_err(invalid);
        }
        if trimmed.starts_with('[') {
            return space::parse(trimmed)
                .map(FilterPattern::Space)
                .map_err(invalid);
        }
        parse_terms(trimmed)
            .map(FilterPattern::Terms)
            .map_err(invalid)
    }

    /// Texts every matching message contains: a term pattern's plain
    /// terms and phrases (not its `?` alternatives, exclusions or
    /// regexes). A read can pass over a whole block of messages whose
    /// bytes lack one of them without looking at its messages one by one.
    pub fn required_literals(&self) -> Vec<&str> {
        match self {
            FilterPattern::Terms(t) => t
                .required
                .iter()
                .filter_map(|x| match x {
                    value::Text::Literal(s) if !s.is_empty() => Some(s.as_str()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// True when the event message matches.
    pub fn matches(&self, message: &str) -> bool {
        match self {
            FilterPattern::All => true,
            FilterPattern::Terms(t) => {
                t.required.iter().all(|x| x.found_in(message))
                    && (t.any_of.is_empty() || t.any_of.iter().any(|x| x.found_in(message)))
                    && !t.excluded.iter().any(|x| x.found_in(message))
            }
            // Only the members the selectors reach are read (see `pruned`).
            FilterPattern::Json(expr, paths) => match pruned::read(message, paths) {
                Some(doc @ serde_json::Value::Object(_)) => expr.eval(&doc),
                _ => false,
            },
            FilterPattern::Space(p) => p.matches(message),
        }
    }
}

fn parse_terms(text: &str) -> Result<TermPattern, String> {
    let mut pattern = TermPattern::default();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let (list, start) = match chars[i] {
            '?' => (&mut pattern.any_of, i + 1),
            '-' if i + 1 < chars.len() && !chars[i + 1].is_whitespace() => {
                (&mut pattern.excluded, i + 1)
            }
            _ => (&mut pattern.required, i),
        };
        let (term, next) = value::read_text(&chars, start)?;
        list.push(term);
        i = next;
    }
    Ok(pattern)
}

#[cfg(test)]
mod tests;
