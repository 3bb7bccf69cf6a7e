"""pyrunc: an OCI container runtime, a drop-in replacement for runc."""
__version__ = "0.1.0"
SPEC_VERSION = "1.3.0"

# Fault injection, for tests only (tests/robustness/test_faults.py). With
# PYRUNC_TEST_FAULTS=1 and PYRUNC_FAULT=<point>, the process that reaches fault(<point>)
# dies at once, as if SIGKILLed: no cleanup, no message. Points are named where they are
# called ("create-cgroup", "init-pivot", "exec-after-setns", ...). Unused, it costs one
# environment lookup at import and a None test per call; the switch is only read when a
# point is named, so a stray PYRUNC_FAULT alone does nothing.
import posix as _posix  # builtin; `os` is not loaded at startup and costs ~1 ms (oslite.py)

_FAULT = _posix.environ.get(b"PYRUNC_FAULT")


def fault(point):
    if (_FAULT is not None and _FAULT == point.encode()
            and _posix.environ.get(b"PYRUNC_TEST_FAULTS") == b"1"):
        if _posix.getpid() == 1:
            # PID 1 of a namespace ignores SIGKILL sent from inside it: exit as abruptly.
            _posix._exit(137)
        _posix.kill(_posix.getpid(), 9)


def read_all(path, limit=1 << 26, flags=0, sized=False):
    """The bytes of a file up to its end or `limit` (procfs and cgroupfs files, a container's
    /etc/passwd), read in chunks through a bare fd; OSError as os raises it. sized: a
    regular file, whose first read is sized by fstat (the state file, the launcher's packs)."""
    fd = _posix.open(path, _posix.O_RDONLY | _posix.O_CLOEXEC | flags)
    try:
        chunks, size = [], 0
        if sized:
            chunks.append(_posix.read(fd, min(_posix.fstat(fd).st_size + 1, limit)))
            size = len(chunks[0])
            if not chunks[0]:
                return b""
        while size < limit:
            chunk = _posix.read(fd, min(1 << 16, limit - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        _posix.close(fd)
    return b"".join(chunks)


# The launcher's entry (tests/install_launcher.py, `pyrunc.preload` builds the packs).
# An import through importlib costs ~45 µs of machinery per module (finder, stat of the
# source, open and read of its pyc, spec, module locks) before the module's own code runs;
# `pyrunc run` imports ~35 of pyrunc's modules (~1.5-3 ms here). boot() instead reads the
# command's modules from one pack – their code objects in an order where every module's
# imports of other packed modules come before it – and executes them into fresh module
# objects, as importlib would have, then enters ops.entry(). A pack is used only whole and
# only while every source file still has the size and mtime it was built from (as a pyc is
# checked); else, or without a pack, importlib imports everything as usual.

# command -> pack; "+" marks the packs made per cgroup layout (".v1" hybrid/legacy, ".v2")
_PACKS = {"run": "run+", "create": "create+", "exec": "exec+", "state": "ops", "start": "ops",
          "kill": "ops", "delete": "ops", "list": "list"}
_GLOBAL_VALUE_FLAGS = frozenset(f"{d}{n}" for d in ("-", "--")
                                for n in ("root", "log", "log-format", "rootless", "criu"))


def boot(pack_dir):
    import sys
    _preload(pack_dir, _command(sys.argv[1:]))
    from pyrunc.ops import entry
    entry()


def _command(argv):
    """The command name in argv, skipping the global flags (and their values)."""
    value = False
    for a in argv:
        if value:
            value = False
        elif a[:1] == "-":
            value = a in _GLOBAL_VALUE_FLAGS
        else:
            return a
    return None


def _preload(pack_dir, cmd):
    name = _PACKS.get(cmd)
    if name is None:
        return
    if name[-1] == "+":
        try:
            _posix.stat("/sys/fs/cgroup/cgroup.controllers")
            name = name[:-1] + ".v2"
        except OSError:
            name = name[:-1] + ".v1"
    load_pack(f"{pack_dir}/{name}.pack")


def load_pack(path):
    """Execute the modules of the pack at `path` (pyrunc/preload.py) as importlib would
    import them. False, and nothing done, if it is missing, from another Python, or stale."""
    try:
        data = read_all(path, sized=True)
    except OSError:
        return False
    import marshal
    import sys
    from _frozen_importlib import ModuleSpec
    from _frozen_importlib_external import MAGIC_NUMBER, SourceFileLoader
    if data[:4] != MAGIC_NUMBER:
        return False  # made by another Python
    try:
        entries = marshal.loads(memoryview(data)[4:])
    except (EOFError, ValueError, TypeError):
        return False
    for _, source, _, _, mtime_ns, size, _ in entries:
        try:
            st = _posix.stat(source)
        except OSError:
            return False
        if st.st_mtime_ns != mtime_ns or st.st_size != size:
            return False
    modules = sys.modules
    new = type(sys)
    early = {}  # packages made before their body runs (see below)
    for name, source, cached, is_pkg, _, _, code in entries:
        if name in modules and name not in early:
            continue
        parent, _, child = name.rpartition(".")
        if parent and parent not in modules:
            # The package's body imports this module: as with importlib, the package's
            # module exists before its body runs, which comes later in the pack (the
            # builder checks that it does).
            modules[parent] = early[parent] = new(parent)
        module = early.pop(name, None) or new(name)
        d = module.__dict__
        loader = SourceFileLoader(name, source)
        spec = ModuleSpec(name, loader, origin=source, is_package=is_pkg)
        spec.has_location = True
        spec.cached = cached
        d.update(__file__=source, __cached__=cached, __loader__=loader, __spec__=spec,
                 __package__=name if is_pkg else parent)
        if is_pkg:
            d["__path__"] = spec.submodule_search_locations = [source.rpartition("/")[0]]
        modules[name] = module
        try:
            exec(code, d)
        except BaseException:
            del modules[name]
            raise
        if parent:
            setattr(modules[parent], child, module)
    return True
