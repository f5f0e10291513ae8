"""The HTML report's data: one compact row of integers per test, every repeated string once.

A sweep of 1,000 domains runs about 59,000 tests, and their texts repeat thousands of times:
requirement titles, sources, a shared provider's SPF record, a host's TLS evidence. Kept as one
dict per test (what pytest-html does) that is a 100 MiB report and hundreds of MiB of memory.
Here each distinct string is stored once (``strings``, index 0 is ``""`` meaning "none"), each
distinct list of strings once (``lists``: a test's evidence lines, its findings), and a test is a
fixed-width row of indices in one flat ``array``: a few dozen bytes per test in memory and in the
report. Adding a test is a handful of dict look-ups, cheap enough for ``pytest_runtest_logreport``.

This module knows no pytest and no HTML: :mod:`pytest_govmail.reports.page` fills and renders it.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_govmail.reports.status import OUTCOMES, STATUSES, Cell, is_stale

#: The columns of a row, in order. Every value is an index: into ``strings`` (host, summary,
#: waiver), ``lists`` (findings: code, observed, expected, fix per finding; evidence lines;
#: details: title, text per detail), ``requirements``, ``STATUSES`` or ``OUTCOMES`` (both of
#: :mod:`pytest_govmail.reports.status`).
FIELDS = (
    "domain",
    "requirement",
    "host",
    "status",
    "outcome",
    "summary",
    "findings",
    "evidence",
    "details",
    "waiver",
)
WIDTH = len(FIELDS)
DOMAIN, REQUIREMENT, HOST, STATUS, OUTCOME, SUMMARY, FINDINGS, EVIDENCE, DETAILS, WAIVER = range(
    WIDTH
)
_STATUS_CODE = {s: i for i, s in enumerate(STATUSES)}
_OUTCOME_CODE = {o: i for i, o in enumerate(OUTCOMES)}


@dataclass(frozen=True, slots=True)
class RequirementInfo:
    """What the report says about a requirement, once, however many tests assess it."""

    id: str
    title: str
    level: str
    area: str
    sources: tuple[str, ...]


class ReportTable:
    """Tests as rows of integers with interned strings; see the module docstring."""

    def __init__(self) -> None:
        self.strings: list[str] = [""]
        self._string_ids: dict[str, int] = {"": 0}
        self.lists: list[tuple[int, ...]] = [()]
        self._list_ids: dict[tuple[int, ...], int] = {(): 0}
        self.requirements: list[RequirementInfo] = []
        self._requirement_ids: dict[str, int] = {}
        self.rows = array("i")

    def __len__(self) -> int:
        return len(self.rows) // WIDTH

    def string(self, text: str) -> int:
        """The index of ``text`` in ``strings``, adding it the first time it is seen."""
        index = self._string_ids.get(text)
        if index is None:
            index = self._string_ids[text] = len(self.strings)
            self.strings.append(text)
        return index

    def string_list(self, texts: Iterable[str]) -> int:
        """The index in ``lists`` of these strings' indices (0 for no strings)."""
        return self._intern_list(tuple(map(self.string, texts)))

    def requirement(self, data: Mapping[str, Any]) -> int:
        req_id: str = data["requirement"]
        index = self._requirement_ids.get(req_id)
        if index is None:
            index = self._requirement_ids[req_id] = len(self.requirements)
            self.requirements.append(
                RequirementInfo(
                    req_id,
                    str(data.get("title", "")),
                    str(data.get("level", "")),
                    str(data.get("area", "")),
                    tuple(map(str, data.get("sources", ()))),
                )
            )
        return index

    def add(self, data: Mapping[str, Any], outcome: str) -> None:
        """One test: its ``report.govmail`` data and what pytest made of it (``OUTCOMES``)."""
        findings = data.get("findings") or ()
        details = data.get("details") or ()
        self.rows.extend(
            (
                self.string(data["domain"]),
                self.requirement(data),
                self.string(data.get("host") or ""),
                _STATUS_CODE.get(data["status"], _STATUS_CODE["inconclusive"]),
                _OUTCOME_CODE[outcome],
                self.string(data.get("summary") or ""),
                self.string_list(
                    text
                    for f in findings
                    for text in (f["code"], f["observed"], f["expected"], f["remediation"] or "")
                )
                if findings
                else 0,
                self.string_list(data.get("evidence") or ()),
                self.string_list(text for pair in details for text in pair) if details else 0,
                self.string(data.get("waiver") or ""),
            )
        )

    def row(self, index: int) -> Sequence[int]:
        return self.rows[index * WIDTH : (index + 1) * WIDTH]

    def domains(self) -> list[int]:
        """The domains' string indices, sorted by name (the matrix's row order)."""
        seen = set(self.rows[DOMAIN::WIDTH])
        return sorted(seen, key=self.strings.__getitem__)

    def rows_by_domain(self) -> dict[int, list[int]]:
        """Each domain's row numbers, in the order the tests ran."""
        grouped: dict[int, list[int]] = {}
        for number, domain in enumerate(self.rows[DOMAIN::WIDTH]):
            grouped.setdefault(domain, []).append(number)
        return grouped

    def cells(self, rows: Iterable[int], by: str = "area") -> dict[str, Cell]:
        """One domain's rows summed per requirement area (``by="area"``) or per ID (``"id"``),
        waived failures and stale waivers counted apart."""
        cells: dict[str, Cell] = {}
        for number in rows:
            base = number * WIDTH
            info = self.requirements[self.rows[base + REQUIREMENT]]
            key = info.area if by == "area" else info.id
            cell = cells.get(key)
            if cell is None:
                cell = cells[key] = Cell()
            status, waived = STATUSES[self.rows[base + STATUS]], bool(self.rows[base + WAIVER])
            stale = is_stale(status, waived, OUTCOMES[self.rows[base + OUTCOME]])
            cell.add(status, waived=waived, stale=stale)
        return cells

    def totals(self) -> tuple[Counter[str], Counter[str], int]:
        """Tests per verdict status, tests per pytest outcome, and failures waived."""
        statuses = Counter(STATUSES[c] for c in self.rows[STATUS::WIDTH])
        outcomes = Counter(OUTCOMES[c] for c in self.rows[OUTCOME::WIDTH])
        fail = _STATUS_CODE["fail"]
        waived = sum(
            1
            for status, waiver in zip(
                self.rows[STATUS::WIDTH], self.rows[WAIVER::WIDTH], strict=True
            )
            if status == fail and waiver
        )
        return statuses, outcomes, waived

    def stale(self) -> int:
        """Stale waivers: passes under a waiver that pytest failed (see ``status.is_stale``)."""
        return sum(
            1
            for status, outcome, waiver in zip(
                self.rows[STATUS::WIDTH],
                self.rows[OUTCOME::WIDTH],
                self.rows[WAIVER::WIDTH],
                strict=True,
            )
            if is_stale(STATUSES[status], bool(waiver), OUTCOMES[outcome])
        )

    def iter_rows(self) -> Iterator[Sequence[int]]:
        for number in range(len(self)):
            yield self.row(number)

    def to_json(self) -> dict[str, Any]:
        """The table as plain JSON data: what a batch of ``govmail-sweep`` hands the merge."""
        return {
            "fields": list(FIELDS),
            "strings": self.strings,
            "lists": [list(item) for item in self.lists],
            "requirements": [
                [r.id, r.title, r.level, r.area, list(r.sources)] for r in self.requirements
            ],
            "rows": self.rows.tolist(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReportTable:
        """A table written by :meth:`to_json` (by this version: the fields must match)."""
        if list(data.get("fields", ())) != list(FIELDS):
            raise ValueError("report data of another pytest-govmail version (fields differ)")
        table = cls()
        table.strings = [str(s) for s in data["strings"]]
        table._string_ids = {s: i for i, s in enumerate(table.strings)}
        table.lists = [tuple(int(i) for i in item) for item in data["lists"]]
        table._list_ids = {item: i for i, item in enumerate(table.lists)}
        table.requirements = [
            RequirementInfo(str(i), str(t), str(lv), str(a), tuple(map(str, src)))
            for i, t, lv, a, src in data["requirements"]
        ]
        table._requirement_ids = {r.id: i for i, r in enumerate(table.requirements)}
        table.rows = array("i", data["rows"])
        if len(table.rows) % WIDTH:
            raise ValueError("report data rows are not whole")
        return table

    def extend(self, other: ReportTable) -> None:
        """Append ``other``'s tests, re-indexing its strings, lists and requirements into ours.

        Each of ``other``'s strings and lists is looked up once, not once per test: a batch of
        1,000 domains has ~59,000 tests but far fewer distinct texts.
        """
        strings = [self.string(text) for text in other.strings]
        lists = [self._intern_list(tuple(strings[i] for i in item)) for item in other.lists]
        requirements = []
        for info in other.requirements:
            index = self._requirement_ids.get(info.id)
            if index is None:
                index = self._requirement_ids[info.id] = len(self.requirements)
                self.requirements.append(info)
            requirements.append(index)
        mapping = (
            strings, requirements, strings, None, None, strings, lists, lists, lists, strings
        )  # fmt: skip
        rows = other.rows
        for start in range(0, len(rows), WIDTH):
            self.rows.extend(
                value if table is None else table[value]
                for table, value in zip(mapping, rows[start : start + WIDTH], strict=True)
            )

    def _intern_list(self, key: tuple[int, ...]) -> int:
        index = self._list_ids.get(key)
        if index is None:
            index = self._list_ids[key] = len(self.lists)
            self.lists.append(key)
        return index
