"""The DNS collector against a real authoritative server on loopback (the lab's)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from pytest_govmail.collect.dns import DnsCollector, Nameserver
from pytest_govmail.lab.dns_server import Fault, LabDnsServer
from pytest_govmail.model.dns import ErrorKind, Query
from pytest_govmail.model.target import Target
from pytest_govmail.plan.base import mx_queries

ZONE = """
$ORIGIN example-dept.gov.uk.
@ 3600 IN SOA ns1 hostmaster 1 3600 600 604800 300
@ 3600 IN MX 10 mail
@ 3600 IN TXT "v=spf1 " "-all"
mail 3600 IN A 127.0.9.1
alias 300 IN CNAME mail
loop1 300 IN CNAME loop2
dangling 300 IN CNAME nowhere
loop2 300 IN CNAME loop1
"""
BROKEN = """
$ORIGIN broken-dept.gov.uk.
@ 3600 IN SOA ns1 hostmaster 1 3600 600 604800 300
@ 3600 IN TXT "v=spf1 -all"
"""
SILENT = BROKEN.replace("broken-dept", "silent-dept")


@pytest.fixture(scope="module")
def lab() -> Iterator[LabDnsServer]:
    big = " ".join(f'"{"x" * 250}"' for _ in range(70))
    zones = {
        "example-dept.gov.uk": ZONE + f"big 3600 IN TXT {big}\n",
        "broken-dept.gov.uk": BROKEN,
        "silent-dept.gov.uk": SILENT,
    }
    faults = {"broken-dept.gov.uk": Fault.SERVFAIL, "silent-dept.gov.uk": Fault.DROP}
    with LabDnsServer(zones, faults=faults) as server:
        yield server


def collector(lab: LabDnsServer, timeout: float = 1.0) -> DnsCollector:
    host, port = lab.address
    return DnsCollector([Nameserver(host, port)], timeout=timeout)


def resolve(lab: LabDnsServer, name: str, rdtype: str, timeout: float = 1.0):
    import asyncio

    return asyncio.run(collector(lab, timeout).resolve(Query.of(name, rdtype)))


def test_answer_keeps_text_ttl_and_resolver(lab: LabDnsServer) -> None:
    r = resolve(lab, "example-dept.gov.uk", "TXT")
    assert r.rcode == "NOERROR" and r.error is None
    assert r.records == ('"v=spf1 " "-all"',)
    assert r.ttl == 3600
    assert r.resolver == "{}:{}".format(*lab.address)
    assert r.at and r.elapsed_ms >= 0


def test_nodata_and_nxdomain_are_answers(lab: LabDnsServer) -> None:
    nodata = resolve(lab, "mail.example-dept.gov.uk", "AAAA")
    assert (nodata.rcode, nodata.records, nodata.error) == ("NOERROR", (), None)
    assert nodata.void and not nodata.nxdomain
    nx = resolve(lab, "nope.example-dept.gov.uk", "TXT")
    assert nx.nxdomain and nx.void and nx.error is None


def test_cname_chain_is_recorded(lab: LabDnsServer) -> None:
    r = resolve(lab, "alias.example-dept.gov.uk", "A")
    assert r.records == ("127.0.9.1",)
    assert r.cname_chain == ("mail.example-dept.gov.uk",)


def test_nxdomain_through_a_cname_records_where_it_led(lab: LabDnsServer) -> None:
    r = resolve(lab, "dangling.example-dept.gov.uk", "TXT")
    assert r.rcode == "NXDOMAIN"
    assert r.cname_chain == ("nowhere.example-dept.gov.uk",)
    plain = resolve(lab, "absent.example-dept.gov.uk", "TXT")
    assert plain.rcode == "NXDOMAIN" and plain.cname_chain == ()


def test_cname_loop_is_an_error_not_a_hang(lab: LabDnsServer) -> None:
    r = resolve(lab, "loop1.example-dept.gov.uk", "A")
    assert r.error is not None


def test_servfail_and_timeout_are_errors(lab: LabDnsServer) -> None:
    servfail = resolve(lab, "broken-dept.gov.uk", "TXT")
    assert servfail.error is not None and servfail.error.kind is ErrorKind.SERVFAIL
    assert servfail.rcode is None and not servfail.void
    start = time.monotonic()
    timeout = resolve(lab, "silent-dept.gov.uk", "TXT", timeout=0.4)
    assert timeout.error is not None and timeout.error.kind is ErrorKind.TIMEOUT
    assert time.monotonic() - start < 2


def test_large_txt_comes_over_tcp(lab: LabDnsServer) -> None:
    r = resolve(lab, "big.example-dept.gov.uk", "TXT")
    assert r.error is None
    assert len(r.records[0]) > 16_000
    assert any(q.transport == "tcp" and q.qname == "big.example-dept.gov.uk" for q in lab.query_log)


def test_settle_follows_up_and_asks_each_question_once(lab: LabDnsServer) -> None:
    c = collector(lab)
    targets = [Target("example-dept.gov.uk"), Target("example-dept.gov.uk", source="dup")]
    before = lab.queries_served
    snapshot = c.settle_sync(targets, [mx_queries])
    assert snapshot.get("mail.example-dept.gov.uk", "A") is not None
    asked = lab.queries_served - before
    assert asked == len(snapshot) == 4  # MX, TXT, mail/A, mail/AAAA
    c.settle_sync(targets, [mx_queries])
    assert lab.queries_served - before == asked


def test_timeouts_run_side_by_side(lab: LabDnsServer) -> None:
    c = collector(lab, timeout=0.5)
    targets = [Target(f"d{i}.silent-dept.gov.uk") for i in range(20)]
    start = time.monotonic()
    snapshot = c.settle_sync(targets, [mx_queries])
    assert all(r.error is not None for r in snapshot)
    assert time.monotonic() - start < 3  # 40 timeouts of 0.5 s, not 20 s one after another


def test_domains_in_flight_are_bounded_and_every_domain_settles(lab: LabDnsServer) -> None:
    """Questions in flight are bounded by ``concurrency``; domains waiting for them by
    ``domains_in_flight``: started all at once, a 10,000-domain sweep held some 230,000
    waiting tasks (``test_timeouts_run_side_by_side`` shows slow zones still do)."""
    host, port = lab.address
    c = DnsCollector([Nameserver(host, port)], timeout=0.5, concurrency=2)
    assert c.domains_in_flight == 8
    silent = [Target(f"d{i}.silent-dept.gov.uk") for i in range(4)]
    answered = [Target(f"d{i}.example-dept.gov.uk") for i in range(40)]
    started: set[str] = set()
    settled: set[str] = set()
    most = 0

    def planner(target: Target, view: object) -> list[Query]:
        nonlocal most
        started.add(target.domain)
        most = max(most, len(started - settled))
        return mx_queries(target, view)  # type: ignore[arg-type]

    def on_settled(target: Target, view: object) -> None:
        settled.add(target.domain)

    snapshot = c.settle_sync(silent + answered, [planner], on_settled=on_settled)
    assert settled == {t.domain for t in silent + answered}
    assert most == 8
    assert snapshot.get("d39.example-dept.gov.uk", "MX") is not None


def test_a_refused_resolver_is_named_in_plain_words() -> None:
    # dnspython's own record of a resolver that refused the connection (its NoNameservers,
    # as dns.resolver builds it: str(nameserver), tcp, port, exception, response).
    import dns.message
    import dns.resolver

    from pytest_govmail.collect.dns import _classify

    refused = dns.resolver.NoNameservers(
        request=dns.message.make_query("example.gov.uk", "MX"),
        errors=[("Do53:192.0.2.1@53", True, 53, ConnectionRefusedError(111, "refused"), None)],
    )
    error = _classify(refused)
    assert error.detail == (
        "the resolver 192.0.2.1:53 refused the connection (is a DNS server running there?)"
    )
    assert "Errno" not in error.describe() and "Do53" not in error.describe()
