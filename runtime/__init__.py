"""pyrunc: an OCI container runtime, a drop-in replacement for runc."""
__version__ = "0.1.0"
SPEC_VERSION = "1.3.0"

# Fault injection, for tests only (tests/robustness/test_faults.py). With
# PYRUNC_TEST_FAULTS=1 and PYRUNC_FAULT=<point>, the process that reaches fault(<point>)
# dies at once, as if SIGKILLed: no cleanup, no message. Points are named where they are
# called ("create-cgroup", "init-pivot", "exec-after-setns", ...). Unused, it costs one
# environment lookup at import and a None test per call; the switch is only read when a
# point is named, so a stray PYRUNC_FAULT alone does nothing.
import os as _os  # already loaded by the interpreter: no import cost

_FAULT = _os.environ.get("PYRUNC_FAULT")


def fault(point):
    if _FAULT is not None and _FAULT == point and _os.environ.get("PYRUNC_TEST_FAULTS") == "1":
        if _os.getpid() == 1:
            # PID 1 of a namespace ignores SIGKILL sent from inside it: exit as abruptly.
            _os._exit(137)
        _os.kill(_os.getpid(), 9)
