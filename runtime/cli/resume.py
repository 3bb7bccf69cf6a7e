"""`pyrunc resume ID`: thaw a paused container."""
from pyrunc.cli.common import parse_cmd
from pyrunc.errors import InvalidState


def main(ctx, args):
    from pyrunc import state
    _, pos = parse_cmd("resume", (), args, nargs=1)
    c = state.load(ctx.root, pos[0])
    if c.status() != state.PAUSED:
        raise InvalidState("container not paused")
    c.cgroup_manager().thaw()
    return 0
