"""OCI hooks: where each kind runs, what it gets, and what its failure means.

    prestart, createRuntime  parent (runtime namespaces), after mounts, before pivot_root
    createContainer          init (container namespaces), before pivot_root
    startContainer           pyrunc-init, after `start` opened exec.fifo, before the process
    poststart                `start`, after the process runs; failure stops the container
    poststop                 `delete`, after the container is gone; failure is a warning

Each hook gets the state JSON on stdin, only its own env, and is killed at its timeout.
"""
from pyrunc.errors import HookError
from pyrunc.jsonfast import dumps

KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart",
         "poststop")


def state_json(config, cid, status, pid, bundle):
    st = {"ociVersion": config.get("ociVersion", ""), "id": cid, "status": status}
    if status != "stopped":
        st["pid"] = pid
    st["bundle"] = bundle
    st["annotations"] = config.get("annotations") or {}
    return dumps(st)


def hooks_of(config, kind):
    return ((config.get("hooks") or {}).get(kind)) or []


def run(config, kind, state, warn=None, cwd=None):
    """Run every hook of `kind` in order; the first failure raises HookError (or, with
    `warn`, is reported through it and the remaining hooks still run)."""
    for i, hook in enumerate(hooks_of(config, kind)):
        try:
            run_one(hook, state, cwd)
        except HookError as e:
            msg = f"error running {kind} hook #{i}: {e}"
            if warn is None:
                raise HookError(msg) from None
            warn(msg)


def run_one(hook, state, cwd=None):
    import subprocess
    args = hook.get("args") or [hook["path"]]
    timeout = hook.get("timeout")
    from pyrunc import oslite as os
    parent = os.getpid()

    def die_with_parent():
        # A hook dies with the pyrunc process that runs it: a create killed mid-way (then
        # cleaned up by delete --force) left its prestart hook running (test_faults.py).
        from pyrunc import native
        native.prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
        if os.getppid() != parent:
            os._exit(1)  # the parent died before the prctl
    try:
        p = subprocess.Popen(args, executable=hook["path"], env=_env(hook.get("env")),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, cwd=cwd, close_fds=True,
                             preexec_fn=die_with_parent)
    except OSError as e:
        raise HookError(f"fork/exec {hook['path']}: {e.strerror}") from None
    try:
        out, _ = p.communicate(state.encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise HookError("hook ran past specified timeout of %.1fs" % timeout) from None
    except BrokenPipeError:
        out = p.stdout.read() if p.stdout else b""
        p.wait()
    if p.returncode != 0:
        text = out.decode(errors="replace").strip()
        raise HookError(f"exit status {p.returncode}" + (f", output: {text}" if text else ""))


def _env(env):
    out = {}
    for e in env or ():
        k, _, v = e.partition("=")
        out[k] = v
    return out


def encode_for_helper(config, state):
    """startContainer hooks for pyrunc-init, NUL-separated: count, then per hook timeout,
    path, argc, args, envc, env; then the state JSON."""
    hooks = hooks_of(config, "startContainer")
    parts = [str(len(hooks))]
    for h in hooks:
        args = h.get("args") or [h["path"]]
        env = h.get("env") or []
        parts += [str(h.get("timeout") or 0), h["path"], str(len(args)), *args,
                  str(len(env)), *env]
    parts.append(state)
    return ("\0".join(parts) + "\0").encode()
