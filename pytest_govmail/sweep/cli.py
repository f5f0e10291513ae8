"""``govmail-sweep``: assess any number of domains in bounded memory, with one set of reports.

pytest keeps every collected test and every report to the end of a run: a few kilobytes a test,
so a 10,000-domain sweep (590,000 tests) needs gigabytes in one process. The sweep keeps what
must be shared and splits what need not be:

1. **Collect once.** One pytest process with ``--govmail-evidence-only`` asks every DNS question,
   scans every MX address and fetches every MTA-STS policy for all the domains, side by side as
   in any run, and writes the evidence. It collects no tests.
2. **Judge in batches.** The evidence is cut into batches of ``--batch`` domains, each with the
   answers its domains rest on (:meth:`~pytest_govmail.engine.run.GovmailRun.evidence_of`), and each
   batch is an ordinary ``pytest --govmail-replay``, ``--jobs`` of them at a time. A batch's
   verdicts are those of a one-process run: every judge reads only its own domain's evidence.
3. **Merge.** The batches' JUnit files stream into one, and their report data
   (:mod:`pytest_govmail.reports.data`) into one HTML report. Each batch's terminal output is
   shown in order; the sweep's exit code is what pytest's would have been.

    govmail-sweep --batch 1000 --jobs 2 --govmail-domains-file=domains.csv

Every argument the sweep does not know is pytest's: the collection options go to the first
step, the rest (``-m``, ``-k``, ``--govmail-waivers``, ``-q``...) to every batch.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_govmail.model.evidence import EvidenceError

if TYPE_CHECKING:
    from pytest_govmail.engine.run import GovmailRun
    from pytest_govmail.model.evidence import Evidence

#: Options that only the collecting step needs (with a value, and flags): a batch replays.
COLLECTING = frozenset(
    {
        "--govmail-domain",
        "--govmail-domains-file",
        "--govmail-shard",
        "--govmail-nameserver",
        "--govmail-timeout",
        "--govmail-ca-file",
        "--govmail-smtp-port",
        "--govmail-https-port",
        "--govmail-ehlo-name",
        "--govmail-connections-per-address",
        "--govmail-eml",
    }
)
COLLECTING_FLAGS = frozenset({"--govmail-demo", "--govmail-allow-private"})
#: Options the sweep cannot honour in a batch, with the reason.
REFUSED = {
    "--html": "pytest-html's page holds one process's tests; the sweep writes govmail.html",
    "-n": "the sweep runs its own processes: use --jobs",
    "--numprocesses": "the sweep runs its own processes: use --jobs",
    "--govmail-evidence-only": "the sweep's first step already collects evidence only",
    "--govmail-report-data": "the sweep sets each batch's report data itself",
}
#: Outcome words of pytest's summary line, in pytest's order.
OUTCOME_WORDS = ("failed", "passed", "skipped", "deselected", "xfailed", "xpassed", "error")
#: Tests outside the assessment listed in the report, at most (as in one process).
MAX_OTHERS = 200


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
    counts: dict[str, int] = field(default_factory=dict)


def option_name(arg: str) -> str:
    return arg.split("=", 1)[0]


def judge_args(args: Sequence[str]) -> list[str]:
    """``args`` without the collecting options (and their values): what each batch gets."""
    kept: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        name = option_name(arg)
        if name in COLLECTING_FLAGS:
            continue
        if name in COLLECTING:
            skip = "=" not in arg
            continue
        kept.append(arg)
    return kept


def refused(args: Sequence[str]) -> str | None:
    for arg in args:
        name = option_name(arg)
        if name in REFUSED or (
            name.startswith("-n") and not name.startswith("--") and name[2:].isdigit()
        ):
            return f"{arg}: {REFUSED.get(name, REFUSED['-n'])}"
    return None


def outcome_counts(output: str) -> dict[str, int]:
    """The counts of pytest's last summary line (``3 failed, 10 passed in 1.2s``)."""
    lines = [line for line in output.splitlines() if re.search(r" in [\d.]+s\b", line)]
    if not lines:
        return {}
    found = re.findall(
        r"(\d+) (failed|passed|skipped|deselected|xfailed|xpassed|errors?)", lines[-1]
    )
    counts: dict[str, int] = {}
    for number, word in found:
        word = "error" if word.startswith("error") else word
        counts[word] = counts.get(word, 0) + int(number)
    return counts


def describe(counts: dict[str, int]) -> str:
    """Counts as pytest words them: ``3 failed, 10 passed, 1 error``."""
    return ", ".join(
        f"{counts[w]} {w + 's' if w == 'error' and counts[w] != 1 else w}"
        for w in OUTCOME_WORDS
        if counts.get(w)
    )


def ending(code: int | None) -> str:
    """How a batch's process ended, in words."""
    if code is None:
        return "did not run"
    return f"killed by signal {-code}" if code < 0 else f"exit {code}"


def combined_exit_code(codes: Sequence[int]) -> int:
    """What one pytest process would have returned: the gravest of the batches' codes.

    Interrupted (2), internal error (3) and usage error (4) outrank failures (1); "no tests
    collected" (5) stands only when every batch collected none (a selection that matched none).
    """
    if any(c < 0 for c in codes):
        return 3  # a batch killed by a signal (the kernel's OOM killer, say): an internal error
    for grave in (2, 3, 4):
        if grave in codes:
            return grave
    if 1 in codes:
        return 1
    if codes and all(c == 5 for c in codes):
        return 5
    return next((c for c in codes if c not in (0, 5)), 0)


class Sweep:
    """The three steps, with their figures for the closing lines."""

    def __init__(self, options: argparse.Namespace, pytest_args: list[str]) -> None:
        self.options = options
        self.pytest_args = pytest_args
        self.python = [sys.executable, "-m", "pytest"]
        self.out = sys.stdout
        self.times: dict[str, float] = {}
        self.t0 = time.perf_counter()

    def say(self, line: str) -> None:
        print(f"govmail-sweep: {line}", file=self.out, flush=True)

    def collect(self, work: Path) -> tuple[int, Path]:
        evidence = Path(self.options.evidence_out or work / "evidence.json").resolve()
        start = time.perf_counter()
        done = subprocess.run(
            [
                *self.python,
                *self.pytest_args,
                "--govmail-evidence-only",
                f"--govmail-evidence-out={evidence}",
                "-p",
                "no:cacheprovider",
            ],
            check=False,
        )
        self.times["collect"] = time.perf_counter() - start
        return done.returncode, evidence

    def split(self, sources: list[Path], work: Path) -> tuple[list[Batch], GovmailRun]:
        """Batch evidence files; returns the batches and the run the report describes.

        The cutting happens in a child process: the whole sweep's evidence (hundreds of MiB in
        memory for 10,000 domains) is then given back to the system when it ends, instead of
        staying in this process's heap while the batches run beside it.
        """
        import multiprocessing

        from pytest_govmail.engine.run import GovmailRun
        from pytest_govmail.engine.settings import Settings

        start = time.perf_counter()
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            light, sizes = pool.apply(cut_batches, (sources, work, self.options.batch))
        batches = [
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
        self.times["split"] = time.perf_counter() - start
        return batches, GovmailRun(light.targets, Settings(), replay=light)

    def batch_command(self, batch: Batch) -> list[str]:
        return [
            *self.python,
            *judge_args(self.pytest_args),
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

    def judge(self, batches: list[Batch]) -> None:
        """Run the batches ``--jobs`` at a time; show each one's output in order as it ends."""
        start = time.perf_counter()
        waiting = list(batches)
        running: list[Batch] = []
        shown = 0
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        try:
            while waiting or running:
                while waiting and len(running) < self.options.jobs:
                    batch = waiting.pop(0)
                    for stale in (batch.junit, batch.data):  # from an earlier sweep in --work
                        stale.unlink(missing_ok=True)
                    with batch.log.open("wb") as log:
                        batch.process = subprocess.Popen(
                            self.batch_command(batch), stdout=log, stderr=subprocess.STDOUT, env=env
                        )
                    batch.started = time.perf_counter()
                    running.append(batch)
                time.sleep(0.05)
                for batch in list(running):
                    assert batch.process is not None
                    code = batch.process.poll()
                    if code is not None:
                        batch.returncode = code
                        batch.seconds = time.perf_counter() - batch.started
                        running.remove(batch)
                while shown < len(batches) and batches[shown].returncode is not None:
                    self.show(batches[shown], len(batches))
                    shown += 1
                if self.options.exitfirst and any(
                    b.returncode not in (None, 0, 5) for b in batches
                ):
                    waiting.clear()
        finally:
            for batch in running:
                if batch.process is not None and batch.process.poll() is None:
                    batch.process.terminate()
                    batch.process.wait()
        self.times["judge"] = time.perf_counter() - start

    def show(self, batch: Batch, total: int) -> None:
        text = batch.log.read_text("utf-8", errors="replace")
        self.out.write(text)
        counts = outcome_counts(text)
        summary = describe(counts)
        self.say(
            f"batch {batch.number}/{total} ({batch.domains} domains) {ending(batch.returncode)} "
            f"in {batch.seconds:.1f} s: {summary or 'no summary line'}"
        )
        batch.counts = counts

    def merge(self, batches: list[Batch], run: GovmailRun) -> None:
        from pytest_govmail.inputs.catalogue import load_catalogue
        from pytest_govmail.reports import data as report_data
        from pytest_govmail.reports import junit_merge as junit
        from pytest_govmail.reports.page import render_page, write_chunks

        start = time.perf_counter()
        done = [b for b in batches if b.returncode is not None]
        # An assessor must not read a missing batch as silence: say so, here and in the report.
        lost = [
            (
                f"batch {b.number} ({b.domains} domains)",
                "did not run (-x stopped the sweep)"
                if b.returncode is None
                else f"ended without its results ({ending(b.returncode)}): its domains are "
                "missing from this report",
            )
            for b in batches
            if b.returncode is None or not b.data.exists()
        ]
        for name, what in lost:
            self.say(f"{name} {what}")
        if self.options.junitxml:
            parts = [b.junit for b in done if b.junit.exists()]
            if parts:
                junit.merge(
                    parts, Path(self.options.junitxml), seconds=time.perf_counter() - self.t0
                )
                self.say(f"JUnit written to {self.options.junitxml}")
        if self.options.html:
            merged: report_data.ReportData | None = None
            for batch in done:
                if not batch.data.exists():
                    continue
                part = report_data.read(batch.data)
                if merged is None:
                    merged = part
                else:
                    merged.extend(part, MAX_OTHERS)
            if merged is not None:
                merged.others[:0] = lost
                catalogue = load_catalogue()
                run.parse_inputs(catalogue.ids())  # as each batch parsed them
                run.waivers_applied = {
                    run.waivers[i] for i in merged.waivers_applied if i < len(run.waivers)
                }
                run.waivers_expired = {
                    run.waivers[i] for i in merged.waivers_expired if i < len(run.waivers)
                }
                html = Path(self.options.html)
                began = time.perf_counter()
                size = write_chunks(
                    html, render_page(merged.table, run, catalogue, merged.collected, merged.others)
                )
                self.say(
                    f"report written to {html} ({size / 2**20:.1f} MiB) in "
                    f"{time.perf_counter() - began:.2f} s"
                )
        self.times["merge"] = time.perf_counter() - start

    def main(self) -> int:
        self.t0 = time.perf_counter()
        work = Path(self.options.work or tempfile.mkdtemp(prefix="govmail-sweep-")).resolve()
        work.mkdir(parents=True, exist_ok=True)
        try:
            if self.options.replay:
                sources = [Path(f).resolve() for f in self.options.replay]
                self.times["collect"] = 0.0
            else:
                code, evidence = self.collect(work)
                if code != 0:
                    self.say(f"collecting the evidence failed (pytest exit {code}); nothing judged")
                    return code
                sources = [evidence]
            batches, run = self.split(sources, work)
            self.say(
                f"{sum(b.domains for b in batches)} domains in {len(batches)} batch(es) of at "
                f"most {self.options.batch}, {self.options.jobs} at a time"
            )
            self.judge(batches)
            self.merge(batches, run)
            codes = [b.returncode for b in batches if b.returncode is not None]
            totals: dict[str, int] = {}
            for batch in batches:
                for word, number in batch.counts.items():
                    totals[word] = totals.get(word, 0) + number
            summary = describe(totals)
            wall = time.perf_counter() - self.t0
            self.say(
                f"{summary or 'no tests ran'} in {wall:.2f}s (collecting "
                f"{self.times['collect']:.1f} s, splitting {self.times['split']:.1f} s, judging "
                f"{self.times['judge']:.1f} s, merging {self.times['merge']:.1f} s)"
            )
            if len(codes) < len(batches):
                self.say(f"{len(batches) - len(codes)} batch(es) not run (-x after a failure)")
            return combined_exit_code(codes)
        except KeyboardInterrupt:
            self.say("interrupted")
            return 2
        except EvidenceError as exc:
            self.say(f"cannot judge: {exc}")
            return 4
        finally:
            if not self.options.work:
                shutil.rmtree(work, ignore_errors=True)


def cut_batches(sources: list[Path], work: Path, size: int) -> tuple[Evidence, list[int]]:
    """Write each ``size`` domains' evidence, in the evidence's order, to :func:`batch_file`.

    Returns the sweep's evidence without its answers (what the report needs: targets,
    provenance, inputs) and each batch's number of domains.
    """
    from dataclasses import replace

    from pytest_govmail.engine.run import GovmailRun
    from pytest_govmail.engine.settings import Settings
    from pytest_govmail.model import evidence as evidence_file
    from pytest_govmail.model.dns import DnsSnapshot

    saved = evidence_file.merge(evidence_file.read(path) for path in sources)
    run = GovmailRun(saved.targets, Settings(), replay=saved)
    sizes = []
    for number, first in enumerate(range(0, len(saved.targets), size), start=1):
        targets = saved.targets[first : first + size]
        evidence_file.write(run.evidence_of(targets), batch_file(work, number, "json"))
        sizes.append(len(targets))
    light = replace(saved, dns=DnsSnapshot(), tls={}, policies={}, messages=())
    return light, sizes


def batch_file(work: Path, number: int, kind: str) -> Path:
    """Where batch ``number`` keeps its evidence (json), JUnit (xml), report data or output."""
    names = {"json": "batch-{}.json", "xml": "junit-{}.xml", "data": "report-{}.json",
             "log": "batch-{}.log"}  # fmt: skip
    return work / names[kind].format(number)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="govmail-sweep",
        description="Assess many domains in bounded memory: collect once, judge in batches of "
        "pytest processes, merge their reports. Other arguments are pytest's.",
        allow_abbrev=False,
    )
    p.add_argument("--batch", type=int, default=500, help="domains per batch (default 500)")
    p.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="batches judged at once (default: one per core)",
    )
    p.add_argument("--work", help="keep the batches' files in this folder (default: temporary)")
    p.add_argument(
        "--govmail-report-dir",
        dest="report_dir",
        default="reports",
        help="where govmail.html and junit.xml go (default: reports)",
    )
    p.add_argument(
        "--govmail-no-reports",
        dest="no_reports",
        action="store_true",
        help="write neither the HTML report nor JUnit",
    )
    p.add_argument("--junitxml", "--junit-xml", dest="junitxml", help="JUnit XML here instead")
    p.add_argument(
        "--govmail-evidence-out",
        dest="evidence_out",
        help="keep the sweep's evidence here (replayable with pytest --govmail-replay)",
    )
    p.add_argument(
        "--govmail-replay",
        dest="replay",
        action="append",
        default=[],
        metavar="FILE",
        help="judge saved evidence instead of collecting (repeatable: CI shards' files merge)",
    )
    p.add_argument(
        "-x",
        "--exitfirst",
        action="store_true",
        help="start no further batch after one with a failure (also passed to pytest)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    options, pytest_args = parser().parse_known_args(argv)
    if options.batch < 1 or options.jobs < 1:
        parser().error("--batch and --jobs must be at least 1")
    problem = refused(pytest_args)
    if options.replay:
        collecting = [a for a in pytest_args if judge_args([a]) == [] and a.startswith("-")]
        if collecting:
            problem = (
                f"{collecting[0]}: the sweep replays --govmail-replay files; it collects nothing"
            )
        elif options.evidence_out:
            problem = "--govmail-evidence-out: a replay's evidence is the files it replays"
    if problem:
        parser().error(problem)
    if options.exitfirst:
        pytest_args.append("-x")
    folder = Path(options.report_dir)
    options.html = None if options.no_reports else folder / "govmail.html"
    if not options.no_reports and not options.junitxml:
        options.junitxml = str(folder / "junit.xml")
    return Sweep(options, pytest_args).main()
