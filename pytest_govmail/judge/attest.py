"""ATTEST-01: the controls no probe can see are attested, with who, when and a link to evidence.

GOV.UK "Securing government email" asks for inbound DMARC enforcement and spam/malware
filtering, and the supplier guidance (SEED) for TLS enforced to government domains and DKIM
signing at the gateway. None of these shows from outside, so a person attests them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pytest_govmail.inputs.attestations import CONTROLS
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.verdict import Finding, Verdict


def controls_attested(subject: Subject) -> Verdict:
    """ATTEST-01: every control in :data:`CONTROLS` has a current attestation for the domain.

    No attestation at all: NOT APPLICABLE, "manual evidence required" (the report lists it).
    Some controls missing or expired: FAIL naming them. All current: PASS listing each one.
    """
    today = (subject.now or datetime.now(UTC)).date()
    mine = [a for a in subject.attestations if a.covers(subject.domain)]
    if not mine:
        return Verdict.not_applicable(
            f"manual evidence required: no attestation for {subject.domain} "
            "(give --govmail-attestations FILE)"
        )
    current = {a.control: a for a in mine if a.current(today)}
    expired = sorted({a.control for a in mine if not a.current(today)} - set(current))
    missing = [c for c in CONTROLS if c not in current]
    details = tuple(
        (a.control, f"{a.attested_by}, {a.attested_on.isoformat()}: {a.evidence}")
        for a in current.values()
    )
    if missing:
        observed = "not attested: " + ", ".join(missing)
        if expired:
            observed += f" (expired: {', '.join(expired)})"
        return Verdict.failed(
            Finding(
                "attest.missing",
                observed,
                "a current attestation of each control: " + ", ".join(CONTROLS),
                "Have the service owner attest each missing control in the attestation file, "
                "with the date and a link to the evidence (configuration export, test record).",
            ),
            details=details,
        )
    return Verdict.passed(
        "; ".join(
            f"{c}: {a.attested_by} ({a.attested_on.isoformat()})" for c, a in current.items()
        ),
        details=details,
    )
