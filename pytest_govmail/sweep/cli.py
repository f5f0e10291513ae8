"""``govmail-sweep``: assess any number of domains in bounded memory, with one set of reports.

pytest keeps every collected test and every report to the end of a run: a few kilobytes a test,
so a 10,000-domain sweep (590,000 tests) needs gigabytes in one process. The sweep keeps what
must be shared and splits what need not be:

1. **Collect once.** One pytest process with ``--govmail-evidence-only`` asks every DNS question,
   scans every MX address and fetches every MTA-STS policy for all the domains, side by side as
   in any run, and writes the evidence. It collects no tests.
2. **Judge in batches.** The evidence is cut into batches of ``--batch`` domains, each with the
   answers its domains rest on (:func:`~pytest_govmail.engine.batches.evidence_of`), and each
   batch is an ordinary ``pytest --govmail-replay``, ``--jobs`` of them at a time. A batch's
   verdicts are those of a one-process run: every judge reads only its own domain's evidence.
3. **Merge.** The batches' JUnit files stream into one, and their report data
   (:mod:`pytest_govmail.reports.data`) into one HTML report. Each batch's terminal output is
   shown in order; the sweep's exit code is what pytest's would have been.

The DMARC and TLS-RPT report files (``--govmail-dmarc-reports``, ``--govmail-tlsrpt-reports``)
are read once: by the first step, which keeps what they say in the evidence, or, replaying, in
the second; each batch gets what they say of its own domains and reads no file.

Under ``--govmail-baseline`` the baseline is cut in the second step too, each batch getting its
own domains' part, and the batches' changes are added up: the sweep's last lines and the HTML
report lead with them as one process's do, and ``--govmail-fail-on new`` gates every batch,
so the sweep exits as one process would.

    govmail-sweep --batch 1000 --jobs 2 --govmail-domains-file=domains.csv

Every argument the sweep does not know is pytest's: the collection options go to the first
step, the rest (``-m``, ``-k``, ``--govmail-waivers``, ``-q``...) to every batch
(:mod:`~pytest_govmail.sweep.arguments`). The parts: :mod:`~pytest_govmail.sweep.batches` cuts
the evidence and makes each step's command, :mod:`~pytest_govmail.sweep.merge` adds up the
batches' results; this module runs the steps.
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
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_govmail.model.evidence import EvidenceError
from pytest_govmail.model.text import inert
from pytest_govmail.reports.changes import baseline_label
from pytest_govmail.sweep.arguments import fail_on, parse, report_args
from pytest_govmail.sweep.batches import (
    Batch,
    ReportFiles,
    batch_command,
    batches_of,
    collect_command,
    cut_batches,
)
from pytest_govmail.sweep.merge import (
    change_lines,
    combined_exit_code,
    describe,
    ending,
    merge_changes,
    read_counts,
    total_counts,
    write_reports,
)

if TYPE_CHECKING:
    from pytest_govmail.engine.run import GovmailRun
    from pytest_govmail.reports.changes import ChangeTally

#: pytest's closing line when no test ran, with or without its ``=`` rule (``-q``).
NO_TESTS_RAN = re.compile(r"^[=\s]*no tests ran in [0-9.]+s?\b.*$")


class Sweep:
    """The three steps, with their figures for the closing lines."""

    def __init__(self, options: argparse.Namespace, pytest_args: list[str]) -> None:
        self.options = options
        self.pytest_args = pytest_args
        self.out = sys.stdout
        self.times: dict[str, float] = {}
        self.t0 = time.perf_counter()
        #: The batches' changes against ``--govmail-baseline``, added up as they end.
        self.changes: ChangeTally | None = None
        #: The baseline as the headings name it, and what of it the sweep does not assess.
        self.baseline_label = ""
        self.gone: tuple[str, ...] = ()

    def say(self, line: str) -> None:
        print(f"govmail-sweep: {line}", file=self.out, flush=True)

    def collect(self, work: Path) -> tuple[int, Path]:
        evidence = Path(self.options.evidence_out or work / "evidence.json").resolve()
        start = time.perf_counter()
        with subprocess.Popen(
            collect_command([*self.pytest_args, *report_args(self.options)], evidence),
            stdout=subprocess.PIPE,
            text=True,
            errors="replace",
        ) as step:
            assert step.stdout is not None
            for line in step.stdout:
                # The collecting step runs no test by design; pytest's closing "no tests ran"
                # would read as a failure, so it is left out (its own line says what it did).
                if not NO_TESTS_RAN.match(line):
                    self.out.write(line)
                    self.out.flush()
        self.times["collect"] = time.perf_counter() - start
        return step.returncode, evidence

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
        baseline = Path(self.options.baseline).resolve() if self.options.baseline else None
        # Replaying, the report files are read here; collecting, that step read them already.
        reports = (
            ReportFiles(
                tuple(self.options.dmarc_reports),
                tuple(self.options.tlsrpt_reports),
                self.options.report_window,
            )
            if self.options.replay and (self.options.dmarc_reports or self.options.tlsrpt_reports)
            else None
        )
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            cut = pool.apply(cut_batches, (sources, work, self.options.batch, baseline, reports))
        for line in cut.report_lines:
            print(line, file=self.out, flush=True)
        batches = batches_of(work, cut.sizes, baseline is not None)
        if baseline is not None:
            self.baseline_label = baseline_label(
                inert(str(self.options.baseline)), cut.baseline_collected
            )
            self.gone = cut.gone
        self.times["split"] = time.perf_counter() - start
        return batches, GovmailRun(cut.light.targets, Settings(), replay=cut.light)

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
                            batch_command(self.pytest_args, batch),
                            stdout=log,
                            stderr=subprocess.STDOUT,
                            env=env,
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
        """A finished batch's output as pytest printed it, then its counts (its report data)."""
        self.out.write(batch.log.read_text("utf-8", errors="replace"))
        summary = read_counts(batch)
        if self.baseline_label and batch.reported and batch.changes is None:
            # Report data of the format before (see reports/data.py): said, not left silent.
            self.say(
                f"batch {batch.number}'s report data carries no changes against the baseline "
                "(an older pytest-govmail wrote it): its tests are missing from the changes"
            )
        self.changes = merge_changes(self.changes, batch, self.baseline_label, self.gone)
        self.say(
            f"batch {batch.number}/{total} ({batch.domains} domains) {ending(batch.returncode)} "
            f"in {batch.seconds:.1f} s: {summary}"
        )

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
            codes = [b.returncode for b in batches if b.returncode is not None]
            if self.changes is not None:
                width = shutil.get_terminal_size(fallback=(80, 24)).columns
                new = fail_on(self.pytest_args) == "new"
                for line in change_lines(
                    self.changes, new, combined_exit_code(codes), width if width >= 40 else 80
                ):
                    print(line, file=self.out, flush=True)
            start = time.perf_counter()
            junitxml = Path(self.options.junitxml) if self.options.junitxml else None
            write_reports(
                batches, run, junitxml, self.options.html, self.t0, self.say, self.changes
            )
            self.times["merge"] = time.perf_counter() - start
            summary = describe(total_counts(batches))
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


def main(argv: Sequence[str] | None = None) -> int:
    options, pytest_args = parse(argv)
    return Sweep(options, pytest_args).main()
