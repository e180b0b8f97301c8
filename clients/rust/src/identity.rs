//! The workload's identity: bootstrap with a join token, renew at half-life in the background,
//! follow the trust bundle, and hand out TLS configs that always use the current certificate.

use crate::pb::lanyard::v1 as pb;
use crate::tls::{self, CurrentCert, Roots, TrustDomain};
use crate::Error;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tonic::transport::Channel;

/// How to reach Lanyard and prove who we are, once.
pub struct Config {
    /// Lanyard's gRPC address, host:port.
    pub lanyard: String,
    /// How to trust Lanyard before we hold a certificate.
    pub trust: Trust,
    /// The one-time join token. Never logged.
    pub join_token: String,
    /// Certificate lifetime to ask for; the server default when unset.
    pub ttl: Option<Duration>,
}

/// How a workload trusts Lanyard at bootstrap; afterwards it follows the trust bundle.
pub enum Trust {
    /// PEM roots, e.g. the contents of a bundle file distributed with the workload.
    BundlePem(String),
    /// `sha256:HEX` of one root, as `lanyard dev` prints it: the bundle is fetched from the server
    /// and accepted only if it holds that root and the server's certificate chains to it.
    RootFingerprint(String),
}

/// The certificate currently held.
#[derive(Debug, Clone)]
pub struct Svid {
    pub spiffe_id: String,
    pub serial: String,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
}

/// A renewed identity, shared by everything that needs it.
#[derive(Clone)]
pub struct Identity {
    inner: Arc<Inner>,
}

struct Inner {
    lanyard: String,
    ttl: Option<Duration>,
    cert: Arc<CurrentCert>,
    roots: Arc<Roots>,
    trust_domain: Arc<TrustDomain>,
    svid: RwLock<Svid>,
    generation: AtomicU64,
    renewals: AtomicU64,
    last_error: RwLock<Option<String>>,
}

impl Identity {
    /// Bootstraps: a key made here, a CSR, the join token; then renews and follows the bundle.
    pub async fn bootstrap(config: Config) -> Result<Identity, Error> {
        let roots = match &config.trust {
            Trust::BundlePem(pem) => pem_certificates(pem)?,
            Trust::RootFingerprint(pin) => crate::pinned::fetch_bundle(&config.lanyard, pin).await?,
        };
        if roots.is_empty() {
            return Err(Error::Invalid("the bundle holds no certificate".into()));
        }
        let inner = Arc::new(Inner {
            lanyard: config.lanyard.clone(),
            ttl: config.ttl,
            cert: CurrentCert::new(),
            roots: Roots::new(roots),
            trust_domain: TrustDomain::new(""),
            svid: RwLock::new(Svid {
                spiffe_id: String::new(),
                serial: String::new(),
                not_before: UNIX_EPOCH,
                not_after: UNIX_EPOCH,
            }),
            generation: AtomicU64::new(0),
            renewals: AtomicU64::new(0),
            last_error: RwLock::new(None),
        });
        let (key, csr) = new_key_and_csr()?;
        let channel = inner.channel()?;
        let response = pb::certificate_service_client::CertificateServiceClient::new(channel)
            .issue_certificate(pb::IssueCertificateRequest {
                attestation: Some(pb::Attestation {
                    kind: Some(pb::attestation::Kind::JoinToken(pb::JoinTokenAttestation { token: config.join_token })),
                }),
                csr,
                ttl: inner.ttl.map(duration),
            })
            .await?
            .into_inner();
        inner.install(key, response)?;
        let identity = Identity { inner };
        identity.spawn_renewal();
        identity.spawn_bundle_watch();
        Ok(identity)
    }

    /// The certificate held now.
    pub fn svid(&self) -> Svid {
        self.inner.svid.read().expect("lock").clone()
    }

    /// The current certificate chain (DER, leaf first, then the issuing CAs).
    pub fn chain(&self) -> Vec<Vec<u8>> {
        self.inner.cert.chain().into_iter().map(|c| c.to_vec()).collect()
    }

    pub fn trust_domain(&self) -> String {
        self.inner.trust_domain.get()
    }

    /// Changes every time a new certificate is installed (tokens bound to an older one are stale).
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::SeqCst)
    }

    pub fn renewals(&self) -> u64 {
        self.inner.renewals.load(Ordering::SeqCst)
    }

    /// Why the last renewal failed, if it did (cleared by the next success).
    pub fn last_renewal_error(&self) -> Option<String> {
        self.inner.last_error.read().expect("lock").clone()
    }

    /// A server config: presents the current certificate, requires peers from our trust domain.
    pub fn server_config(&self) -> rustls::ServerConfig {
        tls::server_config(self.inner.cert.clone(), self.inner.roots.clone(), self.inner.trust_domain.clone())
    }

    /// A server config that also accepts clients of the federated trust domains named (Lanyard must
    /// federate with them; each peer is checked against its own trust domain's roots).
    pub fn server_config_allowing(&self, federated: &[&str]) -> rustls::ServerConfig {
        tls::server_config_allowing(
            self.inner.cert.clone(),
            self.inner.roots.clone(),
            self.inner.trust_domain.clone(),
            federated.iter().map(|d| d.to_string()).collect(),
        )
    }

    /// A client config that also accepts servers of the federated trust domains named.
    pub fn client_config_allowing(&self, federated: &[&str]) -> rustls::ClientConfig {
        tls::client_config_allowing(
            self.inner.cert.clone(),
            self.inner.roots.clone(),
            self.inner.trust_domain.clone(),
            federated.iter().map(|d| d.to_string()).collect(),
        )
    }

    /// A client config: presents the current certificate, verifies peers against the current roots.
    pub fn client_config(&self) -> rustls::ClientConfig {
        tls::client_config(self.inner.cert.clone(), self.inner.roots.clone(), self.inner.trust_domain.clone())
    }

    /// A new mTLS channel to Lanyard presenting the current certificate.
    pub fn lanyard_channel(&self) -> Result<Channel, Error> {
        self.inner.channel()
    }

    /// Renews now (the background loop does this at half-life). A failure is also reported by
    /// [`last_renewal_error`](Self::last_renewal_error) until a renewal succeeds.
    pub async fn renew(&self) -> Result<(), Error> {
        let result = self.try_renew().await;
        *self.inner.last_error.write().expect("lock") = result.as_ref().err().map(|e| e.to_string());
        result
    }

    async fn try_renew(&self) -> Result<(), Error> {
        let (key, csr) = new_key_and_csr()?;
        let response = pb::certificate_service_client::CertificateServiceClient::new(self.inner.channel()?)
            .renew_certificate(pb::RenewCertificateRequest { csr, ttl: self.inner.ttl.map(duration) })
            .await?
            .into_inner();
        self.inner.install(key, response)?;
        self.inner.renewals.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn spawn_renewal(&self) {
        let identity = self.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_secs(1);
            loop {
                let svid = identity.svid();
                let lifetime = svid.not_after.duration_since(svid.not_before).unwrap_or_default();
                let due = svid.not_before + lifetime / 2;
                let wait = due.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO);
                tokio::time::sleep(wait.max(Duration::from_millis(100))).await;
                loop {
                    match identity.renew().await {
                        Ok(()) => {
                            backoff = Duration::from_secs(1);
                            break;
                        }
                        Err(e) => {
                            tracing::warn!("renewal failed, retrying in {backoff:?}: {e}");
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(Duration::from_secs(30));
                        }
                    }
                }
            }
        });
    }

    /// Follows WatchTrustBundle, so a new CA is trusted before anyone presents its certificates.
    fn spawn_bundle_watch(&self) {
        let identity = self.clone();
        tokio::spawn(async move {
            loop {
                if let Ok(channel) = identity.inner.channel() {
                    let mut client = pb::trust_bundle_service_client::TrustBundleServiceClient::new(channel);
                    if let Ok(response) = client.watch_trust_bundle(pb::WatchTrustBundleRequest {}).await {
                        let mut stream = response.into_inner();
                        while let Ok(Some(bundle)) = stream.message().await {
                            identity.inner.roots.set_federated(
                                bundle
                                    .federated_bundles
                                    .into_iter()
                                    .map(|f| {
                                        (
                                            f.trust_domain,
                                            f.x509_authorities.into_iter().map(CertificateDer::from).collect(),
                                        )
                                    })
                                    .collect(),
                            );
                            identity
                                .inner
                                .roots
                                .set(bundle.x509_authorities.into_iter().map(CertificateDer::from).collect());
                        }
                    }
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        });
    }
}

impl Inner {
    fn channel(&self) -> Result<Channel, Error> {
        crate::transport::channel(
            &self.lanyard,
            tls::client_config(self.cert.clone(), self.roots.clone(), self.trust_domain.clone()),
        )
    }

    /// Checks what was issued is for our key and installs it.
    fn install(&self, key: rcgen::KeyPair, response: pb::CertificateResponse) -> Result<(), Error> {
        let (_, leaf) = x509_parser::parse_x509_certificate(&response.certificate)
            .map_err(|e| Error::Invalid(format!("the issued certificate does not parse: {e}")))?;
        if leaf.public_key().raw != key.public_key_der() {
            return Err(Error::Invalid("the issued certificate is not for the key we sent".into()));
        }
        let spiffe_id = tls::spiffe_id(&response.certificate)
            .ok_or_else(|| Error::Invalid("the issued certificate has no SPIFFE ID".into()))?;
        let domain = spiffe_id.trim_start_matches("spiffe://").split('/').next().unwrap_or_default().to_owned();
        let svid = Svid {
            spiffe_id,
            serial: crate::verify::serial_hex(&response.certificate).unwrap_or_default(),
            not_before: UNIX_EPOCH + Duration::from_secs(leaf.validity().not_before.timestamp().max(0) as u64),
            not_after: UNIX_EPOCH + Duration::from_secs(leaf.validity().not_after.timestamp().max(0) as u64),
        };
        let mut chain = vec![CertificateDer::from(response.certificate.clone())];
        chain.extend(response.chain.into_iter().map(CertificateDer::from));
        let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        self.cert.set(chain, private).map_err(Error::Invalid)?;
        self.roots.set(response.trust_bundle.into_iter().map(CertificateDer::from).collect());
        self.trust_domain.set(&domain);
        *self.svid.write().expect("lock") = svid;
        self.generation.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// A fresh P-256 key and a CSR for it with an empty subject: the server takes the identity from
/// the attestation or our current certificate, never from the CSR.
fn new_key_and_csr() -> Result<(rcgen::KeyPair, Vec<u8>), Error> {
    let key = rcgen::KeyPair::generate().map_err(|e| Error::Invalid(format!("key generation: {e}")))?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| Error::Invalid(e.to_string()))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    let csr = params.serialize_request(&key).map_err(|e| Error::Invalid(format!("CSR: {e}")))?;
    Ok((key, csr.der().to_vec()))
}

fn duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration { seconds: d.as_secs() as i64, nanos: d.subsec_nanos() as i32 }
}

/// Certificates from PEM text.
pub fn pem_certificates(pem: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    rustls_pemfile::certs(&mut pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Invalid(format!("bad PEM: {e}")))
}
