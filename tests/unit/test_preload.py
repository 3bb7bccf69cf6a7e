"""pyrunc.load_pack (the launcher's preload, runtime/__init__.py) and the packs that
pyrunc/preload.py builds: on a toy package, in fresh interpreters, without root."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from pyrunc import preload

TOY = {
    # the package's body imports a submodule: its module exists before its body runs
    "toypkg/__init__.py": "from toypkg.b import B\nNAME = __name__\n",
    "toypkg/a.py": "A = 1\n",
    "toypkg/b.py": "from toypkg import a\nB = a.A + 1\n",
    "toypkg/sub/__init__.py": "",
    "toypkg/sub/c.py": "import toypkg.b\nC = toypkg.b.B + 1\nHERE = __file__\n",
    "toypkg/late.py": "L = 'not packed'\n",
}
MODULES = ("toypkg", "toypkg.a", "toypkg.b", "toypkg.sub", "toypkg.sub.c")

CHECK = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import pyrunc
    loaded = pyrunc.load_pack(sys.argv[2])
    before = sorted(m for m in sys.modules if m.startswith("toypkg"))
    import toypkg.sub.c, toypkg.late
    import importlib
    m = sys.modules["toypkg.sub.c"]
    print(json.dumps({
        "loaded": loaded, "before": before, "C": m.C, "here": m.HERE, "name": toypkg.NAME,
        "attr": toypkg.sub.c is m and toypkg.b.a is toypkg.a,
        "spec": [m.__spec__.name, m.__spec__.origin, m.__spec__.cached, m.__cached__,
                 m.__package__, m.__loader__.get_filename("toypkg.sub.c")],
        "pkg": [toypkg.__path__, toypkg.sub.__spec__.submodule_search_locations,
                toypkg.__package__],
        "late": toypkg.late.L,
        "reload": importlib.reload(toypkg.a).A}))
""")


@pytest.fixture
def toy(tmp_path):
    src = tmp_path / "src"
    for rel, text in TOY.items():
        p = src / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    out = tmp_path / "out"
    out.mkdir()
    preload.build(str(out), {"t": MODULES}, python=sys.executable, loaded=(), path=[str(src)])
    return src, out / "t.pack"


def _check(src, pack):
    r = subprocess.run([sys.executable, "-I", "-c", CHECK, str(src), str(pack)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_pack_modules_are_what_importlib_would_have_made(toy):
    src, pack = toy
    out = _check(src, pack)
    assert out["loaded"] is True
    assert out["before"] == sorted(MODULES)  # all of them, before any import statement
    c = str(src / "toypkg/sub/c.py")
    assert out["C"] == 3 and out["here"] == c and out["name"] == "toypkg" and out["attr"]
    cached = str(src / "toypkg/sub/__pycache__" / f"c.{sys.implementation.cache_tag}.pyc")
    assert out["spec"] == ["toypkg.sub.c", c, cached, cached, "toypkg.sub", c]
    assert out["pkg"] == [[str(src / "toypkg")], [str(src / "toypkg/sub")], "toypkg"]
    # a module outside the pack still imports through importlib, and reload works
    assert out["late"] == "not packed" and out["reload"] == 1


def test_a_stale_pack_is_not_used(toy):
    src, pack = toy
    (src / "toypkg/a.py").write_text("A = 10\n")  # another size: not what was packed
    out = _check(src, pack)
    assert out["loaded"] is False and out["before"] == [] and out["C"] == 12
    st = os.stat(src / "toypkg/b.py")
    os.utime(src / "toypkg/b.py", ns=(st.st_atime_ns, st.st_mtime_ns + 1))  # same size
    assert _check(src, pack)["loaded"] is False


@pytest.mark.parametrize("damage", ["magic", "truncated", "missing"])
def test_a_damaged_or_missing_pack_is_not_used(toy, damage):
    src, pack = toy
    data = pack.read_bytes()
    if damage == "magic":
        pack.write_bytes(b"\0\0\0\0" + data[4:])
    elif damage == "truncated":
        pack.write_bytes(data[: len(data) // 2])
    else:
        pack.unlink()
    out = _check(src, pack)
    assert out["loaded"] is False and out["before"] == [] and out["C"] == 3


def test_a_pack_needs_its_packages(tmp_path):
    src = tmp_path / "src"
    for rel, text in TOY.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    with pytest.raises(SystemExit, match="toypkg.sub.c without its package toypkg.sub"):
        preload.build(str(tmp_path), {"t": ("toypkg", "toypkg.a", "toypkg.b", "toypkg.sub.c")},
                      python=sys.executable, loaded=(), path=[str(src)])


@pytest.mark.parametrize("argv,cmd", [
    (["run", "x"], "run"),
    (["--root", "/r", "--log", "/l", "--log-format", "json", "create", "-b", "b", "x"], "create"),
    (["--root=/r", "--debug", "--systemd-cgroup", "exec", "x", "true"], "exec"),
    (["-root", "/r", "--rootless", "true", "--criu", "c", "state", "x"], "state"),
    (["--version"], None),
    ([], None),
])
def test_command_is_found_past_the_global_flags(argv, cmd):
    import pyrunc
    assert pyrunc._command(argv) == cmd


def test_every_pack_lists_only_existing_modules_with_their_packages():
    import importlib.util
    for name, modules in preload.PACKS.items():
        for m in modules:
            assert importlib.util.find_spec(m) is not None, (name, m)
            parent = m.rpartition(".")[0]
            assert parent == "pyrunc" or parent in modules, (name, m)
