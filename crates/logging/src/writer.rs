//! The batching writer: takes finished request records off the data plane's
//! queue, renders execution and access lines with the stage's settings in
//! force at that moment, and appends them to the store in-process.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use gatewatch_gateway::context::RequestRecord;
use gatewatch_gateway::Deployments;
use gatewatch_model::{LoggingLevel, MethodSetting};
use gatewatch_store::{InputLogEvent, Scope, Store};
use tokio::sync::mpsc::Receiver;

use crate::access::{destination_group, AccessLogTemplate};
use crate::execution::{self, Verbosity};

/// How long the writer waits for more records once a batch has started
/// filling under load.
pub const LINGER: std::time::Duration = std::time::Duration::from_millis(5);

/// Most records rendered and written in one batch.
pub const MAX_BATCH_RECORDS: usize = 1024;

/// The execution-log group of a stage.
pub fn execution_group(rest_api_id: &str, stage: &str) -> String {
    format!("API-Gateway-Execution-Logs_{rest_api_id}/{stage}")
}

/// A random 32-hex stream name, as API Gateway names its streams (one per
/// writer, like one per serving host).
pub fn stream_name() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the deployments in force come from (the data plane's live set).
pub trait DeploymentSource: Send + Sync + 'static {
    /// The deployments now.
    fn current(&self) -> Arc<Deployments>;
}

impl DeploymentSource for gatewatch_gateway::Gateway {
    fn current(&self) -> Arc<Deployments> {
        self.deployments()
    }
}

/// Renders and stores the logs of finished requests.
pub struct LogWriter {
    store: Store,
    deployments: Arc<dyn DeploymentSource>,
    execution_stream: String,
    access_stream: String,
    templates: Mutex<HashMap<String, Option<Arc<AccessLogTemplate>>>>,
    ensured: Mutex<HashSet<(Scope, String, String)>>,
}

type Batches = BTreeMap<(String, String), Vec<InputLogEvent>>;

impl LogWriter {
    /// A writer into `store` reading stage settings from `deployments`.
    pub fn new(store: Store, deployments: Arc<dyn DeploymentSource>) -> LogWriter {
        LogWriter {
            store,
            deployments,
            execution_stream: stream_name(),
            access_stream: stream_name(),
            templates: Mutex::new(HashMap::new()),
            ensured: Mutex::new(HashSet::new()),
        }
    }

    fn template(&self, format: &str) -> Option<Arc<AccessLogTemplate>> {
        let mut cache = self.templates.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .entry(format.to_string())
            .or_insert_with(|| match AccessLogTemplate::compile(format) {
                Ok(t) => Some(Arc::new(t)),
                Err(e) => {
                    tracing::warn!(error = %e, "access log format refused; no access lines are written");
                    None
                }
            })
            .clone()
    }

    /// Renders the records into per-group batches.
    pub fn render(&self, records: &[RequestRecord]) -> (Scope, Batches) {
        let deployments = self.deployments.current();
        let scope = Scope::new(deployments.account_id.clone(), deployments.region.clone());
        let mut batches: Batches = BTreeMap::new();
        for record in records {
            let ctx = &record.context;
            let Some(stage) = deployments
                .apis
                .iter()
                .find(|a| a.api.id == ctx.api_id)
                .and_then(|a| a.stages.get(&ctx.stage))
            else {
                continue;
            };
            let setting: MethodSetting = match (&ctx.resource_path, &ctx.method_key) {
                (Some(path), Some(method)) => stage.method_setting(path, method),
                _ => stage.method_setting("*", "*"),
            };
            let failed = ctx.status.is_some_and(|s| s >= 400) || ctx.error.response_type.is_some();
            let verbosity = if stage.errors_only_tracing {
                // Full detail for failures; healthy requests keep only what
                // their own level would write at ERROR (nothing).
                Verbosity {
                    level: if failed {
                        LoggingLevel::Info
                    } else {
                        LoggingLevel::Error.min(setting.logging_level)
                    },
                    data_trace: failed,
                    max_line_chars: stage.max_log_line_chars,
                }
            } else {
                Verbosity {
                    level: setting.logging_level,
                    data_trace: setting.data_trace_enabled,
                    max_line_chars: stage.max_log_line_chars,
                }
            };
            if verbosity.level != LoggingLevel::Off {
                let lines = execution::render(ctx, &record.events, verbosity);
                if !lines.is_empty() {
                    let key = (
                        execution_group(&ctx.api_id, &ctx.stage),
                        self.execution_stream.clone(),
                    );
                    batches
                        .entry(key)
                        .or_default()
                        .extend(lines.into_iter().map(|l| InputLogEvent {
                            timestamp: l.timestamp,
                            message: l.message,
                        }));
                }
            }
            for event in &record.events {
                if let gatewatch_gateway::context::ExecutionEventKind::LambdaLogs {
                    group,
                    stream,
                    lines,
                } = &event.kind
                {
                    let at = event
                        .at
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_millis() as i64)
                        .unwrap_or(0);
                    batches
                        .entry((group.clone(), stream.clone()))
                        .or_default()
                        .extend(lines.iter().map(|l| InputLogEvent {
                            timestamp: at,
                            message: l.clone(),
                        }));
                }
            }
            if let Some(settings) = &stage.access_log_settings {
                let (Ok(group), Some(template)) = (
                    destination_group(&settings.destination_arn),
                    self.template(&settings.format),
                ) else {
                    continue;
                };
                let finished = ctx.request_time_epoch_ms().unwrap_or(0) as i64
                    + ctx.response_latency_ms.unwrap_or(0) as i64;
                batches
                    .entry((group, self.access_stream.clone()))
                    .or_default()
                    .push(InputLogEvent {
                        timestamp: finished,
                        message: template.render(ctx),
                    });
            }
        }
        (scope, batches)
    }

    /// Renders and stores the logs of `records`. Failures are logged, not
    /// returned: the requests are long answered.
    pub async fn write(&self, records: &[RequestRecord]) {
        let (scope, batches) = self.render(records);
        tracing::debug!(
            records = records.len(),
            groups = batches.len(),
            "writing logs"
        );
        for ((group, stream), mut events) in batches {
            events.sort_by_key(|e| e.timestamp);
            if let Err(e) = self.ensure(&scope, &group, &stream).await {
                tracing::warn!(%group, error = %e, "cannot create the log group or stream");
                continue;
            }
            for chunk in chunks(events) {
                if let Err(e) = self
                    .store
                    .put_log_events(&scope, &group, &stream, &chunk)
                    .await
                {
                    tracing::warn!(%group, error = %e, "writing log events failed");
                }
            }
        }
    }

    async fn ensure(
        &self,
        scope: &Scope,
        group: &str,
        stream: &str,
    ) -> gatewatch_store::StoreResult<()> {
        let key = (scope.clone(), group.to_string(), stream.to_string());
        if self
            .ensured
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&key)
        {
            return Ok(());
        }
        self.store.ensure_log_group(scope, group).await?;
        self.store.ensure_log_stream(scope, group, stream).await?;
        self.ensured
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key);
        Ok(())
    }

    /// Forgets which groups exist (after a group was deleted through the API).
    pub fn forget_groups(&self) {
        self.ensured
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// Splits events into PutLogEvents-sized batches (10,000 events, 1 MB, 24 h).
fn chunks(events: Vec<InputLogEvent>) -> Vec<Vec<InputLogEvent>> {
    let mut out: Vec<Vec<InputLogEvent>> = Vec::new();
    let mut bytes = 0usize;
    for e in events {
        let size = e.message.len() + 26;
        let start_new = match out.last() {
            None => true,
            Some(cur) => {
                cur.len() >= 10_000
                    || bytes + size > 1_048_576
                    || cur
                        .first()
                        .is_some_and(|f| e.timestamp - f.timestamp > 23 * 3_600_000)
            }
        };
        if start_new {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        out.last_mut().expect("just pushed").push(e);
    }
    out
}

/// Drains the data plane's queue: batches what is waiting, calls `observe`
/// on each record (console output), writes the logs. When `stop` resolves
/// (the servers have drained), what is still queued is written and the task
/// ends.
pub async fn run(
    mut rx: Receiver<RequestRecord>,
    writer: Arc<LogWriter>,
    observe: impl Fn(&RequestRecord) + Send + 'static,
    stop: impl std::future::Future<Output = ()> + Send,
) {
    tokio::pin!(stop);
    let mut batch = Vec::with_capacity(MAX_BATCH_RECORDS);
    let mut stopping = false;
    loop {
        if !stopping {
            tokio::select! {
                first = rx.recv() => match first {
                    Some(r) => batch.push(r),
                    None => return,
                },
                _ = &mut stop => stopping = true,
            }
        }
        while batch.len() < MAX_BATCH_RECORDS {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        // Under load, wait a moment for a fuller batch: fewer, larger
        // appends cost the data plane less CPU. An idle stage is not delayed.
        if !stopping && batch.len() > 1 && batch.len() < MAX_BATCH_RECORDS {
            tokio::time::sleep(LINGER).await;
            while batch.len() < MAX_BATCH_RECORDS {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
        }
        if batch.is_empty() {
            return;
        }
        for r in &batch {
            observe(r);
        }
        writer.write(&batch).await;
        batch.clear();
    }
}
