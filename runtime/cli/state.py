"""pyrunc state ID: the runtime-spec state as JSON."""
import os

from pyrunc.cli.common import parse_cmd


def main(ctx, args):
    _, pos = parse_cmd("state", (), args)
    from pyrunc import state
    from pyrunc.jsonfast import dumps
    c = state.load(ctx.root, pos[0])
    out = c.oci_state()
    out["owner"] = ""
    os.write(1, (dumps(out, indent=2) + "\n").encode())
    return 0
