//! One line per finished request on stderr, so `gatewatch serve` shows its
//! traffic. Called by the log writer's background task: the data plane never
//! waits on the terminal.

use gatewatch_gateway::context::RequestRecord;

/// Prints a summary line for one finished request.
pub fn print_request(record: &RequestRecord) {
    let c = &record.context;
    let error = c
        .error
        .response_type
        .map(|t| format!(" {t}"))
        .unwrap_or_default();
    tracing::info!(
        target: "gatewatch::request",
        "{} {} {} -> {}{} {}B {}ms ({})",
        c.identity.source_ip,
        c.http_method,
        c.path,
        c.status.unwrap_or(0),
        error,
        c.response_length.unwrap_or(0),
        c.response_latency_ms.unwrap_or(0),
        c.request_id
    );
}
