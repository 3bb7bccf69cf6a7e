"""Pure logic: flag parsing, JSON writing, log lines, signals, ids (no root needed)."""
import json
import signal

import pytest

from pyrunc.cli.args import BOOL, INT, LIST, STR, Flag, parse
from pyrunc.errors import InvalidID, PyruncError, UsageError
from pyrunc.jsonfast import dumps
from pyrunc.log import Logger, rfc3339
from pyrunc.state import check_id

FLAGS = (Flag("bundle,b", STR, ""), Flag("detach,d", BOOL), Flag("preserve-fds", INT),
         Flag("env,e", LIST))


@pytest.mark.parametrize("argv,key,value", [
    (["--bundle", "/x", "id"], "bundle", "/x"),
    (["--bundle=/x", "id"], "bundle", "/x"),
    (["-bundle", "/x", "id"], "bundle", "/x"),
    (["-b", "/x", "id"], "bundle", "/x"),
    (["-d", "id"], "detach", True),
    (["--detach=false", "id"], "detach", False),
    (["--preserve-fds", "2", "id"], "preserve_fds", 2),
    (["-e", "A=1", "--env", "B=2,3", "id"], "env", ["A=1", "B=2,3"]),
])
def test_flag_forms(argv, key, value):
    opts, pos = parse(FLAGS, argv)
    assert opts[key] == value
    assert pos == ["id"]


def test_flags_after_positional_for_plain_commands():
    opts, pos = parse(FLAGS, ["id", "--bundle", "/b"])
    assert pos == ["id"] and opts["bundle"] == "/b"


def test_stop_at_positional_passes_args_through():
    opts, pos = parse(FLAGS, ["-d", "id", "ls", "-la"], stop_at_positional=True)
    assert opts["detach"] and pos == ["id", "ls", "-la"]


def test_unknown_flag():
    with pytest.raises(UsageError, match="flag provided but not defined: -nope"):
        parse(FLAGS, ["--nope"])


def test_missing_value():
    with pytest.raises(UsageError, match="flag needs an argument"):
        parse(FLAGS, ["--bundle"])


@pytest.mark.parametrize("obj", [
    {"a": 1, "b": [True, False, None], "c": {"d": "é\n\"\\\t\x01"}},
    [], {}, "x\u2028y", [1, [2, [3]]], {"emoji": "\U0001F600"},
])
def test_jsonfast_roundtrip(obj):
    assert json.loads(dumps(obj)) == obj
    assert json.loads(dumps(obj, indent=2)) == obj


def test_jsonfast_indent_matches_json_module():
    obj = {"ociVersion": "1.3.0", "id": "x", "pid": 5, "annotations": {"k": "v"}, "l": [1, 2]}
    assert dumps(obj, indent=2) == json.dumps(obj, indent=2)


def test_log_json_line_shape():
    line = Logger(fmt="json").format("error", 'bad "thing"\n')
    obj = json.loads(line)
    assert list(obj) == ["level", "msg", "time"]
    assert obj["msg"] == 'bad "thing"\n'
    assert obj["time"].endswith("Z") and "T" in obj["time"]


def test_log_text_line_shape():
    line = Logger().format("error", 'container "x" gone')
    assert line.startswith('time="') and 'level=error msg="container \\"x\\" gone"' in line


def test_rfc3339_nanos():
    assert rfc3339(1_700_000_000_123_456_789, nanos=True) == "2023-11-14T22:13:20.123456789Z"


@pytest.mark.parametrize("text,num", [("9", 9), ("KILL", 9), ("sigkill", 9), ("SIGTERM", 15),
                                      ("term", 15), ("hup", 1), ("USR1", 10), ("34", 34)])
def test_parse_signal(text, num):
    from pyrunc.ops import parse_signal
    assert parse_signal(text) == num


@pytest.mark.parametrize("text", ["NOPE", "0", "999", "-1", ""])
def test_parse_signal_unknown(text):
    from pyrunc.ops import parse_signal
    with pytest.raises(PyruncError, match="unknown signal"):
        parse_signal(text)


@pytest.mark.parametrize("cid", ["a", "A-b_c+d.e", "0" * 64])
def test_good_ids(cid):
    check_id(cid)


@pytest.mark.parametrize("cid", ["", ".", "..", "a/b", "a b", "é", "a\x00"])
def test_bad_ids(cid):
    with pytest.raises(InvalidID):
        check_id(cid)


def test_signal_table_is_complete():
    from pyrunc.ops import parse_signal
    for s in signal.Signals:
        assert parse_signal(s.name) == s.value
