//! The watcher against a gRPC server whose store is swapped for an older copy of itself, refusing a
//! watch past its newest sequence with OUT_OF_RANGE as Lanyard does: the watcher watches again from
//! 0 (not the same sequence forever), keeps what it holds, and hears of what is revoked from then on.

use lanyard::pb::lanyard::v1 as pb;
use lanyard::revocation::RevocationWatcher;
use lanyard::verify::RevocationSet;
use pb::revocation_service_server::{RevocationService, RevocationServiceServer};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tokio_stream::Stream;
use tonic::transport::{Endpoint, Server};
use tonic::{Request, Response, Status};

fn jti(sequence: i64, id: &str) -> pb::RevocationEvent {
    pb::RevocationEvent {
        sequence,
        event: Some(pb::revocation_event::Event::Revoked(pb::Revocation {
            sequence,
            target: Some(pb::RevocationTarget { target: Some(pb::revocation_target::Target::Jti(id.into())) }),
            ..Default::default()
        })),
    }
}

fn heartbeat(sequence: i64) -> pb::RevocationEvent {
    pb::RevocationEvent {
        sequence,
        event: Some(pb::revocation_event::Event::Heartbeat(pb::Heartbeat {
            server_time: None,
            interval: Some(prost_types::Duration { seconds: 1, nanos: 0 }),
        })),
    }
}

/// The store's events and the watches asked for; `swapped` moves on each swap (the server restarted
/// on another copy), which ends the streams open.
#[derive(Clone)]
struct OlderStore {
    events: Arc<Mutex<Vec<pb::RevocationEvent>>>,
    asked: Arc<Mutex<Vec<i64>>>,
    swapped: watch::Sender<u64>,
}

impl OlderStore {
    fn new(events: Vec<pb::RevocationEvent>) -> OlderStore {
        OlderStore { events: Arc::new(Mutex::new(events)), asked: Arc::default(), swapped: watch::channel(0).0 }
    }

    fn swap(&self, events: Vec<pb::RevocationEvent>) {
        *self.events.lock().unwrap() = events;
        self.swapped.send_modify(|n| *n += 1);
    }

    fn add(&self, event: pb::RevocationEvent) {
        self.events.lock().unwrap().push(event);
    }

    fn asked(&self) -> Vec<i64> {
        self.asked.lock().unwrap().clone()
    }
}

#[tonic::async_trait]
impl RevocationService for OlderStore {
    async fn revoke(&self, _: Request<pb::RevokeRequest>) -> Result<Response<pb::RevokeResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    async fn reinstate(&self, _: Request<pb::ReinstateRequest>) -> Result<Response<pb::ReinstateResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    async fn list_revocations(
        &self,
        _: Request<pb::ListRevocationsRequest>,
    ) -> Result<Response<pb::ListRevocationsResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    type WatchRevocationsStream = Pin<Box<dyn Stream<Item = Result<pb::RevocationEvent, Status>> + Send>>;

    async fn watch_revocations(
        &self,
        request: Request<pb::WatchRevocationsRequest>,
    ) -> Result<Response<Self::WatchRevocationsStream>, Status> {
        let after = request.into_inner().after_sequence;
        self.asked.lock().unwrap().push(after);
        let head = self.events.lock().unwrap().last().map_or(0, |e| e.sequence);
        if after > head {
            return Err(Status::out_of_range(format!(
                "after_sequence {after} is past the newest revocation sequence {head} of this server's store (the \
                 watcher followed another store, or an older copy of this one): watch again from 0"
            )));
        }
        let (tx, rx) = mpsc::channel(16);
        let events = self.events.clone();
        let mut swapped = self.swapped.subscribe();
        tokio::spawn(async move {
            let mut last = after;
            loop {
                let new: Vec<_> = events.lock().unwrap().iter().filter(|e| e.sequence > last).cloned().collect();
                for event in new {
                    last = event.sequence;
                    if tx.send(Ok(event)).await.is_err() {
                        return;
                    }
                }
                if tx.send(Ok(heartbeat(last))).await.is_err() {
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    _ = swapped.changed() => {
                        let _ = tx.send(Err(Status::unavailable("the server is restarting"))).await;
                        return;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

async fn wait_until(what: &str, watcher: &RevocationWatcher, store: &OlderStore, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within 15 s (sequence {}, watches asked from {:?})",
            watcher.last_sequence(),
            store.asked()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_out_of_range_it_watches_again_from_zero_keeping_what_it_holds() {
    let store = OlderStore::new(vec![jti(1, "in-both"), jti(2, "only-in-the-newer")]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .add_service(RevocationServiceServer::new(store.clone()))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    let watcher = RevocationWatcher::spawn(move || {
        Ok::<_, lanyard::Error>(Endpoint::from_shared(format!("http://{addr}")).unwrap().connect_lazy())
    });
    wait_until("caught up with the newer store", &watcher, &store, || {
        watcher.last_sequence() == 2 && watcher.is_live()
    })
    .await;

    store.swap(vec![jti(1, "in-both")]);
    wait_until("refused at 2, caught up from 0", &watcher, &store, || {
        watcher.last_sequence() == 1 && watcher.is_live()
    })
    .await;
    store.add(jti(2, "after"));
    wait_until("the revocation made on the older store", &watcher, &store, || watcher.is_revoked_jti("after")).await;

    assert!(watcher.is_revoked_jti("in-both"));
    assert!(watcher.is_revoked_jti("only-in-the-newer"), "kept: more revoked is the safe side");
    let asked = store.asked();
    assert!(
        asked.windows(2).any(|w| w == [2, 0]),
        "want a watch from 2 (refused) followed by one from 0; got {asked:?}"
    );
}
