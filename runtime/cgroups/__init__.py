"""cgroup managers behind one interface; the backend is chosen by probing the host.

Interface (what the rest of pyrunc uses):
  new_manager(container_id, cgroups_path, systemd=False) -> Manager
  load_manager(saved_dict) -> Manager              (from Manager.save(), kept in the state)
  Manager: create() add_pid(pid) apply(resources) save() destroy()
           freeze() thaw() is_frozen() pids() kill_all(sig) stats()
Backends: v1.py (+ hybrid unified mount), v2.py, systemd.py (a transient scope over
D-Bus, then the v2/v1 files as well). This module stays tiny: `state` imports it.
"""
from pyrunc import oslite as os  # not os: see oslite.py

from pyrunc.cgroups.files import read
from pyrunc.errors import CgroupError, PyruncError

PROC_ROOT = "/proc"
# cgroup v1 super options that are not controller names
_NOT_CONTROLLERS = frozenset(("rw", "ro", "xattr", "noprefix", "clone_children", "cpuset_v2_mode",
                              "favordynmods", "nofavordynmods"))


def mounts(proc_root=PROC_ROOT):
    """{controller: mountpoint} for v1 hierarchies and {"": mountpoint} for cgroup2."""
    out = {}
    for line in read(os.path.join(proc_root, "self/mountinfo")).split("\n"):
        if not line:
            continue
        left, _, right = line.partition(" - ")
        fstype, _src, sopts = right.split()[:3]
        mnt = left.split()[4]
        if fstype == "cgroup2":
            out.setdefault("", mnt)
        elif fstype == "cgroup":
            for opt in sopts.split(","):
                if opt in _NOT_CONTROLLERS or "=" in opt and not opt.startswith("name="):
                    continue
                out.setdefault(opt, mnt)
    return out


def own_cgroups(proc_root=PROC_ROOT):
    """{controller: path} of the calling process from /proc/self/cgroup ("" for v2)."""
    out = {}
    for line in read(os.path.join(proc_root, "self/cgroup")).split("\n"):
        if not line:
            continue
        _, ctrls, path = line.split(":", 2)
        for c in ctrls.split(",") if ctrls else [""]:
            out[c] = path
    return out


def is_unified(mnts):
    """A pure cgroup v2 host: only the cgroup2 mount."""
    return "" in mnts and len(mnts) == 1


def new_manager(container_id, cgroups_path, systemd=False):
    mnts = mounts()
    if systemd:
        from pyrunc.cgroups.systemd import Manager as SystemdManager
        return SystemdManager.for_path(container_id, cgroups_path, mnts)
    if not cgroups_path:
        cgroups_path = container_id
    if is_unified(mnts):
        from pyrunc.cgroups.v2 import Manager
    else:
        from pyrunc.cgroups.v1 import Manager
    return Manager.for_path(cgroups_path, mnts, own_cgroups())


def load_manager(saved):
    driver = saved.get("driver")
    if driver == "systemd":
        from pyrunc.cgroups.systemd import Manager
    elif driver == "v2":
        from pyrunc.cgroups.v2 import Manager
    else:
        from pyrunc.cgroups.v1 import Manager
    return Manager(saved)


def signal_all(container, sig):
    """`kill --all`: signal every process of the container's cgroup (runc <= 1.1 semantics;
    containerd relies on it for containers without a private pid namespace)."""
    m = container.cgroup_manager()
    was_frozen = m.is_frozen()
    m.kill_all(sig)
    if was_frozen and sig == 9:
        m.thaw()  # a killed paused container must be able to exit


def add_pid_sub(manager, pid, specs):
    """`exec --cgroup [ctrl[,ctrl]:]path` (repeatable): put an exec'd process into a
    sub-cgroup of the container's own cgroup instead of the container's cgroup itself.
    On v2 only the plain path form makes sense; v1 may name controllers."""
    from pyrunc.errors import ConfigError
    m = getattr(manager, "inner", manager)
    v1_paths = getattr(m, "paths", None)
    targets = {}
    for spec in specs:
        ctrls, _, sub = spec.rpartition(":")
        if not sub or sub.startswith("/") or ".." in sub.split("/"):
            raise ConfigError("", f"invalid --cgroup {spec!r}: want a relative sub-cgroup path")
        if v1_paths is None:
            if ctrls:
                raise ConfigError("", f"invalid --cgroup {spec!r}: cgroup v2 has no per-controller paths")
            targets[""] = os.path.join(m.path, sub)
            continue
        for c in (ctrls.split(",") if ctrls else v1_paths):
            if c not in v1_paths:
                raise ConfigError("", f"invalid --cgroup {spec!r}: no {c} controller")
            targets[c] = os.path.join(v1_paths[c], sub)
    if v1_paths is not None:
        targets = {c: targets.get(c, v1_paths[c]) for c in v1_paths}
    for d in dict.fromkeys(targets.values()):
        write_file(os.path.join(d, "cgroup.procs"), str(pid))


def check_unused(manager):
    """runc refuses to create into a cgroup that already has processes or is frozen (the
    cgroupsPath of another container, say). Call before add_pid."""
    try:
        pids = manager.pids()
        frozen = manager.is_frozen()
    except (OSError, StopIteration):
        return
    if pids:
        raise PyruncError(f"container's cgroup is not empty: {len(pids)} process(es) found")
    if frozen:
        raise PyruncError("container's cgroup unexpectedly frozen")


def walk_pids(path):
    """Every pid in a cgroup directory and its sub-cgroups (both hierarchies)."""
    out = []
    for d, _, _ in os.walk(path):
        try:
            with open(os.path.join(d, "cgroup.procs")) as f:
                out.extend(int(x) for x in f.read().split())
        except FileNotFoundError:
            pass
    return sorted(set(out))


def write_file(path, value):
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError as e:
        raise CgroupError(f"write {value!r} to {path}", e) from None


def rmdir_retry(path, tries=100):
    """Remove one cgroup directory, retrying while the kernel still says EBUSY."""
    import errno
    import time
    for i in range(tries):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno != errno.EBUSY or i == tries - 1:
                raise CgroupError(f"remove cgroup {path}", e) from None
            time.sleep(0.002 * (i + 1))  # short first: killed tasks usually leave in ~1 ms
