"""Threads, locks, events and conditions on _thread.

The threading module imports functools and collections (~4 ms), which the daemon would pay
before it can answer containerd's first request. The shim needs only this subset. Every
thread is a daemon thread: the daemon leaves with os._exit.
"""
import _thread
from time import monotonic

Lock = _thread.allocate_lock
RLock = _thread.RLock


def _acquire(lock, timeout):
    return lock.acquire(True, -1 if timeout is None else max(timeout, 0))


class Thread:
    __slots__ = ("target", "args", "ident", "done", "dst")

    def __init__(self, target, args=(), daemon=True):
        self.target = target
        self.args = args
        self.ident = None
        self.done = Lock()  # held while the thread runs; join() waits for it

    def start(self):
        self.done.acquire()
        self.ident = _thread.start_new_thread(self._run, ())
        return self

    def _run(self):
        try:
            self.target(*self.args)
        finally:
            self.done.release()

    def join(self, timeout=None):
        if self.ident is not None and _acquire(self.done, timeout):
            self.done.release()


class Condition:
    __slots__ = ("_lock", "_waiters")

    def __init__(self):
        self._lock = Lock()
        self._waiters = []

    def __enter__(self):
        self._lock.acquire()
        return self

    def __exit__(self, *exc):
        self._lock.release()

    def wait(self, timeout=None):
        """Called with the lock held; returns False on timeout."""
        waiter = Lock()
        waiter.acquire()
        self._waiters.append(waiter)
        self._lock.release()
        got = False
        try:
            got = _acquire(waiter, timeout)
        finally:
            self._lock.acquire()
            if not got:
                try:
                    self._waiters.remove(waiter)
                except ValueError:  # notified right at the timeout
                    pass
        return got

    def notify(self, n=1):
        woken, self._waiters = self._waiters[:n], self._waiters[n:]
        for waiter in woken:
            waiter.release()

    def notify_all(self):
        self.notify(len(self._waiters))


class Event:
    __slots__ = ("_flag", "_cond")

    def __init__(self):
        self._flag = False
        self._cond = Condition()

    def is_set(self):
        return self._flag

    def set(self):
        with self._cond:
            self._flag = True
            self._cond.notify_all()

    def wait(self, timeout=None):
        deadline = None if timeout is None else monotonic() + timeout
        with self._cond:
            while not self._flag:
                left = None if deadline is None else deadline - monotonic()
                if left is not None and left <= 0:
                    break
                self._cond.wait(left)
            return self._flag
