//! A PutLogEvents request body read by hand, for the one shape nearly every
//! client sends:
//!
//! ```json
//! {"logGroupName": "...", "logStreamName": "...",
//!  "logEvents": [{"timestamp": 1, "message": "..."}, ...]}
//! ```
//!
//! with keys in any order and any JSON whitespace. Messages are usually
//! JSON or text with quotes in them, so nearly every message has escapes,
//! and a general JSON reader then copies each one into a string of its own
//! one escape at a time. This reader decodes all the strings of a body into
//! one buffer: sixteen bytes per step, escaped quotes and slashes included,
//! where the processor has SSSE3 ([`packed`]), and otherwise eight bytes at
//! a time between escapes. On the benchmark's JSON messages (28 escaped
//! quotes in 270 bytes) that reads a 1,000-event batch in about 130 ns per
//! event, against 290 for the eight-byte reader alone and 500-700 for
//! `serde_json` (see BENCHMARKS.md).
//!
//! It only ever answers for bodies a strict JSON reader would read the same
//! way: anything else (another key, a repeated key, a number with a fraction
//! or exponent or out of `i64` range, a lone surrogate escape, a control
//! character or invalid UTF-8 in a string, trailing text) gives `None`, and
//! the caller reads the body with `serde_json`, which either accepts it or
//! reports the error CloudWatch would. A seeded test checks the two agree.

use std::ops::Range;

mod packed;

/// A PutLogEvents body: names and messages are ranges of [`PutBody::text`].
#[derive(Debug)]
pub(super) struct PutBody {
    /// `logGroupName`.
    pub group: Range<usize>,
    /// `logStreamName`.
    pub stream: Range<usize>,
    /// Each event's timestamp and message.
    pub events: Vec<(i64, Range<usize>)>,
    /// Every decoded string of the body, one after the other.
    pub text: String,
}

/// Reads `body`, or `None` when it is not exactly the common shape.
pub(super) fn read(body: &[u8]) -> Option<PutBody> {
    read_with(body, true)
}

/// [`read`], with the sixteen-byte string steps of [`packed`] or without.
fn read_with(body: &[u8], packed: bool) -> Option<PutBody> {
    // Strings are copied a byte run at a time, so checking the whole body
    // once keeps every copied run valid UTF-8; escapes add whole characters.
    std::str::from_utf8(body).ok()?;
    let mut r = Reader {
        body,
        at: 0,
        out: Vec::with_capacity(body.len() + packed::SLACK),
        packed,
    };
    r.expect(b'{')?;
    let (mut group, mut stream, mut events) = (None, None, None);
    loop {
        match r.key()? {
            b"logGroupName" if group.is_none() => group = Some(r.string()?),
            b"logStreamName" if stream.is_none() => stream = Some(r.string()?),
            b"logEvents" if events.is_none() => events = Some(r.events()?),
            _ => return None,
        }
        if r.after_member(b'}')? {
            break;
        }
    }
    r.skip_whitespace();
    if r.at != body.len() {
        return None;
    }
    Some(PutBody {
        group: group?,
        stream: stream?,
        events: events?,
        text: String::from_utf8(r.out).ok()?,
    })
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `w` (little-endian) that ends a run of plain
/// string bytes: a quote, a backslash or a control character. Only the
/// lowest marked byte is exact (a borrow can mark bytes above it), which is
/// the only one read.
#[inline]
fn specials(w: u64) -> u64 {
    let quote = w ^ (ONES * u64::from(b'"'));
    let backslash = w ^ (ONES * u64::from(b'\\'));
    let zero_quote = quote.wrapping_sub(ONES) & !quote;
    let zero_backslash = backslash.wrapping_sub(ONES) & !backslash;
    let control = w.wrapping_sub(ONES * 0x20) & !w;
    (zero_quote | zero_backslash | control) & HIGHS
}

/// A position in a body and the strings decoded so far.
struct Reader<'a> {
    body: &'a [u8],
    at: usize,
    out: Vec<u8>,
    /// Whether to try [`packed::run`] (which itself does nothing without
    /// SSSE3); tests turn it off to compare the two readers.
    packed: bool,
}

impl<'a> Reader<'a> {
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.body.get(self.at) {
            self.at += 1;
        }
    }

    /// The next byte after whitespace.
    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.body.get(self.at).copied()
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// After an object member or array element: `true` at the `close`
    /// byte, `false` at a comma (both consumed).
    fn after_member(&mut self, close: u8) -> Option<bool> {
        let next = self.peek()?;
        self.at += 1;
        match next {
            b',' => Some(false),
            b if b == close => Some(true),
            _ => None,
        }
    }

    /// An object key and its colon; keys with escapes are left to the
    /// general reader.
    fn key(&mut self) -> Option<&'a [u8]> {
        self.expect(b'"')?;
        let body: &'a [u8] = self.body;
        let start = self.at;
        // Eight bytes at a time, then byte by byte near the end.
        let mut len = 0;
        loop {
            let Some(word) = body.get(start + len..start + len + 8) else {
                len += body[start + len..]
                    .iter()
                    .position(|&b| matches!(b, b'"' | b'\\' | 0..=0x1f))?;
                break;
            };
            let marks = specials(u64::from_le_bytes(word.try_into().ok()?));
            if marks != 0 {
                len += (marks.trailing_zeros() / 8) as usize;
                break;
            }
            len += 8;
        }
        if body[start + len] != b'"' {
            return None;
        }
        self.at = start + len + 1;
        self.expect(b':')?;
        Some(&body[start..start + len])
    }

    /// A string, decoded onto the end of `out`; its range there.
    fn string(&mut self) -> Option<Range<usize>> {
        self.expect(b'"')?;
        let start = self.out.len();
        loop {
            // Sixteen bytes at a time where the processor allows it: plain
            // bytes and the escapes `\"` and `\/`, which need no lookup.
            if self.packed {
                self.at = packed::run(self.body, self.at, &mut self.out);
            }
            // Eight bytes at a time: the whole word is appended, then cut
            // back to the plain bytes before the first special one.
            while let Some(word) = self.body.get(self.at..self.at + 8) {
                let marks = specials(u64::from_le_bytes(word.try_into().ok()?));
                let len = self.out.len();
                self.out.extend_from_slice(word);
                if marks == 0 {
                    self.at += 8;
                    continue;
                }
                let plain = (marks.trailing_zeros() / 8) as usize;
                self.out.truncate(len + plain);
                self.at += plain;
                break;
            }
            let byte = *self.body.get(self.at)?;
            match byte {
                b'"' => {
                    self.at += 1;
                    return Some(start..self.out.len());
                }
                b'\\' => self.escape()?,
                0..=0x1f => return None,
                _ => {
                    self.out.push(byte);
                    self.at += 1;
                }
            }
        }
    }

    /// The escape at `at` (its backslash), decoded onto `out`.
    fn escape(&mut self) -> Option<()> {
        let kind = *self.body.get(self.at + 1)?;
        self.at += 2;
        let byte = match kind {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let unit = self.hex4()?;
                let code = match unit {
                    0xD800..=0xDBFF => {
                        if self.body.get(self.at..self.at + 2)? != b"\\u" {
                            return None;
                        }
                        self.at += 2;
                        let low = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return None;
                        }
                        0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return None,
                    unit => unit,
                };
                let mut utf8 = [0; 4];
                let c = char::from_u32(code)?;
                self.out
                    .extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                return Some(());
            }
            _ => return None,
        };
        self.out.push(byte);
        Some(())
    }

    /// Four hex digits.
    fn hex4(&mut self) -> Option<u32> {
        let digits = self.body.get(self.at..self.at + 4)?;
        let mut value = 0;
        for &d in digits {
            value = value * 16 + char::from(d).to_digit(16)?;
        }
        self.at += 4;
        Some(value)
    }

    /// A JSON integer that fits `i64` (no fraction, no exponent, not `-0`).
    fn integer(&mut self) -> Option<i64> {
        self.skip_whitespace();
        let negative = self.body.get(self.at) == Some(&b'-');
        if negative {
            self.at += 1;
        }
        let start = self.at;
        let digits = self.body[start..]
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(self.body.len() - start);
        self.at += digits;
        // More than nineteen digits (`i64`'s most) overflow, or have a
        // leading zero.
        if digits == 0 || digits > 19 || (digits > 1 && self.body[start] == b'0') {
            return None;
        }
        // Nineteen digits always fit a `u64`; the sign then decides the range.
        let magnitude = self.body[start..self.at]
            .iter()
            .fold(0u64, |v, &d| v * 10 + u64::from(d - b'0'));
        let value = if negative {
            0i64.checked_sub_unsigned(magnitude)?
        } else {
            i64::try_from(magnitude).ok()?
        };
        if matches!(self.body.get(self.at), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        // `serde_json` reads `-0` as the float -0.0, which is not an
        // integer timestamp.
        if negative && value == 0 {
            return None;
        }
        Some(value)
    }

    /// The `logEvents` array.
    fn events(&mut self) -> Option<Vec<(i64, Range<usize>)>> {
        self.expect(b'[')?;
        let mut events = Vec::new();
        if self.peek()? == b']' {
            self.at += 1;
            return Some(events);
        }
        loop {
            events.push(self.event()?);
            if self.after_member(b']')? {
                return Some(events);
            }
        }
    }

    /// One `{"timestamp": N, "message": "..."}`, keys in either order.
    fn event(&mut self) -> Option<(i64, Range<usize>)> {
        self.expect(b'{')?;
        let (mut timestamp, mut message) = (None, None);
        loop {
            match self.key()? {
                b"timestamp" if timestamp.is_none() => timestamp = Some(self.integer()?),
                b"message" if message.is_none() => message = Some(self.string()?),
                _ => return None,
            }
            if self.after_member(b'}')? {
                return Some((timestamp?, message?));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body as `serde_json` reads it into owned values: the reference.
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Reference {
        #[serde(rename = "logGroupName")]
        group: String,
        #[serde(rename = "logStreamName")]
        stream: String,
        #[serde(rename = "logEvents")]
        events: Vec<ReferenceEvent>,
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct ReferenceEvent {
        timestamp: i64,
        message: String,
    }

    /// What [`read`] made of a body, in the reference's terms.
    fn owned(read: &PutBody) -> Reference {
        Reference {
            group: read.text[read.group.clone()].to_string(),
            stream: read.text[read.stream.clone()].to_string(),
            events: read
                .events
                .iter()
                .map(|(timestamp, m)| ReferenceEvent {
                    timestamp: *timestamp,
                    message: read.text[m.clone()].to_string(),
                })
                .collect(),
        }
    }

    /// splitmix64: a seeded, dependency-free source of choices.
    struct Choices(u64);

    impl Choices {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        /// True one time in `n`.
        fn one_in(&mut self, n: usize) -> bool {
            self.below(n) == 0
        }

        fn pick<T: Copy>(&mut self, items: &[T]) -> T {
            items[self.below(items.len())]
        }
    }

    /// A generated body: its bytes, whether a strict JSON reader accepts it
    /// with exactly the common shape (so [`read`] must too), and the
    /// values it holds when it does.
    struct Case {
        body: Vec<u8>,
        common: bool,
        expected: Option<Reference>,
    }

    /// Builds bodies piece by piece; each piece either keeps the body in
    /// the common shape or spoils it in one of the ways the reader must
    /// leave to the general one.
    struct Builder<'c> {
        choices: &'c mut Choices,
        body: Vec<u8>,
        /// Still valid JSON of the common shape.
        common: bool,
        /// Still valid JSON the reference reads (a spoiled body may be).
        valid: bool,
    }

    impl Builder<'_> {
        fn whitespace(&mut self) {
            let ws: &str = self.choices.pick(&["", "", " ", "\n\t ", "\r\n  "]);
            self.body.extend_from_slice(ws.as_bytes());
        }

        /// A JSON string; returns its decoded value.
        fn string(&mut self) -> String {
            let mut decoded = String::new();
            self.body.push(b'"');
            for _ in 0..self.choices.below(12) {
                match self.choices.below(8) {
                    0..=2 => {
                        let len = self.choices.below(20);
                        for _ in 0..len {
                            let c = self.choices.pick(b"abcXYZ019 {}:,[]/'#\x7f");
                            self.body.push(c);
                            decoded.push(char::from(c));
                        }
                    }
                    3 => {
                        let c: &str = self.choices.pick(&["é", "日本", "😀", "ß"]);
                        self.body.extend_from_slice(c.as_bytes());
                        decoded.push_str(c);
                    }
                    4 | 5 => {
                        let (escape, value) = self.choices.pick(&[
                            ("\\\"", "\""),
                            ("\\\\", "\\"),
                            ("\\/", "/"),
                            ("\\b", "\u{8}"),
                            ("\\f", "\u{c}"),
                            ("\\n", "\n"),
                            ("\\r", "\r"),
                            ("\\t", "\t"),
                            ("\\u00e9", "é"),
                            ("\\u00E9", "é"),
                            ("\\u0000", "\u{0}"),
                            ("\\u001f", "\u{1f}"),
                            ("\\ud83d\\ude00", "😀"),
                            ("\\uD83D\\uDE00", "😀"),
                        ]);
                        self.body.extend_from_slice(escape.as_bytes());
                        decoded.push_str(value);
                    }
                    6 if self.choices.one_in(6) => {
                        // Something a strict reader refuses inside a string,
                        // whatever piece comes next.
                        let bad: &[u8] = self.choices.pick(&[
                            b"\x01".as_slice(),
                            b"\n",
                            b"\x1f",
                            b"\\x",
                            b"\\u12 ",
                            b"\\u12g4",
                            b"\\uD800 ",
                            b"\\uDC00",
                            b"\\uD800\\u0041",
                            b"\xff",
                            b"\xc3",
                            b"\\ ",
                        ]);
                        self.body.extend_from_slice(bad);
                        self.common = false;
                        self.valid = false;
                    }
                    _ => {
                        // A long plain run, so words of eight are read whole.
                        let len = 8 + self.choices.below(40);
                        for i in 0..len {
                            let c = b'a' + (i % 26) as u8;
                            self.body.push(c);
                            decoded.push(char::from(c));
                        }
                    }
                }
            }
            self.body.push(b'"');
            decoded
        }

        fn key(&mut self, name: &str) {
            self.whitespace();
            if self.choices.one_in(40) {
                // A key spelled with an escape: the reference reads it as
                // the same key, the reader leaves it alone.
                let spelled = name.replacen('g', "\\u0067", 1);
                self.body
                    .extend_from_slice(format!("\"{spelled}\"").as_bytes());
                if spelled != name {
                    self.common = false;
                }
            } else {
                self.body
                    .extend_from_slice(format!("\"{name}\"").as_bytes());
            }
            self.whitespace();
            self.body.push(b':');
            self.whitespace();
        }

        /// A timestamp; its value when valid.
        fn integer(&mut self) -> i64 {
            if self.choices.one_in(12) {
                let bad: &str = self.choices.pick(&[
                    "01",
                    "-01",
                    "1.0",
                    "1e3",
                    "1E3",
                    "-",
                    "+1",
                    "9223372036854775808",
                    "-9223372036854775809",
                    "18446744073709551616",
                    "\"1\"",
                    "null",
                ]);
                self.body.extend_from_slice(bad.as_bytes());
                self.common = false;
                self.valid = false;
                return 0;
            }
            let value: i64 = match self.choices.below(6) {
                0 => 0,
                1 => i64::MAX,
                2 => i64::MIN,
                3 => -(self.choices.below(1000) as i64),
                _ => 1_764_000_000_000 + self.choices.below(1_000_000) as i64,
            };
            if value == 0 && self.choices.one_in(4) {
                // A strict reader reads `-0` as a float.
                self.body.extend_from_slice(b"-0");
                self.common = false;
                self.valid = false;
                return 0;
            }
            self.body.extend_from_slice(value.to_string().as_bytes());
            value
        }

        fn event(&mut self) -> ReferenceEvent {
            self.whitespace();
            self.body.push(b'{');
            let message_first = self.choices.one_in(2);
            let mut event = ReferenceEvent {
                timestamp: 0,
                message: String::new(),
            };
            for first in [true, false] {
                if !first {
                    self.whitespace();
                    self.body.push(b',');
                }
                if first == message_first {
                    self.key("message");
                    event.message = self.string();
                } else {
                    self.key("timestamp");
                    event.timestamp = self.integer();
                }
            }
            if self.choices.one_in(30) {
                self.body.extend_from_slice(b",\"extra\":1");
                self.common = false;
            }
            self.whitespace();
            self.body.push(b'}');
            event
        }
    }

    fn case(choices: &mut Choices) -> Case {
        let mut b = Builder {
            choices,
            body: Vec::new(),
            common: true,
            valid: true,
        };
        b.whitespace();
        b.body.push(b'{');
        let mut expected = Reference {
            group: String::new(),
            stream: String::new(),
            events: Vec::new(),
        };
        let mut order = [0, 1, 2];
        for i in (1..3).rev() {
            order.swap(i, b.choices.below(i + 1));
        }
        let (mut members, mut has_group) = (0, false);
        for member in order {
            if b.choices.one_in(40) {
                // A required member left out.
                b.common = false;
                b.valid = false;
                continue;
            }
            if members > 0 {
                b.whitespace();
                b.body.push(b',');
            }
            members += 1;
            match member {
                0 => {
                    has_group = true;
                    b.key("logGroupName");
                    expected.group = b.string();
                }
                1 => {
                    b.key("logStreamName");
                    expected.stream = b.string();
                }
                _ => {
                    b.key("logEvents");
                    b.body.push(b'[');
                    let count = b.choices.below(5);
                    for i in 0..count {
                        if i > 0 {
                            b.whitespace();
                            b.body.push(b',');
                        }
                        let event = b.event();
                        expected.events.push(event);
                    }
                    b.whitespace();
                    b.body.push(b']');
                }
            }
        }
        if b.choices.one_in(30) {
            // Another member: the reference ignores it, the reader does not
            // know it.
            b.body.extend_from_slice(b",\"sequenceToken\":\"49\"");
            b.common = false;
        }
        if has_group && b.choices.one_in(30) {
            // The group name again: the reference refuses a repeated field.
            b.body.extend_from_slice(b",\"logGroupName\":\"again\"");
            b.common = false;
            b.valid = false;
        }
        b.whitespace();
        b.body.push(b'}');
        b.whitespace();
        if b.choices.one_in(30) {
            let tail: &str = b.choices.pick(&["x", "}", ",", "{}"]);
            b.body.extend_from_slice(tail.as_bytes());
            b.common = false;
            b.valid = false;
        }
        Case {
            common: b.common,
            expected: b.valid.then_some(expected),
            body: b.body,
        }
    }

    #[test]
    fn reads_every_body_as_serde_json_does_or_leaves_it() {
        let mut choices = Choices(20261204);
        let (mut read_by_hand, mut left) = (0, 0);
        for _ in 0..20_000 {
            let case = case(&mut choices);
            let shown = String::from_utf8_lossy(&case.body).into_owned();
            let reference = serde_json::from_slice::<Reference>(&case.body).ok();
            match read(&case.body) {
                Some(read) => {
                    read_by_hand += 1;
                    assert_eq!(Some(owned(&read)), reference, "{shown}");
                    assert!(case.common, "read a body outside the common shape: {shown}");
                }
                None => {
                    left += 1;
                    assert!(!case.common, "left a body of the common shape: {shown}");
                }
            }
            if case.common {
                assert_eq!(
                    reference, case.expected,
                    "generator and reference differ: {shown}"
                );
            }
        }
        // Both ways are taken often, so neither half of the test is idle.
        assert!(
            read_by_hand > 5_000 && left > 2_000,
            "{read_by_hand} read, {left} left"
        );
    }

    #[test]
    fn reads_an_sdk_body() {
        let body = br#"{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":1764000000000,"message":"{\"status\":\"200\"}"},{"timestamp":1764000000001,"message":"plain"}]}"#;
        let read = read(body).expect("the common shape");
        assert_eq!(&read.text[read.group.clone()], "g");
        assert_eq!(&read.text[read.stream.clone()], "s");
        let events: Vec<(i64, &str)> = read
            .events
            .iter()
            .map(|(t, m)| (*t, &read.text[m.clone()]))
            .collect();
        assert_eq!(
            events,
            [
                (1_764_000_000_000, r#"{"status":"200"}"#),
                (1_764_000_000_001, "plain")
            ]
        );
    }

    #[test]
    fn sixteen_byte_steps_decode_as_the_scalar_reader_does() {
        // Strings dense in escapes of every kind, runs of every length and
        // multi-byte characters, so that each kind of byte falls on every
        // position of a step, at each step boundary and just past one.
        let pieces: [(&str, &str); 12] = [
            ("a", "a"),
            ("xyz0123", "xyz0123"),
            ("\\\"", "\""),
            ("\\/", "/"),
            ("/", "/"),
            ("\\\\", "\\"),
            ("\\n", "\n"),
            ("\\u00e9", "é"),
            ("\\ud83d\\ude00", "😀"),
            ("é", "é"),
            ("日本", "日本"),
            ("{\\\"k\\\":\\\"v\\\"}", "{\"k\":\"v\"}"),
        ];
        let mut choices = Choices(20261206);
        let mut body = String::from(r#"{"logGroupName":"g","logStreamName":"s","logEvents":["#);
        let mut expected = Vec::new();
        for i in 0..3_000 {
            let (mut encoded, mut decoded) = (String::new(), String::new());
            // Some strings start off a step boundary by up to fifteen bytes.
            for _ in 0..choices.below(16) {
                encoded.push('.');
                decoded.push('.');
            }
            for _ in 0..choices.below(40) {
                let (e, d) = choices.pick(&pieces);
                encoded.push_str(e);
                decoded.push_str(d);
            }
            if i > 0 {
                body.push(',');
            }
            body.push_str(&format!(r#"{{"timestamp":{i},"message":"{encoded}"}}"#));
            expected.push(decoded);
        }
        body.push_str("]}");
        for packed in [true, false] {
            let read = read_with(body.as_bytes(), packed).expect("the common shape");
            let messages: Vec<&str> = read
                .events
                .iter()
                .map(|(_, m)| &read.text[m.clone()])
                .collect();
            assert_eq!(messages, expected, "packed: {packed}");
        }
        // A string left open after an escaped quote is refused either way.
        for packed in [true, false] {
            let body = br#"{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":1,"message":"0123456789abcde\"}]}"#;
            assert!(read_with(body, packed).is_none());
        }
    }

    #[test]
    fn the_word_scan_marks_the_first_special_byte() {
        for special in [b'"', b'\\', 0x00, 0x1f] {
            for at in 0..8 {
                // Bytes next to the limits of each test around it.
                let mut word = *b"!\x20[]\x7f\x80\xff#";
                word[at] = special;
                let marks = specials(u64::from_le_bytes(word));
                assert_eq!((marks.trailing_zeros() / 8) as usize, at, "{word:?}");
            }
        }
        assert_eq!(specials(u64::from_le_bytes(*b" !#[]~\x7f\xff")), 0);
    }
}
