//! TLS termination and mutual TLS through a running sidecar, with certificates made in the test.

use specgate_tests::pki::{Ca, TempDir, http1_client, negotiated_version, send_tls};
use specgate_tests::process::{Sidecar, start_with};

const SPEC: &str = "tests/fixtures/sidecar/mtls.yaml";

/// A CA, the sidecar's certificate from it, and the sidecar started with it (and the CA for clients).
struct Setup {
    ca: Ca,
    dir: TempDir,
    sidecar: Sidecar,
}

fn setup() -> Setup {
    let ca = Ca::new("specgate test CA");
    let server = ca.server("sidecar");
    let dir = TempDir::new("tls");
    let (cert, key) = dir.write_leaf("server", &server);
    let client_ca = dir.write("clients.crt", &ca.pem);
    let sidecar = start_with(
        SPEC,
        "echo",
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--client-ca",
            client_ca.to_str().unwrap(),
        ],
    );
    Setup { ca, dir, sidecar }
}

#[test]
fn tls_12_and_13_are_served_with_hsts_and_the_forwarded_protocol() {
    let s = setup();
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let config = http1_client(&s.ca, None, &[version]);
        assert_eq!(
            negotiated_version(&s.sidecar.address, config.clone()),
            Some(version.version)
        );
        let answer = send_tls(&s.sidecar.address, config, "GET", "/public", &[]).expect("served");
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert!(
            answer
                .header("strict-transport-security")
                .is_some_and(|v| v.starts_with("max-age=")),
            "HSTS over TLS"
        );
        assert_eq!(answer.json()["headers"]["x-forwarded-proto"], "https");
    }
}

#[test]
fn client_certificates_decide_mutual_tls_operations() {
    let s = setup();
    let tls13 = [&rustls::version::TLS13];
    let call = |identity: Option<&specgate_tests::pki::Leaf>, target: &str| {
        send_tls(
            &s.sidecar.address,
            http1_client(&s.ca, identity, &tls13),
            "GET",
            target,
            &[("X-Client-Cert-Subject", "CN=forged")],
        )
    };

    // No certificate: the handshake succeeds, public operations work, mTLS ones are a 401.
    assert_eq!(call(None, "/public").expect("served").status, 200);
    let missing = call(None, "/invoices").expect("served");
    assert_eq!(missing.status, 401, "{}", missing.body);

    // A certificate from the CA with an accepted subject: admitted, its subject forwarded (never the
    // client's own copy of that header).
    let billing = s.ca.client("billing-service", &[], false);
    let ok = call(Some(&billing), "/invoices").expect("served");
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(
        ok.json()["headers"]["x-client-cert-subject"],
        "CN=billing-service"
    );
    let forged = call(Some(&billing), "/public").expect("served");
    assert!(
        forged.json()["headers"]
            .get("x-client-cert-subject")
            .is_none(),
        "a client's own identity header is stripped, even on public operations"
    );

    // Accepted by a SAN DNS name instead of the subject.
    let reports =
        s.ca.client("reports", &["reports.internal.example.com"], false);
    assert_eq!(
        call(Some(&reports), "/invoices").expect("served").status,
        200
    );

    // Verified, but not an accepted subject: 403.
    let intruder = s.ca.client("intruder", &["intruder.example.com"], false);
    let refused = call(Some(&intruder), "/invoices").expect("served");
    assert_eq!(refused.status, 403, "{}", refused.body);

    // Another CA, or an expired certificate: the handshake itself fails.
    let other_ca = Ca::new("another CA");
    let stranger = other_ca.client("billing-service", &[], false);
    assert!(call(Some(&stranger), "/invoices").is_err());
    let expired = s.ca.client("billing-service", &[], true);
    assert!(call(Some(&expired), "/invoices").is_err());
}

#[test]
fn sighup_reloads_the_certificate_for_new_connections() {
    let s = setup();
    let config = http1_client(&s.ca, None, &[&rustls::version::TLS13]);
    assert_eq!(
        send_tls(&s.sidecar.address, config.clone(), "GET", "/public", &[])
            .expect("served")
            .status,
        200
    );
    // Replace the certificate with one from a new CA: after SIGHUP, clients trusting only the old CA
    // fail and clients trusting the new one succeed.
    let next_ca = Ca::new("next CA");
    let next = next_ca.server("sidecar-next");
    s.dir.write_leaf("server", &next);
    let _ = std::process::Command::new("kill")
        .args(["-HUP", &s.sidecar.child.id().to_string()])
        .status();
    let new_config = http1_client(&next_ca, None, &[&rustls::version::TLS13]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if send_tls(
            &s.sidecar.address,
            new_config.clone(),
            "GET",
            "/public",
            &[],
        )
        .is_ok()
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the new certificate was never served"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(send_tls(&s.sidecar.address, config, "GET", "/public", &[]).is_err());
}
