"""A small protobuf (proto3) codec driven by protos/schema.py.

Message classes behave like the generated ones for what the shim uses: keyword
construction, defaults on read, nested messages created on first access, repeated fields as
lists with add(), maps as dicts, SerializeToString/FromString, Timestamp helpers. Encoding
matches the protobuf runtime byte for byte (tests/shim/test_wire.py checks every message).
"""
import struct

from pyrunc_shim.protos.schema import MESSAGES

# protobuf FieldDescriptor.TYPE_* numbers
DOUBLE, FLOAT, INT64, UINT64, INT32, FIXED64, FIXED32, BOOL, STRING = 1, 2, 3, 4, 5, 6, 7, 8, 9
MESSAGE, BYTES, UINT32, ENUM, SFIXED32, SFIXED64, SINT32, SINT64 = 11, 12, 13, 14, 15, 16, 17, 18
VARINT_TYPES = frozenset((INT64, UINT64, INT32, BOOL, UINT32, ENUM, SINT32, SINT64))
FIXED = {DOUBLE: "<d", FLOAT: "<f", FIXED64: "<Q", FIXED32: "<I", SFIXED32: "<i", SFIXED64: "<q"}
DEFAULTS = {STRING: "", BYTES: b"", BOOL: False, DOUBLE: 0.0, FLOAT: 0.0}


class DecodeError(ValueError):
    pass


def encode_varint(value, out):
    value &= 0xFFFFFFFFFFFFFFFF  # negative int32/int64 go out as ten-byte two's complement
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def decode_varint(buf, pos):
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise DecodeError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise DecodeError("varint too long")


def _zigzag(v):
    return (v << 1) ^ (v >> 63)


def _unzigzag(v):
    return (v >> 1) ^ -(v & 1)


def _scalar_to_wire(ftype, value, out):
    if ftype in VARINT_TYPES:
        if ftype in (SINT32, SINT64):
            value = _zigzag(value)
        encode_varint(int(value), out)
    elif ftype in FIXED:
        out += struct.pack(FIXED[ftype], value)
    else:
        data = value.encode() if ftype == STRING else bytes(value)
        encode_varint(len(data), out)
        out += data


def _wire_type(ftype):
    if ftype in VARINT_TYPES:
        return 0
    if ftype in FIXED:
        return 5 if struct.calcsize(FIXED[ftype]) == 4 else 1
    return 2


def _from_varint(ftype, v):
    if ftype == BOOL:
        return bool(v)
    if ftype in (SINT32, SINT64):
        return _unzigzag(v)
    if ftype in (INT32, INT64, ENUM) and v >= 1 << 63:
        return v - (1 << 64)
    if ftype in (INT32, ENUM, UINT32):
        v &= 0xFFFFFFFF
        if ftype != UINT32 and v >= 1 << 31:
            v -= 1 << 32
    return v


class Repeated(list):
    __slots__ = ("_cls",)

    def add(self, **kw):
        item = self._cls(**kw)
        self.append(item)
        return item


class Message:
    __slots__ = ()
    _fields = ()        # schema tuples
    _by_name = {}
    _by_number = {}
    full_name = ""

    def __init__(self, **kw):
        for key, value in kw.items():
            if key not in self._by_name:
                raise TypeError("%s has no field %r" % (self.full_name, key))
            setattr(self, key, value)

    def __getattr__(self, name):
        f = self._by_name.get(name)
        if f is None:
            raise AttributeError(name)
        _, _, ftype, tname, repeated, is_map, presence = f
        if is_map:
            value = {}
        elif repeated:
            value = Repeated()
            value._cls = message_class(tname) if tname else None
        elif ftype == MESSAGE:
            value = message_class(tname)()
        else:
            return DEFAULTS.get(ftype, 0)  # scalars are not stored until set
        object.__setattr__(self, name, value)
        return value

    def _is_set(self, name):
        try:
            object.__getattribute__(self, name)
            return True
        except AttributeError:
            return False

    def HasField(self, name):
        return self._is_set(name)

    def __eq__(self, other):
        return type(self) is type(other) and self.SerializeToString() == other.SerializeToString()

    def __repr__(self):
        parts = ("%s=%r" % (f[0], getattr(self, f[0])) for f in self._fields if self._is_set(f[0]))
        return "%s(%s)" % (self.full_name, ", ".join(parts))

    # -- encoding

    def SerializeToString(self):
        out = bytearray()
        self._encode(out)
        return bytes(out)

    def _encode(self, out):
        for name, number, ftype, tname, repeated, is_map, presence in self._fields:
            if not self._is_set(name):
                continue
            value = object.__getattribute__(self, name)
            if is_map:
                entry_cls = message_class(tname)
                for k in sorted(value):
                    encode_varint(number << 3 | 2, out)
                    _encode_len(entry_cls(key=k, value=value[k]), out)
            elif repeated:
                if ftype == MESSAGE:
                    for item in value:
                        encode_varint(number << 3 | 2, out)
                        _encode_len(item, out)
                elif ftype in (STRING, BYTES):
                    for item in value:
                        encode_varint(number << 3 | 2, out)
                        _scalar_to_wire(ftype, item, out)
                elif value:  # proto3 packs repeated scalars
                    body = bytearray()
                    for item in value:
                        _scalar_to_wire(ftype, item, body)
                    encode_varint(number << 3 | 2, out)
                    encode_varint(len(body), out)
                    out += body
            elif ftype == MESSAGE:
                encode_varint(number << 3 | 2, out)
                _encode_len(value, out)
            elif value or presence:
                encode_varint(number << 3 | _wire_type(ftype), out)
                _scalar_to_wire(ftype, value, out)

    # -- decoding

    @classmethod
    def FromString(cls, data):
        msg = cls()
        msg._decode(memoryview(bytes(data)), 0, len(data))
        return msg

    def _decode(self, buf, pos, end):
        while pos < end:
            key, pos = decode_varint(buf, pos)
            number, wtype = key >> 3, key & 7
            f = self._by_number.get(number)
            if wtype == 0:
                v, pos = decode_varint(buf, pos)
                if f is not None:
                    self._store(f, _from_varint(f[2], v))
            elif wtype == 2:
                n, pos = decode_varint(buf, pos)
                if pos + n > end:
                    raise DecodeError("truncated field %d" % number)
                if f is not None:
                    self._store_bytes(f, buf, pos, pos + n)
                pos += n
            elif wtype in (1, 5):
                size = 8 if wtype == 1 else 4
                if f is not None:
                    self._store(f, struct.unpack(FIXED[f[2]], bytes(buf[pos:pos + size]))[0])
                pos += size
            else:
                raise DecodeError("unsupported wire type %d" % wtype)
        if pos != end:
            raise DecodeError("truncated message")

    def _store(self, f, value):
        if f[4]:
            getattr(self, f[0]).append(value)
        else:
            object.__setattr__(self, f[0], value)

    def _store_bytes(self, f, buf, start, end):
        name, _, ftype, tname, repeated, is_map, _ = f
        if ftype == MESSAGE:
            sub = message_class(tname)()
            sub._decode(buf, start, end)
            if is_map:
                getattr(self, name)[sub.key] = sub.value
            else:
                self._store(f, sub)
        elif ftype == STRING:
            self._store(f, bytes(buf[start:end]).decode())
        elif ftype == BYTES:
            self._store(f, bytes(buf[start:end]))
        else:  # packed repeated scalars
            pos = start
            while pos < end:
                if ftype in VARINT_TYPES:
                    v, pos = decode_varint(buf, pos)
                    getattr(self, name).append(_from_varint(ftype, v))
                else:
                    size = struct.calcsize(FIXED[ftype])
                    getattr(self, name).append(struct.unpack(FIXED[ftype], bytes(buf[pos:pos + size]))[0])
                    pos += size


def _encode_len(msg, out):
    body = msg.SerializeToString()
    encode_varint(len(body), out)
    out += body


class Timestamp(Message):
    __slots__ = ()

    def FromNanoseconds(self, ns):
        self.seconds, self.nanos = divmod(int(ns), 1_000_000_000)

    def ToNanoseconds(self):
        return self.seconds * 1_000_000_000 + self.nanos


SPECIAL = {"google.protobuf.Timestamp": Timestamp}
_classes = {}


def message_class(full_name):
    cls = _classes.get(full_name)
    if cls is not None:
        return cls
    fields = MESSAGES[full_name]
    base = SPECIAL.get(full_name, Message)
    cls = type(full_name.rsplit(".", 1)[-1], (base,), {
        "__slots__": tuple(f[0] for f in fields),
        "_fields": fields,
        "_by_name": {f[0]: f for f in fields},
        "_by_number": {f[1]: f for f in fields},
        "full_name": full_name,
    })
    _classes[full_name] = cls
    return cls


class Package:
    """`Package("containerd.task.v2").KillRequest` -> that message's class."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attr):
        try:
            return message_class("%s.%s" % (self._name, attr))
        except KeyError:
            raise AttributeError(attr) from None
