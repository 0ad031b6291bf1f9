//! `gatewatch`: a self-hostable Amazon API Gateway (REST APIs) whose
//! execution and access logs match AWS's.

mod admin;
mod cli;
mod config;
mod console;
mod lambda_glue;
mod query;
mod serve;
mod tools;
mod validate;

use clap::Parser;

/// mimalloc: the data plane allocates per request on one thread and frees
/// log records on the writer's; glibc's allocator spent ~15 % of a MOCK
/// request's CPU there (BENCHMARKS.md, "What the optimisation pass gained").
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // The storage engine's own housekeeping (opening, flushing,
                // the hot-tier tidy after compaction) is not news to users.
                .unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new("info,fjall=warn,lsm_tree=warn")
                }),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    match cli.command {
        cli::Command::Serve(args) => serve::run(args),
        cli::Command::Validate(args) => validate::run(&args),
        cli::Command::Logs(cli::LogsCommand::Tail(args)) => tools::tail(&args),
        cli::Command::Trace(args) => tools::trace(&args),
        cli::Command::Format(cli::FormatCommand::Preview(args)) => tools::preview(&args),
        cli::Command::Query(args) => query::query(&args),
        cli::Command::Export(args) => query::export(&args),
    }
}
