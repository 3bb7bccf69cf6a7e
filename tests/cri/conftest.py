"""Fixtures for the CRI tests: one private containerd (CRI plugin on) for the session, images,
a CNI bridge, and a `pods` helper that tears everything down and checks nothing is left."""
import os
import shutil
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cri  # noqa: E402
import crienv as env  # noqa: E402


def _missing():
    if os.geteuid() != 0:
        return "needs root"
    for tool in ("containerd", "ctr", "ip"):
        if not shutil.which(tool):
            return "needs %s" % tool
    for plugin in ("bridge", "host-local", "loopback"):
        if not os.path.exists("/usr/lib/cni/" + plugin):
            return "needs /usr/lib/cni/%s (containernetworking-plugins)" % plugin
    for path in (env.PYRUNC, env.SHIM, env.RUNC, os.path.join(env.ROOTFS, "bin", "busybox")):
        if not os.access(path, os.X_OK):
            return "missing %s" % path
    try:
        import grpc  # noqa: F401
        import grpc_tools  # noqa: F401
    except ImportError:
        return "needs grpcio and grpcio-tools"
    return None


# Computed when pytest loads this conftest, which can be before the root conftest's
# pytest_configure has built the busybox rootfs (a fresh clone): build it first, or every CRI
# test would be skipped for a missing rootfs.
from rtsupport import ensure_rootfs  # noqa: E402
ensure_rootfs()
MISSING = _missing()


@pytest.fixture(scope="session")
def ctd():
    if MISSING:
        pytest.skip(MISSING)
    if env.link_exists(env.BRIDGE):
        pytest.skip("bridge %s exists already (another run?)" % env.BRIDGE)
    base = tempfile.mkdtemp(prefix="pcri-", dir="/tmp")  # short: unix socket paths
    c = env.CRIContainerd(base)
    try:
        c.start()
        c.import_images()
        yield c
    finally:
        c.stop()
        leftover_shims = c.shim_pids()
        for pid in leftover_shims:  # only shims whose command line names our socket
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        mounts = env.mounts_under(base)
        env.unmount_under(base)
        # The runtimes create the pods' parent cgroups; like kubelet we remove those, and they
        # must be empty by now.
        env.remove_cgroups(env.CGROUP_ROOT)
        cgroups = env.cgroup_dirs(env.CGROUP_ROOT)
        bridge = env.link_exists(env.BRIDGE)
        env.delete_bridge()  # the bridge plugin never deletes its bridge
        shutil.rmtree(base, ignore_errors=True)
        # After containerd is gone nothing of ours may remain (the bridge is ours to delete).
        assert not leftover_shims, "shims survived containerd: %s" % leftover_shims
        assert not mounts, "mounts left under %s: %s" % (base, mounts)
        assert not cgroups, "cgroups left: %s" % cgroups
        assert not env.cni_cache_entries()
        assert bridge, "the CNI bridge %s was never created" % env.BRIDGE
        assert not env.link_exists(env.BRIDGE)


@pytest.fixture(scope="session")
def client(ctd):
    c = cri.Client(ctd.socket)
    c.wait_ready()
    yield c
    c.close()


@pytest.fixture(scope="session")
def image_id(client):
    img = client.image_status(env.BUSYBOX_IMAGE)
    assert img.id, "workload image not imported"
    return img.id


class Pods:
    """Pods of one test on one handler; `close` removes them the way kubelet does and checks
    that the runtime, cgroups, netns and mounts are gone."""

    def __init__(self, client, ctd, handler, image_id):
        self.client = client
        self.ctd = ctd
        self.handler = handler
        self.image_id = image_id
        self.pods = []  # (pod_id, config)
        self.containers = []

    def run(self, name, sysctls=None, **kw):
        name = "pcri-%s-%s" % (name, self.handler)
        config = self.client.pod_config(name, "pcri-ns", os.path.join(self.ctd.base, "logs"),
                                        env.CGROUP_ROOT, **kw)
        config.linux.sysctls.update(sysctls or {})
        pod_id = self.client.run_pod(config, self.handler)
        self.pods.append((pod_id, config))
        return pod_id, config

    def container(self, pod, name, command, start=True, amend=None, **kw):
        pod_id, config = pod
        cc = self.client.container_config(config, name, self.image_id, command, **kw)
        if amend:
            amend(cc)
        cid = self.client.create_container(pod_id, cc, config)
        self.containers.append(cid)
        if start:
            self.client.start_container(cid)
        return cid

    def log_path(self, pod, name):
        return os.path.join(pod[1].log_directory, name, "0.log")

    def netns_path(self, pod_id):
        import json
        info = self.client.pod_status(pod_id, verbose=True).info
        return json.loads(info["info"])["runtimeSpec"]["linux"]["namespaces"]

    def close(self):
        c = self.client
        netns = []
        for pod_id, _ in self.pods:
            netns += [ns["path"] for ns in self.netns_path(pod_id)
                      if ns.get("type") == "network" and ns.get("path")]
        host_net = sum(cfg.linux.security_context.namespace_options.network == c.pb.NODE
                       for _, cfg in self.pods)
        assert len(netns) == len(self.pods) - host_net
        assert all(p.startswith(self.ctd.base + "/") for p in netns), netns
        # kubelet: StopContainer (grace period; short here, the tests' sleepers ignore
        # SIGTERM as PID 1), RemoveContainer, StopPodSandbox, RemovePodSandbox
        for cid in self.containers:
            try:
                c.stop_container(cid, 1)
            except cri.CRIError:
                pass
        for cid in self.containers:
            c.remove_container(cid)
        for pod_id, _ in self.pods:
            c.stop_pod(pod_id)
            c.remove_pod(pod_id)
        left = []
        names = {cfg.metadata.name for _, cfg in self.pods}
        left += [p.id for p in c.list_pods() if p.metadata.name in names]
        left += [x.id for pod_id, _ in self.pods for x in c.list_containers(pod_id)]
        assert not left, "CRI still lists %s" % left
        root = env.runtime_root(self.ctd.base, self.handler)
        assert env.wait_for(lambda: not os.listdir(root) if os.path.isdir(root) else True, 10), \
            "runtime state left in %s: %s" % (root, os.listdir(root))
        for _, cfg in self.pods:
            parent = cfg.linux.cgroup_parent
            # containerd does not remove the pod's parent cgroup (kubelet owns it): the
            # containers' and the sandbox's cgroups below it must be gone.
            children = [os.path.join(d, e) for d in env.cgroup_dirs(parent)
                        for e in os.listdir(d) if os.path.isdir(os.path.join(d, e))]
            assert not children, "cgroups left: %s" % children
            env.remove_cgroups(parent)  # what kubelet does for the pod cgroup
        for path in netns:
            assert not os.path.exists(path), "netns %s not removed" % path
        task_state = os.path.join(self.ctd.base, "state", "io.containerd.runtime.v2.task", "k8s.io")
        assert env.wait_for(lambda: not os.path.isdir(task_state) or not os.listdir(task_state),
                            10), "bundles left: %s" % os.listdir(task_state)
        assert not [m for m in env.mounts_under(self.ctd.base)
                    if "/io.containerd.runtime.v2.task/" in m or "/netns/" in m], \
            env.mounts_under(self.ctd.base)


@pytest.fixture(params=env.HANDLERS)
def handler(request):
    return request.param


@pytest.fixture
def pods(client, ctd, handler, image_id):
    p = Pods(client, ctd, handler, image_id)
    yield p
    p.close()


def wait_state(client, cid, state, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        st = client.container_status(cid).status
        if st.state == state or time.monotonic() > deadline:
            return st
        time.sleep(0.1)
