//! Where verification keys come from: a fixed set, or Lanyard's JWKS over HTTP(S), cached as its
//! `Cache-Control: max-age` allows, refetched early (at most once per interval) for an unknown `kid`,
//! and kept when a refetch fails, so a Lanyard outage does not stop verification.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// A source of public keys by `kid`.
pub enum Keys {
    /// A fixed JWKS, e.g. from a file or the shared test vectors.
    Fixed(HashMap<String, Jwk>),
    /// Lanyard's `/.well-known/jwks.json`.
    Http(HttpJwks),
    /// A federated trust domain's JWT authorities, as Lanyard serves them in its trust bundle's
    /// `federated_bundles` (see `Identity::federated_keys`), kept current by the bundle watch.
    Federated(FederatedKeys),
}

/// The JWT keys of every federated trust domain, by trust domain, then `kid`; one of them is read.
#[derive(Clone)]
pub struct FederatedKeys {
    pub(crate) all: Arc<RwLock<HashMap<String, HashMap<String, Jwk>>>>,
    pub(crate) trust_domain: String,
}

/// A JWK for a JWT authority as Lanyard's trust bundle carries it: a `kid`, its algorithm and a DER
/// SubjectPublicKeyInfo (EC P-256/P-384 or RSA).
pub fn jwk_from_spki(kid: &str, algorithm: &str, der: &[u8]) -> Result<Jwk, String> {
    use x509_parser::prelude::FromDer;
    use x509_parser::public_key::PublicKey;
    let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(der).map_err(|e| format!("key {kid:?}: {e}"))?;
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let unsigned = |bytes: &[u8]| bytes.iter().position(|b| *b != 0).map(|i| bytes[i..].to_vec()).unwrap_or_default();
    let mut json = match spki.parsed().map_err(|e| format!("key {kid:?}: {e}"))? {
        PublicKey::EC(point) => {
            let data = point.data();
            let (crv, n) = match data.len() {
                65 => ("P-256", 32),
                97 => ("P-384", 48),
                len => return Err(format!("key {kid:?}: an EC point of {len} bytes is not P-256 or P-384")),
            };
            if data[0] != 4 {
                return Err(format!("key {kid:?}: a compressed EC point"));
            }
            serde_json::json!({"kty": "EC", "crv": crv, "x": b64(&data[1..1 + n]), "y": b64(&data[1 + n..])})
        }
        PublicKey::RSA(rsa) => {
            serde_json::json!({"kty": "RSA", "n": b64(&unsigned(rsa.modulus)), "e": b64(&unsigned(rsa.exponent))})
        }
        _ => return Err(format!("key {kid:?}: not an EC or RSA key")),
    };
    json["kid"] = kid.into();
    json["use"] = "sig".into();
    if !algorithm.is_empty() {
        json["alg"] = algorithm.into();
    }
    serde_json::from_value(json).map_err(|e| format!("key {kid:?}: {e}"))
}

impl Keys {
    /// A fixed set parsed from JWKS JSON; a set holding private key material is refused.
    pub fn fixed(jwks_json: &str) -> Result<Keys, String> {
        Ok(Keys::Fixed(parse(jwks_json)?))
    }

    /// The key named `kid`, if one is published.
    pub async fn get(&self, kid: &str) -> Option<Jwk> {
        match self {
            Keys::Fixed(keys) => keys.get(kid).cloned(),
            Keys::Http(http) => http.get(kid).await,
            Keys::Federated(f) => {
                f.all.read().expect("lock").get(&f.trust_domain).and_then(|keys| keys.get(kid)).cloned()
            }
        }
    }
}

/// Parses a JWKS, refusing private keys (a verifier must never hold one) and keys without a `kid`.
pub fn parse(jwks_json: &str) -> Result<HashMap<String, Jwk>, String> {
    let raw: serde_json::Value = serde_json::from_str(jwks_json).map_err(|e| format!("not JSON: {e}"))?;
    for key in raw.get("keys").and_then(|k| k.as_array()).ok_or("no \"keys\" array")? {
        if key.get("d").is_some() || key.get("p").is_some() {
            return Err("the JWKS holds private key material".into());
        }
    }
    let set: JwkSet = serde_json::from_value(raw).map_err(|e| format!("not a JWKS: {e}"))?;
    let mut keys = HashMap::new();
    for jwk in set.keys {
        if let Some(kid) = jwk.common.key_id.clone() {
            keys.insert(kid, jwk);
        }
    }
    Ok(keys)
}

struct Cached {
    keys: HashMap<String, Jwk>,
    fresh_until: Option<Instant>,
    last_fetch: Option<Instant>,
}

/// Lanyard's JWKS over HTTP, cached.
pub struct HttpJwks {
    url: String,
    client: reqwest::Client,
    min_refetch: Duration,
    cache: Mutex<Cached>,
}

impl HttpJwks {
    /// `min_refetch` bounds how often an unknown `kid` may trigger a fetch (default use: 5 s).
    pub fn new(url: impl Into<String>, min_refetch: Duration) -> HttpJwks {
        HttpJwks {
            url: url.into(),
            client: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("HTTP client"),
            min_refetch,
            cache: Mutex::new(Cached { keys: HashMap::new(), fresh_until: None, last_fetch: None }),
        }
    }

    async fn get(&self, kid: &str) -> Option<Jwk> {
        let mut cache = self.cache.lock().await;
        let now = Instant::now();
        let stale = match cache.fresh_until {
            Some(until) => now >= until,
            None => true,
        };
        let unknown = !cache.keys.contains_key(kid);
        let may_fetch = match cache.last_fetch {
            Some(last) => now.duration_since(last) >= self.min_refetch,
            None => true,
        };
        if stale || (unknown && may_fetch) {
            cache.last_fetch = Some(now);
            match self.fetch().await {
                Ok((keys, max_age)) => {
                    cache.keys = keys;
                    cache.fresh_until = Some(now + max_age);
                }
                Err(e) => {
                    tracing::warn!("JWKS {} unavailable, keeping {} cached keys: {e}", self.url, cache.keys.len())
                }
            }
        }
        cache.keys.get(kid).cloned()
    }

    async fn fetch(&self) -> Result<(HashMap<String, Jwk>, Duration), String> {
        let response = self.client.get(&self.url).send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status()));
        }
        let max_age = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age)
            .unwrap_or(Duration::from_secs(60));
        let body = response.text().await.map_err(|e| e.to_string())?;
        Ok((parse(&body)?, max_age))
    }
}

/// `max-age=N` from a Cache-Control header; `no-store`/`no-cache` mean 0.
pub fn max_age(cache_control: &str) -> Option<Duration> {
    let mut age = None;
    for directive in cache_control.split(',').map(str::trim) {
        if directive.eq_ignore_ascii_case("no-store") || directive.eq_ignore_ascii_case("no-cache") {
            return Some(Duration::ZERO);
        }
        if let Some(v) = directive.strip_prefix("max-age=") {
            age = v.parse::<u64>().ok().map(Duration::from_secs);
        }
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_max_age() {
        assert_eq!(max_age("max-age=300"), Some(Duration::from_secs(300)));
        assert_eq!(max_age("public, max-age=5"), Some(Duration::from_secs(5)));
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
    }

    #[test]
    fn refuses_private_keys() {
        let private = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}]}"#;
        assert!(parse(private).unwrap_err().contains("private"));
    }

    #[tokio::test]
    async fn a_federated_jwt_authority_verifies_what_its_key_signed() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let jwk = jwk_from_spki("fed-1", "ES256", &key.public_key_der()).unwrap();
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
            &serde_json::json!({"sub": "spiffe://a.test/x"}),
            &jsonwebtoken::EncodingKey::from_ec_der(&key.serialize_der()),
        )
        .unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let decoded = jsonwebtoken::decode::<serde_json::Value>(
            &token,
            &jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap(),
            &validation,
        )
        .unwrap();
        assert_eq!(decoded.claims["sub"], "spiffe://a.test/x");

        // Served by trust domain: a.test's keys are not b.test's.
        let keys = FederatedKeys { all: Arc::default(), trust_domain: "a.test".into() };
        keys.all.write().unwrap().insert("a.test".into(), HashMap::from([("fed-1".to_string(), jwk)]));
        assert!(Keys::Federated(keys.clone()).get("fed-1").await.is_some());
        let other = FederatedKeys { all: keys.all.clone(), trust_domain: "b.test".into() };
        assert!(Keys::Federated(other).get("fed-1").await.is_none());
        assert!(jwk_from_spki("bad", "ES256", b"not a key").is_err());
    }
}
