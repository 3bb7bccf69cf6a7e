"""cgroup v2 manager tests on a real unified hierarchy. They run inside the QEMU guest
(tests/v2guest/guest.py; driven by tests/integration/test_cgroups_v2guest.py) and skip
anywhere else."""
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

if os.geteuid() != 0 or not cgroups.is_unified(cgroups.mounts()) or os.environ.get("PYRUNC_SYSTEMD_GUEST"):
    pytest.skip("needs root on a pure cgroup v2 host (the v2 guest)", allow_module_level=True)


@pytest.fixture
def mgr():
    m = cgroups.new_manager("t", f"/pyrunc-test/{uuid.uuid4().hex[:8]}")
    assert m.driver == "v2"
    m.create()
    m.procs = []
    yield m
    for p in m.procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    m.thaw()
    m.destroy()


def gated(m, code):
    p = subprocess.Popen([sys.executable, "-S", "-c", "import sys; sys.stdin.readline()\n" + code],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    m.procs.append(p)
    m.add_pid(p.pid)
    return p


def go(p):
    p.stdin.write("\n")
    p.stdin.flush()


def rd(m, name):
    with open(os.path.join(m.path, name)) as f:
        return f.read().strip()


def test_files_written(mgr):
    mgr.apply({"memory": {"limit": 64 << 20, "swap": 96 << 20, "reservation": 16 << 20},
               "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
               "pids": {"limit": 20}, "hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 20}],
               "unified": {"memory.high": str(60 << 20)}})
    assert rd(mgr, "memory.max") == str(64 << 20)
    assert rd(mgr, "memory.swap.max") == str(32 << 20)
    assert rd(mgr, "memory.low") == str(16 << 20)
    assert rd(mgr, "memory.high") == str(60 << 20)
    assert rd(mgr, "cpu.weight") == "59"
    assert rd(mgr, "cpu.max") == "50000 100000"
    assert rd(mgr, "cpuset.cpus") == "0"
    assert rd(mgr, "pids.max") == "20"
    assert rd(mgr, "hugetlb.2MB.max") == str(4 << 20)


def test_swap_equal_limit_means_no_swap(mgr):
    mgr.apply({"memory": {"limit": 64 << 20, "swap": 64 << 20}})
    assert rd(mgr, "memory.swap.max") == "0"


def test_memory_hog_is_oom_killed(mgr):
    from pyrunc.cgroups import oom
    mgr.apply({"memory": {"limit": 32 << 20, "swap": 32 << 20}})
    w = oom.watch(mgr)
    p = gated(mgr, "b = []\nwhile True: b.append(bytearray(1 << 20))")
    go(p)
    assert p.wait(timeout=60) == -signal.SIGKILL
    assert w.fired()
    w.close()


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
    assert p.stdout.readline().strip() == "3"


def test_freeze_and_thaw(mgr, tmp_path):
    out = tmp_path / "count"
    p = gated(mgr, f"import time\nn = 0\nwhile True:\n    n += 1\n    open({str(out)!r}, 'w').write(str(n))\n    time.sleep(0.01)")
    go(p)
    for _ in range(100):  # python starts slowly under TCG
        if out.exists():
            break
        time.sleep(0.1)
    mgr.freeze()
    assert mgr.is_frozen()
    a = out.read_text()
    time.sleep(0.5)
    assert out.read_text() == a
    mgr.thaw()
    time.sleep(0.5)
    assert out.read_text() != a


def test_device_program(mgr):
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


def test_kill_all_uses_cgroup_kill(mgr):
    a = gated(mgr, "import time; time.sleep(60)")
    os.mkdir(os.path.join(mgr.path, "sub"))
    b = subprocess.Popen(["sleep", "60"])
    mgr.procs.append(b)
    with open(os.path.join(mgr.path, "sub", "cgroup.procs"), "w") as f:
        f.write(str(b.pid))
    assert set(mgr.pids()) == {a.pid, b.pid}
    mgr.kill_all(signal.SIGKILL)
    assert a.wait(10) == -9 and b.wait(10) == -9


def test_stats(mgr):
    mgr.apply({"pids": {"limit": 10}})
    p = gated(mgr, "b = bytearray(8 << 20)\nn = 0\nfor i in range(300000): n += i\nprint(n, flush=True)\nimport time; time.sleep(30)")
    go(p)
    p.stdout.readline()
    s = mgr.stats()
    assert s["cpu"]["usage"]["total"] > 0
    assert s["memory"]["usage"]["usage"] > 4 << 20
    assert s["pids"] == {"current": 1, "limit": 10}


def test_check_before_update(mgr):
    p = gated(mgr, "b = bytearray(8 << 20)\nprint(1, flush=True)\nimport time; time.sleep(30)")
    go(p)
    p.stdout.readline()
    with pytest.raises(ConfigError):
        mgr.apply({"memory": {"limit": 1 << 20, "checkBeforeUpdate": True}}, skip_devices=True)


def test_v1_only_fields_are_warnings(mgr):
    w = mgr.apply({"memory": {"swappiness": 10}, "cpu": {"realtimeRuntime": 100}}, skip_devices=True)
    assert sorted(p for p, _ in w) == ["/linux/resources/cpu/realtimeRuntime", "/linux/resources/memory/swappiness"]
