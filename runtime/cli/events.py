"""`pyrunc events ID`: stats every --interval and OOM notifications, one JSON per line.

--stats prints one stats event and exits. The stream ends when the container stops.
"""
import select
import sys
import time

from pyrunc.cli.args import BOOL, STR, Flag
from pyrunc.cli.common import parse_cmd
from pyrunc.errors import PyruncError

FLAGS = (Flag("interval", STR, "5s"), Flag("stats", BOOL))

_GO_UNITS = (("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1.0), ("m", 60.0), ("h", 3600.0))


def parse_duration(text):
    """A Go time.Duration string ("5s", "1m30s", "250ms") -> seconds."""
    s, total = text.strip(), 0.0
    if s in ("0", ""):
        raise ValueError(text)
    while s:
        i = 0
        while i < len(s) and (s[i].isdigit() or s[i] == "."):
            i += 1
        if i == 0:
            raise ValueError(text)
        num, s = float(s[:i]), s[i:]
        for unit, mult in sorted(_GO_UNITS, key=lambda u: -len(u[0])):
            if s.startswith(unit):
                total += num * mult
                s = s[len(unit):]
                break
        else:
            raise ValueError(text)
    return total


def emit(kind, cid, data=None):
    import json
    ev = {"type": kind, "id": cid}
    if data is not None:
        ev["data"] = data
    sys.stdout.write(json.dumps(ev, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def stream(c, m, interval):
    """Until the container stops. Its cgroup may vanish under us as it stops (systemd removes
    an empty scope), so a read error ends the stream once the status says stopped."""
    from pyrunc import state
    from pyrunc.cgroups import oom
    w = oom.watch(m)
    poller = select.poll()
    if w:
        poller.register(w.fd, w.events)
    next_stats = time.monotonic() + interval  # like runc: the first stats after one interval
    while c.status() != state.STOPPED:
        try:
            if time.monotonic() >= next_stats:
                emit("stats", c.id, m.stats())
                next_stats = time.monotonic() + interval
            # wake at least every second to notice the container stopping
            timeout = max(0.0, min(next_stats - time.monotonic(), 1.0))
            if poller.poll(int(timeout * 1000)) and w and w.fired():
                emit("oom", c.id)
        except OSError:
            if c.status() == state.STOPPED:
                break
            if w:  # the watch broke (cgroup removed?): keep the stats going without it
                poller.unregister(w.fd)
                w = None
            else:
                raise
    return 0


def main(ctx, args):
    import gc
    from pyrunc import state
    gc.freeze()  # the setup's objects: never worth a scan
    gc.enable()  # off in ops.run_command, for the short commands
    opts, pos = parse_cmd("events", FLAGS, args, nargs=1)
    try:
        interval = parse_duration(opts["interval"])
    except ValueError:
        raise PyruncError(f'invalid value "{opts["interval"]}" for flag -interval') from None
    c = state.load(ctx.root, pos[0])
    if c.status() == state.STOPPED:
        raise PyruncError(f"container with id {c.id} is not running")
    m = c.cgroup_manager()
    if opts["stats"]:
        emit("stats", c.id, m.stats())
        return 0
    return stream(c, m, interval)
