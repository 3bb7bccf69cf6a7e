"""pyrunc exec [flags] ID [COMMAND ARGS...]: run a new process in a created or running
container (process side: pyrunc/process/tenant.py).

Without --process the container's config.json process is the base, with the flags as
overrides (runc's getProcess): args from the command line, --env appended, --cap added to
bounding/effective/permitted (and ambient when the spec has an inheritable set), --user
UID[:GID], --additional-gids appended. In the foreground pyrunc forwards signals and exits
with the process's status (128+signal when killed); --detach returns once the process runs.
Every error exits 255, as runc's exec does.
"""
from pyrunc import oslite as os  # not os: see oslite.py

from pyrunc.cli.args import BOOL, INT, LIST, STR, Flag
from pyrunc.cli.common import parse_cmd
from pyrunc.errors import PyruncError

FLAGS = (
    Flag("console-socket", STR, ""),
    Flag("pidfd-socket", STR, ""),
    Flag("cwd", STR, ""),
    Flag("env,e", LIST),
    Flag("tty,t", BOOL),
    Flag("user,u", STR, ""),
    Flag("additional-gids,g", LIST),
    Flag("process,p", STR, ""),
    Flag("detach,d", BOOL),
    Flag("pid-file", STR, ""),
    Flag("process-label", STR, ""),
    Flag("apparmor", STR, ""),
    Flag("no-new-privs", BOOL),
    Flag("cap,c", LIST),
    Flag("preserve-fds", INT),
    Flag("cgroup", LIST),
    Flag("ignore-paused", BOOL),
)


class ExecError(PyruncError):
    exit_code = 255


def main(ctx, args):
    # Usage errors exit 1 (runc checks the arguments before it runs exec); everything
    # after that is "exec failed: ..." with status 255.
    opts, pos = parse_cmd("exec", FLAGS, args, nargs=1, stop=True, at_least=True)
    try:
        return _exec(ctx, opts, pos)
    except PyruncError as e:
        raise ExecError(f"exec failed: {e}") from None


def _exec(ctx, opts, pos):
    from pyrunc import state as st
    from pyrunc.process.init import hold_closed_stdio
    opts["stdio_mask"] = hold_closed_stdio()
    c = st.load(ctx.root, pos[0])
    if opts["pid_file"]:
        opts["pid_file"] = os.path.abspath(opts["pid_file"])
    status = c.status()
    if status == st.STOPPED:
        raise PyruncError("cannot exec in a stopped container")
    if status == st.PAUSED and not opts["ignore_paused"]:
        raise PyruncError("cannot exec in a paused container (use --ignore-paused to override)")
    process = get_process(c, opts, pos[1:])
    # As runc: the flags override the process's fields; a SELinux label needs SELinux
    # (lsm.check), an AppArmor profile is written and fails in the tenant if refused.
    if opts["apparmor"]:
        process["apparmorProfile"] = opts["apparmor"]
    if opts["process_label"]:
        process["selinuxLabel"] = opts["process_label"]
    if process.get("selinuxLabel"):
        from pyrunc import lsm
        if not lsm.selinux_enabled():
            raise PyruncError(lsm.SELINUX_DISABLED)
    for key in ("scheduler", "ioPriority", "execCPUAffinity"):
        if process.get(key) is not None:
            raise PyruncError(f"process {key} is not supported by pyrunc yet")
    if process.get("terminal") and opts["detach"] and not opts["console_socket"]:
        raise PyruncError("cannot allocate tty if pyrunc will detach without setting "
                          "console socket")
    if opts["console_socket"] and not process.get("terminal"):
        raise PyruncError("cannot use console socket if pyrunc will not detach or allocate tty")
    _check_preserved(opts["preserve_fds"])
    from pyrunc.container import connect_pidfd_socket, send_pidfd
    pidfd_sock = connect_pidfd_socket(opts["pidfd_socket"]) if opts["pidfd_socket"] else None
    console = mine = None
    if process.get("terminal"):
        console, mine = _console_socket(opts["console_socket"])
    # In the foreground, signals are caught from before the process exists (the process can
    # run, and be signalled through us, before start() returns) and handed on once its pid
    # is known, as runc's signal handler does.
    from pyrunc.cli import foreground
    fwd = None if opts["detach"] else foreground.Forwarder()
    try:
        pid = run_process(c, process, opts, console)
        if pidfd_sock is not None:
            send_pidfd(pidfd_sock, pid, b"setns")
        if opts["pid_file"]:
            from pyrunc.container import write_pid_file
            write_pid_file(opts["pid_file"], pid)
        if opts["detach"]:
            return 0
        import gc
        # Off for the setup (ops.run_command); this process may now live long. Its setup's
        # objects are frozen first: the first collection would otherwise scan them all
        # (~0.2-0.5 ms on the way to the container's start).
        gc.freeze()
        gc.enable()
        if mine is not None:
            return foreground.proxy_tty(foreground.receive_pty(mine), pid, fwd)
        fwd.set_pid(pid)
        return foreground.wait(pid)
    finally:
        if mine is not None:
            mine.close()
        if pidfd_sock is not None:
            pidfd_sock.close()


def _console_socket(path):
    """(socket for the tenant, our end or None). With --console-socket the pty master goes
    to that socket's listener; in the foreground without one, to us, and we proxy stdio."""
    import _socket as socket  # the C module: socket.py imports enum (~5 ms)
    if path:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)  # a host path: connect before the tenant leaves the host's mounts
        except OSError as e:
            s.close()
            raise PyruncError(f"connect to console socket {path}: {e.strerror}") from None
        return s, None
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)


def run_process(c, process, opts, console=None):
    """Start `process` in container `c`; returns its host pid once it runs."""
    from pyrunc.container import helper_memfd
    from pyrunc.process import tenant
    plan = tenant.ExecPlan(c.id, c.config, process, opts["preserve_fds"])
    plan.stdio_mask = opts.get("stdio_mask", 0)
    plan.console = console
    try:
        tenant.open_namespaces(plan, c.pid)
        if not c.init_alive():  # the pid was recycled between status() and the opens
            raise PyruncError("cannot exec in a stopped container")
        plan.helper_fd = helper_memfd()
    except BaseException:
        tenant.close_plan_fds(plan)
        raise
    specs = opts["cgroup"]
    self_join = None if specs else _self_join(c)
    if self_join is None:
        from pyrunc import cgwarm
        cgwarm.start()  # the parent writes cgroup.procs: start the wait now (cgwarm.py)

    def join_cgroup(pid):
        if not c.data.get("cgroup"):
            return
        m = c.cgroup_manager()
        if specs:
            from pyrunc.cgroups import add_pid_sub
            add_pid_sub(m, pid, specs)
        else:
            m.add_pid(pid)
    from pyrunc.errors import InitError
    try:
        return tenant.start(plan, join_cgroup, self_join)
    except InitError as e:
        raise PyruncError(f"unable to start container process: {e}") from None


def _self_join(c):
    """The container's cgroups as the joiner can enter them itself (tenant.start), or None
    where the parent must write cgroup.procs: no cgroup, not root on the host (a rootless
    join may be refused, and runc goes on without it), the systemd driver, or a pids limit
    (a process born in the cgroup counts against pids.max; one moved in does not, so the
    exec of runc and of pyrunc's other path succeeds in a container at its limit)."""
    from pyrunc.container import _in_user_namespace
    if not c.data.get("cgroup") or os.geteuid() != 0 or _in_user_namespace():
        return None
    m = c.cgroup_manager()
    if not hasattr(m, "self_join"):
        return None
    pids_dir = m.paths.get("pids") if hasattr(m, "paths") else m.path
    if pids_dir:
        try:
            with open(os.path.join(pids_dir, "pids.max"), "rb") as f:
                if f.read().strip() != b"max":
                    return None
        except OSError:
            return None
    return m.self_join()


def _check_preserved(n):
    if n < 0:
        raise PyruncError(f"invalid --preserve-fds {n}")
    for fd in range(3, 3 + n):
        try:
            os.fstat(fd)
        except OSError as e:
            raise PyruncError(f"unable to stat preserved-fd {fd - 3} (of {n}): "
                              f"{e.strerror}") from None


def get_process(c, opts, argv):
    """The process to run: --process FILE, or config.json's process with the overrides."""
    import marshal
    if opts["process"]:
        p = _load_process_file(opts["process"])
    else:
        # A deep copy (the process object is JSON: dicts, lists, strings, numbers) without
        # `copy`, which imports weakref and more.
        p = marshal.loads(marshal.dumps(c.config.get("process") or {}))
        p["args"] = list(argv)
        if opts["cwd"]:
            p["cwd"] = opts["cwd"]
        caps = opts["cap"]
        if caps:
            pc = p.setdefault("capabilities", {})
            for cap in caps:
                for s in ("bounding", "effective", "permitted"):
                    pc.setdefault(s, []).append(cap)
                # Ambient needs inheritable; runc adds it only when the spec has that set.
                if pc.get("inheritable") is not None:
                    pc.setdefault("ambient", []).append(cap)
            _check_caps(caps)
        p["env"] = list(p.get("env") or ()) + list(opts["env"])
        p["terminal"] = bool(opts["tty"])
        if opts["no_new_privs"]:
            p["noNewPrivileges"] = True
        user = p.setdefault("user", {})
        if opts["user"]:
            u, sep, g = opts["user"].partition(":")
            if sep:
                user["gid"] = _int(g, "gid")
            user["uid"] = _int(u, "uid")
        for g in opts["additional_gids"]:
            gid = _int(g, "additional-gids")
            if gid < 0:
                raise PyruncError(f"additional-gids must be a positive number {gid}")
            user.setdefault("additionalGids", []).append(gid)
    _validate(p)
    return p


def _int(text, what):
    try:
        v = int(text)
    except ValueError:
        raise PyruncError(f"parsing {text} as int for {what} failed") from None
    if what in ("uid", "gid") and not 0 <= v < 1 << 32:
        raise PyruncError(f"{what} {v} is out of range")
    return v


def _check_caps(caps):
    from pyrunc.capabilities import NAMES
    for cap in caps:
        if cap not in NAMES:
            raise PyruncError(f"unknown capability {cap!r}")


def _load_process_file(path):
    from pyrunc.jsonfast import loads  # not json: ~7 ms of imports (containerd always
    try:                                # passes --process)
        with open(path, "rb") as f:
            p = loads(f.read())
    except OSError as e:
        raise PyruncError(f"open {path}: {e.strerror}") from None
    except ValueError as e:
        raise PyruncError(f"parse {path}: {e}") from None
    if not isinstance(p, dict):
        raise PyruncError(f"{path}: a process object is expected")
    return p


def _validate(p):
    """runc's validateProcessSpec, plus the types the tenant relies on."""
    cwd = p.get("cwd")
    if not cwd:
        raise PyruncError("Cwd property must not be empty")
    if not isinstance(cwd, str) or not cwd.startswith("/"):
        raise PyruncError("Cwd must be an absolute path")
    args = p.get("args")
    if not args:
        raise PyruncError("process args cannot be empty")  # runc 1.1 wording
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise PyruncError("args must be a list of strings")
    env = p.get("env") or []
    if not isinstance(env, list) or not all(isinstance(e, str) for e in env):
        raise PyruncError("env must be a list of strings")
    for e in env:
        name, eq, _ = e.partition("=")
        if not eq or not name or "\0" in e:
            raise PyruncError(f"invalid environment variable {e!r}")
    user = p.get("user") or {}
    if not isinstance(user, dict):
        raise PyruncError("user must be an object")
