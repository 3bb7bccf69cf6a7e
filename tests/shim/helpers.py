"""Test helpers: busybox rootfs and image, the shim wrapper, a private containerd."""
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time

import pytest

from rtsupport import remove_empty_cgroups

CGROUP_PARENT = "/pyrunc-shim-test"
BUSYBOX = "/bin/busybox"

# Here rather than in conftest.py: `from conftest import ...` gets whichever conftest.py pytest
# loaded last (tests/clients has one too), as none of these directories is a package.
needs_root = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("containerd")
                                or not shutil.which("ctr"),
                                reason="needs root, containerd and ctr")


def backends():
    return os.environ.get("PYRUNC_SHIM_BACKENDS", "/usr/sbin/runc").split()


def make_shim_bin(bindir, pkg_root):
    """A console-script-like launcher, unless the integrated build provides one."""
    given = os.environ.get("PYRUNC_SHIM_BIN")
    if given:
        return os.path.abspath(given)
    if pkg_root is None:  # the installed package (conftest._package_root)
        import pyrunc_shim
        pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(pyrunc_shim.__file__)))
    path = os.path.join(bindir, "containerd-shim-pyrunc-v1")
    with open(path, "w") as f:
        f.write("#!%s -IS\nimport sys\nsys.path.insert(0, %r)\n"
                "from pyrunc_shim.__main__ import main\nsys.exit(main())\n" % (sys.executable, pkg_root))
    os.chmod(path, 0o755)
    return path


def make_rootfs(path):
    for d in ("bin", "etc", "proc", "dev", "sys", "tmp", "root"):
        os.makedirs(os.path.join(path, d), exist_ok=True)
    target = os.path.join(path, "bin", "busybox")
    with open(BUSYBOX, "rb") as src, open(target, "wb") as dst:
        dst.write(src.read())
    os.chmod(target, 0o755)
    subprocess.run(["chroot", path, "/bin/busybox", "--install", "-s", "/bin"], check=True)
    with open(os.path.join(path, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
    with open(os.path.join(path, "etc", "group"), "w") as f:
        f.write("root:x:0:\nnobody:x:65534:\n")
    return path


def _tar_bytes(add):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        add(t)
    return buf.getvalue()


def _file_layer(name, content):
    def add(t):
        info = tarfile.TarInfo("layers/" + name)
        info.size = len(content)
        t.addfile(info, io.BytesIO(content))
    return _tar_bytes(add)


def make_image_tar(rootfs, out, ref, extra_layers=0):
    """A docker-archive (what `docker save` writes): the rootfs, then tiny one-file layers."""
    layers = [_tar_bytes(lambda t: t.add(rootfs, arcname="."))]
    layers += [_file_layer("l%d" % i, b"%d\n" % i) for i in range(extra_layers)]
    diff_ids = ["sha256:" + hashlib.sha256(b).hexdigest() for b in layers]
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    names = ["layer%d/layer.tar" % i for i in range(len(layers))]
    manifest = json.dumps([{"Config": config_name, "RepoTags": [ref], "Layers": names}]).encode()
    with tarfile.open(out, "w") as t:
        for name, data in [(config_name, config), ("manifest.json", manifest)] + list(zip(names, layers)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return out


class Containerd:
    def __init__(self, base, backend, shim_bin):
        self.base = base
        self.backend = backend
        self.shim_bin = shim_bin
        self.namespace = "pyrunc-shim-test"
        self.address = os.path.join(base, "c.sock")
        self.fifo_dir = os.path.join(base, "fifo")
        self.proc = None

    def start(self):
        os.makedirs(self.base, exist_ok=True)
        config = os.path.join(self.base, "config.toml")
        with open(config, "w") as f:
            f.write('version = 2\nroot = "%s/root"\nstate = "%s/state"\n'
                    'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                    '[grpc]\n  address = "%s"\n[ttrpc]\n  address = "%s.ttrpc"\n'
                    % (self.base, self.base, self.address, self.address))
        env = dict(os.environ)
        env["PATH"] = os.path.dirname(self.shim_bin) + ":" + env.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        env["PYRUNC_SHIM_RUNTIME"] = self.backend
        self.log = open(os.path.join(self.base, "containerd.log"), "wb")
        self.proc = subprocess.Popen(["containerd", "--config", config], env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.ctr("version", check=False).returncode == 0:
                return self
            time.sleep(0.05)
        raise RuntimeError("containerd did not come up")

    def argv(self, *args):
        """ctr command line; IO FIFOs go to our directory, not /run/containerd/fifo (ctr leaves
        them behind when it is killed or the task is detached)."""
        args = list(args)
        if args[:1] == ["run"]:
            args[1:1] = ["--fifo-dir", self.fifo_dir]
        elif args[:2] == ["task", "exec"]:
            args[2:2] = ["--fifo-dir", self.fifo_dir]
        return ["ctr", "--address", self.address, "-n", self.namespace] + args

    def ctr(self, *args, check=True, timeout=60, input=None):
        res = subprocess.run(self.argv(*args), capture_output=True, timeout=timeout, input=input)
        if check and res.returncode != 0:
            raise AssertionError("ctr %s failed (%d): %s%s" % (" ".join(args), res.returncode,
                                 res.stdout.decode(errors="replace"), res.stderr.decode(errors="replace")))
        return res

    def tasks(self):
        out = self.ctr("task", "ls", check=False).stdout.decode().splitlines()[1:]
        return {line.split()[0]: (int(line.split()[1]), line.split()[2]) for line in out if line.split()}

    def shim_pids(self):
        """Shims this containerd started (their command line names our socket)."""
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if any(b"containerd-shim" in a for a in argv[:3]) and self.address.encode() in argv:
                pids.append(int(entry))
        return pids

    def cleanup_containers(self):
        for tid in self.tasks():
            self.ctr("task", "kill", "-s", "KILL", tid, check=False)
        for tid in self.tasks():
            for _ in range(50):
                if self.ctr("task", "rm", "-f", tid, check=False).returncode == 0:
                    break
                time.sleep(0.1)
        for line in self.ctr("containers", "ls", "-q", check=False).stdout.decode().split():
            self.ctr("containers", "rm", line, check=False)

    def shim_sockets(self):
        return shim_sockets(os.path.join(self.base, "state"), self.namespace)

    def stop(self):
        sockets = self.shim_sockets()
        try:
            self.cleanup_containers()
            for line in self.ctr("images", "ls", "-q", check=False).stdout.decode().split():
                self.ctr("images", "rm", line, check=False)
        finally:
            stop_containerd(self.proc, self.shim_pids, sockets, timeout=10)
            self.log.close()
            unmount_under(self.base)
            remove_empty_cgroups(CGROUP_PARENT)


def shim_sockets(state, namespace):
    """The sockets of the shims a containerd with this state dir started in `namespace`."""
    root = os.path.join(state, "io.containerd.runtime.v2.task", namespace)
    paths = []
    for cid in os.listdir(root) if os.path.isdir(root) else ():
        try:
            with open(os.path.join(root, cid, "address")) as f:
                paths.append(f.read().replace("unix://", "", 1))
        except OSError:
            pass
    return paths


def stop_containerd(proc, shim_pids, sockets, timeout):
    """Stop a containerd the tests started (by its Popen), then SIGKILL the shims it leaves
    (`shim_pids()` is called after containerd is gone) and remove their sockets."""
    if proc is not None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pid in shim_pids():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for path in sockets:  # a killed shim cannot remove its own socket in /run/containerd/s
        remove_dead_socket(path)


def remove_dead_socket(path):
    import socket
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
    except FileNotFoundError:
        return
    except OSError:
        os.unlink(path)
    finally:
        s.close()


def unmount_under(base):
    """Only mounts below our own test directory, deepest first."""
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for p in sorted((p for p in points if p.startswith(base + "/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", p], check=False)


def wait_for(pred, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    return pred()
