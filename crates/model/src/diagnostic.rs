//! Problems found while importing or validating an API definition, each with
//! its location in the source document.

use std::fmt;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The API cannot be served as written.
    Error,
    /// Served, but something is ignored or suspicious.
    Warning,
}

/// One problem, located by JSON pointer and (where known) line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// JSON pointer of the offending node (`/paths/~1pets/get`), `""` for the
    /// whole document.
    pub pointer: String,
    /// 1-based line in the source, where known.
    pub line: Option<usize>,
    /// What is wrong, in API Gateway's words where it has them.
    pub message: String,
}

impl Diagnostic {
    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// `error: line 12, /paths/~1pets/get: message`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let pointer = if self.pointer.is_empty() {
            "(document)"
        } else {
            &self.pointer
        };
        match self.line {
            Some(line) => write!(f, "{level}: line {line}, {pointer}: {}", self.message),
            None => write!(f, "{level}: {pointer}: {}", self.message),
        }
    }
}
