"""The systemd cgroup driver (--systemd-cgroup): the container's cgroup is a transient
scope that systemd creates (StartTransientUnit over D-Bus, Delegate=yes) and owns, with the
limits as unit properties; the same limits are then written to the cgroup files too, for
the fields systemd has no property for. Everything after creation (freeze, pids, kill,
stats) goes through the plain v2/v1 manager of that directory.

jeepney (pure-Python D-Bus) is imported only here, so only the systemd driver pays for it.
"""
import os
import time

from pyrunc.cgroups import is_unified, systemd_props
from pyrunc.errors import CgroupError

DEST = "org.freedesktop.systemd1"
PATH = "/org/freedesktop/systemd1"
IFACE = "org.freedesktop.systemd1.Manager"


class Bus:
    """One system-bus connection and systemd Manager calls."""

    def __init__(self):
        from jeepney.io.blocking import open_dbus_connection
        try:
            # dbus-daemon may still be starting (socket activation); the default 1 s is short
            self.conn = open_dbus_connection(bus="SYSTEM", auth_timeout=30)
        except OSError as e:
            raise CgroupError("connect to the system D-Bus (is systemd running?)", e) from None

    def call(self, method, signature, args):
        from jeepney import DBusAddress, new_method_call
        from jeepney.wrappers import DBusErrorResponse, unwrap_msg
        addr = DBusAddress(PATH, bus_name=DEST, interface=IFACE)
        try:
            return unwrap_msg(self.conn.send_and_get_reply(new_method_call(addr, method, signature, args),
                                                          timeout=30))
        except DBusErrorResponse as e:
            raise CgroupError(f"systemd {method}", OSError(0, f"{e.name}: {e.data}")) from None

    def close(self):
        self.conn.close()


class Manager:
    driver = "systemd"

    def __init__(self, saved):
        self.unit = saved["unit"]
        self.slice = saved["slice"]
        self.inner_saved = saved["inner"]
        self._inner = None
        self.extra = []

    @classmethod
    def for_path(cls, container_id, cgroups_path, mnts):
        slice_, unit = systemd_props.parse_path(container_id, cgroups_path, os.geteuid() != 0)
        rel = systemd_props.expand_slice(slice_).rstrip("/") + "/" + unit
        if is_unified(mnts):
            inner = {"driver": "v2", "path": mnts[""] + rel}
        else:
            inner = {"driver": "v1", "paths": {(c or "unified"): m + rel for c, m in mnts.items()}}
        return cls({"unit": unit, "slice": slice_, "inner": inner})

    @property
    def inner(self):
        if self._inner is None:
            from pyrunc.cgroups import load_manager
            self._inner = load_manager(self.inner_saved)
        return self._inner

    def save(self):
        return {"driver": self.driver, "unit": self.unit, "slice": self.slice, "inner": self.inner_saved}

    def _dir(self):
        inner = self.inner
        # on v1 the name=systemd hierarchy is the one systemd always creates for a scope
        return getattr(inner, "path", None) or inner.paths.get("name=systemd") or next(iter(inner.paths.values()))

    def set_annotations(self, annotations):
        """Call before add_pid: org.systemd.property.* annotations become unit properties."""
        self.extra = systemd_props.annotation_props(annotations)

    def create(self):
        pass  # systemd makes the directory when the scope starts, in add_pid

    def add_pid(self, pid):
        """The first pid starts the scope; later ones (exec) join its cgroup directly."""
        if os.path.isdir(self._dir()):
            return self.inner.add_pid(pid)
        bus = Bus()
        try:
            props = systemd_props.unit_props(self.unit, self.slice, pid, f"pyrunc container {self.unit}")
            props += self.extra
            bus.call("StartTransientUnit", "ssa(sv)a(sa(sv))", (self.unit, "replace", props, []))
        finally:
            bus.close()
        self._wait_for(lambda: str(pid) in _procs(self._dir()), "start")
        if self.inner.driver == "v1":
            # systemd only places the scope in the hierarchies it manages (not cpuset,
            # freezer, ...): join the rest at the same relative path, as runc does
            self.inner.create()
            self.inner.add_pid(pid)

    def apply(self, resources, skip_devices=False):
        props = systemd_props.resource_props(resources)
        if props:
            bus = Bus()
            try:
                bus.call("SetUnitProperties", "sba(sv)", (self.unit, True, props))
            finally:
                bus.close()
        return self.inner.apply(resources, skip_devices)

    def destroy(self):
        try:
            bus = Bus()
        except CgroupError:
            bus = None
        if bus:
            try:
                bus.call("StopUnit", "ss", (self.unit, "replace"))
            except CgroupError:
                pass  # already gone (NoSuchUnit) is fine
            finally:
                bus.close()
            self._wait_for(lambda: not os.path.isdir(self._dir()), "stop", fail=False)
        self.inner.destroy()

    def _wait_for(self, cond, what, fail=True, timeout=10.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if cond():
                return
            time.sleep(0.01)
        if fail:
            raise CgroupError(f"systemd {what} {self.unit}", OSError(0, "timed out waiting for the scope"))

    def freeze(self):
        self.inner.freeze()

    def thaw(self):
        self.inner.thaw()

    def is_frozen(self):
        return self.inner.is_frozen()

    def pids(self):
        return self.inner.pids()

    def kill_all(self, sig=9):
        self.inner.kill_all(sig)

    def stats(self):
        return self.inner.stats()


def _procs(d):
    try:
        with open(os.path.join(d, "cgroup.procs")) as f:
            return f.read().split()
    except OSError:
        return []
