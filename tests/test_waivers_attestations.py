"""Waivers and attestations: the loaders, ATTEST-01's judge, and their effect on a real run."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from factories import subject
from report_reader import report_tests

from pytest_govmail.inputs.attestations import CONTROLS, AttestationError, parse_attestations
from pytest_govmail.inputs.waivers import WaiverError, find_waiver, parse_waivers
from pytest_govmail.judge.attest import controls_attested
from pytest_govmail.lab.demo import DemoLab, start_demo_lab
from pytest_govmail.model.verdict import Status

IDS = ["SPF-06", "DMARC-03", "MX-03"]
D = "example-dept.gov.uk"


def waiver_text(**fields: str) -> str:
    base = {
        "requirement": '"SPF-06"',
        "domain": '"example-*.gov.uk"',
        "reason": '"legacy relay"',
        "expires": "2030-01-31",
    }
    base.update(fields)
    return "[[waiver]]\n" + "\n".join(f"{k} = {v}" for k, v in base.items() if v) + "\n"


def test_waiver_matching_globs_and_expiry() -> None:
    (waiver,) = parse_waivers(waiver_text(host='"mx*.example"'), "w.toml", IDS)
    today = date(2026, 11, 29)
    assert find_waiver([waiver], "SPF-06", D, "mx1.example", today).applied == waiver
    assert find_waiver([waiver], "SPF-06", D, None, today).applied is None
    assert find_waiver([waiver], "SPF-05", D, "mx1.example", today).applied is None
    assert find_waiver([waiver], "SPF-06", "other.gov.uk", "mx1.example", today).applied is None
    later = find_waiver([waiver], "SPF-06", D, "mx1.example", date(2030, 2, 1))
    assert later.applied is None and later.expired == waiver
    assert find_waiver([waiver], "SPF-06", D, "mx1.example", date(2030, 1, 31)).applied == waiver


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("[[waiver]\n", "not valid TOML", id="toml"),
        pytest.param(waiver_text(requirement='"NOPE-01"'), "not a requirement ID", id="id"),
        pytest.param(waiver_text(expires='"soon"'), "'expires' must be a date", id="date"),
        pytest.param(waiver_text(reason='""'), "'reason' must be a non-empty", id="reason"),
        pytest.param(waiver_text(owner='"me"'), "unknown field", id="extra"),
        pytest.param("[waivers]\n", "unknown table", id="table"),
    ],
)
def test_bad_waiver_files_name_the_entry(text: str, message: str) -> None:
    with pytest.raises(WaiverError, match=message):
        parse_waivers(text, "w.toml", IDS)


def attestation_text(domain: str, controls: list[str], expires: str = "") -> str:
    out = []
    for control in controls:
        out.append(
            "[[attestation]]\n"
            f'domain = "{domain}"\ncontrol = "{control}"\nattested_by = "A. Person"\n'
            'date = 2026-10-01\nevidence = "https://evidence.example/1"\n'
            + (f"expires = {expires}\n" if expires else "")
        )
    return "\n".join(out)


NOW = datetime(2026, 11, 29, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(attestation_text(D, list(CONTROLS)), Status.PASS, id="all-attested"),
        pytest.param(attestation_text("*.gov.uk", list(CONTROLS)), Status.PASS, id="glob"),
        pytest.param(attestation_text(D, list(CONTROLS)[:2]), Status.FAIL, id="two-of-four"),
        pytest.param(
            attestation_text(D, list(CONTROLS), expires="2026-06-01"), Status.FAIL, id="expired"
        ),
        pytest.param(
            attestation_text("other.gov.uk", list(CONTROLS)),
            Status.NOT_APPLICABLE,
            id="none-for-this-domain",
        ),
        pytest.param("", Status.NOT_APPLICABLE, id="no-file"),
    ],
)
def test_attest_01(text: str, expected: Status) -> None:
    attestations = parse_attestations(text, "a.toml")
    verdict = controls_attested(replace(subject(D), attestations=attestations, now=NOW))
    assert verdict.status is expected
    if expected is Status.NOT_APPLICABLE:
        assert "manual evidence required" in verdict.summary
    if expected is Status.PASS:
        assert {k for k, _ in verdict.details} == set(CONTROLS)


def test_bad_attestation_control() -> None:
    with pytest.raises(AttestationError, match="unknown control 'firewall'"):
        parse_attestations(attestation_text(D, ["firewall"]), "a.toml")


@pytest.fixture(scope="module")
def lab() -> Iterator[DemoLab]:
    running = start_demo_lab()
    yield running
    running.stop()


def run(pytester: pytest.Pytester, lab: DemoLab, *args: str) -> pytest.RunResult:
    return pytester.runpytest(
        *lab.cli_args(),
        "-p",
        "no:cacheprovider",
        "-rxX",
        *args,
    )


def test_waivers_in_a_run(pytester: pytest.Pytester, lab: DemoLab) -> None:
    waivers = pytester.path / "w.toml"
    waivers.write_text(
        # fails -> xfail; passes -> XPASS(strict) failure; expired; matches nothing.
        waiver_text(requirement='"DMARC-03"', domain='"monitoring-dept.gov.uk"')
        + waiver_text(requirement='"DMARC-03"', domain='"exemplary-dept.gov.uk"')
        + waiver_text(
            requirement='"DMARC-04"', domain='"monitoring-dept.gov.uk"', expires="2020-01-01"
        )
        + waiver_text(requirement='"MX-03"', domain='"nowhere.gov.uk"')
        # a waiver never hides an inconclusive test
        + waiver_text(requirement='"DMARC-03"', domain='"broken-dns-dept.gov.uk"')
    )
    result = run(
        pytester,
        lab,
        "--govmail-domain=monitoring-dept.gov.uk,exemplary-dept.gov.uk,broken-dns-dept.gov.uk",
        f"--govmail-waivers={waivers}",
        "-k",
        "dmarc_policy_enforced or dmarc_pct_full",
    )
    outcome = result.parseoutcomes()
    assert outcome["xfailed"] == 1 and outcome["errors"] == 2
    result.stdout.fnmatch_lines(
        [
            "*XPASS(strict)*DMARC-03 now passes for exemplary-dept.gov.uk: remove the waiver*",
            "*waiver EXPIRED, no longer applied: DMARC-04 for monitoring-dept.gov.uk*",
            "*waiver matches no test in this run: MX-03 for nowhere.gov.uk*",
            "XFAIL*test_dmarc[[]DMARC-03/monitoring-dept.gov.uk[]]*waived*",
        ]
    )
    assert "DMARC-04 FAIL monitoring-dept.gov.uk" in result.stdout.str()  # expired: not applied
    report = report_tests(pytester.path / "reports" / "govmail.html")
    tests = {(t["requirement"], t["domain"]): t for t in report}
    waived = tests[("DMARC-03", "monitoring-dept.gov.uk")]
    assert (waived["status"], waived["outcome"]) == ("fail", "xfailed")
    assert waived["waiver"].startswith("DMARC-03 for monitoring-dept.gov.uk until")
    fixed = tests[("DMARC-03", "exemplary-dept.gov.uk")]
    assert (fixed["status"], fixed["outcome"]) == ("pass", "failed") and fixed["waiver"]
    assert tests[("DMARC-03", "broken-dns-dept.gov.uk")]["waiver"] == ""
    assert tests[("DMARC-04", "monitoring-dept.gov.uk")]["waiver"] == ""


def test_bad_waiver_file_is_a_usage_error(pytester: pytest.Pytester, lab: DemoLab) -> None:
    (pytester.path / "w.toml").write_text(waiver_text(requirement='"NOPE-01"'))
    result = run(
        pytester, lab, "--govmail-domain=exemplary-dept.gov.uk", "--govmail-waivers=w.toml"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: w.toml, waiver #1: 'NOPE-01' is not a requirement ID*"])


def test_attestations_in_a_run_and_the_report(pytester: pytest.Pytester, lab: DemoLab) -> None:
    path: Path = pytester.path / "a.toml"
    path.write_text(attestation_text("exemplary-dept.gov.uk", list(CONTROLS)))
    result = run(
        pytester,
        lab,
        "--govmail-domain=exemplary-dept.gov.uk,monitoring-dept.gov.uk",
        f"--govmail-attestations={path}",
        "-m",
        "attest",
        "-rs",
    )
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*ATTEST-01 not applicable: manual evidence required*"])
    html = (pytester.path / "reports" / "govmail.html").read_text()
    assert "attested control(s)</summary>" in html and "https://evidence.example/1" in html
