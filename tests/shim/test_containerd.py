"""End to end: a private containerd 1.6 drives the shim, which drives the backend runtime."""
import itertools
import os
import signal
import subprocess
import time

import pytest

from helpers import CGROUP_PARENT, needs_root, remove_dead_socket, wait_for

pytestmark = needs_root
_ids = itertools.count()


def new_id(prefix="t"):
    return "%s%d-%d" % (prefix, os.getpid(), next(_ids))


def run_args(ctd, cid, runtime=None):
    return ["run", "--runtime", runtime or ctd.shim_bin, "--cgroup", "%s/%s" % (CGROUP_PARENT, cid)]


def run_rootfs(ctd, rootfs, cid, *cmd, flags=(), runtime=None, check=True, timeout=60):
    return ctd.ctr(*run_args(ctd, cid, runtime), *flags, "--rootfs", rootfs, cid, *cmd,
                   check=check, timeout=timeout)


def start_sleeper(ctd, rootfs, cid=None):
    cid = cid or new_id("s")
    run_rootfs(ctd, rootfs, cid, "/bin/sleep", "1000", flags=("-d",))
    return cid


def remove(ctd, cid):
    ctd.ctr("task", "kill", "-s", "KILL", cid, check=False)
    wait_for(lambda: ctd.tasks().get(cid, (0, "STOPPED"))[1] == "STOPPED")
    ctd.ctr("task", "rm", cid, check=False)
    ctd.ctr("containers", "rm", cid, check=False)


def in_pty(cmd, timeout=30):
    """ctr -t needs a console on its side: run it under script(1)."""
    return subprocess.run(["script", "-qec", cmd, "/dev/null"], stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=timeout)


def test_run_output_and_exit_code(ctd, rootfs):
    res = run_rootfs(ctd, rootfs, new_id(), "/bin/sh", "-c", "echo out; echo err >&2; exit 3",
                     flags=("--rm",), check=False)
    assert res.returncode == 3, res.stderr
    assert b"out" in res.stdout and b"err" in res.stdout + res.stderr


def test_runtime_name_resolved_on_containerd_path(ctd, rootfs):
    res = run_rootfs(ctd, rootfs, new_id(), "/bin/echo", "by-name", flags=("--rm",),
                     runtime="io.containerd.pyrunc.v1")
    assert res.stdout.strip() == b"by-name"


def test_create_failure_reports_runtime_error(ctd, rootfs):
    cid = new_id()
    res = run_rootfs(ctd, rootfs, cid, "/does-not-exist", flags=("--rm",), check=False)
    assert res.returncode != 0
    err = res.stderr.decode()
    assert "OCI runtime create failed" in err and "does-not-exist" in err, err
    ctd.ctr("containers", "rm", cid, check=False)


def test_image_overlay_rootfs(ctd, image):
    cid = new_id("img")
    res = ctd.ctr(*run_args(ctd, cid), "--rm", image, cid, "/bin/sh", "-c",
                  "grep ' / ' /proc/mounts; echo image-ok")
    assert b"image-ok" in res.stdout
    assert b"overlay" in res.stdout


def test_image_with_many_layers(ctd, rootfs, workdir):
    """Enough layers that the overlay options exceed a page: lowerdir must be compacted."""
    import helpers
    ref = "docker.io/pyrunc-test/layered:latest"
    tar = helpers.make_image_tar(rootfs, os.path.join(workdir, "layered.tar"), ref, extra_layers=45)
    ctd.ctr("images", "import", tar, timeout=120)
    cid = new_id("lay")
    res = ctd.ctr(*run_args(ctd, cid), "--rm", ref, cid, "/bin/sh", "-c", "cat /layers/l0 /layers/l44")
    assert res.stdout.split() == [b"0", b"44"]


def test_tty_and_resize(ctd, rootfs):
    cid = new_id("tty")
    cmd = ("stty cols 77 rows 22; ctr --address %s -n %s run --fifo-dir %s --rm -t --runtime %s "
           "--cgroup %s/%s --rootfs %s %s /bin/sh -c 'sleep 0.5; stty size; tty; exit 4'"
           % (ctd.address, ctd.namespace, ctd.fifo_dir, ctd.shim_bin, CGROUP_PARENT, cid, rootfs, cid))
    res = in_pty(cmd)
    assert res.returncode == 4, res.stdout
    assert b"22 77" in res.stdout
    assert b"/dev/pts/" in res.stdout


def test_exec_plain_and_tty(ctd, rootfs):
    cid = start_sleeper(ctd, rootfs)
    try:
        res = ctd.ctr("task", "exec", "--exec-id", "e1", cid, "/bin/sh", "-c",
                      "echo from-exec; exit 5", check=False)
        assert res.returncode == 5 and b"from-exec" in res.stdout
        res = ctd.ctr("task", "exec", "--exec-id", "e2", cid, "/bin/cat", input=b"piped-stdin\n")
        assert res.stdout == b"piped-stdin\n"
        res = in_pty("stty cols 50 rows 10; ctr --address %s -n %s task exec --fifo-dir %s -t "
                     "--exec-id e3 %s /bin/sh -c 'sleep 0.3; tty; stty size'"
                     % (ctd.address, ctd.namespace, ctd.fifo_dir, cid))
        assert res.returncode == 0, res.stdout
        assert b"/dev/pts/" in res.stdout and b"10 50" in res.stdout
    finally:
        remove(ctd, cid)


def test_ps_lists_init_and_exec(ctd, rootfs):
    cid = start_sleeper(ctd, rootfs)
    try:
        proc = subprocess.Popen(ctd.argv("task", "exec", "--exec-id", "sleepy", cid, "/bin/sleep", "30"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            out = wait_for(lambda: (lambda o: o if b"sleepy" in o else None)(
                ctd.ctr("task", "ps", cid).stdout), timeout=10)
            assert out and b"sleepy" in out
            assert str(ctd.tasks()[cid][0]).encode() in out
        finally:
            proc.kill()
            proc.wait()
    finally:
        remove(ctd, cid)


def test_kill_reports_signal_exit(ctd, rootfs):
    cid = new_id("k")
    proc = subprocess.Popen(ctd.argv(*run_args(ctd, cid), "--rm", "--rootfs", rootfs, cid,
                                     "/bin/sleep", "1000"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert wait_for(lambda: ctd.tasks().get(cid, (0, ""))[1] == "RUNNING")
        ctd.ctr("task", "kill", "-s", "KILL", cid)
        assert proc.wait(20) == 137
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        ctd.ctr("containers", "rm", cid, check=False)


def test_pause_resume(ctd, rootfs):
    cid = start_sleeper(ctd, rootfs)
    try:
        ctd.ctr("task", "pause", cid)
        assert ctd.tasks()[cid][1] == "PAUSED"
        ctd.ctr("task", "resume", cid)
        assert ctd.tasks()[cid][1] == "RUNNING"
    finally:
        remove(ctd, cid)


def test_metrics(ctd, rootfs):
    cid = start_sleeper(ctd, rootfs)
    try:
        out = ctd.ctr("task", "metrics", cid).stdout.decode()
        assert "pids.current" in out and "memory.usage_in_bytes" in out, out
        assert any(line.split() == ["pids.current", "1"] for line in out.splitlines()), out
    finally:
        remove(ctd, cid)


def test_delete_cleans_bundle_and_mounts(ctd, image):
    cid = new_id("del")
    ctd.ctr(*run_args(ctd, cid), "-d", image, cid, "/bin/sleep", "1000")
    bundle = os.path.join(ctd.base, "state", "io.containerd.runtime.v2.task", ctd.namespace, cid)
    assert os.path.isdir(bundle)
    remove(ctd, cid)
    assert not os.path.exists(bundle)
    with open("/proc/self/mountinfo") as f:
        assert not any(cid in line for line in f)


def test_shim_killed_then_containerd_cleans_up(ctd, rootfs):
    cid = start_sleeper(ctd, rootfs)
    init_pid = ctd.tasks()[cid][0]
    sockets = ctd.shim_sockets()
    shims = [p for p in ctd.shim_pids() if _cmdline_has(p, cid)]
    assert len(shims) == 1
    os.kill(shims[0], signal.SIGKILL)
    # containerd notices the lost connection and runs `shim delete`, which force-deletes.
    assert wait_for(lambda: not os.path.exists("/proc/%d" % init_pid) or _zombie(init_pid), timeout=20)
    assert wait_for(lambda: ctd.tasks().get(cid, (0, "STOPPED"))[1] == "STOPPED", timeout=20)
    ctd.ctr("task", "rm", cid, check=False)
    ctd.ctr("containers", "rm", cid)
    for path in sockets:
        remove_dead_socket(path)


def _cmdline_has(pid, word):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return word.encode() in f.read().split(b"\0")
    except OSError:
        return False


def _zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_twenty_containers_at_once(ctd, rootfs):
    ids = [new_id("m") for _ in range(20)]
    procs = [subprocess.Popen(ctd.argv(*run_args(ctd, cid), "--rm", "--rootfs", rootfs, cid,
                                       "/bin/echo", cid),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for cid in ids]
    results = [(p.communicate(timeout=120), p.returncode) for p in procs]
    for cid, ((out, err), rc) in zip(ids, results):
        assert rc == 0, err
        assert out.strip() == cid.encode()
    assert not any(cid in ctd.tasks() for cid in ids)


def test_host_pid_namespace_leftovers_killed_on_init_exit(ctd, rootfs):
    """Without a private PID namespace nothing kills the init's children when it exits: the
    shim runs `kill --all` so the container's cgroup is emptied."""
    cid = new_id("hp")
    res = run_rootfs(ctd, rootfs, cid, "/bin/sh", "-c", "sleep 1000 & echo $!",
                     flags=("--rm", "--with-ns", "pid:/proc/self/ns/pid"), timeout=60)
    child = int(res.stdout.split()[-1])
    assert wait_for(lambda: not os.path.exists("/proc/%d" % child) or _zombie(child), timeout=10)
