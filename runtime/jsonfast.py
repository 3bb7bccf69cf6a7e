"""JSON on the hot path without `import json`.

`import json` costs ~7-8 ms (json.decoder pulls in `re`, which pulls in `enum`): a large share
of a `pyrunc create` or `state`. Writing: the state file and the state output only hold strings,
integers, booleans, lists and dicts, which `dumps` writes. Reading: `loads` drives the C scanner
of the `_json` extension (the same one json.loads uses) directly; only invalid input falls back
to the json module, to report its exact error. `_json` is an extension module loaded on the
first `loads` (a `pyrunc state` only writes).
"""


class _ScanContext:
    # The attributes _json.make_scanner reads from json.JSONDecoder, with its defaults.
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float  # NaN, Infinity, -Infinity, as json.loads accepts them
    memo = None


_scan = None
_WS = " \t\n\r"


def loads(data):
    """json.loads(data) for str or UTF-8 bytes; invalid input raises json's ValueError."""
    global _scan
    if _scan is None:
        import _json
        _scan = _json.make_scanner(_ScanContext())
    try:
        s = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        start = len(s) - len(s.lstrip(_WS))
        obj, end = _scan(s, start)
        if s[end:].strip(_WS):
            raise ValueError("extra data")
        return obj
    except (ValueError, StopIteration, RecursionError, SystemError):
        # The error path. (_json reports errors with json.decoder.JSONDecodeError, which it
        # looks up in sys.modules; json not imported, that surfaces as a SystemError.)
        import json  # its message names line and column
        return json.loads(data)

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
    """json.dumps(obj, indent=indent, ensure_ascii=False) for plain data."""
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
