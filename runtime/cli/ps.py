"""`pyrunc ps ID [ps args]`: the container's processes (host pids from its cgroup).

json prints the pid array; table runs the host's `ps` (default -ef) and keeps the header
and the lines whose PID column belongs to the container.
"""
import sys

from pyrunc.cli.args import STR, Flag
from pyrunc.cli.common import parse_cmd
from pyrunc.errors import PyruncError

FLAGS = (Flag("format,f", STR, "table"),)


def table(pids, ps_args):
    import subprocess
    try:
        out = subprocess.run(["ps"] + ps_args, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise PyruncError(f"ps: {getattr(e, 'stderr', '') or e}".strip()) from None
    lines = out.splitlines()
    if not lines:
        raise PyruncError("couldn't find PID field in ps output")
    header = lines[0].split()
    if "PID" not in header:
        raise PyruncError("couldn't find PID field in ps output")
    col = header.index("PID")
    keep = set(pids)
    rows = [lines[0]]
    for line in lines[1:]:
        f = line.split()
        if len(f) > col and f[col].isdigit() and int(f[col]) in keep:
            rows.append(line)
    return "\n".join(rows) + "\n"


def main(ctx, args):
    from pyrunc import state
    opts, pos = parse_cmd("ps", FLAGS, args, nargs=1, stop=True, at_least=True)
    c = state.load(ctx.root, pos[0])
    if "cgroup" in c.data and not c.data["cgroup"]:
        c.cgroup_manager()  # rootless without a cgroup: its clear error (runc fails too)
    pids = c.cgroup_manager().pids() if c.data.get("cgroup") else []
    fmt = opts["format"]
    if fmt == "json":
        # runc encodes a nil slice as null
        sys.stdout.write(("[" + ",".join(map(str, pids)) + "]" if pids else "null") + "\n")
    elif fmt == "table":
        sys.stdout.write(table(pids, pos[1:] or ["-ef"]))
    else:
        raise PyruncError("invalid format option")
    return 0
