"""Lifecycle through the CLI, asserted the same way for pyrunc and runc."""
import json
import os
import signal
import time

import pytest

from rtsupport import cgroup_dirs

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def test_run_prints_and_exits_with_status(runtime, bundle):
    bundle.sh("echo hello from $(hostname); exit 3").write()
    r = runtime("run", "--bundle", bundle.path, bundle.id)
    assert r.stdout == "hello from pyrunc\n" or runtime.name == "runc"
    assert "hello from" in r.stdout
    assert r.returncode == 3
    assert runtime.ids() == []


def _wait_running(runtime, cid):
    for _ in range(200):
        r = runtime("state", cid)
        if r.returncode == 0 and json.loads(r.stdout)["status"] == "running":
            return
        time.sleep(0.05)
    raise AssertionError("container never ran")


def test_run_killed_by_signal_exits_128_plus_signal(runtime, bundle):
    import subprocess
    bundle.args("sleep", "100").write()
    p = subprocess.Popen(runtime.cmd("run", "--bundle", bundle.path, bundle.id))
    try:
        _wait_running(runtime, bundle.id)
        assert runtime("kill", bundle.id, "9").returncode == 0
        assert p.wait(timeout=10) == 128 + 9
    finally:
        p.kill()
        p.wait()


def test_init_is_pid_1_in_new_pid_namespace(runtime, bundle):
    bundle.sh("echo $$; readlink /proc/1/exe").write()
    r = runtime("run", "--bundle", bundle.path, bundle.id)
    lines = r.stdout.split()
    assert lines[0] == "1"


def test_create_start_state_kill_delete(runtime, bundle, tmp_path):
    bundle.args("sleep", "100").write()
    pidfile = tmp_path / "init.pid"
    r = runtime("create", "--bundle", bundle.path, "--pid-file", pidfile, bundle.id)
    assert r.returncode == 0, r.stderr
    pid_text = pidfile.read_text()
    assert pid_text.isdigit()  # digits, no newline
    st = json.loads(runtime("state", bundle.id).stdout)
    assert st["status"] == "created"
    assert st["pid"] == int(pid_text)
    assert st["id"] == bundle.id
    assert st["bundle"] == bundle.path
    assert st["created"].endswith("Z")
    # The process has not run its args yet: /proc/PID/cmdline is not "sleep 100".
    with open(f"/proc/{st['pid']}/cmdline", "rb") as f:
        assert not f.read().startswith(b"sleep")
    assert runtime("start", bundle.id).returncode == 0
    st = json.loads(runtime("state", bundle.id).stdout)
    assert st["status"] == "running"
    with open(f"/proc/{st['pid']}/cmdline", "rb") as f:
        assert f.read().startswith(b"sleep")
    assert runtime("kill", bundle.id, "KILL").returncode == 0
    for _ in range(100):
        st = json.loads(runtime("state", bundle.id).stdout)
        if st["status"] == "stopped":
            break
        time.sleep(0.02)
    assert st["status"] == "stopped"
    assert st["pid"] == 0
    assert runtime("delete", bundle.id).returncode == 0
    r = runtime("state", bundle.id)
    assert r.returncode == 1
    assert "container does not exist" in r.stderr
    assert cgroup_dirs(bundle.config["linux"]["cgroupsPath"]) == []


def test_list_formats(runtime, bundle):
    bundle.args("sleep", "100").write()
    assert runtime("create", "--bundle", bundle.path, bundle.id).returncode == 0
    js = json.loads(runtime("list", "--format", "json").stdout)
    assert [c["id"] for c in js] == [bundle.id]
    assert js[0]["status"] == "created"
    assert js[0]["owner"] == "root"
    table = runtime("list").stdout.splitlines()
    assert table[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    assert table[1].split()[0] == bundle.id
    assert runtime("list", "-q").stdout == bundle.id + "\n"


def test_list_empty_json_is_null(runtime):
    r = runtime("list", "--format", "json")
    assert r.stdout.strip() == "null"


def test_delete_created_container_kills_init(runtime, bundle):
    bundle.args("sleep", "100").write()
    runtime("create", "--bundle", bundle.path, bundle.id, check=True)
    pid = json.loads(runtime("state", bundle.id).stdout)["pid"]
    r = runtime("delete", bundle.id)
    assert r.returncode == 0, r.stderr
    time.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"


def test_delete_running_needs_force(runtime, bundle):
    bundle.args("sleep", "100").write()
    runtime("run", "-d", "--bundle", bundle.path, bundle.id, check=True)
    r = runtime("delete", bundle.id)
    assert r.returncode == 1
    assert "is not stopped: running" in r.stderr
    assert runtime("delete", "--force", bundle.id).returncode == 0
    assert runtime.ids() == []


@pytest.mark.parametrize("sig", ["9", "KILL", "sigkill", "SIGKILL"])
def test_kill_signal_spellings(runtime, bundle, sig):
    bundle.args("sleep", "100").write()
    runtime("run", "-d", "--bundle", bundle.path, bundle.id, check=True)
    assert runtime("kill", bundle.id, sig).returncode == 0


def test_kill_default_is_sigterm(runtime, bundle, tmp_path):
    bundle.sh("trap 'echo got-term > /tmp/t; exit 0' TERM; while true; do sleep 0.05; done").write()
    runtime("run", "-d", "--bundle", bundle.path, bundle.id, check=True)
    time.sleep(0.2)
    assert runtime("kill", bundle.id).returncode == 0
    for _ in range(100):
        if json.loads(runtime("state", bundle.id).stdout)["status"] == "stopped":
            break
        time.sleep(0.02)
    assert json.loads(runtime("state", bundle.id).stdout)["status"] == "stopped"


def test_foreground_run_forwards_signals(runtime, bundle):
    import subprocess
    bundle.sh("trap 'exit 42' TERM; while true; do sleep 0.05; done").write()
    p = subprocess.Popen(runtime.cmd("run", "--bundle", bundle.path, bundle.id))
    try:
        _wait_running(runtime, bundle.id)
        time.sleep(0.2)
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=10) == 42
    finally:
        p.kill()
        p.wait()


def test_kill_all(runtime, bundle):
    bundle.args("sleep", "100").write()
    runtime("run", "-d", "--bundle", bundle.path, bundle.id, check=True)
    assert runtime("kill", "--all", bundle.id, "9").returncode == 0


def test_preserve_fds(runtime, bundle, tmp_path):
    import subprocess
    bundle.sh("ls /proc/self/fd | sort -n | tr '\\n' ' '; cat <&3").write()
    data = tmp_path / "data"
    data.write_text("preserved\n")
    with open(data) as f:
        fd = f.fileno()
        os.dup2(fd, 3) if fd != 3 else None
        r = subprocess.run(runtime.cmd("run", "--preserve-fds", "1", "--bundle", bundle.path,
                                       bundle.id), capture_output=True, text=True,
                           pass_fds=(3,), timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[:4] == ["0", "1", "2", "3"]
    assert "preserved" in r.stdout


def test_leaked_fds_are_closed(runtime, bundle, tmp_path):
    import subprocess
    bundle.sh("ls /proc/self/fd | sort -n | tr '\\n' ' '").write()
    with open(tmp_path / "leak", "w") as f:
        os.set_inheritable(f.fileno(), True)
        r = subprocess.run(runtime.cmd("run", "--bundle", bundle.path, bundle.id),
                           capture_output=True, text=True, pass_fds=(f.fileno(),), timeout=30)
    # ls itself opens one fd for the directory it lists.
    assert r.stdout.split() == ["0", "1", "2", "3"]
