"""Rootfs mounts from CreateTaskRequest (overlay, bind) onto <bundle>/rootfs."""
import ctypes
import os

from pyrunc_shim.ttrpc import INVALID_ARGUMENT, RpcError

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_SYNCHRONOUS = 1, 2, 4, 8, 16
MS_REMOUNT, MS_MANDLOCK, MS_DIRSYNC, MS_NOATIME, MS_NODIRATIME = 32, 64, 128, 1024, 2048
MS_BIND, MS_REC, MS_PRIVATE, MS_SLAVE, MS_SHARED, MS_UNBINDABLE = 4096, 16384, 1 << 18, 1 << 19, 1 << 20, 1 << 17
MS_RELATIME, MS_STRICTATIME = 1 << 21, 1 << 24
MNT_DETACH = 2

# word -> (clear?, flag)
FLAGS = {
    "async": (True, MS_SYNCHRONOUS), "atime": (True, MS_NOATIME), "bind": (False, MS_BIND),
    "defaults": (False, 0), "dev": (True, MS_NODEV), "diratime": (True, MS_NODIRATIME),
    "dirsync": (False, MS_DIRSYNC), "exec": (True, MS_NOEXEC), "mand": (False, MS_MANDLOCK),
    "noatime": (False, MS_NOATIME), "nodev": (False, MS_NODEV), "nodiratime": (False, MS_NODIRATIME),
    "noexec": (False, MS_NOEXEC), "nomand": (True, MS_MANDLOCK), "norelatime": (True, MS_RELATIME),
    "nostrictatime": (True, MS_STRICTATIME), "nosuid": (False, MS_NOSUID),
    "rbind": (False, MS_BIND | MS_REC), "relatime": (False, MS_RELATIME),
    "remount": (False, MS_REMOUNT), "ro": (False, MS_RDONLY), "rw": (True, MS_RDONLY),
    "strictatime": (False, MS_STRICTATIME), "suid": (True, MS_NOSUID), "sync": (False, MS_SYNCHRONOUS),
}
PROPAGATION = {
    "private": MS_PRIVATE, "rprivate": MS_PRIVATE | MS_REC, "shared": MS_SHARED,
    "rshared": MS_SHARED | MS_REC, "slave": MS_SLAVE, "rslave": MS_SLAVE | MS_REC,
    "unbindable": MS_UNBINDABLE, "runbindable": MS_UNBINDABLE | MS_REC,
}

_libc = None


def _lib():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, "%s: %s" % (what, os.strerror(err)))


def sys_mount(source, target, fstype, flags, data):
    _check(_lib().mount(source.encode(), target.encode(), fstype.encode() if fstype else None,
                        ctypes.c_ulong(flags), data.encode() if data else None),
           "mount %s on %s (%s)" % (source, target, fstype))


def sys_umount(target, flags=0):
    _check(_lib().umount2(target.encode(), flags), "umount %s" % target)


def parse_options(options):
    """Returns (flags, propagation flags, data string)."""
    flags, prop, data = 0, 0, []
    for opt in options:
        if opt in FLAGS:
            clear, flag = FLAGS[opt]
            flags = flags & ~flag if clear else flags | flag
        elif opt in PROPAGATION:
            prop |= PROPAGATION[opt]
        elif opt.startswith("X-containerd."):
            raise RpcError(INVALID_ARGUMENT, "unsupported mount option %s" % opt)
        else:
            data.append(opt)
    return flags, prop, ",".join(data)


def compact_lowerdir(data):
    """mount(2) takes at most a page of options; many image layers exceed it. Returns
    (directory to chdir to, data with lowerdir relative to it), or (None, data)."""
    opts = data.split(",")
    idx = next((i for i, o in enumerate(opts) if o.startswith("lowerdir=")), None)
    if idx is None:
        return None, data
    lowers = opts[idx][len("lowerdir="):].split(":")
    common = os.path.commonpath(lowers) if len(lowers) > 1 else os.path.dirname(lowers[0])
    if common in ("", "/"):
        return None, data
    opts[idx] = "lowerdir=" + ":".join(os.path.relpath(d, common) for d in lowers)
    return common, ",".join(opts)


_cwd_lock = None


def _mount_in(directory, source, target, fstype, flags, data):
    """The cwd is process-wide: serialise, and keep every other path in the daemon absolute."""
    global _cwd_lock
    if _cwd_lock is None:
        from pyrunc_shim.threads import Lock
        _cwd_lock = Lock()
    with _cwd_lock:
        old = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.chdir(directory)
            sys_mount(source, target, fstype, flags, data)
        finally:
            os.fchdir(old)
            os.close(old)


def mount_one(m, target):
    flags, prop, data = parse_options(m.options)
    fstype = m.type
    if fstype == "overlay" and len(data) >= os.sysconf("SC_PAGESIZE") - 512:
        directory, short = compact_lowerdir(data)
        if directory is None:
            raise RpcError(INVALID_ARGUMENT, "overlay mount options too long (%d bytes)" % len(data))
        _mount_in(directory, m.source, os.path.abspath(target), fstype, flags, short)
        return
    if flags & MS_BIND:
        fstype = ""
    sys_mount(m.source, target, fstype, flags & ~(MS_REMOUNT | MS_RDONLY) if flags & MS_BIND else flags, data)
    if flags & MS_BIND and flags & MS_RDONLY:
        # A bind mount ignores MS_RDONLY on the first call; it takes a remount.
        sys_mount("", target, "", flags | MS_REMOUNT, "")
    if prop:
        sys_mount("", target, "", prop, "")


def mount_all(mounts, target):
    try:
        for m in mounts:
            mount_one(m, target)
    except OSError as err:
        unmount_all(target)
        raise RpcError(INVALID_ARGUMENT, str(err)) from None


def unmount_all(target):
    """Unmounts everything stacked on target (lazily, a container may still hold it)."""
    for _ in range(64):
        try:
            sys_umount(target, MNT_DETACH)
        except OSError:
            return
