"""The per-run workspace: a temp dir holding the rootfs template, bundles and state root.

The busybox rootfs and the probe are built once per run; each bundle gets a hard-linked
copy so cases can add files or mount points without seeing each other.
"""
import os
import shutil
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD_DIR = os.path.join(HERE, "_build")
PROBE_SRC = os.path.join(HERE, "probe.c")
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")

# A non-root user and a supplementary group let cases check user/additionalGids
# handling against names the container's own /etc files define.
PASSWD = """root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
"""
GROUP = """root:x:0:
tty:x:5:
user:x:1000:
extra:x:1001:user
nogroup:x:65534:
"""
ROOTFS_DIRS = ("bin", "dev", "etc", "proc", "sys", "tmp", "root", "home/user", "run", "mnt",
               "var", "usr")


class SetupError(Exception):
    pass


def build_probe():
    """Compile conformance/probe.c statically (gcc, else musl-gcc); rebuilt when stale."""
    os.makedirs(BUILD_DIR, exist_ok=True)
    out = os.path.join(BUILD_DIR, "probe")
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(PROBE_SRC):
        return out
    errors = []
    for cc in ("gcc", "musl-gcc"):
        if not shutil.which(cc):
            continue
        tmp = out + ".tmp"
        r = subprocess.run([cc, "-static", "-O2", "-o", tmp, PROBE_SRC],
                           capture_output=True, text=True)
        if r.returncode == 0:
            os.replace(tmp, out)
            return out
        errors.append(f"{cc}: {r.stderr.strip()}")
    raise SetupError("cannot build the probe: " + ("; ".join(errors) or "no gcc or musl-gcc"))


def find_busybox():
    for path in BUSYBOX_CANDIDATES:
        if os.path.exists(path):
            r = subprocess.run(["file", "-L", path], capture_output=True, text=True)
            if r.returncode != 0 or "statically linked" in r.stdout or "static-pie" in r.stdout:
                return path
    raise SetupError("no static busybox (apt-get install busybox-static)")


def build_rootfs(dest, busybox, probe):
    for d in ROOTFS_DIRS:
        os.makedirs(os.path.join(dest, d), exist_ok=True)
    os.chmod(os.path.join(dest, "tmp"), 0o1777)
    os.chown(os.path.join(dest, "home/user"), 1000, 1000)
    shutil.copy2(busybox, os.path.join(dest, "bin/busybox"))
    shutil.copy2(probe, os.path.join(dest, "bin/probe"))
    # Our own links rather than `--install -s`, which points them at the host's busybox path.
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    for name in applets:
        link = os.path.join(dest, "bin", name)
        if name != "busybox" and not os.path.lexists(link):
            os.symlink("/bin/busybox", link)
    for name, text in (("passwd", PASSWD), ("group", GROUP), ("ro-file", "read-only\n")):
        with open(os.path.join(dest, "etc", name), "w") as f:
            f.write(text)


def clone_tree(src, dst):
    """Hard-link copy: cheap, and the rootfs files are never written by the cases."""
    for root, dirs, files in os.walk(src):
        rel = os.path.relpath(root, src)
        target = os.path.normpath(os.path.join(dst, rel))
        st = os.lstat(root)
        os.makedirs(target, exist_ok=True)
        os.chmod(target, st.st_mode & 0o7777)
        os.chown(target, st.st_uid, st.st_gid)
        for name in dirs + files:
            path = os.path.join(root, name)
            if os.path.islink(path):
                os.symlink(os.readlink(path), os.path.join(target, name))
                if name in dirs:
                    dirs.remove(name)
            elif name in files:
                os.link(path, os.path.join(target, name))


class Workspace:
    def __init__(self, base=None, keep=False):
        self.dir = tempfile.mkdtemp(prefix="oci-conf-", dir=base)
        os.chmod(self.dir, 0o755)
        self.keep = keep
        self.root = os.path.join(self.dir, "state")
        os.makedirs(self.root, mode=0o700)
        self.probe = build_probe()
        self.rootfs = os.path.join(self.dir, "rootfs-template")
        build_rootfs(self.rootfs, find_busybox(), self.probe)
        self.bundles = os.path.join(self.dir, "bundles")
        os.makedirs(self.bundles)

    def new_bundle_dir(self, name):
        path = os.path.join(self.bundles, name)
        os.makedirs(path)
        clone_tree(self.rootfs, os.path.join(path, "rootfs"))
        return path

    def cleanup(self):
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
