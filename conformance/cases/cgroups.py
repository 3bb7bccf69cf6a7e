"""Control groups (config-linux.md#control-groups, #cgroups-path and the resource
sections): read back from the host's cgroup files under the container's cgroupsPath.

Values are chosen to differ from kernel defaults so a runtime that ignores a field fails.
Files missing on this host (controller not mounted, v2-only files) make a case skip.
"""
import json
import os
import time

from .. import cgroups
from ..case import Skip, case, check, eq


def read(t, b, controller, name):
    if cgroups.is_v2():
        raise Skip("this case reads a cgroup v1 file; this host is cgroup v2")
    if controller not in cgroups.hierarchies():
        raise Skip(f"no {controller} hierarchy on this host")
    # The root cgroup lacks some files (pids.max, freezer.state): look in the container's.
    path = cgroups.file_path(controller, b.cgroups_path, name)
    if os.path.isdir(os.path.dirname(path)) and not os.path.exists(path):
        raise Skip(f"{controller}/{name} does not exist on this kernel")
    value = cgroups.read(controller, b.cgroups_path, name)
    check(value is not None, f"{controller}/{name} not readable under {b.cgroups_path}")
    return value


def read_v2(t, b, name):
    """A file of the container's cgroup in the unified hierarchy (untested on this v1 host)."""
    value = cgroups.read("unified", b.cgroups_path, name)
    if value is None:
        raise Skip(f"{name} missing in the container's v2 cgroup (controller not enabled?)")
    return value


def _exists_at_root(controller, name):
    mnt = cgroups.hierarchies().get(controller)
    return mnt is not None and os.path.exists(os.path.join(mnt, name))


def with_resources(t, **resources):
    b = t.sleeper()
    b.linux["resources"].update(resources)
    t.create(b)
    return b


# (case, v1 controller, v1 file, resources, v1 value, v2 file, accepted v2 values).
# v2 values follow the runc mapping: memory.swap.max = swap - limit; cpu.weight from shares
# by the old linear formula (20) or runc >= 1.3.2's log formula (59).
FILES = [
    ("memory.limit", "memory", "memory.limit_in_bytes", {"memory": {"limit": 67108864}},
     "67108864", "memory.max", {"67108864"}),
    ("memory.reservation", "memory", "memory.soft_limit_in_bytes",
     {"memory": {"limit": 67108864, "reservation": 33554432}}, "33554432", "memory.low",
     {"33554432"}),
    ("memory.swap", "memory", "memory.memsw.limit_in_bytes",
     {"memory": {"limit": 67108864, "swap": 134217728}}, "134217728", "memory.swap.max",
     {"67108864"}),
    ("memory.swappiness", "memory", "memory.swappiness", {"memory": {"swappiness": 13}}, "13",
     None, None),
    ("cpu.shares", "cpu", "cpu.shares", {"cpu": {"shares": 512}}, "512", "cpu.weight",
     {"20", "59"}),
    ("cpu.quota", "cpu", "cpu.cfs_quota_us", {"cpu": {"quota": 50000, "period": 200000}},
     "50000", "cpu.max", {"50000 200000"}),
    ("cpu.period", "cpu", "cpu.cfs_period_us", {"cpu": {"quota": 50000, "period": 200000}},
     "200000", "cpu.max", {"50000 200000"}),
    ("cpu.burst", "cpu", "cpu.cfs_burst_us",
     {"cpu": {"quota": 50000, "period": 100000, "burst": 10000}}, "10000", "cpu.max.burst",
     {"10000"}),
    ("cpu.idle", "cpu", "cpu.idle", {"cpu": {"idle": 1}}, "1", "cpu.idle", {"1"}),
    ("cpu.cpus", "cpuset", "cpuset.cpus", {"cpu": {"cpus": "0"}}, "0", "cpuset.cpus", {"0"}),
    ("cpu.mems", "cpuset", "cpuset.mems", {"cpu": {"mems": "0"}}, "0", "cpuset.mems", {"0"}),
    ("pids.limit", "pids", "pids.max", {"pids": {"limit": 77}}, "77", "pids.max", {"77"}),
]

for _row in FILES:
    def _make(name, ctrl, fname, res, want, v2file, v2want):
        @case(f"cgroups.{name}", "config-linux.md#control-groups", "MUST",
              f"resources {name} is written to {ctrl}/{fname} (v2: {v2file or 'n/a'})")
        def _(t):
            if cgroups.is_v2() and v2file is None:
                raise Skip(f"{name} has no cgroup v2 equivalent")
            b = with_resources(t, **json.loads(json.dumps(res)))
            if cgroups.is_v2():
                got = read_v2(t, b, v2file)
                check(got in v2want, f"{v2file}: {got!r}, expected one of {sorted(v2want)}")
            else:
                eq(read(t, b, ctrl, fname), want, fname)
    _make(*_row)


@case("cgroups.memory.disable-oom-killer", "config-linux.md#memory", "MUST",
      "disableOOMKiller sets oom_kill_disable in memory.oom_control")
def _(t):
    b = with_resources(t, memory={"disableOOMKiller": True})
    check("oom_kill_disable 1" in read(t, b, "memory", "memory.oom_control"),
          "oom_kill_disable is not 1")


def root_device():
    """major:minor of the block device holding / (for blkio throttle entries)."""
    st = os.stat("/")
    return os.major(st.st_dev), os.minor(st.st_dev)


for _field, _file in (("throttleReadBpsDevice", "blkio.throttle.read_bps_device"),
                      ("throttleWriteBpsDevice", "blkio.throttle.write_bps_device"),
                      ("throttleReadIOPSDevice", "blkio.throttle.read_iops_device"),
                      ("throttleWriteIOPSDevice", "blkio.throttle.write_iops_device")):
    def _make_blkio(field, fname):
        @case(f"cgroups.blkio.{field}", "config-linux.md#block-io", "MUST",
              f"blockIO.{field} is written to {fname}")
        def _(t):
            major, minor = root_device()
            b = with_resources(t, blockIO={field: [{"major": major, "minor": minor,
                                                    "rate": 1048577}]})
            check(f"{major}:{minor} 1048577" in read(t, b, "blkio", fname),
                  f"{fname} lacks {major}:{minor} 1048577")
    _make_blkio(_field, _file)


@case("cgroups.blkio.weight", "config-linux.md#block-io", "MUST",
      "blockIO.weight is written to blkio.weight (or blkio.bfq.weight)")
def _(t):
    names = [n for n in ("blkio.weight", "blkio.bfq.weight") if _exists_at_root("blkio", n)]
    if not names:
        # Nothing can show the weight here: refusing the config is the only checkable reply.
        b = t.sleeper()
        b.linux["resources"]["blockIO"] = {"weight": 123}
        if t.create(b, ok=False).ok:
            raise Skip("no blkio.weight or blkio.bfq.weight on this host")
        from .errors import assert_no_trace
        assert_no_trace(t, b)
        return
    b = with_resources(t, blockIO={"weight": 123})
    check("123" in read(t, b, "blkio", names[0]), f"{names[0]} is not 123")


def v1_or_fails(t, controller, fname, want, **resources):
    """Applied when the v1 controller is mounted; otherwise create must fail cleanly."""
    if controller not in cgroups.hierarchies():
        from .errors import failing_create
        failing_create(t, lambda b: b.linux["resources"].update(resources))
        return
    b = with_resources(t, **resources)
    eq(read(t, b, controller, fname), want, fname)


@case("cgroups.hugetlb", "config-linux.md#huge-page-limits", "MUST",
      "hugepageLimits are written to hugetlb.<size>.limit_in_bytes (or create fails)")
def _(t):
    v1_or_fails(t, "hugetlb", "hugetlb.2MB.limit_in_bytes", "4194304",
                hugepageLimits=[{"pageSize": "2MB", "limit": 4194304}])


@case("cgroups.network.class-id", "config-linux.md#network", "MUST",
      "network.classID is written to net_cls.classid (or create fails)")
def _(t):
    v1_or_fails(t, "net_cls", "net_cls.classid", "1048577",
                network={"classID": 1048577})


@case("cgroups.devices.allow-rule", "config-linux.md#allowed-device-list", "MUST",
      "an allow rule appears in devices.list")
def _(t):
    b = with_resources(t, devices=[{"allow": False, "access": "rwm"},
                                   {"allow": True, "type": "c", "major": 10, "minor": 237,
                                    "access": "rw"}])
    check("c 10:237 rw" in read(t, b, "devices", "devices.list").splitlines(),
          "c 10:237 rw not in devices.list")


@case("cgroups.devices.deny-all", "config-linux.md#allowed-device-list", "MUST",
      "a leading deny-all rule leaves no a *:* rwm entry")
def _(t):
    b = with_resources(t)
    check("a *:* rwm" not in read(t, b, "devices", "devices.list"), "everything allowed")


@case("cgroups.path.created", "config-linux.md#cgroups-path", "MUST",
      "an absolute cgroupsPath is created in the cgroup hierarchies")
def _(t):
    b = with_resources(t)
    dirs = cgroups.dirs_for(b.cgroups_path)
    check(len(dirs) >= 3, f"cgroup dirs: {dirs}")


@case("cgroups.path.process-member", "config-linux.md#cgroups-path", "MUST",
      "the container process is in the cgroup named by cgroupsPath")
def _(t):
    b = with_resources(t)
    pid = t.state(b)["pid"]
    check(pid in cgroups.pids_in(b.cgroups_path), f"{pid} not in {b.cgroups_path}")
    with open(f"/proc/{pid}/cgroup") as f:
        # On a hybrid host the unified line is not about the controllers the path is for.
        lines = [line for line in f.read().splitlines() if ":memory:" in line or
                 ":pids:" in line or (cgroups.is_v2() and line.startswith("0::"))]
    check(lines and all(line.endswith(b.cgroups_path) for line in lines),
          f"/proc/{pid}/cgroup: {lines}")


@case("cgroups.path.children-inherit", "config-linux.md#cgroups-path", "MUST",
      "processes started in the container stay in its cgroup")
def _(t):
    b = t.bundle(args=["sh", "-c", "sleep 600 & sleep 601 & exec sleep 602"])
    t.running(b)
    time.sleep(0.2)
    check(len(cgroups.pids_in(b.cgroups_path)) >= 3, "child processes not in the cgroup")


@case("cgroups.invalid-resource-no-trace", "config-linux.md#control-groups", "MUST",
      "a resource the kernel rejects (cpuset.cpus 999) fails create and leaves no trace")
def _(t):
    from .errors import failing_create
    failing_create(t, lambda b: b.linux["resources"].update(cpu={"cpus": "999"}))


@case("cgroups.pause-freezer", "runc-cli#pause", "CLI",
      "pause freezes the container's cgroup (freezer.state FROZEN)")
def _(t):
    b = t.sleeper()
    t.running(b)
    check(t.rt.call("pause", b.id).ok, "pause failed")
    eq(read(t, b, "freezer", "freezer.state"), "FROZEN", "freezer.state")
    t.rt.call("resume", b.id)
    eq(read(t, b, "freezer", "freezer.state"), "THAWED", "freezer.state after resume")


@case("cgroups.update.resources-stdin", "runc-cli#update", "CLI",
      "update --resources - applies LinuxResources JSON from stdin")
def _(t):
    b = t.sleeper()
    t.running(b)
    r = t.rt.call("update", "--resources", "-", b.id,
                  input=json.dumps({"pids": {"limit": 91}}).encode())
    check(r.ok, f"update failed: {r.describe()}")
    eq(read(t, b, "pids", "pids.max"), "91", "pids.max")


@case("cgroups.update.memory-flag", "runc-cli#update", "CLI",
      "update --memory changes the memory limit")
def _(t):
    b = t.sleeper()
    t.running(b)
    r = t.rt.call("update", "--memory", "100663296", b.id)
    check(r.ok, f"update failed: {r.describe()}")
    eq(read(t, b, "memory", "memory.limit_in_bytes"), "100663296", "limit")


@case("cgroups.update.stopped-error", "runc-cli#update", "CLI",
      "update of a stopped container errors")
def _(t):
    b = t.bundle(args=["true"])
    t.create(b)
    t.start(b)
    t.wait_status(b, "stopped")
    r = t.rt.call("update", "--resources", "-", b.id, input=b'{"pids": {"limit": 5}}')
    check(not r.ok, "update of a stopped container exited 0")


@case("cgroups.pids-limit-enforced", "config-linux.md#pids", "MUST",
      "pids.limit is enforced: forking past it fails inside the container")
def _(t):
    b = t.bundle(args=["sh", "-c", 'p=""; for i in 1 2 3 4 5 6 7 8; do sleep 30 & '
                       'p="$p $!"; done; kill $p; exit 0'])
    b.linux["resources"]["pids"] = {"limit": 4}
    r = t.run(b)
    check("can't fork" in r.stderr or "Resource temporarily unavailable" in r.stderr
          or r.returncode != 0, f"8 background sleeps all started (rc {r.returncode})")
