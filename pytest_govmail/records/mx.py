"""MX records (RFC 5321 section 5.1, RFC 7505): preference, exchange, and the null MX."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from pytest_govmail.model.dns import DnsResult, normalise_name


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
