#!/usr/bin/env bash
# The node agent's build, run by Maven in the test phase of agent/ (pom.xml): gofmt, go vet, go test
# (against a real Lanyard server started from LANYARD_CLASSPATH, with go-spiffe Workload API clients;
# the uid tests need root, or LANYARD_SKIP_UID_TESTS=true), then go build -> agent/target/lanyard-agent.
# LANYARD_SKIP_GO_TESTS=true (Maven's -DskipTests) skips the tests but still checks and builds.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
if ! command -v go >/dev/null 2>&1; then
  cat >&2 <<'MSG'
agent/build.sh: the Go toolchain (`go`, 1.26 or newer) is not on PATH.
Install Go (https://go.dev/doc/install), or skip the Go and Rust builds with -Dlanyard.skipCrossLanguage=true
MSG
  exit 1
fi
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
cd "$here"

unformatted="$(gofmt -l .)"
if [[ -n "$unformatted" ]]; then
  echo "agent/build.sh: these files are not gofmt-formatted (run gofmt -w):" >&2
  echo "$unformatted" >&2
  exit 1
fi
echo "agent: go vet ./... ($(go version))"
go vet ./...
if [[ "${LANYARD_SKIP_GO_TESTS:-false}" != "true" ]]; then
  if [[ -z "${LANYARD_CLASSPATH:-}" ]]; then
    echo "agent/build.sh: LANYARD_CLASSPATH is not set; the integration tests will skip" >&2
  fi
  echo "agent: go test ./..."
  go test -count=1 ./...
fi
mkdir -p target
go build -trimpath -ldflags "-s -w" -o target/lanyard-agent .
echo "agent: built agent/target/lanyard-agent"
