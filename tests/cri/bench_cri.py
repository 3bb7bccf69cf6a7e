#!/usr/bin/env python3
"""Time the CRI flow of one pod with one container through each runtime handler.

Not a test. One private containerd (as in the tests) serves all handlers; rounds are
interleaved (pyrunc, pyrunc-shim, runc, pyrunc, ...) so machine load hits all alike.
Per round: RunPodSandbox, PodSandboxStatus, CreateContainer, StartContainer, ContainerStatus,
ExecSync, StopContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox.

Usage (as root, after `make install`):
    .venv/bin/python tests/cri/bench_cri.py [ROUNDS]       # default 10, plus one warm-up each
"""
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cri  # noqa: E402
import crienv as env  # noqa: E402

CALLS = ("RunPodSandbox", "PodSandboxStatus", "CreateContainer", "StartContainer",
         "ContainerStatus", "ExecSync", "StopContainer", "RemoveContainer", "StopPodSandbox",
         "RemovePodSandbox")
# Exits at once on SIGTERM (a trapped signal interrupts `wait`), so StopContainer measures the
# runtime, not a grace period.
COMMAND = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]


def one_flow(client, ctd, handler, image_id, n):
    t = {}

    def timed(name, fn, *args):
        t0 = time.perf_counter()
        out = fn(*args)
        t[name] = time.perf_counter() - t0
        return out

    begin = time.perf_counter()
    config = client.pod_config("pcri-bench-%s-%d" % (handler, n), "pcri-bench",
                               os.path.join(ctd.base, "logs"), env.CGROUP_ROOT)
    pod = timed("RunPodSandbox", client.run_pod, config, handler)
    timed("PodSandboxStatus", client.pod_status, pod)
    cc = client.container_config(config, "main", image_id, COMMAND)
    cid = timed("CreateContainer", client.create_container, pod, cc, config)
    timed("StartContainer", client.start_container, cid)
    timed("ContainerStatus", client.container_status, cid)
    r = timed("ExecSync", client.exec_sync, cid, ["echo", "ok"])
    assert r.stdout == b"ok\n", r
    timed("StopContainer", client.stop_container, cid, 30)
    timed("RemoveContainer", client.remove_container, cid)
    timed("StopPodSandbox", client.stop_pod, pod)
    timed("RemovePodSandbox", client.remove_pod, pod)
    t["total"] = time.perf_counter() - begin
    env.remove_cgroups(config.linux.cgroup_parent)
    return t


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    if env.link_exists(env.BRIDGE):
        sys.exit("bridge %s exists (a test run in progress?)" % env.BRIDGE)
    base = tempfile.mkdtemp(prefix="pcri-bench-", dir="/tmp")
    ctd = env.CRIContainerd(base)
    results = {h: [] for h in env.HANDLERS}
    try:
        ctd.start()
        ctd.import_images()
        client = cri.Client(ctd.socket)
        client.wait_ready()
        image_id = client.image_status(env.BUSYBOX_IMAGE).id
        for n in range(rounds + 1):
            for h in env.HANDLERS:
                t = one_flow(client, ctd, h, image_id, n)
                if n:  # round 0 warms caches and starts nothing we measure
                    results[h].append(t)
        client.close()
    finally:
        ctd.stop()
        for pid in ctd.shim_pids():
            os.kill(pid, 9)
        env.unmount_under(base)
        env.remove_cgroups(env.CGROUP_ROOT)
        env.delete_bridge()
        shutil.rmtree(base, ignore_errors=True)

    med = {h: {k: statistics.median(t[k] for t in results[h]) for k in CALLS + ("total",)}
           for h in env.HANDLERS}
    print("CRI flow, one pod one container, %d interleaved rounds, medians in ms "
          "(ratio vs runc)" % rounds)
    print("%-18s" % "call" + "".join("%22s" % h for h in env.HANDLERS))
    for k in CALLS + ("total",):
        cells = []
        for h in env.HANDLERS:
            v = med[h][k] * 1000
            ratio = med[h][k] / med["runc"][k] if med["runc"][k] else float("nan")
            cells.append("%22s" % ("%.1f (%.2fx)" % (v, ratio)))
        print("%-18s" % k + "".join(cells))


if __name__ == "__main__":
    main()
