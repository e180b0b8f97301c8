//! The workload's identity: bootstrap with a join token, renew at half-life in the background,
//! follow the trust bundle, and hand out TLS configs that always use the current certificate.
//! Or, with [`Identity::from_workload_api`], take it from a node agent's Workload API stream.

use crate::pb::lanyard::v1 as pb;
use crate::tls::{self, CurrentCert, HeldCert, PeerRevocations, Roots, TrustDomain};
use crate::verify::RevocationSet;
use crate::workload::{WorkloadApi, X509Svid};
use crate::Error;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::collections::HashMap;
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
    /// The JWT keys of the federated trust domains, from the trust bundle's federated_bundles.
    federated_keys: Arc<RwLock<HashMap<String, HashMap<String, jsonwebtoken::jwk::Jwk>>>>,
    trust_domain: Arc<TrustDomain>,
    /// The revocations every peer verifier we hand out refuses by, once asked to.
    revocations: Arc<PeerRevocations>,
    svid: RwLock<Svid>,
    generation: AtomicU64,
    renewals: AtomicU64,
    last_error: RwLock<Option<String>>,
    /// Set when the node agent, not Lanyard, issues and renews our certificate.
    workload: Option<Agent>,
}

/// The agent we take our identity from, and which of the identities it serves us is ours (the
/// first one at start, kept afterwards).
#[derive(Clone)]
struct Agent {
    api: WorkloadApi,
    spiffe_id: String,
}

impl Identity {
    /// Bootstraps: a key made here, a CSR, the join token; then renews and follows the bundle.
    pub async fn bootstrap(config: Config) -> Result<Identity, Error> {
        // With a bundle file the trust domain is not known yet: the server's certificate names it
        // (spiffe://<trust domain>/lanyard/server, on a chain to the roots). A pinned bundle says it.
        let (roots, trust_domain) = match &config.trust {
            Trust::BundlePem(pem) => (pem_certificates(pem)?, String::new()),
            Trust::RootFingerprint(pin) => crate::pinned::fetch_bundle(&config.lanyard, pin).await?,
        };
        if roots.is_empty() {
            return Err(Error::Invalid("the bundle holds no certificate".into()));
        }
        let inner = Arc::new(Inner::new(config.lanyard.clone(), config.ttl, roots, &trust_domain, None));
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

    /// Takes the identity from the node agent at `endpoint` (`unix:///path`) instead of a join
    /// token: waits up to `wait` for the agent to serve us an X.509-SVID, then follows its
    /// `FetchX509SVID` stream (renewals, bundle changes). When the agent no longer has an identity
    /// for us (revoked, registration deleted) the certificate is dropped: we present none until
    /// the agent serves one again. `lanyard` (host:port) is still where the revocation stream and
    /// CRLs come from, reached with the agent-issued certificate.
    pub async fn from_workload_api(endpoint: &str, lanyard: String, wait: Duration) -> Result<Identity, Error> {
        let api = WorkloadApi::connect(endpoint)?;
        let deadline = tokio::time::Instant::now() + wait;
        let first = loop {
            match api.fetch_x509_svid(None).await {
                Ok(svid) => break svid,
                Err(e) if tokio::time::Instant::now() < deadline => {
                    tracing::info!("waiting for the agent to serve an X.509-SVID: {e}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(e),
            }
        };
        let agent = Agent { api, spiffe_id: first.spiffe_id.clone() };
        let inner = Arc::new(Inner::new(lanyard, None, first.bundle.clone(), "", Some(agent)));
        inner.install_svid(first)?;
        let identity = Identity { inner };
        identity.spawn_workload_watch();
        Ok(identity)
    }

    /// The agent we take our identity from, if we do.
    pub fn workload_api(&self) -> Option<&WorkloadApi> {
        self.inner.workload.as_ref().map(|a| &a.api)
    }

    /// The certificate held now.
    pub fn svid(&self) -> Svid {
        self.inner.svid.read().expect("lock").clone()
    }

    /// The current certificate chain (DER, leaf first, then the issuing CAs).
    pub fn chain(&self) -> Vec<Vec<u8>> {
        self.inner.cert.chain().into_iter().map(|c| c.to_vec()).collect()
    }

    /// The JWT keys of a federated trust domain, as Lanyard serves them (kept current): a verifier
    /// of that trust domain's tokens uses them with its issuer.
    pub fn federated_keys(&self, trust_domain: &str) -> crate::jwks::Keys {
        crate::jwks::Keys::Federated(crate::jwks::FederatedKeys {
            all: self.inner.federated_keys.clone(),
            trust_domain: trust_domain.to_string(),
        })
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

    /// Refuses at the handshake, in every peer config of this identity (made before or after), a
    /// peer whose SPIFFE ID or certificate `revocations` says is revoked: revoked by Lanyard, or by a
    /// federated trust domain's Lanyard and passed on by ours (a [`RevocationWatcher`] applies those
    /// to that trust domain's peers only). Until `revocations` is loaded (its first catch-up) every
    /// peer is refused: a revoked one could not be told apart. A revoked peer gets the
    /// certificate_revoked alert. Lanyard's own channels are not affected.
    ///
    /// [`RevocationWatcher`]: crate::revocation::RevocationWatcher
    pub fn refuse_revoked(&self, revocations: Arc<dyn RevocationSet>) {
        self.inner.revocations.refuse(revocations);
    }

    /// A server config: presents the current certificate, requires peers from our trust domain.
    pub fn server_config(&self) -> rustls::ServerConfig {
        self.server_config_allowing(&[])
    }

    /// A server config that also accepts clients of the federated trust domains named (Lanyard must
    /// federate with them; each peer is checked against its own trust domain's roots).
    pub fn server_config_allowing(&self, federated: &[&str]) -> rustls::ServerConfig {
        tls::server_config_allowing(
            self.inner.cert.clone(),
            self.inner.roots.clone(),
            self.inner.trust_domain.clone(),
            owned(federated),
            self.inner.revocations.clone(),
        )
    }

    /// A client config that also accepts servers of the federated trust domains named.
    pub fn client_config_allowing(&self, federated: &[&str]) -> rustls::ClientConfig {
        tls::client_config_allowing(
            self.inner.cert.clone(),
            self.inner.roots.clone(),
            self.inner.trust_domain.clone(),
            owned(federated),
            self.inner.revocations.clone(),
        )
    }

    /// A client config: presents the certificate current at each handshake, verifies peers against
    /// the current roots. Connections that carry tokens need [`client_config_for`](Self::client_config_for).
    pub fn client_config(&self) -> rustls::ClientConfig {
        self.client_config_allowing(&[])
    }

    /// The certificate held now, with its key, taken once for a call or a connection: the
    /// connection presents it ([`client_config_for`](Self::client_config_for)) and the token sent
    /// over it is bound to it ([`TokenSource::token`](crate::token::TokenSource::token)), so a
    /// renewal in between cannot pair them wrongly. None while we hold no certificate.
    pub fn held(&self) -> Option<HeldCert> {
        self.inner.cert.held()
    }

    /// A client config presenting exactly `held` on every handshake, reconnections included;
    /// verifies peers against the current roots. After a renewal, connect again with the new one.
    pub fn client_config_for(&self, held: &HeldCert) -> rustls::ClientConfig {
        self.client_config_for_allowing(held, &[])
    }

    /// As [`client_config_for`](Self::client_config_for), also accepting servers of the federated
    /// trust domains named.
    pub fn client_config_for_allowing(&self, held: &HeldCert, federated: &[&str]) -> rustls::ClientConfig {
        tls::client_config_presenting(
            held.clone(),
            self.inner.roots.clone(),
            self.inner.trust_domain.clone(),
            owned(federated),
            self.inner.revocations.clone(),
        )
    }

    /// A new mTLS channel to Lanyard presenting the current certificate; it accepts only the
    /// Lanyard server of our trust domain (spiffe://<trust domain>/lanyard/server).
    pub fn lanyard_channel(&self) -> Result<Channel, Error> {
        self.inner.channel()
    }

    /// A new mTLS channel to Lanyard presenting exactly `held`: what is minted over it is bound to `held`.
    pub fn lanyard_channel_presenting(&self, held: &HeldCert) -> Result<Channel, Error> {
        crate::transport::channel(
            &self.inner.lanyard,
            tls::lanyard_client_config_presenting(
                held.clone(),
                self.inner.roots.clone(),
                self.inner.trust_domain.clone(),
            ),
        )
    }

    /// Renews now (the background loop does this at half-life). A failure is also reported by
    /// [`last_renewal_error`](Self::last_renewal_error) until a renewal succeeds.
    pub async fn renew(&self) -> Result<(), Error> {
        let result = self.try_renew().await;
        *self.inner.last_error.write().expect("lock") = result.as_ref().err().map(|e| e.to_string());
        result
    }

    async fn try_renew(&self) -> Result<(), Error> {
        if let Some(agent) = &self.inner.workload {
            // The agent renews; asking it again shows whether it still serves us.
            let result = match agent.api.fetch_x509_svid(Some(&agent.spiffe_id)).await {
                Ok(svid) => self.inner.install_svid(svid),
                Err(e) => Err(e),
            };
            if let Err(Error::Permission(_)) = &result {
                self.inner.drop_svid();
            }
            return result;
        }
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

    /// Follows the agent's FetchX509SVID stream; reopens it after an error, and drops the
    /// certificate when the agent says it has none for us.
    fn spawn_workload_watch(&self) {
        let identity = self.clone();
        tokio::spawn(async move {
            let Some(agent) = identity.inner.workload.clone() else { return };
            loop {
                let error = match agent.api.fetch_x509_svids().await {
                    Ok(mut stream) => loop {
                        match stream.message().await {
                            Ok(Some(response)) => {
                                let result = crate::workload::pick(response, Some(&agent.spiffe_id))
                                    .and_then(|svid| identity.inner.install_svid(svid));
                                if let Err(e) = result {
                                    break e;
                                }
                                *identity.inner.last_error.write().expect("lock") = None;
                            }
                            Ok(None) => break Error::Transient("the agent ended the X.509-SVID stream".into()),
                            Err(status) => break Error::from(status),
                        }
                    },
                    Err(e) => e,
                };
                if let Error::Permission(_) = error {
                    identity.inner.drop_svid();
                }
                tracing::warn!("X.509-SVID stream from the agent: {error}");
                *identity.inner.last_error.write().expect("lock") = Some(error.to_string());
                tokio::time::sleep(Duration::from_secs(1)).await;
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
                            *identity.inner.federated_keys.write().expect("lock") = bundle
                                .federated_bundles
                                .iter()
                                .map(|f| {
                                    let keys = f
                                        .jwt_authorities
                                        .iter()
                                        .filter_map(|k| {
                                            crate::jwks::jwk_from_spki(&k.key_id, &k.algorithm, &k.public_key)
                                                .map_err(|e| tracing::warn!("{}: {e}", f.trust_domain))
                                                .ok()
                                                .map(|jwk| (k.key_id.clone(), jwk))
                                        })
                                        .collect();
                                    (f.trust_domain.clone(), keys)
                                })
                                .collect();
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
    fn new(
        lanyard: String,
        ttl: Option<Duration>,
        roots: Vec<CertificateDer<'static>>,
        trust_domain: &str,
        workload: Option<Agent>,
    ) -> Inner {
        Inner {
            lanyard,
            ttl,
            cert: CurrentCert::new(),
            roots: Roots::new(roots),
            federated_keys: Arc::default(),
            trust_domain: TrustDomain::new(trust_domain),
            revocations: Arc::default(),
            svid: RwLock::new(no_svid()),
            generation: AtomicU64::new(0),
            renewals: AtomicU64::new(0),
            last_error: RwLock::new(None),
            workload,
        }
    }

    /// Every call to Lanyard goes through this (or [`Identity::lanyard_channel_presenting`]): the
    /// join token, renewals, the trust bundle and revocations are for the Lanyard server alone.
    fn channel(&self) -> Result<Channel, Error> {
        crate::transport::channel(
            &self.lanyard,
            tls::lanyard_client_config(self.cert.clone(), self.roots.clone(), self.trust_domain.clone()),
        )
    }

    /// Checks what was issued is for our key and installs it.
    fn install(&self, key: rcgen::KeyPair, response: pb::CertificateResponse) -> Result<(), Error> {
        let mut chain = vec![CertificateDer::from(response.certificate)];
        chain.extend(response.chain.into_iter().map(CertificateDer::from));
        let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let bundle = response.trust_bundle.into_iter().map(CertificateDer::from).collect();
        self.install_parts(&key, chain, private, bundle)
    }

    /// Installs what the agent sent if it is new (the stream repeats it on bundle-only changes).
    fn install_svid(&self, svid: X509Svid) -> Result<(), Error> {
        if self.cert.chain().first() == svid.chain.first() {
            self.roots.set(svid.bundle);
            return Ok(());
        }
        let key = rcgen::KeyPair::try_from(svid.key.secret_der())
            .map_err(|e| Error::Invalid(format!("the agent's key for {} does not parse: {e}", svid.spiffe_id)))?;
        let renewal = self.generation.load(Ordering::SeqCst) > 0;
        self.install_parts(&key, svid.chain, svid.key, svid.bundle)?;
        if renewal {
            self.renewals.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }

    /// The agent has no identity for us: present none, and say so in [`Identity::svid`].
    fn drop_svid(&self) {
        self.cert.clear();
        *self.svid.write().expect("lock") = no_svid();
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn install_parts(
        &self,
        key: &rcgen::KeyPair,
        chain: Vec<CertificateDer<'static>>,
        private: PrivateKeyDer<'static>,
        bundle: Vec<CertificateDer<'static>>,
    ) -> Result<(), Error> {
        let certificate = chain.first().ok_or_else(|| Error::Invalid("no certificate was issued".into()))?.to_vec();
        let (_, leaf) = x509_parser::parse_x509_certificate(&certificate)
            .map_err(|e| Error::Invalid(format!("the issued certificate does not parse: {e}")))?;
        if leaf.public_key().raw != key.public_key_der() {
            return Err(Error::Invalid("the issued certificate is not for the key we sent".into()));
        }
        let spiffe_id = tls::spiffe_id(&certificate)
            .ok_or_else(|| Error::Invalid(format!("the issued certificate: {}", tls::NOT_AN_SVID)))?;
        let domain = tls::trust_domain_of(&spiffe_id).to_owned();
        let svid = Svid {
            spiffe_id,
            serial: crate::verify::serial_hex(&certificate).unwrap_or_default(),
            not_before: UNIX_EPOCH + Duration::from_secs(leaf.validity().not_before.timestamp().max(0) as u64),
            not_after: UNIX_EPOCH + Duration::from_secs(leaf.validity().not_after.timestamp().max(0) as u64),
        };
        self.cert.set(chain, private).map_err(Error::Invalid)?;
        self.roots.set(bundle);
        self.trust_domain.set(&domain);
        *self.svid.write().expect("lock") = svid;
        self.generation.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn owned(federated: &[&str]) -> Vec<String> {
    federated.iter().map(|d| d.to_string()).collect()
}

fn no_svid() -> Svid {
    Svid { spiffe_id: String::new(), serial: String::new(), not_before: UNIX_EPOCH, not_after: UNIX_EPOCH }
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

#[cfg(test)]
mod tests;
