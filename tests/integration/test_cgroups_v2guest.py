"""Runs tests/v2guest/ inside one cgroup-v2-only QEMU guest (and the systemd-driver tests
in a guest with systemd as init). Slow: ~1 min each under TCG; skipped without qemu."""
import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "v2guest"))
import guest  # noqa: E402

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
pytestmark = [pytest.mark.root, pytest.mark.slow]

if os.geteuid() != 0 or not guest.qemu_available() or os.environ.get("PYRUNC_NO_GUEST"):
    pytest.skip("needs root, qemu-system-x86_64 and busybox (or PYRUNC_NO_GUEST is set)", allow_module_level=True)


def _pytest_in_guest(files, env=""):
    py = sys.executable
    path = os.environ.get("PYTHONPATH", "")
    cmd = (f"cd {TOP} && {env} PYTHONPATH={path} PYTHONDONTWRITEBYTECODE=1 {py} -m pytest -q -p no:cacheprovider "
           f"{' '.join(files)} --junitxml=/pyrunc-job/junit.xml")
    return cmd


def _passed(out):
    import re
    m = re.search(r"(\d+) passed", out.strip().splitlines()[-1] if out.strip() else "")
    return int(m.group(1)) if m else 0


def test_v2_guest():
    files = ["tests/v2guest/test_v2_inside.py", "tests/integration/test_cgroups_commands_real.py"]
    env = ""
    if os.environ.get("PYRUNC"):  # the CLI and runc-differential tests too, once integrated
        files += ["tests/integration/test_cgroups_cli.py",
                  "tests/integration/test_hot_path.py::test_each_command_runs_from_its_pack_exactly"]
        env = f"PYRUNC={os.environ['PYRUNC']}"
    rc, out, job = guest.run(_pytest_in_guest(files, env), timeout=240)
    assert rc == 0, f"guest rc={rc} (console: {job}/console.log)\n{out}"
    assert _passed(out) >= 17, out  # a whole module skipping inside the guest is a failure too
    shutil.rmtree(job)  # kept only when something failed


def test_systemd_guest():
    rc, out, job = guest.run(_pytest_in_guest(["tests/v2guest/test_systemd_inside.py", "tests/integration/test_cgroups_commands_real.py"], "PYRUNC_SYSTEMD_GUEST=1"),
                             systemd=True, timeout=240)
    assert rc == 0, f"guest rc={rc} (console: {job}/console.log)\n{out}"
    assert _passed(out) >= 9, out
    shutil.rmtree(job)
