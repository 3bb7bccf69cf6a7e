"""A private containerd with the CRI plugin, a CNI bridge, images and runtime handlers.

Everything carries the prefix `pcri` and lives under one base directory: containerd root and
state, gRPC/ttrpc sockets, CNI config and IPAM data, the runtimes' state roots, pod logs. Used
by conftest.py and bench_cri.py. Cleanup touches only what this module created.
"""
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests"))

from clients.images import build_docker_archive  # noqa: E402

PREFIX = "pcri"
BRIDGE = "pcri0"
SUBNET = "10.217.83.0/24"
NETWORK = "pcri-net"
CGROUP_ROOT = "/pcri-kubepods"
PAUSE_IMAGE = "pyrunc.test/pcri-pause:1"
BUSYBOX_IMAGE = "pyrunc.test/pcri-busybox:1"
RUNC = "/usr/sbin/runc"
PYRUNC = os.path.abspath(os.environ.get("PYRUNC") or os.path.join(REPO, ".venv", "bin", "pyrunc"))
SHIM = os.path.abspath(os.environ.get("PYRUNC_SHIM_BIN")
                       or os.path.join(REPO, ".venv", "bin", "containerd-shim-pyrunc-v1"))
ROOTFS = os.path.join(REPO, "_build", "rootfs")
HANDLERS = ("pyrunc", "pyrunc-shim", "runc")
CGROUP_FS = "/sys/fs/cgroup"


def config_toml(base):
    """The containerd config: CRI plugin, private everything, three runtime handlers."""
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    rt = cri + '.containerd.runtimes'
    return f'''version = 2
root = "{base}/root"
state = "{base}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
                    "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "{base}/cri.sock"
[ttrpc]
  address = "{base}/cri.sock.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "{base}/opt"

[{cri}]
  sandbox_image = "{PAUSE_IMAGE}"
  # No CAP_SYS_RESOURCE here: a negative oom_score_adj would fail in the runtime.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    # pyrunc behind containerd's own runc shim
    [{rt}.pyrunc]
      runtime_type = "io.containerd.runc.v2"
      [{rt}.pyrunc.options]
        BinaryName = "{PYRUNC}"
        Root = "{base}/rt-pyrunc"
        SystemdCgroup = false
    # pyrunc behind its own shim (containerd 1.6 ignores runtime_path: absolute path as type).
    # For a type other than io.containerd.runc.*, CRI decodes this table into
    # runtimeoptions.v1.Options: keys such as BinaryName placed directly here are dropped
    # without a warning, and a ConfigBody string arrived empty (containerd 1.6.20). ConfigPath
    # works: the shim reads that file as TOML with the runc option names.
    [{rt}.pyrunc-shim]
      runtime_type = "{SHIM}"
      [{rt}.pyrunc-shim.options]
        ConfigPath = "{base}/pyrunc-shim.toml"
    # the reference
    [{rt}.runc]
      runtime_type = "io.containerd.runc.v2"
      [{rt}.runc.options]
        BinaryName = "{RUNC}"
        Root = "{base}/rt-runc"
        SystemdCgroup = false
  [{cri}.cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{base}/cni"
    max_conf_num = 1
'''


def shim_options_toml(base):
    """The file named by the pyrunc-shim handler's ConfigPath."""
    return f'''BinaryName = "{PYRUNC}"
Root = "{base}/rt-pyrunc-shim"
SystemdCgroup = false
'''


def cni_conflist(base):
    """A bridge without a host address (isGateway false) and without NAT; host-local IPAM keeps
    its leases in our directory instead of /var/lib/cni/networks."""
    return {
        "cniVersion": "0.4.0",
        "name": NETWORK,
        "plugins": [{
            "type": "bridge", "bridge": BRIDGE, "isGateway": False, "ipMasq": False,
            "hairpinMode": True,
            "ipam": {"type": "host-local", "ranges": [[{"subnet": SUBNET}]],
                     "dataDir": os.path.join(base, "ipam")},
        }],
    }


def runtime_root(base, handler):
    """Where the handler's runtime keeps container state (containerd appends the namespace)."""
    return os.path.join(base, "rt-" + handler, "k8s.io")


class CRIContainerd:
    def __init__(self, base):
        self.base = base
        self.socket = os.path.join(base, "cri.sock")
        self.proc = None
        self.log = None
        self.images = {}

    def start(self):
        os.makedirs(os.path.join(self.base, "cni"), exist_ok=True)
        os.makedirs(os.path.join(self.base, "logs"), exist_ok=True)
        with open(os.path.join(self.base, "config.toml"), "w") as f:
            f.write(config_toml(self.base))
        with open(os.path.join(self.base, "pyrunc-shim.toml"), "w") as f:
            f.write(shim_options_toml(self.base))
        with open(os.path.join(self.base, "cni", "10-pcri.conflist"), "w") as f:
            json.dump(cni_conflist(self.base), f, indent=1)
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        self.log = open(os.path.join(self.base, "containerd.log"), "wb")
        config = os.path.join(self.base, "config.toml")
        self.proc = subprocess.Popen(["containerd", "--config", config], env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 60
        while self.ctr("version", check=False).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("containerd did not come up, see %s/containerd.log" % self.base)
            time.sleep(0.1)
        return self

    def ctr(self, *args, check=True, timeout=120):
        res = subprocess.run(["ctr", "--address", self.socket, "-n", "k8s.io"] + list(args),
                             capture_output=True, timeout=timeout)
        if check and res.returncode:
            raise RuntimeError("ctr %s: %s" % (" ".join(args), res.stderr.decode(errors="replace")))
        return res

    def import_images(self, rootfs=ROOTFS):
        """The pause image (sleeps forever) and the workload image, same busybox layer."""
        specs = {PAUSE_IMAGE: dict(entrypoint=["/bin/sleep", "2147483647"], cmd=None),
                 BUSYBOX_IMAGE: dict(cmd=["sh"])}
        for ref, kw in specs.items():
            tar = os.path.join(self.base, ref.rsplit("/", 1)[1].replace(":", "_") + ".tar")
            build_docker_archive(rootfs, tar, tags=(ref,), **kw)
            self.ctr("images", "import", tar)
            os.unlink(tar)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log:
            self.log.close()

    def shim_pids(self):
        """Shims started by this containerd (their command line names our socket)."""
        pids = []
        needle = self.socket.encode()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if argv and b"containerd-shim" in argv[0] and needle in argv:
                pids.append(int(entry))
        return pids


# ---- what is left on the host

def mounts_under(base):
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(base + "/")]


def unmount_under(base):
    for p in sorted(mounts_under(base), key=len, reverse=True):
        subprocess.run(["umount", "-l", p], check=False, capture_output=True)


def cgroup_dirs(path):
    """Existing directories for `path` (absolute cgroup path) in the v1 hierarchies."""
    out = []
    for h in sorted(os.listdir(CGROUP_FS)):
        full = os.path.join(CGROUP_FS, h)
        if os.path.islink(full) or not os.path.isdir(full):
            continue
        d = full + path
        if os.path.isdir(d):
            out.append(d)
    return out


def remove_cgroups(path):
    for top in cgroup_dirs(path):
        for dirpath, _, _ in sorted(os.walk(top), key=lambda x: len(x[0]), reverse=True):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


def link_exists(name):
    return os.path.exists("/sys/class/net/" + name)


def delete_bridge():
    if link_exists(BRIDGE):
        subprocess.run(["ip", "link", "del", BRIDGE], check=False, capture_output=True)


def cni_cache_entries():
    d = "/var/lib/cni/results"
    try:
        return [n for n in os.listdir(d) if n.startswith(NETWORK + "-")]
    except FileNotFoundError:
        return []


def wait_for(pred, timeout=30.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


if __name__ == "__main__":
    # Print the generated files for a base directory, e.g. for the README:
    #   python tests/cri/crienv.py /tmp/pcri-example
    _base = sys.argv[1] if len(sys.argv) > 1 else "/tmp/pcri-BASE"
    print("# %s/config.toml\n%s" % (_base, config_toml(_base)))
    print("# %s/pyrunc-shim.toml\n%s" % (_base, shim_options_toml(_base)))
    print("# %s/cni/10-pcri.conflist\n%s" % (_base, json.dumps(cni_conflist(_base), indent=1)))
