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
# pyrunc's entry() exits without the interpreter's finalization; the shim is a daemon.
for name, module, func, call in (
        ("pyrunc", "pyrunc.ops", "entry", "entry()"),
        ("containerd-shim-pyrunc-v1", "pyrunc_shim.__main__", "main", "sys.exit(main())")):
    script = os.path.join(venv, "bin", name)
    text = f"""#!{python} -IS
import sys
sys.path.append({site!r})
from {module} import {func}
{call}
"""
    tmp = script + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o755)
    os.rename(tmp, script)
    print(f"installed lean launcher {script}")
