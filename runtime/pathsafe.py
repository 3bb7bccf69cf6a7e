"""Open paths inside the container's rootfs without letting symlinks lead out of it.

The rootfs belongs to the container image, an attacker: every component is resolved with
openat2(RESOLVE_IN_ROOT), so `..` and absolute symlinks stay below the rootfs (the
CVE-2021-30465 class). Mounts then target the opened fd through /proc/self/fd/N, so the
path cannot be swapped between the check and the mount.
"""
import errno
import os
import stat

from pyrunc import native
from pyrunc.native import C

O_PATH = os.O_PATH | os.O_CLOEXEC


def open_in_root(rootfd, rel, flags=O_PATH, mode=0):
    return native.openat2(rootfd, rel.lstrip("/") or ".", flags, mode,
                          C.RESOLVE_IN_ROOT | C.RESOLVE_NO_MAGICLINKS)


def mkdir_all(rootfd, rel, mode=0o755):
    """mkdir -p inside the root; returns an O_PATH fd of the directory."""
    parts = [p for p in rel.split("/") if p and p != "."]
    fd = os.dup(rootfd)
    try:
        for name in parts:
            try:
                nfd = native.openat2(fd, name, O_PATH | os.O_DIRECTORY, 0,
                                     C.RESOLVE_IN_ROOT | C.RESOLVE_NO_MAGICLINKS)
            except FileNotFoundError:
                # Create it relative to the dir we hold, then re-resolve within the root.
                dfd = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                try:
                    os.mkdir(name, mode, dir_fd=dfd)
                except FileExistsError:
                    pass
                finally:
                    os.close(dfd)
                nfd = native.openat2(fd, name, O_PATH | os.O_DIRECTORY, 0,
                                     C.RESOLVE_IN_ROOT | C.RESOLVE_NO_MAGICLINKS)
            os.close(fd)
            fd = nfd
        return fd
    except BaseException:
        os.close(fd)
        raise


def make_target(rootfd, rel, is_dir):
    """Create the mount target (dir or empty file) and return an O_PATH fd to it."""
    if is_dir:
        return mkdir_all(rootfd, rel)
    parent, _, name = rel.rstrip("/").rpartition("/")
    pfd = mkdir_all(rootfd, parent)
    try:
        try:
            return native.openat2(pfd, name, O_PATH, 0,
                                  C.RESOLVE_IN_ROOT | C.RESOLVE_NO_MAGICLINKS)
        except FileNotFoundError:
            dfd = os.open(f"/proc/self/fd/{pfd}", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                os.close(os.open(name, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW,
                                 0o755, dir_fd=dfd))
            except OSError as e:
                if e.errno != errno.EEXIST:
                    raise
            finally:
                os.close(dfd)
            return native.openat2(pfd, name, O_PATH, 0,
                                  C.RESOLVE_IN_ROOT | C.RESOLVE_NO_MAGICLINKS)
    finally:
        os.close(pfd)


def fd_path(fd):
    return f"/proc/self/fd/{fd}"


def is_dir_fd(fd):
    return stat.S_ISDIR(os.fstat(fd).st_mode)
