"""The pooled UDP transport against a hostile nameserver on loopback.

The server below answers each question with garbage first, then a reply with another ID, then
a reply with the right ID for another question, and only then the true answer: the collector
must ignore the first three and keep the fourth, as dnspython does on its own sockets. A
nameserver port where nothing listens must be a clear failure, never a long wait.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import dns.message
import dns.rrset
import pytest

from pytest_govmail.collect.dns import DnsCollector, Nameserver
from pytest_govmail.collect.dns_udp import PooledNameserver
from pytest_govmail.model.dns import ErrorKind, Query
from pytest_govmail.model.target import Target
from pytest_govmail.plan import DnsView, Planner


class DeceivingServer:
    """A UDP nameserver that sends three wrong datagrams before each right one."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.address = self.sock.getsockname()
        self.questions = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> DeceivingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            self.questions += 1
            name = query.question[0].name
            good = dns.message.make_response(query)
            good.answer.append(dns.rrset.from_text(name, 300, "IN", "TXT", '"v=spf1 -all"'))
            wrong_id = dns.message.make_response(query)
            wrong_id.id = (query.id + 1) % 65536
            wrong_id.answer.append(dns.rrset.from_text(name, 300, "IN", "TXT", '"forged"'))
            other = dns.message.make_query("forged.example.", "TXT")
            other.id = query.id
            wrong_question = dns.message.make_response(other)
            wrong_question.answer.append(
                dns.rrset.from_text("forged.example.", 300, "IN", "TXT", '"forged"')
            )
            for reply in (
                data[:2] + b"\x84\x00garbage",
                wrong_id.to_wire(),
                wrong_question.to_wire(),
                good.to_wire(),
            ):
                self.sock.sendto(reply, peer)


@pytest.fixture
def deceiver() -> Iterator[DeceivingServer]:
    with DeceivingServer() as server:
        yield server


def txt_planner(names: list[str]) -> Planner:
    def plan(target: Target, dns_view: DnsView) -> list[Query]:
        return [Query.of(n, "TXT") for n in names]

    return plan


def test_pool_keeps_only_the_true_reply(deceiver: DeceivingServer) -> None:
    host, port = deceiver.address
    names = [f"d{i}.example-dept.gov.uk" for i in range(50)]
    collector = DnsCollector([Nameserver(host, port)], timeout=2.0)
    assert all(isinstance(ns, PooledNameserver) for ns in collector._pooled)
    snapshot = collector.settle_sync([Target("example-dept.gov.uk")], [txt_planner(names)])
    for name in names:
        result = snapshot.get(name, "TXT")
        assert result is not None and result.error is None, result
        assert result.records == ('"v=spf1 -all"',)
    assert deceiver.questions == len(names)


def test_pool_and_plain_transport_agree(deceiver: DeceivingServer) -> None:
    host, port = deceiver.address
    names = ["a.example-dept.gov.uk", "b.example-dept.gov.uk"]
    plan = [txt_planner(names)]
    pooled = DnsCollector([Nameserver(host, port)], timeout=2.0).settle_sync(
        [Target("example-dept.gov.uk")], plan
    )
    plain = DnsCollector([Nameserver(host, port)], timeout=2.0, pooled=False).settle_sync(
        [Target("example-dept.gov.uk")], plan
    )
    for name in names:
        a, b = pooled.get(name, "TXT"), plain.get(name, "TXT")
        assert a is not None and b is not None
        assert (a.rcode, a.records, a.error) == (b.rcode, b.records, b.error)


def test_pool_to_a_closed_port_fails_fast_and_clearly() -> None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now: the kernel answers with ICMP port unreachable
    collector = DnsCollector([Nameserver("127.0.0.1", port)], timeout=5.0)
    start = time.perf_counter()
    snapshot = collector.settle_sync(
        [Target("example-dept.gov.uk")], [txt_planner(["x.example-dept.gov.uk"])]
    )
    elapsed = time.perf_counter() - start
    result = snapshot.get("x.example-dept.gov.uk", "TXT")
    assert result is not None and result.error is not None
    assert result.error.kind is not ErrorKind.TIMEOUT
    assert "refused" in result.error.detail.lower()
    assert elapsed < 4.0  # refused, not waited out (the timeout is 5 s)


BIG_TXT = " ".join(['"' + "x" * 250 + '"'] * 2)


def test_a_burst_of_replies_waits_in_the_socket_while_the_loop_is_busy() -> None:
    # 400 questions on one socket, answered at once by a real server while the client's event
    # loop is blocked (parsing, say): the replies, ~560 bytes each, must wait in the socket's
    # receive buffer. Linux's default buffer would drop most of them (timeouts nobody caused).
    import asyncio

    from pytest_govmail.collect.dns_udp import UdpPool
    from pytest_govmail.lab.dns_server import LabDnsServer

    zone = (
        "$ORIGIN burst.example.\n"
        "@ 3600 IN SOA ns1.burst.example. h.burst.example. 1 3600 600 604800 300\n"
        "@ 3600 IN NS ns1.burst.example.\n"
        f"big 3600 IN TXT {BIG_TXT}\n"
    )
    with LabDnsServer({"burst.example": zone}) as server:
        host, port = server.address

        async def burst() -> list[dns.message.Message]:
            pool = UdpPool(host, port, size=1)
            try:
                requests = [
                    dns.message.make_query("big.burst.example.", "TXT", use_edns=0, payload=1232)
                    for _ in range(400)
                ]
                tasks = [asyncio.ensure_future(pool.query(r, 5.0)) for r in requests]
                while sum(len(w) for s in pool._sockets for w in s.waiting.values()) < 400:
                    await asyncio.sleep(0)
                time.sleep(1.0)  # the loop is busy; the server answers every question meanwhile
                return await asyncio.gather(*tasks)
            finally:
                pool.close()

        replies = asyncio.run(burst())
    assert len(replies) == 400
    assert all(len(reply.answer) == 1 for reply in replies)


def test_replies_that_arrived_while_the_loop_was_blocked_are_not_timeouts() -> None:
    # The loop is blocked (a garbage collection pass, say) for longer than the questions'
    # timeout, while the server answers them all in a few milliseconds. The replies are in the
    # socket; the timers are late. Without a grace, asyncio runs every timer that fell due after
    # reading one datagram per socket, and 48 of 50 answered questions became timeouts.
    import asyncio

    from pytest_govmail.collect.dns_udp import UdpPool
    from pytest_govmail.lab.dns_server import LabDnsServer

    zone = (
        "$ORIGIN stall.example.\n"
        "@ 3600 IN SOA ns1.stall.example. h.stall.example. 1 3600 600 604800 300\n"
        "@ 3600 IN NS ns1.stall.example.\n"
        "www 3600 IN A 192.0.2.1\n"
    )
    with LabDnsServer({"stall.example": zone}) as server:
        host, port = server.address

        async def stalled() -> list[object]:
            pool = UdpPool(host, port, size=2)
            try:
                requests = [dns.message.make_query("www.stall.example.", "A") for _ in range(50)]
                tasks = [asyncio.ensure_future(pool.query(r, 0.5)) for r in requests]
                while sum(len(w) for s in pool._sockets for w in s.waiting.values()) < 50:
                    await asyncio.sleep(0)
                time.sleep(1.5)  # three times the timeout; the server answers at once
                return await asyncio.gather(*tasks, return_exceptions=True)
            finally:
                pool.close()

        outcomes = asyncio.run(stalled())
    assert [type(o).__name__ for o in outcomes] == ["QueryMessage"] * 50


def test_a_question_nobody_answers_still_times_out_after_a_stall() -> None:
    # The grace is for replies already waiting: a silent server is still a timeout.
    import asyncio
    import socket

    from pytest_govmail.collect.dns_udp import UdpPool

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        host, port = silent.getsockname()

        async def stalled() -> BaseException | object:
            pool = UdpPool(host, port, size=1)
            try:
                task = asyncio.ensure_future(
                    pool.query(dns.message.make_query("www.stall.example.", "A"), 0.2)
                )
                await asyncio.sleep(0.01)
                time.sleep(0.6)
                return (await asyncio.gather(task, return_exceptions=True))[0]
            finally:
                pool.close()

        started = time.perf_counter()
        outcome = asyncio.run(stalled())
        elapsed = time.perf_counter() - started
    assert isinstance(outcome, dns.exception.Timeout)
    assert elapsed < 0.6 + 2 * 0.25 + 0.5  # the graces are bounded
