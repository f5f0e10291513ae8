"""A lean run protocol for govmail's suite tests: pytest's reports, without its per-phase hooks.

pytest runs each test through three phases, and each phase through a chain of hooks: capture
suspends and resumes output capture, logging installs and removes its handlers, the threads and
unraisable-exception plugins set up their own catchers, fixtures are set up and torn down, and
``pytest_runtest_makereport`` builds the report through half a dozen wrappers. A govmail suite
test needs none of it: it has no fixtures, and its body hands a verdict that a pure judge worked
out from evidence already collected. Measured on a 200-domain replay (bench/test_loop.py), that
machinery was over half of each test's time, and a nightly sweep runs 590,000 such tests.

So the plugin runs those tests itself (``pytest_runtest_protocol``, which pytest-xdist and
pytest-rerunfailures also implement): the verdict is decided, the test body is called, and the
same three reports pytest would build (tests/test_runner.py compares them) go to every
``pytest_runtest_logreport`` listener (terminal, JUnit XML, ``--lf``, ``-x``, xdist, our HTML).
``pytest_runtest_logstart``/``logfinish`` are called, and the hook wrappers around the protocol
(warnings, faulthandler) still wrap it. Not called for these tests: the per-phase hooks
``pytest_runtest_setup``/``call``/``teardown``, and ``pytest_runtest_makereport`` unless the
test ended in a way the plugin does not build itself (then the whole makereport chain runs);
``PYTEST_CURRENT_TEST`` is not set.

The lean protocol steps aside, and pytest runs the test as usual, whenever it could change what
happens: for a test with any other fixture or a skip/xfail/usefixtures marker; under ``--pdb``,
``--trace``, ``--runxfail``, ``--setup-only``/``--setup-plan``/``--setup-show`` or pytest-html's
``--html``; when any plugin or conftest.py not listed in :data:`NEEDLESS` (pytest's own: in
``pytest_private``) implements a per-phase hook; and when the ini option
``govmail_lean_protocol = false``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

import pytest

from pytest_govmail.plugin.assessment import Assessment, decide
from pytest_govmail.plugin.pytest_private import (
    PYTEST_NEEDLESS,
    govmail_report,
    teardown_towards,
)

if TYPE_CHECKING:
    from pytest_govmail.engine.run import GovmailRun
    from pytest_govmail.reports.terminal import GovmailReporter

Phase = Literal["setup", "call", "teardown"]

#: The per-phase hooks the lean protocol does not call for a suite test.
PHASE_HOOKS = (
    "pytest_runtest_setup",
    "pytest_runtest_call",
    "pytest_runtest_teardown",
    "pytest_runtest_makereport",
    "pytest_pyfunc_call",
    "pytest_fixture_setup",
    "pytest_fixture_post_finalizer",
)

#: Other plugins' modules whose per-phase hook implementations have nothing to do for a suite
#: test, and why; pytest's own are listed in :data:`PYTEST_NEEDLESS`. Any other implementation
#: (a plugin or conftest.py) hands the suite tests back to pytest.
NEEDLESS: dict[str, str] = {
    "pytest_govmail.plugin": "this plugin: done by the lean protocol itself",
    "pytest_govmail.reports.terminal": "this plugin: done by the lean protocol itself",
    "pytest_benchmark.plugin": "tests using the benchmark fixture or marker only",
    "_hypothesis_pytestplugin": "@given tests only",
    "anyio.pytest_plugin": "async tests only",
    "pytest_html.plugin": "report extras (--html turns the lean protocol off)",
}

#: Options under which pytest's own protocol must run every test.
PYTEST_ONLY_OPTIONS = {
    "usepdb": "--pdb",
    "trace": "--trace",
    "runxfail": "--runxfail",
    "setuponly": "--setup-only",
    "setupplan": "--setup-plan",
    "setupshow": "--setup-show",
    "htmlpath": "--html",
}

#: Markers a lean test must not carry (pytest acts on them in the per-phase hooks).
PHASE_MARKERS = frozenset({"skip", "skipif", "xfail", "usefixtures"})


def refusal(config: pytest.Config) -> str | None:
    """Why pytest's own protocol must run the suite tests in this session, or None."""
    if not config.getini("govmail_lean_protocol"):
        return "govmail_lean_protocol = false"
    for dest, flag in PYTEST_ONLY_OPTIONS.items():
        if getattr(config.option, dest, None):
            return flag
    for hook in PHASE_HOOKS:
        for impl in getattr(config.pluginmanager.hook, hook).get_hookimpls():
            plugin = impl.plugin
            module = plugin.__name__ if isinstance(plugin, ModuleType) else plugin.__module__
            if module not in NEEDLESS and module not in PYTEST_NEEDLESS:
                return f"{impl.plugin_name} implements {hook}"
    return None


def lean_assessment(item: pytest.Item) -> Assessment | None:
    """The suite test's :class:`Assessment` when the lean protocol can run it, else None."""
    from pytest_govmail.plugin.keys import assessment_key

    assessment = item.stash.get(assessment_key, None)
    if assessment is None or not isinstance(item, pytest.Function):
        return None
    if item.fixturenames != ["govmail"] or item.callspec.params.get("govmail") is not assessment:
        return None
    if any(mark.name in PHASE_MARKERS for mark in item.iter_markers()):
        return None
    return assessment


class LeanProtocol:
    """Runs suite tests as described above; registered by the plugin for a govmail run."""

    def __init__(
        self,
        config: pytest.Config,
        run: GovmailRun,
        reporter: GovmailReporter,
        say: Callable[[str], None] | None,
    ) -> None:
        self.config = config
        self.run = run
        self.reporter = reporter
        self.say = say
        self._refusal: str | None = None
        self._checked = False

    def enabled(self) -> bool:
        """Checked at the first test, when every conftest.py has been loaded."""
        if not self._checked:
            self._checked = True
            self._refusal = refusal(self.config)
            if self._refusal is not None and self.say is not None:
                self.say(f"suite tests run by pytest's own protocol ({self._refusal})")
        return self._refusal is None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Any:
        if not self.enabled():
            return None
        assessment = lean_assessment(item)
        if assessment is None:
            return None
        ihook = item.ihook
        ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        passed = self._phase(item, ihook, "setup", lambda: decide(assessment, self.run))
        if passed:
            function = item.obj  # type: ignore[attr-defined]
            self._phase(item, ihook, "call", lambda: function(govmail=assessment))
        session = item.session
        if session.shouldfail or session.shouldstop:
            nextitem = None
        self._phase(item, ihook, "teardown", teardown_towards(item, nextitem))
        ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    def _phase(
        self,
        item: pytest.Item,
        ihook: Any,
        when: Phase,
        action: Callable[[], object] | None,
    ) -> bool:
        """One phase: run it, report it as pytest would; True when it passed."""
        call: pytest.CallInfo[object] = pytest.CallInfo.from_call(
            action or _nothing, when, reraise=(pytest.exit.Exception, KeyboardInterrupt)
        )
        error = call.excinfo.value if call.excinfo is not None else None
        if when == "call" and isinstance(error, Exception):
            # For post-mortem tools, as pytest's own ``pytest_runtest_call`` sets them.
            sys.last_type, sys.last_value, sys.last_traceback = (
                type(error),
                error,
                error.__traceback__,
            )
        report = govmail_report(item, call)
        if report is None:  # only for an error it does not build itself
            report = ihook.pytest_runtest_makereport(item=item, call=call)
        else:
            self.reporter.annotate(item, report)
        ihook.pytest_runtest_logreport(report=report)
        if (
            error is not None
            and not isinstance(error, pytest.skip.Exception)
            and not hasattr(report, "wasxfail")
        ):
            ihook.pytest_exception_interact(node=item, call=call, report=report)
        return report.passed


def _nothing() -> None:
    """A phase with nothing to do (a teardown with no node to tear down)."""
