"""HTTP/1.1 protocol for ``redline serve``: uvicorn's h11 protocol with Nagle's algorithm switched off.

Why: with ``--workers N`` uvicorn binds the listening socket itself, and asyncio only sets ``TCP_NODELAY``
on sockets created with ``IPPROTO_TCP``, so those connections keep Nagle's algorithm on. The h11 protocol
writes a response's headers and body as two segments; Nagle holds the second until the client acknowledges
the first, and the client delays that acknowledgement by ~40 ms. Every response on a kept-alive connection
then took ~45 ms — a platform checking uploads over one connection got ~22 answers a second.
"""

from __future__ import annotations

import asyncio
import socket
from contextlib import suppress

from uvicorn.protocols.http.h11_impl import H11Protocol


class NoDelayH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)  # type: ignore[arg-type]


#: The value ``redline serve`` gives uvicorn's ``http`` option.
HTTP_PROTOCOL = f"{__name__}:{NoDelayH11Protocol.__name__}"
