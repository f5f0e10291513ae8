"""What a suite test receives as ``govmail``, and the mapping from verdict to pytest outcome.

The verdict is worked out during *setup*, so that a probe that could not decide (INCONCLUSIVE)
makes the test ERROR, and a requirement that does not apply SKIPs (the README's outcome
table). A FAIL is raised in the test body by :meth:`Assessment.check`, so it is a plain failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from pytest_govmail.inputs.catalogue import Requirement
from pytest_govmail.inputs.waivers import Waiver, find_waiver
from pytest_govmail.judge.roles import RoleFacts, applicability, nonexistent_verdict
from pytest_govmail.judge.vantage import overrule
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.target import Target
from pytest_govmail.model.text import inert
from pytest_govmail.model.verdict import Status, Verdict
from pytest_govmail.plugin.pytest_private import skip_at_item

if TYPE_CHECKING:
    from pytest_govmail.engine.run import GovmailRun

MAX_MESSAGE_LINE = 600


def _clip(text: str) -> str:
    """Keep failure messages readable when a record is huge (a 16 KiB TXT, say), and inert: a
    control or formatting character from outside is shown as its escape (see
    :func:`pytest_govmail.model.text.inert`)."""
    flat = inert(" ".join(text.split()))
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


class Assessment:
    """One suite test's requirement and case; its verdict is filled in during setup.

    The plugin parametrises ``govmail`` directly with one of these per test, rather than
    through fixtures: a sweep runs 50,000+ tests, and two fixtures that take ``request`` cost
    pytest a fixture definition each per test. :func:`decide` fills the verdict in from the
    plugin's ``pytest_runtest_setup``, so INCONCLUSIVE still errors and NOT APPLICABLE still
    skips in setup; suites call :meth:`check` in the test body.
    """

    __slots__ = ("case", "judge", "requirement", "subject", "verdict", "waiver")

    def __init__(
        self, requirement: Requirement, case: Case, judge: Callable[[Subject], Verdict]
    ) -> None:
        self.requirement = requirement
        self.case = case
        self.judge = judge
        self.subject: Subject | None = None
        self.verdict: Verdict | None = None
        self.waiver: Waiver | None = None

    def __repr__(self) -> str:
        return f"<govmail {self.requirement.id} {self.case.id}>"

    @property
    def where(self) -> str:
        if self.case.host:
            return f"{self.case.target.domain} (MX {self.case.host})"
        return self.case.target.domain

    def message(self) -> str:
        assert self.verdict is not None, "the verdict is decided in setup"
        return describe(self.requirement, self.where, self.verdict)

    def check(self) -> None:
        """Fail the test, without a traceback, unless the requirement passed.

        Under a waiver a failure is an expected failure (xfail, with the waiver's reason), and
        a pass fails as XPASS(strict) so that the waiver is removed once the domain is fixed.
        """
        __tracebackhide__ = True
        verdict = self.verdict
        if verdict is None:
            pytest.fail(f"{self.requirement.id}: no verdict (was setup skipped?)", pytrace=False)
        if self.waiver is not None:
            if verdict.status is Status.PASS:
                pytest.fail(
                    f"[XPASS(strict)] {self.requirement.id} now passes for {self.where}: remove "
                    f"the waiver ({self.waiver.source}: {self.waiver.reason})",
                    pytrace=False,
                )
            pytest.xfail(f"waived: {self.waiver.describe()} | {_clip(self.message())}")
        if verdict.status is not Status.PASS:
            pytest.fail(self.message(), pytrace=False)


@dataclass(frozen=True, slots=True)
class Case:
    """One parameter of a suite test: a target, and for host-scoped requirements one MX host."""

    target: Target
    host: str | None = None
    host_scoped: bool = False

    @property
    def id(self) -> str:
        """The parameter's test ID: the domain (validated when the targets were read), and for
        a host test the MX host as DNS gave it, made safe by :func:`id_part`."""
        if not self.host_scoped:
            return self.target.domain
        return f"{self.target.domain}/{id_part(self.host) if self.host else 'no-mx-host'}"


#: What a name from DNS may keep in a test ID: host names, address literals (``:`` in IPv6).
_ID_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:")


def id_part(name: str) -> str:
    """``name`` as it may stand in a test ID: unchanged when it is made of host-name and
    address characters, else every other character percent-encoded (its UTF-8 bytes).

    An MX target is whatever the domain's owner published (``<svg/onload=alert(1)>.x.gov.uk``,
    control bytes, bidirectional overrides), and a test ID reaches the terminal, JUnit, ``--lf``
    and pytest-html, which writes it into its page unescaped: encoded, it is inert everywhere
    and still names the host. The host itself, and its evidence, keep the name as given.
    """
    if all(c in _ID_SAFE for c in name):
        return name
    return "".join(
        c if c in _ID_SAFE else "".join(f"%{b:02X}" for b in c.encode("utf-8", "replace"))
        for c in name
    )


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


def verdict_for(
    requirement: Requirement, case: Case, judge: Callable[[Subject], Verdict], run: GovmailRun
) -> Verdict:
    """The verdict of one test on ``run``'s evidence, waivers aside: what :func:`decide` acts
    on, and what a baseline's evidence is judged with (:mod:`pytest_govmail.plugin.baseline`),
    so that today's tests and the baseline's are decided by the same steps."""
    subject = run.subject(case.target, case.host)
    missing = run.nxdomain(case.target.domain)
    if missing is not None:
        # The name itself does not exist: one cause for every test of the domain.
        verdict = nonexistent_verdict(case.target.domain, missing, run.resolver_label)
    else:
        verdict = judge_case(requirement, subject, judge, case.host_scoped, run.roles(subject))
    # A blind resolver or a blocked port 25 overrules both: the cause is this machine.
    return overrule(subject, verdict)


def decide(assessment: Assessment, run: GovmailRun) -> Verdict:
    """Work out the test's verdict and waiver, and raise its setup outcome.

    INCONCLUSIVE fails here (pytest reports an ERROR in setup); NOT APPLICABLE skips, at the
    test's own location. PASS and FAIL return, and the test body's :meth:`Assessment.check`
    reports them.
    """
    __tracebackhide__ = True
    requirement, case = assessment.requirement, assessment.case
    run.ensure((requirement,))
    subject = run.subject(case.target, case.host)
    verdict = verdict_for(requirement, case, assessment.judge, run)
    match = find_waiver(
        run.waivers, requirement.id, case.target.domain, case.host, datetime.now(UTC).date()
    )
    run.note_waiver(match)
    assessment.subject = subject
    assessment.verdict = verdict
    assessment.waiver = match.applied if verdict.status in (Status.PASS, Status.FAIL) else None
    if verdict.status is Status.INCONCLUSIVE:
        raise pytest.fail.Exception(assessment.message(), pytrace=False)
    if verdict.status is Status.NOT_APPLICABLE:
        skip_at_item(f"{requirement.id} not applicable: {_clip(verdict.summary)}")
    return verdict


def nonexistent_summary(run: GovmailRun) -> str:
    """One line, said once, naming the assessed domains that do not exist (or "")."""
    names = run.nonexistent
    if not names:
        return ""
    return (
        f"govmail: {len(names)} domain(s) DO NOT EXIST (NXDOMAIN from {run.resolver_label}): "
        f"{', '.join(names)}; every test of them is inconclusive. Check the spelling, the "
        "registration, and that the resolver does not filter them."
    )
