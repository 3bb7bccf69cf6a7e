"""linux.resources -> cgroup v1 files, one function per spec section.

`dirs` maps a v1 controller name to the container's directory in that hierarchy (and
"unified" to its directory in a hybrid host's cgroup2 mount). Zero values mean "unset",
as in runc, so an `update` can pass a merged resources object through here unchanged.
"""
from pyrunc import oslite as os  # not os: see oslite.py

from pyrunc.cgroups import convert, devices
from pyrunc.cgroups.files import bad_value, read, read_int, write_lines, write_res


def _set(v):
    return v not in (None, 0)


def memory(mem, dirs):
    d = dirs.get("memory")
    limit, swap = mem.get("limit"), mem.get("swap")
    _limit_and_swap(d, limit, swap)
    if _set(mem.get("reservation")):
        write_res(d, "memory.soft_limit_in_bytes", mem["reservation"], "/memory/reservation")
    for key, name in (("kernel", "memory.kmem.limit_in_bytes"),
                      ("kernelTCP", "memory.kmem.tcp.limit_in_bytes")):
        if _set(mem.get(key)):
            write_res(d, name, mem[key], f"/memory/{key}")
    sw = mem.get("swappiness")
    if sw is not None:
        if not 0 <= sw <= 100:
            raise bad_value("/memory/swappiness", f"invalid swappiness {sw} (want 0..100)")
        write_res(d, "memory.swappiness", sw, "/memory/swappiness")
    if mem.get("disableOOMKiller"):
        write_res(d, "memory.oom_control", 1, "/memory/disableOOMKiller")
    if mem.get("useHierarchy") is not None:
        # Since 5.x v1 memory is always hierarchical and refuses "0".
        write_res(d, "memory.use_hierarchy", int(bool(mem["useHierarchy"])), "/memory/useHierarchy")
    # checkBeforeUpdate: on v1 the kernel itself refuses a limit below current usage.


def _limit_and_swap(d, limit, swap):
    """The kernel keeps memsw >= limit at every step, so the order of the two writes matters:
    memsw goes first when its new value is valid against the current limit, else second."""
    steps = []
    if _set(limit):
        steps.append(("memory.limit_in_bytes", limit, "/memory/limit"))
    if _set(swap):
        if _set(limit) and swap != -1 and (limit == -1 or swap < limit):
            raise bad_value("/memory/swap", f"memory+swap ({swap}) must not be below memory.limit ({limit})")
        cur_limit = read_int(os.path.join(d, "memory.limit_in_bytes"), -1) if d else -1
        memsw = ("memory.memsw.limit_in_bytes", swap, "/memory/swap")
        if swap == -1 or (cur_limit != -1 and swap >= cur_limit):
            steps.insert(0, memsw)
        else:
            steps.append(memsw)
    for name, value, ptr in steps:
        write_res(d, name, value, ptr)


def cpu(c, dirs):
    d = dirs.get("cpu")
    if _set(c.get("shares")):
        write_res(d, "cpu.shares", c["shares"], "/cpu/shares")
        got = read_int(os.path.join(d, "cpu.shares"))
        if got != c["shares"]:
            raise bad_value("/cpu/shares", f"cpu.shares {c['shares']} was clamped by the kernel to {got}")
    # The period goes first: the kernel checks a quota against the current period.
    if _set(c.get("period")):
        write_res(d, "cpu.cfs_period_us", c["period"], "/cpu/period")
    if _set(c.get("quota")):
        write_res(d, "cpu.cfs_quota_us", c["quota"], "/cpu/quota")
    if c.get("burst") is not None:
        write_res(d, "cpu.cfs_burst_us", c["burst"], "/cpu/burst")
    if _set(c.get("realtimePeriod")):
        write_res(d, "cpu.rt_period_us", c["realtimePeriod"], "/cpu/realtimePeriod")
    if _set(c.get("realtimeRuntime")):
        write_res(d, "cpu.rt_runtime_us", c["realtimeRuntime"], "/cpu/realtimeRuntime")
    if c.get("idle") is not None:
        write_res(d, "cpu.idle", c["idle"], "/cpu/idle")
    if c.get("cpus"):
        write_res(dirs.get("cpuset"), "cpuset.cpus", c["cpus"], "/cpu/cpus")
    if c.get("mems"):
        write_res(dirs.get("cpuset"), "cpuset.mems", c["mems"], "/cpu/mems")


def pids(p, dirs):
    v = convert.v1_pids_max(p.get("limit"))
    if v is not None:
        write_res(dirs.get("pids"), "pids.max", v, "/pids/limit")


def blockio(b, dirs):
    d = dirs.get("blkio")
    if _set(b.get("weight")):
        name = "blkio.weight" if d and os.path.exists(os.path.join(d, "blkio.weight")) else "blkio.bfq.weight"
        write_res(d, name, b["weight"], "/blockIO/weight")
    if _set(b.get("leafWeight")):
        write_res(d, "blkio.leaf_weight", b["leafWeight"], "/blockIO/leafWeight")
    for i, wd in enumerate(b.get("weightDevice") or ()):
        for key, name in (("weight", "blkio.weight_device"), ("leafWeight", "blkio.leaf_weight_device")):
            if wd.get(key) is not None:
                write_res(d, name, f"{wd['major']}:{wd['minor']} {wd[key]}", f"/blockIO/weightDevice/{i}")
    for key, name in (("throttleReadBpsDevice", "blkio.throttle.read_bps_device"),
                      ("throttleWriteBpsDevice", "blkio.throttle.write_bps_device"),
                      ("throttleReadIOPSDevice", "blkio.throttle.read_iops_device"),
                      ("throttleWriteIOPSDevice", "blkio.throttle.write_iops_device")):
        for i, dev in enumerate(b.get(key) or ()):
            write_res(d, name, convert.device_rate(dev, "rate"), f"/blockIO/{key}/{i}")


def _hugetlb_dir(dirs):
    """(directory, is_v2): the v1 hierarchy, or a hybrid host's cgroup2 mount holding hugetlb."""
    if dirs.get("hugetlb") or not dirs.get("unified"):
        return dirs.get("hugetlb"), False
    ctrls = read(os.path.join(dirs["unified"], "cgroup.controllers"), "").split()
    return (dirs["unified"], True) if "hugetlb" in ctrls else (None, False)


def hugetlb(limits, dirs):
    d, v2 = _hugetlb_dir(dirs)
    for i, h in enumerate(limits):
        try:
            size = convert.hugetlb_size(h.get("pageSize", ""))
        except ValueError as e:
            raise bad_value(f"/hugepageLimits/{i}/pageSize", str(e)) from None
        limit = h.get("limit", 0)
        value = "max" if v2 and limit < 0 else limit
        suffixes = ("max", "rsvd.max") if v2 else ("limit_in_bytes", "rsvd.limit_in_bytes")
        write_res(d, f"hugetlb.{size}.{suffixes[0]}", value, f"/hugepageLimits/{i}")
        # the reserved-pages limit (kernel >= 5.7) follows the same value when present
        if d and os.path.exists(os.path.join(d, f"hugetlb.{size}.{suffixes[1]}")):
            write_res(d, f"hugetlb.{size}.{suffixes[1]}", value, f"/hugepageLimits/{i}")


def network(n, dirs):
    if n.get("classID") is not None:
        write_res(dirs.get("net_cls"), "net_cls.classid", n["classID"], "/network/classID")
    write_lines(dirs.get("net_prio"), "net_prio.ifpriomap",
                convert.ifpriomap_lines(n.get("priorities")), "/network/priorities")


def rdma(r, dirs):
    for dev, limits in r.items():
        write_res(dirs.get("rdma"), "rdma.max", convert.rdma_line(dev, limits), f"/rdma/{dev}")


def unified(u, dirs):
    raise bad_value("/unified", "unified (cgroup v2) resources cannot be set on a cgroup v1 host")


def device_rules(rules, dirs):
    d = dirs.get("devices")
    default_allow, exc = devices.effective(rules)
    writes = devices.v1_writes(default_allow, exc)
    if default_allow and d and read(os.path.join(d, "devices.list"), "") == "a *:* rwm":
        writes = writes[1:]  # already allow-all; "a" to devices.allow fails under a restricted parent
    for name, line in writes:
        write_res(d, name, line, "/devices")


# Spec section -> function; cpu before memory does not matter, devices last so that a
# failure elsewhere is reported first.
SECTIONS = (
    ("cpu", cpu),
    ("memory", memory),
    ("pids", pids),
    ("blockIO", blockio),
    ("hugepageLimits", hugetlb),
    ("network", network),
    ("rdma", rdma),
    ("unified", unified),
)


def apply(resources, dirs, skip_devices=False):
    resources = resources or {}
    for key, fn in SECTIONS:
        section = resources.get(key)
        if section:
            fn(section, dirs)
    if not skip_devices:
        device_rules(resources.get("devices"), dirs)
