//! Tokens for calling other services: fetched from Lanyard over mTLS (or, for an identity taken
//! from a node agent, as JWT-SVIDs from its Workload API), cached until shortly before they
//! expire, and dropped when the certificate they are bound to is replaced.

use crate::identity::Identity;
use crate::pb::lanyard::v1 as pb;
use crate::Error;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Mutex;

/// Tokens are refreshed this long before they expire.
const REFRESH_BEFORE: Duration = Duration::from_secs(30);

struct Cached {
    token: String,
    expires_at: SystemTime,
    generation: u64,
}

/// Fetches and caches tokens for (audience, scopes).
pub struct TokenSource {
    identity: Identity,
    cache: Mutex<HashMap<(String, Vec<String>), Cached>>,
}

impl TokenSource {
    pub fn new(identity: Identity) -> TokenSource {
        TokenSource { identity, cache: Mutex::new(HashMap::new()) }
    }

    /// A token for `audience` holding `scopes`, bound to the current certificate. From an agent,
    /// the token holds every scope the grants policy gives us on `audience` (the Workload API
    /// asks for an audience only); the scopes still key the cache.
    pub async fn token(&self, audience: &str, scopes: &[String]) -> Result<String, Error> {
        let mut sorted = scopes.to_vec();
        sorted.sort();
        sorted.dedup();
        let key = (audience.to_owned(), sorted.clone());
        let generation = self.identity.generation();
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.get(&key) {
            if c.generation == generation && SystemTime::now() + REFRESH_BEFORE < c.expires_at {
                return Ok(c.token.clone());
            }
        }
        if let Some(api) = self.identity.workload_api() {
            let held = self.identity.svid().spiffe_id;
            if held.is_empty() {
                return Err(Error::Permission("PermissionDenied: the agent serves no identity to us".into()));
            }
            let token = api.fetch_jwt_svid(audience, Some(&held)).await?;
            let expires_at = expiry(&token)?;
            cache.insert(key, Cached { token: token.clone(), expires_at, generation });
            return Ok(token);
        }
        let response = pb::token_service_client::TokenServiceClient::new(self.identity.lanyard_channel()?)
            .issue_token(pb::IssueTokenRequest { audience: audience.to_owned(), scopes: sorted, ttl: None })
            .await?
            .into_inner();
        let expires_at = response
            .expires_at
            .map(|t| UNIX_EPOCH + Duration::from_secs(t.seconds.max(0) as u64))
            .unwrap_or(UNIX_EPOCH);
        cache.insert(key, Cached { token: response.token.clone(), expires_at, generation });
        Ok(response.token)
    }
}

/// The `exp` of a JWT we were handed (the issuer's signature is for our peers to check).
fn expiry(token: &str) -> Result<SystemTime, Error> {
    use base64::Engine;
    let payload = token.split('.').nth(1).ok_or_else(|| Error::Invalid("the JWT-SVID is not a JWS".into()))?;
    let claims: serde_json::Value = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| Error::Invalid("the JWT-SVID's claims do not parse".into()))?;
    let exp = claims["exp"].as_u64().ok_or_else(|| Error::Invalid("the JWT-SVID has no exp".into()))?;
    Ok(UNIX_EPOCH + Duration::from_secs(exp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn the_expiry_is_read_from_the_claims() {
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"exp":1700000000,"sub":"x"}"#);
        assert_eq!(expiry(&format!("h.{claims}.s")).unwrap(), UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        assert!(expiry("not-a-jwt").is_err());
        let no_exp = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"x"}"#);
        assert!(expiry(&format!("h.{no_exp}.s")).is_err());
    }
}
