"""`pyrunc exec`, process side: a new process in an existing container.

Three processes, as for create (see spawn.py), for the same reason: setns(CLONE_NEWPID)
only moves the caller's *children* into the PID namespace.

    CLI (subreaper)              joiner (non-dumpable)           tenant (non-dumpable)
    open /proc/<init>/ns/*,
    memfd of pyrunc-init
    fork* --------------------->  (join cgroups*), setns user, ..., mnt
                                  fork --------------------------> (in the container's pid ns)
                  <-------------- {"pid": N}, exit
    (join cgroup(N)*)
    "cont" -------------------------------------------------------> rlimits, nnp, user, caps,
                                                                   env, PATH lookup, fds
                  <------------------------------------------------ "ready"
                                                                   fexecve(memfd pyrunc-init)
    EOF on the socket (close-on-exec) = the helper runs; it resets signals and execs the
    container process.

* Usually the joiner is born in the container's cgroup2 directory and writes "0" to the v1
  `tasks` files itself while it still sees the host's paths (spawn.fork_joined: no wait for
  the kernel's cgroup-attach grace period); with exec --cgroup, a pids limit, rootless or the
  systemd driver, the CLI writes the tenant's pid to cgroup.procs instead (cli/exec.py).

Security (CVE-2019-5736 class): the joiner and the tenant run the host's python3 while
they share namespaces with the container. They are non-dumpable from the first instruction
after fork (PR_SET_DUMPABLE is inherited by fork), so container processes cannot open their
/proc/PID/exe, fds, or memory, nor ptrace them. The tenant never execve()s the container's
binary itself either: it fexecve()s the sealed memfd copy of pyrunc-init, so the first exec
inside the container replaces python3 with a binary that is neither a host file nor
writable; pyrunc-init then execs the target. The tenant is in the container's cgroups
before it does any setup: born there, or moved there by the CLI.

Imports: after setns into the container's mount namespace the host's Python library is out
of reach, so every module the joiner and the tenant use is imported here, at module load in
the CLI. A lazy import after setns(mnt) would fail with ModuleNotFoundError.
"""
import fcntl
from pyrunc import oslite as os  # not os: see oslite.py
import _signal as signal  # the C modules: signal.py and socket.py import enum (~5 ms)
import _socket as socket
import _struct as struct  # struct.py only re-exports it; one stdlib directory search less

from pyrunc import cgwarm, fault, native
from pyrunc.errors import InitError, PyruncError
from pyrunc.namespaces import TYPES
from pyrunc.process import init, spawn, sync

# Unused here but needed by the steps borrowed from init after setns(mnt); imported
# explicitly so that a refactoring of init.py cannot silently make them lazy.
import errno  # noqa: F401

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


class ExecPlan:
    """What the joiner and the tenant need, computed in the CLI before fork. It has the
    attributes of create's Plan that init's process steps read."""
    process_in_config = False  # the process may come from `exec --process FILE`

    def __init__(self, cid, config, process, preserve_fds=0):
        self.id = cid
        self.config = config
        self.process = process
        self.preserve_fds = preserve_fds
        self.listen_fds = 0  # runc's exec does not pass LISTEN_FDS on
        self.fifo_fd = -1  # pyrunc-init's "no start handshake"
        self.helper_fd = -1
        self.ns_fds = []  # (type, clone flag, fd), user first, mnt last
        self.root_fd = -1  # init's root, for a container without its own mount ns
        self.sock = None
        self.console = None  # a connected AF_UNIX socket: send the pty master there
        self.env = []
        self.exec_path = None
        self.hooks_fd = -1  # startContainer hooks are for the container's own process
        self.bundle = ""
        self.host_pid = 0
        self.seccomp_fd = -1
        # The container's seccomp profile applies to exec'd processes too (as in runc).
        sc = (config.get("linux") or {}).get("seccomp")
        self.seccomp = None
        if sc:
            from pyrunc import seccomp
            self.seccomp = seccomp.prepare(sc)


def open_namespaces(plan, init_pid):
    """Open the init's namespaces, skipping the ones we already share (setns into one's own
    user namespace fails with EINVAL, and joining the others would be a no-op)."""
    mnt_joined = False
    for t, (flag, name) in TYPES.items():
        theirs = f"/proc/{init_pid}/ns/{name}"
        try:
            st_theirs = os.stat(theirs)
        except FileNotFoundError:
            if t in ("time", "cgroup"):
                continue  # an older kernel without that namespace type
            raise PyruncError(f"container init {init_pid} is gone") from None
        try:
            st_ours = os.stat(f"/proc/self/ns/{name}")
        except FileNotFoundError:
            st_ours = None
        if st_ours and (st_ours.st_dev, st_ours.st_ino) == (st_theirs.st_dev, st_theirs.st_ino):
            continue
        try:
            fd = os.open(theirs, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            raise PyruncError(f"open {theirs}: {e.strerror}") from None
        plan.ns_fds.append((t, flag, fd))
        mnt_joined = mnt_joined or t == "mount"
    if not mnt_joined:
        # No mount namespace of its own: the container is a chroot; follow init's root.
        plan.root_fd = os.open(f"/proc/{init_pid}/root", os.O_RDONLY | os.O_DIRECTORY
                               | os.O_CLOEXEC)


def close_plan_fds(plan):
    for _, _, fd in plan.ns_fds:
        os.close(fd)
    plan.ns_fds = []
    for name in ("root_fd", "helper_fd"):
        fd = getattr(plan, name)
        if fd >= 0:
            os.close(fd)
            setattr(plan, name, -1)


def joiner(plan, sock):
    """The forked joiner: enter every namespace, fork the tenant. Never returns."""
    try:
        # First: nothing the container runs may read this host python3 through /proc.
        native.prctl(PR_SET_DUMPABLE, 0)
        native.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        for path in plan.join_tasks:
            spawn.join_self(path)  # before setns: these are host paths
        _default_signals()
        # The user namespace comes first (it owns the others and grants the capabilities
        # to join them), the mount namespace last (it changes what paths mean; all the ns
        # fds were opened before fork).
        for t, flag, fd in plan.ns_fds:
            try:
                native.setns(fd, flag)
            except OSError as e:
                raise PyruncError(f"join {t} namespace of the container: {e.strerror}") \
                    from None
        fault("exec-after-setns")
        if plan.root_fd >= 0:
            os.fchdir(plan.root_fd)
            os.chroot(".")
        else:
            os.chdir("/")  # setns(mnt) already made / and cwd the container's root
        try:
            pid = os.fork()
        except OSError as e:
            # ENOMEM from fork after setns(pid): that namespace's init has exited.
            raise PyruncError(f"fork into the container's pid namespace: {e.strerror} "
                              f"(has the container stopped?)") from None
        if pid == 0:
            tenant(plan, sock)  # never returns
        sync.send(sock, pid=pid)
        os._exit(0)
    except BaseException as e:
        sync.child_fail(sock, e)


def _default_signals():
    """The CLI may have installed Python handlers (foreground exec forwards signals): a
    signal meant for the setup processes should act as the default, not be queued."""
    for sig in signal.valid_signals():
        try:
            if callable(signal.getsignal(sig)):
                signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass


# init's per-process steps, in init's order. Reused rather than copied so that exec'd
# processes get exactly what the container's own process gets.
STEPS = (init._rlimits, init._oom_score_adj, init._no_new_privs,
         init._seccomp_with_privileges, init._user_and_capabilities, init._find_executable,
         init._lsm_labels, init._close_fds, init._seccomp_late)


def tenant(plan, sock):
    """In the container's namespaces (and, once the CLI says so, its cgroup). Never returns."""
    try:
        # No PR_SET_PDEATHSIG here: the joiner (our parent) exits at once, which would fire
        # it, and it survives execve, where it would tie the container process to the CLI.
        # Should the CLI die during setup, the recv below sees EOF and we exit.
        for _, _, fd in plan.ns_fds:
            os.close(fd)
        if plan.root_fd >= 0:
            os.close(plan.root_fd)
        sync.expect(sock, "cont", "pyrunc")  # the CLI has put us in the cgroup
        os.setsid()  # as init (and runc's exec): a session and process group of its own
        if plan.console is not None:
            _console(plan)
        _check_cwd(plan)
        init.run_steps(plan, STEPS)
        fault("exec-before-exec")
        sync.send(sock, ready=1)
        fds = "-1" + (f":{plan.seccomp_fd}" if plan.seccomp_fd >= 0 else "")
        fds += init._closed_stdio(plan)
        argv = ["pyrunc-init", fds, plan.exec_path] + list(plan.process["args"])
        env = dict(e.split("=", 1) for e in plan.env)
        init._nondumpable_exec(plan)
        # fexecve of the sealed memfd: python3 is replaced by a binary that is no host file.
        os.execve(plan.helper_fd, argv, env)
    except BaseException as e:
        sync.child_fail(sock, e)


def _check_cwd(plan):
    # init's step makes a missing cwd (for create, as runc); runc's exec refuses it instead.
    cwd = plan.process.get("cwd") or "/"
    try:
        os.stat(cwd)
    except FileNotFoundError:
        raise PyruncError(f'chdir to cwd ("{cwd}") set in config.json failed: '
                          f"no such file or directory") from None
    except OSError:
        pass  # EACCES etc.: retried as the container user by the step


TIOCSCTTY = 0x540E
TIOCGPTN = 0x80045430
TIOCSPTLCK = 0x40045431
TIOCGPTPEER = 0x5441
TIOCSWINSZ = 0x5414  # termios's, without loading that extension module (~0.3 ms) per exec


def _console(plan):
    """A pty from the container's own devpts (after setns(mnt)), as runc does: the master
    goes over the console socket in one sendmsg with one SCM_RIGHTS fd and the pty name as
    payload; the peer becomes our stdio and controlling terminal."""
    try:
        master = os.open("/dev/pts/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as e:
        raise PyruncError(f"open /dev/pts/ptmx in the container: {e.strerror}") from None
    try:
        fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
        num = struct.unpack("i", fcntl.ioctl(master, TIOCGPTN, struct.pack("i", 0)))[0]
        # TIOCGPTPEER: the peer of *this* master, no path lookup in a container's /dev/pts.
        peer = fcntl.ioctl(master, TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY)
        size = plan.process.get("consoleSize") or {}
        if size.get("height") and size.get("width"):
            fcntl.ioctl(peer, TIOCSWINSZ,
                        struct.pack("HHHH", size["height"], size["width"], 0, 0))
        plan.console.sendmsg([f"/dev/pts/{num}".encode()],
                             [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", master))])
    finally:
        os.close(master)
    plan.console.close()
    for fd in (0, 1, 2):
        os.dup2(peer, fd)
    os.close(peer)
    fcntl.ioctl(0, TIOCSCTTY, 0)


def start(plan, join_cgroup, self_join=None):
    """Fork the joiner, put the tenant in the container's cgroup, wait until it has exec'd
    pyrunc-init. Returns the tenant's pid (a child of this process: we are a subreaper).

    With self_join (cli/exec.py says when), the joiner is born in the container's cgroup2
    directory and joins the v1 hierarchies itself before it leaves the host's namespaces
    (spawn.fork_joined); the tenant it forks inherits them. Otherwise the parent writes the
    tenant's pid to cgroup.procs."""
    native.prctl(PR_SET_CHILD_SUBREAPER, 1)
    if self_join is None:
        cgwarm.wait()
    parent, child = sync.pair()
    joiner_pid, tasks = spawn.fork_joined(self_join)
    plan.join_tasks = tasks or ()
    if joiner_pid == 0:
        parent.close()
        joiner(plan, child)
    child.close()
    fault("exec-joiner-forked")
    close_plan_fds(plan)
    if plan.console is not None:
        plan.console.close()
        plan.console = None
    chan = sync.Channel(parent)
    pid = 0
    try:
        try:
            pid = chan.expect("pid", "namespace joiner")["pid"]
        finally:
            _reap(joiner_pid)
        if tasks is None:
            join_cgroup(pid)
        fault("exec-tenant-in-cgroup")
        chan.send(cont=1)
        chan.expect("ready")
        msg = chan.recv()  # EOF: the memfd helper replaced the tenant
        if msg is not None:
            raise InitError(msg.get("error", "unexpected message from the exec'd process"))
        return pid
    except BaseException:
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _reap(pid)
        raise
    finally:
        parent.close()


def _reap(pid):
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
