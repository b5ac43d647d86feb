#!/usr/bin/env bash
# Regenerates the Swift protobuf messages in Sources/RecurrentProtos from the .proto files the
# upstream projects ship in their PyPI packages (so only PyPI is needed, at pinned versions).
# Needs: protoc (Debian's protobuf-compiler), pip, and protoc-gen-swift 1.39.0 (the version of
# swift-protobuf in Package.swift): on PATH or given as PROTOC_GEN_SWIFT=/path/to/protoc-gen-swift.
# Build it once with: git clone -b 1.39.0 https://github.com/apple/swift-protobuf &&
#   (cd swift-protobuf && swift build -c release --product protoc-gen-swift)
# Usage: scripts/generate-protos.sh
set -euo pipefail
cd "$(dirname "$0")/.."

out=Sources/RecurrentProtos
plugin="${PROTOC_GEN_SWIFT:-$(command -v protoc-gen-swift || true)}"
[ -x "$plugin" ] || { echo "generate-protos: protoc-gen-swift not found (set PROTOC_GEN_SWIFT)" >&2; exit 1; }
command -v protoc >/dev/null || { echo "generate-protos: protoc not found (apt-get install protobuf-compiler)" >&2; exit 1; }
"$plugin" --version | grep -q "1\.39\.0" || { echo "generate-protos: need protoc-gen-swift 1.39.0, got $("$plugin" --version)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# fetch_proto PACKAGE==VERSION PATH_IN_WHEEL: unpacks one .proto of a PyPI wheel into $work/protos.
# The wheel is pinned to one platform so every machine unpacks the same file.
fetch_proto() {
    local requirement="$1" path="$2" dir="$work/wheels/${1%%=*}"
    mkdir -p "$dir" "$work/protos"
    [ -n "$(ls "$dir" 2>/dev/null)" ] || pip download --quiet --no-deps --only-binary=:all: \
        --platform manylinux_2_28_x86_64 --python-version 3.11 -d "$dir" "$requirement"
    python3 -m zipfile -e "$dir"/*.whl "$work/wheel-${1%%=*}"
    mkdir -p "$work/protos/$(dirname "$path")"
    cp "$work/wheel-${1%%=*}/$path" "$work/protos/$path"
}

# ONNX's model format (ModelProto, GraphProto, NodeProto, TensorProto, ...), for ONNX export.
fetch_proto onnx==1.23.2 onnx/onnx.proto

# Package visibility: the messages are an implementation detail of the package, not public API.
protoc --plugin=protoc-gen-swift="$plugin" -I "$work/protos" \
    --swift_opt=Visibility=Package --swift_opt=FileNaming=DropPath \
    --swift_out="$out" \
    onnx/onnx.proto
# TensorBoard's event records (Event, Summary, HistogramProto): a minimal schema kept in this
# repository, written from the field numbers of tensorboard/compat/proto.
protoc --plugin=protoc-gen-swift="$plugin" -I scripts/protos \
    --swift_opt=Visibility=Package --swift_opt=FileNaming=DropPath \
    --swift_out="$out" \
    tensorboard_event.proto
echo "generate-protos: wrote $(cd "$out" && ls *.pb.swift | tr '\n' ' ')"
