"""The pytest plugin: options, targets, parametrisation, markers, and the packaged suites.

Only this layer (with :mod:`pytest_govmail.plugin.assessment` and
:mod:`pytest_govmail.reports.terminal`) knows
pytest. It turns options into a :class:`~pytest_govmail.engine.run.GovmailRun`, parametrises every
suite test by domain (and MX host), stamps each test with its requirement's ID, level and area,
collects the evidence the selected tests need once, before the first test runs, and writes the
evidence file at the end.
"""

from __future__ import annotations

import contextlib
import gc
import json
import tempfile
from collections.abc import Callable, Generator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pytest_govmail.engine.needs import all_dns_groups, judge_of
from pytest_govmail.engine.run import GovmailRun
from pytest_govmail.engine.settings import Settings
from pytest_govmail.engine.sharing import WorkerShare
from pytest_govmail.inputs.attestations import AttestationError
from pytest_govmail.inputs.catalogue import Catalogue, Requirement, load_catalogue
from pytest_govmail.inputs.targets import (
    TargetError,
    in_shard,
    merge_targets,
    parse_selectors,
    parse_shard,
)
from pytest_govmail.inputs.tls_profile import ProfileError
from pytest_govmail.inputs.waivers import WaiverError
from pytest_govmail.model import evidence as evidence_file
from pytest_govmail.model.dkim import SampleMessage
from pytest_govmail.model.target import Target
from pytest_govmail.plugin.assessment import Assessment, Case, decide
from pytest_govmail.plugin.keys import (
    assessment_key,
    case_key,
    demo_key,
    lab_key,
    requirement_key,
    run_key,
    shared_key,
)
from pytest_govmail.plugin.options import (
    option_or_ini,
    settings_from,
    targets_from,
    waiver_horizon,
)
from pytest_govmail.plugin.options import (
    pytest_addoption as pytest_addoption,
)
from pytest_govmail.plugin.pytest_private import govmail_report


def suites_dir() -> Path:
    """Where the packaged suites are: ``suites/`` in the repository, ``pytest_govmail/suites``
    in an installed wheel (setuptools maps the one to the other)."""
    import importlib.util

    spec = importlib.util.find_spec("pytest_govmail.suites")
    assert spec is not None and spec.origin is not None, "pytest_govmail.suites is not installed"
    return Path(spec.origin).parent


def _build_run(config: pytest.Config, catalogue: Catalogue) -> GovmailRun | None:
    """The run the options describe, whole, or None when govmail is not asked to do anything."""
    found = _run_targets(config)
    if found is None:
        return None
    targets, settings, replay, messages = found
    evidence_only = config.getoption("govmail_evidence_only")
    full = _use_packaged_suites(config) and not _selects(config) and replay is None
    try:
        return GovmailRun(
            targets,
            settings,
            replay=replay,
            messages=messages,
            inputs=_read_inputs(config),
            requirement_ids=catalogue.ids(),
            progress=_progress_writer(config),
            share=_share_between_workers(config),
            # A full assessment runs every packaged test, the TLS ones included: scan each
            # domain's MX addresses as soon as DNS has found them, so that the scans (and a
            # mute server's timeout) run while DNS still answers for the rest. A selection
            # (-m dmarc) scans nothing it does not need.
            scan_during_dns=bool(evidence_only) or full,
            waiver_horizon=waiver_horizon(config),
        )
    except (WaiverError, AttestationError, ProfileError) as exc:
        raise pytest.UsageError(str(exc)) from None


RunParts = tuple[
    tuple[Target, ...], Settings, evidence_file.Evidence | None, tuple[SampleMessage, ...]
]


def _run_targets(config: pytest.Config) -> RunParts | None:
    """Targets, settings, replayed evidence and sample messages, from the options."""
    try:
        selectors = parse_selectors(
            " ".join(
                list(config.getoption("govmail_dkim_selectors"))
                or list(config.getini("govmail_dkim_selectors"))
            ),
            "--govmail-dkim-selector",
        )
        given = targets_from(config)
        settings = settings_from(config)
    except TargetError as exc:
        raise pytest.UsageError(str(exc)) from None
    replay_files = config.getoption("govmail_replay")
    if replay_files:
        if config.getoption("govmail_demo"):
            raise pytest.UsageError("--govmail-replay and --govmail-demo cannot be combined")
        try:
            saved = evidence_file.merge(evidence_file.read(Path(f)) for f in replay_files)
        except evidence_file.EvidenceError as exc:
            raise pytest.UsageError(f"--govmail-replay: {exc}") from None
        targets = saved.targets
        if given:
            wanted = {t.domain for t in given}
            missing = wanted - {t.domain for t in targets}
            if missing:
                raise pytest.UsageError(
                    f"--govmail-replay: no evidence for {', '.join(sorted(missing))}"
                )
            targets = tuple(t for t in targets if t.domain in wanted)
        return merge_targets(targets, selectors), settings, saved, ()
    if config.getoption("govmail_demo"):
        info = _demo_info(config)
        timeout = settings.timeout if config.getoption("govmail_timeout") else info["timeout"]
        settings = replace(settings, nameservers=(str(info["nameserver"]),), timeout=float(timeout))
        if "smtp_port" in info:
            settings = replace(
                settings,
                smtp_port=int(info["smtp_port"]),
                https_port=int(info["https_port"]),
                ca_file=settings.ca_file or Path(str(info["ca_file"])),
                allow_private=True,
                eml=settings.eml or tuple(Path(p) for p in info["eml"]),
            )
        from pytest_govmail.lab.demo import demo_targets

        given = list(demo_targets()) + given
    if not given:
        return None
    return _shard(config, merge_targets(given, selectors)), settings, None, _messages(settings)


def _messages(settings: Settings) -> tuple[SampleMessage, ...]:
    """The sample messages of --govmail-eml; one that cannot be read is a usage error."""
    if not settings.eml:
        return ()
    from pytest_govmail.collect.messages import read_messages

    messages = read_messages(settings.eml)
    bad = [m for m in messages if m.error is not None]
    if bad:
        raise pytest.UsageError(f"--govmail-eml: {bad[0].source}: {bad[0].error}")
    return messages


def _shard(config: pytest.Config, targets: tuple[Target, ...]) -> tuple[Target, ...]:
    text = config.getoption("govmail_shard")
    if not text:
        return targets
    try:
        shard = parse_shard(text)
    except TargetError as exc:
        raise pytest.UsageError(str(exc)) from None
    return tuple(t for t in targets if in_shard(t.domain, shard))


class XdistController:
    """Registered on the pytest-xdist controller: hands each worker the shared evidence folder
    (so evidence is collected once, by whichever worker asks first) and the demo lab's
    settings (so the lab runs once, here)."""

    def __init__(self, config: pytest.Config, shared: Path) -> None:
        self.config = config
        self.shared = shared

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["govmail_shared"] = str(self.shared)
        demo = self.config.stash.get(demo_key, None)
        if demo is not None:
            node.workerinput["govmail_demo"] = json.dumps(demo)


def _progress_writer(config: pytest.Config) -> Callable[[str], None] | None:
    """Lines of news while collecting, on pytest's own terminal; none under -q or on workers."""
    if getattr(config.option, "verbose", 0) < 0 or hasattr(config, "workerinput"):
        return None

    def write(line: str) -> None:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        # Collection runs with output captured; step out of the capture, as live logging does.
        capture = config.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            reporter.ensure_newline()
            reporter.write_line(f"govmail: {line}")

    return write


def _share_between_workers(config: pytest.Config) -> WorkerShare | None:
    """Under pytest-xdist, the folder through which the workers collect once."""
    worker_input = getattr(config, "workerinput", None)
    if worker_input is not None:
        if "govmail_shared" in worker_input:
            return WorkerShare(Path(worker_input["govmail_shared"]))
        return None
    if config.pluginmanager.hasplugin("xdist") and config.getoption("dist", "no") != "no":
        shared = Path(tempfile.mkdtemp(prefix="govmail-xdist-"))
        config.stash[shared_key] = shared
        config.pluginmanager.register(XdistController(config, shared), "govmail-xdist")
        return WorkerShare(shared)
    return None


def _demo_info(config: pytest.Config) -> dict[str, Any]:
    """Start the demo lab (once: pytest-xdist workers get the controller's lab by workerinput)."""
    worker_input = getattr(config, "workerinput", None)
    if worker_input is not None and "govmail_demo" in worker_input:
        info: dict[str, Any] = json.loads(worker_input["govmail_demo"])
    else:
        # Imported here: the lab (and its servers) is only needed by a demo run.
        from pytest_govmail.lab.demo import start_demo_lab

        lab = start_demo_lab()
        config.stash[lab_key] = lab
        info = lab.info()
    config.stash[demo_key] = info
    return info


def _read_inputs(config: pytest.Config) -> dict[str, tuple[str, str]]:
    """Waivers and attestations: the user's own statements, read on live runs and replays
    alike (a replay keeps those of the run it replays unless others are given)."""
    waivers = option_or_ini(config, "govmail_waivers")
    attestations = option_or_ini(config, "govmail_attestations")
    demo = config.stash.get(demo_key, None)
    if demo is not None:
        waivers = waivers or str(demo["waivers"])
        attestations = attestations or str(demo["attestations"])
    return {
        kind: (given, read_input(Path(given), kind))
        for kind, given in (("waivers", waivers), ("attestations", attestations))
        if given
    }


def read_input(path: Path, kind: str) -> str:
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise pytest.UsageError(f"cannot read {kind} file {str(path)!r}: {exc}") from None


def _default_reports(config: pytest.Config) -> None:
    """A govmail run writes reports/govmail.html and reports/junit.xml unless told otherwise."""
    if config.getoption("govmail_no_reports") or hasattr(config, "workerinput"):
        return
    folder = Path(option_or_ini(config, "govmail_report_dir") or "reports")
    if not config.option.xmlpath:
        config.option.xmlpath = str(folder / "junit.xml")
    from pytest_govmail.reports.page import report_path_key

    config.stash[report_path_key] = folder / "govmail.html"  # ours; pytest-html only on --html


def _use_packaged_suites(config: pytest.Config) -> bool:
    """With no paths on the command line, run the suites that ship inside the package."""
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args[:] = [str(suites_dir())]
        return True
    return False


#: Options that select some tests of the suites (``dest`` names).
SELECTING = ("markexpr", "keyword", "deselect", "lf", "stepwise", "collectonly")


def _selects(config: pytest.Config) -> bool:
    return any(getattr(config.option, dest, None) for dest in SELECTING)


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
    run = _build_run(config, catalogue)
    evidence_only = config.getoption("govmail_evidence_only")
    if evidence_only:
        _check_evidence_only(config, run)
    if run is None:
        return
    config.stash[run_key] = run
    if evidence_only:
        config.pluginmanager.register(EvidenceOnly(run, catalogue), "govmail-evidence-only")
        return
    _default_reports(config)
    from pytest_govmail.reports.terminal import GovmailReporter

    reporter = GovmailReporter(config, run, catalogue)
    config.pluginmanager.register(reporter, "govmail-reporter")
    from pytest_govmail.reports.page import register

    register(config, reporter)
    from pytest_govmail.plugin.lean import LeanProtocol

    config.pluginmanager.register(
        LeanProtocol(config, run, reporter, run.progress), "govmail-lean-protocol"
    )
    if config.pluginmanager.hasplugin("html"):
        from pytest_govmail.reports.pytest_html import GovmailHtml

        config.pluginmanager.register(GovmailHtml(reporter), "govmail-html")


def _check_evidence_only(config: pytest.Config, run: GovmailRun | None) -> None:
    if run is None:
        raise pytest.UsageError("--govmail-evidence-only: no domains to assess")
    if run.replay is not None:
        raise pytest.UsageError("--govmail-evidence-only collects; it cannot replay evidence")
    if not option_or_ini(config, "govmail_evidence_out"):
        raise pytest.UsageError("--govmail-evidence-only needs --govmail-evidence-out FILE")
    if config.getoption("dist", "no") != "no" or hasattr(config, "workerinput"):
        raise pytest.UsageError(
            "--govmail-evidence-only collects in one process (its questions are concurrent "
            "already): drop -n"
        )


class EvidenceOnly:
    """``--govmail-evidence-only``: collect every requirement's evidence instead of collecting
    tests, so that a run of any size holds evidence only, never its tens of thousands of tests.

    ``pytest_sessionfinish`` (below) writes the file as in any run; a run that wrote its
    evidence succeeded, though it ran no test.
    """

    def __init__(self, run: GovmailRun, catalogue: Catalogue) -> None:
        self.run = run
        self.catalogue = catalogue

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection(self, session: pytest.Session) -> bool:
        self.run.ensure(list(self.catalogue))
        session.items = []
        session.testscollected = 0
        return True

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            session.exitstatus = pytest.ExitCode.OK

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        stats = self.run.stats
        terminalreporter.write_line(
            f"govmail: evidence of {len(self.run.targets)} domain(s) written to "
            f"{option_or_ini(terminalreporter.config, 'govmail_evidence_out')}: "
            f"{stats.dns_queries} DNS answers ({stats.dns_failures} failed), "
            f"{stats.tls_addresses} MX address(es) scanned, {stats.policies} MTA-STS "
            f"policy fetch(es), collected in {stats.seconds:.2f} s"
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
    host), in catalogue order: ``test_dmarc[DMARC-03/example.gov.uk]``."""
    if "govmail" not in metafunc.fixturenames:
        return
    run = metafunc.config.stash.get(run_key, None)
    if run is None:
        metafunc.parametrize("govmail", [], ids=[])
        return
    params: list[Any] = []
    for requirement in _requirements_of(metafunc.definition, load_catalogue()):
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
    metafunc.parametrize("govmail", params)


#: Above this many govmail tests, failures are summarised one line each unless --tb is given:
#: pytest's full failure summary costs time quadratic in the number of reports (it looks up
#: each failure's teardown reports among all of them), minutes for a 1,000-domain sweep.
LINE_SUMMARY_ABOVE = 2000


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Stamp the requirement and case on every govmail test, and its JUnit properties."""
    if run_key not in config.stash:
        return
    if len(items) > LINE_SUMMARY_ABOVE and getattr(config.option, "tbstyle", None) == "auto":
        config.option.tbstyle = "line"
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
        elif "location" not in item.__dict__:
            item.__dict__["location"] = (*place, item.getmodpath())  # type: ignore[attr-defined]
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
    out = option_or_ini(config, "govmail_evidence_out")
    if out:
        evidence_file.write(run.to_evidence(), Path(out))
