"""podman 4.3 (conmon as the shim) driving pyrunc, and runc the same way for comparison.

The engine is private (storage, tmpdir, containers.conf, cgroup parent); the image comes from
`podman load` of a docker-archive. Each test asserts what a podman user sees: output, exit
codes, `podman inspect`/`ps` listings, error messages; and, where podman asks the runtime to
change something, what the runtime and the cgroup report.
"""
import os
import shutil
import tempfile

import pytest

from engines import (IMAGE, PODMAN_NAMES, Podman, cleanup_dir, podman_store, podman_teardown,
                     read_cgroup, wait_for)

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not (shutil.which("podman") and shutil.which("conmon")),
                       reason="needs podman and conmon"),
]

# Handles TERM and USR1 promptly: `wait` returns as soon as a trapped signal arrives.
TRAPS = ("trap 'echo got TERM; exit 0' TERM; trap 'echo got USR1' USR1; echo ready; "
         "while :; do sleep 1 & wait $!; done")
# PID 1 without a handler: SIGTERM is ignored, only SIGKILL stops it.
NO_TRAP = "echo ready; while :; do sleep 1; done"


@pytest.fixture(scope="module")
def podman_base():
    base = tempfile.mkdtemp(prefix="peng-podman-", dir="/tmp")
    try:
        podman_store(base)
        yield base
    finally:
        podman_teardown(base)
        cleanup_dir(base)


@pytest.fixture(params=["pyrunc", "runc"])
def podman(request, podman_base):
    p = Podman(podman_base, request.param)
    yield p
    if p.names:
        p("rm", "--force", "--ignore", "--time", "0", *p.names)


def start(podman, script, *opts):
    name = podman.name()
    r = podman(*podman.run_args(name, "-d", *opts, IMAGE, "sh", "-c", script))
    assert r.returncode == 0, r
    wait_for(lambda: "ready" in podman("logs", name).stdout, what=f"{name} ready")
    return name, r.stdout.strip()


def test_run_output_and_exit_code(podman):
    r = podman(*podman.run_args(podman.name(), "--rm", IMAGE,
                                "sh", "-c", "echo hello; echo oops >&2; exit 7"))
    assert (r.returncode, r.stdout) == (7, "hello\n"), r
    assert "oops" in r.stderr


def test_run_tty(podman):
    r = podman.pty(*podman.run_args(podman.name(), "--rm", "-t", IMAGE,
                                    "sh", "-c", "tty; exit 4"))
    assert r.returncode == 4, r
    assert "/dev/pts/0" in r.stdout, r


def test_detached_exec_and_stop_with_trap(podman):
    name, cid = start(podman, TRAPS)
    assert podman.inspect(name, "{{.State.Status}}") == "running"
    assert podman.runtime_state(cid)["status"] == "running"

    r = podman("exec", name, "sh", "-c", "echo in $(cat /proc/1/comm); exit 5")
    assert (r.returncode, r.stdout) == (5, "in sh\n"), r
    r = podman.pty("exec", "-t", name, "sh", "-c", "tty; exit 6")
    assert r.returncode == 6, r
    assert "/dev/pts/" in r.stdout, r

    r = podman("stop", "--time", "60", name)
    assert r.returncode == 0, r
    assert r.elapsed < 30, r  # the trap ended it, not the timeout
    assert podman.inspect(name, "{{.State.Status}}") == "exited"
    assert podman.inspect(name, "{{.State.ExitCode}}") == "0"
    assert "got TERM" in podman("logs", name).stdout


def test_stop_falls_back_to_kill(podman):
    name, _ = start(podman, NO_TRAP)
    r = podman("stop", "--time", "2", name)
    assert r.returncode == 0, r
    assert r.elapsed >= 2, r
    assert "resorting to SIGKILL" in r.stderr, r
    assert podman.inspect(name, "{{.State.ExitCode}}") == "137"


def test_kill(podman):
    name, _ = start(podman, TRAPS)
    r = podman("kill", "--signal", "USR1", name)
    assert r.returncode == 0, r
    wait_for(lambda: "got USR1" in podman("logs", name).stdout, what="USR1 trap")
    assert podman.inspect(name, "{{.State.Status}}") == "running"
    r = podman("kill", name)  # SIGKILL by default
    assert r.returncode == 0, r
    wait_for(lambda: podman.inspect(name, "{{.State.Status}}") == "exited", what="exit")
    assert podman.inspect(name, "{{.State.ExitCode}}") == "137"


def test_pause_unpause(podman):
    name, cid = start(podman, TRAPS)
    cgroup = f"{podman.cgroup_parent}/libpod-{cid}"
    r = podman("pause", name)
    assert r.returncode == 0, r
    assert podman.inspect(name, "{{.State.Status}}") == "paused"
    assert podman.runtime_state(cid)["status"] == "paused"
    assert read_cgroup(cgroup, "freezer.state") == "FROZEN"
    r = podman("unpause", name)
    assert r.returncode == 0, r
    assert podman.inspect(name, "{{.State.Status}}") == "running"
    assert podman.runtime_state(cid)["status"] == "running"
    assert read_cgroup(cgroup, "freezer.state") == "THAWED"
    r = podman("exec", name, "echo", "alive")
    assert (r.returncode, r.stdout) == (0, "alive\n"), r


def test_rm(podman):
    name, cid = start(podman, NO_TRAP)
    r = podman("rm", "--force", "--time", "0", name)
    assert r.returncode == 0, r
    assert name not in podman("ps", "--all", "--format", "{{.Names}}").stdout.split()
    assert podman.runtime_state(cid) is None  # the runtime forgot it too


def test_error_names_missing_command(podman):
    r = podman(*podman.run_args(podman.name(), "--rm", IMAGE, "/nonexistent/cmd"))
    # podman maps the runtime's "not found" to 127 and prints the runtime's message.
    assert r.returncode == 127, r
    assert f"Error: {PODMAN_NAMES[podman.runtime]}: " in r.stderr, r
    assert '"/nonexistent/cmd"' in r.stderr and "no such file or directory" in r.stderr, r


def test_error_rlimit_above_hard_limit(podman):
    # The hard RLIMIT_NOFILE on this machine is 20000 and CAP_SYS_RESOURCE is missing.
    r = podman(*podman.run_args(podman.name(), "--rm", "--ulimit", "nofile=30000:30000",
                                IMAGE, "true"))
    assert r.returncode == 126, r
    assert f"Error: {PODMAN_NAMES[podman.runtime]}: " in r.stderr, r
    assert "rlimit" in r.stderr.lower() and "operation not permitted" in r.stderr, r
