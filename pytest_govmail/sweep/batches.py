"""Cutting the evidence into batches, and the pytest command of each step.

A batch is an ordinary ``pytest --govmail-replay`` of its domains' evidence
(:func:`~pytest_govmail.engine.batches.evidence_of`: their answers and those of the
providers they share), so its verdicts are those of one process over all the domains.

Under ``--govmail-baseline`` the baseline is cut the same way, once, beside the evidence, so
that no batch reads the whole of a large sweep's baseline: each gets its own domains' part, and
each part also answers the other side's questions (:func:`answering`), so that a batch's
comparisons are those one process would make.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_govmail.sweep.arguments import judge_args

if TYPE_CHECKING:
    from pytest_govmail.engine.run import GovmailRun
    from pytest_govmail.model.dns import Query
    from pytest_govmail.model.evidence import Evidence
    from pytest_govmail.model.feedback import Feedback
    from pytest_govmail.reports.changes import ChangeTally

#: How each step starts pytest: this Python, so a virtual environment's plugin is the one run.
PYTEST = (sys.executable, "-m", "pytest")


@dataclass
class Batch:
    """One pytest process judging a slice of the domains."""

    number: int
    domains: int
    evidence: Path
    junit: Path
    data: Path
    log: Path
    #: Its domains' part of the baseline (``--govmail-baseline``), or None without one.
    baseline: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    seconds: float = 0.0
    returncode: int | None = None
    #: pytest's summary counts, from the batch's report data (empty when it wrote none).
    counts: dict[str, int] = field(default_factory=dict)
    #: Whether its report data was read: if not, its domains are missing from the report.
    reported: bool = False
    #: Its changes against the baseline, from its report data, until the sweep adds them up.
    changes: ChangeTally | None = None


def batch_file(work: Path, number: int, kind: str) -> Path:
    """Where batch ``number`` keeps its evidence (json), JUnit (xml), report data or output."""
    names = {"json": "batch-{}.json", "xml": "junit-{}.xml", "data": "report-{}.json",
             "log": "batch-{}.log", "baseline": "baseline-{}.json"}  # fmt: skip
    return work / names[kind].format(number)


def batches_of(work: Path, sizes: Sequence[int], baseline: bool = False) -> list[Batch]:
    """The batches :func:`cut_batches` wrote, with their files (and their part of the
    baseline when there is one)."""
    return [
        Batch(
            number,
            size,
            evidence=batch_file(work, number, "json"),
            junit=batch_file(work, number, "xml"),
            data=batch_file(work, number, "data"),
            log=batch_file(work, number, "log"),
            baseline=batch_file(work, number, "baseline") if baseline else None,
        )
        for number, size in enumerate(sizes, start=1)
    ]


@dataclass(frozen=True)
class Cut:
    """What cutting left the sweep (the evidence itself stays in the batches' files)."""

    #: The sweep's evidence without its answers: targets, provenance, inputs (for the report).
    light: Evidence
    #: Each batch's number of domains.
    sizes: list[int]
    #: When the baseline's evidence was collected (None: not said, or no baseline).
    baseline_collected: str | None = None
    #: Domains and MX hosts of the baseline that the sweep does not assess (its batches each
    #: know only their own domains).
    gone: tuple[str, ...] = ()
    #: What the report files read while cutting said (:func:`feedback_summary`), to be shown once.
    report_lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReportFiles:
    """The DMARC and TLS-RPT report files a replaying sweep reads while it cuts the evidence."""

    dmarc: tuple[str, ...] = ()
    tlsrpt: tuple[str, ...] = ()
    window_days: int | None = None


def cut_batches(
    sources: list[Path],
    work: Path,
    size: int,
    baseline: Path | None = None,
    reports: ReportFiles | None = None,
) -> Cut:
    """Write each ``size`` domains' evidence, in the evidence's order, to :func:`batch_file`,
    and their part of ``baseline`` beside it.

    ``reports`` are read here, once, into the evidence (what a replay of it would read), so
    each batch gets its own domains' part of what they said instead of reading every file
    again; a collecting step has read them already.

    Raises :class:`~pytest_govmail.model.evidence.EvidenceError` for a file that is not
    evidence (the baseline's named as ``--govmail-baseline``, as one process names it).
    """
    from dataclasses import replace

    from pytest_govmail.engine.batches import evidence_of, questions
    from pytest_govmail.engine.run import GovmailRun
    from pytest_govmail.engine.settings import Settings
    from pytest_govmail.model import evidence as evidence_file
    from pytest_govmail.model.dns import DnsSnapshot

    saved = evidence_file.merge(evidence_file.read(path) for path in sources)
    report_lines: tuple[str, ...] = ()
    if reports is not None:
        saved = replace(saved, feedback=_read_reports(reports, saved))
        assert saved.feedback is not None
        from pytest_govmail.model.feedback import feedback_summary

        report_lines = tuple(feedback_summary(saved.feedback))
    run = GovmailRun(saved.targets, Settings(), replay=saved)
    before: GovmailRun | None = None
    if baseline is not None:
        try:
            earlier = evidence_file.read(baseline)
        except evidence_file.EvidenceError as exc:
            raise evidence_file.EvidenceError(f"--govmail-baseline: {exc}") from None
        before = GovmailRun(earlier.targets, Settings(), replay=earlier)
    sizes = []
    for number, first in enumerate(range(0, len(saved.targets), size), start=1):
        targets = saved.targets[first : first + size]
        if before is None:
            part = evidence_of(run, targets)
        else:
            domains = {t.domain for t in targets}
            theirs = [t for t in before.targets if t.domain in domains]
            now_asked, then_asked = questions(run, targets), questions(before, theirs)
            then = answering(evidence_of(before, theirs, then_asked), before, now_asked)
            evidence_file.write(then, batch_file(work, number, "baseline"))
            part = answering(evidence_of(run, targets, now_asked), run, then_asked)
        evidence_file.write(part, batch_file(work, number, "json"))
        sizes.append(len(targets))
    light = replace(saved, dns=DnsSnapshot(), tls={}, policies={}, messages=(), dnssec={})
    if before is None:
        return Cut(light, sizes, report_lines=report_lines)
    from pytest_govmail.plugin.baseline import vanished

    return Cut(light, sizes, before.replay.started_at if before.replay else None,
               tuple(vanished(before, run)), report_lines)  # fmt: skip


def _read_reports(reports: ReportFiles, saved: Evidence) -> Feedback:
    """The report files, read as a one-process replay of ``saved`` reads them: the window
    counted back from when the evidence was collected, the evidence's domains assessed."""
    from pytest_govmail.inputs.feedback_files import as_of, read_reports
    from pytest_govmail.model.feedback import DEFAULT_WINDOW_DAYS

    return read_reports(
        [Path(p) for p in reports.dmarc],
        [Path(p) for p in reports.tlsrpt],
        now=as_of(saved.started_at),
        window_days=reports.window_days or DEFAULT_WINDOW_DAYS,
        domains={t.domain for t in saved.targets},
    )


def answering(part: Evidence, run: GovmailRun, asked: set[Query]) -> Evidence:
    """``part`` (of ``run``'s evidence) with ``run``'s answers to the ``asked`` questions too.

    A test's records are compared key by key (:func:`pytest_govmail.model.change.record_changes`)
    over the keys both runs' verdicts name, each looked up in the other run's answers. One
    process looks them up among all of them; a batch, in its part. So each side's part also
    holds its answers to the other side's questions for the batch's domains
    (:func:`~pytest_govmail.engine.batches.questions`): a provider's SPF include a domain took
    up (or dropped) since the baseline, that another domain in another batch still uses,
    compares as one process compares it, not as "not asked".
    """
    from dataclasses import replace

    # The questions looked up, not every answer scanned: a batch's worth of work.
    found = (run.snapshot.get(*q) for q in asked if q not in part.dns)
    extra = [r for r in found if r is not None]
    return replace(part, dns=part.dns.with_results(extra)) if extra else part


def collect_command(pytest_args: Sequence[str], evidence: Path) -> list[str]:
    """The first step: every pytest argument, to collect the evidence and run no test."""
    return [
        *PYTEST,
        *pytest_args,
        "--govmail-evidence-only",
        f"--govmail-evidence-out={evidence}",
        "-p",
        "no:cacheprovider",
    ]


def batch_command(pytest_args: Sequence[str], batch: Batch) -> list[str]:
    """A batch: pytest's arguments but the collecting ones, replaying the batch's evidence."""
    return [
        *PYTEST,
        *judge_args(pytest_args),
        f"--govmail-replay={batch.evidence}",
        f"--junitxml={batch.junit}",
        f"--govmail-report-data={batch.data}",
        *([f"--govmail-baseline={batch.baseline}"] if batch.baseline is not None else []),
        "--govmail-no-reports",
        # ini keys that would narrow the replay to other domains or overwrite files
        "-o",
        "govmail_domains=",
        "-o",
        "govmail_domains_file=",
        "-o",
        "govmail_evidence_out=",
        "-p",
        "no:cacheprovider",
    ]
