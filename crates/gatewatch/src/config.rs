//! `gatewatch.toml`: the APIs to serve, their stages, listeners and data
//! directory. Keys use API Gateway's own names (`methodSettings`,
//! `loggingLevel`, `accessLogSettings`, …) so settings copied from AWS read
//! the same. Command-line flags override the file.
//!
//! ```toml
//! dataDir = "./gatewatch-data"
//! listen = "0.0.0.0:8080"
//! adminListen = "127.0.0.1:4566"
//!
//! [[apis]]
//! file = "openapi.yaml"          # relative to this file
//! id = "petstore01"              # optional fixed restApiId
//!
//! [[apis.stages]]
//! name = "dev"
//! variables = { backend = "http://127.0.0.1:9000" }
//! methodSettings."*/*" = { loggingLevel = "INFO", dataTraceEnabled = true }
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use gatewatch_model::stage::is_valid_stage_name;
use gatewatch_model::{AccessLogSettings, LoggingLevel, MethodSetting, Stage};
use serde::Deserialize;

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigFile {
    /// Data directory (log store).
    pub data_dir: Option<PathBuf>,
    /// Data-plane listen address.
    pub listen: Option<SocketAddr>,
    /// Admin (AWS API) listen address.
    pub admin_listen: Option<SocketAddr>,
    /// Account id used in ARNs and `$context.accountId`.
    pub account_id: Option<String>,
    /// Region used in ARNs.
    pub region: Option<String>,
    /// Like `--strict-aws`.
    #[serde(default)]
    pub strict_aws: bool,
    /// What a full log queue does: `backpressure` (default: requests wait,
    /// no log is lost) or `drop` (logs are dropped and counted on /metrics).
    pub log_queue_policy: Option<String>,
    /// APIs to serve.
    #[serde(default)]
    pub apis: Vec<ApiConfig>,
    /// Lambda functions that `aws_proxy` integrations call by name.
    #[serde(default)]
    pub functions: Vec<FunctionConfigFile>,
}

fn default_runtime() -> String {
    "provided".to_string()
}

/// A Lambda function as written in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FunctionConfigFile {
    /// Function name (the `function:{name}` of integration URIs).
    pub name: String,
    /// `provided`, `provided.al2023`, `python3.x` or `nodejs20.x`
    /// (default `provided`, for functions on an external endpoint).
    #[serde(default = "default_runtime")]
    pub runtime: String,
    /// `module.function` (Python).
    #[serde(default)]
    pub handler: String,
    /// Code directory, relative to the config file.
    #[serde(default)]
    pub code: PathBuf,
    /// External Lambda Invoke endpoint (`http://127.0.0.1:9001`) to call
    /// instead of running the function locally.
    pub endpoint: Option<String>,
    /// Answer Lambda's 429 instead of queueing when all processes are busy.
    #[serde(default)]
    pub throttle: bool,
    /// Timeout in seconds (default 3, like Lambda).
    pub timeout: Option<f64>,
    /// Memory size in MB (default 128).
    pub memory_size: Option<u32>,
    /// Environment variables.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Most concurrent processes (default 10).
    pub reserved_concurrency: Option<usize>,
}

impl FunctionConfigFile {
    /// Converts to the host's configuration.
    pub fn to_function(
        &self,
        file: &Path,
    ) -> Result<gatewatch_lambda::FunctionConfig, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: file.to_path_buf(),
            message: format!("function {}: {message}", self.name),
        };
        let runtime = gatewatch_lambda::Runtime::parse(&self.runtime).map_err(invalid)?;
        if self.endpoint.is_none() && self.code.as_os_str().is_empty() {
            return Err(invalid(
                "needs `code` (a directory) or `endpoint` (an external Lambda Invoke endpoint)"
                    .into(),
            ));
        }
        if self.endpoint.is_none()
            && !matches!(runtime, gatewatch_lambda::Runtime::Provided)
            && !self.handler.contains('.')
        {
            return Err(invalid(format!(
                "handler '{}' must be module.function",
                self.handler
            )));
        }
        let timeout = self.timeout.unwrap_or(3.0);
        if !(0.001..=900.0).contains(&timeout) {
            return Err(invalid(format!(
                "timeout must be between 1 ms and 900 s, got {timeout}"
            )));
        }
        Ok(gatewatch_lambda::FunctionConfig {
            name: self.name.clone(),
            runtime,
            handler: self.handler.clone(),
            code_dir: self.code.clone(),
            timeout: std::time::Duration::from_secs_f64(timeout),
            memory_mb: self.memory_size.unwrap_or(128),
            environment: self.environment.clone().into_iter().collect(),
            concurrency: self.reserved_concurrency.unwrap_or(10).max(1),
            throttle: self.throttle,
            endpoint: self.endpoint.clone(),
        })
    }
}

/// One API.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiConfig {
    /// OpenAPI/Swagger file, relative to the config file.
    pub file: PathBuf,
    /// Fixed restApiId (10 lowercase alphanumerics).
    pub id: Option<String>,
    /// Stages; none means one stage named by `--stage`.
    #[serde(default)]
    pub stages: Vec<StageConfig>,
}

/// One stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StageConfig {
    /// Stage name.
    pub name: String,
    /// Stage variables.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// `*/*` or `{resourcePath}/{METHOD}` → settings.
    #[serde(default)]
    pub method_settings: BTreeMap<String, MethodSettingConfig>,
    /// Access logging.
    pub access_log_settings: Option<AccessLogConfig>,
    /// X-Ray tracing flag.
    #[serde(default)]
    pub tracing_enabled: bool,
    /// Free text.
    pub description: Option<String>,
    /// Beyond AWS: write full execution logs only for failed requests.
    #[serde(default)]
    pub errors_only_tracing: bool,
    /// Beyond AWS: lift the 1024-character execution-log line cut up to this.
    pub max_log_line_chars: Option<usize>,
}

/// A method setting as written in the file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MethodSettingConfig {
    /// `OFF`, `ERROR` or `INFO`.
    pub logging_level: Option<String>,
    /// Full request/response data.
    #[serde(default)]
    pub data_trace_enabled: bool,
    /// CloudWatch metrics.
    #[serde(default)]
    pub metrics_enabled: bool,
    /// Burst limit.
    pub throttling_burst_limit: Option<u32>,
    /// Rate limit (requests per second).
    pub throttling_rate_limit: Option<f64>,
}

/// Access-log settings as written in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessLogConfig {
    /// Log group ARN.
    pub destination_arn: String,
    /// Line format.
    pub format: String,
}

/// A configuration problem, naming where it is.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown keys.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A value is invalid.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong and where.
        message: String,
    },
}

impl ConfigFile {
    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config: ConfigFile = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for api in &mut config.apis {
            if api.file.is_relative() {
                api.file = base.join(&api.file);
            }
        }
        for function in &mut config.functions {
            if function.code.is_relative() && !function.code.as_os_str().is_empty() {
                function.code = base.join(&function.code);
            }
        }
        if let Some(dir) = &config.data_dir {
            if dir.is_relative() {
                config.data_dir = Some(base.join(dir));
            }
        }
        Ok(config)
    }
}

impl StageConfig {
    /// Converts to the model, validating names and values.
    pub fn to_stage(&self, file: &Path, api: &str) -> Result<Stage, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: file.to_path_buf(),
            message,
        };
        if !is_valid_stage_name(&self.name) {
            return Err(invalid(format!(
                "API {api}: invalid stage name '{}': use letters, digits, '-' and '_' (at most 128)",
                self.name
            )));
        }
        let mut stage = Stage::new(&self.name);
        stage.variables = self.variables.clone();
        for (name, value) in &stage.variables {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(invalid(format!(
                    "stage {}: invalid stage variable name '{name}': use letters, digits and '_'",
                    self.name
                )));
            }
            if value.len() > 2048 {
                return Err(invalid(format!(
                    "stage {}: stage variable '{name}' is longer than 2048 characters",
                    self.name
                )));
            }
        }
        for (key, ms) in &self.method_settings {
            let valid_key = key == "*/*"
                || key.rsplit_once('/').is_some_and(|(_, m)| {
                    gatewatch_model::api::HTTP_METHODS.contains(&m) || m == "*"
                });
            if !valid_key {
                return Err(invalid(format!(
                    "stage {}: methodSettings key '{key}' must be */* or {{resourcePath}}/{{HTTP_METHOD}}",
                    self.name
                )));
            }
            let logging_level = match &ms.logging_level {
                None => LoggingLevel::Off,
                Some(l) => l.parse().map_err(|e| {
                    invalid(format!(
                        "stage {}: methodSettings.\"{key}\".loggingLevel: {e}",
                        self.name
                    ))
                })?,
            };
            stage.method_settings.insert(
                key.clone(),
                MethodSetting {
                    logging_level,
                    data_trace_enabled: ms.data_trace_enabled,
                    metrics_enabled: ms.metrics_enabled,
                    throttling_burst_limit: ms.throttling_burst_limit,
                    throttling_rate_limit: ms.throttling_rate_limit,
                },
            );
        }
        if let Some(a) = &self.access_log_settings {
            gatewatch_logging::access::destination_group(&a.destination_arn).map_err(|e| {
                invalid(format!(
                    "stage {}: accessLogSettings.destinationArn: {e}",
                    self.name
                ))
            })?;
            gatewatch_logging::AccessLogTemplate::compile(&a.format).map_err(|e| {
                invalid(format!(
                    "stage {}: accessLogSettings.format: {e}",
                    self.name
                ))
            })?;
            stage.access_log_settings = Some(AccessLogSettings {
                destination_arn: a.destination_arn.clone(),
                format: a.format.clone(),
            });
        }
        stage.tracing_enabled = self.tracing_enabled;
        stage.errors_only_tracing = self.errors_only_tracing;
        if let Some(n) = self.max_log_line_chars {
            if !(1024..=1_048_576).contains(&n) {
                return Err(invalid(format!(
                    "stage {}: maxLogLineChars must be between 1024 and 1048576, got {n}",
                    self.name
                )));
            }
            stage.max_log_line_chars = Some(n);
        }
        stage.description = self.description.clone();
        Ok(stage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("gatewatch-config-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn full_config_parses() {
        let dir = temp_dir("full");
        let path = write(
            &dir,
            "gatewatch.toml",
            r#"
dataDir = "data"
listen = "127.0.0.1:9090"
[[apis]]
file = "api.yaml"
id = "petstore01"
[[apis.stages]]
name = "dev"
variables = { backend = "http://127.0.0.1:9000" }
methodSettings."*/*" = { loggingLevel = "INFO", dataTraceEnabled = true }
methodSettings."pets/{petId}/GET" = { loggingLevel = "ERROR" }
accessLogSettings = { destinationArn = "arn:aws:logs:us-east-1:000000000000:log-group:access", format = "$context.requestId" }
"#,
        );
        let config = ConfigFile::load(&path).unwrap();
        assert_eq!(config.data_dir.as_deref(), Some(dir.join("data").as_path()));
        assert_eq!(config.apis[0].file, dir.join("api.yaml"));
        let stage = config.apis[0].stages[0].to_stage(&path, "x").unwrap();
        assert_eq!(stage.variables["backend"], "http://127.0.0.1:9000");
        assert_eq!(
            stage.method_setting("/pets/{petId}", "GET").logging_level,
            LoggingLevel::Error
        );
        assert!(stage.method_setting("/pets", "GET").data_trace_enabled);
        assert!(stage.access_log_settings.is_some());
    }

    #[test]
    fn access_log_settings_are_validated_at_load() {
        let dir = temp_dir("access");
        for (setting, expected) in [
            (
                r#"{ destinationArn = "arn:aws:logs:us-east-1:000000000000:log-group:a", format = "$context.status" }"#,
                "stage dev: accessLogSettings.format: Access Log format must contain at least one of $context.requestId or $context.extendedRequestId",
            ),
            (
                r#"{ destinationArn = "arn:aws:logs:us-east-1:000000000000:log-group:a", format = "$context.requestId $context.nope" }"#,
                "stage dev: accessLogSettings.format: Invalid variable reference in Access Log format: $context.nope is not a known variable",
            ),
            (
                r#"{ destinationArn = "access", format = "$context.requestId" }"#,
                "stage dev: accessLogSettings.destinationArn: Invalid ARN specified in the request: access",
            ),
        ] {
            let path = write(
                &dir,
                "g.toml",
                &format!("[[apis]]\nfile = \"a.yaml\"\n[[apis.stages]]\nname = \"dev\"\naccessLogSettings = {setting}\n"),
            );
            let config = ConfigFile::load(&path).unwrap();
            let err = config.apis[0].stages[0].to_stage(&path, "x").unwrap_err().to_string();
            assert!(err.ends_with(expected), "{err}");
        }
    }

    #[test]
    fn errors_name_the_setting() {
        let dir = temp_dir("errors");
        let path = write(&dir, "bad.toml", "[[apis]]\nfile = \"a.yaml\"\nfiel = 1\n");
        let err = ConfigFile::load(&path).unwrap_err().to_string();
        assert!(err.contains("unknown field `fiel`"), "{err}");
        let path = write(
            &dir,
            "bad2.toml",
            "[[apis]]\nfile = \"a.yaml\"\n[[apis.stages]]\nname = \"dev\"\nmethodSettings.\"*/*\" = { loggingLevel = \"DEBUG\" }\n",
        );
        let config = ConfigFile::load(&path).unwrap();
        let err = config.apis[0].stages[0]
            .to_stage(&path, "x")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "stage dev: methodSettings.\"*/*\".loggingLevel: Invalid logging level 'DEBUG'"
            ),
            "{err}"
        );
    }
}
