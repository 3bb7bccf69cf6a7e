"""pyrunc's own JSON schema of config.json (written for pyrunc from the runtime-spec's
field descriptions), checked with jsonschema by `pyrunc validate`. Off the hot path:
jsonschema costs ~76 ms to import; create does the cheap checks in config.py."""

U32 = {"type": "integer", "minimum": 0, "maximum": 4294967295}
I64 = {"type": "integer"}
STRINGS = {"type": "array", "items": {"type": "string"}}
ABS = {"type": "string", "pattern": "^/"}
CAPS = {"type": "array", "items": {"type": "string", "pattern": "^CAP_[A-Z_]+$"}}
ID_MAP = {"type": "object", "required": ["containerID", "hostID", "size"],
          "properties": {"containerID": U32, "hostID": U32, "size": U32}}
HOOK = {"type": "object", "required": ["path"],
        "properties": {"path": ABS, "args": STRINGS, "env": STRINGS,
                       "timeout": {"type": "integer", "minimum": 1}}}
HOOKS = {"type": "array", "items": HOOK}
NS_TYPES = ["pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"]

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["ociVersion", "root"],
    "properties": {
        "ociVersion": {"type": "string", "pattern": r"^1\.[0-9]+\.[0-9]+"},
        "root": {"type": "object", "required": ["path"],
                 "properties": {"path": {"type": "string", "minLength": 1},
                                "readonly": {"type": "boolean"}}},
        "hostname": {"type": "string"},
        "domainname": {"type": "string"},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "mounts": {"type": "array", "items": {
            "type": "object", "required": ["destination"],
            "properties": {"destination": {"type": "string", "minLength": 1},
                           "source": {"type": "string"}, "type": {"type": "string"},
                           "options": STRINGS,
                           "uidMappings": {"type": "array", "items": ID_MAP},
                           "gidMappings": {"type": "array", "items": ID_MAP}}}},
        "process": {
            "type": "object", "required": ["cwd"],
            "properties": {
                "terminal": {"type": "boolean"},
                "consoleSize": {"type": "object", "required": ["height", "width"],
                                "properties": {"height": U32, "width": U32}},
                "cwd": ABS,
                "env": {"type": "array", "items": {"type": "string", "pattern": "^[^=]+="}},
                "args": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "commandLine": {"type": "string"},
                "rlimits": {"type": "array", "items": {
                    "type": "object", "required": ["type", "soft", "hard"],
                    "properties": {"type": {"type": "string", "pattern": "^RLIMIT_[A-Z]+$"},
                                   "soft": {"type": "integer", "minimum": 0},
                                   "hard": {"type": "integer", "minimum": 0}}}},
                "capabilities": {"type": "object", "properties": {
                    k: CAPS for k in ("bounding", "effective", "inheritable", "permitted",
                                      "ambient")}},
                "noNewPrivileges": {"type": "boolean"},
                "oomScoreAdj": {"type": "integer", "minimum": -1000, "maximum": 1000},
                "user": {"type": "object", "properties": {
                    "uid": U32, "gid": U32, "umask": U32,
                    "additionalGids": {"type": "array", "items": U32}}},
                "apparmorProfile": {"type": "string"},
                "selinuxLabel": {"type": "string"},
            }},
        "hooks": {"type": "object", "properties": {
            k: HOOKS for k in ("prestart", "createRuntime", "createContainer",
                               "startContainer", "poststart", "poststop")}},
        "linux": {"type": "object", "properties": {
            "namespaces": {"type": "array", "items": {
                "type": "object", "required": ["type"],
                "properties": {"type": {"enum": NS_TYPES}, "path": {"type": "string"}}}},
            "uidMappings": {"type": "array", "items": ID_MAP},
            "gidMappings": {"type": "array", "items": ID_MAP},
            "devices": {"type": "array", "items": {
                "type": "object", "required": ["path", "type"],
                "properties": {"path": ABS, "type": {"enum": ["c", "b", "u", "p"]},
                               "major": I64, "minor": I64, "fileMode": U32, "uid": U32,
                               "gid": U32}}},
            "cgroupsPath": {"type": "string"},
            "resources": {"type": "object"},
            "rootfsPropagation": {"enum": ["shared", "slave", "private", "unbindable",
                                           "rshared", "rslave", "rprivate", "runbindable"]},
            "seccomp": {"type": "object", "properties": {
                "defaultAction": {"type": "string"}, "defaultErrnoRet": U32,
                "architectures": STRINGS, "flags": STRINGS, "listenerPath": {"type": "string"},
                "syscalls": {"type": "array", "items": {
                    "type": "object", "required": ["names", "action"],
                    "properties": {"names": STRINGS, "action": {"type": "string"},
                                   "errnoRet": U32}}}}},
            "sysctl": {"type": "object", "additionalProperties": {"type": "string"}},
            "maskedPaths": {"type": "array", "items": ABS},
            "readonlyPaths": {"type": "array", "items": ABS},
            "personality": {"type": "object", "properties": {
                "domain": {"enum": ["LINUX", "LINUX32"]}, "flags": STRINGS}},
        }},
    },
}


def errors(config):
    """Every schema violation as (JSON pointer, message), sorted by pointer."""
    import jsonschema
    validator = jsonschema.Draft202012Validator(SCHEMA)
    out = []
    for e in validator.iter_errors(config):
        pointer = "".join(f"/{p}" for p in e.absolute_path)
        out.append((pointer or "/", e.message))
    return sorted(out)
