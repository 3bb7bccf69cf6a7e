"""pyrunc create [flags] ID"""
from pyrunc.cli.args import BOOL, INT, STR, Flag
from pyrunc.cli.common import parse_cmd

FLAGS = (
    Flag("bundle,b", STR, ""),
    Flag("console-socket", STR, ""),
    Flag("pidfd-socket", STR, ""),
    Flag("pid-file", STR, ""),
    Flag("no-pivot", BOOL),
    Flag("no-new-keyring", BOOL),
    Flag("preserve-fds", INT),
    Flag("detach,d", BOOL, hidden=True),  # go-runc may pass it; create always detaches
)


def create_opts(opts):
    from pyrunc import oslite as os
    out = dict(opts)
    if out.get("pid_file"):
        # Relative to the caller's cwd, before create moves into the bundle.
        out["pid_file"] = os.path.abspath(out["pid_file"])
    return out


def main(ctx, args):
    opts, pos = parse_cmd("create", FLAGS, args)
    from pyrunc.container import create
    create(ctx, pos[0], opts["bundle"] or ".", create_opts(opts))
    return 0
