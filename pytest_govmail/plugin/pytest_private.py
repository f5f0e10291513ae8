"""The one module that uses pytest's private names; every other module uses what this exports.

pytest's public API (https://docs.pytest.org/en/stable/reference/reference.html) covers nearly
everything the plugin does. What it does not cover is listed here, one use per function, each
with what the name is, why the plugin needs it and where the public alternative falls short.
Most are measured speed (a 1,000-domain sweep runs 59,000 tests; see bench/lean_protocol.py);
the rest are behaviours pytest offers no public way to ask for. tests/test_testreport.py holds
every other module of the package to pytest's public names, and these builders to the reports
pytest itself builds; the whole test suite runs on the lowest and the highest pytest the
dependency range allows (.ci/run), so a change to any of these names in a new pytest shows up
there.

Test reports for govmail tests are built here without pytest's traceback machinery. A govmail
test fails, errors and skips through exceptions it raises on purpose with a message written for
the reader (``pytest.fail(..., pytrace=False)``, a skip at the test's location: see
:func:`skip_at_item`). pytest would still walk, filter and stat every traceback frame to format
them, only to print the message: in a 1,000-domain sweep (59,000 tests, a third of them failing
or skipped) that was a tenth of the run. This builds the same report pytest would, with the same
``longrepr`` shape (the "value" style of a ``pytrace=False`` failure; a ``(path, line, reason)``
skip), straight from the message. Anything else (a judge that crashed, a custom suite's own
assertion, a waiver's xfail, which is rare and whose traceback pytest keeps) returns ``None``
and pytest builds the report as usual.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Generator
from typing import IO, Any, Literal, NoReturn

import pytest

# PRIVATE: the classes of a failure's ``longrepr``. Why: :func:`_value_repr` builds the repr
# pytest would build for a ``pytrace=False`` failure without walking the traceback. Public
# alternative: ``ExceptionInfo.getrepr(style="value")`` builds the same object, but first
# filters the whole traceback and looks for ``__tracebackhide__`` in every frame's locals
# (``_getreprcrash``), the cost this avoids.
from _pytest._code.code import (
    ExceptionChainRepr,
    ReprEntry,
    ReprFileLocation,
    ReprTraceback,
)

try:  # PRIVATE: see _report_nodeid (pytest 9.2 and later)
    from _pytest.nodeid import NodeId as _PytestNodeId  # type: ignore[import-not-found,unused-ignore]

    _NodeId: type | None = _PytestNodeId
except ImportError:  # pragma: no cover (pytest before 9.2)
    _NodeId = None

keywords_key = pytest.StashKey[dict[str, Literal[1]]]()

#: PRIVATE: the modules of pytest's own plugins that implement per-phase hooks
#: (``pytest_runtest_setup`` and the rest, see ``PHASE_HOOKS`` in
#: :mod:`pytest_govmail.plugin.lean`) with nothing to do for a suite test, and why. Why: the lean
#: protocol skips those hooks (measured: bench/lean_protocol.py), and must step aside when any
#: implementation it does not know of would act; a new pytest whose plugins implement another
#: per-phase hook makes it step aside until the hook is looked at and listed here. Public
#: alternatives: pytest documents no list of its plugins or what their hooks do, and the names
#: it registers them under are as internal as the modules (``capturemanager`` is the capture
#: plugin's ``CaptureManager``, ``logging-plugin`` logging's).
PYTEST_NEEDLESS: dict[str, str] = {
    "_pytest.runner": "sets up fixtures and collectors (a suite test has none of its own)",
    "_pytest.python": "calls the test function (called directly)",
    "_pytest.fixtures": "sets up fixtures (a suite test has none)",
    "_pytest.skipping": "skip and xfail markers (a test with any is left to pytest)",
    "_pytest.capture": "captures output per phase (the judges write none)",
    "_pytest.logging": "captures log records per phase (the judges log none)",
    "_pytest.threadexception": "catches exceptions of threads the test starts (none)",
    "_pytest.unraisableexception": "catches unraisable exceptions per phase",
    "_pytest.tmpdir": "tmp_path retention bookkeeping (no tmp_path)",
    "_pytest.unittest": "unittest.TestCase items only",
    "_pytest.setuponly": "--setup-only and --setup-show (which turn the lean protocol off)",
    "_pytest.setupplan": "--setup-plan (which turns the lean protocol off)",
}


def skip_at_item(reason: str) -> NoReturn:
    """Skip the running test, reported at the test function's own line (not this plugin's).

    PRIVATE: ``_use_item_location``, the flag pytest's own skip markers raise their skip with,
    so that ``-rs`` and the short summary point at the test ("suites/test_dmarc.py:17: DMARC-07
    not applicable") rather than at the plugin line that raised it. Public alternatives:
    ``pytest.skip()`` reports the raising line (the plugin's, the same for every skip); a
    ``skip`` marker added when the verdict is known is too late (the skipping plugin reads the
    markers before the plugin's ``pytest_runtest_setup`` judges the test).
    """
    __tracebackhide__ = True
    raise pytest.skip.Exception(reason, _use_item_location=True)


def set_location(item: pytest.Item, location: tuple[str, int | None, str]) -> None:
    """Give ``item`` its ``location`` (path, zero-based line, name) unless pytest worked it out.

    PRIVATE: ``Item.location`` is a ``functools.cached_property``; this fills its cache in
    ``item.__dict__``. Why: pytest works an item's location out from its function's source file
    and line on first use, a tenth of a millisecond each, and a 1,000-domain sweep has 59,000
    items over 60 test functions; the caller works it out once per function. Public
    alternative: none sets a location; a custom ``Item`` subclass overriding ``reportinfo``
    would mean replacing pytest's ``Function`` collection of the suites.
    """
    item.__dict__.setdefault("location", location)


def shorten_tracebacks(config: pytest.Config) -> None:
    """Summarise failures one line each (``--tb=line``) unless the user chose a ``--tb`` style.

    PRIVATE: ``config.option.tbstyle``, the destination of ``--tb`` (its default is "auto").
    Why: pytest's failure summary costs time quadratic in the number of reports, minutes for a
    1,000-domain sweep (see ``LINE_SUMMARY_ABOVE`` in the plugin). Public alternative:
    ``pytest_load_initial_conftests`` may add ``--tb=line`` to the arguments, but runs before
    the items (and so their number) are known, and ``Config.getoption`` only reads.
    """
    if getattr(config.option, "tbstyle", None) == "auto":
        config.option.tbstyle = "line"


def take_over_failure_summary(config: pytest.Config) -> str | None:
    """Leave govmail's failure listing to the plugin; the ``--tb`` style the user asked for.

    PRIVATE: ``config.option.tbstyle`` and ``config.option.reportchars``, the destinations of
    ``--tb`` and ``-r``, read by pytest's terminal reporter when it is made (``reportchars``)
    and at the end (``tbstyle``). Why: pytest prints a failure's whole message and its
    ``govmail evidence`` section once per test (a host's TLS scan under each of its ~20
    tests: the demo printed 3,400 lines), and ``--tb=line`` prints the message before the
    crash line. Unless ``-v`` asks for that whole story, or another ``--tb`` style was chosen,
    the plugin lists the verdicts itself (:mod:`pytest_govmail.reports.terminal`): ``--tb=no``
    and no ``f``/``E`` short summary for pytest, the chosen style ("auto" or "line") for the
    plugin. Public alternative: none; ``pytest_report_teststatus`` sets a test's letter and
    category, and a category other than "failed" would change pytest's own final counts.
    """
    style = getattr(config.option, "tbstyle", "auto")
    # Not config.get_verbosity(): pytest 8.3's reads config.option.verbose, which only the
    # terminal plugin defines, so it fails under -p no:terminal.
    verbose = getattr(config.option, "verbose", 0)
    if style not in ("auto", "line") or (style == "auto" and verbose > 0):
        return None
    config.option.tbstyle = "no"
    chars = str(getattr(config.option, "reportchars", ""))
    chars = chars.replace("A", "PpsxX").replace("a", "sxX")
    config.option.reportchars = "".join(c for c in chars if c not in "fEF") or "N"
    return str(style)


def default_junit_path(config: pytest.Config, path: str) -> None:
    """Write JUnit XML to ``path`` unless ``--junitxml`` was given.

    PRIVATE: ``config.option.xmlpath``, the destination of ``--junitxml``, which pytest's
    junitxml plugin reads in its own ``pytest_configure`` (after the plugin's, which is
    ``tryfirst``). Why: a govmail run writes reports/junit.xml by default, and the report
    folder comes from the plugin's own options. Public alternatives: ``--junitxml`` added in
    ``pytest_load_initial_conftests`` would have to decide before the plugin's options are
    parsed; writing the XML ourselves would repeat pytest's junitxml plugin (``LogXML`` is
    private too).
    """
    if not config.option.xmlpath:
        config.option.xmlpath = path


def teardown_towards(item: pytest.Item, nextitem: pytest.Item | None) -> Callable[[], None] | None:
    """What tears down the nodes pytest set up that ``nextitem`` does not need, or None.

    PRIVATE: ``Session._setupstate``, the stack of nodes pytest's protocol has set up (the
    session, a module with its module-scoped fixtures) and its ``teardown_exact``. Why: a test
    the lean protocol (:mod:`pytest_govmail.plugin.lean`) runs after one pytest ran must tear
    those down exactly when pytest would, as the ``pytest_runtest_teardown`` hook does. Public
    alternatives: calling that hook runs every plugin's teardown wrapper, and logging's expects
    its setup wrapper to have run (a ``KeyError``); handing every later test of the session to
    pytest once it ran one would lose the lean protocol for the rest of a mixed session.
    """
    setup_state = item.session._setupstate
    if not setup_state.stack:
        return None
    return lambda: setup_state.teardown_exact(nextitem)


def govmail_report(item: pytest.Item, call: pytest.CallInfo[Any]) -> pytest.TestReport | None:
    """The report of one phase of a govmail test, or None to let pytest build it."""
    excinfo = call.excinfo
    error = excinfo.value if excinfo is not None else None
    longrepr: object = None
    if error is None:
        outcome = "passed"
    # PRIVATE: ``_use_item_location``, read as ``TestReport.from_item_and_call`` reads it, to
    # tell a skip at the item (see :func:`skip_at_item`) from one at its own line.
    elif isinstance(error, pytest.skip.Exception) and error._use_item_location:
        outcome = "skipped"
        longrepr = (os.fspath(item.path), _line(item), _exconly(error, "Skipped"))
    elif type(error) is pytest.fail.Exception and not error.pytrace:  # not an xfail
        outcome = "failed"
        longrepr = _value_repr(item, error)
    else:
        return None
    keywords: dict[str, Literal[1]] | None = item.stash.get(keywords_key, None)
    if keywords is None:
        # The same for all three phases: computed once (pytest walks every parent per report).
        keywords = {name: 1 for name in item.keywords}
        item.stash[keywords_key] = keywords
    # PRIVATE: ``Item._report_sections``, what ``Item.add_report_section`` collected (output a
    # capturing plugin saw in this phase), read as ``TestReport.from_item_and_call`` reads it.
    # Public alternative: that classmethod, which formats the traceback this module skips.
    sections = [(f"Captured {key} {when}", content) for when, key, content in item._report_sections]
    return pytest.TestReport(
        _report_nodeid(item),
        item.location,
        keywords,
        outcome,  # type: ignore[arg-type]
        longrepr,  # type: ignore[arg-type]
        call.when,  # type: ignore[arg-type]
        sections,
        call.duration,
        call.start,
        call.stop,
        user_properties=item.user_properties,
    )


def _report_nodeid(item: pytest.Item) -> Any:
    """The test's node id as its reports should hold it: the item's own parsed id if it has one.

    PRIVATE: ``Node.id``, the parsed ``NodeId`` that pytest 9.2 keeps on every node and every
    report (``_pytest.nodeid``). Why: given the node id as a string, ``TestReport`` parses it
    again into a new ``NodeId`` of five objects, for each of a test's three reports; a
    500-domain sweep batch kept 41 MiB of those copies (pytest keeps every report to the end).
    The item's is the same value, shared. Public alternative: the string, parsed once per
    report. Before 9.2 a report holds the string itself, shared already.
    """
    parsed = getattr(item, "id", None)
    return parsed if _NodeId is not None and isinstance(parsed, _NodeId) else item.nodeid


def _line(item: pytest.Item) -> int:
    """The test function's line, one-based, as pytest shows it for a skip at the item."""
    line = item.location[1]
    return (line or 0) + 1


def _exconly(error: BaseException, kind: str) -> str:
    """What ``ExceptionInfo.exconly(tryshort=True)`` gives: ``Failed: message``."""
    return f"{kind}: {error}"


def _value_repr(item: pytest.Item, error: BaseException) -> ExceptionChainRepr:
    """pytest's repr of a ``pytrace=False`` failure: the message, and the test as crash site."""
    lines = str(error).split("\n")
    entry = ReprEntry(lines, None, None, None, "value")
    traceback = ReprTraceback([entry], None, style="value")
    crash = ReprFileLocation(
        os.fspath(item.path), _line(item), _exconly(error, type(error).__name__)
    )
    return ExceptionChainRepr([(traceback, crash, None)])


def add_testsuite_property(config: pytest.Config, name: str, value: str) -> None:
    """A ``<property>`` of the JUnit XML's testsuite, when JUnit XML is written.

    PRIVATE: ``_pytest.junitxml.xml_key`` and ``LogXML.add_global_property``, what the
    ``record_testsuite_property`` fixture uses. Why: ``govmail.nxdomain`` names the domains
    that do not exist, a fact of the run, known after collection, not of any one test. Public
    alternative: the fixture, which only a test can request.
    """
    from _pytest.junitxml import xml_key

    xml = config.stash.get(xml_key, None)
    if xml is not None:
        xml.add_global_property(name, value)


class JUnitStream:
    """Writes each finished test's JUnit element to disk as soon as pytest's writer finishes it.

    PRIVATE: ``_pytest.junitxml``'s ``LogXML`` (``config.stash[xml_key]``), its
    ``node_reporters`` (the test cases still open) and ``node_reporters_ordered`` (every test
    case, in order, until the end), and ``_NodeReporter.to_xml``. Why: pytest's JUnit writer
    keeps every test case as an XML element tree until the session ends and then serialises
    the whole document at once: about 2 KiB a test, and 150 MiB of a 500-domain sweep batch's
    556 MiB (39,700 tests; measured with and without ``--junitxml``), most of what made a
    10,000-domain sweep pass 1 GiB. Here each test case, once closed, is serialised by
    pytest's own code (so the file is byte for byte the one pytest would write) into a part
    file and let go; at the end, pytest writes its document with a marker where those test
    cases were, and the part is spliced in at the marker. Public alternative: none; writing
    JUnit ourselves would repeat pytest's writer and its options (``junit_family``,
    ``junit_logging``, ``junit_duration_report``, ``record_property``...).
    """

    def __init__(self) -> None:
        self.xml: Any = None
        self.part: IO[str] | None = None
        #: Test cases of failed or skipped collectors: never closed by pytest, but complete.
        self.collected: set[int] = set()
        self.streamed = 0

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        from _pytest.junitxml import xml_key

        self.xml = session.config.stash.get(xml_key, None)
        if self.xml is None:
            return
        folder = os.path.dirname(self.xml.logfile)
        try:
            os.makedirs(folder, exist_ok=True)
            self.part = tempfile.TemporaryFile("w+", encoding="utf-8", dir=folder)
        except OSError:
            # Not writable (or no room): pytest's writer runs as it would alone, and says so
            # when it writes at the end.
            self.xml = None

    @pytest.hookimpl(trylast=True)
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if self.part is not None and not report.passed:
            # LogXML opened a test case for it (its own hook ran first) and never closes it.
            self.collected.add(id(self.xml.node_reporter(report)))

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """After a teardown, every test case before the first one still open is final."""
        if self.part is None or report.when != "teardown":
            return
        ordered = self.xml.node_reporters_ordered
        still_open = {id(r) for r in self.xml.node_reporters.values()} - self.collected
        done = 0
        while done < len(ordered) and id(ordered[done]) not in still_open:
            done += 1
        if done:
            self.part.write(
                "".join(ET.tostring(r.to_xml(), encoding="unicode") for r in ordered[:done])
            )
            del ordered[:done]
            self.streamed += done

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionfinish(self) -> Generator[None, object, object]:
        part = self.part
        if part is None or self.xml is None:
            return (yield)
        marker = f"govmail-streamed-{secrets.token_hex(8)}"
        self.xml.node_reporters_ordered.insert(0, _Marker(marker))
        try:
            result = yield
            _splice(self.xml.logfile, f"<!--{marker}-->", part)
        finally:
            part.close()
            self.part = None
        return result


class _Marker:
    """Stands where the streamed test cases go, as a comment pytest's writer serialises."""

    def __init__(self, text: str) -> None:
        self.text = text

    def to_xml(self) -> ET.Element[Any]:
        return ET.Comment(self.text)


def _splice(path: str, marker: str, part: IO[str]) -> None:
    """Rewrite pytest's JUnit file at ``path`` with ``part``'s test cases at ``marker``."""
    with open(path, encoding="utf-8") as written:
        head, found, tail = written.read().partition(marker)
    if not found:
        raise RuntimeError(f"pytest's JUnit writer left out the test cases' place in {path}")
    part.seek(0)
    fresh = f"{path}.govmail-part"
    with open(fresh, "w", encoding="utf-8") as out:
        out.write(head)
        shutil.copyfileobj(part, out, 1 << 20)
        out.write(tail)
    os.replace(fresh, path)
