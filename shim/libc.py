"""The one libc call the daemon needs before serving, made through _ctypes: importing the
ctypes package costs ~6 ms on containerd's critical path, _ctypes alone well under 1 ms."""
import os

import _ctypes

PR_SET_CHILD_SUBREAPER = 36
_handle = None


def _fn(name):
    global _handle
    if _handle is None:
        _handle = _ctypes.dlopen(None, os.RTLD_NOW)
    return _ctypes.dlsym(_handle, name)


def set_child_subreaper():
    if _ctypes.call_function(_fn("prctl"), (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) != 0:
        raise OSError("prctl(PR_SET_CHILD_SUBREAPER) failed")
