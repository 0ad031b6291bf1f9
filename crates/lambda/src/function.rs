//! One function: its configuration, its processes and its invocations.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{mpsc, oneshot};

use crate::runtime_api;

/// How a function runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    /// `provided` / `provided.al2023`: a `bootstrap` executable in the code directory.
    Provided,
    /// `python3.x`: the handler runs under Gatewatch's Python bootstrap.
    Python(String),
    /// `nodejs20.x` and later: the handler runs under Gatewatch's Node.js bootstrap.
    Node(String),
}

impl Runtime {
    /// Whether the runtime is one of Gatewatch's bootstraps, which fence
    /// stdout and stderr after each invocation (see [`LOG_FENCE`]).
    pub fn fences_logs(&self) -> bool {
        matches!(self, Runtime::Python(_) | Runtime::Node(_))
    }

    /// Parses a Lambda runtime identifier.
    pub fn parse(s: &str) -> Result<Runtime, String> {
        if s == "provided" || s.starts_with("provided.") {
            Ok(Runtime::Provided)
        } else if let Some(v) = s.strip_prefix("python") {
            Ok(Runtime::Python(v.to_string()))
        } else if let Some(v) = s.strip_prefix("nodejs") {
            Ok(Runtime::Node(v.to_string()))
        } else {
            Err(format!(
                "unsupported runtime '{s}': use provided, provided.al2023, python3.x or nodejs20.x"
            ))
        }
    }
}

/// A function's configuration.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    /// Function name.
    pub name: String,
    /// Runtime.
    pub runtime: Runtime,
    /// `module.function` for Python; informational for `provided`.
    pub handler: String,
    /// Code directory (`LAMBDA_TASK_ROOT`).
    pub code_dir: PathBuf,
    /// Timeout (Lambda's default is 3 s).
    pub timeout: Duration,
    /// Memory size in MB (reported, not enforced).
    pub memory_mb: u32,
    /// Environment variables.
    pub environment: Vec<(String, String)>,
    /// Most processes at once.
    pub concurrency: usize,
    /// Refuse (Lambda's 429) instead of queueing when every process is busy.
    pub throttle: bool,
    /// Run on an external Lambda Invoke endpoint (the Lambda runtime
    /// interface emulator, another emulator) instead of a local process:
    /// `POST {endpoint}/2015-03-31/functions/{name}/invocations`.
    pub endpoint: Option<String>,
}

/// What an invocation produced.
#[derive(Debug, Clone)]
pub struct InvokeOutcome {
    /// Lambda's request id for the invocation.
    pub request_id: String,
    /// The function's result (`Ok`) or its error document (`Err`, Lambda's
    /// `{errorMessage, errorType, stackTrace}`).
    pub result: Result<Bytes, Bytes>,
    /// Log lines: START, the function's output, END, REPORT.
    pub logs: Vec<String>,
    /// How long the function ran: from the runtime receiving the event to
    /// its answer (the REPORT line's `Duration`; a cold start's time is in
    /// `init_duration`, not here).
    pub duration: Duration,
    /// Cold-start time when this invocation started a process.
    pub init_duration: Option<Duration>,
}

/// Why an invocation has no result.
#[derive(Debug, Clone, thiserror::Error)]
pub enum InvokeError {
    /// The function ran past its timeout (the process was killed).
    #[error("Task timed out after {seconds:.2} seconds")]
    Timeout {
        /// The configured timeout.
        seconds: f64,
        /// Lambda request id.
        request_id: String,
        /// Log lines up to the kill.
        logs: Vec<String>,
    },
    /// The process could not be started or died.
    #[error("{0}")]
    Runtime(String),
    /// Every process is busy and the function throttles (Lambda's 429).
    #[error("Rate Exceeded.")]
    Throttled {
        /// Lambda request id of the refused invocation.
        request_id: String,
    },
}

/// A pending invocation handed to a process.
pub struct Invocation {
    pub(crate) request_id: String,
    pub(crate) payload: Bytes,
    pub(crate) reply: oneshot::Sender<Answer>,
    /// Told when a process takes the invocation: the function's time (and
    /// its runtime's deadline) starts there.
    pub(crate) started: oneshot::Sender<()>,
}

/// A runtime's answer to one invocation.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The response (`Ok`) or error document (`Err`) it posted.
    pub(crate) result: Result<Bytes, Bytes>,
    /// From the runtime receiving the event (its `invocation/next`
    /// returning) to its answer: the REPORT line's `Duration`, which on AWS
    /// leaves out the cold start (reported as `Init Duration`) and any wait
    /// for a free execution environment.
    pub(crate) ran: Duration,
    /// The process's peak memory when it answered, in MB.
    pub(crate) max_memory_mb: Option<u64>,
    /// The process exited instead of answering: `result` is the
    /// `Runtime.ExitError` document Lambda returns then.
    pub(crate) exited: bool,
}

/// Lambda's limit on a function's initialisation.
const INIT_LIMIT: Duration = Duration::from_secs(10);

/// Why Lambda says a runtime process ended: `Runtime exited with error:
/// exit status 3`, `... signal: killed`, or, when it ended cleanly in the
/// middle of an invocation (or its status is unknown), `Runtime exited
/// without providing a reason`.
fn exit_reason(status: Option<std::process::ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    let Some(status) = status else {
        return "Runtime exited without providing a reason".to_string();
    };
    match (status.code(), status.signal()) {
        (Some(0), _) | (None, None) => "Runtime exited without providing a reason".to_string(),
        (Some(code), _) => format!("Runtime exited with error: exit status {code}"),
        (None, Some(signal)) => {
            let name = match signal {
                6 => "aborted".to_string(),
                9 => "killed".to_string(),
                11 => "segmentation fault".to_string(),
                15 => "terminated".to_string(),
                other => format!("signal {other}"),
            };
            format!("Runtime exited with error: signal: {name}")
        }
    }
}

/// Per-process state shared with its runtime API server and log readers.
pub(crate) struct ProcessState {
    /// The invocation it is running.
    pub(crate) current: Mutex<Option<String>>,
    /// Where the answer to the current invocation goes, and when the
    /// runtime received it.
    pub(crate) replies: Mutex<Option<(oneshot::Sender<Answer>, Instant)>>,
    /// Fired by the first `invocation/next`: the runtime has initialised.
    pub(crate) ready: Mutex<Option<oneshot::Sender<()>>>,
    /// When the process was started (its init duration runs from here).
    pub(crate) spawned: Instant,
    /// It has answered an invocation and not yet asked for the next one.
    pub(crate) finishing: std::sync::atomic::AtomicBool,
    /// The process's id once it is running (0 before).
    pub(crate) pid: std::sync::atomic::AtomicU32,
}

impl ProcessState {
    /// The process's peak resident memory so far (`VmHWM` in
    /// `/proc/{pid}/status`), in MB rounded up: the REPORT line's
    /// `Max Memory Used`, which on AWS is likewise the execution
    /// environment's peak so far, not one invocation's. `None` where there
    /// is no `/proc` (the line then shows 0). A `provided` bootstrap that
    /// runs its handler as a child process (rather than `exec`-ing it)
    /// reports its own memory only.
    pub(crate) fn peak_memory_mb(&self) -> Option<u64> {
        let pid = self.pid.load(Ordering::Relaxed);
        if pid == 0 {
            return None;
        }
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        vm_hwm_mb(&status)
    }

    /// Takes the readiness signal: `Some` exactly once, for whoever first
    /// sees the process ready (its first `invocation/next`), gone, or past
    /// the init limit; from then on it no longer counts as starting.
    pub(crate) fn take_ready(&self, function: &Function) -> Option<oneshot::Sender<()>> {
        let ready = self.ready.lock().unwrap_or_else(|p| p.into_inner()).take();
        if ready.is_some() {
            function.starting.fetch_sub(1, Ordering::SeqCst);
        }
        ready
    }

    /// Marks the process as finishing (or not), keeping the function's
    /// count of finishing processes in step.
    pub(crate) fn set_finishing(&self, function: &Function, finishing: bool) {
        if self.finishing.swap(finishing, Ordering::SeqCst) != finishing {
            if finishing {
                function.last_answer_us.store(
                    function.created.elapsed().as_micros() as u64,
                    Ordering::SeqCst,
                );
                function.finishing.fetch_add(1, Ordering::SeqCst);
            } else {
                function.finishing.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}

/// The line Gatewatch's Python and Node bootstraps write to stdout and to
/// stderr, followed by the request id, once a handler has returned and
/// before its answer is posted: when the pipe readers have seen it on both,
/// everything the handler printed is in the invocation's log. It is not a
/// log line itself.
pub const LOG_FENCE: &str = "\u{0}gatewatch-log-fence ";

/// The prefix of a line Gatewatch's bootstraps write for one log event that
/// may span several lines (Python's unhandled error and its traceback;
/// every `console` call in Node): the event's text follows as a JSON
/// string.
pub const LOG_EVENT: &str = "\u{0}gatewatch-log-event ";

/// The text of a line as a log event: a framed event (see [`LOG_EVENT`])
/// decoded, any other line as it is.
fn event_text(line: String) -> String {
    match line
        .strip_prefix(LOG_EVENT)
        .and_then(|json| serde_json::from_str::<String>(json).ok())
    {
        Some(text) => text,
        None => line,
    }
}

/// Log lines as the events CloudWatch Logs holds for them: on AWS every
/// line of a function's log (START, END, REPORT, the timeout line and each
/// piece of the function's output) is an event whose message ends in a
/// newline, e.g. `START RequestId: {id} Version: $LATEST\n`.
fn as_events(mut lines: Vec<String>) -> Vec<String> {
    for line in &mut lines {
        if !line.ends_with('\n') {
            line.push('\n');
        }
    }
    lines
}

/// The pipes a process's output comes through (stdout, stderr), each fenced.
const PIPES: u8 = 2;

/// Longest wait for an invocation's log fences after its answer (for a
/// process that died before it wrote them).
const FENCE_WAIT: Duration = Duration::from_millis(250);

/// An invocation's log lines, and how many of its fences the pipe readers
/// have seen.
#[derive(Debug, Default)]
pub(crate) struct LogBuffer {
    lines: Vec<String>,
    fences: u8,
}

/// Removes an invocation's log buffer when the invocation ends or is abandoned.
struct ForgetLogs<'a> {
    function: &'a Function,
    request_id: String,
}

impl Drop for ForgetLogs<'_> {
    fn drop(&mut self) {
        self.function
            .logs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.request_id);
        self.function
            .first_invocations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.request_id);
    }
}

/// How long after a process answered an invocation it counts as about to
/// take the next one (instead of a new process being started for it).
const FINISHING_WINDOW_US: u64 = 50_000;

/// A function process, shared by its reaper and whoever must kill it.
type SharedChild = Arc<tokio::sync::Mutex<tokio::process::Child>>;

/// A hosted function.
pub struct Function {
    pub(crate) config: FunctionConfig,
    arn: String,
    region: String,
    bootstrap: PathBuf,
    queue_tx: mpsc::UnboundedSender<Invocation>,
    pub(crate) queue_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    processes: AtomicUsize,
    pub(crate) idle: AtomicUsize,
    /// Processes that answered and are about to ask for the next invocation.
    pub(crate) finishing: AtomicUsize,
    /// Invocations queued and not yet taken by a process.
    pub(crate) waiting: AtomicUsize,
    /// Processes started that have not yet asked for their first invocation.
    pub(crate) starting: AtomicUsize,
    /// When a process last answered, in µs since `created`.
    last_answer_us: std::sync::atomic::AtomicU64,
    created: Instant,
    pub(crate) logs: Mutex<HashMap<String, LogBuffer>>,
    /// Woken when a pipe reader sees a log fence (see [`LOG_FENCE`]).
    fence_seen: tokio::sync::Notify,
    /// Init durations of invocations that were a new process's first, by
    /// request id (set by the Runtime API when the process takes one).
    pub(crate) first_invocations: Mutex<HashMap<String, Duration>>,
    running: Mutex<Vec<(Arc<ProcessState>, SharedChild)>>,
    log_stream: String,
}

impl Function {
    pub(crate) fn new(
        config: FunctionConfig,
        region: &str,
        account: &str,
        bootstrap: PathBuf,
    ) -> Function {
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        let now = time_parts();
        let random = uuid::Uuid::new_v4().simple().to_string();
        Function {
            arn: format!("arn:aws:lambda:{region}:{account}:function:{}", config.name),
            region: region.to_string(),
            log_stream: format!("{now}/[$LATEST]{random}"),
            config,
            bootstrap,
            queue_tx,
            queue_rx: tokio::sync::Mutex::new(queue_rx),
            processes: AtomicUsize::new(0),
            idle: AtomicUsize::new(0),
            finishing: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            starting: AtomicUsize::new(0),
            last_answer_us: std::sync::atomic::AtomicU64::new(0),
            created: Instant::now(),
            logs: Mutex::new(HashMap::new()),
            fence_seen: tokio::sync::Notify::new(),
            first_invocations: Mutex::new(HashMap::new()),
            running: Mutex::new(Vec::new()),
        }
    }

    /// `arn:aws:lambda:{region}:{account}:function:{name}`.
    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// `/aws/lambda/{name}`.
    pub fn log_group(&self) -> String {
        format!("/aws/lambda/{}", self.config.name)
    }

    /// `YYYY/MM/DD/[$LATEST]{32 hex}`.
    pub fn log_stream(&self) -> &str {
        &self.log_stream
    }

    /// The configuration.
    pub fn config(&self) -> &FunctionConfig {
        &self.config
    }

    /// Invokes the function with `payload` (a JSON event), waiting at most
    /// the function timeout.
    pub async fn invoke(self: &Arc<Self>, payload: Bytes) -> Result<InvokeOutcome, InvokeError> {
        match self.invoke_lines(payload).await {
            Ok(outcome) => Ok(InvokeOutcome {
                logs: as_events(outcome.logs),
                ..outcome
            }),
            Err(InvokeError::Timeout {
                seconds,
                request_id,
                logs,
            }) => Err(InvokeError::Timeout {
                seconds,
                request_id,
                logs: as_events(logs),
            }),
            Err(e) => Err(e),
        }
    }

    /// [`Function::invoke`], its log lines not yet ended as events.
    async fn invoke_lines(self: &Arc<Self>, payload: Bytes) -> Result<InvokeOutcome, InvokeError> {
        let request_id = uuid::Uuid::new_v4().to_string();
        if let Some(endpoint) = &self.config.endpoint {
            return self.invoke_remote(endpoint, request_id, payload).await;
        }
        // A slot is reserved atomically, so parallel cold starts never exceed the
        // concurrency limit; beyond it invocations queue for a warm process.
        let limit = self.config.concurrency.max(1);
        // Another process starts only when the invocations waiting (this
        // one included) outnumber the processes that are idle or have just
        // answered (they ask for the next invocation in a moment). Processes
        // that answered long ago and never asked again (a runtime busy after
        // its answer) do not count.
        let finishing_soon = if (self.created.elapsed().as_micros() as u64)
            .saturating_sub(self.last_answer_us.load(Ordering::SeqCst))
            < FINISHING_WINDOW_US
        {
            self.finishing.load(Ordering::SeqCst)
        } else {
            0
        };
        // A process still starting will take one of them too.
        let available = self.idle.load(Ordering::SeqCst)
            + finishing_soon
            + self.starting.load(Ordering::SeqCst);
        let demand = self.waiting.load(Ordering::SeqCst) + 1;
        let reservation = if demand > available {
            self.processes
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |p| {
                    (p < limit).then_some(p + 1)
                })
                .ok()
        } else {
            None
        };
        // Whether other processes exist: a busy one may finish first.
        let scale_out = reservation.is_some_and(|before| before > 0);
        let reserved = reservation.is_some();
        if !reserved
            && self.config.throttle
            && self.idle.load(Ordering::SeqCst) == 0
            && self.processes.load(Ordering::SeqCst) >= limit
        {
            return Err(InvokeError::Throttled { request_id });
        }
        if reserved && scale_out {
            // Every process is busy: start another, but queue the
            // invocation at once rather than wait for the new process to
            // initialise. Whichever process asks first takes it, so a
            // process that was just finishing its previous invocation does
            // not leave this one waiting out a cold start. The new process
            // reports its init duration on the first invocation it takes.
            match self.spawn_process().await {
                Ok(_ready) => {}
                Err(e) => {
                    self.processes.fetch_sub(1, Ordering::SeqCst);
                    tracing::warn!(function = %self.config.name, error = %e, "cannot start another function process");
                }
            }
        } else if reserved {
            // Cold start: wait until the new process asks for its first
            // invocation. The signal is dropped if it exits first or passes
            // Lambda's 10 s init limit (see `spawn_process`); its init
            // duration is recorded with the invocation it takes.
            let ready = match self.spawn_process().await {
                Ok(r) => r,
                Err(e) => {
                    self.processes.fetch_sub(1, Ordering::SeqCst);
                    return Err(InvokeError::Runtime(e));
                }
            };
            match ready.await {
                Ok(()) => {}
                Err(_) => {
                    return Err(InvokeError::Runtime(format!(
                        "Runtime.ExitError: function {} did not start its runtime loop",
                        self.config.name
                    )))
                }
            }
        }
        self.logs.lock().unwrap_or_else(|p| p.into_inner()).insert(
            request_id.clone(),
            LogBuffer {
                lines: vec![format!("START RequestId: {request_id} Version: $LATEST")],
                fences: 0,
            },
        );
        // If the caller gives up (an integration timeout drops this future),
        // the log buffer must not outlive the invocation.
        let _forget = ForgetLogs {
            function: self,
            request_id: request_id.clone(),
        };
        let queued = Instant::now();
        let (reply, result) = oneshot::channel();
        let (started, taken) = oneshot::channel();
        let invocation = Invocation {
            request_id: request_id.clone(),
            payload,
            reply,
            started,
        };
        self.waiting.fetch_add(1, Ordering::SeqCst);
        if self.queue_tx.send(invocation).is_err() {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(InvokeError::Runtime(
                "the function host is shutting down".into(),
            ));
        }
        // The function's time starts when a process takes the invocation
        // (its runtime's deadline is set then too), so neither a wait in
        // the queue nor another process's cold start counts against it. The
        // wait for a process is bounded by the timeout plus Lambda's init
        // limit.
        let outcome = match tokio::time::timeout(self.config.timeout + INIT_LIMIT, taken).await {
            Ok(Ok(())) => tokio::time::timeout(self.config.timeout, result).await,
            // Dropped before any process took it: the answer channel is
            // closed too.
            Ok(Err(_)) => Ok(result.await),
            // Never taken in time: timed out (unless it was answered this
            // very moment).
            Err(_) => tokio::time::timeout(Duration::ZERO, result).await,
        };
        // A timed-out invocation reports the time it was given (not its
        // cold start, which REPORT shows as Init Duration).
        let (duration, mut max_memory_mb) = match &outcome {
            Ok(Ok(answer)) => (answer.ran, answer.max_memory_mb),
            Ok(Err(_)) => (queued.elapsed(), None),
            Err(_) => (self.config.timeout, None),
        };
        // Output the process wrote before answering may still be in its
        // pipes: our bootstraps fence both pipes before they answer, so wait
        // (briefly) for the readers to reach the fences; for other runtimes
        // let the readers run a little.
        let exited = matches!(&outcome, Ok(Ok(answer)) if answer.exited);
        if outcome.is_ok() && !exited && self.config.runtime.fences_logs() {
            let fenced = async {
                loop {
                    let seen = self.fence_seen.notified();
                    let fences = self
                        .logs
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get(&request_id)
                        .map_or(PIPES, |b| b.fences);
                    if fences >= PIPES {
                        break;
                    }
                    seen.await;
                }
            };
            let _ = tokio::time::timeout(FENCE_WAIT, fenced).await;
        } else {
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
        }
        let mut logs = self
            .logs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&request_id)
            .map(|b| b.lines)
            .unwrap_or_default();
        let init_duration = self
            .first_invocations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&request_id);
        match outcome {
            Ok(Ok(Answer { result, exited, .. })) => {
                logs.push(format!("END RequestId: {request_id}"));
                let mut report = self.report(&request_id, duration, init_duration, max_memory_mb);
                if exited {
                    report.push_str("Status: error\tError Type: Runtime.ExitError");
                }
                logs.push(report);
                Ok(InvokeOutcome {
                    request_id,
                    result,
                    logs,
                    duration,
                    init_duration,
                })
            }
            Ok(Err(_)) => Err(InvokeError::Runtime(format!(
                "RequestId: {request_id} Error: Runtime exited without providing a reason"
            ))),
            Err(_) => {
                max_memory_mb = self.kill_running(&request_id).await;
                let seconds = self.config.timeout.as_secs_f64();
                let stamp = iso_now();
                logs.push(format!(
                    "{stamp} {request_id} Task timed out after {seconds:.2} seconds"
                ));
                logs.push(format!("END RequestId: {request_id}"));
                logs.push(format!(
                    "{}Status: timeout",
                    self.report(&request_id, duration, init_duration, max_memory_mb)
                ));
                Err(InvokeError::Timeout {
                    seconds,
                    request_id,
                    logs,
                })
            }
        }
    }

    /// Invokes on an external Lambda Invoke endpoint.
    async fn invoke_remote(
        &self,
        endpoint: &str,
        request_id: String,
        payload: Bytes,
    ) -> Result<InvokeOutcome, InvokeError> {
        use http_body_util::{BodyExt, Full};
        let client: hyper_util::client::legacy::Client<_, Full<Bytes>> =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        let uri = format!(
            "{}/2015-03-31/functions/{}/invocations",
            endpoint.trim_end_matches('/'),
            self.config.name
        );
        let req = http::Request::post(uri)
            .header("content-type", "application/json")
            .header("x-amz-invocation-type", "RequestResponse")
            .body(Full::new(payload))
            .map_err(|e| InvokeError::Runtime(e.to_string()))?;
        let started = Instant::now();
        let call = async {
            let resp = client
                .request(req)
                .await
                .map_err(|e| InvokeError::Runtime(format!("Lambda endpoint unreachable: {e}")))?;
            let status = resp.status();
            let function_error = resp.headers().contains_key("x-amz-function-error");
            let remote_id = resp
                .headers()
                .get("x-amzn-requestid")
                .and_then(|v| v.to_str().ok())
                .map(String::from);
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| InvokeError::Runtime(e.to_string()))?
                .to_bytes();
            if status == http::StatusCode::TOO_MANY_REQUESTS {
                return Err(InvokeError::Throttled {
                    request_id: remote_id.unwrap_or_else(|| request_id.clone()),
                });
            }
            if !status.is_success() {
                return Err(InvokeError::Runtime(format!(
                    "Lambda endpoint answered {status}: {}",
                    String::from_utf8_lossy(&body)
                )));
            }
            Ok((remote_id, function_error, body))
        };
        let (remote_id, function_error, body) =
            match tokio::time::timeout(self.config.timeout, call).await {
                Ok(r) => r?,
                Err(_) => {
                    let seconds = self.config.timeout.as_secs_f64();
                    let logs = vec![format!(
                        "{} {request_id} Task timed out after {seconds:.2} seconds",
                        iso_now()
                    )];
                    return Err(InvokeError::Timeout {
                        seconds,
                        request_id,
                        logs,
                    });
                }
            };
        let request_id = remote_id.unwrap_or(request_id);
        let duration = started.elapsed();
        let logs = vec![
            format!("START RequestId: {request_id} Version: $LATEST"),
            format!("END RequestId: {request_id}"),
            // The remote endpoint does not say how much memory it used.
            self.report(&request_id, duration, None, None),
        ];
        Ok(InvokeOutcome {
            result: if function_error { Err(body) } else { Ok(body) },
            request_id,
            logs,
            duration,
            init_duration: None,
        })
    }

    fn report(
        &self,
        request_id: &str,
        duration: Duration,
        init: Option<Duration>,
        max_memory_mb: Option<u64>,
    ) -> String {
        let ms = duration.as_secs_f64() * 1000.0;
        let mut line = format!(
            "REPORT RequestId: {request_id}\tDuration: {ms:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB\t",
            ms.ceil() as u64,
            self.config.memory_mb,
            max_memory_mb.unwrap_or(0)
        );
        if let Some(init) = init {
            line.push_str(&format!(
                "Init Duration: {:.2} ms\t",
                init.as_secs_f64() * 1000.0
            ));
        }
        line
    }

    /// Kills the process running `request_id`, and gives its peak memory
    /// as last seen.
    async fn kill_running(&self, request_id: &str) -> Option<u64> {
        let victim = {
            let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            running
                .iter()
                .find(|(state, _)| {
                    state
                        .current
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .as_deref()
                        == Some(request_id)
                })
                .map(|(state, child)| (Arc::clone(state), Arc::clone(child)))
        };
        let (state, child) = victim?;
        let peak = state.peak_memory_mb();
        let _ = child.lock().await.start_kill();
        peak
    }

    /// Starts one process with its own Runtime API listener.
    async fn spawn_process(self: &Arc<Self>) -> Result<oneshot::Receiver<()>, String> {
        let (ready_tx, ready_rx) = oneshot::channel();
        let state = Arc::new(ProcessState {
            current: Mutex::new(None),
            replies: Mutex::new(None),
            ready: Mutex::new(Some(ready_tx)),
            spawned: Instant::now(),
            finishing: std::sync::atomic::AtomicBool::new(false),
            pid: std::sync::atomic::AtomicU32::new(0),
        });
        // Counted down by its first `invocation/next`, or below if it never
        // gets that far.
        self.starting.fetch_add(1, Ordering::SeqCst);
        let started = self.start_process(&state).await;
        if started.is_err() {
            state.take_ready(self);
        } else {
            // Lambda's 10 s init limit: a process that has not asked for an
            // invocation by then no longer counts as starting (and whoever
            // waits for it sees it fail).
            let f = Arc::clone(self);
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                tokio::time::sleep(INIT_LIMIT).await;
                if state.take_ready(&f).is_some() {
                    tracing::warn!(function = %f.config.name, "a function process did not start its runtime loop within {} s", INIT_LIMIT.as_secs());
                }
            });
        }
        started.map(|()| ready_rx)
    }

    /// The part of [`Function::spawn_process`] that can fail.
    async fn start_process(self: &Arc<Self>, state: &Arc<ProcessState>) -> Result<(), String> {
        let state = Arc::clone(state);
        let (addr, server) = runtime_api::start(Arc::clone(self), Arc::clone(&state))
            .await
            .map_err(|e| format!("cannot start the Runtime API: {e}"))?;
        let c = &self.config;
        let mut command = match &c.runtime {
            Runtime::Provided => tokio::process::Command::new(c.code_dir.join("bootstrap")),
            Runtime::Python(_) => {
                let mut cmd = tokio::process::Command::new("python3");
                cmd.arg("-u")
                    .arg(self.bootstrap.join("python_bootstrap.py"));
                cmd
            }
            Runtime::Node(_) => {
                let mut cmd = tokio::process::Command::new("node");
                cmd.arg(self.bootstrap.join("node_bootstrap.mjs"));
                cmd
            }
        };
        command
            .current_dir(&c.code_dir)
            .env_clear()
            .env(
                "PATH",
                std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()),
            )
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &c.name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", c.memory_mb.to_string())
            .env("AWS_LAMBDA_LOG_GROUP_NAME", self.log_group())
            .env("AWS_LAMBDA_LOG_STREAM_NAME", &self.log_stream)
            .env("AWS_REGION", &self.region)
            .env("AWS_DEFAULT_REGION", &self.region)
            .env("AWS_EXECUTION_ENV", "AWS_Lambda_gatewatch")
            .env("LAMBDA_TASK_ROOT", &c.code_dir)
            .env("LAMBDA_RUNTIME_DIR", &c.code_dir)
            .env("_HANDLER", &c.handler)
            .env("TZ", ":UTC")
            .envs(c.environment.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start function {}: {e}", c.name))?;
        if let Some(pid) = child.id() {
            state.pid.store(pid, Ordering::Relaxed);
        }
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let child = Arc::new(tokio::sync::Mutex::new(child));
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((Arc::clone(&state), Arc::clone(&child)));
        for pipe in [
            stdout.map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            stderr.map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
        ]
        .into_iter()
        .flatten()
        {
            let f = Arc::clone(self);
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                let mut lines = BufReader::new(pipe).lines();
                // With our bootstraps, a pipe's lines belong to the invocation
                // whose fence follows them on that pipe: they are held until
                // it comes, so output read after the process has moved on
                // (its answer posted, the next invocation taken) still lands
                // in its own invocation's log. Each pipe's lines stay in
                // order; stdout's and stderr's are not interleaved.
                let fenced = f.config.runtime.fences_logs();
                let mut pending: Vec<String> = Vec::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    if fenced {
                        match line.strip_prefix(LOG_FENCE) {
                            Some(id) => {
                                if let Some(buf) =
                                    f.logs.lock().unwrap_or_else(|p| p.into_inner()).get_mut(id)
                                {
                                    buf.lines.append(&mut pending);
                                    buf.fences = buf.fences.saturating_add(1);
                                }
                                for line in pending.drain(..) {
                                    tracing::debug!(function = %f.config.name, "{line}");
                                }
                                f.fence_seen.notify_waiters();
                            }
                            None => pending.push(event_text(line)),
                        }
                        continue;
                    }
                    let current = state
                        .current
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .clone();
                    match current {
                        Some(id) => {
                            if let Some(buf) = f
                                .logs
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .get_mut(&id)
                            {
                                buf.lines.push(line);
                            }
                        }
                        None => tracing::debug!(function = %f.config.name, "{line}"),
                    }
                }
            });
        }
        // Reap: when the process ends, fail what it was running and free its slot.
        let f = Arc::clone(self);
        tokio::spawn(async move {
            let status = loop {
                let done = { child.lock().await.try_wait() };
                match done {
                    Ok(Some(status)) => break Some(status),
                    Err(_) => break None,
                    Ok(None) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            };
            server.abort();
            let pending = state
                .replies
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            let current = state
                .current
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            // It died running an invocation: Lambda answers that one with
            // a Runtime.ExitError and logs why.
            if let (Some((sender, handed_out)), Some(id)) = (pending, current) {
                let message = format!("RequestId: {id} Error: {}", exit_reason(status));
                if let Some(buf) = f
                    .logs
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_mut(&id)
                {
                    buf.lines.push(format!("{message}\nRuntime.ExitError"));
                }
                let document = serde_json::json!({
                    "errorMessage": message,
                    "errorType": "Runtime.ExitError",
                });
                let _ = sender.send(Answer {
                    result: Err(Bytes::from(document.to_string())),
                    ran: handed_out.elapsed(),
                    max_memory_mb: None,
                    exited: true,
                });
            }
            f.running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|(s, _)| !Arc::ptr_eq(s, &state));
            state.set_finishing(&f, false);
            state.take_ready(&f);
            f.processes.fetch_sub(1, Ordering::SeqCst);
        });
        Ok(())
    }

    /// Kills every process of the function.
    pub async fn shutdown(&self) {
        let children: Vec<_> = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(_, c)| Arc::clone(c))
            .collect();
        for child in children {
            let _ = child.lock().await.start_kill();
        }
    }

    /// Processes running now.
    pub fn process_count(&self) -> usize {
        self.processes.load(Ordering::SeqCst)
    }
}

/// `YYYY/MM/DD` of today (UTC), as Lambda log streams start.
fn time_parts() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}/{:02}/{:02}",
        now.year(),
        now.month() as u8,
        now.day()
    )
}

/// Now as `2024-05-01T12:34:56.789Z`, as Lambda's timeout line prints it.
fn iso_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        now.year(),
        now.month() as u8,
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond()
    )
}

/// `VmHWM` of a `/proc/{pid}/status` text, in MB rounded up.
fn vm_hwm_mb(status: &str) -> Option<u64> {
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    Some(kb.div_ceil(1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_reasons_read_as_lambdas() {
        use std::os::unix::process::ExitStatusExt;
        let status = |raw| Some(std::process::ExitStatus::from_raw(raw));
        assert_eq!(
            exit_reason(status(3 << 8)),
            "Runtime exited with error: exit status 3"
        );
        assert_eq!(
            exit_reason(status(9)),
            "Runtime exited with error: signal: killed"
        );
        assert_eq!(
            exit_reason(status(11)),
            "Runtime exited with error: signal: segmentation fault"
        );
        assert_eq!(
            exit_reason(status(0)),
            "Runtime exited without providing a reason"
        );
        assert_eq!(
            exit_reason(None),
            "Runtime exited without providing a reason"
        );
    }

    #[test]
    fn peak_memory_is_read_from_the_status_file() {
        let status =
            "Name:\tpython3\nVmPeak:\t  30000 kB\nVmHWM:\t   20481 kB\nVmRSS:\t   20000 kB\n";
        assert_eq!(vm_hwm_mb(status), Some(21));
        assert_eq!(vm_hwm_mb("VmHWM:\t 1024 kB\n"), Some(1));
        assert_eq!(vm_hwm_mb("Name:\tx\n"), None);
        // This process's own status file has the field.
        let own = std::fs::read_to_string("/proc/self/status").unwrap();
        assert!(vm_hwm_mb(&own).is_some_and(|mb| mb > 0));
    }

    #[test]
    fn framed_events_keep_their_lines_and_other_lines_stay_as_they_are() {
        let framed = format!(
            "{LOG_EVENT}{}",
            serde_json::json!("[ERROR] E: m\nTraceback")
        );
        assert_eq!(event_text(framed), "[ERROR] E: m\nTraceback");
        assert_eq!(event_text("plain output".into()), "plain output");
        // A frame that is not a JSON string is kept whole rather than lost.
        let broken = format!("{LOG_EVENT}not json");
        assert_eq!(event_text(broken.clone()), broken);
    }
}
