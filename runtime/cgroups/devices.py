"""Device access rules: the v1 devices-cgroup model both backends share.

A rule list is read in order, starting from "allow everything" (what a fresh v1 devices
cgroup inherits). A rule on every device with all of rwm resets the list: deny-all makes
it an allow-list, allow-all a deny-list. Other rules become exceptions to the current
default. The result drives the v1 devices.allow/deny writes and the v2 eBPF program alike.
"""
from pyrunc.errors import ConfigError

ANY = -1

# Devices every container gets after its own rules (runc's AllowedDevices facts):
# mknod of any char/block node, and the usual character devices.
DEFAULT_RULES = (
    {"allow": True, "type": "c", "major": None, "minor": None, "access": "m"},
    {"allow": True, "type": "b", "major": None, "minor": None, "access": "m"},
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},    # null
    {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},    # random
    {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "rwm"},    # full
    {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},    # tty
    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},    # zero
    {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},    # urandom
    {"allow": True, "type": "c", "major": 136, "minor": None, "access": "rwm"},  # pts/*
    {"allow": True, "type": "c", "major": 5, "minor": 2, "access": "rwm"},    # ptmx
    {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rwm"},  # net/tun
)


class Rule:
    __slots__ = ("allow", "type", "major", "minor", "access")

    def __init__(self, allow, type_, major, minor, access):
        self.allow, self.type, self.major, self.minor, self.access = allow, type_, major, minor, access

    def is_everything(self):
        return self.type == "a" and self.major == ANY and self.minor == ANY and set(self.access) >= set("rwm")

    def v1_line(self):
        num = lambda n: "*" if n == ANY else str(n)
        if self.type == "a":
            return "a"
        return f"{self.type} {num(self.major)}:{num(self.minor)} {self.access}"

    def key(self):
        return (self.type, self.major, self.minor, self.access)

    def __repr__(self):
        return f"Rule({'allow' if self.allow else 'deny'} {self.v1_line()})"


def parse_rule(d, i):
    ptr = f"/linux/resources/devices/{i}"
    if "allow" not in d:
        raise ConfigError(ptr + "/allow", "device rule needs 'allow'")
    t = d.get("type") or "a"
    if t not in ("a", "b", "c"):
        raise ConfigError(ptr + "/type", f"device type {t!r} is not a, b or c")
    access = d.get("access") or "rwm"
    if not access or set(access) - set("rwm"):
        raise ConfigError(ptr + "/access", f"device access {access!r} is not a subset of rwm")
    major = d.get("major")
    minor = d.get("minor")
    return Rule(bool(d["allow"]), t, ANY if major is None else major,
                ANY if minor is None else minor, "".join(c for c in "rwm" if c in access))


def effective(spec_rules, with_defaults=True):
    """(default_allow, [exceptions]) after reading spec rules, then the defaults."""
    rules = [parse_rule(d, i) for i, d in enumerate(spec_rules or ())]
    if with_defaults:
        rules += [parse_rule(d, 0) for d in DEFAULT_RULES]
    default_allow, exceptions = True, []
    for r in rules:
        if r.is_everything():
            default_allow, exceptions = r.allow, []
        elif r.allow != default_allow:
            if all(e.key() != r.key() for e in exceptions):
                exceptions.append(r)
        else:
            # A rule agreeing with the default cancels a matching exception.
            exceptions = [e for e in exceptions if e.key() != r.key()]
    return default_allow, exceptions


def v1_writes(default_allow, exceptions):
    """[(file, line)] to bring a v1 devices cgroup to this state from any state."""
    if default_allow:
        out = [("devices.allow", "a")]
        out += [("devices.deny", e.v1_line()) for e in exceptions]
    else:
        out = [("devices.deny", "a")]
        out += [("devices.allow", e.v1_line()) for e in exceptions]
    return out
