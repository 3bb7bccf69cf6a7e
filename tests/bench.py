"""`make bench`: pyrunc vs runc (and crun, in a private mount namespace) side by side.

Interleaved runs (A B C A B C ...) so that machine noise hits every runtime alike; prints
medians and ratios. Not a test: timings on this machine drift 20-30% from run to run.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

CRUN_WRAP = ["unshare", "-m", "--propagation", "private", "sh", "-c",
             'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$@"', "x"]


def config(rootfs, args, cgpath, version):
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "runtime"))
    c = {
        "ociVersion": version,
        "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": args,
                    "env": ["PATH=/bin:/usr/bin"], "cwd": "/",
                    "capabilities": {k: ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
                                     for k in ("bounding", "effective", "permitted")},
                    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
                    "noNewPrivileges": True},
        "root": {"path": rootfs, "readonly": True},
        "hostname": "bench",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
        ],
        "linux": {"namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts",
                                                        "mount")],
                  "cgroupsPath": cgpath,
                  "maskedPaths": ["/proc/kcore", "/proc/keys", "/sys/firmware"],
                  "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"]},
    }
    return c


class RT:
    def __init__(self, name, binary, wrap, root, version):
        self.name, self.binary, self.wrap, self.root, self.version = name, binary, wrap, root, version

    def cmd(self, *args):
        return self.wrap + [self.binary, "--root", self.root] + list(args)

    def run(self, *args):
        # stderr to a file, not a pipe: a created container keeps create's stdio open.
        with tempfile.TemporaryFile() as err:
            t = time.perf_counter()
            r = subprocess.run(self.cmd(*args), stdout=subprocess.DEVNULL, stderr=err)
            dt = time.perf_counter() - t
            if r.returncode not in (0,):
                err.seek(0)
                raise RuntimeError(f"{self.name} {args}: {err.read().decode().strip()}")
        return dt


def bundle(tmp, rt, rootfs, cid, args):
    d = os.path.join(tmp, f"{rt.name}-{cid}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config(rootfs, args, f"/pyrunc-bench-{os.getpid()}/{rt.name}-{cid}", rt.version), f)
    return d


def uss_kib(pid):
    total = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith(("Private_Clean", "Private_Dirty")):
                    total += int(line.split()[1])
    except OSError:
        return None
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pyrunc", required=True)
    ap.add_argument("--rootfs", required=True)
    ap.add_argument("-n", type=int, default=30)
    ap.add_argument("--list-size", type=int, default=50)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="pyrunc-bench-")
    rts = [RT("pyrunc", a.pyrunc, [], os.path.join(tmp, "root-pyrunc"), "1.3.0"),
           RT("runc", shutil.which("runc") or "/usr/sbin/runc", [],
              os.path.join(tmp, "root-runc"), "1.1.0")]
    crun = shutil.which("crun")
    if crun:
        rts.append(RT("crun", crun, CRUN_WRAP, os.path.join(tmp, "root-crun"), "1.1.0"))
    rootfs = os.path.abspath(a.rootfs)
    res = {rt.name: {} for rt in rts}

    def add(rt, key, v):
        res[rt.name].setdefault(key, []).append(v)

    wrap_times = []

    def wrapper():
        # crun's wrapper alone (unshare, sh, umount, exec of /bin/true), timed in the same
        # loop: its median is subtracted from crun's figures, so crun is not charged ~3 ms
        # of wrapper per command.
        if crun:
            t = time.perf_counter()
            subprocess.run(CRUN_WRAP + ["/bin/true"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            wrap_times.append(time.perf_counter() - t)

    try:
        for i in range(a.n):
            for rt in rts:
                b = bundle(tmp, rt, rootfs, f"t{i}", ["/bin/true"])
                add(rt, "run /bin/true", rt.run("run", "--bundle", b, f"t{i}"))
                b = bundle(tmp, rt, rootfs, f"s{i}", ["/bin/sleep", "100"])
                add(rt, "create", rt.run("create", "--bundle", b, f"s{i}"))
                add(rt, "state", rt.run("state", f"s{i}"))
                add(rt, "start", rt.run("start", f"s{i}"))
                add(rt, "exec /bin/true", rt.run("exec", f"s{i}", "/bin/true"))
                add(rt, "kill", rt.run("kill", f"s{i}", "KILL"))
                time.sleep(0.01)
                add(rt, "delete", rt.run("delete", f"s{i}"))
            wrapper()
        # list with N containers parked in created state, plus their memory.
        for rt in rts:
            for j in range(a.list_size):
                b = bundle(tmp, rt, rootfs, f"l{j}", ["/bin/sleep", "100"])
                rt.run("create", "--bundle", b, f"l{j}")
        for _ in range(max(5, a.n // 3)):
            for rt in rts:
                add(rt, f"list ({a.list_size} containers)", rt.run("list"))
            wrapper()
        for rt in rts:
            out = subprocess.run(rt.cmd("list", "--format", "json"), capture_output=True,
                                 text=True).stdout
            pids = [c["pid"] for c in json.loads(out or "null") or []]
            uss = [uss_kib(p) for p in pids]
            uss = [u for u in uss if u is not None]
            if uss:
                res[rt.name]["parked USS (KiB)"] = [statistics.median(uss) / 1000]
            rss = []
            for p in pids:
                try:
                    with open(f"/proc/{p}/status") as f:
                        rss += [int(x.split()[1]) for x in f if x.startswith("VmRSS")]
                except OSError:
                    pass
            if rss:
                res[rt.name]["parked RSS (KiB)"] = [statistics.median(rss) / 1000]
    finally:
        for rt in rts:
            ids = subprocess.run(rt.cmd("list", "-q"), capture_output=True, text=True).stdout
            for cid in ids.split():
                subprocess.run(rt.cmd("delete", "--force", cid), capture_output=True)
        for ctrl in os.listdir("/sys/fs/cgroup"):
            p = os.path.join("/sys/fs/cgroup", ctrl, f"pyrunc-bench-{os.getpid()}")
            if os.path.isdir(p):
                for d in os.listdir(p):
                    if os.path.isdir(os.path.join(p, d)):
                        try:
                            os.rmdir(os.path.join(p, d))
                        except OSError:
                            pass
                try:
                    os.rmdir(p)
                except OSError:
                    pass
        shutil.rmtree(tmp, ignore_errors=True)
    names = [rt.name for rt in rts]
    wrap_ms = statistics.median(wrap_times) * 1000 if wrap_times else 0.0
    head = f"{'operation':<28}" + "".join(f"{n + ('*' if n == 'crun' else ''):>12}" for n in names)
    head += "".join(f"{'pyrunc/' + n:>14}" for n in names[1:])
    print(head)
    for key in res["pyrunc"]:
        med = {n: statistics.median(res[n][key]) * 1000 for n in names if key in res[n]}
        if "crun" in med and "KiB" not in key:
            med["crun"] -= wrap_ms
        unit = "" if "KiB" in key else " ms"
        row = f"{key:<28}" + "".join(f"{med.get(n, float('nan')):>9.2f}{unit or '   '}"
                                     for n in names)
        row += "".join(f"{med['pyrunc'] / med[n]:>13.2f}x" for n in names[1:] if n in med)
        print(row)
    if wrap_times:
        print(f"* crun runs in a private mount namespace without the unified mount (it refuses "
              f"this hybrid host); that wrapper's own median, {wrap_ms:.2f} ms, is subtracted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
