"""A fake cgroup tree in a temp dir: the files a backend may write exist (empty), and
every write is recorded in order, since multi-entry files (devices.allow, io.max) take one
entry per write and a plain file would only keep the last."""
import builtins
import os

import pytest

from pyrunc.cgroups import files

V1_FILES = {
    "memory": ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes",
               "memory.swappiness", "memory.oom_control", "memory.use_hierarchy",
               "memory.kmem.limit_in_bytes", "memory.kmem.tcp.limit_in_bytes"],
    "cpu": ["cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.cfs_burst_us", "cpu.rt_period_us",
            "cpu.rt_runtime_us", "cpu.idle"],
    "cpuset": ["cpuset.cpus", "cpuset.mems"],
    "pids": ["pids.max"],
    "blkio": ["blkio.weight", "blkio.leaf_weight", "blkio.weight_device", "blkio.leaf_weight_device",
              "blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
              "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device"],
    "hugetlb": ["hugetlb.2MB.limit_in_bytes", "hugetlb.2MB.rsvd.limit_in_bytes", "hugetlb.1GB.limit_in_bytes"],
    "net_cls": ["net_cls.classid"],
    "net_prio": ["net_prio.ifpriomap"],
    "rdma": ["rdma.max"],
    "devices": ["devices.allow", "devices.deny", "devices.list"],
}

V2_FILES = ["memory.max", "memory.swap.max", "memory.low", "memory.current", "cpu.weight", "cpu.max",
            "cpu.max.burst", "cpu.idle", "cpuset.cpus", "cpuset.mems", "pids.max", "io.weight", "io.max",
            "hugetlb.2MB.max", "hugetlb.2MB.rsvd.max", "rdma.max", "memory.high", "cgroup.procs"]


class Recorder:
    def __init__(self, root):
        self.root = root
        self.writes = []

    def open(self, path, mode="r", *a, **kw):
        f = _real_open(path, mode, *a, **kw)
        if "w" in mode and str(path).startswith(str(self.root)):
            rec, rel = self.writes, os.path.relpath(path, self.root)
            real_write = f.write

            def write(data):
                rec.append((rel, str(data)))
                return real_write(data)
            f.write = write
        return f

    def write_once(self, path, value):
        """files._write_once on the temp tree: recorded, and like cgroupfs never creating a
        missing file."""
        if not os.path.exists(path):
            raise FileNotFoundError(2, "No such file or directory", path)
        if str(path).startswith(str(self.root)):
            self.writes.append((os.path.relpath(path, self.root), value))
        with _real_open(path, "w") as f:
            f.write(value)

    def values(self, name):
        return [v for p, v in self.writes if p.endswith(name)]

    def last(self, name):
        return self.values(name)[-1]


_real_open = builtins.open


@pytest.fixture
def v1tree(tmp_path, monkeypatch):
    dirs = {}
    for ctrl, names in V1_FILES.items():
        d = tmp_path / ctrl / "ctr"
        d.mkdir(parents=True)
        for n in names:
            (d / n).write_text("")
        dirs[ctrl] = str(d)
    rec = Recorder(tmp_path)
    monkeypatch.setattr(files, "open", rec.open, raising=False)
    monkeypatch.setattr(files, "_write_once", rec.write_once)
    rec.dirs = dirs
    return rec


@pytest.fixture
def v2tree(tmp_path, monkeypatch):
    d = tmp_path / "ctr"
    d.mkdir()
    for n in V2_FILES:
        (d / n).write_text("")
    (d / "cpu.max").write_text("max 100000\n")
    (d / "memory.current").write_text("1000\n")
    rec = Recorder(tmp_path)
    monkeypatch.setattr(files, "open", rec.open, raising=False)
    monkeypatch.setattr(files, "_write_once", rec.write_once)
    rec.dir = str(d)
    return rec
