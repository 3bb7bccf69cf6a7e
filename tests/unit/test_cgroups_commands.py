"""Pure parts of update/events/ps: flag conversion, merge rules, durations, ps filtering."""
import pytest

from pyrunc.cli import events, ps, update


class Log:
    def __init__(self):
        self.lines = []

    def warning(self, m):
        self.lines.append(m)


def opts(**kw):
    base = {f[0].replace("-", "_"): "" for f in update.FIELDS}
    base.update(kw)
    return base


def test_from_flags_units_and_unlimited_swap():
    r = update.from_flags(opts(memory="-1", cpu_share="512", pids_limit="10", cpuset_cpus="0"), Log())
    assert r == {"memory": {"limit": -1, "swap": -1}, "cpu": {"shares": 512, "cpus": "0"}, "pids": {"limit": 10}}
    assert update.from_flags(opts(memory="512m"), Log()) == {"memory": {"limit": 512 << 20}}


def test_kernel_memory_warns_and_is_ignored():
    log = Log()
    assert update.from_flags(opts(kernel_memory="1g"), log) == {}
    assert log.lines


def test_merge_zero_unchanged_devices_untouched():
    stored = {"memory": {"limit": 100, "swappiness": 30}, "cpu": {"shares": 2}, "devices": [{"allow": False}]}
    upd = {"memory": {"limit": 0, "swap": 300, "swappiness": 0}, "cpu": {"quota": 5000},
           "devices": [{"allow": True}], "pids": {"limit": 7}}
    m = update.merge(stored, upd)
    assert m == {"memory": {"limit": 100, "swap": 300, "swappiness": 0}, "cpu": {"shares": 2, "quota": 5000},
                 "devices": [{"allow": False}], "pids": {"limit": 7}}
    assert stored["memory"] == {"limit": 100, "swappiness": 30}  # not mutated


@pytest.mark.parametrize("text,sec", [("5s", 5), ("1m30s", 90), ("250ms", 0.25), ("1h", 3600), ("1.5s", 1.5)])
def test_go_durations(text, sec):
    assert events.parse_duration(text) == pytest.approx(sec)


@pytest.mark.parametrize("bad", ["", "5", "s", "5x"])
def test_bad_durations(bad):
    with pytest.raises(ValueError):
        events.parse_duration(bad)


def test_ps_table_filters_by_pid_column(monkeypatch):
    import subprocess

    class R:
        stdout = "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00 init\nroot 42 1 0 10:00 ? 00:00 sleep 9\n"
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: R())
    assert ps.table([42], ["-ef"]) == "UID PID PPID C STIME TTY TIME CMD\nroot 42 1 0 10:00 ? 00:00 sleep 9\n"
