"""Pure conversions from OCI linux.resources values to cgroup file values.

Nothing here touches the filesystem, so every rule (formulas, special values, the v2 swap
arithmetic) is unit-tested directly. Functions raise ValueError with the reason; the
backends turn that into ConfigError with the field's JSON pointer.
"""
import math

MAX = "max"
UNLIMITED_V1 = "-1"


def shares_to_weight(shares):
    """cpu.shares (2..262144, default 1024) -> cpu.weight (1..10000, default 100).

    The log-quadratic curve (runc >= 1.3.2) maps the v1 default 1024 exactly onto the v2
    default 100, which the old linear formula did not (it gave 39).
    """
    if not shares:
        return 0
    if shares <= 2:
        return 1
    if shares >= 262144:
        return 10000
    l = math.log2(shares)
    return math.ceil(10 ** ((l * l + 125 * l) / 612.0 - 7.0 / 34.0))


def shares_to_weight_linear(shares):
    """The formula of runc < 1.3.2 and crun < 1.23, kept for comparing with old tools."""
    if not shares:
        return 0
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_weight_to_io_weight(weight):
    """blkio.weight (10..1000) -> io.weight (1..10000)."""
    if not weight:
        return 0
    return 1 + (weight - 10) * 9999 // 990


def cpu_max(quota, period):
    """cpu.max "<quota|max> <period>"; a quota <= 0 means no limit."""
    q = MAX if quota is None or quota <= 0 else str(quota)
    return f"{q} {period or 100000}"


def v2_memory(value):
    """memory.max/low/high: -1 is unlimited."""
    return MAX if value == -1 else str(value)


def v2_swap_max(limit, swap):
    """The spec's swap is memory+swap; v2's memory.swap.max is swap alone.

    Returns the file value, or None when nothing is to be written.
    """
    if swap is None:
        return None
    if swap == -1:
        return MAX
    if limit is None or limit == -1:
        if swap == 0 and limit == -1:
            return MAX
        raise ValueError("memory.swap is set without a memory.limit")
    if swap < limit:
        raise ValueError(f"memory.swap ({swap}) must not be below memory.limit ({limit})")
    return str(swap - limit)


def pids_max(limit):
    """pids.max: > 0 a limit, < 0 unlimited, 0 -> 1 as runc does (0 would be unlimited)."""
    if limit is None:
        return None
    if limit < 0:
        return MAX
    return str(limit or 1)


def v1_pids_max(limit):
    return "max" if limit is not None and limit < 0 else pids_max(limit)


def device_rate(dev, key):
    """"M:m value" for a throttle entry {major, minor, rate}."""
    return f"{dev['major']}:{dev['minor']} {dev[key]}"


IO_MAX_KEYS = (
    ("throttleReadBpsDevice", "rbps"),
    ("throttleWriteBpsDevice", "wbps"),
    ("throttleReadIOPSDevice", "riops"),
    ("throttleWriteIOPSDevice", "wiops"),
)


def io_max_lines(blockio):
    """v2 io.max: one line per device and limit kind, "M:m rbps=N"."""
    out = []
    for key, word in IO_MAX_KEYS:
        for d in blockio.get(key) or ():
            rate = d.get("rate", 0)
            out.append(f"{d['major']}:{d['minor']} {word}={rate if rate else MAX}")
    return out


def hugetlb_size(page_size):
    """"2MB", "1GB", "64KB" as in the spec -> the same token cgroup file names use."""
    for unit in ("KB", "MB", "GB"):
        if page_size.endswith(unit) and page_size[:-2].isdigit():
            return page_size
    raise ValueError(f"invalid hugepage size {page_size!r} (want e.g. 2MB or 1GB)")


def rdma_line(device, limits):
    """rdma.max "dev hca_handle=N hca_object=M" (missing limits stay "max")."""
    parts = [device]
    for key, word in (("hcaHandles", "hca_handle"), ("hcaObjects", "hca_object")):
        v = limits.get(key)
        if v is not None:
            parts.append(f"{word}={v}")
    return " ".join(parts)


def ifpriomap_lines(priorities):
    return [f"{p['name']} {p['priority']}" for p in priorities or ()]


_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_bytes(text):
    """`update --memory 512m`: docker-style units (binary), -1 means unlimited."""
    s = text.strip().lower()
    if s == "-1":
        return -1
    if s.endswith("ib"):
        s = s[:-2]
    elif s.endswith("b") and len(s) > 1 and not s[-2].isdigit():
        s = s[:-1]
    num, unit = s, ""
    if s and s[-1] in _UNITS and s[-1].isalpha():
        num, unit = s[:-1], s[-1]
    try:
        value = float(num)
    except ValueError:
        raise ValueError(f"invalid size: {text!r}") from None
    return int(value * _UNITS[unit])
