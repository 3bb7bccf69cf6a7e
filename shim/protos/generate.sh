#!/bin/sh
# Regenerates the *_pb2.py modules and schema.py (the field tables the shim's codec uses).
# The proto import paths are rooted at the package name (pyrunc_shim/protos/...) so the
# generated imports resolve inside the installed package. Needs grpcio-tools (see INTEGRATION.md).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ln -s "$here/.." "$tmp/pyrunc_shim"
cd "$tmp"
"$python" -m grpc_tools.protoc -I . --python_out=. pyrunc_shim/protos/*.proto
PYTHONPATH="$tmp" "$python" "$here/gen_schema.py" "$here/schema.py"
