"""Message encoding, options, IO URIs, flags, reaper and the delete action (no root needed)."""
import os
import subprocess
import sys
import threading

import pytest

from pyrunc_shim import io as shim_io
from pyrunc_shim import options
from pyrunc_shim.__main__ import parse_flags
from pyrunc_shim.wire import Package

events_pb2 = Package("containerd.events")
runtimeoptions_pb2 = Package("runtimeoptions.v1")
runc_options_pb2 = Package("containerd.runc.v1")
task_pb2 = Package("containerd.task.v2")
from pyrunc_shim.ttrpc import RpcError


def test_field_numbers_on_the_wire():
    # field 1 "a", field 3 varint 9, field 4 true
    assert task_pb2.KillRequest(id="a", signal=9, all=True).SerializeToString() == b"\n\x01a\x18\x09\x20\x01"
    assert task_pb2.CreateTaskResponse(pid=300).SerializeToString() == b"\x08\xac\x02"
    exit_ev = events_pb2.TaskExit(container_id="c", id="e", pid=1, exit_status=137)
    assert exit_ev.SerializeToString() == b"\n\x01c\x12\x01e\x18\x01\x20\x89\x01"
    d = task_pb2.DeleteResponse(pid=5, exit_status=137)
    d.exited_at.seconds = 1
    assert d.SerializeToString() == b"\x08\x05\x10\x89\x01\x1a\x02\x08\x01"
    assert runc_options_pb2.Options(binary_name="x", root="/r", systemd_cgroup=True) \
        .SerializeToString() == b"2\x01x:\x02/rH\x01"


def test_runc_options_any():
    value = runc_options_pb2.Options(binary_name="/usr/sbin/runc", root="/run/x",
                                     systemd_cgroup=True, no_pivot_root=True).SerializeToString()
    for url in ("containerd.runc.v1.Options", "type.googleapis.com/containerd.runc.v1.Options"):
        o = options.parse(url, value)
        assert (o.binary, o.root, o.systemd_cgroup, o.no_pivot_root) == ("/usr/sbin/runc", "/run/x", True, True)
        assert o.root_for("k8s.io") == "/run/x/k8s.io"


def test_runtimeoptions_toml():
    body = 'BinaryName = "/opt/pyrunc"\nSystemdCgroup = true\nRoot = "/run/p"\nUnknown = 1\n'
    value = runtimeoptions_pb2.Options(type_url="x", config_body=body).SerializeToString()
    o = options.parse("runtimeoptions.v1.Options", value)
    assert (o.binary_name, o.systemd_cgroup, o.root) == ("/opt/pyrunc", True, "/run/p")


def test_default_options(monkeypatch):
    monkeypatch.delenv(options.BINARY_ENV, raising=False)
    o = options.parse("", b"")
    assert o.binary == "pyrunc" and o.root_for("default") == "/run/containerd/pyrunc/default"
    monkeypatch.setenv(options.BINARY_ENV, "/usr/sbin/runc")
    assert o.binary == "/usr/sbin/runc"
    assert options.Options.from_json(o.to_json()).root == ""


def test_unknown_options_type():
    with pytest.raises(RpcError):
        options.parse("example.com/Other", b"\x01")


def test_io_uri_parsing():
    assert shim_io.parse_uri("") == ("null", "", [])
    assert shim_io.parse_uri("/run/fifo/x-stdout") == ("fifo", "/run/fifo/x-stdout", [])
    assert shim_io.parse_uri("fifo:///a/b") == ("fifo", "/a/b", [])
    assert shim_io.parse_uri("file:///var/log/c.log") == ("file", "/var/log/c.log", [])
    assert shim_io.parse_uri("binary:///usr/bin/logger?id=7&flag") == \
        ("binary", "/usr/bin/logger", ["id", "7", "flag"])
    assert shim_io.parse_uri("binary-v2:///bin/l")[0] == "binary-v2"
    with pytest.raises(RpcError):
        shim_io.parse_uri("http://example.com/x")


def test_go_style_flags():
    f = parse_flags(["-namespace", "k8s.io", "-address=/run/c.sock", "--id", "abc",
                     "-publish-binary", "/usr/bin/containerd", "-debug", "start"])
    assert (f.namespace, f.address, f.id, f.debug, f.action) == ("k8s.io", "/run/c.sock", "abc", True, "start")
    assert parse_flags(["-v"]).v
    with pytest.raises(SystemExit):
        parse_flags(["-bogus"])


def test_reaper_reports_codes_and_signals():
    import time
    from pyrunc_shim.reaper import Reaper
    from pyrunc_shim.spawn import spawn
    r = Reaper()
    pid_ok = spawn(["/bin/sh", "-c", "exit 3"])
    pid_sig = spawn(["/bin/sh", "-c", "kill -9 $$"])
    got = {}
    r.watch(pid_ok, lambda status, ts: got.setdefault("ok", status))
    deadline = time.monotonic() + 10
    while len(r.unclaimed) + len(got) < 2 and time.monotonic() < deadline:
        r.reap()
        time.sleep(0.01)
    # pid_sig exited before anyone watched it: the reaper kept the exit for a later watch().
    r.watch(pid_sig, lambda status, ts: got.setdefault("sig", status))
    assert got == {"ok": 3, "sig": 137}


def test_delete_action_prints_delete_response(tmp_path):
    (tmp_path / "runtime").write_text("/bin/true")
    (tmp_path / "init.pid").write_text("4242")
    shim = [sys.executable, "-c", "import sys; from pyrunc_shim.__main__ import main; sys.exit(main())"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    res = subprocess.run(shim + ["-namespace", "ns", "-id", "c1", "-bundle", str(tmp_path), "delete"],
                         capture_output=True, env=env, cwd=tmp_path, timeout=30)
    assert res.returncode == 0, res.stderr
    resp = task_pb2.DeleteResponse.FromString(res.stdout)
    assert (resp.pid, resp.exit_status) == (4242, 137) and resp.exited_at.seconds > 0


def test_version_flag():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    res = subprocess.run([sys.executable, "-c", "import sys; from pyrunc_shim.__main__ import main; "
                          "sys.exit(main())", "-v"], capture_output=True, env=env, timeout=30)
    assert res.returncode == 0 and b"containerd-shim-pyrunc-v1" in res.stdout


def test_jsonlite_matches_json():
    import json
    from pyrunc_shim import jsonlite
    doc = {"ociVersion": "1.0.2", "process": {"args": ["sh", "-c", "echo \"hi\"\n"], "terminal": False,
           "user": {"uid": 0}, "env": ["PATH=/bin", "ü=ß"]}, "n": None, "f": 1.5, "neg": -3,
           "linux": {"namespaces": [{"type": "pid"}, {"type": "mount", "path": ""}]}}
    text = jsonlite.dumps(doc)
    assert json.loads(text) == doc
    assert jsonlite.loads(json.dumps(doc, indent=2)) == doc
    assert jsonlite.loads(b" [1, 2]\n") == [1, 2]
    for bad in ("", "{", "[1] x", "{'a': 1}"):
        with pytest.raises(ValueError):
            jsonlite.loads(bad)


def _run_shim(args, stdin=b"", cwd=None, env_extra=None):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    env.pop("TTRPC_ADDRESS", None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", "import sys; from pyrunc_shim.__main__ import main; "
                           "sys.exit(main())"] + args, input=stdin, capture_output=True, env=env,
                          cwd=cwd, timeout=30)


def test_start_with_bootstrap_params_then_shutdown(tmp_path):
    """containerd >= 2.3 handshake: BootstrapParams in, BootstrapResult out; the daemon it
    leaves behind serves ttrpc (both task service names) and exits on Shutdown."""
    from pyrunc_shim import ttrpc
    from pyrunc_shim.wire import message_class
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text('{"annotations": {}}')
    import shutil
    import tempfile
    sockets = tempfile.mkdtemp(prefix="ps-", dir="/tmp")  # sun_path is limited to 108 bytes
    request_cleanup = lambda: shutil.rmtree(sockets, ignore_errors=True)  # noqa: E731
    params = message_class("containerd.runtime.bootstrap.v1.BootstrapParams")(
        instance_id="c1", namespace="ns1", containerd_ttrpc_address="",
        socket_dir=str(sockets))
    res = _run_shim(["-namespace", "ns1", "-id", "c1", "-address", "/run/x.sock", "start"],
                    stdin=params.SerializeToString(), cwd=bundle)
    assert res.returncode == 0, res.stderr
    result = message_class("containerd.runtime.bootstrap.v1.BootstrapResult").FromString(res.stdout)
    assert result.protocol == "ttrpc" and result.version == 2
    assert result.address.startswith("unix://%s/" % sockets)
    assert (bundle / "address").read_text() == result.address
    client = ttrpc.Client.connect(result.address)
    try:
        conn = client.call("containerd.task.v3.Task", "Connect", task_pb2.ConnectRequest(id="c1"),
                           task_pb2.ConnectResponse, timeout=10)
        assert conn.shim_pid > 0 and conn.task_pid == 0
        client.call("containerd.task.v2.Task", "Shutdown", task_pb2.ShutdownRequest(id="c1"),
                    Package("google.protobuf").Empty, timeout=10)
    finally:
        client.close()
    import time
    path = result.address[len("unix://"):]
    deadline = time.monotonic() + 10
    while os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not os.path.exists(path)
    request_cleanup()


def test_info_reports_runtime_features(tmp_path):
    fake = tmp_path / "fakeruntime"
    fake.write_text('#!/bin/sh\necho \'{"ociVersionMin": "1.0.0", "ociVersionMax": "1.3.0"}\'\n')
    fake.chmod(0o755)
    res = _run_shim(["-info"], env_extra={"PYRUNC_SHIM_RUNTIME": str(fake)})
    assert res.returncode == 0, res.stderr
    from pyrunc_shim.wire import message_class
    info = message_class("containerd.types.RuntimeInfo").FromString(res.stdout)
    assert info.name == "io.containerd.pyrunc.v1"
    assert info.features.type_url.endswith("/features/Features")
    assert b"ociVersionMax" in info.features.value


def test_mount_options_and_lowerdir_compaction():
    from pyrunc_shim import mounts
    flags, prop, data = mounts.parse_options(["ro", "nosuid", "rbind", "rprivate", "index=off",
                                              "lowerdir=/a:/b"])
    assert flags == mounts.MS_RDONLY | mounts.MS_NOSUID | mounts.MS_BIND | mounts.MS_REC
    assert prop == mounts.MS_PRIVATE | mounts.MS_REC and data == "index=off,lowerdir=/a:/b"
    assert mounts.parse_options(["ro", "rw"])[0] == 0
    with pytest.raises(RpcError):
        mounts.parse_options(["X-containerd.mkdir.path=/x"])
    lowers = ["/var/lib/c/snapshots/%d/fs" % i for i in range(3)]
    directory, short = mounts.compact_lowerdir("workdir=/w,upperdir=/u,lowerdir=" + ":".join(lowers))
    assert directory == "/var/lib/c/snapshots"
    assert short == "workdir=/w,upperdir=/u,lowerdir=0/fs:1/fs:2/fs"


def test_legacy_publish_binary(tmp_path):
    """Without TTRPC_ADDRESS events go through `<publish-binary> ... publish` with the Any on stdin."""
    import time
    from pyrunc_shim.events import Publisher
    from pyrunc_shim.wire import message_class
    out = tmp_path / "published"
    fake = tmp_path / "containerd"
    fake.write_text('#!/bin/sh\necho "$@" >> %s.args\ncat >> %s.data\n' % (out, out))
    fake.chmod(0o755)
    pub = Publisher("", "ns1", str(fake), "/run/c.sock", reaper=None)
    pub.publish("TaskStart", container_id="c1", pid=42)
    pub.flush(10)
    args = open("%s.args" % out).read().split()
    assert args == ["--address", "/run/c.sock", "publish", "--topic", "/tasks/start", "--namespace", "ns1"]
    anyv = message_class("google.protobuf.Any").FromString(open("%s.data" % out, "rb").read())
    assert anyv.type_url == "containerd.events.TaskStart"
    assert message_class("containerd.events.TaskStart").FromString(anyv.value).pid == 42
