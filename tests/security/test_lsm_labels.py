"""LSM labels on a host without AppArmor or SELinux: pyrunc does what runc 1.1.5 does
(pyrunc/lsm.py). The attribute writes themselves are unit-tested in tests/unit/test_lsm.py."""
import os

import pytest

from rtsupport import CG_PARENT, remove_empty_cgroups

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
              pytest.mark.skipif(os.path.exists("/sys/fs/selinux/enforce") or
                                 os.path.exists("/sys/module/apparmor/parameters/enabled"),
                                 reason="this host has an LSM")]


@pytest.fixture
def lsm_bundle(bundle):
    bundle.id = f"pcve-lsm-{os.getpid()}"
    bundle.config["linux"]["cgroupsPath"] = f"/{CG_PARENT}/{bundle.id}"
    yield bundle
    remove_empty_cgroups(f"/{CG_PARENT}/{bundle.id}")


@pytest.mark.parametrize("where,value,why", [
    (("process", "apparmorProfile"), "pcve-profile", "invalid argument"),
    (("process", "selinuxLabel"), "system_u:system_r:container_t:s0",
     "selinux label is specified in config, but selinux is disabled or not supported"),
    (("linux", "mountLabel"), "system_u:object_r:container_file_t:s0", "invalid argument"),
])
def test_labels_without_the_lsm_fail_cleanly(runtime, lsm_bundle, where, value, why):
    lsm_bundle.config[where[0]][where[1]] = value
    lsm_bundle.write()
    r = runtime("run", "--bundle", lsm_bundle.path, lsm_bundle.id)
    assert r.returncode == 1
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert why in r.stderr.lower()
    assert lsm_bundle.id not in runtime.ids()
    if runtime.name == "pyrunc":
        assert "/" + "/".join(where) in r.stderr
