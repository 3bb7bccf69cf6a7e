"""`pyrunc pause ID`: freeze every process of the container's cgroup."""
from pyrunc.cli.common import parse_cmd
from pyrunc.errors import InvalidState


def main(ctx, args):
    from pyrunc import state
    _, pos = parse_cmd("pause", (), args, nargs=1)
    c = state.load(ctx.root, pos[0])
    if c.status() not in (state.RUNNING, state.CREATED):
        raise InvalidState("container not running")
    c.cgroup_manager().freeze()
    return 0
