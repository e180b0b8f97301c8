//! The loopback control API: what the cross-language tests (and an operator) use to see the
//! service's identity and to make it call another service. Responses never contain a token.

use axum::extract::State as Extract;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use lanyard::identity::Identity;
use lanyard::revocation::RevocationWatcher;
use lanyard::token::TokenSource;
use prost::Message;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

#[derive(Clone)]
pub struct State {
    identity: Identity,
    revocations: RevocationWatcher,
    tokens: Arc<TokenSource>,
}

impl State {
    pub fn new(identity: Identity, revocations: RevocationWatcher) -> State {
        State { tokens: Arc::new(TokenSource::new(identity.clone())), identity, revocations }
    }
}

pub fn router(state: State) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/status", get(status))
        .route("/call", post(call))
        .route("/renew", post(renew))
        .with_state(state)
}

async fn healthz(Extract(s): Extract<State>) -> (StatusCode, Json<Value>) {
    if !s.revocations.is_loaded() {
        // The verifier refuses every call (UNAVAILABLE) until the revocation stream has caught up.
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": "revocations are not loaded yet"})));
    }
    let svid = s.identity.svid();
    (StatusCode::OK, Json(json!({"spiffe_id": svid.spiffe_id, "serial": svid.serial})))
}

async fn status(Extract(s): Extract<State>) -> Json<Value> {
    let svid = s.identity.svid();
    Json(json!({
        "spiffe_id": svid.spiffe_id,
        "serial": svid.serial,
        "not_after": svid.not_after.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs(),
        "renewals": s.identity.renewals(),
        "last_renewal_error": s.identity.last_renewal_error().unwrap_or_default(),
        "revocation_sequence": s.revocations.last_sequence(),
    }))
}

/// Renews the certificate now and reports the outcome as a gRPC status, like /call.
async fn renew(Extract(s): Extract<State>) -> Json<Value> {
    match s.identity.renew().await {
        Ok(()) => Json(json!({"code": "OK", "message": format!("renewed, serial {}", s.identity.svid().serial)})),
        Err(e) => Json(json!({"code": code_name(status_of(e).code()), "message": s.identity.last_renewal_error()})),
    }
}

#[derive(Deserialize)]
struct CallRequest {
    target: String,
    method: String,
    #[serde(default)]
    audience: String,
    #[serde(default)]
    scopes: Vec<String>,
    /// A token to send instead of fetching one (tests replay tokens with it).
    #[serde(default)]
    token: String,
    /// The request message in protobuf JSON; empty means the default message.
    #[serde(default)]
    request: Option<Value>,
}

/// Makes one call over mTLS with the current certificate and a token bound to it, and reports the status.
async fn call(Extract(s): Extract<State>, Json(req): Json<CallRequest>) -> (StatusCode, Json<Value>) {
    match make_call(&s, req).await {
        Ok(status) => (StatusCode::OK, Json(json!({"code": code_name(status.code()), "message": status.message()}))),
        Err(bad) => (StatusCode::BAD_REQUEST, Json(json!({"error": bad}))),
    }
}

async fn make_call(s: &State, req: CallRequest) -> Result<tonic::Status, String> {
    let pool = prost_reflect::DescriptorPool::decode(lanyard::pb::FILE_DESCRIPTOR_SET).map_err(|e| e.to_string())?;
    let (service, method) = req
        .method
        .trim_start_matches('/')
        .split_once('/')
        .ok_or_else(|| format!("method must be /package.Service/Method, not {:?}", req.method))?;
    let descriptor = pool
        .get_service_by_name(service)
        .and_then(|svc| svc.methods().find(|m| m.name() == method))
        .ok_or_else(|| format!("unknown method {}", req.method))?;
    let body = match req.request {
        Some(json) => {
            let message = prost_reflect::DynamicMessage::deserialize(descriptor.input(), json)
                .map_err(|e| format!("request is not a {}: {e}", descriptor.input().full_name()))?;
            message.encode_to_vec()
        }
        None => Vec::new(),
    };
    // One certificate for the whole call: the token is bound to it and the connection presents it.
    let Some(mut held) = s.identity.held() else {
        // Only with an identity from the agent, which no longer serves us one (revoked, deleted).
        return Ok(tonic::Status::permission_denied("the agent serves no identity to us: no certificate is held"));
    };
    let token = if req.token.is_empty() {
        let mut fetched = s.tokens.token(&held, &req.audience, &req.scopes).await;
        if matches!(fetched, Err(lanyard::Error::Transient(_))) {
            // From an agent that just renewed us: once more with the certificate now held.
            held = s.identity.held().unwrap_or(held);
            fetched = s.tokens.token(&held, &req.audience, &req.scopes).await;
        }
        match fetched {
            Ok(t) => t,
            // Lanyard refused to mint: report its status as the outcome of the call.
            Err(e) => return Ok(status_of(e)),
        }
    } else {
        req.token
    };
    let channel =
        lanyard::transport::channel(&req.target, s.identity.client_config_for(&held)).map_err(|e| e.to_string())?;
    let mut grpc = tonic::client::Grpc::new(channel);
    if let Err(e) = grpc.ready().await {
        return Ok(tonic::Status::unavailable(e.to_string()));
    }
    let mut request = tonic::Request::new(body);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().map_err(|_| "the token is not a valid header value".to_string())?,
    );
    let path = http::uri::PathAndQuery::try_from(req.method.as_str()).map_err(|e| e.to_string())?;
    if descriptor.is_server_streaming() {
        return Ok(match grpc.server_streaming(request, path, BytesCodec).await {
            Ok(_) => tonic::Status::ok(""),
            Err(status) => status,
        });
    }
    Ok(match grpc.unary(request, path, BytesCodec).await {
        Ok(_) => tonic::Status::ok(""),
        Err(status) => status,
    })
}

fn status_of(e: lanyard::Error) -> tonic::Status {
    let text = e.to_string();
    for (name, code) in [
        ("PermissionDenied", tonic::Code::PermissionDenied),
        ("InvalidArgument", tonic::Code::InvalidArgument),
        ("Unauthenticated", tonic::Code::Unauthenticated),
        ("ResourceExhausted", tonic::Code::ResourceExhausted),
    ] {
        if text.contains(name) {
            return tonic::Status::new(code, text);
        }
    }
    tonic::Status::unavailable(text)
}

fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Sends and receives raw message bytes: the control API calls any method without its Rust type.
#[derive(Clone, Copy)]
struct BytesCodec;

impl tonic::codec::Codec for BytesCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = BytesCodec;
    type Decoder = BytesCodec;

    fn encoder(&mut self) -> Self::Encoder {
        BytesCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        BytesCodec
    }
}

impl tonic::codec::Encoder for BytesCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for BytesCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        use bytes::Buf;
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}
