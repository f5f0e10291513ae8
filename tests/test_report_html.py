"""Our HTML report with plain data: the compact table, the escaping, the page's parts."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import pytest
from report_reader import DATA, report_tests

from pytest_govmail.engine.run import GovmailRun
from pytest_govmail.engine.settings import Settings
from pytest_govmail.inputs.catalogue import load_catalogue
from pytest_govmail.model.target import Target
from pytest_govmail.reports import page as report_html
from pytest_govmail.reports.page import json_for_script, render_page
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
    table.add(govmail_data("a.gov.uk", "DMARC-03", "fail"), "failed")
    table.add(govmail_data("b.gov.uk", "DMARC-03", "fail", waiver="accepted"), "xfailed")
    table.add(govmail_data("b.gov.uk", "SPF-01", "inconclusive"), "error")
    html = page(table, ["a.gov.uk", "b.gov.uk"])
    rows = re.findall(r"<div class='gm-row( bad)?' data-d=\d+ role=row>(.*)", html)
    by_domain = {re.sub(r"<[^>]*>", " ", cells).split()[0]: (bad, cells) for bad, cells in rows}
    bad_a, cells_a = by_domain["a.gov.uk"]
    assert bad_a and "<i role=cell class=f title='1 fail, 1 pass'>F</i>" in cells_a
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
