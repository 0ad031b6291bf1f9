//! Asynchronous queries: the StartQuery / GetQueryResults / StopQuery /
//! DescribeQueries lifecycle.
//!
//! A started query is `Scheduled`, becomes `Running` once one of the
//! concurrency slots is free, and ends `Complete`, `Failed`, `Cancelled`
//! (StopQuery) or `Timeout`. At most [`MAX_ACTIVE`] queries may be scheduled
//! or running per manager (AWS allows 100 per account); more are refused
//! with `LimitExceededException`. Finished queries are kept in memory for
//! [`KEEP_FINISHED`] (results are not persisted across restarts).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gatewatch_store::model::Scope;
use gatewatch_store::Store;
use tokio::sync::Semaphore;

use crate::ast::Query;
use crate::{run, QueryOutput, QueryRequest, RunError};

/// Scheduled + running queries allowed at once.
pub const MAX_ACTIVE: usize = 100;
/// How long finished queries stay retrievable.
pub const KEEP_FINISHED: Duration = Duration::from_secs(7 * 24 * 3600);

/// A query's status, spelled as the API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Waiting for a slot.
    Scheduled,
    /// Executing.
    Running,
    /// Done.
    Complete,
    /// Failed.
    Failed,
    /// Stopped by StopQuery.
    Cancelled,
    /// Ran past the timeout.
    Timeout,
}

impl Status {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Scheduled => "Scheduled",
            Status::Running => "Running",
            Status::Complete => "Complete",
            Status::Failed => "Failed",
            Status::Cancelled => "Cancelled",
            Status::Timeout => "Timeout",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "Scheduled" => Status::Scheduled,
            "Running" => Status::Running,
            "Complete" => Status::Complete,
            "Failed" => Status::Failed,
            "Cancelled" => Status::Cancelled,
            "Timeout" => Status::Timeout,
            _ => return None,
        })
    }

    fn active(self) -> bool {
        matches!(self, Status::Scheduled | Status::Running)
    }
}

/// What DescribeQueries and GetQueryResults show of a query.
#[derive(Debug, Clone)]
pub struct QueryInfo {
    /// Query id.
    pub id: String,
    /// Query text.
    pub query_string: String,
    /// Status.
    pub status: Status,
    /// Creation time, ms.
    pub create_time: i64,
    /// The first log group (DescribeQueries' `logGroupName`).
    pub log_group_name: Option<String>,
    /// Output once complete.
    pub output: Option<Arc<QueryOutput>>,
    /// Why it failed.
    pub error: Option<String>,
}

struct Entry {
    scope: Scope,
    info: QueryInfo,
    groups: Vec<String>,
    abort: Option<tokio::task::AbortHandle>,
    finished_at: Option<std::time::Instant>,
}

/// Runs queries in the background.
#[derive(Clone)]
pub struct QueryManager {
    store: Store,
    entries: Arc<Mutex<HashMap<String, Entry>>>,
    slots: Arc<Semaphore>,
    timeout: Duration,
}

/// Why StartQuery was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum StartError {
    /// Too many active queries.
    LimitExceeded,
}

impl QueryManager {
    /// A manager running at most `concurrency` queries at a time, each for
    /// at most `timeout`.
    pub fn new(store: Store, concurrency: usize, timeout: Duration) -> QueryManager {
        QueryManager {
            store,
            entries: Arc::new(Mutex::new(HashMap::new())),
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
            timeout,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a compiled query; returns its id.
    pub fn start(
        &self,
        scope: &Scope,
        query: Query,
        req: QueryRequest,
    ) -> Result<String, StartError> {
        let id = uuid::Uuid::new_v4().to_string();
        {
            let mut entries = self.lock();
            // Forget long-finished queries.
            entries.retain(|_, e| e.finished_at.is_none_or(|t| t.elapsed() < KEEP_FINISHED));
            if entries.values().filter(|e| e.info.status.active()).count() >= MAX_ACTIVE {
                return Err(StartError::LimitExceeded);
            }
            entries.insert(
                id.clone(),
                Entry {
                    scope: scope.clone(),
                    info: QueryInfo {
                        id: id.clone(),
                        query_string: req.query.clone(),
                        status: Status::Scheduled,
                        create_time: gatewatch_store::now_ms(),
                        log_group_name: req.groups.first().cloned(),
                        output: None,
                        error: None,
                    },
                    groups: req.groups.clone(),
                    abort: None,
                    finished_at: None,
                },
            );
        }
        let this = self.clone();
        let scope = scope.clone();
        let qid = id.clone();
        let handle = tokio::spawn(async move {
            let Ok(_permit) = this.slots.clone().acquire_owned().await else {
                return;
            };
            this.set_status(&qid, Status::Running);
            let outcome =
                tokio::time::timeout(this.timeout, run(&this.store, &scope, &query, &req)).await;
            let mut entries = this.lock();
            let Some(e) = entries.get_mut(&qid) else {
                return;
            };
            if e.info.status == Status::Cancelled {
                return;
            }
            e.finished_at = Some(std::time::Instant::now());
            match outcome {
                Err(_) => e.info.status = Status::Timeout,
                Ok(Ok(out)) => {
                    e.info.status = Status::Complete;
                    e.info.output = Some(Arc::new(out));
                }
                Ok(Err(err)) => {
                    tracing::warn!(query = %qid, error = %err, "query failed");
                    e.info.status = Status::Failed;
                    e.info.error = Some(match err {
                        RunError::Malformed(m) => m.to_string(),
                        other => other.to_string(),
                    });
                }
            }
        });
        if let Some(e) = self.lock().get_mut(&id) {
            e.abort = Some(handle.abort_handle());
        }
        Ok(id)
    }

    fn set_status(&self, id: &str, status: Status) {
        if let Some(e) = self.lock().get_mut(id) {
            if e.info.status.active() {
                e.info.status = status;
            }
        }
    }

    /// A query of `scope` by id.
    pub fn get(&self, scope: &Scope, id: &str) -> Option<QueryInfo> {
        self.lock()
            .get(id)
            .filter(|e| &e.scope == scope)
            .map(|e| e.info.clone())
    }

    /// Stops a running query. `None` when unknown; `Some(false)` when it had
    /// already finished.
    pub fn stop(&self, scope: &Scope, id: &str) -> Option<bool> {
        let mut entries = self.lock();
        let e = entries.get_mut(id).filter(|e| &e.scope == scope)?;
        if !e.info.status.active() {
            return Some(false);
        }
        if let Some(a) = e.abort.take() {
            a.abort();
        }
        e.info.status = Status::Cancelled;
        e.finished_at = Some(std::time::Instant::now());
        Some(true)
    }

    /// Queries of `scope`, newest first, optionally of one group or status.
    pub fn describe(
        &self,
        scope: &Scope,
        group: Option<&str>,
        status: Option<Status>,
    ) -> Vec<QueryInfo> {
        let entries = self.lock();
        let mut out: Vec<QueryInfo> = entries
            .values()
            .filter(|e| &e.scope == scope)
            .filter(|e| group.is_none_or(|g| e.groups.iter().any(|x| x == g)))
            .filter(|e| status.is_none_or(|s| e.info.status == s))
            .map(|e| e.info.clone())
            .collect();
        out.sort_by(|a, b| b.create_time.cmp(&a.create_time).then(b.id.cmp(&a.id)));
        out
    }
}
