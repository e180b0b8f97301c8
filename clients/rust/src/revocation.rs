//! Follows Lanyard's `WatchRevocations` stream and answers "is this revoked?" from memory. It
//! resumes from the last sequence it saw, and treats two missed heartbeats as a dead stream.

use crate::pb::lanyard::v1 as pb;
use crate::verify::RevocationSet;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tonic::transport::Channel;

#[derive(Default)]
struct State {
    jtis: RwLock<HashMap<String, u64>>,
    identities: RwLock<HashSet<String>>,
    serials: RwLock<HashMap<String, u64>>,
    last_sequence: AtomicI64,
    live: AtomicBool,
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
        let watcher = RevocationWatcher::default();
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
        // The server does not know our sequence (a new database): start over from nothing.
        state.jtis.write().expect("lock").clear();
        state.identities.write().expect("lock").clear();
        state.serials.write().expect("lock").clear();
        state.last_sequence.store(0, Ordering::SeqCst);
    }
    tracing::warn!("revocation stream ended: {status}");
}

fn apply(state: &State, event: &pb::RevocationEvent) {
    match &event.event {
        Some(pb::revocation_event::Event::Revoked(r)) => {
            let until = r.expires_at.as_ref().map(|t| t.seconds.max(0) as u64).unwrap_or(u64::MAX);
            match r.target.as_ref().and_then(|t| t.target.as_ref()) {
                Some(pb::revocation_target::Target::Serial(s)) => {
                    state.serials.write().expect("lock").insert(normalize(s), until);
                }
                Some(pb::revocation_target::Target::SpiffeId(id)) => {
                    state.identities.write().expect("lock").insert(id.clone());
                }
                Some(pb::revocation_target::Target::Jti(jti)) => {
                    state.jtis.write().expect("lock").insert(jti.clone(), until);
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
        self.state.jtis.read().expect("lock").get(jti).is_some_and(|until| now() < *until)
    }

    fn is_revoked_identity(&self, spiffe_id: &str) -> bool {
        self.state.identities.read().expect("lock").contains(spiffe_id)
    }

    fn is_revoked_serial(&self, serial_hex: &str) -> bool {
        self.state.serials.read().expect("lock").get(&normalize(serial_hex)).is_some_and(|until| now() < *until)
    }
}
