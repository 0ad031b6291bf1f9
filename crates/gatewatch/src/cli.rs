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
    /// Read the execution and access logs of a running gatewatch.
    #[command(subcommand)]
    Logs(LogsCommand),
    /// Show the access line and every execution line of one request, in order.
    Trace(TraceArgs),
    /// Work with access-log formats.
    #[command(subcommand)]
    Format(FormatCommand),
    /// Run a Logs Insights query against a running gatewatch.
    ///
    /// Example: gatewatch query 'stats count(*) by status | sort status'
    /// --group /gatewatch/access/example --since 1h
    Query(QueryArgs),
    /// Export a log group as NDJSON or Parquet (for DuckDB, pandas, ...).
    Export(ExportArgs),
}

/// Output of `gatewatch query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum QueryFormat {
    /// Aligned columns.
    Table,
    /// GetQueryResults' JSON.
    Json,
    /// Comma-separated values with a header.
    Csv,
}

/// `gatewatch query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The query, in the Logs Insights language.
    pub query: String,
    /// Log group to search (repeatable; not needed with a SOURCE command).
    #[arg(long = "group", short = 'g', value_name = "NAME")]
    pub groups: Vec<String>,
    /// Search this far back from now: 30s, 10m, 2h, 1d, 1w.
    #[arg(long, default_value = "1h", value_parser = parse_since, conflicts_with_all = ["start", "end"])]
    pub since: i64,
    /// Start of the window: epoch seconds or RFC 3339 (2026-11-25T08:00:00Z).
    #[arg(long, value_parser = parse_instant, requires = "end")]
    pub start: Option<i64>,
    /// End of the window: epoch seconds or RFC 3339.
    #[arg(long, value_parser = parse_instant, requires = "start")]
    pub end: Option<i64>,
    /// Most rows (1-10000).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=10000))]
    pub limit: Option<u16>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: QueryFormat,
    /// Admin endpoint.
    #[command(flatten)]
    pub endpoint: Endpoint,
}

/// Format of `gatewatch export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// One JSON object per line.
    Ndjson,
    /// Apache Parquet, one column per discovered field.
    Parquet,
}

/// `gatewatch export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The log group.
    #[arg(long, short = 'g', value_name = "NAME")]
    pub group: String,
    /// File format.
    #[arg(long, value_enum, default_value = "ndjson")]
    pub format: ExportFormat,
    /// Only events this recent: 30s, 10m, 2h, 1d, 1w (default: all).
    #[arg(long, value_parser = parse_since)]
    pub since: Option<i64>,
    /// Output file.
    pub out: std::path::PathBuf,
    /// Admin endpoint.
    #[command(flatten)]
    pub endpoint: Endpoint,
}

/// Epoch seconds or RFC 3339 → epoch seconds.
fn parse_instant(s: &str) -> Result<i64, String> {
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    }
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| format!("expected epoch seconds or an RFC 3339 time, got '{s}'"))
}

/// Where a running gatewatch's admin listener is.
#[derive(Debug, Args, Clone)]
pub struct Endpoint {
    /// Admin URL of the running gatewatch.
    #[arg(
        long,
        value_name = "URL",
        default_value = "http://127.0.0.1:4566",
        env = "GATEWATCH_ENDPOINT"
    )]
    pub endpoint: String,
}

/// `gatewatch logs ...`.
#[derive(Debug, Subcommand)]
pub enum LogsCommand {
    /// Print a stage's logs, coloured by status; `--follow` keeps printing.
    Tail(TailArgs),
}

/// `gatewatch logs tail`.
#[derive(Debug, Args)]
pub struct TailArgs {
    /// API name or restApiId (default: the only API).
    #[arg(long)]
    pub api: Option<String>,
    /// Stage (default: the API's only stage).
    #[arg(long)]
    pub stage: Option<String>,
    /// Only the access log.
    #[arg(long, conflicts_with_all = ["execution", "lambda"])]
    pub access: bool,
    /// Only the execution log.
    #[arg(long, conflicts_with = "lambda")]
    pub execution: bool,
    /// Only the logs of one Lambda function (`/aws/lambda/FN`: START, the
    /// function's output, END, REPORT); no API or stage is needed.
    #[arg(long, value_name = "FN", conflicts_with_all = ["api", "stage"])]
    pub lambda: Option<String>,
    /// Keep printing new events.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// How far back to start: 30s, 10m, 2h, 1d, 1w.
    #[arg(long, default_value = "10m", value_parser = parse_since)]
    pub since: i64,
    /// Admin endpoint.
    #[command(flatten)]
    pub endpoint: Endpoint,
}

/// `gatewatch trace`.
#[derive(Debug, Args)]
pub struct TraceArgs {
    /// The request id (`x-amzn-RequestId` of the response).
    pub request_id: String,
    /// Admin endpoint.
    #[command(flatten)]
    pub endpoint: Endpoint,
}

/// `gatewatch format ...`.
#[derive(Debug, Subcommand)]
pub enum FormatCommand {
    /// Render the access line a sample request would produce, and lint it.
    Preview(PreviewArgs),
}

/// `gatewatch format preview`.
#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// A format (`$context.requestId ...`) or a preset: clf, json, xml, csv.
    pub format: String,
}

/// `10m` → milliseconds.
fn parse_since(s: &str) -> Result<i64, String> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = n
        .parse()
        .map_err(|_| format!("expected a number and a unit (s, m, h, d, w), got '{s}'"))?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        _ => return Err(format!("unknown unit in '{s}': use s, m, h, d or w")),
    };
    Ok(n * unit_ms)
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
    /// Data-plane threads, each serving its own connections start to end
    /// (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Behave like AWS where Gatewatch is more lenient: enabling execution
    /// logging through the management API needs the account's CloudWatch
    /// role (`aws apigateway update-account`).
    #[arg(long)]
    pub strict_aws: bool,
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
