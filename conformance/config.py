"""The base config.json every case starts from, written by the suite (not `runtime spec`).

It is close to what container engines generate, so a case changes one field and the rest
stays typical. ociVersion is 1.1.0 because some runtimes (crun 1.8) reject newer versions.
"""
import copy

OCI_VERSION = "1.1.0"
DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

BASE = {
    "ociVersion": OCI_VERSION,
    "process": {
        "terminal": False,
        "user": {"uid": 0, "gid": 0},
        "args": ["/bin/probe"],
        "env": [PATH_ENV, "TERM=xterm"],
        "cwd": "/",
        "capabilities": {k: list(DEFAULT_CAPS)
                         for k in ("bounding", "effective", "permitted")},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs", "readonly": False},
    "hostname": "conformance",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
                     "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
    ],
    "linux": {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
        # /proc/uptime and /etc/ro-file exist on every kernel/rootfs here, unlike
        # /proc/kcore or /proc/sysrq-trigger, so the masking itself is observable.
        "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware",
                        "/proc/scsi", "/proc/uptime"],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                          "/proc/sysrq-trigger", "/etc/ro-file"],
    },
}


def base_config(cgroups_path):
    cfg = copy.deepcopy(BASE)
    cfg["linux"]["cgroupsPath"] = cgroups_path
    return cfg


def ns_types(cfg):
    return [n["type"] for n in cfg["linux"]["namespaces"]]


def set_namespace(cfg, ns_type, path=None, present=True):
    """Adds, replaces or (present=False) removes one namespace entry."""
    nss = [n for n in cfg["linux"]["namespaces"] if n["type"] != ns_type]
    if present:
        entry = {"type": ns_type}
        if path:
            entry["path"] = path
        nss.append(entry)
    cfg["linux"]["namespaces"] = nss
