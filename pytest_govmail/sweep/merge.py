"""The batches' results as one run's: counts, exit code, one JUnit file and one HTML report.

Each batch writes its results as data (:mod:`pytest_govmail.reports.data`, with the counts of
its summary line, and its JUnit file), and the sweep adds them up: its summary line and exit
code are what one pytest process over all the domains would have given. Under
``--govmail-baseline`` so are the changes it leads the page and its last lines with
(:func:`merge_changes`, :func:`change_lines`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_govmail.reports import data as report_data
from pytest_govmail.reports.changes import HEADING, ChangeTally, gate_line, terminal_lines
from pytest_govmail.sweep.batches import Batch

if TYPE_CHECKING:
    from pytest_govmail.engine.run import GovmailRun

#: The summary line's outcome words, in pytest's order (``KNOWN_TYPES`` in
#: ``_pytest/terminal.py``). Not "warnings": each batch warns of the same things once, so
#: their sum is not what one process would count.
OUTCOME_WORDS = ("failed", "passed", "skipped", "deselected", "xfailed", "xpassed", "error")
#: Tests outside the assessment listed in the report, at most (as in one process).
MAX_OTHERS = 200


def describe(counts: dict[str, int]) -> str:
    """Counts as pytest words them: ``3 failed, 10 passed, 1 error``."""
    return ", ".join(
        f"{counts[w]} {w + 's' if w == 'error' and counts[w] != 1 else w}"
        for w in OUTCOME_WORDS
        if counts.get(w)
    )


def ending(code: int | None) -> str:
    """How a batch's process ended, in words."""
    if code is None:
        return "did not run"
    return f"killed by signal {-code}" if code < 0 else f"exit {code}"


def combined_exit_code(codes: Sequence[int]) -> int:
    """What one pytest process would have returned: the gravest of the batches' codes.

    Interrupted (2), internal error (3) and usage error (4) outrank failures (1); "no tests
    collected" (5) stands only when every batch collected none (a selection that matched none).
    The codes are the processes' own: pytest's ``ExitCode`` (pytest's "Exit codes" docs).
    """
    if any(c < 0 for c in codes):
        return 3  # a batch killed by a signal (the kernel's OOM killer, say): an internal error
    for grave in (2, 3, 4):
        if grave in codes:
            return grave
    if 1 in codes:
        return 1
    if codes and all(c == 5 for c in codes):
        return 5
    return next((c for c in codes if c not in (0, 5)), 0)


def read_counts(batch: Batch) -> str:
    """Take a finished batch's summary counts from its report data; return them in words.

    Without report data (a batch killed, or stopped before its session ended) the batch has no
    counts and stays unreported: :func:`write_reports` names it.
    """
    if not batch.data.exists():
        return "no report data"
    try:
        part = report_data.read(batch.data)
    except ValueError as exc:
        return str(exc)
    batch.counts = part.outcomes
    batch.changes = part.changes
    batch.reported = True
    return describe(batch.counts) or "no tests ran"


def merge_changes(
    total: ChangeTally | None, batch: Batch, label: str, gone: Sequence[str]
) -> ChangeTally | None:
    """Add a reported batch's changes to ``total`` (and let go of the batch's own). The
    baseline is named as the user named it (``label``; a batch names its part's file), and
    what vanished is the whole sweep's (``gone``), as one process would say them."""
    if batch.changes is None:
        return total
    if total is None:
        total = ChangeTally(label)
    total.extend(batch.changes)
    total.gone = list(gone)
    batch.changes = None
    return total


def _sep(title: str, width: int) -> str:
    """``title`` between ``=`` rules across ``width``, as pytest's ``write_sep`` draws it."""
    fill = "=" * max((width - len(title) - 2) // 2, 1)
    line = f"{fill} {title} {fill}"
    return line + "=" if len(line) + 1 <= width else line


def change_lines(tally: ChangeTally, fail_on_new: bool, code: int, width: int = 80) -> list[str]:
    """The changes as one pytest process leads its govmail summary with them: the heading,
    counts per kind, the tests that got worse (and the fixes), and the gate's verdict.

    ``code`` is the sweep's exit code. One process says the gate let the run pass when it
    would have failed only on tests that did not get worse; each batch gates its own tests, so
    that is when the sweep exits 0 with failing tests, none worse nor outside the assessment.
    """
    if not (tally.counts or tally.gone or tally.withdrawn):
        return []
    lines = [_sep(HEADING, width)]
    lines += [f"govmail: {line}" for line in terminal_lines(tally)]
    if fail_on_new:
        relaxed = (
            code == 0
            and tally.failed_not_worse > 0
            and tally.failed_worse == 0
            and tally.failed_other == 0
        )
        lines.append(f"govmail: {gate_line(tally, relaxed)}")
    return lines


def total_counts(batches: Sequence[Batch]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for batch in batches:
        for word, number in batch.counts.items():
            totals[word] = totals.get(word, 0) + number
    return totals


def write_reports(
    batches: Sequence[Batch],
    run: GovmailRun,
    junitxml: Path | None,
    html: Path | None,
    started: float,
    say: Callable[[str], None],
    changes: ChangeTally | None = None,
) -> None:
    """Merge the batches' JUnit files into ``junitxml`` and their report data into ``html``,
    which leads with the ``changes`` against the baseline (the batches' added up,
    :func:`merge_changes`) as one process's page does.

    A batch without results is named, here and at the top of the report: an assessor must not
    read a missing batch as silence. ``started`` is the sweep's start (the JUnit suite's time).
    """
    from pytest_govmail.inputs.catalogue import load_catalogue
    from pytest_govmail.reports import junit_merge as junit
    from pytest_govmail.reports.changes import changes_html
    from pytest_govmail.reports.page import render_page
    from pytest_govmail.reports.page_output import write_chunks

    lost = [
        (
            f"batch {b.number} ({b.domains} domains)",
            "did not run (-x stopped the sweep)"
            if b.returncode is None
            else f"ended without its results ({ending(b.returncode)}): its domains are "
            "missing from this report",
        )
        for b in batches
        if not b.reported
    ]
    for name, what in lost:
        say(f"{name} {what}")
    done = [b for b in batches if b.returncode is not None]
    if junitxml is not None:
        parts = [b.junit for b in done if b.junit.exists()]
        if parts:
            junit.merge(parts, junitxml, seconds=time.perf_counter() - started)
            say(f"JUnit written to {junitxml}")
    if html is None:
        return
    merged: report_data.ReportData | None = None
    for batch in batches:
        if not batch.reported:
            continue
        part = report_data.read(batch.data)  # read once already: one batch's at a time
        part.changes = None  # added up as the batches ended (merge_changes)
        if merged is None:
            merged = part
        else:
            merged.extend(part, MAX_OTHERS)
    if merged is None:
        return
    merged.others[:0] = lost
    catalogue = load_catalogue()
    run.parse_inputs(catalogue.ids())  # as each batch parsed them
    run.waivers_applied = {run.waivers[i] for i in merged.waivers_applied if i < len(run.waivers)}
    run.waivers_expired = {run.waivers[i] for i in merged.waivers_expired if i < len(run.waivers)}
    run.waiver_uses.update(
        {run.waivers[i]: n for i, n in merged.waiver_uses.items() if i < len(run.waivers)}
    )
    began = time.perf_counter()
    lead = changes_html(changes) if changes is not None else ""
    size = write_chunks(
        html, render_page(merged.table, run, catalogue, merged.collected, merged.others, lead)
    )
    say(f"report written to {html} ({size / 2**20:.1f} MiB) in {time.perf_counter() - began:.2f} s")
