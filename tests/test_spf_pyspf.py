"""Cross-check SPF lookup counting against pyspf, the reference implementation, on a real zone.

Both evaluate the same records served by the lab's DNS server. pyspf counts the DNS-querying
terms it evaluates for a client address that matches nothing (so evaluation runs to the end),
and raises a permerror past 10; our planner collects the tree and the judge counts it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import dns.resolver
import pytest

from pytest_govmail.collect.dns import DnsCollector, Nameserver
from pytest_govmail.judge.spf import spf_lookup_limit
from pytest_govmail.lab.dns_server import LabDnsServer
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.target import Target
from pytest_govmail.model.verdict import Status
from pytest_govmail.plan.spf import spf_queries
from pytest_govmail.records.spf import walk_spf

spf = pytest.importorskip("spf")

I1 = "include:l1.spf-count.example"
HOST = "a:host.spf-count.example"
LEAF = "include:leaf.spf-count.example"
RECORDS = {
    "l1": f"v=spf1 include:l2.spf-count.example {HOST} -all",
    "l2": "v=spf1 include:l3.spf-count.example mx:spf-count.example ~all",
    "l3": f"v=spf1 {HOST} ip4:198.51.100.0/24 -all",
    "leaf": "v=spf1 ip4:198.51.100.0/24 -all",
    "shallow": f"v=spf1 {LEAF} {HOST} -all",
    "nested": f"v=spf1 {I1} {HOST} -all",
    "tail": f"v=spf1 {HOST} redirect=l1.spf-count.example",
    "ten": f"v=spf1 {I1} {HOST} mx:spf-count.example {HOST} {HOST} -all",  # 6 + 4
    "eleven": f"v=spf1 {I1} {HOST} mx:spf-count.example {HOST} {HOST} {HOST} -all",  # 6 + 5
    "wide": "v=spf1 " + " ".join([LEAF] * 12) + " -all",
}


def txt(owner: str, value: str) -> str:
    """A TXT record line, split into 255-octet strings as long SPF records are published."""
    chunks = [value[i : i + 255] for i in range(0, len(value), 255)]
    return f"{owner} 300 IN TXT " + " ".join(f'"{c}"' for c in chunks)


ZONE = "\n".join(
    [
        "$ORIGIN spf-count.example.",
        "@ 300 IN SOA ns hostmaster 1 3600 600 604800 300",
        "@ 300 IN MX 10 mx1",
        "@ 300 IN MX 20 mx2",
        "mx1 300 IN A 192.0.2.1",
        "mx2 300 IN A 192.0.2.2",
        "host 300 IN A 192.0.2.3",
        *(txt(owner, value) for owner, value in RECORDS.items()),
    ]
)
NAMES = ["leaf", "shallow", "l1", "nested", "tail", "ten", "eleven", "wide"]
NOWHERE = "203.0.113.77"  # matches no term, so both evaluate every term


@pytest.fixture(scope="module")
def zone() -> Iterator[tuple[str, int]]:
    with LabDnsServer({"spf-count.example": ZONE}) as server:
        yield server.address


def pyspf_verdict(domain: str, address: tuple[str, int]) -> tuple[str, int, str]:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [address[0]]
    resolver.port = address[1]
    saved = dns.resolver.default_resolver
    dns.resolver.default_resolver = resolver
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # pyspf uses resolver.query()
            query = spf.query(i=NOWHERE, s=f"postmaster@{domain}", h=domain)
            result, _code, explanation = query.check()
    finally:
        dns.resolver.default_resolver = saved
    return result, query.lookups, explanation


@pytest.mark.parametrize("label", NAMES)
def test_lookup_count_matches_pyspf(zone: tuple[str, int], label: str) -> None:
    domain = f"{label}.spf-count.example"
    collector = DnsCollector([Nameserver(*zone)], timeout=2)
    snapshot = collector.settle_sync([Target(domain)], [spf_queries])
    ours = walk_spf(domain, snapshot).dns_terms
    verdict = spf_lookup_limit(Subject(Target(domain), snapshot))
    result, lookups, explanation = pyspf_verdict(domain, zone)
    if result == "permerror":
        assert "Too many DNS lookups" in explanation
        assert ours > 10 and verdict.status is Status.FAIL
    else:
        assert result in {"fail", "softfail"}
        assert ours == lookups
        assert verdict.status is Status.PASS


def test_the_zone_covers_both_sides_of_the_limit(zone: tuple[str, int]) -> None:
    counts = {}
    for label in ("ten", "eleven", "nested", "tail"):
        domain = f"{label}.spf-count.example"
        snapshot = DnsCollector([Nameserver(*zone)], timeout=2).settle_sync(
            [Target(domain)], [spf_queries]
        )
        counts[label] = walk_spf(domain, snapshot).dns_terms
    assert counts == {"ten": 10, "eleven": 11, "nested": 7, "tail": 7}
