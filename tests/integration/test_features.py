"""Foreground `run` with a terminal, NOTIFY_SOCKET, --pidfd-socket and linux.netDevices.

The terminal and NOTIFY_SOCKET cases run against pyrunc and runc 1.1.5 alike. runc 1.1.5
has neither --pidfd-socket nor netDevices (runc 1.2 and 1.3 added them): those cases check
pyrunc against newer runc's documented behaviour. This host's kernel has no dummy driver,
so the network devices moved here are veth ends (pfea*), removed after each test.
"""
import array
import fcntl
import json
import ipaddress
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import termios
import time

import pytest

from rtsupport import CG_PARENT, Bundle, cgroup_dirs

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

HERE = os.path.dirname(os.path.abspath(__file__))
_counter = [0]


@pytest.fixture
def pbundle(tmp_path):
    _counter[0] += 1
    cid = f"pfea{os.getpid()}-{_counter[0]}"
    b = Bundle(str(tmp_path / "bundle"), cid)
    yield b
    for d in cgroup_dirs(f"/{CG_PARENT}/{cid}"):
        try:
            os.rmdir(d)
        except OSError:
            pass


def _state(runtime, cid):
    return json.loads(runtime("state", cid, check=True).stdout)


# --- run in the foreground with process.terminal -----------------------------------------

def _spawn_on_pty(argv, env=None):
    """argv on a new pty (its controlling terminal, as in a shell); returns (proc, master)."""
    master, slave = os.openpty()
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                         start_new_session=True,
                         preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
    os.close(slave)
    return p, master


def _read_until(master, want, out, timeout=20):
    deadline = time.monotonic() + timeout
    while want not in out and time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the other side is gone
                break
            if not data:
                break
            out += data
    return out


def test_run_terminal_foreground(runtime, pbundle):
    """tty, output and exit status through the proxied terminal; a resize of the caller's
    terminal reaches the container's pty."""
    pbundle.config["process"]["terminal"] = True
    pbundle.sh("tty; stty size; echo READY; read x; stty size; echo got=$x; exit 5").write()
    p, master = _spawn_on_pty(runtime.cmd("run", "--bundle", pbundle.path, pbundle.id))
    try:
        out = _read_until(master, b"READY", b"")
        assert b"READY" in out, out
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 77, 0, 0))
        time.sleep(0.3)  # the kernel signals SIGWINCH to the runtime; let it pass it on
        os.write(master, b"hello\r")
        out = _read_until(master, b"got=hello", out)
        assert p.wait(timeout=20) == 5, out
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
    lines = out.decode().replace("\r", "").splitlines()
    assert lines[0] == "/dev/pts/0"  # runc 1.1.5 prints the same
    if runtime.name == "pyrunc":
        # pyrunc sizes the pty before the process starts; runc 1.1.5 only after `start`,
        # so there the first `stty size` races with it (and usually sees 0 0).
        assert lines[1] == "24 80"
    assert "33 77" in lines, lines
    assert "got=hello" in lines
    assert runtime.ids() == []  # deleted after the run


def test_run_terminal_foreground_killed(runtime, pbundle):
    pbundle.config["process"]["terminal"] = True
    pbundle.sh("echo READY; exec sleep 100").write()
    p, master = _spawn_on_pty(runtime.cmd("run", "--bundle", pbundle.path, pbundle.id))
    try:
        out = _read_until(master, b"READY", b"")
        assert b"READY" in out, out
        runtime("kill", pbundle.id, "KILL", check=True)
        _read_until(master, b"never", b"", timeout=5)
        assert p.wait(timeout=20) == 128 + signal.SIGKILL
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)


# --- NOTIFY_SOCKET -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sdnotify(tmp_path_factory):
    cc = shutil.which("musl-gcc") or shutil.which("gcc")
    out = str(tmp_path_factory.mktemp("sdnotify") / "sdnotify")
    subprocess.run([cc, "-static", "-O2", "-o", out, os.path.join(HERE, "sdnotify.c")],
                   check=True)
    return out


def _notify_bundle(pbundle, sdnotify, script):
    pbundle.config["mounts"].append({"destination": "/sdnotify", "type": "bind",
                                     "source": sdnotify, "options": ["bind", "ro"]})
    return pbundle.sh(script).write()


def _host_socket(tmp_path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(tmp_path / "host.sock"))
    return s


def _drain(s, timeout=0.5):
    msgs = []
    while select.select([s], [], [], timeout)[0]:
        msgs.append(s.recv(4096))
    return msgs


def test_notify_socket_create_start(runtime, pbundle, sdnotify, tmp_path, monkeypatch):
    """create mounts the notify directory and sets NOTIFY_SOCKET; start waits for the
    container's READY= and passes READY=1 and MAINPID (init's host pid) on."""
    host = _host_socket(tmp_path)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "host.sock"))
    _notify_bundle(pbundle, sdnotify, "sleep 1; /sdnotify 'READY=1\nSTATUS=x'; exec sleep 100")
    try:
        runtime("create", "--bundle", pbundle.path, pbundle.id, check=True)
        pid = _state(runtime, pbundle.id)["pid"]
        sdir = os.path.join(runtime.root, pbundle.id, "notify")
        assert os.path.isdir(sdir) and os.listdir(sdir) == []  # bound by start, not create
        assert os.stat(sdir).st_mode & 0o777 == 0o755
        with open(f"/proc/{pid}/mountinfo") as f:
            mnt = [line.split() for line in f if " /run/notify " in line]
        assert len(mnt) == 1 and mnt[0][3] == sdir
        assert set(mnt[0][5].split(",")) >= {"ro", "nosuid", "nodev", "noexec"}
        assert _drain(host, 0.1) == []
        t0 = time.monotonic()
        runtime("start", pbundle.id, check=True)
        assert time.monotonic() - t0 > 0.8  # it waited for the container's READY=
        with open(f"/proc/{pid}/environ", "rb") as f:
            assert b"NOTIFY_SOCKET=/run/notify/notify.sock" in f.read().split(b"\0")
        assert os.stat(os.path.join(sdir, "notify.sock")).st_mode & 0o777 == 0o777
        assert _drain(host) == [b"READY=1\n", b"MAINPID=%d\n" % pid]
    finally:
        host.close()


def test_notify_socket_ready_on_a_later_line(pyrunc, pbundle, sdnotify, tmp_path,
                                            monkeypatch):
    """pyrunc only: runc 1.1.5 takes READY= only at the start of a datagram."""
    host = _host_socket(tmp_path)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "host.sock"))
    _notify_bundle(pbundle, sdnotify, "/sdnotify 'STATUS=x\nREADY=1'; exec sleep 100")
    try:
        pyrunc("run", "-d", "--bundle", pbundle.path, pbundle.id, check=True, timeout=20)
        pid = _state(pyrunc, pbundle.id)["pid"]
        assert _drain(host) == [b"READY=1\n", b"MAINPID=%d\n" % pid]
    finally:
        host.close()


def test_notify_socket_run_foreground(runtime, pbundle, sdnotify, tmp_path, monkeypatch):
    """In the foreground the runtime stays the unit's main process: MAINPID is its pid."""
    host = _host_socket(tmp_path)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "host.sock"))
    _notify_bundle(pbundle, sdnotify, "/sdnotify READY=1; sleep 1; exit 3")
    try:
        p = subprocess.Popen(runtime.cmd("run", "--bundle", pbundle.path, pbundle.id),
                             stdout=subprocess.DEVNULL)
        assert p.wait(timeout=20) == 3
        assert _drain(host) == [b"READY=1\n", b"MAINPID=%d\n" % p.pid]
    finally:
        host.close()


def test_notify_socket_start_returns_when_container_exits(runtime, pbundle, sdnotify,
                                                          tmp_path, monkeypatch):
    host = _host_socket(tmp_path)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "host.sock"))
    _notify_bundle(pbundle, sdnotify, "/sdnotify STATUS=starting; sleep 0.5")
    try:
        runtime("create", "--bundle", pbundle.path, pbundle.id, check=True)
        r = runtime("start", pbundle.id, timeout=20)
        assert r.returncode == 0, r.stderr
        assert _drain(host) == []
    finally:
        host.close()


def test_notify_socket_run_detached(runtime, pbundle, sdnotify, tmp_path, monkeypatch):
    host = _host_socket(tmp_path)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "host.sock"))
    _notify_bundle(pbundle, sdnotify, "/sdnotify READY=1; exec sleep 100")
    try:
        runtime("run", "-d", "--bundle", pbundle.path, pbundle.id, check=True)
        pid = _state(runtime, pbundle.id)["pid"]
        assert _drain(host) == [b"READY=1\n", b"MAINPID=%d\n" % pid]
    finally:
        host.close()


def test_no_notify_socket_no_notify_dir(runtime, pbundle, monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    pbundle.args("sleep", "100").write()
    runtime("create", "--bundle", pbundle.path, pbundle.id, check=True)
    assert not os.path.exists(os.path.join(runtime.root, pbundle.id, "notify"))


# --- --pidfd-socket (runc >= 1.2) --------------------------------------------------------

def _listen(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(1)
    return s


def _recv_pidfd(srv):
    conn, _ = srv.accept()
    try:
        fds = array.array("i")
        msg, anc, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(fds.itemsize))
    finally:
        conn.close()
    assert len(anc) == 1
    level, kind, data = anc[0]
    assert (level, kind) == (socket.SOL_SOCKET, socket.SCM_RIGHTS)
    fds.frombytes(data)
    assert len(fds) == 1
    return msg, fds[0]


def _pidfd_pid(fd):
    with open(f"/proc/self/fdinfo/{fd}") as f:
        return int(next(line for line in f if line.startswith("Pid:")).split()[1])


def _exits(pidfd, timeout=10):
    return bool(select.select([pidfd], [], [], timeout)[0])  # a pidfd polls readable on exit


def test_pidfd_socket_create(pyrunc, pbundle, tmp_path):
    srv = _listen(str(tmp_path / "pidfd.sock"))
    pbundle.args("sleep", "100").write()
    try:
        pyrunc("create", "--pidfd-socket", tmp_path / "pidfd.sock", "--bundle", pbundle.path,
               pbundle.id, check=True)
        msg, pidfd = _recv_pidfd(srv)
    finally:
        srv.close()
    try:
        assert msg == b"standard"  # runc's payload for the container's init
        assert _pidfd_pid(pidfd) == _state(pyrunc, pbundle.id)["pid"]
        pyrunc("start", pbundle.id, check=True)
        assert not _exits(pidfd, 0.2)
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        assert _exits(pidfd)
    finally:
        os.close(pidfd)
    for _ in range(100):
        if _state(pyrunc, pbundle.id)["status"] == "stopped":
            break
        time.sleep(0.05)
    assert _state(pyrunc, pbundle.id)["status"] == "stopped"


def test_pidfd_socket_exec(pyrunc, pbundle, tmp_path):
    srv = _listen(str(tmp_path / "pidfd.sock"))
    pbundle.args("sleep", "100").write()
    pyrunc("run", "-d", "--bundle", pbundle.path, pbundle.id, check=True)
    try:
        pyrunc("exec", "-d", "--pidfd-socket", tmp_path / "pidfd.sock", "--pid-file",
               tmp_path / "exec.pid", pbundle.id, "sleep", "100", check=True)
        msg, pidfd = _recv_pidfd(srv)
    finally:
        srv.close()
    try:
        assert msg == b"setns"  # runc's payload for an exec'd process
        assert _pidfd_pid(pidfd) == int((tmp_path / "exec.pid").read_text())
        signal.pidfd_send_signal(pidfd, signal.SIGTERM)
        assert _exits(pidfd)
    finally:
        os.close(pidfd)
    assert _state(pyrunc, pbundle.id)["status"] == "running"


def test_pidfd_socket_unreachable(pyrunc, pbundle, tmp_path):
    pbundle.args("true").write()
    r = pyrunc("create", "--pidfd-socket", tmp_path / "none.sock", "--bundle", pbundle.path,
               pbundle.id)
    assert r.returncode == 1
    assert "pidfd socket" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert pyrunc.ids() == []


# --- linux.netDevices (runtime-spec 1.2, runc >= 1.3) -------------------------------------

class Veth:
    """A veth pair on the host: `name` is the end a container gets, `peer` stays."""

    def __init__(self, k):
        self.name = f"pfea{k}"
        self.peer = f"pfea{k}p"
        self.addr4 = f"10.253.{k}.1/24"
        # as `ip` prints it (k == 0 gives "fd00:fea::/64", not "fd00:fea::0/64")
        self.addr6 = str(ipaddress.ip_interface(f"fd00:fea::{k}/64"))
        subprocess.run(["ip", "link", "add", self.name, "type", "veth", "peer", "name",
                        self.peer], check=True)
        subprocess.run(["ip", "addr", "add", self.addr4, "dev", self.name], check=True)
        subprocess.run(["ip", "-6", "addr", "add", self.addr6, "dev", self.name, "nodad"],
                       check=True)
        for n in (self.name, self.peer):
            subprocess.run(["ip", "link", "set", n, "up"], check=True)

    def exists(self, name=None):
        return os.path.exists(f"/sys/class/net/{name or self.name}")

    def remove(self):
        for n in (self.name, self.peer):
            if self.exists(n):
                subprocess.run(["ip", "link", "del", n], stderr=subprocess.DEVNULL)


@pytest.fixture
def veth():
    made = []

    def make():
        made.append(Veth(os.getpid() % 50 * 4 + len(made)))
        return made[-1]
    yield make
    for v in made:
        v.remove()


def _netdev_bundle(pbundle, devices):
    pbundle.config["linux"]["netDevices"] = devices
    return pbundle.args("sleep", "100").write()


def _host_link(name):
    r = subprocess.run(["ip", "-o", "addr", "show", "dev", name], capture_output=True,
                       text=True)
    return r.stdout if r.returncode == 0 else None


def test_net_devices_moved_renamed_configured(pyrunc, pbundle, veth):
    v = veth()
    _netdev_bundle(pbundle, {v.name: {"name": "ctr0"}})
    pyrunc("run", "-d", "--bundle", pbundle.path, pbundle.id, check=True)
    assert not v.exists()  # gone from the host
    assert v.exists(v.peer)
    r = pyrunc("exec", pbundle.id, "ip", "-o", "addr", "show", "dev", "ctr0", check=True)
    assert v.addr4 in r.stdout and v.addr6 in r.stdout
    # the flags a user gave the address come along (runc re-adds the address it listed):
    # nodad, which busybox's ip prints as "flags 02"
    line6 = [line for line in r.stdout.splitlines() if v.addr6 in line][0]
    assert "nodad" in line6 or "flags 02" in line6
    r = pyrunc("exec", pbundle.id, "ip", "-o", "link", "show", "dev", "ctr0", check=True)
    assert ",UP" in r.stdout or "<UP" in r.stdout
    # Delete: the namespace dies; a virtual device dies with it (a physical one would come
    # back to the host's initial namespace, by the kernel).
    pyrunc("delete", "--force", pbundle.id, check=True)
    for _ in range(200):
        if not v.exists(v.peer):
            break
        time.sleep(0.05)
    assert not v.exists(v.peer) and not v.exists()


def test_net_devices_keep_name(pyrunc, pbundle, veth):
    v = veth()
    _netdev_bundle(pbundle, {v.name: {}})
    pyrunc("run", "-d", "--bundle", pbundle.path, pbundle.id, check=True)
    r = pyrunc("exec", pbundle.id, "ip", "-o", "addr", "show", "dev", v.name, check=True)
    assert v.addr4 in r.stdout


@pytest.mark.parametrize("devices,pointer,why", [
    ({"pfeanone0": {}}, "/linux/netDevices/pfeanone0", "not found"),
    ({"VETH": {"name": "bad/name"}}, "/linux/netDevices/VETH/name", "invalid network device"),
    ({"VETH": {"name": "x" * 16}}, "/linux/netDevices/VETH/name", "invalid network device"),
    ({"VETH": {"name": "lo"}}, "/linux/netDevices/VETH/name", "already used"),
])
def test_net_devices_errors(pyrunc, pbundle, veth, devices, pointer, why):
    v = veth()
    devices = {k.replace("VETH", v.name): d for k, d in devices.items()}
    _netdev_bundle(pbundle, devices)
    r = pyrunc("create", "--bundle", pbundle.path, pbundle.id)
    assert r.returncode == 1
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1
    assert f"config.json {pointer.replace('VETH', v.name)}:" in err and why in err, err
    assert pyrunc.ids() == []
    assert v.addr4 in _host_link(v.name)


def test_net_devices_need_new_netns(pyrunc, pbundle, veth):
    v = veth()
    ns = pbundle.config["linux"]["namespaces"]
    pbundle.config["linux"]["namespaces"] = [n for n in ns if n["type"] != "network"]
    _netdev_bundle(pbundle, {v.name: {"name": "ctr0"}})
    r = pyrunc("create", "--bundle", pbundle.path, pbundle.id)
    assert r.returncode == 1
    assert "config.json /linux/netDevices: moving network devices needs a new network " \
           "namespace" in r.stderr
    assert v.exists()


def test_net_devices_failed_create_puts_devices_back(pyrunc, pbundle, veth, tmp_path):
    """A prestart hook fails after the devices moved: they come back with their host names,
    addresses and state, and nothing of the container is left."""
    v, w = veth(), veth()
    pbundle.config["hooks"] = {"prestart": [{"path": "/bin/false"}]}
    _netdev_bundle(pbundle, {v.name: {"name": "ctr0"}, w.name: {"name": "ctr1"}})
    r = pyrunc("create", "--bundle", pbundle.path, pbundle.id)
    assert r.returncode == 1
    assert "prestart" in r.stderr
    assert pyrunc.ids() == []
    for d in (v, w):
        out = _host_link(d.name)
        assert out is not None and d.addr4 in out and d.addr6 in out
        link = subprocess.run(["ip", "-o", "link", "show", "dev", d.name], capture_output=True,
                              text=True).stdout
        assert ",UP" in link or "<UP" in link
        assert d.exists(d.peer)


def test_features_reports_net_devices(pyrunc):
    f = json.loads(pyrunc("features", check=True).stdout)
    assert f["linux"]["netDevices"] == {"enabled": True}
