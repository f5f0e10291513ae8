"""The comparison with a baseline as data tables: every pair of statuses, and records that moved.

:func:`pytest_govmail.model.change.compare` decides what ``--govmail-fail-on new`` fails on, so
its whole table is written out here, one row per (baseline, today) pair, rather than a few
examples of it.
"""

from __future__ import annotations

import unicodedata

import pytest
from factories import answer, failed, nxdomain, txt
from hypothesis import given
from hypothesis import strategies as st

from pytest_govmail.model.change import (
    MAX_RECORD_TEXT,
    WORSE,
    Change,
    Comparison,
    RecordChange,
    answer_text,
    compare,
    record_changes,
)
from pytest_govmail.model.dns import DnsResult, DnsSnapshot, ErrorKind
from pytest_govmail.model.verdict import Status

P, F, U, N = Status.PASS, Status.FAIL, Status.INCONCLUSIVE, Status.NOT_APPLICABLE  # U: unknown

#: (baseline status or None, today's status, change).
TABLE = [
    (P, P, Change.UNCHANGED),
    (P, F, Change.NEW_FAILURE),
    (P, U, Change.NEWLY_INCONCLUSIVE),
    (P, N, Change.UNCHANGED),
    (F, P, Change.FIXED),
    (F, F, Change.STILL_FAILING),
    (F, U, Change.NEWLY_INCONCLUSIVE),  # the failure can no longer be seen: not a fix
    (F, N, Change.FIXED),  # e.g. the domain was parked properly
    (U, P, Change.NO_LONGER_INCONCLUSIVE),
    (U, F, Change.NEW_FAILURE),  # the baseline could not show this failure
    (U, U, Change.UNCHANGED),
    (U, N, Change.NO_LONGER_INCONCLUSIVE),
    (N, P, Change.UNCHANGED),
    (N, F, Change.NEW_FAILURE),
    (N, U, Change.NEWLY_INCONCLUSIVE),
    (N, N, Change.UNCHANGED),
    (None, P, Change.NEW_TEST),
    (None, F, Change.NEW_TEST),
    (None, U, Change.NEW_TEST),
    (None, N, Change.NEW_TEST),
]


@pytest.mark.parametrize(("was", "now", "change"), TABLE, ids=lambda v: str(v))
def test_compare(was: Status | None, now: Status, change: Change) -> None:
    assert compare(was, now) is change


def test_the_table_covers_every_pair() -> None:
    pairs = {(was, now) for was, now, _ in TABLE}
    assert pairs == {(w, n) for w in (*Status, None) for n in Status}


@pytest.mark.parametrize("was", [*Status, None])
@pytest.mark.parametrize("now", list(Status))
def test_not_comparable_wins_over_any_status(was: Status | None, now: Status) -> None:
    assert compare(was, now, comparable=False) is Change.NOT_COMPARABLE


def test_only_new_failures_and_newly_inconclusive_are_worse() -> None:
    assert {Change.NEW_FAILURE, Change.NEWLY_INCONCLUSIVE} == WORSE


DMARC = "_dmarc.a.gov.uk/TXT"


@pytest.mark.parametrize(
    ("was", "now", "expected"),
    [
        pytest.param(
            [txt("_dmarc.a.gov.uk", "v=DMARC1; p=reject")],
            [txt("_dmarc.a.gov.uk", "v=DMARC1; p=none")],
            [(DMARC, '"v=DMARC1; p=reject"', '"v=DMARC1; p=none"')],
            id="record-edited",
        ),
        pytest.param(
            [txt("_dmarc.a.gov.uk", "v=DMARC1; p=reject")],
            [answer("_dmarc.a.gov.uk", "TXT", '"v=DMARC1; p=reject"', ttl=60)],
            [],
            id="ttl-only-is-no-change",
        ),
        pytest.param(
            [answer("a.gov.uk", "MX", "10 a.mx.", "20 b.mx.")],
            [answer("a.gov.uk", "MX", "20 b.mx.", "10 a.mx.")],
            [],
            id="order-is-no-change",
        ),
        pytest.param(
            [txt("_dmarc.a.gov.uk", "v=DMARC1; p=reject")],
            [failed("_dmarc.a.gov.uk", "TXT", ErrorKind.SERVFAIL)],
            [(DMARC, '"v=DMARC1; p=reject"', "no answer (servfail)")],
            id="answer-to-failure",
        ),
        pytest.param(
            [failed("_dmarc.a.gov.uk", "TXT", ErrorKind.TIMEOUT)],
            [failed("_dmarc.a.gov.uk", "TXT", ErrorKind.SERVFAIL)],
            [(DMARC, "no answer (timeout)", "no answer (servfail)")],
            id="failure-kind",
        ),
        pytest.param(
            [failed("_dmarc.a.gov.uk", "TXT", ErrorKind.TIMEOUT)],
            [failed("_dmarc.a.gov.uk", "TXT", ErrorKind.TIMEOUT)],
            [],
            id="same-failure-other-detail",
        ),
        pytest.param(
            [txt("_dmarc.a.gov.uk", "v=DMARC1; p=reject")],
            [nxdomain("_dmarc.a.gov.uk", "TXT")],
            [(DMARC, '"v=DMARC1; p=reject"', "NXDOMAIN")],
            id="record-removed",
        ),
        pytest.param(
            [answer("_dmarc.a.gov.uk", "TXT")],
            [nxdomain("_dmarc.a.gov.uk", "TXT")],
            [(DMARC, "no records (NODATA)", "NXDOMAIN")],
            id="nodata-to-nxdomain",
        ),
        pytest.param(
            [],
            [nxdomain("_dmarc.a.gov.uk", "TXT")],
            [],
            id="not-asked-then-void",
        ),
        pytest.param(
            [txt("_dmarc.a.gov.uk", "v=DMARC1; p=reject")],
            [],
            [(DMARC, '"v=DMARC1; p=reject"', "not asked")],
            id="records-then-not-asked",
        ),
        pytest.param(
            [txt("_dmarc.a.gov.uk", "v=DMARC1; p=reject")],
            [txt("_dmarc.a.gov.uk", "v=DMARC1; p=none\x1b[2J\u202e<script>")],
            [(DMARC, '"v=DMARC1; p=reject"', '"v=DMARC1; p=none\\x1b[2J\\u202e<script>"')],
            id="hostile-shown-inert",
        ),
    ],
)
def test_record_changes(
    was: list[DnsResult], now: list[DnsResult], expected: list[tuple[str, str, str]]
) -> None:
    keys = [DMARC, "a.gov.uk/MX"]
    found = record_changes(keys, DnsSnapshot(was), DnsSnapshot(now))
    assert [(c.key, c.was, c.now) for c in found] == expected


def test_a_key_without_a_name_is_ignored() -> None:
    assert record_changes(["TXT", "/TXT"], DnsSnapshot(), DnsSnapshot()) == ()


def test_a_huge_record_is_cut() -> None:
    shown = answer_text(txt("a.gov.uk", "v=spf1 " + "ip4:192.0.2.1 " * 2000))
    assert len(shown) == MAX_RECORD_TEXT and shown.endswith("…")


def test_comparison_as_report_data() -> None:
    comparison = Comparison(
        Change.NEW_FAILURE, Status.PASS, (RecordChange(DMARC, "old", "new"),), note=""
    )
    assert comparison.to_json() == {
        "kind": "new failure",
        "was": "pass",
        "records": [[DMARC, "old", "new"]],
    }
    assert Comparison(Change.NEW_TEST, None, note="n").to_json() == {
        "kind": "new test",
        "was": None,
        "note": "n",
    }


_TEXT = st.text(st.characters(codec="utf-8"), max_size=40)
_ANSWERS = st.one_of(
    st.none(),
    st.builds(
        DnsResult,
        name=st.just("a.gov.uk"),
        rdtype=st.just("TXT"),
        rcode=st.sampled_from(["NOERROR", "NXDOMAIN", None]),
        records=st.lists(_TEXT, max_size=3).map(tuple),
        error=st.none(),
    ),
    st.sampled_from(list(ErrorKind)).map(lambda k: failed("a.gov.uk", "TXT", k)),
)


@given(_ANSWERS, _ANSWERS)
def test_record_changes_on_any_answers(was: DnsResult | None, now: DnsResult | None) -> None:
    """Whatever two answers hold: no change for the same answer, the same change either way
    round (old and new swapped), and text with no control or formatting character in it."""
    view = lambda r: DnsSnapshot([r] if r is not None else [])  # noqa: E731
    found = record_changes(["a.gov.uk/TXT"], view(was), view(now))
    assert record_changes(["a.gov.uk/TXT"], view(was), view(was)) == ()
    back = record_changes(["a.gov.uk/TXT"], view(now), view(was))
    assert [(c.was, c.now) for c in found] == [(c.now, c.was) for c in back]
    hidden = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}  # what model/text.py's inert escapes
    for change in found:
        for text in (change.key, change.was, change.now):
            assert not [ch for ch in text if unicodedata.category(ch) in hidden]


def test_comparison_described_for_a_tests_details() -> None:
    comparison = Comparison(
        Change.NEW_FAILURE, Status.PASS, (RecordChange(DMARC, '"p=reject"', '"p=none"'),)
    )
    assert comparison.describe() == (
        'new failure (baseline: pass)\n_dmarc.a.gov.uk/TXT\n  baseline: "p=reject"\n'
        '  this run: "p=none"'
    )
    assert Comparison(Change.NEW_TEST, None, note="no such domain").describe() == (
        "new test (baseline: no such test)\nno such domain"
    )
