#!/usr/bin/env bash
# The Go half of the build, run by Maven in the test phase of clients/go (pom.xml):
#   1. regenerates the protobuf code into a temporary directory and fails if it differs from the
#      committed code;
#   2. go vet and go test in clients/go (integration tests use LANYARD_CLASSPATH to start a server),
#      then 3,000 inputs of each token-verifier fuzz target;
#   3. builds cmd/lanyard-loadgen to clients/go/target/lanyard-loadgen (what `lanyard bench` runs) and
#      cmd/lanyard-cli to clients/go/target/lanyard-cli (the server-calling verbs of ./lanyard);
#   4. vets, tests and builds examples/payments to examples/payments/target/payments.
# LANYARD_SKIP_GO_TESTS=true (Maven's -DskipTests) skips the tests but still checks and builds.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

# The official installer's place, for shells whose PATH does not name it.
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
if ! command -v go >/dev/null 2>&1; then
  cat >&2 <<'MSG'
clients/go/build.sh: the Go toolchain (`go`, 1.26 or newer) is not on PATH.
Install Go (https://go.dev/doc/install), or skip the Go and Rust builds with -Dlanyard.skipCrossLanguage=true
MSG
  exit 1
fi
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
skip_tests="${LANYARD_SKIP_GO_TESTS:-false}"

echo "clients/go: checking that the generated code is current ($(go version))"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$here/gen.sh" "$tmp"
stale=0
for dir in lanyardpb examplespb; do
  if ! diff -r "$tmp/$dir" "$here/$dir" >"$tmp/diff.txt" 2>&1; then
    stale=1
    cat "$tmp/diff.txt" >&2
  fi
done
if [[ $stale -ne 0 ]]; then
  echo "clients/go/build.sh: the committed generated code differs from what proto/ generates; run clients/go/gen.sh and commit the result" >&2
  exit 1
fi

unformatted="$(gofmt -l "$here" "$root/examples/payments")"
if [[ -n "$unformatted" ]]; then
  echo "clients/go/build.sh: these files are not gofmt-formatted (run gofmt -w):" >&2
  echo "$unformatted" >&2
  exit 1
fi

cd "$here"
echo "clients/go: go vet ./..."
go vet ./...
if [[ "$skip_tests" != "true" ]]; then
  short=()
  if [[ -z "${LANYARD_CLASSPATH:-}" ]]; then
    echo "clients/go/build.sh: LANYARD_CLASSPATH is not set; the integration tests will skip (go test -short)" >&2
    short=(-short)
  fi
  echo "clients/go: go test ./..."
  go test -count=1 "${short[@]}" ./...
  # A short bounded run of each fuzz target (the seeds ran above); longer runs: see verify/fuzz_test.go.
  # Counted, not timed: a -fuzztime duration can end in a spurious "context deadline exceeded" on a
  # loaded machine (Go's fuzz coordinator race, golang/go#75804, fixed only in Go 1.27).
  for target in FuzzVerify FuzzSigned; do
    echo "clients/go: go test -fuzz $target (3,000 inputs)"
    go test -run '^$' -fuzz "^$target\$" -fuzztime 3000x ./verify
  done
fi

# The load generator `lanyard bench` runs (cmd/lanyard-loadgen), tested above with the module.
go build -trimpath -ldflags "-s -w" -o target/lanyard-loadgen ./cmd/lanyard-loadgen
echo "clients/go: built clients/go/target/lanyard-loadgen"
# The server-calling verbs of ./lanyard (cmd/lanyard-cli), built the way ./lanyard builds it.
go build -trimpath -ldflags "-s -w" -o target/lanyard-cli ./cmd/lanyard-cli
echo "clients/go: built clients/go/target/lanyard-cli"

cd "$root/examples/payments"
echo "examples/payments: go vet, go test, go build -> examples/payments/target/payments"
go vet ./...
if [[ "$skip_tests" != "true" ]]; then
  go test -count=1 ./...
fi
mkdir -p target
go build -o target/payments .
