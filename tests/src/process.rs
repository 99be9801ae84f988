//! `specgate run` as a child process on loopback, and plain HTTP/1.1 requests to it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::{repo_root, specgate};

/// A running sidecar, killed when dropped.
#[allow(missing_debug_implementations)]
pub struct Sidecar {
    pub child: Child,
    pub address: String,
    pub admin: Option<String>,
    /// Lines the sidecar wrote to standard error after it started (notes and warnings).
    pub stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// The access log: lines the sidecar wrote to standard output.
    pub stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start(spec: &str, upstream: &str) -> Sidecar {
    start_with(spec, upstream, &[])
}

/// Starts `specgate run` on a free port (and `extra` flags), reading its addresses from standard error.
pub fn start_with(spec: &str, upstream: &str, extra: &[&str]) -> Sidecar {
    spawn(Command::new(specgate()), spec, upstream, extra)
}

/// As [`start_with`], with at most `open_files` file descriptors (`ulimit -n`, through `sh`).
pub fn start_with_open_files(
    spec: &str,
    upstream: &str,
    extra: &[&str],
    open_files: u32,
) -> Sidecar {
    let mut shell = Command::new("sh");
    shell
        .arg("-c")
        .arg(format!("ulimit -n {open_files} && exec \"$0\" \"$@\""))
        .arg(specgate());
    spawn(shell, spec, upstream, extra)
}

fn spawn(mut command: Command, spec: &str, upstream: &str, extra: &[&str]) -> Sidecar {
    let mut child = command
        .args([
            "run",
            "--spec",
            spec,
            "--upstream",
            upstream,
            "--listen",
            "127.0.0.1:0",
        ])
        .args(extra)
        .current_dir(repo_root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("specgate starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut admin = None;
    let address = loop {
        let line = lines
            .next()
            .expect("specgate said where it listens")
            .expect("readable");
        if let Some(rest) = line.strip_prefix("specgate admin on http://") {
            admin = Some(rest.trim().to_owned());
        }
        if let Some(rest) = line
            .strip_prefix("specgate listening on http://")
            .or_else(|| line.strip_prefix("specgate listening on https://"))
        {
            break rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
        }
    };
    // Keep draining stderr so the child never blocks on a full pipe.
    let stderr = collect_lines(lines);
    let stdout = collect_lines(BufReader::new(child.stdout.take().expect("stdout")).lines());
    Sidecar {
        child,
        address,
        admin,
        stderr,
        stdout,
    }
}

/// Reads lines on a thread of their own (so that the child never blocks on a full pipe), keeping them.
fn collect_lines(
    lines: impl Iterator<Item = std::io::Result<String>> + Send + 'static,
) -> std::sync::Arc<std::sync::Mutex<Vec<String>>> {
    let kept = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = kept.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if let Ok(mut sink) = sink.lock() {
                sink.push(line);
            }
        }
    });
    kept
}

#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The authentication scheme `WWW-Authenticate` asks for (`Bearer`, `ApiKey`…).
    pub fn challenge(&self) -> Option<&str> {
        self.header("www-authenticate")?.split_whitespace().next()
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

pub fn send(
    sidecar: &Sidecar,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    send_to(&sidecar.address, method, target, headers, body)
}

/// One HTTP/1.1 request to `address` over a fresh connection.
pub fn send_to(
    address: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    // The example spec's host, unless the test names its own.
    let host = if headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        String::new()
    } else {
        "Host: api.petstore.example.com\r\n".to_owned()
    };
    let mut head = format!("{method} {target} HTTP/1.1\r\n{host}Connection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" || method == "PUT" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body);
    send_raw(address, &raw)
}

/// Writes `request` as it is over a fresh connection and reads the answer until the server closes.
pub fn send_raw(address: &str, request: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(address).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = stream.write_all(request);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_answer(&raw)
}

/// The status, headers and body of an HTTP/1.1 answer.
pub fn parse_answer(raw: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// A `fixed-upstream` process (from this crate) answering after `delay_ms`.
#[allow(missing_debug_implementations)]
pub struct FixedUpstream {
    child: Child,
    pub address: String,
}

impl Drop for FixedUpstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn fixed_upstream(delay_ms: u64) -> FixedUpstream {
    let binary = specgate().with_file_name("fixed-upstream");
    let mut child = Command::new(&binary)
        .args(["127.0.0.1:0", &delay_ms.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("it says where it listens");
    let address = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    FixedUpstream { child, address }
}

/// Like [`send_to`], with the `Host` header given: for specs whose `hosts` accept only their servers'.
pub fn send_to_host(
    address: &str,
    host: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let mut all = vec![("Host", host)];
    all.extend_from_slice(headers);
    send_to(address, method, target, &all, body)
}
