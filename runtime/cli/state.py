"""pyrunc state ID: the runtime-spec state as JSON (the usual form is run by ops.main)."""
import os

from pyrunc.cli.common import parse_cmd


def main(ctx, args):
    _, pos = parse_cmd("state", (), args)
    from pyrunc import ops, state
    os.write(1, ops.state_json(state.load(ctx.root, pos[0])).encode())
    return 0
