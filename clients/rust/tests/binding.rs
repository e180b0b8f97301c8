//! Tokens across renewals against a real Lanyard dev server (started from LANYARD_CLASSPATH, as the
//! Go integration tests do): a caller whose 10 s certificates renew many times a second calls a
//! LedgerService guarded by the scope layer, with tokens from one TokenSource, and no call may be
//! refused: each token travels on a connection presenting the certificate it is bound to.

use lanyard::authz::ScopeLayer;
use lanyard::contract::Contracts;
use lanyard::identity::{pem_certificates, Config, Identity, Trust};
use lanyard::jwks::{HttpJwks, Keys};
use lanyard::pb::examples::ledger::v1::ledger_service_client::LedgerServiceClient;
use lanyard::pb::examples::ledger::v1::ledger_service_server::{LedgerService, LedgerServiceServer};
use lanyard::pb::examples::ledger::v1::{Balance, Entry, GetBalanceRequest, ListEntriesRequest, PostEntryRequest};
use lanyard::pb::lanyard::v1 as pb;
use lanyard::tls::{CurrentCert, Roots, TrustDomain};
use lanyard::token::TokenSource;
use lanyard::verify::Verifier;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_stream::Stream;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

const CALLER: &str = "spiffe://lanyard.local/ns/shop/sa/caller";
const LEDGER: &str = "spiffe://lanyard.local/ns/ledger/sa/api";

/// `lanyard dev` in a temporary directory, stopped (with its process group) on drop.
struct DevServer {
    child: Child,
    dir: PathBuf,
    grpc: String,
    issuer: String,
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_server() -> DevServer {
    let classpath = std::env::var("LANYARD_CLASSPATH").unwrap_or_default();
    assert!(
        !classpath.is_empty(),
        "LANYARD_CLASSPATH is not set: this test starts a real Lanyard server from the tools module's class path, \
         which the Maven build of clients/rust sets (run it through Maven, or skip the Go and Rust builds on purpose \
         with -Dlanyard.skipCrossLanguage=true)"
    );
    let dir = std::env::temp_dir().join(format!("lanyard-rust-it-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let (grpc, http) = (free_port(), free_port());
    let java = std::env::var("JAVA_HOME").map(|h| format!("{h}/bin/java")).unwrap_or_else(|_| "java".into());
    let log = std::fs::File::create(dir.join("lanyard.log")).unwrap();
    let mut child = Command::new(java)
        .args(["-cp", &classpath, "dev.lanyard.tools.Lanyard", "dev", "--data"])
        .arg(dir.join("data"))
        .args(["--port", &grpc.to_string(), "--http-port", &http.to_string()])
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("starting java");
    let stdout = child.stdout.take().unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if !sent && line.contains("root fingerprint") {
                let _ = ready_tx.send(());
                sent = true;
            }
        }
    });
    let server = DevServer {
        child,
        dir: dir.clone(),
        grpc: format!("localhost:{grpc}"),
        issuer: format!("http://localhost:{http}"),
    };
    if ready_rx.recv_timeout(Duration::from_secs(90)).is_err() {
        let log = std::fs::read_to_string(dir.join("lanyard.log")).unwrap_or_default();
        panic!("the Lanyard dev server did not get ready in 90 s; its log:\n{log}");
    }
    server
}

fn bundle_pem(server: &DevServer) -> String {
    std::fs::read_to_string(server.dir.join("data/admin/bundle.pem")).unwrap()
}

/// A channel authenticated with the dev server's admin credential.
fn admin_channel(server: &DevServer) -> Channel {
    let admin = server.dir.join("data/admin");
    let read = |name: &str| std::fs::read_to_string(Path::new(&admin).join(name)).unwrap();
    let chain = pem_certificates(&read("cert.pem")).unwrap();
    let key = rustls_pemfile::private_key(&mut read("key.pem").as_bytes()).unwrap().unwrap();
    let cert = CurrentCert::new();
    cert.set(chain, key).unwrap();
    let roots = Roots::new(pem_certificates(&bundle_pem(server)).unwrap());
    lanyard::transport::channel(
        &server.grpc,
        lanyard::tls::client_config(cert, roots, TrustDomain::new("lanyard.local")),
    )
    .unwrap()
}

/// Registers the caller and the ledger, publishes the ledger's contract, grants the caller
/// ledger.write; returns a join token for each.
async fn set_up(server: &DevServer) -> (String, String) {
    let channel = admin_channel(server);
    let mut admin = pb::admin_service_client::AdminServiceClient::new(channel.clone());
    let mut tokens = Vec::new();
    for id in [CALLER, LEDGER] {
        admin
            .create_registration(pb::CreateRegistrationRequest {
                spiffe_id: id.into(),
                max_ttl: Some(prost_types::Duration { seconds: 3600, nanos: 0 }),
                ..Default::default()
            })
            .await
            .unwrap();
        let token = admin
            .create_join_token(pb::CreateJoinTokenRequest { spiffe_id: id.into(), ..Default::default() })
            .await
            .unwrap();
        tokens.push(token.into_inner().token);
    }
    // Every file the crate compiled, as compiled (a decoded and re-encoded set would lose the custom
    // options prost does not keep): services without an audience option are ignored with a warning.
    let published = pb::contract_service_client::ContractServiceClient::new(channel.clone())
        .publish_contracts(pb::PublishContractsRequest {
            source: "rust-binding-test".into(),
            descriptor_set: lanyard::pb::FILE_DESCRIPTOR_SET.to_vec(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        published.contracts.iter().any(|c| c.audience == "ledger"),
        "the ledger contract was not published: {published:?}"
    );
    pb::policy_service_client::PolicyServiceClient::new(channel)
        .apply_policy(pb::ApplyPolicyRequest {
            policy: Some(pb::Policy {
                version: 1,
                grants: vec![pb::Grant {
                    spiffe_ids: vec![CALLER.into()],
                    audience: "ledger".into(),
                    scopes: vec!["ledger.write".into()],
                }],
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    (tokens.remove(0), tokens.remove(0))
}

struct Ledger;

#[tonic::async_trait]
impl LedgerService for Ledger {
    async fn post_entry(&self, request: Request<PostEntryRequest>) -> Result<Response<Entry>, Status> {
        let r = request.into_inner();
        Ok(Response::new(Entry { entry_id: "e".into(), amount_minor: r.amount_minor, ..Default::default() }))
    }

    async fn get_balance(&self, _: Request<GetBalanceRequest>) -> Result<Response<Balance>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    type ListEntriesStream = Pin<Box<dyn Stream<Item = Result<Entry, Status>> + Send>>;

    async fn list_entries(&self, _: Request<ListEntriesRequest>) -> Result<Response<Self::ListEntriesStream>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
}

/// The ledger: its own identity, the real verifier and scope layer, over mTLS; returns its address.
async fn serve_ledger(server: &DevServer, join_token: String) -> String {
    let identity = Identity::bootstrap(Config {
        lanyard: server.grpc.clone(),
        trust: Trust::BundlePem(bundle_pem(server)),
        join_token,
        ttl: None,
    })
    .await
    .unwrap();
    let verifier = Verifier::new(
        server.issuer.clone(),
        "ledger",
        Keys::Http(
            HttpJwks::new_allowing_plain_http(
                format!("{}/.well-known/jwks.json", server.issuer),
                Duration::from_secs(5),
            )
            .unwrap(),
        ),
    )
    .unwrap();
    let contracts =
        Contracts::from_descriptor_set(lanyard::pb::FILE_DESCRIPTOR_SET, &["examples.ledger.v1.LedgerService"])
            .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("localhost:{}", listener.local_addr().unwrap().port());
    let incoming = lanyard::transport::incoming(listener, identity.server_config());
    tokio::spawn(
        tonic::transport::Server::builder()
            .layer(ScopeLayer::new(Arc::new(verifier), contracts))
            .add_service(LedgerServiceServer::new(Ledger))
            .serve_with_incoming(incoming),
    );
    address
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tokens_follow_renewals_with_no_cnf_mismatch() {
    let server = start_server();
    let (caller_token, ledger_token) = set_up(&server).await;
    let ledger = serve_ledger(&server, ledger_token).await;
    // 10 s certificates, renewed every 250 ms below besides the identity's own renewals at half-life.
    let caller = Identity::bootstrap(Config {
        lanyard: server.grpc.clone(),
        trust: Trust::BundlePem(bundle_pem(&server)),
        join_token: caller_token,
        ttl: Some(Duration::from_secs(10)),
    })
    .await
    .unwrap();
    let tokens = Arc::new(TokenSource::new(caller.clone()));
    let first = caller.svid().serial;
    let calls = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let end = Instant::now() + Duration::from_secs(15);
    let mut workers = Vec::new();
    let renewing = caller.clone();
    workers.push(tokio::spawn(async move {
        // Renewals racing the calls.
        while Instant::now() < end {
            renewing.renew().await.expect("a renewal");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }));
    for worker in 0..4 {
        let (caller, tokens, calls, failures, ledger) =
            (caller.clone(), tokens.clone(), calls.clone(), failures.clone(), ledger.clone());
        workers.push(tokio::spawn(async move {
            // Workers 0 and 1 connect per call; 2 and 3 keep a channel and connect again after a renewal.
            let mut kept: Option<(String, Channel)> = None;
            while Instant::now() < end {
                let held = caller.held().expect("a certificate is held");
                let channel = match &kept {
                    Some((thumbprint, channel)) if worker >= 2 && *thumbprint == held.thumbprint() => channel.clone(),
                    _ => {
                        let channel = lanyard::transport::channel(&ledger, caller.client_config_for(&held)).unwrap();
                        if worker >= 2 {
                            kept = Some((held.thumbprint(), channel.clone()));
                        }
                        channel
                    }
                };
                let outcome = match tokens.token(&held, "ledger", &["ledger.write".to_string()]).await {
                    Ok(token) => {
                        let mut request = Request::new(PostEntryRequest { amount_minor: 1, ..Default::default() });
                        request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
                        LedgerServiceClient::new(channel)
                            .post_entry(request)
                            .await
                            .map(|_| ())
                            .map_err(|s| s.to_string())
                    }
                    Err(e) => Err(format!("token: {e}")),
                };
                calls.fetch_add(1, Ordering::SeqCst);
                if let Err(e) = outcome {
                    failures.lock().unwrap().push(e);
                }
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    let failures = failures.lock().unwrap();
    let (calls, renewals) = (calls.load(Ordering::SeqCst), caller.renewals());
    println!(
        "{calls} calls, {} failed, {renewals} renewals (serial {first} to {})",
        failures.len(),
        caller.svid().serial
    );
    assert!(failures.is_empty(), "{} of {calls} calls failed across renewals, first: {}", failures.len(), failures[0]);
    assert!(renewals >= 5 && calls >= 50, "only {renewals} renewals and {calls} calls: renewal was not exercised");
}
