"""A UDP socket's kernel side: its receive buffer, and the datagrams the kernel dropped.

UDP has no backpressure, so a burst the listener cannot read at once waits in the
socket's receive buffer; when that is full the kernel drops datagrams without a word.
The default buffer (``net.core.rmem_default``, about 208 KiB) holds about a thousand
small syslog datagrams, so listeners ask for ``udp_receive_buffer_bytes`` instead
(as root past ``net.core.rmem_max``, with ``SO_RCVBUFFORCE``), and ``/metrics`` shows
the kernel's own drop counter of each socket, read from ``/proc/net/udp``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from pathlib import Path
from typing import Any

#: Linux's option numbers; Python's ``socket`` module does not name it.
SO_RCVBUFFORCE = 33
_LINUX = sys.platform.startswith("linux")
_PROC_TABLES = (Path("/proc/net/udp"), Path("/proc/net/udp6"))


def raise_receive_buffer(sock: Any, want: int) -> tuple[int, bool]:
    """Ask for a ``want``-byte receive buffer; returns what the kernel reports and whether
    it capped the request (``net.core.rmem_max`` for an unprivileged process).

    Linux reports twice the size set (it counts its bookkeeping), so a buffer is capped
    when the report is below ``2 * want`` there, below ``want`` elsewhere.
    """
    if want <= 0:
        return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)), False
    forced = False
    if _LINUX and os.geteuid() == 0:
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, want)
            forced = True
        except OSError:
            pass
    if not forced:
        with contextlib.suppress(OSError):  # refused outright: the default stays
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, want)
    granted = int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
    return granted, granted < want * (2 if _LINUX else 1)


def kernel_drops(inode: int) -> int | None:
    """Datagrams the kernel dropped on the socket with ``inode`` (its ``drops`` column of
    ``/proc/net/udp``), or None where the kernel does not publish it."""
    wanted = str(inode)
    for table in _PROC_TABLES:
        try:
            lines = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) >= 13 and fields[9] == wanted:
                return int(fields[-1])
    return None


def socket_inode(sock: Any) -> int:
    """The inode ``/proc/net/udp`` names a socket by."""
    return os.fstat(sock.fileno()).st_ino
