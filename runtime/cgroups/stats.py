"""Usage statistics in runc's types.Stats JSON shape (what `events` prints).

runc's Go structs drop zero-valued fields marked omitempty; `_omit` reproduces that, and the
fields runc always prints (memory limit/failcnt, cpu kernel/user, hugetlb failcnt) are kept.
"""
import os

from pyrunc.cgroups.files import read, read_int, read_kv

UNLIMITED = 2 ** 64 - 1
USER_HZ = 100


def _omit(d, keep=()):
    return {k: v for k, v in d.items() if k in keep or v not in (0, None, [], {}, "")}


def _entry(usage, max_, failcnt, limit):
    return _omit({"limit": limit, "usage": usage, "max": max_, "failcnt": failcnt},
                 keep=("limit", "failcnt"))


def _ints(path):
    return [int(x) for x in read(path, "").split()]


def _empty():
    return {"cpu": {"usage": {"kernel": 0, "user": 0}}, "memory": {}, "pids": {}, "blkio": {},
            "hugetlb": {}, "intel_rdt": {}, "network_interfaces": None}


# ---------- cgroup v1 ----------

def _v1_memory_entry(d, prefix):
    j = lambda n: os.path.join(d, f"{prefix}.{n}")
    if not os.path.exists(j("usage_in_bytes")):
        return {}
    limit = read_int(j("limit_in_bytes"), UNLIMITED)
    return _entry(read_int(j("usage_in_bytes")), read_int(j("max_usage_in_bytes")),
                  read_int(j("failcnt")), limit if limit < 2 ** 62 else UNLIMITED)


def v1_cpu(acct, cpu):
    usage = {"total": 0, "kernel": 0, "user": 0}
    if acct:
        j = lambda n: os.path.join(acct, n)
        usage["total"] = read_int(j("cpuacct.usage"))
        usage["percpu"] = _ints(j("cpuacct.usage_percpu"))
        usage["percpu_kernel"] = _ints(j("cpuacct.usage_percpu_sys"))
        usage["percpu_user"] = _ints(j("cpuacct.usage_percpu_user"))
        st = read_kv(j("cpuacct.stat"))
        usage["kernel"] = st.get("system", 0) * (10 ** 9 // USER_HZ)
        usage["user"] = st.get("user", 0) * (10 ** 9 // USER_HZ)
    out = {"usage": _omit(usage, keep=("kernel", "user"))}
    if cpu:
        st = read_kv(os.path.join(cpu, "cpu.stat"))
        thr = _omit({"periods": st.get("nr_periods", 0), "throttled_periods": st.get("nr_throttled", 0),
                     "throttled_time": st.get("throttled_time", 0)})
        if thr:
            out["throttling"] = thr
    return out


def v1_memory(d):
    if not d:
        return {}
    raw = read_kv(os.path.join(d, "memory.stat"))
    return _omit({"cache": raw.get("cache", 0), "usage": _v1_memory_entry(d, "memory"),
                  "swap": _v1_memory_entry(d, "memory.memsw"), "kernel": _v1_memory_entry(d, "memory.kmem"),
                  "kernelTCP": _v1_memory_entry(d, "memory.kmem.tcp"), "raw": raw})


def _pids(d):
    if not d:
        return {}
    return _omit({"current": read_int(os.path.join(d, "pids.current")),
                  "limit": read_int(os.path.join(d, "pids.max"), 0)})


def v1_blkio(d):
    out = {}
    for key, name in (("ioServiceBytesRecursive", "blkio.throttle.io_service_bytes_recursive"),
                      ("ioServicedRecursive", "blkio.throttle.io_serviced_recursive")):
        entries = []
        for line in read(os.path.join(d, name), "").splitlines() if d else ():
            parts = line.split()
            if len(parts) == 3 and ":" in parts[0]:
                major, minor = parts[0].split(":")
                entries.append(_omit({"major": int(major), "minor": int(minor), "op": parts[1],
                                      "value": int(parts[2])}))
        if entries:
            out[key] = entries
    return out


def _hugetlb(d, v2):
    out = {}
    if not d:
        return out
    for name in sorted(os.listdir(d)):
        parts = name.split(".")
        if len(parts) != 3 or parts[0] != "hugetlb" or parts[2] != ("current" if v2 else "usage_in_bytes"):
            continue
        size = parts[1]
        j = lambda n: os.path.join(d, f"hugetlb.{size}.{n}")
        if v2:
            out[size] = _omit({"usage": read_int(j("current")), "max": 0,
                               "failcnt": read_kv(j("events")).get("max", 0)}, keep=("failcnt",))
        else:
            out[size] = _omit({"usage": read_int(j("usage_in_bytes")), "max": read_int(j("max_usage_in_bytes")),
                               "failcnt": read_int(j("failcnt"))}, keep=("failcnt",))
    return out


def v1(paths):
    s = _empty()
    s["cpu"] = v1_cpu(paths.get("cpuacct"), paths.get("cpu"))
    s["memory"] = v1_memory(paths.get("memory"))
    s["pids"] = _pids(paths.get("pids"))
    s["blkio"] = v1_blkio(paths.get("blkio"))
    if paths.get("hugetlb"):
        s["hugetlb"] = _hugetlb(paths["hugetlb"], False)
    elif paths.get("unified"):
        s["hugetlb"] = _hugetlb(paths["unified"], True)
    return s


# ---------- cgroup v2 ----------

def v2_cpu(d):
    st = read_kv(os.path.join(d, "cpu.stat"))
    out = {"usage": _omit({"total": st.get("usage_usec", 0) * 1000, "kernel": st.get("system_usec", 0) * 1000,
                           "user": st.get("user_usec", 0) * 1000}, keep=("kernel", "user"))}
    thr = _omit({"periods": st.get("nr_periods", 0), "throttled_periods": st.get("nr_throttled", 0),
                 "throttled_time": st.get("throttled_usec", 0) * 1000})
    if thr:
        out["throttling"] = thr
    return out


def v2_memory(d):
    j = lambda n: os.path.join(d, n)
    if not os.path.exists(j("memory.current")):
        return {}
    raw = read_kv(j("memory.stat"))
    events = read_kv(j("memory.events"))
    usage = _entry(read_int(j("memory.current")), read_int(j("memory.peak")), events.get("max", 0),
                   read_int(j("memory.max"), UNLIMITED))
    swap = {}
    if os.path.exists(j("memory.swap.current")):
        # v1 reports swap as memory+swap; v2 counts swap alone. Report the v1 meaning, as
        # runc does, so consumers see one definition whatever the host.
        limit = read_int(j("memory.swap.max"), UNLIMITED)
        if limit != UNLIMITED and usage["limit"] != UNLIMITED:
            limit += usage["limit"]
        else:
            limit = UNLIMITED
        swap = _entry(read_int(j("memory.swap.current")) + usage.get("usage", 0), 0,
                      read_kv(j("memory.swap.events")).get("max", 0), limit)
    return _omit({"cache": raw.get("file", 0), "usage": usage, "swap": swap, "raw": raw})


def v2_blkio(d):
    rbytes, ios = [], []
    for line in read(os.path.join(d, "io.stat"), "").splitlines():
        dev, *kvs = line.split()
        major, minor = (int(x) for x in dev.split(":"))
        kv = dict(x.split("=", 1) for x in kvs if "=" in x)
        for op, b, n in (("Read", "rbytes", "rios"), ("Write", "wbytes", "wios")):
            rbytes.append(_omit({"major": major, "minor": minor, "op": op, "value": int(kv.get(b, 0))}))
            ios.append(_omit({"major": major, "minor": minor, "op": op, "value": int(kv.get(n, 0))}))
    return _omit({"ioServiceBytesRecursive": rbytes, "ioServicedRecursive": ios})


def v2(d):
    s = _empty()
    s["cpu"] = v2_cpu(d)
    s["memory"] = v2_memory(d)
    s["pids"] = _pids(d)
    s["blkio"] = v2_blkio(d)
    s["hugetlb"] = _hugetlb(d, True)
    return s
