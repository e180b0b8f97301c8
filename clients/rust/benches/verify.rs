//! Cost of verifying one Lanyard token with the JWKS already cached: the first good case of the
//! shared vectors (ES256, minted by Lanyard). `cargo bench --bench verify`.

use criterion::{criterion_group, criterion_main, Criterion};
use lanyard::jwks::Keys;
use lanyard::verify::{base64_der, Verifier};
use serde_json::Value;
use std::time::{Duration, UNIX_EPOCH};

fn verify(c: &mut Criterion) {
    let text = std::fs::read_to_string("../../testdata/vectors/verification.json").expect("the shared vectors");
    let doc: Value = serde_json::from_str(&text).unwrap();
    let case = &doc["cases"][0];
    assert_eq!(case["expect"], "ok");
    let verifier = Verifier::new(
        doc["issuer"].as_str().unwrap(),
        case["audience"].as_str().unwrap(),
        Keys::fixed(&doc["jwks"].to_string()).unwrap(),
    )
    .unwrap();
    let token = case["token"].as_str().unwrap().to_owned();
    let peer = base64_der(case["peer_certificate"].as_str().unwrap()).unwrap();
    let now = UNIX_EPOCH + Duration::from_secs(case["now"].as_u64().unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    c.bench_function("verify ES256 token, cached JWKS", |b| {
        b.iter(|| runtime.block_on(verifier.verify_at(&token, &peer, now)).expect("verifies"))
    });
}

criterion_group!(benches, verify);
criterion_main!(benches);
