//! [`Identity::refuse_revoked`] over real TLS handshakes on real sockets: identities made from real
//! certificate chains, revocations from a real [`RevocationWatcher`] that caught up with a stream.

use super::*;
use crate::revocation::{revoked, RevocationWatcher};
use pb::revocation_target::Target;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

const SERVER: &str = "spiffe://a.test/ns/ledger/sa/api";
const CLIENT: &str = "spiffe://a.test/ns/shop/sa/caller";
const REVOKED: &str = "invalid peer certificate: Revoked";
const REVOKED_ALERT: &str = "received fatal alert: CertificateRevoked";
const NOT_LOADED: &str = "revocations are not loaded yet";

struct Ca {
    trust_domain: String,
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn ca(trust_domain: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, format!("{trust_domain} root"));
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ca { trust_domain: trust_domain.into(), cert: params.self_signed(&key).unwrap(), key }
}

/// An identity holding an SVID for `id` with `serial`, issued by `ca`, that trusts the roots of
/// `federated` for their trust domains (as Lanyard's trust bundle would give them).
fn identity(ca: &Ca, id: &str, serial: u64, federated: &[&Ca]) -> Identity {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params.serial_number = Some(serial.into());
    params.subject_alt_names = vec![SanType::URI(id.try_into().unwrap())];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages =
        vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth, rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let leaf = CertificateDer::from(params.signed_by(&key, &ca.cert, &ca.key).unwrap().der().to_vec());
    let root = ca.cert.der().clone();
    let inner = Inner::new("localhost:1".into(), None, vec![root.clone()], "", None);
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    inner.install_parts(&key, vec![leaf], private, vec![root]).unwrap();
    inner
        .roots
        .set_federated(federated.iter().map(|ca| (ca.trust_domain.clone(), vec![ca.cert.der().clone()])).collect());
    Identity { inner: Arc::new(inner) }
}

fn caught_up(events: &[pb::RevocationEvent]) -> Arc<RevocationWatcher> {
    Arc::new(RevocationWatcher::caught_up_with(events))
}

/// One handshake over a TCP socket: the server's outcome and the client's. The server sends a byte
/// once it accepted and the client reads it, so a client the server refused hears of it (in TLS
/// 1.3 the client's handshake ends before the server has checked its certificate).
async fn handshake(
    server: rustls::ServerConfig,
    client: rustls::ClientConfig,
) -> (Result<(), String>, Result<(), String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(server));
    let serving = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(tcp).await.map_err(|e| e.to_string())?;
        tls.write_all(b"k").await.map_err(|e| e.to_string())?;
        tls.flush().await.map_err(|e| e.to_string())
    });
    let tcp = TcpStream::connect(address).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let called = async {
        let mut tls = TlsConnector::from(Arc::new(client)).connect(name, tcp).await.map_err(|e| e.to_string())?;
        let mut byte = [0u8; 1];
        tls.read_exact(&mut byte).await.map_err(|e| e.to_string()).map(|_| ())
    }
    .await;
    (serving.await.unwrap(), called)
}

async fn assert_accepted(server: rustls::ServerConfig, client: rustls::ClientConfig) {
    let (served, called) = handshake(server, client).await;
    assert_eq!((served, called), (Ok(()), Ok(())));
}

/// The client refused the server: its error says why, the server got the alert.
async fn assert_server_refused(server: rustls::ServerConfig, client: rustls::ClientConfig, why: &str, alert: &str) {
    let (served, called) = handshake(server, client).await;
    let called = called.expect_err("the client accepted the server");
    assert!(called.contains(why), "{called}");
    let served = served.expect_err("the server saw no refusal");
    assert!(served.contains(alert), "{served}");
}

/// The server refused the client: its error says why, the client got the alert.
async fn assert_client_refused(server: rustls::ServerConfig, client: rustls::ClientConfig, why: &str, alert: &str) {
    let (served, called) = handshake(server, client).await;
    let served = served.expect_err("the server accepted the client");
    assert!(served.contains(why), "{served}");
    let called = called.expect_err("the client saw no refusal");
    assert!(called.contains(alert), "{called}");
}

/// Every client config an identity hands out (federated-allowing ones included).
fn client_configs(identity: &Identity) -> Vec<rustls::ClientConfig> {
    let held = identity.held().unwrap();
    vec![
        identity.client_config(),
        identity.client_config_allowing(&["b.test"]),
        identity.client_config_for(&held),
        identity.client_config_for_allowing(&held, &["b.test"]),
    ]
}

fn server_configs(identity: &Identity) -> Vec<rustls::ServerConfig> {
    vec![identity.server_config(), identity.server_config_allowing(&["b.test"])]
}

#[tokio::test]
async fn a_client_refuses_a_revoked_server_in_configs_made_before_and_after_the_opt_in() {
    let a = ca("a.test");
    let (server, client) = (identity(&a, SERVER, 1, &[]), identity(&a, CLIENT, 2, &[]));
    let before = client_configs(&client);
    client.refuse_revoked(caught_up(&[revoked(1, Target::SpiffeId(SERVER.into()), "")]));
    for config in before.into_iter().chain(client_configs(&client)) {
        assert_server_refused(server.server_config(), config, REVOKED, REVOKED_ALERT).await;
    }
    let other = identity(&a, "spiffe://a.test/ns/ledger/sa/replica", 3, &[]);
    assert_accepted(other.server_config(), client.client_config()).await;
}

#[tokio::test]
async fn a_server_refuses_a_revoked_client_in_configs_made_before_and_after_the_opt_in() {
    let a = ca("a.test");
    let (server, client) = (identity(&a, SERVER, 1, &[]), identity(&a, CLIENT, 2, &[]));
    let before = server_configs(&server);
    server.refuse_revoked(caught_up(&[revoked(1, Target::SpiffeId(CLIENT.into()), "")]));
    for config in before.into_iter().chain(server_configs(&server)) {
        assert_client_refused(config, client.client_config(), REVOKED, REVOKED_ALERT).await;
    }
    let other = identity(&a, "spiffe://a.test/ns/shop/sa/other", 3, &[]);
    assert_accepted(server.server_config(), other.client_config()).await;
}

#[tokio::test]
async fn a_revoked_serial_refuses_that_certificate_while_another_of_the_same_identity_passes() {
    let a = ca("a.test");
    let (server, renewed_server) = (identity(&a, SERVER, 0x0a, &[]), identity(&a, SERVER, 0x0b, &[]));
    let (client, renewed_client) = (identity(&a, CLIENT, 0x1a, &[]), identity(&a, CLIENT, 0x1b, &[]));
    // Upper case with a leading zero, as a serial may be written: the watcher normalizes it.
    let revocations =
        caught_up(&[revoked(1, Target::Serial("0A".into()), ""), revoked(2, Target::Serial(client.svid().serial), "")]);
    server.refuse_revoked(revocations.clone());
    renewed_server.refuse_revoked(revocations.clone());
    client.refuse_revoked(revocations.clone());
    renewed_client.refuse_revoked(revocations);

    assert_client_refused(renewed_server.server_config(), client.client_config(), REVOKED, REVOKED_ALERT).await;
    assert_accepted(renewed_server.server_config(), renewed_client.client_config()).await;
    assert_server_refused(server.server_config(), renewed_client.client_config(), REVOKED, REVOKED_ALERT).await;
}

#[tokio::test]
async fn every_peer_is_refused_until_the_revocations_are_loaded() {
    let a = ca("a.test");
    let (server, client) = (identity(&a, SERVER, 1, &[]), identity(&a, CLIENT, 2, &[]));
    // Never spawned, so never caught up: nothing is known to be revoked, and nothing passes.
    let not_loaded: Arc<RevocationWatcher> = Arc::default();
    server.refuse_revoked(not_loaded.clone());
    assert_client_refused(server.server_config(), client.client_config(), NOT_LOADED, "received fatal alert").await;
    client.refuse_revoked(not_loaded);
    server.refuse_revoked(caught_up(&[]));
    assert_server_refused(server.server_config(), client.client_config(), NOT_LOADED, "received fatal alert").await;

    client.refuse_revoked(caught_up(&[]));
    assert_accepted(server.server_config(), client.client_config()).await;
}

#[tokio::test]
async fn a_federated_trust_domains_revocation_refuses_only_its_own_peers() {
    let (a, b, c) = (ca("a.test"), ca("b.test"), ca("c.test"));
    let server = identity(&a, SERVER, 1, &[&b, &c]);
    // Three clients whose certificates have the same serial, one in each trust domain.
    let from_a = identity(&a, CLIENT, 7, &[&b, &c]);
    let from_b = identity(&b, "spiffe://b.test/ns/shop/sa/caller", 7, &[&a]);
    let from_c = identity(&c, "spiffe://c.test/ns/shop/sa/caller", 7, &[&a]);
    let from_c8 = identity(&c, "spiffe://c.test/ns/shop/sa/caller", 8, &[&a]);
    // b.test revoked serial 7, and Lanyard passed it on; our own Lanyard revoked serial 8.
    server.refuse_revoked(caught_up(&[
        revoked(1, Target::Serial("7".into()), "b.test"),
        revoked(2, Target::Serial("8".into()), ""),
    ]));
    let allowing = || server.server_config_allowing(&["b.test", "c.test"]);

    assert_client_refused(allowing(), from_b.client_config_allowing(&["a.test"]), REVOKED, REVOKED_ALERT).await;
    assert_accepted(allowing(), from_c.client_config_allowing(&["a.test"])).await;
    assert_accepted(allowing(), from_a.client_config()).await;
    // Our own Lanyard's revocations refuse every trust domain's peers.
    assert_client_refused(allowing(), from_c8.client_config_allowing(&["a.test"]), REVOKED, REVOKED_ALERT).await;

    // The same on the client side: a b.test server with serial 7 is refused, a c.test one is not.
    let b_server = identity(&b, "spiffe://b.test/ns/ledger/sa/api", 7, &[&a]);
    let c_server = identity(&c, "spiffe://c.test/ns/ledger/sa/api", 7, &[&a]);
    from_a.refuse_revoked(caught_up(&[revoked(1, Target::Serial("7".into()), "b.test")]));
    let client = || from_a.client_config_allowing(&["b.test", "c.test"]);
    assert_server_refused(b_server.server_config_allowing(&["a.test"]), client(), REVOKED, REVOKED_ALERT).await;
    assert_accepted(c_server.server_config_allowing(&["a.test"]), client()).await;
}

#[tokio::test]
async fn without_the_opt_in_revoked_peers_pass_the_handshake_as_before() {
    let a = ca("a.test");
    let (server, client) = (identity(&a, SERVER, 1, &[]), identity(&a, CLIENT, 2, &[]));
    // The revocations exist, but neither side was asked to refuse by them.
    let _revocations =
        caught_up(&[revoked(1, Target::SpiffeId(SERVER.into()), ""), revoked(2, Target::SpiffeId(CLIENT.into()), "")]);
    for config in client_configs(&client) {
        assert_accepted(server.server_config(), config).await;
    }
    assert_accepted(server.server_config_allowing(&["b.test"]), client.client_config()).await;
}
