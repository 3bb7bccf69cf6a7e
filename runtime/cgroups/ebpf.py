"""cgroup v2 device control: the v1 rule model compiled to a BPF_PROG_TYPE_CGROUP_DEVICE
program, loaded with bpf(2) and attached to the container's cgroup directory.

The kernel hands the program a struct bpf_cgroup_dev_ctx {u32 access_type; u32 major;
u32 minor;} where access_type = device type (low 16 bits: BLOCK 1, CHAR 2) | access << 16
(MKNOD 1, READ 2, WRITE 4). Returning 1 allows, 0 denies.
"""
from pyrunc import oslite as os  # not os: see oslite.py
import _struct as struct  # struct.py only re-exports it

from pyrunc.cgroups.devices import ANY

TYPE = {"b": 1, "c": 2}
ACCESS = {"m": 1, "r": 2, "w": 4}

# bpf(2) commands and constants (include/uapi/linux/bpf.h)
PROG_LOAD, PROG_ATTACH, PROG_DETACH, PROG_GET_FD_BY_ID, PROG_QUERY = 5, 8, 9, 13, 16
PROG_TYPE_CGROUP_DEVICE = 15
CGROUP_DEVICE = 6
F_ALLOW_MULTI = 2

# instruction opcodes used below
LDX_W = 0x61      # dst = *(u32 *)(src + off)
AND_K = 0x57      # dst &= imm (64-bit ALU)
RSH_K = 0x77      # dst >>= imm
MOV_K = 0xb7      # dst = imm
MOV_X = 0xbf      # dst = src
JNE_K = 0x55      # if dst != imm goto pc+off
JEQ_K = 0x15      # if dst == imm goto pc+off
EXIT = 0x95


def insn(op, dst=0, src=0, off=0, imm=0):
    return struct.pack("<BBhi", op, (src << 4) | dst, off, imm)


def _mask(access):
    m = 0
    for c in access:
        m |= ACCESS[c]
    return m


def _rule_block(rule):
    """Instructions that return the rule's verdict when the request matches it.

    An allow exception must cover every requested access bit (as v1 allow-lists do); a
    deny exception matches as soon as one requested bit is in it.
    """
    checks = []  # each: a conditional jump whose off is patched to skip to the next rule
    if rule.type != "a":
        checks.append([insn(JNE_K, 2, 0, 0, TYPE[rule.type])])
    m = _mask(rule.access)
    if rule.allow:
        checks.append([insn(MOV_X, 6, 3), insn(AND_K, 6, 0, 0, ~m & 0x7fffffff), insn(JNE_K, 6, 0, 0, 0)])
    else:
        checks.append([insn(MOV_X, 6, 3), insn(AND_K, 6, 0, 0, m), insn(JEQ_K, 6, 0, 0, 0)])
    if rule.major != ANY:
        checks.append([insn(JNE_K, 4, 0, 0, rule.major)])
    if rule.minor != ANY:
        checks.append([insn(JNE_K, 5, 0, 0, rule.minor)])
    tail = [insn(MOV_K, 0, 0, 0, 1 if rule.allow else 0), insn(EXIT)]
    flat = [i for group in checks for i in group]
    out = []
    for idx, raw in enumerate(flat):
        op = raw[0]
        if op in (JNE_K, JEQ_K):  # jump past the remaining checks and the tail
            skip = len(flat) - idx - 1 + len(tail)
            o, regs, _, imm = struct.unpack("<BBhi", raw)
            raw = struct.pack("<BBhi", o, regs, skip, imm)
        out.append(raw)
    return out + tail


def program(default_allow, exceptions):
    """The program bytes for a (default, exceptions) pair from devices.effective()."""
    code = [
        insn(LDX_W, 2, 1, 0),         # r2 = access_type
        insn(AND_K, 2, 0, 0, 0xffff),  # r2 = device type
        insn(LDX_W, 3, 1, 0),         # r3 = access_type
        insn(RSH_K, 3, 0, 0, 16),     # r3 = access bits
        insn(LDX_W, 4, 1, 4),         # r4 = major
        insn(LDX_W, 5, 1, 8),         # r5 = minor
    ]
    for r in exceptions:
        code += _rule_block(r)
    code += [insn(MOV_K, 0, 0, 0, 1 if default_allow else 0), insn(EXIT)]
    return b"".join(code)


class _Sys:
    """bpf(2) and buffer addresses through the prebuilt cffi module when it has the
    wrapper (no ctypes import on the hot path), else through ctypes."""

    def __init__(self):
        try:
            from pyrunc._native import ffi, lib
            self.ffi, self.lib = ffi, lib if hasattr(lib, "pyrunc_bpf") else None
        except ImportError:
            self.lib = None
        if self.lib is None:
            import ctypes
            self.ctypes = ctypes
            self.libc = ctypes.CDLL(None, use_errno=True)
            self.libc.syscall.restype = ctypes.c_long
        self.keep = []

    def addr(self, data):
        """Address of a copy of `data` that stays alive as long as this object."""
        return self.addr_of(bytearray(data))

    def buffer(self, size):
        b = bytearray(size)
        return b, self.addr_of(b)

    def addr_of(self, buf):
        """Address of a bytearray's storage (the kernel writes into it for logs/queries)."""
        if self.lib is not None:
            cbuf = self.ffi.from_buffer(buf)
            addr = int(self.ffi.cast("uintptr_t", cbuf))
        else:
            cbuf = (self.ctypes.c_char * len(buf)).from_buffer(buf)
            addr = self.ctypes.addressof(cbuf)
        self.keep.append((buf, cbuf))
        return addr

    def __call__(self, cmd, attr):
        if self.lib is not None:
            ret = self.lib.pyrunc_bpf(cmd, self.ffi.from_buffer(attr), len(attr))
            err = self.ffi.errno
        else:
            buf = (self.ctypes.c_char * len(attr)).from_buffer(attr)
            ret = self.libc.syscall(321, cmd, buf, len(attr))  # __NR_bpf on x86_64
            err = self.ctypes.get_errno()
        if ret < 0:
            raise OSError(err, os.strerror(err))
        return ret


def load(code, bpf=None):
    bpf = bpf or _Sys()
    log, log_addr = bpf.buffer(65536)
    attr = bytearray(struct.pack("<IIQQIIQII16sII", PROG_TYPE_CGROUP_DEVICE, len(code) // 8,
                                 bpf.addr(code), bpf.addr(b"Apache\0"), 1, len(log),
                                 log_addr, 0, 0, b"pyrunc_dev", 0, CGROUP_DEVICE))
    try:
        return bpf(PROG_LOAD, attr)
    except OSError as e:
        msg = log.split(b"\0", 1)[0].decode(errors="replace")[-300:]
        raise OSError(e.errno, f"{e.strerror}: verifier: {msg}") from None


def attached(dirfd, bpf=None):
    """ids of the device programs attached directly to this cgroup."""
    bpf = bpf or _Sys()
    ids, ids_addr = bpf.buffer(4 * 64)
    attr = bytearray(struct.pack("<IIIIQI4x", dirfd, CGROUP_DEVICE, 0, 0, ids_addr, 64))
    bpf(PROG_QUERY, attr)
    count = struct.unpack_from("<I", attr, 24)[0]
    return list(struct.unpack_from(f"<{count}I", ids))


def install(cgroup_dir, code):
    """Attach the new program, then detach the ones attached before (an update replaces
    the rules). With ALLOW_MULTI every program must allow, so the overlap only narrows."""
    bpf = _Sys()
    dirfd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        old = attached(dirfd, bpf)
        prog = load(code, bpf)
        try:
            bpf(PROG_ATTACH, bytearray(struct.pack("<IIIII", dirfd, prog, CGROUP_DEVICE, F_ALLOW_MULTI, 0)))
        finally:
            os.close(prog)  # the attachment holds its own reference
        for pid in old:
            fd = bpf(PROG_GET_FD_BY_ID, bytearray(struct.pack("<III", pid, 0, 0)))
            try:
                bpf(PROG_DETACH, bytearray(struct.pack("<III", dirfd, fd, CGROUP_DEVICE)))
            finally:
                os.close(fd)
    finally:
        os.close(dirfd)
