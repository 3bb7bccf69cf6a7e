"""The shim's codec against the protobuf runtime: same bytes for every message in the schema."""
import importlib

import pytest

from pyrunc_shim import wire
from pyrunc_shim.protos.schema import MESSAGES

pb = pytest.importorskip("google.protobuf")
MODULES = ("rpc types task_types task events events_service runc_options runtimeoptions "
           "bootstrap cgroups_v1 cgroups_v2").split()


def reference_classes():
    from google.protobuf import any_pb2, empty_pb2, message_factory, timestamp_pb2  # noqa: F401
    from google.protobuf import descriptor_pool
    for name in MODULES:
        importlib.import_module("pyrunc_shim.protos.%s_pb2" % name)
    pool = descriptor_pool.Default()
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(name))
            for name in MESSAGES}


REF = reference_classes()
SAMPLES = {
    wire.STRING: ["", "a", "ünïcode/path"], wire.BYTES: [b"", b"\x00\xff"],
    wire.BOOL: [False, True], wire.UINT32: [0, 1, 300, 2**32 - 1], wire.UINT64: [0, 2**64 - 1, 1234567],
    wire.INT32: [0, -1, 2**31 - 1, -2**31], wire.INT64: [0, -5, 2**63 - 1], wire.ENUM: [0, 3],
}


def fill(name, variant, depth=0):
    """Values for both codecs: dict for reference kwargs, applied to the wire class."""
    values = {}
    for fname, number, ftype, tname, repeated, is_map, _ in MESSAGES[name]:
        if is_map:
            values[fname] = {"k%d" % variant: "v", "a": "b"} if variant else {}
        elif ftype == wire.MESSAGE:
            if depth > 2 or tname.endswith("Map") or tname == name:
                continue
            sub = fill(tname, variant, depth + 1)
            values[fname] = [sub, sub] if repeated else sub
        else:
            options = SAMPLES[ftype]
            v = options[(variant + number) % len(options)]
            values[fname] = [v, options[-1]] if repeated else v
    return values


def build_ref(name, values):
    msg = REF[name]()
    for key, value in values.items():
        field = msg.DESCRIPTOR.fields_by_name[key]
        if isinstance(value, dict) and field.message_type is not None and \
                not field.message_type.GetOptions().map_entry:
            getattr(msg, key).CopyFrom(build_ref(field.message_type.full_name, value))
        elif isinstance(value, dict):
            getattr(msg, key).update(value)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                getattr(msg, key).add().CopyFrom(build_ref(field.message_type.full_name, item))
        elif isinstance(value, list):
            getattr(msg, key).extend(value)
        else:
            setattr(msg, key, value)
    return msg


def build_wire(name, values):
    cls = wire.message_class(name)
    msg = cls()
    for fname, number, ftype, tname, repeated, is_map, _ in MESSAGES[name]:
        if fname not in values:
            continue
        value = values[fname]
        if ftype == wire.MESSAGE and not is_map:
            if repeated:
                getattr(msg, fname).extend(build_wire(tname, v) for v in value)
            else:
                setattr(msg, fname, build_wire(tname, value))
        else:
            setattr(msg, fname, value)
    return msg


@pytest.mark.parametrize("name", sorted(MESSAGES))
@pytest.mark.parametrize("variant", [0, 1, 2])
def test_same_bytes_and_round_trip(name, variant):
    values = fill(name, variant)
    ref = build_ref(name, values).SerializeToString(deterministic=True)
    ours = build_wire(name, values).SerializeToString()
    assert ours == ref
    back = wire.message_class(name).FromString(ref)
    assert back.SerializeToString() == ref


def test_unknown_fields_are_skipped():
    data = b"\x0a\x01a" + b"\x58\x05" + b"\x62\x02zz" + b"\x6d\x01\x02\x03\x04" + b"\x18\x09"
    msg = wire.message_class("containerd.task.v2.KillRequest").FromString(data)
    assert (msg.id, msg.signal) == ("a", 9)


def test_truncated_input_raises():
    with pytest.raises(wire.DecodeError):
        wire.message_class("containerd.task.v2.KillRequest").FromString(b"\x0a\x05ab")
