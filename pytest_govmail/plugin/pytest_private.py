"""Test reports for govmail tests, built without pytest's traceback machinery.

A govmail test fails, errors and skips through exceptions it raises on purpose with a message
written for the reader (``pytest.fail(..., pytrace=False)``, a skip at the test's location).
pytest would still walk, filter and stat every traceback frame to format them, only to print the
message: in a 1,000-domain sweep (59,000 tests, a third of them failing or skipped) that was a
tenth of the run. This builds the same report pytest would, with the same ``longrepr`` shape
(the "value" style of a ``pytrace=False`` failure; a ``(path, line, reason)`` skip), straight
from the message. Anything else (a judge that crashed, a custom suite's own assertion, a
waiver's xfail, which is rare and whose traceback pytest keeps) returns ``None`` and pytest
builds the report as usual. tests/test_testreport.py holds the two builders to the same report.
"""

from __future__ import annotations

import os

import pytest
from _pytest._code.code import (
    ExceptionChainRepr,
    ReprEntry,
    ReprFileLocation,
    ReprTraceback,
)
from _pytest.outcomes import Failed, Skipped

keywords_key = pytest.StashKey[dict[str, int]]()


def govmail_report(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport | None:
    """The report of one phase of a govmail test, or None to let pytest build it."""
    excinfo = call.excinfo
    return build_report(
        item,
        call.when,
        excinfo.value if excinfo is not None else None,
        call.start,
        call.stop,
        call.duration,
    )


def build_report(
    item: pytest.Item,
    when: str,
    error: BaseException | None,
    start: float,
    stop: float,
    duration: float,
) -> pytest.TestReport | None:
    """The report of a phase that raised ``error`` (or nothing), or None for pytest to build."""
    longrepr: object = None
    if error is None:
        outcome = "passed"
    elif isinstance(error, Skipped) and error._use_item_location:
        outcome = "skipped"
        longrepr = (os.fspath(item.path), _line(item), _exconly(error, "Skipped"))
    elif isinstance(error, Failed) and not error.pytrace and type(error) is Failed:
        outcome = "failed"
        longrepr = _value_repr(item, error)
    else:
        return None
    keywords = item.stash.get(keywords_key, None)
    if keywords is None:
        # The same for all three phases: computed once (pytest walks every parent per report).
        keywords = item.stash[keywords_key] = {name: 1 for name in item.keywords}
    sections = [(f"Captured {key} {when}", content) for when, key, content in item._report_sections]
    return pytest.TestReport(
        item.nodeid,
        item.location,
        keywords,
        outcome,  # type: ignore[arg-type]
        longrepr,  # type: ignore[arg-type]
        when,  # type: ignore[arg-type]
        sections,
        duration,
        start,
        stop,
        user_properties=item.user_properties,
    )


def _line(item: pytest.Item) -> int:
    """The test function's line, one-based, as pytest shows it for a skip at the item."""
    line = item.location[1]
    return (line or 0) + 1


def _exconly(error: BaseException, kind: str) -> str:
    """What ``ExceptionInfo.exconly(tryshort=True)`` gives: ``Failed: message``."""
    return f"{kind}: {error}"


def _value_repr(item: pytest.Item, error: Failed) -> ExceptionChainRepr:
    """pytest's repr of a ``pytrace=False`` failure: the message, and the test as crash site."""
    lines = str(error).split("\n")
    entry = ReprEntry(lines, None, None, None, "value")
    traceback = ReprTraceback([entry], None, style="value")
    crash = ReprFileLocation(
        os.fspath(item.path), _line(item), _exconly(error, type(error).__name__)
    )
    return ExceptionChainRepr([(traceback, crash, None)])
