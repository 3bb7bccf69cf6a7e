"""cgroup v1: one directory per controller hierarchy (this host's layout).

A hybrid host (v1 controllers plus a cgroup2 mount holding only some controllers) is
handled as runc does: the v1 hierarchies carry the container; the unified mount is
joined as well when it is present so that its controllers (e.g. hugetlb) apply too.
"""
import os
import signal

from pyrunc.cgroups import rmdir_retry, write_file
from pyrunc.errors import CgroupError, ConfigError


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

    def create(self):
        for key, path in self.paths.items():
            try:
                os.makedirs(path, exist_ok=True)
            except OSError as e:
                raise CgroupError(f"create cgroup {path}", e) from None
            if key.startswith("cpuset"):
                self._inherit_cpuset(path)

    @staticmethod
    def _inherit_cpuset(path):
        # A new cpuset directory starts empty and refuses tasks until cpus/mems are set.
        for name in ("cpuset.cpus", "cpuset.mems"):
            f = os.path.join(path, name)
            try:
                with open(f) as fh:
                    if fh.read().strip():
                        continue
            except OSError:
                continue
            Manager._inherit_cpuset(os.path.dirname(path))
            with open(os.path.join(os.path.dirname(path), name)) as fh:
                write_file(f, fh.read().strip())

    def add_pid(self, pid):
        for path in self.paths.values():
            write_file(os.path.join(path, "cgroup.procs"), str(pid))

    def apply(self, resources):
        if not resources:
            return
        for key in resources:
            if resources[key] not in (None, [], {}) and key != "devices":
                raise ConfigError(f"/linux/resources/{key}",
                                  "cgroup resource limits are not supported yet")

    def destroy(self):
        for path in self.paths.values():
            rmdir_retry(path)

    def _freezer(self):
        return self.paths.get("freezer")

    def is_frozen(self):
        f = self._freezer()
        if not f:
            return False
        try:
            with open(os.path.join(f, "freezer.state")) as fh:
                return fh.read().strip() in ("FROZEN", "FREEZING")
        except FileNotFoundError:
            return False

    def freeze(self):
        write_file(os.path.join(self._freezer(), "freezer.state"), "FROZEN")

    def thaw(self):
        write_file(os.path.join(self._freezer(), "freezer.state"), "THAWED")

    def pids(self):
        path = self.paths.get("pids") or self.paths.get("memory") or next(iter(self.paths.values()))
        out = []
        for d, _, _ in os.walk(path):
            try:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    out.extend(int(x) for x in f.read().split())
            except FileNotFoundError:
                pass
        return sorted(set(out))

    def kill_all(self, sig=signal.SIGKILL):
        frozen = self._freezer() is not None
        if frozen:
            self.freeze()
        try:
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        finally:
            if frozen:
                self.thaw()

    def stats(self):
        return {}
