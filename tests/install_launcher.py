"""Replace pip's console scripts (pyrunc, the shim) in a venv with lean launchers.

pip's generated script imports `re` and goes through site (and any .pth hooks): ~10 ms more
per call, paid on every container operation. The launchers run the real interpreter through a
symlink in <venv>/lib/pyrunc-boot/ whose `python._pth` file gives the whole sys.path. A ._pth
file also means isolated mode without site (as -I -S) and no bytecode writing, so the pycs are
compiled here. That directory comes first and holds a light `encodings` package
(launcher_encodings.py: ~1 ms less per interpreter start). Then the venv's site-packages, the
extension modules' directory, and the rest of the standard library last: pyrunc,
_cffi_backend and _json are found without a listing of the 200-entry stdlib directory, which
no create, run or exec then needs (~0.1-0.2 ms). site-packages goes last instead if anything
installed there has a standard module's name (it would shadow it). The directory also holds
the module packs that pyrunc.boot preloads for the hot commands (runtime/preload.py); the
launcher enters there.
"""
import compileall
import os
import shutil
import subprocess
import sys
import sysconfig

venv = os.path.abspath(sys.argv[1])
site = sysconfig.get_path("purelib", vars={"base": venv, "platbase": venv})
real = os.path.realpath(os.path.join(venv, "bin", "python3"))
boot = os.path.join(venv, "lib", "pyrunc-boot")
python = os.path.join(boot, "python")
# The standard library's entries, as the bare interpreter has them (no zip that is not there)
std = subprocess.run([real, "-I", "-S", "-c", "import sys; print(*sys.path, sep=chr(10))"],
                     check=True, capture_output=True, text=True).stdout.split()
std = [p for p in std if os.path.exists(p)]
dynload = [p for p in std if p.endswith("/lib-dynload")]  # extension modules only
std = dynload + [p for p in std if p not in dynload]
clash = {n.split(".")[0] for n in os.listdir(site)} & set(sys.stdlib_module_names)
order = [boot] + (std + [site] if clash else [site] + std)
here = os.path.dirname(os.path.abspath(__file__))
shutil.rmtree(boot, ignore_errors=True)
os.makedirs(os.path.join(boot, "encodings"))
os.symlink(real, python)
with open(python + "._pth", "w") as f:
    f.write("\n".join(order) + "\n")
with open(os.path.join(here, "launcher_encodings.py")) as f:
    text = f.read().replace("@STDLIB@", sysconfig.get_path("stdlib"))
with open(os.path.join(boot, "encodings", "__init__.py"), "w") as f:
    f.write(text)
for d in (boot, os.path.join(site, "pyrunc"), os.path.join(site, "pyrunc_shim")):
    compileall.compile_dir(d, quiet=1)
if clash:
    print(f"site-packages after the standard library: {sorted(clash)} would shadow it")
# The module packs pyrunc.boot preloads for the hot commands (pyrunc/preload.py), built by
# the launcher's interpreter from what it imports.
subprocess.run([python, "-m", "pyrunc.preload", boot], check=True)
# pyrunc: boot() preloads the command's modules, then ops.entry() runs it and exits without
# the interpreter's finalization. The shim is a daemon.
PYRUNC = f"""from pyrunc import boot
boot({boot!r})
"""
SHIM = """import sys
from pyrunc_shim.__main__ import main
sys.exit(main())
"""
for name, body in (("pyrunc", PYRUNC), ("containerd-shim-pyrunc-v1", SHIM)):
    script = os.path.join(venv, "bin", name)
    text = f"#!{python}\n{body}"
    tmp = script + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o755)
    os.rename(tmp, script)
    print(f"installed lean launcher {script}")
