"""linux.seccomp checks and compilation (no root): the exported BPF is loaded in a forked
child, which then reports what the filtered syscalls did."""
import errno
import os
import struct

import pytest

from pyrunc import seccomp
from pyrunc.config import check as check_config
from pyrunc.errors import ConfigError


def profile(rules, default="SCMP_ACT_ALLOW", **extra):
    return dict({"defaultAction": default, "architectures": ["SCMP_ARCH_X86_64"],
                 "syscalls": rules}, **extra)


def in_filtered_child(sc, probe):
    """Fork; the child sets NO_NEW_PRIVS (no root needed then), loads the compiled
    profile, runs probe() and sends back its result (an int) or dies by a signal.
    Returns ("exit", value) or ("signal", signo)."""
    seccomp.check(sc)
    prog = seccomp.compile_profile(sc)
    assert len(prog.bpf) % 8 == 0 and prog.bpf
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            from pyrunc import native
            native.prctl(38, 1)  # PR_SET_NO_NEW_PRIVS
            seccomp.load(prog)
            os.write(w, struct.pack("=i", probe()))
        except BaseException:
            code = 99
        os._exit(code)
    os.close(w)
    data = os.read(r, 4)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return "signal", os.WTERMSIG(status)
    assert os.WEXITSTATUS(status) == 0
    return "exit", struct.unpack("=i", data)[0]


def dup(fd):
    """dup(2) itself (os.dup is fcntl(F_DUPFD_CLOEXEC))."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.dup(fd) < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def errno_of(fn):
    def probe():
        try:
            fn()
        except OSError as e:
            return e.errno
        return 0
    return probe


def test_errno_action_default_eperm(tmp_path):
    sc = profile([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}])
    d = str(tmp_path / "x")
    assert in_filtered_child(sc, errno_of(lambda: os.mkdir(d))) == ("exit", errno.EPERM)
    assert not os.path.exists(d)


def test_errno_ret_and_unaffected_syscalls(tmp_path):
    sc = profile([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                   "errnoRet": errno.ENOSYS},
                  {"names": ["no_such_syscall_xyz"], "action": "SCMP_ACT_KILL"}])
    d = str(tmp_path / "x")
    assert in_filtered_child(sc, errno_of(lambda: os.mkdir(d))) == ("exit", errno.ENOSYS)
    assert in_filtered_child(sc, errno_of(lambda: os.rmdir(d))) == ("exit", errno.ENOENT)


def test_default_errno_with_allow_list():
    allowed = ["write", "exit_group", "exit", "getpid", "rt_sigprocmask", "rt_sigaction",
               "munmap", "mmap", "brk", "futex", "close", "getppid"]
    sc = profile([{"names": allowed, "action": "SCMP_ACT_ALLOW"}],
                 default="SCMP_ACT_ERRNO", defaultErrnoRet=errno.EACCES)
    assert in_filtered_child(sc, os.getppid) == ("exit", os.getpid())
    assert in_filtered_child(sc, errno_of(os.getcwd)) == ("exit", errno.EACCES)


def test_arg_filter_only_matching_value():
    # personality(0xffffffff) queries; deny only the query, allow personality(PER_LINUX).
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)

    def personality(arg):
        def probe():
            rc = libc.personality(ctypes.c_ulong(arg))
            return -ctypes.get_errno() if rc == -1 else 0
        return probe
    sc = profile([{"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 7,
                   "args": [{"index": 0, "value": 0xFFFFFFFF, "op": "SCMP_CMP_EQ"}]}])
    assert in_filtered_child(sc, personality(0xFFFFFFFF)) == ("exit", -7)
    assert in_filtered_child(sc, personality(0)) == ("exit", 0)


@pytest.mark.parametrize("op,value,two,hits", [
    ("SCMP_CMP_NE", 5, None, {0, 9}),
    ("SCMP_CMP_LT", 5, None, {0}),
    ("SCMP_CMP_LE", 5, None, {0, 5}),
    ("SCMP_CMP_EQ", 5, None, {5}),
    ("SCMP_CMP_GE", 5, None, {5, 9}),
    ("SCMP_CMP_GT", 5, None, {9}),
    ("SCMP_CMP_MASKED_EQ", 0x8, 0x8, {9}),
])
def test_every_operator(op, value, two, hits):
    # dup(2000+n) with the fd as the compared argument: filtered -> EPERM, else EBADF.
    # 2000 has bit 3 clear; 2009 has it set (the MASKED_EQ case: value is the mask).
    base = 0 if op == "SCMP_CMP_MASKED_EQ" else 2000
    arg = {"index": 0, "value": base + value, "op": op}
    if two is not None:
        arg["valueTwo"] = two
    sc = profile([{"names": ["dup"], "action": "SCMP_ACT_ERRNO", "args": [arg]}])
    for n in (0, 5, 9):
        got = in_filtered_child(sc, errno_of(lambda n=n: dup(2000 + n)))
        want = errno.EPERM if n in hits else errno.EBADF
        assert got == ("exit", want), (op, n)


def test_same_index_twice_is_or():
    # runc's semantics: two conditions on one argument are two rules (either matches).
    sc = profile([{"names": ["dup"], "action": "SCMP_ACT_ERRNO",
                   "args": [{"index": 0, "value": 1001, "op": "SCMP_CMP_EQ"},
                            {"index": 0, "value": 1002, "op": "SCMP_CMP_EQ"}]}])
    for fd, want in ((1001, errno.EPERM), (1002, errno.EPERM), (1003, errno.EBADF)):
        assert in_filtered_child(sc, errno_of(lambda fd=fd: dup(fd))) == ("exit", want)


@pytest.mark.parametrize("action", ["SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                                    "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP"])
def test_kill_and_trap_end_with_sigsys(action):
    sc = profile([{"names": ["getppid"], "action": action}])
    assert in_filtered_child(sc, os.getppid) == ("signal", 31)


def test_log_and_rule_equal_to_default_are_allowed():
    sc = profile([{"names": ["getppid"], "action": "SCMP_ACT_LOG"},
                  {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}])
    assert in_filtered_child(sc, os.getppid) == ("exit", os.getpid())


def test_flags_become_seccomp2_flags():
    sc = profile([], flags=["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"])
    seccomp.check(sc)
    assert seccomp.compile_profile(sc).flags == 2 | 4
    assert in_filtered_child(sc, lambda: 3) == ("exit", 3)


def test_extra_architecture_grows_the_program():
    one = seccomp.compile_profile(profile([{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]))
    sc = profile([{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}])
    sc["architectures"] += ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert len(seccomp.compile_profile(sc).bpf) > len(one.bpf)


BASE = {"ociVersion": "1.0.2", "root": {"path": "rootfs"},
        "process": {"args": ["sh"], "cwd": "/"},
        "linux": {"namespaces": [{"type": "mount"}]}}


@pytest.mark.parametrize("sc,pointer,text", [
    ({"defaultAction": "SCMP_ACT_FOO"}, "/linux/seccomp/defaultAction",
     'unknown action "SCMP_ACT_FOO"'),
    ({}, "/linux/seccomp/defaultAction", "must be a string"),
    ("x", "/linux/seccomp", "must be an object"),
    (profile([{"names": ["a"], "action": "SCMP_ACT_ALLOW"}, {"names": ["b"], "action": 1},
              {"names": ["c"], "action": "SCMP_ACT_FOO"}]), "/linux/seccomp/syscalls/1/action",
     "must be a string"),
    (profile([{"names": ["a"], "action": "SCMP_ACT_ALLOW"},
              {"names": ["c"], "action": "SCMP_ACT_FOO"}]), "/linux/seccomp/syscalls/1/action",
     'unknown action "SCMP_ACT_FOO"'),
    (profile([{"names": [], "action": "SCMP_ACT_ALLOW"}]), "/linux/seccomp/syscalls/0/names",
     "at least one"),
    (profile([{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
               "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_XX"}]}]),
     "/linux/seccomp/syscalls/0/args/0/op", 'unknown operator "SCMP_CMP_XX"'),
    (profile([{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
               "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]),
     "/linux/seccomp/syscalls/0/args/0/index", "between 0 and 5"),
    (profile([{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
               "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}]),
     "/linux/seccomp/syscalls/0/args/0/value", "unsigned 64-bit"),
    (profile([{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": -3}]),
     "/linux/seccomp/syscalls/0/errnoRet", "between 0 and"),
    (profile([], architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_Z80"]),
     "/linux/seccomp/architectures/1", 'unknown architecture "SCMP_ARCH_Z80"'),
    (profile([], flags=["SECCOMP_FILTER_FLAG_BOGUS"]), "/linux/seccomp/flags/0",
     'unknown seccomp flag "SECCOMP_FILTER_FLAG_BOGUS"'),
    (profile([{"names": ["kill"], "action": "SCMP_ACT_NOTIFY"}]),
     "/linux/seccomp/listenerPath", "is required with SCMP_ACT_NOTIFY"),
    (profile([{"names": ["kill", "write"], "action": "SCMP_ACT_NOTIFY"}], listenerPath="/x"),
     "/linux/seccomp/syscalls/0/names", "cannot be used for the write syscall"),
    (profile([], default="SCMP_ACT_NOTIFY", listenerPath="/x"),
     "/linux/seccomp/defaultAction", "cannot be the default action"),
])
def test_bad_profiles_name_the_pointer(sc, pointer, text):
    import copy
    config = copy.deepcopy(BASE)
    config["linux"]["seccomp"] = sc
    with pytest.raises(ConfigError) as e:
        check_config(config)
    assert e.value.pointer == pointer
    assert text in str(e.value)
    assert str(e.value).startswith(f"config.json {pointer}: ")


def test_good_profile_passes_config_check():
    import copy
    config = copy.deepcopy(BASE)
    config["linux"]["seccomp"] = profile(
        [{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
          "args": [{"index": 1, "value": 10, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]}],
        defaultErrnoRet=1, flags=["SECCOMP_FILTER_FLAG_LOG"])
    assert check_config(config) == []


def test_features_reports_what_check_accepts():
    f = seccomp.features()
    assert f["enabled"] is True
    assert {"SCMP_ACT_ERRNO", "SCMP_ACT_NOTIFY"} <= set(f["actions"])
    assert set(f["operators"]) == set(seccomp.OPERATORS)
    assert "SCMP_ARCH_X86_64" in f["archs"]
    assert set(f["supportedFlags"]) <= set(f["knownFlags"])
    assert "SECCOMP_FILTER_FLAG_TSYNC" in f["supportedFlags"]


def test_notify_compiles_with_a_listener_flag():
    sc = profile([{"names": ["mkdirat"], "action": "SCMP_ACT_NOTIFY"}], listenerPath="/x",
                 listenerMetadata="m", flags=["SECCOMP_FILTER_FLAG_TSYNC"])
    seccomp.check(sc)
    prog = seccomp.compile_profile(sc)
    assert prog.flags == seccomp.FLAG_NEW_LISTENER | 1 | seccomp.FLAG_TSYNC_ESRCH
    assert (prog.listener, prog.metadata) == ("/x", "m")
    # without a NOTIFY rule, the listener is ignored (runtime-spec) and so is the flag
    sc = profile([], listenerPath="/x", flags=["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"])
    prog = seccomp.compile_profile(sc)
    assert (prog.flags, prog.listener) == (0, None)
