//! The watcher's CRL fallback against real CRLs: signed by the issuing CA, forged by a CA of the
//! same name, stale, and not a CRL at all, served over HTTP while the stream is down.

use lanyard::revocation::{verified_serials, CrlFallback, RevocationWatcher};
use lanyard::verify::RevocationSet;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName, DnType, IsCa, KeyIdMethod,
    KeyPair, KeyUsagePurpose, RevokedCertParams, SerialNumber,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ca { cert: params.self_signed(&key).unwrap(), key }
}

fn crl(ca: &Ca, next_update: OffsetDateTime, serials: &[&[u8]]) -> Vec<u8> {
    let now = OffsetDateTime::now_utc();
    CertificateRevocationListParams {
        this_update: now - time::Duration::minutes(1),
        next_update,
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: serials
            .iter()
            .map(|s| RevokedCertParams {
                serial_number: SerialNumber::from_slice(s),
                revocation_time: now,
                reason_code: None,
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&ca.cert, &ca.key)
    .unwrap()
    .der()
    .to_vec()
}

fn in_an_hour() -> OffsetDateTime {
    OffsetDateTime::now_utc() + time::Duration::hours(1)
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn only_a_fresh_crl_signed_by_an_issuing_ca_counts() {
    let issuing = ca("issuing CA");
    let impostor = ca("issuing CA");
    let trusted = vec![issuing.cert.der().to_vec()];

    let good =
        verified_serials(&crl(&issuing, in_an_hour(), &[&[0xab, 0xc1], &[0x0f, 0x00]]), &trusted, now()).unwrap();
    assert_eq!(good, ["abc1".to_string(), "f00".to_string()].into_iter().collect());

    let forged = verified_serials(&crl(&impostor, in_an_hour(), &[&[0xde, 0xad]]), &trusted, now());
    assert_eq!(forged.unwrap_err(), "the CRL is not signed by a trusted issuing CA");
    let stale = OffsetDateTime::now_utc() - time::Duration::seconds(5);
    assert!(verified_serials(&crl(&issuing, stale, &[&[0xbe, 0xef]]), &trusted, now()).unwrap_err().contains("stale"));
    assert_eq!(verified_serials(b"not a CRL", &trusted, now()).unwrap_err(), "not a DER CRL");
}

/// Serves `files` by path over plain HTTP/1.1, one response per connection.
async fn serve(files: HashMap<String, Vec<u8>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let files = Arc::new(files);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let files = files.clone();
            tokio::spawn(async move {
                let mut request = vec![0u8; 4096];
                let n = socket.read(&mut request).await.unwrap_or(0);
                let line = String::from_utf8_lossy(&request[..n]).lines().next().unwrap_or_default().to_string();
                let path = line.split(' ').nth(1).unwrap_or_default().to_string();
                let (status, body) = match files.get(&path) {
                    Some(body) => ("200 OK", body.clone()),
                    None => ("404 Not Found", Vec::new()),
                };
                let head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
            });
        }
    });
    base
}

#[tokio::test]
async fn while_the_stream_is_down_the_crl_serials_are_refused() {
    let issuing = ca("issuing CA");
    let impostor = ca("issuing CA");
    let base = serve(HashMap::from([
        ("/crl/good".to_string(), crl(&issuing, in_an_hour(), &[&[0xab, 0xc1]])),
        ("/crl/forged".to_string(), crl(&impostor, in_an_hour(), &[&[0xde, 0xad]])),
    ]))
    .await;
    let urls: Vec<String> = ["/crl/good", "/crl/forged", "/crl/missing"].iter().map(|p| format!("{base}{p}")).collect();
    let trusted = vec![issuing.cert.der().to_vec()];
    let fallback = CrlFallback::new(move || urls.clone(), move || trusted.clone());
    // No Lanyard to watch: the stream is down from the start.
    let watcher = RevocationWatcher::spawn_with_crls(
        || Err(lanyard::Error::Transient("no server in this test".into())),
        Some(fallback),
    );

    let deadline = SystemTime::now() + Duration::from_secs(10);
    while !watcher.is_revoked_serial("abc1") {
        assert!(SystemTime::now() < deadline, "the CRL's serial is not refused");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!watcher.is_live());
    assert!(watcher.is_revoked_serial("00ABC1"), "the serial in another spelling");
    assert!(!watcher.is_revoked_serial("dead"), "a CRL forged by a same-named CA counts");
    assert!(!watcher.is_revoked_serial("abc2"));
}
