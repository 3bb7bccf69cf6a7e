"""cgroup v2: the unified hierarchy."""
import os
import signal

from pyrunc.cgroups import rmdir_retry, write_file
from pyrunc.errors import CgroupError, ConfigError


class Manager:
    driver = "v2"

    def __init__(self, saved):
        self.path = saved.get("path", "")

    @classmethod
    def for_path(cls, cgroups_path, mnts, own):
        mnt = mnts[""]
        if cgroups_path.startswith("/"):
            rel = cgroups_path
        else:
            rel = os.path.join(os.path.dirname(own.get("", "/")), cgroups_path)
        return cls({"path": os.path.join(mnt, rel.lstrip("/"))})

    def save(self):
        return {"driver": self.driver, "path": self.path}

    def create(self):
        try:
            os.makedirs(self.path, exist_ok=True)
        except OSError as e:
            raise CgroupError(f"create cgroup {self.path}", e) from None

    def add_pid(self, pid):
        write_file(os.path.join(self.path, "cgroup.procs"), str(pid))

    def apply(self, resources):
        if not resources:
            return
        for key in resources:
            if resources[key] not in (None, [], {}) and key != "devices":
                raise ConfigError(f"/linux/resources/{key}",
                                  "cgroup resource limits are not supported yet")

    def destroy(self):
        rmdir_retry(self.path)

    def is_frozen(self):
        try:
            with open(os.path.join(self.path, "cgroup.freeze")) as f:
                return f.read().strip() == "1"
        except FileNotFoundError:
            return False

    def freeze(self):
        write_file(os.path.join(self.path, "cgroup.freeze"), "1")

    def thaw(self):
        write_file(os.path.join(self.path, "cgroup.freeze"), "0")

    def pids(self):
        out = []
        for d, _, _ in os.walk(self.path):
            try:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    out.extend(int(x) for x in f.read().split())
            except FileNotFoundError:
                pass
        return sorted(set(out))

    def kill_all(self, sig=signal.SIGKILL):
        if sig == signal.SIGKILL and os.path.exists(os.path.join(self.path, "cgroup.kill")):
            write_file(os.path.join(self.path, "cgroup.kill"), "1")
            return
        for pid in self.pids():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def stats(self):
        return {}
