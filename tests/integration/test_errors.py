"""Bad input: one clear line, a JSON log line, exit 1, and nothing left behind."""
import json
import os

import pytest

from rtsupport import assert_nothing_left as _assert_nothing_left

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def _log_lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.mark.parametrize("mutate,pointer", [
    (lambda c: c["process"].__setitem__("args", "sh"), "/process/args"),
    (lambda c: c["process"].__setitem__("args", []), "/process/args"),
    (lambda c: c["process"].__setitem__("cwd", "relative"), "/process/cwd"),
    (lambda c: c["process"]["user"].__setitem__("uid", -1), "/process/user/uid"),
    (lambda c: c["process"]["rlimits"].append({"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}),
     "/process/rlimits/1/type"),
    (lambda c: c["process"]["rlimits"].append(dict(c["process"]["rlimits"][0])),
     "/process/rlimits/1/type"),
    (lambda c: c["linux"]["namespaces"].append({"type": "bogus"}), "/linux/namespaces/6/type"),
    (lambda c: c["linux"]["namespaces"].append({"type": "pid"}), "/linux/namespaces/6/type"),
    (lambda c: c["mounts"].append({"destination": 3}), "/mounts/7/destination"),
    (lambda c: c.__setitem__("hostname", 5), "/hostname"),
    (lambda c: c.__setitem__("ociVersion", "2.0.0"), "/ociVersion"),
    (lambda c: c["linux"].__setitem__("sysctl", {"kernel.bogus_thing": "1"}),
     "/linux/sysctl/kernel.bogus_thing"),
    (lambda c: c["linux"].__setitem__("seccomp", {"defaultAction": "SCMP_ACT_FOO"}),
     "/linux/seccomp/defaultAction"),
])
def test_invalid_config_names_the_field(pyrunc, bundle, tmp_path, mutate, pointer):
    mutate(bundle.config)
    bundle.write()
    log = str(tmp_path / "log.json")
    r = pyrunc("create", "--bundle", bundle.path, bundle.id, log=log)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert pointer in r.stderr
    lines = _log_lines(log)
    assert lines[-1]["level"] == "error"
    assert pointer in lines[-1]["msg"]
    assert lines[-1]["msg"].startswith("pyrunc create failed: ")
    assert lines[-1]["time"].endswith("Z")
    _assert_nothing_left(pyrunc, bundle)


def test_malformed_json(pyrunc, bundle, tmp_path):
    with open(os.path.join(bundle.path, "config.json"), "w") as f:
        f.write("{not json")
    r = pyrunc("create", "--bundle", bundle.path, bundle.id)
    assert r.returncode == 1
    assert "config.json: invalid JSON" in r.stderr
    _assert_nothing_left(pyrunc, bundle)


def test_missing_config(runtime, tmp_path):
    d = tmp_path / "empty"
    d.mkdir()
    r = runtime("create", "--bundle", d, "x1")
    assert r.returncode == 1
    assert "config.json not found" in r.stderr
    assert runtime.ids() == []


def test_missing_executable_fails_create(runtime, bundle):
    bundle.args("/no/such/binary").write()
    r = runtime("create", "--bundle", bundle.path, bundle.id)
    assert r.returncode == 1
    assert "no such file or directory" in r.stderr.lower()
    _assert_nothing_left(runtime, bundle)


def test_not_found_in_path(runtime, bundle):
    bundle.args("nosuchcommand").write()
    r = runtime("create", "--bundle", bundle.path, bundle.id)
    assert r.returncode == 1
    assert "executable file not found in $PATH" in r.stderr
    _assert_nothing_left(runtime, bundle)


@pytest.mark.parametrize("cid", ["a b", "../x", "x/y", "..", "a\\b"])
def test_bad_id(runtime, bundle, cid):
    bundle.write()
    r = runtime("create", "--bundle", bundle.path, cid)
    assert r.returncode == 1
    assert "invalid container ID format" in r.stderr


def test_duplicate_id(runtime, bundle):
    bundle.args("sleep", "100").write()
    runtime("create", "--bundle", bundle.path, bundle.id, check=True)
    r = runtime("create", "--bundle", bundle.path, bundle.id)
    assert r.returncode == 1
    assert "container with given ID already exists" in r.stderr
    assert json.loads(runtime("state", bundle.id).stdout)["status"] == "created"


@pytest.mark.parametrize("cmd", [("state",), ("start",), ("kill",), ("delete",),
                                 ("kill", "KILL")])
def test_unknown_container(runtime, cmd):
    r = runtime(cmd[0], "nosuch", *cmd[1:])
    assert r.returncode == 1
    assert "container does not exist" in r.stderr


def test_delete_force_of_missing_succeeds(runtime):
    assert runtime("delete", "--force", "nosuch").returncode == 0


def test_wrong_state_operations(runtime, bundle):
    bundle.args("sleep", "100").write()
    runtime("run", "-d", "--bundle", bundle.path, bundle.id, check=True)
    r = runtime("start", bundle.id)
    assert r.returncode == 1 and "cannot start an already running container" in r.stderr
    runtime("kill", bundle.id, "KILL", check=True)
    import time
    for _ in range(100):
        if json.loads(runtime("state", bundle.id).stdout)["status"] == "stopped":
            break
        time.sleep(0.02)
    r = runtime("start", bundle.id)
    assert r.returncode == 1 and "cannot start a container that has stopped" in r.stderr
    r = runtime("kill", bundle.id, "KILL")
    assert r.returncode == 1 and "container not running" in r.stderr


def test_unknown_signal(runtime, bundle):
    bundle.args("sleep", "100").write()
    runtime("run", "-d", "--bundle", bundle.path, bundle.id, check=True)
    r = runtime("kill", bundle.id, "NOSUCHSIG")
    assert r.returncode == 1
    assert "unknown signal" in r.stderr


def test_wrong_argument_count(runtime):
    r = runtime("start")
    assert r.returncode == 1
    assert "Incorrect Usage." in r.stdout
    assert 'requires exactly 1 argument(s)' in r.stderr


def test_version(pyrunc):
    r = pyrunc("--version")
    lines = r.stdout.splitlines()
    assert lines[0].startswith("pyrunc version ")
    assert lines[1].startswith("commit: ")
    assert lines[2] == "spec: 1.3.0"


def test_failed_create_log_for_containerd(pyrunc, bundle, tmp_path):
    """containerd keeps the last error line's msg: it must carry the reason."""
    bundle.args("nosuchcommand").write()
    log = str(tmp_path / "log.json")
    pyrunc("create", "--bundle", bundle.path, bundle.id, log=log)
    errors = [entry for entry in _log_lines(log) if entry["level"] == "error"]
    assert "executable file not found" in errors[-1]["msg"]
    assert sorted(errors[-1]) == ["level", "msg", "time"]


def test_validate_lists_every_problem(pyrunc, bundle):
    bundle.config["process"]["args"] = []
    bundle.config["process"]["user"]["uid"] = "root"
    bundle.write()
    r = pyrunc("validate", "--bundle", bundle.path)
    assert r.returncode == 1
    assert "config.json /process/args:" in r.stdout
    assert "config.json /process/user/uid:" in r.stdout
    assert "Traceback" not in r.stderr


def test_refused_limit_fails_create_and_leaves_nothing(runtime, bundle):
    """A limit the kernel refuses (cpuset.cpus naming a cpu that does not exist). pyrunc
    writes the limits while init finishes its setup when no terminal or hook needs them
    earlier (process/spawn.py start_init): the failure still fails create, kills init and
    removes everything, as runc does with its earlier write."""
    bundle.args("sleep", "100")
    bundle.config["linux"]["resources"] = {"cpu": {"cpus": "999"}}
    bundle.write()
    r = runtime("create", "--bundle", bundle.path, bundle.id)
    assert r.returncode == 1, r.stderr
    assert "cpuset.cpus" in r.stderr and "numerical result out of range" in r.stderr.lower(), r.stderr
    _assert_nothing_left(runtime, bundle)
