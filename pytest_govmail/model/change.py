"""How one test changed against a baseline run: the kinds of change, and the DNS records that moved.

A run given ``--govmail-baseline`` judges the baseline's evidence with today's catalogue and
judges (:mod:`pytest_govmail.plugin.baseline`) and compares each test's verdict status with the
one the same test gets from that evidence. This module is the comparison itself: pure functions
of two statuses and two sets of DNS answers, so that the table of what counts as a new failure,
a fix or a regression for the CI gate (``--govmail-fail-on new``) is data a test can read
whole (tests/test_change.py).

Statuses are compared, not pytest outcomes: a waiver changes how pytest reports a failure, not
whether the domain meets the requirement, and the baseline's waivers are not today's.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from pytest_govmail.model.dns import DnsResult, DnsView
from pytest_govmail.model.text import inert
from pytest_govmail.model.verdict import Status


class Change(enum.StrEnum):
    """How a test's verdict moved since the baseline (the ``govmail.change`` JUnit property)."""

    NEW_FAILURE = "new failure"
    NEWLY_INCONCLUSIVE = "newly inconclusive"
    FIXED = "fixed"
    STILL_FAILING = "still failing"
    NO_LONGER_INCONCLUSIVE = "no longer inconclusive"
    UNCHANGED = "unchanged"
    #: The baseline has no such test: a domain or MX host it did not assess.
    NEW_TEST = "new test"
    #: The baseline's catalogue had no such requirement (or its evidence could not be judged):
    #: a requirement added since is not a regression.
    NOT_COMPARABLE = "not comparable"


#: The changes that make a test worse than the baseline: what ``--govmail-fail-on new`` fails on.
WORSE = frozenset({Change.NEW_FAILURE, Change.NEWLY_INCONCLUSIVE})

#: The order in which counts and lists are shown: what got worse first.
SHOWN_ORDER = (
    Change.NEW_FAILURE,
    Change.NEWLY_INCONCLUSIVE,
    Change.FIXED,
    Change.NO_LONGER_INCONCLUSIVE,
    Change.STILL_FAILING,
    Change.UNCHANGED,
    Change.NEW_TEST,
    Change.NOT_COMPARABLE,
)

#: A record's text in a change line is cut here (a 17 KiB SPF set would swamp the summary).
MAX_RECORD_TEXT = 600


def compare(was: Status | None, now: Status, comparable: bool = True) -> Change:
    """The change from the baseline's status ``was`` (None: the baseline had no such test) to
    today's ``now``.

    A failure is new unless the baseline failed too; a baseline that could not tell
    (inconclusive) did not show the failure, so a failure after it is new as well. An
    inconclusive verdict is new unless the baseline's was inconclusive too; after a failure it
    is still new (the failure can no longer be seen, which a CI gate must not take for a fix).
    A pass or a "does not apply" after a failure is a fix; after an inconclusive verdict it is
    no longer inconclusive; after a pass or a "does not apply" nothing changed that matters.
    """
    if not comparable:
        return Change.NOT_COMPARABLE
    if was is None:
        return Change.NEW_TEST
    if now is Status.FAIL:
        return Change.STILL_FAILING if was is Status.FAIL else Change.NEW_FAILURE
    if now is Status.INCONCLUSIVE:
        return Change.UNCHANGED if was is Status.INCONCLUSIVE else Change.NEWLY_INCONCLUSIVE
    if was is Status.FAIL:
        return Change.FIXED
    if was is Status.INCONCLUSIVE:
        return Change.NO_LONGER_INCONCLUSIVE
    return Change.UNCHANGED


@dataclass(frozen=True, slots=True)
class RecordChange:
    """One DNS question whose answer differs: its key (``_dmarc.a.gov.uk/TXT``) and the two
    answers as text, inert (control and formatting characters as escapes) and bounded."""

    key: str
    was: str
    now: str

    def to_json(self) -> list[str]:
        return [self.key, self.was, self.now]


def answer_text(result: DnsResult | None) -> str:
    """An answer as it is shown beside another: the records, or what came instead of them."""
    if result is None:
        return "not asked"
    if result.error is not None:
        text = f"no answer ({result.error.kind.value})"
    elif not result.records:
        text = "NXDOMAIN" if result.rcode == "NXDOMAIN" else "no records (NODATA)"
    else:
        text = " | ".join(sorted(result.records))
    text = inert(text)
    return text if len(text) <= MAX_RECORD_TEXT else text[: MAX_RECORD_TEXT - 1] + "…"


def same_answer(was: DnsResult | None, now: DnsResult | None) -> bool:
    """Whether two answers say the same: the same records (in any order), the same rcode, the
    same failure kind and CNAME chain. TTLs, timings and the resolver are not the record."""
    if was is None or now is None:
        return was is now
    return (
        sorted(was.records) == sorted(now.records)
        and was.rcode == now.rcode
        and (was.error.kind if was.error else None) == (now.error.kind if now.error else None)
        and was.cname_chain == now.cname_chain
    )


def record_changes(keys: Iterable[str], was: DnsView, now: DnsView) -> tuple[RecordChange, ...]:
    """The DNS answers among ``keys`` (``name/RDTYPE``, as a verdict's evidence names them)
    that differ between the baseline's evidence ``was`` and today's ``now``, in key order.

    A question one run asked and the other did not is a change only when the run that asked it
    got records: a question neither needed (another planner's) says nothing.
    """
    found = []
    for key in sorted(set(keys)):
        name, _, rdtype = key.rpartition("/")
        if not name:
            continue
        old, new = was.get(name, rdtype), now.get(name, rdtype)
        if same_answer(old, new):
            continue
        if (old is None and new is not None and new.void) or (
            new is None and old is not None and old.void
        ):
            continue
        found.append(RecordChange(inert(key), answer_text(old), answer_text(new)))
    return tuple(found)


@dataclass(frozen=True, slots=True)
class Comparison:
    """One test against the baseline: the change, the baseline's status (None when it had no
    such test), the records that moved, and a note saying why when it could not compare."""

    change: Change
    was: Status | None
    records: tuple[RecordChange, ...] = ()
    note: str = ""

    def describe(self) -> str:
        """The change as a test's details show it: kind, the baseline's status, the records
        old and new (already inert), and why it could not be compared."""
        was = self.was.value if self.was is not None else "no such test"
        lines = [f"{self.change.value} (baseline: {was})"]
        if self.note:
            lines.append(self.note)
        for record in self.records:
            lines += [record.key, f"  baseline: {record.was}", f"  this run: {record.now}"]
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        """Plain data for ``report.govmail["change"]`` (it crosses pytest-xdist as is)."""
        data: dict[str, object] = {
            "kind": self.change.value,
            "was": self.was.value if self.was is not None else None,
        }
        if self.records:
            data["records"] = [r.to_json() for r in self.records]
        if self.note:
            data["note"] = self.note
        return data
