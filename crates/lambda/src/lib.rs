//! # gatewatch-lambda
//!
//! Runs users' Lambda functions locally, the way Lambda does: each function
//! process talks to a Lambda Runtime API (`/2018-06-01/runtime/...`) that the
//! host serves on loopback. A `provided` function is a `bootstrap` executable
//! (a Rust function built with `lambda_runtime` works unchanged); Python
//! handlers (`module.function`) run under a small bootstrap shipped in this
//! crate, and so do Node.js handlers.
//!
//! Processes start on first use (cold start, timed as init duration), are
//! reused while warm, scale up to the function's concurrency, and are killed
//! and replaced when an invocation exceeds the function timeout or the
//! process dies. Each invocation returns the function's result with its log
//! lines (`START`, the function's own output, `END`, `REPORT`).

mod function;
mod runtime_api;

pub use function::{Function, FunctionConfig, Invocation, InvokeError, InvokeOutcome, Runtime};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The Python bootstrap shipped with Gatewatch.
pub const PYTHON_BOOTSTRAP: &str = include_str!("bootstrap.py");
/// The Node.js bootstrap shipped with Gatewatch.
pub const NODE_BOOTSTRAP: &str = include_str!("bootstrap.mjs");

/// All functions of a gatewatch instance.
pub struct LambdaHost {
    functions: HashMap<String, Arc<Function>>,
}

impl LambdaHost {
    /// Prepares the functions; nothing starts until the first invoke.
    /// `work_dir` receives the shipped bootstraps.
    pub fn new(
        configs: Vec<FunctionConfig>,
        region: &str,
        account: &str,
        work_dir: PathBuf,
    ) -> std::io::Result<LambdaHost> {
        std::fs::create_dir_all(&work_dir)?;
        // Processes run in their code directory: every path handed to them
        // must be absolute (a relative `--data-dir` is common).
        let work_dir = std::path::absolute(&work_dir)?;
        std::fs::write(work_dir.join("python_bootstrap.py"), PYTHON_BOOTSTRAP)?;
        std::fs::write(work_dir.join("node_bootstrap.mjs"), NODE_BOOTSTRAP)?;
        let bootstrap = work_dir.clone();
        let functions = configs
            .into_iter()
            .map(|mut c| {
                if let Ok(abs) = std::path::absolute(&c.code_dir) {
                    c.code_dir = abs;
                }
                let name = c.name.clone();
                (
                    name,
                    Arc::new(Function::new(c, region, account, bootstrap.clone())),
                )
            })
            .collect();
        Ok(LambdaHost { functions })
    }

    /// The function named `name`.
    pub fn function(&self, name: &str) -> Option<&Arc<Function>> {
        self.functions.get(name)
    }

    /// Stops every function process.
    pub async fn shutdown(&self) {
        for f in self.functions.values() {
            f.shutdown().await;
        }
    }
}
