"""Cost of the shim next to containerd-shim-runc-v2: `ctr run` latency and per-shim memory.

Usage (root): python tests/shim/bench_cost.py [rounds]. Runs are interleaved (ours, runc's,
ours, ...) and medians reported, because absolute times drift on this kind of machine.
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import conftest  # noqa: E402
import helpers  # noqa: E402


def mem(pid):
    rss = pss = 0
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss / 1024, pss / 1024


def shim_of(ctd, cid):
    for pid in ctd.shim_pids():
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            if cid.encode() in f.read().split(b"\0"):
                return pid
    return None


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    work = tempfile.mkdtemp(prefix="pyrunc-shim-bench-")
    bindir = os.path.join(work, "bin")
    os.makedirs(bindir)
    shim = helpers.make_shim_bin(bindir, conftest.PKG_ROOT)
    rootfs = helpers.make_rootfs(os.path.join(work, "rootfs"))
    ctd = helpers.Containerd(os.path.join(work, "ctd"), "/usr/sbin/runc", shim).start()
    runtimes = {"pyrunc-shim": shim, "runc-shim": "io.containerd.runc.v2"}
    times = {k: [] for k in runtimes}
    try:
        for i in range(rounds + 1):
            for name, rt in runtimes.items():
                cid = "b%s%d" % (name[0], i)
                t0 = time.monotonic()
                ctd.ctr("run", "--rm", "--runtime", rt, "--cgroup", "%s/%s" % (helpers.CGROUP_PARENT, cid),
                        "--rootfs", rootfs, cid, "/bin/true")
                if i:  # the first round warms caches
                    times[name].append(time.monotonic() - t0)
        mems = {k: [] for k in runtimes}
        for i in range(3):
            for name, rt in runtimes.items():
                cid = "m%s%d" % (name[0], i)
                ctd.ctr("run", "-d", "--runtime", rt, "--cgroup", "%s/%s" % (helpers.CGROUP_PARENT, cid),
                        "--rootfs", rootfs, cid, "/bin/sleep", "100")
                ctd.ctr("task", "exec", "--exec-id", "x", cid, "/bin/true")
                ctd.ctr("task", "metrics", cid)
                mems[name].append(mem(shim_of(ctd, cid)))
        for name in runtimes:
            rss = statistics.median(m[0] for m in mems[name])
            pss = statistics.median(m[1] for m in mems[name])
            print("%-12s ctr run median %.1f ms (n=%d)  shim RSS %.1f MiB  PSS %.1f MiB"
                  % (name, 1000 * statistics.median(times[name]), len(times[name]), rss, pss))
        ratio = statistics.median(times["pyrunc-shim"]) / statistics.median(times["runc-shim"])
        print("latency ratio pyrunc-shim/runc-shim: %.2fx" % ratio)
    finally:
        ctd.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
