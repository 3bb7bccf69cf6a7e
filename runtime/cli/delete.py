"""pyrunc delete [--force] ID (the usual form of a container with a state is run by ops.main)"""
import os

from pyrunc.cli.args import BOOL, Flag
from pyrunc.cli.common import parse_cmd

FLAGS = (Flag("force,f", BOOL),)


def main(ctx, args):
    opts, pos = parse_cmd("delete", FLAGS, args)
    from pyrunc import ops, state
    from pyrunc.errors import ContainerNotFound
    try:
        c = state.load(ctx.root, pos[0])
    except ContainerNotFound:
        # A half-made state dir (a create killed mid-way) is removed; --force makes a
        # missing container a success, as containerd's cleanup expects.
        path = os.path.join(ctx.root, pos[0])
        if os.path.isdir(path):
            state.remove_tree(path)
        if opts["force"]:
            return 0
        raise
    ops.delete(c, opts["force"], warn=ctx.log.warning)
    return 0
