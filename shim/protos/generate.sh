#!/bin/sh
# Regenerates the *_pb2.py modules. The proto import paths are rooted at the package name
# (pyrunc_shim/protos/...) so the generated imports resolve inside the installed package.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ln -s "$here/.." "$tmp/pyrunc_shim"
cd "$tmp"
"$python" -m grpc_tools.protoc -I . --python_out=. pyrunc_shim/protos/*.proto
