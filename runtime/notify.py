"""NOTIFY_SOCKET (systemd's sd_notify) through the container, as runc 1.1.5 does it.

When pyrunc's own environment has NOTIFY_SOCKET (pyrunc runs under a Type=notify unit):
- create makes `<state dir>/notify/` (0755), bind-mounts it read-only (nosuid, nodev,
  noexec) at /run/notify in the container, and gives the process
  NOTIFY_SOCKET=/run/notify/notify.sock;
- start binds a datagram socket there (0777) before the process runs, waits for a message
  with a line starting "READY=" (or for init to exit), then sends the host's socket that
  line ("READY=1\\n") and "MAINPID=<init's pid>\\n", and only then returns. `run -d`
  does the same; `run` in the foreground forwards it in the background with
  MAINPID=pyrunc's own pid, since pyrunc stays the unit's main process there.

runc looks for READY= only at the start of a datagram (its start waits on
"STATUS=x\\nREADY=1" until the container exits); pyrunc takes it on any line, as
sd_notify(3) allows.

Only imported when NOTIFY_SOCKET is set.
"""
from pyrunc import oslite as os  # not os: see oslite.py
import select
import socket

from pyrunc.errors import SyscallError

DIR = "notify"
SOCK = "notify.sock"
CONTAINER_DIR = "/run/notify"


def prepare(plan, sdir):
    """create: the socket's directory, its mount, and the variable for the process."""
    from pyrunc.mounts import MountSpec
    d = os.path.join(sdir, DIR)
    os.mkdir(d, 0o755)
    os.chmod(d, 0o755)
    plan.mounts.append(MountSpec({"destination": CONTAINER_DIR, "type": "bind", "source": d,
                                  "options": ["bind", "nosuid", "noexec", "nodev", "ro"]},
                                 len(plan.mounts)))
    # A copy: the stored config (and what exec starts from) stays the bundle's.
    env = list(plan.process.get("env") or ()) + [f"NOTIFY_SOCKET={CONTAINER_DIR}/{SOCK}"]
    plan.process = dict(plan.process, env=env)


class Listener:
    """start: the socket in the state directory, bound before the process runs."""

    def __init__(self, c, host):
        self.c = c
        self.host = "\0" + host[1:] if host.startswith("@") else host
        path = os.path.join(c.dir, DIR, SOCK)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        try:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            self.sock.bind(path)
            os.chmod(path, 0o777)
        except OSError as e:
            self.sock.close()
            raise SyscallError(f"bind notify socket {path}", e) from None

    def forward(self, mainpid):
        """Wait for READY= from the container, then tell the host's socket. Returns when
        it has, or when init is gone without saying it."""
        try:
            p = select.poll()
            p.register(self.sock, select.POLLIN)
            ready = None
            while ready is None:
                if p.poll(100):
                    data = self.sock.recv(4096)
                    ready = next((line for line in data.split(b"\n")
                                  if line.startswith(b"READY=")), None)
                elif not self.c.init_alive():
                    return
            out = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            try:
                out.connect(self.host)
                out.send(ready + b"\n")
                out.send(b"MAINPID=%d\n" % mainpid)
            except OSError as e:
                raise SyscallError(f"notify socket {self.host.lstrip(chr(0))}", e) from None
            finally:
                out.close()
        finally:
            self.close()

    def close(self):
        self.sock.close()
