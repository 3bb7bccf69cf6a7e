"""cffi out-of-line API builds of pyrunc._native and pyrunc._seccomp (libseccomp), plus the
static pyrunc-init helper.

Run by setuptools (setup.py: cffi_modules) at install time. The helper is a tiny static C
program that becomes the container's PID 1 once Python has set the container up; it is
compiled here so that `pip install .` alone yields a complete runtime.
"""
import os
import shutil
import subprocess

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)


def _read(name):
    with open(os.path.join(HERE, name)) as f:
        return f.read()


def build_init_helper(out=os.path.join(TOP, "runtime", "pyrunc-init")):
    """Compile csrc/init.c statically (musl when present: ~20 KiB instead of ~700 KiB)."""
    cc = shutil.which("musl-gcc") or shutil.which("gcc") or "cc"
    cmd = [cc, "-static", "-Os", "-s", "-Wall", "-o", out, os.path.join(HERE, "init.c")]
    subprocess.check_call(cmd)
    return out


ffibuilder = FFI()
ffibuilder.cdef(_read("native.h") + _read("bpf.h") + _read("seccomp.h"))
ffibuilder.set_source("pyrunc._native",
                      _read("native.c") + "\n" + _read("bpf.c") + "\n" + _read("seccomp.c"))
# libseccomp in a module of its own, loaded only for a config with linux.seccomp
seccomp_builder = FFI()
seccomp_builder.cdef(_read("libseccomp.h"))
seccomp_builder.set_source("pyrunc._seccomp", "#include <seccomp.h>\n", libraries=["seccomp"])
build_init_helper()

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
    seccomp_builder.compile(verbose=True)
