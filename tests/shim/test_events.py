"""Events as containerd sees them (`ctr events`), OOM, and containers sharing one shim."""
import os
import subprocess
import time

from helpers import needs_root, wait_for
from test_containerd import new_id, remove, run_rootfs, start_sleeper, _cmdline_has

pytestmark = needs_root


class Events:
    def __init__(self, ctd):
        self.proc = subprocess.Popen(["ctr", "--address", ctd.address, "events"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        time.sleep(0.3)  # the subscription must exist before the first event

    def topics(self, cid, settle=0.5):
        time.sleep(settle)
        self.proc.terminate()
        out = self.proc.communicate(timeout=10)[0].decode()
        # lines: DATE TIME ZONE UTC NAMESPACE TOPIC {json}
        topics = []
        for line in out.splitlines():
            words = line.split()
            if '"%s"' % cid in line and len(words) > 5 and words[5].startswith("/tasks/"):
                topics.append(words[5])
        return topics


def test_event_order_with_exec_and_init_exit(ctd, rootfs):
    cid = new_id("ev")
    ev = Events(ctd)
    start_sleeper(ctd, rootfs, cid)
    proc = subprocess.Popen(ctd.argv("task", "exec", "--exec-id", "bg", cid, "/bin/sleep", "100"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: b"bg" in ctd.ctr("task", "ps", cid).stdout)
        ctd.ctr("task", "kill", "-s", "KILL", cid)  # the PID namespace takes the exec with it
        proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        remove(ctd, cid)
    topics = ev.topics(cid)
    assert topics[:4] == ["/tasks/create", "/tasks/start", "/tasks/exec-added",
                          "/tasks/exec-started"], topics
    exits = [i for i, t in enumerate(topics) if t == "/tasks/exit"]
    assert len(exits) == 2, topics  # exec's exit, then the init's, each exactly once
    assert topics[-1] == "/tasks/delete" and exits[-1] < len(topics) - 1


def test_oom_event(ctd, rootfs):
    if not os.path.exists("/sys/fs/cgroup/memory/cgroup.event_control"):
        import pytest
        pytest.skip("OOM events are implemented for cgroup v1 only")
    cid = new_id("oom")
    ev = Events(ctd)
    res = run_rootfs(ctd, rootfs, cid, "/bin/sh", "-c", "x=$(yes aaaaaaaaaaaaaaaa | head -c 200000000)",
                     flags=("--rm", "--memory-limit", str(16 << 20)), check=False)
    assert res.returncode == 137, res.stderr
    assert "/tasks/oom" in ev.topics(cid)


def test_pod_containers_share_one_shim(ctd, rootfs):
    group = new_id("pod")
    a, b = new_id("pa"), new_id("pb")
    for cid in (a, b):
        run_rootfs(ctd, rootfs, cid, "/bin/sleep", "1000",
                   flags=("-d", "--annotation", "io.kubernetes.cri.sandbox-id=%s" % group))
    try:
        shims = [p for p in ctd.shim_pids() if _cmdline_has(p, a) or _cmdline_has(p, b)]
        assert len(shims) == 1
        remove(ctd, a)
        assert os.path.exists("/proc/%d" % shims[0])  # still serving b
        assert ctd.tasks()[b][1] == "RUNNING"
    finally:
        remove(ctd, b)
    assert wait_for(lambda: not os.path.exists("/proc/%d" % shims[0]) or
                    open("/proc/%d/stat" % shims[0]).read().split(") ")[1][0] == "Z")
