"""pyrunc start ID"""
from pyrunc.cli.common import parse_cmd


def main(ctx, args):
    _, pos = parse_cmd("start", (), args)
    from pyrunc import container, state
    container.start(state.load(ctx.root, pos[0]))
    return 0
