"""Idmapped bind mounts: mount options `idmap` / `ridmap` with the mount's uidMappings and
gidMappings (runtime-spec 1.2), or the container's own user namespace mappings.

Made by the CLI, on the host, before it forks the container's setup processes:
open_tree(OPEN_TREE_CLONE) gives a detached copy of the source, mount_setattr
(MOUNT_ATTR_IDMAP) gives it the ids of a throwaway user namespace that holds the mappings
(the kernel allows that only on a detached mount, and only from a namespace that may write
those maps: the host's), and init attaches it at the destination with move_mount
(rootfs.mount_one). As for the container's user namespace, each line is "containerID
hostID size": a file owned by containerID on the filesystem is seen as hostID through the
mount, and a file made through the mount as hostID is stored as containerID.

`ridmap` maps every submount of an `rbind` too; `idmap` only the top one. Imported only
when a mount asks for it (not on the ordinary create path).
"""
import errno
import os

from pyrunc import native
from pyrunc.errors import ConfigError
from pyrunc.native import C


def open_trees(plan):
    """Give every idmapped MountSpec in plan.mounts its detached, idmapped tree_fd."""
    linux = plan.config.get("linux") or {}
    for m in plan.mounts:
        if not m.idmap:
            continue
        uids, gids = m.uid_mappings, m.gid_mappings
        if not uids:
            if "user" not in plan.new_namespaces:
                raise ConfigError(f"/mounts/{m.index}/options", f'"{m.idmap}" without '
                                  "uidMappings/gidMappings needs the container's own user "
                                  "namespace")
            uids, gids = linux.get("uidMappings") or [], linux.get("gidMappings") or []
        userns = userns_fd(uids, gids, f"/mounts/{m.index}")
        try:
            m.tree_fd = _idmapped_tree(m, userns)
        finally:
            os.close(userns)


def _idmapped_tree(m, userns):
    pointer = f"/mounts/{m.index}"
    flags = C.OPEN_TREE_CLONE | C.OPEN_TREE_CLOEXEC | (C.AT_RECURSIVE if m.flags & C.MS_REC
                                                        else 0)
    try:
        fd = native.open_tree(C.AT_FDCWD, m.source, flags)
    except OSError as e:
        raise ConfigError(f"{pointer}/source", f"open_tree {m.source}: {e.strerror}") from None
    try:
        native.mount_setattr(fd, "", C.AT_EMPTY_PATH
                             | (C.AT_RECURSIVE if m.idmap == "ridmap" else 0),
                             C.MOUNT_ATTR_IDMAP, 0, 0, userns)
    except OSError as e:
        os.close(fd)
        why = e.strerror
        if e.errno == errno.EINVAL:
            why += " (the filesystem of the source, or a submount with ridmap, does not " \
                   "support idmapped mounts on this kernel)"
        raise ConfigError(f"{pointer}/options", f"{m.idmap} of {m.source}: {why}") from None
    return fd


def userns_fd(uid_mappings, gid_mappings, pointer="/mounts"):
    """An fd of a new user namespace with these mappings; no process stays in it."""
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the holder: unshare, tell the parent, wait until it has the fd
        try:
            os.close(ready_r)
            os.close(done_w)
            native.unshare(C.CLONE_NEWUSER)
            os.write(ready_w, b"1")
            os.read(done_r, 1)
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(done_r)
    try:
        if os.read(ready_r, 1) != b"1":
            raise ConfigError(pointer, "idmapped mount: cannot create a user namespace")
        for name, maps in (("uid_map", uid_mappings), ("gid_map", gid_mappings)):
            lines = "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in maps)
            try:
                with open(f"/proc/{pid}/{name}", "w") as f:
                    f.write(lines)
            except OSError as e:
                raise ConfigError(pointer, f"idmapped mount: write {name} "
                                  f"{lines.strip()!r}: {e.strerror}") from None
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(ready_r)
        os.close(done_w)
        os.waitpid(pid, 0)
