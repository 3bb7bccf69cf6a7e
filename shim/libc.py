"""The one libc call the daemon needs before serving, made through _ctypes: importing the
ctypes package costs ~6 ms on containerd's critical path, _ctypes alone well under 1 ms."""
import os

import _ctypes

PR_SET_CHILD_SUBREAPER = 36
PR_SCHED_CORE, PR_SCHED_CORE_CREATE, PIDTYPE_PGID = 62, 1, 2
_handle = None


def _fn(name):
    global _handle
    if _handle is None:
        _handle = _ctypes.dlopen(None, os.RTLD_NOW)
    return _ctypes.dlsym(_handle, name)


def create_sched_core_cookie():
    """containerd sets SCHED_CORE: the shim's process group (and the containers it starts)
    get their own core-scheduling cookie. Best effort: older kernels lack it."""
    return _ctypes.call_function(_fn("prctl"), (PR_SCHED_CORE, PR_SCHED_CORE_CREATE, 0, PIDTYPE_PGID, 0)) == 0


def set_child_subreaper():
    if _ctypes.call_function(_fn("prctl"), (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) != 0:
        raise OSError("prctl(PR_SET_CHILD_SUBREAPER) failed")
