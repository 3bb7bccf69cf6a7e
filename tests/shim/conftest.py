"""Fixtures for the shim tests: importable package, a shim executable, a private containerd.

The shim package lives in shim/ but imports as pyrunc_shim; until the project is installed,
a symlink in a temporary directory provides that name.
"""
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SHIM_SRC = os.path.join(REPO, "shim")


def _package_root():
    try:
        import pyrunc_shim  # noqa: F401  (installed build)
        return None
    except ImportError:
        pass
    import atexit
    import shutil
    root = tempfile.mkdtemp(prefix="pyrunc-shim-pkg-")
    os.symlink(SHIM_SRC, os.path.join(root, "pyrunc_shim"))
    sys.path.insert(0, root)
    atexit.register(shutil.rmtree, root, True)
    return root


PKG_ROOT = _package_root()

import shutil  # noqa: E402

import pytest  # noqa: E402

import helpers  # noqa: E402

needs_root = helpers.needs_root


@pytest.fixture(scope="session")
def workdir():
    path = tempfile.mkdtemp(prefix="pyrunc-shim-test-")
    yield path
    helpers.unmount_under(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def shim_bin(workdir):
    bindir = os.path.join(workdir, "bin")
    os.makedirs(bindir, exist_ok=True)
    return helpers.make_shim_bin(bindir, PKG_ROOT)


@pytest.fixture(scope="session")
def rootfs(workdir):
    return helpers.make_rootfs(os.path.join(workdir, "rootfs"))


@pytest.fixture(scope="session", params=helpers.backends())
def ctd(request, workdir, shim_bin):
    backend = request.param
    if not os.access(backend, os.X_OK):
        pytest.skip("backend runtime %s not installed" % backend)
    base = os.path.join(workdir, "ctd-%s" % os.path.basename(backend))
    c = helpers.Containerd(base, backend, shim_bin)
    c.start()
    yield c
    c.stop()
    runtime_root = "/run/containerd/pyrunc/" + c.namespace
    if os.path.isdir(runtime_root):
        try:
            os.rmdir(runtime_root)
        except OSError:
            pass


@pytest.fixture(scope="session")
def image(ctd, workdir, rootfs):
    ref = "docker.io/pyrunc-test/busybox:latest"
    tar = helpers.make_image_tar(rootfs, os.path.join(workdir, "busybox.tar"), ref)
    ctd.ctr("images", "import", tar)
    return ref
