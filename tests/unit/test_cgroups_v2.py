"""linux.resources -> cgroup v2 files on a temp dir tree (no root needed)."""
import pytest

from pyrunc.cgroups import v2_resources
from pyrunc.errors import ConfigError
from test_cgroups_fixture import v2tree  # noqa: F401


def apply(rec, res):
    return v2_resources.apply(res, rec.dir, skip_devices=True)


def names(rec):
    return [(p.split("/")[-1], v) for p, v in rec.writes]


def test_memory(v2tree):
    w = apply(v2tree, {"memory": {"limit": 1 << 20, "swap": 3 << 20, "reservation": 1024, "swappiness": 10}})
    assert names(v2tree) == [("memory.max", "1048576"), ("memory.swap.max", str(2 << 20)), ("memory.low", "1024")]
    assert w == [("/linux/resources/memory/swappiness", "has no cgroup v2 equivalent")]


@pytest.mark.parametrize("mem,out", [
    ({"limit": -1}, [("memory.max", "max")]),
    ({"limit": -1, "swap": 0}, [("memory.max", "max"), ("memory.swap.max", "max")]),
    ({"limit": 100, "swap": 100}, [("memory.max", "100"), ("memory.swap.max", "0")]),
    ({"limit": 100, "swap": -1}, [("memory.max", "100"), ("memory.swap.max", "max")]),
])
def test_memory_swap_cases(v2tree, mem, out):
    apply(v2tree, {"memory": mem})
    assert names(v2tree) == out


def test_swap_without_limit_is_error(v2tree):
    with pytest.raises(ConfigError) as e:
        apply(v2tree, {"memory": {"swap": 100}})
    assert e.value.pointer == "/linux/resources/memory/swap"


def test_check_before_update(v2tree):
    with pytest.raises(ConfigError) as e:
        apply(v2tree, {"memory": {"limit": 500, "checkBeforeUpdate": True}})  # memory.current is 1000
    assert "memory.current" in str(e.value)
    apply(v2tree, {"memory": {"limit": 5000, "checkBeforeUpdate": True}})
    assert names(v2tree) == [("memory.max", "5000")]


def test_cpu(v2tree):
    apply(v2tree, {"cpu": {"shares": 1024, "quota": 20000, "period": 50000, "burst": 1000, "idle": 0,
                           "cpus": "0", "mems": "0"}})
    assert names(v2tree) == [("cpu.weight", "100"), ("cpu.max", "20000 50000"), ("cpu.max.burst", "1000"),
                             ("cpu.idle", "0"), ("cpuset.cpus", "0"), ("cpuset.mems", "0")]


def test_cpu_period_only_keeps_quota(v2tree):
    open(v2tree.dir + "/cpu.max", "w").write("30000 100000\n")
    apply(v2tree, {"cpu": {"period": 200000}})
    assert names(v2tree)[-1] == ("cpu.max", "30000 200000")


def test_realtime_is_a_warning(v2tree):
    w = apply(v2tree, {"cpu": {"realtimeRuntime": 1000}})
    assert w and w[0][0] == "/linux/resources/cpu/realtimeRuntime"


def test_pids_zero_is_one(v2tree):
    apply(v2tree, {"pids": {"limit": 0}})
    assert names(v2tree) == [("pids.max", "1")]


def test_blockio_without_bfq(v2tree):
    apply(v2tree, {"blockIO": {"weight": 1000, "weightDevice": [{"major": 8, "minor": 0, "weight": 10}],
                               "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 4096}]}})
    assert names(v2tree) == [("io.weight", "10000"), ("io.weight", "8:0 1"), ("io.max", "8:0 wbps=4096")]


def test_hugetlb_and_rdma(v2tree):
    apply(v2tree, {"hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}], "rdma": {"mlx5_1": {"hcaObjects": 7}}})
    assert names(v2tree) == [("hugetlb.2MB.max", "2097152"), ("hugetlb.2MB.rsvd.max", "2097152"),
                             ("rdma.max", "mlx5_1 hca_object=7")]


def test_unified_verbatim_and_checked(v2tree):
    apply(v2tree, {"unified": {"memory.high": "500000"}})
    assert names(v2tree) == [("memory.high", "500000")]
    with pytest.raises(ConfigError) as e:
        apply(v2tree, {"unified": {"memory.oom.group": "1"}})
    assert e.value.pointer == "/linux/resources/unified/memory.oom.group"
    with pytest.raises(ConfigError):
        apply(v2tree, {"unified": {"../x": "1"}})


def test_network_is_a_warning(v2tree):
    assert apply(v2tree, {"network": {"classID": 5}})[0][0] == "/linux/resources/network"
