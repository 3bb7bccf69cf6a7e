"""linux.resources -> cgroup v1 files on a temp dir tree (no root needed)."""
import pytest

from pyrunc.cgroups import v1_resources
from pyrunc.errors import ConfigError
from test_cgroups_fixture import v1tree  # noqa: F401


def apply(rec, res, **kw):
    v1_resources.apply(res, rec.dirs, **kw)


def test_memory(v1tree):
    apply(v1tree, {"memory": {"limit": 1 << 20, "reservation": 512, "swappiness": 0, "disableOOMKiller": True,
                              "useHierarchy": True, "kernel": 4096, "kernelTCP": 8192}}, skip_devices=True)
    assert v1tree.writes == [
        ("memory/ctr/memory.limit_in_bytes", "1048576"), ("memory/ctr/memory.soft_limit_in_bytes", "512"),
        ("memory/ctr/memory.kmem.limit_in_bytes", "4096"), ("memory/ctr/memory.kmem.tcp.limit_in_bytes", "8192"),
        ("memory/ctr/memory.swappiness", "0"), ("memory/ctr/memory.oom_control", "1"),
        ("memory/ctr/memory.use_hierarchy", "1")]


def test_swap_raised_goes_first_when_valid_against_current_limit(v1tree):
    open(v1tree.dirs["memory"] + "/memory.limit_in_bytes", "w").write("1000\n")
    apply(v1tree, {"memory": {"limit": 2000, "swap": 4000}}, skip_devices=True)
    assert [p.split("/")[-1] for p, _ in v1tree.writes] == ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]


def test_swap_lowered_goes_after_limit(v1tree):
    open(v1tree.dirs["memory"] + "/memory.limit_in_bytes", "w").write("9223372036854771712\n")
    apply(v1tree, {"memory": {"limit": 2000, "swap": 2000}}, skip_devices=True)
    assert [p.split("/")[-1] for p, _ in v1tree.writes] == ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]


def test_swap_below_limit_is_config_error(v1tree):
    with pytest.raises(ConfigError) as e:
        apply(v1tree, {"memory": {"limit": 2000, "swap": 1000}})
    assert e.value.pointer == "/linux/resources/memory/swap"


def test_swappiness_range(v1tree):
    with pytest.raises(ConfigError):
        apply(v1tree, {"memory": {"swappiness": 101}})


def test_cpu(v1tree):
    # cpu.shares is read back: the fake file keeps what was written, like an unclamped kernel
    apply(v1tree, {"cpu": {"shares": 512, "quota": 50000, "period": 100000, "burst": 0, "realtimePeriod": 1000000,
                           "realtimeRuntime": 950000, "idle": 1, "cpus": "0-1", "mems": "0"}}, skip_devices=True)
    assert v1tree.writes == [
        ("cpu/ctr/cpu.shares", "512"), ("cpu/ctr/cpu.cfs_period_us", "100000"), ("cpu/ctr/cpu.cfs_quota_us", "50000"),
        ("cpu/ctr/cpu.cfs_burst_us", "0"), ("cpu/ctr/cpu.rt_period_us", "1000000"),
        ("cpu/ctr/cpu.rt_runtime_us", "950000"), ("cpu/ctr/cpu.idle", "1"),
        ("cpuset/ctr/cpuset.cpus", "0-1"), ("cpuset/ctr/cpuset.mems", "0")]


def test_pids(v1tree):
    apply(v1tree, {"pids": {"limit": -1}}, skip_devices=True)
    apply(v1tree, {"pids": {"limit": 10}}, skip_devices=True)
    assert v1tree.values("pids.max") == ["max", "10"]


def test_blockio(v1tree):
    apply(v1tree, {"blockIO": {"weight": 500, "leafWeight": 300,
                               "weightDevice": [{"major": 8, "minor": 0, "weight": 600, "leafWeight": 200}],
                               "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}],
                               "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 10}]}}, skip_devices=True)
    assert v1tree.writes == [
        ("blkio/ctr/blkio.weight", "500"), ("blkio/ctr/blkio.leaf_weight", "300"),
        ("blkio/ctr/blkio.weight_device", "8:0 600"), ("blkio/ctr/blkio.leaf_weight_device", "8:0 200"),
        ("blkio/ctr/blkio.throttle.read_bps_device", "8:0 1000"),
        ("blkio/ctr/blkio.throttle.write_iops_device", "8:0 10")]


def test_hugetlb_with_rsvd(v1tree):
    apply(v1tree, {"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}, {"pageSize": "1GB", "limit": 0}]},
          skip_devices=True)
    assert v1tree.writes == [("hugetlb/ctr/hugetlb.2MB.limit_in_bytes", "4194304"),
                             ("hugetlb/ctr/hugetlb.2MB.rsvd.limit_in_bytes", "4194304"),
                             ("hugetlb/ctr/hugetlb.1GB.limit_in_bytes", "0")]


def test_hugetlb_on_hybrid_unified(v1tree, tmp_path):
    del v1tree.dirs["hugetlb"]
    u = tmp_path / "unified" / "ctr"
    u.mkdir(parents=True)
    (u / "cgroup.controllers").write_text("hugetlb\n")
    (u / "hugetlb.2MB.max").write_text("")
    v1tree.dirs["unified"] = str(u)
    apply(v1tree, {"hugepageLimits": [{"pageSize": "2MB", "limit": -1}]}, skip_devices=True)
    assert v1tree.writes == [("unified/ctr/hugetlb.2MB.max", "max")]


def test_network_and_rdma(v1tree):
    apply(v1tree, {"network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 5},
                                                                  {"name": "lo", "priority": 1}]},
                   "rdma": {"mlx5_1": {"hcaHandles": 3}}}, skip_devices=True)
    assert v1tree.writes == [("net_cls/ctr/net_cls.classid", "1048577"), ("net_prio/ctr/net_prio.ifpriomap", "eth0 5"),
                             ("net_prio/ctr/net_prio.ifpriomap", "lo 1"), ("rdma/ctr/rdma.max", "mlx5_1 hca_handle=3")]


def test_unified_is_rejected(v1tree):
    with pytest.raises(ConfigError) as e:
        apply(v1tree, {"unified": {"memory.high": "1000"}})
    assert e.value.pointer == "/linux/resources/unified"


def test_devices_default_container(v1tree):
    apply(v1tree, {"devices": [{"allow": False, "access": "rwm"}]})
    assert v1tree.writes[0] == ("devices/ctr/devices.deny", "a")
    assert ("devices/ctr/devices.allow", "c 1:3 rwm") in v1tree.writes


def test_missing_controller_names_the_field(v1tree):
    del v1tree.dirs["net_cls"]
    with pytest.raises(ConfigError) as e:
        apply(v1tree, {"network": {"classID": 1}})
    assert e.value.pointer == "/linux/resources/network/classID"


def test_missing_file_names_the_file(v1tree):
    import os
    os.unlink(v1tree.dirs["cpu"] + "/cpu.cfs_burst_us")
    with pytest.raises(ConfigError) as e:
        apply(v1tree, {"cpu": {"burst": 10}})
    assert e.value.pointer == "/linux/resources/cpu/burst" and "cpu.cfs_burst_us" in str(e.value)


def test_zero_means_unset(v1tree):
    apply(v1tree, {"memory": {"limit": 0}, "cpu": {"shares": 0, "quota": 0}}, skip_devices=True)
    assert v1tree.writes == []
