"""The sync channel between the pyrunc CLI (parent) and the container's setup processes.

One SOCK_SEQPACKET socketpair; each message is a marshal'ed dict (no import, exact framing).

    parent (pyrunc create)            stage (ns setup)             init (PID 1)
    fork stage ----------------------> 
    "go" ----------------------------> join cgroups*, setns/unshare, fork init -->
                      <--------------- {"pid": N}, exit
                      <------------------------------------------- "mounted"
    (prestart/createRuntime hooks)
    "continue" ------------------------------------------------->  pivot_root, ...
                      <------------------------------------------- "ready"
                                                                    fexecve(pyrunc-init)
    EOF on the socket (close-on-exec) = init is parked on exec.fifo

* The stage is born in its cgroup2 directory and writes "0" to the v1 `tasks` files itself
(spawn._fork); where it cannot, the parent writes its pid to cgroup.procs before "go". With
no namespace to join and no user namespace, there is no stage: the parent makes init with
clone3 (new PID namespace), init joins the cgroups, makes the other namespaces and goes on
from "mounted".

Either child reports a failure as {"error": msg} and exits; the parent raises InitError.
"""
import marshal
from pyrunc import oslite as os  # not os: see oslite.py
import _socket as socket  # the C module: socket.py costs ~4 ms of imports

from pyrunc.errors import InitError, PyruncError

MAX = 1 << 16


def pair():
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


def send(sock, **msg):
    sock.sendall(marshal.dumps(msg))


def recv(sock):
    """Next message, or None at EOF."""
    data = sock.recv(MAX)
    if not data:
        return None
    return marshal.loads(data)


class Channel:
    """The parent's end. Stage and init share the socket and race each other (init can
    report "mounted" before the stage reports init's pid), so messages that arrive early
    are kept until they are expected."""

    def __init__(self, sock):
        self.sock = sock
        self.early = []

    def send(self, **msg):
        send(self.sock, **msg)

    def recv(self):
        if self.early:
            return self.early.pop(0)
        return recv(self.sock)

    def expect(self, key, who="container init"):
        for i, msg in enumerate(self.early):
            if key in msg:
                return self.early.pop(i)
        while True:
            msg = recv(self.sock)
            if msg is None:
                raise InitError(f"{who} exited before it was ready")
            if "error" in msg:
                raise InitError(msg["error"])
            if key in msg:
                return msg
            self.early.append(msg)


def expect(sock, key, who="pyrunc"):
    """Child side: wait for `key` from the parent; EOF means the parent is gone."""
    msg = recv(sock)
    if msg is None:
        raise InitError(f"{who} went away")
    if key not in msg:
        raise InitError(f"unexpected message from {who}: {sorted(msg)}")
    return msg


def child_fail(sock, err):
    """Report a failure in a setup process to the parent and exit without unwinding."""
    try:
        if isinstance(err, PyruncError):
            msg = str(err)
        elif isinstance(err, OSError):
            msg = f"{err.filename + ': ' if err.filename else ''}{err.strerror or err}"
        else:
            msg = f"{type(err).__name__}: {err}"
        send(sock, error=msg[:MAX // 2])  # a huge message would not fit one packet
    except BaseException:  # noqa: B036  whatever happens, a forked child never unwinds
        pass
    finally:
        os._exit(1)
