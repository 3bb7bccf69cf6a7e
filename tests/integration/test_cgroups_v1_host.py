"""cgroup v1 managers on this host's real hierarchies (root; no container runtime needed).

Each test makes its own cgroup under /pyrunc-test-cg/<name> in every hierarchy, moves
processes it started into it, checks the limit is written and effective, and removes it.
"""
import errno
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from pyrunc import cgroups
from pyrunc.errors import ConfigError

pytestmark = [pytest.mark.root]
BASE = "/pyrunc-test-cg"


def _v1_host():
    try:
        return os.geteuid() == 0 and not cgroups.is_unified(cgroups.mounts())
    except OSError:
        return False


if not _v1_host():
    pytest.skip("needs root on a cgroup v1 (or hybrid) host", allow_module_level=True)


@pytest.fixture
def mgr():
    m = cgroups.new_manager("t", f"{BASE}/{uuid.uuid4().hex[:8]}")
    m.create()
    procs = []
    m.procs = procs
    yield m
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    if m.is_frozen():
        m.thaw()
    m.kill_all(signal.SIGKILL)
    time.sleep(0.05)
    m.destroy()
    for d in set(m.paths.values()):
        try:
            os.rmdir(os.path.dirname(d))
        except OSError:
            pass  # another test's cgroup is still there


def gated(m, code):
    """A Python child that waits for a line on stdin before running `code`: it is moved
    into the cgroup first, so everything it does is charged there."""
    p = subprocess.Popen([sys.executable, "-S", "-c", "import sys; sys.stdin.readline()\n" + code],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    m.procs.append(p)
    m.add_pid(p.pid)
    return p


def go(p):
    p.stdin.write("\n")
    p.stdin.flush()


def rd(m, ctrl, name):
    with open(os.path.join(m.paths[ctrl], name)) as f:
        return f.read().strip()


def test_files_written(mgr):
    mgr.apply({"memory": {"limit": 64 << 20, "swap": 64 << 20, "reservation": 32 << 20},
               "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
               "pids": {"limit": 20}, "hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 20}]})
    assert rd(mgr, "memory", "memory.limit_in_bytes") == str(64 << 20)
    assert rd(mgr, "memory", "memory.memsw.limit_in_bytes") == str(64 << 20)
    assert rd(mgr, "memory", "memory.soft_limit_in_bytes") == str(32 << 20)
    assert rd(mgr, "cpu", "cpu.shares") == "512"
    assert rd(mgr, "cpu", "cpu.cfs_quota_us") == "50000"
    assert rd(mgr, "cpuset", "cpuset.cpus") == "0"
    assert rd(mgr, "pids", "pids.max") == "20"
    if "unified" in mgr.paths and "hugetlb" not in mgr.paths:
        assert rd(mgr, "unified", "hugetlb.2MB.max") == str(4 << 20)


def test_swap_order_both_ways(mgr):
    for limit, swap in ((64 << 20, 128 << 20), (32 << 20, 32 << 20), (256 << 20, 512 << 20), (-1, -1)):
        mgr.apply({"memory": {"limit": limit, "swap": swap}}, skip_devices=True)
    assert int(rd(mgr, "memory", "memory.limit_in_bytes")) > 1 << 60


def test_memory_hog_is_oom_killed_and_reported(mgr):
    from pyrunc.cgroups import oom
    mgr.apply({"memory": {"limit": 32 << 20, "swap": 32 << 20}})
    w = oom.watch(mgr)
    p = gated(mgr, "b = []\nwhile True: b.append(bytearray(1 << 20))")
    go(p)
    assert p.wait(timeout=30) == -signal.SIGKILL
    assert w.fired()
    w.close()
    assert "oom_kill 1" in rd(mgr, "memory", "memory.oom_control")


def test_pids_limit_stops_forks(mgr):
    mgr.apply({"pids": {"limit": 4}})
    p = gated(mgr, """
import os, time
n = 0
try:
    for _ in range(10):
        if os.fork() == 0:
            time.sleep(3); os._exit(0)
        n += 1
except BlockingIOError:
    pass
print(n, flush=True)
""")
    go(p)
    assert p.stdout.readline().strip() == "3"  # itself + 3 children = 4


def test_freezer_pauses(mgr, tmp_path):
    out = tmp_path / "count"
    p = gated(mgr, f"import time\nn = 0\nwhile True:\n    n += 1\n    open({str(out)!r}, 'w').write(str(n))\n    time.sleep(0.01)")
    go(p)
    time.sleep(0.2)
    mgr.freeze()
    assert mgr.is_frozen()
    a = out.read_text()
    time.sleep(0.3)
    assert out.read_text() == a
    mgr.thaw()
    time.sleep(0.3)
    assert not mgr.is_frozen() and out.read_text() != a


def test_devices_v1(mgr):
    mgr.apply({"devices": [{"allow": False, "access": "rwm"}]})
    p = gated(mgr, """
import os
for dev in ("/dev/null", "/dev/kmsg"):
    try:
        os.close(os.open(dev, os.O_RDONLY)); print(dev, "ok")
    except OSError as e:
        print(dev, e.errno)
""")
    go(p)
    assert p.stdout.read().split("\n")[:2] == ["/dev/null ok", f"/dev/kmsg {errno.EPERM}"]


def test_ebpf_device_program_on_unified_mount(mgr):
    """The hybrid host's cgroup2 mount takes device programs too: the v2 path for real."""
    from pyrunc.cgroups import devices, ebpf
    u = mgr.paths.get("unified")
    if not u:
        pytest.skip("no cgroup2 mount on this host")
    rules = [{"allow": False, "access": "rwm"}]
    ebpf.install(u, ebpf.program(*devices.effective(rules)))
    ebpf.install(u, ebpf.program(*devices.effective(rules)))  # an update replaces, not stacks
    fd = os.open(u, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert len(ebpf.attached(fd)) == 1
    finally:
        os.close(fd)
    p = gated(mgr, """
import os
for dev in ("/dev/zero", "/dev/kmsg"):
    try:
        os.close(os.open(dev, os.O_RDONLY)); print(dev, "ok")
    except OSError as e:
        print(dev, e.errno)
""")
    go(p)
    assert p.stdout.read().split("\n")[:2] == ["/dev/zero ok", f"/dev/kmsg {errno.EPERM}"]


def test_pids_recursive_and_kill_all(mgr):
    sub = os.path.join(mgr.paths["pids"], "child")
    os.mkdir(sub)
    a = gated(mgr, "import time; time.sleep(60)")
    b = subprocess.Popen(["sleep", "60"])
    mgr.procs.append(b)
    with open(os.path.join(sub, "cgroup.procs"), "w") as f:
        f.write(str(b.pid))
    assert set(mgr.pids()) >= {a.pid, b.pid}
    mgr.kill_all(signal.SIGKILL)
    assert a.wait(5) == -9 and b.wait(5) == -9
    assert not mgr.is_frozen()


def test_kill_all_keeps_paused_container_paused(mgr):
    a = gated(mgr, "import time; time.sleep(60)")
    mgr.freeze()
    mgr.kill_all(signal.SIGTERM)
    assert mgr.is_frozen()
    mgr.thaw()
    assert a.wait(5) == -signal.SIGTERM


def test_stats(mgr):
    p = gated(mgr, "b = bytearray(8 << 20)\nn = 0\nfor i in range(3000000): n += i\nprint(n, flush=True)\nimport time; time.sleep(30)")
    go(p)
    p.stdout.readline()
    s = mgr.stats()
    assert s["cpu"]["usage"]["total"] > 0
    assert s["memory"]["usage"]["usage"] > 4 << 20
    assert s["pids"]["current"] == 1


def test_bad_value_is_config_error(mgr):
    with pytest.raises(ConfigError) as e:
        mgr.apply({"cpu": {"cpus": "999"}})
    assert e.value.pointer == "/linux/resources/cpu/cpus"
    with pytest.raises(ConfigError) as e:
        mgr.apply({"network": {"classID": 1}})  # no net_cls hierarchy here
    assert e.value.pointer == "/linux/resources/network/classID"


def test_destroy_is_idempotent(mgr):
    mgr.destroy()
    mgr.destroy()
    assert not any(os.path.exists(p) for p in mgr.paths.values())
    mgr.create()  # for the fixture's own destroy


FORK_INTO = r"""
import os, sys
from pyrunc import native
uni, tasks = sys.argv[1], sys.argv[2:]
fd = os.open(uni, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
pid = native.clone3_fork(0, fd)
if pid == 0:
    for t in tasks:
        f = os.open(t, os.O_WRONLY)
        os.write(f, b"0")
        os.close(f)
    with open("/proc/self/cgroup") as f:
        sys.stdout.write(f.read())
    sys.stdout.flush()
    os._exit(0)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def test_self_join_reaches_every_hierarchy(mgr):
    """What create's stage does (spawn._fork): born into the unified cgroup by clone3,
    then "0" into each v1 tasks file; no cgroup.procs write. It ends up where add_pid puts
    a process, in every hierarchy."""
    uni, tasks = mgr.self_join()
    if uni is None:
        pytest.skip("no cgroup2 mount beside the v1 hierarchies")
    assert tasks and all(t.endswith("/tasks") for t in tasks) and uni not in map(os.path.dirname, tasks)
    out = subprocess.run([sys.executable, "-c", FORK_INTO, uni] + tasks, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    rel = "/" + os.path.relpath(uni, "/sys/fs/cgroup/unified")
    lines = out.stdout.split()
    assert len(lines) == len(tasks) + 1  # one line per hierarchy: each v1 dir, unified
    assert all(line.endswith(":" + rel) for line in lines), lines


FALLBACK = r"""
import os, sys
from pyrunc.process import spawn

class Plan:
    self_join = (sys.argv[1], ["/nonexistent/tasks"])
    join_tasks = ()
    join_namespaces = {}
    new_namespaces = {"pid", "mount"}

plan = Plan()
pid, joined, direct = spawn._fork(plan)
if pid == 0:
    os._exit(7)
_, status = os.waitpid(pid, 0)
print(joined, direct, list(plan.join_tasks), os.waitstatus_to_exitcode(status))
"""


def test_fork_stage_falls_back_to_fork(tmp_path):
    """A directory that is not a cgroup: clone3 refuses it, and the stage is forked the old
    way, to be joined by the parent (joined and direct False, no tasks for the child)."""
    out = subprocess.run([sys.executable, "-c", FALLBACK, str(tmp_path)], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False", "[]", "7"]


DIRECT = r"""
import os, sys
from pyrunc.process import spawn

class Plan:
    self_join = (sys.argv[1], sys.argv[2:])
    join_tasks = ()
    join_namespaces = {}
    new_namespaces = {"pid"}

plan = Plan()
pid, joined, direct = spawn._fork(plan)
if pid == 0:
    for t in plan.join_tasks:
        spawn.join_self(t)
    with open("/proc/self/cgroup") as f:
        lines = f.read().split()
    print(os.getpid(), len(lines), *sorted({line.split(":", 2)[2] for line in lines}), flush=True)
    os._exit(0)
_, status = os.waitpid(pid, 0)
print(joined, direct, os.waitstatus_to_exitcode(status))
"""


def test_fork_makes_init_directly(mgr):
    """No namespace to join and no user namespace: no stage process, clone3 makes init as
    PID 1 of its new PID namespace, born in the cgroup (the v1 tasks joined by itself)."""
    uni, tasks = mgr.self_join()
    if uni is None:
        pytest.skip("no cgroup2 mount beside the v1 hierarchies")
    out = subprocess.run([sys.executable, "-c", DIRECT, uni] + tasks, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    child, parent = out.stdout.splitlines()
    rel = "/" + os.path.relpath(uni, "/sys/fs/cgroup/unified")
    assert child == f"1 {len(tasks) + 1} {rel}"  # PID 1, in every hierarchy's cgroup
    assert parent.split() == ["True", "True", "0"]
    assert mgr.pids() == []  # it was there, and left with its exit
