//! A proptest harness for the token verifier, as `go test -fuzz` is for Go's and the seeded
//! mutation tests are for Java's: mutated whole tokens seeded with the shared vectors, and mutated
//! header and payload bytes signed with a published key, so the checks behind the signature are
//! reached. Nothing may panic, and nothing the rules refuse may pass. `cargo test` runs a short
//! budget; `LANYARD_FUZZ_CASES=150000 cargo test --test fuzz` runs a long one. A failing
//! case is saved under proptest-regressions/ (commit it: it then runs first every time).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey};
use lanyard::jwks::Keys;
use lanyard::verify::{base64_der, thumbprint, Verifier};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::{Duration, UNIX_EPOCH};

const ISSUER: &str = "https://lanyard.test:8080";
const AUDIENCE: &str = "spiffe://lanyard.local/ns/shop/sa/inventory";
const NOW: u64 = 1_795_305_600;

fn config() -> Config {
    let cases = std::env::var("LANYARD_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000);
    // With the source file named, a failing case is saved under proptest-regressions/.
    Config { cases, source_file: Some(file!()), ..Config::default() }
}

/// One edit: (kind, position, byte).
type Edit = (u8, u16, u8);

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    prop::collection::vec((0u8..7, any::<u16>(), any::<u8>()), 0..8)
}

const INTERESTING: &[u8] = b"\x00\x7f\x80\xff\".{}[],:\\=-_A0";

fn mutate(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for &(kind, pos, byte) in edits {
        let at = if out.is_empty() { 0 } else { pos as usize % out.len() };
        match kind {
            0 if !out.is_empty() => out[at] ^= 1 << (byte % 8),
            1 if !out.is_empty() => out[at] = INTERESTING[byte as usize % INTERESTING.len()],
            2 if !out.is_empty() => {
                let end = (at + 1 + byte as usize % 16).min(out.len());
                out.drain(at..end);
            }
            3 => out.insert(at, INTERESTING[byte as usize % INTERESTING.len()]),
            4 if !out.is_empty() => {
                let end = (at + 1 + byte as usize % 32).min(out.len());
                let copy: Vec<u8> = out[at..end].to_vec();
                out.splice(end..end, copy);
            }
            5 => out.truncate(at),
            _ => out.insert(at, byte),
        }
    }
    out
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().unwrap()
}

#[test]
fn mutated_tokens_are_refused_unless_the_vectors_hold_them_good() {
    let text = std::fs::read_to_string("../../testdata/vectors/verification.json").expect("the shared vectors");
    let doc: Value = serde_json::from_str(&text).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    let contextual = ["ok", "expired", "not_yet_valid", "revoked", "missing_scope", "cnf_mismatch"];
    let seeds: Vec<String> = cases.iter().map(|c| c["token"].as_str().unwrap().to_owned()).collect();
    let mut signed_by_us: HashSet<String> = cases
        .iter()
        .filter(|c| contextual.contains(&c["expect"].as_str().unwrap()))
        .map(|c| c["token"].as_str().unwrap().to_owned())
        .collect();
    for c in cases.iter().filter(|c| !contextual.contains(&c["expect"].as_str().unwrap())) {
        signed_by_us.remove(c["token"].as_str().unwrap());
    }
    let peer = base64_der(cases[0]["peer_certificate"].as_str().unwrap()).unwrap();
    let verifier =
        Verifier::new(doc["issuer"].as_str().unwrap(), AUDIENCE, Keys::fixed(&doc["jwks"].to_string()).unwrap())
            .unwrap();
    let rt = runtime();
    let now = UNIX_EPOCH + Duration::from_secs(NOW);
    TestRunner::new(config())
        .run(&(0..seeds.len(), edits()), |(seed, edits)| {
            let token = String::from_utf8_lossy(&mutate(seeds[seed].as_bytes(), &edits)).into_owned();
            if rt.block_on(verifier.verify_at(&token, &peer, now)).is_ok() {
                prop_assert!(
                    signed_by_us.contains(&token),
                    "accepted a token the vectors do not hold as good: {token:?}"
                );
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn signed_mutations_pass_only_what_the_rules_allow() {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let point = key.public_key_raw();
    let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "alg": "ES256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])}]});
    let signer = EncodingKey::from_ec_pem(key.serialize_pem().as_bytes()).unwrap();
    let peer_key = rcgen::KeyPair::generate().unwrap();
    let peer = rcgen::CertificateParams::default().self_signed(&peer_key).unwrap().der().to_vec();
    let verifier = Verifier::new(ISSUER, AUDIENCE, Keys::fixed(&jwks.to_string()).unwrap()).unwrap();
    let claims = json!({"iss": ISSUER, "sub": "spiffe://lanyard.local/ns/shop/sa/frontend", "aud": AUDIENCE,
        "iat": NOW, "nbf": NOW, "exp": NOW + 300, "jti": "t-1", "scope": "inventory.read",
        "cnf": {"x5t#S256": thumbprint(&peer)}})
    .to_string();
    let header = r#"{"alg":"ES256","kid":"k1","typ":"JWT"}"#;
    let seeds: Vec<(String, String)> = vec![
        (header.into(), claims.clone()),
        (r#"{"alg":"ES256","kid":"k1","typ":"JWT","kid":"k1"}"#.into(), claims.clone()),
        (r#"{"alg":"ES256","kid":"k1","typ":"JOSE","zip":"DEF"}"#.into(), format!(r#"{{"aud":["x"],{}"#, &claims[1..])),
        (header.into(), r#"{"exp":1e300,"nbf":-1,"iat":null}"#.into()),
    ];
    let rt = runtime();
    let now = UNIX_EPOCH + Duration::from_secs(NOW);
    TestRunner::new(config())
        .run(&(0..seeds.len(), edits(), edits()), |(seed, on_header, on_payload)| {
            let h = mutate(seeds[seed].0.as_bytes(), &on_header);
            let p = mutate(seeds[seed].1.as_bytes(), &on_payload);
            let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(&h), URL_SAFE_NO_PAD.encode(&p));
            let signature = jsonwebtoken::crypto::sign(input.as_bytes(), &signer, Algorithm::ES256).unwrap();
            if rt.block_on(verifier.verify_at(&format!("{input}.{signature}"), &peer, now)).is_ok() {
                prop_assert!(
                    allowed(&h, &p, &peer),
                    "accepted {:?} {:?}",
                    String::from_utf8_lossy(&h),
                    String::from_utf8_lossy(&p)
                );
            }
            Ok(())
        })
        .unwrap();
}

/// What an accepted token must be, checked independently of the verifier's code.
fn allowed(header: &[u8], payload: &[u8], peer: &[u8]) -> bool {
    let (Ok(h), Ok(c)) = (serde_json::from_slice::<Value>(header), serde_json::from_slice::<Value>(payload)) else {
        return false;
    };
    let aud = match &c["aud"] {
        Value::Array(a) if a.len() == 1 => a[0].clone(),
        other => other.clone(),
    };
    let now = NOW as f64;
    h["alg"] == "ES256"
        && h["typ"] == "JWT"
        && h["kid"] == "k1"
        && h.get("zip").is_none()
        && h.get("crit").is_none()
        && c["iss"] == ISSUER
        && aud == AUDIENCE
        && c["exp"].as_f64().is_some_and(|e| now < e + 30.0)
        && c["nbf"].as_f64().is_some_and(|t| now >= t - 30.0)
        && c["iat"].as_f64().is_some_and(|t| now >= t - 30.0)
        && c["cnf"]["x5t#S256"] == thumbprint(peer)
}
