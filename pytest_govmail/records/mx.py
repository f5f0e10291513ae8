"""MX records (RFC 5321 section 5.1, RFC 7505): preference, exchange, and the null MX.

Also the mail hosts the evidence names: :func:`mail_hosts` (the MX exchanges, or the implicit
MX) and :func:`host_addresses`. The DNS planners use them to decide what to ask next and the
judges to read the answers, so they live here, below both: judges import no planner, and a
planner and a judge can never disagree about which hosts receive a domain's mail.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pytest_govmail.model.dns import DnsResult, DnsView, Query, normalise_name
from pytest_govmail.model.target import Target

#: The address record types of a host: IPv4 (RFC 1035) and IPv6 (RFC 3596).
ADDRESS_TYPES = ("A", "AAAA")


@dataclass(frozen=True, slots=True)
class MxRecord:
    preference: int
    exchange: str  # normalised; "" for the null MX's root name "."

    @property
    def is_null(self) -> bool:
        """RFC 7505: the exchange is the root name (the record is ``0 .``)."""
        return self.exchange == ""

    @property
    def is_ip_literal(self) -> bool:
        return is_ip_literal(self.exchange)


def is_ip_literal(host: str) -> bool:
    """An exchange written as an address (``192.0.2.1``), which RFC 5321 5.1 forbids."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def parse_mx(text: str) -> MxRecord:
    """``10 mx1.example.gov.uk.`` as an :class:`MxRecord`. Raises ValueError on anything else."""
    parts = text.split()
    if len(parts) != 2 or not parts[0].isdigit():
        raise ValueError(f"not an MX record: {text!r}")
    return MxRecord(int(parts[0]), normalise_name(parts[1]))


def mx_records(result: DnsResult) -> tuple[MxRecord, ...]:
    """The answer's MX records, lowest preference first (ties in name order, for stable output)."""
    return tuple(
        sorted((parse_mx(r) for r in result.records), key=lambda m: (m.preference, m.exchange))
    )


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


def host_addresses(host: str, dns: DnsView) -> Iterator[tuple[str, str]]:
    """(rdtype, address) for every address of a host known so far; a literal is its own."""
    if is_ip_literal(host):
        yield ("AAAA" if ":" in host else "A", host)
        return
    for rdtype in ADDRESS_TYPES:
        result = dns.get(host, rdtype)
        if result is not None and result.error is None:
            yield from ((rdtype, a) for a in result.records)


def address_pairs(targets: Iterable[Target], dns: DnsView) -> list[tuple[str, str]]:
    """(host, address) of every MX address of the targets, each once."""
    wanted: dict[tuple[str, str], None] = {}
    for target in targets:
        for host in mail_hosts(target, dns) or ():
            for _rdtype, address in host_addresses(host, dns):
                wanted[(host, address)] = None
    return list(wanted)
