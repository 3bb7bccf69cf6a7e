"""cgroup v2: the unified hierarchy, one directory per container."""
import errno
from pyrunc import oslite as os  # not os: see oslite.py
import time

from pyrunc.cgroups import rmdir_retry, walk_pids
from pyrunc.cgroups.files import enable_controllers, read, read_kv, write
from pyrunc.errors import CgroupError


class Manager:
    driver = "v2"

    def __init__(self, saved):
        self.path = saved.get("path", "")
        self.warnings = []

    @classmethod
    def for_path(cls, cgroups_path, mnts, own):
        mnt = mnts[""]
        if cgroups_path.startswith("/"):
            rel = cgroups_path
        else:
            # Relative paths hang off the caller's parent: the caller itself usually sits in
            # a leaf (e.g. a session scope) that may not have children with controllers.
            rel = os.path.join(os.path.dirname(own.get("", "/")), cgroups_path)
        return cls({"path": os.path.join(mnt, rel.lstrip("/"))})

    def save(self):
        return {"driver": self.driver, "path": self.path}

    def create(self):
        try:
            os.makedirs(self.path, exist_ok=True)
        except OSError as e:
            raise CgroupError(f"create cgroup {self.path}", e) from None
        enable_controllers(self.path)

    def add_pid(self, pid):
        write(os.path.join(self.path, "cgroup.procs"), str(pid))

    def self_join(self):
        """See v1.Manager.self_join: born into the one directory, nothing else to write."""
        return self.path, []

    def apply(self, resources, skip_devices=False):
        from pyrunc.cgroups import v2_resources
        self.warnings = v2_resources.apply(resources, self.path, skip_devices)
        return self.warnings

    def destroy(self):
        if not os.path.isdir(self.path):
            return
        for d, subdirs, _ in os.walk(self.path, topdown=False):
            for s in subdirs:
                rmdir_retry(os.path.join(d, s))
        rmdir_retry(self.path)

    def is_frozen(self):
        return read(os.path.join(self.path, "cgroup.freeze"), "0") == "1"

    def freeze(self):
        self._freeze("1")

    def thaw(self):
        self._freeze("0")

    def _freeze(self, value):
        """cgroup.freeze is asynchronous: wait until cgroup.events reports the new state."""
        write(os.path.join(self.path, "cgroup.freeze"), value)
        events = os.path.join(self.path, "cgroup.events")
        for i in range(500):
            if str(read_kv(events).get("frozen", value)) == value:
                return
            time.sleep(min(0.001 * (i + 1), 0.02))
        raise CgroupError(f"{'freeze' if value == '1' else 'thaw'} {self.path}",
                          OSError(errno.ETIMEDOUT, "cgroup.events did not change"))

    def pids(self):
        return walk_pids(self.path)

    def kill_all(self, sig=9):
        if not os.path.isdir(self.path):
            return  # already gone (systemd removes an empty scope): nothing left to signal
        kill_file = os.path.join(self.path, "cgroup.kill")
        if sig == 9 and os.path.exists(kill_file):
            write(kill_file, "1")
            return
        # A paused container stays paused: only undo a freeze made here.
        was_frozen = self.is_frozen()
        if not was_frozen:
            self.freeze()
        try:
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        finally:
            if not was_frozen:
                self.thaw()

    def stats(self):
        from pyrunc.cgroups import stats
        return stats.v2(self.path)
