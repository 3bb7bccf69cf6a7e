"""A small CRI client (runtime.v1) for the tests: the calls kubelet makes, built as kubelet
builds them.

The Python modules for proto/api.proto are generated with grpcio-tools on first use into a cache
directory keyed by the .proto's hash (see README.md for why they are not committed).
"""
import hashlib
import importlib
import os
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO = os.path.join(HERE, "proto", "api.proto")

# What kubelet puts in every container's security context (k8s.io/kubernetes
# pkg/securitycontext: DefaultMaskedPaths / DefaultReadonlyPaths).
MASKED_PATHS = ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                "/sys/firmware", "/sys/devices/virtual/powercap"]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

_api = None


def _generate(outdir):
    """protoc into a fresh directory next to `outdir`, then rename (safe against a parallel run)."""
    from grpc_tools import protoc
    parent = os.path.dirname(outdir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".gen-", dir=parent)
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    rc = protoc.main(["protoc", "-I", os.path.dirname(PROTO), "-I", include,
                      "--python_out=" + tmp, "--grpc_python_out=" + tmp, PROTO])
    if rc != 0:
        raise RuntimeError("protoc failed on %s" % PROTO)
    try:
        os.rename(tmp, outdir)
    except OSError:  # another process won the race
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)


def api():
    """(api_pb2, api_pb2_grpc), generated on first use."""
    global _api
    if _api is None:
        with open(PROTO, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:16]
        cache = os.environ.get("PYRUNC_CRI_GEN_DIR") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or tempfile.gettempdir(),
            "pyrunc-cri-gen")
        outdir = os.path.join(cache, digest)
        if not os.path.exists(os.path.join(outdir, "api_pb2_grpc.py")):
            _generate(outdir)
        sys.path.insert(0, outdir)
        try:
            pb2 = importlib.import_module("api_pb2")
            grpc_mod = importlib.import_module("api_pb2_grpc")
        finally:
            sys.path.remove(outdir)
        _api = (pb2, grpc_mod)
    return _api


class CRIError(Exception):
    def __init__(self, method, code, details):
        super().__init__("%s: %s: %s" % (method, code, details))
        self.method = method
        self.code = code
        self.details = details


class Client:
    """RuntimeService and ImageService on one unix socket."""

    def __init__(self, socket_path, timeout=120):
        import grpc
        self.pb, grpc_mod = api()
        self._grpc = grpc
        self.channel = grpc.insecure_channel("unix://" + socket_path)
        self.runtime = grpc_mod.RuntimeServiceStub(self.channel)
        self.images = grpc_mod.ImageServiceStub(self.channel)
        self.timeout = timeout

    def close(self):
        self.channel.close()

    def _call(self, stub, method, request, timeout=None):
        try:
            return getattr(stub, method)(request, timeout=timeout or self.timeout)
        except self._grpc.RpcError as err:
            raise CRIError(method, err.code().name, err.details()) from None

    # ---- plain calls

    def version(self):
        return self._call(self.runtime, "Version", self.pb.VersionRequest(version="v1"))

    def status(self):
        return self._call(self.runtime, "Status", self.pb.StatusRequest())

    def wait_ready(self, timeout=30):
        """Until RuntimeReady and NetworkReady are true (the CNI config is read asynchronously)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                conds = {c.type: c for c in self.status().status.conditions}
                if all(conds.get(t) and conds[t].status for t in ("RuntimeReady", "NetworkReady")):
                    return conds
            except CRIError:
                conds = None
            if time.monotonic() > deadline:
                raise RuntimeError("CRI not ready: %r" % conds)
            time.sleep(0.1)

    def image_status(self, ref):
        return self._call(self.images, "ImageStatus",
                          self.pb.ImageStatusRequest(image=self.pb.ImageSpec(image=ref))).image

    def run_pod(self, config, handler=""):
        return self._call(self.runtime, "RunPodSandbox", self.pb.RunPodSandboxRequest(
            config=config, runtime_handler=handler)).pod_sandbox_id

    def pod_status(self, pod_id, verbose=False):
        return self._call(self.runtime, "PodSandboxStatus", self.pb.PodSandboxStatusRequest(
            pod_sandbox_id=pod_id, verbose=verbose))

    def list_pods(self, labels=None):
        flt = self.pb.PodSandboxFilter(label_selector=labels or {})
        return self._call(self.runtime, "ListPodSandbox",
                          self.pb.ListPodSandboxRequest(filter=flt)).items

    def stop_pod(self, pod_id):
        self._call(self.runtime, "StopPodSandbox",
                   self.pb.StopPodSandboxRequest(pod_sandbox_id=pod_id))

    def remove_pod(self, pod_id):
        self._call(self.runtime, "RemovePodSandbox",
                   self.pb.RemovePodSandboxRequest(pod_sandbox_id=pod_id))

    def create_container(self, pod_id, config, pod_config):
        return self._call(self.runtime, "CreateContainer", self.pb.CreateContainerRequest(
            pod_sandbox_id=pod_id, config=config, sandbox_config=pod_config)).container_id

    def start_container(self, cid):
        self._call(self.runtime, "StartContainer", self.pb.StartContainerRequest(container_id=cid))

    def container_status(self, cid, verbose=False):
        return self._call(self.runtime, "ContainerStatus", self.pb.ContainerStatusRequest(
            container_id=cid, verbose=verbose))

    def list_containers(self, pod_id=""):
        flt = self.pb.ContainerFilter(pod_sandbox_id=pod_id)
        return self._call(self.runtime, "ListContainers",
                          self.pb.ListContainersRequest(filter=flt)).containers

    def exec_sync(self, cid, cmd, timeout=30):
        # kubelet's probes pass the probe timeout; the gRPC deadline gets some slack on top.
        return self._call(self.runtime, "ExecSync", self.pb.ExecSyncRequest(
            container_id=cid, cmd=list(cmd), timeout=timeout), timeout=timeout + 60)

    def stop_container(self, cid, timeout):
        self._call(self.runtime, "StopContainer", self.pb.StopContainerRequest(
            container_id=cid, timeout=timeout), timeout=timeout + 120)

    def remove_container(self, cid):
        self._call(self.runtime, "RemoveContainer",
                   self.pb.RemoveContainerRequest(container_id=cid))

    # ---- requests as kubelet builds them

    def pod_config(self, name, namespace, log_dir, cgroup_root, uid=None, dns_server="10.96.0.10",
                   host_network=False, share_pid=False):
        """PodSandboxConfig like kubelet's generatePodSandboxConfig with the cgroupfs driver and
        SeccompDefault enabled. hostNetwork pods get no hostname (kubelet leaves it empty: the
        pod keeps the node's UTS namespace); shareProcessNamespace puts the pid namespace at POD."""
        pb = self.pb
        uid = uid or str(uuid.uuid4())
        labels = {"io.kubernetes.pod.name": name, "io.kubernetes.pod.namespace": namespace,
                  "io.kubernetes.pod.uid": uid}
        seen = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        annotations = {"kubernetes.io/config.source": "api", "kubernetes.io/config.seen": seen}
        return pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=name, uid=uid, namespace=namespace, attempt=0),
            hostname="" if host_network else name,
            log_directory=os.path.join(log_dir, "%s_%s_%s" % (namespace, name, uid)),
            dns_config=pb.DNSConfig(servers=[dns_server],
                                    searches=["%s.svc.cluster.local" % namespace,
                                              "svc.cluster.local", "cluster.local"],
                                    options=["ndots:5"]),
            labels=labels, annotations=annotations,
            linux=pb.LinuxPodSandboxConfig(
                cgroup_parent="%s/burstable/pod%s" % (cgroup_root, uid),
                security_context=pb.LinuxSandboxSecurityContext(
                    namespace_options=pb.NamespaceOption(
                        network=pb.NODE if host_network else pb.POD,
                        pid=pb.POD if share_pid else pb.CONTAINER, ipc=pb.POD),
                    seccomp=pb.SecurityProfile(profile_type=pb.SecurityProfile.RuntimeDefault)),
            ))

    def container_config(self, pod_config, name, image_id, command, args=(), env=None,
                         memory=0, cpu_quota=0, cpu_period=100000, cpu_shares=2,
                         oom_score_adj=1000, mounts=(), grace=30, working_dir=""):
        """ContainerConfig like kubelet's generateContainerConfig for a container without
        securityContext (RuntimeDefault seccomp, default masked/readonly paths, no extra caps)."""
        pb = self.pb
        md = pod_config.metadata
        labels = {"io.kubernetes.container.name": name, "io.kubernetes.pod.name": md.name,
                  "io.kubernetes.pod.namespace": md.namespace, "io.kubernetes.pod.uid": md.uid}
        annotations = {"io.kubernetes.container.hash": "%08x" % (hash(name) & 0xffffffff),
                       "io.kubernetes.container.restartCount": "0",
                       "io.kubernetes.container.terminationMessagePath": "/dev/termination-log",
                       "io.kubernetes.container.terminationMessagePolicy": "File",
                       "io.kubernetes.pod.terminationGracePeriod": str(grace)}
        envs = [pb.KeyValue(key=k, value=v) for k, v in (env or {}).items()]
        envs.append(pb.KeyValue(key="KUBERNETES_SERVICE_HOST", value="10.96.0.1"))
        envs.append(pb.KeyValue(key="KUBERNETES_SERVICE_PORT", value="443"))
        return pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=name, attempt=0),
            image=pb.ImageSpec(image=image_id),
            command=list(command), args=list(args), working_dir=working_dir, envs=envs,
            mounts=[pb.Mount(container_path=c, host_path=h, readonly=ro) for c, h, ro in mounts],
            labels=labels, annotations=annotations,
            log_path="%s/0.log" % name,
            linux=pb.LinuxContainerConfig(
                resources=pb.LinuxContainerResources(
                    cpu_period=cpu_period if cpu_quota else 0, cpu_quota=cpu_quota,
                    cpu_shares=cpu_shares, memory_limit_in_bytes=memory,
                    oom_score_adj=oom_score_adj),
                security_context=pb.LinuxContainerSecurityContext(
                    capabilities=pb.Capability(),
                    # the pod's choices (kubelet derives both from the same PodSpec)
                    namespace_options=pod_config.linux.security_context.namespace_options,
                    masked_paths=MASKED_PATHS, readonly_paths=READONLY_PATHS,
                    seccomp=pb.SecurityProfile(profile_type=pb.SecurityProfile.RuntimeDefault)),
            ))
