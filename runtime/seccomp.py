"""linux.seccomp: the OCI profile checked, compiled to BPF with libseccomp, loaded in init.

The filter is compiled in the parent, before fork: libseccomp builds the program and
exports it as raw BPF (seccomp_export_bpf into a memfd). Init only hands the instructions
to seccomp(2) - no libseccomp work, no allocation-heavy code, in the container. runc's
order: loaded before capabilities are dropped when noNewPrivileges is false (loading a
filter without NO_NEW_PRIVS needs CAP_SYS_ADMIN), as late as possible (right before the
exec of the helper) when it is true, so that the profile need allow as little as possible.
"""
import errno
import os
import _socket as socket  # the C module: socket.py costs ~4 ms of imports
import struct

from pyrunc import SPEC_VERSION
from pyrunc.hooks import state_json as hooks_state
from pyrunc.jsonfast import dumps_str

from pyrunc.errors import ConfigError, PyruncError

KILL_THREAD = 0x00000000
ACTIONS = {
    "SCMP_ACT_KILL": KILL_THREAD,
    "SCMP_ACT_KILL_THREAD": KILL_THREAD,
    "SCMP_ACT_KILL_PROCESS": 0x80000000,
    "SCMP_ACT_TRAP": 0x00030000,
    "SCMP_ACT_ERRNO": 0x00050000,  # | errno
    "SCMP_ACT_TRACE": 0x7FF00000,  # | errno (the value the tracer sees)
    "SCMP_ACT_LOG": 0x7FFC0000,
    "SCMP_ACT_ALLOW": 0x7FFF0000,
    "SCMP_ACT_NOTIFY": 0x7FC00000,
}
NOTIFY = "SCMP_ACT_NOTIFY"
OPERATORS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
             "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
# The SCMP_ARCH_* names of libseccomp 2.5; libseccomp's own name is the lowercased suffix.
ARCHS = ("SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM",
         "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32",
         "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
         "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X",
         "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64")
# seccomp(2) filter flags; pyrunc loads the program itself, so these are the kernel's.
FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": 1 << 0,
    "SECCOMP_FILTER_FLAG_LOG": 1 << 1,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 1 << 2,
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": 1 << 5,
}
FLAG_NEW_LISTENER = 1 << 3
FLAG_TSYNC_ESRCH = 1 << 4
MAX_U64 = 0xFFFFFFFFFFFFFFFF
_SOL_SOCKET, _SCM_RIGHTS = socket.SOL_SOCKET, socket.SCM_RIGHTS
P = "/linux/seccomp"


class Program:
    """A compiled filter: raw BPF instructions (8 bytes each) and seccomp(2) flags; with
    SCMP_ACT_NOTIFY rules, the listener's path and metadata, and the socket connected to
    it (by the parent: the path may be out of init's reach after pivot_root)."""

    def __init__(self, bpf, flags, listener=None, metadata=""):
        self.bpf = bpf
        self.flags = flags
        self.listener = listener
        self.metadata = metadata
        self.sock = None


# -- checks (config.check calls this only when linux.seccomp is present)

def check(sc):
    from pyrunc.config import _opt, _strings, _type, _u32
    _type(sc, "object", P)
    default = _type(sc.get("defaultAction"), "string", f"{P}/defaultAction")
    _action(default, f"{P}/defaultAction")
    if sc.get("defaultErrnoRet") is not None:
        _u32(sc["defaultErrnoRet"], f"{P}/defaultErrnoRet")
    for i, arch in enumerate(_strings(sc, "architectures", P)):
        if arch not in ARCHS:
            raise ConfigError(f"{P}/architectures/{i}", f'unknown architecture "{arch}"')
    supported = supported_flags()
    for i, flag in enumerate(_strings(sc, "flags", P)):
        if flag not in FLAGS:
            raise ConfigError(f"{P}/flags/{i}", f'unknown seccomp flag "{flag}"')
        if flag not in supported:
            raise ConfigError(f"{P}/flags/{i}", f'seccomp flag "{flag}" is not supported '
                              "by this kernel")
    _opt(sc, "listenerPath", "string", P)
    _opt(sc, "listenerMetadata", "string", P)
    if default == NOTIFY:
        raise ConfigError(f"{P}/defaultAction", "SCMP_ACT_NOTIFY cannot be the default action")
    notify = False
    for i, rule in enumerate(_opt(sc, "syscalls", "array", P, [])):
        p = f"{P}/syscalls/{i}"
        _type(rule, "object", p)
        names = _strings(rule, "names", p)
        if not names:
            raise ConfigError(f"{p}/names", "must contain at least one syscall name")
        action = _type(rule.get("action"), "string", f"{p}/action")
        _action(action, f"{p}/action")
        if action == NOTIFY:
            notify = True
            if "write" in names:
                # pyrunc's own last steps write: they would wait on the listener.
                raise ConfigError(f"{p}/names", "SCMP_ACT_NOTIFY cannot be used for the "
                                  "write syscall")
        if rule.get("errnoRet") is not None:
            _u32(rule["errnoRet"], f"{p}/errnoRet")
        for j, arg in enumerate(_opt(rule, "args", "array", p, [])):
            pa = f"{p}/args/{j}"
            _type(arg, "object", pa)
            index = _type(arg.get("index"), "int", f"{pa}/index")
            if not 0 <= index <= 5:
                raise ConfigError(f"{pa}/index", "must be between 0 and 5")
            for k in ("value", "valueTwo"):
                if k in arg or k == "value":
                    v = _type(arg.get(k), "int", f"{pa}/{k}")
                    if not 0 <= v <= MAX_U64:
                        raise ConfigError(f"{pa}/{k}", "must be an unsigned 64-bit integer")
            op = _type(arg.get("op"), "string", f"{pa}/op")
            if op not in OPERATORS:
                raise ConfigError(f"{pa}/op", f'unknown operator "{op}"')
    if notify and not sc.get("listenerPath"):
        raise ConfigError(f"{P}/listenerPath", "is required with SCMP_ACT_NOTIFY")


def _action(name, pointer):
    if name not in ACTIONS:
        raise ConfigError(pointer, f'unknown action "{name}"')


def _action_value(name, errno_ret):
    base = ACTIONS[name]
    if name in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        return base | ((errno.EPERM if errno_ret is None else errno_ret) & 0xFFFF)
    return base


_flags_cache = None


def supported_flags():
    """The FLAGS this kernel knows: seccomp(SET_MODE_FILTER, flag, NULL) fails with EFAULT
    for a known flag (the NULL program), EINVAL for an unknown one (libseccomp's probe)."""
    global _flags_cache
    if _flags_cache is None:
        from pyrunc._native import ffi, lib
        out = []
        for name, bit in FLAGS.items():
            if bit == FLAGS["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]:
                bit |= FLAG_NEW_LISTENER  # only valid together
            if lib.pyrunc_seccomp_load(bit, ffi.NULL, 0) < 0 and ffi.errno == errno.EFAULT:
                out.append(name)
        _flags_cache = out
    return _flags_cache


# -- compile (parent)

def compile_profile(sc):
    """OCI linux.seccomp (already checked) -> Program. Unknown syscall names are skipped, as
    runc does; rules whose action is the default action are skipped (libseccomp refuses
    them). Several conditions on one argument index become one rule each (runc's OR)."""
    from pyrunc._seccomp import ffi, lib  # libseccomp: loaded only here
    default = _action_value(sc["defaultAction"], sc.get("defaultErrnoRet"))
    ctx = lib.seccomp_init(default)
    if ctx == ffi.NULL:
        raise ConfigError(f"{P}/defaultAction", "libseccomp refused the default action")
    try:
        for i, arch in enumerate(sc.get("architectures") or ()):
            token = lib.seccomp_arch_resolve_name(arch[len("SCMP_ARCH_"):].lower().encode())
            rc = lib.seccomp_arch_add(ctx, token) if token else -errno.EINVAL
            if rc < 0 and rc != -errno.EEXIST:
                raise ConfigError(f"{P}/architectures/{i}",
                                  f"cannot add architecture {arch}: {os.strerror(-rc)}")
        for i, rule in enumerate(sc.get("syscalls") or ()):
            _add_rule(ffi, lib, ctx, default, rule, f"{P}/syscalls/{i}")
        fd = os.memfd_create("pyrunc-seccomp", os.MFD_CLOEXEC)
        try:
            rc = lib.seccomp_export_bpf(ctx, fd)
            if rc < 0:
                raise PyruncError(f"seccomp: export the filter: {os.strerror(-rc)}")
            size = os.lseek(fd, 0, os.SEEK_END)
            bpf = os.pread(fd, size, 0)
        finally:
            os.close(fd)
    finally:
        lib.seccomp_release(ctx)
    notify = any(r.get("action") == NOTIFY for r in sc.get("syscalls") or ())
    flags = FLAG_NEW_LISTENER if notify else 0
    for name in sc.get("flags") or ():
        if name != "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" or notify:  # listener only
            flags |= FLAGS[name]
    if notify and flags & FLAGS["SECCOMP_FILTER_FLAG_TSYNC"]:
        flags |= FLAG_TSYNC_ESRCH  # TSYNC with a listener must not return a thread id
    if not notify:
        return Program(bpf, flags)
    return Program(bpf, flags, sc["listenerPath"], sc.get("listenerMetadata") or "")


def prepare(sc):
    """In the parent, before fork: compile, and connect to the listener if there is one."""
    program = compile_profile(sc)
    if program.listener:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(program.listener)
        except OSError as e:
            s.close()
            raise PyruncError(f"seccomp: connect to listenerPath {program.listener}: "
                              f"{e.strerror}") from None
        program.sock = s
    return program


def _add_rule(ffi, lib, ctx, default, rule, pointer):
    action = _action_value(rule["action"], rule.get("errnoRet"))
    if action == default:
        return
    args = rule.get("args") or ()
    conds = []
    for a in args:
        conds.append((a["index"], OPERATORS[a["op"]], a["value"], a.get("valueTwo") or 0))
    indexes = [c[0] for c in conds]
    if len(set(indexes)) == len(indexes):
        groups = [conds]
    else:
        groups = [[c] for c in conds]
    for name in rule["names"]:
        nr = lib.seccomp_syscall_resolve_name(name.encode())
        if nr == -1:  # __NR_SCMP_ERROR: not a syscall libseccomp knows; runc skips it too
            continue
        for group in groups:
            arr = ffi.new("struct scmp_arg_cmp[]", max(1, len(group)))
            for k, (index, op, a, b) in enumerate(group):
                arr[k].arg = index
                arr[k].op = op
                arr[k].datum_a = a
                arr[k].datum_b = b
            rc = lib.seccomp_rule_add_array(ctx, action, nr, len(group), arr)
            if rc < 0:
                raise ConfigError(pointer, f"cannot add the rule for {name}: "
                                  f"{os.strerror(-rc)}")


# -- load (init)

def load(program):
    """seccomp(SECCOMP_SET_MODE_FILTER) with the compiled program. Called in init: it only
    uses what is already imported and the extension module already loaded. Returns the
    notify fd with a listener, else -1."""
    n = len(program.bpf) // 8
    fd = native_load(program.flags, _ffi.from_buffer(program.bpf), n)
    if fd < 0:
        raise PyruncError(f"load seccomp filter: {os.strerror(_ffi.errno)}")
    return fd if program.flags & FLAG_NEW_LISTENER else -1


def load_in_init(plan):
    """Load the filter in init; with a listener, send it the container process state and
    the notify fd in one message (SCM_RIGHTS), then close the connection (runtime-spec)."""
    program = plan.seccomp
    fd = load(program)
    if fd < 0:
        return
    state = hooks_state(plan.config, plan.id, "creating", plan.host_pid, plan.bundle)
    meta = f',"metadata":{dumps_str(program.metadata)}' if program.metadata else ""
    msg = (f'{{"ociVersion":{dumps_str(SPEC_VERSION)},"fds":["seccompFd"],'
           f'"pid":{plan.host_pid}{meta},"state":{state}}}')
    try:
        program.sock.sendmsg([msg.encode()], [(_SOL_SOCKET, _SCM_RIGHTS,
                                               struct.pack("i", fd))])
    except OSError as e:
        raise PyruncError(f"seccomp: send the notify fd to {program.listener}: "
                          f"{e.strerror}") from None
    finally:
        os.close(fd)
        program.sock.close()


def helper_memfd(program):
    """The program for pyrunc-init (it loads the filter with noNewPrivileges): an
    inheritable memfd holding the u32 seccomp(2) flags, then the instructions."""
    fd = os.memfd_create("pyrunc-seccomp", 0)
    os.write(fd, struct.pack("=I", program.flags) + program.bpf)
    return fd


def _bind():
    from pyrunc._native import ffi, lib
    return ffi, lib.pyrunc_seccomp_load


_ffi, native_load = _bind()


def features():
    """`pyrunc features` linux.seccomp: what this build and kernel can enforce."""
    return {"enabled": True, "actions": list(ACTIONS), "operators": list(OPERATORS),
            "archs": list(ARCHS), "knownFlags": list(FLAGS),
            "supportedFlags": supported_flags()}
