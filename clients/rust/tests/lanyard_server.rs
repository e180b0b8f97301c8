//! Only the Lanyard server of the trust domain, spiffe://<trust domain>/lanyard/server, is Lanyard:
//! every workload certificate of the trust domain chains to the same roots and has serverAuth, so
//! a workload that answers at Lanyard's address must not get the join token, a renewal CSR, or a
//! channel to mint tokens on. The servers here are real gRPC over real TLS, with certificates of a
//! test CA; one listener whose presented certificate the test swaps, so the client's address stays.

use lanyard::identity::{Config, Identity, Trust};
use lanyard::pb::lanyard::v1 as pb;
use lanyard::tls::CurrentCert;
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, PublicKeyData, SanType, SignatureAlgorithm,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::{Arc, Mutex};
use x509_parser::prelude::FromDer;

const TD: &str = "lanyard.test";
const WORKLOAD: &str = "spiffe://lanyard.test/ns/app/sa/web";
const TOKEN: &str = "the-secret-join-token";

/// A test CA of one trust domain.
struct Ca {
    cert: Certificate,
    key: KeyPair,
}

impl Ca {
    fn new() -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "lanyard.test root");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        Ca { cert: params.self_signed(&key).unwrap(), key }
    }

    /// An SVID for `id` with serverAuth and clientAuth, as Lanyard issues every workload's.
    fn svid(&self, id: &str, key: &impl PublicKeyData) -> CertificateDer<'static> {
        let mut params = CertificateParams::default();
        params.subject_alt_names = vec![SanType::URI(id.try_into().unwrap())];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        CertificateDer::from(params.signed_by(key, &self.cert, &self.key).unwrap().der().to_vec())
    }

    /// Makes `server` present an SVID for `id` from now on.
    fn present(&self, server: &CurrentCert, id: &str) {
        let key = KeyPair::generate().unwrap();
        server
            .set(vec![self.svid(id, &key)], PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())))
            .unwrap();
    }
}

/// The public key of a CSR, for rcgen to sign.
struct CsrKey(Vec<u8>);

impl PublicKeyData for CsrKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }
    fn algorithm(&self) -> &SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

/// A CertificateService that records what reaches it and issues WORKLOAD for any CSR.
#[derive(Clone)]
struct Fake {
    ca: Arc<Ca>,
    received: Arc<Mutex<Vec<String>>>,
}

impl Fake {
    /// WORKLOAD's certificate for the CSR's key (None for what is no CSR).
    fn issue(&self, csr: &[u8]) -> Option<pb::CertificateResponse> {
        let (_, csr) = x509_parser::certification_request::X509CertificationRequest::from_der(csr).ok()?;
        let key = CsrKey(csr.certification_request_info.subject_pki.subject_public_key.data.to_vec());
        Some(pb::CertificateResponse {
            spiffe_id: WORKLOAD.into(),
            certificate: self.ca.svid(WORKLOAD, &key).to_vec(),
            trust_bundle: vec![self.ca.cert.der().to_vec()],
            ..Default::default()
        })
    }

    fn received(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }
}

#[tonic::async_trait]
impl pb::certificate_service_server::CertificateService for Fake {
    async fn issue_certificate(
        &self,
        request: tonic::Request<pb::IssueCertificateRequest>,
    ) -> Result<tonic::Response<pb::CertificateResponse>, tonic::Status> {
        let request = request.into_inner();
        let token = match request.attestation.and_then(|a| a.kind) {
            Some(pb::attestation::Kind::JoinToken(t)) => t.token,
            _ => String::new(),
        };
        self.received.lock().unwrap().push(format!("issue with {token}"));
        self.issue(&request.csr).map(tonic::Response::new).ok_or_else(|| tonic::Status::invalid_argument("no CSR"))
    }

    async fn renew_certificate(
        &self,
        request: tonic::Request<pb::RenewCertificateRequest>,
    ) -> Result<tonic::Response<pb::CertificateResponse>, tonic::Status> {
        self.received.lock().unwrap().push("renew".into());
        let csr = request.into_inner().csr;
        self.issue(&csr).map(tonic::Response::new).ok_or_else(|| tonic::Status::invalid_argument("no CSR"))
    }
}

/// A fake Lanyard at 127.0.0.1:port presenting whatever `presented` holds at each handshake.
async fn serve(ca: Arc<Ca>) -> (String, Arc<CurrentCert>, Fake) {
    let presented = CurrentCert::new();
    let mut config = rustls::ServerConfig::builder_with_provider(lanyard::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(presented.clone());
    config.alpn_protocols = vec![b"h2".to_vec()];
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("localhost:{}", listener.local_addr().unwrap().port());
    let fake = Fake { ca, received: Arc::default() };
    let server = tonic::transport::Server::builder()
        .add_service(pb::certificate_service_server::CertificateServiceServer::new(fake.clone()))
        .serve_with_incoming(lanyard::transport::incoming(listener, config));
    tokio::spawn(server);
    (address, presented, fake)
}

async fn bootstrap(address: &str, ca: &Ca) -> Result<Identity, lanyard::Error> {
    Identity::bootstrap(Config {
        lanyard: address.to_owned(),
        trust: Trust::BundlePem(ca.cert.pem()),
        join_token: TOKEN.into(),
        ttl: None,
    })
    .await
}

#[tokio::test]
async fn a_workload_of_the_trust_domain_is_not_lanyard_and_never_gets_the_join_token() {
    let ca = Arc::new(Ca::new());
    let (address, presented, fake) = serve(ca.clone()).await;
    ca.present(&presented, "spiffe://lanyard.test/ns/evil/sa/api");

    let err = bootstrap(&address, &ca).await.err().expect("bootstrap with a workload posing as Lanyard");

    assert!(err.to_string().contains("not spiffe://lanyard.test/lanyard/server"), "{err}");
    assert!(fake.received().is_empty(), "the impostor received {:?}", fake.received());
    assert!(!format!("{err} {err:?}").contains(TOKEN), "{err:?}");
}

#[tokio::test]
async fn the_lanyard_server_is_exactly_that_path_in_the_trust_domain() {
    let ca = Arc::new(Ca::new());
    let (address, presented, fake) = serve(ca.clone()).await;
    for id in [
        "spiffe://lanyard.test/ns/evil/lanyard/server",
        "spiffe://lanyard.test/lanyard/server/evil",
        "spiffe://lanyard.test/lanyard",
        "spiffe://lanyard.test/lanyard/server/",
    ] {
        ca.present(&presented, id);
        let err = bootstrap(&address, &ca).await.err().unwrap_or_else(|| panic!("{id} was taken for Lanyard"));
        assert!(err.to_string().contains(&format!("{id}, not spiffe://lanyard.test/lanyard/server")), "{err}");
        assert!(fake.received().is_empty(), "{id} received {:?}", fake.received());
    }
}

#[tokio::test]
async fn after_bootstrap_only_the_lanyard_server_of_our_trust_domain_is_lanyard() {
    let ca = Arc::new(Ca::new());
    let (address, presented, fake) = serve(ca.clone()).await;
    // The real thing first: the join token goes to it and the identity is issued.
    ca.present(&presented, &format!("spiffe://{TD}/lanyard/server"));
    let identity = bootstrap(&address, &ca).await.expect("bootstrap with the Lanyard server");
    assert_eq!(identity.svid().spiffe_id, WORKLOAD);
    assert_eq!(identity.trust_domain(), TD);
    identity.renew().await.expect("renewal with the Lanyard server");
    assert_eq!(fake.received(), [format!("issue with {TOKEN}"), "renew".to_string()]);

    // Then impostors at the same address, with certificates of the same CA: a workload, and a
    // "Lanyard server" of another trust domain. Neither gets a renewal CSR nor a call on the
    // channels tokens and streams use.
    for id in ["spiffe://lanyard.test/ns/evil/sa/api", "spiffe://other.test/lanyard/server"] {
        fake.received.lock().unwrap().clear();
        ca.present(&presented, id);
        assert!(identity.renew().await.is_err(), "{id} renewed us");
        assert!(identity.last_renewal_error().is_some());
        let held = identity.held().unwrap();
        for channel in [identity.lanyard_channel().unwrap(), identity.lanyard_channel_presenting(&held).unwrap()] {
            let call = pb::certificate_service_client::CertificateServiceClient::new(channel)
                .renew_certificate(pb::RenewCertificateRequest::default())
                .await;
            assert!(call.is_err(), "{id} answered");
        }
        assert!(fake.received().is_empty(), "{id} received {:?}", fake.received());
    }

    // And the Lanyard server again.
    ca.present(&presented, &format!("spiffe://{TD}/lanyard/server"));
    identity.renew().await.expect("renewal with the Lanyard server");
    assert_eq!(identity.renewals(), 2);
}
