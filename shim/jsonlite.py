"""JSON through the C accelerator only: the json package imports re (~7 ms per process),
and every shim process (start, daemon, delete) pays its imports on containerd's critical path."""
import _json

WHITESPACE = " \t\n\r"


class _Context:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float  # NaN, Infinity, -Infinity
    memo = None


_scan = _json.make_scanner(_Context())


def loads(text):
    if isinstance(text, (bytes, bytearray)):
        text = text.decode()
    start = len(text) - len(text.lstrip(WHITESPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration as err:
        raise ValueError("invalid JSON at %d" % err.value) from None
    if text[end:].strip(WHITESPACE):
        raise ValueError("extra data after JSON value at %d" % end)
    return value


def dumps(value):
    out = []
    _encode(value, out)
    return "".join(out)


def _encode(value, out):
    if isinstance(value, str):
        out.append(_json.encode_basestring_ascii(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(float.__repr__(value))
    elif isinstance(value, dict):
        out.append("{")
        for i, (k, v) in enumerate(value.items()):
            if i:
                out.append(",")
            out.append(_json.encode_basestring_ascii(str(k)))
            out.append(":")
            _encode(v, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, v in enumerate(value):
            if i:
                out.append(",")
            _encode(v, out)
        out.append("]")
    else:
        raise TypeError("cannot encode %r as JSON" % type(value).__name__)
