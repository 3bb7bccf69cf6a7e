"""Boot a cgroup-v2-only QEMU guest (TCG) that shares this host's / read-only, run one
command in it, and return its exit code and output (see /work/shared/docs/V2GUEST.md).

  python3 tests/v2guest/guest.py [--systemd] [--timeout S] -- COMMAND...

Kernel and initramfs are built once into $PYRUNC_V2GUEST_CACHE (default
/var/tmp/pyrunc-v2guest): Debian's kernel package is fetched with `apt-get download` and
unpacked, and the initramfs is busybox-static plus the virtio/9p/overlay modules. Results
come back through a read-write 9p job folder: output, rc, and whatever the command writes
there (e.g. a JUnit file).
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.environ.get("PYRUNC_V2GUEST_CACHE", "/var/tmp/pyrunc-v2guest")
KERNEL_PKG = os.environ.get("PYRUNC_V2GUEST_KERNEL", "linux-image-6.1.0-56-amd64")
MODULES = ("virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci "
           "9pnet 9pnet_virtio netfs fscache 9p overlay").split()
CMDLINE = ("console=ttyS0 quiet loglevel=3 panic=-1 cgroup_no_v1=all "
           "systemd.unified_cgroup_hierarchy=1 rdinit=/init")


def qemu_available():
    return shutil.which("qemu-system-x86_64") is not None and os.path.exists("/bin/busybox")


def _kernel():
    kdir = os.path.join(CACHE, "kernel")
    found = glob.glob(os.path.join(kdir, "boot", "vmlinuz-*"))
    if found:
        return found[0], kdir
    os.makedirs(CACHE, exist_ok=True)
    debs = glob.glob(os.path.join(CACHE, KERNEL_PKG + "_*.deb"))
    if not debs:
        subprocess.run(["apt-get", "download", KERNEL_PKG], cwd=CACHE, check=True, capture_output=True)
        debs = glob.glob(os.path.join(CACHE, KERNEL_PKG + "_*.deb"))
    subprocess.run(["dpkg-deb", "-x", debs[0], kdir], check=True)
    return glob.glob(os.path.join(kdir, "boot", "vmlinuz-*"))[0], kdir


def _initramfs(kdir):
    out = os.path.join(CACHE, "initramfs.cpio")
    src = [os.path.join(HERE, "init.sh")]
    if os.path.exists(out) and all(os.path.getmtime(out) >= os.path.getmtime(s) for s in src):
        return out
    with tempfile.TemporaryDirectory() as tmp:
        for d in ("bin", "modules"):
            os.makedirs(os.path.join(tmp, d))
        shutil.copy("/bin/busybox", os.path.join(tmp, "bin", "busybox"))
        os.symlink("busybox", os.path.join(tmp, "bin", "sh"))
        for m in MODULES:
            path = glob.glob(os.path.join(kdir, "lib/modules/*/kernel/**", m + ".ko"), recursive=True)[0]
            shutil.copy(path, os.path.join(tmp, "modules", m + ".ko"))
        with open(os.path.join(tmp, "modules.order"), "w") as f:
            f.write("\n".join(MODULES) + "\n")
        shutil.copy(os.path.join(HERE, "init.sh"), os.path.join(tmp, "init"))
        os.chmod(os.path.join(tmp, "init"), 0o755)
        names = subprocess.run(["find", "."], cwd=tmp, capture_output=True, text=True, check=True).stdout
        with open(out + ".tmp", "wb") as f:
            subprocess.run(["busybox", "cpio", "-o", "-H", "newc"], cwd=tmp, input=names.encode(),
                           stdout=f, stderr=subprocess.DEVNULL, check=True)
    os.rename(out + ".tmp", out)
    return out


def run(command, systemd=False, timeout=240, keep=None):
    """Run a shell command in a fresh guest. Returns (rc, output, job_dir); rc None = no result."""
    kernel, kdir = _kernel()
    initrd = _initramfs(kdir)
    job = keep or tempfile.mkdtemp(prefix="pyrunc-v2job-", dir="/var/tmp")
    shutil.copy(os.path.join(HERE, "stage2.sh"), os.path.join(job, "stage2.sh"))
    with open(os.path.join(job, "cmd"), "w") as f:
        f.write(command + "\n")
    if systemd:
        open(os.path.join(job, "systemd"), "w").close()
    qemu = ["qemu-system-x86_64", "-accel", "tcg,thread=multi", "-cpu", "max", "-m", "1536", "-smp", "2",
            "-nographic", "-no-reboot", "-display", "none", "-monitor", "none",
            "-serial", "file:" + os.path.join(job, "console.log"),
            "-kernel", kernel, "-initrd", initrd, "-append", CMDLINE,
            "-fsdev", "local,id=hostroot,path=/,security_model=passthrough,readonly=on,multidevs=remap",
            "-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot",
            "-fsdev", f"local,id=job,path={job},security_model=passthrough",
            "-device", "virtio-9p-pci,fsdev=job,mount_tag=job"]
    try:
        subprocess.run(qemu, timeout=timeout, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pass  # subprocess.run killed our qemu; the missing rc says so
    rc = _read(os.path.join(job, "rc"))
    out = _read(os.path.join(job, "output")) or ""
    return (int(rc) if rc and rc.strip().isdigit() else None), out, job


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--systemd", action="store_true")
    ap.add_argument("--timeout", type=int, default=240)
    ap.add_argument("command", nargs="+")
    a = ap.parse_args(argv)
    t = time.monotonic()
    rc, out, job = run(" ".join(a.command), a.systemd, a.timeout)
    sys.stdout.write(out)
    sys.stderr.write(f"[guest] rc={rc} wall={time.monotonic() - t:.1f}s job={job}\n")
    return 1 if rc is None else rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
