//! Verifies a Lanyard token presented over mTLS: the same checks, in the same terms, as the Java
//! and Go verifiers (the shared vectors in `testdata/vectors` hold all three to that).

use crate::jwks::Keys;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longer tokens are refused unparsed; a Lanyard token is well under 2 KiB.
const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// The largest clock skew a verifier may allow.
pub const MAX_SKEW: Duration = Duration::from_secs(300);

/// Why a token was refused: the failure classes all Lanyard verifiers share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    Malformed,
    BadAlgorithm,
    UnknownKey,
    BadSignature,
    WrongIssuer,
    WrongAudience,
    Expired,
    NotYetValid,
    MissingScope,
    CnfMismatch,
    Revoked,
}

impl Failure {
    /// The shared name, e.g. "cnf_mismatch".
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::Malformed => "malformed",
            Failure::BadAlgorithm => "bad_algorithm",
            Failure::UnknownKey => "unknown_key",
            Failure::BadSignature => "bad_signature",
            Failure::WrongIssuer => "wrong_issuer",
            Failure::WrongAudience => "wrong_audience",
            Failure::Expired => "expired",
            Failure::NotYetValid => "not_yet_valid",
            Failure::MissingScope => "missing_scope",
            Failure::CnfMismatch => "cnf_mismatch",
            Failure::Revoked => "revoked",
        }
    }
}

/// A refusal: its class and a reason safe to return to the caller (it never contains the token).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {reason}", failure.as_str())]
pub struct Rejected {
    pub failure: Failure,
    pub reason: String,
}

fn reject(failure: Failure, reason: impl Into<String>) -> Rejected {
    Rejected { failure, reason: reason.into() }
}

/// What a verifier asks of the revocation registry (answered from memory).
pub trait RevocationSet: Send + Sync {
    fn is_revoked_jti(&self, jti: &str) -> bool;
    fn is_revoked_identity(&self, spiffe_id: &str) -> bool;
    /// A certificate serial, lower-case hex without leading zeros.
    fn is_revoked_serial(&self, serial_hex: &str) -> bool;
}

/// Nothing is revoked.
pub struct NoRevocations;

impl RevocationSet for NoRevocations {
    fn is_revoked_jti(&self, _: &str) -> bool {
        false
    }
    fn is_revoked_identity(&self, _: &str) -> bool {
        false
    }
    fn is_revoked_serial(&self, _: &str) -> bool {
        false
    }
}

/// A token that passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub subject: String,
    pub audience: String,
    pub scopes: BTreeSet<String>,
    pub token_id: String,
    pub expires_at: u64,
}

impl VerifiedToken {
    /// The required scopes this token does not hold, in order.
    pub fn missing_scopes<'a>(&self, required: impl IntoIterator<Item = &'a String>) -> Vec<String> {
        required.into_iter().filter(|s| !self.scopes.contains(*s)).cloned().collect()
    }
}

/// Verifies tokens for one audience.
pub struct Verifier {
    issuer: String,
    audience: String,
    skew: Duration,
    algorithms: Vec<String>,
    keys: Keys,
    revocations: Arc<dyn RevocationSet>,
}

impl Verifier {
    /// Every algorithm Lanyard can sign with is allowed; `none` and HS* never are.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>, keys: Keys) -> Verifier {
        Verifier {
            issuer: issuer.into(),
            audience: audience.into(),
            skew: Duration::from_secs(30),
            algorithms: ["ES256", "ES384", "EdDSA", "RS256", "PS256"].map(String::from).to_vec(),
            keys,
            revocations: Arc::new(NoRevocations),
        }
    }

    /// Tolerated clock difference with the issuer (default 30 s), capped at [`MAX_SKEW`].
    pub fn with_skew(mut self, skew: Duration) -> Verifier {
        self.skew = skew.min(MAX_SKEW);
        self
    }

    /// Restricts the allowed algorithms (JOSE names); none and HS* are ignored.
    pub fn with_algorithms(mut self, algorithms: &[&str]) -> Verifier {
        self.algorithms =
            algorithms.iter().filter(|a| !a.starts_with("HS") && **a != "none").map(|a| a.to_string()).collect();
        self
    }

    /// Revoked token ids, identities and certificates to refuse.
    pub fn with_revocations(mut self, revocations: Arc<dyn RevocationSet>) -> Verifier {
        self.revocations = revocations;
        self
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Verifies `token` presented over a TLS connection whose client certificate is `peer_der`.
    pub async fn verify(&self, token: &str, peer_der: &[u8]) -> Result<VerifiedToken, Rejected> {
        self.verify_at(token, peer_der, SystemTime::now()).await
    }

    /// As [`verify`](Self::verify), at a given time (tests and the shared vectors).
    pub async fn verify_at(&self, token: &str, peer_der: &[u8], now: SystemTime) -> Result<VerifiedToken, Rejected> {
        if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
            return Err(reject(Failure::Malformed, "no token, or one longer than 16 KiB"));
        }
        let parts: Vec<&str> = token.split('.').collect();
        if parts.len() != 3 {
            return Err(reject(Failure::Malformed, "not a compact JWS (three base64url parts)"));
        }
        let header = json_part(parts[0], "header")?;
        let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
        if alg.eq_ignore_ascii_case("none") || alg.starts_with("HS") {
            return Err(reject(Failure::BadAlgorithm, format!("alg {alg} is never accepted")));
        }
        if !self.algorithms.iter().any(|a| a == alg) {
            return Err(reject(Failure::BadAlgorithm, format!("alg {alg} is not allowed")));
        }
        if header.get("typ").is_some_and(|t| t.as_str() != Some("JWT")) {
            return Err(reject(Failure::Malformed, "typ is not JWT"));
        }
        if header.get("crit").is_some() {
            return Err(reject(Failure::Malformed, "critical header parameters are not understood"));
        }
        let kid = header
            .get("kid")
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| reject(Failure::Malformed, "the header has no kid"))?;
        let jwk =
            self.keys.get(kid).await.ok_or_else(|| reject(Failure::UnknownKey, format!("no published key {kid:?}")))?;
        let algorithm = fitting(alg, &jwk)?;
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| reject(Failure::UnknownKey, format!("key {kid:?}: {e}")))?;
        let message = format!("{}.{}", parts[0], parts[1]);
        let good = jsonwebtoken::crypto::verify(parts[2], message.as_bytes(), &key, algorithm)
            .map_err(|_| reject(Failure::BadSignature, "the signature does not verify"))?;
        if !good {
            return Err(reject(Failure::BadSignature, "the signature does not verify"));
        }
        let claims = json_part(parts[1], "payload")?;
        self.check_claims(&claims, peer_der, now)
    }

    fn check_claims(&self, claims: &Value, peer_der: &[u8], now: SystemTime) -> Result<VerifiedToken, Rejected> {
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let issuer = text("iss").ok_or_else(|| reject(Failure::Malformed, "no iss"))?;
        if issuer != self.issuer {
            return Err(reject(Failure::WrongIssuer, format!("issuer {issuer:?} is not {:?}", self.issuer)));
        }
        let audience = match claims.get("aud") {
            Some(Value::String(a)) => a.clone(),
            Some(Value::Array(a)) if a.len() == 1 && a[0].is_string() => a[0].as_str().unwrap_or_default().to_owned(),
            Some(_) => return Err(reject(Failure::WrongAudience, "aud must name exactly one audience")),
            None => return Err(reject(Failure::Malformed, "no aud")),
        };
        if audience != self.audience {
            return Err(reject(Failure::WrongAudience, format!("audience {audience:?} is not {:?}", self.audience)));
        }
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
        let skew = self.skew.as_secs() as i64;
        let number = |name: &str| claims.get(name).and_then(Value::as_i64);
        let exp = number("exp").ok_or_else(|| reject(Failure::Malformed, "no exp"))?;
        if now > exp + skew {
            return Err(reject(Failure::Expired, format!("expired {} s ago", now - exp)));
        }
        for name in ["nbf", "iat"] {
            if let Some(t) = number(name) {
                if t > now + skew {
                    return Err(reject(Failure::NotYetValid, format!("{name} is {} s ahead", t - now)));
                }
            }
        }
        let subject = text("sub").ok_or_else(|| reject(Failure::Malformed, "no sub"))?;
        let token_id = text("jti").ok_or_else(|| reject(Failure::Malformed, "no jti"))?;
        let bound =
            claims.get("cnf").and_then(|c| c.get("x5t#S256")).and_then(Value::as_str).ok_or_else(|| {
                reject(Failure::CnfMismatch, "the token is not bound to a certificate (no cnf x5t#S256)")
            })?;
        if bound != thumbprint(peer_der) {
            return Err(reject(Failure::CnfMismatch, "the token is bound to another certificate than the caller's"));
        }
        if self.revocations.is_revoked_identity(&subject) {
            return Err(reject(Failure::Revoked, format!("{subject} is revoked")));
        }
        if self.revocations.is_revoked_jti(&token_id) {
            return Err(reject(Failure::Revoked, format!("token {token_id} is revoked")));
        }
        if let Some(serial) = serial_hex(peer_der) {
            if self.revocations.is_revoked_serial(&serial) {
                return Err(reject(Failure::Revoked, format!("the caller's certificate {serial} is revoked")));
            }
        }
        let scopes = text("scope").unwrap_or_default().split(' ').filter(|s| !s.is_empty()).map(String::from).collect();
        Ok(VerifiedToken { subject, audience, scopes, token_id, expires_at: exp.max(0) as u64 })
    }
}

/// RFC 8705 `x5t#S256`: base64url SHA-256 of the certificate's DER.
pub fn thumbprint(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(der))
}

/// The certificate's serial as lower-case hex without leading zeros.
pub fn serial_hex(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let hex = hex::encode(cert.raw_serial());
    let trimmed = hex.trim_start_matches('0');
    Some(if trimmed.is_empty() { "0".into() } else { trimmed.into() })
}

fn json_part(part: &str, what: &str) -> Result<Value, Rejected> {
    let bytes =
        URL_SAFE_NO_PAD.decode(part).map_err(|_| reject(Failure::Malformed, format!("the {what} is not base64url")))?;
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|_| reject(Failure::Malformed, format!("the {what} is not JSON")))?;
    if !value.is_object() {
        return Err(reject(Failure::Malformed, format!("the {what} is not a JSON object")));
    }
    Ok(value)
}

/// The algorithm, if the key is of the kind it needs.
fn fitting(alg: &str, jwk: &Jwk) -> Result<Algorithm, Rejected> {
    let fits = match (alg, &jwk.algorithm) {
        ("ES256", AlgorithmParameters::EllipticCurve(p)) => p.curve == EllipticCurve::P256,
        ("ES384", AlgorithmParameters::EllipticCurve(p)) => p.curve == EllipticCurve::P384,
        ("EdDSA", AlgorithmParameters::OctetKeyPair(p)) => p.curve == EllipticCurve::Ed25519,
        ("RS256" | "PS256", AlgorithmParameters::RSA(_)) => true,
        _ => false,
    };
    if !fits {
        return Err(reject(Failure::BadAlgorithm, format!("alg {alg} does not fit the published key")));
    }
    Ok(match alg {
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        "RS256" => Algorithm::RS256,
        _ => Algorithm::PS256,
    })
}

/// Decodes standard base64 (the vectors' certificate encoding).
pub fn base64_der(text: &str) -> Result<Vec<u8>, String> {
    STANDARD.decode(text).map_err(|e| e.to_string())
}
