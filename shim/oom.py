"""OOM notifications (cgroup v1): an eventfd registered on memory.oom_control."""
import os
from pyrunc_shim import threads

from pyrunc_shim.stats import CGROUP_ROOT, proc_cgroups, unified


class Watch:
    def __init__(self, efd, ctl_fd, cgroup_dir, callback):
        self.efd, self.ctl_fd, self.dir, self.callback = efd, ctl_fd, cgroup_dir, callback
        self.closed = False
        threads.Thread(target=self._run, daemon=True).start()

    def _run(self):
        try:
            while True:
                os.eventfd_read(self.efd)
                # The eventfd also fires when the cgroup goes away: that is not an OOM.
                if self.closed or not os.path.isdir(self.dir):
                    return
                self.callback()
        except OSError:
            return
        finally:
            os.close(self.efd)
            os.close(self.ctl_fd)

    def close(self):
        if not self.closed:
            self.closed = True
            os.eventfd_write(self.efd, 1)


def watch(pid, callback):
    if unified():
        return None  # TODO(v2): inotify on memory.events
    path = proc_cgroups(pid).get("memory")
    d = os.path.join(CGROUP_ROOT, "memory") + path
    if path in (None, "/") or not os.path.isdir(d):
        return None
    efd = os.eventfd(0, os.EFD_CLOEXEC)
    ctl = os.open(os.path.join(d, "memory.oom_control"), os.O_RDONLY | os.O_CLOEXEC)
    with open(os.path.join(d, "cgroup.event_control"), "w") as f:
        f.write("%d %d" % (efd, ctl))
    return Watch(efd, ctl, d, callback)
