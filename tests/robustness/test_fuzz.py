"""Fuzzing config.json: odd and invalid configs made by mutating a valid one. For each,
`pyrunc create` either makes a correct container (then deleted) or fails with exactly one
line, no traceback, exit status 1 and a JSON log line, leaving nothing behind; `pyrunc
validate` never crashes either.

PYRUNC_FUZZ_EXAMPLES sets the number of examples (default 80; `make fuzz` runs 10,000). The
run is derandomized: the same count gives the same examples, so a failure reproduces.
"""
import copy
import json
import os
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from probsupport import env, make_bundle, new_id, nothing_left
from rtsupport import PYRUNC, Runtime, cgroup_dirs, open_fds

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

EXAMPLES = int(os.environ.get("PYRUNC_FUZZ_EXAMPLES", "80"))


CID = "@@CID@@"  # replaced by each example's container id in the bytes written


def _base():
    b = make_bundle(tempfile.mkdtemp(prefix="prob-fuzz-base-"), CID)
    shutil.rmtree(b.path)
    return b.config


BASE = _base()
# Never mutated: they name host things (the rootfs directory, the cgroup); a junk string
# there could point pyrunc at another user's cgroup or at the host's root. Their own
# errors are covered by tests/integration/test_errors.py.
PROTECTED = ("/root/path", "/linux/cgroupsPath")


def _pointers(obj, prefix=()):
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _pointers(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _pointers(v, prefix + (i,))
    return out


def _pointer_text(path):
    return "".join(f"/{p}" for p in path)


POINTERS = [p for p in _pointers(BASE)
            if p and not any(_pointer_text(p).startswith(x) for x in PROTECTED)]

ODD_INTS = st.sampled_from([-1, 0, 1, -2**31, 2**31, 2**32, 2**32 - 1, 2**63 - 1, 2**63,
                            2**64, 2**64 - 1, -2**63, -2**64, 10**30, -10**30, 10**400])
ODD_STRINGS = st.sampled_from(["", "\x00", "a\x00b", "/", ".", "..", "../../../..", " ",
                               "\n", "é☃𝄞", "\ud800", "\uffff", "x" * 5000, "%s%n",
                               "/proc/self/fd/0", "-1", "true", "{}", "\u202e"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), ODD_INTS,
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30),
                    ODD_STRINGS)
JUNK = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)
KNOWN_KEYS = st.sampled_from(["ociVersion", "process", "root", "hostname", "domainname",
                              "mounts", "hooks", "annotations", "linux", "args", "env",
                              "user", "uid", "gid", "capabilities", "rlimits", "cwd",
                              "namespaces", "resources", "devices", "seccomp", "sysctl",
                              "maskedPaths", "readonlyPaths", "type", "path", "options",
                              "destination", "source", "terminal", "consoleSize"])


def _get(obj, path):
    for p in path:
        obj = obj[p]
    return obj


@st.composite
def mutation(draw):
    """(kind, pointer, value): one change to the parsed config."""
    kind = draw(st.sampled_from(["replace", "replace", "delete", "add", "deep"]))
    path = draw(st.sampled_from(POINTERS))
    if kind == "replace":
        return kind, path, draw(JUNK)
    if kind == "delete":
        return kind, path, None
    if kind == "add":
        return kind, path, (draw(st.one_of(KNOWN_KEYS, st.text(max_size=12))), draw(JUNK))
    return kind, path, draw(st.sampled_from([10, 900, 5000, 100000]))


def _apply(config, muts):
    """Apply mutations; returns {placeholder: raw JSON text} for the deep ones."""
    raw = {}
    for kind, path, value in muts:
        try:
            parent, key = _get(config, path[:-1]), path[-1]
            parent[key]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced it
        if not isinstance(parent, (dict, list)):
            continue  # replaced by a string: indexing works, assignment does not
        if kind == "replace":
            parent[key] = value
        elif kind == "delete":
            del parent[key]
        elif kind == "add":
            target = parent[key]
            if isinstance(target, dict):
                target[value[0]] = value[1]
            elif isinstance(target, list):
                target.append(value[1])
        else:
            mark = f"@@deep{len(raw)}@@"
            raw[mark] = "[" * value + "]" * value if value % 2 == 0 else \
                '{"a":' * value + "1" + "}" * value
            parent[key] = mark
    return raw


@st.composite
def config_bytes(draw):
    """The bytes of a config.json: usually a mutated valid config, sometimes broken JSON."""
    what = draw(st.sampled_from(["mutated"] * 8 + ["bytes", "truncated", "encoding",
                                                    "literal", "huge"]))
    config = copy.deepcopy(BASE)
    text = json.dumps(config)
    if what == "mutated":
        raw = _apply(config, draw(st.lists(mutation(), min_size=1, max_size=3)))
        text = json.dumps(config)
        for mark, deep in raw.items():
            text = text.replace(json.dumps(mark), deep)
        return what, text.encode("utf-8", "surrogatepass")
    if what == "bytes":
        return what, draw(st.binary(max_size=200))
    if what == "truncated":
        return what, text[:draw(st.integers(0, len(text) - 1))].encode()
    if what == "encoding":
        prefix = draw(st.sampled_from([b"\xef\xbb\xbf", b"\xff\xfe", b"\x00", b"\xc3\x28"]))
        at = draw(st.integers(0, len(text)))
        data = text.encode()
        return what, data[:at] + prefix + data[at:]
    if what == "literal":
        lit = draw(st.sampled_from(['NaN', 'Infinity', '-Infinity', '1e999', 'null', '[]',
                                    '"x"', '0', '{"ociVersion":"1.0.0","ociVersion":1}']))
        if lit.startswith("{"):
            return what, lit.encode()
        return what, (text[:-1] + ', "hostname": ' + lit + "}").encode() \
            if draw(st.booleans()) else lit.encode()
    size = draw(st.sampled_from([1 << 20, 16 << 20]))
    config["annotations"] = {"big": "x" * size} if draw(st.booleans()) else \
        {str(i): "y" for i in range(size // 64)}
    return what, json.dumps(config).encode()


_fds = []


def _check_one(data):
    if not _fds:
        _fds.append(open_fds())
    work = tempfile.mkdtemp(prefix="prob-fuzz-")
    cid = new_id("fz")
    rt = Runtime(PYRUNC, os.path.join(work, "root"), env=env())
    b = make_bundle(os.path.join(work, "bundle"), cid)
    with open(os.path.join(b.path, "config.json"), "wb") as f:
        f.write(data.replace(CID.encode(), cid.encode()))
    log = os.path.join(work, "log.json")
    try:
        r = rt("create", "--bundle", b.path, cid, log=log, timeout=120)
        assert "Traceback" not in r.stderr, r.stderr
        if r.returncode == 0:
            st_ = json.loads(rt("state", cid, check=True).stdout)
            assert st_["status"] == "created" and st_["pid"] > 0, st_
            rt("delete", "--force", cid, check=True)
        else:
            assert r.returncode == 1, (r.returncode, r.stderr)
            lines = r.stderr.strip().splitlines()
            assert len(lines) == 1, r.stderr
            assert "internal error" not in r.stderr, r.stderr
            with open(log) as f:
                entries = [json.loads(line) for line in f if line.strip()]
            assert entries and entries[-1]["level"] == "error", entries
            assert entries[-1]["msg"].startswith("pyrunc create failed: "), entries[-1]
            assert entries[-1]["time"].endswith("Z")
        v = rt("validate", "--bundle", b.path, timeout=120)
        assert v.returncode in (0, 1), (v.returncode, v.stderr)
        assert "Traceback" not in v.stderr and "internal error" not in v.stderr, v.stderr
        assert len(v.stderr.strip().splitlines()) <= 1, v.stderr
        # A mutation may have removed cgroupsPath: then the cgroup is <our own>/<id>.
        for line in open("/proc/self/cgroup"):
            own = line.rstrip("\n").split(":", 2)[2]
            assert cgroup_dirs(os.path.join(own, cid)) == [], cid
        nothing_left(rt, b, fds=_fds[0])
    finally:
        for left in rt.ids():
            rt("delete", "--force", left)
        shutil.rmtree(work, ignore_errors=True)


def _mutated(change):
    c = copy.deepcopy(BASE)
    change(c)
    return "regression", json.dumps(c).encode("utf-8", "surrogatepass")


def _deep(n):
    return "regression", json.dumps(BASE).replace(
        '"hostname"', '"x": ' + "[" * n + "]" * n + ', "hostname"').encode()


# Bugs the fuzzing found, kept as fixed examples (each was a traceback, an "internal error"
# line, or a message without its JSON pointer).
REGRESSIONS = [
    _deep(100000),                                                     # RecursionError
    _mutated(lambda c: c["process"].__setitem__("args", ["\ud800"])),  # traceback in log
    _mutated(lambda c: c.__setitem__("hostname", "\udfff")),           # UnicodeEncodeError
    _mutated(lambda c: c["linux"].setdefault("resources", {}).__setitem__(
        "pids", {"limit": "x"})),                                       # TypeError
    _mutated(lambda c: c["linux"].setdefault("resources", {}).__setitem__(
        "memory", {"limit": 2**70})),                                   # stage killed
    _mutated(lambda c: c["linux"].__setitem__("devices", [
        {"path": "/dev/x", "type": "c", "major": 2**40, "minor": 1}])),  # OverflowError
    _mutated(lambda c: c["mounts"][0].__setitem__("destination", "/a\x00b")),  # no pointer
    _mutated(lambda c: c["linux"].__setitem__("sysctl", {"net.a\x00": "1"})),
    _mutated(lambda c: c.__setitem__("hostname", "h" * 65)),            # no pointer
    _mutated(lambda c: c.__setitem__("ociVersion", {"\r\x00": None})),   # two lines
]


def _with_regressions(test):
    for case in REGRESSIONS:
        test = example(case)(test)
    return test


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck), print_blob=True)
@given(config_bytes())
@_with_regressions
def test_fuzz_config(case):
    _check_one(case[1])
