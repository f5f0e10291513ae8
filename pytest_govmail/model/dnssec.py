"""DNSSEC evidence: for one DNS answer, the chain of trust walked to it and each step's result.

A validation walks from a trust anchor down the zone cuts to the zone that holds the answer
(RFC 4035 section 5): at each cut the parent's signed DS RRset (or its signed proof that there
is none), then the child's DNSKEY RRset matched against the DS, and finally the answer's own
RRSIGs. Each step records the question, what came back (records as presentation text, inert
when shown) and its result, so an assessor can see *which* RRset failed and why. The outcome
follows RFC 4035 section 4.3: secure, insecure (a signed proof that the zone is unsigned),
bogus (signatures or proofs that should be there and do not verify), indeterminate (could not
tell: a lookup failed, or no trust anchor covers the name).

Frozen and JSON-codable, so evidence files replay the same verdicts; evidence written before
DNSSEC was collected simply has no chains (:func:`chains_from_json` of nothing).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pytest_govmail.model.dns import Query
from pytest_govmail.model.text import inert


class Security(enum.StrEnum):
    """RFC 4035 section 4.3's four states of an answer."""

    SECURE = "secure"
    INSECURE = "insecure"
    BOGUS = "bogus"
    INDETERMINATE = "indeterminate"


#: Bounds on what one step keeps of the records it saw (a hostile zone can send thousands).
MAX_RECORDS_KEPT = 20
MAX_TEXT = 600


def _bounded(records: Iterable[str]) -> tuple[str, ...]:
    kept = []
    for index, text in enumerate(records):
        if index >= MAX_RECORDS_KEPT:
            kept.append(f"... (more records not kept; at most {MAX_RECORDS_KEPT} are)")
            break
        kept.append(text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "...")
    return tuple(kept)


@dataclass(frozen=True, slots=True)
class DnssecStep:
    """One link of the chain: a question about ``zone`` and whether what it got verified.

    ``what`` names the step ("DNSKEY", "DS", "answer", "denial", "anchor", "resolver AD");
    ``question`` is ``name/TYPE``; ``result`` is :class:`Security`; ``reason`` says why in a
    sentence; ``records`` are the RRsets (and their RRSIGs) the step rests on.
    """

    zone: str
    what: str
    question: str
    result: Security
    reason: str
    records: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "zone": self.zone,
            "what": self.what,
            "question": self.question,
            "result": self.result.value,
            "reason": self.reason,
        }
        if self.records:
            data["records"] = list(self.records)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DnssecStep:
        return cls(
            zone=inert(str(data["zone"])),
            what=inert(str(data["what"])),
            question=inert(str(data["question"])),
            result=Security(data["result"]),
            reason=inert(str(data["reason"])),
            records=_bounded(inert(str(r)) for r in data.get("records", ())),
        )

    def describe(self) -> str:
        return f"{self.what} {self.question}: {self.result.value}: {self.reason}"


@dataclass(frozen=True, slots=True)
class DnssecChain:
    """The validation of one answer (``name``/``rdtype``): its outcome and every step to it.

    ``anchor`` names the trust anchor the walk started from (or the trusted resolver whose AD
    bit was taken); ``failed`` is the step that decided a bogus or indeterminate outcome.
    """

    name: str
    rdtype: str
    result: Security
    reason: str
    anchor: str = ""
    steps: tuple[DnssecStep, ...] = ()
    at: str = ""

    @property
    def query(self) -> Query:
        return Query(self.name, self.rdtype)

    @property
    def failed(self) -> DnssecStep | None:
        for step in self.steps:
            if step.result in (Security.BOGUS, Security.INDETERMINATE):
                return step
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "rdtype": self.rdtype,
            "result": self.result.value,
            "reason": self.reason,
            "anchor": self.anchor,
            "steps": [s.to_json() for s in self.steps],
            "at": self.at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DnssecChain:
        query = Query.of(str(data["name"]), str(data["rdtype"]))
        return cls(
            name=query.name,
            rdtype=query.rdtype,
            result=Security(data["result"]),
            reason=inert(str(data.get("reason", ""))),
            anchor=inert(str(data.get("anchor", ""))),
            steps=tuple(DnssecStep.from_json(s) for s in data.get("steps", ())),
            at=inert(str(data.get("at", ""))),
        )


def chains_to_json(chains: Mapping[Query, DnssecChain]) -> list[dict[str, Any]]:
    return [chains[q].to_json() for q in sorted(chains)]


def chains_from_json(items: Iterable[Mapping[str, Any]]) -> dict[Query, DnssecChain]:
    chains = (DnssecChain.from_json(item) for item in items)
    return {chain.query: chain for chain in chains}


def bounded_records(records: Iterable[str]) -> tuple[str, ...]:
    """``records`` cut to what a step keeps (see :data:`MAX_RECORDS_KEPT`)."""
    return _bounded(records)


def domain_answers(domain: str) -> tuple[Query, Query]:
    """The answers DNSSEC-01 judges for a domain: its MX (where its mail goes) and its DMARC
    record; validated for every domain by the collector (``plan/dnssec.py`` lists them)."""
    return (Query.of(domain, "MX"), Query.of(f"_dmarc.{domain}", "TXT"))


__all__ = [
    "MAX_RECORDS_KEPT",
    "DnssecChain",
    "DnssecStep",
    "Security",
    "bounded_records",
    "chains_from_json",
    "chains_to_json",
    "domain_answers",
]
