//! Verifies a Lanyard token presented over mTLS: the same checks, in the same terms, as the Java
//! and Go verifiers (the shared vectors in `testdata/vectors` hold all three to that).

mod shape;

use crate::jwks::Keys;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
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

/// The algorithms Lanyard signs with, and so the most a verifier may allow (`none` and HS* never).
pub const SUPPORTED_ALGORITHMS: [&str; 5] = ["ES256", "ES384", "EdDSA", "RS256", "PS256"];

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
    /// The revocations in force have not been loaded once yet (the watcher has just started): the
    /// token cannot be checked against them, so it is refused; retrying shortly may succeed.
    RevocationsNotLoaded,
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
            Failure::RevocationsNotLoaded => "revocations_not_loaded",
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
    /// As [`RevocationSet::is_revoked_jti`], for a token of `spiffe_id`: a set that knows which
    /// federated trust domain made a revocation applies it only to that trust domain's tokens.
    fn is_revoked_jti_of(&self, jti: &str, _spiffe_id: &str) -> bool {
        self.is_revoked_jti(jti)
    }
    /// As [`RevocationSet::is_revoked_serial`], for a certificate of `spiffe_id` (scoped the same way).
    fn is_revoked_serial_of(&self, serial_hex: &str, _spiffe_id: &str) -> bool {
        self.is_revoked_serial(serial_hex)
    }
    /// Whether the revocations in force have been loaded once. Until then a verifier refuses every
    /// token (fail closed): a set that has not caught up would let a revoked caller through. A set
    /// held in memory from the start (the default) is loaded.
    fn is_loaded(&self) -> bool {
        true
    }
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

/// A token that passed every check. Only [`Verifier`] makes one (its fields are private and it has
/// no public constructor), so holding a `VerifiedToken` means it verified:
///
/// ```compile_fail
/// let forged = lanyard::verify::VerifiedToken {
///     subject: "spiffe://td/admin".into(), audience: String::new(), scopes: Default::default(),
///     token_id: String::new(), expires_at: 0, key_id: String::new(),
/// };
/// ```
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    subject: String,
    audience: String,
    scopes: BTreeSet<String>,
    token_id: String,
    expires_at: u64,
    key_id: String,
}

impl VerifiedToken {
    /// The caller's SPIFFE ID (`sub`).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The one audience the token names (`aud`), equal to the verifier's.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The scopes the token holds (`scope`).
    pub fn scopes(&self) -> &BTreeSet<String> {
        &self.scopes
    }

    /// The token's unique id (`jti`), for revocation and audit.
    pub fn token_id(&self) -> &str {
        &self.token_id
    }

    /// When the token expires (`exp`), in seconds since the Unix epoch.
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// The id of the key that signed it (`kid`).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

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
    /// How long a check waits for the revocations to be loaded before refusing.
    revocation_wait: Duration,
    /// The trust domain whose issuer and keys these are: a token's `sub` must be in it, or another
    /// trust domain's issuer could speak for our workloads (or theirs for each other).
    trust_domain: Option<String>,
}

impl Verifier {
    /// Every algorithm Lanyard can sign with is allowed; `none` and HS* never are. With a federated
    /// trust domain's keys (`Identity::federated_keys`), only tokens of that trust domain's workloads
    /// verify; with others, see [`Verifier::with_trust_domain`]. An empty issuer or audience is
    /// refused here, not at the first call, as the Go and Java verifiers do.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>, keys: Keys) -> Result<Verifier, crate::Error> {
        let (issuer, audience) = (issuer.into(), audience.into());
        if issuer.trim().is_empty() {
            return Err(crate::Error::Invalid(
                "verify: an issuer is required (the Lanyard server's issuer URL)".into(),
            ));
        }
        if audience.trim().is_empty() {
            return Err(crate::Error::Invalid(
                "verify: an audience is required (this service's lanyard.v1.audience)".into(),
            ));
        }
        let trust_domain = match &keys {
            Keys::Federated(f) => Some(f.trust_domain.clone()),
            _ => None,
        };
        Ok(Verifier {
            issuer,
            audience,
            skew: Duration::from_secs(30),
            algorithms: SUPPORTED_ALGORITHMS.map(String::from).to_vec(),
            keys,
            revocations: Arc::new(NoRevocations),
            revocation_wait: Duration::ZERO,
            trust_domain,
        })
    }

    /// Tolerated clock difference with the issuer (default 30 s); more than [`MAX_SKEW`] is refused,
    /// as in the Go and Java verifiers: a larger one would keep expired tokens alive.
    pub fn with_skew(mut self, skew: Duration) -> Result<Verifier, crate::Error> {
        if skew > MAX_SKEW {
            return Err(crate::Error::Invalid(format!(
                "verify: skew {} s is more than the maximum {} s",
                skew.as_secs_f64(),
                MAX_SKEW.as_secs()
            )));
        }
        self.skew = skew;
        Ok(self)
    }

    /// Restricts the allowed algorithms (JOSE names). As in the Go and Java verifiers, an empty list,
    /// `none`, HS* or an algorithm Lanyard does not sign with is refused here, not dropped: dropping
    /// would leave a verifier allowing less (or nothing) than it was asked to, without a word.
    pub fn with_algorithms(mut self, algorithms: &[&str]) -> Result<Verifier, crate::Error> {
        if algorithms.is_empty() {
            return Err(crate::Error::Invalid("verify: at least one algorithm must be allowed".into()));
        }
        let mut allowed = Vec::with_capacity(algorithms.len());
        for name in algorithms {
            let name = name.trim();
            if name.eq_ignore_ascii_case("none") {
                return Err(crate::Error::Invalid(
                    "verify: alg none can never be allowed: it means an unsigned token".into(),
                ));
            }
            if name.to_ascii_uppercase().starts_with("HS") {
                return Err(crate::Error::Invalid(format!(
                    "verify: alg {name:?} can never be allowed: HMAC would use a public key as a shared secret"
                )));
            }
            if !SUPPORTED_ALGORITHMS.contains(&name) {
                return Err(crate::Error::Invalid(format!(
                    "verify: unsupported algorithm {name:?}; supported: {}",
                    SUPPORTED_ALGORITHMS.join(", ")
                )));
            }
            if !allowed.iter().any(|a: &String| a == name) {
                allowed.push(name.to_string());
            }
        }
        self.algorithms = allowed;
        Ok(self)
    }

    /// Accepts only tokens whose `sub` is in `trust_domain`, the one whose issuer and keys these are.
    pub fn with_trust_domain(mut self, trust_domain: impl Into<String>) -> Verifier {
        self.trust_domain = Some(trust_domain.into());
        self
    }

    /// Revoked token ids, identities and certificates to refuse. Until `revocations` has been
    /// loaded once ([`RevocationSet::is_loaded`]) every token is refused with
    /// [`Failure::RevocationsNotLoaded`] (the layer answers UNAVAILABLE).
    pub fn with_revocations(mut self, revocations: Arc<dyn RevocationSet>) -> Verifier {
        self.revocations = revocations;
        self
    }

    /// How long a check waits for the revocations to be loaded, just after start, before refusing
    /// (default: not at all).
    pub fn with_revocation_wait(mut self, wait: Duration) -> Verifier {
        self.revocation_wait = wait;
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
        let parts = shape::parts(token)?;
        shape::check_json(&parts[0], "header")?;
        let header: Value =
            serde_json::from_slice(&parts[0]).map_err(|_| reject(Failure::Malformed, "the header is not JSON"))?;
        let alg = header_string(&header, "alg")?.ok_or_else(|| reject(Failure::Malformed, "the header has no alg"))?;
        if alg.eq_ignore_ascii_case("none") || alg.to_ascii_uppercase().starts_with("HS") {
            return Err(reject(Failure::BadAlgorithm, format!("alg {alg:?} is never accepted")));
        }
        if !self.algorithms.iter().any(|a| a == alg) {
            return Err(reject(Failure::BadAlgorithm, format!("alg {alg:?} is not allowed")));
        }
        // Lanyard always writes typ JWT; anything else (absent, JOSE, at+jwt, jwt) is another kind of JWS.
        match header_string(&header, "typ")? {
            Some("JWT") => {}
            Some(other) => return Err(reject(Failure::Malformed, format!("typ {other:?} is not JWT"))),
            None => return Err(reject(Failure::Malformed, "the header has no typ")),
        }
        if header.get("crit").is_some() {
            return Err(reject(Failure::Malformed, "critical header parameters are not understood"));
        }
        if header.get("zip").is_some() {
            return Err(reject(Failure::Malformed, "the header has zip; a JWS payload is never compressed"));
        }
        let kid = header_string(&header, "kid")?
            .filter(|k| !k.is_empty())
            .ok_or_else(|| reject(Failure::Malformed, "the header has no kid"))?;
        let jwk =
            self.keys.get(kid).await.ok_or_else(|| reject(Failure::UnknownKey, format!("no published key {kid:?}")))?;
        let algorithm = fitting(alg, kid, &jwk)?;
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| reject(Failure::UnknownKey, format!("key {kid:?}: {e}")))?;
        let dot = token.rfind('.').unwrap_or_default();
        let good = jsonwebtoken::crypto::verify(&token[dot + 1..], &token.as_bytes()[..dot], &key, algorithm)
            .map_err(|_| reject(Failure::BadSignature, "the signature does not verify"))?;
        if !good {
            return Err(reject(Failure::BadSignature, "the signature does not verify"));
        }
        shape::check_json(&parts[1], "payload")?;
        let claims: Value =
            serde_json::from_slice(&parts[1]).map_err(|_| reject(Failure::Malformed, "the payload is not JSON"))?;
        let verified = self.check_claims(&claims, kid, peer_der, now)?;
        self.revocations_loaded().await?;
        self.refuse_revoked(&verified, peer_der)?;
        Ok(verified)
    }

    /// Waits (at most the revocation wait) for the revocations to be loaded once; refuses otherwise.
    async fn revocations_loaded(&self) -> Result<(), Rejected> {
        let deadline = tokio::time::Instant::now() + self.revocation_wait;
        while !self.revocations.is_loaded() {
            if tokio::time::Instant::now() >= deadline {
                return Err(reject(
                    Failure::RevocationsNotLoaded,
                    "revocations are not loaded yet (the revocation stream has not caught up since this verifier started); retry shortly",
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// The token, its subject, or the certificate it is presented with may have been revoked since.
    fn refuse_revoked(&self, token: &VerifiedToken, peer_der: &[u8]) -> Result<(), Rejected> {
        let (subject, token_id) = (token.subject.as_str(), token.token_id.as_str());
        if self.revocations.is_revoked_identity(subject) {
            return Err(reject(Failure::Revoked, format!("{subject} is revoked")));
        }
        if self.revocations.is_revoked_jti_of(token_id, subject) {
            return Err(reject(Failure::Revoked, format!("token {token_id} is revoked")));
        }
        if let Some(serial) = serial_hex(peer_der) {
            if self.revocations.is_revoked_serial_of(&serial, subject) {
                return Err(reject(Failure::Revoked, format!("the caller's certificate {serial} is revoked")));
            }
        }
        Ok(())
    }

    /// The claim checks, in the order of the Java and Go verifiers: who issued it, for whom, when,
    /// about whom, with what scopes, bound to which certificate. Every claim Lanyard mints is
    /// required; a token without one is refused rather than guessed about.
    fn check_claims(
        &self,
        claims: &Value,
        kid: &str,
        peer_der: &[u8],
        now: SystemTime,
    ) -> Result<VerifiedToken, Rejected> {
        let issuer = string_claim(claims, "iss")?;
        if issuer != self.issuer {
            return Err(reject(Failure::WrongIssuer, format!("issuer {issuer:?} is not {:?}", self.issuer)));
        }
        let audience = match claims.get("aud") {
            Some(Value::String(a)) => a.as_str(),
            Some(Value::Array(names)) if !names.is_empty() && names.iter().all(Value::is_string) => {
                if names.len() != 1 {
                    return Err(reject(
                        Failure::WrongAudience,
                        format!("the token names {} audiences; a Lanyard token names exactly one", names.len()),
                    ));
                }
                names[0].as_str().unwrap_or_default()
            }
            Some(_) => return Err(reject(Failure::Malformed, "aud is not a string or a non-empty array of strings")),
            None => return Err(reject(Failure::Malformed, "the token has no aud claim")),
        };
        if audience != self.audience {
            return Err(reject(Failure::WrongAudience, format!("audience {audience:?} is not {:?}", self.audience)));
        }
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
        let skew = self.skew.as_secs() as i64;
        let exp = time_claim(claims, "exp")?;
        let nbf = time_claim(claims, "nbf")?;
        let iat = time_claim(claims, "iat")?;
        if now >= exp + skew {
            return Err(reject(Failure::Expired, format!("expired {} s ago", now - exp)));
        }
        if now < nbf - skew {
            return Err(reject(Failure::NotYetValid, format!("not valid for another {} s", nbf - now)));
        }
        if now < iat - skew {
            return Err(reject(Failure::NotYetValid, format!("issued {} s in the future", iat - now)));
        }
        if exp <= nbf {
            return Err(reject(Failure::Malformed, "exp is not after nbf"));
        }
        let subject = string_claim(claims, "sub")?;
        if !is_spiffe_id(subject) {
            return Err(reject(Failure::Malformed, format!("sub {subject:?} is not a SPIFFE ID")));
        }
        if let Some(domain) = &self.trust_domain {
            if trust_domain_of(subject) != domain {
                return Err(reject(
                    Failure::WrongIssuer,
                    format!("sub {subject:?} is not in trust domain {domain:?}, whose issuer signed the token"),
                ));
            }
        }
        let token_id = string_claim(claims, "jti")?;
        if token_id.trim().is_empty() {
            return Err(reject(Failure::Malformed, "jti is blank"));
        }
        let scope = string_claim(claims, "scope")?;
        let mut scopes = BTreeSet::new();
        if !scope.is_empty() {
            for name in scope.split(' ') {
                if !is_scope_name(name) {
                    return Err(reject(
                        Failure::Malformed,
                        format!("scope holds {name:?}, which is not a scope name (lower-case words joined by '.', ':' or '_', one space apart)"),
                    ));
                }
                scopes.insert(name.to_owned());
            }
        }
        let cnf = claims.get("cnf").ok_or_else(|| reject(Failure::Malformed, "the token has no cnf claim"))?;
        if !cnf.is_object() {
            return Err(reject(Failure::Malformed, "cnf is not a JSON object"));
        }
        let bound = match cnf.get("x5t#S256") {
            Some(Value::String(t)) => t,
            Some(_) => return Err(reject(Failure::Malformed, "cnf.x5t#S256 is not a string")),
            None => return Err(reject(Failure::Malformed, "the token has no cnf.x5t#S256 claim")),
        };
        if bound.as_bytes() != thumbprint(peer_der).as_bytes() {
            return Err(reject(Failure::CnfMismatch, "the token is bound to another certificate than the caller's"));
        }
        Ok(VerifiedToken {
            subject: subject.to_owned(),
            audience: audience.to_owned(),
            scopes,
            token_id: token_id.to_owned(),
            expires_at: exp as u64,
            key_id: kid.to_owned(),
        })
    }
}

/// A header member that must be a string when present.
fn header_string<'a>(header: &'a Value, name: &str) -> Result<Option<&'a str>, Rejected> {
    match header.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(reject(Failure::Malformed, format!("the header's {name} is not a string"))),
    }
}

fn string_claim<'a>(claims: &'a Value, name: &str) -> Result<&'a str, Rejected> {
    match claims.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(reject(Failure::Malformed, format!("{name} is not a string"))),
        None => Err(reject(Failure::Malformed, format!("the token has no {name} claim"))),
    }
}

/// A NumericDate: a JSON number from 0 to 1e11 (the year 5138), read in whole seconds.
fn time_claim(claims: &Value, name: &str) -> Result<i64, Rejected> {
    let value = claims.get(name).ok_or_else(|| reject(Failure::Malformed, format!("the token has no {name} claim")))?;
    match value.as_f64() {
        Some(n) if (0.0..=1e11).contains(&n) => Ok(n as i64),
        _ => Err(reject(Failure::Malformed, format!("{name} is not a NumericDate from 0 to 1e11"))),
    }
}

/// The trust domain of a SPIFFE ID (`spiffe://td/...` → `td`), empty for anything else.
pub(crate) fn trust_domain_of(spiffe_id: &str) -> &str {
    spiffe_id.strip_prefix("spiffe://").and_then(|rest| rest.split('/').next()).unwrap_or_default()
}

fn is_spiffe_id(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("spiffe://") else { return false };
    let (td, path) = match rest.split_once('/') {
        Some((td, path)) => (td, Some(path)),
        None => (rest, None),
    };
    !td.is_empty()
        && td.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && path.is_none_or(|p| !p.is_empty() && !p.ends_with('/'))
}

/// `[a-z0-9]+([._:][a-z0-9]+)*`
fn is_scope_name(name: &str) -> bool {
    let word = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    name.split(['.', '_', ':']).all(word)
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

/// The smallest RSA key accepted, as in the Java and Go verifiers.
const MIN_RSA_BITS: usize = 2048;

/// The algorithm, if the key is published for it: its `use` (if any) is `sig`, its `alg` (if any)
/// is the token's, and its type, curve and size fit (a token must not pick how its key is read).
fn fitting(alg: &str, kid: &str, jwk: &Jwk) -> Result<Algorithm, Rejected> {
    if let Some(published) = &jwk.common.key_algorithm {
        if published.to_string() != alg {
            return Err(reject(
                Failure::BadAlgorithm,
                format!("key {kid:?} is published for {published}, the token says {alg}"),
            ));
        }
    }
    if jwk.common.public_key_use.as_ref().is_some_and(|u| *u != PublicKeyUse::Signature) {
        return Err(reject(Failure::BadAlgorithm, format!("key {kid:?} is not published for signatures")));
    }
    let fits = match (alg, &jwk.algorithm) {
        ("ES256", AlgorithmParameters::EllipticCurve(p)) => p.curve == EllipticCurve::P256,
        ("ES384", AlgorithmParameters::EllipticCurve(p)) => p.curve == EllipticCurve::P384,
        ("EdDSA", AlgorithmParameters::OctetKeyPair(p)) => p.curve == EllipticCurve::Ed25519,
        ("RS256" | "PS256", AlgorithmParameters::RSA(p)) => {
            let bits = URL_SAFE_NO_PAD.decode(&p.n).map(|n| rsa_bits(&n)).unwrap_or(0);
            if bits < MIN_RSA_BITS {
                return Err(reject(
                    Failure::BadAlgorithm,
                    format!("RSA key {kid:?} has {bits} bits; at least {MIN_RSA_BITS} are required"),
                ));
            }
            true
        }
        _ => false,
    };
    if !fits {
        return Err(reject(Failure::BadAlgorithm, format!("alg {alg} does not fit key {kid:?}")));
    }
    Ok(match alg {
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        "RS256" => Algorithm::RS256,
        _ => Algorithm::PS256,
    })
}

/// The bit length of a big-endian unsigned modulus.
fn rsa_bits(n: &[u8]) -> usize {
    match n.iter().position(|b| *b != 0) {
        Some(i) => (n.len() - i) * 8 - n[i].leading_zeros() as usize,
        None => 0,
    }
}

/// Decodes standard base64 (the vectors' certificate encoding).
pub fn base64_der(text: &str) -> Result<Vec<u8>, String> {
    STANDARD.decode(text).map_err(|e| e.to_string())
}
