"""Our HTML report: the domain-by-requirement matrix first, each domain's tests on demand.

pytest-html keeps every test's data in memory and writes it all as HTML: for a 1,000-domain
sweep (59,000 tests) that was a 100 MiB file a browser chokes on. This report is built for that
size. During the run each test adds one row of integers to a :class:`ReportTable` (strings
interned); at the end the page is written once:

- server-side HTML on top: provenance, totals, requirements not assessed, waivers and
  attestations, a per-requirement summary and the domain x area matrix (worst outcome per cell,
  counts on hover), readable at once and without scripts, its rows laid out by the browser only
  when on screen;
- every test's details (findings, evidence, sources, waiver) as one JSON block, a string table
  plus rows of indices, that a small script renders on demand with ``textContent`` only.

Everything from the network is hostile. Markup is built here with :func:`esc` only; the JSON
block has ``<``, ``>`` and ``&`` escaped so no record can close the ``<script>`` element; and a
Content-Security-Policy with the hashes of our one script and one stylesheet means no other
script, inline handler or network fetch can run even if something slipped through.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_govmail.inputs.catalogue import Catalogue
from pytest_govmail.inputs.levels import apply_levels
from pytest_govmail.reports import data as report_data
from pytest_govmail.reports.changes import ChangeTally, changes_html, changes_key
from pytest_govmail.reports.headline import (
    FAIL_LETTER,
    MUST_WORD,
    citations,
    citations_of,
    cite_parts,
    fail_levels,
    headline,
)
from pytest_govmail.reports.listing import pytest_outcome
from pytest_govmail.reports.page_output import (
    asset,
    csp_hash,
    esc,
    json_for_script,
    write_chunks,
)
from pytest_govmail.reports.sections import (
    catalogue_parts,
    inputs,
    level_cell,
    not_assessed,
    provenance,
)
from pytest_govmail.reports.status import (
    CLASS,
    LABEL,
    OUTCOMES,
    SHORT,
    STALE,
    STATUSES,
    WORST_FIRST,
    Cell,
)
from pytest_govmail.reports.table import (
    FIELDS,
    HOST,
    REQUIREMENT,
    WIDTH,
    ReportTable,
)

if TYPE_CHECKING:
    from pytest_govmail.engine.run import GovmailRun
    from pytest_govmail.reports.terminal import GovmailReporter

#: Where the plugin's ``_default_reports`` asks for the report to be written.
report_path_key = pytest.StashKey[Path]()

#: Tests outside the assessment (a user's own, a crash before the verdict) listed at most.
MAX_OTHERS = 200
TITLE = "pytest-govmail: secure email assessment"
#: The matrix's domain column is as wide as the longest name, up to this (then cut, in full on
#: hover and in the details).
MAX_DOMAIN_WIDTH = 48
#: Strings (or lists) per piece of the data block written at once.
BATCH = 10_000


def register(config: pytest.Config, reporter: GovmailReporter) -> None:
    """Register the report writer if this run writes a report or its data.

    The page goes where ``_default_reports`` says; ``--govmail-report-data`` asks for the data
    behind it (a ``govmail-sweep`` batch, see :mod:`pytest_govmail.reports.data`).
    """
    path = config.stash.get(report_path_key, None)
    data = config.getoption("govmail_report_data", None)
    if config.option.collectonly:
        return
    html = config.getoption("htmlpath", None)
    if path is not None and html and Path(html).resolve() == path.resolve():
        path = None  # the user asked pytest-html for a report at this very path
    if path is None and not data:
        return
    config.pluginmanager.register(
        GovmailReport(reporter, path, Path(data) if data else None), "govmail-report"
    )


class GovmailReport:
    """Collects each test's row as its report arrives and writes the page when the run ends.

    Rows come from ``pytest_runtest_logreport``, so under pytest-xdist the controller gets
    every worker's tests (``report.govmail`` is plain data and survives serialisation).
    """

    def __init__(self, reporter: GovmailReporter, path: Path | None, data: Path | None = None):
        self.reporter = reporter
        self.path = path
        self.data = data
        self.table = ReportTable()
        self.others: list[tuple[str, str]] = []
        self.written: int | None = None
        self.seconds = 0.0

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, "govmail", None)
        if isinstance(data, dict):
            self.table.add(data, pytest_outcome(report))
        elif report.failed and len(self.others) < MAX_OTHERS:
            self.others.append((f"{report.nodeid} ({report.when})", report.longreprtext[:4000]))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        reporter = self.reporter
        start = time.perf_counter()
        if self.data is not None:
            run = reporter.run
            report_data.write(
                report_data.ReportData(
                    self.table,
                    set(reporter.collected_ids),
                    self.others,
                    report_data.waiver_positions(run.waivers, run.waivers_applied),
                    report_data.waiver_positions(run.waivers, run.waivers_expired),
                    report_data.summary_counts(
                        session.config.pluginmanager.get_plugin("terminalreporter")
                    ),
                    report_data.waiver_uses(run.waivers, run.waiver_uses),
                    _tally(session.config),
                ),
                self.data,
            )
        if self.path is not None:
            chunks = render_page(
                self.table,
                reporter.run,
                reporter.catalogue,
                reporter.collected_ids,
                self.others,
                lead=_changes(session.config),
            )
            self.written = write_chunks(self.path, chunks)
        self.seconds = time.perf_counter() - start

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.written is not None:
            terminalreporter.write_line(
                f"govmail: report written to {self.path} ({self.written / 2**20:.1f} MiB) "
                f"in {self.seconds:.2f} s"
            )


def _tally(config: pytest.Config) -> ChangeTally | None:
    """The changes against ``--govmail-baseline`` (complete: the baseline's own
    ``pytest_sessionfinish`` runs first), or None without one."""
    return config.stash.get(changes_key, None)


def _changes(config: pytest.Config) -> str:
    """The changes against ``--govmail-baseline`` as the page leads with them, or ``""``."""
    tally = _tally(config)
    return changes_html(tally) if tally is not None else ""


def _counts(cell: Cell) -> str:
    parts = [f"{cell.counts[s]} {LABEL[s]}" for s in STATUSES if cell.counts[s]]
    if cell.waived_failures:
        parts[0] += f" ({cell.waived_failures} waived)"
    if cell.stale_waivers:
        at = STATUSES.index("pass")
        index = sum(1 for s in STATUSES[:at] if cell.counts[s])
        parts[index] += f" ({cell.stale_waivers} {LABEL[STALE]})"
    return ", ".join(parts)


def _issues(cells: Iterable[Cell]) -> int:
    """Tests that need attention: failures not waived, errors, and stale waivers (pytest fails
    those until the waiver is removed)."""
    return sum(
        c.counts["fail"] - c.waived_failures + c.counts["inconclusive"] + c.stale_waivers
        for c in cells
    )


def render_page(
    table: ReportTable,
    run: GovmailRun,
    catalogue: Catalogue,
    collected: Iterable[str],
    others: list[tuple[str, str]],
    lead: str = "",
) -> Iterator[str]:
    """The whole page, in chunks; ``lead`` (markup, escaped by its maker) comes first after
    the provenance: the changes against a baseline (:func:`_changes`).

    A run's levels file (``run.inputs["levels"]``) is applied here when ``catalogue`` does not
    hold it yet: ``govmail-sweep`` merges its batches' data under the packaged catalogue, and
    its collecting step stored the file in the evidence every batch replays.
    """
    if not catalogue.level_changes and "levels" in run.inputs:
        catalogue = apply_levels(catalogue, run.inputs["levels"])
    position = {r.id: i for i, r in enumerate(catalogue)}
    domains = table.domains()
    by_domain = table.rows_by_domain()
    present = {r.area for r in table.requirements}
    areas = [a for a in catalogue.areas() if a in present]
    areas += sorted(present - set(areas))
    # Requirements in catalogue order; rows point at them by their new position.
    order = sorted(
        range(len(table.requirements)),
        key=lambda i: (position.get(table.requirements[i].id, len(position)), i),
    )
    renumber = {old: new for new, old in enumerate(order)}
    host_text = table.strings.__getitem__
    cited = citations(table, catalogue)
    cited.update(citations_of((r.level_source for r in catalogue), catalogue))

    # The matrix is a grid of rows with fixed column widths, so that each row lays out alone and
    # rows off screen are not laid out at all (``content-visibility: auto``): a <table> of
    # 1,000 domains took Chromium a quarter of a second per layout, and every filter or opened
    # domain laid it all out again.
    width = min(max((len(table.strings[d]) for d in domains), default=10), MAX_DOMAIN_WIDTH) + 2
    style = (
        asset("report.css")
        + f"#gm-matrix{{--cols:minmax(min(14ch,{width}ch),{width}ch) repeat({len(areas)},3em) "
        "3.2em 3em}" + f"#gm-ids{{--cols:{width}ch repeat({len(order)},2.6em)}}\n"
    )
    script = asset("report.js")
    csp = (
        f"default-src 'none'; script-src {csp_hash(script)}; style-src {csp_hash(style)}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    yield (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{esc(csp)}\">"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{esc(TITLE)}</title><style>{style}</style></head><body>\n"
        f"<h1>{esc(TITLE)}</h1>"
        + provenance(run, catalogue)
        + lead
        + _totals(table, len(domains))
        + "<noscript><p>The matrix below needs no script; each test's details do. The JUnit "
        "report and the evidence file (--govmail-evidence-out) hold the same facts.</p>"
        "</noscript>"
        + not_assessed(catalogue, collected)
        + catalogue_parts(catalogue, "gm")
        + inputs(run, "gm", folded=True)
        + _others(others)
        + _by_requirement(table, order, cited, catalogue)
        + "\n"
    )

    # The matrix: one row per domain, one cell per area, in server-side HTML.
    yield (
        "<h2 id='gm-title'>Domains by requirement area</h2>"
        "<p class='gm-legend'>Worst outcome per cell (hover for counts); click a domain or a "
        "cell for its tests, or Tab to a domain, move with the arrow keys and press Enter. "
        "A failing cell reads <strong>F</strong> when a MUST requirement fails in it, "
        "<strong>S</strong> when only a SHOULD does (<strong>A</strong>: advisory). "
        + "".join(f"<span class='{CLASS[s]}'>{esc(LABEL[s])}</span>" for s in WORST_FIRST)
        + "<br>The <strong>MUST</strong> column answers whether the domain meets every MUST "
        "requirement assessed: <strong>yes</strong>, <strong>no</strong>, or "
        "<strong>?</strong> when one could not be checked.</p>"
        "<div class='gm-bar'>"
        "<input id='gm-filter' type='search' placeholder='filter domains' aria-label='filter "
        "domains'><label><input id='gm-bad' type='checkbox'> only domains failing or in error"
        "</label><button id='gm-view' type='button'>view by requirement ID</button>"
        "<button id='gm-expand' type='button'>expand all shown</button>"
        "<label><input id='gm-pages' type='checkbox'> print one domain per page</label>"
        f"<span id='gm-count' class='gm-muted'>{len(domains)} domain(s)</span></div>"
        "<div id='gm-matrix' class='gm-grid' role='table' aria-label='domains by requirement "
        "area'><div class='gm-row gm-head' role='row'><b role='columnheader'>domain</b>"
        + "".join(f"<i role='columnheader' data-a='{esc(a)}'>{esc(a)}</i>" for a in areas)
        + "<i role='columnheader' title='failures not waived, errors and stale waivers'>issues</i>"
        "<i role='columnheader' title='meets every MUST requirement assessed'>MUST</i></div>\n"
    )
    headlines: list[str] = []
    batch: list[str] = []
    for index, domain in enumerate(domains):
        cells = table.cells(by_domain[domain])
        issues = _issues(cells.values())
        levels = fail_levels(table, by_domain[domain])
        head = headline(table, by_domain[domain])
        said = head.text()
        headlines.append(said)
        name = esc(table.strings[domain])
        parts = [
            f"<div class='gm-row{' bad' if issues else ''}' data-d={index} role=row>"
            f"<b role=rowheader tabindex=0 title='{name}: {esc(said)}'>{name}</b>"
        ]
        for area in areas:
            cell = cells.get(area)
            if cell is None:
                parts.append("<i role=cell class=x></i>")
            else:
                worst = cell.worst
                text, css = SHORT[worst], CLASS[worst]
                if worst == "fail":
                    level = levels.get(area, "must")
                    text = FAIL_LETTER.get(level, SHORT[worst])
                    css += "" if level == "must" else " s"
                    counts = f"{_counts(cell)}; strongest failing level: {level.upper()}"
                else:
                    counts = _counts(cell)
                quoted = f"'{css}'" if " " in css else css
                parts.append(f"<i role=cell class={quoted} title='{esc(counts)}'>{text}</i>")
        verdict = head.verdict
        parts.append(
            f"<i role=cell class=c>{issues}</i><i role=cell class={CLASS[verdict]} "
            f"title='{esc(said)}'>{MUST_WORD[verdict]}</i></div>\n"
        )
        batch.append("".join(parts))
        if len(batch) >= 500:
            yield "".join(batch)
            batch.clear()
    yield "".join(batch)
    yield "</div><div id='gm-ids-holder'></div>\n"

    # The details: rows of integers per domain, tests in catalogue order, then host.
    for info in table.requirements:  # intern the sources before the string table is written
        table.string_list(info.sources)
    yield "<script type='application/json' id='govmail-data'>{"
    yield (
        f'"fields":{json_for_script(FIELDS[1:])},"statuses":{json_for_script(STATUSES)},'
        f'"outcomes":{json_for_script(OUTCOMES)},"labels":{json_for_script(LABEL)},'
        f'"classes":{json_for_script(CLASS)},"short":{json_for_script(SHORT)},'
        f'"order":{json_for_script(list(range(len(order))))},'
        '"requirements":'
        + json_for_script(
            [
                [r.id, r.title, r.level, r.area, table.string_list(r.sources)]
                for r in (table.requirements[i] for i in order)
            ]
        )
        + ',"domains":'
        + json_for_script([table.strings[d] for d in domains])
        + ',"headlines":'
        + json_for_script(headlines)
        + ',"cited":'
        + json_for_script(cited)
        + ',"tests":['
    )
    rows = table.rows
    for index, domain in enumerate(domains):
        numbers = sorted(
            by_domain[domain],
            key=lambda n: (
                renumber[rows[n * WIDTH + REQUIREMENT]],
                host_text(rows[n * WIDTH + HOST]),
            ),
        )
        flat: list[int] = []
        for n in numbers:
            base = n * WIDTH
            flat.append(renumber[rows[base + REQUIREMENT]])
            flat.extend(rows[base + HOST : base + WIDTH])
        yield ("," if index else "") + "[" + ",".join(map(str, flat)) + "]"
    # The string table and the lists in batches: a 10,000-domain sweep's are tens of MiB, and
    # one string (escaped three times over) would be that much again in memory at once.
    yield '],"lists":['
    for start in range(0, len(table.lists), BATCH):
        yield ("," if start else "") + ",".join(
            "[" + ",".join(map(str, item)) + "]" for item in table.lists[start : start + BATCH]
        )
    yield '],"strings":['
    for start in range(0, len(table.strings), BATCH):
        yield ("," if start else "") + json_for_script(table.strings[start : start + BATCH])[1:-1]
    yield f"]}}</script>\n<script>{script}</script>\n</body></html>\n"


def _totals(table: ReportTable, domains: int) -> str:
    statuses, outcomes, waived = table.totals()
    stale = table.stale()
    apart = {"fail": f" ({waived:,} waived)" if waived else ""}
    apart["pass"] = f" ({stale:,} {LABEL[STALE]})" if stale else ""
    verdicts = ", ".join(
        f"{statuses[s]:,} {LABEL[s]}{apart.get(s, '')}" for s in STATUSES if statuses[s]
    )
    pytest_says = ", ".join(f"{outcomes[o]:,} {o}" for o in OUTCOMES if outcomes[o])
    return (
        f"<p class='gm-totals'>{domains:,} domain(s), {len(table):,} test(s): "
        f"{esc(verdicts or 'none')}</p>"
        f"<p class='gm-muted'>pytest: {esc(pytest_says or 'no tests')}; report written "
        f"{esc(datetime.now(UTC).isoformat(timespec='seconds'))}</p>"
    )


def cite_html(ref: str, cited: Mapping[str, list[str]]) -> str:
    """A citation as a link to its catalogue source, ``<a href="https://..." rel="noopener
    noreferrer">title, section</a> (https://...)`` (the address as text too, so that a printed
    report keeps it), or text when the catalogue gives no https address.

    The target is only ever a catalogue source's URL (:func:`headline.citations_of`), never
    text from the network. A link is navigation, not a fetch, so the page's
    Content-Security-Policy (``default-src 'none'``) is unchanged; ``noopener noreferrer``
    keeps the report's address from the site it opens
    (https://html.spec.whatwg.org/multipage/links.html#link-type-noreferrer).
    """
    words, url = cite_parts(ref, cited)
    if not url:
        return esc(words)
    return f'<a href="{esc(url)}" rel="noopener noreferrer">{esc(words)}</a> ({esc(url)})'


def _by_requirement(
    table: ReportTable,
    order: list[int],
    cited: Mapping[str, list[str]],
    catalogue: Catalogue,
) -> str:
    """Per requirement: how many tests pass, fail, error; the central team's first question;
    and, per requirement, the sentence that sets its level."""
    if not len(table):
        return "<p>No govmail tests ran.</p>"
    cells = table.cells(range(len(table)), by="id")

    def cite(ref: str) -> str:
        return cite_html(ref, cited)

    rows = []
    for index in order:
        info = table.requirements[index]
        cell = cells[info.id]
        counts: Counter[str] = cell.counts
        numbers = "".join(f"<td>{counts[s] or ''}</td>" for s in STATUSES)
        rows.append(
            f"<tr><td>{esc(info.id)}</td><td>{esc(info.level)}</td>"
            f"<td class='{CLASS[cell.worst]}'>{esc(info.title)}</td>{numbers}"
            f"<td>{cell.waived_failures or ''}</td><td>{cell.stale_waivers or ''}</td>"
            f"<td class=gm-src>{'; '.join(cite_html(r, cited) for r in info.sources)}"
            f"</td><td class=gm-src>{level_cell(info.id, catalogue, cite)}</td></tr>"
        )
    return (
        "<details><summary>Tests by requirement (failing, error, pass, n/a, waived, stale waiver)"
        "</summary>"
        "<table class='gm'><thead><tr><th>ID</th><th>level</th><th>title</th><th>fail</th>"
        "<th>error</th><th>pass</th><th>n/a</th><th>waived</th><th title='passes under a waiver "
        "that pytest fails: remove the waiver'>stale waiver</th><th>sources</th>"
        "<th>level set by</th></tr></thead>"
        "<tbody>" + "".join(rows) + "</tbody></table></details>"
    )


def _others(others: list[tuple[str, str]]) -> str:
    """Failures that are not a govmail verdict: they must not disappear from the report."""
    if not others:
        return ""
    items = "".join(
        f"<li><code>{esc(name)}</code><pre>{esc(text)}</pre></li>" for name, text in others
    )
    return (
        f"<details open><summary>{len(others)} failing test(s) outside the assessment "
        f"(no govmail verdict)</summary><ul>{items}</ul></details>"
    )
