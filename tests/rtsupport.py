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


def pytest_configure(config):
    if os.geteuid() == 0 and not os.path.exists(os.path.join(ROOTFS, "bin", "busybox")):
        subprocess.run([os.path.join(REPO, "tests", "mkrootfs.sh"), ROOTFS], check=True)


def base_config(args=("true",)):
    from pyrunc.cli.spec import default_spec
    c = default_spec()
    c["process"]["terminal"] = False
    c["process"]["args"] = list(args)
    return c


class Runtime:
    """One runtime binary with a private --root and --log."""

    def __init__(self, binary, root):
        self.binary = binary
        self.root = root
        self.name = os.path.basename(binary)

    def cmd(self, *args, log=None, log_format=None):
        out = [self.binary, "--root", self.root]
        if log:
            out += ["--log", log, "--log-format", log_format or "json"]
        return out + [str(a) for a in args]

    def __call__(self, *args, check=False, timeout=30, log=None, input=None, cwd=None):
        # Files, not pipes: a detached container keeps its stdio open, and a pipe would
        # make the caller wait for the container to exit.
        import tempfile
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            p = subprocess.run(self.cmd(*args, log=log), stdout=out, stderr=err,
                               timeout=timeout, input=input and input.encode(), cwd=cwd)
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
    def __init__(self, path, cid):
        self.path = path
        self.id = cid
        self.config = base_config()
        self.config["linux"]["cgroupsPath"] = f"/{CG_PARENT}/{cid}"
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
        b = Bundle(path, cid)
        b.config = copy.deepcopy(self.config)
        b.config["linux"]["cgroupsPath"] = f"/{CG_PARENT}/{cid}"
        return b


def cgroup_dirs(rel):
    out = []
    base = "/sys/fs/cgroup"
    for name in os.listdir(base):
        p = os.path.join(base, name, rel.lstrip("/"))
        if os.path.isdir(p):
            out.append(p)
    return out


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
    for d in cgroup_dirs(f"/{CG_PARENT}/{cid}"):
        try:
            os.rmdir(d)
        except OSError:
            pass


@pytest.fixture(scope="session", autouse=True)
def _cgroup_parent():
    yield
    for d in cgroup_dirs(f"/{CG_PARENT}"):
        try:
            os.rmdir(d)
        except OSError:
            pass


def needs_root():
    return pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
