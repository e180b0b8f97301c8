//! A peer of a federated trust domain is verified against that domain's own roots and accepted
//! only where the caller allows its trust domain; a domain Lanyard does not federate with never is.

use lanyard::tls::{Roots, SpiffeClientVerifier, SpiffeServerVerifier, TrustDomain};
use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::ClientCertVerifier;
use std::collections::HashMap;

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn ca(trust_domain: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, format!("{trust_domain} root"));
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ca { cert: params.self_signed(&key).unwrap(), key }
}

fn svid(ca: &Ca, id: &str) -> CertificateDer<'static> {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params.subject_alt_names = vec![SanType::URI(id.try_into().unwrap())];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages =
        vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth, rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    CertificateDer::from(params.signed_by(&key, &ca.cert, &ca.key).unwrap().der().to_vec())
}

fn roots(own: &Ca, federated: &[(&str, &Ca)]) -> std::sync::Arc<Roots> {
    let roots = Roots::new(vec![own.cert.der().clone()]);
    roots.set_federated(
        federated.iter().map(|(td, ca)| (td.to_string(), vec![ca.cert.der().clone()])).collect::<HashMap<_, _>>(),
    );
    roots
}

#[test]
fn a_federated_peer_is_accepted_only_where_the_caller_allows_its_trust_domain() {
    let (a, b, c) = (ca("a.test"), ca("b.test"), ca("c.test"));
    let roots = roots(&a, &[("b.test", &b)]);
    let client = |allowed: &[&str]| SpiffeClientVerifier {
        roots: roots.clone(),
        trust_domain: TrustDomain::new("a.test"),
        allowed_federated: allowed.iter().map(|d| d.to_string()).collect(),
        revocations: Default::default(),
    };
    let server = |allowed: &[&str]| SpiffeServerVerifier {
        roots: roots.clone(),
        trust_domain: TrustDomain::new("a.test"),
        allowed_federated: allowed.iter().map(|d| d.to_string()).collect(),
        revocations: Default::default(),
    };
    let now = UnixTime::now();
    let from_b = svid(&b, "spiffe://b.test/ns/shop/sa/api");
    let name = ServerName::try_from("ignored.example").unwrap();

    assert!(client(&[]).verify_client_cert(&svid(&a, "spiffe://a.test/ns/x/sa/y"), &[], now).is_ok());
    let refused = client(&[]).verify_client_cert(&from_b, &[], now).unwrap_err().to_string();
    assert!(refused.contains("nor in a federated trust domain this caller allows"), "{refused}");
    assert!(client(&["b.test"]).verify_client_cert(&from_b, &[], now).is_ok());
    assert!(server(&["b.test"]).verify_server_cert(&from_b, &[], &name, &[], now).is_ok());
    assert!(server(&[]).verify_server_cert(&from_b, &[], &name, &[], now).is_err());

    let from_c = svid(&c, "spiffe://c.test/x");
    let refused = client(&["b.test", "c.test"]).verify_client_cert(&from_c, &[], now).unwrap_err().to_string();
    assert!(refused.contains("which Lanyard does not federate with"), "{refused}");
    // each trust domain's IDs must chain to that trust domain's own roots
    assert!(client(&["b.test"]).verify_client_cert(&svid(&c, "spiffe://b.test/forged"), &[], now).is_err());
    assert!(client(&["b.test"]).verify_client_cert(&svid(&b, "spiffe://a.test/forged"), &[], now).is_err());
}
