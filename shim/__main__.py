"""Entry point: `containerd-shim-pyrunc-v1 [flags] start|delete`, or the daemon (no action)."""
import os
import sys

# Go flag package style: -flag value, -flag=value, --flag, booleans without a value.
STRING_FLAGS = ("namespace", "address", "publish-binary", "id", "bundle", "socket", "debug-socket")
BOOL_FLAGS = ("debug", "v", "info")


class Flags:
    def __init__(self):
        self.namespace = os.environ.get("NAMESPACE", "")
        self.address = os.environ.get("GRPC_ADDRESS", "")
        self.publish_binary = ""
        self.id = ""
        self.bundle = ""
        self.socket = ""
        self.debug_socket = ""
        self.debug = self.v = self.info = False
        self.action = ""


def parse_flags(argv):
    flags = Flags()
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if not arg.startswith("-") or arg in ("-", "--"):
            flags.action = arg
            continue
        name, eq, value = arg.lstrip("-").partition("=")
        if name in BOOL_FLAGS:
            setattr(flags, name, value.lower() not in ("false", "0") if eq else True)
        elif name in STRING_FLAGS:
            if not eq:
                if i >= len(argv):
                    raise SystemExit("flag needs an argument: -%s" % name)
                value = argv[i]
                i += 1
            setattr(flags, name.replace("-", "_"), value)
        else:
            raise SystemExit("flag provided but not defined: -%s" % name)
    return flags


def main(argv=None):
    flags = parse_flags(sys.argv[1:] if argv is None else argv)
    if flags.v:
        from pyrunc_shim import VERSION
        sys.stdout.write("containerd-shim-pyrunc-v1:\n  Version:  %s\n  Revision: \n  Go version: none (Python %s)\n\n"
                         % (VERSION, sys.version.split()[0]))
        return 0
    if flags.info:
        from pyrunc_shim.info import info
        return info(flags)
    if flags.action == "start":
        from pyrunc_shim.manager import start
        return start(flags)
    if flags.action == "delete":
        from pyrunc_shim.manager import delete
        return delete(flags)
    if flags.action:
        raise SystemExit("unknown action %r" % flags.action)
    from pyrunc_shim.daemon import serve
    return serve(flags)


if __name__ == "__main__":
    sys.exit(main())
