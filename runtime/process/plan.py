"""Everything the setup processes need, computed once in the parent before fork."""
from pyrunc import oslite as os  # not os: see oslite.py

from pyrunc.mounts import MountSpec
from pyrunc.namespaces import config_namespaces


class Plan:
    process_in_config = True  # error messages point into config.json /process

    def __init__(self, cid, bundle, config, opts):
        self.id = cid
        self.bundle = bundle
        self.config = config
        root = config["root"]["path"]
        self.rootfs = os.path.realpath(os.path.join(bundle, root))
        self.mounts = []
        for i, m in enumerate(config.get("mounts") or ()):
            spec = MountSpec(m, i)
            if spec.is_bind and spec.source and not spec.source.startswith("/"):
                spec.source = os.path.join(bundle, spec.source)
            self.mounts.append(spec)
        nss = config_namespaces(config)
        self.new_namespaces = {t for t, p in nss.items() if not p}
        self.join_namespaces = {t: p for t, p in nss.items() if p}
        self.no_pivot = opts.get("no_pivot", False)
        self.no_new_keyring = opts.get("no_new_keyring", False)
        self.preserve_fds = opts.get("preserve_fds", 0)
        self.process = config.get("process") or {}
        self.cgroup_saved = None
        self.self_join = None  # (cgroup2 dir or None, [v1 tasks files]): spawn._fork
        self.join_tasks = ()  # the v1 tasks files the stage writes "0" to, when it does
        self.fifo_fd = -1
        self.helper_fd = -1
        self.hooks_fd = -1
        self.console_sock = None
        self.host_pid = 0
        self.listen_fds = 0
        self.sock = None
        self.seccomp = None  # seccomp.Program, compiled in the parent
        self.netdevs = None  # netdev.Mover, when linux.netDevices asks for devices
