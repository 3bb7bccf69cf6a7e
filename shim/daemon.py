"""The long-lived shim: serves the task API on fd 3 and reaps every child."""
import os
import signal
import socket
import threading

from pyrunc_shim import reaper as reaper_mod

PR_SET_CHILD_SUBREAPER = 36


def _set_subreaper():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def _redirect_stderr():
    """containerd reads the shim's log from the bundle's `log` FIFO."""
    try:
        fd = os.open("log", os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return
    os.set_blocking(fd, True)
    os.dup2(fd, 2)
    os.close(fd)


def serve(flags, listener=None):
    reaper_mod.block_signals()
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    _set_subreaper()
    _redirect_stderr()
    from pyrunc_shim.events import Publisher
    from pyrunc_shim.service import TaskService
    from pyrunc_shim.ttrpc import Server
    if listener is None:  # started as a separate process: the listener is fd 3
        listener = socket.socket(fileno=3)
    address = listener.getsockname()
    reaper = reaper_mod.Reaper()
    publisher = Publisher(os.environ.get("TTRPC_ADDRESS", ""), flags.namespace)
    service = TaskService(reaper, publisher, flags.namespace)
    methods = service.methods()
    server = Server({"containerd.task.v2.Task": methods, "containerd.task.v3.Task": methods})

    def after_shutdown():
        if service.shutting_down:
            os.kill(os.getpid(), signal.SIGTERM)

    server.after_response = after_shutdown
    threading.Thread(target=server.serve, args=(listener,), daemon=True).start()
    reaper_mod.run(reaper)
    publisher.flush()
    try:
        if address:
            os.unlink(address)
    except OSError:
        pass
    # Daemon threads may sit in blocking reads; skip interpreter teardown.
    os._exit(0)
