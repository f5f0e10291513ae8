"""``--govmail-baseline`` and ``--govmail-fail-on`` end to end, through pytester.

The runs replay evidence (no network): the demo's shipped "last month" file
(:mod:`pytest_govmail.lab.last_month`) is the baseline, and "today" is that file with a record
or two edited, as a department would edit them. One test runs the demo itself against it, as
the README shows.
"""

from __future__ import annotations

import html as html_lib
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from factories import txt

from pytest_govmail.lab.last_month import LAST_MONTH, LAST_MONTH_FILE
from pytest_govmail.model import evidence as evidence_file
from pytest_govmail.model.dns import DnsResult, DnsSnapshot, ErrorKind, ProbeError
from pytest_govmail.plugin.baseline import CATALOGUE_IDS

BASE = ["-p", "no:cacheprovider", "-p", "no:randomly"]
DOMAINS = ["--govmail-domain=exemplary-dept.gov.uk", "--govmail-domain=monitoring-dept.gov.uk"]
#: DMARC tests only: enough to change, fast to judge.
DMARC = ["-m", "dmarc", *DOMAINS, *BASE]


@pytest.fixture(scope="module")
def last_month() -> evidence_file.Evidence:
    return evidence_file.read(LAST_MONTH_FILE)


def edited(
    evidence: evidence_file.Evidence,
    path: Path,
    answers: Mapping[tuple[str, str], DnsResult] = {},
    **changes: object,
) -> Path:
    """``evidence`` with some answers replaced (and fields changed), written to ``path``."""
    results = [answers.get((r.name, r.rdtype), r) for r in evidence.dns]
    evidence_file.write(replace(evidence, dns=DnsSnapshot(results), **changes), path)  # type: ignore[arg-type]
    return path


def properties(junit: Path) -> dict[str, str]:
    """Test name -> its govmail.change property, from JUnit XML."""
    found = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        if "govmail.change" in props:
            found[case.get("name", "")] = props["govmail.change"] or ""
    return found


#: Exemplary's DMARC record reporting only to NCSC Mail Check's retired DMARC service instead
#: of its own mailbox: DMARC-09 fails where it passed.
RETIRED = txt(
    "_dmarc.exemplary-dept.gov.uk", "v=DMARC1; p=none; rua=mailto:dmarc-rua@dmarc.service.gov.uk"
)


def test_same_evidence_changes_nothing_and_new_passes_old_failures(
    pytester: pytest.Pytester, last_month: evidence_file.Evidence
) -> None:
    today = edited(last_month, pytester.path / "today.json")
    args = [f"--govmail-replay={today}", f"--govmail-baseline={LAST_MONTH_FILE}", *DMARC]
    strict = pytester.runpytest(*args)
    assert strict.ret == pytest.ExitCode.TESTS_FAILED  # exemplary's p=none fails, as last month
    strict.stdout.fnmatch_lines(
        ["govmail: changes against the baseline (*): still failing: *, unchanged: *"]
    )
    assert "new failure" not in strict.stdout.str()
    changes = set(properties(pytester.path / "reports" / "junit.xml").values())
    assert changes == {"still failing", "unchanged"}

    gate = pytester.runpytest(*args, "--govmail-fail-on=new")
    assert gate.ret == pytest.ExitCode.OK
    gate.stdout.fnmatch_lines(
        ["govmail: --govmail-fail-on new: no test got worse than the baseline; the * exit status 0"]
    )
    assert gate.parseoutcomes()["failed"] == strict.parseoutcomes()["failed"]


def test_a_new_failure_fails_the_gate_and_shows_the_record(
    pytester: pytest.Pytester, last_month: evidence_file.Evidence
) -> None:
    today = edited(
        last_month,
        pytester.path / "today.json",
        {("_dmarc.exemplary-dept.gov.uk", "TXT"): RETIRED},
    )
    result = pytester.runpytest(
        f"--govmail-replay={today}",
        f"--govmail-baseline={LAST_MONTH_FILE}",
        "--govmail-fail-on=new",
        *DMARC,
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*= govmail changes against the baseline =*",
            "govmail: changes against the baseline (*): new failure: 1, still failing: *",
            "govmail: NEW FAILURE DMARC-09 exemplary-dept.gov.uk: was pass, now fail: *",
            'govmail:     _dmarc.exemplary-dept.gov.uk/TXT was: "v=DMARC1; p=none; '
            'rua=mailto:dmarc@exemplary-dept.gov.uk"',
            'govmail:  * now: "v=DMARC1; p=none; rua=mailto:dmarc-rua@dmarc.service.gov.uk"',
            "govmail: --govmail-fail-on new: 1 failing test(s) got worse than the baseline: "
            "exit status 1",
        ]
    )
    # The changes lead the govmail summary: before the verdicts and the matrix.
    text = result.stdout.str()
    assert text.index("govmail changes against the baseline") < text.index("govmail summary")
    junit = properties(pytester.path / "reports" / "junit.xml")
    assert junit["test_dmarc[DMARC-09/exemplary-dept.gov.uk]"] == "new failure"
    assert junit["test_dmarc[DMARC-03/exemplary-dept.gov.uk]"] == "still failing"
    page = (pytester.path / "reports" / "govmail.html").read_text("utf-8")
    section = page[page.index("<section id='gm-changes'>") : page.index("</section>")]
    assert page.index("<section id='gm-changes'>") < page.index("<p class='gm-totals'>")
    assert "<td>new failure</td><td>1</td>" in section
    assert html_lib.escape('"v=DMARC1; p=none; rua=mailto:dmarc-rua@dmarc.service.gov.uk"') in (
        section
    )
    # Every test's details say how it changed (the page's data block, JSON in a script).
    assert page.count("new failure (baseline: pass)") == 1
    assert "still failing (baseline: fail)" in page and "unchanged (baseline: pass)" in page


def test_newly_inconclusive_fails_the_gate_and_a_fix_does_not(
    pytester: pytest.Pytester, last_month: evidence_file.Evidence
) -> None:
    servfail = DnsResult(
        "_dmarc.monitoring-dept.gov.uk",
        "TXT",
        None,
        error=ProbeError(ErrorKind.SERVFAIL, "lab"),
    )
    fixed = txt(
        "_dmarc.exemplary-dept.gov.uk",
        "v=DMARC1; p=reject; sp=reject; rua=mailto:dmarc@exemplary-dept.gov.uk",
    )
    worse = edited(
        last_month,
        pytester.path / "worse.json",
        {("_dmarc.monitoring-dept.gov.uk", "TXT"): servfail},
    )
    result = pytester.runpytest(
        f"--govmail-replay={worse}", f"--govmail-baseline={LAST_MONTH_FILE}",
        "--govmail-fail-on=new", *DMARC,
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["govmail: NEWLY INCONCLUSIVE DMARC-01 monitoring-dept.gov.uk: was pass, now inconclusive*"]
    )
    better = edited(
        last_month,
        pytester.path / "better.json",
        {("_dmarc.exemplary-dept.gov.uk", "TXT"): fixed},
    )
    result = pytester.runpytest(
        f"--govmail-replay={better}", f"--govmail-baseline={LAST_MONTH_FILE}",
        "--govmail-fail-on=new", *DMARC,
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        ["govmail: FIXED DMARC-03 exemplary-dept.gov.uk: was fail, now pass*"]
    )


def test_a_failure_outside_the_assessment_keeps_its_exit_status(
    pytester: pytest.Pytester, last_month: evidence_file.Evidence
) -> None:
    pytester.makepyfile(test_own="def test_own():\n    assert False\n")
    from pytest_govmail.plugin.configure import suites_dir

    result = pytester.runpytest(
        f"--govmail-replay={LAST_MONTH_FILE}", f"--govmail-baseline={LAST_MONTH_FILE}",
        "--govmail-fail-on=new", "test_own.py", str(suites_dir() / "test_dmarc.py"),
        "-k", "own or dmarc", *DOMAINS, *BASE,
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*1 failure(s) outside the assessment*keep pytest's exit status*"])


def test_a_requirement_the_baseline_did_not_assess_is_not_comparable(
    pytester: pytest.Pytester, last_month: evidence_file.Evidence
) -> None:
    ids = last_month.settings[CATALOGUE_IDS].split()
    assert "DMARC-09" in ids
    # DMARC-09 added since the baseline; OLD-99 withdrawn since.
    kept = " ".join(i for i in ids if i != "DMARC-09")
    settings = {**last_month.settings, CATALOGUE_IDS: kept + " OLD-99"}
    baseline = edited(last_month, pytester.path / "baseline.json", settings=settings)
    today = edited(
        last_month, pytester.path / "today.json", {("_dmarc.exemplary-dept.gov.uk", "TXT"): RETIRED}
    )
    result = pytester.runpytest(
        f"--govmail-replay={today}", f"--govmail-baseline={baseline}",
        "--govmail-fail-on=new", *DMARC,
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.OK  # DMARC-09 fails, but it is no regression
    junit = properties(pytester.path / "reports" / "junit.xml")
    assert junit["test_dmarc[DMARC-09/exemplary-dept.gov.uk]"] == "not comparable"
    assert junit["test_dmarc[DMARC-03/exemplary-dept.gov.uk]"] == "still failing"
    result.stdout.fnmatch_lines(
        ["govmail: assessed in the baseline, no longer tested by this catalogue (*): OLD-99"]
    )


def test_a_domain_the_baseline_did_not_assess_is_a_new_test(
    pytester: pytest.Pytester, last_month: evidence_file.Evidence
) -> None:
    targets = tuple(t for t in last_month.targets if t.domain != "monitoring-dept.gov.uk")
    # DMARC-09 added since as well: on a domain the baseline did not hold, still a new test.
    ids = last_month.settings[CATALOGUE_IDS].split()
    settings = {**last_month.settings, CATALOGUE_IDS: " ".join(i for i in ids if i != "DMARC-09")}
    baseline = edited(
        last_month, pytester.path / "baseline.json", targets=targets, settings=settings
    )
    result = pytester.runpytest(
        f"--govmail-replay={LAST_MONTH_FILE}", f"--govmail-baseline={baseline}",
        "--govmail-fail-on=new", *DMARC,
    )  # fmt: skip
    junit = properties(pytester.path / "reports" / "junit.xml")
    assert {v for k, v in junit.items() if "monitoring-dept" in k} == {"new test"}
    result.stdout.fnmatch_lines(["govmail: changes against the baseline (*): *new test: 8*"])
    # The other way round: a domain of the baseline this run does not assess is named.
    result = pytester.runpytest(
        f"--govmail-replay={LAST_MONTH_FILE}", f"--govmail-baseline={LAST_MONTH_FILE}",
        "-m", "dmarc", "--govmail-domain=exemplary-dept.gov.uk", *BASE,
    )  # fmt: skip
    result.stdout.fnmatch_lines(["*in the baseline but not assessed in this run: *bare-dept*"])


def test_hostile_records_are_inert_in_every_output(
    pytester: pytest.Pytester, last_month: evidence_file.Evidence
) -> None:
    payload = "v=DMARC1; p=none\x1b[31m\u202e</td><script>alert(1)</script>"
    today = edited(
        last_month,
        pytester.path / "today.json",
        {("_dmarc.monitoring-dept.gov.uk", "TXT"): txt("_dmarc.monitoring-dept.gov.uk", payload)},
    )
    result = pytester.runpytest(
        f"--govmail-replay={today}",
        f"--govmail-baseline={LAST_MONTH_FILE}",
        "--html=pytest-html.html",
        *DMARC,
    )
    text = result.stdout.str()
    assert "\x1b[31m" not in text and "\u202e" not in text
    result.stdout.fnmatch_lines(["*now: *p=none\\x1b[31m\\u202e</td><script>*"])
    page = (pytester.path / "reports" / "govmail.html").read_text("utf-8")
    section = page[page.index("<section id='gm-changes'>") : page.index("</section>")]
    assert "<script>" not in section and "&lt;script&gt;" in section
    for name in ("pytest-html.html", "reports/junit.xml"):
        written = (pytester.path / name).read_text("utf-8")
        assert "\x1b[31m" not in written and "\u202e" not in written, name
        assert "<script>alert(1)" not in written, name
    assert "p=none\\x1b[31m\\u202e&lt;/td&gt;&lt;script&gt;" in (
        pytester.path / "pytest-html.html"
    ).read_text("utf-8")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(
            b"hello, not evidence\n", "baseline.json: corrupt or truncated JSON*", id="text"
        ),
        pytest.param(b"\xff\xfe\x00binary", "*not UTF-8 text*", id="binary"),
        pytest.param(
            b'{"schema_version": 1, "targets": [', "*corrupt or truncated JSON*", id="cut"
        ),
        pytest.param(
            b'{"name": "left-pad", "version": "1.3.0", "dependencies": {}}',
            "*no schema_version: not a pytest-govmail evidence file*",
            id="package-json",
        ),
        pytest.param(b'{"schema_version": 99}', "*newer than this pytest-govmail*", id="newer"),
        pytest.param(
            b'{"schema_version": 1, "targets": [{"domain": "<script>"}]}',
            "*malformed evidence*",
            id="bad-target",
        ),
        pytest.param(b"[" * 100_000, "*nested too deeply*", id="deep"),
    ],
)
def test_a_file_that_is_no_evidence_is_a_usage_error(
    pytester: pytest.Pytester, content: bytes, message: str
) -> None:
    (pytester.path / "baseline.json").write_bytes(content)
    result = pytester.runpytest(
        f"--govmail-replay={LAST_MONTH_FILE}", "--govmail-baseline=baseline.json", *DMARC
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --govmail-baseline: {message}"])


def test_a_huge_file_or_a_fifo_is_refused_unread(pytester: pytest.Pytester) -> None:
    huge = pytester.path / "huge.json"
    with huge.open("wb") as out:  # sparse: no disk used
        out.truncate(evidence_file.MAX_EVIDENCE_BYTES + 1)
    fifo = pytester.path / "fifo.json"
    os.mkfifo(fifo)
    for path, message in (
        (huge, "*more than a evidence file can be*"),
        (fifo, "*not a regular file*"),
    ):
        result = pytester.runpytest(
            f"--govmail-replay={LAST_MONTH_FILE}", f"--govmail-baseline={path}", *DMARC
        )
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([f"ERROR: --govmail-baseline: {message}"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            [f"--govmail-replay={LAST_MONTH_FILE}", "--govmail-fail-on=new"],
            "--govmail-fail-on new needs --govmail-baseline FILE*",
            id="new-without-baseline",
        ),
        pytest.param(
            [f"--govmail-baseline={LAST_MONTH_FILE}"],
            "--govmail-baseline and --govmail-fail-on compare a run's tests: no domains*",
            id="baseline-without-domains",
        ),
        pytest.param(
            ["--govmail-domain=a.gov.uk", "--govmail-fail-on=worse"],
            "*argument --govmail-fail-on: invalid choice: 'worse'*",
            id="unknown-choice",
        ),
    ],
)
def test_usage_errors(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    result = pytester.runpytest(*args, *BASE)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}"])


def test_evidence_names_the_requirements_its_run_assessed(
    pytester: pytest.Pytester, last_month: evidence_file.Evidence
) -> None:
    """A selection (-m dmarc) writes the DMARC IDs only, so that a later run does not compare
    its TLS tests with evidence that never held a TLS scan; a replay keeps the IDs it read."""
    settings = {k: v for k, v in last_month.settings.items() if k != CATALOGUE_IDS}
    older = edited(last_month, pytester.path / "older.json", settings=settings)
    pytester.runpytest(f"--govmail-replay={older}", "--govmail-evidence-out=out.json", *DMARC)
    written = evidence_file.read(pytester.path / "out.json").settings[CATALOGUE_IDS].split()
    assert written and all(i.startswith("DMARC-") for i in written)
    pytester.runpytest(
        f"--govmail-replay={LAST_MONTH_FILE}", "--govmail-evidence-out=o.json", *DMARC
    )
    kept = evidence_file.read(pytester.path / "o.json").settings[CATALOGUE_IDS]
    assert kept == last_month.settings[CATALOGUE_IDS]


def test_the_shipped_last_month_tells_its_story(last_month: evidence_file.Evidence) -> None:
    for (name, rdtype), records in LAST_MONTH.items():
        found = last_month.dns.get(name, rdtype)
        assert found is not None and found.records == records
    assert set(last_month.settings[CATALOGUE_IDS].split()) >= {"DMARC-03", "SPF-01", "TLS-01"}
    # No path of the machine that made it.
    assert all(not Path(source).is_absolute() for source, _ in last_month.inputs.values())


def test_the_demo_against_last_month_shows_the_regression(pytester: pytest.Pytester) -> None:
    """The README's command: new failures, a newly inconclusive department, a fix, records."""
    args = ["--govmail-demo", f"--govmail-baseline={LAST_MONTH_FILE}", *BASE]
    result = pytester.runpytest_subprocess(*args, "--govmail-fail-on=new")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            # last-month.json collected under catalogue v2 (so DMARC-09 and the other
            # requirements added since compare): bare-dept's 6 SPF tests, monitoring-dept's
            # DMARC-03/04/05 and REPORTS-03 (it applies again below p=reject) fail anew;
            # broken-dns-dept's 8 DMARC tests are newly inconclusive; exemplary's DMARC-03 is
            # fixed.
            "govmail: changes against the baseline (*): new failure: 10, newly inconclusive: 8, "
            "fixed: 1, still failing: *, unchanged: *",
            # Listed by domain, then requirement (whichever order the tests ran in).
            "govmail: NEW FAILURE SPF-01 bare-dept.gov.uk: was pass, now fail: *",
            "govmail: NEW FAILURE DMARC-03 monitoring-dept.gov.uk: was pass, now fail: *",
            "govmail:     _dmarc.monitoring-dept.gov.uk/TXT was: *p=reject*",
            "govmail:  * now: *p=none; sp=none; pct=50*",
            "govmail: NEWLY INCONCLUSIVE DMARC-01 broken-dns-dept.gov.uk: *",
            "govmail: FIXED DMARC-03 exemplary-dept.gov.uk: was fail, now pass: *",
            "govmail: --govmail-fail-on new: 18 failing test(s) got worse than the baseline: "
            "exit status 1",
        ]
    )
    # Every test carries its change in JUnit.
    junit = pytester.path / "reports" / "junit.xml"
    assert len(properties(junit)) == sum(1 for _ in ET.parse(junit).getroot().iter("testcase"))


def test_a_sweep_gates_each_batch_and_keeps_every_change_in_junit(
    tmp_path: Path, last_month: evidence_file.Evidence
) -> None:
    """govmail-sweep hands both options to every batch: the batch holding the regression exits
    1 (and so does the sweep), and the merged JUnit has a govmail.change on every test."""
    today = edited(
        last_month, tmp_path / "today.json", {("_dmarc.exemplary-dept.gov.uk", "TXT"): RETIRED}
    )

    def sweep(replay: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable, "-m", "pytest_govmail.sweep", "--batch=8", "--jobs=1",
                f"--work={tmp_path / 'work'}", f"--govmail-replay={replay}",
                f"--govmail-baseline={LAST_MONTH_FILE}", "--govmail-fail-on=new",
                "-m", "dmarc", "-p", "no:randomly",
            ],
            cwd=tmp_path, capture_output=True, text=True, check=False,
        )  # fmt: skip

    gated = sweep(today)
    assert gated.returncode == 1, gated.stdout + gated.stderr
    junit = tmp_path / "reports" / "junit.xml"
    changes = properties(junit)
    assert len(changes) == sum(1 for _ in ET.parse(junit).getroot().iter("testcase"))
    assert [k for k, v in changes.items() if v == "new failure"] == [
        "test_dmarc[DMARC-09/exemplary-dept.gov.uk]"
    ]
    # The merged page leads with the changes, and has each test's change in its details.
    page = (tmp_path / "reports" / "govmail.html").read_text()
    assert "new failure (baseline: pass)" in page
    assert "<section id='gm-changes'>" in page and "<td>new failure</td><td>1</td>" in page
    # ...and so do the sweep's last lines, before its own.
    tail = gated.stdout[gated.stdout.rindex("govmail changes against the baseline") :]
    assert f"changes against the baseline ({LAST_MONTH_FILE}, collected " in tail
    assert "NEW FAILURE DMARC-09 exemplary-dept.gov.uk" in tail
    assert tail.index("exit status 1") < tail.index("govmail-sweep: JUnit written")
    same = sweep(LAST_MONTH_FILE)
    assert same.returncode == 0, same.stdout + same.stderr  # old failures only


def test_a_tests_change_in_pytest_htmls_evidence_cell_is_escaped() -> None:
    from pytest_govmail.reports.pytest_html import render_evidence

    info = {
        "requirement": "DMARC-03", "level": "must", "area": "dmarc", "title": "t",
        "status": "fail", "summary": "s",
        "change": {"kind": "new failure", "was": "pass",
                   "records": [["_dmarc.a.gov.uk/TXT", '"p=reject"', '"<script>x</script>"']]},
    }  # fmt: skip
    shown = render_evidence(info)
    assert "<b>Against the baseline</b>: new failure (was pass)" in shown
    assert "&lt;script&gt;x&lt;/script&gt;" in shown and "<script>" not in shown
    assert "Against the baseline" not in render_evidence({**info, "change": None})


def _pytest_html_tests(page: Path) -> dict[str, list[dict[str, Any]]]:
    """pytest-html 4's rows: its page keeps every test's data as JSON in one attribute."""
    text = page.read_text("utf-8")
    blob = html_lib.unescape(text.split('data-jsonblob="', 1)[1].split('"', 1)[0])
    tests: dict[str, list[dict[str, Any]]] = json.loads(blob)["tests"]
    return tests


def test_pytest_htmls_rows_carry_each_tests_evidence_and_change(
    pytester: pytest.Pytester, last_month: evidence_file.Evidence
) -> None:
    """pytest-html 4 renders a test's rows only once its teardown is reported, after the plugin
    let go of ``report.govmail`` (it is dropped after the call's report to save memory): the
    rows must still show the verdict, its evidence and its change against the baseline."""
    today = edited(
        last_month, pytester.path / "today.json", {("_dmarc.exemplary-dept.gov.uk", "TXT"): RETIRED}
    )
    pytester.runpytest(
        f"--govmail-replay={today}", f"--govmail-baseline={LAST_MONTH_FILE}",
        "--html=ph/report.html", *DMARC,
    )  # fmt: skip
    tests = _pytest_html_tests(pytester.path / "ph" / "report.html")
    assert len(tests) == 16  # 8 DMARC requirements, 2 domains
    for nodeid, rows in tests.items():
        (row,) = rows
        requirement = nodeid.split("[", 1)[1].split("/", 1)[0]
        assert f"<div class='govmail-evidence'><p><b>{requirement}</b>" in row["log"], nodeid
        assert "<b>Against the baseline</b>" in row["log"], nodeid
        # The change once, not again among the details.
        assert row["log"].count("against the baseline") == 0, nodeid
        # A column of its own, sortable: "new failure" rows can be found at once.
        assert row["change"] in {"new failure", "still failing", "unchanged"}
        assert row["resultsTableRow"][1] == f'<td class="col-change">{row["change"]}</td>'
    new = [n for n, (row,) in tests.items() if row["change"] == "new failure"]
    assert new == ["test_dmarc.py::test_dmarc[DMARC-09/exemplary-dept.gov.uk]"]
    (row,) = tests[new[0]]
    assert "new failure (was pass)" in row["log"]
    assert html_lib.escape("rua=mailto:dmarc-rua@dmarc.service.gov.uk") in row["log"]
    header = (pytester.path / "ph" / "report.html").read_text("utf-8")
    assert '<th class="sortable" data-column-type="change">Change</th>' in header


def test_pytest_htmls_rows_carry_the_evidence_without_a_baseline(
    pytester: pytest.Pytester,
) -> None:
    pytester.runpytest(f"--govmail-replay={LAST_MONTH_FILE}", "--html=ph/report.html", *DMARC)
    tests = _pytest_html_tests(pytester.path / "ph" / "report.html")
    assert len(tests) == 16
    assert all("<div class='govmail-evidence'>" in row["log"] for (row,) in tests.values())
    assert not any("Against the baseline" in row["log"] for (row,) in tests.values())
    assert all("change" not in row for (row,) in tests.values())
