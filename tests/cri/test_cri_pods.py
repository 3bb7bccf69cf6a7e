"""Kubernetes node path: CRI (as kubelet speaks it) -> containerd -> runtime handler -> runtime.

Every test runs with the handlers `pyrunc` (containerd's runc shim driving pyrunc),
`pyrunc-shim` (containerd-shim-pyrunc-v1 driving pyrunc) and `runc` (the reference).
"""
import datetime
import ipaddress
import json
import os
import re
import time

import pytest

from conftest import MISSING, wait_state
import crienv as env
from cri import CRIError

pytestmark = pytest.mark.skipif(bool(MISSING), reason=MISSING or "")

MiB = 1 << 20
LOG_LINE = re.compile(r"^(\S+) (stdout|stderr) ([FP]) (.*)$")
# containerd's default capability set for non-privileged containers: CHOWN DAC_OVERRIDE FOWNER
# FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
DEFAULT_CAPS = "00000000a80425fb"


def exec_ok(client, cid, *cmd, timeout=30):
    r = client.exec_sync(cid, cmd, timeout=timeout)
    assert r.exit_code == 0, "%s: exit %d, stderr %r" % (cmd, r.exit_code, r.stderr)
    return r.stdout.decode()


def poll_exec(client, cid, cmd, want, timeout=30):
    """Retry a command until its stdout contains `want` (servers need a moment to listen)."""
    deadline = time.monotonic() + timeout
    while True:
        r = client.exec_sync(cid, cmd, timeout=10)
        if r.exit_code == 0 and want in r.stdout.decode():
            return r
        if time.monotonic() > deadline:
            raise AssertionError("%s never gave %r: exit %d, %r %r"
                                 % (cmd, want, r.exit_code, r.stdout, r.stderr))
        time.sleep(0.2)


def read_log(path):
    """CRI log lines as (time, stream, tag, text); every line must be in CRI format."""
    out = []
    with open(path) as f:
        for line in f.read().splitlines():
            m = LOG_LINE.match(line)
            assert m, "not a CRI log line: %r" % line
            out.append(m.groups())
    return out


def wait_log(path, text, timeout=30):
    def found():
        try:
            return any(t == text for _, _, _, t in read_log(path))
        except FileNotFoundError:
            return False
    assert env.wait_for(found, timeout), "%r never logged in %s" % (text, path)


def container_pid(client, cid):
    info = client.container_status(cid, verbose=True).info
    return json.loads(info["info"])["pid"]


def test_version_status_image(client):
    v = client.version()
    assert v.runtime_name == "containerd" and v.runtime_api_version == "v1"
    conds = {c.type: c.status for c in client.status().status.conditions}
    assert conds["RuntimeReady"] and conds["NetworkReady"]
    img = client.image_status(env.BUSYBOX_IMAGE)
    assert env.BUSYBOX_IMAGE in img.repo_tags and img.size > 0
    assert not client.image_status("pyrunc.test/pcri-absent:1").id  # absent: no image, no error


def test_pod_network_exec_logs_resources(client, pods, handler):
    pb = client.pb
    web_pod = pods.run("web")
    other_pod = pods.run("other")
    web = pods.container(web_pod, "web", ["sh", "-c",
                         "echo web-out; echo web-err >&2; mkdir -p /www; "
                         "echo pcri-hello > /www/index.html; exec httpd -f -p 8080 -h /www"],
                         memory=48 * MiB, cpu_quota=50000, cpu_shares=512, oom_score_adj=900)
    sidecar = pods.container(web_pod, "sidecar", ["sleep", "3600"])
    probe = pods.container(other_pod, "probe", ["sleep", "3600"])

    # The pod is ready, on our handler, with an address on the bridge's subnet.
    st = client.pod_status(web_pod[0]).status
    assert st.state == pb.SANDBOX_READY
    assert st.runtime_handler == handler
    ip = ipaddress.ip_address(st.network.ip)
    assert ip in ipaddress.ip_network(env.SUBNET)
    other_ip = client.pod_status(other_pod[0]).status.network.ip
    assert other_ip and other_ip != st.network.ip
    listed = {c.metadata.name: c.state for c in client.list_containers(web_pod[0])}
    assert listed == {"web": pb.CONTAINER_RUNNING, "sidecar": pb.CONTAINER_RUNNING}
    assert {p.id for p in client.list_pods({"io.kubernetes.pod.namespace": "pcri-ns"})} >= \
        {web_pod[0], other_pod[0]}

    # Containers of one pod share the network namespace: localhost reaches the web server.
    poll_exec(client, sidecar, ["wget", "-q", "-O-", "http://127.0.0.1:8080/"], "pcri-hello")
    # Another pod reaches it by the pod IP (over the bridge, no NAT).
    poll_exec(client, probe, ["wget", "-q", "-O-", "http://%s:8080/" % ip], "pcri-hello")
    assert exec_ok(client, probe, "hostname").strip() == other_pod[1].hostname
    assert "nameserver 10.96.0.10" in exec_ok(client, probe, "cat", "/etc/resolv.conf")

    # ExecSync: stdout, stderr and the exit code come back separately.
    r = client.exec_sync(sidecar, ["sh", "-c", "echo out; echo err >&2; exit 7"])
    assert (r.stdout, r.stderr, r.exit_code) == (b"out\n", b"err\n", 7)
    # A missing binary is an error of the call (the runtime's exec fails), not an exit code.
    with pytest.raises(CRIError) as err:
        client.exec_sync(sidecar, ["/pcri-no-such-binary"])
    assert "/pcri-no-such-binary" in err.value.details
    assert "no such file or directory" in err.value.details

    # Logs in CRI format: "RFC3339NANO STREAM F TEXT".
    log = pods.log_path(web_pod, "web")
    wait_log(log, "web-err")
    lines = read_log(log)
    assert ("stdout", "F", "web-out") in [l[1:] for l in lines]
    assert ("stderr", "F", "web-err") in [l[1:] for l in lines]
    for ts, _, _, _ in lines:
        datetime.datetime.fromisoformat(ts[:26] + "+00:00" if ts.endswith("Z") else ts)
    assert client.container_status(web).status.log_path == log

    # Resource limits, as the container sees its v1 cgroups ...
    assert exec_ok(client, web, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes").strip() \
        == str(48 * MiB)
    assert exec_ok(client, web, "cat", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us").strip() == "50000"
    assert exec_ok(client, web, "cat", "/sys/fs/cgroup/cpu/cpu.cfs_period_us").strip() == "100000"
    assert exec_ok(client, web, "cat", "/sys/fs/cgroup/cpu/cpu.shares").strip() == "512"
    # ... and as the host sees them: the container's cgroup is under the pod's cgroup parent.
    pid = container_pid(client, web)
    with open("/proc/%d/cgroup" % pid) as f:
        paths = dict((l.split(":")[1], l.split(":")[2].strip()) for l in f if l.strip())
    memory_path = paths["memory"]
    assert memory_path.startswith(web_pod[1].linux.cgroup_parent + "/")
    with open("/sys/fs/cgroup/memory%s/memory.limit_in_bytes" % memory_path) as f:
        assert int(f.read()) == 48 * MiB
    with open("/proc/%d/oom_score_adj" % pid) as f:
        assert int(f.read()) == 900

    # The security context kubelet sends: RuntimeDefault seccomp, default capabilities,
    # masked and read-only paths.
    status = exec_ok(client, sidecar, "cat", "/proc/self/status")
    assert re.search(r"^Seccomp:\s+2$", status, re.M), status
    assert re.search(r"^CapBnd:\s+%s$" % DEFAULT_CAPS, status, re.M), status
    assert re.search(r"^CapEff:\s+%s$" % DEFAULT_CAPS, status, re.M), status
    mounts = [l.split() for l in exec_ok(client, sidecar, "cat", "/proc/self/mounts").splitlines()]
    by_target = {m[1]: m for m in mounts}
    assert by_target["/proc/sys"][3].split(",")[0] == "ro"
    assert by_target["/sys/firmware"][2] == "tmpfs"
    assert by_target["/proc/acpi"][2] == "tmpfs"
    # A masked file is /dev/null (this kernel has no /proc/kcore; /proc/timer_list is there).
    assert exec_ok(client, sidecar, "wc", "-c", "/proc/timer_list").split()[0] == "0"
    r = client.exec_sync(sidecar, ["sh", "-c", "echo 1 > /proc/sys/kernel/ns_last_pid"])
    assert r.exit_code != 0
    # No user namespace, root in the container; the rootfs is writable.
    assert exec_ok(client, sidecar, "id", "-u").strip() == "0"
    exec_ok(client, sidecar, "touch", "/pcri-written")


def test_security_context_sysctl_mounts(client, pods, tmp_path):
    """A restricted container as a Pod securityContext makes it (runAsUser, readOnlyRootFilesystem,
    drop ALL + NET_BIND_SERVICE, allowPrivilegeEscalation false), a pod sysctl, and the bind
    mounts kubelet adds (its /etc/hosts file and the termination log)."""
    # The pod sysctl lands in the sandbox spec, which joins containerd's pinned netns by path:
    # pyrunc refused net.* sysctls for a namespace given by path until this was fixed (runc
    # accepts any network namespace but the host's).
    pod = pods.run("secure", sysctls={"net.ipv4.ip_unprivileged_port_start": "80"})
    hosts = tmp_path / "etc-hosts"
    hosts.write_text("127.0.0.1\tlocalhost\n10.217.83.250\tpcri-svc\n")
    term = tmp_path / "termination-log"
    term.write_text("")
    term.chmod(0o666)
    mounts = [("/etc/hosts", str(hosts), False), ("/dev/termination-log", str(term), False)]
    plain = pods.container(pod, "plain", ["sleep", "3600"], mounts=mounts)

    def restrict(cc):
        sc = cc.linux.security_context
        sc.run_as_user.value = 1000
        sc.readonly_rootfs = True
        sc.no_new_privs = True
        sc.capabilities.drop_capabilities.append("ALL")
        sc.capabilities.add_capabilities.append("NET_BIND_SERVICE")
    restricted = pods.container(pod, "restricted", ["sleep", "3600"], mounts=mounts,
                                amend=restrict)

    assert exec_ok(client, plain, "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start").strip() \
        == "80"
    assert exec_ok(client, restricted, "id").strip() == \
        "uid=1000(user) gid=1000(user) groups=1000(user)"
    status = exec_ok(client, restricted, "cat", "/proc/self/status")
    assert re.search(r"^CapEff:\s+0+$", status, re.M), status
    assert re.search(r"^CapBnd:\s+0+400$", status, re.M), status  # NET_BIND_SERVICE only
    assert re.search(r"^NoNewPrivs:\s+1$", status, re.M), status
    r = client.exec_sync(restricted, ["touch", "/pcri-file"])
    assert r.exit_code != 0 and b"Read-only file system" in r.stderr
    assert "pcri-svc" in exec_ok(client, restricted, "cat", "/etc/hosts")
    exec_ok(client, restricted, "sh", "-c", "echo pcri-bye > /dev/termination-log")
    assert term.read_text() == "pcri-bye\n"
    # The pod sysctl lets uid 1000 (CapEff 0 after the uid switch) listen on port 80.
    r = client.exec_sync(restricted, ["timeout", "1", "nc", "-l", "-p", "80"])
    assert b"Permission denied" not in r.stderr and b"in use" not in r.stderr, r.stderr


def test_shared_pid_and_host_network(client, pods):
    pb = client.pb
    # shareProcessNamespace: the pause process is PID 1 and the containers see each other.
    shared = pods.run("sharepid", share_pid=True)
    a = pods.container(shared, "a", ["sleep", "3601"])
    pods.container(shared, "b", ["sleep", "3602"])
    ps = exec_ok(client, a, "ps", "-o", "pid,args")
    assert re.search(r"^\s*1 /bin/sleep 2147483647$", ps, re.M), ps  # the pause image
    assert "sleep 3601" in ps and "sleep 3602" in ps, ps
    # hostNetwork: no CNI, the node's interfaces and hostname.
    host = pods.run("hostnet", host_network=True)
    h = pods.container(host, "h", ["sleep", "3600"])
    assert client.pod_status(host[0]).status.state == pb.SANDBOX_READY
    assert exec_ok(client, h, "readlink", "/proc/self/ns/net").strip() == \
        os.readlink("/proc/self/ns/net")
    assert exec_ok(client, h, "hostname").strip() == os.uname().nodename


def test_stop_grace_period(client, pods):
    pb = client.pb
    pod = pods.run("stop")
    trap = pods.container(pod, "trap", ["sh", "-c",
                          "trap 'echo got-term; exit 0' TERM; echo ready; "
                          "while true; do sleep 0.2; done"])
    stubborn = pods.container(pod, "stubborn", ["sh", "-c",
                              "trap '' TERM; echo ready; while true; do sleep 0.2; done"])
    wait_log(pods.log_path(pod, "trap"), "ready")
    wait_log(pods.log_path(pod, "stubborn"), "ready")

    # A process that handles SIGTERM: StopContainer returns as soon as it has exited.
    t0 = time.monotonic()
    client.stop_container(trap, 30)
    took = time.monotonic() - t0
    st = client.container_status(trap).status
    assert st.state == pb.CONTAINER_EXITED
    assert st.exit_code == 0
    assert took < 10, "stop with a SIGTERM trap took %.1fs" % took
    wait_log(pods.log_path(pod, "trap"), "got-term")

    # A process that ignores SIGTERM: the grace period runs out, then SIGKILL.
    grace = 3
    t0 = time.monotonic()
    client.stop_container(stubborn, grace)
    took = time.monotonic() - t0
    st = client.container_status(stubborn).status
    assert st.state == pb.CONTAINER_EXITED
    assert st.exit_code == 137
    assert grace - 0.5 <= took < grace + 15, "stop took %.1fs with grace %ds" % (took, grace)
    assert st.finished_at > st.started_at > 0


def test_start_failure_reports_runtime_error(client, pods, handler):
    pb = client.pb
    pod = pods.run("fail")
    cid = pods.container(pod, "broken", ["/pcri-nonexistent"], start=False)
    with pytest.raises(CRIError) as err:
        client.start_container(cid)
    msg = err.value.details
    # The runtime's own one-line reason reaches the CRI client (through log.json and the shim),
    # not containerd's fallback "unable to retrieve OCI runtime error".
    assert "/pcri-nonexistent" in msg, msg
    assert "no such file or directory" in msg.lower(), msg
    assert "\n" not in msg
    assert "unable to retrieve OCI runtime error" not in msg
    st = wait_state(client, cid, pb.CONTAINER_EXITED)
    assert st.state == pb.CONTAINER_EXITED
    assert st.reason == "StartError"
    assert "/pcri-nonexistent" in st.message
    # The pod itself is unaffected.
    assert client.pod_status(pod[0]).status.state == pb.SANDBOX_READY
