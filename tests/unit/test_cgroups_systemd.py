"""systemd driver, pure parts: cgroupsPath parsing, slice expansion, unit properties."""
import pytest

from pyrunc.cgroups import systemd_props as sp
from pyrunc.errors import ConfigError


@pytest.mark.parametrize("path,out", [
    ("", ("system.slice", "runc-c1.scope")),
    ("system.slice:pyrunc:c1", ("system.slice", "pyrunc-c1.scope")),
    (":cri-containerd:abc", ("system.slice", "cri-containerd-abc.scope")),
    ("kubepods-besteffort-pod1.slice:cri-containerd:abc", ("kubepods-besteffort-pod1.slice", "cri-containerd-abc.scope")),
    ("machine.slice::my.slice", ("machine.slice", "my.slice")),
])
def test_parse_path(path, out):
    assert sp.parse_path("c1", path) == out


def test_parse_path_needs_three_parts():
    with pytest.raises(ConfigError) as e:
        sp.parse_path("c1", "/a/b")
    assert e.value.pointer == "/linux/cgroupsPath"


@pytest.mark.parametrize("s,out", [("-.slice", "/"), ("system.slice", "/system.slice"),
                                   ("kubepods-besteffort-pod1.slice",
                                    "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice")])
def test_expand_slice(s, out):
    assert sp.expand_slice(s) == out


@pytest.mark.parametrize("bad", ["a--b.slice", "-a.slice", "a.scope", "a/b.slice"])
def test_bad_slices(bad):
    with pytest.raises(ConfigError):
        sp.expand_slice(bad)


def test_resource_props():
    props = dict(sp.resource_props({"memory": {"limit": 1 << 20, "swap": 2 << 20, "reservation": 4096},
                                    "cpu": {"shares": 1024, "quota": 25000, "period": 100000, "cpus": "0-2,4"},
                                    "pids": {"limit": 0}, "blockIO": {"weight": 1000}}))
    assert props == {"MemoryMax": ("t", 1 << 20), "MemoryLow": ("t", 4096), "MemorySwapMax": ("t", 1 << 20),
                     "CPUWeight": ("t", 100), "CPUQuotaPeriodUSec": ("t", 100000),
                     "CPUQuotaPerSecUSec": ("t", 250000), "AllowedCPUs": ("ay", bytes([0b10111])),
                     "TasksMax": ("t", 1), "IOWeight": ("t", 10000)}


def test_quota_rounds_up_to_10ms():
    assert dict(sp.resource_props({"cpu": {"quota": 12345, "period": 100000}}))["CPUQuotaPerSecUSec"] == ("t", 130000)


def test_unlimited():
    props = dict(sp.resource_props({"memory": {"limit": -1}, "pids": {"limit": -1}}))
    assert props == {"MemoryMax": ("t", sp.INFINITY), "TasksMax": ("t", sp.INFINITY)}


def test_unit_props():
    p = dict(sp.unit_props("pyrunc-x.scope", "system.slice", 42, "d"))
    assert p["PIDs"] == ("au", [42]) and p["Delegate"] == ("b", True) and p["Slice"] == ("s", "system.slice")


@pytest.mark.parametrize("text,out", [("true", ("b", True)), ("uint64 100", ("t", 100)), ("@t 5", ("t", 5)),
                                      ("42", ("i", 42)), ("'x y'", ("s", "x y")), ('"a"', ("s", "a")),
                                      ("['a', 'b']", ("as", ["a", "b"])), ("double 1.5", ("d", 1.5))])
def test_gvariant_subset(text, out):
    assert sp._gvariant(text) == out


def test_annotation_props():
    ann = {"org.systemd.property.TimeoutStopSec": "uint64 2", "org.systemd.property.CollectMode": "'inactive-or-failed'",
           "other": "x"}
    assert sp.annotation_props(ann) == [("TimeoutStopUSec", ("t", 2000000)),
                                        ("CollectMode", ("s", "inactive-or-failed"))]
    with pytest.raises(ConfigError) as e:
        sp.annotation_props({"org.systemd.property.Bad": "what is this"})
    assert e.value.pointer == "/annotations/org.systemd.property.Bad"
