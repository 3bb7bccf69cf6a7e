"""pyrunc.oslite (os without importing os, for the create/run/exec path) against the real os and
posixpath: the same answers for str paths, and everything it lacks comes from os."""
import os
import posixpath
import random

import pytest

from pyrunc import oslite

PIECES = ["", "/", "//", "///", ".", "..", "a", "b", "a.b", "/a", "a/", "...", " "]


def _paths(n, seed, longest=6):
    rnd = random.Random(seed)
    for _ in range(n):
        yield "".join(rnd.choice(PIECES) for _ in range(rnd.randint(0, longest)))


@pytest.mark.parametrize("fn", ["normpath", "dirname", "basename", "split", "isabs", "abspath"])
def test_pure_path_functions_match_posixpath(fn):
    for p in _paths(20000, fn):
        assert getattr(oslite.path, fn)(p) == getattr(posixpath, fn)(p), p


def test_join_and_relpath_match_posixpath():
    paths = list(_paths(6000, "join", 4))
    for a, b, c in zip(paths, paths[1:], paths[2:]):
        assert oslite.path.join(a, b) == posixpath.join(a, b), (a, b)
        assert oslite.path.join(a, b, c) == posixpath.join(a, b, c), (a, b, c)
        if a and b:
            assert oslite.path.relpath(a, b) == posixpath.relpath(a, b), (a, b)
            assert oslite.path.relpath(a) == posixpath.relpath(a), a


def test_bytes_and_other_functions_come_from_posixpath():
    assert oslite.path.join(b"/a", b"b") == b"/a/b"
    assert oslite.path.normpath(b"a//b/..") == b"a"
    assert oslite.path.commonpath(["/a/b", "/a/c"]) == "/a"
    assert oslite.path.splitext("x.tar.gz") == ("x.tar", ".gz")


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "x" / "y" / "z").mkdir(parents=True)
    (tmp_path / "x" / "f").write_text("")
    (tmp_path / "l").symlink_to(tmp_path / "x" / "y")
    (tmp_path / "dangling").symlink_to("/nonexistent/pyrunc")
    (tmp_path / "rel").symlink_to("x/./y/..")
    return tmp_path


def test_realpath_matches_posixpath(tree, monkeypatch):
    monkeypatch.chdir(tree)
    for p in ["l/z", "l/../f", "x/./y//z/", "rel", "rel/y", "dangling", "missing/a", "l", ".",
              str(tree / "l" / "z"), "/", "//"]:
        assert oslite.path.realpath(p) == posixpath.realpath(p), p


def test_stat_predicates(tree):
    for p in ["x", "x/f", "l", "dangling", "missing", "x/f/g", "bad\0path"]:
        full = str(tree / p) if "\0" not in p else p
        assert oslite.path.exists(full) == os.path.exists(full), p
        assert oslite.path.isdir(full) == os.path.isdir(full), p
        assert oslite.path.isfile(full) == os.path.isfile(full), p


@pytest.mark.parametrize("topdown", [True, False])
def test_walk_matches_os_walk(tree, topdown):
    def norm(w):
        return sorted((d, sorted(s), sorted(f)) for d, s, f in w)
    assert norm(oslite.walk(str(tree), topdown)) == norm(os.walk(str(tree), topdown))
    assert norm(oslite.walk(str(tree / "missing"))) == []


def test_walk_prunes_what_the_caller_removes(tree):
    seen = []
    for d, subdirs, _ in oslite.walk(str(tree)):
        seen.append(d)
        subdirs[:] = [s for s in subdirs if s != "x"]
    assert str(tree / "x" / "y") not in seen


def test_makedirs(tree):
    leaf = tree / "n" / "o" / "p"
    oslite.makedirs(str(leaf), 0o700)
    assert leaf.is_dir() and (leaf.stat().st_mode & 0o777) == 0o700 & ~_umask()
    oslite.makedirs(str(leaf), exist_ok=True)
    with pytest.raises(FileExistsError):
        oslite.makedirs(str(leaf))
    with pytest.raises(FileExistsError):
        oslite.makedirs(str(tree / "x" / "f"), exist_ok=True)  # a file is in the way
    with pytest.raises(NotADirectoryError):
        oslite.makedirs(str(tree / "x" / "f" / "g"), exist_ok=True)


def _umask():
    old = os.umask(0)
    os.umask(old)
    return old


def test_names_from_posix_and_the_rest_from_os():
    assert oslite.open is os.open and oslite._exit is os._exit and oslite.O_PATH == os.O_PATH
    assert dict(oslite.environ.items()) == dict(os.environ)


def test_environ_is_live(monkeypatch):
    monkeypatch.setenv("PYRUNC_OSLITE_TEST", "é")
    assert oslite.environ.get("PYRUNC_OSLITE_TEST") == "é" == oslite.environ["PYRUNC_OSLITE_TEST"]
    assert "PYRUNC_OSLITE_TEST" in oslite.environ
    monkeypatch.delenv("PYRUNC_OSLITE_TEST")
    assert oslite.environ.get("PYRUNC_OSLITE_TEST", "gone") == "gone"
    with pytest.raises(KeyError):
        oslite.environ["PYRUNC_OSLITE_TEST"]
    assert oslite.fsencode("é\udcff") == os.fsencode("é\udcff")
    assert oslite.fsencode(b"x") == b"x"
    assert oslite.get_exec_path is os.get_exec_path  # not defined here: os's
    assert (oslite.sep, oslite.curdir, oslite.pardir, oslite.devnull) == \
        (os.sep, os.curdir, os.pardir, os.devnull)
