"""A container's state directory: <root>/<id>/{state, exec.fifo}.

The state file is private to pyrunc and written with marshal (builtin, no import cost; the
JSON module alone would cost a `pyrunc state` ~7 ms) through a temp file and rename. The
status is never stored: it is computed on each call from the init process (pid plus its
start time, so a recycled pid is not mistaken for init), the exec fifo and the freezer.

Only builtin modules here (posix, not os: `import os` alone costs ~1 ms, more than all the
rest a `pyrunc state` spends above the bare interpreter; see ops.py), and errors imported
where they are raised.
"""
import marshal
import posix

from pyrunc import read_all  # noqa: F401  (its home: the launcher reads its packs with it)

STATE_FILE = "state"
FIFO = "exec.fifo"
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+.-")

CREATED, RUNNING, PAUSED, STOPPED = "created", "running", "paused", "stopped"
CREATING = "creating"  # only shown by state/list: commands see a partial state as stopped


def valid_id(cid):
    return bool(cid) and cid not in (".", "..") and _ID_CHARS.issuperset(cid)


def check_id(cid):
    if not valid_id(cid):
        from pyrunc.errors import InvalidID
        raise InvalidID()


def read_file(path, size=1 << 20):
    """The bytes of a small file (procfs, cgroupfs, the state file); OSError as os raises it."""
    fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    try:
        return posix.read(fd, size)
    finally:
        posix.close(fd)


def exists(path):
    try:
        posix.stat(path)
        return True
    except OSError:
        return False


def proc_stat(pid):
    """(state letter, start time in clock ticks) of a pid, or None if it is gone."""
    try:
        data = read_file(f"/proc/{pid}/stat", 4096)
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = data[data.rfind(b")") + 2:].split()
    return fields[0].decode(), int(fields[19])


def creator_alive(data):
    """A partial state (see container.create) whose `pyrunc create` is still running."""
    creator = data.get("creator")
    if not creator:
        return False
    stat = proc_stat(creator[0])
    return stat is not None and stat[0] != "Z" and stat[1] == creator[1]


class Container:
    """The stored facts about one container and the operations on its status."""

    def __init__(self, root, data):
        self.root = root
        self.data = data
        self.id = data["id"]
        self.dir = f"{root.rstrip('/')}/{self.id}"

    @property
    def pid(self):
        return self.data.get("pid", 0)

    @property
    def config(self):
        return self.data["config"]

    @property
    def bundle(self):
        return self.data["bundle"]

    def init_alive(self):
        st = proc_stat(self.pid) if self.pid else None
        return st is not None and st[0] != "Z" and st[1] == self.data.get("start_time")

    def cgroup_manager(self):
        if not self.data.get("cgroup"):
            from pyrunc.errors import PyruncError
            raise PyruncError(f"container {self.id} has no cgroup (a rootless container "
                              f"without a cgroup it may create)")
        from pyrunc.cgroups import load_manager
        return load_manager(self.data.get("cgroup") or {})

    def status(self):
        if not self.init_alive():
            return STOPPED
        if self.data.get("cgroup"):
            try:
                if _frozen(self.data["cgroup"]):
                    return PAUSED
            except OSError:
                pass
        if exists(f"{self.dir}/{FIFO}"):
            return CREATED
        return RUNNING

    def save(self, commit=True):
        """Write the state atomically (a new file, renamed over the old); with commit=False
        only write the new file, and commit() renames it later."""
        try:
            with open(f"{self.dir}/.{STATE_FILE}.tmp", "wb") as f:
                marshal.dump(self.data, f)
        except OSError as e:
            raise self._save_error(e) from None
        if commit:
            self.commit()

    def commit(self):
        try:
            posix.rename(f"{self.dir}/.{STATE_FILE}.tmp", f"{self.dir}/{STATE_FILE}")
        except OSError as e:
            raise self._save_error(e) from None

    def _save_error(self, e):
        # e.g. a `delete --force` racing a create removed the half-made directory
        # (tests/robustness: this was an "internal error: FileNotFoundError")
        from pyrunc.errors import SyscallError
        return SyscallError(f"write container state in {self.dir}", e)

    def oci_state(self, status=None):
        """The runtime-spec state object (runc's field order)."""
        status = status or self.status()
        if status == STOPPED and creator_alive(self.data):
            status = CREATING
        out = {
            "ociVersion": self.config.get("ociVersion", ""),
            "id": self.id,
            "pid": self.pid if status != STOPPED else 0,
            "status": status,
            "bundle": self.bundle,
            "rootfs": self.data["rootfs"],
            "created": self.data["created"],
        }
        ann = self.config.get("annotations")
        if ann:
            out["annotations"] = ann
        return out


def _frozen(saved):
    """Manager.is_frozen() read straight from the saved cgroup facts: `state`, `start`,
    `kill` and `delete` need only this, and the cgroups package costs ~1 ms to import."""
    if saved.get("driver") == "systemd":
        return _frozen(saved.get("inner") or {})
    if "paths" in saved:
        d = saved["paths"].get("freezer")
        path, want = (f"{d}/freezer.state", ("FROZEN", "FREEZING")) if d else (None, ())
    elif saved.get("path"):
        path, want = f"{saved['path']}/cgroup.freeze", ("1",)
    else:
        path = None
    if path is None:
        return False
    try:
        return read_file(path, 64).decode().strip() in want
    except FileNotFoundError:
        return False


def read(root, cid):
    """The stored state of container `cid` under `root`, or None when there is none."""
    try:
        return marshal.loads(read_all(f"{root.rstrip('/')}/{cid}/{STATE_FILE}", sized=True))
    except (FileNotFoundError, NotADirectoryError, EOFError, ValueError):
        return None


def load(root, cid):
    check_id(cid)
    data = read(root, cid)
    if data is None:
        from pyrunc.errors import ContainerNotFound
        raise ContainerNotFound()
    return Container(root, data)


def _is_file(path):
    try:
        return posix.stat(path).st_mode & 0o170000 == 0o100000
    except OSError:
        return False


def list_ids(root):
    try:
        names = posix.listdir(root)
    except FileNotFoundError:
        return []
    root = root.rstrip("/")
    return sorted(n for n in names if _is_file(f"{root}/{n}/{STATE_FILE}"))


def owner_name(uid):
    try:
        with open("/etc/passwd") as f:
            for line in f:
                parts = line.split(":")
                if len(parts) > 2 and parts[2] == str(uid):
                    return parts[0]
    except OSError:
        pass
    return f"#{uid}"


def remove_tree(path):
    """Remove a state directory and what it holds, ignoring errors (shutil.rmtree costs ~2.5 ms
    to import; a state dir holds a few files and at most a directory or two)."""
    try:
        entries = list(posix.scandir(path))
    except NotADirectoryError:
        entries = None
    except OSError:
        return
    if entries is None:
        try:
            posix.unlink(path)
        except OSError:
            pass
        return
    for e in entries:
        try:
            if e.is_dir(follow_symlinks=False):
                remove_tree(e.path)
            else:
                posix.unlink(e.path)
        except OSError:
            pass
    try:
        posix.rmdir(path)
    except OSError:
        pass


# ---- JSON output (state, list, hooks' state, features; jsonfast.py re-exports it) ----------
# json.dumps(obj, indent=indent, ensure_ascii=False) for plain data, without `import json`
# (~7 ms: json.decoder pulls in re and enum).

_ESC = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def dumps_str(s):
    if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
        return '"' + s + '"'
    out = []
    for ch in s:
        if ch in _ESC:
            out.append(_ESC[ch])
        elif ch < " " or ch == "\x7f":
            out.append("\\u%04x" % ord(ch))
        elif not ch.isprintable() or "\u2028" <= ch <= "\u2029":
            code = ord(ch)
            if code > 0xFFFF:
                code -= 0x10000
                out.append("\\u%04x\\u%04x" % (0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF)))
            else:
                out.append("\\u%04x" % code)
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def dumps(obj, indent=None, _level=0):
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, str):
        return dumps_str(obj)
    if isinstance(obj, int):
        return str(obj)
    if isinstance(obj, float):
        return repr(obj)
    if isinstance(obj, dict):
        items = [dumps_str(str(k)) + (": " if indent is not None else ":")
                 + dumps(v, indent, _level + 1) for k, v in obj.items()]
        return _wrap("{", "}", items, indent, _level)
    if isinstance(obj, (list, tuple)):
        return _wrap("[", "]", [dumps(v, indent, _level + 1) for v in obj], indent, _level)
    raise TypeError(f"cannot encode {type(obj).__name__}")


def _wrap(open_, close, items, indent, level):
    if not items:
        return open_ + close
    if indent is None:
        return open_ + ",".join(items) + close
    pad = "\n" + " " * (indent * (level + 1))
    return open_ + pad + ("," + pad).join(items) + "\n" + " " * (indent * level) + close
