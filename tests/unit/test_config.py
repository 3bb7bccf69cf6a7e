"""config.json checks: each problem is named by its JSON pointer."""
import copy

import pytest

from pyrunc import config as cfg
from pyrunc.cli.spec import default_spec
from pyrunc.errors import ConfigError
from pyrunc.mounts import MountSpec
from pyrunc.native import C


def spec():
    return copy.deepcopy(default_spec())


def test_default_spec_is_valid():
    assert cfg.check(spec()) == []


@pytest.mark.parametrize("path,value,pointer", [
    (("ociVersion",), 1, "/ociVersion"),
    (("process", "args"), [], "/process/args"),
    (("process", "args"), ["a", 2], "/process/args/1"),
    (("process", "env"), ["NOEQUALS"], "/process/env/0"),
    (("process", "user", "gid"), 2 ** 32, "/process/user/gid"),
    (("process", "oomScoreAdj"), 5000, "/process/oomScoreAdj"),
    (("root", "path"), "", "/root/path"),
    (("hostname",), [], "/hostname"),
    (("linux", "rootfsPropagation"), "sideways", "/linux/rootfsPropagation"),
    (("linux", "maskedPaths"), ["relative"], "/linux/maskedPaths/0"),
    (("linux", "devices"), [{"path": "/dev/x", "type": "q", "major": 1, "minor": 1}],
     "/linux/devices/0/type"),
    (("linux", "sysctl"), {"net.ipv4.ip_forward": 1}, "/linux/sysctl/net.ipv4.ip_forward"),
    (("process", "scheduler"), {"policy": "SCHED_OTHER"}, "/process/scheduler"),
])
def test_pointer_of_bad_field(path, value, pointer):
    c = spec()
    obj = c
    for k in path[:-1]:
        obj = obj[k]
    obj[path[-1]] = value
    with pytest.raises(ConfigError) as e:
        cfg.check(c)
    assert e.value.pointer == pointer
    assert str(e.value).startswith(f"config.json {pointer}: ")


def test_hostname_needs_uts_namespace():
    c = spec()
    c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "uts"]
    with pytest.raises(ConfigError, match="/hostname"):
        cfg.check(c)


def test_net_sysctl_needs_netns():
    c = spec()
    c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
    c["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    with pytest.raises(ConfigError, match="network namespace"):
        cfg.check(c)


def test_net_sysctl_in_joined_netns():
    # CRI sandboxes: containerd pins the pod's netns and the sandbox joins it by path.
    import os
    import subprocess
    c = spec()
    for n in c["linux"]["namespaces"]:
        if n["type"] == "network":
            n["path"] = "/proc/self/ns/net"
    c["linux"]["sysctl"] = {"net.ipv4.ip_unprivileged_port_start": "80"}
    with pytest.raises(ConfigError, match="network namespace"):
        cfg.check(c)  # the host's own network namespace
    if os.geteuid() != 0:
        pytest.skip("needs root for a network namespace")
    p = subprocess.Popen(["unshare", "--net", "sleep", "30"])
    try:
        import time
        path = f"/proc/{p.pid}/ns/net"
        for _ in range(100):
            if os.stat(path).st_ino != os.stat("/proc/self/ns/net").st_ino:
                break
            time.sleep(0.02)
        for n in c["linux"]["namespaces"]:
            if n["type"] == "network":
                n["path"] = path
        assert cfg.check(c) == []
    finally:
        p.kill()
        p.wait()


def test_unknown_fields_are_ignored():
    c = spec()
    c["somethingNew"] = {"x": 1}
    c["process"]["futureField"] = True
    assert cfg.check(c) == []


def test_unknown_capability_is_a_warning():
    c = spec()
    c["process"]["capabilities"]["bounding"].append("CAP_FROM_THE_FUTURE")
    warnings = cfg.check(c)
    assert len(warnings) == 1 and "CAP_FROM_THE_FUTURE" in warnings[0]


def test_mount_options():
    m = MountSpec({"destination": "/x", "type": "bind", "source": "/s",
                   "options": ["rbind", "ro", "nosuid", "rprivate", "rnoexec", "mode=755",
                               "size=1m", "rw", "suid"]}, 0)
    assert m.flags & C.MS_BIND and m.flags & C.MS_REC
    assert not m.flags & C.MS_RDONLY  # rw after ro clears it
    assert not m.flags & C.MS_NOSUID  # suid after nosuid clears it
    assert m.propagation == [C.MS_PRIVATE | C.MS_REC]
    assert m.attr_set == C.MOUNT_ATTR_NOEXEC
    assert m.data == "mode=755,size=1m"


def test_tmpcopyup_only_on_tmpfs():
    m = MountSpec({"destination": "/x", "type": "tmpfs", "options": ["tmpcopyup", "nosuid"]}, 0)
    assert m.copyup and m.data == "" and m.flags == C.MS_NOSUID
    with pytest.raises(ConfigError, match='/mounts/1/options: mount option "tmpcopyup" needs'):
        MountSpec({"destination": "/x", "type": "bind", "source": "/y",
                   "options": ["rbind", "tmpcopyup"]}, 1)


def test_capability_masks():
    from pyrunc.capabilities import CapSets
    s = CapSets({"bounding": ["CAP_CHOWN", "CAP_KILL"], "ambient": ["CAP_NET_RAW"]})
    assert s.bounding == (1 << 0) | (1 << 5)
    assert s.ambient == 1 << 13
    assert s.effective == 0
