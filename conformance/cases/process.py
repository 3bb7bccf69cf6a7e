"""The `process` object as the container process sees it (config.md#process,
#posix-process, #linux-process, #user): args, env, cwd, user, umask, groups, rlimits,
capabilities, noNewPrivileges, oomScoreAdj, terminal off.
"""
import json
import os
import resource
import subprocess

from ..case import case, check, eq

CAP_BITS = {"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
            "CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7,
            "CAP_SETPCAP": 8, "CAP_LINUX_IMMUTABLE": 9, "CAP_NET_BIND_SERVICE": 10,
            "CAP_NET_BROADCAST": 11, "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13,
            "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15, "CAP_SYS_MODULE": 16,
            "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
            "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
            "CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26,
            "CAP_MKNOD": 27, "CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30,
            "CAP_SETFCAP": 31, "CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33,
            "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35, "CAP_BLOCK_SUSPEND": 36,
            "CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39,
            "CAP_CHECKPOINT_RESTORE": 40}
STATUS_KEY = {"bounding": "CapBnd", "effective": "CapEff", "permitted": "CapPrm",
              "inheritable": "CapInh", "ambient": "CapAmb"}


def cap_names(mask_hex):
    mask = int(mask_hex, 16)
    return sorted(n for n, bit in CAP_BITS.items() if mask >> bit & 1)


def env_dict(facts):
    return dict(e.split("=", 1) for e in facts["env"] if "=" in e)


# -- default scenario

@case("process.args", "config.md#process", "MUST",
      "the process runs with exactly the configured args")
def _(t):
    s = t.facts("user")
    eq(s["facts"]["args"], s["config"]["process"]["args"], "argv")


@case("process.args-path-lookup", "config.md#process", "MUST",
      "args[0] without a slash is found through PATH in the container")
def _(t):
    b = t.bundle(args=["echo", "found"])
    r = t.run(b)
    eq(r.stdout.strip(), "found", "output")


@case("process.env", "config.md#process", "MUST",
      "every configured env entry is in the process environment")
def _(t):
    s = t.facts("user")
    env = s["facts"]["env"]
    missing = [e for e in s["config"]["process"]["env"] if e not in env]
    check(not missing, f"missing {missing} from {env}")


@case("process.env-empty-value", "config.md#process", "MUST",
      "an env entry with an empty value (EMPTY=) is kept")
def _(t):
    check("EMPTY=" in t.facts("user")["facts"]["env"], "EMPTY= missing")


@case("process.env-value-with-equals", "config.md#process", "MUST",
      "an env value containing '=' is kept whole")
def _(t):
    eq(env_dict(t.facts("user")["facts"]).get("WITH_EQ"), "a=b", "WITH_EQ")


@case("process.env-no-host-leak", "config.md#process", "SHOULD",
      "the runtime's own environment does not leak into the container")
def _(t):
    env = env_dict(t.facts("user")["facts"])
    leaked = [k for k in os.environ if k in env and k not in ("PATH", "HOME", "TERM")]
    check(not leaked, f"host variables leaked: {leaked}")


@case("process.cwd", "config.md#process", "MUST", "the process starts in process.cwd")
def _(t):
    eq(t.facts("user")["facts"]["cwd"], "/home/user", "cwd")


@case("process.cwd-root", "config.md#process", "MUST", "cwd / is the container's root")
def _(t):
    eq(t.facts("default")["facts"]["cwd"], "/", "cwd")


@case("process.cwd-created", "config.md#process", "MAY",
      "a cwd that does not exist in the rootfs is created")
def _(t):
    b = t.bundle()
    b.process["cwd"] = "/does/not/exist/yet"
    eq(t.probe(b)["cwd"], "/does/not/exist/yet", "cwd")


@case("process.user.uid", "config.md#user", "MUST", "the process runs as user.uid")
def _(t):
    f = t.facts("user")["facts"]
    eq((f["uid"], f["euid"]), (1000, 1000), "uid, euid")


@case("process.user.gid", "config.md#user", "MUST", "the process runs with user.gid")
def _(t):
    f = t.facts("user")["facts"]
    eq((f["gid"], f["egid"]), (1000, 1000), "gid, egid")


@case("process.user.additional-gids", "config.md#user", "MUST",
      "additionalGids are the process's supplementary groups")
def _(t):
    groups = set(t.facts("user")["facts"]["groups"])
    check({1001, 5} <= groups, f"groups {sorted(groups)}")


@case("process.user.no-extra-groups", "config.md#user", "SHOULD",
      "no supplementary groups beyond additionalGids (and the primary gid)")
def _(t):
    groups = set(t.facts("user")["facts"]["groups"]) - {1000}
    eq(groups, {1001, 5}, "supplementary groups")


@case("process.user.root-groups", "config.md#user", "SHOULD",
      "uid 0 with no additionalGids has no supplementary groups besides gid 0")
def _(t):
    groups = set(t.facts("default")["facts"]["groups"]) - {0}
    eq(groups, set(), "supplementary groups")


@case("process.user.umask", "config.md#user", "MUST", "user.umask is the process umask")
def _(t):
    eq(t.facts("user")["facts"].get("Umask"), "0077", "umask")


@case("process.user.umask-default", "config.md#user", "SHOULD",
      "without user.umask the umask is not changed from the caller's umask")
def _(t):
    # Run the runtime with an unusual umask so "left alone" and "reset to 0022" differ.
    b = t.bundle()
    b.write()
    p = subprocess.run(t.rt.argv("run", "--bundle", b.dir, b.id), stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30, preexec_fn=lambda: os.umask(0o027))
    check(p.returncode == 0, f"run failed: {p.stderr.decode()[-200:]}")
    eq(json.loads(p.stdout).get("Umask"), "0027", "umask")


@case("process.user.write-home", "config.md#user", "MUST",
      "the non-root user can write its own home directory")
def _(t):
    eq(t.facts("user")["paths"]["w:/home/user/f"], {"ok": True}, "write /home/user/f")


@case("process.user.no-root-write", "config.md#user", "MUST",
      "the non-root user cannot write root's directory (no leftover privilege)")
def _(t):
    eq(t.facts("user")["paths"]["w:/root/x"], {"error": "EACCES"}, "write /root/x")


@case("process.user.non-root-caps-cleared", "config.md#linux-process", "MUST",
      "a non-root user with empty capability sets has no effective/permitted caps")
def _(t):
    f = t.facts("nocaps")["facts"]
    eq((cap_names(f["CapEff"]), cap_names(f["CapPrm"])), ([], []), "eff, prm")


@case("process.home-env", "runc-cli#run", "CLI",
      "HOME is set from the container's /etc/passwd when env lacks it")
def _(t):
    eq(env_dict(t.facts("user")["facts"]).get("HOME"), "/home/user", "HOME")


@case("process.terminal-off", "config.md#process", "MUST",
      "with terminal false stdin is not a terminal")
def _(t):
    eq(t.facts("default")["facts"]["stdin_isatty"], False, "isatty(0)")


# -- capabilities

for _set in ("bounding", "permitted", "inheritable", "ambient"):
    def _make(capset):
        @case(f"process.caps.{capset}", "config.md#linux-process", "MUST",
              f"capabilities.{capset} is exactly the process's {capset} set")
        def _(t):
            s = t.facts("caps")
            want = sorted(s["config"]["process"]["capabilities"][capset])
            eq(cap_names(s["facts"][STATUS_KEY[capset]]), want, capset)
    _make(_set)


@case("process.caps.effective", "config.md#linux-process", "MUST",
      "capabilities.effective are effective (root may also get the rest of permitted)")
def _(t):
    # For uid 0 execve raises effective to the whole permitted set, so only bounds hold.
    s = t.facts("caps")
    eff = set(cap_names(s["facts"]["CapEff"]))
    want = set(s["config"]["process"]["capabilities"]["effective"])
    prm = set(cap_names(s["facts"]["CapPrm"]))
    check(want <= eff <= prm, f"effective {sorted(eff)}, permitted {sorted(prm)}")


@case("process.caps.ambient-non-root", "config.md#linux-process", "MUST",
      "ambient capabilities survive exec for a non-root user")
def _(t):
    f = t.facts("caps_user")["facts"]
    eq([cap_names(f[k]) for k in ("CapAmb", "CapEff", "CapPrm")], [["CAP_NET_BIND_SERVICE"]] * 3,
       "ambient, effective, permitted")


@case("process.caps.non-root-no-ambient", "config.md#linux-process", "MUST",
      "a non-root user without ambient caps has empty effective and permitted sets")
def _(t):
    f = t.facts("user")["facts"]
    eq([cap_names(f[k]) for k in ("CapEff", "CapPrm")], [[], []], "effective, permitted")


for _set in ("bounding", "effective", "permitted"):
    def _make_default(capset):
        @case(f"process.caps.default-{capset}", "config.md#linux-process", "MUST",
              f"the base config's {capset} set is applied exactly")
        def _(t):
            s = t.facts("default")
            want = sorted(s["config"]["process"]["capabilities"][capset])
            eq(cap_names(s["facts"][STATUS_KEY[capset]]), want, capset)
    _make_default(_set)


@case("process.caps.absent-sets-empty", "config.md#linux-process", "MUST",
      "sets missing from capabilities are empty (inheritable, ambient in the base config)")
def _(t):
    f = t.facts("default")["facts"]
    eq((cap_names(f["CapInh"]), cap_names(f["CapAmb"])), ([], []), "inh, amb")


@case("process.caps.empty-object", "config.md#linux-process", "MUST",
      "an empty capabilities object leaves the bounding set empty")
def _(t):
    eq(cap_names(t.facts("nocaps")["facts"]["CapBnd"]), [], "bounding")


# -- noNewPrivileges, oomScoreAdj

@case("process.no-new-privileges.on", "config.md#linux-process", "MUST",
      "noNewPrivileges true sets no_new_privs")
def _(t):
    eq(t.facts("default")["facts"].get("NoNewPrivs"), "1", "NoNewPrivs")


@case("process.no-new-privileges.off", "config.md#linux-process", "MUST",
      "noNewPrivileges false leaves no_new_privs clear")
def _(t):
    eq(t.facts("nnp_off")["facts"].get("NoNewPrivs"), "0", "NoNewPrivs")


@case("process.oom-score-adj", "config.md#linux-process", "MUST",
      "oomScoreAdj is written to the process's oom_score_adj")
def _(t):
    eq(t.facts("nnp_off")["facts"]["oom_score_adj"].strip(), "123", "oom_score_adj")


@case("process.oom-score-adj-unset", "config.md#linux-process", "MUST",
      "without oomScoreAdj the runtime's own value is inherited (not changed)")
def _(t):
    with open("/proc/self/oom_score_adj") as f:
        mine = f.read().strip()
    eq(t.facts("default")["facts"]["oom_score_adj"].strip(), mine, "oom_score_adj")


# -- rlimits

RLIMITS = {"RLIMIT_NOFILE": (512, 2048), "RLIMIT_CORE": (0, 4096), "RLIMIT_NPROC": (300, 400),
           "RLIMIT_STACK": (4194304, 8388608), "RLIMIT_MSGQUEUE": (4096, 8192),
           "RLIMIT_FSIZE": (1 << 30, 1 << 31), "RLIMIT_SIGPENDING": (100, 200)}

for _name, _want in RLIMITS.items():
    def _make_rl(name, want):
        @case(f"process.rlimits.{name.lower()[7:]}", "config.md#posix-process", "MUST",
              f"{name} soft/hard are set as configured")
        def _(t):
            eq(tuple(t.facts("rlimits")["facts"]["rlimits"].get(name, [])), want, name)
    _make_rl(_name, _want)


@case("process.rlimits.base-nofile", "config.md#posix-process", "MUST",
      "the base config's RLIMIT_NOFILE 1024/1024 is applied")
def _(t):
    eq(tuple(t.facts("default")["facts"]["rlimits"]["RLIMIT_NOFILE"]), (1024, 1024), "NOFILE")


@case("process.rlimits.unset-inherited", "config.md#posix-process", "SHOULD",
      "rlimits not in the config keep the runtime's values (RLIMIT_CORE here)")
def _(t):
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    norm = tuple(-1 if v == resource.RLIM_INFINITY else v for v in (soft, hard))
    eq(tuple(t.facts("default")["facts"]["rlimits"]["RLIMIT_CORE"]), norm, "CORE")


@case("process.rlimits.duplicate", "config.md#posix-process", "MUST",
      "a duplicated rlimit type makes create fail")
def _(t):
    b = t.sleeper()
    b.process["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 100},
                            {"type": "RLIMIT_NOFILE", "soft": 200, "hard": 200}]
    check(not t.create(b, ok=False).ok, "create with duplicate rlimits exited 0")


@case("process.rlimits.raise-hard-nofile", "config.md#posix-process", "MUST",
      "RLIMIT_NOFILE above the runtime's hard limit is set (needs CAP_SYS_RESOURCE)")
def _(t):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    want = hard + 1000 if hard != resource.RLIM_INFINITY else 1 << 20
    b = t.bundle()
    b.process["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": want, "hard": want}]
    eq(tuple(t.probe(b)["rlimits"]["RLIMIT_NOFILE"]), (want, want), "NOFILE")


# -- process identity

@case("process.pid-one", "config-linux.md#namespaces", "MUST",
      "in a new PID namespace the process is PID 1")
def _(t):
    eq(t.facts("default")["facts"]["pid"], 1, "pid")


@case("process.fds-stdio-only", "runtime-linux.md#file-descriptors", "MUST",
      "only fds 0, 1 and 2 are open in the container process")
def _(t):
    fds = sorted(int(k) for k in t.facts("default")["facts"]["fds"])
    eq(fds, [0, 1, 2], "open fds")


@case("process.preserve-fds", "runc-cli#create", "CLI",
      "--preserve-fds 1 passes fd 3 into the container")
def _(t):
    b = t.bundle()
    b.process["args"] = ["/bin/probe"]
    b.write()
    r_fd, w_fd = os.pipe()
    try:
        # fd 3 is listed in pass_fds so the child's close-fds step keeps the dup2'd pipe.
        p = subprocess.run(t.rt.argv("run", "--preserve-fds", "1", "--bundle", b.dir, b.id),
                           stdin=subprocess.DEVNULL, capture_output=True,
                           pass_fds=(r_fd, 3), timeout=30,
                           preexec_fn=lambda: os.dup2(r_fd, 3))
    finally:
        os.close(r_fd)
        os.close(w_fd)
    check(p.returncode == 0, f"run failed: {p.stderr.decode()[-200:]}")
    fds = json.loads(p.stdout)["fds"]
    check("3" in fds and fds["3"].startswith("pipe:"), f"fds {fds}")


@case("process.user.uid-not-in-passwd", "config.md#user", "MUST",
      "a uid/gid with no /etc/passwd entry is used as is")
def _(t):
    b = t.bundle()
    b.process["user"] = {"uid": 4242, "gid": 4343}
    f = t.probe(b)
    eq((f["uid"], f["gid"]), (4242, 4343), "uid, gid")


@case("process.user.home-default", "runc-cli#run", "CLI",
      "HOME defaults to / for a uid without an /etc/passwd entry")
def _(t):
    b = t.bundle()
    b.process["user"] = {"uid": 4242, "gid": 4242}
    eq(env_dict(t.probe(b)).get("HOME"), "/", "HOME")


@case("process.env-home-kept", "config.md#process", "MUST",
      "an explicit HOME in env is not overridden")
def _(t):
    b = t.bundle()
    b.process["env"].append("HOME=/custom-home")
    eq(env_dict(t.probe(b)).get("HOME"), "/custom-home", "HOME")


@case("process.caps.unknown-name-warns", "config.md#linux-process", "SHOULD",
      "an unknown capability name is a warning, not an error; known caps still apply")
def _(t):
    # Spec 1.1+: values that map to no kernel capability MUST be logged as a warning and
    # the runtime SHOULD NOT fail (older text required an error).
    b = t.bundle()
    b.process["capabilities"]["bounding"].append("CAP_NO_SUCH_CAP")
    f = t.probe(b)
    eq(cap_names(f["CapBnd"]), sorted(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]),
       "bounding")


@case("process.rlimits.soft-above-hard", "config.md#posix-process", "MUST",
      "an rlimit whose soft value exceeds its hard value makes create fail")
def _(t):
    from .errors import failing_create
    failing_create(t, lambda b: b.process.update(
        rlimits=[{"type": "RLIMIT_NOFILE", "soft": 2048, "hard": 1024}]))


@case("process.oom-score-adj-invalid", "config.md#linux-process", "MUST",
      "an oomScoreAdj outside -1000..1000 makes create fail")
def _(t):
    from .errors import failing_create
    failing_create(t, lambda b: b.process.update(oomScoreAdj=5000))
