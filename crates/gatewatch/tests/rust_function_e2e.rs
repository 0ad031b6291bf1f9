//! End-to-end: a Rust function built with the `lambda_runtime` crate, as a
//! `provided` runtime `bootstrap`, runs unchanged behind an AWS_PROXY route.

mod common;

use std::process::Command;

use common::*;

#[test]
fn a_lambda_runtime_bootstrap_runs_unchanged() {
    let fixture = format!("{}/tests/fixtures/rust-fn", env!("CARGO_MANIFEST_DIR"));
    // Its own target directory, outside the clone, so later runs are incremental.
    let target = std::env::var("GATEWATCH_FIXTURE_TARGET")
        .unwrap_or_else(|_| "/var/tmp/gatewatch-rust-fn-target".into());
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(&cargo)
        .args(["build", "--quiet", "--manifest-path"])
        .arg(format!("{fixture}/Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .status();
    match built {
        Ok(s) if s.success() => {}
        other => panic!("building the lambda_runtime fixture failed: {other:?}"),
    }
    let dir = temp_dir("rustfn");
    let code = dir.join("code");
    std::fs::create_dir_all(&code).unwrap();
    std::fs::copy(format!("{target}/debug/bootstrap"), code.join("bootstrap")).unwrap();

    let config = dir.join("gatewatch.toml");
    std::fs::write(
        &config,
        format!(
            "[[apis]]\nfile = \"{}/tests/fixtures/lambda-api.yaml\"\n[[functions]]\nname = \"rust\"\nruntime = \"provided.al2023\"\ncode = \"{}\"\n",
            env!("CARGO_MANIFEST_DIR"),
            code.display()
        ),
    )
    .unwrap();
    let gw = Gatewatch::start(&["--config", config.to_str().unwrap(), "-q"]);
    for path in ["/dev/rust/first", "/dev/rust/second"] {
        let r = get(gw.data, path);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["path"], path.trim_start_matches("/dev"));
        assert!(r.json()["lambdaRequestId"]
            .as_str()
            .is_some_and(|id| id.len() == 36));
    }
    drop(gw);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A `provided` bootstrap (here a Python script speaking the Runtime API by
/// hand) that first posts its answer to a path that is not one: the Runtime
/// API says 404 and keeps the invocation open, so the proper answer that
/// follows is the one the client gets.
#[test]
fn a_runtime_can_answer_after_posting_to_a_wrong_path() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("picky");
    let code = dir.join("code");
    std::fs::create_dir_all(&code).unwrap();
    let bootstrap = code.join("bootstrap");
    std::fs::write(
        &bootstrap,
        r#"#!/usr/bin/env python3
import json, os, urllib.error, urllib.request
base = "http://%s/2018-06-01/runtime/invocation" % os.environ["AWS_LAMBDA_RUNTIME_API"]

def post(request_id, kind, document):
    request = urllib.request.Request(
        "%s/%s/%s" % (base, request_id, kind), data=json.dumps(document).encode(), method="POST")
    try:
        with urllib.request.urlopen(request) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code

while True:
    with urllib.request.urlopen(base + "/next") as response:
        request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
    wrong = post(request_id, "Response", {})
    post(request_id, "response", {"statusCode": 200, "body": json.dumps({"wrong": wrong})})
"#,
    )
    .unwrap();
    std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = dir.join("gatewatch.toml");
    std::fs::write(
        &config,
        format!(
            "[[apis]]\nfile = \"{}/tests/fixtures/lambda-api.yaml\"\n[[apis.stages]]\nname = \"dev\"\nvariables = {{ fn = \"picky\" }}\n[[functions]]\nname = \"picky\"\nruntime = \"provided.al2023\"\ncode = \"{}\"\n",
            env!("CARGO_MANIFEST_DIR"),
            code.display()
        ),
    )
    .unwrap();
    let gw = Gatewatch::start(&["--config", config.to_str().unwrap(), "-q"]);
    let r = get(gw.data, "/dev/staged/x");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["wrong"], 404);
    drop(gw);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A function's timeout runs from when a process takes the invocation: a
/// request that waits for another request's cold start (1.5 s) still gets
/// its whole second, and the runtime's deadline agrees.
#[test]
fn waiting_for_a_process_does_not_count_against_the_timeout() {
    let dir = temp_dir("slowinit");
    let config = dir.join("gatewatch.toml");
    std::fs::write(
        &config,
        format!(
            "[[apis]]\nfile = \"{fixtures}/lambda-api.yaml\"\n[[apis.stages]]\nname = \"dev\"\nvariables = {{ fn = \"slowinit\" }}\n[[functions]]\nname = \"slowinit\"\nruntime = \"python3.11\"\nhandler = \"slow_init.handler\"\ncode = \"{fixtures}/functions\"\ntimeout = 1.0\nreservedConcurrency = 1\n",
            fixtures = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR")),
        ),
    )
    .unwrap();
    let gw = Gatewatch::start(&["--config", config.to_str().unwrap(), "-q"]);
    let addr = gw.data;
    let requests: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(move || get(addr, "/dev/staged/x")))
        .collect();
    for r in requests {
        let r = r.join().unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let left = r.json()["left_ms"].as_i64().unwrap();
        assert!((300..=1000).contains(&left), "remaining time {left} ms");
    }
    drop(gw);
    let _ = std::fs::remove_dir_all(&dir);
}
