"""Planners for what every domain needs (its role) and for the MX, PTR and parked-domain checks."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Iterator

from pytest_govmail.model.dns import DnsView, Query
from pytest_govmail.model.target import Target
from pytest_govmail.records.mx import is_ip_literal, mx_records

ADDRESS_TYPES = ("A", "AAAA")
#: PTR names followed per address: a hostile reverse zone could list thousands.
MAX_PTR_NAMES = 10


def parked_probe_selector(domain: str) -> str:
    """A DKIM selector no real signer uses, stable per domain so that replay asks the same name.

    PARK-03 looks it up to see whether a wildcard ``*._domainkey`` record answers every selector.
    """
    digest = hashlib.sha256(domain.encode("ascii")).hexdigest()[:12]
    return f"govmail-probe-{digest}"


def reverse_name(address: str) -> str:
    """The PTR owner name of an IPv4 or IPv6 address (``1.2.0.192.in-addr.arpa``)."""
    return ipaddress.ip_address(address).reverse_pointer


def mail_hosts(target: Target, dns: DnsView) -> tuple[str, ...] | None:
    """The hosts that receive mail for the domain: its MX exchanges, or the domain itself.

    None while the MX answer is unknown or failed; empty for a null MX or no mail at all.
    """
    mx = dns.get(target.domain, "MX")
    if mx is None or mx.error is not None:
        return None
    try:
        records = mx_records(mx)
    except ValueError:
        return ()
    if records:
        return tuple(dict.fromkeys(r.exchange for r in records if not r.is_null))
    # No MX at all: RFC 5321 5.1's implicit MX is the domain's own address records.
    addresses = [dns.get(target.domain, t) for t in ADDRESS_TYPES]
    if any(a is None or a.error is not None for a in addresses):
        return None
    if any(a is not None and a.records for a in addresses):
        return (target.domain,)
    return ()


def address_queries(host: str) -> Iterator[Query]:
    """A and AAAA of a host; nothing for an address literal, which is its own address."""
    if not is_ip_literal(host):
        for rdtype in ADDRESS_TYPES:
            yield Query.of(host, rdtype)


def role_queries(target: Target, dns: DnsView) -> Iterable[Query]:
    """What role inference needs: MX, the SPF TXT, and the address records when there is no MX."""
    yield Query.of(target.domain, "MX")
    yield Query.of(target.domain, "TXT")
    mx = dns.get(target.domain, "MX")
    if mx is not None and mx.error is None and not mx.records:
        for rdtype in ADDRESS_TYPES:
            yield Query.of(target.domain, rdtype)


def mx_queries(target: Target, dns: DnsView) -> Iterable[Query]:
    """Addresses of every MX host (MX-01, MX-02, and the host list of every host test)."""
    yield from role_queries(target, dns)
    for host in mail_hosts(target, dns) or ():
        yield from address_queries(host)


def ptr_queries(target: Target, dns: DnsView) -> Iterable[Query]:
    """PTR-01: the PTR of every MX address, then the addresses of each PTR name (forward check)."""
    yield from mx_queries(target, dns)
    for host in mail_hosts(target, dns) or ():
        for rdtype, address in host_addresses(host, dns):
            rname = reverse_name(address)
            yield Query.of(rname, "PTR")
            ptr = dns.get(rname, "PTR")
            if ptr is not None and ptr.error is None:
                for name in ptr.records[:MAX_PTR_NAMES]:
                    yield Query.of(name, rdtype)


def host_addresses(host: str, dns: DnsView) -> Iterator[tuple[str, str]]:
    """(rdtype, address) for every address of a host known so far; a literal is its own."""
    if is_ip_literal(host):
        yield ("AAAA" if ":" in host else "A", host)
        return
    for rdtype in ADDRESS_TYPES:
        result = dns.get(host, rdtype)
        if result is not None and result.error is None:
            yield from ((rdtype, a) for a in result.records)


def park_queries(target: Target, dns: DnsView) -> Iterable[Query]:
    """PARK-03 and PARK-04: a made-up DKIM selector, and the MX set."""
    yield from role_queries(target, dns)
    yield Query.of(f"{parked_probe_selector(target.domain)}._domainkey.{target.domain}", "TXT")
