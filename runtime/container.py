"""Container creation (runc's semantics and error texts); start, kill and delete are in ops.py."""
from pyrunc import oslite as os  # not os: see oslite.py

from pyrunc import fault, state as st
from pyrunc.errors import ContainerExists, PyruncError, SyscallError

HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pyrunc-init")


def helper_memfd():
    """A sealed in-memory copy of pyrunc-init: what init fexecve()s. Sealed, it cannot be
    written through /proc/PID/exe (the CVE-2019-5736 overwrite), and it is not a host file."""
    import fcntl
    try:
        src = os.open(HELPER, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise SyscallError(f"open {HELPER} (was pyrunc installed with its helper?)", e) from None
    try:
        fd = os.memfd_create("pyrunc-init", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        size = os.fstat(src).st_size
        sent = 0
        while sent < size:
            n = os.sendfile(fd, src, sent, size - sent)
            if n == 0:
                break
            sent += n
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK
                    | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE)
        return fd
    finally:
        os.close(src)


def _make_state_dir(root, cid, xdg=False):
    try:
        os.makedirs(root, 0o700, exist_ok=True)
        if xdg:
            # runc's rule for its root in $XDG_RUNTIME_DIR: the sticky bit keeps it from
            # being pruned (XDG Base Directory spec: files there without it may be removed).
            os.chmod(root, 0o1700)
    except OSError as e:
        raise SyscallError(f"create root directory {root}", e) from None
    path = os.path.join(root, cid)
    try:
        os.mkdir(path, 0o711)
    except FileExistsError:
        raise ContainerExists() from None
    except OSError as e:
        raise SyscallError(f"create state directory {path}", e) from None
    os.chmod(path, 0o711)
    return path


def create(ctx, cid, bundle, opts):
    """Create the container and leave its init parked on exec.fifo. Returns the Container."""
    from pyrunc import config as cfg
    from pyrunc.process.plan import Plan
    st.check_id(cid)
    bundle = os.path.abspath(bundle)
    try:
        os.chdir(bundle)
    except OSError as e:
        raise SyscallError(f"chdir to bundle {bundle}", e) from None
    config = cfg.load(bundle)
    for w in cfg.check(config):
        ctx.log.warning(w)
    proc = config["process"]
    # `run` in the foreground passes its own end (console_sock) and proxies the terminal.
    if proc.get("terminal"):
        import termios  # noqa: F401  for init's console step (process/init.py)
    if proc.get("terminal") and not (opts.get("console_socket") or opts.get("console_sock")):
        raise PyruncError("cannot allocate tty if pyrunc will detach without setting "
                          "console socket")
    if opts.get("console_socket") and not proc.get("terminal"):
        raise PyruncError("cannot use console socket if pyrunc will not detach or allocate tty")
    if os.geteuid() != 0:
        _check_rootless(config)
    plan = Plan(cid, bundle, config, opts)
    from pyrunc.process.init import hold_closed_stdio
    plan.stdio_mask = hold_closed_stdio()
    given = os.path.normpath(os.path.join(bundle, config["root"]["path"]))
    if given != plan.rootfs:
        # runc refuses a symlinked rootfs path as well: what is checked must be what is used.
        raise PyruncError("config.json /root/path: invalid rootfs: not an absolute path, "
                          "or a symlink")
    if not os.path.isdir(plan.rootfs):
        raise PyruncError(f"config.json /root/path: rootfs {plan.rootfs} is not a directory")
    _check_preserved(plan)
    netdevs = (config.get("linux") or {}).get("netDevices")
    if netdevs:
        from pyrunc import netdev
        plan.netdevs = netdev.Mover(netdevs)  # fails here if a device is not on the host
    if (config.get("linux") or {}).get("seccomp"):
        from pyrunc import seccomp
        plan.seccomp = seccomp.prepare(config["linux"]["seccomp"])
    if any(m.idmap for m in plan.mounts):
        from pyrunc import idmap
        idmap.open_trees(plan)
    sdir = _make_state_dir(ctx.root, cid, getattr(ctx, "xdg_root", False))
    fault("create-state-dir")
    cgroup = None
    spawned = None
    pidfd_sock = None
    try:
        fifo = os.path.join(sdir, st.FIFO)
        os.mkfifo(fifo, 0o622)
        os.chmod(fifo, 0o622)
        fault("create-fifo")
        plan.fifo_fd = os.open(fifo, os.O_PATH | os.O_CLOEXEC)
        if os.environ.get("NOTIFY_SOCKET"):
            from pyrunc import notify
            notify.prepare(plan, sdir)
        plan.helper_fd = helper_memfd()
        if opts.get("console_socket"):
            plan.console_sock = _connect_console(opts["console_socket"])
        elif opts.get("console_sock") is not None:
            plan.console_sock = opts["console_sock"]
        if opts.get("pidfd_socket"):
            pidfd_sock = connect_pidfd_socket(opts["pidfd_socket"])
        from pyrunc.process.spawn import start_init
        data = {
            "id": cid, "pid": 0, "start_time": 0,
            "bundle": bundle, "rootfs": plan.rootfs, "created": _created(),
            "owner": os.geteuid(), "config": config, "cgroup": None,
            "own_pidns": "pid" in plan.new_namespaces,
        }
        cgroup = _make_cgroup(ctx, cid, config, data)
        fault("create-cgroup")
        if cgroup is not None and not rootless_cgroups(ctx) and hasattr(cgroup, "self_join"):
            # The stage joins by itself (spawn._fork); not for the systemd driver,
            # whose scope is started with the pid, nor rootless, where a refused join means
            # going on without the cgroup (_join_cgroup).
            plan.self_join = cgroup.self_join()
        plan.cgroup_saved = cgroup.save() if cgroup else None
        resources = (config.get("linux") or {}).get("resources")
        if config.get("hooks"):
            import subprocess  # noqa: F401  loaded here so that init has it after fork

        def join(pid):
            nonlocal cgroup
            if cgroup is not None and not _join_cgroup(ctx, cgroup, pid, resources):
                cgroup = None  # rootless, and the cgroup could not be joined: removed

        def apply():
            if cgroup is not None:
                _apply_resources(ctx, cgroup, resources)
        if cgroup is not None:
            # apply() runs after fork: import what it needs now. An import in a process
            # whose pages a child still shares copies every page it touches (~1 ms here).
            _preload_apply(cgroup)
        def final_state(pid):
            # The state as it will be once init is ready, written aside while init still
            # works (pivot_root onwards): only its rename is left for after "ready".
            plan.cgroup_saved = cgroup.save() if cgroup else None
            stat = st.proc_stat(pid)
            data.pop("creator", None)
            data.update(pid=pid, start_time=stat[1] if stat else 0, cgroup=plan.cgroup_saved)
            c = st.Container(ctx.root, data)
            c.save(commit=False)
            return c
        staged = []
        spawned = start_init(plan, join, lambda pid: _creating_hooks(plan, pid), apply,
                             lambda pid: staged.append(final_state(pid)),
                             limits_meanwhile=not (proc.get("terminal") or config.get("hooks")))
        fault("create-init-ready")
        pid = spawned.init_pid
        if pidfd_sock is not None:
            send_pidfd(pidfd_sock, pid, b"standard")
        c = staged[0]
        c.commit()
        fault("create-state-written")
        if opts.get("pid_file"):
            write_pid_file(opts["pid_file"], pid)
        if plan.netdevs is not None:
            plan.netdevs.done()
        fault("create-pid-file")
        return c
    except BaseException:
        if plan.netdevs is not None:
            # Before init dies: a virtual device would die with the network namespace.
            plan.netdevs.rollback()
        if spawned is not None:
            spawned.kill()
        _cleanup_failed(sdir, cgroup)
        raise
    finally:
        if pidfd_sock is not None:
            pidfd_sock.close()
        # Init has its copies: `run` kept these open in the CLI for the container's whole
        # life (found by the fd checks of tests/robustness).
        for fd in (plan.fifo_fd, plan.helper_fd):
            if fd >= 0:
                os.close(fd)
        if plan.console_sock is not None:
            plan.console_sock.close()


def _connect_console(path):
    import _socket
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError as e:
        s.close()
        raise SyscallError(f"connect to console socket {path}", e) from None
    return s


def connect_pidfd_socket(path):
    """--pidfd-socket (runc 1.2): connected up front, so that a bad path fails before
    anything runs; the pidfd goes out once the process exists."""
    import _socket
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError as e:
        s.close()
        raise SyscallError(f"connect to pidfd socket {path}", e) from None
    return s


def send_pidfd(sock, pid, kind):
    """A pidfd of `pid` in one SCM_RIGHTS message whose payload names the process kind, as
    runc's: b"standard" for the container's init, b"setns" for an exec'd process."""
    import _struct as struct
    import _socket
    try:
        pidfd = os.pidfd_open(pid)
    except OSError as e:
        raise SyscallError(f"pidfd_open {pid}", e) from None
    try:
        sock.sendmsg([kind], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack("i", pidfd))])
    except OSError as e:
        raise SyscallError("send pidfd on socket", e) from None
    finally:
        os.close(pidfd)


def _check_preserved(plan):
    listen_pid = os.environ.get("LISTEN_PID")
    if listen_pid == str(os.getpid()):
        try:
            plan.listen_fds = max(0, int(os.environ.get("LISTEN_FDS", "0")))
        except ValueError:
            plan.listen_fds = 0
    for fd in range(3 + plan.listen_fds, 3 + plan.listen_fds + plan.preserve_fds):
        try:
            os.fstat(fd)
        except OSError as e:
            raise SyscallError(f"unable to stat preserved-fd {fd - 3} (of {plan.preserve_fds})",
                               e) from None


def _created():
    from pyrunc.log import rfc3339
    return rfc3339(nanos=True)


def _check_rootless(config):
    """What an unprivileged caller cannot do without a user namespace (runc's checks)."""
    from pyrunc.errors import ConfigError
    linux = config.get("linux") or {}
    nss = {ns.get("type"): ns.get("path") for ns in linux.get("namespaces") or ()}
    if "user" not in nss:
        raise ConfigError("/linux/namespaces", f"rootless container (pyrunc run by uid "
                          f"{os.geteuid()}) requires a user namespace")
    if not nss["user"]:
        for key, kind in (("uidMappings", "UID"), ("gidMappings", "GID")):
            if not linux.get(key):
                raise ConfigError(f"/linux/{key}", f"rootless container requires at least "
                                  f"one {kind} mapping")


def rootless_cgroups(ctx):
    """runc's --rootless (true|false|auto; auto: not root, or root of a user namespace
    other than the host's, as under rootless podman): cgroups the caller may not create
    or join are done without, unless limits are asked for."""
    if ctx.rootless == "auto":
        return os.geteuid() != 0 or _in_user_namespace()
    return ctx.rootless == "true"


def _in_user_namespace():
    try:
        return st.read_file("/proc/self/uid_map", 4096).split() != [b"0", b"0", b"4294967295"]
    except OSError:
        return False


def limits_asked(resources):
    """JSON pointers of the limits set in linux.resources. Devices do not count: a device
    cgroup needs privileges a rootless container lacks (runc ignores it there too), and
    unset (zero, empty) fields are no limit."""
    empty = (None, 0, "", [], {})
    out = []
    for key, value in (resources or {}).items():
        if key == "devices" or value in empty:
            continue
        if isinstance(value, dict) and all(v in empty for v in value.values()):
            continue
        out.append(f"/linux/resources/{key}")
    return out


def _without_cgroup(ctx, m, config, err):
    """Rootless and the cgroup cannot be created or joined: remove what was made and go on
    without one (True) if no limit is asked for, else fail naming the first limit. False:
    not such a case, the caller raises the error."""
    import errno
    if not (rootless_cgroups(ctx) and getattr(err, "errno", None) in
            (errno.EACCES, errno.EPERM, errno.EROFS)):
        return False
    _destroy_cgroup(m)
    asked = limits_asked((config.get("linux") or {}).get("resources"))
    if asked:
        from pyrunc.errors import ConfigError
        raise ConfigError(asked[0], f"cannot set this cgroup limit: the rootless container "
                          f"could not create or join its cgroup ({err}); use a delegated "
                          f"cgroup (linux.cgroupsPath) or remove the limit") from None
    return True


def _make_cgroup(ctx, cid, config, data):
    """The container's cgroup, created but still empty: the stage process joins it first and
    then the limits are applied (the systemd driver starts its scope with that pid).
    None for a rootless container that may not create it (see _without_cgroup)."""
    from pyrunc import cgroups
    from pyrunc.errors import CgroupError
    linux = config.get("linux") or {}
    m = cgroups.new_manager(cid, linux.get("cgroupsPath"), systemd=ctx.systemd_cgroup)
    # A partial state (pid 0, "creator" = this process) goes to disk *before* the cgroup
    # exists: should this create be killed from here on (SIGKILL, OOM), `delete --force`
    # still finds the cgroup, and through it the stage and init, and removes them all.
    data["cgroup"] = m.save()
    data["creator"] = (os.getpid(), st.proc_stat(os.getpid())[1])
    st.Container(ctx.root, data).save()
    try:
        m.create()
    except CgroupError as e:
        if _without_cgroup(ctx, m, config, e):
            data["cgroup"] = None
            st.Container(ctx.root, data).save()
            return None
        raise
    try:
        cgroups.check_unused(m)
        if m.driver == "systemd":
            m.set_annotations(config.get("annotations"))
    except BaseException:
        _destroy_cgroup(m)
        raise
    return m


def _preload_apply(m):
    driver = getattr(getattr(m, "inner", m), "driver", "v1")
    __import__(f"pyrunc.cgroups.{'v2' if driver == 'v2' else 'v1'}_resources")


def _creating_hooks(plan, pid):
    if plan.seccomp is not None and plan.seccomp.sock is not None:
        # Init has its copy and sends the notify fd on it: the listener must see EOF then.
        plan.seccomp.sock.close()
    if plan.netdevs is not None:
        # runc's order: the devices are in the container's namespace before the hooks run.
        plan.netdevs.attach(pid)
    if not plan.config.get("hooks"):
        return
    from pyrunc import hooks
    state = hooks.state_json(plan.config, plan.id, "creating", pid, plan.bundle)
    hooks.run(plan.config, "prestart", state)
    hooks.run(plan.config, "createRuntime", state)


def _join_cgroup(ctx, m, pid, resources):
    """Put the stage in the cgroup. False: rootless, the cgroup could not be joined and no
    limit is asked for; the container goes on without it."""
    from pyrunc.errors import CgroupError
    try:
        m.add_pid(pid)
    except CgroupError as e:
        if _without_cgroup(ctx, m, {"linux": {"resources": resources}}, e):
            return False
        raise
    return True


def _apply_resources(ctx, m, resources):
    # Rootless: a device cgroup cannot be set up unprivileged; runc ignores it as well.
    for pointer, why in m.apply(resources, skip_devices=rootless_cgroups(ctx)) or ():
        ctx.log.warning(f"config.json {pointer}: {why}")


def _destroy_cgroup(m):
    try:
        m.destroy()
    except PyruncError:
        pass


def _cleanup_failed(sdir, cgroup):
    if cgroup is not None:
        _destroy_cgroup(cgroup)
    _remove_state_dir(sdir)


def _remove_state_dir(sdir):
    st.remove_tree(sdir)


def write_pid_file(path, pid):
    """Digits, no newline, atomically: a temp file in the same dir, then rename."""
    path = os.path.abspath(path)
    d, name = os.path.split(path)
    tmp = os.path.join(d, "." + name)
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    try:
        os.write(fd, str(pid).encode())
    finally:
        os.close(fd)
    os.rename(tmp, path)


