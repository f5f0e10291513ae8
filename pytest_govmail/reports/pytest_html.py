"""pytest-html additions: the domain-by-area matrix on top, and each test's evidence below it.

Used when the user asks pytest-html for a report (``--html=PATH``); the report a govmail run
writes by default is our own, :mod:`pytest_govmail.reports.page`, which stays small and fast for
sweeps of thousands of domains. Registered only when pytest-html is loaded.

pytest-html inserts these strings as raw HTML, and everything in them that came off the network
(TXT records, names, banners) is hostile, so every value passes through
:func:`~pytest_govmail.reports.sections.esc` here, and nothing else builds markup.

pytest-html 4 builds a test's rows only when its teardown is reported (``BaseReport.
pytest_runtest_logreport`` in pytest_html/basereport.py keeps the setup and call reports until
then), while the plugin lets go of ``report.govmail`` as soon as each report has been read (see
``pytest_runtest_logreport`` in :mod:`pytest_govmail.plugin`). So :class:`GovmailHtml` keeps
each report's data from the moment it arrives until pytest-html has rendered its row: a test's
worth at a time, not the run's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from pytest_govmail.inputs.catalogue import Catalogue
from pytest_govmail.reports.changes import change_html, changes_html, changes_key
from pytest_govmail.reports.headline import citations_of
from pytest_govmail.reports.page import cite_html
from pytest_govmail.reports.page_output import esc as _e
from pytest_govmail.reports.sections import catalogue_parts, inputs, not_assessed, provenance
from pytest_govmail.reports.status import LABEL, STALE, STATUSES, Cell, is_stale, worst
from pytest_govmail.reports.terminal import BASELINE_DETAIL, GovmailReporter, tallied_areas

STYLE = """<style>
.govmail-matrix{border-collapse:collapse;margin:8px 0;font-size:13px}
.govmail-matrix th,.govmail-matrix td{border:1px solid #ccc;padding:2px 6px;text-align:center}
.govmail-matrix td.domain{text-align:left;font-family:monospace}
.gm-fail{background:#f8d0d0}.gm-inconclusive{background:#f6e3b4}
.gm-pass{background:#d3efd3}.gm-not_applicable{background:#eee;color:#777}
.gm-waived{background:#dcd6f4}.gm-stale{background:#f3c6e8;font-weight:700}
.govmail-evidence{margin:4px 0 8px 0;font-size:13px}
.govmail-evidence pre{white-space:pre-wrap;word-break:break-all;margin:2px 0}
</style>"""


class GovmailHtml:
    """Hooks of pytest-html; see :mod:`pytest_html.hooks`."""

    def __init__(self, reporter: GovmailReporter) -> None:
        self.reporter = reporter
        self.run = reporter.run
        self.catalogue = reporter.catalogue
        self.tally = reporter.tally  # filled by the reporter as reports arrive
        #: Reports whose govmail data pytest-html has not rendered yet: id -> (report, data).
        #: The report is held too, so that its id cannot be reused meanwhile.
        self.waiting: dict[int, tuple[pytest.TestReport, dict[str, Any]]] = {}
        #: Whether the rows get a column for the change against ``--govmail-baseline``.
        self.changes = reporter.baseline is not None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Keep the report's data for pytest-html, which renders the test's rows at its
        teardown; the plugin's own hook (trylast) drops ``report.govmail`` after this one."""
        info = getattr(report, "govmail", None)
        if isinstance(info, dict):
            self.waiting[id(report)] = (report, info)

    def _info(self, report: pytest.TestReport, done: bool = False) -> dict[str, Any] | None:
        kept = self.waiting.pop(id(report), None) if done else self.waiting.get(id(report))
        if kept is not None:
            return kept[1]
        info = getattr(report, "govmail", None)
        return info if isinstance(info, dict) else None

    def pytest_html_report_title(self, report: Any) -> None:
        report.title = "pytest-govmail: secure email assessment"

    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
    ) -> None:
        prefix.append(STYLE)
        prefix.append(provenance(self.run, self.catalogue))
        tally = session.config.stash.get(changes_key, None)
        if tally is not None:
            prefix.append(changes_html(tally))
        prefix.append(self._matrix())
        prefix.append(not_assessed(self.catalogue, self.reporter.collected_ids))
        prefix.append(catalogue_parts(self.catalogue))
        prefix.append(inputs(self.run))

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        if self.changes:
            cells.insert(1, '<th class="sortable" data-column-type="change">Change</th>')

    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        """The change against the baseline in a sortable column of its own (empty for a row
        that is no govmail verdict: pytest-html needs every row to have every column)."""
        if self.changes:
            info = self._info(report)
            entry = info.get("change") if info is not None else None
            kind = entry.get("kind", "") if isinstance(entry, Mapping) else ""
            cells.insert(1, f'<td class="col-change">{_e(kind)}</td>')

    def pytest_html_results_table_html(self, report: pytest.TestReport, data: list[str]) -> None:
        info = self._info(report, done=True)
        if info is not None:
            data.insert(0, render_evidence(info, self.catalogue, report.failed))

    def pytest_sessionfinish(self) -> None:
        self.waiting.clear()  # rows pytest-html never built (a plugin removed their cells)

    def _matrix(self) -> str:
        if not self.tally:
            return ""
        areas = tallied_areas(self.catalogue, self.tally)
        rows = ["<table class='govmail-matrix'><tr><th>domain</th>"]
        rows.extend(f"<th>{_e(a)}</th>" for a in areas)
        rows.append("</tr>")
        for domain in sorted(self.tally):
            cells = self.tally[domain]
            # Per area, passes under a waiver that pytest failed (stale waivers).
            stale: Mapping[str, int] = self.reporter.stale.get(domain, {})
            rows.append(f"<tr><td class='domain'>{_e(domain)}</td>")
            for area in areas:
                cell = cells.get(area) or Cell()
                status = worst(cell.counts, cell.waived_failures, stale.get(area, 0))
                counts = " ".join(
                    f"{cell.counts[s]} {LABEL[s]}" for s in STATUSES if cell.counts[s]
                )
                if stale.get(area, 0):
                    counts += f" ({stale[area]} {LABEL[STALE]})"
                rows.append(
                    f"<td class='gm-{_e(status)}' title='{_e(counts)}'>{_e(LABEL[status])}</td>"
                )
            rows.append("</tr>")
        rows.append("</table>")
        return "<h2>Domains by requirement area</h2>" + "".join(rows)


def render_evidence(
    info: dict[str, Any], catalogue: Catalogue | None = None, failed: bool = False
) -> str:
    """One test's verdict and evidence as escaped HTML; sources by title and address when the
    ``catalogue`` is given (links to the catalogue's own addresses, as our own page shows
    them), else by their keys. ``failed`` is
    whether pytest failed the test: a pass under a waiver that pytest failed is a stale waiver."""
    status = info["status"]
    if is_stale(status, bool(info.get("waiver")), "failed" if failed else "passed"):
        status = STALE
    parts = [
        "<div class='govmail-evidence'>",
        f"<p><b>{_e(info['requirement'])}</b> ({_e(info['level'])}, {_e(info['area'])}): "
        f"{_e(info['title'])} &mdash; <b>{_e(LABEL.get(status, status))}</b></p>",
        f"<p>{_e(info.get('summary', ''))}</p>",
    ]
    if info.get("waiver"):
        parts.append(f"<p><b>Waived</b>: {_e(info['waiver'])}</p>")
    parts.append(change_html(info))
    for finding in info.get("findings", ()):
        parts.append(
            "<p>"
            f"<code>{_e(finding['code'])}</code><br>observed: {_e(finding['observed'])}"
            f"<br>expected: {_e(finding['expected'])}"
            + (f"<br>fix: {_e(finding['remediation'])}" if finding["remediation"] else "")
            + "</p>"
        )
    if info.get("evidence"):
        parts.append("<p>DNS evidence:</p><pre>")
        parts.append(_e("\n".join(info["evidence"])))
        parts.append("</pre>")
    for title, text in info.get("details", []):
        if title == BASELINE_DETAIL and info.get("change"):
            continue  # shown above, with the records side by side
        parts.append(f"<p>{_e(title)}:</p><pre>{_e(text)}</pre>")
    if info.get("sources"):
        refs = [str(ref) for ref in info["sources"]]
        if catalogue is not None:
            cited = citations_of(refs, catalogue)
            shown = "; ".join(cite_html(ref, cited) for ref in refs)
        else:
            shown = _e("; ".join(refs))
        parts.append(f"<p>Sources: {shown}</p>")
    parts.append("</div>")
    return "".join(parts)
