"""cgroupsPath semantics (absolute / relative / unset) on fake mount tables."""
from pyrunc.cgroups import is_unified, mounts, v1, v2

V1_MNTS = {"memory": "/sys/fs/cgroup/memory", "cpu": "/sys/fs/cgroup/cpu", "": "/sys/fs/cgroup/unified"}
OWN = {"memory": "/process_api/abc", "cpu": "/", "": "/"}


def test_v1_absolute():
    m = v1.Manager.for_path("/ctr/x", V1_MNTS, OWN)
    assert m.paths == {"memory": "/sys/fs/cgroup/memory/ctr/x", "cpu": "/sys/fs/cgroup/cpu/ctr/x",
                       "unified": "/sys/fs/cgroup/unified/ctr/x"}


def test_v1_relative_joins_own_cgroup_per_controller():
    m = v1.Manager.for_path("x", V1_MNTS, OWN)
    assert m.paths["memory"] == "/sys/fs/cgroup/memory/process_api/abc/x"
    assert m.paths["cpu"] == "/sys/fs/cgroup/cpu/x"


def test_v2_relative_joins_parent_of_own():
    m = v2.Manager.for_path("x", {"": "/sys/fs/cgroup"}, {"": "/user.slice/session-1.scope"})
    assert m.path == "/sys/fs/cgroup/user.slice/x"
    assert v2.Manager.for_path("/a/b", {"": "/sys/fs/cgroup"}, {"": "/"}).path == "/sys/fs/cgroup/a/b"


def test_save_load_round_trip():
    from pyrunc.cgroups import load_manager
    m = v2.Manager.for_path("/a", {"": "/sys/fs/cgroup"}, {"": "/"})
    assert load_manager(m.save()).path == m.path
    m1 = v1.Manager.for_path("/a", V1_MNTS, OWN)
    assert load_manager(m1.save()).paths == m1.paths


def test_mounts_parses_mountinfo(tmp_path):
    (tmp_path / "self").mkdir()
    (tmp_path / "self/mountinfo").write_text(
        "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
        "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n")
    mn = mounts(str(tmp_path))
    assert mn == {"cpu": "/sys/fs/cgroup/cpu,cpuacct", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct",
                  "name=systemd": "/sys/fs/cgroup/systemd", "": "/sys/fs/cgroup/unified"}
    assert not is_unified(mn) and is_unified({"": "/sys/fs/cgroup"})


def test_v2_enable_controllers(tmp_path):
    root = tmp_path / "cg"
    (root / "a" / "b").mkdir(parents=True)
    for d in (root, root / "a"):
        (d / "cgroup.controllers").write_text("cpu memory\n")
        (d / "cgroup.subtree_control").write_text("")
    (root / "a" / "b" / "cgroup.controllers").write_text("")
    v2.enable_controllers(str(root / "a" / "b"))
    # a plain file keeps only the last write; both levels were written
    assert (root / "cgroup.subtree_control").read_text() == "+memory"
    assert (root / "a" / "cgroup.subtree_control").read_text() == "+memory"


def test_check_unused(tmp_path):
    import pytest
    from pyrunc.cgroups import check_unused
    from pyrunc.errors import PyruncError
    d = tmp_path / "c"
    d.mkdir()
    (d / "cgroup.procs").write_text("")
    (d / "cgroup.freeze").write_text("0\n")
    m = v2.Manager({"path": str(d)})
    check_unused(m)
    (d / "cgroup.procs").write_text("12\n")
    with pytest.raises(PyruncError, match="not empty"):
        check_unused(m)
    check_unused(v2.Manager({"path": str(tmp_path / "missing")}))


def test_add_pid_sub_v1(tmp_path):
    from pyrunc.cgroups import add_pid_sub
    paths = {}
    for c in ("cpu", "memory"):
        (tmp_path / c / "sub").mkdir(parents=True)
        (tmp_path / c / "cgroup.procs").write_text("")
        (tmp_path / c / "sub" / "cgroup.procs").write_text("")
        paths[c] = str(tmp_path / c)
    add_pid_sub(v1.Manager({"paths": paths}), 42, ["memory:sub"])
    assert (tmp_path / "memory" / "sub" / "cgroup.procs").read_text() == "42"
    assert (tmp_path / "cpu" / "cgroup.procs").read_text() == "42"  # others: the container's own


def test_add_pid_sub_v2_rejects_controllers_and_escapes(tmp_path):
    import pytest
    from pyrunc.cgroups import add_pid_sub
    from pyrunc.errors import ConfigError
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "cgroup.procs").write_text("")
    m = v2.Manager({"path": str(tmp_path)})
    add_pid_sub(m, 7, ["sub"])
    assert (tmp_path / "sub" / "cgroup.procs").read_text() == "7"
    for bad in (["memory:sub"], ["../x"], ["/abs"]):
        with pytest.raises(ConfigError):
            add_pid_sub(m, 7, bad)


def test_self_join_targets():
    """v1 with a unified mount: born into the unified dir, "0" into each distinct v1 tasks
    file (co-mounted controllers share one); pure v1: no clone target; v2: the one dir."""
    from pyrunc.cgroups import v1, v2
    m = v1.Manager({"paths": {"cpu": "/c/cpu,cpuacct/x", "cpuacct": "/c/cpu,cpuacct/x",
                              "memory": "/c/memory/x", "unified": "/c/unified/x"}})
    assert m.self_join() == ("/c/unified/x", ["/c/cpu,cpuacct/x/tasks", "/c/memory/x/tasks"])
    m = v1.Manager({"paths": {"memory": "/c/memory/x"}})
    assert m.self_join() == (None, ["/c/memory/x/tasks"])
    assert v2.Manager({"path": "/c/x"}).self_join() == ("/c/x", [])
