"""Process creation without subprocess: posix_spawn is cheaper to import and to run (vfork),
and never waits on its own, so every exit goes through the reaper."""
import os

import _signal as signal  # see reaper.py

# Python ignores SIGPIPE and SIGXFSZ; ignored dispositions survive exec, so restore them.
RESET_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGCHLD, signal.SIGTERM, signal.SIGINT)


def spawn(argv, fds=None, env=None, setpgroup=None):
    """fds maps child fd number -> parent fd; everything else stays closed (fds are CLOEXEC)."""
    actions = []
    for target, source in sorted((fds or {}).items()):
        if source == target:
            # dup2 onto itself keeps CLOEXEC set; go through a spare descriptor instead.
            os.set_inheritable(source, True)
        else:
            actions.append((os.POSIX_SPAWN_DUP2, source, target))
    kwargs = {"file_actions": actions, "setsigmask": (), "setsigdef": RESET_SIGNALS}
    if setpgroup is not None:
        kwargs["setpgroup"] = setpgroup
    return os.posix_spawn(argv[0], argv, os.environ if env is None else env, **kwargs)


def run_output(argv, reaper=None, stdin_data=None, env=None):
    """Runs argv, returns (status, combined stdout+stderr bytes)."""
    out_r, out_w = os.pipe()
    in_r = None
    fds = {1: out_w, 2: out_w}
    if stdin_data is not None:
        in_r, in_w = os.pipe()
        fds[0] = in_r
    else:
        fds[0] = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
    try:
        pid = spawn(argv, fds, env)
    finally:
        os.close(out_w)
        os.close(fds[0])
    if stdin_data is not None:
        try:
            os.write(in_w, stdin_data)
        except BrokenPipeError:
            pass
        os.close(in_w)
    chunks = []
    while True:
        chunk = os.read(out_r, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(out_r)
    if reaper is not None:
        status = reaper.wait(pid)
    else:
        from pyrunc_shim.reaper import exit_status
        status = exit_status(os.waitpid(pid, 0)[1])
    return status, b"".join(chunks)
