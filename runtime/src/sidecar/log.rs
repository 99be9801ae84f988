//! One access-log line per request on standard output: JSON for machines, text for people.

use std::io::Write as _;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::engine::Denial;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

/// What is known of a request as it goes through; secrets (credentials, bodies) are never recorded.
#[derive(Debug)]
pub struct Entry {
    time: f64,
    request_id: String,
    client: IpAddr,
    method: String,
    path: String,
    protocol: &'static str,
    operation: Option<String>,
    /// Who authenticated (a token's subject, an API key's name, a certificate's subject).
    subject: Option<String>,
    status: u16,
    decision: &'static str,
    reason: Option<&'static str>,
    /// Which check failed inside the reason (`token-expired`), never shown to the client.
    detail: Option<&'static str>,
    monitored: Vec<&'static str>,
    latency: Duration,
    bytes_in: usize,
    bytes_out: Option<u64>,
}

impl Entry {
    /// `client` is the address the sidecar decided on (see `--trusted-proxy`).
    pub fn new(request_id: &str, client: IpAddr, parts: &http::request::Parts) -> Self {
        Self {
            time: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            request_id: request_id.to_owned(),
            client,
            method: parts.method.as_str().to_owned(),
            path: parts.uri.path().to_owned(),
            protocol: match parts.version {
                http::Version::HTTP_09 => "HTTP/0.9",
                http::Version::HTTP_10 => "HTTP/1.0",
                http::Version::HTTP_11 => "HTTP/1.1",
                http::Version::HTTP_2 => "HTTP/2.0",
                http::Version::HTTP_3 => "HTTP/3.0",
                _ => "HTTP",
            },
            operation: None,
            subject: None,
            status: 0,
            decision: "forward",
            reason: None,
            detail: None,
            monitored: Vec::new(),
            latency: Duration::ZERO,
            bytes_in: 0,
            bytes_out: None,
        }
    }

    pub fn operation(&mut self, id: Option<&str>) {
        self.operation = id.map(str::to_owned);
    }

    pub fn subject(&mut self, subject: Option<&str>) {
        self.subject = subject.map(str::to_owned);
    }

    pub fn deny(&mut self, denial: &Denial) {
        self.decision = "deny";
        self.reason = Some(denial.reason());
        self.detail = denial.detail();
    }

    pub fn monitored(&mut self, violations: &[Denial]) {
        self.monitored = violations.iter().map(Denial::reason).collect();
        if !violations.is_empty() {
            self.decision = "monitor";
        }
    }

    pub fn bytes_in(&mut self, n: usize) {
        self.bytes_in = n;
    }

    pub fn finish(&mut self, status: u16, bytes_out: Option<u64>, latency: Duration) {
        self.status = status;
        self.bytes_out = bytes_out;
        self.latency = latency;
    }
}

impl Entry {
    /// Counts the request in the metrics.
    pub fn record(&self, metrics: &super::metrics::Metrics) {
        metrics.record(
            self.operation.as_deref(),
            self.status,
            self.decision,
            self.reason,
            self.latency,
        );
    }
}

/// Writes access-log lines to standard output from a thread of its own, so that requests never wait
/// on the pipe, nor on making the line: entries are handed over through a bounded queue, then
/// formatted and written in batches, every [`BATCH_INTERVAL`] at most. When the queue is full
/// (stdout blocked), entries are dropped and counted rather than stalling the proxy.
#[derive(Debug)]
pub struct Writer {
    queue: std::sync::mpsc::SyncSender<Entry>,
    dropped: std::sync::atomic::AtomicU64,
}

/// Lines waiting for the writer thread at most (ten batch intervals at 160k requests/s).
const QUEUE: usize = 16_384;

/// How long the writer lets lines gather between writes.
const BATCH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(10);

impl Writer {
    pub fn spawn(format: LogFormat) -> Self {
        let (queue, entries) = std::sync::mpsc::sync_channel::<Entry>(QUEUE);
        std::thread::Builder::new()
            .name("specgate-access-log".into())
            .spawn(move || {
                let stdout = std::io::stdout();
                let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
                while let Ok(entry) = entries.recv() {
                    let _ = write_line(&mut out, format, &entry);
                    while let Ok(entry) = entries.try_recv() {
                        let _ = write_line(&mut out, format, &entry);
                    }
                    let _ = out.flush();
                    // Let lines gather: a writer that wakes for every line costs the proxy a
                    // context switch per request. Lines reach stdout at most this late.
                    std::thread::sleep(BATCH_INTERVAL);
                }
            })
            .ok();
        Self {
            queue,
            dropped: std::sync::atomic::AtomicU64::new(0),
        }
    }

    pub fn write(&self, entry: Entry) {
        if self.queue.try_send(entry).is_err() {
            self.dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Lines dropped because standard output could not keep up.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Writes one entry as a line.
fn write_line(
    out: &mut impl std::io::Write,
    format: LogFormat,
    entry: &Entry,
) -> std::io::Result<()> {
    match format {
        LogFormat::Json => serde_json::to_writer(&mut *out, &Line::from(entry))?,
        LogFormat::Text => out.write_all(text(entry).as_bytes())?,
    }
    out.write_all(b"\n")
}

/// One JSON access-log line, serialized straight from the entry's fields.
#[derive(serde::Serialize)]
struct Line<'a> {
    time: f64,
    request_id: &'a str,
    client: IpAddr,
    method: &'a str,
    path: &'a str,
    protocol: &'static str,
    operation: Option<&'a str>,
    subject: Option<&'a str>,
    status: u16,
    decision: &'static str,
    reason: Option<&'static str>,
    detail: Option<&'static str>,
    monitored: &'a [&'static str],
    latency_ms: f64,
    bytes_in: usize,
    bytes_out: Option<u64>,
}

impl<'a> From<&'a Entry> for Line<'a> {
    fn from(e: &'a Entry) -> Self {
        Self {
            time: e.time,
            request_id: &e.request_id,
            client: e.client,
            method: &e.method,
            path: &e.path,
            protocol: e.protocol,
            operation: e.operation.as_deref(),
            subject: e.subject.as_deref(),
            status: e.status,
            decision: e.decision,
            reason: e.reason,
            detail: e.detail,
            monitored: &e.monitored,
            latency_ms: e.latency.as_secs_f64() * 1000.0,
            bytes_in: e.bytes_in,
            bytes_out: e.bytes_out,
        }
    }
}

fn text(e: &Entry) -> String {
    format!(
        "{} {} {} {} -> {} {}{} {:.2}ms",
        e.request_id,
        e.client,
        e.method,
        e.path,
        e.status,
        e.decision,
        match (e.reason, e.detail) {
            (Some(r), Some(d)) => format!(" ({r}: {d})"),
            (Some(r), None) => format!(" ({r})"),
            _ => String::new(),
        },
        e.latency.as_secs_f64() * 1000.0
    )
}
