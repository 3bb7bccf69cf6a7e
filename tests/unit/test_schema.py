"""pyrunc's own config schema (used by `pyrunc validate`)."""
import copy

from pyrunc.cli.spec import default_spec
from pyrunc.schema import errors


def test_default_spec_passes():
    assert errors(default_spec()) == []


def test_pointers_of_violations():
    c = copy.deepcopy(default_spec())
    c["process"]["args"] = []
    c["process"]["user"]["uid"] = -5
    c["linux"]["namespaces"].append({"type": "bogus"})
    del c["root"]
    pointers = [p for p, _ in errors(c)]
    assert "/process/args" in pointers
    assert "/process/user/uid" in pointers
    assert "/linux/namespaces/6/type" in pointers
    assert "/" in pointers  # root is required
