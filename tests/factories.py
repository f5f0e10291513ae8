"""Small builders of evidence for judge tests: plain data, no network."""

from __future__ import annotations

from dataclasses import replace

from pytest_govmail.model.dns import DnsResult, DnsSnapshot, ErrorKind, ProbeError
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.target import Role, Target


def answer(name: str, rdtype: str, *records: str, ttl: int = 3600) -> DnsResult:
    """A NOERROR answer (NODATA when no records are given)."""
    return DnsResult(name, rdtype, "NOERROR", tuple(records), ttl if records else None)


def txt(name: str, *values: str) -> DnsResult:
    """TXT records from plain strings, each stored in presentation form as dnspython gives it."""
    quoted = tuple('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return answer(name, "TXT", *quoted)


def aliased(name: str, rdtype: str, chain: tuple[str, ...], *records: str) -> DnsResult:
    """An answer reached through CNAMEs (``chain`` lists the names followed)."""
    return replace(answer(name, rdtype, *records), cname_chain=chain)


def nxdomain(name: str, rdtype: str) -> DnsResult:
    return DnsResult(name, rdtype, "NXDOMAIN")


def failed(name: str, rdtype: str, kind: ErrorKind = ErrorKind.TIMEOUT) -> DnsResult:
    return DnsResult(name, rdtype, None, error=ProbeError(kind, "lab"))


def subject(
    domain: str,
    *results: DnsResult,
    host: str | None = None,
    roles: frozenset[Role] = frozenset(),
) -> Subject:
    return Subject(Target(domain, roles=roles), DnsSnapshot(results), host=host)
