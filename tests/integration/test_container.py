"""What the container sees, checked from inside, with the same bundle under pyrunc and runc."""
import json
import os
import subprocess

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def run_out(runtime, bundle, script, setup=None):
    if setup:
        setup(bundle.config)
    bundle.sh(script).write()
    r = runtime("run", "--bundle", bundle.path, bundle.id)
    assert r.returncode == 0, r.stderr
    return r.stdout


def both(pyrunc, runc, bundle, tmp_path, script, setup=None):
    """Run the same script under both runtimes; return (pyrunc_out, runc_out)."""
    outs = []
    for rt, name in ((pyrunc, "p"), (runc, "r")):
        b = bundle.copy(str(tmp_path / f"bundle-{name}"), f"{bundle.id}{name}")
        if setup:
            setup(b.config)
        outs.append(run_out(rt, b, script))
    return outs


def test_identity_and_process_settings(pyrunc, runc, bundle, tmp_path):
    def setup(c):
        c["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [5, 65534],
                                "umask": 0o027}
        c["process"]["cwd"] = "/home/user"
        c["process"]["env"].append("FOO=bar")
        c["hostname"] = "box"
        c["process"]["oomScoreAdj"] = 500
    script = ("id; umask; pwd; echo $FOO $HOME; hostname; cat /proc/sys/kernel/domainname; "
              "cat /proc/self/oom_score_adj; grep -E '^(Cap|NoNewPrivs)' /proc/self/status")
    p, r = both(pyrunc, runc, bundle, tmp_path, script, setup)
    assert p == r
    assert "uid=1000(user) gid=1000(user) groups=5(tty),1000(user),65534(nogroup)" in p or \
        "uid=1000(user) gid=1000(user)" in p
    assert "0027" in p and "/home/user" in p and "bar /home/user" in p and "box" in p


def test_capabilities_all_sets(pyrunc, runc, bundle, tmp_path):
    def setup(c):
        caps = ["CAP_CHOWN", "CAP_NET_RAW", "CAP_SETPCAP"]
        c["process"]["capabilities"] = {"bounding": caps + ["CAP_KILL"], "effective": caps,
                                        "permitted": caps, "inheritable": ["CAP_NET_RAW"],
                                        "ambient": ["CAP_NET_RAW"]}
        c["process"]["user"] = {"uid": 1000, "gid": 1000}
    p, r = both(pyrunc, runc, bundle, tmp_path, "grep ^Cap /proc/self/status", setup)
    assert p == r
    assert "CapAmb:\t0000000000002000" in p  # CAP_NET_RAW (13)


def test_rlimits_and_nnp(pyrunc, runc, bundle, tmp_path):
    def setup(c):
        c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
                                   {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]
        c["process"]["noNewPrivileges"] = True
    p, r = both(pyrunc, runc, bundle, tmp_path,
                "grep -E 'open files|core file' /proc/self/limits; grep NoNewPrivs "
                "/proc/self/status", setup)
    assert p == r
    assert "NoNewPrivs:\t1" in p


def test_readonly_root_masked_and_readonly_paths(pyrunc, runc, bundle, tmp_path):
    script = ("touch /x 2>/dev/null && echo root-writable || echo root-ro; "
              "cat /proc/keys | wc -c; ls /sys/firmware | wc -l; "
              "echo 1 > /proc/sys/vm/drop_caches 2>/dev/null && echo sys-rw || echo sys-ro; "
              "touch /tmp/ok 2>/dev/null && echo tmp-rw || echo tmp-ro")
    p, r = both(pyrunc, runc, bundle, tmp_path, script)
    assert p == r
    assert p.split() == ["root-ro", "0", "0", "sys-ro", "tmp-ro"]


def test_mounts_and_options(pyrunc, runc, bundle, tmp_path):
    src = tmp_path / "shared"
    src.mkdir()
    (src / "file").write_text("from host\n")

    def setup(c):
        c["root"]["readonly"] = False
        c["mounts"] += [
            {"destination": "/data", "type": "bind", "source": str(src),
             "options": ["rbind", "ro", "nosuid"]},
            {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
             "options": ["nodev", "noexec", "size=1m", "mode=700"]},
            {"destination": "/etc/hostfile", "type": "bind", "source": str(src / "file"),
             "options": ["bind"]},
        ]
    script = ("cat /data/file; touch /data/new 2>/dev/null || echo data-ro; "
              "grep -E ' /(data|scratch|etc/hostfile) ' /proc/self/mountinfo | "
              "awk '{print $5, $6}' | sort; cat /etc/hostfile")
    p, r = both(pyrunc, runc, bundle, tmp_path, script, setup)
    assert p == r
    assert "from host" in p and "data-ro" in p
    # Differs from runc 1.1.5 on purpose: runc chmods a tmpfs over an existing directory to
    # that directory's mode, dropping the mode= option; pyrunc keeps what the config asks.
    out = run_out(pyrunc, bundle.copy(str(tmp_path / "b3"), bundle.id + "m"),
                  "stat -c %a /scratch", setup)
    assert out == "700\n"


def test_domainname(pyrunc, bundle):
    # runc 1.1.5 ignores "domainname" (added in runc 1.2); pyrunc sets it.
    bundle.config["domainname"] = "example.org"
    assert run_out(pyrunc, bundle, "cat /proc/sys/kernel/domainname") == "example.org\n"


def test_dev_nodes_and_links(pyrunc, runc, bundle, tmp_path):
    def setup(c):
        c["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10,
                                  "minor": 229, "fileMode": 0o600, "uid": 0, "gid": 0}]
    script = ("for d in null zero full random urandom tty fuse; do stat -c '%n %F %t:%T %a' "
              "/dev/$d; done; for l in fd stdin stdout stderr ptmx; do readlink /dev/$l; done")
    p, r = both(pyrunc, runc, bundle, tmp_path, script, setup)
    assert p == r


def test_ptmx_device_entry_becomes_link(pyrunc, runc, bundle, tmp_path):
    """linux.devices may list /dev/ptmx (ctr --privileged adds every host device); runc still
    makes /dev/ptmx the pts/ptmx link, and so does pyrunc."""
    outs = []
    for rt, name in ((pyrunc, "p"), (runc, "r")):
        b = bundle.copy(str(tmp_path / f"bundle-{name}"), f"pctr-ptmx-{os.getpid()}-{name}")
        b.config["linux"]["devices"] = [{"path": "/dev/ptmx", "type": "c", "major": 5,
                                         "minor": 2, "fileMode": 0o666, "uid": 0, "gid": 0}]
        outs.append(run_out(rt, b, "readlink /dev/ptmx"))  # `run` removes its cgroup
    assert outs == ["pts/ptmx\n", "pts/ptmx\n"]


def test_sysctl(pyrunc, runc, bundle, tmp_path):
    def setup(c):
        c["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"}
    p, r = both(pyrunc, runc, bundle, tmp_path,
                "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni", setup)
    assert p == r == "1\n1234\n"


def test_namespaces_new_and_host(pyrunc, runc, bundle, tmp_path):
    def setup(c):
        c["linux"]["namespaces"] = [{"type": t} for t in ("pid", "ipc", "uts", "mount")]
    script = "readlink /proc/self/ns/net; readlink /proc/self/ns/uts"
    p, r = both(pyrunc, runc, bundle, tmp_path, script, setup)
    host_net = os.readlink("/proc/self/ns/net")
    assert p.split()[0] == r.split()[0] == host_net
    assert p.split()[1] != os.readlink("/proc/self/ns/uts")


def test_every_new_namespace_holds_the_process(pyrunc, bundle):
    """Each asked-for namespace is the process's own, not only its children's: pid and time
    are the two that unshare() gives to children only (no stage process makes init here:
    clone3 does, with both)."""
    types = ("pid", "ipc", "uts", "mount", "network", "cgroup", "time")
    bundle.config["linux"]["namespaces"] = [{"type": t} for t in types]
    names = {"network": "net", "mount": "mnt"}
    script = "; ".join(f"readlink /proc/self/ns/{names.get(t, t)}" for t in types) + "; echo $$"
    out = run_out(pyrunc, bundle, script).split()
    assert out[-1] == "1"
    for t, got in zip(types, out):
        assert got != os.readlink(f"/proc/self/ns/{names.get(t, t)}"), t


def test_join_namespace_by_path(pyrunc, bundle, tmp_path):
    holder = subprocess.Popen(["unshare", "--uts", "sh", "-c", "hostname joined; sleep 60"])
    try:
        import time
        for _ in range(50):
            if os.readlink(f"/proc/{holder.pid}/ns/uts") != os.readlink("/proc/self/ns/uts"):
                break
            time.sleep(0.02)
        time.sleep(0.1)
        bundle.config["linux"]["namespaces"] = [
            {"type": "pid"}, {"type": "mount"}, {"type": "network"}, {"type": "ipc"},
            {"type": "uts", "path": f"/proc/{holder.pid}/ns/uts"}]
        bundle.config.pop("hostname")
        out = run_out(pyrunc, bundle, "hostname")
        assert out == "joined\n"
    finally:
        holder.kill()
        holder.wait()


def test_loopback_is_up_in_new_netns(pyrunc, runc, bundle, tmp_path):
    p, r = both(pyrunc, runc, bundle, tmp_path, "cat /sys/class/net/lo/operstate; "
                "cat /sys/class/net/lo/flags")
    assert p == r


def test_no_pivot(pyrunc, bundle):
    bundle.sh("cat /proc/self/mountinfo | awk '$5 == \"/\" {print $5}' | head -1").write()
    r = pyrunc("run", "--no-pivot", "--bundle", bundle.path, bundle.id)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "/\n"


def test_parked_init_is_not_a_host_binary(pyrunc, bundle):
    """While created, PID 1 is the sealed helper, not the host python (CVE-2019-5736)."""
    bundle.args("sleep", "100").write()
    pyrunc("create", "--bundle", bundle.path, bundle.id, check=True)
    pid = json.loads(pyrunc("state", bundle.id).stdout)["pid"]
    exe = os.readlink(f"/proc/{pid}/exe")
    assert exe.startswith("/memfd:pyrunc-init")
    import errno
    try:
        fd = os.open(f"/proc/{pid}/exe", os.O_WRONLY)
    except OSError as e:
        assert e.errno in (errno.ETXTBSY, errno.EPERM, errno.EACCES)
    else:
        os.close(fd)
        raise AssertionError("the parked init's executable is writable")
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))
    assert rss < 1024  # kB: a parked container costs well under 1 MiB


def test_signals_reset_to_default(pyrunc, bundle):
    """Nothing ignored or blocked, whatever the caller had (Python ignores SIGPIPE and
    SIGXFSZ; a caller may ignore the libc-reserved signals 32-34, which runc 1.1 passes on)."""
    import subprocess
    bundle.args("grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status").write()
    r = subprocess.run(pyrunc.cmd("run", "--bundle", bundle.path, bundle.id),
                       capture_output=True, text=True, timeout=30,
                       preexec_fn=lambda: __import__("signal").signal(13, 1))
    assert r.stdout == "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n", r.stderr
