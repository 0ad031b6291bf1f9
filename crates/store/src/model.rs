//! The store's records: log groups, log streams, filters and events, with the
//! fields CloudWatch Logs reports.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Resources are namespaced by account and region, as on AWS.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Scope {
    /// 12-digit account id.
    pub account: String,
    /// Region name (`us-east-1`).
    pub region: String,
}

impl Scope {
    /// A scope.
    pub fn new(account: impl Into<String>, region: impl Into<String>) -> Scope {
        Scope {
            account: account.into(),
            region: region.into(),
        }
    }

    /// `arn:aws:logs:{region}:{account}:log-group:{name}` (the `logGroupArn` form).
    pub fn log_group_arn(&self, group: &str) -> String {
        format!(
            "arn:aws:logs:{}:{}:log-group:{group}",
            self.region, self.account
        )
    }

    /// `arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{stream}`.
    pub fn log_stream_arn(&self, group: &str, stream: &str) -> String {
        format!(
            "arn:aws:logs:{}:{}:log-group:{group}:log-stream:{stream}",
            self.region, self.account
        )
    }
}

/// A metric filter, stored and described (metrics are not emitted yet).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricFilter {
    /// Name, unique in the group.
    pub filter_name: String,
    /// Filter pattern.
    pub filter_pattern: String,
    /// `metricTransformations` as given (exactly one).
    pub metric_transformations: serde_json::Value,
    /// Creation time, ms.
    pub creation_time: i64,
    /// `applyOnTransformedLogs`.
    #[serde(default)]
    pub apply_on_transformed_logs: bool,
}

/// A subscription filter, stored and described (nothing is delivered yet).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionFilter {
    /// Name, unique in the group.
    pub filter_name: String,
    /// Filter pattern.
    pub filter_pattern: String,
    /// Destination ARN.
    pub destination_arn: String,
    /// Role ARN.
    pub role_arn: Option<String>,
    /// `Random` or `ByLogStream`.
    pub distribution: String,
    /// Creation time, ms.
    pub creation_time: i64,
    /// `applyOnTransformedLogs`.
    #[serde(default)]
    pub apply_on_transformed_logs: bool,
}

/// A log group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogGroup {
    /// Internal id (never reused).
    pub id: u64,
    /// Name.
    pub name: String,
    /// Creation time, ms since the epoch.
    pub creation_time: i64,
    /// Retention; `None` = never expire.
    pub retention_in_days: Option<u32>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// KMS key id, when set.
    pub kms_key_id: Option<String>,
    /// `STANDARD`, `INFREQUENT_ACCESS` or `DELIVERY`.
    pub log_group_class: String,
    /// Deletion protection.
    pub deletion_protection_enabled: bool,
    /// Metric filters by name.
    pub metric_filters: BTreeMap<String, MetricFilter>,
    /// Subscription filters by name.
    pub subscription_filters: BTreeMap<String, SubscriptionFilter>,
}

/// A log stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogStream {
    /// Internal id (never reused).
    pub id: u64,
    /// Name.
    pub name: String,
    /// Creation time, ms.
    pub creation_time: i64,
    /// Smallest event timestamp.
    pub first_event_timestamp: Option<i64>,
    /// Largest event timestamp.
    pub last_event_timestamp: Option<i64>,
    /// Last ingestion time.
    pub last_ingestion_time: Option<i64>,
    /// Message bytes stored.
    pub stored_bytes: u64,
}

/// An event as given to PutLogEvents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputLogEvent {
    /// Event time, ms since the epoch.
    pub timestamp: i64,
    /// The message.
    pub message: String,
}

/// What PutLogEvents takes as an event: an owned [`InputLogEvent`], or an
/// event borrowed from a request body, so the wire layer need not copy each
/// message before the store encodes it.
pub trait EventInput: Sync {
    /// Event time, ms since the epoch.
    fn timestamp(&self) -> i64;
    /// The message.
    fn message(&self) -> &str;
}

impl EventInput for InputLogEvent {
    fn timestamp(&self) -> i64 {
        self.timestamp
    }

    fn message(&self) -> &str {
        &self.message
    }
}

/// An event read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// Stream it belongs to.
    pub log_stream_name: String,
    /// Event time, ms.
    pub timestamp: i64,
    /// When the store accepted it, ms.
    pub ingestion_time: i64,
    /// The message.
    pub message: String,
    /// Store-wide ingestion sequence number (orders events with equal timestamps).
    pub seq: u64,
}

impl LogEvent {
    /// CloudWatch-style event id: 56 decimal digits, unique and ordered like the events.
    pub fn event_id(&self) -> String {
        format!("{:020}{:020}{:016}", self.timestamp.max(0), self.seq, 0)
    }
}

/// Which events PutLogEvents refused, as CloudWatch reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RejectedLogEventsInfo {
    /// Index of the first too-new event (inclusive).
    pub too_new_log_event_start_index: Option<usize>,
    /// End of the too-old prefix (exclusive).
    pub too_old_log_event_end_index: Option<usize>,
    /// End of the expired prefix (exclusive).
    pub expired_log_event_end_index: Option<usize>,
}

impl RejectedLogEventsInfo {
    /// True when nothing was rejected.
    pub fn is_empty(&self) -> bool {
        self.too_new_log_event_start_index.is_none()
            && self.too_old_log_event_end_index.is_none()
            && self.expired_log_event_end_index.is_none()
    }
}

/// PutLogEvents' answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutLogEventsOutcome {
    /// Deprecated sequence token, still returned for old clients.
    pub next_sequence_token: String,
    /// Refused events.
    pub rejected: RejectedLogEventsInfo,
    /// Events stored.
    pub accepted: usize,
}
