//! The Rust verifier against the shared vectors the Java and Go verifiers run too.

use lanyard::jwks::Keys;
use lanyard::verify::{base64_der, RevocationSet, Verifier};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

struct Listed {
    jtis: Vec<String>,
    ids: Vec<String>,
    serials: Vec<String>,
}

impl RevocationSet for Listed {
    fn is_revoked_jti(&self, jti: &str) -> bool {
        self.jtis.iter().any(|j| j == jti)
    }
    fn is_revoked_identity(&self, id: &str) -> bool {
        self.ids.iter().any(|i| i == id)
    }
    fn is_revoked_serial(&self, serial: &str) -> bool {
        self.serials.iter().any(|s| s.trim_start_matches('0') == serial)
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect()).unwrap_or_default()
}

#[tokio::test]
async fn the_rust_verifier_reaches_every_expected_verdict() {
    let text = std::fs::read_to_string("../../testdata/vectors/verification.json").expect("the shared vectors");
    let doc: Value = serde_json::from_str(&text).unwrap();
    let jwks = doc["jwks"].to_string();
    let issuer = doc["issuer"].as_str().unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() > 20);
    let mut disagreements = Vec::new();
    for c in cases {
        let revoked = &c["revoked"];
        let verifier = Verifier::new(issuer, c["audience"].as_str().unwrap(), Keys::fixed(&jwks).unwrap())
            .unwrap()
            .with_skew(Duration::from_secs(c["skew_seconds"].as_u64().unwrap()))
            .unwrap()
            .with_revocations(Arc::new(Listed {
                jtis: strings(&revoked["jtis"]),
                ids: strings(&revoked["spiffe_ids"]),
                serials: strings(&revoked["serials"]),
            }));
        let peer = base64_der(c["peer_certificate"].as_str().unwrap()).unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(c["now"].as_u64().unwrap());
        let verdict = match verifier.verify_at(c["token"].as_str().unwrap(), &peer, now).await {
            Ok(token) => {
                if token.missing_scopes(&strings(&c["required_scopes"])).is_empty() {
                    "ok".to_string()
                } else {
                    "missing_scope".to_string()
                }
            }
            Err(rejected) => rejected.failure.as_str().to_string(),
        };
        if verdict != c["expect"].as_str().unwrap() {
            disagreements.push(format!("{}: expected {}, got {verdict}", c["name"], c["expect"]));
        }
    }
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}
