"""How a pytest session becomes a govmail run: targets, settings, inputs, the demo lab, xdist.

:func:`build_run` reads the options (and the demo lab's settings, or a replayed evidence file)
and builds the :class:`~pytest_govmail.engine.run.GovmailRun` whole; the hooks in
:mod:`pytest_govmail.plugin` register it and the reporters. Everything here runs once, in
``pytest_configure``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Generator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pytest_govmail.engine import memory
from pytest_govmail.engine.run import GovmailRun
from pytest_govmail.engine.settings import Settings
from pytest_govmail.engine.sharing import WorkerShare
from pytest_govmail.inputs.attestations import AttestationError
from pytest_govmail.inputs.catalogue import Catalogue
from pytest_govmail.inputs.levels import LevelsError, apply_levels
from pytest_govmail.inputs.retired_reporting import RetiredError
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
from pytest_govmail.model.feedback import Feedback
from pytest_govmail.model.target import Target
from pytest_govmail.plugin.keys import (
    demo_key,
    lab_key,
    run_key,
    shared_key,
)
from pytest_govmail.plugin.options import (
    option_or_ini,
    report_window,
    settings_from,
    targets_from,
    waiver_horizon,
)
from pytest_govmail.plugin.options import (
    pytest_addoption as pytest_addoption,
)
from pytest_govmail.plugin.pytest_private import (
    default_junit_path,
)
from pytest_govmail.sweep.arguments import sweep_command


def suites_dir() -> Path:
    """Where the packaged suites are: ``suites/`` in the repository, ``pytest_govmail/suites``
    in an installed wheel (setuptools maps the one to the other)."""
    import importlib.util

    spec = importlib.util.find_spec("pytest_govmail.suites")
    assert spec is not None and spec.origin is not None, "pytest_govmail.suites is not installed"
    return Path(spec.origin).parent


def run_catalogue(run: GovmailRun, catalogue: Catalogue) -> Catalogue:
    """The catalogue the run judges with: ``catalogue`` with the levels file of the run's inputs
    (``--govmail-levels``, or the replayed run's) applied; a bad file is a usage error."""
    try:
        return apply_levels(catalogue, run.inputs.get("levels"))
    except LevelsError as exc:
        raise pytest.UsageError(f"--govmail-levels: {exc}") from None


def build_run(config: pytest.Config, catalogue: Catalogue) -> GovmailRun | None:
    """The run the options describe, whole, or None when govmail is not asked to do anything."""
    found = _run_targets(config)
    if found is None:
        return None
    targets, settings, replay, messages = found
    evidence_only = config.getoption("govmail_evidence_only")
    if not evidence_only:
        check_memory(config, len(targets), catalogue)
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
            feedback=_read_feedback(config, targets, replay),
        )
    except (WaiverError, AttestationError, ProfileError, RetiredError) as exc:
        raise pytest.UsageError(str(exc) + _withdrawn_hint(str(exc), catalogue)) from None


def _withdrawn_hint(message: str, catalogue: Catalogue) -> str:
    """Why a waiver's requirement is unknown when it was withdrawn: the user's file predates
    the catalogue version that withdrew it."""
    named = [r for r in catalogue.withdrawn if f"'{r.id}'" in message]
    return "".join(
        f" ({r.id} was withdrawn from catalogue v{catalogue.version} on "
        f"{r.withdrawn.date.isoformat()}: remove its waiver)"
        for r in named
        if r.withdrawn is not None
    )


def check_memory(config: pytest.Config, domains: int, catalogue: Catalogue) -> None:
    """Stop, before anything is collected, a run this machine cannot hold in memory, with the
    ``govmail-sweep`` command that does the same work in bounded memory (see
    :mod:`pytest_govmail.engine.memory`); ``--govmail-ignore-memory-estimate`` runs it anyway.
    Checked by the process the user started; pytest-xdist's workers were counted there."""
    if config.getoption("govmail_ignore_memory_estimate") or hasattr(config, "workerinput"):
        return
    available = memory.available_bytes()
    if available is None:
        return
    workers = config.getoption("numprocesses", None)
    count = workers if isinstance(workers, int) else (os.cpu_count() or 1) if workers else 0
    need = memory.estimate(domains, catalogue.requirements, workers=count)
    if need.bytes_needed <= available:
        return
    in_processes = f" over {need.processes} processes" if need.processes > 1 else ""
    raise pytest.UsageError(
        f"govmail: {need.domains:,} domains would make about {need.tests:,} tests, needing "
        f"about {need.gib()} of memory{in_processes} (pytest holds every test and its report "
        f"until the end), and this machine has {available / 2**30:.1f} GiB available. "
        "govmail-sweep does the same work in batches, in bounded memory:\n"
        f"    {sweep_command(config.invocation_params.args)}\n"
        "or add --govmail-ignore-memory-estimate to run it in this process anyway."
    )


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
        if "trust_anchor" in info and settings.trust_anchor is None:
            # The lab signs its own gov.uk: DNSSEC validates from the lab's anchor, not IANA's.
            settings = replace(settings, trust_anchor=Path(str(info["trust_anchor"])))
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


def _read_feedback(
    config: pytest.Config,
    targets: tuple[Target, ...],
    replay: evidence_file.Evidence | None,
) -> Feedback | None:
    """The DMARC aggregate and TLS-RPT reports given (and the demo lab's), folded per domain.

    Read on live runs and replays alike, like waivers: they are the user's files. The window
    is counted back from when the evidence was collected, so a replay judges the same reports
    the same way. Files that are not reports are listed at the end of the run, not fatal.
    """
    dmarc = [Path(p) for p in config.getoption("govmail_dmarc_reports")]
    tlsrpt = [Path(p) for p in config.getoption("govmail_tlsrpt_reports")]
    demo = config.stash.get(demo_key, None)
    if demo is not None and not dmarc and not tlsrpt:
        dmarc = [Path(p) for p in demo.get("dmarc_reports", ())]
        tlsrpt = [Path(p) for p in demo.get("tlsrpt_reports", ())]
    if not dmarc and not tlsrpt:
        return None
    from pytest_govmail.inputs.feedback_files import as_of, read_reports

    feedback = read_reports(
        dmarc,
        tlsrpt,
        now=as_of(replay.started_at if replay is not None else None),
        window_days=report_window(config),
        domains={t.domain for t in targets},
    )
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(FeedbackSummary(feedback), "govmail-feedback")
    return feedback


class FeedbackSummary:
    """At the end of the run, what the report files gave (:func:`feedback_summary`)."""

    def __init__(self, feedback: Feedback) -> None:
        self.feedback = feedback

    def lines(self) -> list[str]:
        from pytest_govmail.model.feedback import feedback_summary

        return feedback_summary(self.feedback)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        for line in self.lines():
            terminalreporter.write_line(line)


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

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Note the waivers a worker matched (its setup report carries their indices)."""
        note = getattr(report, "govmail_waiver", None)
        run = self.config.stash.get(run_key, None)
        if note is not None and run is not None and report.when == "setup":
            run.note_waiver_indices(note)

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


#: The largest waivers, attestations, levels or retired-addresses file read (each holds a few
#: dozen entries; a megabyte is thousands).
MAX_SMALL_INPUT = 1024 * 1024


def _read_inputs(config: pytest.Config) -> dict[str, tuple[str, str]]:
    """Waivers, attestations, levels and retired report addresses: the user's own statements,
    read on live runs and replays alike (a replay keeps those of the run it replays unless
    others are given)."""
    waivers = option_or_ini(config, "govmail_waivers")
    attestations = option_or_ini(config, "govmail_attestations")
    demo = config.stash.get(demo_key, None)
    if demo is not None:
        waivers = waivers or str(demo["waivers"])
        attestations = attestations or str(demo["attestations"])
    given = {
        "waivers": waivers,
        "attestations": attestations,
        "levels": option_or_ini(config, "govmail_levels"),
        "retired_addresses": option_or_ini(config, "govmail_retired_addresses"),
    }
    return {
        kind: (path, read_small_input(Path(path), kind)) for kind, path in given.items() if path
    }


def read_small_input(path: Path, kind: str) -> str:
    """A small input file's text, read bounded: a FIFO, a device or a huge file is refused
    (:func:`pytest_govmail.model.evidence.read_bounded`) rather than read forever."""
    label = kind.replace("_", " ") + " file"
    try:
        raw = evidence_file.read_bounded(path, MAX_SMALL_INPUT, label)
        return raw.decode("utf-8")
    except evidence_file.EvidenceError as exc:
        raise pytest.UsageError(str(exc)) from None
    except UnicodeDecodeError:
        raise pytest.UsageError(f"{label} {str(path)!r} is not UTF-8 text") from None


def default_reports(config: pytest.Config) -> None:
    """A govmail run writes reports/govmail.html and reports/junit.xml unless told otherwise."""
    if config.getoption("govmail_no_reports") or hasattr(config, "workerinput"):
        return
    folder = Path(option_or_ini(config, "govmail_report_dir") or "reports")
    default_junit_path(config, str(folder / "junit.xml"))
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


def check_evidence_only(config: pytest.Config, run: GovmailRun | None) -> None:
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


class KeepLastReports:
    """An empty selection (``-k DMARC-03-typo``, exit 5) leaves the last reports in place.

    pytest's junitxml plugin and the report page write their files in
    ``pytest_sessionfinish`` whatever ran; a run of no test would replace yesterday's
    assessment with an empty one. Around that hook, the default report files (those of
    ``--govmail-report-dir``; a path the user gave with ``--junitxml`` is theirs) are moved
    aside and moved back once the writers are done, and the terminal says so.
    """

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> Generator[None]:
        if session.exitstatus != pytest.ExitCode.NO_TESTS_COLLECTED:
            return (yield)
        kept = [p for p in self.paths if p.exists()]
        aside = {p: p.with_name(f".{p.name}.govmail-kept") for p in kept}
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            shown = ", ".join(str(p) for p in kept) or "none written"
            reporter.ensure_newline()
            reporter.write_line(
                f"govmail: no test selected, so the last reports are left as they were ({shown})"
            )
        for path, hidden in aside.items():
            path.replace(hidden)
        try:
            return (yield)
        finally:
            for path in self.paths:
                kept_at = aside.get(path)
                if kept_at is not None:
                    kept_at.replace(path)
                else:
                    path.unlink(missing_ok=True)  # no report of nothing where there was none


def keep_last_reports(config: pytest.Config) -> None:
    """Register :class:`KeepLastReports` for the default report files of this run."""
    if config.getoption("govmail_no_reports") or hasattr(config, "workerinput"):
        return
    from pytest_govmail.reports.page import report_path_key

    page = config.stash.get(report_path_key, None)
    if page is None:
        return
    paths = [page]
    junit = page.with_name("junit.xml")
    if config.option.xmlpath and Path(config.option.xmlpath) == junit:
        paths.append(junit)
    config.pluginmanager.register(KeepLastReports(paths), "govmail-keep-last-reports")


class XdistWorkerWaivers:
    """Registered on a pytest-xdist worker: sends the controller which waivers each test
    matched, as indices on the setup report (plain data, which xdist serialises with it)."""

    def __init__(self, run: GovmailRun) -> None:
        self.run = run

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "setup":
            return
        note, self.run.last_waiver_note = self.run.last_waiver_note, None
        if note is not None:
            report.govmail_waiver = list(note)  # type: ignore[attr-defined]
