"""Rootless containers: a real unprivileged user runs pyrunc (and runc 1.1, the reference).

A session fixture creates the user `prl-u<pid>` (useradd gives it its own /etc/subuid and
/etc/subgid ranges), a busybox rootfs it owns and an XDG_RUNTIME_DIR; everything is removed
afterwards. Commands run through `setpriv --reuid/--regid/--init-groups` with a clean
environment. Container ids carry the `prl-` prefix.

Run as root: PYRUNC=$PWD/.venv/bin/pyrunc .venv/bin/python -m pytest -q tests/rootless
"""
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYRUNC = os.environ.get("PYRUNC") or os.path.join(REPO, ".venv", "bin", "pyrunc")
RUNC = "/usr/sbin/runc"
TIMEOUT = 90  # generous: a loaded 2-core machine

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="creates a user: needs root")


class User:
    """The unprivileged test user and its files: run commands as it."""

    def __init__(self, name, base):
        pw = pwd.getpwnam(name)
        self.name, self.uid, self.gid = name, pw.pw_uid, pw.pw_gid
        self.base = base
        self.xdg = os.path.join(base, "xdg")
        self.rootfs = os.path.join(base, "rootfs")
        self.subuid = _subid("/etc/subuid", name)
        self.subgid = _subid("/etc/subgid", name)
        self.pyrunc = PYRUNC
        self.counter = 0

    def env(self, **extra):
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME": self.base,
               "USER": self.name, "LOGNAME": self.name, "XDG_RUNTIME_DIR": self.xdg}
        env.update(extra)
        return [f"{k}={v}" for k, v in env.items() if v is not None]

    def run(self, argv, cwd=None, timeout=TIMEOUT, env=None, cgroups=()):
        """argv as the user; stdout/stderr through files (a detached container keeps its
        stdio open: a pipe would wait for it). `cgroups`: directories to start it in, as a
        login session starts in the cgroup systemd delegates to the user."""
        cmd = ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups",
               "--", "env", "-i"] + self.env(**(env or {})) + [str(a) for a in argv]

        def enter():
            for d in cgroups:
                with open(os.path.join(d, "cgroup.procs"), "w") as f:
                    f.write(str(os.getpid()))
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                               cwd=cwd or self.base, timeout=timeout,
                               preexec_fn=enter if cgroups else None)
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(argv, p.returncode, out.read().decode(),
                                               err.read().decode())

    def chown(self, path):
        os.chown(path, self.uid, self.gid)


def _subid(path, name):
    with open(path) as f:
        for line in f:
            parts = line.strip().split(":")
            if len(parts) == 3 and parts[0] == name:
                return int(parts[1]), int(parts[2])
    return None


def _remove_subid_lines(path, name):
    """Only our own user's lines, should userdel have left any."""
    with open(path) as f:
        lines = f.readlines()
    keep = [ln for ln in lines if ln.split(":")[0] != name]
    if keep != lines:
        with open(path + ".prl-tmp", "w") as f:
            f.writelines(keep)
        shutil.copymode(path, path + ".prl-tmp")
        os.rename(path + ".prl-tmp", path)


def _user_launcher(user):
    """A pyrunc the user can execute. The venv's interpreter may sit under a directory
    the user cannot enter (/root/.pyenv here): then a launcher with a system python of the
    same version and the venv's site-packages is written. None if neither works."""
    probe = user.run([user.pyrunc, "--version"], timeout=60)
    if probe.returncode == 0 and probe.stdout.startswith("pyrunc version"):
        return user.pyrunc, None
    import pyrunc
    site = os.path.dirname(os.path.dirname(os.path.abspath(pyrunc.__file__)))
    py = shutil.which(f"python{sys.version_info.major}.{sys.version_info.minor}",
                      path="/usr/bin:/usr/local/bin:/bin")
    why = (f"{user.pyrunc} is not runnable by an unprivileged user "
           f"({(probe.stderr or probe.stdout).strip()[:200]})")
    if py is None:
        return None, why + f"; no /usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    bindir = os.path.join(user.base, "bin")
    os.makedirs(bindir, 0o755, exist_ok=True)
    launcher = os.path.join(bindir, "pyrunc")
    with open(launcher, "w") as f:
        f.write(f"#!{py} -IS\nimport sys\nsys.path.append({site!r})\n"
                "from pyrunc.__main__ import main\nsys.exit(main())\n")
    os.chmod(launcher, 0o755)
    probe = user.run([launcher, "--version"], timeout=60)
    if probe.returncode != 0:
        return None, why + f"; {launcher} with {py} fails too: {probe.stderr.strip()[:200]}"
    return launcher, None


@pytest.fixture(scope="session")
def user():
    for tool in ("setpriv", "useradd", "userdel", "newuidmap", "newgidmap"):
        if not shutil.which(tool, path="/usr/bin:/usr/sbin:/bin:/sbin"):
            pytest.skip(f"{tool} is missing (packages util-linux, passwd, uidmap)")
    name = f"prl-u{os.getpid()}"
    base = tempfile.mkdtemp(prefix="prl-rootless-", dir="/tmp")
    os.chmod(base, 0o755)  # the user must reach its rootfs, bundles and XDG dir
    # useradd allocates non-overlapping /etc/subuid and /etc/subgid ranges itself (under
    # its lock), so other users' ranges are never touched.
    subprocess.run(["useradd", "-M", "-d", base, "-s", "/usr/sbin/nologin", "-U", name],
                   check=True, capture_output=True)
    u = None
    try:
        u = User(name, base)
        if u.subuid is None or u.subgid is None:
            pytest.skip("useradd gave the test user no /etc/subuid, /etc/subgid range")
        os.mkdir(u.xdg, 0o700)
        u.chown(u.xdg)
        subprocess.run([os.path.join(REPO, "tests", "mkrootfs.sh"), u.rootfs], check=True,
                       capture_output=True)
        subprocess.run(["chown", "-R", f"{u.uid}:{u.gid}", u.rootfs], check=True)
        u.pyrunc, why = _user_launcher(u)
        if u.pyrunc is None:
            pytest.skip(why)
        yield u
    finally:
        if u is not None and u.pyrunc:
            for binary, root in ((u.pyrunc, os.path.join(u.xdg, "pyrunc")),
                                 (RUNC, os.path.join(u.xdg, "runc"))):
                for cid in os.listdir(root) if os.path.isdir(root) else ():
                    if cid.startswith("prl-"):
                        u.run([binary, "delete", "--force", cid], timeout=60)
        subprocess.run(["userdel", name], capture_output=True)
        for path in ("/etc/subuid", "/etc/subgid"):
            _remove_subid_lines(path, name)
        shutil.rmtree(base, ignore_errors=True)


RUNTIMES = ("pyrunc", "runc")


def binary(user, which):
    return user.pyrunc if which == "pyrunc" else RUNC


def root_of(user, which):
    return os.path.join(user.xdg, which)


def make_bundle(user, which, edit=None, args=("true",)):
    """`<runtime> spec --rootless` as the user, pointed at the shared rootfs, then edited."""
    user.counter += 1
    cid = f"prl-{which}-{os.getpid()}-{user.counter}"
    path = os.path.join(user.base, cid)
    os.mkdir(path, 0o755)
    user.chown(path)
    r = user.run([binary(user, which), "spec", "--rootless"], cwd=path)
    assert r.returncode == 0, r.stderr
    cfg_path = os.path.join(path, "config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    cfg["root"]["path"] = user.rootfs
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = list(args)
    cfg["hostname"] = "prl-host"
    if edit:
        edit(cfg)
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=1)
    return cid, path


def state_ids(user, which):
    root = root_of(user, which)
    return sorted(os.listdir(root)) if os.path.isdir(root) else []


def wait_status(user, which, cid, want, tries=200):
    got = None
    for _ in range(tries):
        r = user.run([binary(user, which), "state", cid])
        got = json.loads(r.stdout)["status"] if r.returncode == 0 else r.stderr
        if got == want:
            return
        time.sleep(0.05)
    raise AssertionError(f"{cid}: status {got!r}, wanted {want!r}")


# --- spec --------------------------------------------------------------------------------

# Known differences between `pyrunc spec --rootless` and runc 1.1.5's: the version of the
# spec implemented, the hostname (runc's own name), and /sys/devices/virtual/powercap in
# maskedPaths (pyrunc follows newer runc, also without --rootless).
KNOWN_SPEC_DIFFERENCES = ("ociVersion", "hostname")


def test_spec_rootless_matches_runc(user):
    out = {}
    for which in RUNTIMES:
        d = os.path.join(user.base, f"spec-{which}")
        os.mkdir(d, 0o755)
        user.chown(d)
        r = user.run([binary(user, which), "spec", "--rootless"], cwd=d)
        assert r.returncode == 0, r.stderr
        with open(os.path.join(d, "config.json")) as f:
            out[which] = json.load(f)
    p, ref = out["pyrunc"], out["runc"]
    assert p["linux"]["uidMappings"] == [{"containerID": 0, "hostID": user.uid, "size": 1}]
    assert p["linux"]["gidMappings"] == [{"containerID": 0, "hostID": user.gid, "size": 1}]
    for key in KNOWN_SPEC_DIFFERENCES:
        p.pop(key)
        ref.pop(key)
    assert p["linux"]["maskedPaths"] == ref["linux"]["maskedPaths"] + [
        "/sys/devices/virtual/powercap"]
    p["linux"].pop("maskedPaths")
    ref["linux"].pop("maskedPaths")
    assert p == ref
    # and the file is refused a second time, as runc does
    r = user.run([user.pyrunc, "spec", "--rootless"], cwd=os.path.join(user.base, "spec-pyrunc"))
    assert r.returncode == 1 and "exists" in r.stderr


# --- running -----------------------------------------------------------------------------

INSIDE = ("id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; "
          "hostname; cat /etc/hostname; test -c /dev/null && echo null-ok; "
          "echo x > /dev/null && echo write-ok; grep -c ' /sys ' /proc/self/mounts; "
          "touch /sys/prl 2>/dev/null || echo sys-ro; ls /proc/1/ns/net >/dev/null && echo ok")


@pytest.mark.parametrize("which", RUNTIMES)
def test_run_as_user(user, which):
    cid, path = make_bundle(user, which, args=("sh", "-c", INSIDE))
    r = user.run([binary(user, which), "run", cid], cwd=path)
    assert r.returncode == 0, r.stderr
    lines = [" ".join(ln.split()) for ln in r.stdout.splitlines()]
    assert lines[:2] == ["0", "0"]
    assert lines[2:4] == [f"0 {user.uid} 1", f"0 {user.gid} 1"]
    assert lines[4] == "deny"  # a gid map written without newgidmap
    assert lines[5:7] == ["prl-host", "pyrunc"]
    assert lines[7:9] == ["null-ok", "write-ok"]  # /dev/null bind-mounted from the host
    assert lines[10:] == ["sys-ro", "ok"]
    assert state_ids(user, which) == []


def test_run_same_output_as_runc(user):
    out = {}
    for which in RUNTIMES:
        cid, path = make_bundle(user, which, args=("sh", "-c", INSIDE + "; ls -ln /dev"))
        r = user.run([binary(user, which), "run", cid], cwd=path)
        assert r.returncode == 0, r.stderr
        # device nodes and links; the times differ
        out[which] = [ln.split()[:5] + ln.split()[-1:] for ln in r.stdout.splitlines()]
    assert out["pyrunc"] == out["runc"]


@pytest.mark.parametrize("which", RUNTIMES)
def test_lifecycle(user, which):
    rt = binary(user, which)
    cid, path = make_bundle(user, which, args=("sleep", "300"))
    r = user.run([rt, "create", cid], cwd=path)
    assert r.returncode == 0, r.stderr
    try:
        root = root_of(user, which)
        st = os.stat(root)
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (user.uid, 0o1700)  # runc's rule
        assert os.stat(os.path.join(root, cid)).st_uid == user.uid
        fifo = os.stat(os.path.join(root, cid, "exec.fifo"))
        assert stat.S_ISFIFO(fifo.st_mode) and stat.S_IMODE(fifo.st_mode) == 0o622
        assert (fifo.st_uid, fifo.st_gid) == (user.uid, user.gid)
        r = user.run([rt, "state", cid])
        s = json.loads(r.stdout)
        assert (s["status"], s["bundle"], s["rootfs"]) == ("created", path, user.rootfs)
        assert s["pid"] > 0
        with open(f"/proc/{s['pid']}/status") as f:
            uids = next(ln for ln in f if ln.startswith("Uid:")).split()[1:]
        assert uids == [str(user.uid)] * 4  # container root is the user on the host
        r = user.run([rt, "start", cid])
        assert r.returncode == 0, r.stderr
        wait_status(user, which, cid, "running")
        r = user.run([rt, "exec", cid, "sh", "-c", "id -u; cat /proc/self/uid_map; hostname"])
        assert r.returncode == 0, r.stderr
        assert " ".join(r.stdout.split()) == f"0 0 {user.uid} 1 prl-host"
        r = user.run([rt, "list", "--format", "json"])
        rows = {c["id"]: c for c in json.loads(r.stdout)}
        assert rows[cid]["status"] == "running" and rows[cid]["owner"] == user.name
        r = user.run([rt, "kill", cid, "KILL"])
        assert r.returncode == 0, r.stderr
        wait_status(user, which, cid, "stopped")
        r = user.run([rt, "delete", cid])
        assert r.returncode == 0, r.stderr
        assert state_ids(user, which) == []
        r = user.run([rt, "state", cid])
        assert r.returncode == 1 and "does not exist" in r.stderr
    finally:
        user.run([rt, "delete", "--force", cid])


@pytest.mark.parametrize("which", RUNTIMES)
def test_delete_created(user, which):
    rt = binary(user, which)
    cid, path = make_bundle(user, which, args=("sleep", "300"))
    assert user.run([rt, "create", cid], cwd=path).returncode == 0
    pid = json.loads(user.run([rt, "state", cid]).stdout)["pid"]
    r = user.run([rt, "delete", cid])
    assert r.returncode == 0, r.stderr
    assert state_ids(user, which) == []
    for _ in range(100):
        if not os.path.exists(f"/proc/{pid}"):
            break
        time.sleep(0.05)
    else:
        with open(f"/proc/{pid}/stat") as f:
            assert f.read().split(") ")[1][0] == "Z"


def _subuid_map(user):
    su, sg = user.subuid, user.subgid

    def edit(cfg):
        cfg["root"]["readonly"] = False
        cfg["process"]["user"] = {"uid": 1000, "gid": 1000}
        cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": user.uid, "size": 1},
                                       {"containerID": 1, "hostID": su[0], "size": su[1]}]
        cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": user.gid, "size": 1},
                                       {"containerID": 1, "hostID": sg[0], "size": sg[1]}]
    return edit


@pytest.mark.parametrize("which", RUNTIMES)
def test_subordinate_ids_through_newuidmap(user, which):
    name = f"prl-f-{which}-{os.getpid()}"
    script = (f"id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; "
              f"touch /tmp/{name} && echo made")
    cid, path = make_bundle(user, which, edit=_subuid_map(user), args=("sh", "-c", script))
    r = user.run([binary(user, which), "run", cid], cwd=path)
    host_file = os.path.join(user.rootfs, "tmp", name)
    try:
        assert r.returncode == 0, r.stderr
        lines = [" ".join(ln.split()) for ln in r.stdout.splitlines()]
        su, sg = user.subuid, user.subgid
        assert lines == ["1000", "1000", f"0 {user.uid} 1", f"1 {su[0]} {su[1]}",
                         f"0 {user.gid} 1", f"1 {sg[0]} {sg[1]}", "made"]
        st = os.stat(host_file)
        assert (st.st_uid, st.st_gid) == (su[0] + 999, sg[0] + 999)
    finally:
        if os.path.exists(host_file):
            os.unlink(host_file)
    assert state_ids(user, which) == []


# --- errors ------------------------------------------------------------------------------

def _fails(user, which, edit, args=("true",)):
    """Run a bad config; returns the last error message and the whole log. Nothing may be
    left behind."""
    cid, path = make_bundle(user, which, edit=edit, args=args)
    log = os.path.join(path, "log.json")
    r = user.run([binary(user, which), "--log", log, "--log-format", "json", "run", cid],
                 cwd=path)
    assert r.returncode == 1, (r.stdout, r.stderr)
    with open(log) as f:
        entries = [json.loads(ln) for ln in f if ln.strip()]
    errors = [e for e in entries if e["level"] == "error"]
    assert errors, entries
    assert state_ids(user, which) == []
    if which == "pyrunc":
        assert len(errors) == 1 and "\n" not in errors[0]["msg"]
        assert set(errors[0]) == {"level", "msg", "time"}
    return errors[-1]["msg"], entries


def _no_userns(cfg):
    linux = cfg["linux"]
    linux["namespaces"] = [n for n in linux["namespaces"] if n["type"] != "user"]
    del linux["uidMappings"], linux["gidMappings"]


@pytest.mark.parametrize("which", RUNTIMES)
def test_error_no_user_namespace(user, which):
    msg, _ = _fails(user, which, _no_userns)
    if which == "runc":
        assert "rootless container requires user namespaces" in msg
    else:
        assert msg == (f"pyrunc run failed: config.json /linux/namespaces: rootless container "
                       f"(pyrunc run by uid {user.uid}) requires a user namespace")


def _memory_limit(cfg):
    cfg["linux"]["resources"] = {"memory": {"limit": 64 << 20},
                                 "devices": [{"allow": False, "access": "rwm"}]}


@pytest.mark.parametrize("which", RUNTIMES)
def test_error_limit_without_cgroup(user, which):
    msg, _ = _fails(user, which, _memory_limit)
    if which == "runc":
        assert "cannot set memory limit: container could not join or create cgroup" in msg
    else:
        assert msg.startswith("pyrunc run failed: config.json /linux/resources/memory: "
                              "cannot set this cgroup limit: the rootless container could "
                              "not create or join its cgroup")
        assert "Permission denied" in msg


def _unset_limits(cfg):
    cfg["linux"]["resources"] = {"pids": {"limit": 0}, "memory": {},
                                 "devices": [{"allow": False, "access": "rwm"}]}


@pytest.mark.parametrize("which", RUNTIMES)
def test_no_limits_runs_without_cgroup(user, which):
    cid, path = make_bundle(user, which, edit=_unset_limits, args=("id", "-u"))
    r = user.run([binary(user, which), "run", cid], cwd=path)
    assert (r.returncode, r.stdout.strip()) == (0, "0"), r.stderr


def _two_ids(cfg):
    cfg["linux"]["uidMappings"][0]["size"] = 2


@pytest.mark.parametrize("which", RUNTIMES)
def test_error_more_ids_than_allowed(user, which):
    msg, log = _fails(user, which, _two_ids)
    if which == "runc":  # runc's last error is vague; the newuidmap failure is logged before
        assert any("failed to use newuid map" in e["msg"] for e in log)
    else:
        assert msg.startswith("pyrunc run failed: config.json /linux/uidMappings: newuidmap "
                              "failed (newuidmap: uid range [0-2) -> ")
        assert msg.endswith("not allowed); the ranges must be granted to the user in "
                            "/etc/subuid")


def _additional_gids(cfg):
    cfg["process"]["user"]["additionalGids"] = [0]


@pytest.mark.parametrize("which", RUNTIMES)
def test_error_additional_gids_with_setgroups_denied(user, which):
    msg, _ = _fails(user, which, _additional_gids)
    if which == "runc":
        assert "cannot set any additional groups in a rootless container" in msg
    else:
        assert "/process/user/additionalGids cannot be set in this user namespace" in msg


def test_pause_without_cgroup_is_a_clear_error(user):
    rt = user.pyrunc
    cid, path = make_bundle(user, "pyrunc", args=("sleep", "300"))
    assert user.run([rt, "run", "-d", cid], cwd=path).returncode == 0
    try:
        for cmd in ("pause", "ps", "events --stats"):  # runc fails on these too
            r = user.run([rt] + cmd.split() + [cid])
            assert r.returncode == 1, cmd
            assert r.stderr.count("\n") == 1 and "has no cgroup" in r.stderr, r.stderr
        # kill --all without a cgroup: init (PID 1 of its pid namespace) takes the rest
        assert user.run([rt, "kill", "--all", cid, "KILL"]).returncode == 0
        wait_status(user, "pyrunc", cid, "stopped")
        assert user.run([rt, "delete", "--force", cid]).returncode == 0
    finally:
        user.run([rt, "delete", "--force", cid])
    assert state_ids(user, "pyrunc") == []


def test_default_root_without_xdg(user):
    """No XDG_RUNTIME_DIR: the root stays /run/pyrunc (runc: /run/runc), which the user
    cannot write: `create` fails naming the path, and leaves nothing behind."""
    cid, path = make_bundle(user, "pyrunc")
    r = user.run([user.pyrunc, "create", cid], cwd=path, env={"XDG_RUNTIME_DIR": None})
    assert r.returncode == 1 and "/run/pyrunc" in r.stderr and "denied" in r.stderr
    assert r.stderr.count("\n") == 1
    assert not os.path.exists(os.path.join("/run/pyrunc", cid))


# --- a delegated cgroup --------------------------------------------------------------------

@pytest.fixture
def delegated(user):
    """/<mount>/prl-deleg-<pid> in every cgroup hierarchy, owned by the user (what systemd's
    Delegate=yes does): the user may create sub-cgroups there and set their limits."""
    from pyrunc.cgroups import mounts
    name = f"prl-deleg-{os.getpid()}-{user.counter}"
    dirs = []
    for mnt in dict.fromkeys(mounts().values()):
        d = os.path.join(mnt, name)
        os.mkdir(d)
        dirs.append(d)
        for leaf in ("cpuset.cpus", "cpuset.mems"):  # an empty cpuset refuses tasks
            if os.path.exists(os.path.join(d, leaf)):
                with open(os.path.join(mnt, leaf)) as f:
                    value = f.read().strip()
                with open(os.path.join(d, leaf), "w") as f:
                    f.write(value)
        user.chown(d)
        for f in os.listdir(d):
            if os.path.isfile(os.path.join(d, f)):
                user.chown(os.path.join(d, f))
    yield name, dirs
    for d in dirs:
        for sub, subdirs, _ in os.walk(d, topdown=False):
            for s in subdirs:
                try:
                    os.rmdir(os.path.join(sub, s))
                except OSError:
                    pass
        try:
            os.rmdir(d)
        except OSError:
            pass


@pytest.mark.parametrize("which", RUNTIMES)
def test_delegated_cgroup_limits(user, delegated, which):
    name, dirs = delegated
    rt = binary(user, which)
    cg = {}

    def edit(cfg):
        cfg["linux"]["cgroupsPath"] = cg["path"]
        cfg["linux"]["resources"] = {"pids": {"limit": 20}}
    cg["path"] = f"/{name}/prl-c{user.counter + 1}"
    cid, path = make_bundle(user, which, edit=edit, args=("sleep", "300"))
    pids_dir = next(d for d in dirs if "/pids/" in d) + "/" + os.path.basename(cg["path"])
    r = user.run([rt, "run", "-d", cid], cwd=path, cgroups=dirs)
    try:
        assert r.returncode == 0, r.stderr
        pid = json.loads(user.run([rt, "state", cid]).stdout)["pid"]
        with open(os.path.join(pids_dir, "pids.max")) as f:
            assert f.read().strip() == "20"
        with open(os.path.join(pids_dir, "cgroup.procs")) as f:
            assert str(pid) in f.read().split()
        assert user.run([rt, "pause", cid]).returncode == 0
        wait_status(user, which, cid, "paused")
        assert user.run([rt, "resume", cid]).returncode == 0
        wait_status(user, which, cid, "running")
        r = user.run([rt, "ps", "--format", "json", cid])
        assert r.returncode == 0 and pid in json.loads(r.stdout), r.stderr
        r = user.run([rt, "delete", "--force", cid])
        assert r.returncode == 0, r.stderr
        assert not os.path.exists(pids_dir)
        assert state_ids(user, which) == []
    finally:
        user.run([rt, "delete", "--force", cid])


def test_limits_asked():
    from pyrunc.container import limits_asked
    assert limits_asked(None) == []
    assert limits_asked({"devices": [{"allow": False, "access": "rwm"}], "pids": {"limit": 0},
                         "memory": {}, "cpu": {"shares": 0, "cpus": ""}}) == []
    assert limits_asked({"memory": {"limit": 1 << 20}, "pids": {"limit": 5},
                         "unified": {"memory.high": "1M"}}) == [
        "/linux/resources/memory", "/linux/resources/pids", "/linux/resources/unified"]


@pytest.mark.parametrize("which", RUNTIMES)
def test_rootless_false_makes_cgroup_errors_fatal(user, which):
    """--rootless=false: the cgroup the user may not create is an error, not skipped."""
    cid, path = make_bundle(user, which)
    r = user.run([binary(user, which), "--rootless=false", "run", cid], cwd=path)
    assert r.returncode == 1, r.stdout
    assert "ermission denied" in r.stderr
    assert state_ids(user, which) == []


def _read_pty(fd, want, timeout=30):
    import select
    out = b""
    end = time.monotonic() + timeout
    while want not in out and time.monotonic() < end:
        if select.select([fd], [], [], 0.5)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the other side is closed
                break
            if not chunk:
                break
            out += chunk
    return out


@pytest.mark.parametrize("which", RUNTIMES)
def test_terminal_through_console_socket(user, which):
    """The rootless spec's terminal: devpts without gid=5, the pty through the socket."""
    import array
    import socket
    rt = binary(user, which)

    def edit(cfg):
        cfg["process"]["terminal"] = True
    cid, path = make_bundle(user, which, edit=edit,
                            args=("sh", "-c", "tty; stat -c %g $(tty); echo tty-done; "
                                              "sleep 300"))
    sock_path = os.path.join(path, "console.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sock_path)
    os.chmod(sock_path, 0o777)
    srv.listen(1)
    try:
        r = user.run([rt, "run", "-d", "--console-socket", sock_path, cid], cwd=path)
        assert r.returncode == 0, r.stderr
        srv.settimeout(30)
        conn, _ = srv.accept()
        fds = array.array("i")
        _, anc, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(fds.itemsize))
        conn.close()
        fds.frombytes(anc[0][2])
        try:
            out = _read_pty(fds[0], b"tty-done")
        finally:
            os.close(fds[0])
        lines = out.decode().split()
        assert lines[0].startswith("/dev/pts/") and lines[-1] == "tty-done", out
        assert lines[1] == "0"  # the pty's group: the container's root group, no gid=5
    finally:
        srv.close()
        user.run([rt, "delete", "--force", cid])
    assert state_ids(user, which) == []


def _no_uid_map(cfg):
    del cfg["linux"]["uidMappings"]


@pytest.mark.parametrize("which", RUNTIMES)
def test_error_user_namespace_without_uid_map(user, which):
    msg, _ = _fails(user, which, _no_uid_map)
    if which == "runc":
        assert "no uid mappings found" in msg
    else:
        assert msg == ("pyrunc run failed: config.json /linux/uidMappings: a new user "
                       "namespace needs uid mappings")


def _ns_root_maps(cfg):
    # ids as seen from the `unshare --map-root-user` namespace: the user is 0 there
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 0, "size": 1}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 0, "size": 1}]


@pytest.mark.parametrize("which", RUNTIMES)
def test_root_of_a_user_namespace(user, which):
    """As under rootless podman: the runtime runs as root of a user namespace the user
    made (euid 0 there, with its own mount namespace: runc 1.1 needs one); --rootless
    auto must still tolerate the host's cgroups."""
    cid, path = make_bundle(user, which, edit=_ns_root_maps,
                            args=("sh", "-c", "id -u; cat /proc/self/uid_map"))
    root = os.path.join(user.xdg, f"{which}-ns")
    r = user.run(["unshare", "--user", "--map-root-user", "--mount", "--", binary(user, which),
                  "--root", root, "run", cid], cwd=path)
    assert r.returncode == 0, r.stderr
    assert " ".join(r.stdout.split()) == "0 0 0 1"  # the nested map, from inside
    assert os.listdir(root) == []
