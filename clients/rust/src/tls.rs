//! rustls configuration that always presents the current certificate and trusts the current roots,
//! so renewal and CA rotation need no restart. Peers are SPIFFE workloads: the chain must lead to a
//! root of the trust bundle and the leaf must carry a SPIFFE ID of our trust domain; DNS names are
//! not used to identify them. A peer of a federated trust domain is accepted only where the caller
//! allows that trust domain, and only with a chain to that trust domain's own roots. Lanyard itself
//! is a server like no workload: its leaf must name exactly spiffe://<trust domain>/lanyard/server,
//! since every workload certificate of the trust domain is also good for serverAuth.
//! Once the workload opts in ([`PeerRevocations::refuse`]), a peer whose SPIFFE ID or certificate is
//! revoked is refused at the handshake too (Lanyard's server is not: the revocations come from it).

use crate::verify::RevocationSet;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::ResolvesClientCert;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// The certificate this workload presents, swapped atomically on renewal.
#[derive(Debug)]
pub struct CurrentCert {
    key: RwLock<Option<Arc<CertifiedKey>>>,
}

impl CurrentCert {
    pub fn new() -> Arc<CurrentCert> {
        Arc::new(CurrentCert { key: RwLock::new(None) })
    }

    /// Presents `chain` (leaf first) with `key` from now on.
    pub fn set(&self, chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Result<(), String> {
        let signing = provider().key_provider.load_private_key(key).map_err(|e| e.to_string())?;
        *self.key.write().expect("lock") = Some(Arc::new(CertifiedKey::new(chain, signing)));
        Ok(())
    }

    /// Presents nothing from now on: handshakes that need our certificate fail.
    pub fn clear(&self) {
        *self.key.write().expect("lock") = None;
    }

    fn get(&self) -> Option<Arc<CertifiedKey>> {
        self.key.read().expect("lock").clone()
    }

    /// The chain presented now (leaf first); empty before the first certificate.
    pub fn chain(&self) -> Vec<CertificateDer<'static>> {
        self.get().map(|k| k.cert.clone()).unwrap_or_default()
    }

    /// The certificate presented now, with its key, to present it again later; None before the first.
    pub fn held(&self) -> Option<HeldCert> {
        self.get().map(HeldCert)
    }
}

/// One certificate this workload holds, with its key: what a connection that carries tokens
/// presents for its whole life, and what those tokens are bound to (their cnf is its thumbprint).
#[derive(Debug, Clone)]
pub struct HeldCert(Arc<CertifiedKey>);

impl HeldCert {
    /// The leaf certificate (DER).
    pub fn leaf(&self) -> &[u8] {
        self.0.cert.first().map(|c| c.as_ref()).unwrap_or_default()
    }

    /// The RFC 8705 x5t#S256 of the leaf: what a token bound to it carries in cnf.
    pub fn thumbprint(&self) -> String {
        crate::verify::thumbprint(self.leaf())
    }

    /// The leaf's serial, lower-case hex.
    pub fn serial(&self) -> String {
        crate::verify::serial_hex(self.leaf()).unwrap_or_default()
    }

    /// The leaf's notAfter.
    pub fn not_after(&self) -> std::time::SystemTime {
        let secs = x509_parser::parse_x509_certificate(self.leaf())
            .map(|(_, c)| c.validity().not_after.timestamp().max(0) as u64)
            .unwrap_or(0);
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs)
    }
}

impl ResolvesClientCert for HeldCert {
    fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

impl ResolvesServerCert for CurrentCert {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.get()
    }
}

impl ResolvesClientCert for CurrentCert {
    fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        self.get()
    }

    fn has_certs(&self) -> bool {
        self.get().is_some()
    }
}

/// The trusted roots (DER), replaced when the trust bundle changes, and the roots of the trust
/// domains Lanyard federates with (its federated_bundles), by trust domain.
#[derive(Debug, Default)]
pub struct Roots {
    roots: RwLock<Vec<CertificateDer<'static>>>,
    federated: RwLock<HashMap<String, Vec<CertificateDer<'static>>>>,
}

impl Roots {
    pub fn new(roots: Vec<CertificateDer<'static>>) -> Arc<Roots> {
        Arc::new(Roots { roots: RwLock::new(roots), federated: RwLock::default() })
    }

    /// Replaces the federated trust domains' roots (a domain without roots is left out).
    pub fn set_federated(&self, federated: HashMap<String, Vec<CertificateDer<'static>>>) {
        *self.federated.write().expect("lock") = federated.into_iter().filter(|(_, r)| !r.is_empty()).collect();
    }

    /// The roots of one federated trust domain, if Lanyard federates with it.
    pub fn federated(&self, trust_domain: &str) -> Option<Vec<CertificateDer<'static>>> {
        self.federated.read().expect("lock").get(trust_domain).cloned()
    }

    pub fn set(&self, roots: Vec<CertificateDer<'static>>) {
        if !roots.is_empty() {
            *self.roots.write().expect("lock") = roots;
        }
    }

    pub fn get(&self) -> Vec<CertificateDer<'static>> {
        self.roots.read().expect("lock").clone()
    }

    /// Checks a chain for the given usage, and that the leaf carries a SPIFFE ID in `trust_domain`
    /// (any, while it is not known yet) or in one of the federated trust domains in `allowed`, to
    /// whose own roots it must then chain; returns the SPIFFE ID.
    pub(crate) fn verify(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
        usage: webpki::KeyUsage,
        trust_domain: &TrustDomain,
        allowed: &[String],
    ) -> Result<String, rustls::Error> {
        let id = spiffe_id(end_entity).ok_or_else(|| rustls::Error::General(NOT_AN_SVID.into()))?;
        let domain = trust_domain.get();
        let peer_domain = trust_domain_of(&id).to_owned();
        let roots = if domain.is_empty() || peer_domain == domain {
            self.get()
        } else if allowed.contains(&peer_domain) {
            self.federated(&peer_domain).ok_or_else(|| {
                rustls::Error::General(format!(
                    "{id} is in trust domain {peer_domain}, which Lanyard does not federate with"
                ))
            })?
        } else {
            return Err(rustls::Error::General(format!(
                "{id} is not in trust domain {domain} (nor in a federated trust domain this caller allows)"
            )));
        };
        let anchors: Vec<_> =
            roots.iter().filter_map(|r| webpki::anchor_from_trusted_cert(r).ok().map(|a| a.to_owned())).collect();
        let cert = webpki::EndEntityCert::try_from(end_entity)
            .map_err(|e| rustls::Error::General(format!("bad certificate: {e}")))?;
        cert.verify_for_usage(webpki::ALL_VERIFICATION_ALGS, &anchors, intermediates, now, usage, None, None)
            .map_err(|e| rustls::Error::General(format!("certificate not trusted: {e}")))?;
        Ok(id)
    }
}

/// The revocations a workload's peer verifiers refuse peers by: none until it opts in, then one set
/// shared by every config it made, before or after. A peer is refused when its SPIFFE ID is revoked,
/// or its leaf's serial by our Lanyard or by its own trust domain's (the set scopes federated
/// revocations); and every peer is, until the set has loaded the revocations in force, since a
/// revoked one could not be told apart.
#[derive(Default)]
pub struct PeerRevocations(RwLock<Option<Arc<dyn RevocationSet>>>);

impl PeerRevocations {
    /// Refuses, from now on, the peers `revocations` says are revoked (replacing any set given before).
    pub fn refuse(&self, revocations: Arc<dyn RevocationSet>) {
        *self.0.write().expect("lock") = Some(revocations);
    }

    /// Refuses the peer `id`, whose leaf is `end_entity`, if it is revoked or the revocations are not
    /// loaded. A revoked peer gets the certificate_revoked alert; the log says which revocation.
    pub(crate) fn check(&self, id: &str, end_entity: &[u8]) -> Result<(), rustls::Error> {
        let Some(revocations) = self.0.read().expect("lock").clone() else { return Ok(()) };
        if !revocations.is_loaded() {
            // Not the peer's fault, and over once the watcher has caught up: retryable.
            return Err(rustls::Error::General(format!(
                "the peer {id} is refused: revocations are not loaded yet (the revocation stream has not caught up \
                 since start); retry shortly"
            )));
        }
        let revoked = if revocations.is_revoked_identity(id) {
            Some(format!("identity {id}"))
        } else {
            crate::verify::serial_hex(end_entity)
                .filter(|serial| revocations.is_revoked_serial_of(serial, id))
                .map(|serial| format!("certificate {serial}"))
        };
        match revoked {
            Some(what) => {
                tracing::warn!("the peer {id} is refused at the handshake: {what} is revoked");
                Err(CertificateError::Revoked.into())
            }
            None => Ok(()),
        }
    }
}

impl std::fmt::Debug for PeerRevocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let refusing = self.0.read().map(|r| r.is_some()).unwrap_or(true);
        f.debug_struct("PeerRevocations").field("refusing", &refusing).finish()
    }
}

/// The trust domain peers must belong to; empty until the workload's own SVID says which it is.
#[derive(Debug, Default)]
pub struct TrustDomain(RwLock<String>);

impl TrustDomain {
    pub fn new(domain: &str) -> Arc<TrustDomain> {
        Arc::new(TrustDomain(RwLock::new(domain.to_owned())))
    }

    pub fn set(&self, domain: &str) {
        *self.0.write().expect("lock") = domain.to_owned();
    }

    pub fn get(&self) -> String {
        self.0.read().expect("lock").clone()
    }
}

/// Why [`spiffe_id`] found none.
pub(crate) const NOT_AN_SVID: &str =
    "the certificate is not an X.509-SVID: it must carry exactly one spiffe:// URI SAN";

/// The one URI SAN of an X.509-SVID; `None` unless the certificate carries exactly one URI SAN and it
/// is a `spiffe://` one (the SPIFFE X.509-SVID spec: which of several would be the identity?).
pub fn spiffe_id(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let san = cert.subject_alternative_name().ok()??;
    let mut uris = san.value.general_names.iter().filter_map(|name| match name {
        x509_parser::extensions::GeneralName::URI(uri) => Some(*uri),
        _ => None,
    });
    match (uris.next(), uris.next()) {
        (Some(uri), None) if uri.starts_with("spiffe://") => Some(uri.to_string()),
        _ => None,
    }
}

/// The handshake signature checks every verifier here shares: the peer proves it holds the
/// leaf's key with the provider's algorithms, whatever we decide about its chain.
pub(crate) fn tls12_signature(
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    verify_tls12_signature(message, cert, dss, &provider().signature_verification_algorithms)
}

pub(crate) fn tls13_signature(
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    verify_tls13_signature(message, cert, dss, &provider().signature_verification_algorithms)
}

pub(crate) fn supported_schemes() -> Vec<SignatureScheme> {
    provider().signature_verification_algorithms.supported_schemes()
}

/// The process-wide crypto provider (ring).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Verifies peer workloads' servers (Lanyard itself: [`LanyardServerVerifier`]).
#[derive(Debug)]
pub struct SpiffeServerVerifier {
    pub roots: Arc<Roots>,
    pub trust_domain: Arc<TrustDomain>,
    /// Federated trust domains whose servers this caller accepts (empty: our own only).
    pub allowed_federated: Vec<String>,
    /// Which servers are refused as revoked (none until the workload opts in).
    pub revocations: Arc<PeerRevocations>,
}

impl ServerCertVerifier for SpiffeServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let id = self.roots.verify(
            end_entity,
            intermediates,
            now,
            webpki::KeyUsage::server_auth(),
            &self.trust_domain,
            &self.allowed_federated,
        )?;
        self.revocations.check(&id, end_entity)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        supported_schemes()
    }
}

/// Verifies Lanyard: a chain to the current roots whose leaf is spiffe://<trust domain>/lanyard/server,
/// the trust domain being ours, or, before we know it (bootstrap from a root alone), the leaf's own.
/// A workload's SVID chains to the same roots and has serverAuth too, so the chain alone proves nothing.
#[derive(Debug)]
pub struct LanyardServerVerifier {
    pub roots: Arc<Roots>,
    pub trust_domain: Arc<TrustDomain>,
}

impl ServerCertVerifier for LanyardServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let id = self.roots.verify(
            end_entity,
            intermediates,
            now,
            webpki::KeyUsage::server_auth(),
            &self.trust_domain,
            &[],
        )?;
        // Roots::verify held the leaf to our trust domain when we know it, so its own is the one.
        let expected = lanyard_server_id(trust_domain_of(&id));
        if id != expected {
            return Err(rustls::Error::General(format!("the server presented {id}, not {expected}")));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        supported_schemes()
    }
}

/// The SPIFFE ID of the Lanyard server of `trust_domain`.
pub fn lanyard_server_id(trust_domain: &str) -> String {
    format!("spiffe://{trust_domain}/lanyard/server")
}

/// The trust domain of a SPIFFE ID.
pub(crate) fn trust_domain_of(id: &str) -> &str {
    id.trim_start_matches("spiffe://").split('/').next().unwrap_or("")
}

/// Verifies client workloads; a client certificate is required.
#[derive(Debug)]
pub struct SpiffeClientVerifier {
    pub roots: Arc<Roots>,
    pub trust_domain: Arc<TrustDomain>,
    /// Federated trust domains whose clients this server accepts (empty: our own only).
    pub allowed_federated: Vec<String>,
    /// Which clients are refused as revoked (none until the workload opts in).
    pub revocations: Arc<PeerRevocations>,
}

impl ClientCertVerifier for SpiffeClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let id = self.roots.verify(
            end_entity,
            intermediates,
            now,
            webpki::KeyUsage::client_auth(),
            &self.trust_domain,
            &self.allowed_federated,
        )?;
        self.revocations.check(&id, end_entity)?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        supported_schemes()
    }
}

/// A client config presenting `cert` (if set) and verifying servers against `roots`; ALPN h2 for gRPC.
pub fn client_config(
    cert: Arc<CurrentCert>,
    roots: Arc<Roots>,
    trust_domain: Arc<TrustDomain>,
) -> rustls::ClientConfig {
    client_config_allowing(cert, roots, trust_domain, Vec::new(), Arc::default())
}

/// As [`client_config`], also accepting servers of the federated trust domains in `allowed_federated`,
/// and refusing the servers `revocations` says are revoked.
pub fn client_config_allowing(
    cert: Arc<CurrentCert>,
    roots: Arc<Roots>,
    trust_domain: Arc<TrustDomain>,
    allowed_federated: Vec<String>,
    revocations: Arc<PeerRevocations>,
) -> rustls::ClientConfig {
    client_config_resolving(cert, SpiffeServerVerifier { roots, trust_domain, allowed_federated, revocations })
}

/// A client config presenting exactly `cert` on every handshake (reconnections included), so the
/// tokens sent over its connections can be the ones bound to `cert`.
pub fn client_config_presenting(
    cert: HeldCert,
    roots: Arc<Roots>,
    trust_domain: Arc<TrustDomain>,
    allowed_federated: Vec<String>,
    revocations: Arc<PeerRevocations>,
) -> rustls::ClientConfig {
    client_config_resolving(
        Arc::new(cert),
        SpiffeServerVerifier { roots, trust_domain, allowed_federated, revocations },
    )
}

/// A client config for Lanyard itself (bootstrap, renewal, the trust bundle and revocation streams,
/// tokens): presents `cert` (if set), and accepts only the Lanyard server, see [`LanyardServerVerifier`].
pub fn lanyard_client_config(
    cert: Arc<CurrentCert>,
    roots: Arc<Roots>,
    trust_domain: Arc<TrustDomain>,
) -> rustls::ClientConfig {
    client_config_verifying(cert, Arc::new(LanyardServerVerifier { roots, trust_domain }))
}

/// As [`lanyard_client_config`], presenting exactly `cert` on every handshake.
pub fn lanyard_client_config_presenting(
    cert: HeldCert,
    roots: Arc<Roots>,
    trust_domain: Arc<TrustDomain>,
) -> rustls::ClientConfig {
    client_config_verifying(Arc::new(cert), Arc::new(LanyardServerVerifier { roots, trust_domain }))
}

fn client_config_resolving(cert: Arc<dyn ResolvesClientCert>, verifier: SpiffeServerVerifier) -> rustls::ClientConfig {
    client_config_verifying(cert, Arc::new(verifier))
}

fn client_config_verifying(
    cert: Arc<dyn ResolvesClientCert>,
    verifier: Arc<dyn ServerCertVerifier>,
) -> rustls::ClientConfig {
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_cert_resolver(cert);
    config.alpn_protocols = vec![b"h2".to_vec()];
    // A resumed TLS 1.3 session sends no certificate: the server takes the one of the handshake
    // that made the session, which a renewal may have replaced since, so a token bound to the
    // certificate we present now would be refused (cnf_mismatch). Every handshake is a full one.
    config.resumption = rustls::client::Resumption::disabled();
    config
}

/// A server config presenting `cert` and requiring client certificates that chain to `roots`.
pub fn server_config(
    cert: Arc<CurrentCert>,
    roots: Arc<Roots>,
    trust_domain: Arc<TrustDomain>,
) -> rustls::ServerConfig {
    server_config_allowing(cert, roots, trust_domain, Vec::new(), Arc::default())
}

/// As [`server_config`], also accepting clients of the federated trust domains in `allowed_federated`,
/// and refusing the clients `revocations` says are revoked.
pub fn server_config_allowing(
    cert: Arc<CurrentCert>,
    roots: Arc<Roots>,
    trust_domain: Arc<TrustDomain>,
    allowed_federated: Vec<String>,
    revocations: Arc<PeerRevocations>,
) -> rustls::ServerConfig {
    let verifier = SpiffeClientVerifier { roots, trust_domain, allowed_federated, revocations };
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_client_cert_verifier(Arc::new(verifier))
        .with_cert_resolver(cert);
    config.alpn_protocols = vec![b"h2".to_vec()];
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate(uris: &[&str]) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        for uri in uris {
            params.subject_alt_names.push(rcgen::SanType::URI((*uri).try_into().unwrap()));
        }
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn an_svid_carries_exactly_one_spiffe_uri_san() {
        let id = "spiffe://lanyard.local/ns/shop/sa/frontend";
        assert_eq!(spiffe_id(&certificate(&[id])).as_deref(), Some(id));
        assert_eq!(spiffe_id(&certificate(&[id, "spiffe://lanyard.local/ns/shop/sa/admin"])), None);
        assert_eq!(spiffe_id(&certificate(&["https://lanyard.local/frontend", id])), None);
        assert_eq!(spiffe_id(&certificate(&["https://lanyard.local/frontend"])), None);
        assert_eq!(spiffe_id(&certificate(&[])), None);
    }
}
