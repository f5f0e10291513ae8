"""How much memory one pytest process needs for a run, told before it collects anything.

A pytest process holds every test it collects, and the report of every test it runs, until the
session ends: that is what grows with the number of domains, not the evidence. Measured with
``/usr/bin/time -f %M`` on replays of one 1,000-domain evidence file of the provider-shaped
bench mix (``bench/sweep.py --mix providers``) cut to its first 1, 250, 500 and 1,000 domains
(79 tests a domain, the full suite with the HTML report and JUnit, pytest 9.2): peak RSS 66, 207,
345 and 619 MiB, so about 7 KiB a test on top of about 70 MiB; 8 KiB and 80 MiB are counted.
It was 12 KiB before pytest's JUnit writer streamed its test cases to disk
(:class:`~pytest_govmail.plugin.pytest_private.JUnitStream`); a 5,000-domain run then grew to
3.8 GB. 50,000 domains would still exhaust a 24 GB machine before writing any report.
``govmail-sweep`` does the same work in batches of processes whose memory is bounded by the
batch, so a run this machine cannot hold is stopped with that command before it starts.

Before DNS is asked the MX hosts are unknown: a host-scoped requirement (one test per MX host) is
counted :data:`ASSUMED_HOSTS_PER_DOMAIN` times, as most public-sector domains name one or two
mail exchangers (a provider's pair, or one Microsoft 365 tenant name).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_govmail.inputs.catalogue import Requirement

#: Peak RSS of a process that holds no tests (interpreter, pytest, plugin, evidence).
BASE_BYTES = 80 * 2**20
#: What each collected test and its report add to the peak.
BYTES_PER_TEST = 8 * 2**10
#: MX hosts counted per domain for host-scoped requirements, before DNS has found them.
ASSUMED_HOSTS_PER_DOMAIN = 2

_MEMINFO = Path("/proc/meminfo")


@dataclass(frozen=True, slots=True)
class MemoryEstimate:
    """The tests a run would hold and the memory that takes, in one process and in all."""

    domains: int
    tests: int
    processes: int
    bytes_needed: int

    def gib(self) -> str:
        return f"{self.bytes_needed / 2**30:.1f} GiB"


def tests_per_domain(requirements: Iterable[Requirement]) -> int:
    """The tests one domain adds: one per domain-scoped requirement, one per MX host else."""
    return sum(ASSUMED_HOSTS_PER_DOMAIN if r.per_host else 1 for r in requirements if r.implemented)


def estimate(domains: int, requirements: Sequence[Requirement], workers: int = 0) -> MemoryEstimate:
    """The peak memory summed over the run's processes.

    Under pytest-xdist each of the ``workers`` collects every test, and the controller holds
    every report, so each process counts in full.
    """
    tests = domains * tests_per_domain(requirements)
    processes = 1 + max(workers, 0)
    return MemoryEstimate(
        domains, tests, processes, processes * (BASE_BYTES + tests * BYTES_PER_TEST)
    )


def available_bytes(meminfo: str | None = None) -> int | None:
    """The memory this machine can give a new process now: Linux's ``MemAvailable``, which
    counts reclaimable caches, else free physical pages; None where neither can be read."""
    text = meminfo
    if text is None:
        try:
            text = _MEMINFO.read_text(encoding="ascii", errors="replace")
        except OSError:
            text = ""
    for line in text.splitlines():
        name, _, value = line.partition(":")
        fields = value.split()
        if name == "MemAvailable" and fields and fields[0].isdigit():
            return int(fields[0]) * 1024
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None
