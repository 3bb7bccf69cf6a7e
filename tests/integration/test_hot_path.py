"""state/start/kill/delete: the builtins-only path (ops.main) and the full CLI give the same
results, and the hot path stays lean.

`--debug` sends a command line to the full CLI (ops.main leaves it alone), so each case runs
both ways on real containers and compares what a user sees: stdout, the error line, the exit
status and the JSON log line.
"""
import json
import os
import subprocess
import tempfile

import pytest

from rtsupport import PYRUNC

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def _both(pyrunc, *args, logs=(None, None)):
    """(hot path, full CLI) results of the same command."""
    hot = pyrunc(*args, log=logs[0])
    full = pyrunc("--debug", *args, log=logs[1])
    return hot, full


def _created(pyrunc, bundle, cid=None):
    bundle.args("sleep", "100").write()
    r = pyrunc("create", "--bundle", bundle.path, cid or bundle.id)
    assert r.returncode == 0, r.stderr
    return cid or bundle.id


def test_state_same_both_ways(pyrunc, bundle):
    cid = _created(pyrunc, bundle)
    hot, full = _both(pyrunc, "state", cid)
    assert hot.returncode == full.returncode == 0
    assert hot.stdout == full.stdout
    assert json.loads(hot.stdout)["status"] == "created"
    # runc's layout: two-space indent, "owner" last, a newline at the end
    assert hot.stdout.startswith('{\n  "ociVersion": ') and hot.stdout.endswith('  "owner": ""\n}\n')


@pytest.mark.parametrize("args, msg", [
    (("kill", "{id}", "FOO"), "unknown signal 'FOO'"),
    (("start", "{id}"), "cannot start an already running container"),
    (("delete", "{id}"), "cannot delete container {id} that is not stopped: running"),
])
def test_errors_same_both_ways(pyrunc, bundle, tmp_path, args, msg):
    cid = _created(pyrunc, bundle)
    assert pyrunc("start", cid).returncode == 0
    args = [a.format(id=cid) for a in args]
    logs = (str(tmp_path / "hot.json"), str(tmp_path / "full.json"))
    hot, full = _both(pyrunc, *args, logs=logs)
    assert hot.stderr == msg.format(id=cid) + "\n"
    for r, log in zip((hot, full), logs):
        assert r.returncode == 1
        # (--debug adds a traceback before the line)
        assert r.stderr.splitlines()[-1] == msg.format(id=cid)
        errors = [json.loads(x) for x in open(log).read().splitlines()]
        assert [e["msg"] for e in errors if e["level"] == "error"] == [msg.format(id=cid)]
    assert json.loads(pyrunc("state", cid).stdout)["status"] == "running"


def test_lifecycle_on_the_hot_path(pyrunc, bundle):
    cid = _created(pyrunc, bundle)
    pid = json.loads(pyrunc("state", cid).stdout)["pid"]
    assert pyrunc("start", cid).returncode == 0
    assert json.loads(pyrunc("state", cid).stdout)["status"] == "running"
    assert pyrunc("kill", cid, "KILL").returncode == 0
    for _ in range(200):
        if json.loads(pyrunc("state", cid).stdout)["status"] == "stopped":
            break
    assert json.loads(pyrunc("state", cid).stdout)["pid"] == 0
    assert pyrunc("delete", cid).returncode == 0
    assert pyrunc.ids() == []
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    assert not any(os.path.exists(f"/sys/fs/cgroup/{c}{bundle.config['linux']['cgroupsPath']}")
                   for c in os.listdir("/sys/fs/cgroup"))


def test_delete_force_of_a_running_container(pyrunc, bundle):
    cid = _created(pyrunc, bundle)
    assert pyrunc("start", cid).returncode == 0
    r = pyrunc("delete", "-f", cid)
    assert r.returncode == 0, r.stderr
    assert pyrunc.ids() == []
    assert not any(os.path.exists(f"/sys/fs/cgroup/{c}{bundle.config['linux']['cgroupsPath']}")
                   for c in os.listdir("/sys/fs/cgroup"))


def _imported(pyrunc, *args, boot=True):
    """Modules a pyrunc command imports through importlib, from -X importtime (the launcher's
    interpreter). boot=False: without the launcher's preload (pyrunc.boot), which executes
    a pack of modules without importlib."""
    python = _launcher_python()
    entry = [PYRUNC] if boot else ["-c", "from pyrunc.ops import entry; entry()"]
    # stderr to a file: a created container keeps create's stdio open
    with tempfile.TemporaryFile("w+") as err:
        r = subprocess.run([python, "-X", "importtime", "-I", "-S", *entry, "--root",
                            pyrunc.root, *args], stdout=subprocess.DEVNULL, stderr=err,
                           timeout=30)
        err.seek(0)
        lines = err.read().splitlines()
    assert r.returncode == 0, [x for x in lines if not x.startswith("import time:")]
    return {line.split("|")[-1].strip() for line in lines if line.startswith("import time:")}


def _own(mods):
    return {m for m in mods if m.startswith("pyrunc")}


def test_hot_path_imports_builtins_only(pyrunc, bundle):
    """`import os` alone costs ~1 ms, json ~7, the cgroups package ~1: none of them, and no
    pyrunc module beyond the three the path needs, on state/kill/delete."""
    cid = _created(pyrunc, bundle)
    mods = _imported(pyrunc, "state", cid, boot=False)
    assert not mods & {"os", "json", "re", "enum", "pyrunc.cgroups", "pyrunc.errors",
                       "pyrunc.container", "pyrunc.cli.main"}, mods
    assert _own(mods) == {"pyrunc", "pyrunc.ops", "pyrunc.state"}
    mods = _imported(pyrunc, "kill", cid, "KILL", boot=False)
    assert _own(mods) == {"pyrunc", "pyrunc.ops", "pyrunc.state"}
    assert "os" not in mods
    for _ in range(200):
        if json.loads(pyrunc("state", cid).stdout)["status"] == "stopped":
            break
    mods = _imported(pyrunc, "delete", cid, boot=False)
    assert "os" not in mods and "pyrunc.cgroups" not in mods, mods
    assert pyrunc.ids() == []


def test_each_command_runs_from_its_pack_exactly(pyrunc, bundle):
    """The launcher preloads each hot command's modules from a pack (pyrunc/preload.py,
    pyrunc.boot): a pack holds what the command imports without it, no more, and with it
    importlib loads no pyrunc module but the package itself and the cffi extension (nor, for
    run, create and exec, os or struct.py). Here with the v1 (hybrid) layout's packs; the v2
    guest runs it with the v2 ones (test_cgroups_v2guest.py)."""
    from pyrunc.preload import PACKS
    layout = "v2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "v1"

    def check(pack, plain_args, packed_args, between=lambda: None):
        plain = _own(_imported(pyrunc, *plain_args, boot=False)) - {"pyrunc", "pyrunc._native"}
        between()
        assert plain == set(PACKS[pack]), (pack, plain ^ set(PACKS[pack]))
        mods = _imported(pyrunc, *packed_args)
        assert _own(mods) <= {"pyrunc", "pyrunc._native"}, (pack, _own(mods))
        if pack.startswith(("run", "create", "exec")):
            assert not mods & {"os", "struct", "stat", "json", "re", "enum"}, (pack, mods)

    bundle.args("true").write()
    check(f"run.{layout}", ("run", "--bundle", bundle.path, bundle.id + "-1"),
          ("run", "--bundle", bundle.path, bundle.id + "-2"))
    bundle.args("sleep", "100").write()
    check(f"create.{layout}", ("create", "--bundle", bundle.path, bundle.id + "-3"),
          ("create", "--bundle", bundle.path, bundle.id),
          between=lambda: pyrunc("delete", "-f", bundle.id + "-3"))  # the same cgroup
    assert pyrunc("start", bundle.id).returncode == 0
    check(f"exec.{layout}", ("exec", bundle.id, "true"), ("exec", bundle.id, "true"))
    check("ops", ("state", bundle.id), ("state", bundle.id))
    check("ops", ("kill", bundle.id, "CONT"), ("kill", bundle.id, "CONT"))
    check("list", ("list",), ("list",))
    assert pyrunc("delete", "-f", bundle.id).returncode == 0
    assert pyrunc.ids() == []


def _launcher_python():
    with open(PYRUNC) as f:
        return f.readline()[2:].split()[0]


def test_launcher_interpreter_starts_light_and_keeps_every_codec():
    """The launcher's interpreter (install_launcher.py): isolated, no site, and at startup
    neither `codecs` nor the alias table (launcher_encodings.py); every codec still works."""
    code = r"""
import sys
at_start = sorted(m for m in ("codecs", "encodings.aliases", "encodings.utf_8", "os")
                  if m in sys.modules)
import codecs, encodings, io
assert sys.flags.isolated and sys.flags.no_site, sys.flags
# site-packages before the standard library: pyrunc, _cffi_backend, _json found without a
# listing of the stdlib directory (install_launcher.py), and nothing there shadows stdlib
site = [i for i, p in enumerate(sys.path) if p.endswith("site-packages")]
std = sys.path.index("/usr/lib/python%d.%d" % sys.version_info[:2])
assert sys.path[0].endswith("/pyrunc-boot") and site and site[0] < std, sys.path
assert codecs.lookup("UTF-8").name == "utf-8" and codecs.lookup("U8").name == "utf-8"
assert codecs.lookup("latin-1").name == "iso8859-1"
assert "é".encode("cp1252") == b"\xe9" and "x".encode("idna") == b"x"
assert codecs.encode("é", "utf-8") == b"\xc3\xa9" and codecs.decode(b"\xc3\xa9", "utf8") == "é"
assert codecs.getreader("utf-8")(io.BytesIO("é".encode())).read() == "é"
assert encodings.normalize_encoding("a b") == "a_b" and encodings.aliases.aliases["u8"] == "utf_8"
# a character split across reads (the incremental decoder), and stdin
t = io.TextIOWrapper(io.BufferedReader(io.BytesIO("aé€".encode()), 1), encoding="utf-8")
assert t.read(1) + t.read(1) + t.read() == "aé€"
data = sys.stdin.read()
print(at_start, data.upper(), sys.stdout.encoding, sys.getfilesystemencoding())
"""
    r = subprocess.run([_launcher_python(), "-c", code], input="héllo €".encode(),
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == "[] HÉLLO € utf-8 utf-8\n"


def test_create_run_and_exec_load_no_os_and_no_extension_beyond_two(pyrunc, bundle):
    """os (~1 ms: oslite.py), resource, termios and struct (a dlopen or a stdlib directory
    listing each) are not loaded by run and exec; the only extension modules are cffi's
    backend with pyrunc's own, and _json (libseccomp's module too, with linux.seccomp)."""
    bundle.args("true").write()
    mods = _imported(pyrunc, "run", "--bundle", bundle.path, bundle.id)
    assert not mods & {"os", "resource", "termios", "struct", "json", "re", "enum"}, mods
    assert {"_cffi_backend", "pyrunc._native", "_json"} <= mods
    assert "pyrunc._seccomp" not in mods  # libseccomp: only with linux.seccomp
    cid = _created(pyrunc, bundle, bundle.id + "-x")
    assert pyrunc("start", cid).returncode == 0
    mods = _imported(pyrunc, "exec", cid, "true")
    assert not mods & {"os", "resource", "termios", "struct", "json", "re", "enum"}, mods
    assert pyrunc("delete", "-f", cid).returncode == 0
