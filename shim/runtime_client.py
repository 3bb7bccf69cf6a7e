"""Drives a runc-compatible runtime CLI (runc, pyrunc) the way containerd's runc shim does."""
import os

from pyrunc_shim.jsonlite import loads

from pyrunc_shim.spawn import run_output, spawn
from pyrunc_shim.ttrpc import NOT_FOUND, UNKNOWN, RpcError

# Substrings containerd treats as "the process is already gone".
GONE = ("container not running", "no such process", "process already finished", "does not exist")


def find_binary(name):
    """Absolute names are used as is; otherwise look next to the shim, then on PATH."""
    if os.path.isabs(name):
        return name
    import sys
    dirs = [os.path.dirname(os.path.abspath(sys.argv[0]))]
    dirs += os.environ.get("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").split(":")
    for d in dirs:
        path = os.path.join(d, name)
        if os.access(path, os.X_OK) and not os.path.isdir(path):
            return path
    raise RpcError(NOT_FOUND, "runtime %r not found next to the shim or on PATH" % name)


def last_error(log_path):
    """msg of the last level=error line of the runtime's JSON log, as containerd reports it."""
    msg = ""
    try:
        with open(log_path, "rb") as f:
            for line in f:
                try:
                    entry = loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict) and entry.get("level") == "error":
                    msg = str(entry.get("msg", "")).strip()
    except OSError:
        pass
    return msg


class RuntimeFailed(RpcError):
    def __init__(self, message):
        code = NOT_FOUND if any(g in message.lower() for g in GONE) else UNKNOWN
        super().__init__(code, message)


class Runtime:
    def __init__(self, binary, root, bundle, reaper, systemd_cgroup=False):
        self.binary = binary
        self.root = root
        self.log = os.path.join(bundle, "log.json")
        self.reaper = reaper
        self.systemd_cgroup = systemd_cgroup
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        self.env = env

    def _argv(self, *args):
        argv = [self.binary, "--root", self.root, "--log", self.log, "--log-format", "json"]
        if self.systemd_cgroup:
            argv.append("--systemd-cgroup")
        argv.extend(args)
        return argv

    def _fail(self, what, status, output=b""):
        msg = last_error(self.log) or output.decode(errors="replace").strip()
        if not msg:
            msg = "%s exited with status %d" % (what, status)
        raise RuntimeFailed(msg)

    def run(self, *args, stdin_data=None):
        status, out = run_output(self._argv(*args), self.reaper, stdin_data, self.env)
        if status != 0:
            self._fail(args[0], status, out)
        return out

    def run_with_stdio(self, args, stdio):
        """create/exec: the child's 0/1/2 are the container's stdio, so errors come from log.json."""
        devnull = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
        fds = {n: stdio.get(n, devnull) for n in (0, 1, 2)}
        try:
            pid = spawn(self._argv(*args), fds, self.env)
        finally:
            os.close(devnull)
        status = self.reaper.wait(pid)
        if status != 0:
            self._fail(args[0], status)

    def create(self, cid, bundle, pid_file, stdio, console_socket=None, no_pivot=False,
               no_new_keyring=False):
        args = ["create", "--bundle", bundle, "--pid-file", pid_file]
        if console_socket:
            args += ["--console-socket", console_socket]
        if no_pivot:
            args.append("--no-pivot")
        if no_new_keyring:
            args.append("--no-new-keyring")
        self.run_with_stdio(args + [cid], stdio)

    def exec(self, cid, process_file, pid_file, stdio, console_socket=None):
        args = ["exec", "--process", process_file, "--detach", "--pid-file", pid_file]
        if console_socket:
            args += ["--console-socket", console_socket]
        self.run_with_stdio(args + [cid], stdio)

    def kill(self, cid, signal, all_=False):
        args = ["kill", "--all", cid, str(signal)] if all_ else ["kill", cid, str(signal)]
        self.run(*args)

    def delete(self, cid, force=False):
        self.run(*(["delete", "--force", cid] if force else ["delete", cid]))

    def ps(self, cid):
        return loads(self.run("ps", "--format", "json", cid) or b"null") or []

    def update(self, cid, resources_json):
        self.run("update", "--resources", "-", cid, stdin_data=resources_json)
