"""The state JSON (runtime.md#state, #query-state) and the runc-style `list` view of it."""
import json
import os
import re

from ..case import case, check, eq

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def created(t, **annotations):
    b = t.sleeper()
    if annotations:
        b.config["annotations"] = annotations
    t.create(b)
    return b, t.state(b)


@case("state.oci-version", "runtime.md#state", "MUST", "state has a non-empty ociVersion")
def _(t):
    _b, st = created(t)
    check(isinstance(st.get("ociVersion"), str) and st["ociVersion"], f"ociVersion {st!r}")


@case("state.id", "runtime.md#state", "MUST", "state id is the container's ID")
def _(t):
    b, st = created(t)
    eq(st.get("id"), b.id, "id")


@case("state.status-value", "runtime.md#state", "MUST",
      "status is one of creating, created, running, stopped")
def _(t):
    _b, st = created(t)
    check(st.get("status") in ("creating", "created", "running", "stopped"),
          f"status {st.get('status')!r}")


@case("state.pid-created", "runtime.md#state", "MUST",
      "pid is set when created, and names a live host process")
def _(t):
    _b, st = created(t)
    pid = st.get("pid")
    check(isinstance(pid, int) and pid > 0, f"pid {pid!r}")
    check(os.path.exists(f"/proc/{pid}"), f"no host process {pid}")


@case("state.pid-in-cgroup", "runtime.md#state", "MUST",
      "the state pid is the container process (it is in the container's cgroup)")
def _(t):
    b, st = created(t)
    with open(f"/proc/{st['pid']}/cgroup") as f:
        text = f.read()
    check(b.cgroups_path in text, f"/proc/{st['pid']}/cgroup does not name {b.cgroups_path}")


@case("state.pid-running-is-process", "runtime.md#state", "MUST",
      "after start the state pid is the user process (its cmdline is the config args)")
def _(t):
    b = t.bundle(args=["sleep", "601"])
    st = t.running(b)
    with open(f"/proc/{st['pid']}/cmdline", "rb") as f:
        argv = f.read().split(b"\0")[:2]
    eq(argv, [b"sleep", b"601"], "cmdline of the state pid")


@case("state.bundle-absolute", "runtime.md#state", "MUST",
      "bundle is the absolute path of the bundle directory")
def _(t):
    b, st = created(t)
    eq(st.get("bundle"), b.dir, "bundle")


@case("state.annotations", "runtime.md#state", "MUST",
      "annotations from config.json appear in state")
def _(t):
    _b, st = created(t, **{"org.example.key": "value", "com.example.other": "x y"})
    eq(st.get("annotations"), {"org.example.key": "value", "com.example.other": "x y"},
       "annotations")


@case("state.annotations-absent", "runtime.md#state", "MAY",
      "with no annotations, state has no annotations or an empty map")
def _(t):
    _b, st = created(t)
    check(not st.get("annotations"), f"annotations {st.get('annotations')!r}")


@case("state.json-object", "runtime.md#query-state", "MUST",
      "state prints one JSON object and exits 0")
def _(t):
    b, _st = created(t)
    r = t.rt.call("state", b.id)
    check(isinstance(json.loads(r.stdout), dict), "not a JSON object")


@case("state.created-rfc3339", "runc-cli#state", "CLI", "created is an RFC 3339 timestamp")
def _(t):
    _b, st = created(t)
    check(RFC3339.match(str(st.get("created", ""))), f"created {st.get('created')!r}")


@case("state.rootfs", "runc-cli#state", "CLI", "rootfs is the absolute rootfs path")
def _(t):
    b, st = created(t)
    eq(st.get("rootfs"), b.rootfs, "rootfs")


@case("state.stopped-status", "runtime.md#state", "MUST",
      "after the process exits state reports stopped")
def _(t):
    b = t.bundle(args=["true"])
    t.create(b)
    t.start(b)
    t.wait_status(b, "stopped")


@case("state.stopped-pid-zero", "runc-cli#state", "CLI",
      "a stopped container reports pid 0 (or none): its old pid may be reused")
def _(t):
    b = t.bundle(args=["true"])
    t.create(b)
    t.start(b)
    st = t.wait_status(b, "stopped")
    check(not st.get("pid"), f"stopped container still reports pid {st.get('pid')}")


@case("list.json", "runc-cli#list", "CLI",
      "list --format json lists the container with its status and pid")
def _(t):
    b, st = created(t)
    r = t.rt.call("list", "--format", "json")
    check(r.ok, f"list failed: {r.describe()}")
    mine = [c for c in (r.json() or []) if c.get("id") == b.id]
    check(mine, "container not listed")
    eq(mine[0].get("status"), "created", "listed status")
    eq(mine[0].get("pid"), st["pid"], "listed pid")


@case("list.quiet", "runc-cli#list", "CLI", "list -q prints container IDs one per line")
def _(t):
    b, _st = created(t)
    r = t.rt.call("list", "-q")
    check(b.id in r.stdout.split(), f"{b.id} not in {r.stdout[:200]!r}")


@case("list.table", "runc-cli#list", "CLI", "list prints a table with a row per container")
def _(t):
    b, _st = created(t)
    r = t.rt.call("list")
    lines = r.stdout.splitlines()
    check(any(line.split()[:1] == [b.id] for line in lines[1:]), "container not in table")


@case("list.empty-root", "runc-cli#list", "CLI", "list on a root without containers succeeds")
def _(t):
    root = t.suite.ws.dir + f"/empty-root-{t.prefix}"
    os.makedirs(root)
    r = t.rt.with_root(root).call("list", "--format", "json")
    check(r.ok, f"list failed: {r.describe()}")
    try:
        empty = json.loads(r.stdout) in (None, [])
    except ValueError:
        empty = False
    check(empty, f"output {r.stdout[:100]!r}")


@case("ps.json", "runc-cli#ps", "CLI", "ps --format json lists the container's host PIDs")
def _(t):
    b = t.bundle(args=["sh", "-c", "sleep 600 & exec sleep 601"])
    st = t.running(b)
    r = t.rt.call("ps", "--format", "json", b.id)
    check(r.ok, f"ps failed: {r.describe()}")
    pids = r.json()
    check(st["pid"] in pids, f"init pid {st['pid']} not in {pids}")
    check(len(pids) >= 2, f"expected 2 pids, got {pids}")
