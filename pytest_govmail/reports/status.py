"""The statuses a report shows, once: how each reads everywhere, and which is worst.

A judge answers with one of four verdict statuses (:class:`~pytest_govmail.model.verdict.Status`).
The reports add two: ``waived``, a failure that a current waiver accepts (the test is an
xfail), and ``stale``, a pass that a waiver still covers (pytest fails it). Neither is stored:
each is worked out from a row's status, waiver and pytest outcome (:func:`is_stale`). Every
report sums a group of tests (a domain's area, a requirement, a domain's tests of one ID) into
its worst status: the terminal summary, the pytest-html matrix, our page's matrix and
per-requirement table, and the page's script for its by-ID view. They must agree, so the words,
symbols and classes of each status, and their order, are here and nowhere else, and
:func:`worst` is the one rule that picks a group's status.

The order is worst first: a failure not waived, then an error (the probe could not tell: the
domain may fail and nobody can say, and a waiver never covers it), then a stale waiver (the
domain passes, but a waiver no longer needed fails the run), then a waived failure (known
and accepted until the waiver expires), then a pass, then not applicable. A waiver accepts one
known failure; it must not hide an error in the same group, because an assessor scanning for
errors reads the cell and not the counts.

No pytest and no HTML here; this module imports only :mod:`pytest_govmail.model`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from pytest_govmail.model.verdict import Status

#: The report-only status: a failure a current waiver accepts.
WAIVED = "waived"
#: The report-only status of a stale waiver: a test that passes under a waiver. pytest counts
#: it as a failure (XPASS(strict), so that the waiver is removed once the domain is fixed:
#: https://docs.pytest.org/en/stable/how-to/skipping.html#strict-parameter). The domain meets
#: the requirement, but the run fails until its waiver file is brought up to date, so a group
#: holding one must not read "ok".
STALE = "stale"


@dataclass(frozen=True, slots=True)
class Look:
    """How one status reads in each report."""

    #: The status: a :class:`Status` value, :data:`STALE` or :data:`WAIVED`.
    name: str
    #: The terminal summary's matrix cell (at most 7 characters: the column width).
    symbol: str
    #: Our page's matrix cell class (one letter: a 10,000-domain matrix has 130,000 cells).
    css: str
    #: Our page's matrix cell text.
    short: str
    #: The word both HTML reports use ("error": what pytest calls an inconclusive test).
    label: str
    #: The words of the terminal's totals line.
    words: str


#: Every status, worst first (see the module docstring for why this order).
LOOKS = (
    Look(Status.FAIL.value, "FAIL", "f", "F", "fail", "fail"),
    Look(Status.INCONCLUSIVE.value, "ERR", "e", "E", "error", "inconclusive"),
    # Not "s"/"S": on our page those mark a failing cell where only a SHOULD fails ("f s").
    Look(STALE, "STALE", "t", "stale", "stale waiver", "stale waiver"),
    Look(WAIVED, "waived", "w", "W", "waived", "waived"),
    Look(Status.PASS.value, "ok", "p", "ok", "pass", "pass"),
    Look(Status.NOT_APPLICABLE.value, "-", "n", "-", "n/a", "not applicable"),
)
LOOK = {look.name: look for look in LOOKS}
#: How a stale waiver reads (kept by name for the callers that show it apart).
STALE_LOOK = LOOK[STALE]
#: Status names, worst first.
WORST_FIRST = tuple(look.name for look in LOOKS)
#: Every status :func:`worst` may answer, worst first.
RANKED = WORST_FIRST
#: The verdict statuses, worst first. A test's row in the report data stores its status as an
#: index into this tuple (and sweep batches exchange those rows): the order may never change.
#: The two report-only statuses are worked out from a row (its waiver and pytest's outcome).
STATUSES = tuple(name for name in WORST_FIRST if name not in (STALE, WAIVED))
#: What pytest made of a test; "error" is a failure outside the test call (an inconclusive
#: probe). Rows store an index into this tuple too.
OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")

#: The maps our page's data block carries for its script. ``LABEL`` lists the verdict statuses
#: in their declaration order (:class:`Status`), then the report-only ones worst first (the
#: script looks them up by name).
LABEL = {name: LOOK[name].label for name in (*(s.value for s in Status), STALE, WAIVED)}
CLASS = {name: LOOK[name].css for name in (*STATUSES, STALE, WAIVED)}
SHORT = {name: LOOK[name].short for name in (*STATUSES, STALE, WAIVED)}
SYMBOL = {name: LOOK[name].symbol for name in WORST_FIRST}


def is_stale(status: str, waived: bool, outcome: str) -> bool:
    """Whether a test is a stale waiver: it passes, a waiver covers it, and pytest failed it
    (XPASS(strict)). Worked out from what every report row already holds."""
    return waived and status == Status.PASS.value and outcome == "failed"


def worst(counts: Mapping[str, int], waived: int = 0, stale: int = 0) -> str:
    """The worst status of a group of tests.

    ``counts`` is the number of tests per verdict status, ``waived`` how many of its failures
    a waiver accepts, and ``stale`` how many of its passes a waiver still covers (stale
    waivers, which pytest fails). A group with no tests reads ``not_applicable``.
    """
    fails = counts.get(Status.FAIL.value, 0)
    passes = counts.get(Status.PASS.value, 0)
    if not 0 <= waived <= fails:
        raise ValueError(f"{waived} waived failure(s) among {fails} failure(s)")
    if not 0 <= stale <= passes:
        raise ValueError(f"{stale} stale waiver(s) among {passes} pass(es)")
    seen = {
        **counts,
        Status.FAIL.value: fails - waived,
        WAIVED: waived,
        Status.PASS.value: passes - stale,
        STALE: stale,
    }
    return next((name for name in RANKED if seen.get(name, 0)), Status.NOT_APPLICABLE.value)


@dataclass(slots=True)
class Cell:
    """A group of tests (a domain's area, a requirement): counts per verdict status."""

    counts: Counter[str] = field(default_factory=Counter)
    #: How many of the failures a waiver accepts.
    waived_failures: int = 0
    #: How many of the passes are stale waivers (counted where the caller says so: ``stale``).
    stale_waivers: int = 0

    def add(self, status: str, waived: bool = False, stale: bool = False) -> None:
        """Count one test; ``waived`` when a waiver covers it (it counts only for a failure),
        ``stale`` for a pass under a waiver that pytest failed (XPASS(strict))."""
        self.counts[status] += 1
        if waived and status == Status.FAIL.value:
            self.waived_failures += 1
        elif stale and status == Status.PASS.value:
            self.stale_waivers += 1

    @property
    def worst(self) -> str:
        """The group's status by :func:`worst`."""
        return worst(self.counts, self.waived_failures, self.stale_waivers)
