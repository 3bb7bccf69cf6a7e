"""State files and status computation, on a temp dir."""
import os

import pytest

from pyrunc import state
from pyrunc.container import write_pid_file
from pyrunc.errors import ContainerNotFound


def make(tmp_path, **extra):
    data = {"id": "c1", "pid": os.getpid(), "start_time": state.proc_stat(os.getpid())[1],
            "bundle": "/b", "rootfs": "/b/rootfs", "created": "2020-01-01T00:00:00.000000000Z",
            "config": {"ociVersion": "1.3.0", "annotations": {"a": "b"}}, "cgroup": None}
    data.update(extra)
    os.makedirs(tmp_path / "c1")
    c = state.Container(str(tmp_path), data)
    c.save()
    return c


def test_roundtrip_and_running_status(tmp_path):
    make(tmp_path)
    c = state.load(str(tmp_path), "c1")
    assert c.status() == "running"
    s = c.oci_state()
    assert list(s) == ["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created",
                       "annotations"]


def test_created_while_fifo_exists(tmp_path):
    c = make(tmp_path)
    os.mkfifo(tmp_path / "c1" / state.FIFO)
    assert c.status() == "created"


def test_recycled_pid_is_stopped(tmp_path):
    c = make(tmp_path, start_time=1)
    assert c.status() == "stopped"
    assert c.oci_state()["pid"] == 0


def test_missing_is_not_found(tmp_path):
    with pytest.raises(ContainerNotFound):
        state.load(str(tmp_path), "nope")


def test_pid_file_is_digits_without_newline(tmp_path):
    p = tmp_path / "x.pid"
    write_pid_file(str(p), 1234)
    assert p.read_bytes() == b"1234"
    write_pid_file(str(p), 99)
    assert p.read_bytes() == b"99"
    assert sorted(os.listdir(tmp_path)) == ["x.pid"]
