//! A tower layer for tonic servers: every call must carry a Lanyard token that verifies, is bound
//! to the caller's TLS client certificate, names the audience of the RPC's service and holds every
//! scope the RPC's `.proto` options require.
//! UNAUTHENTICATED for a missing or bad token, PERMISSION_DENIED for a missing scope, a revoked
//! caller, or a method that declares no scopes (it accepts no token at all: fail closed);
//! UNAVAILABLE while the verifier's revocations are not loaded yet (just after start: retry).
//! A caller of a federated trust domain is checked by that trust domain's verifier (its Lanyard's
//! issuer and keys), where one is added with [`ScopeLayer::with_federated`].

use crate::contract::Contracts;
use crate::transport::PeerCertificates;
use crate::verify::{trust_domain_of, Failure, VerifiedToken, Verifier};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::body::BoxBody;
use tonic::Status;
use tower::{Layer, Service};

/// Wraps a tonic router; handlers find the [`VerifiedToken`] in the request extensions.
#[derive(Clone)]
pub struct ScopeLayer {
    verifier: Arc<Verifier>,
    federated: Arc<HashMap<String, Arc<Verifier>>>,
    contracts: Arc<Contracts>,
}

impl ScopeLayer {
    pub fn new(verifier: Arc<Verifier>, contracts: Contracts) -> ScopeLayer {
        ScopeLayer { verifier, federated: Arc::default(), contracts: Arc::new(contracts) }
    }

    /// Checks the tokens of callers from `trust_domain` (a federated one, whose peers the TLS config
    /// allows) with `verifier`: that trust domain's issuer and keys (`Identity::federated_keys`).
    pub fn with_federated(mut self, trust_domain: impl Into<String>, verifier: Arc<Verifier>) -> ScopeLayer {
        Arc::make_mut(&mut self.federated).insert(trust_domain.into(), verifier);
        self
    }
}

/// The verifier for a caller: its trust domain's, if one was added, else ours; with the federated
/// trust domain it was chosen for, whose workloads alone its tokens may speak for.
fn verifier_for<'a>(
    ours: &'a Arc<Verifier>,
    federated: &'a HashMap<String, Arc<Verifier>>,
    peer: Option<&[u8]>,
) -> (&'a Arc<Verifier>, Option<String>) {
    let id = peer.and_then(crate::tls::spiffe_id).unwrap_or_default();
    match federated.get_key_value(trust_domain_of(&id)) {
        Some((domain, verifier)) => (verifier, Some(domain.clone())),
        None => (ours, None),
    }
}

impl<S> Layer<S> for ScopeLayer {
    type Service = ScopeService<S>;

    fn layer(&self, inner: S) -> ScopeService<S> {
        ScopeService {
            inner,
            verifier: self.verifier.clone(),
            federated: self.federated.clone(),
            contracts: self.contracts.clone(),
        }
    }
}

#[derive(Clone)]
pub struct ScopeService<S> {
    inner: S,
    verifier: Arc<Verifier>,
    federated: Arc<HashMap<String, Arc<Verifier>>>,
    contracts: Arc<Contracts>,
}

impl<S, B> Service<http::Request<B>> for ScopeService<S>
where
    S: Service<http::Request<B>, Response = http::Response<BoxBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<BoxBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // The clone that was polled ready serves this call; a fresh clone stays for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let contracts = self.contracts.clone();
        let call = Call::of(&request);
        let (verifier, domain) = verifier_for(&self.verifier, &self.federated, call.peer.as_deref());
        let verifier = verifier.clone();
        Box::pin(async move {
            match authorize(&verifier, domain.as_deref(), &contracts, call).await {
                Ok(token) => {
                    request.headers_mut().remove(http::header::AUTHORIZATION);
                    request.extensions_mut().insert(token);
                    inner.call(request).await
                }
                Err(status) => Ok(status.into_http()),
            }
        })
    }
}

/// What the check needs from a request, taken before any await (the body need not be Sync).
struct Call {
    path: String,
    peer: Option<Vec<u8>>,
    authorization: Vec<Option<String>>,
}

impl Call {
    fn of<B>(request: &http::Request<B>) -> Call {
        Call {
            path: request.uri().path().to_owned(),
            peer: request.extensions().get::<PeerCertificates>().and_then(|p| p.0.first().cloned()),
            authorization: request
                .headers()
                .get_all(http::header::AUTHORIZATION)
                .iter()
                .map(|v| v.to_str().ok().map(str::to_owned))
                .collect(),
        }
    }
}

async fn authorize(
    verifier: &Verifier,
    domain: Option<&str>,
    contracts: &Contracts,
    call: Call,
) -> Result<VerifiedToken, Status> {
    let path = call.path.as_str();
    let contract =
        contracts.get(path).ok_or_else(|| Status::permission_denied(format!("{path} is not a known method")))?;
    if contract.required_scopes.is_empty() {
        return Err(Status::permission_denied(format!(
            "{path} declares no lanyard.v1.required_scopes; it accepts no token"
        )));
    }
    let peer = call.peer.ok_or_else(|| Status::unauthenticated("no TLS client certificate"))?;
    let header = match call.authorization.as_slice() {
        [] => return Err(Status::unauthenticated("no authorization: Bearer token")),
        [one] => one.clone().unwrap_or_default(),
        _ => return Err(Status::unauthenticated("more than one authorization header")),
    };
    // The scheme in any case and the token trimmed, as the Go and Java interceptors read it (RFC 9110).
    let token = header
        .split_once(' ')
        .filter(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .map(|(_, token)| token.trim())
        .ok_or_else(|| Status::unauthenticated("the authorization header is not a Bearer token"))?;
    let verified = verifier.verify(token, &peer).await.map_err(|rejected| {
        let message = format!("token refused: {rejected}");
        match rejected.failure {
            Failure::Revoked => Status::permission_denied(message),
            // Not the caller's fault, and over once the revocations are loaded: retryable.
            Failure::RevocationsNotLoaded => Status::unavailable(message),
            _ => Status::unauthenticated(message),
        }
    })?;
    // The verifier checked the token's audience against its own; the method's service may declare
    // another (one layer guarding services of several audiences), and a token for one audience must
    // never call another's methods, whatever scopes it holds.
    if verified.audience() != contract.audience {
        return Err(Status::unauthenticated(format!(
            "token refused: wrong_audience: audience {:?} is not {path}'s {:?}",
            verified.audience(),
            contract.audience
        )));
    }
    // A federated issuer speaks only for its own workloads, whatever keys its verifier was given.
    if let Some(domain) = domain {
        if trust_domain_of(verified.subject()) != domain {
            return Err(Status::unauthenticated(format!(
                "token refused: wrong_issuer: sub {:?} is not in trust domain {domain:?}, whose issuer signed the token",
                verified.subject()
            )));
        }
    }
    let missing = verified.missing_scopes(&contract.required_scopes);
    if !missing.is_empty() {
        return Err(Status::permission_denied(format!(
            "the token of {} lacks scopes {:?} required by {path}",
            verified.subject(),
            missing
        )));
    }
    Ok(verified)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwks::{FederatedKeys, Keys};
    use crate::verify::thumbprint;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
    use serde_json::json;
    use std::sync::RwLock;
    use tower::ServiceExt;

    const POST: &str = "/examples.ledger.v1.LedgerService/PostEntry";

    /// A trust domain: its CA and its Lanyard's token signing key (ES256, kid "<td>-k1").
    struct Domain {
        name: &'static str,
        ca: rcgen::Certificate,
        ca_key: KeyPair,
        token_key: KeyPair,
    }

    impl Domain {
        fn new(name: &'static str) -> Domain {
            let ca_key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::default();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let ca = params.self_signed(&ca_key).unwrap();
            Domain { name, ca, ca_key, token_key: KeyPair::generate().unwrap() }
        }

        fn kid(&self) -> String {
            format!("{}-k1", self.name)
        }

        fn issuer(&self) -> String {
            format!("https://lanyard.{}", self.name)
        }

        fn jwk(&self) -> serde_json::Value {
            let point = self.token_key.public_key_raw();
            json!({"kty": "EC", "crv": "P-256", "kid": self.kid(), "use": "sig", "alg": "ES256",
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])})
        }

        fn fixed_keys(&self) -> Keys {
            Keys::fixed(&json!({ "keys": [self.jwk()] }).to_string()).unwrap()
        }

        /// The keys as the trust bundle's federated_bundles give them (`Identity::federated_keys`).
        fn federated_keys(&self) -> Keys {
            let jwk = serde_json::from_value(self.jwk()).unwrap();
            let all = HashMap::from([(self.name.to_string(), HashMap::from([(self.kid(), jwk)]))]);
            Keys::Federated(FederatedKeys { all: Arc::new(RwLock::new(all)), trust_domain: self.name.into() })
        }

        fn svid(&self, id: &str) -> Vec<u8> {
            let mut params = CertificateParams::default();
            params.subject_alt_names = vec![SanType::URI(id.try_into().unwrap())];
            params.signed_by(&KeyPair::generate().unwrap(), &self.ca, &self.ca_key).unwrap().der().to_vec()
        }

        /// A token this domain's Lanyard signs: any `sub`, bound to `peer`.
        fn token(&self, sub: &str, peer: &[u8]) -> String {
            self.token_holding(sub, peer, "ledger.write")
        }

        /// A token for audience "ledger" holding `scope` (space-separated).
        fn token_holding(&self, sub: &str, peer: &[u8], scope: &str) -> String {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
            let claims = json!({"iss": self.issuer(), "sub": sub, "aud": "ledger", "iat": now, "nbf": now,
                "exp": now + 300, "jti": format!("{}-t1", self.name), "scope": scope,
                "cnf": {"x5t#S256": thumbprint(peer)}});
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
            header.kid = Some(self.kid());
            let key = jsonwebtoken::EncodingKey::from_ec_pem(self.token_key.serialize_pem().as_bytes()).unwrap();
            jsonwebtoken::encode(&header, &claims, &key).unwrap()
        }
    }

    /// Calls PostEntry through the layer as a TLS connection presenting `peer` would; the subject
    /// the handler would see, or the refusal.
    async fn call(layer: &ScopeLayer, peer: &[u8], token: &str) -> Result<String, (String, String)> {
        call_method(layer, POST, peer, token).await
    }

    /// As [`call`], to the method at `path`.
    async fn call_method(layer: &ScopeLayer, path: &str, peer: &[u8], token: &str) -> Result<String, (String, String)> {
        call_with(layer, path, peer, &format!("Bearer {token}")).await
    }

    /// As [`call_method`], with the whole `authorization` header given.
    async fn call_with(
        layer: &ScopeLayer,
        path: &str,
        peer: &[u8],
        authorization: &str,
    ) -> Result<String, (String, String)> {
        let seen = Arc::new(std::sync::Mutex::new(None));
        let handler = {
            let seen = seen.clone();
            tower::service_fn(move |request: http::Request<()>| {
                *seen.lock().unwrap() = request.extensions().get::<VerifiedToken>().map(|t| t.subject().to_owned());
                async { Ok::<_, std::convert::Infallible>(http::Response::new(tonic::body::empty_body())) }
            })
        };
        let mut request =
            http::Request::builder().uri(path).header(http::header::AUTHORIZATION, authorization).body(()).unwrap();
        request.extensions_mut().insert(PeerCertificates(Arc::new(vec![peer.to_vec()])));
        let response = layer.layer(handler).oneshot(request).await.unwrap();
        let header =
            |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let subject = seen.lock().unwrap().clone();
        subject.ok_or_else(|| (header("grpc-status"), percent_decoded(&header("grpc-message"))))
    }

    /// A grpc-message as sent: percent-encoded.
    fn percent_decoded(text: &str) -> String {
        let mut bytes = text.bytes();
        let mut out = Vec::new();
        while let Some(b) = bytes.next() {
            match b {
                b'%' => {
                    let hex: String = bytes.by_ref().take(2).map(char::from).collect();
                    out.push(u8::from_str_radix(&hex, 16).unwrap());
                }
                _ => out.push(b),
            }
        }
        String::from_utf8(out).unwrap()
    }

    fn contracts() -> Contracts {
        Contracts::from_descriptor_set(crate::pb::FILE_DESCRIPTOR_SET, &["examples.ledger.v1.LedgerService"]).unwrap()
    }

    #[tokio::test]
    async fn a_federated_issuer_speaks_only_for_its_own_trust_domain() {
        let (a, b, c) = (Domain::new("a.test"), Domain::new("b.test"), Domain::new("c.test"));
        let ours = Arc::new(Verifier::new(a.issuer(), "ledger", a.fixed_keys()).unwrap());
        // b.test's keys from the trust bundle; c.test's from a fixed JWKS, which names no trust domain.
        let layer = ScopeLayer::new(ours, contracts())
            .with_federated("b.test", Arc::new(Verifier::new(b.issuer(), "ledger", b.federated_keys()).unwrap()))
            .with_federated("c.test", Arc::new(Verifier::new(c.issuer(), "ledger", c.fixed_keys()).unwrap()));
        let victim = "spiffe://a.test/ns/ledger/sa/treasurer";

        for evil in [&b, &c] {
            let peer = evil.svid(&format!("spiffe://{}/ns/shop/sa/api", evil.name));
            let (status, message) = call(&layer, &peer, &evil.token(victim, &peer)).await.unwrap_err();
            assert_eq!(status, "16", "{message}");
            assert!(message.contains("wrong_issuer"), "{message}");
            assert!(message.contains(&format!("not in trust domain \"{}\"", evil.name)), "{message}");
            // its own workloads' tokens still pass, with their own identity
            let own = format!("spiffe://{}/ns/shop/sa/api", evil.name);
            assert_eq!(call(&layer, &peer, &evil.token(&own, &peer)).await.unwrap(), own);
        }
        let peer = a.svid("spiffe://a.test/ns/shop/sa/api");
        assert_eq!(
            call(&layer, &peer, &a.token("spiffe://a.test/ns/shop/sa/api", &peer)).await.unwrap(),
            "spiffe://a.test/ns/shop/sa/api"
        );
    }

    #[tokio::test]
    async fn a_verifier_refuses_a_subject_outside_its_trust_domain() {
        let (a, b) = (Domain::new("a.test"), Domain::new("b.test"));
        let peer = b.svid("spiffe://b.test/ns/shop/sa/api");
        let forged = b.token("spiffe://a.test/ns/ledger/sa/treasurer", &peer);
        let federated = Verifier::new(b.issuer(), "ledger", b.federated_keys()).unwrap();
        let refused = federated.verify(&forged, &peer).await.unwrap_err();
        assert_eq!(refused.failure, Failure::WrongIssuer, "{refused}");
        assert!(federated.verify(&b.token("spiffe://b.test/ns/shop/sa/api", &peer), &peer).await.is_ok());

        let peer = a.svid("spiffe://a.test/ns/shop/sa/api");
        let ours = Verifier::new(a.issuer(), "ledger", a.fixed_keys()).unwrap().with_trust_domain("a.test");
        let refused = ours.verify(&a.token("spiffe://b.test/ns/shop/sa/api", &peer), &peer).await.unwrap_err();
        assert_eq!(refused.failure, Failure::WrongIssuer, "{refused}");
        assert!(ours.verify(&a.token("spiffe://a.test/ns/shop/sa/api", &peer), &peer).await.is_ok());
    }

    /// One layer guarding services of two audiences with the verifier of one: a token for "ledger"
    /// never calls a payments method, even holding scopes of the same names (as Java refuses per call).
    #[tokio::test]
    async fn a_token_for_one_audience_does_not_call_another_audiences_method() {
        let a = Domain::new("a.test");
        let both = Contracts::from_descriptor_set(
            crate::pb::FILE_DESCRIPTOR_SET,
            &["examples.ledger.v1.LedgerService", "examples.payments.v1.PaymentsService"],
        )
        .unwrap();
        let layer = ScopeLayer::new(Arc::new(Verifier::new(a.issuer(), "ledger", a.fixed_keys()).unwrap()), both);
        let id = "spiffe://a.test/ns/shop/sa/api";
        let peer = a.svid(id);
        let token = a.token_holding(id, &peer, "ledger.write payments.refund payments.charge.read");
        let refund = "/examples.payments.v1.PaymentsService/Refund";
        let (status, message) = call_method(&layer, refund, &peer, &token).await.unwrap_err();
        assert_eq!(status, "16", "{message}");
        assert!(message.contains("wrong_audience"), "{message}");
        assert_eq!(call_method(&layer, POST, &peer, &token).await.unwrap(), id, "its own audience's method");
    }

    /// The Bearer scheme is read in any case and the token trimmed, as Go and Java read it.
    #[tokio::test]
    async fn the_bearer_scheme_is_read_in_any_case() {
        let a = Domain::new("a.test");
        let layer =
            ScopeLayer::new(Arc::new(Verifier::new(a.issuer(), "ledger", a.fixed_keys()).unwrap()), contracts());
        let id = "spiffe://a.test/ns/shop/sa/api";
        let peer = a.svid(id);
        let token = a.token(id, &peer);
        for header in [format!("BEARER {token}"), format!("Bearer  {token} ")] {
            assert_eq!(call_with(&layer, POST, &peer, &header).await.unwrap(), id, "{}", &header[..8]);
        }
        for header in ["Bearer ".to_string(), format!("Basic {token}"), token.clone()] {
            let (status, _) = call_with(&layer, POST, &peer, &header).await.unwrap_err();
            assert_eq!(status, "16");
        }
    }

    /// A revocation set whose first catch-up the test decides.
    #[derive(Default)]
    struct Loading {
        loaded: std::sync::atomic::AtomicBool,
    }

    impl crate::verify::RevocationSet for Loading {
        fn is_revoked_jti(&self, _: &str) -> bool {
            false
        }
        fn is_revoked_identity(&self, _: &str) -> bool {
            false
        }
        fn is_revoked_serial(&self, _: &str) -> bool {
            false
        }
        fn is_loaded(&self) -> bool {
            self.loaded.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    /// Until its revocations are loaded once, a verifier that has just started could let a revoked
    /// caller through: every call is refused UNAVAILABLE, saying why, then passes once they are.
    #[tokio::test]
    async fn calls_are_refused_unavailable_until_the_revocations_are_loaded() {
        let a = Domain::new("a.test");
        let revocations = Arc::new(Loading::default());
        let verifier =
            Verifier::new(a.issuer(), "ledger", a.fixed_keys()).unwrap().with_revocations(revocations.clone());
        let layer = ScopeLayer::new(Arc::new(verifier), contracts());
        let id = "spiffe://a.test/ns/shop/sa/api";
        let peer = a.svid(id);
        let (status, message) = call(&layer, &peer, &a.token(id, &peer)).await.unwrap_err();
        assert_eq!(status, "14", "UNAVAILABLE: {message}");
        assert!(message.contains("revocations are not loaded yet"), "{message}");
        revocations.loaded.store(true, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(call(&layer, &peer, &a.token(id, &peer)).await.unwrap(), id);
    }

    /// With a revocation wait, a call made just before the first catch-up waits for it.
    #[tokio::test]
    async fn a_call_waits_for_the_first_load_within_the_revocation_wait() {
        let a = Domain::new("a.test");
        let revocations = Arc::new(Loading::default());
        let verifier = Verifier::new(a.issuer(), "ledger", a.fixed_keys())
            .unwrap()
            .with_revocations(revocations.clone())
            .with_revocation_wait(std::time::Duration::from_secs(10));
        let layer = ScopeLayer::new(Arc::new(verifier), contracts());
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            revocations.loaded.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let id = "spiffe://a.test/ns/shop/sa/api";
        let peer = a.svid(id);
        assert_eq!(call(&layer, &peer, &a.token(id, &peer)).await.unwrap(), id);
    }

    /// As the Go and Java verifiers, an empty issuer or audience, or a skew over the cap, is refused
    /// when the verifier is made, not silently taken (or capped).
    #[test]
    fn an_empty_issuer_or_audience_or_a_skew_over_the_cap_is_refused() {
        let a = Domain::new("a.test");
        let message = |r: Result<Verifier, crate::Error>| r.err().expect("accepted").to_string();
        assert!(message(Verifier::new("", "ledger", a.fixed_keys())).contains("an issuer is required"));
        assert!(message(Verifier::new(a.issuer(), " ", a.fixed_keys())).contains("an audience is required"));
        let over = crate::verify::MAX_SKEW + std::time::Duration::from_secs(1);
        let refused = Verifier::new(a.issuer(), "ledger", a.fixed_keys()).unwrap().with_skew(over);
        assert!(message(refused).contains("more than the maximum 300 s"));
        assert!(Verifier::new(a.issuer(), "ledger", a.fixed_keys())
            .unwrap()
            .with_skew(crate::verify::MAX_SKEW)
            .is_ok());
    }

    /// As the Go and Java verifiers, `with_algorithms` refuses an empty list, `none`, HS* and an
    /// algorithm Lanyard does not sign with, instead of dropping them (an empty list once meant a
    /// verifier refusing every token, and `["HS256"]` the same, without a word).
    #[tokio::test]
    async fn with_algorithms_refuses_an_empty_list_none_hmac_and_unknown_names() {
        let a = Domain::new("a.test");
        let with = |algorithms: &[&str]| {
            Verifier::new(a.issuer(), "ledger", a.fixed_keys()).unwrap().with_algorithms(algorithms)
        };
        let message = |algorithms: &[&str]| with(algorithms).err().expect("accepted").to_string();
        assert!(message(&[]).contains("at least one algorithm must be allowed"));
        assert!(message(&["ES256", "none"]).contains("alg none can never be allowed"));
        assert!(message(&["NONE"]).contains("alg none can never be allowed"));
        assert!(message(&["HS256"]).contains("\"HS256\" can never be allowed: HMAC"));
        assert!(message(&["ES256", "hs512"]).contains("can never be allowed: HMAC"));
        assert!(message(&["ES512"]).contains("unsupported algorithm \"ES512\""));

        // What is allowed is what was asked: ES256 tokens pass with ES256, and not with ES384 only.
        let id = "spiffe://a.test/ns/shop/sa/api";
        let peer = a.svid(id);
        let layer = |algorithms: &[&str]| ScopeLayer::new(Arc::new(with(algorithms).unwrap()), contracts());
        assert_eq!(call(&layer(&["ES256"]), &peer, &a.token(id, &peer)).await.unwrap(), id);
        let (status, text) = call(&layer(&["ES384"]), &peer, &a.token(id, &peer)).await.unwrap_err();
        assert_eq!(status, "16");
        assert!(text.contains("bad_algorithm"), "{text}");
    }
}
