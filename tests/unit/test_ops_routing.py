"""Which command lines ops.main takes (the builtins-only hot path) and which it leaves to the
full CLI untouched. Pure argv logic: no root, no container."""
import pytest

from pyrunc import ops


@pytest.mark.parametrize("argv, want", [
    (["--root", "/r", "state", "c"], ("/r", "", "text", "state", ["c"])),
    (["--root=/r", "state", "c"], ("/r", "", "text", "state", ["c"])),
    (["-root", "/r", "kill", "c", "9"], ("/r", "", "text", "kill", ["c", "9"])),
    (["--root", "/r", "--log", "/l", "--log-format", "json", "delete", "-f", "c"],
     ("/r", "/l", "json", "delete", ["-f", "c"])),
    (["start", "c"], ("/run/pyrunc", "", "text", "start", ["c"])),
])
def test_usual_forms_are_taken(argv, want, monkeypatch):
    monkeypatch.setattr(ops.posix, "geteuid", lambda: 0)
    assert ops._global_flags(argv) == want


@pytest.mark.parametrize("argv", [
    ["--debug", "--root", "/r", "state", "c"],      # tracebacks: the full CLI
    ["--systemd-cgroup", "state", "c"],
    ["--root", "relative", "state", "c"],           # made absolute by the full CLI
    ["--root", "/", "state", "c"],                  # an error the full CLI reports
    ["--log-format", "xml", "state", "c"],
    ["--root"],
    ["--root", "/r", "list"],
    ["--root", "/r", "create", "c"],
    ["--root", "/r"],
    ["--version"],
    ["-", "state", "c"],
])
def test_other_forms_go_to_the_full_cli(argv):
    assert ops._global_flags(argv) is None


def test_rootless_default_root_goes_to_the_full_cli(monkeypatch):
    monkeypatch.setattr(ops.posix, "geteuid", lambda: 1000)
    monkeypatch.setitem(ops.posix.environ, b"XDG_RUNTIME_DIR", b"/run/user/1000")
    assert ops._global_flags(["state", "c"]) is None


@pytest.mark.parametrize("argv", [
    ["--root", "/nonexistent-root", "kill", "--all", "c"],   # a flag of kill: full CLI
    ["--root", "/nonexistent-root", "delete", "--force=false", "c"],
    ["--root", "/nonexistent-root", "state"],                # wrong count: runc's usage text
    ["--root", "/nonexistent-root", "state", "a", "b"],
    ["--root", "/nonexistent-root", "kill", "c", "9", "x"],
    ["--root", "/nonexistent-root", "state", "bad/id"],      # the full CLI says why
    ["--root", "/nonexistent-root", "state", "c"],           # no state: the full CLI says so
])
def test_nothing_done_when_not_taken(argv):
    assert ops.main(argv) is None
