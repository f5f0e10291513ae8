"""The pytest plugin's hooks (the ``pytest11`` entry point ``govmail``).

This package is the layer that knows pytest: :mod:`.options` declares the options,
:mod:`.configure` turns them into a :class:`~pytest_govmail.engine.run.GovmailRun`,
:mod:`.assessment` is what a suite test receives, :mod:`.lean` runs suite tests cheaply, and
:mod:`.pytest_private` is the one place that touches pytest's internals. The hooks here
parametrise every suite test by requirement and domain (and MX host), stamp each test with its
requirement's ID, level and area, collect the evidence the selected tests need once, before the
first test runs, and write the evidence file at the end.
"""

from __future__ import annotations

import gc
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_govmail.engine.needs import all_dns_groups, judge_of
from pytest_govmail.inputs.catalogue import Catalogue, Requirement, load_catalogue
from pytest_govmail.model import evidence as evidence_file
from pytest_govmail.plugin.assessment import Assessment, Case, decide, nonexistent_summary
from pytest_govmail.plugin.configure import (
    EvidenceOnly,
    XdistWorkerWaivers,
    build_run,
    check_evidence_only,
    default_reports,
    keep_last_reports,
    run_catalogue,
)
from pytest_govmail.plugin.configure import suites_dir as suites_dir
from pytest_govmail.plugin.keys import (
    assessment_key,
    case_key,
    catalogue_key,
    lab_key,
    requirement_key,
    run_key,
    shared_key,
)
from pytest_govmail.plugin.options import (
    option_or_ini,
)
from pytest_govmail.plugin.options import (
    pytest_addoption as pytest_addoption,
)
from pytest_govmail.plugin.pytest_private import (
    add_testsuite_property,
    govmail_report,
    set_location,
    shorten_tracebacks,
)

if TYPE_CHECKING:
    from pytest_govmail.engine.run import GovmailRun
    from pytest_govmail.reports.terminal import GovmailReporter


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "requirements(area=None, ids=None): the catalogue requirements a govmail test assesses "
        "(every implemented one of an area, or those named); each test is one requirement, "
        "whose level, area and requirement(id=...) are added as markers.",
    )
    config.addinivalue_line(
        "markers",
        "requirement(id): one catalogue requirement a govmail test assesses; "
        "its level and area are added as markers (must, should, advisory; mx, spf, dmarc, ...).",
    )
    catalogue = load_catalogue()
    for level in ("must", "should", "advisory"):
        config.addinivalue_line("markers", f"{level}: govmail requirements of level {level}")
    for area in catalogue.areas():
        config.addinivalue_line("markers", f"{area}: govmail requirements of area {area}")
    run = build_run(config, catalogue)
    evidence_only = config.getoption("govmail_evidence_only")
    if evidence_only:
        check_evidence_only(config, run)
    if run is None:
        if config.getoption("govmail_baseline") or config.getoption("govmail_fail_on") == "new":
            raise pytest.UsageError(
                "--govmail-baseline and --govmail-fail-on compare a run's tests: no domains to "
                "assess (give --govmail-domain, a domains file, --govmail-replay or --govmail-demo)"
            )
        return
    config.stash[run_key] = run
    # The user's levels (--govmail-levels, or the replayed run's) apply from here on: markers,
    # JUnit properties, the reports.
    catalogue = config.stash[catalogue_key] = run_catalogue(run, catalogue)
    if evidence_only:
        config.pluginmanager.register(EvidenceOnly(run, catalogue), "govmail-evidence-only")
        return
    if hasattr(config, "workerinput") and run.waivers:
        config.pluginmanager.register(XdistWorkerWaivers(run), "govmail-worker-waivers")
    default_reports(config)
    keep_last_reports(config)
    from pytest_govmail.plugin.pytest_private import JUnitStream

    config.pluginmanager.register(JUnitStream(), "govmail-junit-stream")
    from pytest_govmail.reports.terminal import GovmailReporter

    reporter = GovmailReporter(config, run, catalogue)
    config.pluginmanager.register(reporter, "govmail-reporter")
    _compare_with_baseline(config, run, catalogue, reporter)
    from pytest_govmail.reports.page import register

    register(config, reporter)
    from pytest_govmail.plugin.lean import LeanProtocol

    config.pluginmanager.register(
        LeanProtocol(config, run, reporter, run.progress), "govmail-lean-protocol"
    )
    # pytest-html is a dependency, so its plugin is always loaded, but it writes (and reads
    # our rows' data) only under --html: registered without it, our hooks would hold every
    # report's data to the end of the run for a page nobody builds.
    if config.pluginmanager.hasplugin("html") and config.getoption("htmlpath", None):
        from pytest_govmail.reports.pytest_html import GovmailHtml

        config.pluginmanager.register(GovmailHtml(reporter), "govmail-html")


def _compare_with_baseline(
    config: pytest.Config, run: GovmailRun, catalogue: Catalogue, reporter: GovmailReporter
) -> None:
    """Under ``--govmail-baseline``, give each test its change (see :mod:`.baseline`)."""
    from pytest_govmail.plugin.baseline import BaselineReport, baseline_key, load_baseline

    baseline = load_baseline(config, catalogue, run)
    if baseline is None:
        return
    config.stash[baseline_key] = baseline
    reporter.baseline = baseline
    config.pluginmanager.register(
        BaselineReport(config, baseline, run, catalogue), "govmail-baseline"
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    lab = config.stash.get(lab_key, None)
    if lab is not None:
        lab.stop()
    shared = config.stash.get(shared_key, None)
    if shared is not None:
        import shutil

        shutil.rmtree(shared, ignore_errors=True)


def _requirements_of(
    definition: pytest.Function | pytest.Item, catalogue: Catalogue
) -> list[Requirement]:
    """The catalogue records a suite test assesses, from its marker.

    ``@pytest.mark.requirements(area="dmarc")`` is every implemented record of that area (the
    packaged suites: a record added to the catalogue with a judge is tested with no change to
    them); ``@pytest.mark.requirements(ids=["DMARC-03", ...])`` or
    ``@pytest.mark.requirement("DMARC-03")`` names records one by one.
    """
    marker = definition.get_closest_marker("requirements")
    if marker is not None:
        area = marker.kwargs.get("area", marker.args[0] if marker.args else None)
        ids = marker.kwargs.get("ids")
        if area is not None:
            if area not in catalogue.areas():
                raise pytest.UsageError(f"{definition.nodeid}: unknown requirement area {area!r}")
            return [r for r in catalogue.in_area(area) if r.implemented]
        if not isinstance(ids, list | tuple) or not ids:
            raise pytest.UsageError(
                f"{definition.nodeid}: @requirements needs area=... or ids=[...]"
            )
    else:
        marker = definition.get_closest_marker("requirement")
        if marker is None:
            raise pytest.UsageError(
                f"{definition.nodeid}: a govmail test needs @requirements(area=...) "
                "or @requirement(id=...)"
            )
        ids = [marker.kwargs.get("id", marker.args[0] if marker.args else None)]
    found = []
    for req_id in ids:
        withdrawn = catalogue.record(req_id) if isinstance(req_id, str) else None
        if withdrawn is not None and withdrawn.withdrawn is not None:
            raise pytest.UsageError(
                f"{definition.nodeid}: {req_id} was withdrawn on "
                f"{withdrawn.withdrawn.date.isoformat()} ({withdrawn.withdrawn.reason})"
            )
        if not isinstance(req_id, str) or req_id not in catalogue:
            raise pytest.UsageError(f"{definition.nodeid}: unknown requirement id {req_id!r}")
        if not catalogue[req_id].implemented:
            raise pytest.UsageError(f"{definition.nodeid}: {req_id} is not implemented yet")
        found.append(catalogue[req_id])
    return found


def _marks(requirement: Requirement) -> tuple[pytest.MarkDecorator, ...]:
    """A requirement's level, area and ID as markers (``-m must``, ``-m dmarc``,
    ``-m "requirement(id='DMARC-03')"``), made once per requirement and given with each
    parameter: pytest puts them on each test as it makes it, cheaper than adding them to
    50,000 tests afterwards."""
    return (
        getattr(pytest.mark, requirement.level.value),
        getattr(pytest.mark, requirement.area),
        pytest.mark.requirement(id=requirement.id),
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise ``govmail`` with one :class:`Assessment` per requirement and domain (and MX
    host), in catalogue order: ``test_dmarc[DMARC-03/example.gov.uk]``; and a test of one's own
    that takes ``govmail_subject`` with each domain's evidence (see :func:`_subjects`)."""
    if "govmail_subject" in metafunc.fixturenames:
        _subjects(metafunc)
    if "govmail" not in metafunc.fixturenames:
        return
    run = metafunc.config.stash.get(run_key, None)
    if run is None:
        metafunc.parametrize("govmail", [], ids=[])
        return
    params: list[Any] = []
    catalogue = metafunc.config.stash.get(catalogue_key, None) or load_catalogue()
    for requirement in _requirements_of(metafunc.definition, catalogue):
        judge = judge_of(requirement)
        cases: list[Case] = []
        if requirement.scope == "host":
            # Every DNS question at once, here: DNS is cheap and its timeouts then run side by
            # side in one phase. TLS scans and policy fetches still wait for the selected tests.
            run.ensure_dns(all_dns_groups())
            for target in run.targets:
                hosts = run.hosts(target)
                if hosts:
                    cases.extend(Case(target, h, host_scoped=True) for h in hosts)
                else:
                    cases.append(Case(target, None, host_scoped=True))
        else:
            cases = [Case(t) for t in run.targets]
        marks = _marks(requirement)
        params.extend(
            pytest.param(
                Assessment(requirement, c, judge), marks=marks, id=f"{requirement.id}/{c.id}"
            )
            for c in cases
        )
    if not params:
        # Every requirement of the area is withdrawn (PTR-01): no test, rather than pytest's
        # "empty parameter set" skip, which no requirement or domain would explain.
        metafunc.config.stash.setdefault(withdrawn_only_key, set()).add(metafunc.definition.nodeid)
    metafunc.parametrize("govmail", params)


def _subjects(metafunc: pytest.Metafunc) -> None:
    """``govmail_subject``, for an organisation's own checks: one parameter per domain, the
    :class:`~pytest_govmail.model.subject.Subject` holding every DNS answer the run collected
    for it (``subject.dns.get("_dmarc.example.gov.uk", "TXT")``), live or replayed. Every DNS
    planner group is asked; TLS scans and policy fetches are for the catalogue's tests."""
    run = metafunc.config.stash.get(run_key, None)
    if run is None:
        metafunc.parametrize("govmail_subject", [], ids=[])
        return
    run.ensure_dns(all_dns_groups())
    metafunc.parametrize(
        "govmail_subject",
        [run.subject(target) for target in run.targets],
        ids=[target.domain for target in run.targets],
    )


#: The suite tests whose area has no requirement in force (each withdrawn): not run.
withdrawn_only_key = pytest.StashKey[set[str]]()

#: Above this many govmail tests, failures are summarised one line each unless --tb is given:
#: pytest's full failure summary costs time quadratic in the number of reports (it looks up
#: each failure's teardown reports among all of them), minutes for a 1,000-domain sweep.
LINE_SUMMARY_ABOVE = 2000


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Stamp the requirement and case on every govmail test, and its JUnit properties."""
    if run_key not in config.stash:
        return
    empty = config.stash.get(withdrawn_only_key, set())
    if empty:
        # Not "deselected": nothing was chosen away, there is nothing to run (and a sweep's
        # batches would each count one).
        items[:] = [i for i in items if i.nodeid.partition("[")[0] not in empty]
    if len(items) > LINE_SUMMARY_ABOVE:
        shorten_tracebacks(config)
    # Where each test function is, found once per function, not once per domain: pytest
    # works an item's location out from its function's source file and line on first use,
    # a tenth of a millisecond each, and the tests of one function share both.
    places: dict[object, tuple[str, int | None]] = {}
    for item in items:
        callspec = getattr(item, "callspec", None)
        assessment = callspec.params.get("govmail") if callspec is not None else None
        if not isinstance(assessment, Assessment):
            continue
        function = getattr(item, "obj", None)
        place = places.get(function)
        if place is None:
            path, line, _ = item.location
            places[function] = (path, line)
        else:
            set_location(item, (*place, item.getmodpath()))  # type: ignore[attr-defined]
        requirement, case = assessment.requirement, assessment.case
        item.stash[assessment_key] = assessment
        item.stash[requirement_key] = requirement
        item.stash[case_key] = case
        # The judge's name matches -k too (``-k dmarc_policy_enforced``), as the test
        # functions were named before one function ran each area.
        item.extra_keyword_matches.add(assessment.judge.__name__)
        item.user_properties.extend(
            [
                ("govmail.requirement", requirement.id),
                ("govmail.level", requirement.level.value),
                ("govmail.domain", case.target.domain),
            ]
        )
        if case.host_scoped:
            item.user_properties.append(("govmail.host", case.host or ""))


@pytest.hookimpl(trylast=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Decide the test's verdict once its fixtures are set up (see :func:`decide`)."""
    assessment = item.stash.get(assessment_key, None)
    if assessment is None:
        return
    __tracebackhide__ = True
    decide(assessment, item.config.stash[run_key])


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A govmail test's report, built without pytest's traceback machinery where none is shown.

    See :mod:`pytest_govmail.plugin.pytest_private`; anything else falls through to pytest (None).
    """
    if assessment_key not in item.stash:
        return None
    return govmail_report(item, call)


@pytest.hookimpl(trylast=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Let go of ``report.govmail`` once every report writer has read it.

    It is plain data for the writers (the terminal tally, our HTML report, pytest-html's table
    rows, an xdist worker's serialisation), all of which read it in this hook. pytest keeps
    every report to the end of the run, so holding on to half a kilobyte per test would cost a
    10,000-domain sweep some 300 MB for nothing.
    """
    if "govmail" in report.__dict__:
        del report.__dict__["govmail"]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
    """Let go of a govmail test's verdict once its reports are written.

    The test itself stays collected to the end of the run, and with it its
    :class:`Assessment`; the verdict (findings, details such as a host's address table) has
    been read into the reports by then (a 200-domain replay peaked at 200 MB instead of 207).
    """
    try:
        return (yield)
    finally:
        assessment = item.stash.get(assessment_key, None)
        if assessment is not None:
            assessment.verdict = assessment.subject = assessment.waiver = None


def selected_requirements(items: list[pytest.Item]) -> set[Requirement]:
    return {item.stash[requirement_key] for item in items if requirement_key in item.stash}


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    """Collect the evidence every selected test needs, all at once, before the first test runs."""
    run = session.config.stash.get(run_key, None)
    interrupted = session.testsfailed and not session.config.option.continue_on_collection_errors
    if (
        run is not None
        and not session.config.option.collectonly
        and session.items
        and not interrupted
    ):
        requirements = selected_requirements(session.items)
        if requirements:
            run.ensure(requirements)
    if run is not None:
        # The collected tests and the evidence live until the end of the run: move them out of
        # the cyclic garbage collector's sight. Each full collection would otherwise walk every
        # one of a sweep's millions of objects again, and the tests' own reports keep adding
        # to them; gc.freeze() is what it is for (Python's gc module documentation).
        gc.freeze()
    return (yield)


@pytest.hookimpl(tryfirst=True)  # before pytest's junitxml writes its file
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    run = config.stash.get(run_key, None)
    if run is None:
        return
    # Every report is kept to the end; pytest then runs several full garbage collections
    # (unraisableexception's cleanup). Frozen, the run's objects are not walked again.
    gc.freeze()
    if hasattr(config, "workerinput"):
        return
    saved = run.share.saved() if run.share is not None else None
    if saved is not None:
        # Under pytest-xdist the workers collected: their shared file is the run's evidence.
        run.adopt(saved)
    if run.nonexistent:
        add_testsuite_property(config, "govmail.nxdomain", " ".join(run.nonexistent))
    out = option_or_ini(config, "govmail_evidence_out")
    if out:
        from pytest_govmail.plugin.baseline import with_assessed_ids

        # The requirements assessed, so that a later run given this file as its baseline
        # tells a requirement added since (not comparable) from a regression.
        assessed = {r.id for r in selected_requirements(session.items)} or {
            r.id for r in load_catalogue() if r.implemented
        }
        evidence_file.write(with_assessed_ids(run.to_evidence(), assessed), Path(out))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say once, loudly, which domains do not exist (each of their tests says it too)."""
    run = terminalreporter.config.stash.get(run_key, None)
    line = nonexistent_summary(run) if run is not None else ""
    if line:
        terminalreporter.write_line(line, red=True, bold=True)
