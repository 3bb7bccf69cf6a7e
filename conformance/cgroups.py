"""Host-side view of the cgroups the suite asks runtimes to create.

Every container gets an absolute cgroupsPath under /pyrunc-conformance/<run>/ so the suite
can read its files, find leftover processes and remove only directories it caused.
Works on v1, hybrid and v2 layouts; host hierarchies are only read, never remounted.
"""
import os

PARENT = "pyrunc-conformance"


def hierarchies():
    """Maps each mounted hierarchy to its mount point: v1 controller names, plus 'unified'."""
    found = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, rfields = left.split(), right.split()
            mnt, fstype = fields[4], rfields[0]
            if fstype == "cgroup2":
                found.setdefault("unified", mnt)
            elif fstype == "cgroup":
                for opt in rfields[2].split(","):
                    if opt in ("rw", "ro") or "=" in opt and not opt.startswith("name="):
                        continue
                    found.setdefault(opt, mnt)
    return found


def is_v2():
    return os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def dirs_for(path):
    """Every directory that exists for a cgroup path across the mounted hierarchies."""
    seen, out = set(), []
    for mnt in hierarchies().values():
        d = os.path.join(mnt, path.lstrip("/"))
        if mnt not in seen and os.path.isdir(d):
            seen.add(mnt)
            out.append(d)
    return out


def file_path(controller, path, name):
    """The file for a v1 controller (or 'unified') under a container's cgroup path."""
    mnt = hierarchies().get(controller)
    if mnt is None:
        return None
    return os.path.join(mnt, path.lstrip("/"), name)


def read(controller, path, name):
    p = file_path(controller, path, name)
    if p is None:
        return None
    try:
        with open(p) as f:
            return f.read().strip()
    except OSError:
        return None


def pids_in(path):
    pids = set()
    for d in dirs_for(path):
        for root, _dirs, _files in os.walk(d):
            try:
                with open(os.path.join(root, "cgroup.procs")) as f:
                    pids.update(int(x) for x in f.read().split())
            except OSError:
                pass
    return pids


def remove_tree(path):
    """rmdir (deepest first) what remains under path; cgroup dirs only go with rmdir."""
    for d in dirs_for(path):
        for root, dirs, _files in os.walk(d, topdown=False):
            try:
                os.rmdir(root)
            except OSError:
                pass
