"""Parent side of a container start, and the namespace stage it forks.

Why three processes: unshare(CLONE_NEWPID) only moves the *children* of the caller into
the new PID namespace, and the user namespace must exist before the others so that it owns
them. The stage process enters or creates every namespace and forks init, which is PID 1
of the new PID namespace; the stage then exits. The CLI is a child subreaper, so init is
re-parented to it (runc gets the same tree with CLONE_PARENT): `run` can wait for it, and
when `create` exits init goes to the caller's subreaper (containerd's shim, conmon).

When there is no namespace to join and no user namespace to make (the common case), the
stage is skipped: clone3 makes init directly, already PID 1 of its new PID namespace, and
init makes the other namespaces itself (_fork, direct_init).
"""
from pyrunc import oslite as os  # not os: see oslite.py
import _signal as signal  # the C module: signal.py imports enum (~5 ms)
import _thread

from pyrunc import fault, native
from pyrunc.errors import ConfigError, InitError, PyruncError
from pyrunc.namespaces import TYPES
from pyrunc.process import init, sync

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


def stage(plan, sock):
    """Runs in the forked stage process; never returns."""
    try:
        # Non-dumpable: container processes that share a namespace with us cannot open
        # our /proc/PID/exe (the host python3) or fds (CVE-2019-5736, CVE-2016-9962).
        native.prctl(PR_SET_DUMPABLE, 0)
        native.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        sync.expect(sock, "go", "pyrunc")
        for path in plan.join_tasks:
            join_self(path)
        _enter_namespaces(plan, sock)
        fault("stage-namespaces")
        pid = os.fork()
        if pid == 0:
            init.run(plan, sock)  # never returns
        sync.send(sock, pid=pid)
        os._exit(0)
    except BaseException as e:  # report anything to the parent, never unwind into the CLI
        sync.child_fail(sock, e)


def direct_init(plan, sock):
    """Runs in init when the parent made it directly (see _fork): what the stage would have
    done for it, then init; never returns. Its new PID and time namespaces, if any, came with
    clone3; the others are made here, after the cgroups are joined, as the stage makes them."""
    try:
        native.prctl(PR_SET_DUMPABLE, 0)  # as the stage's (see stage())
        for path in plan.join_tasks:
            join_self(path)
        _unshare(plan, plan.new_namespaces - {"pid", "time"})
        fault("stage-namespaces")
    except BaseException as e:
        sync.child_fail(sock, e)
    init.run(plan, sock)  # never returns


def join_self(tasks):
    try:
        fd = os.open(tasks, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)
    except OSError as e:
        raise PyruncError(f"join cgroup {os.path.dirname(tasks)}: {e.strerror}") from None


def fork_joined(self_join, flags=0):
    """Fork; with self_join (a cgroup manager's self_join()), the child gets into those
    cgroups without a write of its pid to cgroup.procs, which on a host whose cgroups have
    been idle waits out an RCU grace period (the global threadgroup rwsem switching to
    writer mode: 10-20 ms here, in the middle of every container start; runc and crun pay
    it). Instead it is born into the cgroup2 directory (clone3 CLONE_INTO_CGROUP,
    native.clone3_fork, with the extra clone `flags`) and writes "0" to each v1 hierarchy's
    `tasks` itself (join_self: moving only the calling thread takes no such lock).

    Returns (pid, tasks) in both processes: tasks are those v1 files, None when the fork was
    a plain one (no self_join, other threads in this process, or clone3 refused): then
    `flags` were not applied either, and the parent writes cgroup.procs as before."""
    if self_join is None or _thread._count():
        return os.fork(), None
    udir, tasks = self_join
    if udir is None and not flags:
        return os.fork(), tasks
    fd = -1
    if udir is not None:
        try:
            fd = os.open(udir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            return os.fork(), None
    try:
        return native.clone3_fork(flags, fd), tasks
    except OSError:
        return os.fork(), None
    finally:
        if fd >= 0:
            os.close(fd)


def _fork(plan):
    """Fork the stage, or init itself. Returns (pid, joined, direct).

    joined: the child joins its cgroups itself, before it makes any namespace (fork_joined).

    direct: with no namespace to join and no user namespace to make, nothing needs a stage
    process: clone3 makes init at once, PID 1 of its new PID namespace (direct_init), one
    fork and one process exit less per container (~1 ms)."""
    direct = (plan.self_join is not None and not plan.join_namespaces
              and "user" not in plan.new_namespaces)
    flags = 0
    for t in ("pid", "time") if direct else ():
        # The two that unshare() gives only to the caller's children come with the clone.
        if t in plan.new_namespaces:
            flags |= TYPES[t][0]
    pid, tasks = fork_joined(plan.self_join, flags)
    plan.join_tasks = tasks or ()
    joined = tasks is not None
    return pid, joined, direct and joined


def _enter_namespaces(plan, sock):
    # Open every path first: joining the mount namespace changes what paths mean.
    fds = []
    try:
        for t, (flag, _) in TYPES.items():
            path = plan.join_namespaces.get(t)
            if path:
                fds.append((t, flag, os.open(path, os.O_RDONLY | os.O_CLOEXEC)))
        for t, flag, fd in fds:
            try:
                native.setns(fd, flag)
            except OSError as e:
                raise PyruncError(f"join {t} namespace {plan.join_namespaces[t]}: "
                                  f"{e.strerror}") from None
    finally:
        for _, _, fd in fds:
            os.close(fd)
    if "user" in plan.new_namespaces:
        # The user namespace first, alone, so that it owns the namespaces made after it;
        # the parent writes its id maps (a process cannot map itself beyond its own id).
        # Unprivileged, the parent can open our /proc/PID/{uid_map,gid_map,setgroups} (and
        # newuidmap accepts us) only while we are dumpable: /proc/PID of a non-dumpable
        # process is owned by root. Nothing of the container runs yet; undone right after.
        rootless = os.geteuid() != 0
        if rootless:
            native.prctl(PR_SET_DUMPABLE, 1)
        try:
            native.unshare(TYPES["user"][0])
        except OSError as e:
            raise PyruncError(f"unshare user namespace: {e.strerror}") from None
        sync.send(sock, userns=1)
        sync.expect(sock, "mapped", "pyrunc")
        if rootless:
            native.prctl(PR_SET_DUMPABLE, 0)
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    _unshare(plan, plan.new_namespaces - {"user"})


def _unshare(plan, types):
    flags = 0
    for t in types:
        flags |= TYPES[t][0]
    if flags:
        try:
            native.unshare(flags)
        except OSError as e:
            raise PyruncError(f"unshare namespaces {sorted(plan.new_namespaces)}: "
                              f"{e.strerror}") from None


def start_init(plan, join_cgroup, creating_hooks, apply_resources=lambda: None,
               meanwhile=lambda pid: None, limits_meanwhile=False):
    """Fork the stage, place it in the cgroup, and wait for init to park. Returns init's pid.

    The limits are written (apply_resources) once init has mounted the rootfs and before it
    is told to continue, where runc sets them too; with limits_meanwhile, right after it is
    told to continue, while it finishes its setup (pivot_root onwards) – for a container
    whose init opens no device node from then on (no terminal) and with no hook to see the
    limits: they are all in place before create returns, and so before the container's
    process can run. meanwhile(init's pid) runs then too, before "ready" is awaited.

    On failure the caller kills whatever pid it got (see Spawned.kill)."""
    native.prctl(PR_SET_CHILD_SUBREAPER, 1)
    parent, child = sync.pair()
    plan.sock = child
    spawned = Spawned()
    pid, joined, direct = _fork(plan)
    if pid == 0:
        parent.close()
        if direct:
            direct_init(plan, child)
        stage(plan, child)
    child.close()
    if direct:
        spawned.init_pid = pid
    else:
        spawned.stage_pid = pid
    fault("create-stage-forked")
    chan = sync.Channel(parent)
    try:
        # In the cgroup before it makes namespaces: init and its children inherit it, and
        # a new cgroup namespace is rooted at the container's own cgroup.
        if not joined:
            join_cgroup(pid)
        fault("create-stage-in-cgroup")
        if not direct:
            chan.send(go=1)
            if "user" in plan.new_namespaces:
                chan.expect("userns", "namespace stage")
                write_id_maps(pid, plan.config["linux"])
                chan.send(mapped=1)
            spawned.init_pid = chan.expect("pid", "namespace stage")["pid"]
            _reap(pid)
            spawned.stage_pid = 0
        chan.expect("mounted")
        fault("create-init-mounted")
        # Limits after the rootfs is ready, as runc sets them: the devices cgroup must not
        # refuse the mknod of the default devices half-way through its rules.
        if not limits_meanwhile:
            apply_resources()
        # prestart and createRuntime hooks: runtime namespaces, mounts done, before pivot.
        creating_hooks(spawned.init_pid)
        chan.send(cont=1, pid=spawned.init_pid)
        if limits_meanwhile:
            apply_resources()
        meanwhile(spawned.init_pid)
        chan.expect("ready")
        msg = chan.recv()
        if msg is not None:
            raise InitError(msg.get("error", "unexpected message from container init"))
        if not _alive(spawned.init_pid):
            raise InitError("container init exited unexpectedly")
        return spawned
    except BaseException:
        spawned.kill()
        raise
    finally:
        parent.close()


class Spawned:
    def __init__(self):
        self.stage_pid = 0
        self.init_pid = 0

    def kill(self):
        for pid in (self.stage_pid, self.init_pid):
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                _reap(pid)


def _reap(pid):
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _alive(pid):
    try:
        wpid, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return os.path.exists(f"/proc/{pid}")
    return wpid == 0


def direct_map(maps, own_id):
    """Can this process write the id map itself? Root can write any map; anyone else only
    one line mapping exactly its own (effective) id (user_namespaces(7))."""
    if os.geteuid() == 0:
        return True
    return len(maps) == 1 and maps[0]["hostID"] == own_id and maps[0]["size"] == 1


def write_id_maps(pid, linux):
    """uid_map/gid_map of a new user namespace, written by the parent.

    Root, or an unprivileged user mapping only its own uid/gid, writes them directly; an
    unprivileged gid_map needs setgroups denied first (the kernel's rule since 3.19). Any
    other map of an unprivileged user goes through the setuid newuidmap/newgidmap
    helpers, which allow the ranges /etc/subuid and /etc/subgid grant the user (runc's
    way too; setgroups is then left allowed)."""
    for key, name, own in (("uidMappings", "uid_map", os.geteuid()),
                           ("gidMappings", "gid_map", os.getegid())):
        maps = linux.get(key) or ()
        if not maps:
            continue
        if not direct_map(maps, own):
            _map_with_helper(pid, key, maps)
            continue
        if name == "gid_map" and os.geteuid() != 0:
            _write_proc(pid, "setgroups", "deny")
        _write_proc(pid, name, "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n"
                                       for m in maps))


def _write_proc(pid, name, text):
    try:
        with open(f"/proc/{pid}/{name}", "w") as f:
            f.write(text)
    except OSError as e:
        raise PyruncError(f"write /proc/{pid}/{name}: {e.strerror}") from None


HELPER_DIRS = ("/usr/bin", "/usr/sbin", "/bin", "/sbin")


def _map_with_helper(pid, key, maps):
    tool = "newuidmap" if key == "uidMappings" else "newgidmap"
    dirs = [d for d in os.environ.get("PATH", "").split(":") if d] + list(HELPER_DIRS)
    path = next((os.path.join(d, tool) for d in dirs
                 if os.access(os.path.join(d, tool), os.X_OK)), None)
    if path is None:
        kind, own = ("uid", os.geteuid()) if key == "uidMappings" else ("gid", os.getegid())
        raise ConfigError(f"/linux/{key}", f"mapping more than your own {kind} ({own}) "
                          f"needs {tool} (package uidmap), not found")
    import subprocess  # only here: a rootless container with subordinate ids
    argv = [path, str(pid)]
    for m in maps:
        argv += [str(m["containerID"]), str(m["hostID"]), str(m["size"])]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    if p.returncode:
        why = " ".join(p.stderr.decode(errors="replace").split()) or f"exit status {p.returncode}"
        sub = "/etc/subuid" if key == "uidMappings" else "/etc/subgid"
        raise ConfigError(f"/linux/{key}", f"{tool} failed ({why}); the ranges must be "
                          f"granted to the user in {sub}")
