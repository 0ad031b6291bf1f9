//! Deterministic API Gateway log data for tests and benchmarks.
//!
//! The same seed always yields the same events: JSON access-log lines in
//! the common API Gateway template (every value quoted, `-` when unknown),
//! the same requests as CLF lines, execution-log lines and Lambda platform
//! lines. Events are one per `step_ms` from `start_ms`.

/// A small fast deterministic generator (xorshift64*).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// One generated request.
#[derive(Debug, Clone)]
pub struct Request {
    /// Event time, ms.
    pub timestamp: i64,
    /// `$context.requestId`.
    pub request_id: String,
    /// Client IP.
    pub ip: String,
    /// Method.
    pub method: &'static str,
    /// Resource template.
    pub resource_path: &'static str,
    /// Concrete path.
    pub path: String,
    /// Status.
    pub status: u16,
    /// Protocol.
    pub protocol: &'static str,
    /// Response bytes.
    pub response_length: u64,
    /// Integration latency (absent for requests that never reached it).
    pub integration_latency: Option<u64>,
    /// Total latency.
    pub response_latency: u64,
}

const ROUTES: &[(&str, &str)] = &[
    ("GET", "/orders"),
    ("GET", "/orders/{id}"),
    ("POST", "/orders"),
    ("PUT", "/orders/{id}"),
    ("DELETE", "/orders/{id}"),
    ("GET", "/health"),
    ("PATCH", "/customers/{id}"),
    ("GET", "/customers"),
];

const STATUSES: &[(u16, u64)] = &[
    (200, 700),
    (201, 60),
    (204, 40),
    (400, 40),
    (403, 30),
    (404, 50),
    (429, 20),
    (500, 25),
    (502, 15),
    (503, 10),
    (504, 10),
];

/// Generates `n` requests.
pub fn requests(n: usize, seed: u64, start_ms: i64, step_ms: i64) -> Vec<Request> {
    let mut rng = Rng::new(seed);
    let total: u64 = STATUSES.iter().map(|s| s.1).sum();
    (0..n)
        .map(|i| {
            let (method, resource_path) = ROUTES[rng.below(ROUTES.len() as u64) as usize];
            let mut pick = rng.below(total);
            let mut status = 200;
            for (s, w) in STATUSES {
                if pick < *w {
                    status = *s;
                    break;
                }
                pick -= w;
            }
            let id = rng.below(1000);
            let path = resource_path.replace("{id}", &id.to_string());
            let ip = match rng.below(10) {
                0 => format!("10.0.{}.{}", rng.below(4), rng.below(250) + 1),
                1 => format!("2001:db8::{:x}", rng.below(200) + 1),
                2 => "not-an-ip".to_string(),
                _ => format!("203.0.113.{}", rng.below(40) + 1),
            };
            let reached = !matches!(status, 403 | 429);
            let integration_latency = if reached {
                Some(if status == 504 {
                    29_000
                } else {
                    5 + rng.below(300)
                })
            } else {
                None
            };
            let response_latency = integration_latency.unwrap_or(0) + 1 + rng.below(8);
            Request {
                timestamp: start_ms + i as i64 * step_ms,
                request_id: format!("c0a8e1f2-{:04x}-4a3b-9c00-{:012x}", seed & 0xffff, i),
                ip,
                method,
                resource_path,
                path,
                status,
                protocol: if rng.below(5) == 0 {
                    "HTTP/2.0"
                } else {
                    "HTTP/1.1"
                },
                response_length: if status == 204 {
                    0
                } else {
                    20 + rng.below(4000)
                },
                integration_latency,
                response_latency,
            }
        })
        .collect()
}

fn clf_time(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
        t.day(),
        MONTHS[usize::from(u8::from(t.month())) - 1],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

impl Request {
    /// The JSON access-log line.
    pub fn json_line(&self) -> String {
        let integration = match self.integration_latency {
            Some(l) => format!(",\"integrationLatency\":\"{l}\""),
            None if self.status == 429 => String::new(),
            None => ",\"integrationLatency\":\"-\"".to_string(),
        };
        format!(
            "{{\"requestId\":\"{}\",\"ip\":\"{}\",\"caller\":\"-\",\"user\":\"-\",\"requestTime\":\"{}\",\"httpMethod\":\"{}\",\"resourcePath\":\"{}\",\"status\":\"{}\",\"protocol\":\"{}\",\"responseLength\":\"{}\"{},\"responseLatency\":\"{}\"}}",
            self.request_id,
            self.ip,
            clf_time(self.timestamp),
            self.method,
            self.resource_path,
            self.status,
            self.protocol,
            self.response_length,
            integration,
            self.response_latency
        )
    }

    /// The CLF access-log line (the console's CLF preset).
    pub fn clf_line(&self) -> String {
        format!(
            "{} - - [{}] \"{} {} {}\" {} {} {}",
            self.ip,
            clf_time(self.timestamp),
            self.method,
            self.resource_path,
            self.protocol,
            self.status,
            self.response_length,
            self.request_id
        )
    }

    /// Execution-log lines (with the `(requestId) ` prefix).
    pub fn execution_lines(&self) -> Vec<String> {
        let p = format!("({})", self.request_id);
        let mut out = vec![
            format!("{p} Extended Request Id: {}=", &self.request_id[..8]),
            format!(
                "{p} Verifying Usage Plan for request: {}. API Key:  API Stage: abc123/prod",
                self.request_id
            ),
            format!("{p} Starting execution for request: {}", self.request_id),
            format!(
                "{p} HTTP Method: {}, Resource Path: {}",
                self.method, self.path
            ),
        ];
        match self.status {
            504 => out.push(format!("{p} Endpoint request timed out")),
            502 => out.push(format!("{p} Lambda execution failed with status 200 due to customer function error: boom")),
            500 => out.push(format!("{p} Execution failed due to configuration error: Invalid permissions on Lambda function")),
            _ => {}
        }
        out.push(format!("{p} Method completed with status: {}", self.status));
        out
    }

    /// Lambda platform lines for the request, each ending in a newline as
    /// CloudWatch Logs holds them.
    pub fn lambda_lines(&self) -> Vec<String> {
        let d = self.integration_latency.unwrap_or(1) as f64 * 0.9;
        vec![
            format!("START RequestId: {} Version: $LATEST\n", self.request_id),
            format!("END RequestId: {}\n", self.request_id),
            format!(
                "REPORT RequestId: {}\tDuration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: 128 MB\tMax Memory Used: {} MB\t\n",
                self.request_id,
                d,
                d.ceil() as u64,
                40 + (self.response_length % 60)
            ),
        ]
    }
}
