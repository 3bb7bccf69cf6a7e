"""The container's filesystem: mounts, /dev, pivot_root, read-only and masked paths.

Runs in the container's init, in its new mount namespace, in this order (runc's): make `/`
a recursive slave so nothing propagates back to the host, bind the rootfs on itself, mount
config.json's mounts in order, make /dev, pivot_root, then the steps that need the final
view (rootfsPropagation, read-only root, masked and read-only paths).
"""
import errno
from pyrunc import oslite as os  # not os: see oslite.py
import _stat as stat  # the C module: stat.py only re-exports it (from the stdlib directory)

from pyrunc import devices, lsm, native, pathsafe
from pyrunc.errors import ConfigError, MountError
from pyrunc.mounts import PROPAGATION
from pyrunc.native import C


def _mount(src, target, fstype, flags, data=None, what=None):
    try:
        native.mount(src, target, fstype, flags, data)
    except OSError as e:
        raise MountError(f"mount src={src}, dst={what or target}, type={fstype or ''}, "
                         f"flags=0x{flags:x}", e) from None


def prepare(plan):
    """Everything before pivot_root. `plan` is pyrunc.process.plan.Plan."""
    rootfs = plan.rootfs
    _mount(None, "/", None, C.MS_REC | C.MS_SLAVE, what="/")
    _mount(rootfs, rootfs, "bind", C.MS_BIND | C.MS_REC)
    rootfd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        dev_is_bind = False
        for m in plan.mounts:
            mount_one(rootfd, m, plan)
            if m.destination.rstrip("/") == "/dev" and m.is_bind:
                dev_is_bind = True
        if not dev_is_bind:
            userns = "user" in plan.new_namespaces or "user" in plan.join_namespaces
            devices.create_devices(rootfd, devices.device_list(plan.config), userns)
            devices.create_links(rootfd)
    finally:
        os.close(rootfd)


def mount_one(rootfd, m, plan):
    dest = m.destination if m.destination.startswith("/") else "/" + m.destination
    if m.type == "cgroup":
        return _mount_cgroup(rootfd, m, plan)
    if m.is_bind:
        try:
            # an idmapped source is already open (the container's user may not reach it)
            st = os.fstat(m.tree_fd) if m.tree_fd >= 0 else os.stat(m.source)
            src_is_dir = stat.S_ISDIR(st.st_mode)
        except OSError as e:
            raise MountError(f"mount src={m.source}, dst={dest}: stat source", e) from None
    else:
        src_is_dir = True
    tfd = pathsafe.make_target(rootfd, dest, src_is_dir)
    try:
        if m.type != "proc":
            _check_proc_mount(m, pathsafe.path_in_root(rootfd, tfd))
        target = pathsafe.fd_path(tfd)
        if m.tree_fd >= 0:
            # idmapped: the parent made the detached tree (pyrunc.idmap); attach it here.
            try:
                native.move_mount(m.tree_fd, "", tfd, "",
                                  C.MOVE_MOUNT_F_EMPTY_PATH | C.MOVE_MOUNT_T_EMPTY_PATH)
            except OSError as e:
                raise MountError(f"move_mount idmapped {m.source} to dst={dest}", e) from None
            finally:
                os.close(m.tree_fd)
                m.tree_fd = -1
        if m.is_bind:
            if not m.idmap:
                _mount(m.source, target, None, C.MS_BIND | (m.flags & C.MS_REC), what=dest)
            extra = m.flags & ~(C.MS_BIND | C.MS_REC | C.MS_REMOUNT)
            if extra:
                # Bind ignores other flags: apply them with a remount of the new mount,
                # opened anew because tfd still names the mount underneath.
                nfd = pathsafe.open_in_root(rootfd, dest)
                try:
                    _mount(None, pathsafe.fd_path(nfd), None,
                           C.MS_BIND | C.MS_REMOUNT | extra | _locked_flags(nfd), what=dest)
                finally:
                    os.close(nfd)
        else:
            # tmpcopyup: keep a readable fd of the directory the tmpfs will hide, to copy from.
            below = (os.open(target, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                     if m.copyup else None)
            data = lsm.mount_data(m.data, m.type, False,
                                  (plan.config.get("linux") or {}).get("mountLabel"))
            try:
                try:
                    _mount(m.source or m.type, target, m.type, m.flags, data or None, what=dest)
                except MountError as e:
                    if data == m.data or e.errno != errno.EINVAL:
                        raise
                    raise ConfigError("/linux/mountLabel", f"{e} (the context= option needs "
                                      "SELinux)") from None
                if below is not None:
                    nfd = pathsafe.open_in_root(rootfd, dest)
                    try:
                        _copy_tree(below, nfd)
                    except OSError as e:
                        raise MountError(f"tmpcopyup dst={dest}", e) from None
                    finally:
                        os.close(nfd)
            finally:
                if below is not None:
                    os.close(below)
        if m.propagation or m.attr_set or m.attr_clr:
            nfd = pathsafe.open_in_root(rootfd, dest)
            try:
                for p in m.propagation:
                    _mount(None, pathsafe.fd_path(nfd), None, p, what=dest)
                if m.attr_set or m.attr_clr:
                    try:
                        native.mount_setattr(nfd, "", C.AT_EMPTY_PATH | C.AT_RECURSIVE,
                                             m.attr_set, m.attr_clr)
                    except OSError as e:
                        raise MountError(f"mount_setattr dst={dest}", e) from None
            finally:
                os.close(nfd)
    finally:
        os.close(tfd)


_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _copy_tree(src, dst):
    """Copy the contents of directory fd `src` into directory fd `dst`: directories, files,
    symlinks, device nodes, fifos and sockets with mode, owner and times (as runc's
    tmpcopyup). Hard links become separate copies; xattrs are not copied."""
    with os.scandir(src) as it:
        names = [e.name for e in it]
    for name in names:
        st = os.stat(name, dir_fd=src, follow_symlinks=False)
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            os.mkdir(name, 0o700, dir_fd=dst)
            sfd = os.open(name, _DIR, dir_fd=src)
            try:
                dfd = os.open(name, _DIR, dir_fd=dst)
                try:
                    _copy_tree(sfd, dfd)
                finally:
                    os.close(dfd)
            finally:
                os.close(sfd)
        elif stat.S_ISREG(mode):
            sfd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src)
            try:
                dfd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600,
                              dir_fd=dst)
                try:
                    while os.sendfile(dfd, sfd, None, 1 << 20):
                        pass
                finally:
                    os.close(dfd)
            finally:
                os.close(sfd)
        elif stat.S_ISLNK(mode):
            os.symlink(os.readlink(name, dir_fd=src), name, dir_fd=dst)
        else:
            os.mknod(name, mode, st.st_rdev, dir_fd=dst)
        os.chown(name, st.st_uid, st.st_gid, dir_fd=dst, follow_symlinks=False)
        if not stat.S_ISLNK(mode):
            os.chmod(name, stat.S_IMODE(mode), dir_fd=dst)
        os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dst, follow_symlinks=False)


# Files under /proc that lxcfs emulates: the only mounts allowed inside /proc (runc's list).
LXCFS_PROC = ("/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat",
              "/proc/swaps", "/proc/uptime", "/proc/loadavg", "/proc/slabinfo",
              "/proc/net/dev", "/proc/sys/kernel/ns_last_pid")


def _check_proc_mount(m, where):
    """CVE-2019-16884 class: something else than procfs on /proc, or anything mounted
    inside it, would let the container feed fake files to whoever writes there after us
    (LSM labels in /proc/self/attr, sysctls, oom_score_adj). As runc: /proc takes only a
    procfs (a proc mount, or a bind of one), inside /proc only the lxcfs files. `where` is
    the target after symlinks, so a link to /proc in the image does not get around it."""
    if where != "/proc" and not where.startswith("/proc/"):
        return
    if where == "/proc":
        if m.is_bind and _is_procfs(m.source):
            return
        why = "it is not of type proc"
    elif where in LXCFS_PROC:
        return
    else:
        why = "it is inside /proc"
    raise ConfigError(f"/mounts/{m.index}/destination",
                      f'"{m.destination}" cannot be mounted because {why}')


def _is_procfs(path):
    """The filesystem type of `path`, from mountinfo (Python has no statfs)."""
    try:
        dev = os.stat(path).st_dev
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                major, minor = fields[2].split(":")
                if os.makedev(int(major), int(minor)) == dev:
                    return fields[fields.index("-") + 1] == "proc"
    except (OSError, ValueError, IndexError):
        pass
    return False


def _locked_flags(fd):
    """nosuid/nodev/noexec of a mount, which a bind remount must repeat to keep them."""
    f = os.fstatvfs(fd).f_flag
    out = 0
    for st_flag, ms_flag in ((os.ST_NOSUID, C.MS_NOSUID), (os.ST_NODEV, C.MS_NODEV),
                             (os.ST_NOEXEC, C.MS_NOEXEC), (os.ST_RDONLY, C.MS_RDONLY),
                             (os.ST_NOATIME, C.MS_NOATIME),
                             (os.ST_NODIRATIME, C.MS_NODIRATIME),
                             (os.ST_RELATIME, C.MS_RELATIME)):
        if f & st_flag:
            out |= ms_flag
    return out


def _mount_cgroup(rootfd, m, plan):
    """cgroup v1: a tmpfs with one bind of the container's cgroup per hierarchy;
    cgroup v2: a cgroup2 mount when the container has its own cgroup namespace."""
    dest = m.destination
    cg = plan.cgroup_saved or {}
    tfd = pathsafe.make_target(rootfd, dest, True)
    try:
        if cg.get("driver") == "v2":
            if "cgroup" in plan.new_namespaces:
                _mount("cgroup2", pathsafe.fd_path(tfd), "cgroup2", m.flags, what=dest)
            else:
                _mount(cg["path"], pathsafe.fd_path(tfd), None, C.MS_BIND | m.flags, what=dest)
            return
        _mount("tmpfs", pathsafe.fd_path(tfd), "tmpfs", m.flags & ~C.MS_RDONLY, "mode=755",
               what=dest)
    finally:
        os.close(tfd)
    ro = m.flags & C.MS_RDONLY
    for key, path in sorted((cg.get("paths") or {}).items()):
        if key == "unified":
            # A hybrid host's cgroup2 mount is joined (hugetlb lives there) but, as with
            # runc 1.1, not shown in the container: only the v1 hierarchies are.
            continue
        name = key[len("name="):] if key.startswith("name=") else key
        sub = f"{dest.rstrip('/')}/{name}"
        sfd = pathsafe.make_target(rootfd, sub, True)
        try:
            _mount(path, pathsafe.fd_path(sfd), None, C.MS_BIND | C.MS_REC, what=sub)
        finally:
            os.close(sfd)
        nfd = pathsafe.open_in_root(rootfd, sub)
        try:
            _mount(None, pathsafe.fd_path(nfd), None,
                   C.MS_BIND | C.MS_REMOUNT | C.MS_NOSUID | C.MS_NODEV | C.MS_NOEXEC
                   | (C.MS_RDONLY if ro else 0), what=sub)
        finally:
            os.close(nfd)
    if ro:
        nfd = pathsafe.open_in_root(rootfd, dest)
        try:
            _mount(None, pathsafe.fd_path(nfd), None,
                   C.MS_REMOUNT | C.MS_RDONLY | (m.flags & ~C.MS_RDONLY), what=dest)
        finally:
            os.close(nfd)


def pivot(plan):
    """Make the rootfs `/`: pivot_root, or MS_MOVE + chroot with --no-pivot."""
    os.chdir(plan.rootfs)
    if plan.no_pivot:
        _mount(plan.rootfs, "/", None, C.MS_MOVE, what="/")
        os.chroot(".")
    else:
        try:
            native.pivot_root(".", ".")
        except OSError as e:
            raise MountError("pivot_root", e) from None
        # The old root is now stacked under "."; detach it without propagating to the host.
        _mount(None, ".", None, C.MS_SLAVE | C.MS_REC, what="old root")
        try:
            native.umount2(".", C.MNT_DETACH)
        except OSError as e:
            raise MountError("unmount old root", e) from None
    os.chdir("/")


def apply_propagation(plan):
    """rootfsPropagation on `/`, last of the mount steps: an unbindable `/` would make the
    self-binds of readonlyPaths fail."""
    prop = (plan.config.get("linux") or {}).get("rootfsPropagation")
    if prop:
        _mount(None, "/", None, PROPAGATION[prop], what="/")


def finish(plan):
    """Steps that need the container's own view of `/`."""
    if (plan.config.get("root") or {}).get("readonly"):
        fd = os.open("/", os.O_PATH | os.O_CLOEXEC)
        try:
            _mount(None, "/", None, C.MS_BIND | C.MS_REMOUNT | C.MS_RDONLY | _locked_flags(fd),
                   what="/")
        finally:
            os.close(fd)


def readonly_path(path):
    try:
        fd = pathsafe.open_in_root(_root_fd(), path)
    except FileNotFoundError:
        return
    try:
        _mount(pathsafe.fd_path(fd), pathsafe.fd_path(fd), None, C.MS_BIND | C.MS_REC, what=path)
    finally:
        os.close(fd)
    fd = pathsafe.open_in_root(_root_fd(), path)
    try:
        _mount(None, pathsafe.fd_path(fd), None,
               C.MS_BIND | C.MS_REMOUNT | C.MS_RDONLY | _locked_flags(fd), what=path)
    finally:
        os.close(fd)


def mask_path(path, devnull_fd):
    try:
        fd = pathsafe.open_in_root(_root_fd(), path)
    except (FileNotFoundError, NotADirectoryError):
        return
    try:
        if pathsafe.is_dir_fd(fd):
            _mount("tmpfs", pathsafe.fd_path(fd), "tmpfs", C.MS_RDONLY,
                   "nr_blocks=1,nr_inodes=1", what=path)
        else:
            _mount(pathsafe.fd_path(devnull_fd), pathsafe.fd_path(fd), None, C.MS_BIND, what=path)
    finally:
        os.close(fd)


_ROOT_FD = None


def _root_fd():
    global _ROOT_FD
    if _ROOT_FD is None:
        _ROOT_FD = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    return _ROOT_FD


def open_devnull():
    """An fd of the container's /dev/null, checked to really be the null device: masking a
    path with a /dev/null that the image swapped for a symlink would expose the link's target
    (CVE-2025-31133)."""
    fd = pathsafe.open_in_root(_root_fd(), "/dev/null")
    st = os.fstat(fd)
    if not stat.S_ISCHR(st.st_mode) or st.st_rdev != os.makedev(1, 3):
        os.close(fd)
        raise MountError("mask paths", OSError(0, "/dev/null is not the null device"))
    return fd


def bind_console(slave_fd):
    """Bind the pty slave over /dev/console (created as an empty file if missing).
    CVE-2025-52565 class: a /dev/console that is a symlink (in a /dev bound from the
    image) would send the bind elsewhere, e.g. over a procfs file: refused."""
    try:
        st = os.stat("dev/console", dir_fd=_root_fd(), follow_symlinks=False)
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISLNK(st.st_mode):
        raise MountError("bind the console", OSError(errno.ELOOP, "/dev/console is a "
                                                     "symlink"))
    fd = pathsafe.make_target(_root_fd(), "/dev/console", False)
    try:
        _mount(pathsafe.fd_path(slave_fd), pathsafe.fd_path(fd), None, C.MS_BIND,
               what="/dev/console")
    finally:
        os.close(fd)
