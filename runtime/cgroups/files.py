"""Reading and writing cgroup files, with errors that name the config field at fault.

apply() must never silently skip a field: a missing file means the host cannot honour
it (controller not mounted, kernel without the feature), and a refused write means the
kernel rejected the value. Both become ConfigError carrying the field's JSON pointer.
"""
from pyrunc import oslite as os  # not os: see oslite.py

from pyrunc.errors import CgroupError, ConfigError
from pyrunc.state import read_all

RES = "/linux/resources"


def read(path, default=None):
    """A cgroup file's text, stripped (through a bare fd, as _write_once writes)."""
    try:
        return read_all(path).decode().strip()
    except (FileNotFoundError, ProcessLookupError):
        if default is not None:
            return default
        raise


def read_int(path, default=0):
    v = read(path, "")
    if v in ("", "max"):
        return default
    return int(v)


def read_kv(path):
    """"key value" lines (memory.stat, cpu.stat, memory.events) -> {key: int}."""
    out = {}
    for line in read(path, "").splitlines():
        k, _, v = line.partition(" ")
        try:
            out[k] = int(v)
        except ValueError:
            pass
    return out


def _write_once(path, value):
    """One write(2) through a bare fd: no existence check, buffer or text layer (a container
    start writes ~25 cgroup files; open() in text mode costs ~40 us more each)."""
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def write(path, value):
    """A plain write for the manager's own bookkeeping (procs, freezer)."""
    try:
        _write_once(path, value)
    except OSError as e:
        raise CgroupError(f"write {value!r} to {path}", e) from None


def write_res(directory, name, value, pointer):
    """Write one resource value; the failure names the field, the value and the file."""
    if directory is None:
        raise ConfigError(RES + pointer, f"the controller for {name} is not available on this host")
    path = os.path.join(directory, name)
    try:
        _write_once(path, str(value))
    except FileNotFoundError:
        raise ConfigError(RES + pointer, f"not supported by this host (file {path} does not exist)") from None
    except OSError as e:
        raise ConfigError(RES + pointer, f"the kernel refused {value!r} "
                                         f"(file {path}: {e.strerror})") from None


def write_lines(directory, name, lines, pointer):
    """Files such as io.max or blkio.weight_device take one entry per write."""
    for line in lines:
        write_res(directory, name, line, pointer)


def bad_value(pointer, why):
    return ConfigError(RES + pointer, why)


def enable_controllers(path):
    """In every ancestor below the mount, hand all available controllers down a level."""
    chain = []
    d = os.path.dirname(path)
    while os.path.exists(os.path.join(os.path.dirname(d), "cgroup.controllers")) and d != "/":
        chain.append(d)
        d = os.path.dirname(d)
    chain.append(d)  # the mount root itself
    for anc in reversed(chain):
        ctrls = read(os.path.join(anc, "cgroup.controllers"), "").split()
        have = set(read(os.path.join(anc, "cgroup.subtree_control"), "").split())
        for c in ctrls:
            if c in have:
                continue
            try:
                write(os.path.join(anc, "cgroup.subtree_control"), "+" + c)
            except CgroupError:
                pass  # e.g. a threaded subtree; a field needing it then finds no file
