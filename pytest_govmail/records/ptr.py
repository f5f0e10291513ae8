"""PTR names: where the reverse DNS of an address lives, and how many names of it are followed.

RFC 1035 section 3.5 (``in-addr.arpa``) and RFC 3596 section 2.5 (``ip6.arpa``). PTR-01's planner
asks these names and PTR-01's judge reads them, so both import them from here.
"""

from __future__ import annotations

import ipaddress

#: PTR names followed per address: a hostile reverse zone could list thousands.
MAX_PTR_NAMES = 10


def reverse_name(address: str) -> str:
    """The PTR owner name of an IPv4 or IPv6 address (``1.2.0.192.in-addr.arpa``)."""
    return ipaddress.ip_address(address).reverse_pointer
