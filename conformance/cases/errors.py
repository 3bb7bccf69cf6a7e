"""Operations in the wrong state and failed creates (runtime.md#operations, #errors).

An operation that is not allowed MUST error and MUST leave the container as it was;
a create that fails MUST leave no trace: no state, no process, no cgroup, no mounts.
"""
import json
import os

from .. import cgroups
from ..case import case, check, eq


def unknown_id(t):
    return f"{t.prefix}-does-not-exist"


def assert_no_trace(t, b):
    check(t.state_fails(b.id), "state succeeds for the failed container")
    r = t.rt.call("list", "-q")
    check(b.id not in r.stdout.split(), "the failed container is listed")
    pids = cgroups.pids_in(b.cgroups_path)
    check(not pids, f"processes left in its cgroup: {sorted(pids)}")
    left = cgroups.dirs_for(b.cgroups_path)
    check(not left, f"cgroup dirs left: {left}")
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f if b.dir in line]
    check(not mounts, f"mounts left: {mounts}")


def failing_create(t, mutate, write=True):
    b = t.sleeper()
    mutate(b)
    r = t.create(b, ok=False, write=write)
    check(not r.ok, "create succeeded")
    assert_no_trace(t, b)


# -- unknown IDs

for _op in ("state", "start", "kill", "delete", "pause", "resume", "ps"):
    def _make(op):
        @case(f"errors.unknown-id.{op}", "runtime.md#operations", "MUST",
              f"{op} of an unknown ID errors")
        def _(t):
            args = [op, unknown_id(t)] + (["KILL"] if op == "kill" else [])
            r = t.rt.call(*args)
            check(not r.ok, f"{op} of an unknown ID exited 0")
    _make(_op)


@case("errors.unknown-id.delete-force", "runc-cli#delete", "CLI",
      "delete --force of an unknown ID succeeds (idempotent cleanup)")
def _(t):
    r = t.rt.call("delete", "--force", unknown_id(t))
    check(r.ok, f"delete --force failed: {r.describe()}")


# -- wrong states

@case("errors.start.twice", "runtime.md#start", "MUST",
      "start of a running container errors and leaves it running")
def _(t):
    b = t.sleeper()
    st = t.running(b)
    check(not t.start(b, ok=False).ok, "second start exited 0")
    st2 = t.state(b)
    eq((st2["status"], st2["pid"]), ("running", st["pid"]), "status and pid")


@case("errors.start.stopped", "runtime.md#start", "MUST",
      "start of a stopped container errors")
def _(t):
    b = t.bundle(args=["true"])
    t.create(b)
    t.start(b)
    t.wait_status(b, "stopped")
    check(not t.start(b, ok=False).ok, "start of a stopped container exited 0")
    eq(t.state(b)["status"], "stopped", "status")


@case("errors.start.killed-created", "runtime.md#start", "MUST",
      "start of a created container that was killed errors")
def _(t):
    b = t.sleeper()
    t.create(b)
    t.kill(b, "KILL")
    t.wait_status(b, "stopped")
    check(not t.start(b, ok=False).ok, "start exited 0")


@case("errors.kill.stopped", "runtime.md#kill", "MUST",
      "kill of a stopped container errors")
def _(t):
    b = t.bundle(args=["true"])
    t.create(b)
    t.start(b)
    t.wait_status(b, "stopped")
    check(not t.kill(b, "KILL", ok=False).ok, "kill of a stopped container exited 0")
    eq(t.state(b)["status"], "stopped", "status")


@case("errors.delete.running", "runtime.md#delete", "MUST",
      "delete of a running container errors and leaves it running")
def _(t):
    b = t.sleeper()
    st = t.running(b)
    check(not t.delete(b, ok=False).ok, "delete of a running container exited 0")
    st2 = t.state(b)
    eq((st2["status"], st2["pid"]), ("running", st["pid"]), "status and pid")


@case("errors.delete.created", "runtime.md#delete", "MUST",
      "delete of a created (not stopped) container errors")
def _(t):
    b = t.sleeper()
    t.create(b)
    check(not t.delete(b, ok=False).ok, "delete of a created container exited 0")
    eq(t.state(b)["status"], "created", "status")


@case("errors.delete.paused", "runtime.md#delete", "MUST",
      "delete of a paused container errors")
def _(t):
    b = t.sleeper()
    t.running(b)
    check(t.rt.call("pause", b.id).ok, "pause failed")
    check(not t.delete(b, ok=False).ok, "delete of a paused container exited 0")
    eq(t.state(b)["status"], "paused", "status")


@case("errors.pause.stopped", "runc-cli#pause", "CLI", "pause of a stopped container errors")
def _(t):
    b = t.bundle(args=["true"])
    t.create(b)
    t.start(b)
    t.wait_status(b, "stopped")
    check(not t.rt.call("pause", b.id).ok, "pause exited 0")


@case("errors.create.duplicate-id", "runtime.md#create", "MUST",
      "create with an ID already in use errors and leaves the first container alone")
def _(t):
    b = t.sleeper()
    t.create(b)
    pid = t.state(b)["pid"]
    b2 = t.sleeper()
    b2.write()
    r = t.rt.call("create", "--bundle", b2.dir, b.id, stdout=open(b2.out, "ab"),
                  stderr=open(b2.err, "ab"))
    check(not r.ok, "second create with the same ID exited 0")
    st = t.state(b)
    eq((st["status"], st["pid"], st["bundle"]), ("created", pid, b.dir), "first container")


@case("errors.create.invalid-id", "runc-cli#create", "CLI",
      "create rejects an ID with a path separator")
def _(t):
    b = t.sleeper()
    b.write()
    r = t.rt.call("create", "--bundle", b.dir, "../escape", stdout=open(b.out, "ab"),
                  stderr=open(b.err, "ab"))
    check(not r.ok, "create with ID ../escape exited 0")
    check(not os.path.exists(os.path.join(t.suite.ws.dir, "escape")), "state written outside root")


# -- failed creates leave nothing behind

@case("errors.no-trace.invalid-json", "runtime.md#create", "MUST",
      "create with an unparseable config.json errors and leaves no trace")
def _(t):
    def mutate(b):
        with open(b.path("config.json"), "w") as f:
            f.write("{ not json")
    failing_create(t, mutate, write=False)


@case("errors.no-trace.missing-config", "runtime.md#create", "MUST",
      "create with no config.json errors and leaves no trace")
def _(t):
    failing_create(t, lambda b: None, write=False)


@case("errors.no-trace.missing-bundle", "runtime.md#create", "MUST",
      "create with a nonexistent bundle errors and leaves no trace")
def _(t):
    b = t.sleeper()
    r = t.rt.call("create", "--bundle", b.path("nope"), b.id, stdout=open(b.out, "ab"),
                  stderr=open(b.err, "ab"))
    check(not r.ok, "create exited 0")
    assert_no_trace(t, b)


@case("errors.no-trace.missing-root", "config.md#root", "MUST",
      "create with a root.path that does not exist errors and leaves no trace")
def _(t):
    failing_create(t, lambda b: b.config["root"].update(path="no-such-rootfs"))


@case("errors.no-trace.missing-executable", "runtime.md#create", "MUST",
      "a process whose executable is missing fails at create or start, leaving no process")
def _(t):
    b = t.bundle(args=["/no/such/binary"])
    r = t.create(b, ok=False)
    if r.ok:
        check(not t.start(b, ok=False).ok, "start of a missing executable exited 0")
        st = t.state(b)
        eq(st["status"], "stopped", "status after the failed start")
    else:
        assert_no_trace(t, b)


@case("errors.no-trace.bad-bind-source", "config.md#mounts", "MUST",
      "a bind mount whose source does not exist fails create and leaves no trace")
def _(t):
    failing_create(t, lambda b: b.config["mounts"].append(
        {"destination": "/mnt/x", "type": "bind", "source": b.path("no-such-dir"),
         "options": ["bind"]}))


@case("errors.no-trace.bad-namespace-path", "config-linux.md#namespaces", "MUST",
      "a namespace path that does not exist fails create and leaves no trace")
def _(t):
    def mutate(b):
        for ns in b.linux["namespaces"]:
            if ns["type"] == "network":
                ns["path"] = "/proc/999999999/ns/net"
    failing_create(t, mutate)


@case("errors.no-trace.wrong-namespace-type", "config-linux.md#namespaces", "MUST",
      "a namespace path of another type (uts given for network) fails create")
def _(t):
    def mutate(b):
        for ns in b.linux["namespaces"]:
            if ns["type"] == "network":
                ns["path"] = "/proc/self/ns/uts"
    failing_create(t, mutate)


@case("errors.no-trace.bad-sysctl", "config-linux.md#sysctl", "MUST",
      "an unknown sysctl fails create and leaves no trace")
def _(t):
    failing_create(t, lambda b: b.linux.update(sysctl={"kernel.no_such_sysctl_x": "1"}))


@case("errors.no-trace.bad-rlimit", "config.md#posix-process", "MUST",
      "an unknown rlimit type fails create and leaves no trace")
def _(t):
    failing_create(t, lambda b: b.process["rlimits"].append(
        {"type": "RLIMIT_NO_SUCH", "soft": 1, "hard": 1}))


@case("errors.no-trace.bad-mount-fstype", "config.md#mounts", "MUST",
      "a mount of an unknown filesystem type fails create and leaves no trace")
def _(t):
    failing_create(t, lambda b: b.config["mounts"].append(
        {"destination": "/mnt/x", "type": "nosuchfs", "source": "none"}))


@case("errors.no-trace.bad-hook", "config.md#prestart", "MUST",
      "a prestart hook that exits non-zero fails create and leaves no trace")
def _(t):
    failing_create(t, lambda b: b.config.setdefault("hooks", {}).update(
        prestart=[{"path": "/bin/false"}]))


@case("errors.no-trace.missing-hook", "config.md#posix-platform-hooks", "MUST",
      "a createRuntime hook whose path does not exist fails create and leaves no trace")
def _(t):
    failing_create(t, lambda b: b.config.setdefault("hooks", {}).update(
        createRuntime=[{"path": "/no/such/hook"}]))


@case("errors.no-trace.bad-device", "config-linux.md#devices", "MUST",
      "a device entry of an unknown type fails create and leaves no trace")
def _(t):
    failing_create(t, lambda b: b.linux.update(devices=[
        {"path": "/dev/weird", "type": "z", "major": 1, "minor": 3}]))


@case("errors.no-trace.hostname-without-uts", "config.md#hostname", "MUST",
      "a hostname without a private UTS namespace fails create and leaves no trace")
def _(t):
    def mutate(b):
        b.linux["namespaces"] = [n for n in b.linux["namespaces"] if n["type"] != "uts"]
        b.config["hostname"] = "not-allowed"
    failing_create(t, mutate)


@case("errors.no-trace.no-args", "config.md#process", "MUST",
      "a process with empty args fails create and leaves no trace")
def _(t):
    failing_create(t, lambda b: b.process.update(args=[]))


@case("errors.no-trace.bad-json-type", "config.md", "MUST",
      "a field of the wrong JSON type (process.user.uid a string) fails create")
def _(t):
    failing_create(t, lambda b: b.process["user"].update(uid="zero"))


@case("errors.no-trace.state-dir", "runtime.md#create", "MUST",
      "a failed create leaves nothing for its ID in the runtime's root directory")
def _(t):
    b = t.sleeper()
    b.config["root"]["path"] = "no-such-rootfs"
    t.create(b, ok=False)
    left = [name for name in os.listdir(t.rt.root) if b.id in name]
    check(not left, f"left in --root: {left}")


@case("errors.state.after-failed-create-json", "runtime.md#query-state", "MUST",
      "state of a failed create's ID errors (no half-made container)")
def _(t):
    b = t.sleeper()
    b.config["mounts"].append({"destination": "/mnt/x", "type": "bind",
                               "source": b.path("nope"), "options": ["bind"]})
    t.create(b, ok=False)
    r = t.rt.call("state", b.id)
    check(not r.ok, f"state exited 0: {r.stdout[:100]!r}")
    try:
        json.loads(r.stdout)
        ok = False
    except ValueError:
        ok = True
    check(ok, "state printed a JSON object for a failed container")
