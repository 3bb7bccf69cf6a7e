"""Unix stream sockets on the _socket extension directly.

The socket module builds its IntEnum classes at import time (~8 ms with enum and selectors),
and the start action and the daemon are on containerd's critical path for every container.
"""
import struct

import _socket
from _socket import (AF_UNIX, CMSG_LEN, SCM_RIGHTS, SHUT_RDWR, SO_PEERCRED,  # noqa: F401
                     SOCK_STREAM, SOL_SOCKET)

MSG_CMSG_CLOEXEC = 0x40000000


class Socket(_socket.socket):
    __slots__ = ()

    def __init__(self, family=AF_UNIX, type=SOCK_STREAM, proto=0, fileno=None):
        super().__init__(family, type, proto, fileno)

    def accept(self):
        fd, addr = self._accept()  # accept4(SOCK_CLOEXEC)
        return Socket(fileno=fd), addr


def recv_fds(sock, bufsize, maxfds):
    msg, ancdata, _, _ = sock.recvmsg(bufsize, CMSG_LEN(maxfds * 4), MSG_CMSG_CLOEXEC)
    fds = []
    for level, kind, data in ancdata:
        if level == SOL_SOCKET and kind == SCM_RIGHTS:
            n = len(data) // 4
            fds.extend(struct.unpack("%di" % n, data[:n * 4]))
    return msg, fds
