"""Terminals (config.md#process `terminal`/`consoleSize`, config-linux.md#default-devices
/dev/console, runc's --console-socket protocol): the runtime makes a pty, sends the master
over the console socket as one SCM_RIGHTS fd, and the process gets the peer as its ctty.
"""
import array
import json
import os
import select
import socket
import time

from ..case import Fail, case, check, eq
from ..scenarios import scenario


class ConsoleSocket:
    """The receiving end of --console-socket (a listening AF_UNIX stream socket)."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)

    def receive(self, timeout=10):
        self.sock.settimeout(timeout)
        conn, _ = self.sock.accept()
        with conn:
            fds = array.array("i")
            msg, anc, _flags, _addr = conn.recvmsg(4096, socket.CMSG_SPACE(16 * fds.itemsize))
        got = []
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                got.extend(array.array("i", data[: len(data) - len(data) % fds.itemsize]))
        return msg, got

    def close(self):
        self.sock.close()


def read_all(fd, timeout=10):
    """Reads a pty master until the slave side is gone (EIO) or the timeout passes."""
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if not r:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    return out.decode(errors="replace")


def tty_container(ctx, b, *paths):
    """create with a console socket, start, and return (facts, received fds, payload)."""
    sock = ConsoleSocket(b.path("console.sock"))
    try:
        b.process["terminal"] = True
        b.process["args"] = ["/bin/probe", *paths]
        ctx.create(b, "--console-socket", sock.path)
        msg, fds = sock.receive()
    finally:
        sock.close()
    check(fds, "no fd received on the console socket")
    master = fds[0]
    try:
        info = {"count": len(fds), "isatty": os.isatty(master), "payload": len(msg),
                "target": os.readlink(f"/proc/self/fd/{master}")}
        ctx.start(b)
        text = read_all(master)
    finally:
        for fd in fds:
            os.close(fd)
    start = text.find("{")
    try:
        facts = json.loads(text[start:])
    except ValueError:
        raise Fail(f"probe output through the pty is not JSON: {text[:200]!r}")
    return {"facts": facts, "fd": info, "paths": facts.get("paths", {})}


@scenario
def terminal(ctx):
    b = ctx.bundle(tag="tty")
    b.process["consoleSize"] = {"height": 33, "width": 101}
    return tty_container(ctx, b, "s:/dev/console", "s:/dev/ptmx")


@case("terminal.console-socket-one-fd", "runc-cli#create", "CLI",
      "--console-socket receives exactly one fd in one message with a payload")
def _(t):
    info = t.facts("terminal")["fd"]
    eq((info["count"], info["payload"] > 0), (1, True), "fd count, non-empty payload")


@case("terminal.console-socket-master", "runc-cli#create", "CLI",
      "the fd sent over the console socket is a pty master")
def _(t):
    info = t.facts("terminal")["fd"]
    check(info["target"] in ("/dev/ptmx", "/dev/pts/ptmx"), f"fd is {info['target']}")


@case("terminal.stdio-is-tty", "config.md#process", "MUST",
      "with terminal true, stdin, stdout and stderr are the terminal")
def _(t):
    eq(t.facts("terminal")["facts"]["tty"]["isatty"], [True, True, True], "isatty(0,1,2)")


@case("terminal.controlling-tty", "config.md#process", "MUST",
      "with terminal true the process has a controlling terminal")
def _(t):
    check(t.facts("terminal")["facts"]["tty"]["tty_nr"] != 0, "no controlling tty")


@case("terminal.session-leader", "config.md#process", "SHOULD",
      "with terminal true the process leads its own session")
def _(t):
    f = t.facts("terminal")["facts"]
    eq(f["sid"], f["pid"], "session id")


@case("terminal.console-size", "config.md#process", "MUST",
      "consoleSize sets the terminal's rows and columns")
def _(t):
    tty = t.facts("terminal")["facts"]["tty"]
    eq((tty["rows"], tty["cols"]), (33, 101), "rows, cols")


@case("terminal.dev-console", "config-linux.md#default-devices", "MUST",
      "with terminal true /dev/console is the container's pty (a devpts char device)")
def _(t):
    st = t.facts("terminal")["paths"]["s:/dev/console"]
    eq((st.get("type"), st.get("major")), ("char", 136), "/dev/console")


@case("terminal.pty-name", "config.md#process", "MUST",
      "the terminal is a pty of the container's /dev/pts")
def _(t):
    name = t.facts("terminal")["facts"]["tty"]["name"] or ""
    check(name.startswith("/dev/pts/"), f"ttyname {name!r}")


@case("terminal.no-socket-error", "runc-cli#create", "CLI",
      "terminal true without --console-socket fails create and leaves no trace")
def _(t):
    from .errors import failing_create
    failing_create(t, lambda b: b.process.update(terminal=True))


@case("terminal.socket-without-terminal", "runc-cli#create", "CLI",
      "--console-socket with terminal false fails create")
def _(t):
    b = t.sleeper()
    sock = ConsoleSocket(b.path("console.sock"))
    try:
        r = t.create(b, "--console-socket", sock.path, ok=False)
    finally:
        sock.close()
    check(not r.ok, "create exited 0")
