"""Let the kernel's cgroup-attach grace period elapse while pyrunc is still starting up.

On this kind of host the first write to any cgroup.procs after an idle gap blocks for an RCU
grace period (~10 ms measured here) while the kernel switches its global threadgroup rwsem to
writer mode; a write made shortly after another one returns in microseconds. runc and crun pay
that wait in the middle of every create and exec. pyrunc mostly avoids the lock altogether
(process/spawn.py, fork_joined). Where it cannot (exec with --cgroup, into a container with a
pids limit, rootless, or the systemd driver), exec starts the wait as soon as it knows, in a
thread, by writing "0" (the writing process itself) into the cgroup.procs of the cgroup
pyrunc already is in: the kernel takes the lock and moves nothing. The grace period then
passes while the namespaces are opened and the joiner forked, and the real attach a few
milliseconds later costs less. Only os and _thread are used (both already loaded); every
failure is ignored: this is an optimisation, never a step.
"""
from pyrunc import oslite as os  # not os: see oslite.py
import _thread

_done = None


def start():
    global _done
    if _done is not None or os.geteuid() != 0:
        return
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            # A closed stdio fd: the thread's own fds would take its number while the CLI
            # fills the gaps with /dev/null (process.init.hold_closed_stdio). Skip the warm-up.
            return
    _done = _thread.allocate_lock()
    _done.acquire()
    _thread.start_new_thread(_poke, (_done,))


def wait():
    """Call before forking: the thread is finished (its lock released) when this returns."""
    if _done is not None:
        _done.acquire()
        _done.release()


def _poke(done):
    try:
        path = _own_procs_file()
        if path:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)
    except OSError:
        pass
    finally:
        done.release()


def _own_procs_file(proc_cgroup="/proc/self/cgroup", base="/sys/fs/cgroup"):
    """cgroup.procs of the cgroup this process is in, in the first hierarchy found mounted
    at its usual place (v1 controller dir, the v2 root, or the hybrid `unified` mount)."""
    fd = os.open(proc_cgroup, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = os.read(fd, 65536)  # bytes: a text-mode open may import codecs in this thread
    finally:
        os.close(fd)
    for line in data.decode("ascii", "replace").splitlines():
        _, ctrls, path = line.split(":", 2)
        if ctrls:
            name = ctrls[5:] if ctrls.startswith("name=") else ctrls
            dirs = (os.path.join(base, name),)
        else:
            dirs = (base, os.path.join(base, "unified"))
        for d in dirs:
            candidate = os.path.join(d + path.rstrip("/"), "cgroup.procs")
            if os.path.exists(candidate):
                return candidate
    return None
