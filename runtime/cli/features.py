"""pyrunc features: what this build implements (claims only what works)."""
import os

from pyrunc.cli.common import parse_cmd


def features():
    from pyrunc import SPEC_VERSION, __version__
    from pyrunc.capabilities import NAMES
    from pyrunc.mounts import EXTENSIONS, FLAGS, IDMAP, PROPAGATION, RECURSIVE
    from pyrunc.seccomp import features as seccomp_features
    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": SPEC_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer",
                  "poststart", "poststop"],
        "mountOptions": sorted(set(FLAGS) | set(PROPAGATION) | set(RECURSIVE)
                               | set(EXTENSIONS) | set(IDMAP)),
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "uts"],
            "capabilities": sorted(NAMES, key=NAMES.get),
            "cgroup": {"v1": True, "v2": True, "systemd": True, "systemdUser": False,
                       "rdma": True},
            "seccomp": seccomp_features(),
            "apparmor": {"enabled": True},
            "selinux": {"enabled": True},
            "intelRdt": {"enabled": False},
            "mountExtensions": {"idmap": {"enabled": True}},
            "netDevices": {"enabled": True},
        },
        "annotations": {"io.github.pyrunc.version": __version__},
        "potentiallyUnsafeConfigAnnotations": [],
    }


def main(ctx, args):
    parse_cmd("features", (), args, nargs=0)
    from pyrunc.jsonfast import dumps
    os.write(1, (dumps(features(), indent=4) + "\n").encode())
    return 0
