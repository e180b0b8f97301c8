//! A tower layer for tonic servers: every call must carry a Lanyard token that verifies, is bound
//! to the caller's TLS client certificate, and holds every scope the RPC's `.proto` options require.
//! UNAUTHENTICATED for a missing or bad token, PERMISSION_DENIED for a missing scope, a revoked
//! caller, or a method that declares no scopes (it accepts no token at all: fail closed).
//! A caller of a federated trust domain is checked by that trust domain's verifier (its Lanyard's
//! issuer and keys), where one is added with [`ScopeLayer::with_federated`].

use crate::contract::Contracts;
use crate::transport::PeerCertificates;
use crate::verify::{Failure, VerifiedToken, Verifier};
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

/// The verifier for a caller: its trust domain's, if one was added, else ours.
fn verifier_for<'a>(
    ours: &'a Arc<Verifier>,
    federated: &'a HashMap<String, Arc<Verifier>>,
    peer: Option<&[u8]>,
) -> &'a Arc<Verifier> {
    let domain = peer
        .and_then(crate::tls::spiffe_id)
        .and_then(|id| id.strip_prefix("spiffe://").and_then(|rest| rest.split('/').next()).map(str::to_owned));
    domain.and_then(|d| federated.get(&d)).unwrap_or(ours)
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
        let verifier = verifier_for(&self.verifier, &self.federated, call.peer.as_deref()).clone();
        Box::pin(async move {
            match authorize(&verifier, &contracts, call).await {
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

async fn authorize(verifier: &Verifier, contracts: &Contracts, call: Call) -> Result<VerifiedToken, Status> {
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
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .ok_or_else(|| Status::unauthenticated("the authorization header is not a Bearer token"))?;
    let verified = verifier.verify(token, &peer).await.map_err(|rejected| {
        let message = format!("token refused: {rejected}");
        if rejected.failure == Failure::Revoked {
            Status::permission_denied(message)
        } else {
            Status::unauthenticated(message)
        }
    })?;
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
