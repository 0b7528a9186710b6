#!/usr/bin/env bash
# Regenerates everything under generated/ from protos/: Python with
# grpcio-tools, every other language with `buf generate` (buf.gen.yaml). Needs
# the project's virtual environment and the pinned plugins in .tools/bin
# (`make tools` installs both); uses no network.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
BIN="$(dirname "$PY")"

protos=$(cd protos && find threadline -name '*.proto' | sort)

# The vendored google/api protos must stay byte-identical to the pinned
# googleapis-common-protos package they were copied from.
pkg_api=$("$PY" -c 'import google.api.annotations_pb2 as m, os; print(os.path.dirname(m.__file__))')
for f in protos/google/api/*.proto; do
  cmp -s "$f" "$pkg_api/$(basename "$f")" || {
    echo "$f differs from googleapis-common-protos; copy it again from $pkg_api" >&2
    exit 1
  }
done

# Only the generated package is replaced: generated/python/pyproject.toml and
# README.md (the threadline-client distribution) are written by hand.
out=generated/python
rm -rf "$out/threadline"
mkdir -p "$out"
well_known=$("$PY" -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))')
# shellcheck disable=SC2086
PATH="$BIN:$PATH" "$PY" -m grpc_tools.protoc \
  -I protos -I "$well_known" \
  --python_out="$out" --grpc_python_out="$out" \
  --mypy_out="$out" --mypy_grpc_out="$out" \
  $protos
# Make the generated tree importable as regular packages (threadline.v1);
# threadline/__init__.py gets its __version__ from scripts/stamp_version.py.
find "$out/threadline" -type d -exec touch {}/__init__.py \;
touch "$out/threadline/py.typed"

# Go, grpc-gateway, OpenAPI (Swagger 2.0), TypeScript and Java. Only the generated source
# folders are replaced; the module files beside them (go.mod, package.json,
# pom.xml) are written by hand.
for tool in protoc protoc-gen-go protoc-gen-go-grpc protoc-gen-grpc-gateway protoc-gen-openapiv2 \
  protoc-gen-es protoc-gen-grpc-java; do
  [ -x ".tools/bin/$tool" ] || { echo ".tools/bin/$tool is missing: run 'make tools'" >&2; exit 1; }
done
rm -rf generated/go/threadline generated/go/gateway/threadline generated/openapi generated/ts/src generated/java/src/main/java
"$BIN/buf" generate --path protos/threadline

# OpenAPI 3.1, beside protoc-gen-openapiv2's Swagger 2.0: built from the routes
# the HTTP side serves (the Python stubs just generated), with the comments of a
# descriptor set that keeps them.
descriptors=$(mktemp)
trap 'rm -f "$descriptors"' EXIT
# shellcheck disable=SC2086
"$PY" -m grpc_tools.protoc -I protos -I "$well_known" --include_imports --include_source_info \
  --descriptor_set_out="$descriptors" $protos
"$PY" -m threadline_server.http.openapi "$descriptors" VERSION generated/openapi/threadline.openapi.json
"$PY" scripts/stamp_version.py
echo "generated/ is up to date with protos/"
