"""linux.netDevices: move host network devices into the container's network namespace.

The CLI does it, not init: it still runs in the host's network namespace and sees the
host's files (init has pivoted by the time anything could import pyroute2 there). As newer
runc does: the device is set down, its permanent global-scope addresses are noted, it moves
and takes its container name in one RTM_NEWLINK (no clash with a host name of the same
spelling), then in the container's namespace the addresses are added again (the kernel
drops them on a move) and the device is set up.

Nothing moves back on delete: when the namespace dies the kernel returns a physical device
to the host's initial namespace and destroys a virtual one (veth, bridge, ...), as with
runc. A create that fails after the move puts the devices back, with their host names and
addresses, before init is killed.

pyroute2 costs ~170 ms of imports: only this module imports it, and only configs that
have netDevices import this module.
"""
import os

from pyrunc import native
from pyrunc.errors import ConfigError, PyruncError
from pyrunc.namespaces import TYPES

CLONE_NEWNET = TYPES["network"][0]
IFA_F_PERMANENT = 0x80
# Address flags a user sets (nodad, homeaddress, mngtmpaddr, noprefixroute, autojoin): kept
# across the move, as runc re-adds the address it listed, flags included. (State flags such
# as tentative or dadfailed are the kernel's.)
USER_ADDR_FLAGS = 0x02 | 0x10 | 0x100 | 0x200 | 0x400
RT_SCOPE_UNIVERSE = 0
IFF_UP = 0x1


def pointer(host):
    return "/linux/netDevices/" + host.replace("~", "~0").replace("/", "~1")


class Mover:
    """The devices of one create: checked on the host first, moved once init's network
    namespace exists (attach), put back if create fails (rollback)."""

    def __init__(self, devices):
        import socket
        self.devices = [(host, (dev or {}).get("name") or host) for host, dev in devices.items()]
        for host, _ in self.devices:
            try:
                socket.if_nametoindex(host)
            except OSError:
                raise ConfigError(pointer(host), "network device not found in the host's "
                                  "network namespace") from None
        self.moved = []  # (host name, container name, addresses, was up)
        self.host_ns = -1
        self.ns = -1

    def attach(self, pid):
        # The namespace stays open (not only init's pid): a rollback after init died can
        # still reach the devices, and a virtual device is not destroyed meanwhile.
        self.host_ns = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        self.ns = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        from pyroute2 import IPRoute
        for host, name in self.devices:
            with _NetlinkErrors(host, "move into the container's network namespace"):
                with IPRoute() as ipr:
                    idx, up, addrs = _describe(ipr, host)
                    ipr.link("set", index=idx, state="down")
                    ipr.link("set", index=idx, net_ns_fd=self.ns, ifname=name)
            self.moved.append((host, name, addrs, up))
            with _NetlinkErrors(host, f"configure {name} in the container"):
                with _InNetns(self.ns), IPRoute() as ipr:
                    idx = _index(ipr, name)
                    _add_addresses(ipr, idx, addrs)
                    ipr.link("set", index=idx, state="up")

    def rollback(self):
        """Best effort: every moved device back to the host, as it was."""
        if self.ns < 0:
            return
        try:
            from pyroute2 import IPRoute
            for host, name, addrs, up in reversed(self.moved):
                try:
                    with _InNetns(self.ns), IPRoute() as ipr:
                        idx = _index(ipr, name)
                        ipr.link("set", index=idx, state="down")
                        ipr.link("set", index=idx, net_ns_fd=self.host_ns, ifname=host)
                    with IPRoute() as ipr:
                        idx = _index(ipr, host)
                        _add_addresses(ipr, idx, addrs)
                        if up:
                            ipr.link("set", index=idx, state="up")
                except (OSError, PyruncError):
                    continue
        finally:
            self.done()

    def done(self):
        for fd in (self.ns, self.host_ns):
            if fd >= 0:
                os.close(fd)
        self.ns = self.host_ns = -1


def _index(ipr, name):
    found = ipr.link_lookup(ifname=name)
    if not found:
        raise PyruncError(f"network device {name} not found")
    return found[0]


def _describe(ipr, name):
    """(index, was up, [(family, address, prefixlen, flags)]) with only the permanent
    addresses of global scope: dynamic and link/host-scope ones belong to where they were
    made."""
    idx = _index(ipr, name)
    link = ipr.get_links(idx)[0]
    addrs = []
    for a in ipr.get_addr(index=idx):
        flags = a.get_attr("IFA_FLAGS")
        if flags is None:
            flags = a["flags"]
        if flags & IFA_F_PERMANENT and a["scope"] == RT_SCOPE_UNIVERSE:
            addrs.append((a["family"], a.get_attr("IFA_ADDRESS"), a["prefixlen"],
                          flags & USER_ADDR_FLAGS))
    return idx, bool(link["flags"] & IFF_UP), addrs


def _add_addresses(ipr, idx, addrs):
    for family, address, prefixlen, flags in addrs:
        extra = {"IFA_FLAGS": flags} if flags else {}
        ipr.addr("add", index=idx, family=family, address=address, prefixlen=prefixlen, **extra)


class _InNetns:
    """Run a block in another network namespace. The CLI is single-threaded, and a network
    namespace changes nothing about which files it sees."""

    def __init__(self, fd):
        self.fd = fd
        self.back = -1

    def __enter__(self):
        self.back = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            native.setns(self.fd, CLONE_NEWNET)
        except BaseException:
            os.close(self.back)
            raise
        return self

    def __exit__(self, *exc):
        try:
            native.setns(self.back, CLONE_NEWNET)
        finally:
            os.close(self.back)
        return False


class _NetlinkErrors:
    """pyroute2's NetlinkError (and OSError) -> one line naming the config.json field."""

    def __init__(self, host, what):
        self.host = host
        self.what = what

    def __enter__(self):
        return self

    def __exit__(self, kind, err, _tb):
        if err is None or isinstance(err, ConfigError) or not isinstance(err, Exception):
            return False
        if isinstance(err, PyruncError):
            why = str(err)
        else:
            code = getattr(err, "code", None) or getattr(err, "errno", None)
            why = os.strerror(code) if isinstance(code, int) and code > 0 else str(err)
        raise PyruncError(f"config.json {pointer(self.host)}: {self.what}: {why}") from None
