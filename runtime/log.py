"""runc-compatible log lines: logrus text (`time=... level=... msg=...`) or JSON objects.

containerd's shim reads `--log` JSON line by line and keeps the msg of the last error, so
the format (sorted keys, RFC 3339 time) is part of pyrunc's interface.
"""
from pyrunc import oslite as os  # not os: see oslite.py
import time

LEVELS = ("trace", "debug", "info", "warning", "error", "fatal", "panic")


def rfc3339(ts=None, nanos=False):
    """UTC RFC 3339 time; with nanos, the 9-digit fraction runc puts in `created`."""
    if ts is None:
        ts = time.time_ns() if nanos else time.time()
    if nanos:
        sec, ns = divmod(ts, 1_000_000_000)
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + ".%09dZ" % ns
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _quote(text):
    out = one_line(text.replace("\\", "\\\\").replace('"', '\\"'))
    return '"' + out + '"'


def one_line(text):
    """Control and line-separator characters escaped (messages quote config.json values:
    the fuzz test found a CR in a key splitting the error line in two)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else
                   {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(c) or
                   (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
                   for c in text)


def _json_str(text):
    from pyrunc.jsonfast import dumps_str
    return dumps_str(text)


class Logger:
    """Where log lines go: stderr (default) or the --log file, in text or json format."""

    def __init__(self, path=None, fmt="text", debug=False):
        self.path = path
        self.fmt = fmt
        self.debug_enabled = debug
        self._fd = None

    def _open(self):
        if self._fd is None:
            if self.path:
                self._fd = os.open(self.path, os.O_CREAT | os.O_WRONLY | os.O_APPEND
                                   | os.O_SYNC | os.O_CLOEXEC, 0o644)
            else:
                self._fd = 2
        return self._fd

    def format(self, level, msg):
        now = rfc3339()
        if self.fmt == "json":
            return '{"level":"%s","msg":%s,"time":"%s"}\n' % (level, _json_str(msg), now)
        return 'time="%s" level=%s msg=%s\n' % (now, level, _quote(msg))

    def log(self, level, msg):
        if level in ("debug", "trace") and not self.debug_enabled:
            return
        try:
            # backslashreplace: a lone surrogate from config.json must not end in a traceback
            os.write(self._open(), self.format(level, msg).encode(errors="backslashreplace"))
        except OSError:
            pass

    def error(self, msg):
        self.log("error", msg)
        if self.path:
            # runc prints the bare message on stderr as well when the log goes elsewhere.
            try:
                # one line, whatever the message holds (found by the fuzz test)
                os.write(2, (one_line(msg) + "\n").encode(errors="backslashreplace"))
            except OSError:
                pass

    def warning(self, msg):
        self.log("warning", msg)

    def debug(self, msg):
        self.log("debug", msg)
