"""linux.resources -> cgroup v2 (unified) files, one function per spec section.

Fields v2 has no file for (swappiness, disableOOMKiller, kernel memory, realtime, net_cls,
net_prio, leaf weights) are not applied - the kernel offers nothing to write - and are
returned as warnings for the caller to log, as runc does; they are never dropped silently.
"""
from pyrunc import oslite as os  # not os: see oslite.py

from pyrunc.cgroups import convert, devices
from pyrunc.cgroups.files import bad_value, read, read_int, write_lines, write_res


def _set(v):
    return v not in (None, 0)


def memory(mem, d, warn):
    limit, swap = mem.get("limit"), mem.get("swap")
    if _set(limit):
        if mem.get("checkBeforeUpdate") and limit != -1:
            cur = read_int(os.path.join(d, "memory.current"), 0)
            if limit <= cur:
                raise bad_value("/memory/limit", f"new limit {limit} is not above the current usage "
                                                 f"{cur} (checkBeforeUpdate; file memory.current)")
        write_res(d, "memory.max", convert.v2_memory(limit), "/memory/limit")
    try:
        # swap 0 is "unset" except beside an unlimited limit, where it means "no swap limit".
        sw = swap if _set(swap) or (swap == 0 and limit == -1) else None
        swap_max = convert.v2_swap_max(limit if _set(limit) else None, sw)
    except ValueError as e:
        raise bad_value("/memory/swap", str(e)) from None
    if swap_max is not None:
        write_res(d, "memory.swap.max", swap_max, "/memory/swap")
    if _set(mem.get("reservation")):
        write_res(d, "memory.low", convert.v2_memory(mem["reservation"]), "/memory/reservation")
    for key in ("swappiness", "kernel", "kernelTCP"):
        if mem.get(key) is not None:
            warn(f"/memory/{key}", "has no cgroup v2 equivalent")
    if mem.get("disableOOMKiller"):
        warn("/memory/disableOOMKiller", "cgroup v2 cannot disable the OOM killer")


def cpu(c, d, warn):
    w = convert.shares_to_weight(c.get("shares"))
    if w:
        write_res(d, "cpu.weight", w, "/cpu/shares")
    quota, period = c.get("quota"), c.get("period")
    if _set(quota) or _set(period):
        # cpu.max holds both; keep the half that is not being changed.
        cur_q, _, cur_p = read(os.path.join(d, "cpu.max"), "max 100000").partition(" ")
        q = quota if _set(quota) else (-1 if cur_q == "max" else int(cur_q))
        p = period if _set(period) else int(cur_p or 100000)
        write_res(d, "cpu.max", convert.cpu_max(q, p), "/cpu/quota" if _set(quota) else "/cpu/period")
    if c.get("burst") is not None:
        write_res(d, "cpu.max.burst", c["burst"], "/cpu/burst")
    if c.get("idle") is not None:
        write_res(d, "cpu.idle", c["idle"], "/cpu/idle")
    for key in ("realtimeRuntime", "realtimePeriod"):
        if _set(c.get(key)):
            warn(f"/cpu/{key}", "cgroup v2 has no real-time CPU budget")
    if c.get("cpus"):
        write_res(d, "cpuset.cpus", c["cpus"], "/cpu/cpus")
    if c.get("mems"):
        write_res(d, "cpuset.mems", c["mems"], "/cpu/mems")


def pids(p, d, warn):
    v = convert.pids_max(p.get("limit"))
    if v is not None:
        write_res(d, "pids.max", v, "/pids/limit")


def blockio(b, d, warn):
    bfq = os.path.exists(os.path.join(d, "io.bfq.weight"))
    if _set(b.get("weight")):
        if bfq:
            write_res(d, "io.bfq.weight", b["weight"], "/blockIO/weight")
        else:
            write_res(d, "io.weight", convert.blkio_weight_to_io_weight(b["weight"]), "/blockIO/weight")
    if _set(b.get("leafWeight")):
        warn("/blockIO/leafWeight", "cgroup v2 has no leaf weight")
    for i, wd in enumerate(b.get("weightDevice") or ()):
        if wd.get("weight") is None:
            continue
        name, w = ("io.bfq.weight", wd["weight"]) if bfq else \
                  ("io.weight", convert.blkio_weight_to_io_weight(wd["weight"]))
        write_res(d, name, f"{wd['major']}:{wd['minor']} {w}", f"/blockIO/weightDevice/{i}")
    write_lines(d, "io.max", convert.io_max_lines(b), "/blockIO")


def hugetlb(limits, d, warn):
    for i, h in enumerate(limits):
        try:
            size = convert.hugetlb_size(h.get("pageSize", ""))
        except ValueError as e:
            raise bad_value(f"/hugepageLimits/{i}/pageSize", str(e)) from None
        v = "max" if h.get("limit", 0) < 0 else h.get("limit", 0)
        write_res(d, f"hugetlb.{size}.max", v, f"/hugepageLimits/{i}")
        if os.path.exists(os.path.join(d, f"hugetlb.{size}.rsvd.max")):
            write_res(d, f"hugetlb.{size}.rsvd.max", v, f"/hugepageLimits/{i}")


def network(n, d, warn):
    if n.get("classID") is not None or n.get("priorities"):
        warn("/network", "net_cls/net_prio do not exist on cgroup v2")


def rdma(r, d, warn):
    for dev, limits in r.items():
        write_res(d, "rdma.max", convert.rdma_line(dev, limits), f"/rdma/{dev}")


def unified(u, d, warn):
    for key, value in u.items():
        if "/" in key or key.startswith("."):
            raise bad_value(f"/unified/{key}", "not a cgroup file name")
        write_res(d, key, value, f"/unified/{key}")


SECTIONS = (
    ("cpu", cpu),
    ("memory", memory),
    ("pids", pids),
    ("blockIO", blockio),
    ("hugepageLimits", hugetlb),
    ("network", network),
    ("rdma", rdma),
    ("unified", unified),  # last: its explicit values win over the converted ones
)


def device_rules(rules, d):
    from pyrunc.cgroups import ebpf
    default_allow, exc = devices.effective(rules)
    try:
        ebpf.install(d, ebpf.program(default_allow, exc))
    except OSError as e:
        raise bad_value("/devices", f"cannot install the device eBPF program on {d}: {e.strerror}") from None


def apply(resources, d, skip_devices=False):
    """Write everything; return [(pointer, why)] for fields v2 cannot express."""
    warnings = []
    warn = lambda ptr, why: warnings.append(("/linux/resources" + ptr, why))
    resources = resources or {}
    for key, fn in SECTIONS:
        section = resources.get(key)
        if section:
            fn(section, d, warn)
    if not skip_devices:
        device_rules(resources.get("devices"), d)
    return warnings
