//! JSON filter patterns: `{ SELECTOR op VALUE && ( ... || ... ) }`.

use serde_json::Value;

use super::value::{read_quoted, Op, Operand};

/// A parsed JSON pattern expression.
#[derive(Debug, Clone)]
pub enum JsonExpr {
    /// Both sides.
    And(Box<JsonExpr>, Box<JsonExpr>),
    /// Either side.
    Or(Box<JsonExpr>, Box<JsonExpr>),
    /// `SEL op VALUE`.
    Compare(Selector, Op, Operand),
    /// `SEL IS TRUE` / `SEL IS FALSE`.
    IsBool(Selector, bool),
    /// `SEL IS NULL`.
    IsNull(Selector),
    /// `SEL NOT EXISTS`.
    NotExists(Selector),
}

/// One step of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `.name`
    Key(String),
    /// `[N]`
    Index(usize),
}

/// `$.a.b[0]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector(pub Vec<Step>);

impl Selector {
    fn resolve<'a>(&self, doc: &'a Value) -> Option<&'a Value> {
        let mut node = doc;
        for step in &self.0 {
            node = match step {
                Step::Key(k) => node.as_object()?.get(k)?,
                Step::Index(i) => node.as_array()?.get(*i)?,
            };
        }
        Some(node)
    }
}

/// A plain decimal in a JSON string (no exponent), compared as a number.
fn decimal_string(s: &str) -> Option<f64> {
    let t = s.strip_prefix('-').unwrap_or(s);
    let ok = !t.is_empty()
        && t.chars().all(|c| c.is_ascii_digit() || c == '.')
        && t.chars().filter(|c| *c == '.').count() <= 1;
    if ok {
        s.parse().ok()
    } else {
        None
    }
}

impl JsonExpr {
    /// Evaluates against a parsed message.
    pub fn eval(&self, doc: &Value) -> bool {
        match self {
            JsonExpr::And(a, b) => a.eval(doc) && b.eval(doc),
            JsonExpr::Or(a, b) => a.eval(doc) || b.eval(doc),
            JsonExpr::IsBool(sel, want) => sel.resolve(doc) == Some(&Value::Bool(*want)),
            JsonExpr::IsNull(sel) => sel.resolve(doc) == Some(&Value::Null),
            JsonExpr::NotExists(sel) => sel.resolve(doc).is_none(),
            JsonExpr::Compare(sel, op, operand) => match sel.resolve(doc) {
                None | Some(Value::Array(_)) | Some(Value::Object(_)) => false,
                Some(Value::String(s)) => operand.compare(*op, s, decimal_string(s)),
                Some(Value::Number(n)) => operand.compare(*op, &n.to_string(), n.as_f64()),
                Some(Value::Bool(b)) => {
                    operand.compare(*op, if *b { "true" } else { "false" }, None)
                }
                Some(Value::Null) => operand.compare(*op, "null", None),
            },
        }
    }
}

/// Parses `{ ... }`.
pub fn parse(text: &str) -> Result<JsonExpr, String> {
    let inner = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or("a JSON pattern must be enclosed in { }")?;
    let chars: Vec<char> = inner.chars().collect();
    let mut p = Parser {
        chars: &chars,
        i: 0,
    };
    let expr = p.or()?;
    p.skip_ws();
    if p.i < chars.len() {
        return Err(format!(
            "unexpected '{}'",
            chars[p.i..].iter().collect::<String>()
        ));
    }
    Ok(expr)
}

struct Parser<'a> {
    chars: &'a [char],
    i: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.chars.get(self.i).is_some_and(|c| c.is_whitespace()) {
            self.i += 1;
        }
    }

    fn eat(&mut self, s: &str) -> bool {
        self.skip_ws();
        let n = s.chars().count();
        if self
            .chars
            .get(self.i..self.i + n)
            .is_some_and(|w| w.iter().copied().eq(s.chars()))
        {
            self.i += n;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<JsonExpr, String> {
        let mut left = self.and()?;
        while self.eat("||") {
            left = JsonExpr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<JsonExpr, String> {
        let mut left = self.primary()?;
        while self.eat("&&") {
            left = JsonExpr::And(Box::new(left), Box::new(self.primary()?));
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<JsonExpr, String> {
        if self.eat("(") {
            let e = self.or()?;
            if !self.eat(")") {
                return Err("missing ')'".into());
            }
            return Ok(e);
        }
        let sel = self.selector()?;
        self.skip_ws();
        if self.eat_word("IS") {
            if self.eat_word("TRUE") {
                return Ok(JsonExpr::IsBool(sel, true));
            }
            if self.eat_word("FALSE") {
                return Ok(JsonExpr::IsBool(sel, false));
            }
            if self.eat_word("NULL") {
                return Ok(JsonExpr::IsNull(sel));
            }
            return Err("expected TRUE, FALSE or NULL after IS".into());
        }
        if self.eat_word("NOT") {
            if self.eat_word("EXISTS") {
                return Ok(JsonExpr::NotExists(sel));
            }
            return Err("expected EXISTS after NOT".into());
        }
        self.skip_ws();
        let (op, next) = Op::read(self.chars, self.i)
            .ok_or("expected a comparison operator (=, !=, <, <=, >, >=)")?;
        self.i = next;
        self.skip_ws();
        let operand = self.value()?;
        if matches!(operand, Operand::Number(_)) || matches!(op, Op::Eq | Op::Ne) {
            Ok(JsonExpr::Compare(sel, op, operand))
        } else {
            Err("<, <=, > and >= need a number".into())
        }
    }

    fn eat_word(&mut self, word: &str) -> bool {
        self.skip_ws();
        let n = word.len();
        let matches = self
            .chars
            .get(self.i..self.i + n)
            .is_some_and(|w| w.iter().copied().eq(word.chars()))
            && !self
                .chars
                .get(self.i + n)
                .is_some_and(|c| c.is_alphanumeric());
        if matches {
            self.i += n;
        }
        matches
    }

    fn selector(&mut self) -> Result<Selector, String> {
        self.skip_ws();
        if self.chars.get(self.i) != Some(&'$') {
            return Err("a selector must start with $".into());
        }
        self.i += 1;
        let mut steps = Vec::new();
        loop {
            match self.chars.get(self.i) {
                Some('.') => {
                    self.i += 1;
                    let start = self.i;
                    while self.chars.get(self.i).is_some_and(|c| {
                        c.is_alphanumeric() || *c == '_' || *c == '-' || *c == '@' || *c == ':'
                    }) {
                        self.i += 1;
                    }
                    if start == self.i {
                        return Err("empty property name in selector".into());
                    }
                    steps.push(Step::Key(self.chars[start..self.i].iter().collect()));
                }
                Some('[') => {
                    self.i += 1;
                    let start = self.i;
                    while self.chars.get(self.i).is_some_and(char::is_ascii_digit) {
                        self.i += 1;
                    }
                    let n: usize = self.chars[start..self.i]
                        .iter()
                        .collect::<String>()
                        .parse()
                        .map_err(|_| "array index must be a number")?;
                    if self.chars.get(self.i) != Some(&']') {
                        return Err("missing ']' in selector".into());
                    }
                    self.i += 1;
                    steps.push(Step::Index(n));
                }
                _ => break,
            }
        }
        if steps.is_empty() {
            return Err("a selector needs at least one property, as in $.field".into());
        }
        Ok(Selector(steps))
    }

    fn value(&mut self) -> Result<Operand, String> {
        match self.chars.get(self.i) {
            None => Err("a value is missing after the operator".into()),
            Some('"') => {
                let (s, next) = read_quoted(self.chars, self.i)?;
                self.i = next;
                Operand::from_token(&s, true)
            }
            Some('%') => {
                let end = self.chars[self.i + 1..]
                    .iter()
                    .position(|c| *c == '%')
                    .ok_or("unterminated regular expression")?;
                let token: String = self.chars[self.i..self.i + end + 2].iter().collect();
                self.i += end + 2;
                Operand::from_token(&token, false)
            }
            Some(_) => {
                let start = self.i;
                while self
                    .chars
                    .get(self.i)
                    .is_some_and(|c| !c.is_whitespace() && *c != ')' && *c != '&' && *c != '|')
                {
                    self.i += 1;
                }
                let token: String = self.chars[start..self.i].iter().collect();
                if token.is_empty() {
                    return Err("a value is missing after the operator".into());
                }
                Operand::from_token(&token, false)
            }
        }
    }
}
