"""Container stdio: the client's FIFOs, binary:// loggers, file:// outputs and the pty.

Without a terminal the container gets fresh pipes and copier threads move bytes between the
pipes and the client's FIFOs. With a terminal the runtime hands back the pty master through
a console socket and the same copiers run against the master.
"""
import os
import select
from pyrunc_shim import threads

from pyrunc_shim import usock

from pyrunc_shim.ttrpc import INVALID_ARGUMENT, RpcError

LOGGER_READY_TIMEOUT = 10.0
_counter = [0]
_counter_lock = threads.Lock()


def parse_uri(path):
    """Returns (kind, target, args): kind is null, fifo, binary or file."""
    if not path:
        return "null", "", []
    if "://" not in path:
        return "fifo", path, []
    from urllib.parse import parse_qsl, urlsplit
    url = urlsplit(path)
    if url.scheme == "fifo":
        return "fifo", url.path, []
    if url.scheme in ("binary", "binary-v2"):
        args = []
        for key, value in parse_qsl(url.query, keep_blank_values=True):
            args.append(key)
            if value:
                args.append(value)
        return url.scheme, url.path, args
    if url.scheme == "file":
        return "file", url.path, []
    raise RpcError(INVALID_ARGUMENT, "unsupported STDIO scheme %s: %r" % (url.scheme, path))


def _write_all(fd, data):
    while data:
        data = data[os.write(fd, data):]


def _pump(src, dst, stop=None):
    """Copies until EOF/EIO on src (or stop becomes readable); returns True on EOF."""
    poller = None
    if stop is not None:
        poller = select.poll()
        poller.register(src, select.POLLIN)
        poller.register(stop, select.POLLIN)
    while True:
        if poller is not None:
            ready = dict(poller.poll())
            if stop in ready and src not in ready:
                return False
        try:
            data = os.read(src, 65536)
        except OSError:  # EIO: the pty's last slave end closed
            return True
        if not data:
            return True
        try:
            _write_all(dst, data)
        except OSError:
            return True


def _console_dir():
    base = os.environ.get("XDG_RUNTIME_DIR") or "/tmp"
    with _counter_lock:
        _counter[0] += 1
        n = _counter[0]
    path = os.path.join(base, "pty-pyrunc-%d-%d" % (os.getpid(), n))
    os.mkdir(path, 0o700)
    return path


def open_fifo_writer(path, timeout=30.0):
    """Opens the client's output FIFO once its reader is there, before Create/Exec returns.

    Data written while no reader has the FIFO open is dropped when our end closes, and the
    client cancels reader opens still pending when it deletes the task: a fast container's
    output would be lost. A non-blocking retry loop bounds the wait."""
    import time
    delay, deadline = 0.0005, time.monotonic() + timeout
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            os.set_blocking(fd, True)
            return fd
        except OSError as err:
            if err.errno != 6 or time.monotonic() > deadline:  # ENXIO: no reader yet
                if err.errno == 6:
                    return os.open(path, os.O_RDWR | os.O_CLOEXEC)  # keep going without one
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def _wait_drained(fd, timeout=1.0):
    """Closing our last ends discards whatever the client has not read yet if its reader is
    not open at that moment (see open_fifo_writer): wait, bounded, until it took everything."""
    import fcntl
    import termios
    import time
    buf = bytearray(4)
    delay, deadline = 0.0002, time.monotonic() + timeout
    while True:
        fcntl.ioctl(fd, termios.FIONREAD, buf)
        if not any(buf) or time.monotonic() > deadline:
            return
        time.sleep(delay)
        delay = min(delay * 2, 0.02)


class ConsoleSocket:
    """Where the runtime sends the pty master (one SCM_RIGHTS message, one fd)."""

    def __init__(self):
        self.dir = _console_dir()
        self.path = os.path.join(self.dir, "pty.sock")
        self.sock = usock.Socket()
        self.sock.bind(self.path)
        self.sock.listen(1)

    def receive(self, timeout=30.0):
        self.sock.settimeout(timeout)
        conn, _ = self.sock.accept()
        try:
            conn.settimeout(timeout)
            _, fds = usock.recv_fds(conn, 4096, 1)
        finally:
            conn.close()
        if len(fds) != 1:
            raise RpcError(INVALID_ARGUMENT, "console socket: expected exactly one fd")
        return fds[0]

    def close(self):
        self.sock.close()
        for path in (self.path, self.dir):
            try:
                (os.unlink if path == self.path else os.rmdir)(path)
            except OSError:
                pass


class ProcessIO:
    def __init__(self, stdin, stdout, stderr, terminal, uid=0, gid=0, cid="", namespace=""):
        self.stdin, self.stdout, self.stderr, self.terminal = stdin, stdout, stderr, terminal
        self.uid, self.gid = uid, gid
        self.cid, self.namespace = cid, namespace
        self.child = {}       # fd number in the runtime child -> our fd, closed after start
        self.owned = []       # fds to close on close()
        self.outputs = []     # copier threads that must drain before Delete completes
        self.stop_w = None
        self.stdin_keep = None
        self.stdin_closed = False   # CloseIO may arrive while Start is still opening stdin
        self.lock = threads.Lock()
        self.stdin_dst = None
        self.console = None
        self.master = None
        self.logger_pid = None

    # -- before the runtime call

    def prepare(self):
        """Builds the child's stdio; returns the console socket path when a terminal is used."""
        if self.terminal:
            self.console = ConsoleSocket()
            return self.console.path
        if self.stdin:
            r, w = os.pipe()
            self._chown(r)
            self.child[0] = r
            self.stdin_dst = w
        out_kind, out_target, out_args = parse_uri(self.stdout)
        if out_kind in ("binary", "binary-v2"):
            self._start_logger(out_kind, out_target, out_args)
        elif out_kind == "file":
            self._open_file(out_target)
        else:
            for n, path in ((1, self.stdout), (2, self.stderr)):
                if path:
                    r, w = os.pipe()
                    self._chown(w)
                    self.child[n] = w
                    self.owned.append(r)
                    self._output_thread(r, path)
        return None

    def _chown(self, fd):
        if self.uid or self.gid:
            os.fchown(fd, self.uid, self.gid)

    def _open_file(self, path):
        os.makedirs(os.path.dirname(path) or "/", 0o755, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self.child[1] = self.child[2] = fd

    def _start_logger(self, kind, path, args):
        from pyrunc_shim.spawn import spawn
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        ready_r, ready_w = os.pipe()
        env = dict(os.environ, CONTAINER_ID=self.cid, CONTAINER_NAMESPACE=self.namespace)
        try:
            self.logger_pid = spawn([path] + args, {3: out_r, 4: err_r, 5: ready_w}, env)
        finally:
            for fd in (out_r, err_r, ready_w):
                os.close(fd)
        try:
            # binary:// is ready on EOF or a byte; binary-v2:// must send the byte.
            ready = select.select([ready_r], [], [], LOGGER_READY_TIMEOUT)[0]
            got = os.read(ready_r, 1) if ready else b""
        finally:
            os.close(ready_r)
        if not ready or (kind == "binary-v2" and not got):
            os.close(out_w)
            os.close(err_w)
            import _signal
            try:
                os.kill(self.logger_pid, _signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.logger_pid = None
            raise RpcError(INVALID_ARGUMENT, "logging binary %s did not get ready" % path)
        self.child[1], self.child[2] = out_w, err_w

    def _output_thread(self, src, path):
        dst = open_fifo_writer(path)
        # Our own reader end: the client's reader can vanish for an instant (an interrupted
        # open(2) is retried), and a write in that instant would fail with EPIPE.
        keep = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)

        def copy():
            try:
                _pump(src, dst)
                _wait_drained(keep)
            finally:
                os.close(dst)
                os.close(keep)
        t = threads.Thread(target=copy, daemon=True)
        t.dst = (dst, keep)
        self.outputs.append(t)

    # -- after the runtime call

    def started(self):
        """The runtime child holds its stdio now: drop our copies and start copying."""
        for fd in set(self.child.values()):
            os.close(fd)
        self.child.clear()
        if self.console is not None:
            try:
                self.master = self.console.receive()
            finally:
                self.console.close()
                self.console = None
            self.owned.append(self.master)
            if self.stdout:
                self._output_thread(self.master, self.stdout)
            self.stdin_dst = self.master
        if self.stdin:
            self._start_stdin()
        for t in self.outputs:
            t.start()

    def _start_stdin(self):
        src = os.open(self.stdin, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        # A writer of our own keeps the FIFO from reporting EOF before CloseIO.
        keep = os.open(self.stdin, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with self.lock:
            if self.stdin_closed:
                os.close(keep)
            else:
                self.stdin_keep = keep
        os.set_blocking(src, True)
        dst = self.stdin_dst
        stop_r, self.stop_w = os.pipe()

        def copy():
            try:
                _pump(src, dst, stop_r)
            finally:
                os.close(src)
                os.close(stop_r)
                if dst != self.master:
                    os.close(dst)
        threads.Thread(target=copy, daemon=True).start()

    def close_stdin(self):
        with self.lock:
            self.stdin_closed = True
            fd, self.stdin_keep = self.stdin_keep, None
        if fd is not None:
            os.close(fd)

    def resize(self, width, height):
        if self.master is None:
            return
        import fcntl
        import struct
        import termios
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    def wait(self, timeout=10.0):
        for t in self.outputs:
            if t.ident is not None:
                t.join(timeout)

    def close(self):
        self.close_stdin()
        if self.stop_w is not None:
            try:
                os.write(self.stop_w, b"x")
            except OSError:  # the stdin copier already finished and closed its end
                pass
            os.close(self.stop_w)
            self.stop_w = None
        if self.console is not None:
            self.console.close()
        for fd in set(self.child.values()):
            os.close(fd)
        self.child.clear()
        for t in self.outputs:
            if t.ident is None:  # never started (create failed): its FIFO ends are still ours
                for fd in t.dst:
                    os.close(fd)
        self.outputs = []
        for fd in self.owned:
            try:
                os.close(fd)
            except OSError:
                pass
        self.owned = []
        if self.logger_pid:
            self._stop_logger()

    def _stop_logger(self, timeout=12.0):
        """The logger sees EOF once the container's ends are closed and should finish on its
        own; it gets SIGTERM only if it takes too long (the reaper collects it either way)."""
        import _signal
        import time
        pid, self.logger_pid = self.logger_pid, None
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                os.kill(pid, 0)
                time.sleep(0.01)
            os.kill(pid, _signal.SIGTERM)
        except ProcessLookupError:
            pass
