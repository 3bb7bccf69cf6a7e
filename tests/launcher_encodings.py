"""The `encodings` package of pyrunc's launcher interpreter (installed by install_launcher.py
as <venv>/lib/pyrunc-boot/encodings/__init__.py; nothing else imports it).

Every interpreter start imports `encodings` to look up the UTF-8 codec of the file system and
the standard streams. The standard package loads `codecs` and its alias table on the way, ~1 ms
of the ~7 ms a bare `python3 -I -S` takes here, on every pyrunc call. This package stands first
on the launcher's sys.path and answers that lookup from builtins (`_codecs`) alone; everything
else is the standard package's:
- its submodules (encodings.latin_1, encodings.idna, ...) come from the standard directory,
  which is on this package's __path__;
- any other codec name, and any attribute this module lacks (search_function,
  normalize_encoding, aliases, ...), first loads the standard package's own code into this
  module (from its cached bytecode), then uses it;
- the UTF-8 entry is a CodecInfo-shaped 4-tuple with the incremental coders io needs; any
  other attribute (streamreader, ...) comes from the standard encodings.utf_8 on first use.
"""
import _codecs

_STD = "@STDLIB@/encodings"
__path__.append(_STD)  # noqa: F821 (a package's __path__)
_full_loaded = False


def _load_full():
    """Run the standard package's __init__ in this module, once."""
    global _full_loaded
    if _full_loaded:
        return
    _full_loaded = True
    from _frozen_importlib_external import SourceFileLoader
    code = SourceFileLoader(__name__, _STD + "/__init__.py").get_code(__name__)
    exec(code, globals())


def __getattr__(name):
    if not _full_loaded and not name.startswith("__"):
        _load_full()
        if name in globals():
            return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Encoder:
    """codecs.IncrementalEncoder's interface, for UTF-8 (stateless)."""

    def __init__(self, errors="strict"):
        self.errors = errors

    def encode(self, text, final=False):
        return _codecs.utf_8_encode(text, self.errors)[0]

    def reset(self):
        pass

    def getstate(self):
        return 0

    def setstate(self, state):
        pass


class _Decoder:
    """codecs.BufferedIncrementalDecoder's interface, for UTF-8: an incomplete sequence at the
    end of a chunk waits for the next one."""

    def __init__(self, errors="strict"):
        self.errors = errors
        self.buffer = b""

    def decode(self, data, final=False):
        data = self.buffer + data
        text, used = _codecs.utf_8_decode(data, self.errors, final)
        self.buffer = data[used:]
        return text

    def reset(self):
        self.buffer = b""

    def getstate(self):
        return (self.buffer, 0)

    def setstate(self, state):
        self.buffer = state[0]


def _std_utf8():
    import encodings.utf_8
    return encodings.utf_8.getregentry()


def _decode(data, errors="strict"):
    return _codecs.utf_8_decode(data, errors, True)


def _stream_reader(stream, errors="strict"):
    return _std_utf8().streamreader(stream, errors)


def _stream_writer(stream, errors="strict"):
    return _std_utf8().streamwriter(stream, errors)


class _CodecInfo(tuple):
    name = "utf-8"
    encode = staticmethod(_codecs.utf_8_encode)
    decode = staticmethod(_decode)
    incrementalencoder = _Encoder
    incrementaldecoder = _Decoder
    _is_text_encoding = True

    def __getattr__(self, attr):
        return getattr(_std_utf8(), attr)


_UTF8 = _CodecInfo((_codecs.utf_8_encode, _decode, _stream_reader, _stream_writer))


def _search(name):
    # names arrive normalized: lower case, punctuation other than "." turned into "_"
    if name == "utf_8" or name == "utf8":
        return _UTF8
    _load_full()
    return search_function(name)  # noqa: F821 (defined by _load_full)


_codecs.register(_search)
