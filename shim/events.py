"""Ordered event forwarding to containerd (Events/Forward on TTRPC_ADDRESS).

One queue and one sender thread keep events in the order they were queued, which is what
containerd needs (create before start before exit before delete).
"""
from _collections import deque  # the collections package costs ~2 ms to import
from pyrunc_shim import threads
import time

from pyrunc_shim.wire import Package

messages = Package("containerd.events")

SERVICE = "containerd.services.events.ttrpc.v1.Events"
TOPICS = {
    "TaskCreate": "/tasks/create", "TaskStart": "/tasks/start", "TaskExit": "/tasks/exit",
    "TaskDelete": "/tasks/delete", "TaskOOM": "/tasks/oom", "TaskExecAdded": "/tasks/exec-added",
    "TaskExecStarted": "/tasks/exec-started", "TaskPaused": "/tasks/paused",
    "TaskResumed": "/tasks/resumed", "TaskCheckpointed": "/tasks/checkpointed",
}
ATTEMPTS = 5


def make(kind, **fields):
    msg = getattr(messages, kind)()
    for key, value in fields.items():
        if key == "exited_at":
            msg.exited_at.FromNanoseconds(value)
        elif key == "rootfs":
            msg.rootfs.extend(value)
        else:
            setattr(msg, key, value)
    return msg


class Publisher:
    """Forwards over ttrpc to `address`; without one (containerd < 1.5) it runs
    `<publish_binary> --address <grpc> publish --topic T --namespace NS` per event."""

    def __init__(self, address, namespace, publish_binary="", grpc_address="", reaper=None):
        self.address = address
        self.namespace = namespace
        self.legacy = (publish_binary, grpc_address, reaper) if publish_binary and grpc_address else None
        self.queue = deque()
        self.cond = threads.Condition()
        self.client = None
        self.busy = False
        if address or self.legacy:
            threads.Thread(target=self._run, daemon=True).start()

    def publish(self, kind, **fields):
        event = make(kind, **fields)
        with self.cond:
            self.queue.append((time.time_ns(), TOPICS[kind], event))
            self.cond.notify()

    def flush(self, timeout=5.0):
        """Waits until queued events were sent (used before the daemon exits)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while (self.queue or self.busy) and (self.address or self.legacy):
                left = deadline - time.monotonic()
                if left <= 0 or not self.cond.wait(left):
                    return

    def _run(self):
        es = Package("containerd.services.events.ttrpc.v1")
        empty = Package("google.protobuf").Empty
        while True:
            with self.cond:
                while not self.queue:
                    self.cond.wait()
                ts, topic, event = self.queue[0]
                self.busy = True
            req = es.ForwardRequest()
            env = req.envelope
            env.timestamp.FromNanoseconds(ts)
            env.namespace = self.namespace
            env.topic = topic
            env.event.type_url = event.full_name  # containerd's typeurl: the bare full name
            env.event.value = event.SerializeToString()
            if self.address:
                self._send(req, empty)
            else:
                self._exec_publish(topic, env.event.SerializeToString())
            with self.cond:
                self.queue.popleft()
                self.busy = False
                self.cond.notify_all()

    def _exec_publish(self, topic, any_bytes):
        from pyrunc_shim.spawn import run_output
        binary, grpc_address, reaper = self.legacy
        for attempt in range(ATTEMPTS):
            status, _ = run_output([binary, "--address", grpc_address, "publish", "--topic", topic,
                                    "--namespace", self.namespace], reaper, any_bytes)
            if status == 0:
                return
            time.sleep(0.1 * (attempt + 1))

    def _send(self, req, empty):
        from pyrunc_shim.ttrpc import Client, RpcError
        for attempt in range(ATTEMPTS):
            try:
                if self.client is None or self.client.closed:
                    self.client = Client.connect(self.address)
                self.client.call(SERVICE, "Forward", req, empty, timeout=5.0)
                return
            except (OSError, RpcError):
                if self.client is not None:
                    self.client.close()
                    self.client = None
                time.sleep(0.1 * (attempt + 1))
