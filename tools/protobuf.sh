#!/usr/bin/env bash
# Regenerates Sources/DSINet/Generated/dsi.pb.swift from docs/dsi.proto. Needs protoc (Debian's protobuf-compiler)
# and protoc-gen-swift built from apple/swift-protobuf at the version Package.swift names (a release build takes a few
# minutes, so the generated file is committed and this is run only when the schema changes).
set -euo pipefail
cd "$(dirname "$0")/.."
version=1.39.0
command -v protoc >/dev/null || apt-get install -y protobuf-compiler
work=${TMPDIR:-/tmp}/dsi-protoc-gen-swift
if [ ! -x "$work/.build/release/protoc-gen-swift" ]; then
    rm -rf "$work"
    # The package mirror's checkout when there is one (no network needed), else GitHub.
    if [ -d .build/checkouts/swift-protobuf ]; then cp -r .build/checkouts/swift-protobuf "$work"; else
        git clone -q --branch "$version" https://github.com/apple/swift-protobuf "$work"; fi
    (cd "$work" && swift build -c release --product protoc-gen-swift)
fi
mkdir -p Sources/DSINet/Generated
protoc --plugin="$work/.build/release/protoc-gen-swift" --swift_opt=Visibility=Public \
    --swift_out=Sources/DSINet/Generated -Idocs docs/dsi.proto
echo "wrote Sources/DSINet/Generated/dsi.pb.swift"
