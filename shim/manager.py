"""The short-lived shim actions: `start` (spawn or reuse a daemon) and `delete` (clean up)."""
import os
import sys
import time

SOCKET_DIR = "/run/containerd/s"
# Written by the daemon once the container is deleted and unmounted: the delete action,
# which containerd runs (and waits for) after every shim exit, then has nothing to do.
DELETED_MARKER = ".pyrunc-shim-deleted"
GROUP_ANNOTATIONS = ("io.containerd.runc.v2.group", "io.kubernetes.cri.sandbox-id")


def group_id(bundle, cid):
    """Containers of one pod share a shim: they are grouped by the sandbox annotation."""
    try:
        with open(os.path.join(bundle, "config.json"), "rb") as f:
            raw = f.read()
    except OSError:
        return cid
    if not any(key.encode() in raw for key in GROUP_ANNOTATIONS):
        return cid  # the common case needs no JSON parse
    from pyrunc_shim.jsonlite import loads
    try:
        annotations = loads(raw).get("annotations") or {}
    except ValueError:
        return cid
    for key in GROUP_ANNOTATIONS:
        if annotations.get(key):
            return annotations[key]
    return cid


def _sha256(data):
    try:
        from _sha256 import sha256  # builtin: avoids loading OpenSSL on every start
    except ImportError:
        from hashlib import sha256
    return sha256(data)


def socket_address(containerd_address, namespace, group, socket_dir=SOCKET_DIR):
    digest = _sha256(("%s/%s/%s" % (containerd_address, namespace, group)).encode())
    return "unix://%s/%s" % (socket_dir, digest.hexdigest())


def _path(address):
    return address[len("unix://"):] if address.startswith("unix://") else address


def _alive(path):
    from pyrunc_shim.usock import Socket
    s = Socket()
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def _listen(address):
    path = _path(address)
    from pyrunc_shim.usock import Socket
    os.makedirs(os.path.dirname(path), 0o700, exist_ok=True)
    sock = Socket()
    old = os.umask(0o177)  # 0600 from the start: no window where others may connect
    try:
        sock.bind(path)
    finally:
        os.umask(old)
    sock.listen(128)
    return sock


def read_bootstrap(data, flags):
    """containerd >= 2.3 sends BootstrapParams; older ones an Any with options (maybe empty).
    Returns (params or None, options type_url, options value)."""
    if data:
        from pyrunc_shim.wire import message_class
        try:
            params = message_class("containerd.runtime.bootstrap.v1.BootstrapParams").FromString(data)
        except Exception:
            params = None
        if params is not None and params.instance_id == flags.id and \
                params.namespace == flags.namespace:
            ext = params.extensions[0].value if len(params.extensions) else None
            return params, (ext.type_url if ext else ""), (ext.value if ext else b"")
        anyv = message_class("google.protobuf.Any").FromString(data)
        return None, anyv.type_url, anyv.value
    return None, "", b""


def start(flags):
    bundle = os.getcwd()
    data = sys.stdin.buffer.read()
    params, type_url, value = read_bootstrap(data, flags)
    socket_dir = SOCKET_DIR
    if params is not None and params.HasField("socket_dir"):
        socket_dir = params.socket_dir
    address = socket_address(flags.address, flags.namespace, group_id(bundle, flags.id), socket_dir)
    path = _path(address)
    if os.path.exists(path):
        if _alive(path):
            return _reply(bundle, address, params)
        os.unlink(path)
    if type_url or value:
        # Kept for the daemon: containerd 2.3 sends options only here.
        from pyrunc_shim.jsonlite import dumps
        with open(os.path.join(bundle, "shim-options.json"), "w") as f:
            f.write(dumps({"type_url": type_url, "value": value.hex()}))
    listener = _listen(address)
    pid = _fork_daemon(flags, listener)
    listener.close()
    _adjust_oom(pid)
    if params is None and type_url:
        _join_shim_cgroup(pid, type_url, value)
    return _reply(bundle, address, params)


def _fork_daemon(flags, listener):
    """The daemon is a fork, not a fresh interpreter: containerd's first request waits for it,
    and a fork skips interpreter start-up and the imports done so far."""
    sys.stdout.flush()
    pid = os.fork()
    if pid:
        return pid
    try:
        os.setpgid(0, 0)
        if os.environ.get("SCHED_CORE"):
            from pyrunc_shim.libc import create_sched_core_cookie
            create_sched_core_cookie()
        devnull = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):  # containerd reads start's stdout until EOF
            os.dup2(devnull, fd)
        os.close(devnull)
        from pyrunc_shim.daemon import serve
        serve(flags, listener)
    finally:
        os._exit(1)


def _adjust_oom(pid):
    """The daemon is a bit more killable than containerd, like the runc shim."""
    try:
        with open("/proc/%d/oom_score_adj" % os.getppid()) as f:
            score = int(f.read())
        with open("/proc/%d/oom_score_adj" % pid, "w") as f:
            f.write(str(min(score + 1, 1000)))
    except (OSError, ValueError):
        pass


def _join_shim_cgroup(pid, type_url, value):
    try:
        from pyrunc_shim.options import parse
        cg = parse(type_url, value).shim_cgroup
    except Exception:
        return
    if not cg:
        return
    from pyrunc_shim.stats import cgroup_dirs_for_path
    for d in cgroup_dirs_for_path(cg):
        try:
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write(str(pid))
        except OSError:
            pass


def _reply(bundle, address, params):
    with open(os.path.join(bundle, "address"), "w") as f:
        f.write(address)
    out = sys.stdout.buffer
    if params is not None:
        from pyrunc_shim.wire import message_class
        out.write(message_class("containerd.runtime.bootstrap.v1.BootstrapResult")(version=2, address=address,
                                                protocol="ttrpc").SerializeToString())
    else:
        out.write(address.encode())
    out.flush()
    return 0


def delete(flags):
    """After a shim is gone: force-delete the container, unmount, report SIGKILL status."""
    bundle = flags.bundle or os.getcwd()
    if not os.path.exists(os.path.join(bundle, DELETED_MARKER)):
        _force_delete(flags, bundle)
    pid = 0
    try:
        with open(os.path.join(bundle, "init.pid")) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        pass
    from pyrunc_shim.wire import message_class
    resp = message_class("containerd.task.v2.DeleteResponse")(pid=pid, exit_status=137)
    resp.exited_at.FromNanoseconds(time.time_ns())
    sys.stdout.buffer.write(resp.SerializeToString())
    sys.stdout.buffer.flush()
    return 0


def _force_delete(flags, bundle):
    from pyrunc_shim.options import Options
    try:
        with open(os.path.join(bundle, "options.json")) as f:
            opts = Options.from_json(f.read())
    except (OSError, ValueError):
        opts = Options()
    try:
        with open(os.path.join(bundle, "runtime")) as f:
            binary = f.read().strip()
    except OSError:
        binary = ""
    from pyrunc_shim.runtime_client import Runtime, find_binary
    try:
        rt = Runtime(binary or find_binary(opts.binary), opts.root_for(flags.namespace), bundle,
                     None, opts.systemd_cgroup)
        rt.delete(flags.id, force=True)
    except Exception as err:  # only logged: containerd goes on with its cleanup
        sys.stderr.write("pyrunc shim delete: %s\n" % err)
    from pyrunc_shim.mounts import unmount_all
    unmount_all(os.path.join(bundle, "rootfs"))
