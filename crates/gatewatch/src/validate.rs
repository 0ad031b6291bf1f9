//! `gatewatch validate FILE...`

use std::process::ExitCode;

use gatewatch_model::import::{import_document, ImportOptions};

use crate::cli::ValidateArgs;

/// Checks each file; prints `FILE:LINE: severity: pointer: message` lines.
pub fn run(args: &ValidateArgs) -> ExitCode {
    let mut failed = false;
    for file in &args.files {
        let shown = file.display();
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                println!("{shown}: error: cannot read file: {e}");
                failed = true;
                continue;
            }
        };
        let (diagnostics, summary) = match import_document(&text, &ImportOptions::default()) {
            Ok(imported) => {
                let methods: usize = imported.api.resources.iter().map(|r| r.methods.len()).sum();
                let summary = format!(
                    "{shown}: ok: API \"{}\" (restApiId {}), {} resources, {} methods",
                    imported.api.name,
                    imported.api.id,
                    imported.api.resources.len(),
                    methods
                );
                (imported.warnings, Some(summary))
            }
            Err(diagnostics) => (diagnostics, None),
        };
        for d in &diagnostics {
            println!("{}", locate(&shown.to_string(), d));
        }
        match summary {
            Some(s) => println!("{s}"),
            None => {
                let errors = diagnostics.iter().filter(|d| d.is_error()).count();
                println!(
                    "{shown}: {errors} error(s), {} warning(s)",
                    diagnostics.len() - errors
                );
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `file:line: error: /pointer: message`, the form editors can jump to.
pub fn locate(file: &str, d: &gatewatch_model::Diagnostic) -> String {
    let level = if d.is_error() { "error" } else { "warning" };
    let pointer = if d.pointer.is_empty() {
        "(document)"
    } else {
        &d.pointer
    };
    match d.line {
        Some(line) => format!("{file}:{line}: {level}: {pointer}: {}", d.message),
        None => format!("{file}: {level}: {pointer}: {}", d.message),
    }
}
