//! One line per finished request on stderr, so `gatewatch serve` shows its
//! traffic. Lines are written by a background task fed through a bounded
//! channel: the data plane never waits on the terminal.

use gatewatch_gateway::context::RequestRecord;
use tokio::sync::mpsc::Receiver;

/// Prints records until the channel closes.
pub async fn print_requests(mut rx: Receiver<RequestRecord>) {
    while let Some(record) = rx.recv().await {
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
}
