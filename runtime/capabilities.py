"""Capability names <-> numbers, and applying the five OCI capability sets."""
from pyrunc import native
from pyrunc.errors import ConfigError

_NAMES = (
    "CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP "
    "LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER "
    "SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE "
    "SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP "
    "MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF "
    "CHECKPOINT_RESTORE"
).split()
NAMES = {"CAP_" + n: i for i, n in enumerate(_NAMES)}

PR_CAPBSET_READ = 23
PR_SET_KEEPCAPS = 8
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4


_LAST_CAP = []


def last_cap():
    """The highest capability this kernel knows (read once per process)."""
    if _LAST_CAP:
        return _LAST_CAP[0]
    _LAST_CAP.append(_read_last_cap())
    return _LAST_CAP[0]


def _read_last_cap():
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return len(_NAMES) - 1


def mask(names):
    """Bit mask of the known names; unknown ones were warned about by config.check."""
    m = 0
    top = last_cap()
    for n in names or ():
        bit = NAMES.get(n)
        if bit is not None and bit <= top:
            m |= 1 << bit
    return m


class CapSets:
    __slots__ = ("bounding", "effective", "permitted", "inheritable", "ambient")

    def __init__(self, caps):
        caps = caps or {}
        for s in self.__slots__:
            setattr(self, s, mask(caps.get(s)))


def drop_bounding(sets):
    """Drop from the bounding set what the config does not list (needs CAP_SETPCAP)."""
    native.capbset_drop(sets.bounding, last_cap())


def apply_sets(sets):
    """Set effective/permitted/inheritable, then raise the ambient ones."""
    try:
        native.capset(sets.effective, sets.permitted, sets.inheritable)
    except PermissionError as e:
        _explain_capset(sets, e)
        raise
    native.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    # The kernel raises an ambient capability only if it is also permitted and inheritable;
    # runc ignores the ones that are not (its default spec lists ambient caps without
    # inheritable ones), and so does pyrunc.
    for bit in range(last_cap() + 1):
        if sets.ambient & (1 << bit) & sets.permitted & sets.inheritable:
            native.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, bit)


def _explain_capset(sets, err):
    """Name the capabilities pyrunc itself lacks (not in its bounding set, e.g. docker
    --privileged where the host withholds CAP_SYS_RESOURCE) instead of a bare EPERM; runc
    says only "unable to apply caps: operation not permitted"."""
    for field in ("permitted", "effective", "inheritable"):
        wanted = getattr(sets, field)
        missing = [n for n, bit in NAMES.items()
                   if wanted & (1 << bit) and native.prctl(PR_CAPBSET_READ, bit) != 1]
        if missing:
            raise ConfigError(f"/process/capabilities/{field}",
                              f"{', '.join(missing)} not in the runtime's own bounding set: "
                              f"capset: {err.strerror}") from None
