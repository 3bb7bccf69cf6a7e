"""OCI namespace types <-> clone flags and /proc/PID/ns names."""
from pyrunc.native import C

# OCI type -> (clone flag, /proc/PID/ns/ name). Order matters for joining: the user
# namespace first (it owns the others), the mount namespace last among the joined ones.
TYPES = {
    "user": (C.CLONE_NEWUSER, "user"),
    "pid": (C.CLONE_NEWPID, "pid"),
    "network": (C.CLONE_NEWNET, "net"),
    "ipc": (C.CLONE_NEWIPC, "ipc"),
    "uts": (C.CLONE_NEWUTS, "uts"),
    "cgroup": (C.CLONE_NEWCGROUP, "cgroup"),
    "time": (C.CLONE_NEWTIME, "time"),
    "mount": (C.CLONE_NEWNS, "mnt"),
}


def config_namespaces(config):
    """{type: path or None} from linux.namespaces."""
    return {ns["type"]: ns.get("path") or None
            for ns in (config.get("linux") or {}).get("namespaces") or []}
