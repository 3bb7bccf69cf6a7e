"""OCI mount options -> mount(2) flags, propagation, recursive attributes and data."""
from pyrunc.native import C

# option -> (clear?, flag)
FLAGS = {
    "async": (True, C.MS_SYNCHRONOUS), "atime": (True, C.MS_NOATIME),
    "bind": (False, C.MS_BIND), "defaults": (False, 0), "dev": (True, C.MS_NODEV),
    "diratime": (True, C.MS_NODIRATIME), "dirsync": (False, C.MS_DIRSYNC),
    "exec": (True, C.MS_NOEXEC), "iversion": (False, C.MS_I_VERSION),
    "lazytime": (False, C.MS_LAZYTIME), "loud": (True, C.MS_SILENT),
    "mand": (False, C.MS_MANDLOCK), "noatime": (False, C.MS_NOATIME),
    "nodev": (False, C.MS_NODEV), "nodiratime": (False, C.MS_NODIRATIME),
    "noexec": (False, C.MS_NOEXEC), "noiversion": (True, C.MS_I_VERSION),
    "nolazytime": (True, C.MS_LAZYTIME), "nomand": (True, C.MS_MANDLOCK),
    "norelatime": (True, C.MS_RELATIME), "nostrictatime": (True, C.MS_STRICTATIME),
    "nosuid": (False, C.MS_NOSUID), "nosymfollow": (False, C.MS_NOSYMFOLLOW),
    "rbind": (False, C.MS_BIND | C.MS_REC), "relatime": (False, C.MS_RELATIME),
    "remount": (False, C.MS_REMOUNT), "ro": (False, C.MS_RDONLY), "rw": (True, C.MS_RDONLY),
    "silent": (False, C.MS_SILENT), "strictatime": (False, C.MS_STRICTATIME),
    "suid": (True, C.MS_NOSUID), "symfollow": (True, C.MS_NOSYMFOLLOW),
    "sync": (False, C.MS_SYNCHRONOUS),
}

PROPAGATION = {
    "private": C.MS_PRIVATE, "rprivate": C.MS_PRIVATE | C.MS_REC,
    "shared": C.MS_SHARED, "rshared": C.MS_SHARED | C.MS_REC,
    "slave": C.MS_SLAVE, "rslave": C.MS_SLAVE | C.MS_REC,
    "unbindable": C.MS_UNBINDABLE, "runbindable": C.MS_UNBINDABLE | C.MS_REC,
}

# recursive option -> (clear?, MOUNT_ATTR_*), applied with mount_setattr(AT_RECURSIVE)
RECURSIVE = {
    "rro": (False, C.MOUNT_ATTR_RDONLY), "rrw": (True, C.MOUNT_ATTR_RDONLY),
    "rnosuid": (False, C.MOUNT_ATTR_NOSUID), "rsuid": (True, C.MOUNT_ATTR_NOSUID),
    "rnodev": (False, C.MOUNT_ATTR_NODEV), "rdev": (True, C.MOUNT_ATTR_NODEV),
    "rnoexec": (False, C.MOUNT_ATTR_NOEXEC), "rexec": (True, C.MOUNT_ATTR_NOEXEC),
    "rnodiratime": (False, C.MOUNT_ATTR_NODIRATIME), "rdiratime": (True, C.MOUNT_ATTR_NODIRATIME),
    "rnosymfollow": (False, C.MOUNT_ATTR_NOSYMFOLLOW),
    "rsymfollow": (True, C.MOUNT_ATTR_NOSYMFOLLOW),
    "rrelatime": (False, C.MOUNT_ATTR_RELATIME), "rnorelatime": (True, C.MOUNT_ATTR__ATIME),
    "rnoatime": (False, C.MOUNT_ATTR_NOATIME), "ratime": (True, C.MOUNT_ATTR__ATIME),
    "rstrictatime": (False, C.MOUNT_ATTR_STRICTATIME),
    "rnostrictatime": (True, C.MOUNT_ATTR__ATIME),
}

# Options pyrunc knows but does not implement yet: an error, never silently dropped.
UNSUPPORTED = ()
# Extensions that are not mount(2) flags: a tmpfs that starts with a copy of what the mount
# point held (podman adds it to every --tmpfs and to the tmpfs mounts of --read-only).
EXTENSIONS = ("tmpcopyup",)
IDMAP = ("idmap", "ridmap")  # idmapped bind mounts (pyrunc.idmap)


class MountSpec:
    """One OCI mount, parsed once in the parent."""
    __slots__ = ("destination", "type", "source", "flags", "propagation", "attr_set",
                 "attr_clr", "data", "index", "copyup", "idmap", "uid_mappings",
                 "gid_mappings", "tree_fd")

    def __init__(self, m, index):
        self.index = index
        self.destination = m["destination"]
        self.source = m.get("source") or ""
        self.type = m.get("type") or ""
        self.flags = 0
        self.propagation = []
        self.attr_set = 0
        self.attr_clr = 0
        self.copyup = False
        self.idmap = None  # "idmap" or "ridmap"
        self.uid_mappings = m.get("uidMappings") or []
        self.gid_mappings = m.get("gidMappings") or []
        self.tree_fd = -1  # the idmapped detached mount, made by the parent
        data = []
        for opt in m.get("options") or ():
            if opt in FLAGS:
                clear, flag = FLAGS[opt]
                self.flags = self.flags & ~flag if clear else self.flags | flag
            elif opt in PROPAGATION:
                self.propagation.append(PROPAGATION[opt])
            elif opt in RECURSIVE:
                clear, attr = RECURSIVE[opt]
                if clear:
                    self.attr_clr |= attr
                else:
                    self.attr_set |= attr
            elif opt == "tmpcopyup":
                self.copyup = True
            elif opt in IDMAP:
                self.idmap = opt
            elif opt in UNSUPPORTED:
                from pyrunc.errors import ConfigError
                raise ConfigError(f"/mounts/{index}/options", f'mount option "{opt}" is not '
                                  "supported by pyrunc yet")
            else:
                data.append(opt)
        if self.type == "bind":
            self.flags |= C.MS_BIND
        if self.copyup and (self.type != "tmpfs" or self.flags & C.MS_BIND):
            from pyrunc.errors import ConfigError
            raise ConfigError(f"/mounts/{index}/options", 'mount option "tmpcopyup" needs a '
                              "tmpfs mount")
        self.data = ",".join(data)

    @property
    def is_bind(self):
        return bool(self.flags & C.MS_BIND)
