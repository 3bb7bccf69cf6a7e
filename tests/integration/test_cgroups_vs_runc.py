"""Differential check without the integrated runtime: runc runs a container with a config,
pyrunc's cgroup manager applies the same linux.resources to a cgroup of its own, and the
cgroup files must agree. (test_cgroups_cli.py::test_same_files_as_runc does the same
through `pyrunc run` once the runtime is integrated.)"""
import os
import shutil
import subprocess
import uuid

import pytest

from pyrunc import cgroups

RUNC = shutil.which("runc")
pytestmark = [pytest.mark.root]
if not RUNC or os.geteuid() != 0 or not shutil.which("busybox"):
    pytest.skip("needs root, runc and busybox", allow_module_level=True)



def _load_cli_helpers():
    """test_cgroups_cli.py's bundle/container helpers, loaded by path (not by module name,
    which another test directory could shadow)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("_cgroups_cli_helpers",
                                                  os.path.join(os.path.dirname(__file__), "test_cgroups_cli.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


cli = _load_cli_helpers()

RES = {"memory": {"limit": 96 << 20, "swap": 128 << 20, "reservation": 32 << 20, "swappiness": 20},
       "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
       "pids": {"limit": 77},
       "devices": [{"allow": False, "access": "rwm"},
                   {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwm"}]}


def test_manager_writes_what_runc_writes(tmp_path):
    v2 = cgroups.is_unified(cgroups.mounts())
    made = []
    theirs = cli.Ctr(made, tmp_path, resources=RES, binary=RUNC)
    m = cgroups.new_manager("x", f"/pyrunc-cli-test/{uuid.uuid4().hex[:8]}")
    try:
        m.create()
        p = subprocess.Popen(["sleep", "60"])
        try:
            m.add_pid(p.pid)
            m.apply(RES)
            pairs = [("", f) for f in cli.FILES_V2] if v2 else [(c, f) for c, fs in cli.FILES.items() for f in fs]
            ours = lambda c, f: open(os.path.join(m.path if v2 else m.paths[c], f)).read().strip()
            diff = {f: (ours(c, f), theirs.file(c, f)) for c, f in pairs if ours(c, f) != theirs.file(c, f)}
        finally:
            p.kill()
            p.wait()
    finally:
        m.destroy()
        for c in made:
            c.remove()
    if "devices.list" in diff:
        # runc 1.1 also allows 10:200 (tun) and 5:1 (console) in a different order; compare as sets
        a, b = (set(x.splitlines()) for x in diff.pop("devices.list"))
        assert a - b <= {"c 10:200 rwm"} and b - a <= {"c 10:200 rwm", "c 5:1 rwm"}, (a, b)
    assert diff == {}
