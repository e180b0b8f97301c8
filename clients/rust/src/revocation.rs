//! Follows Lanyard's `WatchRevocations` stream and answers "is this revoked?" from memory. It
//! resumes from the last sequence it saw (from 0, keeping what it holds, when the server refuses
//! that sequence with OUT_OF_RANGE), and treats two missed heartbeats as a dead stream. While
//! the stream is down it falls back to Lanyard's signed CRLs ([`CrlFallback`]), as the Java and Go
//! watchers do: CRLs cover certificates; identities and token ids are known from the stream alone,
//! and what was learned before it went down stays known.

use crate::pb::lanyard::v1 as pb;
use crate::verify::RevocationSet;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tonic::transport::Channel;

/// Revoked values, each by the trust domain that revoked it: until when it matters.
type Held = HashMap<String, HashMap<String, u64>>;

#[derive(Default)]
struct State {
    /// By jti, then by the federated trust domain that revoked it ("" for ours): until when it
    /// matters. One trust domain's revocation never replaces another's of the same jti.
    jtis: RwLock<Held>,
    identities: RwLock<HashSet<String>>,
    /// By serial, as `jtis`.
    serials: RwLock<Held>,
    /// Serials listed by each CRL URL, from its last good fetch.
    crl_serials: RwLock<HashMap<String, HashSet<String>>>,
    last_sequence: AtomicI64,
    live: AtomicBool,
    /// The stream caught up once (its first heartbeat): the revocations in force are known.
    loaded: AtomicBool,
}

/// The revocations learned from the stream so far.
#[derive(Clone, Default)]
pub struct RevocationWatcher {
    state: Arc<State>,
}

impl RevocationWatcher {
    /// Starts following the stream; `channel` makes a fresh mTLS channel to Lanyard for each attempt.
    pub fn spawn<F>(channel: F) -> RevocationWatcher
    where
        F: Fn() -> Result<Channel, crate::Error> + Send + Sync + 'static,
    {
        RevocationWatcher::spawn_with_crls(channel, None)
    }

    /// As [`spawn`](Self::spawn), reading the CRLs of `crls` whenever the stream is down.
    pub fn spawn_with_crls<F>(channel: F, crls: Option<CrlFallback>) -> RevocationWatcher
    where
        F: Fn() -> Result<Channel, crate::Error> + Send + Sync + 'static,
    {
        let watcher = RevocationWatcher::default();
        if let Some(crls) = crls {
            tokio::spawn(crls.follow(watcher.state.clone()));
        }
        let state = watcher.state.clone();
        tokio::spawn(async move {
            loop {
                if let Ok(channel) = channel() {
                    follow(&state, channel).await;
                }
                state.live.store(false, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        watcher
    }

    /// True while the stream is up and caught up.
    pub fn is_live(&self) -> bool {
        self.state.live.load(Ordering::SeqCst)
    }

    /// True once the stream has caught up for the first time, and from then on (what was learned
    /// stays known while the stream is down). Until then a [`crate::verify::Verifier`] refuses
    /// every token.
    pub fn is_loaded(&self) -> bool {
        self.state.loaded.load(Ordering::SeqCst)
    }

    /// The newest sequence applied.
    pub fn last_sequence(&self) -> i64 {
        self.state.last_sequence.load(Ordering::SeqCst)
    }
}

async fn follow(state: &State, channel: Channel) {
    let mut client = pb::revocation_service_client::RevocationServiceClient::new(channel);
    let after = state.last_sequence.load(Ordering::SeqCst);
    let mut stream = match client.watch_revocations(pb::WatchRevocationsRequest { after_sequence: after }).await {
        Ok(response) => response.into_inner(),
        Err(status) => {
            handle_error(state, &status);
            return;
        }
    };
    let mut heartbeat = Duration::from_secs(5);
    loop {
        match tokio::time::timeout(heartbeat * 2, stream.message()).await {
            Ok(Ok(Some(event))) => {
                if let Some(pb::revocation_event::Event::Heartbeat(h)) = &event.event {
                    if let Some(interval) = &h.interval {
                        heartbeat = Duration::from_secs(interval.seconds.max(1) as u64);
                    }
                    state.live.store(true, Ordering::SeqCst);
                    state.loaded.store(true, Ordering::SeqCst);
                } else if event.sequence > state.last_sequence.load(Ordering::SeqCst) {
                    apply(state, &event);
                    state.last_sequence.store(event.sequence, Ordering::SeqCst);
                }
            }
            Ok(Ok(None)) => return,
            Ok(Err(status)) => {
                handle_error(state, &status);
                return;
            }
            Err(_) => {
                tracing::warn!("no revocation event or heartbeat for {:?}; reconnecting", heartbeat * 2);
                return;
            }
        }
    }
}

fn handle_error(state: &State, status: &tonic::Status) {
    if status.code() == tonic::Code::OutOfRange {
        // The server's store never handed our sequence out (another store, or an older copy of this
        // one): replay it whole. What is held stays held: one that store no longer has stays revoked
        // here, the safe side.
        let after = state.last_sequence.swap(0, Ordering::SeqCst);
        tracing::warn!(
            "the server does not know revocation sequence {after}; watching again from 0, keeping the revocations held"
        );
    }
    tracing::warn!("revocation stream ended: {status}");
}

/// Whether a revocation made by `domain` ("" for our Lanyard's own) refuses what `spiffe_id` holds:
/// a federated trust domain's only its own (or anything, when the ID is not known).
fn applies_to(domain: &str, spiffe_id: &str) -> bool {
    domain.is_empty()
        || spiffe_id.is_empty()
        || spiffe_id.strip_prefix("spiffe://").and_then(|rest| rest.split('/').next()) == Some(domain)
}

fn apply(state: &State, event: &pb::RevocationEvent) {
    match &event.event {
        Some(pb::revocation_event::Event::Revoked(r)) => {
            let until = r.expires_at.as_ref().map(|t| t.seconds.max(0) as u64).unwrap_or(u64::MAX);
            match r.target.as_ref().and_then(|t| t.target.as_ref()) {
                Some(pb::revocation_target::Target::Serial(s)) => {
                    let mut serials = state.serials.write().expect("lock");
                    serials.entry(normalize(s)).or_default().insert(r.trust_domain.clone(), until);
                }
                Some(pb::revocation_target::Target::SpiffeId(id)) => {
                    state.identities.write().expect("lock").insert(id.clone());
                }
                Some(pb::revocation_target::Target::Jti(jti)) => {
                    let mut jtis = state.jtis.write().expect("lock");
                    jtis.entry(jti.clone()).or_default().insert(r.trust_domain.clone(), until);
                }
                None => {}
            }
        }
        Some(pb::revocation_event::Event::Reinstated(r)) => {
            state.identities.write().expect("lock").remove(&r.spiffe_id);
        }
        _ => {}
    }
}

/// Whether a revocation of `value` held, by whichever trust domain, refuses what `spiffe_id` holds.
fn refuses(held: &RwLock<Held>, value: &str, spiffe_id: &str) -> bool {
    let now = now();
    held.read()
        .expect("lock")
        .get(value)
        .is_some_and(|by_domain| by_domain.iter().any(|(domain, until)| now < *until && applies_to(domain, spiffe_id)))
}

fn normalize(serial: &str) -> String {
    let s = serial.to_ascii_lowercase();
    let trimmed = s.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".into()
    } else {
        trimmed.into()
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

impl RevocationSet for RevocationWatcher {
    fn is_revoked_jti(&self, jti: &str) -> bool {
        refuses(&self.state.jtis, jti, "")
    }

    fn is_revoked_identity(&self, spiffe_id: &str) -> bool {
        self.state.identities.read().expect("lock").contains(spiffe_id)
    }

    fn is_revoked_serial(&self, serial_hex: &str) -> bool {
        let serial = normalize(serial_hex);
        refuses(&self.state.serials, &serial, "")
            || self.state.crl_serials.read().expect("lock").values().any(|listed| listed.contains(&serial))
    }

    fn is_revoked_jti_of(&self, jti: &str, spiffe_id: &str) -> bool {
        refuses(&self.state.jtis, jti, spiffe_id)
    }

    fn is_revoked_serial_of(&self, serial_hex: &str, spiffe_id: &str) -> bool {
        let serial = normalize(serial_hex);
        refuses(&self.state.serials, &serial, spiffe_id)
            || self.state.crl_serials.read().expect("lock").values().any(|listed| listed.contains(&serial))
    }

    fn is_loaded(&self) -> bool {
        RevocationWatcher::is_loaded(self)
    }
}

#[cfg(test)]
impl RevocationWatcher {
    /// A watcher that has caught up with a stream that sent `events`.
    pub(crate) fn caught_up_with(events: &[pb::RevocationEvent]) -> RevocationWatcher {
        let watcher = RevocationWatcher::default();
        for event in events {
            apply(&watcher.state, event);
        }
        watcher.state.loaded.store(true, Ordering::SeqCst);
        watcher
    }
}

/// A revocation of `target` by `trust_domain` ("" for our own Lanyard) with `sequence`, as the stream sends it.
#[cfg(test)]
pub(crate) fn revoked(sequence: i64, target: pb::revocation_target::Target, trust_domain: &str) -> pb::RevocationEvent {
    pb::RevocationEvent {
        sequence,
        event: Some(pb::revocation_event::Event::Revoked(pb::Revocation {
            sequence,
            target: Some(pb::RevocationTarget { target: Some(target) }),
            trust_domain: trust_domain.into(),
            ..Default::default()
        })),
    }
}

/// The largest CRL read from a distribution point.
const MAX_CRL_BYTES: usize = 8 << 20;
/// How often the watcher looks whether the stream is down and a CRL fetch is due.
const CRL_CHECK_EVERY: Duration = Duration::from_millis(500);

type Urls = Arc<dyn Fn() -> Vec<String> + Send + Sync>;
type Issuers = Arc<dyn Fn() -> Vec<Vec<u8>> + Send + Sync>;

/// The CRLs read while the stream is down, and the issuing CAs that must have signed them.
#[derive(Clone)]
pub struct CrlFallback {
    urls: Urls,
    issuers: Issuers,
    refresh: Duration,
    http: reqwest::Client,
}

impl CrlFallback {
    /// CRLs at `urls()`, counted only when one of `issuers()` (issuing CA certificates, DER; asked
    /// at each fetch so CA rotation is followed) signed them and they are not past nextUpdate.
    /// Fetched at most every 30 s while the stream is down.
    pub fn new(
        urls: impl Fn() -> Vec<String> + Send + Sync + 'static,
        issuers: impl Fn() -> Vec<Vec<u8>> + Send + Sync + 'static,
    ) -> CrlFallback {
        CrlFallback {
            urls: Arc::new(urls),
            issuers: Arc::new(issuers),
            refresh: Duration::from_secs(30),
            http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default(),
        }
    }

    /// The workload's own chain: the CRL distribution points of its certificate (Lanyard's
    /// `/crl/<issuer key id>`) and the issuing CAs that follow it in the chain.
    pub fn of(identity: crate::identity::Identity) -> CrlFallback {
        let for_issuers = identity.clone();
        CrlFallback::new(
            move || identity.chain().first().map(|leaf| distribution_points(leaf)).unwrap_or_default(),
            move || for_issuers.chain().into_iter().skip(1).collect(),
        )
    }

    /// How often the CRLs are fetched while the stream is down (default 30 s).
    pub fn with_refresh(mut self, refresh: Duration) -> CrlFallback {
        self.refresh = refresh;
        self
    }

    /// The HTTP client the CRLs are fetched with (e.g. one trusting an https_web certificate).
    pub fn with_http_client(mut self, http: reqwest::Client) -> CrlFallback {
        self.http = http;
        self
    }

    async fn follow(self, state: Arc<State>) {
        let mut next = SystemTime::UNIX_EPOCH;
        loop {
            if !state.live.load(Ordering::SeqCst) && SystemTime::now() >= next {
                next = SystemTime::now() + self.refresh;
                for url in (self.urls)() {
                    match self.fetch(&url).await {
                        Ok(serials) => {
                            state.crl_serials.write().expect("lock").insert(url, serials);
                        }
                        // What this URL listed before stays in force: a failed fetch revokes nothing less.
                        Err(e) => tracing::warn!("could not use CRL {url}: {e}"),
                    }
                }
            }
            tokio::time::sleep(CRL_CHECK_EVERY).await;
        }
    }

    async fn fetch(&self, url: &str) -> Result<HashSet<String>, String> {
        let response = self.http.get(url).send().await.map_err(|e| e.to_string())?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(format!("HTTP {}", response.status().as_u16()));
        }
        if response.content_length().is_some_and(|n| n > MAX_CRL_BYTES as u64) {
            return Err(format!("the CRL is larger than {MAX_CRL_BYTES} bytes"));
        }
        let der = response.bytes().await.map_err(|e| e.to_string())?;
        if der.len() > MAX_CRL_BYTES {
            return Err(format!("the CRL is larger than {MAX_CRL_BYTES} bytes"));
        }
        verified_serials(&der, &(self.issuers)(), now())
    }
}

/// The serials a DER CRL lists, if one of `issuers` signed it and it is not stale at `now`.
pub fn verified_serials(der: &[u8], issuers: &[Vec<u8>], now: u64) -> Result<HashSet<String>, String> {
    let (rest, crl) = x509_parser::parse_x509_crl(der).map_err(|_| "not a DER CRL".to_string())?;
    if !rest.is_empty() {
        return Err("bytes after the CRL".into());
    }
    let signed = issuers.iter().any(|der| {
        // Another CA with the same name may have signed it, so every match is tried.
        x509_parser::parse_x509_certificate(der).is_ok_and(|(_, ca)| {
            ca.subject().as_raw() == crl.issuer().as_raw() && crl.verify_signature(ca.public_key()).is_ok()
        })
    });
    if !signed {
        return Err("the CRL is not signed by a trusted issuing CA".into());
    }
    if let Some(next) = crl.next_update() {
        if next.timestamp() < now as i64 {
            return Err(format!("the CRL is stale (nextUpdate {next})"));
        }
    }
    Ok(crl.iter_revoked_certificates().map(|r| normalize(&hex::encode(r.raw_serial()))).collect())
}

/// The CRL distribution point URLs a certificate (DER) names.
pub fn distribution_points(der: &[u8]) -> Vec<String> {
    use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else { return Vec::new() };
    let mut urls = Vec::new();
    for ext in cert.extensions() {
        if let ParsedExtension::CRLDistributionPoints(points) = ext.parsed_extension() {
            for point in points.iter() {
                if let Some(DistributionPointName::FullName(names)) = &point.distribution_point {
                    for name in names {
                        if let GeneralName::URI(uri) = name {
                            urls.push(uri.to_string());
                        }
                    }
                }
            }
        }
    }
    urls
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_federated_revocation_refuses_only_its_own_trust_domain() {
        let watcher = RevocationWatcher::default();
        apply(&watcher.state, &revoked(1, pb::revocation_target::Target::Serial("AB01".into()), "b.test"));
        apply(&watcher.state, &revoked(2, pb::revocation_target::Target::Jti("jb".into()), "b.test"));
        apply(&watcher.state, &revoked(3, pb::revocation_target::Target::Jti("ours".into()), ""));
        assert!(watcher.is_revoked_serial_of("ab01", "spiffe://b.test/ledger"));
        assert!(watcher.is_revoked_jti_of("jb", "spiffe://b.test/ledger"));
        // b.test cannot revoke what another trust domain's peers hold; our own revocations apply to all.
        assert!(!watcher.is_revoked_serial_of("ab01", "spiffe://c.test/x"));
        assert!(!watcher.is_revoked_jti_of("jb", "spiffe://c.test/x"));
        assert!(watcher.is_revoked_jti_of("ours", "spiffe://c.test/x"));
    }

    #[test]
    fn two_trust_domains_revoking_one_serial_or_jti_are_both_held() {
        use pb::revocation_target::Target;
        let watcher = RevocationWatcher::default();
        // c.test revokes its certificate and token; b.test then lists the same serial and jti.
        apply(&watcher.state, &revoked(1, Target::Serial("c0ffee01".into()), "c.test"));
        apply(&watcher.state, &revoked(2, Target::Serial("c0ffee01".into()), "b.test"));
        apply(&watcher.state, &revoked(3, Target::Jti("shared".into()), "c.test"));
        apply(&watcher.state, &revoked(4, Target::Jti("shared".into()), "b.test"));
        for td in ["c.test", "b.test"] {
            let peer = format!("spiffe://{td}/w");
            assert!(watcher.is_revoked_serial_of("c0ffee01", &peer), "{td}'s certificate revocation");
            assert!(watcher.is_revoked_jti_of("shared", &peer), "{td}'s token revocation");
        }
        assert!(!watcher.is_revoked_serial_of("c0ffee01", "spiffe://d.test/w"));
        assert!(!watcher.is_revoked_jti_of("shared", "spiffe://d.test/w"));
        assert!(watcher.is_revoked_serial("c0ffee01"));
    }
}
