"""A batch's report data: what ``govmail-sweep`` needs from each pytest run to write one report.

A sweep judges its domains in batches, each a pytest process of its own, so that memory is
bounded by the batch and not by the sweep. Each batch writes this file (``--govmail-report-data``)
instead of an HTML page: its :class:`~pytest_govmail.reports.table.ReportTable` (every test's row),
the requirement IDs it collected, the tests outside the assessment that failed, which of the
run's waivers matched, the counts of pytest's summary line and, under ``--govmail-baseline``,
its tally of the changes (:class:`~pytest_govmail.reports.changes.ChangeTally`). The sweep
merges the batches' files, renders the page once and adds up the counts for its own summary
line and the changes it leads the page and its terminal with.

The sweep reads only files its own batches have just written (it deletes a batch's file before
starting it), but a batch is ``python -m pytest``, which imports pytest-govmail from its working
folder first: run from the checkout of another release it writes that release's format. The
format before this one (3: no changes) is still read, as a run with no baseline; any other is
refused with a message that says so, and the sweep names the batch as without results.

Plain JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pytest_govmail.inputs.waivers import Waiver
from pytest_govmail.reports.changes import ChangeTally
from pytest_govmail.reports.table import ReportTable

#: Rises when the file's meaning changes. 4 added ``changes``.
FORMAT = 4
#: The formats a sweep merges: this one, and 3 (no ``changes``: read as a run with no baseline).
READABLE = frozenset({3, FORMAT})


@dataclass
class ReportData:
    """One batch's share of the report."""

    table: ReportTable
    collected: set[str] = field(default_factory=set)
    others: list[tuple[str, str]] = field(default_factory=list)
    #: Positions in the run's waiver list (every batch of a sweep parses the same file).
    waivers_applied: set[int] = field(default_factory=set)
    waivers_expired: set[int] = field(default_factory=set)
    #: Reports per key of pytest's terminal summary ("passed", "error", "deselected"...).
    outcomes: dict[str, int] = field(default_factory=dict)
    #: Position in the run's waiver list -> how many tests that waiver matched.
    waiver_uses: dict[int, int] = field(default_factory=dict)
    #: The changes against ``--govmail-baseline``, or None (no baseline).
    changes: ChangeTally | None = None

    def extend(self, other: ReportData, max_others: int) -> None:
        self.table.extend(other.table)
        self.collected |= other.collected
        self.others.extend(other.others[: max(0, max_others - len(self.others))])
        self.waivers_applied |= other.waivers_applied
        self.waivers_expired |= other.waivers_expired
        for key, count in other.outcomes.items():
            self.outcomes[key] = self.outcomes.get(key, 0) + count
        for index, uses in other.waiver_uses.items():
            self.waiver_uses[index] = self.waiver_uses.get(index, 0) + uses
        if other.changes is not None:
            if self.changes is None:
                self.changes = ChangeTally(other.changes.source)
            self.changes.extend(other.changes)


def waiver_positions(waivers: Sequence[Waiver], chosen: Iterable[Waiver]) -> set[int]:
    wanted = set(chosen)
    return {i for i, w in enumerate(waivers) if w in wanted}


def waiver_uses(waivers: Sequence[Waiver], uses: Mapping[Waiver, int]) -> dict[int, int]:
    """How many tests each waiver matched, by its position in the run's waiver list."""
    return {i: uses[w] for i, w in enumerate(waivers) if uses.get(w)}


def summary_counts(terminal: object) -> dict[str, int]:
    """The counts of pytest's summary line, from its terminal reporter (``None`` without one).

    pytest files every report in ``TerminalReporter.stats`` under a key ("passed", "error",
    "deselected"; "" for setup and teardown) and its last line counts those whose
    ``count_towards_summary`` is true (``_pytest/terminal.py``): so do we.
    """
    stats: Mapping[str, Sequence[object]] = getattr(terminal, "stats", {})
    counts = {
        key: sum(1 for r in reports if getattr(r, "count_towards_summary", True))
        for key, reports in stats.items()
        if key
    }
    return {key: count for key, count in counts.items() if count}


def write(data: ReportData, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "table": data.table.to_json(),
        "collected": sorted(data.collected),
        "others": [list(pair) for pair in data.others],
        "waivers_applied": sorted(data.waivers_applied),
        "waivers_expired": sorted(data.waivers_expired),
        "outcomes": data.outcomes,
        "waiver_uses": {str(i): n for i, n in data.waiver_uses.items()},
        "changes": data.changes.to_json() if data.changes is not None else None,
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, separators=(",", ":")), "utf-8")
    tmp.replace(path)


def read(path: Path) -> ReportData:
    """A file :func:`write` wrote; ``ValueError`` names what is wrong with any other."""
    try:
        payload = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read report data ({exc})") from None
    if not isinstance(payload, dict) or payload.get("format") not in READABLE:
        raise ValueError(f"{path}: not report data of this pytest-govmail version")
    try:
        changes = payload.get("changes")
        return ReportData(
            table=ReportTable.from_json(payload["table"]),
            collected={str(i) for i in payload["collected"]},
            others=[(str(a), str(b)) for a, b in payload["others"]],
            waivers_applied={int(i) for i in payload["waivers_applied"]},
            waivers_expired={int(i) for i in payload["waivers_expired"]},
            outcomes={str(k): int(n) for k, n in payload["outcomes"].items()},
            waiver_uses={int(i): int(n) for i, n in payload["waiver_uses"].items()},
            changes=ChangeTally.from_json(changes) if changes is not None else None,
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: malformed report data ({type(exc).__name__}: {exc})") from None
