"""Support of the robustness tests (fixtures re-exported by conftest.py). Everything they
make carries the `prob` prefix (ids, cgroup parent, a marker in the environment of pyrunc
and of the container's process), so that the leak checks look only at what these tests
made, on a machine where others run containers at the same time."""
import os
import uuid

import pytest

from rtsupport import PYRUNC, Bundle, Runtime, remove_empty_cgroups

CG_PARENT = "prob-test"
# One marker per pytest run: a process whose environment carries it is ours.
MARKER = f"PROB_TEST_MARK={uuid.uuid4().hex}"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def env(**extra):
    e = dict(os.environ)
    e.pop("PYRUNC_FAULT", None)
    e.pop("PYRUNC_TEST_FAULTS", None)
    name, _, value = MARKER.partition("=")
    e[name] = value
    e.update(extra)
    return e


_n = [0]


def new_id(tag=""):
    _n[0] += 1
    return f"prob-{os.getpid()}-{tag}{_n[0]}"


# Cgroups (in every hierarchy) of the containers of this pytest run.
CG_MINE = f"/{CG_PARENT}/prob-{os.getpid()}-"


def nothing_left(rt, bundle, **kw):
    """rtsupport.assert_nothing_left with what this run owns: its marker and cgroups."""
    from rtsupport import assert_nothing_left
    assert_nothing_left(rt, bundle, paths=[bundle.config["root"]["path"]], marker=MARKER,
                        cg_prefix=CG_MINE, **kw)


def make_bundle(path, cid):
    b = Bundle(str(path), cid, CG_PARENT)
    b.config["process"]["env"].append(MARKER)
    return b


@pytest.fixture
def prt(tmp_path):
    """pyrunc with a private --root; whatever a test leaves is force-deleted afterwards."""
    rt = Runtime(PYRUNC, str(tmp_path / "prob-root"), env=env())
    yield rt
    for cid in rt.ids():
        rt("delete", "--force", cid)


@pytest.fixture
def pbundle(tmp_path):
    cid = new_id()
    b = make_bundle(tmp_path / "bundle", cid)
    yield b
    remove_empty_cgroups(f"/{CG_PARENT}/{cid}")


@pytest.fixture(scope="session", autouse=True)
def _prob_cgroup_parent():
    yield
    remove_empty_cgroups(f"/{CG_PARENT}")
