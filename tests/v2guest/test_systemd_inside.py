"""systemd cgroup driver tests; they run in the v2 guest booted with systemd as init
(tests/integration/test_cgroups_v2guest.py::test_systemd_guest) and skip elsewhere."""
import os
import signal
import subprocess
import time

import pytest

from pyrunc import cgroups

if not os.environ.get("PYRUNC_SYSTEMD_GUEST") or not os.path.exists("/run/systemd/system"):
    pytest.skip("needs the systemd v2 guest", allow_module_level=True)


def show(unit, prop):
    return subprocess.run(["systemctl", "show", "-p", prop, "--value", unit],
                          capture_output=True, text=True).stdout.strip()


@pytest.fixture
def scope():
    m = cgroups.new_manager("sd1", "system.slice:pyrunc:sd1", systemd=True)
    p = subprocess.Popen(["sleep", "60"])
    yield m, p
    if p.poll() is None:
        p.kill()
    p.wait()
    m.destroy()


def test_scope_with_limits(scope):
    m, p = scope
    m.set_annotations({"org.systemd.property.CollectMode": "'inactive-or-failed'",
                       "org.systemd.property.TimeoutStopSec": "uint64 7"})
    m.create()
    m.add_pid(p.pid)
    assert show("pyrunc-sd1.scope", "CollectMode") == "inactive-or-failed"
    assert show("pyrunc-sd1.scope", "TimeoutStopUSec") == "7s"
    assert m.save()["inner"]["path"] == "/sys/fs/cgroup/system.slice/pyrunc-sd1.scope"
    m.apply({"memory": {"limit": 64 << 20}, "cpu": {"shares": 1024, "quota": 50000, "period": 100000},
             "pids": {"limit": 30}, "devices": [{"allow": False, "access": "rwm"}]})
    d = m.save()["inner"]["path"]
    rd = lambda n: open(os.path.join(d, n)).read().strip()
    assert rd("memory.max") == str(64 << 20)
    assert rd("pids.max") == "30"
    assert rd("cpu.max") == "50000 100000"
    assert rd("cpu.weight") == "100"
    assert show("pyrunc-sd1.scope", "MemoryMax") == str(64 << 20)
    assert show("pyrunc-sd1.scope", "TasksMax") == "30"
    assert show("pyrunc-sd1.scope", "Delegate") == "yes"
    assert show("pyrunc-sd1.scope", "OOMPolicy") == "continue"
    assert m.pids() == [p.pid]
    m.freeze()
    assert m.is_frozen()
    m.thaw()
    s = m.stats()
    assert s["pids"]["current"] == 1


def test_destroy_stops_the_scope(scope):
    m, p = scope
    m.create()
    m.add_pid(p.pid)
    m.kill_all(signal.SIGKILL)
    p.wait(10)
    m.destroy()
    time.sleep(0.2)
    assert not os.path.exists(m.save()["inner"]["path"])
    assert show("pyrunc-sd1.scope", "ActiveState") in ("inactive", "")
