"""Open paths inside the container's rootfs without letting symlinks lead out of it.

The rootfs belongs to the container image, an attacker: every component is resolved with
openat2(RESOLVE_IN_ROOT), so `..` and absolute symlinks stay below the rootfs (the
CVE-2021-30465 class). Mounts then target the opened fd through /proc/self/fd/N, so the
path cannot be swapped between the check and the mount.
"""
import errno
from pyrunc import oslite as os  # not os: see oslite.py
import _stat as stat  # the C module: stat.py only re-exports it (from the stdlib directory)

from pyrunc import native
from pyrunc.native import C

O_PATH = os.O_PATH | os.O_CLOEXEC
RESOLVE = C.RESOLVE_IN_ROOT | C.RESOLVE_NO_MAGICLINKS
MAX_LINKS = 40  # as the kernel's limit on nested symlinks


def open_in_root(rootfd, rel, flags=O_PATH, mode=0):
    return native.openat2(rootfd, rel.lstrip("/") or ".", flags, mode, RESOLVE)


def mkdir_all(rootfd, rel, mode=0o755, _links=0):
    """mkdir -p inside the root; returns an O_PATH fd of the directory.

    Every prefix is resolved from the root (an absolute symlink anywhere means the root,
    never the directory holding it); each missing component is made in the directory fd
    just resolved, so a swapped path can redirect it only to another place in the root."""
    parts = [p for p in rel.split("/") if p and p != "."]
    fd = os.dup(rootfd)
    try:
        for i, name in enumerate(parts):
            sub = "/".join(parts[:i + 1])
            try:
                nfd = native.openat2(rootfd, sub, O_PATH | os.O_DIRECTORY, 0, RESOLVE)
            except FileNotFoundError:
                _at(fd, os.mkdir, name, mode)
                try:
                    nfd = native.openat2(rootfd, sub, O_PATH | os.O_DIRECTORY, 0, RESOLVE)
                except FileNotFoundError:
                    # `name` is a symlink to a path that does not exist yet: make that path
                    # (resolved in the root), as runc's MkdirAll of the securely joined path.
                    nfd = mkdir_all(rootfd, _link_target(rootfd, fd, name, _links), mode,
                                    _links + 1)
            os.close(fd)
            fd = nfd
        return fd
    except BaseException:
        os.close(fd)
        raise


def _at(dirfd, call, name, *args):
    """call(name, *args, dir_fd=...) in the directory held by the O_PATH `dirfd`;
    EEXIST is not an error (a racing creator, or a dangling symlink handled by the caller)."""
    dfd = os.open(f"/proc/self/fd/{dirfd}", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return call(name, *args, dir_fd=dfd)
    except FileExistsError:
        return None
    finally:
        os.close(dfd)


def _link_target(rootfd, dirfd, name, links):
    """Where the symlink `name` in `dirfd` points, as a path from the root (`..` stops at
    the root, as RESOLVE_IN_ROOT does)."""
    if links >= MAX_LINKS:
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), name)
    try:
        target = os.readlink(name, dir_fd=dirfd)
    except OSError as e:
        if e.errno == errno.EINVAL:  # not a symlink: something else is in the way
            raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), name) from None
        raise
    if not target.startswith("/"):
        root = os.readlink(f"/proc/self/fd/{rootfd}")
        here = os.readlink(f"/proc/self/fd/{dirfd}")
        target = os.path.relpath(here, root) + "/" + target
    out = []
    for part in target.split("/"):
        if part == "..":
            if out:
                out.pop()
        elif part and part != ".":
            out.append(part)
    return "/".join(out)


def make_target(rootfd, rel, is_dir, _links=0):
    """Create the mount target (dir or empty file) and return an O_PATH fd to it."""
    if is_dir:
        return mkdir_all(rootfd, rel, _links=_links)
    parent, _, name = rel.rstrip("/").rpartition("/")
    try:
        return native.openat2(rootfd, rel, O_PATH, 0, RESOLVE)
    except FileNotFoundError:
        pass
    pfd = mkdir_all(rootfd, parent, _links=_links)
    try:
        try:
            _at(pfd, lambda n, dir_fd: os.close(os.open(
                n, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW, 0o755,
                dir_fd=dir_fd)), name)
        except OSError as e:
            if e.errno != errno.ELOOP:
                raise
            # a dangling symlink: create the file where it points, inside the root
            return make_target(rootfd, _link_target(rootfd, pfd, name, _links), False,
                               _links + 1)
        return native.openat2(rootfd, rel, O_PATH, 0, RESOLVE)
    finally:
        os.close(pfd)


def path_in_root(rootfd, fd):
    """Where `fd` is, as an absolute path inside the root (after every symlink)."""
    rel = os.path.relpath(os.readlink(fd_path(fd)), os.readlink(fd_path(rootfd)))
    return "/" if rel == "." else "/" + rel


PROC_SUPER_MAGIC = 0x9FA0


def open_proc(rel, flags, root="/proc", require_procfs=True):
    """Open root/rel for a write the runtime makes into procfs (sysctl, oom_score_adj,
    LSM attributes). CVE-2025-52881 / CVE-2019-16884 class: a mount over /proc or over the
    file would redirect that write (to a fake file, or to another procfs file); so /proc
    must be a procfs and the walk must not cross a mount (RESOLVE_NO_XDEV) nor leave it.
    `root` and `require_procfs` let unit tests use a plain directory."""
    pfd = os.open(root, O_PATH | os.O_DIRECTORY)
    try:
        if require_procfs and native.fstatfs_type(pfd) != PROC_SUPER_MAGIC:
            raise OSError(errno.EXDEV, "not a procfs", root)
        try:
            return native.openat2(pfd, rel, flags | os.O_CLOEXEC, 0,
                                  C.RESOLVE_BENEATH | C.RESOLVE_NO_XDEV
                                  | C.RESOLVE_NO_MAGICLINKS)
        except OSError as e:
            if e.errno == errno.EXDEV:
                raise OSError(errno.EXDEV, "something is mounted over it",
                              f"{root}/{rel}") from None
            raise OSError(e.errno, e.strerror, f"{root}/{rel}") from None
    finally:
        os.close(pfd)


def fd_path(fd):
    return f"/proc/self/fd/{fd}"


def is_dir_fd(fd):
    return stat.S_ISDIR(os.fstat(fd).st_mode)
