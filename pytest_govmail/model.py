"""The typed facts and verdicts that every layer shares.

Everything here is a frozen dataclass or a ``str`` enum, so evidence can be written to JSON and
read back unchanged (see :mod:`pytest_govmail.evidence`), and so judges can be tested with plain
data. Nothing here imports a network library: the judge layer may import this module freely.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple, Protocol

if TYPE_CHECKING:
    from pytest_govmail.attestations import Attestation
    from pytest_govmail.model_dkim import SampleMessage
    from pytest_govmail.model_https import PolicyFetch
    from pytest_govmail.model_tls import TlsScan


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


class Role(enum.StrEnum):
    """What a domain does with mail; REQUIREMENTS.md's applies-to letters R, S and P."""

    RECEIVING = "receiving"
    SENDING = "sending"
    PARKED = "parked"


@dataclass(frozen=True, slots=True)
class Target:
    """A domain to assess, as the user gave it (normalised to IDNA A-labels)."""

    domain: str
    roles: frozenset[Role] = frozenset()
    dkim_selectors: tuple[str, ...] = ()
    source: str = "command line"


@dataclass(frozen=True, slots=True)
class Subject:
    """What one test judges: a domain (and for host tests one MX host) with the run's evidence.

    ``tls`` maps an MX host to its scans, one per address (``pytest_govmail.model_tls``);
    ``policies`` maps a domain to its MTA-STS policy fetch (``pytest_govmail.model_https``);
    ``messages`` holds the sample messages given for this domain (``pytest_govmail.model_dkim``).
    A host or domain missing from these mappings was not probed in this run.
    ``now`` is when the evidence was collected, so that replay judges dates the same way.
    """

    target: Target
    dns: DnsView
    host: str | None = None
    now: datetime | None = None
    settings: Mapping[str, str] = field(default_factory=dict)
    tls: Mapping[str, tuple[TlsScan, ...]] = field(default_factory=dict)
    policies: Mapping[str, PolicyFetch] = field(default_factory=dict)
    messages: tuple[SampleMessage, ...] = ()
    attestations: tuple[Attestation, ...] = ()

    @property
    def domain(self) -> str:
        return self.target.domain


class Status(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True, slots=True)
class Finding:
    """One reason a requirement failed: what was seen, what was expected, and how to fix it.

    ``code`` is a stable dotted name (``dmarc.policy.none``): waivers and reports key on it.
    """

    code: str
    observed: str
    expected: str
    remediation: str = ""

    def explain(self) -> str:
        text = f"observed {self.observed}; expected {self.expected}"
        return f"{text}; fix: {self.remediation}" if self.remediation else text


@dataclass(frozen=True, slots=True)
class Verdict:
    """A judge's answer for one subject. ``evidence`` names the DNS questions it rests on."""

    status: Status
    summary: str
    findings: tuple[Finding, ...] = ()
    evidence: tuple[str, ...] = ()
    details: tuple[tuple[str, str], ...] = ()

    @classmethod
    def passed(
        cls, summary: str, evidence: Iterable[str] = (), details: Iterable[tuple[str, str]] = ()
    ) -> Verdict:
        return cls(Status.PASS, summary, (), tuple(evidence), tuple(details))

    @classmethod
    def failed(
        cls,
        *findings: Finding,
        evidence: Iterable[str] = (),
        details: Iterable[tuple[str, str]] = (),
    ) -> Verdict:
        if not findings:
            raise ValueError("a failed verdict needs at least one finding")
        summary = "; ".join(f.observed for f in findings)
        return cls(Status.FAIL, summary, tuple(findings), tuple(evidence), tuple(details))

    @classmethod
    def inconclusive(
        cls, reason: str, evidence: Iterable[str] = (), details: Iterable[tuple[str, str]] = ()
    ) -> Verdict:
        return cls(Status.INCONCLUSIVE, reason, (), tuple(evidence), tuple(details))

    @classmethod
    def not_applicable(cls, reason: str, evidence: Iterable[str] = ()) -> Verdict:
        return cls(Status.NOT_APPLICABLE, reason, (), tuple(evidence))
