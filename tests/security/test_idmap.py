"""Idmapped bind mounts (options idmap/ridmap, mount uidMappings/gidMappings): files owned
by one id on the host are seen as another in the container, and files made in the
container are stored with the host id. pyrunc only: runc 1.1.5 has no idmapped mounts."""
import os
import subprocess

import pytest

from rtsupport import CG_PARENT, remove_empty_cgroups

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@pytest.fixture
def idb(bundle):
    bundle.id = f"pcve-idmap-{os.getpid()}"
    bundle.config["linux"]["cgroupsPath"] = f"/{CG_PARENT}/{bundle.id}"
    yield bundle
    remove_empty_cgroups(f"/{CG_PARENT}/{bundle.id}")


def _shared(tmp_path):
    d = tmp_path / "shared"
    (d / "sub").mkdir(parents=True)
    (d / "owned1000").write_text("x\n")
    os.chown(d / "owned1000", 1000, 1000)
    os.chown(d, 1000, 1000)
    os.chmod(d, 0o755)
    (d / "owned0").write_text("y\n")
    return d


def _mount(src, opts, uid_from=1000, uid_to=0):
    maps = [{"containerID": uid_from, "hostID": uid_to, "size": 1},
            {"containerID": uid_to, "hostID": uid_from, "size": 1}]
    return {"destination": "/data", "type": "bind", "source": str(src), "options": opts,
            "uidMappings": maps, "gidMappings": maps}


@pytest.mark.parametrize("opt", ["idmap", "ridmap"])
def test_idmapped_bind_swaps_owners_both_ways(pyrunc, idb, tmp_path, opt):
    d = _shared(tmp_path)
    # a submount: mapped with ridmap, plain (not mapped: seen as-is) with idmap
    sub_src = tmp_path / "subsrc"
    sub_src.mkdir()
    (sub_src / "f").write_text("z\n")
    os.chown(sub_src / "f", 1000, 1000)
    subprocess.run(["mount", "--bind", str(sub_src), str(d / "sub")], check=True)
    try:
        idb.config["root"]["readonly"] = False
        idb.config["mounts"].append(_mount(d, ["rbind", "rw", opt]))
        idb.sh("stat -c '%u:%g %n' /data /data/owned1000 /data/owned0 /data/sub/f; "
               "touch /data/made-by-root && stat -c '%u:%g %n' /data/made-by-root").write()
        r = pyrunc("run", "--bundle", idb.path, idb.id)
    finally:
        subprocess.run(["umount", str(d / "sub")], check=True)
    assert r.returncode == 0, r.stderr
    sub_owner = "0:0" if opt == "ridmap" else "1000:1000"
    assert r.stdout.split("\n")[:5] == [
        "0:0 /data", "0:0 /data/owned1000", "1000:1000 /data/owned0",
        f"{sub_owner} /data/sub/f", "0:0 /data/made-by-root"]
    st = os.stat(d / "made-by-root")  # made as root in the container: stored as 1000
    assert (st.st_uid, st.st_gid) == (1000, 1000)
    assert os.stat(d / "owned1000").st_uid == 1000  # nothing chowned on the host


def test_idmap_from_the_container_user_namespace(pyrunc, idb, tmp_path):
    d = _shared(tmp_path)
    os.chown(d / "owned0", 0, 0)
    c = idb.config
    c["linux"]["namespaces"].append({"type": "user"})
    c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    c["mounts"] = [m for m in c["mounts"] if m["destination"] not in ("/sys", "/sys/fs/cgroup")]
    c["mounts"].append({"destination": "/data", "type": "bind", "source": str(d),
                        "options": ["rbind", "idmap"]})
    idb.sh("stat -c '%u %n' /data/owned0 /data/owned1000").write()
    r = pyrunc("run", "--bundle", idb.path, idb.id)
    assert r.returncode == 0, r.stderr
    # on-disk 0 -> host 200000 -> container 0; on-disk 1000 -> container 1000
    assert r.stdout.split("\n")[:2] == ["0 /data/owned0", "1000 /data/owned1000"]


@pytest.mark.parametrize("change,pointer,why", [
    (lambda m: m.update(type="tmpfs", options=["idmap"]), "/mounts/", "only supported for bind"),
    (lambda m: m.pop("gidMappings"), "/mounts/", "needs both uidMappings and gidMappings"),
    (lambda m: m.update(options=["rbind"]), "/options", "need the idmap or ridmap option"),
    (lambda m: (m.pop("uidMappings"), m.pop("gidMappings")), "/options",
     "needs the container's own user namespace"),
])
def test_idmap_config_errors(pyrunc, idb, tmp_path, change, pointer, why):
    m = _mount(_shared(tmp_path), ["rbind", "idmap"])
    change(m)
    idb.config["mounts"].append(m)
    idb.write()
    r = pyrunc("run", "--bundle", idb.path, idb.id)
    assert r.returncode == 1
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert why in r.stderr and pointer in r.stderr
    assert idb.id not in pyrunc.ids()


def test_idmap_on_a_filesystem_without_support_fails_clearly(pyrunc, idb):
    # procfs does not support idmapped mounts on any kernel
    idb.config["mounts"].append(_mount("/proc/sys", ["rbind", "idmap"]))
    idb.write()
    r = pyrunc("run", "--bundle", idb.path, idb.id)
    assert r.returncode == 1
    assert "does not support idmapped mounts" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert idb.id not in pyrunc.ids()
