"""Shared scenarios: one probed container whose facts many cases check.

A scenario changes the base config, runs the probe once per suite run (lazily, on the
first case that needs it) and returns {"facts": ..., "config": ..., "bundle": ...}.
Cases that read the same facts therefore cost one container, not one each.
"""
from .config import set_namespace

SCENARIOS = {}

# Default devices and /dev links of runtime-linux.md / config-linux.md#default-devices.
DEV_PATHS = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty",
             "/dev/ptmx", "/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/pts",
             "/dev/console"]


def scenario(fn):
    SCENARIOS[fn.__name__] = fn
    return fn


def _probe(ctx, b, *paths):
    facts = ctx.probe(b, *paths)
    return {"facts": facts, "config": b.config, "bundle": b.dir, "id": b.id,
            "paths": facts.get("paths", {})}


@scenario
def default(ctx):
    b = ctx.bundle(tag="def")
    paths = [f"s:{p}" for p in DEV_PATHS]
    paths += ["r:/proc/kcore", "s:/proc/kcore", "l:/sys/firmware", "s:/sys/firmware",
              "r:/proc/keys", "r:/proc/timer_list", "r:/proc/uptime", "w:/etc/ro-file",
              "r:/etc/ro-file", "w:/proc/sys/kernel/domainname",
              "w:/proc/sysrq-trigger", "w:/tmp/conformance-write", "w:/sys/kernel/x",
              "w:/dev/shm/x", "l:/dev", "l:/proc/self/fd"]
    return _probe(ctx, b, *paths)


@scenario
def user(ctx):
    b = ctx.bundle(tag="usr")
    b.process["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [1001, 5],
                         "umask": 0o077}
    b.process["cwd"] = "/home/user"
    b.process["env"] = ["PATH=/bin", "FOO=bar", "EMPTY=", "WITH_EQ=a=b", "SPACE=a b"]
    return _probe(ctx, b, "w:/home/user/f", "w:/root/x", "arg with space", "--flag")


@scenario
def caps(ctx):
    b = ctx.bundle(tag="cap")
    b.process["capabilities"] = {
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SYS_ADMIN", "CAP_SETUID"],
        "effective": ["CAP_CHOWN", "CAP_KILL"],
        "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
        "inheritable": ["CAP_CHOWN", "CAP_NET_RAW"],
        "ambient": ["CAP_CHOWN"],
    }
    return _probe(ctx, b)


@scenario
def caps_user(ctx):
    b = ctx.bundle(tag="capu")
    caps = ["CAP_NET_BIND_SERVICE"]
    b.process["capabilities"] = {k: list(caps) for k in
                                 ("bounding", "effective", "permitted", "inheritable",
                                  "ambient")}
    b.process["user"] = {"uid": 1000, "gid": 1000}
    return _probe(ctx, b)


@scenario
def nocaps(ctx):
    b = ctx.bundle(tag="nocap")
    b.process["capabilities"] = {}
    b.process["user"] = {"uid": 1000, "gid": 1000}
    return _probe(ctx, b)


@scenario
def rlimits(ctx):
    b = ctx.bundle(tag="rl")
    b.process["rlimits"] = [
        {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 2048},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 4096},
        {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
        {"type": "RLIMIT_STACK", "soft": 4194304, "hard": 8388608},
        {"type": "RLIMIT_MSGQUEUE", "soft": 4096, "hard": 8192},
        {"type": "RLIMIT_FSIZE", "soft": 1 << 30, "hard": 1 << 31},
        {"type": "RLIMIT_SIGPENDING", "soft": 100, "hard": 200},
    ]
    return _probe(ctx, b)


@scenario
def uts(ctx):
    b = ctx.bundle(tag="uts")
    b.config["hostname"] = "probe-host"
    b.config["domainname"] = "probe.domain"
    return _probe(ctx, b)


@scenario
def readonly_root(ctx):
    b = ctx.bundle(tag="ro")
    b.config["root"]["readonly"] = True
    return _probe(ctx, b, "w:/tmp/x", "w:/etc/x", "w:/dev/shm/x", "w:/dev/null")


@scenario
def host_ns(ctx):
    b = ctx.bundle(tag="hostns")
    for t in ("pid", "network", "ipc", "uts"):
        set_namespace(b.config, t, present=False)
    b.config.pop("hostname", None)
    b.config["mounts"] = [m for m in b.config["mounts"] if m["destination"] != "/sys"]
    return _probe(ctx, b)


@scenario
def extra_ns(ctx):
    b = ctx.bundle(tag="xns")
    set_namespace(b.config, "cgroup")
    return _probe(ctx, b)


@scenario
def nnp_off(ctx):
    b = ctx.bundle(tag="nnp")
    b.process["noNewPrivileges"] = False
    b.process["oomScoreAdj"] = 123
    return _probe(ctx, b)


@scenario
def sysctl(ctx):
    b = ctx.bundle(tag="sysctl")
    b.linux["sysctl"] = {"kernel.shm_rmid_forced": "1", "net.ipv4.ip_forward": "1",
                         "kernel.msgmax": "4096", "net.ipv4.ping_group_range": "0 0"}
    b.linux["readonlyPaths"] = []
    return _probe(ctx, b, "r:/proc/sys/kernel/shm_rmid_forced",
                  "r:/proc/sys/net/ipv4/ip_forward", "r:/proc/sys/kernel/msgmax",
                  "r:/proc/sys/net/ipv4/ping_group_range")
