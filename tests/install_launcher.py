"""Replace pip's `pyrunc` console script in a venv with a lean launcher.

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
script = os.path.join(venv, "bin", "pyrunc")
text = f"""#!{python} -IS
import sys
sys.path.append({site!r})
from pyrunc.__main__ import main
sys.exit(main())
"""
tmp = script + ".tmp"
with open(tmp, "w") as f:
    f.write(text)
os.chmod(tmp, 0o755)
os.rename(tmp, script)
print(f"installed lean launcher {script}")
