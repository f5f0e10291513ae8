"""DNS over UDP through a few long-lived sockets, instead of one new socket per question.

dnspython's resolver sends each UDP question from a socket of its own: create, bind, register
with the event loop, close. A sweep asks some 20,000 questions, and measured on the bench lab
that socket churn made DNS collection cost about 1.5 ms of CPU per question, most of a
1,000-domain sweep's collection time. :class:`PooledNameserver` keeps dnspython's resolver
(retries, backoff, truncation, NXDOMAIN and CNAME handling, error classification all stay
dnspython's) and replaces only the UDP transport: a pool of connected UDP sockets per
nameserver, with replies matched to questions by ID and question section.

Why it is still safe to trust the answers: the sockets are connected, so the kernel drops
datagrams from any address but the nameserver's; each of the pool's sockets has its own random
source port; IDs are dnspython's random ones; and a reply counts only when
``request.is_response(reply)`` holds (ID, opcode and question section), as in dnspython. A
malformed or unexpected datagram is ignored and the question keeps waiting, like dnspython's
``ignore_errors`` mode. TCP (a truncated answer's retry) stays dnspython's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from typing import Any, cast

import dns.exception
import dns.message
import dns.nameserver

#: Sockets per nameserver: enough source ports that no one port carries much of a sweep.
POOL_SIZE = 16

#: Receive buffer asked for each socket. Replies to a burst of questions can arrive faster than
#: a busy event loop reads them, and a full buffer drops them silently: a timeout in the
#: evidence that the resolver never caused. Linux's default (208 KiB) holds about a hundred
#: full-size replies; this holds several times the questions ever in flight.
RECEIVE_BUFFER = 1 << 20
#: A timeout timer that runs more than LATE seconds after it was due waits GRACE seconds more,
#: at most GRACES times, for replies the stalled loop has not read yet (see ``_expire``).
LATE = 0.1
GRACE = 0.25
GRACES = 2

_Waiter = tuple[dns.message.Message, "asyncio.Future[dns.message.Message]", bool, bool]


class _Socket(asyncio.DatagramProtocol):
    """One connected UDP socket and the questions waiting for a reply on it, by DNS ID."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.waiting: dict[int, list[_Waiter]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):  # the kernel caps it (net.core.rmem_max)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if len(data) < 12:
            return
        waiters = self.waiting.get(int.from_bytes(data[:2], "big"))
        if not waiters:
            return
        for request, future, one_rr_per_rrset, ignore_trailing in waiters:
            if future.done():
                continue
            try:
                reply = dns.message.from_wire(
                    data,
                    keyring=request.keyring,
                    request_mac=request.mac,
                    one_rr_per_rrset=one_rr_per_rrset,
                    ignore_trailing=ignore_trailing,
                    raise_on_truncation=True,
                )
            except dns.message.Truncated as exc:
                if request.is_response(exc.message()):  # type: ignore[no-untyped-call]
                    future.set_exception(exc)  # the resolver retries over TCP
                    return
                continue
            except Exception:  # garbage: ignored, the question keeps waiting (dnspython does too)
                continue
            if request.is_response(reply):
                future.set_result(reply)
                return

    def error_received(self, exc: Exception) -> None:
        """An ICMP error (port unreachable: nothing listens there) fails every waiting question."""
        for waiters in self.waiting.values():
            for _, future, _, _ in waiters:
                if not future.done():
                    future.set_exception(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.error_received(exc or ConnectionError("DNS socket closed"))


class UdpPool:
    """A nameserver's UDP sockets for one event loop; :meth:`close` when the loop's work ends."""

    def __init__(self, address: str, port: int, size: int = POOL_SIZE) -> None:
        self.address = address
        self.port = port
        self.size = size
        self._sockets: list[_Socket] = []
        self._opening: asyncio.Task[None] | None = None
        self._next = 0

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(self.size):
            _, protocol = await loop.create_datagram_endpoint(
                _Socket, remote_addr=(self.address, self.port)
            )
            self._sockets.append(protocol)

    async def _socket(self) -> _Socket:
        if not self._sockets:
            if self._opening is None:
                self._opening = asyncio.ensure_future(self._open())
            await asyncio.shield(self._opening)
        self._next = (self._next + 1) % len(self._sockets)
        return self._sockets[self._next]

    async def query(
        self,
        request: dns.message.Message,
        timeout: float,
        one_rr_per_rrset: bool = False,
        ignore_trailing: bool = False,
    ) -> dns.message.Message:
        """Send ``request`` and wait up to ``timeout`` seconds for its reply."""
        sock = await self._socket()
        assert sock.transport is not None
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dns.message.Message] = loop.create_future()
        waiter: _Waiter = (request, future, one_rr_per_rrset, ignore_trailing)
        sock.waiting.setdefault(request.id, []).append(waiter)
        timeout = max(timeout, 0.0)
        timer = loop.call_later(timeout, _expire, future, timeout, loop.time() + timeout, GRACES)
        start = time.perf_counter()
        try:
            sock.transport.sendto(request.to_wire())
            reply = await future
        finally:
            timer.cancel()
            waiters = sock.waiting.get(request.id)
            if waiters is not None:
                waiters.remove(waiter)
                if not waiters:
                    del sock.waiting[request.id]
        reply.time = time.perf_counter() - start
        return reply

    def close(self) -> None:
        for sock in self._sockets:
            if sock.transport is not None:
                sock.transport.close()
        self._sockets.clear()
        self._opening = None


def _expire(
    future: asyncio.Future[dns.message.Message], timeout: float, due: float, graces: int
) -> None:
    """Time a question out, unless this timer ran late and its reply may be in the socket.

    A timer runs late when the loop was blocked (a garbage collection, a long computation):
    replies that arrived meanwhile wait in the socket, but asyncio reads one datagram per socket
    per loop pass and then runs every timer that fell due, so each question would time out with
    its answer unread. A late timer waits a little longer, while the loop reads the backlog.
    """
    if future.done():
        return
    loop = future.get_loop()
    if graces > 0 and loop.time() - due > LATE:
        loop.call_later(GRACE, _expire, future, timeout, loop.time() + GRACE, graces - 1)
        return
    future.set_exception(dns.exception.Timeout(timeout=timeout))  # type: ignore[no-untyped-call]


class PooledNameserver(dns.nameserver.Do53Nameserver):
    """dnspython's plain-DNS nameserver, with UDP questions sent through a :class:`UdpPool`.

    Without an open pool (outside :meth:`DnsCollector.settle`) it behaves exactly as
    dnspython's own class.
    """

    def __init__(self, address: str, port: int = 53) -> None:
        super().__init__(address, port)
        self.pool: UdpPool | None = None

    def open_pool(self) -> None:
        self.pool = UdpPool(self.address, self.port)

    def close_pool(self) -> None:
        if self.pool is not None:
            self.pool.close()
        self.pool = None

    async def async_query(
        self,
        request: dns.message.QueryMessage,
        timeout: float,
        source: str | None,
        source_port: int,
        max_size: bool,
        backend: Any,
        one_rr_per_rrset: bool = False,
        ignore_trailing: bool = False,
    ) -> dns.message.Message:
        if max_size or self.pool is None or source is not None or source_port:
            return await super().async_query(
                request,
                timeout,
                source,
                source_port,
                max_size,
                backend,
                one_rr_per_rrset,
                ignore_trailing,
            )
        return await self.pool.query(request, timeout, one_rr_per_rrset, ignore_trailing)
