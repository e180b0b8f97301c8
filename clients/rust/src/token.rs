//! Tokens for calling other services: fetched from Lanyard over mTLS (or, for an identity taken
//! from a node agent, as JWT-SVIDs from its Workload API) and cached until shortly before they
//! expire. A token is bound to one certificate (its cnf holds the certificate's x5t#S256) and the
//! service called refuses it over a connection presenting any other. So a token is asked for the
//! certificate the outgoing connection presents ([`Identity::held`], taken once), minted over a
//! channel to Lanyard presenting that same certificate, and cached by that certificate's thumbprint.

use crate::identity::Identity;
use crate::pb::lanyard::v1 as pb;
use crate::tls::HeldCert;
use crate::Error;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Mutex;

/// Tokens are refreshed this long before they expire.
const REFRESH_BEFORE: Duration = Duration::from_secs(30);

struct Cached {
    token: String,
    /// The token's expiry, or its certificate's if that comes first.
    expires_at: SystemTime,
}

/// What a token is cached by: (certificate thumbprint, audience, scopes).
type CacheKey = (String, String, Vec<String>);

/// Fetches and caches tokens for (certificate, audience, scopes).
pub struct TokenSource {
    identity: Identity,
    cache: Mutex<HashMap<CacheKey, Cached>>,
}

impl TokenSource {
    pub fn new(identity: Identity) -> TokenSource {
        TokenSource { identity, cache: Mutex::new(HashMap::new()) }
    }

    /// A token for `audience` holding `scopes`, bound to `held`: the certificate the connection
    /// that carries the token presents (connect with [`Identity::client_config_for`]`(held)`).
    /// From an agent, the token holds every scope the grants policy gives us on `audience` (the
    /// Workload API asks for an audience only); the scopes still key the cache.
    pub async fn token(&self, held: &HeldCert, audience: &str, scopes: &[String]) -> Result<String, Error> {
        let mut sorted = scopes.to_vec();
        sorted.sort();
        sorted.dedup();
        let thumbprint = held.thumbprint();
        let key = (thumbprint.clone(), audience.to_owned(), sorted.clone());
        let mut cache = self.cache.lock().await;
        let now = SystemTime::now();
        if let Some(c) = cache.get(&key) {
            if now + REFRESH_BEFORE.min(c.expires_at.duration_since(now).unwrap_or_default() / 5) < c.expires_at {
                return Ok(c.token.clone());
            }
        }
        let (token, expires_at) = if let Some(api) = self.identity.workload_api() {
            let held_id = self.identity.svid().spiffe_id;
            if held_id.is_empty() {
                return Err(Error::Permission("PermissionDenied: the agent serves no identity to us".into()));
            }
            let token = api.fetch_jwt_svid(audience, Some(&held_id)).await?;
            if bound_to(&token)? != thumbprint {
                // The agent renewed our certificate and we have not installed the new one yet.
                let _ = self.identity.renew().await;
                return Err(Error::Transient(format!(
                    "the agent's token for {audience} is bound to a newer certificate than serial {}; connect with the \
                     current one and ask again",
                    held.serial()
                )));
            }
            let expires_at = expiry(&token)?;
            (token, expires_at)
        } else {
            let response =
                pb::token_service_client::TokenServiceClient::new(self.identity.lanyard_channel_presenting(held)?)
                    .issue_token(pb::IssueTokenRequest { audience: audience.to_owned(), scopes: sorted, ttl: None })
                    .await?
                    .into_inner();
            // Lanyard binds the token to the certificate our channel presented: check it is `held`.
            if bound_to(&response.token)? != thumbprint {
                return Err(Error::Invalid(format!(
                    "Lanyard minted a token for {audience} bound to another certificate than serial {}, which the \
                     channel presented",
                    held.serial()
                )));
            }
            let expires_at = response
                .expires_at
                .map(|t| UNIX_EPOCH + Duration::from_secs(t.seconds.max(0) as u64))
                .unwrap_or(UNIX_EPOCH);
            (response.token, expires_at)
        };
        // Useless once the certificate it is bound to has expired.
        let expires_at = expires_at.min(held.not_after());
        cache.retain(|_, c| c.expires_at > now);
        cache.insert(key, Cached { token: token.clone(), expires_at });
        Ok(token)
    }
}

/// The claims of a JWT we were handed (the issuer's signature is for our peers to check).
fn claims(token: &str) -> Result<serde_json::Value, Error> {
    use base64::Engine;
    let payload = token.split('.').nth(1).ok_or_else(|| Error::Invalid("the token is not a JWS".into()))?;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| Error::Invalid("the token's claims do not parse".into()))
}

/// The cnf x5t#S256 of a token: the thumbprint of the certificate it is bound to.
fn bound_to(token: &str) -> Result<String, Error> {
    claims(token)?["cnf"]["x5t#S256"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::Invalid("the token has no cnf x5t#S256".into()))
}

/// The `exp` of a JWT we were handed (the issuer's signature is for our peers to check).
fn expiry(token: &str) -> Result<SystemTime, Error> {
    let claims = claims(token)?;
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

    #[test]
    fn the_binding_is_read_from_cnf() {
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"cnf":{"x5t#S256":"abc"}}"#);
        assert_eq!(bound_to(&format!("h.{claims}.s")).unwrap(), "abc");
        let unbound = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"cnf":{}}"#);
        assert!(bound_to(&format!("h.{unbound}.s")).is_err());
        assert!(bound_to("not-a-jwt").is_err());
    }
}
