"""pyrunc list [--format table|json] [--quiet]"""
import os

from pyrunc.cli.args import BOOL, STR, Flag
from pyrunc.cli.common import parse_cmd

FLAGS = (Flag("format,f", STR, "table"), Flag("quiet,q", BOOL))


def main(ctx, args):
    opts, _ = parse_cmd("list", FLAGS, args, nargs=0)
    from pyrunc import state
    from pyrunc.errors import ContainerNotFound, PyruncError
    if opts["format"] not in ("table", "json"):
        raise PyruncError("invalid format option")
    rows = []
    for cid in state.list_ids(ctx.root):
        try:
            c = state.load(ctx.root, cid)
        except ContainerNotFound:
            continue
        s = c.oci_state()
        s["owner"] = state.owner_name(c.data.get("owner", 0))
        rows.append(s)
    if opts["quiet"]:
        os.write(1, "".join(r["id"] + "\n" for r in rows).encode())
    elif opts["format"] == "json":
        from pyrunc.jsonfast import dumps
        os.write(1, ((dumps(rows) if rows else "null") + "\n").encode())
    else:
        _table(rows)
    return 0


def _table(rows):
    head = ("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")
    lines = [head] + [(r["id"], str(r["pid"]), r["status"], r["bundle"], r["created"],
                       r["owner"]) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = []
    for line in lines:
        cells = [cell.ljust(max(widths[i], 10) + 2) for i, cell in enumerate(line)]
        out.append("".join(cells).rstrip() + "\n")
    os.write(1, "".join(out).encode())
