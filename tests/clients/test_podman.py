"""podman 4.3 (conmon as the shim) driving pyrunc, and runc the same way for comparison.

The engine is private (storage, tmpdir, containers.conf, cgroup parent); the image comes from
`podman load` of a docker-archive. Each test asserts what a podman user sees: output, exit
codes, `podman inspect`/`ps` listings, error messages; and, where podman asks the runtime to
change something, what the runtime and the cgroup report.
"""
import json
import os
import shutil
import tempfile

import pytest

from engines import (IMAGE, NO_TRAP, PODMAN_NAMES, PRIVILEGED_PROBE, PROBE, TRAPS, Podman,
                     check_privileged, cleanup_dir, podman_store, podman_teardown, read_cgroup,
                     run, same_probe, scenario_kill, scenario_output_and_exit_code,
                     scenario_own_session, scenario_restart_and_paused, scenario_stdin_pipe, start,
                     wait_for)

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not (shutil.which("podman") and shutil.which("conmon")),
                       reason="needs podman and conmon"),
]


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



def test_run_output_and_exit_code(podman):
    scenario_output_and_exit_code(podman)


def test_run_tty(podman):
    r = podman.pty(*podman.run_args(podman.name(), "--rm", "-t", IMAGE,
                                    "sh", "-c", "tty; stty size; exit 4"))
    assert r.returncode == 4, r
    assert r.stdout.split() == ["/dev/pts/0", "33", "111"], r  # the user's terminal size


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
    scenario_kill(podman)


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


def test_config_surface_same_as_runc(podman_base, tmp_path):
    """One container with many options under each runtime: the same facts inside."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "hello").write_text("hello from the host\n")
    out = {}
    for rt in ("runc", "pyrunc"):
        p = Podman(podman_base, rt)
        try:
            r = p(*p.run_args(
                p.name(), "--rm", "--hostname", "peng-host", "--user", "1000:1000",
                "--workdir", "/tmp", "--env", "FOO=bar", "--read-only",
                "--read-only-tmpfs=false", "--tmpfs", "/run:size=1m,mode=1777",
                "--cap-drop", "NET_RAW", "--cap-add", "SYS_TIME",
                "--security-opt", "no-new-privileges", "--memory", "32m", "--pids-limit", "20",
                "--cpu-shares", "256", "--sysctl", "net.ipv4.ip_forward=1",
                "--ulimit", "nofile=1000:2000", "--ulimit", "nproc=500:600", "--shm-size", "8m",
                "-v", f"{data}:/data:ro",
                IMAGE, "sh", "-c", PROBE))
        finally:
            p("rm", "--force", "--ignore", *p.names)
        out[rt] = r.stdout + r.stderr
    same_probe(out["runc"], out["pyrunc"])


def test_tmpfs_copyup(podman):
    # podman adds "tmpcopyup" to every --tmpfs and to the tmpfs mounts of --read-only
    # (/run, /tmp, /var/tmp): the tmpfs starts with a copy of what the image has there.
    r = podman(*podman.run_args(
        podman.name(), "--rm", "--read-only", "--tmpfs", "/etc", IMAGE, "sh", "-c",
        "grep ^root: /etc/passwd && ls -ld /etc/passwd | cut -c1-10 && echo x > /etc/new "
        "&& echo x > /tmp/new && echo writable && mount | grep -c ' /etc type tmpfs'"))
    assert r.returncode == 0, r
    assert r.stdout.splitlines() == ["root:x:0:0:root:/root:/bin/sh", "-rw-r--r--",
                                     "writable", "1"], r


def test_update_resources(podman):
    # podman sends the container's whole linux.resources to `RUNTIME update --resources FILE`.
    name, cid = start(podman, NO_TRAP)
    cgroup = f"{podman.cgroup_parent}/libpod-{cid}"
    r = podman("update", "--memory", "64m", "--memory-swap", "128m", "--cpus", "0.5",
               "--cpu-shares", "512", name)
    assert r.returncode == 0, r
    assert read_cgroup(cgroup, "memory.limit_in_bytes") == str(64 << 20)
    assert read_cgroup(cgroup, "memory.memsw.limit_in_bytes") == str(128 << 20)
    assert read_cgroup(cgroup, "cpu.cfs_quota_us") == "50000"
    assert read_cgroup(cgroup, "cpu.cfs_period_us") == "100000"
    assert read_cgroup(cgroup, "cpu.shares") == "512"
    # (podman 4.3's inspect still shows the old HostConfig after an update, with either runtime.)


def test_privileged_tty(podman):
    r = podman.pty(*podman.run_args(podman.name(), "--rm", "-t", "--privileged", IMAGE,
                                    "sh", "-c", PRIVILEGED_PROBE))
    assert r.returncode == 0, r
    check_privileged(r.stdout)


def test_exec_options_and_errors(podman):
    name, _ = start(podman, NO_TRAP)
    r = podman("exec", "--user", "1000:1000", "--workdir", "/tmp", "--env", "X=1", name,
               "sh", "-c", "id; pwd; echo $X")
    assert r.returncode == 0, r
    # (podman's exec passes no additionalGids for a numeric --user, docker's does)
    assert r.stdout.splitlines() == ["uid=1000(user) gid=1000(user)", "/tmp", "1"], r
    r = podman("exec", "--interactive", name, "sh", "-c", "cat; exit 3", input="piped\n")
    assert (r.returncode, r.stdout) == (3, "piped\n"), r
    r = podman("exec", name, "sh", "-c", "kill -9 $$")
    assert r.returncode == 137, r
    r = podman("exec", "--detach", name, "sh", "-c", "echo detached > /tmp/d")
    assert r.returncode == 0, r
    wait_for(lambda: podman("exec", name, "cat", "/tmp/d").stdout == "detached\n",
             what="detached exec")
    r = podman("exec", name, "/nonexistent")
    # conmon passes on the runtime's error; podman maps "not found" to 127.
    assert r.returncode == 127, r
    assert f"Error: {PODMAN_NAMES[podman.runtime]}: " in r.stderr, r
    assert 'exec: "/nonexistent": stat /nonexistent: no such file or directory' in r.stderr, r


def test_run_stdin_pipe(podman):
    scenario_stdin_pipe(podman)


def test_join_other_containers_namespaces(podman):
    a, _ = start(podman, NO_TRAP)
    r = podman(*podman.run_args(podman.name(), "--rm", "--pid", f"container:{a}",
                                "--ipc", f"container:{a}", "--uts", f"container:{a}", IMAGE,
                                "sh", "-c", "readlink /proc/self/ns/pid /proc/self/ns/ipc "
                                "/proc/self/ns/uts; cat /proc/1/comm"))
    assert r.returncode == 0, r
    theirs = podman("exec", a, "readlink", "/proc/self/ns/pid", "/proc/self/ns/ipc",
                    "/proc/self/ns/uts")
    assert r.stdout.splitlines() == theirs.stdout.splitlines() + ["sh"], (r, theirs)


def test_restart_and_paused_containers(podman):
    scenario_restart_and_paused(podman)


CATATONIT = "/usr/libexec/podman/catatonit"
needs_catatonit = pytest.mark.skipif(not os.path.exists(CATATONIT),
                                     reason=f"needs {CATATONIT} (Debian package catatonit)")


@needs_catatonit
def test_init(podman):
    # --init: catatonit is bind-mounted as /run/podman-init and becomes PID 1.
    r = podman(*podman.run_args(podman.name(), "--rm", "--init", IMAGE,
                                "sh", "-c", "cat /proc/1/cmdline"))
    assert r.returncode == 0, r
    assert r.stdout.split("\0")[:3] == ["/run/podman-init", "--", "sh"], r


def test_interactive_tty(podman):
    # -it: keys typed on the user's terminal reach the shell through the container's pty.
    r = podman.pty(*podman.run_args(podman.name(), "--rm", "-it", IMAGE, "sh"),
                    script=[("# ", "echo $((6*7)) $(tty)\r"), ("42 /dev/pts/0", "exit 3\r")])
    assert r.returncode == 3, r
    assert "42 /dev/pts/0" in r.stdout, r


@needs_catatonit
def test_pod(podman):
    # A pod: an infra container (podman builds its pause image locally) whose ipc, uts and
    # net namespaces the pod's containers join by path.
    pod = podman.name()
    r = podman("pod", "create", "--name", pod, "--cgroup-parent", podman.cgroup_parent,
               "--network", "none")
    assert r.returncode == 0, r
    try:
        r = podman(*podman.run_args(podman.name(), "-d", "--pod", pod, IMAGE, "sh", "-c",
                                    "echo shared > /dev/shm/x; echo ready; sleep 100"))
        assert r.returncode == 0, r
        wait_for(lambda: "ready" in podman("logs", podman.names[-1]).stdout, what="ready")
        r = podman(*podman.run_args(podman.name(), "--rm", "--pod", pod, IMAGE, "sh", "-c",
                                    "hostname; cat /dev/shm/x"))
        assert (r.returncode, r.stdout) == (0, f"{pod}\nshared\n"), r
        assert podman("pod", "inspect", "--format", "{{.State}}", pod).stdout.strip() \
            == "Running"
        r = podman("pod", "stop", "--time", "1", pod)
        assert r.returncode == 0, r
        assert podman("pod", "inspect", "--format", "{{.State}}", pod).stdout.strip() \
            == "Exited"
    finally:
        r = podman("pod", "rm", "--force", pod)
    assert r.returncode == 0, r


def test_own_session_and_process_group(podman):
    scenario_own_session(podman)


def test_run_timeout(podman):
    # conmon --timeout kills the container's process group (kill(-pgid)) after 2 s; podman
    # reports exit code -1 (status 255) and --rm removes the container.
    name = podman.name()
    r = podman(*podman.run_args(name, "--rm", "--timeout", "2", IMAGE, "sleep", "60"))
    assert r.returncode == 255, r
    assert r.elapsed < 30, r
    assert name not in podman("ps", "--all", "--format", "{{.Names}}").stdout.split()


def test_preserve_fds(podman, tmp_path):
    # --preserve-fds: fd 3 of podman reaches the container (conmon passes it to the runtime's
    # create/exec --preserve-fds) at the same number.
    (tmp_path / "fd3").write_text("through fd 3\n")
    name, _ = start(podman, NO_TRAP)
    for args in (podman.run_args(podman.name(), "--rm", "--preserve-fds", "1", IMAGE),
                 ("exec", "--preserve-fds", "1", name)):
        argv = podman.cmd(*args, "cat", "/proc/self/fd/3")
        r = run(["sh", "-c", 'exec 3<"$0"; exec "$@"', str(tmp_path / "fd3"), *argv],
                env=podman.env)
        assert (r.returncode, r.stdout) == (0, "through fd 3\n"), r


def test_checkpoint(podman):
    # podman asks `RUNTIME checkpoint --help` first. pyrunc has no checkpoint/restore (README):
    # podman says so. runc tries, and criu fails on this machine.
    name, _ = start(podman, NO_TRAP)
    r = podman("container", "checkpoint", name)
    assert r.returncode == 125, r
    if podman.runtime == "pyrunc":
        assert "Error: configured runtime does not support checkpoint/restore" in r.stderr, r
    assert podman.inspect(name, "{{.State.Status}}") == "running"


def test_user_namespace(podman):
    # --uidmap/--gidmap: a new user namespace; podman chowns its copy of the image.
    name, _ = start(podman, NO_TRAP, "--uidmap", "0:200000:65536", "--gidmap", "0:200000:65536")
    r = podman("exec", name, "sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/gid_map; "
               "stat -c %u:%g /etc/passwd")
    assert r.returncode == 0, r
    assert r.stdout.split() == ["0", "0", "200000", "65536", "0", "200000", "65536", "0:0"], r
    pid = podman.inspect(name, "{{.State.Pid}}")
    with open(f"/proc/{pid}/status") as f:
        assert next(line.split()[1] for line in f if line.startswith("Uid:")) == "200000"


def test_custom_seccomp_profile(podman, tmp_path):
    profile = tmp_path / "seccomp.json"
    profile.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                      "errnoRet": 1}]}))
    r = podman(*podman.run_args(podman.name(), "--rm", "--security-opt", f"seccomp={profile}",
                                IMAGE, "sh", "-c", "mkdir /x; echo rc=$?; touch /y && echo ok"))
    assert r.returncode == 0, r
    assert r.stdout.split() == ["rc=1", "ok"], r
    assert "can't create directory '/x': Operation not permitted" in r.stderr, r
