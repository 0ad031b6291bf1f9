//! Pieces shared by the pattern families: literal text (bare, quoted or
//! `%regex%`), wildcard values, numbers and comparison operators.

use regex::Regex;

/// Text a term or value matches.
#[derive(Debug, Clone)]
pub enum Text {
    /// A literal substring.
    Literal(String),
    /// `%regex%`.
    Regex(Regex),
}

impl Text {
    /// True when the text occurs anywhere in `haystack`.
    pub fn found_in(&self, haystack: &str) -> bool {
        match self {
            Text::Literal(s) => haystack.contains(s.as_str()),
            Text::Regex(r) => r.is_match(haystack),
        }
    }
}

/// Characters AWS allows inside `%regex%`.
fn regex_char_allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || ":_#=@/;,-^$?[]{}|\\*+. ".contains(c)
}

/// Compiles the inside of `%...%`.
pub fn compile_regex(body: &str) -> Result<Regex, String> {
    if let Some(bad) = body.chars().find(|c| !regex_char_allowed(*c)) {
        return Err(format!(
            "character '{bad}' is not allowed in a regular expression"
        ));
    }
    Regex::new(body).map_err(|e| {
        format!(
            "invalid regular expression %{body}%: {}",
            e.to_string().lines().last().unwrap_or("")
        )
    })
}

/// Reads one term starting at `i`: `"quoted"`, `%regex%` or a bare run of
/// non-space characters. Returns the text and the index after it.
pub fn read_text(chars: &[char], i: usize) -> Result<(Text, usize), String> {
    match chars.get(i) {
        None => Err("a term is missing after '?' or '-'".into()),
        Some('"') => {
            let (s, next) = read_quoted(chars, i)?;
            Ok((Text::Literal(s), next))
        }
        Some('%') => {
            let end = chars[i + 1..]
                .iter()
                .position(|c| *c == '%')
                .ok_or("unterminated regular expression (missing closing %)")?;
            let body: String = chars[i + 1..i + 1 + end].iter().collect();
            Ok((Text::Regex(compile_regex(&body)?), i + end + 2))
        }
        Some(_) => {
            let end = chars[i..]
                .iter()
                .position(|c| c.is_whitespace())
                .map_or(chars.len(), |p| i + p);
            Ok((Text::Literal(chars[i..end].iter().collect()), end))
        }
    }
}

/// Reads a `"..."` string with `\"` and `\\` escapes; `i` is at the quote.
pub fn read_quoted(chars: &[char], i: usize) -> Result<(String, usize), String> {
    let mut out = String::new();
    let mut j = i + 1;
    while j < chars.len() {
        match chars[j] {
            '\\' if j + 1 < chars.len() => {
                out.push(chars[j + 1]);
                j += 2;
            }
            '"' => return Ok((out, j + 1)),
            c => {
                out.push(c);
                j += 1;
            }
        }
    }
    Err("unterminated quoted string".into())
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    /// Reads an operator at `i`; returns it and the index after it.
    pub fn read(chars: &[char], i: usize) -> Option<(Op, usize)> {
        let two: String = chars
            .get(i..i + 2)
            .map(|c| c.iter().collect())
            .unwrap_or_default();
        match two.as_str() {
            "!=" => return Some((Op::Ne, i + 2)),
            "<=" => return Some((Op::Le, i + 2)),
            ">=" => return Some((Op::Ge, i + 2)),
            "=!" => return Some((Op::Ne, i + 2)),
            _ => {}
        }
        match chars.get(i)? {
            '=' => Some((Op::Eq, i + 1)),
            '<' => Some((Op::Lt, i + 1)),
            '>' => Some((Op::Gt, i + 1)),
            _ => None,
        }
    }

    /// Applies the operator to two numbers.
    pub fn numbers(self, a: f64, b: f64) -> bool {
        match self {
            Op::Eq => a == b,
            Op::Ne => a != b,
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
        }
    }
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone)]
pub enum Operand {
    /// A number (numeric comparison).
    Number(f64),
    /// A string, with `*` wildcards at the start and/or end.
    Glob {
        /// The text without the wildcards.
        text: String,
        /// `*` at the start.
        any_prefix: bool,
        /// `*` at the end.
        any_suffix: bool,
    },
    /// `*` alone: any value.
    Any,
    /// `%regex%`.
    Regex(Regex),
}

impl Operand {
    /// Builds an operand from a value token (`quoted` says it was in quotes).
    pub fn from_token(token: &str, quoted: bool) -> Result<Operand, String> {
        if !quoted {
            if token == "*" {
                return Ok(Operand::Any);
            }
            if token.len() >= 2 && token.starts_with('%') && token.ends_with('%') {
                return Ok(Operand::Regex(compile_regex(&token[1..token.len() - 1])?));
            }
            if let Some(n) = parse_number(token) {
                return Ok(Operand::Number(n));
            }
        }
        let any_prefix = !quoted && token.starts_with('*');
        let any_suffix = !quoted && token.len() > 1 && token.ends_with('*');
        let text = token
            .strip_prefix(if any_prefix { "*" } else { "" })
            .unwrap_or(token);
        let text = if any_suffix {
            &text[..text.len() - 1]
        } else {
            text
        };
        Ok(Operand::Glob {
            text: text.to_string(),
            any_prefix,
            any_suffix,
        })
    }

    /// Compares a scalar rendered as text (and its number, when it is one).
    pub fn compare(&self, op: Op, text: &str, number: Option<f64>) -> bool {
        match self {
            Operand::Any => matches!(op, Op::Eq),
            Operand::Number(n) => number.is_some_and(|v| op.numbers(v, *n)),
            Operand::Regex(r) => match op {
                Op::Eq => r.is_match(text),
                Op::Ne => !r.is_match(text),
                _ => false,
            },
            Operand::Glob {
                text: want,
                any_prefix,
                any_suffix,
            } => {
                let hit = match (any_prefix, any_suffix) {
                    (false, false) => text == want,
                    (true, false) => text.ends_with(want.as_str()),
                    (false, true) => text.starts_with(want.as_str()),
                    (true, true) => text.contains(want.as_str()),
                };
                match op {
                    Op::Eq => hit,
                    Op::Ne => !hit,
                    _ => false,
                }
            }
        }
    }
}

/// A plain decimal number (optional sign, fraction, exponent).
pub fn parse_number(token: &str) -> Option<f64> {
    let t = token.strip_prefix('+').unwrap_or(token);
    let valid = !t.is_empty()
        && t.chars().all(|c| c.is_ascii_digit() || "-.eE+".contains(c))
        && t.chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '.');
    if !valid {
        return None;
    }
    t.parse::<f64>().ok().filter(|n| n.is_finite())
}
