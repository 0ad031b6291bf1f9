use super::*;

fn m(pattern: &str, message: &str) -> bool {
    FilterPattern::parse(pattern)
        .unwrap_or_else(|e| panic!("{pattern}: {e}"))
        .matches(message)
}

const GUIDE: [&str; 3] = ["ERROR WARN message", "ERROR message", "WARN message"];

fn which(pattern: &str) -> Vec<usize> {
    GUIDE
        .iter()
        .enumerate()
        .filter(|(_, msg)| m(pattern, msg))
        .map(|(i, _)| i + 1)
        .collect()
}

#[test]
fn term_patterns_match_the_user_guide_examples() {
    assert_eq!(which(""), [1, 2, 3]);
    assert_eq!(which("ERROR"), [1, 2]);
    assert_eq!(which("?ERROR ?WARN"), [1, 2, 3]);
    assert_eq!(which("ERROR WARN"), [1]);
    assert_eq!(which("ERROR -WARN"), [2]);
    assert_eq!(which("\"ERROR WARN\""), [1]);
    assert!(m("%AUTHORIZED%", "UNAUTHORIZED REQUEST"));
    assert!(m("%colou?r%", "color"));
    assert!(!m("error", "ERROR"));
}

#[test]
fn required_literals_are_the_plain_terms_and_phrases_only() {
    let lits = |p: &str| {
        FilterPattern::parse(p)
            .unwrap()
            .required_literals()
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        lits("\"req 42\" ERROR ?WARN -DEBUG %t[0-9]%"),
        ["req 42", "ERROR"]
    );
    assert!(lits("?a ?b").is_empty());
    assert!(lits("").is_empty());
    assert!(lits("{ $.status = 200 }").is_empty());
    assert!(lits("[ip, user]").is_empty());
    // Every message a pattern keeps holds each of its required literals.
    for (pattern, message) in [("ERROR \"x y\"", "x y ERROR"), ("a", "cba")] {
        assert!(m(pattern, message));
        for lit in lits(pattern) {
            assert!(message.contains(&lit));
        }
    }
}

#[test]
fn json_patterns_match_the_user_guide_examples() {
    let doc = r#"{"user":{"id":1,"email":"John.Stiles@example.com"},"users":[{"id":2,"email":"John.Doe@example.com"},{"id":3,"email":"Jane.Doe@example.com"}],"actions":["GET","PUT","DELETE"],"coordinates":[[0,1,2],[4,5,6],[7,8,9]]}"#;
    assert!(m(
        r#"{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }"#,
        doc
    ));
    assert!(!m(
        r#"{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }"#,
        doc
    ));
    assert!(m(
        r#"{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch && $.actions[2] = nomatch }"#,
        doc
    ));
    assert!(!m(
        r#"{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch) && $.actions[2] = nomatch }"#,
        doc
    ));
    // Arrays and objects never compare.
    assert!(!m("{ $.users = 1 }", doc));
    assert!(!m("{ $.users != 1 }", doc));
    assert!(m("{ $.coordinates[1][2] >= 6 }", doc));
    assert!(m("{ $.user.email = John.* }", doc));
    assert!(m("{ $.user.email = *example.com }", doc));
    assert!(m("{ $.user.id = * }", doc));
    assert!(m("{ $.nothing NOT EXISTS }", doc));
    assert!(!m("{ $.user NOT EXISTS }", doc));
}

#[test]
fn json_patterns_over_access_log_lines() {
    let line = r#"{"requestId":"r1","status":"504","latency":29001,"flag":true,"none":null,"ip":"10.0.0.1"}"#;
    assert!(m("{ $.status = 5* }", line));
    assert!(m("{ $.status >= 500 }", line));
    assert!(m("{ $.status = 504 }", line));
    assert!(m("{ $.latency > 1e3 }", line));
    assert!(m("{ $.flag IS TRUE }", line));
    assert!(!m("{ $.flag IS FALSE }", line));
    assert!(m("{ $.none IS NULL }", line));
    assert!(m("{ $.ip != 10.0.0.2 }", line));
    assert!(m("{ $.requestId = %^r[0-9]$% }", line));
    assert!(!m("{ $.status = 5* }", "not json"));
}

#[test]
fn space_delimited_patterns() {
    assert_eq!(which("[w1=ERROR, w2]"), [2]);
    assert_eq!(which("[w1=ERROR || w1=WARN, w2]"), [2, 3]);
    let apache =
        r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534"#;
    assert!(m(
        "[ip, user, username, timestamp, request, status_code, bytes]",
        apache
    ));
    assert!(m("[..., status_code = 4*, bytes > 1000]", apache));
    assert!(m("[ip, user, ..., status_code = 404, bytes]", apache));
    assert!(m(
        "[..., request = *html*, status_code = 4*, bytes]",
        apache
    ));
    assert!(!m(
        "[..., status_code = 4* && status_code != 404, bytes]",
        apache
    ));
    assert!(!m("[ip, user]", apache));
    assert!(m("[ip = 127.0.0.1, ...]", apache));
    // Commas and operators inside regexes and quotes are not separators.
    assert!(m("[ip = %\\d{1,3}\\.\\d{1,3}.*%, ...]", apache));
    assert!(m(
        "[..., request = \"GET /index.html HTTP/1.0\", status_code, bytes]",
        apache
    ));
    assert!(m("[w1 = \"a||b\" || w1 = WARN, w2]", "WARN message"));
}

#[test]
fn bad_patterns_are_clear_errors() {
    for (pattern, needle) in [
        ("{ $.a = }", "value is missing"),
        ("{ a = 1 }", "must start with $"),
        ("{ $.a = 1", "enclosed in { }"),
        ("{ ($.a = 1 }", "missing ')'"),
        ("{ $.a > abc }", "need a number"),
        ("[a, ..., b, ...]", "only once"),
        ("%unterminated", "closing %"),
        ("%a(b)%", "not allowed"),
        ("\"open", "unterminated quoted"),
    ] {
        let err = FilterPattern::parse(pattern).unwrap_err();
        assert_eq!(err.error_type(), "InvalidParameterException");
        assert!(err.to_string().contains(needle), "{pattern}: {err}");
    }
    assert!(FilterPattern::parse(&"a".repeat(1025)).is_err());
}

/// A small deterministic generator for the equivalence test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Random JSON text, with repeated keys, escaped keys and nesting.
fn json_text(rng: &mut Rng, depth: usize, out: &mut String) {
    // Messages are mostly objects (a few are not), and objects hold objects
    // and arrays often enough for the selectors to reach into them.
    let kind = match depth {
        0 if rng.below(20) > 0 => 0,
        1 | 2 if rng.below(2) == 0 => rng.below(2),
        d if d >= 3 => 2 + rng.below(4),
        _ => rng.below(6),
    };
    match kind {
        0 => {
            out.push('{');
            for i in 0..rng.below(5) {
                if i > 0 {
                    out.push(',');
                }
                let key = rng.pick(&["a", "b", "c", "status", "st\\u0061tus", "x y", "é"]);
                out.push_str(&format!("\"{key}\":"));
                json_text(rng, depth + 1, out);
            }
            out.push('}');
        }
        1 => {
            out.push('[');
            for i in 0..rng.below(4) {
                if i > 0 {
                    out.push_str(", ");
                }
                json_text(rng, depth + 1, out);
            }
            out.push(']');
        }
        2 => out.push_str(rng.pick(&["\"200\"", "\"x\"", "\"5xx\"", "\"\"", "\"a\\\"b\""])),
        3 => out.push_str(rng.pick(&["200", "0", "-1", "1.5", "503", "1e2"])),
        4 => out.push_str(rng.pick(&["true", "false"])),
        _ => out.push_str("null"),
    }
}

#[test]
fn json_patterns_read_only_what_they_select_and_agree_with_a_full_parse() {
    let selectors = [
        "$.a",
        "$.a.b",
        "$.a[0]",
        "$.a[1].b",
        "$.status",
        "$.b.c.a",
        "$.c[0][1]",
        "$.x y",
        "$.é",
    ];
    let tests = [
        "= 200",
        "= \"x\"",
        "!= 1",
        "> 0",
        "IS NULL",
        "NOT EXISTS",
        "IS TRUE",
        "= 5*",
        "= *",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut matched, mut checked) = (0, 0);
    for _ in 0..3_000 {
        let mut message = String::new();
        json_text(&mut rng, 0, &mut message);
        // Some messages are broken or have trailing text: never a match.
        match rng.below(10) {
            0 => {
                let mut cut = message.len() / 2;
                while !message.is_char_boundary(cut) {
                    cut -= 1;
                }
                message.truncate(cut);
            }
            1 => message.push_str(" tail"),
            _ => {}
        }
        for _ in 0..4 {
            let clause = |rng: &mut Rng| format!("{} {}", rng.pick(&selectors), rng.pick(&tests));
            let pattern = match rng.below(3) {
                0 => format!("{{ {} }}", clause(&mut rng)),
                1 => format!("{{ {} && {} }}", clause(&mut rng), clause(&mut rng)),
                _ => format!("{{ ({}) || {} }}", clause(&mut rng), clause(&mut rng)),
            };
            let Ok(parsed) = FilterPattern::parse(&pattern) else {
                continue;
            };
            let FilterPattern::Json(expr, _) = &parsed else {
                panic!("{pattern} is a JSON pattern");
            };
            let full = match serde_json::from_str::<serde_json::Value>(&message) {
                Ok(doc @ serde_json::Value::Object(_)) => expr.eval(&doc),
                _ => false,
            };
            assert_eq!(parsed.matches(&message), full, "{pattern} on {message}");
            checked += 1;
            matched += usize::from(full);
        }
    }
    assert!(checked > 9_000, "{checked} patterns checked");
    assert!(matched > 500, "{matched} matches: the patterns select");
}
