"""`pyrunc update ID`: change a running container's resources (runc update.go semantics).

Either --resources FILE|- (a LinuxResources JSON; the other flags are then ignored) or the
individual flags. A zero means "unchanged" (except where zero is itself a setting), -1 means
unlimited. The merged resources are written through the same cgroup mapping as create
(devices untouched) and persisted in the container's state.
"""
import sys

from pyrunc.cli.args import BOOL, STR, Flag
from pyrunc.cli.common import parse_cmd
from pyrunc.errors import PyruncError

# flag -> (section, key, kind); kind "bytes" takes units (512m), "int" a plain integer.
FIELDS = (
    ("memory", "memory", "limit", "bytes"),
    ("memory-swap", "memory", "swap", "bytes"),
    ("memory-reservation", "memory", "reservation", "bytes"),
    ("kernel-memory", "memory", "kernel", "bytes"),
    ("kernel-memory-tcp", "memory", "kernelTCP", "bytes"),
    ("cpu-share", "cpu", "shares", "int"),
    ("cpu-quota", "cpu", "quota", "int"),
    ("cpu-period", "cpu", "period", "int"),
    ("cpu-burst", "cpu", "burst", "int"),
    ("cpu-rt-period", "cpu", "realtimePeriod", "int"),
    ("cpu-rt-runtime", "cpu", "realtimeRuntime", "int"),
    ("cpuset-cpus", "cpu", "cpus", "str"),
    ("cpuset-mems", "cpu", "mems", "str"),
    ("cpu-idle", "cpu", "idle", "int"),
    ("blkio-weight", "blockIO", "weight", "int"),
    ("pids-limit", "pids", "limit", "int"),
)

FLAGS = (Flag("resources,r", STR, ""), Flag("l3-cache-schema", STR, ""), Flag("mem-bw-schema", STR, ""),
         Flag("help,h", BOOL)) + tuple(Flag(f[0], STR, "") for f in FIELDS)

# Fields where 0 is a real value rather than "leave unchanged".
ZERO_IS_VALUE = {("memory", "swappiness"), ("cpu", "idle"), ("cpu", "burst")}


def _number(flag, text, kind):
    from pyrunc.cgroups.convert import parse_bytes
    try:
        return parse_bytes(text) if kind == "bytes" else int(text, 10) if kind == "int" else text
    except ValueError:
        raise PyruncError(f"invalid value for {flag}: {text}") from None


def from_flags(opts, log):
    res = {}
    for flag, section, key, kind in FIELDS:
        text = opts[flag.replace("-", "_")]
        if text == "":
            continue
        if flag.startswith("kernel-memory"):
            log.warning(f"{flag} is deprecated: kernel memory limits are ignored")
            continue
        res.setdefault(section, {})[key] = _number(flag, text, kind)
    mem = res.get("memory", {})
    if mem.get("limit") == -1 and "swap" not in mem:
        mem["swap"] = -1  # memsw must stay >= the limit, so an unlimited limit lifts it too
    return res


def read_resources(src):
    import json
    try:
        data = sys.stdin.read() if src == "-" else open(src).read()
        res = json.loads(data)
    except (OSError, ValueError) as e:
        raise PyruncError(f"unable to parse resources: {e}") from None
    if not isinstance(res, dict):
        raise PyruncError("unable to parse resources: not a JSON object")
    return res


def merge(stored, update):
    """Fold an update into the stored resources; devices are never changed by update."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in (stored or {}).items()}
    for section, value in update.items():
        if section == "devices" or value is None:
            continue
        if not isinstance(value, dict) or section == "rdma" and not value:
            out[section] = value
            continue
        target = out.setdefault(section, {})
        for key, v in value.items():
            if v is None or (v == 0 and not isinstance(v, bool) and (section, key) not in ZERO_IS_VALUE):
                continue
            target[key] = v
    return out


def main(ctx, args):
    from pyrunc import state
    opts, pos = parse_cmd("update", FLAGS, args, nargs=1)
    if opts["l3_cache_schema"] or opts["mem_bw_schema"]:
        raise PyruncError("intel RDT is not supported by pyrunc")
    c = state.load(ctx.root, pos[0])
    if c.status() == state.STOPPED:
        raise PyruncError("container not running")
    upd = read_resources(opts["resources"]) if opts["resources"] else from_flags(opts, ctx.log)
    linux = c.config.setdefault("linux", {})
    merged = merge(linux.get("resources"), upd)
    m = c.cgroup_manager()
    warnings = m.apply(merged, skip_devices=True) or ()
    for ptr, why in warnings:
        ctx.log.warning(f"{ptr}: {why}")
    linux["resources"] = merged
    c.save()
    return 0
