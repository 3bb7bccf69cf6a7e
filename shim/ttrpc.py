"""ttrpc, containerd's lean RPC: 10-byte framed messages over a unix stream socket.

One reader thread per connection; every request runs in its own thread because containerd
keeps a Wait outstanding while it sends Kill/State on the same connection. Writes are
serialised by a per-connection lock so frames never interleave.
"""
import os
import struct
from pyrunc_shim import threads

from pyrunc_shim import usock

from pyrunc_shim.wire import Package

rpc = Package("ttrpc")

HEADER = struct.Struct(">IIBB")
MAX_PAYLOAD = 4 << 20
T_REQUEST, T_RESPONSE, T_DATA = 1, 2, 3
F_REMOTE_CLOSED, F_REMOTE_OPEN, F_NO_DATA = 1, 2, 4

OK, CANCELED, UNKNOWN, INVALID_ARGUMENT, DEADLINE_EXCEEDED, NOT_FOUND = 0, 1, 2, 3, 4, 5
ALREADY_EXISTS, PERMISSION_DENIED, RESOURCE_EXHAUSTED, FAILED_PRECONDITION = 6, 7, 8, 9
ABORTED, OUT_OF_RANGE, UNIMPLEMENTED, INTERNAL, UNAVAILABLE = 10, 11, 12, 13, 14


class RpcError(Exception):
    """A failed call; carries a google.rpc code so containerd can map it back to errdefs."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class Closed(Exception):
    pass


def encode_frame(stream_id, mtype, flags, payload):
    return HEADER.pack(len(payload), stream_id, mtype, flags) + payload


def _recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise Closed()
        buf += chunk
    return bytes(buf)


def read_frame(sock):
    """Returns (stream_id, type, flags, payload); payload is None when it exceeded the limit."""
    length, sid, mtype, flags = HEADER.unpack(_recv_exact(sock, HEADER.size))
    if length > MAX_PAYLOAD:
        # The oversized body must still be consumed to keep the stream in sync.
        while length:
            length -= len(_recv_exact(sock, min(length, 1 << 16)))
        return sid, mtype, flags, None
    return sid, mtype, flags, _recv_exact(sock, length) if length else b""


def _log_exception(method):
    """The daemon's stderr is the bundle's `log` FIFO, which containerd copies to its log."""
    import sys
    import traceback
    try:
        sys.stderr.write("pyrunc shim: %s failed:\n%s" % (method, traceback.format_exc()))
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


class Method:
    """A unary handler takes a message and returns one. A streaming handler (streaming=True)
    is called as handler(inbox, send): it iterates the client's messages and calls send() for
    each message of its own; the call ends with the status once it returns."""
    __slots__ = ("request", "handler", "streaming")

    def __init__(self, request, handler, streaming=False):
        self.request = request
        self.handler = handler
        self.streaming = streaming


class Inbox:
    """Messages of one stream as they arrive; iteration ends when the sender closes its side."""

    def __init__(self):
        from _collections import deque
        self.items = deque()
        self.cond = threads.Condition()
        self.closed = False

    def put(self, item):
        with self.cond:
            self.items.append(item)
            self.cond.notify()

    def close(self):
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def __iter__(self):
        while True:
            with self.cond:
                while not self.items and not self.closed:
                    self.cond.wait()
                if not self.items:
                    return
                item = self.items.popleft()
            yield item


class Server:
    """Serves {service name: {method name: Method}}; handlers take a message, return a message."""

    def __init__(self, services, check_peer=True):
        self.services = services
        self.check_peer = check_peer
        self.after_response = None  # hook run once a response is on the wire (Shutdown)

    def serve(self, listener):
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threads.Thread(target=self.serve_conn, args=(conn,), daemon=True).start()

    def _peer_allowed(self, conn):
        if not self.check_peer:
            return True
        creds = conn.getsockopt(usock.SOL_SOCKET, usock.SO_PEERCRED, struct.calcsize("3i"))
        _, uid, gid = struct.unpack("3i", creds)
        return uid == os.geteuid() and gid == os.getegid()

    def serve_conn(self, conn):
        if not self._peer_allowed(conn):
            conn.close()
            return
        lock = threads.Lock()
        last_id = 0
        inboxes = {}  # stream id -> Inbox while the client may still send data
        try:
            while True:
                sid, mtype, flags, payload = read_frame(conn)
                if mtype == T_DATA:
                    self._data(inboxes, sid, flags, payload)
                    continue
                if mtype != T_REQUEST:
                    continue
                if payload is None:
                    self._reply(conn, lock, sid, RpcError(RESOURCE_EXHAUSTED, "message too large"))
                    continue
                if sid % 2 == 0 or sid <= last_id:
                    self._reply(conn, lock, sid, RpcError(INVALID_ARGUMENT, "invalid stream id %d" % sid))
                    continue
                last_id = sid
                inbox = None  # None: the Request carries the only client message
                if flags & F_REMOTE_OPEN:
                    inbox = inboxes[sid] = Inbox()
                threads.Thread(target=self._dispatch, args=(conn, lock, sid, payload, inbox),
                               daemon=True).start()
        except (Closed, OSError):
            pass
        finally:
            for inbox in inboxes.values():
                inbox.close()
            conn.close()

    @staticmethod
    def _data(inboxes, sid, flags, payload):
        inbox = inboxes.get(sid)
        if inbox is None:
            return  # data for a stream that is not open for sending: dropped
        if not flags & F_NO_DATA:
            inbox.put(payload)
        if flags & F_REMOTE_CLOSED:
            inboxes.pop(sid).close()

    def _dispatch(self, conn, lock, sid, payload, inbox):
        req = rpc.Request.FromString(payload)
        methods = self.services.get(req.service)
        try:
            if methods is None:
                raise RpcError(UNIMPLEMENTED, "service %s" % req.service)
            method = methods.get(req.method)
            if method is None:
                raise RpcError(UNIMPLEMENTED, "method %s" % req.method)
            if method.streaming:
                result = self._stream(conn, lock, sid, method, req.payload, inbox)
            else:
                result = method.handler(method.request.FromString(req.payload))
        except RpcError as err:
            result = err
        except Exception as err:  # a handler bug must not kill the connection
            result = RpcError(UNKNOWN, "%s: %s" % (type(err).__name__, err))
            _log_exception(req.method)
        self._reply(conn, lock, sid, result)
        hook = self.after_response
        if hook is not None and req.method == "Shutdown":
            hook()

    @staticmethod
    def _stream(conn, lock, sid, method, first, inbox):
        def messages():
            if inbox is None or first:
                yield method.request.FromString(first)
            for payload in inbox or ():
                yield method.request.FromString(payload)

        def send(msg):
            frame = encode_frame(sid, T_DATA, 0, msg.SerializeToString())
            with lock:
                conn.sendall(frame)

        method.handler(messages(), send)
        return None

    @staticmethod
    def _reply(conn, lock, sid, result):
        resp = rpc.Response()
        if isinstance(result, RpcError):
            resp.status.code = result.code
            resp.status.message = result.message
        elif result is not None:
            resp.payload = result.SerializeToString()
        frame = encode_frame(sid, T_RESPONSE, 0, resp.SerializeToString())
        with lock:
            try:
                conn.sendall(frame)
            except OSError:
                pass


class Client:
    """Unary ttrpc client; concurrent calls are matched to responses by stream id."""

    def __init__(self, sock):
        self.sock = sock
        self.lock = threads.Lock()
        self.next_id = 1
        self.pending = {}
        self.streams = {}
        self.closed = False
        threads.Thread(target=self._read_loop, daemon=True).start()

    @classmethod
    def connect(cls, path, timeout=5.0):
        sock = usock.Socket()
        sock.settimeout(timeout)
        sock.connect(path.replace("unix://", "", 1))
        sock.settimeout(None)
        return cls(sock)

    def _read_loop(self):
        try:
            while True:
                sid, mtype, flags, payload = read_frame(self.sock)
                if mtype == T_DATA:
                    with self.lock:
                        inbox = self.streams.get(sid)
                    if inbox is not None and not flags & F_NO_DATA:
                        inbox.put(payload)
                    continue
                if mtype != T_RESPONSE:
                    continue
                with self.lock:
                    slot = self.pending.pop(sid, None)
                    inbox = self.streams.pop(sid, None)
                if slot is not None:
                    slot[1] = payload
                    slot[0].set()
                if inbox is not None:
                    inbox.close()
        except (Closed, OSError):
            pass
        finally:
            self.closed = True
            with self.lock:
                slots = list(self.pending.values())
                self.pending.clear()
                inboxes = list(self.streams.values())
                self.streams.clear()
            for slot in slots:
                slot[0].set()
            for inbox in inboxes:
                inbox.close()

    def call(self, service, method, request, response_cls, timeout=None, metadata=()):
        req = rpc.Request(service=service, method=method, payload=request.SerializeToString())
        if timeout:
            req.timeout_nano = int(timeout * 1e9)
        for key, value in metadata:
            req.metadata.add(key=key, value=value)
        slot = [threads.Event(), None]
        with self.lock:
            if self.closed:
                raise RpcError(UNAVAILABLE, "ttrpc: closed")
            sid = self.next_id
            self.next_id += 2
            self.pending[sid] = slot
            try:
                self.sock.sendall(encode_frame(sid, T_REQUEST, 0, req.SerializeToString()))
            except OSError as err:
                self.pending.pop(sid, None)
                raise RpcError(UNAVAILABLE, "ttrpc: %s" % err) from None
        if not slot[0].wait(timeout):
            with self.lock:
                self.pending.pop(sid, None)
            raise RpcError(DEADLINE_EXCEEDED, "ttrpc: %s/%s timed out" % (service, method))
        if slot[1] is None:
            raise RpcError(UNAVAILABLE, "ttrpc: closed")
        resp = rpc.Response.FromString(slot[1])
        if resp.status.code != OK:
            raise RpcError(resp.status.code, resp.status.message)
        return response_cls.FromString(resp.payload)

    def stream(self, service, method, request, response_cls, outgoing=None, timeout=None):
        """Streaming call: `request` goes in the Request frame (None when the client streams),
        `outgoing` (iterable) as Data frames; yields the server's messages, then raises the
        final status if it is an error."""
        req = rpc.Request(service=service, method=method,
                          payload=request.SerializeToString() if request is not None else b"")
        slot = [threads.Event(), None]
        inbox = Inbox()
        with self.lock:
            if self.closed:
                raise RpcError(UNAVAILABLE, "ttrpc: closed")
            sid = self.next_id
            self.next_id += 2
            self.pending[sid] = slot
            self.streams[sid] = inbox
            flags = F_REMOTE_OPEN if outgoing is not None else F_REMOTE_CLOSED
            self.sock.sendall(encode_frame(sid, T_REQUEST, flags, req.SerializeToString()))
        if outgoing is not None:
            for msg in outgoing:
                frame = encode_frame(sid, T_DATA, 0, msg.SerializeToString())
                with self.lock:
                    self.sock.sendall(frame)
            with self.lock:
                self.sock.sendall(encode_frame(sid, T_DATA, F_REMOTE_CLOSED | F_NO_DATA, b""))
        for payload in inbox:
            yield response_cls.FromString(payload)
        if not slot[0].wait(timeout):
            raise RpcError(DEADLINE_EXCEEDED, "ttrpc: %s/%s timed out" % (service, method))
        if slot[1] is None:
            raise RpcError(UNAVAILABLE, "ttrpc: closed")
        resp = rpc.Response.FromString(slot[1])
        if resp.status.code != OK:
            raise RpcError(resp.status.code, resp.status.message)

    def close(self):
        self.closed = True
        try:
            self.sock.shutdown(usock.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
