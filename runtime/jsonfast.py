"""JSON on the hot path without `import json`.

`import json` costs ~7-8 ms (json.decoder pulls in `re`, which pulls in `enum`): a large share
of a `pyrunc create` or `state`. Writing: the state file and the state output only hold strings,
integers, booleans, lists and dicts, which `dumps` writes. Reading: `loads` drives the C scanner
of the `_json` extension (the same one json.loads uses) directly; only invalid input falls back
to the json module, to report its exact error. `_json` is an extension module loaded on the
first `loads` (a `pyrunc state` only writes).

The writer (`dumps`, `dumps_str`) lives in state.py, the module of the state output it mostly
writes, so that `pyrunc state` loads one module less (~0.2 ms per call); it is re-exported here.
"""
from pyrunc.state import dumps, dumps_str

__all__ = ["loads", "dumps", "dumps_str"]


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
