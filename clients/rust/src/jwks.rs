//! Where verification keys come from: a fixed set, or Lanyard's JWKS over HTTP(S), cached as its
//! `Cache-Control: max-age` allows (at most an hour), refetched early for an unknown `kid`, never more
//! than once per interval, and kept when a refetch fails, so a Lanyard outage does not stop verification.
//! A document is read up to 1 MiB, as the Go and Java caches read it.

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

/// Parses a JWKS, refusing private and symmetric keys (a verifier must never hold one) and a `kid` given twice;
/// keys without a `kid` are skipped.
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
        // A symmetric key is a secret, never a published verification key (Go and Java refuse it too).
        if matches!(jwk.algorithm, jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_)) {
            return Err("the JWKS holds a symmetric (secret) key".into());
        }
        if let Some(kid) = jwk.common.key_id.clone() {
            // Which of two keys a kid names would be a guess (first or last), so the document is
            // refused whole, and a cache keeps the keys it held, as the Go and Java verifiers do.
            if keys.insert(kid.clone(), jwk).is_some() {
                return Err(format!("kid {kid:?} appears twice"));
            }
        }
    }
    Ok(keys)
}

struct Cached {
    keys: HashMap<String, Jwk>,
    fresh_until: Option<Instant>,
    /// When the last fetch started, whatever its outcome.
    last_fetch: Option<Instant>,
    /// The least time between two fetches: `min_refetch`, or the last max-age if shorter (at least
    /// `MIN_INTERVAL`).
    interval: Duration,
    fetches: u64,
}

/// The most of a JWKS document that is read, as in the Go and Java caches: a JWKS is a few kilobytes.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// The longest a fetched copy is used without asking again, whatever max-age says, so that a key the
/// server stopped publishing is not trusted for long.
pub const MAX_AGE: Duration = Duration::from_secs(3600);

/// The floor under every interval between two fetches, whatever `min_refetch` and max-age say:
/// without it a flood of made-up kids would make a request each (the Go and Java floor too).
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Lanyard's JWKS over HTTP, cached. No fetch of any kind starts less than one interval after the
/// previous one, whatever the tokens presented and whatever the server answered, so neither a flood
/// of made-up kids nor a failing server makes a verifier send more than one request per interval; a
/// stale copy is refreshed by one caller while the others go on with the keys held. The interval is
/// `min_refetch`, or the server's max-age when that is shorter, never less than [`MIN_INTERVAL`]: the server
/// publishes a new key one publish lead (twice its max-age) before it signs, so a verifier must be
/// able to refresh as often as max-age says. The Java and Go verifiers follow the same rules.
pub struct HttpJwks {
    inner: Arc<Fetcher>,
    /// One fetch at a time; the cache is never locked across one.
    fetching: Arc<Mutex<()>>,
}

/// What a fetch needs, shared with the task it runs on.
struct Fetcher {
    url: String,
    client: reqwest::Client,
    min_refetch: Duration,
    now: Arc<dyn Fn() -> Instant + Send + Sync>,
    cache: std::sync::Mutex<Cached>,
}

impl HttpJwks {
    /// The JWKS at `url`, which must be https: whoever answers a plain-HTTP fetch picks the keys and
    /// can forge any token (see [`new_allowing_plain_http`](Self::new_allowing_plain_http)).
    /// `min_refetch` is the least time between two fetches when max-age is longer; less than
    /// [`MIN_INTERVAL`] counts as `MIN_INTERVAL`.
    pub fn new(url: impl Into<String>, min_refetch: Duration) -> Result<HttpJwks, crate::Error> {
        HttpJwks::build(url.into(), min_refetch, false)
    }

    /// As [`new`](Self::new), accepting an `http://` URL too: for a dev server on loopback
    /// (`lanyard dev`) and tests, never in production.
    pub fn new_allowing_plain_http(url: impl Into<String>, min_refetch: Duration) -> Result<HttpJwks, crate::Error> {
        HttpJwks::build(url.into(), min_refetch, true)
    }

    fn build(url: String, min_refetch: Duration, allow_plain_http: bool) -> Result<HttpJwks, crate::Error> {
        let scheme = url.split_once("://").map(|(scheme, _)| scheme.to_ascii_lowercase()).unwrap_or_default();
        const PLAIN: &str = "is plain http: anyone on the path could substitute the keys and forge tokens; use https \
                             (or HttpJwks::new_allowing_plain_http for a dev server or a test)";
        match scheme.as_str() {
            "https" => {}
            "http" if allow_plain_http => {}
            "http" => return Err(crate::Error::Invalid(format!("the JWKS URL {url:?} {PLAIN}"))),
            _ => return Err(crate::Error::Invalid(format!("the JWKS URL {url:?} is not an https URL"))),
        }
        let min_refetch = min_refetch.max(MIN_INTERVAL);
        Ok(HttpJwks {
            inner: Arc::new(Fetcher {
                url,
                client: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("HTTP client"),
                min_refetch,
                now: Arc::new(Instant::now),
                cache: std::sync::Mutex::new(Cached {
                    keys: HashMap::new(),
                    fresh_until: None,
                    last_fetch: None,
                    interval: min_refetch,
                    fetches: 0,
                }),
            }),
            fetching: Arc::new(Mutex::new(())),
        })
    }

    /// Reads the time from `now` (tests move it).
    #[cfg(test)]
    fn with_clock(mut self, now: impl Fn() -> Instant + Send + Sync + 'static) -> HttpJwks {
        Arc::get_mut(&mut self.inner).expect("not shared yet").now = Arc::new(now);
        self
    }

    /// The fetches made so far (for tests and metrics).
    pub fn fetches(&self) -> u64 {
        self.inner.cache.lock().expect("lock").fetches
    }

    /// The key named `kid`: from the copy held while it is fresh; otherwise after a fetch when one is
    /// due (a known key does not wait for a fetch another caller has started; an unknown one does, as
    /// that fetch may bring it). When a fetch fails the keys held stay in use.
    async fn get(&self, kid: &str) -> Option<Jwk> {
        let (held, fresh, due, seen) = {
            let cache = self.inner.cache.lock().expect("lock");
            let now = (self.inner.now)();
            (
                cache.keys.get(kid).cloned(),
                cache.fresh_until.is_some_and(|until| now < until),
                cache.last_fetch.is_none_or(|last| now.duration_since(last) >= cache.interval),
                cache.fetches,
            )
        };
        let fetching = match &held {
            Some(_) if fresh || !due => return held,
            Some(_) => match self.fetching.clone().try_lock_owned() {
                Ok(guard) => guard,
                Err(_) => return held,
            },
            None => self.fetching.clone().lock_owned().await,
        };
        // The fetch serves every caller, so it runs on a task of its own: a caller whose call is
        // dropped (a client that sent a made-up kid and hung up) cannot cut it short and spend the
        // interval's fetch.
        let inner = self.inner.clone();
        let failed = tokio::spawn(async move {
            let _fetching = fetching;
            inner.fetch_if_none_since(seen).await
        })
        .await
        .unwrap_or(true);
        let found = self.inner.cache.lock().expect("lock").keys.get(kid).cloned();
        // The key held stays in use only when the refresh failed, not when the server dropped it.
        if failed {
            found.or(held)
        } else {
            found
        }
    }
}

impl Fetcher {
    /// Fetches (with the fetching lock held) unless a fetch started after the caller saw `seen` of
    /// them, or the previous one is less than an interval old. True when the fetch failed.
    async fn fetch_if_none_since(&self, seen: u64) -> bool {
        let started = {
            let mut cache = self.cache.lock().expect("lock");
            let now = (self.now)();
            if cache.fetches != seen || cache.last_fetch.is_some_and(|last| now.duration_since(last) < cache.interval) {
                return false;
            }
            cache.last_fetch = Some(now);
            cache.fetches += 1;
            now
        };
        let fetched = self.fetch().await;
        let mut cache = self.cache.lock().expect("lock");
        match fetched {
            Ok((keys, max_age)) => {
                cache.keys = keys;
                let max_age = max_age.min(MAX_AGE);
                cache.fresh_until = Some(started + max_age);
                cache.interval = self.min_refetch.min(max_age.max(MIN_INTERVAL));
                false
            }
            Err(e) => {
                tracing::warn!("JWKS {} unavailable, keeping {} cached keys: {e}", self.url, cache.keys.len());
                true
            }
        }
    }

    async fn fetch(&self) -> Result<(HashMap<String, Jwk>, Duration), String> {
        let mut response = self.client.get(&self.url).send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status()));
        }
        let max_age = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age)
            .unwrap_or(Duration::from_secs(60));
        // Read chunk by chunk, so that no more than the bound is ever held.
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(format!("the JWKS is larger than {MAX_DOCUMENT_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        let body = String::from_utf8(body).map_err(|_| "the JWKS is not UTF-8".to_string())?;
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

    /// JSON that is not a key set (an error body, `{}`, `null`) is refused, not read as no keys, as in
    /// the Go and Java caches: a cache keeps the keys it holds.
    #[test]
    fn a_document_without_a_keys_array_is_refused() {
        for doc in ["null", "{}", r#"{"error":"upstream unavailable"}"#, r#"{"keys":null}"#, r#"{"Keys":[]}"#] {
            assert!(parse(doc).unwrap_err().contains(r#"no "keys" array"#), "{doc}");
        }
        assert!(parse(r#"{"keys":[]}"#).unwrap().is_empty());
    }

    /// A symmetric key is a secret, never a published verification key: the document is refused
    /// whole, as the Go and Java caches refuse it, so no HS* key can enter the set.
    #[test]
    fn refuses_symmetric_keys() {
        let public = r#"{"kty":"EC","crv":"P-256","kid":"e","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
        for oct in [
            r#"{"kty":"oct","kid":"h","alg":"HS256","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}"#,
            r#"{"kty":"oct","kid":"h","k":"c2VjcmV0"}"#,
            r#"{"kty":"oct","k":"c2VjcmV0"}"#,
        ] {
            let doc = format!(r#"{{"keys":[{public},{oct}]}}"#);
            let refused = parse(&doc).unwrap_err();
            assert!(refused.contains("symmetric") && !refused.contains("c2VjcmV0"), "{refused}");
            assert!(Keys::fixed(&doc).is_err());
        }
    }

    #[test]
    fn refuses_a_kid_given_twice() {
        let key = r#"{"kty":"EC","crv":"P-256","kid":"k","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
        let twice = format!(r#"{{"keys":[{key},{key}]}}"#);
        assert!(parse(&twice).unwrap_err().contains(r#"kid "k" appears twice"#));
        assert!(Keys::fixed(&twice).is_err());
    }

    /// Whoever answers a plain-HTTP fetch picks the keys, and so can forge any token.
    #[test]
    fn plain_http_is_refused_unless_allowed() {
        let refused = HttpJwks::new("http://lanyard.example/.well-known/jwks.json", Duration::from_secs(10));
        let message = refused.err().expect("a plain-HTTP URL was accepted").to_string();
        assert!(message.contains("plain http") && message.contains("new_allowing_plain_http"), "{message}");
        assert!(HttpJwks::new_allowing_plain_http(
            "http://127.0.0.1:8080/.well-known/jwks.json",
            Duration::from_secs(10)
        )
        .is_ok());
        assert!(HttpJwks::new("https://lanyard.example/.well-known/jwks.json", Duration::from_secs(10)).is_ok());
        assert!(HttpJwks::new_allowing_plain_http("file:///etc/passwd", Duration::from_secs(10)).is_err());
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

    /// A JWKS endpoint over real HTTP (a thread per connection): answers `status` with the keys named
    /// in `kids` and `cache_control`, counts the requests, and holds each answer while `held` is set.
    struct Endpoint {
        status: u16,
        kids: Vec<&'static str>,
        cache_control: &'static str,
        hits: u64,
        held: bool,
        /// Bytes of padding added to the document (a member the parser ignores).
        pad: usize,
    }

    type Shared = Arc<(std::sync::Mutex<Endpoint>, std::sync::Condvar)>;

    fn serve(cache_control: &'static str, kids: Vec<&'static str>) -> (Shared, String) {
        use std::io::{Read, Write};
        let shared: Shared = Arc::new((
            std::sync::Mutex::new(Endpoint { status: 200, kids, cache_control, hits: 0, held: false, pad: 0 }),
            std::sync::Condvar::new(),
        ));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
        let endpoint = shared.clone();
        std::thread::spawn(move || {
            for socket in listener.incoming() {
                let Ok(mut socket) = socket else { return };
                let endpoint = endpoint.clone();
                std::thread::spawn(move || {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let (lock, changed) = &*endpoint;
                    let mut e = lock.lock().unwrap();
                    e.hits += 1;
                    changed.notify_all();
                    while e.held {
                        e = changed.wait(e).unwrap();
                    }
                    let keys: Vec<String> = e.kids.iter().map(|kid| format!(r#"{{"kty":"EC","crv":"P-256","kid":"{kid}","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}}"#)).collect();
                    let body = format!(r#"{{"keys":[{}],"pad":"{}"}}"#, keys.join(","), "x".repeat(e.pad));
                    let response = format!(
                        "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nCache-Control: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        e.status, e.cache_control, body.len()
                    );
                    drop(e);
                    let _ = socket.write_all(response.as_bytes());
                });
            }
        });
        (shared, url)
    }

    fn hits(endpoint: &Shared) -> u64 {
        endpoint.0.lock().unwrap().hits
    }

    fn set(endpoint: &Shared, f: impl FnOnce(&mut Endpoint)) {
        f(&mut endpoint.0.lock().unwrap());
        endpoint.1.notify_all();
    }

    /// A clock the test moves.
    fn clock() -> (Arc<std::sync::Mutex<Instant>>, impl Fn() -> Instant + Send + Sync + 'static) {
        let at = Arc::new(std::sync::Mutex::new(Instant::now()));
        let read = at.clone();
        (at, move || *read.lock().unwrap())
    }

    fn advance(at: &std::sync::Mutex<Instant>, by: Duration) {
        *at.lock().unwrap() += by;
    }

    /// A server that answers errors once the copy went stale is asked once per interval, not once per
    /// token: a verifier must not turn an outage into a flood, nor keep every token waiting on a fetch.
    #[tokio::test]
    async fn a_failing_server_is_asked_at_most_once_per_interval() {
        let (endpoint, url) = serve("max-age=60", vec!["a"]);
        let (at, now) = clock();
        let jwks = HttpJwks::new_allowing_plain_http(url, Duration::from_secs(10)).unwrap().with_clock(now);
        assert!(jwks.get("a").await.is_some());
        advance(&at, Duration::from_secs(61));
        set(&endpoint, |e| e.status = 500);
        for _ in 0..100 {
            assert!(jwks.get("a").await.is_some(), "a known key during an outage");
            assert!(jwks.get("unknown").await.is_none());
        }
        assert_eq!(hits(&endpoint), 2, "200 lookups within one interval: the first fetch and one refresh");
        advance(&at, Duration::from_secs(10));
        set(&endpoint, |e| {
            e.status = 200;
            e.kids.push("b");
        });
        assert!(jwks.get("a").await.is_some());
        assert_eq!(hits(&endpoint), 3, "one more once the interval has passed");
        assert!(jwks.get("b").await.is_some(), "the refreshed copy");
        assert_eq!(hits(&endpoint), 3);
    }

    #[tokio::test]
    async fn no_store_means_refetch_once_per_second_at_most() {
        let (endpoint, url) = serve("no-store", vec!["a"]);
        let (at, now) = clock();
        let jwks = HttpJwks::new_allowing_plain_http(url, Duration::from_secs(10)).unwrap().with_clock(now);
        for _ in 0..10 {
            assert!(jwks.get("a").await.is_some());
            advance(&at, Duration::from_millis(100));
        }
        assert_eq!(hits(&endpoint), 1, "no-store: at most one fetch per second");
        assert!(jwks.get("a").await.is_some());
        assert_eq!(hits(&endpoint), 2);
    }

    /// A `min_refetch` under a second cannot remove the floor: a burst of made-up kids from many
    /// callers makes at most one request per second to the server, as in the Go and Java caches.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_min_refetch_below_a_second_keeps_the_one_second_floor() {
        use std::hash::{BuildHasher, Hasher};
        for minimum in [Duration::ZERO, Duration::from_millis(1), Duration::from_millis(999)] {
            let (endpoint, url) = serve("no-store", vec!["a"]);
            let (at, now) = clock();
            let jwks = Arc::new(HttpJwks::new_allowing_plain_http(url, minimum).unwrap().with_clock(now));
            // Three seconds of random kids from eight callers, the clock moving 100 ms at a time.
            for _ in 0..30 {
                let callers: Vec<_> = (0..8)
                    .map(|_| {
                        let jwks = jwks.clone();
                        let kid =
                            format!("{:016x}", std::collections::hash_map::RandomState::new().build_hasher().finish());
                        tokio::spawn(async move { jwks.get(&kid).await })
                    })
                    .collect();
                for caller in callers {
                    assert!(caller.await.unwrap().is_none(), "a random kid");
                }
                advance(&at, Duration::from_millis(100));
            }
            // Fetches at 0 s, 1 s and 2 s of the 2.9 s the burst lasted.
            assert_eq!(hits(&endpoint), 3, "min_refetch {minimum:?}: at most one request per second");
        }
    }

    /// Lanyard publishes a new key one publish lead (twice the refresh hint, its max-age) before it
    /// signs: a max-age shorter than `min_refetch` is honoured, or a verifier could meet a token of a
    /// key it has not fetched and not be allowed to fetch it yet.
    #[tokio::test]
    async fn a_max_age_shorter_than_min_refetch_is_honoured() {
        let (endpoint, url) = serve("max-age=1", vec!["a"]);
        let (at, now) = clock();
        let jwks = HttpJwks::new_allowing_plain_http(url, Duration::from_secs(10)).unwrap().with_clock(now);
        assert!(jwks.get("a").await.is_some());
        set(&endpoint, |e| e.kids.push("b")); // prepared, not signing yet
        advance(&at, Duration::from_secs(1));
        assert!(jwks.get("a").await.is_some());
        assert_eq!(hits(&endpoint), 2, "a stale copy after max-age=1 is refreshed");
        assert!(jwks.get("b").await.is_some(), "the prepared key, fetched with the refresh");
        assert_eq!(hits(&endpoint), 2);
    }

    #[tokio::test]
    async fn max_age_is_capped_at_an_hour() {
        let (endpoint, url) = serve("max-age=31536000", vec!["a"]);
        let (at, now) = clock();
        let jwks = HttpJwks::new_allowing_plain_http(url, Duration::from_secs(10)).unwrap().with_clock(now);
        assert!(jwks.get("a").await.is_some());
        advance(&at, MAX_AGE);
        assert!(jwks.get("a").await.is_some());
        assert_eq!(hits(&endpoint), 2, "a copy is kept at most an hour, whatever max-age says");
    }

    /// A refresh of a stale copy that hangs holds up only the caller that started it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_known_key_does_not_wait_for_a_refresh() {
        let (endpoint, url) = serve("max-age=60", vec!["a"]);
        let (at, now) = clock();
        let jwks = Arc::new(HttpJwks::new_allowing_plain_http(url, Duration::from_secs(10)).unwrap().with_clock(now));
        assert!(jwks.get("a").await.is_some());
        advance(&at, Duration::from_secs(61));
        set(&endpoint, |e| e.held = true);
        let refreshing = tokio::spawn({
            let jwks = jwks.clone();
            async move { jwks.get("a").await }
        });
        while hits(&endpoint) < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let other = tokio::time::timeout(Duration::from_secs(10), jwks.get("a")).await;
        set(&endpoint, |e| e.held = false);
        assert!(other.expect("a lookup of a known key waited for the hanging refresh").is_some());
        assert!(refreshing.await.unwrap().is_some());
    }

    /// The fetch an unknown kid starts serves every caller: a call dropped while it runs (a client
    /// that hung up) must not spend the interval's fetch, or it could keep a verifier from learning
    /// a rotated-in key.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_that_hangs_up_does_not_spend_the_fetch() {
        let (endpoint, url) = serve("max-age=60", vec!["a"]);
        let (at, now) = clock();
        let jwks = Arc::new(HttpJwks::new_allowing_plain_http(url, Duration::from_secs(10)).unwrap().with_clock(now));
        assert!(jwks.get("a").await.is_some());
        advance(&at, Duration::from_secs(11));
        set(&endpoint, |e| {
            e.kids.push("b");
            e.held = true;
        });
        let hung_up = tokio::spawn({
            let jwks = jwks.clone();
            async move { jwks.get("b").await }
        });
        while hits(&endpoint) < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        hung_up.abort();
        let _ = hung_up.await;
        set(&endpoint, |e| e.held = false);
        assert!(jwks.get("b").await.is_some(), "the rotated-in key after a caller hung up");
        assert_eq!(hits(&endpoint), 2);
    }

    /// A key the server no longer publishes is refused as soon as a refresh succeeds, also by the
    /// lookup that made the refresh.
    #[tokio::test]
    async fn a_key_no_longer_published_is_refused_once_refreshed() {
        let (endpoint, url) = serve("max-age=60", vec!["a"]);
        let (at, now) = clock();
        let jwks = HttpJwks::new_allowing_plain_http(url, Duration::from_secs(10)).unwrap().with_clock(now);
        assert!(jwks.get("a").await.is_some());
        advance(&at, Duration::from_secs(61));
        set(&endpoint, |e| e.kids = vec!["b"]);
        assert!(jwks.get("a").await.is_none(), "a dropped key after a refresh");
        assert_eq!(hits(&endpoint), 2);
    }

    /// A document over 1 MiB is refused unread past that, as in the Go and Java caches (a JWKS is a few
    /// kilobytes; a server that sends more must not grow a verifier's memory without bound), and the
    /// keys held stay in use.
    #[tokio::test]
    async fn a_document_over_a_mebibyte_is_refused_and_the_keys_held_stay() {
        let (endpoint, url) = serve("max-age=60", vec!["a"]);
        let (at, now) = clock();
        let jwks = HttpJwks::new_allowing_plain_http(url, Duration::from_secs(10)).unwrap().with_clock(now);
        assert!(jwks.get("a").await.is_some());
        advance(&at, Duration::from_secs(61));
        set(&endpoint, |e| {
            e.kids = vec!["b"];
            e.pad = MAX_DOCUMENT_BYTES;
        });
        assert!(jwks.get("b").await.is_none(), "a key of a document over 1 MiB");
        assert!(jwks.get("a").await.is_some(), "the key held before");
        assert_eq!(hits(&endpoint), 2);
        advance(&at, Duration::from_secs(10));
        set(&endpoint, |e| e.pad = MAX_DOCUMENT_BYTES - 200);
        assert!(jwks.get("b").await.is_some(), "a document just under 1 MiB");
    }

    /// A refreshed document that names a kid twice is refused whole (which key was meant would be a
    /// guess); the keys held before stay in use.
    #[tokio::test]
    async fn a_document_naming_a_kid_twice_is_refused_and_the_keys_held_stay() {
        let (endpoint, url) = serve("max-age=60", vec!["a"]);
        let (at, now) = clock();
        let jwks = HttpJwks::new_allowing_plain_http(url, Duration::from_secs(10)).unwrap().with_clock(now);
        assert!(jwks.get("a").await.is_some());
        advance(&at, Duration::from_secs(61));
        set(&endpoint, |e| e.kids = vec!["b", "b"]);
        assert!(jwks.get("b").await.is_none(), "a key of a document that names its kid twice");
        assert!(jwks.get("a").await.is_some(), "the key held before");
        assert_eq!(hits(&endpoint), 2);
    }
}
