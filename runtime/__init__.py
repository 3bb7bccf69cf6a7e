"""pyrunc: an OCI container runtime, a drop-in replacement for runc."""
__version__ = "0.1.0"
SPEC_VERSION = "1.3.0"

# Fault injection, for tests only (tests/robustness/test_faults.py). With
# PYRUNC_TEST_FAULTS=1 and PYRUNC_FAULT=<point>, the process that reaches fault(<point>)
# dies at once, as if SIGKILLed: no cleanup, no message. Points are named where they are
# called ("create-cgroup", "init-pivot", "exec-after-setns", ...). Unused, it costs one
# environment lookup at import and a None test per call; the switch is only read when a
# point is named, so a stray PYRUNC_FAULT alone does nothing.
import posix as _posix  # builtin; `os` is not loaded at startup and costs ~1 ms (oslite.py)

_FAULT = _posix.environ.get(b"PYRUNC_FAULT")


def fault(point):
    if (_FAULT is not None and _FAULT == point.encode()
            and _posix.environ.get(b"PYRUNC_TEST_FAULTS") == b"1"):
        if _posix.getpid() == 1:
            # PID 1 of a namespace ignores SIGKILL sent from inside it: exit as abruptly.
            _posix._exit(137)
        _posix.kill(_posix.getpid(), 9)
