"""dockerd 20.10 (with its own containerd and the runc shim) driving pyrunc, and runc the same
way for comparison.

One private dockerd per module (data root, exec root, socket, daemon.json, cgroup parent); the
image comes from `docker load` of a docker-archive. The tests assert what a docker user sees
(output, exit codes, `docker inspect`, `docker top`, error messages) and, for `docker update`
and `pause`, the v1 cgroup files the runtime wrote.
"""
import json
import os
import shutil
import tempfile

import pytest

from engines import (IMAGE, NO_TRAP, PRIVILEGED_PROBE, PROBE, TRAPS, Docker, Dockerd,
                     check_privileged, cleanup_dir, docker_teardown, make_image, read_cgroup, run,
                     same_output, same_probe, scenario_kill, scenario_output_and_exit_code,
                     scenario_own_session, scenario_restart_and_paused, scenario_stdin_pipe, start,
                     wait_for)

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not (shutil.which("dockerd") and os.path.exists("/usr/bin/docker")),
                       reason="needs dockerd and the docker 20.10 client"),
]


@pytest.fixture(scope="module")
def dockerd():
    base = tempfile.mkdtemp(prefix="peng-docker-", dir="/tmp")
    daemon = Dockerd(base)
    try:
        daemon.start()
        r = Docker(daemon, "pyrunc")("load", "-i", make_image(base))
        assert r.returncode == 0, r
        yield daemon
    finally:
        docker_teardown(daemon)
        cleanup_dir(base)


@pytest.fixture(params=["pyrunc", "runc"])
def docker(request, dockerd):
    d = Docker(dockerd, request.param)
    yield d
    if d.names:
        d("rm", "--force", *d.names)



def runtime_state(docker, cid):
    """The runtime's own view. dockerd 20.10 gives every runtime the shim's root
    EXEC_ROOT/runtime-runc; the shim adds the containerd namespace, moby."""
    root = os.path.join(docker.daemon.base, "exec", "runtime-runc", "moby")
    r = run([docker.binary, "--root", root, "state", cid])
    return json.loads(r.stdout) if r.returncode == 0 else None


def test_run_rm_output_and_exit_code(docker):
    scenario_output_and_exit_code(docker)


def test_run_tty(docker):
    r = docker.pty(*docker.run_args(docker.name(), "--rm", "-t", IMAGE,
                                    "sh", "-c", "tty; exit 4"))
    assert r.returncode == 4, r
    assert "/dev/pts/0" in r.stdout, r


def test_detached_exec_inspect_and_stop_with_trap(docker):
    name, cid = start(docker, TRAPS)
    assert docker.inspect(name, "{{.State.Status}} {{.State.Running}}") == "running true"
    pid = int(docker.inspect(name, "{{.State.Pid}}"))
    state = runtime_state(docker, cid)
    assert (state["status"], state["pid"]) == ("running", pid)

    r = docker("exec", name, "sh", "-c", "echo in $(cat /proc/1/comm); exit 5")
    assert (r.returncode, r.stdout) == (5, "in sh\n"), r
    r = docker.pty("exec", "-t", name, "sh", "-c", "tty; exit 6")
    assert r.returncode == 6, r
    assert "/dev/pts/" in r.stdout, r

    r = docker("stop", "--time", "60", name)
    assert r.returncode == 0, r
    assert r.elapsed < 30, r  # the trap ended it, not the timeout
    assert docker.inspect(name, "{{.State.Status}} {{.State.ExitCode}}") == "exited 0"
    assert "got TERM" in docker("logs", name).stdout


def test_stop_falls_back_to_kill(docker):
    name, _ = start(docker, NO_TRAP)
    r = docker("stop", "--time", "2", name)
    assert r.returncode == 0, r
    assert r.elapsed >= 2, r
    assert docker.inspect(name, "{{.State.Status}} {{.State.ExitCode}}") == "exited 137"


def test_kill(docker):
    scenario_kill(docker)


def test_pause_unpause(docker):
    name, cid = start(docker, TRAPS)
    cgroup = docker.cgroup(name)
    r = docker("pause", name)
    assert r.returncode == 0, r
    assert docker.inspect(name, "{{.State.Status}} {{.State.Paused}}") == "paused true"
    assert runtime_state(docker, cid)["status"] == "paused"
    assert read_cgroup(cgroup, "freezer.state") == "FROZEN"
    r = docker("unpause", name)
    assert r.returncode == 0, r
    assert docker.inspect(name, "{{.State.Status}} {{.State.Paused}}") == "running false"
    assert read_cgroup(cgroup, "freezer.state") == "THAWED"
    r = docker("exec", name, "echo", "alive")
    assert (r.returncode, r.stdout) == (0, "alive\n"), r


def test_top(docker):
    # `docker top` asks the shim for the container's pids (`RUNTIME ps --format json`).
    name, _ = start(docker, NO_TRAP)
    pid = docker.inspect(name, "{{.State.Pid}}")
    r = docker("top", name, "-o", "pid,args")
    assert r.returncode == 0, r
    rows = [line.split(None, 1) for line in r.stdout.splitlines()[1:]]
    assert [pid, f"sh -c {NO_TRAP}"] in rows, r
    assert any(args.startswith("sleep") for _, args in rows), r


def test_update_resources(docker):
    name, _ = start(docker, NO_TRAP)
    cgroup = docker.cgroup(name)
    assert read_cgroup(cgroup, "pids.max") == "max"
    # --memory-swap too: dockerd refuses a memory limit above the (unlimited) swap limit.
    r = docker("update", "--memory", "64m", "--memory-swap", "128m", "--cpus", "0.5",
               "--pids-limit", "50", name)
    assert r.returncode == 0, r
    assert read_cgroup(cgroup, "memory.limit_in_bytes") == str(64 << 20)
    assert read_cgroup(cgroup, "memory.memsw.limit_in_bytes") == str(128 << 20)
    assert read_cgroup(cgroup, "cpu.cfs_period_us") == "100000"
    assert read_cgroup(cgroup, "cpu.cfs_quota_us") == "50000"
    assert read_cgroup(cgroup, "pids.max") == "50"
    # A second update changes only what it names.
    r = docker("update", "--pids-limit", "80", name)
    assert r.returncode == 0, r
    assert read_cgroup(cgroup, "pids.max") == "80"
    assert read_cgroup(cgroup, "memory.limit_in_bytes") == str(64 << 20)
    assert read_cgroup(cgroup, "cpu.cfs_quota_us") == "50000"
    assert docker.inspect(name, "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} "
                                "{{.HostConfig.PidsLimit}}") == f"{64 << 20} 500000000 80"


def test_rm_force(docker):
    name, cid = start(docker, NO_TRAP)
    r = docker("rm", "--force", name)
    assert r.returncode == 0, r
    r = docker("inspect", name)
    assert r.returncode == 1 and "No such object" in r.stderr, r
    assert runtime_state(docker, cid) is None


def test_error_names_missing_command(docker):
    r = docker(*docker.run_args(docker.name(), "--rm", IMAGE, "/nonexistent/cmd"))
    # containerd's shim reports the runtime's last JSON error line; dockerd maps "not found"
    # to 127.
    assert r.returncode == 127, r
    assert f"OCI runtime create failed: {os.path.basename(docker.binary)} create failed: " \
        in r.stderr, r
    assert '"/nonexistent/cmd"' in r.stderr and "no such file or directory" in r.stderr, r


def test_error_rlimit_above_hard_limit(docker):
    r = docker(*docker.run_args(docker.name(), "--rm", "--ulimit", "nofile=30000:30000",
                                IMAGE, "true"))
    # dockerd exits 125 here (127/126 only for "not found"/"permission denied" texts).
    assert r.returncode == 125, r
    assert f"OCI runtime create failed: {os.path.basename(docker.binary)} create failed: " \
        in r.stderr, r
    assert "rlimit" in r.stderr.lower() and "operation not permitted" in r.stderr, r


def test_config_surface_same_as_runc(dockerd, tmp_path):
    """One container with many options under each runtime: the same facts inside."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "hello").write_text("hello from the host\n")
    out = {}
    for rt in ("runc", "pyrunc"):
        d = Docker(dockerd, rt)
        try:
            r = d(*d.run_args(
                d.name(), "--rm", "--hostname", "peng-host", "--user", "1000:1000",
                "--workdir", "/tmp", "--env", "FOO=bar", "--read-only",
                "--tmpfs", "/run:size=1m,mode=1777", "--cap-drop", "NET_RAW",
                "--cap-add", "SYS_TIME", "--security-opt", "no-new-privileges",
                "--memory", "32m", "--pids-limit", "20", "--cpu-shares", "256",
                "--sysctl", "net.ipv4.ip_forward=1", "--ulimit", "nofile=1000:2000",
                "--shm-size", "8m", "-v", f"{data}:/data:ro", IMAGE, "sh", "-c", PROBE))
        finally:
            d("rm", "--force", *d.names)
        out[rt] = r.stdout + r.stderr
    same_probe(out["runc"], out["pyrunc"])


def _host_lacks_sys_resource():
    with open("/proc/self/status") as f:
        bnd = int(next(line.split()[1] for line in f if line.startswith("CapBnd:")), 16)
    return not bnd & (1 << 24)


@pytest.mark.skipif(_host_lacks_sys_resource(), reason="docker --privileged asks for "
                    "CAP_SYS_RESOURCE, which this host's bounding set lacks")
def test_privileged_tty(docker):
    r = docker.pty(*docker.run_args(docker.name(), "--rm", "-t", "--privileged", IMAGE,
                                    "sh", "-c", PRIVILEGED_PROBE))
    assert r.returncode == 0, r
    check_privileged(r.stdout)


@pytest.mark.skipif(not _host_lacks_sys_resource(), reason="needs a host without "
                    "CAP_SYS_RESOURCE")
def test_privileged_error_names_missing_capability(docker):
    # docker --privileged asks for every capability it knows (--cap-drop is ignored with it),
    # CAP_SYS_RESOURCE too, which this machine withholds: neither runtime can start it.
    r = docker(*docker.run_args(docker.name(), "--rm", "--privileged", IMAGE, "true"))
    assert r.returncode == 125, r
    if docker.runtime == "runc":
        assert "unable to apply caps: operation not permitted" in r.stderr, r
    else:
        # pyrunc names the capability and the config field (runc: a bare EPERM).
        assert ("pyrunc create failed: config.json /process/capabilities/permitted: "
                "CAP_SYS_RESOURCE not in the runtime's own bounding set: capset: "
                "Operation not permitted") in r.stderr, r


def test_exec_options_and_errors(docker):
    name, _ = start(docker, NO_TRAP)
    r = docker("exec", "--user", "1000:1000", "--workdir", "/tmp", "--env", "X=1", name,
               "sh", "-c", "id; pwd; echo $X")
    assert r.returncode == 0, r
    assert r.stdout.splitlines() == ["uid=1000(user) gid=1000(user) groups=1000(user)", "/tmp",
                                     "1"], r
    r = docker("exec", "--interactive", name, "sh", "-c", "cat; exit 3", input="piped\n")
    assert (r.returncode, r.stdout) == (3, "piped\n"), r
    r = docker("exec", name, "sh", "-c", "kill -9 $$")
    assert r.returncode == 137, r
    r = docker("exec", "--detach", name, "sh", "-c", "echo detached > /tmp/d")
    assert r.returncode == 0, r
    wait_for(lambda: docker("exec", name, "cat", "/tmp/d").stdout == "detached\n",
             what="detached exec")
    r = docker("exec", name, "/nonexistent")
    assert r.returncode == 126, r
    # (the docker 20.10 client prints this error on stdout)
    assert "OCI runtime exec failed: " in r.stdout, r
    assert 'exec: "/nonexistent": stat /nonexistent: no such file or directory' in r.stdout, r


def test_run_stdin_pipe(docker):
    scenario_stdin_pipe(docker)


def test_join_other_containers_namespaces(docker):
    a, _ = start(docker, NO_TRAP)
    b = docker.name()
    r = docker("run", "--name", b, "--runtime", docker.runtime_name, "--rm",
               "--pid", f"container:{a}", "--network", f"container:{a}", "--uts",
               "host", IMAGE, "sh", "-c", "readlink /proc/self/ns/pid /proc/self/ns/net; "
               "cat /proc/1/comm")
    assert r.returncode == 0, r
    theirs = docker("exec", a, "readlink", "/proc/self/ns/pid", "/proc/self/ns/net")
    assert r.stdout.splitlines() == theirs.stdout.splitlines() + ["sh"], (r, theirs)


def test_restart_and_paused_containers(docker):
    scenario_restart_and_paused(docker)


@pytest.mark.skipif(not shutil.which("docker-init"),
                    reason="needs docker-init (Debian package tini)")
def test_init_and_healthcheck(docker):
    # --init: docker-init (tini) is bind-mounted and becomes PID 1; the health check runs
    # through the runtime's exec every second.
    name = docker.name()
    r = docker(*docker.run_args(name, "-d", "--init", "--health-cmd", "test -e /proc/1",
                                "--health-interval", "1s", IMAGE, "sleep", "60"))
    assert r.returncode == 0, r
    wait_for(lambda: docker.inspect(name, "{{.State.Health.Status}}") == "healthy",
             what="healthy")
    r = docker("exec", name, "cat", "/proc/1/cmdline")
    assert r.stdout.split("\0")[:4] == ["/sbin/docker-init", "--", "sleep", "60"], r


CGROUP_FILES = (
    "memory.limit_in_bytes", "memory.soft_limit_in_bytes", "memory.memsw.limit_in_bytes",
    "memory.swappiness", "cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us", "cpuset.cpus",
    "cpuset.mems", "blkio.throttle.read_bps_device", "pids.max", "devices.list",
)


def _cgroup_facts(docker, name):
    cgroup = docker.cgroup(name)
    out = []
    for f in CGROUP_FILES:
        value = read_cgroup(cgroup, f).splitlines()
        if f == "devices.list":  # a set; the kernel keeps the order rules were written in
            value = sorted(value)
        out.append(f"{f}: {' | '.join(value)}")
    return "\n".join(out) + "\n"


def _root_disk():
    """/dev/NAME of the disk holding / (blkio throttling needs a whole disk)."""
    st = os.stat("/")
    sys_dev = os.path.realpath(f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}")
    if os.path.exists(os.path.join(sys_dev, "partition")):
        sys_dev = os.path.dirname(sys_dev)
    return "/dev/" + os.path.basename(sys_dev)


def test_run_and_update_resources_same_as_runc(dockerd):
    """Resources given to `docker run` and changed by `docker update`: the same cgroup files
    under both runtimes."""
    out = {}
    for rt in ("runc", "pyrunc"):
        d = Docker(dockerd, rt)
        name = d.name()
        try:
            r = d(*d.run_args(name, "-d", "--memory", "100m", "--memory-reservation", "50m",
                              "--memory-swappiness", "10", "--cpu-shares", "300",
                              "--cpuset-cpus", "0", "--cpu-quota", "20000", "--cpu-period",
                              "50000", "--device-read-bps", f"{_root_disk()}:1mb", "--pids-limit",
                              "33", "--device", "/dev/fuse", "--device-cgroup-rule",
                              "c 42:* rmw", IMAGE, "sleep", "100"))
            assert r.returncode == 0, r
            out[rt] = _cgroup_facts(d, name)
            r = d("update", "--memory", "200m", "--memory-swap", "300m",
                  "--memory-reservation", "60m", "--cpu-shares", "400", "--cpuset-cpus",
                  "0-1", "--cpu-quota", "30000", "--pids-limit", "44", name)
            assert r.returncode == 0, r
            out[rt] += _cgroup_facts(d, name)
        finally:
            d("rm", "--force", *d.names)
    assert "memory.soft_limit_in_bytes: 62914560" in out["runc"].splitlines()
    same_output(out["runc"], out["pyrunc"])


def test_interactive_tty(docker):
    # -it: keys typed on the user's terminal reach the shell through the container's pty.
    r = docker.pty(*docker.run_args(docker.name(), "--rm", "-it", IMAGE, "sh"),
                    script=[("# ", "echo $((6*7)) $(tty) $(stty size)\r"),
                            ("42 /dev/pts/0", "exit 3\r")])
    assert r.returncode == 3, r
    assert "42 /dev/pts/0 33 111" in r.stdout, r  # with the size of the user's terminal


def test_own_session_and_process_group(docker):
    scenario_own_session(docker)


def test_oom_kill(docker):
    name = docker.name()
    r = docker(*docker.run_args(name, "--memory", "8m", "--memory-swap", "8m", IMAGE, "sh", "-c",
                                "x=$(head -c 30000000 /dev/zero | tr '\\0' a); echo survived"))
    assert (r.returncode, r.stdout) == (137, ""), r
    assert docker.inspect(name, "{{.State.OOMKilled}} {{.State.ExitCode}}") == "true 137"


def test_restart_policy(docker):
    # --restart always: dockerd creates and starts the task again after each exit.
    name = docker.name()
    r = docker(*docker.run_args(name, "-d", "--restart", "always", IMAGE,
                                "sh", "-c", "sleep 1; exit 3"))
    assert r.returncode == 0, r
    wait_for(lambda: int(docker.inspect(name, "{{.RestartCount}}")) >= 2, what="restarts")


def test_commit_pauses(docker):
    # commit pauses the container through the runtime while it copies the rootfs.
    name, _ = start(docker, NO_TRAP)
    image = f"peng-committed-{docker.runtime}:latest"
    since = docker("system", "info", "--format", "{{.SystemTime}}").stdout.strip()
    r = docker("commit", name, image)
    assert r.returncode == 0, r
    assert docker.inspect(name, "{{.State.Status}} {{.State.Paused}}") == "running false"
    assert docker("rmi", image).returncode == 0
    until = docker("system", "info", "--format", "{{.SystemTime}}").stdout.strip()
    r = docker("events", "--since", since, "--until", until, "--filter", f"container={name}",
               "--format", "{{.Action}}")
    assert sorted(r.stdout.split()) == ["commit", "pause", "unpause"], r
