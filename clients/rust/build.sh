#!/usr/bin/env bash
# The Rust half of the build, run by Maven in the test phase of clients/rust (pom.xml):
#   0. cargo fmt --check of the crate and the example;
#   1. cargo test of the lanyard crate (unit tests, the shared verification vectors, the CRL fallback
#      against real CRLs, a short proptest run of the token fuzz harness, tests/fuzz.rs, and tokens
#      across renewals against a real dev server, tests/binding.rs, which needs LANYARD_CLASSPATH);
#   2. builds examples/ledger (sharing this crate's target directory, so dependencies compile once)
#      to examples/ledger/target/debug/ledger, which the cross-language e2e suite runs.
# Crates come from crates.io (Cargo.lock pins them); protoc is vendored by a crate.
# LANYARD_SKIP_RUST_TESTS=true (Maven's -DskipTests) skips the tests but still builds.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

# rustup's place, for shells whose PATH does not name it.
if ! command -v cargo >/dev/null 2>&1 && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  cat >&2 <<'MSG'
clients/rust/build.sh: the Rust toolchain (`cargo`, 1.82 or newer) is not on PATH.
Install Rust (https://rustup.rs), or skip the Go and Rust builds with -Dlanyard.skipCrossLanguage=true
MSG
  exit 1
fi

cd "$here"
echo "clients/rust: $(cargo --version)"
# Formatting is checked like gofmt on the Go side (rustfmt.toml; `cargo fmt` fixes it).
for dir in "$here" "$root/examples/ledger"; do
  if ! (cd "$dir" && cargo fmt --check >/dev/null); then
    echo "clients/rust/build.sh: $dir is not formatted; run: (cd $dir && cargo fmt)" >&2
    exit 1
  fi
done
if [[ "${LANYARD_SKIP_RUST_TESTS:-false}" != "true" ]]; then
  cargo test --locked
fi
cargo build --locked --manifest-path "$root/examples/ledger/Cargo.toml" --target-dir "$here/target"
if [[ "${LANYARD_SKIP_RUST_TESTS:-false}" != "true" ]]; then
  cargo test --locked --manifest-path "$root/examples/ledger/Cargo.toml" --target-dir "$here/target"
fi
mkdir -p "$root/examples/ledger/target/debug"
cp "$here/target/debug/ledger" "$root/examples/ledger/target/debug/ledger"
echo "clients/rust: built examples/ledger/target/debug/ledger"
