//! `specgate run` as a process on loopback: what it lets through, what it refuses and how it answers.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use specgate_tests::process::*;
use specgate_tests::repo_root;

#[test]
fn valid_requests_reach_the_upstream_unchanged_with_forwarding_headers() {
    let sidecar = start("specs/petstore-3.0.yaml", "echo");
    let answer = send(
        &sidecar,
        "GET",
        "/v1/pets?limit=5&tags=dog,cat",
        &[
            ("X-Forwarded-For", "6.6.6.6"),
            ("X-Request-Id", "3f2504e0-4f89-11d3-9a0c-0305e82c3301"),
        ],
        b"",
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let echoed = answer.json();
    assert_eq!(echoed["method"], "GET");
    assert_eq!(echoed["path"], "/v1/pets");
    assert_eq!(
        echoed["query"], "limit=5&tags=dog,cat",
        "the query reaches the upstream as sent"
    );
    assert_eq!(
        echoed["headers"]["x-forwarded-for"], "127.0.0.1",
        "a client's own X-Forwarded-For is replaced"
    );
    assert_eq!(
        echoed["headers"]["x-forwarded-host"],
        "api.petstore.example.com"
    );
    assert_eq!(
        echoed["headers"]["x-request-id"],
        "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
    );
    assert_eq!(
        answer.header("x-request-id"),
        Some("3f2504e0-4f89-11d3-9a0c-0305e82c3301")
    );
    assert_eq!(
        answer.header("x-content-type-options"),
        Some("nosniff"),
        "responses are hardened"
    );
    assert_eq!(
        answer.header("strict-transport-security"),
        None,
        "HSTS only over TLS"
    );
}

#[test]
fn undeclared_routes_and_methods_are_refused_with_problem_json() {
    let sidecar = start("specs/petstore-3.0.yaml", "echo");
    let answer = send(&sidecar, "GET", "/nowhere", &[], b"");
    assert_eq!(answer.status, 404);
    assert_eq!(
        answer.header("content-type"),
        Some("application/problem+json")
    );
    let problem = answer.json();
    assert_eq!(problem["status"], 404);
    assert!(
        problem["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    assert_eq!(
        send(&sidecar, "GET", "/v1/pets/", &[], b"").status,
        404,
        "a trailing slash is significant"
    );
    assert_eq!(
        send(&sidecar, "POST", "/v1/pets/../admin/reindex", &[], b"").status,
        400,
        "dot segments are refused"
    );
    assert_eq!(
        send(&sidecar, "GET", "/v1/pets/%2e%2e/health", &[], b"").status,
        400,
        "encoded dot segments too"
    );
    assert_eq!(
        send(&sidecar, "POST", "/v1/%61dmin/reindex", &[], b"").status,
        403,
        "an encoded unreserved character is the character: the operation is found, and denied"
    );
    let host = "api.petstore.example.com";
    assert_eq!(
        send(
            &sidecar,
            "GET",
            "/v1/pets?limit=1",
            &[("Host", host), ("Host", "evil.example")],
            b""
        )
        .status,
        400,
        "two Host headers are refused"
    );
    assert_eq!(
        send(
            &sidecar,
            "GET",
            "http://evil.example/v1/pets?limit=1",
            &[("Host", host)],
            b""
        )
        .status,
        400,
        "so is an absolute target naming another host than Host"
    );
    assert_eq!(
        send(
            &sidecar,
            "POST",
            "/v1/newsletter/subscriptions",
            &[
                ("Connection", "content-type"),
                ("Content-Type", "application/x-www-form-urlencoded")
            ],
            b"email=ada%40example.com&consent=true"
        )
        .status,
        400,
        "Connection may not strip the media type the body was checked by"
    );
    assert_eq!(
        send(
            &sidecar,
            "GET",
            &format!("http://{host}/v1/pets?limit=1"),
            &[("Host", host)],
            b""
        )
        .status,
        200,
        "an absolute target naming the Host is served"
    );
    let answer = send(&sidecar, "PATCH", "/v1/pets", &[], b"");
    assert_eq!(answer.status, 405);
    let allow = answer.header("allow").unwrap_or_default();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
}

#[test]
fn invalid_parameters_are_refused_without_echoing_values() {
    let sidecar = start("specs/petstore-3.0.yaml", "echo");
    let answer = send(&sidecar, "GET", "/v1/pets?limit=secret-value-123", &[], b"");
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(
        !answer.body.contains("secret-value-123"),
        "a submitted value never comes back: {}",
        answer.body
    );
    let answer = send(&sidecar, "GET", "/v1/pets?limit=5&limit=6", &[], b"");
    assert_eq!(
        answer.status, 400,
        "a repeated scalar is refused: {}",
        answer.body
    );
    let answer = send(&sidecar, "GET", "/v1/pets?unknown=1", &[], b"");
    assert_eq!(
        answer.status, 400,
        "unknown query parameters are refused: {}",
        answer.body
    );
}

#[test]
fn operations_closed_at_the_edge_and_unverifiable_credentials_are_refused() {
    let sidecar = start("specs/petstore-3.0.yaml", "echo");
    assert_eq!(
        send(&sidecar, "POST", "/v1/admin/reindex", &[], b"").status,
        403
    );
    let answer = send(
        &sidecar,
        "GET",
        "/v1/pets/123",
        &[("Authorization", "Bearer anything")],
        b"",
    );
    assert_eq!(
        answer.status, 401,
        "a secured operation is never let through unverified: {}",
        answer.body
    );
    assert!(answer.header("www-authenticate").is_some());
}

#[test]
fn json_bodies_are_checked_for_size_media_type_and_schema() {
    let sidecar = start("tests/fixtures/sidecar/notes.yaml", "echo");
    let post = |content_type: &str, body: &[u8]| {
        send(
            &sidecar,
            "POST",
            "/notes",
            &[("Content-Type", content_type)],
            body,
        )
    };
    let valid = post("application/json", br#"{"title": "hello", "tags": ["a"]}"#);
    assert_eq!(valid.status, 200, "{}", valid.body);
    assert_eq!(
        valid.json()["body"],
        r#"{"title": "hello", "tags": ["a"]}"#,
        "the body reaches the upstream unchanged"
    );
    assert_eq!(post("text/plain", b"hello").status, 415);
    assert_eq!(
        post("application/json", b"").status,
        400,
        "a required body is missing"
    );
    let extra = post("application/json", br#"{"title": "x", "isAdmin": true}"#);
    assert_eq!(extra.status, 400, "undeclared properties are refused");
    let problem = extra.json();
    assert_eq!(
        problem["errors"][0]["location"], "body",
        "verbose errors name the place: {problem}"
    );
    assert_eq!(
        post("application/json", br#"{"title": "x", "id": 7}"#).status,
        400,
        "readOnly properties are refused"
    );
    assert_eq!(
        post("application/json", br#"{"title": "x", "title": "y"}"#).status,
        400,
        "repeated keys are refused"
    );
    assert_eq!(
        post("application/json", br#"{"title": "x""#).status,
        400,
        "malformed JSON"
    );
    let big = format!(r#"{{"title": "{}"}}"#, "a".repeat(3000));
    assert_eq!(
        post("application/json", big.as_bytes()).status,
        413,
        "over the 2KiB limit, by Content-Length"
    );
    let chunked = send(
        &sidecar,
        "POST",
        "/notes",
        &[
            ("Content-Type", "application/json"),
            ("Transfer-Encoding", "chunked"),
        ],
        format!("{:x}\r\n{big}\r\n0\r\n\r\n", big.len()).as_bytes(),
    );
    assert_eq!(
        chunked.status, 413,
        "over the limit while streaming, with no Content-Length"
    );
}

#[test]
fn path_and_header_parameters_are_typed_and_validated() {
    let sidecar = start("tests/fixtures/sidecar/notes.yaml", "echo");
    assert_eq!(
        send(&sidecar, "GET", "/notes/7", &[("X-Trace", "abc")], b"").status,
        200
    );
    assert_eq!(
        send(&sidecar, "GET", "/notes/0", &[], b"").status,
        400,
        "below the minimum"
    );
    assert_eq!(
        send(&sidecar, "GET", "/notes/seven", &[], b"").status,
        400,
        "not an integer"
    );
    assert_eq!(
        send(
            &sidecar,
            "GET",
            "/notes/7",
            &[("x-trace", "far-too-long-value")],
            b""
        )
        .status,
        400,
        "headers match case-insensitively"
    );
}

#[test]
fn form_bodies_are_decoded_by_their_encoding_and_validated() {
    let sidecar = start("specs/petstore-3.0.yaml", "echo");
    let subscribe = |body: &str| {
        send(
            &sidecar,
            "POST",
            "/v1/newsletter/subscriptions",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            body.as_bytes(),
        )
    };
    let valid = subscribe("email=a%40example.com&consent=true&topics=adoptions&topics=events");
    assert_eq!(valid.status, 200, "{}", valid.body);
    assert_eq!(
        subscribe("email=a%40example.com&consent=true&isAdmin=1").status,
        400,
        "undeclared fields are refused"
    );
    assert_eq!(
        subscribe("email=not-an-email&consent=true").status,
        400,
        "formats are validated"
    );
    assert_eq!(
        subscribe("email=a%40example.com&consent=true&topics=cats").status,
        400,
        "enums are validated"
    );
    assert_eq!(
        subscribe(&format!(
            "email=a%40example.com&consent=true&x={}",
            "a".repeat(5000)
        ))
        .status,
        413
    );
}

#[test]
fn requests_are_proxied_to_a_real_upstream_process_and_its_absence_is_a_502() {
    // The upstream is another process on loopback (itself a specgate with the echo upstream).
    let upstream = start("tests/fixtures/sidecar/notes.yaml", "echo");
    let front = start(
        "tests/fixtures/sidecar/notes.yaml",
        &format!("http://{}", upstream.address),
    );
    let answer = send(
        &front,
        "POST",
        "/notes",
        &[
            ("Content-Type", "application/json"),
            ("X-Forwarded-For", "6.6.6.6"),
        ],
        br#"{"title": "proxied"}"#,
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let echoed = answer.json();
    assert_eq!(echoed["body"], r#"{"title": "proxied"}"#);
    assert_eq!(echoed["path"], "/notes");
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    // The port of a process that has stopped answers nothing.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let orphan = start(
        "tests/fixtures/sidecar/notes.yaml",
        &format!("http://{closed}"),
    );
    let answer = send(&orphan, "GET", "/notes/1", &[], b"");
    assert_eq!(answer.status, 502, "{}", answer.body);
    assert_eq!(
        answer.header("content-type"),
        Some("application/problem+json")
    );
}

#[test]
fn monitor_mode_forwards_and_counts_violations_and_unknown_routes_can_pass() {
    let sidecar = start_with(
        "tests/fixtures/sidecar/monitor.yaml",
        "echo",
        &["--admin", "127.0.0.1:0"],
    );
    let answer = send(
        &sidecar,
        "GET",
        "/items/not-a-number",
        &[("X-Internal-User", "root")],
        b"",
    );
    assert_eq!(
        answer.status, 200,
        "monitor mode forwards a violation: {}",
        answer.body
    );
    assert!(
        answer.json()["headers"].get("x-internal-user").is_none(),
        "request-headers.remove strips it"
    );
    assert_eq!(
        send(&sidecar, "GET", "/undeclared/route", &[], b"").status,
        200,
        "unknown-routes: allow"
    );
    // Spelled with an encoded unreserved character, a declared route is still that route (checked
    // and counted as getItem), not an undeclared one passed on unchecked.
    assert_eq!(
        send(&sidecar, "GET", "/it%65ms/not-a-number", &[], b"").status,
        200
    );
    let long = format!("/items/{}", "1".repeat(9000));
    assert_eq!(send(&sidecar, "GET", &long, &[], b"").status, 414);
    let admin = sidecar.admin.as_deref().expect("the admin address");
    assert_eq!(send_to(admin, "GET", "/healthz", &[], b"").status, 200);
    assert_eq!(send_to(admin, "GET", "/readyz", &[], b"").status, 200);
    let metrics = send_to(admin, "GET", "/metrics", &[], b"").body;
    assert!(
        metrics.contains(
            "specgate_requests_total{operation=\"getItem\",status=\"200\",decision=\"monitor\"} 2"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("specgate_rejections_total{reason=\"uri-too-long\"} 1"),
        "{metrics}"
    );
}

#[test]
fn plans_reload_on_change_and_on_sighup_without_failing_a_request() {
    reload_under_a_stream_of_requests("multi", &[]);
}

#[test]
fn one_thread_serves_and_reloads_as_many_do() {
    // `--threads 1` runs tokio's single-threaded runtime: plan compiles must not block it.
    reload_under_a_stream_of_requests("single", &["--threads", "1"]);
}

fn reload_under_a_stream_of_requests(name: &str, extra: &[&str]) {
    let dir = std::env::temp_dir().join(format!("specgate-reload-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let spec = dir.join("notes.yaml");
    let original =
        std::fs::read_to_string(repo_root().join("tests/fixtures/sidecar/notes.yaml")).unwrap();
    std::fs::write(&spec, &original).unwrap();
    let mut flags = vec!["--watch"];
    flags.extend_from_slice(extra);
    let sidecar = start_with(spec.to_str().unwrap(), "echo", &flags);
    assert_eq!(send(&sidecar, "GET", "/extra", &[], b"").status, 404);

    // A steady stream of valid requests while the plan changes under it.
    let address = sidecar.address.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let streamer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut sent, mut failed) = (0, 0);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                sent += 1;
                if send_to(&address, "GET", "/notes/7", &[], b"").status != 200 {
                    failed += 1;
                }
            }
            (sent, failed)
        })
    };
    let with_extra = original.replace(
        "paths:\n",
        "paths:\n  /extra:\n    get:\n      responses: {\"200\": {description: ok}}\n",
    );
    std::fs::write(&spec, &with_extra).unwrap();
    let reloaded = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        send(&sidecar, "GET", "/extra", &[], b"").status == 200
    });
    assert!(reloaded, "the changed spec is picked up by --watch");

    // A broken spec leaves the running plan in force.
    std::fs::write(&spec, "openapi: 3.1.0\npaths: [not, a, mapping]\n").unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        send(&sidecar, "GET", "/extra", &[], b"").status,
        200,
        "the old plan still serves"
    );

    // SIGHUP reloads too.
    std::fs::write(&spec, &original).unwrap();
    let _ = Command::new("kill")
        .args(["-HUP", &sidecar.child.id().to_string()])
        .status();
    let reverted = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        send(&sidecar, "GET", "/extra", &[], b"").status == 404
    });
    assert!(reverted, "the reverted spec is in force again");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (sent, failed) = streamer.join().unwrap();
    assert!(sent > 20, "the stream ran ({sent} requests)");
    assert_eq!(
        failed, 0,
        "no request failed during {sent} requests across three reloads"
    );
}

#[test]
fn a_sighup_as_soon_as_the_sidecar_is_ready_reloads_rather_than_stops_it() {
    // Before the fix, the handler was installed by a task that had not always run yet when the
    // sidecar said it was listening (more often with several sidecars starting at once, as here):
    // SIGHUP's default action then ended the process.
    let starts: Vec<_> = (0..3)
        .map(|_| {
            std::thread::spawn(|| {
                for _ in 0..10 {
                    let mut sidecar = start("tests/fixtures/sidecar/notes.yaml", "echo");
                    let _ = Command::new("kill")
                        .args(["-HUP", &sidecar.child.id().to_string()])
                        .status();
                    let reloaded = (0..100).any(|_| {
                        std::thread::sleep(Duration::from_millis(20));
                        sidecar
                            .stderr
                            .lock()
                            .unwrap()
                            .iter()
                            .any(|line| line.starts_with("specgate reloaded"))
                    });
                    assert!(
                        reloaded,
                        "the sidecar reloads rather than stops: {:?}",
                        sidecar.child.try_wait()
                    );
                    assert_eq!(send(&sidecar, "GET", "/notes/7", &[], b"").status, 200);
                }
            })
        })
        .collect();
    for start in starts {
        start.join().expect("every sidecar survived its SIGHUP");
    }
}

/// The value of an unlabelled metric on the sidecar's admin listener.
fn metric(sidecar: &Sidecar, name: &str) -> String {
    let admin = sidecar.admin.as_deref().expect("the admin address");
    let metrics = send_to(admin, "GET", "/metrics", &[], b"").body;
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")).map(str::to_owned))
        .unwrap_or_else(|| panic!("{name} in {metrics}"))
}

#[test]
fn connections_beyond_the_limit_wait_until_one_closes() {
    let sidecar = start_with(
        "tests/fixtures/sidecar/notes.yaml",
        "echo",
        &["--max-connections", "2", "--admin", "127.0.0.1:0"],
    );
    let gauge = |name: &str| metric(&sidecar, name);
    // Two silent connections take both slots (until the header read timeout).
    let first = TcpStream::connect(&sidecar.address).unwrap();
    let _second = TcpStream::connect(&sidecar.address).unwrap();
    let both_taken = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        gauge("specgate_connections_open") == "2"
    });
    assert!(both_taken, "two connections are open");
    assert_eq!(gauge("specgate_connections_max"), "2");

    // A third is left in the listen queue: its request gets no answer yet.
    let mut third = TcpStream::connect(&sidecar.address).unwrap();
    third
        .write_all(b"GET /notes/7 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert!(
        third.read(&mut byte).is_err(),
        "no answer while both slots are taken"
    );

    // Once one closes, the third is accepted and answered.
    drop(first);
    third
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = third.read_to_end(&mut answer);
    let answer = parse_answer(&answer);
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[test]
fn out_of_file_descriptors_the_sidecar_waits_rather_than_spins() {
    let sidecar = start_with_open_files("tests/fixtures/sidecar/notes.yaml", "echo", &[], 40);
    let cpu_seconds = || {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", sidecar.child.id())).unwrap();
        let fields: Vec<u64> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .skip(11)
            .take(2)
            .map(|f| f.parse().unwrap())
            .collect();
        // In clock ticks, which Linux counts at 100 a second (USER_HZ).
        (fields[0] + fields[1]) as f64 / 100.0
    };
    // More connections than descriptors: accept fails until some close.
    let crowd: Vec<TcpStream> = (0..60)
        .map(|_| TcpStream::connect(&sidecar.address).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let before = cpu_seconds();
    std::thread::sleep(Duration::from_secs(1));
    let spent = cpu_seconds() - before;
    assert!(
        spent < 0.3,
        "{spent} s of CPU in 1 s while out of descriptors"
    );
    drop(crowd);
    let served = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        send(&sidecar, "GET", "/notes/7", &[], b"").status == 200
    });
    assert!(served, "the sidecar serves again once descriptors are free");
}

#[test]
fn slow_clients_meet_the_read_timeouts() {
    let sidecar = start_with(
        "tests/fixtures/sidecar/notes.yaml",
        "echo",
        &[
            "--header-read-timeout",
            "400ms",
            "--body-read-timeout",
            "400ms",
        ],
    );
    let connect = || {
        let stream = TcpStream::connect(&sidecar.address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream
    };
    let read_all = |mut stream: TcpStream| {
        let started = std::time::Instant::now();
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        (parse_answer(&raw), raw.is_empty(), started.elapsed())
    };

    // Half a head: the connection is closed, without an answer, at the header timeout.
    let mut head = connect();
    head.write_all(b"GET /notes/7 HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let (_, nothing, waited) = read_all(head);
    assert!(nothing, "no answer to half a head");
    assert!(waited < Duration::from_secs(3), "closed after {waited:?}");

    // A tenth of a body: 408 problem+json at the body timeout.
    let mut body = connect();
    body.write_all(
        b"POST /notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"title\":",
    )
    .unwrap();
    let (answer, _, waited) = read_all(body);
    assert_eq!(answer.status, 408, "{}", answer.body);
    assert_eq!(
        answer.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(
        answer.json()["type"],
        "https://specgate.dev/problems/request-timeout"
    );
    assert!(waited < Duration::from_secs(3), "answered after {waited:?}");

    // An idle keep-alive connection is closed at the header timeout too.
    let mut idle = connect();
    idle.write_all(b"GET /notes/7 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let started = std::time::Instant::now();
    let mut raw = Vec::new();
    let _ = idle.read_to_end(&mut raw);
    assert!(
        String::from_utf8_lossy(&raw).starts_with("HTTP/1.1 200"),
        "answered, then kept open"
    );
    assert!(
        (Duration::from_millis(300)..Duration::from_secs(3)).contains(&started.elapsed()),
        "closed when idle for the header timeout, after {:?}",
        started.elapsed()
    );
}

#[test]
fn a_client_that_stops_reading_its_answer_is_disconnected_after_the_send_timeout() {
    let sidecar = start_with(
        "tests/fixtures/sidecar/blobs.yaml",
        "echo",
        &["--send-timeout", "500ms", "--admin", "127.0.0.1:0"],
    );
    let open = || metric(&sidecar, "specgate_connections_open");
    assert_eq!(open(), "0", "no connection yet");
    // The echo sends the 8 MiB body back: far more than the socket buffers hold while unread.
    let body = vec![b'a'; 8 << 20];
    let mut reader = TcpStream::connect(&sidecar.address).unwrap();
    reader
        .write_all(
            format!(
                "POST /blobs HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .unwrap();
    reader.write_all(&body).unwrap();
    assert_eq!(open(), "1", "the answer is being written");
    let dropped = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        open() == "0"
    });
    assert!(dropped, "the stalled connection is closed");
    // What the client reads is a truncated answer.
    reader
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut received = Vec::new();
    let _ = reader.read_to_end(&mut received);
    assert!(received.starts_with(b"HTTP/1.1 200"));
    assert!(received.len() < body.len(), "{} bytes", received.len());
}

/// A raw HTTP/1.1 upstream on loopback that reads a request and writes `answer` as it is, then
/// closes: for answers no well-behaved server would give.
fn raw_upstream(answer: Vec<u8>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 16 * 1024];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(&answer);
        }
    });
    address
}

#[test]
fn misbehaving_upstream_answers_are_bounded_and_reframed() {
    // A head larger than the header limit (64 KiB): 502, not forwarded.
    let mut huge = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Big: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 500_000));
    huge.extend_from_slice(b"\r\n\r\nok");
    let upstream = format!("http://{}", raw_upstream(huge));
    let sidecar = start("tests/fixtures/sidecar/notes.yaml", &upstream);
    let answer = send(&sidecar, "GET", "/notes/7", &[], b"");
    assert_eq!(answer.status, 502, "{:?}", answer.headers.len());

    // Content-Length beside Transfer-Encoding: the chunked body is forwarded, the length is not.
    let both = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
    let upstream = format!("http://{}", raw_upstream(both.to_vec()));
    let sidecar = start("tests/fixtures/sidecar/notes.yaml", &upstream);
    let answer = send(&sidecar, "GET", "/notes/7", &[], b"");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-length"), None);
    assert_eq!(answer.header("transfer-encoding"), Some("chunked"));
    assert_eq!(answer.body, "2\r\nok\r\n0\r\n\r\n");
}

#[test]
fn sigterm_lets_a_request_in_flight_finish_and_stops_accepting() {
    let mut sidecar = start("tests/fixtures/sidecar/notes.yaml", "echo");
    let mut stream = TcpStream::connect(&sidecar.address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let body = br#"{"title": "in flight"}"#;
    let head = format!(
        "POST /notes HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body[..5]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let _ = Command::new("kill")
        .args(["-TERM", &sidecar.child.id().to_string()])
        .status();
    std::thread::sleep(Duration::from_millis(200));
    stream.write_all(&body[5..]).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "the request in flight finishes: {answer}"
    );
    let status = sidecar.child.wait().unwrap();
    assert!(status.success(), "specgate exits cleanly after SIGTERM");
    assert!(
        TcpStream::connect(&sidecar.address).is_err(),
        "no longer accepting"
    );
}

/// Every style and explode form of the OpenAPI 3.1.1 style table, through the running sidecar.
#[test]
fn every_parameter_style_is_decoded_and_validated() {
    let sidecar = start("tests/fixtures/sidecar/styles.yaml", "echo");
    let status =
        |target: &str, headers: &[(&str, &str)]| send(&sidecar, "GET", target, headers, b"").status;
    // (target, headers, expected status)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], u16);
    let cases: &[Case] = &[
        // path, simple: primitive, array (explode=false), object (explode=true)
        ("/simple/3/1,2,3/R=100,G=200", &[], 200),
        ("/simple/30/1,2,3/R=100,G=200", &[], 400),
        ("/simple/3/1,x,3/R=100,G=200", &[], 400),
        ("/simple/3/1,2,3/R=100,G=999", &[], 400),
        ("/simple/3/1,2,3/R=100,B=2", &[], 400),
        // label: array (explode=false), object (explode=true)
        ("/label/.1,2,3/.R=1.G=2", &[], 200),
        ("/label/1,2,3/.R=1.G=2", &[], 400),
        ("/label/.1,2,3/.R=1.G=x", &[], 400),
        // matrix: array (explode=true), object (explode=false)
        ("/matrix/;ints=1;ints=2", &[], 200),
        ("/matrix/;ints=1;ints=20", &[], 400),
        ("/matrix/;other=1", &[], 400),
        ("/matrix-object/;colour=R,1,G,2", &[], 200),
        ("/matrix-object/;colour=R,1,G", &[], 400),
        // query: form exploded array, form non-exploded array, spaceDelimited, pipeDelimited, deepObject
        (
            "/query?ids=1&ids=2&tags=a,b&sort=name%20age&status=a%7Cb&filter[R]=1&filter[G]=2&flag=true",
            &[],
            200,
        ),
        ("/query?ids=1&ids=10", &[], 400),
        ("/query?tags=a,b,c,d", &[], 400),
        ("/query?tags=a&tags=b", &[], 400),
        ("/query?sort=name%20height", &[], 400),
        ("/query?status=a|z", &[], 400),
        ("/query?filter[R]=1&filter[B]=2", &[], 400),
        ("/query?filter[R][x]=1", &[], 400),
        ("/query?flag=maybe", &[], 400),
        ("/query?flag=true&flag=false", &[], 400),
        // headers (simple) and cookies (form)
        (
            "/query",
            &[
                ("X-Ids", "1,2"),
                ("X-Colour", "R=1,G=2"),
                ("Cookie", "session=abc; prefs=x,y"),
            ],
            200,
        ),
        ("/query", &[("X-Ids", "1,a")], 400),
        ("/query", &[("X-Colour", "R=1,G=300")], 400),
        ("/query", &[("Cookie", "session=far-too-long")], 400),
        ("/query", &[("Cookie", "prefs=a,b,c")], 400),
    ];
    let mut wrong = Vec::new();
    for (target, headers, expected) in cases {
        let got = status(target, headers);
        if got != *expected {
            wrong.push(format!(
                "{target} {headers:?}: expected {expected}, got {got}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn multipart_fields_are_validated_against_the_schema() {
    let sidecar = start("tests/fixtures/sidecar/notes.yaml", "echo");
    let upload = |parts: &[(&str, Option<&str>, Option<&str>, &str)]| {
        let mut body = String::new();
        for (name, file_name, content_type, data) in parts {
            body.push_str("--XYZ\r\n");
            match file_name {
                Some(file) => body.push_str(&format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\n"
                )),
                None => body.push_str(&format!(
                    "Content-Disposition: form-data; name=\"{name}\"\r\n"
                )),
            }
            if let Some(t) = content_type {
                body.push_str(&format!("Content-Type: {t}\r\n"));
            }
            body.push_str(&format!("\r\n{data}\r\n"));
        }
        body.push_str("--XYZ--\r\n");
        send(
            &sidecar,
            "POST",
            "/notes/1/attachments",
            &[("Content-Type", "multipart/form-data; boundary=XYZ")],
            body.as_bytes(),
        )
    };
    let file = (
        "file",
        Some("a.pdf"),
        Some("application/pdf"),
        "%PDF-1.4 ...",
    );
    let ok = upload(&[
        ("caption", None, None, "hello"),
        ("pages", None, None, "3"),
        ("tags", None, None, "a"),
        ("tags", None, None, "b"),
        (
            "meta",
            None,
            Some("application/json"),
            r#"{"source": "scan"}"#,
        ),
        file,
    ]);
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(
        upload(&[file, ("pages", None, None, "30")]).status,
        400,
        "a typed field out of range"
    );
    assert_eq!(
        upload(&[file, ("caption", None, None, "far too long for a caption")]).status,
        400
    );
    assert_eq!(
        upload(&[
            file,
            ("tags", None, None, "a"),
            ("tags", None, None, "b"),
            ("tags", None, None, "c")
        ])
        .status,
        400,
        "too many items"
    );
    assert_eq!(
        upload(&[
            file,
            (
                "meta",
                None,
                Some("application/json"),
                r#"{"source": "scan", "admin": true}"#
            )
        ])
        .status,
        400,
        "a JSON part is validated"
    );
    assert_eq!(
        upload(&[file, ("isAdmin", None, None, "true")]).status,
        400,
        "undeclared fields are refused"
    );
    assert_eq!(
        upload(&[("caption", None, None, "no file")]).status,
        400,
        "a required field is missing"
    );
    let garbage = send(
        &sidecar,
        "POST",
        "/notes/1/attachments",
        &[("Content-Type", "multipart/form-data; boundary=XYZ")],
        b"not multipart at all",
    );
    assert_eq!(garbage.status, 400);

    // Threats: text fields and file names are scanned, file contents are not.
    assert_eq!(
        upload(&[file, ("caption", None, None, "x' OR '1'='1")]).status,
        403,
        "an injection in a text field"
    );
    let traversal = ("file", Some("../../etc/passwd"), Some("text/plain"), "text");
    assert_eq!(
        upload(&[traversal]).status,
        403,
        "a path traversal in a file name"
    );
    let page = (
        "file",
        Some("page.html"),
        Some("text/html"),
        "<script>alert(1)</script>",
    );
    assert_eq!(upload(&[page]).status, 200, "a file's content is its own");
}

#[test]
fn a_slow_upstream_is_a_504_and_oversized_headers_are_a_431() {
    let slow = fixed_upstream(2_000);
    let sidecar = start_with(
        "tests/fixtures/sidecar/notes.yaml",
        &format!("http://{}", slow.address),
        &["--upstream-timeout", "300ms"],
    );
    let started = std::time::Instant::now();
    let answer = send(&sidecar, "GET", "/notes/1", &[], b"");
    assert_eq!(answer.status, 504, "{}", answer.body);
    assert!(
        started.elapsed() < Duration::from_millis(1_500),
        "answered at the timeout, not when the upstream did"
    );
    let huge = "x".repeat(100 * 1024);
    let answer = send(&sidecar, "GET", "/notes/1", &[("X-Huge", &huge)], b"");
    assert_eq!(answer.status, 431, "headers over the limit");
}

/// A runtime for the async clients of these tests.
fn single_threaded_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A client that speaks HTTP/2 without TLS (prior knowledge), and the URI of `path` on `sidecar`.
type Http2Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Empty<bytes::Bytes>,
>;

fn http2_client(sidecar: &Sidecar, path: &str) -> (Http2Client, http::Uri) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let uri = format!("http://{}{path}", sidecar.address).parse().unwrap();
    (client, uri)
}

#[test]
fn http2_without_tls_is_served_and_concurrent_streams_reach_the_upstream_concurrently() {
    // Each client connection has one upstream connection of its own; streams that find it busy
    // go through the shared pool instead of waiting their turn.
    let slow = fixed_upstream(300);
    let sidecar = start(
        "tests/fixtures/sidecar/notes.yaml",
        &format!("http://{}", slow.address),
    );
    let runtime = single_threaded_runtime();
    let started = std::time::Instant::now();
    let statuses = runtime.block_on(async {
        let (client, uri) = http2_client(&sidecar, "/notes/1");
        // One connection first, so that the ten streams below share it.
        let first = client.get(uri.clone()).await.expect("an HTTP/2 answer");
        assert_eq!(first.version(), http::Version::HTTP_2);
        assert_eq!(first.status(), 200);
        let streams: Vec<_> = (0..10)
            .map(|_| {
                let client = client.clone();
                let uri = uri.clone();
                tokio::spawn(async move { client.get(uri).await.map(|r| r.status().as_u16()) })
            })
            .collect();
        let mut statuses = Vec::new();
        for stream in streams {
            statuses.push(stream.await.expect("the stream's task"));
        }
        statuses
    });
    assert!(
        statuses.iter().all(|s| matches!(s, Ok(200))),
        "{statuses:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(2_000),
        "10 streams of 300 ms each took {:?}: they waited for one another",
        started.elapsed()
    );
}

#[test]
fn http2_cookies_reach_an_http1_upstream_as_one_field() {
    let sidecar = start("tests/fixtures/sidecar/notes.yaml", "echo");
    let runtime = single_threaded_runtime();
    let echoed: serde_json::Value = runtime.block_on(async {
        let (client, uri) = http2_client(&sidecar, "/notes/1");
        let request = http::Request::get(uri)
            .header("cookie", "a=1")
            .header("cookie", "b=2")
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        let answer = client.request(request).await.expect("an HTTP/2 answer");
        assert_eq!(answer.version(), http::Version::HTTP_2);
        let body = http_body_util::BodyExt::collect(answer.into_body())
            .await
            .unwrap()
            .to_bytes();
        serde_json::from_slice(&body).unwrap()
    });
    assert_eq!(echoed["headers"]["cookie"], "a=1; b=2", "{echoed}");
}

#[test]
fn a_cancelled_http2_stream_does_not_hold_up_the_next_one() {
    // A stream reset while its request waits on the upstream must not leave the next stream of the
    // same connection queued behind the abandoned answer.
    let slow = fixed_upstream(1_500);
    let sidecar = start_with(
        "tests/fixtures/sidecar/notes.yaml",
        &format!("http://{}", slow.address),
        &["--upstream-timeout", "5s"],
    );
    let runtime = single_threaded_runtime();
    let (status, took) = runtime.block_on(async {
        let (client, uri) = http2_client(&sidecar, "/notes/1");
        let abandoned = {
            let client = client.clone();
            let uri = uri.clone();
            tokio::spawn(async move { client.get(uri).await.map(|r| r.status()) })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        abandoned.abort();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = std::time::Instant::now();
        let status = client.get(uri).await.map(|r| r.status().as_u16());
        (status, started.elapsed())
    });
    assert!(matches!(status, Ok(200)), "{status:?}");
    assert!(
        took < Duration::from_millis(2_500),
        "the next stream took {took:?}: it waited for the abandoned answer first"
    );
}

#[test]
fn an_upstream_that_closes_each_connection_after_answering_loses_no_request() {
    // No `Connection: close` either: the sidecar learns of the close only from the socket.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
            );
        }
    });
    let sidecar = start(
        "tests/fixtures/sidecar/notes.yaml",
        &format!("http://{address}"),
    );
    let mut client = TcpStream::connect(&sidecar.address).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    for i in 0..20 {
        client
            .write_all(b"GET /notes/1 HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let mut answer = Vec::new();
        let mut buffer = [0u8; 4096];
        while !String::from_utf8_lossy(&answer).contains("\r\n\r\n{}") {
            let n = client.read(&mut buffer).unwrap_or_else(|e| {
                panic!(
                    "request {i}: {e}; so far: {}",
                    String::from_utf8_lossy(&answer)
                )
            });
            assert!(n > 0, "request {i}: the sidecar closed the connection");
            answer.extend_from_slice(&buffer[..n]);
        }
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 200"), "request {i}: {answer}");
    }
}

#[test]
fn requests_are_routed_under_the_servers_base_path_and_for_accepted_hosts_only() {
    let sidecar = start("specs/petstore-3.0.yaml", "echo");
    let get =
        |target: &str, host: &str| send(&sidecar, "GET", target, &[("Host", host)], b"").status;
    // `servers: [https://api.petstore.example.com/v1, …]`: paths live under /v1.
    assert_eq!(get("/v1/pets", "api.petstore.example.com"), 200);
    assert_eq!(get("/pets", "api.petstore.example.com"), 404);
    assert_eq!(get("/v2/pets", "api.petstore.example.com"), 404);
    // `hosts`: listed names, a wildcard of one or more labels, any port unless one is named.
    assert_eq!(get("/v1/pets", "API.petstore.example.com:8443"), 200);
    assert_eq!(get("/v1/pets", "eu.staging.petstore.example.com"), 200);
    let other = send(
        &sidecar,
        "GET",
        "/v1/pets",
        &[("Host", "petstore.example.com.evil.org")],
        b"",
    );
    assert_eq!(other.status, 421);
    assert!(
        other.json()["type"]
            .as_str()
            .unwrap()
            .ends_with("/host-not-accepted")
    );

    // `--base-path` for an ingress that strips the prefix: the same operations at the root.
    let stripped = start_with("specs/petstore-3.0.yaml", "echo", &["--base-path", "/"]);
    assert_eq!(send(&stripped, "GET", "/pets", &[], b"").status, 200);
    assert_eq!(send(&stripped, "GET", "/v1/pets", &[], b"").status, 404);
}
