"""The long-lived shim: serves the task API on fd 3 and reaps every child."""
import os
from pyrunc_shim import threads

import _signal

from pyrunc_shim import reaper as reaper_mod
from pyrunc_shim.libc import set_child_subreaper


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
    _signal.signal(_signal.SIGPIPE, _signal.SIG_IGN)
    set_child_subreaper()
    _redirect_stderr()
    from pyrunc_shim.events import Publisher
    from pyrunc_shim.service import TaskService
    from pyrunc_shim.ttrpc import Server
    if listener is None:  # started as a separate process: the listener is fd 3
        from pyrunc_shim.usock import Socket
        listener = Socket(fileno=3)
    address = listener.getsockname()
    reaper = reaper_mod.Reaper()
    publisher = Publisher(os.environ.get("TTRPC_ADDRESS", ""), flags.namespace,
                          flags.publish_binary, flags.address, reaper)
    service = TaskService(reaper, publisher, flags.namespace)
    methods = service.methods()
    server = Server({"containerd.task.v2.Task": methods, "containerd.task.v3.Task": methods})

    def after_shutdown():
        if service.shutting_down:
            os.kill(os.getpid(), _signal.SIGTERM)

    server.after_response = after_shutdown
    threads.Thread(target=server.serve, args=(listener,), daemon=True).start()
    reaper_mod.run(reaper)
    publisher.flush()
    try:
        if address:
            os.unlink(address)
    except OSError:
        pass
    # Daemon threads may sit in blocking reads; skip interpreter teardown.
    os._exit(0)
