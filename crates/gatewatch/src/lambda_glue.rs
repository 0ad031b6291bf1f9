//! Connects the data plane's AWS_PROXY integrations to the Lambda host.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use gatewatch_gateway::integration::lambda::{LambdaFailure, LambdaInvoker, LambdaReply};
use gatewatch_lambda::{InvokeError, LambdaHost};

/// The function the bundled example's `/hello/{name}` route calls.
pub const EXAMPLE_FUNCTION: &str = include_str!("example-functions/hello.py");

/// [`LambdaInvoker`] over a [`LambdaHost`]. Invocations run on the main
/// runtime (`1`), where function processes and their Runtime API servers
/// live, whichever data-plane thread asked for them.
pub struct HostInvoker(pub Arc<LambdaHost>, pub tokio::runtime::Handle);

impl LambdaInvoker for HostInvoker {
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        event: Bytes,
    ) -> Pin<Box<dyn Future<Output = Result<LambdaReply, LambdaFailure>> + Send + 'a>> {
        Box::pin(async move {
            let Some(f) = self.0.function(function).cloned() else {
                return Err(LambdaFailure::NotFound);
            };
            let invoked = Arc::clone(&f);
            let outcome = self
                .1
                .spawn(async move { invoked.invoke(event).await })
                .await
                .map_err(|e| LambdaFailure::Runtime(format!("the invocation stopped: {e}")));
            let outcome = match outcome {
                Ok(o) => o,
                Err(failure) => return Err(failure),
            };
            match outcome {
                Ok(o) => Ok(LambdaReply {
                    request_id: o.request_id,
                    result: o.result,
                    logs: o.logs,
                    log_group: f.log_group(),
                    log_stream: f.log_stream().to_string(),
                }),
                Err(InvokeError::Timeout {
                    request_id, logs, ..
                }) => Err(LambdaFailure::FunctionTimeout {
                    // The log event ends in a newline; the message does not.
                    message: logs
                        .iter()
                        .find(|l| l.contains("Task timed out"))
                        .map(|l| l.trim_end().to_string())
                        .unwrap_or_else(|| "Task timed out".to_string()),
                    request_id,
                    logs,
                    log_group: f.log_group(),
                    log_stream: f.log_stream().to_string(),
                }),
                Err(InvokeError::Runtime(detail)) => Err(LambdaFailure::Runtime(detail)),
                Err(InvokeError::Throttled { request_id }) => {
                    Err(LambdaFailure::Throttled { request_id })
                }
            }
        })
    }
}
