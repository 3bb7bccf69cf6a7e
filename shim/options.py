"""Runtime options from containerd: containerd.runc.v1.Options or CRI's runtimeoptions.v1."""
import os

from pyrunc_shim.jsonlite import dumps, loads

from pyrunc_shim.ttrpc import INVALID_ARGUMENT, RpcError

DEFAULT_BINARY = "pyrunc"
DEFAULT_ROOT = "/run/containerd/pyrunc"
# Lets a deployment (or the tests) pick the runtime without touching containerd's config.
BINARY_ENV = "PYRUNC_SHIM_RUNTIME"

# TOML keys of a CRI runtime's options table -> attribute names.
TOML_KEYS = {
    "BinaryName": "binary_name", "Root": "root", "SystemdCgroup": "systemd_cgroup",
    "NoPivotRoot": "no_pivot_root", "NoNewKeyring": "no_new_keyring", "IoUid": "io_uid",
    "IoGid": "io_gid", "ShimCgroup": "shim_cgroup", "CriuImagePath": "criu_image_path",
    "CriuWorkPath": "criu_work_path",
}


class Options:
    __slots__ = tuple(TOML_KEYS.values())

    def __init__(self, **kw):
        for name in self.__slots__:
            setattr(self, name, kw.get(name, "" if name in ("binary_name", "root", "shim_cgroup",
                                                                 "criu_image_path", "criu_work_path")
                                       else (0 if name in ("io_uid", "io_gid") else False)))

    @property
    def binary(self):
        return self.binary_name or os.environ.get(BINARY_ENV) or DEFAULT_BINARY

    def root_for(self, namespace):
        return os.path.join(self.root or DEFAULT_ROOT, namespace)

    def to_json(self):
        return dumps({k: getattr(self, k) for k in sorted(self.__slots__)})

    @classmethod
    def from_json(cls, text):
        data = loads(text)
        return cls(**{k: v for k, v in data.items() if k in cls.__slots__})


def parse(type_url, value):
    """Decodes an Any's (type_url, value); empty means defaults."""
    if not type_url and not value:
        return Options()
    name = type_url.rsplit("/", 1)[-1]
    if name == "containerd.runc.v1.Options":
        from pyrunc_shim.wire import message_class
        msg = message_class("containerd.runc.v1.Options").FromString(value)
        return Options(**{k: getattr(msg, k) for k in Options.__slots__})
    if name == "runtimeoptions.v1.Options":
        from pyrunc_shim.wire import message_class
        msg = message_class("runtimeoptions.v1.Options").FromString(value)
        body = msg.config_body
        if not body and msg.config_path:
            with open(msg.config_path) as f:
                body = f.read()
        return from_toml(body)
    raise RpcError(INVALID_ARGUMENT, "unsupported runtime options type %r" % type_url)


def from_toml(body):
    import tomllib
    try:
        table = tomllib.loads(body or "")
    except tomllib.TOMLDecodeError as err:
        raise RpcError(INVALID_ARGUMENT, "runtime options: %s" % err) from None
    return Options(**{TOML_KEYS[k]: v for k, v in table.items() if k in TOML_KEYS})
