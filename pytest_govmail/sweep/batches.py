"""Cutting the evidence into batches, and the pytest command of each step.

A batch is an ordinary ``pytest --govmail-replay`` of its domains' evidence
(:func:`~pytest_govmail.engine.batches.evidence_of`: their answers and those of the
providers they share), so its verdicts are those of one process over all the domains.
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
    from pytest_govmail.model.evidence import Evidence

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
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    seconds: float = 0.0
    returncode: int | None = None
    #: pytest's summary counts, from the batch's report data (empty when it wrote none).
    counts: dict[str, int] = field(default_factory=dict)
    #: Whether its report data was read: if not, its domains are missing from the report.
    reported: bool = False


def batch_file(work: Path, number: int, kind: str) -> Path:
    """Where batch ``number`` keeps its evidence (json), JUnit (xml), report data or output."""
    names = {"json": "batch-{}.json", "xml": "junit-{}.xml", "data": "report-{}.json",
             "log": "batch-{}.log"}  # fmt: skip
    return work / names[kind].format(number)


def batches_of(work: Path, sizes: Sequence[int]) -> list[Batch]:
    """The batches :func:`cut_batches` wrote, with their files."""
    return [
        Batch(
            number,
            size,
            evidence=batch_file(work, number, "json"),
            junit=batch_file(work, number, "xml"),
            data=batch_file(work, number, "data"),
            log=batch_file(work, number, "log"),
        )
        for number, size in enumerate(sizes, start=1)
    ]


def cut_batches(sources: list[Path], work: Path, size: int) -> tuple[Evidence, list[int]]:
    """Write each ``size`` domains' evidence, in the evidence's order, to :func:`batch_file`.

    Returns the sweep's evidence without its answers (what the report needs: targets,
    provenance, inputs) and each batch's number of domains.
    """
    from dataclasses import replace

    from pytest_govmail.engine.batches import evidence_of
    from pytest_govmail.engine.run import GovmailRun
    from pytest_govmail.engine.settings import Settings
    from pytest_govmail.model import evidence as evidence_file
    from pytest_govmail.model.dns import DnsSnapshot

    saved = evidence_file.merge(evidence_file.read(path) for path in sources)
    run = GovmailRun(saved.targets, Settings(), replay=saved)
    sizes = []
    for number, first in enumerate(range(0, len(saved.targets), size), start=1):
        targets = saved.targets[first : first + size]
        evidence_file.write(evidence_of(run, targets), batch_file(work, number, "json"))
        sizes.append(len(targets))
    light = replace(saved, dns=DnsSnapshot(), tls={}, policies={}, messages=())
    return light, sizes


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
