"""pyrunc.lsm without root and without an LSM: the attribute files live in a temp dir."""
import errno
import os

import pytest

from pyrunc import lsm, pathsafe
from pyrunc.errors import ConfigError


def fake_proc(tmp_path, apparmor_dir):
    attr = tmp_path / "proc" / "thread-self" / "attr"
    (attr / "apparmor").mkdir(parents=True) if apparmor_dir else attr.mkdir(parents=True)
    for f in ("exec", "apparmor/exec") if apparmor_dir else ("exec",):
        (attr / f).write_text("")
    return str(tmp_path / "proc"), attr


@pytest.mark.parametrize("apparmor_dir,rel", [(True, "apparmor/exec"), (False, "exec")])
def test_apparmor_profile_goes_to_the_lsm_exec_attr(tmp_path, apparmor_dir, rel):
    proc, attr = fake_proc(tmp_path, apparmor_dir)
    lsm.apply_exec_labels({"apparmorProfile": "pcve-prof"}, proc, require_procfs=False)
    assert (attr / rel).read_text() == "exec pcve-prof"


def test_selinux_label_goes_to_attr_exec(tmp_path):
    proc, attr = fake_proc(tmp_path, True)
    lsm.apply_exec_labels({"selinuxLabel": "system_u:system_r:container_t:s0"}, proc,
                          require_procfs=False)
    assert (attr / "exec").read_text() == "system_u:system_r:container_t:s0"
    assert (attr / "apparmor" / "exec").read_text() == ""


def test_nothing_to_write_without_labels(tmp_path):
    proc, attr = fake_proc(tmp_path, False)
    lsm.apply_exec_labels({"args": ["true"]}, proc, require_procfs=False)
    assert (attr / "exec").read_text() == ""


def test_a_failed_write_names_the_field_and_the_file(tmp_path):
    proc, attr = fake_proc(tmp_path, False)
    (attr / "exec").unlink()
    with pytest.raises(ConfigError) as e:
        lsm.apply_exec_labels({"apparmorProfile": "p"}, proc, require_procfs=False)
    assert e.value.pointer == "/process/apparmorProfile"
    assert str(e.value) == (f'config.json /process/apparmorProfile: apply apparmor profile '
                            f'"p": write {proc}/thread-self/attr/exec: No such file or '
                            f'directory')


def test_attr_root_must_be_procfs(tmp_path):
    proc, _ = fake_proc(tmp_path, False)
    with pytest.raises(ConfigError, match="not a procfs"):
        lsm.apply_exec_labels({"apparmorProfile": "p"}, proc)


def test_open_proc_does_not_leave_its_root(tmp_path):
    proc, _ = fake_proc(tmp_path, False)
    os.symlink("/etc/passwd", os.path.join(proc, "escape"))
    with pytest.raises(OSError) as e:
        pathsafe.open_proc("escape", os.O_RDONLY, proc, require_procfs=False)
    assert e.value.errno == errno.EXDEV


def test_selinux_label_needs_selinux(tmp_path):
    with pytest.raises(ConfigError) as e:
        lsm.check({"selinuxLabel": "x"}, sysroot=str(tmp_path))
    assert e.value.pointer == "/process/selinuxLabel"
    assert "selinux is disabled or not supported" in str(e.value)
    (tmp_path / "sys" / "fs" / "selinux").mkdir(parents=True)
    (tmp_path / "sys" / "fs" / "selinux" / "enforce").write_text("1")
    lsm.check({"selinuxLabel": "x"}, sysroot=str(tmp_path))
    lsm.check({"apparmorProfile": "x"}, sysroot="/nonexistent")  # not checked up front


@pytest.mark.parametrize("data,typ,bind,out", [
    ("mode=755", "tmpfs", False, 'mode=755,context="L"'),
    ("", "devpts", False, 'context="L"'),
    ("", "proc", False, ""),
    ("", "sysfs", False, ""),
    ("", "mqueue", False, ""),
    ("ro", "none", True, "ro"),
])
def test_mount_label_as_context_option(data, typ, bind, out):
    assert lsm.mount_data(data, typ, bind, "L") == out
    assert lsm.mount_data(data, typ, bind, None) == data
