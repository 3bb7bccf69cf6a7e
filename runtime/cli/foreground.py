"""What `run` and `exec` do in the foreground: forward signals to the container's process,
proxy a terminal, and wait for the exit status (128+signal when a signal killed it)."""
from pyrunc import oslite as os  # not os: see oslite.py

from pyrunc.errors import PyruncError


class Forwarder:
    """Catch every catchable signal; queue them until the pid is known, then forward."""

    def __init__(self):
        import _signal as signal  # the C module: signal.py imports enum (~5 ms)
        self.me = os.getpid()
        self.winch = signal.SIGWINCH
        self.pid = 0
        self.pending = []
        self.on_winch = None
        for sig in signal.valid_signals():
            if sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD):
                continue
            try:
                signal.signal(sig, self._handle)
            except (OSError, ValueError):
                pass

    def _handle(self, sig, _frame):
        if os.getpid() != self.me:
            return  # a forked setup process before it reset its handlers
        if sig == self.winch and self.on_winch:
            self.on_winch()
        if not self.pid:
            self.pending.append(sig)
            return
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def set_pid(self, pid):
        self.pid = pid
        while self.pending:
            try:
                os.kill(pid, self.pending.pop(0))
            except ProcessLookupError:
                pass


def receive_pty(sock):
    """The pty master the container's process sent over our end of its console socket."""
    import socket
    _, fds, _, _ = socket.recv_fds(sock, 4096, 1)
    if not fds:
        raise PyruncError("no pty master received from the container's process")
    return fds[0]


def copy_size(master):
    """Our terminal's window size onto the container's pty (a no-op without a terminal)."""
    import fcntl
    import termios
    try:
        size = fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(master, termios.TIOCSWINSZ, size)
    except OSError:
        pass


def proxy_tty(master, pid, fwd):
    """Foreground terminal: copy stdin -> pty master -> stdout until the process exits,
    forwarding signals (and window size changes) as runc does. Closes `master`; returns
    the process's status."""
    import select
    import termios
    import tty
    saved = None
    if os.isatty(0):
        saved = termios.tcgetattr(0)
        tty.setraw(0)
        copy_size(master)
        fwd.on_winch = lambda: copy_size(master)
    fwd.set_pid(pid)
    try:
        poller = select.poll()
        poller.register(master, select.POLLIN)
        stdin_open = True
        try:
            poller.register(0, select.POLLIN)
        except (OSError, ValueError):
            stdin_open = False
        done = False
        while not done:
            for fd, ev in poller.poll(200):
                if fd == master:
                    try:
                        data = os.read(master, 65536)
                    except OSError:  # EIO: every peer fd is closed
                        data = b""
                    if not data:
                        done = True
                        break
                    _write_all(1, data)
                elif fd == 0:
                    data = os.read(0, 65536) if ev & (select.POLLIN | select.POLLHUP) else b""
                    if data:
                        _write_all(master, data)
                    else:
                        poller.unregister(0)
                        stdin_open = False
                        _write_all(master, b"\x04")  # EOF for the pty's reader
            if not done and _exited(pid):
                done = True
        del stdin_open
    finally:
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
        os.close(master)
    return wait(pid)


def _write_all(fd, data):
    while data:
        n = os.write(fd, data)
        data = data[n:]


_STATUS = {}


def _exited(pid):
    try:
        wpid, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    if wpid == pid:
        _STATUS[pid] = status
        return True
    return False


def wait(pid):
    status = _STATUS.get(pid)
    if status is None:
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            return 255
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)
