"""What changed against the baseline, as the terminal and the HTML report lead with it.

Under ``--govmail-baseline`` each test's ``report.govmail`` carries a ``change`` entry (see
:class:`pytest_govmail.model.change.Comparison`): its kind, the baseline's status, the DNS
records whose answers differ. :class:`ChangeTally` adds them up as the reports arrive (plain
data, so pytest-xdist's controller tallies its workers' tests too); :func:`terminal_lines` and
:func:`changes_html` say it: counts per kind first, then the tests that got worse with the
records that moved, old and new side by side, then the fixes.

A ``govmail-sweep`` batch writes its tally into its report data
(:meth:`ChangeTally.to_json`) and the sweep adds them up (:meth:`ChangeTally.extend`): so that
the sum is what one process would have tallied, the tests listed per kind are the first
:data:`MAX_LISTED` in one fixed order (domain, MX host, requirement), whichever order the tests
ran in, rather than the first to arrive.

Everything shown came from DNS or from a baseline file someone handed us: it was made inert
where it was read (:func:`pytest_govmail.model.change.answer_text`), and the HTML passes it
through :func:`esc` as well.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_govmail.model.change import SHOWN_ORDER, WORSE, Change
from pytest_govmail.reports.listing import clip
from pytest_govmail.reports.page_output import esc

#: The tally of a run given a baseline (set by the plugin; read by the page and the exit gate).
changes_key = pytest.StashKey["ChangeTally"]()

#: The heading over the changes in the terminal (one process's, and a sweep's last lines).
HEADING = "govmail changes against the baseline"
#: Tests listed per kind (new failures, newly inconclusive, fixed) before "and N more".
MAX_LISTED = 50
#: How requirements the baseline assessed and this catalogue no longer tests are introduced.
WITHDRAWN = (
    "assessed in the baseline, no longer tested by this catalogue (withdrawn or not "
    "implemented: not comparable)"
)
#: The kinds whose tests are listed one by one, in this order.
LISTED = (Change.NEW_FAILURE, Change.NEWLY_INCONCLUSIVE, Change.FIXED)


def baseline_label(source: str, collected: str | None) -> str:
    """The baseline as the headings name it: the file as given (already inert) and when its
    evidence was collected."""
    return f"{source}, collected {collected or 'an unknown time'}"


@dataclass(frozen=True, slots=True)
class ChangedTest:
    """A test listed in the changes: which, where, what it was and is, and the records."""

    change: Change
    requirement: str
    where: str
    was: str
    now: str
    summary: str
    records: tuple[tuple[str, str, str], ...]

    @property
    def order(self) -> tuple[str, str]:
        """Where it is listed: by domain (its MX hosts after it: a space sorts before any
        character of a name), then requirement."""
        return (self.where, self.requirement)

    def to_json(self) -> list[object]:
        return [
            self.change.value, self.requirement, self.where, self.was, self.now, self.summary,
            [list(r) for r in self.records],
        ]  # fmt: skip

    @classmethod
    def from_json(cls, data: Any) -> ChangedTest:
        change, requirement, where, was, now, summary, records = data
        return cls(
            Change(change), str(requirement), str(where), str(was), str(now), str(summary),
            tuple((str(k), str(w), str(n)) for k, w, n in records),
        )  # fmt: skip


@dataclass
class ChangeTally:
    """Tests per kind of change, the listed ones, and what the exit gate needs."""

    #: Where the baseline came from and when it was collected, for the headings.
    source: str
    counts: Counter[Change] = field(default_factory=Counter)
    listed: dict[Change, list[ChangedTest]] = field(default_factory=dict)
    #: Tests that moved only in the DNS records they rest on (their outcome is unchanged).
    records_moved: int = 0
    #: Failed test reports (pytest's sense: failed or error) that got worse than the baseline,
    #: that did not, and that are no govmail verdict at all (a user's own test, a collection
    #: error): what ``--govmail-fail-on new`` decides the exit status from.
    failed_worse: int = 0
    failed_not_worse: int = 0
    failed_other: int = 0
    #: Domains and MX hosts the baseline assessed and this run did not (set at the end).
    gone: list[str] = field(default_factory=list)
    #: Requirements the baseline assessed that this run's catalogue no longer tests.
    withdrawn: list[str] = field(default_factory=list)

    def add(self, data: Mapping[str, Any], failed: bool) -> None:
        """One test's ``report.govmail`` (with its ``change``) and whether pytest failed it."""
        entry = data.get("change")
        if not isinstance(entry, Mapping):
            if failed:
                self.failed_other += 1
            return
        change = Change(entry["kind"])
        self.counts[change] += 1
        if failed:
            if change in WORSE:
                self.failed_worse += 1
            else:
                self.failed_not_worse += 1
        records = tuple(tuple(r) for r in entry.get("records", ()))
        if change in LISTED:
            host = data.get("host")
            self._list(
                ChangedTest(
                    change,
                    str(data["requirement"]),
                    f"{data['domain']} (MX {host})" if host else str(data["domain"]),
                    str(entry.get("was") or "none"),
                    str(data["status"]),
                    str(data.get("summary", "")),
                    records,
                )
            )
        elif records:
            self.records_moved += 1

    def _list(self, test: ChangedTest) -> None:
        """Keep ``test`` if it may be among the first :data:`MAX_LISTED` of its kind in
        :attr:`ChangedTest.order` (the list is cut back whenever it doubles)."""
        kept = self.listed.setdefault(test.change, [])
        kept.append(test)
        if len(kept) >= 2 * MAX_LISTED:
            kept.sort(key=lambda t: t.order)
            del kept[MAX_LISTED:]

    def shown(self, change: Change) -> list[ChangedTest]:
        """The tests of a kind that are listed: the first :data:`MAX_LISTED` in order."""
        return sorted(self.listed.get(change, ()), key=lambda t: t.order)[:MAX_LISTED]

    def extend(self, other: ChangeTally) -> None:
        """Add another tally of the same baseline (a sweep's batch): what one process over
        both sets of tests would have tallied. Which domains and MX hosts vanished is the
        sweep's to say (a batch sees its own domains only); withdrawn requirements are the
        same in every batch."""
        self.counts.update(other.counts)
        for change in LISTED:
            for test in other.listed.get(change, ()):
                self._list(test)
        self.records_moved += other.records_moved
        self.failed_worse += other.failed_worse
        self.failed_not_worse += other.failed_not_worse
        self.failed_other += other.failed_other
        self.gone.extend(other.gone)
        self.withdrawn = sorted(set(self.withdrawn) | set(other.withdrawn))

    def to_json(self) -> dict[str, Any]:
        """Plain data for a sweep batch's report data (:mod:`pytest_govmail.reports.data`)."""
        return {
            "source": self.source,
            "counts": {c.value: n for c, n in self.counts.items() if n},
            "listed": [t.to_json() for c in LISTED for t in self.shown(c)],
            "records_moved": self.records_moved,
            "failed": [self.failed_worse, self.failed_not_worse, self.failed_other],
            "gone": list(self.gone),
            "withdrawn": list(self.withdrawn),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChangeTally:
        """What :meth:`to_json` wrote; ``KeyError``, ``TypeError`` or ``ValueError`` else."""
        tally = cls(str(data["source"]))
        tally.counts.update({Change(k): int(n) for k, n in data["counts"].items()})
        for item in data["listed"]:
            tally._list(ChangedTest.from_json(item))
        tally.records_moved = int(data["records_moved"])
        tally.failed_worse, tally.failed_not_worse, tally.failed_other = map(int, data["failed"])
        tally.gone = [str(g) for g in data["gone"]]
        tally.withdrawn = [str(w) for w in data["withdrawn"]]
        return tally

    def count_line(self) -> str:
        """Counts per kind, the ones that got worse first; kinds with no test left out."""
        parts = [f"{c.value}: {self.counts[c]}" for c in SHOWN_ORDER if self.counts[c]]
        return ", ".join(parts) or "no govmail test compared"

    @property
    def worse(self) -> int:
        return sum(self.counts[c] for c in WORSE)


def terminal_lines(tally: ChangeTally) -> list[str]:
    """The lines the terminal leads its govmail summary with (each to be prefixed)."""
    lines = [f"changes against the baseline ({tally.source}): {tally.count_line()}"]
    for change in LISTED:
        shown = tally.shown(change)
        for test in shown:
            lines.append(
                f"{change.value.upper()} {test.requirement} {test.where}: was {test.was}, "
                f"now {test.now}: {clip(test.summary, 200)}"
            )
            for key, was, now in test.records:
                lines.append(f"    {key} was: {clip(was, 300)}")
                lines.append(f"    {' ' * len(key)} now: {clip(now, 300)}")
        more = tally.counts[change] - len(shown)
        if more > 0:
            lines.append(f"... and {more} more {change.value} (the HTML report and JUnit list all)")
    if tally.records_moved:
        lines.append(
            f"{tally.records_moved} other test(s) kept their outcome while a DNS record they "
            "rest on changed (each test's details show the records)"
        )
    if tally.gone:
        lines.append(
            f"in the baseline but not assessed in this run: {clip(', '.join(tally.gone), 600)}"
        )
    if tally.withdrawn:
        lines.append(f"{WITHDRAWN}: {clip(', '.join(tally.withdrawn), 600)}")
    return lines


def gate_line(tally: ChangeTally, relaxed: bool) -> str:
    """What ``--govmail-fail-on new`` made of the run, for the terminal's last govmail line."""
    if relaxed:
        return (
            f"--govmail-fail-on new: no test got worse than the baseline; the "
            f"{tally.failed_not_worse} failing test(s) failed before too, or are new tests "
            "or requirements the baseline could not compare: exit status 0"
        )
    if tally.failed_worse:
        return (
            f"--govmail-fail-on new: {tally.failed_worse} failing test(s) got worse than the "
            "baseline: exit status 1"
        )
    if tally.failed_other:
        return (
            f"--govmail-fail-on new: {tally.failed_other} failure(s) outside the assessment "
            "(no govmail verdict to compare) keep pytest's exit status"
        )
    return "--govmail-fail-on new: no test got worse than the baseline"


def changes_html(tally: ChangeTally) -> str:
    """The HTML report's first section under a baseline: counts, then the listed tests with the
    records that moved, old and new side by side (every value escaped)."""
    parts = [
        "<section id='gm-changes'><h2>Changes against the baseline</h2>",
        f"<p>Baseline: {esc(tally.source)}.</p>",
        "<table class='gm'><thead><tr><th>change</th><th>tests</th></tr></thead><tbody>",
    ]
    parts.extend(
        f"<tr><td>{esc(c.value)}</td><td>{tally.counts[c]:,}</td></tr>"
        for c in SHOWN_ORDER
        if tally.counts[c]
    )
    parts.append("</tbody></table>")
    for change in LISTED:
        shown = tally.shown(change)
        if not shown:
            continue
        parts.append(
            f"<details{' open' if change in WORSE else ''}><summary>"
            f"{esc(change.value)}: {tally.counts[change]:,}</summary><table class='gm'><thead>"
            "<tr><th>requirement</th><th>where</th><th>was</th><th>now</th><th>summary</th>"
            "<th>record</th><th>baseline answer</th><th>this run's answer</th></tr></thead><tbody>"
        )
        for test in shown:
            records = test.records or (("", "", ""),)
            span = f" rowspan={len(records)}" if len(records) > 1 else ""
            head = (
                f"<td{span}>{esc(test.requirement)}</td><td{span}>{esc(test.where)}</td>"
                f"<td{span}>{esc(test.was)}</td><td{span}>{esc(test.now)}</td>"
                f"<td{span}>{esc(clip(test.summary, 600))}</td>"
            )
            for index, (key, was, now) in enumerate(records):
                parts.append(
                    f"<tr>{head if index == 0 else ''}<td><code>{esc(key)}</code></td>"
                    f"<td><code>{esc(was)}</code></td><td><code>{esc(now)}</code></td></tr>"
                )
        more = tally.counts[change] - len(shown)
        if more > 0:
            parts.append(
                f"<tr><td colspan=8>and {more:,} more (JUnit's govmail.change property and "
                "each test's details list all)</td></tr>"
            )
        parts.append("</tbody></table></details>")
    if tally.records_moved:
        parts.append(
            f"<p>{tally.records_moved:,} other test(s) kept their outcome while a DNS record "
            "they rest on changed.</p>"
        )
    if tally.gone:
        parts.append(
            f"<p>In the baseline but not assessed in this run: {esc(', '.join(tally.gone))}.</p>"
        )
    if tally.withdrawn:
        parts.append(f"<p>{esc(WITHDRAWN)}: {esc(', '.join(tally.withdrawn))}.</p>")
    parts.append("</section>")
    return "".join(parts)


def change_html(info: Mapping[str, Any]) -> str:
    """One test's change (pytest-html's evidence cell), or ``""`` without a baseline."""
    entry = info.get("change")
    if not isinstance(entry, Mapping):
        return ""
    parts = [
        f"<p><b>Against the baseline</b>: {esc(entry.get('kind', ''))} (was "
        f"{esc(entry.get('was') or 'not assessed')})</p>"
    ]
    for key, was, now in entry.get("records", ()):
        parts.append(
            f"<p><code>{esc(key)}</code><br>baseline: <code>{esc(was)}</code><br>this run: "
            f"<code>{esc(now)}</code></p>"
        )
    return "".join(parts)
