"""What the MTA-STS policy checks (MTASTS-02..07) need asked, and which policies to fetch.

RFC 8461 section 3.3: a sender that finds an ``_mta-sts`` TXT record fetches
``https://mta-sts.<domain>/.well-known/mta-sts.txt``. The run resolves ``mta-sts.<domain>``
itself (A, then AAAA) and connects to those addresses, so the evidence says exactly where the
policy came from, and replay needs no resolver. The policy host is asked, and the policy fetched,
only when the TXT answer holds at least one ``v=STSv1`` record (even an invalid one, or several:
MTASTS-01 reports those, and the policy is still worth judging). MTASTS-06 and MTASTS-07 also need
the MX set and the MX hosts' addresses (for the TLS scans MTASTS-07 reads).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from pytest_govmail.model.dns import DnsView, Query
from pytest_govmail.model.https import policy_host
from pytest_govmail.model.target import Target
from pytest_govmail.plan.base import mx_queries
from pytest_govmail.records.mtasts import mtasts_records
from pytest_govmail.records.mx import ADDRESS_TYPES


def mtasts_queries(target: Target, dns: DnsView) -> Iterable[Query]:
    """MTASTS-01: the ``_mta-sts`` TXT record (RFC 8461 section 3.1)."""
    return [Query.of(f"_mta-sts.{target.domain}", "TXT")]


def policy_announced(domain: str, dns: DnsView) -> bool | None:
    """True when ``_mta-sts.<domain>`` holds a ``v=STSv1`` record; None while unknown or failed."""
    result = dns.get(f"_mta-sts.{domain}", "TXT")
    if result is None or result.error is not None:
        return None
    return bool(mtasts_records(result))


def policy_addresses(domain: str, dns: DnsView) -> tuple[str, ...] | None:
    """The addresses of ``mta-sts.<domain>`` (A first, then AAAA) from the evidence.

    None when either answer is missing or failed; empty when the name has no address.
    """
    host = policy_host(domain)
    addresses: list[str] = []
    for rdtype in ADDRESS_TYPES:
        result = dns.get(host, rdtype)
        if result is None or result.error is not None:
            return None
        addresses.extend(result.records)
    return tuple(dict.fromkeys(addresses))


def mtasts_policy_queries(target: Target, dns: DnsView) -> Iterable[Query]:
    """MTASTS-02..07: the TXT record, the MX set and its addresses, the policy host's addresses."""
    return list(_queries(target, dns))


def _queries(target: Target, dns: DnsView) -> Iterator[Query]:
    yield from mtasts_queries(target, dns)
    yield from mx_queries(target, dns)
    if policy_announced(target.domain, dns):
        for rdtype in ADDRESS_TYPES:
            yield Query.of(policy_host(target.domain), rdtype)


def policy_requests(targets: Iterable[Target], dns: DnsView) -> list[tuple[str, tuple[str, ...]]]:
    """(domain, addresses) for every target whose policy should be fetched, in target order.

    These are the arguments of :func:`pytest_govmail.collect.https.fetch_policies`. A domain is
    left out when no ``v=STSv1`` record was found, or when the policy host's addresses are
    unknown or empty: the judges read those facts from the DNS evidence instead.
    """
    requests: list[tuple[str, tuple[str, ...]]] = []
    seen: set[str] = set()
    for target in targets:
        if target.domain in seen or not policy_announced(target.domain, dns):
            continue
        addresses = policy_addresses(target.domain, dns)
        if addresses:
            seen.add(target.domain)
            requests.append((target.domain, addresses))
    return requests
