"""OOM notifications: a file descriptor that becomes readable when the kernel OOM-kills
inside the container's cgroup, plus a function telling whether it did.

v1: an eventfd registered on memory.oom_control through cgroup.event_control.
v2: memory.events is pollable (POLLPRI on change); a change counts when oom_kill grew.
"""
import os

from pyrunc.cgroups.files import read_kv


class V1Watch:
    def __init__(self, memdir):
        self.efd = os.eventfd(0, os.EFD_CLOEXEC)
        self.ctl = os.open(os.path.join(memdir, "memory.oom_control"), os.O_RDONLY | os.O_CLOEXEC)
        with open(os.path.join(memdir, "cgroup.event_control"), "w") as f:
            f.write(f"{self.efd} {self.ctl}")
        self.fd = self.efd
        self.events = 0x001  # POLLIN

    def fired(self):
        try:
            return os.eventfd_read(self.efd) > 0
        except BlockingIOError:
            return False

    def close(self):
        os.close(self.efd)
        os.close(self.ctl)


class V2Watch:
    def __init__(self, cgdir):
        self.path = os.path.join(cgdir, "memory.events")
        self.fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        self.events = 0x002 | 0x008  # POLLPRI | POLLERR: kernfs notifies with both
        self.count = self._oom_kills()

    def _oom_kills(self):
        os.lseek(self.fd, 0, os.SEEK_SET)
        os.read(self.fd, 4096)  # reading re-arms the notification
        return read_kv(self.path).get("oom_kill", 0)

    def fired(self):
        n = self._oom_kills()
        grew, self.count = n > self.count, n
        return grew

    def close(self):
        os.close(self.fd)


def watch(manager):
    """A watcher for the manager's memory cgroup, or None if there is none."""
    manager = getattr(manager, "inner", manager)  # the systemd driver wraps a v1/v2 manager
    paths = getattr(manager, "paths", None)
    try:
        if paths is not None:
            return V1Watch(paths["memory"]) if paths.get("memory") else None
        return V2Watch(manager.path)
    except OSError:
        return None
