"""The fixtures a suite test uses, and the mapping from verdict to pytest outcome.

The verdict is worked out during *setup*, so that a probe that could not decide (INCONCLUSIVE)
makes the test ERROR, and a requirement that does not apply SKIPs, as DESIGN.md's outcome table
asks. A FAIL is raised in the test body by :meth:`Assessment.check`, so it is a plain failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from pytest_govmail.catalogue import Requirement
from pytest_govmail.judge.roles import RoleFacts, applicability
from pytest_govmail.model import Status, Subject, Verdict
from pytest_govmail.waivers import Waiver, find_waiver

verdict_key = pytest.StashKey[Verdict]()
waiver_key = pytest.StashKey["Waiver | None"]()

MAX_MESSAGE_LINE = 600


def _clip(text: str) -> str:
    """Keep failure messages readable when a record is huge (a 16 KiB TXT, say)."""
    flat = " ".join(text.split())
    if len(flat) <= MAX_MESSAGE_LINE:
        return flat
    return flat[: MAX_MESSAGE_LINE - 1] + "…"


def describe(requirement: Requirement, where: str, verdict: Verdict) -> str:
    """The text an auditor reads: ID, outcome, domain/host, observed, expected, fix."""
    word = {
        Status.PASS: "PASS",
        Status.FAIL: "FAIL",
        Status.INCONCLUSIVE: "INCONCLUSIVE",
        Status.NOT_APPLICABLE: "NOT APPLICABLE",
    }[verdict.status]
    head = f"{requirement.id} {word} {where}"
    if verdict.status is not Status.FAIL:
        return f"{head}: {_clip(verdict.summary)}"
    lines = [f"{head}: {requirement.title}"]
    for finding in verdict.findings:
        lines.append(f"  observed: {_clip(finding.observed)}")
        lines.append(f"  expected: {_clip(finding.expected)}")
        fix = finding.remediation or requirement.remediation
        if fix:
            lines.append(f"  fix: {_clip(fix)}")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Assessment:
    """One test's verdict, with the context needed to report it. Suites call :meth:`check`."""

    requirement: Requirement
    subject: Subject
    verdict: Verdict
    waiver: Waiver | None = None

    @property
    def where(self) -> str:
        if self.subject.host:
            return f"{self.subject.domain} (MX {self.subject.host})"
        return self.subject.domain

    def message(self) -> str:
        return describe(self.requirement, self.where, self.verdict)

    def check(self) -> None:
        """Fail the test, without a traceback, unless the requirement passed.

        Under a waiver a failure is an expected failure (xfail, with the waiver's reason), and
        a pass fails as XPASS(strict) so that the waiver is removed once the domain is fixed.
        """
        __tracebackhide__ = True
        if self.waiver is not None:
            if self.verdict.status is Status.PASS:
                pytest.fail(
                    f"[XPASS(strict)] {self.requirement.id} now passes for {self.where}: remove "
                    f"the waiver ({self.waiver.source}: {self.waiver.reason})",
                    pytrace=False,
                )
            pytest.xfail(f"waived: {self.waiver.describe()} | {_clip(self.message())}")
        if self.verdict.status is not Status.PASS:
            pytest.fail(self.message(), pytrace=False)


def judge_case(
    requirement: Requirement,
    subject: Subject,
    judge: Callable[[Subject], Verdict],
    host_scoped: bool,
    facts: RoleFacts | None = None,
) -> Verdict:
    """Applicability first (roles), then the requirement's own judge."""
    gate = applicability(subject, requirement.applies_to, facts)
    if gate is not None:
        return gate
    if host_scoped and subject.host is None:
        return Verdict.not_applicable(
            f"{subject.domain} has no MX host to test here (MX-01 reports why)"
        )
    return judge(subject)


@pytest.fixture
def _govmail_case(request: pytest.FixtureRequest) -> object:
    """The (domain, host) parameter; filled by the plugin's ``pytest_generate_tests``."""
    return request.param


@pytest.fixture
def govmail(request: pytest.FixtureRequest, _govmail_case: object) -> Assessment:
    """The verdict of the test's requirement for its domain (and MX host).

    Suite tests take it and call ``govmail.check()``::

        @pytest.mark.requirement(id="DMARC-03", judge=dmarc.policy_enforcing)
        def test_dmarc_policy(govmail):
            govmail.check()

    INCONCLUSIVE errors here, in setup; NOT APPLICABLE skips here.
    """
    from pytest_govmail.plugin import case_key, requirement_key, run_key

    item = request.node
    run = request.config.stash[run_key]
    requirement = item.stash[requirement_key]
    case = item.stash[case_key]
    marker = item.get_closest_marker("requirement")
    assert marker is not None
    judge: Callable[[Subject], Verdict] = marker.kwargs["judge"]
    run.ensure([requirement])
    subject = run.subject(case.target, case.host)
    verdict = judge_case(requirement, subject, judge, case.host_scoped, run.roles(subject))
    item.stash[verdict_key] = verdict
    match = find_waiver(
        run.waivers, requirement.id, case.target.domain, case.host, datetime.now(UTC).date()
    )
    run.note_waiver(match)
    waiver = match.applied if verdict.status in (Status.PASS, Status.FAIL) else None
    item.stash[waiver_key] = waiver
    assessment = Assessment(requirement, subject, verdict, waiver)
    if verdict.status is Status.INCONCLUSIVE:
        pytest.fail(assessment.message(), pytrace=False)
    if verdict.status is Status.NOT_APPLICABLE:
        pytest.skip(f"{requirement.id} not applicable: {_clip(verdict.summary)}")
    return assessment
