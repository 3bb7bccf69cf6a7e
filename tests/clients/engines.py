"""A private podman and a private dockerd, each driving pyrunc or runc as a registered runtime.

Everything the engines write lives under one temporary directory (storage, state, sockets,
config files); cgroups go under parents named with PREFIX. The same containers.conf and
daemon.json snippets are the ones the README shows. Teardown removes the containers, stops
dockerd by PID, unmounts what is left under the private directory and removes the cgroups.
"""
import fcntl
import json
import os
import pty
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import termios
import time
from itertools import count

from images import build_docker_archive

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(TESTS)
PYRUNC = os.environ.get("PYRUNC") or os.path.join(REPO, ".venv", "bin", "pyrunc")
RUNC = "/usr/sbin/runc"
ROOTFS = os.path.join(REPO, "_build", "rootfs")
PREFIX = "peng"
IMAGE = "pyrunc.test/busybox:latest"
CGROUP_ROOT = "/sys/fs/cgroup"

# Runtime names as registered in each engine. dockerd reserves the name "runc" for its
# built-in runtime, so the reference runc is registered under another name there.
PODMAN_NAMES = {"pyrunc": "pyrunc", "runc": "runc"}
DOCKER_NAMES = {"pyrunc": "pyrunc", "runc": "host-runc"}
_counter = count(1)
BINARIES = {"pyrunc": PYRUNC, "runc": RUNC}


class Result:
    def __init__(self, args, returncode, stdout, stderr, elapsed):
        self.args, self.returncode = args, returncode
        self.stdout, self.stderr, self.elapsed = stdout, stderr, elapsed

    def __repr__(self):
        return (f"<{' '.join(self.args[-6:])!r} rc={self.returncode} out={self.stdout!r} "
                f"err={self.stderr!r}>")


def run(argv, env=None, timeout=120, input=None):
    # Files, not pipes: conmon and containerd's shim may keep a pipe open past the client.
    start = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.run(argv, stdout=out, stderr=err, env=env, timeout=timeout,
                           stdin=subprocess.DEVNULL if input is None else None,
                           input=None if input is None else input.encode())
        out.seek(0)
        err.seek(0)
        return Result(argv, p.returncode, out.read().decode(errors="replace"),
                      err.read().decode(errors="replace"), time.monotonic() - start)


def run_in_pty(argv, env=None, timeout=120, script=()):
    """Run argv with a pty as its stdin/stdout/stderr (what a user's terminal gives it).
    `script`: (expected, keys) pairs; type `keys` once the output shows `expected`."""
    script = list(script)
    master, slave = pty.openpty()
    # A terminal of 33 rows and 111 columns: clients pass its size on (consoleSize, resize).
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
    start = time.monotonic()
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                         start_new_session=True)
    os.close(slave)
    chunks = []
    try:
        while time.monotonic() - start < timeout:
            r, _, _ = select.select([master], [], [], 1)
            if not r:
                if p.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: every slave fd is closed
                break
            if not data:
                break
            chunks.append(data)
            while script and script[0][0].encode() in b"".join(chunks):
                os.write(master, script.pop(0)[1].encode())
        rc = p.wait(timeout=max(1, timeout - (time.monotonic() - start)))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
    return Result(argv, rc, b"".join(chunks).decode(errors="replace"), "",
                  time.monotonic() - start)


def wait_for(pred, timeout=60, interval=0.2, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def cgroup_files(rel, name):
    """The v1 file `name` of cgroup `rel` in whichever hierarchy has it."""
    for ctrl in os.listdir(CGROUP_ROOT):
        p = os.path.join(CGROUP_ROOT, ctrl, rel.lstrip("/"), name)
        if os.path.exists(p):
            return p
    raise AssertionError(f"no {name} for cgroup {rel}")


def read_cgroup(rel, name):
    with open(cgroup_files(rel, name)) as f:
        return f.read().strip()


def remove_cgroup_tree(rel):
    """rmdir `rel` and everything below it, deepest first, in every hierarchy."""
    for ctrl in os.listdir(CGROUP_ROOT):
        top = os.path.join(CGROUP_ROOT, ctrl, rel.lstrip("/"))
        if not os.path.isdir(top) or os.path.islink(os.path.join(CGROUP_ROOT, ctrl)):
            continue
        for dirpath, _, _ in sorted(os.walk(top), key=lambda t: -t[0].count("/")):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


def unmount_below(path):
    """Lazily unmount every mount below `path` (only ever our private directory)."""
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for mp in sorted((m for m in points if m == path or m.startswith(path + "/")),
                     key=len, reverse=True):
        subprocess.run(["umount", "-l", mp], stderr=subprocess.DEVNULL)


def leftover_mounts(path):
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f
                if line.split()[4].startswith(path + "/")]


def make_image(base):
    tar = os.path.join(base, "busybox.tar")
    if not os.path.exists(tar):
        build_docker_archive(ROOTFS, tar, tags=(IMAGE,))
    return tar


# Container scripts. TRAPS handles TERM and USR1 promptly (`wait` returns as soon as a
# trapped signal arrives); with NO_TRAP, SIGTERM to PID 1 is ignored and only SIGKILL stops it.
TRAPS = ("trap 'echo got TERM; exit 0' TERM; trap 'echo got USR1' USR1; echo ready; "
         "while :; do sleep 1 & wait $!; done")
NO_TRAP = "echo ready; while :; do sleep 1; done"


def start(engine, script, *opts):
    """`run -d` a shell script with the engine's test defaults; wait until it printed ready.
    Returns (name, container ID)."""
    name = engine.name()
    r = engine(*engine.run_args(name, "-d", *opts, IMAGE, "sh", "-c", script))
    assert r.returncode == 0, r
    wait_for(lambda: "ready" in engine("logs", name).stdout, what=f"{name} ready")
    return name, r.stdout.strip()


# --- scenarios both engines run the same way (podman and docker share these CLI verbs) --

def scenario_output_and_exit_code(engine):
    r = engine(*engine.run_args(engine.name(), "--rm", IMAGE,
                                "sh", "-c", "echo hello; echo oops >&2; exit 7"))
    assert (r.returncode, r.stdout) == (7, "hello\n"), r
    assert "oops" in r.stderr


def scenario_stdin_pipe(engine):
    r = engine(*engine.run_args(engine.name(), "--rm", "--interactive", IMAGE,
                                "sh", "-c", "tr a-z A-Z; exit 2"), input="hello\n")
    assert (r.returncode, r.stdout) == (2, "HELLO\n"), r


def scenario_kill(engine):
    name, _ = start(engine, TRAPS)
    r = engine("kill", "--signal", "USR1", name)
    assert r.returncode == 0, r
    wait_for(lambda: "got USR1" in engine("logs", name).stdout, what="USR1 trap")
    assert engine.inspect(name, "{{.State.Status}}") == "running"
    r = engine("kill", name)  # SIGKILL by default
    assert r.returncode == 0, r
    wait_for(lambda: engine.inspect(name, "{{.State.Status}}") == "exited", what="exit")
    assert engine.inspect(name, "{{.State.ExitCode}}") == "137"


def scenario_restart_and_paused(engine):
    name, _ = start(engine, NO_TRAP)
    r = engine("restart", "--time", "1", name)
    assert r.returncode == 0, r
    assert engine.inspect(name, "{{.State.Status}}") == "running"
    assert engine("pause", name).returncode == 0
    r = engine("kill", name)  # SIGKILL to a frozen container: the runtime thaws it
    assert r.returncode == 0, r
    wait_for(lambda: engine.inspect(name, "{{.State.Status}}") == "exited", what="exit")
    assert engine.inspect(name, "{{.State.ExitCode}}") == "137"
    assert engine("start", name).returncode == 0
    assert engine("pause", name).returncode == 0
    r = engine("rm", "--force", name)
    assert r.returncode == 0, r
    assert engine("inspect", name).returncode != 0


def scenario_own_session(engine):
    # The container's init and every exec'd process lead a session and process group of
    # their own, terminal or not (runc's nsexec calls setsid()).
    name, _ = start(engine, NO_TRAP)
    r = engine("exec", name, "cut", "-d", " ", "-f", "1,5,6", "/proc/1/stat")
    assert (r.returncode, r.stdout) == (0, "1 1 1\n"), r
    r = engine("exec", name, "sh", "-c", "echo $$ $(cut -d ' ' -f 5,6 /proc/self/stat)")
    pid, pgid, sid = r.stdout.split()
    assert pid == pgid == sid, r


# --- podman -----------------------------------------------------------------------------

def containers_conf(runtime_name, runtime_path, events_log):
    """The containers.conf the tests use; the README shows the same lines."""
    return f"""\
[containers]
# The hard RLIMIT_NOFILE here is 20000 and the bounding set lacks CAP_SYS_RESOURCE; podman's
# defaults (1048576) would fail in the runtime's setrlimit. nproc likewise (hard 96365).
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
netns = "none"

[engine]
runtime = "{runtime_name}"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{events_log}"
# Only for runtimes listed here podman passes --log-format=json --log FILE and reads the
# runtime's error message from that file.
runtime_supports_json = ["crun", "runc", "kata", "runsc", "youki", "krun", "pyrunc"]

[engine.runtimes]
{runtime_name} = ["{runtime_path}"]
"""


class Podman:
    """`podman` with private storage, tmpdir and containers.conf, driving one runtime."""

    def __init__(self, base, runtime):
        self.base = base
        self.runtime = runtime
        self.binary = BINARIES[runtime]
        self.cgroup_parent = f"/{PREFIX}-podman-{os.getpid()}"
        conf = os.path.join(base, f"containers-{runtime}.conf")
        with open(conf, "w") as f:
            f.write(containers_conf(PODMAN_NAMES[runtime], self.binary,
                                    os.path.join(base, "events.log")))
        self.env = dict(os.environ, CONTAINERS_CONF=conf,
                        CONTAINERS_STORAGE_CONF=os.path.join(base, "storage.conf"),
                        CONTAINERS_REGISTRIES_CONF=os.path.join(base, "registries.conf"),
                        XDG_CONFIG_HOME=os.path.join(base, "xdg"))
        self.names = []

    def cmd(self, *args):
        return ["podman", "--tmpdir", os.path.join(self.base, "tmp"), *map(str, args)]

    def __call__(self, *args, timeout=120, input=None):
        return run(self.cmd(*args), env=self.env, timeout=timeout, input=input)

    def pty(self, *args, timeout=120, script=()):
        return run_in_pty(self.cmd(*args), env=self.env, timeout=timeout, script=script)

    def name(self):
        self.names.append(f"{PREFIX}-{self.runtime}-{os.getpid()}-{next(_counter)}")
        return self.names[-1]

    def run_args(self, name, *args):
        return ("run", "--name", name, "--cgroup-parent", self.cgroup_parent, *args)

    def inspect(self, name, fmt):
        r = self("inspect", "--format", fmt, name)
        assert r.returncode == 0, r
        return r.stdout.strip()

    def runtime_state(self, cid):
        """What the runtime itself reports (podman uses its default --root)."""
        r = run([self.binary, "state", cid])
        return json.loads(r.stdout) if r.returncode == 0 else None


def podman_store(base):
    os.makedirs(os.path.join(base, "tmp"), exist_ok=True)
    with open(os.path.join(base, "storage.conf"), "w") as f:
        f.write(f'[storage]\ndriver = "vfs"\ngraphroot = "{base}/storage"\n'
                f'runroot = "{base}/run"\n')
    with open(os.path.join(base, "registries.conf"), "w") as f:
        f.write("unqualified-search-registries = []\n")
    p = Podman(base, "pyrunc")
    r = p("load", "-i", make_image(base))
    assert r.returncode == 0, r


def podman_teardown(base):
    p = Podman(base, "pyrunc")
    p("pod", "rm", "--all", "--force", timeout=300)
    p("rm", "--all", "--force", "--time", "0", timeout=300)
    p("rmi", "--all", "--force", timeout=300)
    unmount_below(base)
    remove_cgroup_tree(p.cgroup_parent)


# --- docker -----------------------------------------------------------------------------

def daemon_json(cgroup_parent):
    """The daemon.json the tests use; the README shows the same keys."""
    return {
        "runtimes": {DOCKER_NAMES[rt]: {"path": BINARIES[rt]} for rt in BINARIES},
        "cgroup-parent": cgroup_parent,
        # Machine facts: hard nofile 20000, no CAP_SYS_RESOURCE; no registry, no host networking
        # changes from a test daemon.
        "default-ulimits": {"nofile": {"Name": "nofile", "Hard": 20000, "Soft": 20000}},
        "storage-driver": "vfs",
        "bridge": "none",
        "iptables": False,
        "ip6tables": False,
        "ip-forward": False,
        "ip-masq": False,
        "userland-proxy": False,
    }


class Dockerd:
    """A private dockerd (with its own containerd) on a private socket."""

    def __init__(self, base):
        self.base = base
        self.sock = os.path.join(base, "docker.sock")
        self.pidfile = os.path.join(base, "docker.pid")
        self.cgroup_parent = f"/{PREFIX}-docker-{os.getpid()}"
        self.conf = os.path.join(base, "daemon.json")
        conf = daemon_json(self.cgroup_parent)
        # Test-only: the trust key would otherwise go to /etc/docker/key.json.
        conf["deprecated-key-path"] = os.path.join(base, "key.json")
        with open(self.conf, "w") as f:
            json.dump(conf, f, indent=2)
        self.proc = None

    def start(self):
        self.log = open(os.path.join(self.base, "dockerd.log"), "wb")
        self.proc = subprocess.Popen(
            ["dockerd", "--config-file", self.conf, "--data-root", f"{self.base}/data",
             "--exec-root", f"{self.base}/exec", "-H", f"unix://{self.sock}",
             "--pidfile", self.pidfile],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, cwd=self.base)
        wait_for(lambda: self.proc.poll() is not None or
                 run(["/usr/bin/docker", "-H", f"unix://{self.sock}", "info"],
                     timeout=30).returncode == 0,
                 timeout=120, interval=0.5, what="dockerd")
        assert self.proc.poll() is None, open(self.log.name).read()[-2000:]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
        unmount_below(self.base)
        remove_cgroup_tree(self.cgroup_parent)


class Docker:
    """The 20.10 docker client against a private dockerd, using one registered runtime."""

    def __init__(self, daemon, runtime):
        self.daemon = daemon
        self.runtime = runtime
        self.runtime_name = DOCKER_NAMES[runtime]
        self.binary = BINARIES[runtime]
        self.names = []

    def cmd(self, *args):
        return ["/usr/bin/docker", "-H", f"unix://{self.daemon.sock}", *map(str, args)]

    def __call__(self, *args, timeout=120, input=None):
        return run(self.cmd(*args), timeout=timeout, input=input)

    def pty(self, *args, timeout=120, script=()):
        return run_in_pty(self.cmd(*args), timeout=timeout, script=script)

    def name(self):
        self.names.append(f"{PREFIX}-{self.runtime}-{os.getpid()}-{next(_counter)}")
        return self.names[-1]

    def run_args(self, name, *args):
        return ("run", "--name", name, "--runtime", self.runtime_name, "--network", "none",
                *args)

    def inspect(self, name, fmt):
        r = self("inspect", "--format", fmt, name)
        assert r.returncode == 0, r
        return r.stdout.strip()

    def cgroup(self, name):
        return f"{self.daemon.cgroup_parent}/{self.inspect(name, '{{.Id}}')}"


def docker_teardown(daemon):
    d = Docker(daemon, "pyrunc")
    ids = d("ps", "-aq").stdout.split()
    if ids:
        d("rm", "--force", *ids, timeout=300)
    daemon.stop()


def cleanup_dir(base):
    assert not leftover_mounts(base), leftover_mounts(base)
    shutil.rmtree(base, ignore_errors=True)


# --- the same container under both runtimes ---------------------------------------------

def same_output(runc_out, pyrunc_out):
    """Assert equal outputs; the message is a diff (pytest truncates long reprs)."""
    import difflib
    diff = "\n".join(difflib.unified_diff(runc_out.splitlines(), pyrunc_out.splitlines(),
                                          "runc", "pyrunc", lineterm=""))
    assert not diff, "\n" + diff


# runc 1.1 chmods a tmpfs to the mode of the directory it is mounted on (/run is 0755 in the
# image), so user 1000 cannot write to it although the client asked for mode=1777; pyrunc
# keeps mode=1777 (a difference the README lists).
RUNC_TMPFS_DENIED = "sh: can't create /run/probe: Permission denied"
PYRUNC_TMPFS_OK = "tmpfs writable"


def same_probe(runc_out, pyrunc_out):
    """PROBE's output under runc and pyrunc: equal but for the tmpfs mode difference."""
    assert "/probe: Read-only file system" in runc_out, runc_out
    assert RUNC_TMPFS_DENIED in runc_out.splitlines(), runc_out
    assert PYRUNC_TMPFS_OK in pyrunc_out.splitlines(), pyrunc_out
    same_output(runc_out.replace(RUNC_TMPFS_DENIED + "\n", ""),
                pyrunc_out.replace(PYRUNC_TMPFS_OK + "\n", ""))

# Facts a user could check from inside a container; the output must not depend on the runtime.
PROBE = r"""
echo "host=$(hostname) user=$(id) cwd=$(pwd) foo=$FOO umask=$(umask)"
grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status
echo "nofile=$(ulimit -n)/$(ulimit -Hn) nproc=$(ulimit -u)"
touch /probe 2>&1
echo data > /run/probe && echo "tmpfs writable"
mount | grep -E ' on (/|/run|/data|/dev|/dev/shm|/dev/pts|/dev/mqueue|/proc|/sys) ' \
  | sed -E 's/^[^ ]+ on //' | sort
mount | grep -E ' on /sys/fs/cgroup/(memory|pids|cpu,cpuacct) ' | sed -E 's/^[^ ]+ on //' | sort
for f in memory/memory.limit_in_bytes pids/pids.max cpu/cpu.shares; do
  echo "$f=$(cat /sys/fs/cgroup/$f 2>&1)"; done
echo "dev: $(ls /dev | tr '\n' ' ')"
ls -l /proc/kcore /proc/timer_list /proc/sched_debug | sed -E "s/ +/ /g" | cut -d" " -f1,5-6,10
echo "acpi: $(ls /proc/acpi 2>&1 | tr '\n' ' ')"
cat /data/hello 2>&1; touch /data/x 2>&1
echo "ip_forward=$(cat /proc/sys/net/ipv4/ip_forward) lo=$(cat /sys/class/net/lo/operstate)"
"""


# Run with -t --privileged: every capability of the bounding set, the devpts link for /dev/ptmx
# (podman passes the host's ptmx node in linux.devices) and only the v1 hierarchies under
# /sys/fs/cgroup, as runc 1.1 shows them.
PRIVILEGED_PROBE = ("ls -l /dev/ptmx | sed 's/.* -> /ptmx -> /'; tty; "
                    "grep CapEff /proc/self/status; echo cgroups: $(ls /sys/fs/cgroup)")


def check_privileged(out):
    with open("/proc/self/status") as f:
        bnd = next(line.split()[1] for line in f if line.startswith("CapBnd:"))
    lines = [line.strip() for line in out.splitlines()]
    assert "ptmx -> pts/ptmx" in lines, out
    assert "/dev/pts/0" in lines, out
    assert f"CapEff:\t{bnd}".replace("\t", " ") in [x.replace("\t", " ") for x in lines], out
    assert ("cgroups: blkio cpu cpuacct cpuset devices freezer memory pids systemd"
            in lines), out
