"""The module packs that the launcher preloads (pyrunc.boot), built at install time.

`python -m pyrunc.preload DIR` (tests/install_launcher.py runs it with the launcher's
interpreter) writes DIR/<name>.pack for each pack below: the MAGIC_NUMBER of the Python
that built it, then one marshal of [(module, source path, pyc path, is package, source
mtime_ns, source size, code object), ...] in an order in which each module comes after every
packed module it imports at its top level: the order in which importlib finishes them when
they are imported one after the other, read from `-X importtime`.

The lists are the pyrunc modules that each command imports on this kind of host, no more:
tests/integration/test_hot_path.py compares them with what a real command imports without
the pack. A module missing here is imported by importlib as usual; one listed but not
needed costs its load for nothing. Nothing else of pyrunc imports this module.
"""
import importlib.util
import marshal
import os
import subprocess
import sys

OPS = ("pyrunc.state", "pyrunc.ops")
CLI = OPS + ("pyrunc.cli", "pyrunc.oslite", "pyrunc.errors", "pyrunc.cli.args", "pyrunc.cli.main",
             "pyrunc.log", "pyrunc.cli.common")
# What init's setup needs (create, run) and what exec's tenant needs
INIT = ("pyrunc.process", "pyrunc.native", "pyrunc.capabilities", "pyrunc.jsonfast",
        "pyrunc.hooks", "pyrunc.pathsafe", "pyrunc.lsm", "pyrunc.devices", "pyrunc.mounts",
        "pyrunc.rootfs", "pyrunc.process.sync", "pyrunc.process.init", "pyrunc.container",
        "pyrunc.namespaces", "pyrunc.process.spawn", "pyrunc.cgroups.files", "pyrunc.cgroups")
CREATE = CLI + INIT + ("pyrunc.cli.create", "pyrunc.config", "pyrunc.process.plan")
EXEC = CLI + INIT + ("pyrunc.cli.exec", "pyrunc.cli.foreground", "pyrunc.cgwarm",
                     "pyrunc.process.tenant")
# the cgroup driver and, for create, the limits: per cgroup layout
LIMITS = ("pyrunc.cgroups.convert", "pyrunc.cgroups.devices")
CGROUP = {"v1": ("pyrunc.cgroups.v1",), "v2": ("pyrunc.cgroups.v2",)}
RESOURCES = {"v1": ("pyrunc.cgroups.v1_resources",),
             "v2": ("pyrunc.cgroups.v2_resources", "pyrunc.cgroups.ebpf")}  # device rules

PACKS = {"ops": OPS, "list": CLI + ("pyrunc.cli.list",)}
for _v in ("v1", "v2"):
    PACKS[f"create.{_v}"] = CREATE + LIMITS + CGROUP[_v] + RESOURCES[_v]
    PACKS[f"run.{_v}"] = PACKS[f"create.{_v}"] + ("pyrunc.cli.run",)
    PACKS[f"exec.{_v}"] = EXEC + CGROUP[_v]


def import_order(python, modules, path=()):
    """[(module, source path, is package), ...] for `modules` in the order in which importlib
    finishes them when a fresh `python` (with `path` first on sys.path) imports them one
    after the other, as -X importtime reports it."""
    code = (f"import sys\nsys.path[:0] = {list(path)!r}\n"
            + "".join(f"import {m}\n" for m in modules)
            + f"for m in {list(modules)!r}:\n"
            + "    s = sys.modules[m].__spec__\n"
            + "    print(m, s.submodule_search_locations is not None, s.origin)\n")
    r = subprocess.run([python, "-X", "importtime", "-c", code], capture_output=True,
                       text=True, check=True)
    where = {}
    for line in r.stdout.splitlines():
        m, is_pkg, origin = line.split(" ", 2)
        where[m] = (origin, is_pkg == "True")
    done = [line.rpartition("|")[2].strip() for line in r.stderr.splitlines()
            if line.startswith("import time:") and "|" in line]
    return [(m, *where[m]) for m in done if m in where]


def build(out_dir, packs=PACKS, python=sys.executable, loaded=("pyrunc",), path=()):
    """Write out_dir/<name>.pack for each of `packs` ({name: modules}) as `python` imports
    them. `loaded`: what is imported before a pack is (boot() is in pyrunc/__init__.py)."""
    for name, modules in packs.items():
        wanted = set(modules)
        entries = []
        for m, source, is_pkg in import_order(python, sorted(wanted), path):
            parent = m.rpartition(".")[0]
            if parent and parent not in wanted and parent not in loaded:
                raise SystemExit(f"pack {name}: {m} without its package {parent}")
            st = os.stat(source)
            with open(source, "rb") as f:
                code = compile(f.read(), source, "exec", dont_inherit=True)
            entries.append((m, source, importlib.util.cache_from_source(source), is_pkg,
                            st.st_mtime_ns, st.st_size, code))
        tmp = os.path.join(out_dir, f".{name}.pack.tmp")
        with open(tmp, "wb") as f:
            f.write(importlib.util.MAGIC_NUMBER + marshal.dumps(entries))
        os.rename(tmp, os.path.join(out_dir, f"{name}.pack"))


if __name__ == "__main__":
    build(sys.argv[1])
