"""POSIX-platform hooks (config.md#posix-platform-hooks, runtime.md#lifecycle): when each
kind runs, in which order and namespace, and the state it gets on stdin.

Each hook is `/bin/sh -c` (present on the host and in the busybox rootfs) writing into a
log dir that is bind-mounted at the same path inside the container, so hooks running in
the runtime's or the container's mount namespace write to the same place.
"""
import json
import os
import time

from ..case import Fail, case, check, eq
from ..scenarios import scenario

KINDS = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart",
         "poststop"]
# The spec fixes no status for hooks run during create: the container is still being
# created, but runtimes also report "created" (runtime-tools expects that), so both pass.
STATUS = {"prestart": ("creating", "created"), "createRuntime": ("creating", "created"),
          "createContainer": ("creating", "created"), "startContainer": ("created",),
          "poststart": ("running",), "poststop": ("stopped",)}
CONTAINER_NS = {"createContainer", "startContainer"}
HOOK_ENV = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]


def hook(logdir, name, extra=""):
    script = (f"cat > {logdir}/{name}.json; readlink /proc/self/ns/mnt > {logdir}/{name}.mnt;"
              f" readlink /proc/self/ns/pid > {logdir}/{name}.pidns;"
              f" echo {name} >> {logdir}/order; {extra}")
    return {"path": "/bin/sh", "args": ["sh", "-c", script], "env": list(HOOK_ENV)}


def hooked_bundle(t, kinds=KINDS, args=None, extra=None):
    b = t.bundle(args=args or ["sh", "-c", "touch /tmp/ran; exec sleep 600"])
    logdir = b.path("hooklog")
    os.makedirs(logdir)
    os.chmod(logdir, 0o777)
    b.config["mounts"].append({"destination": logdir, "type": "bind", "source": logdir,
                               "options": ["bind"]})
    b.config["hooks"] = {k: [hook(logdir, k, (extra or {}).get(k, ""))] for k in kinds}
    return b, logdir


def read_order(logdir):
    try:
        with open(os.path.join(logdir, "order")) as f:
            return f.read().split()
    except FileNotFoundError:
        return []


def wait_for(cond, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


@scenario
def hooks_full(ctx):
    """One container through its whole life, with the hook log read after each step."""
    b, logdir = hooked_bundle(ctx)
    # startContainer also records whether the user program had already run.
    b.config["hooks"]["startContainer"] = [hook(
        logdir, "startContainer",
        f"if [ -e /tmp/ran ]; then echo seen; else echo absent; fi > {logdir}/start-saw")]
    snaps = {}
    ctx.create(b)
    st = ctx.state(b)
    container_mnt = os.readlink(f"/proc/{st['pid']}/ns/mnt")
    container_pidns = os.readlink(f"/proc/{st['pid']}/ns/pid")
    snaps["create"] = read_order(logdir)
    ctx.start(b)
    wait_for(lambda: "poststart" in read_order(logdir), 3)
    snaps["start"] = read_order(logdir)
    ctx.kill(b, "KILL")
    ctx.wait_status(b, "stopped")
    snaps["stopped"] = read_order(logdir)
    ctx.delete(b)
    wait_for(lambda: "poststop" in read_order(logdir), 3)
    snaps["delete"] = read_order(logdir)
    states, mnts, pidns = {}, {}, {}
    for k in KINDS:
        try:
            with open(os.path.join(logdir, f"{k}.json")) as f:
                states[k] = json.loads(f.read() or "null")
            with open(os.path.join(logdir, f"{k}.mnt")) as f:
                mnts[k] = f.read().strip()
            with open(os.path.join(logdir, f"{k}.pidns")) as f:
                pidns[k] = f.read().strip()
        except (OSError, ValueError) as e:
            states[k] = {"error": str(e)}
    saw = open(os.path.join(logdir, "start-saw")).read().strip() \
        if os.path.exists(os.path.join(logdir, "start-saw")) else None
    return {"snaps": snaps, "states": states, "mnts": mnts, "pidns": pidns, "pid": st["pid"],
            "id": b.id, "bundle": b.dir, "container_mnt": container_mnt,
            "container_pidns": container_pidns, "start_saw": saw}


def full(t):
    return t.facts("hooks_full")


# -- when each kind runs

for _k, _phase in (("prestart", "create"), ("createRuntime", "create"),
                   ("createContainer", "create"), ("startContainer", "start"),
                   ("poststart", "start"), ("poststop", "delete")):
    def _make_when(kind, phase):
        @case(f"hooks.{kind}.runs", "config.md#posix-platform-hooks", "MUST",
              f"{kind} hooks have run once the {phase} operation returned")
        def _(t):
            snaps = full(t)["snaps"]
            check(kind in snaps[phase], f"{kind} not run by {phase}: {snaps[phase]}")
            eq(snaps["delete"].count(kind), 1, f"times {kind} ran")
    _make_when(_k, _phase)


for _k, _phase in (("startContainer", "create"), ("poststart", "create"),
                   ("poststop", "stopped")):
    def _make_not_yet(kind, phase):
        @case(f"hooks.{kind}.not-early", "runtime.md#lifecycle", "MUST",
              f"{kind} hooks have not run yet after {phase}")
        def _(t):
            check(kind not in full(t)["snaps"][phase], f"{kind} ran already at {phase}")
    _make_not_yet(_k, _phase)


@case("hooks.order.lifecycle", "runtime.md#lifecycle", "MUST",
      "hook kinds run in lifecycle order: prestart, createRuntime, createContainer, "
      "startContainer, poststart, poststop")
def _(t):
    eq(full(t)["snaps"]["delete"], KINDS, "hook order")


@case("hooks.startContainer.before-process", "config.md#startcontainer-hooks", "MUST",
      "startContainer hooks run before the user-specified program")
def _(t):
    eq(full(t)["start_saw"], "absent", "whether the program had run when the hook ran")


# -- state on stdin

for _k in KINDS:
    def _make_status(kind):
        @case(f"hooks.{kind}.state-status", "config.md#posix-platform-hooks", "MUST",
              f"{kind} hooks get the state on stdin with status {' or '.join(STATUS[kind])}")
        def _(t):
            st = full(t)["states"][kind]
            check(isinstance(st, dict), f"stdin was not a JSON object: {st!r}")
            check(st.get("status") in STATUS[kind], f"status {st.get('status')!r}")
    _make_status(_k)

    def _make_fields(kind):
        @case(f"hooks.{kind}.state-id-bundle", "config.md#posix-platform-hooks", "MUST",
              f"{kind} hooks' state names the container id and bundle")
        def _(t):
            s = full(t)
            st = s["states"][kind] or {}
            eq((st.get("id"), st.get("bundle")), (s["id"], s["bundle"]), "id, bundle")
    _make_fields(_k)


for _k in ("prestart", "createRuntime", "createContainer", "startContainer", "poststart"):
    def _make_pid(kind):
        # runtime.md#state: the pid is as seen from the namespace the hook runs in, so
        # container-namespace hooks see the process as PID 1 of its new PID namespace.
        seen_as = "the container" if kind in CONTAINER_NS else "the runtime"
        @case(f"hooks.{kind}.state-pid", "runtime.md#state", "MUST",
              f"{kind} hooks' state pid is the container process as seen by {seen_as}")
        def _(t):
            s = full(t)
            want = 1 if kind in CONTAINER_NS else s["pid"]
            eq((s["states"][kind] or {}).get("pid"), want, "pid")
    _make_pid(_k)


# -- namespaces

for _k in KINDS:
    def _make_ns(kind):
        where = "container" if kind in CONTAINER_NS else "runtime"
        @case(f"hooks.{kind}.namespace", "config.md#posix-platform-hooks", "MUST",
              f"{kind} hooks run in the {where} namespaces (mount and PID)")
        def _(t):
            s = full(t)
            got, pid = s["mnts"].get(kind), s["pidns"].get(kind)
            if kind in CONTAINER_NS:
                eq((got, pid), (s["container_mnt"], s["container_pidns"]), "hook mnt, pid ns")
                return
            # The runtime's PID namespace is the suite's (wrappers only add mount namespaces).
            eq(pid, os.readlink("/proc/self/ns/pid"), "hook pid ns")
            # After delete the container's mount ns is gone and its inode number may be
            # reused, so only hooks run while the container exists are compared by mnt ns.
            if kind != "poststop":
                check(got and got != s["container_mnt"], f"hook ran in the container's ns {got}")
    _make_ns(_k)


# -- hook fields and failures

@case("hooks.args-env", "config.md#posix-platform-hooks", "MUST",
      "a hook gets exactly its args and env")
def _(t):
    b = t.sleeper()
    out = b.path("hook-out")
    b.config["hooks"] = {"createRuntime": [{
        "path": "/bin/sh", "args": ["sh", "-c", f'echo "$0|$1|$HOOKVAR" > {out}; env >> {out}',
                                    "arg-zero", "arg-one"],
        "env": ["HOOKVAR=hv", "PATH=/usr/bin:/bin"]}]}
    t.create(b)
    with open(out) as f:
        lines = f.read().splitlines()
    eq(lines[0], "arg-zero|arg-one|hv", "$0|$1|$HOOKVAR")
    names = {line.split("=", 1)[0] for line in lines[1:]} - {"PWD", "SHLVL", "_", "OLDPWD"}
    eq(names, {"HOOKVAR", "PATH"}, "hook environment")


@case("hooks.multiple-in-order", "config.md#posix-platform-hooks", "MUST",
      "hooks of one kind run in array order")
def _(t):
    b, logdir = hooked_bundle(t, kinds=[])
    b.config["hooks"] = {"createRuntime": [hook(logdir, n) for n in ("one", "two", "three")]}
    t.create(b)
    eq(read_order(logdir), ["one", "two", "three"], "order")


@case("hooks.timeout", "config.md#posix-platform-hooks", "MUST",
      "a hook running past its timeout fails the operation")
def _(t):
    b = t.sleeper()
    b.config["hooks"] = {"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "20"],
                                            "timeout": 1}]}
    t0 = time.monotonic()
    r = t.create(b, ok=False)
    took = time.monotonic() - t0
    check(not r.ok, "create succeeded")
    check(took < 10, f"create took {took:.1f}s for a 1s timeout")
    check(t.state_fails(b.id), "the container exists")


for _k in ("prestart", "createRuntime", "createContainer"):
    def _make_fail(kind):
        @case(f"hooks.{kind}.failure", "runtime.md#lifecycle", "MUST",
              f"a failing {kind} hook fails create and the container is destroyed")
        def _(t):
            b = t.sleeper()
            b.config["hooks"] = {kind: [{"path": "/bin/false"}]}
            check(not t.create(b, ok=False).ok, "create succeeded")
            check(t.state_fails(b.id), "the container still exists")
    _make_fail(_k)


def failing_start_container(t):
    b = t.bundle(args=["sh", "-c", "touch /tmp/ran; exec sleep 600"])
    b.config["hooks"] = {"startContainer": [{"path": "/bin/false"}]}
    t.create(b)
    r = t.start(b, ok=False)
    time.sleep(0.3)
    return b, r


@case("hooks.startContainer.failure-stops", "runtime.md#lifecycle", "MUST",
      "after a failing startContainer hook the program does not run and the container stops")
def _(t):
    b, _r = failing_start_container(t)
    check(not os.path.exists(os.path.join(b.rootfs, "tmp", "ran")), "the program ran")
    check(t.state_fails(b.id) or t.wait_status(b, "stopped"), "not stopped")


@case("hooks.startContainer.failure-error", "runtime.md#lifecycle", "MUST",
      "a failing startContainer hook makes start report an error")
def _(t):
    _b, r = failing_start_container(t)
    check(not r.ok, "start exited 0")


@case("hooks.poststop.failure-warns", "runtime.md#lifecycle", "MUST",
      "a failing poststop hook does not stop delete from removing the container")
def _(t):
    b = t.bundle(args=["true"])
    b.config["hooks"] = {"poststop": [{"path": "/bin/false"}]}
    t.create(b)
    t.start(b)
    t.wait_status(b, "stopped")
    r = t.delete(b, ok=False)
    check(t.state_fails(b.id), f"the container still exists after delete ({r.describe()})")


@case("hooks.poststop.remaining-run", "runtime.md#lifecycle", "MUST",
      "after a failing poststop hook the remaining poststop hooks still run")
def _(t):
    b, logdir = hooked_bundle(t, kinds=[], args=["true"])
    b.config["hooks"] = {"poststop": [{"path": "/bin/false"}, hook(logdir, "after")]}
    t.create(b)
    t.start(b)
    t.wait_status(b, "stopped")
    r = t.delete(b, ok=False)
    check(wait_for(lambda: "after" in read_order(logdir), 2),
          f"the second poststop hook did not run ({r.describe()})")


@case("hooks.stdin-closed", "config.md#posix-platform-hooks", "MUST",
      "a hook reading stdin to EOF gets the state and is not left waiting")
def _(t):
    b, logdir = hooked_bundle(t, kinds=["createRuntime"])
    t0 = time.monotonic()
    t.create(b)
    check(time.monotonic() - t0 < 10, "create was slow (stdin not closed?)")
    with open(os.path.join(logdir, "createRuntime.json")) as f:
        try:
            json.loads(f.read())
        except ValueError as e:
            raise Fail(f"stdin was not one JSON document: {e}")


@case("hooks.stdin-unread", "config.md#posix-platform-hooks", "MUST",
      "a hook that exits without reading its stdin (state larger than a pipe) still succeeds")
def _(t):
    # 128 KiB of annotations cannot fit in a pipe buffer, so the runtime's write meets a
    # closed pipe: it must survive EPIPE/SIGPIPE and treat the hook's exit 0 as success.
    b = t.sleeper()
    b.config["annotations"] = {f"org.example.pad{i}": "x" * 1000 for i in range(128)}
    b.config["hooks"] = {"createRuntime": [{"path": "/bin/true"}]}
    r = t.create(b, ok=False)
    check(r.ok, f"create failed: {r.describe()}")
    eq(t.state(b)["status"], "created", "status")
