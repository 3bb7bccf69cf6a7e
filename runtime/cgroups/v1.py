"""cgroup v1: one directory per controller hierarchy (this host's layout).

A hybrid host (v1 controllers plus a cgroup2 mount holding only some controllers) is
handled as runc does: the v1 hierarchies carry the container, and the unified mount is
joined too, so that controllers living only there (hugetlb on this host) apply as well.
"""
import errno
from pyrunc import oslite as os  # not os: see oslite.py
import time

from pyrunc.cgroups import rmdir_retry, walk_pids
from pyrunc.cgroups.files import read, write
from pyrunc.errors import CgroupError


class Manager:
    driver = "v1"

    def __init__(self, saved):
        self.paths = dict(saved.get("paths", {}))

    @classmethod
    def for_path(cls, cgroups_path, mnts, own):
        paths = {}
        for ctrl, mnt in mnts.items():
            key = ctrl or "unified"
            if cgroups_path.startswith("/"):
                rel = cgroups_path
            else:
                rel = os.path.join(own.get(ctrl, "/"), cgroups_path)
            paths[key] = os.path.join(mnt, rel.lstrip("/"))
        return cls({"paths": paths})

    def save(self):
        return {"driver": self.driver, "paths": self.paths}

    def _dirs(self):
        """Distinct directories: co-mounted controllers (cpu,cpuacct) share one."""
        return list(dict.fromkeys(self.paths.values()))

    def create(self):
        for key, path in self.paths.items():
            try:
                os.makedirs(path, exist_ok=True)
            except OSError as e:
                raise CgroupError(f"create cgroup {path}", e) from None
            if key == "cpuset":
                _inherit_cpuset(path)
            elif key == "unified":
                _enable_unified(path)

    def add_pid(self, pid):
        for path in self._dirs():
            write(os.path.join(path, "cgroup.procs"), str(pid))

    def self_join(self):
        """How a new process can join without a write to cgroup.procs (spawn.start_init):
        the cgroup2 directory to be born into (a hybrid host's unified mount; None without
        one) and the v1 `tasks` files the process writes "0" to itself, which moves only
        the writing thread and so skips the global threadgroup lock."""
        uni = self.paths.get("unified")
        return uni, [os.path.join(d, "tasks") for d in self._dirs() if d != uni]

    def apply(self, resources, skip_devices=False):
        from pyrunc.cgroups import v1_resources
        v1_resources.apply(resources, self.paths, skip_devices)

    def destroy(self):
        for path in self._dirs():
            _rmtree(path)

    def _freezer(self):
        return self.paths.get("freezer")

    def is_frozen(self):
        f = self._freezer()
        if not f:
            return False
        return read(os.path.join(f, "freezer.state"), "") in ("FROZEN", "FREEZING")

    def freeze(self):
        """FREEZING can linger while tasks are in uninterruptible sleep; re-poke until FROZEN."""
        f = self._require_freezer()
        for i in range(1000):
            write(os.path.join(f, "freezer.state"), "FROZEN")
            if read(os.path.join(f, "freezer.state"), "") == "FROZEN":
                return
            time.sleep(min(0.001 * (i + 1), 0.05))
        write(os.path.join(f, "freezer.state"), "THAWED")
        raise CgroupError(f"freeze {f}", OSError(errno.EBUSY, "cgroup did not freeze"))

    def thaw(self):
        write(os.path.join(self._require_freezer(), "freezer.state"), "THAWED")

    def _require_freezer(self):
        f = self._freezer()
        if not f:
            raise CgroupError("freeze", OSError(errno.ENOTSUP, "no freezer cgroup controller"))
        return f

    def pids(self):
        path = self.paths.get("pids") or self.paths.get("freezer") or next(iter(self.paths.values()))
        return walk_pids(path)

    def kill_all(self, sig=9):
        """Freeze first so nothing forks between listing and signalling, then thaw."""
        # A paused container stays paused: only undo a freeze made here.
        has_freezer = self._freezer() is not None and os.path.isdir(self._freezer())
        has_freezer = has_freezer and not self.is_frozen()
        if has_freezer:
            self.freeze()
        try:
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        finally:
            if has_freezer:
                self.thaw()

    def stats(self):
        from pyrunc.cgroups import stats
        return stats.v1(self.paths)


def _rmtree(path):
    """Children first (a container may have made sub-cgroups), only this container's tree."""
    if not os.path.isdir(path):
        return
    for d, subdirs, _ in os.walk(path, topdown=False):
        for s in subdirs:
            rmdir_retry(os.path.join(d, s))
    rmdir_retry(path)


def _inherit_cpuset(path):
    """A new cpuset directory starts empty and refuses tasks until cpus/mems are set."""
    for name in ("cpuset.cpus", "cpuset.mems"):
        f = os.path.join(path, name)
        if not os.path.exists(f) or read(f, ""):
            continue
        parent = os.path.dirname(path)
        _inherit_cpuset(parent)
        write(f, read(os.path.join(parent, name)))


def _enable_unified(path):
    """Hybrid host: make the unified mount's controllers available down to our directory."""
    from pyrunc.cgroups.files import enable_controllers  # not v2: one module less
    try:
        enable_controllers(path)
    except CgroupError:
        pass  # only hugetlb lives there; a failure shows up if hugepageLimits are applied
