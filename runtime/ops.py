"""Operations on an existing container: state, start, kill, delete, and their command line.

Each container operation is one interpreter start, on the path of every container start and
stop under containerd, podman or docker, so these four run on builtin modules only: posix,
not os (`import os` costs ~1 ms under -I -S), _signal, marshal, select, time; error classes,
the cgroups package, hooks and notify are imported only on the branches that need them. With
it, `pyrunc state` spends ~1.5 ms above the bare interpreter instead of ~5 (docs: README,
Speed). `main` takes the usual command lines of the four; any other form (unknown or rare
flags, --debug, a rootless default root, an id pyrunc has no state for) goes to the full CLI
(cli/main.py) untouched, which parses it and calls the same functions below. Errors raised
here are reported by the CLI's one error boundary (cli.main.failed).
"""
import _signal
import posix

from pyrunc import fault, state as st

SIGKILL = _signal.SIGKILL


def _invalid(msg):
    from pyrunc.errors import InvalidState
    return InvalidState(msg)


def _error(msg):
    from pyrunc.errors import PyruncError
    return PyruncError(msg)


def entry():
    """The launcher's entry point (tests/install_launcher.py; here rather than in __main__.py,
    one module less per call): run the command, then exit without the interpreter's
    finalization (~0.8 ms). pyrunc keeps no buffered file open at that point; the standard
    streams are flushed here."""
    import sys
    rc = run_command(sys.argv[1:])
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except (OSError, ValueError):
            pass
    posix._exit(rc if isinstance(rc, int) else 1)


def run_command(argv):
    """`pyrunc ARGV...`: the hot path below, else the full CLI."""
    rc = main(argv)
    if rc is not None:
        return rc
    import gc
    # Most commands live a few ms: nothing to gain from the cyclic collector, and in a forked
    # setup process (stage, init) a collection writes to every tracked object, i.e. copies
    # each page shared with the parent. The long-lived ones (run and exec in the foreground,
    # events) turn it back on once they only wait.
    gc.disable()
    from pyrunc.cli.main import main as cli_main
    return cli_main(argv)


def main(argv):
    """Run argv when it is one of the four commands in a form handled here; None otherwise
    (nothing done, nothing printed: the full CLI takes over)."""
    opts = _global_flags(argv)
    if opts is None:
        return None
    root, log, fmt, cmd, args = opts
    flags = [a for a in args if a[:1] == "-"]
    pos = [a for a in args if a[:1] != "-"]
    if cmd == "delete":
        if any(f not in ("-f", "--f", "-force", "--force") for f in flags) or len(pos) != 1:
            return None
    elif flags or not (len(pos) == 1 or (cmd == "kill" and len(pos) == 2)):
        return None
    cid = pos[0]
    if not st.valid_id(cid):
        return None
    data = st.read(root, cid)
    if data is None:
        return None
    c = st.Container(root, data)
    try:
        if cmd == "state":
            posix.write(1, state_json(c).encode())
        elif cmd == "start":
            start(c)
        elif cmd == "kill":
            kill(c, parse_signal(pos[1] if len(pos) > 1 else "SIGTERM"))
        else:
            delete(c, bool(flags), warn=lambda msg: _logger(log, fmt).warning(msg))
        return 0
    except BaseException as e:
        from pyrunc.cli.main import failed
        return failed(e, _logger(log, fmt), cmd)


_VALUE_FLAGS = ("root", "log", "log-format")
_COMMANDS = ("state", "start", "kill", "delete")


def _global_flags(argv):
    """(root, log, log format, command, its args) when every global flag is one of --root,
    --log and --log-format and the command is one of the four; else None."""
    opts = {"root": "", "log": "", "log-format": "text"}
    i = 0
    while i < len(argv) and argv[i][:1] == "-":
        name, eq, val = argv[i].lstrip("-").partition("=")
        if name not in _VALUE_FLAGS:
            return None
        if not eq:
            i += 1
            if i >= len(argv):
                return None
            val = argv[i]
        opts[name] = val
        i += 1
    if i >= len(argv) or argv[i] not in _COMMANDS or opts["log-format"] not in ("text", "json"):
        return None
    root = opts["root"]
    if not root:
        if posix.geteuid() != 0 and posix.environ.get(b"XDG_RUNTIME_DIR"):
            return None  # rootless default root: cli.main.default_root
        root = "/run/pyrunc"
    elif root[0] != "/" or root.rstrip("/") == "":
        return None
    return root, opts["log"], opts["log-format"], argv[i], argv[i + 1:]


def _logger(log, fmt):
    from pyrunc.log import Logger
    return Logger(log or None, fmt)


def state_json(c):
    """`pyrunc state`'s output: the runtime-spec state, indented as runc prints it."""
    out = c.oci_state()
    out["owner"] = ""
    return st.dumps(out, indent=2) + "\n"


def start(c, wait_ready=True):
    """Let the parked init exec the process. Under NOTIFY_SOCKET, wait for the container's
    READY= and pass it on (wait_ready), or return the notify.Listener that will."""
    status = c.status()
    if status == st.STOPPED:
        raise _invalid("cannot start a container that has stopped")
    if status != st.CREATED:
        raise _invalid("cannot start an already running container")
    listener = None
    notify_socket = posix.environ.get(b"NOTIFY_SOCKET")
    if notify_socket and st.exists(f"{c.dir}/notify"):
        from pyrunc import notify
        listener = notify.Listener(c, notify_socket.decode(errors="surrogateescape"))
    try:
        handshake(c)
    except BaseException:
        if listener is not None:
            listener.close()
        raise
    if listener is not None and wait_ready:
        listener.forward(c.pid)
        return None
    return listener


def handshake(c):
    """Open exec.fifo: the parked init execs the process and answers over it."""
    fifo = f"{c.dir}/{st.FIFO}"
    fault("start-before-fifo-open")
    try:
        fd = posix.open(fifo, posix.O_RDONLY | posix.O_NONBLOCK | posix.O_CLOEXEC)
    except FileNotFoundError:
        raise _invalid("cannot start an already running container") from None
    # Opening the fifo is the commit point (init's open returns, it writes and goes on), so
    # the fifo goes now: a start killed after its read used to leave a running container
    # that said "created", and a second start then waited forever (test_faults.py).
    try:
        posix.unlink(fifo)
    except FileNotFoundError:
        pass
    fault("start-fifo-opened")
    try:
        failure = _wait_fifo(c, fd)
    finally:
        posix.close(fd)
    fault("start-fifo-read")
    if failure is not None:
        from pyrunc.errors import HookError
        raise HookError(failure)
    if c.config.get("hooks"):
        _poststart(c)


def _poststart(c):
    from pyrunc import hooks
    from pyrunc.errors import HookError
    state = hooks.state_json(c.config, c.id, "running", c.pid, c.bundle)
    try:
        hooks.run(c.config, "poststart", state)
    except HookError:
        # runtime-spec 1.3: a poststart failure stops the container.
        try:
            posix.kill(c.pid, SIGKILL)
        except ProcessLookupError:
            pass
        raise


def _wait_fifo(c, fd):
    """Read pyrunc-init's answer from exec.fifo: "0" once the startContainer hooks passed,
    "1" and a message if one failed (returned); init dying instead is an error."""
    import select
    try:
        pidfd = posix.pidfd_open(c.pid)
    except OSError:
        pidfd = -1
    try:
        p = select.poll()
        p.register(fd, select.POLLIN)
        if pidfd >= 0:
            p.register(pidfd, select.POLLIN)
        while True:
            for rfd, _ in p.poll(100):
                if rfd == fd:
                    data = posix.read(fd, 1)
                    if data == b"0":
                        return None
                    if data:
                        return _read_rest(fd)
                    raise _error("cannot start container: init died")
            alive = c.init_alive()
            if alive and _parked(c.pid):
                continue
            try:  # init may have answered since poll() returned
                data = posix.read(fd, 1)
                if data == b"0":
                    return None
                if data:
                    return _read_rest(fd)
            except BlockingIOError:
                pass
            if not alive:
                raise _error("cannot start container: init died")
            # Another start read the fifo first (both opened it before its unlink).
            raise _invalid("cannot start an already running container")
    finally:
        if pidfd >= 0:
            posix.close(pidfd)


def _parked(pid):
    """init is still pyrunc-init (parked, or running startContainer hooks)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read(12) == b"pyrunc-init\0"
    except OSError:
        return False


def _read_rest(fd):
    import select
    out = b""
    while len(out) < 65536:
        select.select([fd], [], [], 5)
        chunk = posix.read(fd, 4096)
        if not chunk:
            break
        out += chunk
    return out.decode(errors="replace").strip() or "startContainer hook failed"


def parse_signal(text):
    try:
        num = int(text)
    except ValueError:
        num = None
    if num is not None:
        if 0 < num < _signal.NSIG:
            return num
        raise _error(f"unknown signal {text!r}") from None
    name = text.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    if "_" in name or not isinstance(getattr(_signal, name, None), int):
        raise _error(f"unknown signal {text!r}")
    return getattr(_signal, name)


def kill(c, sig, all_=False):
    status = c.status()
    if status == st.STOPPED:
        if all_:
            return
        raise _invalid("container not running")
    whole = all_ or (sig == SIGKILL and not c.data.get("own_pidns"))
    if whole and c.data.get("cgroup"):  # without a cgroup (rootless): init alone
        # Without its own PID namespace the container's processes do not die with init.
        from pyrunc.cgroups import signal_all
        signal_all(c, sig)
        return
    try:
        posix.kill(c.pid, sig)
    except ProcessLookupError:
        raise _invalid("container not running") from None
    if status == st.PAUSED and sig == SIGKILL:
        c.cgroup_manager().thaw()


def delete(c, force=False, warn=None):
    if c.data.get("creator"):
        return _delete_partial(c, force, warn)
    status = c.status()
    if status in (st.RUNNING, st.PAUSED):
        if not force:
            raise _invalid(f"cannot delete container {c.id} that is not stopped: {status}")
    if status != st.STOPPED:
        _kill_and_wait(c, status)
    fault("delete-killed")
    destroy(c, warn)


def _delete_partial(c, force, warn):
    """A state written by a create that has not finished: it is still running (refuse, or
    with --force kill it), or it was killed. Either way its stage and init are found in the
    cgroup and killed there (init's pid was never recorded)."""
    import time
    if st.creator_alive(c.data):
        if not force:
            raise _invalid(f"cannot delete container {c.id} that is not stopped: creating")
        try:
            posix.kill(c.data["creator"][0], SIGKILL)
        except ProcessLookupError:
            pass
        for _ in range(1000):
            if not st.creator_alive(c.data):
                break
            time.sleep(0.01)
    fault("delete-partial-creator-killed")
    if c.data.get("cgroup"):
        from pyrunc.errors import PyruncError
        m = c.cgroup_manager()
        try:
            m.kill_all(SIGKILL)
        except PyruncError:
            pass
    destroy(c, warn, hooks=False)  # no hook ran: poststop has nothing to undo


def _kill_and_wait(c, status):
    # A pidfd, opened before the kill and checked to be init's (start time) after opening,
    # becomes readable the moment init exits: no polling in 10 ms steps.
    try:
        pidfd = posix.pidfd_open(c.pid)
    except OSError:
        pidfd = -1
    try:
        if c.data.get("own_pidns") or not c.data.get("cgroup"):
            posix.kill(c.pid, SIGKILL)
        else:
            c.cgroup_manager().kill_all(SIGKILL)
    except ProcessLookupError:
        pass
    if status == st.PAUSED and c.data.get("cgroup"):
        from pyrunc.errors import PyruncError
        try:
            c.cgroup_manager().thaw()
        except PyruncError:
            pass
    if pidfd >= 0:
        try:
            if c.init_alive():
                import select
                select.select([pidfd], [], [], 10)
        finally:
            posix.close(pidfd)
    else:
        import time
        for i in range(1000):
            if not c.init_alive():
                break
            time.sleep(0.001 if i < 20 else 0.01)
    _reap_if_child(c.pid)


def _reap_if_child(pid):
    try:
        posix.waitpid(pid, posix.WNOHANG)
    except ChildProcessError:
        pass


def destroy(c, warn=None, hooks=True):
    cgroup = c.data.get("cgroup")
    if cgroup and not (c.data.get("own_pidns") and _remove_cgroup_dirs(cgroup)):
        from pyrunc.errors import PyruncError
        m = c.cgroup_manager()
        if not c.data.get("own_pidns"):
            try:
                m.kill_all(SIGKILL)
            except PyruncError:
                pass
        m.destroy()
    fault("delete-cgroup-removed")
    st.remove_tree(c.dir)
    if hooks and c.config.get("hooks"):
        from pyrunc import hooks
        state = hooks.state_json(c.config, c.id, "stopped", 0, c.bundle)
        hooks.run(c.config, "poststop", state, warn=warn or (lambda m: None))


def _remove_cgroup_dirs(saved):
    """Manager.destroy() in its common case, without the cgroups package (~1 ms of imports):
    the container's own directories, empty once its PID namespace is gone. False, with part
    of it done or not, when anything else is there (sub-cgroups, tasks still leaving: EBUSY,
    a systemd unit); the manager then finishes the job with its walks and retries."""
    if "paths" in saved:
        dirs = dict.fromkeys(saved["paths"].values())
    elif saved.get("driver") == "v2" and saved.get("path"):
        dirs = (saved["path"],)
    else:
        return False
    for d in dirs:
        try:
            posix.rmdir(d)
        except FileNotFoundError:
            pass
        except OSError:
            return False
    return True
