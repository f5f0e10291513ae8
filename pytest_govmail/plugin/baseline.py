"""``--govmail-baseline``: each test against the same test on an earlier run's evidence.

An evidence file holds what a run saw (DNS answers, TLS scans, policy fetches, sample messages),
not the verdicts it reached. So the baseline is judged here, offline, as a replay would judge
it, by today's catalogue and judges and the same steps as today's tests
(:func:`pytest_govmail.plugin.assessment.verdict_for`), and each test's status is compared with
the baseline's (:func:`pytest_govmail.model.change.compare`). Judging both with the same judges
means a change is a change in the domain, not in pytest-govmail: a judge made stricter in a
release fails last month's evidence too, so it shows as "still failing", not as a regression.

The catalogue can still change between the runs. A run now writes the IDs of the requirements
it assessed into its evidence (the ``catalogue_ids`` setting); a requirement the baseline did
not assess (added since, or deselected then) is "not comparable" on the domains it did assess,
not a regression (on a domain it did not assess every test is a "new test"). A
requirement withdrawn since has no test today and so nothing to compare. An evidence file
written before the setting existed names no IDs: every requirement is then compared.

``--govmail-fail-on new`` makes the exit status that of the tests that got worse (new failures
and newly inconclusive ones): old failures, new tests and tests that cannot be compared do not
fail the run. A failure that is no govmail verdict (a user's own test, a collection error)
keeps pytest's status: the gate is for the assessment only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pytest_govmail.engine.run import GovmailRun
from pytest_govmail.engine.settings import Settings
from pytest_govmail.inputs.attestations import AttestationError
from pytest_govmail.inputs.catalogue import Catalogue
from pytest_govmail.inputs.tls_profile import ProfileError
from pytest_govmail.model import evidence as evidence_file
from pytest_govmail.model.change import Change, Comparison, compare, record_changes
from pytest_govmail.model.dns import DnsView
from pytest_govmail.model.text import inert
from pytest_govmail.model.verdict import Verdict
from pytest_govmail.plugin.assessment import Assessment, Case, verdict_for
from pytest_govmail.reports.changes import (
    HEADING,
    ChangeTally,
    baseline_label,
    changes_key,
    gate_line,
    terminal_lines,
)

#: The evidence setting naming the requirements a run assessed (space-separated IDs).
CATALOGUE_IDS = "catalogue_ids"

#: The baseline of this run (set by the plugin when ``--govmail-baseline`` is given).
baseline_key = pytest.StashKey["Baseline"]()


class Baseline:
    """An earlier run's evidence, judged on demand test by test (and cached per subject)."""

    def __init__(
        self,
        evidence: evidence_file.Evidence,
        source: str,
        requirement_ids: Iterable[str],
        profile: tuple[str, str] | None = None,
    ) -> None:
        self.source = source
        self.evidence = evidence
        self.run = GovmailRun(evidence.targets, Settings(), replay=evidence)
        # The baseline's waivers do not change a status, and may name requirements withdrawn
        # since: they are not read. Its attestations are statements of that time and stay.
        # The TLS profile is part of the judges: today's, so that a profile revised since
        # does not show as a change in the domains.
        self.run.inputs.pop("waivers", None)
        if profile is not None:
            self.run.inputs["tls_profile"] = profile
        try:
            self.run.parse_inputs(list(requirement_ids))
        except (AttestationError, ProfileError) as exc:
            raise pytest.UsageError(f"--govmail-baseline: {source}: {exc}") from None
        self.targets = {t.domain: t for t in evidence.targets}
        ids = evidence.settings.get(CATALOGUE_IDS)
        #: The requirements the baseline run assessed, or None when its file does not say.
        self.assessed: frozenset[str] | None = frozenset(ids.split()) if ids is not None else None

    @property
    def label(self) -> str:
        return baseline_label(self.source, self.evidence.started_at)

    def compare(self, assessment: Assessment, verdict: Verdict, today: DnsView) -> Comparison:
        """Today's ``verdict`` of ``assessment`` against the same test on the baseline."""
        requirement, case = assessment.requirement, assessment.case
        # The domain first: every test of a domain the baseline did not hold is new, a
        # requirement added since included (it is new for that domain either way).
        target = self.targets.get(case.target.domain)
        if target is None:
            return Comparison(Change.NEW_TEST, None, note="the baseline did not assess this domain")
        if self.assessed is not None and requirement.id not in self.assessed:
            note = f"the baseline run did not assess {requirement.id}"
            return Comparison(Change.NOT_COMPARABLE, None, note=note)
        if case.host_scoped:
            hosts = self.run.hosts(target) or ()
            if case.host is None and hosts:
                return Comparison(Change.NEW_TEST, None, note="the baseline had MX hosts")
            if case.host is not None and case.host not in hosts:
                return Comparison(
                    Change.NEW_TEST, None, note="the baseline did not have this MX host"
                )
        try:
            was = verdict_for(
                requirement, Case(target, case.host, case.host_scoped), assessment.judge, self.run
            )
        except Exception as exc:  # a hand-made baseline must not fail today's test
            return Comparison(
                Change.NOT_COMPARABLE,
                None,
                note=f"the baseline's evidence could not be judged ({type(exc).__name__})",
            )
        records = record_changes((*verdict.evidence, *was.evidence), self.run.snapshot, today)
        return Comparison(compare(was.status, verdict.status), was.status, records)

    def withdrawn(self, catalogue: Catalogue) -> list[str]:
        """Requirements the baseline assessed that this catalogue no longer tests (withdrawn,
        or renamed): not comparable, and said so rather than left silent."""
        if self.assessed is None:
            return []
        tested = {r.id for r in catalogue if r.implemented}
        return sorted(inert(i) for i in self.assessed - tested)

    def gone(self, today: GovmailRun) -> list[str]:
        """Domains, and MX hosts of domains still assessed, that the baseline had and this run
        does not (:func:`vanished`)."""
        return vanished(self.run, today)


def vanished(baseline: GovmailRun, today: GovmailRun) -> list[str]:
    """Domains, and MX hosts of domains still assessed, that the ``baseline`` run had and
    ``today``'s does not: their tests vanished rather than changed. (``govmail-sweep`` asks
    this of the whole sweep: each batch holds only its own domains.)"""
    before = {t.domain: t for t in baseline.targets}
    assessed = {t.domain: t for t in today.targets}
    found = [inert(d) for d in sorted(before) if d not in assessed]
    for domain in sorted(set(before) & set(assessed)):
        hosts = baseline.hosts(before[domain]) or ()
        now = set(today.hosts(assessed[domain]) or ())
        found.extend(f"MX {inert(h)} of {domain}" for h in hosts if h not in now)
    return found


def load_baseline(
    config: pytest.Config, catalogue: Catalogue, today: GovmailRun
) -> Baseline | None:
    """The baseline the options name, or None; a file that is no evidence is a usage error.

    Read with the bounded reader replay uses (:func:`pytest_govmail.model.evidence.read`): a
    FIFO, a device, a huge or truncated file, another program's JSON are refused with the file
    and the reason. ``--govmail-fail-on new`` without a baseline is a usage error too.
    """
    given = config.getoption("govmail_baseline", None)
    fail_on = config.getoption("govmail_fail_on", "any")
    if not given:
        if fail_on == "new":
            raise pytest.UsageError(
                "--govmail-fail-on new needs --govmail-baseline FILE: without an earlier run's "
                "evidence no test can be said to have got worse"
            )
        return None
    try:
        evidence = evidence_file.read(Path(given))
    except evidence_file.EvidenceError as exc:
        raise pytest.UsageError(f"--govmail-baseline: {exc}") from None
    return Baseline(evidence, inert(str(given)), catalogue.ids(), today.inputs.get("tls_profile"))


def with_assessed_ids(
    evidence: evidence_file.Evidence, ids: Iterable[str]
) -> evidence_file.Evidence:
    """The evidence with the requirements its run assessed, unless it names them already (a
    replay writes the IDs of the run that collected the evidence, not its own)."""
    if CATALOGUE_IDS in evidence.settings:
        return evidence
    return replace(evidence, settings={**evidence.settings, CATALOGUE_IDS: " ".join(sorted(ids))})


class BaselineReport:
    """Registered under ``--govmail-baseline``: tallies each test's change, leads the terminal
    summary with the changes and, under ``--govmail-fail-on new``, sets the exit status."""

    def __init__(
        self, config: pytest.Config, baseline: Baseline, run: GovmailRun, catalogue: Catalogue
    ) -> None:
        self.baseline = baseline
        self.run = run
        self.catalogue = catalogue
        self.fail_on_new = config.getoption("govmail_fail_on", "any") == "new"
        self.tally = ChangeTally(baseline.label)
        self.relaxed = False
        config.stash[changes_key] = self.tally

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Runs before the plugin lets go of ``report.govmail`` (its hook is trylast)."""
        data = getattr(report, "govmail", None)
        if isinstance(data, dict):
            self.tally.add(data, report.failed)
        elif report.failed:
            self.tally.failed_other += 1

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.tally.failed_other += 1

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Before the reports are written (the HTML page lists what vanished), and the exit
        status, which pytest returns as this hook leaves it (pytest's ``wrap_session``)."""
        if not hasattr(session.config, "workerinput"):
            self.tally.gone = self.baseline.gone(self.run)
            self.tally.withdrawn = self.baseline.withdrawn(self.catalogue)
        if not self.fail_on_new or session.exitstatus != pytest.ExitCode.TESTS_FAILED:
            return
        if self.tally.failed_worse == 0 and self.tally.failed_other == 0:
            session.exitstatus = pytest.ExitCode.OK
            self.relaxed = True

    @pytest.hookimpl(tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """First among govmail's summary lines: counts per kind, then what got worse."""
        if not (self.tally.counts or self.tally.gone or self.tally.withdrawn):
            return
        terminalreporter.write_sep("=", HEADING)
        for line in terminal_lines(self.tally):
            terminalreporter.write_line(f"govmail: {line}")
        if self.fail_on_new:
            terminalreporter.write_line(f"govmail: {gate_line(self.tally, self.relaxed)}")
