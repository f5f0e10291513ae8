"""govmail-sweep: collect once, judge in batches, merge; the same verdicts as one pytest process.

The end-to-end test runs the real command against the demo lab and compares its JUnit and HTML
report and its summary line with a one-process replay of the sweep's own evidence, test by test;
another does the same against a baseline (each test's change, the changes the page and the
terminal lead with, the exit code under --govmail-fail-on any and new).
The parts (argument split, batch evidence, report-data merge, JUnit merge) are tested with plain
data, and the routing of options and a batch's counts against the plugin and pytest themselves.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from report_reader import report_tests

from pytest_govmail.engine.batches import evidence_of
from pytest_govmail.engine.run import GovmailRun
from pytest_govmail.engine.settings import Settings
from pytest_govmail.lab.demo import DEMO_ATTESTATIONS, DEMO_WAIVERS, DemoLab, start_demo_lab
from pytest_govmail.model import evidence as evidence_file
from pytest_govmail.model.dns import DnsResult, DnsSnapshot, Query
from pytest_govmail.model.dnssec import DnssecChain, Security
from pytest_govmail.model.target import Target
from pytest_govmail.plugin import suites_dir
from pytest_govmail.reports import data as report_data
from pytest_govmail.reports import junit_merge as junit
from pytest_govmail.reports.table import ReportTable
from pytest_govmail.sweep.arguments import REFUSED, judge_args, parser, plugin_options, refused
from pytest_govmail.sweep.batches import batch_command, batches_of, collect_command
from pytest_govmail.sweep.cli import main as sweep_main
from pytest_govmail.sweep.merge import OUTCOME_WORDS, combined_exit_code, describe

#: Evidence of the demo lab as release 0.1.0 wrote it (see test_release_replay.py).
RELEASE_EVIDENCE = Path(__file__).parent / "data" / "release-0.1.0-demo-evidence.json"
#: The demo's departments but the two that only time out (they add seconds, not outcomes).
DOMAINS = (
    "exemplary-dept.gov.uk,bare-dept.gov.uk,monitoring-dept.gov.uk,sprawling-spf-dept.gov.uk,"
    "dormant-dept.gov.uk,half-parked-dept.gov.uk,aliased-mx-dept.gov.uk,broken-dns-dept.gov.uk,"
    "hostile-dept.gov.uk,legacy-tls-dept.gov.uk,expired-cert-dept.gov.uk,plaintext-dept.gov.uk,"
    "throttled-dept.gov.uk,museum-dept.gov.uk"
)


@pytest.mark.parametrize(
    ("args", "kept"),
    [
        (["--govmail-domain", "a.gov.uk", "-q"], ["-q"]),
        (["--govmail-domain=a.gov.uk", "-m", "must"], ["-m", "must"]),
        (["--govmail-domains-file", "d.csv", "--govmail-nameserver=127.0.0.1:53"], []),
        (["--govmail-demo", "--govmail-allow-private", "-k", "dmarc"], ["-k", "dmarc"]),
        (["--govmail-waivers=w.toml", "--govmail-timeout", "2"], ["--govmail-waivers=w.toml"]),
        (
            ["--govmail-dkim-selector", "s1", "--govmail-shard=1/4"],
            ["--govmail-dkim-selector", "s1"],
        ),
        (["--govmail-eml", "m.eml", "--tb=line"], ["--tb=line"]),
    ],
)
def test_batches_get_every_argument_but_the_collecting_ones(
    args: list[str], kept: list[str]
) -> None:
    assert judge_args(args) == kept


def test_every_govmail_option_is_classified_and_collecting_ones_reach_only_the_collecting_step(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """Every ``--govmail-*`` option pytest offers is the sweep's own, refused, or routed.

    The options are read from pytest's own help, so an option declared anywhere is checked;
    the collecting ones (declared with ``collects=True``) go to the collecting step and to no
    batch, every other pytest option to both.
    """
    help_text = pytester.runpytest("--help").stdout.str()
    offered = dict(re.findall(r"^  (--govmail-[\w-]+)(=\S+)?", help_text, re.MULTILINE))
    known = plugin_options()
    assert set(offered) == known.declared
    assert {"--govmail-domain", "--govmail-demo"} <= known.collecting
    assert {f for f in offered if not offered[f]} & known.collecting == known.collecting_flags
    (batch,) = batches_of(tmp_path, [1])
    routes: dict[str, set[str]] = {}
    for flag, value in offered.items():
        forms = [[flag, "VALUE"], [f"{flag}=VALUE"]] if value else [[flag]]
        for args in forms:
            if flag in REFUSED:
                said = refused(args)
                assert said is not None and said.startswith(flag)
                routes.setdefault("refused", set()).add(flag)
                continue
            _, pytest_args = parser().parse_known_args(args)
            if not pytest_args:
                routes.setdefault("the sweep's own", set()).add(flag)
                continue
            assert pytest_args == args
            collecting = " ".join(collect_command(pytest_args, tmp_path / "e.json"))
            judging = " ".join(batch_command(pytest_args, batch))
            assert " ".join(args) in collecting
            if flag in known.collecting:
                assert flag not in judging and "VALUE" not in judging
                routes.setdefault("collecting step only", set()).add(flag)
            else:
                assert " ".join(args) in judging
                routes.setdefault("every step", set()).add(flag)
    assert sum(map(len, routes.values())) == len(offered)  # each in one route, in every form
    assert routes["the sweep's own"] == {
        "--govmail-report-dir", "--govmail-no-reports", "--govmail-evidence-out",
        "--govmail-replay", "--govmail-baseline",  # each batch gets its part of the baseline
        # read once (by the collecting step, or when cutting a replay): each batch gets its part
        "--govmail-dmarc-reports", "--govmail-tlsrpt-reports", "--govmail-report-window",
    }  # fmt: skip
    assert routes["collecting step only"] == known.collecting


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["-q"], None),
        (["--govmail-evidence-only"], "--govmail-evidence-only: the sweep's first step"),
        (["-n", "2"], "-n: the sweep runs its own processes"),
        (["-n4"], "-n4: the sweep runs its own processes"),
        (["--html=r.html"], "--html=r.html: pytest-html's page"),
        (["--numprocesses=auto"], "--numprocesses=auto: the sweep runs"),
    ],
)
def test_options_a_sweep_cannot_honour_are_refused(args: list[str], problem: str | None) -> None:
    said = refused(args)
    assert (said is None) if problem is None else (said is not None and said.startswith(problem))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--govmail-replay=e.json", "--govmail-domain=a.gov.uk"], "it collects nothing"),
        (["--govmail-replay=e.json", "--govmail-evidence-out=o.json"], "a replay's evidence"),
        (["--batch=0", "--govmail-demo"], "--batch and --jobs must be at least 1"),
        (["--govmail-demo", "--govmail-fail-on=new"], "--govmail-fail-on new needs --govmail-b"),
        (["--govmail-demo", "--govmail-fail-on", "new"], "--govmail-fail-on new needs"),
        (["--govmail-demo", "--govmail-baseline=/nonexistent.json"], "not a regular file"),
        (["--govmail-demo", "--govmail-report-window=0"], "0 is not 1 to 3650 days"),
        (["--govmail-demo", "--govmail-report-window", "soon"], "soon is not 1 to 3650 days"),
    ],
)
def test_a_sweep_refuses_contradictions(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        sweep_main(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_batchs_report_data_counts_what_its_summary_line_says(pytester: pytest.Pytester) -> None:
    """The counts a sweep adds up are those pytest's own summary line shows, outcome for outcome."""
    pytester.makepyfile(
        test_own="import pytest\n"
        "def test_pass(): pass\n"
        "def test_fail(): assert 0\n"
        "@pytest.mark.skip(reason='why')\n"
        "def test_skip(): pass\n"
        "@pytest.mark.xfail(reason='known')\n"
        "def test_xfail(): assert 0\n"
        "@pytest.mark.xfail(reason='fixed', strict=False)\n"
        "def test_xpass(): pass\n"
        "@pytest.fixture\n"
        "def broken(): raise RuntimeError('x')\n"
        "def test_error(broken): pass\n"
        "def test_teardown_error(request):\n"
        "    request.addfinalizer(lambda: 1 / 0)\n"  # passed, and an error: pytest counts both
        "def test_left_out(): pass\n"
    )
    # In a process of its own, as a batch is (an inline run would re-import cryptography).
    result = pytester.runpytest_subprocess(
        str(suites_dir()), "test_own.py", f"--govmail-replay={RELEASE_EVIDENCE}",
        "--govmail-report-data=data.json", "--govmail-no-reports", "-p", "no:cacheprovider",
        "-k", "exemplary-dept or test_own and not left_out",
    )  # fmt: skip
    said = result.parseoutcomes()  # pytest's own reading of its summary line: "errors"
    expected = {word.removesuffix("s") if word == "errors" else word: n for word, n in said.items()}
    data = report_data.read(pytester.path / "data.json")
    assert {w: n for w, n in data.outcomes.items() if w in OUTCOME_WORDS} == expected
    assert set(expected) == set(OUTCOME_WORDS)  # every outcome the sweep adds up, seen once
    assert data.outcomes["passed"] > 2 and data.outcomes["deselected"] > 100  # the suites' too


def test_counts_are_worded_as_pytest_words_them() -> None:
    assert describe({"error": 2, "passed": 3, "failed": 1}) == "1 failed, 3 passed, 2 errors"
    assert describe({"error": 1}) == "1 error"


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ([0, 0], 0),
        ([0, 1], 1),
        ([1, 2], 2),
        ([5, 5], 5),
        ([5, 0], 0),
        ([1, 4], 4),
        ([], 0),
        ([1, -9], 3),
    ],
)
def test_the_sweeps_exit_code_is_the_gravest_batchs(codes: list[int], expected: int) -> None:
    assert combined_exit_code(codes) == expected


def _answer(name: str, rdtype: str, *records: str) -> DnsResult:
    return DnsResult(
        name=name, rdtype=rdtype, rcode="NOERROR", records=records, ttl=300,
        resolver="127.0.0.1", elapsed_ms=1.0, at="2026-11-29T00:00:00+00:00",
    )  # fmt: skip


def test_a_batch_holds_its_domains_answers_and_their_shared_providers() -> None:
    dns = DnsSnapshot(
        [
            _answer("a.gov.uk", "MX", "10 mx.provider.example."),
            _answer("a.gov.uk", "TXT", '"v=spf1 include:spf.provider.example -all"'),
            _answer("spf.provider.example", "TXT", '"v=spf1 ip4:192.0.2.0/24 -all"'),
            _answer("mx.provider.example", "A", "192.0.2.25"),
            _answer("b.gov.uk", "MX", "10 mx.b.gov.uk."),
            _answer("b.gov.uk", "TXT", '"v=spf1 -all"'),
            _answer("mx.b.gov.uk", "A", "192.0.2.26"),
        ]
    )
    targets = (Target("a.gov.uk"), Target("b.gov.uk"))
    saved = evidence_file.Evidence(targets=targets, dns=dns, inputs={"waivers": ("w", "")})
    run = GovmailRun(targets, Settings(), replay=saved)
    run.inputs = dict(saved.inputs)
    part = evidence_of(run, targets[:1])
    names = {(r.name, r.rdtype) for r in part.dns}
    assert {
        ("a.gov.uk", "MX"),
        ("a.gov.uk", "TXT"),
        ("spf.provider.example", "TXT"),
        ("mx.provider.example", "A"),
    } <= names
    assert not any(name.endswith("b.gov.uk") for name, _ in names)
    assert part.targets == targets[:1]
    assert part.inputs == saved.inputs


def test_a_batch_holds_the_dnssec_validations_of_its_domains_alone() -> None:
    """A batch file carries the DNSSEC chains a live run of its domains would have made (their
    MX and DMARC answers), not every domain's: a sweep's batches stay the size of a batch."""
    dns = DnsSnapshot(
        [_answer("a.gov.uk", "MX", "10 mx.a.gov.uk."), _answer("b.gov.uk", "MX", "10 mx.b.gov.uk.")]
    )
    targets = (Target("a.gov.uk"), Target("b.gov.uk"))
    asked = [Query.of(d, "MX") for d in ("a.gov.uk", "b.gov.uk")]
    asked += [Query.of(f"_dmarc.{d}", "TXT") for d in ("a.gov.uk", "b.gov.uk")]
    chains = {q: DnssecChain(q.name, q.rdtype, Security.SECURE, "", ".") for q in asked}
    saved = evidence_file.Evidence(targets=targets, dns=dns, dnssec=chains)
    run = GovmailRun(targets, Settings(), replay=saved)
    part = evidence_of(run, targets[:1])
    assert set(part.dnssec) == {Query.of("a.gov.uk", "MX"), Query.of("_dmarc.a.gov.uk", "TXT")}
    assert all(part.dnssec[q] is chains[q] for q in part.dnssec)


def _table(rows: list[tuple[dict[str, Any], str]]) -> ReportTable:
    table = ReportTable()
    for data, outcome in rows:
        table.add(data, outcome)
    return table


def _row(domain: str, req: str, status: str, evidence: list[str]) -> dict[str, Any]:
    return {
        "domain": domain, "requirement": req, "title": f"{req} title", "level": "must",
        "area": req.split("-")[0].lower(), "sources": ["RFC 7489"], "status": status,
        "summary": f"{domain} {status}", "evidence": evidence,
        "findings": [{"code": "c", "observed": "o <script>", "expected": "e", "remediation": None}]
        if status == "fail" else [],
        "details": [("title", "text")], "host": "mx.provider.example", "waiver": "",
    }  # fmt: skip


def _decoded(table: ReportTable) -> list[tuple[Any, ...]]:
    out = []
    for row in table.iter_rows():
        info = table.requirements[row[1]]
        out.append(
            (
                table.strings[row[0]], info, table.strings[row[2]], row[3], row[4],
                table.strings[row[5]],
                *([table.strings[i] for i in table.lists[row[k]]] for k in (6, 7, 8)),
                table.strings[row[9]],
            )
        )  # fmt: skip
    return out


def test_report_tables_merge_as_if_one_process_had_filled_them() -> None:
    first = [
        (_row("a.gov.uk", "DMARC-01", "pass", ["_dmarc.a.gov.uk/TXT"]), "passed"),
        (_row("a.gov.uk", "SPF-01", "fail", ["shared line"]), "failed"),
    ]
    second = [
        (_row("b.gov.uk", "SPF-01", "fail", ["shared line"]), "failed"),
        (_row("b.gov.uk", "MX-01", "inconclusive", ["mx.b/A"]), "error"),
    ]
    merged = ReportTable.from_json(_table(first).to_json())
    merged.extend(ReportTable.from_json(_table(second).to_json()))
    whole = _table(first + second)
    assert _decoded(merged) == _decoded(whole)
    assert len(merged.strings) == len(whole.strings)  # shared texts are still stored once
    assert merged.totals() == whole.totals()


def test_report_data_of_another_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text('{"format": 999}')
    with pytest.raises(ValueError, match="not report data of this pytest-govmail version"):
        report_data.read(path)


def _write_junit(pytester: pytest.Pytester, name: str, body: str) -> Path:
    pytester.makepyfile(**{f"test_{name}": body})
    xml = pytester.path / f"{name}.xml"
    pytester.runpytest(f"test_{name}.py", f"--junitxml={xml}", "-p", "no:cacheprovider")
    return xml


def test_junit_files_merge_into_one_suite(pytester: pytest.Pytester) -> None:
    one = _write_junit(
        pytester, "one",
        "import pytest\ndef test_a(): pass\ndef test_b(): assert 0, '<&>'\n"
        "@pytest.mark.skip(reason='why')\ndef test_c(): pass\n"
        "def test_p(record_testsuite_property): record_testsuite_property('sweep', 'one')\n",
    )  # fmt: skip
    two = _write_junit(
        pytester, "two",
        "import pytest\n@pytest.fixture\ndef broken(): raise RuntimeError('x')\n"
        "def test_d(broken): pass\ndef test_e(request):\n"
        "    request.node.user_properties.append(('govmail.domain', 'b.gov.uk'))\n"
        "def test_q(record_testsuite_property): record_testsuite_property('sweep', 'two')\n",
    )  # fmt: skip
    out = pytester.path / "merged" / "junit.xml"
    counts = junit.merge([one, two], out, seconds=1.5)
    assert counts == {"tests": 7, "errors": 1, "failures": 1, "skipped": 1}
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites"
    (suite,) = list(root)
    assert suite.attrib["tests"] == "7" and suite.attrib["time"] == "1.500"
    # The suite's own properties once, from the first file.
    assert [p.attrib["value"] for p in suite.findall("properties/property")] == ["one"]
    cases = suite.findall("testcase")
    assert [c.attrib["name"] for c in cases] == [
        "test_a", "test_b", "test_c", "test_p", "test_d", "test_e", "test_q"
    ]  # fmt: skip
    failure = cases[1].find("failure")
    assert failure is not None and "<&>" in (failure.attrib["message"] + (failure.text or ""))
    assert cases[5].find("properties/property").attrib["value"] == "b.gov.uk"  # type: ignore[union-attr]


# ------------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def lab() -> Iterator[DemoLab]:
    running = start_demo_lab()
    yield running
    running.stop()


def _testcases(path: Path) -> list[str]:
    """Every test case as text, time stripped, in a stable order (batches run domain-wise)."""
    cases = []
    for case in ET.parse(path).getroot().iter("testcase"):
        case.attrib.pop("time", None)
        cases.append(ET.tostring(case, encoding="unicode"))
    return sorted(cases)


def _page_head(path: Path) -> str:
    """The server-side HTML (matrix and all), without the data block and the timestamp."""
    text = path.read_text("utf-8")
    return re.sub(
        r"\d{4}-\d\d-\d\dT[\d:+]+", "TIME", text.split("<script type='application/json'")[0]
    )


def test_a_sweep_reports_what_one_process_reports(lab: DemoLab, tmp_path: Path) -> None:
    evidence = tmp_path / "evidence.json"
    sweep = subprocess.run(
        [
            sys.executable, "-m", "pytest_govmail.sweep", "--batch=4", "--jobs=2",
            f"--work={tmp_path / 'work'}", "--govmail-report-dir=swept",
            f"--govmail-evidence-out={evidence}", *lab.cli_args(), f"--govmail-domain={DOMAINS}",
            f"--govmail-waivers={DEMO_WAIVERS}", "--govmail-waiver-horizon=36500",
            f"--govmail-attestations={DEMO_ATTESTATIONS}",
            "-q", "-p", "no:randomly",
        ],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    once = subprocess.run(
        [sys.executable, "-m", "pytest", f"--govmail-replay={evidence}",
         "--govmail-report-dir=once", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert once.returncode == sweep.returncode == 1, sweep.stdout[-3000:] + sweep.stderr
    # The collecting step runs no test by design: pytest's "no tests ran" would alarm.
    assert "no tests ran" not in sweep.stdout
    assert "govmail: evidence of 14 domain(s) written to" in sweep.stdout
    # 14 domains in batches of 4: four pytest processes, their outputs shown in order.
    assert re.findall(r"govmail-sweep: batch (\d)/4", sweep.stdout) == ["1", "2", "3", "4"]
    expected = once.stdout.strip().splitlines()[-1].split(" in ")[0]
    assert {"failed", "passed", "errors", "skipped", "xfailed"} <= set(
        re.findall(r"\d+ (\w+)", expected)
    )  # every kind of outcome, the waiver's xfail included
    assert f"govmail-sweep: {expected} in " in sweep.stdout
    assert _testcases(tmp_path / "swept" / "junit.xml") == _testcases(
        tmp_path / "once" / "junit.xml"
    )
    suites = [ET.parse(tmp_path / d / "junit.xml").getroot()[0].attrib for d in ("swept", "once")]
    for count in ("tests", "errors", "failures", "skipped"):
        assert suites[0][count] == suites[1][count]
    swept, one = (tmp_path / d / "govmail.html" for d in ("swept", "once"))
    assert sorted(map(repr, report_tests(swept))) == sorted(map(repr, report_tests(one)))
    assert _page_head(swept) == _page_head(one)
    # The saved evidence swept again, one batch at a time: the same tests and outcomes.
    again = subprocess.run(
        [sys.executable, "-m", "pytest_govmail.sweep", "--batch=5", "--jobs=1",
         f"--govmail-replay={evidence}", "--junitxml=again.xml", "-q", "-p", "no:randomly"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert again.returncode == 1 and f"govmail-sweep: {expected} in " in again.stdout
    assert _testcases(tmp_path / "again.xml") == _testcases(tmp_path / "once" / "junit.xml")
    # A batch that dies (here by SIGKILL, as the OOM killer would) is named, never silent.
    (tmp_path / "crashy.py").write_text(
        "import os, signal, sys\n"
        "if any('batch-2.json' in arg for arg in sys.argv):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    crashed = subprocess.run(
        [sys.executable, "-m", "pytest_govmail.sweep", "--batch=5", "--jobs=2",
         f"--govmail-replay={evidence}", "--govmail-report-dir=crashed", "-q", "-p", "crashy"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert crashed.returncode == 3, crashed.stdout[-2000:] + crashed.stderr
    assert "batch 2/3 (5 domains) killed by signal 9" in crashed.stdout
    assert "batch 2 (5 domains) ended without its results" in crashed.stdout
    page = (tmp_path / "crashed" / "govmail.html").read_text("utf-8")
    assert "its domains are missing from this report" in page
    assert len(_testcases(tmp_path / "crashed" / "junit.xml")) < len(
        _testcases(tmp_path / "once" / "junit.xml")
    )
    # The batches' evidence files hold their own domains only, and together all of them.
    batches = [evidence_file.read(p) for p in sorted((tmp_path / "work").glob("batch-*.json"))]
    domains = [t.domain for b in batches for t in b.targets]
    assert sorted(domains) == sorted(DOMAINS.split(","))
    assert all(len(b.targets) <= 4 for b in batches)


REPORTED = "exemplary-dept.gov.uk,monitoring-dept.gov.uk,expired-cert-dept.gov.uk,bare-dept.gov.uk"


def _report_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("govmail: reports:")]


def test_report_files_are_read_once_and_each_batch_judges_its_domains_part(
    lab: DemoLab, tmp_path: Path
) -> None:
    """DMARC and TLS-RPT reports are read by the collecting step (or, replaying, when the
    evidence is cut), once, and said once; each batch judges its domains by what the reports
    said of them, as one process judges them all."""
    assert lab.reports is not None
    reports = [
        f"--govmail-dmarc-reports={lab.reports / 'dmarc'}",
        f"--govmail-tlsrpt-reports={lab.reports / 'tlsrpt'}",
    ]
    evidence = tmp_path / "evidence.json"
    base = ["-q", "-p", "no:randomly", "-p", "no:cacheprovider"]
    sweep = subprocess.run(
        [sys.executable, "-m", "pytest_govmail.sweep", "--batch=2", "--jobs=2",
         f"--work={tmp_path / 'work'}", "--govmail-report-dir=swept",
         f"--govmail-evidence-out={evidence}", *lab.cli_args(), f"--govmail-domain={REPORTED}",
         *reports, *base],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    once = subprocess.run(
        [sys.executable, "-m", "pytest", f"--govmail-replay={evidence}", *reports,
         "--govmail-report-dir=once", *base],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert once.returncode == sweep.returncode == 1, sweep.stdout[-3000:] + sweep.stderr
    said = _report_lines(sweep.stdout)
    assert said == _report_lines(once.stdout)
    assert len(said) == 1 and "0 refused" in said[0]
    cases = _testcases(tmp_path / "once" / "junit.xml")
    assert _testcases(tmp_path / "swept" / "junit.xml") == cases
    assert sum("REPORTS-01/exemplary-dept.gov.uk" in c for c in cases) == 1
    # Each batch's evidence holds what the reports said of its own domains only.
    work = tmp_path / "work"
    for part in sorted(work.glob("batch-*.json")):
        batch = evidence_file.read(part)
        assert batch.feedback is not None
        assert set(batch.feedback.domains) <= {t.domain for t in batch.targets}
    assert not any("govmail: reports:" in log.read_text() for log in work.glob("batch-*.log"))
    # Replaying, the sweep reads the files itself while it cuts the evidence: the same again.
    bare = evidence_file.read(evidence)
    evidence_file.write(replace(bare, feedback=None), tmp_path / "bare.json")
    again = subprocess.run(
        [sys.executable, "-m", "pytest_govmail.sweep", "--batch=3", "--jobs=1",
         f"--govmail-replay={tmp_path / 'bare.json'}", "--junitxml=again.xml", *reports, *base],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert again.returncode == 1, again.stdout[-3000:] + again.stderr
    assert _report_lines(again.stdout) == said
    assert _testcases(tmp_path / "again.xml") == cases
    # A report file from a stranger, with a terminal escape and a bidi override in its name:
    # refused and named once, as the sweep says it, inert.
    hostile = tmp_path / "stranger"
    hostile.mkdir()
    (hostile / "report\x1b[31m\u202e.xml").write_bytes(b"<feedback>\x1b[2J not a report")
    refused = subprocess.run(
        [sys.executable, "-m", "pytest_govmail.sweep", "--batch=3", "--jobs=1",
         f"--govmail-replay={tmp_path / 'bare.json'}", "--govmail-no-reports",
         f"--govmail-dmarc-reports={hostile}", *base],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    named = [line for line in refused.stdout.splitlines() if "report refused:" in line]
    assert len(named) == 1 and "report\\x1b[31m\\u202e.xml" in named[0], refused.stdout[-2000:]
    assert "\x1b" not in refused.stdout and "\u202e" not in refused.stdout


def test_evidence_only_collects_and_runs_no_test(lab: DemoLab, pytester: pytest.Pytester) -> None:
    # In a process of its own, as the sweep's first step is: an inline run after another test
    # ran pytest.main() in this process warns that pytest_govmail was imported unrewritten.
    result = pytester.runpytest_subprocess(
        *lab.cli_args(), "--govmail-domain=exemplary-dept.gov.uk", "--govmail-evidence-only",
        "--govmail-evidence-out=ev.json", "-p", "no:cacheprovider",
    )  # fmt: skip
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["govmail: evidence of 1 domain(s) written to ev.json: *", "*no tests ran*"]
    )
    saved = evidence_file.read(pytester.path / "ev.json")
    assert saved.tls and saved.policies and len(saved.dns) > 10  # every area, TLS and HTTPS too
    assert not (pytester.path / "reports").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--govmail-evidence-only", "--govmail-domain=a.gov.uk"],
            "*needs --govmail-evidence-out*",
        ),
        (["--govmail-evidence-only"], "*--govmail-evidence-only: no domains to assess*"),
        (
            [
                "--govmail-evidence-only",
                "--govmail-domain=a.gov.uk",
                "--govmail-evidence-out=e",
                "-p",
                "xdist",
                "-n",
                "2",
            ],
            "*collects in one process*drop -n",
        ),
    ],
)
def test_evidence_only_says_what_it_lacks(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    result = pytester.runpytest(*args, "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


# ------------------------------------------------------------------- against a baseline


def _changes_block(stdout: str) -> list[str]:
    """The changes the run's end leads with: the heading's last occurrence (a sweep's batches
    print their own before it) and the ``govmail:`` lines under it (one process goes on with
    a heading of its own, or the line saying where its report went)."""
    lines = stdout.splitlines()
    starts = [i for i, line in enumerate(lines) if " govmail changes against the baseline " in line]
    assert starts, stdout[-3000:]
    block = [lines[starts[-1]]]
    for line in lines[starts[-1] + 1 :]:
        if not line.startswith("govmail: ") or line.startswith("govmail: report written"):
            break
        block.append(line)
    return block


def test_a_sweep_against_a_baseline_says_what_one_process_says(tmp_path: Path) -> None:
    """The comparison above, under --govmail-baseline: every test's change, the page's leading
    changes section and the terminal's, and the exit code under --govmail-fail-on any and new.

    Today is the demo's last month with edits a department would make: exemplary-dept sends its
    aggregate reports only to NCSC Mail Check's retired service (a new DMARC-09 failure) and
    bare-dept takes up the SPF include sprawling-spf-dept uses (a record the baseline holds
    only for another domain, in another batch: its part of the baseline must hold that answer
    too), and two domains are no longer assessed.
    """
    from pytest_govmail.lab.last_month import LAST_MONTH_FILE

    last_month = evidence_file.read(LAST_MONTH_FILE)
    edits = {
        ("_dmarc.exemplary-dept.gov.uk", "TXT"): _answer(
            "_dmarc.exemplary-dept.gov.uk", "TXT",
            '"v=DMARC1; p=none; rua=mailto:dmarc-rua@dmarc.service.gov.uk"',
        ),
        ("bare-dept.gov.uk", "TXT"): _answer(
            "bare-dept.gov.uk", "TXT", '"v=spf1 include:spf.sharedmail.example -all"'
        ),
    }  # fmt: skip
    kept = tuple(
        t
        for t in last_month.targets
        if t.domain not in {"silent-mx-dept.gov.uk", "wrong-name-dept.gov.uk"}
    )
    from dataclasses import replace

    today = tmp_path / "today.json"
    evidence_file.write(
        replace(
            last_month,
            targets=kept,
            dns=DnsSnapshot(edits.get((r.name, r.rdtype), r) for r in last_month.dns),
        ),
        today,
    )
    baseline = f"--govmail-baseline={LAST_MONTH_FILE}"
    common = ["-q", "-p", "no:randomly", "-p", "no:cacheprovider"]

    def once(name: str, replay: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest", f"--govmail-replay={replay}", baseline,
             f"--govmail-report-dir={name}", *args, *common],
            cwd=tmp_path, capture_output=True, text=True, check=False,
        )  # fmt: skip

    def sweep(name: str, replay: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest_govmail.sweep", "--batch=4", "--jobs=2",
             f"--work={tmp_path / name}-work", f"--govmail-replay={replay}", baseline,
             f"--govmail-report-dir={name}", *args, *common],
            cwd=tmp_path, capture_output=True, text=True, check=False,
        )  # fmt: skip

    one, swept = (
        once("once", today, "--govmail-fail-on=new"),
        sweep("swept", today, "--govmail-fail-on=new"),
    )
    assert one.returncode == swept.returncode == 1, swept.stdout[-3000:] + swept.stderr
    block = _changes_block(one.stdout)
    assert (
        block[1].startswith("govmail: changes against the baseline (")
        and "new failure: " in block[1]
    )
    assert any("silent-mx-dept.gov.uk, wrong-name-dept.gov.uk" in line for line in block)
    assert block[-1].endswith("got worse than the baseline: exit status 1")
    assert _changes_block(swept.stdout) == block
    # The sweep's own lines come last, after the changes: they lead its end as one process's.
    tail = swept.stdout[swept.stdout.rindex(block[0]) :]
    assert "govmail-sweep: batch" not in tail and "report written to" in tail
    # Each test's change, in JUnit and in the page's details (records then and now).
    assert _testcases(tmp_path / "swept" / "junit.xml") == _testcases(
        tmp_path / "once" / "junit.xml"
    )
    pages = [tmp_path / d / "govmail.html" for d in ("swept", "once")]
    assert sorted(map(repr, report_tests(pages[0]))) == sorted(map(repr, report_tests(pages[1])))
    heads = [_page_head(p) for p in pages]
    assert heads[0] == heads[1] and "<section id='gm-changes'>" in heads[0]
    assert heads[0].index("<section id='gm-changes'>") < heads[0].index("<p class='gm-totals'>")
    # Each batch was given its own domains' part of the baseline, not the whole file.
    work = tmp_path / "swept-work"
    parts = [evidence_file.read(work / f"baseline-{n}.json") for n in range(1, 7)]
    for number, part in enumerate(parts, start=1):
        batch = evidence_file.read(work / f"batch-{number}.json")
        assert {t.domain for t in part.targets} == {t.domain for t in batch.targets}
    # bare-dept (batch 1) rests on this answer today; last month only sprawling-spf-dept did.
    assert parts[0].dns.get("spf.sharedmail.example", "TXT") is not None
    # --govmail-fail-on any: the same failures fail both.
    selected = ["-m", "dmarc or spf"]
    one = once("once-any", today, *selected)
    swept = sweep("swept-any", today, *selected)
    assert one.returncode == swept.returncode == 1
    assert _changes_block(swept.stdout) == _changes_block(one.stdout)
    # Nothing worse than the baseline: old failures only, and both let the run pass.
    one = once("once-same", LAST_MONTH_FILE, "--govmail-fail-on=new", *selected)
    swept = sweep("swept-same", LAST_MONTH_FILE, "--govmail-fail-on=new", *selected)
    assert one.returncode == swept.returncode == 0, swept.stdout[-3000:]
    block = _changes_block(one.stdout)
    assert "no test got worse than the baseline; the" in block[-1]
    assert _changes_block(swept.stdout) == block


def test_a_batchs_changes_add_up_as_one_tally() -> None:
    """Tallies cut anyhow and added up list the same tests, in the same order, as one tally
    of all of them: the first MAX_LISTED by domain, host and requirement, whatever the order
    the tests ran in."""
    import random

    from pytest_govmail.model.change import Change
    from pytest_govmail.reports.changes import MAX_LISTED, ChangeTally

    def data(i: int, kind: str) -> dict[str, Any]:
        return {
            "requirement": f"DMARC-{i % 9:02}", "domain": f"d{i % 37:03}.gov.uk",
            "host": f"mx{i % 2}.example" if i % 3 else None, "status": "fail", "summary": f"s{i}",
            "change": {"kind": kind, "was": "pass",
                       "records": [[f"k{i}", "a", "b"]] if i % 4 else []},
        }  # fmt: skip

    tests = [
        (data(i, kind), i % 2 == 0)
        for i in range(400)
        for kind in ("new failure", "fixed", "unchanged")
    ]
    random.Random(7).shuffle(tests)
    whole = ChangeTally("b")
    for item, failed in tests:
        whole.add(item, failed)
    merged = ChangeTally("b")
    for start in range(0, len(tests), 137):
        part = ChangeTally("b")
        for item, failed in tests[start : start + 137]:
            part.add(item, failed)
        merged.extend(ChangeTally.from_json(part.to_json()))
    assert merged.to_json() == whole.to_json()
    shown = whole.shown(Change.NEW_FAILURE)
    assert len(shown) == MAX_LISTED and shown == sorted(shown, key=lambda t: t.order)


def test_report_data_of_the_format_before_is_read_as_a_run_with_no_baseline(
    tmp_path: Path,
) -> None:
    """A batch is ``python -m pytest``, which imports pytest-govmail from its working folder
    first: a sweep started in another release's checkout merges that release's files."""
    import json

    path = tmp_path / "data.json"
    report_data.write(report_data.ReportData(_table([])), path)
    older = json.loads(path.read_text())
    del older["changes"]
    older["format"] = 3
    path.write_text(json.dumps(older))
    assert report_data.read(path).changes is None
    older["format"] = report_data.FORMAT + 1
    path.write_text(json.dumps(older))
    with pytest.raises(ValueError, match="not report data of this pytest-govmail version"):
        report_data.read(path)


def test_a_batch_of_the_format_before_is_named_missing_from_the_changes(tmp_path: Path) -> None:
    """A batch whose pytest-govmail writes report data of the format before (no changes) is
    merged, and the sweep says its tests are missing from the changes rather than leave the
    counts short in silence."""
    from pytest_govmail.lab.last_month import LAST_MONTH_FILE

    (tmp_path / "older.py").write_text(
        "import json, sys\n"
        "from pytest_govmail.reports import data\n"
        "_write = data.write\n"
        "def write(report, path):\n"
        "    _write(report, path)\n"
        "    if any('batch-2.json' in arg for arg in sys.argv):\n"
        "        payload = json.loads(path.read_text())\n"
        "        payload['format'] = 3\n"
        "        del payload['changes']\n"
        "        path.write_text(json.dumps(payload))\n"
        "data.write = write\n"
    )
    swept = subprocess.run(
        [sys.executable, "-m", "pytest_govmail.sweep", "--batch=12", "--jobs=2",
         f"--govmail-replay={LAST_MONTH_FILE}", f"--govmail-baseline={LAST_MONTH_FILE}",
         "-m", "dmarc", "-q", "-p", "older", "-p", "no:randomly", "-p", "no:cacheprovider"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])},
    )  # fmt: skip
    assert swept.returncode == 1, swept.stdout[-3000:] + swept.stderr
    assert (
        "govmail-sweep: batch 2's report data carries no changes against the baseline (an "
        "older pytest-govmail wrote it): its tests are missing from the changes"
    ) in swept.stdout
    assert "batch 2 (11 domains) ended without its results" not in swept.stdout
    page = (tmp_path / "reports" / "govmail.html").read_text("utf-8")
    assert "<section id='gm-changes'>" in page and "wrong-name-dept.gov.uk" in page
