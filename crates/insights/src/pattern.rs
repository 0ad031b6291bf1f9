//! `pattern`: clustering messages into text patterns.
//!
//! Gatewatch's clustering is deterministic: a message's pattern is its text
//! with every variable-looking token replaced by `<*>` — numbers, hex,
//! UUIDs and request ids, IP addresses, timestamps, quoted strings and
//! tokens mixing letters with digits. Messages with the same pattern form
//! one cluster. AWS uses a learned model, so patterns need not match AWS's
//! text; the columns (`@pattern`, `@ratio`, `@sampleCount`,
//! `@severityLabel`) and the arithmetic (`@ratio = @sampleCount / matched`)
//! do.

/// The pattern of one message.
pub fn template(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        if token.is_empty() {
            return;
        }
        if is_variable(token) {
            // Keep surrounding punctuation, replace the core.
            let core_start = token.find(|c: char| c.is_alphanumeric()).unwrap_or(0);
            let core_end = token
                .rfind(|c: char| c.is_alphanumeric())
                .map_or(token.len(), |i| i + 1);
            out.push_str(&token[..core_start]);
            out.push_str("<*>");
            out.push_str(&token[core_end..]);
        } else {
            out.push_str(token);
        }
        token.clear();
    };
    let chars: Vec<char> = message.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            flush(&mut token, &mut out);
            // A quoted string: kept when it is a JSON key (followed by ':'),
            // a placeholder otherwise.
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '"' {
                if chars[j] == '\\' {
                    j += 1;
                }
                j += 1;
            }
            let end = j.min(chars.len());
            let mut k = end + 1;
            while k < chars.len() && chars[k] == ' ' {
                k += 1;
            }
            if chars.get(k) == Some(&':') {
                out.extend(&chars[i..(end + 1).min(chars.len())]);
            } else {
                out.push_str("\"<*>\"");
            }
            i = end + 1;
            continue;
        }
        if c.is_whitespace()
            || matches!(c, ',' | ';' | '=' | '(' | ')' | '[' | ']' | '{' | '}' | ':')
        {
            flush(&mut token, &mut out);
            out.push(c);
        } else {
            token.push(c);
        }
        i += 1;
    }
    flush(&mut token, &mut out);
    out
}

fn is_variable(token: &str) -> bool {
    let core = token.trim_matches(|c: char| !c.is_alphanumeric());
    if core.is_empty() {
        return false;
    }
    let digits = core.chars().filter(char::is_ascii_digit).count();
    if digits == 0 {
        return false;
    }
    // Numbers, ids, IPs, times: anything with a digit in it.
    true
}

/// The severity label of a message: `Error`, `Warning`, `Info`, `Debug`,
/// `Trace` or `Unknown`, from the first level word found.
pub fn severity(message: &str) -> &'static str {
    let upper = message.to_ascii_uppercase();
    let has = |w: &str| {
        upper
            .split(|c: char| !c.is_ascii_alphabetic())
            .any(|t| t == w)
    };
    if has("ERROR")
        || has("FATAL")
        || has("CRITICAL")
        || has("EXCEPTION")
        || upper.contains("FAILED")
    {
        "Error"
    } else if has("WARN") || has("WARNING") {
        "Warning"
    } else if has("DEBUG") {
        "Debug"
    } else if has("TRACE") {
        "Trace"
    } else if has("INFO") {
        "Info"
    } else {
        "Unknown"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_tokens_become_placeholders() {
        assert_eq!(
            template("(c0a8-0001) Method completed with status: 200"),
            "(<*>) Method completed with status: <*>"
        );
        assert_eq!(
            template("(c0a8-0002) Method completed with status: 504"),
            template("(ffff-9) Method completed with status: 200")
        );
        assert_eq!(
            template(r#"user "bob" logged in"#),
            r#"user "<*>" logged in"#
        );
    }

    #[test]
    fn severity_labels() {
        assert_eq!(severity("Execution failed due to a timeout"), "Error");
        assert_eq!(severity("WARN low disk"), "Warning");
        assert_eq!(severity("hello"), "Unknown");
    }
}
