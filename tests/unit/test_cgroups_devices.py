"""Device rules: the v1 model, its v1 writes, and the eBPF program run through a tiny
interpreter of the few instructions it uses (so the verdicts are tested without a kernel)."""
import struct

import pytest

from pyrunc.cgroups import devices, ebpf
from pyrunc.errors import ConfigError

DENY_ALL = {"allow": False, "access": "rwm"}


def run(prog, dtype, access, major, minor):
    """Interpret the program for one request; returns the verdict (1 allow, 0 deny)."""
    ctx = struct.pack("<III", dtype | access << 16, major, minor)
    regs = [0] * 11
    pc = 0
    insns = [struct.unpack("<BBhi", prog[i:i + 8]) for i in range(0, len(prog), 8)]
    while True:
        op, r, off, imm = insns[pc]
        dst, src = r & 0xf, r >> 4
        pc += 1
        if op == ebpf.LDX_W:
            regs[dst] = struct.unpack_from("<I", ctx, off)[0]
        elif op == ebpf.AND_K:
            regs[dst] &= imm & 0xffffffffffffffff
        elif op == ebpf.RSH_K:
            regs[dst] >>= imm
        elif op == ebpf.MOV_K:
            regs[dst] = imm
        elif op == ebpf.MOV_X:
            regs[dst] = regs[src]
        elif op == ebpf.JNE_K:
            pc += off if regs[dst] != imm else 0
        elif op == ebpf.JEQ_K:
            pc += off if regs[dst] == imm else 0
        elif op == ebpf.EXIT:
            return regs[0]
        else:
            raise AssertionError(f"unexpected opcode {op:#x}")


C, B = 2, 1
R, W, M = 2, 4, 1


def prog_for(rules, defaults=True):
    return ebpf.program(*devices.effective(rules, defaults))


def test_deny_all_then_defaults_is_an_allow_list():
    allow, exc = devices.effective([DENY_ALL])
    assert allow is False
    assert [e.v1_line() for e in exc][:3] == ["c *:* m", "b *:* m", "c 1:3 rwm"]


def test_no_rules_is_allow_all_without_exceptions():
    assert devices.effective([]) == (True, [])


def test_v1_writes():
    allow, exc = devices.effective([DENY_ALL, {"allow": True, "type": "c", "major": 4, "minor": 64, "access": "rw"}], False)
    assert devices.v1_writes(allow, exc) == [("devices.deny", "a"), ("devices.allow", "c 4:64 rw")]


def test_deny_list_mode():
    allow, exc = devices.effective([{"allow": False, "type": "b", "major": 8, "minor": 0, "access": "w"}], False)
    assert devices.v1_writes(allow, exc) == [("devices.allow", "a"), ("devices.deny", "b 8:0 w")]


def test_later_rule_cancels_exception():
    allow, exc = devices.effective([DENY_ALL, {"allow": True, "type": "c", "major": 1, "minor": 1, "access": "rwm"},
                                    {"allow": False, "type": "c", "major": 1, "minor": 1, "access": "rwm"}], False)
    assert exc == []


@pytest.mark.parametrize("rule,ptr", [({"type": "c"}, "/allow"), ({"allow": True, "type": "x"}, "/type"),
                                      ({"allow": True, "access": "rx"}, "/access")])
def test_bad_rules(rule, ptr):
    with pytest.raises(ConfigError) as e:
        devices.effective([rule])
    assert e.value.pointer == "/linux/resources/devices/0" + ptr


def test_program_default_container():
    p = prog_for([DENY_ALL])
    assert run(p, C, R | W, 1, 3) == 1       # /dev/null
    assert run(p, C, R, 1, 1) == 0           # /dev/mem
    assert run(p, B, R, 8, 0) == 0           # a disk
    assert run(p, B, M, 8, 0) == 1           # mknod of any block node
    assert run(p, C, R | W, 136, 7) == 1     # a pts
    assert run(p, C, R | M, 1, 1) == 0       # mknod alone is allowed, read is not


def test_program_partial_access():
    p = prog_for([DENY_ALL, {"allow": True, "type": "c", "major": 4, "minor": 1, "access": "r"}], False)
    assert run(p, C, R, 4, 1) == 1
    assert run(p, C, R | W, 4, 1) == 0


def test_program_deny_list():
    p = prog_for([{"allow": False, "type": "c", "major": 1, "minor": 5, "access": "w"}], False)
    assert run(p, C, R, 1, 5) == 1
    assert run(p, C, R | W, 1, 5) == 0
    assert run(p, B, R | W, 8, 0) == 1


def test_program_wildcard_type():
    p = prog_for([DENY_ALL, {"allow": True, "type": "a", "major": 7, "minor": None, "access": "rwm"}], False)
    assert run(p, B, R, 7, 3) == 1 and run(p, C, W, 7, 9) == 1 and run(p, C, W, 8, 9) == 0
