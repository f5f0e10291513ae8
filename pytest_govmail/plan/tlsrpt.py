"""What TLS-RPT needs asked: the ``_smtp._tls`` TXT record (RFC 8460 section 3)."""

from __future__ import annotations

from collections.abc import Iterable

from pytest_govmail.model.dns import DnsView, Query
from pytest_govmail.model.target import Target


def tlsrpt_queries(target: Target, dns: DnsView) -> Iterable[Query]:
    """TLSRPT-01 and TLSRPT-02: the ``_smtp._tls`` TXT record (RFC 8460 section 3)."""
    return [Query.of(f"_smtp._tls.{target.domain}", "TXT")]
