"""The terminal's verdict listing, and totals in pytest's own words.

pytest's failure listing prints each failing test's message and its evidence, so a host's TLS
scan (a few dozen lines) came once under each of its ~20 TLS and certificate tests: 3,400 lines
for the demo's 23 domains. Unless ``-v`` (the whole story) or a ``--tb`` style other than
``auto``/``line`` asks for pytest's listing, the terminal reporter
(:class:`~pytest_govmail.reports.terminal.GovmailReporter`) lists the verdicts itself from
``pytest_terminal_summary``: each test that did not pass on one line, grouped by domain, then
the TLS scan of each host behind them once; with ``--tb=line`` one line per test (pytest's
``path:line: message`` shape) and nothing more.

The totals count what pytest counts (failed, passed, skipped, xfailed, errors) and say what each
is made of, so that they add up to pytest's final line: a stale waiver (a test that passes under
a waiver, which pytest fails as XPASS(strict)) is a failure for pytest and a pass for the
domain, and a waived failure is an xfail; both are named.

No HTML here; the pytest objects used are public (a report's outcome, ``when``, ``location``,
``longreprtext`` and ``sections``; the terminal reporter's ``stats``, ``write_line`` and
``write_sep``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import pytest

from pytest_govmail.model.text import inert
from pytest_govmail.reports.status import LOOK, STALE, STATUSES

MAX_EVIDENCE_LINE = 400
#: A verdict line of the compact listing is cut here; ``-v`` shows the whole message.
MAX_VERDICT_LINE = 200
#: Above this many tests the listing is one line per test, as ``--tb=line``: the number above
#: which the plugin shortens pytest's own failure summary (``LINE_SUMMARY_ABOVE`` in
#: :mod:`pytest_govmail.plugin`, which this layer may not import; tests/test_terminal.py
#: holds the two equal).
LINE_LISTING_ABOVE = 2000
#: How many stale waivers and waived tests the totals name before "and N more".
MAX_NAMED = 10
#: pytest's outcome categories in the order of its final line ("1 failed, 2 passed, ...").
PYTEST_ORDER = ("failed", "passed", "skipped", "xfailed", "xpassed", "error")
#: A verdict line's word per kind of test (the terminal matrix's symbols, and "waived").
#: The same words as a test's own message (:func:`pytest_govmail.plugin.assessment.describe`),
#: so that one search finds a verdict in the listing, under ``-v`` and in JUnit XML.
WORD = {
    "fail": "FAIL",
    "inconclusive": "INCONCLUSIVE",
    STALE: "STALE WAIVER",
    "waived": "WAIVED",
}


def clip(text: str, limit: int = MAX_EVIDENCE_LINE) -> str:
    """A line of evidence or a verdict's text for the terminal and the reports: its control and
    formatting characters (ESC, C1 controls such as U+009B, bidirectional overrides) shown as
    escapes, so that a banner or a certificate subject cannot drive a terminal or reorder what
    is shown, and bounded."""
    text = inert(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def list_verdicts(
    tr: Any, style: str, entries: list[Listed], host_evidence: dict[tuple[str, str], list[str]]
) -> None:
    """The tests that did not pass: one line each, with ``--tb=line``; else grouped by
    domain, each domain's counts first and each host's TLS scan once, after its tests."""
    if not entries:
        return
    if style == "line":
        tr.write_sep("=", "govmail verdicts (one line per test that did not pass)")
        for entry in entries:
            tr.write_line(entry.line_style())
        return
    tr.write_sep("=", "govmail verdicts by domain (-v: each test's whole story)")
    by_domain: dict[str, list[Listed]] = defaultdict(list)
    for entry in entries:
        by_domain[entry.domain].append(entry)
    for domain in sorted(by_domain):
        group = by_domain[domain]
        kinds = Counter(entry.kind for entry in group)
        counts = ", ".join(f"{kinds[k]} {KIND_WORDS[k]}" for k in WORD if kinds[k])
        tr.write_line(f"{domain}: {counts}", bold=True)
        hosts: list[str] = []
        for entry in group:
            tr.write_line(entry.grouped_style())
            if entry.host and entry.host not in hosts:
                hosts.append(entry.host)
        for host in hosts:
            for line in host_evidence.get((domain, host), ()):
                tr.write_line(line)


def list_others(tr: Any, style: str, listed_reports: set[int]) -> None:
    """Failures and errors of tests that are not govmail's (a user's own test, a crashed
    judge, a collection error), which ``--tb=no`` would otherwise hide: each with its
    message (``auto``) or its crash line (``line``)."""
    others = [
        report
        for name in ("failed", "error")
        for report in tr.stats.get(name, ())
        if id(report) not in listed_reports and getattr(report, "longrepr", None)
    ]
    if not others:
        return
    tr.write_sep("=", "other failures and errors")
    for report in others:
        if style == "line":
            crash = getattr(report.longrepr, "reprcrash", None)
            tr.write_line(str(crash) if crash is not None else report.longreprtext[:200])
            continue
        where = f" at {report.when}" if report.when not in (None, "call") else ""
        tr.write_sep("_", f"{report.nodeid}{where}", red=True, bold=True)
        tr.write_line(report.longreprtext)
        for title, content in report.sections:
            tr.write_sep("-", title)
            tr.write_line(content.rstrip("\n"))


#: The words of a domain's counts in the listing, per kind.
KIND_WORDS = {"fail": "fail", "inconclusive": "error", STALE: "stale waiver", "waived": "waived"}


class Listed:
    """One test that did not pass, as the listing shows it; the strings are the report's own."""

    __slots__ = ("domain", "host", "kind", "location", "requirement", "text")

    def __init__(
        self,
        domain: str,
        host: str | None,
        kind: str,
        requirement: str,
        text: str,
        location: tuple[str, int | None, str],
    ) -> None:
        self.domain = domain
        self.host = host
        self.kind = kind
        self.requirement = requirement
        self.text = text
        self.location = location

    @property
    def where(self) -> str:
        return f"{self.domain} (MX {self.host})" if self.host else self.domain

    def grouped_style(self) -> str:
        """``  CERT-01 FAIL example.gov.uk (MX mx.example.gov.uk): the summary``: the head of
        the test's own message, then the verdict's summary, under the domain's name."""
        return clip(
            f"  {self.requirement} {WORD[self.kind]} {self.where}: {self.text}", MAX_VERDICT_LINE
        )

    def line_style(self) -> str:
        """pytest's ``--tb=line`` shape, ``path:line: message``, with the verdict as message."""
        path, line, _ = self.location
        return clip(
            f"{path}:{(line or 0) + 1}: {self.requirement} {WORD[self.kind]} {self.where}: "
            f"{self.text}",
            MAX_VERDICT_LINE * 2,
        )


def listed(data: dict[str, Any], kind: str, report: pytest.TestReport) -> Listed:
    """The listing's entry for a test's report data."""
    text = str(data.get("summary") or "")
    if kind == STALE:
        where = f"{data['domain']} (MX {data['host']})" if data.get("host") else data["domain"]
        text = (
            f"[XPASS(strict)] {data['requirement']} now passes for {where}: remove the waiver "
            f"({data.get('waiver')})"
        )
    elif kind == "waived":
        text = f"{text} [waived: {data.get('waiver')}]"
    return Listed(
        data["domain"], data.get("host"), kind, data["requirement"], text, report.location
    )


def pytest_outcome(report: pytest.TestReport) -> str:
    """What pytest's final line counts a deciding report as: failed, error, xfailed, ..."""
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else "xpassed"
    if report.failed:
        return "failed" if report.when == "call" else "error"
    return "skipped" if report.skipped else "passed"


def verdict_kind(status: str, waiver: bool, outcome: str) -> str:
    """The test as govmail counts it: its verdict status, "waived" for a failure a waiver
    accepts (an xfail), or a stale waiver for a pass under a waiver (pytest fails it)."""
    if waiver and status == "fail" and outcome == "xfailed":
        return "waived"
    if waiver and status == "pass" and outcome == "failed":
        return STALE
    return status


def reconciled(outcomes: Counter[tuple[str, str]]) -> str:
    """The govmail totals in pytest's words and order, each with what it is made of:
    ``151 failed (150 fail, 1 stale waiver), 933 passed, ..., 173 errors (inconclusive)``,
    so that they add up to pytest's final line."""
    parts = []
    for outcome in PYTEST_ORDER:
        kinds = {k: n for (o, k), n in outcomes.items() if o == outcome}
        total = sum(kinds.values())
        if not total:
            continue
        name = "errors" if outcome == "error" and total != 1 else outcome
        words = [f"{n} {kind_words(k)}" for k, n in sorted(kinds.items(), key=_rank)]
        inside = ", ".join(words) if len(words) > 1 else kind_words(next(iter(kinds)))
        plain = inside == outcome or (outcome, inside) == ("passed", "pass")
        parts.append(f"{total} {name}" + ("" if plain else f" ({inside})"))
    return f"{sum(outcomes.values())} tests: " + ", ".join(parts)


def kind_words(kind: str) -> str:
    """A kind of test in the totals' words: a verdict status's, a stale or waived test's."""
    return KIND_WORDS[kind] if kind in (STALE, "waived") else LOOK[kind].words


def _rank(item: tuple[str, int]) -> int:
    order = (*STATUSES, STALE, "waived")
    return order.index(item[0]) if item[0] in order else len(order)


def named_lines(entries: list[Listed]) -> list[str]:
    """The stale waivers and waived tests by name: each makes pytest's counts differ from
    the verdicts (a passing domain counted as failed; a failing one as xfailed)."""
    lines = []
    for kind, heading in (
        (STALE, "stale waiver, counted failed by pytest: the test passes, remove the waiver"),
        ("waived", "waived, counted xfailed by pytest"),
    ):
        named = [entry for entry in entries if entry.kind == kind]
        if not named:
            continue
        shown = "; ".join(f"{e.requirement} {e.where}" for e in named[:MAX_NAMED])
        more = f"; and {len(named) - MAX_NAMED} more" if len(named) > MAX_NAMED else ""
        lines.append(f"{len(named)} {heading}: {shown}{more}")
    return lines


def tls_part(evidence: Any) -> list[str]:
    """The TLS scan lines of a host test's evidence (which lists its DNS answers first)."""
    lines = list(evidence)
    for index, line in enumerate(lines):
        if line.startswith("TLS scan of "):
            return lines[index:]
    return []
