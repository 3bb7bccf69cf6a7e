"""pyrunc kill [--all] ID [SIGNAL] (the usual form is run by ops.main)"""
from pyrunc.cli.args import BOOL, Flag
from pyrunc.cli.common import parse_cmd

FLAGS = (Flag("all,a", BOOL),)


def main(ctx, args):
    opts, pos = parse_cmd("kill", FLAGS, args, nargs=None, stop=True)
    from pyrunc.errors import UsageError
    if not 1 <= len(pos) <= 2:
        raise UsageError('pyrunc: "kill" requires a minimum of 1 and a maximum of 2 argument(s)')
    from pyrunc import ops, state
    c = state.load(ctx.root, pos[0])
    sig = ops.parse_signal(pos[1] if len(pos) > 1 else "SIGTERM")
    ops.kill(c, sig, opts["all"])
    return 0
