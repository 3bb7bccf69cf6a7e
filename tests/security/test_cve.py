"""Known container-runtime escapes, each attempted for real from inside a container, against
pyrunc and /usr/sbin/runc 1.1.5. The attacks only *try*: where a try succeeds it proves
the hole without changing a host file (see attack.c). Classes published after runc 1.1.5
are expected failures for runc (xfail, not strict). Results: tests/security/README.md.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

from rtsupport import CG_PARENT, PYRUNC, RUNC, ROOTFS, Bundle, remove_empty_cgroups

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
HERE = os.path.dirname(os.path.abspath(__file__))


def after_runc_115(request, runtime, cve):
    """runc 1.1.5 predates the fix of `cve`: its failure is expected."""
    if runtime.name == "runc":
        request.applymarker(pytest.mark.xfail(strict=False, reason=f"{cve}: fixed after "
                                              "runc 1.1.5"))


@pytest.fixture(scope="session")
def attack_bin(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("pcve-attack") / "attack")
    for cc in (["musl-gcc", "-static"], ["gcc", "-static"]):
        if shutil.which(cc[0]):
            subprocess.run(cc + ["-O1", "-o", out, os.path.join(HERE, "attack.c")], check=True)
            return out
    pytest.skip("no C compiler for the attack helper")


@pytest.fixture
def box(tmp_path):
    """Make bundles with pcve- ids over private rootfs copies; clean their cgroups."""
    made = []

    class Box:
        def rootfs(self, name="rootfs"):
            path = str(tmp_path / name)
            if not os.path.exists(path):
                subprocess.run(["cp", "-a", ROOTFS, path], check=True)
            return path

        def bundle(self, name, rootfs=None, script=None):
            cid = f"pcve-{os.getpid()}-{len(made)}-{name}"
            b = Bundle(str(tmp_path / f"bundle-{name}"), cid)
            b.config["root"]["path"] = rootfs or ROOTFS
            if script is not None:
                b.sh(script)
            made.append(cid)
            return b

    yield Box()
    for cid in made:
        remove_empty_cgroups(f"/{CG_PARENT}/{cid}")


def clean_failure(runtime, r, cid):
    """A refused container: exit 1, a one-line error, nothing left in the state dir."""
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "level=error" in r.stderr and r.stdout == "", (r.stdout, r.stderr)  # never ran
    assert cid not in runtime.ids()


def run(runtime, b, *extra, timeout=30):
    b.write()
    return runtime("run", "--bundle", b.path, *extra, b.id, timeout=timeout)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def host_binaries():
    paths = {os.path.realpath(sys.executable), os.path.realpath(PYRUNC), PYRUNC,
             os.path.realpath(RUNC)}
    return {p: sha256(p) for p in paths if os.path.isfile(p)}


def wait_for(pred, timeout=15):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


# --- CVE-2019-5736 (host binary overwrite) and CVE-2016-9962 (ptrace of the setup process)


def test_cve_2019_5736_2016_9962_runtime_processes_out_of_reach(runtime, box, tmp_path,
                                                                  attack_bin):
    """An attacker container watches its /proc while the runtime execs into it and while
    a second container is created and started in its PID namespace: every runtime process
    it sees must be non-dumpable (no /proc/PID/exe to a host file, no ptrace, no fds), and
    the host python3, the pyrunc launcher and runc are unchanged."""
    before = host_binaries()
    rootfs = box.rootfs()
    shutil.copy(attack_bin, os.path.join(rootfs, "attack"))
    out = tmp_path / "out"
    out.mkdir()
    log = out / "log"
    a = box.bundle("prowl", rootfs)
    a.args("/attack", "prowl", "60", "/out/log")
    a.config["mounts"].append({"destination": "/out", "type": "bind", "source": str(out),
                               "options": ["rbind", "rw"]})
    a.write()
    assert runtime("create", "--bundle", a.path, a.id).returncode == 0
    assert runtime("start", a.id).returncode == 0
    assert wait_for(lambda: log.exists() and "READY" in log.read_text())
    pid_a = json.loads(runtime("state", a.id).stdout)["pid"]

    def seen():
        return any(line.split()[0] in ("SEEN", "NODUMP")
                   for line in log.read_text().splitlines())

    # exec: the processes that enter the container (pyrunc's tenant, runc's runc init)
    for i in range(20):
        r = runtime("exec", a.id, "sh", "-c", "true")
        assert r.returncode == 0, r.stderr
        if i >= 4 and seen():
            break
    # create + start of a container in the attacker's PID namespace
    b = box.bundle("victim", rootfs, "true")
    for ns in b.config["linux"]["namespaces"]:
        if ns["type"] == "pid":
            ns["path"] = f"/proc/{pid_a}/ns/pid"
    b.write()
    r = runtime("create", "--bundle", b.path, b.id)
    assert r.returncode == 0, r.stderr
    time.sleep(0.3)  # parked in "created": visible to the attacker
    assert runtime("start", b.id).returncode == 0
    time.sleep(0.3)
    runtime("delete", "--force", b.id)
    runtime("kill", a.id, "KILL")
    lines = log.read_text().splitlines()
    runtime("delete", "--force", a.id)
    bad = [ln for ln in lines if ln.split()[0] in ("EXEOPEN", "WRITE", "PTRACE", "FD")]
    assert not bad, "\n".join(lines)
    assert seen(), "the attacker never saw a runtime process:\n" + "\n".join(lines)
    assert host_binaries() == before


# --- CVE-2024-21626 (leaked fds, cwd through /proc/self/fd/N)


def test_cve_2024_21626_only_stdio_reaches_the_container(runtime, box):
    b = box.bundle("fds", script="sleep 30")
    b.write()
    assert runtime("run", "-d", "--bundle", b.path, b.id).returncode == 0
    # `ls` in a child of the shell lists the shell's fds (`; true`: no exec of the last
    # command); then PID 1's, the container's own process
    r = runtime("exec", b.id, "sh", "-c", "ls /proc/$$/fd; true")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0", "1", "2"], r.stdout
    r = runtime("exec", b.id, "ls", "/proc/1/fd")
    assert r.stdout.split() == ["0", "1", "2"], r.stdout


def test_closed_stdio_stays_closed(pyrunc, box):
    """A caller's closed stdin must reach the process closed: no runtime fd (exec.fifo, the
    root's O_PATH handle) may take fd 0 and be passed on as stdio (pyrunc-init's secure
    exec would also fill it with /dev/null: init.hold_closed_stdio). pyrunc only: runc's
    foreground exec gives the process pipes."""
    runtime = pyrunc
    b = box.bundle("closed", script="ls /proc/$$/fd; sleep 30")
    b.write()
    sh = ["sh", "-c", 'exec 0<&-; exec "$@"', "sh"]
    for args in (("run", "-d", "--bundle", b.path, b.id),
                 ("exec", b.id, "sh", "-c", "ls /proc/$$/fd; true")):
        # files, not pipes: the detached container keeps its stdout
        with tempfile.TemporaryFile() as out:
            p = subprocess.run(sh + runtime.cmd(*args), stdout=out, stderr=out, timeout=30)
            out.seek(0)
            text = out.read().decode()
        assert p.returncode == 0, text
    assert text.split() == ["1", "2"], text


def test_cve_2024_21626_cwd_through_leaked_fd_create(runtime, box, tmp_path):
    marker = tmp_path / "hostmarker"
    marker.write_text("HOST\n")
    up = "../" * 12
    for n in range(3, 11):
        b = box.bundle(f"cwd{n}", script=f"pwd; cat {up}{marker}")
        b.config["process"]["cwd"] = f"/proc/self/fd/{n}"
        r = run(runtime, b)
        assert "HOST" not in r.stdout, (n, r.stdout)
        if r.returncode == 1 and r.stderr.count("\n") <= 1 and "level=error" in r.stderr:
            assert b.id not in runtime.ids()  # refused cleanly
        else:
            # it ran: then its cwd is inside the container
            assert r.stdout.split("\n")[0].startswith("/") and \
                "pytest" not in r.stdout, (n, r.stdout, r.stderr)
        runtime("delete", "--force", b.id)


def test_cve_2024_21626_exec_cwd_through_leaked_fd(runtime, box, tmp_path):
    marker = tmp_path / "hostmarker"
    marker.write_text("HOST\n")
    b = box.bundle("execcwd", script="sleep 60")
    b.write()
    assert runtime("run", "-d", "--bundle", b.path, b.id).returncode == 0
    up = "../" * 12
    for n in range(3, 11):
        r = runtime("exec", "--cwd", f"/proc/self/fd/{n}", b.id, "sh", "-c",
                    f"pwd; cat {up}{marker}")
        assert "HOST" not in r.stdout, (n, r.stdout)
        if r.returncode == 0:
            assert "pytest" not in r.stdout, (n, r.stdout)
        else:
            assert len(r.stderr.strip().splitlines()) <= 2, r.stderr


def test_cve_2024_21626_cwd_through_a_preserved_host_dir_fd(runtime, box, tmp_path):
    """Even an fd handed over on purpose (--preserve-fds) must not become a cwd outside
    the container: the runtime checks where the cwd ended up (getcwd)."""
    b = box.bundle("cwdpf", script="pwd; ls ../../..")
    b.config["process"]["cwd"] = "/proc/self/fd/3"
    b.write()
    # fd 3: a host directory, opened by a shell that then execs the runtime
    p = subprocess.run(["sh", "-c", 'exec 3<"$0"; exec "$@"', str(tmp_path)]
                       + runtime.cmd("run", "--preserve-fds", "1", "--bundle", b.path, b.id),
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "outside" in p.stderr, (p.stdout, p.stderr)
    assert p.stdout == ""
    assert b.id not in runtime.ids()


# --- CVE-2021-30465 (symlinks in mount destinations)


def test_cve_2021_30465_symlinked_destinations_stay_in_rootfs(runtime, box, tmp_path):
    rootfs = box.rootfs()
    hostdir = tmp_path / "hostdir"
    hostdir.mkdir()
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "volmarker").write_text("VOL\n")
    os.symlink(str(hostdir), os.path.join(rootfs, "evil_abs"))
    os.symlink("../" * 12 + str(hostdir).lstrip("/"), os.path.join(rootfs, "evil_rel"))
    b = box.bundle("symdest", rootfs,
                   "cat /evil_abs/volmarker /evil_rel/sub/volmarker; ls /evil_rel/tmpfs")
    b.config["root"]["readonly"] = False
    b.config["mounts"] += [
        {"destination": "/evil_abs", "type": "bind", "source": str(vol), "options": ["bind"]},
        {"destination": "/evil_rel/sub", "type": "bind", "source": str(vol),
         "options": ["bind"]},
        {"destination": "/evil_rel/tmpfs", "type": "tmpfs", "source": "tmpfs"},
    ]
    r = run(runtime, b)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["VOL", "VOL"]  # where the container resolves the links
    assert os.listdir(hostdir) == []  # nothing created or mounted on the host's side
    assert str(hostdir) not in open("/proc/self/mountinfo").read()


def test_cve_2021_30465_destination_swapped_by_another_container(runtime, box, tmp_path,
                                                                  request):
    """Race: a running container keeps swapping a directory of a shared volume with a
    symlink to `/` while containers that mount below it are created. runc 1.1.5 resolves
    the destination safely but then makes it with a path-based MkdirAll, which the swap
    can send to the host's `/` (seen on this host: an empty directory made there)."""
    after_runc_115(request, runtime, "mkdir race after the CVE-2021-30465 fix")
    rootfs = box.rootfs()
    shared = tmp_path / "shared"
    shared.mkdir()
    name = f"pcve-race-{os.getpid()}"
    vol_mount = {"destination": "/vol", "type": "bind", "source": str(shared),
                 "options": ["rbind", "rw"]}
    a = box.bundle("swapper", rootfs, script="cd /vol; while :; do rm -rf d; mkdir d; rm -rf d; "
                   "ln -s / d; done")
    a.config["mounts"].append(vol_mount)
    a.write()
    assert runtime("run", "-d", "--bundle", a.path, a.id).returncode == 0
    try:
        for i in range(20):
            b = box.bundle(f"victim{i}", rootfs, script="true")
            b.config["mounts"] += [vol_mount, {"destination": f"/vol/d/{name}",
                                               "type": "tmpfs", "source": "tmpfs"}]
            r = run(runtime, b)
            if r.returncode:  # the race made the mount fail: it must fail cleanly
                clean_failure(runtime, r, b.id)
            runtime("delete", "--force", b.id)
    finally:
        runtime("delete", "--force", a.id)
        leaked = os.path.exists(f"/{name}")
        if leaked:
            os.rmdir(f"/{name}")  # ours: remove before failing
    assert not leaked, f"a mount target was created on the host at /{name}"


# --- CVE-2025-31133 / 52565 / 52881 (/dev/null, /dev/console, procfs targets)


def _core_pattern_probe(path):
    """Script: prints UNMASKED if `path` shows the kernel's core_pattern, and ESCAPED if it
    is also writable. It writes back the very value it read, so even a successful escape
    changes nothing."""
    return (f'a=$(cat {path}); c=$(cat /proc/sys/kernel/core_pattern); '
            f'if [ -n "$a" ] && [ "$a" = "$c" ]; then echo UNMASKED; '
            f'printf "%s\\n" "$a" > {path} && echo ESCAPED; else echo masked; fi; true')


def test_cve_2025_31133_dev_null_symlink(runtime, box, request):
    """The image's /dev/null is a symlink to core_pattern and /dev is bound from the
    image: masking /proc/timer_list with "/dev/null" must not bind core_pattern there."""
    after_runc_115(request, runtime, "CVE-2025-31133")
    rootfs = box.rootfs()
    before = open("/proc/sys/kernel/core_pattern").read()
    dev = os.path.join(rootfs, "imgdev")
    os.mkdir(dev)
    os.symlink("/proc/sys/kernel/core_pattern", os.path.join(dev, "null"))
    b = box.bundle("devnull", rootfs, _core_pattern_probe("/proc/timer_list"))
    b.config["mounts"] = [m for m in b.config["mounts"] if m["destination"] != "/dev"]
    b.config["mounts"].insert(1, {"destination": "/dev", "type": "bind", "source": dev,
                                  "options": ["rbind"]})
    r = run(runtime, b)
    assert open("/proc/sys/kernel/core_pattern").read() == before
    if r.returncode:
        clean_failure(runtime, r, b.id)
    else:
        assert "UNMASKED" not in r.stdout and "ESCAPED" not in r.stdout, r.stdout


def test_cve_2025_31133_masked_target_symlinks(runtime, box, tmp_path):
    """Masked and read-only paths that are symlinks in the image: to a host file (must
    stay untouched and unreadable) and to core_pattern (masked, not opened)."""
    rootfs = box.rootfs()
    secret = tmp_path / "hostsecret"
    secret.write_text("SECRET\n")
    os.symlink(str(secret), os.path.join(rootfs, "etc", "pcve-host"))
    os.symlink("/proc/sys/kernel/core_pattern", os.path.join(rootfs, "etc", "pcve-core"))
    b = box.bundle("masklink", rootfs, f"cat {secret} /etc/pcve-host; "
                   + _core_pattern_probe("/etc/pcve-core"))
    b.config["linux"]["maskedPaths"] += ["/etc/pcve-host", "/etc/pcve-core"]
    b.config["linux"]["readonlyPaths"] += ["/etc/pcve-host"]
    r = run(runtime, b)
    assert secret.read_text() == "SECRET\n"
    assert "SECRET" not in r.stdout and "UNMASKED" not in r.stdout
    if r.returncode:
        assert "masked" in r.stdout or r.stderr.count("\n") <= 1


def test_cve_2025_52881_mount_redirected_into_proc(runtime, box, tmp_path):
    """A mount destination that is a symlink into /proc (what a raced shared volume gives):
    the mount must not land on a procfs file the runtime then writes (sysctl)."""
    rootfs = box.rootfs()
    decoy = tmp_path / "decoy"
    decoy.write_text("decoy\n")
    os.symlink("/proc/sys/kernel/shm_rmid_forced", os.path.join(rootfs, "etc", "pcve-sys"))
    b = box.bundle("procredir", rootfs, "cat /proc/sys/kernel/shm_rmid_forced")
    b.config["mounts"].append({"destination": "/etc/pcve-sys", "type": "bind",
                               "source": str(decoy), "options": ["bind"]})
    b.config["linux"]["sysctl"] = {"kernel.shm_rmid_forced": "1"}
    r = run(runtime, b)
    assert decoy.read_text() == "decoy\n"  # the runtime's write did not go to the decoy
    if r.returncode:
        clean_failure(runtime, r, b.id)
        assert "inside /proc" in r.stderr
    else:
        assert r.stdout == "1\n"


def test_cve_2025_52565_console_symlink(runtime, box, tmp_path, request):
    """/dev/console in a bound /dev is a symlink to core_pattern: the pty must not be
    mounted through it, and the container must not get a writable core_pattern."""
    after_runc_115(request, runtime, "CVE-2025-52565")
    import socket
    import threading
    rootfs = box.rootfs()
    before = open("/proc/sys/kernel/core_pattern").read()
    dev = os.path.join(rootfs, "imgdev")
    os.mkdir(dev)
    os.mknod(os.path.join(dev, "null"), 0o20666, os.makedev(1, 3))
    os.symlink("/proc/sys/kernel/core_pattern", os.path.join(dev, "console"))
    os.mkdir(os.path.join(dev, "pts"))
    os.symlink("pts/ptmx", os.path.join(dev, "ptmx"))
    sock_path = str(tmp_path / "console.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sock_path)
    srv.listen(1)
    got = []

    def serve():
        srv.settimeout(20)
        try:
            c, _ = srv.accept()
            _, fds, _, _ = socket.recv_fds(c, 4096, 1)
            got.extend(fds)
            c.close()
        except OSError:
            pass
    t = threading.Thread(target=serve)
    t.start()
    b = box.bundle("console", rootfs, "sleep 1")
    b.config["process"]["terminal"] = True
    b.config["mounts"] = [m for m in b.config["mounts"]
                          if m["destination"] not in ("/dev", "/dev/pts")]
    b.config["mounts"].insert(1, {"destination": "/dev", "type": "bind", "source": dev,
                                  "options": ["rbind"]})
    b.config["mounts"].insert(2, {"destination": "/dev/pts", "type": "devpts",
                                  "source": "devpts",
                                  "options": ["nosuid", "noexec", "newinstance",
                                              "ptmxmode=0666", "mode=0620"]})
    b.write()
    r = runtime("create", "--bundle", b.path, "--console-socket", sock_path, b.id)
    t.join()
    srv.close()
    try:
        if r.returncode:
            clean_failure(runtime, r, b.id)
            return
        pid = json.loads(runtime("state", b.id).stdout)["pid"]
        with open(f"/proc/{pid}/mountinfo") as f:
            targets = [line.split()[4] for line in f]
        assert "/proc/sys/kernel/core_pattern" not in targets, \
            "the console was bound through the /dev/console symlink"
        assert open("/proc/sys/kernel/core_pattern").read() == before
    finally:
        for fd in got:
            os.close(fd)
        runtime("delete", "--force", b.id)


# --- CVE-2022-29162 (inheritable capabilities)


def test_cve_2022_29162_no_inheritable_capabilities(runtime, box):
    rootfs = box.rootfs()
    os.mkdir(os.path.join(rootfs, "capdir"))
    capbb = os.path.join(rootfs, "capdir", "grep")  # busybox runs the applet of its name
    shutil.copy(os.path.join(rootfs, "bin", "busybox"), capbb)
    # file capabilities in the inheritable and effective sets only: an exec'd file gains
    # them only if the runtime left them in the process's inheritable set
    subprocess.run(["setcap", "cap_kill,cap_net_bind_service,cap_audit_write+ei", capbb],
                   check=True)
    b = box.bundle("capinh", rootfs, "grep CapInh /proc/self/status; "
                   "/capdir/grep -E 'Cap(Inh|Prm|Eff)' /proc/self/status; sleep 30")
    b.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    b.config["process"]["noNewPrivileges"] = False
    b.write()
    assert runtime("run", "-d", "--bundle", b.path, b.id).returncode == 0
    r = runtime("exec", b.id, "sh", "-c", "grep CapInh /proc/self/status; /capdir/grep "
                "-E 'Cap(Inh|Prm|Eff)' /proc/self/status")
    assert r.returncode == 0, r.stderr
    for line in r.stdout.splitlines():
        assert line.split()[1] == "0000000000000000", r.stdout
    # exec --cap adds to the bounding/effective/permitted sets, not the inheritable one
    r = runtime("exec", "--cap", "CAP_NET_RAW", "--user", "1000:1000", b.id, "sh", "-c",
                "grep CapInh /proc/self/status")
    assert r.stdout.split()[1] == "0000000000000000", r.stdout


# --- CVE-2019-16884 (procfs mounted over /proc dodging LSM labels)


@pytest.mark.parametrize("dest,kind,ok", [
    ("/proc", "hostdir", False),       # a plain directory over /proc: refused
    ("/proc/sys", "hostdir", False),   # anything inside /proc: refused
    ("/proc/self", "hostdir", False),
    ("/proc/cpuinfo", "file", True),   # the files lxcfs emulates are allowed (runc's list)
    ("/proc", "procbind", True),       # a bind whose source is a procfs: allowed
    ("/myproc/sys", "hostdir", False),  # /myproc is a symlink to /proc in the image
])
def test_cve_2019_16884_mounts_over_proc(runtime, box, tmp_path, dest, kind, ok):
    rootfs = box.rootfs()
    os.symlink("/proc", os.path.join(rootfs, "myproc"))
    src = {"hostdir": str(tmp_path), "file": str(tmp_path / "f"), "procbind": "/proc"}[kind]
    (tmp_path / "f").write_text("cpuinfo\n")
    b = box.bundle("procmnt", rootfs, "true")
    b.config["mounts"].append({"destination": dest, "type": "bind", "source": src,
                               "options": ["rbind"]})
    r = run(runtime, b)
    if ok:
        assert r.returncode == 0, r.stderr
    else:
        clean_failure(runtime, r, b.id)
        assert "cannot be mounted because it is" in r.stderr


# --- Path resolution inside the rootfs (devices, `..`, absolute symlinks)


def test_device_paths_stay_in_rootfs(runtime, box, tmp_path):
    rootfs = box.rootfs()
    hostdir = tmp_path / "hostdev"
    hostdir.mkdir()
    os.symlink(str(hostdir), os.path.join(rootfs, "etc", "pcve-devlink"))
    b = box.bundle("devpath", rootfs, "ls -l /etc/pcve-devlink/ /tmp/pcve-dotdot")
    b.config["root"]["readonly"] = False
    b.config["linux"]["devices"] = [
        {"path": "/etc/pcve-devlink/null2", "type": "c", "major": 1, "minor": 3},
        {"path": "/dev/../../../../../../tmp/pcve-dotdot", "type": "c", "major": 1,
         "minor": 3}]
    r = run(runtime, b)
    assert os.listdir(hostdir) == []
    assert not os.path.exists("/tmp/pcve-dotdot")
    if r.returncode == 0:
        assert "null2" in r.stdout and "pcve-dotdot" in r.stdout
    else:
        clean_failure(runtime, r, b.id)


def test_cve_2025_52881_exec_writes_into_a_fake_proc(runtime, box, tmp_path, request):
    """A container allowed to mount puts a tmpfs over its own /proc, where everything
    links to a real procfs except the LSM exec attributes, which link to the writer's own
    `comm` (a procfs file that takes any write: runc 1.1.5's "is it on procfs" check
    passes). The runtime entering it for `exec --apparmor` must not write the profile
    there: that write "succeeds" and the process runs unconfined. This host has no
    AppArmor, so an exec that succeeds is the proof (harmless: it renames a process)."""
    after_runc_115(request, runtime, "CVE-2025-52881")
    fake = ("R=/tmp/realproc F=/tmp/fake; mkdir -p $R $F && mount -t proc proc $R && "
            "mount -t tmpfs fake $F && "
            "for e in $(ls $R); do ln -s $R/$e $F/$e 2>/dev/null; done; "
            "for d in self thread-self; do rm $F/$d; mkdir -p $F/$d/attr/apparmor; "
            "for e in $(ls $R/self); do ln -s $R/$d/$e $F/$d/$e 2>/dev/null; done; "
            "for e in $(ls $R/self/attr); do ln -s $R/$d/attr/$e $F/$d/attr/$e 2>/dev/null; "
            "done; rm -f $F/$d/attr/exec; ln -s $R/thread-self/comm $F/$d/attr/exec; "
            "ln -s $R/thread-self/comm $F/$d/attr/apparmor/exec; done; "
            "mount --bind $F /proc && echo ready && sleep 60")
    b = box.bundle("fakeproc", script=fake)
    b.config["root"]["readonly"] = False
    caps = b.config["process"]["capabilities"]
    for s in ("bounding", "effective", "permitted"):
        caps[s] = caps[s] + ["CAP_SYS_ADMIN"]
    b.config["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"})
    b.write()
    log = tmp_path / "log"
    with open(log, "w") as f:
        p = subprocess.Popen(runtime.cmd("run", "--bundle", b.path, b.id), stdout=f,
                             stderr=subprocess.STDOUT)
    try:
        assert wait_for(lambda: "ready" in log.read_text()), log.read_text()
        r = runtime("exec", "--apparmor", "pcve-profile", b.id, "true")
        assert r.returncode == 255, "exec --apparmor ran: the profile went elsewhere"
    finally:
        runtime("kill", b.id, "KILL")
        p.wait(timeout=30)
        runtime("delete", "--force", b.id)


def test_passwd_as_a_fifo_does_not_hang_init(pyrunc, box):
    """HOME comes from the container's /etc/passwd, which the container controls: as a FIFO
    with no writer it must not block init (pyrunc opens it non-blocking; runc 1.1.5's
    blocking open would hang create, so runc is not run here). HOME falls back to /."""
    rootfs = box.rootfs()
    os.unlink(os.path.join(rootfs, "etc", "passwd"))
    os.mkfifo(os.path.join(rootfs, "etc", "passwd"))
    b = box.bundle("fifo-passwd", rootfs, 'echo "home=$HOME"')
    b.config["process"]["env"] = [e for e in b.config["process"]["env"]
                                  if not e.startswith("HOME=")]
    b.write()
    r = run(pyrunc, b, timeout=20)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "home=/\n"
