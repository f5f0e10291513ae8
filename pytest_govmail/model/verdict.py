"""A judge's answer: status, findings (observed, expected, fix), and the evidence it rests on."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


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
