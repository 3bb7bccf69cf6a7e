"""containerd 1.6 + ctr with the stock runc shim (io.containerd.runc.v2), `--runc-binary` set to
the runtime under test. Every test runs against pyrunc and /usr/sbin/runc (fixture
`ctr_runtime`, see conftest.py) and asserts what a user sees: ctr's output and exit status,
`ctr task ls/ps/metrics`, the freezer, and that nothing is left behind after removal.

Run: PYRUNC=$PWD/.venv/bin/pyrunc .venv/bin/python -m pytest -q tests/clients/test_ctr.py
"""
import difflib
import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time

import pytest

from rtsupport import ROOTFS

pytestmark = pytest.mark.root

SLEEP = ("/bin/sleep", "1000")


def poll(pred, timeout=30, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    return pred()


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def run_in_pty(argv, reply=None, timeout=90):
    """Run a ctr command whose stdio is a pty we hold the master of (what a user's terminal
    is for `ctr run -t`). `reply` = (marker, bytes or f(master, proc)): once the marker was
    seen, write the bytes or call f.
    Returns (exit status, everything the pty showed)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 4096)
                except OSError:  # EIO: every slave fd is closed
                    break
                if not data:
                    break
                out += data
            if reply and reply[0] in out:
                if callable(reply[1]):
                    reply[1](master, proc)
                else:
                    os.write(master, reply[1])
                reply = None
            if not ready and proc.poll() is not None:
                break
        else:
            proc.kill()
            raise AssertionError(f"{argv} did not finish in {timeout}s; output {out!r}")
        return proc.wait(timeout=30), out
    finally:
        os.close(master)


def start_detached(rt, cleanup, what, *cmd, flags=(), image=None, log=False):
    """`ctr run -d`; returns (id, log path or None) once ctr task ls shows RUNNING."""
    cid = rt.new_id(what)
    cleanup.append(cid)
    flags = list(flags)
    logpath = None
    if log:
        logpath = os.path.join(rt.ctd.base, cid + ".log")
        flags += ["--log-uri", "file://" + logpath]
    res = rt.run(cid, *cmd, flags=["-d"] + flags, image=image)
    assert res.returncode == 0
    assert rt.status(cid) == "RUNNING", rt.ctd.tasks()
    # The shim ran the runtime under test (its state is under our --runc-root).
    assert os.path.isdir(os.path.join(rt.state_root, cid))
    return cid, logpath


def cgroup_procs(rt, cid):
    """PIDs in the container's cgroup (the pids controller, or the v2 tree)."""
    paths = rt.cgroup_paths(cid)
    path = next((p for p in paths if "/pids/" in p), paths[0])
    return sorted(int(x) for x in read(os.path.join(path, "cgroup.procs")).split())


def freezer_state(rt, cid):
    for p in rt.cgroup_paths(cid):
        if os.path.exists(os.path.join(p, "freezer.state")):
            return read(os.path.join(p, "freezer.state")).strip()
        if os.path.exists(os.path.join(p, "cgroup.freeze")):  # cgroup v2
            return {"1": "FROZEN", "0": "THAWED"}[read(os.path.join(p, "cgroup.freeze")).strip()]
    raise AssertionError(f"no freezer for {cid} in {rt.cgroup_paths(cid)}")


def ps_pids(rt, cid):
    res = rt.ctr("task", "ps", cid)
    return sorted(int(line.split()[0]) for line in res.out.splitlines()[1:] if line.strip())


def remove_task(rt, cid):
    """`ctr task rm` then `ctr container rm`; returns task rm's result (exit code warning)."""
    res = rt.ctr("task", "rm", cid)
    rt.ctr("containers", "rm", cid)
    return res


def assert_clean(rt, cid):
    assert poll(lambda: not rt.leftovers(cid), timeout=20), rt.leftovers(cid)


# --- ctr run -------------------------------------------------------------------------------

def test_run_foreground_output_and_exit_code(ctr_runtime, ctr_cleanup):
    rt = ctr_runtime
    cid = rt.new_id("fg")
    ctr_cleanup.append(cid)
    res = rt.run(cid, "/bin/sh", "-c", "echo out; echo err >&2; exit 3", flags=["--rm"],
                 check=False)
    assert res.returncode == 3, res.err
    assert res.out == "out\n"
    assert "err\n" in res.err
    assert_clean(rt, cid)


def test_run_stdin_passed_through(ctr_runtime, ctr_cleanup):
    """Without a terminal the runtime passes the shim's pipes to the container untouched."""
    rt = ctr_runtime
    cid = rt.new_id("stdin")
    ctr_cleanup.append(cid)
    # ctr 1.6 does not close the container's stdin at EOF (with either runtime): read lines.
    res = rt.run(cid, "/bin/sh", "-c", "read a; read b; echo $b $a", flags=["--rm"],
                 input=b"one\ntwo\n")
    assert res.out == "two one\n"
    assert_clean(rt, cid)


def test_run_detached_running_with_log(ctr_runtime, ctr_cleanup):
    rt = ctr_runtime
    cid, log = start_detached(rt, ctr_cleanup, "det", "/bin/sh", "-c",
                              "echo to-stdout; echo to-stderr >&2; exec sleep 1000", log=True)
    pid, status = rt.ctd.tasks()[cid]
    assert status == "RUNNING" and pid > 0
    assert poll(lambda: "to-stdout" in read(log) and "to-stderr" in read(log)), read(log)
    # The shim's runtime root holds the container, and the runtime agrees with containerd.
    state = json.loads(rt.runtime("state", cid).stdout)
    assert (state["status"], state["pid"]) == ("running", pid)
    assert state["bundle"] == rt.ctd.bundle(cid)
    assert pid in cgroup_procs(rt, cid)
    assert poll(lambda: read(f"/proc/{pid}/cmdline").split("\0")[:2] == ["sleep", "1000"])


def test_run_tty(ctr_runtime, ctr_cleanup):
    rt = ctr_runtime
    cid = rt.new_id("tty")
    ctr_cleanup.append(cid)
    argv = rt.ctd.argv(*rt.run_argv(cid, "/bin/sh", "-c",
                                    "tty; read line; echo got-$line; exit 4", flags=["--rm", "-t"]))
    status, out = run_in_pty(argv, reply=(b"/dev/pts/", b"hello\r"))
    assert status == 4, out
    assert re.search(rb"^/dev/pts/\d+\r?\r\n", out, re.M), out
    assert b"got-hello" in out
    assert_clean(rt, cid)


def test_run_tty_resize(ctr_runtime, ctr_cleanup):
    """ctr forwards its terminal's size (ResizePty on the master the runtime sent) and
    SIGWINCH. ctr 1.6 resizes only after Start, so the very first size the process sees may
    still be 0x0 (a race with either runtime; more often lost with pyrunc, whose `start`
    returns a few ms later): poll inside."""
    rt = ctr_runtime
    cid = rt.new_id("winch")
    ctr_cleanup.append(cid)
    script = ("until stty -a | grep -q 'rows 30; columns 100;'; do sleep 0.05; done; echo first; "
              "until stty -a | grep -q 'rows 40; columns 120;'; do sleep 0.05; done; echo second")

    def resize(master, proc):
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        os.kill(proc.pid, signal.SIGWINCH)

    argv = rt.ctd.argv(*rt.run_argv(cid, "/bin/sh", "-c", script, flags=["--rm", "-t"]))
    status, out = run_in_pty(argv, reply=(b"first", resize), timeout=60)
    assert status == 0, out
    assert b"second" in out


def test_readme_snippet(ctr_runtime):
    """README's `ctr run --runc-binary ... --rootfs ... demo /bin/echo hello`, as written
    (default runc root /run/containerd/runc/<namespace>, default FIFO dir)."""
    rt = ctr_runtime
    cid = rt.new_id("demo")
    try:
        res = rt.ctr("run", "--runc-binary", rt.binary, "--rootfs", rt.rootfs, cid,
                     "/bin/echo", "hello")
        assert res.out == "hello\n"
    finally:
        rt.ctr("containers", "rm", cid, check=False)
    assert not os.path.exists(os.path.join("/run/containerd/runc", rt.ctd.namespace, cid))


# --- ctr task exec -------------------------------------------------------------------------

def test_exec_exit_status_and_output(ctr_runtime, ctr_cleanup):
    rt = ctr_runtime
    cid, _ = start_detached(rt, ctr_cleanup, "exec", *SLEEP)
    init_pid = rt.ctd.tasks()[cid][0]
    res = rt.ctr("task", "exec", "--fifo-dir", rt.ctd.fifo_dir, "--exec-id", "e1", cid,
                 "/bin/sh", "-c", "echo in-exec; tty; echo oops >&2; exit 7", check=False)
    assert res.returncode == 7, res.err
    assert res.out == "in-exec\nnot a tty\n"
    assert "oops" in res.err
    # Killed by a signal: 128 + signo, as for a shell.
    res = rt.ctr("task", "exec", "--fifo-dir", rt.ctd.fifo_dir, "--exec-id", "e2", cid,
                 "/bin/sh", "-c", "kill -9 $$", check=False)
    assert res.returncode == 137, res.err
    # Exec processes are reaped: only init is left.
    assert poll(lambda: ps_pids(rt, cid) == [init_pid]), ps_pids(rt, cid)


def test_exec_user_cwd_and_detached(ctr_runtime, ctr_cleanup):
    rt = ctr_runtime
    cid, _ = start_detached(rt, ctr_cleanup, "execu", *SLEEP)
    init_pid = rt.ctd.tasks()[cid][0]
    res = rt.ctr("task", "exec", "--fifo-dir", rt.ctd.fifo_dir, "--exec-id", "u1", "--user",
                 "1000", "--cwd", "/tmp", cid, "/bin/sh", "-c", "id -u; id -g; pwd")
    assert res.out == "1000\n1000\n/tmp\n"  # ctr looked gid 1000 up in the rootfs
    res = rt.ctr("task", "exec", "--fifo-dir", rt.ctd.fifo_dir, "--exec-id", "u2", "--user",
                 "nobody", cid, "/bin/sh", "-c", "id -un")
    assert res.out == "nobody\n"
    rt.ctr("task", "exec", "-d", "--fifo-dir", rt.ctd.fifo_dir, "--exec-id", "bg", cid, *SLEEP)
    assert poll(lambda: len(ps_pids(rt, cid)) == 2), ps_pids(rt, cid)
    assert init_pid in ps_pids(rt, cid)


EXEC_ERRORS = [
    ([], "/pctr-nope", 'exec failed: unable to start container process: exec: "/pctr-nope": '
     "stat /pctr-nope: no such file or directory"),
    (["--cwd", "/pctr-none"], "/bin/true", 'exec failed: unable to start container process: '
     'chdir to cwd ("/pctr-none") set in config.json failed: no such file or directory'),
    (["--cwd", "relative"], "/bin/true", "exec failed: Cwd must be an absolute path"),
]


def test_exec_errors_reach_ctr(ctr_runtime, ctr_cleanup):
    """Same message from both runtimes, through the shim's `OCI runtime exec failed`."""
    rt = ctr_runtime
    cid, _ = start_detached(rt, ctr_cleanup, "execerr", *SLEEP)
    for i, (opts, cmd, msg) in enumerate(EXEC_ERRORS):
        res = rt.ctr("task", "exec", "--fifo-dir", rt.ctd.fifo_dir, "--exec-id", f"x{i}", *opts,
                     cid, cmd, check=False)
        assert res.returncode == 1
        assert res.err == f"ctr: OCI runtime exec failed: {msg}: unknown\n"
    assert rt.status(cid) == "RUNNING"
    assert ps_pids(rt, cid) == [rt.ctd.tasks()[cid][0]]


def test_exec_tty(ctr_runtime, ctr_cleanup):
    rt = ctr_runtime
    cid, _ = start_detached(rt, ctr_cleanup, "exect", *SLEEP)
    argv = rt.ctd.argv("task", "exec", "-t", "--fifo-dir", rt.ctd.fifo_dir, "--exec-id", "t1",
                       cid, "/bin/sh", "-c", "tty; read line; echo got-$line; exit 5")
    status, out = run_in_pty(argv, reply=(b"/dev/pts/", b"again\r"))
    assert status == 5, out
    assert re.search(rb"^/dev/pts/\d+\r?\r\n", out, re.M), out
    assert b"got-again" in out


def test_parallel_execs(ctr_runtime, ctr_cleanup):
    """Concurrent `exec`s against one container (each a separate runtime process)."""
    rt = ctr_runtime
    cid, _ = start_detached(rt, ctr_cleanup, "par", *SLEEP)
    procs = [subprocess.Popen(rt.ctd.argv("task", "exec", "--fifo-dir", rt.ctd.fifo_dir,
                                          "--exec-id", f"p{i}", cid, "/bin/sh", "-c",
                                          f"echo exec-{i}; exit {10 + i}"),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
             for i in range(6)]
    for i, p in enumerate(procs):
        out, err = p.communicate(timeout=120)
        assert (p.returncode, out) == (10 + i, f"exec-{i}\n".encode()), err
    assert poll(lambda: len(ps_pids(rt, cid)) == 1)


def test_exec_relative_command_without_path(ctr_runtime, ctr_cleanup):
    """With --rootfs, ctr's spec has no process.env, so no PATH.

    Differs from runc on purpose: runc 1.1.5 then fails to find a relative args[0]
    ("executable file not found in $PATH"); pyrunc searches a default PATH
    (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin), as execvp(3) and crun do."""
    rt = ctr_runtime
    cid, _ = start_detached(rt, ctr_cleanup, "relexec", *SLEEP)
    res = rt.ctr("task", "exec", "--fifo-dir", rt.ctd.fifo_dir, "--exec-id", "r1", cid,
                 "sh", "-c", "echo found", check=False)
    if rt.name == "runc":
        assert res.returncode != 0
        assert 'exec: "sh": executable file not found in $PATH' in res.err
    else:
        assert res.returncode == 0, res.err
        assert res.out == "found\n"
    assert rt.status(cid) == "RUNNING"


# --- ctr task kill / delete ----------------------------------------------------------------

def test_kill_sigterm(ctr_runtime, ctr_cleanup):
    rt = ctr_runtime
    # PID 1 gets SIGTERM only with a handler; print once the trap is in place.
    cid, log = start_detached(rt, ctr_cleanup, "term", "/bin/sh", "-c",
                              "trap 'exit 42' TERM; echo trapped; sleep 1000 & wait", log=True)
    pid = rt.ctd.tasks()[cid][0]
    assert poll(lambda: "trapped" in read(log)), read(log)
    rt.ctr("task", "kill", cid)  # default SIGTERM
    assert rt.wait_status(cid, "STOPPED"), rt.ctd.tasks()
    assert not os.path.exists(f"/proc/{pid}")
    state = json.loads(rt.runtime("state", cid).stdout)
    assert state["status"] == "stopped"
    res = remove_task(rt, cid)
    assert "exit with non-zero exit code 42" in res.err
    assert_clean(rt, cid)


def test_kill_sigkill_detached(ctr_runtime, ctr_cleanup):
    rt = ctr_runtime
    cid, _ = start_detached(rt, ctr_cleanup, "kill", "/bin/sh", "-c",
                            "sleep 1000 & exec sleep 1001")
    assert poll(lambda: len(cgroup_procs(rt, cid)) == 2)
    rt.ctr("task", "kill", "-s", "SIGKILL", cid)
    assert rt.wait_status(cid, "STOPPED"), rt.ctd.tasks()
    # PID 1 died, so the kernel killed the rest of its PID namespace.
    assert poll(lambda: cgroup_procs(rt, cid) == []), cgroup_procs(rt, cid)
    res = rt.ctr("task", "kill", "-s", "SIGKILL", cid, check=False)
    assert res.returncode == 1 and "process already finished" in res.err, res.err
    res = remove_task(rt, cid)
    assert "exit with non-zero exit code 137" in res.err
    assert_clean(rt, cid)


def test_kill_all_and_foreground_exit_status(ctr_runtime, ctr_cleanup):
    """`ctr run` in the foreground reports 128+9 when `ctr task kill -a -s KILL` ends it."""
    rt = ctr_runtime
    cid = rt.new_id("killfg")
    ctr_cleanup.append(cid)
    fg = subprocess.Popen(rt.ctd.argv(*rt.run_argv(cid, *SLEEP, flags=["--rm"])),
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert rt.wait_status(cid, "RUNNING"), rt.ctd.tasks()
        rt.ctr("task", "exec", "-d", "--fifo-dir", rt.ctd.fifo_dir, "--exec-id", "bg", cid,
               *SLEEP)
        assert poll(lambda: len(cgroup_procs(rt, cid)) == 2)
        rt.ctr("task", "kill", "-a", "-s", "KILL", cid)
        assert fg.wait(timeout=60) == 137, fg.communicate()
    finally:
        if fg.poll() is None:
            fg.kill()
            fg.wait()
    assert_clean(rt, cid)


def test_kill_paused_task(ctr_runtime, ctr_cleanup):
    """SIGKILL reaches a frozen container (the runtime thaws it), and it can be removed."""
    rt = ctr_runtime
    cid, _ = start_detached(rt, ctr_cleanup, "killp", *SLEEP)
    rt.ctr("task", "pause", cid)
    assert rt.status(cid) == "PAUSED"
    rt.ctr("task", "kill", "-s", "KILL", cid)
    assert rt.wait_status(cid, "STOPPED"), rt.ctd.tasks()
    res = rt.ctr("task", "exec", "--fifo-dir", rt.ctd.fifo_dir, "--exec-id", "late", cid,
                 "/bin/true", check=False)
    assert res.returncode != 0
    res = remove_task(rt, cid)
    assert "exit with non-zero exit code 137" in res.err
    assert_clean(rt, cid)


def test_force_delete_running_task(ctr_runtime, ctr_cleanup):
    rt = ctr_runtime
    cid, _ = start_detached(rt, ctr_cleanup, "rmf", *SLEEP)
    # Positive control for the leftovers check below.
    assert os.path.isdir(os.path.join(rt.state_root, cid))
    assert all(os.path.isdir(p) for p in rt.cgroup_paths(cid))
    assert rt.ctr("task", "rm", cid, check=False).returncode != 0  # still running
    rt.ctr("task", "rm", "-f", cid)
    rt.ctr("containers", "rm", cid)
    assert_clean(rt, cid)


# --- pause / resume / ps / metrics ---------------------------------------------------------

def test_pause_resume(ctr_runtime, ctr_cleanup):
    rt = ctr_runtime
    cid, _ = start_detached(rt, ctr_cleanup, "pause", *SLEEP)
    rt.ctr("task", "pause", cid)
    assert rt.status(cid) == "PAUSED"
    assert freezer_state(rt, cid) == "FROZEN"
    assert json.loads(rt.runtime("state", cid).stdout)["status"] == "paused"
    # No exec into a frozen container (both runtimes refuse; the message differs).
    res = rt.ctr("task", "exec", "--fifo-dir", rt.ctd.fifo_dir, "--exec-id", "p1", cid,
                 "/bin/true", check=False, timeout=60)
    assert res.returncode != 0
    assert "paused" in res.err, res.err
    rt.ctr("task", "resume", cid)
    assert rt.status(cid) == "RUNNING"
    assert freezer_state(rt, cid) == "THAWED"
    res = rt.ctr("task", "exec", "--fifo-dir", rt.ctd.fifo_dir, "--exec-id", "p2", cid,
                 "/bin/echo", "thawed")
    assert res.out == "thawed\n"


def test_ps_lists_container_pids(ctr_runtime, ctr_cleanup):
    rt = ctr_runtime
    cid, _ = start_detached(rt, ctr_cleanup, "ps", "/bin/sh", "-c",
                            "sleep 1000 & sleep 1001 & wait")
    init_pid = rt.ctd.tasks()[cid][0]
    assert poll(lambda: len(ps_pids(rt, cid)) == 3), ps_pids(rt, cid)
    pids = ps_pids(rt, cid)
    assert init_pid in pids
    assert pids == cgroup_procs(rt, cid)
    assert sorted(json.loads(rt.runtime("ps", "--format", "json", cid).stdout)) == pids


def test_metrics(ctr_runtime, ctr_cleanup):
    rt = ctr_runtime
    cid, _ = start_detached(rt, ctr_cleanup, "metrics", "/bin/sh", "-c",
                            "sleep 1000 & exec sleep 1001")
    assert poll(lambda: len(cgroup_procs(rt, cid)) == 2)
    res = rt.ctr("task", "metrics", cid)
    rows = dict(line.split(None, 1) for line in res.out.splitlines() if len(line.split()) >= 2)
    assert rows["pids.current"].strip() == "2", res.out
    assert int(rows.get("memory.usage_in_bytes", rows.get("memory.usage", "0")).split()[0]) > 0


# --- images --------------------------------------------------------------------------------

def test_run_from_imported_image(ctr_runtime, ctr_image, ctr_cleanup):
    rt = ctr_runtime
    cid = rt.new_id("img")
    ctr_cleanup.append(cid)
    res = rt.run(cid, "sh", "-c", "grep ' / ' /proc/mounts; echo PATH=$PATH; pwd",
                 flags=["--rm"], image=ctr_image)
    root_line, path, cwd = res.out.splitlines()
    assert root_line.startswith("overlay / overlay "), res.out
    assert path == "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert cwd == "/"
    assert_clean(rt, cid)
    assert cid not in rt.ctr("snapshot", "ls").out


def test_image_detached_rootfs_mount_removed(ctr_runtime, ctr_image, ctr_cleanup):
    rt = ctr_runtime
    cid, _ = start_detached(rt, ctr_cleanup, "imgd", *SLEEP, image=ctr_image)
    rootfs = os.path.join(rt.ctd.bundle(cid), "rootfs")
    with open("/proc/self/mountinfo") as f:
        assert any(line.split()[4] == rootfs and " - overlay " in line for line in f)
    res = rt.ctr("task", "exec", "--fifo-dir", rt.ctd.fifo_dir, "--exec-id", "w", cid,
                 "sh", "-c", "echo written > /written; cat /written")
    assert res.out == "written\n"
    rt.ctr("task", "kill", "-s", "KILL", cid)
    assert rt.wait_status(cid, "STOPPED")
    remove_task(rt, cid)
    assert_clean(rt, cid)
    assert cid not in rt.ctr("snapshot", "ls").out


# --- errors --------------------------------------------------------------------------------

def oci_spec(rt, cid, **process):
    """`ctr oci spec` adjusted to run from the busybox rootfs in our cgroup."""
    spec = json.loads(rt.ctr("oci", "spec").out)
    spec["root"] = {"path": rt.rootfs}
    spec["linux"]["cgroupsPath"] = f"/{rt.ctd.namespace}/{cid}"
    spec["process"].update(process)
    path = os.path.join(rt.ctd.base, cid + ".json")
    with open(path, "w") as f:
        json.dump(spec, f)
    return path


BAD_CONFIGS = {
    # name: (ctr run flags or a process override for --config, command, expected text by runtime)
    "missing-binary": dict(cmd=["/pctr-does-not-exist"], expect={
        "runc": ['exec: "/pctr-does-not-exist": stat /pctr-does-not-exist: '
                 'no such file or directory'],
        "pyrunc": ['exec: "/pctr-does-not-exist": stat /pctr-does-not-exist: '
                   'no such file or directory']}),
    "bad-namespace-path": dict(flags=["--with-ns", "pid:/proc/pctr-none/ns/pid"], cmd=["/bin/true"],
                               expect={
        "runc": ["/proc/pctr-none/ns/pid: no such file or directory"],
        "pyrunc": [re.compile(r"config\.json /linux/namespaces/\d+/path: namespace path "
                              r"/proc/pctr-none/ns/pid: no such file or directory")]}),
    "unknown-rlimit": dict(process={"rlimits": [{"type": "RLIMIT_PCTR", "hard": 1, "soft": 1}]},
                           expect={
        "runc": ["wrong rlimit value: RLIMIT_PCTR"],
        "pyrunc": ['config.json /process/rlimits/0/type: unknown rlimit "RLIMIT_PCTR"']}),
    # Above the hard limit without CAP_SYS_RESOURCE (CLIENTS.md: this machine's bounding set).
    "rlimit-above-hard": dict(process={"rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1 << 40,
                                                    "soft": 1 << 40}]}, expect={
        "runc": ["error setting rlimits for ready process", "operation not permitted"],
        "pyrunc": [re.compile(r"config\.json /process/rlimits/0: setrlimit RLIMIT_NOFILE "
                              r".*operation not permitted")]}),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_error_reaches_ctr(ctr_runtime, ctr_cleanup, case):
    """The shim reports the msg of the runtime's last error log line: ctr prints
    `OCI runtime create failed: <runtime> create failed: <msg>: unknown` on one line."""
    rt = ctr_runtime
    spec = BAD_CONFIGS[case]
    cid = rt.new_id("bad")
    ctr_cleanup.append(cid)
    if "process" in spec:
        config = oci_spec(rt, cid, args=["/bin/true"], **spec["process"])
        argv = ["run", "--rm", "--runc-binary", rt.binary, "--runc-root", rt.root,
                "--fifo-dir", rt.ctd.fifo_dir, "--config", config, cid]
        res = rt.ctr(*argv, check=False)
    else:
        res = rt.run(cid, *spec["cmd"], flags=["--rm"] + spec.get("flags", []), check=False)
    assert res.returncode == 1, res.out + res.err
    line = next((l for l in res.err.splitlines() if "OCI runtime create failed" in l), "")
    assert line.startswith(f"ctr: failed to create shim task: OCI runtime create failed: "
                           f"{rt.name} create failed: "), res.err
    assert line.endswith(": unknown"), line
    for want in spec["expect"][rt.name]:
        if isinstance(want, str):
            assert want in line, line
        else:
            assert want.search(line), line
    assert_clean(rt, cid)


# --- the same ctr flags, both runtimes: what the container sees ----------------------------

PROBE = r"""
echo "id: $(id)"; echo "pwd: $(pwd)"
env | sort | sed 's/^/env: /'
grep -E '^(Cap|Seccomp|NoNewPrivs|Uid|Gid|Groups)' /proc/self/status
echo "nofile: $(ulimit -n)"; echo "umask: $(umask)"; echo "oom: $(cat /proc/self/oom_score_adj)"
for ns in net uts ipc pid mnt user cgroup; do echo "ns $ns: $(readlink /proc/self/ns/$ns)"; done
awk '{print "mount:", $2, $3, $4}' /proc/self/mounts
for d in null zero full random urandom tty ptmx fd stdin stdout stderr shm pts mqueue; do
    ls -ld /dev/$d 2>&1 | awk '{print "dev:", $1, $3, $4, $5, $6, $NF}'
done
touch /tmp/.pctr-probe-$$ 2>&1 && echo tmp-rw; rm -f /tmp/.pctr-probe-$$
echo "tty: $(tty)"
"""

# Spec options only: --no-pivot/--uidmap/--gidmap would silently run runc instead of the
# runtime under test (see test_task_options_replace_runc_binary).
PROBE_FLAGS = {
    "default": [],
    "read-only": ["--read-only"],
    "privileged": ["--privileged"],
    "net-host": ["--net-host"],
    "caps": ["--cap-add", "CAP_SYS_ADMIN", "--cap-drop", "CAP_CHOWN"],
    "cwd-env": ["--cwd", "/tmp", "--env", "FOO=bar", "--env", "PATH=/bin"],
    "seccomp": ["--seccomp"],
    "bind-mount": ["--mount", f"type=bind,src={ROOTFS}/etc,dst=/mnt/etc,options=rbind:ro"],
    "allow-new-privs": ["--allow-new-privs"],
    "rootfs-propagation": ["--rootfs-propagation", "shared"],
}

# Differs from runc on purpose: pyrunc mounts the tmpfs over masked directories (/proc/acpi,
# /sys/firmware, ...) with size=4k,nr_inodes=1 so nothing can be stored there; runc 1.1.5
# uses a plain read-only tmpfs.
MASK_TMPFS = re.compile(r"^(mount: \S+ tmpfs ro,relatime),size=4k,nr_inodes=1$", re.M)


def _normalize(out, cid):
    out = out.replace(cid, "CID")
    for ns in ("net", "uts", "ipc", "pid", "mnt", "user", "cgroup"):
        out = out.replace(os.readlink(f"/proc/self/ns/{ns}"), "HOST")
    out = re.sub(r"(ns \w+: )\w+:\[\d+\]", r"\1NEW", out)
    out = re.sub(r"/snapshots/\d+/", "/snapshots/N/", out)  # each container has its own
    return MASK_TMPFS.sub(r"\1", out)


@pytest.mark.parametrize("case", sorted(PROBE_FLAGS) + ["image", "image-read-only"])
def test_same_view_from_inside(ctr_runtime_pair, case, request):
    """`ctr run` flags turn into spec fields; the container must see the same under both."""
    image = request.getfixturevalue("ctr_image") if case.startswith("image") else None
    flags = ["--read-only"] if case == "image-read-only" else PROBE_FLAGS.get(case, [])
    seen = {}
    for name, rt in ctr_runtime_pair.items():
        cid = rt.new_id("probe")
        try:
            res = rt.run(cid, "/bin/sh", "-c", PROBE, flags=["--rm"] + flags, image=image,
                         check=False)
        finally:
            rt.remove(cid)
        assert res.returncode == 0, res.err
        seen[name] = _normalize(res.out, cid)
    diff = "\n".join(difflib.unified_diff(seen["runc"].splitlines(), seen["pyrunc"].splitlines(),
                                           "runc", "pyrunc", lineterm=""))
    assert not diff, diff
    assert "ns net: HOST" in seen["runc"] if case == "net-host" else "ns net: NEW" in seen["runc"]


def test_resource_flags_reach_the_cgroup(ctr_runtime, ctr_cleanup):
    rt = ctr_runtime
    cid, _ = start_detached(rt, ctr_cleanup, "res", *SLEEP, flags=[
        "--memory-limit", str(64 << 20), "--cpus", "0.5", "--cpu-shares", "512"])
    values = {}
    for p in rt.cgroup_paths(cid):
        for f in ("memory.limit_in_bytes", "cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.shares",
                  "memory.max", "cpu.max", "cpu.weight"):
            if os.path.exists(os.path.join(p, f)):
                values[f] = read(os.path.join(p, f)).strip()
    if "memory.max" in values:  # cgroup v2
        assert values["memory.max"] == str(64 << 20) and values["cpu.max"] == "50000 100000"
    else:
        assert values["memory.limit_in_bytes"] == str(64 << 20)
        assert (values["cpu.cfs_quota_us"], values["cpu.cfs_period_us"]) == ("50000", "100000")
        assert values["cpu.shares"] == "512"


def test_join_another_containers_netns(ctr_runtime, ctr_cleanup):
    """`ctr run --with-ns network:/proc/PID/ns/net`: the spec names a path to join."""
    rt = ctr_runtime
    first, _ = start_detached(rt, ctr_cleanup, "netns", *SLEEP)
    pid = rt.ctd.tasks()[first][0]
    cid = rt.new_id("joiner")
    ctr_cleanup.append(cid)
    res = rt.run(cid, "/bin/sh", "-c", "readlink /proc/self/ns/net; readlink /proc/self/ns/uts",
                 flags=["--rm", "--with-ns", f"network:/proc/{pid}/ns/net"])
    net, uts = res.out.split()
    assert net == os.readlink(f"/proc/{pid}/ns/net")
    assert uts != os.readlink(f"/proc/{pid}/ns/uts")


@pytest.mark.parametrize("flags", [["--no-pivot"],
                                   ["--uidmap", "0:300000:65536", "--gidmap", "0:300000:65536"]])
def test_task_options_replace_runc_binary(ctr_runtime_pair, ctr_cleanup_pair, flags):
    """A containerd 1.6 / ctr limitation, not pyrunc's: --no-pivot, --uidmap and --gidmap
    become *task* options (a fresh runc Options message), which replace the container's
    runtime options, so --runc-binary and --runc-root are dropped and the shim runs the
    default `runc` in /run/containerd/runc/<namespace>. These flags cannot reach pyrunc
    through ctr 1.6 with the stock shim; pyrunc's own shim or a CRI runtime entry can."""
    rt = ctr_runtime_pair["pyrunc"]
    cid = rt.new_id("taskopt")
    ctr_cleanup_pair.append((rt, cid))
    res = rt.run(cid, "/pctr-nope", flags=["--rm"] + flags, check=False)
    assert res.returncode == 1
    assert "OCI runtime create failed: runc create failed:" in res.err, res.err
