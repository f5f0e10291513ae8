"""PTR names: where the reverse DNS of an address lives, and how many names of it are followed.

RFC 1035 section 3.5 (``in-addr.arpa``) and RFC 3596 section 2.5 (``ip6.arpa``). The PTR-01 and
PTR-02 planners ask these names and their judges read them, so both import them from here.
"""

from __future__ import annotations

import ipaddress

from pytest_govmail.model.dns import DnsResult, normalise_name

#: PTR names followed per address: a hostile reverse zone could list thousands.
MAX_PTR_NAMES = 10


def reverse_name(address: str) -> str:
    """The PTR owner name of an IPv4 or IPv6 address (``1.2.0.192.in-addr.arpa``)."""
    return ipaddress.ip_address(address).reverse_pointer


def ptr_names(result: DnsResult | None) -> tuple[str, ...]:
    """The host names of a PTR answer, normalised, each once, in answer order (none on error)."""
    if result is None or result.error is not None:
        return ()
    names: dict[str, None] = {}
    for record in result.records:
        name = normalise_name(record)
        if name:
            names.setdefault(name)
    return tuple(names)
