//! The example ledger service: gets its identity from Lanyard at startup (with a join token, or
//! from the node agent's Workload API with `--workload-api unix:///path`), serves
//! `examples.ledger.v1.LedgerService` over mTLS behind the scope layer, and exposes a loopback HTTP
//! control API (`/healthz`, `/status`, `POST /call`) that tests and operators use to make it call others.

mod control;
mod ledger;

use lanyard::identity::{Config, Identity, Trust};
use lanyard::jwks::{HttpJwks, Keys};
use lanyard::revocation::{CrlFallback, RevocationWatcher};
use lanyard::verify::Verifier;
use std::sync::Arc;
use std::time::Duration;

/// Flags, the same as the Go payments example takes.
struct Options {
    lanyard: String,
    bundle: String,
    root_fingerprint: String,
    join_token: String,
    /// `unix:///path` of a node agent: the identity comes from it instead of a join token.
    workload_api: String,
    jwks_url: String,
    /// Accept an `http://` --jwks-url (the dev server's; anyone on the path could forge tokens).
    allow_plain_http: bool,
    issuer: String,
    listen: String,
    control: String,
    /// Federated trust domains whose callers are accepted, each with its Lanyard's token issuer.
    federate_with: Vec<(String, String)>,
}

fn parse(args: &[String], getenv: impl Fn(&str) -> Option<String>) -> Result<Options, String> {
    let mut o = Options {
        lanyard: String::new(),
        bundle: String::new(),
        root_fingerprint: String::new(),
        join_token: String::new(),
        workload_api: String::new(),
        jwks_url: String::new(),
        allow_plain_http: false,
        issuer: String::new(),
        listen: "127.0.0.1:9444".into(),
        control: "127.0.0.1:9091".into(),
        federate_with: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (flag.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next().cloned()).ok_or(format!("{name} needs a value"));
        match name.trim_start_matches('-') {
            "lanyard" => o.lanyard = value()?,
            "bundle" => o.bundle = value()?,
            "root-fingerprint" => o.root_fingerprint = value()?,
            "join-token" => o.join_token = value()?,
            "workload-api" => o.workload_api = value()?,
            "jwks-url" => o.jwks_url = value()?,
            "allow-plain-http" => o.allow_plain_http = true,
            "issuer" => o.issuer = value()?,
            "listen" => o.listen = value()?,
            "control" => o.control = value()?,
            "federate-with" => {
                let v = value()?;
                let (domain, issuer) = v
                    .split_once('=')
                    .filter(|(d, i)| !d.is_empty() && !d.contains('/') && !i.is_empty())
                    .ok_or(format!("--federate-with takes TRUST_DOMAIN=ISSUER_URL, not {v:?}"))?;
                o.federate_with.push((domain.to_owned(), issuer.to_owned()));
            }
            other => return Err(format!("unknown flag --{other}")),
        }
    }
    if !o.workload_api.is_empty() {
        // The agent hands us the certificate and the bundle: nothing to attest or trust up front.
        if !o.join_token.is_empty() || !o.bundle.is_empty() || !o.root_fingerprint.is_empty() {
            return Err("--workload-api excludes --join-token, --bundle and --root-fingerprint: the agent gives \
                        the identity and the bundle"
                .into());
        }
    } else if o.join_token.is_empty() {
        o.join_token = getenv("LANYARD_JOIN_TOKEN").unwrap_or_default();
    }
    let agent = !o.workload_api.is_empty();
    let mut missing: Vec<&str> = [("--lanyard", &o.lanyard), ("--jwks-url", &o.jwks_url), ("--issuer", &o.issuer)]
        .iter()
        .filter(|(_, v)| v.is_empty())
        .map(|(n, _)| *n)
        .collect();
    if !agent && o.join_token.is_empty() {
        missing.push("--join-token or LANYARD_JOIN_TOKEN (or --workload-api)");
    }
    if !agent && o.bundle.is_empty() && o.root_fingerprint.is_empty() {
        missing.push("--bundle or --root-fingerprint");
    }
    missing.sort();
    if !missing.is_empty() {
        return Err(format!("missing {}", missing.join(", ")));
    }
    if !o.bundle.is_empty() && !o.root_fingerprint.is_empty() {
        return Err("--bundle and --root-fingerprint exclude each other: trust Lanyard one way".into());
    }
    let host = o.control.rsplit_once(':').map(|(h, _)| h).unwrap_or("");
    if !(host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())) {
        return Err(format!("--control must be a loopback HOST:PORT (it has no authentication), not {:?}", o.control));
    }
    Ok(o)
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt().with_writer(std::io::stderr).init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = match parse(&args, |k| std::env::var(k).ok()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("ledger: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(o).await {
        eprintln!("ledger: {e}");
        std::process::exit(1);
    }
}

async fn run(o: Options) -> Result<(), String> {
    let identity = if !o.workload_api.is_empty() {
        let identity = Identity::from_workload_api(&o.workload_api, o.lanyard.clone(), Duration::from_secs(60))
            .await
            .map_err(|e| format!("--workload-api {}: {e}", o.workload_api))?;
        tracing::info!("identity from the agent: {} (serial {})", identity.svid().spiffe_id, identity.svid().serial);
        identity
    } else {
        let trust = if o.bundle.is_empty() {
            Trust::RootFingerprint(o.root_fingerprint)
        } else {
            Trust::BundlePem(std::fs::read_to_string(&o.bundle).map_err(|e| format!("--bundle {}: {e}", o.bundle))?)
        };
        let identity =
            Identity::bootstrap(Config { lanyard: o.lanyard.clone(), trust, join_token: o.join_token, ttl: None })
                .await
                .map_err(|e| format!("bootstrap: {e}"))?;
        tracing::info!("bootstrapped as {} (serial {})", identity.svid().spiffe_id, identity.svid().serial);
        identity
    };

    let for_watch = identity.clone();
    let revocations = RevocationWatcher::spawn_with_crls(
        move || for_watch.lanyard_channel(),
        Some(CrlFallback::of(identity.clone())),
    );
    // A revoked peer (ours, or a federated trust domain's that Lanyard passes on) fails the handshake.
    identity.refuse_revoked(Arc::new(revocations.clone()));
    let jwks = if o.allow_plain_http {
        HttpJwks::new_allowing_plain_http(o.jwks_url, Duration::from_secs(5))
    } else {
        HttpJwks::new(o.jwks_url, Duration::from_secs(5))
    }
    .map_err(|e| format!("--jwks-url: {e}"))?;
    let verifier = Arc::new(
        Verifier::new(o.issuer, "ledger", Keys::Http(jwks))
            .map_err(|e| e.to_string())?
            .with_revocations(Arc::new(revocations.clone())),
    );
    let contracts = lanyard::contract::Contracts::from_descriptor_set(
        lanyard::pb::FILE_DESCRIPTOR_SET,
        &["examples.ledger.v1.LedgerService", "examples.payments.v1.PaymentsService"],
    )?;

    // A caller of a federated trust domain passes TLS against its own domain's roots and shows a token
    // of its own Lanyard, checked with that Lanyard's keys from our trust bundle's federated_bundles.
    let mut scopes = lanyard::authz::ScopeLayer::new(verifier, contracts.clone());
    for (domain, issuer) in &o.federate_with {
        scopes = scopes.with_federated(
            domain.clone(),
            Arc::new(
                Verifier::new(issuer.clone(), "ledger", identity.federated_keys(domain))
                    .map_err(|e| format!("--federate-with {domain}: {e}"))?
                    .with_revocations(Arc::new(revocations.clone())),
            ),
        );
    }
    let federated: Vec<&str> = o.federate_with.iter().map(|(d, _)| d.as_str()).collect();

    let listener = tokio::net::TcpListener::bind(&o.listen).await.map_err(|e| format!("--listen {}: {e}", o.listen))?;
    let incoming = lanyard::transport::incoming(listener, identity.server_config_allowing(&federated));
    let server = tonic::transport::Server::builder()
        .layer(scopes)
        .add_service(lanyard::pb::examples::ledger::v1::ledger_service_server::LedgerServiceServer::new(
            ledger::Ledger::default(),
        ))
        .serve_with_incoming(incoming);
    let state = control::State::new(identity, revocations);
    let control =
        tokio::net::TcpListener::bind(&o.control).await.map_err(|e| format!("--control {}: {e}", o.control))?;
    tracing::info!("serving LedgerService on {} and the control API on {}", o.listen, o.control);
    tokio::select! {
        r = server => r.map_err(|e| format!("server: {e}")),
        r = axum::serve(control, control::router(state)) => r.map_err(|e| format!("control: {e}")),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_are_read_and_checked() {
        let full = args(&["--lanyard", "l:1", "--bundle=b.pem", "--jwks-url", "http://j", "--issuer", "http://i"]);
        let o = parse(&full, |_| Some("lyjt_x.y".into())).unwrap();
        assert_eq!(o.join_token, "lyjt_x.y");
        assert_eq!(o.bundle, "b.pem");
        let err = parse(&args(&["--lanyard", "l:1"]), |_| None).err().unwrap();
        assert_eq!(
            err,
            "missing --bundle or --root-fingerprint, --issuer, --join-token or LANYARD_JOIN_TOKEN (or --workload-api), \
             --jwks-url"
        );
        let mut pinned = full.clone();
        pinned[2] = "--root-fingerprint=sha256:ab".into();
        assert_eq!(parse(&pinned, |_| Some("t".into())).unwrap().root_fingerprint, "sha256:ab");
        let mut both = full.clone();
        both.extend(args(&["--root-fingerprint", "sha256:ab"]));
        assert!(parse(&both, |_| Some("t".into())).err().unwrap().contains("exclude each other"));
        let mut open = full.clone();
        open.extend(args(&["--control", "0.0.0.0:9"]));
        assert!(parse(&open, |_| Some("t".into())).err().unwrap().contains("loopback"));
        assert!(parse(&args(&["--nope", "x"]), |_| None).err().unwrap().contains("unknown flag --nope"));
        let mut federated = full.clone();
        federated.extend(args(&["--federate-with", "a.test=https://a:8443", "--federate-with=c.test=https://c"]));
        assert_eq!(
            parse(&federated, |_| Some("t".into())).unwrap().federate_with,
            vec![("a.test".to_string(), "https://a:8443".to_string()), ("c.test".to_string(), "https://c".to_string())]
        );
        let mut bad = full.clone();
        bad.extend(args(&["--federate-with", "a.test"]));
        assert!(parse(&bad, |_| Some("t".into())).err().unwrap().contains("TRUST_DOMAIN=ISSUER_URL"));
    }

    #[test]
    fn the_workload_api_replaces_the_join_token_and_the_trust_flags() {
        let agent =
            args(&["--lanyard", "l:1", "--workload-api", "unix:///tmp/a.sock", "--jwks-url", "j", "--issuer", "i"]);
        // The environment's join token is not read in this mode.
        let o = parse(&agent, |_| Some("lyjt_x.y".into())).unwrap();
        assert_eq!(o.workload_api, "unix:///tmp/a.sock");
        assert!(o.join_token.is_empty());
        for extra in [["--join-token", "t"], ["--bundle", "b.pem"], ["--root-fingerprint", "sha256:ab"]] {
            let mut both = agent.clone();
            both.extend(args(&extra));
            assert!(parse(&both, |_| None).err().unwrap().contains("--workload-api excludes"), "{extra:?}");
        }
    }
}
