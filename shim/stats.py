"""Task metrics from the container's cgroup, in containerd/cgroups' Metrics shapes.

The cgroup is found through /proc/<init>/cgroup, so cgroupfs and systemd paths alike work.
"""
import os

CGROUP_ROOT = "/sys/fs/cgroup"
USER_HZ_NS = 10_000_000  # cpuacct.stat counts USER_HZ (100/s) ticks


def unified():
    return os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers"))


def proc_cgroups(pid):
    """{controller: path} from /proc/<pid>/cgroup; the v2 entry is under ''."""
    paths = {}
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            for ctrl in ctrls.split(","):
                paths[ctrl.replace("name=", "")] = path
    return paths


def cgroup_dirs_for_path(path):
    if unified():
        return [CGROUP_ROOT + path]
    return [os.path.join(CGROUP_ROOT, d) + path for d in os.listdir(CGROUP_ROOT)
            if os.path.isdir(os.path.join(CGROUP_ROOT, d)) and not os.path.islink(os.path.join(CGROUP_ROOT, d))]


def _v1_dir(ctrl, paths):
    path = paths.get(ctrl)
    if path is None:
        return None
    d = os.path.join(CGROUP_ROOT, ctrl) + path
    return d if os.path.isdir(d) else None


def _read(d, name, default=None):
    try:
        with open(os.path.join(d, name)) as f:
            return f.read().strip()
    except (OSError, TypeError):
        return default


def _int(d, name):
    value = _read(d, name, "0")
    try:
        return int(value)
    except ValueError:
        return 0  # "max"


def _keyed(d, name):
    out = {}
    text = _read(d, name, "") or ""
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        try:
            out[key] = int(value)
        except ValueError:
            pass
    return out


V1_MEMORY_KEYS = {"pgpgin": "pg_pg_in", "pgpgout": "pg_pg_out", "pgfault": "pg_fault",
                  "pgmajfault": "pg_maj_fault", "hierarchical_memsw_limit": "hierarchical_swap_limit"}


def _v1_memory_name(key):
    if key.startswith("total_"):
        return "total_" + V1_MEMORY_KEYS.get(key[6:], key[6:])
    return V1_MEMORY_KEYS.get(key, key)


def collect_v1(paths):
    from pyrunc_shim.wire import Package
    v1 = Package("io.containerd.cgroups.v1")
    m = v1.Metrics()
    d = _v1_dir("pids", paths)
    if d:
        m.pids.current = _int(d, "pids.current")
        m.pids.limit = _int(d, "pids.max")
    d = _v1_dir("cpuacct", paths)
    if d:
        m.cpu.usage.total = _int(d, "cpuacct.usage")
        m.cpu.usage.per_cpu.extend(int(x) for x in (_read(d, "cpuacct.usage_percpu", "") or "").split())
        stat = _keyed(d, "cpuacct.stat")
        m.cpu.usage.user = stat.get("user", 0) * USER_HZ_NS
        m.cpu.usage.kernel = stat.get("system", 0) * USER_HZ_NS
    d = _v1_dir("cpu", paths)
    if d:
        stat = _keyed(d, "cpu.stat")
        m.cpu.throttling.periods = stat.get("nr_periods", 0)
        m.cpu.throttling.throttled_periods = stat.get("nr_throttled", 0)
        m.cpu.throttling.throttled_time = stat.get("throttled_time", 0)
    d = _v1_dir("memory", paths)
    if d:
        fields = v1.MemoryStat._by_name
        for key, value in _keyed(d, "memory.stat").items():
            name = _v1_memory_name(key)
            if name in fields and name not in ("usage", "swap", "kernel", "kernel_tcp"):
                setattr(m.memory, name, value)
        for entry, prefix in ((m.memory.usage, "memory."), (m.memory.swap, "memory.memsw."),
                              (m.memory.kernel, "memory.kmem."), (m.memory.kernel_tcp, "memory.kmem.tcp.")):
            entry.usage = _int(d, prefix + "usage_in_bytes")
            entry.limit = _int(d, prefix + "limit_in_bytes")
            entry.max = _int(d, prefix + "max_usage_in_bytes")
            entry.failcnt = _int(d, prefix + "failcnt")
        oom = _keyed(d, "memory.oom_control")
        m.memory_oom_control.oom_kill_disable = oom.get("oom_kill_disable", 0)
        m.memory_oom_control.under_oom = oom.get("under_oom", 0)
        m.memory_oom_control.oom_kill = oom.get("oom_kill", 0)
    return "io.containerd.cgroups.v1.Metrics", m.SerializeToString()


def collect_v2(path):
    from pyrunc_shim.wire import Package
    v2 = Package("io.containerd.cgroups.v2")
    d = CGROUP_ROOT + path
    m = v2.Metrics()
    m.pids.current = _int(d, "pids.current")
    m.pids.limit = _int(d, "pids.max")
    cpu = _keyed(d, "cpu.stat")
    for name in ("usage_usec", "user_usec", "system_usec", "nr_periods", "nr_throttled", "throttled_usec"):
        setattr(m.cpu, name, cpu.get(name, 0))
    mem = _keyed(d, "memory.stat")
    m.memory.anon = mem.get("anon", 0)
    m.memory.file = mem.get("file", 0)
    m.memory.usage = _int(d, "memory.current")
    m.memory.usage_limit = _int(d, "memory.max")
    m.memory.swap_usage = _int(d, "memory.swap.current")
    m.memory.swap_limit = _int(d, "memory.swap.max")
    events = _keyed(d, "memory.events")
    for name in ("low", "high", "max", "oom", "oom_kill"):
        setattr(m.memory_events, name, events.get(name, 0))
    return "io.containerd.cgroups.v2.Metrics", m.SerializeToString()


def collect(pid):
    paths = proc_cgroups(pid)
    if unified():
        return collect_v2(paths.get("", "/"))
    return collect_v1(paths)
