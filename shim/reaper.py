"""The only waitpid loop of the shim daemon.

The shim is a child subreaper: container inits are reparented to it when the runtime CLI
exits. Every child (runtime CLI invocations, container processes, IO logging binaries) is
reaped here and its exit dispatched to whoever watches that pid. Exits nobody watches yet
are kept, because a process can die before the code that started it learns its pid.
"""
import os
from pyrunc_shim import threads
import time

import _signal as signal  # the signal module imports enum (~2 ms) for its IntEnums

KEEP_UNCLAIMED = 1024


def exit_status(status):
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


class Reaper:
    def __init__(self):
        self.lock = threads.Lock()
        self.watchers = {}
        self.unclaimed = {}

    def watch(self, pid, callback):
        """callback(status, exited_at_ns) runs on the reaper thread: it must not block."""
        with self.lock:
            found = self.unclaimed.pop(pid, None)
            if found is None:
                self.watchers[pid] = callback
                return
        callback(*found)

    def wait(self, pid, timeout=None):
        """Blocks the calling thread until pid exits; returns its status (128+sig if signalled)."""
        done = threads.Event()
        result = []

        def on_exit(status, ts):
            result.append(status)
            done.set()

        self.watch(pid, on_exit)
        if not done.wait(timeout):
            raise TimeoutError("pid %d did not exit" % pid)
        return result[0]

    def reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            entry = (exit_status(status), time.time_ns())
            with self.lock:
                callback = self.watchers.pop(pid, None)
                if callback is None:
                    if len(self.unclaimed) >= KEEP_UNCLAIMED:
                        self.unclaimed.pop(next(iter(self.unclaimed)))
                    self.unclaimed[pid] = entry
            if callback is not None:
                callback(*entry)


HANDLED = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT}


def block_signals():
    """Called before any thread starts so that every thread inherits the mask and only the
    main thread's sigwaitinfo receives these signals."""
    signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)


def run(reaper):
    """Main-thread loop: reap on SIGCHLD, return on SIGTERM/SIGINT."""
    reaper.reap()
    while True:
        info = signal.sigwaitinfo(HANDLED)
        if info.si_signo == signal.SIGCHLD:
            reaper.reap()
        else:
            return
