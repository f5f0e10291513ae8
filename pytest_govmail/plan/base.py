"""Planners for what every domain needs (its role) and for the MX, PTR and parked-domain checks.

The evidence readers the judges share with these planners (:func:`mail_hosts`,
:func:`host_addresses`, :func:`address_queries`, :data:`ADDRESS_TYPES`, :func:`reverse_name`,
:data:`MAX_PTR_NAMES`, :func:`parked_probe_selector`) live in :mod:`pytest_govmail.records` and are
re-exported here for the code that imports them from this module.
"""

from __future__ import annotations

from collections.abc import Iterable

from pytest_govmail.model.dns import DnsView, Query
from pytest_govmail.model.target import Target
from pytest_govmail.records.dkim_selectors import parked_probe_selector
from pytest_govmail.records.mx import ADDRESS_TYPES, address_queries, host_addresses, mail_hosts
from pytest_govmail.records.ptr import MAX_PTR_NAMES, ptr_names, reverse_name

__all__ = [
    "ADDRESS_TYPES",
    "MAX_PTR_NAMES",
    "address_queries",
    "host_addresses",
    "mail_hosts",
    "mx_queries",
    "park_queries",
    "parked_probe_selector",
    "ptr_queries",
    "reverse_name",
    "role_queries",
]


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
            for name in ptr_names(dns.get(rname, "PTR"))[:MAX_PTR_NAMES]:
                yield Query.of(name, rdtype)


def park_queries(target: Target, dns: DnsView) -> Iterable[Query]:
    """PARK-03 and PARK-04: a made-up DKIM selector, and the MX set."""
    yield from role_queries(target, dns)
    yield Query.of(f"{parked_probe_selector(target.domain)}._domainkey.{target.domain}", "TXT")
