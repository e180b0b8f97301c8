//! Tokens for calling other services: fetched from Lanyard over mTLS, cached until shortly before
//! they expire, and dropped when the certificate they are bound to is replaced.

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

    /// A token for `audience` holding `scopes`, bound to the current certificate.
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
