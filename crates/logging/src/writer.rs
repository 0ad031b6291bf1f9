//! The batching writer: takes finished request records off the data plane's
//! queue, renders execution and access lines with the stage's settings in
//! force at that moment, and appends them to the store in-process.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use gatewatch_gateway::context::RequestRecord;
use gatewatch_gateway::Deployments;
use gatewatch_model::{LoggingLevel, MethodSetting};
use gatewatch_store::{Scope, Store};
use tokio::sync::mpsc::Receiver;

use crate::access::{destination_group, AccessLogTemplate};
use crate::execution::{self, Verbosity};
use crate::lines::{Event, Lines};

/// How long the writer waits for more records once a batch has started
/// filling under load.
pub const LINGER: std::time::Duration = std::time::Duration::from_millis(10);

/// Most records rendered and written in one batch.
pub const MAX_BATCH_RECORDS: usize = 4096;

/// Most emptied line buffers a writer keeps for later batches.
pub const SPARE_BUFFERS: usize = 16;

/// Largest line buffer (bytes of text it can hold) kept for later batches.
pub const MAX_SPARE_BYTES: usize = 16 << 20;

/// Records rendered between two yields of the writer's task.
pub const RENDER_CHUNK: usize = 64;

/// The account and region the deployments serve, which the logs belong to.
fn scope_of(deployments: &Deployments) -> Scope {
    Scope::new(
        deployments.account_id.to_string(),
        deployments.region.clone(),
    )
}

/// The execution-log group of a stage.
pub fn execution_group(rest_api_id: &str, stage: &str) -> String {
    format!("API-Gateway-Execution-Logs_{rest_api_id}/{stage}")
}

/// A random 32-hex stream name, as API Gateway names its streams (one per
/// [`LogWriter`], like one per serving host; the writers of all data-plane
/// threads share one `LogWriter`, so its streams).
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
    /// Line buffers kept from earlier batches (see [`LogWriter::recycle`]).
    spare: Mutex<Vec<Lines>>,
}

/// The events of one batch, by destination.
pub struct Batches {
    destinations: Vec<Destination>,
    /// Emptied line buffers of earlier batches, used before new ones.
    spare: Vec<Lines>,
}

/// One destination (group, stream) of a batch and its events.
pub struct Destination {
    /// Log group.
    pub group: String,
    /// Log stream.
    pub stream: String,
    /// Its lines, in the order the records produced them.
    pub lines: Lines,
}

impl Batches {
    /// No destinations yet; `spare` buffers are used before new ones.
    fn new(spare: Vec<Lines>) -> Batches {
        Batches {
            destinations: Vec::new(),
            spare,
        }
    }

    /// Index of the destination, added on first use. A batch has a handful
    /// of destinations, so a scan beats hashing the names.
    fn slot(&mut self, group: &str, stream: &str) -> usize {
        if let Some(i) = self
            .destinations
            .iter()
            .position(|d| d.group == group && d.stream == stream)
        {
            return i;
        }
        self.destinations.push(Destination {
            group: group.to_string(),
            stream: stream.to_string(),
            lines: self.spare.pop().unwrap_or_default(),
        });
        self.destinations.len() - 1
    }

    /// The destinations that received events.
    pub fn into_destinations(self) -> impl Iterator<Item = Destination> {
        self.destinations
            .into_iter()
            .filter(|d| !d.lines.is_empty())
    }
}

/// What the records of one stage need, worked out once per batch rather
/// than per record.
struct StagePlan<'d> {
    api_id: &'d str,
    stage_name: &'d str,
    stage: &'d gatewatch_model::Stage,
    /// Destination of its execution lines.
    execution: usize,
    /// Destination and compiled template of its access lines.
    access: Option<(usize, Arc<AccessLogTemplate>)>,
    /// The stage's method setting, when every method has the same one.
    uniform: Option<MethodSetting>,
}

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
            spare: Mutex::new(Vec::new()),
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

    /// Renders the records into per-destination batches.
    pub fn render(&self, records: &[RequestRecord]) -> (Scope, Batches) {
        let deployments = self.deployments.current();
        let mut batches = Batches::new(Vec::new());
        self.render_into(&deployments, records, &mut batches);
        (scope_of(&deployments), batches)
    }

    /// Renders the records into `batches`, with the stage settings of
    /// `deployments`.
    fn render_into(
        &self,
        deployments: &Deployments,
        records: &[RequestRecord],
        batches: &mut Batches,
    ) {
        let mut plans: Vec<StagePlan<'_>> = Vec::new();
        for record in records {
            let ctx = &record.context;
            let known = plans
                .iter()
                .position(|p| p.api_id == &*ctx.api_id && p.stage_name == &*ctx.stage);
            let plan = match known {
                Some(i) => &plans[i],
                None => {
                    let Some((api_id, stage_name, stage)) = deployments
                        .apis
                        .iter()
                        .find(|a| a.api.id == *ctx.api_id)
                        .and_then(|a| {
                            a.stages
                                .get_key_value(&ctx.stage)
                                .map(|(name, stage)| (a.api.id.as_str(), &**name, stage))
                        })
                    else {
                        continue;
                    };
                    let execution =
                        batches.slot(&execution_group(api_id, stage_name), &self.execution_stream);
                    let access = stage.access_log_settings.as_ref().and_then(|settings| {
                        let group = destination_group(&settings.destination_arn).ok()?;
                        let template = self.template(&settings.format)?;
                        Some((batches.slot(&group, &self.access_stream), template))
                    });
                    plans.push(StagePlan {
                        api_id,
                        stage_name,
                        stage,
                        execution,
                        access,
                        uniform: stage.uniform_method_setting(),
                    });
                    plans.last().expect("just pushed")
                }
            };
            let stage = plan.stage;
            let setting: MethodSetting = match (&plan.uniform, &ctx.resource_path, &ctx.method_key)
            {
                (Some(uniform), _, _) => uniform.clone(),
                (None, Some(path), Some(method)) => stage.method_setting(path, method),
                (None, _, _) => stage.method_setting("*", "*"),
            };
            let failed = ctx.failed();
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
                execution::render_into(
                    ctx,
                    &record.events,
                    verbosity,
                    &mut batches.destinations[plan.execution].lines,
                );
            }
            for event in &record.events {
                if let gatewatch_gateway::context::ExecutionEventKind::LambdaLogs {
                    group,
                    stream,
                    lines,
                } = &event.kind
                {
                    let at = execution::ms(event.at);
                    let slot = batches.slot(group, stream);
                    for line in lines {
                        batches.destinations[slot].lines.push(at, line);
                    }
                }
            }
            if let Some((slot, template)) = &plan.access {
                let finished = ctx.request_time_epoch_ms().unwrap_or(0) as i64
                    + ctx.response_latency_ms.unwrap_or(0) as i64;
                let lines = &mut batches.destinations[*slot].lines;
                let start = lines.start();
                template.render_into(ctx, lines.text());
                lines.end_line(finished, start);
            }
        }
    }

    /// Renders and stores the logs of `records`. Failures are logged, not
    /// returned: the requests are long answered.
    pub async fn write(&self, records: &[RequestRecord]) {
        self.queue(records).await.durable().await;
    }

    /// Renders the logs of `records` and queues them for the store's next
    /// commit (after everything queued before); the returned [`Queued`]
    /// resolves once they are durable. [`run`] renders the next batch while
    /// this one is being synced.
    pub async fn queue(&self, records: &[RequestRecord]) -> Queued {
        let deployments = self.deployments.current();
        let scope = scope_of(&deployments);
        let mut batches = Batches::new(std::mem::take(
            &mut *self.spare.lock().unwrap_or_else(|p| p.into_inner()),
        ));
        // A writer may share its thread with requests (one writer per
        // data-plane thread): render in chunks and let them run between.
        for (i, chunk) in records.chunks(RENDER_CHUNK).enumerate() {
            if i > 0 {
                tokio::task::yield_now().await;
            }
            self.render_into(&deployments, chunk, &mut batches);
            if i == 0 {
                // The first chunk shows how much text the batch makes.
                let more = records.len() - chunk.len();
                for d in batches.destinations.iter_mut() {
                    d.lines.reserve_like(chunk.len(), more);
                }
            }
        }
        tracing::debug!(
            records = records.len(),
            destinations = batches.destinations.len(),
            "writing logs"
        );
        let mut ready: Vec<Destination> = Vec::new();
        let batches_spare = std::mem::take(&mut batches.spare);
        for d in batches.into_destinations() {
            // The store refuses empty events (a function printing an empty
            // line); a destination with nothing else gets no group.
            if d.lines.iter().all(|e| e.message.is_empty()) {
                continue;
            }
            match self.ensure(&scope, &d.group, &d.stream).await {
                Ok(()) => ready.push(d),
                Err(e) => {
                    tracing::warn!(group = %d.group, error = %e, "cannot create the log group or stream")
                }
            }
        }
        // Everything the batch produced, in one durable commit; the store
        // copies the lines into its blocks, borrowing them until then.
        let appended = {
            let events: Vec<Vec<Event<'_>>> =
                ready.iter().map(|d| store_events(&d.lines)).collect();
            let destinations: Vec<(&str, &str, &[Event<'_>])> = ready
                .iter()
                .zip(&events)
                .map(|(d, e)| (d.group.as_str(), d.stream.as_str(), e.as_slice()))
                .collect();
            self.store.append_queued(&scope, &destinations)
        };
        let mut groups = Vec::with_capacity(ready.len());
        let mut spare = batches_spare;
        for d in ready {
            groups.push(d.group);
            spare.push(d.lines);
        }
        self.recycle(spare);
        Queued { groups, appended }
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

    /// Keeps emptied line buffers for the next batches: a batch's buffer
    /// grows to the batch's size once instead of every batch (each growth
    /// copies what it holds). At most [`SPARE_BUFFERS`] are kept, and none
    /// larger than [`MAX_SPARE_BYTES`].
    fn recycle(&self, buffers: Vec<Lines>) {
        let mut spare = self.spare.lock().unwrap_or_else(|p| p.into_inner());
        for mut lines in buffers {
            if spare.len() < SPARE_BUFFERS && lines.capacity() <= MAX_SPARE_BYTES {
                lines.clear();
                spare.push(lines);
            }
        }
    }

    /// Forgets which groups exist (after a group was deleted through the API).
    pub fn forget_groups(&self) {
        self.ensured
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// A batch's logs queued for the store; see [`LogWriter::queue`].
#[must_use = "failures are reported only by durable()"]
pub struct Queued {
    groups: Vec<String>,
    appended: gatewatch_store::Appended,
}

impl Queued {
    /// Waits until the logs are durable, logging any destination that failed.
    pub async fn durable(self) {
        let outcomes = self.appended.durable().await;
        for (group, outcome) in self.groups.iter().zip(outcomes) {
            if let Err(e) = outcome {
                tracing::warn!(%group, error = %e, "writing log events failed");
            }
        }
    }
}

/// A destination's lines as the store takes them: in time order (stable,
/// so the lines of one request keep theirs), without empty lines (which
/// the store refuses; dropped rather than the destination's whole batch),
/// each cut to the store's largest event (possible only with a very high
/// `maxLogLineChars` and multi-byte text) rather than refused.
fn store_events(lines: &Lines) -> Vec<Event<'_>> {
    let mut events: Vec<Event<'_>> = lines
        .iter()
        .filter(|e| !e.message.is_empty())
        .map(|e| Event {
            message: fit_event(e.message),
            ..e
        })
        .collect();
    events.sort_by_key(|e| e.timestamp);
    events
}

/// A message cut to the store's largest event, at a character boundary.
fn fit_event(message: &str) -> &str {
    let max = gatewatch_store::MAX_EVENT_BYTES - gatewatch_store::EVENT_OVERHEAD;
    if message.len() <= max {
        return message;
    }
    let mut end = max;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
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
    // Grows with the load: a writer (one per data-plane thread) that has
    // never been busy holds no batch-sized buffer.
    let mut batch = Vec::new();
    let mut stopping = false;
    // The batch being synced while the next one is rendered.
    let mut in_flight: Option<Queued> = None;
    loop {
        if !stopping {
            tokio::select! {
                first = rx.recv() => match first {
                    Some(r) => batch.push(r),
                    None => break,
                },
                _ = &mut stop => stopping = true,
            }
        }
        take_waiting(&mut rx, &mut batch).await;
        // Under load, wait a moment for a fuller batch: fewer, larger
        // appends cost the data plane less CPU. An idle stage is not delayed.
        if !stopping && batch.len() > 1 && batch.len() < MAX_BATCH_RECORDS {
            tokio::time::sleep(LINGER).await;
            take_waiting(&mut rx, &mut batch).await;
        }
        if batch.is_empty() {
            break;
        }
        // The console lines too leave room for the thread's requests.
        for (i, r) in batch.iter().enumerate() {
            if i > 0 && i % RENDER_CHUNK == 0 {
                tokio::task::yield_now().await;
            }
            observe(r);
        }
        let queued = writer.queue(&batch).await;
        batch.clear();
        if let Some(previous) = in_flight.replace(queued) {
            previous.durable().await;
        }
    }
    if let Some(last) = in_flight {
        last.durable().await;
    }
}

/// Moves the records already waiting into `batch`, up to the batch limit,
/// without waiting for more. One bulk receive returns their queue slots
/// together instead of one at a time.
async fn take_waiting(rx: &mut Receiver<RequestRecord>, batch: &mut Vec<RequestRecord>) {
    let room = MAX_BATCH_RECORDS.saturating_sub(batch.len());
    // `recv_many` waits only when the queue is empty, which is checked
    // first; a closed, empty queue is empty too.
    if room > 0 && !rx.is_empty() {
        rx.recv_many(batch, room).await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn oversize_lines_are_cut_at_a_character_boundary() {
        let max = gatewatch_store::MAX_EVENT_BYTES - gatewatch_store::EVENT_OVERHEAD;
        let long = "é".repeat(max);
        let cut = super::fit_event(&long);
        assert!(cut.len() <= max && cut.len() >= max - 1);
        assert!(cut.chars().all(|c| c == 'é'));
        assert_eq!(super::fit_event("ok"), "ok");
    }
}
