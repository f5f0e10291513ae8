"""Our HTML report with plain data: the compact table, the escaping, the page's parts."""

from __future__ import annotations

import ast
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from report_reader import DATA, report_data, report_tests

from pytest_govmail.engine.run import GovmailRun
from pytest_govmail.engine.settings import Settings
from pytest_govmail.inputs.catalogue import load_catalogue
from pytest_govmail.model.target import Target
from pytest_govmail.model.verdict import Status
from pytest_govmail.reports import page as report_html
from pytest_govmail.reports import status as statuses
from pytest_govmail.reports.headline import cite_text
from pytest_govmail.reports.page import render_page
from pytest_govmail.reports.page_output import asset, esc, json_for_script
from pytest_govmail.reports.status import STALE, WAIVED, Cell, worst
from pytest_govmail.reports.table import WIDTH, ReportTable

HOSTILE = [
    "</script><script>alert(1)</script>",
    "<!-- <script>",
    '" onload=alert(2) x="',
    "javascript:alert(document.cookie)",
    "&lt;b&gt; & <b>",
    "line\u2028separator\u2029",
    "lone \udcff surrogate",
    "back\\slash \\u003c",
]


def govmail_data(domain: str, requirement: str, status: str = "pass", **extra: Any) -> dict:
    catalogue = load_catalogue()
    req = catalogue[requirement]
    data = {
        "requirement": req.id,
        "title": req.title,
        "level": req.level.value,
        "area": req.area,
        "domain": domain,
        "host": None,
        "status": status,
        "summary": f"{req.id} {status} for {domain}",
        "evidence": [f'{domain} TXT, TTL 3600: "v=spf1 -all"'],
        "sources": list(req.sources),
    }
    data.update(extra)
    return data


def page(table: ReportTable, domains: list[str]) -> str:
    run = GovmailRun([Target(d) for d in domains], Settings(nameservers=("192.0.2.53",)))
    return "".join(render_page(table, run, load_catalogue(), {"SPF-01"}, []))


def test_repeated_strings_and_lists_are_stored_once() -> None:
    table = ReportTable()
    shared_tls = [f"TLS line {i}" for i in range(30)]
    for domain in ("a.gov.uk", "b.gov.uk"):
        for req in ("TLS-01", "TLS-02", "TLS-03"):
            table.add(
                govmail_data(domain, req, host="mx.provider.example", evidence=shared_tls),
                "passed",
            )
    assert len(table) == 6 and len(table.rows) == 6 * WIDTH
    assert table.strings.count("TLS line 7") == 1
    assert table.lists.count(tuple(table.string(s) for s in shared_tls)) == 1
    assert len(table.requirements) == 3


def test_json_for_script_cannot_close_the_element_and_round_trips() -> None:
    text = json_for_script(HOSTILE)
    assert not re.search(r"[<>&\u2028\u2029]", text)
    assert json.loads(text) == HOSTILE


def test_page_escapes_everything_and_reads_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report_html, "BATCH", 3)  # the data block written in several pieces
    table = ReportTable()
    domain = "<img src=x onerror=alert(3)>'.gov.uk"  # a domain name is escaped like the rest
    for n, payload in enumerate(HOSTILE):
        table.add(
            govmail_data(
                domain,
                "SPF-02",
                "fail",
                host=payload,
                summary=payload,
                findings=[
                    {"code": "x", "observed": payload, "expected": payload, "remediation": ""}
                ],
                evidence=[payload, f"line {n}"],
                details=[[payload, payload]],
                waiver=payload if n == 0 else None,
            ),
            "failed",
        )
    table.add(govmail_data("ok.gov.uk", "SPF-01"), "passed")
    html = page(table, [domain, "ok.gov.uk"])
    # Exactly our two script elements (the data and the code), and no markup from the data.
    assert html.count("<script") == 2 and html.count("</script") == 2
    markup = DATA.sub("", html)
    assert "<img" not in markup and "&lt;img src=x onerror=alert(3)&gt;&#x27;.gov.uk" in markup
    assert "<b>" not in html and "onload" not in markup
    tests = report_tests(html)
    hostile = [t for t in tests if t["domain"] == domain]
    assert sorted(t["summary"] for t in hostile) == sorted(HOSTILE)
    assert {t["findings"][0][1] for t in hostile} == set(HOSTILE)
    assert hostile[0]["sources"] and hostile[0]["outcome"] == "failed"
    assert [t["waiver"] for t in hostile if t["waiver"]] == [HOSTILE[0]]
    assert [t["status"] for t in tests if t["domain"] == "ok.gov.uk"] == ["pass"]


def test_matrix_worst_outcome_counts_and_waivers() -> None:
    table = ReportTable()
    table.add(govmail_data("a.gov.uk", "DMARC-01"), "passed")
    table.add(govmail_data("a.gov.uk", "DMARC-02", "fail"), "failed")  # a MUST
    table.add(govmail_data("b.gov.uk", "DMARC-03", "fail", waiver="accepted"), "xfailed")
    table.add(govmail_data("b.gov.uk", "SPF-01", "inconclusive"), "error")
    html = page(table, ["a.gov.uk", "b.gov.uk"])
    rows = re.findall(r"<div class='gm-row( bad)?' data-d=\d+ role=row>(.*)", html)
    by_domain = {re.sub(r"<[^>]*>", " ", cells).split()[0]: (bad, cells) for bad, cells in rows}
    bad_a, cells_a = by_domain["a.gov.uk"]
    must = "strongest failing level: MUST"
    assert bad_a and f"<i role=cell class=f title='1 fail, 1 pass; {must}'>F</i>" in cells_a
    bad_b, cells_b = by_domain["b.gov.uk"]
    assert "<i role=cell class=w title='1 fail (1 waived)'>W</i>" in cells_b
    assert "<i role=cell class=e title='1 error'>E</i>" in cells_b and bad_b  # needs attention
    assert "4 test(s): 2 fail (1 waived), 1 error, 1 pass" in html
    assert "not assessed in this run" in html  # only SPF-01 was "collected"


@pytest.mark.skipif(sys.platform == "win32", reason="memory figures are Linux's")
def test_a_row_costs_a_few_dozen_bytes() -> None:
    table = ReportTable()
    for i in range(2000):
        table.add(govmail_data(f"d{i}.gov.uk", "DMARC-01", evidence=["shared line"]), "passed")
    assert table.rows.itemsize * WIDTH <= 40
    # Per domain: its name and its own summary are new strings; the evidence list is shared.
    assert len(table.strings) < 2 * 2000 + 50 and len(table.lists) == 2


@pytest.mark.parametrize(
    ("counts", "waived", "expected"),
    [
        pytest.param({}, 0, "not_applicable", id="no-tests"),
        pytest.param({"not_applicable": 3}, 0, "not_applicable", id="all-n/a"),
        pytest.param({"pass": 2, "not_applicable": 1}, 0, "pass", id="pass-over-n/a"),
        pytest.param({"fail": 1, "pass": 5}, 0, "fail", id="fail"),
        pytest.param({"fail": 1, "pass": 5}, 1, "waived", id="only-failure-waived"),
        pytest.param({"fail": 2, "pass": 5}, 1, "fail", id="one-of-two-failures-waived"),
        pytest.param({"fail": 1, "inconclusive": 2}, 0, "fail", id="fail-over-error"),
        # The bug: our page read "W" here and hid the errors (the terminal and pytest-html
        # read "FAIL", knowing no waivers at all).
        pytest.param({"fail": 1, "inconclusive": 5}, 1, "inconclusive", id="error-over-waived"),
        pytest.param({"inconclusive": 1, "pass": 9}, 0, "inconclusive", id="error-over-pass"),
        pytest.param({"fail": 3, "not_applicable": 1}, 3, "waived", id="waived-over-n/a"),
        pytest.param({"mystery": 4}, 0, "not_applicable", id="unknown-status-ignored"),
    ],
)
def test_worst(counts: dict[str, int], waived: int, expected: str) -> None:
    assert worst(Counter(counts), waived) == expected
    cell = Cell()
    for status, n in counts.items():
        for i in range(n):
            cell.add(status, waived=i < waived)
    assert (cell.waived_failures, cell.worst) == (waived, expected)


def test_worst_refuses_more_waived_failures_than_failures() -> None:
    with pytest.raises(ValueError, match="2 waived failure"):
        worst({"fail": 1}, 2)
    cell = Cell()
    cell.add("inconclusive", waived=True)  # a waiver never covers an error
    assert (cell.waived_failures, cell.worst) == (0, "inconclusive")


def test_one_status_table_covers_every_verdict_status() -> None:
    assert set(statuses.WORST_FIRST) == {s.value for s in Status} | {WAIVED, STALE}
    assert statuses.STATUSES == ("fail", "inconclusive", "pass", "not_applicable")  # row codes
    assert statuses.OUTCOMES == ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
    assert statuses.WORST_FIRST == (
        *("fail", "inconclusive", "stale", "waived", "pass", "not_applicable"),
    )
    assert statuses.RANKED == statuses.WORST_FIRST
    for column in ("symbol", "css", "short", "label", "words"):
        values = [getattr(look, column) for look in statuses.LOOKS]
        assert len(set(values)) == len(values), f"two statuses share a {column}"
    assert max(len(look.symbol) for look in statuses.LOOKS) <= 7  # the terminal's column
    assert set(statuses.LABEL) == set(statuses.CLASS) == set(statuses.SHORT) == set(statuses.LOOK)


def test_the_page_script_ranks_statuses_as_worst_does() -> None:
    """The by-ID view is drawn by the page's script, which cannot call :func:`worst`."""
    found = re.search(r"var rank = \{([^}]*)\};", asset("report.js"))
    assert found is not None
    rank = {k.strip(): int(v) for k, v in (p.split(":") for p in found.group(1).split(","))}
    assert sorted(rank, key=rank.__getitem__) == list(statuses.WORST_FIRST)


RELEASE_EVIDENCE = Path(__file__).parent / "data" / "release-0.1.0-demo-evidence.json"


def test_every_report_reads_a_waived_area_alike(pytester: pytest.Pytester) -> None:
    """A replay of the demo with two waivers: one covers monitoring-dept's only attest failure,
    one covers hostile-dept's only DKIM failure among five DKIM errors. The terminal summary, our
    page and the pytest-html matrix must all read "waived" for the first and "error" for the
    second. Before there was one worst(), each read FAIL, W and fail: the terminal and
    pytest-html knew no waivers, and the page let a waiver hide the errors beside it."""
    pytester.path.joinpath("w.toml").write_text(
        "".join(
            f'[[waiver]]\nrequirement = "{req}"\ndomain = "{domain}"\n'
            'reason = "accepted"\nexpires = 2099-01-01\n'
            for req, domain in (
                ("ATTEST-01", "monitoring-dept.gov.uk"),
                ("DKIM-02", "hostile-dept.gov.uk"),
            )
        )
    )
    result = pytester.runpytest_subprocess(
        f"--govmail-replay={RELEASE_EVIDENCE}",
        "--govmail-waivers=w.toml",
        "--govmail-waiver-horizon=36500",  # waivers until 2099: past the default year
        "--html=ph.html",
        "-k",
        "monitoring or hostile",
        "-p",
        "no:cacheprovider",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    lines = result.stdout.lines
    head = lines.index(next(line for line in lines if "govmail summary" in line)) + 1
    areas = lines[head].split()
    summary = {
        line.split()[0]: dict(zip(areas, line.split()[1:], strict=True))
        for line in lines[head + 1 : head + 3]
    }
    assert summary["monitoring-dept.gov.uk"]["attest"] == "waived"
    assert summary["hostile-dept.gov.uk"]["dkim"] == "ERR"
    assert summary["monitoring-dept.gov.uk"]["dmarc"] == "FAIL"

    page_html = (pytester.path / "reports" / "govmail.html").read_text("utf-8")
    rows = dict(
        re.findall(r"<b role=rowheader tabindex=0 title='([^':]+):[^']*'>[^<]*</b>(.*)", page_html)
    )
    page_cells = {
        # each area's cell, then the issues count and the MUST verdict
        domain: dict(zip(areas, re.findall(r"<i role=cell class='?(\w)", row)[:-2], strict=True))
        for domain, row in rows.items()
    }
    assert page_cells["monitoring-dept.gov.uk"]["attest"] == "w"
    assert page_cells["hostile-dept.gov.uk"]["dkim"] == "e"

    matrix = (pytester.path / "ph.html").read_text("utf-8")
    matrix = matrix[matrix.index("<table class='govmail-matrix'>") :]
    matrix = matrix[: matrix.index("</table>")]
    html_cells = {
        domain: dict(zip(areas, re.findall(r"<td class='gm-([a-z_]+)'", row), strict=True))
        for domain, row in re.findall(r"<td class='domain'>([^<]+)</td>(.*?)</tr>", matrix)
    }
    assert html_cells["monitoring-dept.gov.uk"]["attest"] == "waived"
    assert html_cells["hostile-dept.gov.uk"]["dkim"] == "inconclusive"
    assert ".gm-waived{" in (pytester.path / "ph.html").read_text("utf-8")


def _imports(path: Path) -> set[str]:
    """The pytest_govmail modules a file imports (at any depth, TYPE_CHECKING ones too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(n for n in names if n.startswith("pytest_govmail."))
    return found


def test_reports_layers_have_no_cycles_and_nothing_below_imports_them() -> None:
    package = Path(report_html.__file__).parent.parent
    reports = {f"pytest_govmail.reports.{p.stem}": p for p in (package / "reports").glob("*.py")}
    graph = {name: {m for m in _imports(path) if m in reports} for name, path in reports.items()}
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"import cycle in reports/: {' -> '.join((*path, name))}"
        if name not in done:
            for module in graph[name]:
                visit(module, (*path, name))
            done.add(name)

    for name in graph:
        visit(name, ())
    for name, path in reports.items():
        assert len(path.read_text("utf-8").splitlines()) <= 500, f"{name} has grown past 500 lines"
    for layer in ("model", "inputs", "engine"):
        for path in (package / layer).glob("*.py"):
            below = {m for m in _imports(path) if m.startswith("pytest_govmail.reports")}
            assert not below, f"{layer}/{path.name} imports {below}"


#: Per domain: its tests (requirement, status, waived), then the matrix's MUST column, the
#: dmarc cell's text and the headline's start. DMARC-02 is a MUST, DMARC-04 and DMARC-05
#: SHOULDs (catalogue.toml); a waived MUST failure is no finding.
HEADLINES = [
    ("must.gov.uk", [("DMARC-02", "fail", False), ("DMARC-04", "fail", False)], "no", "F",
     "Not compliant: a MUST requirement fails. 1 MUST and 1 SHOULD finding(s)."),
    ("should.gov.uk", [("DMARC-02", "pass", False), ("DMARC-04", "fail", False)], "yes", "S",
     "Compliant with every MUST requirement assessed. 0 MUST and 1 SHOULD finding(s)."),
    ("unknown.gov.uk", [("DMARC-02", "inconclusive", False), ("DMARC-05", "fail", False)], "?",
     "S", "Compliance not shown: a MUST requirement could not be checked. 0 MUST and 1 SHOULD "
     "finding(s); 1 requirement(s) could not be checked."),
    ("waived.gov.uk", [("DMARC-02", "fail", True), ("DMARC-01", "pass", False)], "yes", "W",
     "Compliant with every MUST requirement assessed. 0 MUST and 0 SHOULD finding(s); 1 waived."),
]  # fmt: skip


def test_each_domain_has_a_headline_and_the_matrix_tells_must_from_should() -> None:
    table = ReportTable()
    for domain, tests, _, _, _ in HEADLINES:
        for requirement, status, waived in tests:
            outcome = {"fail": "xfailed" if waived else "failed", "inconclusive": "error"}
            data = govmail_data(domain, requirement, status, waiver="ok" if waived else None)
            table.add(data, outcome.get(status, "passed"))
    html = page(table, [h[0] for h in HEADLINES])
    data = report_data(html)
    for domain, _, verdict, letter, said in HEADLINES:
        row = re.search(rf"title='{re.escape(domain)}: ([^']*)'>[^<]*</b>(.*)", html)
        assert row is not None, domain
        assert row.group(1) == said == data["headlines"][data["domains"].index(domain)]
        cells = re.findall(r"<i role=cell class='?([\w ]+)'? title='([^']*)'>([^<]*)</i>", row[2])
        assert cells[0][2] == letter  # the dmarc cell (the only area)
        assert cells[-1][2] == verdict and cells[-1][1] == said  # the MUST column
    # A SHOULD-only failure is a failing cell of its own look, not a MUST failure's.
    assert "class='f s' title='1 fail, 1 pass; strongest failing level: SHOULD'>S<" in html


def test_sources_show_as_titles_and_addresses() -> None:
    catalogue = load_catalogue()
    table = ReportTable()
    table.add(govmail_data("a.gov.uk", "MTASTS-01", "fail"), "failed")
    html = page(table, ["a.gov.uk"])
    cited = report_data(html)["cited"]
    for ref in catalogue["MTASTS-01"].sources:
        source = catalogue.sources[ref.split()[0]]
        assert cited[ref] == [source.title, source.url] and source.url.startswith("https://")
        # The per-requirement table names each source by title and address, not by key.
        assert esc(f"{source.title}") in html and esc(source.url) in html
    assert "G1; G2" not in html


def test_a_level_that_only_mail_check_sets_says_so() -> None:
    """CERT-04's level rests on Mail Check's code alone; MTASTS-01's on GOV.UK's guidance."""
    catalogue = load_catalogue()
    assert catalogue["CERT-04"].level_source.split()[0] == "MC"
    table = ReportTable()
    table.add(govmail_data("a.gov.uk", "CERT-04", "fail"), "failed")
    table.add(govmail_data("a.gov.uk", "MTASTS-01", "fail"), "failed")
    html = page(table, ["a.gov.uk"])
    assert html.count(esc("only source: NCSC Mail Check's code")) == 1
    row = html[html.index("<strong>" + esc("only source: NCSC Mail Check's code")) :]
    assert esc(catalogue["CERT-04"].level_quote) in row[: row.index("</td>")]


def test_a_citation_without_a_catalogue_source_or_https_address_stays_text() -> None:
    cited = {"RFC 8461": ["", ""], "X1 §2": ["A title", ""], "G1": ["GOV.UK", "https://gov.uk"]}
    assert cite_text("RFC 8461", cited) == "RFC 8461"
    assert cite_text("X1 §2", cited) == "A title, §2"
    assert cite_text("G1", cited) == "GOV.UK (https://gov.uk)"
    assert cite_text("unknown", cited) == "unknown"


def test_pytest_html_evidence_names_sources_by_title() -> None:
    from pytest_govmail.reports.pytest_html import render_evidence

    catalogue = load_catalogue()
    info = govmail_data("a.gov.uk", "MTASTS-01", "fail")
    with_titles = render_evidence(info, catalogue)
    for ref in catalogue["MTASTS-01"].sources:
        assert esc(catalogue.sources[ref.split()[0]].title) in with_titles
    assert esc("; ".join(info["sources"])) in render_evidence(info)  # no catalogue: the keys


def test_a_stale_waiver_reads_stale_in_every_html_view(pytester: pytest.Pytester) -> None:
    """The release demo's replay: dormant-dept's MX-03 passes under the demo's waiver, which
    pytest fails (XPASS(strict)). Our page's matrix, headline, totals, per-requirement table
    and data (which the by-ID view ranks), and the pytest-html matrix, must all show a stale
    waiver where they used to read "ok" with 0 issues."""
    result = pytester.runpytest_subprocess(
        f"--govmail-replay={RELEASE_EVIDENCE}",
        "--html=ph.html",
        # DNSSEC-01 is left out: judged since 0.1.0, it is inconclusive on that release's
        # evidence (no DNSSEC validation in it), an issue of its own beside the stale waiver;
        # DMARC-09 too: dormant-dept's reports go only to NCSC Mail Check (retired), a MUST
        # failure that is not this test's story. Since 0.1.0: PARK-05 passes; REPORTS-01..04,
        # PTR-02, MTASTS-08/09 and DKIM-08 do not apply to a parked domain's 0.1.0 evidence.
        *("-k", "dormant and not DMARC-09", "-m", "not dnssec", "-p", "no:cacheprovider"),
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*1 failed, 20 passed, 46 skipped*"])
    html = (pytester.path / "reports" / "govmail.html").read_text("utf-8")
    row = re.search(r"<div class='gm-row( bad)?' data-d=0 role=row>(.*)", html)
    assert row is not None and row.group(1) == " bad"  # "only domains failing" keeps it
    assert "1 stale waiver(s) to remove." in row.group(2)
    cells = re.findall(r"<i role=cell class='?([\w ]+)'? title='([^']*)'>([^<]*)</i>", row[2])
    assert cells[0] == ("t", "2 pass (1 stale waiver), 3 n/a", "stale")  # the mx cell
    assert "<i role=cell class=c>1</i>" in row[2]  # issues: the stale waiver
    assert cells[-1][2] == "yes"  # the domain meets every MUST: a stale waiver is no finding
    assert "21 pass (1 stale waiver), 46 n/a" in html
    assert "<span class='t'>stale waiver</span>" in html  # the legend
    mx03 = re.search(r"<tr><td>MX-03</td><td>must</td><td class='(\w)'>.*?</tr>", html)
    assert mx03 is not None and mx03.group(1) == "t"
    data = report_data(html)
    assert data["labels"][STALE] == "stale waiver" and data["classes"][STALE] == "t"
    (test,) = (t for t in report_tests(html) if t["requirement"] == "MX-03")
    assert (test["status"], test["outcome"], bool(test["waiver"])) == ("pass", "failed", True)

    matrix = (pytester.path / "ph.html").read_text("utf-8")
    matrix = matrix[matrix.index("<table class='govmail-matrix'>") :]
    first = re.search(r"<td class='domain'>dormant-dept.gov.uk</td><td class='gm-(\w+)'", matrix)
    assert first is not None and first.group(1) == STALE
    assert ".gm-stale{" in (pytester.path / "ph.html").read_text("utf-8")


def test_a_stale_waiver_is_worked_out_from_existing_rows() -> None:
    """Nothing new is stored: a pass under a waiver that pytest failed is stale; a pass under
    a waiver pytest let pass (non-strict XPASS), a failure under one, or a pass without one,
    is not."""
    table = ReportTable()
    for status, outcome, waiver in (
        ("pass", "failed", "w"),
        ("pass", "xpassed", "w"),
        ("fail", "xfailed", "w"),
        ("pass", "failed", None),
    ):
        table.add(govmail_data("a.gov.uk", "MX-03", status, waiver=waiver), outcome)
    assert table.stale() == 1
    cell = table.cells(range(len(table)))["mx"]
    assert (cell.stale_waivers, cell.waived_failures, cell.worst) == (1, 1, STALE)
    html = page(table, ["a.gov.uk"])
    assert "1 stale waiver(s) to remove" in html


def test_sources_link_only_to_the_catalogues_own_addresses() -> None:
    """Each source is a link whose target is the catalogue's https address; a citation the
    catalogue does not know stays text, and no record text becomes a link target."""
    from pytest_govmail.reports.page import cite_html

    catalogue = load_catalogue()
    urls = {source.url for source in catalogue.sources.values()}
    table = ReportTable()
    data = govmail_data("a.gov.uk", "MTASTS-01", "fail", summary=HOSTILE[3])
    data["evidence"] = ['<a href="https://evil.example">x</a>', *HOSTILE]
    table.add(data, "failed")
    html = page(table, ["a.gov.uk"])
    targets = re.findall(r"<a\b[^>]*\bhref=\"([^\"]*)\"[^>]*>", html)
    assert targets and set(targets) <= urls
    assert all(' rel="noopener noreferrer"' in a for a in re.findall(r"<a\b[^>]*>", html))
    cited = {"X1 §2": ["A title", "javascript:alert(1)"], "G1": ["GOV.UK", "https://gov.uk"]}
    assert cite_html("X1 §2", cited) == "A title, §2"
    assert cite_html("G1 §3", {"G1 §3": cited["G1"]}) == (
        '<a href="https://gov.uk" rel="noopener noreferrer">GOV.UK, §3</a> (https://gov.uk)'
    )
    assert cite_html("unknown <b>", cited) == "unknown &lt;b&gt;"
