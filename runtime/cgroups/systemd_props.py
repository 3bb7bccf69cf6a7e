"""Pure parts of the systemd driver: cgroupsPath "slice:prefix:name" parsing, slice ->
cgroup path expansion, and linux.resources -> transient unit properties (D-Bus signature,
value) pairs."""
from pyrunc.cgroups import convert
from pyrunc.errors import ConfigError

INFINITY = 2 ** 64 - 1  # systemd's "infinity" for uint64 limits


def parse_path(container_id, cgroups_path, rootless=False):
    """-> (slice, unit name). Unset gives runc's default, <slice>/runc-<id>.scope."""
    if not cgroups_path:
        return ("user.slice" if rootless else "system.slice"), f"runc-{container_id}.scope"
    parts = cgroups_path.split(":")
    if len(parts) != 3:
        raise ConfigError("/linux/cgroupsPath", f"expected \"slice:prefix:name\" for the systemd cgroup driver, "
                                                f"got {cgroups_path!r}")
    slice_, prefix, name = parts
    slice_ = slice_ or ("user.slice" if rootless else "system.slice")
    if name.endswith(".slice"):
        return slice_, name
    return slice_, f"{prefix}-{name}.scope" if prefix else f"{name}.scope"


def expand_slice(slice_):
    """"a-b.slice" -> "/a.slice/a-b.slice"; "-.slice" is the root."""
    if not slice_.endswith(".slice") or "/" in slice_:
        raise ConfigError("/linux/cgroupsPath", f"invalid slice name {slice_!r}")
    if slice_ == "-.slice":
        return "/"
    base = slice_[:-len(".slice")]
    if base.startswith("-") or base.endswith("-") or "--" in base:
        raise ConfigError("/linux/cgroupsPath", f"invalid slice name {slice_!r}")
    path, prefix = "", ""
    for part in base.split("-"):
        prefix = f"{prefix}-{part}" if prefix else part
        path += f"/{prefix}.slice"
    return path


def _bitmask(spec):
    """cpuset list "0-2,4" -> the little-endian byte mask AllowedCPUs wants."""
    bits = 0
    for chunk in spec.split(","):
        lo, _, hi = chunk.strip().partition("-")
        for i in range(int(lo), int(hi or lo) + 1):
            bits |= 1 << i
    return bits.to_bytes(max(1, (bits.bit_length() + 7) // 8), "little")


def _limit(v):
    return INFINITY if v == -1 else v


def resource_props(res):
    """The unit properties systemd should own, so that a daemon-reload keeps the limits."""
    res = res or {}
    props = []
    mem, cpu, pids, bio = (res.get(k) or {} for k in ("memory", "cpu", "pids", "blockIO"))
    if mem.get("limit"):
        props.append(("MemoryMax", ("t", _limit(mem["limit"]))))
    if mem.get("reservation"):
        props.append(("MemoryLow", ("t", _limit(mem["reservation"]))))
    if mem.get("swap"):
        try:
            sw = convert.v2_swap_max(mem.get("limit") or None, mem["swap"])
        except ValueError as e:
            raise ConfigError("/linux/resources/memory/swap", str(e)) from None
        props.append(("MemorySwapMax", ("t", INFINITY if sw == "max" else int(sw))))
    if cpu.get("shares"):
        props.append(("CPUWeight", ("t", convert.shares_to_weight(cpu["shares"]))))
    if cpu.get("period"):
        props.append(("CPUQuotaPeriodUSec", ("t", cpu["period"])))
    if cpu.get("quota") and cpu["quota"] > 0:
        period = cpu.get("period") or 100000
        # systemd keeps the quota as a per-second budget rounded to 10 ms steps; round up
        # so the effective quota is never below what was asked for.
        per_sec = cpu["quota"] * 1000000 // period
        per_sec = (per_sec + 9999) // 10000 * 10000
        props.append(("CPUQuotaPerSecUSec", ("t", per_sec)))
    if cpu.get("cpus"):
        props.append(("AllowedCPUs", ("ay", _bitmask(cpu["cpus"]))))
    if cpu.get("mems"):
        props.append(("AllowedMemoryNodes", ("ay", _bitmask(cpu["mems"]))))
    if pids.get("limit") is not None:
        props.append(("TasksMax", ("t", INFINITY if pids["limit"] < 0 else pids["limit"] or 1)))
    if bio.get("weight"):
        props.append(("IOWeight", ("t", convert.blkio_weight_to_io_weight(bio["weight"]))))
    return props


def unit_props(unit, slice_, pid, description):
    props = [("Description", ("s", description)), ("PIDs", ("au", [pid])), ("Delegate", ("b", True)),
             ("MemoryAccounting", ("b", True)), ("CPUAccounting", ("b", True)),
             ("IOAccounting", ("b", True)), ("TasksAccounting", ("b", True)),
             ("DefaultDependencies", ("b", False)),
             # one OOM kill inside a container must not make systemd stop the whole scope
             ("OOMPolicy", ("s", "continue"))]
    if unit.endswith(".slice"):
        props.append(("Wants", ("as", [slice_])))
    else:
        props.append(("Slice", ("s", slice_)))
    return props


ANNOTATION_PREFIX = "org.systemd.property."
_GVARIANT_TYPES = {"byte": "y", "int16": "n", "uint16": "q", "int32": "i", "uint32": "u", "int64": "x",
                   "uint64": "t", "double": "d", "boolean": "b", "string": "s"}


def _gvariant(text):
    """The GVariant text forms people put in these annotations -> (signature, value):
    true/false, "uint64 123" (or "@t 123"), a bare integer (int32, as GVariant reads it),
    a quoted string, and a list of quoted strings."""
    t = text.strip()
    if t in ("true", "false"):
        return "b", t == "true"
    if t[:1] in "'\"" and t[-1:] == t[:1] and len(t) >= 2:
        return "s", t[1:-1]
    if t.startswith("[") and t.endswith("]"):
        items = [x.strip() for x in t[1:-1].split(",") if x.strip()]
        if all(i[:1] in "'\"" and i[-1:] == i[:1] for i in items):
            return "as", [i[1:-1] for i in items]
    word, _, rest = t.partition(" ")
    sig = word[1:] if word.startswith("@") else _GVARIANT_TYPES.get(word)
    if sig and rest:
        sig2, val = _gvariant(rest)
        if sig in "ynqiuxt" and sig2 in "ynqiuxt":
            return sig, val
        if sig == sig2 or sig == "d" and sig2 in "ynqiuxt":
            return sig, float(val) if sig == "d" else val
    try:
        return "i", int(t)
    except ValueError:
        pass
    try:
        return "d", float(t)
    except ValueError:
        raise ValueError(f"cannot parse {text!r} as a D-Bus value") from None


def annotation_props(annotations):
    """`org.systemd.property.<Name>` annotations -> extra unit properties. A *Sec property
    takes seconds and is sent as its *USec twin in microseconds, as runc does."""
    out = []
    for key, value in (annotations or {}).items():
        if not key.startswith(ANNOTATION_PREFIX):
            continue
        name = key[len(ANNOTATION_PREFIX):]
        ptr = "/annotations/" + key.replace("~", "~0").replace("/", "~1")
        if not name.isalnum():
            raise ConfigError(ptr, f"invalid systemd property name {name!r}")
        try:
            sig, val = _gvariant(value)
        except ValueError as e:
            raise ConfigError(ptr, str(e)) from None
        if name.endswith("Sec") and not name.endswith("USec"):
            if sig not in "ynqiuxtd":
                raise ConfigError(ptr, f"{name} needs a number of seconds")
            name, sig, val = name[:-3] + "USec", "t", int(round(float(val) * 1000000))
        out.append((name, (sig, val)))
    return out
