"""Mounts (config.md#mounts, config-linux.md#mount-propagation, #rootfs-mount-propagation,
config.md#root): every configured mount, its type and options, read back from the
container's /proc/self/mountinfo, plus writes that must or must not succeed.
"""
import os

from ..case import case, check, eq
from ..scenarios import scenario, _probe


def mountinfo(facts):
    """Mount points -> {opts, super, fstype, source, optional} (the last mount wins)."""
    out = {}
    for line in facts["mountinfo"].splitlines():
        left, _, right = line.partition(" - ")
        f, r = left.split(), right.split()
        out[f[4].replace("\\040", " ")] = {
            "opts": set(f[5].split(",")), "optional": f[6:], "fstype": r[0],
            "source": r[1] if len(r) > 1 else "", "super": set(r[2].split(",")) if len(r) > 2
            else set()}
    return out


@scenario
def mounts(ctx):
    b = ctx.bundle(tag="mnt")
    src = b.path("src")
    os.makedirs(os.path.join(src, "sub"))
    with open(os.path.join(src, "hello"), "w") as f:
        f.write("hello from host\n")
    with open(b.path("file-src"), "w") as f:
        f.write("a single file\n")
    os.makedirs(b.path("rw-src"))
    m = b.config["mounts"]
    m += [
        {"destination": "/mnt/ro", "type": "bind", "source": src, "options": ["bind", "ro"]},
        {"destination": "/mnt/rw", "type": "bind", "source": b.path("rw-src"),
         "options": ["rbind", "rw"]},
        {"destination": "/etc/single-file", "type": "bind", "source": b.path("file-src"),
         "options": ["bind"]},
        {"destination": "/mnt/tmp", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "nodev", "noexec", "mode=700", "size=1m"]},
        {"destination": "/deep/new/dir", "type": "tmpfs", "source": "tmpfs"},
        {"destination": "/mnt/order", "type": "tmpfs", "source": "tmpfs"},
        {"destination": "/mnt/order/inner", "type": "bind", "source": src,
         "options": ["bind"]},
        {"destination": "/mnt/noatime", "type": "tmpfs", "source": "tmpfs",
         "options": ["noatime"]},
        {"destination": "/mnt/ro-tmpfs", "type": "tmpfs", "source": "tmpfs",
         "options": ["ro"]},
        {"destination": "/mnt/shared", "type": "bind", "source": src,
         "options": ["rbind", "rshared"]},
        {"destination": "/mnt/private", "type": "bind", "source": src,
         "options": ["rbind", "rprivate"]},
        {"destination": "/mnt/nosuid-bind", "type": "bind", "source": src,
         "options": ["bind", "nosuid", "nodev", "noexec"]},
        {"destination": "/mnt/relative-src", "type": "bind", "source": "src",
         "options": ["bind", "ro"]},
        {"destination": "/mnt/type-none", "type": "none", "source": src,
         "options": ["rbind"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
    ]
    return _probe(ctx, b, "r:/mnt/ro/hello", "w:/mnt/ro/new", "w:/mnt/rw/new",
                  "r:/etc/single-file", "s:/mnt/tmp", "w:/mnt/tmp/x", "s:/deep/new/dir",
                  "r:/mnt/order/inner/hello", "w:/mnt/ro-tmpfs/x", "l:/sys/fs/cgroup",
                  "l:/mnt/ro", "s:/etc/single-file", "r:/mnt/relative-src/hello",
                  "r:/mnt/type-none/hello")


def mnt(t, scen, point):
    info = mountinfo(t.facts(scen)["facts"])
    check(point in info, f"no mount at {point}")
    return info[point]


def path_fact(t, scen, key):
    return t.facts(scen)["paths"][key]


# -- the base config's mounts

BASE_TYPES = {"/proc": "proc", "/dev": "tmpfs", "/dev/pts": "devpts", "/dev/shm": "tmpfs",
              "/dev/mqueue": "mqueue", "/sys": "sysfs"}

for _point, _type in BASE_TYPES.items():
    def _make_type(point, fstype):
        @case(f"mounts.base{point.replace('/', '.')}", "config.md#mounts", "MUST",
              f"{point} is mounted with type {fstype}")
        def _(t):
            eq(mnt(t, "default", point)["fstype"], fstype, f"type of {point}")
    _make_type(_point, _type)


@case("mounts.base.sys-ro", "config.md#mounts", "MUST", "sysfs with option ro is read-only")
def _(t):
    check("ro" in mnt(t, "default", "/sys")["opts"], "/sys is not ro")
    eq(path_fact(t, "default", "w:/sys/kernel/x").get("error"), "EROFS", "write to /sys")


@case("mounts.base.shm-flags", "config.md#mounts", "MUST",
      "nosuid, noexec and nodev options apply to /dev/shm")
def _(t):
    opts = mnt(t, "default", "/dev/shm")["opts"]
    check({"nosuid", "noexec", "nodev"} <= opts, f"options {sorted(opts)}")


@case("mounts.base.shm-writable", "config.md#mounts", "MUST", "/dev/shm is writable")
def _(t):
    eq(path_fact(t, "default", "w:/dev/shm/x"), {"ok": True}, "write /dev/shm/x")


@case("mounts.base.dev-mode", "config.md#mounts", "MUST",
      "tmpfs data option mode=755 applies to /dev")
def _(t):
    check("mode=755" in mnt(t, "default", "/dev")["super"], "no mode=755 on /dev")


@case("mounts.base.devpts-options", "config.md#mounts", "MUST",
      "devpts data options (ptmxmode=0666, mode=0620, gid=5) are applied")
def _(t):
    sup = mnt(t, "default", "/dev/pts")["super"]
    check({"ptmxmode=666", "mode=620", "gid=5"} <= sup, f"super options {sorted(sup)}")


@case("mounts.base.proc-own-pid-ns", "config.md#mounts", "MUST",
      "/proc shows the container's PID namespace (the probe is PID 1 there)")
def _(t):
    f = t.facts("default")["facts"]
    eq(f.get("NSpid", "").split()[:1], ["1"], "NSpid seen through the container's /proc")


@case("mounts.root.writable", "config.md#root", "MUST",
      "with root.readonly false the rootfs is writable")
def _(t):
    eq(path_fact(t, "default", "w:/tmp/conformance-write"), {"ok": True}, "write /tmp")


@case("mounts.root.readonly", "config.md#root", "MUST",
      "with root.readonly true the root filesystem is read-only")
def _(t):
    eq(path_fact(t, "readonly_root", "w:/etc/x").get("error"), "EROFS", "write /etc/x")
    check("ro" in mnt(t, "readonly_root", "/")["opts"], "/ is not mounted ro")


@case("mounts.root.readonly-keeps-mounts-writable", "config.md#root", "MUST",
      "root.readonly does not make other writable mounts read-only (/dev/shm, /dev/null)")
def _(t):
    eq(path_fact(t, "readonly_root", "w:/dev/shm/x"), {"ok": True}, "write /dev/shm/x")
    eq(path_fact(t, "readonly_root", "w:/dev/null"), {"ok": True}, "write /dev/null")


@case("mounts.root.is-bundle-rootfs", "config.md#root", "MUST",
      "the container's / is root.path (a file placed there is visible)")
def _(t):
    b = t.bundle()
    with open(os.path.join(b.rootfs, "marker-file"), "w") as f:
        f.write("marker\n")
    eq(t.probe(b, "r:/marker-file")["paths"]["r:/marker-file"], "marker\n", "/marker-file")


@case("mounts.root.absolute-path", "config.md#root", "MUST",
      "an absolute root.path is used as is")
def _(t):
    b = t.bundle()
    b.config["root"]["path"] = b.rootfs
    t.probe(b)


# -- mounts scenario

@case("mounts.bind.readable", "config.md#mounts", "MUST",
      "a bind mount shows the source's content")
def _(t):
    eq(path_fact(t, "mounts", "r:/mnt/ro/hello"), "hello from host\n", "/mnt/ro/hello")


@case("mounts.bind.ro", "config.md#mounts", "MUST", "a bind mount with ro is read-only")
def _(t):
    eq(path_fact(t, "mounts", "w:/mnt/ro/new").get("error"), "EROFS", "write /mnt/ro/new")
    check("ro" in mnt(t, "mounts", "/mnt/ro")["opts"], "not ro in mountinfo")


@case("mounts.bind.rw-visible-on-host", "config.md#mounts", "MUST",
      "writes to an rw bind mount land in the source directory")
def _(t):
    s = t.facts("mounts")
    eq(s["paths"]["w:/mnt/rw/new"], {"ok": True}, "write /mnt/rw/new")
    check(os.path.exists(os.path.join(s["bundle"], "rw-src", "new")), "not on the host")


@case("mounts.bind.file", "config.md#mounts", "MUST", "a file can be bind-mounted on a file")
def _(t):
    eq(path_fact(t, "mounts", "r:/etc/single-file"), "a single file\n", "/etc/single-file")
    eq(path_fact(t, "mounts", "s:/etc/single-file").get("type"), "file", "type")


@case("mounts.bind.relative-source", "config.md#mounts", "MUST",
      "a relative bind source is resolved against the bundle directory")
def _(t):
    eq(path_fact(t, "mounts", "r:/mnt/relative-src/hello"), "hello from host\n", "content")


@case("mounts.bind.type-none", "config.md#mounts", "MUST",
      "a mount with type none and the rbind option is a bind mount")
def _(t):
    eq(path_fact(t, "mounts", "r:/mnt/type-none/hello"), "hello from host\n", "content")


@case("mounts.bind.subdirs", "config.md#mounts", "MUST",
      "a bind mount shows the source's subdirectories")
def _(t):
    check("sub" in path_fact(t, "mounts", "l:/mnt/ro"), "sub missing from /mnt/ro")


@case("mounts.bind.flags", "config.md#mounts", "MUST",
      "nosuid, nodev and noexec options apply to a bind mount")
def _(t):
    opts = mnt(t, "mounts", "/mnt/nosuid-bind")["opts"]
    check({"nosuid", "nodev", "noexec"} <= opts, f"options {sorted(opts)}")


@case("mounts.tmpfs.mode", "config.md#mounts", "MUST", "tmpfs mode=700 sets the root mode")
def _(t):
    eq(path_fact(t, "mounts", "s:/mnt/tmp").get("mode"), 0o700, "mode of /mnt/tmp")


@case("mounts.tmpfs.size", "config.md#mounts", "MUST", "tmpfs size=1m is applied")
def _(t):
    check("size=1024k" in mnt(t, "mounts", "/mnt/tmp")["super"], "size=1024k missing")


@case("mounts.tmpfs.flags", "config.md#mounts", "MUST",
      "nosuid, nodev and noexec options apply to a tmpfs")
def _(t):
    opts = mnt(t, "mounts", "/mnt/tmp")["opts"]
    check({"nosuid", "nodev", "noexec"} <= opts, f"options {sorted(opts)}")


@case("mounts.tmpfs.writable", "config.md#mounts", "MUST", "a tmpfs without ro is writable")
def _(t):
    eq(path_fact(t, "mounts", "w:/mnt/tmp/x"), {"ok": True}, "write /mnt/tmp/x")


@case("mounts.tmpfs.ro", "config.md#mounts", "MUST", "a tmpfs with ro is read-only")
def _(t):
    eq(path_fact(t, "mounts", "w:/mnt/ro-tmpfs/x").get("error"), "EROFS", "write")


@case("mounts.tmpfs.noatime", "config.md#mounts", "MUST", "noatime is applied")
def _(t):
    check("noatime" in mnt(t, "mounts", "/mnt/noatime")["opts"], "noatime missing")


@case("mounts.destination.created", "config.md#mounts", "MUST",
      "a destination missing from the rootfs is created (nested)")
def _(t):
    eq(path_fact(t, "mounts", "s:/deep/new/dir").get("type"), "dir", "/deep/new/dir")
    eq(mnt(t, "mounts", "/deep/new/dir")["fstype"], "tmpfs", "type")


@case("mounts.order", "config.md#mounts", "MUST",
      "mounts are made in order (a bind inside an earlier tmpfs is visible)")
def _(t):
    eq(path_fact(t, "mounts", "r:/mnt/order/inner/hello"), "hello from host\n", "content")


@case("mounts.order-mountinfo", "config.md#mounts", "MUST",
      "mountinfo lists configured mounts in config order")
def _(t):
    f = t.facts("mounts")["facts"]
    points = [line.split()[4] for line in f["mountinfo"].splitlines()]
    want = ["/mnt/ro", "/mnt/rw", "/etc/single-file", "/mnt/tmp", "/deep/new/dir",
            "/mnt/order", "/mnt/order/inner"]
    idx = [points.index(p) for p in want if p in points]
    eq(idx, sorted(idx), "relative order")


@case("mounts.propagation.rshared", "config-linux.md#mount-propagation", "MUST",
      "the rshared option makes a mount shared")
def _(t):
    opt = mnt(t, "mounts", "/mnt/shared")["optional"]
    check(any(o.startswith("shared:") for o in opt), f"optional fields {opt}")


@case("mounts.propagation.rprivate", "config-linux.md#mount-propagation", "MUST",
      "the rprivate option makes a mount private")
def _(t):
    opt = mnt(t, "mounts", "/mnt/private")["optional"]
    check(not any(o.startswith(("shared:", "master:")) for o in opt), f"optional {opt}")


@case("mounts.cgroup.present", "config.md#mounts", "MUST",
      "a cgroup-type mount at /sys/fs/cgroup exposes cgroup hierarchies")
def _(t):
    listing = path_fact(t, "mounts", "l:/sys/fs/cgroup")
    check(isinstance(listing, list) and listing, f"/sys/fs/cgroup lists {listing}")


@case("mounts.cgroup.ro", "config.md#mounts", "MUST", "a cgroup mount with ro is read-only")
def _(t):
    info = mountinfo(t.facts("mounts")["facts"])
    # On v1 runtimes put a tmpfs under the controller mounts; the hierarchies are what
    # must not be writable.
    cg = {k: v for k, v in info.items() if v["fstype"] in ("cgroup", "cgroup2")}
    rw = sorted(k for k, v in cg.items() if "ro" not in v["opts"])
    check(cg and not rw, f"cgroup hierarchies mounted rw: {rw}")


# -- rootfsPropagation

def rootfs_prop(t, mode):
    b = t.bundle()
    b.linux["rootfsPropagation"] = mode
    return mountinfo(t.probe(b))["/"]["optional"]


@case("mounts.rootfs-propagation.shared", "config-linux.md#rootfs-mount-propagation", "MUST",
      "rootfsPropagation shared makes / a shared mount")
def _(t):
    opt = rootfs_prop(t, "shared")
    check(any(o.startswith("shared:") for o in opt), f"optional fields of / {opt}")


@case("mounts.rootfs-propagation.private", "config-linux.md#rootfs-mount-propagation", "MUST",
      "rootfsPropagation private makes / a private mount")
def _(t):
    opt = rootfs_prop(t, "private")
    check(not any(o.startswith(("shared:", "master:")) for o in opt), f"optional {opt}")


@case("mounts.rootfs-propagation.unbindable", "config-linux.md#rootfs-mount-propagation",
      "MUST", "rootfsPropagation unbindable makes / unbindable")
def _(t):
    opt = rootfs_prop(t, "unbindable")
    check("unbindable" in opt, f"optional fields of / {opt}")


@case("mounts.no-host-leak", "config.md#mounts", "MUST",
      "container mounts do not appear in the runtime's mount namespace")
def _(t):
    s = t.facts("mounts")
    with open("/proc/self/mountinfo") as f:
        leaked = [line.split()[4] for line in f if s["bundle"] in line]
    check(not leaked, f"host sees {leaked}")
