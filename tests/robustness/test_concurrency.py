"""Concurrency: racing creates of one id, and many mixed lifecycles in parallel, leave
exactly what they should and nothing else."""
import json
import os
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from probsupport import make_bundle, new_id, nothing_left
from rtsupport import open_fds

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

# runc's text for a taken id (libcontainer ErrExist, runc 1.1 to 1.5), exit status 1.
EXISTS = "container with given ID already exists"


@pytest.mark.parametrize("n", [2, 8])
def test_concurrent_creates_of_one_id(prt, pbundle, n):
    pbundle.args("sleep", "100").write()
    fds = open_fds()
    # stderr in files, not pipes: the winner's init keeps create's stdio open.
    errs = [tempfile.TemporaryFile() for _ in range(n)]
    procs = [subprocess.Popen(prt.cmd("create", "--bundle", pbundle.path, pbundle.id),
                              env=prt.env, stdout=subprocess.DEVNULL, stderr=err)
             for err in errs]
    results = []
    for p, f in zip(procs, errs):
        code = p.wait(timeout=60)
        f.seek(0)
        results.append((code, f.read().decode()))
        f.close()
    winners = [r for r in results if r[0] == 0]
    losers = [r for r in results if r[0] != 0]
    assert len(winners) == 1, results
    for code, err in losers:
        assert code == 1, err
        assert err.strip().splitlines() == [err.strip()] and EXISTS in err, err
    st = json.loads(prt("state", pbundle.id, check=True).stdout)
    assert st["status"] == "created"
    # The winner's container is whole: it starts and runs.
    prt("start", pbundle.id, check=True)
    assert json.loads(prt("state", pbundle.id, check=True).stdout)["status"] == "running"
    prt("delete", "--force", pbundle.id, check=True)
    nothing_left(prt, pbundle, fds=fds)


def _wait_status(rt, cid, want, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        r = rt("state", cid, check=True)
        status = json.loads(r.stdout)["status"]
        if status == want:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{cid}: status {status}, wanted {want}")
        time.sleep(0.02)


def _run(rt, b):
    b.args("true").write()
    rt("run", "--bundle", b.path, b.id, check=True, timeout=60)


def _create_start_kill_delete(rt, b):
    b.args("sleep", "100").write()
    rt("create", "--bundle", b.path, b.id, check=True, timeout=60)
    rt("start", b.id, check=True)
    rt("kill", b.id, "KILL", check=True)
    _wait_status(rt, b.id, "stopped")
    rt("delete", b.id, check=True)


def _create_delete(rt, b):
    b.args("sleep", "100").write()
    rt("create", "--bundle", b.path, b.id, check=True, timeout=60)
    rt("delete", b.id, check=True)


def _exec(rt, b):
    b.args("sleep", "100").write()
    rt("run", "-d", "--bundle", b.path, b.id, check=True, timeout=60)
    r = rt("exec", b.id, "sh", "-c", "echo hi", check=True, timeout=60)
    assert r.stdout == "hi\n", r.stdout
    rt("exec", "-d", b.id, "sleep", "100", check=True, timeout=60)
    # No fd of pyrunc reached the container: its processes hold stdio only.
    with open(f"/sys/fs/cgroup/pids{b.config['linux']['cgroupsPath']}/cgroup.procs") as f:
        pids = f.read().split()
    assert len(pids) == 2, pids
    for pid in pids:
        fds = sorted(int(n) for n in os.listdir(f"/proc/{pid}/fd"))
        assert fds == [0, 1, 2], (pid, fds)
    rt("delete", "--force", b.id, check=True)


def _pause_resume(rt, b):
    b.args("sleep", "100").write()
    rt("run", "-d", "--bundle", b.path, b.id, check=True, timeout=60)
    rt("pause", b.id, check=True)
    _wait_status(rt, b.id, "paused")
    rt("resume", b.id, check=True)
    _wait_status(rt, b.id, "running")
    rt("delete", "--force", b.id, check=True)


KINDS = (_run, _create_start_kill_delete, _create_delete, _exec, _pause_resume)


def test_mixed_lifecycles_in_parallel(prt, tmp_path):
    """PYRUNC_LIFECYCLES (default 1000) lifecycles, PYRUNC_LIFECYCLES_PARALLEL (8) at a time."""
    total = int(os.environ.get("PYRUNC_LIFECYCLES", "1000"))
    parallel = int(os.environ.get("PYRUNC_LIFECYCLES_PARALLEL", "8"))
    fds = open_fds()
    errors = []
    t0 = time.monotonic()

    def one(i):
        cid = new_id("lc")
        b = make_bundle(tmp_path / f"b{i % (parallel * 4)}-{cid}", cid)
        kind = KINDS[i % len(KINDS)]
        try:
            kind(prt, b)
        except Exception as e:  # collected: one failure must not hide the leak checks
            errors.append(f"{kind.__name__} {cid}: {e}")
            prt("delete", "--force", cid)
        finally:
            import shutil
            shutil.rmtree(b.path, ignore_errors=True)

    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(one, range(total)))
    took = time.monotonic() - t0
    print(f"{total} lifecycles, {parallel} in parallel: {took:.1f}s")
    assert errors == [], f"{len(errors)} failed, first: {errors[:5]}"
    probe = make_bundle(tmp_path / "probe", new_id("lc"))
    nothing_left(prt, probe, fds=fds)


@pytest.mark.parametrize("cmd", ["run", "exec"])
def test_foreground_cli_holds_stdio_only(prt, pbundle, cmd):
    """A foreground `run`/`exec` waits for the container's process: meanwhile it holds no
    fd but stdio (it used to keep exec.fifo and the pyrunc-init memfd open)."""
    pbundle.args("sleep", "100").write()
    fds = open_fds()
    if cmd == "exec":
        prt("run", "-d", "--bundle", pbundle.path, pbundle.id, check=True)
        argv = prt.cmd("exec", pbundle.id, "sleep", "100")
    else:
        argv = prt.cmd("run", "--bundle", pbundle.path, pbundle.id)
    p = subprocess.Popen(argv, env=prt.env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with open(f"/sys/fs/cgroup/pids{pbundle.config['linux']['cgroupsPath']}"
                          "/cgroup.procs") as f:
                    n = len(f.read().split())
            except FileNotFoundError:
                n = 0  # not made yet
            if n == (2 if cmd == "exec" else 1) and \
                    prt("state", pbundle.id).stdout.count('"running"'):
                break
            assert time.monotonic() < deadline, "container process did not start"
            time.sleep(0.05)
        time.sleep(0.2)  # past its last setup step
        held = sorted(int(n) for n in os.listdir(f"/proc/{p.pid}/fd"))
        assert held == [0, 1, 2], held
    finally:
        prt("delete", "--force", pbundle.id)
        p.wait(timeout=30)
    nothing_left(prt, pbundle, fds=fds)


@pytest.mark.parametrize("started", [False, True])
def test_concurrent_force_deletes(prt, pbundle, started):
    """Several `delete --force` of one container at once all succeed, nothing is left."""
    pbundle.args("sleep", "100").write()
    fds = open_fds()
    prt("create", "--bundle", pbundle.path, pbundle.id, check=True)
    if started:
        prt("start", pbundle.id, check=True)
    errs = [tempfile.TemporaryFile() for _ in range(4)]
    procs = [subprocess.Popen(prt.cmd("delete", "--force", pbundle.id), env=prt.env,
                              stdout=subprocess.DEVNULL, stderr=err) for err in errs]
    codes = [p.wait(timeout=60) for p in procs]
    out = []
    for f in errs:
        f.seek(0)
        out.append(f.read().decode())
        f.close()
    assert codes == [0] * 4, (codes, out)
    nothing_left(prt, pbundle, fds=fds)


def test_force_delete_racing_create(prt, pbundle):
    """`delete --force` while `create` of the same id runs, at many points of it (a create
    takes ~60 ms here): the create succeeds, fails with one line, or is killed; afterwards
    nothing is left."""
    pbundle.args("sleep", "100").write()
    fds = open_fds()
    outcomes = {}
    for i in range(40):
        err = tempfile.TemporaryFile()
        p = subprocess.Popen(prt.cmd("create", "--bundle", pbundle.path, pbundle.id),
                             env=prt.env, stdout=subprocess.DEVNULL, stderr=err)
        time.sleep(i * 0.002)
        d = prt("delete", "--force", pbundle.id)
        code = p.wait(timeout=60)
        err.seek(0)
        text = err.read().decode()
        err.close()
        assert d.returncode == 0 and "Traceback" not in d.stderr, d.stderr
        assert code in (0, 1, -9), (code, text)
        assert "Traceback" not in text and len(text.strip().splitlines()) <= 1, text
        assert "internal error" not in text, text
        outcomes[code] = outcomes.get(code, 0) + 1
        prt("delete", "--force", pbundle.id, check=True)
        nothing_left(prt, pbundle, fds=fds)
    print(f"create outcomes racing delete --force: {outcomes}")
