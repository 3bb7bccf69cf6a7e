"""The only importer of the cffi extension pyrunc._native.

Each wrapper makes one call and raises OSError(errno, strerror, path) on failure; callers
translate that into a PyruncError with context. Where CPython has the call, it is used.
"""
from pyrunc import oslite as os  # not os: see oslite.py

from pyrunc._native import ffi, lib

C = lib  # constants: C.CLONE_NEWNS, C.MS_BIND, ...


def _check(ret, *paths):
    if ret < 0:
        err = ffi.errno
        raise OSError(err, os.strerror(err), *paths[:1])
    return ret


def _b(s):
    if s.__class__ is str:  # the usual case, without a call per path (~240 per create)
        return s.encode("utf-8", "surrogateescape")
    return None if s is None else os.fsencode(s)


def unshare(flags):
    _check(lib.pyrunc_unshare(flags))


def setns(fd, nstype=0):
    _check(lib.pyrunc_setns(fd, nstype))


def mount(source, target, fstype, flags=0, data=None):
    data_b = _b(data) if data else ffi.NULL
    _check(lib.pyrunc_mount(_b(source) or ffi.NULL, _b(target), _b(fstype) or ffi.NULL,
                            flags, data_b), target)


def umount2(target, flags=0):
    _check(lib.pyrunc_umount2(_b(target), flags), target)


def pivot_root(new_root, put_old):
    _check(lib.pyrunc_pivot_root(_b(new_root), _b(put_old)), new_root)


def setdomainname(name):
    b = name.encode()
    _check(lib.pyrunc_setdomainname(b, len(b)))


def mount_setattr(dfd, path, flags, attr_set=0, attr_clr=0, propagation=0, userns_fd=0):
    _check(lib.pyrunc_mount_setattr(dfd, _b(path), flags, attr_set, attr_clr, propagation,
                                    userns_fd), path)


def open_tree(dfd, path, flags):
    return _check(lib.pyrunc_open_tree(dfd, _b(path), flags), path)


def move_mount(from_dfd, from_path, to_dfd, to_path, flags):
    _check(lib.pyrunc_move_mount(from_dfd, _b(from_path), to_dfd, _b(to_path), flags), to_path)


def openat2(dfd, path, flags, mode=0, resolve=0):
    return _check(lib.pyrunc_openat2(dfd, _b(path), flags, mode, resolve), path)


def capget():
    out = ffi.new("uint32_t[6]")
    _check(lib.pyrunc_capget(out))
    eff, perm, inh = (out[0] | out[1] << 32, out[2] | out[3] << 32, out[4] | out[5] << 32)
    return eff, perm, inh


def capset(effective, permitted, inheritable):
    m = 0xFFFFFFFF
    _check(lib.pyrunc_capset(effective & m, effective >> 32, permitted & m, permitted >> 32,
                             inheritable & m, inheritable >> 32))


def prctl(option, a2=0, a3=0, a4=0, a5=0):
    return _check(lib.pyrunc_prctl(option, a2, a3, a4, a5))


def join_session_keyring(name):
    return _check(lib.pyrunc_join_session_keyring(_b(name)))


def capbset_drop(keep, last_cap):
    _check(lib.pyrunc_capbset_drop(keep, last_cap))


def setrlimit(resource, soft, hard):
    _check(lib.pyrunc_setrlimit(resource, soft, hard))


def personality(persona):
    return _check(lib.pyrunc_personality(persona))


def clone3_fork(flags=0, cgroup_fd=-1):
    """os.fork() with extra clone flags (new namespaces), the child born in the cgroup
    directory `cgroup_fd` (v2 or a hybrid host's unified mount) unless it is -1;
    OSError(ENOSYS) where it cannot be done safely (csrc/native.c)."""
    return _check(lib.pyrunc_clone3_fork(flags, cgroup_fd))


def fstatfs_type(fd):
    """The filesystem magic number (statfs f_type) of the file `fd`."""
    return _check(lib.pyrunc_fstatfs_type(fd))
