//! The Logs Insights query parser.
//!
//! A hand-written recursive-descent parser over a tokenizer that is driven by
//! the parser: `/` starts a regex literal where an operand is expected and is
//! division elsewhere, which is how `filter x like /a/` and `fields a / 2`
//! both read naturally.
//!
//! Lexical choices (where the reference leaves them open):
//! - `#` starts a comment to the end of the line outside strings, regexes and
//!   backticks; a single leading `|` is ignored.
//! - Strings take `"..."` or `'...'` with `\"`, `\'`, `\\`, `\n`, `\t`
//!   escapes, and `''` inside single quotes.
//! - Inside backticks, `` \` `` is a backtick.
//! - Regex literals take no trailing flags; use `(?i)` inside.
//! - Commands, keywords and function names are case-insensitive; field names
//!   are not.
//! - Operator precedence, loosest first: `or`, `and`, `not`, comparisons /
//!   `like` / `=~` / `in`, `+ -`, `* / %`, `^` (right-associative), unary `-`.

use crate::ast::*;
use crate::QueryError;

/// Longest accepted query, in characters (StartQuery's limit).
pub const MAX_QUERY_CHARS: usize = 10_000;

/// Commands newer than what Gatewatch implements: parsed and refused.
const LATER_COMMANDS: &[&str] = &[
    "lookup",
    "join",
    "autoregress",
    "logcompare",
    "filldown",
    "fillmissing",
    "cidrlookup",
    "outlier",
    "accum",
    "appendcols",
    "sessionize",
    "countfrequent",
    "addtotals",
    "relevantfields",
];

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// Backtick-quoted name.
    Quoted(String),
    Str(String),
    Num(f64),
    Period(Period),
    Regex(String),
    Punct(&'static str),
    Eof,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Quoted(s) => format!("'`{s}`'"),
            Tok::Str(s) => format!("string \"{s}\""),
            Tok::Num(n) => format!("number {n}"),
            Tok::Period(_) => "time period".into(),
            Tok::Regex(r) => format!("regex /{r}/"),
            Tok::Punct(p) => format!("'{p}'"),
            Tok::Eof => "end of query".into(),
        }
    }
}

/// Parses a query.
pub fn parse(text: &str) -> Result<Query, QueryError> {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() > MAX_QUERY_CHARS {
        return Err(QueryError::new(
            format!("Query is longer than {MAX_QUERY_CHARS} characters"),
            Span::new(MAX_QUERY_CHARS, chars.len()),
            text,
        ));
    }
    let mut p = Parser {
        text,
        chars,
        pos: 0,
    };
    p.query()
}

struct Parser<'a> {
    text: &'a str,
    chars: Vec<char>,
    pos: usize,
}

const PUNCTS: &[&str] = &[
    "!=", "<=", ">=", "=~", "|", ",", "(", ")", "[", "]", "=", "<", ">", "+", "-", "*", "/", "^",
    "%", ":", ".",
];

fn unit_of(s: &str) -> Option<TimeUnit> {
    let s = s.to_ascii_lowercase();
    let base = match s.as_str() {
        "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" => TimeUnit::Millisecond,
        "s" | "sec" | "secs" | "second" | "seconds" => TimeUnit::Second,
        "m" | "min" | "mins" | "minute" | "minutes" => TimeUnit::Minute,
        "h" | "hr" | "hrs" | "hour" | "hours" => TimeUnit::Hour,
        "d" | "day" | "days" => TimeUnit::Day,
        "w" | "week" | "weeks" => TimeUnit::Week,
        "mo" | "mon" | "mons" | "month" | "months" => TimeUnit::Month,
        "q" | "qtr" | "qtrs" | "quarter" | "quarters" => TimeUnit::Quarter,
        "y" | "yr" | "yrs" | "year" | "years" => TimeUnit::Year,
        _ => return None,
    };
    Some(base)
}

impl Parser<'_> {
    fn err<T>(&self, message: impl Into<String>, span: Span) -> Result<T, QueryError> {
        Err(QueryError::new(message, span, self.text))
    }

    fn slice(&self, span: Span) -> String {
        self.chars[span.start..span.end.min(self.chars.len())]
            .iter()
            .collect::<String>()
            .trim()
            .to_string()
    }

    /// Skips whitespace and comments.
    fn skip(&mut self) {
        while self.pos < self.chars.len() {
            let c = self.chars[self.pos];
            if c.is_whitespace() {
                self.pos += 1;
            } else if c == '#' {
                while self.pos < self.chars.len() && self.chars[self.pos] != '\n' {
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    /// Reads the next token; `operand` says whether a regex may start here.
    fn lex(&mut self, operand: bool) -> Result<(Tok, Span), QueryError> {
        self.skip();
        let start = self.pos;
        let Some(&c) = self.chars.get(start) else {
            return Ok((Tok::Eof, Span::new(start, start)));
        };
        let at = |i: usize| self.chars.get(i).copied();
        if c == '"' || c == '\'' {
            let mut out = String::new();
            let mut i = start + 1;
            loop {
                match at(i) {
                    None => return self.err("Unterminated string", Span::new(start, i)),
                    Some('\\') => {
                        let e = at(i + 1);
                        match e {
                            Some('n') => out.push('\n'),
                            Some('t') => out.push('\t'),
                            Some('r') => out.push('\r'),
                            Some(ch @ ('"' | '\'' | '\\')) => out.push(ch),
                            Some(ch) => {
                                out.push('\\');
                                out.push(ch);
                            }
                            None => return self.err("Unterminated string", Span::new(start, i)),
                        }
                        i += 2;
                    }
                    Some(ch) if ch == c => {
                        if c == '\'' && at(i + 1) == Some('\'') {
                            out.push('\'');
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    }
                    Some(ch) => {
                        out.push(ch);
                        i += 1;
                    }
                }
            }
            self.pos = i;
            return Ok((Tok::Str(out), Span::new(start, i)));
        }
        if c == '`' {
            let mut out = String::new();
            let mut i = start + 1;
            loop {
                match at(i) {
                    None => return self.err("Unterminated backtick name", Span::new(start, i)),
                    Some('\\') if at(i + 1) == Some('`') => {
                        out.push('`');
                        i += 2;
                    }
                    Some('`') => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        out.push(ch);
                        i += 1;
                    }
                }
            }
            self.pos = i;
            return Ok((Tok::Quoted(out), Span::new(start, i)));
        }
        if c == '/' && operand {
            let mut out = String::new();
            let mut i = start + 1;
            loop {
                match at(i) {
                    None | Some('\n') => {
                        return self.err("Unterminated regular expression", Span::new(start, i))
                    }
                    Some('\\') if at(i + 1) == Some('/') => {
                        out.push('/');
                        i += 2;
                    }
                    Some('\\') => {
                        out.push('\\');
                        if let Some(n) = at(i + 1) {
                            out.push(n);
                        }
                        i += 2;
                    }
                    Some('/') => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        out.push(ch);
                        i += 1;
                    }
                }
            }
            if let Some(f) = at(i) {
                if f.is_ascii_alphabetic() {
                    return self.err(
                        "Regular expression flags after '/' are not supported; use (?i) inside the expression",
                        Span::new(i, i + 1),
                    );
                }
            }
            self.pos = i;
            return Ok((Tok::Regex(out), Span::new(start, i)));
        }
        if c.is_ascii_digit() || (c == '.' && at(start + 1).is_some_and(|d| d.is_ascii_digit())) {
            let mut i = start;
            while at(i).is_some_and(|d| d.is_ascii_digit()) {
                i += 1;
            }
            if at(i) == Some('.') && at(i + 1).is_some_and(|d| d.is_ascii_digit()) {
                i += 1;
                while at(i).is_some_and(|d| d.is_ascii_digit()) {
                    i += 1;
                }
            }
            // Exponent: `1e3`, `2.5E-2`.
            if matches!(at(i), Some('e' | 'E')) {
                let mut j = i + 1;
                if matches!(at(j), Some('+' | '-')) {
                    j += 1;
                }
                if at(j).is_some_and(|d| d.is_ascii_digit()) {
                    while at(j).is_some_and(|d| d.is_ascii_digit()) {
                        j += 1;
                    }
                    if !at(j).is_some_and(|d| d.is_alphanumeric() || d == '_') {
                        i = j;
                    }
                }
            }
            let number: String = self.chars[start..i].iter().collect();
            // A unit right after the digits makes a time period.
            let mut j = i;
            while at(j).is_some_and(|d| d.is_ascii_alphabetic()) {
                j += 1;
            }
            if j > i {
                let unit: String = self.chars[i..j].iter().collect();
                let Some(unit) = unit_of(&unit) else {
                    return self.err(format!("Unknown time unit '{unit}'"), Span::new(start, j));
                };
                let Ok(count) = number.parse::<i64>() else {
                    return self.err("A time period needs a whole number", Span::new(start, j));
                };
                self.pos = j;
                return Ok((Tok::Period(Period { count, unit }), Span::new(start, j)));
            }
            let Ok(n) = number.parse::<f64>() else {
                return self.err(format!("Invalid number '{number}'"), Span::new(start, i));
            };
            self.pos = i;
            return Ok((Tok::Num(n), Span::new(start, i)));
        }
        if c == '@' || c == '_' || c.is_alphabetic() {
            let mut i = start + 1;
            if c == '@' && at(i) == Some('`') {
                // @`name with specials`
                self.pos = i;
                let (tok, span) = self.lex(false)?;
                if let Tok::Quoted(q) = tok {
                    return Ok((Tok::Quoted(format!("@{q}")), Span::new(start, span.end)));
                }
                return self.err("Expected a name after '@'", Span::new(start, span.end));
            }
            while at(i).is_some_and(|d| d.is_alphanumeric() || d == '_' || d == '@') {
                i += 1;
            }
            self.pos = i;
            let name: String = self.chars[start..i].iter().collect();
            return Ok((Tok::Ident(name), Span::new(start, i)));
        }
        for p in PUNCTS {
            let n = p.chars().count();
            if self.chars[start..].iter().take(n).copied().eq(p.chars()) {
                self.pos = start + n;
                return Ok((Tok::Punct(p), Span::new(start, start + n)));
            }
        }
        self.err(
            format!("Unexpected character '{c}'"),
            Span::new(start, start + 1),
        )
    }

    fn peek(&mut self, operand: bool) -> Result<(Tok, Span), QueryError> {
        let save = self.pos;
        let t = self.lex(operand);
        self.pos = save;
        t
    }

    fn peek_punct(&mut self, p: &str) -> bool {
        matches!(self.peek(false), Ok((Tok::Punct(q), _)) if q == p)
    }

    fn eat_punct(&mut self, p: &str) -> Result<bool, QueryError> {
        if self.peek_punct(p) {
            self.lex(false)?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn expect_punct(&mut self, p: &str) -> Result<Span, QueryError> {
        let (t, s) = self.lex(false)?;
        match t {
            Tok::Punct(q) if q == p => Ok(s),
            other => self.err(format!("Expected '{p}' but found {}", other.describe()), s),
        }
    }

    fn peek_keyword(&mut self, kw: &str) -> bool {
        matches!(self.peek(false), Ok((Tok::Ident(s), _)) if s.eq_ignore_ascii_case(kw))
    }

    fn eat_keyword(&mut self, kw: &str) -> Result<bool, QueryError> {
        if self.peek_keyword(kw) {
            self.lex(false)?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// A name after `as` / `into`: identifier or backticks.
    fn name(&mut self) -> Result<String, QueryError> {
        let (t, s) = self.lex(false)?;
        match t {
            Tok::Ident(n) | Tok::Quoted(n) => {
                let mut name = n;
                // Dotted aliases (`as a.b`) are one name.
                while self.peek_punct(".") {
                    self.lex(false)?;
                    let (t2, s2) = self.lex(false)?;
                    match t2 {
                        Tok::Ident(n2) | Tok::Quoted(n2) => {
                            name.push('.');
                            name.push_str(&n2);
                        }
                        Tok::Num(n2) if n2.fract() == 0.0 => {
                            name.push('.');
                            name.push_str(&(n2 as i64).to_string());
                        }
                        other => {
                            return self.err(
                                format!("Expected a name but found {}", other.describe()),
                                s2,
                            )
                        }
                    }
                }
                Ok(name)
            }
            other => self.err(format!("Expected a name but found {}", other.describe()), s),
        }
    }

    fn query(&mut self) -> Result<Query, QueryError> {
        self.skip();
        // A single leading pipe is accepted.
        if self.peek_punct("|") {
            self.lex(false)?;
        }
        let mut source = None;
        let mut commands = Vec::new();
        if let (Tok::Eof, s) = self.peek(false)? {
            return self.err("The query is empty", s);
        }
        loop {
            let (tok, span) = self.peek(false)?;
            match tok {
                Tok::Ident(word) if word.eq_ignore_ascii_case("source") => {
                    if !commands.is_empty() || source.is_some() {
                        return self.err("SOURCE must be the first command of the query", span);
                    }
                    self.lex(false)?;
                    source = Some(self.source(span)?);
                }
                Tok::Ident(_) => commands.push(self.command()?),
                other => {
                    return self.err(
                        format!("Expected a command but found {}", other.describe()),
                        span,
                    )
                }
            }
            let (t, s) = self.lex(false)?;
            match t {
                Tok::Eof => break,
                Tok::Punct("|") => {
                    if let (Tok::Eof, s2) = self.peek(false)? {
                        return self.err("Expected a command after '|'", s2);
                    }
                }
                other => {
                    return self.err(
                        format!(
                            "Expected '|' or end of query but found {}",
                            other.describe()
                        ),
                        s,
                    )
                }
            }
        }
        if commands.is_empty() {
            return self.err(
                "The query needs a command after SOURCE",
                Span::new(self.chars.len(), self.chars.len()),
            );
        }
        Ok(Query { source, commands })
    }

    fn source(&mut self, start: Span) -> Result<Source, QueryError> {
        let (t, s) = self.lex(false)?;
        match t {
            Tok::Ident(n) if n.eq_ignore_ascii_case("loggroups") => {}
            other => {
                return self.err(
                    format!(
                        "Expected logGroups(...) after SOURCE but found {}",
                        other.describe()
                    ),
                    s,
                )
            }
        }
        self.expect_punct("(")?;
        let mut out = Source::default();
        if !self.eat_punct(")")? {
            loop {
                let (t, s) = self.lex(false)?;
                let Tok::Ident(key) = t else {
                    return self.err("Expected a logGroups() parameter name", s);
                };
                self.expect_punct(":")?;
                match key.to_ascii_lowercase().as_str() {
                    "nameprefix" => {
                        let e = self.primary()?;
                        let ExprKind::List(items) = e.kind else {
                            return self.err("namePrefix takes a list of strings", e.span);
                        };
                        if items.len() > 5 {
                            return self.err("namePrefix takes at most 5 prefixes", e.span);
                        }
                        for i in items {
                            match i.kind {
                                ExprKind::Str(p) => out.name_prefixes.push(p),
                                _ => return self.err("namePrefix takes strings", i.span),
                            }
                        }
                    }
                    "loggroupclass" => {
                        let (t, s) = self.lex(false)?;
                        match t {
                            Tok::Ident(c) | Tok::Str(c) => {
                                let up = c.to_ascii_uppercase();
                                if up != "STANDARD" && up != "INFREQUENT_ACCESS" {
                                    return self.err(
                                        format!("Unknown logGroupClass '{c}' (STANDARD or INFREQUENT_ACCESS)"),
                                        s,
                                    );
                                }
                                out.log_group_class = Some(up);
                            }
                            other => {
                                return self.err(
                                    format!("Expected a log group class but found {}", other.describe()),
                                    s,
                                )
                            }
                        }
                    }
                    "accountidentifiers" => {
                        return self.err(
                            "accountIdentifiers is not supported: Gatewatch has no cross-account monitoring",
                            s,
                        )
                    }
                    _ => {
                        return self.err(format!("Unknown logGroups() parameter '{key}'"), s);
                    }
                }
                if self.eat_punct(")")? {
                    break;
                }
                self.expect_punct(",")?;
            }
        }
        out.span = start.to(Span::new(start.start, self.pos));
        Ok(out)
    }

    fn command(&mut self) -> Result<Command, QueryError> {
        let (tok, span) = self.lex(false)?;
        let Tok::Ident(word) = tok else {
            return self.err("Expected a command", span);
        };
        let lower = word.to_ascii_lowercase();
        let kind = match lower.as_str() {
            "fields" => CommandKind::Fields(self.items(false)?),
            "display" => CommandKind::Display(self.items(false)?),
            "filter" | "where" => CommandKind::Filter(self.expr()?),
            "filterindex" => CommandKind::FilterIndex(self.expr()?),
            "stats" => {
                let items = self.items(true)?;
                let by = if self.eat_keyword("by")? {
                    self.items(false)?
                } else {
                    Vec::new()
                };
                CommandKind::Stats { items, by }
            }
            "sort" => {
                let mut keys = Vec::new();
                loop {
                    let expr = self.expr()?;
                    let desc = if self.eat_keyword("desc")? {
                        true
                    } else {
                        self.eat_keyword("asc")?;
                        false
                    };
                    keys.push(SortKey { expr, desc });
                    if !self.eat_punct(",")? {
                        break;
                    }
                }
                CommandKind::Sort(keys)
            }
            "limit" => {
                let any = self.eat_keyword("any")?;
                let (t, s) = self.lex(false)?;
                match t {
                    Tok::Num(n) if n.fract() == 0.0 && n >= 1.0 => {
                        CommandKind::Limit { n: n as u64, any }
                    }
                    other => {
                        return self.err(
                            format!(
                                "limit takes a positive whole number, not {}",
                                other.describe()
                            ),
                            s,
                        )
                    }
                }
            }
            "parse" => self.parse_command()?,
            "dedup" => {
                let mut keys = Vec::new();
                loop {
                    keys.push(self.expr()?);
                    if !self.eat_punct(",")? {
                        break;
                    }
                }
                CommandKind::Dedup(keys)
            }
            "unnest" => {
                let field = self.expr()?;
                let (t, s) = self.lex(false)?;
                if !matches!(&t, Tok::Ident(i) if i.eq_ignore_ascii_case("into")) {
                    return self.err(
                        format!(
                            "Expected 'into' after the unnested field but found {}",
                            t.describe()
                        ),
                        s,
                    );
                }
                CommandKind::Unnest {
                    field,
                    into: self.name()?,
                }
            }
            "expand" => CommandKind::Expand(self.expr()?),
            "pattern" => CommandKind::Pattern(self.expr()?),
            "diff" => {
                let (t, s) = self.peek(false)?;
                match t {
                    Tok::Ident(w) => {
                        let p = match w.to_ascii_lowercase().as_str() {
                            "previousday" => DiffPeriod::Day,
                            "previousweek" => DiffPeriod::Week,
                            "previousmonth" => DiffPeriod::Month,
                            _ => {
                                return self.err(
                                    format!("Unknown diff period '{w}' (previousDay, previousWeek or previousMonth)"),
                                    s,
                                )
                            }
                        };
                        self.lex(false)?;
                        CommandKind::Diff(p)
                    }
                    _ => CommandKind::Diff(DiffPeriod::Previous),
                }
            }
            "anomaly" => CommandKind::Anomaly,
            "unmask" => CommandKind::Unmask,
            "head" | "tail" => {
                return self.err(
                    format!("The '{word}' command was replaced by 'limit'"),
                    span,
                )
            }
            l if LATER_COMMANDS.contains(&l) => {
                return self.err(
                    format!("The '{word}' command is not supported yet by Gatewatch"),
                    span,
                )
            }
            _ => return self.err(format!("Unknown command '{word}'"), span),
        };
        Ok(Command {
            kind,
            span: Span::new(span.start, self.pos),
        })
    }

    fn parse_command(&mut self) -> Result<CommandKind, QueryError> {
        // Optional field before the pattern.
        let (t, s) = self.peek(true)?;
        let field = match t {
            Tok::Str(_) | Tok::Regex(_) => Expr {
                kind: ExprKind::Field(FieldRef {
                    path: vec!["@message".into()],
                }),
                span: s,
            },
            Tok::Ident(ref w)
                if (w.eq_ignore_ascii_case("logfmt") || w.eq_ignore_ascii_case("csv"))
                    && !self.is_followed_by_pattern() =>
            {
                Expr {
                    kind: ExprKind::Field(FieldRef {
                        path: vec!["@message".into()],
                    }),
                    span: s,
                }
            }
            _ => self.postfix()?,
        };
        let (t, s) = self.lex(true)?;
        let pattern = match t {
            Tok::Str(glob) => {
                if !self.eat_keyword("as")? {
                    return self.err("A glob pattern must be followed by 'as' and names", s);
                }
                let mut names = Vec::new();
                loop {
                    names.push(self.name()?);
                    if !self.eat_punct(",")? {
                        break;
                    }
                }
                let stars = glob.matches('*').count();
                if stars != names.len() {
                    return self.err(
                        format!(
                            "The pattern has {stars} '*' but {} names follow 'as'",
                            names.len()
                        ),
                        Span::new(s.start, self.pos),
                    );
                }
                ParsePattern::Glob { glob, names }
            }
            Tok::Regex(regex) => {
                if let Err(e) = regex::Regex::new(&crate::func::regex_source(&regex)) {
                    return self.err(
                        format!("Invalid regular expression: {}", regex_error(&e)),
                        s,
                    );
                }
                let multi = self.eat_keyword("multi")?;
                ParsePattern::Regex { regex, multi }
            }
            Tok::Ident(w) if w.eq_ignore_ascii_case("logfmt") => ParsePattern::Logfmt,
            Tok::Ident(w) if w.eq_ignore_ascii_case("csv") => {
                if !self.eat_keyword("as")? {
                    return self.err("parse csv must be followed by 'as' and column names", s);
                }
                let mut names = Vec::new();
                loop {
                    names.push(self.name()?);
                    if !self.eat_punct(",")? {
                        break;
                    }
                }
                ParsePattern::Csv { names }
            }
            other => {
                return self.err(
                    format!(
                        "parse expects a glob string, a /regex/, logfmt or csv, not {}",
                        other.describe()
                    ),
                    s,
                )
            }
        };
        Ok(CommandKind::Parse { field, pattern })
    }

    /// After `logfmt`/`csv` as a word: is it a field name followed by a pattern?
    fn is_followed_by_pattern(&mut self) -> bool {
        let save = self.pos;
        let _ = self.lex(false);
        let next = self.peek(true);
        self.pos = save;
        matches!(next, Ok((Tok::Str(_) | Tok::Regex(_), _)))
            || matches!(next, Ok((Tok::Ident(w), _)) if w.eq_ignore_ascii_case("logfmt") || w.eq_ignore_ascii_case("csv"))
    }

    /// `expr [as name], ...`.
    fn items(&mut self, _aggregates: bool) -> Result<Vec<Item>, QueryError> {
        let mut items = Vec::new();
        loop {
            let expr = self.expr()?;
            let text = self.slice(expr.span);
            let alias = if self.eat_keyword("as")? {
                Some(self.name()?)
            } else {
                None
            };
            items.push(Item { expr, alias, text });
            if !self.eat_punct(",")? {
                break;
            }
        }
        Ok(items)
    }

    /// Full expression.
    pub(crate) fn expr(&mut self) -> Result<Expr, QueryError> {
        self.or()
    }

    fn or(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.and()?;
        while self.eat_keyword("or")? {
            let right = self.and()?;
            let span = left.span.to(right.span);
            left = Expr {
                kind: ExprKind::Binary(BinOp::Or, Box::new(left), Box::new(right)),
                span,
            };
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.not()?;
        while self.eat_keyword("and")? {
            let right = self.not()?;
            let span = left.span.to(right.span);
            left = Expr {
                kind: ExprKind::Binary(BinOp::And, Box::new(left), Box::new(right)),
                span,
            };
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, QueryError> {
        let (t, s) = self.peek(false)?;
        if matches!(&t, Tok::Ident(w) if w.eq_ignore_ascii_case("not")) {
            // `not(...)` as a call is the same thing.
            self.lex(false)?;
            let inner = self.not()?;
            let span = s.to(inner.span);
            return Ok(Expr {
                kind: ExprKind::Not(Box::new(inner)),
                span,
            });
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, QueryError> {
        let left = self.additive()?;
        let (t, _) = self.peek(false)?;
        let op = match &t {
            Tok::Punct("=") => Some(BinOp::Eq),
            Tok::Punct("!=") => Some(BinOp::Ne),
            Tok::Punct("<") => Some(BinOp::Lt),
            Tok::Punct("<=") => Some(BinOp::Le),
            Tok::Punct(">") => Some(BinOp::Gt),
            Tok::Punct(">=") => Some(BinOp::Ge),
            _ => None,
        };
        if let Some(op) = op {
            self.lex(false)?;
            let right = self.additive()?;
            let span = left.span.to(right.span);
            return Ok(Expr {
                kind: ExprKind::Binary(op, Box::new(left), Box::new(right)),
                span,
            });
        }
        if matches!(&t, Tok::Punct("=~")) {
            self.lex(false)?;
            return self.like_rest(left, false);
        }
        if let Tok::Ident(w) = &t {
            let w = w.to_ascii_lowercase();
            if w == "like" {
                self.lex(false)?;
                return self.like_rest(left, false);
            }
            if w == "in" {
                self.lex(false)?;
                return self.in_rest(left, false);
            }
            if w == "not" {
                let save = self.pos;
                self.lex(false)?;
                if self.eat_keyword("like")? {
                    return self.like_rest(left, true);
                }
                if self.eat_keyword("in")? {
                    return self.in_rest(left, true);
                }
                self.pos = save;
            }
        }
        Ok(left)
    }

    fn like_rest(&mut self, left: Expr, negated: bool) -> Result<Expr, QueryError> {
        let pattern = self.additive()?;
        match &pattern.kind {
            ExprKind::Regex(r) => {
                if let Err(e) = regex::Regex::new(&crate::func::regex_source(r)) {
                    return self.err(
                        format!("Invalid regular expression: {}", regex_error(&e)),
                        pattern.span,
                    );
                }
            }
            ExprKind::Str(_) => {}
            _ => {
                return self.err(
                    "like and =~ take a string or a /regex/ on their right",
                    pattern.span,
                )
            }
        }
        let span = left.span.to(pattern.span);
        Ok(Expr {
            kind: ExprKind::Like {
                expr: Box::new(left),
                pattern: Box::new(pattern),
                negated,
            },
            span,
        })
    }

    fn in_rest(&mut self, left: Expr, negated: bool) -> Result<Expr, QueryError> {
        let list = self.primary()?;
        let ExprKind::List(items) = list.kind else {
            return self.err("in takes a list such as [\"a\", \"b\"]", list.span);
        };
        let span = left.span.to(list.span);
        Ok(Expr {
            kind: ExprKind::In {
                expr: Box::new(left),
                list: items,
                negated,
            },
            span,
        })
    }

    fn additive(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.multiplicative()?;
        loop {
            let op = if self.peek_punct("+") {
                BinOp::Add
            } else if self.peek_punct("-") {
                BinOp::Sub
            } else {
                break;
            };
            self.lex(false)?;
            let right = self.multiplicative()?;
            let span = left.span.to(right.span);
            left = Expr {
                kind: ExprKind::Binary(op, Box::new(left), Box::new(right)),
                span,
            };
        }
        Ok(left)
    }

    fn multiplicative(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.power()?;
        loop {
            let op = if self.peek_punct("*") {
                BinOp::Mul
            } else if self.peek_punct("/") {
                BinOp::Div
            } else if self.peek_punct("%") {
                BinOp::Rem
            } else {
                break;
            };
            self.lex(false)?;
            let right = self.power()?;
            let span = left.span.to(right.span);
            left = Expr {
                kind: ExprKind::Binary(op, Box::new(left), Box::new(right)),
                span,
            };
        }
        Ok(left)
    }

    fn power(&mut self) -> Result<Expr, QueryError> {
        let base = self.unary()?;
        if self.eat_punct("^")? {
            let exp = self.power()?;
            let span = base.span.to(exp.span);
            return Ok(Expr {
                kind: ExprKind::Binary(BinOp::Pow, Box::new(base), Box::new(exp)),
                span,
            });
        }
        Ok(base)
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        let (t, s) = self.peek(true)?;
        if t == Tok::Punct("-") {
            self.lex(true)?;
            let inner = self.unary()?;
            let span = s.to(inner.span);
            if let ExprKind::Num(n) = inner.kind {
                return Ok(Expr {
                    kind: ExprKind::Num(-n),
                    span,
                });
            }
            return Ok(Expr {
                kind: ExprKind::Neg(Box::new(inner)),
                span,
            });
        }
        self.postfix()
    }

    /// A primary followed by `.key` / `[index]` accesses.
    fn postfix(&mut self) -> Result<Expr, QueryError> {
        let mut e = self.primary()?;
        loop {
            if self.peek_punct("[") && !matches!(e.kind, ExprKind::List(_)) {
                self.lex(false)?;
                let (t, s) = self.lex(false)?;
                let key = match t {
                    Tok::Num(n) if n.fract() == 0.0 && n >= 0.0 => (n as i64).to_string(),
                    Tok::Str(k) => k,
                    other => {
                        return self.err(
                            format!("Expected an index but found {}", other.describe()),
                            s,
                        )
                    }
                };
                let end = self.expect_punct("]")?;
                let span = e.span.to(end);
                e = match e.kind {
                    ExprKind::Field(mut f) => {
                        f.path.push(key);
                        Expr {
                            kind: ExprKind::Field(f),
                            span,
                        }
                    }
                    other => Expr {
                        kind: ExprKind::Access(
                            Box::new(Expr {
                                kind: other,
                                span: e.span,
                            }),
                            key,
                        ),
                        span,
                    },
                };
                continue;
            }
            if matches!(e.kind, ExprKind::Call { .. } | ExprKind::Access(..))
                && self.peek_punct(".")
            {
                self.lex(false)?;
                let (t, s) = self.lex(false)?;
                let key = match t {
                    Tok::Ident(k) | Tok::Quoted(k) => k,
                    Tok::Num(n) if n.fract() == 0.0 && n >= 0.0 => (n as i64).to_string(),
                    other => {
                        return self.err(
                            format!("Expected a key after '.' but found {}", other.describe()),
                            s,
                        )
                    }
                };
                let span = e.span.to(s);
                e = Expr {
                    kind: ExprKind::Access(Box::new(e), key),
                    span,
                };
                continue;
            }
            break;
        }
        Ok(e)
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        let (t, s) = self.lex(true)?;
        match t {
            Tok::Str(v) => Ok(Expr {
                kind: ExprKind::Str(v),
                span: s,
            }),
            Tok::Num(n) => Ok(Expr {
                kind: ExprKind::Num(n),
                span: s,
            }),
            Tok::Period(p) => Ok(Expr {
                kind: ExprKind::Period(p),
                span: s,
            }),
            Tok::Regex(r) => Ok(Expr {
                kind: ExprKind::Regex(r),
                span: s,
            }),
            Tok::Punct("*") => Ok(Expr {
                kind: ExprKind::Star,
                span: s,
            }),
            Tok::Punct("(") => {
                let inner = self.expr()?;
                let end = self.expect_punct(")")?;
                Ok(Expr {
                    kind: inner.kind,
                    span: s.to(end),
                })
            }
            Tok::Punct("[") => {
                let mut items = Vec::new();
                if !self.eat_punct("]")? {
                    loop {
                        items.push(self.expr()?);
                        if self.eat_punct("]")? {
                            break;
                        }
                        self.expect_punct(",")?;
                    }
                }
                Ok(Expr {
                    kind: ExprKind::List(items),
                    span: Span::new(s.start, self.pos),
                })
            }
            Tok::Ident(name) => {
                if self.peek_punct("(") {
                    self.lex(false)?;
                    let mut args = Vec::new();
                    if !self.eat_punct(")")? {
                        loop {
                            args.push(self.expr()?);
                            if self.eat_punct(")")? {
                                break;
                            }
                            self.expect_punct(",")?;
                        }
                    }
                    return Ok(Expr {
                        kind: ExprKind::Call {
                            name: name.to_ascii_lowercase(),
                            args,
                        },
                        span: Span::new(s.start, self.pos),
                    });
                }
                let lower = name.to_ascii_lowercase();
                if matches!(
                    lower.as_str(),
                    "and" | "or" | "by" | "as" | "asc" | "desc" | "like" | "in"
                ) {
                    return self.err(format!("Expected a value but found '{name}'"), s);
                }
                self.field_rest(name, s)
            }
            Tok::Quoted(name) => self.field_rest(name, s),
            other => self.err(
                format!("Expected a value but found {}", other.describe()),
                s,
            ),
        }
    }

    /// `name(.segment)*` — dotted field paths.
    fn field_rest(&mut self, first: String, start: Span) -> Result<Expr, QueryError> {
        let mut path = vec![first];
        let mut end = start.end;
        loop {
            // A dot directly attached to the name continues the path.
            if self.chars.get(self.pos) == Some(&'.') {
                let save = self.pos;
                self.pos += 1;
                let seg_start = self.pos;
                let mut i = self.pos;
                while self
                    .chars
                    .get(i)
                    .is_some_and(|c| c.is_alphanumeric() || *c == '_' || *c == '@')
                {
                    i += 1;
                }
                if i > seg_start {
                    path.push(self.chars[seg_start..i].iter().collect());
                    self.pos = i;
                    end = i;
                    continue;
                }
                if self.chars.get(i) == Some(&'`') {
                    let (t, s) = self.lex(false)?;
                    if let Tok::Quoted(q) = t {
                        path.push(q);
                        end = s.end;
                        continue;
                    }
                }
                self.pos = save;
            }
            break;
        }
        Ok(Expr {
            kind: ExprKind::Field(FieldRef { path }),
            span: Span::new(start.start, end),
        })
    }
}

/// The last line of a regex error ("unclosed group"), without the preamble.
pub(crate) fn regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().trim_start_matches("error: ").to_string())
        .unwrap_or(text)
}

#[cfg(test)]
mod tests;
