"""The terminal: compact by default, one line per test with ``--tb=line``, whole under ``-v``,
and totals that add up to pytest's own line, a stale waiver named where its domain is.

Through pytester, against the demo lab's real DNS, SMTP and HTTPS servers on loopback.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

import pytest

from pytest_govmail.lab.demo import DEMO_WAIVERS, DemoLab, start_demo_lab
from pytest_govmail.plugin import LINE_SUMMARY_ABOVE
from pytest_govmail.reports.listing import LINE_LISTING_ABOVE
from pytest_govmail.reports.status import STALE, worst
from pytest_govmail.reports.terminal import reconciled, verdict_kind

BASE = ["-p", "no:cacheprovider", "-p", "no:randomly"]
#: A domain with a stale waiver (MX-03 passes under one), one with TLS failures on its host,
#: one with a waived failure (SPF-06), and one whose DNS answers SERVFAIL (errors).
DOMAINS = (
    "dormant-dept.gov.uk",
    "ancient-tls-dept.gov.uk",
    "sprawling-spf-dept.gov.uk",
    "broken-dns-dept.gov.uk",
)


@pytest.fixture(scope="module")
def lab() -> Iterator[DemoLab]:
    running = start_demo_lab()
    yield running
    running.stop()


def run_args(lab: DemoLab, *domains: str) -> list[str]:
    return [
        *lab.cli_args(),
        f"--govmail-waivers={DEMO_WAIVERS}",
        "--govmail-waiver-horizon=36500",
        *(f"--govmail-domain={d}" for d in domains),
        *BASE,
    ]


def totals_line(lines: list[str]) -> str:
    return next(line for line in lines if re.match(r"govmail: \d+ tests: ", line))


def pytest_line_counts(lines: list[str]) -> dict[str, int]:
    """pytest's final line as {outcome: count}: ``== 3 failed, 2 passed in 1.0s ==``."""
    final = lines[-1]
    return {
        ("error" if word.startswith("error") else word): int(n)
        for n, word in re.findall(r"(\d+) (\w+)", final.split(" in ")[0])
        if word not in ("deselected", "warning", "warnings")
    }


def govmail_counts(line: str) -> dict[str, int]:
    """The govmail totals line as {pytest outcome: count}."""
    head = re.sub(r" \([^)]*\)", "", line.split(";")[0].split(": ", 2)[2])
    return {
        ("error" if word.startswith("error") else word): int(n)
        for n, word in re.findall(r"(?:^|, )(\d+) ([a-z]+)", head)
    }


def test_demo_default_fits_in_800_lines_with_each_scan_once(pytester: pytest.Pytester) -> None:
    """The issue's measure: ``pytest --govmail-demo | wc -l`` printed 3,409 lines."""
    result = pytester.runpytest_subprocess("--govmail-demo", *BASE)
    lines = result.outlines
    assert len(lines) < 800, len(lines)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # pytest's own per-test listing is left to -v; the verdicts are grouped by domain.
    assert not any(re.match(r"=+ (FAILURES|ERRORS) =+$", line) for line in lines)
    assert not any(line.startswith("FAILED ") for line in lines)
    result.stdout.fnmatch_lines(
        [
            "*govmail verdicts by domain*",
            "ancient-tls-dept.gov.uk: 6 fail",  # with DNSSEC-01: an unsigned delegation
            "  TLS-02 FAIL ancient-tls-dept.gov.uk (MX mx.ancient-tls-dept.gov.uk): *TLS 1.3*",
            "TLS scan of mx.ancient-tls-dept.gov.uk at *",
            "  TLSv1.0  accepted: *",
            "*govmail summary*",
        ]
    )
    scans = Counter(line for line in lines if line.startswith("TLS scan of "))
    assert scans and set(scans.values()) == {1}, scans
    assert govmail_counts(totals_line(lines)) == pytest_line_counts(lines)


def test_stale_waiver_reconciles_with_pytest_and_shows_in_the_matrix(
    pytester: pytest.Pytester, lab: DemoLab
) -> None:
    result = pytester.runpytest(*run_args(lab, "dormant-dept.gov.uk"), "-k", "test_mx")
    assert result.parseoutcomes()["failed"] == 1  # XPASS(strict): the waiver is stale
    lines = result.outlines
    result.stdout.fnmatch_lines(
        [
            "dormant-dept.gov.uk: 1 stale waiver",
            "  MX-03 STALE WAIVER dormant-dept.gov.uk: [[]XPASS(strict)] MX-03 now passes for "
            "dormant-dept.gov.uk: remove the waiver (MX-03 for dormant-dept.gov.uk until *",
            "*govmail summary*",
            re.sub(r"\s+", "*", "dormant-dept.gov.uk STALE"),
            "govmail: * tests: 1 failed (stale waiver), * passed*",
            "govmail: 1 stale waiver, counted failed by pytest: *: MX-03 dormant-dept.gov.uk",
        ]
    )
    row = next(line for line in lines if line.startswith("dormant-dept.gov.uk "))
    assert row.split()[1:] == ["STALE"]
    assert govmail_counts(totals_line(lines)) == pytest_line_counts(lines)


def test_totals_add_up_with_waived_failures_and_errors(
    pytester: pytest.Pytester, lab: DemoLab
) -> None:
    result = pytester.runpytest(*run_args(lab, *DOMAINS))
    lines = result.outlines
    pytest_counts = pytest_line_counts(lines)
    assert {"failed", "passed", "skipped", "xfailed", "error"} <= set(pytest_counts)
    assert govmail_counts(totals_line(lines)) == pytest_counts
    result.stdout.fnmatch_lines(
        [
            "govmail: * tests: * failed (* fail, 1 stale waiver), * xfailed (waived), "
            "* errors (inconclusive);*",
            "govmail: 1 waived, counted xfailed by pytest: SPF-06 sprawling-spf-dept.gov.uk",
        ]
    )


def test_tb_line_gives_one_line_per_test(pytester: pytest.Pytester, lab: DemoLab) -> None:
    result = pytester.runpytest(*run_args(lab, *DOMAINS), "--tb=line")
    lines = result.outlines
    counts = pytest_line_counts(lines)
    start = next(i for i, line in enumerate(lines) if "govmail verdicts (one line" in line)
    end = next(i for i, line in enumerate(lines) if i > start and line.startswith("====="))
    listed = lines[start + 1 : end]
    # Every test that did not pass, once: failures, errors and waived (xfailed) tests.
    assert len(listed) == counts["failed"] + counts["error"] + counts["xfailed"]
    pattern = re.compile(
        r"\S+\.py:\d+: [A-Z]+-\d+ (FAIL|INCONCLUSIVE|STALE WAIVER|WAIVED) [a-z.-]+( \(MX .+\))?: "
    )
    assert all(pattern.match(line) for line in listed), listed
    assert not any("TLS scan of" in line for line in lines)


def test_verbose_tells_each_tests_whole_story(pytester: pytest.Pytester, lab: DemoLab) -> None:
    result = pytester.runpytest(
        *run_args(lab, "ancient-tls-dept.gov.uk"), "-v", "-k", "TLS-02 or TLS-04"
    )
    result.stdout.fnmatch_lines(
        [
            "*= FAILURES =*",
            "*TLS-02 FAIL ancient-tls-dept.gov.uk (MX mx.ancient-tls-dept.gov.uk)*",
            "*observed:*",
            "*fix:*",
            "*- govmail evidence -*",
            "TLS scan of mx.ancient-tls-dept.gov.uk at *",
        ]
    )
    assert "govmail verdicts by domain" not in result.stdout.str()


def test_a_users_own_failure_is_still_shown(pytester: pytest.Pytester, lab: DemoLab) -> None:
    """``--tb=no`` is what pytest is given: a test that is not govmail's keeps its message."""
    pytester.makepyfile(
        test_own="""
        def test_own_check(govmail_subject):
            assert govmail_subject.domain == "somewhere-else.gov.uk", "my own check"
        """
    )
    result = pytester.runpytest(*run_args(lab, "dormant-dept.gov.uk"), "test_own.py")
    result.stdout.fnmatch_lines(
        ["*= other failures and errors =*", "*test_own_check*", "*my own check*"]
    )
    line = pytester.runpytest(*run_args(lab, "dormant-dept.gov.uk"), "test_own.py", "--tb=line")
    line.stdout.fnmatch_lines(["*test_own.py:*: AssertionError: my own check*"])


@pytest.mark.parametrize(
    ("status", "waiver", "outcome", "kind"),
    [
        ("fail", False, "failed", "fail"),
        ("fail", True, "xfailed", "waived"),
        ("pass", True, "failed", STALE),
        ("pass", False, "passed", "pass"),
        ("inconclusive", False, "error", "inconclusive"),
        ("not_applicable", False, "skipped", "not_applicable"),
    ],
)
def test_verdict_kind(status: str, waiver: bool, outcome: str, kind: str) -> None:
    assert verdict_kind(status, waiver, outcome) == kind


@pytest.mark.parametrize(
    ("counts", "waived", "stale", "expected"),
    [
        ({"pass": 5}, 0, 1, STALE),
        ({"pass": 5, "not_applicable": 2}, 0, 0, "pass"),
        ({"fail": 1, "pass": 5}, 1, 1, STALE),  # a stale waiver over a waived failure
        ({"fail": 1, "pass": 5}, 0, 1, "fail"),
        ({"inconclusive": 1, "pass": 5}, 0, 1, "inconclusive"),
    ],
)
def test_worst_ranks_a_stale_waiver(
    counts: dict[str, int], waived: int, stale: int, expected: str
) -> None:
    assert worst(counts, waived, stale) == expected


def test_worst_refuses_more_stale_waivers_than_passes() -> None:
    with pytest.raises(ValueError, match="2 stale waiver"):
        worst({"pass": 1}, 0, 2)


def test_reconciled_reads_in_pytests_words_and_order() -> None:
    outcomes = Counter(
        {
            ("failed", "fail"): 150,
            ("failed", STALE): 1,
            ("passed", "pass"): 933,
            ("skipped", "not_applicable"): 185,
            ("xfailed", "waived"): 1,
            ("error", "inconclusive"): 173,
        }
    )
    assert reconciled(outcomes) == (
        "1443 tests: 151 failed (150 fail, 1 stale waiver), 933 passed, "
        "185 skipped (not applicable), 1 xfailed (waived), 173 errors (inconclusive)"
    )


def test_a_sweep_lists_one_line_per_test_where_pytests_summary_did() -> None:
    assert LINE_LISTING_ABOVE == LINE_SUMMARY_ABOVE
