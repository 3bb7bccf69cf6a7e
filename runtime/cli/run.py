"""pyrunc run [flags] ID: create + start, and in the foreground wait for the container.

In the foreground pyrunc forwards the signals it gets to the container's init and exits
with init's status (128+signal when a signal killed it), then deletes the container unless
--keep. With process.terminal and no --console-socket, pyrunc takes the pty master itself
and proxies its own terminal to it, as `exec -t` does (pyrunc/cli/foreground.py). --no-subreaper is accepted for compatibility: pyrunc needs to be a subreaper while
it creates the container (init is re-parented to it), so the flag changes nothing.
"""
from pyrunc import oslite as os  # not os: see oslite.py
import _signal as signal  # the C module: signal.py imports enum (~5 ms)

from pyrunc.cli.args import BOOL, Flag
from pyrunc.cli.common import parse_cmd
from pyrunc.cli.create import FLAGS as CREATE_FLAGS, create_opts

FLAGS = CREATE_FLAGS + (Flag("keep", BOOL), Flag("no-subreaper", BOOL))


def main(ctx, args):
    opts, pos = parse_cmd("run", FLAGS, args)
    from pyrunc import container, ops
    if opts["detach"] and opts["keep"]:
        from pyrunc.errors import PyruncError
        raise PyruncError("--detach and --keep cannot both be set")
    copts = create_opts(opts)
    mine = None
    if not opts["detach"] and not opts["console_socket"] and \
            _wants_terminal(opts["bundle"] or "."):
        import _socket
        copts["console_sock"], mine = _socket.socketpair(_socket.AF_UNIX,
                                                         _socket.SOCK_STREAM)
    try:
        c = container.create(ctx, pos[0], opts["bundle"] or ".", copts)
    finally:
        if copts.get("console_sock") is not None:
            copts["console_sock"].close()
    fwd = master = None
    try:
        if mine is not None:
            from pyrunc.cli import foreground
            # The pty is sized before the process starts (runc 1.1 sizes it only after).
            master = foreground.receive_pty(mine)
            mine.close()
            foreground.copy_size(master)
            fwd = foreground.Forwarder()
        # Detached, start passes the container's READY= on before returning (NOTIFY_SOCKET).
        listener = ops.start(c, wait_ready=opts["detach"])
    except BaseException:
        if master is not None:
            os.close(master)
        ops.delete(c, force=True)
        raise
    if opts["detach"]:
        return 0
    import gc
    # Off for the setup (ops.run_command); this process may now live long. Its setup's
    # objects are frozen first: the first collection would otherwise scan them all
    # (~0.2-0.5 ms on the way to the container's start).
    gc.freeze()
    gc.enable()
    if listener is not None:
        # In the foreground pyrunc stays the unit's main process: MAINPID is ours.
        import threading
        threading.Thread(target=_notify, args=(listener, ctx), daemon=True).start()
    if master is not None:
        status = foreground.proxy_tty(master, c.pid, fwd)
    else:
        status = _wait_forwarding(c.pid)
    if not opts["keep"]:
        ops.destroy(c, warn=ctx.log.warning)
    return status


def _notify(listener, ctx):
    from pyrunc.errors import PyruncError
    try:
        listener.forward(os.getpid())
    except PyruncError as e:
        ctx.log.warning(str(e))


def _wants_terminal(bundle):
    from pyrunc.jsonfast import loads
    try:
        with open(os.path.join(bundle, "config.json"), "rb") as f:
            return (loads(f.read()).get("process") or {}).get("terminal") is True
    except (OSError, ValueError, AttributeError):
        return False  # create reports it properly


def _wait_forwarding(pid):
    def forward(sig, _frame):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD):
            continue
        try:
            signal.signal(sig, forward)
        except (OSError, ValueError):
            pass
    while True:
        try:
            wpid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 255
        except InterruptedError:
            continue
        if wpid == pid:
            if os.WIFSIGNALED(status):
                return 128 + os.WTERMSIG(status)
            return os.WEXITSTATUS(status)
