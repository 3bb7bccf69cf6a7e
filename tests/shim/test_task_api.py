"""The task API spoken directly to a shim that containerd started, and the log URIs."""
import os
import time

import pytest

from helpers import CGROUP_PARENT, needs_root, wait_for
from pyrunc_shim import ttrpc
from pyrunc_shim.jsonlite import dumps
from pyrunc_shim.wire import Package, message_class
from test_containerd import new_id, remove, run_rootfs, start_sleeper

pytestmark = needs_root
pb = Package("containerd.task.v2")
Empty = Package("google.protobuf").Empty
V2 = "containerd.task.v2.Task"


def shim_client(ctd, cid):
    bundle = os.path.join(ctd.base, "state", "io.containerd.runtime.v2.task", ctd.namespace, cid)
    with open(os.path.join(bundle, "address")) as f:
        return ttrpc.Client.connect(f.read())


def call(client, method, req, resp_cls=None, service=V2):
    return client.call(service, method, req, resp_cls or Empty, timeout=30,
                       metadata=[("containerd-namespace-ttrpc", "pyrunc-shim-test")])


def test_task_api_directly(ctd, rootfs):
    cid = start_sleeper(ctd, rootfs)
    client = shim_client(ctd, cid)
    try:
        init_pid = ctd.tasks()[cid][0]
        conn = call(client, "Connect", pb.ConnectRequest(id=cid), pb.ConnectResponse)
        assert conn.task_pid == init_pid and conn.shim_pid > 0
        state = call(client, "State", pb.StateRequest(id=cid), pb.StateResponse, service="containerd.task.v3.Task")
        assert (state.status, state.pid, state.id) == (2, init_pid, cid)

        limit = 64 << 20
        call(client, "Update", pb.UpdateTaskRequest(id=cid, resources=message_class("google.protobuf.Any")(
            type_url="types.containerd.io/opencontainers/runtime-spec/1/LinuxResources",
            value=dumps({"memory": {"limit": limit}}).encode())))
        mem = "/sys/fs/cgroup/memory%s/%s/memory.limit_in_bytes" % (CGROUP_PARENT, cid)
        if os.path.exists(mem):
            with open(mem) as f:
                assert int(f.read()) == limit

        stats = call(client, "Stats", pb.StatsRequest(id=cid), pb.StatsResponse)
        kind = stats.stats.type_url.rsplit(".", 2)[-2]
        metrics = message_class("io.containerd.cgroups.%s.Metrics" % kind).FromString(stats.stats.value)
        assert metrics.pids.current == 1

        with pytest.raises(ttrpc.RpcError) as err:
            call(client, "Checkpoint", pb.CheckpointTaskRequest(id=cid, path="/tmp/x"))
        assert err.value.code == ttrpc.UNIMPLEMENTED

        spec = {"args": ["/bin/sleep", "100"], "cwd": "/", "env": ["PATH=/bin"],
                "user": {"uid": 0, "gid": 0}}
        call(client, "Exec", pb.ExecProcessRequest(id=cid, exec_id="x1", spec=message_class(
            "google.protobuf.Any")(type_url="types.containerd.io/opencontainers/runtime-spec/1/Process",
                                   value=dumps(spec).encode())))
        with pytest.raises(ttrpc.RpcError) as err:
            call(client, "Exec", pb.ExecProcessRequest(id=cid, exec_id="x1"))
        assert err.value.code == ttrpc.ALREADY_EXISTS
        started = call(client, "Start", pb.StartRequest(id=cid, exec_id="x1"), pb.StartResponse)
        pids = call(client, "Pids", pb.PidsRequest(id=cid), pb.PidsResponse)
        assert {p.pid for p in pids.processes} == {init_pid, started.pid}
        call(client, "Kill", pb.KillRequest(id=cid, exec_id="x1", signal=9))
        waited = call(client, "Wait", pb.WaitRequest(id=cid, exec_id="x1"), pb.WaitResponse)
        assert waited.exit_status == 137 and waited.exited_at.seconds > 0
        deleted = call(client, "Delete", pb.DeleteRequest(id=cid, exec_id="x1"), pb.DeleteResponse)
        assert deleted.pid == started.pid
        with pytest.raises(ttrpc.RpcError) as err:
            call(client, "State", pb.StateRequest(id=cid, exec_id="x1"), pb.StateResponse)
        assert err.value.code == ttrpc.NOT_FOUND

        # Shutdown without `now` while a container lives must not stop the shim.
        call(client, "Shutdown", pb.ShutdownRequest(id=cid))
        time.sleep(0.2)
        assert call(client, "State", pb.StateRequest(id=cid), pb.StateResponse).status == 2
    finally:
        client.close()
        remove(ctd, cid)


def test_file_log_uri(ctd, rootfs, tmp_path):
    log = tmp_path / "logs" / "c.log"
    run_rootfs(ctd, rootfs, new_id("f"), "/bin/sh", "-c", "echo to-out; echo to-err >&2",
               flags=("--rm", "--log-uri", "file://%s" % log))
    assert wait_for(lambda: log.exists() and b"to-err" in log.read_bytes())
    assert b"to-out" in log.read_bytes()


def test_binary_log_uri(ctd, rootfs, tmp_path):
    logger = tmp_path / "logger.sh"
    out = tmp_path / "captured"
    logger.write_text("#!/bin/sh\n# fd 3: stdout, fd 4: stderr, fd 5: ready\n"
                      "cat <&3 5>&- > \"$1.out\" & cat <&4 5>&- > \"$1.err\" & exec 5>&-\n"
                      "echo \"$CONTAINER_ID $CONTAINER_NAMESPACE\" > \"$1.env\"\nwait\n")
    logger.chmod(0o755)
    cid = new_id("b")
    run_rootfs(ctd, rootfs, cid, "/bin/sh", "-c", "echo bin-out; echo bin-err >&2",
               flags=("--rm", "--log-uri", "binary://%s?%s" % (logger, out)))
    assert wait_for(lambda: os.path.exists("%s.err" % out) and b"bin-err" in open("%s.err" % out, "rb").read())
    assert b"bin-out" in open("%s.out" % out, "rb").read()
    assert open("%s.env" % out).read().split() == [cid, ctd.namespace]
