"""Replace pip's console scripts (pyrunc, the shim) in a venv with lean launchers.

pip's generated script imports `re` and goes through site (and any .pth hooks): ~10 ms more
per call, paid on every container operation. The launcher runs the venv's interpreter with
-I -S (isolated, no site) and puts only the venv's site-packages on sys.path.
"""
import os
import sys
import sysconfig

venv = os.path.abspath(sys.argv[1])
site = sysconfig.get_path("purelib", vars={"base": venv, "platbase": venv})
python = os.path.join(venv, "bin", "python3")
# pyrunc: ops.entry() exits without the interpreter's finalization, and site-packages goes
# first only while ops (which imports builtins and pyrunc modules only) is imported: no listing
# of the stdlib directories to find the package, ~0.2-0.3 ms per call; then last, so that
# nothing installed there can shadow a stdlib module imported later. The shim is a daemon.
PYRUNC = f"""sys.path.insert(0, {site!r})
from pyrunc.ops import entry
del sys.path[0]
sys.path.append({site!r})
entry()
"""
SHIM = f"""sys.path.append({site!r})
from pyrunc_shim.__main__ import main
sys.exit(main())
"""
for name, body in (("pyrunc", PYRUNC), ("containerd-shim-pyrunc-v1", SHIM)):
    script = os.path.join(venv, "bin", name)
    text = f"#!{python} -IS\nimport sys\n{body}"
    tmp = script + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o755)
    os.rename(tmp, script)
    print(f"installed lean launcher {script}")
