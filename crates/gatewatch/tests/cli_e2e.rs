//! End-to-end tests of `gatewatch validate` and `--help`.

mod common;

use std::process::Command;

fn model_fixture(name: &str) -> String {
    format!(
        "{}/../model/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn validate_lists_every_problem_and_exits_1() {
    let out = Command::new(common::binary())
        .arg("validate")
        .arg(model_fixture("broken.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout).replace(&model_fixture(""), "<fixtures>/");
    insta::assert_snapshot!(text);
}

#[test]
fn validate_accepts_good_files() {
    let out = Command::new(common::binary())
        .arg("validate")
        .arg(model_fixture("petstore-oas3.yaml"))
        .arg(model_fixture("petstore-swagger2.json"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("ok: API \"Pet Store\""), "{text}");
    assert!(text.contains("ok: API \"Swagger Pets\""), "{text}");
}

#[test]
fn validate_reports_syntax_and_missing_files() {
    let out = Command::new(common::binary())
        .arg("validate")
        .arg(model_fixture("syntax-error.yaml"))
        .arg("/nonexistent/api.yaml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("syntax-error.yaml:3: error: (document): invalid YAML"),
        "{text}"
    );
    assert!(
        text.contains("/nonexistent/api.yaml: error: cannot read file"),
        "{text}"
    );
}

#[test]
fn help_names_the_commands_and_flags() {
    let out = Command::new(common::binary())
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for word in ["serve", "validate"] {
        assert!(text.contains(word), "{text}");
    }
    let out = Command::new(common::binary())
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--config",
        "--api",
        "--stage",
        "--listen",
        "--admin-listen",
        "--data-dir",
        "--var",
    ] {
        assert!(text.contains(flag), "{flag} missing in:\n{text}");
    }
}

#[test]
fn bad_config_is_a_clear_error() {
    let dir = common::temp_dir("badconfig");
    let path = dir.join("gatewatch.toml");
    std::fs::write(&path, "listen = \"not an address\"\n").unwrap();
    let out = Command::new(common::binary())
        .arg("serve")
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("gatewatch.toml") && err.contains("listen"),
        "{err}"
    );
}

#[test]
fn format_preview_renders_presets_and_lints_formats() {
    let out = Command::new(common::binary())
        .args(["format", "preview", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["status"], "200");
    assert_eq!(line["caller"], "-");

    let out = Command::new(common::binary())
        .args([
            "format",
            "preview",
            r#"{"id":"$context.requestId","latency":$context.integrationLatency}"#,
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(
        warnings.contains("$context.integrationLatency is not inside quotes"),
        "{warnings}"
    );

    let out = Command::new(common::binary())
        .args(["format", "preview", "$context.status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("must contain at least one of $context.requestId"));
}
