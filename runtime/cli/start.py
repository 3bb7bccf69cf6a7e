"""pyrunc start ID (the usual form is run by ops.main)"""
from pyrunc.cli.common import parse_cmd


def main(ctx, args):
    _, pos = parse_cmd("start", (), args)
    from pyrunc import ops, state
    ops.start(state.load(ctx.root, pos[0]))
    return 0
