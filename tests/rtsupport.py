"""Shared test support: runtimes under test, busybox rootfs, bundles, cleanup (fixtures
are re-exported by conftest.py; tests import helpers from here, a name unique in tests/)."""
import copy
import json
import os
import shutil
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYRUNC = os.environ.get("PYRUNC") or os.path.join(REPO, ".venv", "bin", "pyrunc")
RUNC = shutil.which("runc") or "/usr/sbin/runc"
ROOTFS = os.path.join(REPO, "_build", "rootfs")
CG_PARENT = "pyrunc-test"


def ensure_rootfs():
    if os.geteuid() == 0 and not os.path.exists(os.path.join(ROOTFS, "bin", "busybox")):
        subprocess.run([os.path.join(REPO, "tests", "mkrootfs.sh"), ROOTFS], check=True)


def pytest_configure(config):
    ensure_rootfs()


def base_config(args=("true",)):
    from pyrunc.cli.spec import default_spec
    c = default_spec()
    c["process"]["terminal"] = False
    c["process"]["args"] = list(args)
    return c


class Runtime:
    """One runtime binary with a private --root and --log."""

    def __init__(self, binary, root, env=None):
        self.binary = binary
        self.root = root
        self.name = os.path.basename(binary)
        self.env = env  # None: the caller's environment

    def cmd(self, *args, log=None, log_format=None):
        out = [self.binary, "--root", self.root]
        if log:
            out += ["--log", log, "--log-format", log_format or "json"]
        return out + [str(a) for a in args]

    def __call__(self, *args, check=False, timeout=30, log=None, input=None, cwd=None,
                 env=None):
        # Files, not pipes: a detached container keeps its stdio open, and a pipe would
        # make the caller wait for the container to exit.
        import tempfile
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            p = subprocess.run(self.cmd(*args, log=log), stdout=out, stderr=err,
                               timeout=timeout, input=input and input.encode(), cwd=cwd,
                               env=env or self.env)
            out.seek(0)
            err.seek(0)
            r = subprocess.CompletedProcess(p.args, p.returncode, out.read().decode(),
                                            err.read().decode())
        if check and r.returncode:
            raise AssertionError(f"{r.args} failed ({r.returncode}): {r.stderr}")
        return r

    def ids(self):
        try:
            return [n for n in os.listdir(self.root) if not n.startswith(".")]
        except FileNotFoundError:
            return []


class Bundle:
    def __init__(self, path, cid, cg_parent=CG_PARENT):
        self.path = path
        self.id = cid
        self.cg_parent = cg_parent
        self.config = base_config()
        self.config["linux"]["cgroupsPath"] = f"/{cg_parent}/{cid}"
        self.config["root"]["path"] = ROOTFS
        os.makedirs(path, exist_ok=True)

    def write(self, config=None):
        with open(os.path.join(self.path, "config.json"), "w") as f:
            json.dump(self.config if config is None else config, f, indent=1)
        return self

    def args(self, *argv):
        self.config["process"]["args"] = list(argv)
        return self

    def sh(self, script):
        return self.args("sh", "-c", script)

    def copy(self, path, cid):
        b = Bundle(path, cid, self.cg_parent)
        b.config = copy.deepcopy(self.config)
        b.config["linux"]["cgroupsPath"] = f"/{self.cg_parent}/{cid}"
        return b


def cgroup_dirs(rel):
    """Existing directories for the cgroup `rel` in every hierarchy (one on a pure v2 host;
    symlinked co-mounts such as cpu -> cpu,cpuacct counted once)."""
    base = "/sys/fs/cgroup"
    if os.path.exists(os.path.join(base, "cgroup.controllers")):
        tops = [base]
    else:
        tops = [os.path.join(base, n) for n in os.listdir(base)
                if not os.path.islink(os.path.join(base, n))]
    return [p for p in (os.path.join(t, rel.lstrip("/")) for t in tops) if os.path.isdir(p)]


@pytest.fixture
def pyrunc(tmp_path):
    rt = Runtime(PYRUNC, str(tmp_path / "pyrunc-root"))
    yield rt
    _cleanup(rt)


@pytest.fixture
def runc(tmp_path):
    rt = Runtime(RUNC, str(tmp_path / "runc-root"))
    yield rt
    _cleanup(rt)


@pytest.fixture(params=["pyrunc", "runc"])
def runtime(request, tmp_path):
    binary = PYRUNC if request.param == "pyrunc" else RUNC
    rt = Runtime(binary, str(tmp_path / f"{request.param}-root"))
    yield rt
    _cleanup(rt)


def _cleanup(rt):
    for cid in rt.ids():
        rt("delete", "--force", cid)


_counter = [0]


@pytest.fixture
def bundle(tmp_path, request):
    _counter[0] += 1
    cid = f"t{os.getpid()}-{_counter[0]}"
    b = Bundle(str(tmp_path / "bundle"), cid)
    yield b
    remove_empty_cgroups(f"/{CG_PARENT}/{cid}")


def remove_empty_cgroups(rel):
    """rmdir the cgroup `rel` and its sub-cgroups, deepest first, in every hierarchy; a busy
    or missing one is left."""
    for top in cgroup_dirs(rel):
        if not os.path.isdir(top):
            continue
        for d, _, _ in sorted(os.walk(top), key=lambda x: len(x[0]), reverse=True):
            try:
                os.rmdir(d)
            except OSError:
                pass


@pytest.fixture(scope="session", autouse=True)
def _cgroup_parent():
    yield
    remove_empty_cgroups(f"/{CG_PARENT}")


def needs_root():
    return pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


# ---- "nothing left behind" -------------------------------------------------------------
# Each check looks only at what the caller owns (its --root, its cgroup parent, its paths,
# processes carrying its marker): other tests and other users run containers meanwhile.

def mounts_under(paths):
    """Host mount points at or below any of `paths`."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mnt = line.split()[4].replace("\\040", " ")
            if any(mnt == p or mnt.startswith(p.rstrip("/") + "/") for p in paths):
                out.append(mnt)
    return out


def marked_processes(marker=None, cg_prefix=None):
    """(pid, comm) of live processes whose environment holds `marker` (a NAME=value string
    given to the runtime and to the container's process) or whose cgroup path, in any
    hierarchy, starts with `cg_prefix`."""
    found = []
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        hit = False
        try:
            if marker:
                with open(f"/proc/{name}/environ", "rb") as f:
                    hit = marker.encode() in f.read().split(b"\0")
            if not hit and cg_prefix:
                with open(f"/proc/{name}/cgroup") as f:
                    hit = any(line.partition(":")[2].partition(":")[2].startswith(cg_prefix)
                              for line in f)
            if hit:
                with open(f"/proc/{name}/comm") as f:
                    found.append((int(name), f.read().strip()))
        except OSError:
            continue
    return found


def zombie_children():
    """Children of this process that exited and were never reaped."""
    out = []
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rfind(b")") + 2:].split()
        if fields[0] == b"Z" and int(fields[1]) == me:
            out.append(int(name))
    return out


def open_fds():
    return sorted(int(n) for n in os.listdir("/proc/self/fd"))


def assert_nothing_left(rt, bundle, paths=(), marker=None, fds=None, cg_prefix=None):
    """No state dir under rt.root, no cgroup of the bundle (nor any cgroup whose path starts
    with `cg_prefix`, e.g. "/parent/ids-of-this-run-"), no host mount under the bundle,
    rt.root or `paths`, no process carrying `marker` or in such a cgroup, no zombie child,
    and the same fds as `fds` (if given)."""
    assert rt.ids() == [], f"state left in {rt.root}: {rt.ids()}"
    assert cgroup_dirs(bundle.config["linux"]["cgroupsPath"]) == []
    if cg_prefix:
        parent, _, start = cg_prefix.rpartition("/")
        left = [os.path.join(d, s) for d in cgroup_dirs(parent)
                for s in os.listdir(d) if s.startswith(start) and os.path.isdir(os.path.join(d, s))]
        assert left == [], f"cgroups left: {left}"
    with open("/proc/self/mountinfo") as f:
        assert bundle.path not in f.read()
    left = mounts_under([bundle.path, rt.root] + list(paths))
    assert left == [], f"mounts left: {left}"
    procs = marked_processes(marker, cg_prefix) if marker or cg_prefix else []
    assert procs == [], f"processes left: {procs}"
    assert zombie_children() == []
    if fds is not None:
        assert open_fds() == fds, "fds leaked in the test process"
