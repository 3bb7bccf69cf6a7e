"""Load config.json and check what pyrunc needs from it, naming the field at fault.

These are the checks on the hot path of create: cheap type and value checks written by
hand, each failing with a JSON pointer into config.json. The complete schema check (with
jsonschema, ~76 ms to import) is `pyrunc validate`.
"""
from pyrunc import oslite as os  # not os: see oslite.py

from pyrunc.errors import ConfigError

SUPPORTED_MAJOR = "1."
NS_TYPES = ("user", "pid", "network", "ipc", "uts", "cgroup", "time", "mount")
RLIMITS = ("RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE",
           "RLIMIT_RSS", "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS",
           "RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE",
           "RLIMIT_RTPRIO", "RLIMIT_RTTIME")
PROPAGATION = ("shared", "slave", "private", "unbindable", "rshared", "rslave", "rprivate",
               "runbindable")
# Fields pyrunc does not implement yet: asking for them is an error, never silently ignored.
UNSUPPORTED = (
    ("/linux/intelRdt", ("linux", "intelRdt")),
    ("/linux/memoryPolicy", ("linux", "memoryPolicy")),
    ("/linux/timeOffsets", ("linux", "timeOffsets")),
    ("/process/scheduler", ("process", "scheduler")),
    ("/process/ioPriority", ("process", "ioPriority")),
    ("/process/execCPUAffinity", ("process", "execCPUAffinity")),
)
U32 = 0xFFFFFFFF


def load(bundle):
    from pyrunc.jsonfast import loads
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise ConfigError("", "JSON specification file config.json not found") from None
    except OSError as e:
        raise ConfigError("", f"cannot read: {e.strerror}") from None
    try:
        config = loads(raw)
    except ValueError as e:
        raise ConfigError("", f"invalid JSON: {e}") from None
    except RecursionError:
        # Found by tests/robustness/test_fuzz.py: ~1000 nested arrays were an internal error.
        raise ConfigError("", "invalid JSON: nested too deeply") from None
    if not isinstance(config, dict):
        raise ConfigError("", "must be a JSON object")
    if b"\\u" in raw and (b"\\ud" in raw or b"\\uD" in raw or b"\\u0000" in raw):
        # Found by tests/robustness/test_fuzz.py: a \udXXX escape may be a lone surrogate,
        # a str no syscall can take (it ended in a traceback), and \u0000 a NUL, which every
        # path, name or argument cuts short ("ValueError: embedded null byte", no pointer).
        # Only when such an escape is present is the config walked, to name the field.
        try:
            bad = _bad_string(config, "")
        except RecursionError:
            raise ConfigError("", "invalid JSON: nested too deeply") from None
        if bad is not None:
            raise ConfigError(*bad)
    return config


def _bad_string(obj, pointer):
    """(pointer, why) of the first string or key with a lone surrogate, or with a NUL
    outside /annotations (opaque to pyrunc); else None."""
    if isinstance(obj, str):
        if "\0" in obj and not pointer.startswith("/annotations/"):
            return pointer, "a string must not contain NUL (\\u0000)"
        try:
            obj.encode()
        except UnicodeEncodeError:
            return pointer, "invalid Unicode: lone surrogate in a string"
        return None
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) \
        if isinstance(obj, list) else ()
    for k, v in items:
        p = f"{pointer}/{k}".replace("\0", "\\u0000")
        found = (_bad_string(k, p) if isinstance(k, str) else None) or _bad_string(v, p)
        if found is not None:
            return found
    return None


def _type(value, kind, pointer):
    ok = {
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
    }[kind]
    if not ok:
        raise ConfigError(pointer, f"must be {'an' if kind[0] in 'aio' else 'a'} "
                          f"{'integer' if kind == 'int' else 'boolean' if kind == 'bool' else kind}")
    return value


def _opt(obj, key, kind, pointer, default=None):
    if key not in obj or obj[key] is None:
        return default
    return _type(obj[key], kind, f"{pointer}/{key}")


def _strings(obj, key, pointer):
    arr = _opt(obj, key, "array", pointer, [])
    for i, s in enumerate(arr):
        _type(s, "string", f"{pointer}/{key}/{i}")
    return arr


def _u32(value, pointer):
    _type(value, "int", pointer)
    if not 0 <= value <= U32:
        raise ConfigError(pointer, "must be between 0 and 4294967295")
    return value


def check(config, need_process=True):
    """Raise ConfigError for the first problem found; return the list of warnings."""
    warnings = []
    ver = _type(config.get("ociVersion"), "string", "/ociVersion") if "ociVersion" in config \
        else None
    if ver is None:
        raise ConfigError("/ociVersion", "is required")
    if not ver.startswith(SUPPORTED_MAJOR):
        raise ConfigError("/ociVersion", f'unsupported version "{ver}": pyrunc supports 1.x')
    root = _type(config.get("root"), "object", "/root") if "root" in config else None
    if root is None:
        raise ConfigError("/root", "is required")
    path = _type(root.get("path"), "string", "/root/path") if "path" in root else ""
    if not path:
        raise ConfigError("/root/path", "is required")
    _opt(root, "readonly", "bool", "/root")
    _check_process(config, need_process, warnings)
    if (config.get("process") or {}).get("selinuxLabel"):
        from pyrunc import lsm
        lsm.check(config.get("process"))
    for key in ("hostname", "domainname"):
        # fuzz: a longer name failed in init as "hostname: Invalid argument", no pointer
        if len(_opt(config, key, "string", "", "").encode()) > 64:
            raise ConfigError(f"/{key}", "must be at most 64 bytes (HOST_NAME_MAX)")
    _check_mounts(config)
    linux = _opt(config, "linux", "object", "", {})
    _check_linux(config, linux, warnings)
    _opt(config, "annotations", "object", "")
    _check_hooks(config)
    for pointer, keys in UNSUPPORTED:
        obj = config
        for k in keys:
            obj = obj.get(k) if isinstance(obj, dict) else None
        if obj not in (None, {}, [], ""):
            raise ConfigError(pointer, "is not supported by pyrunc yet")
    return warnings


def _check_process(config, need_process, warnings):
    proc = _opt(config, "process", "object", "")
    if proc is None:
        if need_process:
            raise ConfigError("/process", "is required to create a container")
        return
    args = _strings(proc, "args", "/process")
    if not args:
        raise ConfigError("/process/args", "must contain at least one element")
    cwd = _opt(proc, "cwd", "string", "/process", "")
    if not cwd.startswith("/"):
        raise ConfigError("/process/cwd", "must be an absolute path")
    for i, e in enumerate(_strings(proc, "env", "/process")):
        if "=" not in e or e.startswith("=") or "\0" in e:
            raise ConfigError(f"/process/env/{i}", f'invalid environment variable "{e}"')
    user = _opt(proc, "user", "object", "/process", {})
    for key in ("uid", "gid", "umask"):
        if key in user and user[key] is not None:
            _u32(user[key], f"/process/user/{key}")
    for i, g in enumerate(_opt(user, "additionalGids", "array", "/process/user", [])):
        _u32(g, f"/process/user/additionalGids/{i}")
    _opt(proc, "terminal", "bool", "/process")
    size = _opt(proc, "consoleSize", "object", "/process", {})
    for k in ("height", "width"):
        if k in size:
            _u32(size[k], f"/process/consoleSize/{k}")
    _opt(proc, "noNewPrivileges", "bool", "/process")
    if "oomScoreAdj" in proc and proc["oomScoreAdj"] is not None:
        v = _type(proc["oomScoreAdj"], "int", "/process/oomScoreAdj")
        if not -1000 <= v <= 1000:
            raise ConfigError("/process/oomScoreAdj", "must be between -1000 and 1000")
    seen = set()
    for i, rl in enumerate(_opt(proc, "rlimits", "array", "/process", [])):
        p = f"/process/rlimits/{i}"
        _type(rl, "object", p)
        t = rl.get("type")
        if t not in RLIMITS:
            raise ConfigError(f"{p}/type", f'unknown rlimit "{t}"')
        if t in seen:
            raise ConfigError(f"{p}/type", f"duplicate rlimit {t}")
        seen.add(t)
        for k in ("soft", "hard"):
            v = _type(rl.get(k), "int", f"{p}/{k}")
            if not 0 <= v <= 0xFFFFFFFFFFFFFFFF:
                raise ConfigError(f"{p}/{k}", "must be an unsigned 64-bit integer")
    from pyrunc.capabilities import NAMES
    caps = _opt(proc, "capabilities", "object", "/process", {})
    for cset in ("bounding", "effective", "inheritable", "permitted", "ambient"):
        for i, name in enumerate(_strings(caps, cset, "/process/capabilities")):
            if name not in NAMES:
                warnings.append(f"unknown capability {name!r} in "
                                f"/process/capabilities/{cset}/{i} ignored")


def _check_mounts(config):
    for i, m in enumerate(_opt(config, "mounts", "array", "", [])):
        p = f"/mounts/{i}"
        _type(m, "object", p)
        dest = m.get("destination")
        if not isinstance(dest, str) or not dest:
            raise ConfigError(f"{p}/destination", "must be a non-empty string")
        _opt(m, "type", "string", p)
        _opt(m, "source", "string", p)
        _strings(m, "options", p)
        for key in ("uidMappings", "gidMappings"):
            for j, idm in enumerate(_opt(m, key, "array", p, [])):
                _type(idm, "object", f"{p}/{key}/{j}")
                for k in ("containerID", "hostID", "size"):
                    _u32(idm.get(k), f"{p}/{key}/{j}/{k}")
        opts = m.get("options") or ()
        idmapped = "idmap" in opts or "ridmap" in opts
        if bool(m.get("uidMappings")) != bool(m.get("gidMappings")):
            raise ConfigError(f"{p}/uidMappings", "an idmapped mount needs both uidMappings "
                              "and gidMappings")
        if m.get("uidMappings") and not idmapped:
            raise ConfigError(f"{p}/options", "uidMappings/gidMappings need the idmap or "
                              "ridmap option")
        if idmapped and m.get("type") != "bind" and "bind" not in opts \
                and "rbind" not in opts:
            raise ConfigError(f"{p}/options", "idmapped mounts are only supported for bind "
                              "mounts")


def _check_linux(config, linux, warnings):
    nss = {}
    for i, ns in enumerate(_opt(linux, "namespaces", "array", "/linux", [])):
        p = f"/linux/namespaces/{i}"
        _type(ns, "object", p)
        t = ns.get("type")
        if t not in NS_TYPES:
            raise ConfigError(f"{p}/type", f'namespace type "{t}" is not supported')
        if t in nss:
            raise ConfigError(f"{p}/type", f"duplicate namespace {t}")
        path = _opt(ns, "path", "string", p, "")
        if path and not os.path.exists(path):
            raise ConfigError(f"{p}/path", f"namespace path {path}: no such file or directory")
        nss[t] = path
    for key in ("uidMappings", "gidMappings"):
        maps = _opt(linux, key, "array", "/linux", [])
        if maps and "user" not in nss:
            raise ConfigError(f"/linux/{key}", "user namespace mappings need a user namespace")
        for i, m in enumerate(maps):
            p = f"/linux/{key}/{i}"
            _type(m, "object", p)
            for k in ("containerID", "hostID", "size"):
                _u32(m.get(k), f"{p}/{k}")
    if nss.get("user", 1) == "" and not linux.get("uidMappings"):
        raise ConfigError("/linux/uidMappings", "a new user namespace needs uid mappings")
    if nss.get("user", 1) == "" and not linux.get("gidMappings"):
        raise ConfigError("/linux/gidMappings", "a new user namespace needs gid mappings")
    if config.get("hostname") and nss.get("uts", 1) != "":
        raise ConfigError("/hostname", "setting the hostname needs a new UTS namespace")
    if config.get("domainname") and nss.get("uts", 1) != "":
        raise ConfigError("/domainname", "setting the domainname needs a new UTS namespace")
    if "mount" not in nss:
        raise ConfigError("/linux/namespaces", "a mount namespace is required")
    sysctl = _opt(linux, "sysctl", "object", "/linux", {})
    for key, val in sysctl.items():
        p = f"/linux/sysctl/{key}"
        _type(val, "string", p)
        _check_sysctl(key, nss, p)
    for key in ("maskedPaths", "readonlyPaths"):
        for i, path in enumerate(_strings(linux, key, "/linux")):
            if not path.startswith("/"):
                raise ConfigError(f"/linux/{key}/{i}", "must be an absolute path")
    prop = _opt(linux, "rootfsPropagation", "string", "/linux", "")
    if prop and prop not in PROPAGATION:
        raise ConfigError("/linux/rootfsPropagation", f'unknown propagation "{prop}"')
    for i, d in enumerate(_opt(linux, "devices", "array", "/linux", [])):
        p = f"/linux/devices/{i}"
        _type(d, "object", p)
        path = d.get("path")
        if not isinstance(path, str) or not path.startswith("/dev/"):
            raise ConfigError(f"{p}/path", "must be an absolute path under /dev")
        if d.get("type") not in ("c", "b", "u", "p"):
            raise ConfigError(f"{p}/type", f"unknown device type {d.get('type')!r}")
        for k in ("major", "minor"):
            if d.get("type") != "p":
                _type(d.get(k), "int", f"{p}/{k}")
        for k in ("fileMode", "uid", "gid"):
            if d.get(k) is not None:
                _u32(d[k], f"{p}/{k}")
    _check_net_devices(linux, nss)
    _opt(linux, "cgroupsPath", "string", "/linux")
    pers = _opt(linux, "personality", "object", "/linux")
    if pers is not None:
        if pers.get("domain") not in ("LINUX", "LINUX32"):
            raise ConfigError("/linux/personality/domain", 'must be "LINUX" or "LINUX32"')
        if pers.get("flags"):
            raise ConfigError("/linux/personality/flags", "personality flags are not supported "
                              "by pyrunc yet")
    _check_resources(_opt(linux, "resources", "object", "/linux"))
    if linux.get("devices") is not None:  # fuzz: a huge major was an OverflowError
        _check_shape(linux["devices"], _DEVICES, "/linux/devices")
    if linux.get("seccomp") is not None:
        from pyrunc.seccomp import check as check_seccomp
        check_seccomp(linux["seccomp"])


def _check_net_devices(linux, nss):
    """linux.netDevices: host name -> {"name": name in the container}. Names are checked
    the way the kernel would refuse them; the devices must go to a network namespace the
    container owns (a joined one outlives the container, and the host's is the host's)."""
    devs = _opt(linux, "netDevices", "object", "/linux", {})
    if not devs:
        return
    if nss.get("network", 1) != "":
        raise ConfigError("/linux/netDevices", "moving network devices needs a new network "
                          "namespace")
    seen = {}
    for host, dev in devs.items():
        p = "/linux/netDevices/" + host.replace("~", "~0").replace("/", "~1")
        if not valid_ifname(host):
            raise ConfigError(p, f"invalid network device name {host!r}")
        _type(dev, "object", p)
        name = _opt(dev, "name", "string", p, "") or host
        if not valid_ifname(name):
            raise ConfigError(f"{p}/name", f"invalid network device name {name!r}")
        if name in seen or name == "lo":
            raise ConfigError(f"{p}/name", f"network device name {name!r} is already used in "
                              "the container")
        seen[name] = host


def valid_ifname(name):
    """What the kernel's dev_valid_name() accepts: 1 to 15 bytes, not "." or "..", no
    "/", ":" or whitespace."""
    raw = name.encode(errors="surrogateescape")
    if not 0 < len(raw) < 16 or name in (".", ".."):
        return False
    return not any(c in "/:\0" or c.isspace() for c in name)


I64, U64 = ("int", -(1 << 63), (1 << 63) - 1), ("int", 0, (1 << 64) - 1)
U16, U32R = ("int", 0, 0xFFFF), ("int", 0, U32)
# linux.resources, field by field (runtime-spec types): found by the fuzz test, a string or
# an out-of-range number reached the cgroup code (TypeError, or a stage killed mid-way).
_DEVICE_RATE = {"major": I64, "minor": I64, "rate": U64}
_RESOURCES = {
    "memory": {"limit": I64, "reservation": I64, "swap": I64, "kernel": I64,
               "kernelTCP": I64, "swappiness": U64, "disableOOMKiller": "bool",
               "useHierarchy": "bool", "checkBeforeUpdate": "bool"},
    "cpu": {"shares": U64, "quota": I64, "burst": U64, "period": U64,
            "realtimeRuntime": I64, "realtimePeriod": U64, "cpus": "string",
            "mems": "string", "idle": I64},
    "pids": {"limit": I64},
    "blockIO": {"weight": U16, "leafWeight": U16,
                "weightDevice": [{"major": I64, "minor": I64, "weight": U16,
                                  "leafWeight": U16}],
                "throttleReadBpsDevice": [_DEVICE_RATE],
                "throttleWriteBpsDevice": [_DEVICE_RATE],
                "throttleReadIOPSDevice": [_DEVICE_RATE],
                "throttleWriteIOPSDevice": [_DEVICE_RATE]},
    "hugepageLimits": [{"pageSize": "string", "limit": U64}],
    "network": {"classID": U32R, "priorities": [{"name": "string", "priority": U32R}]},
    "devices": [{"allow": "bool", "type": "string", "major": I64, "minor": I64,
                 "access": "string"}],
    "rdma": "object",
    "unified": "object",
}


_DEVICES = [{"path": "string", "type": "string", "major": U32R, "minor": U32R,
             "fileMode": U32R, "uid": U32R, "gid": U32R}]


def _check_resources(res):
    if res:
        _check_shape(res, _RESOURCES, "/linux/resources")


def _check_shape(value, shape, pointer):
    """Type (and integer range) of `value` against `shape`: a kind name, an (int, lo, hi)
    range, {key: shape} for an object (other keys are left alone) or [shape] for an array."""
    if isinstance(shape, dict):
        _type(value, "object", pointer)
        for k, sub in shape.items():
            if value.get(k) is not None:
                _check_shape(value[k], sub, f"{pointer}/{k}")
    elif isinstance(shape, list):
        for i, item in enumerate(_type(value, "array", pointer)):
            _check_shape(item, shape[0], f"{pointer}/{i}")
    elif isinstance(shape, tuple):
        _type(value, "int", pointer)
        if not shape[1] <= value <= shape[2]:
            raise ConfigError(pointer, f"must be between {shape[1]} and {shape[2]}")
    else:
        _type(value, shape, pointer)
    if pointer == "/linux/resources/unified":
        for k, v in value.items():
            _type(v, "string", f"{pointer}/{k}")


_IPC_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced")


def _is_host_ns(path, kind):
    """Whether the namespace file `path` is this process's own (the host's) namespace."""
    try:
        a = os.stat(path)
        b = os.stat(f"/proc/self/ns/{kind}")
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _check_sysctl(key, nss, pointer):
    # A namespace joined by path counts as the container's own unless it is the host's, as in
    # runc: Kubernetes pods set net.* sysctls on the sandbox, whose network namespace
    # containerd creates and pins beforehand and passes as a path.
    if key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
        if "ipc" not in nss or (nss["ipc"] and _is_host_ns(nss["ipc"], "ipc")):
            raise ConfigError(pointer, "sysctl needs a new IPC namespace")
    elif key.startswith("net."):
        if "network" not in nss or (nss["network"] and _is_host_ns(nss["network"], "net")):
            raise ConfigError(pointer, "sysctl needs a new network namespace")
    elif key in ("kernel.hostname", "kernel.domainname"):
        if nss.get("uts", 1) != "":
            raise ConfigError(pointer, "sysctl needs a new UTS namespace")
        raise ConfigError(pointer, "use /hostname or /domainname instead of this sysctl")
    else:
        raise ConfigError(pointer, "sysctl is not in a namespace the container owns")


def _check_hooks(config):
    from pyrunc.hooks import KINDS
    hooks = _opt(config, "hooks", "object", "", {})
    for kind in KINDS:
        for i, h in enumerate(_opt(hooks, kind, "array", "/hooks", [])):
            p = f"/hooks/{kind}/{i}"
            _type(h, "object", p)
            path = h.get("path")
            if not isinstance(path, str) or not path.startswith("/"):
                raise ConfigError(f"{p}/path", "must be an absolute path")
            _strings(h, "args", p)
            _strings(h, "env", p)
            t = _opt(h, "timeout", "int", p)
            if t is not None and t <= 0:
                raise ConfigError(f"{p}/timeout", "must be greater than zero")
