//! The writer with real stage settings: levels per method, errors-only
//! tracing, the lifted line cut, and access lines into their group.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use gatewatch_gateway::context::{
    ExecutionEvent, ExecutionEventKind, HeaderList, RequestContext, RequestRecord,
};
use gatewatch_gateway::{DeployedApi, Deployments};
use gatewatch_logging::writer::DeploymentSource;
use gatewatch_logging::{execution_group, LogWriter};
use gatewatch_model::{
    AccessLogSettings, GatewayResponseType, LoggingLevel, MethodSetting, RestApi, Stage,
};

struct Fixed(Arc<Deployments>);

impl DeploymentSource for Fixed {
    fn current(&self) -> Arc<Deployments> {
        Arc::clone(&self.0)
    }
}

fn writer(stage: Stage) -> (LogWriter, tempdir::Dir) {
    let mut api = RestApi::new("abcdefghij", "t");
    api.ensure_resource("/pets");
    let deployments = Deployments {
        apis: vec![DeployedApi::new(api, vec![stage])],
        account_id: "000000000000".into(),
        region: "us-east-1".into(),
    };
    let dir = tempdir::Dir::new();
    let store = gatewatch_store::Store::open(&dir.0, Default::default()).unwrap();
    (
        LogWriter::new(store, Arc::new(Fixed(Arc::new(deployments)))),
        dir,
    )
}

mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Dir {
            let n = std::sync::atomic::AtomicUsize::new(0);
            let d = std::env::temp_dir().join(format!(
                "gatewatch-writer-{}-{}-{:?}",
                std::process::id(),
                n.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
                std::thread::current().id()
            ));
            let _ = std::fs::remove_dir_all(&d);
            Dir(d)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn record(status: u16, body: &str) -> RequestRecord {
    let now = SystemTime::now();
    let mut context = RequestContext {
        api_id: "abcdefghij".into(),
        stage: "dev".into(),
        request_id: format!("req-{status}"),
        extended_request_id: "Vts2pH6ArPEFcuQ=".into(),
        request_time: Some(now),
        http_method: "GET".into(),
        resource_path: Some("/pets".into()),
        method_key: Some("GET".into()),
        path_without_stage: "/pets".into(),
        status: Some(status),
        ..RequestContext::default()
    };
    let mut events = vec![ExecutionEvent {
        at: now,
        kind: ExecutionEventKind::MethodRequest {
            path_parameters: HeaderList::new(),
            query: HeaderList::new(),
            headers: HeaderList::new(),
            body: Bytes::from(body.to_string()),
        },
    }];
    if status >= 500 {
        context.error.response_type = Some(GatewayResponseType::IntegrationFailure);
        events.push(ExecutionEvent {
            at: now,
            kind: ExecutionEventKind::GatewayResponse {
                response_type: GatewayResponseType::IntegrationFailure,
                status,
                body: Bytes::new(),
                headers: HeaderList::new(),
            },
        });
    } else {
        events.push(ExecutionEvent {
            at: now,
            kind: ExecutionEventKind::Succeeded,
        });
    }
    events.push(ExecutionEvent {
        at: now,
        kind: ExecutionEventKind::Completed { status },
    });
    RequestRecord {
        context: Box::new(context),
        events,
    }
}

fn messages(w: &LogWriter, records: &[RequestRecord], group: &str) -> Vec<String> {
    let (_, batches) = w.render(records);
    batches
        .into_destinations()
        .filter(|d| d.group == group)
        .flat_map(|d| {
            d.lines
                .iter()
                .map(|e| e.message.to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn errors_only_tracing_writes_detail_for_failures_only() {
    let mut stage = Stage::new("dev");
    stage.errors_only_tracing = true;
    stage.method_settings.insert(
        "*/*".into(),
        MethodSetting {
            logging_level: LoggingLevel::Info,
            ..Default::default()
        },
    );
    let (w, _dir) = writer(stage);
    let group = execution_group("abcdefghij", "dev");
    let lines = messages(
        &w,
        &[record(200, "fine"), record(502, "the body that failed")],
        &group,
    );
    assert!(
        lines.iter().all(|l| l.starts_with("(req-502) ")),
        "healthy request writes nothing: {lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l
                == "(req-502) Method request body before transformations: the body that failed")
    );
    assert!(lines
        .iter()
        .any(|l| l == "(req-502) Method completed with status: 502"));
}

#[test]
fn per_method_levels_and_the_line_cut() {
    let mut stage = Stage::new("dev");
    stage.method_settings.insert(
        "*/*".into(),
        MethodSetting {
            logging_level: LoggingLevel::Error,
            ..Default::default()
        },
    );
    stage.method_settings.insert(
        "pets/GET".into(),
        MethodSetting {
            logging_level: LoggingLevel::Info,
            data_trace_enabled: true,
            ..Default::default()
        },
    );
    stage.max_log_line_chars = Some(5000);
    stage.access_log_settings = Some(AccessLogSettings {
        destination_arn: "arn:aws:logs:us-east-1:000000000000:log-group:access:*".into(),
        format: "$context.requestId $context.status".into(),
    });
    let (w, _dir) = writer(stage);
    let long = "x".repeat(3000);
    let lines = messages(
        &w,
        &[record(200, &long)],
        &execution_group("abcdefghij", "dev"),
    );
    let body = lines
        .iter()
        .find(|l| l.contains("Method request body"))
        .expect("data trace on for pets/GET");
    assert!(
        body.ends_with(&long),
        "the cut is lifted to 5000 characters"
    );
    assert_eq!(messages(&w, &[record(200, "")], "access"), ["req-200 200"]);
}
