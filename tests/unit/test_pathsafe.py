"""pyrunc.pathsafe on a temp dir as the root (openat2 needs no privilege)."""
import errno
import os

import pytest

from pyrunc import pathsafe


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    r.mkdir()
    fd = os.open(r, os.O_PATH | os.O_DIRECTORY)
    yield r, fd
    os.close(fd)


def where(rootfd, fd):
    try:
        return pathsafe.path_in_root(rootfd, fd)
    finally:
        os.close(fd)


def test_mkdir_all_plain(root):
    r, fd = root
    assert where(fd, pathsafe.mkdir_all(fd, "/a/b/c")) == "/a/b/c"
    assert (r / "a" / "b" / "c").is_dir()


def test_absolute_symlink_below_the_top_means_the_root(root, tmp_path):
    # a/link -> /x: resolved from the root, not from a/ (and never the host's /x)
    r, fd = root
    (r / "a").mkdir()
    (r / "x").mkdir()
    os.symlink("/x", r / "a" / "link")
    assert where(fd, pathsafe.mkdir_all(fd, "/a/link/y")) == "/x/y"
    assert (r / "x" / "y").is_dir()


@pytest.mark.parametrize("target,made", [
    ("/elsewhere/deep", "/elsewhere/deep"),       # dangling absolute link
    ("../../../../outside", "/outside"),          # `..` stops at the root
    ("sib", "/d/sib"),                            # relative to the link's directory
])
def test_dangling_symlink_target_is_made_inside_the_root(root, tmp_path, target, made):
    r, fd = root
    (r / "d").mkdir()
    os.symlink(target, r / "d" / "link")
    assert where(fd, pathsafe.mkdir_all(fd, "/d/link/sub")) == made + "/sub"
    assert not (tmp_path / "outside").exists() and not os.path.exists("/elsewhere")


def test_make_target_file_through_a_dangling_link(root):
    r, fd = root
    os.symlink("/etc/made-here", r / "f")
    (r / "etc").mkdir()
    assert where(fd, pathsafe.make_target(fd, "/f", False)) == "/etc/made-here"
    assert (r / "etc" / "made-here").is_file()


def test_symlink_loop_is_refused(root):
    r, fd = root
    os.symlink("/b", r / "a")
    os.symlink("/a", r / "b")
    with pytest.raises(OSError) as e:
        pathsafe.mkdir_all(fd, "/a/x")
    assert e.value.errno == errno.ELOOP


def test_a_file_in_the_way_is_not_a_directory(root):
    r, fd = root
    (r / "file").write_text("")
    with pytest.raises(NotADirectoryError):
        pathsafe.mkdir_all(fd, "/file/x")
