"""update / pause / resume / ps / events / kill --all through their `main(ctx, args)` for
real, before the runtime exists: the "container" is a state record written here whose init
is a `sleep` this test started and moved into a real cgroup made by pyrunc's manager.
Runs on a v1 host, inside the v2 guest, and in the systemd guest with the systemd driver."""
import io
import json
import marshal
import os
import subprocess
import sys
import time
import uuid

import pytest

from pyrunc import cgroups, state

pytestmark = [pytest.mark.root]
SYSTEMD = bool(os.environ.get("PYRUNC_SYSTEMD_GUEST"))
if os.geteuid() != 0:
    pytest.skip("needs root", allow_module_level=True)


class Log:
    def __init__(self):
        self.lines = []

    def warning(self, m):
        self.lines.append(m)

    debug = error = warning


class Ctx:
    def __init__(self, root):
        self.root, self.log, self.systemd_cgroup, self.debug = root, Log(), False, False


@pytest.fixture
def ctr(tmp_path):
    cid = "c" + uuid.uuid4().hex[:8]
    path = f"system.slice:pyrunc-cmd:{cid}" if SYSTEMD else f"/pyrunc-cmd-test/{cid}"
    m = cgroups.new_manager(cid, path, systemd=SYSTEMD)
    m.create()
    p = subprocess.Popen(["sh", "-c", "sleep 300 & exec sleep 301"])
    m.add_pid(p.pid)
    time.sleep(0.2)
    # sh may have forked its background sleep before the move: move that child too
    for child in subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True).stdout.split():
        m.add_pid(int(child))
    resources = {"memory": {"limit": 64 << 20}, "pids": {"limit": 50}}
    m.apply(resources, skip_devices=True)
    root = tmp_path / "root"
    (root / cid).mkdir(parents=True)
    data = {"id": cid, "pid": p.pid, "start_time": state.proc_stat(p.pid)[1], "bundle": str(tmp_path),
            "rootfs": str(tmp_path / "rootfs"), "created": "2026-01-01T00:00:00Z", "cgroup": m.save(),
            "config": {"ociVersion": "1.1.0", "linux": {"resources": resources}}}
    with open(root / cid / "state", "wb") as f:
        marshal.dump(data, f)
    yield Ctx(str(root)), cid, m, p
    if m.is_frozen():
        m.thaw()
    m.kill_all(9)
    p.wait()
    time.sleep(0.05)
    m.destroy()
    if SYSTEMD:
        return
    for d in ([m.path] if m.driver == "v2" else set(m.paths.values())):
        try:
            os.rmdir(os.path.dirname(d))
        except OSError:
            pass


def run(mod, ctx, args, capsys):
    module = __import__("pyrunc.cli." + mod, fromlist=["main"])
    rc = module.main(ctx, args)
    return rc, capsys.readouterr().out


def limit_file(m):
    m = getattr(m, "inner", m)
    return os.path.join(m.path, "memory.max") if m.driver == "v2" else \
        os.path.join(m.paths["memory"], "memory.limit_in_bytes")


def test_update_flags_persist(ctr, capsys):
    ctx, cid, m, _ = ctr
    assert run("update", ctx, ["--memory", "128m", "--pids-limit", "0", cid], capsys)[0] == 0
    assert open(limit_file(m)).read().strip() == str(128 << 20)
    res = state.load(ctx.root, cid).config["linux"]["resources"]
    assert res["memory"]["limit"] == 128 << 20 and res["pids"]["limit"] == 50


def test_update_resources_stdin(ctr, capsys, monkeypatch):
    ctx, cid, m, _ = ctr
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps({"memory": {"limit": 96 << 20}})))
    assert run("update", ctx, ["--resources", "-", cid], capsys)[0] == 0
    assert open(limit_file(m)).read().strip() == str(96 << 20)


def test_pause_resume_and_status(ctr, capsys):
    from pyrunc.errors import InvalidState
    ctx, cid, m, _ = ctr
    run("pause", ctx, [cid], capsys)
    assert state.load(ctx.root, cid).status() == state.PAUSED
    with pytest.raises(InvalidState, match="container not running"):
        run("pause", ctx, [cid], capsys)
    run("resume", ctx, [cid], capsys)
    assert state.load(ctx.root, cid).status() == state.RUNNING
    with pytest.raises(InvalidState, match="container not paused"):
        run("resume", ctx, [cid], capsys)


def test_ps(ctr, capsys):
    ctx, cid, m, p = ctr
    rc, out = run("ps", ctx, ["--format", "json", cid], capsys)
    pids = json.loads(out)
    assert p.pid in pids and len(pids) == 2
    rc, out = run("ps", ctx, [cid, "-o", "pid,comm"], capsys)
    lines = out.splitlines()
    assert lines[0].split() == ["PID", "COMMAND"] and len(lines) == 3


def test_events_stats(ctr, capsys):
    ctx, cid, m, _ = ctr
    rc, out = run("events", ctx, ["--stats", cid], capsys)
    ev = json.loads(out)
    assert ev["type"] == "stats" and ev["id"] == cid
    assert ev["data"]["memory"]["usage"]["limit"] == 64 << 20
    assert ev["data"]["pids"] == {"current": 2, "limit": 50}


def test_signal_all(ctr):
    ctx, cid, m, p = ctr
    c = state.load(ctx.root, cid)
    pids = m.pids()
    cgroups.signal_all(c, 15)
    p.wait(10)
    time.sleep(0.3)
    assert not any(os.path.exists(f"/proc/{x}") and open(f"/proc/{x}/stat").read().split()[2] != "Z" for x in pids)


def test_events_stream_reports_oom_and_ends_with_the_container(ctr):
    ctx, cid, m, p = ctr
    m.apply({"memory": {"limit": 32 << 20}}, skip_devices=True)
    ev = subprocess.Popen([sys.executable, "-m", "pyrunc", "--root", ctx.root, "events", "--interval", "1s", cid],
                          stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        first = json.loads(ev.stdout.readline())
        assert first["type"] == "stats"
        hog = subprocess.Popen([sys.executable, "-S", "-c",
                                "import sys; sys.stdin.readline()\nb = []\nwhile True: b.append(bytearray(1 << 20))"],
                               stdin=subprocess.PIPE)
        m.add_pid(hog.pid)
        hog.stdin.write(b"\n")
        hog.stdin.flush()
        assert hog.wait(60) == -9
        kinds = []
        while "oom" not in kinds:
            line = ev.stdout.readline()
            assert line, "events ended before reporting the OOM kill"
            kinds.append(json.loads(line)["type"])
        assert kinds[-1] == "oom"
        m.kill_all(9)  # the container "stops": its init is gone
        p.wait()
        assert ev.wait(10) == 0
    finally:
        if ev.poll() is None:
            ev.kill()
            ev.wait()
