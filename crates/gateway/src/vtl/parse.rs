//! Reading a template into nodes: text, references, and the directives
//! with their blocks; and the bracket-aware splitting the evaluation uses.

use super::*;

#[derive(Debug)]
pub(super) enum Node {
    Text(String),
    /// A reference, as written (from its `$`).
    Ref(String),
    Set(String, String),
    If(Vec<(String, Vec<Node>)>, Option<Vec<Node>>),
    Foreach(String, String, Vec<Node>),
    /// `#break`: leaves the innermost `#foreach` (outside one, the
    /// template).
    Break,
}

/// How a block ended.
#[derive(Debug, PartialEq)]
pub(super) enum Close {
    /// The text ran out.
    Eof,
    /// `#end`.
    End,
    /// `#else`.
    Else,
    /// `#elseif(condition)`.
    ElseIf(String),
}

pub(super) struct Parser<'t> {
    pub(super) text: &'t str,
    pub(super) at: usize,
    /// How many blocks the one being read is inside.
    pub(super) depth: usize,
    /// Whether blocks nested deeper than [`MAX_DEPTH`] cut the reading short.
    pub(super) too_deep: bool,
}

impl Parser<'_> {
    /// Nodes up to the end of the text or of the block; `ended` says which.
    pub(super) fn block(&mut self, ended: &mut Option<Close>) -> Vec<Node> {
        let mut nodes = Vec::new();
        let mut text = String::new();
        loop {
            let rest = &self.text[self.at..];
            let Some(next) = rest.find(['#', '$']) else {
                text.push_str(rest);
                self.at = self.text.len();
                break;
            };
            text.push_str(&rest[..next]);
            self.at += next;
            let rest = &self.text[self.at..];
            if rest.starts_with('$') {
                match reference_len(rest) {
                    Some(len) => {
                        flush(&mut text, &mut nodes);
                        nodes.push(Node::Ref(rest[..len].to_string()));
                        self.at += len;
                    }
                    None => {
                        text.push('$');
                        self.at += 1;
                    }
                }
                continue;
            }
            // A directive, a comment, or a plain `#`.
            if rest.starts_with("##") {
                let end = rest.find('\n').map_or(rest.len(), |n| n + 1);
                self.at += end;
                continue;
            }
            // `#name` or `#{name}`.
            let (word, word_len) = match rest[1..].strip_prefix('{') {
                Some(braced) => match braced.find('}') {
                    Some(end) => (&braced[..end], end + 2),
                    None => ("", 0),
                },
                None => {
                    let len = rest[1..]
                        .find(|c: char| !c.is_ascii_alphabetic())
                        .unwrap_or(rest.len() - 1);
                    (&rest[1..1 + len], len)
                }
            };
            let after = self.at + 1 + word_len;
            match word {
                "set" | "if" | "elseif" | "foreach" => {
                    let Some((args, len)) = parenthesised(&self.text[after..]) else {
                        text.push('#');
                        self.at += 1;
                        continue;
                    };
                    flush(&mut text, &mut nodes);
                    if matches!(word, "if" | "foreach") && self.depth >= MAX_DEPTH {
                        // Deeper than any real template: reading stops, and
                        // the render reports a limit.
                        self.too_deep = true;
                        self.at = self.text.len();
                        *ended = Some(Close::Eof);
                        return nodes;
                    }
                    self.at = after + len;
                    self.skip_line_break();
                    match word {
                        "set" => {
                            if let Some((name, value)) = args.split_once('=') {
                                let name = name.trim().trim_start_matches('$');
                                let name = name.trim_matches(['{', '}']).to_string();
                                nodes.push(Node::Set(name, value.trim().to_string()));
                            }
                        }
                        "if" => nodes.push(self.conditional(args.to_string())),
                        "elseif" => {
                            *ended = Some(Close::ElseIf(args.to_string()));
                            return nodes;
                        }
                        _ => {
                            let (var, list) = args.split_once(" in ").unwrap_or((args, ""));
                            let var = var.trim().trim_start_matches('$').to_string();
                            let mut inner = None;
                            self.depth += 1;
                            let body = self.block(&mut inner);
                            self.depth -= 1;
                            nodes.push(Node::Foreach(var, list.trim().to_string(), body));
                        }
                    }
                }
                "break" => {
                    flush(&mut text, &mut nodes);
                    // `#break($foreach)` names the loop it leaves; only the
                    // innermost can be left here.
                    self.at = after + parenthesised(&self.text[after..]).map_or(0, |(_, len)| len);
                    self.skip_line_break();
                    nodes.push(Node::Break);
                }
                "else" | "end" => {
                    flush(&mut text, &mut nodes);
                    self.at = after;
                    self.skip_line_break();
                    *ended = Some(if word == "else" {
                        Close::Else
                    } else {
                        Close::End
                    });
                    return nodes;
                }
                _ => {
                    text.push('#');
                    self.at += 1;
                }
            }
        }
        flush(&mut text, &mut nodes);
        *ended = Some(Close::Eof);
        nodes
    }

    /// An `#if` whose condition is `condition`, read up to its `#end`.
    fn conditional(&mut self, condition: String) -> Node {
        let mut branches = Vec::new();
        let mut otherwise = None;
        let mut condition = Some(condition);
        loop {
            let mut ended = None;
            self.depth += 1;
            let body = self.block(&mut ended);
            self.depth -= 1;
            match condition.take() {
                Some(c) => branches.push((c, body)),
                None => otherwise = Some(body),
            }
            match ended {
                Some(Close::ElseIf(c)) => condition = Some(c),
                Some(Close::Else) if otherwise.is_none() => {}
                _ => break,
            }
        }
        Node::If(branches, otherwise)
    }

    fn skip_line_break(&mut self) {
        let rest = &self.text[self.at..];
        if rest.starts_with("\r\n") {
            self.at += 2;
        } else if rest.starts_with('\n') {
            self.at += 1;
        }
    }
}

/// The bytes of the reference at the start of `s`, with Velocity 1.7's
/// index notation after it (`$list[0]`, `$rows[1].name`).
pub(super) fn reference_len(s: &str) -> Option<usize> {
    let mut len = template::reference_len(s)?;
    if s[..len].ends_with('}') {
        return Some(len);
    }
    loop {
        let rest = &s[len..];
        if rest.starts_with('[') {
            let Some(end) = rest.find(']') else { break };
            len += end + 1;
        } else if rest.starts_with('.') && rest[1..].starts_with(|c: char| c.is_ascii_alphabetic())
        {
            match template::reference_len(&format!("${}", &rest[1..])) {
                // `$name` is as long as `.name`.
                Some(more) => len += more,
                None => break,
            }
        } else {
            break;
        }
    }
    Some(len)
}

pub(super) fn flush(text: &mut String, nodes: &mut Vec<Node>) {
    if !text.is_empty() {
        nodes.push(Node::Text(std::mem::take(text)));
    }
}

/// The inside of the parenthesised group at the start of `s` (after
/// optional spaces) and the bytes it takes.
pub(super) fn parenthesised(s: &str) -> Option<(&str, usize)> {
    let open = s.len() - s.trim_start_matches(' ').len();
    if !s[open..].starts_with('(') {
        return None;
    }
    delimited(&s[open..], '(', ')').map(|(inside, len)| (inside, open + len))
}

/// The inside of the group `s` starts with, opened by `open` and closed by
/// the matching `close` (quoted text and other kinds of brackets are not
/// counted), and the bytes it takes.
fn delimited(s: &str, open: char, close: char) -> Option<(&str, usize)> {
    let mut depth = 0;
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, c) if c == open => depth += 1,
            (None, c) if c == close => {
                depth -= 1;
                if depth == 0 {
                    return Some((&s[1..i], i + 1));
                }
            }
            _ => {}
        }
    }
    None
}

/// The comma-separated items of an argument list or literal (none when it
/// is blank).
pub(super) fn arguments(inner: &str) -> Vec<&str> {
    if inner.trim().is_empty() {
        return Vec::new();
    }
    split_outside(inner, ",").unwrap_or_else(|| vec![inner])
}

/// `text` split at every `separator` outside quotes and parentheses, or
/// `None` when there is none.
pub(super) fn split_outside<'a>(text: &'a str, separator: &str) -> Option<Vec<&'a str>> {
    let bytes = text.as_bytes();
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, _) in top_level(text) {
        // Bytes compared, so a multi-byte character is never cut.
        if i < start || !bytes[i..].starts_with(separator.as_bytes()) {
            continue;
        }
        // `<` is not the start of `<=` here.
        if matches!(separator, "<" | ">") && bytes[i + 1..].starts_with(b"=") {
            continue;
        }
        parts.push(&text[start..i]);
        start = i + separator.len();
    }
    if parts.is_empty() {
        return None;
    }
    parts.push(&text[start..]);
    Some(parts)
}

/// Each byte of `text` outside quotes, brackets, braces and parentheses,
/// with its position (the quotes and brackets themselves are not given).
pub(super) fn top_level(text: &str) -> impl Iterator<Item = (usize, u8)> + '_ {
    let mut depth = 0i32;
    let mut quote = None;
    text.bytes().enumerate().filter(move |&(_, c)| match quote {
        Some(q) => {
            if c == q {
                quote = None;
            }
            false
        }
        None => match c {
            b'\'' | b'"' => {
                quote = Some(c);
                false
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                false
            }
            b')' | b']' | b'}' => {
                depth -= 1;
                false
            }
            _ => depth == 0,
        },
    })
}

/// The inside of the `[...]` at the start of `s` and the bytes it takes.
pub(super) fn bracketed(s: &str) -> Option<(&str, usize)> {
    delimited(s, '[', ']')
}
