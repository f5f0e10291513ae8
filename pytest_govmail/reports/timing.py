"""Where a run's time goes: the terminal summary's ``govmail: time:`` lines.

Every run says how long DNS, the TLS scans, the MTA-STS policy fetches, judging and writing the
reports took, and how many questions and handshakes were made, so that a slow run tells its
cause without a benchmark. Collecting's figures are the run's own (:class:`CollectStats
<pytest_govmail.engine.run.CollectStats>`); the tests' are taken here from pytest's hooks.
"""

from __future__ import annotations

import time

import pytest

from pytest_govmail.engine.run import GovmailRun


class RunClock:
    """The tests' side of the run's time, fed by the reporter's hooks."""

    def __init__(self) -> None:
        #: Seconds the govmail tests took (their reports' durations, summed: judging).
        self.judging_seconds = 0.0
        #: Tests counted once each, by the report that shows their outcome.
        self.tests = 0
        #: Wall time from the tests' start to the session's end, and of the session's end,
        #: where JUnit, the HTML report and pytest-html's page are written.
        self.tests_seconds: float | None = None
        self.reports_seconds: float | None = None
        self._tests_started: float | None = None
        self._reports_started: float | None = None
        #: Collecting's seconds when the tests started: scans still running then are waited
        #: for by the first test that needs them, which is not judging time.
        self.collecting_before_tests = 0.0

    def tests_start(self, collecting_seconds: float) -> None:
        self._tests_started = time.perf_counter()
        self.collecting_before_tests = collecting_seconds

    def test_report(self, report: pytest.TestReport) -> None:
        self.judging_seconds += report.duration
        # One report a test shows its outcome: the call's, or the setup's that skipped it.
        self.tests += report.when == "call" or (report.when == "setup" and not report.passed)

    def reports_start(self) -> None:
        self._reports_started = time.perf_counter()
        if self._tests_started is not None:
            self.tests_seconds = self._reports_started - self._tests_started

    def reports_end(self) -> None:
        if self._reports_started is not None:
            self.reports_seconds = time.perf_counter() - self._reports_started


def time_lines(run: GovmailRun, clock: RunClock) -> list[str]:
    """Where the run's time went, phase by phase, with what each phase asked or made.

    Collecting's phases overlap (the TLS scans start while DNS still answers for other
    domains, and the policy fetches run beside the scans), so each is its own wall time and
    their total is given first. Scans still running when the tests start are waited for by the
    first test that needs them: that wait is told apart from judging, the tests' own time.
    """
    stats = run.stats
    lines: list[str] = []
    if run.replay is None:
        failed = f", {stats.dns_failures} failed" if stats.dns_failures else ""
        lines.append(
            f"collecting {stats.seconds:.2f} s, its phases overlapping: "
            f"DNS {stats.dns_seconds:.2f} s ({stats.dns_queries} answers{failed}); "
            f"TLS scans {stats.tls_seconds:.2f} s ({stats.tls_addresses} address(es), "
            f"{stats.tls_handshakes} handshakes); "
            f"MTA-STS {stats.policy_seconds:.2f} s ({stats.policies} policy fetch(es))"
        )
    else:
        lines.append("replayed evidence: nothing asked, scanned or fetched")
    tests = f"{clock.tests} tests"
    judging = f"judging {clock.judging_seconds:.2f} s"
    if clock.tests_seconds is not None:
        waited = stats.seconds - clock.collecting_before_tests
        waiting = f"waiting for scans and fetches {waited:.2f} s, " if waited >= 0.005 else ""
        running = f"running the tests {clock.tests_seconds:.2f} s ({tests}: {waiting}{judging})"
    else:  # pytest-xdist's controller runs no test itself: the workers' time, summed
        running = f"{judging} ({tests}, summed over the workers)"
    if clock.reports_seconds is not None:
        running += f"; writing reports {clock.reports_seconds:.2f} s (JUnit, HTML)"
    return [*lines, running]
