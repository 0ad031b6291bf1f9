//! Command-line interface.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Gatewatch: run Amazon API Gateway REST APIs locally, with the execution
/// and access logs AWS would write.
#[derive(Debug, Parser)]
#[command(name = "gatewatch", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve APIs on the data plane, with the AWS-compatible admin API beside it.
    ///
    /// With no --api and no --config, serves the bundled example API
    /// (try: curl -i http://localhost:8080/dev/pets).
    Serve(ServeArgs),
    /// Check OpenAPI/Swagger files and list every problem with its location.
    ///
    /// Exits 1 when any file has errors; warnings alone exit 0.
    Validate(ValidateArgs),
}

/// `gatewatch serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file (gatewatch.toml); flags override it.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// OpenAPI 3 / Swagger 2 file (YAML or JSON) to serve; repeatable.
    /// Replaces the APIs of the config file.
    #[arg(long = "api", short = 'a', value_name = "OPENAPI_FILE")]
    pub apis: Vec<PathBuf>,
    /// Stage name for APIs given with --api (or config APIs without stages).
    #[arg(long, short = 's', value_name = "NAME", default_value = "dev")]
    pub stage: String,
    /// Stage variable KEY=VALUE for those stages; repeatable.
    #[arg(long = "var", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub vars: Vec<(String, String)>,
    /// Data-plane address (API traffic). Port 0 picks a free port.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Admin address (AWS-compatible APIs, /health). Loopback by default.
    #[arg(long, value_name = "ADDR")]
    pub admin_listen: Option<SocketAddr>,
    /// Where logs and state are kept.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// AWS account id used in ARNs, `$context.accountId` and the CloudWatch
    /// Logs API (12 digits).
    #[arg(long, value_name = "ID")]
    pub account_id: Option<String>,
    /// Do not print a line per request on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// `gatewatch validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Files to check.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got '{s}'")),
    }
}

/// Default data-plane address.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:8080";
/// Default admin address.
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:4566";
/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "./gatewatch-data";
/// Default account id (the one AWS emulators commonly use).
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";
/// Default region.
pub const DEFAULT_REGION: &str = "us-east-1";
