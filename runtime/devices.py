"""/dev inside the container: default device nodes, linux.devices, and the usual links."""
from pyrunc import oslite as os  # not os: see oslite.py
import _stat as stat  # the C module: stat.py only re-exports it (from the stdlib directory)

from pyrunc import native, pathsafe
from pyrunc.errors import MountError
from pyrunc.native import C

# path, type, major, minor: created 0666 root:root (runtime-spec "Default Devices")
DEFAULT_DEVICES = (
    ("/dev/null", "c", 1, 3), ("/dev/zero", "c", 1, 5), ("/dev/full", "c", 1, 7),
    ("/dev/random", "c", 1, 8), ("/dev/urandom", "c", 1, 9), ("/dev/tty", "c", 5, 0),
)
LINKS = (
    ("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr"),
    ("pts/ptmx", "/dev/ptmx"),
)
_TYPES = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


def device_list(config):
    """Default devices first, then linux.devices (a config entry for the same path wins)."""
    out = {}
    for path, typ, major, minor in DEFAULT_DEVICES:
        out[path] = {"path": path, "type": typ, "major": major, "minor": minor,
                     "fileMode": 0o666, "uid": 0, "gid": 0}
    for d in (config.get("linux") or {}).get("devices") or ():
        out[d["path"]] = d
    return list(out.values())


def create_devices(rootfd, devs, in_userns=False):
    """Create each device node of `devs` (device_list); a parent directory is opened once
    for all the nodes in it (the default six share /dev)."""
    dirs = {}
    try:
        for dev in devs:
            parent, _, name = dev["path"].rstrip("/").rpartition("/")
            dfd = dirs.get(parent)
            if dfd is None:
                pfd = pathsafe.mkdir_all(rootfd, parent)
                try:
                    dfd = dirs[parent] = os.open(pathsafe.fd_path(pfd),
                                                 os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                finally:
                    os.close(pfd)
            _create_device(dfd, name, dev, in_userns)
    finally:
        for dfd in dirs.values():
            os.close(dfd)


def _create_device(dfd, name, dev, in_userns):
    kind = _TYPES[dev["type"]]
    mode = dev.get("fileMode")
    mode = 0o666 if mode is None else mode
    devnum = os.makedev(dev.get("major", 0), dev.get("minor", 0))
    try:
        st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
    except FileNotFoundError:
        st = None
    if st is not None:
        if stat.S_IFMT(st.st_mode) != kind or (kind != stat.S_IFIFO and st.st_rdev != devnum):
            # The image put something else here (maybe a symlink to a host file):
            # replace it rather than trusting it.
            os.unlink(name, dir_fd=dfd)
            st = None
    if st is None and in_userns:
        # mknod is refused in a user namespace: bind the host's node instead.
        _bind_host_node(dfd, name, dev["path"])
        return
    if st is None:
        os.mknod(name, kind | (mode & 0o7777), devnum, dir_fd=dfd)
    os.chmod(name, mode & 0o7777, dir_fd=dfd)  # mknod's mode is cut by the umask
    os.chown(name, dev.get("uid") or 0, dev.get("gid") or 0, dir_fd=dfd,
             follow_symlinks=False)


def create_links(rootfd):
    dfd_p = pathsafe.mkdir_all(rootfd, "/dev")
    dfd = os.open(pathsafe.fd_path(dfd_p), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    os.close(dfd_p)
    try:
        links = list(LINKS)
        if os.path.exists("/proc/kcore"):
            links.append(("/proc/kcore", "/dev/core"))
        for target, link in links:
            name = link[len("/dev/"):]
            if name == "ptmx":
                # As runc's setupPtmx: /dev/ptmx is always the link to this devpts instance,
                # even where linux.devices made a node (ctr and podman --privileged list the host's).
                try:
                    os.unlink(name, dir_fd=dfd)
                except FileNotFoundError:
                    pass
            try:
                os.symlink(target, name, dir_fd=dfd)
            except FileExistsError:
                pass
    finally:
        os.close(dfd)


def _bind_host_node(dfd, name, path):
    os.close(os.open(name, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644,
                     dir_fd=dfd))
    target = f"{pathsafe.fd_path(dfd)}/{name}"
    try:
        native.mount(path, target, None, C.MS_BIND)
    except OSError as e:
        raise MountError(f"bind {path} into the container", e) from None
