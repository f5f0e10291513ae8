"""DNS collection alone: the sweep's questions, pooled UDP sockets against a socket per question.

    python bench/dns_collect.py --domains 1000 --runs 5
    python bench/dns_collect.py --domains 1000 --delay 0.03

Builds bench/sweep.py's lab (N departments sharing 20 provider MX hosts, one zone that never
answers), then settles every DNS question the suites' planners ask, in this process, first
through dnspython's own transport (a new UDP socket per question) and then through
:mod:`pytest_govmail.collect.dns_udp`'s pool, alternating, and prints medians of wall time and of
this process's CPU time per question. The lab's DNS server runs in a child process so that its
CPU is not counted here. ``--delay 0`` (the default) measures the client's own cost; a delay
shows what a sweep sees.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from sweep import build_lab

from pytest_govmail.collect.dns import DnsCollector, Nameserver
from pytest_govmail.engine.needs import all_dns_groups
from pytest_govmail.engine.run import GovmailRun
from pytest_govmail.engine.settings import Settings
from pytest_govmail.lab.dns_server import LabDnsServer
from pytest_govmail.model.target import Target


def serve(n: int, delay: float, ready: multiprocessing.Queue[tuple[str, int]]) -> None:
    zones, _, faults = build_lab(n)
    with LabDnsServer(zones, delay=delay, faults=faults) as server:
        ready.put(server.address)
        while True:
            time.sleep(3600)


def _cpu_seconds(pid: int | None) -> float:
    """User plus system CPU of a process so far (Linux /proc)."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domains", type=int, default=1000)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=2.0)
    args = parser.parse_args()

    _, domains, _ = build_lab(args.domains)
    targets = [Target(d) for d in domains]
    # The planners a full run asks in its DNS phase, chosen as the engine chooses them.
    planners = GovmailRun(targets, Settings()).planners_for(all_dns_groups())
    ready: multiprocessing.Queue[tuple[str, int]] = multiprocessing.Queue()
    child = multiprocessing.Process(target=serve, args=(args.domains, args.delay, ready))
    child.start()
    try:
        host, port = ready.get(timeout=60)
        figures: dict[bool, list[tuple[float, float, int]]] = {False: [], True: []}
        for _ in range(args.runs):
            for pooled in (False, True):
                collector = DnsCollector([Nameserver(host, port)], args.timeout, pooled=pooled)
                wall, cpu = time.perf_counter(), time.process_time()
                snapshot = collector.settle_sync(targets, planners)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                figures[pooled].append((wall, cpu, len(snapshot)))
        server_cpu = _cpu_seconds(child.pid)
    finally:
        child.terminate()
        child.join()
    print(f"{len(targets)} domains, {args.delay * 1000:g} ms DNS delay, median of {args.runs} runs")
    for pooled, label in ((False, "dnspython, socket per question"), (True, "pooled sockets")):
        runs = figures[pooled]
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        questions = runs[0][2]
        print(
            f"  {label:<31} {questions} questions, wall {wall:.2f} s, "
            f"CPU {cpu:.2f} s ({cpu / questions * 1000:.2f} ms per question)"
        )
    print(
        f"  the lab's DNS server: {server_cpu:.2f} s CPU in all "
        f"(it runs in its own process, so it competes for this machine's cores)"
    )
    ratio = statistics.median(r[1] for r in figures[False]) / statistics.median(
        r[1] for r in figures[True]
    )
    print(f"  CPU ratio: {ratio:.1f}x less with the pool")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
