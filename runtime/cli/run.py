"""pyrunc run [flags] ID: create + start, and in the foreground wait for the container.

In the foreground pyrunc forwards the signals it gets to the container's init and exits
with init's status (128+signal when a signal killed it), then deletes the container unless
--keep. --no-subreaper is accepted for compatibility: pyrunc needs to be a subreaper while
it creates the container (init is re-parented to it), so the flag changes nothing.
"""
import os
import _signal as signal  # the C module: signal.py imports enum (~5 ms)

from pyrunc.cli.args import BOOL, Flag
from pyrunc.cli.common import parse_cmd
from pyrunc.cli.create import FLAGS as CREATE_FLAGS, create_opts

FLAGS = CREATE_FLAGS + (Flag("keep", BOOL), Flag("no-subreaper", BOOL))


def main(ctx, args):
    opts, pos = parse_cmd("run", FLAGS, args)
    from pyrunc import container
    if opts["detach"] and opts["keep"]:
        from pyrunc.errors import PyruncError
        raise PyruncError("--detach and --keep cannot both be set")
    if not opts["detach"] and not opts["console_socket"]:
        _refuse_foreground_terminal(opts["bundle"] or ".")
    c = container.create(ctx, pos[0], opts["bundle"] or ".", create_opts(opts))
    try:
        container.start(c)
    except BaseException:
        container.delete(c, force=True)
        raise
    if opts["detach"]:
        return 0
    status = _wait_forwarding(c.pid)
    if not opts["keep"]:
        container.destroy(c, warn=ctx.log.warning)
    return status


def _refuse_foreground_terminal(bundle):
    import os.path
    from pyrunc.jsonfast import loads
    try:
        with open(os.path.join(bundle, "config.json"), "rb") as f:
            terminal = (loads(f.read()).get("process") or {}).get("terminal")
    except (OSError, ValueError, AttributeError):
        return  # create reports it properly
    if terminal is True:
        from pyrunc.errors import PyruncError
        raise PyruncError("run in the foreground with process.terminal is not supported by "
                          "pyrunc yet: use --detach with --console-socket")


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
