"""Namespaces (config-linux.md#namespaces, #user-namespace-mappings): new ones, inherited
ones, and ones joined by path, compared through the /proc/<pid>/ns links' inode numbers.
"""
import os

from ..case import Skip, case, check, eq
from ..config import set_namespace

NS_FILE = {"pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts", "mount": "mnt",
           "cgroup": "cgroup", "user": "user"}


def host_ns(kind):
    return os.readlink(f"/proc/self/ns/{NS_FILE[kind]}")


for _kind in ("pid", "network", "ipc", "uts", "mount"):
    def _make_new(kind):
        @case(f"ns.new.{kind}", "config-linux.md#namespaces", "MUST",
              f"a {kind} entry without path gives the container a new {kind} namespace")
        def _(t):
            got = t.facts("default")["facts"]["ns"][NS_FILE[kind]]
            check(got != host_ns(kind), f"container {kind} ns {got} is the runtime's")
    _make_new(_kind)


for _kind in ("user", "cgroup"):
    def _make_inherit(kind):
        @case(f"ns.inherit.{kind}", "config-linux.md#namespaces", "MUST",
              f"without a {kind} entry the container inherits the runtime's {kind} ns")
        def _(t):
            eq(t.facts("default")["facts"]["ns"][NS_FILE[kind]], host_ns(kind), f"{kind} ns")
    _make_inherit(_kind)


for _kind in ("pid", "network", "ipc", "uts"):
    def _make_host(kind):
        @case(f"ns.absent.{kind}", "config-linux.md#namespaces", "MUST",
              f"with no {kind} entry the container shares the runtime's {kind} namespace")
        def _(t):
            eq(t.facts("host_ns")["facts"]["ns"][NS_FILE[kind]], host_ns(kind), f"{kind} ns")
    _make_host(_kind)


@case("ns.new.cgroup", "config-linux.md#namespaces", "MUST",
      "a cgroup entry gives the container a new cgroup namespace")
def _(t):
    got = t.facts("extra_ns")["facts"]["ns"]["cgroup"]
    check(got != host_ns("cgroup"), "container cgroup ns is the runtime's")


@case("ns.cgroup.root-view", "config-linux.md#cgroup-namespace", "SHOULD",
      "inside a new cgroup namespace the container's own cgroup shows as /")
def _(t):
    lines = t.facts("extra_ns")["facts"]["cgroup"].strip().splitlines()
    paths = {line.split(":", 2)[2] for line in lines if ":memory:" in line or
             ":pids:" in line or line.startswith("0::")}
    check(paths and paths <= {"/"}, f"cgroup paths inside the ns: {sorted(paths)}")


@case("ns.absent.pid-not-one", "config-linux.md#namespaces", "MUST",
      "in the runtime's PID namespace the process is not PID 1")
def _(t):
    check(t.facts("host_ns")["facts"]["pid"] != 1, "pid is 1")


def joined(t, kind):
    """Container B joins container A's namespace of this kind by /proc/<pid>/ns path."""
    a = t.sleeper("a")
    st = t.running(a)
    path = f"/proc/{st['pid']}/ns/{NS_FILE[kind]}"
    b = t.bundle(tag="b")
    set_namespace(b.config, kind, path=path)
    if kind == "uts":
        b.config.pop("hostname", None)
    facts = t.probe(b)
    return os.readlink(path), facts


for _kind in ("network", "ipc", "uts", "pid"):
    def _make_join(kind):
        @case(f"ns.join.{kind}", "config-linux.md#namespaces", "MUST",
              f"a {kind} entry with a path joins that namespace")
        def _(t):
            want, facts = joined(t, kind)
            eq(facts["ns"][NS_FILE[kind]], want, f"{kind} ns")
    _make_join(_kind)


@case("ns.join.pid-not-one", "config-linux.md#namespaces", "MUST",
      "a process joining another container's PID namespace is not its PID 1")
def _(t):
    _want, facts = joined(t, "pid")
    check(facts["pid"] != 1, "the joining process is PID 1")


@case("ns.join.uts-hostname", "config-linux.md#namespaces", "MUST",
      "a container joining a UTS namespace sees that namespace's hostname")
def _(t):
    _want, facts = joined(t, "uts")
    eq(facts["hostname"], "conformance", "hostname")


@case("ns.duplicate-type", "config-linux.md#namespaces", "MUST",
      "a namespace type listed twice makes create fail")
def _(t):
    b = t.sleeper()
    b.linux["namespaces"].append({"type": "ipc"})
    check(not t.create(b, ok=False).ok, "create exited 0")


# -- user namespace

def userns_facts(t):
    def build(ctx):
        b = ctx.bundle(tag="userns")
        set_namespace(b.config, "user")
        b.linux["uidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
        b.linux["gidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
        # sysfs needs a network namespace owned by the user namespace; keep it simple.
        b.config["mounts"] = [m for m in b.config["mounts"] if m["type"] != "sysfs"]
        return {"facts": ctx.probe(b, "r:/proc/self/uid_map", "r:/proc/self/gid_map",
                                   "r:/proc/self/setgroups")}
    from ..scenarios import SCENARIOS
    SCENARIOS.setdefault("userns", build)
    if not os.path.exists("/proc/self/ns/user"):
        raise Skip("no user namespaces")
    return t.facts("userns")["facts"]


def map_lines(text):
    return [line.split() for line in text.strip().splitlines()]


@case("ns.user.new", "config-linux.md#namespaces", "MUST",
      "a user entry gives the container a new user namespace")
def _(t):
    check(userns_facts(t)["ns"]["user"] != host_ns("user"), "user ns is the runtime's")


@case("ns.user.uid-map", "config-linux.md#user-namespace-mappings", "MUST",
      "uidMappings are written to the user namespace's uid_map")
def _(t):
    eq(map_lines(userns_facts(t)["paths"]["r:/proc/self/uid_map"]),
       [["0", "200000", "65536"]], "uid_map")


@case("ns.user.gid-map", "config-linux.md#user-namespace-mappings", "MUST",
      "gidMappings are written to the user namespace's gid_map")
def _(t):
    eq(map_lines(userns_facts(t)["paths"]["r:/proc/self/gid_map"]),
       [["0", "200000", "65536"]], "gid_map")


@case("ns.user.root-inside", "config-linux.md#user-namespace-mappings", "MUST",
      "user 0 inside a mapped user namespace is uid 0 in the container")
def _(t):
    f = userns_facts(t)
    eq((f["uid"], f["gid"]), (0, 0), "uid, gid")


@case("ns.user.host-uid", "config-linux.md#user-namespace-mappings", "MUST",
      "container uid 0 is host uid 200000 per the mapping")
def _(t):
    b = t.sleeper()
    set_namespace(b.config, "user")
    b.linux["uidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    b.linux["gidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    b.config["mounts"] = [m for m in b.config["mounts"] if m["type"] != "sysfs"]
    st = t.running(b)
    with open(f"/proc/{st['pid']}/status") as f:
        uid_line = next(line for line in f if line.startswith("Uid:"))
    eq(uid_line.split()[1], "200000", "host uid of the container process")
