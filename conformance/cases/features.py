"""`features` (features.md, features-linux.md), `spec`, `exec` and seccomp.

features describes what the runtime can do; where it claims seccomp support the seccomp
cases check that profiles really are enforced.
"""
import json
import os
import re
import subprocess

from ..case import Skip, case, check, eq

SEMVER = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")
HOOK_NAMES = {"prestart", "createRuntime", "createContainer", "startContainer", "poststart",
              "poststop"}
NS_NAMES = {"cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time"}


def features(t, strict=False):
    """The features object; without strict, a runtime lacking the command skips the case."""
    r = t.rt.call("features")
    if not r.ok and not strict:
        raise Skip("the features command failed (checked by features.json)")
    check(r.ok, f"features failed: {r.describe()}")
    try:
        f = json.loads(r.stdout)
    except ValueError:
        check(False, f"features output is not JSON: {r.stdout[:120]!r}")
    check(isinstance(f, dict), "features output is not an object")
    return f


def version_tuple(v):
    return tuple(int(x) for x in v.split("-")[0].split("."))


@case("features.json", "features.md", "MUST", "features prints a JSON object and exits 0")
def _(t):
    features(t, strict=True)


@case("features.oci-version-min", "features.md#ociversionmin", "MUST",
      "ociVersionMin is a SemVer string")
def _(t):
    v = features(t).get("ociVersionMin")
    check(isinstance(v, str) and SEMVER.match(v), f"ociVersionMin {v!r}")


@case("features.oci-version-max", "features.md#ociversionmax", "MUST",
      "ociVersionMax is a SemVer string not below ociVersionMin and at least 1.0.0")
def _(t):
    f = features(t)
    lo, hi = f.get("ociVersionMin", ""), f.get("ociVersionMax", "")
    check(SEMVER.match(str(hi)), f"ociVersionMax {hi!r}")
    check(SEMVER.match(str(lo)) and version_tuple(lo) <= version_tuple(hi),
          f"min {lo!r} > max {hi!r}")
    check(version_tuple(hi) >= (1, 0, 0), f"ociVersionMax {hi!r}")


@case("features.hooks", "features.md#hooks", "MUST",
      "hooks, when present, lists known hook names")
def _(t):
    hooks = features(t).get("hooks")
    if hooks is None:
        raise Skip("hooks not reported")
    check(set(hooks) <= HOOK_NAMES, f"unknown hooks {set(hooks) - HOOK_NAMES}")


@case("features.hooks-supported", "features.md#hooks", "SHOULD",
      "the runtime reports every hook kind it runs (all six here)")
def _(t):
    hooks = features(t).get("hooks")
    if hooks is None:
        raise Skip("hooks not reported")
    eq(set(hooks), HOOK_NAMES, "hooks")


@case("features.mount-options", "features.md#mountoptions", "MUST",
      "mountOptions, when present, is a list of strings including ro, nosuid and bind")
def _(t):
    opts = features(t).get("mountOptions")
    if opts is None:
        raise Skip("mountOptions not reported")
    check(all(isinstance(o, str) for o in opts), "non-string option")
    check({"ro", "nosuid", "bind"} <= set(opts), f"mountOptions {opts}")


@case("features.linux.namespaces", "features-linux.md#namespaces", "MUST",
      "linux.namespaces lists known types, including the five the base config uses")
def _(t):
    nss = (features(t).get("linux") or {}).get("namespaces")
    if nss is None:
        raise Skip("linux.namespaces not reported")
    check(set(nss) <= NS_NAMES, f"unknown namespaces {set(nss) - NS_NAMES}")
    check({"pid", "network", "ipc", "uts", "mount"} <= set(nss), f"namespaces {nss}")


@case("features.linux.capabilities", "features-linux.md#capabilities", "MUST",
      "linux.capabilities lists CAP_ names including CAP_CHOWN and CAP_SYS_ADMIN")
def _(t):
    caps = (features(t).get("linux") or {}).get("capabilities")
    if caps is None:
        raise Skip("linux.capabilities not reported")
    check(all(isinstance(c, str) and c.startswith("CAP_") for c in caps), "bad cap name")
    check({"CAP_CHOWN", "CAP_SYS_ADMIN"} <= set(caps), "CAP_CHOWN/CAP_SYS_ADMIN missing")


@case("features.linux.cgroup", "features-linux.md#cgroup", "MUST",
      "linux.cgroup reports v1 or v2 support matching this host")
def _(t):
    from .. import cgroups
    cg = (features(t).get("linux") or {}).get("cgroup")
    if cg is None:
        raise Skip("linux.cgroup not reported")
    key = "v2" if cgroups.is_v2() else "v1"
    eq(cg.get(key), True, f"cgroup.{key}")


@case("features.linux.seccomp", "features-linux.md#seccomp", "MUST",
      "linux.seccomp, when enabled, lists actions, operators and archs")
def _(t):
    sc = (features(t).get("linux") or {}).get("seccomp")
    if not sc or not sc.get("enabled"):
        raise Skip("seccomp not enabled")
    check("SCMP_ACT_ERRNO" in (sc.get("actions") or []), f"actions {sc.get('actions')}")
    check("SCMP_CMP_EQ" in (sc.get("operators") or []), f"operators {sc.get('operators')}")
    check("SCMP_ARCH_X86_64" in (sc.get("archs") or []) or os.uname().machine != "x86_64",
          f"archs {sc.get('archs')}")


@case("features.annotations", "features.md#annotations", "MUST",
      "annotations, when present, maps strings to strings")
def _(t):
    ann = features(t).get("annotations")
    if ann is None:
        raise Skip("annotations not reported")
    check(all(isinstance(k, str) and isinstance(v, str) for k, v in ann.items()),
          "non-string annotation")


# -- seccomp enforcement

def seccomp_supported(t):
    sc = (t.features().get("linux") or {}).get("seccomp")
    if sc is not None and not sc.get("enabled"):
        raise Skip("the runtime reports seccomp disabled")


def seccomp_run(t, rules, default="SCMP_ACT_ALLOW", args=None, nnp=True):
    seccomp_supported(t)
    b = t.bundle(args=args or ["/bin/probe"])
    b.process["noNewPrivileges"] = nnp
    b.linux["seccomp"] = {"defaultAction": default, "architectures": ["SCMP_ARCH_X86_64"],
                          "syscalls": rules}
    return t.run(b)


@case("seccomp.mode-filter", "config-linux.md#seccomp", "MUST",
      "with a seccomp profile the process runs under a seccomp filter (mode 2)")
def _(t):
    r = seccomp_run(t, [{"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO"}])
    check(r.ok, f"run failed: {r.describe()}")
    eq(json.loads(r.stdout).get("Seccomp"), "2", "Seccomp mode")


@case("seccomp.errno", "config-linux.md#seccomp", "MUST",
      "SCMP_ACT_ERRNO on mkdir makes mkdir fail with EPERM")
def _(t):
    r = seccomp_run(t, [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}],
                    args=["sh", "-c", "mkdir /tmp/blocked"])
    check(r.returncode != 0 and "Operation not permitted" in r.stderr,
          f"mkdir rc {r.returncode}: {r.stderr[-120:]!r}")


@case("seccomp.errno-ret", "config-linux.md#seccomp", "MUST",
      "errnoRet selects the errno returned (ENOSYS here)")
def _(t):
    r = seccomp_run(t, [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                         "errnoRet": 38}], args=["sh", "-c", "mkdir /tmp/blocked"])
    check("Function not implemented" in r.stderr, f"stderr {r.stderr[-120:]!r}")


@case("seccomp.kill", "config-linux.md#seccomp", "MUST",
      "SCMP_ACT_KILL kills the process on the listed syscall (SIGSYS)")
def _(t):
    r = seccomp_run(t, [{"names": ["uname"], "action": "SCMP_ACT_KILL"}], args=["uname"])
    eq(r.returncode, 128 + 31, "exit status (128+SIGSYS)")


@case("seccomp.allowed-unaffected", "config-linux.md#seccomp", "MUST",
      "syscalls not listed follow defaultAction (allowed)")
def _(t):
    r = seccomp_run(t, [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}],
                    args=["sh", "-c", "echo fine"])
    eq((r.returncode, r.stdout.strip()), (0, "fine"), "result")


@case("seccomp.default-errno", "config-linux.md#seccomp", "MUST",
      "defaultAction ERRNO blocks syscalls not in the allow list")
def _(t):
    # A broad allow list for busybox sh, leaving mkdir out: only mkdir fails.
    allowed = ["read", "write", "open", "openat", "close", "fstat", "newfstatat", "stat",
               "lstat", "mmap", "munmap", "brk", "rt_sigaction", "rt_sigprocmask",
               "rt_sigreturn", "ioctl", "execve", "exit", "exit_group", "getpid", "getppid",
               "getuid", "geteuid", "getgid", "getegid", "fcntl", "dup2", "dup3", "wait4",
               "fork", "vfork", "clone", "clone3", "arch_prctl", "set_tid_address",
               "uname", "getcwd", "prctl", "access", "faccessat", "faccessat2",
               "readlink", "readlinkat", "futex", "setpgid", "getpgid", "getrlimit",
               "prlimit64", "pipe", "pipe2", "lseek", "getdents64", "sigaltstack",
               "set_robust_list", "rseq", "mprotect", "statx", "close_range", "poll",
               "pselect6", "select", "getrandom", "capget", "capset", "setgroups", "setgid",
               "setuid", "setresuid", "setresgid", "getgroups", "chdir", "fchdir", "umask",
               "nanosleep", "clock_nanosleep", "fchown", "fchmod", "epoll_create1",
               "epoll_ctl", "epoll_pwait", "epoll_wait", "madvise", "mremap", "kill",
               "tgkill", "gettid", "sched_getaffinity", "sysinfo", "ppoll", "sched_yield",
               "writev", "readv", "pread64", "pwrite64", "getpgrp", "setsid",
               "seccomp", "fstatfs", "statfs", "newuname", "membarrier"]
    r = seccomp_run(t, [{"names": allowed, "action": "SCMP_ACT_ALLOW"}],
                    default="SCMP_ACT_ERRNO", args=["sh", "-c", "echo before; mkdir /tmp/x"])
    check(r.stdout.strip() == "before" and r.returncode != 0,
          f"rc {r.returncode}, stdout {r.stdout[-80:]!r}, stderr {r.stderr[-120:]!r}")


@case("seccomp.without-nnp", "config-linux.md#seccomp", "MUST",
      "a profile is enforced with noNewPrivileges false too")
def _(t):
    r = seccomp_run(t, [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}],
                    args=["sh", "-c", "mkdir /tmp/blocked"], nnp=False)
    check(r.returncode != 0 and "Operation not permitted" in r.stderr,
          f"mkdir rc {r.returncode}: {r.stderr[-120:]!r}")


@case("seccomp.arg-filter", "config-linux.md#seccomp", "MUST",
      "args conditions restrict a rule (kill only with signal 10 is blocked)")
def _(t):
    script = "kill -10 $$ 2>/dev/null; echo usr1=$?; kill -0 $$; echo zero=$?"
    r = seccomp_run(t, [{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
                         "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"}]}],
                    args=["sh", "-c", script])
    eq(r.stdout.split(), ["usr1=1", "zero=0"], "kill results")


# -- spec and exec (runc CLI)

@case("cli.spec.writes-config", "runc-cli#spec", "CLI",
      "spec --bundle writes a parseable config.json with ociVersion, process and root")
def _(t):
    d = os.path.join(t.suite.ws.dir, f"spec-{t.prefix}")
    os.makedirs(d)
    r = t.rt.call("spec", "--bundle", d)
    check(r.ok, f"spec failed: {r.describe()}")
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    check({"ociVersion", "process", "root"} <= set(cfg), f"keys {sorted(cfg)}")


@case("cli.spec.refuses-overwrite", "runc-cli#spec", "CLI",
      "spec refuses to overwrite an existing config.json")
def _(t):
    d = os.path.join(t.suite.ws.dir, f"spec-{t.prefix}")
    os.makedirs(d)
    with open(os.path.join(d, "config.json"), "w") as f:
        f.write("{}")
    r = t.rt.call("spec", "--bundle", d)
    check(not r.ok, "spec overwrote config.json")
    with open(os.path.join(d, "config.json")) as f:
        eq(f.read(), "{}", "config.json")


@case("cli.exec.joins-namespaces", "runc-cli#exec", "CLI",
      "exec runs a process in the container's namespaces")
def _(t):
    b = t.sleeper()
    st = t.running(b)
    r = t.rt.call("exec", b.id, "/bin/probe")
    check(r.ok, f"exec failed: {r.describe()}")
    f = json.loads(r.stdout)
    for ns in ("mnt", "pid", "net", "uts", "ipc"):
        eq(f["ns"][ns], os.readlink(f"/proc/{st['pid']}/ns/{ns}"), f"{ns} ns")


@case("cli.exec.exit-status", "runc-cli#exec", "CLI",
      "exec returns the exec'd process's exit status")
def _(t):
    b = t.sleeper()
    t.running(b)
    eq(t.rt.call("exec", b.id, "sh", "-c", "exit 5").returncode, 5, "exit status")


@case("cli.exec.stopped-error", "runc-cli#exec", "CLI", "exec in a stopped container errors")
def _(t):
    b = t.bundle(args=["true"])
    t.create(b)
    t.start(b)
    t.wait_status(b, "stopped")
    check(not t.rt.call("exec", b.id, "true").ok, "exec exited 0")


@case("cli.exec.in-cgroup", "runc-cli#exec", "CLI",
      "an exec'd process joins the container's cgroup")
def _(t):
    b = t.sleeper()
    t.running(b)
    r = t.rt.call("exec", b.id, "cat", "/proc/self/cgroup")
    check(r.ok, f"exec failed: {r.describe()}")
    mem = [line for line in r.stdout.splitlines() if ":memory:" in line or ":pids:" in line]
    check(mem and all(line.endswith(b.cgroups_path) for line in mem), f"cgroups {mem}")


@case("cli.exec.user-and-env", "runc-cli#exec", "CLI",
      "exec --user and --env apply to the exec'd process")
def _(t):
    b = t.sleeper()
    t.running(b)
    r = t.rt.call("exec", "--user", "1000:1000", "--env", "XV=42", b.id, "/bin/probe")
    check(r.ok, f"exec failed: {r.describe()}")
    f = json.loads(r.stdout)
    eq((f["uid"], f["gid"], "XV=42" in f["env"]), (1000, 1000, True), "uid, gid, env")


@case("cli.version", "runc-cli#version", "CLI", "--version prints a version line")
def _(t):
    p = subprocess.run([*t.rt.wrap, t.rt.path, "--version"], capture_output=True, text=True,
                       timeout=10)
    check(p.returncode == 0 and "version" in p.stdout, f"--version: {p.stdout[:100]!r}")


@case("seccomp.trap", "config-linux.md#seccomp", "MUST",
      "SCMP_ACT_TRAP sends SIGSYS on the listed syscall (fatal when unhandled)")
def _(t):
    r = seccomp_run(t, [{"names": ["uname"], "action": "SCMP_ACT_TRAP"}], args=["uname"])
    eq(r.returncode, 128 + 31, "exit status (128+SIGSYS)")


@case("seccomp.kill-process", "config-linux.md#seccomp", "MUST",
      "SCMP_ACT_KILL_PROCESS kills the process on the listed syscall")
def _(t):
    r = seccomp_run(t, [{"names": ["uname"], "action": "SCMP_ACT_KILL_PROCESS"}],
                    args=["uname"])
    eq(r.returncode, 128 + 31, "exit status (128+SIGSYS)")


@case("personality.linux32", "config-linux.md#personality", "MUST",
      "linux.personality LINUX32 makes uname report a 32-bit machine")
def _(t):
    if os.uname().machine != "x86_64":
        raise Skip("checked on x86_64 only")
    b = t.bundle(args=["uname", "-m"])
    b.linux["personality"] = {"domain": "LINUX32"}
    r = t.run(b)
    check(r.ok, f"run failed: {r.describe()}")
    eq(r.stdout.strip(), "i686", "uname -m")
