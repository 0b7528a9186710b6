#!/usr/bin/env bash
# Installs the pinned code generators and tools into .tools/ (ignored by git):
# Go plugins, grpcurl and the benchmark's load tools (ghz, vegeta) from the Go
# module proxy, protoc and the grpc-java plugin from Maven Central,
# protoc-gen-es from npm. Idempotent: a tool that
# is already there at its pinned version is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$PWD/.tools/bin"
mkdir -p "$BIN"

PROTOC_GEN_GO=v1.36.12
PROTOC_GEN_GO_GRPC=v1.6.0
GRPC_GATEWAY=v2.33.0
GRPCURL=v1.9.4
GHZ=v0.121.0             # the benchmark's gRPC load (bench/)
VEGETA=v12.13.0          # the benchmark's HTTP load (bench/)
PROTOC=4.35.1            # libprotoc 35.1, the same compiler grpcio-tools 1.85.1 bundles
GRPC_JAVA_PLUGIN=1.83.1  # newest protoc-gen-grpc-java with a linux-x86_64 build on Maven Central

stamp() { echo "$BIN/.$1-$2"; }

go_tool() {  # name version package
  if [ ! -x "$BIN/$1" ] || [ ! -e "$(stamp "$1" "$2")" ]; then
    echo "installing $1 $2"
    GOBIN="$BIN" GOFLAGS=-mod=mod go install "$3@$2"
    touch "$(stamp "$1" "$2")"
  fi
}

maven_exe() {  # name groupId:artifactId version
  if [ ! -x "$BIN/$1" ] || [ ! -e "$(stamp "$1" "$3")" ]; then
    echo "installing $1 $3"
    local dir
    dir=$(mktemp -d)
    mvn -B -q dependency:copy -Dartifact="$2:$3:exe:linux-x86_64" -DoutputDirectory="$dir"
    mv "$dir"/*.exe "$BIN/$1"
    chmod +x "$BIN/$1"
    rm -rf "$dir"
    touch "$(stamp "$1" "$3")"
  fi
}

command -v go >/dev/null || { echo "go is needed (the Go toolchain) to build the Go plugins" >&2; exit 1; }
go_tool protoc-gen-go "$PROTOC_GEN_GO" google.golang.org/protobuf/cmd/protoc-gen-go
go_tool protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC" google.golang.org/grpc/cmd/protoc-gen-go-grpc
go_tool protoc-gen-grpc-gateway "$GRPC_GATEWAY" github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway
go_tool protoc-gen-openapiv2 "$GRPC_GATEWAY" github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2
go_tool grpcurl "$GRPCURL" github.com/fullstorydev/grpcurl/cmd/grpcurl
go_tool ghz "$GHZ" github.com/bojand/ghz/cmd/ghz
go_tool vegeta "$VEGETA" github.com/tsenart/vegeta/v12

command -v mvn >/dev/null || { echo "mvn (Maven) is needed to fetch protoc and protoc-gen-grpc-java" >&2; exit 1; }
maven_exe protoc com.google.protobuf:protoc "$PROTOC"
maven_exe protoc-gen-grpc-java io.grpc:protoc-gen-grpc-java "$GRPC_JAVA_PLUGIN"

command -v npm >/dev/null || { echo "npm (Node.js) is needed for protoc-gen-es" >&2; exit 1; }
if [ ! -x tools/node/node_modules/.bin/protoc-gen-es ] || [ tools/node/package-lock.json -nt tools/node/node_modules/.installed ]; then
  echo "installing protoc-gen-es"
  npm ci --prefix tools/node --no-audit --no-fund --loglevel=error
  touch tools/node/node_modules/.installed
fi
ln -sf "$PWD/tools/node/node_modules/.bin/protoc-gen-es" "$BIN/protoc-gen-es"
