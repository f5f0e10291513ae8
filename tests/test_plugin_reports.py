"""The report options end to end: a pytest run against the lab's DNS with report files given."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pytest_govmail.lab.demo import DemoLab, start_demo_lab
from pytest_govmail.lab.sample_reports import Row, write_sample_reports

BASE = ["-p", "no:cacheprovider", "-p", "no:randomly", "--govmail-no-reports"]
DMARC_ONLY = ["-m", "reports", "-k", "not REPORTS-04"]


@pytest.fixture(scope="module")
def lab() -> Iterator[DemoLab]:
    running = start_demo_lab()  # with its DKIM keys: REPORTS-02 looks them up
    yield running
    running.stop()


def _args(lab: DemoLab, *domains: str) -> list[str]:
    return [*lab.cli_args(), *(f"--govmail-domain={d}" for d in domains), *BASE]


def test_reports_judge_senders_selectors_and_readiness(
    pytester: pytest.Pytester, lab: DemoLab, tmp_path: Path
) -> None:
    dmarc, _tls = write_sample_reports(tmp_path)
    (dmarc / "junk.xml").write_bytes(b"<html>not a report</html>")
    hostile = dmarc / "evil\x1b[2J.xml"
    hostile.write_bytes(b"\x1b[31m")
    result = pytester.runpytest(
        *_args(lab, "monitoring-dept.gov.uk", "exemplary-dept.gov.uk", "bare-dept.gov.uk"),
        f"--govmail-dmarc-reports={dmarc}",
        *DMARC_ONLY,
        "-rs",
        "-v",
    )
    outcome = result.parseoutcomes()
    # monitoring fails 01..03; exemplary passes 01 and 02, 03 skips (already reject);
    # bare has no reports: three skips, not failures.
    assert (outcome["failed"], outcome["passed"], outcome["skipped"]) == (3, 2, 4), outcome
    for line in (
        "*REPORTS-01 FAIL monitoring-dept.gov.uk*",
        "*192.0.2.25*passes unaligned as*DKIM bulkmailer.example*",
        "*REPORTS-03 not applicable*already at p=reject*",
        "*REPORTS-01 not applicable: not assessed: no DMARC aggregate reports for "
        "bare-dept.gov.uk in the last 30 days*",
        "govmail: reports: 7 file(s) read, 4 report(s) used, 2 refused, 1 older than 30 days "
        "ignored, 0 other domain(s)*"[:-31]
        + "*",
        "govmail: report refused: */junk.xml: not a DMARC aggregate report*<html>*",
    ):
        result.stdout.fnmatch_lines([line])
    assert "\x1b" not in result.stdout.str()
    result.stdout.fnmatch_lines(["govmail: report refused: *evil\\x1b[2J.xml: *"])


def test_dkim_checks_and_ptr_lookups_use_what_reports_name(
    pytester: pytest.Pytester, lab: DemoLab, tmp_path: Path
) -> None:
    dmarc, _tls = write_sample_reports(tmp_path)
    data = tmp_path / "data.json"
    pytester.runpytest(
        *_args(lab, "monitoring-dept.gov.uk"),
        f"--govmail-dmarc-reports={dmarc}",
        f"--govmail-report-data={data}",
        "-k",
        "DKIM-01 or REPORTS-01",
    )
    text = data.read_text("utf-8")
    # The run asked the PTR of the sources the reports name, and whether it resolves back.
    assert '127.0.2.10 [PTR \\"mx.sharedmail.example\\" (forward-confirmed)]' in text
    # The DKIM checks' details name each selector's source: selector1 (also in the common list)
    # and mktg2025 (known from nowhere else) are credited to the report that showed them.
    assert "mktg2025 (DMARC report Outlook.com demo-mo-1" in text
    assert "selector1 (DMARC report Mimecast demo-mo-2" in text


def test_a_narrow_window_ignores_the_reports_and_says_so(
    pytester: pytest.Pytester, lab: DemoLab, tmp_path: Path
) -> None:
    old = tmp_path / "old"
    old.mkdir()
    dmarc, _tls = write_sample_reports(old)
    for report in dmarc.iterdir():
        if "!old" not in report.name:
            report.unlink()
    result = pytester.runpytest(
        *_args(lab, "exemplary-dept.gov.uk"),
        f"--govmail-dmarc-reports={dmarc}",
        "--govmail-report-window=90",
        *DMARC_ONLY,
    )
    assert result.parseoutcomes()["passed"] == 2  # the 60-day-old report counts in 90 days
    result = pytester.runpytest(
        *_args(lab, "exemplary-dept.gov.uk"), f"--govmail-dmarc-reports={dmarc}", *DMARC_ONLY, "-rs"
    )
    result.stdout.fnmatch_lines(["*not assessed*in the last 30 days (1 older report(s) ignored)*"])


def test_a_bad_window_is_a_usage_error(pytester: pytest.Pytester, lab: DemoLab) -> None:
    result = pytester.runpytest(
        *_args(lab, "exemplary-dept.gov.uk"),
        "--govmail-dmarc-reports=.",
        "--govmail-report-window=0",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--govmail-report-window: 0 is not 1 to 3650 days*"])


def test_a_replay_judges_the_reports_the_evidence_carries(
    pytester: pytest.Pytester, lab: DemoLab, tmp_path: Path
) -> None:
    dmarc, _tls = write_sample_reports(tmp_path)
    evidence = tmp_path / "evidence.json"
    live = pytester.runpytest(
        *_args(lab, "monitoring-dept.gov.uk"),
        f"--govmail-dmarc-reports={dmarc}",
        f"--govmail-evidence-out={evidence}",
        *DMARC_ONLY,
    )
    # The evidence keeps each domain's report totals: a replay offline, with no report file,
    # judges the same; reports given again replace them.
    replayed = pytester.runpytest(f"--govmail-replay={evidence}", *BASE, *DMARC_ONLY)
    assert live.parseoutcomes()["failed"] == replayed.parseoutcomes()["failed"] == 3
    empty = tmp_path / "none"
    empty.mkdir()
    (empty / "other.xml").write_bytes(b"<feedback/>")
    fresh = pytester.runpytest(
        f"--govmail-replay={evidence}", f"--govmail-dmarc-reports={empty}", *BASE, *DMARC_ONLY
    )
    assert fresh.parseoutcomes()["skipped"] == 3


#: Report fields as a stranger's receiver could fill them. XML 1.0 cannot carry C0 controls
#: (the parser refuses the file), so the DMARC report carries C1, bidi and markup (escaped as
#: XML requires, so it is text to the parser); the TLS-RPT report's JSON carries every class.
XML_PAYLOAD = "\u202eexe.txt\u202c csi\x9b31mnel\x85 <script>alert(1)</script>"
JSON_PAYLOAD = "\x1b[2J\x1b]0;owned\x07nul\x00 \u2066iso\u2069 <img src=x onerror=alert(3)>"


def test_hostile_report_fields_reach_no_output_raw(
    pytester: pytest.Pytester, lab: DemoLab, tmp_path: Path
) -> None:
    """Organisation names, report IDs, selectors and dispositions of a DMARC report, and the
    organisation, result type and MX host of a TLS-RPT report, from real files through a real
    run: no raw control or bidi character in the terminal, JUnit, our HTML, pytest-html or the
    evidence file, no markup in the HTML and XML files, and each field still shown, escaped."""
    from xml.sax.saxutils import escape

    from test_hostile_payloads import raw_controls, raw_markup

    from pytest_govmail.lab.sample_reports import SERVICE, aggregate_xml, tlsrpt_json

    domain = "monitoring-dept.gov.uk"
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    begin = end - timedelta(days=1)
    hostile = escape(XML_PAYLOAD)
    rows: list[Row] = [
        (SERVICE, 9, f"none{hostile}", "pass", "pass", [(domain, f"s{hostile}", "pass")], []),
        ("203.0.113.9", 5, "none", "fail", "fail", [(domain, f"k{hostile}", "fail")], []),
    ]
    (tmp_path / "dmarc.xml").write_bytes(
        aggregate_xml(f"org{hostile}", f"id{hostile}", domain, "none", begin, end, rows)
    )
    tls = tlsrpt_json(
        f"org{JSON_PAYLOAD}", f"id{JSON_PAYLOAD}", domain, begin, end, 10,
        [(f"starttls-{JSON_PAYLOAD}", f"mx.{domain}{JSON_PAYLOAD}", 3)],
    )  # fmt: skip
    (tmp_path / "tlsrpt.json").write_bytes(tls)
    result = pytester.runpytest(
        *lab.cli_args(),
        f"--govmail-domain={domain}",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        f"--govmail-dmarc-reports={tmp_path / 'dmarc.xml'}",
        f"--govmail-tlsrpt-reports={tmp_path / 'tlsrpt.json'}",
        "--govmail-evidence-out=evidence.json",
        "--html=pytest-html.html",
        "-m",
        "reports",
        "-rA",
        "-v",
    )
    outputs = {
        "terminal": "\n".join(result.outlines + result.errlines),
        "junit.xml": (pytester.path / "reports" / "junit.xml").read_text("utf-8"),
        "govmail.html": (pytester.path / "reports" / "govmail.html").read_text("utf-8"),
        "pytest-html": (pytester.path / "pytest-html.html").read_text("utf-8"),
        "evidence": (pytester.path / "evidence.json").read_text("utf-8"),
    }
    assert result.parseoutcomes()["failed"] == 2, outputs["terminal"]
    assert "govmail: report refused" not in outputs["terminal"]  # both files were read
    for where, text in outputs.items():
        assert raw_controls(text) == [], where
        if where not in ("terminal", "evidence"):  # JSON data, as the report said it
            assert raw_markup(text) == [], where
    for where in ("terminal", "junit.xml"):
        text = outputs[where]
        assert "\\u202eexe.txt" in text, where  # organisation (DKIM source), selector
        assert "starttls-\\x1b[2j\\x1b]0;owned" in text, where  # TLS-RPT result type
    assert "&lt;img src=x onerror=alert(3" in outputs["junit.xml"]  # cut at 60 characters
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in outputs["junit.xml"]
    for where in ("govmail.html", "pytest-html"):
        assert "onerror=alert(3)" in outputs[where], where  # shown, and escaped (checked above)
