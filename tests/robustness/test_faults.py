"""pyrunc killed at every named point of create/start/exec/delete (PYRUNC_TEST_FAULTS=1,
PYRUNC_FAULT=<point>; see pyrunc.fault): afterwards `list`, `state` and `delete --force`
work, and nothing is left behind: no state dir, cgroup, mount, process, zombie or fd."""
import json
import os
import time

import pytest

from probsupport import MARKER, env, nothing_left
from rtsupport import open_fds

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

# (point, who dies): "cli" = the pyrunc command itself (SIGKILL, status -9); "child" = a
# process it forked (stage, init, exec joiner/tenant): the command notices and fails.
CREATE_POINTS = [
    ("create-state-dir", "cli"),
    ("create-fifo", "cli"),
    ("create-cgroup", "cli"),
    ("create-stage-forked", "cli"),
    ("create-stage-in-cgroup", "cli"),
    ("stage-namespaces", "child"),
    ("init-mounts", "child"),
    ("create-init-mounted", "cli"),
    ("init-pivot", "child"),
    ("init-before-exec", "child"),
    ("create-init-ready", "cli"),
    ("create-state-written", "cli"),
    ("create-pid-file", "cli"),
]
START_POINTS = ["start-before-fifo-open", "start-fifo-opened", "start-fifo-read"]
EXEC_POINTS = [
    ("exec-joiner-forked", "cli"),
    ("exec-after-setns", "child"),
    ("exec-tenant-in-cgroup", "cli"),
    ("exec-before-exec", "child"),
]
DELETE_POINTS = ["delete-killed", "delete-cgroup-removed"]


def faulty(point):
    return env(PYRUNC_TEST_FAULTS="1", PYRUNC_FAULT=point)


def check_killed(r, who):
    if who == "cli":
        assert r.returncode == -9, (r.returncode, r.stderr)
    else:
        assert r.returncode == 1, (r.returncode, r.stderr)
        assert "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def check_queries(rt, cid):
    """list and state answer (one line on error, no traceback) whatever was left."""
    r = rt("list", "--format", "json")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    r = rt("state", cid)
    assert "Traceback" not in r.stderr
    if r.returncode == 0:
        assert json.loads(r.stdout)["status"] in ("creating", "created", "running", "stopped")
    else:
        assert r.returncode == 1 and "container does not exist" in r.stderr


def cleanup_and_check(rt, b, fds):
    r = rt("delete", "--force", b.id)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    # The id is free again and nothing of the killed attempt is left.
    nothing_left(rt, b, fds=fds)


@pytest.mark.parametrize("point,who", CREATE_POINTS)
def test_create_killed(prt, pbundle, tmp_path, point, who):
    pbundle.args("sleep", "100").write()
    fds = open_fds()
    pid_file = str(tmp_path / "init.pid")
    r = prt("create", "--bundle", pbundle.path, "--pid-file", pid_file, pbundle.id,
            env=faulty(point))
    check_killed(r, who)
    check_queries(prt, pbundle.id)
    cleanup_and_check(prt, pbundle, fds)


def test_create_fault_switch_needed(prt, pbundle):
    """PYRUNC_FAULT alone (without PYRUNC_TEST_FAULTS=1) is ignored."""
    pbundle.args("true").write()
    e = env(PYRUNC_FAULT="create-cgroup")
    r = prt("create", "--bundle", pbundle.path, pbundle.id, env=e)
    assert r.returncode == 0, r.stderr
    prt("delete", "--force", pbundle.id, check=True)


@pytest.mark.parametrize("point", START_POINTS)
@pytest.mark.parametrize("cmd", ["start", "run"])
def test_start_killed(prt, pbundle, point, cmd):
    pbundle.args("sleep", "100").write()
    fds = open_fds()
    if cmd == "start":
        prt("create", "--bundle", pbundle.path, pbundle.id, check=True)
        r = prt("start", pbundle.id, env=faulty(point))
    else:
        r = prt("run", "-d", "--bundle", pbundle.path, pbundle.id, env=faulty(point))
    check_killed(r, "cli")
    check_queries(prt, pbundle.id)
    # A second start answers at once (it used to wait forever on a stale exec.fifo).
    st = json.loads(prt("state", pbundle.id, check=True).stdout)["status"]
    r = prt("start", pbundle.id, timeout=20)
    if point == "start-before-fifo-open":
        assert st == "created" and r.returncode == 0, (st, r.stderr)
    else:
        assert st in ("running", "stopped"), st
        assert r.returncode == 1 and "cannot start" in r.stderr, r.stderr
    cleanup_and_check(prt, pbundle, fds)


def test_concurrent_starts(prt, pbundle):
    """Several starts of one container: one wins, the others fail; none waits forever."""
    import subprocess
    pbundle.args("sleep", "100").write()
    fds = open_fds()
    prt("create", "--bundle", pbundle.path, pbundle.id, check=True)
    procs = [subprocess.Popen(prt.cmd("start", pbundle.id), env=prt.env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(4)]
    codes = [p.wait(timeout=30) for p in procs]
    assert codes.count(0) == 1 and set(codes) <= {0, 1}, codes
    assert json.loads(prt("state", pbundle.id, check=True).stdout)["status"] == "running"
    cleanup_and_check(prt, pbundle, fds)


@pytest.mark.parametrize("point,who", EXEC_POINTS)
@pytest.mark.parametrize("detach", [True, False])
def test_exec_killed(prt, pbundle, point, who, detach):
    pbundle.args("sleep", "100").write()
    fds = open_fds()
    prt("run", "-d", "--bundle", pbundle.path, pbundle.id, check=True)
    r = prt("exec", *(["-d"] if detach else []), pbundle.id, "sleep", "50",
            env=faulty(point))
    if who == "cli":
        assert r.returncode == -9, (r.returncode, r.stderr)
    elif point == "exec-before-exec":
        # The tenant dies after it reported ready: as if the process died right away.
        assert r.returncode in (0, 137, 255), (r.returncode, r.stderr)
    else:
        assert r.returncode == 255, (r.returncode, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    # The container itself is unharmed.
    assert json.loads(prt("state", pbundle.id, check=True).stdout)["status"] == "running"
    prt("exec", pbundle.id, "true", check=True)
    cleanup_and_check(prt, pbundle, fds)


@pytest.mark.parametrize("point", DELETE_POINTS)
@pytest.mark.parametrize("started", [False, True])
def test_delete_killed(prt, pbundle, point, started):
    pbundle.args("sleep", "100").write()
    fds = open_fds()
    prt("create", "--bundle", pbundle.path, pbundle.id, check=True)
    if started:
        prt("start", pbundle.id, check=True)
    r = prt("delete", "--force", pbundle.id, env=faulty(point))
    check_killed(r, "cli")
    check_queries(prt, pbundle.id)
    cleanup_and_check(prt, pbundle, fds)


@pytest.mark.parametrize("point", [None, "delete-partial-creator-killed"])
def test_delete_of_a_create_in_progress(prt, pbundle, tmp_path, point):
    """While create runs (here: a slow prestart hook) the state says "creating"; delete
    refuses without --force, and with it kills the create and removes everything (also
    when that delete is itself killed right after killing the create, and run again)."""
    import subprocess
    pbundle.args("sleep", "100")
    # The marker in the hook's env: the hook, too, must be gone afterwards.
    pbundle.config["hooks"] = {"prestart": [{"path": "/bin/sleep", "args": ["sleep", "30"],
                                             "env": [MARKER]}]}
    pbundle.write()
    fds = open_fds()
    p = subprocess.Popen(prt.cmd("create", "--bundle", pbundle.path, pbundle.id),
                         env=prt.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            r = prt("state", pbundle.id)
            if r.returncode == 0:
                break
            time.sleep(0.05)
        assert json.loads(r.stdout)["status"] == "creating"
        r = prt("delete", pbundle.id)
        assert r.returncode == 1
        assert "that is not stopped: creating" in r.stderr
        if point:
            check_killed(prt("delete", "--force", pbundle.id, env=faulty(point)), "cli")
            check_queries(prt, pbundle.id)
        prt("delete", "--force", pbundle.id, check=True)
        assert p.wait(timeout=30) == -9
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()
        p.stderr.close()
    nothing_left(prt, pbundle, fds=fds)


@pytest.mark.parametrize("switch,point,expect", [
    (None, None, 0),            # unused
    (None, "p1", 0),            # a point named without the test switch: ignored
    ("1", "p2", 0),             # another point
    ("yes", "p1", 0),           # the switch is exactly "1"
    ("1", "p1", -9),            # the process that reaches the point dies by SIGKILL
])
def test_fault_hook(switch, point, expect):
    import subprocess
    import sys
    e = env()
    if switch:
        e["PYRUNC_TEST_FAULTS"] = switch
    if point:
        e["PYRUNC_FAULT"] = point
    r = subprocess.run([sys.executable, "-c", "import pyrunc; pyrunc.fault('p1')"], env=e,
                       timeout=30)
    assert r.returncode == expect
