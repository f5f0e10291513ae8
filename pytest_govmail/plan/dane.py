"""What DANE-01 needs asked: the TLSA records of every mail host (RFC 7672 section 2.2).

SMTP DANE looks for TLSA records at ``_25._tcp.<MX host>`` (port 25, whatever port a lab uses,
because that is where senders look). A host that is an address literal has no TLSA name and is
skipped. The MX and address questions come first, as for every host test, so that the host list
is known when the TLSA names are planned.
"""

from __future__ import annotations

from collections.abc import Iterable

from pytest_govmail.model.dns import DnsView, Query
from pytest_govmail.model.target import Target
from pytest_govmail.plan.base import mx_queries
from pytest_govmail.records.mx import is_ip_literal, mail_hosts


def tlsa_name(host: str) -> str:
    """The TLSA owner name SMTP DANE uses for a mail host."""
    return f"_25._tcp.{host}"


def dane_queries(target: Target, dns: DnsView) -> Iterable[Query]:
    """DANE-01: MX, the host addresses, and TLSA at ``_25._tcp.<each mail host>``."""
    queries = list(mx_queries(target, dns))
    for host in mail_hosts(target, dns) or ():
        if not is_ip_literal(host):
            queries.append(Query.of(tlsa_name(host), "TLSA"))
    return queries
