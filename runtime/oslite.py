"""`os` for the create, run and exec path, without importing os.

The launcher's interpreter has not loaded `os` (no site); importing it costs ~1 ms here, most
of it in its `_collections_abc`, once on every create, run and exec. The modules on that path
do `from pyrunc import oslite as os`: the same names, taken from the builtin `posix` module
(which is what os re-exports), plus the few Python-level helpers the path uses: os.path's
join, dirname, basename, split, isabs, normpath, abspath, exists, isdir, isfile, realpath and
relpath for str paths, makedirs, walk, fsencode, and `environ` (reads; writes go to
os.environ). Anything else, and any bytes or PathLike argument, is handed to the real os /
posixpath, imported then. That import stays safe inside a container's mount namespace: os
and everything it imports are frozen into the interpreter in 3.11, nothing is read from the
file system.
"""
from posix import *  # noqa: F401,F403  (os's own functions and constants)
from posix import _exit, environ as _benv  # noqa: F401
import posix as _posix

sep = "/"
curdir = "."
pardir = ".."
devnull = "/dev/null"
SEEK_SET, SEEK_CUR, SEEK_END = 0, 1, 2
name = "posix"


def _enc(s):
    return s.encode("utf-8", "surrogateescape")


def _dec(b):
    return b.decode("utf-8", "surrogateescape")


class _Environ:
    """os.environ's reading side, live over posix.environ (which os.environ also writes
    through); any other use (setting, pop, update, ...) is the real os.environ's."""

    def get(self, key, default=None):
        value = _benv.get(_enc(key))
        return default if value is None else _dec(value)

    def __getitem__(self, key):
        value = _benv.get(_enc(key))
        if value is None:
            raise KeyError(key)
        return _dec(value)

    def __contains__(self, key):
        return _enc(key) in _benv

    def __iter__(self):
        return iter([_dec(k) for k in _benv])

    def __len__(self):
        return len(_benv)

    def keys(self):
        return [_dec(k) for k in _benv]

    def items(self):
        return [(_dec(k), _dec(v)) for k, v in _benv.items()]

    def copy(self):
        return dict(self.items())

    def __getattr__(self, attr):
        import os
        return getattr(os.environ, attr)

    def __setitem__(self, key, value):
        import os
        os.environ[key] = value

    def __delitem__(self, key):
        import os
        del os.environ[key]


environ = _Environ()


def __getattr__(attr):
    import os
    return getattr(os, attr)


def _std(attr):
    import posixpath
    return getattr(posixpath, attr)


def fsencode(filename):
    if filename.__class__ is str:
        return filename.encode("utf-8", "surrogateescape")
    if filename.__class__ is bytes:
        return filename
    import os
    return os.fsencode(filename)


def makedirs(name, mode=0o777, exist_ok=False):
    """os.makedirs: missing parents with the default mode, the leaf with `mode`."""
    if name.__class__ is not str:
        import os
        return os.makedirs(name, mode, exist_ok)
    try:
        _posix.mkdir(name, mode)
        return
    except FileNotFoundError:
        parent = _dirname(name.rstrip("/"))
        if not parent or parent == name:
            raise
        makedirs(parent, exist_ok=True)
    except OSError:
        if exist_ok and _isdir(name):
            return
        raise
    try:
        _posix.mkdir(name, mode)
    except OSError:
        if exist_ok and _isdir(name):
            return
        raise


def walk(top, topdown=True, onerror=None, followlinks=False):
    """os.walk for a str top (cgroup trees): scandir errors go to onerror, or are ignored."""
    if top.__class__ is not str:
        import os
        yield from os.walk(top, topdown, onerror, followlinks)
        return
    try:
        with _posix.scandir(top) as it:
            entries = list(it)
    except OSError as e:
        if onerror is not None:
            onerror(e)
        return
    dirs, files, descend = [], [], []
    for e in entries:
        try:
            is_dir = e.is_dir()
        except OSError:
            is_dir = False
        if not is_dir:
            files.append(e.name)
            continue
        dirs.append(e.name)
        try:
            link = e.is_symlink()
        except OSError:
            link = False
        if followlinks or not link:
            descend.append(e.name)
    if topdown:
        yield top, dirs, files
        descend = [d for d in dirs if d in descend]  # the caller may prune dirs
    for d in descend:
        yield from walk(_join(top, d), topdown, onerror, followlinks)
    if not topdown:
        yield top, dirs, files


def _join(a, *rest):
    if a.__class__ is not str:
        return _std("join")(a, *rest)
    out = a
    for part in rest:
        if part.__class__ is not str:
            return _std("join")(a, *rest)
        if part[:1] == "/":
            out = part
        elif not out or out[-1] == "/":
            out += part
        else:
            out += "/" + part
    return out


def _split(p):
    if p.__class__ is not str:
        return _std("split")(p)
    cut = p.rfind("/") + 1
    head, tail = p[:cut], p[cut:]
    if head.strip("/"):
        head = head.rstrip("/")
    return head, tail


def _dirname(p):
    return _split(p)[0]


def _basename(p):
    if p.__class__ is not str:
        return _std("basename")(p)
    return p[p.rfind("/") + 1:]


def _isabs(p):
    if p.__class__ is not str:
        return _std("isabs")(p)
    return p[:1] == "/"


def _normpath(p):
    if p.__class__ is not str:
        return _std("normpath")(p)
    if not p:
        return "."
    # POSIX keeps exactly two leading slashes; one, or three and more, mean the root.
    lead = 2 if p[:2] == "//" and p[2:3] != "/" else (1 if p[:1] == "/" else 0)
    parts = []
    for c in p.split("/"):
        if c == "" or c == ".":
            continue
        if c == ".." and parts and parts[-1] != "..":
            parts.pop()
        elif c != ".." or not lead:
            parts.append(c)
    return "/" * lead + "/".join(parts) or "."


def _abspath(p):
    if p.__class__ is not str:
        return _std("abspath")(p)
    if p[:1] != "/":
        p = _join(_posix.getcwd(), p)
    return _normpath(p)


def _exists(p):
    try:
        _posix.stat(p)
    except (OSError, ValueError):
        return False
    return True


def _mode_is(p, kind):
    try:
        return _posix.stat(p).st_mode & 0o170000 == kind
    except (OSError, ValueError):
        return False


def _isdir(p):
    return _mode_is(p, 0o040000)


def _isfile(p):
    return _mode_is(p, 0o100000)


def _realpath(p):
    """posixpath.realpath for a path that exists: the kernel resolves it (O_PATH) and
    /proc/self/fd names the result. Anything else goes to posixpath."""
    if p.__class__ is str:
        try:
            fd = _posix.open(p, _posix.O_PATH | _posix.O_CLOEXEC)
        except (OSError, ValueError):
            fd = -1
        if fd >= 0:
            try:
                resolved = _posix.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                resolved = ""
            finally:
                _posix.close(fd)
            if resolved[:1] == "/" and not resolved.endswith(" (deleted)"):
                return resolved
    return _std("realpath")(p)


def _relpath(p, start=None):
    if p.__class__ is not str or not (start is None or start.__class__ is str) or not p:
        return _std("relpath")(p, start)
    to = [c for c in _abspath(p).split("/") if c]
    frm = [c for c in _abspath(start or ".").split("/") if c]
    common = 0
    while common < len(to) and common < len(frm) and to[common] == frm[common]:
        common += 1
    rel = [".."] * (len(frm) - common) + to[common:]
    return "/".join(rel) if rel else "."


class _Path:
    """os.path: the functions above; anything else is posixpath's."""
    sep = "/"
    curdir = "."
    pardir = ".."
    join = staticmethod(_join)
    split = staticmethod(_split)
    dirname = staticmethod(_dirname)
    basename = staticmethod(_basename)
    isabs = staticmethod(_isabs)
    normpath = staticmethod(_normpath)
    abspath = staticmethod(_abspath)
    exists = staticmethod(_exists)
    isdir = staticmethod(_isdir)
    isfile = staticmethod(_isfile)
    realpath = staticmethod(_realpath)
    relpath = staticmethod(_relpath)

    def __getattr__(self, attr):
        return _std(attr)


path = _Path()
