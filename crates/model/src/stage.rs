//! Stages and their settings: stage variables, method settings (logging level,
//! data trace, metrics, throttling) and access-log settings.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Execution-log level of a method setting (`loggingLevel`), ordered from
/// quietest to most verbose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum LoggingLevel {
    /// No execution logs.
    #[default]
    Off,
    /// Only error lines.
    Error,
    /// Every line.
    Info,
}

impl FromStr for LoggingLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "OFF" => Ok(Self::Off),
            "ERROR" => Ok(Self::Error),
            "INFO" => Ok(Self::Info),
            other => Err(format!(
                "Invalid logging level '{other}'. Valid values are OFF, ERROR, INFO"
            )),
        }
    }
}

impl fmt::Display for LoggingLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Off => "OFF",
            Self::Error => "ERROR",
            Self::Info => "INFO",
        })
    }
}

/// One entry of `Stage.methodSettings`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MethodSetting {
    /// `loggingLevel`.
    pub logging_level: LoggingLevel,
    /// `dataTraceEnabled`: log full request and response data.
    pub data_trace_enabled: bool,
    /// `metricsEnabled`.
    pub metrics_enabled: bool,
    /// `throttlingBurstLimit`; `None` = account default.
    pub throttling_burst_limit: Option<u32>,
    /// `throttlingRateLimit`; `None` = account default.
    pub throttling_rate_limit: Option<f64>,
}

/// `Stage.accessLogSettings`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogSettings {
    /// CloudWatch Logs group ARN the access lines go to.
    pub destination_arn: String,
    /// The `$context` format of one line.
    pub format: String,
}

/// A stage: a named, deployed snapshot of an API with its own variables and
/// logging settings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stage {
    /// Stage name, the first path segment of every URL (`dev`).
    pub name: String,
    /// The deployment (snapshot of the API) the stage serves; `None` until
    /// the stage is attached to its API's first deployment.
    pub deployment_id: Option<String>,
    /// Stage variables (`${stageVariables.name}` in integration URIs).
    pub variables: BTreeMap<String, String>,
    /// Keyed `*/*` or `{resourcePath without leading slash}/{METHOD}`.
    pub method_settings: BTreeMap<String, MethodSetting>,
    /// Access logging, when enabled.
    pub access_log_settings: Option<AccessLogSettings>,
    /// X-Ray tracing flag (`tracingEnabled`).
    pub tracing_enabled: bool,
    /// Free text.
    pub description: Option<String>,
    /// Beyond AWS: capture full INFO + data-trace execution logs for every
    /// request but write them only for requests that end in an error (4xx,
    /// 5xx or a gateway response); healthy requests cost only their ERROR
    /// lines (none).
    pub errors_only_tracing: bool,
    /// Beyond AWS: the longest execution-log line; `None` keeps AWS's 1024
    /// characters and ` [TRUNCATED]` mark.
    pub max_log_line_chars: Option<usize>,
}

impl Stage {
    /// A stage with no variables and logging off.
    pub fn new(name: impl Into<String>) -> Stage {
        Stage {
            name: name.into(),
            ..Stage::default()
        }
    }

    /// The setting every method of the stage has, when the stage has no
    /// per-method keys (only `*/*`, or nothing): callers that look up many
    /// requests of one stage can then skip [`Stage::method_setting`].
    pub fn uniform_method_setting(&self) -> Option<MethodSetting> {
        let wildcard = self.method_settings.get("*/*");
        (self.method_settings.len() == usize::from(wildcard.is_some()))
            .then(|| wildcard.cloned().unwrap_or_default())
    }

    /// The method setting in force for a method: the per-method key when
    /// present, else `*/*`, else the defaults (logging off).
    ///
    /// `resource_path` is the resource template as the API has it (`/pets/{petId}`).
    pub fn method_setting(&self, resource_path: &str, http_method: &str) -> MethodSetting {
        // Most stages have no per-method keys: no key to build per request.
        if let Some(setting) = self.uniform_method_setting() {
            return setting;
        }
        let key = format!(
            "{}/{}",
            resource_path.strip_prefix('/').unwrap_or(resource_path),
            http_method
        );
        self.method_settings
            .get(&key)
            .or_else(|| self.method_settings.get("*/*"))
            .cloned()
            .unwrap_or_default()
    }
}

/// True for a valid stage name: letters, digits, `-` and `_`, at most 128.
pub fn is_valid_stage_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_method_setting_beats_wildcard() {
        let mut stage = Stage::new("dev");
        stage.method_settings.insert(
            "*/*".into(),
            MethodSetting {
                logging_level: LoggingLevel::Error,
                ..Default::default()
            },
        );
        stage.method_settings.insert(
            "pets/{petId}/GET".into(),
            MethodSetting {
                logging_level: LoggingLevel::Info,
                data_trace_enabled: true,
                ..Default::default()
            },
        );
        assert_eq!(
            stage.method_setting("/pets/{petId}", "GET").logging_level,
            LoggingLevel::Info
        );
        assert_eq!(
            stage.method_setting("/pets", "GET").logging_level,
            LoggingLevel::Error
        );
        assert_eq!("INFO".parse::<LoggingLevel>(), Ok(LoggingLevel::Info));
        assert!("info".parse::<LoggingLevel>().is_err());
        assert!(is_valid_stage_name("dev_1"));
        assert!(!is_valid_stage_name("de v"));
    }

    #[test]
    fn a_stage_without_per_method_keys_has_one_setting_for_every_method() {
        let mut stage = Stage::new("dev");
        assert_eq!(
            stage.uniform_method_setting(),
            Some(MethodSetting::default())
        );
        let info = MethodSetting {
            logging_level: LoggingLevel::Info,
            ..Default::default()
        };
        stage.method_settings.insert("*/*".into(), info.clone());
        assert_eq!(stage.uniform_method_setting(), Some(info.clone()));
        assert_eq!(
            stage.uniform_method_setting(),
            Some(stage.method_setting("/x", "GET"))
        );
        stage
            .method_settings
            .insert("pets/GET".into(), MethodSetting::default());
        assert_eq!(stage.uniform_method_setting(), None);
        stage.method_settings.remove("*/*");
        assert_eq!(stage.uniform_method_setting(), None);
    }
}
