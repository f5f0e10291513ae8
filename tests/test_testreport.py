"""The plugin's own TestReports say what pytest's would, for the outcomes it builds itself.

``pytest_govmail.plugin.pytest_private`` skips pytest's traceback formatting for a govmail test's
own
message-only exceptions. Each case here raises the same exception in a real test item and
compares our report with the one pytest builds (``TestReport.from_item_and_call``), field by
field, including the text a terminal, JUnit or the short summary would show.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pytest_govmail.plugin.pytest_private import govmail_report

MESSAGE = "DMARC-03 FAIL example-dept.gov.uk: p=none\n  observed: none\n  expected: reject"


def _fail() -> None:
    pytest.fail(MESSAGE, pytrace=False)


def _skip_at_item() -> None:
    raise pytest.skip.Exception("DMARC-07 not applicable: parked", _use_item_location=True)


def _xfail() -> None:
    pytest.xfail("waived: until 2027-01-01 | " + MESSAGE)


def _boom() -> None:
    raise ValueError("a judge crashed")


@pytest.fixture
def item(pytester: pytest.Pytester) -> pytest.Item:
    return pytester.getitem("def test_func(): pass")


@pytest.mark.parametrize("when", ["setup", "call"])
@pytest.mark.parametrize("raiser", [_fail, _skip_at_item], ids=["fail", "skip"])
def test_same_report_as_pytest(item: pytest.Item, raiser: Callable[[], None], when: str) -> None:
    call = pytest.CallInfo.from_call(raiser, when)  # type: ignore[arg-type]
    ours = govmail_report(item, call)
    theirs = pytest.TestReport.from_item_and_call(item, call)
    assert ours is not None
    assert (ours.outcome, ours.when, ours.nodeid, ours.location) == (
        theirs.outcome,
        theirs.when,
        theirs.nodeid,
        theirs.location,
    )
    assert ours.keywords == theirs.keywords
    assert ours.longreprtext == theirs.longreprtext
    assert ours.head_line == theirs.head_line
    if ours.outcome == "skipped":
        assert ours.longrepr == theirs.longrepr
    else:
        # What the short summary and JUnit's failure message show.
        assert ours.longrepr.reprcrash.message == theirs.longrepr.reprcrash.message  # type: ignore[union-attr]


def test_passes_are_plain_and_anything_else_goes_to_pytest(item: pytest.Item) -> None:
    passed = govmail_report(item, pytest.CallInfo.from_call(lambda: None, "call"))
    assert passed is not None and passed.outcome == "passed" and passed.longrepr is None
    # A crash keeps pytest's full traceback: the plugin builds no report for it.
    assert govmail_report(item, pytest.CallInfo.from_call(_boom, "call")) is None
    # So do a skip raised at its own line (not at the item), a fail with a traceback and a
    # waiver's xfail (pytest keeps its traceback in the report).
    assert (
        govmail_report(item, pytest.CallInfo.from_call(lambda: pytest.skip("x"), "setup")) is None
    )
    assert govmail_report(item, pytest.CallInfo.from_call(lambda: pytest.fail("x"), "call")) is None
    assert govmail_report(item, pytest.CallInfo.from_call(_xfail, "call")) is None
