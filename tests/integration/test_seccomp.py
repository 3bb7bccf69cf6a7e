"""linux.seccomp enforced in the container, the same bundle under pyrunc and runc."""
import json
import os

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def with_profile(bundle, rules, default="SCMP_ACT_ALLOW", nnp=True, user=None, **extra):
    c = bundle.config
    c["process"]["noNewPrivileges"] = nnp
    if user is not None:
        c["process"]["user"] = {"uid": user, "gid": user}
    c["linux"]["seccomp"] = dict({"defaultAction": default,
                                  "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86",
                                                    "SCMP_ARCH_X32"],
                                  "syscalls": rules}, **extra)
    return bundle


def run(runtime, bundle, script):
    bundle.sh(script).write()
    return runtime("run", "--bundle", bundle.path, bundle.id)


MKDIR = [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]


@pytest.mark.parametrize("nnp", [True, False])
@pytest.mark.parametrize("user", [0, 1000])
def test_mkdir_denied_with_eperm(runtime, bundle, nnp, user):
    with_profile(bundle, MKDIR, nnp=nnp, user=user)
    r = run(runtime, bundle, "mkdir /tmp/blocked; echo rc=$?; grep -E '^(Seccomp|NoNewPrivs):' "
            "/proc/self/status; id -u")
    assert r.returncode == 0, r.stderr
    assert "Operation not permitted" in r.stderr
    out = r.stdout.split("\n")
    assert "rc=1" in out
    assert "Seccomp:\t2" in out
    assert f"NoNewPrivs:\t{int(nnp)}" in out
    assert str(user) in out


def test_errno_ret_selects_errno(runtime, bundle):
    with_profile(bundle, [dict(MKDIR[0], errnoRet=38)])
    r = run(runtime, bundle, "mkdir /tmp/x")
    assert r.returncode == 1
    assert "Function not implemented" in r.stderr


def test_default_errno_with_allow_list(runtime, bundle):
    allowed = ["read", "write", "open", "openat", "close", "fstat", "newfstatat", "stat",
               "lstat", "mmap", "munmap", "brk", "rt_sigaction", "rt_sigprocmask",
               "rt_sigreturn", "ioctl", "execve", "exit", "exit_group", "getpid", "getppid",
               "getuid", "geteuid", "getgid", "getegid", "fcntl", "dup2", "dup3", "wait4",
               "fork", "vfork", "clone", "clone3", "arch_prctl", "set_tid_address", "uname",
               "getcwd", "prctl", "access", "faccessat", "faccessat2", "futex", "setpgid",
               "getpgid", "getrlimit", "prlimit64", "pipe", "pipe2", "lseek", "mprotect",
               "set_robust_list", "rseq", "statx", "getrandom", "madvise", "sigaltstack",
               # what runc itself does under the filter (it loads it before its last steps)
               "fstatfs", "statfs", "close_range", "getdents64", "nanosleep", "sched_yield",
               "tgkill", "gettid", "epoll_ctl", "epoll_pwait", "epoll_create1", "capget",
               "capset", "setgroups", "setresuid", "setresgid", "setuid", "setgid",
               "sched_getaffinity", "readlinkat", "fchdir", "chdir", "mremap", "seccomp",
               "getgroups", "umask", "pread64", "readv", "writev", "membarrier"]
    with_profile(bundle, [{"names": allowed, "action": "SCMP_ACT_ALLOW"}],
                 default="SCMP_ACT_ERRNO", defaultErrnoRet=13)
    r = run(runtime, bundle, "echo before; mkdir /tmp/x; echo rc=$?")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["before", "rc=1"]
    assert "Permission denied" in r.stderr  # defaultErrnoRet 13 = EACCES


def test_arg_filter_denies_only_the_given_value(runtime, bundle):
    # kill(pid, 10) is denied; kill with any other signal goes through.
    rules = [{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
              "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"}]}]
    with_profile(bundle, rules)
    r = run(runtime, bundle, "kill -10 $$ 2>/dev/null; echo usr1=$?; kill -0 $$; "
            "echo zero=$?; trap 'echo got12' 12; kill -12 $$; echo after")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["usr1=1", "zero=0", "got12", "after"]


def test_or_on_one_index(runtime, bundle):
    # Two conditions on index 1 are two rules (runc's OR): signal 10 or 12 is denied.
    rules = [{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
              "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"},
                       {"index": 1, "value": 12, "op": "SCMP_CMP_EQ"}]}]
    with_profile(bundle, rules)
    r = run(runtime, bundle, "for s in 10 12 0; do kill -$s $$ 2>/dev/null; echo $s=$?; done")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["10=1", "12=1", "0=0"]


@pytest.mark.parametrize("action", ["SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP"])
def test_kill_actions_end_with_sigsys(runtime, bundle, action):
    with_profile(bundle, [{"names": ["uname"], "action": action}])
    bundle.args("uname").write()
    r = runtime("run", "--bundle", bundle.path, bundle.id)
    assert r.returncode == 128 + 31, (r.returncode, r.stderr)


def test_unknown_syscall_names_are_skipped(runtime, bundle):
    with_profile(bundle, [{"names": ["no_such_syscall", "mkdirat", "mkdir"],
                           "action": "SCMP_ACT_ERRNO"}])
    r = run(runtime, bundle, "mkdir /tmp/x")
    assert r.returncode == 1
    assert "Operation not permitted" in r.stderr


def test_no_profile_no_filter(runtime, bundle):
    r = run(runtime, bundle, "grep ^Seccomp: /proc/self/status")
    assert r.stdout.split() == ["Seccomp:", "0"]


def test_start_after_create_with_strict_profile(runtime, bundle):
    # create/start split: the filter is in place once the process runs, not before.
    with_profile(bundle, MKDIR)
    bundle.sh("mkdir /tmp/x").write()
    r = runtime("create", "--bundle", bundle.path, bundle.id)
    assert r.returncode == 0, r.stderr
    r = runtime("start", bundle.id)
    assert r.returncode == 0, r.stderr
    import time
    for _ in range(100):
        st = json.loads(runtime("state", bundle.id).stdout)
        if st["status"] == "stopped":
            break
        time.sleep(0.05)
    assert st["status"] == "stopped"


def test_bad_profile_fails_create_cleanly(pyrunc, bundle, tmp_path):
    with_profile(bundle, [{"names": ["a"], "action": "SCMP_ACT_ALLOW"},
                          {"names": ["b"], "action": "SCMP_ACT_ERRNO"},
                          {"names": ["c"], "action": "SCMP_ACT_FOO"}])
    bundle.write()
    r = pyrunc("create", "--bundle", bundle.path, bundle.id)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "config.json /linux/seccomp/syscalls/2/action: unknown action" in lines[0]
    assert "SCMP_ACT_FOO" in lines[0]
    assert pyrunc.ids() == []


class Agent:
    """A seccomp notify agent: accepts one connection on listenerPath, keeps the container
    process state and the notify fd, and answers every notification with -EXDEV."""
    RECV, SEND = 0xC0502100, 0xC0182101  # SECCOMP_IOCTL_NOTIF_RECV / _SEND

    def __init__(self, path):
        import socket
        import threading
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(1)
        self.state = None
        self.syscalls = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        import errno
        import fcntl
        import socket
        import struct
        conn, _ = self.srv.accept()
        msg, fds, _, _ = socket.recv_fds(conn, 65536, 1)
        self.conn = conn
        self.state = json.loads(msg)
        fd = fds[0]
        while True:
            req = bytearray(80)
            try:
                fcntl.ioctl(fd, self.RECV, req)
            except OSError:
                break  # the filter's last user is gone
            nid, _, _, nr = struct.unpack_from("=QIIi", req)
            self.syscalls.append(nr)
            try:
                fcntl.ioctl(fd, self.SEND, struct.pack("=QqiI", nid, 0, -errno.EXDEV, 0))
            except OSError:
                pass
        os.close(fd)


@pytest.mark.parametrize("nnp", [True, False])
def test_notify_sends_state_and_fd_to_listener(runtime, bundle, tmp_path, nnp):
    path = str(tmp_path / "agent.sock")
    agent = Agent(path)
    with_profile(bundle, [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}],
                 nnp=nnp, listenerPath=path, listenerMetadata="hello")
    r = run(runtime, bundle, "mkdir /tmp/x; echo rc=$?")
    assert r.returncode == 0, r.stderr
    assert "rc=1" in r.stdout
    assert "Invalid cross-device link" in r.stderr  # the agent's answer
    agent.thread.join(5)
    st = agent.state
    assert st["fds"] == ["seccompFd"] and st["metadata"] == "hello", st
    assert st["state"]["id"] == bundle.id and st["state"]["status"] == "creating"
    assert st["pid"] == st["state"]["pid"] > 0
    agent.conn.settimeout(5)
    assert agent.conn.recv(1) == b""  # the runtime closed the connection after sending
    assert 83 in agent.syscalls or 258 in agent.syscalls  # mkdir / mkdirat on x86_64


def test_notify_listener_missing_fails_create(pyrunc, bundle, tmp_path):
    with_profile(bundle, [{"names": ["mkdirat"], "action": "SCMP_ACT_NOTIFY"}],
                 listenerPath=str(tmp_path / "nobody-listens.sock"))
    bundle.write()
    r = pyrunc("create", "--bundle", bundle.path, bundle.id)
    assert r.returncode == 1
    assert "listenerPath" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert pyrunc.ids() == []


def test_exec_gets_the_containers_filter(runtime, bundle):
    """An exec'd process is confined by the container's profile too (runc does the same)."""
    bundle.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}
    bundle.args("sleep", "100").write()
    runtime("run", "-d", "--bundle", bundle.path, bundle.id, check=True)
    r = runtime("exec", bundle.id, "sh", "-c", "mkdir /tmp/x 2>&1; grep ^Seccomp: /proc/self/status")
    assert "Operation not permitted" in r.stdout
    assert "Seccomp:\t2" in r.stdout
