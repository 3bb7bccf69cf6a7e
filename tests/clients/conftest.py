"""containerd fixtures for the client tests (names start with ctr_/containerd_ only: the podman
and docker tests keep their fixtures in their own files).

A private containerd 1.6 (CRI disabled, root/state/sockets in a temporary directory) runs for
the session and is stopped by PID. Containers use the stock runc shim (io.containerd.runc.v2)
with `--runc-binary` set to the runtime under test and a private `--runc-root`; `ctr_runtime`
is parametrized over pyrunc and /usr/sbin/runc so every test is differential.
"""
import importlib.util
import os
import shutil
import subprocess
import tempfile

import pytest

from rtsupport import PYRUNC, ROOTFS, RUNC, remove_empty_cgroups

HERE = os.path.dirname(os.path.abspath(__file__))
# Generic helpers of the shim tests (mount/socket cleanup, polling), loaded by path under a
# private name: tests/shim is not a package and "helpers" is too common a module name.
_spec = importlib.util.spec_from_file_location(
    "pctr_shim_helpers", os.path.join(os.path.dirname(HERE), "shim", "helpers.py"))
shim_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shim_helpers)
wait_for = shim_helpers.wait_for

PREFIX = "pctr"
CGROUP_ROOT = "/sys/fs/cgroup"
IMAGE_REF = "pyrunc.test/pctr-busybox:latest"


def cgroup_dirs(relpath):
    """`relpath` in every mounted hierarchy (v1 controllers, or the single v2 tree)."""
    if os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers")):
        return [CGROUP_ROOT + relpath]
    out = []
    for name in sorted(os.listdir(CGROUP_ROOT)):
        h = os.path.join(CGROUP_ROOT, name)
        if os.path.isdir(h) and not os.path.islink(h) and os.path.ismount(h):
            out.append(h + relpath)
    return out


def mount_points():
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f]


class Containerd:
    """A private containerd; `ctr()` runs the client against it in our namespace."""

    def __init__(self, base):
        self.base = base
        self.address = os.path.join(base, "c.sock")
        self.namespace = f"{PREFIX}{os.getpid()}"
        self.fifo_dir = os.path.join(base, "fifo")
        self.state = os.path.join(base, "state")
        self.proc = None
        self.log = None

    def start(self):
        config = os.path.join(self.base, "config.toml")
        with open(config, "w") as f:
            f.write(f'version = 2\nroot = "{self.base}/root"\nstate = "{self.state}"\n'
                    'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                    f'[grpc]\n  address = "{self.address}"\n'
                    f'[ttrpc]\n  address = "{self.address}.ttrpc"\n')
        os.makedirs(self.fifo_dir, exist_ok=True)
        self.log = open(os.path.join(self.base, "containerd.log"), "wb")
        self.proc = subprocess.Popen(["containerd", "--config", config], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        if not wait_for(lambda: self.proc.poll() is None
                        and self.ctr("version", check=False).returncode == 0, timeout=60,
                        interval=0.1):
            self.stop()
            raise RuntimeError("private containerd did not come up; see "
                               + os.path.join(self.base, "containerd.log"))
        return self

    def argv(self, *args):
        return ["ctr", "--address", self.address, "-n", self.namespace] + [str(a) for a in args]

    def ctr(self, *args, check=True, timeout=90, input=None):
        res = subprocess.run(self.argv(*args), capture_output=True, timeout=timeout,
                             input=input, stdin=None if input is not None else subprocess.DEVNULL)
        res.out = res.stdout.decode(errors="replace")
        res.err = res.stderr.decode(errors="replace")
        if check and res.returncode != 0:
            raise AssertionError(f"ctr {' '.join(map(str, args))} failed ({res.returncode}): "
                                 f"{res.out}{res.err}")
        return res

    def tasks(self):
        """{id: (pid, STATUS)} from `ctr task ls`."""
        lines = self.ctr("task", "ls", check=False).out.splitlines()[1:]
        return {f[0]: (int(f[1]), f[2]) for f in (line.split() for line in lines) if len(f) >= 3}

    def containers(self):
        return self.ctr("containers", "ls", "-q", check=False).out.split()

    def bundle(self, cid):
        return os.path.join(self.state, "io.containerd.runtime.v2.task", self.namespace, cid)

    def shim_pids(self):
        """Shims started by this containerd (their command line names our socket)."""
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if argv and b"containerd-shim" in argv[0] and self.address.encode() in argv:
                pids.append(int(entry))
        return pids

    def shim_sockets(self):
        return shim_helpers.shim_sockets(self.state, self.namespace)

    def remove_everything(self):
        for cid in self.tasks():
            self.ctr("task", "kill", "-a", "-s", "KILL", cid, check=False)
        for cid in self.tasks():
            wait_for(lambda: self.ctr("task", "rm", "-f", cid, check=False).returncode == 0,
                     timeout=20, interval=0.2)
        for cid in self.containers():
            self.ctr("containers", "rm", cid, check=False)
        for ref in self.ctr("images", "ls", "-q", check=False).out.split():
            self.ctr("images", "rm", ref, check=False)

    def stop(self):
        sockets = self.shim_sockets()
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.remove_everything()
        finally:
            shim_helpers.stop_containerd(self.proc, self.shim_pids, sockets, timeout=20)
            if self.log:
                self.log.close()
            shim_helpers.unmount_under(self.base)
            remove_empty_cgroups("/" + self.namespace)
            # The default --runc-root (/run/containerd/runc/<namespace>) of runs without
            # --runc-root; the shim's final `delete --force` may recreate it after the test.
            try:
                os.rmdir(os.path.join("/run/containerd/runc", self.namespace))
            except OSError:
                pass


class CtrRuntime:
    """One runtime binary driven by containerd's stock runc shim through `ctr`."""

    def __init__(self, name, binary, ctd, root):
        self.name = name
        self.binary = binary
        self.ctd = ctd
        self.root = root  # --runc-root; the shim appends /<namespace>
        self.rootfs = ROOTFS
        self._n = 0

    def __repr__(self):
        return f"CtrRuntime({self.name})"

    @property
    def state_root(self):
        return os.path.join(self.root, self.ctd.namespace)

    def new_id(self, what):
        self._n += 1
        return f"{PREFIX}-{self.name}-{what}-{os.getpid()}-{self._n}"

    def run_argv(self, cid, *cmd, flags=(), image=None, fifo=True):
        """`ctr run` with the runtime selected; --rootfs of the busybox tree unless `image`."""
        argv = ["run", "--runc-binary", self.binary, "--runc-root", self.root]
        if fifo:  # IO FIFOs in our directory (ctr leaves them when it is killed)
            argv += ["--fifo-dir", self.ctd.fifo_dir]
        argv += list(flags)
        argv += [image] if image else ["--rootfs", ROOTFS]
        return argv + [cid] + [str(c) for c in cmd]

    def run(self, cid, *cmd, flags=(), image=None, check=True, timeout=90, input=None):
        return self.ctr(*self.run_argv(cid, *cmd, flags=flags, image=image), check=check,
                        timeout=timeout, input=input)

    def ctr(self, *args, **kw):
        return self.ctd.ctr(*args, **kw)

    def runtime(self, *args):
        """The runtime's own view (`state`, `list`) of the shim's root."""
        return subprocess.run([self.binary, "--root", self.state_root] + list(args),
                              capture_output=True, text=True, timeout=60)

    def status(self, cid):
        return self.ctd.tasks().get(cid, (0, None))[1]

    def wait_status(self, cid, status, timeout=30):
        return wait_for(lambda: self.status(cid) == status, timeout=timeout, interval=0.1)

    def remove(self, cid):
        """Best-effort removal for finalizers."""
        if self.status(cid):
            self.ctr("task", "kill", "-a", "-s", "KILL", cid, check=False)
            self.wait_status(cid, "STOPPED", timeout=20)
            self.ctr("task", "rm", "-f", cid, check=False)
        self.ctr("containers", "rm", cid, check=False)

    def cgroup_paths(self, cid):
        """The container's cgroup (ctr's default cgroupsPath is /<namespace>/<id>)."""
        return cgroup_dirs(f"/{self.ctd.namespace}/{cid}")

    def leftovers(self, cid):
        """What a user would find after `task rm` + `container rm`; empty when clean."""
        left = []
        if os.path.exists(os.path.join(self.state_root, cid)):
            left.append(f"runtime state dir {self.state_root}/{cid}")
        for d in self.cgroup_paths(cid):
            if os.path.exists(d):
                left.append(f"cgroup {d}")
        bundle = self.ctd.bundle(cid)
        left += [f"mount {p}" for p in mount_points() if p == bundle or p.startswith(bundle + "/")]
        if os.path.exists(bundle):
            left.append(f"bundle {bundle}")
        if cid in self.ctd.tasks():
            left.append("task in `ctr task ls`")
        if cid in self.ctd.containers():
            left.append("container in `ctr containers ls`")
        listed = self.runtime("list", "-q").stdout.split()
        if cid in listed:
            left.append(f"`{self.name} list` shows it")
        return left


@pytest.fixture(scope="session")
def containerd_daemon():
    if os.geteuid() != 0 or not all(shutil.which(b) for b in ("containerd", "ctr",
                                                              "containerd-shim-runc-v2")):
        pytest.skip("needs root, containerd, ctr and containerd-shim-runc-v2")
    base = tempfile.mkdtemp(prefix=f"{PREFIX}-ctd-")
    ctd = Containerd(base)
    ctd.start()
    yield ctd
    ctd.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session", params=["pyrunc", "runc"])
def ctr_runtime(request, containerd_daemon):
    binary = {"pyrunc": os.path.abspath(PYRUNC), "runc": RUNC}[request.param]
    if not os.access(binary, os.X_OK):
        pytest.skip(f"{binary} not installed")
    if not os.path.exists(os.path.join(ROOTFS, "bin", "busybox")):
        pytest.skip(f"no busybox rootfs at {ROOTFS} (tests/mkrootfs.sh)")
    root = os.path.join(containerd_daemon.base, f"runc-root-{request.param}")
    os.makedirs(root, exist_ok=True)
    rt = CtrRuntime(request.param, binary, containerd_daemon, root)
    yield rt
    for cid in containerd_daemon.containers():
        if cid.startswith(f"{PREFIX}-{request.param}-"):
            rt.remove(cid)


@pytest.fixture(scope="session")
def ctr_image(containerd_daemon):
    """The busybox rootfs as a docker-archive, imported with `ctr images import`."""
    from images import build_docker_archive
    tar = os.path.join(containerd_daemon.base, "busybox.tar")
    build_docker_archive(ROOTFS, tar, tags=(IMAGE_REF,))
    containerd_daemon.ctr("images", "import", tar, timeout=180)
    os.unlink(tar)
    return IMAGE_REF


@pytest.fixture
def ctr_cleanup(ctr_runtime):
    """Register container IDs to remove after the test, whatever happened."""
    ids = []
    yield ids
    for cid in ids:
        ctr_runtime.remove(cid)



@pytest.fixture(scope="session")
def ctr_runtime_pair(containerd_daemon):
    """Both runtimes at once, for tests that compare their outputs directly."""
    if not os.path.exists(os.path.join(ROOTFS, "bin", "busybox")):
        pytest.skip(f"no busybox rootfs at {ROOTFS} (tests/mkrootfs.sh)")
    pair = {}
    for name, binary in (("pyrunc", os.path.abspath(PYRUNC)), ("runc", RUNC)):
        if not os.access(binary, os.X_OK):
            pytest.skip(f"{binary} not installed")
        root = os.path.join(containerd_daemon.base, f"runc-root-{name}")
        os.makedirs(root, exist_ok=True)
        pair[name] = CtrRuntime(name, binary, containerd_daemon, root)
    return pair


@pytest.fixture
def ctr_cleanup_pair():
    """(runtime, container ID) pairs to remove after a test that uses ctr_runtime_pair."""
    items = []
    yield items
    for rt, cid in items:
        rt.remove(cid)
