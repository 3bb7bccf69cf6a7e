"""Linux container setup seen from inside (config-linux.md, runtime-linux.md): default
devices and /dev links, configured devices, masked and read-only paths, sysctls,
hostname and domainname.
"""
import socket

from ..case import case, check, eq
from ..scenarios import scenario, _probe

DEFAULT_DEVICES = {"/dev/null": (1, 3), "/dev/zero": (1, 5), "/dev/full": (1, 7),
                   "/dev/random": (1, 8), "/dev/urandom": (1, 9), "/dev/tty": (5, 0)}
DEV_LINKS = {"/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0",
             "/dev/stdout": "/proc/self/fd/1", "/dev/stderr": "/proc/self/fd/2"}


def stat(t, scen, path):
    return t.facts(scen)["paths"][f"s:{path}"]


for _dev, (_maj, _min) in DEFAULT_DEVICES.items():
    def _make_dev(dev, major, minor):
        @case(f"devices.default{dev.replace('/', '.')}", "config-linux.md#default-devices",
              "MUST", f"{dev} is a char device {major}:{minor}")
        def _(t):
            st = stat(t, "default", dev)
            eq((st.get("type"), st.get("major"), st.get("minor")), ("char", major, minor), dev)
    _make_dev(_dev, _maj, _min)


@case("devices.default.modes", "config-linux.md#default-devices", "SHOULD",
      "the default devices are mode 0666 owned by root")
def _(t):
    bad = {d: stat(t, "default", d) for d in DEFAULT_DEVICES
           if (stat(t, "default", d).get("mode"), stat(t, "default", d).get("uid")) != (0o666, 0)}
    check(not bad, f"devices with other mode/owner: {bad}")


@case("devices.default.usable", "config-linux.md#default-devices", "MUST",
      "the default devices are usable (writing /dev/null succeeds)")
def _(t):
    eq(t.facts("readonly_root")["paths"]["w:/dev/null"], {"ok": True}, "write /dev/null")


for _link, _target in DEV_LINKS.items():
    def _make_link(link, target):
        @case(f"devices.link{link.replace('/', '.')}", "runtime-linux.md#dev-symbolic-links",
              "MUST", f"{link} is a symlink to {target}")
        def _(t):
            st = stat(t, "default", link)
            eq((st.get("type"), st.get("target")), ("symlink", target), link)
    _make_link(_link, _target)


@case("devices.link.ptmx", "runtime-linux.md#dev-symbolic-links", "MUST",
      "/dev/ptmx is a symlink to pts/ptmx when /dev/pts is a devpts mount")
def _(t):
    st = stat(t, "default", "/dev/ptmx")
    check(st.get("type") == "symlink" and st.get("target") in ("pts/ptmx", "/dev/pts/ptmx"),
          f"/dev/ptmx is {st}")


@case("devices.pts-dir", "config.md#mounts", "MUST", "/dev/pts exists as a directory")
def _(t):
    eq(stat(t, "default", "/dev/pts").get("type"), "dir", "/dev/pts")


@case("devices.no-console-without-terminal", "config-linux.md#default-devices", "SHOULD",
      "without terminal, /dev/console is not set up from a pty")
def _(t):
    st = stat(t, "default", "/dev/console")
    check("error" in st or (st.get("major"), st.get("minor")) != (136, 0), f"/dev/console {st}")


@case("devices.dev-minimal", "config-linux.md#default-devices", "SHOULD",
      "a tmpfs /dev holds no host devices beyond the defaults (no /dev/sda, /dev/kmsg)")
def _(t):
    listing = set(t.facts("default")["paths"]["l:/dev"])
    extra = listing & {"kmsg", "mem", "kmem", "vda", "sda", "port", "loop0"}
    check(not extra, f"unexpected host devices: {sorted(extra)}")


# -- configured devices

@scenario
def devices(ctx):
    b = ctx.bundle(tag="dev")
    b.linux["devices"] = [
        {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600,
         "uid": 1000, "gid": 1001},
        {"path": "/dev/myfifo", "type": "p"},
        {"path": "/dev/myblock", "type": "b", "major": 7, "minor": 200, "fileMode": 0o640},
        {"path": "/dev/sub/dir/zero", "type": "c", "major": 1, "minor": 5},
        {"path": "/dev/loopctl-denied", "type": "c", "major": 10, "minor": 237,
         "fileMode": 0o666},
        {"path": "/dev/loopctl-allowed", "type": "c", "major": 10, "minor": 237,
         "fileMode": 0o666},
    ]
    return _probe(ctx, b, "s:/dev/mynull", "s:/dev/myfifo", "s:/dev/myblock",
                  "s:/dev/sub/dir/zero", "w:/dev/loopctl-denied")


@scenario
def devices_allowed(ctx):
    b = ctx.bundle(tag="devok")
    b.linux["devices"] = [{"path": "/dev/loopctl", "type": "c", "major": 10, "minor": 237,
                           "fileMode": 0o666}]
    b.linux["resources"]["devices"].append(
        {"allow": True, "type": "c", "major": 10, "minor": 237, "access": "rw"})
    return _probe(ctx, b, "w:/dev/loopctl")


@case("devices.config.char", "config-linux.md#devices", "MUST",
      "a configured char device is created with its major:minor")
def _(t):
    st = stat(t, "devices", "/dev/mynull")
    eq((st.get("type"), st.get("major"), st.get("minor")), ("char", 1, 3), "/dev/mynull")


@case("devices.config.file-mode", "config-linux.md#devices", "MUST",
      "fileMode is the device node's mode")
def _(t):
    eq(stat(t, "devices", "/dev/mynull").get("mode"), 0o600, "mode")


@case("devices.config.owner", "config-linux.md#devices", "MUST",
      "uid and gid are the device node's owner")
def _(t):
    st = stat(t, "devices", "/dev/mynull")
    eq((st.get("uid"), st.get("gid")), (1000, 1001), "owner")


@case("devices.config.fifo", "config-linux.md#devices", "MUST",
      "a device of type p is a FIFO")
def _(t):
    eq(stat(t, "devices", "/dev/myfifo").get("type"), "fifo", "/dev/myfifo")


@case("devices.config.block", "config-linux.md#devices", "MUST",
      "a configured block device is created with its major:minor and mode")
def _(t):
    st = stat(t, "devices", "/dev/myblock")
    eq((st.get("type"), st.get("major"), st.get("minor"), st.get("mode")),
       ("block", 7, 200, 0o640), "/dev/myblock")


@case("devices.config.nested-path", "config-linux.md#devices", "MUST",
      "a device path in a missing subdirectory of /dev is created")
def _(t):
    st = stat(t, "devices", "/dev/sub/dir/zero")
    eq((st.get("type"), st.get("major"), st.get("minor")), ("char", 1, 5), "nested device")


@case("devices.cgroup.denied", "config-linux.md#allowed-device-list", "MUST",
      "a device not in the allowed list cannot be opened")
def _(t):
    eq(t.facts("devices")["paths"]["w:/dev/loopctl-denied"].get("error"), "EPERM", "open")


@case("devices.cgroup.allowed", "config-linux.md#allowed-device-list", "MUST",
      "a device in the allowed list can be opened")
def _(t):
    res = t.facts("devices_allowed")["paths"]["w:/dev/loopctl"]
    check(res.get("error") != "EPERM", f"open was refused: {res}")


# -- masked and read-only paths

@case("masked.file-empty", "config-linux.md#masked-paths", "MUST",
      "a masked file (/proc/uptime) reads as empty")
def _(t):
    eq(t.facts("default")["paths"]["r:/proc/uptime"], "", "content of /proc/uptime")


@case("masked.keys", "config-linux.md#masked-paths", "MUST",
      "a masked file (/proc/keys) reads as empty")
def _(t):
    eq(t.facts("default")["paths"]["r:/proc/keys"], "", "content of /proc/keys")


@case("masked.timer-list", "config-linux.md#masked-paths", "MUST",
      "a masked file (/proc/timer_list) reads as empty")
def _(t):
    eq(t.facts("default")["paths"]["r:/proc/timer_list"], "", "content")


@case("masked.dir-empty", "config-linux.md#masked-paths", "MUST",
      "a masked directory (/sys/firmware) lists as empty")
def _(t):
    eq(t.facts("default")["paths"]["l:/sys/firmware"], [], "listing of /sys/firmware")


@case("masked.missing-ignored", "config-linux.md#masked-paths", "MUST",
      "a masked path that does not exist (/proc/scsi here) does not fail create")
def _(t):
    b = t.bundle()
    b.linux["maskedPaths"].append("/no/such/path")
    t.probe(b)


@case("readonly.proc-sys", "config-linux.md#readonly-paths", "MUST",
      "a read-only path (/proc/sys) cannot be written")
def _(t):
    eq(t.facts("default")["paths"]["w:/proc/sys/kernel/domainname"].get("error"), "EROFS",
       "write")


@case("readonly.file", "config-linux.md#readonly-paths", "MUST",
      "a read-only file of the rootfs (/etc/ro-file) cannot be written")
def _(t):
    eq(t.facts("default")["paths"]["w:/etc/ro-file"].get("error"), "EROFS", "write")


@case("readonly.file-readable", "config-linux.md#readonly-paths", "MUST",
      "a read-only file keeps its content")
def _(t):
    eq(t.facts("default")["paths"]["r:/etc/ro-file"], "read-only\n", "content")


@case("readonly.missing-ignored", "config-linux.md#readonly-paths", "MUST",
      "a read-only path that does not exist does not fail create")
def _(t):
    b = t.bundle()
    b.linux["readonlyPaths"].append("/no/such/path")
    t.probe(b)


@case("readonly.still-readable", "config-linux.md#readonly-paths", "MUST",
      "a read-only path stays readable")
def _(t):
    b = t.bundle()
    f = t.probe(b, "r:/proc/sys/kernel/ostype")
    eq(f["paths"]["r:/proc/sys/kernel/ostype"].strip(), "Linux", "ostype")


# -- sysctl

SYSCTLS = {"kernel.shm_rmid_forced": "1", "net.ipv4.ip_forward": "1", "kernel.msgmax": "4096",
           "net.ipv4.ping_group_range": "0\t0"}

for _key, _val in SYSCTLS.items():
    def _make_sysctl(key, val):
        @case(f"sysctl.{key}", "config-linux.md#sysctl", "MUST",
              f"sysctl {key} is set in the container's namespace")
        def _(t):
            got = t.facts("sysctl")["paths"][f"r:/proc/sys/{key.replace('.', '/')}"]
            eq(got.strip(), val, key)
    _make_sysctl(_key, _val)


@case("sysctl.host-unchanged", "config-linux.md#sysctl", "MUST",
      "a namespaced sysctl set for the container does not change the host's value")
def _(t):
    # The scenario set shm_rmid_forced=1 in its IPC namespace; a fresh container (new IPC
    # namespace) and the host must still see the host's value.
    t.facts("sysctl")
    with open("/proc/sys/kernel/shm_rmid_forced") as f:
        host = f.read().strip()
    b = t.bundle()
    b.linux["readonlyPaths"] = []
    f = t.probe(b, "r:/proc/sys/kernel/shm_rmid_forced")
    eq(f["paths"]["r:/proc/sys/kernel/shm_rmid_forced"].strip(), host,
       "a fresh container's shm_rmid_forced")


# -- hostname / domainname

@case("uts.hostname-base", "config.md#hostname", "MUST", "hostname is the container's hostname")
def _(t):
    eq(t.facts("default")["facts"]["hostname"], "conformance", "hostname")


@case("uts.hostname", "config.md#hostname", "MUST", "hostname is set in the UTS namespace")
def _(t):
    eq(t.facts("uts")["facts"]["hostname"], "probe-host", "hostname")


@case("uts.domainname", "config.md#domainname", "MUST",
      "domainname is set in the UTS namespace")
def _(t):
    eq(t.facts("uts")["facts"]["domainname"], "probe.domain", "domainname")


@case("uts.host-unchanged", "config.md#hostname", "MUST",
      "setting the container hostname leaves the host's hostname alone")
def _(t):
    t.facts("uts")
    check(socket.gethostname() != "probe-host", "host hostname changed")


@case("uts.no-hostname-inherits", "config.md#hostname", "SHOULD",
      "a new UTS namespace without hostname keeps the runtime's hostname")
def _(t):
    b = t.bundle()
    b.config.pop("hostname")
    eq(t.probe(b)["hostname"], socket.gethostname(), "hostname")


# -- seccomp mode without a profile

@case("seccomp.none-without-profile", "config-linux.md#seccomp", "MUST",
      "without linux.seccomp the process has no seccomp filter")
def _(t):
    eq(t.facts("default")["facts"].get("Seccomp"), "0", "Seccomp mode")
