"""The plugin's own TestReports say what pytest's would, and only one module uses pytest's
private names.

``pytest_govmail.plugin.pytest_private`` skips pytest's traceback formatting for a govmail test's
own message-only exceptions. Each case here raises the same exception in a real test item and
compares our report with the one pytest builds (``TestReport.from_item_and_call``), field by
field, including the text a terminal, JUnit or the short summary would show. Every other module
of the package keeps to pytest's public API (https://docs.pytest.org/en/stable/reference/
reference.html), so that a pytest release changes nothing the plugin relies on but what that one
module lists.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest

import pytest_govmail
from pytest_govmail.plugin import pytest_private
from pytest_govmail.plugin.pytest_private import govmail_report, skip_at_item

MESSAGE = "DMARC-03 FAIL example-dept.gov.uk: p=none\n  observed: none\n  expected: reject"


def _fail() -> None:
    pytest.fail(MESSAGE, pytrace=False)


def _skip_at_item() -> None:
    skip_at_item("DMARC-07 not applicable: parked")


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


def _names(tree: ast.AST) -> set[str]:
    """The attribute, function and class names a module defines."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)  # dataclass fields
    return names


def _private_uses(tree: ast.AST, pytests: set[str]) -> list[tuple[int, str]]:
    """Where a module imports ``_pytest``, or uses a private name of pytest's (from ``pytests``):
    an underscore attribute or keyword, a cached attribute written through ``__dict__``, an
    option's value written into ``config.option``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom | ast.Import):
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            modules += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            found += [(node.lineno, m) for m in modules if m.split(".")[0] == "_pytest"]
        elif isinstance(node, ast.Constant) and str(node.value).startswith("_pytest."):
            found.append((node.lineno, str(node.value)))
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            if node.attr in pytests and not node.attr.startswith("__"):
                found.append((node.lineno, f".{node.attr}"))
        elif isinstance(node, ast.keyword) and node.arg in pytests and node.arg.startswith("_"):
            found.append((node.lineno, f"{node.arg}="))
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "__dict__"
            and isinstance(node.slice, ast.Constant)
            and node.slice.value in pytests
        ):
            found.append((node.lineno, f"__dict__[{node.slice.value!r}]"))
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "option"
        ):
            found.append((node.lineno, f"option.{node.attr} ="))
    return found


def test_only_the_adapter_uses_pytests_private_names() -> None:
    package = Path(pytest_govmail.__file__).parent
    adapter = Path(pytest_private.__file__)
    modules = {path: ast.parse(path.read_text("utf-8")) for path in sorted(package.rglob("*.py"))}
    assert len(modules) > 50 and adapter in modules
    # pytest's names are those its own source defines and this package does not.
    source = Path(pytest.__file__).parents[1] / "_pytest"
    pytests = set().union(*(_names(ast.parse(f.read_text("utf-8"))) for f in source.rglob("*.py")))
    pytests -= set().union(*(_names(tree) for path, tree in modules.items() if path != adapter))
    assert {"_setupstate", "_ispytest", "_use_item_location", "_report_sections"} <= pytests
    uses = {
        f"{path.relative_to(package)}:{line}: {what}"
        for path, tree in modules.items()
        if path != adapter
        for line, what in _private_uses(tree, pytests)
    }
    assert sorted(uses) == []
    # The scan finds them where they are: in the adapter, each with its comment.
    found = {what for _, what in _private_uses(modules[adapter], pytests)}
    assert {
        "_pytest._code.code",
        "._setupstate",
        "._report_sections",
        "._use_item_location",
        "_use_item_location=",
        "option.tbstyle =",
        "option.xmlpath =",
    } <= found
