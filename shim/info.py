"""`-info`: describe the shim and, through `features`, the runtime (containerd 2.x asks)."""
import sys


def info(flags):
    from pyrunc_shim import VERSION
    from pyrunc_shim.options import parse
    from pyrunc_shim.wire import message_class
    from pyrunc_shim.runtime_client import find_binary
    from pyrunc_shim.spawn import run_output
    data = sys.stdin.buffer.read()
    type_url, value = "", b""
    if data:
        anyv = message_class("google.protobuf.Any").FromString(data)
        type_url, value = anyv.type_url, anyv.value
    opts = parse(type_url, value)
    resp = message_class("containerd.types.RuntimeInfo")(name="io.containerd.pyrunc.v1")
    resp.version.version = VERSION
    if data:
        resp.options.type_url, resp.options.value = type_url, value
    status, out = run_output([find_binary(opts.binary), "features"])
    if status == 0:
        try:
            from pyrunc_shim.jsonlite import loads
            loads(out)
            resp.features.type_url = "types.containerd.io/opencontainers/runtime-spec/1/features/Features"
            resp.features.value = out
        except ValueError:
            pass
    sys.stdout.buffer.write(resp.SerializeToString())
    return 0
