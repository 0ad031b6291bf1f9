//! `gatewatch serve`: load APIs, bind the data plane and the admin listener,
//! print where everything is, serve until SIGINT/SIGTERM, drain, exit 0.

use std::collections::HashSet;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use gatewatch_gateway::{
    DeployedApi, Deployments, Gateway, Limits, RecordSink, ServerConfig, ThreadSinks,
};
use gatewatch_model::import::{import_document, ImportOptions};
use gatewatch_model::{IntegrationType, Stage};
use tokio::sync::watch;

use crate::cli::{
    ServeArgs, DEFAULT_ACCOUNT_ID, DEFAULT_ADMIN_LISTEN, DEFAULT_DATA_DIR, DEFAULT_LISTEN,
    DEFAULT_REGION,
};
use crate::config::{ConfigFile, StageConfig};
use crate::validate::locate;

/// Finished requests waiting for the log writer.
const RECORD_QUEUE: usize = 65_536;

/// The access-log group of the bundled example.
pub const EXAMPLE_ACCESS_GROUP: &str = "/gatewatch/access/example";

/// The example API embedded in the binary.
pub const EXAMPLE_API: &str = include_str!("example-api.yaml");

/// Where an API definition comes from.
struct ApiSource {
    /// File path, or `(bundled example)`.
    name: String,
    text: String,
    id: Option<String>,
    stages: Vec<Stage>,
    bundled: bool,
}

/// Runs the server; returns the process exit code.
pub fn run(args: ServeArgs) -> ExitCode {
    match try_run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gatewatch: {message}");
            ExitCode::FAILURE
        }
    }
}

fn try_run(args: ServeArgs) -> Result<(), String> {
    let config = match &args.config {
        Some(path) => ConfigFile::load(path).map_err(|e| e.to_string())?,
        None => ConfigFile::default(),
    };
    let listen = args
        .listen
        .or(config.listen)
        .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default"));
    let admin_listen = args
        .admin_listen
        .or(config.admin_listen)
        .unwrap_or_else(|| DEFAULT_ADMIN_LISTEN.parse().expect("valid default"));
    let data_dir = args
        .data_dir
        .clone()
        .or(config.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));

    let sources = collect_sources(&args, &config)?;
    let bundled = sources.iter().any(|s| s.bundled);
    let mut apis = Vec::new();
    let mut ids = HashSet::new();
    for source in sources {
        let options = ImportOptions {
            rest_api_id: source.id.clone(),
        };
        let imported = import_document(&source.text, &options).map_err(|diagnostics| {
            let lines: Vec<String> = diagnostics
                .iter()
                .map(|d| locate(&source.name, d))
                .collect();
            format!("cannot serve {}:\n{}", source.name, lines.join("\n"))
        })?;
        for w in &imported.warnings {
            eprintln!("{}", locate(&source.name, w));
        }
        if !ids.insert(imported.api.id.clone()) {
            return Err(format!(
                "{}: restApiId {} is already used by another API (same title?); set `id` for it in gatewatch.toml",
                source.name, imported.api.id
            ));
        }
        apis.push((source, imported.api));
    }

    std::fs::create_dir_all(&data_dir)
        .map_err(|e| format!("cannot create data directory {}: {e}", data_dir.display()))?;
    let account_id = args
        .account_id
        .clone()
        .or(config.account_id.clone())
        .unwrap_or_else(|| DEFAULT_ACCOUNT_ID.to_string());
    if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "invalid account id '{account_id}': it must be 12 digits"
        ));
    }
    let region = config
        .region
        .clone()
        .unwrap_or_else(|| DEFAULT_REGION.to_string());
    // Lambda functions: the config's, plus the bundled example's.
    let mut functions = Vec::new();
    let config_path = args.config.clone().unwrap_or_default();
    for f in &config.functions {
        functions.push(f.to_function(&config_path).map_err(|e| e.to_string())?);
    }
    if bundled {
        let code = data_dir.join("functions").join("hello");
        std::fs::create_dir_all(&code)
            .and_then(|_| {
                std::fs::write(code.join("hello.py"), crate::lambda_glue::EXAMPLE_FUNCTION)
            })
            .map_err(|e| {
                format!(
                    "cannot write the example function into {}: {e}",
                    code.display()
                )
            })?;
        functions.push(gatewatch_lambda::FunctionConfig {
            name: "hello".into(),
            runtime: gatewatch_lambda::Runtime::Python("3.12".into()),
            handler: "hello.handler".into(),
            code_dir: code,
            timeout: std::time::Duration::from_secs(3),
            memory_mb: 128,
            environment: Vec::new(),
            concurrency: 10,
            throttle: false,
            endpoint: None,
        });
    }
    let lambda = Arc::new(
        gatewatch_lambda::LambdaHost::new(
            functions,
            &region,
            &account_id,
            data_dir.join("runtime"),
        )
        .map_err(|e| {
            format!(
                "cannot prepare the Lambda host in {}: {e}",
                data_dir.display()
            )
        })?,
    );
    let store_dir = data_dir.join("store");
    let store =
        gatewatch_store::Store::open(&store_dir, gatewatch_store::StoreConfig::default())
            .map_err(|e| format!("cannot open the log store in {}: {e}", store_dir.display()))?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        let threads = args
            .threads
            .filter(|n| *n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let (data_listener, data_addr) = gatewatch_gateway::server::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen} (data plane): {e}"))?;
        let (admin_listener, admin_addr) = gatewatch_gateway::server::bind(admin_listen)
            .await
            .map_err(|e| format!("cannot listen on {admin_listen} (admin): {e}"))?;

        let mut deployed = Vec::new();
        for (source, api) in apis {
            let mut stages = source.stages;
            if source.bundled {
                for stage in &mut stages {
                    stage
                        .variables
                        .entry("upstream".to_string())
                        .or_insert_with(|| {
                            format!("http://{}/{}", reachable(data_addr), stage.name)
                        });
                    // The example shows the logs off: INFO execution logs with
                    // data trace, and a JSON access log.
                    stage.method_settings.insert(
                        "*/*".to_string(),
                        gatewatch_model::MethodSetting {
                            logging_level: gatewatch_model::LoggingLevel::Info,
                            data_trace_enabled: true,
                            ..Default::default()
                        },
                    );
                    stage.access_log_settings = Some(gatewatch_model::AccessLogSettings {
                        destination_arn: format!(
                            "arn:aws:logs:{region}:{account_id}:log-group:{EXAMPLE_ACCESS_GROUP}"
                        ),
                        format: gatewatch_logging::access::presets::JSON.to_string(),
                    });
                }
            }
            deployed.push(DeployedApi::new(api, stages));
        }
        let mut deployments = Deployments {
            apis: deployed,
            account_id: Arc::from(account_id.as_str()),
            region: region.clone(),
        };
        // Stage settings changed through the management API win over the
        // files they were first read from.
        gatewatch_aws_api::apigateway::restore_stage_settings(&store, &mut deployments).await;
        let signalled = shutdown_signal();
        print_summary(&deployments, data_addr, admin_addr, &data_dir);

        // Finished requests go through bounded queues to the log writers,
        // which render and store their logs off the request path.
        let policy = match config.log_queue_policy.as_deref() {
            None | Some("backpressure") => gatewatch_gateway::QueuePolicy::Backpressure,
            Some("drop") => gatewatch_gateway::QueuePolicy::Drop,
            Some(other) => {
                return Err(format!(
                    "logQueuePolicy must be backpressure or drop, got '{other}'"
                ))
            }
        };
        // One queue and writer per data-plane thread (see ThreadSinks),
        // and one shared queue, drained here, for records finished
        // elsewhere.
        let (queues, records) = ThreadSinks::new(RECORD_QUEUE, policy);
        let sink: Arc<dyn RecordSink> = queues.clone();
        let gateway = Arc::new(
            Gateway::new(deployments, sink, Limits::default())
                // Quiet: no console line per request, so requests on stages
                // that log nothing need no record.
                .with_record_all(!args.quiet)
                .with_lambda(Arc::new(crate::lambda_glue::HostInvoker(
                    Arc::clone(&lambda),
                    tokio::runtime::Handle::current(),
                ))),
        );
        let writer = Arc::new(gatewatch_logging::LogWriter::new(
            store.clone(),
            gateway.clone(),
        ));
        let quiet = args.quiet;
        let observe = move |r: &gatewatch_gateway::context::RequestRecord| {
            if !quiet {
                crate::console::print_request(r);
            }
        };
        let (writer_stop_tx, writer_stop_rx) = tokio::sync::oneshot::channel::<()>();
        let log_writer = tokio::spawn(gatewatch_logging::writer::run(
            records,
            Arc::clone(&writer),
            observe,
            async {
                let _ = writer_stop_rx.await;
            },
        ));
        let thread_writers: gatewatch_gateway::server::ThreadWork = {
            let queues = Arc::clone(&queues);
            Arc::new(move |stop| {
                let records = queues.install_here();
                Box::pin(gatewatch_logging::writer::run(
                    records,
                    Arc::clone(&writer),
                    observe,
                    stop,
                ))
            })
        };

        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        // The data plane runs thread-per-core, beside this runtime (which
        // keeps the admin API, the log writer, Lambda and the store's work).
        let data_threads = gatewatch_gateway::server::serve_on_threads(
            data_listener,
            threads,
            Arc::clone(&gateway),
            ServerConfig::default(),
            stop_rx.clone(),
            Some(thread_writers),
        )
        .map_err(|e| format!("cannot start the data-plane threads: {e}"))?;
        let data = tokio::task::spawn_blocking(move || {
            for t in data_threads {
                let _ = t.join();
            }
        });
        let admin_state = Arc::new(crate::admin::Admin {
            gateway: Arc::clone(&gateway),
            logs: gatewatch_aws_api::LogsApi::new(
                store.clone(),
                account_id.clone(),
                region.clone(),
            ),
            log_queue: queues,
            apigateway: gatewatch_aws_api::apigateway::ApiGatewayApi::new(
                Arc::clone(&gateway),
                store.clone(),
                account_id.clone(),
                region.clone(),
                args.strict_aws || config.strict_aws,
            ),
        });
        let retention = tokio::spawn(store_maintenance(store.clone()));
        let admin = tokio::spawn(crate::admin::serve(
            admin_listener,
            admin_state,
            stopped(stop_rx),
        ));

        signalled.await;
        tracing::info!("shutting down: draining in-flight requests");
        let _ = stop_tx.send(true);
        let _ = data.await;
        let _ = admin.await;
        // Every request is answered; let the writer store the last logs.
        let _ = writer_stop_tx.send(());
        lambda.shutdown().await;
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), log_writer).await;
        retention.abort();
        tracing::info!("stopped");
        Ok(())
    })
}

/// Events stay in the hot tier at least this long before compaction moves
/// them into Parquet segments.
const HOT_TIER_MS: i64 = 5 * 60 * 1000;

/// Once a minute: move settled events into segments, then delete expired
/// data (reads hide expired events already).
async fn store_maintenance(store: gatewatch_store::Store) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        match store.compact(HOT_TIER_MS).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(events = n, "compacted events into segments"),
            Err(e) => tracing::warn!(error = %e, "compaction failed"),
        }
        match store.enforce_retention().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "retention removed expired events"),
            Err(e) => tracing::warn!(error = %e, "retention sweep failed"),
        }
    }
}

fn collect_sources(args: &ServeArgs, config: &ConfigFile) -> Result<Vec<ApiSource>, String> {
    let flag_stage = || -> Result<Stage, String> {
        let stage_config = StageConfig {
            name: args.stage.clone(),
            variables: args.vars.iter().cloned().collect(),
            method_settings: Default::default(),
            access_log_settings: None,
            tracing_enabled: false,
            description: None,
            errors_only_tracing: false,
            max_log_line_chars: None,
        };
        stage_config
            .to_stage(&PathBuf::from("--stage"), "command line")
            .map_err(|e| e.to_string())
    };
    let read = |path: &PathBuf| {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };

    if !args.apis.is_empty() {
        return args
            .apis
            .iter()
            .map(|path| {
                Ok(ApiSource {
                    name: path.display().to_string(),
                    text: read(path)?,
                    id: None,
                    stages: vec![flag_stage()?],
                    bundled: false,
                })
            })
            .collect();
    }
    if !config.apis.is_empty() {
        let config_path = args.config.clone().unwrap_or_default();
        return config
            .apis
            .iter()
            .map(|api| {
                let name = api.file.display().to_string();
                let mut stages = if api.stages.is_empty() {
                    vec![flag_stage()?]
                } else {
                    api.stages
                        .iter()
                        .map(|s| s.to_stage(&config_path, &name).map_err(|e| e.to_string()))
                        .collect::<Result<Vec<_>, _>>()?
                };
                for stage in &mut stages {
                    stage.variables.extend(args.vars.iter().cloned());
                }
                Ok(ApiSource {
                    text: read(&api.file)?,
                    name,
                    id: api.id.clone(),
                    stages,
                    bundled: false,
                })
            })
            .collect();
    }
    Ok(vec![ApiSource {
        name: "(bundled example API)".to_string(),
        text: EXAMPLE_API.to_string(),
        id: None,
        stages: vec![flag_stage()?],
        bundled: true,
    }])
}

/// An address clients on this machine can use for a bound address.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    }
}

fn print_summary(
    deployments: &Deployments,
    data: SocketAddr,
    admin: SocketAddr,
    data_dir: &std::path::Path,
) {
    let host = match data.ip() {
        ip if ip.is_unspecified() || ip.is_loopback() => format!("localhost:{}", data.port()),
        _ => data.to_string(),
    };
    let mut out = String::new();
    out.push_str(&format!("Gatewatch {}\n", env!("CARGO_PKG_VERSION")));
    for d in &deployments.apis {
        let api = &d.api;
        out.push_str(&format!("\nAPI \"{}\"  restApiId={}\n", api.name, api.id));
        for stage in d.stages.keys() {
            out.push_str(&format!("  stage {stage}:\n"));
            out.push_str(&format!("    http://{host}/{stage}/...\n"));
            out.push_str(&format!(
                "    http://{}.execute-api.{host}/{stage}/...\n",
                api.id
            ));
            out.push_str(&format!(
                "    http://{host}/restapis/{}/{stage}/_user_request_/...\n",
                api.id
            ));
        }
        out.push_str("  routes:\n");
        for r in &api.resources {
            for (method, m) in &r.methods {
                let kind = m
                    .integration
                    .as_ref()
                    .map(|i| i.kind)
                    .unwrap_or(IntegrationType::Mock);
                let example = d
                    .stages
                    .keys()
                    .next()
                    .map(|s| format!("http://{host}/{s}{}", example_path(&r.path)))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "    {method:<7} {:<28} {:<10} {example}\n",
                    r.path,
                    kind.as_str()
                ));
            }
        }
    }
    out.push_str(&format!("\nadmin:    http://{}/health\n", reachable(admin)));
    out.push_str(&format!("data dir: {}\n", data_dir.display()));
    out.push_str(&format!("gatewatch listening data={data} admin={admin}\n"));
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
}

/// `/pets/{petId}` → `/pets/1`, `/{proxy+}` → `/anything`, for example URLs.
fn example_path(template: &str) -> String {
    let parts: Vec<String> = template
        .split('/')
        .map(|seg| match gatewatch_model::PathPart::parse(seg) {
            gatewatch_model::PathPart::Literal(l) => l.to_string(),
            gatewatch_model::PathPart::Param(_) => "1".to_string(),
            gatewatch_model::PathPart::Greedy(_) => "pets".to_string(),
        })
        .collect();
    let joined = parts.join("/");
    if joined.is_empty() {
        "/".to_string()
    } else {
        joined
    }
}

/// Resolves on SIGINT or SIGTERM. Handlers are installed when this is
/// called, before anything is printed, so a signal sent right after the
/// listening line is never missed.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut i), Ok(mut t)) => {
                    tokio::select! {
                        _ = i.recv() => {}
                        _ = t.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
