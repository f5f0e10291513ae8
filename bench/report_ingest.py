"""Ingesting DMARC aggregate reports: 1,000 reports of 50 records in under 10 s, memory flat.

    python bench/report_ingest.py --reports 1000 --records 50 --runs 3

Writes N gzip-compressed aggregate reports (the shape Microsoft sends: ``<version>``,
``envelope_to``) for 20 domains, each record from one of 40 sources (a domain's senders are
few), then reads them all with :func:`pytest_govmail.inputs.feedback_files.read_reports` in a
fresh child process per run and
prints the median wall time and the child's peak RSS. The same is done for a tenth of the
reports: reports are folded into per-domain totals one at a time, so the peak RSS of the two
should differ by far less than the reports' own size (memory flat in the number of reports).
"""

from __future__ import annotations

import argparse
import gzip
import multiprocessing
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pytest_govmail.inputs.feedback_files import read_reports
from pytest_govmail.lab.sample_reports import Row, aggregate_xml

DOMAINS = [f"dept{i:02d}.gov.uk" for i in range(20)]


def write_reports(folder: Path, reports: int, records: int) -> int:
    rng = random.Random(16)
    now = datetime.now(UTC)
    size = 0
    for n in range(reports):
        domain = DOMAINS[n % len(DOMAINS)]
        end = now - timedelta(hours=1 + n % 48)
        rows: list[Row] = []
        for _ in range(records):
            source = f"192.0.2.{rng.randrange(40)}"  # a domain's senders are few
            good = rng.random() < 0.8
            rows.append(
                (
                    source,
                    rng.randrange(1, 500),
                    "none",
                    "pass" if good else "fail",
                    "pass" if good else "fail",
                    [(domain, "s1", "pass" if good else "fail")],
                    [(domain, "pass" if good else "fail")],
                )
            )
        xml = aggregate_xml(
            "Enterprise Outlook",
            f"bench-{n}",
            domain,
            "none",
            end - timedelta(days=1),
            end,
            rows,
            shape="microsoft",
        )
        data = gzip.compress(xml)
        size += len(xml)
        (folder / f"r{n:05d}.xml.gz").write_bytes(data)
    return size


def _child(folder: str, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    start = time.perf_counter()
    cpu = time.process_time()
    feedback = read_reports([Path(folder)], domains=set(DOMAINS))
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    used = sum(d.dmarc_reports for d in feedback.domains.values())
    rows = sum(len(d.senders) for d in feedback.domains.values())
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out.put((elapsed, used, rows, len(feedback.refused), peak_kib, cpu))


def measure(folder: Path, runs: int) -> tuple[float, int, int, int, int, float]:
    results = []
    for _ in range(runs):
        context = multiprocessing.get_context("spawn")
        queue: multiprocessing.Queue = context.Queue()  # type: ignore[type-arg]
        child = context.Process(target=_child, args=(str(folder), queue))
        child.start()
        results.append(queue.get())
        child.join()
    elapsed = statistics.median(r[0] for r in results)
    cpu = statistics.median(r[5] for r in results)
    _e, used, rows, refused, _p, _c = results[0]
    peak = max(r[4] for r in results)
    return elapsed, used, rows, refused, peak, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1000)
    parser.add_argument("--records", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    verdicts = []
    with tempfile.TemporaryDirectory(prefix="govmail-bench-") as tmp:
        for count in (max(1, args.reports // 10), args.reports):
            folder = Path(tmp) / str(count)
            folder.mkdir()
            size = write_reports(folder, count, args.records)
            elapsed, used, rows, refused, peak, cpu = measure(folder, args.runs)
            print(
                f"{count} reports x {args.records} records ({count * args.records:,} records, "
                f"{size / 2**20:.1f} MiB of XML): median {elapsed:.2f} s wall, {cpu:.2f} s CPU "
                f"over {args.runs} runs, "
                f"{used} used, {refused} refused, {rows} distinct sender rows kept, "
                f"peak RSS {peak / 1024:.1f} MiB"
            )
            verdicts.append((count, elapsed, peak, size))
    (small, _t, small_peak, _s), (big, big_time, big_peak, big_size) = verdicts
    # Wall time on a shared machine includes waiting for a core: the load average is printed.
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    growth = (big_peak - small_peak) / 1024
    print(
        f"peak RSS grows {growth:.1f} MiB from {small} to {big} reports "
        f"(their XML is {big_size / 2**20:.1f} MiB); {big} reports in {big_time:.2f} s "
        f"({'under' if big_time < 10 else 'OVER'} the 10 s target)"
    )
    return 0 if big_time < 10 else 1


if __name__ == "__main__":
    raise SystemExit(main())
