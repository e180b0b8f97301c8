#!/usr/bin/env bash
# Generates the Go code of proto/lanyard/v1 and proto/examples/*/v1 into OUT (default: this directory).
# protoc comes from Maven Central (see pom.xml: target/protoc/protoc and the well-known types in
# target/protoc/include); the plugins are the versions pinned as tools in go.mod.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$here}"
protoc="${PROTOC:-$here/target/protoc/protoc}"
include="${PROTOC_INCLUDE:-$here/target/protoc/include}"
# Maven copies the executable without its mode bits.
if [[ -f "$protoc" && ! -x "$protoc" ]]; then
  chmod +x "$protoc"
fi
if [[ ! -x "$protoc" ]]; then
  echo "gen.sh: no protoc at $protoc; run 'mvn -pl clients/go generate-resources' (it fetches protoc from Maven Central) or set PROTOC" >&2
  exit 1
fi
if [[ ! -f "$include/google/protobuf/descriptor.proto" ]]; then
  echo "gen.sh: no well-known .proto files under $include; run 'mvn -pl clients/go generate-resources' or set PROTOC_INCLUDE" >&2
  exit 1
fi
bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT
(cd "$here" && go build -o "$bin/" google.golang.org/protobuf/cmd/protoc-gen-go google.golang.org/grpc/cmd/protoc-gen-go-grpc)
mkdir -p "$out"
cd "$root/proto"
mapfile -t files < <(find lanyard examples -name '*.proto' | LC_ALL=C sort)
module="github.com/lanyard-dev/lanyard/clients/go"
"$protoc" -I . -I "$include" \
  --plugin=protoc-gen-go="$bin/protoc-gen-go" --plugin=protoc-gen-go-grpc="$bin/protoc-gen-go-grpc" \
  --go_out="$out" --go_opt=module="$module" \
  --go-grpc_out="$out" --go-grpc_opt=module="$module" \
  "${files[@]}"
