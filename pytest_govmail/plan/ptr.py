"""The DNS questions PTR-02 needs: reverse DNS of the addresses a domain's SPF names directly.

The planner asks what the SPF walk needs (:func:`pytest_govmail.plan.spf.spf_queries`: the
domain's TXT, then A/AAAA of ``a`` targets and MX of ``mx`` targets with their exchanges'
addresses), and, once those are answered, for each single address the domain's own record
authorises (:func:`pytest_govmail.records.spf.sending_addresses`) its PTR name and then the
forward record (A or AAAA, by the address's family) of each name the PTR answer gives, at most
:data:`~pytest_govmail.records.ptr.MAX_PTR_NAMES` of them. Ranges are never enumerated, so the
questions are bounded by :data:`~pytest_govmail.records.spf.MAX_SENDING_ADDRESSES`.
"""

from __future__ import annotations

from collections.abc import Iterable

from pytest_govmail.model.dns import DnsView, Query
from pytest_govmail.model.target import Target
from pytest_govmail.plan.spf import spf_queries
from pytest_govmail.records.ptr import MAX_PTR_NAMES, ptr_names, reverse_name
from pytest_govmail.records.spf import sending_addresses


def sending_ptr_queries(target: Target, dns: DnsView) -> Iterable[Query]:
    """PTR-02: the SPF walk, the PTR of each directly authorised address, each name's A/AAAA."""
    yield from spf_queries(target, dns)
    for sender in sending_addresses(target.domain, dns).addresses:
        rname = reverse_name(sender.address)
        yield Query.of(rname, "PTR")
        for name in ptr_names(dns.get(rname, "PTR"))[:MAX_PTR_NAMES]:
            yield Query.of(name, sender.rdtype)
