use super::*;
use crate::context::RequestContext;

fn rendered(template: &str, body: &[u8]) -> String {
    let ctx = RequestContext {
        request_id: "r-1".into(),
        ..Default::default()
    };
    let input = TemplateInput {
        context: &ctx,
        request: None,
        body,
    };
    render(template, &input)
}

/// The limit a render of `template` reached.
fn limit_of(template: &str, body: &[u8]) -> Option<&'static str> {
    let ctx = RequestContext::default();
    let input = TemplateInput {
        context: &ctx,
        request: None,
        body,
    };
    render_with_overrides(template, &input)
        .1
        .and_then(|o| o.limit)
}

fn method_request() -> crate::request::MethodRequest {
    let mut stage = gatewatch_model::Stage::new("dev");
    stage.variables.insert("color".into(), "blue".into());
    stage.variables.insert("size".into(), "L".into());
    let mut headers = http::HeaderMap::new();
    headers.insert("host", "api.example.test:8080".parse().unwrap());
    headers.insert("content-type", "application/json".parse().unwrap());
    headers.insert("x-note", "say \"hi\"".parse().unwrap());
    crate::request::MethodRequest {
        method: http::Method::POST,
        path_parameters: vec![("id".into(), "7".into())],
        query: vec![("q".into(), "a b".into()), ("page".into(), "2".into())],
        raw_query: Some("q=a+b&page=2".into()),
        headers,
        body: bytes::Bytes::from_static(br#"{"n": 3}"#),
        stage: std::sync::Arc::new(stage),
        greedy_parameter: None,
    }
}

fn context() -> RequestContext {
    let mut ctx = RequestContext {
        request_id: "r-1".into(),
        http_method: "POST".into(),
        resource_path: Some("/items/{id}".into()),
        stage: "dev".into(),
        ..Default::default()
    };
    ctx.identity.source_ip = "192.0.2.9".into();
    ctx
}

fn rendered_with_request(template: &str) -> String {
    let ctx = context();
    let request = method_request();
    let input = TemplateInput {
        context: &ctx,
        request: Some(&request),
        body: &request.body,
    };
    crate::template::render(template, &input)
}

/// The console's "Method Request passthrough" template: every
/// parameter, stage variable and context value into one JSON body.
#[test]
fn method_request_passthrough_template() {
    let template = r#"##  See https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html
##  This template will pass through all parameters including path, querystring, header, stage variables, and context through to the integration endpoint via the body/payload
#set($allParams = $input.params())
{
"body-json" : $input.json('$'),
"params" : {
#foreach($type in $allParams.keySet())
#set($params = $allParams.get($type))
"$type" : {
#foreach($paramName in $params.keySet())
"$paramName" : "$util.escapeJavaScript($params.get($paramName))"
    #if($foreach.hasNext),#end
#end
}
#if($foreach.hasNext),#end
#end
},
"stage-variables" : {
#foreach($key in $stageVariables.keySet())
"$key" : "$util.escapeJavaScript($stageVariables.get($key))"
#if($foreach.hasNext),#end
#end
},
"context" : {
"http-method" : "$context.httpMethod",
"request-id" : "$context.requestId",
"resource-path" : "$context.resourcePath",
"source-ip" : "$context.identity.sourceIp",
"stage" : "$context.stage"
}
}
"#;
    let out = rendered_with_request(template);
    let json: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(json["body-json"], serde_json::json!({"n": 3}));
    assert_eq!(json["params"]["path"], serde_json::json!({"id": "7"}));
    assert_eq!(
        json["params"]["querystring"],
        serde_json::json!({"q": "a b", "page": "2"})
    );
    let header = &json["params"]["header"];
    assert_eq!(header["Host"], "api.example.test:8080");
    assert_eq!(header["content-type"], "application/json");
    assert_eq!(header["x-note"], "say \"hi\"");
    assert_eq!(header["X-Forwarded-For"], "192.0.2.9");
    assert_eq!(
        json["stage-variables"],
        serde_json::json!({"color": "blue", "size": "L"})
    );
    assert_eq!(json["context"]["resource-path"], "/items/{id}");
    assert_eq!(json["context"]["source-ip"], "192.0.2.9");
    assert_eq!(json["context"]["request-id"], "r-1");
}

#[test]
fn java_methods_on_maps_lists_and_strings() {
    let t = "$input.params().header.get('Content-Type')|$input.params().querystring.size()|$stageVariables.get('color').toUpperCase()|$context.requestId.length()|$input.params('q').replace(' ', '_')|$stageVariables.keySet()|$input.params().path|$context.resourcePath.substring(1, 6)";
    assert_eq!(
        rendered_with_request(t),
        "application/json|2|BLUE|3|a_b|[color, size]|{id=7}|items"
    );
    let t = "#set($s = 'a,b,,c,,')#foreach($p in $s.split(','))[$p]#end|$s.indexOf('b')|$s.lastIndexOf(',')|$s.contains('b,')|$s.startsWith('a')|$s.replaceAll('[,]+', ';')|$s.matches('[a-c,]+')|$s.charAt(2)|$s.trim().isEmpty()|$s.nope()|$s.equals('a,b,,c,,')";
    assert_eq!(
        rendered(t, b"{}"),
        "[a][b][][c]|2|7|true|true|a;b;c;|true|b|false|$s.nope()|true"
    );
}

#[test]
fn lists_and_maps_change_through_their_methods() {
    let t = "#set($list = [])#set($m = {})#foreach($i in [1..4])#set($ignore = $list.add($i * 10))#end#set($ignore = $m.put('k', $list.size()))$list|$m|$m.containsKey('k')|$list.contains(20)|$list.get(3)|$m.put('k', 'v')|$m.k|#foreach($e in $m.entrySet())$e.key=$e.value#end";
    assert_eq!(
        rendered(t, b"{}"),
        "[10, 20, 30, 40]|{k=4}|true|true|40|4|v|k=v"
    );
    // `put` of a new key returns null: the reference is copied through.
    assert_eq!(
        rendered("#set($m = {})$m.put('a', 1)|$!m.put('b', 2)|$m", b""),
        "$m.put('a', 1)||{a=1, b=2}"
    );
    assert_eq!(
        rendered(
            "#set($m = {'a': [1, 2], \"b\": {'c': true}})$m.a[1]|$m.b.c|$m['a']",
            b""
        ),
        "2|true|[1, 2]"
    );
}

#[test]
fn arithmetic_and_ranges() {
    let t = "#set($i = 7)#set($j = $i + 1)#set($k = $j * 2 - 3)$j|$k|#set($q = $i / 2)$q|#set($r = $i % 4)$r|#set($f = 1.5 * 2)$f|#set($n = $i - 10)$n|#foreach($x in [3..1])$x#end|#if($i + 1 == 8)eight#end";
    assert_eq!(rendered(t, b""), "8|13|3|3|3.0|-3|321|eight");
    // Velocity 1.7: a null or failed value is not assigned.
    let t = "#set($i = 5)#set($j = $i -1)#set($k = ($i)-1)#set($l = $i - -1)$j|$k|$l";
    assert_eq!(rendered(t, b""), "4|4|6");
    let t = "#set($a = (1 + 2) * 3)#set($b = -1 + $a)#set($c = $a - -1)#set($d = ((($a))))$a|$b|$c|$d|#set($e = 2 * 3 + 4 * 5 - 6 / 2)$e";
    assert_eq!(rendered(t, b""), "9|8|10|9|23");
    let deep = format!("#set($a = {}1{})$a", "(".repeat(100), ")".repeat(100));
    assert_eq!(limit_of(&deep, b""), Some("values nested too deeply"));
    let long = format!("#set($a = 0{})$a", " + 1".repeat(5_000));
    assert_eq!(rendered(&long, b""), "5000");
    let t = "#set($a = 1)#set($a = $nope)#set($a = 1 / 0)#set($a = 9223372036854775807 + 1)$a";
    assert_eq!(rendered(t, b""), "1");
    // `+` joins text when either side is text (Velocity 1.7).
    let t = "#set($a = 'x' + 1)#set($b = 1 + \"$a\")$a|$b";
    assert_eq!(rendered(t, b""), "x1|1x1");
}

#[test]
fn variables_named_like_the_loop_are_set_aside_while_it_runs() {
    let cases = [
        (
            "#set($foreach = 'x')#foreach($i in [1,2])$foreach.count,#end|$foreach",
            "1,2,|x",
        ),
        (
            "#set($foreach = {'count': 9})#foreach($i in [1,2])$foreach.count,#end|$foreach.count",
            "1,2,|9",
        ),
        (
            "#set($velocityCount = 7)#foreach($i in [1,2])$velocityCount,#end|$velocityCount",
            "1,2,|7",
        ),
        (
            "#foreach($i in [1,2])#set($velocityCount = 5)$velocityCount,#end|$velocityCount",
            "5,5,|$velocityCount",
        ),
        (
            "#foreach($i in [1,2])$velocityCount#set($velocityCount = 5)#end",
            "12",
        ),
    ];
    for (template, want) in cases {
        assert_eq!(rendered(template, b""), want, "{template}");
    }
}

#[test]
fn loops_break_and_restore_their_variables() {
    let t =
        "#foreach($a in [1, 2])#foreach($b in ['x', 'y'])$a$b#end#if($foreach.hasNext),#end#end";
    assert_eq!(rendered(t, b""), "1x1y,2x2y");
    let t =
        "#set($a = 'kept')#foreach($a in [1, 2, 3])#if($a == 3)#break#end$a:$velocityCount #end$a";
    assert_eq!(rendered(t, b""), "1:1 2:2 kept");
}

/// Hostile templates and requests reach a limit instead of the stack,
/// the memory or minutes of CPU (each of these overflowed, or ran for
/// seconds to minutes, before the limits).
#[test]
fn limits_stop_runaway_templates() {
    let n = 1_000;
    let deep = [
        format!("#set($a = {}1{})", "[".repeat(n), "]".repeat(n)),
        format!("#set($a = {}1{})", "{'k': ".repeat(n), "}".repeat(n)),
        format!("#set($m = {{}}){}'k'{}", "$m.get(".repeat(n), ")".repeat(n)),
        format!("{}x{}", "#if(true)".repeat(n), "#end".repeat(n)),
        format!("#if({}true)x#end", "!".repeat(10 * n)),
        format!("#if({}true{})x#end", "(".repeat(10 * n), ")".repeat(10 * n)),
        format!(
            "{}{}",
            "$context.requestId.concat(".repeat(800),
            ")".repeat(800)
        ),
    ];
    for t in &deep {
        assert!(limit_of(t, b"{}").is_some(), "{}", &t[..40]);
    }
    let blowups = [
        "#set($l = [])#foreach($i in [1..40])#set($x = $l.add($l))#end",
        "#set($s = 'ab')#foreach($i in [1..40])#set($s = \"$s$s\")#end",
        "#set($s = 'ab')#foreach($i in [1..40])#set($s = $s.replace('', 'xy'))#end",
        "#foreach($i in [1..1000])#foreach($j in [1..1000])x#end#end",
    ];
    for t in blowups {
        assert!(limit_of(t, b"{}").is_some(), "{t}");
    }
    // A client's large body is parsed once per render, and a loop over
    // it stops at 1,000 items.
    let items: Vec<String> = (0..5_000).map(|i| format!("{{\"v\": {i}}}")).collect();
    let body = format!("{{\"x\": 1, \"items\": [{}]}}", items.join(","));
    let t = "#foreach($i in $input.path('$.items'))$input.json('$.x')#end";
    assert_eq!(rendered(t, body.as_bytes()), "1".repeat(1_000));
    // A stray parenthesis costs a bounded scan per reference.
    let stray = format!("$a({}", "$b.c ".repeat(20_000));
    assert!(!uses_directives(&stray));
}

#[test]
fn values_change_in_place_and_keys_match_exactly() {
    let t = "#set($m = {'l': []})#set($x = $m.get('l').add(1))#set($m.k = 'v')#set($m['n'] = 2)#set($l = [1, 2])#set($l[0] = 5)#set($l[9] = 0)$m|$l";
    assert_eq!(rendered(t, b""), "{l=[1], k=v, n=2}|[5, 2]");
    let t = "#set($m = {'a': 1, 'b': 2, 'c': 3})$m.remove('a')|$m|$m.A|$m.get('A')|$input.path('$').Name";
    assert_eq!(
        rendered(t, br#"{"name": "Ann"}"#),
        "1|{b=2, c=3}|$m.A|$m.get('A')|$input.path('$').Name"
    );
    let t = "#set($h = $input.params().header)$h.get('CONTENT-TYPE')|$input.params().header.get('HOST')|$input.params().get('header').get('X-NOTE')|$input.params().querystring.get('PAGE')|$input.params().querystring.get('page')";
    assert_eq!(
        rendered_with_request(t),
        "application/json|api.example.test:8080|say \"hi\"|$input.params().querystring.get('PAGE')|2"
    );
    let t = "#set($s = 'a.b')$s.replaceAll('(a)', '$1x')|$s.replaceAll('a', '\\$')|#set($c = ',,,')$c.split(',').size()|#set($w = 'abc')$w.split('').size()|$w.split('x').size()";
    assert_eq!(rendered(t, b""), "ax.b|$.b|0|3|1");
    // Overrides live apart from variables.
    let t = "#set($context.responseOverride.status = 201)#set($context.overrides = 'x')$context.responseOverride.status";
    assert_eq!(rendered(t, b""), "201");
    // An index after a known reference is Velocity's: a string has no
    // items, so the reference is copied through.
    assert_eq!(
        rendered("$context.requestId[0]|$context.requestId", b""),
        "$context.requestId[0]|r-1"
    );
}

#[test]
fn overrides_are_recorded_not_rendered() {
    let ctx = context();
    let request = method_request();
    let input = TemplateInput {
        context: &ctx,
        request: Some(&request),
        body: &request.body,
    };
    let t = "#set($n = $input.path('$').n)#if($n > 2)#set($context.responseOverride.status = 400)#end#set($context.responseOverride.header.X-Count = \"n=$n\")#set($context.requestOverride.querystring.page = $n + 1)#set($context.requestOverride.header.X-A = 'a')#set($context.requestOverride.path.id = 'p')#set($context.requestOverride.nope.x = 1)#set($context.other = 1)status $context.responseOverride.status";
    let (out, o) = crate::template::render_with_overrides(t, &input);
    let o = *o.expect("overrides");
    assert_eq!(out, "status 400");
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    assert_eq!(
        o,
        crate::template::Overrides {
            status: Some("400".into()),
            response_headers: vec![pair("X-Count", "n=3")],
            request_headers: vec![pair("X-A", "a")],
            querystring: vec![pair("page", "4")],
            path: vec![pair("id", "p")],
            repeated: None,
            limit: None,
        }
    );
    let t =
        "#set($context.responseOverride.header.A = 1)#set($context.responseOverride.header.A = 2)";
    let (_, o) = crate::template::render_with_overrides(t, &input);
    assert_eq!(
        o.expect("overrides").repeated.as_deref(),
        Some("context.responseOverride.header.A")
    );
    // Without a directive nothing can be overridden.
    let (out, o) =
        crate::template::render_with_overrides("$context.responseOverride.status", &input);
    assert!(o.is_none());
    assert_eq!(out, "");
    let (out, _) = crate::template::render_with_overrides(
        "#set($a = 1)[$context.responseOverride.status]",
        &input,
    );
    assert_eq!(out, "[]");
}

#[test]
fn references_the_fast_path_cannot_read_come_here() {
    for t in [
        "$context.requestId.length()",
        "$stageVariables.keySet()",
        "$input.params().header.get($h)",
        "$input.path('$')[0]",
        "$util.parseJson('1')",
        "#break",
        "$mine.anything($context.requestId)",
        "$context.requestId[0]",
    ] {
        assert!(uses_directives(t), "{t}");
    }
    for t in [
        "$context.requestId",
        "$stageVariables.color",
        "$input.params().header.get('h')",
        "$input.params('h')",
        "$util.escapeJavaScript($input.body)",
        "$mine.anything",
        "cost: $5 # of items",
    ] {
        assert!(!uses_directives(t), "{t}");
    }
}

#[test]
fn foreach_over_a_json_array_with_separators() {
    let body = br#"{"items": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]}"#;
    let template = "#set($root = $input.path('$'))\n[\n#foreach($item in $root.items)\n  {\"id\": $item.id, \"name\": \"$item.name\"}#if($foreach.hasNext),#end\n\n#end\n]";
    assert_eq!(
        rendered(template, body),
        "[\n  {\"id\": 1, \"name\": \"a\"},\n  {\"id\": 2, \"name\": \"b\"}\n]"
    );
}

#[test]
fn util_functions_take_variables() {
    assert_eq!(
        rendered(
            "#set($l = [1])$input.path('$').rows[1].name|$input.path('$').rows[0]",
            br#"{"rows": [{"name": "a"}, {"name": "b"}]}"#
        ),
        "b|{name=a}"
    );
    let t = "#set($q = \"it's\")$util.escapeJavaScript($q)|$util.urlEncode(\"a $q\")|$util.escapeJavaScript($nope)";
    assert_eq!(
        rendered(t, b"{}"),
        "it\\'s|a+it%27s|$util.escapeJavaScript($nope)"
    );
}

#[test]
fn conditions_compare_and_combine() {
    let body = br#"{"n": 3, "kind": "dog", "flag": false, "tags": []}"#;
    let t = "#set($b = $input.path('$'))#if($b.n > 2 && $b.kind == 'dog')big dog#elseif($b.n > 0)small#{else}none#end|#if(!$b.flag)off#end|#if($b.missing)x#{else}y#end|$b.tags.size()|$b.tags.isEmpty()|$context.requestId";
    assert_eq!(rendered(t, body), "big dog|off|y|0|true|r-1");
    let t = "#set($n = 1)#if($n == 1 || $nope)one#end #if($n != 1)no#{else}yes#end";
    assert_eq!(rendered(t, b""), "one yes");
}

#[test]
fn set_strings_comments_and_missing_references() {
    let t = "## a comment line\n#set($who = \"id $context.requestId\")#set($plain = 'no $interp')$who / $plain / $missing / [$!missing] / # not a directive";
    assert_eq!(
        rendered(t, b"{}"),
        "id r-1 / no $interp / $missing / [] / # not a directive"
    );
}

#[test]
fn malformed_directives_never_panic() {
    for t in [
        "#if(",
        "#if($x",
        "#foreach($x in",
        "#set(",
        "#set($x)",
        "#end#end",
        "#else",
        "#if($a == )x#end",
        "#foreach($x in $nope)y#end",
        "##",
        "#{if}(true)z#{end}",
        "#set($a = $input.path('$['))$a",
        "#if((($x)))q#end",
        "é#if(true)é#end",
        "#if(é)x#end",
        "#if($a == “x”)y#end",
        "#if(é > ü && ö)z#end",
    ] {
        let _ = rendered(t, br#"{"a": [1]}"#);
    }
    assert!(uses_directives("#if(true)x#end") && uses_directives("#{if}(1)#{end}"));
    assert!(!uses_directives(
        "# heading, $context.requestId, a#b, $input.path('$.a')"
    ));
    assert!(uses_directives("$input.path('$').a") && uses_directives("$util.parseJson('1')"));
    assert_eq!(rendered("#{if}(true)z#{end}", b""), "z");
}

/// Templates stitched at random from directive pieces, well formed or
/// not, render without a panic.
#[test]
fn random_directive_soup_never_panics() {
    use rand::{Rng, SeedableRng};
    const PIECES: &[&str] = &[
        "#set($r = $input.path('$'))",
        "#set($n = 2)",
        "#set($s = \"a$n\")",
        "#set(",
        "#if($r.a.size() > 0)",
        "#if(!$nope)",
        "#if($n == '2' || $s)",
        "#elseif($n)",
        "#else",
        "#{else}",
        "#end",
        "#{end}",
        "#foreach($x in $r.a)",
        "#foreach($x in",
        "$x",
        "$x.b",
        "$!x",
        "${x}",
        "$foreach.hasNext",
        "$r.a[0]",
        "$r.a[9]",
        "##c\n",
        "$input.path('$.a').size()",
        "$util.parseJson('{\"k\":1}').k",
        "(",
        ")",
        "'",
        "\"",
        "#",
        "$",
        "\n",
        "text",
        "é",
        "#set($l = [1..3])",
        "#set($m = {'k': [1, 2]})",
        "$l.add($n * 2)",
        "$m.put('k', $l)",
        "$m.k.get(1)",
        "#break",
        "$s.substring(1, 9)",
        "$s.split('(')",
        "$s.replaceAll('[a', 'b')",
        "$input.params().header.keySet()",
        "$context.requestId.charAt(-1)",
        " + ",
        " - ",
        "*",
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    for _ in 0..3_000 {
        let n = rng.random_range(1..10);
        let template: String = (0..n)
            .map(|_| PIECES[rng.random_range(0..PIECES.len())])
            .collect();
        let _ = rendered(&template, br#"{"a": [{"b": 1}, {"b": 2}]}"#);
    }
    assert_eq!(
        rendered(
            "$util.parseJson('{\"k\":1}').k|$input.path('$.a').size()",
            br#"{"a": [1, 2]}"#
        ),
        "1|2"
    );
}
