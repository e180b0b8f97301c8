//! Trust on first contact, pinned: fetch the trust bundle from a Lanyard server we cannot verify
//! yet, and accept it only if one of its roots has the fingerprint the operator pinned and the
//! certificate the server presented chains to that root and names the Lanyard server of the
//! bundle's trust domain. Nothing secret is sent on this connection.

use crate::pb::lanyard::v1 as pb;
use crate::tls::{self, Roots, TrustDomain};
use crate::Error;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The roots of the server's trust bundle and its trust domain, once the pin and the server's
/// certificate agree with them.
pub(crate) async fn fetch_bundle(lanyard: &str, pin: &str) -> Result<(Vec<CertificateDer<'static>>, String), Error> {
    let want = parse_pin(pin)?;
    let presented = Arc::new(RecordingVerifier::default());
    let mut config = rustls::ClientConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(presented.clone())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let channel = crate::transport::channel(lanyard, config)?;
    let mut client = pb::trust_bundle_service_client::TrustBundleServiceClient::new(channel);
    let mut request = tonic::Request::new(pb::GetTrustBundleRequest {});
    request.set_timeout(Duration::from_secs(30));
    let bundle = client.get_trust_bundle(request).await?.into_inner();

    let roots: Vec<CertificateDer<'static>> = bundle.x509_authorities.into_iter().map(CertificateDer::from).collect();
    let pinned = roots.iter().find(|root| Sha256::digest(root.as_ref()).as_slice() == want).ok_or_else(|| {
        Error::Invalid(
            "no root in the server's trust bundle matches the pinned fingerprint; refusing to continue".into(),
        )
    })?;
    let chain = presented.chain();
    let (leaf, intermediates) =
        chain.split_first().ok_or_else(|| Error::Invalid("the server presented no certificate".into()))?;
    let id = Roots::new(vec![pinned.clone()])
        .verify(
            leaf,
            intermediates,
            UnixTime::now(),
            webpki::KeyUsage::server_auth(),
            &TrustDomain::new(&bundle.trust_domain),
            &[],
        )
        .map_err(|e| Error::Invalid(format!("the server's certificate does not chain to the pinned root: {e}")))?;
    let expected = tls::lanyard_server_id(&bundle.trust_domain);
    if id != expected {
        return Err(Error::Invalid(format!("the server presented {id}, not {expected}")));
    }
    Ok((roots, bundle.trust_domain))
}

/// "sha256:HEX" (any case, colons between hex pairs allowed), as `lanyard dev` prints it.
pub(crate) fn parse_pin(pin: &str) -> Result<[u8; 32], Error> {
    let invalid = || Error::Invalid("the root fingerprint must look like sha256:<64 hex digits>".into());
    let lower = pin.trim().to_ascii_lowercase();
    let hex_digits = lower.strip_prefix("sha256:").ok_or_else(invalid)?.replace(':', "");
    let bytes = hex::decode(hex_digits).map_err(|_| invalid())?;
    bytes.try_into().map_err(|_| invalid())
}

/// Accepts any chain during the handshake (the handshake still proves the server holds the
/// leaf's key) and keeps it, to be judged once the bundle is known.
#[derive(Debug, Default)]
struct RecordingVerifier {
    chain: Mutex<Vec<CertificateDer<'static>>>,
}

impl RecordingVerifier {
    fn chain(&self) -> Vec<CertificateDer<'static>> {
        self.chain.lock().expect("lock").clone()
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = vec![end_entity.clone().into_owned()];
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        *self.chain.lock().expect("lock") = chain;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        tls::tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        tls::tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        tls::supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_sha256_hex_in_any_case_with_optional_colons() {
        let hex64 = "ab".repeat(32);
        assert_eq!(parse_pin(&format!("sha256:{hex64}")).unwrap(), [0xab; 32]);
        assert_eq!(parse_pin(&format!(" SHA256:{} ", hex64.to_uppercase())).unwrap(), [0xab; 32]);
        let colons = vec!["ab"; 32].join(":");
        assert_eq!(parse_pin(&format!("sha256:{colons}")).unwrap(), [0xab; 32]);
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "ab".repeat(32).as_str(),
            "sha1:abcd",
            "sha256:abcd",
            "sha256:zz",
            &format!("sha256:{}", "ab".repeat(33)),
        ] {
            let err = parse_pin(bad).unwrap_err().to_string();
            assert!(err.contains("sha256:<64 hex digits>"), "{bad:?}: {err}");
        }
    }
}
