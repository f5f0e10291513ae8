"""The lean run protocol reports exactly what pytest's own protocol reports, and steps aside.

``pytest_govmail.plugin.lean`` runs suite tests without pytest's per-phase hooks. Here the same
evidence (the demo lab's departments, every kind of outcome: pass, fail, error, skip, a waiver's
xfail and a strict XPASS) is judged twice in one process, once by each protocol, and every
report that reaches ``pytest_runtest_logreport`` is compared field by field, as are the JUnit XML
and our HTML report. Then the cases where pytest must run the tests itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from report_reader import report_tests

from pytest_govmail.lab.demo import DEMO_ATTESTATIONS, DEMO_WAIVERS, DemoLab, start_demo_lab
from pytest_govmail.plugin import suites_dir

BASE = ["-p", "no:cacheprovider", "-p", "no:randomly"]
PYTEST_PROTOCOL = ["-o", "govmail_lean_protocol=false"]
#: The demo's departments but the two that only time out (they add seconds, not outcomes).
DOMAINS = (
    "exemplary-dept.gov.uk,bare-dept.gov.uk,monitoring-dept.gov.uk,sprawling-spf-dept.gov.uk,"
    "dormant-dept.gov.uk,half-parked-dept.gov.uk,aliased-mx-dept.gov.uk,broken-dns-dept.gov.uk,"
    "hostile-dept.gov.uk,legacy-tls-dept.gov.uk,expired-cert-dept.gov.uk,plaintext-dept.gov.uk,"
    "throttled-dept.gov.uk,museum-dept.gov.uk"
)


@pytest.fixture(scope="module")
def lab() -> Iterator[DemoLab]:
    running = start_demo_lab()
    yield running
    running.stop()


class Recorder:
    """Every report as its listeners see it (first in line, before the plugin trims it)."""

    def __init__(self) -> None:
        self.reports: list[dict[str, Any]] = []

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.reports.append(
            {
                "nodeid": report.nodeid,
                "when": report.when,
                "outcome": report.outcome,
                "location": report.location,
                "keywords": sorted(report.keywords),
                "longrepr": report.longreprtext,
                "head_line": report.head_line,
                "sections": list(report.sections),
                "user_properties": list(report.user_properties),
                "wasxfail": getattr(report, "wasxfail", None),
                "govmail": json.dumps(getattr(report, "govmail", None), sort_keys=True),
            }
        )


def _junit(path: Path) -> str:
    return re.sub(r' (time|timestamp|hostname)="[^"]*"', "", path.read_text("utf-8"))


@pytest.fixture(scope="module")
def evidence(lab: DemoLab, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One live run's evidence, with the demo's waivers and attestations."""
    folder = tmp_path_factory.mktemp("lean")
    path = folder / "evidence.json"
    pytest.main(
        [
            *lab.cli_args(),
            f"--govmail-domain={DOMAINS}",
            f"--govmail-waivers={DEMO_WAIVERS}",
            "--govmail-waiver-horizon=36500",
            f"--govmail-attestations={DEMO_ATTESTATIONS}",
            f"--govmail-evidence-out={path}",
            "--govmail-no-reports",
            "-p",
            "no:terminal",
            *BASE,
            str(suites_dir()),
        ]
    )
    assert path.exists()
    return path


def _judge(pytester: pytest.Pytester, evidence: Path, *extra: str) -> tuple[Recorder, Any]:
    recorder = Recorder()
    result = pytester.runpytest(
        f"--govmail-replay={evidence}", "--govmail-report-dir=out", *extra, *BASE,
        plugins=[recorder],
    )  # fmt: skip
    return recorder, result


def test_lean_reports_are_pytests_reports(pytester: pytest.Pytester, evidence: Path) -> None:
    lean, lean_result = _judge(pytester, evidence)
    lean_junit = _junit(pytester.path / "out" / "junit.xml")
    lean_html = report_tests(pytester.path / "out" / "govmail.html")
    plain, plain_result = _judge(pytester, evidence, *PYTEST_PROTOCOL)
    outcomes = lean_result.parseoutcomes()
    # Every kind of outcome is in the comparison.
    assert {"passed", "failed", "errors", "skipped", "xfailed"} <= set(outcomes)
    assert "suite tests run by pytest's own protocol" in plain_result.stdout.str()
    assert "suite tests run by pytest's own protocol" not in lean_result.stdout.str()
    assert outcomes == plain_result.parseoutcomes()
    assert len(lean.reports) == len(plain.reports) > 3 * 500
    for ours, theirs in zip(lean.reports, plain.reports, strict=True):
        assert ours == theirs
    assert lean_junit == _junit(pytester.path / "out" / "junit.xml")
    assert lean_html == report_tests(pytester.path / "out" / "govmail.html")


def test_exitfirst_stops_at_the_same_test(pytester: pytest.Pytester, evidence: Path) -> None:
    lean, lean_result = _judge(pytester, evidence, "-x")
    plain, plain_result = _judge(pytester, evidence, "-x", *PYTEST_PROTOCOL)
    assert lean_result.ret == plain_result.ret == pytest.ExitCode.TESTS_FAILED
    assert [r["nodeid"] for r in lean.reports] == [r["nodeid"] for r in plain.reports]
    assert lean_result.parseoutcomes() == plain_result.parseoutcomes()


def test_a_plugin_with_a_phase_hook_hands_the_tests_back_to_pytest(
    pytester: pytest.Pytester, evidence: Path
) -> None:
    pytester.makepyfile(
        stamping="""
        import pytest

        @pytest.hookimpl(wrapper=True)
        def pytest_runtest_makereport(item, call):
            report = yield
            report.user_properties.append(("seen-by-plugin", call.when))
            return report
        """
    )
    pytester.syspathinsert()
    recorder, result = _judge(pytester, evidence, "-p", "stamping", "-m", "dmarc")
    result.stdout.fnmatch_lines(
        ["govmail: suite tests run by pytest's own protocol (stamping implements "
         "pytest_runtest_makereport)"]
    )  # fmt: skip
    assert len(recorder.reports) > 100
    assert all(("seen-by-plugin", r["when"]) in r["user_properties"] for r in recorder.reports)


def test_marked_tests_and_other_tests_keep_pytests_protocol(
    pytester: pytest.Pytester, evidence: Path
) -> None:
    # A skip marker put on suite tests, and a test file of the user's own with a module fixture
    # in the same session: pytest runs those, the lean protocol the rest, and the user's
    # fixture is set up and torn down once, around its own tests.
    pytester.makeconftest(
        """
        import pytest

        def pytest_collection_modifyitems(items):
            for item in items:
                if "exemplary-dept" in item.nodeid and "test_dmarc" in item.nodeid:
                    item.add_marker(pytest.mark.skip(reason="skipped by the user's conftest"))
        """
    )
    pytester.makepyfile(
        test_own="""
        from pathlib import Path

        import pytest

        EVENTS = Path("events.txt")

        @pytest.fixture(scope="module")
        def resource():
            EVENTS.write_text(EVENTS.read_text() + "up ")
            yield
            EVENTS.write_text(EVENTS.read_text() + "down ")

        def test_one(resource):
            assert EVENTS.read_text() == "up "

        def test_two(resource):
            assert EVENTS.read_text() == "up "
        """
    )
    (pytester.path / "events.txt").write_text("")
    dmarc, spf = str(suites_dir() / "test_dmarc.py"), str(suites_dir() / "test_spf.py")
    pytester.makeini("[pytest]\n")  # this folder is the root, not the suites' checkout
    rooted = ["-c", "tox.ini", f"--rootdir={pytester.path}"]
    recorder, result = _judge(pytester, evidence, *rooted, dmarc, "test_own.py", spf)
    skipped = [
        r
        for r in recorder.reports
        if "exemplary-dept" in r["nodeid"] and "test_dmarc" in r["nodeid"] and r["when"] == "setup"
    ]
    assert skipped and all(r["outcome"] == "skipped" for r in skipped)
    assert "skipped by the user's conftest" in skipped[0]["longrepr"]
    own = [r for r in recorder.reports if r["nodeid"].startswith("test_own.py::")]
    assert [r["outcome"] for r in own if r["when"] == "call"] == ["passed", "passed"]
    assert any("::test_spf[" in r["nodeid"] for r in recorder.reports)
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # the suite's own failures
    # Torn down once its module's tests were done, before the next suite's tests.
    assert (pytester.path / "events.txt").read_text() == "up down "
