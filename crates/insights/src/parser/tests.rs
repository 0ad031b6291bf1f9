use super::*;

fn ok(q: &str) -> Query {
    parse(q).unwrap_or_else(|e| panic!("{q}: {e}"))
}

fn err(q: &str) -> QueryError {
    match parse(q) {
        Ok(parsed) => panic!("{q} parsed: {parsed:?}"),
        Err(e) => e,
    }
}

fn field(name: &str) -> ExprKind {
    ExprKind::Field(FieldRef {
        path: name.split('.').map(str::to_string).collect(),
    })
}

#[test]
fn pipelines_and_comments() {
    let q =
        ok("# leading comment\n| fields a, b  # trailing\n| filter a > 1\n# | sort a\n| limit 5");
    assert_eq!(q.commands.len(), 3);
    assert!(matches!(
        q.commands[2].kind,
        CommandKind::Limit { n: 5, any: false }
    ));
}

#[test]
fn keywords_and_functions_are_case_insensitive() {
    let q = ok("FIELDS status | FILTER status IN [\"500\"] | STATS COUNT(*) AS n BY BIN(1h)");
    let CommandKind::Stats { items, by } = &q.commands[2].kind else {
        panic!("not stats");
    };
    assert_eq!(items[0].alias.as_deref(), Some("n"));
    assert!(matches!(&items[0].expr.kind, ExprKind::Call { name, .. } if name == "count"));
    assert_eq!(by[0].text, "BIN(1h)");
}

#[test]
fn field_names() {
    let q = ok("fields `foo-bar`, a.b.0.c, @`aws.tag.x:y`, json.`user.id`, @@k");
    let CommandKind::Fields(items) = &q.commands[0].kind else {
        panic!()
    };
    let names: Vec<String> = items.iter().map(Item::name).collect();
    assert_eq!(
        names,
        ["foo-bar", "a.b.0.c", "@aws.tag.x:y", "json.user.id", "@@k"]
    );
    let ExprKind::Field(f) = &items[3].expr.kind else {
        panic!()
    };
    assert_eq!(f.path, ["json", "user.id"]);
}

#[test]
fn precedence() {
    let q = ok("filter a = 1 or b = 2 and not c = 3");
    let CommandKind::Filter(e) = &q.commands[0].kind else {
        panic!()
    };
    let ExprKind::Binary(BinOp::Or, _, right) = &e.kind else {
        panic!("or is loosest: {e:?}")
    };
    let ExprKind::Binary(BinOp::And, _, r2) = &right.kind else {
        panic!()
    };
    assert!(matches!(r2.kind, ExprKind::Not(_)));

    let q = ok("fields 1 + 2 * 3 ^ 2 ^ 2 as x");
    let CommandKind::Fields(items) = &q.commands[0].kind else {
        panic!()
    };
    let ExprKind::Binary(BinOp::Add, _, mul) = &items[0].expr.kind else {
        panic!()
    };
    let ExprKind::Binary(BinOp::Mul, _, pow) = &mul.kind else {
        panic!()
    };
    // ^ is right-associative: 3 ^ (2 ^ 2).
    let ExprKind::Binary(BinOp::Pow, base, exp) = &pow.kind else {
        panic!()
    };
    assert_eq!(base.kind, ExprKind::Num(3.0));
    assert!(matches!(exp.kind, ExprKind::Binary(BinOp::Pow, _, _)));
}

#[test]
fn regex_versus_division() {
    let q = ok("filter x like /a\\/b/ | fields y / 2 as half | parse @message /(?<n>\\d+)/ multi");
    let CommandKind::Filter(e) = &q.commands[0].kind else {
        panic!()
    };
    let ExprKind::Like { pattern, .. } = &e.kind else {
        panic!()
    };
    assert_eq!(pattern.kind, ExprKind::Regex("a/b".into()));
    let CommandKind::Fields(items) = &q.commands[1].kind else {
        panic!()
    };
    assert!(matches!(
        items[0].expr.kind,
        ExprKind::Binary(BinOp::Div, _, _)
    ));
    assert!(matches!(
        &q.commands[2].kind,
        CommandKind::Parse {
            pattern: ParsePattern::Regex { multi: true, .. },
            ..
        }
    ));
}

#[test]
fn literals() {
    let q = ok(r#"fields "a\"b", 'it''s', 1e3, -2.5, 5m, 2hrs, 1mo, [1, "x"]"#);
    let CommandKind::Fields(items) = &q.commands[0].kind else {
        panic!()
    };
    let kinds: Vec<&ExprKind> = items.iter().map(|i| &i.expr.kind).collect();
    assert_eq!(kinds[0], &ExprKind::Str("a\"b".into()));
    assert_eq!(kinds[1], &ExprKind::Str("it's".into()));
    assert_eq!(kinds[2], &ExprKind::Num(1000.0));
    assert_eq!(kinds[3], &ExprKind::Num(-2.5));
    assert_eq!(
        kinds[4],
        &ExprKind::Period(Period {
            count: 5,
            unit: TimeUnit::Minute
        })
    );
    assert_eq!(
        kinds[5],
        &ExprKind::Period(Period {
            count: 2,
            unit: TimeUnit::Hour
        })
    );
    assert!(matches!(kinds[7], ExprKind::List(l) if l.len() == 2));
}

#[test]
fn like_in_and_negations() {
    let q = ok("filter a not like 'x' and b not in [1] and not c in [2] and d =~ /y/");
    let CommandKind::Filter(_) = &q.commands[0].kind else {
        panic!()
    };
    let q = ok("filter status in [200, 201]");
    let CommandKind::Filter(e) = &q.commands[0].kind else {
        panic!()
    };
    assert!(matches!(&e.kind, ExprKind::In { negated: false, list, .. } if list.len() == 2));
    assert_eq!(
        ok("filter not x").commands[0].kind,
        CommandKind::Filter(Expr {
            kind: ExprKind::Not(Box::new(Expr {
                kind: field("x"),
                span: Span::new(11, 12)
            })),
            span: Span::new(7, 12)
        })
    );
}

#[test]
fn parse_forms() {
    for q in [
        r#"parse "user=*" as u"#,
        r#"parse @message "a * b *" as x, y"#,
        "parse url /(?<v>v\\d)/",
        "parse @message logfmt",
        "parse line csv as a, b",
    ] {
        ok(q);
    }
    let e = err(r#"parse @message "a * b *" as x"#);
    assert!(e.message.contains("2 '*' but 1 names"), "{e}");
    assert!(err("parse csv").message.contains("column names"));
}

#[test]
fn other_commands() {
    for q in [
        "sort a desc, b asc, c",
        "limit any 5",
        "dedup a, b",
        "unnest doc.items into item",
        "expand arr",
        "pattern @message",
        "diff",
        "diff previousWeek",
        "filterIndex requestId = 'x'",
        "where status = 200",
        "display a, b = 1 as c",
        "SOURCE logGroups(namePrefix: ['/aws/', '/gw/'], logGroupClass: STANDARD) | fields a",
        "stats count(*) by bin(5m) as t | stats max(t)",
        "fields jsonParse(@message).a.b[0] as x",
    ] {
        ok(q);
    }
    let q = ok("SOURCE logGroups(namePrefix: ['/aws/']) | fields a");
    assert_eq!(q.source.unwrap().name_prefixes, ["/aws/"]);
}

#[test]
fn errors_carry_positions() {
    let e = err("fields a |\n  frob x");
    assert_eq!(e.message, "Unknown command 'frob'");
    assert_eq!((e.span.start, e.span.end), (13, 17));
    assert_eq!((e.line, e.column), (2, 3));
    assert_eq!(e.to_string(), "Unknown command 'frob' at line 2, column 3");

    let e = err("filter x = 'open");
    assert_eq!(e.message, "Unterminated string");
    assert_eq!(e.span.start, 11);

    assert!(err("").message.contains("empty"));
    assert!(err("fields a | ").message.contains("after '|'"));
    assert!(err("limit 1.5").message.contains("positive whole number"));
    assert!(err("fields bin(5parsecs)")
        .message
        .contains("Unknown time unit"));
    assert!(err("filter a like /x/g").message.contains("flags"));
    assert!(err("filter a like /(/")
        .message
        .contains("Invalid regular expression"));
    assert!(err("join x").message.contains("not supported yet"));
    assert!(err("tail 5").message.contains("replaced by 'limit'"));
    assert!(err("fields a | SOURCE logGroups()")
        .message
        .contains("first command"));
    assert!(err("SOURCE logGroups(accountIdentifiers: ['1'])")
        .message
        .contains("not supported"));
    assert!(err("fields (a").message.contains("Expected ')'"));
    let long = format!("fields {}", "a".repeat(MAX_QUERY_CHARS));
    assert!(err(&long).message.contains("longer than"));
}
