"""The container's init, in Python until its last step: setup inside the namespaces.

Runs as PID 1 of the new PID namespace (forked by the stage, non-dumpable). The order is
runc's and matters; the reason is next to each step. It ends by fexecve()ing the static
pyrunc-init helper from a sealed memfd, which parks on exec.fifo and then execs the
container's process: from that point no process the container can see runs a host binary.
"""
import errno
import fcntl
from pyrunc import oslite as os  # not os: see oslite.py
import _signal as signal  # C modules: signal.py and socket.py import enum (~5 ms)
import _socket as socket
import _struct as struct  # struct.py only re-exports it; one stdlib directory search less
import sys

from pyrunc import capabilities, fault, hooks, lsm, native, pathsafe, rootfs
from pyrunc.errors import PyruncError
from pyrunc.native import C
from pyrunc.process import sync
from pyrunc.process.sync import child_fail
from pyrunc.state import read_all

# Everything init uses is imported above, at module load in the parent: after pivot_root
# the host's Python library is out of reach, and a lazy import there would fail. Two
# exceptions, taken from sys.modules, where the parent put them only when the config needs
# them (container.create): termios (process.terminal) and pyrunc.seccomp (linux.seccomp).

PR_SET_NO_NEW_PRIVS = 38
PR_SET_KEEPCAPS = 8
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class StepError(PyruncError):
    pass


def run_steps(plan, steps):
    """Run setup steps in order; an OSError is reported with the step's name."""
    for step in steps:
        try:
            step(plan)
        except PyruncError:
            raise
        except OSError as e:
            where = f" {e.filename}" if e.filename else ""
            raise StepError(f"{step.__name__.strip('_').replace('_', ' ')}{where}: "
                            f"{e.strerror}") from None


def run(plan, sock):
    try:
        run_steps(plan, STEPS)
        # unreachable: the last step execs
        raise StepError("container init did not exec")
    except BaseException as e:
        child_fail(sock, e)


def _session_keyring(plan):
    # A fresh session keyring keeps the container from the host's keys (runc: _ses.<id>).
    if plan.no_new_keyring:
        return
    try:
        native.join_session_keyring(f"_ses.{plan.id}")
    except OSError as e:
        if e.errno not in (errno.ENOSYS, errno.EPERM, errno.EDQUOT):
            raise


def _prepare_rootfs(plan):
    if "mount" in plan.new_namespaces:
        rootfs.prepare(plan)


def _sync_mounted(plan):
    # The parent runs prestart/createRuntime hooks while mounts are in place, before pivot.
    fault("init-mounts")
    sync.send(plan.sock, mounted=1)
    plan.host_pid = sync.expect(plan.sock, "cont", "pyrunc")["pid"]


def _create_container_hooks(plan):
    # In the container's namespaces, before pivot_root: paths resolve as on the host. The
    # pid in the state is init's as seen from where the hook runs (its own PID namespace).
    if hooks.hooks_of(plan.config, "createContainer"):
        state = hooks.state_json(plan.config, plan.id, "creating", os.getpid(), plan.bundle)
        hooks.run(plan.config, "createContainer", state, cwd=plan.rootfs)


def _lsm_labels(plan):
    # AppArmor profile / SELinux label for the next exec (pyrunc-init's, see lsm.py).
    lsm.apply_exec_labels(plan.process)


def _start_container_hooks(plan):
    """Hand pyrunc-init the startContainer hooks in an inherited memfd: they run after
    `start`, inside the container, where no Python is left to run them."""
    plan.hooks_fd = -1
    if not hooks.hooks_of(plan.config, "startContainer"):
        return
    state = hooks.state_json(plan.config, plan.id, "created", os.getpid(), plan.bundle)
    fd = os.memfd_create("pyrunc-hooks", 0)
    os.write(fd, hooks.encode_for_helper(plan.config, state))
    plan.hooks_fd = fd


def _pivot_root(plan):
    if "mount" in plan.new_namespaces:
        rootfs.pivot(plan)
        rootfs.finish(plan)
    else:
        os.chroot(plan.rootfs)
        os.chdir("/")
    fault("init-pivot")


def _console(plan):
    """terminal: a pty from the container's own devpts, the slave as /dev/console and as
    stdio (controlling terminal), the master sent to --console-socket in one SCM_RIGHTS
    message whose payload is the pty's name."""
    # A session (and process group) of its own, terminal or not, as runc's init (nsexec
    # calls setsid() in its last stage): conmon --timeout kills the container with
    # kill(-pgid), which would otherwise hit conmon's own group and kill conmon too.
    os.setsid()
    if not plan.process.get("terminal"):
        return
    termios = sys.modules["termios"]
    master, slave = os.openpty()
    name = os.ttyname(slave)
    size = plan.process.get("consoleSize") or {}
    if size.get("height") and size.get("width"):
        fcntl.ioctl(master, termios.TIOCSWINSZ,
                    struct.pack("HHHH", size["height"], size["width"], 0, 0))
    if "mount" in plan.new_namespaces:
        rootfs.bind_console(slave)
    plan.console_sock.sendmsg([name.encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                                  struct.pack("i", master))])
    plan.console_sock.close()
    os.close(master)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    if slave > 2:
        os.close(slave)


def _loopback(plan):
    """Bring `lo` up in a new network namespace, as runc does. Two ioctls on a socket:
    pyroute2 would cost ~170 ms of imports on every container start."""
    if "network" not in plan.new_namespaces:
        return
    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        req = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | IFF_UP))
    finally:
        s.close()


def _hostname(plan):
    name = plan.config.get("hostname")
    if name:
        socket.sethostname(name)
    dom = plan.config.get("domainname")
    if dom:
        native.setdomainname(dom)


def _sysctl(plan):
    for key, value in ((plan.config.get("linux") or {}).get("sysctl") or {}).items():
        try:
            _write_proc("sys/" + key.replace(".", "/"), value)
        except OSError as e:
            raise StepError(f"write sysctl {key}={value}: {e.filename}: {e.strerror}") \
                from None


def _write_proc(rel, value):
    """A write into the container's procfs that no mount can redirect (pathsafe)."""
    fd = pathsafe.open_proc(rel, os.O_WRONLY)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _readonly_and_masked_paths(plan):
    linux = plan.config.get("linux") or {}
    for path in linux.get("readonlyPaths") or ():
        rootfs.readonly_path(path)
    masked = linux.get("maskedPaths") or ()
    if masked:
        devnull = rootfs.open_devnull()
        try:
            for path in masked:
                rootfs.mask_path(path, devnull)
        finally:
            os.close(devnull)


def _rootfs_propagation(plan):
    if "mount" in plan.new_namespaces:
        rootfs.apply_propagation(plan)


def _personality(plan):
    pers = (plan.config.get("linux") or {}).get("personality")
    if pers:
        native.personality({"LINUX": 0x0000, "LINUX32": 0x0008}[pers["domain"]])


def _rlimits(plan):
    # Set before dropping capabilities: raising a hard limit needs CAP_SYS_RESOURCE.
    for i, rl in enumerate(plan.process.get("rlimits") or ()):
        num = getattr(C, rl["type"], None) if rl["type"].startswith("RLIMIT_") else None
        if num is None:
            raise StepError(f"rlimit {rl['type']} is not known to this system")
        try:
            # native, not the `resource` module: one dlopen less per create and exec
            native.setrlimit(num, rl["soft"], rl["hard"])
        except OSError as e:
            # e.g. a hard limit above ours without CAP_SYS_RESOURCE: name the field (create's
            # process is config.json's; exec's may come from a --process file).
            where = f"config.json /process/rlimits/{i}: " if plan.process_in_config else ""
            raise StepError(f"{where}"
                            f"setrlimit {rl['type']} soft={rl['soft']} hard={rl['hard']}: "
                            f"{(e.strerror or 'operation not permitted').lower()}") from None


def _oom_score_adj(plan):
    adj = plan.process.get("oomScoreAdj")
    if adj is not None:
        _write_proc("self/oom_score_adj", str(adj))


def _no_new_privs(plan):
    if plan.process.get("noNewPrivileges"):
        native.prctl(PR_SET_NO_NEW_PRIVS, 1)


def _seccomp_with_privileges(plan):
    # Without NO_NEW_PRIVS, loading a filter needs CAP_SYS_ADMIN: before the drop.
    if plan.seccomp is not None and not plan.process.get("noNewPrivileges"):
        sys.modules["pyrunc.seccomp"].load_in_init(plan)


def _seccomp_late(plan):
    # With NO_NEW_PRIVS, as late as possible: pyrunc-init loads it right before the exec,
    # so that the profile need allow nothing of ours (not the fexecve, not the sync).
    # With a listener, it is loaded here: the notify fd goes out during create.
    plan.seccomp_fd = -1
    if plan.seccomp is not None and plan.process.get("noNewPrivileges"):
        seccomp = sys.modules["pyrunc.seccomp"]
        if plan.seccomp.listener:
            seccomp.load_in_init(plan)
        else:
            plan.seccomp_fd = seccomp.helper_memfd(plan.seccomp)


def _user_and_capabilities(plan):
    user = plan.process.get("user") or {}
    uid, gid = user.get("uid") or 0, user.get("gid") or 0
    sets = capabilities.CapSets(plan.process.get("capabilities"))
    cwd = plan.process.get("cwd") or "/"
    try:
        os.makedirs(cwd, 0o755, exist_ok=True)
        os.chdir(cwd)
        cwd_done = True
    except PermissionError:
        cwd_done = False  # retried as the container user below
    capabilities.drop_bounding(sets)
    # KEEPCAPS keeps the permitted set across setuid; the wanted sets are set right after.
    native.prctl(PR_SET_KEEPCAPS, 1)
    groups = list(user.get("additionalGids") or ())
    try:
        os.setgroups(groups)
    except PermissionError:
        # A rootless user namespace whose gid map its user wrote itself has setgroups
        # denied: nothing can be dropped or added then (runc skips setgroups there too).
        # Any other EPERM (a seccomp profile, say) stays an error.
        if not _setgroups_denied():
            raise
        if groups:
            raise StepError("setgroups: /process/user/additionalGids cannot be set in this "
                            "user namespace (setgroups is denied: rootless, gid map written "
                            "without newgidmap)") from None
    # The saved gid keeps a spare gid for _nondumpable_exec (see there).
    plan.spare_gid = _spare_gid(gid)
    os.setresgid(gid, gid, gid if plan.spare_gid is None else plan.spare_gid)
    os.setresuid(uid, uid, uid)
    native.prctl(PR_SET_KEEPCAPS, 0)
    capabilities.apply_sets(sets)
    if not cwd_done:
        os.chdir(cwd)
    # CVE-2024-21626: a cwd reached through an fd to a directory outside our root (such
    # as /proc/self/fd/N) is "unreachable" to getcwd(), which fails with ENOENT then.
    try:
        os.getcwd()
    except FileNotFoundError:
        raise StepError(f'cwd "{cwd}" is outside the container') from None
    # The spec: an unset umask is left as the caller's (runc 1.1 resets it to 0022).
    umask = user.get("umask")
    if umask is not None:
        os.umask(umask)


def _setgroups_denied():
    try:
        with open("/proc/self/setgroups") as f:
            return f.read().strip() == "deny"
    except OSError:
        return False


def _spare_gid(gid):
    """A gid mapped in our user namespace other than `gid` (65534 if possible), or None."""
    try:
        fd = pathsafe.open_proc("self/gid_map", os.O_RDONLY)  # not a fake /proc (exec)
        with open(fd) as f:
            ranges = [tuple(int(x) for x in line.split()[:3:2]) for line in f]
    except (OSError, ValueError):
        return None
    mapped = [(first, first + size) for first, size in ranges]
    for cand in (65534, gid + 1, gid - 1, 0):
        if cand != gid and cand >= 0 and any(a <= cand < b for a, b in mapped):
            return cand
    return None


def _nondumpable_exec(plan):
    """CVE-2016-9962 class: execve() makes a process dumpable again, so pyrunc-init would
    be ptrace-able by the container's processes until its first instruction, before it
    loads seccomp (NNP) or while it holds exec.fifo. The kernel leaves an exec'd process
    non-dumpable when its effective gid differs from its real one: switch the effective
    gid to the spare one kept as saved gid (no capability needed), and pyrunc-init puts
    the real gid back first thing. Gids, not uids: capabilities across exec depend on uids.
    Without a spare gid (a user namespace mapping one gid) the window stays open."""
    if getattr(plan, "spare_gid", None) is not None:
        os.setresgid(-1, plan.spare_gid, -1)


def hold_closed_stdio():
    """In the CLI, before it opens anything: put /dev/null on each of fds 0-2 the caller
    closed, and return their mask. Else one of our own fds would take that number and be
    passed on as the container's stdio; and the exec of pyrunc-init is a secure one
    (_nondumpable_exec), for which the libc fills closed fds 0-2 itself. pyrunc-init
    closes them again (_closed_stdio), so the container gets what the caller gave."""
    mask = 0
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            nfd = os.open("/dev/null", os.O_RDWR)
            if nfd != fd:
                os.dup2(nfd, fd)
                os.close(nfd)
            mask |= 1 << fd
    return mask


def _closed_stdio(plan):
    """"!MASK" for pyrunc-init's argv (hold_closed_stdio)."""
    mask = getattr(plan, "stdio_mask", 0)
    return f"!{mask}" if mask else ""


def _find_executable(plan):
    """args[0] resolved in the container's PATH, so a missing binary fails `create`."""
    args = plan.process["args"]
    env = _environment(plan)
    plan.env = env
    name = args[0]
    if "/" in name:
        candidates = [name]
    else:
        path = next((e[5:] for e in reversed(env) if e.startswith("PATH=")), DEFAULT_PATH)
        candidates = [os.path.join(d or ".", name) for d in path.split(":")]
    for c in candidates:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            plan.exec_path = c
            return
    if "/" in name:
        raise StepError(f'exec: "{name}": stat {name}: no such file or directory')
    raise StepError(f'exec: "{name}": executable file not found in $PATH')


def _environment(plan):
    """process.env, duplicates resolved keep-last, HOME added from /etc/passwd if unset."""
    seen = {}
    for e in plan.process.get("env") or ():
        seen[e.partition("=")[0]] = e
    if "HOME" not in seen:
        seen["HOME"] = "HOME=" + _home_of((plan.process.get("user") or {}).get("uid") or 0)
    if plan.listen_fds:
        seen["LISTEN_FDS"] = f"LISTEN_FDS={plan.listen_fds}"
        seen["LISTEN_PID"] = "LISTEN_PID=1"
    return list(seen.values())


def _home_of(uid):
    """HOME of uid from the container's /etc/passwd, "/" without one. Read as bytes through
    posix (a text file object cost ~0.2 ms here), at most 4 MiB, and non-blocking: the file
    is the container's and may be anything (a FIFO would otherwise hang init)."""
    try:
        data = read_all("/etc/passwd", 1 << 22, os.O_NONBLOCK)
    except OSError:
        return "/"
    want = str(uid).encode()
    for line in data.split(b"\n"):
        p = line.split(b":")
        if len(p) >= 6 and p[2] == want:
            return p[5].decode("utf-8", "surrogateescape") or "/"
    return "/"


def _close_fds(plan):
    # Only stdio, LISTEN_FDS and --preserve-fds reach the container (CVE-2024-21626: a
    # leaked host fd is a way out). Marked close-on-exec rather than closed so that the
    # sync socket still reports a failed exec.
    keep = set(range(3 + plan.listen_fds + plan.preserve_fds))
    keep.add(plan.fifo_fd)
    keep.add(plan.hooks_fd)
    # Listed through a checked procfs: in `exec`, a container that may mount could put a
    # fake /proc (whose fd list hides ours) in front of its own (CVE-2025-52881 class).
    dfd = pathsafe.open_proc("self/fd", os.O_RDONLY | os.O_DIRECTORY)
    try:
        names = os.listdir(dfd)
    finally:
        os.close(dfd)
    for name in names:
        fd = int(name)
        if fd in keep:
            os.set_inheritable(fd, True)
        elif fd > 2:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass
    # Python ignores SIGPIPE/SIGXFSZ; pyrunc-init restores every default before exec.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def _exec_helper(plan):
    fault("init-before-exec")
    sync.send(plan.sock, ready=1)
    _nondumpable_exec(plan)
    fds = str(plan.fifo_fd) + (f",{plan.hooks_fd}" if plan.hooks_fd >= 0 else "")
    fds += f":{plan.seccomp_fd}" if plan.seccomp_fd >= 0 else ""
    fds += _closed_stdio(plan)
    argv = ["pyrunc-init", fds, plan.exec_path] + list(plan.process["args"])
    os.execve(plan.helper_fd, argv, dict(e.split("=", 1) for e in plan.env))


STEPS = (
    _session_keyring,
    _prepare_rootfs,
    _sync_mounted,
    _create_container_hooks,
    _pivot_root,
    _console,
    _loopback,
    _hostname,
    _sysctl,
    _readonly_and_masked_paths,
    _rootfs_propagation,
    _personality,
    _rlimits,
    _oom_score_adj,
    _no_new_privs,
    _seccomp_with_privileges,
    _user_and_capabilities,
    _find_executable,
    _lsm_labels,
    _start_container_hooks,
    _close_fds,
    _seccomp_late,
    _exec_helper,
)
