"""DNS evidence: the questions asked, the answers (or why there was none), and a snapshot of them.

Everything here is frozen, so evidence can be written to JSON and read back unchanged
(:mod:`pytest_govmail.model.evidence`), and judges can be tested with plain data.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple, Protocol


def normalise_name(name: str) -> str:
    """The form every DNS name takes in evidence: lower case, no trailing dot."""
    return name.strip().rstrip(".").lower()


class Query(NamedTuple):
    """One DNS question, the key of a :class:`DnsResult` in the evidence."""

    name: str
    rdtype: str

    @classmethod
    def of(cls, name: str, rdtype: str) -> Query:
        return cls(normalise_name(name), rdtype.upper())

    @property
    def key(self) -> str:
        """The text form used in findings and reports, e.g. ``_dmarc.a.gov.uk/TXT``."""
        return f"{self.name}/{self.rdtype}"


class ErrorKind(enum.StrEnum):
    """Why a probe could not answer. Absence (NXDOMAIN, no data) is an answer, not one of these."""

    TIMEOUT = "timeout"
    SERVFAIL = "servfail"
    REFUSED = "refused"
    NO_NAMESERVERS = "no_nameservers"
    MALFORMED = "malformed"
    NOT_COLLECTED = "not_collected"
    CONNECTION_REFUSED = "connection_refused"
    THROTTLED = "throttled"
    PRIVATE_ADDRESS = "private_address"
    TLS_HANDSHAKE = "tls_handshake"
    PROTOCOL = "protocol"
    TOO_LARGE = "too_large"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class ProbeError:
    """A remote failure, recorded as data so that the verdict can say what happened."""

    kind: ErrorKind
    detail: str

    def describe(self) -> str:
        return f"{self.kind.value}: {self.detail}" if self.detail else self.kind.value


@dataclass(frozen=True, slots=True)
class DnsResult:
    """What one DNS question got: an answer (with its rcode) or a :class:`ProbeError`.

    ``records`` keeps each record's presentation text exactly as the resolver gave it
    (``rdata.to_text()``), so nothing is lost: TXT strings keep their quoting and escapes, and
    :func:`pytest_govmail.records.txt.txt_value` turns one back into the joined string.
    """

    name: str
    rdtype: str
    rcode: str | None
    records: tuple[str, ...] = ()
    ttl: int | None = None
    authenticated: bool = False
    cname_chain: tuple[str, ...] = ()
    error: ProbeError | None = None
    resolver: str = ""
    elapsed_ms: float = 0.0
    at: str = ""

    @property
    def query(self) -> Query:
        return Query(self.name, self.rdtype)

    @property
    def answered(self) -> bool:
        """True when the server answered (NOERROR or NXDOMAIN), whatever the answer held."""
        return self.error is None

    @property
    def nxdomain(self) -> bool:
        return self.error is None and self.rcode == "NXDOMAIN"

    @property
    def void(self) -> bool:
        """An answer with no records: NXDOMAIN or NODATA (RFC 7208 section 4.6.4's 'void')."""
        return self.error is None and not self.records

    def describe(self) -> str:
        """One line for a message: the question and what came back."""
        where = f" from {self.resolver}" if self.resolver else ""
        if self.error is not None:
            return f"{self.name} {self.rdtype}: {self.error.describe()}{where}"
        if not self.records:
            what = "NXDOMAIN" if self.rcode == "NXDOMAIN" else "no records (NODATA)"
            return f"{self.name} {self.rdtype}: {what}"
        ttl = f", TTL {self.ttl}" if self.ttl is not None else ""
        return f"{self.name} {self.rdtype}{ttl}: {' | '.join(self.records)}"


class DnsView(Protocol):
    """Read access to the DNS answers a run collected (live or replayed)."""

    def get(self, name: str, rdtype: str) -> DnsResult | None: ...


class DnsSnapshot:
    """An immutable mapping of :class:`Query` to :class:`DnsResult`: the evidence's DNS part."""

    __slots__ = ("_results",)

    def __init__(self, results: Iterable[DnsResult] = ()) -> None:
        self._results: dict[Query, DnsResult] = {r.query: r for r in results}

    def get(self, name: str, rdtype: str) -> DnsResult | None:
        return self._results.get(Query.of(name, rdtype))

    def __contains__(self, query: object) -> bool:
        return query in self._results

    def __iter__(self) -> Iterator[DnsResult]:
        return iter(self._results.values())

    def __len__(self) -> int:
        return len(self._results)

    def with_results(self, results: Iterable[DnsResult]) -> DnsSnapshot:
        merged = DnsSnapshot(self._results.values())
        merged._results.update((r.query, r) for r in results)
        return merged

    def queries(self) -> frozenset[Query]:
        return frozenset(self._results)
