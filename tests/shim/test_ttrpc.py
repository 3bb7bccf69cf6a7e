"""ttrpc framing, server and client over a socketpair (no root needed)."""
import socket
import struct
import threading
import time

import pytest

from pyrunc_shim import ttrpc
from pyrunc_shim.wire import Package

rpc_pb2 = Package("ttrpc")
task_pb2 = Package("containerd.task.v2")
Empty = Package("google.protobuf").Empty


class Fake:
    def __init__(self):
        self.release = threading.Event()

    def Wait(self, req):
        self.release.wait(5)
        return task_pb2.WaitResponse(exit_status=7)

    def Kill(self, req):
        if req.signal == 0:
            raise ttrpc.RpcError(ttrpc.NOT_FOUND, "process already finished")
        self.release.set()
        return Empty()

    def State(self, req):
        raise ValueError("boom")


@pytest.fixture
def pair():
    fake = Fake()
    methods = {
        "Wait": ttrpc.Method(task_pb2.WaitRequest, fake.Wait),
        "Kill": ttrpc.Method(task_pb2.KillRequest, fake.Kill),
        "State": ttrpc.Method(task_pb2.StateRequest, fake.State),
    }
    server = ttrpc.Server({"containerd.task.v2.Task": methods}, check_peer=True)
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    threading.Thread(target=server.serve_conn, args=(a,), daemon=True).start()
    client = ttrpc.Client(b)
    yield client, b
    client.close()


def test_header_layout():
    frame = ttrpc.encode_frame(3, ttrpc.T_REQUEST, 0, b"abc")
    assert frame == struct.pack(">IIBB", 3, 3, 1, 0) + b"abc"
    assert len(frame) == 13


def test_concurrent_requests_answer_out_of_order(pair):
    client, _ = pair
    results = {}

    def wait():
        results["wait"] = client.call("containerd.task.v2.Task", "Wait",
                                      task_pb2.WaitRequest(id="c"), task_pb2.WaitResponse, timeout=5)
        results["wait_done"] = time.monotonic()

    t = threading.Thread(target=wait)
    t.start()
    time.sleep(0.1)
    assert "wait" not in results  # still blocked: only the Kill on the same connection frees it
    kill_sent = time.monotonic()
    client.call("containerd.task.v2.Task", "Kill", task_pb2.KillRequest(id="c", signal=9),
                Empty, timeout=5)
    t.join(5)
    assert results["wait"].exit_status == 7
    assert results["wait_done"] >= kill_sent


def test_status_errors(pair):
    client, _ = pair
    with pytest.raises(ttrpc.RpcError) as err:
        client.call("containerd.task.v2.Task", "Kill", task_pb2.KillRequest(id="c", signal=0),
                    Empty, timeout=5)
    assert err.value.code == ttrpc.NOT_FOUND and "already finished" in err.value.message
    with pytest.raises(ttrpc.RpcError) as err:
        client.call("containerd.task.v2.Task", "State", task_pb2.StateRequest(id="c"),
                    task_pb2.StateResponse, timeout=5)
    assert err.value.code == ttrpc.UNKNOWN and "boom" in err.value.message


def test_unknown_service_and_method(pair):
    client, _ = pair
    with pytest.raises(ttrpc.RpcError) as err:
        client.call("nope.Service", "X", task_pb2.StateRequest(), task_pb2.StateResponse, timeout=5)
    assert err.value.code == ttrpc.UNIMPLEMENTED and err.value.message == "service nope.Service"
    with pytest.raises(ttrpc.RpcError) as err:
        client.call("containerd.task.v2.Task", "Nope", task_pb2.StateRequest(),
                    task_pb2.StateResponse, timeout=5)
    assert err.value.message == "method Nope"


def _raw_response(sock):
    sid, mtype, flags, payload = ttrpc.read_frame(sock)
    return sid, mtype, rpc_pb2.Response.FromString(payload)


def test_even_stream_id_rejected():
    server = ttrpc.Server({}, check_peer=False)
    a, b = socket.socketpair()
    threading.Thread(target=server.serve_conn, args=(a,), daemon=True).start()
    req = rpc_pb2.Request(service="s", method="m").SerializeToString()
    b.sendall(ttrpc.encode_frame(2, ttrpc.T_REQUEST, 0, req))
    sid, mtype, resp = _raw_response(b)
    assert (sid, mtype, resp.status.code) == (2, ttrpc.T_RESPONSE, ttrpc.INVALID_ARGUMENT)
    b.close()


def test_oversized_message_is_discarded_and_stream_stays_usable():
    server = ttrpc.Server({}, check_peer=False)
    a, b = socket.socketpair()
    threading.Thread(target=server.serve_conn, args=(a,), daemon=True).start()
    big = b"\0" * (ttrpc.MAX_PAYLOAD + 1)
    threading.Thread(target=b.sendall, args=(ttrpc.encode_frame(1, ttrpc.T_REQUEST, 0, big),),
                     daemon=True).start()
    sid, _, resp = _raw_response(b)
    assert sid == 1 and resp.status.code == ttrpc.RESOURCE_EXHAUSTED
    b.sendall(ttrpc.encode_frame(3, ttrpc.T_REQUEST, 0,
                                 rpc_pb2.Request(service="x", method="y").SerializeToString()))
    sid, _, resp = _raw_response(b)
    assert sid == 3 and resp.status.code == ttrpc.UNIMPLEMENTED
    b.close()


def test_peer_credentials_checked():
    server = ttrpc.Server({}, check_peer=True)
    a, b = socket.socketpair()
    assert server._peer_allowed(a)
    a.close()
    b.close()


def test_client_fails_pending_calls_on_close():
    a, b = socket.socketpair()
    client = ttrpc.Client(b)
    threading.Timer(0.1, a.close).start()
    with pytest.raises(ttrpc.RpcError) as err:
        client.call("s", "m", task_pb2.StateRequest(), task_pb2.StateResponse, timeout=5)
    assert err.value.code == ttrpc.UNAVAILABLE


def _stream_pair(handler):
    server = ttrpc.Server({"t.Svc": {"S": ttrpc.Method(task_pb2.PidsRequest, handler, streaming=True)}},
                          check_peer=False)
    a, b = socket.socketpair()
    threading.Thread(target=server.serve_conn, args=(a,), daemon=True).start()
    return ttrpc.Client(b)


def test_server_stream_sends_data_frames_then_status():
    def handler(inbox, send):
        (req,) = list(inbox)
        for pid in range(3):
            send(task_pb2.StartResponse(pid=pid))
    client = _stream_pair(handler)
    got = [m.pid for m in client.stream("t.Svc", "S", task_pb2.PidsRequest(id="x"),
                                        task_pb2.StartResponse, timeout=5)]
    assert got == [0, 1, 2]
    client.close()


def test_client_stream_and_error_status():
    seen = []

    def handler(inbox, send):
        for req in inbox:
            seen.append(req.id)
        send(task_pb2.StartResponse(pid=len(seen)))
        raise ttrpc.RpcError(ttrpc.ABORTED, "enough")

    client = _stream_pair(handler)
    out = []
    with pytest.raises(ttrpc.RpcError) as err:
        for m in client.stream("t.Svc", "S", None, task_pb2.StartResponse,
                               outgoing=[task_pb2.PidsRequest(id=i) for i in "abc"], timeout=5):
            out.append(m.pid)
    assert err.value.code == ttrpc.ABORTED
    assert seen == ["a", "b", "c"] and out == [3]
    client.close()
